/* The TCP glue: lwIP's raw-API callbacks turned into socket state (data
 * queued, ACKs releasing zero-copy buffers, errors, handshakes finished on
 * a listener), and the pcb's life on behalf of a socket: attach and detach,
 * listen, the accept queue, close and abort.
 *
 * lwIP frees a pcb on its own (RST, timeouts, TIME_WAIT's end): the destroy
 * callback of the ext arg slot is the one notice every pcb gets, whatever
 * ended it, and the socket lets go of the pcb there. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "instance.h"
#include "listenq.h"
#include "mptcp.h"
#include "ooseq.h"
#include "sock.h"
#include "tcpglue.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"

uint8_t skiff__ext_sock_id = LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID;

static void pcb_destroyed(u8_t id, void *data);

static const struct tcp_ext_arg_callbacks sock_ext_callbacks = {.destroy = pcb_destroyed};
static const struct tcp_ext_arg_callbacks no_ext_callbacks = {0};

void skiff__tcpglue_init(void)
{
	if (skiff__ext_sock_id == LWIP_TCP_PCB_NUM_EXT_ARG_ID_INVALID)
		skiff__ext_sock_id = tcp_ext_arg_alloc_id();
}

bool skiff__tcp_writable(const struct tcp_pcb *pcb)
{
	/* An MPTCP connection's joins take plain sends too, within the
	 * connection's window. */
	if (pcb->skiff_flags & SKIFF_PCB_MPTCP)
		return skiff__mptcp_writable(pcb);
	return tcp_sndbuf(pcb) > TCP_SNDLOWAT && tcp_sndqueuelen(pcb) < TCP_SNDQUEUELOWAT;
}

err_t skiff__tcp_write(struct tcp_pcb *pcb, const void *data, u16_t len, u8_t flags)
{
	bool mptcp = pcb->skiff_flags & SKIFF_PCB_MPTCP;
	struct tcp_seg *last = NULL;
	err_t e;

	/* An MPTCP subflow records each write's data-level mapping: without
	 * room for it, the write waits (as for a full send buffer). The
	 * segments the write fills, from the last one queued before it,
	 * carry it in their frames' MPTCP extensions. */
	if (mptcp && !skiff__mptcp_may_write(pcb))
		return ERR_MEM;
	if (mptcp && pcb->unsent)
		last = tcp_unsent_last(pcb);
	e = tcp_write(pcb, data, len, flags);
	if (e == ERR_OK && mptcp)
		skiff__mptcp_wrote(pcb, (flags & TCP_WRITE_FLAG_COPY) ? data : NULL, len, last);
	return e;
}

void skiff__tcp_notify_pcb(struct tcp_pcb *pcb)
{
	struct skiff_sock *s = pcb->callback_arg;

	if (s && s->pcb.tcp == pcb)
		skiff__notify(s);
}

int skiff__sock_error(struct skiff_sock *s, bool for_send)
{
	int e = s->err;

	if (e) {
		s->err = 0;
		return -e;
	}
	if (s->state == SKIFF_TS_DEAD)
		return for_send ? -EPIPE : 0;
	return 0;
}

/* ---- lwIP's callbacks ----------------------------------------------------- */

static bool move_on(struct skiff_sock *s, bool purged);

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct skiff_sock *s = arg;

	(void)err;
	if (!p) {
		/* MPTCP: the peer's FIN closes the first subflow, not the
		 * connection (3.3.3; Linux's path manager removing its
		 * address): while we may still send, a join carries on, the
		 * socket moves onto it, and the old subflow closes our side
		 * too. The end of the peer's data is its DATA_FIN, read on
		 * whichever subflow reaches it (skiff__mptcp_rcv_eof()). */
		if (s && s->pcb.tcp == pcb && skiff__mptcp_subflow_fin(pcb) && move_on(s, false)) {
			skiff__s.stats.mptcp_main_fin_moved++;
			skiff__tcp_close_pcb(pcb);
			return ERR_OK;
		}
		/* Our FIN is queued already (no moving then): the joins carry
		 * what the first subflow holds and the DATA_FIN; the socket
		 * stays, its end of data still the DATA_FIN. */
		if (s && s->pcb.tcp == pcb && skiff__mptcp_main_peer_fin(pcb))
			return ERR_OK;
		if (s) {
			s->rd_eof = true;
			skiff__notify(s);
		}
		return ERR_OK;
	}
	/* MPTCP: bytes the connection has already (the peer sent them again)
	 * go no further. */
	p = skiff__mptcp_recv(pcb, p);
	if (!p)
		return ERR_OK;
	if (!s || s->rd_shut || s->app_closed) {
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	skiff__rxq_append(&s->rx, p);
	/* MPTCP's DATA_FIN ends the data without the subflow's FIN. */
	if (skiff__mptcp_rcv_eof(pcb))
		s->rd_eof = true;
	skiff__notify(s);
	return ERR_OK;
}

void skiff__tcp_recved(struct tcp_pcb *pcb, size_t n)
{
	while (n) {
		u16_t k = n > 0xffff ? 0xffff : (u16_t)n;

		tcp_recved(pcb, k);
		n -= k;
	}
}

bool skiff__tcp_deliver(struct tcp_pcb *pcb, struct pbuf *p)
{
	struct skiff_sock *s = pcb->callback_arg;

	if (!s || s->pcb.tcp != pcb || s->rd_shut || s->app_closed)
		return false;
	skiff__rxq_append(&s->rx, p);
	skiff__notify(s);
	return true;
}

size_t skiff__tcp_unread(const struct tcp_pcb *pcb)
{
	const struct skiff_sock *s = pcb->callback_arg;

	return s && s->pcb.tcp == pcb ? skiff__rxq_bytes(&s->rx) : 0;
}

void skiff__tcp_peer_eof(struct tcp_pcb *pcb)
{
	struct skiff_sock *s = pcb->callback_arg;

	if (!s || s->pcb.tcp != pcb || s->rd_eof)
		return;
	s->rd_eof = true;
	skiff__notify(s);
}

void skiff__tcp_reset_by_peer(struct tcp_pcb *pcb)
{
	tcp_err_fn errf = pcb->errf;
	void *arg = pcb->callback_arg;

	/* As lwIP does for a RST taken in: the error callback after the pcb
	 * is freed, with ERR_RST (tcp_abort() would say ERR_ABRT). */
	tcp_err(pcb, NULL);
	tcp_abort(pcb);
	if (errf)
		errf(arg, ERR_RST);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct skiff_sock *s = arg;

	/* lwIP 2.2.1 stops the persist timer only when it sends: a zero-window
	 * probe that carried the whole queue, once ACKed, leaves it ticking
	 * over nothing (and its debug builds assert in tcp_slowtmr). */
	if (!pcb->unsent && !pcb->unacked)
		pcb->persist_backoff = 0;
	if (!s)
		return ERR_OK;
	skiff__recovery_acked(s, pcb, len);
	skiff__zc_release_acked(s);
	if (!s->app_closed && skiff__tcp_writable(pcb))
		skiff__notify(s);
	return ERR_OK;
}

static void detach(struct tcp_pcb *pcb);

/* MPTCP: the socket's first subflow is dying (@p purged: lwIP freed its
 * segments already). When a join carries the connection on, the socket
 * moves onto it: its congestion control and recovery start afresh there
 * (the join's segments carry their send times), its zero-copy sends
 * complete (their bytes are in skiff's copies). */
static bool move_on(struct skiff_sock *s, bool purged)
{
	struct tcp_pcb *old = s->pcb.tcp, *next;
	u32_t ts_floor = s->rec.ts_floor;

	if (!old || !s->opt.mptcp || s->app_closed || !skiff__mptcp_handover(old, purged, &next))
		return false;
	detach(old);
	skiff__zc_release_moved(s);
	memset(&s->rec, 0, sizeof(s->rec));
	s->rec.ts_floor = ts_floor;
	s->cc.algo = SKIFF_CC_UNSET;
	skiff__tcp_attach(s, next);
	s->moved_err = purged;
	skiff__notify(s);
	return true;
}

bool skiff__tcp_subflow_reset(struct tcp_pcb *pcb)
{
	struct skiff_sock *s = pcb->callback_arg;

	if (!s || s->pcb.tcp != pcb || !move_on(s, false))
		return false;
	tcp_abort(pcb);
	return true;
}

static void on_err(void *arg, err_t err)
{
	struct skiff_sock *s = arg;

	if (!s)
		return;
	if (s->moved_err) {
		s->moved_err = false;
		return; /* the first subflow's, which the socket left */
	}
	/* A RST comes before lwIP frees the pcb (its segments still there). */
	if (err == ERR_RST && s->state == SKIFF_TS_CONNECTED && move_on(s, false))
		return;
	/* The pcb is gone (or going): never touch it again. */
	s->pcb.tcp = NULL;
	switch (err) {
	case ERR_RST:
		s->dead_err = s->state == SKIFF_TS_CONNECTING ? ECONNREFUSED : ECONNRESET;
		break;
	case ERR_ABRT:
		/* We clear this callback before aborting ourselves: this is
		 * lwIP giving up (retransmissions, keepalive, SYN timeout). */
		s->dead_err = ETIMEDOUT;
		break;
	case ERR_CLSD:
		s->dead_err = 0; /* closed both ways, in order */
		break;
	default:
		s->dead_err = skiff__errno(err);
		break;
	}
	if (s->state == SKIFF_TS_CONNECTING && s->dead_err == ECONNREFUSED)
		skiff__s.stats.tcp_conn_refused++;
	s->err = s->dead_err;
	s->state = SKIFF_TS_DEAD;
	skiff__notify(s);
}

static void pcb_destroyed(u8_t id, void *data)
{
	struct skiff_sock *s = data;

	(void)id;
	if (!s)
		return;
	/* lwIP gave the connection up (retransmissions, keepalive): an error
	 * report follows this free. */
	if (s->state == SKIFF_TS_CONNECTED && move_on(s, true))
		return;
	s->pcb.tcp = NULL;
	if (s->state != SKIFF_TS_DEAD && s->state != SKIFF_TS_NEW)
		s->state = SKIFF_TS_DEAD;
	/* Nothing references the zero-copy buffers any more; any not released
	 * by an ACK never made it. */
	skiff__zc_release_all(s, s->zc.q_len > 0);
	skiff__notify(s);
	skiff__sock_maybe_free(s);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct skiff_sock *s = arg;

	(void)err;
	if (!s)
		return ERR_OK;
	s->state = SKIFF_TS_CONNECTED;
	skiff__addrs_snapshot(s, pcb);
	skiff__recovery_established(s, pcb);
	skiff__notify(s);
	return ERR_OK;
}

/* How long corked data waits at most: Linux's ceiling on TCP_CORK. */
#define CORK_MAX_MS 200u

/* lwIP's poll, at each slow-timer visit of the pcb (one with data queued
 * is visited every tick), outputs what is queued when this says ERR_OK.
 * A corked socket's data waits for the uncork, a segment in (lwIP outputs
 * after each; Nagle may still hold a short segment while data is in
 * flight), a full send buffer (skiff__send_holds()), or CORK_MAX_MS from
 * the poll that first found it waiting (a send onto an empty queue starts
 * the count again: skiff__send_begin()). */
static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
	struct skiff_sock *s = arg;
	uint32_t now;

	if (!s)
		return ERR_OK;
	if (!s->opt.cork || !pcb->unsent) {
		s->opt.corked_ms = 0;
		return ERR_OK;
	}
	now = (uint32_t)skiff__now_ms();
	if (!s->opt.corked_ms) {
		s->opt.corked_ms = now | 1u; /* (| 1: set; a millisecond late at most) */
		return ERR_INPROGRESS;
	}
	if ((int32_t)(now - s->opt.corked_ms) < (int32_t)CORK_MAX_MS)
		return ERR_INPROGRESS;
	s->opt.corked_ms = 0;
	return ERR_OK;
}

void skiff__send_begin(struct skiff_sock *s, const struct tcp_pcb *pcb)
{
	if (!pcb->unsent)
		s->opt.corked_ms = 0;
}

bool skiff__send_holds(const struct skiff_sock *s, const struct tcp_pcb *pcb, int flags)
{
	return ((flags & MSG_MORE) || s->opt.cork) && tcp_sndbuf(pcb);
}

/* ---- attach and detach --------------------------------------------------- */

void skiff__tcp_attach(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	s->pcb.tcp = pcb;
	tcp_arg(pcb, s);
	if (pcb->state != LISTEN) {
		/* (A listener's pcb is the smaller tcp_pcb_listen: no rcv_nxt.) */
		skiff__ack_sent(&s->ack, pcb->rcv_nxt); /* the handshake ACKed it */
		tcp_recv(pcb, on_recv);
		tcp_sent(pcb, on_sent);
		tcp_err(pcb, on_err);
		tcp_poll(pcb, on_poll, 0); /* 0: every visit, as before */
	}
	tcp_ext_arg_set(pcb, skiff__ext_sock_id, s);
	tcp_ext_arg_set_callbacks(pcb, skiff__ext_sock_id, &sock_ext_callbacks);
}

/* Detaches @p pcb from its socket so that no callback reaches it again
 * (lwIP calls the error callback after freeing, with the old argument). */
static void detach(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	if (pcb->state != LISTEN) {
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
		tcp_poll(pcb, NULL, 0);
	}
	tcp_ext_arg_set(pcb, skiff__ext_sock_id, NULL);
}

struct tcp_pcb *skiff__tcp_new_pcb(struct skiff_sock *s)
{
	struct tcp_pcb *pcb =
		tcp_new_ip_type(s->domain == AF_INET6 ? IPADDR_TYPE_ANY : IPADDR_TYPE_V4);

	if (pcb)
		skiff__tcp_attach(s, pcb);
	return pcb;
}

err_t skiff__tcp_connect(struct skiff_sock *s, const ip_addr_t *ip, u16_t port)
{
	/* An MPTCP socket offers MP_CAPABLE on its SYN (without memory for
	 * that, plain TCP). */
	if (s->opt.mptcp)
		skiff__mptcp_connect(s->pcb.tcp);
	return tcp_connect(s->pcb.tcp, ip, port, on_connected);
}

/* ---- listen and accept ------------------------------------------------------ */

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct skiff_sock *ls = arg, *c;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	skiff__listenq_established(pcb);
	/* An MPTCP connection's further subflow (MP_JOIN): the connection
	 * takes it, no socket is made. */
	if (skiff__mptcp_accept_join(pcb))
		return ERR_OK;
	/* (The backlog is lwIP's to keep, in accepts_pending; connections made
	 * from SYN cookies may pass it, listenq.c.) */
	if (!ls || ls->app_closed || ls->state != SKIFF_TS_LISTEN) {
		skiff__s.stats.tcp_accept_backlog_drop++;
		tcp_arg(pcb, NULL);
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	c = skiff__sock_alloc(SKIFF_SK_TCP);
	if (!c) {
		tcp_arg(pcb, NULL);
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	c->domain = ls->domain;
	c->opt = ls->opt;
	c->opt.nonblock = false;
	c->opt.linger_abort = false;
	c->state = SKIFF_TS_CONNECTED;
	c->aq.listener = ls;
	skiff__listenq_established(pcb);
	skiff__tcp_attach(c, pcb);
	skiff__addrs_snapshot(c, pcb);
	skiff__recovery_established(c, pcb);
	if (c->opt.nodelay)
		tcp_nagle_disable(pcb);
	/* Counted against the backlog until accept() takes it. */
	tcp_backlog_delayed(pcb);
	if (ls->aq.tail)
		ls->aq.tail->aq.next = c;
	else
		ls->aq.head = c;
	ls->aq.tail = c;
	ls->aq.len++;
	skiff__notify(ls);
	return ERR_OK;
}

int skiff__tcp_listen(struct skiff_sock *s, int backlog)
{
	struct tcp_pcb *pcb = s->pcb.tcp, *lpcb;
	err_t err = ERR_OK;

	if (s->state == SKIFF_TS_LISTEN) {
		s->aq.backlog = (unsigned)backlog;
		tcp_backlog_set(pcb, (u16_t)backlog);
		return 0;
	}
	if (!pcb->local_port) {
		ip_addr_t any;

		ip_addr_set_zero(&any);
		if (s->domain == AF_INET6)
			ip_addr_copy(any, *IP6_ADDR_ANY);
		err = tcp_bind(pcb, skiff__bind_addr(s, &any), 0);
		if (err != ERR_OK)
			return -skiff__errno(err);
	}
	/* tcp_listen() frees the pcb (running its destroy callbacks) and
	 * makes a smaller one: unhook first, hook the new one after. */
	tcp_ext_arg_set_callbacks(pcb, skiff__ext_sock_id, &no_ext_callbacks);
	lpcb = tcp_listen_with_backlog_and_err(pcb, (u16_t)backlog, &err);
	if (!lpcb) {
		tcp_ext_arg_set_callbacks(pcb, skiff__ext_sock_id, &sock_ext_callbacks);
		return -skiff__errno(err);
	}
	s->aq.backlog = (unsigned)backlog;
	s->state = SKIFF_TS_LISTEN;
	skiff__tcp_attach(s, lpcb);
	tcp_accept(lpcb, on_accept);
	skiff__addrs_snapshot(s, lpcb);
	return 0;
}

struct skiff_sock *skiff__tcp_accept_next(struct skiff_sock *ls)
{
	struct skiff_sock *c = ls->aq.head;

	if (!c)
		return NULL;
	ls->aq.head = c->aq.next;
	if (!ls->aq.head)
		ls->aq.tail = NULL;
	ls->aq.len--;
	c->aq.next = NULL;
	c->aq.listener = NULL;
	if (c->pcb.tcp)
		tcp_backlog_accepted(c->pcb.tcp);
	return c;
}

/* ---- close and abort ------------------------------------------------------- */

void skiff__tcp_abort(struct skiff_sock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;

	if (!pcb)
		return;
	skiff__mptcp_closing(pcb, true);
	/* lwIP runs the error callback after freeing: keep it away from s. */
	tcp_err(pcb, NULL);
	tcp_abort(pcb); /* the destroy callback detaches s */
}

/* A listener going: connections it queued, and handshakes under way that
 * point at it, are reset. */
static void close_listener(struct skiff_sock *s)
{
	while (s->aq.head) {
		struct skiff_sock *c = s->aq.head;

		s->aq.head = c->aq.next;
		c->aq.next = NULL;
		c->aq.listener = NULL;
		c->app_closed = true;
		c->pins++;
		skiff__rxq_drop(&c->rx);
		skiff__tcp_abort(c);
		c->pins--;
		skiff__sock_maybe_free(c);
	}
	s->aq.tail = NULL;
	s->aq.len = 0;
	if (s->pcb.tcp) {
		skiff__listenq_abort_half_open((struct tcp_pcb_listen *)s->pcb.tcp);
		tcp_close(s->pcb.tcp); /* a listener goes at once (destroy callback) */
	}
}

void skiff__tcp_close(struct skiff_sock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;

	if (s->state == SKIFF_TS_LISTEN) {
		close_listener(s);
		return;
	}
	skiff__zc_sock_close(s);
	if (!pcb)
		return;
	/* Unread data or SO_LINGER {1, 0}: reset, as Linux does. */
	if (s->opt.linger_abort || skiff__rxq_bytes(&s->rx)) {
		skiff__rxq_drop(&s->rx);
		skiff__tcp_abort(s);
		return;
	}
	skiff__rxq_drop(&s->rx);
	skiff__ooseq_drop(pcb);
	/* The pcb lives on (FIN_WAIT, TIME_WAIT) without us: only the sent
	 * callback (zero-copy buffers) and the destroy callback still come. */
	tcp_err(pcb, NULL);
	tcp_recv(pcb, NULL);
	/* An MPTCP connection may keep its first subflow open a while: it
	 * closes it itself (skiff__tcp_close_pcb()). */
	if (!skiff__mptcp_closing(pcb, false))
		skiff__tcp_close_pcb(pcb);
}

void skiff__tcp_close_pcb(struct tcp_pcb *pcb)
{
	skiff__timer_arm(pcb);
	if (tcp_close(pcb) != ERR_OK) {
		struct skiff_sock *s = pcb->callback_arg;

		if (s && s->pcb.tcp == pcb)
			skiff__tcp_abort(s);
		else
			tcp_abort(pcb);
	}
}

/* A socket that never got a descriptor goes without a word to the peer. */
void skiff__tcp_discard(struct skiff_sock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;

	if (!pcb)
		return;
	detach(pcb);
	s->pcb.tcp = NULL;
	skiff__mptcp_closing(pcb, false);
	tcp_close(pcb);
}
