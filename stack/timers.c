/*
 * TCP timers that visit only connections with work.
 *
 * lwIP's tcp_slowtmr() and tcp_fasttmr() walk every connection every tick
 * (10 ms and 5 ms here), idle ones included. With patch 0004 they call
 * skiff's hooks instead, which visit only the pcbs of an armed set with
 * lwIP's own per-pcb bodies (tcp_slowtmr_pcb(), tcp_fasttmr_pcb()), so
 * lwIP's timing semantics (retransmission, persist, keepalive, delayed
 * ACK, FIN-WAIT-2, SYN-RCVD and LAST-ACK timeouts) are unchanged for every
 * pcb that has them.
 *
 * A pcb joins the armed set when anything may give it timer work: it is
 * linked on tcp_active_pcbs, a segment arrives for it (demux.c) or leaves
 * (hooks.c), or the application sends, reads, closes or sets an option
 * (tcpglue.c and the socket calls). A visit that finds no timer work left
 * (needs_timer()) takes it out: an idle established connection costs
 * nothing per tick. As a safety net each slow tick also checks a few pcbs
 * of tcp_active_pcbs in turn and arms any that should have been (counted:
 * tcp_timer_missed_arms, which must stay 0).
 *
 * TIME-WAIT pcbs expire in the order they entered it (a FIN that restarts
 * one's 2 MSL moves it to the end), so expiry looks only at the oldest;
 * past skiff_config.max_time_wait the oldest go early (counted).
 *
 * The sets are rings through the pcbs' own links (skiff_tnext/tprev,
 * lwipopts.h) around sentinel pcbs: removal needs no list head, so lwIP may
 * free any pcb (a callback closing another connection) while a tick walks.
 */
#include "engine.h"
#include "listenq.h"
#include "instance.h"
#include "skiff_lwip_hooks.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"

/* Pcbs of tcp_active_pcbs checked per slow tick by the safety net. */
#define SWEEP_PER_TICK 16u

static struct tcp_pcb armed_ring, visit_ring, tw_ring;
static uint32_t n_timed, n_tw_ring;
static struct tcp_pcb *current; /* being visited */
static bool current_gone;	/* ... and lwIP freed it meanwhile */
static struct tcp_pcb *sweep;	/* the safety net's place in tcp_active_pcbs */

static void ring_init(struct tcp_pcb *r)
{
	if (!r->skiff_tnext)
		r->skiff_tnext = r->skiff_tprev = r;
}

static bool ring_empty(struct tcp_pcb *r)
{
	ring_init(r);
	return r->skiff_tnext == r;
}

static void ring_add_tail(struct tcp_pcb *r, struct tcp_pcb *p)
{
	ring_init(r);
	p->skiff_tnext = r;
	p->skiff_tprev = r->skiff_tprev;
	r->skiff_tprev->skiff_tnext = p;
	r->skiff_tprev = p;
	p->skiff_flags |= SKIFF_PCB_TLINKED;
}

static void ring_del(struct tcp_pcb *p)
{
	if (!(p->skiff_flags & SKIFF_PCB_TLINKED))
		return;
	p->skiff_tprev->skiff_tnext = p->skiff_tnext;
	p->skiff_tnext->skiff_tprev = p->skiff_tprev;
	p->skiff_tnext = p->skiff_tprev = NULL;
	p->skiff_flags &= (u8_t)~SKIFF_PCB_TLINKED;
}

/* Moves every pcb of @p from to the end of @p to. */
static void ring_splice(struct tcp_pcb *from, struct tcp_pcb *to)
{
	struct tcp_pcb *first, *last;

	if (ring_empty(from))
		return;
	ring_init(to);
	first = from->skiff_tnext;
	last = from->skiff_tprev;
	first->skiff_tprev = to->skiff_tprev;
	to->skiff_tprev->skiff_tnext = first;
	last->skiff_tnext = to;
	to->skiff_tprev = last;
	from->skiff_tnext = from->skiff_tprev = from;
}

/* Whether lwIP's timers have anything to do for @p p: what tcp_slowtmr()
 * and tcp_fasttmr() look at, erring on the side of a visit. */
static bool needs_timer(const struct tcp_pcb *p)
{
	if (p->state != ESTABLISHED && p->state != CLOSE_WAIT)
		return true; /* handshake, closing: timeouts run on tcp_ticks */
	if (p->unacked || p->unsent || p->refused_data || p->persist_backoff || p->rtime >= 0)
		return true;
#if TCP_QUEUE_OOSEQ
	if (p->ooseq)
		return true;
#endif
	if (p->flags & (TF_ACK_DELAY | TF_ACK_NOW | TF_CLOSEPEND | TF_NAGLEMEMERR))
		return true;
	return ip_get_option(p, SOF_KEEPALIVE) != 0;
}

void skiff__timer_arm(struct tcp_pcb *pcb)
{
	/* Only a pcb on tcp_active_pcbs: lwIP may still send from one it
	 * took off (tcp_pcb_remove() flushes a delayed ACK) before freeing it. */
	if (!pcb || (pcb->skiff_flags & SKIFF_PCB_TLINKED) ||
	    !(pcb->skiff_flags & SKIFF_PCB_HASHED))
		return;
	if (pcb->state == CLOSED || pcb->state == LISTEN || pcb->state == TIME_WAIT)
		return;
	ring_add_tail(&armed_ring, pcb);
	n_timed++;
}

uint32_t skiff__timers_armed(void)
{
	return n_timed;
}

void skiff__timers_tw_linked(struct tcp_pcb *pcb)
{
	ring_add_tail(&tw_ring, pcb);
	n_tw_ring++;
}

void skiff__timers_tw_restarted(struct tcp_pcb *pcb)
{
	if (!(pcb->skiff_flags & SKIFF_PCB_TLINKED))
		return;
	ring_del(pcb);
	ring_add_tail(&tw_ring, pcb);
}

void skiff__timers_unlinking(struct tcp_pcb *pcb, bool time_wait)
{
	if (pcb == current)
		current_gone = true;
	if (pcb == sweep)
		sweep = pcb->next;
	if (!(pcb->skiff_flags & SKIFF_PCB_TLINKED))
		return;
	ring_del(pcb);
	if (time_wait)
		n_tw_ring--;
	else
		n_timed--;
}

/* ---- the ticks ------------------------------------------------------------- */

/* TIME-WAIT ends after min(skiff_config.time_wait_ms, 2 MSL) (lwIP's test,
 * tcp_slowtmr()), oldest first; past max_time_wait the oldest go now. */
static void expire_time_wait(void)
{
	struct skiff_stack *st = &skiff__s;
	u32_t ms = st->cfg.time_wait_ms < 2 * TCP_MSL ? st->cfg.time_wait_ms : 2 * TCP_MSL;
	u32_t limit = ms / TCP_SLOW_INTERVAL;

	while (!ring_empty(&tw_ring)) {
		struct tcp_pcb *p = tw_ring.skiff_tnext;

		if (n_tw_ring > st->cfg.max_time_wait)
			st->stats.tcp_time_wait_recycled++;
		else if ((u32_t)(tcp_ticks - p->tmr) <= limit)
			break;
		tcp_abort(p); /* a TIME-WAIT pcb goes without a word */
	}
}

/* Visits every pcb of the armed set once with @p visit; those that still
 * have timer work stay armed. */
static void visit_armed(u8_t (*visit)(struct tcp_pcb *))
{
	ring_splice(&armed_ring, &visit_ring);
	while (!ring_empty(&visit_ring)) {
		struct tcp_pcb *p = visit_ring.skiff_tnext;

		ring_del(p);
		n_timed--;
		current = p;
		current_gone = false;
		/* (The visit itself may have armed it again: a segment sent.) */
		if (!visit(p) && !current_gone && !(p->skiff_flags & SKIFF_PCB_TLINKED) &&
		    needs_timer(p)) {
			ring_add_tail(&armed_ring, p);
			n_timed++;
		}
		current = NULL;
	}
}

static u8_t slow_visit(struct tcp_pcb *p)
{
	if (skiff__listenq_expired(p))
		return 1;
	return tcp_slowtmr_pcb(p);
}

static u8_t fast_visit(struct tcp_pcb *p)
{
	tcp_fasttmr_pcb(p);
	return 0;
}

/* The safety net: a few pcbs of tcp_active_pcbs per tick, in turn. */
static void sweep_some(void)
{
	struct tcp_pcb *p = sweep ? sweep : tcp_active_pcbs;

	for (unsigned i = 0; i < SWEEP_PER_TICK && p; i++, p = p->next) {
		if (!(p->skiff_flags & SKIFF_PCB_TLINKED) && needs_timer(p)) {
			skiff__s.stats.tcp_timer_missed_arms++;
			skiff__timer_arm(p);
		}
	}
	sweep = p;
}

void skiff__hook_slowtmr(void)
{
	expire_time_wait();
	visit_armed(slow_visit);
	sweep_some();
}

void skiff__hook_fasttmr(void)
{
	visit_armed(fast_visit);
}
