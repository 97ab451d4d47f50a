/**
 * @file
 * What the demos print: the banner with the effective configuration and
 * the XDP mode actually obtained, a line of counters every interval, the
 * totals at exit (skiff_get_stats() plus the application's own counters),
 * and the load generator's figures with the verdict.
 */
#ifndef SKIFF_APPS_REPORT_H
#define SKIFF_APPS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <skiff/skiff.h>

#include "app.h"
#include "loadgen.h"

struct report {
	FILE *f;
	unsigned interval_s;
	enum app_kind kind;
	bool mptcp;
	double t0, last_t;
	struct skiff_stats last;
	struct app_counters last_c;
};

/** Prints the banner: program, libskiff and lwIP versions, interface,
 * queue, the XDP mode asked for and got, addresses, port, upstream. */
void report_banner(FILE *f, const struct app_opts *o, const char *backend_line);

/** Starts the clock and takes the first snapshot; @p o->stats_s is the
 * interval. */
void report_start(struct report *r, FILE *f, const struct app_opts *o);

/** Prints a line of rates when an interval has passed since the last. */
void report_tick(struct report *r, const struct app_counters *c);

/** Prints the totals since report_start(). */
void report_totals(struct report *r, const struct app_counters *c);

/** Prints how long the stop took (@p secs; @p bound_ms its drain bound)
 * and the frame audit after skiff_stop() returned @p rc (0 or -errno):
 * "frames all returned", or which are still out. */
void report_stopped(struct report *r, double secs, int bound_ms, int rc);

/** Prints the load generator's figures of @p what and the verdict line
 * ("verdict: PASS ..." or "verdict: FAIL ..."). */
void report_load(FILE *f, const char *what, const struct lg_result *r);

/** Seconds on the monotonic clock. */
double report_now(void);

#endif
