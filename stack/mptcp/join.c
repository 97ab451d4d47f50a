/* More subflows for a connection: MP_JOIN, server side (RFC 8684 3.2).
 * A connection whose keys are exchanged is listed by its token; an
 * MP_JOIN SYN to an MPTCP listener that names one becomes a subflow of
 * that connection: the SYN-ACK carries our nonce and the truncated
 * HMAC-B, the third ACK must carry HMAC-A (else a RST), and its ACK
 * (sent at once) tells the peer the subflow is fully established.
 *
 * A join only receives: its data goes, through the connection-level
 * reassembly (recv.c), to the socket of the first subflow, and skiff's
 * data keeps to the first subflow (the sender chooses, 3.3.8). The
 * join's window is given back as its bytes are taken, not as the
 * application reads them (the socket's reads give the first subflow its
 * window): while the connection holds more than SKIFF_MPTCP_JOIN_HOLD
 * unread or out of order, the join's window is owed, paid at the join's
 * next data or when the application reads, once it has drained.
 *
 * Lifetime: the connection-level state goes with the last subflow. When
 * the application closes (or resets) the first subflow its joins are
 * closed (reset) with it; when the first subflow goes by itself (a reset,
 * a timeout) its joins are reset at the end of that poll round (never
 * from inside lwIP's own walks: skiff__mptcp_reap()). A join the peer
 * closes is closed at once. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "mptcp/conn.h"
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

err_t skiff__mptcp_join_syn(const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	const uint8_t *o = rx->join_opt;
	uint32_t token = be32(o + 4);

	pending.valid = false;
	if (!joinable(token)) {
		/* An unknown token (or a connection that takes no more): RST,
		 * no state kept (3.2; Linux counts MPJoinNoTokenFound). */
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

struct skiff_mptcp_sf *skiff__mptcp_join_open(struct tcp_pcb *cpcb)
{
	struct skiff_mptcp_conn *c;
	struct skiff_mptcp_sf *sf, **pp;
	uint8_t msg[8], mac[SKIFF_MPTCP_HMAC_LEN];

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
	sf->rnonce = pending.rnonce;
	skiff__random(&sf->lnonce, sizeof(sf->lnonce));
	/* HMAC-B = HMAC(Key-B || Key-A, R-B || R-A), its first 64 bits on
	 * the SYN-ACK (we are B, the peer that opened the connection A). */
	put_be32(msg, sf->lnonce);
	put_be32(msg + 4, sf->rnonce);
	if (skiff__mptcp_hmac(c->local_key, c->remote_key, msg, sizeof(msg), mac)) {
		free(sf);
		return NULL;
	}
	memcpy(sf->synack_hmac, mac, sizeof(sf->synack_hmac));
	sf->iss = cpcb->snd_nxt;
	sf->irs = cpcb->rcv_nxt - 1;
	sf->pcb = cpcb;
	sf->conn = c;
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
	b[2] = (uint8_t)(SKIFF_MPTCP_SUB_JOIN << 4 | (sf->backup ? 0x01 : 0));
	b[3] = 0; /* our address id: the connection's first address */
	memcpy(b + 4, sf->synack_hmac, 8);
	put_be32(b + 12, sf->lnonce);
	return SKIFF_MPTCP_JOIN_SYNACK_LEN;
}

err_t skiff__mptcp_join_ack(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
			    const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	uint8_t msg[8], mac[SKIFF_MPTCP_HMAC_LEN];

	/* Only an ACK of our SYN-ACK settles it (lwIP acts on no other). */
	if (!(TCPH_FLAGS(hdr) & TCP_ACK) || (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_RST)) ||
	    hdr->ackno != pcb->snd_nxt)
		return ERR_OK;
	/* HMAC-A = HMAC(Key-A || Key-B, R-A || R-B), 160 bits of it. */
	put_be32(msg, sf->rnonce);
	put_be32(msg + 4, sf->lnonce);
	if (!rx->join || !c->main_pcb ||
	    skiff__mptcp_hmac(c->remote_key, c->local_key, msg, sizeof(msg), mac) ||
	    memcmp(rx->join_opt + 4, mac, 20) != 0) {
		/* No MP_JOIN, a wrong HMAC, or a connection gone meanwhile:
		 * the subflow is reset (3.2). */
		st->stats.mptcp_join_bad_hmac++;
		tcp_abort(pcb);
		return ERR_ABRT;
	}
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

/* ---- the join's data ------------------------------------------------------------------ */

/* lwIP's ext arg slot of a subflow's state (conn.c's). */
static uint8_t ext_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

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

bool skiff__mptcp_join_accept(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf)
{
	if (!sf || !sf->join)
		return false;
	/* No socket: the join's events come here. */
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, join_recv);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
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
