/*
 * The frame bridge between UMEM frames (pkb) and lwIP's pbufs.
 *
 * Receive: the pkb is built in the frame's headroom (ext/); its cb holds a
 * pbuf_custom over the frame's data, so lwIP reads the packet where the
 * NIC wrote it, and lwIP's last pbuf_free of it frees the pkb and with it
 * the frame.
 *
 * Transmit: lwIP hands the netif a chain. A TCP segment of a zero-copy send
 * is two pbufs: the headers lwIP built (one PBUF_RAM pbuf) and a PBUF_ROM
 * pbuf pointing at the payload in the application's frame. When that
 * payload starts its frame's data, the headers are written right in front
 * of it, in the frame's headroom, and the span [headers, payload] goes on
 * the TX ring: nothing is copied. A plain send's data was copied once, by
 * tcp_write(), into a frame laid out as one pbuf (patch 0021): IP and
 * Ethernet put their headers in front of the TCP header in that frame, and
 * the frame goes on the ring where it lies. Everything else (control
 * segments, ARP, ICMP, UDP, a payload that does not start its frame, a
 * plain send lwIP wrote into its own heap) is copied whole into a fresh
 * frame.
 */
#include <errno.h>
#include <string.h>

#include "frames.h"
#include "instance.h"
#include "pcap.h"

#include "lwip/pbuf.h"
#include "lwip/prot/ethernet.h"
#include "lwip/priv/tcp_priv.h"

/* An Ethernet frame we send: header, optional VLAN tag, MTU. */
#define FRAME_MAX (SKIFF_MTU + SIZEOF_ETH_HDR + SIZEOF_VLAN_HDR)

PKB__STATIC_ASSERT(sizeof(struct pbuf_custom) <= PKB_CB_SIZE,
		   "the pbuf_custom of a received frame lives in its pkb's cb");

/* ---- receive ------------------------------------------------------------- */

struct pkb *skiff__pkb_of(const void *ptr)
{
	const struct umem_geometry *g = &skiff__s.geo;
	const uint8_t *p = ptr;
	uint64_t addr;

	if (!g->area || p < g->area || p >= g->area + g->size)
		return NULL;
	addr = umem_geo_frame(g, umem_geo_addr(g, p));
	return (struct pkb *)(g->area + addr + PKB_SHINFO_SIZE);
}

/* lwIP's last pbuf_free of a received frame. */
static void rx_pbuf_free(struct pbuf *p)
{
	pkb_free(SKIFF_CONTAINER_OF(p, struct pkb, cb));
}

struct pkb *skiff__rx_pkb(const struct pbuf *p)
{
	const struct pbuf_custom *pc = (const struct pbuf_custom *)p;

	if (!p || !(p->flags & PBUF_FLAG_IS_CUSTOM) || pc->custom_free_function != rx_pbuf_free)
		return NULL;
	return SKIFF_CONTAINER_OF(p, struct pkb, cb);
}

struct pbuf *skiff__rx_pbuf(struct pkb *pkb, uint32_t len)
{
	struct pbuf_custom *pc = (struct pbuf_custom *)(void *)pkb->cb;

	pc->custom_free_function = rx_pbuf_free;
	return pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_REF, pc, pkb->data,
				   (u16_t)(pkb_len(pkb) + pkb_tailroom(pkb)));
}

int skiff__copy_to_frame(const void *data, uint32_t len, struct pkb **out)
{
	struct pkb *pkb;
	int e = pkb_alloc_tx(skiff__s.pool, &pkb);

	if (e)
		return e;
	if (pkb_put(pkb, len)) {
		pkb_free(pkb);
		return -EMSGSIZE;
	}
	memcpy(pkb->data, data, len);
	*out = pkb;
	return 0;
}

/* ---- transmit ------------------------------------------------------------ */

/* Puts [data - @p head, data + @p len) of @p pkb on the TX ring (the ring
 * takes its own data reference). A full ring is kicked and reaped once
 * before giving up. */
static err_t post(struct skiff_link *l, struct pkb *pkb, uint32_t head, uint32_t len)
{
	struct skiff_stack *st = &skiff__s;
	int e = zc_tx_post_port(st->zc, l->port, pkb, head, len);

	if (e == -EAGAIN) {
		l->tx_pending = 0;
		umem_port_flush(l->port);
		skiff__tx_reap(1024);
		e = zc_tx_post_port(st->zc, l->port, pkb, head, len);
	}
	if (e == -EAGAIN) {
		st->stats.tx_drop_ring_full++;
		return ERR_MEM;
	}
	if (e) {
		st->stats.tx_drop_no_frame++;
		return ERR_IF;
	}
	skiff__pcap_frame(pkb->data - head, head + len);
	/* One kick per poll round, unless a burst would fill the ring. */
	if (++l->tx_pending >= st->cfg.ring_size / 2)
		skiff__flush();
	return ERR_OK;
}

/* The zero-copy buffer whose data @p q's payload starts, or NULL. lwIP may
 * cut a buffer longer than one segment into several: only the first
 * segment starts the frame's data (the others go out of a copy). */
static struct pkb *zc_payload_of(const struct pbuf *q)
{
	struct pkb *b = skiff__pkb_of(q->payload);

	if (!b || !pkb_ubuf(b) || b->data != (uint8_t *)q->payload || q->len > pkb_len(b))
		return NULL;
	return b;
}

/* Headers @p p (one pbuf) written in front of the zero-copy payload @p q in
 * its own frame @p b. TCP keeps @p b (a retransmission sends it again), so
 * its view is never moved: the headers go in its headroom and the ring
 * takes the span. When the frame cannot take them now (still on the TX
 * ring from an earlier transmission, or shared) zc_tx_prepare() hands back
 * a copy instead, and the original stays untouched. */
static err_t tx_inplace(struct skiff_link *l, struct pbuf *p, struct pbuf *q, struct pkb *b)
{
	struct skiff_stack *st = &skiff__s;
	uint32_t hdr = p->len;
	struct pkb *tx;
	err_t r;

	if (zc_tx_prepare(st->zc, b, hdr, q->len, &tx)) {
		st->stats.tx_drop_no_frame++;
		return ERR_MEM;
	}
	memcpy(tx->data - hdr, p->payload, hdr);
	r = post(l, tx, hdr, q->len);
	if (tx != b)
		pkb_free(tx); /* the ring holds the copy now */
	else if (r == ERR_OK)
		st->stats.tx_inplace++;
	return r;
}

/* ---- plain sends: one copy, into the frame that goes on the ring --------- */

/* lwIP's last pbuf_free of a plain send's frame (its segment was ACKed;
 * a transmission still on the ring holds a frame reference of its own). */
static void send_pbuf_free(struct pbuf *p)
{
	pkb_free(SKIFF_CONTAINER_OF(p, struct pkb, cb));
}

static struct pkb *send_pkb(const struct pbuf *p)
{
	const struct pbuf_custom *pc = (const struct pbuf_custom *)p;

	if (!(p->flags & PBUF_FLAG_IS_CUSTOM) || pc->custom_free_function != send_pbuf_free)
		return NULL;
	return SKIFF_CONTAINER_OF(p, struct pkb, cb);
}

/* Plain sends take frames only while fewer than 3/8 of the UMEM's frames
 * are held (neither free nor on the fill ring), whoever holds them: the
 * receive side keeps its room below the 3/4 at which the frame budget
 * starts dropping and orphaning (docs/hardening.md), zero-copy sends
 * theirs above the receive reserve. Past it, tcp_write() copies into
 * lwIP's heap and the segment is copied again at output, as before. */
static bool send_frames_ok(void)
{
	const struct skiff_stack *st = &skiff__s;
	uint32_t n = st->geo.frame_count;

	return umem_frames_in(st->umem, UMEM_FRAME_FREE) +
		       umem_frames_in(st->umem, UMEM_FRAME_FILL) >
	       n - n / 8 * 3;
}

/* A pbuf of @p room payload bytes over a fresh frame, @p layer's headers'
 * room in front (in the frame's headroom), the pbuf itself in the frame's
 * pkb: pbuf_add_header() then reaches down to the Ethernet header inside
 * the frame. NULL when frames are short. */
static struct pbuf *frame_pbuf(pbuf_layer layer, u16_t room)
{
	struct skiff_stack *st = &skiff__s;
	struct pbuf_custom *pc;
	struct pbuf *p;
	struct pkb *pkb;

	if (!send_frames_ok() || pkb_alloc_tx(st->pool, &pkb))
		return NULL;
	pc = (struct pbuf_custom *)(void *)pkb->cb;
	pc->custom_free_function = send_pbuf_free;
	p = pbuf_alloced_custom(layer, room, PBUF_RAM, pc, pkb->head,
				(u16_t)(pkb->end - pkb->head));
	if (!p)
		pkb_free(pkb);
	return p;
}

struct pbuf *skiff__tcp_pbuf_alloc(const struct tcp_pcb *pcb, pbuf_layer layer, u16_t length,
				   u16_t max_length)
{
	(void)pcb;
	(void)length;
	/* Only a new segment's first pbuf: one chained onto a queued
	 * segment (PBUF_RAW) makes a chain, which goes out of a copy. */
	if (layer != PBUF_TRANSPORT)
		return NULL;
	return frame_pbuf(layer, max_length);
}

err_t skiff__tcp_seg_prepare(struct tcp_pcb *pcb, struct tcp_seg *seg)
{
	struct pbuf *p = seg->p, *n;
	struct pkb *pkb = send_pkb(p), *copy;
	u16_t off, len;

	/* A frame on the TX ring is not written until the ring gives it
	 * back: the headers (a resend's, or the PSH or FIN of a segment sent
	 * once and queued again) go on a copy. */
	if (!pkb || !pkb_frame_in_flight(pkb))
		return ERR_OK;
	/* The whole segment: a later write may have chained a pbuf of
	 * lwIP's heap onto it (tcp_write()'s phase 2). */
	off = (u16_t)((u8_t *)seg->tcphdr - (u8_t *)p->payload);
	len = (u16_t)(p->tot_len - off);
	n = frame_pbuf(PBUF_TRANSPORT, len);
	if (!n)
		n = pbuf_alloc(PBUF_TRANSPORT, len, PBUF_RAM);
	if (!n)
		return ERR_MEM;
	if (pbuf_copy_partial(p, n->payload, len, off) != len) {
		pbuf_free(n);
		return ERR_MEM;
	}
	pcb->snd_queuelen = (u16_t)(pcb->snd_queuelen - pbuf_clen(p) + pbuf_clen(n));
	/* The copy carries the segment's extensions (its MPTCP mapping);
	 * one in lwIP's heap has none, and MPTCP maps it aside. */
	if ((copy = send_pkb(n)))
		pkb_ext_copy(copy, pkb);
	seg->p = n;
	seg->tcphdr = (struct tcp_hdr *)n->payload;
	pbuf_free(p);
	/* The copy has no room past its bytes for tcp_write() to append
	 * (every caller's segment is the last unsent one when it has no
	 * next). */
	if (!seg->next)
		pcb->unsent_oversize = 0;
#if TCP_OVERSIZE_DBGCHECK
	seg->oversize_left = 0;
#endif
	skiff__s.stats.tx_send_resend_copies++;
	return ERR_OK;
}

struct pkb *skiff__tx_seg_pkb(const struct pbuf *p)
{
	return p ? send_pkb(p) : NULL;
}

void skiff__tcp_seg_split(struct tcp_pcb *pcb, struct tcp_seg *useg, struct tcp_seg *seg)
{
	struct pkb *a = send_pkb(useg->p), *b = send_pkb(seg->p);

	(void)pcb;
	if (!a || !a->active)
		return;
	if (b)
		/* ext/'s split rule: both halves keep every extension. */
		pkb_ext_on_split(a, b);
	if (!pkb_ext_mptcp(a))
		return;
	if (b)
		skiff__s.stats.mptcp_map_split++;
	else
		/* The remainder went to lwIP's heap (frames short): MPTCP
		 * maps it aside. */
		skiff__s.stats.mptcp_map_split_aside++;
}

/* A plain send's segment (one pbuf, headers in front in the same frame)
 * onto the ring from its frame. */
static err_t tx_send_frame(struct skiff_link *l, struct pbuf *p, struct pkb *pkb)
{
	err_t r;

	pkb->data = p->payload;
	pkb->tail = pkb->data + p->tot_len;
	r = post(l, pkb, 0, p->tot_len);
	if (r == ERR_OK)
		skiff__s.stats.tx_send_inplace++;
	return r;
}

/* Everything else: the whole chain copied into a fresh frame. Payload of a
 * zero-copy send met here (merged with other data, split off) counts as
 * copied, and its send will say so. */
static err_t tx_copy(struct skiff_link *l, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct pkb *t;
	err_t r;

	if (pkb_alloc_tx(st->pool, &t)) {
		st->stats.tx_drop_no_frame++;
		return ERR_MEM;
	}
	if (pkb_put(t, p->tot_len)) {
		pkb_free(t);
		st->stats.tx_drop_too_big++;
		return ERR_IF;
	}
	pbuf_copy_partial(p, t->data, p->tot_len, 0);
	for (struct pbuf *q = p; q; q = q->next) {
		struct pkb *b = skiff__pkb_of(q->payload);

		if (b && pkb_ubuf(b)) {
			pkb_ubuf(b)->flags |= PKB_UBUF_F_COPIED;
			st->stats.tx_copied_bytes += q->len;
		} else {
			st->stats.tx_send_copied_bytes += q->len;
		}
	}
	r = post(l, t, 0, pkb_len(t));
	pkb_free(t);
	return r;
}

err_t skiff__tx_packet(struct skiff_link *l, struct pbuf *p)
{
	struct pbuf *q = p->next;
	struct pkb *b;

	if (p->tot_len > FRAME_MAX) {
		skiff__s.stats.tx_drop_too_big++;
		return ERR_IF;
	}
	if (q && !q->next && p->len && (b = zc_payload_of(q)))
		return tx_inplace(l, p, q, b);
	/* Never written while on the ring (skiff__tcp_seg_prepare() saw to
	 * the resends); anything else still goes out of a copy. */
	if (!q && (b = send_pkb(p)) && !pkb_data_shared(b))
		return tx_send_frame(l, p, b);
	return tx_copy(l, p);
}
