/* stack/ internals shared by its .c files: the one stack instance, the
 * socket table, and the glue between lwIP, the port and zerocopy/. Not
 * installed; lwIP types are fine here (they never leave stack/). */
#ifndef SKIFF_INTERNAL_H
#define SKIFF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include <skiff/pkb.h>
#include <skiff/skiff.h>
#include <skiff/umem.h>
#include <skiff/zc.h>

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#include "skiff_testing.h"

#ifndef SKIFF_FRAME_COUNT_DEFAULT
#define SKIFF_FRAME_COUNT_DEFAULT 16384u
#endif
#ifndef SKIFF_RING_SIZE_DEFAULT
#define SKIFF_RING_SIZE_DEFAULT 2048u
#endif
#ifndef SKIFF_MAX_SOCKETS_DEFAULT
#define SKIFF_MAX_SOCKETS_DEFAULT 4096u
#endif
/* Frames taken off the RX ring per poll round. */
#ifndef SKIFF_RX_BATCH
#define SKIFF_RX_BATCH 64u
#endif
#ifndef SKIFF_TIME_WAIT_MS_DEFAULT
#define SKIFF_TIME_WAIT_MS_DEFAULT 120000u
#endif
/* Datagrams a UDP socket queues before it drops (counted). */
#ifndef SKIFF_UDP_RCVQ_MAX
#define SKIFF_UDP_RCVQ_MAX 512u
#endif
#define SKIFF_MTU 1500u

#define SKIFF_CONTAINER_OF(ptr, type, member)                                                      \
	((type *)(void *)((uint8_t *)(ptr)-offsetof(type, member)))

/* ---- sockets ------------------------------------------------------------ */

/* Sender-side SACK scoreboard (sack.c): SACKed ranges above the ACK. */
#ifndef SKIFF_SACK_MAX
#define SKIFF_SACK_MAX 8
#endif
struct skiff_sack_range {
	u32_t left, right;
};

enum skiff_sock_kind {
	SKIFF_SK_TCP,
	SKIFF_SK_UDP,
	SKIFF_SK_EPOLL,
};

enum skiff_tcp_state {
	SKIFF_TS_NEW, /* no pcb activity yet (may be bound) */
	SKIFF_TS_LISTEN,
	SKIFF_TS_CONNECTING, /* SYN sent */
	SKIFF_TS_CONNECTED,  /* established (or closing after it was) */
	SKIFF_TS_DEAD,	     /* the pcb is gone: reset, aborted, refused, closed */
};

struct skiff_sock;

/* One epoll registration: a socket watched by an epoll instance. */
struct skiff_ep_item {
	struct skiff_ep_item *sock_next; /* the watched socket's list */
	struct skiff_ep_item *ep_next;	 /* the instance's interest list */
	struct skiff_ep_item *rdy_next;	 /* the instance's ready list */
	struct skiff_sock *ep;
	struct skiff_sock *sock;
	int fd;
	uint32_t events;
	epoll_data_t data;
	bool on_ready;
	bool disarmed; /* EPOLLONESHOT fired; EPOLL_CTL_MOD rearms */
};

struct skiff_dgram {
	struct skiff_dgram *next;
	struct pbuf *p;
	ip_addr_t addr;
	u16_t port;
};

/*
 * A socket. Lifetime: created by skiff_socket() or a finished handshake on
 * a listener; its descriptor goes at skiff_close(), the struct once nothing
 * needs it: the app closed it, no pcb is attached (lwIP's destroy callback
 * says when one goes), no zero-copy send is outstanding, and no call has it
 * pinned.
 */
struct skiff_sock {
	int fd; /* -1 once closed (or not yet accepted) */
	enum skiff_sock_kind kind;
	int domain;
	bool nonblock;
	bool app_closed;
	bool v6only;
	bool linger_abort; /* SO_LINGER {1, 0} */
	bool require_secpath;
	bool rd_eof;	    /* FIN received */
	bool rd_shut;	    /* SHUT_RD */
	bool wr_shut;	    /* SHUT_WR or FIN sent */
	bool reported_dead; /* the pending error was reported once */
	enum skiff_tcp_state state;
	int err;      /* pending error (SO_ERROR), positive errno */
	int dead_err; /* why the connection died: ECONNRESET, ECONNREFUSED, ... */
	unsigned pins;
	int rcvtimeo_ms; /* -1: forever */
	int sndtimeo_ms;

	union {
		struct tcp_pcb *tcp;
		struct udp_pcb *udp;
	} pcb;

	/* TCP receive queue: single pbufs linked through pbuf->next (never
	 * handed back to lwIP as a chain); rx_off bytes of the head consumed. */
	struct pbuf *rx_head, *rx_tail;
	uint32_t rx_off;
	size_t rx_bytes;
	uint32_t rx_unacked; /* consumed, not yet tcp_recved() */

	/* listener: finished handshakes waiting for accept() */
	struct skiff_sock *listener;			/* for an unaccepted child */
	struct skiff_sock *aq_head, *aq_tail, *aq_next; /* accept queue */
	unsigned aq_len;
	unsigned backlog;

	/* UDP receive queue */
	struct skiff_dgram *dq_head, *dq_tail;
	unsigned dq_len;

	/* epoll: registrations watching this socket, or (an instance) its
	 * interest and ready lists */
	struct skiff_ep_item *watchers;
	struct skiff_ep_item *items;
	struct skiff_ep_item *rdy_head, *rdy_tail;

	/* zero-copy send: the completion state, and the buffers TCP may still
	 * reference, oldest first (linked through pkb->next, end sequence
	 * number in the cb) */
	struct zc_sock *zs;
	skiff_zc_fn zc_cb;
	void *zc_opaque;
	struct pkb *zq_head, *zq_tail;
	unsigned zq_len;
	struct skiff_zc_range *zr; /* completed ranges not taken by a callback */
	unsigned zr_len, zr_cap;
	int zc_fd; /* the descriptor reported to completion callbacks */

	/* addresses, kept for getpeername()/getsockname() after the pcb goes */
	ip_addr_t laddr, raddr;
	u16_t lport, rport;
	bool nodelay;
	/* NewReno (RFC 6582) on top of lwIP's Reno: in fast recovery until
	 * everything sent before it began is ACKed; a partial ACK resends the
	 * next hole at once instead of waiting for an RTO. */
	bool in_recovery;
	u32_t recover;
	u32_t rexmit_high; /* holes below this were resent in this recovery */
	u32_t rexmit_mark; /* snd_nxt when they were: SACKs well past it mean a resend was lost */
	struct skiff_sack_range sacked[SKIFF_SACK_MAX];
	uint8_t n_sacked;
	long long challenge_ms; /* last RFC 5961 challenge ACK let out (guard.c) */
	/* listener: SYNs that found the backlog full in the second since
	 * syn_full_ms, and until when it counts as flooded (guard.c) */
	unsigned syn_full;
	long long syn_full_ms, syn_flood_until_ms;
	struct skiff_sock *batch_next; /* on the stack's list of work after the RX batch */
	uint8_t batch_work;	       /* SKIFF_BATCH_* */
	u32_t ack_sent;		       /* the ACK number of the last segment sent */

	struct skiff_sock *all_next, *all_prev; /* every live struct */
};

/* ---- the stack ---------------------------------------------------------- */

struct skiff_stack {
	bool up;
	bool in_poll;
	bool in_callback;
	struct skiff_config cfg;
	char last_error[256];

	struct umem *umem;
	struct umem_port *port;
	struct pkb_pool *pool;
	struct zc_engine *zc;
	uint32_t rx_reserve; /* frames free or on the fill ring that sends leave (zcsock.c) */
	struct umem_geometry geo;
	int port_fd;

	struct netif netif;
	uint8_t mac[6];
	unsigned tx_pending;	/* frames posted since the last kick */
	unsigned long notified; /* readiness changes: a poll round that made any did work */

	struct skiff_sock **socks;
	uint32_t nsocks;
	uint32_t free_hint;
	uint32_t live_socks; /* structs, closed ones included */
	struct skiff_sock *all_socks;
	struct skiff_sock *batch_head; /* sockets with work after the RX batch */

	uint64_t isn_k0, isn_k1; /* RFC 6528 secret */
	uint32_t meta_cookie;	 /* XDP metadata records must carry it */

	struct skiff_stats st; /* the counters stack/ keeps itself */
};

extern struct skiff_stack skiff__s;

/* stack.c */
void skiff__flush(void);
void skiff__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int skiff__wait(long long deadline_ms); /* one blocking poll round; -errno */
long long skiff__now_ms(void);
long long skiff__deadline(int timeout_ms); /* -1: forever */

/* errno.c: lwIP's err_t to errno, the one place: skiff__errno()
 * (skiff_testing.h, in plain types for the tests). */

/* memlink.c: skiff__memlink_wire() (skiff_testing.h). */

/* netif.c */
int skiff__netif_up(void);
void skiff__netif_down(void);
unsigned skiff__rx_batch(void);
/* The in-place pkb head of the UMEM frame holding @p ptr, or NULL when
 * @p ptr is not inside our UMEM. */
struct pkb *skiff__pkb_of(const void *ptr);
/* The pkb a received pbuf was built on (NULL: not one of our frames). */
struct pkb *skiff__rx_pkb(const struct pbuf *p);
/* A frame for a received payload that is not in one of our frames. */
int skiff__copy_to_frame(const void *data, uint32_t len, struct pkb **out);

/* socket.c */
struct skiff_sock *skiff__sock_get(int fd, int *err);
struct skiff_sock *skiff__sock_alloc(enum skiff_sock_kind kind);
int skiff__fd_install(struct skiff_sock *s);
void skiff__sock_maybe_free(struct skiff_sock *s);
uint32_t skiff__poll_mask(struct skiff_sock *s);
void skiff__abort_all(void);
void skiff__free_all(void); /* skiff_fini(), last */
void skiff__tcp_attach(struct skiff_sock *s, struct tcp_pcb *pcb);
/* Dequeue/return consumed receive data: the window opens. */
void skiff__rx_consumed(struct skiff_sock *s, size_t n);
int skiff__sock_error(struct skiff_sock *s, bool for_send);
/* Frames running short: queued receive data moves to lwIP's heap. */
void skiff__rx_relieve(void);

/* epoll.c */
void skiff__notify(struct skiff_sock *s);
void skiff__ep_sock_gone(struct skiff_sock *s);
void skiff__ep_destroy(struct skiff_sock *ep);

/* zcsock.c */
void skiff__zc_release_acked(struct skiff_sock *s);
void skiff__zc_release_all(struct skiff_sock *s, bool aborted);
void skiff__zc_sock_close(struct skiff_sock *s);
bool skiff__zc_busy(const struct skiff_sock *s);

/* hooks.c */
extern uint8_t skiff__ext_sock_id; /* lwIP ext arg slot: the owning socket */
void skiff__hooks_init(void);
/* skiff__mptcp_set_mapping(), skiff__isn_v4(), skiff__sa_add() and
 * skiff__sa_clear(): skiff_testing.h. */
/* Parse an XDP metadata record in front of a received packet into the
 * pkb's SECPATH extension. 0, or -ENOENT (no record), -EINVAL (a record
 * naming an unknown SA: drop). */
int skiff__rx_meta(struct pkb *pkb);

/* guard.c: defences against hostile input (docs/hardening.md). The TCP
 * part runs first in the TCP input hook: ERR_OK, or ERR_ABRT to drop the
 * segment (a challenge ACK over the rate limit). */
struct tcp_hdr;
err_t skiff__guard_tcp_in(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p);
/* Half-open connections past their lifetime go; once per poll round. */
void skiff__guard_tick(void);
/* ARP or ND from another host claiming one of our addresses (counted). */
bool skiff__guard_spoofed(const uint8_t *frame, uint32_t len);

/* sack.c: work done once per RX batch, outside lwIP's input */
#define SKIFF_BATCH_SACK 0x1u /* new SACK blocks: look for holes to resend */
#define SKIFF_BATCH_ACK	 0x2u /* data came in or was read: ACK at the next round */
void skiff__batch_add(struct skiff_sock *s, unsigned work);
void skiff__batch_run(void);	  /* after the RX batch */
unsigned skiff__batch_acks(void); /* at the start of a poll round: ACKs left waiting */
/* A segment of an established connection, before lwIP takes it (TCP
 * input hook): the ACK it calls for becomes batch work. */
struct tcp_hdr;
void skiff__ack_input(struct skiff_sock *s, struct tcp_pcb *pcb, const struct tcp_hdr *hdr,
		      u16_t datalen);
void skiff__batch_forget(struct skiff_sock *s);
/* Forgets SACKed ranges the ACK passed, then records the blocks of the
 * ACK's SACK option @p sack (its kind byte; NULL: none, the options walk
 * of the input hook found it); true when there were any. */
bool skiff__sack_input(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t ackno, const uint8_t *sack);
bool skiff__sack_recover(struct skiff_sock *s, struct tcp_pcb *pcb);

#endif
