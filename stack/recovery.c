/*
 * Loss recovery for the sender, which lwIP lacks beyond Reno: it receives
 * SACK blocks but recovers one hole per round trip and waits for a
 * retransmission timeout for the rest. With a few percent of loss and
 * megabyte windows nearly every window has several holes, so that is an
 * RTO per window.
 *
 * NewReno (RFC 6582): a partial ACK in recovery resends the next hole at
 * once. SACK (RFC 6675, simplified): the TCP input hook records each ACK's
 * SACK blocks in the socket's scoreboard; after each RX batch (ackbatch.c)
 * every socket that got new blocks has its lost segments (un-SACKed, with
 * DupThresh segments' worth SACKed above them) moved from unacked back to
 * unsent, in order, as tcp_rexmit() does for the first one, and
 * tcp_output() sends them. One retransmission per hole per recovery
 * episode; a new RTO or a full ACK ends the episode.
 */
#include "instance.h"
#include "recovery.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"

#define DUPTHRESH 3u

void skiff__recovery_begin(struct skiff_sock *s, u32_t snd_nxt, u32_t resent_end)
{
	if (s->rec.active)
		return;
	s->rec.active = true;
	s->rec.recover = snd_nxt;
	s->rec.rexmit_high = resent_end;
	s->rec.rexmit_mark = snd_nxt;
	skiff__s.stats.tcp_fast_recoveries++;
}

/* New data was ACKed during fast recovery (lwIP, being Reno, has just left
 * it). A full ACK ends the episode. A partial one (below what was sent when
 * it began) means more holes: resend what the SACK scoreboard shows lost,
 * or without SACK the next segment, as NewReno does (RFC 6582 3.2 step 3),
 * and stay in recovery instead of stalling until an RTO. */
void skiff__recovery_acked(struct skiff_sock *s, struct tcp_pcb *pcb, u16_t acked)
{
	if (!s->rec.active)
		return;
	if ((pcb->flags & TF_RTO) || TCP_SEQ_GEQ(pcb->lastack, s->rec.recover) || !pcb->unacked) {
		s->rec.active = false;
		return;
	}
	tcp_set_flags(pcb, TF_INFR);
	pcb->rtime = 0;
	if (skiff__sack_recover(s, pcb))
		return;
	if (TCP_SEQ_LT(lwip_ntohl(pcb->unacked->tcphdr->seqno), s->rec.rexmit_high))
		return; /* resent already in this episode: its fate is the RTO's */
	if (tcp_rexmit(pcb) != ERR_OK)
		return;
	s->rec.rexmit_high = lwip_ntohl(pcb->unsent->tcphdr->seqno) + TCP_TCPLEN(pcb->unsent);
	s->rec.rexmit_mark = pcb->snd_nxt;
	/* Deflate by what was ACKed, add back one segment (RFC 6582). */
	pcb->cwnd = pcb->cwnd > acked ? (tcpwnd_size_t)(pcb->cwnd - acked) : pcb->mss;
	TCP_WND_INC(pcb->cwnd, pcb->mss);
	skiff__s.stats.tcp_partial_acks++;
}

/* Drops what the cumulative ACK covers. */
static void prune(struct skiff_sock *s, u32_t ack)
{
	unsigned k = 0;

	for (unsigned i = 0; i < s->rec.n_sacked; i++) {
		if (TCP_SEQ_LEQ(s->rec.sacked[i].right, ack))
			continue;
		if (TCP_SEQ_LT(s->rec.sacked[i].left, ack))
			s->rec.sacked[i].left = ack;
		s->rec.sacked[k++] = s->rec.sacked[i];
	}
	s->rec.n_sacked = (uint8_t)k;
}

/* Adds [left, right), merging what it overlaps or touches. */
static void add(struct skiff_sock *s, u32_t left, u32_t right)
{
	unsigned i = 0;

	while (i < s->rec.n_sacked) {
		struct skiff_sack_range *r = &s->rec.sacked[i];

		if (TCP_SEQ_LT(right, r->left) || TCP_SEQ_GT(left, r->right)) {
			i++;
			continue;
		}
		if (TCP_SEQ_LT(r->left, left))
			left = r->left;
		if (TCP_SEQ_GT(r->right, right))
			right = r->right;
		s->rec.sacked[i] = s->rec.sacked[--s->rec.n_sacked];
		i = 0; /* the merged range may now touch another */
	}
	if (s->rec.n_sacked == SKIFF_SACK_MAX) {
		/* Keep the lowest ranges: the holes below them matter first. */
		unsigned hi = 0;

		for (unsigned j = 1; j < s->rec.n_sacked; j++)
			if (TCP_SEQ_GT(s->rec.sacked[j].left, s->rec.sacked[hi].left))
				hi = j;
		if (TCP_SEQ_GT(left, s->rec.sacked[hi].left))
			return;
		s->rec.sacked[hi] = s->rec.sacked[--s->rec.n_sacked];
	}
	s->rec.sacked[s->rec.n_sacked++] = (struct skiff_sack_range){left, right};
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
	for (unsigned i = 0; i < s->rec.n_sacked; i++)
		if (TCP_SEQ_LEQ(s->rec.sacked[i].left, l) && TCP_SEQ_GEQ(s->rec.sacked[i].right, r))
			return true;
	return false;
}

static u32_t sacked_above(const struct skiff_sock *s, u32_t seq)
{
	u32_t n = 0;

	for (unsigned i = 0; i < s->rec.n_sacked; i++) {
		const struct skiff_sack_range *r = &s->rec.sacked[i];

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
	if (!s->rec.active && !(pcb->flags & TF_INFR)) {
		tcpwnd_size_t flight = (tcpwnd_size_t)(pcb->snd_nxt - pcb->lastack);

		pcb->ssthresh = LWIP_MAX(flight / 2, (tcpwnd_size_t)(2 * pcb->mss));
		pcb->cwnd = pcb->ssthresh;
	}
	if (!s->rec.active) {
		s->rec.active = true;
		s->rec.recover = pcb->snd_nxt;
		skiff__s.stats.tcp_fast_recoveries++;
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

	if (!s->rec.n_sacked || (pcb->flags & TF_RTO) || pcb->state < ESTABLISHED)
		return false;
	for (unsigned i = 0; i < s->rec.n_sacked; i++)
		if (TCP_SEQ_GT(s->rec.sacked[i].right, high))
			high = s->rec.sacked[i].right;
	if (!s->rec.active)
		s->rec.rexmit_high = pcb->lastack;
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
	if (s->rec.active && TCP_SEQ_GT(s->rec.rexmit_high, pcb->lastack) &&
	    TCP_SEQ_GEQ(high, s->rec.rexmit_mark + dup)) {
		s->rec.rexmit_high = pcb->lastack;
		skiff__s.stats.tcp_lost_retransmits++;
	}
	for (seg = pcb->unacked; seg; seg = next) {
		u32_t l = lwip_ntohl(seg->tcphdr->seqno), r = l + TCP_TCPLEN(seg);

		next = seg->next;
		if (TCP_SEQ_GEQ(l, high))
			break;
		if (covered(s, l, r) || TCP_SEQ_LT(l, s->rec.rexmit_high) ||
		    sacked_above(s, r) < dup || seg->p->ref != 1) {
			prev = seg;
			continue;
		}
		if (!n)
			enter_recovery(s, pcb);
		requeue(pcb, prev, seg); /* prev stays: seg left the list */
		s->rec.rexmit_high = r;
		n++;
	}
	/* lwIP counts the window from the cumulative ACK; SACKed bytes have
	 * left the network all the same. Letting them count (RFC 6675's pipe,
	 * roughly) keeps new data going during recovery, which brings the
	 * SACKs that reveal lost resends. */
	if (s->rec.active) {
		tcpwnd_size_t want = pcb->ssthresh + sacked_above(s, pcb->lastack);

		if (pcb->cwnd < want)
			pcb->cwnd = want;
	}
	if (!n)
		return false;
	s->rec.rexmit_mark = pcb->snd_nxt;
	/* Karn: no RTT sample from a retransmission. */
	pcb->rttest = 0;
	pcb->rtime = 0;
	skiff__s.stats.tcp_sack_retransmits += n;
	return true;
}
