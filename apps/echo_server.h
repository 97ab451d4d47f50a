/**
 * @file
 * The TCP echo server of skiff-echo and of skiff-bench's skiff pairs:
 * epoll-driven, non-blocking, each connection a relay_half (relay.h) that
 * echoes on itself through the zero-copy paths, every received frame sent
 * back as it lies. One thread; the stack must be running.
 */
#ifndef SKIFF_APPS_ECHO_SERVER_H
#define SKIFF_APPS_ECHO_SERVER_H

#include "app.h"
#include "report.h"

struct echo_server;

/**
 * Listen on o->port (IPv4 and/or IPv6 as @p o has addresses of), counting
 * into @p c, which must outlive the server.
 * @return 0, or -errno after a message that says why
 */
int echo_server_open(struct echo_server **out, const struct app_opts *o, struct app_counters *c);

/** Serve what is ready, waiting up to @p timeout_ms (skiff_epoll_wait()). */
void echo_server_step(struct echo_server *e, int timeout_ms);

/** Close every connection and the listeners; accepts NULL. */
void echo_server_close(struct echo_server *e);

#endif
