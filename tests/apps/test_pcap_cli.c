/* Capture (--pcap, SKIFF_PCAP) as a user runs it, read back with Debian's
 * tshark: skiff-echo's embedded default over memlink (no root) captured
 * whole, both ways of every TCP conversation, as many frames as skiff's
 * link counters, nanosecond timestamps, nothing malformed; a snap length
 * and a size bound with rotation; the environment variable for programs
 * that can't be rebuilt. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo_proc.h"
#include "testkit.h"

static char dir[64];

static void setup(void)
{
	if (access("/usr/bin/tshark", X_OK) != 0)
		tk_skip("tshark is not installed (tests/host/setup.sh installs it)");
	snprintf(dir, sizeof(dir), "/tmp/skiff-pcap-cli-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
}

static void teardown(void)
{
	char cmd[128];

	if (!dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT(system(cmd) == 0);
	dir[0] = '\0';
}

/* Lines tshark prints for @p file with @p args. */
static long tshark_lines(const char *file, const char *args)
{
	char cmd[512], line[512];
	long n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tshark -r '%s' %s 2>/dev/null", file, args);
	f = popen(cmd, "r");
	CU_ASSERT_FATAL(f != NULL);
	while (fgets(line, sizeof(line), f))
		n++;
	CU_ASSERT(pclose(f) == 0);
	return n;
}

/* The first field of the first line tshark prints, as a number. */
static double tshark_first(const char *file, const char *args)
{
	char cmd[512], line[512] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tshark -r '%s' %s 2>/dev/null", file, args);
	f = popen(cmd, "r");
	CU_ASSERT_FATAL(f != NULL);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	return strtod(line, NULL);
}

/* Timestamps with nanoseconds that are not whole microseconds. */
static long sub_microsecond(const char *file)
{
	char cmd[512], line[128];
	long n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tshark -r '%s' -T fields -e frame.time_epoch 2>/dev/null",
		 file);
	f = popen(cmd, "r");
	CU_ASSERT_FATAL(f != NULL);
	while (fgets(line, sizeof(line), f)) {
		const char *dot = strchr(line, '.');

		if (dot && strspn(dot + 1, "0123456789") == 9 && strncmp(dot + 7, "000", 3))
			n++;
	}
	pclose(f);
	return n;
}

/* "  link        rx N frames ..., tx M frames": N + M. */
static unsigned long long link_frames(const char *out)
{
	const char *t = strstr(out, "  link        rx ");
	const char *tx;

	CU_ASSERT_FATAL(t != NULL);
	tx = strstr(t, ", tx ");
	CU_ASSERT_FATAL(tx != NULL);
	return strtoull(t + strlen("  link        rx "), NULL, 10) +
	       strtoull(tx + strlen(", tx "), NULL, 10);
}

static void run_echo(struct proc *p, const char *requests, const char *sizes, char *const *extra)
{
	char *argv[32] = {SKIFF_ECHO_PATH,  "--memlink", "--conns",	"2",	   "--requests",
			  (char *)requests, "--size",	 (char *)sizes, "--stats", "0"};
	unsigned n = 10;

	for (unsigned i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	proc_run(p, 0, 60000, argv);
	proc_expect(p, 0, "verdict: PASS 2 connections");
}

static void test_echo_exchange_captured_both_ways(void)
{
	char file[128];
	char *extra[] = {"--pcap", file, NULL};
	unsigned char magic[4] = {0};
	unsigned long long frames;
	long got, to7, from7;
	struct proc p;
	FILE *f;

	snprintf(file, sizeof(file), "%s/echo.pcap", dir);
	run_echo(&p, "20", "100-3000", extra);
	CU_ASSERT(strstr(p.buf, "capture    ") != NULL);
	frames = link_frames(p.buf);
	proc_done(&p);

	/* pcap with nanosecond timestamps. */
	f = fopen(file, "rb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT(fread(magic, 1, 4, f) == 4);
	fclose(f);
	CU_ASSERT(magic[0] == 0x4d && magic[1] == 0x3c && magic[2] == 0xb2 && magic[3] == 0xa1);

	got = tshark_lines(file, "");
	to7 = tshark_lines(file, "-Y 'tcp.dstport == 7'");
	from7 = tshark_lines(file, "-Y 'tcp.srcport == 7'");
	tk_note("%ld frames captured (skiff's link counters: %llu), %ld to the echo, %ld from it",
		got, frames, to7, from7);
	TK_ASSERT_EQ(got, frames);
	/* Both ways: SYNs and data in, SYN-ACKs and the echo out. */
	CU_ASSERT(tshark_lines(file, "-Y 'tcp.dstport == 7 && tcp.flags.syn == 1'") == 2);
	CU_ASSERT(tshark_lines(file, "-Y 'tcp.srcport == 7 && tcp.flags.syn == 1'") == 2);
	CU_ASSERT(tshark_lines(file, "-Y 'tcp.dstport == 7 && tcp.len > 0'") > 0);
	CU_ASSERT(tshark_lines(file, "-Y 'tcp.srcport == 7 && tcp.len > 0'") > 0);
	CU_ASSERT(to7 > 20 && from7 > 20);
	TK_ASSERT_EQ(tshark_lines(file, "-Y _ws.malformed"), 0);
	TK_ASSERT_EQ(tshark_lines(file, "-Y _ws.expert.severity==error"), 0);
	/* Nanoseconds: nine digits, not all of them multiples of 1000. */
	CU_ASSERT(sub_microsecond(file) > got / 2);
}

static void test_snaplen_and_rotation(void)
{
	char file[128], name[160];
	char *extra[] = {"--pcap",	 file,	       "--pcap-snaplen",
			 "96",		 "--pcap-max", "64k",
			 "--pcap-files", "3",	       NULL};
	struct stat sb;
	struct proc p;

	snprintf(file, sizeof(file), "%s/rot.pcap", dir);
	run_echo(&p, "300", "1000-3000", extra);
	proc_done(&p);
	for (int i = 0; i < 4; i++) {
		if (i)
			snprintf(name, sizeof(name), "%s.%d", file, i);
		else
			snprintf(name, sizeof(name), "%s", file);
		if (i == 3) {
			CU_ASSERT(stat(name, &sb) != 0); /* three files kept */
			break;
		}
		CU_ASSERT_FATAL(stat(name, &sb) == 0);
		CU_ASSERT(sb.st_size <= 64 * 1024);
		CU_ASSERT(tshark_lines(name, "") > 100);
		TK_ASSERT_EQ(tshark_lines(name, "-Y 'frame.cap_len > 96'"), 0);
		CU_ASSERT(tshark_lines(name, "-Y 'frame.len > 96'") > 0);
		if (i)
			CU_ASSERT(sb.st_size > 60 * 1024); /* rotated when full */
	}
	/* The rotated files follow each other in time. */
	{
		char f1[160], f2[160];

		snprintf(f1, sizeof(f1), "%s.1", file);
		snprintf(f2, sizeof(f2), "%s.2", file);
		CU_ASSERT(tshark_first(f2, "-T fields -e frame.time_epoch") <
			  tshark_first(f1, "-T fields -e frame.time_epoch"));
		CU_ASSERT(tshark_first(f1, "-T fields -e frame.time_epoch") <
			  tshark_first(file, "-T fields -e frame.time_epoch"));
	}
}

/* SKIFF_PCAP for a program that can't be rebuilt: both skiff processes of
 * the memlink run capture, each into its own file (%p). */
static void test_environment_variable(void)
{
	char pattern[128], name[400];
	struct dirent *e;
	struct proc p;
	unsigned files = 0;
	DIR *d;

	snprintf(pattern, sizeof(pattern), "%s/env-%%p.pcap", dir);
	setenv("SKIFF_PCAP", pattern, 1);
	run_echo(&p, "20", "100-1000", NULL);
	unsetenv("SKIFF_PCAP");
	proc_done(&p);
	d = opendir(dir);
	CU_ASSERT_FATAL(d != NULL);
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "env-", 4))
			continue;
		files++;
		snprintf(name, sizeof(name), "%s/%s", dir, e->d_name);
		CU_ASSERT(tshark_lines(name, "-Y 'tcp.port == 7'") > 40);
		TK_ASSERT_EQ(tshark_lines(name, "-Y _ws.malformed"), 0);
	}
	closedir(d);
	TK_ASSERT_EQ(files, 2);
}

static void test_bad_use_exits_2(void)
{
	BAD(0, "go with --pcap FILE", SKIFF_ECHO_PATH, "--pcap-max", "1M");
	BAD(0, "--pcap-max: '12' is not a size", SKIFF_ECHO_PATH, "--pcap", "x.pcap", "--pcap-max",
	    "12");
	BAD(0, "--pcap-snaplen: 'lots' is not a number", SKIFF_ECHO_PATH, "--pcap", "x.pcap",
	    "--pcap-snaplen", "lots");
}

static const struct tk_case tests[] = {
	TK_TEST(test_echo_exchange_captured_both_ways),
	TK_TEST(test_snaplen_and_rotation),
	TK_TEST(test_environment_variable),
	TK_TEST(test_bad_use_exits_2),
	TK_TEST_END,
};

static const struct tk_suite suite = {"pcap", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
