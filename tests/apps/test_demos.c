/* skiff-echo and skiff-proxy as a user runs them: the built programs as
 * subprocesses. Their embedded defaults pass (over veth, and over memlink
 * without root), iperf3 runs through skiff-proxy, bad use exits 2 with a
 * message, and no namespace, veth or XDP program outlives a run, even one
 * stopped by SIGINT. With --mptcp they speak MPTCP to Linux MPTCP peers. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
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

/* Whether sig is still pending for pid (sent, not yet handled). */
static bool pending(pid_t pid, int sig)
{
	char path[64], line[256];
	bool found = false, on = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;

		if ((strncmp(line, "ShdPnd:", 7) == 0 || strncmp(line, "SigPnd:", 7) == 0) &&
		    sscanf(line + 7, "%llx", &mask) == 1) {
			found = true;
			on = on || (mask & (1ULL << (sig - 1)));
		}
	}
	fclose(f);
	return found && on;
}

/* One run stopped by `signals` SIGINTs; returns its exit status. The second
 * is sent as soon as the first has been taken (not pending any more), so
 * that it lands during the orderly stop. */
static int interrupted_once(const char *prog, int signals)
{
	char *argv[] = {(char *)prog, "--requests", "10000000", "--stats", "1", NULL};
	struct proc p;
	int status;

	proc_start(&p, NULL, 0, argv);
	/* Traffic flows: the first line of counters is out. */
	CU_ASSERT(proc_wait_for(&p, "req/s", 30000));
	for (int i = 0; i < signals; i++) {
		kill(p.pid, SIGINT);
		for (int k = 0; k < 10000 && pending(p.pid, SIGINT); k++)
			usleep(50);
	}
	proc_finish(&p, 20000);
	status = p.status;
	if (signals == 1 || status == 1) {
		CU_ASSERT(strstr(p.buf, "verdict: FAIL") != NULL);
		CU_ASSERT(strstr(p.buf, "interrupted") != NULL);
		CU_ASSERT(strstr(p.buf, "totals after") != NULL);
	}
	assert_nothing_left(p.pid, p.buf);
	proc_done(&p);
	return status;
}

static void interrupted(const char *prog, int signals)
{
	int status;

	tk_require_privileged();
	if (signals == 1) {
		TK_ASSERT_EQ(interrupted_once(prog, 1), 1);
		return;
	}
	/* On a loaded machine the orderly stop can still finish before the
	 * second signal comes: a clean exit 1 then, and another try. */
	for (int tries = 0; tries < 3; tries++) {
		status = interrupted_once(prog, signals);
		if (status != 1)
			break;
		fprintf(stderr, "note: the orderly stop ended before the second SIGINT; again\n");
	}
	TK_ASSERT_EQ(status, 128 + SIGINT);
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
	proc_wait_up(&pp, "serving", 15000, "skiff-proxy");
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

/* ---- --mptcp with Linux MPTCP peers ------------------------------------- */

/* A Linux MPTCP client (IPPROTO_MPTCP, 262): sends N random bytes while
 * reading the echo, then asks its socket for MPTCP_INFO, which Linux
 * answers only while the connection is MPTCP (a fallback fails). */
static const char mptcp_client_py[] =
	"import os, socket, struct, sys, threading\n"
	"host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
	"s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n"
	"s.settimeout(30)\n"
	"s.connect((host, port))\n"
	"data = os.urandom(n)\n"
	"def send():\n"
	"    s.sendall(data)\n"
	"    s.shutdown(socket.SHUT_WR)\n"
	"t = threading.Thread(target=send)\n"
	"t.start()\n"
	"got = bytearray()\n"
	"while True:\n"
	"    b = s.recv(65536)\n"
	"    if not b:\n"
	"        break\n"
	"    got += b\n"
	"t.join()\n"
	"info = s.getsockopt(284, 1, 96)\n"
	"print('echoed %d of %d bytes, equal %s, MPTCP token %08x' % (len(got), n, bytes(got) == "
	"data, struct.unpack_from('<I', info, 12)[0]))\n";

/* A Linux MPTCP echo server for one connection (skiff-proxy's upstream). */
static const char mptcp_server_py[] = "import socket, sys\n"
				      "l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n"
				      "l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
				      "l.bind(('0.0.0.0', int(sys.argv[1])))\n"
				      "l.listen(1)\n"
				      "print('listening', flush=True)\n"
				      "c, _ = l.accept()\n"
				      "while True:\n"
				      "    b = c.recv(65536)\n"
				      "    if not b:\n"
				      "        break\n"
				      "    c.sendall(b)\n"
				      "c.getsockopt(284, 1, 96)\n"
				      "print('server: MPTCP to the end', flush=True)\n"
				      "c.close()\n";

/* One MPTcpExt counter of namespace @p ns. */
static unsigned long long mptcp_counter(const char *ns, const char *name)
{
	char out[4096], *at;

	if (tb_capture(ns, out, sizeof(out), "nstat -az %s", name) != 0)
		return ~0ull;
	at = strstr(out, name);
	return at ? strtoull(at + strlen(name), NULL, 10) : ~0ull;
}

static void mptcp_client_run(const char *ns, const char *host, const char *port)
{
	char *argv[] = {"python3", "-c", (char *)mptcp_client_py, (char *)host, (char *)port,
			"4194304", NULL};
	struct proc p;

	proc_start(&p, ns, 0, argv);
	proc_finish(&p, 60000);
	proc_expect(&p, 0, "echoed 4194304 of 4194304 bytes, equal True, MPTCP token");
	tk_note("Linux client: %.*s", (int)strcspn(p.buf, "\n"), p.buf);
	proc_done(&p);
}

/* skiff-echo --mptcp: a Linux MPTCP client's 4 MiB come back, and both
 * ends count an MP_CAPABLE handshake that held (no fallback). */
static void test_echo_mptcp_linux_client(void)
{
	char cli[TB_NS_NAME_MAX], sk[TB_NS_NAME_MAX], i1[IF_NAMESIZE], i2[IF_NAMESIZE];
	char *echo[] = {SKIFF_ECHO_PATH, "-i",	    i1,	 "--ip", "10.95.1.2/24", "-p", "7007",
			"--mptcp",	 "--stats", "0", NULL};
	struct proc pe;

	tk_require_privileged();
	CU_ASSERT_FATAL(tb_init("test_demos") == 0);
	CU_ASSERT_FATAL(tb_ns_create(cli, sizeof(cli), "client") == 0);
	CU_ASSERT_FATAL(tb_ns_create(sk, sizeof(sk), "skiff") == 0);
	CU_ASSERT_FATAL(tb_link(sk, i1, NULL, cli, i2, "10.95.1.1/24", "m") == 0);
	if (tb_run(cli, "sysctl -q -w net.mptcp.enabled=1") != 0)
		tk_skip("no MPTCP in this kernel (net.mptcp.enabled)");
	proc_start(&pe, sk, 0, echo);
	proc_wait_up(&pe, "serving", 15000, "skiff-echo --mptcp");
	CU_ASSERT(strstr(pe.buf, "(TCP echo, MPTCP)") != NULL);
	mptcp_client_run(cli, "10.95.1.2", "7007");
	TK_ASSERT_EQ(mptcp_counter(cli, "MPTcpExtMPCapableSYNACKRX"), 1);
	TK_ASSERT_EQ(mptcp_counter(cli, "MPTcpExtMPCapableFallbackSYNACK"), 0);
	TK_ASSERT_EQ(mptcp_counter(cli, "MPTcpExtMPCapableFallbackACK"), 0);
	TK_ASSERT_EQ(mptcp_counter(cli, "MPTcpExtDSSNotMatching"), 0);
	kill(pe.pid, SIGINT);
	proc_finish(&pe, 10000);
	proc_expect(&pe, 0,
		    "  mptcp       1 accepted as MPTCP, 0 opened upstream as MPTCP; fell "
		    "back: 0 declined, 0 SYN-ACK, 0 third ACK; 0 MP_CAPABLE SYNs");
	tb_destroy();
	assert_nothing_left(getpid(), pe.buf);
	proc_done(&pe);
}

/* A Linux client, skiff and a Linux server, each in a namespace of its
 * own (@p cli, @p sk, @p srv): skiff's link to the client's namespace
 * (if_[0] at skiff, if_[1] 10.95.P.1/24 at the client), the server's to
 * it (if_[2] 10.95.U.2/24, if_[3] 10.95.U.1/24), the client's namespace
 * routing between them; MPTCP on in both Linux namespaces (the test is
 * skipped without it). */
static void proxy_mptcp_nets(char *cli, char *sk, char *srv, char *if_[4], unsigned p, unsigned u)
{
	char a[32], b[32], c[32];

	snprintf(a, sizeof(a), "10.95.%u.1/24", p);
	snprintf(b, sizeof(b), "10.95.%u.2/24", u);
	snprintf(c, sizeof(c), "10.95.%u.1/24", u);
	tk_require_privileged();
	CU_ASSERT_FATAL(tb_init("test_demos") == 0);
	CU_ASSERT_FATAL(tb_ns_create(cli, TB_NS_NAME_MAX, "client") == 0);
	CU_ASSERT_FATAL(tb_ns_create(sk, TB_NS_NAME_MAX, "skiff") == 0);
	CU_ASSERT_FATAL(tb_ns_create(srv, TB_NS_NAME_MAX, "server") == 0);
	CU_ASSERT_FATAL(tb_link(sk, if_[0], NULL, cli, if_[1], a, "p") == 0);
	CU_ASSERT_FATAL(tb_link(srv, if_[2], b, cli, if_[3], c, "u") == 0);
	c[strlen(c) - 3] = '\0'; /* the gateway: 10.95.U.1 */
	CU_ASSERT_FATAL(tb_route_via(srv, cli, c) == 0);
	if (tb_run(cli, "sysctl -q -w net.mptcp.enabled=1") != 0 ||
	    tb_run(srv, "sysctl -q -w net.mptcp.enabled=1") != 0)
		tk_skip("no MPTCP in this kernel (net.mptcp.enabled)");
}

/* skiff-proxy --mptcp between a Linux MPTCP client and a Linux MPTCP echo
 * server: MPTCP on both of skiff's connections, 4 MiB through and back. */
static void test_proxy_mptcp_linux_both_sides(void)
{
	char cli[TB_NS_NAME_MAX], sk[TB_NS_NAME_MAX], srv[TB_NS_NAME_MAX];
	char i1[IF_NAMESIZE], i2[IF_NAMESIZE], i3[IF_NAMESIZE], i4[IF_NAMESIZE];
	char *server[] = {"python3", "-c", (char *)mptcp_server_py, "7008", NULL};
	char *proxy[] = {SKIFF_PROXY_PATH, "-i",	i1,	   "--ip", "10.95.3.2/24",
			 "--gw",	   "10.95.3.1", "-p",	   "7009", "--upstream",
			 "10.95.4.2:7008", "--mptcp",	"--stats", "0",	   NULL};
	struct proc ps, pp;

	proxy_mptcp_nets(cli, sk, srv, (char *[]){i1, i2, i3, i4}, 3, 4);
	proc_start(&ps, srv, 0, server);
	CU_ASSERT_FATAL(proc_wait_for(&ps, "listening", 5000));
	proc_start(&pp, sk, 0, proxy);
	proc_wait_up(&pp, "serving", 15000, "skiff-proxy --mptcp");
	mptcp_client_run(cli, "10.95.3.2", "7009");
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, "server: MPTCP to the end");
	/* The client's namespace routes too: its counters are the client's
	 * connection to skiff; the server's are skiff's upstream one. */
	TK_ASSERT_EQ(mptcp_counter(cli, "MPTcpExtMPCapableSYNACKRX"), 1);
	TK_ASSERT_EQ(mptcp_counter(cli, "MPTcpExtMPCapableFallbackSYNACK"), 0);
	TK_ASSERT_EQ(mptcp_counter(srv, "MPTcpExtMPCapableSYNRX"), 1);
	TK_ASSERT_EQ(mptcp_counter(srv, "MPTcpExtMPCapableACKRX"), 1);
	TK_ASSERT_EQ(mptcp_counter(srv, "MPTcpExtMPCapableFallbackACK"), 0);
	kill(pp.pid, SIGINT);
	proc_finish(&pp, 10000);
	proc_expect(&pp, 0,
		    "  mptcp       1 accepted as MPTCP, 1 opened upstream as MPTCP; fell "
		    "back: 0 declined, 0 SYN-ACK, 0 third ACK");
	proc_done(&ps);
	tb_destroy();
	assert_nothing_left(getpid(), pp.buf);
	proc_done(&pp);
}

/* Bytes interface @p ifname of namespace @p ns received and sent. */
static unsigned long long link_bytes(const char *ns, const char *ifname)
{
	char out[128];
	unsigned long long rx = 0, tx = 0;

	if (tb_capture(
		    ns, out, sizeof(out),
		    "cat /sys/class/net/%s/statistics/rx_bytes /sys/class/net/%s/statistics/tx_bytes",
		    ifname, ifname) != 0 ||
	    sscanf(out, "%llu %llu", &rx, &tx) != 2)
		CU_FAIL("reading the link's byte counters");
	return rx + tx;
}

/* skiff-proxy --mptcp on two uplinks (issue #18: a multihomed client):
 * the second port, `--also IFACE=ADDR/PREFIX,gw=GW,subflow`, opens a join
 * from its address to the upstream Linux server, which announces nothing
 * (Linux's `subflow` endpoint on skiff's side). The server counts the
 * join taken, and the second uplink carries part of the 4 MiB. */
static void test_proxy_mptcp_upstream_two_uplinks(void)
{
	char cli[TB_NS_NAME_MAX], sk[TB_NS_NAME_MAX], srv[TB_NS_NAME_MAX];
	char i1[IF_NAMESIZE], i2[IF_NAMESIZE], i3[IF_NAMESIZE], i4[IF_NAMESIZE];
	char i5[IF_NAMESIZE], i6[IF_NAMESIZE], also[64];
	char *server[] = {"python3", "-c", (char *)mptcp_server_py, "7010", NULL};
	char *proxy[] = {
		SKIFF_PROXY_PATH, "-i", i1,   "--ip", "10.95.6.2/24", "--gw",		"10.95.6.1",
		"--also",	  also, "-p", "7011", "--upstream",   "10.95.7.2:7010", "--mptcp",
		"--stats",	  "0",	NULL};
	unsigned long long b0, b1;
	struct proc ps, pp;

	proxy_mptcp_nets(cli, sk, srv, (char *[]){i1, i2, i3, i4}, 6, 7);
	CU_ASSERT_FATAL(tb_link(sk, i5, NULL, cli, i6, "10.95.8.1/24", "q") == 0);
	snprintf(also, sizeof(also), "%s=10.95.8.2/24,gw=10.95.8.1,subflow", i5);
	CU_ASSERT_FATAL(tb_run(srv, "ip mptcp limits set subflows 1") == 0);
	proc_start(&ps, srv, 0, server);
	CU_ASSERT_FATAL(proc_wait_for(&ps, "listening", 5000));
	proc_start(&pp, sk, 0, proxy);
	proc_wait_up(&pp, "serving", 15000, "skiff-proxy --mptcp --also ...,subflow");
	b0 = link_bytes(cli, i6);
	mptcp_client_run(cli, "10.95.6.2", "7011");
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, "server: MPTCP to the end");
	b1 = link_bytes(cli, i6);
	tk_note("the server took %llu joins (MP_JOIN SYNs %llu); skiff's second uplink carried "
		"%llu bytes both ways",
		mptcp_counter(srv, "MPTcpExtMPJoinAckRx"),
		mptcp_counter(srv, "MPTcpExtMPJoinSynRx"), b1 - b0);
	TK_ASSERT_EQ(mptcp_counter(srv, "MPTcpExtMPJoinSynRx"), 1);
	TK_ASSERT_EQ(mptcp_counter(srv, "MPTcpExtMPJoinAckRx"), 1);
	TK_ASSERT_EQ(mptcp_counter(srv, "MPTcpExtAddAddr"), 0); /* nothing was announced */
	/* Data on the join, one way or the other (which way is the
	 * schedulers' choice: both ends send on the lowest RTT with room). */
	CU_ASSERT(b1 - b0 > 64 * 1024);
	kill(pp.pid, SIGINT);
	proc_finish(&pp, 10000);
	proc_expect(&pp, 0, "1 opened upstream as MPTCP");
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
	TK_TEST(test_echo_mptcp_linux_client),
	TK_TEST(test_proxy_mptcp_linux_both_sides),
	TK_TEST(test_proxy_mptcp_upstream_two_uplinks),
	TK_TEST_END,
};

static const struct tk_suite suite = {"demos", NULL, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
