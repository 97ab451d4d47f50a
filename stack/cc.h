/* Congestion control (cc.c): Reno (RFC 5681 with RFC 3465's byte counting,
 * as lwIP does it) and CUBIC (RFC 9438) with HyStart++ (RFC 9406), chosen
 * per socket with TCP_CONGESTION, CUBIC by default. lwIP calls in through
 * patch 0012's hooks (skiff_lwip_hooks.h). The formulas are pure functions
 * in plain C types (no lwIP header here), tested without a stack. */
#ifndef SKIFF_CC_H
#define SKIFF_CC_H

#include <stdbool.h>
#include <stdint.h>

struct skiff_sock;
struct tcp_pcb;

enum skiff_cc_algo {
	SKIFF_CC_UNSET, /* SKIFF_CC_DEFAULT */
	SKIFF_CC_RENO,
	SKIFF_CC_CUBIC,
};

#ifndef SKIFF_CC_DEFAULT
#define SKIFF_CC_DEFAULT SKIFF_CC_CUBIC
#endif
/* RFC 3465's L: slow start grows by at most L segments per ACK. lwIP's 2,
 * because ackbatch.c adds what a stretch ACK acknowledges beyond it. */
#ifndef SKIFF_CC_ABC_L
#define SKIFF_CC_ABC_L 2u
#endif
/* A TCP_CONGESTION name's size, NUL included (Linux's TCP_CA_NAME_MAX). */
#define SKIFF_CC_NAME_MAX 16

/* ---- Reno ------------------------------------------------------------------ */

/* One ACK of @p acked bytes: below @p ssthresh slow start, by at most @p l
 * segments; above, one segment per window of bytes ACKed, counted in
 * *@p bytes_acked. The new cwnd. */
uint32_t skiff__reno_on_ack(uint32_t cwnd, uint32_t ssthresh, uint32_t *bytes_acked, uint32_t acked,
			    uint32_t mss, unsigned l);
/* After a loss, lwIP's: half of min(cwnd, snd_wnd), at least 2 segments. */
uint32_t skiff__reno_ssthresh(uint32_t cwnd, uint32_t snd_wnd, uint32_t mss);

/* ---- CUBIC (RFC 9438): windows in segments, time in seconds ----------------- */

#define SKIFF_CUBIC_C	 0.4
#define SKIFF_CUBIC_BETA 0.7
/* Reno's average rate at CUBIC's beta (RFC 9438 4.3). */
#define SKIFF_CUBIC_ALPHA (3.0 * (1.0 - SKIFF_CUBIC_BETA) / (1.0 + SKIFF_CUBIC_BETA))

struct skiff_cubic {
	double w_max;	   /* the window the curve plateaus at; 0: none yet */
	double cwnd_prior; /* cwnd before the last reduction */
	double k;	   /* seconds from the epoch's start to W_max */
	double w_est;	   /* the Reno-friendly window */
	long long epoch_ms;
	bool in_epoch; /* congestion avoidance has begun since the last event */
};

/* K = cbrt((W_max - cwnd_epoch) / C). */
double skiff__cubic_k(double w_max, double cwnd_epoch);
/* W_cubic(t) = C (t - K)^3 + W_max. */
double skiff__cubic_window(const struct skiff_cubic *c, double t_s);
/* A congestion event at @p cwnd with @p flight in the network: W_max (lowered
 * by fast convergence when below the last one), the epoch ends; after a
 * timeout W_max is forgotten (RFC 9438 4.8). The new ssthresh, at least 2. */
double skiff__cubic_on_loss(struct skiff_cubic *c, double cwnd, double flight, bool timeout);
/* Congestion avoidance begins at @p now_ms with @p cwnd: K, and W_est from
 * cwnd; with no W_max above cwnd, W_max = cwnd and K = 0 (RFC 9438 4.8,
 * 4.10). */
void skiff__cubic_epoch(struct skiff_cubic *c, double cwnd, long long now_ms);
/* One ACK of @p acked segments in congestion avoidance at @p now_ms, the
 * smoothed RTT @p rtt_s: W_est grows by alpha per window ACKed and leads
 * while above W_cubic(t); else cwnd moves towards W_cubic(t + RTT), at
 * most 1.5 cwnd, by (target - cwnd) / cwnd per segment. The new cwnd. */
double skiff__cubic_on_ack(struct skiff_cubic *c, double cwnd, double acked, long long now_ms,
			   double rtt_s);

/* ---- HyStart++ (RFC 9406) ---------------------------------------------------- */

#define SKIFF_HYSTART_MIN_RTT_THRESH_US	 4000u
#define SKIFF_HYSTART_MAX_RTT_THRESH_US	 16000u
#define SKIFF_HYSTART_MIN_RTT_DIVISOR	 8u
#define SKIFF_HYSTART_N_RTT_SAMPLE	 8u
#define SKIFF_HYSTART_CSS_GROWTH_DIVISOR 4u
#define SKIFF_HYSTART_CSS_ROUNDS	 5u
#define SKIFF_HYSTART_NO_RTT		 UINT32_MAX /* the RFC's infinity */

enum skiff_hystart_phase {
	SKIFF_HS_SLOW_START,
	SKIFF_HS_CSS, /* conservative slow start */
	SKIFF_HS_DONE,
};

struct skiff_hystart {
	uint8_t phase;	     /* enum skiff_hystart_phase */
	uint8_t css_rounds;  /* rounds of CSS begun, the one it began in included */
	uint16_t samples;    /* RTT samples this round */
	uint32_t window_end; /* the round ends when the ACK reaches it */
	uint32_t last_min_us, cur_min_us, css_base_us;
};

void skiff__hystart_init(struct skiff_hystart *h, uint32_t snd_nxt);
/* An ACK of new data up to @p ack: a round ends once it reaches the
 * window's end, and the next runs to @p snd_nxt. True when CSS has had its
 * CSS_ROUNDS rounds: congestion avoidance begins (ssthresh = cwnd). */
bool skiff__hystart_on_ack(struct skiff_hystart *h, uint32_t ack, uint32_t snd_nxt);
/* An RTT sample: slow start goes to CSS when this round's minimum rose by
 * the threshold over the last one's, CSS back to slow start when it fell
 * below the minimum that started CSS; each after N_RTT_SAMPLE samples. */
void skiff__hystart_on_rtt(struct skiff_hystart *h, uint32_t rtt_us);
/* Slow start's growth for an ACK of @p acked bytes: at most @p l segments,
 * a quarter of that in CSS. */
uint32_t skiff__hystart_increase(const struct skiff_hystart *h, uint32_t acked, uint32_t mss,
				 unsigned l);

/* ---- a connection's congestion control --------------------------------------- */

/* Per socket. The algorithm asked for is kept as the socket's option (an
 * accepted socket takes its listener's); the rest is set up when the
 * connection is established. */
struct skiff_cc {
	uint8_t want;	/* enum skiff_cc_algo: TCP_CONGESTION */
	uint8_t algo;	/* what the connection runs; UNSET until it is set up */
	bool congested; /* a congestion event happened: HyStart++ is over for good */
	bool undo_ok;	/* cubic_prior below may be taken back (skiff__cc_undo()) */
	/* cwnd and ssthresh as cc.c left them: an ssthresh set elsewhere is a
	 * congestion event, a cwnd moved elsewhere is taken as it is. */
	uint32_t cwnd, ssthresh;
	uint32_t srtt_us;
	double cwnd_seg; /* CUBIC's cwnd, fraction included */
	struct skiff_hystart hs;
	/* Last: congestion avoidance and congestion events reach them, the
	 * ACKs of slow start (where a request-answer connection that never
	 * lost a segment stays) do not. */
	struct skiff_cubic cubic;
	struct skiff_cubic cubic_prior; /* before the last congestion event */
};

/* TCP_CONGESTION: "cubic" or "reno"; 0, or -ENOENT for another name. A
 * connection switches at once, keeping its cwnd and ssthresh. */
int skiff__cc_select(struct skiff_sock *s, const char *name);
/* The algorithm's name: what the connection runs, or will run. */
const char *skiff__cc_name(const struct skiff_sock *s);
/* A congestion event skiff's loss recovery found (recovery.c): ssthresh
 * from the algorithm, cwnd = ssthresh. */
void skiff__cc_congestion(struct skiff_sock *s, struct tcp_pcb *pcb);
/* The last congestion event was spurious (recovery.c's D-SACK undo, which
 * has put cwnd and ssthresh back): the algorithm's state before it. */
void skiff__cc_undo(struct skiff_sock *s, struct tcp_pcb *pcb);

/* @p bytes the peer SACKed outside a recovery: the window grows as for an
 * ACK of them (recovery.c); the cumulative ACK that later covers them does
 * not count them again (skiff_recovery.acked_grown). */
void skiff__cc_delivered(struct skiff_sock *s, struct tcp_pcb *pcb, uint32_t bytes);
/* An RTT sample (recovery.c's per-segment send times): CUBIC's SRTT and
 * HyStart++'s round minimum. */
void skiff__cc_rtt_sample(struct skiff_sock *s, uint32_t rtt_us);

#endif
