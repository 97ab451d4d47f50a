/* skiff-echo: a TCP echo server on skiff, epoll-driven and non-blocking,
 * echoing through the zero-copy receive and send paths (echo_server.h).
 * Without -i it runs its embedded default (demo.h). */
#include <skiff/skiff.h>

#include "demo.h"
#include "echo_server.h"

struct echo {
	struct app_server srv;
	struct echo_server *es;
};

static void echo_step(struct app_server *s, int timeout_ms)
{
	echo_server_step(((struct echo *)s)->es, timeout_ms);
}

static int echo_start(struct app_server *s, const struct app_opts *o)
{
	struct echo *e = (struct echo *)s;

	return echo_server_open(&e->es, o, &e->srv.c);
}

static void echo_stop(struct app_server *s)
{
	struct echo *e = (struct echo *)s;

	echo_server_close(e->es);
	e->es = NULL;
}

int main(int argc, char **argv)
{
	struct echo e = {.srv = {.start = echo_start, .step = echo_step, .stop = echo_stop}};
	struct app_opts o;

	app_parse(argc, argv, APP_ECHO, &o);
	return app_main(&o, &e.srv);
}
