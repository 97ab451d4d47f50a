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

/* skiff_armed: on the armed list; and what the timers saw at their last
 * look at the pcb (timers.c). */
#define SKIFF_ARMED	      0x01u
#define SKIFF_ARMED_RESTARTED 0x02u /* recovery.c restarted the retransmission timer */
#define SKIFF_ARMED_BASE_INFR 0x04u /* in lwIP's fast recovery at the last look */

/* @p pcb may have timer work (a segment came or went, the application
 * queued data, closed, set a keepalive): it joins the list of armed pcbs,
 * whose deadlines the next timer tick works out from their state then.
 * O(1); idempotent. Inline: every segment in and out arms its pcb, and
 * between two ticks nearly every time it is armed already. */
static inline void skiff__timer_arm(struct tcp_pcb *pcb)
{
	if (pcb && !(pcb->skiff_armed & SKIFF_ARMED))
		skiff__timer_arm_slow(pcb);
}

/* lwIP's retransmission timer restarted (rtime = 0) where the timers
 * cannot tell (recovery.c's resends, lwIP's SYN resent on an ACK in
 * SYN-SENT): the next look counts it from this tick. */
static inline void skiff__timer_rtime_restarted(struct tcp_pcb *pcb)
{
	pcb->skiff_armed |= SKIFF_ARMED_RESTARTED;
	skiff__timer_arm(pcb);
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
