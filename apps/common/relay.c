/* One direction of a stream over skiff's zero-copy paths (relay.h). */
#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Bytes read per skiff_recv() on the fallback path: what RELAY_BUFS
 * zero-copy buffers or the copy area can always take in one go. */
#define RELAY_RECV_CHUNK (16u * 1024)

/* Append @p n bytes for @p dst: into zero-copy buffers while frames can be
 * had, else (and from then on, to keep the order) into the copy area. Used
 * for the loans skiff_zc_loan_to_buf() refuses (copy-break loans) and for
 * the skiff_recv() fallback. */
static int stage(struct relay_half *h, int dst, const uint8_t *p, uint32_t n,
		 struct app_counters *c)
{
	while (n && h->clen == 0) {
		struct skiff_zc_buf *b = h->npend ? &h->pend[h->npend - 1] : NULL;
		uint32_t k;

		if (!b || b->len == b->cap) {
			if (h->npend == RELAY_BUFS || skiff_zc_alloc(dst, &h->pend[h->npend]) != 0)
				break;
			b = &h->pend[h->npend++];
			b->len = 0;
		}
		k = b->cap - b->len < n ? b->cap - b->len : n;
		/* Counted: only what the zero-copy path refused gets here. */
		memcpy((uint8_t *)b->data + b->len, p, k);
		b->len += k;
		p += k;
		n -= k;
		c->app_copied_bytes += k;
	}
	if (!n)
		return 0;
	if (!h->copy && !(h->copy = malloc(RELAY_COPY_CAP)))
		return -ENOMEM;
	if (h->clen + n > RELAY_COPY_CAP)
		return -ENOBUFS; /* a half reads only when empty: cannot happen */
	memcpy(h->copy + h->clen, p, n);
	h->clen += n;
	c->app_copied_bytes += n;
	return 0;
}

int relay_flush(struct relay_half *h, int dst, struct app_counters *c)
{
	if (h->npend) {
		int64_t id = skiff_zc_send(dst, h->pend, h->npend, 0);

		if (id < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		/* The buffers are the stack's now; their completion releases
		 * them (relay_zc_done counts it). */
		c->zc_sends++;
		h->npend = 0;
	}
	while (h->coff < h->clen) {
		ssize_t n = skiff_send(dst, h->copy + h->coff, h->clen - h->coff, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		h->coff += (uint32_t)n;
		c->send_copied++;
	}
	h->coff = h->clen = 0;
	if (h->eof && !h->shut) {
		/* Everything before the FIN is out: pass the FIN on. */
		h->shut = true;
		if (skiff_shutdown(dst, SHUT_WR) != 0 && errno != ENOTCONN)
			return -errno;
	}
	return 0;
}

static int pump_copy(struct relay_half *h, int src, int dst, struct app_counters *c)
{
	uint8_t buf[RELAY_RECV_CHUNK];
	ssize_t n = skiff_recv(src, buf, sizeof(buf), 0);
	int rc;

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	c->recv_copied++;
	if (n == 0) {
		h->eof = true;
		rc = relay_flush(h, dst, c);
		return rc == -EAGAIN ? 0 : rc;
	}
	c->requests++;
	c->bytes += (uint64_t)n;
	rc = stage(h, dst, buf, (uint32_t)n, c);
	if (!rc)
		rc = relay_flush(h, dst, c);
	return rc && rc != -EAGAIN ? rc : (int)n;
}

int relay_pump(struct relay_half *h, int src, int dst, struct app_counters *c)
{
	struct skiff_zc_loan loans[RELAY_LOANS];
	uint64_t total = 0;
	ssize_t n;
	int rc = 0;

	if (!relay_can_read(h))
		return 0;
	if (!h->pend && !(h->pend = calloc(RELAY_BUFS, sizeof(*h->pend))))
		return -ENOMEM;
	if (h->no_zc_recv)
		return pump_copy(h, src, dst, c);
	n = skiff_zc_recv(src, loans, RELAY_LOANS, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		/* Too many loans out, or no frame to lend a copy in: copy
		 * this batch out instead. */
		if (errno == ENOBUFS || errno == ENOMEM)
			return pump_copy(h, src, dst, c);
		if (errno == EOPNOTSUPP || errno == ENOTSUP) {
			h->no_zc_recv = true;
			return pump_copy(h, src, dst, c);
		}
		return -errno;
	}
	if (n == 0) {
		h->eof = true;
		rc = relay_flush(h, dst, c);
		return rc == -EAGAIN ? 0 : rc;
	}
	for (ssize_t i = 0; i < n && !rc; i++) {
		total += loans[i].len;
		/* The frame itself goes out, new headers in front of the
		 * payload; behind copied bytes it cannot (order). */
		if (h->clen == 0 && h->npend < RELAY_BUFS &&
		    skiff_zc_loan_to_buf(dst, &loans[i], &h->pend[h->npend]) == 0) {
			h->npend++;
			c->loans_sent++;
			continue;
		}
		rc = stage(h, dst, loans[i].data, loans[i].len, c);
	}
	/* What was copied (or sent on: those loans are spent) is done with. */
	skiff_zc_recv_done(loans, (unsigned)n);
	c->loans += (uint64_t)n;
	c->requests++;
	c->bytes += total;
	if (!rc)
		rc = relay_flush(h, dst, c);
	if (rc && rc != -EAGAIN)
		return rc;
	return total ? (int)total : 0;
}

int relay_pump_some(struct relay_half *h, int src, int dst, struct app_counters *c)
{
	int rc = 0;

	for (int i = 0; i < RELAY_BATCHES && relay_can_read(h); i++) {
		rc = relay_pump(h, src, dst, c);
		if (rc <= 0)
			break;
		rc = 0;
	}
	return rc == -EAGAIN ? 0 : rc;
}

void relay_clear(struct relay_half *h)
{
	/* A failed send leaves its buffers the caller's: give them back. */
	for (unsigned i = 0; i < h->npend; i++)
		skiff_zc_free(&h->pend[i]);
	h->npend = 0;
	free(h->pend);
	h->pend = NULL;
	free(h->copy);
	h->copy = NULL;
	h->clen = h->coff = 0;
}

void relay_zc_done(void *counters, int fd, uint32_t lo, uint32_t hi, unsigned flags)
{
	struct app_counters *c = counters;
	uint64_t ids = (uint64_t)(uint32_t)(hi - lo) + 1;

	(void)fd;
	c->zc_done += ids;
	if (flags & SKIFF_ZC_ABORTED)
		c->zc_aborted += ids;
}
