/**
 * @file
 * The demos' and the benchmark's load generator, written once against a
 * socket table (socktab.h), so that it runs over Linux kernel sockets or
 * over skiff's.
 *
 * The load generator is closed loop: each of N connections sends a request
 * of a random size, waits for all of it to come back, checks every byte,
 * and only then sends the next, M times; then it half-closes and expects
 * the server to close too (a byte after that counts as bad). Payloads are
 * windows into one seeded random pattern, at a random offset per request,
 * so a byte lost, duplicated, reordered or taken from another connection
 * shows as a mismatch. Sizes and offsets follow the seed: a run can be
 * repeated exactly.
 *
 * Threading: one thread; everything runs from lg_run().
 */
#ifndef SKIFF_APPS_LOADGEN_H
#define SKIFF_APPS_LOADGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "socktab.h"

struct lg_config {
	struct sockaddr_storage dst; /**< the server */
	socklen_t dst_len;
	unsigned conns;	   /**< concurrent connections (default 64) */
	unsigned requests; /**< per connection (default 1000) */
	uint32_t min_size; /**< request size range, bytes (default 1 .. 16384) */
	uint32_t max_size;
	uint64_t seed; /**< 0: 1 */
	int stall_ms;  /**< give up after this long without progress (default 10000) */
	int wait_ms;   /**< longest wait per loop round (0: 100; negative: never wait) */
	/** Called once per loop round (another service sharing the thread). */
	void (*tick)(void *arg);
	void *tick_arg;
	/** Set from outside (a signal) to stop early. */
	volatile sig_atomic_t *stop;
};

/** What a run did; plain data, so a child can send it up a pipe. */
struct lg_result {
	uint64_t requests_done, requests_planned;
	uint64_t bytes_sent, bytes_verified, bad_bytes;
	uint32_t conns, conns_done, conns_failed;
	double elapsed_s;
	double lat_p50_us, lat_p99_us, lat_max_us, lat_mean_us;
	bool stalled, interrupted;
	int first_errno;
	char first_error[160]; /**< what went wrong first, or "" */
};

/** Fill @p cfg's defaults for zero fields. */
void lg_config_defaults(struct lg_config *cfg);

/**
 * Run the load against @p cfg->dst over @p ops.
 * @return 0 when every request came back intact and every connection
 *         closed cleanly (the verdict is PASS), -EIO otherwise (details in
 *         @p out), -EINVAL for a bad config, -ENOMEM
 */
int lg_run(const struct lg_config *cfg, const struct socktab *ops, struct lg_result *out);

/** True when @p r is a PASS. */
bool lg_passed(const struct lg_result *r);

#endif
