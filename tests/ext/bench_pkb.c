/* pkb micro-benchmarks: ns per operation, the median of RUNS runs. Prints a
 * table, then one `bench <name> <value> <unit>` line per figure. Meaningful
 * in a Release build only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <skiff/pkb.h>

#define RUNS  9
#define BATCH 32u

/* Iterations per run; SKIFF_BENCH_ITERS overrides (e.g. for callgrind).
 * Debug and sanitizer builds only prove the loops run: few iterations. */
#ifdef NDEBUG
static unsigned ITERS = 2000000u;
#else
static unsigned ITERS = 20000u;
#endif

static struct umem *u;
static struct pkb_pool *pool;
static struct umem_geometry geo;

/* Keeps the compiler from proving a value unused or a pointer unchanged. */
#define OPAQUE(x) __asm__ volatile("" : "+r"(x))
#define CLOBBER() __asm__ volatile("" ::: "memory")

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_pkb: %s: %s\n", what, strerror(-err));
	exit(1);
}

static uint64_t rx_offset(void)
{
	return geo.headroom + UMEM_XDP_PACKET_HEADROOM;
}

/* ---- the measured loops; each returns ns per operation ------------------- */

/* The umem round trip the RX figures include (the stand-in for the RX ring
 * delivering a frame and the allocator taking it back). */
static double run_umem_alloc_free(void)
{
	double t0 = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		uint64_t a;

		if (umem_alloc(u, &a))
			die("umem_alloc", -ENOMEM);
		OPAQUE(a);
		umem_free(u, a);
	}
	return (now_ns() - t0) / ITERS;
}

static double run_rx_build_free(void)
{
	double t0 = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		struct umem_desc d = {.len = 60};
		struct pkb *p;

		if (umem_alloc(u, &d.addr))
			die("umem_alloc", -ENOMEM);
		d.addr += rx_offset();
		if (pkb_build_rx(pool, &d, &p))
			die("pkb_build_rx", -EINVAL);
		OPAQUE(p);
		pkb_free(p);
	}
	return (now_ns() - t0) / ITERS;
}

/* As the RX loop runs: a batch from the ring, a batch back. */
static double run_rx_build_free_bulk(void)
{
	uint64_t addrs[BATCH];
	struct pkb *ps[BATCH];
	double t0 = now_ns();

	for (unsigned i = 0; i < ITERS / BATCH; i++) {
		if (umem_alloc_bulk(u, addrs, BATCH) != BATCH)
			die("umem_alloc_bulk", -ENOMEM);
		for (unsigned j = 0; j < BATCH; j++)
			if (pkb_build(pool, addrs[j] + rx_offset(), 60, &ps[j]))
				die("pkb_build", -EINVAL);
		CLOBBER();
		pkb_free_bulk(ps, BATCH);
	}
	return (now_ns() - t0) / (ITERS / BATCH * BATCH);
}

/* The same RX build + free with the metadata malloc'd per packet. */
struct malloc_meta {
	struct pkb_shinfo sh;
	struct pkb pkb;
};

static double run_malloc_baseline(void)
{
	double t0 = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		struct malloc_meta *m;
		uint64_t a;
		uint8_t *frame;

		if (umem_alloc(u, &a))
			die("umem_alloc", -ENOMEM);
		m = malloc(sizeof(*m));
		if (!m)
			die("malloc", -ENOMEM);
		frame = geo.area + a;
		m->sh.dataref = 1;
		m->sh.ubuf = NULL;
		m->sh.release = NULL;
		m->pkb.data = frame + rx_offset();
		m->pkb.tail = m->pkb.data + 60;
		m->pkb.head = frame;
		m->pkb.end = frame + geo.frame_size;
		m->pkb.shinfo = &m->sh;
		m->pkb.pool = pool;
		m->pkb.active = 0;
		m->pkb.flags = 0;
		m->pkb.next = NULL;
		OPAQUE(m);
		CLOBBER();
		/* The free side: the same checks pkb_free makes. */
		if (m->pkb.active)
			die("active", -EINVAL);
		if (m->sh.dataref == 1) {
			uint64_t fa = (uint64_t)(m->pkb.head - geo.area);

			free(m);
			umem_free(u, fa);
		}
	}
	return (now_ns() - t0) / ITERS;
}

static double run_clone_free(void)
{
	struct umem_desc d = {.len = 60};
	struct pkb *p, *c;
	double t;

	if (umem_alloc(u, &d.addr))
		die("umem_alloc", -ENOMEM);
	d.addr += rx_offset();
	if (pkb_build_rx(pool, &d, &p))
		die("pkb_build_rx", -EINVAL);
	t = now_ns();
	for (unsigned i = 0; i < ITERS; i++) {
		if (pkb_clone(p, &c))
			die("pkb_clone", -ENOMEM);
		OPAQUE(c);
		pkb_free(c);
	}
	t = (now_ns() - t) / ITERS;
	pkb_free(p);
	return t;
}

static struct pkb *pkb_with_bridge(void)
{
	struct umem_desc d = {.len = 60};
	struct pkb_ext_bridge *b;
	struct pkb *p;
	int err;

	if (umem_alloc(u, &d.addr))
		die("umem_alloc", -ENOMEM);
	d.addr += rx_offset();
	if (pkb_build_rx(pool, &d, &p))
		die("pkb_build_rx", -EINVAL);
	err = pkb_ext_add_bridge(p, &b);
	if (err)
		die("pkb_ext_add_bridge", err);
	b->ingress_port = 1;
	return p;
}

/* Sole owner, extension not there yet: the add initializes the slot in
 * place; the del (which the loop needs to add again) is included. */
static double run_ext_add_sole(void)
{
	struct pkb *p = pkb_with_bridge();
	struct pkb_ext_mptcp *m;
	double t = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		OPAQUE(p);
		if (pkb_ext_add_mptcp(p, &m))
			die("pkb_ext_add_mptcp", -ENOMEM);
		m->data_seq = i;
		OPAQUE(m);
		pkb_ext_del(p, PKB_EXT_MPTCP);
	}
	t = (now_ns() - t) / ITERS;
	pkb_free(p);
	return t;
}

/* Sole owner, extension already there: add returns it, writable. */
static double run_ext_add_existing(void)
{
	struct pkb *p = pkb_with_bridge();
	struct pkb_ext_bridge *b;
	double t = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		OPAQUE(p);
		if (pkb_ext_add_bridge(p, &b))
			die("pkb_ext_add_bridge", -ENOMEM);
		b->vlan_tci = (uint16_t)i;
		OPAQUE(b);
	}
	t = (now_ns() - t) / ITERS;
	pkb_free(p);
	return t;
}

static double run_ext_find(void)
{
	struct pkb *p = pkb_with_bridge();
	uint64_t sum = 0;
	double t = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		const struct pkb_ext_bridge *b;

		OPAQUE(p);
		b = pkb_ext_bridge(p);
		sum += b->ingress_port;
	}
	t = (now_ns() - t) / ITERS;
	OPAQUE(sum);
	pkb_free(p);
	return t;
}

/* First add on a pkb without extensions: an area from the pool. */
static double run_ext_add_new(void)
{
	struct pkb *p = pkb_with_bridge();
	struct pkb_ext_mptcp *m;
	double t;

	pkb_ext_reset(p);
	t = now_ns();
	for (unsigned i = 0; i < ITERS; i++) {
		OPAQUE(p);
		if (pkb_ext_add_mptcp(p, &m))
			die("pkb_ext_add_mptcp", -ENOMEM);
		OPAQUE(m);
		pkb_ext_reset(p);
	}
	t = (now_ns() - t) / ITERS;
	pkb_free(p);
	return t;
}

/* Clone a pkb carrying an extension, then add on the clone: the area is
 * shared, so it is copied. Includes the clone and its free. */
static double run_ext_cow(void)
{
	struct pkb *p = pkb_with_bridge(), *c;
	struct pkb_ext_mptcp *m;
	double t = now_ns();

	for (unsigned i = 0; i < ITERS; i++) {
		if (pkb_clone(p, &c))
			die("pkb_clone", -ENOMEM);
		if (pkb_ext_add_mptcp(c, &m))
			die("pkb_ext_add_mptcp", -ENOMEM);
		OPAQUE(m);
		pkb_free(c);
	}
	t = (now_ns() - t) / ITERS;
	pkb_free(p);
	return t;
}

struct figure {
	const char *name;
	double (*run)(void);
	const char *what;
	double runs[RUNS];
	double median;
};

#define FIGURE(n, fn, w)                                                                           \
	{                                                                                          \
		.name = (n), .run = (fn), .what = (w)                                              \
	}

static struct figure figures[] = {
	FIGURE("pkb.rx_build_free", run_rx_build_free,
	       "umem_alloc + pkb_build_rx + pkb_free (-> umem_free), one at a time"),
	FIGURE("pkb.rx_build_free_bulk", run_rx_build_free_bulk,
	       "the same in batches of 32: umem_alloc_bulk, pkb_build, pkb_free_bulk"),
	FIGURE("pkb.malloc_baseline", run_malloc_baseline,
	       "umem_alloc + malloc'd metadata + free + umem_free"),
	FIGURE("umem.alloc_free", run_umem_alloc_free,
	       "umem_alloc + umem_free alone (included in the three above)"),
	FIGURE("pkb.rx_build_free_net", NULL,
	       "pkb.rx_build_free minus umem.alloc_free, run by run: pkb's own share"),
	FIGURE("pkb.clone_free", run_clone_free, "pkb_clone + pkb_free of the clone"),
	FIGURE("pkb.ext_add_sole", run_ext_add_sole,
	       "sole-owned area, new slot: pkb_ext_add + pkb_ext_del"),
	FIGURE("pkb.ext_add_existing", run_ext_add_existing,
	       "sole-owned area, slot there: pkb_ext_add returns it"),
	FIGURE("pkb.ext_add_new", run_ext_add_new,
	       "no area yet: pkb_ext_add (area from the pool) + pkb_ext_reset"),
	FIGURE("pkb.ext_find", run_ext_find, "pkb_ext_find of a carried extension + one read"),
	FIGURE("pkb.ext_cow", run_ext_cow,
	       "pkb_clone + pkb_ext_add on the clone (area copy) + pkb_free"),
};

static struct figure *find(const char *name)
{
	for (unsigned i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
		if (!strcmp(figures[i].name, name))
			return &figures[i];
	abort();
}

int main(void)
{
	struct umem_config ucfg = {.frame_count = 4096};
	const unsigned n = sizeof(figures) / sizeof(figures[0]);
	const char *env = getenv("SKIFF_BENCH_ITERS");
	int err;

	if (env && strtoul(env, NULL, 10) >= BATCH)
		ITERS = (unsigned)strtoul(env, NULL, 10);
	err = umem_create(&u, &ucfg);
	if (err)
		die("umem_create", err);
	umem_geometry(u, &geo);
	err = pkb_pool_create(&pool, u, NULL);
	if (err)
		die("pkb_pool_create", err);

	/* Interleaved runs: drift (frequency, neighbours) hits every figure alike. */
	for (unsigned r = 0; r < RUNS; r++)
		for (unsigned i = 0; i < n; i++)
			if (figures[i].run)
				figures[i].runs[r] = figures[i].run();
	for (unsigned r = 0; r < RUNS; r++)
		find("pkb.rx_build_free_net")->runs[r] =
			find("pkb.rx_build_free")->runs[r] - find("umem.alloc_free")->runs[r];

#ifndef NDEBUG
	printf("(not a Release build: these figures mean nothing)\n");
#endif
	printf("%-24s %10s %10s %10s  %s\n", "figure", "median", "min", "max", "what (ns/op)");
	for (unsigned i = 0; i < n; i++) {
		struct figure *f = &figures[i];

		qsort(f->runs, RUNS, sizeof(f->runs[0]), cmp_double);
		f->median = f->runs[RUNS / 2];
		printf("%-24s %10.2f %10.2f %10.2f  %s\n", f->name, f->median, f->runs[0],
		       f->runs[RUNS - 1], f->what);
	}
	for (unsigned i = 0; i < n; i++)
		printf("bench %s %.2f ns\n", figures[i].name, figures[i].median);

	err = pkb_pool_destroy(pool);
	if (err)
		die("pkb_pool_destroy (leak)", err);
	umem_destroy(u);
	return 0;
}
