/* Two skiff stacks, one per process, over a memlink wire: transfers verified
 * byte by byte and by SHA-256, with and without seeded faults (loss,
 * duplication, reordering), zero-copy both ways, connection semantics
 * (half-close, RST, refused), epoll. The parent's stack is end 0, the
 * child's end 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stack_test.h"

#define PORT 5001

static struct {
	struct umem_memlink *w;
	bool up;
	pid_t child;
} P;

struct faults {
	uint32_t drop_ppm, duplicate_ppm, reorder_ppm;
};

typedef int (*role_fn)(void *arg);

struct child_args {
	role_fn fn;
	void *arg;
	struct faults f;
};

static void set_faults(unsigned end, const struct faults *f, uint64_t seed)
{
	struct umem_memlink_faults mf = {
		.seed = seed,
		.drop_ppm = f->drop_ppm,
		.duplicate_ppm = f->duplicate_ppm,
		.reorder_ppm = f->reorder_ppm,
	};

	if (f->drop_ppm || f->duplicate_ppm || f->reorder_ppm)
		umem_memlink_set_faults(P.w, end, &mf);
}

static int child_main(void *arg)
{
	struct child_args *ca = arg;
	struct skiff_config c = st_memlink_config(P.w, 1);
	int rc, e;

	e = skiff_init(&c);
	if (e) {
		st_log("child skiff_init: %s (%s)", strerror(-e), skiff_last_error());
		return 90;
	}
	set_faults(1, &ca->f, 0x5eed0001);
	rc = ca->fn(ca->arg);
	if (getenv("ST_VERBOSE"))
		st_dump_stats("child");
	if (!rc && !st_wait_idle(5000))
		rc = 91;
	skiff_fini();
	return rc;
}

static void pair_up(role_fn child, void *arg, const struct faults *f)
{
	static struct child_args ca;
	struct skiff_config c;
	int e;

	P.w = st_memlink_create();
	CU_ASSERT_FATAL(P.w != NULL);
	ca = (struct child_args){.fn = child, .arg = arg};
	if (f)
		ca.f = *f;
	/* Fork before either UMEM exists: each process builds its own. */
	P.child = st_child_start(child_main, &ca);
	CU_ASSERT_FATAL(P.child > 0);
	c = st_memlink_config(P.w, 0);
	e = skiff_init(&c);
	if (e)
		skiff_test_note("skiff_init: %s (%s)", strerror(-e), skiff_last_error());
	CU_ASSERT_FATAL(e == 0);
	P.up = true;
	if (f)
		set_faults(0, f, 0x5eed0000);
}

/* The child's exit code (0 = it passed). */
static int pair_wait_child(int ms)
{
	int rc = st_child_wait(P.child, ms);

	P.child = 0;
	if (rc)
		skiff_test_note("child exited with %d", rc);
	return rc;
}

static void setup(void)
{
	memset(&P, 0, sizeof(P));
}

static void teardown(void)
{
	if (P.child > 0)
		st_child_wait(P.child, 1000);
	if (P.up) {
		struct skiff_stats st;

		st_assert_idle();
		skiff_get_stats(&st);
		SKIFF_ASSERT_EQ(st.frames_total, st.frames_free + st.frames_fill);
		skiff_fini();
	}
	if (P.w)
		CU_ASSERT(umem_memlink_destroy(P.w) == 0);
	memset(&P, 0, sizeof(P));
}

/* ---- endpoints ------------------------------------------------------------ */

struct xfer_spec {
	int family;
	uint64_t bytes;
	uint64_t seed;
	bool zc_send, zc_recv;
	bool child_sends; /* else the parent sends */
};

static int listen_on(int family, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = skiff_socket(family, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	skiff_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((family == AF_INET ? skiff_bind(fd, (struct sockaddr *)&a4, sizeof(a4))
			       : skiff_bind(fd, (struct sockaddr *)&a6, sizeof(a6))) ||
	    skiff_listen(fd, 16)) {
		skiff_close(fd);
		return -1;
	}
	return fd;
}

static int connect_to(int family, const char *ip4, const char *ip6, uint16_t port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = skiff_socket(family, SOCK_STREAM, 0), r;

	if (fd < 0)
		return -1;
	inet_pton(AF_INET, ip4, &a4.sin_addr);
	inet_pton(AF_INET6, ip6, &a6.sin6_addr);
	r = family == AF_INET ? skiff_connect(fd, (struct sockaddr *)&a4, sizeof(a4))
			      : skiff_connect(fd, (struct sockaddr *)&a6, sizeof(a6));
	if (r) {
		int e = errno;

		skiff_close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* One end of a transfer: sends or receives per @p sending; reports its
 * struct st_xfer when @p report. */
static int run_end(int fd, const struct xfer_spec *x, bool sending, struct st_xfer *out)
{
	int rc;

	if (sending) {
		rc = st_send_stream(fd, x->seed, x->bytes, x->zc_send, out);
		/* Half-close: the receiver reads to EOF. */
		if (!rc && skiff_shutdown(fd, SHUT_WR))
			rc = -1;
		/* Wait for the peer to close after it read everything. */
		if (!rc) {
			char c;
			ssize_t n = skiff_recv(fd, &c, 1, 0);

			if (n != 0)
				rc = -1;
		}
	} else {
		rc = st_recv_stream(fd, x->seed, x->bytes, false, x->zc_recv, out);
	}
	skiff_close(fd);
	return rc;
}

static int child_xfer(void *arg)
{
	const struct xfer_spec *x = arg;
	struct st_xfer r;
	int fd, rc;

	fd = connect_to(x->family, ST_ML_IP4_0, ST_ML_IP6_0, PORT);
	if (fd < 0) {
		st_log("child connect: %s", strerror(errno));
		return 10;
	}
	rc = run_end(fd, x, x->child_sends, &r);
	st_child_report(&r, sizeof(r));
	return rc ? 11 : 0;
}

/* Parent listens, child connects; one of them sends x->bytes, the other
 * checks each byte and the digest. */
static void transfer(const struct xfer_spec *x, const struct faults *f)
{
	struct st_xfer mine, theirs;
	uint8_t want[32];
	int lfd, fd;
	struct skiff_stats st;

	pair_up(child_xfer, (void *)x, f);
	lfd = listen_on(x->family, PORT);
	CU_ASSERT_FATAL(lfd >= 0);
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	CU_ASSERT(run_end(fd, x, !x->child_sends, &mine) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 60000));
	SKIFF_ASSERT_EQ(pair_wait_child(30000), 0);
	st_pattern_digest(x->seed, x->bytes, want);
	SKIFF_ASSERT_EQ(mine.bytes, x->bytes);
	SKIFF_ASSERT_EQ(theirs.bytes, x->bytes);
	SKIFF_ASSERT_EQ(mine.bad + theirs.bad, 0);
	CU_ASSERT(memcmp(mine.digest, want, 32) == 0);
	CU_ASSERT(memcmp(theirs.digest, want, 32) == 0);
	{
		double s = x->child_sends ? mine.seconds : theirs.seconds;
		char hex[65];

		sha256_hex(want, hex);
		if (getenv("ST_VERBOSE"))
			st_dump_stats("parent");
		skiff_get_stats(&st);
		skiff_test_note("%llu bytes in %.2f s (%.0f Mbit/s), sha256 %.16s..., "
				"retransmits %llu, ooseq %llu, tx copied %llu, rx copied %llu, "
				"in place %llu, wire drops %llu (no fill %llu, rx full %llu)",
				(unsigned long long)x->bytes, s,
				s > 0 ? x->bytes * 8 / s / 1e6 : 0.0, hex,
				(unsigned long long)st.tcp_retransmits,
				(unsigned long long)st.tcp_ooseq,
				(unsigned long long)st.tx_copied_bytes,
				(unsigned long long)st.rx_copied_bytes,
				(unsigned long long)st.tx_inplace,
				(unsigned long long)st.xdp_rx_dropped,
				(unsigned long long)st.xdp_fill_ring_empty,
				(unsigned long long)st.xdp_rx_ring_full);
	}
}

/* ---- tests --------------------------------------------------------------- */

static void test_v4_64mib_to_parent(void)
{
	struct xfer_spec x = {
		.family = AF_INET, .bytes = 64 * ST_MIB, .seed = 1, .child_sends = true};

	transfer(&x, NULL);
}

static void test_v6_64mib_to_child(void)
{
	struct xfer_spec x = {.family = AF_INET6, .bytes = 64 * ST_MIB, .seed = 2};

	transfer(&x, NULL);
}

/* 5% loss, 1% duplication, 1% reordering, both directions. */
static const struct faults lossy = {.drop_ppm = 50000, .duplicate_ppm = 10000,
				    .reorder_ppm = 10000};

static void test_v4_faults_to_parent(void)
{
	struct xfer_spec x = {
		.family = AF_INET, .bytes = 64 * ST_MIB, .seed = 3, .child_sends = true};

	transfer(&x, &lossy);
}

static void test_v6_faults_zero_copy_to_child(void)
{
	struct xfer_spec x = {.family = AF_INET6,
			      .bytes = 64 * ST_MIB,
			      .seed = 4,
			      .zc_send = true,
			      .zc_recv = true};

	transfer(&x, &lossy);
}

static const struct skiff_test_case tests[] = {
	SKIFF_TEST(test_v4_faults_to_parent),
	SKIFF_TEST(test_v6_faults_zero_copy_to_child),
	SKIFF_TEST(test_v4_64mib_to_parent),
	SKIFF_TEST(test_v6_64mib_to_child),
	SKIFF_TEST_END,
};

static const struct skiff_test_suite suite = {"pair", setup, teardown, tests};
const struct skiff_test_suite *const skiff_test_suites[] = {&suite, NULL};
