/* apps/common/loadgen.c over kernel sockets on loopback (no root): it
 * passes a correct echo server (echo_server.c, copying) and catches a
 * wrong one, and report.c prints its verdict. The echo server runs in the
 * same thread, from the load generator's tick. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "loadgen.h"
#include "report.h"
#include "testkit.h"

static struct {
	struct echo_server *e;
	/* faults the echo server's socket calls inject */
	uint64_t sent_total, recv_total;
	uint64_t corrupt_at; /* flip the byte with this index (1-based) of the echo */
	uint64_t eof_after;  /* pretend the client closed after this many bytes */
} env;

static ssize_t bad_send(int fd, const void *buf, size_t len, int flags)
{
	uint8_t tmp[65536];
	ssize_t n;

	if (len > sizeof(tmp))
		len = sizeof(tmp);
	memcpy(tmp, buf, len);
	if (env.corrupt_at > env.sent_total && env.corrupt_at <= env.sent_total + len)
		tmp[env.corrupt_at - env.sent_total - 1] ^= 0x20;
	n = socktab_kernel.send(fd, tmp, len, flags);
	if (n > 0)
		env.sent_total += (uint64_t)n;
	return n;
}

static ssize_t bad_recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n;

	if (env.eof_after && env.recv_total >= env.eof_after)
		return 0;
	n = socktab_kernel.recv(fd, buf, len, flags);
	if (n > 0)
		env.recv_total += (uint64_t)n;
	return n;
}

static struct socktab faulty_ops(void)
{
	struct socktab o = socktab_kernel;

	o.name = "faulty";
	o.send = bad_send;
	o.recv = bad_recv;
	return o;
}

static void serve(void *arg)
{
	echo_server_step(arg, 0);
}

/* A configuration for @p conns connections to @p port on loopback. */
static struct lg_config config_to(uint16_t port, unsigned conns)
{
	struct sockaddr_in *a;
	struct lg_config cfg;

	CU_ASSERT_FATAL(port != 0);
	memset(&cfg, 0, sizeof(cfg));
	a = (struct sockaddr_in *)&cfg.dst;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg.dst_len = sizeof(*a);
	cfg.conns = conns;
	return cfg;
}

/* The echo server over @p server_ops, and a load for it. */
static struct lg_config loopback_config(const struct socktab *server_ops)
{
	struct echo_config ec = {.ops = server_ops, .ipv4 = true};
	struct lg_config cfg;

	CU_ASSERT_FATAL(echo_server_open(&env.e, &ec) == 0);
	cfg = config_to(echo_server_port(env.e), 8);
	cfg.requests = 100;
	cfg.max_size = 20000;
	cfg.wait_ms = -1;
	cfg.stall_ms = 2000;
	cfg.tick = serve;
	cfg.tick_arg = env.e;
	return cfg;
}

/* A TCP socket bound to a free loopback port, which *port receives. */
static int bound_socket(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	CU_ASSERT_FATAL(l >= 0);
	CU_ASSERT_FATAL(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	*port = ntohs(a.sin_port);
	return l;
}

static void setup(void)
{
	memset(&env, 0, sizeof(env));
}

static void teardown(void)
{
	echo_server_close(env.e);
	env.e = NULL;
}

static void test_passes_a_correct_echo(void)
{
	struct lg_config cfg = loopback_config(&socktab_kernel);
	struct lg_result r;

	TK_ASSERT_EQ(lg_run(&cfg, &socktab_kernel, &r), 0);
	CU_ASSERT(lg_passed(&r));
	TK_ASSERT_EQ(r.requests_done, 800);
	TK_ASSERT_EQ(r.conns_done, 8);
	TK_ASSERT_EQ(r.bad_bytes, 0);
	TK_ASSERT_EQ(r.bytes_sent, r.bytes_verified);
	CU_ASSERT(r.lat_p50_us > 0 && r.lat_p50_us <= r.lat_p99_us &&
		  r.lat_p99_us <= r.lat_max_us * 1.04);
	if (r.first_error[0])
		tk_note("%s", r.first_error);
}

/* The same seed makes the same requests: the byte count repeats. */
static void test_same_seed_same_load(void)
{
	struct lg_config cfg = loopback_config(&socktab_kernel);
	struct lg_result a, b;

	cfg.seed = 42;
	CU_ASSERT(lg_run(&cfg, &socktab_kernel, &a) == 0);
	CU_ASSERT(lg_run(&cfg, &socktab_kernel, &b) == 0);
	TK_ASSERT_EQ(a.bytes_sent, b.bytes_sent);
	cfg.seed = 43;
	CU_ASSERT(lg_run(&cfg, &socktab_kernel, &b) == 0);
	CU_ASSERT(a.bytes_sent != b.bytes_sent);
}

static void test_catches_one_flipped_byte(void)
{
	struct socktab bad = faulty_ops();
	struct lg_config cfg = loopback_config(&bad);
	struct lg_result r;

	env.corrupt_at = 123457;
	TK_ASSERT_EQ(lg_run(&cfg, &socktab_kernel, &r), -EIO);
	CU_ASSERT(!lg_passed(&r));
	TK_ASSERT_EQ(r.bad_bytes, 1);
	TK_ASSERT_EQ(r.requests_done, r.requests_planned); /* a wrong byte is still a byte */
	CU_ASSERT(strstr(r.first_error, "bad bytes") != NULL);
}

static void test_catches_an_early_close(void)
{
	struct socktab bad = faulty_ops();
	struct lg_config cfg = loopback_config(&bad);
	struct lg_result r;

	cfg.conns = 1;
	env.eof_after = 50000;
	TK_ASSERT_EQ(lg_run(&cfg, &socktab_kernel, &r), -EIO);
	TK_ASSERT_EQ(r.conns_failed, 1);
	CU_ASSERT(r.requests_done < r.requests_planned);
	CU_ASSERT(strstr(r.first_error, "closed the connection early") != NULL);
}

/* A listener that never answers: the run gives up instead of hanging. */
static void test_gives_up_when_stalled(void)
{
	struct lg_config cfg;
	struct lg_result r;
	uint16_t port;
	int l = bound_socket(&port);

	CU_ASSERT_FATAL(listen(l, 16) == 0);
	cfg = config_to(port, 2);
	cfg.stall_ms = 300;
	TK_ASSERT_EQ(lg_run(&cfg, &socktab_kernel, &r), -EIO);
	CU_ASSERT(r.stalled);
	TK_ASSERT_EQ(r.conns_failed, 2);
	close(l);
}

static void test_refused_connections_fail(void)
{
	struct lg_config cfg;
	struct lg_result r;
	uint16_t port;

	/* A port that was free a moment ago: nothing listens there. */
	close(bound_socket(&port));
	cfg = config_to(port, 3);
	TK_ASSERT_EQ(lg_run(&cfg, &socktab_kernel, &r), -EIO);
	TK_ASSERT_EQ(r.conns_failed, 3);
	TK_ASSERT_EQ(r.first_errno, ECONNREFUSED);
}

static void test_verdict_lines(void)
{
	struct lg_result r = {.requests_done = 64000,
			      .requests_planned = 64000,
			      .conns = 64,
			      .conns_done = 64,
			      .elapsed_s = 2};
	char buf[2048];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	CU_ASSERT_FATAL(f != NULL);
	report_load(f, "echo", &r);
	r.bad_bytes = 3;
	report_load(f, "echo", &r);
	fclose(f);
	CU_ASSERT(strstr(buf, "verdict: PASS 64 connections x 1000 requests, 0 bad bytes\n") !=
		  NULL);
	CU_ASSERT(strstr(buf, "verdict: FAIL 64000 of 64000 requests answered, 0 of 64 connections "
			      "failed, 3 bad bytes\n") != NULL);
	CU_ASSERT(strstr(buf, "requests/s  32.0k") != NULL);
}

static const struct tk_case tests[] = {
	TK_TEST(test_passes_a_correct_echo),
	TK_TEST(test_same_seed_same_load),
	TK_TEST(test_catches_one_flipped_byte),
	TK_TEST(test_catches_an_early_close),
	TK_TEST(test_gives_up_when_stalled),
	TK_TEST(test_refused_connections_fail),
	TK_TEST(test_verdict_lines),
	TK_TEST_END,
};

static const struct tk_suite suite = {"loadgen", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
