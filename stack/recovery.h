/* Loss recovery for the sender (recovery.c): RACK-TLP (RFC 8985) on a SACK
 * scoreboard, paced by PRR (RFC 6937), NewReno's partial ACKs (RFC 6582)
 * without SACK, and the RTO (RFC 6298) from skiff's own RTT estimate, on
 * top of lwIP's Reno. */
#ifndef SKIFF_RECOVERY_H
#define SKIFF_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/arch.h"

struct skiff_sock;
struct tcp_pcb;
struct tcp_seg;

/* The tail loss probe's timeout is at least this (recovery.c). */
#ifndef SKIFF_PTO_MIN_US
#define SKIFF_PTO_MIN_US 10000u
#endif

/* Resends of one episode that a D-SACK can be matched with (recovery.c);
 * an episode with more resends cannot be undone. */
#ifndef SKIFF_UNDO_MAX
#define SKIFF_UNDO_MAX 16
#endif

/* SACKed ranges recorded above the ACK (recovery.c): one per hole in
 * flight and more. With 8, more holes than that (frames held 3 ms at full
 * speed) filled the list, later blocks found no room, and RACK called what
 * they reported lost. */
#ifndef SKIFF_SACK_MAX
#define SKIFF_SACK_MAX 32
#endif

/* What a segment went through (its skiff_sflags, lwipopts.h). */
#define SKIFF_SEG_SENT	  0x01u /* sent at least once */
#define SKIFF_SEG_RETRANS 0x02u /* sent more than once: its RTT is ambiguous */
#define SKIFF_SEG_SACKED  0x04u /* the peer SACKed it */
#define SKIFF_SEG_GREW	  0x08u /* ... outside a recovery: its delivery grew the window */
#define SKIFF_SEG_MOVED	  0x10u /* MPTCP: its data went again on another subflow */

struct skiff_sack_range {
	u32_t left, right;
};

/* Proportional Rate Reduction (RFC 6937), in bytes: an episode sends in
 * proportion to what the peer reports delivered, so that the flight comes
 * down to ssthresh over a round trip instead of stopping and then
 * bursting; when losses took it below ssthresh, it climbs back no faster
 * than slow start (PRR-SSRB). */
struct skiff_prr {
	uint32_t recover_fs; /* RecoverFS: snd.nxt - snd.una as the episode began */
	uint32_t delivered;  /* prr_delivered: reported delivered since */
	uint32_t out;	     /* prr_out: sent since, resends included */
};

/* A connection's recovery state. The first part is read or written by
 * every ACK and every segment sent; the rest only in a recovery, on a
 * D-SACK or at a timeout, and so comes after it, out of the cache lines
 * an established connection's requests touch (struct skiff_sock). */
struct skiff_recovery {
	bool active;	  /* in recovery until everything sent before it began is ACKed */
	uint8_t n_sacked; /* SACKed ranges above the ACK, in sacked[] below */

	/* RACK: the most recently sent segment the peer has (ACKed or
	 * SACKed), its RTT, and whether the path reorders. */
	bool rack_valid;
	bool reord;
	/* The last ACK's timestamp echo (RFC 7323 TSecr, sys_now()'s
	 * milliseconds) when it had one: which transmission of a resent
	 * segment it was sent for. */
	bool tsecr_valid;
	bool tlp_out;	 /* a tail loss probe is out */
	bool tlp_rexmit; /* ... and it was a retransmission */
	bool undo_valid; /* an undo may come (below) */
	bool prr_on;	 /* PRR paces the episode (below) */
	u32_t rack_xmit_us, rack_end, rack_rtt_us;
	u32_t fack; /* the highest sequence delivered */
	/* Bytes of the segments this ACK covers whose SACK grew the window
	 * already (SKIFF_SEG_GREW): cc.c does not count them again. */
	u32_t acked_grown;
	u32_t tsecr;
	/* The highest TSval sent (skiff__tsval()): never below it again. */
	u32_t ts_floor;
	u32_t min_rtt_us, min_rtt_at_us;
	/* RTT estimate in microseconds (RFC 6298), for the PTO and the RTO. */
	u32_t srtt_us, rttvar_us;
	/* Timers, in microseconds on skiff__now_us() (0: not armed): the
	 * reordering window of a segment that will be lost unless delivered
	 * by then, and the tail loss probe. */
	u32_t reo_due_us, pto_due_us;

	/* ---- from here on: recoveries, D-SACKs and timeouts only ---- */
	u32_t recover;	   /* snd_nxt when the episode began */
	u32_t rexmit_high; /* without SACK: holes below this were resent in this episode */
	u32_t tlp_end;	   /* snd_nxt when the probe went */

	/* RACK's reordering window grows by min_rtt/4 per round trip with a
	 * D-SACK (RFC 8985 6.2 step 4) and goes back after 16 recoveries
	 * without one. */
	uint8_t reo_wnd_mult; /* 0 counts as 1 */
	uint8_t reo_wnd_persist;
	bool dsack_round_set;
	u32_t dsack_round; /* snd_nxt when the window last grew */

	/* Undo (D-SACK based, as RFC 2883 4 suggests): the window before the
	 * episode's reduction, and its resends still not reported duplicates.
	 * When the peer reports every one of them received twice, the
	 * reduction was for nothing and is undone. */
	bool rto_undo;	/* ... of a retransmission timeout (and its backoffs) */
	u32_t rto_high; /* snd_nxt at that timeout: later ones before it is ACKed add to it */
	int16_t undo_retrans;
	u32_t prior_cwnd, prior_ssthresh;
	uint8_t undo_n; /* resends recorded in undo_seq[] */

	/* PRR paces a SACK episode from its reduction to its end, unless
	 * an undo or a timeout ends it first. lwIP sends what fits below
	 * lastack + cwnd: the quota becomes an edge in sequence space,
	 * which stays put as ACKs move lastack until the next quota. */
	struct skiff_prr prr;
	u32_t prr_acked; /* delivered since the last quota, not yet counted */
	u32_t prr_edge;

	u32_t total_retrans; /* segments this connection sent again (TCP_INFO) */

	struct skiff_sack_range sacked[SKIFF_SACK_MAX];
	u32_t undo_seq[SKIFF_UNDO_MAX]; /* the recorded resends' first sequence numbers */
};

/* lwIP's hooks (patch 0013): a new segment, and a segment going out. */
void skiff__recovery_seg_init(struct tcp_seg *seg);
void skiff__recovery_seg_out(struct tcp_pcb *pcb, struct tcp_seg *seg);

/* A retransmission timeout (cc.c, before it cuts the window): the window
 * it had is kept, and the resends that follow are recorded, so that
 * D-SACKs of all of them undo the cut (a segment late, not lost). True
 * when the timeout adds to an episode whose window is kept already. */
bool skiff__recovery_rto(struct skiff_sock *s, struct tcp_pcb *pcb);
/* lwIP's timeout put what was unacked in front of unsent, which may hold
 * RACK's resends below it: @p pcb's unsent queue back in sequence order
 * (tcp_unsent_reordered when it was not). */
void skiff__recovery_unsent_in_order(struct tcp_pcb *pcb);

/* lwIP's own fast retransmit is going out (output hook): the episode
 * begins, ending once @p snd_nxt is ACKed. */
void skiff__recovery_begin(struct skiff_sock *s, u32_t snd_nxt, u32_t resent_end);
/* An ACK arrives, before lwIP takes it: what it delivers cumulatively
 * feeds RACK, its SACK option @p sack (the kind byte; NULL: none) the
 * scoreboard, its timestamps option @p ts (NULL: none) tells which
 * transmission of a resent segment arrived. True when there is work for after the batch. */
bool skiff__recovery_ack_in(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t ackno,
			    const uint8_t *sack, const uint8_t *ts);
/* After the batch: segments the scoreboard shows delivered feed RACK, and
 * those RACK finds lost go back on unsent, in order. True when something
 * was queued to resend. Never inside lwIP's input (it forbids touching the
 * queues). */
bool skiff__recovery_run(struct skiff_sock *s, struct tcp_pcb *pcb);
/* The handshake is over (accepted, or connected): its round trip, from a
 * SYN or SYN-ACK sent once to its ACK, is the first RTT sample, and the
 * RTO comes down from the initial 1 s (RFC 6298 2.2, as Linux). */
void skiff__recovery_established(struct skiff_sock *s, struct tcp_pcb *pcb);
/* New data ACKed (lwIP's sent callback): the episode's end, NewReno's
 * partial ACK without SACK, the RTO from the RTT estimate, the probe. */
void skiff__recovery_acked(struct skiff_sock *s, struct tcp_pcb *pcb, u16_t acked);
/* An ACK of new data (cc.c's hook, before lwIP sends again): during PRR
 * the window keeps the edge the last quota set, whatever lwIP made of
 * cwnd; the next quota comes after the batch (skiff__recovery_run()). */
void skiff__recovery_prr_hold(struct skiff_sock *s, struct tcp_pcb *pcb);
/* For timers.c's fast visits: a reordering timer is armed, or the probe
 * timer falls due within @p within_us; run whatever fell due. */
bool skiff__recovery_pending(const struct tcp_pcb *pcb, uint32_t within_us);
void skiff__recovery_timer(struct tcp_pcb *pcb);
/* The probe timer's deadline (skiff__now_us()), 0 if none: timers.c's
 * wheel wakes the pcb shortly before it. */
uint32_t skiff__recovery_pto_due(const struct tcp_pcb *pcb);

/* The RFC 6298 RTO from an RTT estimate (microseconds), at least
 * @p min_rto_ms: what recovery.c gives lwIP. */
uint32_t skiff__rto_ms(uint32_t srtt_us, uint32_t rttvar_us, uint32_t min_rto_ms);
/* The probe timeout (RFC 8985 7.2), microseconds: 2 SRTT, at least 2 ms;
 * with one segment out, at least 1.5 SRTT + 200 ms (the peer's delayed
 * ACK). */
uint32_t skiff__pto_us(uint32_t srtt_us, bool one_segment);
/* The TSval (RFC 7323) of a transmission at tick @p now_ms: never below
 * @p floor, the highest the connection sent (when that is ahead of the
 * clock by less than SKIFF_TS_AHEAD_MAX ticks), and for a @p resend above
 * @p prev, its previous transmission's. An ACK's echo then tells a
 * resend's delivery from its original's (RFC 8985 6.2 step 2) even when
 * both left in the same millisecond. */
#define SKIFF_TS_AHEAD_MAX 1000u
uint32_t skiff__tsval(uint32_t now_ms, uint32_t floor, bool resend, uint32_t prev);
/* RACK's reordering window (RFC 8985 6.2): min RTT / 4, at most SRTT;
 * 0 when no reordering was seen and the connection is in recovery. */
uint32_t skiff__reo_wnd_us(const struct skiff_recovery *r);

/* An episode begins with @p recover_fs bytes in flight (RFC 6937's
 * initialization). */
void skiff__prr_init(struct skiff_prr *p, uint32_t recover_fs);
/* An ACK that reports @p delivered bytes delivered (newly ACKed plus
 * newly SACKed), @p pipe bytes now in flight (RFC 6675's), the episode's
 * @p ssthresh: RFC 6937's sndcnt, the bytes it lets go now (never
 * negative). The caller adds what it sends to p->out. */
uint32_t skiff__prr_sndcnt(struct skiff_prr *p, uint32_t delivered, uint32_t pipe,
			   uint32_t ssthresh, uint32_t mss);

#endif
