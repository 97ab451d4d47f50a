/* Zero-copy sends and receive loans on skiff sockets, over zerocopy/'s
 * contract (docs/zerocopy.md).
 *
 * Send: each buffer is a UMEM frame (pkb_alloc_tx) the application filled;
 * tcp_write() without TCP_WRITE_FLAG_COPY references its payload, and the
 * send's notification rides on the frame (zc_send_attach). lwIP may append
 * later writes to an unsent segment and keeps partially ACKed segments
 * whole, so a buffer is released (TCP's reference dropped) only once no
 * segment on unacked or unsent can still reference it: the lowest sequence
 * number queued is at or past the buffer's end. The id completes when the
 * last frame reference goes, transmissions on the ring included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "skiff_internal.h"
#include "skiff_lwip_hooks.h"

#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"

#define FAIL(e)                                                                                    \
	do {                                                                                       \
		errno = (e);                                                                       \
		return -1;                                                                         \
	} while (0)

/* What a queued buffer's cb holds. */
struct zbuf_cb {
	u32_t end_seq; /* one past its last byte */
};

PKB__STATIC_ASSERT(sizeof(struct zbuf_cb) <= PKB_CB_SIZE, "zero-copy buffer state fits the cb");

static struct zbuf_cb *zcb(struct pkb *pkb)
{
	return (struct zbuf_cb *)(void *)pkb->cb;
}

/* ---- TCP's references --------------------------------------------------------- */

static void zq_pop_free(struct skiff_sock *s)
{
	struct pkb *b = s->zq_head;

	s->zq_head = b->next;
	if (!s->zq_head)
		s->zq_tail = NULL;
	s->zq_len--;
	b->next = NULL;
	pkb_free(b);
}

void skiff__zc_release_acked(struct skiff_sock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	bool any = false;
	u32_t low = 0;

	if (!s->zq_head || !pcb)
		return;
	/* Each queue is in sequence order (retransmissions are moved back in
	 * order): its head is its lowest. */
	if (pcb->unacked) {
		low = lwip_ntohl(pcb->unacked->tcphdr->seqno);
		any = true;
	}
	if (pcb->unsent) {
		u32_t u = lwip_ntohl(pcb->unsent->tcphdr->seqno);

		if (!any || TCP_SEQ_LT(u, low))
			low = u;
		any = true;
	}
	while (s->zq_head && (!any || TCP_SEQ_GEQ(low, zcb(s->zq_head)->end_seq)))
		zq_pop_free(s);
}

void skiff__zc_release_all(struct skiff_sock *s, bool aborted)
{
	if (aborted && s->zs && s->zq_head)
		zc_sock_abort(s->zs);
	while (s->zq_head)
		zq_pop_free(s);
}

bool skiff__zc_busy(const struct skiff_sock *s)
{
	return s->zq_len || (s->zs && zc_sock_outstanding(s->zs));
}

void skiff__zc_sock_close(struct skiff_sock *s)
{
	if (!s->zs)
		return;
	/* Outstanding sends still complete, once each (the callback, if
	 * any, hears them); the struct stays until then. */
	bool outstanding = zc_sock_outstanding(s->zs) != 0;

	/* Without outstanding sends zerocopy/ may free it right away. */
	zc_sock_destroy(s->zs);
	if (!outstanding)
		s->zs = NULL;
}

/* ---- completions ------------------------------------------------------------- */

static void queue_range(struct skiff_sock *s, uint32_t lo, uint32_t hi, unsigned flags)
{
	struct skiff_zc_range *last = s->zr_len ? &s->zr[s->zr_len - 1] : NULL;

	if (last && last->flags == flags && last->hi + 1 == lo) {
		last->hi = hi;
		return;
	}
	if (s->zr_len == s->zr_cap) {
		unsigned cap = s->zr_cap ? s->zr_cap * 2 : 16;
		struct skiff_zc_range *r = realloc(s->zr, cap * sizeof(*r));

		if (!r) {
			/* Better a merged range than a lost completion. */
			if (last) {
				last->hi = hi;
				last->flags |= flags;
			}
			return;
		}
		s->zr = r;
		s->zr_cap = cap;
	}
	s->zr[s->zr_len++] = (struct skiff_zc_range){.lo = lo, .hi = hi, .flags = flags};
}

/* zerocopy/ reports ids [lo, hi] of this socket done (from the poll loop). */
static void on_complete(void *opaque, uint32_t lo, uint32_t hi, unsigned flags)
{
	struct skiff_sock *s = opaque;

	if (s->zc_cb)
		s->zc_cb(s->zc_opaque, s->zc_fd, lo, hi, flags);
	else if (!s->app_closed)
		queue_range(s, lo, hi, flags);
	skiff__notify(s);
	if (s->app_closed && s->zs && !zc_sock_outstanding(s->zs)) {
		s->zs = NULL; /* zerocopy/ frees it after this callback */
		skiff__sock_maybe_free(s);
	}
}

int skiff_zc_set_callback(int fd, skiff_zc_fn cb, void *opaque)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind != SKIFF_SK_TCP)
		FAIL(ENOTSUP);
	s->zc_cb = cb;
	s->zc_opaque = opaque;
	return 0;
}

int skiff_zc_completions(int fd, struct skiff_zc_range *out, int max)
{
	struct skiff_sock *s;
	int e, n;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (max < 0 || (max && !out))
		FAIL(EINVAL);
	n = (int)s->zr_len < max ? (int)s->zr_len : max;
	if (!n)
		return 0; /* s->zr may not even exist yet */
	memcpy(out, s->zr, (size_t)n * sizeof(*out));
	memmove(s->zr, s->zr + n, (s->zr_len - (unsigned)n) * sizeof(*s->zr));
	s->zr_len -= (unsigned)n;
	return n;
}

/* ---- buffers -------------------------------------------------------------------- */

/* The payload one segment of @p pcb carries, as tcp_write() cuts it. */
static uint32_t seg_payload(const struct tcp_pcb *pcb)
{
	u16_t mss = LWIP_MIN(pcb->mss, TCPWND_MIN16(pcb->snd_wnd_max / 2));
	u8_t opt;

	if (!mss)
		mss = pcb->mss;
	opt = skiff__hook_tcpopt_length(
		pcb, LWIP_TCP_OPT_LENGTH((pcb->flags & TF_TIMESTAMP) ? TF_SEG_OPTS_TS : 0));
	return mss > opt ? (uint32_t)(mss - opt) : 1;
}

/* The payload a buffer for @p fd holds (-1: the default segment); 0 or
 * -errno. */
static int buf_cap(int fd, uint32_t *cap)
{
	struct skiff_sock *s;
	int e;

	*cap = TCP_MSS - (LWIP_TCP_OPT_LENGTH(TF_SEG_OPTS_TS));
	if (!skiff__s.up)
		return -ENETDOWN;
	if (fd < 0)
		return 0;
	if (!(s = skiff__sock_get(fd, &e)))
		return -e;
	if (s->kind != SKIFF_SK_TCP)
		return -ENOTSUP;
	if (s->state != SKIFF_TS_CONNECTED || !s->pcb.tcp)
		return -ENOTCONN;
	*cap = seg_payload(s->pcb.tcp);
	return 0;
}

/*
 * True while the application may pin one more frame in a send: frames free
 * or on the fill ring must stay above the reserve set at start (an eighth
 * of the UMEM, at most a fill ring's worth). The ACKs that release sent
 * frames arrive through the fill ring; with every frame pinned in sends
 * none could, and nothing would ever be released.
 */
static bool rx_reserve_ok(void)
{
	const struct skiff_stack *s = &skiff__s;

	return umem_frames_in(s->umem, UMEM_FRAME_FREE) + umem_frames_in(s->umem, UMEM_FRAME_FILL) >
	       s->rx_reserve;
}

int skiff_zc_alloc(int fd, struct skiff_zc_buf *buf)
{
	struct pkb *pkb;
	uint32_t cap;
	int e;

	if (!buf)
		FAIL(EINVAL);
	memset(buf, 0, sizeof(*buf));
	if ((e = buf_cap(fd, &cap)))
		FAIL(-e);
	if (!rx_reserve_ok())
		FAIL(ENOMEM);
	e = pkb_alloc_tx(skiff__s.pool, &pkb);
	if (e)
		FAIL(-e);
	if (cap > pkb_tailroom(pkb))
		cap = pkb_tailroom(pkb);
	buf->data = pkb->data;
	buf->cap = cap;
	buf->priv__ = pkb;
	return 0;
}

int skiff_zc_loan_to_buf(int fd, struct skiff_zc_loan *loan, struct skiff_zc_buf *buf)
{
	struct zc_loan zl;
	struct pkb *pkb;
	uint32_t cap;
	int e;

	if (!loan || !buf || !loan->priv__ || !loan->len || (loan->flags & SKIFF_ZC_LOAN_COPIED))
		FAIL(EINVAL);
	if ((e = buf_cap(fd, &cap)))
		FAIL(-e);
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
		FAIL(EINVAL);
	/* Only a frame of its own, whose data is the loan, can take headers in
	 * front: anything else stays a loan. */
	if (pkb->data != loan->data || pkb_len(pkb) != loan->len || pkb_data_shared(pkb) ||
	    pkb_headroom(pkb) < PKB_TX_HEADROOM)
		FAIL(EINVAL);
	/* A lent frame is already off the fill ring; sent on, it stays out
	 * until ACKed, so the same reserve applies. */
	if (!rx_reserve_ok())
		FAIL(ENOBUFS);
	if ((e = zc_rx_take(skiff__s.zc, &zl, &pkb)))
		FAIL(-e);
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

void skiff_zc_free(struct skiff_zc_buf *buf)
{
	if (!buf || !buf->priv__)
		return;
	pkb_free(buf->priv__);
	memset(buf, 0, sizeof(*buf));
}

/* ---- send ------------------------------------------------------------------------ */

static uint32_t pool_free(memp_t t)
{
	const struct stats_mem *m = lwip_stats.memp[t];

	return m && m->avail > m->used ? (uint32_t)(m->avail - m->used) : 0;
}

/* Room for @p n buffers of @p total bytes, so that no tcp_write() of the
 * send fails half way (which would leave part of it queued). A buffer
 * longer than one segment (skiff_zc_loan_to_buf() makes them) becomes
 * several, each with its pbufs. */
static bool room_for(const struct tcp_pcb *pcb, const struct skiff_zc_buf *bufs, unsigned n,
		     uint32_t total)
{
	uint32_t seg = seg_payload(pcb), segs = 0;

	for (unsigned i = 0; i < n; i++)
		segs += (bufs[i].len + seg - 1) / seg;
	return tcp_sndbuf(pcb) >= total && tcp_sndqueuelen(pcb) + 3u * segs <= TCP_SND_QUEUELEN &&
	       pool_free(MEMP_PBUF) >= segs + 8 && pool_free(MEMP_TCP_SEG) >= 2 * segs + 8;
}

static int check_bufs(const struct skiff_zc_buf *bufs, unsigned n, uint32_t *total)
{
	*total = 0;
	if (!bufs || !n || n > 1024)
		return EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct pkb *pkb = bufs[i].priv__;

		if (!pkb || bufs[i].data != pkb->data || !bufs[i].len ||
		    bufs[i].len > bufs[i].cap || bufs[i].len > pkb_len(pkb) + pkb_tailroom(pkb) ||
		    bufs[i].len > 0xffff || pkb_ubuf(pkb))
			return EINVAL;
		*total += bufs[i].len;
	}
	return 0;
}

/* The last segment of @p pcb's unsent queue at or after @p from (NULL:
 * from its head), or NULL. */
static struct tcp_seg *unsent_tail(const struct tcp_pcb *pcb, struct tcp_seg *from)
{
	struct tcp_seg *seg = from ? from : pcb->unsent;

	while (seg && seg->next)
		seg = seg->next;
	return seg;
}

/*
 * tcp_write() of one buffer into segments of its own. With room left in
 * the last unsent segment lwIP chains the buffer's first bytes onto it
 * (tcp_write()'s phase 2, which skips only empty segments) and cuts the
 * rest from there: no segment of the buffer then starts its frame, none
 * can take its headers in place, and every byte of it, and of the sends
 * cut the same way after it while the queue stays full, goes out copied.
 * Hiding the tail's length for the call keeps lwIP out of it; a short
 * segment on the wire is the price.
 */
static err_t write_own_segments(struct tcp_pcb *pcb, struct tcp_seg *tail, const void *data,
				u16_t len, u8_t flags)
{
	u16_t tail_len;
	err_t err;

	if (!tail)
		return tcp_write(pcb, data, len, flags);
	tail_len = tail->len;
	tail->len = 0;
	err = tcp_write(pcb, data, len, flags);
	tail->len = tail_len;
	return err;
}

static int64_t zc_send_now(struct skiff_sock *s, struct skiff_zc_buf *bufs, unsigned n, int flags)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	struct tcp_seg *tail = unsent_tail(pcb, NULL);
	struct zc_send *send;
	unsigned i;
	int64_t id;
	int e;

	if (!s->zs) {
		e = zc_sock_create(&s->zs, skiff__s.zc, on_complete, s);
		if (e)
			return -ENOBUFS;
	}
	e = zc_send_begin(s->zs, &send);
	if (e)
		return -EAGAIN; /* every send object is in flight: wait for completions */
	/* Spare room at the end of the last unsent segment would take the
	 * first bytes of this send by copy: start a segment of its own. */
	pcb->unsent_oversize = 0;
#if TCP_OVERSIZE_DBGCHECK
	/* lwIP asserts the segment's copy of it agrees (debug builds). */
	if (tail)
		tail->oversize_left = 0;
#endif
	for (i = 0; i < n; i++) {
		struct pkb *pkb = bufs[i].priv__;
		u8_t wf = (i + 1 < n || (flags & MSG_MORE)) ? TCP_WRITE_FLAG_MORE : 0;
		err_t err;

		pkb_trim(pkb, 0);
		pkb_put(pkb, bufs[i].len);
		err = write_own_segments(pcb, tail, pkb->data, (u16_t)bufs[i].len, wf);
		if (err != ERR_OK) {
			zc_send_cancel(send);
			for (unsigned k = 0; k <= i; k++)
				pkb_trim(bufs[k].priv__, 0);
			if (i == 0)
				return -EAGAIN;
			/* Part of the send is queued and cannot be taken back:
			 * the stream would lose bytes. The room check makes this
			 * unreachable; if not, the connection goes. */
			tcp_err(pcb, NULL);
			tcp_abort(pcb);
			return -ENOBUFS;
		}
		zcb(pkb)->end_seq = pcb->snd_lbb;
		tail = unsent_tail(pcb, tail); /* the segments just queued */
	}
	for (i = 0; i < n; i++) {
		struct pkb *pkb = bufs[i].priv__;

		zc_send_attach(send, pkb);
		pkb->next = NULL;
		if (s->zq_tail)
			s->zq_tail->next = pkb;
		else
			s->zq_head = pkb;
		s->zq_tail = pkb;
		s->zq_len++;
		bufs[i].priv__ = NULL; /* the stack's until the id completes */
	}
	id = zc_send_id(send);
	zc_send_commit(send);
	if (!(flags & MSG_MORE))
		tcp_output(pcb);
	return id;
}

int64_t skiff_zc_send(int fd, struct skiff_zc_buf *bufs, unsigned n, int flags)
{
	struct skiff_sock *s;
	long long deadline;
	uint32_t total;
	int e;

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind != SKIFF_SK_TCP)
		FAIL(ENOTSUP);
	if ((e = check_bufs(bufs, n, &total)))
		FAIL(e);
	deadline = skiff__deadline(s->sndtimeo_ms);
	for (;;) {
		switch (s->state) {
		case SKIFF_TS_NEW:
		case SKIFF_TS_LISTEN:
			FAIL(ENOTCONN);
		case SKIFF_TS_DEAD:
			e = skiff__sock_error(s, true);
			FAIL(e ? e : EPIPE);
		case SKIFF_TS_CONNECTING:
			e = EAGAIN;
			break;
		case SKIFF_TS_CONNECTED:
			if (s->err) {
				e = skiff__sock_error(s, true);
				FAIL(e);
			}
			if (s->wr_shut || !s->pcb.tcp)
				FAIL(EPIPE);
			e = EAGAIN;
			if (room_for(s->pcb.tcp, bufs, n, total)) {
				int64_t id = zc_send_now(s, bufs, n, flags);

				if (id >= 0)
					return id;
				e = (int)-id;
			}
			break;
		}
		if (e != EAGAIN || s->nonblock || (flags & MSG_DONTWAIT))
			FAIL(e);
		e = skiff__wait(deadline);
		if (e == -ETIMEDOUT)
			FAIL(EAGAIN);
		if (e)
			FAIL(-e);
		if (!(s = skiff__sock_get(fd, &e)))
			FAIL(EBADF);
	}
}

/* ---- receive loans ---------------------------------------------------------------- */

/* Lends the head of the receive queue; 0, or -ENOBUFS / -ENOMEM. */
static int lend_one(struct skiff_sock *s, struct skiff_zc_loan *out)
{
	struct pbuf *q = s->rx_head, *next = q->next;
	uint8_t *data = (uint8_t *)q->payload + s->rx_off;
	uint32_t len = q->len - s->rx_off;
	struct pkb *pkb = skiff__rx_pkb(q);
	bool copied = false;
	struct zc_loan zl;
	int e;

	if (pkb && q->ref == 1) {
		/* The pbuf lives in this pkb's cb: from here on the pkb (and
		 * with it the pbuf) is zerocopy/'s, never lwIP's again. */
		pkb_pull(pkb, (uint32_t)(data - pkb->data));
		pkb_trim(pkb, len);
		e = zc_rx_loan(skiff__s.zc, pkb, &zl);
		if (e)
			return e; /* nothing changed that the pbuf depends on */
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
		skiff__s.st.rx_copied_bytes += len;
		copied = true;
		q->next = NULL;
		pbuf_free(q);
	}
	s->rx_head = next;
	if (!next)
		s->rx_tail = NULL;
	s->rx_off = 0;
	s->rx_bytes -= len;
	s->rx_unacked += len;
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

	if (!(s = skiff__sock_get(fd, &e)))
		FAIL(e);
	if (s->kind != SKIFF_SK_TCP)
		FAIL(ENOTSUP);
	if (!loans || !max)
		FAIL(EINVAL);
	if (s->state == SKIFF_TS_NEW || s->state == SKIFF_TS_LISTEN)
		FAIL(ENOTCONN);
	nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	deadline = skiff__deadline(s->rcvtimeo_ms);
	while (!s->rx_head || s->rd_shut) {
		if (s->rd_eof || s->rd_shut)
			return 0;
		if (s->state == SKIFF_TS_DEAD) {
			e = skiff__sock_error(s, false);
			if (!e)
				return 0;
			FAIL(e);
		}
		if (nonblock)
			FAIL(EAGAIN);
		e = skiff__wait(deadline);
		if (e == -ETIMEDOUT)
			FAIL(EAGAIN);
		if (e)
			FAIL(-e);
		if (!(s = skiff__sock_get(fd, &e)))
			FAIL(EBADF);
	}
	while (n < max && s->rx_head) {
		e = lend_one(s, &loans[n]);
		if (e)
			break;
		n++;
	}
	/* The window opens for what was lent (0 bytes: just the ACK). */
	skiff__rx_consumed(s, 0);
	if (!n)
		FAIL(e == -ENOBUFS ? ENOBUFS : ENOMEM);
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
