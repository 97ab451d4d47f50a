/* Loss and duplication on a real wire: the kernel's TCP (ns "kern", a child
 * process) and skiff (ns "skiff", AF_XDP copy mode, the test process) talk
 * through a router namespace that forwards between two veths and, with
 * iptables, drops (statistic) and duplicates (TEE) a share of the packets
 * both ways. 64 MiB (16 under ASan) go each way, verified byte by byte and
 * by SHA-256; the router's counters say what loss was really applied.
 *
 *   kern: kv (10.78.1.2) -- rk (10.78.1.1) router rs (10.78.0.1) -- sv: skiff (10.78.0.10)
 *
 * XDP runs before netfilter, so the faults live in the router, where
 * neither end sees a local error. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testbed.h"
#include "stack_test.h"

#define SKIFF_IP4 "10.78.0.10"
#define RT_S_IP4  "10.78.0.1"
#define RT_K_IP4  "10.78.1.1"
#define KERN_IP4  "10.78.1.2"
#define SKIFF_IP6 "fd78::10"
#define RT_S_IP6  "fd78::1"
#define RT_K_IP6  "fd78:1::1"
#define KERN_IP6  "fd78:1::2"
#define PORT	  6101
/* Under ASan the point is the loss paths' memory safety, not the rate:
 * a quarter of the bytes (the 5 % case took 44 s of CI's ASan stage). */
#define BYTES ST_BIG(64 * ST_MIB)

static const uint8_t skiff_mac[6] = {0x02, 0x53, 0x4b, 0x46, 0x4c, 0x53};

/* The router's interfaces: rk faces the kernel, rs faces skiff. */
enum { NS_KERN, NS_ROUTER, NS_SKIFF, NS_N };

static struct {
	char ns[NS_N][TB_NS_NAME_MAX];
	char kv[IF_NAMESIZE], rk[IF_NAMESIZE], rs[IF_NAMESIZE], sv[IF_NAMESIZE];
	bool dup; /* TEE rules installed */
	bool stack;
	pid_t child;
} L;

/* What a rate means to iptables' statistic match. */
struct impair {
	double drop, dup;
};

/* ---- the router ---------------------------------------------------------------- */

static void fail_setup(const char *what)
{
	tk_note("router set-up failed: %s", what);
	CU_FAIL_FATAL("router set-up");
}

/* One family's rules: per direction, a counting rule and a drop rule in
 * FORWARD, and a TEE in mangle PREROUTING that sends a copy straight to the
 * next hop (the copy skips FORWARD, so it is never dropped). */
static bool router_rules(const char *ipt, const char *to_skiff, const char *to_kern,
			 const struct impair *im)
{
	const char *r = L.ns[NS_ROUTER];

	if (tb_run(r, "%s -w -A FORWARD -i %s", ipt, L.rk) ||
	    tb_run(r, "%s -w -A FORWARD -i %s", ipt, L.rs) ||
	    tb_run(r,
		   "%s -w -A FORWARD -i %s -m statistic --mode random --probability %.4f -j DROP",
		   ipt, L.rk, im->drop) ||
	    tb_run(r,
		   "%s -w -A FORWARD -i %s -m statistic --mode random --probability %.4f -j DROP",
		   ipt, L.rs, im->drop))
		return false;
	if (!im->dup)
		return true;
	if (tb_run(r,
		   "%s -w -t mangle -A PREROUTING -i %s -m statistic --mode random --probability %.4f -j TEE --gateway %s",
		   ipt, L.rk, im->dup, to_skiff) ||
	    tb_run(r,
		   "%s -w -t mangle -A PREROUTING -i %s -m statistic --mode random --probability %.4f -j TEE --gateway %s",
		   ipt, L.rs, im->dup, to_kern)) {
		/* No TEE target (xt_TEE): the run goes on without duplicates
		 * and its score says so. */
		tk_note("iptables TEE refused (no xt_TEE?): no duplication");
		return true;
	}
	L.dup = true;
	return true;
}

static void router_up(const char *tag, const struct impair *im)
{
	const char *k = L.ns[NS_KERN], *r = L.ns[NS_ROUTER], *s = L.ns[NS_SKIFF];

	tk_require_privileged();
	if (system("command -v iptables >/dev/null 2>&1 && command -v ip6tables >/dev/null 2>&1") !=
	    0)
		tk_skip("needs iptables and ip6tables (tests/host/setup.sh installs them)");
	for (int i = 0; i < NS_N; i++) {
		static const char *const part[NS_N] = {"kern", "rt", "skiff"};
		char t[32];

		snprintf(t, sizeof(t), "%s-%s", tag, part[i]);
		if (tb_ns_create(L.ns[i], sizeof(L.ns[i]), t))
			fail_setup("namespace");
	}
	/* TX checksum offload goes off on every end (tb_veth()): the kernel
	 * leaves checksums to an offload veth never does (CHECKSUM_PARTIAL),
	 * and forwarded they would reach XDP unfinished. */
	if (tb_link(k, L.kv, KERN_IP4 "/24", r, L.rk, RT_K_IP4 "/24", "k") ||
	    tb_link(r, L.rs, RT_S_IP4 "/24", s, L.sv, NULL, "s"))
		fail_setup("veth");
	if (tb_addr(k, L.kv, KERN_IP6 "/64") || tb_addr(r, L.rk, RT_K_IP6 "/64") ||
	    tb_addr(r, L.rs, RT_S_IP6 "/64"))
		fail_setup("addresses");
	if (tb_run(k, "ip route add default via %s && ip -6 route add default via %s", RT_K_IP4,
		   RT_K_IP6) ||
	    tb_run(r, "sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1"))
		fail_setup("routes");
	if (!router_rules("iptables", SKIFF_IP4, KERN_IP4, im) ||
	    !router_rules("ip6tables", SKIFF_IP6, KERN_IP6, im))
		fail_setup("iptables rules");
}

/* The router's counters of one family, both directions. */
struct rt_count {
	unsigned long long fwd[2], drop[2], dup[2]; /* [0]: from the kernel, [1]: from skiff */
};

/* Packet counts of the rules of @p chain, in order. */
static int chain_counts(const char *ipt, const char *table, const char *chain,
			unsigned long long *out, int max)
{
	char buf[4096], *line, *save = NULL;
	int n = 0;

	if (tb_capture(L.ns[NS_ROUTER], buf, sizeof(buf), "%s -w -t %s -L %s -v -n -x", ipt, table,
		       chain))
		return -1;
	for (line = strtok_r(buf, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long pk;

		if (sscanf(line, " %llu", &pk) == 1)
			out[n++] = pk;
	}
	return n;
}

static void router_counts(struct rt_count *c)
{
	static const char *const ipt[2] = {"iptables", "ip6tables"};

	memset(c, 0, sizeof(*c));
	for (int f = 0; f < 2; f++) {
		unsigned long long v[4] = {0};

		CU_ASSERT(chain_counts(ipt[f], "filter", "FORWARD", v, 4) == 4);
		for (int d = 0; d < 2; d++) {
			c->fwd[d] += v[d];
			c->drop[d] += v[2 + d];
		}
		if (L.dup && chain_counts(ipt[f], "mangle", "PREROUTING", v, 2) == 2)
			for (int d = 0; d < 2; d++)
				c->dup[d] += v[d];
	}
}

/* The kernel namespace's TCP retransmissions (v4 and v6 share them). */
static unsigned long long kernel_retransmits(void)
{
	char buf[64];

	if (tb_capture(L.ns[NS_KERN], buf, sizeof(buf),
		       "awk '/^Tcp:/ { if (!c) { for (i = 1; i <= NF; i++) "
		       "if ($i == \"RetransSegs\") c = i } else print $c }' /proc/net/snmp"))
		return 0;
	return strtoull(buf, NULL, 10);
}

/* ---- skiff ----------------------------------------------------------------------- */

static void stack_up(void)
{
	st_xsk_up(L.ns[NS_SKIFF], L.sv, skiff_mac, SKIFF_IP4, RT_S_IP4, SKIFF_IP6, RT_S_IP6);
	L.stack = true;
}

static void setup(void)
{
	memset(&L, 0, sizeof(L));
}

static void teardown(void)
{
	if (L.child > 0)
		st_child_wait(L.child, 2000);
	if (L.stack)
		st_stack_down(true);
	tb_enter(NULL);
	for (int i = 0; i < NS_N; i++)
		tb_ns_destroy(L.ns[i]);
	memset(&L, 0, sizeof(L));
}

/* ---- the kernel's end (a child in ns kern) ------------------------------------------ */

struct kjob {
	int family;
	bool client;
};

static int kchild_main(void *arg)
{
	const struct kjob *j = arg;

	if (tb_enter(L.ns[NS_KERN]) != 0)
		return 99;
	if (j->client)
		return st_kernel_two_way_client(j->family, 0, SKIFF_IP4, SKIFF_IP6, PORT, BYTES);
	return st_kernel_two_way_server(j->family, PORT, BYTES);
}

/* ---- the transfers ---------------------------------------------------------------- */

static double pct(unsigned long long part, unsigned long long whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* 64 MiB each way over one connection through the impaired router; the
 * kernel connects when @p kernel_client, else skiff does. */
static void lossy_two_way(const char *tag, int family, bool kernel_client, const struct impair *im)
{
	static struct kjob j;
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	struct rt_count rc;
	unsigned long long k_rexmit0, k_rexmit;
	long long t0;
	double secs;

	router_up(tag, im);
	j = (struct kjob){.family = family, .client = kernel_client};
	/* Fork before the stack exists: the child must not inherit a UMEM. */
	k_rexmit0 = kernel_retransmits();
	L.child = st_child_start(kchild_main, &j);
	CU_ASSERT_FATAL(L.child > 0);
	stack_up();
	t0 = st_now_ms();
	if (kernel_client) {
		int lfd = st_skiff_listen(family, PORT, 8);

		st_child_go();
		st_skiff_two_way_server(lfd, BYTES, false, &mine);
	} else {
		char ready;
		int fd;

		CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
		fd = st_skiff_connect(family, KERN_IP4, KERN_IP6, PORT);
		CU_ASSERT_FATAL(fd >= 0);
		st_skiff_two_way_client(fd, BYTES, &mine);
	}
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 120000));
	TK_ASSERT_EQ(st_child_wait(L.child, 10000), 0);
	L.child = 0;
	secs = (st_now_ms() - t0) / 1000.0;
	st_check_two_way(&mine, &theirs, BYTES);

	skiff_get_stats(&st);
	router_counts(&rc);
	k_rexmit = kernel_retransmits() - k_rexmit0;
	{
		const struct st_xfer *to_skiff = kernel_client ? &mine.up : &mine.down;
		const struct st_xfer *to_kern = kernel_client ? &theirs.down : &theirs.up;
		bool ok = mine.up.bad + mine.down.bad + theirs.up.bad + theirs.down.bad == 0 &&
			  mine.up.bytes == BYTES && mine.down.bytes == BYTES;

		st_note_rate("kernel -> skiff", BYTES, to_skiff->seconds);
		st_note_rate("skiff -> kernel", BYTES, to_kern->seconds);
		tk_note("router: kernel->skiff %llu forwarded, %llu dropped (%.2f%%), %llu "
			"duplicated (%.2f%%); skiff->kernel %llu forwarded, %llu dropped "
			"(%.2f%%), %llu duplicated (%.2f%%)",
			rc.fwd[0], rc.drop[0], pct(rc.drop[0], rc.fwd[0]), rc.dup[0],
			pct(rc.dup[0], rc.fwd[0]), rc.fwd[1], rc.drop[1],
			pct(rc.drop[1], rc.fwd[1]), rc.dup[1], pct(rc.dup[1], rc.fwd[1]));
		tk_note("skiff: %llu retransmits (%llu timeouts, %llu fast, %llu sack), "
			"%llu out of order; kernel: %llu retransmits",
			(unsigned long long)st.tcp_retransmits, (unsigned long long)st.tcp_timeouts,
			(unsigned long long)st.tcp_fast_recoveries,
			(unsigned long long)st.tcp_sack_retransmits,
			(unsigned long long)st.tcp_ooseq, k_rexmit);
		tk_score(
			"%d MiB each way, IPv%d, %s connects, router drops %.2f%% / %.2f%% and "
			"duplicates %.2f%% / %.2f%% (to skiff / to kernel): kernel->skiff %.1f s, "
			"skiff->kernel %.1f s (%.1f s in all), retransmits skiff %llu / kernel %llu, "
			"SHA-256 %s",
			(int)(BYTES / ST_MIB), family == AF_INET ? 4 : 6,
			kernel_client ? "kernel" : "skiff", pct(rc.drop[0], rc.fwd[0]),
			pct(rc.drop[1], rc.fwd[1]), pct(rc.dup[0], rc.fwd[0]),
			pct(rc.dup[1], rc.fwd[1]), to_skiff->seconds, to_kern->seconds, secs,
			(unsigned long long)st.tcp_retransmits, k_rexmit, ok ? "ok" : "MISMATCH");
	}
	/* The impairment really happened, at about the rate asked for. */
	CU_ASSERT(rc.drop[0] > 0 && rc.drop[1] > 0);
	CU_ASSERT(pct(rc.drop[0], rc.fwd[0]) > im->drop * 100 / 2);
	CU_ASSERT(pct(rc.drop[1], rc.fwd[1]) > im->drop * 100 / 2);
	if (L.dup)
		CU_ASSERT(rc.dup[0] > 0 && rc.dup[1] > 0);
	CU_ASSERT(st.tcp_retransmits > 0);
}

static void test_v4_1pct_drop_1pct_dup_kernel_connects(void)
{
	const struct impair im = {.drop = 0.01, .dup = 0.01};

	lossy_two_way("loss1", AF_INET, true, &im);
}

static void test_v6_5pct_drop_1pct_dup_skiff_connects(void)
{
	const struct impair im = {.drop = 0.05, .dup = 0.01};

	lossy_two_way("loss5", AF_INET6, false, &im);
}

static const struct tk_case tests[] = {
	TK_TEST(test_v4_1pct_drop_1pct_dup_kernel_connects),
	TK_TEST(test_v6_5pct_drop_1pct_dup_skiff_connects),
	TK_TEST_END,
};

static const struct tk_suite suite = {"loss", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
