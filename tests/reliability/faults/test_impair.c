/* The impairments of skiff-bench's loss run (apps/bench/loss.h, issue #15),
 * each once as a scoreboard row: skiff (AF_XDP copy mode, the test
 * process) in "a" and the kernel (a child) in "b" exchange 4 MiB each way
 * through tests/net's router, which impairs both directions: iptables
 * statistic loss, TEE duplication, nfq_impair's reordering and delay.
 * skiff connects and sends first, the kernel answers with as many bytes:
 * both directions are checked byte for byte and by SHA-256.
 *
 *   a: skiff ar -- ra  r (impairs both ways)  rb -- br b: Linux
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"
#include "stack_test.h"

#define PORT  7401
#define BYTES (4 * ST_MIB)

/* Recoveries and resends reordering alone may cause (below). A packet
 * held behind the next few at the end of a burst waits longer than the
 * path's smoothed RTT, which caps RACK's reordering window: 3-7
 * recoveries of 3-8 resends in 18 runs, every one undone. Under ASan the
 * sender runs several times slower and more are called lost: 6-13
 * recoveries in 6 ASan runs, every one undone. An ACK the late original
 * caused, taken for its resend's delivery, once made an episode resend
 * 46-79 segments (3 runs in 10): each transmission's TSval now tells them
 * apart (recovery.c). */
#ifdef __SANITIZE_ADDRESS__
#define MAX_REORDER_RECOVERIES 16
#else
#define MAX_REORDER_RECOVERIES 10
#endif
#define MAX_REORDER_RESENDS (2 * MAX_REORDER_RECOVERIES)

static const uint8_t skiff_mac[6] = {0x02, 0x53, 0x4b, 0x49, 0x4d, 0x50};

/* One case, the same both ways. */
struct impair {
	const char *name; /* the loss run's */
	double drop, dup;
	uint32_t reorder_ppm;
	unsigned delay_ms;
};

static struct {
	struct router r;
	bool stack;
	pid_t child;
} T;

static void setup(void)
{
	memset(&T, 0, sizeof(T));
}

static void teardown(void)
{
	if (T.child > 0)
		st_child_wait(T.child, 2000);
	if (T.stack)
		st_stack_down(true);
	tb_enter(NULL);
	router_destroy(&T.r);
	memset(&T, 0, sizeof(T));
}

/* The kernel's end, in b. */
static int kernel_main(void *arg)
{
	(void)arg;
	if (tb_enter(T.r.ns_b) != 0)
		return 99;
	return st_kernel_two_way_server(AF_INET, PORT, BYTES);
}

static void impair_both_ways(const struct impair *im)
{
	static const char *const dirs[2] = {"ab", "ba"};

	for (int d = 0; d < 2; d++) {
		char args[128] = "";

		if (im->drop)
			CU_ASSERT_FATAL(router_drop(&T.r, dirs[d], im->drop) == 0);
		if (im->dup)
			CU_ASSERT_FATAL(router_duplicate(&T.r, dirs[d], im->dup) == 0);
		if (!im->reorder_ppm && !im->delay_ms)
			continue;
		snprintf(args, sizeof(args), "--seed %d", d + 1);
		if (im->reorder_ppm)
			snprintf(args + strlen(args), sizeof(args) - strlen(args),
				 " --reorder-ppm %u --reorder-depth 3", im->reorder_ppm);
		if (im->delay_ms)
			snprintf(args + strlen(args), sizeof(args) - strlen(args), " --delay-ms %u",
				 im->delay_ms);
		CU_ASSERT_FATAL(router_impair(&T.r, dirs[d], args) == 0);
	}
}

static void two_way(const struct impair *im)
{
	const struct router_opts o = {.a_bare = true};
	struct st_two_way mine, theirs;
	struct router_counters c[2] = {0};
	uint64_t dropped = 0, duplicated = 0, n;
	struct skiff_stats st;
	char ready;
	bool ok;
	int fd;

	tk_require_privileged();
	if (system("command -v iptables >/dev/null 2>&1 && command -v ip6tables >/dev/null 2>&1") !=
	    0)
		tk_skip("needs iptables and ip6tables (tests/host/setup.sh installs them)");
	CU_ASSERT_FATAL(router_create(&T.r, "imp", &o) == 0);
	impair_both_ways(im);
	/* Fork before the stack exists: the child must not inherit a UMEM. */
	T.child = st_child_start(kernel_main, NULL);
	CU_ASSERT_FATAL(T.child > 0);
	st_xsk_up(T.r.ns_a, T.r.if_ar, skiff_mac, T.r.a_ip4, T.r.ra_ip4, T.r.a_ip6, T.r.ra_ip6);
	T.stack = true;
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = st_skiff_connect(AF_INET, T.r.b_ip4, T.r.b_ip6, PORT);
	CU_ASSERT_FATAL(fd >= 0);
	st_skiff_two_way_client(fd, BYTES, &mine);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 60000));
	TK_ASSERT_EQ(st_child_wait(T.child, 10000), 0);
	T.child = 0;
	st_check_two_way(&mine, &theirs, BYTES);
	skiff_get_stats(&st);

	for (int d = 0; d < 2; d++) {
		const char *dir = d ? "ba" : "ab";

		if (im->drop && router_dropped(&T.r, dir, &n) == 0)
			dropped += n;
		if (im->dup && router_duplicated(&T.r, dir, &n) == 0)
			duplicated += n;
		if (im->reorder_ppm || im->delay_ms)
			CU_ASSERT(router_stats(&T.r, dir, &c[d]) == 0);
	}
	ok = mine.up.bad + mine.down.bad + theirs.up.bad + theirs.down.bad == 0 &&
	     mine.up.bytes == BYTES && mine.down.bytes == BYTES &&
	     !memcmp(mine.up.digest, theirs.up.digest, 32) &&
	     !memcmp(mine.down.digest, theirs.down.digest, 32);
	tk_note("%s: router dropped %llu, duplicated %llu; helpers: %llu packets, %llu reordered, "
		"%llu delayed, %llu released late, %llu requeues failed; skiff: %llu retransmits "
		"(%llu timeouts, %llu RACK, %llu TLP), %llu recoveries, %llu D-SACKs, %llu "
		"undone, %llu out of order",
		im->name, (unsigned long long)dropped, (unsigned long long)duplicated,
		(unsigned long long)(c[0].packets + c[1].packets),
		(unsigned long long)(c[0].reordered + c[1].reordered),
		(unsigned long long)(c[0].delayed + c[1].delayed),
		(unsigned long long)(c[0].late + c[1].late),
		(unsigned long long)(c[0].requeue_failed + c[1].requeue_failed),
		(unsigned long long)st.tcp_retransmits, (unsigned long long)st.tcp_timeouts,
		(unsigned long long)st.tcp_rack_losses, (unsigned long long)st.tcp_tlp_sent,
		(unsigned long long)st.tcp_fast_recoveries,
		(unsigned long long)st.tcp_dsacks_received,
		(unsigned long long)st.tcp_spurious_undos, (unsigned long long)st.tcp_ooseq);
	tk_score("%s both ways, 4 MiB each way: skiff->kernel %.2f s, kernel->skiff %.2f s; "
		 "%llu dropped, %llu dup, %llu reordered, %llu delayed; skiff retransmits %llu; "
		 "SHA-256 %s",
		 im->name, theirs.up.seconds, mine.down.seconds, (unsigned long long)dropped,
		 (unsigned long long)duplicated,
		 (unsigned long long)(c[0].reordered + c[1].reordered),
		 (unsigned long long)(c[0].delayed + c[1].delayed),
		 (unsigned long long)st.tcp_retransmits, ok ? "ok" : "MISMATCH");
	/* The impairment really happened. */
	if (im->drop)
		CU_ASSERT(dropped > 0);
	if (im->dup)
		CU_ASSERT(duplicated > 0);
	if (im->reorder_ppm)
		CU_ASSERT(c[0].reordered > 0 && c[1].reordered > 0);
	if (im->delay_ms)
		CU_ASSERT(c[0].delayed > 0 && c[1].delayed > 0);
	/* Nothing lost: every resend was for a segment only late, the Linux
	 * receiver reports each one twice (D-SACK), and every recovery's cut
	 * is undone (an episode with a lost probe or more resends than
	 * recorded may stay). */
	/* Without loss a recovery is a mistake: reordering alone starts few
	 * and resends little (lwIP's three duplicate ACKs: 5-20 recoveries
	 * a run; RACK with PRR and the timestamp check of a resend's
	 * delivery: the figures above MAX_REORDER_RECOVERIES; before that
	 * check an episode could resend 153-687 segments in a burst,
	 * test_cc's late-segment case holds the bound).
	 * Most of them are undone; a recovery whose resends were not all
	 * D-SACKed (a resend that filled the hole before the late original
	 * came) stays. */
	if (!im->drop) {
		CU_ASSERT(st.tcp_fast_recoveries <= MAX_REORDER_RECOVERIES);
		CU_ASSERT(st.tcp_retransmits <= MAX_REORDER_RESENDS);
	}
	if (!im->drop && st.tcp_fast_recoveries) {
		CU_ASSERT(st.tcp_dsacks_received > 0);
		if (st.tcp_fast_recoveries >= 2)
			CU_ASSERT(st.tcp_spurious_undos * 2 >= st.tcp_fast_recoveries);
	}
}

static void test_drop1_dup1(void)
{
	const struct impair im = {"1% loss + 1% dup", .drop = 0.01, .dup = 0.01};

	two_way(&im);
}

static void test_drop5(void)
{
	const struct impair im = {"5% loss", .drop = 0.05};

	two_way(&im);
}

static void test_drop1_reorder5(void)
{
	const struct impair im = {"1% loss + 5% reordered", .drop = 0.01, .reorder_ppm = 50000};

	two_way(&im);
}

/* Reordering alone: RACK's window grows with the D-SACKs, and the
 * recoveries it still starts are undone. */
static void test_reorder5(void)
{
	const struct impair im = {"5% reordered", .reorder_ppm = 50000};

	two_way(&im);
}

static void test_delay10(void)
{
	const struct impair im = {"10 ms one way", .delay_ms = 10};

	two_way(&im);
}

static void test_delay10_drop1(void)
{
	const struct impair im = {"10 ms one way + 1% loss", .drop = 0.01, .delay_ms = 10};

	two_way(&im);
}

static const struct tk_case tests[] = {
	TK_TEST(test_drop1_dup1),
	TK_TEST(test_drop5),
	TK_TEST(test_drop1_reorder5),
	TK_TEST(test_reorder5),
	TK_TEST(test_delay10),
	TK_TEST(test_delay10_drop1),
	TK_TEST_END,
};

static const struct tk_suite suite = {"impair", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
