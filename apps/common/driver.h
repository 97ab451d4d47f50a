/**
 * @file
 * The driver both demos share: serving on an interface (-i) until a
 * signal, or the embedded default (embedded.h). Each program supplies its
 * server as a struct driver_server.
 */
#ifndef SKIFF_APPS_DRIVER_H
#define SKIFF_APPS_DRIVER_H

#include <stdbool.h>

#include "app.h"
#include "report.h"

/** A server on skiff: skiff-echo's or skiff-proxy's. */
struct driver_server {
	/** After skiff_init(): open the listening socket. 0, or -errno after
	 * printing why (-EADDRINUSE and the like are bad use: exit 2). */
	int (*start)(struct driver_server *s, const struct app_opts *o);
	/** Serve: wait up to @p timeout_ms for events, handle them. */
	void (*step)(struct driver_server *s, int timeout_ms);
	/** Close every socket and give back every buffer (before skiff_fini). */
	void (*stop)(struct driver_server *s);
	struct app_counters c;
};

/** Runs @p srv as the command line says; returns the exit code. */
int driver_main(const struct app_opts *o, struct driver_server *srv);

/** Serves and prints counters until a signal, or until @p done(@p arg)
 * (may be NULL) says so; waits up to @p wait_ms per step (0 with -B). */
void driver_serve(const struct app_opts *o, struct driver_server *srv, struct report *r,
		  int wait_ms, bool (*done)(void *arg), void *arg);

/** How long a stop lets connections finish before it aborts them. */
#define DRIVER_STOP_DRAIN_MS 250

/** Stops serving: @p srv's sockets closed, skiff_stop() within
 * DRIVER_STOP_DRAIN_MS (pending zero-copy sends come back ABORTED), then
 * the totals and how long the stop took, with the frame audit. */
void driver_finish(struct driver_server *srv, struct report *r);

/** What to change when a forced mode was refused, if anything. */
void driver_init_hint(const struct app_opts *o, int rc);

/** Says why skiff_init() failed (and the hint); returns the exit code. */
int driver_init_failed(const struct app_opts *o, int rc);

#endif
