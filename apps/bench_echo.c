/* The benchmark's echo server on skiff (bench.h): skiff-echo's way of
 * serving (epoll, non-blocking, each connection a relay_half that echoes
 * through the zero-copy receive and send paths), IPv4 only. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/skiff.h>

#include "bench.h"
#include "relay.h"

#define EVENTS 256

struct echo_conn {
	int fd;
	uint32_t events; /* what epoll watches now */
	struct relay_half h;
	struct echo_conn *prev, *next;
};

struct bench_echo {
	int ep, lfd;
	struct echo_conn *conns;
	struct app_counters c;
};

static void conn_close(struct bench_echo *e, struct echo_conn *c)
{
	skiff_epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
	skiff_close(c->fd);
	relay_clear(&c->h);
	if (c->prev)
		c->prev->next = c->next;
	else
		e->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	e->c.conns_open--;
	free(c);
}

/* Read while nothing waits to be sent; wait for room while something does. */
static int conn_watch(struct bench_echo *e, struct echo_conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	ev.events = relay_pending(&c->h) ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
	if (ev.events == c->events)
		return 0;
	c->events = ev.events;
	return skiff_epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_io(struct bench_echo *e, struct echo_conn *c)
{
	int rc = 0;

	if (relay_pending(&c->h))
		rc = relay_flush(&c->h, c->fd, &e->c);
	/* A few batches per event, as skiff-echo does, so that one busy
	 * connection cannot starve the others. */
	for (int i = 0; i < 4 && !rc && relay_can_read(&c->h); i++) {
		rc = relay_pump(&c->h, c->fd, c->fd, &e->c);
		if (rc > 0)
			rc = 0;
		else if (rc == 0)
			break;
	}
	if (rc == -EAGAIN)
		rc = 0;
	if (!rc && c->h.shut) {
		conn_close(e, c);
		return;
	}
	if (rc || conn_watch(e, c) != 0)
		conn_close(e, c);
}

static void accept_all(struct bench_echo *e)
{
	for (;;) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
		struct echo_conn *c;
		int fd = skiff_accept(e->lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			skiff_close(fd);
			continue;
		}
		c->fd = fd;
		c->events = ev.events;
		ev.data.ptr = c;
		skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		skiff_zc_set_callback(fd, relay_zc_done, &e->c);
		if (skiff_epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			skiff_close(fd);
			free(c);
			continue;
		}
		c->next = e->conns;
		if (e->conns)
			e->conns->prev = c;
		e->conns = c;
		e->c.conns_total++;
		e->c.conns_open++;
	}
}

void bench_echo_step(struct bench_echo *e, int timeout_ms)
{
	struct epoll_event evs[EVENTS];
	int n = skiff_epoll_wait(e->ep, evs, EVENTS, timeout_ms);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == e)
			accept_all(e);
		else
			conn_io(e, evs[i].data.ptr);
	}
}

int bench_echo_start(struct bench_echo **out, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct bench_echo *e = calloc(1, sizeof(*e));
	struct epoll_event ev = {.events = EPOLLIN};
	int one = 1, rc;

	if (!e)
		return -ENOMEM;
	e->lfd = -1;
	e->ep = skiff_epoll_create(0);
	if (e->ep < 0) {
		rc = -errno;
		goto out_free;
	}
	e->lfd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (e->lfd < 0) {
		rc = -errno;
		goto out_close_ep;
	}
	skiff_setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ev.data.ptr = e;
	if (skiff_bind(e->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    skiff_listen(e->lfd, 255) != 0 || skiff_epoll_ctl(e->ep, EPOLL_CTL_ADD, e->lfd, &ev)) {
		rc = -errno;
		goto out_close_lfd;
	}
	*out = e;
	return 0;

out_close_lfd:
	skiff_close(e->lfd);
out_close_ep:
	skiff_close(e->ep);
out_free:
	free(e);
	return rc;
}

const struct app_counters *bench_echo_counters(const struct bench_echo *e)
{
	return &e->c;
}

void bench_echo_stop(struct bench_echo *e)
{
	if (!e)
		return;
	while (e->conns)
		conn_close(e, e->conns);
	skiff_close(e->lfd);
	skiff_close(e->ep);
	free(e);
}
