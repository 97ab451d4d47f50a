/* The engine's per-pcb state (the fields lwipopts.h adds to every pcb with
 * patch 0002): which of the engine's structures a pcb is on. Shared by
 * demux.c (the 4-tuple and listener tables), timers.c (the armed set and
 * the TIME-WAIT order) and guard.c (half-open lists). */
#ifndef SKIFF_ENGINE_H
#define SKIFF_ENGINE_H

#define SKIFF_PCB_HASHED    0x01u /* in the 4-tuple table (active or TIME-WAIT) */
#define SKIFF_PCB_LISTENER  0x02u /* in the listener table */
#define SKIFF_PCB_TLINKED   0x04u /* on one of timers.c's rings */
#define SKIFF_PCB_HALF_OPEN 0x08u /* on its listener's half-open list */

#endif
