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

/* An Ethernet frame we accept: header, optional VLAN tag, MTU. */
#define FRAME_MAX (SKIFF_MTU + SIZEOF_ETH_HDR + SIZEOF_VLAN_HDR)

/* ---- receive ----------------------------------------------------------------- */

static bool for_us(const uint8_t *eth)
{
	/* Group addresses are lwIP's to filter (ARP broadcasts, ND multicast). */
	return (eth[0] & 1) || memcmp(eth, skiff__s.mac, 6) == 0;
}

static void rx_one(const struct umem_desc *d)
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
	if (!for_us(eth)) {
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
	if (skiff__guard_spoofed(eth, d->len))
		goto out_free; /* counted */
	if (skiff__secpath_rx_meta(pkb) == -EINVAL) {
		st->stats.rx_drop_meta++;
		goto out_free;
	}
	p = skiff__rx_pbuf(pkb, d->len);
	if (!p)
		goto out_free;
	st->in_rx = true; /* its checksums are verifications (chksum.c) */
	if (st->netif.input(p, &st->netif) != ERR_OK)
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

void skiff__fill_follow_demand(unsigned drained)
{
	struct skiff_stack *st = &skiff__s;
	uint64_t want = 2ull * (skiff__demux_active() + skiff__listenq_half_open());

	if (2u * drained > st->fill_burst)
		st->fill_burst = 2u * drained;
	else if (!drained)
		st->fill_burst /= 2; /* every 1024 empty rounds (the caller) */
	if (want < st->fill_burst)
		want = st->fill_burst;
	if (want < SKIFF_FILL_FLOOR)
		want = SKIFF_FILL_FLOOR;
	if (want > UINT32_MAX)
		want = UINT32_MAX;
	if (want != st->fill_target) {
		bool more = want > st->fill_target;

		st->fill_target = (unsigned)want;
		umem_port_set_fill_target(st->port, st->fill_target);
		if (more)
			umem_port_refill(st->port); /* now, not at the next drain */
	}
}

unsigned skiff__rx_batch(void)
{
	struct skiff_stack *st = &skiff__s;
	struct umem_desc d[SKIFF_RX_BATCH];
	unsigned n = 0, k, ring = 0;

	umem_port_fill_level(st->port, &ring);
	/* A ring that keeps coming full (a burst of SYNs, of requests over
	 * many connections) is drained, up to its size, before the round's
	 * other work: what waits on the ring is what the NIC drops next, and
	 * the application's share of a round (its events, its answers) may
	 * take long enough for a peer to fill it again. The data goes to the
	 * sockets' queues, which let go of frames when they run short
	 * (skiff__rxq_relieve); the fill ring is topped up as the drain
	 * goes, so that the far end keeps finding frames to write into. */
	do {
		k = umem_port_rx(st->port, d, SKIFF_RX_BATCH);
		if (k)
			skiff__clock_step(); /* the batch's arrival, not the round's start */
		for (unsigned i = 0; i < k; i++)
			rx_one(&d[i]);
		n += k;
		/* A long drain fills the sockets' queues: let frames go
		 * before the refill runs out of them. */
		if (k && !(n % (8 * SKIFF_RX_BATCH)))
			skiff__rxq_relieve();
		umem_port_refill(st->port);
	} while (k == SKIFF_RX_BATCH && n < ring);
	/* Empty rounds (a spinning loop makes millions) only age the burst. */
	if (n || !(++st->fill_rounds & 1023u))
		skiff__fill_follow_demand(n);
	/* What the batch calls for, once (outside lwIP's input). */
	skiff__batch_run();
	return n;
}

/* ---- transmit ---------------------------------------------------------------- */

static err_t linkoutput(struct netif *netif, struct pbuf *p)
{
	(void)netif;
	return skiff__tx_packet(p);
}

/* ---- the netif ---------------------------------------------------------------- */

static err_t setup(struct netif *n)
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
	struct skiff_stack *st = &skiff__s;
	const struct skiff_config *c = &st->cfg;
	ip4_addr_t ip, mask, gw;
	uint32_t m = c->ipv4_prefix ? 0xffffffffu << (32 - c->ipv4_prefix) : 0;

	ip4_addr_set_u32(&ip, c->ipv4);
	ip4_addr_set_u32(&mask, c->ipv4 ? lwip_htonl(m) : 0);
	ip4_addr_set_u32(&gw, c->ipv4_gateway);
	if (!netif_add(&st->netif, &ip, &mask, &gw, NULL, setup, ethernet_input)) {
		skiff__set_error("netif_add failed");
		return -ENOMEM;
	}
	/* Link-local from the MAC, always; usable at once (no DAD). */
	netif_create_ip6_linklocal_address(&st->netif, 1);
	netif_ip6_addr_set_state(&st->netif, 0, IP6_ADDR_PREFERRED);
	if (memcmp(c->ipv6, (uint8_t[16]){0}, 16) != 0) {
		ip6_addr_t a;
		s8_t idx = -1;

		memcpy(&a.addr, c->ipv6, 16);
		if (netif_add_ip6_address(&st->netif, &a, &idx) != ERR_OK || idx < 0) {
			netif_remove(&st->netif);
			skiff__set_error("cannot add the IPv6 address");
			return -EINVAL;
		}
		netif_ip6_addr_set_state(&st->netif, idx, IP6_ADDR_PREFERRED);
	}
	netif_set_default(&st->netif);
	netif_set_link_up(&st->netif);
	netif_set_up(&st->netif);
	return 0;
}

void skiff__netif_down(void)
{
	struct skiff_stack *st = &skiff__s;

	netif_set_down(&st->netif);
	/* Also drops the ARP and neighbour entries and their queued packets. */
	netif_remove(&st->netif);
}
