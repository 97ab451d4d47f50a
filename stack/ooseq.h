/* The out-of-order queues' frame budget (ooseq.c). */
#ifndef SKIFF_OOSEQ_H
#define SKIFF_OOSEQ_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/arch.h"

struct tcp_pcb;

/* lwIP's TCP_OOSEQ_WITHIN_LIMITS (patch 0011): @p pcb's out-of-order
 * queue just grew; non-zero when it is within its budget (counted). */
int skiff__ooseq_within(struct tcp_pcb *pcb);
/* lwIP's TCP_OOSEQ_PBUFS_LIMIT: how many frames @p pcb's queue may keep.
 * Both are declared in lwipopts.h too. */
u16_t skiff__ooseq_limit(struct tcp_pcb *pcb);
/* @p pcb leaves the active list (demux.c's unlink notification). */
void skiff__ooseq_unlinking(struct tcp_pcb *pcb);
/* The application closed @p pcb's socket: its out-of-order data goes. */
void skiff__ooseq_drop(struct tcp_pcb *pcb);
/* Once per poll round: re-count the holders now and then; with
 * @p pressure (frames short), drop every out-of-order queue. */
void skiff__ooseq_relieve(bool pressure);
/* Frames in out-of-order queues (the gauge). */
uint32_t skiff__ooseq_frames(void);

#endif
