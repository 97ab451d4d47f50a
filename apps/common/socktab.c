/* The socket tables (socktab.h): the kernel's and skiff's. */
#define _GNU_SOURCE
#include "socktab.h"

#include <unistd.h>

#include <skiff/skiff.h>

/* The kernel's calls that need a flag to behave as the table says. */

static int kernel_socket(int domain, int type, int protocol)
{
	return socket(domain, type | SOCK_CLOEXEC, protocol);
}

static int kernel_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	return accept4(fd, addr, len, flags | SOCK_CLOEXEC);
}

/* A peer's reset must be an error code here, not a SIGPIPE. */
static ssize_t kernel_send(int fd, const void *buf, size_t len, int flags)
{
	return send(fd, buf, len, flags | MSG_NOSIGNAL);
}

static int kernel_epoll_create(int flags)
{
	return epoll_create1(flags | EPOLL_CLOEXEC);
}

/* Each call of a table, with the kernel's function for it; skiff's is
 * skiff_<call>, the same shape by design. */
#define SOCKTAB_CALLS(X)                                                                           \
	X(socket, kernel_socket)                                                                   \
	X(bind, bind)                                                                              \
	X(listen, listen)                                                                          \
	X(accept, kernel_accept)                                                                   \
	X(connect, connect)                                                                        \
	X(send, kernel_send)                                                                       \
	X(recv, recv)                                                                              \
	X(shutdown, shutdown)                                                                      \
	X(close, close)                                                                            \
	X(setsockopt, setsockopt)                                                                  \
	X(getsockopt, getsockopt)                                                                  \
	X(getsockname, getsockname)                                                                \
	X(epoll_create, kernel_epoll_create)                                                       \
	X(epoll_ctl, epoll_ctl)                                                                    \
	X(epoll_wait, epoll_wait)

#define KERNEL_CALL(call, kernel) .call = kernel,
#define SKIFF_CALL(call, kernel)  .call = skiff_##call,

const struct socktab socktab_kernel = {.name = "kernel", SOCKTAB_CALLS(KERNEL_CALL)};
const struct socktab socktab_skiff = {.name = "skiff", SOCKTAB_CALLS(SKIFF_CALL)};
