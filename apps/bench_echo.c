/* The benchmark's echo server on skiff (bench.h): skiff-echo's own
 * (echo_server.h), IPv4 only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "echo_server.h"

struct bench_echo {
	struct echo_server *es;
	struct app_counters c;
};

void bench_echo_step(struct bench_echo *e, int timeout_ms)
{
	echo_server_step(e->es, timeout_ms);
}

int bench_echo_start(struct bench_echo **out, uint16_t port)
{
	struct bench_echo *e = calloc(1, sizeof(*e));
	struct app_opts o;
	int rc;

	if (!e)
		return -ENOMEM;
	memset(&o, 0, sizeof(o));
	o.prog = "skiff-bench";
	o.port = port;
	o.have_ip4 = true;
	rc = echo_server_open(&e->es, &o, &e->c);
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

const struct app_counters *bench_echo_counters(const struct bench_echo *e)
{
	return &e->c;
}

void bench_echo_stop(struct bench_echo *e)
{
	if (!e)
		return;
	echo_server_close(e->es);
	free(e);
}
