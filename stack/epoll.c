/* epoll over skiff descriptors. Readiness is computed from socket state when
 * an instance is waited on; lwIP's callbacks only put the registrations of
 * a socket whose state changed on their instances' ready lists. A
 * level-triggered registration stays listed while it is ready; an
 * edge-triggered one is reported once per change; a one-shot one is
 * disarmed until EPOLL_CTL_MOD. An instance may sit inside another (up to
 * 4 deep, no cycles: ELOOP): it is readable (EPOLLIN) while something on
 * its ready list is ready, and a registration listed on it lists it on the
 * instances holding it. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "instance.h"
#include "sock.h"
#include "tcpglue.h"

/* Bits epoll reports; the rest of events are flags. */
#define EP_FLAGS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)
/* Instances inside instances, at most this deep (Linux's limit). */
#define EP_MAX_NESTS 4

static void ready_add(struct skiff_ep_item *it)
{
	struct skiff_sock *ep = it->ep;

	if (it->disarmed)
		return;
	/* An instance inside others: they may have something to report now,
	 * listed here already or not (bounded by EP_MAX_NESTS; no cycles,
	 * skiff_epoll_ctl() refuses them). */
	for (struct skiff_ep_item *w = ep->ready.watchers; w; w = w->sock_next)
		ready_add(w);
	if (it->on_ready)
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

/* An instance is readable while a registration on its ready list is ready
 * for what it asked (looked at without taking anything off). */
static uint32_t ep_poll_mask(struct skiff_sock *ep, int depth)
{
	for (struct skiff_ep_item *it = ep->ready.rdy_head; it; it = it->rdy_next) {
		uint32_t m;

		if (it->disarmed)
			continue;
		if (it->sock->kind == SKIFF_SK_EPOLL)
			m = depth < EP_MAX_NESTS ? ep_poll_mask(it->sock, depth + 1) : 0;
		else
			m = skiff__poll_mask(it->sock);
		if (m & it->events & ~(uint32_t)EP_FLAGS)
			return EPOLLIN | EPOLLRDNORM;
	}
	return 0;
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
		return ep_poll_mask(s, 0);
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

/* Whether instance @p from holds @p to, directly or through instances in it. */
static bool reaches(struct skiff_sock *from, struct skiff_sock *to, int depth)
{
	if (from == to)
		return true;
	if (depth > EP_MAX_NESTS)
		return true; /* deeper than allowed: refuse as a loop would be */
	for (struct skiff_ep_item *it = from->ready.items; it; it = it->ep_next)
		if (it->sock->kind == SKIFF_SK_EPOLL && reaches(it->sock, to, depth + 1))
			return true;
	return false;
}

/* How many levels of instances @p ep holds below it. */
static int depth_below(struct skiff_sock *ep, int depth)
{
	int best = 0;

	if (depth > EP_MAX_NESTS)
		return depth;
	for (struct skiff_ep_item *it = ep->ready.items; it; it = it->ep_next)
		if (it->sock->kind == SKIFF_SK_EPOLL) {
			int d = 1 + depth_below(it->sock, depth + 1);

			if (d > best)
				best = d;
		}
	return best;
}

/* How many levels of instances hold @p ep. */
static int depth_above(struct skiff_sock *ep, int depth)
{
	int best = 0;

	if (depth > EP_MAX_NESTS)
		return depth;
	for (struct skiff_ep_item *w = ep->ready.watchers; w; w = w->sock_next) {
		int d = 1 + depth_above(w->ep, depth + 1);

		if (d > best)
			best = d;
	}
	return best;
}

int skiff_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct skiff_sock *ep, *s;
	struct skiff_ep_item *it;

	if (!(ep = skiff__sock_get(epfd)) || !(s = skiff__sock_get(fd)))
		SKIFF_FAIL(EBADF);
	if (ep->kind != SKIFF_SK_EPOLL || fd == epfd)
		SKIFF_FAIL(EINVAL);
	it = find_item(ep, s);
	/* An instance inside another: no cycle, and no deeper than Linux
	 * allows (ELOOP, as Linux). */
	if (s->kind == SKIFF_SK_EPOLL && op == EPOLL_CTL_ADD &&
	    (reaches(s, ep, 0) || depth_below(s, 0) + depth_above(ep, 0) + 1 > EP_MAX_NESTS))
		SKIFF_FAIL(ELOOP);
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
