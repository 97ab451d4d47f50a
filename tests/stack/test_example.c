/* docs/api.md's example (example_echo.c) builds, runs over a memlink wire
 * (server here, client in a child), and is what the document quotes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack_test.h"

int echo_server(uint16_t port, int count);
int echo_client(const char *server, uint16_t port, const char *msg, char *out, size_t len);

#define PORT 7007

static struct skiff_memlink *wire;

static int client(void *arg)
{
	struct skiff_config c = st_memlink_config(wire, 1);
	char out[256];
	int rc = 0;

	(void)arg;
	if (skiff_init(&c))
		return 90;
	for (int i = 0; i < 3 && !rc; i++) {
		char msg[64];

		snprintf(msg, sizeof(msg), "hello %d from the client\n", i);
		if (echo_client(ST_ML_IP4_0, PORT, msg, out, sizeof(out)) != 0)
			rc = 10 + i;
		else if (strcmp(out, msg) != 0)
			rc = 20 + i;
	}
	if (!rc && !st_wait_idle(3000))
		rc = 30;
	skiff_fini();
	return rc;
}

static void test_example_runs(void)
{
	struct skiff_config c;
	pid_t pid;

	wire = st_memlink_create();
	CU_ASSERT_FATAL(wire != NULL);
	pid = st_child_start(client, NULL);
	CU_ASSERT_FATAL(pid > 0);
	c = st_memlink_config(wire, 0);
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	TK_ASSERT_EQ(echo_server(PORT, 3), 0);
	TK_ASSERT_EQ(st_child_wait(pid, 10000), 0);
	st_assert_idle();
	skiff_fini();
	CU_ASSERT(skiff_memlink_destroy(wire) == 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The document quotes the example from "int echo_server" to the end. */
static void test_docs_quote_the_example(void)
{
	char *doc = slurp(SKIFF_SOURCE_DIR "/docs/api.md");
	char *src = slurp(SKIFF_SOURCE_DIR "/tests/stack/example_echo.c");
	char *from;

	CU_ASSERT_FATAL(doc && src);
	from = strstr(src, "#define MAX_EVENTS");
	CU_ASSERT_FATAL(from != NULL);
	if (!strstr(doc, from))
		tk_note("docs/api.md does not quote tests/stack/example_echo.c from "
			"'#define MAX_EVENTS' to its end");
	CU_ASSERT(strstr(doc, from) != NULL);
	free(doc);
	free(src);
}

static const struct tk_case tests[] = {
	TK_TEST(test_example_runs),
	TK_TEST(test_docs_quote_the_example),
	TK_TEST_END,
};

static const struct tk_suite suite = {"example", NULL, NULL, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
