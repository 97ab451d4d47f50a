/**
 * @file
 * The driver both demos share: serving on an interface (-i), or the
 * embedded default, which builds a testbed, runs the server on skiff at one
 * end, drives it with the load generator from the other and prints the
 * verdict. Each program supplies its server as a struct app_server.
 */
#ifndef SKIFF_APPS_DEMO_H
#define SKIFF_APPS_DEMO_H

#include "app.h"
#include "loadgen.h"
#include "report.h"

/** A server on skiff: skiff-echo's or skiff-proxy's. */
struct app_server {
	/** After skiff_init(): open the listening socket. 0, or -errno after
	 * printing why (-EADDRINUSE and the like are bad use: exit 2). */
	int (*start)(struct app_server *s, const struct app_opts *o);
	/** Serve: wait up to @p timeout_ms for events, handle them. */
	void (*step)(struct app_server *s, int timeout_ms);
	/** Close every socket and give back every buffer (before skiff_fini). */
	void (*stop)(struct app_server *s);
	struct app_counters c;
};

/** The load generator's socket table over skiff (skiff_ops.c). */
extern const struct lg_ops lg_skiff_ops;

/** Runs @p srv as the command line says; returns the exit code. */
int app_main(const struct app_opts *o, struct app_server *srv);

#endif
