/* skiff-echo and skiff-proxy as a user runs them: the built programs as
 * subprocesses. Their embedded defaults pass (over veth, and over memlink
 * without root), iperf3 runs through skiff-proxy, bad use exits 2 with a
 * message, and no namespace, veth or XDP program outlives a run, even one
 * stopped by SIGINT. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_proc.h"
#include "testbed.h"
#include "testkit.h"

static void teardown(void)
{
	tb_destroy();
}

/* ---- embedded defaults --------------------------------------------------- */

static void test_echo_embedded_veth(void)
{
	tk_require_privileged();
	expect_embedded_pass(SKIFF_ECHO_PATH, NULL, 0, "XDP copy mode");
}

static void test_proxy_embedded_veth(void)
{
	tk_require_privileged();
	expect_embedded_pass(SKIFF_PROXY_PATH, NULL, 0, "proxying to 10.99.2.2:7");
}

/* The README's demo: skiff-echo with no argument at all. */
static void test_echo_default_run(void)
{
	char *argv[] = {SKIFF_ECHO_PATH, NULL};
	struct proc p;

	tk_require_privileged();
	proc_run(&p, 0, 110000, argv);
	proc_expect(&p, 0, "verdict: PASS 64 connections x 1000 requests, 0 bad bytes\n");
	assert_nothing_left(p.pid, p.buf);
	proc_done(&p);
}

/* ---- SIGINT mid-run --------------------------------------------------- */

static void interrupted(const char *prog, int signals)
{
	char *argv[] = {(char *)prog, "--requests", "10000000", "--stats", "1", NULL};
	struct proc p;

	tk_require_privileged();
	proc_start(&p, NULL, 0, argv);
	/* Traffic flows: the first line of counters is out. */
	CU_ASSERT(proc_wait_for(&p, "req/s", 30000));
	for (int i = 0; i < signals; i++) {
		kill(p.pid, SIGINT);
		usleep(1000);
	}
	proc_finish(&p, 20000);
	TK_ASSERT_EQ(p.status, signals == 1 ? 1 : 128 + SIGINT);
	if (signals == 1) {
		CU_ASSERT(strstr(p.buf, "verdict: FAIL") != NULL);
		CU_ASSERT(strstr(p.buf, "interrupted") != NULL);
		CU_ASSERT(strstr(p.buf, "totals after") != NULL);
	}
	assert_nothing_left(p.pid, p.buf);
	proc_done(&p);
}

static void test_echo_sigint_leaves_nothing(void)
{
	interrupted(SKIFF_ECHO_PATH, 1);
}

static void test_proxy_sigint_leaves_nothing(void)
{
	interrupted(SKIFF_PROXY_PATH, 1);
}

/* A second Ctrl-C does not wait for the orderly stop, and still cleans up. */
static void test_echo_double_sigint_leaves_nothing(void)
{
	interrupted(SKIFF_ECHO_PATH, 2);
}

/* ---- iperf3 through skiff-proxy -------------------------------------- */

static bool have_iperf3(void)
{
	return access("/usr/bin/iperf3", X_OK) == 0 || access("/bin/iperf3", X_OK) == 0;
}

static void test_iperf3_through_proxy(void)
{
	char cli[TB_NS_NAME_MAX], sk[TB_NS_NAME_MAX], srv[TB_NS_NAME_MAX];
	char i1[IF_NAMESIZE], i2[IF_NAMESIZE], i3[IF_NAMESIZE], i4[IF_NAMESIZE];
	char *server[] = {"iperf3", "-s", "-1", "-p", "5201", "--forceflush", NULL};
	char *proxy[] = {SKIFF_PROXY_PATH, "-i",	i1,   "--ip", "10.97.1.2/24",
			 "--gw",	   "10.97.1.1", "-p", "5201", "--upstream",
			 "10.97.2.2:5201", "--stats",	"1",  NULL};
	char *client[] = {"iperf3", "-c", "10.97.1.2", "-p", "5201", "-t", "5", "-f", "g", NULL};
	struct proc ps, pp, pc;

	tk_require_privileged();
	if (!have_iperf3())
		tk_skip("iperf3 is not installed (tests/host/setup.sh installs it)");
	CU_ASSERT_FATAL(tb_init("test_demos") == 0);
	CU_ASSERT_FATAL(tb_ns_create(cli, sizeof(cli), "client") == 0);
	CU_ASSERT_FATAL(tb_ns_create(sk, sizeof(sk), "skiff") == 0);
	CU_ASSERT_FATAL(tb_ns_create(srv, sizeof(srv), "server") == 0);
	/* skiff's address is its own: none on its end of the link. */
	CU_ASSERT_FATAL(tb_link(sk, i1, NULL, cli, i2, "10.97.1.1/24", "p") == 0);
	CU_ASSERT_FATAL(tb_link(srv, i3, "10.97.2.2/24", cli, i4, "10.97.2.1/24", "u") == 0);
	CU_ASSERT_FATAL(tb_route_via(srv, cli, "10.97.2.1") == 0);

	proc_start(&ps, srv, 0, server);
	CU_ASSERT(proc_wait_for(&ps, "Server listening", 5000));
	proc_start(&pp, sk, 0, proxy);
	if (!proc_wait_for(&pp, "serving", 15000)) {
		proc_finish(&pp, 1000);
		proc_show(&pp);
		CU_FAIL_FATAL("skiff-proxy did not come up");
	}
	proc_start(&pc, cli, 0, client);
	proc_finish(&pc, 30000);
	proc_expect(&pc, 0, "receiver");
	proc_finish(&ps, 5000);
	TK_ASSERT_EQ(ps.status, 0);
	kill(pp.pid, SIGINT);
	proc_finish(&pp, 10000);
	proc_expect(&pp, 0, "totals after");
	/* iperf3's control connection and its data connection. */
	CU_ASSERT(strstr(pp.buf, "connections 2 accepted") != NULL);
	{
		const char *l = strstr(pc.buf, "receiver");

		while (l && l > pc.buf && l[-1] != '\n')
			l--;
		if (l)
			tk_note("iperf3 through skiff-proxy: %.*s", (int)strcspn(l, "\n"), l);
	}
	proc_done(&pc);
	proc_done(&ps);
	tb_destroy();
	assert_nothing_left(getpid(), pp.buf);
	proc_done(&pp);
}

/* ---- bad use ------------------------------------------------------------ */

static void test_bad_interface_queue_address_root(void)
{
	if (geteuid() != 0)
		tk_skip("needs root to get past the root check");
	BAD(0, "unknown interface 'skiffnope0'", SKIFF_ECHO_PATH, "-i", "skiffnope0", "--ip",
	    "10.9.9.9/24");
	BAD(0, "queue 9 out of range: lo has 1 queue", SKIFF_ECHO_PATH, "-i", "lo", "-q", "9",
	    "--ip", "10.9.9.9/24");
	BAD(0, "address 127.0.0.1 already in use", SKIFF_ECHO_PATH, "-i", "lo", "--ip",
	    "127.0.0.1/8");
	BAD(NOBODY, "-i lo needs root", SKIFF_ECHO_PATH, "-i", "lo", "--ip", "10.9.9.9/24");
	BAD(NOBODY, "-i lo needs root", SKIFF_PROXY_PATH, "-i", "lo", "--ip", "10.9.9.9/24",
	    "--upstream", "10.9.9.1:80");
}

/* veth has no zero-copy AF_XDP: forcing it is bad use, and the testbed
 * still goes. */
static void test_forced_zero_copy_on_veth_exits_2(void)
{
	char *argv[] = {SKIFF_ECHO_PATH, "-z", "--conns", "1", "--requests", "1", NULL};
	struct proc p;

	tk_require_privileged();
	proc_run(&p, 0, 30000, argv);
	proc_expect(&p, 2, "hint: without -z");
	CU_ASSERT(strstr(p.buf, "zero-copy") != NULL);
	assert_nothing_left(p.pid, p.buf);
	proc_done(&p);
}

static const struct tk_case tests[] = {
	TK_TEST(test_forced_zero_copy_on_veth_exits_2),
	TK_TEST(test_bad_interface_queue_address_root),
	TK_TEST(test_echo_embedded_veth),
	TK_TEST(test_proxy_embedded_veth),
	TK_TEST(test_echo_default_run),
	TK_TEST(test_echo_sigint_leaves_nothing),
	TK_TEST(test_proxy_sigint_leaves_nothing),
	TK_TEST(test_echo_double_sigint_leaves_nothing),
	TK_TEST(test_iperf3_through_proxy),
	TK_TEST_END,
};

static const struct tk_suite suite = {"demos", NULL, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
