/* skiff-bench: skiff against the Linux kernel's TCP on this machine, in
 * one command (bench.h, docs/benchmarks.md). Prints the plan, each
 * repetition, a table of medians, then one `bench <pair>.<metric> <value>
 * <unit>` line per figure, the ratios to the kernel_veth baseline and the
 * targets met or missed.
 *
 * Exit status: 0 every selected pair measured (targets missed or not),
 * 1 a pair (or a step of the scale run, or a transfer of the loss run)
 * could not be measured, 2 bad use, 77 not root (only the pairs that need
 * no testbed were measured). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <skiff/skiff.h>

#include "app.h"
#include "bench.h"
#include "loss.h"
#include "preload.h"
#include "plot.h"
#include "testbed.h"

#ifndef SKIFF_BENCH_BUILD_TYPE
#define SKIFF_BENCH_BUILD_TYPE "unknown"
#endif

#define EXIT_SKIP 77

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#define BASELINE "kernel_veth"

static const struct bench_pair pairs[] = {
	{"skiff_memlink", "skiff <-> skiff over memlink", BENCH_NET_MEMLINK, BENCH_SKIFF,
	 BENCH_SKIFF, true, true},
	{"skiff_veth", "skiff <-> skiff over veth (AF_XDP)", BENCH_NET_VETH, BENCH_SKIFF,
	 BENCH_SKIFF, false, false},
	{"kernel_to_skiff_veth", "Linux client -> skiff server over veth (AF_XDP)", BENCH_NET_VETH,
	 BENCH_KERNEL, BENCH_SKIFF, true, true},
	{"kernel_veth", "Linux <-> Linux over veth, offloads as for AF_XDP (the baseline)",
	 BENCH_NET_VETH, BENCH_KERNEL, BENCH_KERNEL, true, false},
	{"kernel_lo", "Linux <-> Linux over loopback (reference)", BENCH_NET_LO, BENCH_KERNEL,
	 BENCH_KERNEL, false, false},
	{"kernel_veth_tso", "Linux <-> Linux over veth, checksum offload and TSO on (reference)",
	 BENCH_NET_VETH_OFFLOAD, BENCH_KERNEL, BENCH_KERNEL, false, false},
};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))
/* The pair whose cost lines go unprefixed (issue #19's headline); the
 * others' carry their name. */
#define COST_PAIR "kernel_to_skiff_veth"

/* The figures as `bench` lines spell them. */
static const struct {
	enum bench_fig fig;
	const char *metric;
	const char *unit;
	const char *fmt;
	bool ratio; /* compared with the baseline */
} metrics[] = {
/* The four figures of an echo run, in bench_fig order from its first. */
#define ECHO_METRICS(run, first)                                                                   \
	{first, "echo64." run ".rps", "req/s", "%.0f", true},                                      \
		{first + 1, "echo64." run ".p50_us", "us", "%.1f", true},                          \
		{first + 2, "echo64." run ".p99_us", "us", "%.1f", true},                          \
	{                                                                                          \
		first + 3, "echo64." run ".cpu_s_per_mreq", "s/Mreq", "%.2f", true                 \
	}
	ECHO_METRICS("c1", BF_C1_RPS),
	ECHO_METRICS("c64", BF_C64_RPS),
#undef ECHO_METRICS
	{BF_BULK_GBPS, "bulk.gbps", "Gbit/s", "%.3f", true},
	{BF_BULK_CPU, "bulk.cpu_s_per_gb", "s/GB", "%.3f", true},
	{BF_COPIES, "copies_per_byte", "B/B", "%.4f", false},
	{BF_COPIES_ECHO, "echo64.c64.copies_per_byte", "B/B", "%.4f", false},
	{BF_APP_COPIES, "app_copies_per_byte", "B/B", "%.3f", false},
	{BF_SC_RPS, "scale.c64.rps", "req/s", "%.0f", false},
	{BF_SC_RPS + 1, "scale.c1000.rps", "req/s", "%.0f", false},
	{BF_SC_RPS + 2, "scale.c10000.rps", "req/s", "%.0f", false},
	{BF_SC_RPS + 3, "scale.c100000.rps", "req/s", "%.0f", false},
	{BF_SC_OPEN, "scale.open10000.conn_per_s", "conn/s", "%.0f", false},
	{BF_SC_IDLE, "scale.idle100000.kib_per_conn", "KiB", "%.3f", false},
	{BF_COST_C64, "cost.echo64.c64.instr_per_req", "instr", "%.0f", false},
	{BF_COST_C10000, "cost.echo64.c10000.instr_per_req", "instr", "%.0f", false},
	{BF_COST_BULK, "cost.bulk.instr_per_kib", "instr", "%.0f", false},
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

struct opts {
	struct bench_plan plan;
	double settle_s; /* wait this long at most for a quiet machine before each pair */
	bool quick;
	bool want[NPAIRS];
	bool loss;    /* the loss run (no pair's) */
	bool preload; /* the preload run (no pair's) */
	bool dry_run;
	char plot_dir[256]; /* --plot: the figures as SVG here */
	char plot_note[96]; /* --plot-note: added to each figure's subtitle */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: skiff-bench [--quick] [--reps N] [--echo-s S] [--bulk-s S] [--bulk-gib G]\n"
		"                   [--pairs NAME,...] [--runs c1,c64,bulk,scale] [--cpus S,C]\n"
		"                   [--warmup-s S] [--settle S] [--memlink-loss PCT] [--verbose]\n"
		"                   [--scale-s S] [--scale-max N] [--frames N] [--ring N]\n"
		"                   [--loss-mib M] [--loss-cases NAME,...] [--loss-kernel-cc NAME]\n"
		"                   [--cost-requests N] [--cost-warmup N] [--cost-bulk-mib M]\n"
		"                   [--cost-dir DIR] [--preload-s S] [--plot DIR [--plot-note TEXT]]\n"
		"                   [--dry-run]\n"
		"  skiff against the Linux kernel's TCP on this machine (docs/benchmarks.md).\n"
		"  --quick        short runs: echo 1 s, bulk 3 s (default: echo 5 s, bulk 30 s)\n"
		"  --reps N       repetitions of each measurement, medians reported (5)\n"
		"  --echo-s S     seconds per echo repetition\n"
		"  --bulk-s S     seconds per bulk repetition, at most ...\n"
		"  --bulk-gib G   ... or G GiB echoed (8)\n"
		"  --pairs LIST   some of: ");
	for (unsigned i = 0; i < NPAIRS; i++)
		fprintf(f, "%s%s", i ? "," : "", pairs[i].name);
	fprintf(f,
		"\n  --runs LIST    some of the measurements: c1,c64,bulk (the default), scale\n"
		"                 (echo over 64, 1000, 10000 and 100000 connections: opt-in),\n"
		"                 loss (bulk through a router that loses, duplicates, reorders\n"
		"                 or delays, skiff and Linux sending and receiving: opt-in),\n"
		"                 cost (the skiff server under callgrind: instructions per\n"
		"                 request and per KiB; once, whatever --reps says: opt-in),\n"
		"                 preload (redis-server, nginx, iperf3 -s and memcached under\n"
		"                 skiff-run against the same servers on the kernel: opt-in)\n"
		"  --warmup-s S   an unmeasured echo run (64 connections) first (0.5)\n"
		"  --settle S     before each pair, wait up to S s for the machine to be less\n"
		"                 than 10%% busy (0: don't wait)\n"
		"  --cpus S,C     the cores of the server and the client (0,1)\n"
		"  --memlink-loss PCT  memlink drops PCT %% of the frames each way (0):\n"
		"                 loss recovery, and copies after it, under a known loss\n"
		"  --verbose      the skiff server's counters (and memlink's) after each run\n"
		"  --scale-s S    seconds per scale window (quick: 1, else 5), after a 1 s warm-up\n"
		"  --scale-max N  the scale run stops at N connections (100000)\n"
		"  --frames N     UMEM frames of every skiff end (skiff's default: 16384)\n"
		"  --ring N       their AF_XDP and memlink rings, a power of two, at most\n"
		"                 frames / 2 (skiff's default: 2048)\n"
		"                 (the scale run: skiff_sizes_for() its largest step)\n"
		"  --loss-mib M   MiB per transfer of the loss run (64; quick: 16); its\n"
		"                 repetitions are 3 unless --reps says otherwise\n"
		"  --loss-kernel-cc NAME  the Linux senders' congestion control in the loss\n"
		"                 run (cubic, skiff's default, unless told: the machine's\n"
		"                 default may be another, e.g. bbr, which ignores loss)\n"
		"  --cost-requests N  requests in each echo window of the cost run (20000)\n"
		"  --cost-warmup N    requests before it, at least one per connection (2000)\n"
		"  --cost-bulk-mib M  MiB echoed in its bulk window, after M/4 (64; quick: 16)\n"
		"  --cost-dir DIR     where its profiles go (a new /tmp/skiff-cost.XXXXXX)\n"
		"  --preload-s S  about how long each measurement of the preload run lasts\n"
		"                 (4; quick: 1); its repetitions are 3 unless --reps says\n"
		"                 otherwise\n"
		"  --plot DIR     the figures as bar charts too: DIR/<figure>.svg, one per\n"
		"                 figure (every pair, ratios to kernel_veth), DIR/index.html\n"
		"  --plot-note TEXT  added to each chart's subtitle (e.g. the commit)\n"
		"  --dry-run      print the plan and its estimated duration, measure nothing\n"
		"  --loss-cases LIST  some of: ");
	for (unsigned i = 0; i < BENCH_LOSS_CASES; i++)
		fprintf(f, "%s%s", i ? "," : "", bench_loss_cases[i].name);
	fprintf(f, "\n");
}

static __attribute__((noreturn)) void bad_use(const char *what, const char *arg)
{
	fprintf(stderr, "skiff-bench: %s '%s' (--help for help)\n", what, arg);
	exit(APP_EXIT_USAGE);
}

static double num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < lo || v > hi)
		bad_use(what, s);
	return v;
}

/* The pair named @p name, or -1. */
static int find(const char *name)
{
	for (unsigned i = 0; i < NPAIRS; i++)
		if (!strcmp(pairs[i].name, name))
			return (int)i;
	return -1;
}

/* The measurement named @p name (its BENCH_RUN_* bit number), or -1. */
static int find_run(const char *name)
{
	static const char *const runs[] = {"c1", "c64", "bulk", "scale", "loss", "cost", "preload"};

	for (unsigned i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		if (!strcmp(runs[i], name))
			return (int)i;
	return -1;
}

/* The loss case named @p name, or -1. */
static int find_case(const char *name)
{
	for (unsigned i = 0; i < BENCH_LOSS_CASES; i++)
		if (!strcmp(bench_loss_cases[i].name, name))
			return (int)i;
	return -1;
}

/* The words of the comma-separated @p list as a set of the indices
 * @p index finds for them; a word it does not know is bad use (@p what). */
static unsigned words(const char *list, int (*index)(const char *word), const char *what)
{
	char *copy = strdup(list), *save = NULL;
	unsigned set = 0;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = index(t);

		if (i < 0)
			bad_use(what, t);
		set |= 1u << i;
	}
	free(copy);
	return set;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"quick", no_argument, NULL, 'q'},
		{"reps", required_argument, NULL, 'r'},
		{"echo-s", required_argument, NULL, 'e'},
		{"bulk-s", required_argument, NULL, 'b'},
		{"bulk-gib", required_argument, NULL, 'g'},
		{"pairs", required_argument, NULL, 'p'},
		{"cpus", required_argument, NULL, 'c'},
		{"runs", required_argument, NULL, 'R'},
		{"warmup-s", required_argument, NULL, 'w'},
		{"settle", required_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"memlink-loss", required_argument, NULL, 'L'},
		{"scale-s", required_argument, NULL, 'S'},
		{"scale-max", required_argument, NULL, 'M'},
		{"frames", required_argument, NULL, 'F'},
		{"ring", required_argument, NULL, 'G'},
		{"loss-mib", required_argument, NULL, 'B'},
		{"loss-cases", required_argument, NULL, 'K'},
		{"cost-requests", required_argument, NULL, 'Q'},
		{"cost-warmup", required_argument, NULL, 'W'},
		{"cost-bulk-mib", required_argument, NULL, 'X'},
		{"cost-dir", required_argument, NULL, 'D'},
		{"loss-kernel-cc", required_argument, NULL, 'C'},
		{"plot", required_argument, NULL, 'P'},
		{"plot-note", required_argument, NULL, 'N'},
		{"dry-run", no_argument, NULL, 'Y'},
		{"preload-s", required_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double echo_s = 0, bulk_s = 0, bulk_gib = 8, warmup_s = 0.5, scale_s = 0, loss_mib = 0;
	double cost_mib = 0, preload_s = 0;
	bool chose = false, reps_set = false;
	int ch;

	memset(o, 0, sizeof(*o));
	o->plan.reps = 5;
	o->plan.cpu_server = 0;
	o->plan.cpu_client = 1;
	o->plan.skip = BENCH_RUN_SCALE | BENCH_RUN_LOSS | BENCH_RUN_COST | BENCH_RUN_PRELOAD;
	o->plan.cost_requests = 20000;
	o->plan.cost_warmup = 2000;
	o->plan.loss_cases = (1u << BENCH_LOSS_CASES) - 1;
	snprintf(o->plan.loss_kernel_cc, sizeof(o->plan.loss_kernel_cc), "cubic");
	o->plan.scale_max = BENCH_SCALE_IDLE_N;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'q':
			o->quick = true;
			break;
		case 'r':
			o->plan.reps = (unsigned)num(optarg, 1, 64, "bad repetition count");
			reps_set = true;
			break;
		case 'e':
			echo_s = num(optarg, 0.1, 3600, "bad echo duration");
			break;
		case 'b':
			bulk_s = num(optarg, 0.1, 3600, "bad bulk duration");
			break;
		case 'g':
			bulk_gib = num(optarg, 0.01, 1024, "bad bulk size");
			break;
		case 'p': {
			unsigned set = words(optarg, find, "unknown pair");

			for (unsigned i = 0; i < NPAIRS; i++)
				if (set & (1u << i))
					o->want[i] = chose = true;
			break;
		}
		case 's':
			o->settle_s = num(optarg, 0, 3600, "bad settle time");
			break;
		case 'w':
			warmup_s = num(optarg, 0, 3600, "bad warm-up duration");
			break;
		case 'R':
			o->plan.skip =
				(BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK | BENCH_RUN_SCALE |
				 BENCH_RUN_LOSS | BENCH_RUN_COST | BENCH_RUN_PRELOAD) &
				~words(optarg, find_run, "unknown measurement");
			break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->plan.cpu_server, &o->plan.cpu_client) !=
				    2 ||
			    o->plan.cpu_server < 0 || o->plan.cpu_client < 0)
				bad_use("bad --cpus", optarg);
			break;
		case 'v':
			o->plan.verbose = true;
			break;
		case 'L':
			o->plan.loss_ppm = (uint32_t)(num(optarg, 0, 50, "bad loss rate") * 10000);
			break;
		case 'S':
			scale_s = num(optarg, 0.1, 3600, "bad scale window");
			break;
		case 'M':
			o->plan.scale_max = (unsigned)num(optarg, bench_scale_n[0],
							  bench_scale_n[BENCH_SCALE_STEPS - 1],
							  "bad scale maximum");
			break;
		case 'F':
			o->plan.frames = (uint32_t)num(optarg, 1024, 1 << 22, "bad frame count");
			break;
		case 'G':
			o->plan.ring = (uint32_t)num(optarg, 64, 1 << 21, "bad ring size");
			if (o->plan.ring & (o->plan.ring - 1))
				bad_use("the ring size must be a power of two", optarg);
			break;
		case 'B':
			loss_mib = num(optarg, 1, 4096, "bad transfer size");
			break;
		case 'K':
			o->plan.loss_cases = words(optarg, find_case, "unknown loss case");
			break;
		case 'Q':
			o->plan.cost_requests =
				(uint32_t)num(optarg, 100, 1e8, "bad request count");
			break;
		case 'W':
			o->plan.cost_warmup = (uint32_t)num(optarg, 0, 1e8, "bad warm-up count");
			break;
		case 'X':
			cost_mib = num(optarg, 4, 65536, "bad bulk size");
			break;
		case 'D':
			if (strlen(optarg) >= sizeof(o->plan.cost_dir) - 1)
				bad_use("too long a directory", optarg);
			snprintf(o->plan.cost_dir, sizeof(o->plan.cost_dir), "%s", optarg);
			break;
		case 'C':
			if (!*optarg || strlen(optarg) >= sizeof(o->plan.loss_kernel_cc))
				bad_use("bad congestion control name", optarg);
			snprintf(o->plan.loss_kernel_cc, sizeof(o->plan.loss_kernel_cc), "%s",
				 optarg);
			break;
		case 'P':
			if (!*optarg || strlen(optarg) >= sizeof(o->plot_dir) - 64)
				bad_use("bad --plot directory", optarg);
			snprintf(o->plot_dir, sizeof(o->plot_dir), "%s", optarg);
			break;
		case 'N':
			snprintf(o->plot_note, sizeof(o->plot_note), "%s", optarg);
			break;
		case 'Y':
			o->dry_run = true;
			break;
		case 'U':
			preload_s = num(optarg, 0.5, 3600, "bad measurement duration");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "skiff-bench: --help for help\n");
			exit(APP_EXIT_USAGE);
		}
	}
	if (optind < argc)
		bad_use("unexpected argument", argv[optind]);
	if (!chose)
		for (unsigned i = 0; i < NPAIRS; i++)
			o->want[i] = true;
	/* The scale run is for some pairs only: a pair none of the runs asked
	 * for applies to is left out (and said so when named). */
	for (unsigned i = 0; i < NPAIRS; i++) {
		if (!o->want[i] || bench_runs(&pairs[i], &o->plan))
			continue;
		o->want[i] = false;
		if (chose)
			fprintf(stderr,
				"skiff-bench: %s: none of the runs asked for applies to it\n",
				pairs[i].name);
	}
	o->loss = !(o->plan.skip & BENCH_RUN_LOSS);
	o->preload = !(o->plan.skip & BENCH_RUN_PRELOAD);
	for (unsigned i = 0; i < NPAIRS && !o->want[i] && !o->loss && !o->preload; i++)
		if (i == NPAIRS - 1)
			bad_use("nothing to measure with", "--pairs and --runs");
	if (!echo_s)
		echo_s = o->quick ? 1 : 5;
	if (!bulk_s)
		bulk_s = o->quick ? 3 : 30;
	o->plan.echo_ms = (int)(echo_s * 1000);
	o->plan.bulk_ms = (int)(bulk_s * 1000);
	o->plan.bulk_bytes = (uint64_t)(bulk_gib * (1ull << 30));
	o->plan.echo_size = 64;
	o->plan.bulk_size = 4u << 20;
	if (o->plan.bulk_bytes < o->plan.bulk_size)
		o->plan.bulk_bytes = o->plan.bulk_size;
	o->plan.warmup_ms = (int)(warmup_s * 1000);
	if (!scale_s)
		scale_s = o->quick ? 1 : 5;
	o->plan.scale_ms = (int)(scale_s * 1000);
	o->plan.scale_warmup_ms = 1000;
	if (!loss_mib)
		loss_mib = o->quick ? 16 : 64;
	o->plan.loss_bytes = (uint64_t)(loss_mib * (1u << 20));
	o->plan.loss_reps = reps_set ? o->plan.reps : 3;
	o->plan.preload_reps = reps_set ? o->plan.reps : 3;
	o->plan.preload_ms = (int)((preload_s ? preload_s : o->quick ? 1 : 4) * 1000);
	o->plan.cost_bulk_mib = (uint32_t)(cost_mib ? cost_mib : o->quick ? 16 : 64);
	/* The cost run alone needs one round (its counts repeat). */
	if (!reps_set && (o->plan.skip | BENCH_RUN_LOSS | BENCH_RUN_PRELOAD) ==
				 (BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK | BENCH_RUN_SCALE |
				  BENCH_RUN_LOSS | BENCH_RUN_PRELOAD))
		o->plan.reps = 1;
	o->plan.tty = isatty(STDOUT_FILENO);
}

/* ---- the machine ------------------------------------------------------------ */

static void read_loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double a = 0, b = 0, c = 0;

	if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	if (f)
		fclose(f);
}

/* Share of the machine busy over @p ms with nothing of ours running. */
static double background_load(int ms)
{
	struct bench_cpu a, b;

	if (bench_cpu_read(&a))
		return -1;
	usleep((useconds_t)ms * 1000);
	if (bench_cpu_read(&b) || b.total == a.total)
		return -1;
	return (double)(b.busy - a.busy) / (double)(b.total - a.total);
}

/* Background load over 0.5 s, sampled until it is below 10% or @p max_s
 * have passed; returns the last sample. */
static double settle(double max_s)
{
	double load = background_load(500);

	for (double waited = 0.5; load > 0.10 && waited < max_s && !app_stop; waited += 0.5)
		load = background_load(500);
	return load;
}

/* The kernel's default congestion control, as new sockets get it. */
static const char *bench_kernel_default_cc(void)
{
	static char name[32];
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_congestion_control", "r");

	snprintf(name, sizeof(name), "unknown");
	if (f) {
		if (fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		fclose(f);
	}
	return name;
}

static bool any_pair(const struct opts *o)
{
	for (unsigned i = 0; i < NPAIRS; i++)
		if (o->want[i])
			return true;
	return false;
}

/* The plan's estimate of the whole run, in seconds (bench.h). */
static double estimate(const struct opts *o)
{
	double total = 0;

	for (unsigned r = 0; r < o->plan.reps; r++)
		for (unsigned i = 0; i < NPAIRS; i++)
			if (o->want[i])
				total += bench_estimate_pair_s(&pairs[i], &o->plan, r) +
					 0.5 /* settle() */;
	if (o->loss)
		for (unsigned k = 0; k < BENCH_LOSS_CASES; k++)
			if (o->plan.loss_cases & (1u << k))
				total += bench_estimate_loss_s(&o->plan, k) + 0.5;
	if (o->preload)
		total += bench_estimate_preload_s(&o->plan);
	return total;
}

static void print_plan(const struct opts *o)
{
	struct skiff_build_info bi;
	struct utsname u;
	char date[32], load[64];
	time_t t = time(NULL);
	double bg;

	skiff_get_build_info(&bi);
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M", localtime(&t));
	read_loadavg(load, sizeof(load));
	bg = background_load(1000);
	printf("skiff-bench %s, libskiff %s (lwIP %s), %s build%s\n", date, bi.skiff_version,
	       bi.lwip_version, SKIFF_BENCH_BUILD_TYPE,
	       bi.frame_tracking ? " with frame tracking" : "");
	printf("  machine    %s %s, %ld CPUs online; loadavg %s; busy %.0f%% of all CPUs over 1 s "
	       "before the run\n",
	       u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), load, bg * 100);
	printf("  method     server pinned to CPU %d, client to CPU %d (sched_setaffinity)%s\n",
	       o->plan.cpu_server, o->plan.cpu_client,
	       any_pair(o) ? "; the same closed-loop client (loadgen.c) for every pair" : "");
	if ((o->plan.skip & (BENCH_RUN_C1 | BENCH_RUN_C64)) != (BENCH_RUN_C1 | BENCH_RUN_C64))
		printf("  echo       %u-byte requests, 1 and 64 connections, %.1f s x %u repetitions "
		       "(medians), after a %.1f s warm-up\n",
		       o->plan.echo_size, o->plan.echo_ms / 1e3, o->plan.reps,
		       o->plan.warmup_ms / 1e3);
	if (!(o->plan.skip & BENCH_RUN_BULK))
		printf("  bulk       1 connection, %u MiB requests echoed, %.1f s or %.1f GiB x %u "
		       "repetitions; Gbit/s each way\n",
		       o->plan.bulk_size >> 20, o->plan.bulk_ms / 1e3,
		       (double)o->plan.bulk_bytes / (1ull << 30), o->plan.reps);
	if ((o->plan.skip & (BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK)) !=
	    (BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK))
		printf("  CPU        whole machine from /proc/stat (user+nice+system+irq+softirq, "
		       "all CPUs) over each run\n");
	if (!(o->plan.skip & BENCH_RUN_SCALE)) {
		printf("  scale      %u-byte echo over N connections at once, N =",
		       o->plan.echo_size);
		for (unsigned k = 0; k < BENCH_SCALE_STEPS && bench_scale_n[k] <= o->plan.scale_max;
		     k++)
			printf(" %u", bench_scale_n[k]);
		printf(" (pairs skiff_memlink, kernel_to_skiff_veth, kernel_veth); req/s over %.1f s "
		       "once all are established and after a %.1f s warm-up; opening %u timed; the "
		       "server's RSS with %u idle\n",
		       o->plan.scale_ms / 1e3, o->plan.scale_warmup_ms / 1e3, BENCH_SCALE_OPEN_N,
		       BENCH_SCALE_IDLE_N);
		printf("             server ports 7.. (one per 25000 connections), backlog 65535; "
		       "Linux clients from 8 addresses\n");
	}
	if (o->plan.frames || o->plan.ring)
		printf("  skiff      every skiff end with %u UMEM frames and %u-slot rings (not "
		       "skiff's defaults)\n",
		       o->plan.frames ? o->plan.frames : 16384, o->plan.ring ? o->plan.ring : 2048);
	if (o->loss) {
		printf("  loss run   %.0f MiB per transfer through a router namespace impairing both "
		       "ways, cases",
		       o->plan.loss_bytes / 1048576.0);
		for (unsigned k = 0; k < BENCH_LOSS_CASES; k++)
			if (o->plan.loss_cases & (1u << k))
				printf(" %s", bench_loss_cases[k].name);
		printf("; skiff -> Linux, Linux -> Linux and Linux -> skiff, %u repetitions "
		       "(medians); every byte checked\n",
		       o->plan.loss_reps);
		printf("             skiff sends with its default (cubic), Linux with %s (this "
		       "machine's default: %s)\n",
		       o->plan.loss_kernel_cc, bench_kernel_default_cc());
		printf("             impairment helper %s\n", bench_loss_helper());
	}
	if (!(o->plan.skip & BENCH_RUN_COST))
		printf("  cost       the skiff server under valgrind --tool=callgrind, instrumentation "
		       "on only in each window: echo over %u and %u connections, %u requests after "
		       "%u (at least one per connection); bulk, %u MiB after %u; once (pairs "
		       "kernel_to_skiff_veth, skiff_memlink); profiles in %s\n",
		       BENCH_COST_C_SMALL, BENCH_COST_C_LARGE, o->plan.cost_requests,
		       o->plan.cost_warmup, o->plan.cost_bulk_mib, o->plan.cost_bulk_mib / 4,
		       o->plan.cost_dir);
	if (o->preload) {
		printf("  preload    redis-server, nginx (1 worker), iperf3 -s, memcached -t 2, each "
		       "on the kernel's address and then under skiff-run on skiff's, on one veth "
		       "pair; %u repetitions (medians), about %.1f s per measurement\n",
		       o->plan.preload_reps, o->plan.preload_ms / 1e3);
		printf("             clients from the peer namespace: redis-benchmark -c 50 (-P 1, "
		       "-P 16), wrk -t1 -c64, iperf3 -c (1 stream), memcslap --concurrency=16 "
		       "(gets)\n");
	}
	if (o->plan.loss_ppm)
		printf("  loss       memlink drops %.2f%% of the frames each way (seeded)\n",
		       o->plan.loss_ppm / 1e4);
	if (o->plot_dir[0])
		printf("  plots      %s/*.svg, one bar chart per figure, and %s/index.html\n",
		       o->plot_dir, o->plot_dir);
	{
		unsigned long long est = (unsigned long long)(estimate(o) + 0.5);

		printf("  duration   about %llum%02llus (estimated from the plan; on a terminal a "
		       "progress line says what is left)\n",
		       est / 60, est % 60);
	}
	fflush(stdout);
}

/* The cost run's profiles go to --cost-dir, made if need be, or to a new
 * directory in /tmp; kept after the run. */
static int cost_dir(struct opts *o)
{
	char *d = o->plan.cost_dir;

	if (!d[0]) {
		snprintf(d, sizeof(o->plan.cost_dir), "/tmp/skiff-cost.XXXXXX");
		if (!mkdtemp(d)) {
			fprintf(stderr, "skiff-bench: %s: %s\n", d, strerror(errno));
			return -errno;
		}
	} else if (mkdir(d, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "skiff-bench: --cost-dir %s: %s\n", d, strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- results -------------------------------------------------------------- */

static void cell(const struct bench_result *r, enum bench_fig f, const char *fmt, int width)
{
	char buf[32];

	if (r->ok && r->have[f])
		snprintf(buf, sizeof(buf), fmt, r->fig[f]);
	else
		snprintf(buf, sizeof(buf), "n/a");
	printf(" %*s", width, buf);
}

static void print_scale_table(const struct opts *o, const struct bench_result *res)
{
	printf("%-21s %9s %9s %9s %9s | %10s %9s | %7s %7s\n", "scale (req/s)", "c64", "c1000",
	       "c10000", "c100000", "open conn/s", "KiB/conn", "10k/64", "100k/64");
	for (unsigned i = 0; i < NPAIRS; i++) {
		const struct bench_result *r = &res[i];

		if (!o->want[i] || !pairs[i].scale)
			continue;
		printf("%-21s", pairs[i].name);
		for (unsigned k = 0; k < BENCH_SCALE_STEPS; k++)
			cell(r, BF_SC_RPS + k, "%.0f", 9);
		printf(" |");
		cell(r, BF_SC_OPEN, "%.0f", 11);
		cell(r, BF_SC_IDLE, "%.3f", 9);
		printf(" |");
		cell(r, BF_SC_R10000, "%.3f", 7);
		cell(r, BF_SC_R100000, "%.3f", 7);
		printf("\n");
	}
	printf("medians of %u; open: %u connections at once, until all are established and "
	       "accepted; KiB/conn: the server's anonymous memory with %u idle connections less "
	       "before any (beyond the frames: UMEM and wire are shared mappings)\n\n",
	       o->plan.reps, BENCH_SCALE_OPEN_N, BENCH_SCALE_IDLE_N);
}

static void print_table(const struct opts *o, const struct bench_result *res)
{
	unsigned classic = BENCH_RUN_C1 | BENCH_RUN_C64 | BENCH_RUN_BULK;

	if (!(o->plan.skip & BENCH_RUN_SCALE))
		print_scale_table(o, res);
	if ((o->plan.skip & classic) == classic)
		return;
	printf("\n%-21s%-19s |%-39s |%-18s |%s\n", "", " echo64, 1 conn", " echo64, 64 conns",
	       " bulk, 1 conn", " copies per byte");
	printf("%-21s %9s %8s | %9s %8s %8s %10s | %8s %8s | %7s %7s %7s\n", "pair", "req/s",
	       "p50 us", "req/s", "p50 us", "p99 us", "CPU s/Mreq", "Gbit/s", "CPU s/GB", "stack",
	       "(echo)", "app");
	for (unsigned i = 0; i < NPAIRS; i++) {
		const struct bench_result *r = &res[i];

		if (!o->want[i])
			continue;
		printf("%-21s", pairs[i].name);
		cell(r, BF_C1_RPS, "%.0f", 9);
		cell(r, BF_C1_P50, "%.1f", 8);
		printf(" |");
		cell(r, BF_C64_RPS, "%.0f", 9);
		cell(r, BF_C64_P50, "%.1f", 8);
		cell(r, BF_C64_P99, "%.1f", 8);
		cell(r, BF_C64_CPU, "%.2f", 10);
		printf(" |");
		cell(r, BF_BULK_GBPS, "%.3f", 8);
		cell(r, BF_BULK_CPU, "%.3f", 8);
		printf(" |");
		cell(r, BF_COPIES, "%.4f", 7);
		cell(r, BF_COPIES_ECHO, "%.4f", 7);
		cell(r, BF_APP_COPIES, "%.3f", 7);
		printf("\n");
	}
	printf("medians of %u; CPU: the whole machine's; copies: skiff's rx+tx_copied_bytes per "
	       "payload byte the skiff server echoed (bulk; echo64 c64 in brackets); app: what the echo "
	       "server copied itself (loans it could not send on in their frames)\n\n",
	       o->plan.reps);
}

static void print_lines(const struct opts *o, const struct bench_result *res)
{
	int base = find(BASELINE);
	const struct bench_result *b =
		base >= 0 && o->want[base] && res[base].ok ? &res[base] : NULL;

	for (unsigned i = 0; i < NPAIRS; i++) {
		if (!o->want[i] || !res[i].ok)
			continue;
		for (unsigned m = 0; m < NMETRICS; m++) {
			enum bench_fig f = metrics[m].fig;

			if (!res[i].have[f])
				continue;
			if (f >= BF_COST_C64 && f <= BF_COST_BULK &&
			    !strcmp(pairs[i].name, COST_PAIR))
				printf("bench %s ", metrics[m].metric);
			else
				printf("bench %s.%s ", pairs[i].name, metrics[m].metric);
			printf(metrics[m].fmt, res[i].fig[metrics[m].fig]);
			printf(" %s\n", metrics[m].unit);
		}
	}
	/* Each pair's scale figures over its own c64. */
	for (unsigned i = 0; i < NPAIRS; i++) {
		if (!o->want[i] || !res[i].ok)
			continue;
		if (res[i].have[BF_SC_R10000])
			printf("bench ratio.%s.scale.c10000_over_c64 %.3f x\n", pairs[i].name,
			       res[i].fig[BF_SC_R10000]);
		if (res[i].have[BF_SC_R100000])
			printf("bench ratio.%s.scale.c100000_over_c64 %.3f x\n", pairs[i].name,
			       res[i].fig[BF_SC_R100000]);
	}
	if (!b)
		return;
	for (unsigned i = 0; i < NPAIRS; i++) {
		if (!o->want[i] || !res[i].ok || (int)i == base)
			continue;
		for (unsigned m = 0; m < NMETRICS; m++) {
			enum bench_fig f = metrics[m].fig;

			if (!metrics[m].ratio || !res[i].have[f] || !b->have[f] || b->fig[f] == 0)
				continue;
			printf("bench ratio.%s.%s %.3f x\n", pairs[i].name, metrics[m].metric,
			       res[i].fig[f] / b->fig[f]);
		}
	}
}

/* One target: "<pair>.<fig> <op> <factor> x kernel_veth's" (or an absolute bound). */
static void target(const struct opts *o, const struct bench_result *res, const char *what,
		   const char *pair, enum bench_fig f, bool at_least, double factor, bool absolute)
{
	int i = find(pair), b = find(BASELINE);
	double want, got;

	if (i < 0 || !o->want[i] || !res[i].ok || !res[i].have[f] ||
	    (!absolute && (b < 0 || !o->want[b] || !res[b].ok || !res[b].have[f]))) {
		printf("target %-60s not measured\n", what);
		return;
	}
	got = res[i].fig[f];
	want = absolute ? factor : factor * res[b].fig[f];
	printf("target %-60s %s (%.4g %s %.4g)\n", what,
	       (at_least ? got >= want : got <= want) ? "met" : "MISSED", got,
	       at_least ? ">=" : "<=", want);
}

static void print_targets(const struct opts *o, const struct bench_result *res)
{
	printf("\n");
	target(o, res, "echo64 c64 req/s: skiff_memlink >= 3 x kernel_veth", "skiff_memlink",
	       BF_C64_RPS, true, 3, false);
	target(o, res, "echo64 c64 p99: skiff_memlink <= 0.5 x kernel_veth", "skiff_memlink",
	       BF_C64_P99, false, 0.5, false);
	target(o, res, "echo64 c64 CPU/req: kernel_to_skiff_veth < kernel_veth",
	       "kernel_to_skiff_veth", BF_C64_CPU, false, 1, false);
	target(o, res, "bulk Gbit/s: skiff_memlink >= kernel_veth", "skiff_memlink", BF_BULK_GBPS,
	       true, 1, false);
	target(o, res, "bulk copies/byte: skiff_memlink == 0", "skiff_memlink", BF_COPIES, false, 0,
	       true);
	target(o, res, "bulk copies/byte: skiff_veth == 0", "skiff_veth", BF_COPIES, false, 0,
	       true);
	target(o, res, "bulk copies/byte: kernel_to_skiff_veth == 0", "kernel_to_skiff_veth",
	       BF_COPIES, false, 0, true);
	if (!(o->plan.skip & BENCH_RUN_COST)) {
		target(o, res, "cost echo64 c64 instr/req: kernel_to_skiff_veth <= 2000",
		       "kernel_to_skiff_veth", BF_COST_C64, false, 2000, true);
		target(o, res, "cost echo64 c10000 instr/req: kernel_to_skiff_veth <= 2000",
		       "kernel_to_skiff_veth", BF_COST_C10000, false, 2000, true);
	}
	if (o->plan.skip & BENCH_RUN_SCALE)
		return;
	target(o, res, "scale c10000/c64 req/s: skiff_memlink >= 0.9", "skiff_memlink",
	       BF_SC_R10000, true, 0.9, true);
	target(o, res, "scale c100000/c64 req/s: skiff_memlink >= 0.8", "skiff_memlink",
	       BF_SC_R100000, true, 0.8, true);
	target(o, res, "scale c10000/c64 req/s: kernel_to_skiff_veth >= 0.9",
	       "kernel_to_skiff_veth", BF_SC_R10000, true, 0.9, true);
	target(o, res, "scale c100000/c64 req/s: kernel_to_skiff_veth >= 0.8",
	       "kernel_to_skiff_veth", BF_SC_R100000, true, 0.8, true);
	target(o, res, "scale open10000 conn/s: kernel_to_skiff_veth >= kernel_veth",
	       "kernel_to_skiff_veth", BF_SC_OPEN, true, 1, false);
	target(o, res, "scale idle100000 KiB/conn: skiff_memlink <= 2", "skiff_memlink", BF_SC_IDLE,
	       false, 2, true);
	target(o, res, "scale idle100000 KiB/conn: kernel_to_skiff_veth <= 2",
	       "kernel_to_skiff_veth", BF_SC_IDLE, false, 2, true);
}

/* ---- the loss run ------------------------------------------------------------- */

static bool loss_ratio(const struct bench_loss_result *r, enum bench_loss_xfer x, double *v)
{
	if (!r->have[x] || !r->have[BL_KERNEL_SEND] || r->fig[BL_KERNEL_SEND] <= 0)
		return false;
	*v = r->fig[x] / r->fig[BL_KERNEL_SEND];
	return true;
}

static void loss_cell(bool have, double v, const char *fmt, int width)
{
	char buf[32];

	if (have)
		snprintf(buf, sizeof(buf), fmt, v);
	else
		snprintf(buf, sizeof(buf), "n/a");
	printf(" %*s", width, buf);
}

static void print_loss_table(const struct opts *o, const struct bench_loss_result *res)
{
	printf("%-16s %11s %11s %11s | %9s %9s\n", "loss (s)", "skiff_send", "kernel_send",
	       "skiff_recv", "send_time", "recv_time");
	for (unsigned k = 0; k < BENCH_LOSS_CASES; k++) {
		const struct bench_loss_result *r = &res[k];
		double v = 0;

		if (!r->ran)
			continue;
		printf("%-16s", bench_loss_cases[k].name);
		for (int x = 0; x < BL_XFERS; x++)
			loss_cell(r->have[x], r->fig[x], "%.3f", 11);
		printf(" |");
		for (int x = BL_SKIFF_SEND; x <= BL_SKIFF_RECV; x += 2) {
			bool have = loss_ratio(r, (enum bench_loss_xfer)x, &v);

			loss_cell(have, v, "%.3f", 9);
		}
		printf("\n");
	}
	printf("medians of %u transfers of %.0f MiB; send_time: skiff_send / kernel_send; "
	       "recv_time: skiff_recv (Linux -> skiff) / kernel_send (Linux -> Linux); n/a: a "
	       "transfer of it was an error (above)\n\n",
	       o->plan.loss_reps, o->plan.loss_bytes / 1048576.0);
}

static void print_loss_lines(const struct bench_loss_result *res)
{
	for (unsigned k = 0; k < BENCH_LOSS_CASES; k++) {
		const struct bench_loss_result *r = &res[k];
		const char *name = bench_loss_cases[k].name;
		double v;

		if (r->have[BL_SKIFF_SEND])
			printf("bench loss.%s.skiff_send_s %.3f s\n", name, r->fig[BL_SKIFF_SEND]);
		if (r->have[BL_KERNEL_SEND])
			printf("bench loss.%s.kernel_send_s %.3f s\n", name,
			       r->fig[BL_KERNEL_SEND]);
		if (loss_ratio(r, BL_SKIFF_SEND, &v))
			printf("bench ratio.loss.%s.send_time %.3f x\n", name, v);
		if (loss_ratio(r, BL_SKIFF_RECV, &v))
			printf("bench ratio.loss.%s.recv_time %.3f x\n", name, v);
	}
}

static void print_loss_targets(const struct bench_loss_result *res)
{
	for (unsigned k = 0; k < BENCH_LOSS_CASES; k++) {
		for (int x = BL_SKIFF_SEND; x <= BL_SKIFF_RECV; x += 2) {
			const struct bench_loss_result *r = &res[k];
			const char *what = x == BL_SKIFF_SEND ? "send_time" : "recv_time";
			char name[64];
			double v;

			if (!r->ran)
				continue;
			snprintf(name, sizeof(name), "loss %s %s <= 1.0", bench_loss_cases[k].name,
				 what);
			if (!loss_ratio(r, (enum bench_loss_xfer)x, &v))
				printf("target %-60s not measured\n", name);
			else
				printf("target %-60s %s (%.4g <= 1)\n", name,
				       v <= 1.0 ? "met" : "MISSED", v);
		}
	}
}

/* ---- the preload run ---------------------------------------------------------- */

static bool preload_ratio(const struct bench_preload_result *r, int m, double *v)
{
	if (!r->have[m][BP_SKIFF] || !r->have[m][BP_KERNEL] || r->fig[m][BP_KERNEL] <= 0)
		return false;
	*v = r->fig[m][BP_SKIFF] / r->fig[m][BP_KERNEL];
	return true;
}

static void print_preload_table(const struct opts *o, const struct bench_preload_result *r)
{
	printf("%-16s %12s %12s %7s | %6s\n", "preload", "skiff", "kernel", "unit", "ratio");
	for (int m = 0; m < BP_METRICS; m++) {
		double v = 0;
		bool have = preload_ratio(r, m, &v);

		printf("%-16s", bench_preload_metrics[m].name);
		for (int side = 0; side < BP_SIDES; side++)
			loss_cell(r->have[m][side], r->fig[m][side],
				  bench_preload_format(r->fig[m][side]), 12);
		printf(" %7s |", bench_preload_metrics[m].unit);
		loss_cell(have, v, "%.3f", 6);
		printf("\n");
	}
	printf("medians of %u repetitions; ratio: skiff / kernel; n/a: an error (below)\n\n",
	       o->plan.preload_reps);
}

static void print_preload_lines(const struct bench_preload_result *r)
{
	for (int m = 0; m < BP_METRICS && r->ran; m++) {
		const struct bench_preload_metric_info *mi = &bench_preload_metrics[m];
		double v;

		if (r->have[m][BP_SKIFF])
			bench_preload_line(mi->name, "", r->fig[m][BP_SKIFF], mi->unit);
		if (r->have[m][BP_KERNEL])
			bench_preload_line(mi->name, ".kernel", r->fig[m][BP_KERNEL], mi->unit);
		if (preload_ratio(r, m, &v))
			printf("bench ratio.preload.%s %.3f x\n", mi->name, v);
		if (r->error[m][0])
			printf("error preload.%s: %s\n", mi->name, r->error[m]);
	}
}

static void print_preload_targets(const struct bench_preload_result *r)
{
	for (int m = 0; m < BP_METRICS && r->ran; m++) {
		const struct bench_preload_metric_info *mi = &bench_preload_metrics[m];
		char name[64];
		double v;

		snprintf(name, sizeof(name), "preload %s: skiff >= %.1f x kernel", mi->name,
			 mi->target);
		if (!preload_ratio(r, m, &v))
			printf("target %-60s not measured\n", name);
		else
			printf("target %-60s %s (%.4g >= %.1f)\n", name,
			       v >= mi->target ? "met" : "MISSED", v, mi->target);
	}
}

/* ---- plots -------------------------------------------------------------------- */

static bool lower_better(const char *unit)
{
	return strcmp(unit, "req/s") && strcmp(unit, "Gbit/s") && strcmp(unit, "conn/s");
}

static int plot_one(FILE *index, const char *dir, const char *name, struct plot_chart *c)
{
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "%s/%s.svg", dir, name);
	rc = plot_svg(path, c);
	if (rc) {
		fprintf(stderr, "skiff-bench: --plot: %s: %s\n", path, strerror(-rc));
		return rc;
	}
	fprintf(index, "<figure><img src=\"%s.svg\" alt=\"", name);
	plot_xml_text(index, c->title);
	fprintf(index, "\"></figure>\n");
	return 0;
}

/* --plot: a bar chart per figure measured (every pair selected, ratios to
 * the baseline) and per loss case, and an index.html showing them all.
 * Returns the number written, or -errno. */
static int write_plots(const struct opts *o, const struct bench_result *res,
		       const struct bench_loss_result *loss, bool loss_ran)
{
	struct skiff_build_info bi;
	struct plot_bar bars[NPAIRS > BL_XFERS ? NPAIRS : BL_XFERS];
	char sub[640], title[128], path[512], host[64] = "", date[32];
	struct plot_chart c = {.subtitle = sub, .bars = bars};
	time_t t = time(NULL);
	struct utsname u;
	int written = 0, rc;
	FILE *index;

	if (mkdir(o->plot_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "skiff-bench: --plot %s: %s\n", o->plot_dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/index.html", o->plot_dir);
	index = fopen(path, "we");
	if (!index) {
		fprintf(stderr, "skiff-bench: --plot: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	skiff_get_build_info(&bi);
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M %Z", localtime(&t));
	snprintf(sub, sizeof(sub),
		 "skiff-bench %s; %s, %s %s, %ld CPUs; libskiff %s, %s build; "
		 "medians of %u%s%s",
		 date, host, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), bi.skiff_version,
		 SKIFF_BENCH_BUILD_TYPE, o->plan.reps, o->plot_note[0] ? "; " : "", o->plot_note);
	fprintf(index, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>skiff-bench "
		       "</title></head><body>\n<h1>skiff-bench</h1>\n<p>");
	plot_xml_text(index, sub);
	fprintf(index, "</p>\n");
	for (unsigned m = 0; m < NMETRICS; m++) {
		enum bench_fig f = metrics[m].fig;
		bool any = false;

		c.n = 0;
		c.base = -1;
		for (unsigned i = 0; i < NPAIRS; i++) {
			if (!o->want[i])
				continue;
			/* A pair the run does not apply to gets no bar (scale, cost). */
			if ((f >= BF_SC_RPS && f <= BF_SC_R100000 && !pairs[i].scale) ||
			    (f >= BF_COST_C64 && f <= BF_COST_BULK && !pairs[i].cost) ||
			    ((f == BF_COPIES || f == BF_COPIES_ECHO || f == BF_APP_COPIES) &&
			     pairs[i].server != BENCH_SKIFF))
				continue;
			if (!strcmp(pairs[i].name, BASELINE))
				c.base = (int)c.n;
			bars[c.n] = (struct plot_bar){
				.label = pairs[i].name,
				.value = res[i].fig[f],
				.have = res[i].ok && res[i].have[f],
				.skiff = pairs[i].client == BENCH_SKIFF ||
					 pairs[i].server == BENCH_SKIFF,
			};
			any |= bars[c.n].have;
			c.n++;
		}
		if (!any)
			continue;
		snprintf(title, sizeof(title), "%s (%s)", metrics[m].metric, metrics[m].unit);
		c.title = title;
		c.unit = metrics[m].unit;
		c.fmt = metrics[m].fmt;
		c.lower_better = lower_better(metrics[m].unit);
		rc = plot_one(index, o->plot_dir, metrics[m].metric, &c);
		if (rc)
			goto out;
		written++;
	}
	for (unsigned k = 0; loss_ran && k < BENCH_LOSS_CASES; k++) {
		static const char *const xfer[BL_XFERS] = {"skiff -> Linux", "Linux -> Linux",
							   "Linux -> skiff"};
		char name[64];

		if (!loss[k].ran)
			continue;
		for (unsigned x = 0; x < BL_XFERS; x++)
			bars[x] = (struct plot_bar){.label = xfer[x],
						    .value = loss[k].fig[x],
						    .have = loss[k].have[x],
						    .skiff = x != BL_KERNEL_SEND};
		c.n = BL_XFERS;
		c.base = BL_KERNEL_SEND;
		snprintf(title, sizeof(title), "loss %s: seconds per %.0f MiB transfer",
			 bench_loss_cases[k].name, o->plan.loss_bytes / 1048576.0);
		c.title = title;
		c.unit = "s";
		c.fmt = "%.3f";
		c.lower_better = true;
		snprintf(name, sizeof(name), "loss.%s", bench_loss_cases[k].name);
		rc = plot_one(index, o->plot_dir, name, &c);
		if (rc)
			goto out;
		written++;
	}
	rc = written;
out:
	fprintf(index, "</body></html>\n");
	if (fclose(index) != 0 && rc >= 0)
		rc = -errno;
	return rc;
}

int main(int argc, char **argv)
{
	static struct bench_loss_result loss[BENCH_LOSS_CASES];
	static struct bench_preload_result preload;
	static struct bench_result res[NPAIRS];
	struct bench_at at = {0};
	struct timespec t0;
	struct opts o;
	char why[200];
	bool testbed, failed = false, skipped = false;
	char load[64];

	/* The cost run's server, re-executed under valgrind (bench.h). */
	if (argc > 1 && !strcmp(argv[1], "--cost-server"))
		return bench_cost_server_main(argc, argv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	parse(argc, argv, &o);
	if (!(o.plan.skip & BENCH_RUN_COST) && cost_dir(&o) != 0)
		return APP_EXIT_FAIL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	tb_init("skiff-bench");
	app_signals_install(tb_emergency);
	testbed = tb_available(why, sizeof(why));
	print_plan(&o);
	if (o.dry_run)
		return 0;
	if (!testbed)
		printf("skiff-bench: no testbed (%s): measuring only what needs none\n", why);
	for (unsigned i = 0; i < NPAIRS; i++) {
		if (o.want[i] && pairs[i].net != BENCH_NET_MEMLINK && !testbed) {
			snprintf(res[i].error, sizeof(res[i].error), "needs root and namespaces");
			res[i].failed = skipped = true;
		}
	}
	at.t0_ns = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
	at.est_total_s = estimate(&o);
	for (unsigned i = 0; i < NPAIRS; i++)
		at.pairs += o.want[i];
	for (unsigned round = 0; at.pairs && round < o.plan.reps && !app_stop; round++) {
		printf("round %u of %u\n", round + 1, o.plan.reps);
		at.round = round;
		at.pair = 0;
		for (unsigned i = 0; i < NPAIRS && !app_stop; i++) {
			if (!o.want[i])
				continue;
			at.unit_est_s = bench_estimate_pair_s(&pairs[i], &o.plan, round) + 0.5;
			if (res[i].failed) {
				/* Not measured: out of the estimate. */
				at.est_total_s -= at.unit_est_s;
				at.pair++;
				continue;
			}
			at.unit_t0_ns = now_ns();
			printf("  %s: the machine was %.0f%% busy over 0.5 s before it\n",
			       pairs[i].name, settle(o.settle_s) * 100);
			if (bench_run_pair(&pairs[i], &o.plan, &at, &res[i]) != 0) {
				printf("  %s: FAILED: %s\n", pairs[i].name, res[i].error);
				res[i].failed = failed = true;
			}
			at.est_done_s += at.unit_est_s;
			at.pair++;
		}
	}
	if (o.loss && !testbed) {
		printf("skiff-bench: the loss run needs root and namespaces: not measured\n");
		skipped = true;
	} else if (o.loss) {
		struct bench_at la = {.t0_ns = at.t0_ns,
				      .est_total_s = at.est_total_s,
				      .est_done_s = at.est_done_s};

		for (unsigned k = 0; k < BENCH_LOSS_CASES; k++)
			la.pairs += !!(o.plan.loss_cases & (1u << k));
		printf("loss run\n");
		for (unsigned k = 0; k < BENCH_LOSS_CASES && !app_stop; k++) {
			int rc;

			if (!(o.plan.loss_cases & (1u << k)))
				continue;
			la.unit_t0_ns = now_ns();
			la.unit_est_s = bench_estimate_loss_s(&o.plan, k) + 0.5;
			printf("  %s: the machine was %.0f%% busy over 0.5 s before it\n",
			       bench_loss_cases[k].name, settle(o.settle_s) * 100);
			rc = bench_loss_run(k, &o.plan, &la, &loss[k]);
			la.est_done_s += la.unit_est_s;
			if (rc && rc != -EINTR) {
				printf("  %s: FAILED: %s\n", bench_loss_cases[k].name,
				       loss[k].error);
				failed = true;
			}
			la.pair++;
		}
	}
	if (o.preload && !testbed) {
		printf("skiff-bench: the preload run needs root and namespaces: not measured\n");
		skipped = true;
	} else if (o.preload && !app_stop) {
		struct bench_at pa = {.t0_ns = at.t0_ns,
				      .est_total_s = at.est_total_s,
				      .est_done_s =
					      at.est_total_s - bench_estimate_preload_s(&o.plan),
				      .pairs = 1,
				      .unit_t0_ns = now_ns(),
				      .unit_est_s = bench_estimate_preload_s(&o.plan)};
		int rc;

		printf("preload run: the machine was %.0f%% busy over 0.5 s before it\n",
		       settle(o.settle_s) * 100);
		rc = bench_preload_run(&o.plan, &pa, &preload);
		if (rc && rc != -EINTR)
			failed = true;
	}
	for (unsigned i = 0; i < NPAIRS; i++) {
		if (!o.want[i])
			continue;
		bench_finish(&res[i]);
		if (res[i].steal_max > 0.05)
			printf("%s: note: the hypervisor took up to %.0f%% of the machine from a "
			       "run: noisy\n",
			       pairs[i].name, res[i].steal_max * 100);
		if (res[i].retransmits)
			printf("%s: note: the skiff server retransmitted %llu segments (c64 and bulk)\n",
			       pairs[i].name, (unsigned long long)res[i].retransmits);
		if (res[i].scale_failures) {
			printf("%s: note: %u scale steps FAILED (one that failed before its window "
			       "has no figures), the first: %s\n",
			       pairs[i].name, res[i].scale_failures, res[i].scale_error);
			failed = true;
		}
	}
	read_loadavg(load, sizeof(load));
	printf("loadavg after the run: %s\n", load);
	print_table(&o, res);
	if (o.loss && testbed)
		print_loss_table(&o, loss);
	if (preload.ran)
		print_preload_table(&o, &preload);
	print_lines(&o, res);
	print_loss_lines(loss);
	print_preload_lines(&preload);
	if (at.pairs)
		print_targets(&o, res);
	else
		printf("\n");
	print_loss_targets(loss);
	print_preload_targets(&preload);
	if (o.plot_dir[0]) {
		int n = write_plots(&o, res, loss, o.loss && testbed);

		if (n < 0)
			failed = true;
		else
			printf("plots: %d bar charts in %s (index.html shows them all)\n", n,
			       o.plot_dir);
	}
	tb_destroy();
	if (app_stop)
		return APP_EXIT_FAIL;
	if (failed)
		return APP_EXIT_FAIL;
	return skipped ? EXIT_SKIP : 0;
}
