/* Loss recovery's formulas against the RFCs' own: the retransmission
 * timeout (RFC 6298 2.2-2.4, with skiff's floor), the tail loss probe's
 * timeout (RFC 8985 7.2), RACK's reordering window and its timestamp
 * check of a resend's delivery (RFC 8985 6.2) and
 * PRR's send quota (RFC 6937 3); and the retransmission queue's order
 * after a timeout. */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../stack/instance.h"
#include "../../stack/recovery.h"
#include "lwip/priv/tcp_priv.h"
#include "stack_test.h"

/* RFC 6298 2.3: RTO = SRTT + max(G, K * RTTVAR), K = 4; 2.4: rounded up
 * to the floor (1 s in the RFC, min_rto_ms here). Computed in
 * microseconds, rounded up to the millisecond. */
static uint32_t rfc6298_rto_ms(uint32_t srtt_us, uint32_t rttvar_us, uint32_t floor_ms)
{
	double rto = (srtt_us + 4.0 * rttvar_us) / 1000.0;
	uint32_t ms = (uint32_t)rto + ((double)(uint32_t)rto < rto ? 1 : 0);

	return ms < floor_ms ? floor_ms : ms;
}

static void test_rto_formula_and_floor(void)
{
	static const struct {
		uint32_t srtt, rttvar;
	} cases[] = {{100, 50},	       {1000, 500},	  {50000, 1000}, {150000, 30000},
		     {300000, 100000}, {2000000, 750000}, {999, 0},	 {1, 1}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (uint32_t floor_ms = 1; floor_ms <= 1000; floor_ms *= 10) {
			uint32_t got = skiff__rto_ms(cases[i].srtt, cases[i].rttvar, floor_ms);
			uint32_t want = rfc6298_rto_ms(cases[i].srtt, cases[i].rttvar, floor_ms);

			if (got != want)
				tk_note("srtt %u us rttvar %u us floor %u ms: %u, expected %u",
					cases[i].srtt, cases[i].rttvar, floor_ms, got, want);
			TK_ASSERT_EQ(got, want);
		}
	}
	/* The default floor, Linux's 200 ms, on a sub-millisecond path. */
	TK_ASSERT_EQ(skiff__rto_ms(80, 40, 200), 200);
	/* A 300 ms path with 100 ms of variance: 700 ms, above the floor. */
	TK_ASSERT_EQ(skiff__rto_ms(300000, 100000, 200), 700);
}

/* RFC 8985 7.2: PTO = 2 * SRTT; with one segment in flight, at least
 * 1.5 * SRTT + WCDelAckT (200 ms); no SRTT yet: 1 s. skiff's floor for a
 * sub-millisecond path: 10 ms (SKIFF_PTO_MIN_US, the TLP draft's). */
static void test_pto_formula(void)
{
	TK_ASSERT_EQ(skiff__pto_us(0, false), 1000000);
	TK_ASSERT_EQ(skiff__pto_us(0, true), 1000000);
	TK_ASSERT_EQ(skiff__pto_us(10000, false), 20000);
	TK_ASSERT_EQ(skiff__pto_us(10000, true), 15000 + 200000);
	TK_ASSERT_EQ(skiff__pto_us(400000, true), 800000); /* 2 SRTT is the larger */
	TK_ASSERT_EQ(skiff__pto_us(300, false), 10000);
	TK_ASSERT_EQ(skiff__pto_us(4999, false), 10000);
	TK_ASSERT_EQ(skiff__pto_us(5001, false), 10002);
	TK_ASSERT_EQ(skiff__pto_us(300, true), 450 + 200000);
}

/* RFC 8985 6.2, step 4: RACK.reo_wnd = RACK.min_RTT / 4 (reo_wnd_mult 1),
 * at most SRTT; 0 while in recovery on a path not seen to reorder. */
static void test_reordering_window(void)
{
	struct skiff_recovery r;

	memset(&r, 0, sizeof(r));
	r.min_rtt_us = 8000;
	r.srtt_us = 10000;
	TK_ASSERT_EQ(skiff__reo_wnd_us(&r), 2000);
	r.srtt_us = 1500; /* min RTT from long ago, SRTT lower now */
	TK_ASSERT_EQ(skiff__reo_wnd_us(&r), 1500);
	r.srtt_us = 10000;
	r.active = true; /* recovering, no reordering seen */
	TK_ASSERT_EQ(skiff__reo_wnd_us(&r), 0);
	r.reord = true; /* ... but the path reorders */
	TK_ASSERT_EQ(skiff__reo_wnd_us(&r), 2000);
}

/* ---- PRR (RFC 6937) ----------------------------------------------------------------- */

#define SMSS 1000u

/* One ACK of an episode: what it delivered, the pipe after it, the sndcnt
 * RFC 6937 gives, and what the sender then sends: whole segments, as
 * skiff does (prr_quota() lets a segment go while any count is left). */
struct prr_step {
	uint32_t delivered, pipe, sndcnt;
};

static uint32_t segments_for(uint32_t sndcnt)
{
	return (sndcnt + SMSS - 1) / SMSS * SMSS;
}

static void run_steps(uint32_t recover_fs, uint32_t ssthresh, const struct prr_step *steps,
		      size_t n)
{
	struct skiff_prr p;

	skiff__prr_init(&p, recover_fs);
	for (size_t i = 0; i < n; i++) {
		uint32_t got =
			skiff__prr_sndcnt(&p, steps[i].delivered, steps[i].pipe, ssthresh, SMSS);

		if (got != steps[i].sndcnt)
			tk_note("ACK %zu: sndcnt %u, expected %u (prr_delivered %u, prr_out %u)",
				i + 1, got, steps[i].sndcnt, p.delivered, p.out);
		TK_ASSERT_EQ(got, steps[i].sndcnt);
		p.out += segments_for(got);
	}
}

/* In the style of RFC 6937's examples (3.1): 20 segments in flight
 * (RecoverFS 20,000 bytes, SMSS 1,000), one lost; every ACK reports one
 * segment delivered and the pipe stays above ssthresh, so
 * sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
 *
 * Reno, ssthresh 10,000: one segment for every two delivered.
 *   ack#      1    2    3    4    5    6    7    8
 *   pipe  18000 17000 17000 16000 16000 15000 15000 14000
 *   sndcnt  500    0  500    0  500    0  500    0
 *   sent      N    -    N    -    N    -    N    -
 *
 * CUBIC, ssthresh 14,000 (beta 0.7): seven for every ten.
 *   ack#       1    2    3    4    5    6    7    8    9   10
 *   sndcnt   700  400  100    0  500  200    0  600  300    0
 */
/* RFC 8985 6.2 step 2: a resent segment is RACK's reference only when
 * the ACK's timestamp echo is not older than the resend. The echo counts
 * milliseconds, so a resend's TSval is made to differ from its previous
 * transmission's even within one tick, and the clock never goes back
 * after that (RFC 7323: TSvals do not decrease). */
static void test_resend_tsval(void)
{
	/* A first transmission takes the clock. */
	CU_ASSERT_EQUAL(skiff__tsval(1000, 1000, false, 0), 1000);
	CU_ASSERT_EQUAL(skiff__tsval(1003, 1000, false, 0), 1003);
	/* A resend in the tick of its original goes one above it... */
	CU_ASSERT_EQUAL(skiff__tsval(1000, 1000, true, 1000), 1001);
	/* ...and what follows in that tick does not go back below it. */
	CU_ASSERT_EQUAL(skiff__tsval(1000, 1001, false, 0), 1001);
	CU_ASSERT_EQUAL(skiff__tsval(1001, 1001, false, 0), 1001);
	CU_ASSERT_EQUAL(skiff__tsval(1002, 1001, false, 0), 1002);
	/* A second resend in the same tick goes above the first. */
	CU_ASSERT_EQUAL(skiff__tsval(1000, 1001, true, 1001), 1002);
	/* A resend a tick or more later takes the clock. */
	CU_ASSERT_EQUAL(skiff__tsval(1005, 1002, true, 1001), 1005);
	/* Across the clock's wrap. */
	CU_ASSERT_EQUAL(skiff__tsval(0xffffffffu, 0xffffffffu, true, 0xffffffffu), 0);
	CU_ASSERT_EQUAL(skiff__tsval(0xffffffffu, 0, false, 0), 0);
	CU_ASSERT_EQUAL(skiff__tsval(1, 0, true, 0xffffffffu), 1);
	/* A floor or an earlier TSval from long ago (the clock went round
	 * since) is not ahead of the clock: it does not hold it back. */
	CU_ASSERT_EQUAL(skiff__tsval(1000, 1000 + SKIFF_TS_AHEAD_MAX, false, 0), 1000);
	CU_ASSERT_EQUAL(skiff__tsval(1000, 0x90000000u, true, 0x90000000u), 1000);
}

static void test_prr_proportional(void)
{
	static const struct prr_step reno[] = {
		{1000, 18000, 500}, {1000, 17000, 0}, {1000, 17000, 500}, {1000, 16000, 0},
		{1000, 16000, 500}, {1000, 15000, 0}, {1000, 15000, 500}, {1000, 14000, 0},
	};
	static const struct prr_step cubic[] = {
		{1000, 18000, 700}, {1000, 18000, 400}, {1000, 18000, 100}, {1000, 18000, 0},
		{1000, 17000, 500}, {1000, 17000, 200}, {1000, 17000, 0},   {1000, 16000, 600},
		{1000, 16000, 300}, {1000, 16000, 0},
	};
	struct skiff_prr p;

	run_steps(20000, 10000, reno, sizeof(reno) / sizeof(reno[0]));
	run_steps(20000, 14000, cubic, sizeof(cubic) / sizeof(cubic[0]));

	/* Sent ahead of the share (a rounded-up segment): nothing, never
	 * a negative count. */
	skiff__prr_init(&p, 20000);
	p.out = 3000;
	TK_ASSERT_EQ(skiff__prr_sndcnt(&p, 1000, 18000, 10000, SMSS), 0);
	TK_ASSERT_EQ(p.delivered, 1000);
	/* A stretch ACK reporting eight segments: their share at once. */
	TK_ASSERT_EQ(skiff__prr_sndcnt(&p, 8000, 15000, 10000, SMSS), 4500 - 3000);
	/* RecoverFS near 2^32 / prr_delivered * ssthresh past 32 bits:
	 * CEIL(3e9 * 2e9 / 4e9) = 1.5e9. */
	skiff__prr_init(&p, 4000000000u);
	p.delivered = 2000000000u;
	TK_ASSERT_EQ(skiff__prr_sndcnt(&p, 1000000000u, 3900000000u, 2000000000u, SMSS),
		     1500000000u);
	/* The CEIL: 10 segments of 1,448 in flight, CUBIC's 0.7 of them as
	 * ssthresh (10,136); one delivered: 1,448 * 10,136 / 14,480 =
	 * 1,013.6, rounded up. */
	skiff__prr_init(&p, 14480);
	TK_ASSERT_EQ(skiff__prr_sndcnt(&p, 1448, 13032, 10136, 1448), 1014);
	/* No RecoverFS: taken as one byte, not a division by zero. */
	skiff__prr_init(&p, 0);
	TK_ASSERT_EQ(p.recover_fs, 1);
}

/* PRR-SSRB: once losses have taken the pipe to ssthresh or below,
 * sndcnt = MIN(ssthresh - pipe, MAX(prr_delivered - prr_out,
 * DeliveredData) + MSS): back to ssthresh no faster than slow start.
 * RecoverFS 20,000, ssthresh 10,000, pipe after each ACK:
 *
 *   ack#        1     2     3     4     5     6     7
 *   delivered 3000  1000  1000  1000  1000  1000  1000
 *   pipe      2000  5000  6000  7000  8000  9000  9000
 *   limit     4000  2000  2000  2000  2000  2000  2000
 *   sndcnt    4000  2000  2000  2000  2000  1000  1000
 *
 * two for one (slow start) until ssthresh - pipe binds, then one for one.
 *
 * and one that crosses from the proportional part into the bound: pipe
 * 11,000 then 9,500 after a second loss.
 */
static void test_prr_slow_start_bound(void)
{
	static const struct prr_step ssrb[] = {
		{3000, 2000, 4000}, {1000, 5000, 2000}, {1000, 6000, 2000}, {1000, 7000, 2000},
		{1000, 8000, 2000}, {1000, 9000, 1000}, {1000, 9000, 1000},
	};
	static const struct prr_step cross[] = {
		/* proportional: CEIL(1000 * 10000 / 20000) - 0 = 500 (1 segment sent) */
		{1000, 11000, 500},
		/* bound: prr_delivered 2000 - prr_out 1000 = 1000, +MSS = 2000;
		 * ssthresh - pipe = 500 binds */
		{1000, 9500, 500},
		/* pipe 9500 + 1000 - 1000 = 9500 again; prr_delivered 3000 -
		 * prr_out 2000 = 1000, +MSS: 2000; 500 binds */
		{1000, 9500, 500},
		/* a stretch ACK of 4000 that shows 2000 more lost: pipe 10500 -
		 * 4000 - 2000 = 4500; MAX(7000 - 3000, 4000) + MSS = 5000 binds
		 * (ssthresh - pipe 5500) */
		{4000, 4500, 5000},
	};

	run_steps(20000, 10000, ssrb, sizeof(ssrb) / sizeof(ssrb[0]));
	run_steps(20000, 10000, cross, sizeof(cross) / sizeof(cross[0]));
}

/* RFC 6937 3's pseudocode, in real numbers, against skiff's for random
 * episodes: the same sndcnt on every ACK. */
static double rfc6937_sndcnt(double prr_delivered, double prr_out, double delivered, double pipe,
			     double ssthresh, double recover_fs, double mss)
{
	double sndcnt;

	if (pipe > ssthresh) {
		sndcnt = ceil(prr_delivered * ssthresh / recover_fs) - prr_out;
	} else {
		double limit = fmax(prr_delivered - prr_out, delivered) + mss;

		sndcnt = fmin(ssthresh - pipe, limit);
	}
	return fmax(sndcnt, 0);
}

static void test_prr_against_the_pseudocode(void)
{
	unsigned seed = 6937;

	for (int episode = 0; episode < 200; episode++) {
		uint32_t mss = 536 + (uint32_t)(rand_r(&seed) % 9000);
		uint32_t recover_fs = mss * (4 + (uint32_t)(rand_r(&seed) % 400));
		uint32_t ssthresh = (uint32_t)(recover_fs * (0.5 + (rand_r(&seed) % 3) * 0.1));
		uint32_t pipe = recover_fs - mss;
		double delivered_sum = 0, out_sum = 0;
		struct skiff_prr p;

		skiff__prr_init(&p, recover_fs);
		for (int ack = 0; ack < 300; ack++) {
			uint32_t delivered = mss * (uint32_t)(rand_r(&seed) % 3);
			uint32_t lost = rand_r(&seed) % 10 == 0 ? mss : 0;
			uint32_t got, sent;
			double want;

			pipe = pipe > delivered + lost ? pipe - delivered - lost : 0;
			delivered_sum += delivered;
			want = rfc6937_sndcnt(delivered_sum, out_sum, delivered, pipe, ssthresh,
					      recover_fs, mss);
			got = skiff__prr_sndcnt(&p, delivered, pipe, ssthresh, mss);
			if (got != (uint32_t)want) {
				tk_note("episode %d ACK %d: %u, expected %.0f", episode, ack, got,
					want);
				TK_ASSERT_EQ(got, (uint32_t)want);
				return;
			}
			sent = (got + mss - 1) / mss * mss;
			p.out += sent;
			out_sum += sent;
			pipe += sent;
		}
	}
}

/* lwIP's timeout moves unacked in front of unsent. When RACK had taken
 * the lowest segments back as lost (to unsent, in order), the queue came
 * out as 3000 4000 5000 | 0 1000 2000 6000 7000: its head beyond a
 * one-segment window, and an MPTCP test stalled for good on it. It goes
 * back in order, the tail kept; an ordered queue is left alone. */
static void test_rto_queue_back_in_order(void)
{
	static const u32_t order[] = {3000, 4000, 5000, 0, 1000, 2000, 6000, 7000};
	struct tcp_hdr hdr[8];
	struct tcp_seg seg[8];
	struct tcp_pcb pcb;
	uint64_t before = skiff__s.stats.tcp_unsent_reordered;
	const struct tcp_seg *x;
	unsigned n = 0;

	memset(&pcb, 0, sizeof(pcb));
	memset(seg, 0, sizeof(seg));
	for (unsigned i = 0; i < 8; i++) {
		memset(&hdr[i], 0, sizeof(hdr[i]));
		hdr[i].seqno = lwip_htonl(order[i]);
		seg[i].tcphdr = &hdr[i];
		seg[i].len = 1000;
		seg[i].next = i < 7 ? &seg[i + 1] : NULL;
	}
	pcb.unsent = &seg[0];
	pcb.unsent_tail = &seg[7];
	pcb.unsent_oversize = 100;
	skiff__recovery_unsent_in_order(&pcb);
	for (x = pcb.unsent; x; x = x->next, n++)
		TK_ASSERT_EQ(lwip_ntohl(x->tcphdr->seqno), n * 1000);
	TK_ASSERT_EQ(n, 8);
	CU_ASSERT(pcb.unsent_tail == &seg[7]);
	TK_ASSERT_EQ(pcb.unsent_oversize, 0);
	TK_ASSERT_EQ(skiff__s.stats.tcp_unsent_reordered - before, 1);
	/* In order already: untouched, not counted. */
	pcb.unsent_oversize = 100;
	skiff__recovery_unsent_in_order(&pcb);
	TK_ASSERT_EQ(pcb.unsent_oversize, 100);
	TK_ASSERT_EQ(skiff__s.stats.tcp_unsent_reordered - before, 1);
#if TCP_OVERSIZE_DBGCHECK
	/* A new tail that once had room (lwIP's debug builds then assert
	 * at the next tcp_write() that the pcb and the tail agree: a CI run
	 * of test_mptcp_two_ports_first_link_gone hit it). */
	seg[6].next = NULL; /* 0 .. 6000 */
	seg[7].next = &seg[0];
	pcb.unsent = &seg[7]; /* 7000 first */
	pcb.unsent_tail = &seg[6];
	seg[7].oversize_left = 200;
	pcb.unsent_oversize = seg[6].oversize_left = 100;
	skiff__recovery_unsent_in_order(&pcb);
	CU_ASSERT(pcb.unsent_tail == &seg[7]);
	TK_ASSERT_EQ(pcb.unsent_oversize, 0);
	TK_ASSERT_EQ(seg[7].oversize_left, pcb.unsent_oversize);
#endif
}

static const struct tk_case tests[] = {
	TK_TEST(test_rto_formula_and_floor),
	TK_TEST(test_pto_formula),
	TK_TEST(test_reordering_window),
	TK_TEST(test_resend_tsval),
	TK_TEST(test_prr_proportional),
	TK_TEST(test_prr_slow_start_bound),
	TK_TEST(test_prr_against_the_pseudocode),
	TK_TEST(test_rto_queue_back_in_order),
	TK_TEST_END,
};

static const struct tk_suite suite = {"recovery", NULL, NULL, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
