/* Connection-level receive on one subflow (RFC 8684 3.3): the peer's
 * mappings tie subflow bytes to data sequence numbers, and the socket gets
 * each data sequence number once, in order. A peer may send data again at
 * the connection level (Linux does when DATA_ACKs stop for its
 * retransmission timeout) on the same subflow, under new subflow sequence
 * numbers: TCP takes those bytes like any others, and here, on their way
 * to the socket, the ones the connection already has are cut out (as
 * Linux's own receiver drops a mapping below its ack_seq). So the data
 * and subflow sequence spaces are no fixed offset apart: the mappings are
 * kept as extents (conn.h) until the subflow has handed their bytes on.
 *
 * With DSS checksums (3.3.1) a mapping's bytes are held back until the
 * whole mapping has arrived and been checked; Linux maps up to 64 KiB at
 * once, over many segments. A mapping whose checksum is wrong sends an
 * MP_FAIL to the peer (3.7), whose infinite mapping then makes the
 * subflow plain TCP, covering the failed bytes too: they go to the socket
 * as TCP would hand them on (as Linux does), so the byte stream has no
 * gap; the failure is counted and the socket says FALLBACK. */
#include <errno.h>
#include <string.h>

#include "frames.h"
#include "instance.h"
#include "mptcp/conn.h"
#include "tcpglue.h"

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

/* A test's flipped byte (skiff__mptcp_corrupt_rx()): one plus its
 * subflow position. */
static uint64_t corrupt_rx_at;
static int corrupt_rx_on; /* 0: any subflow's position, 1: a join's, 2: the first's */

void skiff__mptcp_corrupt_rx(uint64_t off)
{
	corrupt_rx_at = off + 1;
	corrupt_rx_on = 0;
}

void skiff__mptcp_corrupt_rx_on(uint64_t off, bool join)
{
	corrupt_rx_at = off + 1;
	corrupt_rx_on = join ? 1 : 2;
}

void skiff__mptcp_rcv_start(struct skiff_mptcp_sf *sf, uint64_t dsn)
{
	sf->conn->rcv_data_nxt = dsn;
	sf->rcv_deliv = 0;
	sf->rmap_off = dsn;
	sf->nrmap = 0;
}

int skiff__mptcp_cmap_add(struct skiff_mptcp_sf *sf, const struct skiff_mptcp_cmap *m)
{
	unsigned i;

	/* Checked already (a resend of bytes handed on), or nothing to check. */
	if (m->rel < sf->rcv_deliv || !m->len)
		return 0;
	for (i = 0; i < sf->ncmap && sf->cmap[i].rel < m->rel; i++)
		;
	if (i < sf->ncmap && sf->cmap[i].rel == m->rel) {
		struct skiff_mptcp_cmap *o = &sf->cmap[i];

		if (o->dsn != m->dsn || o->len != m->len)
			return -EINVAL;
		/* The same mapping again with the DATA_FIN added (its data-level
		 * length one more, so another checksum): Linux sends its last
		 * mapping so when the DATA_FIN follows the data. Checked as
		 * the later one says. */
		if (o->dll != m->dll) {
			o->dll = m->dll;
			o->csum = m->csum;
			return 0;
		}
		/* Every segment of a mapping carries it: the same again. */
		return o->csum == m->csum ? 0 : -EINVAL;
	}
	if (sf->ncmap == SKIFF_MPTCP_CMAPS)
		return -ENOBUFS;
	memmove(sf->cmap + i + 1, sf->cmap + i, (sf->ncmap - i) * sizeof(sf->cmap[0]));
	sf->cmap[i] = *m;
	sf->ncmap++;
	return 0;
}

int skiff__mptcp_rmap_add(struct skiff_mptcp_sf *sf, uint64_t rel, uint32_t len, uint64_t dsn)
{
	uint64_t end = rel + len, off = dsn - rel;
	unsigned i, j;

	if (end <= sf->rcv_deliv)
		return 0; /* bytes handed on already: TCP drops them too */
	if (rel < sf->rcv_deliv)
		rel = sf->rcv_deliv;
	for (i = 0; i < sf->nrmap; i++) {
		const struct skiff_mptcp_rmap *r = &sf->rmap[i];

		if (r->rel < end && rel < r->end && r->off != off)
			return -EINVAL;
	}
	/* Extents it overlaps or touches with the same offset become one. */
	for (i = 0, j = 0; i < sf->nrmap; i++) {
		const struct skiff_mptcp_rmap *r = &sf->rmap[i];

		if (r->off == off && r->rel <= end && rel <= r->end) {
			rel = r->rel < rel ? r->rel : rel;
			end = r->end > end ? r->end : end;
			continue;
		}
		sf->rmap[j++] = *r;
	}
	sf->nrmap = j;
	if (sf->nrmap == SKIFF_MPTCP_RMAPS)
		return -ENOBUFS;
	for (i = sf->nrmap; i > 0 && sf->rmap[i - 1].rel > rel; i--)
		sf->rmap[i] = sf->rmap[i - 1];
	sf->rmap[i] = (struct skiff_mptcp_rmap){.rel = rel, .end = end, .off = off};
	sf->nrmap++;
	return 0;
}

/* The data sequence number of subflow position @p rel, and in @p run how
 * many bytes from there follow on from it. Bytes no mapping covers go on
 * from the mapping before them. */
static uint64_t rmap_run(const struct skiff_mptcp_sf *sf, uint64_t rel, uint64_t *run)
{
	uint64_t off = sf->rmap_off;

	*run = UINT64_MAX;
	for (unsigned i = 0; i < sf->nrmap; i++) {
		const struct skiff_mptcp_rmap *r = &sf->rmap[i];

		if (rel < r->rel) {
			*run = r->rel - rel;
			break;
		}
		off = r->off;
		if (rel < r->end) {
			*run = r->end - rel;
			break;
		}
	}
	return rel + off;
}

uint64_t skiff__mptcp_rmap_dsn(const struct skiff_mptcp_sf *sf, uint64_t rel)
{
	uint64_t run;

	return rmap_run(sf, rel, &run);
}

/* Extents the subflow has handed on wholly go; the last one's offset stays. */
static void rmap_prune(struct skiff_mptcp_sf *sf)
{
	unsigned i = 0;

	while (i < sf->nrmap && sf->rmap[i].end <= sf->rcv_deliv)
		sf->rmap_off = sf->rmap[i++].off;
	if (i) {
		sf->nrmap -= i;
		memmove(sf->rmap, sf->rmap + i, sf->nrmap * sizeof(sf->rmap[0]));
	}
}

/* ---- data-level reassembly (several subflows) ------------------------------------ */

/* Bytes that left the first subflow's window without reaching its
 * socket get their room back there (the socket gives back only what it
 * reads); a join's were given back when taken (join.c). */
static void give_back(struct skiff_mptcp_conn *c, bool from_main, uint32_t n)
{
	if (from_main && c->main_pcb)
		skiff__tcp_recved(c->main_pcb, n);
}

/* @p p, data sequence from @p dsn, came ahead of the receive pointer (on
 * another subflow than the data before it): kept, sorted by dsn, until
 * the data before it is in. Without room it is dropped and counted; the
 * peer sends it again at the connection level (its DATA_ACK stays). */
static void ooo_add(struct skiff_mptcp_conn *c, uint64_t dsn, struct pbuf *p, bool from_main)
{
	struct skiff_stack *st = &skiff__s;
	uint32_t len = p->tot_len;
	unsigned i;

	if (c->nooo == SKIFF_MPTCP_OOO || c->ooo_bytes + len > SKIFF_MPTCP_OOO_BYTES) {
		st->stats.mptcp_ooo_drop += len;
		give_back(c, from_main, len);
		pbuf_free(p);
		return;
	}
	for (i = c->nooo; i > 0 && (int64_t)(c->ooo[i - 1].dsn - dsn) > 0; i--)
		;
	/* Data that continues the piece before it joins it (a subflow's
	 * data comes in runs): a piece holds up to 64 KiB. */
	if (i && c->ooo[i - 1].dsn + c->ooo[i - 1].p->tot_len == dsn &&
	    c->ooo[i - 1].from_main == from_main && c->ooo[i - 1].p->tot_len + len <= 0xffff) {
		pbuf_cat(c->ooo[i - 1].p, p);
		c->ooo_bytes += len;
		st->stats.mptcp_ooo_bytes += len;
		return;
	}
	memmove(c->ooo + i + 1, c->ooo + i, (c->nooo - i) * sizeof(c->ooo[0]));
	c->ooo[i] = (struct skiff_mptcp_ooo){.dsn = dsn, .p = p, .from_main = from_main};
	c->nooo++;
	c->ooo_bytes += len;
	st->stats.mptcp_ooo_bytes += len;
}

/* Kept data the receive pointer has reached, appended to @p out (what it
 * holds that the connection has already is cut out). */
static struct pbuf *ooo_drain(struct skiff_mptcp_conn *c, struct pbuf *out)
{
	struct skiff_stack *st = &skiff__s;

	while (c->nooo && (int64_t)(c->ooo[0].dsn - c->rcv_data_nxt) <= 0) {
		struct skiff_mptcp_ooo e = c->ooo[0];
		uint32_t len = e.p->tot_len;
		uint64_t cut = c->rcv_data_nxt - e.dsn;

		c->nooo--;
		memmove(c->ooo, c->ooo + 1, c->nooo * sizeof(c->ooo[0]));
		c->ooo_bytes -= len;
		if (cut >= len) {
			st->stats.mptcp_dup_data_rx += len;
			give_back(c, e.from_main, len);
			pbuf_free(e.p);
			continue;
		}
		if (cut) {
			st->stats.mptcp_dup_data_rx += cut;
			give_back(c, e.from_main, (uint32_t)cut);
			e.p = pbuf_free_header(e.p, (u16_t)cut);
		}
		c->rcv_data_nxt += len - cut;
		if (out)
			pbuf_cat(out, e.p);
		else
			out = e.p;
	}
	return out;
}

/* The parts of @p q (subflow positions from @p rel, one pbuf) the
 * connection does not have yet, as @p q cut down and copies chained
 * behind it; NULL when it has them all. Duplicate bytes add to @p dup;
 * with several subflows, parts ahead of the receive pointer are kept
 * (copies) for reassembly. */
static struct pbuf *trim(struct skiff_mptcp_sf *sf, struct pbuf *q, uint64_t rel, uint32_t *dup)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	struct {
		u16_t at, len;
	} keep[SKIFF_MPTCP_RMAPS + 1];
	unsigned nkeep = 0;
	u16_t at = 0;

	while (at < q->len) {
		uint64_t run, d = rmap_run(sf, rel + at, &run), behind = 0;
		u16_t k = run < (uint64_t)(q->len - at) ? (u16_t)run : (u16_t)(q->len - at);

		if ((int64_t)(d - c->rcv_data_nxt) < 0) {
			behind = c->rcv_data_nxt - d;
			if (behind > k)
				behind = k;
		} else if (d != c->rcv_data_nxt && c->joined) {
			/* Ahead: the data before it comes on another subflow. */
			struct pbuf *r = pbuf_alloc(PBUF_RAW, k, PBUF_RAM);

			if (r) {
				memcpy(r->payload, (uint8_t *)q->payload + at, k);
				ooo_add(c, d, r, !sf->join);
			} else {
				st->stats.mptcp_ooo_drop += k;
				if (!sf->join)
					*dup += k; /* its window back, as for a duplicate */
			}
			at = (u16_t)(at + k);
			continue;
		} else if (d != c->rcv_data_nxt) {
			/* Data past a hole at the data level: one subflow cannot
			 * make one (the input check drops such mappings when in
			 * order). Counted, delivered where it is. */
			st->stats.mptcp_map_mismatch++;
			c->rcv_data_nxt = d;
		}
		*dup += (uint32_t)behind;
		if (k > behind) {
			u16_t from = (u16_t)(at + behind), n = (u16_t)(k - behind);

			if (nkeep && keep[nkeep - 1].at + keep[nkeep - 1].len == from)
				keep[nkeep - 1].len = (u16_t)(keep[nkeep - 1].len + n);
			else if (nkeep < sizeof(keep) / sizeof(keep[0]))
				keep[nkeep].at = from, keep[nkeep++].len = n;
			c->rcv_data_nxt += n;
		}
		at = (u16_t)(at + k);
	}
	if (!nkeep) {
		pbuf_free(q);
		return NULL;
	}
	if (nkeep == 1 && keep[0].at == 0 && keep[0].len == q->len)
		return q;
	/* Bytes kept after a duplicate inside one pbuf (a mapping that
	 * changed twice within it) go in copies; without memory for one
	 * they are lost, and counted. */
	struct pbuf *tail = NULL;

	for (unsigned i = 1; i < nkeep; i++) {
		struct pbuf *r = pbuf_alloc(PBUF_RAW, keep[i].len, PBUF_RAM);

		if (!r) {
			st->stats.mptcp_map_mismatch++;
			continue;
		}
		memcpy(r->payload, (uint8_t *)q->payload + keep[i].at, keep[i].len);
		if (tail)
			pbuf_cat(tail, r);
		else
			tail = r;
	}
	pbuf_remove_header(q, keep[0].at);
	pbuf_realloc(q, keep[0].len);
	if (tail)
		pbuf_cat(q, tail);
	return q;
}

static struct pbuf *pass(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	uint64_t rel = sf->rcv_deliv, run;
	struct pbuf *out = NULL, *q, *next;
	uint32_t dup = 0;
	uint64_t dsn = rmap_run(sf, rel, &run);

	sf->rcv_deliv += p->tot_len;
	if (dsn == c->rcv_data_nxt && run >= p->tot_len) {
		/* The usual case: all of it new, under one mapping. */
		c->rcv_data_nxt += p->tot_len;
		rmap_prune(sf);
		return c->nooo ? ooo_drain(c, p) : p;
	}
	if (c->joined && run >= p->tot_len && (int64_t)(dsn - c->rcv_data_nxt) > 0) {
		/* All of it ahead, under one mapping: kept as it is. */
		rmap_prune(sf);
		ooo_add(c, dsn, p, !sf->join);
		return NULL;
	}
	for (q = p; q; q = next) {
		u16_t len = q->len;

		/* One pbuf at a time: the chain's reference to the next
		 * becomes ours. */
		next = q->next;
		q->next = NULL;
		q->tot_len = q->len;
		q = trim(sf, q, rel, &dup);
		rel += len;
		if (!q)
			continue;
		if (out)
			pbuf_cat(out, q);
		else
			out = q;
	}
	rmap_prune(sf);
	if (c->nooo)
		out = ooo_drain(c, out);
	st->stats.mptcp_dup_data_rx += dup;
	/* The socket never sees these bytes: their room in the window is
	 * given back here rather than when it reads (a join's was already). */
	if (!sf->join)
		skiff__tcp_recved(pcb, dup);
	return out;
}

/* The first @p n bytes of the held chain, taken off it (a pbuf across the
 * boundary gives its tail to a copy), or NULL without memory for that. */
static struct pbuf *held_take(struct skiff_mptcp_sf *sf, uint32_t n)
{
	struct pbuf *head = NULL, *q;

	while (n) {
		q = sf->held;
		if (q->len > n) {
			struct pbuf *r = pbuf_alloc(PBUF_RAW, (u16_t)(q->len - n), PBUF_RAM);

			if (!r) {
				/* Put back what was taken; tried again on the next data. */
				if (head) {
					pbuf_cat(head, sf->held);
					sf->held = head;
				}
				return NULL;
			}
			memcpy(r->payload, (uint8_t *)q->payload + n, r->len);
			r->next = q->next;
			r->tot_len = (u16_t)(r->len + (q->next ? q->next->tot_len : 0));
			q->next = NULL;
			pbuf_realloc(q, (u16_t)n);
			sf->held = r;
		} else {
			sf->held = q->next;
			q->next = NULL;
			q->tot_len = q->len;
		}
		sf->held_len -= q->len;
		n -= q->len;
		if (head)
			pbuf_cat(head, q);
		else
			head = q;
	}
	return head;
}

/* A mapping whose checksum is wrong (3.7): counted. While another
 * subflow is open (a join was ever taken), this subflow is reset with
 * MP_FAIL and its bytes dropped (true): the peer sends them again on the
 * others. Else the first failure sends MP_FAIL naming it and the socket
 * is TCP from then on; its bytes are handed on by the caller, as the
 * fallback's TCP hands them on. */
static bool csum_failed(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
			const struct skiff_mptcp_cmap *m)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;

	st->stats.mptcp_csum_err++;
	st->stats.mptcp_csum_fail_bytes += m->len;
	if (skiff__mptcp_fail_reset(sf, m->dsn))
		return true;
	if (!c->fb.failed) {
		c->fb.failed = true;
		c->fb.fail_tx = true;
		c->fb.fail_seq = m->dsn;
		tcp_ack_now(pcb);
	}
	return false;
}

static void out_add(struct pbuf **out, struct pbuf *q)
{
	if (!q)
		return;
	if (*out)
		pbuf_cat(*out, q);
	else
		*out = q;
}

/* With checksums: @p p joins the held bytes, and every mapping now whole
 * is checked and its bytes handed on. */
static struct pbuf *csum_recv(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	struct pbuf *out = NULL, *q;
	uint64_t at = sf->rcv_deliv + sf->held_len;

	if (corrupt_rx_at && corrupt_rx_on == 2 && !sf->join && c->joined && corrupt_rx_at - 1 < at)
		/* The first subflow's byte: the first one at or past the
		 * position once a join was taken. */
		corrupt_rx_at = at + 1;
	if (corrupt_rx_at &&
	    (!corrupt_rx_on || (corrupt_rx_on == 1 ? sf->join : !sf->join && c->joined)) &&
	    corrupt_rx_at - 1 >= at && corrupt_rx_at - 1 < at + p->tot_len) {
		uint32_t off = (uint32_t)(corrupt_rx_at - 1 - at);
		struct pkb *pkb;

		for (q = p; q && off >= q->len; q = q->next)
			off -= q->len;
		((uint8_t *)q->payload)[off] ^= 0xff;
		corrupt_rx_at = 0;
		/* As a middlebox would have changed it: the sum kept at
		 * receipt (chksum.c) is not the byte's any more. */
		if ((pkb = skiff__pkb_of(q->payload)))
			pkb_csum_forget(pkb);
	}
	sf->held_len += p->tot_len;
	if (sf->held)
		pbuf_cat(sf->held, p);
	else
		sf->held = p;
	while (sf->held_len) {
		uint64_t pos = sf->rcv_deliv;
		const struct skiff_mptcp_cmap *m = sf->ncmap ? &sf->cmap[0] : NULL;
		uint32_t n;

		if (c->fb.inf_rx && pos >= c->fb.inf_rel) {
			/* The peer's infinite mapping: TCP from here on. */
			n = sf->held_len;
			q = held_take(sf, n);
			sf->rcv_deliv += n;
			c->rcv_data_nxt += n;
			out_add(&out, q);
			break;
		}
		if (m && m->rel + m->len <= pos) {
			sf->ncmap--;
			memmove(sf->cmap, sf->cmap + 1, sf->ncmap * sizeof(sf->cmap[0]));
			continue;
		}
		if (!m || m->rel > pos) {
			/* Bytes no checksummed mapping covers (the peer fell
			 * back, or a mapping was refused): handed on as they
			 * are, counted unless the connection is falling back. */
			n = m ? (uint32_t)(m->rel - pos) : sf->held_len;
			if (n > sf->held_len)
				n = sf->held_len;
			if (c->fb.inf_rx && c->fb.inf_rel > pos && c->fb.inf_rel - pos < n)
				n = (uint32_t)(c->fb.inf_rel - pos);
			if (!(q = held_take(sf, n)))
				break;
			if (!c->fb.failed)
				st->stats.mptcp_map_mismatch++;
			out_add(&out, pass(pcb, sf, q));
			continue;
		}
		if (m->rel < pos) {
			/* Begins inside bytes handed on already: cannot be checked. */
			st->stats.mptcp_map_mismatch++;
			sf->ncmap--;
			memmove(sf->cmap, sf->cmap + 1, sf->ncmap * sizeof(sf->cmap[0]));
			continue;
		}
		if (sf->held_len < m->len)
			break; /* the rest of the mapping is still to come */
		{
			struct skiff_mptcp_cmap cm = *m;
			bool ok = skiff__mptcp_csum_sum(cm.dsn, (uint32_t)(cm.rel + 1), cm.dll,
							sf->held, 0, cm.len, cm.csum) == 0xffff;

			if (!(q = held_take(sf, cm.len)))
				break;
			sf->ncmap--;
			memmove(sf->cmap, sf->cmap + 1, sf->ncmap * sizeof(sf->cmap[0]));
			if (!ok && csum_failed(pcb, sf, &cm)) {
				/* Dropped: the subflow is going (its window
				 * given back meanwhile). */
				sf->rcv_deliv += cm.len;
				rmap_prune(sf);
				tcp_recved(pcb, (u16_t)cm.len);
				pbuf_free(q);
				continue;
			}
			out_add(&out, pass(pcb, sf, q));
		}
	}
	return out;
}

struct pbuf *skiff__mptcp_conn_recv(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, struct pbuf *p)
{
	if (sf->conn->csum)
		return csum_recv(pcb, sf, p);
	return pass(pcb, sf, p);
}
