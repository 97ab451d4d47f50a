/* Zero-copy completion against a real peer (docs/zerocopy.md): skiff in
 * "a" on AF_XDP (veth, copy mode) sends zero-copy to the Linux kernel in
 * "b" through a router namespace (tests/net/router.h), and each id's
 * completion is timed and checked against what happened on the path:
 *
 * - not before the ACK: b's pure ACKs are held HOLD_MS in the router by
 *   nfq_impair, which logs when each left; every id completes after the
 *   release of the first ACK that covers its last byte, and within
 *   BOUND_MS of it;
 * - not before the NIC is done: with the completion ring held unreaped
 *   (skiff__tx_reap_hold) after b acknowledged everything, nothing
 *   completes until the frames come back, then everything;
 * - aborts: sends the peer acknowledged complete plainly when their frames
 *   come back even though the connection was reset (close with linger 0)
 *   or the stack shut down (skiff_fini) meanwhile; only the unacknowledged
 *   ones are ABORTED;
 * - loss: with the ring held, every retransmission finds its frame still
 *   in flight and must go out of a copy: the ids reported COPIED are
 *   exactly those whose bytes the router saw sent twice, and every id
 *   completes once.
 *
 *   a: skiff ar -- ra  r  rb -- br b: Linux (sink thread)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../stack/skiff_testing.h"
#include "router.h"
#include "stack_test.h"

#define PORT	 7401
#define SEED	 0x5a43ull
#define HOLD_MS	 200 /* the router holds b's ACKs this long */
#define BOUND_MS 50  /* a completion after its ACK left the router, at most */
#define MAX_IDS	 2048
#define MAX_LOG	 65536
#define MAX_RTX	 4096

static const uint8_t skiff_mac[6] = {0x02, 0x53, 0x4b, 0x5a, 0x43, 0x50};

/* One send: where its bytes end in the stream, when it went and when (and
 * how often, with which flags) it completed. */
struct rec {
	uint64_t start, end;
	uint64_t sent_ns, done_ns;
	unsigned done, flags;
};

/* The kernel's end: reads to EOF or error, checking the pattern. */
struct sink {
	int fd;
	uint64_t got; /* atomics */
	int64_t bad_at;
	int err;
	bool eof;
};

static struct {
	struct router r;
	bool stack, sink_on, blocked;
	int lfd, sniff;
	pthread_t th;
	struct sink sink;
	struct rec id[MAX_IDS];
	uint32_t n;    /* ids handed out */
	uint32_t next; /* the next id a callback should report */
	unsigned calls, bad;
	uint64_t off; /* stream bytes sent */
	char log[128];
} T;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void setup(void)
{
	memset(&T, 0, sizeof(T));
	T.lfd = T.sniff = -1;
}

static void block_acks(bool on);

static void teardown(void)
{
	if (T.stack)
		skiff__tx_reap_hold(false);
	if (T.blocked)
		block_acks(false);
	if (T.sink_on) {
		shutdown(T.sink.fd, SHUT_RDWR);
		pthread_join(T.th, NULL);
		close(T.sink.fd);
	}
	if (T.sniff >= 0)
		close(T.sniff);
	if (T.lfd >= 0)
		close(T.lfd);
	if (T.stack)
		st_stack_down(true);
	tb_enter(NULL);
	router_destroy(&T.r);
	if (T.log[0])
		unlink(T.log);
	memset(&T, 0, sizeof(T));
}

/* ---- the bed ------------------------------------------------------------------------ */

static void up(const char *tag)
{
	const struct router_opts o = {.a_bare = true};

	tk_require_privileged();
	if (system("command -v iptables >/dev/null 2>&1") != 0)
		tk_skip("needs iptables (tests/host/setup.sh installs it)");
	CU_ASSERT_FATAL(router_create(&T.r, tag, &o) == 0);
	st_xsk_up(T.r.ns_a, T.r.if_ar, skiff_mac, T.r.a_ip4, T.r.ra_ip4, T.r.a_ip6, T.r.ra_ip6);
	T.stack = true;
}

/* b's TCP dropped in the router: what skiff sends from now on stays
 * unacknowledged. */
static void block_acks(bool on)
{
	CU_ASSERT(
		tb_run(T.r.ns_r,
		       "iptables -w -%c FORWARD -i %s -p tcp -m comment --comment zc-block -j DROP",
		       on ? 'I' : 'D', T.r.if_rb) == 0);
	T.blocked = on;
}

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	static uint8_t buf[256 * 1024];

	for (;;) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
		uint64_t got = __atomic_load_n(&s->got, __ATOMIC_RELAXED);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->err = errno;
			break;
		}
		if (n == 0) {
			__atomic_store_n(&s->eof, true, __ATOMIC_RELEASE);
			break;
		}
		if (s->bad_at < 0) {
			int64_t at = st_pattern_check(SEED, got, buf, (size_t)n);

			if (at >= 0)
				s->bad_at = (int64_t)got + at;
		}
		__atomic_store_n(&s->got, got + (uint64_t)n, __ATOMIC_RELEASE);
	}
	return NULL;
}

static uint64_t sink_got(void)
{
	return __atomic_load_n(&T.sink.got, __ATOMIC_ACQUIRE);
}

/* Completions: each id once, in order, timed. */
static void on_zc(void *opaque, int fd, uint32_t lo, uint32_t hi, unsigned flags)
{
	uint64_t t = now_ns();

	(void)opaque;
	(void)fd;
	if (lo != T.next || hi < lo || hi >= T.n)
		T.bad++;
	for (uint32_t i = lo; i <= hi && i < MAX_IDS; i++) {
		T.id[i].done++;
		T.id[i].done_ns = t;
		T.id[i].flags = flags;
	}
	T.next = hi + 1;
	T.calls++;
}

/* skiff connects to the kernel's listener in b; the sink reads there. */
static int connection(void)
{
	struct sockaddr_storage ss;
	struct timeval tv = {.tv_sec = 30};
	socklen_t len = st_sockaddr(AF_INET, "0.0.0.0", "::", PORT, &ss);
	int fd, kfd, one = 1;

	T.lfd = tb_socket(T.r.ns_b, AF_INET, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(T.lfd >= 0);
	CU_ASSERT_FATAL(bind(T.lfd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT_FATAL(listen(T.lfd, 4) == 0);
	fd = st_skiff_connect(AF_INET, T.r.b_ip4, T.r.b_ip6, PORT);
	CU_ASSERT_FATAL(fd >= 0);
	kfd = accept4(T.lfd, NULL, NULL, SOCK_CLOEXEC);
	CU_ASSERT_FATAL(kfd >= 0);
	setsockopt(kfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	T.sink = (struct sink){.fd = kfd, .bad_at = -1};
	CU_ASSERT_FATAL(pthread_create(&T.th, NULL, sink_main, &T.sink) == 0);
	T.sink_on = true;
	skiff_set_nonblock(fd, true);
	CU_ASSERT(skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
	CU_ASSERT(skiff_zc_set_callback(fd, on_zc, NULL) == 0);
	return fd;
}

/* @p count zero-copy sends of @p nbufs full buffers each (the stream's
 * next bytes), each recorded. */
static void send_ids(int fd, unsigned count, unsigned nbufs)
{
	for (unsigned k = 0; k < count; k++) {
		struct skiff_zc_buf b[4];
		struct rec *r = &T.id[T.n];
		long long stop = st_now_ms() + 10000;
		int64_t id;

		CU_ASSERT_FATAL(T.n < MAX_IDS && nbufs <= 4);
		r->start = T.off;
		for (unsigned i = 0; i < nbufs; i++) {
			while (skiff_zc_alloc(fd, &b[i]) != 0 && st_now_ms() < stop)
				skiff_poll(1);
			CU_ASSERT_FATAL(b[i].data != NULL);
			b[i].len = b[i].cap;
			st_pattern(SEED, T.off, b[i].data, b[i].len);
			T.off += b[i].len;
		}
		while ((id = skiff_zc_send(fd, b, nbufs, MSG_DONTWAIT)) < 0 && errno == EAGAIN &&
		       st_now_ms() < stop)
			skiff_poll(1);
		CU_ASSERT_FATAL(id == (int64_t)T.n);
		r->end = T.off;
		r->sent_ns = now_ns();
		T.n++;
	}
}

static void run_for(int ms)
{
	for (long long end = st_now_ms() + ms; st_now_ms() < end;)
		skiff_poll(1);
}

static bool all_done(void)
{
	return T.next == T.n;
}

static void until_all_done(int ms)
{
	for (long long end = st_now_ms() + ms; !all_done() && st_now_ms() < end;)
		skiff_poll(1);
	TK_ASSERT_EQ(T.next, T.n);
}

/* Until b has acknowledged every send (TCP holds no buffer), @p ms at most. */
static void until_acked(int fd, int ms)
{
	int held = -1;

	for (long long end = st_now_ms() + ms;
	     (held = skiff__zc_buffers_held(fd)) != 0 && st_now_ms() < end;)
		skiff_poll(1);
	TK_ASSERT_EQ(held, 0);
}

/* Every id completed exactly once; how many carried @p flag. */
static unsigned count_flags(uint32_t from, uint32_t to, unsigned flag)
{
	unsigned n = 0;

	for (uint32_t i = from; i < to; i++)
		n += (T.id[i].flags & flag) != 0;
	return n;
}

static void assert_once(void)
{
	unsigned twice = 0, never = 0;

	for (uint32_t i = 0; i < T.n; i++) {
		twice += T.id[i].done > 1;
		never += T.id[i].done == 0;
	}
	TK_ASSERT_EQ(twice, 0);
	TK_ASSERT_EQ(never, 0);
	TK_ASSERT_EQ(T.bad, 0);
}

/* skiff closes gracefully; b reads every byte, in order, to EOF. */
static void finish(int fd)
{
	CU_ASSERT(skiff_close(fd) == 0);
	for (long long end = st_now_ms() + 10000;
	     !__atomic_load_n(&T.sink.eof, __ATOMIC_ACQUIRE) && st_now_ms() < end;)
		skiff_poll(1);
	pthread_join(T.th, NULL);
	T.sink_on = false;
	close(T.sink.fd);
	TK_ASSERT_EQ(T.sink.got, T.off);
	TK_ASSERT_EQ(T.sink.bad_at, -1);
	CU_ASSERT(T.sink.eof);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- not before the ACK ------------------------------------------------------------- */

/*
 * 240 sends (every fourth of two buffers) while the router holds b's pure
 * ACKs HOLD_MS and logs each release. The log's sequence numbers are tied
 * to the stream by its highest ACK, which covers all of it (b read every
 * byte before the helper stopped). For each id, the first release whose
 * ACK covers its last byte: the id must complete after it, within
 * BOUND_MS.
 */
static void test_not_before_ack(void)
{
	static uint64_t rel_ns[MAX_LOG];
	static uint32_t rel_ack[MAX_LOG];
	static uint64_t delay[MAX_IDS];
	struct router_counters rc;
	char args[256], line[128];
	unsigned nrel = 0, early = 0, late = 0, uncovered = 0;
	uint64_t min_wait = UINT64_MAX;
	int64_t max_rel = 0;
	uint32_t base;
	FILE *f;
	int fd;

	up("zcack");
	fd = connection();
	snprintf(T.log, sizeof(T.log), "/tmp/skiff-test-zc-peer-%d.log", (int)getpid());
	unlink(T.log);
	snprintf(args, sizeof(args), "--hold-acks-ms %d --hold-match pure-ack --sport %d --log %s",
		 HOLD_MS, PORT, T.log);
	CU_ASSERT_FATAL(router_impair(&T.r, "ba", args) == 0);
	for (unsigned k = 0; k < 60; k++) {
		send_ids(fd, 3, 1);
		send_ids(fd, 1, 2);
	}
	until_all_done(30000);
	for (long long end = st_now_ms() + 5000; sink_got() < T.off && st_now_ms() < end;)
		skiff_poll(1);
	run_for(HOLD_MS + 50); /* the last ACKs out of the router */
	CU_ASSERT(router_unimpair(&T.r, "ba", &rc) == 0);

	f = fopen(T.log, "r");
	CU_ASSERT_FATAL(f != NULL);
	while (nrel < MAX_LOG && fgets(line, sizeof(line), f)) {
		unsigned long long t;
		unsigned long a;

		if (sscanf(line, "release %llu %lu", &t, &a) != 2)
			continue;
		rel_ns[nrel] = t;
		rel_ack[nrel++] = (uint32_t)a;
	}
	fclose(f);
	CU_ASSERT_FATAL(nrel > 0);
	for (unsigned i = 1; i < nrel; i++)
		if ((int32_t)(rel_ack[i] - rel_ack[0]) > max_rel)
			max_rel = (int32_t)(rel_ack[i] - rel_ack[0]);
	base = rel_ack[0] + (uint32_t)max_rel - (uint32_t)T.off;

	for (uint32_t i = 0, j = 0; i < T.n; i++) {
		uint32_t want = base + (uint32_t)T.id[i].end;

		while (j < nrel && (int32_t)(rel_ack[j] - want) < 0)
			j++;
		if (j == nrel) {
			uncovered++;
			continue;
		}
		if (T.id[i].done_ns < rel_ns[j]) {
			early++;
			delay[i] = 0;
		} else {
			delay[i] = T.id[i].done_ns - rel_ns[j];
			late += delay[i] > (uint64_t)BOUND_MS * 1000000u;
		}
		if (T.id[i].done_ns - T.id[i].sent_ns < min_wait)
			min_wait = T.id[i].done_ns - T.id[i].sent_ns;
	}
	qsort(delay, T.n, sizeof(delay[0]), cmp_u64);
	finish(fd);

	tk_note("%u ids (%llu bytes) against Linux, b's pure ACKs held %d ms: %u releases "
		"logged (%llu held, %llu late, latest %llu us past due); %u callbacks",
		T.n, (unsigned long long)T.off, HOLD_MS, nrel, (unsigned long long)rc.held,
		(unsigned long long)rc.late, (unsigned long long)rc.late_max_us, T.calls);
	tk_note("completion after the release of the ACK covering the send: median %.3f ms, "
		"max %.3f ms; %u before it, %u past %d ms, %u uncovered; send to completion "
		"at least %.1f ms",
		delay[T.n / 2] / 1e6, delay[T.n - 1] / 1e6, early, late, BOUND_MS, uncovered,
		min_wait / 1e6);
	tk_score("%u zero-copy ids to Linux, ACKs held %d ms: 0 of them may complete before "
		 "their ACK left the router: %u did; after it median %.2f ms, max %.2f ms; each "
		 "once: %s",
		 T.n, HOLD_MS, early, delay[T.n / 2] / 1e6, delay[T.n - 1] / 1e6,
		 T.bad ? "NO" : "yes");
	assert_once();
	TK_ASSERT_EQ(early, 0);
	TK_ASSERT_EQ(late, 0);
	TK_ASSERT_EQ(uncovered, 0);
	TK_ASSERT_EQ(count_flags(0, T.n, SKIFF_ZC_ABORTED | SKIFF_ZC_COPIED), 0);
	CU_ASSERT(min_wait >= (uint64_t)HOLD_MS * 1000000u);
	CU_ASSERT(rc.held >= 10);
}

/* ---- not before the NIC is done ------------------------------------------------------- */

/*
 * 16 sends to open the window, then the completion ring held: 64 more,
 * acknowledged whole by b, their frames back on the completion ring but
 * not reaped. HOLD_MS later nothing may have completed and the frames
 * must still be in TX state; released, all 64 complete, after the release.
 */
static void test_not_before_nic_done(void)
{
	struct skiff_stats st;
	uint64_t t_acked, t_rel, worst = 0;
	uint32_t first;
	unsigned calls_held, calls_rel, before_rel = 0;
	int fd;

	up("zcring");
	fd = connection();
	send_ids(fd, 16, 1);
	until_all_done(5000);
	skiff__tx_reap_hold(true);
	first = T.n;
	send_ids(fd, 64, 1);
	until_acked(fd, 10000);
	t_acked = now_ns();
	calls_held = T.calls;
	run_for(HOLD_MS);
	skiff_get_stats(&st);
	calls_held = T.calls - calls_held;
	calls_rel = T.calls;
	t_rel = now_ns();
	skiff__tx_reap_hold(false);
	until_all_done(5000);
	for (uint32_t i = first; i < T.n; i++) {
		if (T.id[i].done_ns < t_rel)
			before_rel++;
		else if (T.id[i].done_ns - t_rel > worst)
			worst = T.id[i].done_ns - t_rel;
	}
	finish(fd);

	tk_note("64 ids acknowledged by Linux with the completion ring held: %u callbacks in "
		"the %d ms after the last ACK, %u frames still in TX state; released: %u "
		"callbacks, the last %.3f ms after the release (%.1f ms after the ACK)",
		calls_held, HOLD_MS, st.frames_tx, T.calls - calls_rel, worst / 1e6,
		(t_rel - t_acked) / 1e6 + worst / 1e6);
	tk_score("64 zero-copy ids ACKed by Linux, completion ring held %d ms: %u completed "
		 "before the frames came back, %u after (last %.2f ms after the release)",
		 HOLD_MS, before_rel, T.n - first - before_rel, worst / 1e6);
	assert_once();
	TK_ASSERT_EQ(calls_held, 0);
	TK_ASSERT_EQ(before_rel, 0);
	CU_ASSERT(st.frames_tx >= 64);
	TK_ASSERT_EQ(count_flags(0, T.n, SKIFF_ZC_ABORTED), 0);
}

/* ---- aborts ------------------------------------------------------------------------------ */

/*
 * With the completion ring held: 32 sends acknowledged by b, then b's
 * ACKs blocked and 16 more sent (never acknowledged); then the connection
 * dies, by @p fini the stack's shutdown (skiff_fini()) or a close with
 * linger 0 (RST). The first 32 must complete without SKIFF_ZC_ABORTED once
 * their frames come back, the 16 with it.
 */
static void abort_with_frames_on_ring(bool fini)
{
	const uint32_t acked = 32, unacked = 16;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	unsigned calls_held;
	int fd, held;

	up(fini ? "zcfini" : "zcrst");
	fd = connection();
	skiff__tx_reap_hold(true);
	send_ids(fd, acked, 1);
	until_acked(fd, 10000);
	block_acks(true);
	send_ids(fd, unacked, 1);
	run_for(50);
	held = skiff__zc_buffers_held(fd);
	TK_ASSERT_EQ(held, unacked);
	calls_held = T.calls;
	if (fini) {
		skiff_fini(); /* stops: resets, then takes the frames back */
		T.stack = false;
	} else {
		CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
		CU_ASSERT(skiff_close(fd) == 0);
		run_for(50);
		calls_held = T.calls - calls_held;
		TK_ASSERT_EQ(calls_held, 0); /* the ring still holds every frame */
		skiff__tx_reap_hold(false);
		until_all_done(5000);
	}
	if (getenv("ZC_PEER_VERBOSE"))
		for (uint32_t i = 0; i < T.n; i++)
			tk_note("id %u: done %u flags %#x", i, T.id[i].done, T.id[i].flags);
	tk_note("%s with %u ids acknowledged and %u not, all frames on the completion ring: "
		"%u callbacks; acknowledged: %u ABORTED, %u COPIED; unacknowledged: %u ABORTED, "
		"%u COPIED (retransmitted while the ring held their frames)",
		fini ? "skiff_fini()" : "close with linger 0", acked, unacked, T.calls,
		count_flags(0, acked, SKIFF_ZC_ABORTED), count_flags(0, acked, SKIFF_ZC_COPIED),
		count_flags(acked, T.n, SKIFF_ZC_ABORTED),
		count_flags(acked, T.n, SKIFF_ZC_COPIED));
	tk_score("%s while %u ACKed ids wait for the completion ring and %u are unACKed: "
		 "ABORTED %u/%u ACKed (want 0), %u/%u unACKed (want all)",
		 fini ? "skiff_fini()" : "RST (linger 0)", acked, unacked,
		 count_flags(0, acked, SKIFF_ZC_ABORTED), acked,
		 count_flags(acked, T.n, SKIFF_ZC_ABORTED), unacked);
	TK_ASSERT_EQ(T.n, acked + unacked);
	assert_once();
	/* (COPIED is theirs to carry when a probe retransmitted one before
	 * its ACK came: with the ring held, a retransmission copies.) */
	TK_ASSERT_EQ(count_flags(0, acked, SKIFF_ZC_ABORTED), 0);
	TK_ASSERT_EQ(count_flags(acked, T.n, SKIFF_ZC_ABORTED), unacked);
	/* b saw a reset, not an orderly end */
	shutdown(T.sink.fd, SHUT_RDWR);
	pthread_join(T.th, NULL);
	T.sink_on = false;
	close(T.sink.fd);
	TK_ASSERT_EQ(T.sink.bad_at, -1);
}

static void test_reset_spares_acknowledged(void)
{
	abort_with_frames_on_ring(false);
}

static void test_fini_spares_acknowledged(void)
{
	abort_with_frames_on_ring(true);
}

/* ---- loss: retransmissions of zero-copy frames ---------------------------------------- */

/* a's TCP segments as the router received them (before its drop rule):
 * the SYN's sequence number and the byte ranges sent more than once. */
struct sniffed {
	bool syn;
	uint32_t isn;
	uint64_t hi; /* stream bytes seen so far */
	unsigned segs, rtx_segs, nrtx;
	uint64_t rtx_lo[MAX_RTX], rtx_hi[MAX_RTX];
};

static void sniff_open(void)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int big = 16 << 20;

	T.sniff = tb_socket(T.r.ns_r, AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_ALL));
	CU_ASSERT_FATAL(T.sniff >= 0);
	sll.sll_ifindex = tb_ifindex(T.r.ns_r, T.r.if_ra);
	CU_ASSERT_FATAL(sll.sll_ifindex > 0);
	setsockopt(T.sniff, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	CU_ASSERT_FATAL(bind(T.sniff, (struct sockaddr *)&sll, sizeof(sll)) == 0);
}

static void sniff_read(struct sniffed *s)
{
	uint8_t p[2048];

	for (;;) {
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(T.sniff, p, sizeof(p), 0, (struct sockaddr *)&from, &flen);
		const uint8_t *th;
		size_t iphl, plen, thl;
		uint32_t seq;
		uint64_t lo, hi;

		if (n < 0)
			break;
		if (from.sll_pkttype == PACKET_OUTGOING || n < 40 || (p[0] >> 4) != 4 ||
		    p[9] != IPPROTO_TCP)
			continue;
		iphl = (size_t)(p[0] & 15) * 4;
		plen = (size_t)(p[2] << 8 | p[3]);
		th = p + iphl;
		if ((th[2] << 8 | th[3]) != PORT)
			continue;
		seq = (uint32_t)th[4] << 24 | (uint32_t)th[5] << 16 | (uint32_t)th[6] << 8 | th[7];
		if (th[13] & 0x02) { /* SYN */
			s->syn = true;
			s->isn = seq;
			continue;
		}
		thl = (size_t)(th[12] >> 4) * 4;
		if (!s->syn || plen <= iphl + thl)
			continue;
		lo = (uint32_t)(seq - s->isn - 1);
		hi = lo + (plen - iphl - thl);
		s->segs++;
		if (lo < s->hi) {
			s->rtx_segs++;
			if (s->nrtx < MAX_RTX) {
				s->rtx_lo[s->nrtx] = lo;
				s->rtx_hi[s->nrtx++] = hi < s->hi ? hi : s->hi;
			}
		}
		if (hi > s->hi)
			s->hi = hi;
	}
}

/*
 * 3% of a's packets dropped in the router while 320 sends go and are
 * acknowledged. With @p hold the completion ring stays unreaped until then:
 * every retransmission finds its frame still on the ring and must be a
 * copy, so COPIED must be set on exactly the ids with a byte the router saw
 * twice. Without, frames come back within microseconds and a
 * retransmission (an RTT later) goes out of the frame itself: COPIED only
 * ever on retransmitted ids. Either way every id completes once, none
 * ABORTED.
 */
static void loss(bool hold)
{
	static struct sniffed s;
	struct skiff_stats st0, st1, st2;
	unsigned want = 0, got = 0, missing = 0, extra = 0;
	uint64_t dropped = 0;
	int fd;

	memset(&s, 0, sizeof(s));
	up(hold ? "zcloss" : "zclossr");
	sniff_open();
	fd = connection();
	CU_ASSERT_FATAL(router_drop(&T.r, "ab", 0.03) == 0);
	skiff_get_stats(&st0);
	skiff__tx_reap_hold(hold);
	send_ids(fd, 320, 1);
	until_acked(fd, 60000);
	skiff_get_stats(&st1);
	skiff__tx_reap_hold(false);
	until_all_done(5000);
	skiff_get_stats(&st2);
	router_dropped(&T.r, "ab", &dropped);
	sniff_read(&s);
	CU_ASSERT_FATAL(s.syn);
	for (uint32_t i = 0; i < T.n; i++) {
		bool rtx = false, copied = (T.id[i].flags & SKIFF_ZC_COPIED) != 0;

		for (unsigned k = 0; k < s.nrtx && !rtx; k++)
			rtx = s.rtx_lo[k] < T.id[i].end && s.rtx_hi[k] > T.id[i].start;
		want += rtx;
		got += copied;
		missing += rtx && !copied;
		extra += copied && !rtx;
	}
	finish(fd);

	tk_note("%u ids, 3%% of a's packets dropped (%llu), the completion ring %s: the router "
		"saw %u data segments, %u of them retransmissions; %u frames in TX state once "
		"all was ACKed; skiff copied %llu ids",
		T.n, (unsigned long long)dropped,
		hold ? "held until b had acknowledged all" : "reaped", s.segs, s.rtx_segs,
		st1.frames_tx, (unsigned long long)(st2.zc_sends_copied - st0.zc_sends_copied));
	tk_note("ids with a retransmitted byte %u, reported COPIED %u: %u retransmitted but "
		"not COPIED, %u COPIED but not retransmitted; %u ABORTED; %u callbacks",
		want, got, missing, extra, count_flags(0, T.n, SKIFF_ZC_ABORTED), T.calls);
	tk_score("%u zero-copy ids at 3%% loss, completion ring %s: %u retransmitted, %u "
		 "COPIED, %u COPIED without a retransmission; each once: %s",
		 T.n, hold ? "held" : "reaped", want, got, extra, T.bad ? "NO" : "yes");
	assert_once();
	CU_ASSERT(want > 0);
	TK_ASSERT_EQ(extra, 0);
	if (hold)
		TK_ASSERT_EQ(missing, 0);
	TK_ASSERT_EQ(count_flags(0, T.n, SKIFF_ZC_ABORTED), 0);
}

static void test_loss_copied_exactly(void)
{
	loss(true);
}

static void test_loss_retransmits_in_place(void)
{
	loss(false);
}

static const struct tk_case tests[] = {
	TK_TEST(test_not_before_ack),
	TK_TEST(test_not_before_nic_done),
	TK_TEST(test_reset_spares_acknowledged),
	TK_TEST(test_fini_spares_acknowledged),
	TK_TEST(test_loss_copied_exactly),
	TK_TEST(test_loss_retransmits_in_place),
	TK_TEST_END,
};

static const struct tk_suite suite = {"zc_peer", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
