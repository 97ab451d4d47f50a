/* pkb: in-place build, TX allocation, data bounds, clone/copy/unshare,
 * release hooks, ubuf, orphan, frame references, the pool's limits. Every
 * teardown proves that no frame, head or area leaked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/pkb.h>

#include "testkit.h"

#define NFRAMES 64u
#define NHEADS	8u
#define NAREAS	8u

static struct umem *u;
static struct pkb_pool *pool;
static struct umem_geometry geo;
static uint64_t expected_misuse; /* set by tests that misuse on purpose */

static void setup_pool(const struct pkb_pool_config *pcfg)
{
	struct umem_config ucfg = {.frame_count = NFRAMES, .hugepages = UMEM_HUGEPAGES_OFF};

	CU_ASSERT_FATAL(umem_create(&u, &ucfg) == 0);
	umem_geometry(u, &geo);
	CU_ASSERT_FATAL(pkb_pool_create(&pool, u, pcfg) == 0);
	expected_misuse = 0;
}

static void setup(void)
{
	struct pkb_pool_config pcfg = {.heads = NHEADS, .areas = NAREAS};

	setup_pool(&pcfg);
}

/* Nothing leaked: every frame back in the allocator, no live pkb, head,
 * area or frame reference, and the pool agrees to go. */
static void teardown(void)
{
	struct pkb_pool_stats st;
	struct umem_audit a;

	pkb_pool_get_stats(pool, &st);
	TK_ASSERT_EQ(st.live_pkbs, 0);
	TK_ASSERT_EQ(st.live_heads, 0);
	TK_ASSERT_EQ(st.live_areas, 0);
	TK_ASSERT_EQ(st.live_frames, 0);
	TK_ASSERT_EQ(st.misuse, expected_misuse);
	CU_ASSERT(umem_audit(u, &a));
	TK_ASSERT_EQ(a.free, a.total);
	TK_ASSERT_EQ(pkb_pool_destroy(pool), 0);
	TK_ASSERT_EQ(umem_destroy(u), 0);
	pool = NULL;
	u = NULL;
}

static uint64_t rx_offset(void)
{
	/* Where AF_XDP (and memlink) put a received packet. */
	return geo.headroom + UMEM_XDP_PACKET_HEADROOM;
}

/* A received frame: @len bytes of pattern @seed at the usual RX offset. */
static struct pkb *rx_pkb(uint32_t len, uint8_t seed)
{
	struct umem_desc d;
	struct pkb *p = NULL;
	uint64_t frame;

	CU_ASSERT_FATAL(umem_alloc(u, &frame) == 0);
	d.addr = frame + rx_offset();
	d.len = len;
	d.options = 0;
	for (uint32_t i = 0; i < len; i++)
		geo.area[d.addr + i] = (uint8_t)(seed + i);
	CU_ASSERT_FATAL(pkb_build_rx(pool, &d, &p) == 0);
	if (!p) /* for the compiler: CU_ASSERT_FATAL is not noreturn */
		abort();
	return p;
}

static bool has_pattern(const struct pkb *p, uint32_t len, uint8_t seed)
{
	if (pkb_len(p) != len)
		return false;
	for (uint32_t i = 0; i < len; i++)
		if (p->data[i] != (uint8_t)(seed + i))
			return false;
	return true;
}

static struct pkb_pool_stats stats(void)
{
	struct pkb_pool_stats st;

	pkb_pool_get_stats(pool, &st);
	return st;
}

static enum umem_frame_state frame_state(uint64_t addr)
{
	return umem_frame_state(u, addr);
}

/* ---- building ------------------------------------------------------------ */

static void test_build_rx_in_place(void)
{
	struct pkb *p = rx_pkb(100, 7);
	uint8_t *frame = geo.area + pkb_frame_addr(p);

	/* The head and the shared info live in the frame: nothing allocated. */
	CU_ASSERT_PTR_EQUAL(p, frame + PKB_SHINFO_SIZE);
	CU_ASSERT_PTR_EQUAL(p->shinfo, frame);
	CU_ASSERT_PTR_EQUAL(p->head, frame + PKB_META_SIZE);
	CU_ASSERT_PTR_EQUAL(p->data, frame + rx_offset());
	CU_ASSERT_PTR_EQUAL(p->end, frame + geo.frame_size);
	TK_ASSERT_EQ(pkb_data_addr(p), pkb_frame_addr(p) + rx_offset());
	TK_ASSERT_EQ(pkb_headroom(p), rx_offset() - PKB_META_SIZE);
	CU_ASSERT(has_pattern(p, 100, 7));
	CU_ASSERT_FALSE(pkb_data_shared(p));
	CU_ASSERT_FALSE(pkb_frame_in_flight(p));
	TK_ASSERT_EQ(stats().live_pkbs, 1);
	TK_ASSERT_EQ(stats().live_heads, 0);
	TK_ASSERT_EQ(stats().live_frames, 1);
	pkb_free(p);
}

static void test_build_rx_refuses_bad_descriptors(void)
{
	struct pkb *p = NULL;
	uint64_t frame;
	struct umem_desc d = {0};

	CU_ASSERT_FATAL(umem_alloc(u, &frame) == 0);
	/* Packet starting inside the metadata. */
	d.addr = frame + PKB_META_SIZE - 1;
	d.len = 10;
	TK_ASSERT_EQ(pkb_build_rx(pool, &d, &p), -EINVAL);
	/* Running past the frame. */
	d.addr = frame + rx_offset();
	d.len = geo.frame_size - (uint32_t)rx_offset() + 1;
	TK_ASSERT_EQ(pkb_build_rx(pool, &d, &p), -EINVAL);
	/* Outside the UMEM. */
	d.addr = geo.size + rx_offset();
	d.len = 1;
	TK_ASSERT_EQ(pkb_build_rx(pool, &d, &p), -EINVAL);
	CU_ASSERT_PTR_NULL(p);
	TK_ASSERT_EQ(stats().rx_invalid, 3);
	/* The RX batch's look-ahead is a hint only: it neither refuses nor
	 * counts nor builds, whatever the descriptor. */
	pkb_prefetch_rx(pool, &d);
	d.addr = frame + PKB_META_SIZE - 1;
	pkb_prefetch_rx(pool, &d);
	TK_ASSERT_EQ(stats().rx_invalid, 3);
	TK_ASSERT_EQ(stats().live_pkbs, 0);
	/* Exactly filling the frame is fine. */
	d.addr = frame + rx_offset();
	d.len = geo.frame_size - (uint32_t)rx_offset();
	TK_ASSERT_EQ(pkb_build_rx(pool, &d, &p), 0);
	TK_ASSERT_EQ(pkb_tailroom(p), 0);
	pkb_free(p);
}

static void test_pool_create_checks_headroom(void)
{
	struct umem_config ucfg = {
		.frame_count = 8, .headroom = 128, .hugepages = UMEM_HUGEPAGES_OFF};
	struct pkb_pool_config big = {.tx_headroom = 4096};
	struct pkb_pool *p2 = (struct pkb_pool *)1;
	struct umem *u2;

	/* 128 bytes cannot hold the metadata. */
	CU_ASSERT_FATAL(umem_create(&u2, &ucfg) == 0);
	TK_ASSERT_EQ(pkb_pool_create(&p2, u2, NULL), -EINVAL);
	CU_ASSERT_PTR_NULL(p2);
	TK_ASSERT_EQ(umem_destroy(u2), 0);
	/* A TX headroom leaving no room in the frame. */
	TK_ASSERT_EQ(pkb_pool_create(&p2, u, &big), -EINVAL);
	TK_ASSERT_EQ(pkb_pool_create(&p2, NULL, NULL), -EINVAL);
	TK_ASSERT_EQ(pkb_pool_destroy(NULL), 0);
	CU_ASSERT_PTR_EQUAL(pkb_pool_umem(pool), u);
}

static void test_pool_destroy_busy_while_live(void)
{
	struct pkb *p = rx_pkb(10, 0), *c;
	uint64_t frame = pkb_frame_addr(p);

	TK_ASSERT_EQ(pkb_pool_destroy(pool), -EBUSY);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_free(p);
	TK_ASSERT_EQ(pkb_pool_destroy(pool), -EBUSY);
	CU_ASSERT_FATAL(pkb_frame_get(pool, frame) == 0);
	pkb_free(c);
	/* Only a frame reference is left: still busy. */
	TK_ASSERT_EQ(stats().live_pkbs, 0);
	TK_ASSERT_EQ(pkb_pool_destroy(pool), -EBUSY);
	pkb_frame_put(pool, frame);
}

static void test_alloc_tx_reserves_headroom(void)
{
	struct pkb *p;
	uint8_t *frame;
	uint64_t addr;

	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &p) == 0);
	addr = pkb_frame_addr(p);
	frame = geo.area + addr;
	TK_ASSERT_EQ(frame_state(pkb_frame_addr(p)), UMEM_FRAME_HELD);
	TK_ASSERT_EQ(pkb_len(p), 0);
	/* Ethernet + VLAN + IPv6 + TCP with options fit in front. */
	TK_ASSERT_EQ(pkb_headroom(p), PKB_TX_HEADROOM);
	CU_ASSERT(PKB_TX_HEADROOM >= 14 + 4 + 40 + 60);
	CU_ASSERT_PTR_EQUAL(p->data, frame + PKB_META_SIZE + PKB_TX_HEADROOM);
	CU_ASSERT_PTR_EQUAL(p, frame + PKB_SHINFO_SIZE);
	TK_ASSERT_EQ(pkb_push(p, 14 + 4 + 40 + 60), 0);
	pkb_free(p);
	TK_ASSERT_EQ(frame_state(addr), UMEM_FRAME_FREE);
}

static void test_alloc_tx_exhaustion_and_injection(void)
{
	struct pkb *ps[NFRAMES], *p;

	for (unsigned i = 0; i < NFRAMES; i++)
		CU_ASSERT_FATAL(pkb_alloc_tx(pool, &ps[i]) == 0);
	TK_ASSERT_EQ(pkb_alloc_tx(pool, &p), -ENOMEM);
	TK_ASSERT_EQ(stats().frame_alloc_fail, 1);
	pkb_free_bulk(ps, NFRAMES);

	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_FRAME, 1, 2);
	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &ps[0]) == 0);
	TK_ASSERT_EQ(pkb_alloc_tx(pool, &p), -ENOMEM);
	TK_ASSERT_EQ(pkb_alloc_tx(pool, &p), -ENOMEM);
	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &ps[1]) == 0);
	TK_ASSERT_EQ(stats().injected_fail, 2);
	pkb_free(ps[0]);
	pkb_free(ps[1]);
}

/* ---- bounds -------------------------------------------------------------- */

static void test_push_pull_put_trim_reserve_bounds(void)
{
	struct pkb *p;
	uint32_t hr, tr;
	uint8_t *data;

	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &p) == 0);
	hr = pkb_headroom(p);
	tr = pkb_tailroom(p);

	/* reserve: only on an empty packet, never past end. */
	TK_ASSERT_EQ(pkb_reserve(p, tr + 1), -ENOSPC);
	TK_ASSERT_EQ(pkb_reserve(p, 16), 0);
	hr += 16;
	tr -= 16;
	TK_ASSERT_EQ(pkb_headroom(p), hr);

	/* put: up to end exactly, not one past. */
	TK_ASSERT_EQ(pkb_put(p, tr + 1), -ENOSPC);
	TK_ASSERT_EQ(pkb_len(p), 0);
	TK_ASSERT_EQ(pkb_put(p, 100), 0);
	TK_ASSERT_EQ(pkb_len(p), 100);
	TK_ASSERT_EQ(pkb_reserve(p, 1), -EINVAL);
	TK_ASSERT_EQ(pkb_put(p, pkb_tailroom(p)), 0);
	CU_ASSERT_PTR_EQUAL(p->tail, p->end);
	TK_ASSERT_EQ(pkb_put(p, 1), -ENOSPC);
	TK_ASSERT_EQ(pkb_trim(p, 100), 0);

	/* push: down to head exactly, not one past. */
	data = p->data;
	TK_ASSERT_EQ(pkb_push(p, hr + 1), -ENOSPC);
	CU_ASSERT_PTR_EQUAL(p->data, data);
	TK_ASSERT_EQ(pkb_push(p, hr), 0);
	CU_ASSERT_PTR_EQUAL(p->data, p->head);
	TK_ASSERT_EQ(pkb_len(p), 100 + hr);
	TK_ASSERT_EQ(pkb_push(p, 1), -ENOSPC);

	/* pull: up to the whole packet, not past the tail. */
	TK_ASSERT_EQ(pkb_pull(p, hr), 0);
	TK_ASSERT_EQ(pkb_pull(p, 101), -EINVAL);
	TK_ASSERT_EQ(pkb_len(p), 100);
	TK_ASSERT_EQ(pkb_pull(p, 100), 0);
	TK_ASSERT_EQ(pkb_len(p), 0);
	CU_ASSERT_PTR_EQUAL(p->data, p->tail);

	/* trim: shorten only. */
	TK_ASSERT_EQ(pkb_put(p, 50), 0);
	TK_ASSERT_EQ(pkb_trim(p, 51), -EINVAL);
	TK_ASSERT_EQ(pkb_trim(p, 20), 0);
	TK_ASSERT_EQ(pkb_len(p), 20);
	TK_ASSERT_EQ(pkb_trim(p, 0), 0);
	TK_ASSERT_EQ(pkb_len(p), 0);
	CU_ASSERT(p->head <= p->data && p->data <= p->tail && p->tail <= p->end);
	pkb_free(p);
}

/* ---- clone, copy, unshare ---------------------------------------------- */

static void test_clone_shares_frame(void)
{
	struct pkb *p = rx_pkb(64, 3), *c;
	uint64_t frame = pkb_frame_addr(p);

	memset(p->cb, 0xab, sizeof(p->cb));
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	CU_ASSERT(c->flags & PKB_F_CLONE);
	CU_ASSERT_PTR_EQUAL(c->data, p->data);
	CU_ASSERT_PTR_EQUAL(c->shinfo, p->shinfo);
	CU_ASSERT(memcmp(c->cb, p->cb, sizeof(p->cb)) == 0);
	TK_ASSERT_EQ(p->shinfo->dataref, 2);
	CU_ASSERT(pkb_data_shared(p));
	CU_ASSERT(pkb_data_shared(c));
	TK_ASSERT_EQ(stats().live_heads, 1);
	TK_ASSERT_EQ(stats().live_pkbs, 2);

	/* Bounds are the clone's own. */
	TK_ASSERT_EQ(pkb_pull(c, 10), 0);
	TK_ASSERT_EQ(pkb_len(p), 64);

	/* The in-place original goes first; the clone keeps the frame. */
	pkb_free(p);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_HELD);
	CU_ASSERT_FALSE(pkb_data_shared(c));
	TK_ASSERT_EQ(c->data[0], (uint8_t)(3 + 10));
	pkb_free(c);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_FREE);
	TK_ASSERT_EQ(stats().frames_released, 1);
}

static void test_clone_head_exhaustion_and_injection(void)
{
	struct pkb *p = rx_pkb(8, 0), *c[NHEADS], *x;

	for (unsigned i = 0; i < NHEADS; i++)
		CU_ASSERT_FATAL(pkb_clone(p, &c[i]) == 0);
	TK_ASSERT_EQ(pkb_clone(p, &x), -ENOMEM);
	TK_ASSERT_EQ(stats().head_alloc_fail, 1);
	TK_ASSERT_EQ(p->shinfo->dataref, NHEADS + 1);
	pkb_free_bulk(c, NHEADS);
	TK_ASSERT_EQ(p->shinfo->dataref, 1);

	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_HEAD, 0, 1);
	TK_ASSERT_EQ(pkb_clone(p, &x), -ENOMEM);
	TK_ASSERT_EQ(p->shinfo->dataref, 1);
	CU_ASSERT_FATAL(pkb_clone(p, &x) == 0);
	/* Other kinds are not affected by a HEAD injection. */
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_FRAME, 0, 1);
	CU_ASSERT_FATAL(pkb_clone(p, &c[0]) == 0);
	pkb_pool_inject_alloc_failure(pool, 0, 0, 0);
	pkb_free(c[0]);
	pkb_free(x);
	pkb_free(p);
}

static void test_copy_is_independent(void)
{
	struct pkb *p = rx_pkb(200, 9), *q;

	memset(p->cb, 0x5a, sizeof(p->cb));
	CU_ASSERT_FATAL(pkb_copy(p, &q) == 0);
	CU_ASSERT(pkb_frame_addr(q) != pkb_frame_addr(p));
	CU_ASSERT(has_pattern(q, 200, 9));
	TK_ASSERT_EQ(pkb_headroom(q), pkb_headroom(p));
	CU_ASSERT(memcmp(q->cb, p->cb, sizeof(p->cb)) == 0);
	CU_ASSERT_FALSE(pkb_data_shared(p));
	CU_ASSERT_FALSE(pkb_data_shared(q));
	q->data[0] ^= 0xff;
	CU_ASSERT(has_pattern(p, 200, 9));
	TK_ASSERT_EQ(stats().data_copy, 1);

	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_FRAME, 0, 1);
	TK_ASSERT_EQ(pkb_copy(p, &q), -ENOMEM);
	pkb_free(q);
	pkb_free(p);
}

static void test_copy_expand_makes_headroom(void)
{
	struct pkb *p = NULL, *q = NULL;
	uint64_t frame;

	/* A packet built right after the metadata: no room for headers. */
	CU_ASSERT_FATAL(umem_alloc(u, &frame) == 0);
	memset(geo.area + frame + PKB_META_SIZE, 0x33, 100);
	CU_ASSERT_FATAL(pkb_build(pool, frame + PKB_META_SIZE, 100, &p) == 0);
	if (!p)
		abort();
	TK_ASSERT_EQ(pkb_headroom(p), 0);
	CU_ASSERT_FATAL(pkb_copy_expand(p, PKB_TX_HEADROOM, &q) == 0);
	TK_ASSERT_EQ(pkb_headroom(q), PKB_TX_HEADROOM);
	TK_ASSERT_EQ(pkb_len(q), 100);
	TK_ASSERT_EQ(q->data[99], 0x33);
	pkb_free(q);
	/* Enough already: the offset is kept. */
	CU_ASSERT_FATAL(pkb_copy_expand(p, 0, &q) == 0);
	TK_ASSERT_EQ(pkb_headroom(q), 0);
	pkb_free(q);
	TK_ASSERT_EQ(pkb_copy_expand(p, geo.frame_size, &q), -EMSGSIZE);
	pkb_free(p);
}

static void test_unshare_clone_leaves_original_intact(void)
{
	struct pkb *p = rx_pkb(128, 1), *c, *c0;

	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	c0 = c;
	TK_ASSERT_EQ(pkb_unshare(&c), 0);
	/* A clone head stays put; its data moved to a fresh frame. */
	CU_ASSERT_PTR_EQUAL(c, c0);
	CU_ASSERT(pkb_frame_addr(c) != pkb_frame_addr(p));
	CU_ASSERT_FALSE(pkb_data_shared(c));
	CU_ASSERT_FALSE(pkb_data_shared(p));
	CU_ASSERT(has_pattern(c, 128, 1));
	memset(c->data, 0xee, pkb_len(c));
	TK_ASSERT_EQ(pkb_push(c, 14), 0);
	memset(c->data, 0xdd, 14);
	CU_ASSERT(has_pattern(p, 128, 1));
	TK_ASSERT_EQ(stats().live_pkbs, 2);
	TK_ASSERT_EQ(stats().live_frames, 2);
	pkb_free(c);
	pkb_free(p);
}

static void test_unshare_in_place_head_moves(void)
{
	struct pkb *p = rx_pkb(128, 2), *c, *p0;
	uint64_t old = pkb_frame_addr(p);

	memset(p->cb, 0x11, sizeof(p->cb));
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	p0 = p;
	TK_ASSERT_EQ(pkb_unshare(&p), 0);
	/* The in-place head lived in the old frame: it moved with the data. */
	CU_ASSERT(p != p0);
	CU_ASSERT_FALSE(p->flags & PKB_F_CLONE);
	CU_ASSERT(pkb_frame_addr(p) != old);
	CU_ASSERT(has_pattern(p, 128, 2));
	TK_ASSERT_EQ(p->cb[0], 0x11);
	memset(p->data, 0, pkb_len(p));
	CU_ASSERT(has_pattern(c, 128, 2));
	CU_ASSERT_FALSE(pkb_data_shared(c));
	TK_ASSERT_EQ(stats().live_pkbs, 2);
	TK_ASSERT_EQ(frame_state(old), UMEM_FRAME_HELD);
	pkb_free(c);
	TK_ASSERT_EQ(frame_state(old), UMEM_FRAME_FREE);
	pkb_free(p);
}

static void test_unshare_sole_owner_is_free(void)
{
	struct pkb *p = rx_pkb(32, 4), *p0 = p, *c;

	TK_ASSERT_EQ(pkb_unshare(&p), 0);
	CU_ASSERT_PTR_EQUAL(p, p0);
	TK_ASSERT_EQ(stats().data_copy, 0);

	/* Failure leaves everything as it was. */
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_FRAME, 0, 1);
	TK_ASSERT_EQ(pkb_unshare(&c), -ENOMEM);
	CU_ASSERT(pkb_data_shared(c));
	CU_ASSERT_PTR_EQUAL(c->shinfo, p->shinfo);
	pkb_free(c);
	pkb_free(p);
}

/* ---- release hooks, ubuf, orphan -------------------------------------- */

struct release_log {
	unsigned calls;
	uint64_t frame;
	unsigned order; /* event counter value at the call */
};

static unsigned events;

static void on_release(void *opaque, struct pkb_pool *pl, uint64_t frame)
{
	struct release_log *log = opaque;

	CU_ASSERT_PTR_EQUAL(pl, pool);
	log->calls++;
	log->frame = frame;
	log->order = ++events;
	/* The owner decides: here, straight back to the allocator. */
	umem_free(pkb_pool_umem(pl), frame);
}

struct test_ubuf {
	struct pkb_ubuf ubuf;
	unsigned puts;
	unsigned order;
};

static void test_ubuf_put(struct pkb_ubuf *ubuf)
{
	struct test_ubuf *t = (struct test_ubuf *)ubuf;

	CU_ASSERT(ubuf->refcnt > 0);
	ubuf->refcnt--;
	t->puts++;
	t->order = ++events;
}

static const struct pkb_ubuf_ops test_ubuf_ops = {.put = test_ubuf_put};

static void ubuf_init(struct test_ubuf *t)
{
	memset(t, 0, sizeof(*t));
	t->ubuf.ops = &test_ubuf_ops;
	t->ubuf.refcnt = 1; /* the owner's */
}

static void test_release_fires_once_after_last_clone(void)
{
	struct release_log log = {0};
	struct pkb *p = rx_pkb(40, 5), *c1, *c2;
	uint64_t frame = pkb_frame_addr(p);

	pkb_set_release(p, on_release, &log);
	CU_ASSERT_FATAL(pkb_clone(p, &c1) == 0);
	CU_ASSERT_FATAL(pkb_clone(c1, &c2) == 0);
	pkb_free(c1);
	pkb_free(p);
	TK_ASSERT_EQ(log.calls, 0);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_HELD);
	pkb_free(c2);
	TK_ASSERT_EQ(log.calls, 1);
	TK_ASSERT_EQ(log.frame, frame);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_FREE);
	pkb_free(NULL);
	TK_ASSERT_EQ(log.calls, 1);
}

static void test_release_not_inherited_by_copy(void)
{
	struct release_log log = {0};
	struct pkb *p = rx_pkb(40, 5), *q;

	pkb_set_release(p, on_release, &log);
	CU_ASSERT_FATAL(pkb_copy(p, &q) == 0);
	pkb_free(q);
	TK_ASSERT_EQ(log.calls, 0);
	pkb_free(p);
	TK_ASSERT_EQ(log.calls, 1);
}

static void test_pool_default_release(void)
{
	struct release_log log = {0}, own = {0};
	struct pkb_pool_config pcfg = {
		.heads = NHEADS, .areas = NAREAS, .release = on_release, .release_opaque = &log};
	struct pkb *p, *q;

	teardown();
	setup_pool(&pcfg);
	p = rx_pkb(10, 0);
	q = rx_pkb(10, 0);
	pkb_set_release(q, on_release, &own);
	pkb_free(p);
	pkb_free(q);
	TK_ASSERT_EQ(log.calls, 1);
	TK_ASSERT_EQ(own.calls, 1);
}

static void test_ubuf_put_once_when_data_finished(void)
{
	struct release_log log = {0};
	struct test_ubuf t;
	struct pkb *p = rx_pkb(40, 6), *c;
	uint64_t frame = pkb_frame_addr(p);

	ubuf_init(&t);
	events = 0;
	pkb_set_release(p, on_release, &log);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &t.ubuf), 0);
	TK_ASSERT_EQ(t.ubuf.refcnt, 2);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	/* Shared through the shared info: no extra reference per clone. */
	TK_ASSERT_EQ(t.ubuf.refcnt, 2);
	CU_ASSERT_PTR_EQUAL(pkb_ubuf(c), &t.ubuf);
	TK_ASSERT_EQ(pkb_frame_get(pool, pkb_data_addr(c)), 0);

	pkb_free(p);
	pkb_free(c);
	TK_ASSERT_EQ(t.puts, 0);
	/* The frame reference (a TX ring hold) was the last. */
	pkb_frame_put(pool, frame);
	TK_ASSERT_EQ(t.puts, 1);
	TK_ASSERT_EQ(t.ubuf.refcnt, 1);
	TK_ASSERT_EQ(log.calls, 1);
	/* The ubuf hears first, then the frame's owner. */
	CU_ASSERT(t.order < log.order);
	CU_ASSERT_FALSE(t.ubuf.flags & PKB_UBUF_F_COPIED);
}

static void test_set_ubuf_rules(void)
{
	struct test_ubuf a, b;
	struct pkb *p = rx_pkb(40, 6);

	ubuf_init(&a);
	ubuf_init(&b);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &a.ubuf), 0);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &a.ubuf), 0);
	TK_ASSERT_EQ(a.ubuf.refcnt, 2);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &b.ubuf), -EBUSY);
	TK_ASSERT_EQ(b.ubuf.refcnt, 1);
	pkb_free(p);
	TK_ASSERT_EQ(a.puts, 1);
	TK_ASSERT_EQ(b.puts, 0);
	pkb_ubuf_put(NULL);
}

static void test_ubuf_not_carried_by_copy(void)
{
	struct test_ubuf t;
	struct pkb *p = rx_pkb(40, 6), *q;

	ubuf_init(&t);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &t.ubuf), 0);
	CU_ASSERT_FATAL(pkb_copy(p, &q) == 0);
	CU_ASSERT_PTR_NULL(pkb_ubuf(q));
	CU_ASSERT(t.ubuf.flags & PKB_UBUF_F_COPIED);
	TK_ASSERT_EQ(t.ubuf.refcnt, 2);
	pkb_free(p);
	TK_ASSERT_EQ(t.puts, 1);
	pkb_free(q);
	TK_ASSERT_EQ(t.puts, 1);
}

static void test_orphan_drops_ubuf_early(void)
{
	struct test_ubuf t;
	struct pkb *p = rx_pkb(300, 8), *p0;
	uint64_t old = pkb_frame_addr(p);

	/* No ubuf: nothing to do. */
	p0 = p;
	TK_ASSERT_EQ(pkb_orphan(&p), 0);
	CU_ASSERT_PTR_EQUAL(p, p0);
	TK_ASSERT_EQ(stats().data_copy, 0);

	ubuf_init(&t);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &t.ubuf), 0);
	TK_ASSERT_EQ(pkb_orphan(&p), 0);
	/* Sole holder: the user's data is released now, not at pkb_free. */
	TK_ASSERT_EQ(t.puts, 1);
	TK_ASSERT_EQ(t.ubuf.refcnt, 1);
	CU_ASSERT(t.ubuf.flags & PKB_UBUF_F_COPIED);
	TK_ASSERT_EQ(frame_state(old), UMEM_FRAME_FREE);
	CU_ASSERT_PTR_NULL(pkb_ubuf(p));
	CU_ASSERT(has_pattern(p, 300, 8));
	TK_ASSERT_EQ(stats().orphaned, 1);
	pkb_free(p);
	TK_ASSERT_EQ(t.puts, 1);
}

static void test_orphan_with_clones_waits_for_them(void)
{
	struct test_ubuf t;
	struct pkb *p = rx_pkb(100, 8), *c;

	ubuf_init(&t);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &t.ubuf), 0);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	TK_ASSERT_EQ(pkb_orphan(&c), 0);
	CU_ASSERT_PTR_NULL(pkb_ubuf(c));
	TK_ASSERT_EQ(t.puts, 0);
	pkb_free(p);
	TK_ASSERT_EQ(t.puts, 1);
	CU_ASSERT(has_pattern(c, 100, 8));

	/* Failure: unchanged, still holding the ubuf. */
	p = rx_pkb(10, 0);
	ubuf_init(&t);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &t.ubuf), 0);
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_FRAME, 0, 1);
	TK_ASSERT_EQ(pkb_orphan(&p), -ENOMEM);
	CU_ASSERT_PTR_EQUAL(pkb_ubuf(p), &t.ubuf);
	pkb_free(p);
	TK_ASSERT_EQ(t.puts, 1);
	pkb_free(c);
}

/* ---- frame references -------------------------------------------------- */

static void test_frame_get_put(void)
{
	struct pkb *p = rx_pkb(10, 0);
	uint64_t frame = pkb_frame_addr(p), spare;

	TK_ASSERT_EQ(pkb_frame_get(pool, pkb_data_addr(p) + 3), 0);
	CU_ASSERT(pkb_data_shared(p));
	pkb_free(p);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_HELD);
	TK_ASSERT_EQ(stats().live_frames, 1);
	pkb_frame_put(pool, frame);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_FREE);

	/* Refused and counted: free frames, frames no pkb was built over,
	 * addresses outside the UMEM. */
	TK_ASSERT_EQ(pkb_frame_get(pool, frame), -EINVAL);
	TK_ASSERT_EQ(pkb_frame_get(pool, geo.size), -EINVAL);
	pkb_frame_put(pool, frame);
	CU_ASSERT_FATAL(umem_alloc(u, &spare) == 0);
	memset(geo.area + spare, 0, PKB_META_SIZE);
	TK_ASSERT_EQ(pkb_frame_get(pool, spare), -EINVAL);
	umem_free(u, spare);
	TK_ASSERT_EQ(stats().misuse, 4);
	expected_misuse = 4;
}

static void test_free_bulk_mixed(void)
{
	struct release_log log = {0};
	struct test_ubuf t;
	struct pkb *ps[10];

	ubuf_init(&t);
	for (unsigned i = 0; i < 4; i++)
		ps[i] = rx_pkb(10, (uint8_t)i);
	CU_ASSERT_FATAL(pkb_clone(ps[0], &ps[4]) == 0);
	CU_ASSERT_FATAL(pkb_clone(ps[1], &ps[5]) == 0);
	pkb_set_release(ps[2], on_release, &log);
	TK_ASSERT_EQ(pkb_set_ubuf(ps[3], &t.ubuf), 0);
	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &ps[6]) == 0);
	ps[7] = NULL;
	pkb_free_bulk(ps, 8);
	TK_ASSERT_EQ(log.calls, 1);
	TK_ASSERT_EQ(t.puts, 1);
	TK_ASSERT_EQ(stats().frames_released, 5);
}

/* ---- a frame on a real TX ring (memlink) -------------------------------- */

static struct umem_memlink *wire;
static struct umem *u1;
static struct umem_port *port0, *port1;

static void tx_done_put(void *opaque, const uint64_t *addrs, unsigned n)
{
	struct pkb_pool *pl = opaque;

	for (unsigned i = 0; i < n; i++)
		pkb_frame_put(pl, addrs[i]);
}

static void setup_wire(void)
{
	struct umem_memlink_config wcfg = {.ring_size = 64, .frame_count = NFRAMES};
	struct umem_config c0, c1;
	struct pkb_pool_config pcfg = {.heads = NHEADS, .areas = NAREAS};

	CU_ASSERT_FATAL(umem_memlink_create(&wire, &wcfg) == 0);
	CU_ASSERT_FATAL(umem_memlink_umem_config(wire, 0, &c0) == 0);
	CU_ASSERT_FATAL(umem_memlink_umem_config(wire, 1, &c1) == 0);
	CU_ASSERT_FATAL(umem_create(&u, &c0) == 0);
	CU_ASSERT_FATAL(umem_create(&u1, &c1) == 0);
	umem_geometry(u, &geo);
	CU_ASSERT_FATAL(umem_memlink_port(&port0, wire, 0, u) == 0);
	CU_ASSERT_FATAL(umem_memlink_port(&port1, wire, 1, u1) == 0);
	CU_ASSERT_FATAL(pkb_pool_create(&pool, u, &pcfg) == 0);
	expected_misuse = 0;
	umem_set_tx_done(u, tx_done_put, pool);
}

static void teardown_wire(void)
{
	struct umem_audit a;

	umem_port_destroy(port1);
	umem_port_destroy(port0);
	teardown();
	CU_ASSERT(umem_audit(u1, &a));
	TK_ASSERT_EQ(a.free, a.total);
	TK_ASSERT_EQ(umem_destroy(u1), 0);
	TK_ASSERT_EQ(umem_memlink_destroy(wire), 0);
}

static void test_frame_in_flight_on_tx_ring(void)
{
	struct pkb *p, *q;
	struct umem_desc d, rx;
	struct test_ubuf t;
	uint64_t frame;

	ubuf_init(&t);
	umem_port_refill(port1);
	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &p) == 0);
	frame = pkb_frame_addr(p);
	TK_ASSERT_EQ(pkb_put(p, 60), 0);
	memset(p->data, 0x42, 60);
	TK_ASSERT_EQ(pkb_set_ubuf(p, &t.ubuf), 0);

	/* The ring holds a reference while the frame is posted. */
	TK_ASSERT_EQ(pkb_frame_get(pool, frame), 0);
	d = (struct umem_desc){.addr = pkb_data_addr(p), .len = pkb_len(p)};
	TK_ASSERT_EQ(umem_port_tx(port0, &d, 1), 1);
	CU_ASSERT(pkb_frame_in_flight(p));
	CU_ASSERT(pkb_data_shared(p));

	/* A copy made meanwhile (what a retransmission does while the frame is
	 * in flight) is a fresh frame and marks the send as copied. */
	CU_ASSERT_FATAL(pkb_copy(p, &q) == 0);
	CU_ASSERT(pkb_frame_addr(q) != frame);
	CU_ASSERT_FALSE(pkb_frame_in_flight(q));
	CU_ASSERT(t.ubuf.flags & PKB_UBUF_F_COPIED);
	pkb_free(q);

	/* TCP is done with it (ACKed) while the NIC still has it. */
	pkb_free(p);
	TK_ASSERT_EQ(t.puts, 0);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_TX);

	/* The completion drops the ring's reference: the data is finished. */
	TK_ASSERT_EQ(umem_port_flush(port0), 0);
	TK_ASSERT_EQ(umem_port_complete(port0, 16), 1);
	TK_ASSERT_EQ(t.puts, 1);
	TK_ASSERT_EQ(frame_state(frame), UMEM_FRAME_FREE);

	/* The far end got it. */
	TK_ASSERT_EQ(umem_port_rx(port1, &rx, 1), 1);
	TK_ASSERT_EQ(rx.len, 60);
	umem_free(u1, rx.addr);
}

static const struct tk_case build_tests[] = {
	TK_TEST(test_build_rx_in_place),
	TK_TEST(test_build_rx_refuses_bad_descriptors),
	TK_TEST(test_pool_create_checks_headroom),
	TK_TEST(test_pool_destroy_busy_while_live),
	TK_TEST(test_alloc_tx_reserves_headroom),
	TK_TEST(test_alloc_tx_exhaustion_and_injection),
	TK_TEST(test_push_pull_put_trim_reserve_bounds),
	TK_TEST_END,
};

static const struct tk_case share_tests[] = {
	TK_TEST(test_clone_shares_frame),
	TK_TEST(test_clone_head_exhaustion_and_injection),
	TK_TEST(test_copy_is_independent),
	TK_TEST(test_copy_expand_makes_headroom),
	TK_TEST(test_unshare_clone_leaves_original_intact),
	TK_TEST(test_unshare_in_place_head_moves),
	TK_TEST(test_unshare_sole_owner_is_free),
	TK_TEST_END,
};

static const struct tk_case release_tests[] = {
	TK_TEST(test_release_fires_once_after_last_clone),
	TK_TEST(test_release_not_inherited_by_copy),
	TK_TEST(test_pool_default_release),
	TK_TEST(test_ubuf_put_once_when_data_finished),
	TK_TEST(test_set_ubuf_rules),
	TK_TEST(test_ubuf_not_carried_by_copy),
	TK_TEST(test_orphan_drops_ubuf_early),
	TK_TEST(test_orphan_with_clones_waits_for_them),
	TK_TEST(test_frame_get_put),
	TK_TEST(test_free_bulk_mixed),
	TK_TEST_END,
};

static const struct tk_case wire_tests[] = {
	TK_TEST(test_frame_in_flight_on_tx_ring),
	TK_TEST_END,
};

static const struct tk_suite build_suite = {"pkb_build", setup, teardown, build_tests};
static const struct tk_suite share_suite = {"pkb_share", setup, teardown, share_tests};
static const struct tk_suite release_suite = {"pkb_release", setup, teardown, release_tests};
static const struct tk_suite wire_suite = {"pkb_wire", setup_wire, teardown_wire, wire_tests};

const struct tk_suite *const tk_suites[] = {
	&build_suite, &share_suite, &release_suite, &wire_suite, NULL,
};
