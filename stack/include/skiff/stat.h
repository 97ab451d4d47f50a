/**
 * @file
 * Reading a running skiff instance's counters from another process.
 *
 * Every instance publishes its struct skiff_stats in a shared-memory
 * segment, DIR/skiff.<pid>.<n> (DIR: skiff_config.stat_dir, else
 * $SKIFF_STAT_DIR, else /dev/shm), refreshed every
 * skiff_config.stat_interval_ms (default 100) by its poll loop, marked
 * stopped at skiff_stop() and removed at skiff_fini() (docs/observability.md).
 * These calls list those segments and read them read-only; they never
 * block or slow the instance. A segment whose owner died (SIGKILL, a crash)
 * is reported as such and removed by whoever finds it: these calls, or the
 * next skiff_init() on the machine.
 *
 * Threading: the calls keep no global state; a reader belongs to one
 * thread at a time.
 */
#ifndef SKIFF_STAT_H
#define SKIFF_STAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <skiff/export.h>
#include <skiff/skiff.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a segment says about its instance. */
struct skiff_stat_instance {
	pid_t pid;
	char program[16]; /**< the owner's name (comm) */
	enum skiff_backend backend;
	char ifname[16]; /**< "" for memlink */
	uint32_t queue;	 /**< the xsk queue, or the memlink end */
	uint32_t ipv4;	 /**< network byte order; 0: none */
	uint8_t ipv4_prefix;
	uint8_t ipv6[16]; /**< all zero: none */
	uint8_t ipv6_prefix;
	uint8_t mac[6];
	bool xdp_zerocopy;
	uint32_t xdp_prog_id;
	uint64_t started_ns;  /**< CLOCK_REALTIME when skiff_init() ran */
	uint64_t uptime_ms;   /**< since skiff_init(), at the last publication */
	uint64_t age_ms;      /**< since the last publication (the owner polls rarely
				   * when this grows past the interval) */
	uint32_t interval_ms; /**< the owner's publication interval */
	uint64_t publishes;
	bool stopped;	/**< skiff_stop() ran: the counters are final */
	bool alive;	/**< the owner still runs */
	char path[256]; /**< the segment */
};

/**
 * List the instances publishing in @p dir (NULL: $SKIFF_STAT_DIR, else
 * /dev/shm), up to @p max of them, by pid. Segments of owners that died
 * are removed (where this process may) and not listed; @p dead (may be
 * NULL) receives how many were found.
 * @return how many instances there are (may exceed @p max: only @p max are
 *         written), or -1 and errno (the directory's opendir() error)
 */
SKIFF_API int skiff_stat_list(const char *dir, struct skiff_stat_instance *out, int max,
			      unsigned *dead);

/** A read-only view of one instance's segment. */
struct skiff_stat_reader;

/**
 * Attach to the instance of process @p pid in @p dir (NULL: as
 * skiff_stat_list()).
 * @return 0, or -1 and errno: ENOENT (no such instance), ESRCH (its owner
 *         died: the segment is removed, if this process may), EPROTO (not a
 *         segment of this format or version), ENOMEM, or the error of
 *         open/mmap
 */
SKIFF_API int skiff_stat_open(struct skiff_stat_reader **out, const char *dir, pid_t pid);

/**
 * A consistent copy of the instance's counters (@p stats) and of what its
 * segment says (@p info; may be NULL). Once the instance has stopped
 * (info->stopped) the counters are final, and they stay readable through
 * this reader after skiff_fini() removed the segment and after the owner
 * exited.
 * @return 0, or -1 and errno: ESRCH (the owner died without stopping skiff;
 *         the segment is removed if this process may), EAGAIN (the owner
 *         was rewriting the counters every time this looked: try again)
 */
SKIFF_API int skiff_stat_read(struct skiff_stat_reader *r, struct skiff_stats *stats,
			      struct skiff_stat_instance *info);

/** Detach; accepts NULL. */
SKIFF_API void skiff_stat_close(struct skiff_stat_reader *r);

/** One field of struct skiff_stats, for readers that print them all. */
struct skiff_stat_field {
	const char *name;  /**< as in struct skiff_stats */
	const char *group; /**< "link", "drops", "copies", "tcp", "hostile", "zerocopy",
			    * "frames", "xdp", "tables", "lwip" */
	uint16_t offset;
	uint8_t size; /**< 4 or 8 */
	bool gauge;   /**< a level now (frames, connections), not a count since
			    * the start */
};

/** Every field of struct skiff_stats, in the struct's order.
 * @param n receives how many */
SKIFF_API const struct skiff_stat_field *skiff_stat_fields(unsigned *n);

/** A field's value in @p s. */
static inline uint64_t skiff_stat_value(const struct skiff_stats *s,
					const struct skiff_stat_field *f)
{
	const uint8_t *p = (const uint8_t *)s + f->offset;

	return f->size == 8 ? *(const uint64_t *)(const void *)p
			    : *(const uint32_t *)(const void *)p;
}

#ifdef __cplusplus
}
#endif

#endif
