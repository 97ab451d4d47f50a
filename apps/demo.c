/* The demos' driver (demo.h): serving on an interface, and the embedded
 * default over a veth testbed or, without root or AF_XDP, over memlink. */
#define _GNU_SOURCE
#include "demo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <skiff/umem.h>

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

/* ---- serving ------------------------------------------------------------ */

/* The loop both modes run: serve, print counters, until a signal or
 * until @p done says so. */
static void serve_loop(const struct app_opts *o, struct app_server *srv, struct report *r,
		       int wait_ms, bool (*done)(void *), void *arg)
{
	while (!app_stop) {
		srv->step(srv, o->busy_poll ? 0 : wait_ms);
		report_tick(r, &srv->c);
		if (done && done(arg))
			break;
	}
}

/* What to change when a forced mode was refused. */
static void init_hint(const struct app_opts *o, int rc)
{
	if (rc == -EOPNOTSUPP && o->xdp_mode == SKIFF_XDP_ZEROCOPY)
		fprintf(stderr, "%s: hint: without -z skiff falls back to copy mode\n", o->prog);
}

static int init_failed(const struct app_opts *o, int rc)
{
	const char *why = skiff_last_error();

	fprintf(stderr, "%s: starting skiff failed: %s\n", o->prog,
		why && why[0] ? why : strerror(-rc));
	init_hint(o, rc);
	return app_init_exit_code(rc);
}

static int serve_interface(const struct app_opts *o, struct app_server *srv)
{
	struct skiff_config cfg;
	struct report r;
	int rc;

	app_check_interface(o);
	app_signals_install(NULL);
	app_skiff_config(o, &cfg);
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc)
		return init_failed(o, rc);
	report_banner(stdout, o, NULL);
	rc = srv->start(srv, o);
	if (rc) {
		skiff_fini();
		return app_init_exit_code(rc);
	}
	printf("%s: serving; Ctrl-C prints the totals and stops\n", o->prog);
	fflush(stdout);
	report_start(&r, stdout, o);
	serve_loop(o, srv, &r, 50, NULL, NULL);
	report_totals(&r, &srv->c);
	srv->stop(srv);
	skiff_fini();
	return APP_EXIT_OK;
}

/* ---- the embedded default: the peer's side ------------------------------ */

struct peer {
	const struct app_opts *o;
	struct lg_config lg;
	int go_rd, go_wr;   /* the server says go */
	int res_rd, res_wr; /* the client's struct lg_result */
	/* memlink */
	struct skiff_memlink *wire;
	bool upstream_echo; /* the peer also runs the proxy's upstream */
	struct echod *echod;
	/* the parent's view */
	pid_t client;
	bool have_result;
	bool child_gone;
	int child_status;
	struct lg_result res;
	char fail[sizeof(((struct lg_result *)0)->first_error)];
};

static int make_pipes(struct peer *p)
{
	int go[2], res[2];

	if (pipe2(go, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(res, O_CLOEXEC) != 0) {
		int e = -errno;

		close(go[0]);
		close(go[1]);
		return e;
	}
	p->go_rd = go[0];
	p->go_wr = go[1];
	p->res_rd = res[0];
	p->res_wr = res[1];
	return 0;
}

static void close_pipes(struct peer *p)
{
	int *fds[] = {&p->go_rd, &p->go_wr, &p->res_rd, &p->res_wr};

	for (unsigned i = 0; i < 4; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* SIGUSR1 from the server's side: stop early, report what was done. */
static volatile sig_atomic_t peer_stop;

static void on_peer_stop(int sig)
{
	(void)sig;
	peer_stop = 1;
}

static void peer_signals(struct peer *p)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_peer_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	p->lg.stop = &peer_stop;
}

/* In the child: waits for the server's go (or its end of the pipe closing),
 * running @p idle meanwhile. */
static bool wait_go(struct peer *p, void (*idle)(struct peer *))
{
	struct pollfd pfd = {.fd = p->go_rd, .events = POLLIN};
	char c;

	for (int waited = 0; waited < GO_TIMEOUT_MS && !peer_stop; waited += 10) {
		int n;

		if (idle)
			idle(p);
		n = poll(&pfd, 1, idle ? 0 : 10);
		if (n > 0)
			return read(p->go_rd, &c, 1) == 1;
		if (idle)
			usleep(1000);
	}
	return false;
}

static void send_result(struct peer *p, const struct lg_result *r)
{
	if (write(p->res_wr, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		fprintf(stderr, "%s: client: cannot report the result: %s\n", p->o->prog,
			strerror(errno));
}

/* Linux TCP clients, in the client's namespace. */
static int kernel_client_main(void *arg)
{
	struct peer *p = arg;
	struct lg_result r;

	peer_signals(p);
	close(p->go_wr);
	close(p->res_rd);
	if (!wait_go(p, NULL)) {
		fprintf(stderr, "%s: client: skiff never came up\n", p->o->prog);
		return 3;
	}
	lg_run(&p->lg, &lg_kernel_ops, &r);
	send_result(p, &r);
	return 0;
}

/* A Linux echo server: skiff-proxy's upstream, in the server's namespace. */
static int kernel_echod_main(void *arg)
{
	struct peer *p = arg;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(UPSTREAM_PORT)};
	struct echod *e;
	int rc;

	rc = echod_create(&e, &lg_kernel_ops, (struct sockaddr *)&a, sizeof(a));
	if (rc) {
		fprintf(stderr, "%s: upstream echo server: %s\n", p->o->prog, strerror(-rc));
		return 3;
	}
	return echod_run(e, NULL) ? 3 : 0;
}

static void memlink_peer_idle(struct peer *p)
{
	if (p->echod)
		echod_serve(p->echod, 0);
	else
		skiff_poll(0);
}

static void memlink_peer_tick(void *arg)
{
	struct peer *p = arg;

	if (p->echod)
		echod_serve(p->echod, 0);
}

/* The second skiff process on the wire's end 1: the client, and for
 * skiff-proxy also the upstream echo server. */
static int memlink_peer_main(void *arg)
{
	struct peer *p = arg;
	struct skiff_config cfg = {.backend = SKIFF_BACKEND_MEMLINK};
	struct lg_result r;
	int rc;

	peer_signals(p);
	close(p->go_wr);
	close(p->res_rd);
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
	if (p->upstream_echo) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(UPSTREAM_PORT)};

		rc = echod_create(&p->echod, &lg_skiff_ops, (struct sockaddr *)&a, sizeof(a));
		if (rc)
			fprintf(stderr, "%s: peer: upstream echo server: %s\n", p->o->prog,
				strerror(-rc));
	}
	if (!wait_go(p, memlink_peer_idle)) {
		skiff_fini();
		return 3;
	}
	/* Nothing moves on the wire unless someone polls: spin. */
	p->lg.wait_ms = -1;
	p->lg.tick = memlink_peer_tick;
	p->lg.tick_arg = p;
	lg_run(&p->lg, &lg_skiff_ops, &r);
	send_result(p, &r);
	echod_destroy(p->echod);
	skiff_fini();
	return 0;
}

/* ---- the embedded default: the server's side ----------------------------- */

/* serve_loop's stop condition: the client's result came in, or it died. */
static bool client_done(void *arg)
{
	struct peer *p = arg;
	struct pollfd pfd = {.fd = p->res_rd, .events = POLLIN};
	pid_t r;

	if (!p->have_result && poll(&pfd, 1, 0) > 0) {
		ssize_t n = read(p->res_rd, &p->res, sizeof(p->res));

		if (n == (ssize_t)sizeof(p->res))
			p->have_result = true;
		else if (!p->fail[0])
			snprintf(p->fail, sizeof(p->fail), "the client ended without a result");
	}
	if (p->have_result)
		return true;
	r = waitpid(p->client, &p->child_status, WNOHANG);
	if (r == p->client) {
		p->child_gone = true;
		tb_forget_child(p->client);
		/* Its result may have landed just before it exited. */
		if (poll(&pfd, 1, 0) > 0 &&
		    read(p->res_rd, &p->res, sizeof(p->res)) == (ssize_t)sizeof(p->res)) {
			p->have_result = true;
			return true;
		}
		if (!p->fail[0])
			snprintf(p->fail, sizeof(p->fail),
				 "the client exited (status %d) without a result",
				 WIFEXITED(p->child_status) ? WEXITSTATUS(p->child_status)
							    : 128 + WTERMSIG(p->child_status));
		return true;
	}
	return false;
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
static int run_server_side(const struct app_opts *eo, struct app_server *srv, struct peer *p,
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
	if (write(p->go_wr, &go, 1) != 1)
		snprintf(p->fail, sizeof(p->fail), "cannot start the client: %s", strerror(errno));
	else
		serve_loop(eo, srv, &r, wait_ms, client_done, p);
	if (app_stop && !p->have_result) {
		/* Ask the client for what it got so far, serving meanwhile. */
		double end = report_now() + 3;

		kill(p->client, SIGUSR1);
		while (report_now() < end && !client_done(p))
			srv->step(srv, wait_ms < 10 ? wait_ms : 10);
		if (!p->have_result)
			snprintf(p->fail, sizeof(p->fail), "interrupted");
	}
	report_totals(&r, &srv->c);
	srv->stop(srv);
	if (!p->have_result) {
		/* The verdict line says why there is no result. */
		p->res.requests_planned = (uint64_t)p->lg.conns * p->lg.requests;
		p->res.conns = p->lg.conns;
		p->res.interrupted = app_stop;
		snprintf(p->res.first_error, sizeof(p->res.first_error), "%s",
			 p->fail[0] ? p->fail : "no result from the client");
	}
	lg_print(stdout, eo->kind == APP_PROXY ? "client through skiff-proxy" : "client", &p->res);
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
		init_hint(o, rc);
		return app_init_exit_code(rc);
	}
	fprintf(stderr, "%s: AF_XDP on the testbed's veth failed: %s\n", o->prog,
		why && why[0] ? why : strerror(-rc));
	return RUN_FALLBACK;
}

static int run_veth(const struct app_opts *o, struct app_server *srv)
{
	char ns_skiff[TB_NS_NAME_MAX], ns_client[TB_NS_NAME_MAX], ns_server[TB_NS_NAME_MAX];
	char if_skiff[IF_NAMESIZE], if_client[IF_NAMESIZE], if_up[IF_NAMESIZE],
		if_router[IF_NAMESIZE];
	bool proxy = o->kind == APP_PROXY;
	struct skiff_config cfg;
	struct app_opts eo = *o;
	struct peer p = {.o = o, .go_rd = -1, .go_wr = -1, .res_rd = -1, .res_wr = -1};
	char line[256], tbed[256];
	int rc;

	if (make_pipes(&p))
		return APP_EXIT_FAIL;
	rc = tb_ns_create(ns_skiff, sizeof(ns_skiff), "skiff");
	if (!rc)
		rc = tb_ns_create(ns_client, sizeof(ns_client), "client");
	if (!rc && proxy)
		rc = tb_ns_create(ns_server, sizeof(ns_server), "server");
	if (!rc)
		rc = tb_veth(ns_skiff, if_skiff, ns_client, if_client, proxy ? "p" : "e", 1);
	if (!rc)
		rc = tb_addr(ns_client, if_client, proxy ? NETP_CLIENT "/24" : NET_CLIENT "/24");
	if (!rc)
		rc = tb_addr(ns_client, if_client, NET6_CLIENT "/64");
	if (!rc && proxy) {
		/* The client's namespace routes between skiff and the server. */
		rc = tb_veth(ns_server, if_up, ns_client, if_router, "u", 1);
		if (!rc)
			rc = tb_addr(ns_server, if_up, NETP_SERVER "/24");
		if (!rc)
			rc = tb_addr(ns_client, if_router, NETP_ROUTER "/24");
		if (!rc)
			rc = tb_ip(ns_server, "route", "add", "default", "via", NETP_ROUTER,
				   (char *)NULL);
		if (!rc)
			rc = tb_sysctl(ns_client, "net/ipv4/ip_forward", "1");
	}
	if (rc) {
		fprintf(stderr, "%s: building the testbed failed: %s\n", o->prog, strerror(-rc));
		close_pipes(&p);
		return RUN_FALLBACK;
	}

	/* Children first: they must not inherit the AF_XDP socket. */
	load_config(o, &p.lg, proxy ? NETP_SKIFF : NET_SKIFF, o->port);
	if (proxy && tb_spawn(ns_server, kernel_echod_main, &p) < 0)
		rc = -ECHILD;
	if (!rc && (p.client = tb_spawn(ns_client, kernel_client_main, &p)) < 0)
		rc = -ECHILD;
	close(p.go_rd);
	close(p.res_wr);
	p.go_rd = p.res_wr = -1;
	if (rc) {
		fprintf(stderr, "%s: starting the testbed's processes failed\n", o->prog);
		close_pipes(&p);
		return APP_EXIT_FAIL;
	}

	/* The server's side: skiff in its own namespace. */
	tb_private_bpffs(); /* without it libxdp loads its program without a dispatcher */
	rc = tb_enter(ns_skiff);
	if (rc) {
		fprintf(stderr, "%s: entering %s: %s\n", o->prog, ns_skiff, strerror(-rc));
		close_pipes(&p);
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
		struct sockaddr_in *u = (struct sockaddr_in *)&eo.upstream;

		eo.have_gw4 = true;
		inet_pton(AF_INET, NETP_CLIENT, &eo.gw4);
		memset(&eo.upstream, 0, sizeof(eo.upstream));
		u->sin_family = AF_INET;
		u->sin_port = htons(UPSTREAM_PORT);
		inet_pton(AF_INET, NETP_SERVER, &u->sin_addr);
		eo.upstream_len = sizeof(*u);
		snprintf(eo.upstream_str, sizeof(eo.upstream_str), "%s:%u (Linux echo server, %s)",
			 NETP_SERVER, UPSTREAM_PORT, ns_server);
	}
	app_skiff_config(&eo, &cfg);
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc) {
		rc = veth_init_failed(o, rc);
		close_pipes(&p);
		tb_destroy();
		return rc;
	}
	snprintf(line, sizeof(line), "Linux TCP from namespace %s (%s on %s)", ns_client,
		 proxy ? NETP_CLIENT : NET_CLIENT, if_client);
	snprintf(tbed, sizeof(tbed), "namespaces %s, %s%s%s; veth %s <-> %s", ns_skiff, ns_client,
		 proxy ? ", " : "", proxy ? ns_server : "", if_skiff, if_client);
	rc = run_server_side(&eo, srv, &p, NULL, line, tbed, 20);
	skiff_fini();
	close_pipes(&p);
	tb_destroy();
	return rc;
}

static int run_memlink(const struct app_opts *o, struct app_server *srv)
{
	struct skiff_memlink_config wc = {.frame_count = MEMLINK_FRAMES};
	struct skiff_config cfg = {.backend = SKIFF_BACKEND_MEMLINK};
	struct peer p = {.o = o, .go_rd = -1, .go_wr = -1, .res_rd = -1, .res_wr = -1};
	bool proxy = o->kind == APP_PROXY;
	struct app_opts eo = *o;
	int rc;

	rc = skiff_memlink_create(&p.wire, &wc) ? -errno : 0;
	if (rc) {
		fprintf(stderr, "%s: creating the memlink wire failed: %s\n", o->prog,
			strerror(-rc));
		return APP_EXIT_FAIL;
	}
	if (make_pipes(&p)) {
		skiff_memlink_destroy(p.wire);
		return APP_EXIT_FAIL;
	}
	load_config(o, &p.lg, NET_SKIFF, o->port);
	p.upstream_echo = proxy;
	/* Fork before either end creates its UMEM (skiff_memlink_create). */
	p.client = tb_spawn(NULL, memlink_peer_main, &p);
	close(p.go_rd);
	close(p.res_wr);
	p.go_rd = p.res_wr = -1;
	if (p.client < 0) {
		fprintf(stderr, "%s: starting the peer process failed: %s\n", o->prog,
			strerror((int)-p.client));
		close_pipes(&p);
		skiff_memlink_destroy(p.wire);
		return APP_EXIT_FAIL;
	}
	eo.have_ip4 = true;
	inet_pton(AF_INET, NET_SKIFF, &eo.ip4);
	eo.prefix4 = 24;
	eo.have_ip6 = false;
	if (proxy) {
		struct sockaddr_in *u = (struct sockaddr_in *)&eo.upstream;

		memset(&eo.upstream, 0, sizeof(eo.upstream));
		u->sin_family = AF_INET;
		u->sin_port = htons(UPSTREAM_PORT);
		inet_pton(AF_INET, NET_CLIENT, &u->sin_addr);
		eo.upstream_len = sizeof(*u);
		snprintf(eo.upstream_str, sizeof(eo.upstream_str),
			 "%s:%u (the peer's skiff echo server)", NET_CLIENT, UPSTREAM_PORT);
	}
	cfg.memlink = p.wire;
	cfg.memlink_end = 0;
	cfg.frame_count = MEMLINK_FRAMES;
	memcpy(cfg.mac, memlink_mac[0], 6);
	cfg.ipv4 = eo.ip4;
	cfg.ipv4_prefix = 24;
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc) {
		rc = init_failed(o, rc);
		tb_stop_child(p.client, 500);
		close_pipes(&p);
		skiff_memlink_destroy(p.wire);
		return rc == APP_EXIT_USAGE ? APP_EXIT_FAIL : rc;
	}
	/* Nothing moves on the wire unless someone polls: spin. */
	eo.busy_poll = true;
	rc = run_server_side(&eo, srv, &p,
			     "memlink end 0: a shared-memory wire to a second skiff process",
			     "a second skiff process on memlink end 1 (" NET_CLIENT ")", NULL, 0);
	skiff_fini();
	tb_stop_child(p.client, 2000);
	close_pipes(&p);
	skiff_memlink_destroy(p.wire);
	return rc;
}

/* Root, iproute2, namespaces and AF_XDP sockets: the veth testbed can work. */
static bool xsk_possible(char *why, size_t len)
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

int app_main(const struct app_opts *o, struct app_server *srv)
{
	char why[200];
	int rc;

	if (o->ifname)
		return serve_interface(o, srv);
	tb_init(o->prog);
	app_signals_install(tb_emergency);
	if (o->force_memlink)
		return run_memlink(o, srv);
	if (!xsk_possible(why, sizeof(why))) {
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
