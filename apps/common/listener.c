/* A server's listening side (listener.h). */
#define _GNU_SOURCE
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One family's listener, added to the epoll set with its descriptor's
 * address as data. Says why on failure. */
static int listen_on(struct listener *l, int family, uint16_t port, int backlog, int *lfd,
		     const char *prog)
{
	const struct socktab *ops = l->ops;
	struct sockaddr_storage ss;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lfd};
	socklen_t len;
	int one = 1, e;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	}
	*lfd = ops->socket(family, SOCK_STREAM | SOCK_NONBLOCK, l->protocol);
	if (*lfd < 0)
		goto out_err;
	/* The IPv4 listener takes IPv4: this one is IPv6 only. */
	if (family == AF_INET6)
		ops->setsockopt(*lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	ops->setsockopt(*lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ops->bind(*lfd, (struct sockaddr *)&ss, len) != 0 || ops->listen(*lfd, backlog) != 0 ||
	    ops->epoll_ctl(l->ep, EPOLL_CTL_ADD, *lfd, &ev) != 0)
		goto out_err;
	return 0;

out_err:
	e = errno;
	if (prog)
		fprintf(stderr, "%s: listening on %s port %u%s: %s%s\n", prog,
			family == AF_INET ? "IPv4" : "IPv6", port, l->protocol ? " (MPTCP)" : "",
			strerror(e), e == EADDRINUSE ? " (address already in use)" : "");
	return -e;
}

int listener_open(struct listener *l, const struct socktab *ops, uint16_t port, bool ipv4,
		  bool ipv6, const char *prog)
{
	return listener_open_ports(l, ops, port, 1, LISTENER_BACKLOG, 0, ipv4, ipv6, prog);
}

int listener_open_ports(struct listener *l, const struct socktab *ops, uint16_t port,
			unsigned ports, int backlog, int protocol, bool ipv4, bool ipv6,
			const char *prog)
{
	int rc = 0;

	l->ops = ops;
	l->protocol = protocol;
	l->ports = 0;
	for (unsigned i = 0; i < LISTENER_MAX_PORTS * 2; i++)
		l->fd[i] = -1;
	if (!ports || ports > LISTENER_MAX_PORTS || (!port && ports > 1) ||
	    (uint32_t)port + ports - 1 > 65535) {
		l->ep = -1;
		return -EINVAL;
	}
	l->ports = ports;
	l->ep = ops->epoll_create(0);
	if (l->ep < 0) {
		rc = -errno;
		if (prog)
			fprintf(stderr, "%s: %s_epoll_create: %s\n", prog, ops->name,
				strerror(-rc));
		return rc;
	}
	for (unsigned i = 0; i < ports && !rc; i++) {
		uint16_t p = (uint16_t)(port + i);

		if (ipv4)
			rc = listen_on(l, AF_INET, p, backlog, &l->fd[2 * i], prog);
		if (!rc && ipv6)
			rc = listen_on(l, AF_INET6, p, backlog, &l->fd[2 * i + 1], prog);
	}
	return rc;
}

int listener_of(const struct listener *l, const struct epoll_event *ev)
{
	/* data.ptr is &l->fd[i] for a listener, a connection's own else. */
	uintptr_t p = (uintptr_t)ev->data.ptr, first = (uintptr_t)l->fd;

	if (p >= first && p < first + 2 * l->ports * sizeof(l->fd[0]))
		return *(const int *)ev->data.ptr;
	return -1;
}

int listener_accept(const struct listener *l, int lfd)
{
	int fd = l->ops->accept(lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;

	if (fd >= 0)
		l->ops->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

uint16_t listener_port(const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = l->fd[0] >= 0 ? l->fd[0] : l->fd[1];

	if (fd < 0 || l->ops->getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void listener_close(struct listener *l)
{
	for (unsigned i = 0; i < 2 * l->ports; i++) {
		if (l->fd[i] >= 0)
			l->ops->close(l->fd[i]);
		l->fd[i] = -1;
	}
	if (l->ep >= 0)
		l->ops->close(l->ep);
	l->ep = -1;
	l->ports = 0;
}
