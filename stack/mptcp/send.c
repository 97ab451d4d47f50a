/* Sending over several subflows (RFC 8684 3.3): the scheduler, the data
 * sequence mappings of what each subflow carries, and reinjection.
 *
 * Each segment's mapping travels in its frame's MPTCP extension: a write
 * maps its bytes into the segments it starts and grows the mapping of the
 * one it appends to (ext/'s merge rule); a split's halves both keep it
 * (ext/'s split rule, frames.c); the option hook writes it as the DSS
 * (conn.c). A write appends only to a segment whose mapping begins with
 * it and that it continues at the data level, else it starts a segment
 * of its own (lwIP patch 0024), and so does a FIN that does not end the
 * connection's data: one mapping describes every segment, and a range
 * never goes out under two.
 *
 * A segment whose data is not in a frame of its own (lwIP's heap past the
 * frame budget, a zero-copy payload's) is mapped aside when it leaves.
 * While a connection has no join, its data keeps to the first subflow and
 * that mapping is computed from the sequence number (our data sequence
 * space is the subflow's, shifted by our IDSN; conn.c). Once a plain send
 * puts data on a join, the connection is "multi": every write on every
 * subflow is also recorded as an extent (subflow positions [rel, rel +
 * len) carry data sequence numbers from dsn on), where such a segment's
 * mapping is looked up and reinjection finds what a subflow carried.
 *
 * The scheduler (plain sends; zero-copy sends keep to the first subflow,
 * whose ACKs their completions follow) picks, for each chunk of a send,
 * among the established subflows that are not stale and hold less than
 * their congestion window plus 64 KiB: among those with less than a
 * window queued and in flight, the lowest RTT (conn.c measures each
 * subflow alike; lwIP's estimate is in 10 ms ticks, skiff's recovery
 * keeps one for the first subflow only); else the one whose queue drains
 * soonest (bytes queued and in flight per byte of window, times its
 * RTT); the first subflow on a tie. Backup subflows (the peer's MP_PRIO
 * or B flag, or ours: stack/mptcp/pm.c) take data only while no regular
 * subflow is up, even a full one (3.3.8). Nothing is queued past the
 * connection-level receive window (skiff__mptcp_tx_limit()).
 *
 * Reinjection: what a join carries is also kept in a copy until the
 * peer's DATA_ACK covers it. When a join dies (a RST, a timeout) or goes
 * stale (its second retransmission timeout in a row), its data not yet
 * DATA_ACKed is written again on the first subflow under the same data
 * sequence numbers, at the end of the poll round (never from inside
 * lwIP's walks); the peer drops whatever reaches it twice. A stale join
 * takes no new data until an ACK moves on it again. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "frames.h"
#include "instance.h"
#include "mptcp.h"
#include "mptcp/conn.h"
#include "recovery.h"
#include "tcpglue.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"

/* Connections with data to reinject at the end of the poll round. */
struct skiff_mptcp_conn *skiff__mptcp_reinject_due;
/* Connections waiting on a DATA_ACK (skiff__mptcp_probe_run()). */
struct skiff_mptcp_conn *skiff__mptcp_probe_due;

/* Subflow position of the next byte a write on @p pcb queues. */
static uint64_t write_rel(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf)
{
	return skiff__mptcp_widen(sf->snd_rel, pcb->snd_lbb - sf->iss - 1);
}

/* Extents wholly ACKed at the subflow level go. */
static void smap_trim(struct skiff_mptcp_sf *sf)
{
	unsigned k = 0;

	while (k < sf->nsmap && sf->smap[k].rel + sf->smap[k].len <= sf->snd_rel)
		k++;
	if (k) {
		memmove(sf->smap, sf->smap + k, (sf->nsmap - k) * sizeof(sf->smap[0]));
		sf->nsmap -= k;
	}
}

static bool smap_add(struct skiff_mptcp_sf *sf, uint64_t rel, uint64_t dsn, uint32_t len)
{
	struct skiff_mptcp_smap *l = sf->nsmap ? &sf->smap[sf->nsmap - 1] : NULL;

	if (l && l->rel + l->len == rel && l->dsn + l->len == dsn) {
		l->len += len;
		return true;
	}
	smap_trim(sf);
	if (sf->nsmap == SKIFF_MPTCP_SMAPS)
		return false;
	sf->smap[sf->nsmap++] = (struct skiff_mptcp_smap){.rel = rel, .dsn = dsn, .len = len};
	return true;
}

uint64_t skiff__mptcp_tx_dsn(struct skiff_mptcp_sf *sf, uint64_t rel, uint32_t *room)
{
	const struct skiff_mptcp_conn *c = sf->conn;

	*room = UINT32_MAX;
	if (!c->multi)
		return c->local_idsn + 1 + rel;
	for (unsigned k = 0; k < sf->nsmap; k++) {
		const struct skiff_mptcp_smap *e = &sf->smap[k];

		if (rel >= e->rel && rel < e->rel + e->len) {
			*room = (uint32_t)(e->rel + e->len - rel);
			return e->dsn + (rel - e->rel);
		}
	}
	/* Not written here (a FIN's position past the data): the end. */
	*room = 0;
	return c->snd_data_nxt;
}

/* The data sequence number the next write on @p pcb carries. */
static uint64_t next_dsn(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf)
{
	const struct skiff_mptcp_conn *c = sf->conn;

	return c->multi ? c->wr_dsn : c->local_idsn + 1 + write_rel(pcb, sf);
}

const struct pkb_ext_mptcp *skiff__mptcp_seg_map(const struct skiff_mptcp_sf *sf,
						 const struct pbuf *p, u32_t seq, unsigned len,
						 uint32_t *off)
{
	const struct pkb *b = skiff__tx_seg_pkb(p);
	const struct pkb_ext_mptcp *x = b ? pkb_ext_mptcp(b) : NULL;

	if (!x || !(x->flags & PKB_DSS_MAP) || !x->data_len)
		return NULL;
	*off = seq - sf->iss - x->subflow_seq;
	if (*off >= x->data_len || len > x->data_len - *off)
		return NULL;
	return x;
}

/* The mapping of a write's bytes (subflow positions [@p rel, + @p len),
 * data sequence numbers from @p dsn) into the frames of the segments that
 * took them, from @p from (the last unsent segment before the write, or
 * NULL: the first unsent): a segment the write started gets the mapping
 * of its bytes, the one it appended to the merged mapping (ext/'s rule;
 * skiff__mptcp_write_appends() let only a continuation append). A
 * segment in lwIP's heap, or one whose earlier bytes have no mapping in
 * its frame, is mapped aside from the subflow's extents when it leaves. */
static void map_segments(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf,
			 const struct tcp_seg *from, uint64_t rel, uint64_t dsn, uint32_t len)
{
	uint64_t end = rel + len;

	for (const struct tcp_seg *seg = from ? from : pcb->unsent; seg; seg = seg->next) {
		uint64_t s0 = skiff__mptcp_widen(sf->snd_rel,
						 lwip_ntohl(seg->tcphdr->seqno) - sf->iss - 1);
		uint64_t a = s0 > rel ? s0 : rel, b = s0 + seg->len < end ? s0 + seg->len : end;
		struct pkb *pkb = skiff__tx_seg_pkb(seg->p);
		struct pkb_ext_mptcp m = {.flags = PKB_DSS_MAP | PKB_DSS_DSN64};

		if (s0 >= end)
			break;
		if (b <= a || !pkb || (a > s0 && !pkb_ext_mptcp(pkb)))
			continue;
		m.data_seq = dsn + (a - rel);
		m.subflow_seq = (uint32_t)(a + 1);
		m.data_len = (uint16_t)(b - a);
		if (pkb_ext_mptcp_append(pkb, &m)) {
			/* No area free (or, not expected, a mapping that does
			 * not continue): the segment is mapped aside. */
			pkb_ext_del(pkb, PKB_EXT_MPTCP);
		}
	}
}

/* A write on @p pcb now continues the last extent of @p sf, at both
 * levels. */
static bool extent_continues(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf)
{
	const struct skiff_mptcp_smap *l;

	if (!sf->nsmap)
		return false;
	l = &sf->smap[sf->nsmap - 1];
	return l->rel + l->len == write_rel(pcb, sf) && l->dsn + l->len == sf->conn->wr_dsn;
}

bool skiff__mptcp_write_appends(const struct tcp_pcb *pcb, const struct tcp_seg *last)
{
	const struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(pcb);
	const struct pkb_ext_mptcp *x;
	uint32_t off;

	if (!sf || !sf->conn)
		return true;
	x = sf->phase == SKIFF_MPTCP_EST
		    ? skiff__mptcp_seg_map(sf, last->p, lwip_ntohl(last->tcphdr->seqno), last->len,
					   &off)
		    : NULL;
	if (x)
		/* Its frame's mapping may grow when it begins with this
		 * segment (a split's remainder shares the front's, which may
		 * have left: one range would go out under two mappings),
		 * ends with it, ends where the write's data begins at the
		 * data level, and has room for a full segment more and a
		 * DATA_FIN within the 16-bit data-level length. */
		return off == 0 && x->data_len == last->len &&
		       x->data_seq + x->data_len == next_dsn(pcb, sf) &&
		       (uint32_t)x->data_len + pcb->mss < 0xffff;
	return !sf->conn->multi || extent_continues(pcb, sf);
}

bool skiff__mptcp_may_write(const struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(pcb);

	if (!sf || !sf->conn || !sf->conn->multi || sf->nsmap < SKIFF_MPTCP_SMAPS)
		return true;
	/* Full: what the peer ACKed since goes first. Else only a write
	 * that continues the last extent would do, and a subflow left out
	 * of the writes would never trim its extents again (the likely
	 * cause of one run in nine that put all 16 MiB on the join). */
	sf->snd_rel = skiff__mptcp_widen(sf->snd_rel, pcb->lastack - sf->iss - 1);
	smap_trim(sf);
	return sf->nsmap < SKIFF_MPTCP_SMAPS || extent_continues(pcb, sf);
}

/* The connection becomes multi: the first subflow's queued data so far,
 * contiguous from our IDSN + 1, becomes its first extent. */
static void go_multi(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_sf *m = c->main_sf;
	uint64_t end = write_rel(c->main_pcb, m);

	/* After our FIN the write position may count it (lwIP counts a FIN
	 * it queues alone, not one it adds to the last segment). */
	if (c->fin_queued)
		end = c->fin_dsn - (c->local_idsn + 1);
	m->snd_rel = skiff__mptcp_widen(m->snd_rel, c->main_pcb->lastack - m->iss - 1);
	m->nsmap = 0;
	if (end > m->snd_rel)
		smap_add(m, m->snd_rel, c->local_idsn + 1 + m->snd_rel,
			 (uint32_t)(end - m->snd_rel));
	c->snd_data_nxt = c->local_idsn + 1 + end;
	c->wr_dsn = c->snd_data_nxt;
	c->multi = true;
}

/* A copy of what a join carries, until DATA_ACKed. */
static int rtx_keep(struct skiff_mptcp_conn *c, struct skiff_mptcp_sf *sf, uint64_t dsn,
		    const void *data, uint32_t len)
{
	struct skiff_mptcp_rtx *r = malloc(sizeof(*r) + len);

	if (!r)
		return -ENOMEM;
	r->dsn = dsn;
	r->len = len;
	r->sf = sf;
	r->next = NULL;
	r->reinjected = false;
	memcpy(r->data, data, len);
	if (c->rtx_tail)
		c->rtx_tail->next = r;
	else
		c->rtx = r;
	c->rtx_tail = r;
	return 0;
}

void skiff__mptcp_rtx_acked(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_rtx *r;

	while ((r = c->rtx) && (int64_t)(r->dsn + r->len - c->snd_data_acked) <= 0) {
		c->rtx = r->next;
		if (!c->rtx)
			c->rtx_tail = NULL;
		free(r);
	}
}

void skiff__mptcp_rtx_free(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_rtx *r;

	while ((r = c->rtx)) {
		c->rtx = r->next;
		free(r);
	}
	c->rtx_tail = NULL;
}

void skiff__mptcp_wrote(struct tcp_pcb *pcb, const void *data, uint32_t len,
			const struct tcp_seg *last)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(pcb);
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;
	uint64_t rel;

	if (!c || sf->phase != SKIFF_MPTCP_EST || !len)
		return;
	if (!c->multi && sf->join)
		go_multi(c);
	rel = write_rel(pcb, sf) - len;
	map_segments(pcb, sf, last, rel, c->multi ? c->wr_dsn : c->local_idsn + 1 + rel, len);
	if (!c->multi)
		return; /* the first subflow's implicit mapping holds aside */
	if (!smap_add(sf, rel, c->wr_dsn, len)) {
		/* skiff__tcp_write() asks skiff__mptcp_may_write() first: not
		 * expected. */
		st->stats.mptcp_map_mismatch++;
	}
	if (sf->join) {
		st->stats.mptcp_join_tx_bytes += len;
		if (data && c->wr_dsn == c->snd_data_nxt && rtx_keep(c, sf, c->wr_dsn, data, len))
			st->stats.mptcp_reinject_nomem++;
	}
	if (c->wr_dsn == c->snd_data_nxt)
		c->snd_data_nxt += len;
	c->wr_dsn = c->snd_data_nxt;
}

/* ---- the scheduler ------------------------------------------------------------------ */

/* What a subflow may hold queued and in flight beyond its congestion
 * window: the rest of the send stays with the application until a
 * subflow has room (as Linux keeps it at the connection level), so that
 * data is not committed to a subflow long before it can leave. */
#define SCHED_SLACK 65535u

static u32_t queued(const struct tcp_pcb *pcb)
{
	return pcb->snd_lbb - pcb->lastack;
}

/* A subflow that takes a write: established both ways, open, not stale,
 * with room in its send buffer and queue, less than its window and
 * SCHED_SLACK queued, and room for an extent. */
static bool can_take(const struct skiff_mptcp_sf *sf, const struct tcp_pcb *pcb)
{
	if (!pcb || sf->phase != SKIFF_MPTCP_EST || sf->closing || sf->stale ||
	    (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT) || tcp_sndbuf(pcb) == 0 ||
	    tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4 ||
	    queued(pcb) >= (u32_t)pcb->cwnd + SCHED_SLACK)
		return false;
	return skiff__mptcp_may_write(pcb);
}

struct tcp_pcb *skiff__mptcp_sf_open(const struct skiff_mptcp_conn *c,
				     const struct skiff_mptcp_sf *sf)
{
	struct tcp_pcb *pcb = skiff__mptcp_sf_pcb(c, sf);

	if (!pcb || sf->phase != SKIFF_MPTCP_EST || sf->closing ||
	    (pcb->state != ESTABLISHED && pcb->state != CLOSE_WAIT))
		return NULL;
	return pcb;
}

static bool is_backup(const struct skiff_mptcp_sf *sf)
{
	return sf->backup || sf->lbackup;
}

/* Whether @p c has a regular subflow (not backup) that is up: then the
 * backup ones take nothing, even while it is full (RFC 8684 3.3.8: a
 * backup subflow is for when the others fail). */
static bool regular_up(const struct skiff_mptcp_conn *c)
{
	for (const struct skiff_mptcp_sf *sf = c->main_sf; sf; sf = skiff__mptcp_sf_next(c, sf))
		if (!sf->stale && !is_backup(sf) && skiff__mptcp_sf_open(c, sf))
			return true;
	return false;
}

/* A subflow as the scheduler weighs it. */
struct cand {
	struct tcp_pcb *pcb;
	bool backup;
	bool room;     /* less than a congestion window queued and in flight */
	uint32_t srtt; /* its smoothed RTT, microseconds (0: not measured yet) */
	uint64_t load; /* when its queue would drain: bytes queued and in
			* flight per byte of window, times its RTT */
};

static struct cand weigh(struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf)
{
	u32_t queued = pcb->snd_lbb - pcb->lastack;
	u32_t cwnd = pcb->cwnd ? pcb->cwnd : 1;
	uint32_t srtt = sf->srtt_us;

	return (struct cand){.pcb = pcb,
			     .backup = is_backup(sf),
			     .room = queued < cwnd,
			     .srtt = srtt,
			     .load = (uint64_t)queued * 1024 / cwnd * (srtt ? srtt : 1)};
}

/* Whether @p a goes before @p b: not a backup; then with room in its
 * window, the lowest RTT first (one not measured yet first: it gets its
 * sample); without, the queue that drains soonest. */
static bool before(const struct cand *a, const struct cand *b)
{
	if (a->backup != b->backup)
		return !a->backup;
	if (a->room != b->room)
		return a->room;
	if (a->room)
		return a->srtt < b->srtt;
	return a->load < b->load;
}

/* The join of @p c that goes before @p best (the first subflow's
 * weighing, or none), or @p best. */
static struct cand best_join(struct skiff_mptcp_conn *c, struct cand best)
{
	struct cand x;

	for (struct skiff_mptcp_sf *j = c->joins; j; j = j->next) {
		if (!can_take(j, j->pcb))
			continue;
		x = weigh(j->pcb, j);
		if (!best.pcb || before(&x, &best))
			best = x;
	}
	return best;
}

/* ---- the DATA_ACK probe ------------------------------------------------------------ */

/* Whether every subflow of @p c has its data ACKed (none queued). */
static bool all_acked(const struct skiff_mptcp_conn *c)
{
	for (const struct skiff_mptcp_sf *sf = c->main_sf; sf; sf = skiff__mptcp_sf_next(c, sf)) {
		const struct tcp_pcb *pcb = skiff__mptcp_sf_pcb(c, sf);

		if (pcb && (pcb->unacked || pcb->unsent))
			return false;
	}
	return true;
}

/* A send found the connection's window shut. When every subflow's data
 * is ACKed, only the peer's DATA_ACK can open it, and a Linux receiver
 * that took the data at the TCP level but moved it up later (its socket
 * busy) sends none by itself until more data comes (seen after 40 s of
 * silence, everything delivered there): a probe is due. */
static void probe_arm(struct skiff_mptcp_conn *c)
{
	if (c->probe_listed || !all_acked(c))
		return;
	c->probe_listed = true;
	c->probe_ival_ms = 200;
	c->probe_due_ms = (uint32_t)skiff__now_ms() + c->probe_ival_ms;
	c->probe_next = skiff__mptcp_probe_due;
	skiff__mptcp_probe_due = c;
}

void skiff__mptcp_probe_del(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_conn **pp;

	for (pp = &skiff__mptcp_probe_due; *pp; pp = &(*pp)->probe_next)
		if (*pp == c) {
			*pp = c->probe_next;
			break;
		}
	c->probe_listed = false;
}

/* A subflow of @p c to probe on: one that is up and not stale. */
static struct tcp_pcb *probe_pcb(const struct skiff_mptcp_conn *c)
{
	struct tcp_pcb *pcb;

	for (const struct skiff_mptcp_sf *sf = c->main_sf; sf; sf = skiff__mptcp_sf_next(c, sf))
		if (!sf->stale && (pcb = skiff__mptcp_sf_open(c, sf)))
			return pcb;
	return NULL;
}

void skiff__mptcp_probe_run(void)
{
	uint32_t now = (uint32_t)skiff__now_ms();

	for (struct skiff_mptcp_conn *c = skiff__mptcp_probe_due, *nx; c; c = nx) {
		struct tcp_pcb *pcb;

		nx = c->probe_next;
		if (!c->main_pcb || c->fb.failed || !all_acked(c) ||
		    skiff__mptcp_tx_limit(c->main_pcb) > 0) {
			skiff__mptcp_probe_del(c); /* the window opened, or other news */
			continue;
		}
		if ((int32_t)(now - c->probe_due_ms) < 0)
			continue;
		/* An old sequence number: the peer's TCP answers with an ACK
		 * at once, and its DSS carries the DATA_ACK as it stands
		 * (lwIP's keepalive segment). Then less and less often. */
		if ((pcb = probe_pcb(c)) && tcp_keepalive(pcb) == ERR_OK)
			skiff__s.stats.mptcp_data_ack_probes++;
		if (c->probe_ival_ms < 2000)
			c->probe_ival_ms *= 2;
		c->probe_due_ms = now + c->probe_ival_ms;
	}
}

struct tcp_pcb *skiff__mptcp_tx_pcb(struct tcp_pcb *main, size_t *room)
{
	struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(main);
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;
	struct cand best = {0};
	size_t lim;

	*room = tcp_sndbuf(main);
	if (!c || sf->join || !c->joins || sf->phase != SKIFF_MPTCP_EST || c->fb.failed)
		return main;
	if (can_take(sf, main))
		best = weigh(main, sf);
	best = best_join(c, best);
	if (!best.pcb || (best.backup && regular_up(c))) {
		/* Every subflow full (or only a backup one has room
		 * while a regular one is up): the send waits. */
		*room = 0;
		return main;
	}
	*room = tcp_sndbuf(best.pcb);
	if (*room > (u32_t)best.pcb->cwnd + SCHED_SLACK - queued(best.pcb))
		*room = (u32_t)best.pcb->cwnd + SCHED_SLACK - queued(best.pcb);
	lim = skiff__mptcp_tx_limit(main);
	if (*room > lim)
		*room = lim;
	if (!lim)
		probe_arm(c);
	return best.pcb;
}

/* The connection of @p main when its data may go on joins. */
static struct skiff_mptcp_conn *sched_conn(const struct tcp_pcb *main)
{
	const struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(main);
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;

	if (!c || sf->join || !c->joins || sf->phase != SKIFF_MPTCP_EST || c->fb.failed)
		return NULL;
	return c;
}

size_t skiff__mptcp_tx_limit(const struct tcp_pcb *main)
{
	const struct skiff_mptcp_conn *c = sched_conn(main);
	uint64_t next, edge;
	u32_t wnd;

	if (!c)
		return SIZE_MAX;
	/* The peer's receive window is one for the connection, from its
	 * DATA_ACK on (3.3.4): Linux drops data past it at the data level
	 * (NoDSSInWindow), however its subflows ACKed it. Its right edge
	 * is the rightmost any subflow's ACK showed (conn.c). Before the
	 * first DATA_ACK: the smallest window a subflow that is not stale
	 * carries. */
	next = c->multi ? c->snd_data_nxt : c->local_idsn + 1 + write_rel(main, c->main_sf);
	if (c->wnd_end_set)
		return (int64_t)(c->wnd_end - next) > 0 ? (size_t)(c->wnd_end - next) : 0;
	wnd = c->main_sf->stale ? UINT32_MAX : main->snd_wnd;
	for (const struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
		if (j->pcb && j->phase == SKIFF_MPTCP_EST && !j->stale && j->pcb->snd_wnd < wnd)
			wnd = j->pcb->snd_wnd;
	if (wnd == UINT32_MAX)
		wnd = main->snd_wnd; /* every subflow stale */
	edge = c->snd_data_acked + wnd;
	return (int64_t)(edge - next) > 0 ? (size_t)(edge - next) : 0;
}

bool skiff__mptcp_writable(const struct tcp_pcb *main)
{
	const struct skiff_mptcp_conn *c = sched_conn(main);

	if (!c)
		return tcp_sndbuf(main) > TCP_SNDLOWAT && tcp_sndqueuelen(main) < TCP_SNDQUEUELOWAT;
	if (skiff__mptcp_tx_limit(main) <= TCP_SNDLOWAT)
		return false;
	/* A backup subflow counts only when no regular one is up (asked
	 * only about a backup one: this runs at every ACK). */
	for (const struct skiff_mptcp_sf *sf = c->main_sf; sf; sf = skiff__mptcp_sf_next(c, sf)) {
		struct tcp_pcb *pcb = skiff__mptcp_sf_pcb(c, sf);

		if (can_take(sf, pcb) && tcp_sndbuf(pcb) > TCP_SNDLOWAT &&
		    tcp_sndqueuelen(pcb) < TCP_SNDQUEUELOWAT && !(is_backup(sf) && regular_up(c)))
			return true;
	}
	return false;
}

void skiff__mptcp_output(struct tcp_pcb *main)
{
	struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(main);

	if (!sf || sf->join || !sf->conn)
		return;
	for (struct skiff_mptcp_sf *j = sf->conn->joins; j; j = j->next)
		if (j->pcb && j->pcb->unsent && j->phase == SKIFF_MPTCP_EST)
			tcp_output(j->pcb);
}

/* ---- reinjection ------------------------------------------------------------------ */

void skiff__mptcp_reinject_later(struct skiff_mptcp_conn *c)
{
	if (c->reinject_queued)
		return;
	c->reinject_queued = true;
	c->reinject_next = skiff__mptcp_reinject_due;
	skiff__mptcp_reinject_due = c;
}

/* The data sequence number @p a or @p b, whichever is later. */
static uint64_t dsn_max(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) > 0 ? a : b;
}

/* The data sequence number of queued segment @p seg's first byte on
 * @p sf: from its frame's mapping, else from the extents; to @p room how
 * many bytes from there that mapping covers. */
static uint64_t seg_dsn(struct skiff_mptcp_sf *sf, const struct tcp_seg *seg, uint32_t *room)
{
	uint32_t seq = lwip_ntohl(seg->tcphdr->seqno), off;
	const struct pkb_ext_mptcp *x = skiff__mptcp_seg_map(sf, seg->p, seq, seg->len, &off);

	if (!x)
		return skiff__mptcp_tx_dsn(sf, skiff__mptcp_widen(sf->snd_rel, seq - sf->iss - 1),
					   room);
	*room = x->data_len - off;
	return x->data_seq + off;
}

/* The first subflow's segments of @p c (sent or not, in queue order: not
 * in data sequence order, since a requeued loss and data reinjected there
 * sit among newer data) with data past data sequence @p floor, each
 * piece past it copied out to @p fn, those already moved elsewhere
 * skipped with @p skip_moved. False when @p fn stopped the walk. */
static bool main_pieces(struct skiff_mptcp_conn *c, uint64_t floor, bool skip_moved,
			bool (*fn)(struct skiff_mptcp_conn *c, struct tcp_seg *seg, uint64_t dsn,
				   const uint8_t *data, uint16_t n))
{
	static uint8_t buf[0xffff];
	struct tcp_pcb *main = c->main_pcb;
	struct skiff_mptcp_sf *m = c->main_sf;
	struct tcp_seg *q[2] = {main->unacked, main->unsent};

	for (unsigned k = 0; k < 2; k++)
		for (struct tcp_seg *seg = q[k]; seg; seg = seg->next) {
			uint32_t room;
			uint64_t dsn;
			uint16_t off, n;

			if (!seg->len || (skip_moved && (seg->skiff_sflags & SKIFF_SEG_MOVED)))
				continue;
			dsn = seg_dsn(m, seg, &room);
			if (room < seg->len || (int64_t)(dsn + seg->len - floor) <= 0)
				continue;
			off = (uint16_t)((int64_t)(floor - dsn) > 0 ? floor - dsn : 0);
			n = (uint16_t)(seg->len - off);
			if (pbuf_copy_partial(seg->p, buf, n, seg->p->tot_len - seg->len + off) !=
				    n ||
			    !fn(c, seg, dsn + off, buf, n))
				return false;
		}
	return true;
}

/* One piece of a stale first subflow's data onto the join the scheduler
 * would pick (none, or no room: the rest at a later round); its segment
 * is marked, so that no later round moves it again. */
static bool piece_to_join(struct skiff_mptcp_conn *c, struct tcp_seg *seg, uint64_t dsn,
			  const uint8_t *data, uint16_t n)
{
	struct tcp_pcb *j = best_join(c, (struct cand){0}).pcb;

	if (!j || tcp_sndbuf(j) < n) {
		c->reinject_more = true;
		return false;
	}
	c->wr_dsn = dsn;
	if (skiff__tcp_write(j, data, n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
		c->reinject_more = true;
		return false;
	}
	tcp_output(j);
	seg->skiff_sflags |= SKIFF_SEG_MOVED;
	if (!c->main_rj || (int64_t)(dsn + n - c->main_rj_dsn) > 0)
		c->main_rj_dsn = dsn + n;
	c->main_rj = true;
	skiff__s.stats.mptcp_main_reinject_bytes += n;
	return true;
}

/* The first subflow of @p c is stale: what it holds (sent or not) that
 * the peer has not DATA_ACKed goes again on joins, once, from lwIP's own
 * segments (the first subflow keeps them, and sends them itself if its
 * path comes back; the peer drops what reaches it twice). */
static void main_to_joins(struct skiff_mptcp_conn *c)
{
	if (!c->multi)
		go_multi(c);
	c->main_all_moved = main_pieces(c, c->snd_data_acked, true, piece_to_join);
	c->wr_dsn = c->snd_data_nxt;
}

/* One piece of a dying first subflow's data kept in a copy that no
 * subflow carries: reinjection writes it on the new first subflow. */
static bool piece_keep(struct skiff_mptcp_conn *c, struct tcp_seg *seg, uint64_t dsn,
		       const uint8_t *data, uint16_t n)
{
	(void)seg;
	if (rtx_keep(c, NULL, dsn, data, n)) {
		skiff__s.stats.mptcp_reinject_nomem++;
		return false;
	}
	skiff__s.stats.mptcp_main_reinject_bytes += n;
	return true;
}

/* The data sequence number past the last byte the first subflow of @p c
 * took (its extents once multi, else its implicit mapping). */
static uint64_t main_end(const struct skiff_mptcp_conn *c)
{
	const struct skiff_mptcp_sf *m = c->main_sf;
	uint64_t end = c->snd_data_acked;

	if (!c->multi)
		return c->local_idsn + 1 + write_rel(c->main_pcb, m);
	for (unsigned i = 0; i < m->nsmap; i++)
		end = dsn_max(end, m->smap[i].dsn + m->smap[i].len);
	return end;
}

bool skiff__mptcp_main_keep(struct skiff_mptcp_conn *c, bool purged)
{
	if (purged)
		/* Its segments are freed: only when its last stale round
		 * moved every one onto joins, and it took nothing since. */
		return c->main_rj && c->main_all_moved &&
		       (int64_t)(main_end(c) - dsn_max(c->snd_data_acked, c->main_rj_dsn)) <= 0;
	if (!c->multi)
		go_multi(c);
	c->wr_dsn = c->snd_data_nxt;
	/* Everything not DATA_ACKed, moved or not: what went on a join
	 * as a reinjection has no copy of its own there. */
	return main_pieces(c, c->snd_data_acked, false, piece_keep);
}

bool skiff__mptcp_joins_may_close(const struct skiff_mptcp_conn *c)
{
	return c->app_closed && c->fin_queued && !c->joins_closed &&
	       (int64_t)(c->snd_data_acked - c->fin_dsn) > 0;
}

bool skiff__mptcp_data_fin_on_join(const struct skiff_mptcp_conn *c)
{
	return c->fin_queued && c->main_sf && c->main_sf->stale &&
	       (int64_t)(c->snd_data_acked - c->fin_dsn) <= 0;
}

void skiff__mptcp_fin_queued(struct skiff_mptcp_conn *c, bool close)
{
	struct skiff_mptcp_sf *m = c->main_sf;

	if (close)
		c->app_closed = true;
	if (c->fin_queued || !m || !c->main_pcb)
		return;
	c->fin_queued = true;
	c->fin_dsn = c->multi ? c->snd_data_nxt : c->local_idsn + 1 + write_rel(c->main_pcb, m);
}

void skiff__mptcp_main_stale(struct skiff_mptcp_sf *sf, bool stale)
{
	struct skiff_mptcp_conn *c = sf->conn;

	if (sf->stale == stale)
		return;
	sf->stale = stale;
	if (stale)
		skiff__s.stats.mptcp_main_stale++;
	/* Stale: its data goes on joins; back: the copies of dead joins'
	 * data that waited for it. */
	skiff__mptcp_reinject_later(c);
}

/* The end of the data: the DATA_FIN on a join when the first subflow
 * cannot carry it (a pure ACK on each join whose queue is empty; again
 * at each retransmission of the first subflow's), and the joins' close
 * once the peer DATA_ACKed it. */
static void closing_round(struct skiff_mptcp_conn *c)
{
	if (skiff__mptcp_data_fin_on_join(c))
		for (struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
			if (j->pcb && j->phase == SKIFF_MPTCP_EST && !j->pcb->unsent &&
			    (j->pcb->state == ESTABLISHED || j->pcb->state == CLOSE_WAIT)) {
				tcp_ack_now(j->pcb);
				tcp_output(j->pcb);
			}
	if (skiff__mptcp_joins_may_close(c)) {
		c->joins_closed = true;
		skiff__mptcp_joins_close(c, false);
	}
}

/* Whether a join holds data of @p c's the peer has not DATA_ACKed and
 * the first subflow has not taken again. */
static bool joins_owe(const struct skiff_mptcp_conn *c)
{
	for (const struct skiff_mptcp_rtx *r = c->rtx; r; r = r->next)
		if (!r->reinjected)
			return true;
	return false;
}

/* The first subflow's close must wait while a join owes data (the
 * first subflow may have to carry it: no data can follow its FIN), or
 * while data written again there is not sent yet: lwIP puts a FIN on
 * the last unsent segment, whose mapping would then end the data short
 * of the DATA_FIN's number. A stale first subflow carries nothing: it
 * closes at once, as before. */
static bool main_close_waits(const struct skiff_mptcp_conn *c)
{
	const struct tcp_pcb *m = c->main_pcb;

	if (!m || !c->main_sf || c->main_sf->stale || c->main_sf->phase != SKIFF_MPTCP_EST ||
	    (m->state != ESTABLISHED && m->state != CLOSE_WAIT))
		return false;
	/* Our DATA_FIN's number reached: everything before it is in. */
	if ((int64_t)(c->snd_data_acked - c->fin_dsn) >= 0)
		return false;
	return joins_owe(c) || (c->rtx && m->unsent);
}

bool skiff__mptcp_close_defer(struct skiff_mptcp_conn *c, bool shut)
{
	if (c->close_deferred) {
		/* The application closes after a shutdown that waits. */
		c->close_shut = c->close_shut && shut;
		return true;
	}
	if (!main_close_waits(c))
		return false;
	c->close_deferred = true;
	c->close_shut = shut;
	skiff__s.stats.mptcp_close_deferred++;
	return true;
}

/* A deferred close (or shutdown) of the first subflow, once nothing is
 * owed there. */
static void deferred_close(struct skiff_mptcp_conn *c)
{
	struct tcp_pcb *m = c->main_pcb;

	if (!c->close_deferred || main_close_waits(c))
		return;
	c->close_deferred = false;
	if (!m || (m->state != ESTABLISHED && m->state != CLOSE_WAIT))
		return;
	if (!c->close_shut) {
		skiff__tcp_close_pcb(m);
		return;
	}
	/* In these states lwIP answers ERR_OK, keeping a FIN it could not
	 * queue for later (TF_CLOSEPEND). */
	skiff__timer_arm(m);
	(void)tcp_shutdown(m, 0, 1);
}

/* The copies of @p c's data that went on a join now dead or stale (and
 * not DATA_ACKed) go again on the first subflow, as far as it has room
 * (the rest at a later round); a stale first subflow's data goes on
 * joins instead. */
static void reinject(struct skiff_mptcp_conn *c)
{
	struct skiff_stack *st = &skiff__s;
	struct tcp_pcb *main = c->main_pcb;
	bool sent = false, more = false;

	skiff__mptcp_rtx_acked(c);
	if (!main || !c->main_sf || c->main_sf->phase != SKIFF_MPTCP_EST)
		return;
	if (c->main_sf->stale) {
		main_to_joins(c);
		closing_round(c);
		deferred_close(c);
		return;
	}
	closing_round(c);
	if (main->state != ESTABLISHED && main->state != CLOSE_WAIT)
		return;
	for (struct skiff_mptcp_rtx *r = c->rtx; r; r = r->next) {
		if (r->reinjected || (r->sf && !r->sf->stale))
			continue;
		if (tcp_sndbuf(main) < r->len || tcp_sndqueuelen(main) >= TCP_SND_QUEUELEN - 4) {
			more = true;
			break;
		}
		c->wr_dsn = r->dsn;
		if (skiff__tcp_write(main, r->data, (u16_t)r->len, TCP_WRITE_FLAG_COPY) != ERR_OK) {
			c->wr_dsn = c->snd_data_nxt;
			more = true;
			break;
		}
		r->reinjected = true;
		st->stats.mptcp_reinject_bytes += r->len;
		sent = true;
	}
	c->wr_dsn = c->snd_data_nxt;
	if (sent)
		tcp_output(main);
	if (more)
		c->reinject_more = true;
	deferred_close(c);
	/* Still waiting only for its unsent data to go: the next round. */
	if (c->close_deferred && !joins_owe(c))
		c->reinject_more = true;
}

bool skiff__mptcp_main_peer_fin(struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(pcb);
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;
	bool open = false;

	if (sf && sf->peer_fin)
		return true;
	/* (Its own DATA_FIN does not tell: a Linux peer that shut its side
	 * down still reads, and closes the subflow when its path manager
	 * removes the address. Once everything of ours is DATA_ACKed, going
	 * stale moves nothing.) */
	if (!c || sf->join || c->main_sf != sf || sf->phase != SKIFF_MPTCP_EST || c->fb.failed ||
	    !c->fin_queued)
		return false;
	for (const struct skiff_mptcp_sf *j = c->joins; j && !open; j = j->next)
		open = skiff__mptcp_sf_open(c, j) != NULL;
	if (!open)
		return false;
	sf->peer_fin = true;
	skiff__mptcp_main_stale(sf, true);
	skiff__mptcp_reinject_later(c);
	skiff__s.stats.mptcp_main_fin_stale++;
	return true;
}

bool skiff__mptcp_fail_reset(struct skiff_mptcp_sf *sf, uint64_t dsn)
{
	struct skiff_mptcp_conn *c = sf->conn;
	bool other = false;

	/* One subflow (ever): the connection falls back to TCP instead. */
	if (!c->joined || c->fb.failed)
		return false;
	if (sf->fail_reset)
		return true;
	if (sf->join) {
		other = c->main_sf && skiff__mptcp_sf_open(c, c->main_sf);
		for (const struct skiff_mptcp_sf *j = c->joins; j && !other; j = j->next)
			other = j != sf && skiff__mptcp_sf_open(c, j);
	} else {
		other = skiff__mptcp_may_hand_over(sf);
	}
	if (!other)
		return false;
	sf->fail_reset = true;
	sf->fail_seq = dsn;
	sf->rst_reason = SKIFF_MPTCP_RST_EMIDDLEBOX;
	skiff__s.stats.mptcp_csum_fail_reset++;
	c->fail_reset_due = true;
	skiff__mptcp_reinject_later(c);
	return true;
}

/* The subflows of @p c a checksum failed on are reset (3.7): a join with
 * tcp_abort() (what it carried of ours goes again on the others:
 * skiff__mptcp_sf_gone()), the first subflow once the socket moved onto
 * a join (tcpglue.c). */
static void fail_resets(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_sf *j;

	c->fail_reset_due = false;
	for (;;) {
		for (j = c->joins; j && !(j->fail_reset && j->pcb && !j->closing); j = j->next)
			;
		if (!j)
			break;
		j->closing = true;
		tcp_abort(j->pcb); /* frees j */
	}
	/* (skiff__mptcp_fail_reset() checked in this round that the socket
	 * may move: should it not, the first subflow stays, and the peer's
	 * data-level retransmission timer sends the dropped mapping again.) */
	if (c->main_sf && c->main_sf->fail_reset && c->main_pcb)
		(void)skiff__tcp_subflow_reset(c->main_pcb);
}

void skiff__mptcp_reinject_run(void)
{
	struct skiff_mptcp_conn *c, *again = NULL;

	while ((c = skiff__mptcp_reinject_due)) {
		skiff__mptcp_reinject_due = c->reinject_next;
		c->reinject_queued = false;
		c->reinject_more = false;
		if (c->fail_reset_due)
			fail_resets(c);
		reinject(c);
		if (c->reinject_more) {
			c->reinject_next = again;
			again = c;
		}
	}
	/* What found no room waits for the next round. */
	while ((c = again)) {
		again = c->reinject_next;
		skiff__mptcp_reinject_later(c);
	}
}

void skiff__mptcp_sf_gone(struct skiff_mptcp_sf *sf)
{
	struct skiff_mptcp_conn *c = sf->conn;
	bool any = false;

	for (struct skiff_mptcp_rtx *r = c->rtx; r; r = r->next)
		if (r->sf == sf) {
			r->sf = NULL;
			any = true;
		}
	if (any && c->main_pcb)
		skiff__mptcp_reinject_later(c);
}

void skiff__mptcp_join_stale(struct skiff_mptcp_sf *sf, bool stale)
{
	struct skiff_mptcp_conn *c = sf->conn;

	if (sf->stale == stale)
		return;
	sf->stale = stale;
	if (!stale)
		return;
	skiff__s.stats.mptcp_join_stale++;
	for (struct skiff_mptcp_rtx *r = c->rtx; r; r = r->next)
		if (r->sf == sf && !r->reinjected) {
			skiff__mptcp_reinject_later(c);
			break;
		}
}
