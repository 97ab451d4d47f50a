/* apps/common/testbed.c with the load generator and the echo server over
 * it, against Linux's own TCP (no skiff): the topologies the demos build
 * carry verified traffic, the helpers the tests use work, and nothing is
 * left behind after a teardown, an exit, a signal or a crash. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "echo_server.h"
#include "loadgen.h"
#include "report.h"
#include "testbed.h"
#include "testkit.h"

#define PORT 7

/* A Linux echo server on PORT, in a child of tb_spawn(). */
static int echo_child(void *arg)
{
	struct echo_config ec = {.ops = &socktab_kernel, .port = PORT, .ipv4 = true};
	struct echo_server *e;
	int rc = echo_server_open(&e, &ec);

	(void)arg;
	if (rc) {
		fprintf(stderr, "echo child: %s\n", strerror(-rc));
		return 1;
	}
	return echo_server_run(e, NULL) ? 1 : 0;
}

static struct lg_result load(const char *from_ns, const char *to, unsigned conns)
{
	struct sockaddr_in *a;
	struct lg_config cfg;
	struct lg_result r;

	memset(&cfg, 0, sizeof(cfg));
	a = (struct sockaddr_in *)&cfg.dst;
	a->sin_family = AF_INET;
	a->sin_port = htons(PORT);
	CU_ASSERT_FATAL(inet_pton(AF_INET, to, &a->sin_addr) == 1);
	cfg.dst_len = sizeof(*a);
	cfg.conns = conns;
	cfg.requests = 200;
	cfg.stall_ms = 5000;
	CU_ASSERT_FATAL(tb_enter(from_ns) == 0);
	/* The server may still be on its way up: one connection probes. */
	for (int i = 0; i < 50; i++) {
		struct lg_config probe = cfg;

		probe.conns = 1;
		probe.requests = 1;
		if (lg_run(&probe, &socktab_kernel, &r) == 0)
			break;
		usleep(20000);
	}
	lg_run(&cfg, &socktab_kernel, &r);
	CU_ASSERT(tb_enter(NULL) == 0);
	if (!lg_passed(&r))
		report_load(stderr, "load", &r);
	return r;
}

static void setup(void)
{
	tk_require_privileged();
	CU_ASSERT_FATAL(tb_init("test_testbed") == 0);
}

static void teardown(void)
{
	tb_destroy();
	TK_ASSERT_EQ(tb_leftover_namespaces(getpid()), 0);
	TK_ASSERT_EQ(tb_leftover_links(getpid()), 0);
}

/* skiff-echo's topology: two namespaces, one veth. */
static void test_pair_carries_verified_load(void)
{
	char a[TB_NS_NAME_MAX], b[TB_NS_NAME_MAX], ia[IF_NAMESIZE], ib[IF_NAMESIZE];
	struct lg_result r;

	CU_ASSERT_FATAL(tb_ns_create(a, sizeof(a), "srv") == 0);
	CU_ASSERT_FATAL(tb_ns_create(b, sizeof(b), "cli") == 0);
	TK_ASSERT_EQ(tb_leftover_namespaces(getpid()), 2);
	TK_ASSERT_EQ(tb_ns_create(a, sizeof(a), "srv"), -EEXIST);
	CU_ASSERT_FATAL(tb_link(a, ia, "10.98.0.2/24", b, ib, "10.98.0.1/24", "e") == 0);
	CU_ASSERT_FATAL(tb_spawn(a, echo_child, NULL) > 0);
	r = load(b, "10.98.0.2", 16);
	CU_ASSERT(lg_passed(&r));
	TK_ASSERT_EQ(r.requests_done, 16 * 200);
}

/* skiff-proxy's topology: client namespace routing between the proxy's
 * link and the server's. Here the "proxy" namespace is a plain router. */
static void test_routed_three_namespaces(void)
{
	char cli[TB_NS_NAME_MAX], mid[TB_NS_NAME_MAX], srv[TB_NS_NAME_MAX];
	char i1[IF_NAMESIZE], i2[IF_NAMESIZE], i3[IF_NAMESIZE], i4[IF_NAMESIZE];
	struct lg_result r;

	CU_ASSERT_FATAL(tb_ns_create(cli, sizeof(cli), "client") == 0);
	CU_ASSERT_FATAL(tb_ns_create(mid, sizeof(mid), "mid") == 0);
	CU_ASSERT_FATAL(tb_ns_create(srv, sizeof(srv), "server") == 0);
	CU_ASSERT_FATAL(tb_link(mid, i1, "10.98.1.2/24", cli, i2, "10.98.1.1/24", "p") == 0);
	CU_ASSERT_FATAL(tb_link(srv, i3, "10.98.2.2/24", cli, i4, "10.98.2.1/24", "u") == 0);
	CU_ASSERT_FATAL(tb_route_via(srv, cli, "10.98.2.1") == 0);
	CU_ASSERT_FATAL(tb_route_via(mid, cli, "10.98.1.1") == 0);
	CU_ASSERT_FATAL(tb_spawn(srv, echo_child, NULL) > 0);
	/* From the middle namespace through the router to the server. */
	r = load(mid, "10.98.2.2", 8);
	CU_ASSERT(lg_passed(&r));
}

/* The tests' helpers: a pair with addresses, commands and sockets inside. */
static void test_pair_helpers(void)
{
	char out[4096], ifname[IF_NAMESIZE];
	struct tb_pair p;
	uint8_t mac[6];
	int s;

	CU_ASSERT_FATAL(tb_pair_create(&p, "pair", 2, "10.98.3.1/24", "10.98.3.2/24") == 0);
	TK_ASSERT_EQ(tb_leftover_namespaces(getpid()), 2);
	TK_ASSERT_EQ(tb_capture(p.ns[1], out, sizeof(out), "ip -o addr show dev %s", p.ifname[1]),
		     0);
	CU_ASSERT(strstr(out, "10.98.3.2/24") != NULL);
	TK_ASSERT_EQ(tb_run(p.ns[0], "ping -q -c 1 -W 2 10.98.3.2 >/dev/null"), 0);
	TK_ASSERT_EQ(tb_run(NULL, "exit 3"), 3);
	CU_ASSERT(tb_ifindex(p.ns[0], p.ifname[0]) > 0);
	TK_ASSERT_EQ(tb_ifindex(p.ns[0], p.ifname[1]), -ENODEV);
	TK_ASSERT_EQ(tb_mac(p.ns[1], p.ifname[1], mac), 0);
	s = tb_socket(p.ns[1], AF_INET, SOCK_DGRAM, 0);
	CU_ASSERT(s >= 0);
	if (s >= 0)
		close(s);
	memcpy(ifname, p.ifname[0], sizeof(ifname));
	CU_ASSERT_FATAL(tb_enter(p.ns[0]) == 0);
	CU_ASSERT(if_nametoindex(ifname) > 0);
	/* Leaves the namespace it deletes. */
	tb_pair_destroy(&p);
	TK_ASSERT_EQ(if_nametoindex(ifname), 0);
	TK_ASSERT_EQ(tb_leftover_namespaces(getpid()), 0);
}

/* Forks a run that builds a testbed (two namespaces, a two-queue veth, an
 * echo server), then ends as @p how says: exit(0), or that signal.
 * Returns its pid, reaped, its wait status in @p status. */
static pid_t run_child(int how, int *status)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char a[TB_NS_NAME_MAX], b[TB_NS_NAME_MAX], ia[IF_NAMESIZE], ib[IF_NAMESIZE];

		tb_init("child");
		if (tb_ns_create(a, sizeof(a), "x") || tb_ns_create(b, sizeof(b), "y") ||
		    tb_veth(a, ia, b, ib, "x", 2) || tb_spawn(a, echo_child, NULL) < 0)
			_exit(3);
		if (how == 0)
			exit(0);
		raise(how);
		_exit(4);
	}
	CU_ASSERT_FATAL(waitpid(pid, status, 0) == pid);
	return pid;
}

/* True when wait status @p status says the run ended as @p how asked. */
static bool ended_as(int status, int how)
{
	if (how == 0)
		return WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) == how)
		return true;
#ifdef __SANITIZE_ADDRESS__
	/* The testbed passes a crash on to the handler it had: ASan's,
	 * which reports it, then aborts or exits. */
	if (how == SIGSEGV)
		return WIFSIGNALED(status) ? WTERMSIG(status) == SIGABRT : WEXITSTATUS(status) != 0;
#endif
	return false;
}

/* A run that exits without tearing down, is stopped or crashes still
 * leaves nothing. */
static void ends_clean(int how)
{
	int status;
	pid_t pid = run_child(how, &status);

	CU_ASSERT(ended_as(status, how));
	TK_ASSERT_EQ(tb_leftover_namespaces(pid), 0);
	TK_ASSERT_EQ(tb_leftover_links(pid), 0);
}

static void test_exit_leaves_nothing(void)
{
	ends_clean(0);
}

static void test_stop_signals_leave_nothing(void)
{
	ends_clean(SIGINT);
	ends_clean(SIGTERM);
	ends_clean(SIGHUP);
}

static void test_crash_leaves_nothing(void)
{
	ends_clean(SIGSEGV);
	ends_clean(SIGABRT);
}

/* A killed run's names are swept by the next one. */
static void test_stale_names_are_swept(void)
{
	char a[TB_NS_NAME_MAX];
	int status;
	pid_t pid = run_child(SIGKILL, &status);

	CU_ASSERT(ended_as(status, SIGKILL));
	TK_ASSERT_EQ(tb_leftover_namespaces(pid), 2);
	/* tb_init() swept at first call already; a fresh create sweeps too. */
	CU_ASSERT(tb_ns_create(a, sizeof(a), "fresh") == 0);
	TK_ASSERT_EQ(tb_leftover_namespaces(pid), 0);
}

static const struct tk_case tests[] = {
	TK_TEST(test_pair_carries_verified_load),
	TK_TEST(test_routed_three_namespaces),
	TK_TEST(test_pair_helpers),
	TK_TEST(test_exit_leaves_nothing),
	TK_TEST(test_stop_signals_leave_nothing),
	TK_TEST(test_crash_leaves_nothing),
	TK_TEST(test_stale_names_are_swept),
	TK_TEST_END,
};

static const struct tk_suite suite = {"testbed", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
