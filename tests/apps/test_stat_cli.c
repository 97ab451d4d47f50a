/* skiff-stat as a user runs it, against skiff-echo's embedded default over
 * memlink (no root needed): the instances are listed, the counters it
 * reports (--once --json) move under traffic, a watcher's last report is
 * the final counters, equal to the echo's own totals at exit; a SIGKILLed
 * owner is reported dead, its segment removed, and it leaves the list. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
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
	snprintf(dir, sizeof(dir), "/tmp/skiff-stat-cli-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	CU_ASSERT_FATAL(chmod(dir, 0755) == 0);
	/* The echo (and its peer) publish here, and skiff-stat reads here. */
	setenv("SKIFF_STAT_DIR", dir, 1);
}

static void teardown(void)
{
	char cmd[128];

	unsetenv("SKIFF_STAT_DIR");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT(system(cmd) == 0);
}

static unsigned segments(void)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "skiff.", 6))
			n++;
	closedir(d);
	return n;
}

static bool segment_of(pid_t pid)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/skiff.%d.0", dir, (int)pid);
	return access(path, F_OK) == 0;
}

/* skiff-echo on memlink with a load that outlasts the test; back once it
 * and its peer publish. */
static void start_echo(struct proc *p)
{
	char *argv[] = {SKIFF_ECHO_PATH, "--memlink", "--conns", "4", "--requests",
			"50000000",	 "--stats",   "0",	 NULL};

	proc_start(p, NULL, 0, argv);
	for (int i = 0; i < 200 && (!segment_of(p->pid) || segments() < 2); i++)
		usleep(50000);
	if (!segment_of(p->pid) || segments() < 2) {
		kill(p->pid, SIGKILL);
		proc_finish(p, 5000);
		proc_show(p);
		CU_FAIL_FATAL("skiff-echo never published its counters");
	}
}

/* The number after "KEY": in @p s past @p from (NULL: from the start). */
static double json_num(const char *s, const char *from, const char *key)
{
	char k[96];
	const char *q = from ? strstr(s, from) : s;

	snprintf(k, sizeof(k), "\"%s\":", key);
	q = q ? strstr(q, k) : NULL;
	return q ? strtod(q + strlen(k), NULL) : -1;
}

static double once(pid_t pid, const char *from, const char *key)
{
	char p[16];
	char *argv[] = {SKIFF_STAT_PATH, "--once", "--json", "-i", "0.3", p, NULL};
	struct proc s;
	double v;

	snprintf(p, sizeof(p), "%d", (int)pid);
	proc_run(&s, 0, 10000, argv);
	proc_expect(&s, 0, "\"state\":\"running\"");
	v = json_num(s.buf, from, key);
	proc_done(&s);
	return v;
}

static void test_counters_move_and_match_the_totals(void)
{
	char p[16];
	char *list[] = {SKIFF_STAT_PATH, NULL};
	char *watch[] = {SKIFF_STAT_PATH, "--json", "-i", "0.05", p, NULL};
	struct proc echo, ls, w;
	double rx1, rx2, rate;
	unsigned long long total;
	const char *last, *t;

	start_echo(&echo);
	snprintf(p, sizeof(p), "%d", (int)echo.pid);
	/* Listed: the echo and its peer on the wire's other end. */
	proc_run(&ls, 0, 10000, list);
	proc_expect(&ls, 0, "memlink end 0");
	CU_ASSERT(strstr(ls.buf, "memlink end 1") != NULL);
	CU_ASSERT(strstr(ls.buf, p) != NULL);
	CU_ASSERT(strstr(ls.buf, "running") != NULL);
	proc_done(&ls);

	rx1 = once(echo.pid, "\"counters\"", "rx_frames");
	rx2 = once(echo.pid, "\"counters\"", "rx_frames");
	rate = once(echo.pid, "\"rates\"", "rx_frames");
	tk_note("rx_frames %.0f then %.0f; %.0f frames/s", rx1, rx2, rate);
	CU_ASSERT(rx1 > 0);
	CU_ASSERT(rx2 > rx1);
	CU_ASSERT(rate > 0);

	/* A watcher across the stop ends with the final counters. */
	proc_start(&w, NULL, 0, watch);
	CU_ASSERT(proc_wait_for(&w, "\"state\":\"running\"", 5000));
	kill(echo.pid, SIGINT);
	proc_finish(&echo, 20000);
	proc_finish(&w, 10000);
	proc_expect(&w, 0, "skiff stopped; those are its final counters");
	last = strstr(w.buf, "\"state\":\"stopped\"");
	CU_ASSERT_FATAL(last != NULL);
	while (last > w.buf && last[-1] != '\n')
		last--;
	t = strstr(echo.buf, "  link        rx ");
	CU_ASSERT_FATAL(t != NULL);
	total = strtoull(t + strlen("  link        rx "), NULL, 10);
	tk_note("final rx_frames: skiff-stat %.0f, the echo's totals %llu",
		json_num(last, "\"counters\"", "rx_frames"), total);
	TK_ASSERT_EQ((unsigned long long)json_num(last, "\"counters\"", "rx_frames"), total);
	proc_done(&w);
	proc_done(&echo);
	/* Both ends stopped and finished: nothing left. */
	for (int i = 0; i < 60 && segments(); i++)
		usleep(50000);
	TK_ASSERT_EQ(segments(), 0);
}

static void test_killed_owner_reported_dead_and_cleaned(void)
{
	char p[16];
	char *attach[] = {SKIFF_STAT_PATH, "--once", p, NULL};
	char *list[] = {SKIFF_STAT_PATH, NULL};
	struct proc echo, s;
	bool gone = false;

	start_echo(&echo);
	snprintf(p, sizeof(p), "%d", (int)echo.pid);
	kill(echo.pid, SIGKILL);
	proc_finish(&echo, 5000);
	proc_done(&echo);
	CU_ASSERT(segment_of(echo.pid)); /* left behind */
	proc_run(&s, 0, 10000, attach);
	proc_expect(&s, 1, "the owner died without stopping skiff; its segment is removed");
	proc_done(&s);
	CU_ASSERT(!segment_of(echo.pid));
	/* Its peer dies with it: the list drops and removes it too. */
	for (int i = 0; i < 40 && !gone; i++) {
		proc_run(&s, 0, 10000, list);
		gone = s.status == 0 && strstr(s.buf, "no skiff instance running");
		if (!gone)
			usleep(50000);
		proc_done(&s);
	}
	CU_ASSERT(gone);
	TK_ASSERT_EQ(segments(), 0);
	/* Asked again: no such instance. */
	proc_run(&s, 0, 10000, attach);
	proc_expect(&s, 1, "no skiff instance with pid");
	proc_done(&s);
}

static void test_bad_use_exits_2(void)
{
	BAD(0, "unknown option '--frobnicate'", SKIFF_STAT_PATH, "--frobnicate");
	BAD(0, "-i: 'soon' is not a number", SKIFF_STAT_PATH, "-i", "soon", "1");
	BAD(0, "unexpected argument 'extra'", SKIFF_STAT_PATH, "1", "extra");
	BAD(0, "-n and -a need an instance", SKIFF_STAT_PATH, "-n", "3");
}

static const struct tk_case tests[] = {
	TK_TEST(test_counters_move_and_match_the_totals),
	TK_TEST(test_killed_owner_reported_dead_and_cleaned),
	TK_TEST(test_bad_use_exits_2),
	TK_TEST_END,
};

static const struct tk_suite suite = {"stat", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
