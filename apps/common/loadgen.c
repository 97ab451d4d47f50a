/* The closed-loop load generator (loadgen.h). */
#define _GNU_SOURCE
#include "loadgen.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef LG_PATTERN_SPAN
/* Request payloads start anywhere in the first LG_PATTERN_SPAN bytes of the
 * pattern: far more starting points than requests in flight. */
#define LG_PATTERN_SPAN (1u << 20)
#endif
#define LG_RECV_CHUNK (64u * 1024)
#define LG_EVENTS     256

/* ---- helpers ------------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: small, fast, and the same sequence for the same seed. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Latency histogram: exact below 64 ns, then 32 buckets per power of two
 * (about 3% resolution), so memory stays fixed however long the run. */
#define HIST_SUB     32
#define HIST_BUCKETS (64 + 58 * HIST_SUB)

struct hist {
	uint64_t n, sum, max;
	uint32_t b[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < 64)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	return 64 + (e - 6) * HIST_SUB + (unsigned)((v >> (e - 5)) - HIST_SUB);
}

/* The middle of bucket i. */
static double hist_value(unsigned i)
{
	unsigned e, m;

	if (i < 64)
		return i;
	e = (i - 64) / HIST_SUB + 6;
	m = (i - 64) % HIST_SUB + HIST_SUB;
	return ((double)m + 0.5) * (double)(1ull << (e - 5));
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static double hist_pct(const struct hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)(p * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return hist_value(i);
	}
	return (double)h->max;
}

/* ---- load generator ----------------------------------------------------- */

enum conn_state {
	C_CONNECTING,
	C_IDLE, /* established, held until lg_go() */
	C_RUNNING,
	C_CLOSING, /* sent FIN after the last request, waiting for the server's */
	C_DONE,
	C_FAILED,
};

struct conn {
	int fd;
	enum conn_state state;
	uint64_t rng;
	uint32_t reqs;		  /* requests completed */
	uint32_t size, sent, got; /* the request in progress */
	uint32_t off;		  /* its window into the pattern */
	uint64_t t0;
	bool want_out;
};

struct lg {
	struct lg_config cfg;
	const struct socktab *ops;
	struct lg_result *res;
	uint8_t *pattern;
	uint8_t *rbuf;
	struct conn *c; /* cfg.conns of them, indexed by the events' data.u32 */
	struct hist *hist;
	int ep;
	unsigned open;	     /* connections not yet done or failed */
	unsigned next_open;  /* the next connection to issue a connect() for */
	unsigned connecting; /* connections in C_CONNECTING */
	bool going;	     /* cfg.hold: lg_go() was called */
	bool winding;	     /* lg_wind_down(): no request after the one in flight */
	uint64_t t_start;
	uint64_t last_progress;
};

__attribute__((format(printf, 3, 4))) static void note_error(struct lg *g, int err, const char *fmt,
							     ...)
{
	va_list ap;

	if (g->res->first_error[0])
		return;
	g->res->first_errno = err;
	va_start(ap, fmt);
	vsnprintf(g->res->first_error, sizeof(g->res->first_error), fmt, ap);
	va_end(ap);
}

static void conn_end(struct lg *g, struct conn *c, enum conn_state st)
{
	if (c->state == C_CONNECTING && c->fd >= 0)
		g->connecting--;
	if (c->fd >= 0) {
		g->ops->epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
		g->ops->close(c->fd);
		c->fd = -1;
	}
	c->state = st;
	g->open--;
	if (st == C_DONE)
		g->res->conns_done++;
	else
		g->res->conns_failed++;
}

static void conn_fail(struct lg *g, struct conn *c, int err, const char *what)
{
	note_error(g, err, "connection %u, request %u: %s%s%s", (unsigned)(c - g->c), c->reqs, what,
		   err ? ": " : "", err ? strerror(err) : "");
	conn_end(g, c, C_FAILED);
}

static int watch(struct lg *g, struct conn *c, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0)};

	ev.data.u32 = (uint32_t)(c - g->c);
	c->want_out = out;
	return g->ops->epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void send_some(struct lg *g, struct conn *c)
{
	while (c->sent < c->size) {
		ssize_t n =
			g->ops->send(c->fd, g->pattern + c->off + c->sent, c->size - c->sent, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out && watch(g, c, true) != 0)
				conn_fail(g, c, errno, "epoll_ctl");
			return;
		}
		if (n <= 0) {
			conn_fail(g, c, n < 0 ? errno : 0, "send failed");
			return;
		}
		c->sent += (uint32_t)n;
		g->res->bytes_sent += (uint64_t)n;
		g->last_progress = now_ns();
	}
	if (c->want_out && watch(g, c, false) != 0)
		conn_fail(g, c, errno, "epoll_ctl");
}

static void start_request(struct lg *g, struct conn *c)
{
	const struct lg_config *cfg = &g->cfg;
	uint32_t span = cfg->max_size - cfg->min_size + 1;

	c->size = cfg->min_size + (uint32_t)(rng_next(&c->rng) % span);
	c->off = (uint32_t)(rng_next(&c->rng) % LG_PATTERN_SPAN);
	c->sent = c->got = 0;
	c->t0 = now_ns();
	send_some(g, c);
}

/* No more requests: half-close and wait for the server's FIN. */
static void half_close(struct lg *g, struct conn *c)
{
	if (g->ops->shutdown(c->fd, SHUT_WR) != 0) {
		conn_fail(g, c, errno, "shutdown");
		return;
	}
	c->state = C_CLOSING;
}

static void finish_request(struct lg *g, struct conn *c)
{
	hist_add(g->hist, now_ns() - c->t0);
	c->reqs++;
	g->res->requests_done++;
	if (c->reqs < g->cfg.requests && !g->winding) {
		start_request(g, c);
		return;
	}
	half_close(g, c);
}

static uint64_t count_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint64_t d = 0;

	for (size_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

static void recv_some(struct lg *g, struct conn *c)
{
	for (;;) {
		size_t want = LG_RECV_CHUNK;
		ssize_t n;

		/* Never read past the request in progress: a stray byte must
		 * show up as a mismatch in the next one (or after the FIN). */
		if (c->state == C_RUNNING && c->size - c->got < want)
			want = c->size - c->got;
		if (c->state == C_RUNNING && want == 0)
			return;
		n = g->ops->recv(c->fd, g->rbuf, want, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			conn_fail(g, c, errno, "recv failed");
			return;
		}
		if (n == 0) {
			if (c->state == C_CLOSING)
				conn_end(g, c, C_DONE);
			else
				conn_fail(g, c, 0, "the server closed the connection early");
			return;
		}
		g->last_progress = now_ns();
		if (c->state == C_CLOSING || c->state == C_IDLE) {
			g->res->bad_bytes += (uint64_t)n;
			note_error(g, 0, "connection %u: %zd bytes %s", (unsigned)(c - g->c), n,
				   c->state == C_IDLE ? "before the first request"
						      : "after the last request");
			continue;
		}
		if (c->got + (uint32_t)n > c->sent) {
			/* More back than was sent: the echo invented data. */
			g->res->bad_bytes += c->got + (uint64_t)n - c->sent;
			note_error(g, 0, "connection %u, request %u: more bytes back than sent",
				   (unsigned)(c - g->c), c->reqs);
		}
		if (memcmp(g->rbuf, g->pattern + c->off + c->got, (size_t)n) != 0) {
			uint64_t bad = count_diff(g->rbuf, g->pattern + c->off + c->got, (size_t)n);

			g->res->bad_bytes += bad;
			note_error(g, 0, "connection %u, request %u: %llu bad bytes at offset %u",
				   (unsigned)(c - g->c), c->reqs, (unsigned long long)bad, c->got);
		}
		c->got += (uint32_t)n;
		g->res->bytes_verified += (uint64_t)n;
		/* The next request, or the FIN after the last: read on. */
		if (c->got == c->size) {
			finish_request(g, c);
			if (c->state == C_FAILED)
				return;
		}
	}
}

static void connected(struct lg *g, struct conn *c)
{
	int err = 0, one = 1;
	socklen_t len = sizeof(err);

	g->connecting--;
	c->state = C_IDLE; /* out of C_CONNECTING, whatever comes next */
	if (g->ops->getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		conn_fail(g, c, err, "connect failed");
		return;
	}
	/* Requests are latency-bound: no Nagle delay on the last segment. */
	g->ops->setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = g->cfg.hold && !g->going ? C_IDLE : C_RUNNING;
	g->last_progress = now_ns();
	if (++g->res->conns_established == g->cfg.conns)
		g->res->t_established_ns = g->last_progress;
	if (watch(g, c, false) != 0) {
		conn_fail(g, c, errno, "epoll_ctl");
		return;
	}
	if (g->winding)
		half_close(g, c);
	else if (c->state == C_RUNNING)
		start_request(g, c);
}

static void on_event(struct lg *g, struct conn *c, uint32_t ev)
{
	if (c->state == C_CONNECTING) {
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			connected(g, c);
		return;
	}
	if (c->state == C_RUNNING && (ev & EPOLLOUT) && c->sent < c->size)
		send_some(g, c);
	if ((c->state == C_RUNNING || c->state == C_CLOSING || c->state == C_IDLE) &&
	    (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		recv_some(g, c);
}

/* Connection i's destination: dst, its port moved up by i % dst_ports. */
static void conn_dst(const struct lg *g, unsigned i, struct sockaddr_storage *ss)
{
	unsigned k = g->cfg.dst_ports > 1 ? i % g->cfg.dst_ports : 0;

	*ss = g->cfg.dst;
	if (!k)
		return;
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_port = htons((uint16_t)(ntohs(a->sin_port) + k));
	} else if (ss->ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_port = htons((uint16_t)(ntohs(a->sin6_port) + k));
	}
}

/* Binds connection i to its source address, the port left to connect(). */
static int conn_bind(struct lg *g, struct conn *c, unsigned i)
{
	const struct sockaddr_storage *src = &g->cfg.src[i % g->cfg.n_src];
	socklen_t len = src->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in);
	int one = 1;

	/* Linux: the port is chosen at connect() time, per 4-tuple, instead
	 * of one per address at bind() time. Other tables may refuse it. */
	g->ops->setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return g->ops->bind(c->fd, (const struct sockaddr *)src, len);
}

static void open_conn(struct lg *g, unsigned i)
{
	struct conn *c = &g->c[i];
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP};
	struct sockaddr_storage dst;

	c->state = C_CONNECTING;
	c->fd = g->ops->socket(g->cfg.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		conn_fail(g, c, errno, "socket");
		return;
	}
	g->connecting++;
	if (g->cfg.n_src && conn_bind(g, c, i) != 0) {
		conn_fail(g, c, errno, "bind");
		return;
	}
	ev.data.u32 = i;
	if (g->ops->epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		conn_fail(g, c, errno, "epoll_ctl");
		return;
	}
	conn_dst(g, i, &dst);
	if (g->ops->connect(c->fd, (const struct sockaddr *)&dst, g->cfg.dst_len) != 0 &&
	    errno != EINPROGRESS)
		conn_fail(g, c, errno, "connect failed");
}

/* Issues the next batch of connects (fewer when max_connecting says so);
 * returns how many. */
static unsigned open_batch(struct lg *g)
{
	unsigned end = g->cfg.conns - g->next_open > LG_OPEN_BATCH ? g->next_open + LG_OPEN_BATCH
								   : g->cfg.conns;
	unsigned first = g->next_open;

	while (g->next_open < end &&
	       (!g->cfg.max_connecting || g->connecting < g->cfg.max_connecting))
		open_conn(g, g->next_open++);
	return g->next_open - first;
}

void lg_config_defaults(struct lg_config *cfg)
{
	if (!cfg->conns)
		cfg->conns = 64;
	if (!cfg->requests)
		cfg->requests = 1000;
	if (!cfg->min_size)
		cfg->min_size = 1;
	if (!cfg->max_size)
		cfg->max_size = 16384;
	if (!cfg->seed)
		cfg->seed = 1;
	if (!cfg->stall_ms)
		cfg->stall_ms = 10000;
	if (cfg->wait_ms < 0)
		cfg->wait_ms = 0;
	else if (!cfg->wait_ms)
		cfg->wait_ms = 100;
	if (!cfg->dst_ports)
		cfg->dst_ports = 1;
}

static void fill_pattern(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed ^ 0xA5A5A5A55A5A5A5AULL;
	size_t i = 0;

	if (!s)
		s = 1;
	for (; i + 8 <= n; i += 8) {
		uint64_t v = rng_next(&s);

		memcpy(p + i, &v, 8);
	}
	for (; i < n; i++)
		p[i] = (uint8_t)rng_next(&s);
}

static void lg_free(struct lg *g)
{
	free(g->hist);
	free(g->c);
	free(g->rbuf);
	free(g->pattern);
	free(g);
}

static bool valid(const struct lg_config *cfg)
{
	uint32_t port = 0;

	if (cfg->min_size > cfg->max_size || !cfg->dst_len || (cfg->n_src && !cfg->src))
		return false;
	if (cfg->dst.ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)&cfg->dst)->sin_port);
	else if (cfg->dst.ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)&cfg->dst)->sin6_port);
	return port + cfg->dst_ports - 1 <= 65535;
}

int lg_start(struct lg **out, const struct lg_config *cfg, const struct socktab *ops,
	     struct lg_result *res)
{
	struct lg *g = calloc(1, sizeof(*g));
	size_t pat_len;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	g->ops = ops;
	g->res = res;
	g->ep = -1;
	lg_config_defaults(&g->cfg);
	cfg = &g->cfg;
	if (!valid(cfg)) {
		rc = -EINVAL;
		goto out_free;
	}
	res->conns = cfg->conns;
	res->requests_planned = (uint64_t)cfg->conns * cfg->requests;
	pat_len = LG_PATTERN_SPAN + cfg->max_size;
	g->pattern = malloc(pat_len);
	g->rbuf = malloc(LG_RECV_CHUNK);
	g->c = calloc(cfg->conns, sizeof(*g->c));
	g->hist = calloc(1, sizeof(*g->hist));
	if (!g->pattern || !g->rbuf || !g->c || !g->hist) {
		rc = -ENOMEM;
		goto out_free;
	}
	fill_pattern(g->pattern, pat_len, cfg->seed);
	g->ep = ops->epoll_create(0);
	if (g->ep < 0) {
		rc = -errno;
		goto out_free;
	}
	for (unsigned i = 0; i < cfg->conns; i++) {
		struct conn *c = &g->c[i];

		c->fd = -1;
		c->rng = cfg->seed * 0x9E3779B97F4A7C15ULL + i + 1;
		if (!c->rng)
			c->rng = 1;
	}
	g->open = cfg->conns;
	g->t_start = g->last_progress = res->t_start_ns = now_ns();
	open_batch(g);
	*out = g;
	return 0;

out_free:
	lg_free(g);
	return rc;
}

int lg_step(struct lg *g, int wait_ms)
{
	struct epoll_event evs[LG_EVENTS];
	int n;

	/* Don't wait while connects remain to be issued, unless the limit
	 * of handshakes under way holds them back: then their ends come. */
	if (g->next_open < g->cfg.conns && open_batch(g))
		wait_ms = 0;
	n = g->ops->epoll_wait(g->ep, evs, LG_EVENTS, wait_ms);
	if (n < 0 && errno != EINTR) {
		int err = errno;

		note_error(g, err, "epoll_wait: %s", strerror(err));
		return -err;
	}
	for (int i = 0; i < n; i++) {
		struct conn *c = &g->c[evs[i].data.u32];

		if (c->state == C_DONE || c->state == C_FAILED)
			continue;
		on_event(g, c, evs[i].events);
	}
	if (now_ns() - g->last_progress > (uint64_t)g->cfg.stall_ms * 1000000u) {
		g->res->stalled = true;
		note_error(g, ETIMEDOUT, "stalled: no progress for %d ms", g->cfg.stall_ms);
		return -ETIMEDOUT;
	}
	return g->open ? 1 : 0;
}

void lg_go(struct lg *g)
{
	g->going = true;
	g->last_progress = now_ns();
	for (unsigned i = 0; i < g->cfg.conns; i++) {
		struct conn *c = &g->c[i];

		if (c->state != C_IDLE)
			continue;
		c->state = C_RUNNING;
		start_request(g, c);
	}
}

void lg_wind_down(struct lg *g)
{
	g->winding = true;
	g->last_progress = now_ns();
	for (unsigned i = 0; i < g->cfg.conns; i++)
		if (g->c[i].state == C_IDLE)
			half_close(g, &g->c[i]);
}

void lg_interrupt(struct lg *g)
{
	g->res->interrupted = true;
	note_error(g, EINTR, "interrupted");
}

int lg_finish(struct lg *g)
{
	struct lg_result *out = g->res;
	unsigned closed = 0;

	out->elapsed_s = (double)(now_ns() - g->t_start) / 1e9;
	for (unsigned i = 0; i < g->cfg.conns; i++) {
		struct conn *c = &g->c[i];

		if (c->state == C_DONE || c->state == C_FAILED)
			continue;
		if (!out->interrupted && !out->stalled)
			note_error(g, 0, "connection %u unfinished", i);
		conn_end(g, c, C_FAILED);
		/* A stack that moves only while polled sends the FINs of
		 * one batch before the next is closed. */
		if (++closed % LG_OPEN_BATCH == 0) {
			struct epoll_event evs[LG_EVENTS];

			g->ops->epoll_wait(g->ep, evs, LG_EVENTS, 0);
		}
	}
	out->lat_p50_us = hist_pct(g->hist, 0.50) / 1e3;
	out->lat_p99_us = hist_pct(g->hist, 0.99) / 1e3;
	out->lat_max_us = (double)g->hist->max / 1e3;
	out->lat_mean_us = g->hist->n ? (double)g->hist->sum / (double)g->hist->n / 1e3 : 0;
	g->ops->close(g->ep);
	lg_free(g);
	return lg_passed(out) ? 0 : -EIO;
}

int lg_run(const struct lg_config *cfg, const struct socktab *ops, struct lg_result *out)
{
	struct lg *g;
	int rc = lg_start(&g, cfg, ops, out);

	if (rc)
		return rc;
	while (g->open) {
		if (g->cfg.stop && *g->cfg.stop) {
			lg_interrupt(g);
			break;
		}
		if (g->cfg.tick)
			g->cfg.tick(g->cfg.tick_arg);
		if (lg_step(g, g->cfg.wait_ms) < 0)
			break;
	}
	return lg_finish(g);
}

bool lg_passed(const struct lg_result *r)
{
	return r->requests_planned && r->requests_done == r->requests_planned && !r->bad_bytes &&
	       !r->conns_failed && r->conns_done == r->conns && !r->stalled && !r->interrupted;
}
