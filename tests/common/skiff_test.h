/**
 * @file
 * skiff's CUnit harness: each test binary lists its suites in
 * skiff_test_suites[]; the shared main() runs one test (--run suite/test),
 * lists them (--list) or runs them all. A failing assertion makes the
 * process exit 1; a test that cannot run here exits with
 * SKIFF_TEST_SKIP_CODE after printing one line that says why.
 */
#ifndef SKIFF_TEST_H
#define SKIFF_TEST_H

#include <CUnit/CUnit.h>
#include <stdbool.h>

#define SKIFF_TEST_SKIP_CODE 77

struct skiff_test_case {
	const char *name;
	void (*fn)(void);
};

struct skiff_test_suite {
	const char *name;
	/* Run before and after each test; teardown may assert (leak checks). */
	void (*setup)(void);
	void (*teardown)(void);
	const struct skiff_test_case *tests; /* ends with { NULL, NULL } */
};

#define SKIFF_TEST(fn) { #fn, fn }
#define SKIFF_TEST_END { NULL, NULL }

/* Each test binary defines this, NULL-terminated. */
extern const struct skiff_test_suite *const skiff_test_suites[];

/* Ends the test with the skip code; fmt says why, on one line. */
__attribute__((noreturn, format(printf, 1, 2))) void skiff_test_skip(const char *fmt, ...);

/* Skip unless running as root with network namespaces and AF_XDP usable. */
void skiff_test_require_privileged(void);

/* CU_ASSERT_EQUAL that prints both values on failure. */
#define SKIFF_ASSERT_EQ(a, b)                                                             \
	do {                                                                              \
		long long skiff_a_ = (long long)(a), skiff_b_ = (long long)(b);            \
		if (skiff_a_ != skiff_b_)                                                   \
			skiff_test_note("%s:%d: %s == %lld, expected %s == %lld", __FILE__, \
					__LINE__, #a, skiff_a_, #b, skiff_b_);               \
		CU_ASSERT(skiff_a_ == skiff_b_);                                            \
	} while (0)

__attribute__((format(printf, 1, 2))) void skiff_test_note(const char *fmt, ...);

/*
 * Records the running test's row on the reliability scoreboard
 * (docs/reliability.md): @p fmt says what it measured ("1,000,000 frames
 * tried, 0 leaked"). When the test ends the harness adds its result (PASS
 * or FAIL), prints the row as "score NAME | FIGURE | RESULT" and appends it
 * to the file $SKIFF_SCOREBOARD names (ctest sets it to the build's
 * scoreboard.tsv); tests/reliability/scoreboard.sh turns that file into the
 * document's table. A later call in the same test replaces the figure.
 */
__attribute__((format(printf, 1, 2))) void skiff_test_score(const char *fmt, ...);

#endif
