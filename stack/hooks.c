/* lwIP's hooks (skiff_lwip_hooks.h): RFC 6528 ISNs, 802.1Q, MPTCP options,
 * the listener secpath policy; and the XDP metadata record that carries a
 * secpath in (xdp_meta.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skiff_internal.h"
#include "skiff_lwip_hooks.h"
#include "skiff_testing.h"
#include "xdp_meta.h"

#include <skiff/mptcp_dss.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/tcp.h"

/* ---- ext arg slots -------------------------------------------------------- */

/* lwIP hands out ext arg ids once per process, like lwip_init(). */
uint8_t skiff__ext_sock_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;
static uint8_t ext_mptcp_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

/* The DSS option a connection writes on its segments (an internal setter
 * fills it: a future MPTCP layer, or tests). */
struct skiff_mptcp_out {
	struct pkb_ext_mptcp dss;
	uint8_t len; /* option bytes, NOP-padded to 4 */
};

static void mptcp_destroy(u8_t id, void *data)
{
	(void)id;
	free(data);
}

static const struct tcp_ext_arg_callbacks mptcp_callbacks = {.destroy = mptcp_destroy};

#define MAX_SAS 64
static struct pkb_sa *sas[MAX_SAS];
static unsigned n_sas;

void skiff__hooks_init(void)
{
	if (skiff__ext_sock_id == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID) {
		skiff__ext_sock_id = tcp_ext_arg_alloc_id();
		ext_mptcp_id = tcp_ext_arg_alloc_id();
	}
}

/* ---- RFC 6528 ISN ------------------------------------------------------------ */

void skiff__isn_key(uint64_t k0, uint64_t k1)
{
	skiff__s.isn_k0 = k0;
	skiff__s.isn_k1 = k1;
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

/* ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
 * 4-microsecond clock, F SipHash-2-4 under a key from getrandom(). */
u32_t skiff__hook_tcp_isn(const struct ip_addr *local_ip, u16_t local_port,
			  const struct ip_addr *remote_ip, u16_t remote_port)
{
	uint8_t b[16 + 2 + 16 + 2];
	size_t n = 0;
	struct timespec ts;
	uint64_t m;

	n += put_addr(b + n, local_ip);
	b[n++] = (uint8_t)(local_port >> 8);
	b[n++] = (uint8_t)local_port;
	n += put_addr(b + n, remote_ip);
	b[n++] = (uint8_t)(remote_port >> 8);
	b[n++] = (uint8_t)remote_port;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) / 4000;
	return (u32_t)(skiff__siphash24(skiff__s.isn_k0, skiff__s.isn_k1, b, n) + m);
}

uint32_t skiff__isn_v4(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	ip_addr_t l, r;

	ip_addr_set_ip4_u32_val(l, laddr);
	ip_addr_set_ip4_u32_val(r, raddr);
	return skiff__hook_tcp_isn(&l, lport, &r, rport);
}

/* ---- VLAN ----------------------------------------------------------------------- */

int skiff__hook_vlan_check(struct netif *netif, struct eth_hdr *eth, struct eth_vlan_hdr *vlan)
{
	struct skiff_stack *s = &skiff__s;
	uint16_t tci = lwip_ntohs(vlan->prio_vid);
	struct pkb_ext_bridge *br;
	struct pkb *pkb;

	(void)netif;
	if ((tci & 0xfff) != s->cfg.vlan_id) {
		s->st.rx_drop_vlan++;
		return 0;
	}
	/* The tag goes with the packet (BRIDGE extension): L2 facts of the
	 * ingress, for whoever forwards or answers it. */
	pkb = skiff__pkb_of(eth);
	if (pkb && pkb_ext_add_bridge(pkb, &br) == 0) {
		br->ingress_port =
			s->cfg.backend == SKIFF_BACKEND_MEMLINK ? s->cfg.memlink_end : s->cfg.queue;
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

/* ---- incoming TCP: MPTCP options, secpath policy, counters ------------------------ */

static void parse_mptcp(const uint8_t *o, size_t avail, bool syn, struct pbuf *p)
{
	struct skiff_stack *s = &skiff__s;
	struct pkb_ext_mptcp dss, *m;
	struct pkb *pkb;
	unsigned subtype;

	if (avail < 3) {
		s->st.mptcp_bad_option++;
		return;
	}
	subtype = o[2] >> 4;
	if (subtype == 0) {
		/* MP_CAPABLE: we answer with plain TCP, the peer falls back. */
		if (syn)
			s->st.mptcp_fallbacks++;
		return;
	}
	if (subtype != PKB_MPTCP_SUBTYPE_DSS)
		return;
	if (pkb_mptcp_dss_decode(o, avail, false, &dss) < 0) {
		s->st.mptcp_bad_option++;
		return;
	}
	pkb = skiff__rx_pkb(p);
	if (pkb && pkb_ext_add_mptcp(pkb, &m) == 0) {
		*m = dss;
		s->st.mptcp_dss_rx++;
	}
}

err_t skiff__hook_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, u16_t optlen,
			       u16_t opt1len, u8_t *opt2, struct pbuf *p)
{
	struct skiff_stack *s = &skiff__s;
	struct skiff_sock *sk = pcb->callback_arg;
	uint8_t opts[40];
	const uint8_t *sack = NULL; /* the SACK option, for sack.c */
	u8_t flags = TCPH_FLAGS(hdr);
	bool syn = (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	bool unknown = false;

	/* A listener that requires a secpath, and its connections, take
	 * only segments that came with one: first, so that segments without
	 * one count for nothing (SYN-flood state, challenge-ACK allowance). */
	if (sk && sk->require_secpath) {
		struct pkb *pkb = skiff__rx_pkb(p);

		if (!pkb || !pkb_ext_secpath(pkb)) {
			s->st.secpath_drops++;
			return ERR_ABRT;
		}
	}
	/* Challenge ACKs over their rate limit, SYN flood bounds (guard.c). */
	if (skiff__guard_tcp_in(pcb, hdr, p) != ERR_OK)
		return ERR_ABRT;

	/* The options may be split over two pbufs: gather them. */
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
			s->st.tcp_bad_options++;
			break;
		}
		if (kind == PKB_MPTCP_OPT_KIND)
			parse_mptcp(opts + i, optlen - i, syn, p);
		else if (kind == 5)
			sack = opts + i;
		else if (kind != 2 && kind != 3 && kind != 4 && kind != 8)
			unknown = true; /* not MSS, WS, SACK-permitted, timestamps: skipped */
		i += len;
	}
	if (unknown)
		s->st.tcp_unknown_options++;

	/* Work for after the batch (sack.c): SACK blocks for our own loss
	 * recovery. */
	if (sk && sk->pcb.tcp == pcb && pcb->state >= ESTABLISHED && (flags & TCP_ACK) &&
	    (pcb->flags & TF_SACK) && optlen && skiff__sack_input(sk, pcb, hdr->ackno, sack))
		skiff__batch_add(sk, SKIFF_BATCH_SACK);

	if (pcb->state >= ESTABLISHED && p->tot_len &&
	    TCP_SEQ_GT(hdr->seqno, pcb->rcv_nxt)) /* tcp_input() made it host order */
		s->st.tcp_ooseq++;
	/* The segment is lwIP's now: its ACK becomes batch work (sack.c). */
	/* (Not RSTs and SYNs: lwIP acts on their ACK field only as a
	 * challenge, and must not be credited with window growth.) */
	if (sk && sk->pcb.tcp == pcb && pcb->state >= ESTABLISHED && !(flags & (TCP_RST | TCP_SYN)))
		skiff__ack_input(sk, pcb, hdr, p->tot_len);
	return ERR_OK;
}

/* ---- outgoing TCP: the DSS option, retransmission counter ------------------------- */

static struct skiff_mptcp_out *mptcp_of(const struct tcp_pcb *pcb)
{
	if (!pcb || pcb->state == LISTEN || ext_mptcp_id == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
		return NULL;
	return tcp_ext_arg_get(pcb, ext_mptcp_id);
}

u8_t skiff__hook_tcpopt_length(const struct tcp_pcb *pcb, u8_t internal_len)
{
	struct skiff_mptcp_out *m = mptcp_of(pcb);

	return (u8_t)(internal_len + (m ? m->len : 0));
}

u32_t *skiff__hook_add_tcpopts(struct pbuf *p, struct tcp_hdr *hdr, const struct tcp_pcb *pcb,
			       u32_t *opts)
{
	struct skiff_stack *s = &skiff__s;
	struct skiff_mptcp_out *m = mptcp_of(pcb);

	if (TCPH_FLAGS(hdr) & TCP_RST)
		s->st.tcp_rst_sent++;
	if (pcb && pcb->state != LISTEN && pcb->state != CLOSED) {
		u32_t seq = lwip_ntohl(hdr->seqno);
		bool carries = p->tot_len > TCPH_HDRLEN_BYTES(hdr) ||
			       (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_FIN));

		if (TCPH_FLAGS(hdr) & TCP_ACK) {
			struct skiff_sock *sk = pcb->callback_arg;

			/* What the ACK skiff defers still owes (sack.c). */
			if (sk && sk->pcb.tcp == pcb)
				sk->ack_sent = lwip_ntohl(hdr->ackno);
		}
		if (carries && (TCP_SEQ_LT(seq, pcb->snd_nxt) ||
				((pcb->flags & TF_RTO) && TCP_SEQ_LT(seq, pcb->rto_end)))) {
			struct skiff_sock *sk = pcb->callback_arg;

			s->st.tcp_retransmits++;
			if (pcb->flags & TF_RTO) {
				struct tcp_pcb *w = (struct tcp_pcb *)(uintptr_t)pcb;

				/* Four timeouts in a row: not a lost segment but
				 * a silent path; back off from a floor that lets
				 * the 12 tries last seconds (lwipopts.h). */
				if (pcb->nrtx >= 4 &&
				    pcb->sv < SKIFF_RTO_BACKOFF_FLOOR_MS / TCP_SLOW_INTERVAL)
					w->sv = SKIFF_RTO_BACKOFF_FLOOR_MS / TCP_SLOW_INTERVAL;
				s->st.tcp_rto_retransmits++;
				if (seq == pcb->lastack)
					s->st.tcp_timeouts++;
			}
			/* lwIP's fast retransmit going out: recovery begins, and
			 * ends once all sent so far is ACKed (NewReno). */
			if ((pcb->flags & TF_INFR) && sk && sk->pcb.tcp == pcb &&
			    !sk->in_recovery) {
				sk->in_recovery = true;
				sk->recover = pcb->snd_nxt;
				sk->rexmit_high = seq + (p->tot_len - TCPH_HDRLEN_BYTES(hdr));
				sk->rexmit_mark = pcb->snd_nxt;
				s->st.tcp_fast_recoveries++;
			}
		}
	}
	if (m) {
		uint8_t b[40];
		unsigned dlen = pkb_mptcp_dss_len(m->dss.flags, m->dss.has_csum),
			 pad = m->len - dlen;

		/* NOPs first so that the option ends on the word boundary. */
		memset(b, 1, pad);
		pkb_mptcp_dss_encode(&m->dss, m->dss.has_csum, b + pad, sizeof(b) - pad);
		memcpy(opts, b, m->len);
		opts += m->len / 4;
		s->st.mptcp_dss_tx++;
	}
	return opts;
}

int skiff__mptcp_set_mapping(int fd, const struct pkb_ext_mptcp *dss)
{
	struct skiff_mptcp_out *m, *old;
	struct skiff_sock *sk;
	struct tcp_pcb *pcb;
	int err = 0;
	uint8_t len = 0;

	sk = skiff__sock_get(fd, &err);
	if (!sk)
		return -err;
	if (sk->kind != SKIFF_SK_TCP || !(pcb = sk->pcb.tcp) || pcb->state == LISTEN)
		return -ENOTCONN;
	if (dss) {
		if (dss->flags & ~PKB_DSS_FLAGS)
			return -EINVAL;
		len = (uint8_t)((pkb_mptcp_dss_len(dss->flags, dss->has_csum) + 3) & ~3u);
	}
	old = tcp_ext_arg_get(pcb, ext_mptcp_id);
	/* Queued segments had their header room sized with the old length:
	 * it may change only when nothing is queued. */
	if ((old ? old->len : 0) != len && (pcb->unsent || pcb->unacked))
		return -EBUSY;
	if (!dss) {
		free(old);
		tcp_ext_arg_set(pcb, ext_mptcp_id, NULL);
		return 0;
	}
	m = old ? old : malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->dss = *dss;
	m->len = len;
	tcp_ext_arg_set(pcb, ext_mptcp_id, m);
	tcp_ext_arg_set_callbacks(pcb, ext_mptcp_id, &mptcp_callbacks);
	return 0;
}

/* ---- secpath from XDP metadata ---------------------------------------------------- */

int skiff__sa_add(struct pkb_sa *sa)
{
	if (n_sas == MAX_SAS)
		return -ENOSPC;
	pkb_sa_get(sa);
	sas[n_sas++] = sa;
	return 0;
}

void skiff__sa_clear(void)
{
	while (n_sas)
		pkb_sa_put(sas[--n_sas]);
}

static struct pkb_sa *sa_lookup(uint32_t spi)
{
	for (unsigned i = 0; i < n_sas; i++)
		if (sas[i]->spi == spi)
			return sas[i];
	return NULL;
}

int skiff__rx_meta(struct pkb *pkb)
{
	uint8_t *frame = (uint8_t *)pkb->shinfo;
	struct skiff_xdp_meta m;

	if (pkb->data - frame < (ptrdiff_t)(PKB_META_SIZE + sizeof(m)))
		return -ENOENT;
	memcpy(&m, pkb->data - sizeof(m), sizeof(m));
	if (m.magic != SKIFF_XDP_META_MAGIC)
		return -ENOENT;
	/* Read once: the slot is wiped again when the frame is released. */
	memset(pkb->data - sizeof(m), 0, sizeof(m));
	if (m.version != SKIFF_XDP_META_VERSION || !m.n_sa || m.n_sa > SKIFF_XDP_META_MAX_SA)
		return -EINVAL;
	for (unsigned i = 0; i < m.n_sa; i++) {
		struct pkb_sa *sa = sa_lookup(m.spi[i]);

		/* An SA we do not know accepted nothing we can vouch for. */
		if (!sa || pkb_ext_secpath_append(pkb, sa) != 0) {
			pkb_ext_del(pkb, PKB_EXT_SECPATH);
			return -EINVAL;
		}
	}
	return 0;
}
