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
 * path.
 *
 * The scale run keeps a load generator session open in the client across
 * several commands (open N connections and hold them; run the closed loop
 * for a window; close), so that the parent can time the opening, read the
 * server's memory with the connections idle, and count requests over a
 * window that starts only once all N are established.
 *
 * The cost run uses the same session commands, with the server re-executed
 * under callgrind (valgrind --tool=callgrind --instr-atstart=no): the
 * parent arms a window in the shared block (bytes to let through as a
 * warm-up, then bytes to measure), the server switches instrumentation on
 * once the warm-up bytes are echoed and dumps the profile once the window's
 * are, then tells the client to stop its load. Instructions counted and
 * bytes echoed come from the same process between the same two points. */
#define _GNU_SOURCE
#include "bench.h"
#include "loss.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#else
#define HAVE_CALLGRIND 0
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

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

/* The scale run. A client has one address, and a peer address and port
 * give it 28,232 ephemeral ports (32768..60999, Linux's and lwIP's): the
 * server listens on ceil(N / SCALE_PER_PORT) consecutive ports from
 * BENCH_PORT and connection i goes to the (i mod that)-th; Linux clients
 * also leave from SCALE_SRC addresses in turn. */
#define SCALE_PER_PORT 25000
#define SCALE_BACKLOG  65535
#define SCALE_SRC      8
/* Handshakes under way at once while the steps other than the timed one
 * (BENCH_SCALE_OPEN_N, all at once) open: their opening only sets the
 * step up, and a burst of 100,000 SYNs overflows a 2048-slot RX ring many
 * times over (each loss a 1 s SYN timeout). */
#define SCALE_PACE 1000
/* Descriptors a Linux process keeps for other things than sockets. */
#define SCALE_FD_SLACK 1024
/* Linux client processes at most: where RLIMIT_NOFILE cannot be raised
 * (no CAP_SYS_RESOURCE), the connections are spread over several. */
#define SCALE_WORKERS 16
/* After the last connection is established and accepted, before the
 * server's memory is read: delayed ACKs and the like go out. */
#define SCALE_SETTLE_MS 1000
/* How long the server may take to accept, or to see closed, every
 * connection of a step once the client is done. */
#define SCALE_SERVER_MS 60000
/* How long a skiff client waits for its TIME-WAITs to end after a step,
 * so that the next step finds every port free. */
#define SCALE_DRAIN_MS 15000

/* The cost run. Under callgrind the server is some 50 times slower: it may
 * take this long to come up (valgrind loading, the UMEM touched) ... */
#define COST_START_MS 180000
/* ... to answer a counter snapshot in the middle of a big batch ... */
#define COST_SNAPSHOT_MS 120000
/* ... and a window (its warm-up included) may take this long at most. */
#define COST_WINDOW_MS 1800000
/* Functions of the profile printed with --verbose. */
#define COST_TOP 15

const unsigned bench_scale_n[BENCH_SCALE_STEPS] = {64, 1000, BENCH_SCALE_OPEN_N,
						   BENCH_SCALE_IDLE_N};

/* Linux clients' addresses in the scale run: IP_CLIENT and these. */
static const char *const scale_src[SCALE_SRC] = {IP_CLIENT,    "10.99.0.11", "10.99.0.12",
						 "10.99.0.13", "10.99.0.14", "10.99.0.15",
						 "10.99.0.16", "10.99.0.17"};

static const uint8_t memlink_mac[2][6] = {
	{0x02, 0x53, 0x4b, 0x00, 0x00, 0x02}, /* end 0: the server */
	{0x02, 0x53, 0x4b, 0x00, 0x00, 0x01}, /* end 1: the client */
};

/* Between the server, the client and the parent, in memory all three map. */
struct shared {
	int state; /* 0 starting, 1 serving, -errno: failed (note says why) */
	int stop;
	uint32_t req, ack; /* a counter snapshot is asked for / taken */
	struct skiff_stats st;
	struct app_counters c;
	char note[160];
	/* The server's accepts as they happen (either TCP). */
	uint64_t accepted;    /* connections accepted so far */
	uint64_t accepted_ns; /* CLOCK_MONOTONIC of the round that accepted the last */
	uint32_t open;	      /* connections open now */
	/* The clients' progress in the scale run, one slot per process. */
	uint32_t established[SCALE_WORKERS];
	uint64_t requests[SCALE_WORKERS];
	/* The cost run. */
	struct {
		/* what the re-executed server needs of the parent's ctx */
		struct bench_plan plan;
		enum bench_net net;
		char pair[32];
		char if_server[IF_NAMESIZE];
		/* the parent arms a window ... */
		uint32_t arm;	     /* its number, the last one armed */
		uint64_t warm_bytes; /* echoed before the count starts */
		uint64_t bytes;	     /* echoed while it runs */
		char label[32];	     /* the dump's */
		/* ... the server measures it */
		uint32_t done;	   /* the number of the last window measured */
		uint32_t dumps;	   /* profiles dumped: the last is <out>.<dumps> */
		uint64_t measured; /* bytes echoed in it */
		int load_stop;	   /* the client's load ends (the window is over) */
	} cost;
};

/* Parent to client. */
enum cmd_op {
	CMD_RUN,   /* a run of the load generator from start to end */
	CMD_OPEN,  /* scale: open conns connections and hold them */
	CMD_LOAD,  /* scale: the closed loop over them, warmup_ms then duration_ms */
	CMD_CLOSE, /* scale: close them */
	CMD_STATS, /* scale: nothing but the client's counters */
};

struct cmd {
	enum cmd_op op;
	unsigned conns;
	unsigned ports; /* CMD_OPEN: the server ports to spread them over */
	unsigned pace;	/* CMD_OPEN: handshakes under way at most (0: all at once) */
	uint32_t size;
	uint32_t requests; /* per connection */
	int duration_ms;
	int warmup_ms;
	uint64_t seed;
};

/* Client to parent: the result of a run (or, first, of starting). */
struct res {
	int rc; /* 0, or -errno (lg.first_error says why) */
	struct lg_result lg;
	struct bench_cpu cpu0, cpu1;
	double rps;	       /* CMD_LOAD: requests answered per second in the window */
	struct skiff_stats st; /* a skiff client's counters after the command */
};

/* Each message arrives whole (runner.h). */
_Static_assert(sizeof(struct res) <= PIPE_BUF, "struct res must fit in one pipe write");

/* A process's resident memory, KiB. */
struct mem {
	uint64_t rss;  /* all of it */
	uint64_t anon; /* of which anonymous (the heap: not shared memory, not files) */
};

struct ctx {
	const struct bench_pair *pair;
	const struct bench_plan *plan;
	struct shared *sh;
	struct skiff_memlink *wire;
	bool testbed;
	char ns_server[TB_NS_NAME_MAX], ns_client[TB_NS_NAME_MAX];
	char if_server[IF_NAMESIZE], if_client[IF_NAMESIZE];
	struct runner server, client; /* the client's pipes carry the runs */
	/* A Linux client of the scale run over more connections than one
	 * process may hold: client processes 1 .. workers - 1 (0 is client). */
	struct runner more[SCALE_WORKERS - 1];
	unsigned workers;			  /* client processes started */
	unsigned self;				  /* in a client process: which one it is */
	unsigned fd_cap;			  /* sockets one Linux process may hold here */
	struct skiff_memlink_stats wire_st[2][2]; /* [end][before, after] of the last run */
	const struct bench_at *at;
	struct mem mem0;	      /* the server's resident memory before any connection */
	struct skiff_stats client_st; /* a skiff client's counters after the last scale step */
	bool progress_shown;	      /* a progress line is on the terminal */
	bool cost;		      /* the cost run's session: the server under callgrind */
	bool in_callgrind;	      /* in the server: this process is the re-executed one */
	int sh_fd;		      /* the shared block's memfd */
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

/* Linux sockets are descriptors: raises RLIMIT_NOFILE (the children
 * inherit it) to room for @p n sockets and some, the hard limit too where
 * the process may (CAP_SYS_RESOURCE), else up to the hard limit. Returns
 * how many sockets one process may hold now. */
static unsigned nofile_raise(unsigned n)
{
	rlim_t want = (rlim_t)n + SCALE_FD_SLACK;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < want) {
		struct rlimit up = {.rlim_cur = want,
				    .rlim_max = rl.rlim_max > want ? rl.rlim_max : want};

		if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur <= SCALE_FD_SLACK)
		return 0;
	return rl.rlim_cur - SCALE_FD_SLACK > UINT_MAX ? UINT_MAX
						       : (unsigned)(rl.rlim_cur - SCALE_FD_SLACK);
}

unsigned bench_runs(const struct bench_pair *pair, const struct bench_plan *plan)
{
	/* The loss run is no pair's (loss.h). */
	unsigned runs =
		(BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK | BENCH_RUN_SCALE | BENCH_RUN_COST) &
		~plan->skip;

	if (!pair->scale)
		runs &= ~BENCH_RUN_SCALE;
	if (!pair->cost)
		runs &= ~BENCH_RUN_COST;
	return runs;
}

/* ---- how long it takes ------------------------------------------------------ */

/* Rough costs the plan does not say, from runs on a 2-CPU machine: they
 * only seed the time left, which then follows the run's own pace. */
#define EST_SESSION_S	  2.0	/* a testbed and its processes up and down */
#define EST_RUN_S	  0.3	/* a run's counters and commands */
#define EST_SCALE_STEP_S  4.0	/* a scale step opening, settling and closing ... */
#define EST_SCALE_CONN_S  1e-4	/* ... and per connection */
#define EST_COST_S	  240.0 /* the cost run's four windows under callgrind */
#define EST_LOSS_XFER_S	  1.5	/* a transfer's processes and checks */
#define EST_LOSS_ROUTER_S 3.0	/* a case's router up and down */

double bench_estimate_pair_s(const struct bench_pair *pair, const struct bench_plan *plan,
			     unsigned round)
{
	unsigned runs = bench_runs(pair, plan);
	double s = 0;

	if ((runs & BENCH_RUN_COST) && round == 0)
		s += EST_SESSION_S + EST_COST_S;
	if (!(runs & ~BENCH_RUN_COST))
		return s;
	s += EST_SESSION_S;
	if (runs & (BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK))
		s += plan->warmup_ms / 1e3 + EST_RUN_S;
	if (runs & BENCH_RUN_C1)
		s += plan->echo_ms / 1e3 + EST_RUN_S;
	if (runs & BENCH_RUN_C64)
		s += plan->echo_ms / 1e3 + EST_RUN_S;
	if (runs & BENCH_RUN_BULK)
		s += plan->bulk_ms / 1e3 + EST_RUN_S;
	if (runs & BENCH_RUN_SCALE)
		for (unsigned k = 0; k < BENCH_SCALE_STEPS && bench_scale_n[k] <= plan->scale_max;
		     k++)
			s += EST_SCALE_STEP_S + bench_scale_n[k] * EST_SCALE_CONN_S +
			     (plan->scale_warmup_ms + plan->scale_ms) / 1e3;
	return s;
}

double bench_estimate_loss_s(const struct bench_plan *plan, unsigned k)
{
	double xfer =
		EST_LOSS_XFER_S + plan->loss_bytes / 1048576.0 / bench_loss_cases[k].est_mib_s;

	return EST_LOSS_ROUTER_S + plan->loss_reps * 3 * xfer;
}

void bench_eta(const struct bench_at *at, char *buf, size_t len)
{
	double now = (double)now_ns(), elapsed = (now - (double)at->t0_ns) / 1e9;
	double unit = (now - (double)at->unit_t0_ns) / 1e9;
	double before = ((double)at->unit_t0_ns - (double)at->t0_ns) / 1e9, pace = 1, left;
	unsigned long long l;

	/* How the finished units went against their estimates. */
	if (at->est_done_s > 10 && before > 0) {
		pace = before / at->est_done_s;
		pace = pace < 0.5 ? 0.5 : pace > 4 ? 4 : pace;
	}
	left = (at->est_total_s - at->est_done_s) * pace - unit;
	/* Past the unit's own estimate: at least what is left of the others. */
	if (unit > at->unit_est_s * pace)
		left = (at->est_total_s - at->est_done_s - at->unit_est_s) * pace;
	if (left < 0 || elapsed < 0)
		left = 0;
	l = (unsigned long long)(left + 0.5);
	snprintf(buf, len, "about %llum%02llus left", l / 60, l % 60);
}

/* The scale run's set-up applies (not in the cost run's session). */
static bool scale_on(const struct ctx *x)
{
	return !x->cost && (bench_runs(x->pair, x->plan) & BENCH_RUN_SCALE);
}

/* The server ports N connections need: ceil(N / SCALE_PER_PORT). */
static unsigned scale_ports(unsigned n)
{
	return n ? (n + SCALE_PER_PORT - 1) / SCALE_PER_PORT : 1;
}

/* Connections a skiff end of the scale run expects (skiff_sizes_for sizes
 * its rings and UMEM for them): the run's largest step; 0 elsewhere. */
static unsigned scale_top(const struct bench_plan *p);

static uint32_t scale_expected(const struct ctx *x)
{
	return scale_on(x) ? scale_top(x->plan) : 0;
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
	/* --frames, --ring (0: skiff's defaults); the scale run says how many
	 * connections to expect and takes skiff's sizes for them. */
	cfg.frame_count = x->plan->frames;
	cfg.ring_size = x->plan->ring;
	cfg.expected_connections = scale_expected(x);
	if (x->pair->net == BENCH_NET_MEMLINK) {
		cfg.backend = SKIFF_BACKEND_MEMLINK;
		cfg.memlink = x->wire;
		cfg.memlink_end = end;
		if (!cfg.expected_connections || cfg.frame_count || cfg.ring_size)
			cfg.frame_count = x->plan->frames ? x->plan->frames : MEMLINK_FRAMES;
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

/* The cost run's window, in the server: what the parent armed last. */
struct cost_state {
	uint32_t seen; /* the last window armed that this server took up */
	enum { COST_IDLE, COST_WARM, COST_COUNT } phase;
	uint64_t b0; /* bytes echoed when the phase began */
};

/* Called between loop steps: the warm-up's bytes echoed, instrumentation
 * goes on (and counts from zero); the window's echoed, the profile is
 * dumped, instrumentation goes off and the client is told to stop. */
static void cost_step(struct shared *sh, const struct app_counters *c, struct cost_state *cs)
{
	uint32_t arm = __atomic_load_n(&sh->cost.arm, __ATOMIC_ACQUIRE);

	if (cs->phase == COST_IDLE && arm != cs->seen) {
		cs->seen = arm;
		cs->b0 = c->bytes;
		cs->phase = COST_WARM;
	}
	if (cs->phase == COST_WARM && c->bytes - cs->b0 >= sh->cost.warm_bytes) {
		CALLGRIND_START_INSTRUMENTATION;
		CALLGRIND_ZERO_STATS;
		cs->b0 = c->bytes;
		cs->phase = COST_COUNT;
		return;
	}
	if (cs->phase == COST_COUNT && c->bytes - cs->b0 >= sh->cost.bytes) {
		CALLGRIND_DUMP_STATS_AT(sh->cost.label);
		CALLGRIND_STOP_INSTRUMENTATION;
		sh->cost.measured = c->bytes - cs->b0;
		sh->cost.dumps++;
		cs->phase = COST_IDLE;
		__atomic_store_n(&sh->cost.load_stop, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&sh->cost.done, cs->seen, __ATOMIC_RELEASE);
	}
}

/* The cost run's server, before it serves: this process (forked into the
 * server's namespace) becomes valgrind running skiff-bench's server
 * (bench_cost_server_main()), given the shared block and the wire as
 * descriptors. Returns only if that failed, with sh->note saying why. */
static int cost_exec(struct ctx *x)
{
	struct shared *sh = x->sh;
	char self[PATH_MAX], out[sizeof(x->plan->cost_dir) + 64], log[sizeof(out)];
	char fd_sh[16], fd_wire[16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int wfd = -1, sfd = dup(x->sh_fd);

	if (n <= 0 || sfd < 0) {
		snprintf(sh->note, sizeof(sh->note), "the cost run: %s", strerror(errno));
		return -errno;
	}
	self[n] = '\0';
	if (x->wire) {
		wfd = dup(skiff_memlink_fd(x->wire));
		if (wfd < 0) {
			snprintf(sh->note, sizeof(sh->note), "the cost run: %s", strerror(errno));
			return -errno;
		}
	}
	sh->cost.plan = *x->plan;
	sh->cost.net = x->pair->net;
	snprintf(sh->cost.pair, sizeof(sh->cost.pair), "%s", x->pair->name);
	memcpy(sh->cost.if_server, x->if_server, sizeof(sh->cost.if_server));
	snprintf(out, sizeof(out), "--callgrind-out-file=%s/callgrind.out.%s", x->plan->cost_dir,
		 x->pair->name);
	snprintf(log, sizeof(log), "--log-file=%s/valgrind.%s.log", x->plan->cost_dir,
		 x->pair->name);
	snprintf(fd_sh, sizeof(fd_sh), "%d", sfd);
	snprintf(fd_wire, sizeof(fd_wire), "%d", wfd);
	char *argv[] = {"valgrind",
			"--tool=callgrind",
			"--instr-atstart=no",
			out,
			log,
			self,
			"--cost-server",
			fd_sh,
			fd_wire,
			NULL};

	execvp(argv[0], argv);
	snprintf(sh->note, sizeof(sh->note), "the cost run: running valgrind: %s", strerror(errno));
	return -errno;
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
	struct cost_state cs = {0};
	uint64_t accepted = 0;
	int rc = 0;

	if (x->cost && !x->in_callgrind) {
		rc = HAVE_CALLGRIND ? cost_exec(x) : -ENOSYS;
		if (rc == -ENOSYS)
			snprintf(sh->note, sizeof(sh->note),
				 "the cost run: built without valgrind/callgrind.h");
		__atomic_store_n(&sh->state, rc < 0 ? rc : -EIO, __ATOMIC_RELEASE);
		return 3;
	}
	pin(x->plan->cpu_server);
	if (x->cost) {
		/* SYNs by the thousand for the 10,000-connection window. */
		ec.backlog = SCALE_BACKLOG;
	} else if (scale_on(x)) {
		/* The scale run: a port per SCALE_PER_PORT connections, and
		 * backlogs for SYNs arriving by the thousand. */
		ec.ports = scale_ports(x->plan->scale_max);
		ec.backlog = SCALE_BACKLOG;
	}
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
		if (x->cost)
			cost_step(sh, &c, &cs);
		take_snapshot(sh, on_skiff, &c);
		if (c.conns_total != accepted) {
			accepted = c.conns_total;
			__atomic_store_n(&sh->accepted_ns, now_ns(), __ATOMIC_RELAXED);
			__atomic_store_n(&sh->accepted, accepted, __ATOMIC_RELEASE);
		}
		__atomic_store_n(&sh->open, c.conns_open, __ATOMIC_RELAXED);
	}
	echo_server_close(es);
	if (on_skiff)
		skiff_fini();
	return 0;
}

int bench_cost_server_main(int argc, char **argv)
{
	struct bench_pair pair = {.server = BENCH_SKIFF};
	struct ctx x = {.pair = &pair, .cost = true, .in_callgrind = true};
	struct shared *sh;
	int sfd, wfd;

	if (argc != 4)
		return APP_EXIT_USAGE;
	sfd = atoi(argv[2]);
	wfd = atoi(argv[3]);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "skiff-bench --cost-server: mmap: %s\n", strerror(errno));
		return 3;
	}
	close(sfd);
	x.sh = sh;
	x.plan = &sh->cost.plan;
	pair.name = sh->cost.pair;
	pair.net = sh->cost.net;
	memcpy(x.if_server, sh->cost.if_server, sizeof(x.if_server));
	if (wfd >= 0) {
		if (skiff_memlink_open(&x.wire, wfd) != 0) {
			snprintf(sh->note, sizeof(sh->note), "the cost run: the memlink wire: %s",
				 strerror(errno));
			__atomic_store_n(&sh->state, -EIO, __ATOMIC_RELEASE);
			return 3;
		}
		close(wfd);
	}
	return server_main(&x);
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

/* The server's address (its first port) in @p lg. */
static void client_dst(const struct ctx *x, struct lg_config *lg)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&lg->dst;

	a->sin_family = AF_INET;
	a->sin_port = htons(BENCH_PORT);
	inet_pton(AF_INET, x->pair->net == BENCH_NET_LO ? IP_LO : IP_SERVER, &a->sin_addr);
	lg->dst_len = sizeof(*a);
}

/* How long the client's loop waits for events: skiff over memlink moves
 * only while polled, so it spins, as the server does. */
static int client_wait_ms(const struct ctx *x, bool on_skiff)
{
	return on_skiff && x->pair->net == BENCH_NET_MEMLINK ? -1 : 10;
}

static void client_run(struct ctx *x, const struct cmd *c, bool on_skiff, struct res *r)
{
	struct lg_config lg;
	uint64_t deadline;
	int rc;

	memset(&lg, 0, sizeof(lg));
	client_dst(x, &lg);
	lg.conns = c->conns;
	lg.requests = c->requests;
	lg.min_size = lg.max_size = c->size;
	lg.seed = c->seed;
	lg.wait_ms = client_wait_ms(x, on_skiff);
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

/* ---- the client process: the scale run ------------------------------------------ */

/* A load generator session held across the commands of a scale step. */
struct scale_client {
	struct lg *g; /* NULL: none open */
	struct lg_result res;
	bool going;
	struct sockaddr_storage src[SCALE_SRC]; /* a Linux client's addresses */
	unsigned n_src;
};

/* lg_step()'s wait: as the load generator's (0 for a spinning client). */
static int scale_wait_ms(const struct ctx *x, bool on_skiff)
{
	int ms = client_wait_ms(x, on_skiff);

	return ms < 0 ? 0 : ms;
}

static void publish(struct ctx *x, const struct lg_result *r)
{
	__atomic_store_n(&x->sh->established[x->self], r->conns_established, __ATOMIC_RELAXED);
	__atomic_store_n(&x->sh->requests[x->self], r->requests_done, __ATOMIC_RELAXED);
}

static void scale_open(struct ctx *x, const struct cmd *c, bool on_skiff, struct scale_client *s,
		       struct res *r)
{
	int wait = scale_wait_ms(x, on_skiff), rc;
	struct lg_config lg;

	memset(&lg, 0, sizeof(lg));
	client_dst(x, &lg);
	lg.dst_ports = c->ports;
	lg.conns = c->conns;
	lg.requests = UNBOUNDED;
	lg.min_size = lg.max_size = c->size;
	lg.seed = c->seed;
	lg.hold = true;
	lg.max_connecting = c->pace;
	if (!on_skiff) {
		lg.src = s->src;
		lg.n_src = s->n_src;
	}
	s->going = false;
	rc = lg_start(&s->g, &lg, on_skiff ? &socktab_skiff : &socktab_kernel, &s->res);
	if (rc) {
		s->g = NULL;
		r->rc = rc;
		snprintf(r->lg.first_error, sizeof(r->lg.first_error), "starting the load: %s",
			 strerror(-rc));
		return;
	}
	while (s->res.conns_established + s->res.conns_failed < c->conns && !runner_interrupted) {
		rc = lg_step(s->g, wait);
		publish(x, &s->res);
		if (rc < 0)
			break;
	}
	r->lg = s->res;
	r->rc = s->res.conns_established == c->conns && !s->res.conns_failed ? 0 : -EIO;
}

/* The closed loop until @p until (CLOCK_MONOTONIC ns): 0, or -errno when
 * it broke down (no connection left, a stall, the wait failed). */
static int scale_drive(struct ctx *x, struct scale_client *s, int wait, uint64_t until)
{
	while (now_ns() < until) {
		int rc;

		if (runner_interrupted)
			return -EINTR;
		/* The cost run's server has its window: the load may end. */
		if (__atomic_load_n(&x->sh->cost.load_stop, __ATOMIC_ACQUIRE))
			return 0;
		rc = lg_step(s->g, wait);
		publish(x, &s->res);
		if (rc <= 0)
			return rc < 0 ? rc : -EIO;
	}
	return 0;
}

static void scale_load(struct ctx *x, const struct cmd *c, bool on_skiff, struct scale_client *s,
		       struct res *r)
{
	int wait = scale_wait_ms(x, on_skiff), rc;
	uint64_t t0, t1, r0;

	if (!s->g) {
		r->rc = -EINVAL;
		snprintf(r->lg.first_error, sizeof(r->lg.first_error), "no connections open");
		return;
	}
	if (!s->going) {
		lg_go(s->g);
		s->going = true;
	}
	rc = scale_drive(x, s, wait, now_ns() + (uint64_t)c->warmup_ms * 1000000u);
	r0 = s->res.requests_done;
	t0 = now_ns();
	bench_cpu_read(&r->cpu0);
	if (!rc)
		rc = scale_drive(x, s, wait, t0 + (uint64_t)c->duration_ms * 1000000u);
	bench_cpu_read(&r->cpu1);
	t1 = now_ns();
	r->rps = (double)(s->res.requests_done - r0) / ((double)(t1 - t0) / 1e9);
	r->lg = s->res;
	r->rc = rc || s->res.bad_bytes || s->res.conns_failed ? -EIO : 0;
}

/* Every connection finishes its request and closes, FIN for FIN (an RST
 * could be lost and leave the server's end open). */
static void scale_close(struct ctx *x, bool on_skiff, struct scale_client *s, struct res *r)
{
	int wait = scale_wait_ms(x, on_skiff);
	uint64_t end;

	if (s->g) {
		lg_wind_down(s->g);
		while (!runner_interrupted && lg_step(s->g, wait) > 0)
			publish(x, &s->res);
		if (runner_interrupted)
			lg_interrupt(s->g);
		lg_finish(s->g);
		s->g = NULL;
	}
	r->lg = s->res;
	r->rc = s->res.bad_bytes || s->res.stalled || s->res.conns_failed ? -EIO : 0;
	end = now_ns() + (uint64_t)SCALE_DRAIN_MS * 1000000u;
	/* Every port free again before the next step: the TIME-WAITs end
	 * (time_wait_ms) and the closing handshakes finish. */
	while (on_skiff && now_ns() < end && !runner_interrupted) {
		struct skiff_stats st;

		skiff_get_stats(&st);
		if (!st.tcp_connections && !st.tcp_time_wait)
			break;
		skiff_poll(1);
	}
}

static void scale_command(struct ctx *x, const struct cmd *c, bool on_skiff, struct scale_client *s,
			  struct res *r)
{
	memset(r, 0, sizeof(*r));
	if (c->op == CMD_OPEN)
		scale_open(x, c, on_skiff, s, r);
	else if (c->op == CMD_LOAD)
		scale_load(x, c, on_skiff, s, r);
	else if (c->op == CMD_CLOSE)
		scale_close(x, on_skiff, s, r);
	if (on_skiff)
		skiff_get_stats(&r->st);
}

/* Client process @p i: 0 is x->client. */
static struct runner *worker(struct ctx *x, unsigned i)
{
	return i ? &x->more[i - 1] : &x->client;
}

static int client_main(void *arg)
{
	struct ctx *x = arg;
	bool on_skiff = x->pair->client == BENCH_SKIFF;
	/* Between runs a skiff client keeps its stack going (closing
	 * handshakes, TIME_WAIT). */
	void (*idle)(void *) = on_skiff ? keep_polling : NULL;
	struct runner *me = worker(x, x->self);
	struct scale_client sc = {0};
	struct res r;
	struct cmd c;

	pin(x->plan->cpu_client);
	if (scale_on(x) && !on_skiff) {
		/* Over veth (not loopback) a Linux client has addresses of its
		 * own to spread the connections over. */
		sc.n_src = x->pair->net == BENCH_NET_LO ? 0 : SCALE_SRC;
		for (unsigned i = 0; i < sc.n_src; i++) {
			struct sockaddr_in *a = (struct sockaddr_in *)&sc.src[i];

			a->sin_family = AF_INET;
			inet_pton(AF_INET, scale_src[i], &a->sin_addr);
		}
	}
	memset(&r, 0, sizeof(r));
	if (on_skiff)
		r.rc = skiff_start(x, 1, r.lg.first_error, sizeof(r.lg.first_error));
	else
		snprintf(r.lg.first_error, sizeof(r.lg.first_error), "Linux TCP");
	if (!r.rc && on_skiff)
		snprintf(r.lg.first_error, sizeof(r.lg.first_error), "skiff (%s)", skiff_mode(x));
	if (runner_child_send(me, &r, sizeof(r)) != 0 || r.rc) {
		if (on_skiff && !r.rc)
			skiff_fini();
		return 3;
	}
	/* Until the parent closes the pipe. */
	while (runner_child_recv(me, &c, sizeof(c), -1, idle, NULL) == 0) {
		if (c.op == CMD_RUN)
			client_run(x, &c, on_skiff, &r);
		else
			scale_command(x, &c, on_skiff, &sc, &r);
		if (runner_child_send(me, &r, sizeof(r)) != 0)
			break;
	}
	/* A scale session still open (the round's last step) goes with the
	 * process: exit closes a Linux client's sockets, skiff_fini() resets
	 * a skiff client's. */
	if (on_skiff)
		skiff_fini();
	return 0;
}

/* ---- the parent: the link ----------------------------------------------------- */

/* The scale run's extras: a Linux client's other addresses; a Linux
 * server's backlogs as long as skiff's (the namespace's own limits). */
static int scale_link(struct ctx *x)
{
	int rc = 0;

	for (unsigned i = 1; i < SCALE_SRC && !rc && x->pair->client == BENCH_KERNEL; i++) {
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "%s/24", scale_src[i]);
		rc = tb_addr(x->ns_client, x->if_client, cidr);
	}
	if (!rc && x->pair->server == BENCH_KERNEL)
		rc = tb_sysctl(x->ns_server, "net/core/somaxconn", "65535");
	if (!rc && x->pair->server == BENCH_KERNEL)
		rc = tb_sysctl(x->ns_server, "net/ipv4/tcp_max_syn_backlog", "65535");
	return rc;
}

static int build_link(struct ctx *x, char *why, size_t len)
{
	const struct bench_pair *p = x->pair;
	int rc;

	if (p->net == BENCH_NET_MEMLINK) {
		struct skiff_memlink_config wc = {.frame_count = x->plan->frames,
						  .ring_size = x->plan->ring,
						  .expected_connections = scale_expected(x)};

		if (!wc.expected_connections || wc.frame_count || wc.ring_size)
			wc.frame_count = x->plan->frames ? x->plan->frames : MEMLINK_FRAMES;

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
	if (!rc && scale_on(x))
		rc = scale_link(x);
	if (!rc)
		return 0;
out_err:
	snprintf(why, len, "building the testbed: %s", strerror(-rc));
	return rc;
}

/* ---- the parent: processes ------------------------------------------------------ */

static int wait_server(struct ctx *x, char *why, size_t len)
{
	int ms = x->cost ? COST_START_MS : START_TIMEOUT_MS;
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	int st;

	while (!(st = __atomic_load_n(&x->sh->state, __ATOMIC_ACQUIRE))) {
		if (app_stop)
			return -EINTR;
		if (!runner_alive(&x->server)) {
			snprintf(why, len, "the server exited before serving");
			return -ECHILD;
		}
		if (now_ns() > end) {
			snprintf(why, len, "the server did not come up in %d s", ms / 1000);
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

/* Reads the next answer of client process @p from, waiting up to
 * @p timeout_ms. */
static int wait_res(struct runner *from, struct res *r, int timeout_ms, char *why, size_t len)
{
	int rc = runner_recv(from, r, sizeof(*r), timeout_ms);

	if (rc == -ETIMEDOUT)
		snprintf(why, len, "the client did not answer in %d s", timeout_ms / 1000);
	else if (rc == -ECHILD)
		snprintf(why, len, "the client exited without an answer");
	return rc;
}

/* The server's counters now (zero for a Linux server). */
static int snapshot(struct ctx *x, struct skiff_stats *st, struct app_counters *c)
{
	uint64_t end = now_ns() + (x->cost ? COST_SNAPSHOT_MS : 5000) * 1000000ull;
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
	/* The scale ratios, each pair over its own c64: ratios of medians. */
	for (unsigned i = 0; i < 2; i++) {
		enum bench_fig f = i ? BF_SC_R100000 : BF_SC_R10000, num = BF_SC_RPS + 2 + i;

		out->have[f] = out->have[num] && out->have[BF_SC_RPS] && out->fig[BF_SC_RPS] > 0;
		if (out->have[f])
			out->fig[f] = out->fig[num] / out->fig[BF_SC_RPS];
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

static void progress(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress_clear(struct ctx *x);

/* The client's answer to @p run, with the progress line meanwhile. */
static int wait_run(struct ctx *x, const struct run *run, struct res *r, char *why, size_t len)
{
	int limit = run->duration_ms + RUN_SLACK_MS;
	uint64_t t0 = now_ns();

	for (;;) {
		int ms = (int)((now_ns() - t0) / 1000000u), rc;

		if (ms >= limit) {
			progress_clear(x);
			snprintf(why, len, "the client did not answer in %d s", limit / 1000);
			return -ETIMEDOUT;
		}
		rc = runner_recv(&x->client, r, sizeof(*r),
				 x->plan->tty && limit - ms > 500 ? 500 : limit - ms);
		if (rc != -ETIMEDOUT) {
			progress_clear(x);
			if (rc == -ECHILD)
				snprintf(why, len, "the client exited without an answer");
			return rc;
		}
		progress(x, "%s: %.1f of %s%.1f s", run->label, ms / 1e3,
			 run->requests != UNBOUNDED ? "at most " : "", run->duration_ms / 1e3);
	}
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
	rc = wait_run(x, run, r, why, len);
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

/* ---- the parent: the scale run --------------------------------------------------- */

/* @p pid's resident memory from /proc/<pid>/smaps_rollup (zero if gone). */
static struct mem mem_kib(pid_t pid)
{
	struct mem m = {0};
	unsigned long long v;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return m;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Rss: %llu kB", &v) == 1)
			m.rss = v;
		else if (sscanf(line, "Anonymous: %llu kB", &v) == 1)
			m.anon = v;
	}
	fclose(f);
	return m;
}

/* The progress line: on a terminal only, rewritten in place. */
static void progress(struct ctx *x, const char *fmt, ...)
{
	const struct bench_at *at = x->at;
	uint64_t all = (now_ns() - at->t0_ns) / 1000000000u;
	char msg[160], eta[48];
	va_list ap;

	if (!x->plan->tty)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bench_eta(at, eta, sizeof(eta));
	printf("\r\033[K[%um%02us, %s] pair %u of %u %s, round %u of %u: %s", (unsigned)(all / 60),
	       (unsigned)(all % 60), eta, at->pair + 1, at->pairs, x->pair->name, at->round + 1,
	       x->plan->reps, msg);
	fflush(stdout);
	x->progress_shown = true;
}

static void progress_clear(struct ctx *x)
{
	if (!x->progress_shown)
		return;
	printf("\r\033[K");
	fflush(stdout);
	x->progress_shown = false;
}

/* What a scale step is doing, for the progress line. */
static void scale_progress(struct ctx *x, unsigned n, const char *phase, uint64_t t0, uint64_t acc0)
{
	unsigned long long est = 0, req = 0;

	for (unsigned i = 0; i < x->workers; i++) {
		est += __atomic_load_n(&x->sh->established[i], __ATOMIC_RELAXED);
		req += __atomic_load_n(&x->sh->requests[i], __ATOMIC_RELAXED);
	}
	progress(x, "c%u %s: %llu established, %llu accepted, %llu requests (%.1f s)", n, phase,
		 est,
		 (unsigned long long)(__atomic_load_n(&x->sh->accepted, __ATOMIC_ACQUIRE) - acc0),
		 req, (double)(now_ns() - t0) / 1e9);
}

/* The client processes that share @p n connections: one, but for a Linux
 * client over more than one process may hold. */
static unsigned workers_for(const struct ctx *x, unsigned n)
{
	unsigned k;

	if (x->pair->client != BENCH_KERNEL || !x->fd_cap)
		return 1;
	k = (n + x->fd_cap - 1) / x->fd_cap;
	return k < 1 ? 1 : k > x->workers ? x->workers : k;
}

/* The answers of several client processes as one: counts summed, the
 * opening from the first connect() to the last connection established. */
static void merge(struct res *all, const struct res *one, unsigned i)
{
	struct lg_result *a = &all->lg;
	const struct lg_result *o = &one->lg;

	if (!all->rc)
		all->rc = one->rc;
	if (!a->first_error[0])
		memcpy(a->first_error, o->first_error, sizeof(a->first_error));
	a->conns += o->conns;
	a->conns_established += o->conns_established;
	a->conns_done += o->conns_done;
	a->conns_failed += o->conns_failed;
	a->requests_done += o->requests_done;
	a->bad_bytes += o->bad_bytes;
	a->stalled |= o->stalled;
	if (!i || o->t_start_ns < a->t_start_ns)
		a->t_start_ns = o->t_start_ns;
	if (!i || !o->t_established_ns ||
	    (a->t_established_ns && o->t_established_ns > a->t_established_ns))
		a->t_established_ns = o->t_established_ns;
	all->rps += one->rps;
	if (!i) {
		all->st = one->st;
		all->cpu0 = one->cpu0;
		all->cpu1 = one->cpu1;
	}
}

/* Sends @p cmd (its connections shared out) to the client processes and
 * waits up to @p timeout_ms for all their answers, merged into @p r, with
 * the progress line meanwhile. */
static int scale_cmd(struct ctx *x, const struct cmd *cmd, const char *phase, uint64_t acc0,
		     int timeout_ms, struct res *r, char *why, size_t len)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)timeout_ms * 1000000u, shown = t0;
	unsigned k = workers_for(x, cmd->conns), left = k;
	bool answered[SCALE_WORKERS] = {false};
	int rc = 0;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < k; i++) {
		struct cmd share = *cmd;

		share.conns = cmd->conns / k + (i < cmd->conns % k);
		if (runner_send(worker(x, i), &share, sizeof(share)) != 0) {
			snprintf(why, len, "the client is gone");
			return -ECHILD;
		}
	}
	while (left && !rc) {
		for (unsigned i = 0; i < k && !rc; i++) {
			struct res one;

			if (answered[i])
				continue;
			rc = runner_recv(worker(x, i), &one, sizeof(one), 0);
			if (rc == -ETIMEDOUT) {
				rc = 0;
				continue;
			}
			if (!rc) {
				merge(r, &one, k - left);
				answered[i] = true;
				left--;
			}
		}
		if (!left || rc)
			break;
		if (now_ns() >= end) {
			rc = -ETIMEDOUT;
			break;
		}
		if (now_ns() - shown > 250000000u) {
			scale_progress(x, cmd->conns, phase, t0, acc0);
			shown = now_ns();
		}
		usleep(2000);
	}
	progress_clear(x);
	if (rc == -ETIMEDOUT)
		snprintf(why, len, "scale c%u %s: the client did not answer in %d s", cmd->conns,
			 phase, timeout_ms / 1000);
	else if (rc == -ECHILD)
		snprintf(why, len, "scale c%u %s: the client exited without an answer", cmd->conns,
			 phase);
	else if (!rc && r->rc)
		snprintf(why, len,
			 "scale c%u %s: %u of %u connections established, %u failed, %llu bad "
			 "bytes%s; first error: %s",
			 cmd->conns, phase, r->lg.conns_established, cmd->conns, r->lg.conns_failed,
			 (unsigned long long)r->lg.bad_bytes, r->lg.stalled ? ", stalled" : "",
			 r->lg.first_error[0] ? r->lg.first_error : "none");
	return rc ? rc : r->rc;
}

/* Waits until @p done says the server got there (all accepted, all
 * closed), with the progress line meanwhile. */
static int scale_wait_server(struct ctx *x, unsigned n, const char *phase, uint64_t acc0,
			     bool (*done)(const struct shared *sh, uint64_t arg), uint64_t arg,
			     char *why, size_t len)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)SCALE_SERVER_MS * 1000000u, shown = 0;

	while (!done(x->sh, arg)) {
		if (app_stop)
			return -EINTR;
		if (now_ns() > end || !runner_alive(&x->server)) {
			progress_clear(x);
			snprintf(
				why, len,
				"scale c%u %s: the server did not get there in %d s (%llu accepted, "
				"%u open)",
				n, phase, SCALE_SERVER_MS / 1000,
				(unsigned long long)(__atomic_load_n(&x->sh->accepted,
								     __ATOMIC_ACQUIRE) -
						     acc0),
				__atomic_load_n(&x->sh->open, __ATOMIC_RELAXED));
			return -ETIMEDOUT;
		}
		if (now_ns() - shown > 250000000u) {
			scale_progress(x, n, phase, t0, acc0);
			shown = now_ns();
		}
		usleep(1000);
	}
	progress_clear(x);
	return 0;
}

static bool all_accepted(const struct shared *sh, uint64_t want)
{
	return __atomic_load_n(&sh->accepted, __ATOMIC_ACQUIRE) >= want;
}

static bool open_at_most(const struct shared *sh, uint64_t most)
{
	return __atomic_load_n(&sh->open, __ATOMIC_RELAXED) <= most;
}

/* Sleeps @p ms, with the progress line meanwhile. */
static int scale_sleep(struct ctx *x, unsigned n, const char *phase, uint64_t acc0, int ms)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)ms * 1000000u;

	while (now_ns() < end) {
		if (app_stop)
			return -EINTR;
		scale_progress(x, n, phase, t0, acc0);
		usleep(x->plan->tty ? 100000 : 10000);
	}
	progress_clear(x);
	return 0;
}

/* What a skiff end's stack did in one phase of a scale step. */
static void print_phase(const char *who, const char *phase, const struct skiff_stats *a,
			const struct skiff_stats *b)
{
#define D(f) (unsigned long long)(b->f - a->f)
	printf("    %s %-7s rx ring full %llu, fill empty %llu, tx ring full %llu; listen overflows "
	       "%llu, cookies sent %llu ok %llu failed %llu; retransmits %llu (rto %llu); "
	       "connect refused %llu; frames in %llu, out %llu, pure ACKs %llu (ACKs held %llu, "
	       "of them expired %llu, holds doubled %llu); copied rx %llu B, tx %llu B, out of held "
	       "frames %llu B\n",
	       who, phase, D(xdp_rx_ring_full), D(xdp_fill_ring_empty), D(tx_drop_ring_full),
	       D(tcp_listen_overflows), D(tcp_syncookies_sent), D(tcp_syncookies_ok),
	       D(tcp_syncookies_failed), D(tcp_retransmits), D(tcp_timeouts),
	       D(tcp_connect_refused_limit), D(rx_frames), D(tx_frames), D(tcp_pure_acks),
	       D(tcp_acks_held), D(tcp_acks_hold_expired), D(tcp_acks_hold_longer),
	       D(rx_copied_bytes), D(tx_copied_bytes),
	       D(rx_orphaned_bytes) + D(rx_budget_orphaned_bytes));
#undef D
}

/* A skiff end's counters over a scale step: @p st[0] before opening, [1]
 * once open, [2] idle, [3] after the window. */
static void print_scale_end(const char *who, const struct skiff_stats st[4])
{
	printf("    %s: %u connections idle, %u timers armed idle, %u after the window; pool "
	       "errors %u\n",
	       who, st[2].tcp_connections, st[2].tcp_timers_armed, st[3].tcp_timers_armed,
	       st[3].lwip_pool_errors);
	print_phase(who, "open:", &st[0], &st[1]);
	print_phase(who, "idle:", &st[1], &st[2]);
	print_phase(who, "load:", &st[2], &st[3]);
}

/* Step @p k of the scale run: its N connections opened at once (or paced)
 * and held, the server's memory read with them idle, the closed loop over
 * them for a warm-up and a window, then closed FIN for FIN (but after the
 * @p last step, which leaves them to the processes' end). */
static int scale_step(struct ctx *x, unsigned k, unsigned round, bool last,
		      struct bench_result *out)
{
	const struct bench_plan *p = x->plan;
	unsigned n = bench_scale_n[k];
	bool skiff_server = x->pair->server == BENCH_SKIFF;
	struct cmd cmd = {.op = CMD_OPEN,
			  .conns = n,
			  .ports = scale_ports(n),
			  .pace = n == BENCH_SCALE_OPEN_N ? 0 : SCALE_PACE,
			  .size = p->echo_size,
			  .seed = round + 1};
	/* the ends' counters: before opening, once open, idle, after the window */
	struct skiff_stats sst[4], cst[4];
	struct app_counters c;
	struct res r;
	uint64_t acc0 = __atomic_load_n(&x->sh->accepted, __ATOMIC_ACQUIRE), t_start, t_end;
	uint32_t open0 = __atomic_load_n(&x->sh->open, __ATOMIC_RELAXED);
	struct mem mem;
	double open_s, kib, kib_rss, rps;
	char *why = out->error;
	size_t len = sizeof(out->error);
	int rc = 0;

	memset(sst, 0, sizeof(sst));
	cst[0] = x->client_st;
	if (skiff_server && snapshot(x, &sst[0], &c))
		goto out_server;
	/* Opening: from the client's first connect() to the last connection
	 * established on the client and accepted by the server. */
	rc = scale_cmd(x, &cmd, "opening", acc0, START_TIMEOUT_MS + (int)n * 2, &r, why, len);
	if (!rc)
		rc = scale_wait_server(x, n, "accepting", acc0, all_accepted, acc0 + n, why, len);
	if (rc) {
		/* What the ends saw of it. */
		if (skiff_server && rc != -EINTR && !snapshot(x, &sst[1], &c))
			print_phase("server", "open:", &sst[0], &sst[1]);
		if (x->pair->client == BENCH_SKIFF && rc == -EIO)
			print_phase("client", "open:", &cst[0], &r.st);
		return rc;
	}
	cst[1] = r.st;
	t_start = r.lg.t_start_ns;
	t_end = r.lg.t_established_ns;
	if (__atomic_load_n(&x->sh->accepted_ns, __ATOMIC_RELAXED) > t_end)
		t_end = __atomic_load_n(&x->sh->accepted_ns, __ATOMIC_RELAXED);
	open_s = (double)(t_end - t_start) / 1e9;
	if (skiff_server && snapshot(x, &sst[1], &c))
		goto out_server;
	/* Idle: the server's memory, and the stacks' tables. */
	rc = scale_sleep(x, n, "idle", acc0, SCALE_SETTLE_MS);
	mem = mem_kib(x->server.pid);
	/* Beyond the frames (the measure): the private memory that
	 * grew, the stack's and the application's per connection. The UMEM
	 * and the memlink wire are shared mappings, outside it; the RSS, with
	 * them, is printed beside it. */
	kib = mem.anon > x->mem0.anon ? (double)(mem.anon - x->mem0.anon) / n : 0;
	kib_rss = mem.rss > x->mem0.rss ? (double)(mem.rss - x->mem0.rss) / n : 0;
	if (skiff_server && snapshot(x, &sst[2], &c))
		goto out_server;
	cmd.op = CMD_STATS;
	if (!rc)
		rc = scale_cmd(x, &cmd, "idle", acc0, RUN_SLACK_MS, &r, why, len);
	if (rc)
		return rc;
	cst[2] = r.st;
	/* The load: requests/s over a window. */
	cmd.op = CMD_LOAD;
	cmd.warmup_ms = p->scale_warmup_ms;
	cmd.duration_ms = p->scale_ms;
	rc = scale_cmd(x, &cmd, "load", acc0, cmd.warmup_ms + cmd.duration_ms + RUN_SLACK_MS, &r,
		       why, len);
	if (rc)
		return rc;
	rps = r.rps;
	cst[3] = r.st;
	if (skiff_server && snapshot(x, &sst[3], &c))
		goto out_server;

	add(out, BF_SC_RPS + k, rps);
	if (n == BENCH_SCALE_OPEN_N)
		add(out, BF_SC_OPEN, n / open_s);
	if (n == BENCH_SCALE_IDLE_N)
		add(out, BF_SC_IDLE, kib);
	printf("  %-20s scale c%-6u %u/%u %8.0f req/s  opened in %.2f s (%.0f conn/s%s)  server "
	       "+%.2f KiB/conn idle, +%.2f with shared memory (RSS %.1f MiB, anonymous %.1f MiB; "
	       "before %.1f, %.1f)\n",
	       x->pair->name, n, round + 1, p->reps, rps, open_s, n / open_s,
	       cmd.pace && n > cmd.pace ? ", paced" : "", kib, kib_rss, (double)mem.rss / 1024,
	       (double)mem.anon / 1024, (double)x->mem0.rss / 1024, (double)x->mem0.anon / 1024);
	if (skiff_server)
		print_scale_end("server", sst);
	if (x->pair->client == BENCH_SKIFF)
		print_scale_end("client", cst);
	fflush(stdout);
	if (app_stop)
		return -EINTR;
	/* The round's last step: its connections go with the processes. */
	if (last)
		return 0;
	/* Closed on both sides, every port free for the next step. */
	cmd.op = CMD_CLOSE;
	rc = scale_cmd(x, &cmd, "closing", acc0, SCALE_DRAIN_MS + RUN_SLACK_MS + (int)n, &r, why,
		       len);
	x->client_st = r.st;
	if (!rc)
		rc = scale_wait_server(x, n, "closing", acc0, open_at_most, open0, why, len);
	/* How the closing went, on the skiff ends. */
	if (skiff_server && !snapshot(x, &sst[0], &c))
		print_phase("server", "close:", &sst[3], &sst[0]);
	if (x->pair->client == BENCH_SKIFF && (!rc || rc == -EIO))
		print_phase("client", "close:", &cst[3], &r.st);
	return rc;

out_server:
	snprintf(why, len, "scale c%u: the server does not answer", n);
	return -ETIMEDOUT;
}

static int measure_scale(struct ctx *x, unsigned round, struct bench_result *out)
{
	for (unsigned k = 0; k < BENCH_SCALE_STEPS; k++) {
		int rc;

		if (bench_scale_n[k] > x->plan->scale_max)
			break;
		if (x->pair->server == BENCH_KERNEL && bench_scale_n[k] > x->fd_cap) {
			printf("  %-20s scale c%-6u %u/%u not measured: a Linux server process may "
			       "hold %u sockets here (RLIMIT_NOFILE cannot be raised further)\n",
			       x->pair->name, bench_scale_n[k], round + 1, x->plan->reps,
			       x->fd_cap);
			continue;
		}
		rc = scale_step(x, k, round,
				k + 1 == BENCH_SCALE_STEPS ||
					bench_scale_n[k + 1] > x->plan->scale_max,
				out);
		if (rc == -EINTR)
			return rc;
		if (rc) {
			/* The step's figures are lost, not the pair's: the
			 * next round starts afresh. The larger steps of this
			 * round would start from what this one left: skipped. */
			printf("  %-20s scale c%-6u %u/%u FAILED: %s\n", x->pair->name,
			       bench_scale_n[k], round + 1, x->plan->reps, out->error);
			if (!out->scale_failures++)
				memcpy(out->scale_error, out->error, sizeof(out->scale_error));
			out->error[0] = '\0';
			fflush(stdout);
			return 0;
		}
	}
	return 0;
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

	if (p->warmup_ms > 0 && (bench_runs(x->pair, p) & ~BENCH_RUN_SCALE)) {
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
	if (scale_on(x))
		return measure_scale(x, round, out);
	return 0;
}

/* ---- the parent: the cost run ------------------------------------------------------ */

/* One window of the cost run. */
struct cost_window {
	const char *label; /* the figure's name after "cost." */
	unsigned conns;
	uint32_t size;	      /* of a request */
	uint64_t warm, bytes; /* bytes echoed before the window, and in it */
	enum bench_fig fig;
	double unit; /* bytes per counted thing: a request, or a KiB */
};

/* The instruction count of the profile @p path: its "totals:" line (0 if
 * it has none). */
static uint64_t cost_totals(const char *path)
{
	unsigned long long v = 0;
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "totals: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* --verbose: the profile's top functions by their own instructions, as
 * callgrind_annotate ranks them. */
static void cost_top(const char *path)
{
	char cmd[sizeof(((struct bench_plan *)0)->cost_dir) + 160], line[512];
	unsigned shown = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "callgrind_annotate --inclusive=no --threshold=100 '%s' 2>&1",
		 path);
	f = popen(cmd, "r");
	if (!f) {
		printf("    (callgrind_annotate: %s)\n", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *t = line + strspn(line, " ");

		/* "  1,234,567 (12.34%)  file:function [object]" */
		if (shown >= COST_TOP || strstr(line, "PROGRAM TOTALS") || *t < '0' || *t > '9' ||
		    !strstr(line, "%)"))
			continue;
		printf("    %s", line);
		shown++;
	}
	pclose(f);
}

/* Opens @p w->conns connections, lets the server measure a window over
 * them, and closes them again (but after the @p last window). */
static int cost_run_window(struct ctx *x, const struct cost_window *w, bool last,
			   struct bench_result *out)
{
	struct shared *sh = x->sh;
	struct cmd cmd = {.op = CMD_OPEN,
			  .conns = w->conns,
			  .ports = 1,
			  .pace = SCALE_PACE,
			  .size = w->size,
			  .seed = 1};
	uint64_t acc0 = __atomic_load_n(&sh->accepted, __ATOMIC_ACQUIRE), instr, t0;
	uint32_t open0 = __atomic_load_n(&sh->open, __ATOMIC_RELAXED), arm;
	struct skiff_stats st[2];
	struct app_counters c[2];
	char *why = out->error, path[sizeof(x->plan->cost_dir) + 80];
	size_t len = sizeof(out->error);
	double per;
	struct res r;
	int rc;

	rc = scale_cmd(x, &cmd, "opening", acc0, START_TIMEOUT_MS + (int)w->conns * 20, &r, why,
		       len);
	if (!rc)
		rc = scale_wait_server(x, w->conns, "accepting", acc0, all_accepted,
				       acc0 + w->conns, why, len);
	if (!rc)
		rc = take_counters(x, 0, st, c, why, len);
	if (rc)
		return rc;
	/* Armed: the server counts from the end of the warm-up and stops the
	 * client's load at the end of the window. */
	sh->cost.warm_bytes = w->warm;
	sh->cost.bytes = w->bytes;
	snprintf(sh->cost.label, sizeof(sh->cost.label), "%s", w->label);
	__atomic_store_n(&sh->cost.load_stop, 0, __ATOMIC_RELEASE);
	arm = sh->cost.arm + 1;
	__atomic_store_n(&sh->cost.arm, arm, __ATOMIC_RELEASE);
	cmd.op = CMD_LOAD;
	cmd.warmup_ms = 0;
	cmd.duration_ms = COST_WINDOW_MS;
	t0 = now_ns();
	rc = scale_cmd(x, &cmd, w->label, acc0, COST_WINDOW_MS + RUN_SLACK_MS, &r, why, len);
	if (!rc && __atomic_load_n(&sh->cost.done, __ATOMIC_ACQUIRE) != arm) {
		snprintf(why, len, "cost %s: the load ended before the window (%d s)", w->label,
			 COST_WINDOW_MS / 1000);
		rc = -ETIMEDOUT;
	}
	if (!rc)
		rc = take_counters(x, 1, st, c, why, len);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/callgrind.out.%s.%u", x->plan->cost_dir, x->pair->name,
		 sh->cost.dumps);
	instr = cost_totals(path);
	if (!instr || !sh->cost.measured) {
		snprintf(why, len, "cost %s: no instruction count in %s", w->label, path);
		return -EIO;
	}
	per = (double)instr / ((double)sh->cost.measured / w->unit);
	add(out, w->fig, per);
	printf("  %-20s cost %-13s %.0f %s in the window, %llu instructions: %.0f instr per %s "
	       "(%.0f s with the warm-up; %s)\n",
	       x->pair->name, w->label, (double)sh->cost.measured / w->unit,
	       w->unit == 1024 ? "KiB" : "requests", (unsigned long long)instr, per,
	       w->unit == 1024 ? "KiB" : "request", (double)(now_ns() - t0) / 1e9, path);
	/* Loss recovery counts too: a server 50 times slower than usual can
	 * make the clients retransmit (c10000: a round of 10,000 requests
	 * takes longer than Linux's 200 ms minimum RTO). */
	printf("  %-20s cost %-13s warm-up and window: the server received %llu and sent %llu "
	       "frames (%.2f per %s, pure ACKs %llu, ACKs held %llu, of them expired %llu), "
	       "retransmitted %llu; RX ring full %llu\n",
	       x->pair->name, w->label, (unsigned long long)(st[1].rx_frames - st[0].rx_frames),
	       (unsigned long long)(st[1].tx_frames - st[0].tx_frames),
	       (double)(st[1].rx_frames - st[0].rx_frames + st[1].tx_frames - st[0].tx_frames) /
		       ((double)(w->warm + w->bytes) / w->unit),
	       w->unit == 1024 ? "KiB" : "request",
	       (unsigned long long)(st[1].tcp_pure_acks - st[0].tcp_pure_acks),
	       (unsigned long long)(st[1].tcp_acks_held - st[0].tcp_acks_held),
	       (unsigned long long)(st[1].tcp_acks_hold_expired - st[0].tcp_acks_hold_expired),
	       (unsigned long long)(st[1].tcp_retransmits - st[0].tcp_retransmits),
	       (unsigned long long)(st[1].xdp_rx_ring_full - st[0].xdp_rx_ring_full));
	if (x->plan->verbose) {
		print_deltas(x, st, x->wire_st[0], x->wire_st[1]);
		cost_top(path);
	}
	fflush(stdout);
	if (last)
		return 0;
	/* Closed on both sides before the next window opens its own. */
	cmd.op = CMD_CLOSE;
	rc = scale_cmd(x, &cmd, "closing", acc0, SCALE_DRAIN_MS + RUN_SLACK_MS + (int)w->conns * 20,
		       &r, why, len);
	if (!rc)
		rc = scale_wait_server(x, w->conns, "closing", acc0, open_at_most, open0, why, len);
	return rc;
}

static uint64_t at_least(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The cost run: echo over BENCH_COST_C_SMALL and BENCH_COST_C_LARGE
 * connections (a warm-up of at least one request per connection), then
 * bulk, each a window of the server under callgrind. */
static int measure_cost(struct ctx *x, struct bench_result *out)
{
	const struct bench_plan *p = x->plan;
	uint64_t mib = (uint64_t)p->cost_bulk_mib << 20;
	const struct cost_window w[] = {
		{"echo64.c64", BENCH_COST_C_SMALL, p->echo_size,
		 at_least(p->cost_warmup, BENCH_COST_C_SMALL) * p->echo_size,
		 (uint64_t)p->cost_requests * p->echo_size, BF_COST_C64, p->echo_size},
		{"echo64.c10000", BENCH_COST_C_LARGE, p->echo_size,
		 at_least(p->cost_warmup, BENCH_COST_C_LARGE) * p->echo_size,
		 (uint64_t)p->cost_requests * p->echo_size, BF_COST_C10000, p->echo_size},
		{"bulk", 1, p->bulk_size, at_least(mib / 4, p->bulk_size), mib, BF_COST_BULK, 1024},
	};
	unsigned n = sizeof(w) / sizeof(w[0]);

	for (unsigned k = 0; k < n; k++) {
		int rc = cost_run_window(x, &w[k], k + 1 == n, out);

		if (rc)
			return rc;
		if (app_stop)
			return -EINTR;
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

/* The largest N of the scale run. */
static unsigned scale_top(const struct bench_plan *p)
{
	unsigned top = bench_scale_n[0];

	for (unsigned k = 0; k < BENCH_SCALE_STEPS && bench_scale_n[k] <= p->scale_max; k++)
		top = bench_scale_n[k];
	return top;
}

/* The client process; for a Linux client of the scale run over more
 * connections than one process may hold, as many more as that takes. Each
 * answers first how it started (@p hello: the first's). */
static int start_clients(struct ctx *x, struct res *hello, char *why, size_t len)
{
	unsigned top = x->cost ? BENCH_COST_C_LARGE : scale_top(x->plan);
	int rc = 0;

	x->workers = 1;
	if ((scale_on(x) || x->cost) && x->pair->client == BENCH_KERNEL && x->fd_cap &&
	    top > x->fd_cap)
		x->workers = (top + x->fd_cap - 1) / x->fd_cap;
	if (x->workers > SCALE_WORKERS) {
		snprintf(why, len, "scale: %u Linux client processes would be needed (at most %u)",
			 x->workers, SCALE_WORKERS);
		return -EMFILE;
	}
	for (unsigned i = 0; i < x->workers && !rc; i++) {
		struct res r = {0};

		worker(x, i)->stop = &app_stop;
		x->self = i; /* the child's copy of x says which it is */
		rc = start(x, worker(x, i), x->ns_client, client_main, why, len);
		if (!rc)
			rc = wait_res(worker(x, i), &r, START_TIMEOUT_MS, why, len);
		if (!rc && r.rc) {
			rc = r.rc;
			snprintf(why, len, "client: %s", r.lg.first_error);
		}
		if (!i)
			*hello = r;
	}
	x->self = 0;
	return rc;
}

/* One session of a pair: its link, server and client processes, the
 * measurements (the cost run's, @p cost, or the others), and teardown. */
static int session(const struct bench_pair *pair, const struct bench_plan *plan,
		   const struct bench_at *at, bool cost, struct bench_result *out)
{
	struct ctx x = {
		.pair = pair, .plan = plan, .at = at, .client.stop = &app_stop, .cost = cost};
	struct res hello;
	int rc;

	if (cost)
		x.fd_cap = nofile_raise(BENCH_COST_C_LARGE);
	else if (bench_runs(pair, plan) & BENCH_RUN_SCALE)
		x.fd_cap = nofile_raise(plan->scale_max);
	/* A memfd, so that a server re-executed under valgrind maps it too. */
	x.sh_fd = memfd_create("skiff-bench", MFD_CLOEXEC);
	if (x.sh_fd < 0 || ftruncate(x.sh_fd, sizeof(*x.sh)) != 0) {
		snprintf(out->error, sizeof(out->error), "memfd: %s", strerror(errno));
		if (x.sh_fd >= 0)
			close(x.sh_fd);
		return -ENOMEM;
	}
	x.sh = mmap(NULL, sizeof(*x.sh), PROT_READ | PROT_WRITE, MAP_SHARED, x.sh_fd, 0);
	if (x.sh == MAP_FAILED) {
		snprintf(out->error, sizeof(out->error), "mmap: %s", strerror(errno));
		close(x.sh_fd);
		return -ENOMEM;
	}
	rc = build_link(&x, out->error, sizeof(out->error));
	/* The server first: the client connects to it. Neither inherits an
	 * AF_XDP socket: the parent never opens one. */
	if (!rc)
		rc = start(&x, &x.server, x.ns_server, server_main, out->error, sizeof(out->error));
	if (!rc)
		rc = wait_server(&x, out->error, sizeof(out->error));
	/* The server's memory before any connection (the scale run's base). */
	if (!rc)
		x.mem0 = mem_kib(x.server.pid);
	if (!rc)
		rc = start_clients(&x, &hello, out->error, sizeof(out->error));
	if (rc)
		goto out_teardown;
	if (cost) {
		printf("  %s: the cost run: %s; server %s under callgrind, client %s; profiles in "
		       "%s\n",
		       pair->name, pair->what, x.sh->note, hello.lg.first_error, plan->cost_dir);
		fflush(stdout);
	} else if (!out->mode[0]) {
		snprintf(out->mode, sizeof(out->mode), "server %s, client %s", x.sh->note,
			 hello.lg.first_error);
		if (x.workers > 1)
			snprintf(out->mode + strlen(out->mode),
				 sizeof(out->mode) - strlen(out->mode),
				 " (scale: %u client processes of at most %u connections: "
				 "RLIMIT_NOFILE cannot be raised further here)",
				 x.workers, x.fd_cap);
		printf("  %s: %s; %s\n", pair->name, pair->what, out->mode);
		fflush(stdout);
	}
	rc = cost ? measure_cost(&x, out) : measure(&x, at->round, out);

out_teardown:
	if (rc == -EINTR)
		snprintf(out->error, sizeof(out->error), "interrupted");
	for (unsigned i = SCALE_WORKERS - 1; i > 0; i--)
		runner_stop(&x.more[i - 1], 3000);
	runner_stop(&x.client, 3000);
	__atomic_store_n(&x.sh->stop, 1, __ATOMIC_RELEASE);
	runner_stop(&x.server, 5000);
	if (x.testbed)
		tb_destroy();
	skiff_memlink_destroy(x.wire);
	munmap(x.sh, sizeof(*x.sh));
	close(x.sh_fd);
	return rc;
}

int bench_run_pair(const struct bench_pair *pair, const struct bench_plan *plan,
		   const struct bench_at *at, struct bench_result *out)
{
	unsigned runs = bench_runs(pair, plan);
	int rc = 0;

	/* The cost run counts instructions: once is enough. */
	if ((runs & BENCH_RUN_COST) && !at->round)
		rc = session(pair, plan, at, true, out);
	if (!rc && (runs & ~BENCH_RUN_COST))
		rc = session(pair, plan, at, false, out);
	return rc;
}
