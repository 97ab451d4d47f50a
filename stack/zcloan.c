/* Receive loans on skiff sockets (zerocopy/'s RX half, docs/zerocopy.md):
 * skiff_zc_recv() lends the receive queue's payloads in the frames they
 * arrived in instead of copying them out; skiff_zc_loan_to_buf() turns a
 * loan into a send buffer in the same frame (a proxy's or an echo's zero
 * copy). */
#include <errno.h>
#include <string.h>

#include "frames.h"
#include "instance.h"
#include "sock.h"
#include "tcpglue.h"

#include "lwip/pbuf.h"

int skiff_zc_loan_to_buf(int fd, struct skiff_zc_loan *loan, struct skiff_zc_buf *buf)
{
	struct zc_loan zl;
	struct pkb *pkb;
	uint32_t cap;
	int e;

	if (!loan || !buf || !loan->priv__ || !loan->len || (loan->flags & SKIFF_ZC_LOAN_COPIED))
		SKIFF_FAIL(EINVAL);
	if ((e = skiff__zc_buf_cap(fd, &cap)))
		SKIFF_FAIL(-e);
	zl = (struct zc_loan){
		.data = loan->data,
		.len = loan->len,
		.flags = loan->priv_flags__,
		.priv__ = loan->priv__,
	};
	pkb = zl.priv__;
	/* Nothing of the pkb is read before the loan proves current: a stale
	 * copy of a returned loan names a frame someone else may own now. */
	if (skiff__pkb_of(loan->data) != pkb ||
	    umem_frame_state(
		    skiff__s.umem,
		    umem_geo_frame(&skiff__s.geo, umem_geo_addr(&skiff__s.geo, loan->data))) !=
		    UMEM_FRAME_LOANED)
		SKIFF_FAIL(EINVAL);
	/* Only a frame of its own, whose data is the loan, can take headers in
	 * front: anything else stays a loan. */
	if (pkb->data != loan->data || pkb_len(pkb) != loan->len || pkb_data_shared(pkb) ||
	    pkb_headroom(pkb) < PKB_TX_HEADROOM)
		SKIFF_FAIL(EINVAL);
	/* A lent frame is already off the fill ring; sent on, it stays out
	 * until ACKed, so the same reserve applies. */
	if (!skiff__zc_reserve_ok())
		SKIFF_FAIL(ENOBUFS);
	if ((e = zc_rx_take(skiff__s.zc, &zl, &pkb)))
		SKIFF_FAIL(-e);
	/* What the frame carried in (MPTCP mapping, secpath, bridge port) says
	 * nothing about where it goes out. */
	pkb_ext_reset(pkb);
	memset(loan, 0, sizeof(*loan));
	memset(buf, 0, sizeof(*buf));
	buf->data = pkb->data;
	buf->len = pkb_len(pkb);
	buf->cap = cap > buf->len ? cap : buf->len;
	if (buf->cap > buf->len + pkb_tailroom(pkb))
		buf->cap = buf->len + pkb_tailroom(pkb);
	buf->priv__ = pkb;
	return 0;
}

/* ---- receive loans ---------------------------------------------------------------- */

/* Lends the head of the receive queue; 0, or -ENOBUFS / -ENOMEM. */
static int lend_one(struct skiff_sock *s, struct skiff_zc_loan *out)
{
	struct pbuf *q;
	uint8_t *data;
	uint32_t len;
	struct pkb *pkb;
	bool copied = false;
	struct zc_loan zl;
	int e;

	skiff__rxq_peek_head(&s->rx, &q, &data, &len);
	pkb = skiff__rx_pkb(q);
	if (pkb && q->ref == 1) {
		/* The pbuf lives in this pkb's cb: from here on the pkb (and
		 * with it the pbuf) is zerocopy/'s, never lwIP's again. */
		uint32_t off = (uint32_t)(data - (uint8_t *)q->payload);

		pkb_pull(pkb, (uint32_t)(data - pkb->data));
		pkb_trim(pkb, len);
		/* Off the queue first: a loan past the budget may copy the
		 * bytes and free the pkb, and the pbuf with it. */
		skiff__rxq_lent_head(&s->rx, true);
		e = zc_rx_loan(skiff__s.zc, pkb, &zl);
		if (e) {
			/* Refused: nothing changed that the pbuf depends on. */
			skiff__rxq_unlend_head(&s->rx, q, off);
			return e;
		}
	} else {
		/* Not one of our frames (or shared): lend a copy. */
		e = skiff__copy_to_frame(data, len, &pkb);
		if (e)
			return -ENOMEM;
		e = zc_rx_loan(skiff__s.zc, pkb, &zl);
		if (e) {
			pkb_free(pkb);
			return e;
		}
		skiff__s.stats.rx_copied_bytes += len;
		copied = true;
		skiff__rxq_lent_head(&s->rx, false);
	}
	*out = (struct skiff_zc_loan){
		.data = zl.data,
		.len = zl.len,
		.flags = (copied || (zl.flags & ZC_LOAN_COPIED)) ? SKIFF_ZC_LOAN_COPIED : 0,
		.priv__ = zl.priv__,
		.priv_flags__ = zl.flags,
	};
	return 0;
}

ssize_t skiff_zc_recv(int fd, struct skiff_zc_loan *loans, unsigned max, int flags)
{
	bool nonblock;
	long long deadline;
	struct skiff_sock *s;
	unsigned n = 0;
	int e;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -1;
	if (!loans || !max)
		SKIFF_FAIL(EINVAL);
	if (s->state == SKIFF_TS_NEW || s->state == SKIFF_TS_LISTEN)
		SKIFF_FAIL(ENOTCONN);
	nonblock = s->opt.nonblock || (flags & MSG_DONTWAIT);
	deadline = skiff__deadline(s->opt.rcvtimeo_ms);
	while (skiff__rxq_empty(&s->rx) || s->rd_shut) {
		if (s->rd_eof || s->rd_shut)
			return 0;
		if (s->state == SKIFF_TS_DEAD) {
			e = skiff__sock_error(s, false);
			if (!e)
				return 0;
			SKIFF_FAIL(-e);
		}
		e = nonblock ? -EAGAIN : skiff__sock_wait(fd, deadline, &s);
		if (e)
			SKIFF_FAIL(-e);
	}
	while (n < max && !skiff__rxq_empty(&s->rx)) {
		e = lend_one(s, &loans[n]);
		if (e)
			break;
		n++;
	}
	/* The window opens for what was lent (0 bytes: just the ACK). */
	skiff__rxq_consume(s, 0);
	if (!n)
		SKIFF_FAIL(e == -ENOBUFS ? ENOBUFS : ENOMEM);
	return (ssize_t)n;
}

void skiff_zc_recv_done(struct skiff_zc_loan *loans, unsigned n)
{
	if (!loans || !skiff__s.up)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct zc_loan zl = {
			.data = loans[i].data,
			.len = loans[i].len,
			.flags = loans[i].priv_flags__,
			.priv__ = loans[i].priv__,
		};

		if (!zl.priv__)
			continue;
		zc_rx_return(skiff__s.zc, &zl);
		memset(&loans[i], 0, sizeof(loans[i]));
	}
}
