/* Peer processes of the demos and the benchmark (runner.h). */
#define _GNU_SOURCE
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testbed.h"

/* Longest single wait in a poll loop: how soon a stop flag is seen. */
#define SLICE_MS 100

volatile sig_atomic_t runner_interrupted;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void on_interrupt(int sig)
{
	(void)sig;
	runner_interrupted = 1;
}

/* In the child: its ends of the pipes only, SIGUSR1 armed, then main. */
static int child_main(void *arg)
{
	struct runner *r = arg;
	struct sigaction sa;

	close_fd(&r->down[1]);
	close_fd(&r->up[0]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a wait returns EINTR and its loop sees the flag. */
	sigaction(SIGUSR1, &sa, NULL);
	return r->main(r->arg);
}

int runner_start(struct runner *r, const char *ns, int (*main)(void *arg), void *arg)
{
	pid_t pid;
	int rc;

	r->pid = 0;
	r->status = 0;
	r->main = main;
	r->arg = arg;
	r->down[0] = r->down[1] = r->up[0] = r->up[1] = -1;
	if (pipe2(r->down, O_CLOEXEC) != 0 || pipe2(r->up, O_CLOEXEC) != 0) {
		rc = -errno;
		goto out_stop;
	}
	pid = tb_spawn(ns, child_main, r);
	if (pid < 0) {
		rc = (int)pid;
		goto out_stop;
	}
	r->pid = pid;
	close_fd(&r->down[0]);
	close_fd(&r->up[1]);
	return 0;

out_stop:
	runner_stop(r, 0);
	return rc;
}

/* Reads a whole message: 0, or -1 at end of file or on a short read. */
static int read_msg(int fd, void *msg, size_t len)
{
	ssize_t n;

	do {
		n = read(fd, msg, len);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -1;
}

static int write_msg(int fd, const void *msg, size_t len)
{
	ssize_t n;

	do {
		n = write(fd, msg, len);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? -errno : -EIO;
}

int runner_send(struct runner *r, const void *msg, size_t len)
{
	return write_msg(r->down[1], msg, len);
}

int runner_child_send(struct runner *r, const void *msg, size_t len)
{
	return write_msg(r->up[1], msg, len);
}

int runner_recv(struct runner *r, void *msg, size_t len, int timeout_ms)
{
	struct pollfd pfd = {.fd = r->up[0], .events = POLLIN};
	long long end = now_ms() + timeout_ms;

	for (;;) {
		long long left = end - now_ms();
		int k = poll(&pfd, 1, left <= 0 ? 0 : left < SLICE_MS ? (int)left : SLICE_MS);

		if (k > 0)
			return read_msg(r->up[0], msg, len) ? -ECHILD : 0;
		if (r->stop && *r->stop)
			return -EINTR;
		if (k < 0 && errno != EINTR)
			return -errno;
		if (now_ms() >= end)
			return -ETIMEDOUT;
	}
}

int runner_child_recv(struct runner *r, void *msg, size_t len, int timeout_ms,
		      void (*idle)(void *arg), void *arg)
{
	struct pollfd pfd = {.fd = r->down[0], .events = POLLIN};
	long long end = now_ms() + timeout_ms;

	for (;;) {
		int k;

		if (runner_interrupted)
			return -EINTR;
		if (idle)
			idle(arg);
		k = poll(&pfd, 1, idle ? 1 : 10);
		if (k > 0)
			return read_msg(r->down[0], msg, len) ? -EPIPE : 0;
		if (k < 0 && errno != EINTR)
			return -errno;
		if (timeout_ms >= 0 && now_ms() >= end)
			return -ETIMEDOUT;
	}
}

bool runner_alive(struct runner *r)
{
	int st;

	if (r->pid <= 0)
		return false;
	if (waitpid(r->pid, &st, WNOHANG) != r->pid)
		return true;
	tb_forget_child(r->pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->pid = 0;
	return false;
}

void runner_interrupt(struct runner *r)
{
	if (r->pid > 0)
		kill(r->pid, SIGUSR1);
}

void runner_stop(struct runner *r, int grace_ms)
{
	long long end = now_ms() + grace_ms;

	if (!r->main)
		return;
	close_fd(&r->down[0]);
	close_fd(&r->down[1]);
	close_fd(&r->up[0]);
	close_fd(&r->up[1]);
	while (runner_alive(r) && now_ms() < end)
		usleep(2000);
	if (r->pid > 0) {
		r->status = tb_stop_child(r->pid, 500);
		r->pid = 0;
	}
	r->main = NULL;
}
