/* Unit tests that need no root and no peer: lwIP's err_t to errno, SipHash
 * and the RFC 6528 ISN, the tests' SHA-256, and the API's errno for misuse
 * (a stack on one end of an in-process memlink wire). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../stack/skiff_testing.h"
#include "stack_test.h"

/* ---- err_t to errno --------------------------------------------------------- */

/* lwIP's err_t values (lwip/err.h), spelled out: tests see no lwIP header. */
static void test_err_table(void)
{
	static const struct {
		int8_t err;
		int want;
	} t[] = {
		{0, 0},		     /* ERR_OK */
		{-1, ENOMEM},	     /* ERR_MEM */
		{-2, ENOBUFS},	     /* ERR_BUF */
		{-3, ETIMEDOUT},     /* ERR_TIMEOUT */
		{-4, EHOSTUNREACH},  /* ERR_RTE */
		{-5, EINPROGRESS},   /* ERR_INPROGRESS */
		{-6, EINVAL},	     /* ERR_VAL */
		{-7, EWOULDBLOCK},   /* ERR_WOULDBLOCK */
		{-8, EADDRINUSE},    /* ERR_USE */
		{-9, EALREADY},	     /* ERR_ALREADY */
		{-10, EISCONN},	     /* ERR_ISCONN */
		{-11, ENOTCONN},     /* ERR_CONN */
		{-12, ENETDOWN},     /* ERR_IF */
		{-13, ECONNABORTED}, /* ERR_ABRT */
		{-14, ECONNRESET},   /* ERR_RST */
		{-15, ENOTCONN},     /* ERR_CLSD */
		{-16, EINVAL},	     /* ERR_ARG */
		{-17, EIO},	     /* unknown */
		{42, EIO},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = skiff__errno(t[i].err);

		if (got != t[i].want)
			tk_note("err %d -> %d, want %d", t[i].err, got, t[i].want);
		CU_ASSERT(got == t[i].want);
	}
}

/* ---- SipHash and the ISN ------------------------------------------------------- */

/* The SipHash paper's vectors: key 00..0f, message 00..(n-1). */
static void test_siphash_vectors(void)
{
	static const struct {
		size_t len;
		uint64_t want;
	} v[] = {
		{0, 0x726fdb47dd0e0e31ull},
		{1, 0x74f839c593dc67fdull},
		{15, 0xa129ca6149be45e5ull},
		{63, 0x958a324ceb064572ull},
	};
	uint8_t key[16], msg[64];
	uint64_t k0 = 0, k1 = 0;

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int i = 7; i >= 0; i--) {
		k0 = k0 << 8 | key[i];
		k1 = k1 << 8 | key[8 + i];
	}
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t h = skiff__siphash24(k0, k1, msg, v[i].len);

		if (h != v[i].want)
			tk_note("len %zu: %016llx, want %016llx", v[i].len, (unsigned long long)h,
				(unsigned long long)v[i].want);
		CU_ASSERT(h == v[i].want);
	}
}

static int popcount32(uint32_t x)
{
	return __builtin_popcount(x);
}

/* RFC 6528: ISNs for different 4-tuples look unrelated; for one tuple
 * they advance with the clock; another key gives other ISNs. */
static void test_isn_keyed_and_unpredictable(void)
{
	uint32_t la = htonl(0x0a000001), ra = htonl(0x0a000002);
	uint32_t a[1000], same1, same2, other;
	unsigned bits = 0, small_steps = 0;

	skiff__isn_key(0x0123456789abcdefull, 0xfedcba9876543210ull);
	for (int i = 0; i < 1000; i++)
		a[i] = skiff__isn_v4(la, 80, ra, (uint16_t)(40000 + i));
	/* Neighbouring ports: about half the bits differ, never a small step. */
	for (int i = 1; i < 1000; i++) {
		uint32_t d = a[i] - a[i - 1];

		bits += (unsigned)popcount32(a[i] ^ a[i - 1]);
		if (d < 65536 || d > 0xffffffffu - 65536)
			small_steps++;
	}
	tk_note("mean differing bits between neighbouring ports: %.2f of 32", bits / 999.0);
	CU_ASSERT(bits / 999.0 > 14.0 && bits / 999.0 < 18.0);
	CU_ASSERT(small_steps < 5);

	/* One tuple: the 4 us clock moves it forward, slowly. */
	same1 = skiff__isn_v4(la, 80, ra, 40000);
	usleep(2000);
	same2 = skiff__isn_v4(la, 80, ra, 40000);
	CU_ASSERT(same2 - same1 >= 400 && same2 - same1 < 100000);

	/* Another key: unrelated. */
	skiff__isn_key(1, 2);
	other = skiff__isn_v4(la, 80, ra, 40000);
	CU_ASSERT(popcount32(other ^ same2) > 4);
	CU_ASSERT((uint32_t)(other - same2) > 100000);
}

/* ---- SHA-256 ------------------------------------------------------------------------ */

/* The tests' stream check says what a wrong run held: another stretch of
 * the same stream (a frame sent twice, a mapping off), the other stream, or
 * bytes of neither. */
static void test_pattern_explain(void)
{
	static uint8_t buf[8192];
	struct st_xfer x;
	int64_t bad;

	st_pattern(ST_SEED_DOWN, 1000000, buf, sizeof(buf));
	/* 1448 bytes from offset 3000 of the read hold the stream's bytes
	 * from 5,000,000 on. */
	st_pattern(ST_SEED_DOWN, 5000000, buf + 3000, 1448);
	bad = st_pattern_check(ST_SEED_DOWN, 1000000, buf, sizeof(buf));
	TK_ASSERT_EQ(bad, 3000);
	memset(&x, 0, sizeof(x));
	st_pattern_explain(ST_SEED_DOWN, 1000000, buf, sizeof(buf), (size_t)bad, &x);
	TK_ASSERT_EQ(x.bad_len, 1448);
	TK_ASSERT_EQ(x.bad_src_seed, ST_SEED_DOWN);
	TK_ASSERT_EQ(x.bad_src, 5000000);
	/* The other stream's bytes, at an offset before this one. */
	st_pattern(ST_SEED_DOWN, 1000000, buf, sizeof(buf));
	st_pattern(ST_SEED_UP, 777, buf + 100, 500);
	st_pattern_explain(ST_SEED_DOWN, 1000000, buf, sizeof(buf), 100, &x);
	TK_ASSERT_EQ(x.bad_len, 500);
	TK_ASSERT_EQ(x.bad_src_seed, ST_SEED_UP);
	TK_ASSERT_EQ(x.bad_src, 777);
	/* Zeros: nobody's. */
	st_pattern(ST_SEED_DOWN, 1000000, buf, sizeof(buf));
	memset(buf + 4096, 0, 64);
	bad = st_pattern_check(ST_SEED_DOWN, 1000000, buf, sizeof(buf));
	CU_ASSERT(bad >= 4096 && bad < 4104);
	st_pattern_explain(ST_SEED_DOWN, 1000000, buf, sizeof(buf), (size_t)bad, &x);
	CU_ASSERT(x.bad_len <= 64 && x.bad_len > 56);
	TK_ASSERT_EQ(x.bad_src, -1);
}

static void test_sha256_vectors(void)
{
	static const char *const abc =
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char *const empty =
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	static const char *const two_blocks =
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char *const million_a =
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	uint8_t d[32], block[1000];
	char hex[65];
	struct sha256 c;

	sha256("abc", 3, d);
	sha256_hex(d, hex);
	CU_ASSERT_STRING_EQUAL(hex, abc);
	sha256("", 0, d);
	sha256_hex(d, hex);
	CU_ASSERT_STRING_EQUAL(hex, empty);
	sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	sha256_hex(d, hex);
	CU_ASSERT_STRING_EQUAL(hex, two_blocks);
	/* In odd-sized pieces, across block boundaries. */
	memset(block, 'a', sizeof(block));
	sha256_init(&c);
	for (size_t done = 0, n = 1; done < 1000000; done += n, n = n % 997 + 1) {
		if (n > 1000000 - done)
			n = 1000000 - done;
		sha256_update(&c, block, n);
	}
	sha256_final(&c, d);
	sha256_hex(d, hex);
	CU_ASSERT_STRING_EQUAL(hex, million_a);
}

/* ---- MPTCP's hashes ------------------------------------------------------------------ */

static uint64_t be64_of(const char *s)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | (uint8_t)s[i];
	return v;
}

/* MPTCP's SHA-256 (stack/mptcp/crypto.c, libcrypto) against FIPS 180-4's
 * vectors and the tests' SHA-256 over every length to 300 bytes; its
 * HMAC-SHA256 against the Linux kernel's MPTCP vectors
 * (net/mptcp/crypto_test.c: keys and nonces are the strings' bytes); a
 * key's token and IDSN (RFC 8684 3.1) against Python's hashlib. */
/* The DSS checksum against values worked out independently: by hand (the
 * pseudo-header's words 0, 0, 0, 1 | 0, 1 | 2 | 0 and the data's 0x0001 add
 * to 5: the checksum is ~5), and by Python's RFC 1071 sum over the
 * pseudo-header (struct.pack('!QIHH', dsn, ssn, dll, 0)) and 1001 bytes
 * i * 131 + 7, which come here in pieces of odd lengths. */
static void test_mptcp_dss_csum(void)
{
	static const uint8_t two[2] = {0x00, 0x01};
	uint8_t buf[1001];
	const uint8_t *piece[4];
	uint16_t len[4];

	piece[0] = two;
	len[0] = 2;
	TK_ASSERT_EQ(skiff__mptcp_dss_csum(1, 1, 2, piece, len, 1), 0xfffa);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	piece[0] = buf;
	len[0] = sizeof(buf);
	TK_ASSERT_EQ(skiff__mptcp_dss_csum(0x0123456789abcdefull, 0x12345, 1002, piece, len, 1),
		     0x0156);
	/* The same bytes as 3 + 500 + 1 + 497: pieces starting at odd offsets. */
	piece[0] = buf, len[0] = 3;
	piece[1] = buf + 3, len[1] = 500;
	piece[2] = buf + 503, len[2] = 1;
	piece[3] = buf + 504, len[3] = 497;
	TK_ASSERT_EQ(skiff__mptcp_dss_csum(0x0123456789abcdefull, 0x12345, 1002, piece, len, 4),
		     0x0156);
}

static void test_mptcp_crypto(void)
{
	static const struct {
		const char *key, *msg, *hmac;
	} kv[] = {
		{"0b0b0b0b0b0b0b0b", "48692054",
		 "8385e24fb4235ac37556b6b886db106284a1da671699f46db1f235ec622dcafa"},
		{"aaaaaaaaaaaaaaaa", "dddddddd",
		 "2c5e219164ff1dca1c4a92318d847bb6b9d44492984e1eb71aff9022f71046e9"},
		{"0102030405060708", "cdcdcdcd",
		 "e73b9ba9969969cefb04aa0d6df18ec2fcc075b6f23b4d8c4da736a5dbbc6e7d"},
	};
	uint8_t d[32], want[32], buf[300];
	char hex[65];
	uint32_t token;
	uint64_t idsn;

	TK_ASSERT_EQ(skiff__mptcp_sha256("abc", 3, d), 0);
	sha256_hex(d, hex);
	CU_ASSERT_STRING_EQUAL(hex,
			       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	TK_ASSERT_EQ(skiff__mptcp_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
					 56, d),
		     0);
	sha256_hex(d, hex);
	CU_ASSERT_STRING_EQUAL(hex,
			       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof(buf); n++) {
		sha256(buf, n, want);
		if (skiff__mptcp_sha256(buf, n, d) != 0 || memcmp(d, want, 32) != 0) {
			CU_FAIL("SHA-256 differs");
			tk_note("length %zu", n);
			break;
		}
	}
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		uint8_t msg[8];

		memcpy(msg, kv[i].msg, 8);
		TK_ASSERT_EQ(
			skiff__mptcp_hmac(be64_of(kv[i].key), be64_of(kv[i].key + 8), msg, 8, d),
			0);
		sha256_hex(d, hex);
		CU_ASSERT_STRING_EQUAL(hex, kv[i].hmac);
	}
	TK_ASSERT_EQ(skiff__mptcp_key_hash(0x0102030405060708ull, &token, &idsn), 0);
	TK_ASSERT_EQ(token, 0x66840ddau);
	TK_ASSERT_EQ(idsn, 0xf5a101d3d29d6f72ull);
	TK_ASSERT_EQ(skiff__mptcp_key_hash(0, &token, &idsn), 0);
	TK_ASSERT_EQ(token, 0xaf5570f5u);
	TK_ASSERT_EQ(idsn, 0xe5b2328de0e83dfcull);
}

/* ---- API misuse ---------------------------------------------------------------------- */

static struct {
	struct skiff_memlink *w;
	bool up;
} U;

static void api_setup(void)
{
	struct skiff_config c;

	memset(&U, 0, sizeof(U));
	U.w = st_memlink_create();
	CU_ASSERT_FATAL(U.w != NULL);
	c = st_memlink_config(U.w, 0);
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	U.up = true;
}

static void api_teardown(void)
{
	if (U.up) {
		st_assert_idle();
		skiff_fini();
	}
	if (U.w)
		CU_ASSERT(skiff_memlink_destroy(U.w) == 0);
	memset(&U, 0, sizeof(U));
}

#define EXPECT_ERRNO(call, e)                                                                      \
	do {                                                                                       \
		errno = 0;                                                                         \
		long long r_ = (long long)(call);                                                  \
		if (r_ != -1 || errno != (e))                                                      \
			tk_note("%s:%d: %s = %lld errno %d (%s), want -1 errno %d", __FILE__,      \
				__LINE__, #call, r_, errno, strerror(errno), (e));                 \
		CU_ASSERT(r_ == -1 && errno == (e));                                               \
	} while (0)

static struct sockaddr_in sin4(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static void test_not_running(void)
{
	struct skiff_config c;
	struct skiff_stats st;

	skiff_fini(); /* from api_setup */
	U.up = false;
	EXPECT_ERRNO(skiff_socket(AF_INET, SOCK_STREAM, 0), ENETDOWN);
	EXPECT_ERRNO(skiff_close(0), EBADF);
	EXPECT_ERRNO(skiff_epoll_create(0), ENETDOWN);
	TK_ASSERT_EQ(skiff_poll(0), -1);
	TK_ASSERT_EQ(errno, ENOTCONN);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.frames_total, 0);
	skiff_fini(); /* twice: fine */
	/* Bad configurations. */
	TK_ASSERT_EQ(skiff_init(NULL), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_XSK;
	TK_ASSERT_EQ(skiff_init(&c), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	CU_ASSERT(skiff_last_error()[0] != '\0');
	c = st_memlink_config(U.w, 2);
	TK_ASSERT_EQ(skiff_init(&c), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	c = st_memlink_config(U.w, 0);
	c.vlan_id = 4095;
	TK_ASSERT_EQ(skiff_init(&c), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	/* Rings that would take every frame (checked before any socket). */
	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_XSK;
	c.ifname = "lo";
	c.frame_count = 1024;
	c.ring_size = 1024;
	TK_ASSERT_EQ(skiff_init(&c), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	CU_ASSERT(strstr(skiff_last_error(), "rings of 1024 need at least 2048") != NULL);
	/* And a good one again, twice. */
	c = st_memlink_config(U.w, 0);
	TK_ASSERT_EQ(skiff_init(&c), 0);
	U.up = true;
	TK_ASSERT_EQ(skiff_init(&c), -1);
	TK_ASSERT_EQ(errno, EALREADY);
}

static void test_bad_descriptors(void)
{
	char b[4];
	int fd = skiff_socket(AF_INET, SOCK_STREAM, 0);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_close(fd) == 0);
	EXPECT_ERRNO(skiff_close(fd), EBADF);
	EXPECT_ERRNO(skiff_send(fd, b, 1, 0), EBADF);
	EXPECT_ERRNO(skiff_recv(-1, b, 1, 0), EBADF);
	EXPECT_ERRNO(skiff_listen(1 << 30, 1), EBADF);
	EXPECT_ERRNO(skiff_set_nonblock(77, true), EBADF);
	TK_ASSERT_EQ(skiff_zc_set_callback(fd, NULL, NULL), -1);
	TK_ASSERT_EQ(errno, EBADF);
	/* The lowest free descriptor comes back. */
	TK_ASSERT_EQ(skiff_socket(AF_INET, SOCK_DGRAM, 0), fd);
	CU_ASSERT(skiff_close(fd) == 0);
}

static void test_socket_arguments(void)
{
	EXPECT_ERRNO(skiff_socket(AF_UNIX, SOCK_STREAM, 0), EAFNOSUPPORT);
	EXPECT_ERRNO(skiff_socket(AF_INET, SOCK_RAW, 0), EPROTONOSUPPORT);
	EXPECT_ERRNO(skiff_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	EXPECT_ERRNO(skiff_socket(AF_INET6, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
}

static void test_unconnected_tcp(void)
{
	struct sockaddr_in a = sin4(ST_ML_IP4_0, 7000), other = sin4("10.9.0.77", 7000);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(7000)};
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char b[4] = "abc";
	int fd = skiff_socket(AF_INET, SOCK_STREAM, 0), fd2, ufd;

	CU_ASSERT_FATAL(fd >= 0);
	EXPECT_ERRNO(skiff_send(fd, b, 3, 0), ENOTCONN);
	EXPECT_ERRNO(skiff_recv(fd, b, 3, 0), ENOTCONN);
	EXPECT_ERRNO(skiff_getpeername(fd, (struct sockaddr *)&ss, &len), ENOTCONN);
	EXPECT_ERRNO(skiff_shutdown(fd, SHUT_WR), ENOTCONN);
	EXPECT_ERRNO(skiff_shutdown(fd, 42), EINVAL);
	EXPECT_ERRNO(skiff_accept(fd, NULL, NULL, 0), EINVAL);
	EXPECT_ERRNO(skiff_bind(fd, (struct sockaddr *)&a6, sizeof(a6)), EAFNOSUPPORT);
	EXPECT_ERRNO(skiff_bind(fd, (struct sockaddr *)&other, sizeof(other)), EADDRNOTAVAIL);
	EXPECT_ERRNO(skiff_bind(fd, (struct sockaddr *)&a, 4), EINVAL);
	CU_ASSERT(skiff_bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	EXPECT_ERRNO(skiff_bind(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	fd2 = skiff_socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_ERRNO(skiff_bind(fd2, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE);
	CU_ASSERT(skiff_listen(fd, 4) == 0);
	CU_ASSERT(skiff_listen(fd, 8) == 0); /* again: new backlog */
	EXPECT_ERRNO(skiff_connect(fd, (struct sockaddr *)&a, sizeof(a)), EINVAL);
	EXPECT_ERRNO(skiff_send(fd, b, 3, 0), ENOTCONN);
	CU_ASSERT(skiff_set_nonblock(fd, true) == 0);
	EXPECT_ERRNO(skiff_accept(fd, NULL, NULL, 0), EAGAIN);
	EXPECT_ERRNO(skiff_accept(fd, NULL, NULL, 12345), EINVAL);
	/* Listening on a UDP socket. */
	ufd = skiff_socket(AF_INET, SOCK_DGRAM, 0);
	EXPECT_ERRNO(skiff_listen(ufd, 1), EOPNOTSUPP);
	EXPECT_ERRNO(skiff_send(ufd, b, 3, 0), EDESTADDRREQ);
	CU_ASSERT(skiff_close(ufd) == 0);
	CU_ASSERT(skiff_close(fd2) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
}

static void test_blocking_timeouts(void)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
	struct sockaddr_in a = sin4(ST_ML_IP4_0, 7001);
	long long t0;
	int fd = skiff_socket(AF_INET, SOCK_STREAM, 0);

	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	CU_ASSERT(skiff_bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT(skiff_listen(fd, 1) == 0);
	t0 = st_now_ms();
	/* Nobody connects: accept times out after SO_RCVTIMEO. */
	EXPECT_ERRNO(skiff_accept(fd, NULL, NULL, 0), EAGAIN);
	CU_ASSERT(st_now_ms() - t0 >= 90 && st_now_ms() - t0 < 2000);
	CU_ASSERT(skiff_close(fd) == 0);
}

static void test_options(void)
{
	int fd = skiff_socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0), v = 1, got = 0;
	socklen_t len = sizeof(got);
	struct timeval tv = {.tv_sec = 1, .tv_usec = 500000}, tv2;
	struct linger l = {1, 0};

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0);
	CU_ASSERT(skiff_getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &got, &len) == 0 && got == 1);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) == 0);
	len = sizeof(got);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &got, &len) == 0 && got == 1);
	len = sizeof(got);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_TYPE, &got, &len) == 0 && got == SOCK_STREAM);
	len = sizeof(got);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &got, &len) == 0 && got == AF_INET6);
	len = sizeof(got);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_ERROR, &got, &len) == 0 && got == 0);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
	len = sizeof(tv2);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv2, &len) == 0);
	CU_ASSERT(tv2.tv_sec == 1 && tv2.tv_usec == 500000);
	tv.tv_usec = 2000000;
	EXPECT_ERRNO(skiff_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), EDOM);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0);
	CU_ASSERT(skiff_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)) == 0);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SKIFF, SKIFF_SO_REQUIRE_SECPATH, &v, sizeof(v)) == 0);
	len = sizeof(got);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SKIFF, SKIFF_SO_REQUIRE_SECPATH, &got, &len) == 0 &&
		  got == 1);
	EXPECT_ERRNO(skiff_setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof(v)), ENOPROTOOPT);
	EXPECT_ERRNO(skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, 1), EINVAL);
	EXPECT_ERRNO(skiff_getsockopt(fd, 999, 1, &got, &len), ENOPROTOOPT);
	CU_ASSERT(skiff_close(fd) == 0);
}

static void test_epoll_misuse(void)
{
	struct epoll_event ev = {.events = EPOLLIN}, out[4];
	int ep = skiff_epoll_create(0), fd = skiff_socket(AF_INET, SOCK_DGRAM, 0);

	CU_ASSERT_FATAL(ep >= 0 && fd >= 0);
	EXPECT_ERRNO(skiff_epoll_create(12345), EINVAL);
	EXPECT_ERRNO(skiff_epoll_ctl(fd, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	EXPECT_ERRNO(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
	EXPECT_ERRNO(skiff_epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev), ENOENT);
	EXPECT_ERRNO(skiff_epoll_ctl(ep, EPOLL_CTL_DEL, fd, &ev), ENOENT);
	CU_ASSERT(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	EXPECT_ERRNO(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), EEXIST);
	EXPECT_ERRNO(skiff_epoll_ctl(ep, 99, fd, &ev), EINVAL);
	EXPECT_ERRNO(skiff_epoll_wait(ep, out, 0, 0), EINVAL);
	EXPECT_ERRNO(skiff_epoll_wait(fd, out, 4, 0), EINVAL);
	/* A UDP socket is writable at once; nothing to read. */
	ev.events = EPOLLIN | EPOLLOUT;
	CU_ASSERT(skiff_epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0);
	TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 4, 0), 1);
	CU_ASSERT(out[0].events == EPOLLOUT);
	/* Closing the socket takes it out of the set. */
	CU_ASSERT(skiff_close(fd) == 0);
	TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 4, 50), 0);
	EXPECT_ERRNO(skiff_send(ep, "x", 1, 0), ENOTSOCK);
	CU_ASSERT(skiff_close(ep) == 0);
}

/* More ready than one call takes: each call goes on where the last one
 * stopped, as Linux's does, and level-triggered ones come round again. */
static void test_epoll_round_robin(void)
{
	struct epoll_event ev = {.events = EPOLLOUT}, out[2];
	int ep = skiff_epoll_create(0), fd[3];

	CU_ASSERT_FATAL(ep >= 0);
	for (int i = 0; i < 3; i++) {
		fd[i] = skiff_socket(AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_FATAL(fd[i] >= 0);
		ev.data.fd = fd[i];
		CU_ASSERT(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev) == 0);
	}
	/* Registered 0, 1, 2: each UDP socket is writable at once. */
	for (int k = 0; k < 4; k++) {
		TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 1, 0), 1);
		TK_ASSERT_EQ(out[0].data.fd, fd[k % 3]);
	}
	/* Two at a time: 1 and 2, then 0 and 1. */
	TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 2, 0), 2);
	TK_ASSERT_EQ(out[0].data.fd, fd[1]);
	TK_ASSERT_EQ(out[1].data.fd, fd[2]);
	TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 2, 0), 2);
	TK_ASSERT_EQ(out[0].data.fd, fd[0]);
	TK_ASSERT_EQ(out[1].data.fd, fd[1]);
	/* One closed in the part not looked at yet leaves the list whole. */
	CU_ASSERT(skiff_close(fd[2]) == 0);
	TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 2, 0), 2);
	CU_ASSERT(out[0].data.fd != fd[2] && out[1].data.fd != fd[2]);
	CU_ASSERT(skiff_close(fd[0]) == 0);
	CU_ASSERT(skiff_close(fd[1]) == 0);
	TK_ASSERT_EQ(skiff_epoll_wait(ep, out, 2, 0), 0);
	CU_ASSERT(skiff_close(ep) == 0);
}

static void test_zero_copy_misuse(void)
{
	struct skiff_zc_buf b;
	struct skiff_zc_loan l;
	int fd = skiff_socket(AF_INET, SOCK_STREAM, 0), ufd = skiff_socket(AF_INET, SOCK_DGRAM, 0);

	TK_ASSERT_EQ(skiff_zc_alloc(fd, &b), -1);
	TK_ASSERT_EQ(errno, ENOTCONN);
	TK_ASSERT_EQ(skiff_zc_alloc(ufd, &b), -1);
	TK_ASSERT_EQ(errno, ENOTSUP);
	TK_ASSERT_EQ(skiff_zc_alloc(-1, &b), 0);
	CU_ASSERT(b.data && b.cap == 1448);
	b.len = b.cap + 1;
	EXPECT_ERRNO(skiff_zc_send(fd, &b, 1, 0), EINVAL);
	b.len = 10;
	EXPECT_ERRNO(skiff_zc_send(fd, &b, 1, 0), ENOTCONN);
	EXPECT_ERRNO(skiff_zc_send(fd, &b, 0, 0), EINVAL);
	EXPECT_ERRNO(skiff_zc_send(ufd, &b, 1, 0), ENOTSUP);
	skiff_zc_free(&b);
	skiff_zc_free(&b); /* empty: nothing */
	EXPECT_ERRNO(skiff_zc_recv(fd, &l, 1, 0), ENOTCONN);
	EXPECT_ERRNO(skiff_zc_send(fd, NULL, 1, 0), EINVAL);
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT(skiff_close(ufd) == 0);
}

/* RFC 1071 the slow way: 16-bit words as memory holds them, the odd byte
 * as the first byte of a zero-padded word, carries folded at the end. */
static uint16_t chksum_reference(const uint8_t *p, int len)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i + 1 < len; i += 2) {
		uint16_t w;

		memcpy(&w, p + i, 2);
		sum += w;
	}
	if (i < len) {
		uint16_t w = 0;

		memcpy(&w, p + i, 1);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The fast checksum (64-bit sums, AVX2 where the CPU has it) agrees with
 * the definition at every length and alignment, on random and on all-ones
 * data (the carry-heavy case), and the copying variant copies exactly. */
static void test_checksum_matches_rfc1071(void)
{
	static uint8_t buf[4096 + 64], dst[4096 + 64];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned bad = 0, bad_copy = 0, runs = 0;

	for (int fill = 0; fill < 2; fill++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = fill ? 0xff : (uint8_t)x;
		}
		for (int len = 0; len <= 4096; len += len < 80 ? 1 : 37) {
			for (int off = 0; off < 33; off += off < 8 ? 1 : 8) {
				uint16_t want = chksum_reference(buf + off, len);

				runs++;
				bad += skiff__chksum(buf + off, len) != want;
				memset(dst, 0, sizeof(dst));
				bad_copy += skiff__chksum_copy(dst + (off ^ 5), buf + off,
							       (uint16_t)len) != want ||
					    memcmp(dst + (off ^ 5), buf + off, (size_t)len) != 0;
			}
		}
	}
	TK_ASSERT_EQ(bad, 0);
	TK_ASSERT_EQ(bad_copy, 0);
	tk_note("%u lengths x alignments checked", runs);
}

/* The ring holds a segment of each connection expected at once, the UMEM
 * twice the ring; the defaults below 2048 and the cap above 131072. */
static void test_sizes_for_connections(void)
{
	static const struct {
		uint32_t conns, ring, frames;
	} cases[] = {
		{0, 2048, 16384},	  {64, 2048, 16384},	      {2048, 2048, 16384},
		{2049, 4096, 16384},	  {8192, 8192, 16384},	      {10000, 16384, 32768},
		{100000, 131072, 262144}, {1u << 24, 131072, 262144},
	};
	uint32_t ring, frames;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		skiff_sizes_for(cases[i].conns, &ring, &frames);
		TK_ASSERT_EQ(ring, cases[i].ring);
		TK_ASSERT_EQ(frames, cases[i].frames);
		CU_ASSERT(ring <= frames / 2); /* what skiff_init() asks of them */
	}
	skiff_sizes_for(10000, NULL, NULL);
	skiff_sizes_for(10000, &ring, NULL);
	TK_ASSERT_EQ(ring, 16384);
}

static const struct tk_case pure_tests[] = {
	TK_TEST(test_err_table),
	TK_TEST(test_siphash_vectors),
	TK_TEST(test_isn_keyed_and_unpredictable),
	TK_TEST(test_sha256_vectors),
	TK_TEST(test_pattern_explain),
	TK_TEST(test_sizes_for_connections),
	TK_TEST_END,
};

static const struct tk_case api_tests[] = {
	TK_TEST(test_not_running),
	TK_TEST(test_bad_descriptors),
	TK_TEST(test_socket_arguments),
	TK_TEST(test_unconnected_tcp),
	TK_TEST(test_blocking_timeouts),
	TK_TEST(test_options),
	TK_TEST(test_epoll_misuse),
	TK_TEST(test_epoll_round_robin),
	TK_TEST(test_zero_copy_misuse),
	TK_TEST(test_checksum_matches_rfc1071),
	TK_TEST(test_mptcp_crypto),
	TK_TEST(test_mptcp_dss_csum),
	TK_TEST_END,
};

static const struct tk_suite pure = {"unit", NULL, NULL, pure_tests};
static const struct tk_suite api = {"api", api_setup, api_teardown, api_tests};
const struct tk_suite *const tk_suites[] = {&pure, &api, NULL};
