/* Helpers for the stack tests (stack_test.h). */
#define _GNU_SOURCE
#include "stack_test.h"

#include "testbed.h"

#include <skiff/stat.h>

#include <sys/prctl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long st_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long st_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void st_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "  [%d] ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- byte streams ------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void st_pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	while (len) {
		uint64_t w = mix(seed ^ (off / 8) * 0x100000001b3ull);
		unsigned i = (unsigned)(off % 8);

		for (; i < 8 && len; i++, len--, off++)
			*buf++ = (uint8_t)(w >> (8 * i));
	}
}

void st_pattern_explain(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len, size_t bad,
			struct st_xfer *x)
{
	static const uint64_t seeds[] = {ST_SEED_UP, ST_SEED_DOWN};
	uint64_t want[8], hi;
	size_t end = bad, ok = 0;
	unsigned nwant = 0;
	uint8_t b;

	/* The run ends before 16 bytes in a row are right again. */
	for (size_t i = bad; i < len && ok < 16; i++) {
		st_pattern(seed, off + i, &b, 1);
		if (b == buf[i]) {
			ok++;
		} else {
			ok = 0;
			end = i + 1;
		}
	}
	x->bad_len = (uint32_t)(end - bad);
	x->bad_src = -1;
	x->bad_src_seed = 0;
	/* Its bytes are some stream's from an unknown offset, so from any
	 * alignment: the words at bad + k (k < 8) are looked for among the
	 * streams' words, from the start to 64 MiB past this offset. */
	for (unsigned k = 0; k < 8 && bad + k + 8 <= end; k++)
		memcpy(&want[nwant++], buf + bad + k, 8);
	hi = (off + bad) / 8 + (8u << 20);
	for (unsigned s = 0; s < 2; s++)
		for (uint64_t w = 0; w < hi; w++) {
			uint64_t v = mix(seeds[s] ^ w * 0x100000001b3ull);

			for (unsigned k = 0; k < nwant; k++)
				if (v == want[k]) {
					x->bad_src_seed = seeds[s];
					x->bad_src = (int64_t)(w * 8) - (int64_t)k;
					return;
				}
		}
}

int64_t st_pattern_check(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len)
{
	uint8_t tmp[4096];

	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(tmp) ? len - done : sizeof(tmp);

		st_pattern(seed, off + done, tmp, n);
		if (memcmp(tmp, buf + done, n) != 0) {
			for (size_t i = 0; i < n; i++)
				if (tmp[i] != buf[done + i])
					return (int64_t)(done + i);
		}
		done += n;
	}
	return -1;
}

void st_pattern_digest(uint64_t seed, uint64_t total, uint8_t out[32])
{
	uint8_t buf[65536];
	struct sha256 c;

	sha256_init(&c);
	for (uint64_t off = 0; off < total;) {
		size_t n = total - off < sizeof(buf) ? (size_t)(total - off) : sizeof(buf);

		st_pattern(seed, off, buf, n);
		sha256_update(&c, buf, n);
		off += n;
	}
	sha256_final(&c, out);
}

/* ST_FAST=1 (by hand, for measuring the stack): no pattern, no hashing;
 * the checks then fail by design. */
static bool fast(void)
{
	static int f = -1;

	if (f < 0)
		f = getenv("ST_FAST") != NULL;
	return f;
}

int st_send_stream(int fd, uint64_t seed, uint64_t total, bool zc, struct st_xfer *x)
{
	static uint8_t buf[256 * 1024];
	long long t0 = st_now_ms();
	struct sha256 c;
	uint64_t off = 0;

	memset(x, 0, sizeof(*x));
	sha256_init(&c);
	while (off < total) {
		if (zc) {
			struct skiff_zc_buf b[16];
			unsigned n = 0;
			int64_t id;
			int e;

			while (n < 16 && off < total) {
				e = skiff_zc_alloc(fd, &b[n]) ? -errno : 0;
				if (e) {
					if (n)
						break;
					/* frames run short: let completions come */
					skiff_poll(1);
					continue;
				}
				b[n].len = b[n].cap;
				if (b[n].len > total - off)
					b[n].len = (uint32_t)(total - off);
				if (!fast()) {
					st_pattern(seed, off, b[n].data, b[n].len);
					sha256_update(&c, b[n].data, b[n].len);
				}
				off += b[n].len;
				n++;
			}
			id = skiff_zc_send(fd, b, n, 0);
			if (id < 0) {
				x->err = errno;
				for (unsigned i = 0; i < n; i++)
					skiff_zc_free(&b[i]);
				st_log("skiff_zc_send: %s", strerror(errno));
				return -1;
			}
			x->bytes = off;
			/* Read completions as they come (no callback set). */
			struct skiff_zc_range r[64];
			while (skiff_zc_completions(fd, r, 64) > 0)
				;
			continue;
		}
		size_t n = total - off < sizeof(buf) ? (size_t)(total - off) : sizeof(buf);
		ssize_t k;

		if (!fast())
			st_pattern(seed, off, buf, n);
		k = skiff_send(fd, buf, n, 0);
		if (k <= 0) {
			x->err = errno;
			st_log("skiff_send: %s", strerror(errno));
			return -1;
		}
		if (!fast())
			if (!fast())
				sha256_update(&c, buf, (size_t)k);
		off += (uint64_t)k;
		x->bytes = off;
	}
	sha256_final(&c, x->digest);
	x->seconds = (st_now_ms() - t0) / 1000.0;
	return 0;
}

int st_recv_stream(int fd, uint64_t seed, uint64_t total, bool until_total, bool zc,
		   struct st_xfer *x)
{
	static uint8_t buf[256 * 1024];
	long long t0 = st_now_ms();
	struct sha256 c;
	uint64_t off = 0;

	memset(x, 0, sizeof(*x));
	sha256_init(&c);
	for (;;) {
		if (until_total && off >= total)
			break;
		if (zc) {
			struct skiff_zc_loan l[32];
			ssize_t n = skiff_zc_recv(fd, l, 32, 0);

			if (n == 0)
				break;
			if (n < 0) {
				x->err = errno;
				st_log("skiff_zc_recv: %s", strerror(errno));
				return -1;
			}
			for (ssize_t i = 0; i < n; i++) {
				if (fast()) {
					off += l[i].len;
					continue;
				}
				int64_t bad = st_pattern_check(seed, off, l[i].data, l[i].len);

				if (bad >= 0) {
					if (!x->bad)
						st_log("first bad byte at %llu",
						       (unsigned long long)(off + (uint64_t)bad));
					x->bad++;
				}
				sha256_update(&c, l[i].data, l[i].len);
				off += l[i].len;
			}
			skiff_zc_recv_done(l, (unsigned)n);
			x->bytes = off;
			continue;
		}
		size_t want = sizeof(buf);
		ssize_t k;

		if (until_total && total - off < want)
			want = (size_t)(total - off);
		k = skiff_recv(fd, buf, want, 0);
		if (k == 0)
			break;
		if (k < 0) {
			x->err = errno;
			st_log("skiff_recv: %s", strerror(errno));
			return -1;
		}
		int64_t bad = fast() ? -1 : st_pattern_check(seed, off, buf, (size_t)k);

		if (bad >= 0) {
			if (!x->bad) {
				x->first_bad = off + (uint64_t)bad;
				st_pattern_explain(seed, off, buf, (size_t)k, (size_t)bad, x);
				st_log("first bad byte at %llu: %u wrong, stream %#llx's from %lld",
				       (unsigned long long)x->first_bad, x->bad_len,
				       (unsigned long long)x->bad_src_seed, (long long)x->bad_src);
			}
			x->bad++;
		}
		if (!fast())
			sha256_update(&c, buf, (size_t)k);
		off += (uint64_t)k;
		x->bytes = off;
	}
	sha256_final(&c, x->digest);
	x->seconds = (st_now_ms() - t0) / 1000.0;
	return 0;
}

/* ---- stacks -------------------------------------------------------------- */

struct skiff_memlink *st_memlink_create(void)
{
	return st_memlink_create_frames(16384);
}

struct skiff_memlink *st_memlink_create_frames(uint32_t frames)
{
	/* A ring of at most a quarter of the frames: the fill ring must not
	 * take every frame (TX needs some). */
	uint32_t ring = 4096;

	while (ring > 8 && ring > frames / 4)
		ring /= 2;
	struct skiff_memlink_config mc = {.ring_size = ring, .frame_count = frames};
	struct skiff_memlink *w = NULL;

	if (skiff_memlink_create(&w, &mc) != 0)
		return NULL;
	return w;
}

struct skiff_config st_memlink_config(struct skiff_memlink *w, unsigned end)
{
	struct skiff_config c;

	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_MEMLINK;
	c.memlink = w;
	c.memlink_end = end;
	inet_pton(AF_INET, end ? ST_ML_IP4_1 : ST_ML_IP4_0, &c.ipv4);
	c.ipv4_prefix = 24;
	inet_pton(AF_INET6, end ? ST_ML_IP6_1 : ST_ML_IP6_0, c.ipv6);
	c.ipv6_prefix = 64;
	c.mac[0] = 0x02;
	c.mac[1] = 0x00;
	c.mac[5] = (uint8_t)(0x10 + end);
	c.time_wait_ms = 200;
	return c;
}

static bool is_idle(struct skiff_stats *st)
{
	skiff_get_stats(st);
	return !st->lwip_pcbs_used && !st->lwip_udp_pcbs_used && !st->lwip_segs_used &&
	       !st->lwip_pbufs_used && !st->lwip_reass_used && !st->frames_held && !st->frames_tx &&
	       !st->frames_loaned;
}

bool st_wait_idle(int ms)
{
	long long end = st_now_ms() + ms;
	struct skiff_stats st;

	while (!is_idle(&st)) {
		if (st_now_ms() > end) {
			st_log("not idle: pcbs %u udp %u segs %u pbufs %u reass %u frames held %u "
			       "tx %u loaned %u heap %u",
			       st.lwip_pcbs_used, st.lwip_udp_pcbs_used, st.lwip_segs_used,
			       st.lwip_pbufs_used, st.lwip_reass_used, st.frames_held, st.frames_tx,
			       st.frames_loaned, st.lwip_heap_used);
			return false;
		}
		skiff_poll(5);
	}
	return true;
}

void st_dump_stats(const char *label)
{
	const struct skiff_stat_field *f;
	struct skiff_stats s;
	char line[4096];
	size_t at = 0;
	unsigned n;

	skiff_get_stats(&s);
	f = skiff_stat_fields(&n);
	for (unsigned i = 0; i < n && at < sizeof(line) - 64; i++) {
		uint64_t v = skiff_stat_value(&s, &f[i]);

		if (v)
			at += (size_t)snprintf(line + at, sizeof(line) - at, " %s=%llu", f[i].name,
					       (unsigned long long)v);
	}
	line[at] = 0;
	st_log("%s (non-zero counters):%s", label, line);
}

void st_assert_idle(void)
{
	CU_ASSERT(st_wait_idle(ST_IDLE_WAIT_MS));
}

/* ---- children ------------------------------------------------------------ */

static int report_pipe[2] = {-1, -1};
static int go_pipe[2] = {-1, -1};

static void close_pipe(int p[2])
{
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 0)
			close(p[i]);
		p[i] = -1;
	}
}

pid_t st_child_start(st_child_fn fn, void *arg)
{
	pid_t pid;

	close_pipe(report_pipe);
	close_pipe(go_pipe);
	if (pipe(report_pipe) != 0 || pipe(go_pipe) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* A test killed by its timeout must not leave its peer running. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		close(report_pipe[0]);
		close(go_pipe[1]);
		report_pipe[0] = go_pipe[1] = -1;
		_exit(fn(arg));
	}
	close(report_pipe[1]);
	close(go_pipe[0]);
	report_pipe[1] = go_pipe[0] = -1;
	return pid;
}

void st_child_go(void)
{
	char c = 'g';

	if (write(go_pipe[1], &c, 1) != 1)
		st_log("st_child_go: %s", strerror(errno));
}

bool st_child_wait_go(int ms)
{
	struct pollfd pfd = {.fd = go_pipe[0], .events = POLLIN};
	char c;

	return poll(&pfd, 1, ms) == 1 && read(go_pipe[0], &c, 1) == 1;
}

void st_child_report(const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(report_pipe[1], p, len);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

bool st_child_read_report(void *data, size_t len, int ms)
{
	uint8_t *p = data;
	long long end = st_now_ms() + ms;

	/* (@p ms 0: one look, for a report already there.) */
	for (bool first = true; len; first = false) {
		struct pollfd pfd = {.fd = report_pipe[0], .events = POLLIN};
		long long left = end - st_now_ms();
		ssize_t n;

		if (left <= 0 && !first)
			return false;
		/* Our stack may be the child's peer: keep it running. */
		if (skiff_poll(1) < 0 && poll(&pfd, 1, 1) < 0)
			return false;
		if (poll(&pfd, 1, 0) <= 0)
			continue;
		n = read(report_pipe[0], p, len);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

int st_child_wait(pid_t pid, int ms)
{
	long long end = st_now_ms() + ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			return -1;
		if (st_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		/* Our stack may be the child's peer: keep it running. */
		if (skiff_poll(1) < 0)
			usleep(2000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* ---- the kernel as the peer ------------------------------------------------ */

socklen_t st_sockaddr(int family, const char *ip4, const char *ip6, uint16_t port,
		      struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, ip4, &a->sin_addr);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	inet_pton(AF_INET6, ip6, &a->sin6_addr);
	return sizeof(*a);
}

int st_kernel_connect(int family, int proto, const char *ip4, const char *ip6, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = st_sockaddr(family, ip4, ip6, port, &ss);
	int fd = socket(family, SOCK_STREAM, proto);

	if (fd < 0)
		return -errno;
	for (int i = 0; i < 50; i++) {
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			return fd;
		if (errno != ECONNREFUSED && errno != ETIMEDOUT && errno != EHOSTUNREACH)
			break;
		usleep(20000); /* the stack may not listen yet */
	}
	int e = -errno;
	close(fd);
	return e;
}

int st_kernel_listen(int family, uint16_t port)
{
	return st_kernel_listen_with(family, 0, port, 0);
}

int st_kernel_listen_with(int family, int proto, uint16_t port, int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t len = st_sockaddr(family, "0.0.0.0", "::", port, &ss);
	int fd = socket(family, SOCK_STREAM, proto), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int st_kernel_send_stream(int fd, uint64_t seed, uint64_t total, struct st_xfer *x)
{
	static uint8_t buf[256 * 1024];
	long long t0 = st_now_ms();
	struct sha256 c;
	uint64_t off = 0;

	memset(x, 0, sizeof(*x));
	sha256_init(&c);
	while (off < total) {
		size_t n = total - off < sizeof(buf) ? (size_t)(total - off) : sizeof(buf);
		ssize_t k;

		st_pattern(seed, off, buf, n);
		k = send(fd, buf, n, MSG_NOSIGNAL);
		if (k <= 0) {
			x->err = errno;
			st_log("kernel send: %s", strerror(errno));
			return -1;
		}
		sha256_update(&c, buf, (size_t)k);
		off += (uint64_t)k;
	}
	x->bytes = off;
	sha256_final(&c, x->digest);
	x->seconds = (st_now_ms() - t0) / 1000.0;
	return 0;
}

int st_kernel_recv_stream(int fd, uint64_t seed, struct st_xfer *x)
{
	static uint8_t buf[256 * 1024];
	long long t0 = st_now_ms();
	struct sha256 c;
	uint64_t off = 0;

	memset(x, 0, sizeof(*x));
	sha256_init(&c);
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);

		if (k == 0)
			break;
		if (k < 0) {
			x->err = errno;
			break;
		}
		int64_t bad = st_pattern_check(seed, off, buf, (size_t)k);

		if (bad >= 0 && !x->bad++) {
			x->first_bad = off + (uint64_t)bad;
			st_pattern_explain(seed, off, buf, (size_t)k, (size_t)bad, x);
		}
		sha256_update(&c, buf, (size_t)k);
		off += (uint64_t)k;
	}
	x->bytes = off;
	sha256_final(&c, x->digest);
	x->seconds = (st_now_ms() - t0) / 1000.0;
	return x->err ? -1 : 0;
}

int st_kernel_two_way_over(int fd, uint64_t bytes)
{
	struct st_two_way r;

	if (st_kernel_send_stream(fd, ST_SEED_UP, bytes, &r.up) || shutdown(fd, SHUT_WR))
		return 4;
	if (st_kernel_recv_stream(fd, ST_SEED_DOWN, &r.down))
		return 5;
	close(fd);
	st_child_report(&r, sizeof(r));
	return 0;
}

int st_kernel_two_way_client(int family, int proto, const char *ip4, const char *ip6, uint16_t port,
			     uint64_t bytes)
{
	int fd;

	if (!st_child_wait_go(20000))
		return 2;
	fd = st_kernel_connect(family, proto, ip4, ip6, port);
	if (fd < 0) {
		st_log("kernel connect: %s", strerror(-fd));
		return 3;
	}
	return st_kernel_two_way_over(fd, bytes);
}

int st_kernel_accept_one(int family, int proto, uint16_t port, int rcvbuf)
{
	int lfd = st_kernel_listen_with(family, proto, port, rcvbuf), fd;
	char ready = 'r';

	if (lfd < 0)
		return -2;
	st_child_report(&ready, 1);
	fd = accept(lfd, NULL, NULL);
	close(lfd);
	return fd < 0 ? -3 : fd;
}

int st_kernel_two_way_server(int family, uint16_t port, uint64_t bytes)
{
	struct st_two_way r;
	int fd = st_kernel_accept_one(family, 0, port, 0);

	if (fd < 0)
		return -fd;
	if (st_kernel_recv_stream(fd, ST_SEED_UP, &r.up))
		return 4;
	if (st_kernel_send_stream(fd, ST_SEED_DOWN, bytes, &r.down))
		return 5;
	close(fd);
	st_child_report(&r, sizeof(r));
	return 0;
}

int st_skiff_listen(int family, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = st_sockaddr(family, "0.0.0.0", "::", port, &ss);
	int fd = skiff_socket(family, SOCK_STREAM, 0), one = 1;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CU_ASSERT_FATAL(skiff_bind(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT_FATAL(skiff_listen(fd, backlog) == 0);
	return fd;
}

int st_skiff_connect(int family, const char *ip4, const char *ip6, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = st_sockaddr(family, ip4, ip6, port, &ss);
	int fd = skiff_socket(family, SOCK_STREAM, 0);

	CU_ASSERT_FATAL(fd >= 0);
	if (skiff_connect(fd, (struct sockaddr *)&ss, len) != 0) {
		int e = errno;

		skiff_close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void st_skiff_two_way_server(int lfd, uint64_t bytes, bool zc, struct st_two_way *mine)
{
	int fd = skiff_accept(lfd, NULL, NULL, 0);

	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, bytes, false, zc, &mine->up) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, bytes, zc, &mine->down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
}

void st_skiff_two_way_client(int fd, uint64_t bytes, struct st_two_way *mine)
{
	CU_ASSERT(st_send_stream(fd, ST_SEED_UP, bytes, false, &mine->up) == 0);
	CU_ASSERT(skiff_shutdown(fd, SHUT_WR) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_DOWN, bytes, false, false, &mine->down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
}

void st_check_two_way(const struct st_two_way *mine, const struct st_two_way *theirs,
		      uint64_t bytes)
{
	uint8_t up[32], down[32];

	st_pattern_digest(ST_SEED_UP, bytes, up);
	st_pattern_digest(ST_SEED_DOWN, bytes, down);
	TK_ASSERT_EQ(mine->up.bytes, bytes);
	TK_ASSERT_EQ(mine->down.bytes, bytes);
	TK_ASSERT_EQ(theirs->up.bytes, bytes);
	TK_ASSERT_EQ(theirs->down.bytes, bytes);
	/* Where the Linux side first saw a wrong byte (its reads cannot log),
	 * how many, and whose bytes they were. */
	for (int i = 0; i < 2; i++) {
		const struct st_xfer *x = i ? &theirs->down : &theirs->up;

		if (x->bad)
			tk_note("the Linux side read wrong bytes %s: %llu reads, the first run of "
				"%u bytes at offset %llu, their bytes those of stream %#llx at "
				"offset %lld (-1: neither stream's)",
				i ? "down" : "up", (unsigned long long)x->bad, x->bad_len,
				(unsigned long long)x->first_bad,
				(unsigned long long)x->bad_src_seed, (long long)x->bad_src);
	}
	TK_ASSERT_EQ(mine->up.bad + mine->down.bad + theirs->up.bad + theirs->down.bad, 0);
	CU_ASSERT(memcmp(mine->up.digest, up, 32) == 0);
	CU_ASSERT(memcmp(theirs->up.digest, up, 32) == 0);
	CU_ASSERT(memcmp(mine->down.digest, down, 32) == 0);
	CU_ASSERT(memcmp(theirs->down.digest, down, 32) == 0);
}

void st_note_rate(const char *what, uint64_t bytes, double s)
{
	tk_note("%s: %llu MiB in %.2f s = %.0f Mbit/s", what, (unsigned long long)(bytes / ST_MIB),
		s, s > 0 ? bytes * 8 / s / 1e6 : 0);
}

/* ---- two stacks over memlink ------------------------------------------------ */

static struct {
	st_child_fn fn;
	void *arg;
	struct skiff_memlink *w;
	struct skiff_memlink_faults f;
	bool faults;
} pair_child;

/* End @p end's impairment, once its stack runs. */
static void pair_faults(struct skiff_memlink *w, unsigned end)
{
	struct skiff_memlink_faults f = pair_child.f;

	f.seed += end;
	if (pair_child.faults)
		skiff_memlink_set_faults(w, end, &f);
}

void (*st_pair_tweak)(struct skiff_config *c, unsigned end);

static int pair_child_main(void *unused)
{
	struct skiff_config c = st_memlink_config(pair_child.w, 1);
	int rc, e;

	(void)unused;
	if (st_pair_tweak)
		st_pair_tweak(&c, 1);
	e = skiff_init(&c) ? -errno : 0;
	if (e) {
		st_log("child skiff_init: %s (%s)", strerror(-e), skiff_last_error());
		return 90;
	}
	pair_faults(pair_child.w, 1);
	rc = pair_child.fn(pair_child.arg);
	if (rc || getenv("ST_VERBOSE"))
		st_dump_stats("child");
	if (!rc && !st_wait_idle(ST_IDLE_WAIT_MS))
		rc = 91;
	skiff_fini();
	return rc;
}

void st_pair_up(struct st_pair *p, uint32_t frames, st_child_fn fn, void *arg)
{
	st_pair_up_faults(p, frames, fn, arg, NULL);
}

void st_pair_up_faults(struct st_pair *p, uint32_t frames, st_child_fn fn, void *arg,
		       const struct skiff_memlink_faults *f)
{
	struct skiff_config c;
	int e;

	memset(p, 0, sizeof(*p));
	p->w = frames ? st_memlink_create_frames(frames) : st_memlink_create();
	CU_ASSERT_FATAL(p->w != NULL);
	pair_child.fn = fn;
	pair_child.arg = arg;
	pair_child.w = p->w;
	pair_child.faults = f != NULL;
	if (f)
		pair_child.f = *f;
	/* Fork before either UMEM exists: each process builds its own. */
	p->child = st_child_start(pair_child_main, NULL);
	CU_ASSERT_FATAL(p->child > 0);
	c = st_memlink_config(p->w, 0);
	if (st_pair_tweak)
		st_pair_tweak(&c, 0);
	e = skiff_init(&c) ? -errno : 0;
	if (e)
		tk_note("skiff_init: %s (%s)", strerror(-e), skiff_last_error());
	CU_ASSERT_FATAL(e == 0);
	p->up = true;
	pair_faults(p->w, 0);
}

int st_pair_wait_child(struct st_pair *p, int ms)
{
	int rc = st_child_wait(p->child, ms);

	p->child = 0;
	if (rc)
		tk_note("child exited with %d", rc);
	return rc;
}

void st_pair_down(struct st_pair *p)
{
	if (p->child > 0)
		st_child_wait(p->child, 1000);
	if (p->up)
		st_stack_down(false);
	if (p->w)
		CU_ASSERT(skiff_memlink_destroy(p->w) == 0);
	memset(p, 0, sizeof(*p));
}

/* ---- crafted frames -------------------------------------------------------- */

uint16_t st_csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

uint32_t st_csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

size_t st_eth_header(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
		     uint16_t vid)
{
	size_t n = 12;

	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	if (vid) {
		f[n++] = 0x81;
		f[n++] = 0x00;
		f[n++] = (uint8_t)(vid >> 8);
		f[n++] = (uint8_t)vid;
	}
	f[n++] = (uint8_t)(type >> 8);
	f[n++] = (uint8_t)type;
	return n;
}

size_t st_tcp4_frame(uint8_t *f, const struct st_tcp4 *t, const void *data, size_t len)
{
	size_t l2 = st_eth_header(f, t->dst_mac, t->src_mac, 0x0800, t->vid), thl = 20 + t->optlen;
	uint8_t *ip = f + l2, *th = ip + 20;
	uint32_t s;

	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + thl + len) >> 8);
	ip[3] = (uint8_t)(20 + thl + len);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &t->saddr, 4);
	memcpy(ip + 16, &t->daddr, 4);
	s = st_csum_add(0, ip, 20);
	ip[10] = (uint8_t)(st_csum_fold(s) >> 8);
	ip[11] = (uint8_t)st_csum_fold(s);
	th[0] = (uint8_t)(t->sport >> 8);
	th[1] = (uint8_t)t->sport;
	th[2] = (uint8_t)(t->dport >> 8);
	th[3] = (uint8_t)t->dport;
	for (int i = 0; i < 4; i++) {
		th[4 + i] = (uint8_t)(t->seq >> (24 - 8 * i));
		th[8 + i] = (uint8_t)(t->ack >> (24 - 8 * i));
	}
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = t->flags;
	th[14] = (uint8_t)((65535u - t->wnd_less) >> 8);
	th[15] = (uint8_t)(65535u - t->wnd_less);
	if (t->optlen)
		memcpy(th + 20, t->opt, t->optlen);
	if (len)
		memcpy(th + thl, data, len);
	/* pseudo header: addresses, protocol, TCP length */
	s = st_csum_add(0, ip + 12, 8);
	s += 6 + (uint32_t)(thl + len);
	s = st_csum_add(s, th, thl + len);
	th[16] = (uint8_t)(st_csum_fold(s) >> 8);
	th[17] = (uint8_t)st_csum_fold(s);
	return l2 + 20 + thl + len;
}

/* ---- skiff on a veth --------------------------------------------------------- */

void (*st_xsk_tweak)(struct skiff_config *c);

void st_xsk_up(const char *ns, const char *ifname, const uint8_t mac[6], const char *ip4,
	       const char *gw4, const char *ip6, const char *gw6)
{
	struct skiff_config c;
	int e;

	CU_ASSERT_FATAL(tb_enter(ns) == 0);
	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_XSK;
	c.ifname = ifname;
	memcpy(c.mac, mac, 6);
	inet_pton(AF_INET, ip4, &c.ipv4);
	c.ipv4_prefix = 24;
	if (gw4)
		inet_pton(AF_INET, gw4, &c.ipv4_gateway);
	inet_pton(AF_INET6, ip6, c.ipv6);
	c.ipv6_prefix = 64;
	if (gw6)
		inet_pton(AF_INET6, gw6, c.ipv6_gateway);
	c.time_wait_ms = 200;
	if (st_xsk_tweak)
		st_xsk_tweak(&c);
	e = skiff_init(&c) ? -errno : 0;
	if (e)
		tk_note("skiff_init: %s: %s", strerror(-e), skiff_last_error());
	CU_ASSERT_FATAL(e == 0);
	CU_ASSERT(!skiff_xdp_zerocopy()); /* veth: copy mode */
}

void st_stack_down(bool no_drops)
{
	struct skiff_stats st;

	st_assert_idle();
	skiff_get_stats(&st);
	/* The frame audit: every frame back home. */
	TK_ASSERT_EQ(st.frames_total, st.frames_free + st.frames_fill);
	/* ... and every extension area (MPTCP mappings, secpaths) with them:
	 * their references were dropped as often as taken. */
	TK_ASSERT_EQ(st.ext_areas_live, 0);
	if (no_drops)
		TK_ASSERT_EQ(st.rx_drop_no_pkb + st.rx_drop_bad_frame + st.tx_drop_no_frame, 0);
	if (getenv("ST_VERBOSE"))
		st_dump_stats("skiff");
	skiff_fini();
}
