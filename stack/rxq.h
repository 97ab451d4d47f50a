/* A TCP socket's receive queue (rxq.c): what lwIP delivered, in order,
 * until the application reads it (skiff_recv) or borrows it (skiff_zc_recv).
 * Only rxq.c touches its fields; everyone else calls the functions below. */
#ifndef SKIFF_RXQ_H
#define SKIFF_RXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pbuf;
struct skiff_sock;

/* Single pbufs linked through pbuf->next (never handed back to lwIP as a
 * chain: a queue may hold more than a chain's 16-bit length can count). */
struct skiff_rxq {
	struct pbuf *head, *tail;
	uint32_t off;	  /* bytes of the head already consumed */
	size_t bytes;	  /* queued, not consumed */
	uint32_t unacked; /* consumed (lent), window not opened for yet */
	uint32_t frames;  /* queued pbufs over UMEM frames */
	/* on the list of queues holding frames (while frames > 0) */
	struct skiff_rxq *hnext, *hprev;
};

static inline size_t skiff__rxq_bytes(const struct skiff_rxq *q)
{
	return q->bytes;
}

static inline bool skiff__rxq_empty(const struct skiff_rxq *q)
{
	return !q->head;
}

/* Queues lwIP's delivery @p p (a chain: each pbuf goes on alone; empty
 * ones are freed). */
void skiff__rxq_append(struct skiff_rxq *q, struct pbuf *p);
/* Copies up to @p len bytes out; consumed (the window opens) unless
 * @p peek. Returns the count. */
size_t skiff__rxq_copy(struct skiff_sock *s, uint8_t *buf, size_t len, bool peek);
/* @p n bytes are done with: freed, and the window opens for them and for
 * what was lent since (the update goes out at the next poll round). */
void skiff__rxq_consume(struct skiff_sock *s, size_t n);
/* Frees everything queued (the window does not open). */
void skiff__rxq_drop(struct skiff_rxq *q);
/* The head's unconsumed bytes: its pbuf, their start and length; false
 * when the queue is empty. */
bool skiff__rxq_peek_head(const struct skiff_rxq *q, struct pbuf **p, uint8_t **data,
			  uint32_t *len);
/* The head was lent (its pbuf now belongs to zerocopy/ when @p keep, else
 * it is freed): off the queue, counted as consumed, the window opening at
 * the next skiff__rxq_consume(). */
void skiff__rxq_lent_head(struct skiff_rxq *q, bool keep);
/* Undoes skiff__rxq_lent_head(@p q, true) for a loan refused: @p p back at
 * the head, its bytes from @p off queued again. */
void skiff__rxq_unlend_head(struct skiff_rxq *q, struct pbuf *p, uint32_t off);
/* Once per poll round: when frames run short, out-of-order queues go
 * (ooseq.c), then queued payloads move to lwIP's heap and their frames go
 * back (DESIGN.md's orphaning). */
void skiff__rxq_relieve(void);
/* Frames holding queued data, over every queue (the gauge). */
uint32_t skiff__rxq_frames(void);

#endif
