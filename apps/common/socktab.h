/**
 * @file
 * A socket table: the POSIX-shaped socket and epoll calls as a struct of
 * functions, so that the load generator, the echo server and the
 * listeners are written once and run over Linux kernel sockets
 * (socktab_kernel) or over skiff's (socktab_skiff).
 *
 * Every call has the semantics of its POSIX namesake (-1 and errno). The
 * kernel's table creates its sockets close-on-exec, and its send() never
 * raises SIGPIPE.
 */
#ifndef SKIFF_APPS_SOCKTAB_H
#define SKIFF_APPS_SOCKTAB_H

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

struct socktab {
	const char *name;
	int (*socket)(int domain, int type, int protocol);
	int (*bind)(int fd, const struct sockaddr *addr, socklen_t len);
	int (*listen)(int fd, int backlog);
	int (*accept)(int fd, struct sockaddr *addr, socklen_t *len, int flags);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	int (*shutdown)(int fd, int how);
	int (*close)(int fd);
	int (*setsockopt)(int fd, int level, int name, const void *val, socklen_t len);
	int (*getsockopt)(int fd, int level, int name, void *val, socklen_t *len);
	int (*getsockname)(int fd, struct sockaddr *addr, socklen_t *len);
	int (*epoll_create)(int flags);
	int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
	int (*epoll_wait)(int epfd, struct epoll_event *events, int max, int timeout_ms);
};

extern const struct socktab socktab_kernel;
extern const struct socktab socktab_skiff;

#endif
