/*
 * Loss recovery for the sender, which lwIP lacks beyond Reno (one hole per
 * round trip, the rest left to the retransmission timeout).
 *
 * RACK-TLP (RFC 8985). Every segment carries when it was last sent and
 * whether it was sent more than once (patch 0013, skiff_xmit_us and
 * skiff_sflags). Each ACK tells which segments the peer has, cumulatively
 * or by SACK; the most recently *sent* of them is RACK's reference. A
 * segment sent before it and still missing a reordering window after the
 * reference's RTT is lost: it goes back on unsent, in order, and
 * tcp_output() resends it. Lost retransmissions are found the same way
 * (their send time moved on), and reordering shorter than the window
 * costs nothing. A tail loss, which no later ACK can reveal, is probed:
 * two smoothed RTTs after the last send without an ACK, one segment goes
 * (new data, or the last one again) to draw the SACK that starts recovery
 * instead of waiting for an RTO.
 *
 * The episode: the first loss reduces the window as the connection's
 * congestion control says (cc.c; TF_INFR keeps lwIP's own fast
 * retransmit out of it) and recovery lasts until what was
 * sent before it is ACKed. Proportional Rate Reduction (RFC 6937) paces
 * it: each ACK lets go, resends and new data alike, a share of what it
 * reports delivered, ssthresh / RecoverFS, while the flight is above
 * ssthresh, and no more than slow start would below (PRR-SSRB); the
 * episode ends with cwnd = ssthresh. The quota reaches lwIP's
 * tcp_output() as its cwnd.
 * Without SACK, NewReno (RFC 6582): a partial ACK resends the next hole.
 *
 * The RTO (RFC 6298) comes from skiff's RTT estimate in microseconds, at
 * least skiff_config.min_rto_ms, written into lwIP's sa/sv so that its
 * timer and backoff use it; lwIP's own estimate counts 10 ms ticks.
 */
#include "instance.h"
#include "recovery.h"
#include "sock.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"

/* The minimum RTT is the lowest sample of this window (RFC 8985's
 * RACK.min_RTT; Linux keeps a windowed minimum too). */
#define MIN_RTT_WINDOW_US 10000000u

static inline u32_t seg_seq(const struct tcp_seg *seg)
{
	return lwip_ntohl(seg->tcphdr->seqno);
}

static inline u32_t seg_end(const struct tcp_seg *seg)
{
	return seg_seq(seg) + TCP_TCPLEN(seg);
}

static inline bool after_us(u32_t a, u32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* (t1, e1) sent after (t2, e2): RFC 8985's RACK_sent_after(). */
static inline bool sent_after(u32_t t1, u32_t e1, u32_t t2, u32_t e2)
{
	return after_us(t1, t2) || (t1 == t2 && TCP_SEQ_GT(e1, e2));
}

/* ---- the formulas ------------------------------------------------------------ */

uint32_t skiff__rto_ms(uint32_t srtt_us, uint32_t rttvar_us, uint32_t min_rto_ms)
{
	uint64_t rto_us = (uint64_t)srtt_us + 4u * (uint64_t)rttvar_us;
	uint32_t ms = (uint32_t)((rto_us + 999u) / 1000u);

	return ms < min_rto_ms ? min_rto_ms : ms;
}

uint32_t skiff__pto_us(uint32_t srtt_us, bool one_segment)
{
	uint32_t pto = 2 * srtt_us;

	if (!srtt_us)
		return 1000000u; /* no RTT yet: RFC 8985 7.2's 1 s */
	/* A floor for sub-millisecond paths, where 2 SRTT is shorter than
	 * a peer's or a scheduler's hiccup and every probe would be spurious
	 * (the TLP draft's 10 ms; Linux adds 2 ticks). */
	if (pto < SKIFF_PTO_MIN_US)
		pto = SKIFF_PTO_MIN_US;
	/* One segment out: the peer may hold its ACK for a delayed-ACK
	 * timeout (WCDelAckT, 200 ms). */
	if (one_segment && pto < srtt_us + srtt_us / 2 + 200000u)
		pto = srtt_us + srtt_us / 2 + 200000u;
	return pto;
}

uint32_t skiff__reo_wnd_us(const struct skiff_recovery *r)
{
	uint32_t w = r->min_rtt_us / 4 * (r->reo_wnd_mult ? r->reo_wnd_mult : 1u);

	if (!r->reord && r->active)
		return 0;
	if (r->srtt_us && w > r->srtt_us)
		w = r->srtt_us;
	return w;
}

void skiff__prr_init(struct skiff_prr *p, uint32_t recover_fs)
{
	p->recover_fs = recover_fs ? recover_fs : 1;
	p->delivered = 0;
	p->out = 0;
}

uint32_t skiff__prr_sndcnt(struct skiff_prr *p, uint32_t delivered, uint32_t pipe,
			   uint32_t ssthresh, uint32_t mss)
{
	int64_t sndcnt, limit;

	p->delivered += delivered;
	if (pipe > ssthresh) {
		/* Proportional: CEIL(prr_delivered * ssthresh / RecoverFS)
		 * - prr_out. */
		uint64_t share =
			((uint64_t)p->delivered * ssthresh + p->recover_fs - 1) / p->recover_fs;

		sndcnt = (int64_t)share - p->out;
	} else {
		/* PRR-SSRB: catch up towards ssthresh, by what was delivered
		 * and not yet matched, or this ACK's delivery, plus a segment. */
		limit = (int64_t)p->delivered - p->out;
		if (limit < delivered)
			limit = delivered;
		limit += mss;
		sndcnt = ssthresh - pipe;
		if (sndcnt > limit)
			sndcnt = limit;
	}
	return sndcnt > 0 ? (uint32_t)sndcnt : 0;
}

static void undo_record(struct skiff_recovery *r, u32_t seq);
static void spurious_resend(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t seq);

/* ---- segments --------------------------------------------------------------------- */

void skiff__recovery_seg_init(struct tcp_seg *seg)
{
	seg->skiff_xmit_us = 0;
	seg->skiff_tsval = 0;
	seg->skiff_sflags = 0;
}

static struct skiff_sock *sock_of(const struct tcp_pcb *pcb)
{
	struct skiff_sock *s = pcb->callback_arg;

	return s && s->pcb.tcp == pcb ? s : NULL;
}

u32_t skiff__recovery_tsval(const struct tcp_pcb *pcb, struct tcp_seg *seg)
{
	struct skiff_sock *s = pcb ? sock_of(pcb) : NULL;
	u32_t ts = sys_now();

	/* A half-open connection has no socket yet: its SYN-ACK's resends
	 * are a second apart, their TSvals differ anyway. */
	if (s) {
		ts = skiff__tsval(ts, s->rec.ts_floor, seg && (seg->skiff_sflags & SKIFF_SEG_SENT),
				  seg ? seg->skiff_tsval : 0);
		s->rec.ts_floor = ts;
	}
	if (seg)
		seg->skiff_tsval = ts;
	return ts;
}

void skiff__recovery_seg_out(struct tcp_pcb *pcb, struct tcp_seg *seg)
{
	struct skiff_sock *s;
	u32_t now = skiff__now_us();

	/* The handshake's send time, for its RTT sample; none once resent
	 * (Karn: its ACK may be for either). */
	if (TCPH_FLAGS(seg->tcphdr) & TCP_SYN)
		pcb->skiff_syn_us = (seg->skiff_sflags & SKIFF_SEG_SENT) ? 0 : now | 1u;
	if (seg->skiff_sflags & SKIFF_SEG_SENT)
		seg->skiff_sflags |= SKIFF_SEG_RETRANS;
	seg->skiff_sflags = (u8_t)((seg->skiff_sflags | SKIFF_SEG_SENT) & ~SKIFF_SEG_SACKED);
	seg->skiff_xmit_us = now;
	s = sock_of(pcb);
	/* A resend of the timeout: a D-SACK may later call it a duplicate. */
	if (s && s->rec.rto_undo && s->rec.undo_valid && (seg->skiff_sflags & SKIFF_SEG_RETRANS) &&
	    (pcb->flags & TF_RTO))
		undo_record(&s->rec, seg_seq(seg));
	if (s && s->rec.prr_on)
		s->rec.prr.out += seg->len;
	/* Data out: the probe timer starts over. */
	if (s && !s->rec.tlp_out && seg->len && pcb->state >= ESTABLISHED) {
		s->rec.pto_due_us =
			(now + skiff__pto_us(s->rec.srtt_us, pcb->unacked == NULL)) | 1u;
		skiff__timer_arm(pcb);
	}
}

/* An RTT sample (RFC 6298 2.2, 2.3), and the windowed minimum; the
 * congestion control (HyStart++, CUBIC) takes it too. */
static void rtt_sample(struct skiff_sock *s, u32_t rtt, u32_t now)
{
	struct skiff_recovery *r = &s->rec;

	if (!rtt)
		rtt = 1;
	if (!r->min_rtt_us || rtt <= r->min_rtt_us ||
	    (u32_t)(now - r->min_rtt_at_us) > MIN_RTT_WINDOW_US) {
		r->min_rtt_us = rtt;
		r->min_rtt_at_us = now;
	}
	skiff__cc_rtt_sample(s, rtt);
	if (!r->srtt_us) {
		r->srtt_us = rtt;
		r->rttvar_us = rtt / 2;
		return;
	}
	r->rttvar_us = r->rttvar_us - r->rttvar_us / 4 +
		       (r->srtt_us > rtt ? r->srtt_us - rtt : rtt - r->srtt_us) / 4;
	r->srtt_us = r->srtt_us - r->srtt_us / 8 + rtt / 8;
}

uint32_t skiff__tsval(uint32_t now_ms, uint32_t floor, bool resend, uint32_t prev)
{
	uint32_t ts = now_ms;

	if ((int32_t)(floor - ts) > 0 && floor - ts < SKIFF_TS_AHEAD_MAX)
		ts = floor;
	if (resend && (int32_t)(ts - prev) <= 0 && prev - ts < SKIFF_TS_AHEAD_MAX)
		ts = prev + 1;
	return ts;
}

/* The peer has @p seg (RFC 8985 6.2, RACK_update()). */
static void deliver(struct skiff_sock *s, struct tcp_pcb *pcb, const struct tcp_seg *seg, u32_t now,
		    bool cumulative)
{
	struct skiff_recovery *r = &s->rec;
	u32_t end = seg_end(seg), rtt = now - seg->skiff_xmit_us;

	if (!(seg->skiff_sflags & SKIFF_SEG_SENT))
		return;
	if (seg->skiff_sflags & SKIFF_SEG_RETRANS) {
		/* The ACK echoes a transmission before the resend (RFC 8985
		 * 6.2 step 2; a resend's TSval is above its previous
		 * transmission's): the resend's time would make everything
		 * sent before it look lost. An ACK that moves the left edge
		 * echoes the segment that moved it, the first it covers: its
		 * original arrived late, the path reorders, and the resend was
		 * not needed (RFC 3522's detection). Further segments it covers
		 * may have come in by their resends earlier, and a SACK's echo
		 * is the left edge's: neither says anything about them. */
		if (r->tsecr_valid && TCP_SEQ_LT(r->tsecr, seg->skiff_tsval)) {
			if (cumulative && seg_seq(seg) == pcb->lastack) {
				r->reord = true;
				skiff__s.stats.tcp_late_originals++;
				spurious_resend(s, pcb, seg_seq(seg));
			}
			return;
		}
		/* Sooner than the minimum RTT after the resend: the original
		 * was delivered, not the resend; which one is unknown. */
		if (rtt < r->min_rtt_us)
			return;
	} else {
		rtt_sample(s, rtt, now);
	}
	/* Delivered below what was delivered before without having been
	 * resent: the path reorders (RFC 8985 6.2, step 3). */
	if (r->rack_valid && TCP_SEQ_LT(end, r->fack)) {
		if (!(seg->skiff_sflags & SKIFF_SEG_RETRANS))
			r->reord = true;
	} else {
		r->fack = end;
	}
	/* The probe, or data sent after it, arrived: the probe did its job
	 * (the loss it reveals is RACK's now), and another may go. */
	if (r->tlp_out && TCP_SEQ_GEQ(end, r->tlp_end))
		r->tlp_out = false;
	if (!r->rack_valid || sent_after(seg->skiff_xmit_us, end, r->rack_xmit_us, r->rack_end)) {
		r->rack_valid = true;
		r->rack_xmit_us = seg->skiff_xmit_us;
		r->rack_end = end;
		r->rack_rtt_us = rtt;
	}
}

/* ---- the SACK scoreboard ------------------------------------------------------------ */

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

static bool covered(const struct skiff_sock *s, u32_t l, u32_t r)
{
	for (unsigned i = 0; i < s->rec.n_sacked; i++)
		if (TCP_SEQ_LEQ(s->rec.sacked[i].left, l) && TCP_SEQ_GEQ(s->rec.sacked[i].right, r))
			return true;
	return false;
}

/* A resend the episode's undo waits for (once per sequence number). */
static void undo_record(struct skiff_recovery *r, u32_t seq)
{
	for (unsigned i = 0; i < r->undo_n; i++)
		if (r->undo_seq[i] == seq)
			return;
	if (r->undo_n == SKIFF_UNDO_MAX) {
		r->undo_valid = false;
		return;
	}
	r->undo_seq[r->undo_n++] = seq;
	r->undo_retrans++;
}

/* @p list sorted by sequence number (a merge sort; stable). */
static struct tcp_seg *seq_sorted(struct tcp_seg *list)
{
	struct tcp_seg *a, *b, **t, *head;

	if (!list || !list->next)
		return list;
	/* Halves: b walks twice as fast as a. */
	a = list;
	for (b = list->next; b && b->next; b = b->next->next)
		a = a->next;
	b = a->next;
	a->next = NULL;
	a = seq_sorted(list);
	b = seq_sorted(b);
	t = &head;
	while (a && b) {
		struct tcp_seg **from = TCP_SEQ_LEQ(seg_seq(a), seg_seq(b)) ? &a : &b;

		*t = *from;
		*from = (*from)->next;
		t = &(*t)->next;
	}
	*t = a ? a : b;
	return head;
}

/* Segments RACK took back as lost went to unsent, in order, below what
 * stayed unacked; lwIP's timeout then put unacked in front: the queue
 * began above the lowest unACKed byte, beyond a one-segment window, and
 * nothing was sent again (no segment in flight, no timer): the
 * connection stalled for good. Seen after an MPTCP handover, which gave
 * RACK a join's queue; any connection with both a RACK loss and a
 * timeout could. */
void skiff__recovery_unsent_in_order(struct tcp_pcb *pcb)
{
	struct tcp_seg *seg;
	bool sorted = true;

	for (seg = pcb->unsent; seg && seg->next; seg = seg->next)
		if (TCP_SEQ_GT(seg_seq(seg), seg_seq(seg->next)))
			sorted = false;
	if (sorted)
		return;
	skiff__s.stats.tcp_unsent_reordered++;
	pcb->unsent = seq_sorted(pcb->unsent);
	for (seg = pcb->unsent; seg->next; seg = seg->next)
		;
	pcb->unsent_tail = seg;	  /* patch 0023 */
	pcb->unsent_oversize = 0; /* no room promised after a moved tail */
#if TCP_OVERSIZE_DBGCHECK
	/* lwIP's debug builds assert the tail's copy of it agrees. */
	seg->oversize_left = 0;
#endif
}

bool skiff__recovery_rto(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_recovery *r = &s->rec;

	skiff__recovery_unsent_in_order(pcb);

	/* A timeout in the middle of PRR's reduction: the window it cuts is
	 * the episode's target, not PRR's quota of the moment. */
	if (r->prr_on) {
		r->prr_on = false;
		if (pcb->cwnd < pcb->ssthresh)
			pcb->cwnd = pcb->ssthresh;
	}
	/* The first timeout starts the episode; backoffs, and timeouts
	 * before what was out when it began is ACKed, add to it (Linux's
	 * high_seq; lwIP's rto_end marks the end of what it requeued): a
	 * later timeout's window is the cut one already. */
	if (r->rto_undo && r->undo_valid &&
	    (pcb->nrtx > 0 || TCP_SEQ_LT(pcb->lastack, r->rto_high)))
		return true;
	r->rto_high = TCP_SEQ_GT(pcb->rto_end, pcb->snd_nxt) ? pcb->rto_end : pcb->snd_nxt;
	r->prior_cwnd = pcb->cwnd;
	r->prior_ssthresh = pcb->ssthresh;
	r->undo_valid = true;
	r->rto_undo = true;
	r->undo_retrans = 0;
	r->undo_n = 0;
	return false;
}

/* The reduction of the episode was for nothing: the window it cut comes
 * back (cc.c restores its own state too). */
static void undo(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_recovery *r = &s->rec;

	r->undo_valid = false;
	r->prr_on = false;
	if (pcb->cwnd < r->prior_cwnd)
		pcb->cwnd = r->prior_cwnd;
	if (pcb->ssthresh < r->prior_ssthresh)
		pcb->ssthresh = r->prior_ssthresh;
	skiff__cc_undo(s, pcb);
	skiff__s.stats.tcp_spurious_undos++;
}

/* The resend at @p seq was not needed (a D-SACK, or the original's late
 * arrival): it counts towards the episode's undo once, and when every
 * resend of the episode is so, the reduction is undone (RFC 2883's D-SACK,
 * RFC 3522's Eifel detection; Linux's undo_retrans and
 * tcp_packet_delayed()). */
static void spurious_resend(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t seq)
{
	struct skiff_recovery *r = &s->rec;

	if (!r->undo_valid)
		return;
	for (unsigned i = 0; i < r->undo_n; i++) {
		if (r->undo_seq[i] != seq)
			continue;
		r->undo_seq[i] = r->undo_seq[--r->undo_n];
		if (--r->undo_retrans <= 0)
			undo(s, pcb);
		return;
	}
}

/* A D-SACK for [l, r): the peer got it twice. The reordering window grows
 * (once per round trip), and a resend of this episode it matches counts
 * towards the undo. */
static void dsack(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t l)
{
	struct skiff_recovery *r = &s->rec;

	skiff__s.stats.tcp_dsacks_received++;
	if (!r->dsack_round_set || TCP_SEQ_GEQ(pcb->lastack, r->dsack_round)) {
		if (r->reo_wnd_mult < 255)
			r->reo_wnd_mult = (uint8_t)((r->reo_wnd_mult ? r->reo_wnd_mult : 1) + 1);
		r->reo_wnd_persist = 16;
		r->dsack_round = pcb->snd_nxt;
		r->dsack_round_set = true;
	}
	spurious_resend(s, pcb, l);
}

/* Records the blocks of a SACK option; true when there were any about
 * data in flight. A first block at or below the ACK, or inside the second
 * block, reports a duplicate (a D-SACK, RFC 2883): noted, not recorded. */
static bool sack_blocks(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t ackno, const uint8_t *sack)
{
	bool any = false;
	uint8_t len;

	if (!sack || (len = sack[1]) < 10 || (len - 2) % 8 != 0)
		return false;
	for (unsigned b = 0; b < (len - 2u) / 8u; b++) {
		const uint8_t *p = sack + 2 + 8 * b;
		u32_t l = (u32_t)p[0] << 24 | (u32_t)p[1] << 16 | (u32_t)p[2] << 8 | p[3];
		u32_t r = (u32_t)p[4] << 24 | (u32_t)p[5] << 16 | (u32_t)p[6] << 8 | p[7];

		if (!TCP_SEQ_LT(l, r))
			continue;
		if (b == 0 && TCP_SEQ_LEQ(r, ackno)) {
			dsack(s, pcb, l);
			continue;
		}
		if (b == 0 && len >= 18) {
			const uint8_t *q = p + 8;
			u32_t l2 = (u32_t)q[0] << 24 | (u32_t)q[1] << 16 | (u32_t)q[2] << 8 | q[3];
			u32_t r2 = (u32_t)q[4] << 24 | (u32_t)q[5] << 16 | (u32_t)q[6] << 8 | q[7];

			if (TCP_SEQ_LEQ(l2, l) && TCP_SEQ_LEQ(r, r2) && (l2 != l || r2 != r)) {
				dsack(s, pcb, l);
				continue;
			}
		}
		if (TCP_SEQ_GT(r, ackno) && TCP_SEQ_LEQ(r, pcb->snd_nxt)) {
			add(s, TCP_SEQ_LT(l, ackno) ? ackno : l, r);
			any = true;
		}
	}
	return any;
}

/* ---- the episode ------------------------------------------------------------ */

/* Moves @p seg (after @p prev on unacked, or its head) to unsent, in order. */
static void requeue(struct tcp_pcb *pcb, struct tcp_seg *prev, struct tcp_seg *seg)
{
	struct tcp_seg **cur = &pcb->unsent;
	u32_t seq = seg_seq(seg);

	if (prev)
		prev->next = seg->next;
	else
		pcb->unacked = seg->next;
	if (pcb->unacked_tail == seg) /* patch 0022 */
		pcb->unacked_tail = prev;
	while (*cur && TCP_SEQ_LT(seg_seq(*cur), seq))
		cur = &(*cur)->next;
	seg->next = *cur;
	*cur = seg;
	if (!seg->next) {
		pcb->unsent_tail = seg;	  /* patch 0023 */
		pcb->unsent_oversize = 0; /* it is the last one now */
#if TCP_OVERSIZE_DBGCHECK
		seg->oversize_left = 0; /* (lwIP's debug builds compare them) */
#endif
	}
}

/* lwIP sends what fits below lastack + cwnd: the window follows PRR's
 * edge as ACKs move lastack. */
static void prr_hold(const struct skiff_recovery *r, struct tcp_pcb *pcb)
{
	pcb->cwnd = TCP_SEQ_GT(r->prr_edge, pcb->lastack)
			    ? (tcpwnd_size_t)(r->prr_edge - pcb->lastack)
			    : 0;
}

void skiff__recovery_prr_hold(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	if (s->rec.prr_on)
		prr_hold(&s->rec, pcb);
}

/* PRR's quota for what this ACK (or batch of ACKs) delivered: pipe is
 * what is in flight, the segments sent and neither SACKed nor taken back
 * as lost. The quota becomes the edge after as many queued segments as
 * it reaches, whole segments (a CEIL in segments, as a sender counting
 * packets has it); what is left over is for data written later. */
static void prr_quota(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_recovery *r = &s->rec;
	u32_t mss = pcb->mss ? pcb->mss : 1, pipe = 0, sndcnt, edge = pcb->lastack;
	struct tcp_seg *seg;

	for (seg = pcb->unacked; seg; seg = seg->next)
		if (!(seg->skiff_sflags & SKIFF_SEG_SACKED))
			pipe += TCP_TCPLEN(seg);
	sndcnt = skiff__prr_sndcnt(&r->prr, r->prr_acked, pipe, pcb->ssthresh, mss);
	r->prr_acked = 0;
	/* The episode's first resend goes whatever the count (RFC 6675's
	 * fast retransmit; the ACK that began it is not counted). */
	if (!sndcnt && !r->prr.out)
		sndcnt = 1;
	for (seg = pcb->unsent; seg && sndcnt; seg = seg->next) {
		edge = seg_seq(seg) + seg->len;
		sndcnt = sndcnt > seg->len ? sndcnt - seg->len : 0;
	}
	if (sndcnt) {
		if (TCP_SEQ_LT(edge, pcb->snd_nxt))
			edge = pcb->snd_nxt;
		edge += (sndcnt + mss - 1) / mss * mss;
	}
	r->prr_edge = edge;
	prr_hold(r, pcb);
}

/* Once per episode: the congestion control's reduction (cc.c: CUBIC's
 * 0.7, Reno's half), remember where it ends. TF_INFR keeps lwIP's own fast
 * retransmit out of it. */
static void enter_recovery(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_recovery *r = &s->rec;

	if (!r->active && !(pcb->flags & TF_INFR)) {
		r->prior_cwnd = pcb->cwnd;
		r->prior_ssthresh = pcb->ssthresh;
		r->undo_valid = !(pcb->flags & TF_RTO);
		r->rto_undo = false;
		r->undo_retrans = 0;
		r->undo_n = 0;
		if (r->reo_wnd_persist && --r->reo_wnd_persist == 0)
			r->reo_wnd_mult = 1;
		skiff__cc_congestion(s, pcb);
		/* After a timeout the window restarts from one segment:
		 * nothing to reduce. */
		r->prr_on = !(pcb->flags & TF_RTO);
		skiff__prr_init(&r->prr, pcb->snd_nxt - pcb->lastack);
		r->prr_acked = 0;
	}
	if (!s->rec.active) {
		s->rec.active = true;
		s->rec.recover = pcb->snd_nxt;
		skiff__s.stats.tcp_fast_recoveries++;
	}
	tcp_set_flags(pcb, TF_INFR);
}

void skiff__recovery_begin(struct skiff_sock *s, u32_t snd_nxt, u32_t resent_end)
{
	if (s->rec.active)
		return;
	s->rec.active = true;
	s->rec.recover = snd_nxt;
	s->rec.rexmit_high = resent_end;
	skiff__s.stats.tcp_fast_recoveries++;
}

bool skiff__recovery_ack_in(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t ackno,
			    const uint8_t *sack, const uint8_t *ts)
{
	struct skiff_recovery *r = &s->rec;
	u32_t now = skiff__now_us();
	bool any = false;

	r->acked_grown = 0;
	r->tsecr_valid = ts && (pcb->flags & TF_TIMESTAMP);
	if (r->tsecr_valid)
		r->tsecr = (u32_t)ts[6] << 24 | (u32_t)ts[7] << 16 | (u32_t)ts[8] << 8 | ts[9];

	/* With SACK, losses are RACK's to find, by time: lwIP's three
	 * duplicate ACKs would start a recovery (and cut the window) for a
	 * segment only reordered, before RACK's window is over. lwIP counts
	 * this ACK next; it never reaches three. */
	if (pcb->flags & TF_SACK)
		pcb->dupacks = 0;
	/* SACK blocks first: a D-SACK of the probe in this ACK says it was a
	 * duplicate before the episode's end is judged. */
	if (pcb->flags & TF_SACK) {
		u64_t dsacks = skiff__s.stats.tcp_dsacks_received;

		prune(s, pcb->lastack);
		any = sack_blocks(s, pcb, ackno, sack);
		if (r->tlp_out && r->tlp_rexmit && skiff__s.stats.tcp_dsacks_received != dsacks) {
			r->tlp_out = false; /* the probe was a duplicate: no loss */
			r->tlp_rexmit = false;
		}
	}
	if (TCP_SEQ_GT(ackno, pcb->lastack) && TCP_SEQ_LEQ(ackno, pcb->snd_nxt)) {
		/* The probe's episode (RFC 8985 7.4): new data as the probe
		 * ends it with the ACK of what it covered. A resent probe
		 * that no D-SACK called a duplicate and that the ACK passed
		 * repaired a tail loss, which the window pays for; an ACK
		 * exactly at its end may be the original's (its D-SACK still
		 * to come): no loss is assumed, and deliver() ends the
		 * episode. */
		if (r->tlp_out && !r->tlp_rexmit && TCP_SEQ_GEQ(ackno, r->tlp_end)) {
			r->tlp_out = false;
		} else if (r->tlp_out && TCP_SEQ_GT(ackno, r->tlp_end)) {
			r->tlp_out = false;
			r->tlp_rexmit = false;
			if (!r->active) {
				skiff__cc_congestion(s, pcb);
				skiff__s.stats.tcp_tlp_recoveries++;
			}
		}
		/* What the ACK covers: lwIP frees those segments next. PRR
		 * counts what the peer had not reported by SACK already. */
		s32_t acked = (s32_t)(ackno - pcb->lastack);

		for (struct tcp_seg *seg = pcb->unacked; seg && TCP_SEQ_LEQ(seg_end(seg), ackno);
		     seg = seg->next) {
			if (seg->skiff_sflags & SKIFF_SEG_SACKED)
				acked -= TCP_TCPLEN(seg);
			if (seg->skiff_sflags & SKIFF_SEG_GREW)
				r->acked_grown += TCP_TCPLEN(seg);
			deliver(s, pcb, seg, now, true);
		}
		if (r->prr_on && acked > 0)
			r->prr_acked += (u32_t)acked;
	}
	return any || r->active || r->reo_due_us;
}

bool skiff__recovery_run(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_recovery *r = &s->rec;
	struct tcp_seg *prev = NULL, *seg, *next;
	u32_t now, reo, due = 0;
	unsigned n = 0;

	if (pcb->state < ESTABLISHED || !(pcb->flags & TF_SACK))
		return false;
	now = skiff__now_us();
	prune(s, pcb->lastack);
	/* What the scoreboard shows delivered feeds RACK; outside a
	 * recovery it grows the window as an ACK of it would (Linux counts
	 * what is delivered, ACKed or SACKed, not what the cumulative ACK
	 * passes, which waits for the hole: a hole RACK then calls lost
	 * would leave that data counted inside the recovery, for nothing). */
	if (r->n_sacked) {
		bool grow = !r->active && !(pcb->flags & (TF_INFR | TF_RTO));
		u32_t grown = 0;

		for (seg = pcb->unacked; seg; seg = seg->next)
			if (!(seg->skiff_sflags & SKIFF_SEG_SACKED) &&
			    covered(s, seg_seq(seg), seg_end(seg))) {
				seg->skiff_sflags |= SKIFF_SEG_SACKED;
				if (r->prr_on)
					r->prr_acked += TCP_TCPLEN(seg);
				if (grow) {
					seg->skiff_sflags |= SKIFF_SEG_GREW;
					grown += TCP_TCPLEN(seg);
				}
				deliver(s, pcb, seg, now, false);
			}
		if (grown)
			skiff__cc_delivered(s, pcb, grown);
	}
	r->reo_due_us = 0;
	if (!r->rack_valid)
		return false;
	/* RACK_detect_loss(): sent before the reference and not delivered
	 * within its RTT plus the reordering window. */
	reo = skiff__reo_wnd_us(r);
	for (seg = pcb->unacked; seg; seg = next) {
		u32_t end = seg_end(seg), deadline;

		next = seg->next;
		if ((seg->skiff_sflags & (SKIFF_SEG_SACKED | SKIFF_SEG_SENT)) != SKIFF_SEG_SENT ||
		    !sent_after(r->rack_xmit_us, r->rack_end, seg->skiff_xmit_us, end)) {
			prev = seg;
			continue;
		}
		deadline = seg->skiff_xmit_us + r->rack_rtt_us + reo;
		if (after_us(deadline, now) || seg->p->ref != 1) {
			/* Not yet; or its frame is still on the TX ring (zero
			 * copy): not lost, only not sent yet. Look again. */
			if (!after_us(deadline, now))
				deadline = now + 1000u;
			if (!due || after_us(due, deadline))
				due = deadline;
			prev = seg;
			continue;
		}
		if (!n)
			enter_recovery(s, pcb);
		if (seg->skiff_sflags & SKIFF_SEG_RETRANS)
			skiff__s.stats.tcp_lost_retransmits++;
		/* The resend a D-SACK may later call a duplicate. */
		if (r->undo_valid)
			undo_record(r, seg_seq(seg));
		requeue(pcb, prev, seg); /* prev stays: seg left the list */
		n++;
	}
	r->reo_due_us = due ? due | 1u : 0;
	/* On the fine timer: the deadline is a fraction of a millisecond
	 * away on a fast path, where the fast tick would add up to 5 ms to
	 * every loss. The fast tick still looks at it (recovery_pending()),
	 * which the tail loss probe keeps it visiting anyway. */
	skiff__timer_fine(pcb, r->reo_due_us);
	if (due)
		skiff__timer_arm(pcb);
	if (r->prr_on)
		prr_quota(s, pcb);
	if (!n)
		return false;
	/* Karn: no RTT sample from a retransmission. */
	pcb->rttest = 0;
	pcb->rtime = 0;
	skiff__timer_rtime_restarted(pcb);
	skiff__s.stats.tcp_rack_losses += n;
	skiff__s.stats.tcp_sack_retransmits += n;
	return true;
}

/* lwIP's RTO from skiff's estimate: lwIP computes rto = (sa >> 3) + sv in
 * its ticks and backs off from that, so both are set to give it. */
static void set_rto(struct skiff_recovery *r, struct tcp_pcb *pcb)
{
	u32_t rto = skiff__rto_ms(r->srtt_us, r->rttvar_us, skiff__s.cfg.min_rto_ms);
	u32_t ticks = (rto + TCP_SLOW_INTERVAL - 1) / TCP_SLOW_INTERVAL;
	u32_t srtt = r->srtt_us / (1000u * TCP_SLOW_INTERVAL);

	if (ticks > 0x3fff)
		ticks = 0x3fff;
	if (srtt >= ticks)
		srtt = ticks - 1;
	pcb->sa = (s16_t)(srtt << 3);
	pcb->sv = (s16_t)(ticks - srtt);
	if (!pcb->nrtx)
		pcb->rto = (s16_t)ticks;
}

void skiff__recovery_established(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	u32_t now;

	if (!pcb->skiff_syn_us)
		return;
	now = skiff__now_us();
	rtt_sample(s, now - pcb->skiff_syn_us, now);
	pcb->skiff_syn_us = 0;
	set_rto(&s->rec, pcb);
	/* lwIP's own estimate would replace it with its sample of the same
	 * round trip, in 10 ms ticks (its VJ estimator starts from a 1 s
	 * variance): this one stands. */
	pcb->rttest = 0;
}

void skiff__recovery_acked(struct skiff_sock *s, struct tcp_pcb *pcb, u16_t acked)
{
	struct skiff_recovery *r = &s->rec;

	if (r->srtt_us)
		set_rto(r, pcb);
	if ((pcb->flags & TF_RTO) && !r->rto_undo)
		r->undo_valid = false;
	if (r->active &&
	    ((pcb->flags & TF_RTO) || TCP_SEQ_GEQ(pcb->lastack, r->recover) || !pcb->unacked)) {
		r->active = false;
		r->rexmit_high = pcb->lastack;
		/* RFC 6937: the episode ends at ssthresh. */
		if (r->prr_on && !(pcb->flags & TF_RTO))
			pcb->cwnd = pcb->ssthresh;
		r->prr_on = false;
	}
	/* The probe timer restarts with each ACK of new data. */
	r->pto_due_us = 0;
	if (pcb->unacked && !r->tlp_out) {
		r->pto_due_us =
			(skiff__now_us() + skiff__pto_us(r->srtt_us, !pcb->unacked->next)) | 1u;
		skiff__timer_arm(pcb);
	}
	if (!r->active || (pcb->flags & TF_SACK))
		return;
	/* NewReno (RFC 6582 3.2 step 3): without SACK a partial ACK means
	 * the next hole is lost too: resend it and stay in recovery instead
	 * of stalling until an RTO. */
	tcp_set_flags(pcb, TF_INFR);
	pcb->rtime = 0;
	skiff__timer_rtime_restarted(pcb);
	if (TCP_SEQ_LT(lwip_ntohl(pcb->unacked->tcphdr->seqno), r->rexmit_high))
		return; /* resent already in this episode: its fate is the RTO's */
	if (tcp_rexmit(pcb) != ERR_OK)
		return;
	r->rexmit_high = seg_end(pcb->unsent);
	/* Deflate by what was ACKed, add back one segment (RFC 6582). */
	pcb->cwnd = pcb->cwnd > acked ? (tcpwnd_size_t)(pcb->cwnd - acked) : pcb->mss;
	TCP_WND_INC(pcb->cwnd, pcb->mss);
	skiff__s.stats.tcp_partial_acks++;
}

/* ---- timers ------------------------------------------------------------------ */

bool skiff__recovery_pending(const struct tcp_pcb *pcb, uint32_t within_us)
{
	const struct skiff_sock *s = sock_of(pcb);

	if (!s)
		return false;
	return s->rec.reo_due_us ||
	       (s->rec.pto_due_us &&
		(int32_t)(s->rec.pto_due_us - skiff__now_us()) < (int32_t)within_us);
}

uint32_t skiff__recovery_pto_due(const struct tcp_pcb *pcb)
{
	const struct skiff_sock *s = sock_of(pcb);

	return s ? s->rec.pto_due_us : 0;
}

/* The tail loss probe (RFC 8985 7.3): new data if the peer's window takes
 * it (one segment past the congestion window), else the last segment
 * again. */
static void probe(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_recovery *r = &s->rec;
	struct tcp_seg *prev = NULL, *last;
	u32_t before = pcb->snd_nxt;

	if (!pcb->unacked || r->tlp_out || pcb->state < ESTABLISHED || (pcb->flags & TF_RTO))
		return;
	if (pcb->unsent) {
		tcpwnd_size_t cwnd = pcb->cwnd;

		pcb->cwnd = (tcpwnd_size_t)(pcb->snd_nxt - pcb->lastack + pcb->mss);
		tcp_output(pcb);
		pcb->cwnd = cwnd;
	}
	r->tlp_rexmit = false;
	if (pcb->snd_nxt == before) {
		for (last = pcb->unacked; last->next; last = last->next)
			prev = last;
		if (last->p->ref != 1) {
			/* still on the TX ring: look again shortly */
			r->pto_due_us = (skiff__now_us() + 1000u) | 1u;
			return;
		}
		requeue(pcb, prev, last);
		pcb->rttest = 0;
		tcp_output(pcb);
		r->tlp_rexmit = true;
	}
	r->tlp_out = true;
	r->tlp_end = pcb->snd_nxt;
	skiff__s.stats.tcp_tlp_sent++;
}

void skiff__recovery_timer(struct tcp_pcb *pcb)
{
	struct skiff_sock *s = sock_of(pcb);
	u32_t now = skiff__now_us();

	if (!s)
		return;
	if (s->rec.reo_due_us && !after_us(s->rec.reo_due_us, now)) {
		s->rec.reo_due_us = 0;
		if (skiff__recovery_run(s, pcb))
			tcp_output(pcb);
	}
	if (s->rec.pto_due_us && !after_us(s->rec.pto_due_us, now)) {
		s->rec.pto_due_us = 0;
		probe(s, pcb);
	}
}
