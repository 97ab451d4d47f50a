/*
 * TCP timers that visit only connections with work, when it falls due.
 *
 * lwIP's tcp_slowtmr() and tcp_fasttmr() walk every connection every tick
 * (10 ms and 5 ms here), idle ones included. With patch 0004 they call
 * skiff's hooks instead, which visit pcbs with lwIP's own per-pcb bodies
 * (tcp_slowtmr_pcb(), tcp_fasttmr_pcb()), so lwIP's timing semantics
 * (retransmission, persist, keepalive, FIN-WAIT-2, SYN-RCVD and LAST-ACK
 * timeouts, delayed ACK) are unchanged.
 *
 * Slow timer: a wheel of slow ticks. After each visit a pcb is put in the
 * slot of the tick its next timer falls due (next_due(): its RTO from
 * lwIP's rtime and rto, its keepalive probe, its state's timeout, ... ),
 * or nowhere when it has none: an idle established connection costs
 * nothing per tick, and one waiting for an ACK costs one visit per RTO,
 * not one per tick. lwIP counts the retransmission timer in ticks
 * (rtime++ per visit); a visit after skipped ticks first adds them,
 * counted from the last look at the pcb (a visit, or the settling of an
 * arm below that found the timer restarted).
 *
 * Anything that may give a pcb timer work (it is linked on
 * tcp_active_pcbs, a segment arrives or leaves, the application sends,
 * reads, closes, sets an option) arms it: it joins a list, and the next
 * tick (fast or slow: every 5 ms) works its deadlines out from its state
 * then (settle_one(), as a visit does after lwIP's body) and puts it in
 * the wheel's slot of the earliest, or off the wheel, and on the fast list
 * if it needs the fast tick. A restart of the retransmission timer since
 * the last look (rtime changed; the ACK moved, which always restarts it;
 * lwIP's fast retransmit began; recovery.c said so) makes that tick the
 * baseline the ticks count from. Arming used to put the pcb at the next
 * slow tick for a visit with lwIP's body, and on the fast list: from
 * 10,000 connections on, where each sees about one request per tick, a
 * request and its answer cost two or three visits.
 *
 * Fast timer: a list of the pcbs the tick finds needing it (delayed
 * ACK, data refused, a pending FIN, RACK's reordering timer, a probe
 * timer due within two slow ticks); each fast tick visits them and keeps
 * those that still need it. A probe timer further off waits on the wheel,
 * which wakes its pcb a slow tick or more before it.
 *
 * Fine timer: deadlines in microseconds, which the 5 ms fast tick would
 * miss by up to a tick (RACK's reordering timer: a loss the SACKs revealed
 * a fraction of a millisecond ago). A list of the pcbs that have one and
 * the earliest of them; the poll loop looks at the clock only while the
 * list is not empty, visits the list when the earliest has passed and
 * bounds its sleep by it. Only the pcbs with such a deadline are on it,
 * few at a time (a deadline lasts one round trip).
 *
 * TIME-WAIT pcbs expire in the order they entered it (a FIN restarting one's
 * 2 MSL moves it to the end), so expiry looks only at the oldest; past
 * skiff_config.max_time_wait the oldest go early (counted).
 *
 * As a safety net each slow tick checks a few pcbs of tcp_active_pcbs in
 * turn and schedules any that have timer work and were not (counted in
 * tcp_timer_missed_arms: a bug if ever non-zero).
 *
 * Every list runs through the pcbs' own links (lwipopts.h); lwIP may free
 * any pcb (a callback closing another connection) while a tick walks, and
 * the unlink notification takes it off whatever list it is on.
 */
#include "engine.h"
#include "instance.h"
#include "recovery.h"
#include "listenq.h"
#include "pmtu.h"
#include "skiff_lwip_hooks.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"

/* Slow ticks on the wheel (41 s at 10 ms); later deadlines wait in their
 * slot for their lap. */
#define WHEEL_SLOTS 4096u
#define WHEEL_MASK  (WHEEL_SLOTS - 1)
/* Pcbs of tcp_active_pcbs the safety net checks per slow tick. */
#define SWEEP_PER_TICK 16u

static struct tcp_pcb *wheel[WHEEL_SLOTS];
static struct tcp_pcb *armed_head; /* armed since the last settle */
static struct tcp_pcb *visit_head;
static struct tcp_pcb *tw_head, *tw_tail;
static struct tcp_pcb *fast_head, *fast_visit;
static uint32_t n_scheduled, n_tw;
static struct tcp_pcb *current;	   /* being visited */
static bool current_gone;	   /* ... and lwIP freed it meanwhile */
static struct tcp_pcb *sweep;	   /* the safety net's place in tcp_active_pcbs */
static struct tcp_pcb *fine_visit; /* the fine timer's pcbs being visited */
struct tcp_pcb *skiff__fine_head;  /* the fine timer's list */
uint32_t skiff__fine_next;	   /* its earliest deadline (or earlier) */

enum { FINE_NONE, FINE_LISTED, FINE_VISIT };

/* ---- the lists ------------------------------------------------------------- */

static struct tcp_pcb **head_of(struct tcp_pcb *p)
{
	switch (p->skiff_tlist) {
	case SKIFF_TL_WHEEL:
		return &wheel[p->skiff_due & WHEEL_MASK];
	case SKIFF_TL_VISIT:
		return &visit_head;
	default:
		return &tw_head;
	}
}

static void tlist_del(struct tcp_pcb *p)
{
	if (p->skiff_tlist == SKIFF_TL_NONE)
		return;
	if (p->skiff_tprev)
		p->skiff_tprev->skiff_tnext = p->skiff_tnext;
	else
		*head_of(p) = p->skiff_tnext;
	if (p->skiff_tnext)
		p->skiff_tnext->skiff_tprev = p->skiff_tprev;
	else if (p->skiff_tlist == SKIFF_TL_TW)
		tw_tail = p->skiff_tprev;
	if (p->skiff_tlist == SKIFF_TL_TW)
		n_tw--;
	else
		n_scheduled--;
	p->skiff_tnext = p->skiff_tprev = NULL;
	p->skiff_tlist = SKIFF_TL_NONE;
}

static void tlist_push(struct tcp_pcb **head, struct tcp_pcb *p, enum skiff_tlist which)
{
	p->skiff_tprev = NULL;
	p->skiff_tnext = *head;
	if (*head)
		(*head)->skiff_tprev = p;
	*head = p;
	p->skiff_tlist = (u8_t)which;
	n_scheduled++;
}

/* Puts @p p in the wheel's slot for tick @p due. */
static void schedule(struct tcp_pcb *p, u32_t due)
{
	tlist_del(p);
	p->skiff_due = due;
	tlist_push(&wheel[due & WHEEL_MASK], p, SKIFF_TL_WHEEL);
}

static void fast_push(struct tcp_pcb **head, struct tcp_pcb *p, u8_t flags)
{
	p->skiff_fprev = NULL;
	p->skiff_fnext = *head;
	if (*head)
		(*head)->skiff_fprev = p;
	*head = p;
	p->skiff_flags |= flags;
}

static void fast_add(struct tcp_pcb *p)
{
	if (!(p->skiff_flags & SKIFF_PCB_FLINKED))
		fast_push(&fast_head, p, SKIFF_PCB_FLINKED);
}

/* Off the fast list, or off this tick's fast visits. */
static void fast_del(struct tcp_pcb *p)
{
	u8_t on = p->skiff_flags & (SKIFF_PCB_FLINKED | SKIFF_PCB_FVISIT);

	if (!on)
		return;
	if (p->skiff_fprev)
		p->skiff_fprev->skiff_fnext = p->skiff_fnext;
	else if (on & SKIFF_PCB_FVISIT)
		fast_visit = p->skiff_fnext;
	else
		fast_head = p->skiff_fnext;
	if (p->skiff_fnext)
		p->skiff_fnext->skiff_fprev = p->skiff_fprev;
	p->skiff_fnext = p->skiff_fprev = NULL;
	p->skiff_flags &= (u8_t)~on;
}

static void fine_del(struct tcp_pcb *p)
{
	if (p->skiff_fine == FINE_NONE)
		return;
	if (p->skiff_rprev)
		p->skiff_rprev->skiff_rnext = p->skiff_rnext;
	else if (p->skiff_fine == FINE_VISIT)
		fine_visit = p->skiff_rnext;
	else
		skiff__fine_head = p->skiff_rnext;
	if (p->skiff_rnext)
		p->skiff_rnext->skiff_rprev = p->skiff_rprev;
	p->skiff_rnext = p->skiff_rprev = NULL;
	p->skiff_fine = FINE_NONE;
}

static void fine_push(struct tcp_pcb **head, struct tcp_pcb *p, u8_t which)
{
	p->skiff_rprev = NULL;
	p->skiff_rnext = *head;
	if (*head)
		(*head)->skiff_rprev = p;
	*head = p;
	p->skiff_fine = which;
}

/* ---- when a pcb's timers fall due ------------------------------------------------- */

/* A probe timer further off than this waits on the wheel, which wakes
 * its pcb a slow tick or more before it (next_due()); nearer, it is the
 * fast tick's. Each answer of a request-response connection arms a probe
 * some 200 ms out (one segment out: the peer's delayed ACK, recovery.c),
 * and the request after it usually ends it well before: on the fast list
 * such a pcb was visited every 5 ms meanwhile, a cache miss each among
 * thousands. */
#define PTO_FAST_US (2u * TCP_SLOW_INTERVAL * 1000u)

/* The fast tick's work, a probe timer counting within @p pto_us. */
static bool needs_fast_within(const struct tcp_pcb *p, uint32_t pto_us)
{
	return (p->flags & (TF_ACK_DELAY | TF_CLOSEPEND)) || p->refused_data ||
	       skiff__recovery_pending(p, pto_us);
}

static bool needs_fast(const struct tcp_pcb *p)
{
	return needs_fast_within(p, PTO_FAST_US);
}

/* Keeps the earliest of the ticks offered, none earlier than @p next. */
static void earliest(u32_t *best, u32_t next, u32_t tick)
{
	if ((s32_t)(tick - next) < 0)
		tick = next;
	if (!*best || (s32_t)(tick - *best) < 0)
		*best = tick;
}

/*
 * The slow tick at or after @p now + 1 when lwIP's tcp_slowtmr_pcb() has
 * something to do for @p p, or 0 for never: what the body tests, in ticks.
 * Conditions "(tcp_ticks - tmr) > X" come true at tmr + X + 1.
 */
static u32_t next_due(const struct tcp_pcb *p, u32_t now)
{
	u32_t next = now + 1, best = 0, pto;

	if (p->state == CLOSED || p->state == LISTEN || p->state == TIME_WAIT)
		return 0;
	/* Counted tick by tick, as lwIP does: the persist timer, sends
	 * waiting for memory (the poll retry), refused data. */
	if (p->persist_backoff || (p->unsent && !p->unacked) || p->refused_data)
		return next;
	/* A resegmenting for a lower path MTU waits for a frame on the TX
	 * ring (pmtu.c): tried again at the next tick. */
	if (p->skiff_flags & SKIFF_PCB_RESEGMENT)
		return next;
	/* Counted from the last look (skiff_visited, when rtime was what it
	 * is: lwIP adds a tick per visit, and only a restart changes it in
	 * between), not from now: a pcb armed at every tick would otherwise
	 * never come due. */
	if (p->rtime >= 0)
		earliest(&best, next,
			 p->skiff_visited + (u32_t)(p->rto > p->rtime ? p->rto - p->rtime : 1));
	switch (p->state) {
	case SYN_RCVD:
		earliest(&best, next, p->tmr + SKIFF_SYN_RCVD_TIMEOUT_MS / TCP_SLOW_INTERVAL);
		break;
	case FIN_WAIT_2:
		if (p->flags & TF_RXCLOSED)
			earliest(&best, next,
				 p->tmr + TCP_FIN_WAIT_TIMEOUT / TCP_SLOW_INTERVAL + 1);
		break;
	case LAST_ACK:
		earliest(&best, next, p->tmr + 2 * TCP_MSL / TCP_SLOW_INTERVAL + 1);
		break;
	case ESTABLISHED:
	case CLOSE_WAIT:
		if (ip_get_option(p, SOF_KEEPALIVE)) {
			/* the next probe, or the end once every probe went */
			earliest(&best, next,
				 p->tmr +
					 (p->keep_idle + p->keep_cnt_sent * p->keep_intvl) /
						 TCP_SLOW_INTERVAL +
					 1);
			earliest(&best, next,
				 p->tmr +
					 (p->keep_idle + p->keep_cnt * p->keep_intvl) /
						 TCP_SLOW_INTERVAL +
					 1);
		}
		break;
	default:
		break;
	}
#if TCP_QUEUE_OOSEQ
	if (p->ooseq)
		earliest(&best, next, p->tmr + (u32_t)p->rto * TCP_OOSEQ_TIMEOUT);
#endif
	/* A probe timer: a slow tick before it at the latest, the fast
	 * tick's from there (needs_fast()). */
	pto = skiff__recovery_pto_due(p);
	if (pto) {
		int32_t left = (int32_t)(pto - skiff__now_us());
		u32_t ticks = left > 0 ? (u32_t)left / (TCP_SLOW_INTERVAL * 1000u) : 0;

		earliest(&best, next, now + (ticks ? ticks - 1 : 0));
	}
	return best;
}

/* ---- what the rest of the stack calls ------------------------------------------ */

void skiff__timer_arm_slow(struct tcp_pcb *pcb)
{
	/* Only a pcb on tcp_active_pcbs: lwIP may still send from one it
	 * took off (tcp_pcb_remove() flushes a delayed ACK) before freeing it. */
	if (!pcb || !(pcb->skiff_flags & SKIFF_PCB_HASHED) || pcb->state == TIME_WAIT)
		return;
	pcb->skiff_aprev = NULL;
	pcb->skiff_anext = armed_head;
	if (armed_head)
		armed_head->skiff_aprev = pcb;
	armed_head = pcb;
	pcb->skiff_armed |= SKIFF_ARMED;
}

static void armed_del(struct tcp_pcb *p)
{
	if (!(p->skiff_armed & SKIFF_ARMED))
		return;
	if (p->skiff_aprev)
		p->skiff_aprev->skiff_anext = p->skiff_anext;
	else
		armed_head = p->skiff_anext;
	if (p->skiff_anext)
		p->skiff_anext->skiff_aprev = p->skiff_aprev;
	p->skiff_anext = p->skiff_aprev = NULL;
	p->skiff_armed &= (u8_t)~SKIFF_ARMED;
}

/* The last look at @p p, at tick @p now: what a later visit counts skipped
 * ticks from, and what tells a restart of the retransmission timer. */
static void look(struct tcp_pcb *p, u32_t now)
{
	p->skiff_visited = now;
	p->skiff_rtime = p->rtime;
	p->skiff_lastack = p->lastack;
	p->skiff_armed &= (u8_t) ~(SKIFF_ARMED_RESTARTED | SKIFF_ARMED_BASE_INFR);
	if (p->flags & TF_INFR)
		p->skiff_armed |= SKIFF_ARMED_BASE_INFR;
}

/* lwIP restarted the retransmission timer since the last look: it set
 * rtime (to 0 when data is outstanding, else -1) on every ACK that moved
 * the left edge, on a send that found it stopped, and entering its fast
 * retransmit; recovery.c and the demux (an ACK in SYN-SENT) say so. */
static bool rtime_restarted(const struct tcp_pcb *p)
{
	return p->rtime != p->skiff_rtime || (p->skiff_armed & SKIFF_ARMED_RESTARTED) ||
	       (p->rtime >= 0 &&
		(p->lastack != p->skiff_lastack ||
		 ((p->flags & TF_INFR) && !(p->skiff_armed & SKIFF_ARMED_BASE_INFR))));
}

/* An armed pcb, its state settled; @p now is the tick its changes belong
 * to. */
static void settle_one(struct tcp_pcb *p, u32_t now)
{
	u32_t due;

	armed_del(p);
	if (needs_fast(p))
		fast_add(p);
	if (p->skiff_tlist == SKIFF_TL_VISIT)
		return; /* visited this very tick: it is scheduled after */
	if (p->skiff_tlist == SKIFF_TL_NONE || rtime_restarted(p))
		look(p, now);
	/* As a visit leaves it: in the slot of its next deadline, or off the
	 * wheel. */
	due = next_due(p, now);
	if (!due)
		tlist_del(p);
	else if (p->skiff_tlist != SKIFF_TL_WHEEL || p->skiff_due != due)
		schedule(p, due);
}

/* Every armed pcb, at tick @p now (the slow tick settles with tcp_ticks
 * advanced already: what was armed before it belongs to the tick
 * before). */
static void settle_at(u32_t now)
{
	struct tcp_pcb *p;

	while ((p = armed_head))
		settle_one(p, now);
}

uint32_t skiff__timers_armed(void)
{
	return n_scheduled;
}

void skiff__timers_tw_linked(struct tcp_pcb *pcb)
{
	armed_del(pcb);
	fast_del(pcb);
	tlist_del(pcb);
	pcb->skiff_tnext = NULL;
	pcb->skiff_tprev = tw_tail;
	if (tw_tail)
		tw_tail->skiff_tnext = pcb;
	else
		tw_head = pcb;
	tw_tail = pcb;
	pcb->skiff_tlist = SKIFF_TL_TW;
	n_tw++;
}

void skiff__timers_tw_restarted(struct tcp_pcb *pcb)
{
	if (pcb->skiff_tlist != SKIFF_TL_TW || pcb == tw_tail)
		return;
	tlist_del(pcb);
	skiff__timers_tw_linked(pcb);
}

void skiff__timers_unlinking(struct tcp_pcb *pcb, bool time_wait)
{
	(void)time_wait;
	if (pcb == current)
		current_gone = true;
	if (pcb == sweep)
		sweep = pcb->next;
	armed_del(pcb);
	fast_del(pcb);
	tlist_del(pcb);
	fine_del(pcb);
}

void skiff__timer_fine(struct tcp_pcb *pcb, uint32_t due_us)
{
	if (!due_us) {
		fine_del(pcb);
		return;
	}
	if (!(pcb->skiff_flags & SKIFF_PCB_HASHED) || pcb->state == TIME_WAIT)
		return;
	if (pcb->skiff_fine == FINE_NONE)
		fine_push(&skiff__fine_head, pcb, FINE_LISTED);
	pcb->skiff_fine_us = due_us;
	if (!skiff__fine_next || (int32_t)(due_us - skiff__fine_next) < 0)
		skiff__fine_next = due_us | 1u;
}

/* ---- the ticks ------------------------------------------------------------------- */

/* TIME-WAIT ends after min(skiff_config.time_wait_ms, 2 MSL) (lwIP's test,
 * tcp_slowtmr()), oldest first; past max_time_wait the oldest go now. */
static void expire_time_wait(void)
{
	struct skiff_stack *st = &skiff__s;
	u32_t ms = st->cfg.time_wait_ms < 2 * TCP_MSL ? st->cfg.time_wait_ms : 2 * TCP_MSL;
	u32_t limit = ms / TCP_SLOW_INTERVAL;

	while (tw_head) {
		if (n_tw > st->cfg.max_time_wait)
			st->stats.tcp_time_wait_recycled++;
		else if ((u32_t)(tcp_ticks - tw_head->tmr) <= limit)
			break;
		tcp_abort(tw_head); /* a TIME-WAIT pcb goes without a word */
	}
}

/* One slow visit of @p p at tick @p now: skipped ticks counted, lwIP's
 * body, the next deadline. */
static void slow_visit(struct tcp_pcb *p, u32_t now)
{
	u32_t skipped = now - p->skiff_visited - 1, due;

	if (skiff__listenq_expired(p))
		return;
	if (p->skiff_flags & SKIFF_PCB_RESEGMENT)
		skiff__pmtu_resegment(p);
	if (p->rtime >= 0 && p->rtime == p->skiff_rtime && (s32_t)skipped > 0) {
		s32_t r = p->rtime + (s32_t)(skipped < 0x7fff ? skipped : 0x7fff);

		p->rtime = (s16_t)(r < 0x7ffe ? r : 0x7ffe);
	}
	current = p;
	current_gone = false;
	if (tcp_slowtmr_pcb(p) || current_gone) {
		current = NULL;
		return;
	}
	current = NULL;
	look(p, now);
	due = next_due(p, now);
	if (due)
		schedule(p, due);
	else
		tlist_del(p);
	if (needs_fast(p))
		fast_add(p); /* a probe timer come near */
}

/* The safety net: a few pcbs of tcp_active_pcbs per tick, in turn. */
static void sweep_some(void)
{
	struct tcp_pcb *p = sweep ? sweep : tcp_active_pcbs;

	for (unsigned i = 0; i < SWEEP_PER_TICK && p; i++, p = p->next) {
		/* (A probe timer is missed only once it is due: until then
		 * the wheel may still be about to wake its pcb.) */
		bool missed = !(p->skiff_armed & SKIFF_ARMED) &&
			      ((p->skiff_tlist == SKIFF_TL_NONE && next_due(p, tcp_ticks)) ||
			       (!(p->skiff_flags & SKIFF_PCB_FLINKED) && needs_fast_within(p, 0)));

		if (missed) {
			skiff__s.stats.tcp_timer_missed_arms++;
			skiff__timer_arm(p);
		}
	}
	sweep = p;
}

void skiff__hook_slowtmr(void)
{
	u32_t now = tcp_ticks; /* tcp_slowtmr() advanced it already */
	struct tcp_pcb *p, *next;

	if (armed_head)
		settle_at(now - 1);
	expire_time_wait();
	/* This tick's slot: what is due now goes to the visit list (later
	 * laps stay). */
	for (p = wheel[now & WHEEL_MASK]; p; p = next) {
		next = p->skiff_tnext;
		if ((s32_t)(p->skiff_due - now) <= 0) {
			tlist_del(p);
			tlist_push(&visit_head, p, SKIFF_TL_VISIT);
		}
	}
	while ((p = visit_head)) {
		tlist_del(p);
		slow_visit(p, now);
	}
	sweep_some();
}

void skiff__hook_fasttmr(void)
{
	struct tcp_pcb *p;

	if (armed_head)
		settle_at(tcp_ticks);
	/* This tick's visits: the list as it stands (pcbs armed during them
	 * wait for the next tick). */
	while ((p = fast_head)) {
		fast_del(p);
		fast_push(&fast_visit, p, SKIFF_PCB_FVISIT);
	}
	while ((p = fast_visit)) {
		fast_del(p);
		if (!needs_fast(p))
			continue;
		current = p;
		current_gone = false;
		/* RACK's reordering timer and the tail loss probe (recovery.c). */
		if (skiff__recovery_pending(p, PTO_FAST_US))
			skiff__recovery_timer(p);
		if (!current_gone)
			tcp_fasttmr_pcb(p);
		if (!current_gone && needs_fast(p))
			fast_add(p);
		current = NULL;
	}
}

void skiff__timers_fine_run(uint32_t now)
{
	struct tcp_pcb *p, *next;
	uint32_t earliest = 0;

	/* What is due goes to the visits; the rest gives the next deadline. */
	for (p = skiff__fine_head; p; p = next) {
		next = p->skiff_rnext;
		if ((int32_t)(p->skiff_fine_us - now) <= 0) {
			fine_del(p);
			fine_push(&fine_visit, p, FINE_VISIT);
		} else if (!earliest || (int32_t)(p->skiff_fine_us - earliest) < 0) {
			earliest = p->skiff_fine_us;
		}
	}
	skiff__fine_next = earliest;
	/* A visit may free any pcb (unlinking takes it off these lists) or
	 * set a new deadline (skiff__timer_fine() keeps the earliest). */
	while ((p = fine_visit)) {
		fine_del(p);
		skiff__recovery_timer(p);
	}
}
