/* Run under skiff-run (with the ticker off) by test_preload: threads that
 * sleep on different skiff sockets each wake for their own. Only one
 * waiting thread sleeps on the AF_XDP socket (docs/preload.md): when it
 * goes back to the application and stays there, another must take its
 * place, or the others sleep through their data.
 *
 *   preload_threads ADDR PORT
 *
 * Accepts three connections from the peer (preload_threads_peer.py), in
 * order. Thread "set" serves the first two through one epoll set (it waits
 * on the most skiff sockets, so it is the one on the AF_XDP socket); thread
 * "one" serves the third with blocking reads. Each echoes what it reads;
 * "busy" makes the set's thread echo, then stay 500 ms in the application
 * (no call into the library); "quit" ends a thread. Prints "READY" when
 * listening, "PASS" at the end (exit 0), "FAIL <why>" (exit 1). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int conns[3];

static void fail(const char *why)
{
	printf("FAIL %s (errno %d: %s)\n", why, errno, strerror(errno));
	fflush(stdout);
	exit(1);
}

/* Echoes one message read from @p fd; false at "quit" or the end. */
static bool echo_one(int fd, bool *busy)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return false;
	if (write(fd, buf, (size_t)n) != n)
		fail("write");
	*busy = n == 4 && !memcmp(buf, "busy", 4);
	return !(n == 4 && !memcmp(buf, "quit", 4));
}

static void *set_thread(void *arg)
{
	struct epoll_event ev[2];
	int ep = epoll_create1(0), left = 2;

	(void)arg;
	if (ep < 0)
		fail("epoll_create1");
	for (int i = 0; i < 2; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.fd = conns[i]};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i], &e))
			fail("epoll_ctl");
	}
	while (left > 0) {
		int n = epoll_wait(ep, ev, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("epoll_wait");
		for (int i = 0; i < n; i++) {
			bool busy = false;

			if (!echo_one(ev[i].data.fd, &busy)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, ev[i].data.fd, NULL);
				left--;
			}
			if (busy) {
				struct timespec ts = {0, 500 * 1000000L};

				nanosleep(&ts, NULL); /* the application's own work */
			}
		}
	}
	close(ep);
	return NULL;
}

static void *one_thread(void *arg)
{
	bool busy;

	(void)arg;
	while (echo_one(conns[2], &busy))
		;
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	pthread_t t[2];
	int one = 1, ls;

	if (argc != 3)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 8))
		fail("listen");
	printf("READY\n");
	for (int i = 0; i < 3; i++)
		if ((conns[i] = accept(ls, NULL, NULL)) < 0)
			fail("accept");
	if (pthread_create(&t[0], NULL, set_thread, NULL) ||
	    pthread_create(&t[1], NULL, one_thread, NULL))
		fail("pthread_create");
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	for (int i = 0; i < 3; i++)
		close(conns[i]);
	close(ls);
	printf("PASS\n");
	return 0;
}
