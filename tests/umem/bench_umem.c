/* Benchmarks of umem/: the allocator's fast paths against malloc, and the
 * memlink wire's one-way packet rate between two processes. Prints a table,
 * then `bench <name> <value> <unit>` lines, each the median of RUNS runs. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <skiff/umem.h>

#define RUNS	       7
#define WIRE_CALIBRATE 200000u
#define WIRE_S	       0.4
#define BURST	       32
#define WIRE_BURST     64

struct figure {
	const char *name;
	const char *unit;
	double runs[RUNS];
	unsigned n;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(struct figure *f)
{
	double v[RUNS];

	memcpy(v, f->runs, sizeof(double) * f->n);
	qsort(v, f->n, sizeof(double), cmp_double);
	return f->n % 2 ? v[f->n / 2] : (v[f->n / 2 - 1] + v[f->n / 2]) / 2;
}

/* The CPUs we may use, read once: a forked child inherits its parent's pin. */
static int g_cpus[2] = {-1, -1};

static unsigned find_cpus(void)
{
	cpu_set_t set;
	unsigned n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			g_cpus[n++] = c;
	return n;
}

/* Pins the calling process to our i-th CPU. */
static bool pin_to(unsigned i)
{
	cpu_set_t one;

	if (g_cpus[i] < 0)
		return false;
	CPU_ZERO(&one);
	CPU_SET(g_cpus[i], &one);
	return sched_setaffinity(0, sizeof(one), &one) == 0;
}

/* ---- allocator ----------------------------------------------------------- */

/* Each figure runs in chunks until RUN_S has passed, so that a debug build
 * (which poisons every freed frame) finishes in reasonable time too. */
#define RUN_S 0.2
#define CHUNK (1u << 20)

static double bench_single(struct umem *u)
{
	double t = now_s(), el;
	uint64_t iters = 0, a;

	do {
		for (unsigned i = 0; i < CHUNK; i++) {
			if (umem_alloc(u, &a))
				abort();
			umem_free(u, a);
		}
		iters += CHUNK;
	} while ((el = now_s() - t) < RUN_S);
	return el * 1e9 / iters;
}

static double bench_burst(struct umem *u)
{
	double t = now_s(), el;
	uint64_t iters = 0, a[BURST];

	do {
		for (unsigned i = 0; i < CHUNK / BURST; i++) {
			if (umem_alloc_bulk(u, a, BURST) != BURST)
				abort();
			umem_free_bulk(u, a, BURST);
		}
		iters += CHUNK / BURST * BURST;
	} while ((el = now_s() - t) < RUN_S);
	return el * 1e9 / iters;
}

static double bench_malloc(uint32_t size)
{
	double t = now_s(), el;
	uint64_t iters = 0;
	void *volatile sink;

	do {
		for (unsigned i = 0; i < CHUNK; i++) {
			char *p = malloc(size);

			if (!p)
				abort();
			p[0] = (char)i; /* used, so the pair is not optimised away */
			sink = p;
			free(sink);
		}
		iters += CHUNK;
	} while ((el = now_s() - t) < RUN_S);
	return el * 1e9 / iters;
}

/* ---- the machine: how far apart are the two CPUs? ------------------------ */

/* Round trip of one cache line between our two CPUs, in ns. On a VM the
 * hypervisor may move them between near and far cores from one second to
 * the next; the wire's rate follows (it moves ~1.5 lines per frame per
 * side), so the table shows this next to it. */
static double pingpong_ns(bool pin)
{
	enum { ROUNDS = 20000 };
	_Atomic unsigned *x;
	double t, el;
	pid_t pid;

	x = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (x == MAP_FAILED)
		return -1;
	atomic_store(x, 0);
	pid = fork();
	if (pid == 0) {
		if (pin)
			pin_to(1);
		for (unsigned i = 1; i < 2 * ROUNDS; i += 2) {
			while (atomic_load_explicit(x, memory_order_acquire) != i)
				;
			atomic_store_explicit(x, i + 1, memory_order_release);
		}
		_exit(0);
	}
	if (pin)
		pin_to(0);
	t = now_s();
	for (unsigned i = 0; i < 2 * ROUNDS; i += 2) {
		atomic_store_explicit(x, i + 1, memory_order_release);
		while (atomic_load_explicit(x, memory_order_acquire) != i + 2)
			;
	}
	el = now_s() - t;
	waitpid(pid, NULL, 0);
	munmap((void *)x, 4096);
	return el * 1e9 / ROUNDS;
}

/* ---- memlink: one way, two processes ------------------------------------- */

/* The sender (child): n frames of len bytes, numbered, never more than the
 * far end can take. */
static int wire_send(struct umem_memlink *w, uint64_t n, uint32_t len, bool pin)
{
	struct umem_desc d[WIRE_BURST];
	uint64_t a[WIRE_BURST], seq = 0, done = 0;
	struct umem_geometry g;
	struct umem_config c;
	struct umem_port *p;
	struct umem *u;

	if (pin)
		pin_to(1);
	if (umem_memlink_umem_config(w, 0, &c) || umem_create(&u, &c) ||
	    umem_memlink_port(&p, w, 0, u))
		return 2;
	umem_geometry(u, &g);
	while (done < n) {
		unsigned room = umem_memlink_peer_room(w, 0), k;

		/* Whole bursts only, as a NIC batches: trickling a few frames
		 * at a time makes both ends fight over the same cache lines. */
		if (room > WIRE_BURST)
			room = WIRE_BURST;
		if (room > n - seq)
			room = (unsigned)(n - seq);
		else if (room < WIRE_BURST)
			room = 0;
		k = umem_alloc_bulk(u, a, room);
		for (unsigned i = 0; i < k; i++) {
			d[i].addr = a[i] + g.headroom;
			d[i].len = len;
			d[i].options = 0;
			*(uint64_t *)umem_geo_ptr(&g, d[i].addr) = seq + i;
		}
		seq += umem_port_tx(p, d, k);
		umem_port_flush(p);
		done += umem_port_complete(p, 256);
	}
	umem_port_destroy(p);
	umem_destroy(u);
	return 0;
}

/* Returns frames per second seen by the receiver, or a negative value. */
static double wire_run(uint64_t n, uint32_t len, bool pin)
{
	struct umem_memlink_config mc = {.ring_size = 2048, .frame_count = 8192};
	struct umem_memlink *w;
	struct umem_desc d[256];
	uint64_t addrs[256], got = 0, bad = 0;
	struct umem_geometry g;
	struct umem_config c;
	struct umem_port *p;
	struct umem *u;
	double t0 = 0, t1;
	int status;
	pid_t pid;

	if (umem_memlink_create(&w, &mc))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(wire_send(w, n, len, pin));
	if (pin)
		pin_to(0);
	if (umem_memlink_umem_config(w, 1, &c) || umem_create(&u, &c) ||
	    umem_memlink_port(&p, w, 1, u))
		return -1;
	umem_geometry(u, &g);
	while (got < n) {
		unsigned k;

		umem_port_refill(p);
		k = umem_port_rx(p, d, 256);
		if (k && !got)
			t0 = now_s();
		for (unsigned i = 0; i < k; i++) {
			bad += *(const uint64_t *)umem_geo_ptr(&g, d[i].addr) != got + i;
			addrs[i] = d[i].addr;
		}
		got += k;
		umem_free_bulk(u, addrs, k);
	}
	t1 = now_s();
	waitpid(pid, &status, 0);
	umem_port_destroy(p);
	umem_destroy(u);
	umem_memlink_destroy(w);
	if (bad || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return (n - 1) / (t1 - t0);
}

int main(void)
{
	struct figure single = {.name = "umem.alloc_free.single", .unit = "ns"};
	struct figure burst = {.name = "umem.alloc_free.burst32", .unit = "ns"};
	struct figure base = {.name = "umem.malloc_free.baseline", .unit = "ns"};
	struct figure pps64 = {.name = "memlink.pps.64B", .unit = "Mpps"};
	struct figure pps1500 = {.name = "memlink.pps.1500B", .unit = "Mpps"};
	struct figure rtt = {.name = "cpu.line_roundtrip", .unit = "ns"};
	struct figure *all[] = {&single, &burst, &base, &pps64, &pps1500};
	bool pin = find_cpus() >= 2;
	struct umem *u;

	if (umem_create(&u, NULL)) {
		fprintf(stderr, "umem_create failed\n");
		return 1;
	}
	for (unsigned r = 0; r < RUNS; r++) {
		single.runs[single.n++] = bench_single(u);
		burst.runs[burst.n++] = bench_burst(u);
		base.runs[base.n++] = bench_malloc(UMEM_FRAME_SIZE_DEFAULT);
	}
	umem_destroy(u);
	/* Sized from a short calibration run to last about WIRE_S each. */
	double a = wire_run(WIRE_CALIBRATE, 64, pin), b = wire_run(WIRE_CALIBRATE, 1500, pin);
	uint64_t n64 = a > 0 ? (uint64_t)(a * WIRE_S) : 0,
		 n1500 = b > 0 ? (uint64_t)(b * WIRE_S) : 0;

	n64 = n64 < WIRE_CALIBRATE ? WIRE_CALIBRATE : n64;
	n1500 = n1500 < WIRE_CALIBRATE ? WIRE_CALIBRATE : n1500;
	for (unsigned r = 0; r < RUNS; r++) {
		if (pin)
			rtt.runs[rtt.n++] = pingpong_ns(pin);
		a = wire_run(n64, 64, pin);
		b = wire_run(n1500, 1500, pin);

		if (a < 0 || b < 0) {
			fprintf(stderr, "memlink run failed\n");
			return 1;
		}
		pps64.runs[pps64.n++] = a / 1e6;
		pps1500.runs[pps1500.n++] = b / 1e6;
	}

	printf("%-28s %10s %10s %10s  %s\n", "figure", "median", "min", "max", "unit");
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct figure *f = all[i];
		double lo = f->runs[0], hi = f->runs[0];

		for (unsigned r = 1; r < f->n; r++) {
			lo = f->runs[r] < lo ? f->runs[r] : lo;
			hi = f->runs[r] > hi ? f->runs[r] : hi;
		}
		printf("%-28s %10.2f %10.2f %10.2f  %s\n", f->name, median(f), lo, hi, f->unit);
	}
	if (rtt.n) {
		double lo = rtt.runs[0], hi = rtt.runs[0];

		for (unsigned r = 1; r < rtt.n; r++) {
			lo = rtt.runs[r] < lo ? rtt.runs[r] : lo;
			hi = rtt.runs[r] > hi ? rtt.runs[r] : hi;
		}
		printf("%-28s %10.2f %10.2f %10.2f  %s  (before each wire run; not a figure)\n",
		       rtt.name, median(&rtt), lo, hi, rtt.unit);
	}
	double load[3] = {0};

	if (getloadavg(load, 3) < 0)
		load[0] = -1;
	printf("(%u runs each; memlink one way, sender and receiver %s; load average %.2f)\n", RUNS,
	       pin ? "pinned to two CPUs" : "unpinned (one CPU)", load[0]);
	for (unsigned i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		printf("bench %s %.2f %s\n", all[i]->name, median(all[i]), all[i]->unit);
	return 0;
}
