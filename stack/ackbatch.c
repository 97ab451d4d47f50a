/*
 * ACK batching. lwIP ACKs every second data segment the moment it arrives,
 * before the application has seen the data; skiff decides at the start of
 * the next poll round instead, so that the application's answer, sent in
 * between, carries the ACK and the pure ACK is never built: a third of the
 * frames of a bulk echo, half of those of a small request/response. A whole
 * RX batch may so be ACKed at once, as GRO lets Linux do.
 *
 * An ACK that waited its round while the application has not read the data
 * yet waits on: the application has had no turn at that socket yet (an
 * epoll_wait() reports a few hundred of the thousands of ready sockets per
 * round), and its answer will carry the ACK when it comes. Held sockets
 * sit on a list in the order held and leave it when their data is read, or
 * after SKIFF_ACK_HOLD_MS (Linux's shortest delayed-ACK timeout) with the
 * ACK. Without it, from a thousand busy connections on, nearly every
 * request cost a pure ACK besides its answer, at both ends.
 *
 * The same per-batch list carries the work an RX batch leaves for after
 * lwIP's input, which forbids touching a pcb's queues from inside it: SACK
 * recovery (recovery.c) runs once per batch from here.
 */
#include "ackbatch.h"
#include "instance.h"
#include "recovery.h"
#include "rxq.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"

/* ---- work after the RX batch --------------------------------------------- */

void skiff__batch_add(struct skiff_sock *s, unsigned work)
{
	if (!s->ack.work) {
		s->ack.next = skiff__s.batch_head;
		skiff__s.batch_head = s;
	}
	s->ack.work |= (uint8_t)work;
}

/* How long an ACK waits for the application to read the data it
 * acknowledges: first Linux's shortest delayed-ACK timeout (TCP_DELACK_MIN).
 * A connection whose hold ran out before the read waits twice as long
 * next time, SKIFF_ACK_HOLDS lengths in all (40, 80, 160 ms), much as
 * Linux's receiver
 * doubles its delayed-ACK estimate (ato) each time that timer fires first:
 * an application that comes round its thousands of sockets in 60 ms would
 * otherwise cost a pure ACK per request, a whole packet's work at both
 * ends. A hold far longer than needed comes back down (hold_answered()).
 * Linux bounds the delay it applies by its own RTT estimate (40 ms at
 * least); skiff bounds it by the peer's timers instead: 160 ms is inside a
 * Linux peer's RTO (its SRTT plus 200 ms at least) and the 200 ms its tail
 * loss probe waits with one segment out (RFC 8985 7.2's WCDelAckT); a hold
 * is only ever for one segment's worth of data. */
#ifndef SKIFF_ACK_HOLD_MS
#define SKIFF_ACK_HOLD_MS 40u
#endif

static uint32_t hold_us(unsigned shift)
{
	return (SKIFF_ACK_HOLD_MS * 1000u) << shift;
}

static void hold_add(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;
	unsigned k = s->ack.hold_shift;

	if (s->ack.hold_since_us)
		return; /* held already: the first hold's time counts */
	s->ack.hold_since_us = skiff__now_us() | 1u;
	s->ack.hold_next = NULL;
	s->ack.hold_prev = st->hold[k].tail;
	if (st->hold[k].tail)
		st->hold[k].tail->ack.hold_next = s;
	else
		st->hold[k].head = s;
	st->hold[k].tail = s;
	st->holding++;
	st->stats.tcp_acks_held++;
}

static void hold_drop(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;
	unsigned k = s->ack.hold_shift;

	if (!s->ack.hold_since_us)
		return;
	if (s->ack.hold_prev)
		s->ack.hold_prev->ack.hold_next = s->ack.hold_next;
	else
		st->hold[k].head = s->ack.hold_next;
	if (s->ack.hold_next)
		s->ack.hold_next->ack.hold_prev = s->ack.hold_prev;
	else
		st->hold[k].tail = s->ack.hold_prev;
	s->ack.hold_next = s->ack.hold_prev = NULL;
	s->ack.hold_since_us = 0;
	st->holding--;
}

/* The answer carried a held ACK: if it came within a quarter of the hold,
 * the connection's next hold is half as long. (Within the shorter hold
 * alone would swing an application that comes round in 60 ms, give or
 * take a few, between 80 and 40 ms, a pure ACK each time.) */
static void hold_answered(struct skiff_sock *s)
{
	unsigned k = s->ack.hold_shift;
	bool early;

	if (!s->ack.hold_since_us)
		return;
	early = k && skiff__now_us() - s->ack.hold_since_us < hold_us(k) / 4;
	hold_drop(s); /* off list k first: the shift names the list */
	if (early)
		s->ack.hold_shift = (uint8_t)(k - 1);
}

void skiff__batch_forget(struct skiff_sock *s)
{
	struct skiff_sock **pp;

	hold_drop(s);
	if (s->ack.work) {
		for (pp = &skiff__s.batch_head; *pp; pp = &(*pp)->ack.next) {
			if (*pp == s) {
				*pp = s->ack.next;
				break;
			}
		}
	}
	s->ack.next = NULL;
	s->ack.work = 0;
}

/* ---- ACKs: after the application's turn, at most one per round -------- */

/* A window update is worth a segment of its own once the application has
 * opened this much (lwIP's default TCP_WND_UPDATE_THRESHOLD; lwipopts.h
 * turns lwIP's own immediate update off, this one is deferred). */
#define WND_UPDATE (4u * TCP_MSS)

/* Batch work of this file's own: the ACK owed waited one round already. */
#define BATCH_ACK_WAITED 0x80u

enum ack_due {
	ACK_NONE,  /* a segment sent since carried it */
	ACK_LATER, /* one segment's worth: wait a round for more, or a reply */
	ACK_HOLD,  /* waited a round, still unread: wait for the application */
	ACK_NOW,
};

/* What @p pcb owes its peer: an ACK for the data received since the last
 * segment went out once there are two segments' worth (RFC 5681's "every
 * second full-sized segment", as Linux counts it: more than one MSS), or a
 * window that grew enough. A receiver that polls faster than the data
 * comes would otherwise ACK every segment, a pure ACK each, which its
 * sender's RX ring must take on top of the window of data. */
static enum ack_due ack_due(const struct skiff_sock *s, const struct tcp_pcb *pcb, unsigned work)
{
	u32_t owed = pcb->rcv_nxt - s->ack.ack_sent;

	if ((s32_t)(pcb->rcv_nxt + pcb->rcv_wnd - pcb->rcv_ann_right_edge) >= (s32_t)WND_UPDATE)
		return ACK_NOW;
	if (!owed)
		return ACK_NONE;
	if (owed > pcb->mss)
		return ACK_NOW;
	if (!(work & BATCH_ACK_WAITED))
		return ACK_LATER;
	return skiff__rxq_empty(&s->rx) || s->rd_shut ? ACK_NOW : ACK_HOLD;
}

/* Before lwIP takes a segment of an established connection (TCP input
 * hook): lwIP's own ACK of it (tcp_ack()) is held back for the next poll
 * round (skiff__batch_acks()). */
void skiff__ack_input(struct skiff_sock *s, struct tcp_pcb *pcb, const struct tcp_hdr *hdr,
		      u16_t datalen)
{
	u32_t ackno = hdr->ackno; /* host order: tcp_input() converted it */

	/* Stretch ACKs (ours, a peer's GRO) acknowledge many segments each;
	 * lwIP's slow start grows by at most 2 segments per ACK (RFC 3465's
	 * L = 2) and would crawl. Counted in bytes as Linux does: lwIP adds
	 * its 2 segments, this the rest, up to ssthresh; less what SACKs
	 * delivered before and grew the window then (cc.c). Not after an
	 * RTO (lwIP's L = 1 then) nor in recovery. */
	if ((TCPH_FLAGS(hdr) & TCP_ACK) && pcb->cwnd < pcb->ssthresh &&
	    !(pcb->flags & (TF_RTO | TF_INFR)) && !s->rec.active &&
	    TCP_SEQ_GT(ackno, pcb->lastack) && TCP_SEQ_LEQ(ackno, pcb->snd_nxt)) {
		u32_t acked = ackno - pcb->lastack - s->rec.acked_grown, lwip = 2u * pcb->mss;

		if (acked > lwip)
			pcb->cwnd += (tcpwnd_size_t)LWIP_MIN(acked - lwip,
							     (u32_t)(pcb->ssthresh - pcb->cwnd));
	}
	if (datalen) {
		/* Without the flag, tcp_ack() only sets it: no ACK now. */
		tcp_clear_flags(pcb, TF_ACK_DELAY);
		skiff__batch_add(s, SKIFF_BATCH_ACK);
	}
}

/* After the RX batch: holes resent at once (the round's TX flush takes
 * them). ACK work stays listed for skiff__batch_acks(), and lwIP's
 * delayed-ACK timer, which runs before the application does, is kept from
 * sending it; except a segment's worth of data the application has yet to
 * read: its ACK is held at once, while the socket is still in the cache.
 * Waiting a round first would change nothing (the answer cannot come
 * before the read) but cost two more visits of a socket gone cold among
 * thousands. */
void skiff__batch_run(void)
{
	struct skiff_sock **pp = &skiff__s.batch_head, *s;

	while ((s = *pp)) {
		struct tcp_pcb *pcb = s->pcb.tcp;

		if (!pcb || pcb->state == LISTEN) {
			*pp = s->ack.next;
			s->ack.next = NULL;
			s->ack.work = 0;
			continue;
		}
		/* Output also when only the window grew (new data during recovery). */
		if ((s->ack.work & SKIFF_BATCH_SACK) &&
		    (skiff__recovery_run(s, pcb) || s->rec.active))
			tcp_output(pcb);
		s->ack.work &= (uint8_t)~SKIFF_BATCH_SACK;
		/* lwIP's delayed ACK is skiff's now, listed or held. */
		if (s->ack.work)
			tcp_clear_flags(pcb, TF_ACK_DELAY);
		if (s->ack.work == SKIFF_BATCH_ACK && pcb->state >= ESTABLISHED &&
		    pcb->state != TIME_WAIT && !skiff__rxq_empty(&s->rx) && !s->rd_shut &&
		    ack_due(s, pcb, s->ack.work) == ACK_LATER) {
			hold_add(s);
			s->ack.work = 0;
		}
		if (s->ack.work) {
			pp = &s->ack.next;
			continue;
		}
		*pp = s->ack.next;
		s->ack.next = NULL;
	}
}

/* The held ACKs whose time is up go now, oldest first on each list; their
 * connections hold longer next time. */
static void hold_expire(void)
{
	struct skiff_stack *st = &skiff__s;
	u32_t now = skiff__now_us();
	struct skiff_sock *s;

	for (unsigned k = 0; k < SKIFF_ACK_HOLDS; k++) {
		while ((s = st->hold[k].head) &&
		       (int32_t)(now - s->ack.hold_since_us) >= (int32_t)hold_us(k)) {
			struct tcp_pcb *pcb = s->pcb.tcp;

			hold_drop(s);
			if (!pcb || pcb->state < ESTABLISHED || pcb->state == TIME_WAIT ||
			    pcb->rcv_nxt == s->ack.ack_sent)
				continue;
			st->stats.tcp_acks_hold_expired++;
			if (k + 1 < SKIFF_ACK_HOLDS) {
				s->ack.hold_shift = (uint8_t)(k + 1);
				st->stats.tcp_acks_hold_longer++;
			}
			tcp_ack_now(pcb);
			tcp_output(pcb);
		}
	}
}

long long skiff__batch_hold_left_us(void)
{
	const struct skiff_stack *st = &skiff__s;
	u32_t now = skiff__now_us();
	long long least = -1;

	for (unsigned k = 0; k < SKIFF_ACK_HOLDS; k++) {
		const struct skiff_sock *s = st->hold[k].head;
		int32_t left;

		if (!s)
			continue;
		left = (int32_t)(s->ack.hold_since_us + hold_us(k) - now);
		if (left < 0)
			return 0;
		if (least < 0 || left < least)
			least = left;
	}
	return least;
}

/* Start of a poll round: the ACKs (and window updates) the last round's
 * data and the application's reads call for, unless a segment the
 * application sent meanwhile carried them; first the held ACKs whose time
 * is up. Returns how many wait for the next round (the poll loop must not
 * sleep on them; it sleeps no longer than the oldest hold lasts). */
unsigned skiff__batch_acks(void)
{
	struct skiff_sock *later = NULL;
	unsigned n_later = 0;

	if (skiff__s.holding)
		hold_expire();
	while (skiff__s.batch_head) {
		struct skiff_sock *s = skiff__s.batch_head;
		struct tcp_pcb *pcb = s->pcb.tcp;
		unsigned work = s->ack.work;
		bool out = false;

		skiff__s.batch_head = s->ack.next;
		s->ack.next = NULL;
		s->ack.work = 0;
		if (!pcb || pcb->state < ESTABLISHED || pcb->state == TIME_WAIT)
			continue;
		if ((work & SKIFF_BATCH_SACK) && (skiff__recovery_run(s, pcb) || s->rec.active))
			out = true;
		if (work & SKIFF_BATCH_ACK) {
			enum ack_due due = ack_due(s, pcb, work);

			/* A held ACK stays held through more data or a
			 * partial read (ACK_LATER): its hold counts from the
			 * first, as a delayed ACK's deadline does. */
			if (due == ACK_NOW)
				hold_drop(s);
			else if (due == ACK_NONE)
				hold_answered(s);
			switch (due) {
			case ACK_NOW:
				tcp_ack_now(pcb);
				out = true;
				break;
			case ACK_LATER:
				s->ack.work = SKIFF_BATCH_ACK | BATCH_ACK_WAITED;
				s->ack.next = later;
				later = s;
				n_later++;
				break;
			case ACK_HOLD:
				hold_add(s);
				break;
			case ACK_NONE:
				break;
			}
		}
		if (out)
			tcp_output(pcb);
	}
	skiff__s.batch_head = later;
	return n_later;
}
