/* What the socket queries report of connection-level MPTCP (skiff.h's
 * MPTCP section): a socket's mode for skiff_mptcp_status(), and the
 * connection as Linux's MPTCP_INFO shows it. A connection that never got
 * MPTCP state (its SYN offered nothing, or skiff declined it) or whose
 * state fell back is TCP, as its peer sees it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <skiff/skiff.h>

#include "mptcp.h"
#include "mptcp/conn.h"
#include "sock.h"

#include "lwip/priv/tcp_priv.h"

_Static_assert(sizeof(struct skiff_mptcp_info) == 96, "Linux 6.18's struct mptcp_info");
_Static_assert(sizeof(struct skiff_mptcp_subflow_data) == 16, "Linux's mptcp_subflow_data");

/* Subflow bytes from @p from to @p to (32-bit positions past the ISN),
 * widened around @p base. */
static uint64_t sf_bytes(uint64_t base, uint32_t from, uint32_t to)
{
	return skiff__mptcp_widen(base, to - from - 1);
}

/* Joins taken (MP_JOIN, established) besides the first subflow. */
static unsigned joins(const struct skiff_mptcp_conn *c)
{
	unsigned n = 0;

	for (const struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
		n += j->phase == SKIFF_MPTCP_EST;
	return n;
}

static void conn_info(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf,
		      struct skiff_mptcp_info *m)
{
	const struct skiff_mptcp_conn *c = sf->conn;
	uint64_t queued, sent;

	m->mptcpi_token = c->local_token;
	m->mptcpi_subflows = (uint8_t)joins(c);
	m->mptcpi_subflows_total = (uint8_t)(1 + m->mptcpi_subflows);
	m->mptcpi_csum_enabled = c->csum;
	if (sf->phase != SKIFF_MPTCP_EST)
		return;
	m->mptcpi_flags = SKIFF_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED;
	/* One subflow and no connection-level resends of ours: our data
	 * sequence space is the subflow's shifted by our IDSN (conn.c). A
	 * queued FIN takes a sequence number but carries no data. */
	queued = sf_bytes(sf->snd_rel, sf->iss, pcb->snd_lbb);
	if ((pcb->flags & TF_FIN) && queued)
		queued--;
	sent = sf_bytes(sf->snd_rel, sf->iss, pcb->snd_nxt);
	if (c->multi) {
		/* Joins carry data too (send.c): the connection counts what
		 * it handed out; bytes sent adds what each join sent to the
		 * first subflow's (reinjected bytes twice, as Linux counts
		 * its retransmissions there). */
		queued = c->snd_data_nxt - (c->local_idsn + 1);
		for (const struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
			if (j->pcb && j->phase == SKIFF_MPTCP_EST)
				sent += sf_bytes(j->snd_rel, j->iss, j->pcb->snd_nxt);
	}
	m->mptcpi_write_seq = c->local_idsn + 1 + queued;
	m->mptcpi_snd_una = c->snd_data_acked;
	m->mptcpi_rcv_nxt = c->rcv_data_nxt;
	m->mptcpi_bytes_sent = sent < queued ? sent : queued;
	m->mptcpi_bytes_acked = c->snd_data_acked - (c->local_idsn + 1);
	if (m->mptcpi_bytes_acked > queued)
		m->mptcpi_bytes_acked = queued; /* the DATA_FIN's number */
	m->mptcpi_bytes_received = c->rcv_data_nxt - (c->remote_idsn + 1);
}

int skiff__mptcp_sf_query(const struct tcp_pcb *pcb, bool asked, const struct skiff_mptcp_sf *sf,
			  struct skiff_mptcp_status *st, struct skiff_mptcp_info *info)
{
	memset(st, 0, sizeof(*st));
	if (info)
		memset(info, 0, sizeof(*info));
	if (!asked) {
		st->mode = SKIFF_MPTCP_MODE_TCP;
		return 0;
	}
	if (!pcb)
		return -ENOTCONN;
	st->mode = SKIFF_MPTCP_MODE_PENDING;
	if (pcb->state == CLOSED || pcb->state == LISTEN)
		return 0;
	st->subflows = 1 + (sf && sf->conn ? joins(sf->conn) : 0);
	/* A checksum failure (RFC 8684 3.7): TCP from then on, as on Linux. */
	if (!sf || sf->phase == SKIFF_MPTCP_FIXED || sf->phase == SKIFF_MPTCP_FALLBACK ||
	    sf->conn->fb.failed) {
		st->mode = SKIFF_MPTCP_MODE_FALLBACK;
		return 0;
	}
	st->token = sf->conn->local_token;
	if (sf->phase == SKIFF_MPTCP_EST) {
		st->mode = SKIFF_MPTCP_MODE_ACTIVE;
		st->peer_token = sf->conn->remote_token;
	}
	if (info)
		conn_info(pcb, sf, info);
	return 0;
}

/* ---- a test's view of the connection (skiff_testing.h) ----------------------------- */

static void dump_sf(const char *what, const struct skiff_mptcp_conn *c,
		    const struct skiff_mptcp_sf *sf)
{
	const struct tcp_pcb *p = skiff__mptcp_sf_pcb(c, sf);

	if (!p) {
		fprintf(stderr, "    %s: no pcb\n", what);
		return;
	}
	fprintf(stderr,
		"    %s: phase %d state %d stale %d closing %d backup %d/%d nrtx %u persist %u/%u "
		"snd_wnd %u cwnd %u queued %u unsent %s unacked %s sndbuf %u srtt %u us extents "
		"%u rto %d; snd_nxt %+d, first unsent %+d, flags %#x\n",
		what, (int)sf->phase, (int)p->state, sf->stale, sf->closing, sf->backup,
		sf->lbackup, (unsigned)p->nrtx, (unsigned)p->persist_backoff,
		(unsigned)p->persist_probe, (unsigned)p->snd_wnd, (unsigned)p->cwnd,
		(unsigned)(p->snd_lbb - p->lastack), p->unsent ? "yes" : "no",
		p->unacked ? "yes" : "no", (unsigned)tcp_sndbuf(p), (unsigned)sf->srtt_us,
		sf->nsmap, (int)p->rto, (int)(p->snd_nxt - p->lastack),
		p->unsent ? (int)(lwip_ntohl(p->unsent->tcphdr->seqno) - p->lastack) : 0,
		(unsigned)p->flags);
}

static void dump_conn(struct skiff_mptcp_conn *c, void *arg)
{
	unsigned nrtx = 0, pending = 0;

	(void)arg;
	for (const struct skiff_mptcp_rtx *r = c->rtx; r; r = r->next) {
		nrtx++;
		pending += !r->reinjected && (!r->sf || r->sf->stale);
	}
	fprintf(stderr,
		"  mptcp dump: token %08x multi %d snd_data_nxt +%llu acked +%llu wnd_end +%llu wr "
		"+%llu fin %d/+%llu app_closed %d joins_closed %d main_rj %d/+%llu rcv_data_nxt "
		"+%llu data_fin_rcvd %d copies %u (%u to reinject) queued %d more %d nooo %u\n",
		(unsigned)c->local_token, c->multi,
		(unsigned long long)(c->snd_data_nxt - c->local_idsn),
		(unsigned long long)(c->snd_data_acked - c->local_idsn),
		(unsigned long long)(c->wnd_end - c->local_idsn),
		(unsigned long long)(c->wr_dsn - c->local_idsn), c->fin_queued,
		(unsigned long long)(c->fin_dsn - c->local_idsn), c->app_closed, c->joins_closed,
		c->main_rj, (unsigned long long)(c->main_rj_dsn - c->local_idsn),
		(unsigned long long)(c->rcv_data_nxt - c->remote_idsn), c->data_fin_rcvd, nrtx,
		pending, c->reinject_queued, c->reinject_more, c->nooo);
	if (c->main_sf)
		dump_sf("first", c, c->main_sf);
	else
		fprintf(stderr, "    first: gone\n");
	for (const struct skiff_mptcp_sf *j = c->joins; j; j = j->next)
		dump_sf("join", c, j);
}

void skiff__mptcp_dump(int fd)
{
	struct skiff_sock *s = skiff__sock_get(fd);
	const struct skiff_mptcp_sf *sf;

	if (!s || s->kind != SKIFF_SK_TCP || !s->pcb.tcp ||
	    !(sf = skiff__mptcp_sf_of(s->pcb.tcp)) || !sf->conn) {
		fprintf(stderr, "  mptcp dump: no MPTCP connection on %d\n", fd);
		return;
	}
	fprintf(stderr, "  mptcp dump: tx_limit %zu\n", skiff__mptcp_tx_limit(s->pcb.tcp));
	dump_conn(sf->conn, NULL);
}

void skiff__mptcp_dump_all(void)
{
	skiff__mptcp_each_conn(dump_conn, NULL);
}
