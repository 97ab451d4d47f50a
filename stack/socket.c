/* The POSIX socket calls over lwIP's raw TCP (and, through dgram.c, UDP):
 * socket, bind, listen, accept, connect, send, recv, shutdown, close, with
 * POSIX errno semantics. Blocking calls drive the poll loop until they can
 * finish (skiff__sock_wait()). */
#define _GNU_SOURCE /* IOV_MAX */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "demux.h"
#include "engine.h"
#include "instance.h"
#include "mptcp.h"
#include "sock.h"
#include "tcpglue.h"
#include "timers.h"

#include "lwip/tcp.h"
#include "lwip/udp.h"

/* ---- socket, bind, listen, accept, connect --------------------------------- */

int skiff_socket(int domain, int type, int protocol)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct skiff_sock *s;
	int fd;

	if (!skiff__running())
		SKIFF_FAIL(ENETDOWN);
	if (domain != AF_INET && domain != AF_INET6)
		SKIFF_FAIL(EAFNOSUPPORT);
	if (base == SOCK_STREAM) {
		if (protocol && protocol != IPPROTO_TCP && protocol != IPPROTO_MPTCP)
			SKIFF_FAIL(EPROTONOSUPPORT);
	} else if (base == SOCK_DGRAM) {
		if (protocol && protocol != IPPROTO_UDP)
			SKIFF_FAIL(EPROTONOSUPPORT);
	} else {
		SKIFF_FAIL(EPROTONOSUPPORT);
	}
	s = skiff__sock_alloc(base == SOCK_STREAM ? SKIFF_SK_TCP : SKIFF_SK_UDP);
	if (!s)
		SKIFF_FAIL(ENOMEM);
	s->domain = domain;
	s->opt.nonblock = type & SOCK_NONBLOCK;
	s->opt.mptcp = base == SOCK_STREAM && protocol == IPPROTO_MPTCP;
	if (base == SOCK_STREAM ? !skiff__tcp_new_pcb(s) : skiff__dgram_open(s) != 0) {
		s->app_closed = true;
		s->pcb.tcp = NULL;
		skiff__sock_maybe_free(s);
		SKIFF_FAIL(ENOBUFS);
	}
	fd = skiff__fd_install(s);
	if (fd < 0) {
		s->app_closed = true;
		if (s->kind == SKIFF_SK_TCP)
			skiff__tcp_discard(s);
		else
			skiff__dgram_close(s);
		skiff__sock_maybe_free(s);
		SKIFF_FAIL(EMFILE);
	}
	return fd;
}

int skiff_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct skiff_sock *s;
	ip_addr_t ip;
	u16_t port;
	err_t err;
	int e;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	e = skiff__sockaddr_in(s, addr, len, &ip, &port);
	if (e)
		SKIFF_FAIL(-e);
	/* Only our own addresses (or the wildcard) can be bound. */
	if (!skiff__addr_is_ours(&ip))
		SKIFF_FAIL(EADDRNOTAVAIL);
	if (s->kind == SKIFF_SK_UDP) {
		err = udp_bind(s->pcb.udp, skiff__bind_addr(s, &ip), port);
		if (err != ERR_OK)
			SKIFF_FAIL(skiff__errno(err));
		return 0;
	}
	if (s->state != SKIFF_TS_NEW || !s->pcb.tcp || s->pcb.tcp->local_port)
		SKIFF_FAIL(EINVAL);
	err = tcp_bind(s->pcb.tcp, skiff__bind_addr(s, &ip), port);
	if (err != ERR_OK)
		SKIFF_FAIL(skiff__errno(err));
	skiff__addrs_snapshot(s, s->pcb.tcp);
	return 0;
}

int skiff_listen(int fd, int backlog)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -1;
	if (backlog < 1)
		backlog = 1;
	if ((unsigned)backlog > skiff__s.cfg.max_backlog)
		backlog = (int)skiff__s.cfg.max_backlog;
	if (s->state != SKIFF_TS_LISTEN && (s->state != SKIFF_TS_NEW || !s->pcb.tcp))
		SKIFF_FAIL(EINVAL);
	e = skiff__tcp_listen(s, backlog);
	if (e)
		SKIFF_FAIL(-e);
	return 0;
}

int skiff_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	long long deadline;
	struct skiff_sock *s, *c;
	int e, cfd;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -1;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		SKIFF_FAIL(EINVAL);
	if (s->state != SKIFF_TS_LISTEN)
		SKIFF_FAIL(EINVAL);
	deadline = skiff__deadline(s->opt.rcvtimeo_ms);
	while (!s->aq.head) {
		if (s->opt.nonblock)
			SKIFF_FAIL(EAGAIN);
		e = skiff__sock_wait(fd, deadline, &s);
		if (e)
			SKIFF_FAIL(-e);
		/* Closed from a callback meanwhile? */
		if (s->state != SKIFF_TS_LISTEN)
			SKIFF_FAIL(EBADF);
	}
	cfd = skiff__fd_install(s->aq.head);
	if (cfd < 0)
		SKIFF_FAIL(EMFILE);
	c = skiff__tcp_accept_next(s);
	c->opt.nonblock = flags & SOCK_NONBLOCK;
	if (addr && len)
		skiff__sockaddr_out(c, &c->addr.remote, c->addr.rport, addr, len);
	return cfd;
}

static int connect_wait(struct skiff_sock *s, int fd)
{
	long long deadline = skiff__deadline(s->opt.sndtimeo_ms);
	int e;

	while (s->state == SKIFF_TS_CONNECTING) {
		e = skiff__sock_wait(fd, deadline, &s);
		if (e)
			SKIFF_FAIL(e == -EAGAIN ? EINPROGRESS : -e);
	}
	if (s->state == SKIFF_TS_CONNECTED)
		return 0;
	e = skiff__sock_error(s, false);
	SKIFF_FAIL(e ? -e : ECONNABORTED);
}

int skiff_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct skiff_sock *s;
	ip_addr_t ip;
	u16_t port;
	err_t err;
	int e;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	e = skiff__sockaddr_in(s, addr, len, &ip, &port);
	if (e)
		SKIFF_FAIL(-e);
	if (s->kind == SKIFF_SK_UDP) {
		err = udp_connect(s->pcb.udp, &ip, port);
		if (err != ERR_OK)
			SKIFF_FAIL(skiff__errno(err));
		return 0;
	}
	switch (s->state) {
	case SKIFF_TS_CONNECTING:
		SKIFF_FAIL(EALREADY);
	case SKIFF_TS_CONNECTED:
		SKIFF_FAIL(EISCONN);
	case SKIFF_TS_LISTEN:
		SKIFF_FAIL(EINVAL);
	case SKIFF_TS_DEAD:
		/* A failed attempt may be retried with a fresh pcb, as on
		 * Linux; a connection that existed may not. */
		if (s->addr.rport || s->pcb.tcp)
			SKIFF_FAIL(EISCONN);
		s->err = 0;
		s->state = SKIFF_TS_NEW;
		if (!skiff__tcp_new_pcb(s))
			SKIFF_FAIL(ENOBUFS);
		break;
	case SKIFF_TS_NEW:
		break;
	}
	if (!port)
		SKIFF_FAIL(ECONNREFUSED);
	if (s->domain == AF_INET6 && s->opt.v6only && IP_IS_V4(&ip))
		SKIFF_FAIL(EAFNOSUPPORT);
	if (skiff__demux_full()) {
		skiff__s.stats.tcp_connect_refused_limit++;
		SKIFF_FAIL(ENOBUFS); /* skiff_config.max_connections */
	}
	if (s->opt.nodelay)
		tcp_nagle_disable(s->pcb.tcp);
	s->state = SKIFF_TS_CONNECTING;
	err = skiff__tcp_connect(s, &ip, port);
	if (err != ERR_OK) {
		s->state = SKIFF_TS_NEW;
		if (err == ERR_BUF) {
			/* Every local port already makes this 4-tuple. */
			skiff__s.stats.tcp_connect_refused_limit++;
			SKIFF_FAIL(EADDRNOTAVAIL);
		}
		SKIFF_FAIL(err == ERR_RTE ? ENETUNREACH : skiff__errno(err));
	}
	skiff__addrs_snapshot(s, s->pcb.tcp);
	s->addr.rport = 0; /* known once connected */
	if (s->opt.nonblock)
		SKIFF_FAIL(EINPROGRESS);
	return connect_wait(s, fd);
}

/* ---- send and receive -------------------------------------------------------- */

/* State checks every TCP send makes; 0 when data may be queued now, else
 * -errno. */
static int send_state(struct skiff_sock *s)
{
	switch (s->state) {
	case SKIFF_TS_NEW:
	case SKIFF_TS_LISTEN:
		return -ENOTCONN;
	case SKIFF_TS_CONNECTING:
		return -EAGAIN;
	case SKIFF_TS_DEAD:
		return skiff__sock_error(s, true);
	case SKIFF_TS_CONNECTED:
		break;
	}
	if (s->err)
		return skiff__sock_error(s, true);
	if (s->wr_shut || !s->pcb.tcp)
		return -EPIPE;
	return 0;
}

/* A place in an iovec array: buffer @p i, @p off bytes into it. */
struct iov_at {
	const struct iovec *iov;
	size_t cnt, i, off;
};

/* The bytes of @p a's current buffer from its place on (skipping empty
 * ones); 0 at the end. */
static size_t iov_span(struct iov_at *a, uint8_t **p)
{
	while (a->i < a->cnt && a->off == a->iov[a->i].iov_len) {
		a->i++;
		a->off = 0;
	}
	if (a->i == a->cnt)
		return 0;
	*p = (uint8_t *)a->iov[a->i].iov_base + a->off;
	return a->iov[a->i].iov_len - a->off;
}

/* Queues what fits of @p len bytes from @p a into lwIP's send buffer (a
 * copy); the count (*@p err: -errno when lwIP refused for another reason
 * than room). A corked socket sends as with MSG_MORE: what is queued goes
 * out with the next ACK, a full send buffer, or the uncork. */
static size_t stream_queue(struct skiff_sock *s, struct iov_at *a, size_t len, int flags, int *err)
{
	struct tcp_pcb *main = s->pcb.tcp, *pcb = main;
	bool mptcp = main->skiff_flags & SKIFF_PCB_MPTCP;
	size_t sent = 0, pushed = 0;
	uint8_t *buf = NULL;

	skiff__send_begin(s, main);
	while (sent < len) {
		size_t chunk, room;
		err_t e;

		/* An MPTCP connection's scheduler picks the subflow of each
		 * chunk (stack/mptcp/send.c). */
		chunk = iov_span(a, &buf);
		room = tcp_sndbuf(pcb);
		if (mptcp)
			pcb = skiff__mptcp_tx_pcb(main, &room);
		if (chunk > 0xffff)
			chunk = 0xffff;
		if (chunk > room)
			chunk = room;
		if (!chunk || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4)
			break;
		e = skiff__tcp_write(pcb, buf, (u16_t)chunk,
				     TCP_WRITE_FLAG_COPY | (sent + chunk < len || (flags & MSG_MORE)
								    ? TCP_WRITE_FLAG_MORE
								    : 0));
		if (e == ERR_MEM)
			break;
		if (e != ERR_OK) {
			*err = -skiff__errno(e);
			break;
		}
		sent += chunk;
		a->off += chunk;
		/* A long send puts on the wire what the window lets go after
		 * each 64 KiB it queues, before it copies the rest, as Linux's
		 * send() does (tcp_push_one): copying a MiB takes milliseconds,
		 * and the first window would wait for all of it, then for the
		 * next poll round's kick. Not after each buffer of a gathered
		 * write: memcached answers with sendmsg() of a header, a value
		 * and a trailer, which went as three segments and three kicks
		 * (its gets ran at half the rate). A short send stays batched
		 * for the round. */
		if (sent < len && sent - pushed >= 0xffff && !(flags & MSG_MORE) && !s->opt.cork) {
			tcp_output(pcb);
			skiff__flush();
			pushed = sent;
		}
	}
	if (sent < len || !skiff__send_holds(s, main, flags)) {
		tcp_output(main);
		if (mptcp)
			skiff__mptcp_output(main);
	}
	skiff__timer_arm(main);
	return sent;
}

/* Sends the @p len bytes of @p iov (every one, unless nonblocking). */
static ssize_t stream_send(int fd, struct skiff_sock *s, const struct iovec *iov, size_t cnt,
			   size_t len, int flags)
{
	bool nonblock = s->opt.nonblock || (flags & MSG_DONTWAIT);
	long long deadline = skiff__deadline(s->opt.sndtimeo_ms);
	struct iov_at a = {.iov = iov, .cnt = cnt};
	size_t sent = 0;
	int e;

	for (;;) {
		/* The connection failed after some bytes were queued: this call
		 * returns their count, and the error stays for the next one, as
		 * Linux reports it. */
		if (sent && s->err)
			break;
		e = send_state(s);
		if (e && !(e == -EAGAIN && !nonblock))
			break;
		if (!e) {
			sent += stream_queue(s, &a, len - sent, flags, &e);
			if (e || sent == len)
				break;
		}
		if (nonblock) {
			e = -EAGAIN;
			break;
		}
		e = skiff__sock_wait(fd, deadline, &s);
		if (e)
			break;
	}
	if (sent)
		return (ssize_t)sent;
	SKIFF_FAIL(-e);
}

/* Copies queued bytes into @p iov, up to @p len (MSG_PEEK: without taking
 * them; a peek over several buffers goes through one). */
static size_t stream_copy(struct skiff_sock *s, struct iov_at *a, size_t len, bool peek)
{
	size_t done = 0, n, span;
	uint8_t *p, *tmp;

	if (peek && a->cnt - a->i > 1) {
		n = skiff__rxq_bytes(&s->rx) < len ? skiff__rxq_bytes(&s->rx) : len;
		if (!n || !(tmp = malloc(n)))
			return 0;
		n = skiff__rxq_copy(s, tmp, n, true);
		while (done < n && (span = iov_span(a, &p))) {
			if (span > n - done)
				span = n - done;
			memcpy(p, tmp + done, span);
			a->off += span;
			done += span;
		}
		free(tmp);
		return done;
	}
	while (done < len && skiff__rxq_bytes(&s->rx) && (span = iov_span(a, &p))) {
		if (span > len - done)
			span = len - done;
		n = skiff__rxq_copy(s, p, span, peek);
		a->off += n;
		done += n;
		if (n < span || peek)
			break;
	}
	return done;
}

static ssize_t stream_recv(int fd, struct skiff_sock *s, const struct iovec *iov, size_t cnt,
			   size_t len, int flags)
{
	bool nonblock = s->opt.nonblock || (flags & MSG_DONTWAIT);
	bool peek = flags & MSG_PEEK, waitall = (flags & MSG_WAITALL) && !peek;
	long long deadline = skiff__deadline(s->opt.rcvtimeo_ms);
	struct iov_at a = {.iov = iov, .cnt = cnt};
	size_t done = 0;
	int e;

	if (s->state == SKIFF_TS_NEW || s->state == SKIFF_TS_LISTEN)
		SKIFF_FAIL(ENOTCONN);
	if (!len)
		return 0;
	for (;;) {
		if (skiff__rxq_bytes(&s->rx) && !s->rd_shut) {
			done += stream_copy(s, &a, len - done, peek);
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
			SKIFF_FAIL(-e);
		}
		e = nonblock ? -EAGAIN : skiff__sock_wait(fd, deadline, &s);
		if (e) {
			if (done)
				return (ssize_t)done;
			SKIFF_FAIL(-e);
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

ssize_t skiff_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
		     socklen_t tolen)
{
	struct skiff_sock *s;
	ssize_t n;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (!buf && len)
		SKIFF_FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP) {
		n = skiff__dgram_send(s, buf, len, to, tolen);
		if (n < 0)
			SKIFF_FAIL((int)-n);
		return n;
	}
	if (!len) {
		n = send_state(s);
		if (n && n != -EAGAIN)
			SKIFF_FAIL((int)-n);
		return 0;
	}
	return stream_send(fd, s, &(struct iovec){(void *)buf, len}, 1, len, flags);
}

ssize_t skiff_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
		       socklen_t *fromlen)
{
	struct skiff_sock *s;
	ssize_t n;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (!buf && len)
		SKIFF_FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP) {
		size_t full;

		n = skiff__dgram_recv(fd, s, &(struct iovec){buf, len}, 1, flags, from, fromlen,
				      &full);
		if (n < 0)
			SKIFF_FAIL((int)-n);
		return n;
	}
	n = stream_recv(fd, s, &(struct iovec){buf, len}, 1, len, flags);
	if (n >= 0 && from && fromlen && (s = skiff__sock_get(fd)))
		skiff__sockaddr_out(s, &s->addr.remote, s->addr.rport, from, fromlen);
	return n;
}

/* The bytes @p iov holds in all: 0, or -EINVAL past SSIZE_MAX, -EMSGSIZE
 * past IOV_MAX buffers (as Linux), -EFAULT for bytes without a buffer. */
static ssize_t iov_total(const struct iovec *iov, size_t cnt)
{
	size_t total = 0;

	if (cnt > IOV_MAX)
		return -EMSGSIZE;
	if (cnt && !iov)
		return -EFAULT;
	for (size_t i = 0; i < cnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -EFAULT;
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

/* The socket behind @p fd and the bytes @p m's buffers hold; -1 and errno. */
static ssize_t msg_open(int fd, const struct msghdr *m, struct skiff_sock **s)
{
	ssize_t len;

	if (!(*s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (!m)
		SKIFF_FAIL(EFAULT);
	if ((len = iov_total(m->msg_iov, m->msg_iovlen)) < 0)
		SKIFF_FAIL((int)-len);
	return len;
}

/* A datagram's buffers gathered into one (@p *tmp to free), or the only
 * one as it is. */
static const void *gather(const struct iovec *iov, size_t cnt, size_t len, void **tmp)
{
	struct iov_at a = {.iov = iov, .cnt = cnt};
	uint8_t *p, *out;
	size_t done = 0, span;

	*tmp = NULL;
	if (cnt == 1)
		return iov[0].iov_base;
	if (!(out = malloc(len ? len : 1)))
		return NULL;
	while ((span = iov_span(&a, &p))) {
		memcpy(out + done, p, span);
		a.off += span;
		done += span;
	}
	*tmp = out;
	return out;
}

ssize_t skiff_sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct skiff_sock *s;
	ssize_t len, n;
	const void *buf;
	void *tmp;

	if ((len = msg_open(fd, m, &s)) < 0)
		return -1;
	if (s->kind == SKIFF_SK_TCP) {
		if (!len)
			return skiff_send(fd, NULL, 0, flags);
		return stream_send(fd, s, m->msg_iov, m->msg_iovlen, (size_t)len, flags);
	}
	if (len > 0xffff)
		SKIFF_FAIL(EMSGSIZE);
	if (!(buf = gather(m->msg_iov, m->msg_iovlen, (size_t)len, &tmp)) && len)
		SKIFF_FAIL(ENOMEM);
	n = skiff__dgram_send(s, buf, (size_t)len, m->msg_name, m->msg_namelen);
	free(tmp);
	if (n < 0)
		SKIFF_FAIL((int)-n);
	return n;
}

/* One datagram into @p m's buffers; MSG_TRUNC in msg_flags when it was
 * longer (and, asked with MSG_TRUNC, its whole length returned). */
static ssize_t dgram_recvmsg(int fd, struct skiff_sock *s, struct msghdr *m, size_t len, int flags)
{
	size_t full;
	ssize_t n;

	n = skiff__dgram_recv(fd, s, m->msg_iov, m->msg_iovlen, flags, m->msg_name,
			      m->msg_name ? &m->msg_namelen : NULL, &full);
	if (n < 0)
		return n;
	if (full > len)
		m->msg_flags |= MSG_TRUNC;
	return (flags & MSG_TRUNC) ? (ssize_t)full : n;
}

ssize_t skiff_recvmsg(int fd, struct msghdr *m, int flags)
{
	struct skiff_sock *s;
	ssize_t len, n;

	if ((len = msg_open(fd, m, &s)) < 0)
		return -1;
	m->msg_flags = 0;
	m->msg_controllen = 0; /* no ancillary data */
	if (s->kind == SKIFF_SK_UDP) {
		n = dgram_recvmsg(fd, s, m, (size_t)len, flags);
		if (n < 0)
			SKIFF_FAIL((int)-n);
		return n;
	}
	n = stream_recv(fd, s, m->msg_iov, m->msg_iovlen, (size_t)len, flags);
	if (n >= 0 && m->msg_name && (s = skiff__sock_get(fd)))
		skiff__sockaddr_out(s, &s->addr.remote, s->addr.rport, m->msg_name,
				    &m->msg_namelen);
	return n;
}

/* ---- shutdown and close ------------------------------------------------------- */

int skiff_shutdown(int fd, int how)
{
	struct skiff_sock *s;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		SKIFF_FAIL(EINVAL);
	if (s->kind == SKIFF_SK_UDP)
		SKIFF_FAIL(ENOTCONN);
	if (s->state != SKIFF_TS_CONNECTED && s->state != SKIFF_TS_CONNECTING)
		SKIFF_FAIL(ENOTCONN);
	if (how != SHUT_WR) {
		s->rd_shut = true;
		/* What was not read never will be: let the window open. */
		skiff__rxq_consume(s, skiff__rxq_bytes(&s->rx));
	}
	if (how != SHUT_RD && !s->wr_shut && s->pcb.tcp) {
		err_t err;

		/* An MPTCP connection may keep its first subflow's FIN back a
		 * while, as at a close: it shuts it itself. */
		if ((s->pcb.tcp->skiff_flags & SKIFF_PCB_MPTCP) && skiff__mptcp_shut_wr(s->pcb.tcp))
			err = ERR_OK;
		else
			err = tcp_shutdown(s->pcb.tcp, 0, 1);
		if (err != ERR_OK)
			SKIFF_FAIL(skiff__errno(err));
		s->wr_shut = true;
		skiff__timer_arm(s->pcb.tcp);
	}
	skiff__notify(s);
	return 0;
}

int skiff_close(int fd)
{
	struct skiff_sock *s;

	if (!(s = skiff__sock_get(fd)))
		SKIFF_FAIL(EBADF);
	skiff__fd_release(s);
	s->app_closed = true;
	s->pins++;
	skiff__ep_sock_gone(s);
	switch (s->kind) {
	case SKIFF_SK_EPOLL:
		skiff__ep_destroy(s);
		break;
	case SKIFF_SK_UDP:
		skiff__dgram_close(s);
		break;
	case SKIFF_SK_TCP:
		skiff__tcp_close(s);
		break;
	}
	s->pins--;
	skiff__sock_maybe_free(s);
	return 0;
}
