/* More subflows for a connection: MP_JOIN, server side (RFC 8684 3.2).
 * A connection whose keys are exchanged is listed by its token; an
 * MP_JOIN SYN to an MPTCP listener that names one becomes a subflow of
 * that connection: the SYN-ACK carries our nonce and the truncated
 * HMAC-B, the third ACK must carry HMAC-A (else a RST), and its ACK
 * (sent at once) tells the peer the subflow is fully established.
 *
 * A join's data goes, through the connection-level reassembly (recv.c),
 * to the socket of the first subflow; send.c's scheduler puts our data
 * on any subflow. The join's window is given back as its bytes are taken, not as the
 * application reads them (the socket's reads give the first subflow its
 * window): while the connection holds more than SKIFF_MPTCP_JOIN_HOLD
 * unread or out of order, the join's window is owed, paid at the join's
 * next data or when the application reads, once it has drained.
 *
 * Lifetime: the connection-level state goes with the last subflow. When
 * the application closes (or resets) the first subflow its joins are
 * closed (reset) with it; when the first subflow goes by itself (a reset,
 * a timeout) while the connection is open, a join takes its place and
 * the socket moves onto it (skiff__mptcp_handover()); failing that, its
 * joins are reset at the end of that poll round (never from inside lwIP's
 * own walks: skiff__mptcp_reap()). A join the peer closes is closed at
 * once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "engine.h"
#include "instance.h"
#include "mptcp.h"
#include "mptcp/conn.h"
#include "netif.h"
#include "tcpglue.h"

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"

/* ---- tokens ---------------------------------------------------------------------- */

#define TOK_BUCKETS 4096

static struct skiff_mptcp_conn *tok_tab[TOK_BUCKETS];

static unsigned tok_bucket(uint32_t token)
{
	/* Tokens are the top of a SHA-256: uniform already. */
	return token % TOK_BUCKETS;
}

struct skiff_mptcp_conn *skiff__mptcp_token_find(uint32_t token)
{
	struct skiff_mptcp_conn *c;

	for (c = tok_tab[tok_bucket(token)]; c; c = c->tok_next)
		if (c->local_token == token)
			return c;
	return NULL;
}

void skiff__mptcp_token_add(struct skiff_mptcp_conn *c)
{
	unsigned b = tok_bucket(c->local_token);

	if (c->tok_listed)
		return;
	c->tok_next = tok_tab[b];
	tok_tab[b] = c;
	c->tok_listed = true;
}

void skiff__mptcp_each_conn(void (*fn)(struct skiff_mptcp_conn *c, void *arg), void *arg)
{
	for (unsigned b = 0; b < TOK_BUCKETS; b++)
		for (struct skiff_mptcp_conn *c = tok_tab[b], *nx; c; c = nx) {
			nx = c->tok_next;
			fn(c, arg);
		}
}

static void token_del(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_conn **pp;

	if (!c->tok_listed)
		return;
	for (pp = &tok_tab[tok_bucket(c->local_token)]; *pp; pp = &(*pp)->tok_next)
		if (*pp == c) {
			*pp = c->tok_next;
			break;
		}
	c->tok_listed = false;
}

/* Connections whose first subflow went while joins remain. */
struct skiff_mptcp_conn *skiff__mptcp_orphans;

static void orphan_del(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_conn **pp;

	for (pp = &skiff__mptcp_orphans; *pp; pp = &(*pp)->orphan_next)
		if (*pp == c) {
			*pp = c->orphan_next;
			break;
		}
	c->orphan = false;
}

static void reinject_del(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_conn **pp;

	for (pp = &skiff__mptcp_reinject_due; *pp; pp = &(*pp)->reinject_next)
		if (*pp == c) {
			*pp = c->reinject_next;
			break;
		}
	c->reinject_queued = false;
}

void skiff__mptcp_orphan(struct skiff_mptcp_conn *c)
{
	struct skiff_mptcp_sf *j;

	for (j = c->joins; j && j->closing; j = j->next)
		;
	if (c->orphan || !j)
		return;
	c->orphan = true;
	c->orphan_next = skiff__mptcp_orphans;
	skiff__mptcp_orphans = c;
}

void skiff__mptcp_reap(void)
{
	struct skiff_mptcp_conn *c;

	while ((c = skiff__mptcp_orphans)) {
		skiff__mptcp_orphans = c->orphan_next;
		c->orphan = false;
		/* Each reset frees its join; the last one frees c. Joins
		 * closing already (FIN sent) end by themselves. */
		for (;;) {
			struct skiff_mptcp_sf *j;
			bool last = c->nsf == 1;

			for (j = c->joins; j && j->closing; j = j->next)
				;
			if (!j)
				break;
			tcp_abort(j->pcb);
			if (last)
				break;
		}
	}
}

void skiff__mptcp_conn_put(struct skiff_mptcp_conn *c)
{
	if (!c || --c->nsf)
		return;
	if (c->orphan)
		orphan_del(c);
	if (c->reinject_queued)
		reinject_del(c);
	if (c->probe_listed)
		skiff__mptcp_probe_del(c);
	skiff__mptcp_rtx_free(c);
	token_del(c);
	for (unsigned i = 0; i < c->nooo; i++)
		pbuf_free(c->ooo[i].p);
	free(c);
}

/* ---- the handshake ------------------------------------------------------------------ */

/* The MP_JOIN SYN a listener is taking in, until lwIP's passive open makes
 * its pcb (the same input), matched as conn.c's pending MP_CAPABLE is. */
static struct {
	bool valid, backup;
	u16_t rport;
	u32_t seq;
	uint32_t token, rnonce;
	uint8_t raddr_id;
} pending;

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* A connection that takes another subflow: keys exchanged on a first
 * subflow still there, not fallen back, room for one more. */
static struct skiff_mptcp_conn *joinable(uint32_t token)
{
	struct skiff_mptcp_conn *c = skiff__mptcp_token_find(token);

	if (!c || !c->main_pcb || !c->main_sf || c->main_sf->phase != SKIFF_MPTCP_EST ||
	    c->fb.failed || c->data_fin_rcvd || c->nsf >= SKIFF_MPTCP_MAX_SUBFLOWS)
		return NULL;
	return c;
}

/* A join's HMAC (3.2): HMAC(@p k1 || @p k2, @p n1 || @p n2), to @p mac.
 * 0, or -ENOMEM from libcrypto. */
static int join_hmac(uint64_t k1, uint64_t k2, uint32_t n1, uint32_t n2,
		     uint8_t mac[SKIFF_MPTCP_HMAC_LEN])
{
	uint8_t msg[8];

	put_be32(msg, n1);
	put_be32(msg + 4, n2);
	return skiff__mptcp_hmac(k1, k2, msg, sizeof(msg), mac);
}

/* Whether the peer's HMAC in @p rx's MP_JOIN (its first @p len bytes, at
 * offset 4) is HMAC(its key || ours, its nonce || ours), on a connection
 * whose first subflow is still there. */
static bool peer_hmac_ok(const struct skiff_mptcp_conn *c, const struct skiff_mptcp_sf *sf,
			 const struct skiff_mptcp_rx *rx, size_t len)
{
	uint8_t mac[SKIFF_MPTCP_HMAC_LEN];

	return rx->join && c->main_pcb &&
	       join_hmac(c->remote_key, c->local_key, sf->rnonce, sf->lnonce, mac) == 0 &&
	       memcmp(rx->join_opt + 4, mac, len) == 0;
}

/* No MP_JOIN where one is due, a wrong HMAC, or a connection gone
 * meanwhile: the subflow is reset (3.2), with MP_TCPRST's MPTCP error. */
static err_t join_refused(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf)
{
	skiff__s.stats.mptcp_join_bad_hmac++;
	sf->rst_reason = SKIFF_MPTCP_RST_EMPTCP;
	tcp_abort(pcb);
	return ERR_ABRT;
}

err_t skiff__mptcp_join_syn(const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	const uint8_t *o = rx->join_opt;
	uint32_t token = be32(o + 4);

	pending.valid = false;
	if (!joinable(token) || skiff__mptcp_port_gone(ip_current_dest_addr())) {
		/* An unknown token (or a connection that takes no more, or
		 * an address withdrawn: pm.c): RST, no state kept (3.2; Linux
		 * counts MPJoinNoTokenFound). */
		st->stats.mptcp_join_rejected++;
		tcp_rst_netif(ip_current_input_netif(), 0, hdr->seqno + 1, ip_current_dest_addr(),
			      ip_current_src_addr(), hdr->dest, hdr->src);
		return ERR_ABRT;
	}
	pending.valid = true;
	pending.backup = o[2] & 0x01;
	pending.raddr_id = o[3];
	pending.token = token;
	pending.rnonce = be32(o + 8);
	pending.rport = hdr->src; /* tcp_input() made the header host order */
	pending.seq = hdr->seqno;
	return ERR_OK;
}

/* Our address id for a subflow from @p local: 0 on the first port's
 * address (and its announced port: the same address), link k's k + 1 on
 * an extra port's, as conn.c announces them. */
static uint8_t local_addr_id(const ip_addr_t *local)
{
	int k = skiff__link_index_of(local);

	return k > 0 ? (uint8_t)(k + 1) : 0;
}

struct skiff_mptcp_sf *skiff__mptcp_join_open(struct tcp_pcb *cpcb)
{
	struct skiff_mptcp_conn *c;
	struct skiff_mptcp_sf *sf, **pp;
	uint8_t mac[SKIFF_MPTCP_HMAC_LEN];

	if (!pending.valid || cpcb->remote_port != pending.rport ||
	    cpcb->rcv_nxt - 1 != pending.seq)
		return NULL;
	pending.valid = false;
	c = joinable(pending.token);
	if (!c || !(sf = calloc(1, sizeof(*sf))))
		return NULL;
	sf->phase = SKIFF_MPTCP_JOIN_SYN_RCVD;
	sf->join = true;
	sf->backup = pending.backup;
	sf->raddr_id = pending.raddr_id;
	sf->laddr_id = local_addr_id(&cpcb->local_ip);
	skiff__mptcp_port_prio(sf, cpcb, false);
	sf->rnonce = pending.rnonce;
	skiff__random(&sf->lnonce, sizeof(sf->lnonce));
	/* HMAC-B = HMAC(Key-B || Key-A, R-B || R-A), its first 64 bits on
	 * the SYN-ACK (we are B, the peer that opened the connection A). */
	if (join_hmac(c->local_key, c->remote_key, sf->lnonce, sf->rnonce, mac)) {
		free(sf);
		return NULL;
	}
	memcpy(sf->synack_hmac, mac, sizeof(sf->synack_hmac));
	sf->iss = cpcb->snd_nxt;
	sf->irs = cpcb->rcv_nxt - 1;
	sf->pcb = cpcb;
	sf->conn = c;
	sf->id = c->next_sf_id++;
	c->nsf++;
	/* Kept in the order they came (the socket queries list them so). */
	for (pp = &c->joins; *pp; pp = &(*pp)->next)
		;
	*pp = sf;
	return sf;
}

unsigned skiff__mptcp_join_synack(const struct skiff_mptcp_sf *sf, uint8_t *b)
{
	b[0] = 30;
	b[1] = SKIFF_MPTCP_JOIN_SYNACK_LEN;
	b[2] = (uint8_t)(SKIFF_MPTCP_SUB_JOIN << 4 | (sf->backup || sf->lbackup ? 0x01 : 0));
	b[3] = sf->laddr_id; /* the address the peer joined */
	memcpy(b + 4, sf->synack_hmac, 8);
	put_be32(b + 12, sf->lnonce);
	return SKIFF_MPTCP_JOIN_SYNACK_LEN;
}

err_t skiff__mptcp_join_ack(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
			    const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;

	/* Only an ACK of our SYN-ACK settles it (lwIP acts on no other). */
	if (!(TCPH_FLAGS(hdr) & TCP_ACK) || (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_RST)) ||
	    hdr->ackno != pcb->snd_nxt)
		return ERR_OK;
	/* HMAC-A = HMAC(Key-A || Key-B, R-A || R-B), 160 bits of it. */
	if (!peer_hmac_ok(c, sf, rx, 20))
		return join_refused(pcb, sf);
	sf->phase = SKIFF_MPTCP_EST;
	sf->est_len = SKIFF_MPTCP_EST_LEN;
	sf->rcv_deliv = 0;
	sf->rmap_off = c->rcv_data_nxt;
	sf->nrmap = 0;
	c->joined = true;
	st->stats.mptcp_join_established++;
	/* The ACK of the third ACK: the peer counts the subflow fully
	 * established (and sends on it) only then. */
	tcp_ack_now(pcb);
	return ERR_OK;
}

/* ---- joins we open (3.2, the initiator's side) ------------------------------------- */

static err_t join_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static void join_events(struct tcp_pcb *pcb);

/* lwIP's ext arg slot of a subflow's state (conn.c's). */
static uint8_t ext_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

static void sf_destroy(u8_t id, void *data)
{
	(void)id;
	skiff__mptcp_sf_free(data);
}

static const struct tcp_ext_arg_callbacks join_callbacks = {.destroy = sf_destroy};

/* Opens a join of @p c to the address the peer announced as @p a: from
 * the address of the port whose link reaches it (an extra port's when its
 * prefix holds @p a), else from the first subflow's local address.
 * The SYN carries MP_JOIN with the peer's token and our nonce. False when
 * it could not go (no pcb, no route). */
/* A join of @p c to @p a's address and port (the first subflow's port if
 * none), from @p src (NULL: the address of the port whose link holds it,
 * else the first subflow's). */
static bool join_connect(struct skiff_mptcp_conn *c, const struct skiff_mptcp_ann *a,
			 const ip_addr_t *src)
{
	struct skiff_stack *st = &skiff__s;
	struct tcp_pcb *main = c->main_pcb, *pcb;
	struct skiff_mptcp_sf *sf, **pp;
	ip_addr_t to, from;
	err_t e;

	if (a->family == AF_INET) {
		uint32_t v;

		memcpy(&v, a->addr, 4);
		ip_addr_set_ip4_u32_val(to, v);
	} else {
		ip_addr_copy_from_ip6_packed(to, *(const ip6_addr_p_t *)(const void *)a->addr);
		ip6_addr_assign_zone(ip_2_ip6(&to), IP6_UNICAST, ip_current_netif());
	}
	from = src ? *src : skiff__link_addr_for(&to, &main->local_ip);
	if (skiff__mptcp_port_gone(&from))
		return false; /* that port's address is withdrawn (pm.c) */
	pcb = tcp_new_ip_type(IP_GET_TYPE(&main->local_ip));
	sf = calloc(1, sizeof(*sf));
	if (!pcb || !sf) {
		if (pcb)
			tcp_abort(pcb);
		free(sf);
		return false;
	}
	sf->phase = SKIFF_MPTCP_JOIN_SYN_SENT;
	sf->join = true;
	sf->raddr_id = a->id;
	skiff__random(&sf->lnonce, sizeof(sf->lnonce));
	sf->pcb = pcb;
	sf->conn = c;
	sf->id = c->next_sf_id++;
	c->nsf++;
	for (pp = &c->joins; *pp; pp = &(*pp)->next)
		;
	*pp = sf;
	tcp_ext_arg_set(pcb, ext_id, sf);
	tcp_ext_arg_set_callbacks(pcb, ext_id, &join_callbacks);
	pcb->skiff_flags |= SKIFF_PCB_MPTCP;
	join_events(pcb);
	sf->laddr_id = local_addr_id(&from);
	e = tcp_bind(pcb, &from, 0);
	if (e == ERR_OK) {
		skiff__mptcp_port_prio(sf, pcb, false); /* before the SYN */
		e = tcp_connect(pcb, &to, a->port ? a->port : main->remote_port, NULL);
	}
	if (e != ERR_OK) {
		tcp_abort(pcb); /* frees sf with it */
		return false;
	}
	st->stats.mptcp_join_syn_tx++;
	return true;
}

bool skiff__mptcp_join_from(struct skiff_mptcp_conn *c, const ip_addr_t *from)
{
	const struct tcp_pcb *main = c->main_pcb;
	struct skiff_mptcp_ann a = {.id = 0, .family = AF_INET};

	if (!main || !IP_IS_V4(&main->remote_ip) || !IP_IS_V4(from))
		return false;
	memcpy(a.addr, &ip_2_ip4(&main->remote_ip)->addr, 4);
	a.port = main->remote_port;
	/* Out of that port only (its link, or its gateway). */
	if (!skiff__hook_route4_src(ip_2_ip4(from), ip_2_ip4(&main->remote_ip)))
		return false;
	return join_connect(c, &a, from);
}

unsigned skiff__mptcp_join_syn_out(const struct skiff_mptcp_sf *sf, uint8_t *b)
{
	b[0] = 30;
	b[1] = SKIFF_MPTCP_JOIN_SYN_LEN;
	b[2] = (uint8_t)(SKIFF_MPTCP_SUB_JOIN << 4 | (sf->lbackup ? 0x01 : 0));
	b[3] = sf->laddr_id;
	put_be32(b + 4, sf->conn->remote_token);
	put_be32(b + 8, sf->lnonce);
	return SKIFF_MPTCP_JOIN_SYN_LEN;
}

err_t skiff__mptcp_join_synack_in(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
				  const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx)
{
	struct skiff_mptcp_conn *c = sf->conn;
	uint8_t mac[SKIFF_MPTCP_HMAC_LEN];

	if ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST)) != (TCP_SYN | TCP_ACK) ||
	    hdr->ackno != pcb->snd_nxt)
		return ERR_OK;
	/* HMAC-B = HMAC(Key-B || Key-A, R-B || R-A), its first 64 bits on
	 * the SYN-ACK (the peer is B here, we A); none: a peer or a path
	 * without MPTCP. */
	if (rx->join)
		sf->rnonce = be32(rx->join_opt + 12);
	if (!peer_hmac_ok(c, sf, rx, 8))
		return join_refused(pcb, sf);
	sf->backup = rx->join_opt[2] & 0x01;
	sf->iss = hdr->ackno - 1;
	sf->irs = hdr->seqno;
	/* HMAC-A = HMAC(Key-A || Key-B, R-A || R-B): 160 bits of it go on
	 * the third ACK, and again on each ACK until the peer ACKs one. */
	if (join_hmac(c->local_key, c->remote_key, sf->lnonce, sf->rnonce, mac)) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	memcpy(sf->ack_hmac, mac, sizeof(sf->ack_hmac));
	sf->phase = SKIFF_MPTCP_JOIN_ACK_SENT;
	sf->est_len = SKIFF_MPTCP_EST_LEN;
	/* The peer may send on the join as soon as our third ACK reaches
	 * it, before it ACKs that ACK: from here data on the first subflow
	 * may come ahead of the data-level pointer, the join filling the
	 * gap (counting it as a hole dropped one segment in about 1 run
	 * of 12 of test_mptcp_two_ports_skiff_client). */
	c->joined = true;
	return ERR_OK;
}

unsigned skiff__mptcp_join_ack_out(const struct skiff_mptcp_sf *sf, uint8_t *b)
{
	b[0] = 30;
	b[1] = SKIFF_MPTCP_JOIN_ACK_LEN;
	b[2] = SKIFF_MPTCP_SUB_JOIN << 4;
	b[3] = 0;
	memcpy(b + 4, sf->ack_hmac, sizeof(sf->ack_hmac));
	return SKIFF_MPTCP_JOIN_ACK_LEN;
}

static void join_established(struct skiff_mptcp_sf *sf)
{
	struct skiff_mptcp_conn *c = sf->conn;

	sf->phase = SKIFF_MPTCP_EST;
	sf->est_len = SKIFF_MPTCP_EST_LEN;
	sf->rcv_deliv = 0;
	sf->rmap_off = c->rcv_data_nxt;
	sf->nrmap = 0;
	c->joined = true;
	skiff__s.stats.mptcp_join_established++;
}

void skiff__mptcp_join_acked(struct skiff_mptcp_sf *sf)
{
	if (sf->phase == SKIFF_MPTCP_JOIN_ACK_SENT)
		join_established(sf);
}

/* ---- the path manager's signals (3.4) ------------------------------------------------ */

/* Joins opened to announced addresses. */
static unsigned ann_joined(const struct skiff_mptcp_conn *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nann; i++)
		n += c->ann[i].joined;
	return n;
}

void skiff__mptcp_add_addr_in(struct tcp_pcb *pcb, struct skiff_mptcp_conn *c, const uint8_t *o,
			      unsigned len)
{
	struct skiff_stack *st = &skiff__s;
	struct tcp_pcb *main = c->main_pcb;
	struct skiff_mptcp_ann a = {.id = o[3]};
	uint8_t msg[19], mac[SKIFF_MPTCP_HMAC_LEN];
	unsigned alen = (len == 16 || len == 18) ? 4 : 16, n = 0, i;

	a.family = alen == 4 ? AF_INET : AF_INET6;
	memcpy(a.addr, o + 4, alen);
	if (len == 18 || len == 30)
		a.port = (uint16_t)(o[4 + alen] << 8 | o[5 + alen]);
	/* The HMAC (3.4.1): HMAC(Key of the sender || Key of the receiver,
	 * address id || address || port, 0 if none), its rightmost 64 bits. */
	msg[n++] = a.id;
	memcpy(msg + n, a.addr, alen);
	n += alen;
	msg[n++] = (uint8_t)(a.port >> 8);
	msg[n++] = (uint8_t)a.port;
	if (skiff__mptcp_hmac(c->remote_key, c->local_key, msg, n, mac) ||
	    memcmp(o + len - 8, mac + SKIFF_MPTCP_HMAC_LEN - 8, 8) != 0) {
		st->stats.mptcp_add_addr_bad_hmac++;
		return;
	}
	st->stats.mptcp_add_addr_rx++;
	c->echo = a;
	c->echo_owed = true;
	/* The echo goes on our next pure ACK: one is due now. */
	tcp_ack_now(pcb);
	/* Known already (the peer sends it again until it sees our echo)? */
	for (i = 0; i < c->nann; i++)
		if (c->ann[i].id == a.id)
			break;
	if (i < c->nann) {
		if (c->ann[i].joined || memcmp(&c->ann[i].addr, a.addr, 16) != 0 ||
		    c->ann[i].port != a.port)
			return;
	} else if (c->nann < SKIFF_MPTCP_MAX_SUBFLOWS) {
		c->ann[c->nann++] = a;
	} else {
		st->stats.mptcp_join_not_opened++;
		return;
	}
	/* A join to it, as Linux's path manager opens one (add_addr_accepted):
	 * same family as the first subflow, not the address and port that
	 * subflow already goes to, room for one more subflow, data still to
	 * come. */
	if (!main || !c->main_sf || c->main_sf->phase != SKIFF_MPTCP_EST || c->fb.failed ||
	    c->data_fin_rcvd || ann_joined(c) >= st->cfg.mptcp_add_addr_accepted ||
	    (a.family == AF_INET) != IP_IS_V4(&main->remote_ip))
		return;
	if (c->nsf >= SKIFF_MPTCP_MAX_SUBFLOWS) {
		st->stats.mptcp_join_not_opened++;
		return;
	}
	if (a.family == AF_INET && !a.port &&
	    memcmp(a.addr, &ip_2_ip4(&main->remote_ip)->addr, 4) == 0)
		return;
	if (join_connect(c, &a, NULL))
		c->ann[i].joined = true;
	else
		st->stats.mptcp_join_open_fail++;
}

void skiff__mptcp_rm_addr_in(struct skiff_mptcp_conn *c, const uint8_t *ids, unsigned n)
{
	struct skiff_mptcp_sf *j, *nx;

	for (unsigned k = 0; k < n; k++) {
		for (unsigned i = 0; i < c->nann; i++)
			if (c->ann[i].id == ids[k])
				c->ann[i] = c->ann[--c->nann];
		/* The joins to (ours) or from (the peer's) that address close:
		 * a FIN, as Linux closes them. */
		for (j = c->joins; j; j = nx) {
			nx = j->next;
			if (j->raddr_id != ids[k] || !j->pcb || j->closing)
				continue;
			j->closing = true;
			if (tcp_close(j->pcb) != ERR_OK)
				tcp_abort(j->pcb);
		}
	}
}

void skiff__mptcp_fastclose_rx_reset(struct skiff_mptcp_conn *c, struct tcp_pcb *except)
{
	struct tcp_pcb *main = c->main_pcb;

	/* The joins first: the connection's state lives while the first
	 * subflow (or @p except) holds it. */
	for (;;) {
		struct skiff_mptcp_sf *j;
		bool last = c->nsf == 1;

		for (j = c->joins; j && (!j->pcb || j->pcb == except); j = j->next)
			;
		if (!j)
			break;
		j->closing = true;
		tcp_abort(j->pcb);
		if (last)
			return;
	}
	if (main && main != except)
		skiff__tcp_reset_by_peer(main);
}

/* ---- the join's data ------------------------------------------------------------------ */

void skiff__mptcp_join_setup(uint8_t id)
{
	ext_id = id;
}

/* Pays the join's window back while the connection holds little unread. */
static void join_credit(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, uint32_t n)
{
	struct skiff_mptcp_conn *c = sf->conn;
	size_t held = c->ooo_bytes + (c->main_pcb ? skiff__tcp_unread(c->main_pcb) : 0);

	sf->owed += n;
	if (held >= SKIFF_MPTCP_JOIN_HOLD)
		return;
	skiff__tcp_recved(pcb, sf->owed);
	sf->owed = 0;
}

static err_t join_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_sf *sf = tcp_ext_arg_get(pcb, ext_id);
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;
	struct pbuf *q;
	uint16_t n;

	(void)arg;
	(void)err;
	if (!p) {
		/* The peer closed this subflow: we have nothing to send on it. */
		if (sf)
			sf->closing = true;
		if (tcp_close(pcb) != ERR_OK) {
			tcp_abort(pcb);
			return ERR_ABRT;
		}
		return ERR_OK;
	}
	n = p->tot_len;
	if (!c || !c->main_pcb || sf->phase != SKIFF_MPTCP_EST) {
		/* Data for a connection whose socket is gone: as TCP answers
		 * data after a close, a reset. */
		pbuf_free(p);
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	st->stats.mptcp_join_rx_bytes += n;
	q = skiff__mptcp_conn_recv(pcb, sf, p);
	join_credit(pcb, sf, n);
	if (q && !skiff__tcp_deliver(c->main_pcb, q))
		pbuf_free(q);
	if (c->main_pcb && skiff__mptcp_conn_eof(c->main_pcb, c->main_sf))
		skiff__tcp_peer_eof(c->main_pcb);
	return ERR_OK;
}

void skiff__mptcp_joins_read(struct skiff_mptcp_conn *c)
{
	for (struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
		if (j->owed && j->pcb && j->phase == SKIFF_MPTCP_EST)
			join_credit(j->pcb, j, 0);
}

/* Our data on the join was ACKed: it is not stale, and the socket may
 * write more (send.c's scheduler counts the join's room). */
static err_t join_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct skiff_mptcp_sf *sf = tcp_ext_arg_get(pcb, ext_id);

	(void)arg;
	(void)len;
	/* lwIP 2.2.1 stops the persist timer only when it sends (as
	 * tcpglue.c's on_sent). */
	if (!pcb->unsent && !pcb->unacked)
		pcb->persist_backoff = 0;
	if (!sf || !sf->conn)
		return ERR_OK;
	skiff__mptcp_join_stale(sf, false);
	if (sf->conn->main_pcb)
		skiff__tcp_notify_pcb(sf->conn->main_pcb);
	return ERR_OK;
}

/* lwIP's slow-timer visit: a join whose data met a second retransmission
 * timeout in a row (or its second window probe while the connection's
 * window is open: SKIFF_MPTCP_PROBING_DEAD) is stale (its data goes again
 * on the first subflow). */
static err_t join_poll(void *arg, struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = tcp_ext_arg_get(pcb, ext_id);

	(void)arg;
	if (sf && sf->conn &&
	    ((pcb->unacked && pcb->nrtx >= 2) || SKIFF_MPTCP_PROBING_DEAD(pcb, sf->conn)))
		skiff__mptcp_join_stale(sf, true);
	return ERR_OK;
}

static void join_events(struct tcp_pcb *pcb)
{
	/* No socket: the join's events come here. */
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, join_recv);
	tcp_sent(pcb, join_sent);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, join_poll, 0);
}

bool skiff__mptcp_join_accept(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf)
{
	if (!sf || !sf->join)
		return false;
	join_events(pcb);
	return true;
}

void skiff__mptcp_joins_close(struct skiff_mptcp_conn *c, bool abort)
{
	struct skiff_mptcp_sf *j, *nx;

	for (j = c->joins; j; j = nx) {
		nx = j->next;
		if (!j->pcb || (j->closing && !abort))
			continue;
		/* tcp_abort() frees the pcb, whose state leaves the list. */
		j->closing = true;
		if (abort || tcp_close(j->pcb) != ERR_OK)
			tcp_abort(j->pcb);
	}
}

/* Among the open joins that may carry the connection on, the best one is
 * neither stale nor backup. */
static unsigned carry_rank(const struct skiff_mptcp_sf *j)
{
	return (j->stale ? 2u : 0u) + (j->backup || j->lbackup ? 1u : 0u);
}

/* The join that would carry the connection on if its first subflow
 * @p sf (on @p old) went now, or NULL: none may. */
static struct skiff_mptcp_sf *carrier(const struct tcp_pcb *old, const struct skiff_mptcp_sf *sf)
{
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;
	struct skiff_mptcp_sf *pick = NULL;

	if (!c || sf->join || c->main_sf != sf || sf->phase != SKIFF_MPTCP_EST || c->fb.failed ||
	    c->fastclose || c->fin_queued || c->app_closed ||
	    (old->state != ESTABLISHED && old->state != CLOSE_WAIT))
		return NULL;
	for (struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
		if (skiff__mptcp_sf_open(c, j) && (!pick || carry_rank(j) < carry_rank(pick)))
			pick = j;
	return pick;
}

bool skiff__mptcp_may_hand_over(const struct skiff_mptcp_sf *sf)
{
	return sf->conn && sf->conn->main_pcb && carrier(sf->conn->main_pcb, sf);
}

bool skiff__mptcp_handover(struct tcp_pcb *old, bool purged, struct tcp_pcb **next)
{
	struct skiff_mptcp_sf *sf = skiff__mptcp_sf_of(old), *pick = carrier(old, sf), **pp;
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;

	if (!pick)
		return false;
	if (!skiff__mptcp_main_keep(c, purged)) {
		skiff__s.stats.mptcp_handover_lost++;
		return false;
	}
	for (pp = &c->joins; *pp; pp = &(*pp)->next)
		if (*pp == pick) {
			*pp = pick->next;
			break;
		}
	pick->next = NULL;
	pick->join = false;
	/* The socket's reads give its window now: what it was owed, at once. */
	if (pick->owed)
		skiff__tcp_recved(pick->pcb, pick->owed);
	pick->owed = 0;
	sf->closing = true;
	c->main_sf = pick;
	c->main_pcb = pick->pcb;
	c->main_rj = false;
	c->main_all_moved = false;
	/* Data the old one brought, still out of order: no window to give
	 * back to it any more. */
	for (unsigned i = 0; i < c->nooo; i++)
		c->ooo[i].from_main = false;
	skiff__s.stats.mptcp_handover++;
	skiff__mptcp_reinject_later(c);
	*next = pick->pcb;
	return true;
}

void skiff__mptcp_join_unlink(struct skiff_mptcp_sf *sf)
{
	struct skiff_mptcp_sf **pp;

	for (pp = &sf->conn->joins; *pp; pp = &(*pp)->next)
		if (*pp == sf) {
			*pp = sf->next;
			break;
		}
	sf->pcb = NULL;
}
