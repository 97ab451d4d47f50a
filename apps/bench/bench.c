/* One pair of skiff-bench (bench.h): the testbed, the server and client
 * processes, the measured runs and their medians.
 *
 * The parent builds the link (a memlink wire, or namespaces and a veth
 * pair), forks the server (pinned to one core) and waits until it serves,
 * then forks the client (pinned to the other). The client runs the load
 * generator whenever the parent sends it a run and answers with the
 * load generator's result and /proc/stat read just before and just after
 * it; the parent closing the pipe ends it. The server shares a small block
 * of memory with the parent, through which the parent reads skiff's
 * counters before and after a run without a system call on the server's
 * path. */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <skiff/skiff.h>

#include "app.h"
#include "echo_server.h"
#include "loadgen.h"
#include "runner.h"
#include "testbed.h"

#define BENCH_PORT 7
#define IP_SERVER  "10.99.0.2"
#define IP_CLIENT  "10.99.0.1"
#define IP_LO	   "127.0.0.1"
/* memlink: frames per end, for both the wire and skiff: skiff's default
 * UMEM size on AF_XDP (SKIFF_FRAME_COUNT_DEFAULT), so that every skiff
 * pair runs with the same number of frames */
#define MEMLINK_FRAMES 16384
/* How long the server and the client may take to come up. */
#define START_TIMEOUT_MS 30000
/* How much longer than planned a run may take (connecting, closing, a
 * stall the load generator reports itself after 10 s) before the parent
 * gives up on the client. */
#define RUN_SLACK_MS 30000
/* TIME_WAIT of both skiff ends: connections of one repetition must not
 * hold PCBs through the next ones. */
#define TIME_WAIT_MS 1000
/* Requests per connection of a run that ends on its deadline. */
#define UNBOUNDED (1u << 30)

static const uint8_t memlink_mac[2][6] = {
	{0x02, 0x53, 0x4b, 0x00, 0x00, 0x02}, /* end 0: the server */
	{0x02, 0x53, 0x4b, 0x00, 0x00, 0x01}, /* end 1: the client */
};

/* Between the server and the parent, in memory both map. */
struct shared {
	int state; /* 0 starting, 1 serving, -errno: failed (note says why) */
	int stop;
	uint32_t req, ack; /* a counter snapshot is asked for / taken */
	struct skiff_stats st;
	struct app_counters c;
	char note[160];
};

/* Parent to client: a run. */
struct cmd {
	unsigned conns;
	uint32_t size;
	uint32_t requests; /* per connection */
	int duration_ms;
	uint64_t seed;
};

/* Client to parent: the result of a run (or, first, of starting). */
struct res {
	int rc; /* 0, or -errno (lg.first_error says why) */
	struct lg_result lg;
	struct bench_cpu cpu0, cpu1;
};

struct ctx {
	const struct bench_pair *pair;
	const struct bench_plan *plan;
	struct shared *sh;
	struct skiff_memlink *wire;
	bool testbed;
	char ns_server[TB_NS_NAME_MAX], ns_client[TB_NS_NAME_MAX];
	char if_server[IF_NAMESIZE], if_client[IF_NAMESIZE];
	struct runner server, client;		  /* the client's pipes carry the runs */
	struct skiff_memlink_stats wire_st[2][2]; /* [end][before, after] of the last run */
};

/* ---- clocks, CPU time, pinning -------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_cpu_read(struct bench_cpu *out)
{
	unsigned long long v[8] = {0};
	char line[512];
	ssize_t n;
	int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	line[n] = '\0';
	/* user nice system idle iowait irq softirq steal [guest guest_nice] */
	if (sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 7)
		return -EIO;
	out->busy = v[0] + v[1] + v[2] + v[5] + v[6];
	out->steal = v[7];
	out->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	return 0;
}

double bench_cpu_hz(void)
{
	long hz = sysconf(_SC_CLK_TCK);

	return hz > 0 ? (double)hz : 100.0;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "skiff-bench: pinning to CPU %d: %s\n", cpu, strerror(errno));
}

/* ---- skiff on either end ---------------------------------------------------- */

/* End 0 is the server's (10.99.0.2), end 1 the client's (10.99.0.1). */
static int skiff_start(struct ctx *x, unsigned end, char *why, size_t len)
{
	struct skiff_config cfg;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	inet_pton(AF_INET, end ? IP_CLIENT : IP_SERVER, &cfg.ipv4);
	cfg.ipv4_prefix = 24;
	cfg.time_wait_ms = TIME_WAIT_MS;
	if (x->pair->net == BENCH_NET_MEMLINK) {
		cfg.backend = SKIFF_BACKEND_MEMLINK;
		cfg.memlink = x->wire;
		cfg.memlink_end = end;
		cfg.frame_count = MEMLINK_FRAMES;
		memcpy(cfg.mac, memlink_mac[end], 6);
	} else {
		/* A private bpffs lets libxdp use its dispatcher, and goes
		 * with this process (the demos do the same). */
		tb_private_bpffs();
		cfg.backend = SKIFF_BACKEND_XSK;
		cfg.ifname = end ? x->if_client : x->if_server;
		cfg.queue = 0;
		cfg.xdp_mode = SKIFF_XDP_AUTO;
	}
	rc = skiff_init(&cfg) ? -errno : 0;
	if (rc)
		snprintf(why, len, "skiff_init on %s: %s",
			 x->pair->net == BENCH_NET_MEMLINK ? "memlink" : cfg.ifname,
			 skiff_last_error()[0] ? skiff_last_error() : strerror(-rc));
	return rc;
}

static const char *skiff_mode(const struct ctx *x)
{
	if (x->pair->net == BENCH_NET_MEMLINK)
		return "memlink, polling";
	return skiff_xdp_zerocopy() ? "AF_XDP zero-copy" : "AF_XDP copy mode";
}

/* ---- the server process ------------------------------------------------------ */

static void take_snapshot(struct shared *sh, bool on_skiff, const struct app_counters *c)
{
	uint32_t req = __atomic_load_n(&sh->req, __ATOMIC_ACQUIRE);

	if (req == sh->ack)
		return;
	if (on_skiff) {
		skiff_get_stats(&sh->st);
		sh->c = *c;
	}
	__atomic_store_n(&sh->ack, req, __ATOMIC_RELEASE);
}

static int server_main(void *arg)
{
	struct ctx *x = arg;
	struct shared *sh = x->sh;
	bool on_skiff = x->pair->server == BENCH_SKIFF;
	/* Nothing moves on memlink unless someone polls: spin there. */
	int wait_ms = x->pair->net == BENCH_NET_MEMLINK ? 0 : 10;
	struct app_counters c = {0};
	/* skiff-echo's on skiff, IPv4 only. */
	struct echo_config ec = {.ops = on_skiff ? &socktab_skiff : &socktab_kernel,
				 .port = BENCH_PORT,
				 .ipv4 = true,
				 .zero_copy = on_skiff,
				 .prog = on_skiff ? "skiff-bench" : NULL,
				 .c = &c};
	struct echo_server *es = NULL;
	int rc = 0;

	pin(x->plan->cpu_server);
	if (on_skiff)
		rc = skiff_start(x, 0, sh->note, sizeof(sh->note));
	if (!rc) {
		rc = echo_server_open(&es, &ec);
		if (rc)
			snprintf(sh->note, sizeof(sh->note), "the %secho server: %s",
				 on_skiff ? "" : "Linux ", strerror(-rc));
		else if (on_skiff)
			snprintf(sh->note, sizeof(sh->note), "skiff (%s)", skiff_mode(x));
		else
			snprintf(sh->note, sizeof(sh->note), "Linux TCP");
	}
	if (rc) {
		if (on_skiff)
			skiff_fini();
		__atomic_store_n(&sh->state, rc < 0 ? rc : -EIO, __ATOMIC_RELEASE);
		return 3;
	}
	__atomic_store_n(&sh->state, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
		echo_server_step(es, wait_ms);
		take_snapshot(sh, on_skiff, &c);
	}
	echo_server_close(es);
	if (on_skiff)
		skiff_fini();
	return 0;
}

/* ---- the client process ------------------------------------------------------ */

static volatile sig_atomic_t run_stop;

/* The load generator calls this once per loop round: end the run on time. */
static void client_tick(void *arg)
{
	if (now_ns() >= *(uint64_t *)arg)
		run_stop = 1;
}

/* A run that ended on its deadline is as good as one that finished. */
static bool run_clean(const struct lg_result *r)
{
	if (r->stalled || r->bad_bytes || !r->requests_done)
		return false;
	return lg_passed(r) || (r->interrupted && r->first_errno == EINTR);
}

static void client_run(struct ctx *x, const struct cmd *c, bool on_skiff, struct res *r)
{
	struct sockaddr_in *a;
	struct lg_config lg;
	uint64_t deadline;
	int rc;

	memset(&lg, 0, sizeof(lg));
	a = (struct sockaddr_in *)&lg.dst;
	a->sin_family = AF_INET;
	a->sin_port = htons(BENCH_PORT);
	inet_pton(AF_INET, x->pair->net == BENCH_NET_LO ? IP_LO : IP_SERVER, &a->sin_addr);
	lg.dst_len = sizeof(*a);
	lg.conns = c->conns;
	lg.requests = c->requests;
	lg.min_size = lg.max_size = c->size;
	lg.seed = c->seed;
	/* skiff over memlink moves only while polled: spin, as the server. */
	lg.wait_ms = on_skiff && x->pair->net == BENCH_NET_MEMLINK ? -1 : 10;
	deadline = now_ns() + (uint64_t)c->duration_ms * 1000000u;
	lg.tick = client_tick;
	lg.tick_arg = &deadline;
	run_stop = 0;
	lg.stop = &run_stop;

	memset(r, 0, sizeof(*r));
	bench_cpu_read(&r->cpu0);
	rc = lg_run(&lg, on_skiff ? &socktab_skiff : &socktab_kernel, &r->lg);
	bench_cpu_read(&r->cpu1);
	if (rc == -EINVAL || rc == -ENOMEM)
		r->rc = rc;
	else
		r->rc = run_clean(&r->lg) ? 0 : -EIO;
}

static void keep_polling(void *arg)
{
	(void)arg;
	skiff_poll(0);
}

static int client_main(void *arg)
{
	struct ctx *x = arg;
	bool on_skiff = x->pair->client == BENCH_SKIFF;
	/* Between runs a skiff client keeps its stack going (closing
	 * handshakes, TIME_WAIT). */
	void (*idle)(void *) = on_skiff ? keep_polling : NULL;
	struct res r;
	struct cmd c;

	pin(x->plan->cpu_client);
	memset(&r, 0, sizeof(r));
	if (on_skiff)
		r.rc = skiff_start(x, 1, r.lg.first_error, sizeof(r.lg.first_error));
	else
		snprintf(r.lg.first_error, sizeof(r.lg.first_error), "Linux TCP");
	if (!r.rc && on_skiff)
		snprintf(r.lg.first_error, sizeof(r.lg.first_error), "skiff (%s)", skiff_mode(x));
	if (runner_child_send(&x->client, &r, sizeof(r)) != 0 || r.rc) {
		if (on_skiff && !r.rc)
			skiff_fini();
		return 3;
	}
	/* Until the parent closes the pipe. */
	while (runner_child_recv(&x->client, &c, sizeof(c), -1, idle, NULL) == 0) {
		client_run(x, &c, on_skiff, &r);
		if (runner_child_send(&x->client, &r, sizeof(r)) != 0)
			break;
	}
	if (on_skiff)
		skiff_fini();
	return 0;
}

/* ---- the parent: the link ----------------------------------------------------- */

static int build_link(struct ctx *x, char *why, size_t len)
{
	const struct bench_pair *p = x->pair;
	int rc;

	if (p->net == BENCH_NET_MEMLINK) {
		struct skiff_memlink_config wc = {.frame_count = MEMLINK_FRAMES};

		rc = skiff_memlink_create(&x->wire, &wc) ? -errno : 0;
		if (rc) {
			snprintf(why, len, "creating the memlink wire: %s", strerror(-rc));
			return rc;
		}
		if (x->plan->loss_ppm) {
			/* Seeded, so that runs with the same seed lose alike. */
			struct skiff_memlink_faults f = {.seed = 1, .drop_ppm = x->plan->loss_ppm};

			skiff_memlink_set_faults(x->wire, 0, &f);
			f.seed = 2;
			skiff_memlink_set_faults(x->wire, 1, &f);
		}
		return 0;
	}
	x->testbed = true;
	rc = tb_ns_create(x->ns_server, sizeof(x->ns_server), "bench");
	if (rc)
		goto out_err;
	if (p->net == BENCH_NET_LO) {
		/* Both ends in one namespace, on its loopback. */
		memcpy(x->ns_client, x->ns_server, sizeof(x->ns_client));
		return 0;
	}
	rc = tb_ns_create(x->ns_client, sizeof(x->ns_client), "benchc");
	/* The kernel's ends get the addresses; skiff's are skiff's own. */
	if (!rc)
		rc = tb_link(x->ns_server, x->if_server,
			     p->server == BENCH_KERNEL ? IP_SERVER "/24" : NULL, x->ns_client,
			     x->if_client, p->client == BENCH_KERNEL ? IP_CLIENT "/24" : NULL, "b");
	/* TX checksum offload on again, which brings TSO back with it: the
	 * kernel's veth at its best. */
	if (!rc && p->net == BENCH_NET_VETH_OFFLOAD) {
		rc = tb_tx_csum(x->ns_server, x->if_server, true);
		if (!rc)
			rc = tb_tx_csum(x->ns_client, x->if_client, true);
	}
	if (!rc)
		return 0;
out_err:
	snprintf(why, len, "building the testbed: %s", strerror(-rc));
	return rc;
}

/* ---- the parent: processes ------------------------------------------------------ */

static int wait_server(struct ctx *x, char *why, size_t len)
{
	uint64_t end = now_ns() + (uint64_t)START_TIMEOUT_MS * 1000000u;
	int st;

	while (!(st = __atomic_load_n(&x->sh->state, __ATOMIC_ACQUIRE))) {
		if (app_stop)
			return -EINTR;
		if (!runner_alive(&x->server)) {
			snprintf(why, len, "the server exited before serving");
			return -ECHILD;
		}
		if (now_ns() > end) {
			snprintf(why, len, "the server did not come up in %d s",
				 START_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
	if (st < 0) {
		snprintf(why, len, "server: %s", x->sh->note);
		return st;
	}
	return 0;
}

/* Reads the client's next answer, waiting up to @p timeout_ms. */
static int wait_res(struct ctx *x, struct res *r, int timeout_ms, char *why, size_t len)
{
	int rc = runner_recv(&x->client, r, sizeof(*r), timeout_ms);

	if (rc == -ETIMEDOUT)
		snprintf(why, len, "the client did not answer in %d s", timeout_ms / 1000);
	else if (rc == -ECHILD)
		snprintf(why, len, "the client exited without an answer");
	return rc;
}

/* The server's counters now (zero for a Linux server). */
static int snapshot(struct ctx *x, struct skiff_stats *st, struct app_counters *c)
{
	uint64_t end = now_ns() + 5000000000ull;
	uint32_t req = x->sh->req + 1;

	__atomic_store_n(&x->sh->req, req, __ATOMIC_RELEASE);
	while (__atomic_load_n(&x->sh->ack, __ATOMIC_ACQUIRE) != req) {
		if (now_ns() > end || !runner_alive(&x->server))
			return -ETIMEDOUT;
		usleep(200);
	}
	*st = x->sh->st;
	*c = x->sh->c;
	return 0;
}

/* ---- the parent: measuring ------------------------------------------------------- */

static void add(struct bench_result *out, enum bench_fig f, double v)
{
	if (out->n[f] < BENCH_MAX_REPS)
		out->v[f][out->n[f]++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *in, unsigned n)
{
	double v[BENCH_MAX_REPS];

	memcpy(v, in, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_finish(struct bench_result *out)
{
	bool any = false;

	for (unsigned f = 0; f < BF_COUNT; f++) {
		out->have[f] = out->n[f] > 0;
		if (out->have[f])
			out->fig[f] = median(out->v[f], out->n[f]);
		any |= out->have[f];
	}
	out->ok = any && !out->failed;
}

struct run {
	const char *label;
	unsigned conns;
	uint32_t size;
	uint32_t requests;
	int duration_ms;
};

/* The server's counters (when it is skiff) and the wire's, before (0) or
 * after (1) a run. */
static int take_counters(struct ctx *x, unsigned when, struct skiff_stats st[2],
			 struct app_counters c[2], char *why, size_t len)
{
	if (x->pair->server == BENCH_SKIFF && snapshot(x, &st[when], &c[when]) != 0) {
		snprintf(why, len, "the server does not answer");
		return -ETIMEDOUT;
	}
	if (x->wire) {
		skiff_memlink_get_stats(x->wire, 0, &x->wire_st[0][when]);
		skiff_memlink_get_stats(x->wire, 1, &x->wire_st[1][when]);
	}
	return 0;
}

/* One run; with the server's counters before and after when it is skiff. */
static int run_once(struct ctx *x, const struct run *run, unsigned rep, struct res *r,
		    struct skiff_stats st[2], struct app_counters c[2], char *why, size_t len)
{
	struct cmd cmd = {.conns = run->conns,
			  .size = run->size,
			  .requests = run->requests,
			  .duration_ms = run->duration_ms,
			  .seed = rep + 1};
	int rc;

	rc = take_counters(x, 0, st, c, why, len);
	if (rc)
		return rc;
	if (runner_send(&x->client, &cmd, sizeof(cmd)) != 0) {
		snprintf(why, len, "the client is gone");
		return -ECHILD;
	}
	rc = wait_res(x, r, run->duration_ms + RUN_SLACK_MS, why, len);
	if (rc)
		return rc;
	if (r->rc) {
		snprintf(why, len, "%s: %llu requests answered, %llu bad bytes%s; first error: %s",
			 run->label, (unsigned long long)r->lg.requests_done,
			 (unsigned long long)r->lg.bad_bytes, r->lg.stalled ? ", stalled" : "",
			 r->lg.first_error[0] ? r->lg.first_error : "none");
		return r->rc;
	}
	return take_counters(x, 1, st, c, why, len);
}

/* --verbose: what the server's stack (and the memlink wire) did in a run. */
static void print_deltas(const struct ctx *x, const struct skiff_stats st[2],
			 const struct skiff_memlink_stats w0[2],
			 const struct skiff_memlink_stats w1[2])
{
	const struct skiff_stats *a = &st[0], *b = &st[1];

#define D(f) (unsigned long long)(b->f - a->f)
	printf("    server: rx %llu tx %llu frames; copied rx %llu tx %llu B (tx in place %llu); "
	       "zc sends %llu copied %llu; retransmits %llu (fast %llu, rto %llu, sack %llu)\n",
	       D(rx_frames), D(tx_frames), D(rx_copied_bytes), D(tx_copied_bytes), D(tx_inplace),
	       D(zc_sends), D(zc_sends_copied), D(tcp_retransmits), D(tcp_fast_recoveries),
	       D(tcp_timeouts), D(tcp_sack_retransmits));
	printf("    server: xdp rx dropped %llu, rx ring full %llu, fill empty %llu; tx ring full "
	       "%llu, no frame %llu; tcp rx drop %llu, ooseq %llu\n",
	       D(xdp_rx_dropped), D(xdp_rx_ring_full), D(xdp_fill_ring_empty), D(tx_drop_ring_full),
	       D(tx_drop_no_frame), D(tcp_rx_drop), D(tcp_ooseq));
#undef D
	if (x->wire)
		printf("    memlink: to the client %llu sent, %llu lost (no fill %llu, rx full %llu); "
		       "to the server %llu sent, %llu lost (no fill %llu, rx full %llu)\n",
		       (unsigned long long)(w0[1].sent - w0[0].sent),
		       (unsigned long long)(w0[1].no_fill + w0[1].rx_full - w0[0].no_fill -
					    w0[0].rx_full),
		       (unsigned long long)(w0[1].no_fill - w0[0].no_fill),
		       (unsigned long long)(w0[1].rx_full - w0[0].rx_full),
		       (unsigned long long)(w1[1].sent - w1[0].sent),
		       (unsigned long long)(w1[1].no_fill + w1[1].rx_full - w1[0].no_fill -
					    w1[0].rx_full),
		       (unsigned long long)(w1[1].no_fill - w1[0].no_fill),
		       (unsigned long long)(w1[1].rx_full - w1[0].rx_full));
}

static double busy_s(const struct res *r)
{
	return (double)(r->cpu1.busy - r->cpu0.busy) / bench_cpu_hz();
}

/* The share of the machine the hypervisor took in a run: noise too. */
static double steal(const struct res *r)
{
	uint64_t all = r->cpu1.total - r->cpu0.total;

	return all ? (double)(r->cpu1.steal - r->cpu0.steal) / (double)all : 0;
}

static double per_byte(uint64_t copied, uint64_t bytes)
{
	return bytes ? (double)copied / (double)bytes : 0;
}

static int measure(struct ctx *x, unsigned round, struct bench_result *out)
{
	const struct bench_plan *p = x->plan;
	const struct run runs[] = {
		{"echo64 c1", 1, p->echo_size, UNBOUNDED, p->echo_ms},
		{"echo64 c64", 64, p->echo_size, UNBOUNDED, p->echo_ms},
		{"bulk", 1, p->bulk_size, (uint32_t)(p->bulk_bytes / p->bulk_size), p->bulk_ms},
	};
	const struct run warmup = {"warm-up", 64, p->echo_size, UNBOUNDED, p->warmup_ms};
	bool counters = x->pair->server == BENCH_SKIFF;
	struct skiff_stats st[2];
	struct app_counters c[2];
	const char *name = x->pair->name;
	struct res r;
	int rc;

	if (p->warmup_ms > 0) {
		rc = run_once(x, &warmup, round, &r, st, c, out->error, sizeof(out->error));
		if (rc)
			return rc;
	}
	for (unsigned k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
		if (p->skip & (1u << k))
			continue;
		{
			const struct lg_result *g = &r.lg;
			double secs, cpu, rps;
			uint64_t bytes = 0, copied = 0;

			rc = run_once(x, &runs[k], round, &r, st, c, out->error,
				      sizeof(out->error));
			if (rc)
				return rc;
			secs = g->elapsed_s > 0 ? g->elapsed_s : 1e-9;
			if (steal(&r) > out->steal_max)
				out->steal_max = steal(&r);
			rps = (double)g->requests_done / secs;
			cpu = busy_s(&r);
			if (counters) {
				bytes = c[1].bytes - c[0].bytes;
				copied = st[1].rx_copied_bytes - st[0].rx_copied_bytes +
					 st[1].tx_copied_bytes - st[0].tx_copied_bytes;
				if (k > 0)
					out->retransmits +=
						st[1].tcp_retransmits - st[0].tcp_retransmits;
			}
			if (k < 2) {
				enum bench_fig base = k == 0 ? BF_C1_RPS : BF_C64_RPS;

				add(out, base, rps);
				add(out, base + 1, g->lat_p50_us);
				add(out, base + 2, g->lat_p99_us);
				add(out, base + 3, cpu / (double)g->requests_done * 1e6);
				if (k == 1 && counters)
					add(out, BF_COPIES_ECHO, per_byte(copied, bytes));
				printf("  %-20s %-10s %u/%u %8.0f req/s  p50 %7.1f us  p99 %7.1f us  "
				       "CPU %6.2f s/Mreq  (%.2f s, steal %.0f%%)\n",
				       name, runs[k].label, round + 1, p->reps, rps, g->lat_p50_us,
				       g->lat_p99_us, cpu / (double)g->requests_done * 1e6, secs,
				       steal(&r) * 100);
			} else {
				double gbps = (double)g->bytes_verified * 8 / secs / 1e9;

				add(out, BF_BULK_GBPS, gbps);
				add(out, BF_BULK_CPU, cpu / ((double)g->bytes_verified / 1e9));
				if (counters) {
					add(out, BF_COPIES, per_byte(copied, bytes));
					add(out, BF_APP_COPIES,
					    per_byte(c[1].app_copied_bytes - c[0].app_copied_bytes,
						     bytes));
				}
				printf("  %-20s %-10s %u/%u %8.3f Gbit/s each way  CPU %6.3f s/GB  "
				       "(%.2f s, %.2f GB, steal %.0f%%)\n",
				       name, runs[k].label, round + 1, p->reps, gbps,
				       cpu / ((double)g->bytes_verified / 1e9), secs,
				       (double)g->bytes_verified / 1e9, steal(&r) * 100);
			}
			if (p->verbose && counters)
				print_deltas(x, st, x->wire_st[0], x->wire_st[1]);
			fflush(stdout);
			if (app_stop)
				return -EINTR;
		}
	}
	return 0;
}

/* Forks @p r to run @p main; says why it could not. */
static int start(struct ctx *x, struct runner *r, const char *ns, int (*main)(void *), char *why,
		 size_t len)
{
	int rc = runner_start(r, x->testbed ? ns : NULL, main, x);

	if (rc)
		snprintf(why, len, "fork: %s", strerror(-rc));
	return rc;
}

int bench_run_pair(const struct bench_pair *pair, const struct bench_plan *plan, unsigned round,
		   struct bench_result *out)
{
	struct ctx x = {.pair = pair, .plan = plan, .client.stop = &app_stop};
	struct res hello;
	int rc;

	x.sh = mmap(NULL, sizeof(*x.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (x.sh == MAP_FAILED) {
		snprintf(out->error, sizeof(out->error), "mmap: %s", strerror(errno));
		return -ENOMEM;
	}
	memset(x.sh, 0, sizeof(*x.sh));
	rc = build_link(&x, out->error, sizeof(out->error));
	/* The server first: the client connects to it. Neither inherits an
	 * AF_XDP socket: the parent never opens one. */
	if (!rc)
		rc = start(&x, &x.server, x.ns_server, server_main, out->error, sizeof(out->error));
	if (!rc)
		rc = wait_server(&x, out->error, sizeof(out->error));
	if (!rc)
		rc = start(&x, &x.client, x.ns_client, client_main, out->error, sizeof(out->error));
	if (!rc)
		rc = wait_res(&x, &hello, START_TIMEOUT_MS, out->error, sizeof(out->error));
	if (!rc && hello.rc) {
		rc = hello.rc;
		snprintf(out->error, sizeof(out->error), "client: %s", hello.lg.first_error);
	}
	if (rc)
		goto out_teardown;
	if (!out->mode[0]) {
		snprintf(out->mode, sizeof(out->mode), "server %s, client %s", x.sh->note,
			 hello.lg.first_error);
		printf("  %s: %s; %s\n", pair->name, pair->what, out->mode);
		fflush(stdout);
	}
	rc = measure(&x, round, out);

out_teardown:
	if (rc == -EINTR)
		snprintf(out->error, sizeof(out->error), "interrupted");
	runner_stop(&x.client, 3000);
	__atomic_store_n(&x.sh->stop, 1, __ATOMIC_RELEASE);
	runner_stop(&x.server, 5000);
	if (x.testbed)
		tb_destroy();
	skiff_memlink_destroy(x.wire);
	munmap(x.sh, sizeof(*x.sh));
	return rc;
}
