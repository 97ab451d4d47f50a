/* Zero-copy sends on skiff sockets, over zerocopy/'s contract
 * (docs/zerocopy.md).
 *
 * Each buffer is a UMEM frame (pkb_alloc_tx) the application filled;
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

#include "instance.h"
#include "skiff_testing.h"
#include "skiff_lwip_hooks.h"
#include "sock.h"
#include "tcpglue.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"

/* What a queued buffer's cb holds. */
struct zbuf_cb {
	u32_t end_seq; /* one past its last byte */
	uint32_t id;   /* the send it belongs to */
};

PKB__STATIC_ASSERT(sizeof(struct zbuf_cb) <= PKB_CB_SIZE, "zero-copy buffer state fits the cb");

static struct zbuf_cb *zcb(struct pkb *pkb)
{
	return (struct zbuf_cb *)(void *)pkb->cb;
}

/* ---- TCP's references --------------------------------------------------------- */

/* Frees the oldest buffer; the id of the send it belonged to. */
static uint32_t zq_pop_free(struct skiff_sock *s)
{
	struct pkb *b = s->zc.q_head;
	uint32_t id = zcb(b)->id;

	s->zc.q_head = b->next;
	if (!s->zc.q_head)
		s->zc.q_tail = NULL;
	s->zc.q_len--;
	b->next = NULL;
	pkb_free(b);
	return id;
}

/* Frees the buffers queued before sequence number @p low (every one
 * without @p bounded); each send before the oldest buffer left (all of
 * them when none is) completes as acknowledged: an abort now leaves them
 * be. */
static void zq_release(struct skiff_sock *s, bool bounded, u32_t low)
{
	bool popped = false;
	uint32_t id = 0;

	while (s->zc.q_head && (!bounded || TCP_SEQ_GEQ(low, zcb(s->zc.q_head)->end_seq))) {
		id = zq_pop_free(s);
		popped = true;
	}
	if (popped && s->zc.zs)
		zc_sock_acked(s->zc.zs, s->zc.q_head ? zcb(s->zc.q_head)->id : id + 1);
}

void skiff__zc_release_acked(struct skiff_sock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	bool any = false;
	u32_t low = 0;

	if (!s->zc.q_head || !pcb)
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
	zq_release(s, any, low);
}

void skiff__zc_release_moved(struct skiff_sock *s)
{
	zq_release(s, false, 0);
}

void skiff__zc_release_all(struct skiff_sock *s, bool aborted)
{
	if (aborted && s->zc.zs && s->zc.q_head)
		zc_sock_abort(s->zc.zs);
	while (s->zc.q_head)
		zq_pop_free(s);
}

bool skiff__zc_busy(const struct skiff_sock *s)
{
	return s->zc.q_len || (s->zc.zs && zc_sock_outstanding(s->zc.zs));
}

void skiff__zc_sock_close(struct skiff_sock *s)
{
	if (!s->zc.zs)
		return;
	/* Outstanding sends still complete, once each (the callback, if
	 * any, hears them); the struct stays until then. */
	bool outstanding = zc_sock_outstanding(s->zc.zs) != 0;

	/* Without outstanding sends zerocopy/ may free it right away. */
	zc_sock_destroy(s->zc.zs);
	if (!outstanding)
		s->zc.zs = NULL;
}

/* ---- completions ------------------------------------------------------------- */

static void queue_range(struct skiff_sock *s, uint32_t lo, uint32_t hi, unsigned flags)
{
	struct skiff_zc_range *last = s->zc.done_len ? &s->zc.done[s->zc.done_len - 1] : NULL;

	if (last && last->flags == flags && last->hi + 1 == lo) {
		last->hi = hi;
		return;
	}
	if (s->zc.done_len == s->zc.done_cap) {
		unsigned cap = s->zc.done_cap ? s->zc.done_cap * 2 : 16;
		struct skiff_zc_range *r = realloc(s->zc.done, cap * sizeof(*r));

		if (!r) {
			/* Better a merged range than a lost completion. */
			if (last) {
				last->hi = hi;
				last->flags |= flags;
			}
			return;
		}
		s->zc.done = r;
		s->zc.done_cap = cap;
	}
	s->zc.done[s->zc.done_len++] = (struct skiff_zc_range){.lo = lo, .hi = hi, .flags = flags};
}

/* zerocopy/ reports ids [lo, hi] of this socket done (from the poll loop). */
static void on_complete(void *opaque, uint32_t lo, uint32_t hi, unsigned flags)
{
	struct skiff_sock *s = opaque;

	if (s->zc.cb)
		s->zc.cb(s->zc.opaque, s->zc.fd, lo, hi, flags);
	else if (!s->app_closed)
		queue_range(s, lo, hi, flags);
	skiff__notify(s);
	if (s->app_closed && s->zc.zs && !zc_sock_outstanding(s->zc.zs)) {
		s->zc.zs = NULL; /* zerocopy/ frees it after this callback */
		skiff__sock_maybe_free(s);
	}
}

int skiff_zc_set_callback(int fd, skiff_zc_fn cb, void *opaque)
{
	struct skiff_sock *s;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -1;
	s->zc.cb = cb;
	s->zc.opaque = opaque;
	return 0;
}

int skiff_zc_completions(int fd, struct skiff_zc_range *out, int max)
{
	struct skiff_sock *s;
	int n;

	if (!(s = skiff__sock_get(fd)))
		SKIFF_FAIL(EBADF);
	if (max < 0 || (max && !out))
		SKIFF_FAIL(EINVAL);
	n = (int)s->zc.done_len < max ? (int)s->zc.done_len : max;
	if (!n)
		return 0; /* s->zc.done may not even exist yet */
	memcpy(out, s->zc.done, (size_t)n * sizeof(*out));
	memmove(s->zc.done, s->zc.done + n, (s->zc.done_len - (unsigned)n) * sizeof(*s->zc.done));
	s->zc.done_len -= (unsigned)n;
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
	opt = LWIP_HOOK_TCP_OUT_TCPOPT_LENGTH(
		pcb, LWIP_TCP_OPT_LENGTH((pcb->flags & TF_TIMESTAMP) ? TF_SEG_OPTS_TS : 0));
	return mss > opt ? (uint32_t)(mss - opt) : 1;
}

/* The payload a buffer for @p fd holds (-1: the default segment); 0 or
 * -errno. */
int skiff__zc_buf_cap(int fd, uint32_t *cap)
{
	struct skiff_sock *s;

	*cap = TCP_MSS - (LWIP_TCP_OPT_LENGTH(TF_SEG_OPTS_TS));
	if (!skiff__running())
		return -ENETDOWN;
	if (fd < 0)
		return 0;
	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -errno;
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
bool skiff__zc_reserve_ok(void)
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
		SKIFF_FAIL(EINVAL);
	memset(buf, 0, sizeof(*buf));
	if ((e = skiff__zc_buf_cap(fd, &cap)))
		SKIFF_FAIL(-e);
	if (!skiff__zc_reserve_ok())
		SKIFF_FAIL(ENOMEM);
	e = pkb_alloc_tx(skiff__s.pool, &pkb);
	if (e)
		SKIFF_FAIL(-e);
	if (cap > pkb_tailroom(pkb))
		cap = pkb_tailroom(pkb);
	buf->data = pkb->data;
	buf->cap = cap;
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

/* Room for @p n buffers of @p total bytes, so that no tcp_write() of the
 * send fails half way (which would leave part of it queued). A buffer
 * longer than one segment (skiff_zc_loan_to_buf() makes them) becomes
 * several. (lwIP's pools come from malloc(): only the send buffer and the
 * queue length bound a send.) */
static bool room_for(const struct tcp_pcb *pcb, const struct skiff_zc_buf *bufs, unsigned n,
		     uint32_t total)
{
	uint32_t seg = seg_payload(pcb), segs = 0;

	for (unsigned i = 0; i < n; i++)
		segs += (bufs[i].len + seg - 1) / seg;
	return tcp_sndbuf(pcb) >= total && tcp_sndqueuelen(pcb) + 3u * segs <= TCP_SND_QUEUELEN;
}

static int check_bufs(const struct skiff_zc_buf *bufs, unsigned n, uint32_t *total)
{
	*total = 0;
	if (!bufs || !n || n > 1024)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct pkb *pkb = bufs[i].priv__;

		if (!pkb || bufs[i].data != pkb->data || !bufs[i].len ||
		    bufs[i].len > bufs[i].cap || bufs[i].len > pkb_len(pkb) + pkb_tailroom(pkb) ||
		    bufs[i].len > 0xffff || pkb_ubuf(pkb))
			return -EINVAL;
		*total += bufs[i].len;
	}
	return 0;
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
		return skiff__tcp_write(pcb, data, len, flags);
	tail_len = tail->len;
	tail->len = 0;
	err = skiff__tcp_write(pcb, data, len, flags);
	tail->len = tail_len;
	return err;
}

static int64_t send_now(struct skiff_sock *s, struct skiff_zc_buf *bufs, unsigned n, int flags)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	struct tcp_seg *tail = tcp_unsent_last(pcb); /* patch 0023: no walk */
	struct zc_send *send;
	unsigned i;
	int64_t id;
	int e;

	if (!s->zc.zs) {
		e = zc_sock_create(&s->zc.zs, skiff__s.zc, on_complete, s);
		if (e)
			return -ENOBUFS;
	}
	e = zc_send_begin(s->zc.zs, &send);
	if (e)
		return -EAGAIN; /* every send object is in flight: wait for completions */
	skiff__send_begin(s, pcb);
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
		tail = tcp_unsent_last(pcb); /* the segments just queued */
	}
	for (i = 0; i < n; i++) {
		struct pkb *pkb = bufs[i].priv__;

		zc_send_attach(send, pkb);
		zcb(pkb)->id = zc_send_id(send);
		pkb->next = NULL;
		if (s->zc.q_tail)
			s->zc.q_tail->next = pkb;
		else
			s->zc.q_head = pkb;
		s->zc.q_tail = pkb;
		s->zc.q_len++;
		bufs[i].priv__ = NULL; /* the stack's until the id completes */
	}
	id = zc_send_id(send);
	zc_send_commit(send);
	if (!skiff__send_holds(s, pcb, flags))
		tcp_output(pcb);
	skiff__timer_arm(pcb);
	return id;
}

int64_t skiff_zc_send(int fd, struct skiff_zc_buf *bufs, unsigned n, int flags)
{
	struct skiff_sock *s;
	long long deadline;
	uint32_t total;
	int e;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -1;
	if ((e = check_bufs(bufs, n, &total)))
		SKIFF_FAIL(-e);
	deadline = skiff__deadline(s->opt.sndtimeo_ms);
	for (;;) {
		switch (s->state) {
		case SKIFF_TS_NEW:
		case SKIFF_TS_LISTEN:
			SKIFF_FAIL(ENOTCONN);
		case SKIFF_TS_DEAD:
			e = skiff__sock_error(s, true);
			SKIFF_FAIL(e ? -e : EPIPE);
		case SKIFF_TS_CONNECTING:
			e = -EAGAIN;
			break;
		case SKIFF_TS_CONNECTED:
			if (s->err) {
				e = skiff__sock_error(s, true);
				SKIFF_FAIL(-e);
			}
			if (s->wr_shut || !s->pcb.tcp)
				SKIFF_FAIL(EPIPE);
			e = -EAGAIN;
			if (room_for(s->pcb.tcp, bufs, n, total)) {
				int64_t id = send_now(s, bufs, n, flags);

				if (id >= 0)
					return id;
				e = (int)id;
			}
			/* No room: what a cork holds goes now (a full send
			 * buffer ends it, as for a plain send). */
			if (s->opt.cork && s->pcb.tcp)
				tcp_output(s->pcb.tcp);
			break;
		}
		if (e != -EAGAIN || s->opt.nonblock || (flags & MSG_DONTWAIT))
			SKIFF_FAIL(-e);
		e = skiff__sock_wait(fd, deadline, &s);
		if (e)
			SKIFF_FAIL(-e);
	}
}

int skiff__zc_buffers_held(int fd)
{
	struct skiff_sock *s = skiff__sock_of(fd, SKIFF_SK_TCP);

	return s ? (int)s->zc.q_len : -errno;
}

void skiff__zc_forget(struct skiff_sock *s)
{
	free(s->zc.done);
	s->zc.done = NULL;
	s->zc.done_len = s->zc.done_cap = 0;
}
