/* Initial sequence numbers as a peer sees them (RFC 6528). The test drives
 * the far end of an in-process memlink wire with crafted frames: 1,000
 * connections to a skiff listener (the ISN read from each SYN-ACK) and
 * 1,000 connections skiff opens (read from each SYN), each handshake
 * completed, then reset. The ISNs must not be predictable from each
 * other: none repeats, consecutive differences are neither constant nor
 * linear, neither extrapolation nor the clock alone guesses the next one
 * within a 64 KiB window, every bit is set about half the time. One
 * 4-tuple reused over time must move by the 4 us clock and nothing else.
 * No root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../../stack/skiff_testing.h"
#include "stack_test.h"

#define N	    1000
#define LPORT	    80	 /* skiff's listener */
#define PEER_LPORT  9000 /* the peer's "listener" skiff connects to */
#define PEER_ISN    0x10000000u
#define WINDOW_HALF 32768u /* a guess within 64 KiB is a hit */

static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x77};

static struct {
	struct skiff_memlink *w;
	struct umem *u;
	struct umem_port *p;
	struct umem_geometry g;
	uint8_t stack_mac[6];
	uint32_t stack_ip, peer_ip; /* network order */
	bool up;
} I;

/* A TCP segment skiff sent. */
struct seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the peer's end of the wire ------------------------------------------------------ */

static void peer_send(const uint8_t *frame, size_t len)
{
	struct umem_desc d;
	uint64_t a;

	CU_ASSERT_FATAL(umem_alloc(I.u, &a) == 0);
	a += I.g.headroom;
	memcpy(umem_geo_ptr(&I.g, a), frame, len);
	d = (struct umem_desc){.addr = a, .len = (uint32_t)len};
	CU_ASSERT_FATAL(umem_port_tx(I.p, &d, 1) == 1);
	umem_port_flush(I.p);
	umem_port_complete(I.p, 64);
}

/* An ARP packet from the peer: a request for skiff's address (which also
 * puts the peer in skiff's cache), or the reply to skiff's request. */
static void peer_arp(uint16_t op, const uint8_t *to_mac)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t f[64] = {0};
	size_t n = st_eth_header(f, op == 1 ? bcast : to_mac, peer_mac, 0x0806, 0);
	uint8_t *a = f + n;

	a[1] = 1;    /* Ethernet */
	a[2] = 0x08; /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	a[7] = (uint8_t)op;
	memcpy(a + 8, peer_mac, 6);
	memcpy(a + 14, &I.peer_ip, 4);
	if (op == 2)
		memcpy(a + 18, to_mac, 6);
	memcpy(a + 24, &I.stack_ip, 4);
	peer_send(f, n + 28);
}

static void peer_tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	uint8_t f[128];
	struct st_tcp4 t = {.dst_mac = I.stack_mac,
			    .src_mac = peer_mac,
			    .saddr = I.peer_ip,
			    .daddr = I.stack_ip,
			    .sport = sport,
			    .dport = dport,
			    .seq = seq,
			    .ack = ack,
			    .flags = flags};

	peer_send(f, st_tcp4_frame(f, &t, NULL, 0));
}

/* The next TCP segment from skiff within @p ms, running the stack
 * meanwhile; ARP requests for the peer are answered on the way, anything
 * else is passed over. */
static bool peer_recv(struct seg *s, int ms)
{
	long long end = st_now_ms() + ms;

	while (st_now_ms() < end) {
		struct umem_desc d;
		const uint8_t *f, *ip, *th;

		skiff_poll(0);
		umem_port_refill(I.p);
		if (umem_port_rx(I.p, &d, 1) != 1) {
			umem_port_complete(I.p, 64);
			continue;
		}
		f = umem_geo_ptr(&I.g, d.addr);
		ip = f + 14;
		if (f[12] == 0x08 && f[13] == 0x06 && ip[7] == 1 &&
		    memcmp(ip + 24, &I.peer_ip, 4) == 0) {
			uint8_t asker[6];

			memcpy(asker, ip + 8, 6);
			umem_free(I.u, d.addr);
			peer_arp(2, asker);
			continue;
		}
		if (f[12] != 0x08 || f[13] != 0x00 || ip[9] != 6) {
			umem_free(I.u, d.addr);
			continue;
		}
		th = ip + (ip[0] & 0xf) * 4;
		s->sport = (uint16_t)(th[0] << 8 | th[1]);
		s->dport = (uint16_t)(th[2] << 8 | th[3]);
		s->seq = (uint32_t)th[4] << 24 | (uint32_t)th[5] << 16 | (uint32_t)th[6] << 8 |
			 th[7];
		s->ack = (uint32_t)th[8] << 24 | (uint32_t)th[9] << 16 | (uint32_t)th[10] << 8 |
			 th[11];
		s->flags = th[13];
		umem_free(I.u, d.addr);
		return true;
	}
	return false;
}

/* The next segment of the connection to peer port @p port with exactly
 * @p flags (retransmissions of earlier connections are passed over). */
static bool peer_expect(struct seg *s, uint16_t port, uint8_t flags)
{
	long long end = st_now_ms() + 2000;

	while (peer_recv(s, (int)(end - st_now_ms() > 0 ? end - st_now_ms() : 1)))
		if (s->dport == port && s->flags == flags)
			return true;
	return false;
}

/* ---- set-up ---------------------------------------------------------------------------- */

static void setup(void)
{
	struct skiff_config c;
	struct umem_config uc;

	memset(&I, 0, sizeof(I));
	I.w = st_memlink_create();
	CU_ASSERT_FATAL(I.w != NULL);
	c = st_memlink_config(I.w, 0);
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	I.up = true;
	memcpy(I.stack_mac, c.mac, 6);
	I.stack_ip = c.ipv4;
	inet_pton(AF_INET, ST_ML_IP4_1, &I.peer_ip);
	CU_ASSERT_FATAL(umem_memlink_umem_config(skiff__memlink_wire(I.w), 1, &uc) == 0);
	CU_ASSERT_FATAL(umem_create(&I.u, &uc) == 0);
	CU_ASSERT_FATAL(umem_memlink_port(&I.p, skiff__memlink_wire(I.w), 1, I.u) == 0);
	umem_geometry(I.u, &I.g);
	umem_port_refill(I.p);
	peer_arp(1, NULL);
}

static void teardown(void)
{
	if (I.up) {
		struct skiff_stats st;

		st_assert_idle();
		skiff_get_stats(&st);
		TK_ASSERT_EQ(st.frames_total, st.frames_free + st.frames_fill);
		skiff_fini();
	}
	if (I.p) {
		umem_port_destroy(I.p);
		CU_ASSERT(umem_audit(I.u, NULL));
		CU_ASSERT(umem_destroy(I.u) == 0);
	}
	if (I.w)
		CU_ASSERT(skiff_memlink_destroy(I.w) == 0);
	memset(&I, 0, sizeof(I));
}

/* ---- connections ----------------------------------------------------------------------- */

/* The peer connects from @p sport: SYN, skiff's SYN-ACK (its ISN), ACK,
 * accepted, then the peer resets. @p t0 / @p t1 bracket the moment skiff
 * chose the ISN. */
static uint32_t peer_connects(int lfd, uint16_t sport, uint64_t *t0, uint64_t *t1)
{
	struct seg s;
	int fd = -1;

	*t0 = now_ns();
	peer_tcp(sport, LPORT, PEER_ISN, 0, ST_TH_SYN);
	CU_ASSERT_FATAL(peer_expect(&s, sport, ST_TH_SYN | ST_TH_ACK));
	*t1 = now_ns();
	TK_ASSERT_EQ(s.ack, PEER_ISN + 1);
	peer_tcp(sport, LPORT, PEER_ISN + 1, s.seq + 1, ST_TH_ACK);
	for (long long end = st_now_ms() + 2000; fd < 0 && st_now_ms() < end;) {
		skiff_poll(0);
		fd = skiff_accept(lfd, NULL, NULL, 0);
	}
	CU_ASSERT_FATAL(fd >= 0);
	peer_tcp(sport, LPORT, PEER_ISN + 1, s.seq + 1, ST_TH_RST | ST_TH_ACK);
	skiff_poll(0);
	CU_ASSERT(skiff_close(fd) == 0);
	return s.seq;
}

/* skiff connects to the peer: its SYN (the ISN), the peer's SYN-ACK,
 * skiff's ACK, then the peer resets. */
static uint32_t skiff_connects(uint64_t *t0, uint64_t *t1)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PEER_LPORT)};
	int fd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t elen = sizeof(err);
	struct seg s, ack;

	CU_ASSERT_FATAL(fd >= 0);
	a.sin_addr.s_addr = I.peer_ip;
	*t0 = now_ns();
	CU_ASSERT(skiff_connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 &&
		  errno == EINPROGRESS);
	CU_ASSERT_FATAL(peer_expect(&s, PEER_LPORT, ST_TH_SYN));
	*t1 = now_ns();
	peer_tcp(PEER_LPORT, s.sport, PEER_ISN, s.seq + 1, ST_TH_SYN | ST_TH_ACK);
	CU_ASSERT_FATAL(peer_expect(&ack, PEER_LPORT, ST_TH_ACK));
	TK_ASSERT_EQ(ack.seq, s.seq + 1);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err == 0);
	peer_tcp(PEER_LPORT, s.sport, PEER_ISN + 1, s.seq + 1, ST_TH_RST | ST_TH_ACK);
	skiff_poll(0);
	CU_ASSERT(skiff_close(fd) == 0);
	return s.seq;
}

/* ---- statistics ----------------------------------------------------------------------------- */

struct isn_stats {
	unsigned repeats;	   /* values seen before */
	unsigned distinct_steps;   /* distinct consecutive differences */
	unsigned distinct_accel;   /* distinct second differences */
	unsigned linear_hits;	   /* next = last + last step, within the window */
	unsigned clock_hits;	   /* next = last + elapsed / 4 us, within the window */
	unsigned bit_min, bit_max; /* fewest / most ones of any bit position */
	double mean_flips;	   /* bits that differ between consecutive ISNs */
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static unsigned distinct(uint32_t *v, unsigned n)
{
	unsigned k = n ? 1 : 0;

	qsort(v, n, sizeof(*v), cmp_u32);
	for (unsigned i = 1; i < n; i++)
		k += v[i] != v[i - 1];
	return k;
}

static bool near(uint32_t guess, uint32_t actual)
{
	return actual - guess + WINDOW_HALF < 2 * WINDOW_HALF;
}

/* @p isn[i] was chosen at about @p t[i] (ns). */
static void analyse(const uint32_t *isn, const uint64_t *t, struct isn_stats *a)
{
	static uint32_t tmp[N], step[N], accel[N];
	unsigned ones[32] = {0}, flips = 0;

	memset(a, 0, sizeof(*a));
	memcpy(tmp, isn, sizeof(tmp));
	a->repeats = N - distinct(tmp, N);
	for (unsigned i = 1; i < N; i++)
		step[i - 1] = isn[i] - isn[i - 1];
	for (unsigned i = 2; i < N; i++)
		accel[i - 2] = step[i - 1] - step[i - 2];
	for (unsigned i = 2; i < N; i++) {
		a->linear_hits += near(isn[i - 1] + (isn[i - 1] - isn[i - 2]), isn[i]);
		a->clock_hits += near(isn[i - 1] + (uint32_t)((t[i] - t[i - 1]) / 4000), isn[i]);
	}
	for (unsigned i = 0; i < N; i++) {
		for (int b = 0; b < 32; b++)
			ones[b] += (isn[i] >> b) & 1;
		if (i)
			flips += (unsigned)__builtin_popcount(isn[i] ^ isn[i - 1]);
	}
	a->bit_min = N;
	for (int b = 0; b < 32; b++) {
		if (ones[b] < a->bit_min)
			a->bit_min = ones[b];
		if (ones[b] > a->bit_max)
			a->bit_max = ones[b];
	}
	a->mean_flips = flips / (double)(N - 1);
	a->distinct_steps = distinct(step, N - 1);
	a->distinct_accel = distinct(accel, N - 2);
}

/* Random 32-bit values: a repeat among 1,000 has odds of 1 in 8,600; a
 * window hit 1 in 65,000 a guess; a bit count beyond 500 +- 100 is over
 * six standard deviations out. */
static void assert_unpredictable(const char *who, const struct isn_stats *a)
{
	tk_note("%s: %u repeats, %u distinct steps, %u distinct second differences, "
		"%u linear / %u clock guesses within 64 KiB, ones per bit %u..%u, "
		"%.2f bits flip",
		who, a->repeats, a->distinct_steps, a->distinct_accel, a->linear_hits,
		a->clock_hits, a->bit_min, a->bit_max, a->mean_flips);
	TK_ASSERT_EQ(a->repeats, 0);
	CU_ASSERT(a->distinct_steps >= N - 10);
	CU_ASSERT(a->distinct_accel >= N - 10);
	CU_ASSERT(a->linear_hits <= 2);
	CU_ASSERT(a->clock_hits <= 2);
	CU_ASSERT(a->bit_min >= 400 && a->bit_max <= 600);
	CU_ASSERT(a->mean_flips > 15.0 && a->mean_flips < 17.0);
}

static void test_1000_connections_each_way_unpredictable(void)
{
	static uint32_t passive[N], active[N];
	static uint64_t tp[N], ta[N];
	struct isn_stats sp, sa;
	long long t0 = st_now_ms();
	uint64_t t1;
	int lfd = st_skiff_listen(AF_INET, LPORT, 16);

	for (unsigned i = 0; i < N; i++)
		passive[i] = peer_connects(lfd, (uint16_t)(20000 + i), &tp[i], &t1);
	for (unsigned i = 0; i < N; i++)
		active[i] = skiff_connects(&ta[i], &t1);
	CU_ASSERT(skiff_close(lfd) == 0);
	analyse(passive, tp, &sp);
	analyse(active, ta, &sa);
	assert_unpredictable("skiff accepting (SYN-ACKs)", &sp);
	assert_unpredictable("skiff connecting (SYNs)", &sa);
	tk_score("2 x 1,000 connections (accepted / opened) in %lld ms: 0 repeats, "
		 "%u / %u distinct steps, linear guesses hit %u / %u, clock guesses "
		 "%u / %u, ones per bit %u..%u, %.1f / %.1f bits flip between neighbours",
		 st_now_ms() - t0, sp.distinct_steps, sa.distinct_steps, sp.linear_hits,
		 sa.linear_hits, sp.clock_hits, sa.clock_hits,
		 sp.bit_min < sa.bit_min ? sp.bit_min : sa.bit_min,
		 sp.bit_max > sa.bit_max ? sp.bit_max : sa.bit_max, sp.mean_flips, sa.mean_flips);
}

/* RFC 6528: ISN = M + F(4-tuple, key). For one 4-tuple F is fixed, so two
 * ISNs differ by exactly the 4 us ticks between them: within the bounds
 * the send and receive times put on each. */
#define SAME_TUPLE 20

static void test_same_tuple_moves_with_the_clock_only(void)
{
	uint32_t isn[SAME_TUPLE];
	uint64_t t0[SAME_TUPLE], t1[SAME_TUPLE];
	unsigned ok = 0;
	int64_t worst = 0;
	int lfd = st_skiff_listen(AF_INET, LPORT, 16);

	for (int i = 0; i < SAME_TUPLE; i++) {
		isn[i] = peer_connects(lfd, 33333, &t0[i], &t1[i]);
		usleep(2000 + 1000 * (unsigned)i); /* uneven gaps: 2..21 ms */
	}
	CU_ASSERT(skiff_close(lfd) == 0);
	for (int i = 1; i < SAME_TUPLE; i++) {
		/* Ticks the clock can have moved: at least from the end of the
		 * first handshake to the start of this one, at most from the
		 * start of the first to the end of this one (+1 for rounding). */
		uint64_t lo = (t0[i] - t1[0]) / 4000, hi = (t1[i] - t0[0]) / 4000 + 1;
		uint32_t d = isn[i] - isn[0];

		if (d >= lo && d <= hi)
			ok++;
		else
			tk_note("connection %d: ISN moved %u ticks, clock %llu..%llu", i, d,
				(unsigned long long)lo, (unsigned long long)hi);
		if ((int64_t)hi - (int64_t)lo > worst)
			worst = (int64_t)hi - (int64_t)lo;
	}
	TK_ASSERT_EQ(ok, SAME_TUPLE - 1);
	tk_score("one 4-tuple reconnected %d times over %.0f ms: %u of %d ISN steps equal "
		 "the 4 us ticks elapsed (bracket at most %lld ticks wide)",
		 SAME_TUPLE, (t1[SAME_TUPLE - 1] - t0[0]) / 1e6, ok, SAME_TUPLE - 1,
		 (long long)worst);
}

static const struct tk_case tests[] = {
	TK_TEST(test_1000_connections_each_way_unpredictable),
	TK_TEST(test_same_tuple_moves_with_the_clock_only),
	TK_TEST_END,
};

static const struct tk_suite suite = {"isn", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
