/* The echo server of skiff-echo and skiff-bench (echo_server.h). */
#define _GNU_SOURCE
#include "echo_server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>

#include <skiff/skiff.h>

#include "relay.h"

#define EVENTS 256

struct echo_conn {
	int fd;
	uint32_t events; /* what epoll watches now */
	struct relay_half h;
	struct echo_conn *prev, *next;
};

struct echo_server {
	int ep;
	int lfd[2]; /* IPv4, IPv6 listeners (-1: none) */
	struct echo_conn *conns;
	struct app_counters *c;
};

static void conn_close(struct echo_server *e, struct echo_conn *c)
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
	e->c->conns_open--;
	free(c);
}

/* Read while nothing waits to be sent; write-wait while something does. */
static int conn_watch(struct echo_server *e, struct echo_conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	ev.events = relay_pending(&c->h) ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
	if (ev.events == c->events)
		return 0;
	c->events = ev.events;
	return skiff_epoll_ctl(e->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_io(struct echo_server *e, struct echo_conn *c)
{
	struct app_counters *k = e->c;
	int rc = 0;

	if (relay_pending(&c->h))
		rc = relay_flush(&c->h, c->fd, k);
	/* A few batches per event, so one busy connection cannot starve the
	 * others; level-triggered epoll brings us back for the rest. */
	for (int i = 0; i < 4 && !rc && relay_can_read(&c->h); i++) {
		rc = relay_pump(&c->h, c->fd, c->fd, k);
		if (rc > 0)
			rc = 0;
		else if (rc == 0)
			break;
	}
	if (rc == -EAGAIN)
		rc = 0;
	/* Echoed everything and the client is done: close (our FIN). */
	if (!rc && c->h.shut) {
		conn_close(e, c);
		return;
	}
	if (rc || conn_watch(e, c) != 0)
		conn_close(e, c);
}

static void accept_all(struct echo_server *e, int lfd)
{
	for (;;) {
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
		struct echo_conn *c;
		int fd = skiff_accept(lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;

		if (fd < 0)
			return; /* EAGAIN, or a connection that died in the queue */
		c = calloc(1, sizeof(*c));
		if (!c) {
			skiff_close(fd);
			continue;
		}
		c->fd = fd;
		c->events = ev.events;
		ev.data.ptr = c;
		/* Echoes are small and latency-bound: no Nagle delay. */
		skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		skiff_zc_set_callback(fd, relay_zc_done, e->c);
		if (skiff_epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			skiff_close(fd);
			free(c);
			continue;
		}
		c->next = e->conns;
		if (e->conns)
			e->conns->prev = c;
		e->conns = c;
		e->c->conns_total++;
		e->c->conns_open++;
	}
}

void echo_server_step(struct echo_server *e, int timeout_ms)
{
	struct epoll_event evs[EVENTS];
	int n = skiff_epoll_wait(e->ep, evs, EVENTS, timeout_ms);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &e->lfd[0])
			accept_all(e, e->lfd[0]);
		else if (evs[i].data.ptr == &e->lfd[1])
			accept_all(e, e->lfd[1]);
		else
			conn_io(e, evs[i].data.ptr);
	}
}

int echo_server_open(struct echo_server **out, const struct app_opts *o, struct app_counters *c)
{
	struct echo_server *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	e->c = c;
	rc = relay_server_open(o, &e->ep, e->lfd);
	if (rc) {
		relay_server_close(&e->ep, e->lfd);
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

void echo_server_close(struct echo_server *e)
{
	if (!e)
		return;
	while (e->conns)
		conn_close(e, e->conns);
	relay_server_close(&e->ep, e->lfd);
	free(e);
}
