/* lwIP's hooks (skiff_lwip_hooks.h, LWIP_HOOK_FILENAME): the entry points
 * lwIP calls, each handing the work to the room it belongs to. TCP input:
 * the secpath policy (secpath.c), hostile-input defences (guard.c), one
 * walk of the options (MPTCP to mptcp.c, SACK to recovery.c), and the
 * segment's ACK to ackbatch.c. TCP output: the option length and bytes
 * (mptcp.c), and the counters of what leaves. Link: 802.1Q and the IPv6
 * gateway. (The ISN hook lives in isn.c.) */
#include <string.h>

#include <skiff/mptcp_dss.h>

#include "ackbatch.h"
#include "engine.h"
#include "frames.h"
#include "guard.h"
#include "instance.h"
#include "listenq.h"
#include "mptcp.h"
#include "recovery.h"
#include "secpath.h"
#include "skiff_lwip_hooks.h"
#include "sock.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/tcp.h"

/* ---- VLAN ----------------------------------------------------------------------- */

int skiff__hook_vlan_check(struct netif *netif, struct eth_hdr *eth, struct eth_vlan_hdr *vlan)
{
	struct skiff_stack *st = &skiff__s;
	uint16_t tci = lwip_ntohs(vlan->prio_vid);
	struct pkb_ext_bridge *br;
	struct pkb *pkb;

	(void)netif;
	if ((tci & 0xfff) != st->cfg.vlan_id) {
		st->stats.rx_drop_vlan++;
		return 0;
	}
	/* The tag goes with the packet (BRIDGE extension): L2 facts of the
	 * ingress, for whoever forwards or answers it. */
	pkb = skiff__pkb_of(eth);
	if (pkb && pkb_ext_add_bridge(pkb, &br) == 0) {
		br->ingress_port = st->cfg.backend == SKIFF_BACKEND_MEMLINK ? st->cfg.memlink_end
									    : st->cfg.queue;
		br->vlan_tci = tci;
		br->vlan_proto = ETHTYPE_VLAN;
		memcpy(br->dst_mac, eth->dest.addr, 6);
		memcpy(br->src_mac, eth->src.addr, 6);
		br->flags = PKB_BRIDGE_F_VLAN;
	}
	return 1;
}

s32_t skiff__hook_vlan_set(struct netif *netif, struct pbuf *p, const struct eth_addr *src,
			   const struct eth_addr *dst, u16_t eth_type)
{
	(void)netif;
	(void)p;
	(void)src;
	(void)dst;
	(void)eth_type;
	/* Our replies go out on our VLAN, priority 0. */
	return skiff__s.cfg.vlan_id ? (s32_t)skiff__s.cfg.vlan_id : -1;
}

/* ---- IPv6 gateway -------------------------------------------------------- */

const struct ip6_addr *skiff__hook_nd6_gw(struct netif *netif, const struct ip6_addr *dest)
{
	static ip6_addr_t gw;

	(void)netif;
	(void)dest;
	if (memcmp(skiff__s.cfg.ipv6_gateway, (uint8_t[16]){0}, 16) == 0)
		return NULL;
	memcpy(gw.addr, skiff__s.cfg.ipv6_gateway, 16);
	return &gw;
}

/* ---- incoming TCP ----------------------------------------------------------- */

/* NOP, NOP, timestamps: the options nearly every segment of a connection
 * carries, Linux's and lwIP's; nothing else in them for the walk below. */
static bool timestamps_only(const struct tcp_hdr *hdr, u16_t optlen, u16_t opt1len)
{
	static const uint8_t nop_nop_ts[4] = {1, 1, 8, 10};

	return optlen == 12 && opt1len == 12 && memcmp(hdr + 1, nop_nop_ts, 4) == 0;
}

err_t skiff__hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen,
			       u16_t opt1len, u8_t *opt2, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_sock *sk = pcb->callback_arg;
	uint8_t opts[40];
	const uint8_t *sack = NULL, *ts = NULL; /* SACK and timestamps, for recovery.c */
	u8_t flags = TCPH_FLAGS(hdr);
	bool syn = (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	bool unknown = false;
	bool mptcp = pcb->state == LISTEN || (pcb->skiff_flags & SKIFF_PCB_MPTCP);

	/* A bulk payload keeps its sum, for being sent on as it lies. */
	if (p->len >= SKIFF_CSUM_KEEP_MIN && !p->next)
		skiff__chksum_rx_payload(hdr, TCPH_HDRLEN_BYTES(hdr), p->payload, p->len);
	/* A listener that requires a secpath, and its connections, take
	 * only segments that came with one: first, so that segments without
	 * one count for nothing (SYN-flood state, challenge-ACK allowance). */
	if (!skiff__secpath_allows(sk, p))
		return ERR_ABRT;
	/* Challenge ACKs over their rate limit (guard.c). */
	if (pcb->state != LISTEN && skiff__guard_tcp_in(pcb, hdr, p) != ERR_OK)
		return ERR_ABRT;

	/* The options may be split over two pbufs: gather them (timestamps
	 * alone need no walk; a listener's SYN keeps its options for
	 * listenq.c). */
	if (pcb->state != LISTEN && timestamps_only(hdr, optlen, opt1len)) {
		ts = (const uint8_t *)(hdr + 1) + 2;
		optlen = 0;
	}
	if (optlen > sizeof(opts))
		optlen = sizeof(opts);
	if (opt1len > optlen)
		opt1len = optlen;
	memcpy(opts, hdr + 1, opt1len);
	if (opt2 && optlen > opt1len)
		memcpy(opts + opt1len, opt2, optlen - opt1len);
	for (size_t i = 0; i < optlen;) {
		uint8_t kind = opts[i], len;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= optlen || (len = opts[i + 1]) < 2 || i + len > optlen) {
			/* malformed: lwIP's parser stops here too, and the
			 * segment is processed without the rest */
			st->stats.tcp_bad_options++;
			break;
		}
		if (kind == PKB_MPTCP_OPT_KIND) {
			skiff__mptcp_option_in(opts + i, optlen - i, syn, p);
			mptcp = true;
		} else if (kind == 5)
			sack = opts + i;
		else if (kind == 8 && len == 10)
			ts = opts + i;
		else if (kind != 2 && kind != 3 && kind != 4 && kind != 8)
			unknown = true; /* not MSS, WS, SACK-permitted, timestamps: skipped */
		i += len;
	}
	if (unknown)
		st->stats.tcp_unknown_options++;
	/* MPTCP's handshake and mappings (stack/mptcp/), once per segment
	 * that carries an MPTCP option or is for a subflow or a listener. */
	if (mptcp && skiff__mptcp_input(pcb, hdr, p) != ERR_OK)
		return ERR_ABRT;

	/* A listener's SYN: every limit answers it (listenq.c). */
	if (pcb->state == LISTEN) {
		if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
			return skiff__listenq_syn((struct tcp_pcb_listen *)pcb, hdr, opts, optlen);
		return ERR_OK;
	}

	/* What the ACK delivers feeds our own loss recovery (recovery.c),
	 * which looks for losses after the batch (ackbatch.c). */
	if (sk && sk->pcb.tcp == pcb && pcb->state >= ESTABLISHED && (flags & TCP_ACK) &&
	    !(flags & (TCP_RST | TCP_SYN)) && skiff__recovery_ack_in(sk, pcb, hdr->ackno, sack, ts))
		skiff__batch_add(sk, SKIFF_BATCH_SACK);

	if (pcb->state >= ESTABLISHED && p->tot_len &&
	    TCP_SEQ_GT(hdr->seqno, pcb->rcv_nxt)) /* tcp_input() made it host order */
		st->stats.tcp_ooseq++;
	/* The segment is lwIP's now: its ACK becomes batch work (ackbatch.c). */
	/* (Not RSTs and SYNs: lwIP acts on their ACK field only as a
	 * challenge, and must not be credited with window growth.) */
	if (sk && sk->pcb.tcp == pcb && pcb->state >= ESTABLISHED && !(flags & (TCP_RST | TCP_SYN)))
		skiff__ack_input(sk, pcb, hdr, p->tot_len);
	return ERR_OK;
}

/* ---- outgoing TCP ------------------------------------------------------------ */

u8_t skiff__hook_tcpopt_length(const struct tcp_pcb *pcb, u8_t internal_len)
{
	return (u8_t)(internal_len + skiff__mptcp_option_len(pcb));
}

u32_t *skiff__hook_add_tcpopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb,
			       u32_t *opts)
{
	struct skiff_stack *st = &skiff__s;

	if (TCPH_FLAGS(hdr) & TCP_RST)
		st->stats.tcp_rst_sent++;
	if (pcb && pcb->state != LISTEN && pcb->state != CLOSED) {
		u32_t seq = lwip_ntohl(hdr->seqno);
		/* The socket this pcb is the connection of, if any. */
		struct skiff_sock *sk = pcb->callback_arg;

		if (sk && sk->pcb.tcp != pcb)
			sk = NULL;
		/* What leaves may need a retransmission or probe (timers.c). */
		skiff__timer_arm((struct tcp_pcb *)(uintptr_t)pcb);
		bool carries = p->tot_len > TCPH_HDRLEN_BYTES(hdr) ||
			       (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_FIN));

		if (TCPH_FLAGS(hdr) & TCP_ACK) {
			if (!carries)
				st->stats.tcp_pure_acks++;
			/* What the ACK skiff defers still owes (ackbatch.c). */
			if (sk)
				skiff__ack_sent(&sk->ack, lwip_ntohl(hdr->ackno));
		}
		/* A SYN's first transmission is not a resend (lwIP sends an
		 * active open's SYN below snd_nxt). */
		if (carries && (!(TCPH_FLAGS(hdr) & TCP_SYN) || pcb->nrtx) &&
		    (TCP_SEQ_LT(seq, pcb->snd_nxt) ||
		     ((pcb->flags & TF_RTO) && TCP_SEQ_LT(seq, pcb->rto_end)))) {
			st->stats.tcp_retransmits++;
			if (sk)
				sk->rec.total_retrans++;
			if (pcb->flags & TF_RTO) {
				st->stats.tcp_rto_retransmits++;
				if (seq == pcb->lastack)
					st->stats.tcp_timeouts++;
			}
			/* lwIP's fast retransmit going out: recovery begins, and
			 * ends once all sent so far is ACKed (NewReno). */
			if ((pcb->flags & TF_INFR) && sk)
				skiff__recovery_begin(sk, pcb->snd_nxt,
						      seq + (p->tot_len - TCPH_HDRLEN_BYTES(hdr)));
		}
	}
	if (pcb && (pcb->skiff_flags & SKIFF_PCB_MPTCP))
		opts = skiff__mptcp_option_out(p, hdr, pcb, opts);
	return opts;
}
