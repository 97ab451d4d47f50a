/**
 * @file
 * skiff-bench's loss run (BENCH_RUN_LOSS, opt-in): one bulk transfer at a
 * time through a router namespace that impairs both directions
 * (tests/net/router.h: iptables statistic loss, TEE duplication, the
 * NFQUEUE helper's reordering and delay), in the topology
 *
 *     a (skiff, or Linux)  ---  r (router, impairs)  ---  b (Linux)
 *
 * Per case and repetition, three transfers of the same bytes: skiff in a
 * sending to Linux in b, Linux in a sending to Linux in b (the same
 * topology with the kernel's TCP at a), and Linux in b sending to skiff in
 * a. Every byte received is compared with the sender's (a seeded
 * pseudo-random pattern); a transfer that differs, falls short or does not
 * end in time is an error, never a figure.
 *
 * Built only with libnetfilter_queue (SKIFF_BENCH_LOSS, tests/net's
 * helper); without it the run says so and measures nothing.
 *
 * Threading: one thread per process, like the rest of skiff-bench.
 */
#ifndef SKIFF_APPS_BENCH_LOSS_H
#define SKIFF_APPS_BENCH_LOSS_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <skiff/skiff.h>

#include "bench.h"

/** One impairment, applied the same way in both directions. */
struct bench_loss_case {
	const char *name; /* as the `bench` lines spell it */
	const char *what;
	double drop;	      /* share of the packets lost (iptables statistic) */
	double dup;	      /* share duplicated (TEE) */
	uint32_t reorder_ppm; /* held back behind the next 3 (nfq_impair) */
	unsigned delay_ms;    /* one-way delay (nfq_impair) */
	double est_mib_s;     /* the plan's estimate: MiB/s of its slowest transfer */
};

#define BENCH_LOSS_CASES 5
extern const struct bench_loss_case bench_loss_cases[BENCH_LOSS_CASES];

/** The transfers of a case, in the order each repetition runs them. */
enum bench_loss_xfer {
	BL_SKIFF_SEND,	/* skiff in a -> Linux in b */
	BL_KERNEL_SEND, /* Linux in a -> Linux in b: the baseline */
	BL_SKIFF_RECV,	/* Linux in b -> skiff in a */
	BL_XFERS,
};

/** What the impairment did over one transfer, both directions added. */
struct bench_loss_path {
	uint64_t dropped, duplicated;	     /* iptables' counts */
	uint64_t queued, reordered, delayed; /* the helpers' */
	uint64_t late, late_max_us;	     /* released 1 ms or more after due */
	uint64_t requeue_failed, enobufs;    /* what a helper could not pass on */
	uint64_t kernel_queue_dropped, kernel_user_dropped;
};

/** A case's samples (seconds, one per good repetition) and medians. */
struct bench_loss_result {
	double secs[BL_XFERS][BENCH_MAX_REPS];
	unsigned n[BL_XFERS];
	unsigned failed[BL_XFERS]; /* transfers that were errors (corrupt, short, late) */
	double fig[BL_XFERS];	   /* medians; valid when have[] */
	bool have[BL_XFERS];	   /* every repetition good */
	char error[256];	   /* the first error */
	bool ran;		   /* the case was attempted */
};

#ifdef SKIFF_BENCH_LOSS
/**
 * Runs case @p k: builds the router, impairs it, runs @p plan->loss_reps
 * repetitions of the three transfers of @p plan->loss_bytes each (printing
 * a line per transfer, and the senders' and receivers' counters when
 * @p plan->verbose), tears everything down, and fills @p out.
 * @return 0 (every transfer good), -EIO (one or more were errors: out says
 *         which), -EINTR (stopped by a signal), or another -errno of the set-up
 */
int bench_loss_run(unsigned k, const struct bench_plan *plan, const struct bench_at *at,
		   struct bench_loss_result *out);

/**
 * The impairment helper (tests/net's nfq_impair) the loss run starts: an
 * installed skiff-bench's copy, found relative to the program
 * (SKIFF_LIBEXEC_FROM_BIN), else the one built beside it.
 * @return its path
 */
const char *bench_loss_helper(void);
#else
static inline const char *bench_loss_helper(void)
{
	return "none (built without libnetfilter_queue)";
}

static inline int bench_loss_run(unsigned k, const struct bench_plan *plan,
				 const struct bench_at *at, struct bench_loss_result *out)
{
	(void)k, (void)plan, (void)at;
	snprintf(out->error, sizeof(out->error),
		 "built without libnetfilter_queue (tests/net's helper)");
	return -EOPNOTSUPP;
}
#endif

#endif
