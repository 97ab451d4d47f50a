/* The out-of-order queues' frame budget. A segment that arrives ahead of a
 * hole waits in lwIP's out-of-order queue in the UMEM frame it came in; a
 * peer that sends only such segments (one byte each, if it likes) could
 * pin every frame. So:
 *
 *  - each time lwIP queues a segment it asks skiff__ooseq_within()
 *    (TCP_OOSEQ_WITHIN_LIMITS) whether the queue is within its budget:
 *    the smaller of max_ooseq_frames_conn and what max_ooseq_frames
 *    leaves after the other connections. When not, lwIP walks the queue
 *    against skiff__ooseq_limit() (TCP_OOSEQ_PBUFS_LIMIT) and drops the
 *    segments past it, highest first (the peer resends them: they were
 *    never acknowledged);
 *  - a connection the application closed drops its queue: nobody will
 *    read that data;
 *  - when frames run short, every out-of-order queue goes (as Linux prunes
 *    its out-of-order queues under memory pressure) before received data
 *    the application has not read is orphaned (rxq.c).
 *
 * Connections holding out-of-order frames are on one list with the count
 * their queue had when last looked at; the list is re-counted every
 * SKIFF_OOSEQ_RESYNC_MS (segments leave the queue when a hole fills, or at
 * lwIP's own out-of-order timeout, without telling us). */
#include "engine.h"
#include "instance.h"
#include "ooseq.h"

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

/* The most payload one frame carries (an Ethernet frame's IP packet):
 * what the byte limit is checked with. */
#define SKIFF_FRAME_PAYLOAD_MAX 1500u

#ifndef SKIFF_OOSEQ_RESYNC_MS
#define SKIFF_OOSEQ_RESYNC_MS 10
#endif

static struct tcp_pcb *holders;
static uint32_t held; /* the holders' counts, summed */
static long long last_resync;

static uint32_t count(const struct tcp_pcb *pcb)
{
	uint32_t n = 0;

	for (const struct tcp_seg *s = pcb->ooseq; s; s = s->next)
		n += pbuf_clen(s->p);
	return n;
}

static void unlink_holder(struct tcp_pcb *pcb)
{
	if (pcb->skiff_qprev)
		pcb->skiff_qprev->skiff_qnext = pcb->skiff_qnext;
	else
		holders = pcb->skiff_qnext;
	if (pcb->skiff_qnext)
		pcb->skiff_qnext->skiff_qprev = pcb->skiff_qprev;
	pcb->skiff_qnext = pcb->skiff_qprev = NULL;
	held -= pcb->skiff_ooseq;
	pcb->skiff_ooseq = 0;
	pcb->skiff_flags &= (u8_t)~SKIFF_PCB_OOSEQ;
}

/* Records @p n frames for @p pcb's queue, on or off the list. */
static void set_count(struct tcp_pcb *pcb, uint32_t n)
{
	if (!n) {
		if (pcb->skiff_flags & SKIFF_PCB_OOSEQ)
			unlink_holder(pcb);
		return;
	}
	if (!(pcb->skiff_flags & SKIFF_PCB_OOSEQ)) {
		pcb->skiff_flags |= SKIFF_PCB_OOSEQ;
		pcb->skiff_qprev = NULL;
		pcb->skiff_qnext = holders;
		if (holders)
			holders->skiff_qprev = pcb;
		holders = pcb;
		pcb->skiff_ooseq = 0;
	}
	held = held - pcb->skiff_ooseq + n;
	pcb->skiff_ooseq = (u16_t)(n > 0xffff ? 0xffff : n);
}

/* What @p pcb's queue may hold now: its budget, or what the global one
 * leaves after the other connections. */
static uint32_t limit_of(const struct tcp_pcb *pcb)
{
	const struct skiff_config *c = &skiff__s.cfg;
	uint32_t others = held - pcb->skiff_ooseq, limit = c->max_ooseq_frames_conn;

	if (others >= c->max_ooseq_frames)
		return 0;
	if (limit > c->max_ooseq_frames - others)
		limit = c->max_ooseq_frames - others;
	return limit;
}

/* Counted without a walk (lwIP's walk is what patch 0011 lets us skip):
 * the segment just queued is one frame more. That estimate also grows
 * with a duplicate lwIP did not queue, or a segment spread over two
 * frames (the periodic re-count corrects it); so at a limit by the
 * estimate the queue is counted exactly, as lwIP's walk would count it
 * (frames, and bytes against TCP_OOSEQ_MAX_BYTES), and only what lies
 * past the limit is counted as dropped: lwIP drops that, highest first.
 * Before, a queue a few frames below its limit counted every out-of-order
 * arrival as a drop once duplicates had pushed the estimate to the limit
 * (hundreds of "drops" in a transfer that lost none). */
int skiff__ooseq_within(struct tcp_pcb *pcb)
{
	uint32_t mine = pcb->skiff_ooseq, limit = limit_of(pcb), n = 0, bytes = 0, kept = 0;
	uint32_t dropped = 0;

	if (mine + 1 <= limit && (mine + 1) * SKIFF_FRAME_PAYLOAD_MAX <= TCP_OOSEQ_MAX_BYTES) {
		set_count(pcb, mine + 1);
		return 1;
	}
	for (const struct tcp_seg *s = pcb->ooseq; s; s = s->next) {
		uint32_t f = pbuf_clen(s->p);

		n += f;
		bytes += s->p->tot_len;
		if (!dropped && n <= limit && bytes <= TCP_OOSEQ_MAX_BYTES)
			kept = n;
		else
			dropped += f;
	}
	set_count(pcb, kept);
	if (!dropped)
		return 1;
	skiff__s.stats.tcp_ooseq_budget_drops += dropped;
	return 0;
}

u16_t skiff__ooseq_limit(struct tcp_pcb *pcb)
{
	uint32_t limit = limit_of(pcb);

	return (u16_t)(limit > 0xffff ? 0xffff : limit);
}

void skiff__ooseq_drop(struct tcp_pcb *pcb)
{
	if (!pcb->ooseq)
		return;
	tcp_free_ooseq(pcb);
	skiff__ooseq_unlinking(pcb);
}

void skiff__ooseq_unlinking(struct tcp_pcb *pcb)
{
	if (pcb->skiff_flags & SKIFF_PCB_OOSEQ)
		unlink_holder(pcb);
}

uint32_t skiff__ooseq_frames(void)
{
	return held;
}

void skiff__ooseq_relieve(bool pressure)
{
	struct tcp_pcb *pcb, *next;
	long long now;

	if (!holders)
		return;
	if (pressure) {
		for (pcb = holders; pcb; pcb = next) {
			next = pcb->skiff_qnext;
			skiff__s.stats.tcp_ooseq_pressure_drops += count(pcb);
			tcp_free_ooseq(pcb); /* its SACK blocks go too */
			unlink_holder(pcb);
		}
		return;
	}
	now = skiff__now_ms();
	if (now - last_resync < SKIFF_OOSEQ_RESYNC_MS)
		return;
	last_resync = now;
	for (pcb = holders; pcb; pcb = next) {
		next = pcb->skiff_qnext;
		set_count(pcb, count(pcb));
	}
}
