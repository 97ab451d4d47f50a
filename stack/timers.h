/* TCP timers that visit only connections with work (timers.c): lwIP's slow
 * and fast timers (patch 0004) visit the pcbs of an armed set instead of
 * every connection; TIME-WAIT pcbs expire in the order they entered it. */
#ifndef SKIFF_TIMERS_H
#define SKIFF_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#include "lwip/priv/tcp_priv.h"

/* skiff__timer_arm() when the pcb is not armed already (timers.c). */
void skiff__timer_arm_slow(struct tcp_pcb *pcb);

/* @p pcb may have timer work (a segment came or went, the application
 * queued data, closed, set a keepalive): it joins the armed set until a
 * visit finds it has none. O(1); idempotent. Inline: every segment in and
 * out arms its pcb, and nearly every time it is armed already (on the
 * fast list, and due at the next slow tick or being visited in this one). */
static inline void skiff__timer_arm(struct tcp_pcb *pcb)
{
	if (pcb && (pcb->skiff_flags & SKIFF_PCB_FLINKED) &&
	    (pcb->skiff_tlist == SKIFF_TL_VISIT ||
	     (pcb->skiff_tlist == SKIFF_TL_WHEEL &&
	      (s32_t)(pcb->skiff_due - (tcp_ticks + 1)) <= 0)))
		return;
	skiff__timer_arm_slow(pcb);
}

/* lwIP's lists (demux.c's notifications): a pcb entered TIME-WAIT, or
 * leaves whatever timer ring it is on. */
void skiff__timers_tw_linked(struct tcp_pcb *pcb);
void skiff__timers_unlinking(struct tcp_pcb *pcb, bool time_wait);
/* A FIN restarted a TIME-WAIT pcb's 2 MSL: it goes to the end of the order. */
void skiff__timers_tw_restarted(struct tcp_pcb *pcb);

/* The fine timer: @p pcb's recovery timer (skiff__recovery_timer()) runs
 * from the poll loop once skiff__now_us() reaches @p due_us, not at the
 * next fast tick; 0 takes it off. The earliest deadline may be passed
 * already: the loop's next round runs it. */
void skiff__timer_fine(struct tcp_pcb *pcb, uint32_t due_us);
extern struct tcp_pcb *skiff__fine_head;
extern uint32_t skiff__fine_next;
/* Visits the pcbs whose deadline is at or before @p now (the loop's
 * round, when skiff__fine_next has passed). */
void skiff__timers_fine_run(uint32_t now);

/* Pcbs in the armed set now (for tests and counters). */
uint32_t skiff__timers_armed(void);

#endif
