/* Subprocesses and leftovers for the demo tests (demo_proc.h). */
#define _GNU_SOURCE
#include "demo_proc.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testbed.h"
#include "testkit.h"

#define OUT_MAX (256 * 1024)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first directory on the way to @p path that @p uid cannot search,
 * written to @p dir; false when every one is searchable. */
static bool blocked_dir(const char *path, uid_t uid, char *dir, size_t len)
{
	char buf[PATH_MAX];
	struct stat st;

	/* A path that does not resolve (a missing file) is walked as given. */
	if (!realpath(path, buf) && snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return false;
	if (buf[0] != '/')
		return false;
	for (char *slash = strchr(buf + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) {
			bool owner = st.st_uid == uid;
			mode_t x = owner ? S_IXUSR : S_IXOTH;

			if (!(st.st_mode & x)) {
				snprintf(dir, len, "%s (mode %04o, owner uid %u)", buf,
					 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
				return true;
			}
		}
		*slash = '/';
	}
	return false;
}

/*
 * An unprivileged run cannot reach a binary inside a clone under a 0700
 * directory (/root/skiff on Debian): it runs a copy in a world-readable
 * folder of its own instead, removed by proc_done(). The demos are single
 * files (the XDP program is embedded), so the copy runs as the original.
 */
static void stage_binary(struct proc *p, const char *path)
{
	char dst[PATH_MAX + 64];
	const char *base = strrchr(path, '/');
	int in, out;
	char buf[65536];
	ssize_t n;

	snprintf(p->stage_dir, sizeof(p->stage_dir), "/tmp/skiff-unpriv-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(p->stage_dir) != NULL);
	CU_ASSERT_FATAL(chmod(p->stage_dir, 0755) == 0);
	snprintf(dst, sizeof(dst), "%s/%s", p->stage_dir, base ? base + 1 : path);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		/* Not a path we can read (a name for $PATH): run it as it is. */
		rmdir(p->stage_dir);
		p->stage_dir[0] = '\0';
		return;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	CU_ASSERT_FATAL(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CU_ASSERT_FATAL(write(out, buf, (size_t)n) == n);
	close(in);
	CU_ASSERT_FATAL(close(out) == 0 && chmod(dst, 0755) == 0);
	p->staged = strdup(dst);
	CU_ASSERT_FATAL(p->staged != NULL);
}

static void unstage_binary(struct proc *p)
{
	if (p->staged) {
		unlink(p->staged);
		free(p->staged);
		p->staged = NULL;
	}
	if (p->stage_dir[0]) {
		rmdir(p->stage_dir);
		p->stage_dir[0] = '\0';
	}
}

void proc_start(struct proc *p, const char *ns, uid_t uid, char *const argv[])
{
	char *const *args = argv;
	char *copy[64];
	int fds[2];

	memset(p, 0, sizeof(*p));
	p->buf = calloc(1, OUT_MAX + 1);
	CU_ASSERT_FATAL(p->buf != NULL);
	if (uid) {
		stage_binary(p, argv[0]);
		if (p->staged) {
			unsigned i = 0;

			copy[i++] = p->staged;
			while (argv[i] && i < 63) {
				copy[i] = argv[i];
				i++;
			}
			copy[i] = NULL;
			args = copy;
		}
	}
	CU_ASSERT_FATAL(pipe2(fds, O_CLOEXEC) == 0);
	fflush(NULL);
	p->pid = fork();
	CU_ASSERT_FATAL(p->pid >= 0);
	if (p->pid == 0) {
		char dir[PATH_MAX + 64];
		int e;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		if (ns && tb_enter(ns) != 0) {
			printf("demo_proc: cannot enter namespace %s\n", ns);
			fflush(stdout);
			_exit(125);
		}
		if (uid && (setgid(uid) != 0 || setuid(uid) != 0)) {
			printf("demo_proc: cannot become uid %u: %s\n", (unsigned)uid,
			       strerror(errno));
			fflush(stdout);
			_exit(125);
		}
		/* The build tree (our working directory) may be out of reach too. */
		if (p->stage_dir[0] && chdir(p->stage_dir) != 0)
			_exit(125);
		execvp(args[0], args);
		e = errno;
		/* Say why, never a bare 127. */
		if (blocked_dir(args[0], uid ? uid : geteuid(), dir, sizeof(dir)))
			printf("demo_proc: cannot run %s as uid %u: %s: directory %s is not "
			       "searchable by that user\n",
			       args[0], (unsigned)getuid(), strerror(e), dir);
		else
			printf("demo_proc: cannot run %s as uid %u: %s\n", args[0],
			       (unsigned)getuid(), strerror(e));
		fflush(stdout);
		_exit(127);
	}
	close(fds[1]);
	p->out = fds[0];
	fcntl(p->out, F_SETFL, O_NONBLOCK);
}

/* Reads what is there, waiting up to @p ms for more. */
static void drain(struct proc *p, int ms)
{
	struct pollfd pfd = {.fd = p->out, .events = POLLIN};

	if (p->out < 0 || poll(&pfd, 1, ms) <= 0)
		return;
	for (;;) {
		ssize_t n = read(p->out, p->buf + p->len, OUT_MAX - p->len);

		if (n <= 0) {
			if (n == 0) {
				close(p->out);
				p->out = -1;
			}
			break;
		}
		p->len += (size_t)n;
		p->buf[p->len] = '\0';
	}
}

bool proc_wait_for(struct proc *p, const char *text, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;

	while (!strstr(p->buf, text) && now_ms() < end && p->out >= 0)
		drain(p, 50);
	return strstr(p->buf, text) != NULL;
}

void proc_wait_up(struct proc *p, const char *text, int timeout_ms, const char *what)
{
	if (proc_wait_for(p, text, timeout_ms))
		return;
	proc_finish(p, 1000);
	proc_show(p);
	tk_note("%s did not come up (no \"%s\" in %d ms)", what, text, timeout_ms);
	CU_FAIL_FATAL("a process did not come up");
}

void proc_finish(struct proc *p, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	int st = 0;

	while (waitpid(p->pid, &st, WNOHANG) == 0) {
		if (now_ms() > end) {
			tk_note("pid %d still running after %d ms: killing it", (int)p->pid,
				timeout_ms);
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			break;
		}
		drain(p, 20);
	}
	while (p->out >= 0)
		drain(p, 100);
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int proc_run(struct proc *p, uid_t uid, int timeout_ms, char *const argv[])
{
	proc_start(p, NULL, uid, argv);
	proc_finish(p, timeout_ms);
	return p->status;
}

void proc_show(const struct proc *p)
{
	fprintf(stderr, "---- output of pid %d (status %d) ----\n%s---- end ----\n", (int)p->pid,
		p->status, p->buf);
}

void proc_expect(const struct proc *p, int status, const char *text)
{
	if (p->status != status || (text && !strstr(p->buf, text)))
		proc_show(p);
	TK_ASSERT_EQ(p->status, status);
	if (text)
		CU_ASSERT(strstr(p->buf, text) != NULL);
}

void proc_done(struct proc *p)
{
	unstage_binary(p);
	if (p->out >= 0)
		close(p->out);
	p->out = -1;
	free(p->buf);
	p->buf = NULL;
}

/* How many of the XDP programs a run's banner named ("program id N") are
 * still loaded. Checking the run's own ids, not a machine-wide count,
 * keeps other tests' programs out of it. */
static unsigned programs_still_loaded(const char *output, unsigned *named)
{
	const char *key = "program id ";
	unsigned n = 0;

	*named = 0;
	for (const char *q = output ? strstr(output, key) : NULL; q; q = strstr(q + 1, key)) {
		unsigned long id = strtoul(q + strlen(key), NULL, 10);
		int fd;

		if (!id)
			continue;
		(*named)++;
		fd = bpf_prog_get_fd_by_id((uint32_t)id);
		if (fd >= 0) {
			n++;
			close(fd);
		}
	}
	return n;
}

void assert_nothing_left(pid_t pid, const char *output)
{
	long long end = now_ms() + 3000;
	unsigned progs, named;

	TK_ASSERT_EQ(tb_leftover_namespaces(pid), 0);
	TK_ASSERT_EQ(tb_leftover_links(pid), 0);
	if (geteuid() != 0)
		return;
	/* A program goes when its last reference does, a moment after. */
	while ((progs = programs_still_loaded(output, &named)) && now_ms() < end)
		usleep(50000);
	TK_ASSERT_EQ(progs, 0);
	/* A run on AF_XDP says which program it attached. */
	if (output && strstr(output, "XDP copy mode"))
		CU_ASSERT(named > 0);
}

void expect_embedded_pass(const char *prog, const char *extra, uid_t uid, const char *expect)
{
	char *argv[] = {(char *)prog, "--conns", "32", "--requests", "300", (char *)extra, NULL};
	struct proc p;

	proc_run(&p, uid, 90000, argv);
	proc_expect(&p, 0, "verdict: PASS 32 connections x 300 requests, 0 bad bytes\n");
	CU_ASSERT(strstr(p.buf, "requests/s") != NULL);
	CU_ASSERT(strstr(p.buf, "p99") != NULL);
	CU_ASSERT(strstr(p.buf, "totals after") != NULL);
	if (expect)
		CU_ASSERT(strstr(p.buf, expect) != NULL);
	/* Every payload moved in its own frame: lent, sent on with new
	 * headers in front, never copied by the stack or the demo. */
	CU_ASSERT(strstr(p.buf, "the app copied 0B\n") != NULL);
	CU_ASSERT(strstr(p.buf, "copies      stack rx 0B (zero-copy receive), tx ") != NULL);
	/* A resend may have to copy (its frame still on the ring); a clean
	 * run, where nothing was resent, copies nothing. On a busy machine a
	 * peer late by more than the probe timeout draws a (spurious) tail
	 * loss probe: it is counted, and the copy it may cost with it. */
	{
		const char *t = strstr(p.buf, "\n  tcp         retransmits ");
		unsigned long long rexmit = 0;

		CU_ASSERT_FATAL(t != NULL);
		CU_ASSERT(sscanf(t, "\n  tcp         retransmits %llu", &rexmit) == 1);
		if (rexmit == 0) {
			CU_ASSERT(strstr(p.buf,
					 "copies      stack rx 0B (zero-copy receive), tx 0B") !=
				  NULL);
		} else {
			tk_note("%llu segments resent (a busy machine): tx copies allowed", rexmit);
		}
	}
	assert_nothing_left(p.pid, p.buf);
	proc_done(&p);
}

void expect_bad_use(uid_t uid, const char *expect, char *const argv[])
{
	struct proc p;

	proc_run(&p, uid, 10000, argv);
	proc_expect(&p, 2, expect);
	proc_done(&p);
}
