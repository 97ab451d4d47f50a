/**
 * @file
 * zerocopy/: when a zero-copy send's buffers are finished with, and
 * zero-copy receive loans.
 *
 * THE CONTRACT (also in docs/zerocopy.md; every layer keeps it):
 *
 * - A zero-copy send gets an id, monotonic per socket (0, 1, 2, ... modulo
 *   2^32). Its buffers remain the application's responsibility until the
 *   callback reports the id complete.
 * - The callback fires exactly once per id, after the last reference is
 *   dropped: TCP no longer needs the bytes (ACKed, or the connection was
 *   aborted) and every frame that carried them, retransmissions included,
 *   has come back on the completion ring.
 * - Completed ids are reported in coalesced, in-order ranges [lo, hi], as
 *   Linux's MSG_ZEROCOPY notifications are: an id is reported only after
 *   every lower id of its socket, and one call covers a run of consecutive
 *   ids with the same flags. Flags: ZC_F_COPIED when the stack copied the
 *   data instead of sending the buffers themselves (zero-copy did not pay),
 *   ZC_F_ABORTED when the connection died before the peer ACKed.
 * - Aborts: only data the peer never acknowledged is ABORTED. A send whose
 *   every byte the peer acknowledged (zc_sock_acked()) completes without
 *   ZC_F_ABORTED even if the connection dies (RST, close with linger 0,
 *   skiff_stop(), skiff_fini()) while its frames are still on the rings:
 *   its data was delivered; it completes when the frames come back.
 * - If the submitting call fails, no callback ever fires for that id, and
 *   the id is not used up: the next send gets it.
 * - A frame still on the TX ring is never modified: a retransmission that
 *   finds its frame in flight copies to a fresh frame.
 * - A holder that would keep zero-copy data indefinitely can orphan it:
 *   copy, release the reference early (pkb_orphan(), seed 002).
 *
 * Callbacks are delivered from zc_engine_deliver() (the poll loop), never
 * from inside a free; a socket destroyed from inside its own callback is
 * freed after the callback returns.
 *
 * Receive loans: zc_rx_loan() hands the application a view of a received
 * frame; zc_rx_return() gives it back and the frame goes back to the fill
 * ring. Loans are bounded by a budget; when the fill ring runs low (or the
 * budget is spent), payloads up to the copy-break size are copied instead
 * and their frame recycled at once (counted).
 *
 * Threading: an engine, its sockets and sends belong to the thread that owns
 * the UMEM and the pkb pool.
 */
#ifndef SKIFF_ZC_H
#define SKIFF_ZC_H

#include <stdbool.h>
#include <stdint.h>

#include <skiff/export.h>
#include <skiff/pkb.h>
#include <skiff/umem.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ZC_MAX_SENDS_DEFAULT
#define ZC_MAX_SENDS_DEFAULT 4096u
#endif
#ifndef ZC_LOAN_BUDGET_DEFAULT
#define ZC_LOAN_BUDGET_DEFAULT 1024u
#endif
/* Largest payload copy-break copies; the small buffers are this big. */
#ifndef ZC_COPYBREAK_MAX
#define ZC_COPYBREAK_MAX 256u
#endif
#ifndef ZC_SMALL_BUFS_DEFAULT
#define ZC_SMALL_BUFS_DEFAULT 1024u
#endif

/** Completion flags. */
#define ZC_F_COPIED  0x1u /**< the stack copied the data instead */
#define ZC_F_ABORTED 0x2u /**< the connection died before the peer ACKed */

struct zc_engine;
struct zc_sock;
struct zc_send;

/** Ids [lo, hi] of one socket are complete (hi >= lo, modulo 2^32). */
typedef void (*zc_complete_fn)(void *opaque, uint32_t lo, uint32_t hi, unsigned flags);

/** Run-time options; NULL or a zero field means the default. */
struct zc_engine_config {
	uint32_t max_sends;   /**< sends in flight across all sockets */
	uint32_t loan_budget; /**< frames loaned to the application at once */
	/** copy payloads up to this size when frames are short
	 * (<= ZC_COPYBREAK_MAX; default 128) */
	uint32_t copybreak;
	uint32_t small_bufs; /**< copy-break buffers */
	/** the fill ring is low below this many frames (default 1/4 of the
	 * depth refills keep it at: umem_port_fill_depth()) */
	uint32_t fill_low;
};

struct zc_engine_stats {
	uint64_t sends;		  /* committed */
	uint64_t sends_cancelled; /* submissions that failed */
	uint64_t sends_copied;	  /* completed with ZC_F_COPIED */
	uint64_t sends_aborted;	  /* completed with ZC_F_ABORTED */
	uint64_t callbacks;	  /* ranges delivered */
	uint64_t ids_completed;
	uint64_t send_alloc_fail;
	uint64_t tx_frames_retired;  /* completion-ring frames dropped back */
	uint64_t tx_inflight_copies; /* retransmissions copied because the frame was on the ring */
	uint64_t tx_copied_bytes;    /* payload bytes the TX path copied */
	uint64_t tx_ring_full;
	uint64_t loans; /* frames loaned */
	uint64_t loans_live;
	uint64_t loan_refused; /* budget spent and too big to copy */
	uint64_t copybreaks;   /* payloads copied instead of loaned */
	uint64_t loans_taken;  /* loans turned into frames the stack holds (zc_rx_take) */
	uint64_t rx_copied_bytes;
};

/**
 * Create an engine over a pkb pool (and its UMEM). Registers itself as the
 * UMEM's tx_done callback: frames retired off the completion ring drop the
 * data reference zc_tx_post() took.
 * @return 0, -EINVAL (bad config), -ENOMEM, -EBUSY (the UMEM's tx_done
 *         callback belongs to someone else)
 */
SKIFF_API int zc_engine_create(struct zc_engine **out, struct pkb_pool *pool,
			       const struct zc_engine_config *cfg);

/**
 * Destroy; accepts NULL.
 * @return 0, -EBUSY while sockets, sends, loans or frames it posted on the
 *         TX ring are live
 */
SKIFF_API int zc_engine_destroy(struct zc_engine *e);

/** The port whose fill ring receive loans watch (and zc_tx_post() uses). */
SKIFF_API void zc_engine_set_port(struct zc_engine *e, struct umem_port *port);

/** Deliver pending completions to their callbacks; returns how many calls. */
SKIFF_API unsigned zc_engine_deliver(struct zc_engine *e);

SKIFF_API void zc_engine_get_stats(const struct zc_engine *e, struct zc_engine_stats *out);

/* ---- sockets and sends ------------------------------------------------- */

/**
 * Per-socket completion state: the id counter and the callback.
 * @return 0, -ENOMEM
 */
SKIFF_API int zc_sock_create(struct zc_sock **out, struct zc_engine *e, zc_complete_fn cb,
			     void *opaque);

/**
 * Destroy; accepts NULL. Sends still outstanding keep their promise: their
 * callbacks still fire, once each, and the socket state goes after the
 * last. Safe from inside the socket's own callback.
 */
SKIFF_API void zc_sock_destroy(struct zc_sock *zs);

/**
 * The peer acknowledged every byte of the sends with ids before @p upto
 * (TCP's cumulative ACK passed their end). Moves only forward, and not past
 * the ids handed out; a later zc_sock_abort() leaves those sends alone.
 */
SKIFF_API void zc_sock_acked(struct zc_sock *zs, uint32_t upto);

/**
 * The connection died. Outstanding sends the peer never acknowledged (ids
 * at or after zc_sock_acked()'s mark), and any committed from now on,
 * complete with ZC_F_ABORTED once the stack has dropped its references.
 * Acknowledged sends keep their flags: they complete as usual when their
 * frames come back off the completion ring.
 */
SKIFF_API void zc_sock_abort(struct zc_sock *zs);

/** Ids handed out and not yet reported. */
SKIFF_API uint32_t zc_sock_outstanding(const struct zc_sock *zs);

/**
 * Start a send: reserves the next id without using it up.
 * @return 0, -ENOMEM (no send object), -EBUSY (another send of this socket
 *         is neither committed nor cancelled)
 */
SKIFF_API int zc_send_begin(struct zc_sock *zs, struct zc_send **out);

SKIFF_API uint32_t zc_send_id(const struct zc_send *s);

/**
 * The send's data is (in) @p pkb: attach the notification to the frame, so
 * the id completes only after the frame's data is finished with.
 * @return 0, -EBUSY (the frame carries another send's notification)
 */
SKIFF_API int zc_send_attach(struct zc_send *s, struct pkb *pkb);

/** The stack copied (some of) this send's data instead of sending the
 * buffers: the completion carries ZC_F_COPIED. */
SKIFF_API void zc_send_mark_copied(struct zc_send *s);

/** The submission succeeded: the id is used up and will complete once. */
SKIFF_API void zc_send_commit(struct zc_send *s);

/** The submission failed: no callback will ever fire for this id, and the
 * next send gets it. Frames attached meanwhile may still be freed later. */
SKIFF_API void zc_send_cancel(struct zc_send *s);

/* ---- TX ---------------------------------------------------------------- */

/**
 * Choose what to transmit for the first @p len bytes of @p pkb's data,
 * which the caller (TCP) keeps: the pkb itself when headers of @p hdr_room
 * bytes can be written in front of its data in place (enough headroom,
 * data not shared with another head, frame not on the TX ring); otherwise
 * a copy of those bytes in a fresh frame (counted; the original is never
 * rewritten: a retransmission that finds its frame still in flight goes
 * out of a copy). A copy carries no notification: the original keeps the
 * send's reference until the caller frees it. @p pkb is not changed.
 * @param tx receives @p pkb or a new copy (with @p hdr_room of headroom and
 *        @p len bytes of data); post it with zc_tx_post_span(); after
 *        posting, the caller frees a copy (the TX ring holds its own
 *        reference)
 * @return 0, -ENOMEM (no frame for the copy), -EMSGSIZE (@p hdr_room and
 *         the packet do not fit in one frame), -EINVAL (@p len past the data)
 */
SKIFF_API int zc_tx_prepare(struct zc_engine *e, struct pkb *pkb, uint32_t hdr_room, uint32_t len,
			    struct pkb **tx);

/**
 * Post @p pkb's data (data .. tail) on the engine's port's TX ring. The
 * frame gets a data reference of its own, dropped when it comes back on the
 * completion ring, so the caller may keep or free @p pkb.
 * @return 0, -EAGAIN (TX ring full; nothing posted: retry after a flush
 *         and completions), -EBUSY (frame already on the ring:
 *         zc_tx_prepare() first), -EINVAL (empty packet, or a frame that is
 *         not held by the stack, e.g. lent to the application), -ENODEV (no
 *         port)
 */
SKIFF_API int zc_tx_post(struct zc_engine *e, struct pkb *pkb);

/**
 * zc_tx_post() of a span around @p pkb's data: the @p head bytes in front
 * of it (headers the caller wrote there) and its first @p len bytes. The
 * pkb's own view (data, length) is not changed, so that TCP's segment
 * still points at its payload for a retransmission.
 * @return as zc_tx_post(); -EINVAL also when @p head is past the headroom
 *         or @p len past the data
 */
SKIFF_API int zc_tx_post_span(struct zc_engine *e, struct pkb *pkb, uint32_t head, uint32_t len);
/** zc_tx_post_span() on @p port, one of the ports over the engine's UMEM
 * (AF_XDP shared UMEM: any of them can send any frame). */
SKIFF_API int zc_tx_post_port(struct zc_engine *e, struct umem_port *port, struct pkb *pkb,
			      uint32_t head, uint32_t len);

/* ---- RX loans ---------------------------------------------------------- */

#define ZC_LOAN_COPIED 0x1u /**< a copy-break: data points at a small buffer */

/** A view of received data lent to the application. */
struct zc_loan {
	const uint8_t *data;
	uint32_t len;
	uint32_t flags; /**< ZC_LOAN_* */
	void *priv__;	/* the frame's pkb or the small buffer: zc_rx_return() */
};

/**
 * Lend @p pkb's data to the application. Takes over @p pkb on success.
 * Usually the frame itself is lent (HELD -> LOANED). When the fill ring
 * is low or the loan budget is spent, a payload up to the copy-break size
 * is copied into a small buffer and its frame freed at once.
 * @return 0, -ENOBUFS (budget spent and the payload too big to copy: return
 *         loans first; @p pkb is still the caller's)
 */
SKIFF_API int zc_rx_loan(struct zc_engine *e, struct pkb *pkb, struct zc_loan *loan);

/** Give a loan back; its frame returns to the allocator and from there to
 * the fill ring at the next refill. */
SKIFF_API void zc_rx_return(struct zc_engine *e, struct zc_loan *loan);

/**
 * Take a lent frame back as the caller's pkb (LOANED -> HELD), e.g. to send
 * its payload on: no byte moves. The loan is spent (cleared) and stops
 * counting against the budget; @p out is the frame's pkb, its data the
 * loaned bytes.
 * @return 0, -EINVAL (a copy-break loan: no frame to take, the loan is
 *         unchanged and still needs zc_rx_return(); or a frame no longer
 *         lent: a stale copy of a loan already returned)
 */
SKIFF_API int zc_rx_take(struct zc_engine *e, struct zc_loan *loan, struct pkb **out);

#ifdef __cplusplus
}
#endif

#endif
