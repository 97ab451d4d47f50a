/* lwIP's hooks, as skiff implements them (LWIP_HOOK_FILENAME): lwIP's own
 * sources include this after their headers, so only lwIP types appear here.
 * The functions live in hooks.c. */
#ifndef SKIFF_LWIP_HOOKS_H
#define SKIFF_LWIP_HOOKS_H

#include <stdbool.h>

#include "lwip/arch.h"
#include "lwip/err.h"
#include "lwip/pbuf.h"

#include "engine.h"

struct ip_addr;
struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
struct netif;
struct eth_hdr;
struct eth_addr;
struct eth_vlan_hdr;
struct ip6_addr;
struct tcp_seg;

/* RFC 6528: keyed hash of the 4-tuple plus a 4 us clock. */
u32_t skiff__hook_tcp_isn(const struct ip_addr *local_ip, u16_t local_port,
			  const struct ip_addr *remote_ip, u16_t remote_port);
#define LWIP_HOOK_TCP_ISN(lip, lport, rip, rport) skiff__hook_tcp_isn(lip, lport, rip, rport)

/* Every segment's send time and history, for RACK (recovery.c, patch
 * 0013). */
void skiff__recovery_seg_init(struct tcp_seg *seg);
void skiff__recovery_seg_out(struct tcp_pcb *pcb, struct tcp_seg *seg);
#define LWIP_HOOK_TCP_SEG_INIT(seg)	skiff__recovery_seg_init(seg)
#define LWIP_HOOK_TCP_SEG_OUT(pcb, seg) skiff__recovery_seg_out(pcb, seg)
/* Each transmission's TSval: a resend's is above its previous one's
 * (recovery.c, patch 0020). */
u32_t skiff__recovery_tsval(const struct tcp_pcb *pcb, struct tcp_seg *seg);
#define LWIP_HOOK_TCP_TSVAL(pcb, seg) skiff__recovery_tsval(pcb, seg)

/* A plain send's data copied once, into a UMEM frame that goes on the TX
 * ring as it lies; a resend while that frame is still on the ring gets a
 * copy first (frames.c, patch 0021). */
struct pbuf *skiff__tcp_pbuf_alloc(const struct tcp_pcb *pcb, pbuf_layer layer, u16_t length,
				   u16_t max_length);
#define LWIP_HOOK_TCP_PBUF_ALLOC(pcb, layer, length, max_length)                                   \
	skiff__tcp_pbuf_alloc(pcb, layer, length, max_length)
err_t skiff__tcp_seg_prepare(struct tcp_pcb *pcb, struct tcp_seg *seg);
#define LWIP_HOOK_TCP_SEG_PREPARE(pcb, seg) skiff__tcp_seg_prepare(pcb, seg)
/* A split segment's remainder (patch 0026) keeps the extensions of the
 * front's frame, its MPTCP mapping included (frames.c). */
void skiff__tcp_seg_split(struct tcp_pcb *pcb, struct tcp_seg *useg, struct tcp_seg *seg);
#define LWIP_HOOK_TCP_SEG_SPLIT(pcb, useg, seg) skiff__tcp_seg_split(pcb, useg, seg)

/* A write (or FIN) on an MPTCP subflow that does not continue its last
 * unsent segment's mapping at the data level starts a segment of its own:
 * one DSS mapping per segment (stack/mptcp/send.c, patch 0024). */
bool skiff__mptcp_write_appends(const struct tcp_pcb *pcb, const struct tcp_seg *last);
#define LWIP_HOOK_TCP_WRITE_APPENDS(pcb, last_unsent)                                              \
	(!((pcb)->skiff_flags & SKIFF_PCB_MPTCP) || skiff__mptcp_write_appends(pcb, last_unsent))

/* MPTCP option parsing (kind 30) and the secpath policy of listeners. */
err_t skiff__hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen,
			       u16_t opt1len, u8_t *opt2, struct pbuf *p);
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p)                             \
	skiff__hook_tcp_inpacket(pcb, hdr, optlen, opt1len, opt2, p)

/* A DSS option on segments of connections that carry a mapping. lwIP
 * asks about four times per segment: only a pcb with MPTCP state costs a
 * call (lwIP expands this where a pcb's fields are known; a RST may have
 * no pcb). */
u8_t skiff__hook_tcpopt_length(const struct tcp_pcb *pcb, u8_t internal_len);
#define LWIP_HOOK_TCP_OUT_TCPOPT_LENGTH(pcb, internal_len)                                         \
	(((pcb) && ((pcb)->skiff_flags & SKIFF_PCB_MPTCP))                                         \
		 ? skiff__hook_tcpopt_length(pcb, internal_len)                                    \
		 : (u8_t)(internal_len))
u32_t *skiff__hook_add_tcpopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb,
			       u32_t *opts);
#define LWIP_HOOK_TCP_OUT_ADD_TCPOPTS(p, hdr, pcb, opts) skiff__hook_add_tcpopts(p, hdr, pcb, opts)

/* The engine's entry points in lwIP's TCP (stack/lwip-patches): the
 * 4-tuple table finds a segment's pcb and follows the pcb lists
 * (demux.c); only pcbs with armed timers get timer visits, TIME-WAIT
 * expires in order (timers.c); local ports come from the table. */
struct tcp_pcb *skiff__hook_tcp_demux(const struct tcp_hdr *hdr, const struct ip_addr *src,
				      const struct ip_addr *dest, struct netif *inp);
#define LWIP_HOOK_TCP_DEMUX(hdr, src, dest, inp) skiff__hook_tcp_demux(hdr, src, dest, inp)
/* (LWIP_HOOK_TCP_PCB_LINKED/UNLINKING are in lwipopts.h: lwIP's pcb list
 * macros test for them when tcp_priv.h is read, before this file.) */
void skiff__hook_slowtmr(void);
#define LWIP_HOOK_TCP_SLOWTMR() skiff__hook_slowtmr()
void skiff__hook_fasttmr(void);
#define LWIP_HOOK_TCP_FASTTMR() skiff__hook_fasttmr()
int skiff__hook_port_in_use(u16_t port);
#define LWIP_HOOK_TCP_PORT_IN_USE(port) skiff__hook_port_in_use(port)
u16_t skiff__hook_connect_port(const struct tcp_pcb *pcb);
#define LWIP_HOOK_TCP_CONNECT_PORT(pcb) skiff__hook_connect_port(pcb)
int skiff__hook_tuple_in_use(const struct tcp_pcb *pcb);
#define LWIP_HOOK_TCP_TUPLE_IN_USE(pcb) skiff__hook_tuple_in_use(pcb)

/* Congestion control (cc.c, patch 0012): CUBIC or Reno per connection in
 * place of lwIP's Reno, set up when the connection is established. */
void skiff__hook_tcp_cc_init(struct tcp_pcb *pcb);
#define LWIP_HOOK_TCP_CC_INIT(pcb) skiff__hook_tcp_cc_init(pcb)
void skiff__hook_tcp_cc_acked(struct tcp_pcb *pcb, u32_t acked);
#define LWIP_HOOK_TCP_CC_ACKED(pcb, acked) skiff__hook_tcp_cc_acked(pcb, acked)
void skiff__hook_tcp_cc_loss(struct tcp_pcb *pcb, u8_t event);
#define LWIP_HOOK_TCP_CC_LOSS(pcb, event) skiff__hook_tcp_cc_loss(pcb, event)

/* Path MTU (pmtu.c): ICMP "fragmentation needed" and ICMPv6 "packet too
 * big" seen before lwIP's own checks; the packet goes on to lwIP. Only an
 * IPv4 packet carrying ICMP (protocol 1) costs a call: every TCP segment
 * passes here. */
int skiff__hook_ip4_input(struct pbuf *p, struct netif *inp);
#define LWIP_HOOK_IP4_INPUT(p, inp)                                                                \
	((p)->len >= 20 && ((const u8_t *)(p)->payload)[9] == 1 && skiff__hook_ip4_input(p, inp))
int skiff__hook_ip6_input(struct pbuf *p, struct netif *inp);
#define LWIP_HOOK_IP6_INPUT(p, inp) skiff__hook_ip6_input(p, inp)

/* 802.1Q: accept our VLAN (and record the tag), tag what we send. */
int skiff__hook_vlan_check(struct netif *netif, struct eth_hdr *eth, struct eth_vlan_hdr *vlan);
#define LWIP_HOOK_VLAN_CHECK(netif, eth, vlan) skiff__hook_vlan_check(netif, eth, vlan)
s32_t skiff__hook_vlan_set(struct netif *netif, struct pbuf *p, const struct eth_addr *src,
			   const struct eth_addr *dst, u16_t eth_type);
#define LWIP_HOOK_VLAN_SET(netif, p, src, dst, type) skiff__hook_vlan_set(netif, p, src, dst, type)

/* IPv6: off-link destinations go through the configured gateway. */
const struct ip6_addr *skiff__hook_nd6_gw(struct netif *netif, const struct ip6_addr *dest);
#define LWIP_HOOK_ND6_GET_GW(netif, dest) skiff__hook_nd6_gw(netif, dest)

#endif
