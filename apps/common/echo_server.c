/* The echo server (echo_server.h). */
#define _GNU_SOURCE
#include "echo_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/queue.h>

#include <skiff/skiff.h>

#include "listener.h"
#include "relay.h"

#define EVENTS	 256
#define COPY_BUF (64u * 1024)

struct echo_conn {
	int fd;
	uint32_t events;     /* what epoll watches now */
	struct relay_half h; /* zero-copy */
	uint8_t *buf;	     /* copied: the unsent bytes are buf[off, len) */
	uint32_t len, off;
	bool eof;
	LIST_ENTRY(echo_conn) link;
};

struct echo_server {
	struct listener l;
	bool zc;
	LIST_HEAD(, echo_conn) conns;
	struct app_counters *c;
	struct app_counters own; /* where c points when nobody counts */
};

static bool pending(const struct echo_server *e, const struct echo_conn *c)
{
	return e->zc ? relay_pending(&c->h) : c->off < c->len;
}

static void conn_close(struct echo_server *e, struct echo_conn *c)
{
	const struct socktab *ops = e->l.ops;

	ops->epoll_ctl(e->l.ep, EPOLL_CTL_DEL, c->fd, NULL);
	ops->close(c->fd);
	if (e->zc)
		relay_clear(&c->h);
	LIST_REMOVE(c, link);
	e->c->conns_open--;
	free(c->buf);
	free(c);
}

/* Read while nothing waits to be sent; write-wait while something does. */
static int conn_watch(struct echo_server *e, struct echo_conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	ev.events = pending(e, c) ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
	if (ev.events == c->events)
		return 0;
	c->events = ev.events;
	return e->l.ops->epoll_ctl(e->l.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* The I/O of a connection: 1 when it is done (everything echoed, and the
 * client closed), 0 to wait for more, or -errno. */

static int zc_io(struct echo_server *e, struct echo_conn *c)
{
	int rc = relay_pending(&c->h) ? relay_flush(&c->h, c->fd, e->c) : 0;

	if (!rc)
		rc = relay_pump_some(&c->h, c->fd, c->fd, e->c);
	if (rc == -EAGAIN)
		rc = 0;
	/* Our FIN went out after the last byte: close. */
	return !rc && c->h.shut ? 1 : rc;
}

/* Echo what there is; read only when the buffer is empty, so a slow
 * reader slows its writer (back-pressure) instead of growing a buffer. */
static int copy_io(struct echo_server *e, struct echo_conn *c)
{
	const struct socktab *ops = e->l.ops;

	for (;;) {
		ssize_t n;

		while (c->off < c->len) {
			n = ops->send(c->fd, c->buf + c->off, c->len - c->off, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return 0;
			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			c->off += (uint32_t)n;
		}
		c->off = c->len = 0;
		if (c->eof)
			return 1;
		n = ops->recv(c->fd, c->buf, COPY_BUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		if (n == 0) {
			c->eof = true;
			continue;
		}
		c->len = (uint32_t)n;
		e->c->requests++;
		e->c->bytes += (uint64_t)n;
	}
}

static void conn_io(struct echo_server *e, struct echo_conn *c)
{
	int rc = e->zc ? zc_io(e, c) : copy_io(e, c);

	if (rc || conn_watch(e, c) != 0)
		conn_close(e, c);
}

/* Adds a new connection: 0, or -errno and the caller closes @p fd. */
static int conn_add(struct echo_server *e, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
	struct echo_conn *c = calloc(1, sizeof(*c));
	int rc = -ENOMEM;

	if (!c)
		return rc;
	if (!e->zc && !(c->buf = malloc(COPY_BUF)))
		goto out_free;
	c->fd = fd;
	c->events = ev.events;
	ev.data.ptr = c;
	if (e->zc)
		skiff_zc_set_callback(fd, relay_zc_done, e->c);
	if (e->l.ops->epoll_ctl(e->l.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		rc = -errno;
		goto out_free;
	}
	LIST_INSERT_HEAD(&e->conns, c, link);
	e->c->conns_total++;
	e->c->conns_open++;
	return 0;

out_free:
	free(c->buf);
	free(c);
	return rc;
}

static void accept_all(struct echo_server *e, int lfd)
{
	int fd;

	/* Until EAGAIN, or a connection that died in the queue. */
	while ((fd = listener_accept(&e->l, lfd)) >= 0)
		if (conn_add(e, fd) != 0)
			e->l.ops->close(fd);
}

int echo_server_step(struct echo_server *e, int timeout_ms)
{
	struct epoll_event evs[EVENTS];
	int n = e->l.ops->epoll_wait(e->l.ep, evs, EVENTS, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		int lfd = listener_of(&e->l, &evs[i]);

		if (lfd >= 0)
			accept_all(e, lfd);
		else
			conn_io(e, evs[i].data.ptr);
	}
	return n;
}

int echo_server_run(struct echo_server *e, volatile sig_atomic_t *stop)
{
	while (!stop || !*stop) {
		int rc = echo_server_step(e, 100);

		if (rc < 0)
			return rc;
	}
	return 0;
}

int echo_server_open(struct echo_server **out, const struct echo_config *cfg)
{
	struct echo_server *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	e->zc = cfg->zero_copy;
	e->c = cfg->c ? cfg->c : &e->own;
	LIST_INIT(&e->conns);
	rc = listener_open_ports(&e->l, cfg->ops, cfg->port, cfg->ports ? cfg->ports : 1,
				 cfg->backlog ? cfg->backlog : LISTENER_BACKLOG,
				 cfg->mptcp ? IPPROTO_MPTCP : 0, cfg->ipv4, cfg->ipv6, cfg->prog);
	if (rc) {
		listener_close(&e->l);
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

uint16_t echo_server_port(const struct echo_server *e)
{
	return listener_port(&e->l);
}

void echo_server_close(struct echo_server *e)
{
	if (!e)
		return;
	while (!LIST_EMPTY(&e->conns))
		conn_close(e, LIST_FIRST(&e->conns));
	listener_close(&e->l);
	free(e);
}
