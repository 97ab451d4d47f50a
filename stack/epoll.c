/* epoll over skiff descriptors. Readiness is computed from socket state when
 * an instance is waited on; lwIP's callbacks only put the registrations of
 * a socket whose state changed on their instances' ready lists. A
 * level-triggered registration stays listed while it is ready; an
 * edge-triggered one is reported once per change; a one-shot one is
 * disarmed until EPOLL_CTL_MOD. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "instance.h"
#include "sock.h"
#include "tcpglue.h"

/* Bits epoll reports; the rest of events are flags. */
#define EP_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)

static void ready_add(struct skiff_ep_item *it)
{
	struct skiff_sock *ep = it->ep;

	if (it->on_ready || it->disarmed)
		return;
	it->on_ready = true;
	it->rdy_next = NULL;
	it->rdy_prev = ep->ready.rdy_tail;
	if (ep->ready.rdy_tail)
		ep->ready.rdy_tail->rdy_next = it;
	else
		ep->ready.rdy_head = it;
	ep->ready.rdy_tail = it;
}

static void ready_del(struct skiff_ep_item *it)
{
	struct skiff_sock *ep = it->ep;

	if (!it->on_ready)
		return;
	if (it->rdy_prev)
		it->rdy_prev->rdy_next = it->rdy_next;
	else
		ep->ready.rdy_head = it->rdy_next;
	if (it->rdy_next)
		it->rdy_next->rdy_prev = it->rdy_prev;
	else
		ep->ready.rdy_tail = it->rdy_prev;
	it->rdy_next = it->rdy_prev = NULL;
	it->on_ready = false;
}

/* What @p s is ready for, from its state: computed when an instance is
 * waited on, never stored. */
uint32_t skiff__poll_mask(struct skiff_sock *s)
{
	uint32_t m = 0;

	switch (s->kind) {
	case SKIFF_SK_EPOLL:
		return 0;
	case SKIFF_SK_UDP:
		m = EPOLLOUT | EPOLLWRNORM;
		if (s->dq.len)
			m |= EPOLLIN | EPOLLRDNORM;
		break;
	case SKIFF_SK_TCP:
		switch (s->state) {
		case SKIFF_TS_LISTEN:
			if (s->aq.len)
				m |= EPOLLIN | EPOLLRDNORM;
			break;
		case SKIFF_TS_NEW:
			m |= EPOLLOUT | EPOLLHUP;
			break;
		case SKIFF_TS_CONNECTING:
			break;
		case SKIFF_TS_CONNECTED:
			if (skiff__rxq_bytes(&s->rx) || s->rd_eof || s->rd_shut)
				m |= EPOLLIN | EPOLLRDNORM;
			if (s->rd_eof)
				m |= EPOLLRDHUP;
			if (s->pcb.tcp && !s->wr_shut && skiff__tcp_writable(s->pcb.tcp))
				m |= EPOLLOUT | EPOLLWRNORM;
			if (s->rd_eof && s->wr_shut)
				m |= EPOLLHUP;
			break;
		case SKIFF_TS_DEAD:
			m |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLOUT | EPOLLWRNORM;
			break;
		}
		break;
	}
	if (s->err)
		m |= EPOLLERR;
	if (s->zc.done_len)
		m |= SKIFF_EPOLLZC;
	return m;
}

void skiff__notify(struct skiff_sock *s)
{
	skiff__s.notified++;
	for (struct skiff_ep_item *it = s->ready.watchers; it; it = it->sock_next)
		ready_add(it);
}

static void unlink_from_sock(struct skiff_ep_item *it)
{
	struct skiff_ep_item **pp;

	for (pp = &it->sock->ready.watchers; *pp; pp = &(*pp)->sock_next) {
		if (*pp == it) {
			*pp = it->sock_next;
			return;
		}
	}
}

static void unlink_from_ep(struct skiff_ep_item *it)
{
	ready_del(it);
	if (it->ep_prev)
		it->ep_prev->ep_next = it->ep_next;
	else
		it->ep->ready.items = it->ep_next;
	if (it->ep_next)
		it->ep_next->ep_prev = it->ep_prev;
	it->ep_next = it->ep_prev = NULL;
}

/* A closed socket leaves every interest list it was on, as a closed file
 * description leaves Linux's. */
void skiff__ep_sock_gone(struct skiff_sock *s)
{
	while (s->ready.watchers) {
		struct skiff_ep_item *it = s->ready.watchers;

		s->ready.watchers = it->sock_next;
		unlink_from_ep(it);
		free(it);
	}
}

void skiff__ep_destroy(struct skiff_sock *ep)
{
	while (ep->ready.items) {
		struct skiff_ep_item *it = ep->ready.items;

		ep->ready.items = it->ep_next;
		unlink_from_sock(it);
		free(it);
	}
	ep->ready.rdy_head = ep->ready.rdy_tail = NULL;
}

int skiff_epoll_create(int flags)
{
	struct skiff_sock *ep;
	int fd;

	if (!skiff__running())
		SKIFF_FAIL(ENETDOWN);
	if (flags & ~EPOLL_CLOEXEC)
		SKIFF_FAIL(EINVAL);
	ep = skiff__sock_alloc(SKIFF_SK_EPOLL);
	if (!ep)
		SKIFF_FAIL(ENOMEM);
	fd = skiff__fd_install(ep);
	if (fd < 0) {
		ep->app_closed = true;
		skiff__sock_maybe_free(ep);
		SKIFF_FAIL(EMFILE);
	}
	return fd;
}

/* A socket has few watchers (one, usually): look there, not through an
 * instance that may watch 100,000 sockets. */
static struct skiff_ep_item *find_item(struct skiff_sock *ep, struct skiff_sock *s)
{
	for (struct skiff_ep_item *it = s->ready.watchers; it; it = it->sock_next)
		if (it->ep == ep)
			return it;
	return NULL;
}

int skiff_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct skiff_sock *ep, *s;
	struct skiff_ep_item *it;

	if (!(ep = skiff__sock_get(epfd)) || !(s = skiff__sock_get(fd)))
		SKIFF_FAIL(EBADF);
	if (ep->kind != SKIFF_SK_EPOLL || fd == epfd)
		SKIFF_FAIL(EINVAL);
	/* Nesting instances is not supported (no readiness of its own). */
	if (s->kind == SKIFF_SK_EPOLL)
		SKIFF_FAIL(EINVAL);
	it = find_item(ep, s);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it)
			SKIFF_FAIL(EEXIST);
		if (!ev)
			SKIFF_FAIL(EFAULT);
		it = calloc(1, sizeof(*it));
		if (!it)
			SKIFF_FAIL(ENOMEM);
		it->ep = ep;
		it->sock = s;
		it->fd = fd;
		it->sock_next = s->ready.watchers;
		s->ready.watchers = it;
		it->ep_next = ep->ready.items;
		if (ep->ready.items)
			ep->ready.items->ep_prev = it;
		ep->ready.items = it;
		break;
	case EPOLL_CTL_MOD:
		if (!it)
			SKIFF_FAIL(ENOENT);
		if (!ev)
			SKIFF_FAIL(EFAULT);
		it->disarmed = false;
		break;
	case EPOLL_CTL_DEL:
		if (!it)
			SKIFF_FAIL(ENOENT);
		unlink_from_sock(it);
		unlink_from_ep(it);
		free(it);
		return 0;
	default:
		SKIFF_FAIL(EINVAL);
	}
	it->events = ev->events | EPOLLERR | EPOLLHUP;
	it->data = ev->data;
	/* Already ready counts as a change, as on Linux. */
	ready_add(it);
	return 0;
}

/* The registrations from @p rest to @p rest_tail, not looked at yet, go
 * back on the ready list ahead of those listed again meanwhile: they are
 * the first looked at next time, as Linux takes its ready list round. */
static void ready_requeue(struct skiff_sock *ep, struct skiff_ep_item *rest,
			  struct skiff_ep_item *rest_tail)
{
	rest->rdy_prev = NULL;
	rest_tail->rdy_next = ep->ready.rdy_head;
	if (ep->ready.rdy_head)
		ep->ready.rdy_head->rdy_prev = rest_tail;
	else
		ep->ready.rdy_tail = rest_tail;
	ep->ready.rdy_head = rest;
}

/* Reports what the listed registrations are ready for, up to @p max; the
 * walk stops there, so a call costs what it reports (and the stale entries
 * it drops on the way), not the length of the list. */
static int collect(struct skiff_sock *ep, struct epoll_event *out, int max)
{
	struct skiff_ep_item *it = ep->ready.rdy_head, *tail = ep->ready.rdy_tail, *next;
	int n = 0;

	ep->ready.rdy_head = ep->ready.rdy_tail = NULL;
	for (; it; it = next) {
		uint32_t r;

		if (n == max) {
			ready_requeue(ep, it, tail);
			break;
		}
		next = it->rdy_next;
		it->on_ready = false;
		if (it->disarmed)
			continue;
		r = skiff__poll_mask(it->sock) & it->events & ~(uint32_t)EP_FLAGS;
		if (!r)
			continue;
		out[n].events = r;
		out[n].data = it->data;
		n++;
		if (it->events & EPOLLONESHOT)
			it->disarmed = true;
		else if (!(it->events & EPOLLET))
			ready_add(it); /* level-triggered: still listed while ready */
	}
	return n;
}

int skiff_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms)
{
	struct skiff_sock *ep;
	long long deadline;
	int e, n;

	if (!(ep = skiff__sock_of(epfd, SKIFF_SK_EPOLL)))
		return -1;
	if (max <= 0)
		SKIFF_FAIL(EINVAL);
	if (!events)
		SKIFF_FAIL(EFAULT);
	/* Read the clock only once there is something to wait for. */
	deadline = timeout_ms == 0 ? 0 : LLONG_MIN;
	for (;;) {
		skiff_poll(0);
		if (!(ep = skiff__sock_get(epfd)))
			SKIFF_FAIL(EBADF);
		n = collect(ep, events, max);
		if (n || timeout_ms == 0)
			return n;
		if (deadline == LLONG_MIN)
			deadline = skiff__deadline(timeout_ms);
		e = skiff__sock_wait(epfd, deadline, &ep);
		if (e == -EAGAIN || e == -EDEADLK)
			return 0;
		if (e)
			SKIFF_FAIL(-e);
	}
}
