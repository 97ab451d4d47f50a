/* A program built outside skiff's tree against an installed skiff (with
 * pkg-config or find_package(skiff)), as a user of the packages builds
 * one: two skiff instances, one per process, joined by a memlink wire; the
 * child serves an echo, the parent connects, sends a message, reads it
 * back and checks it. Exit status 0 when the bytes came back intact. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <skiff/skiff.h>

#define PORT 7007
#define MSG  "hello from an installed skiff"

static int start(struct skiff_memlink *wire, unsigned end, const char *ip)
{
	struct skiff_config cfg = {
		.backend = SKIFF_BACKEND_MEMLINK,
		.memlink = wire,
		.memlink_end = end,
		.ipv4_prefix = 24,
		.frame_count = 2048,
		.ring_size = 512,
		.no_stat_publish = true,
	};

	inet_pton(AF_INET, ip, &cfg.ipv4);
	if (skiff_init(&cfg) != 0) {
		fprintf(stderr, "consumer: skiff_init (end %u): %s (%s)\n", end, strerror(errno),
			skiff_last_error());
		return -1;
	}
	return 0;
}

static int serve(struct skiff_memlink *wire)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	char buf[256];
	ssize_t n;
	int l, c;

	if (start(wire, 1, "10.77.0.2"))
		return 1;
	l = skiff_socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || skiff_bind(l, (struct sockaddr *)&a, sizeof(a)) || skiff_listen(l, 4)) {
		perror("consumer: server socket");
		return 1;
	}
	c = skiff_accept(l, NULL, NULL, 0);
	if (c < 0) {
		perror("consumer: accept");
		return 1;
	}
	while ((n = skiff_recv(c, buf, sizeof(buf), 0)) > 0)
		if (skiff_send(c, buf, (size_t)n, 0) != n)
			return 1;
	skiff_close(c);
	skiff_close(l);
	skiff_stop(1000);
	skiff_fini();
	return n == 0 ? 0 : 1;
}

static int client(struct skiff_memlink *wire)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	struct skiff_build_info bi;
	char buf[sizeof(MSG)];
	size_t got = 0;
	int fd;

	if (start(wire, 0, "10.77.0.1"))
		return 1;
	inet_pton(AF_INET, "10.77.0.2", &a.sin_addr);
	/* The server may not listen yet: refused, it tries again. */
	for (int tries = 0;; tries++) {
		fd = skiff_socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && skiff_connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		if (fd < 0 || errno != ECONNREFUSED || tries == 100) {
			perror("consumer: connect");
			return 1;
		}
		skiff_close(fd);
		skiff_poll(20);
	}
	if (skiff_send(fd, MSG, sizeof(MSG), 0) != (ssize_t)sizeof(MSG)) {
		perror("consumer: send");
		return 1;
	}
	while (got < sizeof(buf)) {
		ssize_t n = skiff_recv(fd, buf + got, sizeof(buf) - got, 0);

		if (n <= 0) {
			perror("consumer: recv");
			return 1;
		}
		got += (size_t)n;
	}
	skiff_close(fd);
	skiff_stop(1000);
	skiff_fini();
	if (memcmp(buf, MSG, sizeof(MSG)) != 0) {
		fprintf(stderr, "consumer: the echo differs\n");
		return 1;
	}
	skiff_get_build_info(&bi);
	printf("consumer: %zu bytes echoed over memlink by libskiff %s\n", got, bi.skiff_version);
	return 0;
}

int main(void)
{
	struct skiff_memlink *wire;
	int st = 0, rc;
	pid_t pid;

	if (skiff_memlink_create(&wire, &(struct skiff_memlink_config){.frame_count = 2048,
								       .ring_size = 512}) != 0) {
		perror("consumer: skiff_memlink_create");
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(serve(wire));
	alarm(30);
	rc = client(wire);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "consumer: the server failed (status %#x)\n", st);
		rc = 1;
	}
	skiff_memlink_destroy(wire);
	return rc;
}
