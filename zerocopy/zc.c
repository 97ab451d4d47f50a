/* zerocopy/: send completion (ids, references, in-order coalesced ranges),
 * TX frame retirement and RX loans. The contract is in <skiff/zc.h>. */
#include <skiff/zc.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ZC_COPYBREAK_DEFAULT 128u

/*
 * A send: the notification object frames point to (seed 004's ubuf_info).
 * ubuf.refcnt: 1 from zc_send_begin() (the submitter's, dropped by commit
 * or cancel), plus one per frame whose shared info points to it; the send is
 * done at 0.
 */
struct zc_send {
	struct pkb_ubuf ubuf;
	struct zc_sock *sock;
	struct zc_send *next; /* the socket's outstanding list, in id order; or the free list */
	uint32_t id;
	uint8_t flags; /* ZC_F_*: ours, apart from ext/'s ubuf.flags */
	uint8_t done;
	uint8_t cancelled;
};

struct zc_sock {
	struct zc_engine *engine;
	zc_complete_fn cb;
	void *opaque;
	struct zc_send *head, *tail; /* committed (or open) sends, lowest id first */
	struct zc_send *open;	     /* begun, neither committed nor cancelled */
	struct zc_sock *ready_next;  /* on the engine's ready list */
	uint32_t next_id;
	uint32_t acked;	      /* the peer acknowledged every send below this id */
	uint32_t outstanding; /* committed, not yet reported */
	uint32_t sends_live;  /* send objects pointing here, cancelled ones included */
	bool ready;
	bool aborted;
	bool closing;
	unsigned in_callback; /* deliveries under way (a callback may poll again) */
};

struct zc_small {
	struct zc_small *next;
	uint8_t data[ZC_COPYBREAK_MAX];
};

struct zc_engine {
	struct pkb_pool *pool;
	struct umem *umem;
	struct umem_geometry geo; /* the UMEM's, for addresses of loaned data */
	struct umem_port *port;
	struct zc_engine_config cfg;
	struct zc_send *sends; /* the objects, one allocation */
	struct zc_send *free_sends;
	struct zc_small *smalls;
	struct zc_small *free_smalls;
	struct zc_sock *ready_head, *ready_tail;
	uint32_t live_socks;
	uint32_t live_sends;
	uint32_t live_smalls;
	uint64_t tx_posted; /* frames on the TX ring holding our reference */
	struct zc_engine_stats stats;
};

static void send_put(struct pkb_ubuf *ubuf);

static const struct pkb_ubuf_ops zc_send_ops = {
	.put = send_put,
};

/* ---- engine ------------------------------------------------------------ */

static void tx_done(void *opaque, const uint64_t *addrs, unsigned n)
{
	struct zc_engine *e = opaque;

	/* Each frame on the ring held one data reference (zc_tx_post). */
	for (unsigned i = 0; i < n; i++)
		pkb_frame_put(e->pool, addrs[i]);
	e->stats.tx_frames_retired += n;
	e->tx_posted -= n;
}

int zc_engine_create(struct zc_engine **out, struct pkb_pool *pool,
		     const struct zc_engine_config *cfg)
{
	struct zc_engine *e;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (cfg)
		e->cfg = *cfg;
	if (!e->cfg.max_sends)
		e->cfg.max_sends = ZC_MAX_SENDS_DEFAULT;
	if (!e->cfg.loan_budget)
		e->cfg.loan_budget = ZC_LOAN_BUDGET_DEFAULT;
	if (!e->cfg.copybreak)
		e->cfg.copybreak = ZC_COPYBREAK_DEFAULT;
	if (!e->cfg.small_bufs)
		e->cfg.small_bufs = ZC_SMALL_BUFS_DEFAULT;
	if (e->cfg.copybreak > ZC_COPYBREAK_MAX) {
		free(e);
		return -EINVAL;
	}
	e->pool = pool;
	e->umem = pkb_pool_umem(pool);
	umem_geometry(e->umem, &e->geo);

	e->sends = calloc(e->cfg.max_sends, sizeof(*e->sends));
	if (!e->sends)
		goto out_free_engine;
	e->smalls = calloc(e->cfg.small_bufs, sizeof(*e->smalls));
	if (!e->smalls)
		goto out_free_sends;
	for (uint32_t i = e->cfg.max_sends; i-- > 0;) {
		e->sends[i].next = e->free_sends;
		e->free_sends = &e->sends[i];
	}
	for (uint32_t i = e->cfg.small_bufs; i-- > 0;) {
		e->smalls[i].next = e->free_smalls;
		e->free_smalls = &e->smalls[i];
	}
	if (umem_set_tx_done(e->umem, tx_done, e))
		goto out_free_smalls;
	*out = e;
	return 0;

out_free_smalls:
	free(e->smalls);
	free(e->sends);
	free(e);
	return -EBUSY;
out_free_sends:
	free(e->sends);
out_free_engine:
	free(e);
	return -ENOMEM;
}

int zc_engine_destroy(struct zc_engine *e)
{
	if (!e)
		return 0;
	if (e->live_socks || e->live_sends || e->stats.loans_live || e->live_smalls || e->tx_posted)
		return -EBUSY;
	umem_set_tx_done(e->umem, NULL, NULL);
	free(e->smalls);
	free(e->sends);
	free(e);
	return 0;
}

void zc_engine_set_port(struct zc_engine *e, struct umem_port *port)
{
	e->port = port;
}

void zc_engine_get_stats(const struct zc_engine *e, struct zc_engine_stats *out)
{
	*out = e->stats;
}

/* A destroyed socket's state goes once no send points to it and no
 * delivery is under way or pending. */
static void sock_maybe_free(struct zc_sock *zs)
{
	if (!zs->closing || zs->sends_live || zs->ready || zs->in_callback)
		return;
	zs->engine->live_socks--;
	free(zs);
}

static void mark_ready(struct zc_sock *zs)
{
	struct zc_engine *e = zs->engine;

	if (zs->ready)
		return;
	zs->ready = true;
	zs->ready_next = NULL;
	if (e->ready_tail)
		e->ready_tail->ready_next = zs;
	else
		e->ready_head = zs;
	e->ready_tail = zs;
}

static void send_recycle(struct zc_engine *e, struct zc_send *s)
{
	s->sock->sends_live--;
	s->next = e->free_sends;
	e->free_sends = s;
	e->live_sends--;
}

/* Reports the done sends at the head of the socket's list, coalescing runs
 * of consecutive ids with equal flags into one call each. */
static unsigned sock_deliver(struct zc_sock *zs)
{
	struct zc_engine *e = zs->engine;
	unsigned calls = 0;

	zs->in_callback++;
	while (zs->head && zs->head->done) {
		struct zc_send *s = zs->head;
		uint32_t lo = s->id, hi = s->id;
		unsigned flags = s->flags;
		uint32_t n = 0;

		while (s && s->done && s->flags == flags && (n == 0 || s->id == hi + 1)) {
			struct zc_send *next = s->next;

			hi = s->id;
			n++;
			send_recycle(e, s);
			s = next;
		}
		zs->head = s;
		if (!s)
			zs->tail = NULL;
		zs->outstanding -= n;
		e->stats.ids_completed += n;
		if (flags & ZC_F_COPIED)
			e->stats.sends_copied += n;
		if (flags & ZC_F_ABORTED)
			e->stats.sends_aborted += n;
		e->stats.callbacks++;
		calls++;
		if (zs->cb)
			zs->cb(zs->opaque, lo, hi, flags);
	}
	zs->in_callback--;
	return calls;
}

unsigned zc_engine_deliver(struct zc_engine *e)
{
	unsigned calls = 0;

	while (e->ready_head) {
		struct zc_sock *zs = e->ready_head;

		e->ready_head = zs->ready_next;
		if (!e->ready_head)
			e->ready_tail = NULL;
		zs->ready = false;
		calls += sock_deliver(zs);
		/* A socket closed meanwhile (or inside its callback) goes with
		 * its last send. */
		sock_maybe_free(zs);
	}
	return calls;
}

/* ---- sockets and sends -------------------------------------------------- */

int zc_sock_create(struct zc_sock **out, struct zc_engine *e, zc_complete_fn cb, void *opaque)
{
	struct zc_sock *zs = calloc(1, sizeof(*zs));

	if (!zs)
		return -ENOMEM;
	zs->engine = e;
	zs->cb = cb;
	zs->opaque = opaque;
	e->live_socks++;
	*out = zs;
	return 0;
}

void zc_sock_destroy(struct zc_sock *zs)
{
	if (!zs)
		return;
	if (zs->open)
		zc_send_cancel(zs->open);
	zs->closing = true;
	/* Outstanding sends keep the state alive: their callbacks still fire,
	 * and the last one's delivery frees it. */
	sock_maybe_free(zs);
}

/* Ids compare modulo 2^32: those outstanding span less than half of it. */
static bool id_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

void zc_sock_acked(struct zc_sock *zs, uint32_t upto)
{
	/* Only forward, and never past the ids handed out. */
	if (id_before(zs->acked, upto) && !id_before(zs->next_id, upto))
		zs->acked = upto;
}

void zc_sock_abort(struct zc_sock *zs)
{
	zs->aborted = true;
	/* What the peer acknowledged was delivered: those sends complete as
	 * usual once their frames are back. */
	for (struct zc_send *s = zs->head; s; s = s->next)
		if (!s->done && !id_before(s->id, zs->acked))
			s->flags |= ZC_F_ABORTED;
}

uint32_t zc_sock_outstanding(const struct zc_sock *zs)
{
	return zs->outstanding;
}

int zc_send_begin(struct zc_sock *zs, struct zc_send **out)
{
	struct zc_engine *e = zs->engine;
	struct zc_send *s;

	if (zs->open)
		return -EBUSY;
	s = e->free_sends;
	if (!s) {
		e->stats.send_alloc_fail++;
		return -ENOMEM;
	}
	e->free_sends = s->next;
	e->live_sends++;
	zs->sends_live++;
	*s = (struct zc_send){
		.ubuf = {.ops = &zc_send_ops, .refcnt = 1},
		.sock = zs,
		.id = zs->next_id,
	};
	zs->open = s;
	*out = s;
	return 0;
}

uint32_t zc_send_id(const struct zc_send *s)
{
	return s->id;
}

int zc_send_attach(struct zc_send *s, struct pkb *pkb)
{
	return pkb_set_ubuf(pkb, &s->ubuf);
}

void zc_send_mark_copied(struct zc_send *s)
{
	s->flags |= ZC_F_COPIED;
}

void zc_send_commit(struct zc_send *s)
{
	struct zc_sock *zs = s->sock;

	zs->open = NULL;
	zs->next_id++;
	zs->outstanding++;
	zs->engine->stats.sends++;
	if (zs->aborted)
		s->flags |= ZC_F_ABORTED;
	s->next = NULL;
	if (zs->tail)
		zs->tail->next = s;
	else
		zs->head = s;
	zs->tail = s;
	send_put(&s->ubuf); /* the submitter's reference */
}

void zc_send_cancel(struct zc_send *s)
{
	struct zc_sock *zs = s->sock;

	zs->open = NULL;
	s->cancelled = 1;
	zs->engine->stats.sends_cancelled++;
	send_put(&s->ubuf);
}

/* One reference dropped (a frame's data is finished with, or the
 * submitter's). Never calls back: it only marks and queues. */
static void send_put(struct pkb_ubuf *ubuf)
{
	struct zc_send *s = (struct zc_send *)ubuf;
	struct zc_sock *zs = s->sock;

	if (--ubuf->refcnt)
		return;
	if (s->cancelled) {
		send_recycle(zs->engine, s);
		sock_maybe_free(zs);
		return;
	}
	/* ext/ sets PKB_UBUF_F_COPIED when it copied the data out (copy,
	 * unshare, orphan); the caller learns it the same way. */
	if (ubuf->flags & PKB_UBUF_F_COPIED)
		s->flags |= ZC_F_COPIED;
	s->done = 1;
	if (zs->head == s)
		mark_ready(zs);
}

/* ---- TX ------------------------------------------------------------------ */

int zc_tx_prepare(struct zc_engine *e, struct pkb *pkb, uint32_t hdr_room, uint32_t len,
		  struct pkb **tx)
{
	bool in_flight = pkb_frame_in_flight(pkb);
	struct pkb *copy;
	int err;

	if (len > pkb_len(pkb))
		return -EINVAL;
	if (!in_flight && !pkb_data_shared(pkb) && pkb_headroom(pkb) >= hdr_room) {
		*tx = pkb;
		return 0;
	}
	err = pkb_copy_expand(pkb, hdr_room, &copy);
	if (err)
		return err;
	pkb_trim(copy, len);
	if (in_flight)
		e->stats.tx_inflight_copies++;
	e->stats.tx_copied_bytes += len;
	*tx = copy;
	return 0;
}

int zc_tx_post(struct zc_engine *e, struct pkb *pkb)
{
	return zc_tx_post_span(e, pkb, 0, pkb_len(pkb));
}

int zc_tx_post_span(struct zc_engine *e, struct pkb *pkb, uint32_t head, uint32_t len)
{
	return zc_tx_post_port(e, e->port, pkb, head, len);
}

int zc_tx_post_port(struct zc_engine *e, struct umem_port *port, struct pkb *pkb, uint32_t head,
		    uint32_t len)
{
	struct umem_desc d = {.addr = pkb_data_addr(pkb) - head, .len = head + len};
	uint64_t frame = pkb_frame_addr(pkb);
	enum umem_frame_state st = umem_frame_state(e->umem, frame);
	unsigned taken;
	int err;

	if (!port)
		return -ENODEV;
	if (head > pkb_headroom(pkb) || len > pkb_len(pkb))
		return -EINVAL;
	if (st == UMEM_FRAME_TX)
		return -EBUSY;
	/* The port would refuse (and count) these; say so instead of
	 * letting a caller retry forever. */
	if (st != UMEM_FRAME_HELD || d.len == 0)
		return -EINVAL;
	err = pkb_frame_get(e->pool, frame);
	if (err)
		return err;
	taken = umem_port_tx(port, &d, 1);
	if (umem_frame_state(e->umem, frame) != UMEM_FRAME_TX) {
		/* Not posted: the frame stays ours. */
		pkb_frame_put(e->pool, frame);
		if (taken)
			return -EINVAL;
		e->stats.tx_ring_full++;
		return -EAGAIN;
	}
	e->tx_posted++;
	return 0;
}

/* ---- RX loans ------------------------------------------------------------ */

/* Below a quarter of the depth the receive path keeps the fill ring at
 * (its target when it follows demand, else its size), by default. */
static bool fill_low(const struct zc_engine *e)
{
	unsigned level;

	if (!e->port)
		return false;
	level = umem_port_fill_level(e->port, NULL);
	return level < (e->cfg.fill_low ? e->cfg.fill_low : umem_port_fill_depth(e->port) / 4);
}

int zc_rx_loan(struct zc_engine *e, struct pkb *pkb, struct zc_loan *loan)
{
	uint32_t len = pkb_len(pkb);
	bool budget_spent = e->stats.loans_live >= e->cfg.loan_budget;

	if ((budget_spent || fill_low(e)) && len <= e->cfg.copybreak && e->free_smalls) {
		struct zc_small *sb = e->free_smalls;

		e->free_smalls = sb->next;
		e->live_smalls++;
		memcpy(sb->data, pkb->data, len);
		pkb_free(pkb);
		*loan = (struct zc_loan){
			.data = sb->data, .len = len, .flags = ZC_LOAN_COPIED, .priv__ = sb};
		e->stats.copybreaks++;
		e->stats.rx_copied_bytes += len;
		return 0;
	}
	if (budget_spent) {
		e->stats.loan_refused++;
		return -ENOBUFS;
	}
	umem_loan(e->umem, pkb_frame_addr(pkb));
	*loan = (struct zc_loan){.data = pkb->data, .len = len, .priv__ = pkb};
	e->stats.loans++;
	e->stats.loans_live++;
	return 0;
}

void zc_rx_return(struct zc_engine *e, struct zc_loan *loan)
{
	if (loan->flags & ZC_LOAN_COPIED) {
		struct zc_small *sb = loan->priv__;

		sb->next = e->free_smalls;
		e->free_smalls = sb;
		e->live_smalls--;
	} else {
		struct pkb *pkb = loan->priv__;

		umem_unloan(e->umem, pkb_frame_addr(pkb));
		pkb_free(pkb);
		e->stats.loans_live--;
	}
	loan->priv__ = NULL;
	loan->data = NULL;
}

int zc_rx_take(struct zc_engine *e, struct zc_loan *loan, struct pkb **out)
{
	struct pkb *pkb = loan->priv__;
	const struct umem_geometry *g = &e->geo;
	uint64_t frame;

	if (!pkb || !loan->data || (loan->flags & ZC_LOAN_COPIED))
		return -EINVAL;
	/* A stale copy of a loan already returned names a frame that may be
	 * on the fill ring by now: taking it would free it twice. Judged from
	 * the data address alone, as the pkb in that frame may be gone. */
	if (loan->data < g->area || loan->data >= g->area + g->size)
		return -EINVAL;
	frame = umem_geo_frame(g, umem_geo_addr(g, loan->data));
	if (umem_frame_state(e->umem, frame) != UMEM_FRAME_LOANED)
		return -EINVAL;
	umem_unloan(e->umem, frame);
	e->stats.loans_live--;
	e->stats.loans_taken++;
	loan->priv__ = NULL;
	loan->data = NULL;
	*out = pkb;
	return 0;
}
