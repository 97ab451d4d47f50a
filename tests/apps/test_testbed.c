/* apps/testbed.c with the load generator over it, against Linux's own TCP
 * (no skiff): the topologies the demos build carry verified traffic, and
 * nothing is left behind after a teardown, an exit or a crash. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loadgen.h"
#include "testkit.h"
#include "testbed.h"

/* Namespaces of run @p pid still named in /run/netns. */
static unsigned leftovers(pid_t pid)
{
	char prefix[64];
	struct dirent *e;
	unsigned n = 0;
	DIR *d = opendir("/run/netns");

	if (!d)
		return 0;
	snprintf(prefix, sizeof(prefix), "skiffdemo-%d-", (int)pid);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/* Devices named after run @p pid in the root namespace. */
static unsigned stray_links(pid_t pid)
{
	char cmd[128], out[256] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip -o link show 2>/dev/null | grep -c ' sd%d' || true",
		 (int)pid);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	return (unsigned)atoi(out);
}

static struct sockaddr_storage ip4(const char *a, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	CU_ASSERT_FATAL(inet_pton(AF_INET, a, &s->sin_addr) == 1);
	return ss;
}

static int echo_child(void *arg)
{
	struct sockaddr_storage a = ip4("0.0.0.0", (uint16_t)(uintptr_t)arg);
	struct echod *e;
	int rc =
		echod_create(&e, &lg_kernel_ops, (struct sockaddr *)&a, sizeof(struct sockaddr_in));

	if (rc) {
		fprintf(stderr, "echo child: %s\n", strerror(-rc));
		return 1;
	}
	return echod_run(e, NULL) ? 1 : 0;
}

static struct lg_result load(const char *from_ns, const char *to, unsigned conns)
{
	struct lg_config cfg;
	struct lg_result r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.dst = ip4(to, 7);
	cfg.dst_len = sizeof(struct sockaddr_in);
	cfg.conns = conns;
	cfg.requests = 200;
	cfg.stall_ms = 5000;
	CU_ASSERT_FATAL(tb_enter(from_ns) == 0);
	/* The server may still be on its way up: one connection probes. */
	for (int i = 0; i < 50; i++) {
		struct lg_config probe = cfg;

		probe.conns = 1;
		probe.requests = 1;
		if (lg_run(&probe, &lg_kernel_ops, &r) == 0)
			break;
		usleep(20000);
	}
	lg_run(&cfg, &lg_kernel_ops, &r);
	CU_ASSERT(tb_enter(NULL) == 0);
	if (!lg_passed(&r))
		lg_print(stderr, "load", &r);
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
	TK_ASSERT_EQ(leftovers(getpid()), 0);
	TK_ASSERT_EQ(stray_links(getpid()), 0);
}

/* skiff-echo's topology: two namespaces, one veth. */
static void test_pair_carries_verified_load(void)
{
	char a[TB_NS_NAME_MAX], b[TB_NS_NAME_MAX], ia[IF_NAMESIZE], ib[IF_NAMESIZE];
	struct lg_result r;

	CU_ASSERT_FATAL(tb_ns_create(a, sizeof(a), "srv") == 0);
	CU_ASSERT_FATAL(tb_ns_create(b, sizeof(b), "cli") == 0);
	TK_ASSERT_EQ(leftovers(getpid()), 2);
	CU_ASSERT_FATAL(tb_veth(a, ia, b, ib, "e", 1) == 0);
	CU_ASSERT_FATAL(tb_addr(a, ia, "10.98.0.2/24") == 0);
	CU_ASSERT_FATAL(tb_addr(b, ib, "10.98.0.1/24") == 0);
	CU_ASSERT_FATAL(tb_spawn(a, echo_child, (void *)(uintptr_t)7) > 0);
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
	CU_ASSERT_FATAL(tb_veth(mid, i1, cli, i2, "p", 1) == 0);
	CU_ASSERT_FATAL(tb_veth(srv, i3, cli, i4, "u", 1) == 0);
	CU_ASSERT_FATAL(tb_addr(mid, i1, "10.98.1.2/24") == 0);
	CU_ASSERT_FATAL(tb_addr(cli, i2, "10.98.1.1/24") == 0);
	CU_ASSERT_FATAL(tb_addr(srv, i3, "10.98.2.2/24") == 0);
	CU_ASSERT_FATAL(tb_addr(cli, i4, "10.98.2.1/24") == 0);
	CU_ASSERT_FATAL(tb_sysctl(cli, "net/ipv4/ip_forward", "1") == 0);
	CU_ASSERT_FATAL(tb_ip(srv, "route", "add", "default", "via", "10.98.2.1", (char *)NULL) ==
			0);
	CU_ASSERT_FATAL(tb_ip(mid, "route", "add", "default", "via", "10.98.1.1", (char *)NULL) ==
			0);
	CU_ASSERT_FATAL(tb_spawn(srv, echo_child, (void *)(uintptr_t)7) > 0);
	/* From the middle namespace through the router to the server. */
	r = load(mid, "10.98.2.2", 8);
	CU_ASSERT(lg_passed(&r));
}

/* A run that exits without tearing down, or crashes, still leaves nothing. */
static void builds_then(int how)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char a[TB_NS_NAME_MAX], b[TB_NS_NAME_MAX], ia[IF_NAMESIZE], ib[IF_NAMESIZE];

		tb_init("child");
		if (tb_ns_create(a, sizeof(a), "x") || tb_ns_create(b, sizeof(b), "y") ||
		    tb_veth(a, ia, b, ib, "x", 2) ||
		    tb_spawn(a, echo_child, (void *)(uintptr_t)7) < 0)
			_exit(3);
		if (how == 0)
			exit(0);
		raise(how);
		_exit(4);
	}
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	if (how == 0) {
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	} else {
		CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == how);
	}
	TK_ASSERT_EQ(leftovers(pid), 0);
	TK_ASSERT_EQ(stray_links(pid), 0);
}

static void test_exit_leaves_nothing(void)
{
	builds_then(0);
}

static void test_crash_leaves_nothing(void)
{
	builds_then(SIGSEGV);
	builds_then(SIGABRT);
}

/* A killed run's names are swept by the next one. */
static void test_stale_names_are_swept(void)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char a[TB_NS_NAME_MAX];

		tb_init("child");
		if (tb_ns_create(a, sizeof(a), "stale"))
			_exit(3);
		kill(getpid(), SIGKILL);
	}
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	TK_ASSERT_EQ(leftovers(pid), 1);
	{
		char a[TB_NS_NAME_MAX];

		/* tb_init() swept at first call already; a fresh create sweeps too. */
		CU_ASSERT(tb_ns_create(a, sizeof(a), "fresh") == 0);
	}
	TK_ASSERT_EQ(leftovers(pid), 0);
}

static const struct tk_case tests[] = {
	TK_TEST(test_pair_carries_verified_load), TK_TEST(test_routed_three_namespaces),
	TK_TEST(test_exit_leaves_nothing),	  TK_TEST(test_crash_leaves_nothing),
	TK_TEST(test_stale_names_are_swept),	  TK_TEST_END,
};

static const struct tk_suite suite = {"testbed", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
