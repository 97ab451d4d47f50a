/* Defences against hostile input that lwIP 2.2.1 lacks (docs/hardening.md):
 * a rate limit on RFC 5961 challenge ACKs, and a filter for ARP/ND claiming
 * the stack's own addresses. The TCP part runs in the
 * LWIP_HOOK_TCP_INPACKET_PCB hook, before lwIP looks at the segment. (SYN
 * floods and every limit of a listener: listenq.c.) */
#include <string.h>

#include "guard.h"
#include "instance.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/tcp.h"
#include "lwip/stats.h"

/* One challenge ACK per connection per interval, as Linux's
 * tcp_invalid_ratelimit: enough for a peer that really lost its state to
 * learn our sequence numbers, too few to be an amplifier or (per
 * connection, not global) the side channel of CVE-2016-5696. */
#ifndef SKIFF_CHALLENGE_ACK_INTERVAL_MS
#define SKIFF_CHALLENGE_ACK_INTERVAL_MS 500
#endif
/* Challenge ACKs of connections no socket owns yet (half-open). */
static long long orphan_challenge_ms = -SKIFF_CHALLENGE_ACK_INTERVAL_MS;

/* Lets a challenge ACK through (lwIP sends it) or drops the segment that
 * would have caused it. */
static err_t challenge(struct tcp_pcb *pcb)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_sock *sk = pcb->callback_arg;
	long long now = skiff__now_ms(), *last = &orphan_challenge_ms;

	if (sk && sk->pcb.tcp == pcb)
		last = &sk->guard.challenge_ms;
	if (now - *last < SKIFF_CHALLENGE_ACK_INTERVAL_MS) {
		st->stats.tcp_challenge_acks_limited++;
		return ERR_ABRT;
	}
	*last = now;
	st->stats.tcp_challenge_acks++;
	return ERR_OK;
}

/* The ACK for data the peer sent twice carries a D-SACK for it (RFC 2883):
 * the first SACK block, ahead of lwIP's, tells the sender its resend was
 * not needed (Linux then undoes the window cut and widens its reordering
 * window). lwIP's blocks are put back after. */
static void dsack_ack(struct tcp_pcb *pcb, u32_t left, u32_t right)
{
	struct tcp_sack_range saved[LWIP_TCP_MAX_SACK_NUM];

	memcpy(saved, pcb->rcv_sacks, sizeof(saved));
	memmove(&pcb->rcv_sacks[1], &pcb->rcv_sacks[0],
		(LWIP_TCP_MAX_SACK_NUM - 1) * sizeof(pcb->rcv_sacks[0]));
	pcb->rcv_sacks[0].left = left;
	pcb->rcv_sacks[0].right = right;
	tcp_send_empty_ack(pcb);
	memcpy(pcb->rcv_sacks, saved, sizeof(saved));
	skiff__s.stats.tcp_dsacks_sent++;
}

/* The receive window as the peer read it in our last segment: up to the
 * edge that segment announced (patch 0015 records it exactly as the peer
 * reads the scaled field). lwIP's rcv_wnd may have opened since,
 * unannounced. */
static u32_t told_wnd(const struct tcp_pcb *pcb)
{
	return TCP_SEQ_GT(pcb->rcv_ann_right_edge, pcb->rcv_nxt)
		       ? pcb->rcv_ann_right_edge - pcb->rcv_nxt
		       : 0;
}

err_t skiff__guard_tcp_in(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	u8_t flags = TCPH_FLAGS(hdr);
	/* tcp_input() made the header host order before calling the hook */
	u32_t seq = hdr->seqno, ack = hdr->ackno;
	u32_t len = p->tot_len + ((flags & (TCP_SYN | TCP_FIN)) ? 1 : 0), wnd;
	bool before, past;

	/* Listeners: listenq.c. SYN_SENT checks the ACK of its SYN, TIME_WAIT answers alone. */
	if (pcb->state < SYN_RCVD || pcb->state == TIME_WAIT)
		return ERR_OK;
	if (flags & TCP_RST) {
		/* RFC 5961 3.2: exact sequence resets; in the window
		 * (RCV.NXT <= SEG.SEQ < RCV.NXT+RCV.WND), a challenge;
		 * elsewhere, nothing. Dropped here: lwIP's window test
		 * includes the right edge and would challenge it. RCV.WND
		 * is the window the peer was told of (as Linux's
		 * tcp_receive_window()), here and below. */
		if (seq == pcb->rcv_nxt)
			return ERR_OK;
		if (seq - pcb->rcv_nxt < told_wnd(pcb))
			return challenge(pcb);
		st->stats.tcp_rst_ignored++;
		return ERR_ABRT;
	}
	if (pcb->state == SYN_RCVD)
		return ERR_OK; /* a retransmitted SYN gets its SYN-ACK again */
	/* RFC 5961 4: any SYN on a synchronized connection. */
	if (flags & TCP_SYN)
		return challenge(pcb);
	/* Data wholly before the window, and anything past it: an ACK, and
	 * the segment goes before lwIP takes its ACK field, window or
	 * options (RFC 9293 3.10.7.4 checks the sequence number first; a
	 * pure ACK from past the window with an acceptable ACK and window 0
	 * stopped skiff sending for good). Not limited: a lost ACK makes
	 * old data legitimate, and each answer is one ACK for one segment,
	 * as lwIP answered them before. Pure ACKs before the window stay
	 * lwIP's (a reordered one is legitimate), and so does a zero
	 * window: its ACKs must still be read. */
	wnd = told_wnd(pcb);
	before = len && TCP_SEQ_LEQ(seq + len, pcb->rcv_nxt);
	past = TCP_SEQ_GEQ(seq, pcb->rcv_nxt + (wnd ? wnd : 1));
	if (before || (past && (len || wnd))) {
		st->stats.tcp_rx_out_of_window++;
		if (wnd) {
			if (before && (pcb->flags & TF_SACK))
				dsack_ack(pcb, seq, seq + len);
			else
				tcp_send_empty_ack(pcb);
			return ERR_ABRT;
		}
	}
	/* RFC 9293 3.10.7.4: without the ACK bit, drop the segment. lwIP
	 * would take its data: injection without guessing an ACK. */
	if (!(flags & TCP_ACK)) {
		TCP_STATS_INC(tcp.drop);
		return ERR_ABRT;
	}
	/* RFC 5961 5.2: an ACK of data never sent, or older than the peer's
	 * largest window allows: lwIP (patch 0007) answers with an ACK and
	 * drops the segment, data and all. */
	if (TCP_SEQ_GT(ack, pcb->snd_nxt) || TCP_SEQ_LT(ack, pcb->lastack - pcb->snd_wnd_max))
		return challenge(pcb);
	return ERR_OK;
}

/* ---- ARP and ND about our own addresses ------------------------------------ */

static bool ip6_ours(const struct skiff_link *l, const uint8_t *a)
{
	const struct netif *n = &l->netif;

	for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
		if (ip6_addr_isvalid(netif_ip6_addr_state(n, i)) &&
		    memcmp(netif_ip6_addr(n, i)->addr, a, 16) == 0)
			return true;
	return false;
}

bool skiff__guard_spoofed(const struct skiff_link *l, const uint8_t *f, uint32_t len)
{
	struct skiff_stack *st = &skiff__s;
	uint32_t l3 = SIZEOF_ETH_HDR;
	uint16_t type;

	if (len < l3)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETHTYPE_VLAN && len >= l3 + 4) {
		uint16_t vid = (uint16_t)((f[14] << 8 | f[15]) & 0xfff);

		/* Another VLAN's frame: the VLAN check drops and counts it. */
		if (vid && vid != st->cfg.vlan_id)
			return false;
		type = (uint16_t)(f[16] << 8 | f[17]);
		l3 += 4;
	}
	if (type == ETHTYPE_ARP && len >= l3 + 28) {
		const uint8_t *a = f + l3;

		/* Ethernet/IPv4 ARP only (hardware type 1, protocol 0x0800,
		 * sizes 6 and 4): other layouts put other fields at these
		 * offsets, and lwIP drops them anyway. */
		if (a[0] != 0 || a[1] != 1 || a[2] != 0x08 || a[3] != 0 || a[4] != 6 || a[5] != 4)
			return false;
		/* sender MAC at 8, sender IPv4 at 14 */
		if (l->cfg.ipv4 && memcmp(a + 14, &l->cfg.ipv4, 4) == 0 &&
		    memcmp(a + 8, l->mac, 6) != 0) {
			st->stats.arp_spoof_drop++;
			return true;
		}
		return false;
	}
	/* ICMPv6 right after the fixed header: where ND lives (RFC 4861
	 * allows no extension headers in front of it that we would parse). */
	if (type == ETHTYPE_IPV6 && len >= l3 + 40 + 24 && f[l3 + 6] == 58) {
		const uint8_t *ip = f + l3, *icmp = ip + 40;

		if ((icmp[0] == 135 && ip6_ours(l, ip + 8)) ||
		    (icmp[0] == 136 && ip6_ours(l, icmp + 8))) {
			st->stats.nd6_spoof_drop++;
			return true;
		}
	}
	return false;
}
