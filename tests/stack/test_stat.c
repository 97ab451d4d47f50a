/* Published counters (statpub.c, <skiff/stat.h>): a running instance is
 * listed and read while it moves traffic, the published copy catches up
 * with skiff_get_stats(), a killed owner's segment is reported dead and
 * removed (by a reader, and by the next skiff_init()), SKIFF_STAT=0 turns
 * publishing off, the field table covers struct skiff_stats, and what one
 * publication and the loop's check cost. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <skiff/stat.h>

#include "../../stack/instance.h"
#include "../../stack/statpub.h"
#include "stack_test.h"

#define PORT  5020
#define BYTES (4u << 20)

static char dir[64];

static void tweak(struct skiff_config *c, unsigned end)
{
	(void)end;
	c->stat_dir = dir;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/skiff-stat-test-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	st_pair_tweak = tweak;
}

static void teardown(void)
{
	char cmd[128];

	st_pair_tweak = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT(system(cmd) == 0);
}

static unsigned files_in(const char *d)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *dp = opendir(d);

	if (!dp)
		return 0;
	while ((e = readdir(dp)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dp);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- a live instance ------------------------------------------------------ */

static int child_send(void *arg)
{
	struct st_xfer x;
	int fd, rc;

	(void)arg;
	fd = st_skiff_connect(AF_INET, ST_ML_IP4_0, NULL, PORT);
	if (fd < 0)
		return 10;
	rc = st_send_stream(fd, 7, BYTES, false, &x);
	skiff_shutdown(fd, SHUT_WR);
	while (skiff_recv(fd, &(char){0}, 1, 0) > 0)
		;
	skiff_close(fd);
	return rc ? 11 : 0;
}

static void test_live_instance_listed_and_read(void)
{
	struct skiff_stat_instance in[8], info;
	struct skiff_stat_reader *r;
	struct skiff_stats pub, own;
	struct st_xfer x;
	struct st_pair p;
	unsigned dead = 9;
	int lfd, fd, n;
	double end;

	st_pair_up(&p, 0, child_send, NULL);
	/* Both ends publish: this process and the child (once its stack is
	 * up). */
	end = now_s() + 5;
	while ((n = skiff_stat_list(dir, in, 8, &dead)) < 2 && now_s() < end)
		usleep(10000);
	TK_ASSERT_EQ(n, 2);
	TK_ASSERT_EQ(dead, 0);
	CU_ASSERT(in[0].pid == getpid() || in[1].pid == getpid());
	CU_ASSERT(in[0].alive && in[1].alive);
	CU_ASSERT(in[0].backend == SKIFF_BACKEND_MEMLINK);
	CU_ASSERT_FATAL(skiff_stat_open(&r, dir, getpid()) == 0);
	CU_ASSERT_FATAL(skiff_stat_read(r, &pub, &info) == 0);
	TK_ASSERT_EQ(info.pid, getpid());
	CU_ASSERT(!info.stopped);
	TK_ASSERT_EQ(info.interval_ms, 100);
	TK_ASSERT_EQ(info.queue, 0);

	lfd = st_skiff_listen(AF_INET, PORT, 4);
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(st_recv_stream(fd, 7, BYTES, false, false, &x) == 0);
	skiff_close(fd);
	skiff_close(lfd);
	TK_ASSERT_EQ(st_pair_wait_child(&p, 30000), 0);
	/* The published copy catches up within an interval or two. */
	end = now_s() + 2;
	do {
		skiff_poll(5);
		skiff_get_stats(&own);
		CU_ASSERT_FATAL(skiff_stat_read(r, &pub, &info) == 0);
	} while (pub.rx_frames != own.rx_frames && now_s() < end);
	CU_ASSERT(pub.rx_frames > BYTES / 1500);
	TK_ASSERT_EQ(pub.rx_frames, own.rx_frames);
	TK_ASSERT_EQ(pub.rx_bytes, own.rx_bytes);
	TK_ASSERT_EQ(pub.frames_total, own.frames_total);
	CU_ASSERT(info.publishes > 1);
	CU_ASSERT(info.age_ms < 1000);
	st_pair_down(&p);
	/* Stopped: the final counters stay readable until skiff_fini(). */
	CU_ASSERT(skiff_stat_read(r, &pub, &info) == 0);
	CU_ASSERT(info.stopped);
	skiff_stat_close(r);
	skiff_fini();
	TK_ASSERT_EQ(files_in(dir), 0);
}

/* ---- dead owners ------------------------------------------------------------ */

/* A child that starts skiff alone on end 1, says so, and waits to die. */
static pid_t start_doomed(struct skiff_memlink *w, int *ready)
{
	int fds[2];
	pid_t pid;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct skiff_config c = st_memlink_config(w, 1);

		close(fds[0]);
		c.stat_dir = dir;
		if (skiff_init(&c) != 0)
			_exit(3);
		if (write(fds[1], "u", 1) != 1)
			_exit(4);
		for (;;)
			skiff_poll(100);
	}
	close(fds[1]);
	*ready = fds[0];
	return pid;
}

/* A killed owner leaves its wire end taken, so its wire cannot be
 * destroyed: kept here, reachable, to the end of the process. */
static struct skiff_memlink *dead_wires[3];

static void test_dead_owner_reported_and_removed(void)
{
	/* A wire each. */
	struct skiff_memlink **w = dead_wires;
	struct skiff_stat_instance in[4];
	struct skiff_stat_reader *r;
	unsigned dead = 0;
	int ready, st;
	pid_t pid;
	char c;

	for (int i = 0; i < 3; i++)
		w[i] = st_memlink_create();
	CU_ASSERT_FATAL(w[0] && w[1] && w[2]);
	/* A reader that attaches after the owner died. */
	pid = start_doomed(w[0], &ready);
	CU_ASSERT_FATAL(read(ready, &c, 1) == 1);
	close(ready);
	TK_ASSERT_EQ(skiff_stat_list(dir, in, 4, NULL), 1);
	TK_ASSERT_EQ(in[0].pid, pid);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	TK_ASSERT_EQ(files_in(dir), 1); /* left behind */
	CU_ASSERT(skiff_stat_open(&r, dir, pid) == -1 && errno == ESRCH);
	TK_ASSERT_EQ(files_in(dir), 0); /* the reader cleaned it */
	CU_ASSERT(skiff_stat_open(&r, dir, pid) == -1 && errno == ENOENT);

	/* The list finds another, and a reader attached before the death
	 * learns it at its next read. */
	pid = start_doomed(w[1], &ready);
	CU_ASSERT_FATAL(read(ready, &c, 1) == 1);
	close(ready);
	CU_ASSERT_FATAL(skiff_stat_open(&r, dir, pid) == 0);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	CU_ASSERT(skiff_stat_read(r, &(struct skiff_stats){0}, NULL) == -1 && errno == ESRCH);
	skiff_stat_close(r);
	TK_ASSERT_EQ(files_in(dir), 0);

	/* The next skiff_init() sweeps what no reader found. */
	pid = start_doomed(w[2], &ready);
	CU_ASSERT_FATAL(read(ready, &c, 1) == 1);
	close(ready);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	TK_ASSERT_EQ(files_in(dir), 1);
	{
		struct skiff_config cfg = st_memlink_config(w[2], 0);

		cfg.stat_dir = dir;
		CU_ASSERT_FATAL(skiff_init(&cfg) == 0);
		TK_ASSERT_EQ(skiff_stat_list(dir, in, 4, &dead), 1);
		TK_ASSERT_EQ(dead, 0);
		TK_ASSERT_EQ(in[0].pid, getpid());
		skiff_fini();
	}
	TK_ASSERT_EQ(files_in(dir), 0);
	/* The dead ends stay taken: their wires stay in dead_wires. */
}

/* ---- turned off ------------------------------------------------------------- */

static void test_off_by_config_and_environment(void)
{
	struct skiff_memlink *w = st_memlink_create();
	struct skiff_config c = st_memlink_config(w, 0);

	c.stat_dir = dir;
	c.no_stat_publish = true;
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	TK_ASSERT_EQ(files_in(dir), 0);
	skiff_fini();
	c.no_stat_publish = false;
	setenv("SKIFF_STAT", "0", 1);
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	TK_ASSERT_EQ(files_in(dir), 0);
	skiff_fini();
	unsetenv("SKIFF_STAT");
	setenv("SKIFF_STAT_DIR", dir, 1);
	c.stat_dir = NULL;
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	TK_ASSERT_EQ(files_in(dir), 1);
	skiff_fini();
	unsetenv("SKIFF_STAT_DIR");
	CU_ASSERT(skiff_memlink_destroy(w) == 0);
}

/* ---- the field table ------------------------------------------------------- */

static void test_fields_cover_the_struct(void)
{
	unsigned n, end = 0;
	const struct skiff_stat_field *f = skiff_stat_fields(&n);
	struct skiff_stats s;

	CU_ASSERT(n > 100);
	for (unsigned i = 0; i < n; i++) {
		/* In order, not overlapping, gaps only of alignment. */
		CU_ASSERT(f[i].offset >= end);
		CU_ASSERT(f[i].offset - end < f[i].size);
		CU_ASSERT(f[i].size == 4 || f[i].size == 8);
		end = f[i].offset + f[i].size;
	}
	CU_ASSERT(sizeof(struct skiff_stats) - end < 8);
	memset(&s, 0, sizeof(s));
	s.tcp_retransmits = 1234;
	s.frames_loaned = 77;
	for (unsigned i = 0; i < n; i++) {
		if (!strcmp(f[i].name, "tcp_retransmits"))
			TK_ASSERT_EQ(skiff_stat_value(&s, &f[i]), 1234);
		if (!strcmp(f[i].name, "frames_loaned")) {
			TK_ASSERT_EQ(skiff_stat_value(&s, &f[i]), 77);
			CU_ASSERT(f[i].gauge);
		}
	}
}

/* ---- cost ---------------------------------------------------------------------- */

/* One publication (the counters gathered without the frame walk, copied
 * under the seqlock), and what a poll round pays for the check. */
static void test_publication_cost(void)
{
	struct skiff_memlink *w = st_memlink_create();
	struct skiff_config c = st_memlink_config(w, 0);
	const unsigned pubs = 20000, rounds = 2000000;
	uint64_t now = 1ull << 62;
	double t0, per_pub, on, off;

	c.stat_dir = dir;
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	CU_ASSERT_FATAL(skiff__s.pub != NULL);
	t0 = now_s();
	for (unsigned i = 0; i < pubs; i++)
		skiff__statpub_tick(now += 1ull << 40);
	per_pub = (now_s() - t0) / pubs;
	/* Rounds with nothing to do, publishing on and off, interleaved. */
	on = off = 0;
	for (int k = 0; k < 4; k++) {
		skiff__s.observing = k & 1;
		t0 = now_s();
		for (unsigned i = 0; i < rounds / 4; i++)
			skiff_poll(0);
		*(k & 1 ? &on : &off) += now_s() - t0;
	}
	skiff__s.observing = true;
	tk_note("one publication %.2f us (at the default 100 ms: %.4f%% of a core); an idle poll "
		"round %.1f ns publishing, %.1f ns not",
		per_pub * 1e6, per_pub * 10 * 100, on / (rounds / 2) * 1e9,
		off / (rounds / 2) * 1e9);
	CU_ASSERT(per_pub < 100e-6);
	skiff_fini();
	CU_ASSERT(skiff_memlink_destroy(w) == 0);
}

static const struct tk_case tests[] = {
	TK_TEST(test_live_instance_listed_and_read),
	TK_TEST(test_dead_owner_reported_and_removed),
	TK_TEST(test_off_by_config_and_environment),
	TK_TEST(test_fields_cover_the_struct),
	TK_TEST(test_publication_cost),
	TK_TEST_END,
};

static const struct tk_suite suite = {"stat", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
