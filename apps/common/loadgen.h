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
	/** Connection i goes to dst's port + i % dst_ports (0: 1). */
	unsigned dst_ports;
	/** Connection i binds to src[i % n_src] (port 0) before connecting
	 * (n_src 0: it does not bind). Not copied: must outlive the load. */
	const struct sockaddr_storage *src;
	unsigned n_src;
	/** Sessions: a connection established waits, idle, for lg_go(). */
	bool hold;
	/** At most this many handshakes under way at once (0: no limit, every
	 * connect() as fast as the batches go). */
	unsigned max_connecting;
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
	char first_error[160];	    /**< what went wrong first, or "" */
	uint32_t conns_established; /**< connections that completed their handshake */
	/** CLOCK_MONOTONIC ns: the first connect(), and the handshake that
	 * made conns_established equal conns (0: not yet) */
	uint64_t t_start_ns, t_established_ns;
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

/** Connections opened between two loop rounds of a session. */
#define LG_OPEN_BATCH 256

struct lg;

/**
 * Starts a session (*@p out): checks @p cfg (copied, defaults filled in),
 * issues the first LG_OPEN_BATCH connects; lg_step() issues the rest.
 * @p res receives the figures as they grow (zeroed here) and must outlive
 * the session.
 * @return 0, -EINVAL for a bad config, -ENOMEM, or the -errno of
 *         ops->epoll_create()
 */
int lg_start(struct lg **out, const struct lg_config *cfg, const struct socktab *ops,
	     struct lg_result *res);

/**
 * One loop round of a session: the next batch of connects, a wait of up to
 * @p wait_ms for events (none when it issued some and more remain), the
 * events.
 * @return 1 while connections are open; 0 when none is (all done or
 *         failed); -ETIMEDOUT when nothing progressed for cfg.stall_ms
 *         (res->stalled); -errno when the wait failed
 */
int lg_step(struct lg *g, int wait_ms);

/** cfg.hold: starts the requests of the connections established so far
 * and of those still to come. Resets the stall clock. */
void lg_go(struct lg *g);

/** Each connection finishes the request in flight (one held idle has
 * none), then half-closes and waits for the server's FIN, as after its last
 * request; lg_step() until it returns 0 closes them all cleanly. Resets the
 * stall clock. */
void lg_wind_down(struct lg *g);

/** Marks the session stopped from outside (res->interrupted, first error
 * EINTR), as lg_run() does when cfg.stop is set: lg_finish() then counts
 * the connections still open as failed without an error of their own. */
void lg_interrupt(struct lg *g);

/**
 * Ends a session: closes what is still open (a connection not done counts
 * as failed), fills in the latencies and the elapsed time, frees @p g.
 * @return 0 when the result is a PASS (lg_passed()), -EIO otherwise
 */
int lg_finish(struct lg *g);

/** True when @p r is a PASS. */
bool lg_passed(const struct lg_result *r);

#endif
