/* The socket-replacement API over lwIP's raw TCP and UDP calls: a table of
 * descriptors, lwIP's callbacks turned into socket state, and POSIX errno
 * semantics (blocking calls drive skiff_poll() until they can finish). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* <netinet/tcp.h>'s TCP_MSS (512, a socket option of old) is not lwIP's. */
#undef TCP_MSS

#include "skiff_internal.h"

#include "lwip/priv/tcp_priv.h"

/* Error code and -1, the way the POSIX calls return. */
#define FAIL(e)                                                                                    \
	do {                                                                                       \
		errno = (e);                                                                       \
		return -1;                                                                         \
	} while (0)

static void sock_pcb_destroyed(u8_t id, void *data);

static const struct tcp_ext_arg_callbacks sock_ext_callbacks = {.destroy = sock_pcb_destroyed};
static const struct tcp_ext_arg_callbacks no_ext_callbacks = {0};

/* ---- the table ------------------------------------------------------------ */

struct skiff_sock *skiff__sock_get(int fd, int *err)
{
	struct skiff_stack *st = &skiff__s;

	if (!st->up || fd < 0 || (uint32_t)fd >= st->cfg.max_sockets || !st->socks[fd]) {
		*err = EBADF;
		return NULL;
	}
	return st->socks[fd];
}

struct skiff_sock *skiff__sock_alloc(enum skiff_sock_kind kind)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_sock *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fd = -1;
	s->zc_fd = -1;
	s->kind = kind;
	s->rcvtimeo_ms = -1;
	s->sndtimeo_ms = -1;
	s->all_next = st->all_socks;
	if (st->all_socks)
		st->all_socks->all_prev = s;
	st->all_socks = s;
	st->live_socks++;
	return s;
}

/* The lowest free descriptor, as POSIX hands them out. */
int skiff__fd_install(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;

	for (uint32_t fd = st->free_hint; fd < st->cfg.max_sockets; fd++) {
		if (!st->socks[fd]) {
			st->socks[fd] = s;
			st->free_hint = fd + 1;
			s->fd = (int)fd;
			s->zc_fd = (int)fd;
			return (int)fd;
		}
	}
	return -EMFILE;
}

static void fd_release(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;

	if (s->fd < 0)
		return;
	st->socks[s->fd] = NULL;
	if ((uint32_t)s->fd < st->free_hint)
		st->free_hint = (uint32_t)s->fd;
	s->fd = -1;
}

static void rx_drop_all(struct skiff_sock *s)
{
	while (s->rx_head) {
		struct pbuf *p = s->rx_head;

		s->rx_head = p->next;
		p->next = NULL;
		pbuf_free(p);
	}
	s->rx_tail = NULL;
	s->rx_off = 0;
	s->rx_bytes = 0;
}

static void dq_drop_all(struct skiff_sock *s)
{
	while (s->dq_head) {
		struct skiff_dgram *d = s->dq_head;

		s->dq_head = d->next;
		pbuf_free(d->p);
		free(d);
	}
	s->dq_tail = NULL;
	s->dq_len = 0;
}

void skiff__sock_maybe_free(struct skiff_sock *s)
{
	struct skiff_stack *st = &skiff__s;

	if (!s->app_closed || s->pins || s->fd >= 0 || s->pcb.tcp || skiff__zc_busy(s))
		return;
	rx_drop_all(s);
	dq_drop_all(s);
	skiff__batch_forget(s);
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		st->all_socks = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	st->live_socks--;
	free(s->zr);
	free(s);
}

/* ---- addresses ------------------------------------------------------------- */

static int sockaddr_to_ip(const struct skiff_sock *s, const struct sockaddr *sa, socklen_t len,
			  ip_addr_t *ip, u16_t *port)
{
	if (!sa)
		return EFAULT;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		if (len < sizeof(*in))
			return EINVAL;
		if (s->domain == AF_INET6)
			return EAFNOSUPPORT;
		ip_addr_set_ip4_u32_val(*ip, in->sin_addr.s_addr);
		*port = lwip_ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (len < sizeof(*in6))
			return EINVAL;
		if (s->domain != AF_INET6)
			return EAFNOSUPPORT;
		*port = lwip_ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			uint32_t v4;

			if (s->v6only)
				return EAFNOSUPPORT;
			memcpy(&v4, in6->sin6_addr.s6_addr + 12, 4);
			ip_addr_set_ip4_u32_val(*ip, v4);
			return 0;
		}
		IP_SET_TYPE_VAL(*ip, IPADDR_TYPE_V6);
		memcpy(ip_2_ip6(ip)->addr, in6->sin6_addr.s6_addr, 16);
		/* One netif, so no zones (LWIP_IPV6_SCOPES is off): the scope
		 * id of a link-local address is not needed. */
		return 0;
	}
	return EAFNOSUPPORT;
}

static void ip_to_sockaddr(const struct skiff_sock *s, const ip_addr_t *ip, u16_t port,
			   struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t n;

	memset(&ss, 0, sizeof(ss));
	if (s->domain == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = lwip_htons(port);
		in->sin_addr.s_addr = IP_IS_V4(ip) ? ip4_addr_get_u32(ip_2_ip4(ip)) : 0;
		n = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = lwip_htons(port);
		if (IP_IS_V4(ip)) {
			uint32_t v4 = ip4_addr_get_u32(ip_2_ip4(ip));

			/* v4-mapped, unless it is the unspecified address */
			if (v4) {
				in6->sin6_addr.s6_addr[10] = 0xff;
				in6->sin6_addr.s6_addr[11] = 0xff;
				memcpy(in6->sin6_addr.s6_addr + 12, &v4, 4);
			}
		} else {
			memcpy(in6->sin6_addr.s6_addr, ip_2_ip6(ip)->addr, 16);
			if (ip6_addr_islinklocal(ip_2_ip6(ip)))
				in6->sin6_scope_id = netif_get_index(&skiff__s.netif);
		}
		n = sizeof(*in6);
	}
	if (sa && len) {
		memcpy(sa, &ss, *len < n ? *len : n);
		*len = n;
	}
}

static void snapshot_addrs(struct skiff_sock *s, const struct tcp_pcb *pcb)
{
	ip_addr_copy(s->laddr, pcb->local_ip);
	s->lport = pcb->local_port;
	if (pcb->state != LISTEN) {
		ip_addr_copy(s->raddr, pcb->remote_ip);
		s->rport = pcb->remote_port;
	}
}

/* ---- lwIP's TCP callbacks ------------------------------------------------------ */

static bool tcp_writable(const struct tcp_pcb *pcb)
{
	return tcp_sndbuf(pcb) > TCP_SNDLOWAT && tcp_sndqueuelen(pcb) < TCP_SNDQUEUELOWAT;
}

static void rx_append(struct skiff_sock *s, struct pbuf *p)
{
	p->next = NULL;
	p->tot_len = p->len;
	if (s->rx_tail)
		s->rx_tail->next = p;
	else
		s->rx_head = p;
	s->rx_tail = p;
	s->rx_bytes += p->len;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct skiff_sock *s = arg;

	(void)err;
	if (!p) {
		if (s) {
			s->rd_eof = true;
			skiff__notify(s);
		}
		return ERR_OK;
	}
	if (!s || s->rd_shut || s->app_closed) {
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	/* Kept as single pbufs: a queue may hold more than a pbuf chain's
	 * 16-bit length can count. */
	while (p) {
		struct pbuf *next = p->next;

		if (p->len)
			rx_append(s, p);
		else {
			p->next = NULL;
			pbuf_free(p);
		}
		p = next;
	}
	skiff__notify(s);
	return ERR_OK;
}

/* New data was ACKed during fast recovery (lwIP, being Reno, has just left
 * it). A full ACK ends the episode. A partial one (below what was sent when
 * it began) means more holes: resend what the SACK scoreboard shows lost,
 * or without SACK the next segment, as NewReno does (RFC 6582 3.2 step 3),
 * and stay in recovery instead of stalling until an RTO. */
static void partial_ack(struct skiff_sock *s, struct tcp_pcb *pcb, u16_t acked)
{
	if (!s->in_recovery)
		return;
	if ((pcb->flags & TF_RTO) || TCP_SEQ_GEQ(pcb->lastack, s->recover) || !pcb->unacked) {
		s->in_recovery = false;
		return;
	}
	tcp_set_flags(pcb, TF_INFR);
	pcb->rtime = 0;
	if (skiff__sack_recover(s, pcb))
		return;
	if (TCP_SEQ_LT(lwip_ntohl(pcb->unacked->tcphdr->seqno), s->rexmit_high))
		return; /* resent already in this episode: its fate is the RTO's */
	if (tcp_rexmit(pcb) != ERR_OK)
		return;
	s->rexmit_high = lwip_ntohl(pcb->unsent->tcphdr->seqno) + TCP_TCPLEN(pcb->unsent);
	s->rexmit_mark = pcb->snd_nxt;
	/* Deflate by what was ACKed, add back one segment (RFC 6582). */
	pcb->cwnd = pcb->cwnd > acked ? (tcpwnd_size_t)(pcb->cwnd - acked) : pcb->mss;
	TCP_WND_INC(pcb->cwnd, pcb->mss);
	skiff__s.st.tcp_partial_acks++;
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
	partial_ack(s, pcb, len);
	skiff__zc_release_acked(s);
	if (!s->app_closed && tcp_writable(pcb))
		skiff__notify(s);
	return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
	struct skiff_sock *s = arg;

	if (!s)
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
		skiff__s.st.tcp_conn_refused++;
	s->err = s->dead_err;
	s->state = SKIFF_TS_DEAD;
	skiff__notify(s);
}

/* lwIP frees a pcb: the one notice every pcb gets, whatever ended it. */
static void sock_pcb_destroyed(u8_t id, void *data)
{
	struct skiff_sock *s = data;

	(void)id;
	if (!s)
		return;
	s->pcb.tcp = NULL;
	if (s->state != SKIFF_TS_DEAD && s->state != SKIFF_TS_NEW)
		s->state = SKIFF_TS_DEAD;
	/* Nothing references the zero-copy buffers any more; any not released
	 * by an ACK never made it. */
	skiff__zc_release_all(s, s->zq_len > 0);
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
	snapshot_addrs(s, pcb);
	skiff__notify(s);
	return ERR_OK;
}

void skiff__tcp_attach(struct skiff_sock *s, struct tcp_pcb *pcb)
{
	s->pcb.tcp = pcb;
	tcp_arg(pcb, s);
	if (pcb->state != LISTEN) {
		/* (A listener's pcb is the smaller tcp_pcb_listen: no rcv_nxt.) */
		s->ack_sent = pcb->rcv_nxt; /* the handshake ACKed it */
		tcp_recv(pcb, on_recv);
		tcp_sent(pcb, on_sent);
		tcp_err(pcb, on_err);
	}
	tcp_ext_arg_set(pcb, skiff__ext_sock_id, s);
	tcp_ext_arg_set_callbacks(pcb, skiff__ext_sock_id, &sock_ext_callbacks);
}

/* Detaches @p pcb from its socket so that no callback reaches it again
 * (lwIP calls the error callback after freeing, with the old argument). */
static void tcp_detach(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	if (pcb->state != LISTEN) {
		tcp_recv(pcb, NULL);
		tcp_sent(pcb, NULL);
		tcp_err(pcb, NULL);
	}
	tcp_ext_arg_set(pcb, skiff__ext_sock_id, NULL);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct skiff_sock *ls = arg, *c;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	if (!ls || ls->app_closed || ls->state != SKIFF_TS_LISTEN || ls->aq_len >= ls->backlog) {
		skiff__s.st.tcp_accept_backlog_drop++;
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
	c->v6only = ls->v6only;
	c->state = SKIFF_TS_CONNECTED;
	c->require_secpath = ls->require_secpath;
	c->nodelay = ls->nodelay;
	c->rcvtimeo_ms = ls->rcvtimeo_ms;
	c->sndtimeo_ms = ls->sndtimeo_ms;
	c->listener = ls;
	skiff__tcp_attach(c, pcb);
	snapshot_addrs(c, pcb);
	if (c->nodelay)
		tcp_nagle_disable(pcb);
	/* Counted against the backlog until accept() takes it. */
	tcp_backlog_delayed(pcb);
	if (ls->aq_tail)
		ls->aq_tail->aq_next = c;
	else
		ls->aq_head = c;
	ls->aq_tail = c;
	ls->aq_len++;
	skiff__notify(ls);
	return ERR_OK;
}

/* ---- UDP ------------------------------------------------------------------------- */

static void on_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
			u16_t port)
{
	struct skiff_sock *s = arg;
	struct skiff_dgram *d;

	(void)pcb;
	if (!s || s->dq_len >= SKIFF_UDP_RCVQ_MAX || !(d = malloc(sizeof(*d)))) {
		skiff__s.st.udp_rcvq_drop++;
		pbuf_free(p);
		return;
	}
	d->next = NULL;
	d->p = p;
	ip_addr_copy(d->addr, *addr);
	d->port = port;
	if (s->dq_tail)
		s->dq_tail->next = d;
	else
		s->dq_head = d;
	s->dq_tail = d;
	s->dq_len++;
	skiff__notify(s);
}

/* ---- readiness ----------------------------------------------------------------- */

uint32_t skiff__poll_mask(struct skiff_sock *s)
{
	uint32_t m = 0;

	switch (s->kind) {
	case SKIFF_SK_EPOLL:
		return 0;
	case SKIFF_SK_UDP:
		m = EPOLLOUT | EPOLLWRNORM;
		if (s->dq_len)
			m |= EPOLLIN | EPOLLRDNORM;
		break;
	case SKIFF_SK_TCP:
		switch (s->state) {
		case SKIFF_TS_LISTEN:
			if (s->aq_len)
				m |= EPOLLIN | EPOLLRDNORM;
			break;
		case SKIFF_TS_NEW:
			m |= EPOLLOUT | EPOLLHUP;
			break;
		case SKIFF_TS_CONNECTING:
			break;
		case SKIFF_TS_CONNECTED:
			if (s->rx_bytes || s->rd_eof || s->rd_shut)
				m |= EPOLLIN | EPOLLRDNORM;
			if (s->rd_eof)
				m |= EPOLLRDHUP;
			if (s->pcb.tcp && !s->wr_shut && tcp_writable(s->pcb.tcp))
				m |= EPOLLOUT | EPOLLWRNORM;
			if (s->rd_eof && s->wr_shut)
				m |= EPOLLHUP;
			break;
		case SKIFF_TS_DEAD:
			m |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP | EPOLLOUT | EPOLLWRNORM;
			break;
		}
		break;
	}
	if (s->err)
		m |= EPOLLERR;
	if (s->zr_len)
		m |= SKIFF_EPOLLZC;
	return m;
}

int skiff__sock_error(struct skiff_sock *s, bool for_send)
{
	int e = s->err;

	if (e) {
		s->err = 0;
		return e;
	}
	if (s->state == SKIFF_TS_DEAD)
		return for_send ? EPIPE : 0;
	return 0;
}

/* ---- socket, bind, listen, accept, connect ------------------------------------- */

static struct tcp_pcb *new_tcp_pcb(struct skiff_sock *s)
{
	struct tcp_pcb *pcb =
		tcp_new_ip_type(s->domain == AF_INET6 ? IPADDR_TYPE_ANY : IPADDR_TYPE_V4);

	if (pcb)
		skiff__tcp_attach(s, pcb);
	return pcb;
}

int skiff_socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct skiff_sock *s;
	int fd;

	if (!skiff__s.up)
		FAIL(ENETDOWN);
	if (domain != AF_INET && domain != AF_INET6)
		FAIL(EAFNOSUPPORT);
	if (base == SOCK_STREAM) {
		if (protocol && protocol != IPPROTO_TCP)
			FAIL(EPROTONOSUPPORT);
	} else if (base == SOCK_DGRAM) {
		if (protocol && protocol != IPPROTO_UDP)
			FAIL(EPROTONOSUPPORT);
	} else {
		FAIL(EPROTONOSUPPORT);
	}
	s = skiff__sock_alloc(base == SOCK_STREAM ? SKIFF_SK_TCP : SKIFF_SK_UDP);
	if (!s)
		FAIL(ENOMEM);
	s->domain = domain;
	s->nonblock = type & SOCK_NONBLOCK;
	if (base == SOCK_STREAM) {
		if (!new_tcp_pcb(s))
			goto out_free;
	} else {
		s->pcb.udp = udp_new_ip_type(domain == AF_INET6 ? IPADDR_TYPE_ANY : IPADDR_TYPE_V4);
		if (!s->pcb.udp)
			goto out_free;
		udp_recv(s->pcb.udp, on_udp_recv, s);
	}
	fd = skiff__fd_install(s);
	if (fd < 0) {
		s->app_closed = true;
		if (s->kind == SKIFF_SK_TCP) {
			struct tcp_pcb *pcb = s->pcb.tcp;

			tcp_detach(pcb);
			s->pcb.tcp = NULL;
			tcp_close(pcb);
		} else {
			udp_remove(s->pcb.udp);
			s->pcb.udp = NULL;
		}
		skiff__sock_maybe_free(s);
		FAIL(EMFILE);
	}
	return fd;

out_free:
	s->app_closed = true;
	s->pcb.tcp = NULL;
	skiff__sock_maybe_free(s);
	FAIL(ENOBUFS);
}

/* The address to bind for (ip, port): an AF_INET6 wildcard serves both
 * families unless IPV6_V6ONLY. */
static const ip_addr_t *bind_addr(const struct skiff_sock *s, const ip_addr_t *ip)
{
	if (s->domain == AF_INET6 && IP_IS_V6(ip) && ip6_addr_isany(ip_2_ip6(ip)))
		return s->v6only ? IP6_ADDR_ANY : IP_ANY_TYPE;
	return ip;
}

int skiff_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct skiff_sock *s;
	ip_addr_t ip;
	u16_t port;
	err_t err;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	e = sockaddr_to_ip(s, addr, len, &ip, &port);
	if (e)
		FAIL(e);
	/* Only our own addresses (or the wildcard) can be bound. */
	if (!ip_addr_isany(&ip) &&
	    !(IP_IS_V4(&ip) && ip4_addr_eq(ip_2_ip4(&ip), netif_ip4_addr(&skiff__s.netif))) &&
	    !(IP_IS_V6(&ip) && netif_get_ip6_addr_match(&skiff__s.netif, ip_2_ip6(&ip)) >= 0))
		FAIL(EADDRNOTAVAIL);
	if (s->kind == SKIFF_SK_UDP) {
		err = udp_bind(s->pcb.udp, bind_addr(s, &ip), port);
		if (err != ERR_OK)
			FAIL(skiff__errno(err));
		return 0;
	}
	if (s->state != SKIFF_TS_NEW || !s->pcb.tcp || s->pcb.tcp->local_port)
		FAIL(EINVAL);
	err = tcp_bind(s->pcb.tcp, bind_addr(s, &ip), port);
	if (err != ERR_OK)
		FAIL(skiff__errno(err));
	snapshot_addrs(s, s->pcb.tcp);
	return 0;
}

int skiff_listen(int fd, int backlog)
{
	struct tcp_pcb *pcb, *lpcb;
	struct skiff_sock *s;
	err_t err = ERR_OK;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind != SKIFF_SK_TCP)
		FAIL(s->kind == SKIFF_SK_EPOLL ? ENOTSOCK : EOPNOTSUPP);
	if (backlog < 1)
		backlog = 1;
	if (backlog > 255)
		backlog = 255;
	if (s->state == SKIFF_TS_LISTEN) {
		s->backlog = (unsigned)backlog;
		tcp_backlog_set(s->pcb.tcp, (u8_t)backlog);
		return 0;
	}
	if (s->state != SKIFF_TS_NEW || !(pcb = s->pcb.tcp))
		FAIL(EINVAL);
	if (!pcb->local_port) {
		ip_addr_t any;

		ip_addr_set_zero(&any);
		if (s->domain == AF_INET6)
			ip_addr_copy(any, *IP6_ADDR_ANY);
		err = tcp_bind(pcb, bind_addr(s, &any), 0);
		if (err != ERR_OK)
			FAIL(skiff__errno(err));
	}
	/* tcp_listen() frees the pcb (running its destroy callbacks) and
	 * makes a smaller one: unhook first, hook the new one after. */
	tcp_ext_arg_set_callbacks(pcb, skiff__ext_sock_id, &no_ext_callbacks);
	lpcb = tcp_listen_with_backlog_and_err(pcb, (u8_t)backlog, &err);
	if (!lpcb) {
		tcp_ext_arg_set_callbacks(pcb, skiff__ext_sock_id, &sock_ext_callbacks);
		FAIL(skiff__errno(err));
	}
	s->backlog = (unsigned)backlog;
	s->state = SKIFF_TS_LISTEN;
	skiff__tcp_attach(s, lpcb);
	tcp_accept(lpcb, on_accept);
	snapshot_addrs(s, lpcb);
	return 0;
}

int skiff_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	long long deadline;
	struct skiff_sock *s, *c;
	int e, cfd;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind != SKIFF_SK_TCP)
		FAIL(s->kind == SKIFF_SK_EPOLL ? ENOTSOCK : EOPNOTSUPP);
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		FAIL(EINVAL);
	if (s->state != SKIFF_TS_LISTEN)
		FAIL(EINVAL);
	deadline = skiff__deadline(s->rcvtimeo_ms);
	while (!s->aq_head) {
		if (s->nonblock)
			FAIL(EAGAIN);
		e = skiff__wait(deadline);
		if (e == -ETIMEDOUT)
			FAIL(EAGAIN);
		if (e)
			FAIL(-e);
		/* Closed from a callback meanwhile? */
		if (!(s = skiff__sock_get(fd, &e)) || s->state != SKIFF_TS_LISTEN)
			FAIL(EBADF);
	}
	c = s->aq_head;
	cfd = skiff__fd_install(c);
	if (cfd < 0)
		FAIL(EMFILE);
	s->aq_head = c->aq_next;
	if (!s->aq_head)
		s->aq_tail = NULL;
	s->aq_len--;
	c->aq_next = NULL;
	c->listener = NULL;
	c->nonblock = flags & SOCK_NONBLOCK;
	if (c->pcb.tcp)
		tcp_backlog_accepted(c->pcb.tcp);
	if (addr && len)
		ip_to_sockaddr(c, &c->raddr, c->rport, addr, len);
	return cfd;
}

static int connect_wait(struct skiff_sock *s, int fd)
{
	long long deadline = skiff__deadline(s->sndtimeo_ms);
	int e;

	while (s->state == SKIFF_TS_CONNECTING) {
		e = skiff__wait(deadline);
		if (e == -ETIMEDOUT)
			FAIL(EINPROGRESS);
		if (e)
			FAIL(-e);
		if (!(s = skiff__sock_get(fd, &e)))
			FAIL(EBADF);
	}
	if (s->state == SKIFF_TS_CONNECTED)
		return 0;
	e = skiff__sock_error(s, false);
	FAIL(e ? e : ECONNABORTED);
}

int skiff_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct skiff_sock *s;
	ip_addr_t ip;
	u16_t port;
	err_t err;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	e = sockaddr_to_ip(s, addr, len, &ip, &port);
	if (e)
		FAIL(e);
	if (s->kind == SKIFF_SK_UDP) {
		err = udp_connect(s->pcb.udp, &ip, port);
		if (err != ERR_OK)
			FAIL(skiff__errno(err));
		return 0;
	}
	switch (s->state) {
	case SKIFF_TS_CONNECTING:
		FAIL(EALREADY);
	case SKIFF_TS_CONNECTED:
		FAIL(EISCONN);
	case SKIFF_TS_LISTEN:
		FAIL(EINVAL);
	case SKIFF_TS_DEAD:
		/* A failed attempt may be retried with a fresh pcb, as on
		 * Linux; a connection that existed may not. */
		if (s->rport || s->pcb.tcp)
			FAIL(EISCONN);
		s->err = 0;
		s->state = SKIFF_TS_NEW;
		if (!new_tcp_pcb(s))
			FAIL(ENOBUFS);
		break;
	case SKIFF_TS_NEW:
		break;
	}
	if (!port)
		FAIL(ECONNREFUSED);
	if (s->domain == AF_INET6 && s->v6only && IP_IS_V4(&ip))
		FAIL(EAFNOSUPPORT);
	if (s->nodelay)
		tcp_nagle_disable(s->pcb.tcp);
	s->state = SKIFF_TS_CONNECTING;
	err = tcp_connect(s->pcb.tcp, &ip, port, on_connected);
	if (err != ERR_OK) {
		s->state = SKIFF_TS_NEW;
		FAIL(err == ERR_RTE ? ENETUNREACH : skiff__errno(err));
	}
	snapshot_addrs(s, s->pcb.tcp);
	s->rport = 0; /* known once connected */
	if (s->nonblock)
		FAIL(EINPROGRESS);
	return connect_wait(s, fd);
}

/* ---- send and receive ------------------------------------------------------------ */

/* Waits for @p s to be writable or dead; 0, or an errno for the caller. */
static int wait_or_fail(int fd, long long deadline, struct skiff_sock **sp)
{
	int e = skiff__wait(deadline);

	if (e == -ETIMEDOUT)
		return EAGAIN;
	if (e)
		return -e;
	if (!(*sp = skiff__sock_get(fd, &e)))
		return EBADF;
	return 0;
}

/* State checks every TCP send makes; 0 when data may be queued now. */
static int tcp_send_state(struct skiff_sock *s)
{
	switch (s->state) {
	case SKIFF_TS_NEW:
	case SKIFF_TS_LISTEN:
		return ENOTCONN;
	case SKIFF_TS_CONNECTING:
		return EAGAIN;
	case SKIFF_TS_DEAD:
		return skiff__sock_error(s, true);
	case SKIFF_TS_CONNECTED:
		break;
	}
	if (s->err)
		return skiff__sock_error(s, true);
	if (s->wr_shut || !s->pcb.tcp)
		return EPIPE;
	return 0;
}

static ssize_t tcp_send(int fd, struct skiff_sock *s, const uint8_t *buf, size_t len, int flags)
{
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	long long deadline = skiff__deadline(s->sndtimeo_ms);
	size_t sent = 0;
	int e;

	for (;;) {
		e = tcp_send_state(s);
		if (e && !(e == EAGAIN && !nonblock))
			break;
		if (!e) {
			struct tcp_pcb *pcb = s->pcb.tcp;

			while (sent < len) {
				size_t chunk = len - sent, room = tcp_sndbuf(pcb);
				err_t err;

				if (chunk > 0xffff)
					chunk = 0xffff;
				if (chunk > room)
					chunk = room;
				if (!chunk || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4)
					break;
				err = tcp_write(pcb, buf + sent, (u16_t)chunk,
						TCP_WRITE_FLAG_COPY |
							(sent + chunk < len || (flags & MSG_MORE)
								 ? TCP_WRITE_FLAG_MORE
								 : 0));
				if (err == ERR_MEM)
					break;
				if (err != ERR_OK) {
					e = skiff__errno(err);
					goto out;
				}
				sent += chunk;
			}
			if (!(flags & MSG_MORE) || sent < len)
				tcp_output(pcb);
			if (sent == len)
				return (ssize_t)sent;
		}
		if (nonblock) {
			e = EAGAIN;
			break;
		}
		e = wait_or_fail(fd, deadline, &s);
		if (e)
			break;
	}
out:
	if (sent)
		return (ssize_t)sent;
	FAIL(e);
}

/* Copies up to @p len queued bytes to @p buf; consumes them unless @p peek. */
static size_t rx_copy(struct skiff_sock *s, uint8_t *buf, size_t len, bool peek)
{
	struct pbuf *p = s->rx_head;
	uint32_t off = s->rx_off;
	size_t done = 0;

	while (p && done < len) {
		size_t n = p->len - off;

		if (n > len - done)
			n = len - done;
		memcpy(buf + done, (uint8_t *)p->payload + off, n);
		done += n;
		off += (uint32_t)n;
		if (off == p->len) {
			p = p->next;
			off = 0;
		}
	}
	if (!peek) {
		skiff__s.st.rx_recv_copied_bytes += done;
		skiff__rx_consumed(s, done);
	}
	return done;
}

void skiff__rx_consumed(struct skiff_sock *s, size_t n)
{
	size_t left = n;

	while (left && s->rx_head) {
		struct pbuf *p = s->rx_head;
		size_t have = p->len - s->rx_off;

		if (left < have) {
			s->rx_off += (uint32_t)left;
			break;
		}
		left -= have;
		s->rx_head = p->next;
		if (!s->rx_head)
			s->rx_tail = NULL;
		s->rx_off = 0;
		p->next = NULL;
		pbuf_free(p);
	}
	s->rx_bytes -= n;
	/* The window opens as the application reads. */
	if (s->pcb.tcp && s->pcb.tcp->state != LISTEN) {
		n += s->rx_unacked;
		s->rx_unacked = 0;
		/* The window update, if one is due, goes at the next poll
		 * round, unless the application's answer carries it (sack.c). */
		if (n)
			skiff__batch_add(s, SKIFF_BATCH_ACK);
		while (n) {
			u16_t k = n > 0xffff ? 0xffff : (u16_t)n;

			tcp_recved(s->pcb.tcp, k);
			n -= k;
		}
	}
}

/* Received data an application leaves queued pins one UMEM frame per
 * segment, and the fill ring needs frames to receive anything at all (ACKs
 * included). When most frames are held, queued payloads are copied into
 * lwIP's heap and their frames let go: DESIGN.md's orphaning of a holder
 * that keeps data indefinitely. Counted in rx_orphaned_bytes. */
void skiff__rx_relieve(void)
{
	struct skiff_stack *st = &skiff__s;
	uint64_t live = pkb__hot(st->pool)->live_frames;
	uint64_t total = st->geo.frame_count;

	if (live < total * 3 / 4)
		return;
	for (struct skiff_sock *s = st->all_socks; s && live > total / 2; s = s->all_next) {
		struct pbuf **pp = &s->rx_head, *q;

		s->rx_tail = NULL;
		while ((q = *pp)) {
			struct pbuf *c;

			if (!skiff__rx_pkb(q) || q->ref != 1 ||
			    !(c = pbuf_alloc(PBUF_RAW, q->len, PBUF_RAM))) {
				s->rx_tail = q;
				pp = &q->next;
				continue;
			}
			memcpy(c->payload, q->payload, q->len);
			c->next = q->next;
			*pp = c;
			s->rx_tail = c;
			pp = &c->next;
			st->st.rx_orphaned_bytes += q->len;
			q->next = NULL;
			pbuf_free(q);
			live--;
		}
	}
}

static ssize_t tcp_recv_(int fd, struct skiff_sock *s, uint8_t *buf, size_t len, int flags)
{
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	bool peek = flags & MSG_PEEK, waitall = (flags & MSG_WAITALL) && !peek;
	long long deadline = skiff__deadline(s->rcvtimeo_ms);
	size_t done = 0;
	int e;

	if (s->state == SKIFF_TS_NEW || s->state == SKIFF_TS_LISTEN)
		FAIL(ENOTCONN);
	if (!len)
		return 0;
	for (;;) {
		if (s->rx_bytes && !s->rd_shut) {
			done += rx_copy(s, buf + done, len - done, peek);
			if (done == len || !waitall)
				return (ssize_t)done;
		}
		if (s->rd_eof || s->rd_shut)
			return (ssize_t)done;
		if (s->state == SKIFF_TS_DEAD) {
			if (done)
				return (ssize_t)done;
			e = skiff__sock_error(s, false);
			if (!e)
				return 0;
			FAIL(e);
		}
		if (nonblock) {
			if (done)
				return (ssize_t)done;
			FAIL(EAGAIN);
		}
		e = wait_or_fail(fd, deadline, &s);
		if (e) {
			if (done)
				return (ssize_t)done;
			FAIL(e);
		}
	}
}

ssize_t skiff_send(int fd, const void *buf, size_t len, int flags)
{
	return skiff_sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t skiff_recv(int fd, void *buf, size_t len, int flags)
{
	return skiff_recvfrom(fd, buf, len, flags, NULL, NULL);
}

static ssize_t udp_send_(struct skiff_sock *s, const void *buf, size_t len,
			 const struct sockaddr *to, socklen_t tolen)
{
	struct pbuf *p;
	ip_addr_t ip;
	u16_t port;
	err_t err;
	int e;

	if (len > 0xffff - 8 - 40)
		FAIL(EMSGSIZE);
	if (to) {
		e = sockaddr_to_ip(s, to, tolen, &ip, &port);
		if (e)
			FAIL(e);
	} else if (!(s->pcb.udp->flags & UDP_FLAGS_CONNECTED)) {
		FAIL(EDESTADDRREQ);
	}
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p)
		FAIL(ENOBUFS);
	if (len)
		memcpy(p->payload, buf, len);
	err = to ? udp_sendto(s->pcb.udp, p, &ip, port) : udp_send(s->pcb.udp, p);
	pbuf_free(p);
	if (err != ERR_OK)
		FAIL(err == ERR_RTE ? ENETUNREACH : skiff__errno(err));
	return (ssize_t)len;
}

ssize_t skiff_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
		     socklen_t tolen)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (!buf && len)
		FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP)
		return udp_send_(s, buf, len, to, tolen);
	if (s->kind != SKIFF_SK_TCP)
		FAIL(ENOTSOCK);
	if (!len) {
		e = tcp_send_state(s);
		if (e && e != EAGAIN)
			FAIL(e);
		return 0;
	}
	return tcp_send(fd, s, buf, len, flags);
}

ssize_t skiff_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
		       socklen_t *fromlen)
{
	struct skiff_sock *s;
	long long deadline;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (!buf && len)
		FAIL(EFAULT);
	if (s->kind == SKIFF_SK_TCP) {
		ssize_t n = tcp_recv_(fd, s, buf, len, flags);

		if (n >= 0 && from && fromlen && (s = skiff__sock_get(fd, &e)))
			ip_to_sockaddr(s, &s->raddr, s->rport, from, fromlen);
		return n;
	}
	if (s->kind != SKIFF_SK_UDP)
		FAIL(ENOTSOCK);
	deadline = skiff__deadline(s->rcvtimeo_ms);
	while (!s->dq_head) {
		if (s->nonblock || (flags & MSG_DONTWAIT))
			FAIL(EAGAIN);
		e = wait_or_fail(fd, deadline, &s);
		if (e)
			FAIL(e);
	}
	{
		struct skiff_dgram *d = s->dq_head;
		size_t n = d->p->tot_len < len ? d->p->tot_len : len;

		pbuf_copy_partial(d->p, buf, (u16_t)n, 0);
		skiff__s.st.rx_recv_copied_bytes += n;
		if (from && fromlen)
			ip_to_sockaddr(s, &d->addr, d->port, from, fromlen);
		if (!(flags & MSG_PEEK)) {
			s->dq_head = d->next;
			if (!s->dq_head)
				s->dq_tail = NULL;
			s->dq_len--;
			pbuf_free(d->p);
			free(d);
		}
		return (ssize_t)n;
	}
}

/* ---- shutdown and close ---------------------------------------------------------- */

int skiff_shutdown(int fd, int how)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		FAIL(EINVAL);
	if (s->kind == SKIFF_SK_UDP)
		FAIL(ENOTCONN);
	if (s->state != SKIFF_TS_CONNECTED && s->state != SKIFF_TS_CONNECTING)
		FAIL(ENOTCONN);
	if (how != SHUT_WR) {
		s->rd_shut = true;
		/* What was not read never will be: let the window open. */
		skiff__rx_consumed(s, s->rx_bytes);
	}
	if (how != SHUT_RD && !s->wr_shut && s->pcb.tcp) {
		err_t err = tcp_shutdown(s->pcb.tcp, 0, 1);

		if (err != ERR_OK)
			FAIL(skiff__errno(err));
		s->wr_shut = true;
	}
	skiff__notify(s);
	return 0;
}

/* Aborts (RST) @p pcb on behalf of a socket that is going away. */
static void abort_pcb(struct skiff_sock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;

	if (!pcb)
		return;
	/* lwIP runs the error callback after freeing: keep it away from s. */
	tcp_err(pcb, NULL);
	tcp_abort(pcb); /* the destroy callback detaches s */
}

/* A listener going: connections it queued, and handshakes under way
 * that point at it, are reset. */
static void close_listener(struct skiff_sock *s)
{
	struct tcp_pcb *pcb, *next;

	while (s->aq_head) {
		struct skiff_sock *c = s->aq_head;

		s->aq_head = c->aq_next;
		c->aq_next = NULL;
		c->listener = NULL;
		c->app_closed = true;
		c->pins++;
		rx_drop_all(c);
		abort_pcb(c);
		c->pins--;
		skiff__sock_maybe_free(c);
	}
	s->aq_tail = NULL;
	s->aq_len = 0;
	for (pcb = tcp_active_pcbs; pcb; pcb = next) {
		next = pcb->next;
		if (pcb->callback_arg == s) {
			tcp_arg(pcb, NULL);
			tcp_abort(pcb);
			next = tcp_active_pcbs; /* the list changed */
		}
	}
	if (s->pcb.tcp)
		tcp_close(s->pcb.tcp); /* a listener goes at once (destroy callback) */
}

static void close_tcp(struct skiff_sock *s)
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
	if (s->linger_abort || s->rx_bytes) {
		rx_drop_all(s);
		abort_pcb(s);
		return;
	}
	rx_drop_all(s);
	/* The pcb lives on (FIN_WAIT, TIME_WAIT) without us: only the sent
	 * callback (zero-copy buffers) and the destroy callback still come. */
	tcp_err(pcb, NULL);
	tcp_recv(pcb, NULL);
	if (tcp_close(pcb) != ERR_OK)
		abort_pcb(s);
}

int skiff_close(int fd)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	fd_release(s);
	s->app_closed = true;
	s->pins++;
	skiff__ep_sock_gone(s);
	switch (s->kind) {
	case SKIFF_SK_EPOLL:
		skiff__ep_destroy(s);
		break;
	case SKIFF_SK_UDP:
		if (s->pcb.udp)
			udp_remove(s->pcb.udp);
		s->pcb.udp = NULL;
		dq_drop_all(s);
		break;
	case SKIFF_SK_TCP:
		close_tcp(s);
		break;
	}
	s->pins--;
	skiff__sock_maybe_free(s);
	return 0;
}

/* skiff_fini(): every socket goes, its connections reset. Structs that
 * zero-copy sends still need stay until those complete (skiff__free_all). */
void skiff__abort_all(void)
{
	struct skiff_stack *st = &skiff__s;
	struct skiff_sock *s;

	for (uint32_t fd = 0; fd < st->cfg.max_sockets; fd++) {
		if (!st->socks[fd])
			continue;
		st->socks[fd]->linger_abort = true;
		skiff_close((int)fd);
	}
again:
	for (s = st->all_socks; s; s = s->all_next) {
		if (s->kind != SKIFF_SK_TCP || !s->pcb.tcp)
			continue;
		s->app_closed = true;
		if (s->pcb.tcp->state == LISTEN)
			close_listener(s);
		else
			abort_pcb(s); /* may free s */
		goto again;
	}
}

void skiff__free_all(void)
{
	struct skiff_stack *st = &skiff__s;

	while (st->all_socks) {
		struct skiff_sock *s = st->all_socks;

		skiff__zc_release_all(s, true);
		s->zs = NULL;
		s->pins = 0;
		s->fd = -1;
		s->app_closed = true;
		s->pcb.tcp = NULL;
		skiff__sock_maybe_free(s);
	}
}

/* ---- options ------------------------------------------------------------------ */

static int get_int(const void *val, socklen_t len, int *out)
{
	if (!val || len < sizeof(int))
		return EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

static int put_val(void *val, socklen_t *len, const void *v, socklen_t n)
{
	if (!val || !len)
		return EFAULT;
	if (*len < n)
		n = *len;
	memcpy(val, v, n);
	*len = n;
	return 0;
}

static int timeo_ms(const void *val, socklen_t len, int *out)
{
	struct timeval tv;

	if (!val || len < sizeof(tv))
		return EINVAL;
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return EDOM;
	/* 0 means forever, as on Linux. */
	if (!tv.tv_sec && !tv.tv_usec)
		*out = -1;
	else
		*out = tv.tv_sec > INT32_MAX / 1000 - 1
			       ? INT32_MAX
			       : (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	return 0;
}

static struct timeval ms_timeval(int ms)
{
	struct timeval tv = {0, 0};

	if (ms >= 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
	}
	return tv;
}

/* so_options of whichever pcb the socket has. */
static u8_t *so_options(struct skiff_sock *s)
{
	if (s->kind == SKIFF_SK_TCP && s->pcb.tcp)
		return &s->pcb.tcp->so_options;
	if (s->kind == SKIFF_SK_UDP && s->pcb.udp)
		return &s->pcb.udp->so_options;
	return NULL;
}

int skiff_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct skiff_sock *s;
	struct tcp_pcb *pcb;
	u8_t *so;
	int e, v = 0;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	pcb = s->kind == SKIFF_SK_TCP ? s->pcb.tcp : NULL;
	so = so_options(s);
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR:
		case SO_KEEPALIVE:
			if ((e = get_int(val, len, &v)))
				FAIL(e);
			if (!so)
				FAIL(EINVAL);
			if (name == SO_KEEPALIVE && s->kind != SKIFF_SK_TCP)
				FAIL(ENOPROTOOPT);
			{
				u8_t bit = name == SO_REUSEADDR ? SOF_REUSEADDR : SOF_KEEPALIVE;

				*so = v ? (u8_t)(*so | bit) : (u8_t)(*so & ~bit);
			}
			return 0;
		case SO_RCVTIMEO:
			if ((e = timeo_ms(val, len, &s->rcvtimeo_ms)))
				FAIL(e);
			return 0;
		case SO_SNDTIMEO:
			if ((e = timeo_ms(val, len, &s->sndtimeo_ms)))
				FAIL(e);
			return 0;
		case SO_LINGER: {
			struct linger l;

			if (!val || len < sizeof(l))
				FAIL(EINVAL);
			memcpy(&l, val, sizeof(l));
			/* Only the abortive form means something here: close()
			 * never blocks for the FIN to be ACKed. */
			s->linger_abort = l.l_onoff && !l.l_linger;
			return 0;
		}
		case SO_RCVBUF:
		case SO_SNDBUF:
			return 0; /* fixed by lwipopts.h; accepted for portability */
		default:
			FAIL(ENOPROTOOPT);
		}
	}
	if (level == IPPROTO_TCP) {
		if (s->kind != SKIFF_SK_TCP)
			FAIL(ENOPROTOOPT);
		if ((e = get_int(val, len, &v)))
			FAIL(e);
		switch (name) {
		case TCP_NODELAY:
			s->nodelay = v;
			if (pcb && pcb->state != LISTEN) {
				if (v)
					tcp_nagle_disable(pcb);
				else
					tcp_nagle_enable(pcb);
			}
			return 0;
		case TCP_KEEPIDLE:
		case TCP_KEEPINTVL:
		case TCP_KEEPCNT:
			if (v <= 0)
				FAIL(EINVAL);
			if (!pcb || pcb->state == LISTEN)
				FAIL(EINVAL);
			if (name == TCP_KEEPIDLE)
				pcb->keep_idle = (u32_t)v * 1000;
			else if (name == TCP_KEEPINTVL)
				pcb->keep_intvl = (u32_t)v * 1000;
			else
				pcb->keep_cnt = (u32_t)v;
			return 0;
		default:
			FAIL(ENOPROTOOPT);
		}
	}
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		if (s->domain != AF_INET6)
			FAIL(ENOPROTOOPT);
		if ((e = get_int(val, len, &v)))
			FAIL(e);
		if (s->lport || (pcb && pcb->local_port) || s->state != SKIFF_TS_NEW)
			FAIL(EINVAL);
		s->v6only = v;
		if (pcb)
			IP_SET_TYPE_VAL(pcb->local_ip, v ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
		if (s->kind == SKIFF_SK_UDP && s->pcb.udp)
			IP_SET_TYPE_VAL(s->pcb.udp->local_ip, v ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
		return 0;
	}
	if (level == SOL_SKIFF && name == SKIFF_SO_REQUIRE_SECPATH) {
		if (s->kind != SKIFF_SK_TCP)
			FAIL(ENOPROTOOPT);
		if ((e = get_int(val, len, &v)))
			FAIL(e);
		s->require_secpath = v;
		return 0;
	}
	FAIL(ENOPROTOOPT);
}

/* Linux's TCP state numbers, for TCP_INFO. */
static uint8_t linux_tcp_state(const struct skiff_sock *s)
{
	const struct tcp_pcb *pcb = s->pcb.tcp;

	if (!pcb)
		return TCP_CLOSE;
	switch (pcb->state) {
	case CLOSED:
		return TCP_CLOSE;
	case LISTEN:
		return TCP_LISTEN;
	case SYN_SENT:
		return TCP_SYN_SENT;
	case SYN_RCVD:
		return TCP_SYN_RECV;
	case ESTABLISHED:
		return TCP_ESTABLISHED;
	case FIN_WAIT_1:
		return TCP_FIN_WAIT1;
	case FIN_WAIT_2:
		return TCP_FIN_WAIT2;
	case CLOSE_WAIT:
		return TCP_CLOSE_WAIT;
	case CLOSING:
		return TCP_CLOSING;
	case LAST_ACK:
		return TCP_LAST_ACK;
	case TIME_WAIT:
		return TCP_TIME_WAIT;
	}
	return TCP_CLOSE;
}

int skiff_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct skiff_sock *s;
	struct tcp_pcb *pcb;
	u8_t *so;
	int e, v;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	if (!val || !len)
		FAIL(EFAULT);
	pcb = s->kind == SKIFF_SK_TCP ? s->pcb.tcp : NULL;
	so = so_options(s);
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_ERROR:
			v = s->err;
			s->err = 0;
			break;
		case SO_REUSEADDR:
			v = so && (*so & SOF_REUSEADDR);
			break;
		case SO_KEEPALIVE:
			v = so && (*so & SOF_KEEPALIVE);
			break;
		case SO_TYPE:
			v = s->kind == SKIFF_SK_TCP ? SOCK_STREAM : SOCK_DGRAM;
			break;
		case SO_DOMAIN:
			v = s->domain;
			break;
		case SO_PROTOCOL:
			v = s->kind == SKIFF_SK_TCP ? IPPROTO_TCP : IPPROTO_UDP;
			break;
		case SO_ACCEPTCONN:
			v = s->state == SKIFF_TS_LISTEN;
			break;
		case SO_RCVBUF:
			v = s->kind == SKIFF_SK_TCP ? TCP_WND : SKIFF_UDP_RCVQ_MAX * 1500;
			break;
		case SO_SNDBUF:
			v = s->kind == SKIFF_SK_TCP ? TCP_SND_BUF : 65535;
			break;
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: {
			struct timeval tv =
				ms_timeval(name == SO_RCVTIMEO ? s->rcvtimeo_ms : s->sndtimeo_ms);

			if ((e = put_val(val, len, &tv, sizeof(tv))))
				FAIL(e);
			return 0;
		}
		case SO_LINGER: {
			struct linger l = {.l_onoff = s->linger_abort, .l_linger = 0};

			if ((e = put_val(val, len, &l, sizeof(l))))
				FAIL(e);
			return 0;
		}
		default:
			FAIL(ENOPROTOOPT);
		}
	} else if (level == IPPROTO_TCP) {
		if (s->kind != SKIFF_SK_TCP)
			FAIL(ENOPROTOOPT);
		switch (name) {
		case TCP_NODELAY:
			v = s->nodelay;
			break;
		case TCP_MAXSEG:
			v = pcb && pcb->state != LISTEN ? pcb->mss : TCP_MSS;
			break;
		case TCP_KEEPIDLE:
			v = pcb && pcb->state != LISTEN ? (int)(pcb->keep_idle / 1000) : 7200;
			break;
		case TCP_KEEPINTVL:
			v = pcb && pcb->state != LISTEN ? (int)(pcb->keep_intvl / 1000) : 75;
			break;
		case TCP_KEEPCNT:
			v = pcb && pcb->state != LISTEN ? (int)pcb->keep_cnt : 9;
			break;
		case TCP_INFO: {
			struct tcp_info ti;

			memset(&ti, 0, sizeof(ti));
			ti.tcpi_state = linux_tcp_state(s);
			if (pcb && pcb->state != LISTEN) {
				ti.tcpi_snd_mss = pcb->mss;
				ti.tcpi_rcv_mss = pcb->mss;
				ti.tcpi_snd_wscale = pcb->snd_scale;
				ti.tcpi_rcv_wscale = pcb->rcv_scale;
				ti.tcpi_snd_cwnd = pcb->mss ? pcb->cwnd / pcb->mss : 0;
				ti.tcpi_snd_ssthresh = pcb->mss ? pcb->ssthresh / pcb->mss : 0;
				ti.tcpi_rtt = (uint32_t)(pcb->sa >> 3) * TCP_SLOW_INTERVAL * 1000;
				ti.tcpi_rto = (uint32_t)pcb->rto * TCP_SLOW_INTERVAL * 1000;
				ti.tcpi_rcv_space = pcb->rcv_wnd;
				if (pcb->flags & TF_TIMESTAMP)
					ti.tcpi_options |= TCPI_OPT_TIMESTAMPS;
				if (pcb->flags & TF_WND_SCALE)
					ti.tcpi_options |= TCPI_OPT_WSCALE;
			}
			if ((e = put_val(val, len, &ti, sizeof(ti))))
				FAIL(e);
			return 0;
		}
		default:
			FAIL(ENOPROTOOPT);
		}
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		if (s->domain != AF_INET6)
			FAIL(ENOPROTOOPT);
		v = s->v6only;
	} else if (level == SOL_SKIFF && name == SKIFF_SO_REQUIRE_SECPATH) {
		v = s->require_secpath;
	} else {
		FAIL(ENOPROTOOPT);
	}
	if ((e = put_val(val, len, &v, sizeof(v))))
		FAIL(e);
	return 0;
}

int skiff_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	if (!addr || !len)
		FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP && s->pcb.udp)
		ip_to_sockaddr(s, &s->pcb.udp->local_ip, s->pcb.udp->local_port, addr, len);
	else if (s->kind == SKIFF_SK_TCP && s->pcb.tcp)
		ip_to_sockaddr(s, &s->pcb.tcp->local_ip, s->pcb.tcp->local_port, addr, len);
	else
		ip_to_sockaddr(s, &s->laddr, s->lport, addr, len);
	return 0;
}

int skiff_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind == SKIFF_SK_EPOLL)
		FAIL(ENOTSOCK);
	if (!addr || !len)
		FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP) {
		if (!s->pcb.udp || !(s->pcb.udp->flags & UDP_FLAGS_CONNECTED))
			FAIL(ENOTCONN);
		ip_to_sockaddr(s, &s->pcb.udp->remote_ip, s->pcb.udp->remote_port, addr, len);
		return 0;
	}
	if (s->state != SKIFF_TS_CONNECTED && !(s->state == SKIFF_TS_DEAD && s->rport))
		FAIL(ENOTCONN);
	ip_to_sockaddr(s, &s->raddr, s->rport, addr, len);
	return 0;
}

int skiff_set_nonblock(int fd, bool on)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	s->nonblock = on;
	return 0;
}
