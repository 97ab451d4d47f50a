/**
 * @file
 * A server's listening side: an epoll set with a non-blocking listener on
 * one port (or a few consecutive ones) for IPv4 and/or IPv6 (IPv6-only, so
 * the two never overlap), over a socket table (socktab.h). The server adds
 * its connections to the same epoll set.
 */
#ifndef SKIFF_APPS_LISTENER_H
#define SKIFF_APPS_LISTENER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "socktab.h"

#define LISTENER_BACKLOG 255
/* Consecutive ports at most: a client with one address has only so many
 * ephemeral ports per server address and port. */
#define LISTENER_MAX_PORTS 8

struct listener {
	const struct socktab *ops;
	int ep;				/* the epoll set */
	int protocol;			/* of its sockets: 0, or IPPROTO_MPTCP */
	unsigned ports;			/* listened on: port, port + 1, ... */
	int fd[LISTENER_MAX_PORTS * 2]; /* IPv4 and IPv6 listener of each port; -1: none */
};

/**
 * Opens the epoll set and a listener on @p port (0: any) for each family
 * asked for, registered with data.ptr = &l->fd[i]. @p prog (may be NULL:
 * silently) prefixes a message that says why a step failed.
 * @return 0 or -errno (-EADDRINUSE, ...); listener_close() undoes a
 *         partial set-up
 */
int listener_open(struct listener *l, const struct socktab *ops, uint16_t port, bool ipv4,
		  bool ipv6, const char *prog);

/**
 * listener_open() on @p ports consecutive ports from @p port (1 ..
 * LISTENER_MAX_PORTS; @p port 0 only with one), each listening with
 * @p backlog, its sockets made with @p protocol (0, or IPPROTO_MPTCP).
 * @return 0 or -errno (-EINVAL for a bad count)
 */
int listener_open_ports(struct listener *l, const struct socktab *ops, uint16_t port,
			unsigned ports, int backlog, int protocol, bool ipv4, bool ipv6,
			const char *prog);

/** The listener an event of the epoll set is for, or -1 (a connection's). */
int listener_of(const struct listener *l, const struct epoll_event *ev);

/** The next connection waiting on @p lfd, non-blocking, with TCP_NODELAY
 * (echoes and proxied requests are latency-bound); -1 when none is. */
int listener_accept(const struct listener *l, int lfd);

/** The (first) port listened on (host order), or 0. */
uint16_t listener_port(const struct listener *l);

/** Closes the listeners and the epoll set (not the connections in it). */
void listener_close(struct listener *l);

#endif
