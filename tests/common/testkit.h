/**
 * @file
 * skiff's CUnit harness: each test binary lists its suites in
 * tk_suites[]; the shared main() runs one test (--run suite/test),
 * lists them (--list) or runs them all. A failing assertion makes the
 * process exit 1; a test that cannot run here exits with
 * TK_SKIP_CODE after printing one line that says why.
 */
#ifndef TESTKIT_H
#define TESTKIT_H

#include <CUnit/CUnit.h>
#include <stdbool.h>

#define TK_SKIP_CODE 77

struct tk_case {
	const char *name;
	void (*fn)(void);
};

struct tk_suite {
	const char *name;
	/* Run before and after each test; teardown may assert (leak checks). */
	void (*setup)(void);
	void (*teardown)(void);
	const struct tk_case *tests; /* ends with { NULL, NULL } */
};

#define TK_TEST(fn)                                                                                \
	{                                                                                          \
#fn, fn                                                                            \
	}
#define TK_TEST_END                                                                                \
	{                                                                                          \
		NULL, NULL                                                                         \
	}

/* Each test binary defines this, NULL-terminated. */
extern const struct tk_suite *const tk_suites[];

/* Ends the test with the skip code; fmt says why, on one line. */
__attribute__((noreturn, format(printf, 1, 2))) void tk_skip(const char *fmt, ...);

/* Skip unless running as root with network namespaces and AF_XDP usable. */
void tk_require_privileged(void);

/* CU_ASSERT_EQUAL that prints both values on failure. */
#define TK_ASSERT_EQ(a, b)                                                                         \
	do {                                                                                       \
		long long tk_a_ = (long long)(a), tk_b_ = (long long)(b);                          \
		if (tk_a_ != tk_b_)                                                                \
			tk_note("%s:%d: %s == %lld, expected %s == %lld", __FILE__, __LINE__, #a,  \
				tk_a_, #b, tk_b_);                                                 \
		CU_ASSERT(tk_a_ == tk_b_);                                                         \
	} while (0)

__attribute__((format(printf, 1, 2))) void tk_note(const char *fmt, ...);

/*
 * Records the running test's row on the reliability scoreboard
 * (docs/reliability.md): @p fmt says what it measured ("1,000,000 frames
 * tried, 0 leaked"). When the test ends the harness adds its result (PASS
 * or FAIL), prints the row as "score NAME | FIGURE | RESULT" and appends it
 * to the file $SKIFF_SCOREBOARD names (ctest sets it to the build's
 * scoreboard.tsv); tests/reliability/scoreboard.sh turns that file into the
 * document's table. A later call in the same test replaces the figure.
 */
__attribute__((format(printf, 1, 2))) void tk_score(const char *fmt, ...);

#endif
