/* libskiff-preload: readiness. poll/ppoll/select/pselect over a mix of
 * skiff and kernel descriptors, and epoll instances that hold both: each
 * application epoll is a kernel epoll (its kernel descriptors) with a
 * skiff epoll beside it (its skiff sockets). A wait asks skiff, then the
 * kernel epoll without blocking, and sleeps on the kernel epoll's
 * descriptor plus skiff's AF_XDP socket (pl__block). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include <skiff/hostloop.h>
#include <skiff/skiff.h>

#include "preload.h"

/* ---- poll ------------------------------------------------------------------ */

struct pollwait {
	struct pollfd *fds; /* the application's */
	nfds_t n;
	struct pollfd *k; /* its kernel descriptors (skiff ones: fd -1) */
};

static int poll_check_skiff(void *arg)
{
	struct pollwait *w = arg;
	int ready = 0;

	for (nfds_t i = 0; i < w->n; i++) {
		struct pl_fd *e = pl__get(w->fds[i].fd);
		uint32_t ev = 0;

		if (e && e->kind == PL_EPOLL && e->sfd >= 0 && !e->inherited) {
			/* An epoll set: readable when its skiff side has
			 * something (its kernel side: poll_check_kernel). */
			w->fds[i].revents = 0;
			if (!skiff_sock_events(e->sfd, &ev) && (ev & EPOLLIN))
				w->fds[i].revents = (short)(POLLIN & w->fds[i].events);
			ready += w->fds[i].revents != 0;
			continue;
		}
		if (!e || e->kind != PL_SKIFF)
			continue;
		if (e->inherited || skiff_sock_events(e->sfd, &ev)) {
			w->fds[i].revents = POLLNVAL;
		} else {
			/* EPOLL* and POLL* share their values. */
			w->fds[i].revents =
				(short)(ev & ((uint32_t)w->fds[i].events | POLLERR | POLLHUP));
		}
		ready += w->fds[i].revents != 0;
	}
	return ready;
}

static int poll_check_kernel(void *arg)
{
	struct pollwait *w = arg;
	int r = pl__real.poll(w->k, w->n, 0), more = 0;

	if (r <= 0)
		return r;
	/* An epoll set's entry may be ready on both sides: counted once. */
	for (nfds_t i = 0; i < w->n; i++)
		if (w->k[i].fd >= 0 && w->k[i].revents) {
			more += !w->fds[i].revents;
			w->fds[i].revents |= w->k[i].revents;
		}
	return more;
}

static bool has_skiff(const struct pollfd *fds, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++) {
		struct pl_fd *e = pl__get(fds[i].fd);

		if (e && (e->kind == PL_SKIFF || (e->kind == PL_EPOLL && e->sfd >= 0)))
			return true;
	}
	return false;
}

static int do_poll(struct pollfd *fds, nfds_t n, int timeout_ms, const sigset_t *mask)
{
	struct pollfd small[64], *k = small;
	struct pollwait w = {fds, n, NULL};
	unsigned nskiff = 0;
	int r;

	if (n > 64 && !(k = malloc(n * sizeof(*k)))) {
		errno = ENOMEM;
		return -1;
	}
	for (nfds_t i = 0; i < n; i++) {
		struct pl_fd *e = pl__get(fds[i].fd);

		k[i] = fds[i];
		k[i].revents = 0;
		fds[i].revents = 0;
		if (e && e->kind == PL_SKIFF) {
			k[i].fd = -1; /* poll() skips negative descriptors */
			nskiff++;
		}
	}
	w.k = k;
	r = pl__block(poll_check_skiff, poll_check_kernel, &w, -1, 0, nskiff, k, n, timeout_ms,
		      mask);
	if (k != small)
		free(k);
	return r;
}

PL_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	if (pl__inside || !has_skiff(fds, n))
		return REAL(poll)(fds, n, timeout_ms);
	return do_poll(fds, n, timeout_ms, NULL);
}

PL_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen)
{
	(void)fdslen;
	return poll(fds, n, timeout_ms);
}

static int ts_ms(const struct timespec *ts)
{
	if (!ts)
		return -1;
	long long ms = (long long)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;

	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

PL_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	if (pl__inside || !has_skiff(fds, n))
		return REAL(ppoll)(fds, n, ts, mask);
	return do_poll(fds, n, ts_ms(ts), mask);
}

PL_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			  const sigset_t *mask, size_t fdslen)
{
	(void)fdslen;
	return ppoll(fds, n, ts, mask);
}

/* ---- select: poll underneath ------------------------------------------------ */

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool sets_have_skiff(int nfds, fd_set *r, fd_set *w, fd_set *x)
{
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
		struct pl_fd *e;

		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (x && FD_ISSET(fd, x))) &&
		    (e = pl__get(fd)) && e->kind == PL_SKIFF)
			return true;
	}
	return false;
}

static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *x, int timeout_ms,
		     const sigset_t *mask)
{
	struct pollfd pfd[FD_SETSIZE];
	nfds_t n = 0;
	int ready, count = 0;

	if (nfds > FD_SETSIZE)
		nfds = FD_SETSIZE;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;

		if (r && FD_ISSET(fd, r))
			ev |= POLLIN;
		if (w && FD_ISSET(fd, w))
			ev |= POLLOUT;
		if (x && FD_ISSET(fd, x))
			ev |= POLLPRI;
		if (ev)
			pfd[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	ready = do_poll(pfd, n, timeout_ms, mask);
	if (ready < 0)
		return -1;
	if (r)
		FD_ZERO(r);
	if (w)
		FD_ZERO(w);
	if (x)
		FD_ZERO(x);
	for (nfds_t i = 0; i < n; i++) {
		short re = pfd[i].revents;

		if (re & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		/* As the kernel's select: an error or hangup makes a
		 * descriptor readable and writable if asked. */
		if (r && (pfd[i].events & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR))) {
			FD_SET(pfd[i].fd, r);
			count++;
		}
		if (w && (pfd[i].events & POLLOUT) && (re & (POLLOUT | POLLERR))) {
			FD_SET(pfd[i].fd, w);
			count++;
		}
		if (x && (pfd[i].events & POLLPRI) && (re & POLLPRI)) {
			FD_SET(pfd[i].fd, x);
			count++;
		}
	}
	return count;
}

PL_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *x, struct timeval *tv)
{
	int ms;

	if (pl__inside || !sets_have_skiff(nfds, r, w, x))
		return REAL(select)(nfds, r, w, x, tv);
	long long t0 = mono_us(), left;
	int n, saved;

	ms = tv ? (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000) : -1;
	n = do_select(nfds, r, w, x, ms, NULL);
	/* Linux writes back the time left, after a timeout (0), an event or
	 * an interruption alike. */
	if (tv) {
		saved = errno;
		left = (long long)tv->tv_sec * 1000000 + tv->tv_usec - (mono_us() - t0);
		if (left < 0 || n == 0)
			left = 0;
		tv->tv_sec = (time_t)(left / 1000000);
		tv->tv_usec = (suseconds_t)(left % 1000000);
		errno = saved;
	}
	return n;
}

PL_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *x, const struct timespec *ts,
		      const sigset_t *mask)
{
	if (pl__inside || !sets_have_skiff(nfds, r, w, x))
		return REAL(pselect)(nfds, r, w, x, ts, mask);
	return do_select(nfds, r, w, x, ts_ms(ts), mask);
}

/* ---- epoll ------------------------------------------------------------------ */

PL_EXPORT int epoll_create1(int flags)
{
	int fd = REAL(epoll_create1)(flags);
	struct pl_fd *e;

	if (fd < 0 || pl__inside || !pl__cfg.enabled)
		return fd;
	pl__forget(fd);
	if ((e = pl__slot(fd))) {
		/* A number decided for the kernel before left its fields. */
		memset(e, 0, sizeof(*e));
		e->kind = PL_EPOLL;
		e->sfd = -1;
	}
	return fd;
}

PL_EXPORT int epoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return epoll_create1(0);
}

static void nest_skiff_side(int fd, struct pl_fd *ep);

/* Under the lock: the skiff side of epoll set @p ep (number @p fd), made
 * now; the sets @p ep sits in hold it too. 0, or -1 and errno. */
static int make_skiff_side(int fd, struct pl_fd *ep)
{
	if ((ep->sfd = skiff_epoll_create(0)) < 0)
		return -1;
	nest_skiff_side(fd, ep);
	return 0;
}

/* Under the lock: epoll set @p ep, inside other sets (its registrations,
 * noted as an undecided socket's are), got a skiff side: each of those
 * sets holds it on its own skiff side as well, with the same events and
 * data. The kernel's MOD with the same event proves the set still holds
 * @p ep (its number was not closed and reused meanwhile). */
static void nest_skiff_side(int fd, struct pl_fd *ep)
{
	for (unsigned i = 0; i < ep->nepregs; i++) {
		struct pl_epreg *g = &ep->epregs[i];
		struct pl_fd *o = pl__get(g->epfd);

		if (!o || o->kind != PL_EPOLL || o->inherited ||
		    pl__real.epoll_ctl(g->epfd, EPOLL_CTL_MOD, fd, &g->ev))
			continue;
		if (o->sfd < 0 && make_skiff_side(g->epfd, o))
			continue;
		if (skiff_epoll_ctl(o->sfd, EPOLL_CTL_ADD, ep->sfd, &g->ev) == 0)
			o->nskiff++;
	}
}

void pl__epreg_note(struct pl_fd *e, int epfd, int op, const struct epoll_event *ev)
{
	unsigned i;

	for (i = 0; i < e->nepregs && e->epregs[i].epfd != epfd; i++)
		;
	if (op == EPOLL_CTL_DEL) {
		if (i < e->nepregs)
			e->epregs[i] = e->epregs[--e->nepregs];
		return;
	}
	if (i == e->nepregs) {
		if (i == PL_MAX_EPREGS) {
			pl__warn_once("epregs",
				      "an undecided socket in more than %d epoll sets: "
				      "the others keep its kernel placeholder",
				      PL_MAX_EPREGS);
			return;
		}
		e->nepregs++;
	}
	e->epregs[i].epfd = epfd;
	e->epregs[i].ev = ev ? *ev : (struct epoll_event){0};
}

void pl__epreg_move(int fd, struct pl_fd *e)
{
	for (unsigned i = 0; i < e->nepregs; i++) {
		struct pl_epreg *g = &e->epregs[i];
		struct pl_fd *ep = pl__get(g->epfd);

		/* The kernel's DEL proves the set still holds the placeholder
		 * (the number was not closed and reused meanwhile). */
		if (!ep || ep->kind != PL_EPOLL || ep->inherited ||
		    pl__real.epoll_ctl(g->epfd, EPOLL_CTL_DEL, fd, NULL))
			continue;
		if (ep->sfd < 0 && make_skiff_side(g->epfd, ep)) {
			pl__warn_once("epmove",
				      "could not make skiff's side of an epoll set: "
				      "a socket added before its bind is no longer in it");
			continue;
		}
		if (skiff_epoll_ctl(ep->sfd, EPOLL_CTL_ADD, e->sfd, &g->ev) == 0)
			ep->nskiff++;
	}
	e->nepregs = 0;
}

PL_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct pl_fd *ep, *e;
	int r;

	if (pl__inside || !(ep = pl__get(epfd)) || ep->kind != PL_EPOLL)
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	e = pl__get(fd);
	if (e && e->kind == PL_EPOLL) {
		/* A set inside a set: the kernel nests their kernel sides;
		 * their skiff sides nest in skiff, now or when the inner one
		 * gets one. */
		r = REAL(epoll_ctl)(epfd, op, fd, ev);
		if (r || e->inherited || ep->inherited)
			return r;
		pl__lock();
		pl__epreg_note(e, epfd, op, ev);
		if (e->sfd >= 0 && (ep->sfd >= 0 || make_skiff_side(epfd, ep) == 0) &&
		    skiff_epoll_ctl(ep->sfd, op, e->sfd, ev) == 0) {
			if (op == EPOLL_CTL_ADD)
				ep->nskiff++;
			else if (op == EPOLL_CTL_DEL && ep->nskiff)
				ep->nskiff--;
		}
		pl__unlock();
		return 0;
	}
	if (e && e->kind == PL_UNDECIDED) {
		/* On the placeholder for now; moved if the socket goes to skiff. */
		r = REAL(epoll_ctl)(epfd, op, fd, ev);
		if (r == 0) {
			pl__lock();
			pl__epreg_note(e, epfd, op, ev);
			pl__unlock();
		}
		return r;
	}
	if (!e || e->kind != PL_SKIFF)
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	if (e->inherited || ep->inherited) {
		/* Another process of the family runs skiff (a second nginx
		 * worker): the set accepts the socket and never reports it. */
		pl__warn_once("epinh", "epoll_ctl on a skiff socket whose stack runs in another "
				       "process (fork): accepted, it will report no events");
		return 0;
	}
	pl__lock();
	if (ep->sfd < 0 && make_skiff_side(epfd, ep)) {
		pl__unlock();
		return -1;
	}
	r = skiff_epoll_ctl(ep->sfd, op, e->sfd, ev);
	pl__unlock();
	if (r == 0 && op == EPOLL_CTL_ADD)
		ep->nskiff++;
	else if (r == 0 && op == EPOLL_CTL_DEL && ep->nskiff)
		ep->nskiff--;
	return r;
}

struct epwait {
	int epfd, sep;
	struct epoll_event *ev;
	int max, n;
};

static int ep_check_skiff(void *arg)
{
	struct epwait *w = arg;

	w->n = skiff_epoll_wait(w->sep, w->ev, w->max, 0);
	if (w->n < 0)
		w->n = 0;
	return w->n;
}

static int ep_check_kernel(void *arg)
{
	struct epwait *w = arg;

	if (w->n >= w->max)
		return 0;
	return pl__real.epoll_pwait(w->epfd, w->ev + w->n, w->max - w->n, 0, NULL);
}

PL_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout_ms,
			  const sigset_t *mask)
{
	struct pl_fd *ep;
	struct epwait w;
	struct pollfd k;

	if (pl__inside || !(ep = pl__get(epfd)) || ep->kind != PL_EPOLL || ep->sfd < 0 ||
	    ep->inherited)
		return REAL(epoll_pwait)(epfd, ev, max, timeout_ms, mask);
	if (max <= 0) {
		errno = EINVAL;
		return -1;
	}
	w = (struct epwait){epfd, ep->sfd, ev, max, 0};
	k = (struct pollfd){.fd = epfd, .events = POLLIN};
	return pl__block(ep_check_skiff, ep_check_kernel, &w, ep->sfd, EPOLLIN, ep->nskiff, &k, 1,
			 timeout_ms, mask);
}

PL_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms)
{
	return epoll_pwait(epfd, ev, max, timeout_ms, NULL);
}
