/* The lwIP netif over the port: its set-up from the config, the RX batch
 * (frames filtered, then handed to lwIP as pbufs over their frames,
 * frames.c), and linkoutput (frames.c puts lwIP's packets on the ring). */
#include <errno.h>
#include <string.h>

#include "ackbatch.h"
#include "demux.h"
#include "listenq.h"
#include "rxq.h"
#include "frames.h"
#include "guard.h"
#include "instance.h"
#include "netif.h"
#include "pcap.h"
#include "secpath.h"
#include "sock.h"
#include "skiff_testing.h"

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/nd6.h"
#include "lwip/prot/ethernet.h"
#include "netif/ethernet.h"

/* Frames taken off the RX ring per batch. A poll round takes at most a
 * ring's worth, refilling the fill ring between batches. */
#ifndef SKIFF_RX_BATCH
#define SKIFF_RX_BATCH 64u
#endif

/* The RX batch looks ahead of the frame it takes in, one stage per frame
 * place, each stage using what the one before it loaded: SKIFF_RX_PREFETCH
 * frames ahead, the frame's metadata and headers (pkb_prefetch_rx()); one
 * place nearer, the bucket of its 4-tuple; then the pcb at that bucket's
 * head; then the socket that pcb belongs to (skiff__demux_ahead_*()). Over
 * many connections each of these is a cache miss, and one after the other
 * otherwise, each waiting for the last. */
#ifndef SKIFF_RX_PREFETCH
#define SKIFF_RX_PREFETCH 4u /* at least 3: a place per stage */
#endif

/* The lookups ahead cost a hash and some twenty prefetches a frame; the
 * tables and sockets of fewer connections than this stay in cache, and
 * only the frame's own lines are fetched ahead (skiff__rx_ahead_min()). */
#ifndef SKIFF_RX_AHEAD_MIN
#define SKIFF_RX_AHEAD_MIN 2048u
#endif
static uint32_t rx_ahead_min = SKIFF_RX_AHEAD_MIN;

void skiff__rx_ahead_min(uint32_t connections)
{
	rx_ahead_min = connections;
}

/* An Ethernet frame we accept: header, optional VLAN tag, MTU. */
#define FRAME_MAX (SKIFF_MTU + SIZEOF_ETH_HDR + SIZEOF_VLAN_HDR)

/* ---- receive ----------------------------------------------------------------- */

static bool for_us(const struct skiff_link *l, const uint8_t *eth)
{
	/* Group addresses are lwIP's to filter (ARP broadcasts, ND multicast). */
	return (eth[0] & 1) || memcmp(eth, l->mac, 6) == 0;
}

static void rx_one(struct skiff_link *l, const struct umem_desc *d)
{
	struct skiff_stack *st = &skiff__s;
	struct pbuf *p;
	struct pkb *pkb;
	uint16_t type;
	uint8_t *eth;

	if (pkb_build_rx(st->pool, d, &pkb)) {
		st->stats.rx_drop_no_pkb++;
		umem_free(st->umem, d->addr);
		return;
	}
	skiff__pcap_frame(pkb->data, pkb_len(pkb)); /* before any filter */
	if (d->len <= SIZEOF_ETH_HDR || d->len > FRAME_MAX) {
		st->stats.rx_drop_bad_frame++;
		goto out_free;
	}
	eth = pkb->data;
	if (!for_us(l, eth)) {
		st->stats.rx_drop_not_ours++;
		goto out_free;
	}
	type = (uint16_t)(eth[12] << 8 | eth[13]);
	/* lwIP knows 802.1Q only; with a VLAN set, only tagged frames are
	 * ours (the VID is checked by the VLAN_CHECK hook). */
	if (type == 0x88a8 || (st->cfg.vlan_id && type != ETHTYPE_VLAN)) {
		st->stats.rx_drop_vlan++;
		goto out_free;
	}
	if (skiff__guard_spoofed(l, eth, d->len))
		goto out_free; /* counted */
	if (skiff__secpath_rx_meta(pkb) == -EINVAL) {
		st->stats.rx_drop_meta++;
		goto out_free;
	}
	p = skiff__rx_pbuf(pkb, d->len);
	if (!p)
		goto out_free;
	st->in_rx = true; /* its checksums are verifications (chksum.c) */
	if (l->netif.input(p, &l->netif) != ERR_OK)
		pbuf_free(p);
	st->in_rx = false;
	return;

out_free:
	pkb_free(pkb);
}

/* The fill ring's depth follows demand (umem_port_set_fill_target()): the
 * far end takes the oldest frame posted, so a ring kept full at 131,072
 * cycles every received frame through 256 MiB of cold frames (an echo
 * over 64 connections ran 2.7x slower than with 2,048). It holds twice
 * the connections and handshakes (each may have a segment on the wire at
 * once, as skiff_sizes_for() sizes the ring), twice the largest drain of
 * late (halved every 1,024 rounds that drain nothing), and
 * SKIFF_FILL_FLOOR at least, the ring's size at most. */
#ifndef SKIFF_FILL_FLOOR
#define SKIFF_FILL_FLOOR 2048u
#endif

void skiff__fill_follow_demand(struct skiff_link *l, unsigned drained)
{
	uint64_t want = 2ull * (skiff__demux_active() + skiff__listenq_half_open());

	if (2u * drained > l->fill_burst)
		l->fill_burst = 2u * drained;
	else if (!drained)
		l->fill_burst /= 2; /* every 1024 empty rounds (the caller) */
	if (want < l->fill_burst)
		want = l->fill_burst;
	if (want < SKIFF_FILL_FLOOR)
		want = SKIFF_FILL_FLOOR;
	if (want > UINT32_MAX)
		want = UINT32_MAX;
	if (want != l->fill_target) {
		bool more = want > l->fill_target;

		l->fill_target = (unsigned)want;
		umem_port_set_fill_target(l->port, l->fill_target);
		if (more)
			umem_port_refill(l->port); /* now, not at the next drain */
	}
}

/* The look-ahead stages of the frames after the @p i th of @p k
 * (SKIFF_RX_PREFETCH); the frames' lines only, unless @p lookup. */
static inline void rx_ahead(const struct umem_desc *d, uint64_t *hash, int i, unsigned k,
			    bool lookup)
{
	struct pkb_pool *pool = skiff__s.pool;
	unsigned far = (unsigned)(i + (int)SKIFF_RX_PREFETCH);
	struct skiff_sock *s;

	if (far < k)
		pkb_prefetch_rx(pool, &d[far]);
	if (!lookup)
		return;
	if (far - 1 < k) {
		const uint8_t *f = pkb_peek_rx(pool, &d[far - 1]);
		uint32_t h;

		hash[far - 1] =
			f && skiff__demux_ahead_bucket(f, d[far - 1].len, &h) ? h : UINT64_MAX;
	}
	if (far - 2 < k && hash[far - 2] != UINT64_MAX)
		skiff__demux_ahead_pcb((uint32_t)hash[far - 2]);
	if (far - 3 < k && hash[far - 3] != UINT64_MAX &&
	    (s = skiff__demux_ahead_owner((uint32_t)hash[far - 3])) != NULL)
		skiff__sock_prefetch(s);
}

/* One link's share of the RX batch; the frames taken. */
static unsigned rx_link(struct skiff_link *l)
{
	struct umem_desc d[SKIFF_RX_BATCH];
	uint64_t hash[SKIFF_RX_BATCH]; /* the 4-tuple's, or UINT64_MAX: none */
	unsigned n = 0, k, ring = 0;
	bool lookup = skiff__demux_active() >= rx_ahead_min;

	umem_port_fill_level(l->port, &ring);
	/* A ring that keeps coming full (a burst of SYNs, of requests over
	 * many connections) is drained, up to its size, before the round's
	 * other work: what waits on the ring is what the NIC drops next, and
	 * the application's share of a round (its events, its answers) may
	 * take long enough for a peer to fill it again. The data goes to the
	 * sockets' queues, which let go of frames when they run short
	 * (skiff__rxq_relieve); the fill ring is topped up as the drain
	 * goes, so that the far end keeps finding frames to write into. */
	do {
		k = umem_port_rx(l->port, d, SKIFF_RX_BATCH);
		if (k)
			skiff__clock_step(); /* the batch's arrival, not the round's start */
		for (int i = -(int)SKIFF_RX_PREFETCH; i < (int)k; i++) {
			rx_ahead(d, hash, i, k, lookup);
			if (i < 0)
				continue;
			if (lookup && hash[i] != UINT64_MAX) {
				skiff__demux_ahead_hint(hash[i]);
				rx_one(l, &d[i]);
				skiff__demux_ahead_hint(UINT64_MAX);
			} else {
				rx_one(l, &d[i]);
			}
		}
		n += k;
		/* A long drain fills the sockets' queues: let frames go
		 * before the refill runs out of them. */
		if (k && !(n % (8 * SKIFF_RX_BATCH)))
			skiff__rxq_relieve();
		umem_port_refill(l->port);
	} while (k == SKIFF_RX_BATCH && n < ring);
	/* Empty rounds (a spinning loop makes millions) only age the burst. */
	if (n || !(++l->fill_rounds & 1023u))
		skiff__fill_follow_demand(l, n);
	return n;
}

unsigned skiff__rx_batch(void)
{
	struct skiff_stack *st = &skiff__s;
	unsigned n = rx_link(&st->link[0]);

	for (unsigned i = 1; i < st->n_links; i++)
		n += rx_link(&st->link[i]);
	/* What the batch calls for, once (outside lwIP's input). */
	skiff__batch_run();
	return n;
}

/* ---- transmit ---------------------------------------------------------------- */

static err_t linkoutput(struct netif *netif, struct pbuf *p)
{
	return skiff__tx_packet(netif->state, p);
}

/* ---- the netif ---------------------------------------------------------------- */

static err_t setup(struct netif *n)
{
	struct skiff_link *l = n->state;

	n->name[0] = 's';
	n->name[1] = 'k';
	n->mtu = SKIFF_MTU;
#if LWIP_ND6_ALLOW_RA_UPDATES
	n->mtu6 = SKIFF_MTU;
#endif
	n->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(n->hwaddr, l->mac, ETH_HWADDR_LEN);
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6;
	n->output = etharp_output;
	n->output_ip6 = ethip6_output;
	n->linkoutput = linkoutput;
	return ERR_OK;
}

static int link_up(struct skiff_link *l)
{
	const struct skiff_port_config *c = &l->cfg;
	ip4_addr_t ip, mask, gw;
	uint32_t m = c->ipv4_prefix ? 0xffffffffu << (32 - c->ipv4_prefix) : 0;

	ip4_addr_set_u32(&ip, c->ipv4);
	ip4_addr_set_u32(&mask, c->ipv4 ? lwip_htonl(m) : 0);
	ip4_addr_set_u32(&gw, c->ipv4_gateway);
	if (!netif_add(&l->netif, &ip, &mask, &gw, l, setup, ethernet_input)) {
		skiff__set_error("netif_add failed");
		return -ENOMEM;
	}
	/* Link-local from the MAC, always; usable at once (no DAD). */
	netif_create_ip6_linklocal_address(&l->netif, 1);
	netif_ip6_addr_set_state(&l->netif, 0, IP6_ADDR_PREFERRED);
	if (memcmp(c->ipv6, (uint8_t[16]){0}, 16) != 0) {
		ip6_addr_t a;
		s8_t idx = -1;

		memcpy(&a.addr, c->ipv6, 16);
		if (netif_add_ip6_address(&l->netif, &a, &idx) != ERR_OK || idx < 0) {
			netif_remove(&l->netif);
			skiff__set_error("cannot add the IPv6 address");
			return -EINVAL;
		}
		netif_ip6_addr_set_state(&l->netif, idx, IP6_ADDR_PREFERRED);
	}
	netif_set_link_up(&l->netif);
	netif_set_up(&l->netif);
	return 0;
}

int skiff__netif_up(void)
{
	struct skiff_stack *st = &skiff__s;

	for (unsigned i = 0; i < st->n_links; i++) {
		int e = link_up(&st->link[i]);

		if (e) {
			while (i-- > 0)
				netif_remove(&st->link[i].netif);
			return e;
		}
	}
	netif_set_default(&st->link[0].netif);
	return 0;
}

void skiff__netif_down(void)
{
	struct skiff_stack *st = &skiff__s;

	for (unsigned i = 0; i < st->n_links; i++) {
		netif_set_down(&st->link[i].netif);
		/* Also drops the ARP and neighbour entries and their queued
		 * packets. */
		netif_remove(&st->link[i].netif);
	}
}

struct skiff_link *skiff__link_of_src4(uint32_t src)
{
	struct skiff_stack *st = &skiff__s;

	for (unsigned i = 0; src && i < st->n_links; i++)
		if (st->link[i].cfg.ipv4 == src)
			return &st->link[i];
	return NULL;
}

/* ---- routing over several ports ---------------------------------------------- */

struct netif *skiff__hook_route4_src(const ip4_addr_t *src, const ip4_addr_t *dest)
{
	struct skiff_link *l = skiff__s.link;

	/* One port: its netif, as lwIP's single-netif build routes (with
	 * the gateway left to ARP), without lwIP's walk of the netifs. */
	if (skiff__s.n_links < 2) {
		if (!netif_is_up(&l->netif) || !netif_is_link_up(&l->netif) ||
		    ip4_addr_isloopback(dest))
			return NULL;
		return &l->netif;
	}
	if (!src)
		return NULL;
	l = skiff__link_of_src4(ip4_addr_get_u32(src));
	if (!l || !netif_is_up(&l->netif))
		return NULL;
	if (ip4_addr_net_eq(dest, netif_ip4_addr(&l->netif), netif_ip4_netmask(&l->netif)) ||
	    !ip4_addr_isany_val(*netif_ip4_gw(&l->netif)))
		return &l->netif;
	return NULL;
}

struct netif *skiff__hook_route6(const ip6_addr_t *src, const ip6_addr_t *dest)
{
	struct skiff_stack *st = &skiff__s;

	if (!src || st->n_links < 2 || ip6_addr_isany(src))
		return NULL;
	for (unsigned i = 0; i < st->n_links; i++) {
		struct netif *n = &st->link[i].netif;

		if (!netif_is_up(n) || netif_get_ip6_addr_match(n, src) < 0)
			continue;
		/* On this link (lwIP's rule: a static address's /64), or the
		 * first port (its gateway). */
		return i == 0 || ip6_addr_net_eq(src, dest) ? n : NULL;
	}
	return NULL;
}

int skiff__link_index_of(const ip_addr_t *a)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_link *l;

	if (IP_IS_V4(a)) {
		l = skiff__link_of_src4(ip4_addr_get_u32(ip_2_ip4(a)));
		return l ? (int)(l - st->link) : -1;
	}
	for (unsigned i = 0; i < st->n_links; i++)
		if (memcmp(ip_2_ip6(a)->addr, st->link[i].cfg.ipv6, 16) == 0)
			return (int)i;
	return -1;
}

ip_addr_t skiff__link_addr_for(const ip_addr_t *to, const ip_addr_t *dflt)
{
	struct skiff_stack *st = &skiff__s;
	struct netif *n;
	struct skiff_link *l;
	ip_addr_t r = *dflt;

	if (st->n_links < 2)
		return r;
	n = IP_IS_V4(to) ? ip4_route(ip_2_ip4(to)) : ip6_route(IP6_ADDR_ANY6, ip_2_ip6(to));
	if (!n || !(l = n->state) || l == st->link)
		return r;
	if (IP_IS_V4(to) && l->cfg.ipv4)
		ip_addr_set_ip4_u32_val(r, l->cfg.ipv4);
	else if (IP_IS_V6(to) && memcmp(l->cfg.ipv6, (uint8_t[16]){0}, 16) != 0)
		ip_addr_copy_from_ip6_packed(r, *(const ip6_addr_p_t *)(const void *)l->cfg.ipv6);
	return r;
}
