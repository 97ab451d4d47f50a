/**
 * @file
 * The demos' embedded default: without -i a demo builds its own testbed
 * (testbed.h), runs its server on skiff at one end, drives it with the
 * load generator from the other (a peer process, runner.h) and prints the
 * verdict. Without root or AF_XDP (or with --memlink) the same job runs
 * between two skiff processes over a memlink wire.
 */
#ifndef SKIFF_APPS_EMBEDDED_H
#define SKIFF_APPS_EMBEDDED_H

#include "app.h"
#include "driver.h"

/** Runs @p srv's embedded default; returns the exit code (0 PASS). */
int embedded_run(const struct app_opts *o, struct driver_server *srv);

#endif
