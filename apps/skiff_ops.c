/* The load generator's socket table over skiff (loadgen.h): the memlink
 * fallback's peer drives skiff with the same code that drives Linux. */
#include <skiff/skiff.h>

#include "demo.h"

const struct lg_ops lg_skiff_ops = {
	.name = "skiff",
	.socket = skiff_socket,
	.bind = skiff_bind,
	.listen = skiff_listen,
	.accept = skiff_accept,
	.connect = skiff_connect,
	.send = skiff_send,
	.recv = skiff_recv,
	.shutdown = skiff_shutdown,
	.close = skiff_close,
	.setsockopt = skiff_setsockopt,
	.getsockopt = skiff_getsockopt,
	.getsockname = skiff_getsockname,
	.epoll_create = skiff_epoll_create,
	.epoll_ctl = skiff_epoll_ctl,
	.epoll_wait = skiff_epoll_wait,
};
