#include "skiff_test.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif

void skiff_test_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("  note: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void skiff_test_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("SKIP: ", stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
	/* CUnit aborts if its registry goes while a test runs. */
	if (!CU_is_test_running())
		CU_cleanup_registry();
	exit(SKIFF_TEST_SKIP_CODE);
}

void skiff_test_require_privileged(void)
{
	int fd;

	if (geteuid() != 0)
		skiff_test_skip("needs root (network namespaces, veth, AF_XDP)");
	if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0 &&
	    access("/usr/bin/ip", X_OK) != 0)
		skiff_test_skip("needs iproute2's ip (tests/host/setup.sh installs it)");
	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		skiff_test_skip("AF_XDP sockets unavailable here: %s", strerror(errno));
	close(fd);
}

static const struct skiff_test_suite *find_suite(const char *name, size_t len)
{
	for (const struct skiff_test_suite *const *s = skiff_test_suites; *s; s++)
		if (strlen((*s)->name) == len && strncmp((*s)->name, name, len) == 0)
			return *s;
	return NULL;
}

/* Registers one suite with CUnit; only the test called `only` if non-NULL. */
static int add_suite(const struct skiff_test_suite *s, const char *only)
{
	CU_pSuite cs = CU_add_suite_with_setup_and_teardown(s->name, NULL, NULL, s->setup,
							    s->teardown);
	int n = 0;

	if (!cs)
		return -1;
	for (const struct skiff_test_case *t = s->tests; t->name; t++) {
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

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (const struct skiff_test_suite *const *s = skiff_test_suites; *s; s++)
			for (const struct skiff_test_case *t = (*s)->tests; t->name; t++)
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
		const struct skiff_test_suite *s = slash ? find_suite(run, slash - run) : NULL;

		if (!s || (added = add_suite(s, slash + 1)) <= 0) {
			fprintf(stderr, "no test named '%s' (see --list)\n", run);
			CU_cleanup_registry();
			return 2;
		}
	} else {
		for (const struct skiff_test_suite *const *s = skiff_test_suites; *s; s++) {
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
