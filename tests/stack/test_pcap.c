/* Capture (pcap.c) from the inside: what one captured frame costs (a full
 * one and a pure ACK), and that the file holds them whole. The demos'
 * capture read back with tshark is tests/apps/test_pcap_cli. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../stack/pcap.h"
#include "stack_test.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds per frame of @p len, the best of three passes of @p n. */
static double per_frame(const uint8_t *frame, uint32_t len, unsigned n)
{
	double best = 1;

	for (int pass = 0; pass < 3; pass++) {
		double t0 = now_s(), t;

		for (unsigned i = 0; i < n; i++)
			skiff__pcap_write(frame, len);
		t = (now_s() - t0) / n;
		if (t < best)
			best = t;
	}
	return best;
}

static void test_frame_cost(void)
{
	struct skiff_memlink *w = st_memlink_create();
	struct skiff_config c = st_memlink_config(w, 0);
	char path[] = "/dev/shm/skiff-pcap-cost-XXXXXX";
	static uint8_t frame[1514];
	double full, ack;
	struct stat sb;
	off_t before;
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	memset(frame, 0x5a, sizeof(frame));
	c.pcap_path = path;
	c.no_stat_publish = true;
	/* Bounded: the timing passes rotate (one file kept). */
	c.pcap_max_bytes = 32u << 20;
	c.pcap_files = 1;
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	CU_ASSERT_FATAL(skiff__s.pcap != NULL);
	/* Every frame whole, with its 16-byte record header. */
	skiff__pcap_flush();
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	before = sb.st_size;
	for (unsigned i = 0; i < 1000; i++) {
		skiff__pcap_write(frame, sizeof(frame));
		skiff__pcap_write(frame, 66);
	}
	skiff__pcap_flush();
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	TK_ASSERT_EQ(sb.st_size - before, 1000 * (16 + 1514) + 1000 * (16 + 66));

	full = per_frame(frame, sizeof(frame), 50000);
	ack = per_frame(frame, 66, 50000);
	skiff__pcap_flush();
	CU_ASSERT_FATAL(stat(path, &sb) == 0);
	CU_ASSERT(sb.st_size <= 32 << 20);
	tk_note("a captured frame costs %.0f ns (1514 bytes) and %.0f ns (66 bytes), the writes "
		"to tmpfs included; best of 3 passes of 50000",
		full * 1e9, ack * 1e9);
	CU_ASSERT(full < 20e-6);
	skiff_fini();
	CU_ASSERT(skiff_memlink_destroy(w) == 0);
	unlink(path);
}

/* A file that cannot be created fails skiff_init() and says why. */
static void test_bad_path_fails_init(void)
{
	struct skiff_memlink *w = st_memlink_create();
	struct skiff_config c = st_memlink_config(w, 0);

	c.pcap_path = "/nonexistent-dir/x.pcap";
	CU_ASSERT(skiff_init(&c) == -1 && errno == ENOENT);
	CU_ASSERT(strstr(skiff_last_error(), "/nonexistent-dir/x.pcap") != NULL);
	c.pcap_path = NULL;
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	skiff_fini();
	CU_ASSERT(skiff_memlink_destroy(w) == 0);
}

static const struct tk_case tests[] = {
	TK_TEST(test_frame_cost),
	TK_TEST(test_bad_path_fails_init),
	TK_TEST_END,
};

static const struct tk_suite suite = {"pcap", NULL, NULL, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
