/**
 * @file
 * The demos' load generator and a plain echo server, both written once
 * against a table of POSIX-shaped socket calls so they run over Linux
 * kernel sockets (lg_kernel_ops) or over skiff's (lg_skiff_ops, in
 * skiff_ops.c).
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
 * Threading: one thread; everything runs from lg_run() / echod_run().
 */
#ifndef SKIFF_APPS_LOADGEN_H
#define SKIFF_APPS_LOADGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

/** Socket calls with the semantics of their POSIX namesakes (-1 and errno);
 * sockets are created with SOCK_NONBLOCK. */
struct lg_ops {
	const char *name;
	int (*socket)(int domain, int type, int protocol);
	int (*bind)(int fd, const struct sockaddr *addr, socklen_t len);
	int (*listen)(int fd, int backlog);
	int (*accept)(int fd, struct sockaddr *addr, socklen_t *len, int flags);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	int (*shutdown)(int fd, int how);
	int (*close)(int fd);
	int (*setsockopt)(int fd, int level, int name, const void *val, socklen_t len);
	int (*getsockopt)(int fd, int level, int name, void *val, socklen_t *len);
	int (*getsockname)(int fd, struct sockaddr *addr, socklen_t *len);
	int (*epoll_create)(int flags);
	int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
	int (*epoll_wait)(int epfd, struct epoll_event *events, int max, int timeout_ms);
};

extern const struct lg_ops lg_kernel_ops;

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
int lg_run(const struct lg_config *cfg, const struct lg_ops *ops, struct lg_result *out);

/** True when @p r is a PASS. */
bool lg_passed(const struct lg_result *r);

/** Print the summary lines and the verdict line ("verdict: PASS ..."). */
void lg_print(FILE *f, const char *what, const struct lg_result *r);

/* ---- echo server (plain recv/send, copies) ------------------------------ */

struct echod;

/**
 * Listen on @p addr over @p ops.
 * @return 0 or -errno (bind: -EADDRINUSE, ...)
 */
int echod_create(struct echod **out, const struct lg_ops *ops, const struct sockaddr *addr,
		 socklen_t len);
/** The port it listens on (host order), or 0. */
uint16_t echod_port(const struct echod *e);
/** Serve for up to @p timeout_ms (0: whatever is ready now). */
int echod_serve(struct echod *e, int timeout_ms);
/** Serve until *@p stop (may be NULL: forever, until killed). */
int echod_run(struct echod *e, volatile sig_atomic_t *stop);
void echod_destroy(struct echod *e);

#endif
