/*
 * Congestion control, per connection: Reno (RFC 5681) and CUBIC (RFC 9438)
 * with HyStart++ (RFC 9406) in its first slow start. lwIP calls in where it
 * would run its own Reno (patch 0012): when the connection is established,
 * on each ACK of new data, and at a fast retransmit or a retransmission
 * timeout. An MPTCP join runs its own, with the socket's algorithm
 * (skiff__mptcp_join_cc()), on lwIP's loss detection (skiff's recovery
 * is the socket's connection's only): its RTT samples come from its
 * segments' send times as lwIP takes the ACK. Any other pcb without a
 * socket (a handshake under way, a socket discarded) keeps lwIP's Reno,
 * done here as lwIP does it.
 *
 * cwnd and ssthresh stay lwIP's fields: skiff's loss recovery (recovery.c)
 * changes cwnd while it recovers and sets ssthresh when it begins. An
 * ssthresh that is not the one cc.c left there is such a congestion event:
 * the algorithm's state follows it at the next ACK (W_max from the window
 * before it), and recovery.c's values stand.
 *
 * HyStart++ needs RTT samples in microseconds, per ACK; lwIP times one
 * segment per round trip in 10 ms ticks. recovery.c times every segment
 * and hands each sample to skiff__cc_rtt_sample() as the ACK arrives,
 * before lwIP takes it.
 */
#include <errno.h>
#include <string.h>

#include "cc.h"
#include "instance.h"
#include "mptcp.h"
#include "skiff_lwip_hooks.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"

/* The counters are skiff_stats' tcp_cc_*, tcp_cubic_* and tcp_hystart_*. */
#define CC_STAT(name) (skiff__s.stats.name++)

/* ---- Reno ------------------------------------------------------------------- */

uint32_t skiff__reno_on_ack(uint32_t cwnd, uint32_t ssthresh, uint32_t *bytes_acked, uint32_t acked,
			    uint32_t mss, unsigned l)
{
	uint64_t w = cwnd, cap = (uint64_t)l * mss;

	if (cwnd < ssthresh) {
		w += acked < cap ? acked : cap;
	} else {
		*bytes_acked += acked;
		if (*bytes_acked >= cwnd) {
			*bytes_acked -= cwnd;
			w += mss;
		}
	}
	return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

uint32_t skiff__reno_ssthresh(uint32_t cwnd, uint32_t snd_wnd, uint32_t mss)
{
	uint32_t half = (cwnd < snd_wnd ? cwnd : snd_wnd) / 2;

	return half < 2 * mss ? 2 * mss : half;
}

/* ---- CUBIC ------------------------------------------------------------------- */

/* Newton's method from above, where it converges monotonically: K is
 * taken once per congestion event, and libm is not linked for it. */
static double cube_root(double x)
{
	double y, prev;

	if (x <= 0)
		return x < 0 ? -cube_root(-x) : 0;
	y = x > 1 ? x : 1;
	for (int i = 0; i < 200; i++) {
		prev = y;
		y = (2 * y + x / (y * y)) / 3;
		if (y >= prev)
			break;
	}
	return y;
}

double skiff__cubic_k(double w_max, double cwnd_epoch)
{
	return cube_root((w_max - cwnd_epoch) / SKIFF_CUBIC_C);
}

double skiff__cubic_window(const struct skiff_cubic *c, double t_s)
{
	double d = t_s - c->k;

	return SKIFF_CUBIC_C * d * d * d + c->w_max;
}

double skiff__cubic_on_loss(struct skiff_cubic *c, double cwnd, double flight, bool timeout)
{
	double ssthresh = flight * SKIFF_CUBIC_BETA;

	/* Fast convergence (4.7): a window that did not reach the last W_max
	 * means a new flow took its share; plateau lower, release bandwidth. */
	if (cwnd < c->w_max)
		c->w_max = cwnd * (1 + SKIFF_CUBIC_BETA) / 2;
	else
		c->w_max = cwnd;
	c->cwnd_prior = cwnd;
	if (timeout)
		c->w_max = 0;
	c->in_epoch = false;
	return ssthresh < 2 ? 2 : ssthresh;
}

void skiff__cubic_epoch(struct skiff_cubic *c, double cwnd, long long now_ms)
{
	if (c->w_max <= cwnd) {
		/* No plateau above: the curve starts convex from here. */
		c->w_max = cwnd;
		c->k = 0;
	} else {
		c->k = skiff__cubic_k(c->w_max, cwnd);
	}
	if (c->cwnd_prior <= 0)
		c->cwnd_prior = cwnd;
	c->w_est = cwnd;
	c->epoch_ms = now_ms;
	c->in_epoch = true;
}

double skiff__cubic_on_ack(struct skiff_cubic *c, double cwnd, double acked, long long now_ms,
			   double rtt_s)
{
	double t, target, alpha;

	if (!c->in_epoch)
		skiff__cubic_epoch(c, cwnd, now_ms);
	t = (double)(now_ms - c->epoch_ms) / 1000.0;
	/* Reno's window as it would be (4.3): alpha per window ACKed, 1 once
	 * it is back where the last reduction started. */
	alpha = c->w_est >= c->cwnd_prior ? 1.0 : SKIFF_CUBIC_ALPHA;
	c->w_est += alpha * acked / cwnd;
	if (skiff__cubic_window(c, t) < c->w_est) {
		CC_STAT(tcp_cubic_reno_friendly);
		return c->w_est > cwnd ? c->w_est : cwnd;
	}
	/* Concave and convex regions alike (4.4, 4.5): towards where the
	 * curve will be an RTT from now, at most half a window ahead. */
	target = skiff__cubic_window(c, t + rtt_s);
	if (target < cwnd)
		target = cwnd;
	else if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	return cwnd + (target - cwnd) / cwnd * acked;
}

/* ---- HyStart++ ------------------------------------------------------------------- */

static void round_start(struct skiff_hystart *h, uint32_t snd_nxt)
{
	h->window_end = snd_nxt;
	h->last_min_us = h->cur_min_us;
	h->cur_min_us = SKIFF_HYSTART_NO_RTT;
	h->samples = 0;
}

void skiff__hystart_init(struct skiff_hystart *h, uint32_t snd_nxt)
{
	memset(h, 0, sizeof(*h));
	h->phase = SKIFF_HS_SLOW_START;
	h->cur_min_us = SKIFF_HYSTART_NO_RTT;
	h->css_base_us = SKIFF_HYSTART_NO_RTT;
	round_start(h, snd_nxt);
}

bool skiff__hystart_on_ack(struct skiff_hystart *h, uint32_t ack, uint32_t snd_nxt)
{
	if (h->phase == SKIFF_HS_DONE || (int32_t)(ack - h->window_end) < 0)
		return false;
	round_start(h, snd_nxt);
	if (h->phase != SKIFF_HS_CSS)
		return false;
	if (h->css_rounds >= SKIFF_HYSTART_CSS_ROUNDS) {
		h->phase = SKIFF_HS_DONE;
		return true;
	}
	h->css_rounds++;
	return false;
}

void skiff__hystart_on_rtt(struct skiff_hystart *h, uint32_t rtt_us)
{
	uint32_t thresh;

	if (h->phase == SKIFF_HS_DONE)
		return;
	if (rtt_us < h->cur_min_us)
		h->cur_min_us = rtt_us;
	if (h->samples < UINT16_MAX)
		h->samples++;
	if (h->samples < SKIFF_HYSTART_N_RTT_SAMPLE)
		return;
	if (h->phase == SKIFF_HS_CSS) {
		if (h->cur_min_us < h->css_base_us) {
			h->css_base_us = SKIFF_HYSTART_NO_RTT;
			h->css_rounds = 0;
			h->phase = SKIFF_HS_SLOW_START;
		}
		return;
	}
	if (h->last_min_us == SKIFF_HYSTART_NO_RTT)
		return;
	thresh = h->last_min_us / SKIFF_HYSTART_MIN_RTT_DIVISOR;
	if (thresh > SKIFF_HYSTART_MAX_RTT_THRESH_US)
		thresh = SKIFF_HYSTART_MAX_RTT_THRESH_US;
	if (thresh < SKIFF_HYSTART_MIN_RTT_THRESH_US)
		thresh = SKIFF_HYSTART_MIN_RTT_THRESH_US;
	if ((uint64_t)h->cur_min_us >= (uint64_t)h->last_min_us + thresh) {
		h->css_base_us = h->cur_min_us;
		h->css_rounds = 1; /* the round it began in counts */
		h->phase = SKIFF_HS_CSS;
	}
}

uint32_t skiff__hystart_increase(const struct skiff_hystart *h, uint32_t acked, uint32_t mss,
				 unsigned l)
{
	uint64_t cap = (uint64_t)l * mss;
	uint32_t inc = acked < cap ? acked : (uint32_t)cap;

	return h->phase == SKIFF_HS_CSS ? inc / SKIFF_HYSTART_CSS_GROWTH_DIVISOR : inc;
}

/* ---- a connection's congestion control ----------------------------------------- */

static struct skiff_sock *sock_of(const struct tcp_pcb *pcb)
{
	struct skiff_sock *s = pcb->callback_arg;

	/* (A handshake under way points at its listener's socket.) */
	return s && s->pcb.tcp == pcb ? s : NULL;
}

/* The congestion control of @p pcb: its socket's (*@p sp), or an MPTCP
 * join's own (*@p sp NULL; stack/mptcp/), or none (lwIP's Reno). */
static struct skiff_cc *cc_of(const struct tcp_pcb *pcb, struct skiff_sock **sp)
{
	struct skiff_sock *s = sock_of(pcb);

	*sp = s;
	if (s)
		return &s->cc;
	return (pcb->skiff_flags & SKIFF_PCB_MPTCP) ? skiff__mptcp_join_cc(pcb) : NULL;
}

static const char *const algo_name[] = {
	[SKIFF_CC_RENO] = "reno",
	[SKIFF_CC_CUBIC] = "cubic",
};

static double srtt_s(const struct skiff_cc *cc, const struct tcp_pcb *pcb)
{
	if (cc->srtt_us)
		return cc->srtt_us / 1e6;
	return (double)(pcb->sa >> 3) * TCP_SLOW_INTERVAL / 1e3;
}

/* The connection (a socket's @p s, or a join's: NULL) starts (or
 * switches) running its algorithm from the window it has. HyStart++ only
 * while no congestion event happened. */
static void setup(struct skiff_cc *cc, struct skiff_sock *s, struct tcp_pcb *pcb)
{
	bool congested = cc->algo ? cc->congested : false;
	uint8_t want = cc->want;

	if (!cc->algo && !want && s && s->aq.listener)
		want = cc->want = s->aq.listener->cc.want; /* accepted: the listener's choice */
	memset(cc, 0, sizeof(*cc));
	cc->want = want;
	cc->algo = want ? want : SKIFF_CC_DEFAULT;
	cc->congested = congested;
	cc->cwnd = pcb->cwnd;
	cc->ssthresh = pcb->ssthresh;
	cc->cwnd_seg = pcb->mss ? (double)pcb->cwnd / pcb->mss : 0;
	skiff__hystart_init(&cc->hs, pcb->snd_nxt);
	if (cc->algo != SKIFF_CC_CUBIC || congested || pcb->cwnd >= pcb->ssthresh)
		cc->hs.phase = SKIFF_HS_DONE;
}

static void rtt_sample(struct skiff_cc *cc, uint32_t rtt_us)
{
	if (!rtt_us)
		rtt_us = 1;
	/* RFC 6298's smoothing, for CUBIC's W_cubic(t + RTT). */
	if (!cc->srtt_us)
		cc->srtt_us = rtt_us;
	else
		cc->srtt_us = (uint32_t)(((uint64_t)cc->srtt_us * 7 + rtt_us) / 8);
	if (cc->hs.phase != SKIFF_HS_DONE) {
		uint8_t was = cc->hs.phase;

		skiff__hystart_on_rtt(&cc->hs, rtt_us);
		if (was == SKIFF_HS_SLOW_START && cc->hs.phase == SKIFF_HS_CSS)
			CC_STAT(tcp_hystart_css);
		else if (was == SKIFF_HS_CSS && cc->hs.phase == SKIFF_HS_SLOW_START)
			CC_STAT(tcp_hystart_resumed);
	}
}

/* A congestion event: the algorithm's ssthresh; the caller sets cwnd. */
static void congestion(struct skiff_cc *cc, struct tcp_pcb *pcb, bool rto, bool same_episode)
{
	uint32_t mss = pcb->mss ? pcb->mss : 1;
	uint32_t flight = LWIP_MIN(pcb->cwnd, pcb->snd_wnd);

	cc->congested = true;
	cc->hs.phase = SKIFF_HS_DONE;
	/* What an undo restores: the state before the episode's first
	 * event, not before a later timeout of the same episode. */
	if (!same_episode) {
		cc->cubic_prior = cc->cubic;
		cc->undo_ok = true;
	}
	if (rto)
		CC_STAT(tcp_cc_rto_events);
	if (cc->algo == SKIFF_CC_RENO) {
		CC_STAT(tcp_cc_reno_events);
		pcb->ssthresh = skiff__reno_ssthresh(pcb->cwnd, pcb->snd_wnd, mss);
	} else {
		double cwnd = pcb->cwnd == cc->cwnd ? cc->cwnd_seg : (double)pcb->cwnd / mss;
		double ss;

		CC_STAT(tcp_cc_cubic_events);
		if (cwnd < cc->cubic.w_max && !rto)
			CC_STAT(tcp_cubic_fast_convergence);
		ss = skiff__cubic_on_loss(&cc->cubic, cwnd, (double)flight / mss, rto);
		pcb->ssthresh = (tcpwnd_size_t)(ss * mss);
	}
	cc->ssthresh = pcb->ssthresh;
}

/* Someone else set ssthresh (recovery.c at the start of its recovery): a
 * congestion event at the window cc.c last left; their values stand. */
static void congestion_seen(struct skiff_cc *cc, struct tcp_pcb *pcb)
{
	uint32_t mss = pcb->mss ? pcb->mss : 1;

	cc->congested = true;
	cc->hs.phase = SKIFF_HS_DONE;
	if (cc->algo == SKIFF_CC_RENO) {
		CC_STAT(tcp_cc_reno_events);
	} else {
		double before = cc->cwnd_seg > 0 ? cc->cwnd_seg : (double)cc->cwnd / mss;

		CC_STAT(tcp_cc_cubic_events);
		if (before < cc->cubic.w_max)
			CC_STAT(tcp_cubic_fast_convergence);
		skiff__cubic_on_loss(&cc->cubic, before, before, false);
	}
	cc->ssthresh = pcb->ssthresh;
}

static void cubic_acked(struct skiff_cc *cc, struct tcp_pcb *pcb, u32_t acked, unsigned l)
{
	uint32_t mss = pcb->mss ? pcb->mss : 1;
	double cwnd;

	/* This ACK's RTT samples came before it (recovery.c, as the ACK
	 * arrived): they count in the round it ends. */
	if (pcb->cwnd < pcb->ssthresh &&
	    skiff__hystart_on_ack(&cc->hs, pcb->lastack, pcb->snd_nxt)) {
		CC_STAT(tcp_hystart_exits);
		pcb->ssthresh = pcb->cwnd;
		cc->ssthresh = pcb->ssthresh;
	}
	if (pcb->cwnd < pcb->ssthresh) {
		if (cc->hs.phase == SKIFF_HS_CSS) {
			/* A quarter of slow start's growth, which is all the ACK
			 * covers: ackbatch.c's top-up of a stretch ACK beyond
			 * L segments is undone, the quarter counts it. */
			pcb->cwnd = cc->cwnd;
			TCP_WND_INC(pcb->cwnd,
				    skiff__hystart_increase(&cc->hs, acked, mss, UINT32_MAX));
		} else {
			TCP_WND_INC(pcb->cwnd, skiff__hystart_increase(&cc->hs, acked, mss, l));
		}
		cc->cwnd_seg = (double)pcb->cwnd / mss;
		return;
	}
	cc->hs.phase = SKIFF_HS_DONE; /* HyStart++ ends with slow start */
	cwnd = skiff__cubic_on_ack(&cc->cubic, cc->cwnd_seg, (double)acked / mss, skiff__now_ms(),
				   srtt_s(cc, pcb));
	if (cwnd * mss > (double)TCPWND_MAX)
		cwnd = (double)TCPWND_MAX / mss;
	cc->cwnd_seg = cwnd;
	pcb->cwnd = (tcpwnd_size_t)(cwnd * mss);
}

/* lwIP's own Reno, for a pcb without a socket. */
static void lwip_acked(struct tcp_pcb *pcb, u32_t acked)
{
	u32_t ba = pcb->bytes_acked;

	pcb->cwnd = skiff__reno_on_ack(pcb->cwnd, pcb->ssthresh, &ba, acked, pcb->mss,
				       (pcb->flags & TF_RTO) ? 1 : 2);
	pcb->bytes_acked = ba;
}

void skiff__hook_tcp_cc_init(struct tcp_pcb *pcb)
{
	struct skiff_sock *s;
	struct skiff_cc *cc = cc_of(pcb, &s);

	/* RFC 6928's initial window, ten segments (14,600 bytes), as Linux;
	 * lwIP's is RFC 3390's four. Not after a lost SYN or SYN-ACK (RFC
	 * 6928 2: one segment then). */
	if (!pcb->nrtx && pcb->mss) {
		uint32_t iw = LWIP_MIN(10u * pcb->mss, LWIP_MAX(2u * pcb->mss, 14600u));

		if (pcb->cwnd < iw)
			pcb->cwnd = (tcpwnd_size_t)iw;
	}

	if (cc)
		setup(cc, s, pcb);
}

/* @p acked bytes delivered, by an ACK or by a SACK outside a recovery;
 * slow start counts at most @p l segments of them (RFC 3465's L). @p s:
 * the socket whose @p cc it is (NULL: a join's, whose recovery is
 * lwIP's fast recovery). */
static void delivered(struct skiff_cc *cc, struct skiff_sock *s, struct tcp_pcb *pcb, u32_t acked,
		      unsigned l)
{
	if (!cc->algo)
		setup(cc, s, pcb); /* the ACK of a SYN, just before the init hook */
	if (pcb->ssthresh != cc->ssthresh)
		congestion_seen(cc, pcb);
	if (pcb->cwnd != cc->cwnd && pcb->mss)
		cc->cwnd_seg = (double)pcb->cwnd / pcb->mss; /* recovery.c or ackbatch.c moved it */
	/* No growth while recovering (RFC 5681 3.2, RFC 6582): recovery.c
	 * sizes the window (PRR), and ACKs of resent data time nothing. */
	if ((s && s->rec.active) || (pcb->flags & TF_INFR)) {
		if (s)
			skiff__recovery_prr_hold(s, pcb);
		cc->cwnd = pcb->cwnd;
		return;
	}
	if (!acked) {
		cc->cwnd = pcb->cwnd;
		return;
	}
	if (cc->algo == SKIFF_CC_CUBIC) {
		cubic_acked(cc, pcb, acked, l);
	} else {
		u32_t ba = pcb->bytes_acked;

		pcb->cwnd = skiff__reno_on_ack(pcb->cwnd, pcb->ssthresh, &ba, acked, pcb->mss, l);
		pcb->bytes_acked = ba;
	}
	cc->cwnd = pcb->cwnd;
}

/* A join's RTT sample, which recovery.c takes for a socket's connection
 * as the ACK arrives: the last segment this ACK (up to lastack, set
 * already) covers, timed from its only transmission. The segments are
 * still on the unacked queue here; lwIP frees them after the hook. */
static void join_rtt_sample(struct skiff_cc *cc, const struct tcp_pcb *pcb)
{
	const struct tcp_seg *last = NULL;

	for (const struct tcp_seg *g = pcb->unacked; g; g = g->next) {
		if (TCP_SEQ_GT(lwip_ntohl(g->tcphdr->seqno) + TCP_TCPLEN(g), pcb->lastack))
			break;
		last = g;
	}
	if (last && last->len &&
	    (last->skiff_sflags & (SKIFF_SEG_SENT | SKIFF_SEG_RETRANS)) == SKIFF_SEG_SENT)
		rtt_sample(cc, skiff__now_us() - last->skiff_xmit_us);
}

void skiff__hook_tcp_cc_acked(struct tcp_pcb *pcb, u32_t acked)
{
	struct skiff_sock *s;
	struct skiff_cc *cc = cc_of(pcb, &s);
	unsigned l = (pcb->flags & TF_RTO) ? 1 : SKIFF_CC_ABC_L;

	if (!cc) {
		lwip_acked(pcb, acked);
		return;
	}
	if (!s) {
		/* A join: its own CUBIC and HyStart++, lwIP's recovery. */
		if (!cc->algo)
			setup(cc, NULL, pcb);
		join_rtt_sample(cc, pcb);
		delivered(cc, NULL, pcb, acked, l);
		return;
	}
	/* What the SACKs delivered grew the window already. */
	acked -= LWIP_MIN(acked, s->rec.acked_grown);
	s->rec.acked_grown = 0;
	/* lwIP's ACK: L segments at most (ackbatch.c adds the rest of a
	 * stretch ACK in slow start). */
	delivered(cc, s, pcb, acked, l);
}

void skiff__cc_delivered(struct skiff_sock *s, struct tcp_pcb *pcb, uint32_t bytes)
{
	/* Counted in bytes, as ackbatch.c counts a stretch ACK. */
	delivered(&s->cc, s, pcb, bytes, UINT32_MAX / 2);
}

void skiff__hook_tcp_cc_loss(struct tcp_pcb *pcb, u8_t event)
{
	struct skiff_sock *s;
	struct skiff_cc *cc = cc_of(pcb, &s);
	bool rto = event == TCP_CC_LOSS_RTO, same_episode = false;

	if (rto && s && pcb->state >= ESTABLISHED)
		same_episode = skiff__recovery_rto(s, pcb);

	if (pcb->state < ESTABLISHED) {
		/* A lost SYN or SYN-ACK says nothing of the path's capacity
		 * (RFC 5681 3.1): one segment, ssthresh kept. */
		pcb->cwnd = pcb->mss;
		return;
	}
	if (!cc || !cc->algo) {
		pcb->ssthresh = skiff__reno_ssthresh(pcb->cwnd, pcb->snd_wnd, pcb->mss);
	} else {
		if (pcb->ssthresh != cc->ssthresh)
			congestion_seen(cc, pcb);
		congestion(cc, pcb, rto, same_episode);
	}
	/* Reno's inflation by the three segments the duplicate ACKs say left
	 * (lwIP's fast recovery then adds one per further duplicate, and
	 * deflates to ssthresh when it ends); a timeout restarts from one. */
	pcb->cwnd = rto ? pcb->mss : pcb->ssthresh + 3u * pcb->mss;
	if (cc && cc->algo) {
		cc->cwnd = pcb->cwnd;
		cc->cwnd_seg = (double)pcb->cwnd / (pcb->mss ? pcb->mss : 1);
	}
}

void skiff__cc_congestion(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	if (!s->cc.algo)
		setup(&s->cc, s, pcb);
	congestion(&s->cc, pcb, false, false);
	pcb->cwnd = pcb->ssthresh;
	s->cc.cwnd = pcb->cwnd;
	s->cc.cwnd_seg = (double)pcb->cwnd / (pcb->mss ? pcb->mss : 1);
}

void skiff__cc_undo(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	struct skiff_cc *cc = &s->cc;

	if (!cc->algo)
		return;
	if (cc->undo_ok)
		cc->cubic = cc->cubic_prior;
	cc->undo_ok = false;
	cc->cwnd = pcb->cwnd;
	cc->ssthresh = pcb->ssthresh;
	cc->cwnd_seg = (double)pcb->cwnd / (pcb->mss ? pcb->mss : 1);
}

void skiff__cc_rtt_sample(struct skiff_sock *s, uint32_t rtt_us)
{
	if (s->cc.algo)
		rtt_sample(&s->cc, rtt_us);
}

int skiff__cc_select(struct skiff_sock *s, const char *name)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	uint8_t algo = SKIFF_CC_UNSET;

	for (unsigned i = 0; i < sizeof(algo_name) / sizeof(algo_name[0]); i++)
		if (algo_name[i] && strcmp(name, algo_name[i]) == 0)
			algo = (uint8_t)i;
	if (!algo)
		return -ENOENT;
	s->cc.want = algo;
	if (s->cc.algo && s->cc.algo != algo && pcb && pcb->state >= ESTABLISHED)
		setup(&s->cc, s, pcb);
	return 0;
}

const char *skiff__cc_name(const struct skiff_sock *s)
{
	uint8_t algo = s->cc.algo ? s->cc.algo : s->cc.want ? s->cc.want : SKIFF_CC_DEFAULT;

	return algo_name[algo];
}
