/* umem/memlink.c: the software wire, in one process (this test drives both
 * ends with raw frames) and between two (fork), with seeded faults. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <skiff/umem.h>

#include "testkit.h"

/* ---- fixture: a wire with both ends open in this process ----------------- */

struct link {
	struct umem_memlink *w;
	struct umem *u[2];
	struct umem_port *p[2];
};

static struct link L;

static void setup(void)
{
	memset(&L, 0, sizeof(L));
}

/* Ports down, every frame of both UMEMs back in its allocator. */
static void teardown(void)
{
	for (unsigned e = 0; e < 2; e++) {
		struct umem_audit a;

		umem_port_destroy(L.p[e]);
		L.p[e] = NULL;
		if (!L.u[e])
			continue;
		CU_ASSERT(umem_audit(L.u[e], &a));
		TK_ASSERT_EQ(a.free, a.total);
		TK_ASSERT_EQ(umem_destroy(L.u[e]), 0);
		L.u[e] = NULL;
	}
	TK_ASSERT_EQ(umem_memlink_destroy(L.w), 0);
	L.w = NULL;
}

static void link_up(uint32_t ring, uint32_t frames)
{
	struct umem_memlink_config mc = {.ring_size = ring, .frame_count = frames};

	CU_ASSERT_FATAL(umem_memlink_create(&L.w, &mc) == 0);
	for (unsigned e = 0; e < 2; e++) {
		struct umem_config c;

		CU_ASSERT_FATAL(umem_memlink_umem_config(L.w, e, &c) == 0);
		CU_ASSERT_FATAL(umem_create(&L.u[e], &c) == 0);
		CU_ASSERT_FATAL(umem_memlink_port(&L.p[e], L.w, e, L.u[e]) == 0);
	}
}

/* ---- payloads: numbered, self-checking ------------------------------------ */

struct hdr {
	uint32_t seq;
	uint32_t len;
	uint32_t pad;
	uint32_t sum; /* of every byte before it and after the header */
};

static uint32_t payload_len(uint32_t seq)
{
	return 64 + 8 * (seq % 180); /* 64 .. 1496 */
}

static uint32_t byte_sum(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

/* Fills n bytes at p: a header, then words derived from seq. */
static void write_payload(uint8_t *p, uint32_t seq, uint32_t n)
{
	struct hdr h = {.seq = seq, .len = n};
	uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;

	for (uint32_t off = sizeof(h); off < n; off += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + off, &x, 8);
	}
	h.sum = byte_sum((const uint8_t *)&h, offsetof(struct hdr, sum)) +
		byte_sum(p + sizeof(h), n - sizeof(h));
	memcpy(p, &h, sizeof(h));
}

/* Returns the seq of a payload that checks out, or -1. */
static int64_t check_payload(const uint8_t *p, uint32_t n)
{
	struct hdr h;

	if (n < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (h.len != n || h.sum != byte_sum(p, offsetof(struct hdr, sum)) +
					   byte_sum(p + sizeof(h), n - sizeof(h)))
		return -1;
	return h.seq;
}

/* Sends n numbered frames from seq on end e's port; returns how many went. */
static unsigned send_numbered(struct umem_port *p, uint32_t seq, unsigned n)
{
	struct umem *u = umem_port_umem(p);
	struct umem_geometry g;
	struct umem_desc d[64];
	uint64_t a[64];
	unsigned k, sent;

	umem_geometry(u, &g);
	if (n > 64)
		n = 64;
	k = umem_alloc_bulk(u, a, n);
	for (unsigned i = 0; i < k; i++) {
		uint32_t len = payload_len(seq + i);

		d[i] = (struct umem_desc){.addr = a[i] + g.headroom, .len = len};
		write_payload(umem_geo_ptr(&g, d[i].addr), seq + i, len);
	}
	sent = umem_port_tx(p, d, k);
	if (sent < k)
		umem_free_bulk(u, a + sent, k - sent);
	return sent;
}

/* ---- one process ----------------------------------------------------------- */

static void test_raw_frames_one_process(void)
{
	struct umem_geometry g0, g1;
	struct umem_desc d[64];
	struct umem_memlink_stats ms;
	struct umem_port_stats ps;
	unsigned n;

	link_up(256, 1024);
	umem_geometry(L.u[0], &g0);
	umem_geometry(L.u[1], &g1);
	TK_ASSERT_EQ(umem_port_fd(L.p[0]), -1);
	TK_ASSERT_EQ(umem_port_refill(L.p[1]), 256);
	TK_ASSERT_EQ(send_numbered(L.p[0], 0, 40), 40);
	TK_ASSERT_EQ(umem_port_rx(L.p[1], d, 64), 0); /* nothing moves before a flush */
	TK_ASSERT_EQ(umem_port_flush(L.p[0]), 0);
	n = umem_port_rx(L.p[1], d, 64);
	TK_ASSERT_EQ(n, 40);
	for (unsigned i = 0; i < n; i++) {
		/* Copy mode: the packet lands past headroom + XDP headroom. */
		TK_ASSERT_EQ(d[i].addr % g1.frame_size, g1.headroom + UMEM_XDP_PACKET_HEADROOM);
		TK_ASSERT_EQ(d[i].len, payload_len(i));
		TK_ASSERT_EQ(check_payload(umem_geo_ptr(&g1, d[i].addr), d[i].len), i);
		TK_ASSERT_EQ(umem_frame_state(L.u[1], d[i].addr), UMEM_FRAME_HELD);
		umem_free(L.u[1], d[i].addr);
	}
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 64), 40); /* back, and freed */
	umem_memlink_get_stats(L.w, 0, &ms);
	TK_ASSERT_EQ(ms.sent, 40);
	TK_ASSERT_EQ(ms.delivered, 40);
	TK_ASSERT_EQ(ms.no_fill + ms.rx_full + ms.invalid + ms.dropped, 0);
	umem_port_get_stats(L.p[1], &ps);
	TK_ASSERT_EQ(ps.rx_frames, 40);
	TK_ASSERT_EQ(ps.rx_dropped, 0);
}

static uint64_t g_done[4096];
static unsigned g_done_n;

static void on_tx_done(void *opaque, const uint64_t *addrs, unsigned n)
{
	struct umem *u = opaque;

	for (unsigned i = 0; i < n; i++) {
		CU_ASSERT(umem_frame_state(u, addrs[i]) == UMEM_FRAME_HELD);
		g_done[g_done_n++] = addrs[i];
	}
	umem_free_bulk(u, addrs, n);
}

static void test_completions_return_posted_addrs(void)
{
	struct umem_geometry g;
	struct umem_geometry g1;
	struct umem_desc d[32], r[32];
	uint64_t a[32];

	link_up(64, 256);
	umem_geometry(L.u[0], &g);
	umem_geometry(L.u[1], &g1);
	g_done_n = 0;
	umem_set_tx_done(L.u[0], on_tx_done, L.u[0]);
	umem_port_refill(L.p[1]);
	TK_ASSERT_EQ(umem_alloc_bulk(L.u[0], a, 32), 32);
	for (unsigned i = 0; i < 32; i++) {
		d[i] = (struct umem_desc){.addr = a[i] + 64 * (i % 8), .len = 60 + i};
		memset(umem_geo_ptr(&g, d[i].addr), (int)i, d[i].len);
	}
	TK_ASSERT_EQ(umem_port_tx(L.p[0], d, 32), 32);
	/* complete() moves the wire on its way too. */
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 64), 32);
	TK_ASSERT_EQ(g_done_n, 32);
	for (unsigned i = 0; i < 32; i++)
		TK_ASSERT_EQ(g_done[i], d[i].addr);
	TK_ASSERT_EQ(umem_port_rx(L.p[1], r, 32), 32);
	for (unsigned i = 0; i < 32; i++) {
		const uint8_t *p = umem_geo_ptr(&g1, r[i].addr);

		TK_ASSERT_EQ(r[i].len, 60 + i);
		TK_ASSERT_EQ(p[0], i);
		TK_ASSERT_EQ(p[r[i].len - 1], i);
		umem_free(L.u[1], r[i].addr);
	}
}

/* Many times the fill ring's worth, recycled through refill. */
static void test_fill_refill_cycles(void)
{
	struct umem_desc d[64];
	struct umem_port_stats ps;
	uint32_t seq = 0, expect = 0;
	unsigned bad = 0;

	link_up(128, 512);
	while (expect < 128 * 20) {
		umem_port_refill(L.p[1]);
		unsigned room = umem_memlink_peer_room(L.w, 0);

		seq += send_numbered(L.p[0], seq, room < 48 ? room : 48);
		umem_port_flush(L.p[0]);
		unsigned n = umem_port_rx(L.p[1], d, 64);
		struct umem_geometry g;

		umem_geometry(L.u[1], &g);
		for (unsigned i = 0; i < n; i++) {
			if (check_payload(umem_geo_ptr(&g, d[i].addr), d[i].len) != expect++)
				bad++;
			umem_free(L.u[1], d[i].addr);
		}
		umem_port_complete(L.p[0], 64);
	}
	TK_ASSERT_EQ(bad, 0);
	umem_port_get_stats(L.p[1], &ps);
	CU_ASSERT(ps.fill_posted >= 128 * 20);
	TK_ASSERT_EQ(ps.rx_dropped, 0);
}

static void test_no_fill_counted(void)
{
	struct umem_desc d[8];
	struct umem_memlink_stats ms;
	struct umem_port_stats ps;

	link_up(64, 256);
	TK_ASSERT_EQ(umem_memlink_peer_room(L.w, 0), 0);
	TK_ASSERT_EQ(send_numbered(L.p[0], 0, 8), 8);
	umem_port_flush(L.p[0]);
	TK_ASSERT_EQ(umem_port_rx(L.p[1], d, 8), 0);
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 8), 8); /* lost, but completed */
	umem_memlink_get_stats(L.w, 0, &ms);
	TK_ASSERT_EQ(ms.no_fill, 8);
	TK_ASSERT_EQ(ms.delivered, 0);
	umem_port_get_stats(L.p[1], &ps);
	TK_ASSERT_EQ(ps.rx_fill_ring_empty_descs, 8);
	TK_ASSERT_EQ(ps.rx_dropped, 8);
}

/* The far RX ring is full: frames are lost and counted, fill frames kept. */
static void test_rx_full_counted(void)
{
	struct umem_desc d[64];
	struct umem_memlink_stats ms;
	struct umem_audit au;

	link_up(16, 256);
	umem_port_refill(L.p[1]); /* 16 */
	TK_ASSERT_EQ(send_numbered(L.p[0], 0, 16), 16);
	umem_port_flush(L.p[0]);
	/* reaped: a full completion ring would hold the next ones back */
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 64), 16);
	umem_port_refill(L.p[1]); /* 16 more: 32 FILL frames, RX ring full */
	TK_ASSERT_EQ(umem_memlink_peer_room(L.w, 0), 0);
	TK_ASSERT_EQ(send_numbered(L.p[0], 16, 4), 4);
	umem_port_flush(L.p[0]);
	umem_memlink_get_stats(L.w, 0, &ms);
	TK_ASSERT_EQ(ms.rx_full, 4);
	TK_ASSERT_EQ(ms.delivered, 16);
	CU_ASSERT(umem_audit(L.u[1], &au));
	TK_ASSERT_EQ(au.fill, 32);
	unsigned n = umem_port_rx(L.p[1], d, 64);

	TK_ASSERT_EQ(n, 16);
	for (unsigned i = 0; i < n; i++)
		umem_free(L.u[1], d[i].addr);
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 64), 4);
}

/* A frame longer than the far end's room is refused by the wire (and still
 * completed), as the kernel does with invalid descriptors. */
static void test_too_long_for_far_frame(void)
{
	struct umem_memlink_stats ms;
	struct umem_port_stats ps;
	struct umem_desc d, r[4];
	uint64_t a;

	link_up(64, 256);
	umem_port_refill(L.p[1]);
	TK_ASSERT_EQ(umem_alloc(L.u[0], &a), 0);
	d = (struct umem_desc){.addr = a, .len = 1700}; /* fits ours, not theirs (1536) */
	TK_ASSERT_EQ(umem_port_tx(L.p[0], &d, 1), 1);
	umem_port_flush(L.p[0]);
	TK_ASSERT_EQ(umem_port_rx(L.p[1], r, 4), 0);
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 4), 1);
	umem_memlink_get_stats(L.w, 0, &ms);
	TK_ASSERT_EQ(ms.invalid, 1);
	umem_port_get_stats(L.p[0], &ps);
	TK_ASSERT_EQ(ps.tx_invalid_descs, 1);
}

static void test_open_and_busy(void)
{
	struct umem_memlink *w2;
	struct umem_port *p;
	struct umem *other;
	int fd;

	link_up(64, 256);
	TK_ASSERT_EQ(umem_memlink_port(&p, L.w, 0, L.u[0]), -EBUSY);
	TK_ASSERT_EQ(umem_memlink_port(&p, L.w, 1, L.u[1]), -EBUSY);
	TK_ASSERT_EQ(umem_memlink_port(&p, L.w, 1, L.u[0]), -EINVAL); /* the other end's area */
	TK_ASSERT_EQ(umem_memlink_port(&p, L.w, 2, L.u[0]), -EINVAL);
	CU_ASSERT_FATAL(umem_create(&other, &(struct umem_config){.frame_count = 256}) == 0);
	TK_ASSERT_EQ(umem_memlink_port(&p, L.w, 0, other), -EINVAL); /* not over the area */
	TK_ASSERT_EQ(umem_destroy(other), 0);
	TK_ASSERT_EQ(umem_memlink_destroy(L.w), -EBUSY);
	TK_ASSERT_EQ(umem_destroy(L.u[0]), -EBUSY);

	/* A second mapping of the same wire sees the same ends, taken. */
	TK_ASSERT_EQ(umem_memlink_open(&w2, umem_memlink_fd(L.w)), 0);
	struct umem_config c;
	struct umem *u2;

	TK_ASSERT_EQ(umem_memlink_umem_config(w2, 1, &c), 0);
	CU_ASSERT_FATAL(umem_create(&u2, &c) == 0);
	TK_ASSERT_EQ(umem_memlink_port(&p, w2, 1, u2), -EBUSY);
	TK_ASSERT_EQ(umem_destroy(u2), 0);
	TK_ASSERT_EQ(umem_memlink_destroy(w2), 0);

	/* Not a memlink. */
	fd = memfd_create("not-a-wire", MFD_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(ftruncate(fd, 1 << 16) == 0);
	TK_ASSERT_EQ(umem_memlink_open(&w2, fd), -EINVAL);
	close(fd);
	TK_ASSERT_EQ(umem_memlink_create(&w2, &(struct umem_memlink_config){.ring_size = 100}),
		     -EINVAL);
	TK_ASSERT_EQ(umem_memlink_create(&w2, &(struct umem_memlink_config){.frame_size = 1000}),
		     -EINVAL);
}

/* ---- two processes ---------------------------------------------------------- */

#define MILLION 1000000u

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The child: sends MILLION numbered frames from end 0, no faster than the
 * far end can take them. Exit code 0 when everything completed losslessly. */
static int child_send(int fd)
{
	struct umem_memlink *w;
	struct umem_memlink_stats ms;
	struct umem_config c;
	struct umem_port *p;
	struct umem *u;
	uint64_t completed = 0, deadline = now_ms() + 120000;
	uint32_t seq = 0;

	if (umem_memlink_open(&w, fd) || umem_memlink_umem_config(w, 0, &c) ||
	    umem_create(&u, &c) || umem_memlink_port(&p, w, 0, u))
		return 2;
	while (completed < MILLION) {
		unsigned room = umem_memlink_peer_room(w, 0), n = 0;

		if (seq < MILLION && room) {
			if (room > MILLION - seq)
				room = MILLION - seq;
			n = send_numbered(p, seq, room);
			seq += n;
			umem_port_flush(p);
		}
		unsigned k = umem_port_complete(p, 256);

		completed += k;
		if (!n && !k) {
			if (now_ms() > deadline)
				return 3;
			sched_yield();
		}
	}
	umem_memlink_get_stats(w, 0, &ms);
	umem_port_destroy(p);
	if (!umem_audit(u, NULL) || umem_destroy(u) || umem_memlink_destroy(w))
		return 4;
	if (ms.sent != MILLION || ms.delivered != MILLION || ms.no_fill || ms.rx_full || ms.invalid)
		return 5;
	return 0;
}

static void test_million_frames_two_processes(void)
{
	struct umem_memlink_config mc = {.ring_size = 1024, .frame_count = 4096};
	struct umem_desc d[256];
	struct umem_geometry g;
	struct umem_config c;
	uint64_t t0 = now_ms(), deadline = t0 + 120000, bytes = 0;
	uint32_t expect = 0;
	unsigned bad = 0;
	int status = 0;
	pid_t pid;

	CU_ASSERT_FATAL(umem_memlink_create(&L.w, &mc) == 0);
	/* Fork before any UMEM exists: the child starts with clean memory. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		_exit(child_send(umem_memlink_fd(L.w)));

	CU_ASSERT_FATAL(umem_memlink_umem_config(L.w, 1, &c) == 0);
	CU_ASSERT_FATAL(umem_create(&L.u[1], &c) == 0);
	CU_ASSERT_FATAL(umem_memlink_port(&L.p[1], L.w, 1, L.u[1]) == 0);
	umem_geometry(L.u[1], &g);
	while (expect < MILLION && now_ms() < deadline) {
		umem_port_refill(L.p[1]);
		unsigned n = umem_port_rx(L.p[1], d, 256);

		for (unsigned i = 0; i < n; i++) {
			if (check_payload(umem_geo_ptr(&g, d[i].addr), d[i].len) != expect)
				bad++;
			expect++;
			bytes += d[i].len;
		}
		for (unsigned i = 0; i < n; i++)
			umem_free(L.u[1], d[i].addr);
		if (!n)
			sched_yield();
	}
	if (expect < MILLION)
		kill(pid, SIGKILL);
	TK_ASSERT_EQ(waitpid(pid, &status, 0), pid);
	tk_note("%u frames, %.1f MB in %.2f s", expect, bytes / 1e6, (now_ms() - t0) / 1000.0);
	TK_ASSERT_EQ(expect, MILLION);
	TK_ASSERT_EQ(bad, 0);
	CU_ASSERT(WIFEXITED(status));
	TK_ASSERT_EQ(WEXITSTATUS(status), 0);
}

/* ---- faults ----------------------------------------------------------------- */

/* What end 1 saw: each delivery's seq (-1: payload damaged) in order. */
struct trace {
	int64_t *seq;
	unsigned n, cap;
	struct umem_memlink_stats ms;
};

static void trace_free(struct trace *t)
{
	free(t->seq);
	memset(t, 0, sizeof(*t));
}

/* Sends n frames end 0 -> end 1 under faults f, in bursts of 32 per flush,
 * and records what arrives. Deterministic for a given f (delay_us 0 or
 * large enough not to expire during the run, except at the final drain). */
static void run_faulty(const struct umem_memlink_faults *f, unsigned n, struct trace *t)
{
	struct umem_geometry g;
	struct umem_desc d[256];
	uint32_t seq = 0;

	link_up(1024, 4096);
	umem_memlink_set_faults(L.w, 0, f);
	umem_geometry(L.u[1], &g);
	t->cap = n * 2 + 64;
	t->n = 0;
	t->seq = malloc(sizeof(*t->seq) * t->cap);
	for (unsigned drain = 0; drain < 3;) {
		unsigned k = 0;

		umem_port_refill(L.p[1]);
		if (seq < n) {
			k = n - seq < 32 ? n - seq : 32;
			k = send_numbered(L.p[0], seq, k);
			seq += k;
		} else {
			/* the drain: let delayed frames fall due */
			usleep(f->delay_us + 1000);
			drain++;
		}
		umem_port_flush(L.p[0]);
		unsigned m = umem_port_rx(L.p[1], d, 256);

		for (unsigned i = 0; i < m; i++) {
			if (t->n < t->cap)
				t->seq[t->n++] =
					check_payload(umem_geo_ptr(&g, d[i].addr), d[i].len);
			umem_free(L.u[1], d[i].addr);
		}
		umem_port_complete(L.p[0], 256);
	}
	umem_memlink_get_stats(L.w, 0, &t->ms);
	teardown();
}

static const struct umem_memlink_faults all_faults = {
	.seed = 42,
	.drop_ppm = 20000,
	.duplicate_ppm = 20000,
	.reorder_ppm = 20000,
	.corrupt_ppm = 20000,
	.delay_ppm = 20000,
	.delay_us = 0,
};

static void test_faults_same_seed_same_sequence(void)
{
	struct trace a = {0}, b = {0}, c = {0};
	struct umem_memlink_faults f = all_faults;

	run_faulty(&f, 20000, &a);
	run_faulty(&f, 20000, &b);
	f.seed = 43;
	run_faulty(&f, 20000, &c);
	TK_ASSERT_EQ(a.n, b.n);
	CU_ASSERT(a.n == b.n && memcmp(a.seq, b.seq, a.n * sizeof(*a.seq)) == 0);
	CU_ASSERT(memcmp(&a.ms, &b.ms, sizeof(a.ms)) == 0);
	CU_ASSERT(a.n != c.n || memcmp(a.seq, c.seq, a.n * sizeof(*a.seq)) != 0);
	/* Every kind happened. */
	CU_ASSERT(a.ms.dropped && a.ms.duplicated && a.ms.reordered && a.ms.corrupted &&
		  a.ms.delayed);
	TK_ASSERT_EQ(a.ms.no_fill + a.ms.rx_full + a.ms.invalid, 0);
	trace_free(&a);
	trace_free(&b);
	trace_free(&c);
}

#define FAULT_N	   100000u
#define FAULT_PPM  20000u
#define EXPECT_HIT ((uint64_t)FAULT_N * FAULT_PPM / 1000000u) /* 2000 */

/* Within 10% of the configured rate (about 4.5 sigma at 2000 events). */
static void assert_rate(uint64_t got)
{
	if (got < EXPECT_HIT * 9 / 10 || got > EXPECT_HIT * 11 / 10)
		tk_note("%llu events, expected about %llu", (unsigned long long)got,
			(unsigned long long)EXPECT_HIT);
	CU_ASSERT(got >= EXPECT_HIT * 9 / 10 && got <= EXPECT_HIT * 11 / 10);
}

static void test_fault_drop_rate(void)
{
	struct trace t = {0};
	uint8_t *seen = calloc(FAULT_N, 1);
	unsigned missing = 0;

	run_faulty(&(struct umem_memlink_faults){.seed = 1, .drop_ppm = FAULT_PPM}, FAULT_N, &t);
	assert_rate(t.ms.dropped);
	for (unsigned i = 0; i < t.n; i++)
		if (t.seq[i] >= 0 && t.seq[i] < FAULT_N)
			seen[t.seq[i]] = 1;
	for (unsigned i = 0; i < FAULT_N; i++)
		missing += !seen[i];
	TK_ASSERT_EQ(missing, t.ms.dropped);
	TK_ASSERT_EQ(t.n, FAULT_N - t.ms.dropped);
	free(seen);
	trace_free(&t);
}

static void test_fault_duplicate_rate(void)
{
	struct trace t = {0};
	uint8_t *seen = calloc(FAULT_N, 1);
	unsigned twice = 0;

	run_faulty(&(struct umem_memlink_faults){.seed = 2, .duplicate_ppm = FAULT_PPM}, FAULT_N,
		   &t);
	assert_rate(t.ms.duplicated);
	for (unsigned i = 0; i < t.n; i++)
		if (t.seq[i] >= 0 && t.seq[i] < FAULT_N && seen[t.seq[i]]++)
			twice++;
	TK_ASSERT_EQ(twice, t.ms.duplicated);
	TK_ASSERT_EQ(t.n, FAULT_N + t.ms.duplicated);
	free(seen);
	trace_free(&t);
}

static void test_fault_corrupt_rate(void)
{
	struct trace t = {0};
	unsigned damaged = 0;

	run_faulty(&(struct umem_memlink_faults){.seed = 3, .corrupt_ppm = FAULT_PPM}, FAULT_N, &t);
	assert_rate(t.ms.corrupted);
	for (unsigned i = 0; i < t.n; i++)
		damaged += t.seq[i] < 0;
	TK_ASSERT_EQ(damaged, t.ms.corrupted);
	TK_ASSERT_EQ(t.n, FAULT_N);
	trace_free(&t);
}

/* Each reordered frame swaps places with the next one: one inversion each. */
static void test_fault_reorder_rate(void)
{
	struct trace t = {0};
	unsigned inversions = 0;

	run_faulty(&(struct umem_memlink_faults){.seed = 4, .reorder_ppm = FAULT_PPM}, FAULT_N, &t);
	assert_rate(t.ms.reordered);
	for (unsigned i = 1; i < t.n; i++)
		inversions += t.seq[i] < t.seq[i - 1];
	TK_ASSERT_EQ(inversions, t.ms.reordered);
	TK_ASSERT_EQ(t.n, FAULT_N);
	trace_free(&t);
}

/* Delayed frames arrive after their successors (unless nothing followed
 * them in their burst: then they lead the next one), and all arrive. */
static void test_fault_delay_rate(void)
{
	struct trace t = {0};
	uint8_t *seen = calloc(FAULT_N, 1);
	unsigned late = 0, distinct = 0;
	int64_t max = -1;

	run_faulty(&(struct umem_memlink_faults){.seed = 5, .delay_ppm = FAULT_PPM}, FAULT_N, &t);
	assert_rate(t.ms.delayed);
	for (unsigned i = 0; i < t.n; i++) {
		if (t.seq[i] < max)
			late++;
		else
			max = t.seq[i];
		if (t.seq[i] >= 0 && t.seq[i] < FAULT_N && !seen[t.seq[i]]++)
			distinct++;
	}
	CU_ASSERT(late <= t.ms.delayed && late >= t.ms.delayed * 9 / 10);
	TK_ASSERT_EQ(distinct, FAULT_N);
	TK_ASSERT_EQ(t.n, FAULT_N);
	free(seen);
	trace_free(&t);
}

/* A delayed frame waits at least delay_us, then goes out on a later call. */
static void test_fault_delay_honours_time(void)
{
	struct umem_desc d[4];
	struct umem_memlink_stats ms;
	uint64_t t0;

	link_up(64, 256);
	umem_memlink_set_faults(
		L.w, 0,
		&(struct umem_memlink_faults){.seed = 9, .delay_ppm = 1000000, .delay_us = 30000});
	umem_port_refill(L.p[1]);
	t0 = now_ms();
	TK_ASSERT_EQ(send_numbered(L.p[0], 7, 1), 1);
	umem_port_flush(L.p[0]);
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 4), 1); /* the sender's frame is free at once */
	unsigned n = 0;

	while (!n && now_ms() - t0 < 2000) {
		umem_port_flush(L.p[0]);
		n = umem_port_rx(L.p[1], d, 4);
	}
	TK_ASSERT_EQ(n, 1);
	CU_ASSERT(now_ms() - t0 >= 30);
	struct umem_geometry g;

	umem_geometry(L.u[1], &g);
	TK_ASSERT_EQ(check_payload(umem_geo_ptr(&g, d[0].addr), d[0].len), 7);
	umem_free(L.u[1], d[0].addr);
	umem_memlink_get_stats(L.w, 0, &ms);
	TK_ASSERT_EQ(ms.delayed, 1);
	TK_ASSERT_EQ(ms.delivered, 1);
}

/* A stalled end is a NIC that reads nothing: its frames stay on the TX
 * ring, neither delivered nor completed, until the stall is cleared. */
static void test_fault_stall_holds_tx_ring(void)
{
	struct umem_geometry g;
	struct umem_desc d[4];

	link_up(64, 256);
	umem_geometry(L.u[1], &g);
	umem_memlink_set_faults(L.w, 0, &(struct umem_memlink_faults){.stall = true});
	umem_port_refill(L.p[1]);
	TK_ASSERT_EQ(send_numbered(L.p[0], 5, 1), 1);
	umem_port_flush(L.p[0]);
	TK_ASSERT_EQ(umem_port_rx(L.p[1], d, 4), 0);
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 4), 0);
	umem_memlink_set_faults(L.w, 0, NULL);
	umem_port_flush(L.p[0]);
	TK_ASSERT_EQ(umem_port_complete(L.p[0], 4), 1);
	TK_ASSERT_EQ(umem_port_rx(L.p[1], d, 4), 1);
	TK_ASSERT_EQ(check_payload(umem_geo_ptr(&g, d[0].addr), d[0].len), 5);
	umem_free(L.u[1], d[0].addr);
}

static const struct tk_case wire_tests[] = {
	TK_TEST(test_raw_frames_one_process),
	TK_TEST(test_completions_return_posted_addrs),
	TK_TEST(test_fill_refill_cycles),
	TK_TEST(test_no_fill_counted),
	TK_TEST(test_rx_full_counted),
	TK_TEST(test_too_long_for_far_frame),
	TK_TEST(test_open_and_busy),
	TK_TEST(test_million_frames_two_processes),
	TK_TEST_END,
};

static const struct tk_case fault_tests[] = {
	TK_TEST(test_faults_same_seed_same_sequence),
	TK_TEST(test_fault_drop_rate),
	TK_TEST(test_fault_duplicate_rate),
	TK_TEST(test_fault_corrupt_rate),
	TK_TEST(test_fault_reorder_rate),
	TK_TEST(test_fault_delay_rate),
	TK_TEST(test_fault_delay_honours_time),
	TK_TEST(test_fault_stall_holds_tx_ring),
	TK_TEST_END,
};

static const struct tk_suite wire_suite = {"wire", setup, teardown, wire_tests};
static const struct tk_suite fault_suite = {"faults", setup, teardown, fault_tests};

const struct tk_suite *const tk_suites[] = {
	&wire_suite,
	&fault_suite,
	NULL,
};
