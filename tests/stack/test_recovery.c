/* Loss recovery's formulas against the RFCs' own: the retransmission
 * timeout (RFC 6298 2.2-2.4, with skiff's floor), the tail loss probe's
 * timeout (RFC 8985 7.2) and RACK's reordering window (RFC 8985 6.2). */
#define _GNU_SOURCE
#include <string.h>

#include "../../stack/recovery.h"
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

static const struct tk_case tests[] = {
	TK_TEST(test_rto_formula_and_floor),
	TK_TEST(test_pto_formula),
	TK_TEST(test_reordering_window),
	TK_TEST_END,
};

static const struct tk_suite suite = {"recovery", NULL, NULL, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
