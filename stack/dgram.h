/* UDP sockets (dgram.c): lwIP's raw UDP behind the socket calls, with a
 * bounded queue of received datagrams. */
#ifndef SKIFF_DGRAM_H
#define SKIFF_DGRAM_H

#include <sys/uio.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "lwip/ip_addr.h"

struct pbuf;
struct skiff_sock;

/* Datagrams a UDP socket queues before it drops (counted). */
#ifndef SKIFF_UDP_RCVQ_MAX
#define SKIFF_UDP_RCVQ_MAX 512u
#endif

struct skiff_dgram {
	struct skiff_dgram *next;
	struct pbuf *p;
	ip_addr_t addr;
	u16_t port;
};

struct skiff_dgramq {
	struct skiff_dgram *head, *tail;
	unsigned len;
};

/* A UDP pcb for @p s; 0 or -ENOBUFS. */
int skiff__dgram_open(struct skiff_sock *s);
/* The pcb and every queued datagram go. */
void skiff__dgram_close(struct skiff_sock *s);
void skiff__dgramq_drop(struct skiff_dgramq *q);
/* The POSIX calls' UDP halves: a count, or -errno. */
ssize_t skiff__dgram_send(struct skiff_sock *s, const void *buf, size_t len,
			  const struct sockaddr *to, socklen_t tolen);
ssize_t skiff__dgram_recv(int fd, struct skiff_sock *s, const struct iovec *iov, size_t cnt,
			  int flags, struct sockaddr *from, socklen_t *fromlen, size_t *full);

#endif
