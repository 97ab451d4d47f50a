/* Running the demos as subprocesses, and checking what a run left behind
 * (tests/apps). */
#ifndef SKIFF_TEST_DEMO_PROC_H
#define SKIFF_TEST_DEMO_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NOBODY 65534

struct proc {
	pid_t pid;
	int out; /* its stdout and stderr */
	char *buf;
	size_t len;
	int status;	    /* exit code, or 128 + signal */
	char *staged;	    /* an unprivileged run's copy of argv[0], or NULL */
	char stage_dir[64]; /* its folder ("" when none) */
};

/* Starts argv in network namespace @p ns (NULL: ours) as @p uid (0: as we
 * are), stdout and stderr into a pipe. As another uid it runs a copy of
 * argv[0] from a world-readable folder, so that a build tree under a 0700
 * directory (a clone in /root) stays out of the way; a binary that still
 * cannot run says why (path, directory, mode) in the output, exit 127. */
void proc_start(struct proc *p, const char *ns, uid_t uid, char *const argv[]);
/* Reads output until @p text shows up, the output ends or @p timeout_ms. */
bool proc_wait_for(struct proc *p, const char *text, int timeout_ms);
/* proc_wait_for(), or the test ends there: the process stopped, its output
 * shown, and "@p what did not come up" noted. */
void proc_wait_up(struct proc *p, const char *text, int timeout_ms, const char *what);
/* Waits for the exit (SIGKILL after @p timeout_ms); status into p->status. */
void proc_finish(struct proc *p, int timeout_ms);
/* proc_start() + proc_finish(); returns the status. */
int proc_run(struct proc *p, uid_t uid, int timeout_ms, char *const argv[]);
/* Prints the output on stderr (for failures). */
void proc_show(const struct proc *p);
/* Asserts exit status @p status and @p text (NULL: none) in the output;
 * shows the output when either is missing. */
void proc_expect(const struct proc *p, int status, const char *text);
/* Closes the output and removes a staged copy. */
void proc_done(struct proc *p);

/* Asserts that run @p pid left no namespace and no veth, and that none of
 * the XDP programs its @p output names ("program id N") is still loaded. */
void assert_nothing_left(pid_t pid, const char *output);

/* Runs @p prog's embedded default (32 connections x 300 requests, then
 * @p extra if not NULL) as @p uid and asserts a PASS, the figures, @p expect
 * (if not NULL) in the output, and nothing left behind. */
void expect_embedded_pass(const char *prog, const char *extra, uid_t uid, const char *expect);
/* Runs argv as @p uid and asserts exit code 2 and @p expect in the output. */
void expect_bad_use(uid_t uid, const char *expect, char *const argv[]);
#define BAD(uid, expect, ...) expect_bad_use(uid, expect, (char *const[]){__VA_ARGS__, NULL})

#endif
