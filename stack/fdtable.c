/* The descriptor table and the lifetime of a socket's struct: lookup by
 * descriptor (with the kind check every call makes), the lowest free
 * descriptor as POSIX hands them out, the blocking wait every blocking call
 * shares, and the sweep of skiff_fini(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "sock.h"
#include "tcpglue.h"

#include "lwip/tcp.h"

struct skiff_sock *skiff__sock_miss(int fd, unsigned kinds)
{
	struct skiff_sock *s = skiff__sock_get(fd);

	if (!s) {
		errno = EBADF;
		return NULL;
	}
	if (kinds == SKIFF_SK_EPOLL)
		errno = EINVAL;
	else if (s->kind == SKIFF_SK_EPOLL)
		errno = ENOTSOCK;
	else
		errno = EOPNOTSUPP;
	return NULL;
}

struct skiff_sock *skiff__sock_alloc(enum skiff_sock_kind kind)
{
	struct skiff_stack *st = &skiff__s;
	/* On a cache line of its own (struct skiff_sock says why). */
	struct skiff_sock *s = aligned_alloc(_Alignof(struct skiff_sock), sizeof(*s));

	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->zc.fd = -1;
	s->kind = kind;
	s->opt.rcvtimeo_ms = -1;
	s->opt.sndtimeo_ms = -1;
	s->all_next = st->all_socks;
	if (st->all_socks)
		st->all_socks->all_prev = s;
	st->all_socks = s;
	st->live_socks++;
	return s;
}

int skiff__fd_install(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;

	for (uint32_t fd = st->free_hint; fd < st->cfg.max_sockets; fd++) {
		if (!st->socks[fd]) {
			st->socks[fd] = s;
			st->free_hint = fd + 1;
			s->fd = (int)fd;
			s->zc.fd = (int)fd;
			return (int)fd;
		}
	}
	return -EMFILE;
}

void skiff__fd_release(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;

	if (s->fd < 0)
		return;
	st->socks[s->fd] = NULL;
	if ((uint32_t)s->fd < st->free_hint)
		st->free_hint = (uint32_t)s->fd;
	s->fd = -1;
}

void skiff__sock_maybe_free(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;

	if (!s->app_closed || s->pins || s->fd >= 0 || s->pcb.tcp || skiff__zc_busy(s))
		return;
	skiff__rxq_drop(&s->rx);
	skiff__dgramq_drop(&s->dq);
	skiff__batch_forget(s);
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		st->all_socks = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	st->live_socks--;
	skiff__zc_forget(s);
	free(s);
}

int skiff__sock_wait(int fd, long long deadline_ms, struct skiff_sock **sp)
{
	int e = skiff__wait(deadline_ms);

	if (e == -ETIMEDOUT)
		return -EAGAIN;
	if (e)
		return e;
	if (!(*sp = skiff__sock_get(fd)))
		return -EBADF;
	return 0;
}

void skiff__socks_abort_all(void)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_sock *s;

	for (uint32_t fd = 0; fd < st->cfg.max_sockets; fd++) {
		if (!st->socks[fd])
			continue;
		st->socks[fd]->opt.linger_abort = true;
		skiff_close((int)fd);
	}
	/* Unaccepted children, and closed sockets whose pcbs linger. */
again:
	for (s = st->all_socks; s; s = s->all_next) {
		if (s->kind != SKIFF_SK_TCP || !s->pcb.tcp)
			continue;
		s->app_closed = true;
		if (s->state == SKIFF_TS_LISTEN)
			skiff__tcp_close(s);
		else
			skiff__tcp_abort(s); /* may free s */
		goto again;
	}
}

void skiff__socks_free_all(void)
{
	struct skiff_stack *st = &skiff__s;

	while (st->all_socks) {
		struct skiff_sock *s = st->all_socks;

		skiff__zc_release_all(s, true);
		s->zc.zs = NULL;
		s->pins = 0;
		s->fd = -1;
		s->app_closed = true;
		s->pcb.tcp = NULL;
		skiff__sock_maybe_free(s);
	}
}
