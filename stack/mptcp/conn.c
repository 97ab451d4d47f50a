/* Connection-level MPTCP, server side of MP_CAPABLE v1 (RFC 8684 3.1) and
 * the data sequence signal on one subflow (3.3). A listener whose socket
 * asked for MPTCP answers a SYN's MP_CAPABLE with its key on the SYN-ACK;
 * the third ACK (or the first data) brings both keys back and the subflow
 * carries a DSS option on every segment from then on: a DATA_ACK always,
 * and on data and FIN a mapping. With one subflow, and no connection-level
 * resends of ours, our data sequence space is the subflow's shifted by our
 * IDSN, so each segment's mapping is computed from its sequence number when it leaves, whatever TCP did to
 * the segment before (split, merged, resent). The peer's mappings are kept
 * for connection-level receive (recv.c), which also owns the DATA_ACK's
 * value. A DATA_FIN rides with the FIN.
 *
 * DSS checksums (3.3.1) are used when either end asks (flag A on the SYN
 * or SYN-ACK; skiff asks when skiff_config.mptcp_checksum says so, as
 * Linux's net.mptcp.checksum_enabled): every mapping we write carries one,
 * computed over the segment's payload as it leaves, and received mappings
 * are checked whole before their bytes reach the socket (recv.c). A
 * checksum failure is answered as Linux does with one subflow (3.7): an
 * MP_FAIL naming the failed mapping, after which the peer sends an
 * infinite mapping on its next data and carries on as TCP; an MP_FAIL from
 * the peer is echoed and our next data carries the infinite mapping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <skiff/mptcp_dss.h>

#include "engine.h"
#include "frames.h"
#include "instance.h"
#include "mptcp.h"
#include "mptcp/conn.h"
#include "skiff_testing.h"
#include "tcpglue.h"

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/tcp.h"

static uint8_t ext_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

/* A test's hold on DATA_ACKs (skiff__mptcp_hold_data_ack()): until then,
 * every subflow repeats the last DATA_ACK it sent. */
static long long hold_data_ack_until;

/* A test's wrong checksum (skiff__mptcp_corrupt_tx()): one plus the
 * subflow position of a byte whose mapping goes out with a bad checksum. */
static uint64_t corrupt_tx_at;
static bool corrupt_tx_join; /* ... of a join's position only */

/* The MP_CAPABLE SYN a listener is taking in, until lwIP's passive open
 * makes its connection (tcp_listen_input(), the same input). Matched by the
 * peer's port and ISN so that a SYN answered otherwise (a cookie) leaves
 * nothing behind for the next. */
static struct {
	bool valid, csum;
	u16_t rport;
	u32_t seq;
} pending;

static void adv_start(struct skiff_mptcp_conn *c, const struct tcp_pcb *pcb);

static void sf_destroy(u8_t id, void *data)
{
	(void)id;
	skiff__mptcp_sf_free(data);
}

static err_t listen_passive_open(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb);
static struct skiff_mptcp_sf *sf_new(void);

static const struct tcp_ext_arg_callbacks sf_callbacks = {.destroy = sf_destroy};
static const struct tcp_ext_arg_callbacks listen_callbacks = {
	.destroy = sf_destroy,
	.passive_open = listen_passive_open,
};

void skiff__mptcp_conn_setup(uint8_t id)
{
	ext_id = id;
	skiff__mptcp_join_setup(id);
}

void skiff__mptcp_sf_free(struct skiff_mptcp_sf *sf)
{
	struct skiff_mptcp_conn *c;

	if (!sf)
		return;
	if (sf->held)
		pbuf_free(sf->held);
	c = sf->conn;
	if (c && sf->join) {
		skiff__mptcp_sf_gone(sf);
		skiff__mptcp_join_unlink(sf);
	} else if (c && c->main_sf == sf) {
		c->main_sf = NULL;
		c->main_pcb = NULL;
		skiff__mptcp_orphan(c);
	}
	/* The connection's state goes with its last subflow (join.c). */
	skiff__mptcp_conn_put(c);
	free(sf);
}

static uint64_t get_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

/* ---- the listener's side of the handshake ------------------------------------ */

static err_t listen_passive_open(u8_t id, struct tcp_pcb_listen *lpcb, struct tcp_pcb *cpcb)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_sf *sf;

	(void)lpcb;
	/* An MP_JOIN's subflow (join.c)? */
	if ((sf = skiff__mptcp_join_open(cpcb))) {
		tcp_ext_arg_set(cpcb, id, sf);
		tcp_ext_arg_set_callbacks(cpcb, id, &sf_callbacks);
		cpcb->skiff_flags |= SKIFF_PCB_MPTCP;
		return ERR_OK;
	}
	if (!pending.valid || cpcb->remote_port != pending.rport ||
	    cpcb->rcv_nxt - 1 != pending.seq)
		return ERR_OK;
	pending.valid = false;
	sf = sf_new();
	if (!sf) {
		/* Without state the SYN-ACK goes out plain: the peer falls back. */
		st->stats.mptcp_fallbacks++;
		return ERR_OK;
	}
	sf->phase = SKIFF_MPTCP_SYN_RCVD;
	sf->conn->csum = pending.csum;
	sf->iss = cpcb->snd_nxt;
	sf->irs = cpcb->rcv_nxt - 1;
	sf->conn->main_pcb = cpcb;
	tcp_ext_arg_set(cpcb, id, sf);
	tcp_ext_arg_set_callbacks(cpcb, id, &sf_callbacks);
	cpcb->skiff_flags |= SKIFF_PCB_MPTCP;
	return ERR_OK;
}

static struct skiff_mptcp_sf *sf_new(void)
{
	struct skiff_mptcp_sf *sf = calloc(1, sizeof(*sf));
	struct skiff_mptcp_conn *c = calloc(1, sizeof(*c));

	if (!sf || !c) {
		free(sf);
		free(c);
		return NULL;
	}
	/* A key whose token is not 0 and no other connection's here (a
	 * token names the connection to MP_JOINs, join.c). */
	do {
		skiff__random(&c->local_key, sizeof(c->local_key));
		if (skiff__mptcp_key_hash(c->local_key, &c->local_token, &c->local_idsn)) {
			free(sf);
			free(c);
			return NULL;
		}
	} while (!c->local_token || skiff__mptcp_token_find(c->local_token));
	sf->conn = c;
	c->main_sf = sf;
	c->nsf = 1;
	/* Subflow ids from 1 in the order the subflows come, as Linux
	 * numbers them (MPTCP_FULL_INFO). */
	sf->id = 1;
	c->next_sf_id = 2;
	return sf;
}

/* ---- the client's side (RFC 8684 3.1) -------------------------------------------- */

int skiff__mptcp_conn_connect(struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf;

	if (tcp_ext_arg_get(pcb, ext_id))
		return -EBUSY;
	sf = sf_new();
	if (!sf)
		return -ENOMEM;
	sf->phase = SKIFF_MPTCP_SYN_SENT;
	sf->conn->main_pcb = pcb;
	sf->conn->client = true;
	sf->conn->csum = skiff__s.cfg.mptcp_checksum;
	tcp_ext_arg_set(pcb, ext_id, sf);
	tcp_ext_arg_set_callbacks(pcb, ext_id, &sf_callbacks);
	pcb->skiff_flags |= SKIFF_PCB_MPTCP;
	return 0;
}

/* The SYN-ACK's MP_CAPABLE: the server's key (3.1); without it, TCP. */
static void capable_synack(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
			   const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	const uint8_t *o = rx->mpc_opt;

	if ((TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST)) != (TCP_SYN | TCP_ACK) ||
	    hdr->ackno != pcb->snd_nxt)
		return;
	sf->iss = hdr->ackno - 1;
	sf->irs = hdr->seqno;
	if (rx->mpc && rx->mpc_len == SKIFF_MPTCP_MPC_SYNACK_LEN && (o[2] & 0x0f) == 1 &&
	    (o[3] & SKIFF_MPTCP_MPC_H) &&
	    skiff__mptcp_key_hash(get_be64(o + 4), &c->remote_token, &c->remote_idsn) == 0) {
		c->remote_key = get_be64(o + 4);
		/* Checksums if either end asked (3.1): we on our SYN, or the
		 * server on its SYN-ACK. */
		if (o[3] & SKIFF_MPTCP_MPC_A)
			c->csum = true;
		c->snd_data_acked = c->local_idsn + 1;
		skiff__mptcp_rcv_start(sf, c->remote_idsn + 1);
		sf->phase = SKIFF_MPTCP_EST;
		sf->est_len = SKIFF_MPTCP_EST_LEN;
		skiff__mptcp_token_add(c);
		skiff__mptcp_port_prio(sf, pcb, true);
		st->stats.mptcp_active_established++;
		return;
	}
	sf->phase = SKIFF_MPTCP_FALLBACK;
	sf->est_len = 0;
	st->stats.mptcp_fallback_synack++;
}

static void listen_syn(struct tcp_pcb *lpcb, const struct tcp_hdr *hdr,
		       const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	const uint8_t *o = rx->mpc_opt;

	pending.valid = false;
	/* Version 1 without a key, HMAC-SHA256 (H): else the SYN-ACK goes
	 * out plain and the peer carries on as TCP. Checksums if the client
	 * asks (A) or we are told to ask, as Linux's server decides. */
	if (rx->mpc_len != SKIFF_MPTCP_MPC_SYN_LEN || (o[2] & 0x0f) != 1 ||
	    !(o[3] & SKIFF_MPTCP_MPC_H)) {
		st->stats.mptcp_declined++;
		return;
	}
	pending.valid = true;
	pending.csum = (o[3] & SKIFF_MPTCP_MPC_A) || st->cfg.mptcp_checksum;
	pending.rport = hdr->src; /* tcp_input() made the header host order */
	pending.seq = hdr->seqno;
	if (tcp_ext_arg_get(lpcb, ext_id) == NULL)
		tcp_ext_arg_set_callbacks(lpcb, ext_id, &listen_callbacks);
}

/* The third ACK's (or first data's) MP_CAPABLE: both keys (RFC 8684 3.1). */
static void capable_ack(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, const struct tcp_hdr *hdr,
			const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	const uint8_t *o = rx->mpc_opt;

	/* Only an ACK of our SYN-ACK settles it (lwIP acts on no other). */
	if (!(TCPH_FLAGS(hdr) & TCP_ACK) || (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_RST)) ||
	    hdr->ackno != pcb->snd_nxt)
		return;
	if (rx->mpc &&
	    (rx->mpc_len == SKIFF_MPTCP_MPC_ACK_LEN || rx->mpc_len == SKIFF_MPTCP_MPC_DATA_LEN ||
	     rx->mpc_len == SKIFF_MPTCP_MPC_CSUM_LEN) &&
	    (o[2] & 0x0f) == 1 && get_be64(o + 12) == c->local_key &&
	    skiff__mptcp_key_hash(get_be64(o + 4), &c->remote_token, &c->remote_idsn) == 0) {
		c->remote_key = get_be64(o + 4);
		c->snd_data_acked = c->local_idsn + 1;
		skiff__mptcp_rcv_start(sf, c->remote_idsn + 1);
		sf->phase = SKIFF_MPTCP_EST;
		sf->est_len = SKIFF_MPTCP_EST_LEN;
		skiff__mptcp_token_add(c);
		skiff__mptcp_port_prio(sf, pcb, true);
		st->stats.mptcp_passive_established++;
		/* Our announcements (3.4.1), on an IPv4 connection: the
		 * option's room (28 bytes) has no place for IPv6 and a port. */
		if (IP_IS_V4(&pcb->local_ip))
			adv_start(c, pcb);
		/* The client counts the connection fully established at our
		 * first DATA_ACK (and only then opens subflows): send one now
		 * rather than when data calls for it. */
		tcp_ack_now(pcb);
		return;
	}
	/* No MP_CAPABLE (stripped on the path), or not our key: TCP (3.7). */
	sf->phase = SKIFF_MPTCP_FALLBACK;
	sf->est_len = 0;
	st->stats.mptcp_fallback_ack++;
}

/* ---- data sequence signals in --------------------------------------------------- */

/* A data sequence number of @p m widened to 64 bits near what we expect. */
static uint64_t dss_dsn(const struct skiff_mptcp_conn *c, const struct pkb_ext_mptcp *m)
{
	if (m->flags & PKB_DSS_DSN64)
		return m->data_seq;
	return skiff__mptcp_widen(c->rcv_data_nxt, (uint32_t)m->data_seq);
}

/* An MP_FAIL (3.7): the peer found a checksum wrong. The answer to ours
 * (its echo) changes nothing; the peer's own is echoed and our next data
 * carries an infinite mapping, from which the peer takes the subflow as
 * TCP, as Linux's sender does. */
static void mp_fail_in(struct tcp_pcb *pcb, struct skiff_mptcp_conn *c, uint64_t seq)
{
	skiff__s.stats.mptcp_mp_fail_rx++;
	/* With a join taken, the peer resets the subflow it found the
	 * checksum wrong on (its MP_FAIL rides on that RST) and the
	 * connection carries on over the others: no fallback (3.7). */
	if (!c->csum || c->fb.failed || c->joined)
		return;
	c->fb.failed = true;
	c->fb.fail_tx = true;
	c->fb.fail_seq = seq;
	c->fb.inf_tx = true;
	tcp_ack_now(pcb);
}

static err_t dss_in(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, const struct tcp_hdr *hdr,
		    const struct pbuf *p, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	/* The mapping travels in the frame's MPTCP extension, where the
	 * option walk decoded it (stack/mptcp.c); rx->map holds it only for
	 * a segment whose frame had no room for one. */
	const struct pkb *b = skiff__rx_pkb(p);
	const struct pkb_ext_mptcp *m = b ? pkb_ext_mptcp(b) : NULL;
	uint64_t seg = 0, rel, dsn;
	uint32_t len;

	if (!m)
		m = &rx->map;
	sf->rcv_rel = skiff__mptcp_widen(sf->rcv_rel, pcb->rcv_nxt - sf->irs - 1);
	if (p->tot_len)
		seg = skiff__mptcp_widen(sf->rcv_rel, hdr->seqno - sf->irs - 1);
	if (rx->mpc && rx->mpc_len >= SKIFF_MPTCP_MPC_DATA_LEN && p->tot_len) {
		/* The first data's implicit mapping: data sequence IDSN + 1 at
		 * subflow sequence 1, for its data-level length. Every segment
		 * of a burst segmented after the option was written (GSO)
		 * carries it: each must lie within it. */
		uint32_t dll = (uint32_t)rx->mpc_opt[20] << 8 | rx->mpc_opt[21];

		struct skiff_mptcp_cmap cm = {
			.dsn = c->remote_idsn + 1, .len = (uint16_t)dll, .dll = (uint16_t)dll};

		if (c->csum && rx->mpc_len == SKIFF_MPTCP_MPC_CSUM_LEN)
			cm.csum = (uint16_t)(rx->mpc_opt[22] << 8 | rx->mpc_opt[23]);
		if (hdr->seqno - sf->irs - 1 >= dll ||
		    (c->csum && rx->mpc_len == SKIFF_MPTCP_MPC_CSUM_LEN &&
		     skiff__mptcp_cmap_add(sf, &cm)) ||
		    skiff__mptcp_rmap_add(sf, 0, dll, c->remote_idsn + 1)) {
			st->stats.mptcp_map_mismatch++;
			return ERR_ABRT;
		}
	}
	if (rx->fail)
		mp_fail_in(pcb, c, rx->fail_seq);
	if (!rx->dss)
		return ERR_OK;
	if (!c->dss_seen) {
		c->dss_seen = true;
		/* Established for the peer too: the joins our ports open
		 * (pm.c). */
		if (!sf->join)
			skiff__mptcp_pm_established(c);
	}
	if (m->flags & PKB_DSS_DATA_ACK) {
		uint64_t ack = m->data_ack;

		if (!(m->flags & PKB_DSS_ACK64))
			ack = skiff__mptcp_widen(c->snd_data_acked, (uint32_t)ack);
		if ((int64_t)(ack - c->snd_data_acked) > 0) {
			c->snd_data_acked = ack;
			if (c->rtx)
				skiff__mptcp_rtx_acked(c);
			/* The first subflow's close may wait for this. */
			if (c->close_deferred)
				skiff__mptcp_reinject_later(c);
			/* Our DATA_FIN DATA_ACKed after the application closed:
			 * the joins close (send.c, at the end of the round). */
			if (c->joins && skiff__mptcp_joins_may_close(c))
				skiff__mptcp_reinject_later(c);
			/* The connection's window moved: sends may go on. */
			if (c->joins && c->main_pcb)
				skiff__tcp_notify_pcb(c->main_pcb);
		}
		/* The connection's window (3.3.4): the rightmost edge any
		 * subflow's ACK showed, its DATA_ACK plus its window, as
		 * Linux keeps its msk->wnd_end (a receiver does not move
		 * the edge back). */
		if ((TCPH_FLAGS(hdr) & (TCP_ACK | TCP_SYN)) == TCP_ACK) {
			uint64_t end = ack + ((uint64_t)hdr->wnd << pcb->snd_scale);

			if (!c->wnd_end_set || (int64_t)(end - c->wnd_end) > 0) {
				c->wnd_end = end;
				c->wnd_end_set = true;
				if (c->joins && c->main_pcb)
					skiff__tcp_notify_pcb(c->main_pcb);
			}
		}
	}
	if (!(m->flags & PKB_DSS_MAP))
		return ERR_OK;
	if (m->has_csum != c->csum) {
		/* A mapping with a checksum where none was negotiated, or one
		 * without where one was (3.3): malformed, ignored. */
		st->stats.mptcp_bad_option++;
		return ERR_OK;
	}
	if (m->data_len == 0 && c->fb.failed) {
		/* The infinite mapping our MP_FAIL asked for (3.7): the peer
		 * carries on as TCP from this segment's data on. */
		if (!c->fb.inf_rx) {
			c->fb.inf_rx = true;
			c->fb.inf_rel = p->tot_len ? seg : sf->rcv_rel;
			st->stats.mptcp_infinite_map_rx++;
		}
		return ERR_OK;
	}
	if (m->data_len == 0) {
		/* An infinite mapping: the peer fell back (3.7). Not expected
		 * from a peer we answered; carried on as TCP. */
		st->stats.mptcp_map_mismatch++;
		return ERR_OK;
	}
	dsn = dss_dsn(c, m);
	len = m->data_len - ((m->flags & PKB_DSS_DATA_FIN) ? 1 : 0);
	if (m->subflow_seq == 0 && (len || !(m->flags & PKB_DSS_DATA_FIN))) {
		st->stats.mptcp_map_mismatch++;
		return ERR_ABRT;
	}
	if (len) {
		/* A mapping may name data the connection has (the peer sent it
		 * again: taken here, cut out on its way to the socket, recv.c),
		 * but not data past what it is owed: with one subflow nothing
		 * can fill that hole. Checked on a segment in order, whose
		 * predecessors have all been handed on (or are held until
		 * their mapping's checksum can be checked). */
		rel = skiff__mptcp_widen(sf->rcv_rel, m->subflow_seq - 1);
		if (!c->joined && p->tot_len && seg == sf->rcv_deliv + sf->held_len && seg >= rel &&
		    seg - rel < len &&
		    (int64_t)(dsn + (seg - rel) - c->rcv_data_nxt - sf->held_len) > 0) {
			st->stats.mptcp_map_mismatch++;
			return ERR_ABRT;
		}
		struct skiff_mptcp_cmap cm = {.rel = rel,
					      .dsn = dsn,
					      .len = (uint16_t)len,
					      .dll = m->data_len,
					      .csum = m->csum};

		if ((c->csum && skiff__mptcp_cmap_add(sf, &cm)) ||
		    skiff__mptcp_rmap_add(sf, rel, len, dsn)) {
			st->stats.mptcp_map_mismatch++;
			return ERR_ABRT;
		}
	}
	if ((m->flags & PKB_DSS_DATA_FIN) && !c->data_fin_rcvd) {
		c->data_fin_rcvd = true;
		c->data_fin_seq = dsn + len;
		st->stats.mptcp_data_fin_rx++;
		/* Its DATA_ACK is awaited even if TCP has nothing to ACK. */
		tcp_ack_now(pcb);
		/* Alone on its segment, after all the data: the end now (with
		 * data, the receive callback tells it after the data). */
		if (!p->tot_len && c->main_pcb && skiff__mptcp_conn_eof(c->main_pcb, c->main_sf))
			skiff__tcp_peer_eof(c->main_pcb);
	}
	return ERR_OK;
}

/* The path manager's signals and the closing options on an established
 * subflow (RFC 8684 3.4 to 3.6). ERR_ABRT: the connection was reset here
 * (an MP_FASTCLOSE on a segment that is not itself a RST). */
/* A segment TCP takes: in the receive window (RFC 9293 3.10.7.4; a
 * segment wholly left of RCV.NXT is not, nor one past its right edge),
 * with an acceptable ACK (RFC 5961 5.2), and a RST only at RCV.NXT
 * exactly (RFC 5961 3.2; another in the window earns a challenge ACK).
 * Linux reads MPTCP's signals only after the same checks: without them,
 * anyone who knows the 4-tuple could close a connection's joins with a
 * REMOVE_ADDR (it carries no secret). @p hdr is in host order. */
static bool seg_taken(const struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p)
{
	u32_t seq = hdr->seqno, end = seq + p->tot_len;
	u8_t flags = TCPH_FLAGS(hdr);

	if (flags & TCP_RST)
		return seq == pcb->rcv_nxt;
	if (TCP_SEQ_LT(end, pcb->rcv_nxt) || TCP_SEQ_GT(seq, pcb->rcv_nxt + pcb->rcv_wnd))
		return false;
	if (!(flags & TCP_ACK))
		return false;
	return TCP_SEQ_GEQ(hdr->ackno, pcb->lastack - pcb->snd_wnd_max) &&
	       TCP_SEQ_LEQ(hdr->ackno, pcb->snd_nxt);
}

static err_t signals_in(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, const struct tcp_hdr *hdr,
			const struct pbuf *p, const struct skiff_mptcp_rx *rx)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	u8_t flags = TCPH_FLAGS(hdr);

	if (!rx->tcprst && !rx->fastclose && !rx->add_addr && !rx->rm_addr && !rx->prio &&
	    !(rx->fail && (flags & TCP_RST)))
		return ERR_OK;
	if (!seg_taken(pcb, hdr, p)) {
		st->stats.mptcp_signal_not_taken++;
		return ERR_OK;
	}
	if (rx->fail && (flags & TCP_RST))
		/* A checksum of ours failed on this subflow, which the peer
		 * resets for it (3.7, with more than one subflow): what it
		 * carried goes again on the others as it dies. */
		mp_fail_in(pcb, c, rx->fail_seq);

	if (rx->tcprst) {
		/* Why the peer resets this subflow: on a RST only (3.6). */
		if (flags & TCP_RST)
			st->stats.mptcp_rst_rx++;
		else
			st->stats.mptcp_bad_option++;
	}
	if (rx->fastclose) {
		/* The peer resets the whole connection (3.5). Its option names
		 * our key: another key is not this connection's word. */
		if (rx->fastclose_key != c->local_key) {
			st->stats.mptcp_bad_option++;
		} else {
			st->stats.mptcp_fastclose_rx++;
			/* On a RST lwIP resets this subflow; the others go
			 * here. On an ACK (the RFC's first form) every subflow
			 * is reset, this one too, and the socket reads
			 * ECONNRESET as from a RST. */
			if (flags & TCP_RST) {
				if (c->main_pcb != pcb)
					skiff__mptcp_fastclose_rx_reset(c, pcb);
				else
					skiff__mptcp_joins_close(c, true);
				return ERR_OK;
			}
			skiff__mptcp_fastclose_rx_reset(c, NULL);
			return ERR_ABRT;
		}
	}
	if (flags & (TCP_SYN | TCP_RST))
		return ERR_OK;
	if (rx->add_addr) {
		if (rx->add_addr_opt[2] & 0x01) {
			/* The echo of one of our announcements: it arrived. */
			st->stats.mptcp_add_addr_echo_rx++;
			if (rx->add_addr_opt[3] >= 1 && rx->add_addr_opt[3] <= SKIFF_MAX_PORTS)
				c->adv_owed &= (uint8_t) ~(1u << (rx->add_addr_opt[3] - 1));
		} else
			skiff__mptcp_add_addr_in(pcb, c, rx->add_addr_opt, rx->add_addr_len);
	}
	if (rx->rm_addr) {
		st->stats.mptcp_rm_addr_rx++;
		skiff__mptcp_rm_addr_in(c, rx->rm_ids, rx->nrm);
	}
	if (rx->prio) {
		/* The peer's priority for this subflow (3.3.8): kept, shown,
		 * and the scheduler keeps off a backup one (send.c). */
		st->stats.mptcp_prio_rx++;
		sf->backup = rx->prio_backup;
	}
	return ERR_OK;
}

bool skiff__mptcp_conn_eof(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf)
{
	struct skiff_mptcp_conn *c = sf ? sf->conn : NULL;

	(void)pcb;
	if (!c || sf->phase != SKIFF_MPTCP_EST || !c->data_fin_rcvd || c->eof_told ||
	    c->data_fin_seq != c->rcv_data_nxt)
		return false;
	/* A connection-level close: the socket reads its end though the
	 * subflow stays open for what we still send (RFC 8684 3.3.3). */
	c->eof_told = true;
	return true;
}

err_t skiff__mptcp_conn_input(struct tcp_pcb *pcb, bool want, const struct tcp_hdr *hdr,
			      const struct pbuf *p, const struct skiff_mptcp_rx *rx)
{
	struct skiff_mptcp_sf *sf;
	u8_t flags = TCPH_FLAGS(hdr);
	err_t e;

	if (pcb->state == LISTEN) {
		if (!want || (flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
			return ERR_OK;
		if (rx->mpc) {
			listen_syn(pcb, hdr, rx);
		} else if (rx->join) {
			/* A subflow for the connection its token names, or a
			 * RST (join.c). */
			if (skiff__mptcp_join_syn(hdr, rx) != ERR_OK)
				return ERR_ABRT;
			if (tcp_ext_arg_get(pcb, ext_id) == NULL)
				tcp_ext_arg_set_callbacks(pcb, ext_id, &listen_callbacks);
		}
		return ERR_OK;
	}
	sf = tcp_ext_arg_get(pcb, ext_id);
	if (!sf || sf->phase == SKIFF_MPTCP_FIXED || sf->phase == SKIFF_MPTCP_FALLBACK)
		return ERR_OK;
	if (sf->phase == SKIFF_MPTCP_SYN_SENT) {
		if (pcb->state == SYN_SENT)
			capable_synack(pcb, sf, hdr, rx);
		return ERR_OK;
	}
	if (sf->phase == SKIFF_MPTCP_JOIN_SYN_RCVD) {
		if (pcb->state != SYN_RCVD)
			return ERR_OK;
		if (skiff__mptcp_join_ack(pcb, sf, hdr, rx) != ERR_OK)
			return ERR_ABRT; /* reset and freed */
		if (sf->phase != SKIFF_MPTCP_EST)
			return ERR_OK;
	}
	if (sf->phase == SKIFF_MPTCP_JOIN_SYN_SENT) {
		/* A join we asked for: the SYN-ACK's HMAC (join.c). */
		if (pcb->state == SYN_SENT)
			return skiff__mptcp_join_synack_in(pcb, sf, hdr, rx);
		return ERR_OK;
	}
	if (sf->phase == SKIFF_MPTCP_JOIN_ACK_SENT) {
		/* Any ACK from the peer after our third ACK says it took the
		 * join (3.2: the fourth ACK); till then each of our ACKs
		 * carries the MP_JOIN with our HMAC again. */
		if ((flags & TCP_ACK) && !(flags & (TCP_SYN | TCP_RST)))
			skiff__mptcp_join_acked(sf);
		if (sf->phase != SKIFF_MPTCP_EST)
			return ERR_OK;
	}
	if (sf->phase == SKIFF_MPTCP_SYN_RCVD) {
		if (pcb->state != SYN_RCVD)
			return ERR_OK;
		capable_ack(pcb, sf, hdr, rx);
		if (sf->phase != SKIFF_MPTCP_EST)
			return ERR_OK;
	}
	if (sf->phase != SKIFF_MPTCP_EST)
		return ERR_OK;
	if (signals_in(pcb, sf, hdr, p, rx) != ERR_OK)
		return ERR_ABRT;
	if (flags & (TCP_SYN | TCP_RST))
		return ERR_OK;
	if (sf->rtt_on && (flags & TCP_ACK) && TCP_SEQ_GEQ(hdr->ackno, sf->rtt_seq)) {
		uint32_t sample = skiff__now_us() - sf->rtt_t0;

		sf->rtt_on = false;
		if (!pcb->nrtx)
			sf->srtt_us = sf->srtt_us ? sf->srtt_us - sf->srtt_us / 8 + sample / 8
						  : (sample ? sample : 1);
	}
	/* A stale first subflow whose data the peer ACKs again is back. */
	if (sf->stale && !sf->join && !sf->peer_fin && (flags & TCP_ACK) &&
	    TCP_SEQ_GT(hdr->ackno, pcb->lastack))
		skiff__mptcp_main_stale(sf, false);
	e = dss_in(pcb, sf, hdr, p, rx);
	if (e != ERR_OK)
		return e;
	/* The peer's FIN in order on the first subflow after ours was
	 * queued (whether the application still holds the socket or not):
	 * the joins carry the rest (send.c). */
	if ((flags & TCP_FIN) && !sf->join && hdr->seqno == pcb->rcv_nxt)
		(void)skiff__mptcp_main_peer_fin(pcb);
	/* A join's ACK of all it sent while the DATA_FIN is due on joins
	 * (the first subflow cannot carry it): the closing round puts it on
	 * a pure ACK now that the join's queue is empty (send.c). */
	if (sf->join && (flags & TCP_ACK) && !pcb->unsent &&
	    TCP_SEQ_GEQ(hdr->ackno, pcb->snd_nxt) && TCP_SEQ_LT(pcb->lastack, pcb->snd_nxt) &&
	    skiff__mptcp_data_fin_on_join(sf->conn))
		skiff__mptcp_reinject_later(sf->conn);
	return ERR_OK;
}

/* ---- options out ------------------------------------------------------------------ */

u8_t skiff__mptcp_sf_option_len(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf)
{
	switch (sf->phase) {
	case SKIFF_MPTCP_FIXED:
		return sf->fixed_len;
	case SKIFF_MPTCP_SYN_RCVD:
		return SKIFF_MPTCP_MPC_SYNACK_LEN;
	case SKIFF_MPTCP_SYN_SENT:
		return SKIFF_MPTCP_MPC_SYN_LEN;
	case SKIFF_MPTCP_JOIN_SYN_RCVD:
		return SKIFF_MPTCP_JOIN_SYNACK_LEN;
	case SKIFF_MPTCP_JOIN_SYN_SENT:
		return SKIFF_MPTCP_JOIN_SYN_LEN;
	default:
		/* The SYN's room while it may still be resent. */
		if (pcb->state == SYN_SENT)
			return SKIFF_MPTCP_MPC_SYN_LEN;
		/* The SYN-ACK's room while it may still be resent. */
		if (pcb->state == SYN_RCVD)
			return sf->join ? SKIFF_MPTCP_JOIN_SYNACK_LEN : SKIFF_MPTCP_MPC_SYNACK_LEN;
		return sf->est_len;
	}
}

static uint8_t mpc_flags(const struct skiff_mptcp_conn *c)
{
	return SKIFF_MPTCP_MPC_H | (c->csum ? SKIFF_MPTCP_MPC_A : 0);
}

/* The checksum to write for a mapping of this segment's payload. */
static uint16_t payload_csum(const struct pbuf *p, const struct tcp_hdr *hdr, uint64_t dsn,
			     uint32_t ssn, uint16_t dll)
{
	uint16_t hl = TCPH_HDRLEN_BYTES(hdr);

	return (uint16_t)~skiff__mptcp_csum_sum(dsn, ssn, dll, p, hl, p->tot_len - hl, 0);
}

/* The DATA_ACK: the data the socket has been handed (recv.c), plus the
 * DATA_FIN once everything before it is in. */
static uint64_t data_ack(const struct skiff_mptcp_conn *c)
{
	uint64_t ack = c->rcv_data_nxt;

	if (c->data_fin_rcvd && c->data_fin_seq == ack)
		ack++;
	return ack;
}

/* The echo of an ADD_ADDR (3.4.1: flag E, no HMAC) at @p b: its length. */
static unsigned add_addr_echo(const struct skiff_mptcp_ann *a, uint8_t *b)
{
	unsigned alen = a->family == AF_INET6 ? 16 : 4, n = 4 + alen + (a->port ? 2 : 0);

	b[0] = PKB_MPTCP_OPT_KIND;
	b[1] = (uint8_t)n;
	b[2] = SKIFF_MPTCP_SUB_ADD_ADDR << 4 | 0x01;
	b[3] = a->id;
	memcpy(b + 4, a->addr, alen);
	if (a->port) {
		b[4 + alen] = (uint8_t)(a->port >> 8);
		b[5 + alen] = (uint8_t)a->port;
	}
	return n;
}

/* What an accepted IPv4 connection announces: this address with the
 * configured port (id 1), each extra port's IPv4 address other than the
 * connection's own (ids 2 to 4). */
static void adv_start(struct skiff_mptcp_conn *c, const struct tcp_pcb *pcb)
{
	const struct skiff_config *cfg = &skiff__s.cfg;
	uint32_t local = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));

	if (cfg->mptcp_announce_port) {
		c->adv_owed |= 1u;
		c->adv_port = cfg->mptcp_announce_port;
	}
	for (unsigned i = 0; i < cfg->n_extra_ports; i++)
		if (cfg->extra_ports[i].ipv4 && cfg->extra_ports[i].ipv4 != local &&
		    !skiff__s.link[i + 1].mptcp_gone)
			c->adv_owed |= (uint8_t)(1u << (i + 1));
}

/* The id of the announcement to put on this pure ACK, 0 for none: one not
 * sent yet goes at once; the others one a second, the least tried first,
 * 5 times each at most. */
static unsigned adv_due(struct skiff_mptcp_conn *c)
{
	uint32_t now = (uint32_t)skiff__now_ms();
	unsigned best = 0;

	for (unsigned id = 1; id <= SKIFF_MAX_PORTS; id++) {
		if (!(c->adv_owed & (1u << (id - 1))))
			continue;
		if (c->adv_tries[id - 1] >= 5) {
			c->adv_owed &= (uint8_t) ~(1u << (id - 1));
			continue;
		}
		if (!best || c->adv_tries[id - 1] < c->adv_tries[best - 1])
			best = id;
	}
	if (!best || (c->adv_tries[best - 1] && (int32_t)(now - c->adv_last_ms) < 1000))
		return 0;
	c->adv_tries[best - 1]++;
	c->adv_last_ms = now;
	return best;
}

/* Our ADD_ADDR (3.4.1) for announcement @p id: the IPv4 address, the port
 * when there is one, and the rightmost 64 bits of HMAC(our key || the
 * peer's, id || address || port, 0 for none). Its length. */
static unsigned add_addr_announce(const struct tcp_pcb *pcb, const struct skiff_mptcp_conn *c,
				  unsigned id, uint8_t *b)
{
	uint8_t msg[7], mac[SKIFF_MPTCP_HMAC_LEN];
	uint32_t a = id == 1 ? ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip))
			     : skiff__s.cfg.extra_ports[id - 2].ipv4;
	uint16_t port = id == 1 ? c->adv_port : 0;
	unsigned len = port ? 18 : 16;

	msg[0] = (uint8_t)id;
	memcpy(msg + 1, &a, 4);
	msg[5] = (uint8_t)(port >> 8);
	msg[6] = (uint8_t)port;
	if (skiff__mptcp_hmac(c->local_key, c->remote_key, msg, sizeof(msg), mac))
		memset(mac, 0, sizeof(mac)); /* no memory: the peer drops it */
	b[0] = PKB_MPTCP_OPT_KIND;
	b[1] = (uint8_t)len;
	b[2] = SKIFF_MPTCP_SUB_ADD_ADDR << 4;
	memcpy(b + 3, msg, len - 11);
	memcpy(b + len - 8, mac + SKIFF_MPTCP_HMAC_LEN - 8, 8);
	return len;
}

/* Our MP_PRIO (3.3.8) on @p sf: backup or not, for the subflow it goes
 * on. */
static void prio_option(struct skiff_mptcp_sf *sf, uint8_t *b)
{
	b[0] = PKB_MPTCP_OPT_KIND;
	b[1] = SKIFF_MPTCP_PRIO_LEN;
	b[2] = (uint8_t)(SKIFF_MPTCP_SUB_PRIO << 4 | (sf->lbackup ? 0x01 : 0));
	sf->prio_owed = false;
	skiff__s.stats.mptcp_prio_tx++;
}

/* Our REMOVE_ADDR (3.4.2): every withdrawn address id @p c still owes. */
static void rm_addr_option(struct skiff_mptcp_conn *c, uint8_t *b)
{
	unsigned n = 0;

	for (unsigned id = 1; id <= SKIFF_MAX_PORTS; id++)
		if (c->rm_owed & (1u << (id - 1)))
			b[3 + n++] = (uint8_t)id;
	b[0] = PKB_MPTCP_OPT_KIND;
	b[1] = (uint8_t)(3 + n);
	b[2] = SKIFF_MPTCP_SUB_RM_ADDR << 4;
	c->rm_owed = 0;
	skiff__s.stats.mptcp_rm_addr_tx++;
}

/* A RST's options on an MPTCP subflow: MP_TCPRST with our reason (3.6),
 * and MP_FASTCLOSE with the peer's key when the application reset the
 * connection (3.5), in @p room bytes at @p b. */
static void rst_options(const struct skiff_mptcp_sf *sf, uint8_t *b, unsigned room)
{
	struct skiff_stack *st = &skiff__s;
	const struct skiff_mptcp_conn *c = sf->conn;
	unsigned at = 0;

	if (c->fastclose && room >= SKIFF_MPTCP_TCPRST_LEN + SKIFF_MPTCP_FASTCLOSE_LEN) {
		b[0] = PKB_MPTCP_OPT_KIND;
		b[1] = SKIFF_MPTCP_FASTCLOSE_LEN;
		b[2] = SKIFF_MPTCP_SUB_FASTCLOSE << 4;
		b[3] = 0;
		put_be64(b + 4, c->remote_key);
		at = SKIFF_MPTCP_FASTCLOSE_LEN;
		st->stats.mptcp_fastclose_tx++;
	}
	if (sf->fail_reset && room >= at + SKIFF_MPTCP_FAIL_LEN + SKIFF_MPTCP_TCPRST_LEN) {
		/* The checksum that failed here (3.7): MP_FAIL beside it. */
		b[at] = PKB_MPTCP_OPT_KIND;
		b[at + 1] = SKIFF_MPTCP_FAIL_LEN;
		b[at + 2] = SKIFF_MPTCP_SUB_FAIL << 4;
		b[at + 3] = 0;
		put_be64(b + at + 4, sf->fail_seq);
		at += SKIFF_MPTCP_FAIL_LEN;
		st->stats.mptcp_mp_fail_tx++;
	}
	b[at] = PKB_MPTCP_OPT_KIND;
	b[at + 1] = SKIFF_MPTCP_TCPRST_LEN;
	b[at + 2] = SKIFF_MPTCP_SUB_TCPRST << 4; /* not transient (T 0) */
	b[at + 3] = sf->rst_reason;
	st->stats.mptcp_rst_tx++;
}

u32_t *skiff__mptcp_sf_option_out(const struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
				  const struct pbuf *p, const struct tcp_hdr *hdr, u32_t *opts)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_mptcp_conn *c = sf->conn;
	unsigned room = skiff__mptcp_sf_option_len(pcb, sf), n = 0;
	u8_t flags = TCPH_FLAGS(hdr);
	uint8_t b[40];

	memset(b, 1, room); /* NOPs wherever nothing else goes */
	if ((flags & TCP_RST) && room >= SKIFF_MPTCP_TCPRST_LEN &&
	    (sf->phase == SKIFF_MPTCP_EST || sf->join)) {
		rst_options(sf, b, room);
	} else if (sf->phase == SKIFF_MPTCP_JOIN_SYN_SENT) {
		if (flags & TCP_SYN)
			skiff__mptcp_join_syn_out(sf, b);
	} else if (sf->phase == SKIFF_MPTCP_JOIN_ACK_SENT) {
		/* Our HMAC on each ACK until the peer ACKs one (3.2). */
		if (!(flags & (TCP_SYN | TCP_FIN)))
			skiff__mptcp_join_ack_out(sf, b + room - SKIFF_MPTCP_JOIN_ACK_LEN);
	} else if (pcb->state == SYN_SENT || sf->phase == SKIFF_MPTCP_SYN_SENT) {
		if ((flags & TCP_SYN) && sf->phase == SKIFF_MPTCP_SYN_SENT) {
			b[0] = PKB_MPTCP_OPT_KIND;
			b[1] = SKIFF_MPTCP_MPC_SYN_LEN;
			b[2] = 0x01; /* MP_CAPABLE, version 1 */
			b[3] = mpc_flags(c);
		}
	} else if (sf->phase == SKIFF_MPTCP_JOIN_SYN_RCVD || (pcb->state == SYN_RCVD && sf->join)) {
		if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
		    sf->phase == SKIFF_MPTCP_JOIN_SYN_RCVD)
			skiff__mptcp_join_synack(sf, b);
	} else if (pcb->state == SYN_RCVD || sf->phase == SKIFF_MPTCP_SYN_RCVD) {
		if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
		    sf->phase == SKIFF_MPTCP_SYN_RCVD) {
			b[0] = PKB_MPTCP_OPT_KIND;
			b[1] = SKIFF_MPTCP_MPC_SYNACK_LEN;
			b[2] = 0x01; /* subtype 0 (MP_CAPABLE), version 1 */
			b[3] = mpc_flags(c);
			put_be64(b + 4, c->local_key);
		}
	} else if (sf->phase == SKIFF_MPTCP_EST && room) {
		u32_t seq = lwip_ntohl(hdr->seqno);
		unsigned len = p->tot_len - TCPH_HDRLEN_BYTES(hdr);
		struct pkb_ext_mptcp m = {.flags = PKB_DSS_DATA_ACK | PKB_DSS_ACK64};
		uint64_t rel;

		m.data_ack = data_ack(c);
		if (c->data_ack_told && skiff__now_ms() < hold_data_ack_until)
			m.data_ack = c->data_ack_sent;
		c->data_ack_sent = m.data_ack;
		c->data_ack_told = true;
		sf->snd_rel = skiff__mptcp_widen(sf->snd_rel, pcb->lastack - sf->iss - 1);
		/* The client's third ACK and first data echo both keys until
		 * the server's DSS says it has them (3.1); the first data's
		 * form maps it implicitly (data sequence IDSN + 1). */
		if (c->client && !sf->join && !c->dss_seen && seq == sf->iss + 1 &&
		    !(flags & (TCP_FIN | TCP_RST)) && (len || !pcb->unacked)) {
			n = !len      ? SKIFF_MPTCP_MPC_ACK_LEN
			    : c->csum ? SKIFF_MPTCP_MPC_CSUM_LEN
				      : SKIFF_MPTCP_MPC_DATA_LEN;
			b[room - n] = PKB_MPTCP_OPT_KIND;
			b[room - n + 1] = (uint8_t)n;
			b[room - n + 2] = 0x01;
			b[room - n + 3] = mpc_flags(c);
			put_be64(b + room - n + 4, c->local_key);
			put_be64(b + room - n + 12, c->remote_key);
			if (len) {
				b[room - n + 20] = (uint8_t)(len >> 8);
				b[room - n + 21] = (uint8_t)len;
			}
			if (len && c->csum) {
				/* The implicit mapping: IDSN + 1 at subflow sequence 1. */
				uint16_t k =
					payload_csum(p, hdr, c->local_idsn + 1, 1, (uint16_t)len);

				b[room - n + 22] = (uint8_t)(k >> 8);
				b[room - n + 23] = (uint8_t)k;
			}
			memcpy(opts, b, room);
			return opts + room / 4;
		}
		/* Our data's mapping (send.c keeps it once a join carries
		 * data too); a join's FIN carries no DATA_FIN: a DATA_ACK
		 * alone on it. */
		if (!sf->join && c->joins && (pcb->nrtx >= 2 || SKIFF_MPTCP_PROBING_DEAD(pcb, c))) {
			/* The first subflow's second retransmission timeout in
			 * a row (or second window probe while the connection's
			 * window is open: SKIFF_MPTCP_PROBING_DEAD): stale, its
			 * data goes on the joins (send.c); each later one sends
			 * there what it took since (a zero-copy send) and a
			 * join's DATA_FIN again. */
			if (!sf->stale)
				skiff__mptcp_main_stale(sf, true);
			else
				skiff__mptcp_reinject_later(c);
		}
		if (len && !sf->rtt_on && seq == pcb->snd_nxt && !pcb->nrtx) {
			/* A first transmission: timed for the scheduler. */
			sf->rtt_on = true;
			sf->rtt_seq = seq + len;
			sf->rtt_t0 = skiff__now_us();
		} else if (len && sf->rtt_on && TCP_SEQ_LT(seq, pcb->snd_nxt)) {
			sf->rtt_on = false; /* a resend: no sample (Karn) */
		}
		if (sf->join && !len && !(flags & TCP_RST) && skiff__mptcp_data_fin_on_join(c)) {
			/* The DATA_FIN alone (3.3.3: data-level length 1, no
			 * subflow data), the first subflow unable to carry it. */
			m.flags |= PKB_DSS_MAP | PKB_DSS_DSN64 | PKB_DSS_DATA_FIN;
			m.data_seq = c->fin_dsn;
			m.subflow_seq = 0;
			m.data_len = 1;
			if (c->csum)
				m.csum = payload_csum(p, hdr, m.data_seq, 0, 1);
			st->stats.mptcp_data_fin_join_tx++;
		} else if (len || ((flags & TCP_FIN) && sf == c->main_sf)) {
			bool fin = (flags & TCP_FIN) && sf == c->main_sf;
			const struct pkb_ext_mptcp *x = NULL;
			uint32_t room, off;

			rel = skiff__mptcp_widen(sf->snd_rel, seq - sf->iss - 1);
			m.flags |= PKB_DSS_MAP | PKB_DSS_DSN64;
			if (len)
				x = skiff__mptcp_seg_map(sf, p, seq, len, &off);
			if (x && !c->csum && (!fin || off + len == x->data_len)) {
				/* The mapping the segment's frame carries, as it
				 * was written (and grown by appends, kept by both
				 * halves of a split): the same on every segment
				 * it covers, so a resend or a split never sends
				 * one range under two mappings. */
				m.data_seq = x->data_seq;
				m.subflow_seq = x->subflow_seq;
				m.data_len = x->data_len;
				st->stats.mptcp_map_tx_ext++;
			} else if (x) {
				/* A checksum covers exactly the segment's bytes;
				 * a DATA_FIN ends them: the segment's part of it. */
				m.data_seq = x->data_seq + off;
				m.subflow_seq = seq - sf->iss;
				m.data_len = (uint16_t)len;
				st->stats.mptcp_map_tx_ext++;
			} else {
				m.data_seq = skiff__mptcp_tx_dsn(sf, rel, &room);
				if (len && room < len) {
					/* A segment across two extents: patch
					 * 0024 keeps writes that far apart out of
					 * one segment. */
					st->stats.mptcp_map_mismatch++;
				}
				m.subflow_seq = len ? seq - sf->iss : 0;
				m.data_len = (uint16_t)(len ? len : 0);
				if (len)
					st->stats.mptcp_map_tx_aside++;
			}
			/* Only the first subflow's FIN is the DATA_FIN's: not a
			 * join's, nor that of a first subflow the connection
			 * left (its FIN closes only it). */
			if (fin) {
				m.flags |= PKB_DSS_DATA_FIN;
				m.data_len++;
				st->stats.mptcp_data_fin_tx++;
			}
			if (c->csum)
				m.csum =
					payload_csum(p, hdr, m.data_seq, m.subflow_seq, m.data_len);
			if (c->fb.inf_tx && len && !c->fb.fail_tx &&
			    (!c->fb.inf_sent || seq == c->fb.inf_seq)) {
				/* The infinite mapping the peer's MP_FAIL asked for
				 * (3.7), again on any resend of its segment; never on
				 * the segment that carries the MP_FAIL echo: once a
				 * Linux receiver falls back it reads no more options,
				 * and one CI run counted our infinite mapping there
				 * but not the echo (MPFailRx 0; not reproduced since,
				 * the two now go on separate segments). */
				m.data_len = 0;
				m.csum = 0;
				if (!c->fb.inf_sent)
					st->stats.mptcp_infinite_map_tx++;
				c->fb.inf_sent = true;
				c->fb.inf_seq = seq;
			}
			if (corrupt_tx_at && c->csum && m.data_len &&
			    (!corrupt_tx_join || sf->join) && corrupt_tx_at - 1 >= rel &&
			    corrupt_tx_at - 1 < rel + len) {
				/* As if a middlebox had changed the payload (and
				 * mended TCP's checksum): once. */
				m.csum ^= 0x0100;
				corrupt_tx_at = 0;
			}
		}
		bool fail_here = c->fb.fail_tx;

		if (fail_here) {
			/* MP_FAIL beside the DSS: room for both when the DSS drops
			 * its DATA_ACK (a mapping with a 32-bit DSN) or its mapping. */
			if (m.flags & PKB_DSS_MAP)
				m.flags &=
					(u8_t) ~(PKB_DSS_DATA_ACK | PKB_DSS_ACK64 | PKB_DSS_DSN64);
			b[0] = PKB_MPTCP_OPT_KIND;
			b[1] = SKIFF_MPTCP_FAIL_LEN;
			b[2] = SKIFF_MPTCP_SUB_FAIL << 4;
			b[3] = 0;
			put_be64(b + 4, c->fb.fail_seq);
			c->fb.fail_tx = false;
			st->stats.mptcp_mp_fail_tx++;
		}
		n = (unsigned)pkb_mptcp_dss_len(m.flags, c->csum);
		unsigned adv = 0, e = 0;

		if ((sf->prio_owed || c->rm_owed) && !fail_here && !(flags & TCP_SYN)) {
			/* Our MP_PRIO (on the subflow it is about) or REMOVE_ADDR
			 * beside the DSS, its DATA_ACK in 32 bits when both would
			 * not fit (a mapping with a checksum); else the next
			 * segment carries it. */
			e = sf->prio_owed ? SKIFF_MPTCP_PRIO_LEN
					  : 3 + (unsigned)__builtin_popcount(c->rm_owed);
			if (e + n > room) {
				m.flags &= (u8_t)~PKB_DSS_ACK64;
				n = (unsigned)pkb_mptcp_dss_len(m.flags, c->csum);
			}
			if (e + n > room)
				e = 0;
			else if (sf->prio_owed)
				prio_option(sf, b);
			else
				rm_addr_option(c, b);
		}
		if (!e && c->adv_owed && !(m.flags & PKB_DSS_MAP) && !fail_here && !c->echo_owed &&
		    !(flags & (TCP_SYN | TCP_FIN)) && (adv = adv_due(c)) != 0) {
			/* Our ADD_ADDR (16 bytes, 18 with a port) beside a
			 * 32-bit DATA_ACK. */
			unsigned a = add_addr_announce(pcb, c, adv, b);

			m.flags &= (u8_t)~PKB_DSS_ACK64;
			n = (unsigned)pkb_mptcp_dss_len(m.flags, c->csum);
			if (a + n > room)
				n = 0;
			st->stats.mptcp_add_addr_tx++;
		} else if (!e && c->echo_owed && !(m.flags & PKB_DSS_MAP) && !fail_here &&
			   !(flags & (TCP_SYN | TCP_FIN))) {
			/* The echo of the peer's ADD_ADDR (3.4.1) on a pure
			 * ACK, beside the DATA_ACK (32 bits, or none, where an
			 * IPv6 echo leaves no room for 64). */
			unsigned a = add_addr_echo(&c->echo, b);

			if (a + n > room) {
				m.flags &= (u8_t)~PKB_DSS_ACK64;
				n = (unsigned)pkb_mptcp_dss_len(m.flags, c->csum);
			}
			if (a + n > room)
				n = 0;
			c->echo_owed = false;
			st->stats.mptcp_add_addr_echo_tx++;
		}
		if (n) {
			pkb_mptcp_dss_encode(&m, c->csum, b + room - n, n);
			st->stats.mptcp_dss_tx++;
		}
	}
	memcpy(opts, b, room);
	return opts + room / 4;
}

void skiff__mptcp_hold_data_ack(unsigned ms)
{
	hold_data_ack_until = ms ? skiff__now_ms() + ms : 0;
}

void skiff__mptcp_corrupt_tx(uint64_t off)
{
	corrupt_tx_at = off + 1;
	corrupt_tx_join = false;
}

void skiff__mptcp_corrupt_tx_join(uint64_t off)
{
	corrupt_tx_at = off + 1;
	corrupt_tx_join = true;
}
