/* skiff-proxy: a TCP proxy on skiff. Accepts on skiff, connects upstream
 * through skiff, and moves each direction with relay.h (zero-copy receive
 * loans into zero-copy sends, released by their completions), passing
 * FINs along and resets as closes. Without -i it runs its embedded default
 * (driver.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/queue.h>

#include <skiff/skiff.h>

#include "driver.h"
#include "listener.h"
#include "relay.h"

#define EVENTS 256

struct pconn;

/* One socket of a pair; epoll's data points here. */
struct side {
	struct pconn *pc;
	int fd;
	uint32_t events;
	struct relay_half in; /* bytes read on this side, for the other */
};

struct pconn {
	struct side s[2]; /* 0: the client's connection, 1: upstream */
	bool connecting;  /* upstream's connect() in progress */
	bool dead;	  /* closed; freed after the event batch */
	LIST_ENTRY(pconn) link;
};

LIST_HEAD(pconn_list, pconn);

struct proxy {
	struct driver_server srv;
	struct listener l;
	const struct app_opts *o;
	struct pconn_list conns;
	struct pconn_list graveyard; /* closed in this batch: other events may name them */
};

static void pair_close(struct proxy *p, struct pconn *pc)
{
	if (pc->dead)
		return;
	pc->dead = true;
	for (int i = 0; i < 2; i++) {
		if (pc->s[i].fd >= 0) {
			skiff_epoll_ctl(p->l.ep, EPOLL_CTL_DEL, pc->s[i].fd, NULL);
			skiff_close(pc->s[i].fd);
		}
		relay_clear(&pc->s[i].in);
	}
	LIST_REMOVE(pc, link);
	p->srv.c.conns_open--;
	LIST_INSERT_HEAD(&p->graveyard, pc, link);
}

static void bury(struct proxy *p)
{
	while (!LIST_EMPTY(&p->graveyard)) {
		struct pconn *pc = LIST_FIRST(&p->graveyard);

		LIST_REMOVE(pc, link);
		free(pc);
	}
}

/* A side reads while its own half may; it waits to write while the other
 * side's half holds bytes for it. */
static int side_watch(struct proxy *p, struct side *sd, struct side *other)
{
	struct epoll_event ev = {.data.ptr = sd};

	ev.events = (relay_can_read(&sd->in) ? EPOLLIN | EPOLLRDHUP : 0) |
		    (relay_pending(&other->in) ? EPOLLOUT : 0);
	if (ev.events == sd->events)
		return 0;
	sd->events = ev.events;
	return skiff_epoll_ctl(p->l.ep, EPOLL_CTL_MOD, sd->fd, &ev);
}

static void pair_io(struct proxy *p, struct pconn *pc, int i, uint32_t events)
{
	struct side *me = &pc->s[i], *other = &pc->s[!i];
	struct app_counters *k = &p->srv.c;
	int rc = 0;

	if (pc->connecting && i == 0) {
		/* The client gave up before upstream answered. */
		if (events & (EPOLLERR | EPOLLHUP))
			pair_close(p, pc);
		return;
	}
	if (pc->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (skiff_getsockopt(me->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (!err && !(events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLOUT))
			return;
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			k->upstream_failed++;
			pair_close(p, pc);
			return;
		}
		pc->connecting = false;
		k->upstream_total++;
		events |= EPOLLIN; /* the client may have sent already */
	}
	/* Writable: what the other side read is waiting for this one. */
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && relay_pending(&other->in))
		rc = relay_flush(&other->in, me->fd, k);
	if (!rc || rc == -EAGAIN)
		rc = relay_pump_some(&me->in, me->fd, other->fd, k);
	/* Both FINs passed on: the pair is done. */
	if (!rc && pc->s[0].in.shut && pc->s[1].in.shut) {
		pair_close(p, pc);
		return;
	}
	if (rc || side_watch(p, &pc->s[0], &pc->s[1]) || side_watch(p, &pc->s[1], &pc->s[0]))
		pair_close(p, pc);
}

/* Upstream for a new client: connect through skiff, non-blocking. */
static int connect_upstream(struct proxy *p, struct pconn *pc)
{
	const struct app_opts *o = p->o;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &pc->s[1]};
	int fd = skiff_socket(o->upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK,
			      o->mptcp ? IPPROTO_MPTCP : 0),
	    one = 1;

	if (fd < 0)
		return -errno;
	pc->s[1].fd = fd;
	skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	skiff_zc_set_callback(fd, relay_zc_done, &p->srv.c);
	if (skiff_connect(fd, (const struct sockaddr *)&o->upstream, o->upstream_len) != 0 &&
	    errno != EINPROGRESS)
		return -errno;
	pc->connecting = true;
	pc->s[1].events = ev.events;
	return skiff_epoll_ctl(p->l.ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* A new client: its pair, and upstream's connect under way. */
static void pair_open(struct proxy *p, int fd)
{
	/* The client's side reads only once upstream is there. */
	struct epoll_event ev = {.events = 0};
	struct pconn *pc = calloc(1, sizeof(*pc));

	if (!pc) {
		skiff_close(fd);
		return;
	}
	pc->s[0] = (struct side){.pc = pc, .fd = fd};
	pc->s[1] = (struct side){.pc = pc, .fd = -1};
	LIST_INSERT_HEAD(&p->conns, pc, link);
	p->srv.c.conns_total++;
	p->srv.c.conns_open++;
	skiff_zc_set_callback(fd, relay_zc_done, &p->srv.c);
	ev.data.ptr = &pc->s[0];
	if (skiff_epoll_ctl(p->l.ep, EPOLL_CTL_ADD, fd, &ev) != 0 || connect_upstream(p, pc) != 0) {
		p->srv.c.upstream_failed++;
		pair_close(p, pc);
	}
}

static void proxy_step(struct driver_server *s, int timeout_ms)
{
	struct proxy *p = (struct proxy *)s;
	struct epoll_event evs[EVENTS];
	int n = skiff_epoll_wait(p->l.ep, evs, EVENTS, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct side *sd = evs[i].data.ptr;
		int lfd = listener_of(&p->l, &evs[i]), fd;

		if (lfd >= 0) {
			while ((fd = listener_accept(&p->l, lfd)) >= 0)
				pair_open(p, fd);
		} else if (!sd->pc->dead) {
			pair_io(p, sd->pc, (int)(sd - sd->pc->s), evs[i].events);
		}
	}
	bury(p);
}

static int proxy_start(struct driver_server *s, const struct app_opts *o)
{
	struct proxy *p = (struct proxy *)s;
	int rc;

	p->o = o;
	LIST_INIT(&p->conns);
	LIST_INIT(&p->graveyard);
	rc = listener_open_ports(&p->l, &socktab_skiff, o->port, 1, LISTENER_BACKLOG,
				 o->mptcp ? IPPROTO_MPTCP : 0, o->have_ip4, o->have_ip6, o->prog);
	if (rc)
		listener_close(&p->l);
	return rc;
}

static void proxy_stop(struct driver_server *s)
{
	struct proxy *p = (struct proxy *)s;

	while (!LIST_EMPTY(&p->conns))
		pair_close(p, LIST_FIRST(&p->conns));
	bury(p);
	listener_close(&p->l);
}

int main(int argc, char **argv)
{
	struct proxy p = {.srv = {.start = proxy_start, .step = proxy_step, .stop = proxy_stop}};
	struct app_opts o;

	app_parse(argc, argv, APP_PROXY, &o);
	return driver_main(&o, &p.srv);
}
