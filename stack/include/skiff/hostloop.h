/**
 * @file
 * Hosting skiff in another event loop: what a loop that sleeps in the
 * kernel (poll, epoll, libuv, libevent, the preload library) needs to know
 * to wait for kernel descriptors and skiff at once.
 *
 * The pattern: call skiff_poll(0) until it returns 0; read skiff_sock_events()
 * of the sockets you watch (or skiff_epoll_wait(.., 0)); if nothing is ready,
 * sleep in the kernel on your descriptors plus skiff_wait_fd() (POLLIN) for
 * at most skiff_next_timer_ms(); then start again.
 *
 * Threading: as skiff.h (one thread at a time in skiff_*).
 */
#ifndef SKIFF_HOSTLOOP_H
#define SKIFF_HOSTLOOP_H

#include <stdint.h>

#include <skiff/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The kernel descriptor that becomes readable (POLLIN) when frames have
 * arrived for skiff: the AF_XDP socket. Do not read, close or dup it.
 * @return it, or -1 and errno: ENOTCONN (not running), EOPNOTSUPP (a
 *         backend without a descriptor, memlink: wake every few
 *         microseconds instead) */
SKIFF_API int skiff_wait_fd(void);

/** How long a host loop may sleep before skiff's next timer is due
 * (retransmissions, delayed ACKs, TIME-WAIT).
 * @return milliseconds (0: work is due now), -1 when no timer is armed,
 *         or -1 and errno ENOTCONN when the stack is not running */
SKIFF_API int skiff_next_timer_ms(void);

/** What skiff socket @p fd is ready for now, as EPOLL* bits (EPOLLIN,
 * EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP), as of the last skiff_poll().
 * For a skiff epoll instance: EPOLLIN while skiff_epoll_wait() would report
 * something (nothing is taken off its ready list).
 * @return 0, or -1 and errno EBADF (no such socket) */
SKIFF_API int skiff_sock_events(int fd, uint32_t *events);

#ifdef __cplusplus
}
#endif

#endif
