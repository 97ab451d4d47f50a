/* A skiff socket and the descriptor table (fdtable.c). The struct is
 * grouped by concern; each group belongs to the room named beside it and
 * is reached through that room's functions. */
#ifndef SKIFF_SOCK_H
#define SKIFF_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "ackbatch.h"
#include "cc.h"
#include "dgram.h"
#include "epoll.h"
#include "guard.h"
#include "instance.h"
#include "recovery.h"
#include "rxq.h"
#include "sockaddr.h"
#include "zcsend.h"

struct tcp_pcb;
struct udp_pcb;

enum skiff_sock_kind {
	SKIFF_SK_TCP = 1u << 0,
	SKIFF_SK_UDP = 1u << 1,
	SKIFF_SK_EPOLL = 1u << 2,
};

enum skiff_tcp_state {
	SKIFF_TS_NEW, /* no pcb activity yet (may be bound) */
	SKIFF_TS_LISTEN,
	SKIFF_TS_CONNECTING, /* SYN sent */
	SKIFF_TS_CONNECTED,  /* established (or closing after it was) */
	SKIFF_TS_DEAD,	     /* the pcb is gone: reset, aborted, refused, closed */
};

/* Socket options kept by the socket itself (sockopt.c). */
struct skiff_sockopts {
	bool nonblock;
	bool v6only;
	bool linger_abort; /* SO_LINGER {1, 0} */
	bool require_secpath;
	bool nodelay;
	bool cork;	 /* TCP_CORK: sends queue, the uncork pushes */
	bool mptcp;	 /* IPPROTO_MPTCP: a listener answers MP_CAPABLE (stack/mptcp/) */
	int rcvtimeo_ms; /* -1: forever */
	int sndtimeo_ms;
	uint32_t corked_ms; /* when a poll first found corked data waiting (tcpglue.c), | 1 */
};

/* A listener's finished handshakes waiting for accept() (tcpglue.c), and
 * an unaccepted child's link into it. */
struct skiff_acceptq {
	struct skiff_sock *listener; /* for an unaccepted child */
	struct skiff_sock *head, *tail, *next;
	unsigned len;
	unsigned backlog;
};

/*
 * A socket. Lifetime: created by skiff_socket() or a finished handshake on
 * a listener; its descriptor goes at skiff_close(), the struct once nothing
 * needs it: the app closed it, no pcb is attached (lwIP's destroy callback
 * says when one goes), no zero-copy send is outstanding, and no call has it
 * pinned.
 *
 * Layout: with thousands of connections each request finds its socket cold
 * in the cache, and pays a miss per cache line it touches. So the struct
 * starts on a cache line and what a request and its answer touch comes
 * first, together: the state, the receive queue, the zero-copy sends, the
 * epoll watchers, the ACK batching, the first part of the congestion
 * control's state and of the recovery's (each of those two puts its own
 * rarely used part last). What is read only at set-up, on a listener or a
 * datagram socket follows them.
 */
struct skiff_sock {
	int fd; /* -1 once closed (or not yet accepted) */
	enum skiff_sock_kind kind;
	unsigned pins;
	bool app_closed;

	/* connection state (tcpglue.c) */
	bool rd_eof;  /* FIN received */
	bool rd_shut; /* SHUT_RD */
	bool wr_shut; /* SHUT_WR or FIN sent */
	/* MPTCP moved the socket onto a join when lwIP freed its first
	 * subflow: the error report that follows that free is the old one's. */
	bool moved_err;
	enum skiff_tcp_state state;
	int err;      /* pending error (SO_ERROR), positive errno */
	int dead_err; /* why the connection died: ECONNRESET, ECONNREFUSED, ... */
	union {
		struct tcp_pcb *tcp;
		struct udp_pcb *udp;
	} pcb;

	struct skiff_sockopts opt;    /* sockopt.c */
	struct skiff_rxq rx;	      /* rxq.c */
	struct skiff_zcstate zc;      /* zcsend.c */
	struct skiff_readiness ready; /* epoll.c */
	struct skiff_ackstate ack;    /* ackbatch.c */
	struct skiff_cc cc;	      /* cc.c */
	struct skiff_recovery rec;    /* recovery.c */

	/* ---- from here on: set-up, listeners, datagrams ---- */
	int domain;
	struct skiff_addrs addr;       /* sockaddr.c */
	struct skiff_acceptq aq;       /* tcpglue.c */
	struct skiff_dgramq dq;	       /* dgram.c */
	struct skiff_guardstate guard; /* guard.c */

	struct skiff_sock *all_next, *all_prev; /* every live struct (fdtable.c) */
} __attribute__((aligned(64)));

/* ---- fdtable.c: descriptors and the lifetime of the struct --------------- */

/* The socket behind @p fd, whatever its kind, or NULL. Inline, as the
 * next: every call of the API starts with it, several per request. */
static inline struct skiff_sock *skiff__sock_get(int fd)
{
	const struct skiff_stack *st = &skiff__s;

	if (!st->up || fd < 0 || (uint32_t)fd >= st->cfg.max_sockets)
		return NULL;
	return st->socks[fd];
}

/* skiff__sock_of() when @p fd is not a socket of @p kinds: NULL, errno set. */
struct skiff_sock *skiff__sock_miss(int fd, unsigned kinds);

/* The socket behind @p fd if its kind is one of @p kinds (SKIFF_SK_*
 * bits); else NULL with errno set: EBADF (no such descriptor), ENOTSOCK
 * (an epoll instance where a socket is wanted), EOPNOTSUPP (a socket of
 * another protocol), EINVAL (not an epoll instance where one is wanted). */
static inline struct skiff_sock *skiff__sock_of(int fd, unsigned kinds)
{
	struct skiff_sock *s = skiff__sock_get(fd);

	if (s && (s->kind & kinds))
		return s;
	return skiff__sock_miss(fd, kinds);
}
/* Start loading the part of @p s a received segment works on (its state,
 * options, queues, readiness, ACK, congestion and recovery state), for a
 * segment a few places ahead in an RX batch. */
static inline void skiff__sock_prefetch(const struct skiff_sock *s)
{
	for (size_t o = 0; o < offsetof(struct skiff_sock, domain); o += 64)
		__builtin_prefetch((const char *)s + o, 1);
}
struct skiff_sock *skiff__sock_alloc(enum skiff_sock_kind kind);
/* The lowest free descriptor for @p s, as POSIX hands them out; or
 * -EMFILE. */
int skiff__fd_install(struct skiff_sock *s);
void skiff__fd_release(struct skiff_sock *s);
/* Frees @p s once nothing needs it (see struct skiff_sock). */
void skiff__sock_maybe_free(struct skiff_sock *s);
/*
 * Blocks in the poll loop until something happened or @p deadline_ms (-1:
 * forever), then looks @p fd up again into *@p sp (a callback may have
 * closed it). 0, or -EAGAIN (deadline passed), -EBADF (closed meanwhile),
 * -EDEADLK (from inside a callback), -ENOTCONN (stack stopped).
 */
int skiff__sock_wait(int fd, long long deadline_ms, struct skiff_sock **sp);
/* skiff_fini(): every socket goes, its connections reset; then the
 * structs zero-copy sends still held. */
void skiff__socks_abort_all(void);
void skiff__socks_free_all(void);

/* The POSIX calls' error return. */
#define SKIFF_FAIL(e)                                                                              \
	do {                                                                                       \
		errno = (e);                                                                       \
		return -1;                                                                         \
	} while (0)

#endif
