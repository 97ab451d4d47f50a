/* Run under skiff-run by test_preload: checks libskiff-preload's policy
 * from inside an unmodified-style program. A socket bound to skiff's
 * address (which the kernel does not own) works; one bound to loopback,
 * a Unix socketpair and an eventfd stay with the kernel; all of them
 * report through one epoll set (the skiff listener added to it before its
 * bind); select() sees a skiff socket; dup() of a skiff socket is
 * refused; a signal ends a blocking read (EINTR); SO_RCVTIMEO ends a
 * blocking read and a blocking accept. A peer in the other namespace connects to
 * ADDR:PORT, sends "skiff" and reads "SKIFF" back.
 *
 *   preload_policy ADDR PORT LOOPBACK_PORT
 *
 * Prints "ok <check>" per check, "READY" when waiting for the peer, and
 * "PASS" at the end (exit 0); "FAIL <why>" and exit 1 otherwise. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, what)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL %s (errno %d: %s)\n", what, errno, strerror(errno));          \
			return 1;                                                                  \
		}                                                                                  \
		printf("ok %s\n", what);                                                           \
		fflush(stdout);                                                                    \
	} while (0)

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static int listener(const char *ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&a, sizeof(a)) || listen(fd, 16))
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	enum { L_SKIFF = 1, L_LOOP, UNIX, EVFD, CONN };
	struct epoll_event ev, out[8];
	struct sockaddr_in la = {.sin_family = AF_INET};
	unsigned seen = 0;
	int ls, lk, u[2], efd, ep, outer, c, ak, as = -1;
	char buf[16];
	uint64_t one = 1;

	if (argc != 4)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The skiff listener joins the epoll set before its bind decides it
	 * (as libevent-style code does): the registration must follow it. */
	ep = epoll_create1(0);
	CHECK(ep >= 0, "epoll_create1");
	/* The set is waited on through another one it sits in (libevent and
	 * libuv nest sets so): registered before any skiff socket is in it. */
	outer = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.u32 = 99;
	CHECK(outer >= 0 && epoll_ctl(outer, EPOLL_CTL_ADD, ep, &ev) == 0,
	      "an epoll set inside another");
	ls = socket(AF_INET, SOCK_STREAM, 0);
	ev.events = EPOLLIN;
	ev.data.u32 = L_SKIFF;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) == 0, "epoll_ctl ADD before bind");
	{
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)atoi(argv[2]))};

		inet_pton(AF_INET, argv[1], &a.sin_addr);
		CHECK(bind(ls, (void *)&a, sizeof(a)) == 0 && listen(ls, 16) == 0,
		      "bind+listen on skiff's address (the kernel does not own it)");
	}
	CHECK(ls < FD_SETSIZE, "a skiff socket's number is a low kernel number");
	lk = listener("127.0.0.1", atoi(argv[3]));
	CHECK(lk >= 0 && lk != ls, "bind+listen on loopback");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, u) == 0, "unix socketpair");
	efd = eventfd(0, EFD_NONBLOCK);
	CHECK(efd >= 0, "eventfd");
	ev.data.u32 = L_LOOP;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, lk, &ev) == 0, "epoll_ctl ADD loopback listener");
	ev.data.u32 = UNIX;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, u[0], &ev) == 0, "epoll_ctl ADD unix socket");
	ev.data.u32 = EVFD;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0, "epoll_ctl ADD eventfd");

	/* Kernel-side events of our own making. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	la.sin_port = htons((uint16_t)atoi(argv[3]));
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(connect(c, (void *)&la, sizeof(la)) == 0, "connect to loopback (kernel)");
	CHECK(write(u[1], "u", 1) == 1, "write on the unix socket");
	CHECK(write(efd, &one, sizeof(one)) == sizeof(one), "eventfd write");
	printf("READY\n");

	/* All five kinds of event through the one epoll, within 20 s. */
	for (int round = 0; round < 200 && seen != 0x3e; round++) {
		int n = epoll_wait(outer, out, 1, 100);

		CHECK(n >= 0 || errno == EINTR, "epoll_wait on the outer set");
		if (n == 1) {
			CHECK(out[0].data.u32 == 99, "the outer set reports the inner one");
			n = epoll_wait(ep, out, 8, 0);
			CHECK(n >= 0, "epoll_wait on the inner set");
		}
		for (int i = 0; i < n; i++) {
			unsigned id = out[i].data.u32;

			seen |= 1u << id;
			if (id == L_LOOP) {
				ak = accept(lk, NULL, NULL);
				CHECK(ak >= 0, "accept loopback");
				CHECK(write(c, "kernel", 6) == 6 && read(ak, buf, 6) == 6 &&
					      !memcmp(buf, "kernel", 6),
				      "bytes over loopback");
				epoll_ctl(ep, EPOLL_CTL_DEL, lk, NULL);
			} else if (id == UNIX) {
				CHECK(read(u[0], buf, 1) == 1, "read unix socket");
			} else if (id == EVFD) {
				CHECK(read(efd, &one, sizeof(one)) == sizeof(one), "read eventfd");
			} else if (id == L_SKIFF) {
				as = accept(ls, NULL, NULL);
				CHECK(as >= 0 && as < FD_SETSIZE, "accept on skiff");
				errno = 0;
				CHECK(dup(as) == -1 && errno == EOPNOTSUPP,
				      "dup of a skiff socket refused (EOPNOTSUPP)");
				ev.events = EPOLLIN;
				ev.data.u32 = CONN;
				CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, as, &ev) == 0,
				      "epoll_ctl ADD accepted skiff socket");
				epoll_ctl(ep, EPOLL_CTL_DEL, ls, NULL);
			} else if (id == CONN) {
				struct iovec rv[2] = {{buf, 2}, {buf + 2, 3}};
				ssize_t r = readv(as, rv, 2);

				CHECK(r == 5 && !memcmp(buf, "skiff", 5),
				      "bytes from the peer via skiff (readv, two buffers)");
				/* The peer waits for our answer: nothing more to read. A
				 * signal ends a blocking read with EINTR (no SA_RESTART). */
				{
					struct sigaction sa = {.sa_handler = on_alarm};
					struct itimerval it = {.it_value.tv_usec = 100000};

					sigaction(SIGALRM, &sa, NULL);
					setitimer(ITIMER_REAL, &it, NULL);
					errno = 0;
					r = read(as, buf, sizeof(buf));
					CHECK(r == -1 && errno == EINTR && alarms == 1,
					      "a signal ends a blocking read on skiff with EINTR");
				}
				{
					struct timeval to = {.tv_usec = 200000};
					struct timespec t0, t1;
					long ms;

					CHECK(setsockopt(as, SOL_SOCKET, SO_RCVTIMEO, &to,
							 sizeof(to)) == 0,
					      "SO_RCVTIMEO 200 ms on a skiff socket");
					clock_gettime(CLOCK_MONOTONIC, &t0);
					errno = 0;
					r = read(as, buf, sizeof(buf));
					clock_gettime(CLOCK_MONOTONIC, &t1);
					ms = (t1.tv_sec - t0.tv_sec) * 1000 +
					     (t1.tv_nsec - t0.tv_nsec) / 1000000;
					printf("blocking read with SO_RCVTIMEO 200 ms: %zd after "
					       "%ld ms\n",
					       r, ms);
					CHECK(r == -1 && errno == EAGAIN && ms >= 190 && ms < 2000,
					      "a blocking read ends with EAGAIN at SO_RCVTIMEO");
				}
				{
					struct iovec wv[3] = {{"SK", 2}, {"", 0}, {"IFF", 3}};

					CHECK(writev(as, wv, 3) == 5,
					      "bytes to the peer via skiff (writev, three buffers)");
				}
				epoll_ctl(ep, EPOLL_CTL_DEL, as, NULL);
			}
		}
	}
	CHECK(seen == 0x3e, "skiff, loopback, unix and eventfd events in one epoll set, "
			    "seen through an outer set");

	/* select() on the skiff socket: the peer closes, EOF is readable. */
	{
		fd_set rs;
		struct timeval tv = {.tv_sec = 10};

		FD_ZERO(&rs);
		FD_SET(as, &rs);
		CHECK(select(as + 1, &rs, NULL, NULL, &tv) == 1 && FD_ISSET(as, &rs),
		      "select() reports the skiff socket readable");
		CHECK(read(as, buf, sizeof(buf)) == 0, "EOF from the peer");
	}
	/* select() writes back the time left, as Linux's does: a timer
	 * (a kernel descriptor) fires after 200 ms in a set with the skiff
	 * listener and a 10 s timeout; then a timeout of 100 ms runs out. */
	{
		struct itimerspec its = {.it_value = {.tv_nsec = 200000000}};
		int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		struct timeval tv = {.tv_sec = 10};
		long long left;
		fd_set rs;

		CHECK(tfd >= 0 && timerfd_settime(tfd, 0, &its, NULL) == 0,
		      "timerfd armed, 200 ms");
		FD_ZERO(&rs);
		FD_SET(ls, &rs);
		FD_SET(tfd, &rs);
		CHECK(select((ls > tfd ? ls : tfd) + 1, &rs, NULL, NULL, &tv) == 1 &&
			      FD_ISSET(tfd, &rs) && !FD_ISSET(ls, &rs),
		      "select() over the skiff listener and a timerfd: the timer");
		left = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
		printf("  time left %lld us of 10 s\n", left);
		CHECK(left > 8000000 && left < 9850000,
		      "select() wrote back the time left (about 9.8 s)");
		tv = (struct timeval){.tv_usec = 100000};
		FD_ZERO(&rs);
		FD_SET(ls, &rs);
		CHECK(select(ls + 1, &rs, NULL, NULL, &tv) == 0 && tv.tv_sec == 0 &&
			      tv.tv_usec == 0,
		      "select() on the skiff listener times out after 100 ms, 0 left");
		close(tfd);
	}
	/* SO_RCVTIMEO bounds a blocking accept() too. */
	{
		struct timeval to = {.tv_usec = 100000};

		CHECK(setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof(to)) == 0,
		      "SO_RCVTIMEO on the skiff listener");
		errno = 0;
		CHECK(accept(ls, NULL, NULL) == -1 && errno == EAGAIN,
		      "a blocking accept() ends with EAGAIN at SO_RCVTIMEO");
	}
	close(as);
	close(ls);
	close(lk);
	printf("PASS\n");
	return 0;
}
