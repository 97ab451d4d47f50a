/* Helpers for the stack tests: a stack per process over memlink or xsk,
 * self-checking byte streams, SHA-256 verified transfers, the idle check
 * every test ends with, and a child process for the far end. */
#ifndef SKIFF_STACK_TEST_H
#define SKIFF_STACK_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <skiff/skiff.h>
#include <skiff/umem.h>

#include "sha256.h"
#include "skiff_test.h"

#define ST_MIB (1024ull * 1024ull)

/* Addresses of the two memlink ends and of the veth tests. */
#define ST_ML_IP4_0 "10.9.0.1"
#define ST_ML_IP4_1 "10.9.0.2"
#define ST_ML_IP6_0 "fd09::1"
#define ST_ML_IP6_1 "fd09::2"

long long st_now_ms(void);

/* ---- byte streams ------------------------------------------------------- */

/* Byte @p off of stream @p seed, for any offset: both ends agree on every
 * byte without storing the stream. */
void st_pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);
/* Offset of the first byte of @p buf that is not the stream's, or -1. */
int64_t st_pattern_check(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len);

struct st_xfer {
	uint64_t bytes;
	uint64_t bad;	    /* bytes that differed from the pattern */
	uint8_t digest[32]; /* SHA-256 of what was sent or received */
	double seconds;
	int err; /* errno of a failed call, 0 */
};

/* Sends @p total bytes of stream @p seed on @p fd (blocking calls), or with
 * @p zc zero-copy buffers. */
int st_send_stream(int fd, uint64_t seed, uint64_t total, bool zc, struct st_xfer *x);
/* Receives until EOF (or @p total bytes when @p until_total), checking
 * every byte against stream @p seed; @p zc uses receive loans. */
int st_recv_stream(int fd, uint64_t seed, uint64_t total, bool until_total, bool zc,
		   struct st_xfer *x);
/* The digest stream @p seed of @p total bytes must have. */
void st_pattern_digest(uint64_t seed, uint64_t total, uint8_t out[32]);

/* ---- stacks -------------------------------------------------------------- */

/* skiff_config for memlink end @p end with the ST_ML_* addresses. */
struct skiff_config st_memlink_config(struct umem_memlink *w, unsigned end);
/* A wire for two stacks (large enough rings and frames for 2 MiB windows). */
struct umem_memlink *st_memlink_create(void);
/* The same with @p frames frames per end (few: frames run short). */
struct umem_memlink *st_memlink_create_frames(uint32_t frames);

/* Polls until no connection, segment, pbuf or frame is held by the stack
 * (TIME_WAIT included: tests configure it short), @p ms at most; true when
 * it got there. Says what is still held otherwise. */
/* How long a stack may take to go idle after a test: under seeded loss a
 * closing handshake can need several retransmission timeouts (1 s, 2 s,
 * 4 s, ...), and sanitizer builds run slower. Only spent when not idle. */
#define ST_IDLE_WAIT_MS 30000

bool st_wait_idle(int ms);
/* Every counter on one line (stderr), for diagnosis. */
void st_dump_stats(const char *label);
/* st_wait_idle() and the counters on the zero-copy path asserted. */
void st_assert_idle(void);

/* ---- the far end in a child process ---------------------------------------- */

/* Runs @p fn(arg) in a child; its return value is the exit code (0 = pass).
 * The child reports what it wants to through @p out (up to @p out_len bytes,
 * written before it exits) with st_child_report(). */
typedef int (*st_child_fn)(void *arg);
pid_t st_child_start(st_child_fn fn, void *arg);
/* Waits up to @p ms for the child (then kills it); its exit code, or 128 +
 * signal, or -1 on timeout. */
int st_child_wait(pid_t pid, int ms);
/* The child's report pipe: write end in the child, read end in the parent. */
void st_child_report(const void *data, size_t len);
bool st_child_read_report(void *data, size_t len, int ms);

/* A byte from parent to child ("go"): st_child_go() in the parent, and
 * st_child_wait_go() in the child, which returns false after @p ms. */
void st_child_go(void);
bool st_child_wait_go(int ms);

/* Logs from a child (stderr, prefixed). */
void st_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
