/* The TCP glue (tcpglue.c): lwIP's TCP callbacks turned into socket state,
 * and the pcb's life on behalf of a socket (attach, listen, accept queue,
 * close, abort). */
#ifndef SKIFF_TCPGLUE_H
#define SKIFF_TCPGLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/err.h"
#include "lwip/ip_addr.h"

struct skiff_sock;
struct tcp_pcb;

/* lwIP's ext arg slot holding the socket that owns a pcb (its destroy
 * callback is the one notice of every pcb's end). */
extern uint8_t skiff__ext_sock_id;
/* Once per process, like lwip_init(): the ext arg slots. */
void skiff__tcpglue_init(void);

/* A new pcb for @p s, attached; NULL when lwIP has none. */
struct tcp_pcb *skiff__tcp_new_pcb(struct skiff_sock *s);
/* Hooks @p pcb's callbacks and ext slot to @p s. */
void skiff__tcp_attach(struct skiff_sock *s, struct tcp_pcb *pcb);
/* Turns @p s's bound pcb into a listener; 0 or -errno. */
int skiff__tcp_listen(struct skiff_sock *s, int backlog);
/* tcp_connect() for @p s's pcb, its handshake reported to @p s. */
err_t skiff__tcp_connect(struct skiff_sock *s, const ip_addr_t *ip, u16_t port);
/* Takes the head of @p ls's accept queue, or NULL. */
struct skiff_sock *skiff__tcp_accept_next(struct skiff_sock *ls);
/* A send (plain or zero-copy) is about to queue on @p pcb: a cork's
 * 200 ms count from the first data queued (tcpglue.c's poll). */
void skiff__send_begin(struct skiff_sock *s, const struct tcp_pcb *pcb);
/* After a send queued on @p pcb: true while what it queued may wait
 * (MSG_MORE in @p flags, or TCP_CORK) and the send buffer has room left;
 * otherwise the caller puts it on the wire (tcp_output()). */
bool skiff__send_holds(const struct skiff_sock *s, const struct tcp_pcb *pcb, int flags);
/* True when a send would find room (the EPOLLOUT condition). */
bool skiff__tcp_writable(const struct tcp_pcb *pcb);
/* In-order data @p p for the socket of @p pcb (MPTCP: data of the
 * connection that came on another subflow); false when there is no socket
 * to take it (the caller keeps @p p). */
struct pbuf;
bool skiff__tcp_deliver(struct tcp_pcb *pcb, struct pbuf *p);
/* Gives @p n bytes of window back to @p pcb's peer (tcp_recved() takes
 * at most 64 KiB a call). */
void skiff__tcp_recved(struct tcp_pcb *pcb, size_t n);
/* Bytes the socket of @p pcb has not read. */
size_t skiff__tcp_unread(const struct tcp_pcb *pcb);
/* The peer's data ended without a FIN (MPTCP's DATA_FIN): EOF for reads. */
void skiff__tcp_peer_eof(struct tcp_pcb *pcb);
/* Tells the socket of @p pcb (if it has one) to look at its readiness
 * again (MPTCP: a join's ACK made room to send). */
void skiff__tcp_notify_pcb(struct tcp_pcb *pcb);
/* tcp_write() of @p len bytes of @p data on @p pcb (a copy with
 * TCP_WRITE_FLAG_COPY in @p flags, else a zero-copy reference); an MPTCP
 * subflow records the write's data-level mapping. */
err_t skiff__tcp_write(struct tcp_pcb *pcb, const void *data, u16_t len, u8_t flags);
/* The peer reset the connection without a RST on @p pcb (MPTCP's
 * MP_FASTCLOSE): @p pcb is reset and freed, its socket reads ECONNRESET
 * as after a RST. */
void skiff__tcp_reset_by_peer(struct tcp_pcb *pcb);
/* The pending error, once, for a send or a receive: 0 or -errno (a dead
 * connection: -EPIPE for a send, 0 for a receive, which sees EOF). */
int skiff__sock_error(struct skiff_sock *s, bool for_send);
/* The application closes @p s: FIN, or RST with unread data or SO_LINGER
 * {1, 0}; a listener resets what it queued. */
void skiff__tcp_close(struct skiff_sock *s);
/* The close of @p pcb, its socket closed already: FIN queued, or a
 * reset when lwIP has no room for it. */
void skiff__tcp_close_pcb(struct tcp_pcb *pcb);
/* MPTCP: the socket's first subflow @p pcb is reset (a checksum failed
 * on it, RFC 8684 3.7) once the socket moved onto a join; false (nothing
 * done) when no join may carry the connection. */
bool skiff__tcp_subflow_reset(struct tcp_pcb *pcb);
/* Resets @p s's connection (RST); the destroy callback detaches it. */
void skiff__tcp_abort(struct skiff_sock *s);
/* A socket that never got a descriptor lets its pcb go unannounced. */
void skiff__tcp_discard(struct skiff_sock *s);

#endif
