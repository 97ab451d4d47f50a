/* zerocopy/: the completion contract, driven by scripted TCP events (a pkb
 * held and freed as TCP would) and ring events (a one-process memlink wire:
 * flush moves frames, umem_port_complete() retires them). Every test counts
 * callbacks per id, and the teardown proves each id completed exactly once
 * and that no frame, pkb or send leaked. */
#include "testkit.h"

#include <skiff/pkb.h>
#include <skiff/umem.h>
#include <skiff/zc.h>
#include <string.h>

#define FRAMES	  256
#define MAX_IDS	  512
#define HDR_ROOM  (14 + 20 + 32) /* Ethernet + IPv4 + TCP with timestamps */
#define MAX_CALLS 64

static struct umem_memlink *wire;
static struct umem *u0, *u1;
static struct umem_port *p0, *p1;
static struct pkb_pool *pool;
static struct zc_engine *eng;
static struct zc_sock *zs;
static struct zc_engine_config eng_cfg;

static struct {
	uint32_t lo, hi;
	unsigned flags;
} calls[MAX_CALLS];
static unsigned ncalls;
static unsigned completed[MAX_IDS]; /* callbacks per id */
static uint32_t ids_issued;	    /* ids committed by the test */
static bool destroy_in_callback;

static void on_complete(void *opaque, uint32_t lo, uint32_t hi, unsigned flags)
{
	(void)opaque;
	if (ncalls < MAX_CALLS)
		calls[ncalls] = (typeof(calls[0])){lo, hi, flags};
	ncalls++;
	for (uint32_t id = lo; id <= hi && id < MAX_IDS; id++)
		completed[id]++;
	if (destroy_in_callback) {
		zc_sock_destroy(zs);
		zs = NULL;
	}
}

static void open_fixture(void)
{
	struct umem_memlink_config wc = {.ring_size = 64, .frame_count = FRAMES};
	struct umem_config c0, c1;

	CU_ASSERT_FATAL(umem_memlink_create(&wire, &wc) == 0);
	CU_ASSERT_FATAL(umem_memlink_umem_config(wire, 0, &c0) == 0);
	CU_ASSERT_FATAL(umem_memlink_umem_config(wire, 1, &c1) == 0);
	CU_ASSERT_FATAL(umem_create(&u0, &c0) == 0);
	CU_ASSERT_FATAL(umem_create(&u1, &c1) == 0);
	CU_ASSERT_FATAL(umem_memlink_port(&p0, wire, 0, u0) == 0);
	CU_ASSERT_FATAL(umem_memlink_port(&p1, wire, 1, u1) == 0);
	umem_port_refill(p1);
	CU_ASSERT_FATAL(pkb_pool_create(&pool, u0, NULL) == 0);
	CU_ASSERT_FATAL(zc_engine_create(&eng, pool, &eng_cfg) == 0);
	zc_engine_set_port(eng, p0);
	CU_ASSERT_FATAL(zc_sock_create(&zs, eng, on_complete, NULL) == 0);
}

static void setup(void)
{
	memset(&eng_cfg, 0, sizeof(eng_cfg));
	memset(calls, 0, sizeof(calls));
	memset(completed, 0, sizeof(completed));
	ncalls = 0;
	ids_issued = 0;
	destroy_in_callback = false;
	open_fixture();
}

/* The far end takes whatever reached it and gives the frames back. */
static void drain_far(void)
{
	struct umem_desc d[64];
	unsigned n;

	while ((n = umem_port_rx(p1, d, 64)) > 0)
		for (unsigned i = 0; i < n; i++)
			umem_free(u1, d[i].addr);
	umem_port_refill(p1);
}

static void teardown(void)
{
	struct umem_audit a;

	umem_port_flush(p0);
	drain_far();
	umem_port_complete(p0, 1024);
	zc_engine_deliver(eng);
	/* Exactly once per committed id, never for anything else. */
	for (uint32_t id = 0; id < MAX_IDS; id++)
		TK_ASSERT_EQ(completed[id], id < ids_issued ? 1 : 0);
	zc_sock_destroy(zs);
	zc_engine_deliver(eng);
	CU_ASSERT(zc_engine_destroy(eng) == 0);
	CU_ASSERT(pkb_pool_destroy(pool) == 0);
	umem_port_destroy(p0);
	umem_port_destroy(p1);
	CU_ASSERT(umem_audit(u0, &a));
	TK_ASSERT_EQ(a.free, a.total);
	CU_ASSERT(umem_audit(u1, &a));
	TK_ASSERT_EQ(a.free, a.total);
	CU_ASSERT(umem_destroy(u0) == 0);
	CU_ASSERT(umem_destroy(u1) == 0);
	CU_ASSERT(umem_memlink_destroy(wire) == 0);
}

/* A zero-copy send of @p len bytes as the application makes it: the
 * returned pkb is the reference TCP keeps until the data is ACKed. */
static struct pkb *zc_send(uint32_t len, uint8_t fill)
{
	struct zc_send *s;
	struct pkb *pkb;

	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &pkb) == 0);
	CU_ASSERT_FATAL(pkb_put(pkb, len) == 0);
	memset(pkb->data, fill, len);
	CU_ASSERT_FATAL(zc_send_begin(zs, &s) == 0);
	TK_ASSERT_EQ(zc_send_id(s), ids_issued);
	CU_ASSERT_FATAL(zc_send_attach(s, pkb) == 0);
	zc_send_commit(s);
	ids_issued++;
	return pkb;
}

/* One transmission of TCP's pkb: headers in front (in place or in a copy),
 * on the TX ring, through the wire. */
static struct pkb *transmit(struct pkb *pkb)
{
	static uint8_t hdr_byte = 0xe0;
	struct pkb *tx;

	CU_ASSERT_FATAL(zc_tx_prepare(eng, pkb, HDR_ROOM, pkb_len(pkb), &tx) == 0);
	CU_ASSERT_FATAL(pkb_push(tx, HDR_ROOM) == 0);
	/* Different headers each time, as TCP's would be (sequence, ACK,
	 * timestamps), so an in-place rewrite would show. */
	memset(tx->data, hdr_byte++, HDR_ROOM);
	CU_ASSERT_FATAL(zc_tx_post(eng, tx) == 0);
	CU_ASSERT(pkb_pull(tx, HDR_ROOM) == 0);
	if (tx != pkb)
		pkb_free(tx); /* the ring holds the copy's frame */
	return tx;
}

static void wire_and_far_end(void)
{
	CU_ASSERT(umem_port_flush(p0) == 0);
	drain_far();
}

static unsigned retire(void)
{
	return umem_port_complete(p0, 1024);
}

static void test_ack_before_completion(void)
{
	struct pkb *pkb = zc_send(1000, 0x11);

	transmit(pkb);
	wire_and_far_end();
	pkb_free(pkb); /* ACKed */
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0);
	TK_ASSERT_EQ(completed[0], 0);
	TK_ASSERT_EQ(retire(), 1);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].lo, 0);
	TK_ASSERT_EQ(calls[0].hi, 0);
	TK_ASSERT_EQ(calls[0].flags, 0);
}

static void test_completion_before_ack(void)
{
	struct pkb *pkb = zc_send(1000, 0x22);

	transmit(pkb);
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 1);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0);
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].flags, 0);
}

static void test_retransmit_while_in_flight_copies(void)
{
	struct pkb *pkb = zc_send(1200, 0x33), *tx;
	uint8_t before[2048];
	uint8_t *frame = pkb->head;
	size_t span = (size_t)(pkb->tail - pkb->head);
	struct zc_engine_stats st;

	CU_ASSERT(transmit(pkb) == pkb); /* first transmission: in place */
	CU_ASSERT(pkb_frame_in_flight(pkb));
	memcpy(before, frame, span);
	tx = transmit(pkb); /* retransmission before the completion */
	CU_ASSERT(tx != pkb);
	/* The frame on the ring was not touched, headers included. */
	CU_ASSERT(memcmp(before, frame, span) == 0);
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.tx_inflight_copies, 1);
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 2);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0); /* not ACKed yet */
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	/* The data went out of a copy once: the caller hears it. */
	CU_ASSERT(calls[0].flags & ZC_F_COPIED);
}

static void test_retransmit_after_completion_in_place(void)
{
	struct pkb *pkb = zc_send(1200, 0x44);
	struct zc_engine_stats st;

	transmit(pkb);
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 1);
	CU_ASSERT(transmit(pkb) == pkb); /* frame is back: no copy needed */
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 1);
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.tx_inflight_copies, 0);
	TK_ASSERT_EQ(st.tx_copied_bytes, 0);
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].flags, 0);
}

static void test_clone_held_elsewhere_delays(void)
{
	struct pkb *pkb = zc_send(500, 0x55), *clone;

	CU_ASSERT_FATAL(pkb_clone(pkb, &clone) == 0); /* e.g. a capture tap */
	transmit(pkb);
	wire_and_far_end();
	retire();
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0);
	TK_ASSERT_EQ(completed[0], 0);
	pkb_free(clone);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
}

static void test_failed_submission_never_calls_back(void)
{
	struct zc_send *s;
	struct pkb *pkb, *ok;
	struct zc_engine_stats st;

	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &pkb) == 0);
	pkb_put(pkb, 100);
	CU_ASSERT_FATAL(zc_send_begin(zs, &s) == 0);
	TK_ASSERT_EQ(zc_send_id(s), 0);
	CU_ASSERT(zc_send_attach(s, pkb) == 0);
	zc_send_cancel(s); /* e.g. the socket's buffer was full */
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0);
	TK_ASSERT_EQ(zc_sock_outstanding(zs), 0);
	/* The id was not used up: the next send gets it. */
	ok = zc_send(100, 0x66);
	transmit(ok);
	wire_and_far_end();
	retire();
	pkb_free(ok);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].lo, 0);
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.sends_cancelled, 1);
	TK_ASSERT_EQ(st.sends, 1);
}

static void test_out_of_order_completions_in_order_ranges(void)
{
	struct pkb *a = zc_send(100, 1), *b = zc_send(100, 2), *c = zc_send(100, 3);

	pkb_free(c);
	pkb_free(b);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0); /* id 0 still pending */
	TK_ASSERT_EQ(completed[1] + completed[2], 0);
	pkb_free(a);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].lo, 0);
	TK_ASSERT_EQ(calls[0].hi, 2);
}

static void test_coalescing_many_small_ids(void)
{
	struct pkb *p[100];
	struct zc_send *s;

	for (int i = 0; i < 100; i++)
		p[i] = zc_send(64, (uint8_t)i);
	/* One more whose data the stack copied instead (mark before commit). */
	CU_ASSERT_FATAL(zc_send_begin(zs, &s) == 0);
	zc_send_mark_copied(s);
	zc_send_commit(s);
	ids_issued++;
	for (int i = 0; i < 100; i++)
		p[i] = (pkb_free(p[i]), NULL);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 2);
	TK_ASSERT_EQ(calls[0].lo, 0);
	TK_ASSERT_EQ(calls[0].hi, 99);
	TK_ASSERT_EQ(calls[0].flags, 0);
	TK_ASSERT_EQ(calls[1].lo, 100);
	TK_ASSERT_EQ(calls[1].hi, 100);
	TK_ASSERT_EQ(calls[1].flags, ZC_F_COPIED);
}

static void test_abort(void)
{
	struct pkb *a = zc_send(800, 7), *b = zc_send(800, 8);

	transmit(a);
	transmit(b);
	zc_sock_abort(zs); /* RST: TCP drops what it held */
	pkb_free(a);
	pkb_free(b);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0); /* frames still on the ring */
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 2);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].lo, 0);
	TK_ASSERT_EQ(calls[0].hi, 1);
	TK_ASSERT_EQ(calls[0].flags, ZC_F_ABORTED);
}

/* Only what the peer never acknowledged is ABORTED: sends 0 and 1 were
 * ACKed (TCP let go of them) but their frames are still on the ring when
 * the connection dies; send 2 was not. 0-1 complete plainly once the
 * frames come back, 2 ABORTED. A mark past the ids handed out is ignored,
 * and a send committed after the abort is ABORTED too. */
static void test_abort_spares_acknowledged(void)
{
	struct pkb *a = zc_send(800, 1), *b = zc_send(800, 2), *c = zc_send(800, 3), *d;

	transmit(a);
	transmit(b);
	transmit(c);
	zc_sock_acked(zs, 99); /* never handed out: ignored */
	zc_sock_acked(zs, 2);  /* the ACK passed the end of send 1 */
	zc_sock_acked(zs, 1);  /* an older ACK moves nothing back */
	pkb_free(a);
	pkb_free(b);
	zc_sock_abort(zs); /* RST while 0-1 wait for the ring */
	pkb_free(c);
	d = zc_send(100, 4);
	pkb_free(d);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0); /* frames still on the ring */
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 3);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 2);
	TK_ASSERT_EQ(calls[0].lo, 0);
	TK_ASSERT_EQ(calls[0].hi, 1);
	TK_ASSERT_EQ(calls[0].flags, 0);
	TK_ASSERT_EQ(calls[1].lo, 2);
	TK_ASSERT_EQ(calls[1].hi, 3);
	TK_ASSERT_EQ(calls[1].flags, ZC_F_ABORTED);
}

static void test_orphan_releases_early(void)
{
	struct pkb *pkb = zc_send(300, 0x77);
	uint8_t want[300];

	memset(want, 0x77, sizeof(want));
	transmit(pkb);
	wire_and_far_end();
	retire();
	/* A holder that would keep the data indefinitely (out-of-order queue). */
	CU_ASSERT_FATAL(pkb_orphan(&pkb) == 0);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	CU_ASSERT(calls[0].flags & ZC_F_COPIED);
	TK_ASSERT_EQ(pkb_len(pkb), 300);
	CU_ASSERT(memcmp(pkb->data, want, 300) == 0);
	CU_ASSERT(pkb_ubuf(pkb) == NULL);
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0);
}

static void test_destroy_socket_inside_callback(void)
{
	struct pkb *a = zc_send(100, 1), *b = zc_send(100, 2);

	destroy_in_callback = true;
	pkb_free(a);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	CU_ASSERT(zs == NULL);
	/* The destroyed socket's other send still completes, once. */
	pkb_free(b);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[1].lo, 1);
	CU_ASSERT_FATAL(zc_sock_create(&zs, eng, on_complete, NULL) == 0);
	destroy_in_callback = false;
}

/* The far end sends raw frames of the given sizes to the engine's port. */
static unsigned far_send(const uint32_t *lens, unsigned n, struct umem_desc *got)
{
	struct umem_geometry g;
	struct umem_desc d[16];
	unsigned rx = 0;

	umem_geometry(u1, &g);
	umem_port_refill(p0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a;

		CU_ASSERT_FATAL(umem_alloc(u1, &a) == 0);
		d[i] = (struct umem_desc){.addr = a + g.headroom, .len = lens[i]};
		memset(umem_geo_ptr(&g, d[i].addr), 0x40 + (int)i, lens[i]);
	}
	CU_ASSERT_FATAL(umem_port_tx(p1, d, n) == n);
	CU_ASSERT(umem_port_flush(p1) == 0);
	umem_port_complete(p1, 64);
	for (int tries = 0; rx < n && tries < 100; tries++)
		rx += umem_port_rx(p0, got + rx, n - rx);
	return rx;
}

static void reopen(const struct zc_engine_config *cfg)
{
	zc_sock_destroy(zs);
	CU_ASSERT_FATAL(zc_engine_destroy(eng) == 0);
	eng_cfg = *cfg;
	CU_ASSERT_FATAL(zc_engine_create(&eng, pool, &eng_cfg) == 0);
	zc_engine_set_port(eng, p0);
	CU_ASSERT_FATAL(zc_sock_create(&zs, eng, on_complete, NULL) == 0);
}

static void test_loan_budget_and_copybreak(void)
{
	struct zc_engine_config cfg = {.loan_budget = 2, .copybreak = 64, .fill_low = 1};
	uint32_t lens[4] = {1000, 1000, 1000, 32};
	struct umem_desc d[4];
	struct zc_loan loan[4];
	struct pkb *pkb[4];
	struct zc_engine_stats st;
	struct umem_audit a;

	reopen(&cfg);
	TK_ASSERT_EQ(far_send(lens, 4, d), 4);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_FATAL(pkb_build_rx(pool, &d[i], &pkb[i]) == 0);
	CU_ASSERT(zc_rx_loan(eng, pkb[0], &loan[0]) == 0);
	CU_ASSERT(zc_rx_loan(eng, pkb[1], &loan[1]) == 0);
	CU_ASSERT(loan[0].flags == 0 && loan[0].len == 1000 && loan[0].data[0] == 0x40);
	CU_ASSERT(umem_audit(u0, &a));
	TK_ASSERT_EQ(a.loaned, 2);
	/* Budget spent: a big payload is refused and stays the caller's... */
	TK_ASSERT_EQ(zc_rx_loan(eng, pkb[2], &loan[2]), -ENOBUFS);
	/* ...a small one is copied and its frame recycled at once. */
	CU_ASSERT(zc_rx_loan(eng, pkb[3], &loan[3]) == 0);
	CU_ASSERT(loan[3].flags & ZC_LOAN_COPIED);
	TK_ASSERT_EQ(loan[3].len, 32);
	CU_ASSERT(loan[3].data[0] == 0x43 && loan[3].data[31] == 0x43);
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.loans, 2);
	TK_ASSERT_EQ(st.loan_refused, 1);
	TK_ASSERT_EQ(st.copybreaks, 1);
	TK_ASSERT_EQ(st.rx_copied_bytes, 32);
	pkb_free(pkb[2]);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			zc_rx_return(eng, &loan[i]);
	CU_ASSERT(umem_audit(u0, &a));
	TK_ASSERT_EQ(a.loaned, 0);
}

static void test_copybreak_when_fill_ring_low(void)
{
	/* fill_low above the ring size: the ring always counts as low. */
	struct zc_engine_config cfg = {.copybreak = 128, .fill_low = 100000};
	uint32_t lens[2] = {100, 1400};
	struct umem_desc d[2];
	struct zc_loan loan[2];
	struct pkb *pkb[2];
	struct zc_engine_stats st;

	reopen(&cfg);
	TK_ASSERT_EQ(far_send(lens, 2, d), 2);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_FATAL(pkb_build_rx(pool, &d[i], &pkb[i]) == 0);
	CU_ASSERT(zc_rx_loan(eng, pkb[0], &loan[0]) == 0);
	CU_ASSERT(loan[0].flags & ZC_LOAN_COPIED);
	/* Too big to copy, budget left: lent as it is. */
	CU_ASSERT(zc_rx_loan(eng, pkb[1], &loan[1]) == 0);
	CU_ASSERT(!(loan[1].flags & ZC_LOAN_COPIED));
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.copybreaks, 1);
	TK_ASSERT_EQ(st.loans, 1);
	zc_rx_return(eng, &loan[0]);
	zc_rx_return(eng, &loan[1]);
}

/* "Low" is a quarter of the depth the fill ring is kept at, which follows
 * demand (umem_port_set_fill_target()), not of the ring's size: against
 * the size, a ring kept at 8 of its 64 slots always counted as low and
 * every small payload was copied instead of lent (skiff's scale run with
 * rings sized for 10,000 connections: every request of its 64- and
 * 1000-connection steps, some 100 MB a second). */
static void test_fill_low_follows_target(void)
{
	struct zc_engine_config cfg = {.copybreak = 128};
	uint32_t lens[16];
	struct umem_desc d[16];
	struct zc_loan loan[2];
	struct pkb *pkb[2] = {NULL, NULL};
	struct zc_engine_stats st;

	for (int i = 0; i < 16; i++)
		lens[i] = 100;
	reopen(&cfg);
	umem_port_set_fill_target(p0, 8);
	/* The ring was filled to its 64 slots: take it down to the target. */
	while (umem_port_fill_level(p0, NULL) > 8) {
		unsigned n = umem_port_fill_level(p0, NULL) - 8;

		n = far_send(lens, n > 16 ? 16 : n, d);
		CU_ASSERT_FATAL(n > 0);
		for (unsigned i = 0; i < n; i++)
			umem_free(u0, d[i].addr);
	}
	TK_ASSERT_EQ(umem_port_fill_depth(p0), 8);
	/* 7 of 8 left: not low, lent. */
	TK_ASSERT_EQ(far_send(lens, 1, d), 1);
	CU_ASSERT_FATAL(pkb_build_rx(pool, &d[0], &pkb[0]) == 0);
	CU_ASSERT(zc_rx_loan(eng, pkb[0], &loan[0]) == 0);
	CU_ASSERT(!(loan[0].flags & ZC_LOAN_COPIED));
	/* Refilled to 8 (far_send() refills first), 7 taken: 1 left, low,
	 * copied. */
	TK_ASSERT_EQ(far_send(lens, 7, d), 7);
	for (int i = 0; i < 6; i++)
		umem_free(u0, d[i].addr);
	CU_ASSERT_FATAL(pkb_build_rx(pool, &d[6], &pkb[1]) == 0);
	CU_ASSERT(zc_rx_loan(eng, pkb[1], &loan[1]) == 0);
	CU_ASSERT(loan[1].flags & ZC_LOAN_COPIED);
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.copybreaks, 1);
	TK_ASSERT_EQ(st.loans, 1);
	zc_rx_return(eng, &loan[0]);
	zc_rx_return(eng, &loan[1]);
	umem_port_set_fill_target(p0, 0);
	umem_port_refill(p0);
}

/* A lent frame taken back (to send it on) is HELD again, no longer counts
 * against the budget, and frees like any frame; a copy-break loan has no
 * frame to take. */
static void test_take_loan_back(void)
{
	struct zc_engine_config cfg = {.loan_budget = 1, .copybreak = 64, .fill_low = 100000};
	uint32_t lens[3] = {1000, 32, 1000};
	struct umem_desc d[3];
	struct zc_loan loan[3];
	struct pkb *pkb[3], *taken = NULL;
	struct zc_engine_stats st;
	struct umem_audit a;

	reopen(&cfg);
	TK_ASSERT_EQ(far_send(lens, 3, d), 3);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_FATAL(pkb_build_rx(pool, &d[i], &pkb[i]) == 0);
	CU_ASSERT_FATAL(zc_rx_loan(eng, pkb[0], &loan[0]) == 0);
	CU_ASSERT_FATAL(zc_rx_loan(eng, pkb[1], &loan[1]) == 0);
	CU_ASSERT(loan[1].flags & ZC_LOAN_COPIED);
	TK_ASSERT_EQ(zc_rx_take(eng, &loan[1], &taken), -EINVAL);
	CU_ASSERT(taken == NULL && loan[1].priv__ != NULL);
	/* Budget spent until the first loan is taken back. */
	TK_ASSERT_EQ(zc_rx_loan(eng, pkb[2], &loan[2]), -ENOBUFS);
	CU_ASSERT_FATAL(zc_rx_take(eng, &loan[0], &taken) == 0);
	CU_ASSERT(taken == pkb[0] && loan[0].priv__ == NULL && loan[0].data == NULL);
	TK_ASSERT_EQ(pkb_len(taken), 1000);
	CU_ASSERT(umem_audit(u0, &a));
	TK_ASSERT_EQ(a.loaned, 0);
	TK_ASSERT_EQ(umem_frame_state(u0, pkb_frame_addr(taken)), UMEM_FRAME_HELD);
	CU_ASSERT(zc_rx_loan(eng, pkb[2], &loan[2]) == 0);
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.loans_taken, 1);
	TK_ASSERT_EQ(st.loans_live, 1);
	pkb_free(taken);
	zc_rx_return(eng, &loan[1]);
	{
		/* A stale copy of a returned loan is refused, not taken twice. */
		struct zc_loan stale = loan[2];

		zc_rx_return(eng, &loan[2]);
		taken = NULL;
		TK_ASSERT_EQ(zc_rx_take(eng, &stale, &taken), -EINVAL);
		CU_ASSERT(taken == NULL);
	}
	CU_ASSERT(umem_audit(u0, &a));
	TK_ASSERT_EQ(a.loaned, 0);
}

static void test_engine_refuses_to_go_while_busy(void)
{
	struct pkb *pkb = zc_send(10, 1);

	TK_ASSERT_EQ(zc_engine_destroy(eng), -EBUSY);
	pkb_free(pkb);
	zc_engine_deliver(eng);
}

/* Frames the engine posted hold references only its completion handler
 * drops: it must not go while any is on the ring. */
static void test_engine_refuses_to_go_with_frames_on_the_ring(void)
{
	struct pkb *pkb;

	zc_sock_destroy(zs);
	zs = NULL;
	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &pkb) == 0);
	pkb_put(pkb, 100);
	CU_ASSERT_FATAL(zc_tx_post(eng, pkb) == 0);
	TK_ASSERT_EQ(zc_engine_destroy(eng), -EBUSY);
	wire_and_far_end();
	TK_ASSERT_EQ(retire(), 1);
	pkb_free(pkb);
	CU_ASSERT_FATAL(zc_sock_create(&zs, eng, on_complete, NULL) == 0);
}

/* The port goes away with a send's frames still on its TX ring (interface
 * down, stack shutting down): the frames come back through the completion
 * path, and the send still completes exactly once. */
static void test_port_destroyed_with_frames_in_flight(void)
{
	struct pkb *pkb = zc_send(700, 0x5a);

	transmit(pkb);
	umem_port_destroy(p0);
	CU_ASSERT_FATAL(umem_memlink_port(&p0, wire, 0, u0) == 0);
	zc_engine_set_port(eng, p0);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 0); /* TCP still holds it */
	pkb_free(pkb);
	TK_ASSERT_EQ(zc_engine_deliver(eng), 1);
	TK_ASSERT_EQ(calls[0].lo, 0);
}

static void test_post_refuses_what_the_ring_would(void)
{
	struct pkb *pkb;
	struct zc_engine_stats st;

	CU_ASSERT_FATAL(pkb_alloc_tx(pool, &pkb) == 0);
	TK_ASSERT_EQ(zc_tx_post(eng, pkb), -EINVAL); /* empty */
	pkb_put(pkb, 10);
	umem_loan(u0, pkb_frame_addr(pkb));
	TK_ASSERT_EQ(zc_tx_post(eng, pkb), -EINVAL); /* the application's */
	umem_unloan(u0, pkb_frame_addr(pkb));
	zc_engine_get_stats(eng, &st);
	TK_ASSERT_EQ(st.tx_ring_full, 0);
	pkb_free(pkb);
}

static bool nested_poll;

static void on_complete_nested(void *opaque, uint32_t lo, uint32_t hi, unsigned flags)
{
	struct zc_send *s;

	on_complete(opaque, lo, hi, flags);
	if (!nested_poll)
		return;
	nested_poll = false;
	/* Inside the callback: another send completes at once, the socket is
	 * destroyed, and a blocking call polls again. */
	CU_ASSERT_FATAL(zc_send_begin(zs, &s) == 0);
	zc_send_commit(s);
	ids_issued++;
	zc_sock_destroy(zs);
	zc_engine_deliver(eng);
}

static void test_nested_deliver_inside_callback(void)
{
	struct pkb *pkb;

	zc_sock_destroy(zs);
	CU_ASSERT_FATAL(zc_sock_create(&zs, eng, on_complete_nested, NULL) == 0);
	pkb = zc_send(10, 1);
	nested_poll = true;
	pkb_free(pkb);
	zc_engine_deliver(eng);
	TK_ASSERT_EQ(completed[0], 1);
	TK_ASSERT_EQ(completed[1], 1);
	zs = NULL; /* destroyed inside the callback */
	zc_engine_deliver(eng);
	CU_ASSERT_FATAL(zc_sock_create(&zs, eng, on_complete, NULL) == 0);
}

static const struct tk_case zc_tests[] = {
	TK_TEST(test_ack_before_completion),
	TK_TEST(test_completion_before_ack),
	TK_TEST(test_retransmit_while_in_flight_copies),
	TK_TEST(test_retransmit_after_completion_in_place),
	TK_TEST(test_clone_held_elsewhere_delays),
	TK_TEST(test_failed_submission_never_calls_back),
	TK_TEST(test_out_of_order_completions_in_order_ranges),
	TK_TEST(test_coalescing_many_small_ids),
	TK_TEST(test_abort),
	TK_TEST(test_abort_spares_acknowledged),
	TK_TEST(test_orphan_releases_early),
	TK_TEST(test_destroy_socket_inside_callback),
	TK_TEST(test_engine_refuses_to_go_while_busy),
	TK_TEST(test_engine_refuses_to_go_with_frames_on_the_ring),
	TK_TEST(test_port_destroyed_with_frames_in_flight),
	TK_TEST(test_post_refuses_what_the_ring_would),
	TK_TEST(test_nested_deliver_inside_callback),
	TK_TEST_END,
};

static const struct tk_case loan_tests[] = {
	TK_TEST(test_loan_budget_and_copybreak),
	TK_TEST(test_copybreak_when_fill_ring_low),
	TK_TEST(test_fill_low_follows_target),
	TK_TEST(test_take_loan_back),
	TK_TEST_END,
};

static const struct tk_suite zc_suite = {
	.name = "completion",
	.setup = setup,
	.teardown = teardown,
	.tests = zc_tests,
};
static const struct tk_suite loan_suite = {
	.name = "loans",
	.setup = setup,
	.teardown = teardown,
	.tests = loan_tests,
};

const struct tk_suite *const tk_suites[] = {&zc_suite, &loan_suite, NULL};
