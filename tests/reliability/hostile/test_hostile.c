/* Hostile packets and a SYN flood from the peer namespace. skiff runs on
 * AF_XDP (copy mode) in ns[0]; in ns[1] the kernel holds an established
 * connection to skiff and hostile_agent.py (Scapy) sends the bad frames
 * and reports what came back. Each test checks the answer (or its
 * absence), the counter that says why, that the kernel's connection still
 * moves data byte-exact, and that no frame leaked (teardown). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostile_bed.h"

#define FLOOD_PORT 7002

/* ---- malformed packets --------------------------------------------------------------------- */

static void test_bad_ip_checksums(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("ipcsum", 0);
	hb_agent_case("{\"case\": \"bad_ip_checksum\", \"n\": 40}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	TK_ASSERT_EQ(HB_DELTA(st, ip_checksum_err), 40);
	tk_score("40 IPv4 packets (ICMP, TCP SYN) with bad header checksums: %lld answered, "
		 "ip_checksum_err +%lld, connection %s",
		 hb_jnum(r, "answered"), HB_DELTA(st, ip_checksum_err), ok ? "intact" : "BROKEN");
}

static void test_bad_tcp_checksums(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("tcpcsum", 0);
	hb_agent_case("{\"case\": \"bad_tcp_checksum\", \"n\": 40}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(HB_DELTA(st, tcp_checksum_err), 40);
	tk_score("40 TCP segments (SYNs, in-sequence data) with bad checksums: %lld "
		 "answered, tcp_checksum_err +%lld, connections %s",
		 hb_jnum(r, "answered"), HB_DELTA(st, tcp_checksum_err),
		 ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

static void test_truncated_headers(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("trunc", 0);
	hb_agent_case("{\"case\": \"truncated\", \"n\": 40}", r, sizeof(r));
	skiff_get_stats(&st);
	tk_note("rx %lld ip drop %lld csum %lld xdp passed %lld tcp drop %lld",
		HB_DELTA(st, rx_frames), HB_DELTA(st, ip_rx_drop), HB_DELTA(st, ip_checksum_err),
		HB_DELTA(st, xdp_passed_not_ours), HB_DELTA(st, tcp_rx_drop));
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	TK_ASSERT_EQ(HB_DELTA(st, ip_len_err), 20);
	TK_ASSERT_EQ(HB_DELTA(st, tcp_len_err), 20);
	tk_score("40 truncated packets (IPv4 length or IHL past the end, 10-byte TCP "
		 "header, data offset past the end): %lld answered, ip_len_err +%lld, "
		 "tcp_len_err +%lld, connection %s",
		 hb_jnum(r, "answered"), HB_DELTA(st, ip_len_err), HB_DELTA(st, tcp_len_err),
		 ok ? "intact" : "BROKEN");
}

static void test_bad_tcp_options(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("tcpopt", 0);
	hb_agent_case("{\"case\": \"tcp_options\", \"n\": 10}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	/* Malformed or unknown options are ignored, not the segments
	 * (RFC 9293 3.1; Linux does the same). */
	TK_ASSERT_EQ(hb_jnum(r, "syn_answered"), 10);
	TK_ASSERT_EQ(hb_jnum(r, "data_acked"), 10);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(HB_DELTA(st, tcp_bad_options), 12);
	TK_ASSERT_EQ(HB_DELTA(st, tcp_unknown_options), 8);
	tk_score("10 SYNs + 10 data segments with options of length 0, past the header, "
		 "length 1, unknown kinds: %lld/10 SYN-ACKed, %lld/10 data ACKed, "
		 "tcp_bad_options +%lld, tcp_unknown_options +%lld, connections %s",
		 hb_jnum(r, "syn_answered"), hb_jnum(r, "data_acked"),
		 HB_DELTA(st, tcp_bad_options), HB_DELTA(st, tcp_unknown_options),
		 ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

/* ---- RFC 5961 ------------------------------------------------------------------------- */

static void probe_case(const char *tag, const char *agent_name, long long want_answers,
		       const char *what)
{
	char r[1024], cmd[128];
	struct skiff_stats st;
	bool ok;

	hb_begin(tag, 0);
	snprintf(cmd, sizeof(cmd), "{\"case\": \"%s\", \"n\": 40}", agent_name);
	hb_agent_case(cmd, r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), want_answers);
	TK_ASSERT_EQ(hb_jnum(r, "rst"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	if (want_answers == 0)
		TK_ASSERT_EQ(HB_DELTA(st, tcp_rst_ignored), 40);
	if (want_answers == 40)
		TK_ASSERT_EQ(HB_DELTA(st, tcp_rx_out_of_window), 40);
	if (want_answers == 1) { /* a challenge ACK, then the rate limit */
		TK_ASSERT_EQ(hb_jnum(r, "acks_rcv_nxt"), 1);
		TK_ASSERT_EQ(HB_DELTA(st, tcp_challenge_acks), 1);
		TK_ASSERT_EQ(HB_DELTA(st, tcp_challenge_acks_limited), 39);
	}
	tk_score("40 %s on an established connection: %lld answered, "
		 "tcp_challenge_acks +%lld, tcp_challenge_acks_limited +%lld, "
		 "tcp_rst_ignored +%lld, tcp_rx_out_of_window +%lld, connections %s",
		 what, hb_jnum(r, "answered"), HB_DELTA(st, tcp_challenge_acks),
		 HB_DELTA(st, tcp_challenge_acks_limited), HB_DELTA(st, tcp_rst_ignored),
		 HB_DELTA(st, tcp_rx_out_of_window),
		 ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

static void test_rst_out_of_window(void)
{
	probe_case("rstoow", "rst_out_of_window", 0, "RSTs outside the window");
}

static void test_rst_in_window_challenge_ack(void)
{
	probe_case("rstwin", "rst_in_window", 1, "in-window RSTs (not at RCV.NXT)");
}

static void test_syn_on_established(void)
{
	probe_case("synest", "syn_established", 1, "SYNs");
}

static void test_ack_of_unsent_data(void)
{
	probe_case("badack", "bad_ack", 1, "ACKs of data never sent");
}

static void test_out_of_window_data(void)
{
	probe_case("oowdata", "oow_data", 40, "data segments 1 MB past the window");
}

/* ---- IP and link layer ---------------------------------------------------------------- */

static void test_ip_fragments(void)
{
	char r[1024];
	struct skiff_stats st;
	long long t0;
	bool ok;

	hb_begin("frag", 0);
	hb_agent_case("{\"case\": \"fragments\", \"n\": 20}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "whole_answered"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	CU_ASSERT(HB_DELTA(st, ip_frag_drop) >= 21);
	/* Incomplete datagrams give their frames back when they expire. */
	t0 = st_now_ms();
	while (st.lwip_reass_used && st_now_ms() - t0 < 10000) {
		hb_pump_ms(50);
		skiff_get_stats(&st);
	}
	TK_ASSERT_EQ(st.lwip_reass_used, 0);
	tk_score("3-fragment ping answered (%lld); 20 overlapping pairs, 20 lone first "
		 "fragments, 1 ending past 65535: %lld answered, ip_frag_drop +%lld, "
		 "reassembly empty %.1f s later, connection %s",
		 hb_jnum(r, "whole_answered"), hb_jnum(r, "answered"), HB_DELTA(st, ip_frag_drop),
		 (st_now_ms() - t0) / 1000.0, ok ? "intact" : "BROKEN");
}

static void test_oversized_and_undersized_frames(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("frames", 2000);
	hb_agent_case("{\"case\": \"frames\", \"n\": 40, \"big\": 1600}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	/* Over the MTU: the stack drops them. Shorter than an IPv4 header:
	 * our XDP program cannot classify them and leaves them to the
	 * kernel, so they never reach the stack. */
	TK_ASSERT_EQ(HB_DELTA(st, rx_drop_bad_frame) + HB_DELTA(st, xdp_rx_dropped), 20);
	CU_ASSERT(HB_DELTA(st, xdp_passed_not_ours) >= 20);
	tk_score("20 frames of 1600 bytes (MTU 1500) and 20 of 14-20 bytes: %lld answered, "
		 "rx_drop_bad_frame +%lld, xdp_rx_dropped +%lld, xdp_passed_not_ours "
		 "+%lld, connection %s",
		 hb_jnum(r, "answered"), HB_DELTA(st, rx_drop_bad_frame),
		 HB_DELTA(st, xdp_rx_dropped), HB_DELTA(st, xdp_passed_not_ours),
		 ok ? "intact" : "BROKEN");
}

static void test_bogus_vlan_tags(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("vlan", 0);
	hb_agent_case("{\"case\": \"vlan\", \"n\": 20}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	TK_ASSERT_EQ(HB_DELTA(st, rx_drop_vlan), 20);
	TK_ASSERT_EQ(hb_jnum(r, "prio_tag_answered"), 1);
	tk_score("20 pings tagged VID 42/7 (802.1Q and 802.1ad) to an untagged stack: "
		 "%lld answered, rx_drop_vlan +%lld; priority-tagged (VID 0) ping "
		 "answered %lld; connection %s",
		 hb_jnum(r, "answered"), HB_DELTA(st, rx_drop_vlan),
		 hb_jnum(r, "prio_tag_answered"), ok ? "intact" : "BROKEN");
}

static void test_arp_nd_spoofing(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin("spoof", 0);
	hb_agent_case("{\"case\": \"spoof\", \"n\": 20}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "answered"), 0);
	TK_ASSERT_EQ(HB_DELTA(st, arp_spoof_drop), 10);
	TK_ASSERT_EQ(HB_DELTA(st, nd6_spoof_drop), 10);
	TK_ASSERT_EQ(hb_jnum(r, "pings_answered"), 2);
	TK_ASSERT_EQ(hb_jnum(r, "pings_to_our_mac"), 2);
	tk_score("20 ARP/ND claims on the stack's addresses (gratuitous ARP, ARP reply, "
		 "NA, NS from its address): %lld answered, arp_spoof_drop +%lld, "
		 "nd6_spoof_drop +%lld; pings after: %lld/2 answered to the right MAC; "
		 "connection %s",
		 hb_jnum(r, "answered"), HB_DELTA(st, arp_spoof_drop), HB_DELTA(st, nd6_spoof_drop),
		 hb_jnum(r, "pings_to_our_mac"), ok ? "intact" : "BROKEN");
}

/* ---- SYN flood ----------------------------------------------------------------------- */

#define FLOOD_SYNS  20000
#define FLOOD_RATE  4000 /* per second: 5 s */
#define LEGIT_CONNS 20

/* skiff's end of the kernel's connection streams to the kernel for
 * @p ms (the agent's reply may end it early); bytes received. */
struct stream {
	uint64_t bytes;
	double seconds;
};

static uint8_t sbuf[256 * 1024], kbuf[256 * 1024];

static void stream_step(struct stream *s)
{
	ssize_t k;

	skiff_send(hb.sfd, sbuf, sizeof(sbuf), MSG_DONTWAIT);
	while ((k = recv(hb.kfd, kbuf, sizeof(kbuf), MSG_DONTWAIT)) > 0)
		s->bytes += (uint64_t)k;
}

static void stream_for(struct stream *s, int ms)
{
	long long t0 = st_now_ms();

	memset(s, 0, sizeof(*s));
	while (st_now_ms() - t0 < ms) {
		skiff_poll(0);
		stream_step(s);
	}
	s->seconds = (st_now_ms() - t0) / 1000.0;
}

static double mbit(const struct stream *s)
{
	return s->seconds > 0 ? s->bytes * 8 / s->seconds / 1e6 : 0;
}

struct legit {
	int kfd, sfd;
	long long t0;
	bool done;
};

/* Accepted connections go to the connects still waiting, in order; a
 * connect is done when the kernel's end is connected and skiff accepted. */
static void legit_progress(struct legit *lg, unsigned started, int ffd, unsigned *ok)
{
	int c;

	while ((c = skiff_accept(ffd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		unsigned j;

		for (j = 0; j < started && (lg[j].sfd >= 0 || lg[j].done); j++)
			;
		if (j < started)
			lg[j].sfd = c;
		else
			skiff_close(c);
	}
	for (unsigned i = 0; i < started; i++)
		if (!lg[i].done && lg[i].sfd >= 0 &&
		    send(lg[i].kfd, "hello", 5, MSG_DONTWAIT | MSG_NOSIGNAL) == 5) {
			lg[i].done = true;
			(*ok)++;
		}
}

static void test_syn_flood(void)
{
	struct sockaddr_in fa = {.sin_family = AF_INET, .sin_port = htons(FLOOD_PORT)};
	struct legit lg[LEGIT_CONNS];
	struct stream before, during = {0};
	struct skiff_stats st, mid;
	char r[1024], line[256];
	unsigned started = 0, ok_conns = 0, max_half_open = 0;
	long long t0, t_end, next = 0, next_sample = 0;
	int ffd;

	hb_begin("flood", 0);
	ffd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(ffd >= 0);
	CU_ASSERT_FATAL(skiff_bind(ffd, (struct sockaddr *)&fa, sizeof(fa)) == 0);
	CU_ASSERT_FATAL(skiff_listen(ffd, 128) == 0);
	inet_pton(AF_INET, HB_STACK_IP4, &fa.sin_addr);
	/* Drain the echo state: the connection now only streams to the kernel. */
	hb_pump_ms(100);
	hb.ehave = hb.eoff = 0;
	stream_for(&before, 2000);

	snprintf(r, sizeof(r), "{\"case\": \"flood\", \"count\": %d, \"rate\": %d, \"port\": %d}\n",
		 FLOOD_SYNS, FLOOD_RATE, FLOOD_PORT);
	CU_ASSERT_FATAL(write(hb.to_agent, r, strlen(r)) == (ssize_t)strlen(r));
	CU_ASSERT_FATAL(hb_agent_line(line, sizeof(line), 30000)); /* frames built, flood starts */
	t0 = st_now_ms();
	r[0] = '\0';
	memset(lg, 0, sizeof(lg));
	/* While it lasts: stream, and a legitimate connect every 200 ms. */
	for (;;) {
		ssize_t k = read(hb.from_agent, hb.abuf + hb.alen, sizeof(hb.abuf) - 1 - hb.alen);

		if (k > 0)
			hb.alen += (size_t)k;
		if (memchr(hb.abuf, '\n', hb.alen)) {
			hb_agent_line(r, sizeof(r), 0);
			break;
		}
		CU_ASSERT_FATAL(st_now_ms() - t0 < 60000);
		skiff_poll(0);
		stream_step(&during);
		if (started < LEGIT_CONNS && st_now_ms() >= next) {
			struct legit *l = &lg[started++];

			l->sfd = -1;
			l->t0 = st_now_ms();
			l->kfd = tb_socket(hb.net.ns[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			CU_ASSERT_FATAL(l->kfd >= 0);
			connect(l->kfd, (struct sockaddr *)&fa, sizeof(fa));
			next = st_now_ms() + 200;
		}
		legit_progress(lg, started, ffd, &ok_conns);
		/* The peak, sampled every 10 ms: skiff_get_stats() audits every
		 * frame, and called each round it ate the stream's CPU. */
		if (st_now_ms() >= next_sample) {
			skiff_get_stats(&mid);
			if (mid.lwip_pcbs_used > max_half_open)
				max_half_open = mid.lwip_pcbs_used;
			next_sample = st_now_ms() + 10;
		}
	}
	during.seconds = (st_now_ms() - t0) / 1000.0;
	skiff_get_stats(&st);
	tk_note("flood agent: %s", r);
	/* Connects still under way when the flood ended get 3 s more. */
	t_end = st_now_ms();
	while (ok_conns < started && st_now_ms() - t_end < 3000) {
		skiff_poll(1);
		legit_progress(lg, started, ffd, &ok_conns);
	}
	/* Half-open connections must be gone within their bounded lifetime
	 * (5 s), counted from the flood's end. */
	t_end = st_now_ms();
	for (;;) {
		skiff_get_stats(&mid);
		/* listeners 2, the kernel's connection, the legitimate ones */
		if (mid.lwip_pcbs_used <= 3 + ok_conns || st_now_ms() - t_end > 10000)
			break;
		hb_pump_ms(20);
	}
	double gone_s = (st_now_ms() - t_end) / 1000.0;

	tk_note("stream before: %.0f Mbit/s; during the flood: %.0f Mbit/s (%.2f s)", mbit(&before),
		mbit(&during), during.seconds);
	tk_note("SYN cookies sent %llu (connections from cookies %llu), half-open expired %llu, "
		"listen overflows %llu; peak PCBs %u; half-open gone %.2f s after the flood",
		(unsigned long long)(mid.tcp_syncookies_sent - hb.before.tcp_syncookies_sent),
		(unsigned long long)(mid.tcp_syncookies_ok - hb.before.tcp_syncookies_ok),
		(unsigned long long)(mid.tcp_syn_rcvd_timeouts - hb.before.tcp_syn_rcvd_timeouts),
		(unsigned long long)(mid.tcp_listen_overflows - hb.before.tcp_listen_overflows),
		max_half_open, gone_s);
	TK_ASSERT_EQ(hb_jnum(r, "sent"), FLOOD_SYNS);
	TK_ASSERT_EQ(ok_conns, LEGIT_CONNS);
	CU_ASSERT(mbit(&during) >= 0.2 * mbit(&before));
	CU_ASSERT(max_half_open <= 3 + LEGIT_CONNS + 128);
	CU_ASSERT(mid.lwip_pcbs_used <= 3 + ok_conns);
	/* Past the backlog every SYN is answered with a cookie, no state. */
	CU_ASSERT(mid.tcp_syncookies_sent > hb.before.tcp_syncookies_sent);
	TK_ASSERT_EQ(mid.tcp_listen_overflow_rsts - hb.before.tcp_listen_overflow_rsts, 0);
	tk_score("%d SYNs at %d/s from random addresses/ports: stream %.0f -> %.0f Mbit/s "
		 "(%.0f%%), %u/%d legitimate connects, peak PCBs %u, SYN cookies "
		 "+%llu, half-open gone %.1f s after",
		 FLOOD_SYNS, FLOOD_RATE, mbit(&before), mbit(&during),
		 mbit(&before) > 0 ? 100 * mbit(&during) / mbit(&before) : 0, ok_conns, LEGIT_CONNS,
		 max_half_open,
		 (unsigned long long)(mid.tcp_syncookies_sent - hb.before.tcp_syncookies_sent),
		 gone_s);
	for (unsigned i = 0; i < started; i++) {
		close(lg[i].kfd);
		if (lg[i].sfd >= 0)
			skiff_close(lg[i].sfd);
	}
	skiff_close(ffd);
	/* the stream's leftovers: drain so the closes finish cleanly */
	for (long long end = st_now_ms() + 500; st_now_ms() < end;) {
		skiff_poll(1);
		while (recv(hb.kfd, kbuf, sizeof(kbuf), MSG_DONTWAIT) > 0)
			;
	}
}

static const struct tk_case tests[] = {
	TK_TEST(test_bad_ip_checksums),
	TK_TEST(test_bad_tcp_checksums),
	TK_TEST(test_truncated_headers),
	TK_TEST(test_bad_tcp_options),
	TK_TEST(test_rst_out_of_window),
	TK_TEST(test_rst_in_window_challenge_ack),
	TK_TEST(test_syn_on_established),
	TK_TEST(test_ack_of_unsent_data),
	TK_TEST(test_out_of_window_data),
	TK_TEST(test_ip_fragments),
	TK_TEST(test_oversized_and_undersized_frames),
	TK_TEST(test_bogus_vlan_tags),
	TK_TEST(test_arp_nd_spoofing),
	TK_TEST(test_syn_flood),
	TK_TEST_END,
};

static const struct tk_suite suite = {"hostile", hb_setup, hb_teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
