/* The engine's per-pcb state (the fields lwipopts.h adds to every pcb with
 * patch 0002): which of the engine's structures a pcb is on. Shared by
 * demux.c (the 4-tuple and listener tables), timers.c (the timer wheel,
 * the fast-timer list, the TIME-WAIT order) and listenq.c (half-open
 * lists), ooseq.c (out-of-order frame holders), mptcp.c (which pcbs have
 * MPTCP state, tested on every segment out without a call). */
#ifndef SKIFF_ENGINE_H
#define SKIFF_ENGINE_H

#define SKIFF_PCB_HASHED    0x01u /* in the 4-tuple table (active or TIME-WAIT) */
#define SKIFF_PCB_LISTENER  0x02u /* in the listener table */
#define SKIFF_PCB_FLINKED   0x04u /* on timers.c's fast-timer list */
#define SKIFF_PCB_HALF_OPEN 0x08u /* on its listener's half-open list */
#define SKIFF_PCB_FVISIT    0x10u /* on this fast tick's visits */
#define SKIFF_PCB_RESEGMENT 0x20u /* queued segments still to cut to a lower MSS (pmtu.c) */
#define SKIFF_PCB_OOSEQ	    0x40u /* on ooseq.c's list of out-of-order frame holders */
#define SKIFF_PCB_MPTCP	    0x80u /* has MPTCP state (mptcp.c's ext arg; never a listener) */

/* Which of timers.c's lists a pcb's skiff_tnext/tprev link it into. */
enum skiff_tlist {
	SKIFF_TL_NONE,
	SKIFF_TL_WHEEL, /* the slot of skiff_due */
	SKIFF_TL_VISIT, /* this tick's visits */
	SKIFF_TL_TW,	/* the TIME-WAIT order */
};

#endif
