/* Connection-level receive on one subflow (RFC 8684 3.3): the peer's
 * mappings tie subflow bytes to data sequence numbers, and the socket gets
 * each data sequence number once, in order. A peer may send data again at
 * the connection level (Linux does when DATA_ACKs stop for its
 * retransmission timeout) on the same subflow, under new subflow sequence
 * numbers: TCP takes those bytes like any others, and here, on their way
 * to the socket, the ones the connection already has are cut out (as
 * Linux's own receiver drops a mapping below its ack_seq). So the data
 * and subflow sequence spaces are no fixed offset apart: the mappings are
 * kept as extents (conn.h) until the subflow has handed their bytes on. */
#include <errno.h>
#include <string.h>

#include "instance.h"
#include "mptcp/conn.h"

#include "lwip/pbuf.h"
#include "lwip/tcp.h"

void skiff__mptcp_rcv_start(struct skiff_mptcp_sf *sf, uint64_t dsn)
{
	sf->conn->rcv_data_nxt = dsn;
	sf->rcv_deliv = 0;
	sf->rmap_off = dsn;
	sf->nrmap = 0;
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

/* The parts of @p q (subflow positions from @p rel, one pbuf) the
 * connection does not have yet, as @p q cut down and copies chained
 * behind it; NULL when it has them all. Duplicate bytes add to @p dup. */
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

struct pbuf *skiff__mptcp_conn_recv(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	uint64_t rel = sf->rcv_deliv, run;
	struct pbuf *out = NULL, *q, *next;
	uint32_t dup = 0;

	sf->rcv_deliv += p->tot_len;
	if (rmap_run(sf, rel, &run) == c->rcv_data_nxt && run >= p->tot_len) {
		/* The usual case: all of it new, under one mapping. */
		c->rcv_data_nxt += p->tot_len;
		rmap_prune(sf);
		return p;
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
	st->stats.mptcp_dup_data_rx += dup;
	/* The socket never sees these bytes: their room in the window is
	 * given back here rather than when it reads. */
	while (dup) {
		u16_t k = dup > 0xffff ? 0xffff : (u16_t)dup;

		tcp_recved(pcb, k);
		dup -= k;
	}
	return out;
}
