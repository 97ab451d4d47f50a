/* SACK-based loss recovery for the sender (RFC 6675, simplified), which
 * lwIP lacks: it receives SACK blocks but recovers one hole per round trip
 * (Reno) and waits for a retransmission timeout for the rest. With a few
 * percent of loss and megabyte windows nearly every window has several
 * holes, so that is an RTO per window.
 *
 * The TCP input hook records the SACK blocks of each ACK in the socket's
 * scoreboard; after each RX batch (never inside lwIP's input, which
 * forbids touching its queues) every socket that got new blocks has its
 * lost segments (un-SACKed, with DupThresh segments' worth SACKed above
 * them) moved from unacked back to unsent, in order, as tcp_rexmit() does
 * for the first one, and tcp_output() sends them. One retransmission per
 * hole per recovery episode; a new RTO or a full ACK ends the episode.
 *
 * The same per-batch list carries the ACKs skiff takes over from lwIP
 * (skiff__ack_input()): sent after the application's turn, when its
 * answer has not carried them.
 */
#include <string.h>

#include "skiff_internal.h"

#include "lwip/priv/tcp_priv.h"

#define DUPTHRESH 3u

/* ---- work after the RX batch --------------------------------------------- */

void skiff__batch_add(struct skiff_sock *s, unsigned work)
{
	if (!s->batch_work) {
		s->batch_next = skiff__s.batch_head;
		skiff__s.batch_head = s;
	}
	s->batch_work |= (uint8_t)work;
}

void skiff__batch_forget(struct skiff_sock *s)
{
	struct skiff_sock **pp;

	if (s->batch_work) {
		for (pp = &skiff__s.batch_head; *pp; pp = &(*pp)->batch_next) {
			if (*pp == s) {
				*pp = s->batch_next;
				break;
			}
		}
	}
	s->batch_next = NULL;
	s->batch_work = 0;
	s->n_sacked = 0;
}

/* ---- ACKs: after the application's turn, at most one per round -------- */

/* A window update is worth a segment of its own once the application has
 * opened this much (lwIP's default TCP_WND_UPDATE_THRESHOLD; lwipopts.h
 * turns lwIP's own immediate update off, this one is deferred). */
#define WND_UPDATE (4u * TCP_MSS)

/* Batch work of sack.c's own: the ACK owed waited one round already. */
#define BATCH_ACK_WAITED 0x80u

enum ack_due {
	ACK_NONE,  /* a segment sent since carried it */
	ACK_LATER, /* one segment's worth: wait a round for more, or a reply */
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
	u32_t owed = pcb->rcv_nxt - s->ack_sent;

	if ((s32_t)(pcb->rcv_nxt + pcb->rcv_wnd - pcb->rcv_ann_right_edge) >= (s32_t)WND_UPDATE)
		return ACK_NOW;
	if (!owed)
		return ACK_NONE;
	return owed > pcb->mss || (work & BATCH_ACK_WAITED) ? ACK_NOW : ACK_LATER;
}

/*
 * Before lwIP takes a segment of an established connection (TCP input
 * hook). lwIP ACKs every second data segment the moment it arrives
 * (tcp_ack()), before the application has seen the data; skiff decides at
 * the start of the next poll round instead (skiff__batch_acks()), so that
 * the application's answer, sent in between, carries the ACK and the pure
 * ACK is never built: a third of the frames of a bulk echo, half of those
 * of a small request/response. A whole RX batch (up to SKIFF_RX_BATCH
 * frames) may so be ACKed at once, as GRO lets Linux do.
 */
void skiff__ack_input(struct skiff_sock *s, struct tcp_pcb *pcb, const struct tcp_hdr *hdr,
		      u16_t datalen)
{
	u32_t ackno = hdr->ackno; /* host order: tcp_input() converted it */

	/* Stretch ACKs (ours, a peer's GRO) acknowledge many segments each;
	 * lwIP's slow start grows by at most 2 segments per ACK (RFC 3465's
	 * L = 2) and would crawl. Counted in bytes as Linux does: lwIP adds
	 * its 2 segments, this the rest, up to ssthresh. Not after an RTO
	 * (lwIP's L = 1 then) nor in recovery. */
	if ((TCPH_FLAGS(hdr) & TCP_ACK) && pcb->cwnd < pcb->ssthresh &&
	    !(pcb->flags & (TF_RTO | TF_INFR)) && !s->in_recovery &&
	    TCP_SEQ_GT(ackno, pcb->lastack) && TCP_SEQ_LEQ(ackno, pcb->snd_nxt)) {
		u32_t acked = ackno - pcb->lastack, lwip = 2u * pcb->mss;

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
 * sending it. */
void skiff__batch_run(void)
{
	struct skiff_sock **pp = &skiff__s.batch_head, *s;

	while ((s = *pp)) {
		struct tcp_pcb *pcb = s->pcb.tcp;

		if (!pcb || pcb->state == LISTEN) {
			*pp = s->batch_next;
			s->batch_next = NULL;
			s->batch_work = 0;
			continue;
		}
		/* Output also when only the window grew (new data during recovery). */
		if ((s->batch_work & SKIFF_BATCH_SACK) &&
		    (skiff__sack_recover(s, pcb) || s->in_recovery))
			tcp_output(pcb);
		s->batch_work &= (uint8_t)~SKIFF_BATCH_SACK;
		if (s->batch_work) {
			tcp_clear_flags(pcb, TF_ACK_DELAY);
			pp = &s->batch_next;
			continue;
		}
		*pp = s->batch_next;
		s->batch_next = NULL;
	}
}

/* Start of a poll round: the ACKs (and window updates) the last round's
 * data and the application's reads call for, unless a segment the
 * application sent meanwhile carried them. Returns how many wait for the
 * next round (the poll loop must not sleep on them). */
unsigned skiff__batch_acks(void)
{
	struct skiff_sock *later = NULL;
	unsigned n_later = 0;

	while (skiff__s.batch_head) {
		struct skiff_sock *s = skiff__s.batch_head;
		struct tcp_pcb *pcb = s->pcb.tcp;
		unsigned work = s->batch_work;
		bool out = false;

		skiff__s.batch_head = s->batch_next;
		s->batch_next = NULL;
		s->batch_work = 0;
		if (!pcb || pcb->state < ESTABLISHED || pcb->state == TIME_WAIT)
			continue;
		if ((work & SKIFF_BATCH_SACK) && (skiff__sack_recover(s, pcb) || s->in_recovery))
			out = true;
		if (work & SKIFF_BATCH_ACK) {
			switch (ack_due(s, pcb, work)) {
			case ACK_NOW:
				tcp_ack_now(pcb);
				out = true;
				break;
			case ACK_LATER:
				s->batch_work = SKIFF_BATCH_ACK | BATCH_ACK_WAITED;
				s->batch_next = later;
				later = s;
				n_later++;
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

/* Drops what the cumulative ACK covers. */
static void prune(struct skiff_sock *s, u32_t ack)
{
	unsigned k = 0;

	for (unsigned i = 0; i < s->n_sacked; i++) {
		if (TCP_SEQ_LEQ(s->sacked[i].right, ack))
			continue;
		if (TCP_SEQ_LT(s->sacked[i].left, ack))
			s->sacked[i].left = ack;
		s->sacked[k++] = s->sacked[i];
	}
	s->n_sacked = (uint8_t)k;
}

/* Adds [left, right), merging what it overlaps or touches. */
static void add(struct skiff_sock *s, u32_t left, u32_t right)
{
	unsigned i = 0;

	while (i < s->n_sacked) {
		struct skiff_sack_range *r = &s->sacked[i];

		if (TCP_SEQ_LT(right, r->left) || TCP_SEQ_GT(left, r->right)) {
			i++;
			continue;
		}
		if (TCP_SEQ_LT(r->left, left))
			left = r->left;
		if (TCP_SEQ_GT(r->right, right))
			right = r->right;
		s->sacked[i] = s->sacked[--s->n_sacked];
		i = 0; /* the merged range may now touch another */
	}
	if (s->n_sacked == SKIFF_SACK_MAX) {
		/* Keep the lowest ranges: the holes below them matter first. */
		unsigned hi = 0;

		for (unsigned j = 1; j < s->n_sacked; j++)
			if (TCP_SEQ_GT(s->sacked[j].left, s->sacked[hi].left))
				hi = j;
		if (TCP_SEQ_GT(left, s->sacked[hi].left))
			return;
		s->sacked[hi] = s->sacked[--s->n_sacked];
	}
	s->sacked[s->n_sacked++] = (struct skiff_sack_range){left, right};
}

bool skiff__sack_input(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t ackno, const uint8_t *sack)
{
	bool any = false;
	uint8_t len;

	prune(s, pcb->lastack);
	if (!sack || (len = sack[1]) < 10 || (len - 2) % 8 != 0)
		return false;
	for (unsigned b = 0; b < (len - 2u) / 8u; b++) {
		const uint8_t *p = sack + 2 + 8 * b;
		u32_t l = (u32_t)p[0] << 24 | (u32_t)p[1] << 16 | (u32_t)p[2] << 8 | p[3];
		u32_t r = (u32_t)p[4] << 24 | (u32_t)p[5] << 16 | (u32_t)p[6] << 8 | p[7];

		/* Only blocks about data we sent and not yet ACKed (RFC 2883's
		 * D-SACKs below the ACK are ignored). */
		if (TCP_SEQ_LT(l, r) && TCP_SEQ_GT(r, ackno) && TCP_SEQ_LEQ(r, pcb->snd_nxt)) {
			add(s, TCP_SEQ_LT(l, ackno) ? ackno : l, r);
			any = true;
		}
	}
	return any;
}

static bool covered(const struct skiff_sock *s, u32_t l, u32_t r)
{
	for (unsigned i = 0; i < s->n_sacked; i++)
		if (TCP_SEQ_LEQ(s->sacked[i].left, l) && TCP_SEQ_GEQ(s->sacked[i].right, r))
			return true;
	return false;
}

static u32_t sacked_above(const struct skiff_sock *s, u32_t seq)
{
	u32_t n = 0;

	for (unsigned i = 0; i < s->n_sacked; i++) {
		const struct skiff_sack_range *r = &s->sacked[i];

		if (TCP_SEQ_GEQ(r->left, seq))
			n += r->right - r->left;
		else if (TCP_SEQ_GT(r->right, seq))
			n += r->right - seq;
	}
	return n;
}

/* Moves @p seg (after @p prev on unacked, or its head) to unsent, in order. */
static void requeue(struct tcp_pcb *pcb, struct tcp_seg *prev, struct tcp_seg *seg)
{
	struct tcp_seg **cur = &pcb->unsent;
	u32_t seq = lwip_ntohl(seg->tcphdr->seqno);

	if (prev)
		prev->next = seg->next;
	else
		pcb->unacked = seg->next;
	while (*cur && TCP_SEQ_LT(lwip_ntohl((*cur)->tcphdr->seqno), seq))
		cur = &(*cur)->next;
	seg->next = *cur;
	*cur = seg;
	if (!seg->next)
		pcb->unsent_oversize = 0; /* it is the last one now */
}

/* Once per episode: halve (RFC 5681), remember where it ends. TF_INFR
 * keeps lwIP's own fast retransmit out of it. */
static void enter_recovery(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	if (!s->in_recovery && !(pcb->flags & TF_INFR)) {
		tcpwnd_size_t flight = (tcpwnd_size_t)(pcb->snd_nxt - pcb->lastack);

		pcb->ssthresh = LWIP_MAX(flight / 2, (tcpwnd_size_t)(2 * pcb->mss));
		pcb->cwnd = pcb->ssthresh;
	}
	if (!s->in_recovery) {
		s->in_recovery = true;
		s->recover = pcb->snd_nxt;
		skiff__s.st.tcp_fast_recoveries++;
	}
	tcp_set_flags(pcb, TF_INFR);
}

/* Resends the holes the scoreboard shows lost; true when it did. */
bool skiff__sack_recover(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct tcp_seg *prev = NULL, *seg, *next;
	/* Sizes in payload bytes per segment, timestamps taken off the MSS. */
	u32_t smss =
		pcb->mss - (LWIP_TCP_OPT_LENGTH((pcb->flags & TF_TIMESTAMP) ? TF_SEG_OPTS_TS : 0));
	u32_t high = pcb->lastack, dup;
	unsigned n = 0, flight = 0;

	if (!s->n_sacked || (pcb->flags & TF_RTO) || pcb->state < ESTABLISHED)
		return false;
	for (unsigned i = 0; i < s->n_sacked; i++)
		if (TCP_SEQ_GT(s->sacked[i].right, high))
			high = s->sacked[i].right;
	if (!s->in_recovery)
		s->rexmit_high = pcb->lastack;
	/* Early retransmit (RFC 5827, RACK's spirit): with DupThresh segments
	 * out or fewer, DupThresh SACKed ones can never come; one SACKed
	 * segment sent later marks the hole lost. Unlike the RFC also when
	 * unsent data waits for the congestion window: that is the usual case
	 * with a few percent of loss. */
	for (seg = pcb->unacked; seg && flight <= DUPTHRESH; seg = seg->next)
		flight++;
	dup = (flight <= DUPTHRESH ? 1 : DUPTHRESH) * smss;
	/* Lost retransmissions (as Linux's tcp_mark_lost_retrans): data sent
	 * after our last resends was SACKed DupThresh deep, but the holes are
	 * still there, so the resends were lost too; they may go again. */
	if (s->in_recovery && TCP_SEQ_GT(s->rexmit_high, pcb->lastack) &&
	    TCP_SEQ_GEQ(high, s->rexmit_mark + dup)) {
		s->rexmit_high = pcb->lastack;
		skiff__s.st.tcp_lost_retransmits++;
	}
	for (seg = pcb->unacked; seg; seg = next) {
		u32_t l = lwip_ntohl(seg->tcphdr->seqno), r = l + TCP_TCPLEN(seg);

		next = seg->next;
		if (TCP_SEQ_GEQ(l, high))
			break;
		if (covered(s, l, r) || TCP_SEQ_LT(l, s->rexmit_high) || sacked_above(s, r) < dup ||
		    seg->p->ref != 1) {
			prev = seg;
			continue;
		}
		if (!n)
			enter_recovery(s, pcb);
		requeue(pcb, prev, seg); /* prev stays: seg left the list */
		s->rexmit_high = r;
		n++;
	}
	/* lwIP counts the window from the cumulative ACK; SACKed bytes have
	 * left the network all the same. Letting them count (RFC 6675's pipe,
	 * roughly) keeps new data going during recovery, which brings the
	 * SACKs that reveal lost resends. */
	if (s->in_recovery) {
		tcpwnd_size_t want = pcb->ssthresh + sacked_above(s, pcb->lastack);

		if (pcb->cwnd < want)
			pcb->cwnd = want;
	}
	if (!n)
		return false;
	s->rexmit_mark = pcb->snd_nxt;
	/* Karn: no RTT sample from a retransmission. */
	pcb->rttest = 0;
	pcb->rtime = 0;
	skiff__s.st.tcp_sack_retransmits += n;
	return true;
}
