/* skiff_get_stats(): the counters stack/ keeps itself, and those of the
 * port, zerocopy/, the UMEM audit and lwIP's own statistics, gathered into
 * one struct skiff_stats. The published copy (statpub.c) gathers the same
 * without the audit's walk of every frame. */
#include <string.h>

#include "demux.h"
#include "instance.h"
#include "listenq.h"
#include "ooseq.h"
#include "rxq.h"
#include "timers.h"

#include "lwip/memp.h"
#include "lwip/stats.h"

static uint32_t pool_used(memp_t t)
{
	return lwip_stats.memp[t] ? (uint32_t)lwip_stats.memp[t]->used : 0;
}

static uint32_t pool_errors(void)
{
	uint32_t n = 0;

	for (int i = 0; i < MEMP_MAX; i++)
		if (lwip_stats.memp[i])
			n += (uint32_t)lwip_stats.memp[i]->err;
	return n + (uint32_t)lwip_stats.mem.err;
}

/* Every port's counters added up. */
static void port_stats_sum(struct umem_port_stats *out)
{
	struct skiff_stack *st = &skiff__s;

	umem_port_get_stats(st->link[0].port, out);
	for (unsigned i = 1; i < st->n_links; i++) {
		struct umem_port_stats ps;
		uint64_t *a = (uint64_t *)out;
		const uint64_t *b = (const uint64_t *)&ps;

		umem_port_get_stats(st->link[i].port, &ps);
		for (size_t k = 0; k < sizeof(ps) / sizeof(uint64_t); k++)
			a[k] += b[k];
	}
}

void skiff__stats_gather(struct skiff_stats *out, bool audit)
{
	struct skiff_stack *st = &skiff__s;
	struct umem_port_stats ps;
	struct zc_engine_stats zs;
	struct pkb_pool_stats pks;
	struct umem_audit a;

	memset(out, 0, sizeof(*out));
	if (!st->up)
		return;
	*out = st->stats;
	port_stats_sum(&ps);
	out->rx_frames = ps.rx_frames;
	out->rx_bytes = ps.rx_bytes;
	out->tx_frames = ps.tx_frames;
	out->tx_bytes = ps.tx_bytes;
	out->xdp_rx_dropped = ps.rx_dropped;
	out->xdp_rx_invalid = ps.rx_invalid_descs;
	out->xdp_tx_invalid = ps.tx_invalid_descs;
	out->xdp_rx_ring_full = ps.rx_ring_full;
	out->xdp_fill_ring_empty = ps.rx_fill_ring_empty_descs;
	out->xdp_tx_ring_empty = ps.tx_ring_empty_descs;

	zc_engine_get_stats(st->zc, &zs);
	out->tx_copied_bytes += zs.tx_copied_bytes;
	out->rx_copied_bytes += zs.rx_copied_bytes;
	out->zc_sends = zs.sends;
	out->zc_ids_completed = zs.ids_completed;
	out->zc_sends_copied = zs.sends_copied;
	out->zc_sends_aborted = zs.sends_aborted;
	out->zc_loans_live = zs.loans_live;

	if (audit) {
		umem_audit(st->umem, &a);
	} else {
		/* The counts the audit reports, without its walk. */
		a.total = st->geo.frame_count;
		a.free = umem_frames_in(st->umem, UMEM_FRAME_FREE);
		a.fill = umem_frames_in(st->umem, UMEM_FRAME_FILL);
		a.held = umem_frames_in(st->umem, UMEM_FRAME_HELD);
		a.tx_inflight = umem_frames_in(st->umem, UMEM_FRAME_TX);
		a.loaned = umem_frames_in(st->umem, UMEM_FRAME_LOANED);
	}
	out->frames_total = a.total;
	out->frames_free = a.free;
	out->frames_fill = a.fill;
	out->frames_held = a.held;
	out->frames_tx = a.tx_inflight;
	out->frames_loaned = a.loaned;
	out->ooseq_frames = skiff__ooseq_frames();
	out->rx_queued_frames = skiff__rxq_frames();
	pkb_pool_get_stats(st->pool, &pks);
	out->ext_areas_live = (uint32_t)pks.live_areas;

	out->ip_rx_drop = lwip_stats.ip.drop;
	out->ip_checksum_err = lwip_stats.ip.chkerr;
	out->ip6_rx_drop = lwip_stats.ip6.drop;
	out->icmp_rx = lwip_stats.icmp.recv;
	out->icmp6_rx = lwip_stats.icmp6.recv;
	out->tcp_rx_drop = lwip_stats.tcp.drop;
	out->tcp_checksum_err = lwip_stats.tcp.chkerr;
	out->udp_rx_drop = lwip_stats.udp.drop;
	out->udp_checksum_err = lwip_stats.udp.chkerr;
	out->arp_drop = lwip_stats.etharp.drop;
	out->nd6_drop = lwip_stats.nd6.drop;
	out->ip_len_err = lwip_stats.ip.lenerr + lwip_stats.ip6.lenerr;
	out->tcp_len_err = lwip_stats.tcp.lenerr;
	out->ip_frag_drop = lwip_stats.ip_frag.drop + lwip_stats.ip6_frag.drop;
	out->xdp_passed_not_ours = ps.xdp_passed_not_ours;

	out->tcp_connections = skiff__demux_active();
	out->tcp_time_wait = skiff__demux_time_wait();
	out->tcp_half_open = skiff__listenq_half_open();
	out->tcp_timers_armed = skiff__timers_armed();
	out->lwip_pcbs_used = pool_used(MEMP_TCP_PCB) + pool_used(MEMP_TCP_PCB_LISTEN);
	out->lwip_udp_pcbs_used = pool_used(MEMP_UDP_PCB);
	out->lwip_segs_used = pool_used(MEMP_TCP_SEG);
	out->lwip_pbufs_used = pool_used(MEMP_PBUF) + pool_used(MEMP_PBUF_POOL);
	out->lwip_reass_used = pool_used(MEMP_REASSDATA) + pool_used(MEMP_FRAG_PBUF);
#if LWIP_IPV6_REASS
	out->lwip_reass_used += pool_used(MEMP_IP6_REASSDATA);
#endif
	out->lwip_heap_used = (uint32_t)lwip_stats.mem.used;
	out->lwip_pool_errors = pool_errors();
}

void skiff_get_stats(struct skiff_stats *out)
{
	skiff__stats_gather(out, true);
}
