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
	const struct lg_config *cfg;
	const struct socktab *ops;
	struct lg_result *res;
	uint8_t *pattern;
	uint8_t *rbuf;
	struct conn *c;
	struct hist *hist;
	int ep;
	unsigned open; /* connections not yet done or failed */
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
	const struct lg_config *cfg = g->cfg;
	uint32_t span = cfg->max_size - cfg->min_size + 1;

	c->size = cfg->min_size + (uint32_t)(rng_next(&c->rng) % span);
	c->off = (uint32_t)(rng_next(&c->rng) % LG_PATTERN_SPAN);
	c->sent = c->got = 0;
	c->t0 = now_ns();
	send_some(g, c);
}

static void finish_request(struct lg *g, struct conn *c)
{
	hist_add(g->hist, now_ns() - c->t0);
	c->reqs++;
	g->res->requests_done++;
	if (c->reqs < g->cfg->requests) {
		start_request(g, c);
		return;
	}
	/* All answered: half-close and wait for the server's FIN. */
	if (g->ops->shutdown(c->fd, SHUT_WR) != 0) {
		conn_fail(g, c, errno, "shutdown");
		return;
	}
	c->state = C_CLOSING;
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
		if (c->state == C_CLOSING) {
			g->res->bad_bytes += (uint64_t)n;
			note_error(g, 0, "connection %u: %zd bytes after the last request",
				   (unsigned)(c - g->c), n);
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

	if (g->ops->getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		conn_fail(g, c, err, "connect failed");
		return;
	}
	/* Requests are latency-bound: no Nagle delay on the last segment. */
	g->ops->setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = C_RUNNING;
	g->last_progress = now_ns();
	if (watch(g, c, false) != 0) {
		conn_fail(g, c, errno, "epoll_ctl");
		return;
	}
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
	if ((c->state == C_RUNNING || c->state == C_CLOSING) &&
	    (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		recv_some(g, c);
}

static int open_conns(struct lg *g)
{
	const struct lg_config *cfg = g->cfg;

	for (unsigned i = 0; i < cfg->conns; i++) {
		struct conn *c = &g->c[i];

		c->fd = -1;
		c->rng = cfg->seed * 0x9E3779B97F4A7C15ULL + i + 1;
		if (!c->rng)
			c->rng = 1;
	}
	g->open = cfg->conns;
	for (unsigned i = 0; i < cfg->conns; i++) {
		struct conn *c = &g->c[i];
		struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP};

		c->state = C_CONNECTING;
		c->fd = g->ops->socket(cfg->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c->fd < 0) {
			conn_fail(g, c, errno, "socket");
			continue;
		}
		ev.data.u32 = i;
		if (g->ops->epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
			conn_fail(g, c, errno, "epoll_ctl");
			continue;
		}
		if (g->ops->connect(c->fd, (const struct sockaddr *)&cfg->dst, cfg->dst_len) != 0 &&
		    errno != EINPROGRESS) {
			conn_fail(g, c, errno, "connect failed");
			continue;
		}
	}
	return 0;
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

int lg_run(const struct lg_config *cfg_in, const struct socktab *ops, struct lg_result *out)
{
	struct epoll_event evs[LG_EVENTS];
	struct lg_config cfg = *cfg_in;
	struct lg g = {.cfg = &cfg, .ops = ops, .res = out, .ep = -1};
	size_t pat_len;
	uint64_t t_start;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	lg_config_defaults(&cfg);
	if (cfg.min_size > cfg.max_size || !cfg.dst_len)
		return -EINVAL;
	out->conns = cfg.conns;
	out->requests_planned = (uint64_t)cfg.conns * cfg.requests;
	pat_len = LG_PATTERN_SPAN + cfg.max_size;
	g.pattern = malloc(pat_len);
	g.rbuf = malloc(LG_RECV_CHUNK);
	g.c = calloc(cfg.conns, sizeof(*g.c));
	g.hist = calloc(1, sizeof(*g.hist));
	if (!g.pattern || !g.rbuf || !g.c || !g.hist) {
		rc = -ENOMEM;
		goto out_free;
	}
	fill_pattern(g.pattern, pat_len, cfg.seed);
	g.ep = ops->epoll_create(0);
	if (g.ep < 0) {
		rc = -errno;
		goto out_free;
	}
	t_start = now_ns();
	g.last_progress = t_start;
	open_conns(&g);
	while (g.open) {
		int n;

		if (cfg.stop && *cfg.stop) {
			out->interrupted = true;
			note_error(&g, EINTR, "interrupted");
			break;
		}
		if (cfg.tick)
			cfg.tick(cfg.tick_arg);
		n = ops->epoll_wait(g.ep, evs, LG_EVENTS, cfg.wait_ms);
		if (n < 0 && errno != EINTR) {
			note_error(&g, errno, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = &g.c[evs[i].data.u32];

			if (c->state == C_DONE || c->state == C_FAILED)
				continue;
			on_event(&g, c, evs[i].events);
		}
		if (now_ns() - g.last_progress > (uint64_t)cfg.stall_ms * 1000000u) {
			out->stalled = true;
			note_error(&g, ETIMEDOUT, "stalled: no progress for %d ms", cfg.stall_ms);
			break;
		}
	}
	out->elapsed_s = (double)(now_ns() - t_start) / 1e9;
	for (unsigned i = 0; i < cfg.conns; i++) {
		struct conn *c = &g.c[i];

		if (c->state != C_DONE && c->state != C_FAILED) {
			if (!out->interrupted && !out->stalled)
				note_error(&g, 0, "connection %u unfinished", i);
			conn_end(&g, c, C_FAILED);
		}
	}
	out->lat_p50_us = hist_pct(g.hist, 0.50) / 1e3;
	out->lat_p99_us = hist_pct(g.hist, 0.99) / 1e3;
	out->lat_max_us = (double)g.hist->max / 1e3;
	out->lat_mean_us = g.hist->n ? (double)g.hist->sum / (double)g.hist->n / 1e3 : 0;
	ops->close(g.ep);
	rc = lg_passed(out) ? 0 : -EIO;
out_free:
	free(g.hist);
	free(g.c);
	free(g.rbuf);
	free(g.pattern);
	return rc;
}

bool lg_passed(const struct lg_result *r)
{
	return r->requests_planned && r->requests_done == r->requests_planned && !r->bad_bytes &&
	       !r->conns_failed && r->conns_done == r->conns && !r->stalled && !r->interrupted;
}
