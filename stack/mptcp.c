/* MPTCP's door from lwIP's option hooks (hooks.c) into its room
 * (stack/mptcp/): every option of kind 30 of a received segment is
 * gathered here (a DSS also decoded into its frame's MPTCP extension,
 * pkb_ext_mptcp, for whoever reads it), then handed to the connection
 * level once the walk is over; on the way out, a subflow's option bytes.
 * An MP_CAPABLE SYN to a listener that did not ask for MPTCP is answered
 * with plain TCP (the peer falls back, counted). A test can set a fixed
 * mapping that a plain connection then writes on every segment
 * (skiff__mptcp_set_mapping()). The socket queries (sockopt.c) read a
 * subflow's state through here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/mptcp_dss.h>

#include "engine.h"
#include "frames.h"
#include "instance.h"
#include "mptcp.h"
#include "mptcp/conn.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"

static uint8_t ext_mptcp_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

/* The kind-30 options of the segment being taken in (one at a time). */
static struct skiff_mptcp_rx rx_opts;

static void mptcp_destroy(u8_t id, void *data)
{
	(void)id;
	skiff__mptcp_sf_free(data);
}

static const struct tcp_ext_arg_callbacks mptcp_callbacks = {.destroy = mptcp_destroy};

void skiff__mptcp_init(void)
{
	if (ext_mptcp_id == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
		ext_mptcp_id = tcp_ext_arg_alloc_id();
	skiff__mptcp_conn_setup(ext_mptcp_id);
}

/* ADD_ADDR's lengths (RFC 8684 3.4.1): IPv4 or IPv6, with or without a
 * port, with the HMAC or (an echo, @p echo) without. */
static bool add_addr_len_ok(unsigned len, bool echo)
{
	unsigned base = echo ? 4 : 12;

	return len == base + 4 || len == base + 6 || len == base + 16 || len == base + 18;
}

void skiff__mptcp_option_in(const uint8_t *o, size_t avail, bool syn, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct pkb_ext_mptcp dss, *m;
	struct pkb *pkb;
	unsigned subtype;

	(void)syn;
	/* The walk checked that the length byte lies within @p avail. */
	if (avail < 3 || o[1] < 3) {
		st->stats.mptcp_bad_option++;
		return;
	}
	subtype = o[2] >> 4;
	switch (subtype) {
	case SKIFF_MPTCP_SUB_CAPABLE:
		/* Its length is checked against the segment after the walk. */
		if (o[1] > sizeof(rx_opts.mpc_opt) || rx_opts.mpc) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.mpc = true;
		rx_opts.mpc_len = o[1];
		memcpy(rx_opts.mpc_opt, o, o[1]);
		return;
	case SKIFF_MPTCP_SUB_JOIN:
		if (rx_opts.join) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.join = true;
		rx_opts.join_len = o[1];
		/* Its length is checked against the segment after the walk. */
		if (o[1] <= sizeof(rx_opts.join_opt) && o[1] <= avail)
			memcpy(rx_opts.join_opt, o, o[1]);
		else
			rx_opts.join_len = 0;
		return;
	case PKB_MPTCP_SUBTYPE_DSS:
		break;
	case SKIFF_MPTCP_SUB_FAIL:
		if (o[1] != SKIFF_MPTCP_FAIL_LEN || avail < SKIFF_MPTCP_FAIL_LEN || rx_opts.fail) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.fail = true;
		rx_opts.fail_seq = 0;
		for (int i = 4; i < SKIFF_MPTCP_FAIL_LEN; i++)
			rx_opts.fail_seq = rx_opts.fail_seq << 8 | o[i];
		return;
	case SKIFF_MPTCP_SUB_ADD_ADDR:
		/* 8 + address (4 or 16) + port (0 or 2) + HMAC (8; none on
		 * an echo), as Linux reads it. */
		if (!add_addr_len_ok(o[1], o[2] & 0x01) || rx_opts.add_addr) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.add_addr = true;
		rx_opts.add_addr_len = o[1];
		memcpy(rx_opts.add_addr_opt, o, o[1]);
		return;
	case SKIFF_MPTCP_SUB_RM_ADDR:
		if (o[1] < 4 || o[1] > 3 + SKIFF_MPTCP_RM_IDS || rx_opts.rm_addr) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.rm_addr = true;
		rx_opts.nrm = (uint8_t)(o[1] - 3);
		memcpy(rx_opts.rm_ids, o + 3, rx_opts.nrm);
		return;
	case SKIFF_MPTCP_SUB_PRIO:
		if (o[1] != SKIFF_MPTCP_PRIO_LEN || rx_opts.prio) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.prio = true;
		rx_opts.prio_backup = o[2] & 0x01;
		return;
	case SKIFF_MPTCP_SUB_FASTCLOSE:
		if (o[1] != SKIFF_MPTCP_FASTCLOSE_LEN || avail < SKIFF_MPTCP_FASTCLOSE_LEN ||
		    rx_opts.fastclose) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.fastclose = true;
		rx_opts.fastclose_key = 0;
		for (int i = 4; i < SKIFF_MPTCP_FASTCLOSE_LEN; i++)
			rx_opts.fastclose_key = rx_opts.fastclose_key << 8 | o[i];
		return;
	case SKIFF_MPTCP_SUB_TCPRST:
		if (o[1] != SKIFF_MPTCP_TCPRST_LEN || rx_opts.tcprst) {
			st->stats.mptcp_bad_option++;
			return;
		}
		rx_opts.tcprst = true;
		rx_opts.tcprst_flags = o[2] & 0x0f;
		rx_opts.tcprst_reason = o[3];
		return;
	default:
		/* A subtype RFC 8684 does not define (0xf is for private
		 * use): ignored (3), counted. */
		if (subtype > SKIFF_MPTCP_SUB_TCPRST)
			st->stats.mptcp_unknown_subtype++;
		return;
	}
	/* A mapping's length says whether it carries a checksum; the
	 * connection level checks that against what was negotiated. */
	if ((pkb_mptcp_dss_decode(o, avail, false, &dss) < 0 &&
	     pkb_mptcp_dss_decode(o, avail, true, &dss) < 0) ||
	    rx_opts.dss) {
		st->stats.mptcp_bad_option++;
		return;
	}
	rx_opts.dss = true;
	/* Into the frame's MPTCP extension, from which the connection level
	 * reads it (stack/mptcp/conn.c); kept aside only when the frame has
	 * no room for one. */
	pkb = skiff__rx_pkb(p);
	if (pkb && pkb_ext_add_mptcp(pkb, &m) == 0) {
		*m = dss;
		st->stats.mptcp_dss_rx++;
	} else {
		rx_opts.map = dss;
		st->stats.mptcp_dss_rx_aside++;
	}
}

/* The length MP_CAPABLE and MP_JOIN must have on this segment (RFC 8684
 * 3.1, 3.2); an option of another length is ignored, as Linux does. A
 * version 0 MP_CAPABLE on a SYN (12 bytes: RFC 6824's) is an offer of a
 * version we do not speak, declined by the connection level. */
static bool mpc_len_ok(u8_t flags, const struct pbuf *p, const struct skiff_mptcp_rx *rx)
{
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		return rx->mpc_len == SKIFF_MPTCP_MPC_SYN_LEN ||
		       (rx->mpc_len == SKIFF_MPTCP_MPC_SYNACK_LEN && (rx->mpc_opt[2] & 0x0f) == 0);
	if (flags & TCP_SYN)
		return rx->mpc_len == SKIFF_MPTCP_MPC_SYNACK_LEN;
	if (p->tot_len)
		return rx->mpc_len == SKIFF_MPTCP_MPC_DATA_LEN ||
		       rx->mpc_len == SKIFF_MPTCP_MPC_CSUM_LEN;
	return rx->mpc_len == SKIFF_MPTCP_MPC_ACK_LEN;
}

static bool join_len_ok(u8_t flags, const struct skiff_mptcp_rx *rx)
{
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		return rx->join_len == SKIFF_MPTCP_JOIN_SYN_LEN;
	if (flags & TCP_SYN)
		return rx->join_len == SKIFF_MPTCP_JOIN_SYNACK_LEN;
	return rx->join_len == SKIFF_MPTCP_JOIN_ACK_LEN;
}

s8_t skiff__mptcp_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_sock *sk = pcb->callback_arg;
	u8_t flags = TCPH_FLAGS(hdr);
	bool syn = (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	bool want = pcb->state == LISTEN && sk && sk->opt.mptcp;
	err_t err = ERR_OK;

	if (!rx_opts.mpc && !rx_opts.dss && !rx_opts.join && !rx_opts.fail && !rx_opts.add_addr &&
	    !rx_opts.rm_addr && !rx_opts.prio && !rx_opts.fastclose && !rx_opts.tcprst &&
	    !(pcb->skiff_flags & SKIFF_PCB_MPTCP) &&
	    (pcb->state != LISTEN || !tcp_ext_arg_get(pcb, ext_mptcp_id)))
		return ERR_OK;
	/* MP_CAPABLE on a SYN to a listener that did not ask: plain TCP. */
	if (syn && rx_opts.mpc && pcb->state == LISTEN && !want)
		st->stats.mptcp_fallbacks++;
	if (rx_opts.mpc && !mpc_len_ok(flags, p, &rx_opts)) {
		st->stats.mptcp_bad_option++;
		rx_opts.mpc = false;
	}
	if (rx_opts.join && !join_len_ok(flags, &rx_opts)) {
		st->stats.mptcp_bad_option++;
		rx_opts.join = false;
	}
	err = skiff__mptcp_conn_input(pcb, want, hdr, p, &rx_opts);
	memset(&rx_opts, 0, sizeof(rx_opts));
	return err;
}

/* SKIFF_PCB_MPTCP says whether the slot is set, without a call: a
 * listener has it clear (a listener's slot holds no subflow). */
static struct skiff_mptcp_sf *mptcp_of(const struct tcp_pcb *pcb)
{
	if (!pcb || !(pcb->skiff_flags & SKIFF_PCB_MPTCP) || pcb->state == LISTEN)
		return NULL;
	return tcp_ext_arg_get(pcb, ext_mptcp_id);
}

struct skiff_mptcp_sf *skiff__mptcp_sf_of(const struct tcp_pcb *pcb)
{
	return mptcp_of(pcb);
}

bool skiff__mptcp_subflow_fin(const struct tcp_pcb *pcb)
{
	const struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	return sf && !sf->join && sf->conn && sf->phase == SKIFF_MPTCP_EST && !sf->conn->fb.failed;
}

struct skiff_cc *skiff__mptcp_join_cc(const struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);
	const struct skiff_sock *s;

	if (!sf || !sf->join || !sf->conn)
		return NULL;
	s = sf->conn->main_pcb ? sf->conn->main_pcb->callback_arg : NULL;
	if (!sf->cc.algo && s && s->pcb.tcp == sf->conn->main_pcb)
		sf->cc.want = s->cc.algo ? s->cc.algo : s->cc.want;
	return &sf->cc;
}

bool skiff__mptcp_accept_join(struct tcp_pcb *pcb)
{
	return skiff__mptcp_join_accept(pcb, mptcp_of(pcb));
}

/* The connection of @p pcb when it is a first subflow with joins. */
static struct skiff_mptcp_conn *conn_with_joins(const struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	return sf && !sf->join && sf->conn && sf->conn->joins ? sf->conn : NULL;
}

const struct tcp_pcb *skiff__mptcp_subflow(const struct tcp_pcb *pcb, unsigned i)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	if (!i)
		return pcb;
	if (!sf || sf->join || !sf->conn)
		return NULL;
	for (const struct skiff_mptcp_sf *j = sf->conn->joins; j; j = j->next)
		if (j->phase == SKIFF_MPTCP_EST && j->pcb && !--i)
			return j->pcb;
	return NULL;
}

uint32_t skiff__mptcp_subflow_id(const struct tcp_pcb *pcb)
{
	const struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	return sf ? sf->id : 0;
}

void skiff__mptcp_read(struct tcp_pcb *pcb)
{
	struct skiff_mptcp_conn *c = conn_with_joins(pcb);

	if (c)
		skiff__mptcp_joins_read(c);
}

bool skiff__mptcp_closing(struct tcp_pcb *pcb, bool abort)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);
	struct skiff_mptcp_conn *c;

	/* The application resets an MPTCP connection: its RSTs carry
	 * MP_FASTCLOSE (RFC 8684 3.5), on every subflow. */
	if (abort && sf && !sf->join && sf->conn && sf->phase == SKIFF_MPTCP_EST)
		sf->conn->fastclose = true;
	if (!(c = conn_with_joins(pcb)))
		return false;
	if (!abort && sf->phase == SKIFF_MPTCP_EST && !c->fb.failed) {
		/* The joins stay until the peer DATA_ACKs our DATA_FIN: if the
		 * first subflow's path is gone, they carry the rest of the
		 * data and the DATA_FIN (stack/mptcp/send.c). */
		skiff__mptcp_fin_queued(c, true);
		return skiff__mptcp_close_defer(c, false);
	}
	skiff__mptcp_joins_close(c, abort);
	return false;
}

bool skiff__mptcp_shut_wr(struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);
	struct skiff_mptcp_conn *c;

	if (!sf || sf->join || !sf->conn || sf->phase != SKIFF_MPTCP_EST)
		return false;
	skiff__mptcp_fin_queued(sf->conn, false);
	if (!(c = conn_with_joins(pcb)) || c->fb.failed)
		return false;
	return skiff__mptcp_close_defer(c, true);
}

int skiff__mptcp_connect(struct tcp_pcb *pcb)
{
	return skiff__mptcp_conn_connect(pcb);
}

struct pbuf *skiff__mptcp_recv(struct tcp_pcb *pcb, struct pbuf *p)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	if (!sf || sf->phase != SKIFF_MPTCP_EST)
		return p;
	return skiff__mptcp_conn_recv(pcb, sf, p);
}

bool skiff__mptcp_rcv_eof(struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	return sf && skiff__mptcp_conn_eof(pcb, sf);
}

int skiff__mptcp_query(const struct tcp_pcb *pcb, bool asked, struct skiff_mptcp_status *st,
		       struct skiff_mptcp_info *info)
{
	return skiff__mptcp_sf_query(pcb, asked, mptcp_of(pcb), st, info);
}

u8_t skiff__mptcp_option_len(const struct tcp_pcb *pcb)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);

	return sf ? skiff__mptcp_sf_option_len(pcb, sf) : 0;
}

u32_t *skiff__mptcp_option_out(struct pbuf *p, const struct tcp_hdr *hdr, const struct tcp_pcb *pcb,
			       u32_t *opts)
{
	struct skiff_mptcp_sf *sf = mptcp_of(pcb);
	unsigned dlen, pad;
	uint8_t b[40];

	if (!sf)
		return opts;
	if (sf->phase != SKIFF_MPTCP_FIXED)
		return skiff__mptcp_sf_option_out(pcb, sf, p, hdr, opts);
	dlen = pkb_mptcp_dss_len(sf->fixed.flags, sf->fixed.has_csum);
	pad = sf->fixed_len - dlen;
	/* NOPs first so that the option ends on the word boundary. */
	memset(b, 1, pad);
	pkb_mptcp_dss_encode(&sf->fixed, sf->fixed.has_csum, b + pad, sizeof(b) - pad);
	memcpy(opts, b, sf->fixed_len);
	skiff__s.stats.mptcp_dss_tx++;
	return opts + sf->fixed_len / 4;
}

int skiff__mptcp_set_mapping(int fd, const struct pkb_ext_mptcp *dss)
{
	struct skiff_mptcp_sf *m, *old;
	struct skiff_sock *sk;
	struct tcp_pcb *pcb;
	uint8_t len = 0;

	sk = skiff__sock_get(fd);
	if (!sk)
		return -EBADF;
	if (sk->kind != SKIFF_SK_TCP || !(pcb = sk->pcb.tcp) || pcb->state == LISTEN)
		return -ENOTCONN;
	old = tcp_ext_arg_get(pcb, ext_mptcp_id);
	if (old && old->phase != SKIFF_MPTCP_FIXED)
		return -EBUSY; /* an MPTCP subflow writes its own */
	if (dss) {
		if (dss->flags & ~PKB_DSS_FLAGS)
			return -EINVAL;
		len = (uint8_t)((pkb_mptcp_dss_len(dss->flags, dss->has_csum) + 3) & ~3u);
	}
	/* Queued segments had their header room sized with the old length:
	 * it may change only when nothing is queued. */
	if ((old ? old->fixed_len : 0) != len && (pcb->unsent || pcb->unacked))
		return -EBUSY;
	if (!dss) {
		free(old);
		tcp_ext_arg_set(pcb, ext_mptcp_id, NULL);
		pcb->skiff_flags &= (u8_t)~SKIFF_PCB_MPTCP;
		return 0;
	}
	m = old ? old : calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->phase = SKIFF_MPTCP_FIXED;
	m->fixed = *dss;
	m->fixed_len = len;
	tcp_ext_arg_set(pcb, ext_mptcp_id, m);
	tcp_ext_arg_set_callbacks(pcb, ext_mptcp_id, &mptcp_callbacks);
	pcb->skiff_flags |= SKIFF_PCB_MPTCP;
	return 0;
}
