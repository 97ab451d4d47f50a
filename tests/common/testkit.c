#include "testkit.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif

/* One line: @p prefix, then the message. */
static void say(FILE *f, const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, f);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
}

void tk_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(stderr, "  note: ", fmt, ap);
	va_end(ap);
}

#define SCORES_MAX 64

static struct score {
	char name[160];
	char figure[256];
} scores[SCORES_MAX];
static unsigned n_scores;
static const char *prog_name;

void tk_score(const char *fmt, ...)
{
	CU_pTest t = CU_get_current_test();
	CU_pSuite s = CU_get_current_suite();
	char name[sizeof(scores[0].name)];
	struct score *sc = NULL;
	const char *base = prog_name ? strrchr(prog_name, '/') : NULL;
	va_list ap;

	snprintf(name, sizeof(name), "%s.%s/%s", base ? base + 1 : (prog_name ? prog_name : "?"),
		 s ? s->pName : "?", t ? t->pName : "?");
	for (unsigned i = 0; i < n_scores && !sc; i++)
		if (strcmp(scores[i].name, name) == 0)
			sc = &scores[i];
	if (!sc) {
		if (n_scores == SCORES_MAX)
			return;
		sc = &scores[n_scores++];
		snprintf(sc->name, sizeof(sc->name), "%s", name);
	}
	va_start(ap, fmt);
	vsnprintf(sc->figure, sizeof(sc->figure), fmt, ap);
	va_end(ap);
#if defined(__SANITIZE_ADDRESS__)
	/* Same test, slower figures: say which build measured them. */
	strncat(sc->figure, " (ASan build)", sizeof(sc->figure) - strlen(sc->figure) - 1);
#endif
	/* The figure is one table cell: no tabs, no newlines, no pipes. */
	for (char *c = sc->figure; *c; c++)
		if (*c == '\t' || *c == '\n' || *c == '|')
			*c = ' ';
}

static bool test_failed(const char *suite, const char *test)
{
	for (CU_pFailureRecord f = CU_get_failure_list(); f; f = f->pNext)
		if (f->pSuite && f->pTest && strcmp(f->pSuite->pName, suite) == 0 &&
		    strcmp(f->pTest->pName, test) == 0)
			return true;
	return false;
}

/* One line per scored test, appended with a single write (ctest runs tests
 * in parallel; O_APPEND keeps whole lines). */
static void write_scores(void)
{
	const char *path = getenv("SKIFF_SCOREBOARD");
	char day[32];
	time_t now = time(NULL);
	int fd = -1;

	strftime(day, sizeof(day), "%Y-%m-%d %H:%M", localtime(&now));
	if (path && *path)
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	for (unsigned i = 0; i < n_scores; i++) {
		const char *st = strchr(scores[i].name, '.') + 1, *slash = strchr(st, '/');
		char suite[128], line[512];
		int n;

		snprintf(suite, sizeof(suite), "%.*s", (int)(slash - st), st);
		const char *result = test_failed(suite, slash + 1) ? "FAIL" : "PASS";
		printf("score %s | %s | %s\n", scores[i].name, scores[i].figure, result);
		n = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\n", day, scores[i].name,
			     scores[i].figure, result);
		if (fd >= 0 && n > 0 && write(fd, line, (size_t)n) != n)
			fprintf(stderr, "scoreboard: short write to %s\n", path);
	}
	if (fd >= 0)
		close(fd);
}

void tk_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(stdout, "SKIP: ", fmt, ap);
	va_end(ap);
	fflush(stdout);
	/* CUnit aborts if its registry goes while a test runs. */
	if (!CU_is_test_running())
		CU_cleanup_registry();
	exit(TK_SKIP_CODE);
}

void tk_require_privileged(void)
{
	int fd;

	if (geteuid() != 0)
		tk_skip("needs root (network namespaces, veth, AF_XDP)");
	if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0 &&
	    access("/usr/bin/ip", X_OK) != 0)
		tk_skip("needs iproute2's ip (tests/host/setup.sh installs it)");
	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		tk_skip("AF_XDP sockets unavailable here: %s", strerror(errno));
	close(fd);
}

static const struct tk_suite *find_suite(const char *name, size_t len)
{
	for (const struct tk_suite *const *s = tk_suites; *s; s++)
		if (strlen((*s)->name) == len && strncmp((*s)->name, name, len) == 0)
			return *s;
	return NULL;
}

/* Registers one suite with CUnit; only the test called `only` if non-NULL. */
static int add_suite(const struct tk_suite *s, const char *only)
{
	CU_pSuite cs =
		CU_add_suite_with_setup_and_teardown(s->name, NULL, NULL, s->setup, s->teardown);
	int n = 0;

	if (!cs)
		return -1;
	for (const struct tk_case *t = s->tests; t->name; t++) {
		if (only && strcmp(only, t->name) != 0)
			continue;
		if (!CU_add_test(cs, t->name, t->fn))
			return -1;
		n++;
	}
	return n;
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--list | --run SUITE/TEST | --suite SUITE]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	const char *run = NULL, *suite = NULL;
	unsigned failures, tests_failed, ran;
	int added = 0;

	prog_name = argv[0];
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (const struct tk_suite *const *s = tk_suites; *s; s++)
			for (const struct tk_case *t = (*s)->tests; t->name; t++)
				printf("%s/%s\n", (*s)->name, t->name);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--run") == 0)
		run = argv[2];
	else if (argc == 3 && strcmp(argv[1], "--suite") == 0)
		suite = argv[2];
	else if (argc != 1)
		return usage(argv[0]);

	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		return 1;
	}
	if (run) {
		const char *slash = strchr(run, '/');
		const struct tk_suite *s = slash ? find_suite(run, slash - run) : NULL;

		if (!s || (added = add_suite(s, slash + 1)) <= 0) {
			fprintf(stderr, "no test named '%s' (see --list)\n", run);
			CU_cleanup_registry();
			return 2;
		}
	} else {
		for (const struct tk_suite *const *s = tk_suites; *s; s++) {
			if (suite && strcmp(suite, (*s)->name) != 0)
				continue;
			int n = add_suite(*s, NULL);
			if (n < 0) {
				fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
				CU_cleanup_registry();
				return 1;
			}
			added += n;
		}
		if (!added) {
			fprintf(stderr, "no tests selected\n");
			CU_cleanup_registry();
			return 2;
		}
	}

	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	write_scores();
	/* CU_get_error() only reports framework errors: count real failures. */
	failures = CU_get_number_of_failures();
	tests_failed = CU_get_number_of_tests_failed();
	ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	fflush(stdout);
	if (failures || tests_failed || ran == 0)
		return 1;
	return 0;
}
