/* The published counters' segment: its layout (the format skiff-stat and
 * any reader of <skiff/stat.h> read), its name, and the owner checks both
 * sides share. Internal to stack/: statpub.c writes it, statread.c reads it.
 *
 * A file DIR/skiff.<pid>.<n> (DIR: /dev/shm unless told otherwise; n: the
 * instance within the process, 0 while there is one per process) mapped by
 * its owner read-write and by readers read-only. The header is written
 * before the file gets its name (rename), so a reader never sees half of
 * it. The counters are a seqlock: @c seq is odd while the owner rewrites
 * them; a reader copies them and keeps the copy only if @c seq was even
 * and unchanged around it.
 */
#ifndef SKIFF_STATSEG_H
#define SKIFF_STATSEG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <skiff/skiff.h>

#define SKIFF_STATSEG_MAGIC   0x3154415453464b53ull /* "SKFSTAT1", little-endian */
#define SKIFF_STATSEG_VERSION 1u
#define SKIFF_STATSEG_PREFIX  "skiff."

enum skiff_statseg_state {
	SKIFF_STATSEG_RUNNING = 1,
	SKIFF_STATSEG_STOPPED = 2, /* skiff_stop() ran: the counters are final */
};

struct skiff_statseg {
	/* written once, before the file has its name */
	uint64_t magic;
	uint32_t version;
	uint32_t stats_offset; /* where the counters start */
	uint32_t stats_size;   /* sizeof(struct skiff_stats) of the owner */
	uint32_t pid;
	uint64_t proc_start; /* the owner's start in clock ticks since boot
			      * (/proc/PID/stat): tells it from a later process
			      * that got its pid */
	uint64_t started_ns; /* CLOCK_REALTIME at skiff_init() */
	uint64_t started_mono_ns;
	char program[16];
	char ifname[16]; /* "" for memlink */
	uint32_t backend;
	uint32_t queue; /* xsk queue, or the memlink end */
	uint32_t ipv4;	/* network byte order */
	uint32_t interval_ms;
	uint8_t ipv4_prefix, ipv6_prefix, xdp_zerocopy, pad0;
	uint8_t mac[6], pad1[2];
	uint8_t ipv6[16];
	uint32_t xdp_prog_id;
	uint32_t pad2;
	/* written every interval */
	uint64_t seq __attribute__((aligned(64)));
	uint64_t published_mono_ns;
	uint64_t publishes;
	uint32_t state; /* enum skiff_statseg_state */
	struct skiff_stats stats __attribute__((aligned(64)));
};

/* DIR for a segment: @p dir, else $SKIFF_STAT_DIR, else /dev/shm. */
const char *skiff__statseg_dir(const char *dir);
/* The pid in a segment's file name, or 0 when it is not one. */
pid_t skiff__statseg_pid_of(const char *name);
/* /proc/PID/stat's start time, 0 when it cannot be read. */
uint64_t skiff__statseg_proc_start(pid_t pid);
/* True while the process that wrote @p pid / @p proc_start still runs. */
bool skiff__statseg_owner_alive(pid_t pid, uint64_t proc_start);
/* Removes the segments in @p dir whose owners are gone; how many. */
unsigned skiff__statseg_sweep(const char *dir);

#endif
