/**
 * @file
 * A peer process of the demos and the benchmark: forked by tb_spawn()
 * (into a namespace if asked; it dies with the parent and goes at
 * teardown), joined to the parent by a pipe each way that carries
 * fixed-size messages (each at most PIPE_BUF bytes, so it arrives whole),
 * and reaped.
 *
 * The parent tells the child what to do with runner_send(), which the
 * child waits for with runner_child_recv(); the child answers with
 * runner_child_send(), which the parent collects with runner_recv(). The
 * parent closing its ends (runner_stop()) is the child's cue to finish:
 * its runner_child_recv() returns -EPIPE. runner_interrupt() asks a child
 * to stop early and report what it did (runner_interrupted).
 *
 * Threading: one thread per process.
 */
#ifndef SKIFF_APPS_RUNNER_H
#define SKIFF_APPS_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** Zeroed before runner_start(); the fields are read-only to callers but
 * for @p stop. */
struct runner {
	pid_t pid;  /* the child; 0: none, or reaped */
	int status; /* how it ended once reaped: its exit code, or 128 + signal */
	/* Set by the caller: runner_recv() gives up (-EINTR) once *stop is. */
	volatile sig_atomic_t *stop;
	int (*main)(void *arg); /* NULL: not started */
	void *arg;
	int down[2]; /* parent to child */
	int up[2];   /* child to parent */
};

/** In the child: set when the parent called runner_interrupt(). */
extern volatile sig_atomic_t runner_interrupted;

/**
 * Forks the child (tb_spawn()) into @p ns (NULL: stays) to run
 * @p main(@p arg); it exits with what that returns.
 * @return 0 or -errno
 */
int runner_start(struct runner *r, const char *ns, int (*main)(void *arg), void *arg);

/** Parent: sends the child a message. @return 0 or -errno (-EPIPE: it is gone) */
int runner_send(struct runner *r, const void *msg, size_t len);

/**
 * Parent: the child's next message, waiting up to @p timeout_ms (0: a look).
 * @return 0; -ETIMEDOUT nothing came; -ECHILD the child closed its end
 *         without (it ended, or is ending); -EINTR *r->stop was set
 */
int runner_recv(struct runner *r, void *msg, size_t len, int timeout_ms);

/** Parent: true while the child has not exited (once it has, it is
 * reaped and r->status says how it ended). */
bool runner_alive(struct runner *r);

/** Parent: asks the child to stop early (SIGUSR1: runner_interrupted). */
void runner_interrupt(struct runner *r);

/** Parent: closes the pipes, gives the child @p grace_ms to exit on its
 * own, then stops it (tb_stop_child()). Accepts a runner never started. */
void runner_stop(struct runner *r, int grace_ms);

/**
 * Child: the parent's next message, waiting up to @p timeout_ms (negative:
 * for ever) and calling @p idle(@p arg) (may be NULL) while it waits.
 * @return 0; -ETIMEDOUT; -EPIPE the parent closed its end; -EINTR
 *         runner_interrupted is set
 */
int runner_child_recv(struct runner *r, void *msg, size_t len, int timeout_ms,
		      void (*idle)(void *arg), void *arg);

/** Child: sends the parent a message. @return 0 or -errno */
int runner_child_send(struct runner *r, const void *msg, size_t len);

#endif
