/* libskiff-preload and skiff-run with real, unmodified servers: in a
 * namespace whose veth end has no kernel address, skiff takes 10.96.1.2
 * and the server runs under skiff-run; its standard client runs on the
 * Linux end (10.96.1.1) in the other namespace. iperf3 -s (both
 * directions, bytes and rate), redis-server (redis-benchmark, SET/GET from
 * the peer, the same keys over a Unix socket and loopback of the same
 * server, BGSAVE's fork), and preload_policy (the policy from inside a
 * program). Each skips without its server installed. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_proc.h"
#include "testbed.h"
#include "testkit.h"

#define SKIFF_IP   "10.96.1.2"
#define SKIFF_CIDR SKIFF_IP "/24"

static struct tb_pair pair;

static void teardown(void)
{
	tb_destroy();
}

static bool have(const char *prog)
{
	char p[64];

	snprintf(p, sizeof(p), "/usr/bin/%s", prog);
	return access(p, X_OK) == 0;
}

/* The two namespaces: skiff's end without an address, the peer's
 * 10.96.1.1/24. */
static void testbed_up(const char *tag)
{
	tk_require_privileged();
	CU_ASSERT_FATAL(tb_init("test_preload") == 0);
	tb_private_bpffs();
	CU_ASSERT_FATAL(tb_pair_create(&pair, tag, 1, NULL, "10.96.1.1/24") == 0);
}

/* Starts argv (after "--") under skiff-run in skiff's namespace. */
static void start_on_skiff(struct proc *p, char *const cmd[])
{
	char *argv[32] = {SKIFF_RUN_PATH, "-i", pair.ifname[0], "--ip", SKIFF_CIDR, "--"};
	int n = 6;

	for (int i = 0; cmd[i] && n < 31; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	proc_start(p, pair.ns[0], 0, argv);
}

/* The "receiver" line's rate in Gbit/s (iperf3 -f g), or -1. */
static double receiver_gbps(const char *out, double *gbytes)
{
	const char *l = strstr(out, "receiver");
	double gb, rate;

	while (l && l > out && l[-1] != '\n')
		l--;
	if (!l || sscanf(strstr(l, "sec") + 3, "%lf GBytes %lf", &gb, &rate) != 2)
		return -1;
	*gbytes = gb;
	tk_note("%.*s", (int)strcspn(l, "\n"), l);
	return rate;
}

static void iperf3_run(bool reverse)
{
	char *server[] = {"iperf3", "-s", "-1", "-B", SKIFF_IP, "-p", "5201", "--forceflush", NULL};
	char *client[] = {"iperf3", "-c", SKIFF_IP, "-p", "5201",
			  "-t",	    "3",  "-f",	    "g",  reverse ? "-R" : NULL,
			  NULL};
	struct proc ps, pc;
	double gb = 0, rate;

	if (!have("iperf3"))
		tk_skip("iperf3 is not installed (tests/host/setup.sh installs it)");
	testbed_up(reverse ? "plr" : "pl");
	start_on_skiff(&ps, server);
	if (!proc_wait_for(&ps, "Server listening", 15000)) {
		proc_finish(&ps, 1000);
		proc_show(&ps);
		CU_FAIL_FATAL("iperf3 -s did not come up under skiff-run");
	}
	proc_start(&pc, pair.ns[1], 0, client);
	proc_finish(&pc, 30000);
	proc_expect(&pc, 0, "receiver");
	rate = receiver_gbps(pc.buf, &gb);
	/* 3 s at well over 0.1 Gbit/s: at least 30 MB moved, every byte
	 * counted by both ends. */
	CU_ASSERT(rate > 0.1);
	CU_ASSERT(gb > 0.03);
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, reverse ? "sender" : "receiver");
	proc_done(&pc);
	proc_done(&ps);
	tb_pair_destroy(&pair);
}

static void test_iperf3_server(void)
{
	iperf3_run(false);
}

static void test_iperf3_server_reverse(void)
{
	iperf3_run(true);
}

static void test_redis_server(void)
{
	char sock[64], dir[64], out[4096];
	char *server[] = {"redis-server",
			  "--port",
			  "6379",
			  "--bind",
			  SKIFF_IP,
			  "127.0.0.1",
			  "--save",
			  "",
			  "--appendonly",
			  "no",
			  "--protected-mode",
			  "no",
			  "--unixsocket",
			  sock,
			  "--dir",
			  dir,
			  NULL};
	struct proc ps;

	if (!have("redis-server") || !have("redis-benchmark") || !have("redis-cli"))
		tk_skip("redis-server/redis-tools are not installed (tests/host/setup.sh installs "
			"them)");
	snprintf(sock, sizeof(sock), "/tmp/skiff-preload-%d.sock", (int)getpid());
	snprintf(dir, sizeof(dir), "/tmp/skiff-preload-%d", (int)getpid());
	CU_ASSERT_FATAL(tb_run(NULL, "mkdir -p %s", dir) == 0);
	testbed_up("plredis");
	start_on_skiff(&ps, server);
	if (!proc_wait_for(&ps, "eady to accept", 15000)) {
		proc_finish(&ps, 1000);
		proc_show(&ps);
		CU_FAIL_FATAL("redis-server did not come up under skiff-run");
	}
	/* From the peer, through skiff. */
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "redis-benchmark -h %s -q -n 2000 -t set,get 2>&1 | tr '\\r' '\\n' | "
			     "grep 'requests per second'",
			     SKIFF_IP) == 0);
	CU_ASSERT(strstr(out, "SET:") && strstr(out, "GET:"));
	tk_note("redis-benchmark via skiff: %s", out);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s set viaskiff 1",
			     SKIFF_IP) == 0 &&
		  strstr(out, "OK"));
	/* The same server's kernel sockets: the Unix socket and loopback. */
	CU_ASSERT(tb_capture(pair.ns[0], out, sizeof(out), "redis-cli -s %s set viaunix 2", sock) ==
			  0 &&
		  strstr(out, "OK"));
	CU_ASSERT(tb_capture(pair.ns[0], out, sizeof(out),
			     "redis-cli -h 127.0.0.1 mget viaskiff viaunix") == 0 &&
		  !strcmp(out, "1\n2\n"));
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s mget viaskiff viaunix",
			     SKIFF_IP) == 0 &&
		  !strcmp(out, "1\n2\n"));
	/* BGSAVE forks: the child writes the dump and exits, the parent keeps
	 * its connections. */
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s bgsave", SKIFF_IP) ==
		  0);
	CU_ASSERT(proc_wait_for(&ps, "Background saving terminated with success", 10000));
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "redis-benchmark -h %s -q -n 2000 -t get 2>&1 | tr '\\r' '\\n' | "
			     "grep 'requests per second'",
			     SKIFF_IP) == 0);
	CU_ASSERT(strstr(out, "GET:") != NULL);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s get viaskiff",
			     SKIFF_IP) == 0 &&
		  !strcmp(out, "1\n"));
	kill(ps.pid, SIGTERM);
	proc_finish(&ps, 10000);
	CU_ASSERT(strstr(ps.buf, "skiff-preload") == NULL || strstr(ps.buf, "FAIL") == NULL);
	proc_done(&ps);
	tb_run(NULL, "rm -rf %s %s", dir, sock);
	tb_pair_destroy(&pair);
}

static void test_policy_program(void)
{
	char *prog[] = {PRELOAD_POLICY_PATH, SKIFF_IP, "7001", "7002", NULL};
	char out[256];
	struct proc p;

	testbed_up("plpol");
	start_on_skiff(&p, prog);
	if (!proc_wait_for(&p, "READY", 15000)) {
		proc_finish(&p, 1000);
		proc_show(&p);
		CU_FAIL_FATAL("preload_policy did not get ready");
	}
	/* The loopback listener is the kernel's; skiff's is not. */
	CU_ASSERT(tb_capture(pair.ns[0], out, sizeof(out), "ss -Htln") == 0);
	CU_ASSERT(strstr(out, "127.0.0.1:7002") != NULL);
	CU_ASSERT(strstr(out, ":7001") == NULL);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "timeout 10 bash -c 'exec 3<>/dev/tcp/%s/7001; printf skiff >&3; "
			     "head -c 5 <&3'",
			     SKIFF_IP) == 0);
	CU_ASSERT(!strcmp(out, "SKIFF"));
	proc_finish(&p, 20000);
	proc_expect(&p, 0, "PASS");
	proc_done(&p);
	tb_pair_destroy(&pair);
}

/* The launcher's clear errors. */
static void test_skiff_run_bad_use(void)
{
	if (geteuid() != 0)
		tk_skip("needs root to get past the root check");
	BAD(0, "no interface", SKIFF_RUN_PATH, "--ip", "10.9.9.9/24", "--", "true");
	BAD(0, "no address", SKIFF_RUN_PATH, "-i", "lo", "--", "true");
	BAD(0, "no interface skiffnope0", SKIFF_RUN_PATH, "-i", "skiffnope0", "--ip", "10.9.9.9/24",
	    "--", "true");
	BAD(0, "is not an IPv4 ADDR/PREFIX", SKIFF_RUN_PATH, "-i", "lo", "--ip", "nope", "--",
	    "true");
	BAD(0, "no command to run", SKIFF_RUN_PATH, "-i", "lo", "--ip", "10.9.9.9/24");
	BAD(NOBODY, "needs root", SKIFF_RUN_PATH, "-i", "lo", "--ip", "10.9.9.9/24", "--", "true");
}

static const struct tk_case tests[] = {
	TK_TEST(test_skiff_run_bad_use), TK_TEST(test_policy_program),
	TK_TEST(test_iperf3_server),	 TK_TEST(test_iperf3_server_reverse),
	TK_TEST(test_redis_server),	 TK_TEST_END,
};
static const struct tk_suite suite = {"preload", NULL, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
