/**
 * @file
 * What the demos print about skiff: the banner with the effective
 * configuration and the XDP mode actually obtained, a line of counters
 * every interval, and the totals at exit (skiff_get_stats() plus the
 * application's own counters).
 */
#ifndef SKIFF_APPS_REPORT_H
#define SKIFF_APPS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <skiff/skiff.h>

#include "app.h"

/** The server's own counters (the stack's come from skiff_get_stats()). */
struct app_counters {
	uint64_t conns_total; /* accepted */
	uint32_t conns_open;
	uint64_t upstream_total, upstream_failed; /* skiff-proxy's outgoing connections */
	uint64_t requests;			  /* receive calls that returned data */
	uint64_t bytes;				  /* payload bytes echoed or forwarded */
	uint64_t loans;				  /* payloads lent by skiff_zc_recv() */
	uint64_t loans_sent; /* of which sent on in their own frames (skiff_zc_loan_to_buf) */
	uint64_t recv_copied;			  /* receives that fell back to skiff_recv() */
	uint64_t zc_sends;			  /* skiff_zc_send() calls that succeeded */
	uint64_t zc_done;			  /* their ids completed */
	uint64_t zc_aborted;			  /* of which aborted (the connection died first) */
	uint64_t send_copied;			  /* sends that fell back to skiff_send() */
	uint64_t app_copied_bytes; /* bytes the application copied from a loan into a send buffer */
};

struct report {
	FILE *f;
	unsigned interval_s;
	enum app_kind kind;
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

/** Seconds on the monotonic clock. */
double report_now(void);

#endif
