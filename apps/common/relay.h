/**
 * @file
 * One direction of a TCP byte stream moved by skiff: bytes received on a
 * source socket are sent on a destination socket (the same one for
 * skiff-echo, the other end's for skiff-proxy), in order, with
 * back-pressure: a half that holds unsent bytes reads no more.
 *
 * The zero-copy paths first: skiff_zc_recv() lends the received payloads,
 * skiff_zc_loan_to_buf() turns each lent frame into a send buffer of the
 * destination, and skiff_zc_send() sends it with the new headers written in
 * front of the payload where it lies; the completions release the frames.
 * No payload byte is copied. Where the zero-copy path refuses (copy-break
 * loans, no free frame, no loans), the bytes are copied into fresh send
 * buffers or carried by skiff_recv() and skiff_send() instead, counted.
 */
#ifndef SKIFF_APPS_RELAY_H
#define SKIFF_APPS_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include <skiff/skiff.h>

#include "app.h"

#define RELAY_LOANS    16
#define RELAY_BUFS     64
#define RELAY_COPY_CAP (64u * 1024)
/* Batches relay_pump_some() reads at most: a few per event, so that one
 * busy connection cannot starve the others (level-triggered epoll comes
 * back for the rest). */
#define RELAY_BATCHES 4

struct relay_half {
	struct skiff_zc_buf *pend; /* RELAY_BUFS zero-copy buffers, filled, not yet sent
				    * (allocated at the first read: an idle connection
				    * holds none) */
	unsigned npend;
	uint8_t *copy;	     /* fallback bytes, sent after pend[] (allocated on first use) */
	uint32_t clen, coff; /* copy[coff, clen) unsent */
	bool eof;	     /* the source sent its FIN */
	bool shut;	     /* ... and it was passed on (shutdown(SHUT_WR) on the destination) */
	bool no_zc_recv;     /* skiff_zc_recv() refused this socket: skiff_recv() from now on */
};

/** True when bytes are waiting for the destination. */
static inline bool relay_pending(const struct relay_half *h)
{
	return h->npend || h->coff < h->clen;
}

/** True when the half may read: not at EOF, nothing waiting. */
static inline bool relay_can_read(const struct relay_half *h)
{
	return !h->eof && !relay_pending(h);
}

/**
 * Read one batch from @p src and stage it for @p dst, then try to send it.
 * @return bytes read (> 0), 0 at EOF (h->eof set) or nothing to read now,
 *         -errno when the source or the destination failed
 */
int relay_pump(struct relay_half *h, int src, int dst, struct app_counters *c);

/**
 * relay_pump() up to RELAY_BATCHES times, while the half may read.
 * @return 0, or -errno when the source or the destination failed
 */
int relay_pump_some(struct relay_half *h, int src, int dst, struct app_counters *c);

/**
 * Send what is waiting.
 * @return 0 all sent, -EAGAIN some still waiting (wait for EPOLLOUT on
 *         @p dst), another -errno when the destination failed
 */
int relay_flush(struct relay_half *h, int dst, struct app_counters *c);

/** Give back every buffer held; the half is empty afterwards. */
void relay_clear(struct relay_half *h);

/** The completion callback to register on every socket that sends
 * (skiff_zc_set_callback(fd, relay_zc_done, counters)): it counts. */
void relay_zc_done(void *counters, int fd, uint32_t lo, uint32_t hi, unsigned flags);

#endif
