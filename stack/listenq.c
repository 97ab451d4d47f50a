/*
 * A listener's queues and limits.
 *
 * Half-open connections: each listener keeps its own list of the pcbs in
 * SYN-RCVD it made (their skiff_onext/oprev links, the listener's own
 * pair as head and tail), joined and left through lwIP's link/unlink
 * notifications and the accept callback. A half-open connection lives
 * SKIFF_SYN_RCVD_TIMEOUT_MS at most (a timer visit ends it); a listener
 * that closes resets its own.
 *
 * Every limit answers. lwIP drops a SYN silently when a listener's backlog
 * (handshakes under way plus connections waiting for accept()) is full; so
 * a SYN that finds a limit — that backlog, skiff_config.max_half_open over
 * all listeners, or max_connections — is answered here, before lwIP sees
 * it: with a SYN cookie (RFC 4987), as Linux does, or with an RST where
 * cookies are off (skiff_config.no_syncookies). No state is kept for a
 * cookie; the ACK that returns it makes the connection (demux.c asks
 * skiff__listenq_segment() for segments no connection claims), and joins
 * the accept queue even past the backlog: the backlog bounds the state
 * unproven SYNs may take, and a returned cookie proves the client's
 * address. A cookie ACK that finds the connection table full, or an
 * invalid one, gets lwIP's answer to an ACK on a listener: an RST.
 *
 * The cookie is the ISN of our SYN-ACK: 8 bits of a 64-second period, 2
 * bits naming the client's MSS in a table, and 22 bits of SipHash-2-4 over
 * the 4-tuple, the client's ISN, the period and the MSS index, keyed by the
 * stack's RFC 6528 secret. It is good for two periods. Options the cookie
 * cannot carry (window scale, SACK, timestamps) are not offered on a
 * cookie's SYN-ACK, so both ends proceed without them.
 */
#include <errno.h>
#include <string.h>

#include "demux.h"
#include "engine.h"
#include "instance.h"
#include "listenq.h"

#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"

#define COOKIE_PERIOD_MS 64000
static const u16_t cookie_mss[4] = {536, 1220, 1440, 1460};

static uint32_t n_half_open;

uint32_t skiff__listenq_half_open(void)
{
	return n_half_open;
}

/* ---- half-open connections ------------------------------------------------- */

static void half_open_remove(struct tcp_pcb *pcb)
{
	struct tcp_pcb_listen *l = pcb->listener;

	if (!(pcb->skiff_flags & SKIFF_PCB_HALF_OPEN))
		return;
	if (pcb->skiff_oprev)
		pcb->skiff_oprev->skiff_onext = pcb->skiff_onext;
	else if (l)
		l->skiff_onext = pcb->skiff_onext;
	if (pcb->skiff_onext)
		pcb->skiff_onext->skiff_oprev = pcb->skiff_oprev;
	else if (l)
		l->skiff_oprev = pcb->skiff_oprev;
	if (l)
		l->skiff_half_open--;
	pcb->skiff_onext = pcb->skiff_oprev = NULL;
	pcb->skiff_flags &= (u8_t)~SKIFF_PCB_HALF_OPEN;
	n_half_open--;
}

void skiff__listenq_linked(struct tcp_pcb *pcb)
{
	struct tcp_pcb_listen *l = pcb->listener;
	struct tcp_pcb *tail;

	if (pcb->state != SYN_RCVD || !l)
		return;
	tail = l->skiff_oprev;
	pcb->skiff_onext = NULL;
	pcb->skiff_oprev = tail;
	if (tail)
		tail->skiff_onext = pcb;
	else
		l->skiff_onext = pcb;
	l->skiff_oprev = pcb;
	l->skiff_half_open++;
	pcb->skiff_flags |= SKIFF_PCB_HALF_OPEN;
	n_half_open++;
}

void skiff__listenq_unlinking(struct tcp_pcb *pcb)
{
	half_open_remove(pcb);
}

void skiff__listenq_established(struct tcp_pcb *pcb)
{
	half_open_remove(pcb);
}

bool skiff__listenq_expired(struct tcp_pcb *pcb)
{
	if (pcb->state != SYN_RCVD) {
		half_open_remove(pcb); /* finished without the accept callback */
		return false;
	}
	if ((u32_t)(tcp_ticks - pcb->tmr) < SKIFF_SYN_RCVD_TIMEOUT_MS / TCP_SLOW_INTERVAL)
		return false;
	skiff__s.stats.tcp_syn_rcvd_timeouts++;
	tcp_abandon(pcb, 0); /* as lwIP's own expiry: no RST */
	return true;
}

void skiff__listenq_abort_half_open(struct tcp_pcb_listen *lpcb)
{
	while (lpcb->skiff_onext) {
		struct tcp_pcb *pcb = lpcb->skiff_onext;

		tcp_arg(pcb, NULL);
		tcp_abort(pcb); /* unlinking takes it off the list */
	}
}

/* ---- limits and SYN cookies ------------------------------------------------------ */

static bool over_limit(const struct tcp_pcb_listen *lpcb)
{
	return lpcb->accepts_pending >= lpcb->backlog ||
	       n_half_open >= skiff__s.cfg.max_half_open || skiff__demux_full();
}

static size_t put_addr(uint8_t *b, const ip_addr_t *a)
{
	if (IP_IS_V6(a)) {
		memcpy(b, ip_2_ip6(a)->addr, 16);
		return 16;
	}
	memcpy(b, &ip_2_ip4(a)->addr, 4);
	return 4;
}

/* The 22-bit check of a cookie. */
static u32_t cookie_mac(const ip_addr_t *local, u16_t lport, const ip_addr_t *remote, u16_t rport,
			u32_t peer_isn, u32_t period, u32_t mssi)
{
	uint8_t b[16 + 16 + 2 + 2 + 4 + 4 + 1];
	size_t n = 0;

	n += put_addr(b + n, local);
	n += put_addr(b + n, remote);
	memcpy(b + n, &lport, 2);
	memcpy(b + n + 2, &rport, 2);
	memcpy(b + n + 4, &peer_isn, 4);
	memcpy(b + n + 8, &period, 4);
	b[n + 12] = (uint8_t)mssi;
	n += 13;
	return (u32_t)skiff__siphash24(skiff__s.isn_k0 ^ 0x636f6f6b69657321ull, skiff__s.isn_k1, b,
				       n) &
	       0x3fffffu;
}

static u32_t period_now(void)
{
	return (u32_t)(skiff__now_ms() / COOKIE_PERIOD_MS);
}

/* The client's MSS option (0: none). */
static u16_t syn_mss(const uint8_t *o, unsigned len)
{
	for (unsigned i = 0; i < len;) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
			break;
		if (o[i] == 2 && o[i + 1] == 4)
			return (u16_t)(o[i + 2] << 8 | o[i + 3]);
		i += o[i + 1];
	}
	return 0;
}

/* Our MSS towards @p remote: the MTU less the IP and TCP headers. */
static u16_t our_mss(const ip_addr_t *remote)
{
	u16_t mss = (u16_t)(SKIFF_MTU - (IP_IS_V6(remote) ? 40 : 20) - TCP_HLEN);

	return mss < TCP_MSS ? mss : TCP_MSS;
}

/* Sends the SYN-ACK whose ISN is the cookie; 0 or -errno. */
static int send_cookie(const struct tcp_pcb_listen *lpcb, const struct tcp_hdr *syn,
		       const uint8_t *opts, unsigned optlen)
{
	const ip_addr_t *local = ip_current_dest_addr(), *remote = ip_current_src_addr();
	u16_t peer_mss = syn_mss(opts, optlen), mss = our_mss(remote);
	u32_t period = period_now(), mssi = 0, cookie;
	struct tcp_hdr *h;
	struct pbuf *p;
	uint8_t *o;

	if (!peer_mss)
		peer_mss = 536; /* RFC 9293's default */
	for (u32_t i = 0; i < 4; i++)
		if (cookie_mss[i] <= peer_mss)
			mssi = i;
	cookie = (period & 0xffu) << 24 | mssi << 22 |
		 cookie_mac(local, syn->dest, remote, syn->src, syn->seqno, period, mssi);
	p = pbuf_alloc(PBUF_IP, TCP_HLEN + 4, PBUF_RAM);
	if (!p)
		return -ENOMEM;
	h = p->payload;
	h->src = lwip_htons(syn->dest);
	h->dest = lwip_htons(syn->src);
	h->seqno = lwip_htonl(cookie);
	h->ackno = lwip_htonl(syn->seqno + 1);
	TCPH_HDRLEN_FLAGS_SET(h, (TCP_HLEN + 4) / 4, TCP_SYN | TCP_ACK);
	h->wnd = lwip_htons(TCPWND_MIN16(TCP_WND));
	h->chksum = 0;
	h->urgp = 0;
	o = (uint8_t *)(h + 1);
	o[0] = 2;
	o[1] = 4;
	o[2] = (uint8_t)(mss >> 8);
	o[3] = (uint8_t)mss;
	h->chksum = ip_chksum_pseudo(p, IP_PROTO_TCP, p->tot_len, local, remote);
	/* A forged source may have no route or neighbour: the answer is
	 * sent all the same, as far as the path goes. */
	(void)ip_output_if(p, local, remote, TCP_TTL, 0, IP_PROTO_TCP, ip_current_input_netif());
	pbuf_free(p);
	((struct tcp_pcb_listen *)(uintptr_t)lpcb)->skiff_hash = period | 0x80000000u;
	return 0;
}

err_t skiff__listenq_syn(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr,
			 const uint8_t *opts, unsigned optlen)
{
	struct skiff_stack *st = &skiff__s;

	if (!over_limit(lpcb))
		return ERR_OK;
	st->stats.tcp_listen_overflows++;
	if (!st->cfg.no_syncookies && send_cookie(lpcb, hdr, opts, optlen) == 0) {
		st->stats.tcp_syncookies_sent++;
		return ERR_ABRT;
	}
	st->stats.tcp_listen_overflow_rsts++;
	tcp_rst_netif(ip_current_input_netif(), 0, hdr->seqno + 1, ip_current_dest_addr(),
		      ip_current_src_addr(), hdr->dest, hdr->src);
	return ERR_ABRT;
}

/* The period a cookie's 8 bits name, if one of the last two; else ~0. */
static u32_t cookie_period(u32_t cookie)
{
	u32_t now = period_now();

	if ((cookie >> 24) == (now & 0xffu))
		return now;
	if ((cookie >> 24) == ((now - 1) & 0xffu))
		return now - 1;
	return ~0u;
}

/* A connection for the ACK @p hdr that returns a valid cookie, set up as
 * lwIP's tcp_listen_input() and the SYN-ACK would have left it (SYN-RCVD,
 * our SYN acknowledged by this very segment), or NULL. */
static struct tcp_pcb *cookie_connection(struct tcp_pcb_listen *lpcb, const struct tcp_hdr *hdr)
{
	const ip_addr_t *local = ip_current_dest_addr(), *remote = ip_current_src_addr();
	u32_t cookie = hdr->ackno - 1, peer_isn = hdr->seqno - 1;
	u32_t period = cookie_period(cookie), mssi = (cookie >> 22) & 3u;
	struct tcp_pcb *npcb;

	if (period == ~0u || (cookie & 0x3fffffu) != cookie_mac(local, hdr->dest, remote, hdr->src,
								peer_isn, period, mssi))
		return NULL;
	npcb = tcp_alloc(lpcb->prio);
	if (!npcb)
		return NULL;
	lpcb->accepts_pending++;
	tcp_set_flags(npcb, TF_BACKLOGPEND);
	ip_addr_copy(npcb->local_ip, *local);
	ip_addr_copy(npcb->remote_ip, *remote);
	npcb->local_port = lpcb->local_port;
	npcb->remote_port = hdr->src;
	npcb->state = SYN_RCVD;
	npcb->rcv_nxt = hdr->seqno;
	npcb->rcv_ann_right_edge = npcb->rcv_nxt;
	npcb->snd_wl1 = hdr->seqno - 1; /* forces the window update */
	npcb->snd_wl2 = cookie;
	npcb->lastack = cookie;
	npcb->snd_nxt = cookie + 1;
	npcb->snd_lbb = cookie + 1;
	npcb->callback_arg = lpcb->callback_arg;
	npcb->listener = lpcb;
	npcb->so_options = lpcb->so_options & SOF_INHERITED;
	npcb->netif_idx = lpcb->netif_idx;
	npcb->snd_wnd = hdr->wnd;
	npcb->snd_wnd_max = npcb->snd_wnd;
	npcb->mss = tcp_eff_send_mss(cookie_mss[mssi], &npcb->local_ip, &npcb->remote_ip);
	TCP_REG_ACTIVE(npcb);
	if (tcp_ext_arg_invoke_callbacks_passive_open(lpcb, npcb) != ERR_OK) {
		tcp_abandon(npcb, 0);
		return NULL;
	}
	return npcb;
}

struct tcp_pcb *skiff__listenq_segment(const struct tcp_hdr *hdr, struct tcp_pcb *l)
{
	struct skiff_stack *st = &skiff__s;
	struct tcp_pcb_listen *lpcb = (struct tcp_pcb_listen *)(void *)l;
	struct tcp_pcb *npcb;
	u32_t sent;

	if (!l || (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_RST | TCP_ACK)) != TCP_ACK)
		return l;
	/* Only a listener that sent cookies in the last two periods takes one
	 * (the high bit says it ever did). */
	sent = lpcb->skiff_hash;
	if (!(sent & 0x80000000u) || period_now() - (sent & 0x7fffffffu) > 1)
		return l;
	/* A client that returns a cookie has proved its address: its
	 * connection joins the accept queue even past the backlog (which bounds
	 * the state unproven SYNs may take), as long as the connection table
	 * has room. */
	if (skiff__demux_full()) {
		st->stats.tcp_listen_overflow_rsts++;
		return l; /* lwIP answers an ACK on a listener with an RST */
	}
	npcb = cookie_connection(lpcb, hdr);
	if (!npcb) {
		st->stats.tcp_syncookies_failed++;
		return l;
	}
	st->stats.tcp_syncookies_ok++;
	return npcb;
}
