/* Readiness (epoll.c): what a socket is ready for, and epoll instances over
 * skiff descriptors. A socket's state change notifies its watchers; an
 * instance computes readiness when it is waited on. */
#ifndef SKIFF_EPOLL_H
#define SKIFF_EPOLL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct skiff_sock;

/* One registration: a socket watched by an epoll instance. */
struct skiff_ep_item {
	struct skiff_ep_item *sock_next;	   /* the watched socket's list */
	struct skiff_ep_item *ep_next, *ep_prev;   /* the instance's interest list */
	struct skiff_ep_item *rdy_next, *rdy_prev; /* the instance's ready list */
	struct skiff_sock *ep;
	struct skiff_sock *sock;
	int fd;
	uint32_t events;
	epoll_data_t data;
	bool on_ready;
	bool disarmed; /* EPOLLONESHOT fired; EPOLL_CTL_MOD rearms */
};

/* A socket's side (watchers) and an instance's side (interest and ready
 * lists) of the registrations. */
struct skiff_readiness {
	struct skiff_ep_item *watchers;
	struct skiff_ep_item *items;
	struct skiff_ep_item *rdy_head, *rdy_tail;
};

/* @p s changed state: its watchers go on their instances' ready lists. */
void skiff__notify(struct skiff_sock *s);
/* What @p s is ready for, as EPOLL* bits. */
uint32_t skiff__poll_mask(struct skiff_sock *s);
/* A closed socket leaves every interest list it was on. */
void skiff__ep_sock_gone(struct skiff_sock *s);
/* An instance goes: its registrations with it. */
void skiff__ep_destroy(struct skiff_sock *ep);

#endif
