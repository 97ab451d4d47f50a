/* MPTCP options as skiff handles them today: a DSS option on a received
 * segment is decoded into its frame's MPTCP extension (pkb_ext_mptcp) for
 * whoever reads it; an MP_CAPABLE SYN is answered with plain TCP (the
 * peer falls back, counted); a connection with a mapping set
 * (skiff__mptcp_set_mapping(), for tests) writes it as a DSS option on
 * every segment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/mptcp_dss.h>

#include "frames.h"
#include "instance.h"
#include "mptcp.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"

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

void skiff__mptcp_init(void)
{
	if (ext_mptcp_id == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
		ext_mptcp_id = tcp_ext_arg_alloc_id();
}

void skiff__mptcp_option_in(const uint8_t *o, size_t avail, bool syn, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;
	struct pkb_ext_mptcp dss, *m;
	struct pkb *pkb;
	unsigned subtype;

	if (avail < 3) {
		st->stats.mptcp_bad_option++;
		return;
	}
	subtype = o[2] >> 4;
	if (subtype == 0) {
		/* MP_CAPABLE: we answer with plain TCP, the peer falls back. */
		if (syn)
			st->stats.mptcp_fallbacks++;
		return;
	}
	if (subtype != PKB_MPTCP_SUBTYPE_DSS)
		return;
	if (pkb_mptcp_dss_decode(o, avail, false, &dss) < 0) {
		st->stats.mptcp_bad_option++;
		return;
	}
	pkb = skiff__rx_pkb(p);
	if (pkb && pkb_ext_add_mptcp(pkb, &m) == 0) {
		*m = dss;
		st->stats.mptcp_dss_rx++;
	}
}

static struct skiff_mptcp_out *mptcp_of(const struct tcp_pcb *pcb)
{
	if (!pcb || pcb->state == LISTEN || ext_mptcp_id == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
		return NULL;
	return tcp_ext_arg_get(pcb, ext_mptcp_id);
}

u8_t skiff__mptcp_option_len(const struct tcp_pcb *pcb)
{
	struct skiff_mptcp_out *m = mptcp_of(pcb);

	return m ? m->len : 0;
}

u32_t *skiff__mptcp_option_out(const struct tcp_pcb *pcb, u32_t *opts)
{
	struct skiff_mptcp_out *m = mptcp_of(pcb);
	unsigned dlen, pad;
	uint8_t b[40];

	if (!m)
		return opts;
	dlen = pkb_mptcp_dss_len(m->dss.flags, m->dss.has_csum);
	pad = m->len - dlen;
	/* NOPs first so that the option ends on the word boundary. */
	memset(b, 1, pad);
	pkb_mptcp_dss_encode(&m->dss, m->dss.has_csum, b + pad, sizeof(b) - pad);
	memcpy(opts, b, m->len);
	skiff__s.stats.mptcp_dss_tx++;
	return opts + m->len / 4;
}

int skiff__mptcp_set_mapping(int fd, const struct pkb_ext_mptcp *dss)
{
	struct skiff_mptcp_out *m, *old;
	struct skiff_sock *sk;
	struct tcp_pcb *pcb;
	uint8_t len = 0;

	sk = skiff__sock_get(fd);
	if (!sk)
		return -EBADF;
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
