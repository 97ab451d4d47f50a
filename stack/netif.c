/* The netif over the port: received frames become pbuf_custom over their
 * pkb (no copy), and lwIP's packets go out either with their headers
 * written in place in front of a zero-copy payload or copied whole into a
 * fresh frame. */
#include <errno.h>
#include <string.h>

#include "skiff_internal.h"

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/nd6.h"
#include "lwip/prot/ethernet.h"
#include "netif/ethernet.h"

/* An Ethernet frame we accept or send: header, optional VLAN tag, MTU. */
#define SKIFF_FRAME_MAX (SKIFF_MTU + SIZEOF_ETH_HDR + SIZEOF_VLAN_HDR)

PKB__STATIC_ASSERT(sizeof(struct pbuf_custom) <= PKB_CB_SIZE,
		   "the pbuf_custom of a received frame lives in its pkb's cb");

/* ---- frames and pkbs ------------------------------------------------------- */

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

/* ---- receive ----------------------------------------------------------------- */

static bool for_us(const uint8_t *eth)
{
	/* Group addresses are lwIP's to filter (ARP broadcasts, ND multicast). */
	return (eth[0] & 1) || memcmp(eth, skiff__s.mac, 6) == 0;
}

static void rx_one(const struct umem_desc *d)
{
	struct skiff_stack *s = &skiff__s;
	struct pbuf_custom *pc;
	struct pbuf *p;
	struct pkb *pkb;
	uint16_t type;
	uint8_t *eth;

	if (pkb_build_rx(s->pool, d, &pkb)) {
		s->st.rx_drop_no_pkb++;
		umem_free(s->umem, d->addr);
		return;
	}
	if (d->len <= SIZEOF_ETH_HDR || d->len > SKIFF_FRAME_MAX) {
		s->st.rx_drop_bad_frame++;
		goto out_free;
	}
	eth = pkb->data;
	if (!for_us(eth)) {
		s->st.rx_drop_not_ours++;
		goto out_free;
	}
	type = (uint16_t)(eth[12] << 8 | eth[13]);
	/* lwIP knows 802.1Q only; with a VLAN set, only tagged frames are
	 * ours (the VID is checked by the VLAN_CHECK hook). */
	if (type == 0x88a8 || (s->cfg.vlan_id && type != ETHTYPE_VLAN)) {
		s->st.rx_drop_vlan++;
		goto out_free;
	}
	if (skiff__guard_spoofed(eth, d->len))
		goto out_free; /* counted */
	if (skiff__rx_meta(pkb) == -EINVAL) {
		s->st.rx_drop_meta++;
		goto out_free;
	}
	pc = (struct pbuf_custom *)(void *)pkb->cb;
	pc->custom_free_function = rx_pbuf_free;
	p = pbuf_alloced_custom(PBUF_RAW, (u16_t)d->len, PBUF_REF, pc, pkb->data,
				(u16_t)(pkb_len(pkb) + pkb_tailroom(pkb)));
	if (!p)
		goto out_free;
	if (s->netif.input(p, &s->netif) != ERR_OK)
		pbuf_free(p);
	return;

out_free:
	pkb_free(pkb);
}

unsigned skiff__rx_batch(void)
{
	struct skiff_stack *s = &skiff__s;
	struct umem_desc d[SKIFF_RX_BATCH];
	unsigned n = umem_port_rx(s->port, d, SKIFF_RX_BATCH);

	for (unsigned i = 0; i < n; i++)
		rx_one(&d[i]);
	/* What the batch calls for, once (outside lwIP's input). */
	skiff__batch_run();
	/* Once per round, in one batch. */
	umem_port_refill(s->port);
	return n;
}

/* ---- transmit ---------------------------------------------------------------- */

/* Puts @p pkb on the TX ring (the ring takes its own data reference). A
 * full ring is kicked and reaped once before giving up. */
static err_t post(struct pkb *pkb)
{
	struct skiff_stack *s = &skiff__s;
	int e = zc_tx_post(s->zc, pkb);

	if (e == -EAGAIN) {
		s->tx_pending = 0;
		umem_port_flush(s->port);
		umem_port_complete(s->port, 1024);
		e = zc_tx_post(s->zc, pkb);
	}
	if (e == -EAGAIN) {
		s->st.tx_drop_ring_full++;
		return ERR_MEM;
	}
	if (e) {
		s->st.tx_drop_no_frame++;
		return ERR_IF;
	}
	/* One kick per poll round, unless a burst would fill the ring. */
	if (++s->tx_pending >= s->cfg.ring_size / 2)
		skiff__flush();
	return ERR_OK;
}

/* The zero-copy buffer @p q's payload starts, or NULL: a pbuf pointing at
 * the first byte of a UMEM frame's data that carries a zero-copy send. */
static struct pkb *zc_payload_of(const struct pbuf *q)
{
	struct pkb *b = skiff__pkb_of(q->payload);

	if (!b || !pkb_ubuf(b) || b->data != (uint8_t *)q->payload || q->len > pkb_len(b))
		return NULL;
	return b;
}

/* Headers (@p p, one pbuf) written in front of the zero-copy payload @p q
 * in its own frame, unless zc_tx_prepare() says the frame cannot take them
 * now (in flight, shared), in which case it hands us a copy. */
static err_t tx_inplace(struct pbuf *p, struct pbuf *q, struct pkb *b)
{
	struct skiff_stack *s = &skiff__s;
	uint32_t hdr = p->len, full = pkb_len(b);
	struct pkb *tx;
	err_t r;
	int e;

	pkb_trim(b, q->len);
	e = zc_tx_prepare(s->zc, b, hdr, &tx);
	if (e) {
		pkb_put(b, full - q->len);
		s->st.tx_drop_no_frame++;
		return ERR_MEM;
	}
	pkb_push(tx, hdr);
	memcpy(tx->data, p->payload, hdr);
	r = post(tx);
	if (tx == b) {
		pkb_pull(b, hdr);
		if (r == ERR_OK)
			s->st.tx_inplace++;
	} else {
		pkb_free(tx); /* the ring holds the copy now */
	}
	pkb_put(b, full - q->len);
	return r;
}

/* Everything else: the whole chain copied into a fresh frame. Payload of a
 * zero-copy send met here (merged with other data, split off) counts as
 * copied, and its send will say so. */
static err_t tx_copy(struct pbuf *p)
{
	struct skiff_stack *s = &skiff__s;
	struct pkb *t;
	err_t r;

	if (pkb_alloc_tx(s->pool, &t)) {
		s->st.tx_drop_no_frame++;
		return ERR_MEM;
	}
	if (pkb_put(t, p->tot_len)) {
		pkb_free(t);
		s->st.tx_drop_too_big++;
		return ERR_IF;
	}
	pbuf_copy_partial(p, t->data, p->tot_len, 0);
	for (struct pbuf *q = p; q; q = q->next) {
		struct pkb *b = skiff__pkb_of(q->payload);

		if (b && pkb_ubuf(b)) {
			pkb_ubuf(b)->flags |= PKB_UBUF_F_COPIED;
			s->st.tx_copied_bytes += q->len;
		} else {
			s->st.tx_send_copied_bytes += q->len;
		}
	}
	r = post(t);
	pkb_free(t);
	return r;
}

static err_t linkoutput(struct netif *netif, struct pbuf *p)
{
	struct pbuf *q = p->next;
	struct pkb *b;

	(void)netif;
	if (p->tot_len > SKIFF_FRAME_MAX) {
		skiff__s.st.tx_drop_too_big++;
		return ERR_IF;
	}
	if (q && !q->next && p->len && (b = zc_payload_of(q)))
		return tx_inplace(p, q, b);
	return tx_copy(p);
}

/* ---- the netif ---------------------------------------------------------------- */

static err_t netif_setup(struct netif *n)
{
	n->name[0] = 's';
	n->name[1] = 'k';
	n->mtu = SKIFF_MTU;
#if LWIP_ND6_ALLOW_RA_UPDATES
	n->mtu6 = SKIFF_MTU;
#endif
	n->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(n->hwaddr, skiff__s.mac, ETH_HWADDR_LEN);
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
	n->output = etharp_output;
	n->output_ip6 = ethip6_output;
	n->linkoutput = linkoutput;
	return ERR_OK;
}

int skiff__netif_up(void)
{
	struct skiff_stack *s = &skiff__s;
	const struct skiff_config *c = &s->cfg;
	ip4_addr_t ip, mask, gw;
	uint32_t m = c->ipv4_prefix ? 0xffffffffu << (32 - c->ipv4_prefix) : 0;

	ip4_addr_set_u32(&ip, c->ipv4);
	ip4_addr_set_u32(&mask, c->ipv4 ? lwip_htonl(m) : 0);
	ip4_addr_set_u32(&gw, c->ipv4_gateway);
	if (!netif_add(&s->netif, &ip, &mask, &gw, NULL, netif_setup, ethernet_input)) {
		skiff__set_error("netif_add failed");
		return -ENOMEM;
	}
	/* Link-local from the MAC, always; usable at once (no DAD). */
	netif_create_ip6_linklocal_address(&s->netif, 1);
	netif_ip6_addr_set_state(&s->netif, 0, IP6_ADDR_PREFERRED);
	if (memcmp(c->ipv6, (uint8_t[16]){0}, 16) != 0) {
		ip6_addr_t a;
		s8_t idx = -1;

		memcpy(&a.addr, c->ipv6, 16);
		if (netif_add_ip6_address(&s->netif, &a, &idx) != ERR_OK || idx < 0) {
			netif_remove(&s->netif);
			skiff__set_error("cannot add the IPv6 address");
			return -EINVAL;
		}
		netif_ip6_addr_set_state(&s->netif, idx, IP6_ADDR_PREFERRED);
	}
	netif_set_default(&s->netif);
	netif_set_link_up(&s->netif);
	netif_set_up(&s->netif);
	return 0;
}

void skiff__netif_down(void)
{
	struct skiff_stack *s = &skiff__s;

	netif_set_down(&s->netif);
	/* Also drops the ARP and neighbour entries and their queued packets. */
	netif_remove(&s->netif);
}
