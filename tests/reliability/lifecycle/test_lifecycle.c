/* How skiff-echo and skiff-proxy end, as a user's server ends: killed with
 * SIGKILL under load at random moments (the next start on the same
 * interface serves at once, and nothing stays on the interface), and
 * stopped by SIGINT or SIGTERM under full load (out within 1 s, totals
 * printed, every frame accounted for). Linux TCP clients drive the load
 * from a peer namespace. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo_proc.h"
#include "loadgen.h"
#include "socktab.h"
#include "testbed.h"
#include "testkit.h"

#define SKIFF_IP  "10.96.1.2"
#define CLIENT_IP "10.96.1.1"
#define KILLS	  20

static struct {
	char cli[TB_NS_NAME_MAX], sk[TB_NS_NAME_MAX];
	char if_sk[IF_NAMESIZE], if_cli[IF_NAMESIZE];
} env;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void teardown(void)
{
	tb_destroy();
}

static void net_up(void)
{
	tk_require_privileged();
	CU_ASSERT_FATAL(tb_init("test_lifecycle") == 0);
	CU_ASSERT_FATAL(tb_ns_create(env.cli, sizeof(env.cli), "client") == 0);
	CU_ASSERT_FATAL(tb_ns_create(env.sk, sizeof(env.sk), "skiff") == 0);
	/* skiff's address is its own: none on its end of the link. */
	CU_ASSERT_FATAL(
		tb_link(env.sk, env.if_sk, NULL, env.cli, env.if_cli, CLIENT_IP "/24", "l") == 0);
}

/* ---- load from the client namespace -------------------------------------- */

struct load {
	pid_t pid;
	int fd; /* the child's struct lg_result */
};

/* Starts Linux TCP clients against SKIFF_IP:@p port in a child: @p conns
 * connections x @p requests requests of @p min .. @p max bytes. */
static void load_start(struct load *l, uint16_t port, unsigned conns, unsigned requests,
		       uint32_t min, uint32_t max)
{
	int fds[2];

	CU_ASSERT_FATAL(pipe(fds) == 0);
	l->pid = fork();
	CU_ASSERT_FATAL(l->pid >= 0);
	if (l->pid == 0) {
		struct sockaddr_in *a;
		struct lg_config c;
		struct lg_result r;

		close(fds[0]);
		if (tb_enter(env.cli) != 0)
			_exit(3);
		memset(&c, 0, sizeof(c));
		a = (struct sockaddr_in *)&c.dst;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, SKIFF_IP, &a->sin_addr);
		c.dst_len = sizeof(*a);
		c.conns = conns;
		c.requests = requests;
		c.min_size = min;
		c.max_size = max;
		c.stall_ms = 5000;
		lg_config_defaults(&c);
		memset(&r, 0, sizeof(r));
		lg_run(&c, &socktab_kernel, &r);
		(void)!write(fds[1], &r, sizeof(r));
		_exit(lg_passed(&r) ? 0 : 1);
	}
	close(fds[1]);
	l->fd = fds[0];
}

/* Waits for the load (killing it first if @p kill_it); true when it passed. */
static bool load_finish(struct load *l, bool kill_it, struct lg_result *r)
{
	int status;
	bool got;

	if (kill_it)
		kill(l->pid, SIGKILL);
	memset(r, 0, sizeof(*r));
	got = read(l->fd, r, sizeof(*r)) == (ssize_t)sizeof(*r);
	close(l->fd);
	CU_ASSERT(waitpid(l->pid, &status, 0) == l->pid);
	return got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A short verified exchange: the server on the interface serves. */
static void assert_serves(uint16_t port)
{
	struct lg_result r;
	struct load l;

	load_start(&l, port, 4, 50, 1, 4096);
	if (!load_finish(&l, false, &r))
		tk_note("short load failed: %s", r.first_error);
	CU_ASSERT(lg_passed(&r));
}

static void start_echo(struct proc *p)
{
	char *argv[] = {SKIFF_ECHO_PATH, "-i",	    env.if_sk, "--ip",
			SKIFF_IP "/24",	 "--stats", "1",       NULL};

	proc_start(p, env.sk, 0, argv);
	if (!proc_wait_for(p, "serving", 15000)) {
		proc_finish(p, 1000);
		proc_show(p);
		CU_FAIL_FATAL("skiff-echo did not come up");
	}
}

static bool xdp_on_interface(void)
{
	char out[4096];

	CU_ASSERT(tb_capture(env.sk, out, sizeof(out), "ip -d link show dev %s", env.if_sk) == 0);
	return strstr(out, "prog/xdp") || strstr(out, " xdp");
}

/* ---- kill -9 ------------------------------------------------------------- */

static void test_kill_9_under_load_then_restart(void)
{
	unsigned served = 0;
	long long worst = 0;
	struct proc p;

	net_up();
	srand((unsigned)getpid());
	for (int i = 0; i < KILLS; i++) {
		long long t0 = now_ms();
		struct lg_result r;
		struct load l;
		int delay_ms;

		start_echo(&p);
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		assert_serves(7);
		served++;
		load_start(&l, 7, 16, 1000000, 1, 16384);
		delay_ms = 20 + rand() % 500;
		usleep((useconds_t)delay_ms * 1000);
		kill(p.pid, SIGKILL);
		proc_finish(&p, 5000);
		TK_ASSERT_EQ(p.status, 128 + SIGKILL);
		load_finish(&l, true, &r);
		proc_done(&p);
	}
	/* The last kill, too, is followed by a start that serves. */
	start_echo(&p);
	assert_serves(7);
	served++;
	kill(p.pid, SIGINT);
	proc_finish(&p, 5000);
	proc_expect(&p, 0, "totals after");
	proc_done(&p);
	CU_ASSERT(!xdp_on_interface());
	tk_note("%d kills under load; %u starts served (slowest start to serving %lld ms)", KILLS,
		served, worst);
	tk_score("%d kill -9 under load, each restart served; slowest start %lld ms", KILLS, worst);
}

/* ---- stop under load ----------------------------------------------------- */

/* Bulk both ways (4 connections echoing 1 MiB messages) and 64 echo
 * connections; then @p sig. The server is out within 1 s with its totals
 * and every frame back. */
static void stop_under_load(int sig)
{
	struct load bulk, small;
	struct lg_result r;
	long long t0, ms;
	struct proc p;

	net_up();
	start_echo(&p);
	load_start(&bulk, 7, 4, 1000000, 1 << 20, 1 << 20);
	load_start(&small, 7, 64, 1000000, 1, 16384);
	/* Two lines of counters: the load is on. */
	CU_ASSERT(proc_wait_for(&p, "req/s", 10000));
	CU_ASSERT(proc_wait_for(&p, "req/s", 10000));
	usleep(500000);
	t0 = now_ms();
	kill(p.pid, sig);
	proc_finish(&p, 10000);
	ms = now_ms() - t0;
	load_finish(&bulk, true, &r);
	load_finish(&small, true, &r);
	proc_expect(&p, 0, "totals after");
	CU_ASSERT(strstr(p.buf, "still live at fini") == NULL);
	CU_ASSERT(strstr(p.buf, "frames all returned") != NULL);
	tk_note("%s under load: exited in %lld ms", strsignal(sig), ms);
	if (getenv("SKIFF_TEST_SHOW"))
		proc_show(&p);
	CU_ASSERT(ms < 1000);
	tk_score("%s under bulk + 64 connections: out in %lld ms",
		 sig == SIGINT ? "SIGINT" : "SIGTERM", ms);
	if (ms >= 1000)
		proc_show(&p);
	CU_ASSERT(!xdp_on_interface());
	proc_done(&p);
}

static void test_sigint_under_load_within_1s(void)
{
	stop_under_load(SIGINT);
}

static void test_sigterm_under_load_within_1s(void)
{
	stop_under_load(SIGTERM);
}

/* The case a user reported: skiff-proxy carrying iperf3 -P 4 --bidir to a
 * Linux iperf3 server, stopped by SIGINT mid-transfer. */
static void test_proxy_sigint_under_iperf3_bidir(void)
{
	char srv[TB_NS_NAME_MAX], i3[IF_NAMESIZE], i4[IF_NAMESIZE];
	char *server[] = {"iperf3", "-s", "-p", "5201", "--forceflush", NULL};
	char *proxy[] = {SKIFF_PROXY_PATH, "-i",      env.if_sk, "--ip", SKIFF_IP "/24",
			 "--gw",	   CLIENT_IP, "-p",	 "5201", "--upstream",
			 "10.96.2.2:5201", "--stats", "1",	 NULL};
	char *client[] = {"iperf3", "-c", SKIFF_IP, "-p",      "5201", "-t",
			  "30",	    "-P", "4",	    "--bidir", NULL};
	struct proc ps, pp, pc;
	long long t0, ms;

	if (access("/usr/bin/iperf3", X_OK) != 0)
		tk_skip("iperf3 is not installed (tests/host/setup.sh installs it)");
	net_up();
	CU_ASSERT_FATAL(tb_ns_create(srv, sizeof(srv), "server") == 0);
	CU_ASSERT_FATAL(tb_link(srv, i3, "10.96.2.2/24", env.cli, i4, "10.96.2.1/24", "u") == 0);
	CU_ASSERT_FATAL(tb_route_via(srv, env.cli, "10.96.2.1") == 0);
	proc_start(&ps, srv, 0, server);
	CU_ASSERT(proc_wait_for(&ps, "Server listening", 5000));
	proc_start(&pp, env.sk, 0, proxy);
	if (!proc_wait_for(&pp, "serving", 15000)) {
		proc_finish(&pp, 1000);
		proc_show(&pp);
		CU_FAIL_FATAL("skiff-proxy did not come up");
	}
	proc_start(&pc, env.cli, 0, client);
	/* Two lines of counters with the transfer on. */
	CU_ASSERT(proc_wait_for(&pc, "[SUM]", 10000));
	CU_ASSERT(proc_wait_for(&pp, "Gbit/s", 5000));
	CU_ASSERT(proc_wait_for(&pp, "Gbit/s", 5000));
	t0 = now_ms();
	kill(pp.pid, SIGINT);
	proc_finish(&pp, 10000);
	ms = now_ms() - t0;
	kill(pc.pid, SIGKILL);
	kill(ps.pid, SIGKILL);
	proc_finish(&pc, 5000);
	proc_finish(&ps, 5000);
	proc_expect(&pp, 0, "totals after");
	CU_ASSERT(strstr(pp.buf, "frames all returned") != NULL);
	tk_note("skiff-proxy under iperf3 -P 4 --bidir: SIGINT to exit %lld ms", ms);
	CU_ASSERT(ms < 1000);
	if (ms >= 1000 || getenv("SKIFF_TEST_SHOW"))
		proc_show(&pp);
	tk_score("skiff-proxy, SIGINT under iperf3 -P 4 --bidir: out in %lld ms", ms);
	CU_ASSERT(!xdp_on_interface());
	proc_done(&pc);
	proc_done(&ps);
	proc_done(&pp);
}

static const struct tk_case tests[] = {
	TK_TEST(test_kill_9_under_load_then_restart),
	TK_TEST(test_sigint_under_load_within_1s),
	TK_TEST(test_sigterm_under_load_within_1s),
	TK_TEST(test_proxy_sigint_under_iperf3_bidir),
	TK_TEST_END,
};

static const struct tk_suite suite = {"lifecycle", NULL, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
