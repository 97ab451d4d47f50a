/* skiff-echo: a TCP echo server on skiff, epoll-driven and non-blocking,
 * echoing through the zero-copy receive and send paths (echo_server.h).
 * Without -i it runs its embedded default (driver.h). */
#include "driver.h"
#include "echo_server.h"

struct echo {
	struct driver_server srv;
	struct echo_server *es;
};

static void echo_step(struct driver_server *s, int timeout_ms)
{
	echo_server_step(((struct echo *)s)->es, timeout_ms);
}

static int echo_start(struct driver_server *s, const struct app_opts *o)
{
	struct echo *e = (struct echo *)s;
	struct echo_config ec = {.ops = &socktab_skiff,
				 .port = o->port,
				 .ipv4 = o->have_ip4,
				 .ipv6 = o->have_ip6,
				 .zero_copy = true,
				 .mptcp = o->mptcp,
				 .prog = o->prog,
				 .c = &e->srv.c};

	return echo_server_open(&e->es, &ec);
}

static void echo_stop(struct driver_server *s)
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
	return driver_main(&o, &e.srv);
}
