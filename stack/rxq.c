/* A TCP socket's receive queue: lwIP's deliveries as single pbufs, most of
 * them pbuf_custom over the UMEM frame they arrived in, until the
 * application copies them out (skiff_recv) or borrows them (skiff_zc_recv).
 * The window opens as they are consumed; the update goes out at the next
 * poll round unless the application's answer carries it (ackbatch.c). */
#include <string.h>

#include "frames.h"
#include "instance.h"
#include "mptcp.h"
#include "ooseq.h"
#include "sock.h"
#include "tcpglue.h"
#include "timers.h"

#include "lwip/pbuf.h"
#include "lwip/tcp.h"

/* Queues holding frames, and their frames summed. */
static struct skiff_rxq *holders;
static uint32_t frames_queued;

static void count_in(struct skiff_rxq *q, const struct pbuf *p)
{
	if (!skiff__rx_pkb(p))
		return;
	frames_queued++;
	if (++q->frames > skiff__s.stats.rx_queued_frames_conn_peak)
		skiff__s.stats.rx_queued_frames_conn_peak = q->frames;
	if (q->frames > 1)
		return;
	q->hprev = NULL;
	q->hnext = holders;
	if (holders)
		holders->hprev = q;
	holders = q;
}

/* Before @p p leaves @p q (freed, lent or replaced). */
static void count_out(struct skiff_rxq *q, const struct pbuf *p)
{
	if (!skiff__rx_pkb(p))
		return;
	frames_queued--;
	if (--q->frames)
		return;
	if (q->hprev)
		q->hprev->hnext = q->hnext;
	else
		holders = q->hnext;
	if (q->hnext)
		q->hnext->hprev = q->hprev;
	q->hnext = q->hprev = NULL;
}

uint32_t skiff__rxq_frames(void)
{
	return frames_queued;
}

/* A copy of @p p's payload in lwIP's heap, for a frame only the queue
 * holds; NULL leaves @p p as it is. */
static struct pbuf *orphan(struct pbuf *p)
{
	struct pbuf *c;

	if (!skiff__rx_pkb(p) || p->ref != 1 || !(c = pbuf_alloc(PBUF_RAW, p->len, PBUF_RAM)))
		return NULL;
	memcpy(c->payload, p->payload, p->len);
	return c;
}

void skiff__rxq_append(struct skiff_rxq *q, struct pbuf *p)
{
	struct skiff_stack *st = &skiff__s;

	while (p) {
		struct pbuf *next = p->next, *c;

		p->next = NULL;
		if (!p->len) {
			pbuf_free(p);
			p = next;
			continue;
		}
		/* Past the connection's budget the data moves to the heap:
		 * a slow reader does not pin the UMEM. */
		if (q->frames >= st->cfg.max_rx_frames_conn && (c = orphan(p))) {
			st->stats.rx_budget_orphaned_bytes += p->len;
			pbuf_free(p);
			p = c;
		}
		p->tot_len = p->len;
		if (q->tail)
			q->tail->next = p;
		else
			q->head = p;
		q->tail = p;
		q->bytes += p->len;
		count_in(q, p);
		p = next;
	}
}

void skiff__rxq_drop(struct skiff_rxq *q)
{
	while (q->head) {
		struct pbuf *p = q->head;

		q->head = p->next;
		p->next = NULL;
		count_out(q, p);
		pbuf_free(p);
	}
	q->tail = NULL;
	q->off = 0;
	q->bytes = 0;
}

/* Frees @p n bytes from the head. */
static void drop_bytes(struct skiff_rxq *q, size_t n)
{
	while (n && q->head) {
		struct pbuf *p = q->head;
		size_t have = p->len - q->off;

		if (n < have) {
			q->off += (uint32_t)n;
			break;
		}
		n -= have;
		q->head = p->next;
		if (!q->head)
			q->tail = NULL;
		q->off = 0;
		p->next = NULL;
		count_out(q, p);
		pbuf_free(p);
	}
}

void skiff__rxq_consume(struct skiff_sock *s, size_t n)
{
	struct skiff_rxq *q = &s->rx;
	struct tcp_pcb *pcb = s->pcb.tcp;

	drop_bytes(q, n);
	q->bytes -= n;
	if (!pcb || pcb->state == LISTEN)
		return;
	n += q->unacked;
	q->unacked = 0;
	/* The window update, if one is due, goes at the next poll round,
	 * unless the application's answer carries it (ackbatch.c). */
	if (n)
		skiff__batch_add(s, SKIFF_BATCH_ACK);
	skiff__tcp_recved(pcb, n);
	/* An MPTCP connection's joins are owed window as it is read. */
	if (pcb->skiff_flags & SKIFF_PCB_MPTCP)
		skiff__mptcp_read(pcb);
	skiff__timer_arm(pcb);
}

size_t skiff__rxq_copy(struct skiff_sock *s, uint8_t *buf, size_t len, bool peek)
{
	struct skiff_rxq *q = &s->rx;
	struct pbuf *p = q->head;
	uint32_t off = q->off;
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
		skiff__s.stats.rx_recv_copied_bytes += done;
		skiff__rxq_consume(s, done);
	}
	return done;
}

bool skiff__rxq_peek_head(const struct skiff_rxq *q, struct pbuf **p, uint8_t **data, uint32_t *len)
{
	if (!q->head)
		return false;
	*p = q->head;
	*data = (uint8_t *)q->head->payload + q->off;
	*len = q->head->len - q->off;
	return true;
}

void skiff__rxq_lent_head(struct skiff_rxq *q, bool keep)
{
	struct pbuf *p = q->head;
	uint32_t len = p->len - q->off;

	q->head = p->next;
	if (!q->head)
		q->tail = NULL;
	q->off = 0;
	q->bytes -= len;
	q->unacked += len;
	p->next = NULL;
	count_out(q, p);
	if (!keep)
		pbuf_free(p);
}

void skiff__rxq_unlend_head(struct skiff_rxq *q, struct pbuf *p, uint32_t off)
{
	uint32_t len = p->len - off;

	p->next = q->head;
	q->head = p;
	if (!q->tail)
		q->tail = p;
	q->off = off;
	q->bytes += len;
	q->unacked -= len;
	count_in(q, p);
}

/* Received data an application leaves queued pins one UMEM frame per
 * segment, and the fill ring needs frames to receive anything at all (ACKs
 * included). When most frames are held, the out-of-order queues go first
 * (their data was never acknowledged: the peers resend it), then queued
 * payloads are copied into lwIP's heap and their frames let go: DESIGN.md's
 * orphaning of a holder that keeps data indefinitely. Counted in
 * tcp_ooseq_pressure_drops and rx_orphaned_bytes. */
void skiff__rxq_relieve(void)
{
	struct skiff_stack *st = &skiff__s;
	uint64_t live = pkb__hot(st->pool)->live_frames;
	uint64_t total = st->geo.frame_count;
	bool pressure = live >= total * 3 / 4;
	struct skiff_rxq *q, *next;

	skiff__ooseq_relieve(pressure);
	if (!pressure)
		return;
	live = pkb__hot(st->pool)->live_frames;
	for (q = holders; q && live > total / 2; q = next) {
		struct pbuf **pp = &q->head, *p;

		next = q->hnext; /* q leaves the list once its last frame goes */
		q->tail = NULL;
		while ((p = *pp)) {
			struct pbuf *c = orphan(p);

			if (!c) {
				q->tail = p;
				pp = &p->next;
				continue;
			}
			c->next = p->next;
			*pp = c;
			q->tail = c;
			pp = &c->next;
			st->stats.rx_orphaned_bytes += p->len;
			p->next = NULL;
			count_out(q, p);
			pbuf_free(p);
			live--;
		}
	}
}
