/* docs/api.md's example, verbatim (tests/stack/test_example.c builds it,
 * runs it over a memlink wire and checks the document still quotes it).
 *
 *   example_echo server IFNAME ADDR PORT         an epoll echo server
 *   example_echo client IFNAME ADDR SERVER PORT  sends a line, prints the echo
 *
 * ADDR is the stack's own IPv4 address on IFNAME (one queue, AF_XDP). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/skiff.h>

#define MAX_EVENTS 64

/* Serves @p count connections (0: forever), echoing what each one sends
 * until it closes. Non-blocking sockets, edge-triggered epoll. */
int echo_server(uint16_t port, int count)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct epoll_event ev, events[MAX_EVENTS];
	int lfd, ep, served = 0, one = 1;

	lfd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		return -1;
	skiff_setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (skiff_bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    skiff_listen(lfd, 128) < 0)
		goto out_close;
	ep = skiff_epoll_create(0);
	if (ep < 0)
		goto out_close;
	ev = (struct epoll_event){.events = EPOLLIN, .data.fd = lfd};
	skiff_epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

	while (!count || served < count) {
		/* Drives the stack too: waits for traffic, timers, events. */
		int n = skiff_epoll_wait(ep, events, MAX_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			char buf[16384];
			ssize_t got;

			if (fd == lfd) {
				int c;

				while ((c = skiff_accept(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					ev = (struct epoll_event){.events = EPOLLIN | EPOLLET,
								  .data.fd = c};
					skiff_epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			/* Edge-triggered: read until EAGAIN. A blocking-free
			 * echo keeps it short: what does not fit the send
			 * buffer is dropped here (a real server would queue). */
			while ((got = skiff_recv(fd, buf, sizeof(buf), 0)) > 0)
				skiff_send(fd, buf, (size_t)got, 0);
			if (got == 0 || errno != EAGAIN) {
				skiff_close(fd); /* also leaves the epoll set */
				served++;
			}
		}
	}
	skiff_close(ep);
	skiff_close(lfd);
	return 0;

out_close:
	skiff_close(lfd);
	return -1;
}

/* Connects to @p server, sends @p msg, reads the echo into @p out (at most
 * @p len - 1 bytes, terminated). Blocking calls, each with a timeout. */
int echo_client(const char *server, uint16_t port, const char *msg, char *out, size_t len)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 5};
	size_t want = strlen(msg), got = 0;
	int fd;

	if (inet_pton(AF_INET, server, &addr.sin_addr) != 1 || want >= len)
		return -1;
	fd = skiff_socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	skiff_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	skiff_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (skiff_connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    skiff_send(fd, msg, want, 0) != (ssize_t)want)
		goto out_close;
	while (got < want) {
		ssize_t n = skiff_recv(fd, out + got, len - 1 - got, 0);

		if (n <= 0)
			goto out_close;
		got += (size_t)n;
	}
	out[got] = '\0';
	skiff_close(fd);
	return 0;

out_close:
	fprintf(stderr, "echo_client: %s\n", strerror(errno));
	skiff_close(fd);
	return -1;
}

#ifndef SKIFF_EXAMPLE_NO_MAIN
int main(int argc, char **argv)
{
	struct skiff_config cfg = {.backend = SKIFF_BACKEND_XSK, .ipv4_prefix = 24};
	char echo[256];
	int rc;

	if (argc < 5 || inet_pton(AF_INET, argv[3], &cfg.ipv4) != 1) {
		fprintf(stderr,
			"usage: %s server IFNAME ADDR PORT | client IFNAME ADDR SERVER PORT\n",
			argv[0]);
		return 2;
	}
	cfg.ifname = argv[2];
	if (skiff_init(&cfg) != 0) {
		fprintf(stderr, "skiff_init: %s: %s\n", strerror(errno), skiff_last_error());
		return 1;
	}
	if (strcmp(argv[1], "server") == 0) {
		rc = echo_server((uint16_t)atoi(argv[4]), 0);
	} else {
		rc = argc < 6 ? -1
			      : echo_client(argv[4], (uint16_t)atoi(argv[5]), "hello, skiff\n",
					    echo, sizeof(echo));
		if (!rc)
			fputs(echo, stdout);
	}
	skiff_fini();
	return rc ? 1 : 0;
}
#endif
