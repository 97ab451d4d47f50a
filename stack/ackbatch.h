/* ACK batching (ackbatch.c): the ACKs and window updates skiff takes over
 * from lwIP go out after the application's turn, once per poll round, when
 * its answer has not carried them; and the per-batch list of sockets with
 * work after the RX batch (SACK recovery among it). */
#ifndef SKIFF_ACKBATCH_H
#define SKIFF_ACKBATCH_H

#include <stdint.h>

#include "lwip/arch.h"

struct skiff_sock;
struct tcp_pcb;
struct tcp_hdr;

#define SKIFF_BATCH_SACK 0x1u /* new SACK blocks: look for holes to resend */
#define SKIFF_BATCH_ACK	 0x2u /* data came in or was read: ACK at the next round */

struct skiff_ackstate {
	struct skiff_sock *next; /* on skiff__s.batch_head's list */
	uint8_t work;		 /* SKIFF_BATCH_* */
	uint8_t hold_shift;	 /* this connection's hold: SKIFF_ACK_HOLD_MS << hold_shift */
	u32_t ack_sent;		 /* the ACK number of the last segment sent */
	/* On a hold list (skiff__s.hold[hold_shift], oldest first): an ACK held
	 * while the application has not read the data it acknowledges. */
	struct skiff_sock *hold_next, *hold_prev;
	u32_t hold_since_us; /* 0: not held (else odd) */
};

void skiff__batch_add(struct skiff_sock *s, unsigned work);
void skiff__batch_forget(struct skiff_sock *s);
void skiff__batch_run(void);	  /* after the RX batch */
unsigned skiff__batch_acks(void); /* at the start of a poll round: ACKs left waiting */
/* Microseconds until the oldest held ACK is due (0: now), -1 if none: the
 * poll loop sleeps no longer. */
long long skiff__batch_hold_left_us(void);
/* A segment of an established connection, before lwIP takes it (TCP
 * input hook): the ACK it calls for becomes batch work. */
void skiff__ack_input(struct skiff_sock *s, struct tcp_pcb *pcb, const struct tcp_hdr *hdr,
		      u16_t datalen);
/* A segment carrying ACK number @p ackno leaves (output hook). */
static inline void skiff__ack_sent(struct skiff_ackstate *a, u32_t ackno)
{
	a->ack_sent = ackno;
}

#endif
