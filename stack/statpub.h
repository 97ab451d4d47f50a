/* Published counters (statpub.c): the instance's struct skiff_stats in a
 * shared-memory segment that skiff-stat and <skiff/stat.h> read, refreshed
 * from the poll loop's periodic turn (loop.c), never per packet. */
#ifndef SKIFF_STATPUB_H
#define SKIFF_STATPUB_H

#include <stdint.h>

#ifndef SKIFF_STAT_INTERVAL_MS_DEFAULT
#define SKIFF_STAT_INTERVAL_MS_DEFAULT 100u
#endif

/* Creates the segment (unless the config or $SKIFF_STAT turn it off) and
 * publishes once; removes dead owners' segments found beside it. A
 * failure is said on stderr and leaves the instance unpublished. */
void skiff__statpub_open(void);
/* Publishes if the interval has passed at @p now_ns (CLOCK_MONOTONIC). */
void skiff__statpub_tick(uint64_t now_ns);
/* The final counters of skiff_stop(), marked stopped. */
void skiff__statpub_stopped(void);
/* Removes the segment (skiff_fini()). */
void skiff__statpub_close(void);

#endif
