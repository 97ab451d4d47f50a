/**
 * @file
 * The echo server: skiff-echo's, skiff-bench's on either TCP, and the one
 * behind skiff-proxy's embedded default. Epoll-driven and non-blocking over
 * a socket table (socktab.h); each connection echoes on itself, in order,
 * with back-pressure (it reads only once everything read has gone back
 * out), and is closed once the client's FIN has been passed back.
 *
 * The bytes move one of two ways:
 * - zero-copy (skiff's table only): each connection is a relay_half
 *   (relay.h) that echoes on itself, every received frame sent back as it
 *   lies;
 * - copied through a buffer with the table's recv() and send() (any table).
 *
 * Threading: one thread; with skiff's table the stack must be running.
 */
#ifndef SKIFF_APPS_ECHO_SERVER_H
#define SKIFF_APPS_ECHO_SERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"
#include "socktab.h"

struct echo_server;

struct echo_config {
	const struct socktab *ops;
	uint16_t port;	 /* 0: any (echo_server_port() says which) */
	unsigned ports;	 /* listen on port, port + 1, ... (0: 1; more need a port) */
	int backlog;	 /* 0: LISTENER_BACKLOG */
	bool ipv4, ipv6; /* listen on 0.0.0.0, and on [::] for IPv6 only */
	bool zero_copy;	 /* with relay.h; needs socktab_skiff */
	bool mptcp;	 /* listeners made with IPPROTO_MPTCP */
	/* Says why a listener could not open, prefixed with this; NULL: quietly. */
	const char *prog;
	/* Counted into (must outlive the server); NULL: not counted. */
	struct app_counters *c;
};

/** Opens the listeners. @return 0 or -errno (-EADDRINUSE, ...) */
int echo_server_open(struct echo_server **out, const struct echo_config *cfg);

/** The port it listens on (host order). */
uint16_t echo_server_port(const struct echo_server *e);

/** Serves what is ready, waiting up to @p timeout_ms for it.
 * @return the events handled, or -errno */
int echo_server_step(struct echo_server *e, int timeout_ms);

/** Serves until *@p stop (NULL: for ever, until killed). @return 0 or -errno */
int echo_server_run(struct echo_server *e, volatile sig_atomic_t *stop);

/** Closes every connection and the listeners; accepts NULL. */
void echo_server_close(struct echo_server *e);

#endif
