/* The demos' driver (driver.h): serving on an interface, or the embedded
 * default (embedded.c). */
#define _GNU_SOURCE
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "embedded.h"

void driver_serve(const struct app_opts *o, struct driver_server *srv, struct report *r,
		  int wait_ms, bool (*done)(void *arg), void *arg)
{
	while (!app_stop) {
		srv->step(srv, o->busy_poll ? 0 : wait_ms);
		report_tick(r, &srv->c);
		if (done && done(arg))
			break;
	}
}

void driver_finish(struct driver_server *srv, struct report *r)
{
	double t0 = report_now();
	int rc;

	srv->stop(srv);
	rc = skiff_stop(DRIVER_STOP_DRAIN_MS) ? -errno : 0;
	report_totals(r, &srv->c);
	report_stopped(r, report_now() - t0, DRIVER_STOP_DRAIN_MS, rc);
}

void driver_init_hint(const struct app_opts *o, int rc)
{
	if (rc == -EOPNOTSUPP && o->xdp_mode == SKIFF_XDP_ZEROCOPY)
		fprintf(stderr, "%s: hint: without -z skiff falls back to copy mode\n", o->prog);
}

int driver_init_failed(const struct app_opts *o, int rc)
{
	const char *why = skiff_last_error();

	fprintf(stderr, "%s: starting skiff failed: %s\n", o->prog,
		why && why[0] ? why : strerror(-rc));
	driver_init_hint(o, rc);
	return app_init_exit_code(rc);
}

static int serve_interface(const struct app_opts *o, struct driver_server *srv)
{
	struct skiff_config cfg;
	struct report r;
	int rc;

	app_check_interface(o);
	app_signals_install(NULL);
	app_skiff_config(o, &cfg);
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc)
		return driver_init_failed(o, rc);
	report_banner(stdout, o, NULL);
	rc = srv->start(srv, o);
	if (rc) {
		skiff_fini();
		return app_init_exit_code(rc);
	}
	printf("%s: serving; Ctrl-C prints the totals and stops\n", o->prog);
	fflush(stdout);
	report_start(&r, stdout, o);
	driver_serve(o, srv, &r, 50, NULL, NULL);
	driver_finish(srv, &r);
	skiff_fini();
	return APP_EXIT_OK;
}

int driver_main(const struct app_opts *o, struct driver_server *srv)
{
	return o->ifname ? serve_interface(o, srv) : embedded_run(o, srv);
}
