/* UDP sockets: lwIP's raw UDP behind skiff_sendto()/skiff_recvfrom(), each
 * socket with a bounded queue of received datagrams (drops counted in
 * udp_rcvq_drop). Datagrams are copied both ways: UDP has no zero-copy path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "sock.h"

#include "lwip/udp.h"

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		    u16_t port)
{
	struct skiff_sock *s = arg;
	struct skiff_dgramq *q;
	struct skiff_dgram *d;

	(void)pcb;
	if (!s || s->dq.len >= SKIFF_UDP_RCVQ_MAX || !(d = malloc(sizeof(*d)))) {
		skiff__s.stats.udp_rcvq_drop++;
		pbuf_free(p);
		return;
	}
	q = &s->dq;
	d->next = NULL;
	d->p = p;
	ip_addr_copy(d->addr, *addr);
	d->port = port;
	if (q->tail)
		q->tail->next = d;
	else
		q->head = d;
	q->tail = d;
	q->len++;
	skiff__notify(s);
}

int skiff__dgram_open(struct skiff_sock *s)
{
	s->pcb.udp = udp_new_ip_type(s->domain == AF_INET6 ? IPADDR_TYPE_ANY : IPADDR_TYPE_V4);
	if (!s->pcb.udp)
		return -ENOBUFS;
	udp_recv(s->pcb.udp, on_recv, s);
	return 0;
}

void skiff__dgramq_drop(struct skiff_dgramq *q)
{
	while (q->head) {
		struct skiff_dgram *d = q->head;

		q->head = d->next;
		pbuf_free(d->p);
		free(d);
	}
	q->tail = NULL;
	q->len = 0;
}

void skiff__dgram_close(struct skiff_sock *s)
{
	if (s->pcb.udp)
		udp_remove(s->pcb.udp);
	s->pcb.udp = NULL;
	skiff__dgramq_drop(&s->dq);
}

ssize_t skiff__dgram_send(struct skiff_sock *s, const void *buf, size_t len,
			  const struct sockaddr *to, socklen_t tolen)
{
	struct pbuf *p;
	ip_addr_t ip;
	u16_t port;
	err_t err;
	int e;

	if (len > 0xffff - 8 - 40)
		return -EMSGSIZE;
	if (to) {
		e = skiff__sockaddr_in(s, to, tolen, &ip, &port);
		if (e)
			return e;
	} else if (!(s->pcb.udp->flags & UDP_FLAGS_CONNECTED)) {
		return -EDESTADDRREQ;
	}
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p)
		return -ENOBUFS;
	if (len)
		memcpy(p->payload, buf, len);
	err = to ? udp_sendto(s->pcb.udp, p, &ip, port) : udp_send(s->pcb.udp, p);
	pbuf_free(p);
	if (err != ERR_OK)
		return err == ERR_RTE ? -ENETUNREACH : -skiff__errno(err);
	return (ssize_t)len;
}

ssize_t skiff__dgram_recv(int fd, struct skiff_sock *s, const struct iovec *iov, size_t cnt,
			  int flags, struct sockaddr *from, socklen_t *fromlen, size_t *full)
{
	long long deadline = skiff__deadline(s->opt.rcvtimeo_ms);
	struct skiff_dgram *d;
	size_t n;
	int e;

	while (!s->dq.head) {
		if (s->opt.nonblock || (flags & MSG_DONTWAIT))
			return -EAGAIN;
		e = skiff__sock_wait(fd, deadline, &s);
		if (e)
			return e;
	}
	d = s->dq.head;
	/* Scattered over the buffers in order; what does not fit is cut. */
	n = 0;
	for (size_t i = 0; i < cnt && n < d->p->tot_len; i++) {
		size_t k = d->p->tot_len - n < iov[i].iov_len ? d->p->tot_len - n : iov[i].iov_len;

		pbuf_copy_partial(d->p, iov[i].iov_base, (u16_t)k, (u16_t)n);
		n += k;
	}
	*full = d->p->tot_len;
	skiff__s.stats.rx_recv_copied_bytes += n;
	if (from && fromlen)
		skiff__sockaddr_out(s, &d->addr, d->port, from, fromlen);
	if (!(flags & MSG_PEEK)) {
		s->dq.head = d->next;
		if (!s->dq.head)
			s->dq.tail = NULL;
		s->dq.len--;
		pbuf_free(d->p);
		free(d);
	}
	return (ssize_t)n;
}
