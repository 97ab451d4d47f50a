/* The demos' embedded default (embedded.h): over a veth testbed or,
 * without root or AF_XDP, over memlink. */
#define _GNU_SOURCE
#include "embedded.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "loadgen.h"
#include "report.h"
#include "runner.h"
#include "testbed.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

/* The embedded default's addresses: 10.99.0.0/24 between skiff and the
 * client (proxy: 10.99.1.0/24, and the server behind the client's
 * namespace on 10.99.2.0/24). Private to the testbed's namespaces. */
#define NET_SKIFF     "10.99.0.2"
#define NET_CLIENT    "10.99.0.1"
#define NETP_SKIFF    "10.99.1.2"
#define NETP_CLIENT   "10.99.1.1"
#define NETP_ROUTER   "10.99.2.1"
#define NETP_SERVER   "10.99.2.2"
#define NET6_SKIFF    "fd99::2"
#define NET6_CLIENT   "fd99::1"
#define UPSTREAM_PORT 7
/* How long the client may wait for skiff to come up. */
#define GO_TIMEOUT_MS 30000
/* memlink: frames per end, for both the wire and skiff */
#define MEMLINK_FRAMES 8192

static const uint8_t memlink_mac[2][6] = {
	{0x02, 0x53, 0x4b, 0x00, 0x00, 0x02}, /* end 0: the server under test */
	{0x02, 0x53, 0x4b, 0x00, 0x00, 0x01}, /* end 1: the peer */
};

enum { RUN_FALLBACK = -1000 };

struct peer {
	const struct app_opts *o;
	struct lg_config lg;
	struct runner client; /* it says go with one byte; the client answers its lg_result */
	/* memlink */
	struct skiff_memlink *wire;
	bool upstream_echo; /* the peer also runs the proxy's upstream */
	struct echo_server *echo;
	/* the parent's view */
	bool have_result;
	struct lg_result res;
	char fail[sizeof(((struct lg_result *)0)->first_error)];
};

/* ---- the peer's side ------------------------------------------------------ */

/* Waits for the server's go (false: it never came), running @p idle
 * meanwhile. */
static bool wait_go(struct peer *p, void (*idle)(void *), void *arg)
{
	char go;

	return runner_child_recv(&p->client, &go, 1, GO_TIMEOUT_MS, idle, arg) == 0;
}

static void send_result(struct peer *p, const struct lg_result *r)
{
	int rc = runner_child_send(&p->client, r, sizeof(*r));

	if (rc)
		fprintf(stderr, "%s: client: cannot report the result: %s\n", p->o->prog,
			strerror(-rc));
}

/* Linux TCP clients, in the client's namespace. */
static int kernel_client_main(void *arg)
{
	struct peer *p = arg;
	struct lg_result r;

	p->lg.stop = &runner_interrupted;
	if (!wait_go(p, NULL, NULL)) {
		fprintf(stderr, "%s: client: skiff never came up\n", p->o->prog);
		return 3;
	}
	lg_run(&p->lg, &socktab_kernel, &r);
	send_result(p, &r);
	return 0;
}

/* The upstream echo server of skiff-proxy's default, over @p ops. */
static int open_upstream(struct echo_server **out, const struct socktab *ops)
{
	struct echo_config ec = {.ops = ops, .port = UPSTREAM_PORT, .ipv4 = true};

	return echo_server_open(out, &ec);
}

/* A Linux echo server: skiff-proxy's upstream, in the server's namespace. */
static int kernel_echo_main(void *arg)
{
	struct peer *p = arg;
	struct echo_server *e;
	int rc = open_upstream(&e, &socktab_kernel);

	if (rc) {
		fprintf(stderr, "%s: upstream echo server: %s\n", p->o->prog, strerror(-rc));
		return 3;
	}
	return echo_server_run(e, NULL) ? 3 : 0;
}

/* Keeps the peer's stack (and its echo server) going. */
static void memlink_peer_idle(void *arg)
{
	struct peer *p = arg;

	if (p->echo)
		echo_server_step(p->echo, 0);
	else
		skiff_poll(0);
}

static void memlink_peer_tick(void *arg)
{
	struct peer *p = arg;

	if (p->echo)
		echo_server_step(p->echo, 0);
}

/* The second skiff process on the wire's end 1: the client, and for
 * skiff-proxy also the upstream echo server. */
static int memlink_peer_main(void *arg)
{
	struct peer *p = arg;
	struct skiff_config cfg = {.backend = SKIFF_BACKEND_MEMLINK};
	struct lg_result r;
	int rc;

	p->lg.stop = &runner_interrupted;
	cfg.memlink = p->wire;
	cfg.memlink_end = 1;
	cfg.frame_count = MEMLINK_FRAMES;
	memcpy(cfg.mac, memlink_mac[1], 6);
	inet_pton(AF_INET, NET_CLIENT, &cfg.ipv4);
	cfg.ipv4_prefix = 24;
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc) {
		memset(&r, 0, sizeof(r));
		r.first_errno = -rc;
		snprintf(r.first_error, sizeof(r.first_error), "the peer's skiff_init: %s",
			 skiff_last_error()[0] ? skiff_last_error() : strerror(-rc));
		send_result(p, &r);
		return 3;
	}
	if (p->upstream_echo && (rc = open_upstream(&p->echo, &socktab_skiff)) != 0)
		fprintf(stderr, "%s: peer: upstream echo server: %s\n", p->o->prog, strerror(-rc));
	if (!wait_go(p, memlink_peer_idle, p)) {
		skiff_fini();
		return 3;
	}
	/* Nothing moves on the wire unless someone polls: spin. */
	p->lg.wait_ms = -1;
	p->lg.tick = memlink_peer_tick;
	p->lg.tick_arg = p;
	lg_run(&p->lg, &socktab_skiff, &r);
	send_result(p, &r);
	echo_server_close(p->echo);
	skiff_fini();
	return 0;
}

/* ---- the server's side ------------------------------------------------------ */

/* driver_serve()'s stop condition: the client's result came in, or it died. */
static bool client_done(void *arg)
{
	struct peer *p = arg;
	int rc;

	if (p->have_result)
		return true;
	rc = runner_recv(&p->client, &p->res, sizeof(p->res), 0);
	if (!rc)
		return p->have_result = true;
	if (rc == -ECHILD && !p->fail[0])
		snprintf(p->fail, sizeof(p->fail), "the client ended without a result");
	if (runner_alive(&p->client))
		return false;
	/* Its result may have landed just before it exited. */
	if (runner_recv(&p->client, &p->res, sizeof(p->res), 0) == 0)
		return p->have_result = true;
	if (!p->fail[0])
		snprintf(p->fail, sizeof(p->fail), "the client exited (status %d) without a result",
			 p->client.status);
	return true;
}

static void load_config(const struct app_opts *o, struct lg_config *lg, const char *dst,
			uint16_t port)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&lg->dst;

	memset(lg, 0, sizeof(*lg));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, dst, &a->sin_addr);
	lg->dst_len = sizeof(*a);
	lg->conns = o->conns;
	lg->requests = o->requests;
	lg->min_size = o->min_size;
	lg->max_size = o->max_size;
	lg->seed = o->seed;
	lg_config_defaults(lg);
}

static void print_plan(const struct app_opts *o, const struct lg_config *lg, const char *client,
		       const char *testbed)
{
	printf("  client     %s\n", client);
	if (testbed)
		printf("  testbed    %s\n", testbed);
	printf("%s: embedded default: %u connections x %u requests of %u-%u bytes (seed %llu), "
	       "every byte verified\n",
	       o->prog, lg->conns, lg->requests, lg->min_size, lg->max_size,
	       (unsigned long long)lg->seed);
	fflush(stdout);
}

/* Runs the server until the client reports, then prints the verdict. */
static int run_server_side(const struct app_opts *eo, struct driver_server *srv, struct peer *p,
			   const char *backend_line, const char *client, const char *testbed,
			   int wait_ms)
{
	struct report r;
	char go = 'g';
	int rc;

	report_banner(stdout, eo, backend_line);
	print_plan(eo, &p->lg, client, testbed);
	rc = srv->start(srv, eo);
	if (rc)
		return app_init_exit_code(rc);
	report_start(&r, stdout, eo);
	rc = runner_send(&p->client, &go, 1);
	if (rc)
		snprintf(p->fail, sizeof(p->fail), "cannot start the client: %s", strerror(-rc));
	else
		driver_serve(eo, srv, &r, wait_ms, client_done, p);
	if (app_stop && !p->have_result) {
		/* Ask the client for what it got so far, serving meanwhile. */
		double end = report_now() + 3;

		runner_interrupt(&p->client);
		while (report_now() < end && !client_done(p))
			srv->step(srv, wait_ms < 10 ? wait_ms : 10);
		if (!p->have_result)
			snprintf(p->fail, sizeof(p->fail), "interrupted");
	}
	driver_finish(srv, &r);
	if (!p->have_result) {
		/* The verdict line says why there is no result. */
		p->res.requests_planned = (uint64_t)p->lg.conns * p->lg.requests;
		p->res.conns = p->lg.conns;
		p->res.interrupted = app_stop;
		snprintf(p->res.first_error, sizeof(p->res.first_error), "%s",
			 p->fail[0] ? p->fail : "no result from the client");
	}
	report_load(stdout, eo->kind == APP_PROXY ? "client through skiff-proxy" : "client",
		    &p->res);
	fflush(stdout);
	return lg_passed(&p->res) ? APP_EXIT_OK : APP_EXIT_FAIL;
}

/* What a failed skiff_init() on the testbed means: the user's forcing
 * (bad use), or an environment without AF_XDP (fall back to memlink). */
static int veth_init_failed(const struct app_opts *o, int rc)
{
	const char *why = skiff_last_error();

	if (o->xdp_mode == SKIFF_XDP_ZEROCOPY || o->xdp_skb) {
		fprintf(stderr, "%s: starting skiff on the testbed failed: %s\n", o->prog,
			why && why[0] ? why : strerror(-rc));
		driver_init_hint(o, rc);
		return app_init_exit_code(rc);
	}
	fprintf(stderr, "%s: AF_XDP on the testbed's veth failed: %s\n", o->prog,
		why && why[0] ? why : strerror(-rc));
	return RUN_FALLBACK;
}

/* skiff-proxy's upstream: a Linux echo server at @p addr, or the peer's. */
static void set_upstream(struct app_opts *eo, const char *addr, const char *what)
{
	struct sockaddr_in *u = (struct sockaddr_in *)&eo->upstream;

	memset(&eo->upstream, 0, sizeof(eo->upstream));
	u->sin_family = AF_INET;
	u->sin_port = htons(UPSTREAM_PORT);
	inet_pton(AF_INET, addr, &u->sin_addr);
	eo->upstream_len = sizeof(*u);
	snprintf(eo->upstream_str, sizeof(eo->upstream_str), "%s:%u (%s)", addr, UPSTREAM_PORT,
		 what);
}

static int run_veth(const struct app_opts *o, struct driver_server *srv)
{
	char ns_skiff[TB_NS_NAME_MAX], ns_client[TB_NS_NAME_MAX], ns_server[TB_NS_NAME_MAX];
	char if_skiff[IF_NAMESIZE], if_client[IF_NAMESIZE], if_up[IF_NAMESIZE],
		if_router[IF_NAMESIZE];
	bool proxy = o->kind == APP_PROXY;
	struct skiff_config cfg;
	struct app_opts eo = *o;
	struct peer p = {.o = o};
	char line[256], tbed[256];
	int rc;

	rc = tb_ns_create(ns_skiff, sizeof(ns_skiff), "skiff");
	if (!rc)
		rc = tb_ns_create(ns_client, sizeof(ns_client), "client");
	if (!rc && proxy)
		rc = tb_ns_create(ns_server, sizeof(ns_server), "server");
	if (!rc)
		rc = tb_link(ns_skiff, if_skiff, NULL, ns_client, if_client,
			     proxy ? NETP_CLIENT "/24" : NET_CLIENT "/24", proxy ? "p" : "e");
	if (!rc)
		rc = tb_addr(ns_client, if_client, NET6_CLIENT "/64");
	/* The client's namespace routes between skiff and the server. */
	if (!rc && proxy)
		rc = tb_link(ns_server, if_up, NETP_SERVER "/24", ns_client, if_router,
			     NETP_ROUTER "/24", "u");
	if (!rc && proxy)
		rc = tb_route_via(ns_server, ns_client, NETP_ROUTER);
	if (rc) {
		fprintf(stderr, "%s: building the testbed failed: %s\n", o->prog, strerror(-rc));
		return RUN_FALLBACK;
	}

	/* Children first: they must not inherit the AF_XDP socket. */
	load_config(o, &p.lg, proxy ? NETP_SKIFF : NET_SKIFF, o->port);
	if (proxy && tb_spawn(ns_server, kernel_echo_main, &p) < 0)
		rc = -ECHILD;
	if (!rc && runner_start(&p.client, ns_client, kernel_client_main, &p) != 0)
		rc = -ECHILD;
	if (rc) {
		fprintf(stderr, "%s: starting the testbed's processes failed\n", o->prog);
		return APP_EXIT_FAIL;
	}

	/* The server's side: skiff in its own namespace. */
	rc = tb_enter(ns_skiff);
	if (rc) {
		fprintf(stderr, "%s: entering %s: %s\n", o->prog, ns_skiff, strerror(-rc));
		runner_stop(&p.client, 0);
		return APP_EXIT_FAIL;
	}
	eo.ifname = if_skiff;
	eo.queue = 0;
	eo.have_ip4 = eo.have_ip6 = true;
	inet_pton(AF_INET, proxy ? NETP_SKIFF : NET_SKIFF, &eo.ip4);
	eo.prefix4 = 24;
	inet_pton(AF_INET6, NET6_SKIFF, eo.ip6);
	eo.prefix6 = 64;
	if (proxy) {
		char what[96];

		eo.have_gw4 = true;
		inet_pton(AF_INET, NETP_CLIENT, &eo.gw4);
		snprintf(what, sizeof(what), "Linux echo server, %s", ns_server);
		set_upstream(&eo, NETP_SERVER, what);
	}
	app_skiff_config(&eo, &cfg);
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc) {
		rc = veth_init_failed(o, rc);
		runner_stop(&p.client, 0);
		tb_destroy();
		return rc;
	}
	snprintf(line, sizeof(line), "Linux TCP from namespace %s (%s on %s)", ns_client,
		 proxy ? NETP_CLIENT : NET_CLIENT, if_client);
	snprintf(tbed, sizeof(tbed), "namespaces %s, %s%s%s; veth %s <-> %s", ns_skiff, ns_client,
		 proxy ? ", " : "", proxy ? ns_server : "", if_skiff, if_client);
	rc = run_server_side(&eo, srv, &p, NULL, line, tbed, 20);
	skiff_fini();
	runner_stop(&p.client, 0);
	tb_destroy();
	return rc;
}

static int run_memlink(const struct app_opts *o, struct driver_server *srv)
{
	struct skiff_memlink_config wc = {.frame_count = MEMLINK_FRAMES};
	struct skiff_config cfg = {.backend = SKIFF_BACKEND_MEMLINK};
	struct peer p = {.o = o};
	bool proxy = o->kind == APP_PROXY;
	struct app_opts eo = *o;
	int rc;

	rc = skiff_memlink_create(&p.wire, &wc) ? -errno : 0;
	if (rc) {
		fprintf(stderr, "%s: creating the memlink wire failed: %s\n", o->prog,
			strerror(-rc));
		return APP_EXIT_FAIL;
	}
	load_config(o, &p.lg, NET_SKIFF, o->port);
	p.upstream_echo = proxy;
	/* Fork before either end creates its UMEM (skiff_memlink_create). */
	rc = runner_start(&p.client, NULL, memlink_peer_main, &p);
	if (rc) {
		fprintf(stderr, "%s: starting the peer process failed: %s\n", o->prog,
			strerror(-rc));
		skiff_memlink_destroy(p.wire);
		return APP_EXIT_FAIL;
	}
	eo.have_ip4 = true;
	inet_pton(AF_INET, NET_SKIFF, &eo.ip4);
	eo.prefix4 = 24;
	eo.have_ip6 = false;
	if (proxy)
		set_upstream(&eo, NET_CLIENT, "the peer's skiff echo server");
	cfg.memlink = p.wire;
	cfg.memlink_end = 0;
	cfg.frame_count = MEMLINK_FRAMES;
	memcpy(cfg.mac, memlink_mac[0], 6);
	cfg.ipv4 = eo.ip4;
	cfg.ipv4_prefix = 24;
	app_capture_config(o, &cfg);
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc) {
		rc = driver_init_failed(o, rc);
		runner_stop(&p.client, 500);
		skiff_memlink_destroy(p.wire);
		return rc == APP_EXIT_USAGE ? APP_EXIT_FAIL : rc;
	}
	/* Nothing moves on the wire unless someone polls: spin. */
	eo.busy_poll = true;
	rc = run_server_side(&eo, srv, &p,
			     "memlink end 0: a shared-memory wire to a second skiff process",
			     "a second skiff process on memlink end 1 (" NET_CLIENT ")", NULL, 0);
	skiff_fini();
	runner_stop(&p.client, 2000);
	skiff_memlink_destroy(p.wire);
	return rc;
}

/* Root, iproute2, namespaces and AF_XDP sockets: the veth testbed can work. */
static bool veth_possible(char *why, size_t len)
{
	int fd;

	if (!tb_available(why, len))
		return false;
	fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, len, "AF_XDP sockets are not available here (%s)", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

int embedded_run(const struct app_opts *o, struct driver_server *srv)
{
	char why[200];
	int rc;

	tb_init(o->prog);
	app_signals_install(tb_emergency);
	if (o->force_memlink)
		return run_memlink(o, srv);
	if (!veth_possible(why, sizeof(why))) {
		printf("%s: no veth testbed: %s; running the same job over memlink instead\n",
		       o->prog, why);
		return run_memlink(o, srv);
	}
	rc = run_veth(o, srv);
	if (rc != RUN_FALLBACK)
		return rc;
	tb_destroy();
	printf("%s: running the same job over memlink instead\n", o->prog);
	return run_memlink(o, srv);
}
