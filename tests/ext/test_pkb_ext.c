/* pkb extensions (seed 000): inheritance by clones, copy-on-write, in-place
 * adds, deletion that cannot fail, release of the area and of the SA
 * references it holds, and the split/merge rules per type. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/pkb.h>

#include "testkit.h"

#define NFRAMES 32u
#define NHEADS	8u
#define NAREAS	8u

static struct umem *u;
static struct pkb_pool *pool;
static struct umem_geometry geo;

static void setup(void)
{
	struct umem_config ucfg = {.frame_count = NFRAMES, .hugepages = UMEM_HUGEPAGES_OFF};
	struct pkb_pool_config pcfg = {.heads = NHEADS, .areas = NAREAS};

	CU_ASSERT_FATAL(umem_create(&u, &ucfg) == 0);
	umem_geometry(u, &geo);
	CU_ASSERT_FATAL(pkb_pool_create(&pool, u, &pcfg) == 0);
}

static void teardown(void)
{
	struct pkb_pool_stats st;
	struct umem_audit a;

	pkb_pool_get_stats(pool, &st);
	TK_ASSERT_EQ(st.live_pkbs, 0);
	TK_ASSERT_EQ(st.live_heads, 0);
	TK_ASSERT_EQ(st.live_areas, 0);
	TK_ASSERT_EQ(st.live_frames, 0);
	CU_ASSERT(umem_audit(u, &a));
	TK_ASSERT_EQ(a.free, a.total);
	TK_ASSERT_EQ(pkb_pool_destroy(pool), 0);
	TK_ASSERT_EQ(umem_destroy(u), 0);
}

static struct pkb_pool_stats stats(void)
{
	struct pkb_pool_stats st;

	pkb_pool_get_stats(pool, &st);
	return st;
}

static struct pkb *rx_pkb(uint32_t len)
{
	struct umem_desc d = {0};
	struct pkb *p = NULL;
	uint64_t frame;

	CU_ASSERT_FATAL(umem_alloc(u, &frame) == 0);
	d.addr = frame + geo.headroom + UMEM_XDP_PACKET_HEADROOM;
	d.len = len;
	CU_ASSERT_FATAL(pkb_build_rx(pool, &d, &p) == 0);
	if (!p) /* for the compiler: CU_ASSERT_FATAL is not noreturn */
		abort();
	return p;
}

static struct pkb_ext_mptcp *add_mptcp(struct pkb *p)
{
	struct pkb_ext_mptcp *m = NULL;

	CU_ASSERT_FATAL(pkb_ext_add_mptcp(p, &m) == 0);
	return m;
}

static struct pkb_ext_bridge *add_bridge(struct pkb *p)
{
	struct pkb_ext_bridge *b = NULL;

	CU_ASSERT_FATAL(pkb_ext_add_bridge(p, &b) == 0);
	return b;
}

/* A mapping: DSN @dsn, subflow seq @ssn, @len bytes. */
static void set_map(struct pkb *p, uint64_t dsn, uint32_t ssn, uint16_t len, uint8_t extra)
{
	struct pkb_ext_mptcp *m = add_mptcp(p);

	m->flags = PKB_DSS_MAP | PKB_DSS_DSN64 | extra;
	m->data_seq = dsn;
	m->subflow_seq = ssn;
	m->data_len = len;
}

struct test_sa {
	struct pkb_sa sa;
	unsigned destroyed;
};

static void sa_destroy(struct pkb_sa *sa)
{
	((struct test_sa *)sa)->destroyed++;
}

static void sa_init(struct test_sa *t, uint32_t spi)
{
	memset(t, 0, sizeof(*t));
	pkb_sa_init(&t->sa, sa_destroy, NULL);
	t->sa.spi = spi;
	t->sa.proto = 50;
}

/* ---- area basics ------------------------------------------------------- */

static void test_add_allocates_zeroed_area(void)
{
	struct pkb *p = rx_pkb(10);
	struct pkb_ext_mptcp *m;

	CU_ASSERT_PTR_NULL(pkb_ext_mptcp(p));
	CU_ASSERT_FALSE(pkb_ext_exists(p, PKB_EXT_MPTCP));
	m = add_mptcp(p);
	TK_ASSERT_EQ(stats().live_areas, 1);
	TK_ASSERT_EQ(p->ext->refcnt, 1);
	TK_ASSERT_EQ(m->flags, 0);
	TK_ASSERT_EQ(m->data_seq, 0);
	CU_ASSERT_PTR_EQUAL(pkb_ext_mptcp(p), m);
	CU_ASSERT(pkb_ext_exists(p, PKB_EXT_MPTCP));
	CU_ASSERT_PTR_NULL(pkb_ext_bridge(p));
	CU_ASSERT_PTR_NULL(pkb_ext_secpath(p));
	pkb_free(p);
	TK_ASSERT_EQ(stats().live_areas, 0);
}

static void test_clone_inherits(void)
{
	struct pkb *p = rx_pkb(10), *c;
	struct pkb_ext_bridge *b = add_bridge(p);

	b->ingress_port = 7;
	set_map(p, 1000, 1, 100, 0);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	CU_ASSERT_PTR_EQUAL(c->ext, p->ext);
	TK_ASSERT_EQ(c->active, p->active);
	TK_ASSERT_EQ(p->ext->refcnt, 2);
	TK_ASSERT_EQ(pkb_ext_bridge(c)->ingress_port, 7);
	TK_ASSERT_EQ(pkb_ext_mptcp(c)->data_seq, 1000);
	TK_ASSERT_EQ(stats().live_areas, 1);
	pkb_free(p);
	TK_ASSERT_EQ(c->ext->refcnt, 1);
	TK_ASSERT_EQ(pkb_ext_bridge(c)->ingress_port, 7);
	pkb_free(c);
}

static void test_add_on_shared_area_copies(void)
{
	struct pkb *p = rx_pkb(10), *c;
	struct pkb_ext *before;
	struct pkb_ext_mptcp *m;

	set_map(p, 5000, 10, 50, 0);
	add_bridge(p)->vlan_tci = 42;
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	before = p->ext;

	/* Making MPTCP writable on the clone copies the area: contents kept. */
	m = add_mptcp(c);
	CU_ASSERT(c->ext != before);
	CU_ASSERT_PTR_EQUAL(p->ext, before);
	TK_ASSERT_EQ(m->data_seq, 5000);
	TK_ASSERT_EQ(pkb_ext_bridge(c)->vlan_tci, 42);
	m->data_seq = 6000;
	add_bridge(c)->vlan_tci = 43;
	/* The other pkb's view is untouched. */
	TK_ASSERT_EQ(pkb_ext_mptcp(p)->data_seq, 5000);
	TK_ASSERT_EQ(pkb_ext_bridge(p)->vlan_tci, 42);
	TK_ASSERT_EQ(p->ext->refcnt, 1);
	TK_ASSERT_EQ(c->ext->refcnt, 1);
	TK_ASSERT_EQ(stats().area_cow, 1);
	TK_ASSERT_EQ(stats().live_areas, 2);

	/* Adding a new type to a shared area copies too. */
	pkb_free(c);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_ext_del(c, PKB_EXT_MPTCP);
	CU_ASSERT_FATAL(pkb_ext_add_secpath(c, &(struct pkb_ext_secpath *){NULL}) == 0);
	CU_ASSERT(c->ext != p->ext);
	CU_ASSERT_PTR_NULL(pkb_ext_secpath(p));
	CU_ASSERT_PTR_NULL(pkb_ext_mptcp(c));
	TK_ASSERT_EQ(pkb_ext_mptcp(p)->data_seq, 5000);
	TK_ASSERT_EQ(stats().area_cow, 2);
	pkb_free(c);
	pkb_free(p);
}

static void test_add_on_sole_owner_in_place(void)
{
	struct pkb *p = rx_pkb(10);
	struct pkb_ext *area;
	struct pkb_ext_mptcp *m;

	add_bridge(p)->ingress_port = 3;
	area = p->ext;
	m = add_mptcp(p);
	CU_ASSERT_PTR_EQUAL(p->ext, area);
	CU_ASSERT_PTR_EQUAL(m, &area->mptcp);
	m->data_ack = 77;
	/* Already carried: the same slot, contents kept. */
	CU_ASSERT_PTR_EQUAL(add_mptcp(p), m);
	TK_ASSERT_EQ(m->data_ack, 77);
	TK_ASSERT_EQ(pkb_ext_bridge(p)->ingress_port, 3);
	TK_ASSERT_EQ(stats().area_cow, 0);
	TK_ASSERT_EQ(stats().live_areas, 1);
	/* In place even with every allocation failing. */
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_ALL, 0, 100);
	pkb_ext_del(p, PKB_EXT_MPTCP);
	m = add_mptcp(p);
	TK_ASSERT_EQ(m->data_ack, 0);
	pkb_pool_inject_alloc_failure(pool, 0, 0, 0);
	pkb_free(p);
}

static void test_add_failure_leaves_pkb_unchanged(void)
{
	struct pkb *p = rx_pkb(10), *c;
	struct pkb_ext_mptcp *m = (struct pkb_ext_mptcp *)1;

	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_AREA, 0, 1);
	TK_ASSERT_EQ(pkb_ext_add_mptcp(p, &m), -ENOMEM);
	TK_ASSERT_EQ(p->active, 0);
	TK_ASSERT_EQ(stats().area_alloc_fail, 1);

	set_map(p, 1, 1, 1, 0);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_AREA, 0, 1);
	TK_ASSERT_EQ(pkb_ext_add_bridge(c, &(struct pkb_ext_bridge *){NULL}), -ENOMEM);
	CU_ASSERT_PTR_EQUAL(c->ext, p->ext);
	TK_ASSERT_EQ(c->active, 1u << PKB_EXT_MPTCP);
	TK_ASSERT_EQ(p->ext->refcnt, 2);
	pkb_free(c);
	pkb_free(p);
}

static void test_area_pool_exhaustion(void)
{
	struct pkb *ps[NAREAS + 1];

	for (unsigned i = 0; i <= NAREAS; i++)
		ps[i] = rx_pkb(10);
	for (unsigned i = 0; i < NAREAS; i++)
		add_mptcp(ps[i]);
	TK_ASSERT_EQ(pkb_ext_add_mptcp(ps[NAREAS], &(struct pkb_ext_mptcp *){NULL}), -ENOMEM);
	TK_ASSERT_EQ(stats().live_areas, NAREAS);
	pkb_free_bulk(ps, NAREAS + 1);
}

/* ---- delete ------------------------------------------------------------ */

static void test_del_works_under_alloc_failure(void)
{
	struct pkb *p = rx_pkb(10), *c;

	set_map(p, 9, 9, 9, 0);
	add_bridge(p);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_ALL, 0, 1000);

	/* Shared area, no memory: deleting only clears the clone's bit. */
	pkb_ext_del(c, PKB_EXT_MPTCP);
	CU_ASSERT_PTR_NULL(pkb_ext_mptcp(c));
	CU_ASSERT_PTR_NOT_NULL(pkb_ext_bridge(c));
	CU_ASSERT_PTR_EQUAL(c->ext, p->ext);
	TK_ASSERT_EQ(pkb_ext_mptcp(p)->data_seq, 9);
	/* Deleting what is not there is fine too. */
	pkb_ext_del(c, PKB_EXT_MPTCP);
	pkb_ext_del(c, PKB_EXT_SECPATH);
	/* The last bit drops the clone's area reference. */
	pkb_ext_del(c, PKB_EXT_BRIDGE);
	TK_ASSERT_EQ(c->active, 0);
	TK_ASSERT_EQ(p->ext->refcnt, 1);
	TK_ASSERT_EQ(stats().live_areas, 1);
	TK_ASSERT_EQ(pkb_ext_add_mptcp(c, &(struct pkb_ext_mptcp *){NULL}), -ENOMEM);
	pkb_pool_inject_alloc_failure(pool, 0, 0, 0);
	pkb_free(c);
	pkb_free(p);
}

static void test_del_last_releases_area(void)
{
	struct pkb *p = rx_pkb(10);

	add_mptcp(p);
	add_bridge(p);
	pkb_ext_del(p, PKB_EXT_MPTCP);
	TK_ASSERT_EQ(stats().live_areas, 1);
	pkb_ext_del(p, PKB_EXT_BRIDGE);
	TK_ASSERT_EQ(stats().live_areas, 0);
	TK_ASSERT_EQ(p->active, 0);
	add_bridge(p);
	pkb_ext_reset(p);
	TK_ASSERT_EQ(stats().live_areas, 0);
	pkb_ext_reset(p);
	pkb_free(p);
}

static void test_free_releases_area_and_frame(void)
{
	struct pkb *p = rx_pkb(10), *c;
	uint64_t frame = pkb_frame_addr(p);

	add_mptcp(p);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_free(p);
	TK_ASSERT_EQ(stats().live_areas, 1);
	TK_ASSERT_EQ(umem_frame_state(u, frame), UMEM_FRAME_HELD);
	pkb_free(c);
	TK_ASSERT_EQ(stats().live_areas, 0);
	TK_ASSERT_EQ(umem_frame_state(u, frame), UMEM_FRAME_FREE);
}

/* ---- secpath and SA references ---------------------------------------- */

static void test_sa_refs_taken_on_copy_dropped_on_free(void)
{
	struct test_sa a, b;
	struct pkb *p = rx_pkb(10), *c, *q;

	sa_init(&a, 0x100);
	sa_init(&b, 0x200);
	TK_ASSERT_EQ(pkb_ext_secpath_append(p, &a.sa), 0);
	TK_ASSERT_EQ(pkb_ext_secpath_append(p, &b.sa), 0);
	TK_ASSERT_EQ(a.sa.refcnt, 2);
	TK_ASSERT_EQ(pkb_ext_secpath(p)->len, 2);
	CU_ASSERT_PTR_EQUAL(pkb_ext_secpath(p)->sa[0], &a.sa);
	CU_ASSERT_PTR_EQUAL(pkb_ext_secpath(p)->sa[1], &b.sa);

	/* Sharing the area (clone, copy) takes no SA reference... */
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	CU_ASSERT_FATAL(pkb_copy(p, &q) == 0);
	TK_ASSERT_EQ(a.sa.refcnt, 2);
	/* ...copying the area re-takes them. */
	add_bridge(c);
	TK_ASSERT_EQ(a.sa.refcnt, 3);
	TK_ASSERT_EQ(b.sa.refcnt, 3);
	add_mptcp(q);
	TK_ASSERT_EQ(a.sa.refcnt, 4);
	TK_ASSERT_EQ(stats().area_cow, 2);

	pkb_free(c);
	TK_ASSERT_EQ(a.sa.refcnt, 3);
	pkb_free(p);
	TK_ASSERT_EQ(a.sa.refcnt, 2);
	pkb_free(q);
	TK_ASSERT_EQ(a.sa.refcnt, 1);
	TK_ASSERT_EQ(b.sa.refcnt, 1);
	TK_ASSERT_EQ(a.destroyed, 0);
	pkb_sa_put(&a.sa);
	pkb_sa_put(&b.sa);
	TK_ASSERT_EQ(a.destroyed, 1);
	TK_ASSERT_EQ(b.destroyed, 1);
	pkb_sa_put(NULL);
}

static void test_secpath_del_releases_sa(void)
{
	struct test_sa a;
	struct pkb *p = rx_pkb(10), *c;

	sa_init(&a, 1);
	add_bridge(p);
	TK_ASSERT_EQ(pkb_ext_secpath_append(p, &a.sa), 0);
	/* Sole owner: the reference goes at once. */
	pkb_ext_del(p, PKB_EXT_SECPATH);
	TK_ASSERT_EQ(a.sa.refcnt, 1);

	/* Shared: the area keeps it until the area goes. */
	TK_ASSERT_EQ(pkb_ext_secpath_append(p, &a.sa), 0);
	CU_ASSERT_FATAL(pkb_clone(p, &c) == 0);
	pkb_ext_del(c, PKB_EXT_SECPATH);
	TK_ASSERT_EQ(a.sa.refcnt, 2);
	CU_ASSERT_PTR_NOT_NULL(pkb_ext_secpath(p));
	pkb_free(p);
	/* The clone is alone now; re-adding must not resurrect the old SAs
	 * and must release them. */
	TK_ASSERT_EQ(a.sa.refcnt, 2);
	CU_ASSERT_FATAL(pkb_ext_add_secpath(c, &(struct pkb_ext_secpath *){NULL}) == 0);
	TK_ASSERT_EQ(pkb_ext_secpath(c)->len, 0);
	TK_ASSERT_EQ(a.sa.refcnt, 1);
	pkb_free(c);
	pkb_sa_put(&a.sa);
	TK_ASSERT_EQ(a.destroyed, 1);
}

static void test_secpath_bounded(void)
{
	struct test_sa a;
	struct pkb *p = rx_pkb(10);

	sa_init(&a, 1);
	for (unsigned i = 0; i < PKB_SECPATH_MAX; i++)
		TK_ASSERT_EQ(pkb_ext_secpath_append(p, &a.sa), 0);
	TK_ASSERT_EQ(pkb_ext_secpath_append(p, &a.sa), -ENOSPC);
	TK_ASSERT_EQ(a.sa.refcnt, PKB_SECPATH_MAX + 1);
	pkb_free(p);
	TK_ASSERT_EQ(a.sa.refcnt, 1);
	pkb_sa_put(&a.sa);
}

static void test_sa_destroy_at_zero_from_area(void)
{
	struct test_sa a;
	struct pkb *p = rx_pkb(10);

	sa_init(&a, 1);
	TK_ASSERT_EQ(pkb_ext_secpath_append(p, &a.sa), 0);
	/* The SA table forgets it while a packet still holds it. */
	pkb_sa_put(&a.sa);
	TK_ASSERT_EQ(a.destroyed, 0);
	pkb_free(p);
	TK_ASSERT_EQ(a.destroyed, 1);
}

/* ---- split -------------------------------------------------------------- */

static void test_split_carries_every_type(void)
{
	struct test_sa a;
	struct pkb *orig = rx_pkb(100), *tail;
	struct pkb_ext_bridge *b;

	sa_init(&a, 1);
	set_map(orig, 100, 200, 100, PKB_DSS_DATA_FIN | PKB_DSS_DATA_ACK);
	b = add_bridge(orig);
	b->ingress_port = 4;
	b->flags = PKB_BRIDGE_F_VLAN;
	b->vlan_tci = 5;
	TK_ASSERT_EQ(pkb_ext_secpath_append(orig, &a.sa), 0);

	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &tail) == 0);
	add_bridge(tail)->ingress_port = 99; /* whatever tail had goes */
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_ALL, 0, 100);
	pkb_ext_on_split(orig, tail);
	pkb_pool_inject_alloc_failure(pool, 0, 0, 0);
	TK_ASSERT_EQ(stats().live_areas, 1);

	/* MPTCP: the same mapping, DATA_FIN and DATA_ACK, on both halves. */
	TK_ASSERT_EQ(pkb_ext_mptcp(tail)->data_seq, 100);
	TK_ASSERT_EQ(pkb_ext_mptcp(tail)->data_len, 100);
	TK_ASSERT_EQ(pkb_ext_mptcp(tail)->flags, pkb_ext_mptcp(orig)->flags);
	CU_ASSERT(pkb_ext_mptcp(orig)->flags & PKB_DSS_DATA_FIN);
	/* BRIDGE and SECPATH: the same facts. */
	TK_ASSERT_EQ(pkb_ext_bridge(tail)->ingress_port, 4);
	TK_ASSERT_EQ(pkb_ext_bridge(tail)->vlan_tci, 5);
	CU_ASSERT_PTR_EQUAL(pkb_ext_secpath(tail)->sa[0], &a.sa);
	TK_ASSERT_EQ(a.sa.refcnt, 2);
	CU_ASSERT(pkb_ext_can_merge(orig, tail));

	/* Self-split is harmless; splitting from a bare pkb clears. */
	pkb_ext_on_split(orig, orig);
	TK_ASSERT_EQ(orig->active, tail->active);
	pkb_free(orig);
	orig = rx_pkb(10);
	pkb_ext_on_split(orig, tail);
	TK_ASSERT_EQ(tail->active, 0);
	TK_ASSERT_EQ(a.sa.refcnt, 1);
	pkb_free(orig);
	pkb_free(tail);
	pkb_sa_put(&a.sa);
}

/* ---- merge -------------------------------------------------------------- */

static void test_merge_without_extensions(void)
{
	struct pkb *a = rx_pkb(10), *b = rx_pkb(10);

	CU_ASSERT(pkb_ext_can_merge(a, b));
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	TK_ASSERT_EQ(a->active, 0);
	pkb_free(a);
	pkb_free(b);
}

static void test_merge_mptcp_same_mapping(void)
{
	struct pkb *a = rx_pkb(10), *b = rx_pkb(10);
	struct pkb_ext *area;

	set_map(a, 1000, 1, 3000, 0);
	set_map(b, 1000, 1, 3000, PKB_DSS_DATA_ACK);
	add_mptcp(b)->data_ack = 555;
	area = a->ext;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	/* Same mapping; the newer DATA_ACK comes along. */
	CU_ASSERT_PTR_EQUAL(a->ext, area);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 3000);
	CU_ASSERT(pkb_ext_mptcp(a)->flags & PKB_DSS_DATA_ACK);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_ack, 555);
	/* b keeps its own. */
	TK_ASSERT_EQ(pkb_ext_mptcp(b)->data_ack, 555);
	pkb_free(a);
	pkb_free(b);
}

static void test_merge_mptcp_contiguous_mappings(void)
{
	struct pkb *a = rx_pkb(10), *b = rx_pkb(10), *c;

	set_map(a, 1000, 1, 100, 0);
	set_map(b, 1100, 101, 50, PKB_DSS_DATA_FIN);
	CU_ASSERT_FATAL(pkb_clone(a, &c) == 0);
	CU_ASSERT(pkb_ext_can_merge(a, b));

	/* a's area is shared with c: the rewrite needs a copy; none to be had. */
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_AREA, 0, 1);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -ENOMEM);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 100);
	CU_ASSERT_PTR_EQUAL(a->ext, c->ext);

	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_seq, 1000);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->subflow_seq, 1);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 150);
	CU_ASSERT(pkb_ext_mptcp(a)->flags & PKB_DSS_DATA_FIN);
	/* The clone's view did not change. */
	TK_ASSERT_EQ(pkb_ext_mptcp(c)->data_len, 100);
	CU_ASSERT_FALSE(pkb_ext_mptcp(c)->flags & PKB_DSS_DATA_FIN);

	/* Nothing continues a mapping that ended with DATA_FIN. */
	set_map(b, 1150, 151, 10, 0);
	CU_ASSERT_FALSE(pkb_ext_can_merge(a, b));
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	pkb_free(a);
	pkb_free(b);
	pkb_free(c);
}

/* Data appended to a queued segment, its mapping without a pkb of its own
 * (a sender's write): the same rule as a merge. */
static void test_append_mptcp_mapping(void)
{
	struct pkb *a = rx_pkb(10), *c;
	struct pkb_ext_mptcp next = {.flags = PKB_DSS_MAP | PKB_DSS_DSN64,
				     .data_seq = 5000,
				     .subflow_seq = 1,
				     .data_len = 100};

	/* No mapping yet: it takes the appended one. */
	TK_ASSERT_EQ(pkb_ext_mptcp_append(a, &next), 0);
	CU_ASSERT_FATAL(pkb_ext_mptcp(a) != NULL);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 100);
	/* A continuation grows it, on a copy when the area is shared. */
	CU_ASSERT_FATAL(pkb_clone(a, &c) == 0);
	next.data_seq = 5100;
	next.subflow_seq = 101;
	next.data_len = 40;
	TK_ASSERT_EQ(pkb_ext_mptcp_append(a, &next), 0);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_seq, 5000);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->subflow_seq, 1);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 140);
	TK_ASSERT_EQ(pkb_ext_mptcp(c)->data_len, 100);
	/* Not contiguous at the data level (what lies between went on another
	 * subflow): refused, nothing changed. */
	next.data_seq = 9000;
	next.subflow_seq = 141;
	TK_ASSERT_EQ(pkb_ext_mptcp_append(a, &next), -EINVAL);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 140);
	/* Past 64 KiB in one mapping: refused. */
	next.data_seq = 5140;
	next.data_len = 0xffff - 139;
	TK_ASSERT_EQ(pkb_ext_mptcp_append(a, &next), -EINVAL);
	/* No area for the first mapping: -ENOMEM, still none. */
	pkb_free(c);
	pkb_ext_del(a, PKB_EXT_MPTCP);
	pkb_pool_inject_alloc_failure(pool, PKB_ALLOC_AREA, 0, 1);
	next.data_len = 10;
	TK_ASSERT_EQ(pkb_ext_mptcp_append(a, &next), -ENOMEM);
	CU_ASSERT(pkb_ext_mptcp(a) == NULL);
	pkb_free(a);
}

static void test_merge_mptcp_refusals(void)
{
	struct pkb *a = rx_pkb(10), *b = rx_pkb(10);
	struct pkb_ext_mptcp *m;

	/* One side without a mapping. */
	set_map(a, 1000, 1, 100, 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	TK_ASSERT_EQ(pkb_ext_on_merge(b, a), -EINVAL);
	/* A gap in DSN, or in subflow seq. */
	set_map(b, 1101, 101, 10, 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	set_map(b, 1100, 102, 10, 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	/* A checksum covers exactly its own mapping. */
	set_map(b, 1100, 101, 10, 0);
	CU_ASSERT(pkb_ext_can_merge(a, b));
	m = add_mptcp(b);
	m->has_csum = true;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	/* Different DSN widths. */
	m->has_csum = false;
	m->flags &= (uint8_t)~PKB_DSS_DSN64;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	/* Longer than a data-level length can say. */
	set_map(a, 0, 0, 0xff00, 0);
	set_map(b, 0xff00, 0xff00, 0x100, 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	/* 32-bit DSNs continue across the wrap. */
	set_map(a, 0xfffffff0u, 5, 0x10, 0);
	add_mptcp(a)->flags &= (uint8_t)~PKB_DSS_DSN64;
	set_map(b, 0, 0x15, 0x10, 0);
	add_mptcp(b)->flags &= (uint8_t)~PKB_DSS_DSN64;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_len, 0x20);
	TK_ASSERT_EQ(pkb_ext_mptcp(a)->data_seq, 0xfffffff0u);
	pkb_free(a);
	pkb_free(b);
}

static void test_merge_bridge_rule(void)
{
	struct pkb *a = rx_pkb(10), *b = rx_pkb(10);
	struct pkb_ext_bridge *ba = add_bridge(a), *bb;

	ba->ingress_port = 1;
	memcpy(ba->src_mac, "\x02\x00\x00\x00\x00\x01", 6);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	bb = add_bridge(b);
	*bb = *ba;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	bb->src_mac[5] = 2;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	bb->src_mac[5] = 1;
	bb->flags = PKB_BRIDGE_F_VLAN;
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	bb->flags = 0;
	bb->ingress_port = 2;
	CU_ASSERT_FALSE(pkb_ext_can_merge(a, b));
	pkb_free(a);
	pkb_free(b);
}

static void test_merge_secpath_rule(void)
{
	struct test_sa s1, s2;
	struct pkb *a = rx_pkb(10), *b = rx_pkb(10);

	sa_init(&s1, 1);
	sa_init(&s2, 2);
	TK_ASSERT_EQ(pkb_ext_secpath_append(a, &s1.sa), 0);
	/* Protected with unprotected: refused. */
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	TK_ASSERT_EQ(pkb_ext_on_merge(b, a), -EINVAL);
	TK_ASSERT_EQ(pkb_ext_secpath_append(b, &s1.sa), 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	TK_ASSERT_EQ(s1.sa.refcnt, 3);
	/* Different SA chains: refused. */
	TK_ASSERT_EQ(pkb_ext_secpath_append(b, &s2.sa), 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), -EINVAL);
	TK_ASSERT_EQ(pkb_ext_secpath_append(a, &s2.sa), 0);
	TK_ASSERT_EQ(pkb_ext_on_merge(a, b), 0);
	pkb_free(a);
	pkb_free(b);
	TK_ASSERT_EQ(s1.sa.refcnt, 1);
	TK_ASSERT_EQ(s2.sa.refcnt, 1);
	pkb_sa_put(&s1.sa);
	pkb_sa_put(&s2.sa);
}

static const struct tk_case area_tests[] = {
	TK_TEST(test_add_allocates_zeroed_area),	TK_TEST(test_clone_inherits),
	TK_TEST(test_add_on_shared_area_copies),	TK_TEST(test_add_on_sole_owner_in_place),
	TK_TEST(test_add_failure_leaves_pkb_unchanged), TK_TEST(test_area_pool_exhaustion),
	TK_TEST(test_del_works_under_alloc_failure),	TK_TEST(test_del_last_releases_area),
	TK_TEST(test_free_releases_area_and_frame),	TK_TEST_END,
};

static const struct tk_case secpath_tests[] = {
	TK_TEST(test_sa_refs_taken_on_copy_dropped_on_free),
	TK_TEST(test_secpath_del_releases_sa),
	TK_TEST(test_secpath_bounded),
	TK_TEST(test_sa_destroy_at_zero_from_area),
	TK_TEST_END,
};

static const struct tk_case rule_tests[] = {
	TK_TEST(test_split_carries_every_type),
	TK_TEST(test_merge_without_extensions),
	TK_TEST(test_merge_mptcp_same_mapping),
	TK_TEST(test_merge_mptcp_contiguous_mappings),
	TK_TEST(test_merge_mptcp_refusals),
	TK_TEST(test_append_mptcp_mapping),
	TK_TEST(test_merge_bridge_rule),
	TK_TEST(test_merge_secpath_rule),
	TK_TEST_END,
};

static const struct tk_suite area_suite = {"pkb_ext_area", setup, teardown, area_tests};
static const struct tk_suite secpath_suite = {"pkb_ext_secpath", setup, teardown, secpath_tests};
static const struct tk_suite rule_suite = {"pkb_ext_rules", setup, teardown, rule_tests};

const struct tk_suite *const tk_suites[] = {
	&area_suite,
	&secpath_suite,
	&rule_suite,
	NULL,
};
