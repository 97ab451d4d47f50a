/*
 * Path MTU discovery for TCP (RFC 1191, RFC 8201): an ICMP "fragmentation
 * needed" (IPv4, type 3 code 4; skiff's TCP segments leave with Don't
 * Fragment, patch 0009) or an ICMPv6 "packet too big" (type 2) lowers the
 * MSS of the connection whose segment it quotes, and the segments already
 * queued are cut to it (patch 0008) and sent again.
 *
 * A forged message could shrink a connection to nothing, so it must prove
 * it saw our traffic (RFC 5927): checksums right, addressed to us, quoting
 * a segment of an existing connection from our address, whose sequence
 * number lies in the unacknowledged data. This file sees every packet
 * first through LWIP_HOOK_IP4_INPUT / IP6_INPUT (called before lwIP's own
 * checks, so it makes them itself). IPv4's message goes on to lwIP, which
 * makes nothing of it; IPv6's packet too big does not (see
 * skiff__hook_ip6_input()).
 */
#include <stdbool.h>
#include <string.h>

#include "demux.h"
#include "engine.h"
#include "instance.h"
#include "netif.h"
#include "pmtu.h"
#include "skiff_lwip_hooks.h"
#include "timers.h"

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/icmp6.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/stats.h"

/* The smallest path MTUs taken: RFC 791's 576 (IPv4), RFC 8200's 1280. */
#define MIN_MTU4 576u
#define MIN_MTU6 1280u

/* RFC 1191's plateaus, for routers that send a next-hop MTU of 0. */
static const u16_t plateaus[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};

static u16_t plateau_below(u16_t len)
{
	for (unsigned i = 0; i < sizeof(plateaus) / sizeof(plateaus[0]); i++)
		if (plateaus[i] < len)
			return plateaus[i];
	return 68;
}

void skiff__pmtu_resegment(struct tcp_pcb *pcb)
{
	/* The room a segment's options take, as tcp_write() counts it: the
	 * timestamps, and what the option hook adds (an MPTCP subflow's DSS:
	 * without it the pieces were 28 bytes too big for the new path, each
	 * answered with the same ICMP again, and the connection stalled).
	 * lwIP's LWIP_TCP_OPT_LENGTH() is a bare sum: parenthesized. */
	u16_t split =
		(u16_t)(pcb->mss - skiff__hook_tcpopt_length(
					   pcb, (pcb->flags & TF_TIMESTAMP)
							? (LWIP_TCP_OPT_LENGTH(TF_SEG_OPTS_TS))
							: 0));
	/* Unacked segments go back in front of unsent, as for an RTO; one on
	 * the TX ring still (busy) is tried again at the next timer visit. */
	if (pcb->unacked && tcp_rexmit_rto_prepare(pcb) != ERR_OK) {
		pcb->skiff_flags |= SKIFF_PCB_RESEGMENT;
		skiff__timer_arm(pcb);
		return;
	}
	pcb->skiff_flags &= (u8_t)~SKIFF_PCB_RESEGMENT;
	for (struct tcp_seg *seg = pcb->unsent; seg; seg = seg->next)
		while (seg->len > split && tcp_split_seg(pcb, seg, split) == ERR_OK)
			;
	tcp_output(pcb);
}

/* The connection a quoted TCP header names (we sent it: from @p src, our
 * address), if the quoted sequence number is in its unacknowledged data;
 * else NULL. */
static struct tcp_pcb *quoted(const ip_addr_t *src, const ip_addr_t *dst, const uint8_t *th)
{
	u16_t sport = (u16_t)(th[0] << 8 | th[1]), dport = (u16_t)(th[2] << 8 | th[3]);
	u32_t seq = (u32_t)th[4] << 24 | (u32_t)th[5] << 16 | (u32_t)th[6] << 8 | th[7];
	struct tcp_pcb *pcb = skiff__demux_lookup(src, sport, dst, dport);

	if (!pcb || pcb->state < ESTABLISHED || pcb->state == TIME_WAIT)
		return NULL;
	if (TCP_SEQ_LT(seq, pcb->lastack) || TCP_SEQ_GEQ(seq, pcb->snd_nxt))
		return NULL;
	return pcb;
}

static void lower(struct tcp_pcb *pcb, u32_t mtu, u32_t hdrs)
{
	struct skiff_stack *st = &skiff__s;
	u32_t mss = mtu - hdrs;

	if (mss >= pcb->mss) {
		st->stats.tcp_pmtu_ignored++;
		return;
	}
	pcb->mss = (u16_t)mss;
	st->stats.tcp_pmtu_updates++;
	skiff__pmtu_resegment(pcb);
}

int skiff__hook_ip4_input(struct pbuf *p, struct netif *inp)
{
	const uint8_t *ip = p->payload, *icmp, *qip, *qtcp;
	u32_t hl, len, qhl, mtu, to;
	ip_addr_t src, dst;
	struct tcp_pcb *pcb;

	(void)inp;
	/* IPv4 carrying ICMP, whole in the first pbuf, to our address. */
	if (p->len < 20 || ip[9] != IP_PROTO_ICMP)
		return 0;
	hl = (u32_t)(ip[0] & 0x0f) * 4;
	len = (u32_t)(ip[2] << 8 | ip[3]);
	if (hl < 20 || len > p->len || len < hl + 8 + 20 + 8 || inet_chksum(ip, (u16_t)hl) != 0)
		return 0;
	icmp = ip + hl;
	if (icmp[0] != ICMP_DUR || icmp[1] != ICMP_DUR_FRAG)
		return 0;
	memcpy(&to, ip + 16, 4);
	if (!skiff__link_of_src4(to) || inet_chksum(icmp, (u16_t)(len - hl)) != 0) {
		skiff__s.stats.tcp_pmtu_ignored++;
		return 0;
	}
	qip = icmp + 8;
	qhl = (u32_t)(qip[0] & 0x0f) * 4;
	if ((qip[0] >> 4) != 4 || qhl < 20 || qip[9] != IP_PROTO_TCP || len < hl + 8 + qhl + 8) {
		skiff__s.stats.tcp_pmtu_ignored++;
		return 0;
	}
	qtcp = qip + qhl;
	{
		u32_t a, b;

		memcpy(&a, qip + 12, 4);
		memcpy(&b, qip + 16, 4);
		ip_addr_set_ip4_u32_val(src, a);
		ip_addr_set_ip4_u32_val(dst, b);
	}
	pcb = quoted(&src, &dst, qtcp);
	if (!pcb) {
		skiff__s.stats.tcp_pmtu_ignored++;
		return 0;
	}
	mtu = (u32_t)(icmp[6] << 8 | icmp[7]);
	if (!mtu)
		mtu = plateau_below((u16_t)(qip[2] << 8 | qip[3]));
	lower(pcb, mtu < MIN_MTU4 ? MIN_MTU4 : mtu, 20 + TCP_HLEN);
	return 0;
}

/* Where the ICMPv6 message of IPv6 packet @p ip (@p len bytes) starts,
 * behind hop-by-hop, routing and destination options headers: its offset;
 * 0 when the packet carries none, or is a later fragment (the first decides
 * for the datagram); -1 for a first fragment whose headers run past it
 * (RFC 7112 drops those: what follows could not be seen). *@p fragment says
 * whether a fragment header came first. */
static int icmp6_offset(const uint8_t *ip, u32_t len, bool *fragment)
{
	u32_t off = 40;
	u8_t nh = ip[6];

	*fragment = false;
	for (;;) {
		switch (nh) {
		case IP6_NEXTH_ICMP6:
			if (off + 8 <= len)
				return (int)off;
			return *fragment ? -1 : 0;
		case IP6_NEXTH_HOPBYHOP:
		case IP6_NEXTH_ROUTING:
		case IP6_NEXTH_DESTOPTS:
			if (off + 8 > len)
				return *fragment ? -1 : 0;
			nh = ip[off];
			off += ((u32_t)ip[off + 1] + 1) * 8;
			break;
		case IP6_NEXTH_FRAGMENT:
			if (off + 8 > len)
				return *fragment ? -1 : 0;
			if ((ip[off + 2] << 8 | ip[off + 3]) & 0xfff8)
				return 0;
			*fragment = true;
			nh = ip[off];
			off += 8;
			break;
		default:
			return 0;
		}
	}
}

/* A packet too big (@p icmp, @p ilen bytes, in packet @p p at @p ip):
 * lowers the MSS of the connection it quotes if it passes the checks, and
 * is counted as ignored if not. */
static void ptb(const uint8_t *ip, const uint8_t *icmp, u32_t ilen, struct pbuf *p)
{
	const uint8_t *qip = icmp + 8;
	ip_addr_t src, dst, me;
	struct tcp_pcb *pcb;
	u32_t mtu;

	IP_SET_TYPE_VAL(me, IPADDR_TYPE_V6);
	memcpy(ip_2_ip6(&me)->addr, ip + 24, 16);
	ip6_addr_clear_zone(ip_2_ip6(&me));
	IP_SET_TYPE_VAL(src, IPADDR_TYPE_V6);
	memcpy(ip_2_ip6(&src)->addr, ip + 8, 16);
	ip6_addr_clear_zone(ip_2_ip6(&src));
	{
		struct pbuf q = *p;

		/* the checksum over the ICMPv6 message and its pseudo-header */
		q.payload = (void *)icmp;
		q.len = q.tot_len = (u16_t)ilen;
		q.next = NULL;
		if (ilen < 8 + 40 + 8 || ip6_chksum_pseudo(&q, IP6_NEXTH_ICMP6, (u16_t)ilen,
							   ip_2_ip6(&src), ip_2_ip6(&me)) != 0) {
			skiff__s.stats.tcp_pmtu_ignored++;
			return;
		}
	}
	if ((qip[0] >> 4) != 6 || qip[6] != IP6_NEXTH_TCP) {
		skiff__s.stats.tcp_pmtu_ignored++;
		return;
	}
	IP_SET_TYPE_VAL(src, IPADDR_TYPE_V6);
	memcpy(ip_2_ip6(&src)->addr, qip + 8, 16);
	ip6_addr_clear_zone(ip_2_ip6(&src));
	IP_SET_TYPE_VAL(dst, IPADDR_TYPE_V6);
	memcpy(ip_2_ip6(&dst)->addr, qip + 24, 16);
	ip6_addr_clear_zone(ip_2_ip6(&dst));
	pcb = quoted(&src, &dst, qip + 40);
	if (!pcb) {
		skiff__s.stats.tcp_pmtu_ignored++;
		return;
	}
	mtu = (u32_t)icmp[4] << 24 | (u32_t)icmp[5] << 16 | (u32_t)icmp[6] << 8 | icmp[7];
	lower(pcb, mtu < MIN_MTU6 ? MIN_MTU6 : mtu, 40 + TCP_HLEN);
}

/*
 * Every packet too big ends here; none goes on to lwIP. lwIP's ND takes
 * any such message, unchecked, as the path MTU of the destination it
 * quotes, even below IPv6's minimum of 1280 (RFC 8201 forbids it), and then
 * fragments at the source everything bigger that it sends there: a forged
 * message quoting no connection at all would make a peer's TCP segments
 * leave in fragments, and an MTU under 56 makes ip6_frag() loop for good.
 * TCP's path MTU is this file's; a UDP datagram bigger than the path MTU
 * is lost, as with IPV6_DONTFRAG. So that no header chain can carry one
 * past this hook, a first fragment whose headers run past it is dropped
 * (RFC 7112), and a packet too big in fragments too (RFC 4443 keeps an
 * ICMPv6 error within 1280 bytes: none is ever fragmented).
 */
int skiff__hook_ip6_input(struct pbuf *p, struct netif *inp)
{
	const uint8_t *ip = p->payload;
	bool fragment;
	u32_t len;
	int off;

	(void)inp;
	if (p->len < 40)
		return 0;
	len = 40 + (u32_t)(ip[4] << 8 | ip[5]);
	if (len > p->len)
		return 0; /* lwIP drops it as too short (a received frame is one pbuf) */
	off = icmp6_offset(ip, len, &fragment);
	if (off < 0) {
		IP6_FRAG_STATS_INC(ip6_frag.drop);
		goto out_eaten;
	}
	if (!off || ip[off] != ICMP6_TYPE_PTB)
		return 0;
	if (fragment) {
		IP6_FRAG_STATS_INC(ip6_frag.drop);
		skiff__s.stats.tcp_pmtu_ignored++;
		goto out_eaten;
	}
	ptb(ip, ip + off, len - (u32_t)off, p);
out_eaten:
	pbuf_free(p);
	return 1;
}
