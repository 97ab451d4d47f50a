/**
 * @file
 * skiff-bench: skiff against the Linux kernel's TCP on this machine, one
 * pair of endpoints at a time, with the same client for every pair (the
 * closed-loop load generator of loadgen.h, over Linux or skiff sockets)
 * and the same echo server (echo_server.h: skiff-echo's zero-copy data
 * path on skiff, plain recv and send on Linux).
 *
 * A pair runs as two processes pinned to their own cores, the server and
 * the client, forked from a parent (runner.h) that builds the testbed
 * (testbed.h), hands out the runs and collects the figures. The parent
 * waits in poll() meanwhile, so it does not disturb the whole-machine CPU
 * count.
 *
 * The scale run (BENCH_RUN_SCALE, opt-in) holds N connections open at once,
 * N in bench_scale_n[]: how long opening them takes, what they cost the
 * server in memory while idle, and requests/s over them.
 *
 * The loss run (BENCH_RUN_LOSS, opt-in) is not a pair's: one bulk transfer
 * at a time through an impairing router (loss.h).
 *
 * The cost run (BENCH_RUN_COST, opt-in) runs the skiff server under
 * valgrind's callgrind and counts the instructions it executes per request
 * (echo over 64 and 10,000 connections) and per KiB (bulk), over a fixed
 * number of requests after a warm-up; once, in the first round, with a
 * server process of its own.
 *
 * Threading: one thread per process; nothing here is reentrant.
 */
#ifndef SKIFF_APPS_BENCH_H
#define SKIFF_APPS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** How the two ends are joined. */
enum bench_net {
	BENCH_NET_MEMLINK,	/* skiff's shared-memory wire, no kernel in between */
	BENCH_NET_VETH,		/* a veth pair between two namespaces, as the testbed makes it */
	BENCH_NET_VETH_OFFLOAD, /* the same, TX checksum offload (and so TSO) back on */
	BENCH_NET_LO,		/* one namespace's loopback */
};

/** Whose TCP an end runs. */
enum bench_end {
	BENCH_KERNEL,
	BENCH_SKIFF,
};

struct bench_pair {
	const char *name; /* as the `bench` lines spell it */
	const char *what;
	enum bench_net net;
	enum bench_end client, server;
	bool scale; /* the scale run applies */
	bool cost;  /* the cost run applies */
};

/** What one run measures and how long. */
struct bench_plan {
	unsigned reps;	     /* rounds: repetitions of each measurement; figures are medians */
	int warmup_ms;	     /* an unmeasured echo run first */
	int echo_ms;	     /* each echo repetition */
	int bulk_ms;	     /* each bulk repetition, at most ... */
	uint64_t bulk_bytes; /* ... or this many bytes echoed */
	uint32_t echo_size;  /* request size of the echo runs */
	uint32_t bulk_size;  /* request size of the bulk runs */
	int cpu_server, cpu_client;
	unsigned skip;	   /* BENCH_RUN_* bits of the measurements left out */
	uint32_t loss_ppm; /* memlink: frames dropped each way, parts per million */
	bool verbose;
	int scale_ms;		 /* each scale window, once every connection is established ... */
	int scale_warmup_ms;	 /* ... and the closed loop has run this long */
	unsigned scale_max;	 /* the largest N of the scale run */
	bool tty;		 /* stdout is a terminal: a progress line while waiting */
	uint32_t frames;	 /* UMEM frames of every skiff end (0: skiff's default) */
	uint32_t ring;		 /* their rings, memlink's too (0: skiff's default) */
	uint64_t loss_bytes;	 /* the loss run: bytes per transfer ... */
	unsigned loss_reps;	 /* ... and repetitions of each (medians) */
	unsigned loss_cases;	 /* bits of bench_loss_cases[] to run */
	char loss_kernel_cc[16]; /* the Linux senders' TCP_CONGESTION */
	uint32_t cost_warmup; /* the cost run: echo requests before each window (at least N) ... */
	uint32_t cost_requests; /* ... and in it */
	uint32_t cost_bulk_mib; /* bulk: MiB echoed in the window (after a quarter as much) */
	char cost_dir[128];	/* where the profiles go */
	unsigned preload_reps;	/* the preload run: repetitions (medians) ... */
	int preload_ms;		/* ... and about how long each measurement lasts */
};

/** Where a run is, for the progress line. */
struct bench_at {
	unsigned round;
	unsigned pair, pairs; /* among the pairs selected, from 0 */
	uint64_t t0_ns;	      /* the whole run's start, CLOCK_MONOTONIC */
	/* The time left (bench_eta()): the plan's estimates of the whole run,
	 * of the units (a pair's round, a loss case) finished, and of the
	 * one under way, which started at unit_t0_ns. */
	double est_total_s, est_done_s, unit_est_s;
	uint64_t unit_t0_ns;
};

/** The plan's estimate of one round of @p pair, in seconds (@p round 0
 * holds the cost run). */
double bench_estimate_pair_s(const struct bench_pair *pair, const struct bench_plan *plan,
			     unsigned round);

/** The estimate of loss case @p k (bench_loss_cases[]) of @p plan, in seconds. */
double bench_estimate_loss_s(const struct bench_plan *plan, unsigned k);

/**
 * "about 12m30s left" for the progress line: what the plan's estimates
 * leave of @p at's run, scaled by how the finished units compared with
 * their estimates.
 */
void bench_eta(const struct bench_at *at, char *buf, size_t len);

/** The measurements, in the order they run. */
enum {
	BENCH_RUN_C1 = 1u << 0,	     /* echo, 1 connection */
	BENCH_RUN_C64 = 1u << 1,     /* echo, 64 connections */
	BENCH_RUN_BULK = 1u << 2,    /* bulk, 1 connection */
	BENCH_RUN_SCALE = 1u << 3,   /* echo over 64 .. 100,000 connections (opt-in) */
	BENCH_RUN_LOSS = 1u << 4,    /* bulk through an impairing router (opt-in, loss.h) */
	BENCH_RUN_COST = 1u << 5,    /* instructions per request under callgrind (opt-in) */
	BENCH_RUN_PRELOAD = 1u << 6, /* real servers under skiff-run (opt-in, preload.h) */
};

/** The connection counts of the cost run's echo windows. */
#define BENCH_COST_C_SMALL 64
#define BENCH_COST_C_LARGE 10000

/** The connection counts of the scale run, and which figures come from which. */
#define BENCH_SCALE_STEPS  4
#define BENCH_SCALE_OPEN_N 10000  /* open<N>.conn_per_s */
#define BENCH_SCALE_IDLE_N 100000 /* idle<N>.kib_per_conn */
extern const unsigned bench_scale_n[BENCH_SCALE_STEPS];

/** The figures of a pair (medians over the repetitions). */
enum bench_fig {
	BF_C1_RPS,
	BF_C1_P50,
	BF_C1_P99,
	BF_C1_CPU,
	BF_C64_RPS,
	BF_C64_P50,
	BF_C64_P99,
	BF_C64_CPU,
	BF_BULK_GBPS,
	BF_BULK_CPU, /* whole-machine CPU seconds per GB echoed */
	BF_COPIES,   /* stack copies per payload byte, bulk (skiff servers) */
	BF_COPIES_ECHO,
	BF_APP_COPIES, /* the echo server's own copy per payload byte, bulk */
	BF_SC_RPS,     /* scale: req/s over bench_scale_n[0] connections, then [1], ... */
	BF_SC_OPEN = BF_SC_RPS + BENCH_SCALE_STEPS, /* BENCH_SCALE_OPEN_N opened: conn/s */
	BF_SC_IDLE,				    /* the server's RSS per idle connection, KiB */
	BF_SC_R10000,	/* ratios of medians (bench_finish()): c10000 over c64 */
	BF_SC_R100000,	/* c100000 over c64 */
	BF_COST_C64,	/* cost: the server's instructions per echo request, 64 connections */
	BF_COST_C10000, /* ... 10,000 connections */
	BF_COST_BULK,	/* ... per KiB echoed, bulk */
	BF_COUNT,
};

#define BENCH_MAX_REPS 64

/** A pair's samples, one per repetition, and their medians. Zero it before
 * the first round. */
struct bench_result {
	bool ok;	 /* bench_finish(): every measurement has samples, none failed */
	bool failed;	 /* a round failed: no more rounds */
	char error[256]; /* why */
	char mode[384];	 /* how the two ends run (XDP mode, ...) */
	double v[BF_COUNT][BENCH_MAX_REPS];
	unsigned n[BF_COUNT];
	double fig[BF_COUNT]; /* medians */
	bool have[BF_COUNT];
	double steal_max;	 /* the most the hypervisor took from a run, share of the machine */
	uint64_t retransmits;	 /* the skiff server's, over the c64 and bulk runs */
	unsigned scale_failures; /* scale steps that failed (the pair went on) */
	char scale_error[256];	 /* the first one's why */
};

/**
 * One round of @p pair: its testbed and processes set up, a warm-up, one
 * repetition of each measurement, everything torn down; the samples are
 * added to @p out. Rounds go pair after pair, so that a burst of load from
 * elsewhere on the machine spreads over every pair instead of spoiling one.
 * @return 0, or -errno (out->error says why; -EINTR when stopped by a signal)
 */
int bench_run_pair(const struct bench_pair *pair, const struct bench_plan *plan,
		   const struct bench_at *at, struct bench_result *out);

/** The measurements of @p plan that apply to @p pair (BENCH_RUN_* bits). */
unsigned bench_runs(const struct bench_pair *pair, const struct bench_plan *plan);

/**
 * The cost run's server, as the process valgrind runs (skiff-bench
 * re-executes itself so, with @p argv[1] "--cost-server"): it maps the
 * parent's shared block and the memlink wire from the descriptors named in
 * @p argv and serves as a pair's server does.
 * @return the process's exit status
 */
int bench_cost_server_main(int argc, char **argv);

/** The medians of @p out's samples, and the scale ratios of medians. */
void bench_finish(struct bench_result *out);

/** Whole-machine CPU time from /proc/stat, in clock ticks. */
struct bench_cpu {
	uint64_t busy;	/* user + nice + system + irq + softirq, all CPUs */
	uint64_t steal; /* taken by the hypervisor */
	uint64_t total; /* every field but guest (counted in user already) */
};

int bench_cpu_read(struct bench_cpu *out);
/** Clock ticks per second of /proc/stat. */
double bench_cpu_hz(void);

#endif
