/* skiff-echo and skiff-proxy as a user runs them, where no root is needed:
 * bad use exits 2 with a message, -h, and the embedded defaults over
 * memlink (between two skiff processes), also when chosen because the
 * process is not root. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_proc.h"
#include "testkit.h"

static void test_echo_embedded_memlink(void)
{
	expect_embedded_pass(SKIFF_ECHO_PATH, "--memlink", 0, "memlink end 0");
}

static void test_proxy_embedded_memlink(void)
{
	expect_embedded_pass(SKIFF_PROXY_PATH, "--memlink", 0, "memlink end 0");
}

/* Without root it says why and runs over memlink. */
static void test_echo_unprivileged_falls_back(void)
{
	if (geteuid() != 0)
		expect_embedded_pass(SKIFF_ECHO_PATH, NULL, 0, "not running as root");
	else
		expect_embedded_pass(SKIFF_ECHO_PATH, NULL, NOBODY, "not running as root");
}

/* A clone under a 0700 directory (/root/skiff on Debian): the
 * unprivileged runs still reach the demo, and a binary that cannot be
 * reached at all is reported with the directory in the way. */
static void test_unprivileged_run_from_private_dir(void)
{
	char dir[] = "/tmp/skiff-private-XXXXXX", bin[96], missing[96];
	char cmd[256];
	struct proc p;

	if (geteuid() != 0)
		tk_skip("needs root to run a demo as another user");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL); /* mode 0700, as /root */
	snprintf(bin, sizeof(bin), "%s/skiff-echo", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", SKIFF_ECHO_PATH, bin);
	CU_ASSERT_FATAL(system(cmd) == 0);
	BAD(NOBODY, "-i lo needs root", bin, "-i", "lo", "--ip", "10.9.9.9/24");

	snprintf(missing, sizeof(missing), "%s/sub/skiff-echo", dir);
	proc_run(&p, NOBODY, 5000, (char *const[]){missing, "-h", NULL});
	proc_expect(&p, 127, "is not searchable by that user");
	CU_ASSERT(strstr(p.buf, dir) != NULL);
	CU_ASSERT(strstr(p.buf, "mode 0700") != NULL);
	proc_done(&p);
	unlink(bin);
	rmdir(dir);
}

static void test_bad_use_exits_2(void)
{
	BAD(0, "unknown option '--frobnicate'", SKIFF_ECHO_PATH, "--frobnicate");
	BAD(0, "unknown option '-x'", SKIFF_ECHO_PATH, "-x");
	BAD(0, "option '-i' needs an argument", SKIFF_ECHO_PATH, "-i");
	BAD(0, "option '--ip' needs an argument", SKIFF_ECHO_PATH, "-i", "lo", "--ip");
	BAD(0, "-p: 'seventy' is not a number", SKIFF_ECHO_PATH, "-p", "seventy");
	BAD(0, "--ip: '10.0.0.300' is not an IPv4 address", SKIFF_ECHO_PATH, "-i", "lo", "--ip",
	    "10.0.0.300/24");
	BAD(0, "-i needs an address for skiff", SKIFF_ECHO_PATH, "-i", "lo");
	BAD(0, "-q needs -i", SKIFF_ECHO_PATH, "-q", "1");
	BAD(0, "-i needs --upstream", SKIFF_PROXY_PATH, "-i", "lo", "--ip", "10.9.9.9/24");
	BAD(0, "--upstream: 'nowhere' is not HOST:PORT", SKIFF_PROXY_PATH, "--upstream", "nowhere");
	BAD(0, "unexpected argument 'extra'", SKIFF_PROXY_PATH, "extra");
	BAD(0, "--also: 'eth1' is not IFACE=ADDR/PREFIX", SKIFF_ECHO_PATH, "-i", "lo", "--ip",
	    "10.9.9.9/24", "--also", "eth1");
	BAD(0, "--also needs -i", SKIFF_ECHO_PATH, "--also", "lo=10.9.8.9/24");
	BAD(0, "--also: gw='x' is not an IPv4 address", SKIFF_PROXY_PATH, "-i", "lo", "--ip",
	    "10.9.9.9/24", "--also", "lo=10.9.8.9/24,gw=x");
	BAD(0, "--also: 'bogus': only gw=ADDR and subflow may follow the address", SKIFF_PROXY_PATH,
	    "-i", "lo", "--ip", "10.9.9.9/24", "--also", "lo=10.9.8.9/24,subflow,bogus");
	BAD(0, "--also: unknown interface 'skiffnone0'", SKIFF_ECHO_PATH, "-i", "lo", "--ip",
	    "10.9.9.9/24", "--also", "skiffnone0=10.9.8.9/24");
}

static void test_help_exits_0(void)
{
	char *argv[] = {SKIFF_PROXY_PATH, "-h", NULL};
	struct proc p;

	TK_ASSERT_EQ(proc_run(&p, 0, 5000, argv), 0);
	CU_ASSERT(strstr(p.buf, "--upstream HOST:PORT") != NULL);
	CU_ASSERT(strstr(p.buf, "Exit status: 0 PASS, 1 FAIL, 2 bad use") != NULL);
	proc_done(&p);
}

static const struct tk_case tests[] = {
	TK_TEST(test_bad_use_exits_2),
	TK_TEST(test_help_exits_0),
	TK_TEST(test_echo_embedded_memlink),
	TK_TEST(test_proxy_embedded_memlink),
	TK_TEST(test_echo_unprivileged_falls_back),
	TK_TEST(test_unprivileged_run_from_private_dir),
	TK_TEST_END,
};

static const struct tk_suite suite = {"cli", NULL, NULL, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
