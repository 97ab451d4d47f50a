/* A listener's queues and limits (listenq.c): its half-open connections,
 * and the answer to every SYN that finds a limit (the listener's backlog,
 * the half-open bound, the connection table): a SYN cookie (RFC 4987), or
 * an RST where cookies are off; never silence. */
#ifndef SKIFF_LISTENQ_H
#define SKIFF_LISTENQ_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/err.h"

struct pbuf;
struct tcp_hdr;
struct tcp_pcb;
struct tcp_pcb_listen;

/* How long a half-open connection waits for the handshake's last ACK
 * (lwIP's own is a fixed 20 s): SYN-ACK resent at 1 s and 3 s. */
#ifndef SKIFF_SYN_RCVD_TIMEOUT_MS
#define SKIFF_SYN_RCVD_TIMEOUT_MS 5000
#endif

/* lwIP's lists (demux.c): a pcb linked on tcp_active_pcbs in SYN-RCVD
 * joins its listener's half-open list; one unlinked leaves it. */
void skiff__listenq_linked(struct tcp_pcb *pcb);
void skiff__listenq_unlinking(struct tcp_pcb *pcb);
/* The handshake finished (the accept callback): no longer half-open. */
void skiff__listenq_established(struct tcp_pcb *pcb);
/* A timer visit: a half-open connection past its lifetime goes (no RST,
 * counted); true when it went. */
bool skiff__listenq_expired(struct tcp_pcb *pcb);
/* A listener closes: its half-open connections go (RST). */
void skiff__listenq_abort_half_open(struct tcp_pcb_listen *lpcb);

/* A SYN for listener @p lpcb (TCP input hook, options in @p opts): ERR_OK
 * lets lwIP make the half-open connection; ERR_ABRT when a limit answered
 * it already (cookie or RST). */
err_t skiff__listenq_syn(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr,
			 const uint8_t *opts, unsigned optlen);
/* A segment for which no connection exists, on its way to listener @p l
 * (NULL: none) (demux.c): the pcb to give it to: a connection made from a
 * valid SYN cookie, else @p l. */
struct tcp_pcb *skiff__listenq_segment(const struct tcp_hdr *hdr, struct tcp_pcb *l);

/* Half-open connections over all listeners. */
uint32_t skiff__listenq_half_open(void);

#endif
