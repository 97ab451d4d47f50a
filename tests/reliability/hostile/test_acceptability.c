/* RFC 9293 (3.10.7.4) and RFC 5961 acceptability checks of skiff's TCP
 * engine, one test per rule, on an ESTABLISHED connection whose other end
 * is the Linux kernel (hostile_bed.h). hostile_agent.py, in the kernel's
 * namespace, reads the connection's sequence numbers off the wire and
 * injects crafted segments on its 4-tuple. Each test checks (a) what skiff
 * answered on the wire (an ACK of the unchanged RCV.NXT from SND.NXT, or
 * nothing), (b) that nothing reached the application (the bytes its reads
 * returned, data skiff sent, the MSS the segment's option offered), (c) the
 * counter that says why, and (d) that the kernel's connection still
 * carries 1 MiB each way byte-exact afterwards.
 *
 * Probes that call for a challenge ACK, or must not, go CHALLENGE_GAP
 * apart: the guard lets one through per connection per 500 ms (guard.c),
 * so each answer is expected and none hides behind the limit; the 250 ms
 * over it absorb a loaded machine's delays. Data probes carry window 0 and
 * an MSS option of 64: were any part of the segment taken, skiff's sending
 * would stall or crawl. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile_bed.h"

#define CHALLENGE_GAP 0.75 /* seconds */

/* One k_probe case of the agent, and what the stack showed meanwhile. */
struct run {
	char r[8192];
	struct skiff_stats st; /* after the probes */
	long long read;	       /* bytes the application read meanwhile */
	int mss0, mss1;	       /* skiff's send MSS before and after */
};

static int snd_mss(void)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	CU_ASSERT(skiff_getsockopt(hb.sfd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0);
	return (int)ti.tcpi_snd_mss;
}

/* @p probes (a JSON list, see hostile_agent.py's case_k_probe) on the
 * kernel's connection, @p gap seconds apart. The connection has to be
 * quiet and everything acknowledged both ways first. */
static void probe(struct run *run, double gap, const char *probes)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	uint64_t read0 = hb.srx;
	char cmd[4096];

	CU_ASSERT_FATAL(getsockname(hb.kfd, (struct sockaddr *)&a, &alen) == 0);
	run->mss0 = snd_mss();
	snprintf(cmd, sizeof(cmd),
		 "{\"case\": \"k_probe\", \"port\": %u, \"gap\": %.2f, \"probes\": %s}",
		 ntohs(a.sin_port), gap, probes);
	hb_agent_case(cmd, run->r, sizeof(run->r));
	skiff_get_stats(&run->st);
	run->read = (long long)(hb.srx - read0);
	run->mss1 = snd_mss();
	TK_ASSERT_EQ(hb_jnum(run->r, "quiet"), 1);
	TK_ASSERT_EQ(hb_jnum(run->r, "settled"), 1);
}

static long long pj(const struct run *run, const char *what, int i)
{
	char k[64];

	snprintf(k, sizeof(k), "p%d_%s", i, what);
	return hb_jnum(run->r, k);
}

/* How many of probes [0, n) got exactly one answer, an ACK from SND.NXT
 * of the RCV.NXT from before; all of them must. */
static long long acked(const struct run *run, int n)
{
	long long ok = 0;

	for (int i = 0; i < n; i++) {
		bool one = pj(run, "answers", i) == 1 && pj(run, "acks_ok", i) == 1;

		if (!one)
			tk_note("probe %d: %lld answers, %lld of them the expected ACK (ack %lld)",
				i, pj(run, "answers", i), pj(run, "acks_ok", i), pj(run, "ack", i));
		ok += one;
	}
	TK_ASSERT_EQ(ok, n);
	return ok;
}

/* How many of probes [0, n) got an answer; none may. */
static long long answered(const struct run *run, int n)
{
	long long k = 0;

	for (int i = 0; i < n; i++) {
		if (pj(run, "answers", i))
			tk_note("probe %d: %lld answers (ack %lld, %lld RSTs)", i,
				pj(run, "answers", i), pj(run, "ack", i), pj(run, "rst", i));
		k += pj(run, "answers", i) > 0;
	}
	TK_ASSERT_EQ(k, 0);
	return k;
}

/* Nothing of the probes reached the application or moved the connection:
 * nothing read by it, echoed by skiff or acknowledged (RCV.NXT and SND.NXT
 * where they were), the MSS untouched. */
static void assert_untouched(const struct run *run)
{
	bool moved = hb_jnum(run->r, "after_rcv_nxt") != hb_jnum(run->r, "rcv_nxt") ||
		     hb_jnum(run->r, "after_snd_nxt") != hb_jnum(run->r, "snd_nxt");

	TK_ASSERT_EQ(run->read, 0);
	TK_ASSERT_EQ(hb_jnum(run->r, "stack_data"), 0);
	TK_ASSERT_EQ(hb_jnum(run->r, "ack_moved"), 0);
	TK_ASSERT_EQ(moved, 0);
	TK_ASSERT_EQ(run->mss1, run->mss0);
}

#define CHALLENGES(run) HB_DELTA((run)->st, tcp_challenge_acks)
#define LIMITED(run)	HB_DELTA((run)->st, tcp_challenge_acks_limited)

/* Rule 1: an ACK of data never sent (SEG.ACK > SND.NXT), on 10 bytes at
 * RCV.NXT that would otherwise be in sequence: an ACK, the segment
 * dropped (RFC 9293 3.10.7.4, RFC 5961 5.2). */
static void test_ack_beyond_snd_nxt(void)
{
	struct run run;
	long long ok;
	bool alive;

	hb_begin("accack", 0);
	probe(&run, CHALLENGE_GAP,
	      "[{\"flags\": \"PA\", \"ack\": \"snd_nxt\", \"ack_off\": 1, \"data\": 10, \"wnd\": 0, "
	      "\"mss\": 64},"
	      " {\"flags\": \"PA\", \"ack\": \"snd_nxt\", \"ack_off\": 1000000, \"data\": 10, "
	      "\"wnd\": 0, \"mss\": 64}]");
	ok = acked(&run, 2);
	assert_untouched(&run);
	TK_ASSERT_EQ(CHALLENGES(&run), 2);
	TK_ASSERT_EQ(LIMITED(&run), 0);
	alive = hb_intact();
	tk_score("10 bytes at RCV.NXT, ACK SND.NXT+1 and +10^6 (window 0, MSS 64): %lld/2 answered "
		 "by an ACK of the unchanged RCV.NXT, %lld bytes read, MSS %d->%d, "
		 "tcp_challenge_acks +%lld (limited +%lld); connection %s",
		 ok, run.read, run.mss0, run.mss1, CHALLENGES(&run), LIMITED(&run),
		 alive ? "intact" : "BROKEN");
}

/* Rule 2: an ACK older than SND.UNA - MAX.SND.WND (the kernel's largest
 * window, read off the wire): an ACK, the segment dropped (RFC 5961 5.2).
 * At SND.UNA - MAX.SND.WND itself the ACK is acceptable: a pure duplicate
 * ACK, unanswered. */
static void test_ack_older_than_max_window(void)
{
	struct run run;
	long long ok, quiet;
	bool alive;

	hb_begin("accold", 0);
	probe(&run, CHALLENGE_GAP,
	      "[{\"flags\": \"PA\", \"ack\": \"ack_floor\", \"ack_off\": -1, \"data\": 10, "
	      "\"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"PA\", \"ack\": \"snd_una\", \"ack_off\": -1073741824, \"data\": 10, "
	      "\"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"A\", \"ack\": \"ack_floor\"}]");
	tk_note("MAX.SND.WND %lld", hb_jnum(run.r, "max_snd_wnd"));
	ok = acked(&run, 2);
	quiet = pj(&run, "answers", 2);
	TK_ASSERT_EQ(quiet, 0);
	assert_untouched(&run);
	TK_ASSERT_EQ(CHALLENGES(&run), 2);
	TK_ASSERT_EQ(LIMITED(&run), 0);
	alive = hb_intact();
	tk_score("10 bytes at RCV.NXT, ACK SND.UNA-MAX.SND.WND-1 and SND.UNA-2^30 (window 0, MSS "
		 "64): %lld/2 answered by an ACK of the unchanged RCV.NXT, %lld bytes read, MSS "
		 "%d->%d, tcp_challenge_acks +%lld (limited +%lld); ACK SND.UNA-MAX.SND.WND: %lld "
		 "answers; connection %s",
		 ok, run.read, run.mss0, run.mss1, CHALLENGES(&run), LIMITED(&run), quiet,
		 alive ? "intact" : "BROKEN");
}

/* Rule 3: an RST in the window but not at RCV.NXT gets a challenge ACK and
 * the connection lives (RFC 5961 3.2); one exactly at RCV.NXT resets it,
 * and the application learns ECONNRESET. */
static void test_rst_in_window(void)
{
	struct run run, exact;
	long long ok, t0, reset_ms = -1, kernel_reset = 0;
	bool alive;
	char b[64];

	hb_begin("accrst", 0);
	probe(&run, CHALLENGE_GAP,
	      "[{\"flags\": \"R\", \"seq_off\": 1},"
	      " {\"flags\": \"R\", \"seq\": \"rcv_edge\", \"seq_off\": -1}]");
	ok = acked(&run, 2);
	assert_untouched(&run);
	TK_ASSERT_EQ(CHALLENGES(&run), 2);
	TK_ASSERT_EQ(LIMITED(&run), 0);
	TK_ASSERT_EQ(HB_DELTA(run.st, tcp_rst_ignored), 0);
	TK_ASSERT_EQ(hb.serr, 0);
	alive = hb_intact();

	probe(&exact, CHALLENGE_GAP, "[{\"flags\": \"R\"}]");
	TK_ASSERT_EQ(answered(&exact, 1), 0);
	for (t0 = st_now_ms(); !hb.serr && st_now_ms() - t0 < 1000;)
		hb_pump();
	if (hb.serr)
		reset_ms = st_now_ms() - t0;
	TK_ASSERT_EQ(hb.serr, ECONNRESET);
	/* skiff has forgotten the connection: the kernel's next data is reset */
	CU_ASSERT(send(hb.kfd, "x", 1, MSG_NOSIGNAL) == 1);
	for (t0 = st_now_ms(); st_now_ms() - t0 < 1000;) {
		hb_pump();
		if (recv(hb.kfd, b, sizeof(b), MSG_DONTWAIT) < 0 && errno != EAGAIN) {
			kernel_reset = errno == ECONNRESET;
			break;
		}
	}
	TK_ASSERT_EQ(kernel_reset, 1);
	tk_score("RSTs at RCV.NXT+1, RCV.NXT+RCV.WND-1: %lld/2 challenge-ACKed, %lld bytes "
		 "read, tcp_challenge_acks +%lld (limited +%lld), connection %s; RST at RCV.NXT: "
		 "%lld answers, application %s after %lld ms, kernel's next data %s",
		 ok, run.read, CHALLENGES(&run), LIMITED(&run), alive ? "intact" : "BROKEN",
		 pj(&exact, "answers", 0), hb.serr == ECONNRESET ? "ECONNRESET" : "NOT reset",
		 reset_ms, kernel_reset ? "reset" : "NOT reset");
}

/* Rule 4: an RST outside the window (just left of RCV.NXT, exactly at
 * RCV.NXT+RCV.WND, far either way) is dropped unanswered (RFC 5961 3.2). */
static void test_rst_outside_window(void)
{
	struct run run;
	long long any;
	bool alive;

	hb_begin("accrsto", 0);
	probe(&run, CHALLENGE_GAP,
	      "[{\"flags\": \"R\", \"seq_off\": -1},"
	      " {\"flags\": \"R\", \"seq\": \"rcv_edge\"},"
	      " {\"flags\": \"R\", \"seq_off\": -1073741824},"
	      " {\"flags\": \"R\", \"seq\": \"rcv_edge\", \"seq_off\": 10000000}]");
	any = answered(&run, 4);
	assert_untouched(&run);
	TK_ASSERT_EQ(HB_DELTA(run.st, tcp_rst_ignored), 4);
	TK_ASSERT_EQ(CHALLENGES(&run) + LIMITED(&run), 0);
	TK_ASSERT_EQ(hb.serr, 0);
	alive = hb_intact();
	tk_score("RSTs at RCV.NXT-1, RCV.NXT+RCV.WND, RCV.NXT-2^30, RCV.NXT+RCV.WND+10^7: %lld "
		 "answered, tcp_rst_ignored +%lld, tcp_challenge_acks +%lld, %lld bytes read; "
		 "connection %s",
		 any, HB_DELTA(run.st, tcp_rst_ignored), CHALLENGES(&run), run.read,
		 alive ? "intact" : "BROKEN");
}

/* Rule 5: a SYN on a synchronized connection, in the window or out of it,
 * gets a challenge ACK and the connection lives (RFC 5961 4). */
static void test_syn_on_established(void)
{
	struct run run;
	long long ok;
	bool alive;

	hb_begin("accsyn", 0);
	probe(&run, CHALLENGE_GAP,
	      "[{\"flags\": \"S\", \"seq_off\": 100, \"ack\": \"zero\", \"mss\": 64},"
	      " {\"flags\": \"S\", \"seq_off\": -1048576, \"ack\": \"zero\", \"mss\": 64},"
	      " {\"flags\": \"S\", \"seq\": \"rcv_edge\", \"seq_off\": 1000000, \"ack\": \"zero\", "
	      "\"mss\": 64}]");
	ok = acked(&run, 3);
	assert_untouched(&run);
	TK_ASSERT_EQ(CHALLENGES(&run), 3);
	TK_ASSERT_EQ(LIMITED(&run), 0);
	TK_ASSERT_EQ(hb.serr, 0);
	alive = hb_intact();
	tk_score("SYNs (MSS 64) at RCV.NXT+100, RCV.NXT-2^20, RCV.NXT+RCV.WND+10^6: %lld/3 "
		 "answered by a challenge ACK, %lld bytes read, MSS %d->%d, "
		 "tcp_challenge_acks +%lld (limited +%lld); connection %s",
		 ok, run.read, run.mss0, run.mss1, CHALLENGES(&run), LIMITED(&run),
		 alive ? "intact" : "BROKEN");
}

/* Rule 6: data wholly outside the receive window, old duplicates (one
 * ending exactly at RCV.NXT) and past RCV.NXT+RCV.WND (one starting there),
 * and a pure ACK past the window: an ACK for each, not rate-limited (300 ms
 * apart), and nothing else of the segment taken (RFC 9293 3.10.7.4: drop
 * it and return). Their ACK field, SND.UNA-1000, is acceptable: were their
 * window 0 taken, no later ACK of the kernel's (a lower sequence number,
 * another ACK) would reopen it. */
static void test_data_outside_window(void)
{
	struct run run;
	long long ok;
	bool alive;

	hb_begin("accoow", 0);
	probe(&run, 0,
	      "[{\"flags\": \"PA\", \"seq_off\": -1000, \"data\": 100, \"ack\": \"snd_una\", "
	      "\"ack_off\": -1000, \"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"PA\", \"seq_off\": -100, \"data\": 100, \"ack\": \"snd_una\", "
	      "\"ack_off\": -1000, \"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"PA\", \"seq\": \"rcv_edge\", \"data\": 100, \"ack\": \"snd_una\", "
	      "\"ack_off\": -1000, \"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"PA\", \"seq\": \"rcv_edge\", \"seq_off\": 1000000, \"data\": 100, "
	      "\"ack\": \"snd_una\", \"ack_off\": -1000, \"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"A\", \"seq\": \"rcv_edge\", \"seq_off\": 1000000, \"ack\": "
	      "\"snd_una\", \"ack_off\": -1000, \"wnd\": 0}]");
	ok = acked(&run, 5);
	assert_untouched(&run);
	TK_ASSERT_EQ(HB_DELTA(run.st, tcp_rx_out_of_window), 5);
	TK_ASSERT_EQ(CHALLENGES(&run) + LIMITED(&run), 0);
	alive = hb_intact();
	tk_score("100 bytes at RCV.NXT-1000, ending at RCV.NXT, at RCV.NXT+RCV.WND, 10^6 past "
		 "it, and an ACK 10^6 past it (window 0, MSS 64), 300 ms apart: %lld/5 ACKed, %lld "
		 "bytes read, MSS %d->%d, tcp_rx_out_of_window +%lld; connection %s",
		 ok, run.read, run.mss0, run.mss1, HB_DELTA(run.st, tcp_rx_out_of_window),
		 alive ? "intact" : "BROKEN");
}

/* RFC 9293 3.10.7.4's fifth check: on a synchronized connection a segment
 * without the ACK bit is dropped, unanswered. Were it taken, anyone who
 * knows a sequence number in the window could inject data without the
 * ACK check of RFC 5961 5.2. */
static void test_data_without_ack(void)
{
	struct run run;
	long long any;
	bool alive;

	hb_begin("accnoack", 0);
	probe(&run, CHALLENGE_GAP,
	      "[{\"flags\": \"P\", \"data\": 10, \"wnd\": 0, \"mss\": 64},"
	      " {\"flags\": \"\", \"data\": 10, \"wnd\": 0, \"mss\": 64}]");
	any = answered(&run, 2);
	assert_untouched(&run);
	TK_ASSERT_EQ(HB_DELTA(run.st, tcp_rx_drop), 2);
	TK_ASSERT_EQ(CHALLENGES(&run) + LIMITED(&run), 0);
	alive = hb_intact();
	tk_score("10 bytes at RCV.NXT without the ACK bit (PSH, no flags; window 0, MSS 64): "
		 "%lld answered, %lld bytes read, "
		 "MSS %d->%d, tcp_rx_drop +%lld; connection %s",
		 any, run.read, run.mss0, run.mss1, HB_DELTA(run.st, tcp_rx_drop),
		 alive ? "intact" : "BROKEN");
}

static const struct tk_case tests[] = {
	TK_TEST(test_ack_beyond_snd_nxt), TK_TEST(test_ack_older_than_max_window),
	TK_TEST(test_rst_in_window),	  TK_TEST(test_rst_outside_window),
	TK_TEST(test_syn_on_established), TK_TEST(test_data_outside_window),
	TK_TEST(test_data_without_ack),	  TK_TEST_END,
};

static const struct tk_suite suite = {"acceptability", hb_setup, hb_teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
