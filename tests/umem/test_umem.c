/* umem/umem.c and umem/port.c: the frame allocator, its books, misuse
 * detection, completion validation and the generic port layer (driven
 * through a fake backend whose rings are plain arrays). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <skiff/umem.h>

#include "../../umem/umem_internal.h"
#include "testkit.h"

/* ---- fixture ------------------------------------------------------------- */

static struct umem *g_u;
static struct umem_port *g_port;

static void setup(void)
{
	g_u = NULL;
	g_port = NULL;
	unsetenv("SKIFF_UMEM_MISUSE");
}

/* Every test ends with balanced books and every frame back in the allocator. */
static void teardown(void)
{
	struct umem_audit a;

	unsetenv("SKIFF_UMEM_MISUSE");
	if (!g_u)
		return;
	umem_port_destroy(g_port);
	g_port = NULL;
	CU_ASSERT(umem_audit(g_u, &a));
	TK_ASSERT_EQ(a.free, a.total);
	TK_ASSERT_EQ(umem_destroy(g_u), 0);
	g_u = NULL;
}

static struct umem *mk(const struct umem_config *cfg)
{
	int err = umem_create(&g_u, cfg);

	TK_ASSERT_EQ(err, 0);
	if (err)
		exit(1);
	return g_u;
}

static struct umem *mk_n(uint32_t frames)
{
	struct umem_config c = {.frame_count = frames};

	return mk(&c);
}

/* A UMEM whose misuse is counted, not fatal, in debug builds too. */
static struct umem *mk_counting(uint32_t frames)
{
	setenv("SKIFF_UMEM_MISUSE", "count", 1);
	return mk_n(frames);
}

static bool balanced(void)
{
	return umem_audit(g_u, NULL);
}

static uint64_t stat_misuse(void)
{
	struct umem_stats s;

	umem_get_stats(g_u, &s);
	return s.misuse;
}

/* ---- a fake backend: rings are arrays, completions are injected ---------- */

#define FAKE_RING 256

struct fake {
	uint64_t fill[FAKE_RING];
	unsigned fill_n;
	unsigned fill_size;
	struct umem_desc tx[FAKE_RING];
	unsigned tx_n;
	unsigned tx_room; /* descriptors the TX ring takes before it is full */
	uint64_t comp[FAKE_RING];
	unsigned comp_n;
	struct umem_desc rx[FAKE_RING];
	unsigned rx_n;
	int destroyed;
};

static struct fake g_fake;

static unsigned fake_rx(struct umem_port *p, struct umem_desc *d, unsigned max)
{
	struct fake *f = p->backend;
	unsigned n = f->rx_n < max ? f->rx_n : max;

	memcpy(d, f->rx, n * sizeof(*d));
	memmove(f->rx, f->rx + n, (f->rx_n - n) * sizeof(*d));
	f->rx_n -= n;
	return n;
}

static unsigned fake_tx(struct umem_port *p, const struct umem_desc *d, unsigned n)
{
	struct fake *f = p->backend;

	if (n > f->tx_room)
		n = f->tx_room;
	memcpy(f->tx + f->tx_n, d, n * sizeof(*d));
	f->tx_n += n;
	f->tx_room -= n;
	return n;
}

static int fake_flush(struct umem_port *p)
{
	(void)p;
	return 0;
}

static unsigned fake_complete(struct umem_port *p, uint64_t *addrs, unsigned max)
{
	struct fake *f = p->backend;
	unsigned n = f->comp_n < max ? f->comp_n : max;

	memcpy(addrs, f->comp, n * sizeof(*addrs));
	memmove(f->comp, f->comp + n, (f->comp_n - n) * sizeof(*addrs));
	f->comp_n -= n;
	return n;
}

static unsigned fake_fill(struct umem_port *p, const uint64_t *addrs, unsigned n)
{
	struct fake *f = p->backend;

	if (n > f->fill_size - f->fill_n)
		n = f->fill_size - f->fill_n;
	memcpy(f->fill + f->fill_n, addrs, n * sizeof(*addrs));
	f->fill_n += n;
	return n;
}

static unsigned fake_fill_level(const struct umem_port *p, unsigned *size)
{
	const struct fake *f = p->backend;

	*size = f->fill_size;
	return f->fill_n;
}

static void fake_destroy(struct umem_port *p)
{
	((struct fake *)p->backend)->destroyed++;
}

static const struct umem_port_ops fake_ops = {
	.name = "fake",
	.rx = fake_rx,
	.tx = fake_tx,
	.flush = fake_flush,
	.complete = fake_complete,
	.fill = fake_fill,
	.fill_level = fake_fill_level,
	.destroy = fake_destroy,
};

static struct umem_port *fake_port(struct umem *u)
{
	struct umem_port *p = calloc(1, sizeof(*p));

	memset(&g_fake, 0, sizeof(g_fake));
	g_fake.fill_size = FAKE_RING;
	g_fake.tx_room = FAKE_RING;
	p->ops = &fake_ops;
	p->umem = u;
	p->backend = &g_fake;
	TK_ASSERT_EQ(umem__attach_port(u, p), 0);
	g_port = p;
	return p;
}

/* Posts one held frame at base + off with len bytes; returns the address. */
static uint64_t post_tx(struct umem_port *p, uint64_t base, uint32_t off, uint32_t len)
{
	struct umem_desc d = {.addr = base + off, .len = len};

	TK_ASSERT_EQ(umem_port_tx(p, &d, 1), 1);
	return d.addr;
}

/* tx_done callback: records what arrived and the state it arrived in. */
static uint64_t g_done[FAKE_RING];
static unsigned g_done_n, g_done_calls, g_done_not_held;

static void on_tx_done(void *opaque, const uint64_t *addrs, unsigned n)
{
	struct umem *u = opaque;

	g_done_calls++;
	for (unsigned i = 0; i < n; i++) {
		if (umem_frame_state(u, addrs[i]) != UMEM_FRAME_HELD)
			g_done_not_held++;
		g_done[g_done_n++] = addrs[i];
	}
}

/* ---- allocator ----------------------------------------------------------- */

static void test_alloc_single(void)
{
	struct umem *u = mk(NULL);
	struct umem_geometry g;
	struct umem_stats s;
	uint64_t a;

	umem_geometry(u, &g);
	TK_ASSERT_EQ(g.frame_size, UMEM_FRAME_SIZE_DEFAULT);
	TK_ASSERT_EQ(g.frame_count, UMEM_FRAME_COUNT_DEFAULT);
	TK_ASSERT_EQ(g.headroom, UMEM_HEADROOM_DEFAULT);
	TK_ASSERT_EQ(1u << g.frame_shift, g.frame_size);
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	TK_ASSERT_EQ(a % g.frame_size, 0);
	CU_ASSERT(a < g.size);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_HELD);
	TK_ASSERT_EQ(umem_frame_state(u, a + 100), UMEM_FRAME_HELD);
	TK_ASSERT_EQ(umem_frame_state(u, g.size), UMEM_FRAME__NSTATES);
	memset(umem_geo_ptr(&g, a), 0xa5, g.frame_size);
	CU_ASSERT(balanced());
	umem_free(u, a + 17); /* any address inside the frame */
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_FREE);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.alloc, 1);
	TK_ASSERT_EQ(s.freed, 1);
	TK_ASSERT_EQ(s.misuse, 0);
}

static void test_alloc_bulk(void)
{
	struct umem *u = mk_n(256);
	uint64_t a[200];
	uint8_t seen[256] = {0};
	struct umem_audit au;

	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 200), 200);
	for (unsigned i = 0; i < 200; i++) {
		TK_ASSERT_EQ(a[i] % 2048, 0);
		TK_ASSERT_EQ(seen[a[i] / 2048]++, 0);
		TK_ASSERT_EQ(umem_frame_state(u, a[i]), UMEM_FRAME_HELD);
	}
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.held, 200);
	TK_ASSERT_EQ(au.free, 56);
	umem_free_bulk(u, a, 200);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.free, 256);
}

static void test_exhaustion(void)
{
	struct umem *u = mk_n(64);
	uint64_t a[100], one;
	struct umem_stats s;

	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 100), 64); /* partial */
	TK_ASSERT_EQ(umem_alloc(u, &one), -ENOMEM);
	TK_ASSERT_EQ(umem_alloc_bulk(u, a + 64, 8), 0);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.alloc, 64);
	TK_ASSERT_EQ(s.alloc_fail, 3);
	CU_ASSERT(balanced());
	umem_free(u, a[10]);
	TK_ASSERT_EQ(umem_alloc(u, &one), 0);
	TK_ASSERT_EQ(one, a[10]);
	umem_free_bulk(u, a, 64);
}

static void test_lifo_reuse(void)
{
	struct umem *u = mk_n(64);
	uint64_t a, b, c[4], d[4];

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	TK_ASSERT_EQ(umem_alloc(u, &b), 0);
	umem_free(u, a);
	umem_free(u, b);
	TK_ASSERT_EQ(umem_alloc(u, &c[0]), 0);
	TK_ASSERT_EQ(c[0], b); /* last freed, first out */
	TK_ASSERT_EQ(umem_alloc(u, &c[1]), 0);
	TK_ASSERT_EQ(c[1], a);
	umem_free_bulk(u, c, 2);
	/* Bulk too: the last freed comes out first. */
	TK_ASSERT_EQ(umem_alloc_bulk(u, c, 4), 4);
	umem_free_bulk(u, c, 4);
	TK_ASSERT_EQ(umem_alloc_bulk(u, d, 4), 4);
	for (unsigned i = 0; i < 4; i++)
		TK_ASSERT_EQ(d[i], c[3 - i]);
	umem_free_bulk(u, d, 4);
}

/* A random walk over alloc/free/loan/unloan, bulk and single, checked
 * against a model and the audit after every step. */
static void test_audit_every_op(void)
{
	enum { N = 128 };
	struct umem *u = mk_n(N);
	uint64_t held[N], loaned[N], tmp[16];
	unsigned nh = 0, nl = 0, bad = 0;
	uint64_t rng = 12345;
	struct umem_audit au;

	for (unsigned step = 0; step < 20000; step++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		unsigned op = (unsigned)(rng >> 33) % 6, k = (unsigned)(rng >> 40) % 16 + 1;

		switch (op) {
		case 0:
			if (nh + nl < N && umem_alloc(u, &held[nh]) == 0)
				nh++;
			break;
		case 1: {
			unsigned got = umem_alloc_bulk(u, tmp, k);

			memcpy(held + nh, tmp, got * sizeof(*tmp));
			nh += got;
			break;
		}
		case 2:
			if (nh) {
				umem_free(u, held[--nh]);
			}
			break;
		case 3:
			if (k > nh)
				k = nh;
			nh -= k;
			umem_free_bulk(u, held + nh, k);
			break;
		case 4:
			if (nh) {
				loaned[nl] = held[--nh];
				umem_loan(u, loaned[nl++]);
			}
			break;
		case 5:
			if (nl && (rng & 1)) {
				held[nh] = loaned[--nl];
				umem_unloan(u, held[nh++]);
			} else if (nl) {
				umem_free(u, loaned[--nl]); /* a loaned frame may be freed */
			}
			break;
		}
		if (!umem_audit(u, &au) || au.held != nh || au.loaned != nl ||
		    au.free != N - nh - nl)
			bad++;
	}
	TK_ASSERT_EQ(bad, 0);
	TK_ASSERT_EQ(stat_misuse(), 0);
	umem_free_bulk(u, held, nh);
	umem_free_bulk(u, loaned, nl);
}

static void test_loan_unloan(void)
{
	struct umem *u = mk_n(64);
	struct umem_audit au;
	uint64_t a;

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	umem_loan(u, a);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_LOANED);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.loaned, 1);
	umem_unloan(u, a);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_HELD);
	umem_loan(u, a);
	umem_free(u, a);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_FREE);
	TK_ASSERT_EQ(stat_misuse(), 0);
}

/* ---- misuse: caught, counted, refused, books intact ----------------------- */

static void test_misuse_double_free(void)
{
	struct umem *u = mk_counting(64);
	uint64_t a, b[2];
	struct umem_audit au;

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	umem_free(u, a);
	umem_free(u, a);
	TK_ASSERT_EQ(stat_misuse(), 1);
	/* The same frame twice in one bulk call. */
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	b[0] = b[1] = a;
	umem_free_bulk(u, b, 2);
	TK_ASSERT_EQ(stat_misuse(), 2);
	umem_free(u, 1ull << 40); /* not ours at all */
	TK_ASSERT_EQ(stat_misuse(), 3);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.free, 64);
	/* The free stack holds each frame once: 64 distinct frames come out. */
	uint64_t all[65];

	TK_ASSERT_EQ(umem_alloc_bulk(u, all, 65), 64);
	umem_free_bulk(u, all, 64);
	CU_ASSERT(balanced());
}

static void test_misuse_free_tx_frame(void)
{
	struct umem *u = mk_counting(64);
	struct umem_port *p = fake_port(u);
	uint64_t a, posted;

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	posted = post_tx(p, a, 512, 60);
	umem_free(u, a);
	TK_ASSERT_EQ(stat_misuse(), 1);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_TX);
	CU_ASSERT(balanced());
	g_fake.comp[g_fake.comp_n++] = posted;
	TK_ASSERT_EQ(umem_port_complete(p, 64), 1); /* freed: no callback */
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_FREE);
}

static void test_misuse_free_fill_frame(void)
{
	struct umem *u = mk_counting(64);
	struct umem_port *p = fake_port(u);

	g_fake.fill_size = 8;
	TK_ASSERT_EQ(umem_port_refill(p), 8);
	umem_free(u, g_fake.fill[3]);
	TK_ASSERT_EQ(stat_misuse(), 1);
	TK_ASSERT_EQ(umem_frame_state(u, g_fake.fill[3]), UMEM_FRAME_FILL);
	CU_ASSERT(balanced());
}

static void test_misuse_tx_inflight(void)
{
	struct umem *u = mk_counting(64);
	struct umem_port *p = fake_port(u);
	struct umem_desc d[2];
	struct umem_stats s;
	uint64_t a;

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	post_tx(p, a, 512, 60);
	d[0] = (struct umem_desc){.addr = a + 512, .len = 60};
	TK_ASSERT_EQ(umem_port_tx(p, d, 1), 1); /* consumed: refused */
	TK_ASSERT_EQ(g_fake.tx_n, 1);		/* not posted twice */
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.misuse, 1);
	TK_ASSERT_EQ(s.tx_refused, 1);
	/* Twice in one batch: the second is refused. */
	uint64_t b;

	TK_ASSERT_EQ(umem_alloc(u, &b), 0);
	d[0] = d[1] = (struct umem_desc){.addr = b, .len = 60};
	TK_ASSERT_EQ(umem_port_tx(p, d, 2), 2);
	TK_ASSERT_EQ(g_fake.tx_n, 2);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.misuse, 2);
	TK_ASSERT_EQ(s.tx_refused, 2);
	CU_ASSERT(balanced());
	g_fake.comp[g_fake.comp_n++] = a + 512;
	g_fake.comp[g_fake.comp_n++] = b;
	TK_ASSERT_EQ(umem_port_complete(p, 64), 2);
}

static void test_misuse_loan_free_frame(void)
{
	struct umem *u = mk_counting(64);
	uint64_t a;

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	umem_free(u, a);
	umem_loan(u, a);
	TK_ASSERT_EQ(stat_misuse(), 1);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_FREE);
	umem_unloan(u, a);
	TK_ASSERT_EQ(stat_misuse(), 2);
	CU_ASSERT(balanced());
}

/* Without the counting switch a debug build stops at the first misuse. */
static void test_misuse_aborts_in_debug(void)
{
#ifndef SKIFF_DEBUG_FRAMES
	tk_skip("non-debug build: misuse is counted, never fatal");
#else
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct umem *u;
		uint64_t a;

		/* The message on stderr is expected; keep the log readable. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		if (umem_create(&u, NULL) || umem_alloc(u, &a))
			_exit(2);
		umem_free(u, a);
		umem_free(u, a);
		_exit(0);
	}
	CU_ASSERT_FATAL(pid > 0);
	TK_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#endif
}

static void test_freed_frames_poisoned(void)
{
#if defined(__SANITIZE_ADDRESS__)
	struct umem *u = mk_n(64);
	struct umem_geometry g;
	uint64_t a;

	umem_geometry(u, &g);
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	CU_ASSERT(!__asan_region_is_poisoned(umem_geo_ptr(&g, a), g.frame_size));
	umem_free(u, a);
	CU_ASSERT(__asan_address_is_poisoned(umem_geo_ptr(&g, a)));
	CU_ASSERT(__asan_address_is_poisoned((uint8_t *)umem_geo_ptr(&g, a) + g.frame_size - 1));
#elif defined(SKIFF_DEBUG_FRAMES)
	struct umem *u = mk_n(64);
	struct umem_geometry g;
	uint8_t *p;
	uint64_t a;

	umem_geometry(u, &g);
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	p = umem_geo_ptr(&g, a);
	memset(p, 0, g.frame_size);
	umem_free(u, a);
	TK_ASSERT_EQ(p[0], 0x6b);
	TK_ASSERT_EQ(p[g.frame_size - 1], 0x6b);
#else
	tk_skip("frames are poisoned only in debug or ASan builds");
#endif
}

/* ---- completions ---------------------------------------------------------- */

static void test_comp_out_of_range(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_geometry g;
	struct umem_stats s;
	uint64_t a;

	umem_geometry(u, &g);
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	post_tx(p, a, 0, 60);
	g_fake.comp[g_fake.comp_n++] = g.size;
	g_fake.comp[g_fake.comp_n++] = UINT64_MAX;
	TK_ASSERT_EQ(umem_port_complete(p, 64), 0);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.comp_out_of_range, 2);
	TK_ASSERT_EQ(s.comp_invalid, 2);
	TK_ASSERT_EQ(s.misuse, 0);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_TX);
	CU_ASSERT(balanced());
	g_fake.comp[g_fake.comp_n++] = a;
	TK_ASSERT_EQ(umem_port_complete(p, 64), 1);
}

static void test_comp_not_posted_addr(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_stats s;
	uint64_t a, posted;

	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	posted = post_tx(p, a, 512, 60);
	g_fake.comp[g_fake.comp_n++] = a;	    /* the frame, not the address posted */
	g_fake.comp[g_fake.comp_n++] = posted + 64; /* inside, still wrong */
	TK_ASSERT_EQ(umem_port_complete(p, 64), 0);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.comp_misaligned, 2);
	TK_ASSERT_EQ(s.comp_invalid, 2);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_TX);
	g_fake.comp[g_fake.comp_n++] = posted;
	TK_ASSERT_EQ(umem_port_complete(p, 64), 1);
	TK_ASSERT_EQ(umem_frame_state(u, a), UMEM_FRAME_FREE);
}

static void test_comp_not_inflight(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_stats s;
	uint64_t held, free_one, sent, posted;

	TK_ASSERT_EQ(umem_alloc(u, &held), 0);
	TK_ASSERT_EQ(umem_alloc(u, &free_one), 0);
	umem_free(u, free_one);
	TK_ASSERT_EQ(umem_alloc(u, &sent), 0);
	posted = post_tx(p, sent, 0, 60);
	g_fake.comp[g_fake.comp_n++] = held;
	g_fake.comp[g_fake.comp_n++] = free_one;
	g_fake.comp[g_fake.comp_n++] = posted;
	g_fake.comp[g_fake.comp_n++] = posted; /* a duplicate completion */
	TK_ASSERT_EQ(umem_port_complete(p, 64), 1);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.comp_not_inflight, 3);
	TK_ASSERT_EQ(s.comp_invalid, 3);
	TK_ASSERT_EQ(umem_frame_state(u, held), UMEM_FRAME_HELD);
	TK_ASSERT_EQ(umem_frame_state(u, free_one), UMEM_FRAME_FREE);
	CU_ASSERT(balanced());
	umem_free(u, held);
}

static void test_comp_valid_reach_tx_done(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_port_stats ps;
	uint64_t a[8], posted[8];

	g_done_n = g_done_calls = g_done_not_held = 0;
	umem_set_tx_done(u, on_tx_done, u);
	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 8), 8);
	for (unsigned i = 0; i < 8; i++)
		posted[i] = post_tx(p, a[i], 256 + 64 * i, 100);
	for (unsigned i = 0; i < 8; i++)
		g_fake.comp[g_fake.comp_n++] = posted[7 - i];
	g_fake.comp[g_fake.comp_n++] = UINT64_MAX; /* one bad one mixed in */
	TK_ASSERT_EQ(umem_port_complete(p, 64), 8);
	TK_ASSERT_EQ(g_done_calls, 1); /* one batch */
	TK_ASSERT_EQ(g_done_n, 8);
	TK_ASSERT_EQ(g_done_not_held, 0);
	for (unsigned i = 0; i < 8; i++)
		TK_ASSERT_EQ(g_done[i], posted[7 - i]);
	umem_port_get_stats(p, &ps);
	TK_ASSERT_EQ(ps.completions, 8);
	TK_ASSERT_EQ(ps.tx_frames, 8);
	TK_ASSERT_EQ(ps.tx_bytes, 800);
	CU_ASSERT(balanced());
	umem_free_bulk(u, g_done, g_done_n);
}

/* ---- the generic port layer ----------------------------------------------- */

static void test_port_tx_refuses_bad_descs(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_geometry g;
	struct umem_stats s;
	struct umem_desc d[5];
	uint64_t a, b;

	umem_geometry(u, &g);
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	TK_ASSERT_EQ(umem_alloc(u, &b), 0);
	d[0] = (struct umem_desc){.addr = g.size + 512, .len = 60}; /* out of range */
	d[1] = (struct umem_desc){.addr = a + 2000, .len = 60};	    /* past its frame */
	d[2] = (struct umem_desc){.addr = a, .len = 0};		    /* empty */
	d[3] = (struct umem_desc){.addr = a + 512, .len = 1500};
	d[4] = (struct umem_desc){.addr = b, .len = 2048}; /* exactly the frame */
	TK_ASSERT_EQ(umem_port_tx(p, d, 5), 5);
	TK_ASSERT_EQ(g_fake.tx_n, 2);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.tx_refused, 3);
	TK_ASSERT_EQ(s.misuse, 0);
	g_fake.comp[g_fake.comp_n++] = a + 512;
	g_fake.comp[g_fake.comp_n++] = b;
	TK_ASSERT_EQ(umem_port_complete(p, 64), 2);
}

static void test_port_tx_ring_full(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_port_stats ps;
	struct umem_desc d[8];
	uint64_t a[8];

	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 8), 8);
	for (unsigned i = 0; i < 8; i++)
		d[i] = (struct umem_desc){.addr = a[i], .len = 64};
	g_fake.tx_room = 5;
	TK_ASSERT_EQ(umem_port_tx(p, d, 8), 5);
	for (unsigned i = 0; i < 8; i++)
		TK_ASSERT_EQ(umem_frame_state(u, a[i]), i < 5 ? UMEM_FRAME_TX : UMEM_FRAME_HELD);
	umem_port_get_stats(p, &ps);
	TK_ASSERT_EQ(ps.tx_ring_full, 3);
	TK_ASSERT_EQ(ps.tx_frames, 5);
	CU_ASSERT(balanced());
	g_fake.tx_room = 3;
	TK_ASSERT_EQ(umem_port_tx(p, d + 5, 3), 3);
	for (unsigned i = 0; i < 8; i++)
		g_fake.comp[g_fake.comp_n++] = a[i];
	TK_ASSERT_EQ(umem_port_complete(p, 64), 8);
}

/* The fake wire takes n frames off the fill ring and delivers them on RX. */
static void fake_wire_deliver(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		g_fake.rx[g_fake.rx_n++] =
			(struct umem_desc){.addr = g_fake.fill[i] + 512, .len = 60};
	memmove(g_fake.fill, g_fake.fill + n, (g_fake.fill_n - n) * sizeof(uint64_t));
	g_fake.fill_n -= n;
}

/* A fill ring larger than the UMEM: refills leave fill_reserve frames free
 * for sending, and take the rest. */
static void test_port_refill_keeps_reserve(void)
{
	struct umem_config c = {.frame_count = 64, .fill_batch = 16, .fill_reserve = 8};
	struct umem *u = mk(&c);
	struct umem_port *p = fake_port(u);
	struct umem_audit au;
	uint64_t a[8];

	CU_ASSERT(FAKE_RING > 64);
	TK_ASSERT_EQ(umem_port_refill(p), 56);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, 56);
	TK_ASSERT_EQ(au.free, 8);
	/* The reserve is the sender's: plain allocation still gets it. */
	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 8), 8);
	TK_ASSERT_EQ(umem_port_refill(p), 0);
	for (unsigned i = 0; i < 8; i++)
		umem_free(u, a[i]);
	/* A reserve as large as the UMEM is refused. */
	{
		struct umem_config bad = {.frame_count = 64, .fill_reserve = 64};
		struct umem *v = NULL;

		TK_ASSERT_EQ(umem_create(&v, &bad), -EINVAL);
	}
}

static void test_port_refill_watermark(void)
{
	struct umem_config c = {.frame_count = 1024, .fill_batch = 32};
	struct umem *u = mk(&c);
	struct umem_port *p = fake_port(u);
	struct umem_port_stats ps;
	struct umem_audit au;
	struct umem_desc d[FAKE_RING];
	unsigned n;

	unsigned size = 0;

	TK_ASSERT_EQ(umem_port_fill_level(p, &size), 0);
	TK_ASSERT_EQ(size, FAKE_RING);
	TK_ASSERT_EQ(umem_port_refill(p), FAKE_RING);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, FAKE_RING);
	TK_ASSERT_EQ(umem_port_fill_level(p, NULL), FAKE_RING);
	TK_ASSERT_EQ(umem_port_refill(p), 0); /* full */
	/* Level 156 is above the watermark (ring / 2): nothing posted. */
	fake_wire_deliver(100);
	TK_ASSERT_EQ(umem_port_rx(p, d, FAKE_RING), 100);
	for (unsigned i = 0; i < 100; i++)
		TK_ASSERT_EQ(umem_frame_state(u, d[i].addr), UMEM_FRAME_HELD);
	TK_ASSERT_EQ(umem_port_refill(p), 0);
	for (unsigned i = 0; i < 100; i++)
		umem_free(u, d[i].addr);
	/* Level 106 is below: topped up to the ring size. */
	fake_wire_deliver(50);
	TK_ASSERT_EQ(umem_port_refill(p), 150);
	TK_ASSERT_EQ(g_fake.fill_n, FAKE_RING);
	n = umem_port_rx(p, d, FAKE_RING);
	TK_ASSERT_EQ(n, 50);
	for (unsigned i = 0; i < n; i++)
		umem_free(u, d[i].addr);
	umem_port_get_stats(p, &ps);
	TK_ASSERT_EQ(ps.fill_posted, FAKE_RING + 150);
	TK_ASSERT_EQ(ps.rx_frames, 150);
	TK_ASSERT_EQ(ps.rx_bytes, 150 * 60);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, FAKE_RING);
}

static void test_port_rx_refuses_foreign_frames(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_port_stats ps;
	struct umem_desc d[4];
	uint64_t held;

	g_fake.fill_size = 4;
	TK_ASSERT_EQ(umem_port_refill(p), 4);
	TK_ASSERT_EQ(umem_alloc(u, &held), 0);
	g_fake.rx[g_fake.rx_n++] = (struct umem_desc){.addr = held, .len = 10};
	g_fake.rx[g_fake.rx_n++] = (struct umem_desc){.addr = 1ull << 40, .len = 10};
	g_fake.rx[g_fake.rx_n++] = (struct umem_desc){.addr = g_fake.fill[0] + 512, .len = 10};
	TK_ASSERT_EQ(umem_port_rx(p, d, 4), 1);
	TK_ASSERT_EQ(d[0].addr, g_fake.fill[0] + 512);
	TK_ASSERT_EQ(umem_frame_state(u, d[0].addr), UMEM_FRAME_HELD);
	umem_port_get_stats(p, &ps);
	TK_ASSERT_EQ(ps.rx_invalid_descs, 2);
	TK_ASSERT_EQ(stat_misuse(), 0);
	umem_free(u, d[0].addr);
	umem_free(u, held);
}

static void test_port_destroy_reclaims(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_audit au;
	uint64_t a[4];

	g_fake.fill_size = 16;
	TK_ASSERT_EQ(umem_port_refill(p), 16);
	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 4), 4);
	for (unsigned i = 0; i < 3; i++)
		post_tx(p, a[i], 0, 60);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, 16);
	TK_ASSERT_EQ(au.tx_inflight, 3);
	umem_port_destroy(p);
	g_port = NULL;
	TK_ASSERT_EQ(g_fake.destroyed, 1);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, 0);
	TK_ASSERT_EQ(au.tx_inflight, 0);
	TK_ASSERT_EQ(au.held, 1); /* the stack's frame stays the stack's */
	umem_free(u, a[3]);
}

/* TX frames outstanding at teardown belong to whoever owns completions (a
 * zero-copy send holds references on them): they go there, not to the
 * allocator behind its back. */
static void test_port_destroy_hands_tx_frames_to_owner(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u);
	struct umem_audit au;
	uint64_t a[3];

	g_done_n = g_done_calls = g_done_not_held = 0;
	CU_ASSERT(umem_set_tx_done(u, on_tx_done, u) == 0);
	TK_ASSERT_EQ(umem_alloc_bulk(u, a, 3), 3);
	for (unsigned i = 0; i < 3; i++)
		post_tx(p, a[i], 0, 60);
	umem_port_destroy(p);
	g_port = NULL;
	TK_ASSERT_EQ(g_done_n, 3);
	TK_ASSERT_EQ(g_done_not_held, 0);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.held, 3); /* the owner decides */
	umem_free_bulk(u, g_done, g_done_n);
	CU_ASSERT(umem_set_tx_done(u, NULL, NULL) == 0);
}

static void other_tx_done(void *opaque, const uint64_t *addrs, unsigned n)
{
	(void)opaque;
	(void)addrs;
	(void)n;
}

static void test_tx_done_has_one_owner(void)
{
	struct umem *u = mk_n(16);

	CU_ASSERT(umem_set_tx_done(u, on_tx_done, u) == 0);
	CU_ASSERT(umem_set_tx_done(u, on_tx_done, u) == 0); /* same owner again */
	TK_ASSERT_EQ(umem_set_tx_done(u, other_tx_done, NULL), -EBUSY);
	CU_ASSERT(umem_set_tx_done(u, NULL, NULL) == 0);
	CU_ASSERT(umem_set_tx_done(u, other_tx_done, NULL) == 0);
	CU_ASSERT(umem_set_tx_done(u, NULL, NULL) == 0);
}

/* ---- creation -------------------------------------------------------------- */

static void test_hugepages_auto_falls_back(void)
{
	struct umem_config c = {.frame_count = 1024, .hugepages = UMEM_HUGEPAGES_AUTO};
	struct umem *on = NULL;
	struct umem *u = mk(&c);
	struct umem_geometry g;
	uint64_t a;
	int err;

	/* AUTO always works; what it got must match what ON can get. */
	c.hugepages = UMEM_HUGEPAGES_ON;
	err = umem_create(&on, &c);
	CU_ASSERT(err == 0 || err == -ENOMEM);
	if (err == 0) {
		CU_ASSERT(umem_uses_hugepages(on));
	} else {
		CU_ASSERT(!umem_uses_hugepages(u));
	}
	TK_ASSERT_EQ(umem_destroy(on), 0);
	umem_geometry(u, &g);
	TK_ASSERT_EQ(umem_alloc(u, &a), 0);
	memset(umem_geo_ptr(&g, a), 1, g.frame_size); /* the memory is usable */
	umem_free(u, a);

	c.hugepages = UMEM_HUGEPAGES_OFF;
	TK_ASSERT_EQ(umem_create(&on, &c), 0);
	CU_ASSERT(!umem_uses_hugepages(on));
	TK_ASSERT_EQ(umem_destroy(on), 0);
}

static void test_invalid_configs(void)
{
	static const struct umem_config bad[] = {
		{.frame_size = 1024},
		{.frame_size = 8192},
		{.frame_size = 3000},
		{.headroom = 100},	  /* not a multiple of 64 */
		{.headroom = 2048 - 256}, /* no room for a packet */
		{.frame_count = UMEM_FRAME_COUNT_MAX + 1},
		{.frame_count = 16, .fill_batch = 32},
		{.hugepages = 7},
	};
	struct umem *u = (struct umem *)&u;
	void *area;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = umem_create(&u, &bad[i]);

		if (err != -EINVAL)
			tk_note("config %u gave %d", i, err);
		TK_ASSERT_EQ(err, -EINVAL);
		CU_ASSERT(u == NULL);
	}
	area = mmap(NULL, 65 * 2048, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CU_ASSERT_FATAL(area != MAP_FAILED);
	TK_ASSERT_EQ(umem_create(&u, &(struct umem_config){.frame_count = 64,
							   .area = (uint8_t *)area + 64}),
		     -EINVAL);
	/* The caller's area, page-aligned: accepted and used. */
	TK_ASSERT_EQ(umem_create(&u, &(struct umem_config){.frame_count = 64, .area = area}), 0);
	struct umem_geometry g;

	umem_geometry(u, &g);
	CU_ASSERT(g.area == area);
	TK_ASSERT_EQ(umem_destroy(u), 0);
	munmap(area, 65 * 2048);
	TK_ASSERT_EQ(umem_create(NULL, NULL), -EINVAL);
	TK_ASSERT_EQ(umem_destroy(NULL), 0);
}

static void test_destroy_with_port_busy(void)
{
	struct umem *u = mk_n(64);
	struct umem_port *p = fake_port(u), *p2 = calloc(1, sizeof(*p2));

	TK_ASSERT_EQ(umem_destroy(u), -EBUSY);
	p2->ops = &fake_ops;
	TK_ASSERT_EQ(umem__attach_port(u, p2), -EBUSY); /* a backend that does not share */
	free(p2);
	umem_port_destroy(p);
	g_port = NULL;
	CU_ASSERT(balanced());
}

/* ---- ports sharing a UMEM (AF_XDP's shared UMEM) ------------------------- */

/* fake_ops with shares set, made by shared_port(). */
static struct umem_port_ops shared_ops;

static struct fake g_fake2;

static struct umem_port *shared_port(struct umem *u, struct fake *f)
{
	struct umem_port *p = calloc(1, sizeof(*p));

	shared_ops = fake_ops;
	shared_ops.shares = true;
	memset(f, 0, sizeof(*f));
	f->fill_size = 16;
	f->tx_room = FAKE_RING;
	p->ops = &shared_ops;
	p->umem = u;
	p->backend = f;
	if (umem__attach_port(u, p)) {
		free(p);
		return NULL;
	}
	return p;
}

/* Each port receives and completes only what its own rings held; taking
 * one port down returns its frames and leaves the other's where they are;
 * the audit covers both. */
static void test_ports_share_umem(void)
{
	struct umem *u = mk_n(128);
	struct umem_port *a = shared_port(u, &g_fake), *b = shared_port(u, &g_fake2);
	struct umem_port *more[UMEM_MAX_PORTS];
	struct umem_desc d[4];
	struct umem_stats s;
	struct umem_audit au;
	uint64_t fa, fb, t;
	unsigned nmore = 0;

	CU_ASSERT_FATAL(a && b);
	/* Up to UMEM_MAX_PORTS; a memlink-like backend never joins. */
	while ((more[nmore] = shared_port(u, &(struct fake){0})) != NULL)
		nmore++;
	TK_ASSERT_EQ(nmore, UMEM_MAX_PORTS - 2);
	for (unsigned i = 0; i < nmore; i++) {
		more[i]->backend = &g_fake2; /* its destroy counts there */
		umem_port_destroy(more[i]);
	}
	{
		struct umem_port *lone = calloc(1, sizeof(*lone));

		lone->ops = &fake_ops;
		lone->umem = u;
		TK_ASSERT_EQ(umem__attach_port(u, lone), -EBUSY);
		free(lone);
	}

	TK_ASSERT_EQ(umem_port_refill(a), 16);
	TK_ASSERT_EQ(umem_port_refill(b), 16);
	fa = g_fake.fill[0];
	fb = g_fake2.fill[0];
	/* b's ring hands up a's frame: refused, counted; its own is taken. */
	g_fake2.rx[0] = (struct umem_desc){.addr = fa + 256, .len = 60};
	g_fake2.rx[1] = (struct umem_desc){.addr = fb + 256, .len = 60};
	g_fake2.rx_n = 2;
	TK_ASSERT_EQ(umem_port_rx(b, d, 4), 1);
	TK_ASSERT_EQ(d[0].addr, fb + 256);
	TK_ASSERT_EQ(umem_frame_state(u, fa), UMEM_FRAME_FILL);

	/* A frame received on b goes out on a (no copy); only a's completion
	 * ring gives it back. */
	t = post_tx(a, fb, 256, 60);
	g_fake2.comp[g_fake2.comp_n++] = t;
	TK_ASSERT_EQ(umem_port_complete(b, 8), 0);
	umem_get_stats(u, &s);
	TK_ASSERT_EQ(s.comp_other_port, 1);
	TK_ASSERT_EQ(umem_frame_state(u, fb), UMEM_FRAME_TX);
	g_fake.comp[g_fake.comp_n++] = t;
	TK_ASSERT_EQ(umem_port_complete(a, 8), 1);
	TK_ASSERT_EQ(umem_frame_state(u, fb), UMEM_FRAME_FREE); /* no tx_done: freed */

	/* a goes: its 16 fill frames come back, b's 15 stay posted. */
	umem_port_destroy(a);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, 15);
	TK_ASSERT_EQ(umem_destroy(u), -EBUSY);
	umem_port_destroy(b);
	CU_ASSERT(umem_audit(u, &au));
	TK_ASSERT_EQ(au.fill, 0);
	TK_ASSERT_EQ(au.free, 128);
}

static const struct tk_case alloc_tests[] = {
	TK_TEST(test_alloc_single),
	TK_TEST(test_alloc_bulk),
	TK_TEST(test_exhaustion),
	TK_TEST(test_lifo_reuse),
	TK_TEST(test_audit_every_op),
	TK_TEST(test_loan_unloan),
	TK_TEST(test_freed_frames_poisoned),
	TK_TEST(test_hugepages_auto_falls_back),
	TK_TEST(test_invalid_configs),
	TK_TEST(test_destroy_with_port_busy),
	TK_TEST_END,
};

static const struct tk_case misuse_tests[] = {
	TK_TEST(test_misuse_double_free),
	TK_TEST(test_misuse_free_tx_frame),
	TK_TEST(test_misuse_free_fill_frame),
	TK_TEST(test_misuse_tx_inflight),
	TK_TEST(test_misuse_loan_free_frame),
	TK_TEST(test_misuse_aborts_in_debug),
	TK_TEST_END,
};

static const struct tk_case port_tests[] = {
	TK_TEST(test_comp_out_of_range),
	TK_TEST(test_comp_not_posted_addr),
	TK_TEST(test_comp_not_inflight),
	TK_TEST(test_comp_valid_reach_tx_done),
	TK_TEST(test_port_tx_refuses_bad_descs),
	TK_TEST(test_port_tx_ring_full),
	TK_TEST(test_port_refill_watermark),
	TK_TEST(test_port_refill_keeps_reserve),
	TK_TEST(test_port_rx_refuses_foreign_frames),
	TK_TEST(test_port_destroy_reclaims),
	TK_TEST(test_port_destroy_hands_tx_frames_to_owner),
	TK_TEST(test_tx_done_has_one_owner),
	TK_TEST(test_ports_share_umem),
	TK_TEST_END,
};

static const struct tk_suite alloc_suite = {"alloc", setup, teardown, alloc_tests};
static const struct tk_suite misuse_suite = {"misuse", setup, teardown, misuse_tests};
static const struct tk_suite port_suite = {"port", setup, teardown, port_tests};

const struct tk_suite *const tk_suites[] = {
	&alloc_suite,
	&misuse_suite,
	&port_suite,
	NULL,
};
