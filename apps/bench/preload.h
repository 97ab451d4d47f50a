/**
 * @file
 * skiff-bench's preload run (BENCH_RUN_PRELOAD, opt-in): unmodified
 * servers (redis-server, nginx, iperf3 -s, memcached) under skiff-run
 * (docs/preload.md) against the same servers on the kernel's TCP, driven
 * by their own standard clients (redis-benchmark, wrk, iperf3, memcslap).
 *
 * Per repetition and server, one veth pair between two namespaces, as the
 * testbed makes it (TX checksum offload off at both ends):
 *
 *     server namespace: the kernel's 10.97.1.3, skiff's 10.97.1.2  ---  client: 10.97.1.1
 *
 * The server runs twice on that link, first on the kernel's address, then
 * under skiff-run on skiff's; each time the client runs the same commands
 * from the other namespace. Server pinned to the server's core, client to
 * the client's (sched_setaffinity, taskset). Figures are medians of the
 * repetitions; a metric with a repetition that failed has none.
 *
 * A server or client that is not installed is an error of its metrics,
 * never a silent skip.
 *
 * Threading: one thread; the servers and clients are child processes.
 */
#ifndef SKIFF_APPS_BENCH_PRELOAD_H
#define SKIFF_APPS_BENCH_PRELOAD_H

#include <stdbool.h>

#include "bench.h"

/** The figures of the preload run, in the order they are measured. */
enum bench_preload_metric {
	BP_REDIS_GET_P1,  /* redis-benchmark -c 50 -t get, no pipelining: req/s */
	BP_REDIS_GET_P16, /* the same with -P 16 */
	BP_REDIS_SET_P16, /* -t set -P 16 */
	BP_NGINX_WRK64,	  /* wrk -t1 -c64 on a small file: req/s */
	BP_IPERF3_GBPS,	  /* iperf3 -c, one stream, client to server: Gbit/s received */
	BP_MEMCACHED_OPS, /* memcslap, 16 threads of gets: gets/s */
	BP_METRICS,
};

/** Whose TCP the server runs on. */
enum bench_preload_side {
	BP_SKIFF,
	BP_KERNEL,
	BP_SIDES,
};

struct bench_preload_metric_info {
	const char *name; /* as the `bench` lines spell it: "redis.get_p1" */
	const char *unit;
	double target; /* the least skiff / kernel ratio the issue asks for */
};

extern const struct bench_preload_metric_info bench_preload_metrics[BP_METRICS];

/** The samples of each metric and side, and their medians. Zero it first. */
struct bench_preload_result {
	double v[BP_METRICS][BP_SIDES][BENCH_MAX_REPS];
	unsigned n[BP_METRICS][BP_SIDES];
	double fig[BP_METRICS][BP_SIDES]; /* medians; valid when have[] */
	bool have[BP_METRICS][BP_SIDES];  /* every repetition measured */
	char error[BP_METRICS][256];	  /* the first error of the metric */
	bool ran;
};

/**
 * Runs @p plan->preload_reps repetitions of every server on both sides,
 * printing a line per server and side, and fills @p out (medians).
 * @return 0 (every metric measured), -EIO (one or more were errors: out
 *         says which), -EINTR (stopped by a signal)
 */
int bench_preload_run(const struct bench_plan *plan, const struct bench_at *at,
		      struct bench_preload_result *out);

/** The printf format of figure @p v: whole numbers from 1000 up. */
const char *bench_preload_format(double v);

/** Prints "bench preload.<name><suffix> <v> <unit>". */
void bench_preload_line(const char *name, const char *suffix, double v, const char *unit);

/** The plan's estimate of the preload run, in seconds. */
double bench_estimate_preload_s(const struct bench_plan *plan);

#endif
