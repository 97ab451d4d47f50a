/* Path MTU (stack/pmtu.c) on a real path: skiff in "a" sends to the
 * kernel in "b" through a router namespace (tests/net/router.h) whose hop
 * to b is cut to 1280 bytes mid-connection, so that the router answers
 * skiff's full-sized segments with ICMP "fragmentation needed" / ICMPv6
 * "packet too big". The connection's MSS must drop to fit, every segment
 * after it must fit, and 8 MiB must arrive intact (SHA-256 and every byte
 * against the pattern). Then the other side of RFC 5927: ICMP forged in the
 * router's namespace, quoting the connection with sequence numbers just
 * outside its unacknowledged data (and a port it does not use), must
 * change nothing, while the same message quoting a sequence number inside
 * it is taken (so it is the sequence check that refused the others).
 *
 * What the router forwards is counted in its mangle PREROUTING chain (every
 * packet from a, before the route's MTU is applied), the ICMP it sends in
 * its OUTPUT chain; a's segments are read off the router's interface with
 * a packet socket, and the forged messages leave from a raw socket there.
 *
 * The same hop under MPTCP (a Linux MPTCP client, skiff's MPTCP listener):
 * the re-cut segments keep the data sequence mappings their frames carry
 * (ext/'s split rule, lwIP patch 0026), and Linux takes every one.
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
#include <unistd.h>

#include "router.h"
#include "stack_test.h"

#define PORT 7301
#define XFER (8 * ST_MIB)
#define SEED 0x504d5455ull
#define HOP  1280 /* the router's MTU towards b */
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static const uint8_t skiff_mac[6] = {0x02, 0x53, 0x4b, 0x50, 0x4d, 0x54};

/* The kernel's end: reads to EOF, checking every byte against the pattern
 * and hashing it. */
struct sink {
	int fd;
	uint64_t got;	/* read with __atomic_load_n */
	int64_t bad_at; /* first byte not the pattern's, -1 */
	uint8_t digest[32];
	int err;
	bool eof;
};

static struct {
	struct router r;
	int proto; /* 0 (TCP) or IPPROTO_MPTCP, both ends */
	bool stack, sink_on;
	int lfd;    /* the kernel's listener, or -1 */
	int sniff;  /* packet socket on the router's interface to a, or -1 */
	int raw[2]; /* raw ICMP / ICMPv6 sockets in the router, or -1 */
	pthread_t th;
	struct sink sink;
} T;

static void setup(void)
{
	memset(&T, 0, sizeof(T));
	T.lfd = T.sniff = T.raw[0] = T.raw[1] = -1;
}

static void teardown(void)
{
	if (T.sink_on) {
		shutdown(T.sink.fd, SHUT_RDWR);
		pthread_join(T.th, NULL);
		close(T.sink.fd);
	}
	for (int i = 0; i < 2; i++)
		if (T.raw[i] >= 0)
			close(T.raw[i]);
	if (T.sniff >= 0)
		close(T.sniff);
	if (T.lfd >= 0)
		close(T.lfd);
	if (T.stack)
		st_stack_down(true);
	tb_enter(NULL);
	router_destroy(&T.r);
	memset(&T, 0, sizeof(T));
}

/* ---- the path --------------------------------------------------------------------- */

static const char *a_ip(int family)
{
	return family == AF_INET ? T.r.a_ip4 : T.r.a_ip6;
}

static const char *b_ip(int family)
{
	return family == AF_INET ? T.r.b_ip4 : T.r.b_ip6;
}

/* Counting rules (no target) in the router, tagged by comment: what a
 * sends, by length, before the route's MTU drops any of it; the IPv6
 * fragments among it; the ICMP the router sends back to a. */
static void count_rules(void)
{
	static const char *const lines[] = {
		"iptables -w -t mangle -A PREROUTING -i %s -p tcp -m comment --comment pm-tcp",
		"iptables -w -t mangle -A PREROUTING -i %s -m length --length 1281:65535 "
		"-m comment --comment pm-big",
		"iptables -w -t mangle -A PREROUTING -i %s -m length --length 577:65535 "
		"-m comment --comment pm-577",
		"iptables -w -t mangle -A PREROUTING -i %s -m length --length 1280 "
		"-m comment --comment pm-1280",
		"iptables -w -t mangle -A PREROUTING -i %s -m length --length 576 "
		"-m comment --comment pm-576",
		"iptables -w -A OUTPUT -o %s -p icmp --icmp-type fragmentation-needed "
		"-m comment --comment pm-icmp",
		"ip6tables -w -t mangle -A PREROUTING -i %s -p tcp -m comment --comment pm-tcp",
		"ip6tables -w -t mangle -A PREROUTING -i %s -m length --length 1281:65535 "
		"-m comment --comment pm-big",
		"ip6tables -w -t mangle -A PREROUTING -i %s -m length --length 1280 "
		"-m comment --comment pm-1280",
		"ip6tables -w -t mangle -A PREROUTING -i %s -m frag -m comment --comment pm-frag",
		"ip6tables -w -A OUTPUT -o %s -p icmpv6 --icmpv6-type packet-too-big "
		"-m comment --comment pm-icmp",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CU_ASSERT_FATAL(tb_run(T.r.ns_r, lines[i], T.r.if_ra) == 0);
}

static void up(const char *tag)
{
	const struct router_opts o = {.a_bare = true};

	tk_require_privileged();
	if (system("command -v iptables >/dev/null 2>&1 && command -v ip6tables >/dev/null 2>&1") !=
	    0)
		tk_skip("needs iptables and ip6tables (tests/host/setup.sh installs them)");
	CU_ASSERT_FATAL(router_create(&T.r, tag, &o) == 0);
	count_rules();
	st_xsk_up(T.r.ns_a, T.r.if_ar, skiff_mac, T.r.a_ip4, T.r.ra_ip4, T.r.a_ip6, T.r.ra_ip6);
	T.stack = true;
}

/* The packets counted by the rule tagged @p tag, @p family's table. */
static unsigned long long count(int family, const char *tag)
{
	const char *ipt = family == AF_INET ? "iptables" : "ip6tables";
	const char *chain = strcmp(tag, "pm-icmp") == 0 ? "-t filter -nvxL OUTPUT"
							: "-t mangle -nvxL PREROUTING";
	char buf[256] = "";

	if (tb_capture(T.r.ns_r, buf, sizeof(buf), "%s -w %s | grep -F '/* %s */'", ipt, chain,
		       tag) != 0)
		CU_FAIL("iptables -L");
	return strtoull(buf, NULL, 10);
}

static void zero_counts(void)
{
	CU_ASSERT(tb_run(T.r.ns_r,
			 "iptables -w -t mangle -Z PREROUTING && iptables -w -Z OUTPUT && "
			 "ip6tables -w -t mangle -Z PREROUTING && ip6tables -w -Z OUTPUT") == 0);
}

/* b's TCP (its ACKs) dropped in the router, so that what skiff sends stays
 * unacknowledged: its sequence numbers are then known to be in the window. */
static void block_acks(bool on)
{
	for (int f = 0; f < 2; f++)
		CU_ASSERT(tb_run(T.r.ns_r,
				 "%s -w -%c FORWARD -i %s -p tcp -m comment --comment pm-block "
				 "-j DROP",
				 f ? "ip6tables" : "iptables", on ? 'I' : 'D', T.r.if_rb) == 0);
}

/* ---- the kernel's end -------------------------------------------------------------- */

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	static uint8_t buf[256 * 1024];
	struct sha256 c;

	sha256_init(&c);
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
		sha256_update(&c, buf, (size_t)n);
		__atomic_store_n(&s->got, got + (uint64_t)n, __ATOMIC_RELEASE);
	}
	sha256_final(&c, s->digest);
	return NULL;
}

static void sink_start(int fd)
{
	struct timeval tv = {.tv_sec = 30};

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	T.sink = (struct sink){.fd = fd, .bad_at = -1};
	CU_ASSERT_FATAL(pthread_create(&T.th, NULL, sink_main, &T.sink) == 0);
	T.sink_on = true;
}

static uint64_t sink_got(void)
{
	return __atomic_load_n(&T.sink.got, __ATOMIC_ACQUIRE);
}

/* A connection from skiff to the kernel's listener in b (@p skiff_connects),
 * or from the kernel to a skiff listener; skiff's end, the sink on the
 * kernel's. */
static int connection(int family, bool skiff_connects)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, kfd, one = 1;

	if (skiff_connects) {
		len = st_sockaddr(family, "0.0.0.0", "::", PORT, &ss);
		T.lfd = tb_socket(T.r.ns_b, family, SOCK_STREAM, 0);
		CU_ASSERT_FATAL(T.lfd >= 0);
		CU_ASSERT_FATAL(bind(T.lfd, (struct sockaddr *)&ss, len) == 0);
		CU_ASSERT_FATAL(listen(T.lfd, 4) == 0);
		fd = st_skiff_connect(family, T.r.b_ip4, T.r.b_ip6, PORT);
		CU_ASSERT_FATAL(fd >= 0);
		kfd = accept4(T.lfd, NULL, NULL, SOCK_CLOEXEC);
		CU_ASSERT_FATAL(kfd >= 0);
	} else {
		int lfd = skiff_socket(family, SOCK_STREAM, T.proto);

		CU_ASSERT_FATAL(lfd >= 0);
		len = st_sockaddr(family, "0.0.0.0", "::", PORT, &ss);
		CU_ASSERT_FATAL(skiff_bind(lfd, (struct sockaddr *)&ss, len) == 0);
		CU_ASSERT_FATAL(skiff_listen(lfd, 4) == 0);
		skiff_set_nonblock(lfd, true);
		len = st_sockaddr(family, T.r.a_ip4, T.r.a_ip6, PORT, &ss);
		kfd = tb_socket(T.r.ns_b, family, SOCK_STREAM | SOCK_NONBLOCK, T.proto);
		CU_ASSERT_FATAL(kfd >= 0);
		CU_ASSERT_FATAL(connect(kfd, (struct sockaddr *)&ss, len) == -1 &&
				errno == EINPROGRESS);
		fd = -1;
		for (long long end = st_now_ms() + 5000; fd < 0 && st_now_ms() < end;)
			if ((fd = skiff_accept(lfd, NULL, NULL, 0)) < 0)
				skiff_poll(1);
		CU_ASSERT_FATAL(fd >= 0);
		skiff_close(lfd);
	}
	sink_start(kfd);
	skiff_set_nonblock(fd, true);
	/* A burst's tail must leave while its ACKs are held (no Nagle). */
	CU_ASSERT(skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
	return fd;
}

/* Sends the pattern's bytes [*off, *off + len) on skiff's @p fd. */
static void send_more(int fd, uint64_t *off, uint64_t len)
{
	static uint8_t buf[64 * 1024];
	uint64_t end = *off + len;

	for (long long stop = st_now_ms() + 30000; *off < end && st_now_ms() < stop;) {
		size_t n = end - *off < sizeof(buf) ? (size_t)(end - *off) : sizeof(buf);
		ssize_t r;

		st_pattern(SEED, *off, buf, n);
		r = skiff_send(fd, buf, n, 0);
		if (r > 0)
			*off += (uint64_t)r;
		else if (r < 0 && errno != EAGAIN)
			break;
		else
			skiff_poll(1);
	}
	TK_ASSERT_EQ(*off, end);
}

static void run_for(int ms)
{
	for (long long end = st_now_ms() + ms; st_now_ms() < end;)
		skiff_poll(1);
}

/* Until b has read @p bytes, then @p quiet_ms more (the last ACKs). */
static void until_received(uint64_t bytes, int quiet_ms)
{
	for (long long end = st_now_ms() + 30000; sink_got() < bytes && st_now_ms() < end;)
		skiff_poll(1);
	TK_ASSERT_EQ(sink_got(), bytes);
	run_for(quiet_ms);
}

/* skiff closes; b reads to EOF; every byte and the digest checked. */
static void finish(int fd, uint64_t total)
{
	uint8_t want[32];

	CU_ASSERT(skiff_close(fd) == 0);
	for (long long end = st_now_ms() + 30000;
	     !__atomic_load_n(&T.sink.eof, __ATOMIC_ACQUIRE) && st_now_ms() < end;)
		skiff_poll(1);
	shutdown(T.sink.fd, SHUT_WR);
	pthread_join(T.th, NULL);
	T.sink_on = false;
	close(T.sink.fd);
	st_pattern_digest(SEED, total, want);
	TK_ASSERT_EQ(T.sink.got, total);
	TK_ASSERT_EQ(T.sink.bad_at, -1);
	TK_ASSERT_EQ(T.sink.err, 0);
	CU_ASSERT(T.sink.eof);
	CU_ASSERT(memcmp(T.sink.digest, want, 32) == 0);
}

static int mss_of(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	CU_ASSERT(skiff_getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, &len) == 0);
	return v;
}

/* ---- a real hop of 1280 ----------------------------------------------------------- */

/* 1 MiB at full size; the router's hop to b cut to 1280; 1 MiB in which
 * skiff learns it; 6 MiB in which every packet must fit. */
static void real_hop(int family, bool skiff_connects)
{
	const int hdrs = family == AF_INET ? 40 : 60;
	const uint64_t a_len = 1 * ST_MIB, b_len = 1 * ST_MIB, c_len = XFER - a_len - b_len;
	unsigned long long big_a, icmp_b, big_b, tcp_c, big_c, at_hop_c, frag;
	struct skiff_stats s0, s1, s2;
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);
	uint64_t off = 0;
	int fd, mss0, mss1;
	long long t0;

	up(family == AF_INET ? "pmtu4" : "pmtu6");
	fd = connection(family, skiff_connects);
	t0 = st_now_ms();
	mss0 = mss_of(fd);
	send_more(fd, &off, a_len);
	until_received(off, 50);
	big_a = count(family, "pm-big");

	CU_ASSERT_FATAL(router_set_mtu(&T.r, "rb", HOP) == 0);
	skiff_get_stats(&s0);
	send_more(fd, &off, b_len);
	until_received(off, 50);
	skiff_get_stats(&s1);
	mss1 = mss_of(fd);
	icmp_b = count(family, "pm-icmp");
	big_b = count(family, "pm-big") - big_a;

	zero_counts();
	send_more(fd, &off, c_len);
	until_received(off, 50);
	skiff_get_stats(&s2);
	tcp_c = count(family, "pm-tcp");
	big_c = count(family, "pm-big");
	at_hop_c = count(family, "pm-1280");
	frag = family == AF_INET6 ? count(family, "pm-frag") : 0;
	memset(&ti, 0, sizeof(ti));
	getsockopt(T.sink.fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen);
	finish(fd, XFER);

	tk_note("IPv%d, skiff %s: MSS %d, then %d after the hop to b went to %d; the router "
		"sent %llu ICMP for %llu packets too big; skiff: pmtu_updates %llu, "
		"pmtu_ignored %llu (the same message again for segments already in flight)",
		family == AF_INET ? 4 : 6, skiff_connects ? "connects" : "accepts", mss0, mss1, HOP,
		icmp_b, big_b, (unsigned long long)(s1.tcp_pmtu_updates - s0.tcp_pmtu_updates),
		(unsigned long long)(s1.tcp_pmtu_ignored - s0.tcp_pmtu_ignored));
	tk_note("the last %llu MiB: %llu TCP packets from skiff, %llu of them 1280 bytes, %llu "
		"bigger, %llu IPv6 fragments; b's rcv_mss %u, pmtu %u; 8 MiB in %.2f s",
		(unsigned long long)(c_len / ST_MIB), tcp_c, at_hop_c, big_c, frag, ti.tcpi_rcv_mss,
		ti.tcpi_pmtu, (st_now_ms() - t0) / 1000.0);
	tk_score("IPv%d, skiff %s%s 8 MiB through a hop cut from 1500 to %d mid-connection: MSS "
		 "%d -> %d on %llu ICMP (%llu update), 0 of %llu packets after it above %d, "
		 "SHA-256 %s",
		 family == AF_INET ? 4 : 6, skiff_connects ? "client" : "server",
		 T.proto ? " (MPTCP)" : "", HOP, mss0, mss1, icmp_b,
		 (unsigned long long)(s1.tcp_pmtu_updates - s0.tcp_pmtu_updates), tcp_c, HOP,
		 T.sink.got == XFER && T.sink.bad_at < 0 ? "ok" : "MISMATCH");
	TK_ASSERT_EQ(mss0, family == AF_INET ? 1460 : 1440);
	/* Full size before: the path took 1500. */
	CU_ASSERT(big_a >= a_len / 1448 * 9 / 10);
	CU_ASSERT(icmp_b >= 1);
	CU_ASSERT(s1.tcp_pmtu_updates - s0.tcp_pmtu_updates == 1);
	TK_ASSERT_EQ(mss1, HOP - hdrs);
	/* After: nothing above the hop, nothing fragmented, no more ICMP; and
	 * the segments use what the hop takes (not a needlessly small MSS). */
	TK_ASSERT_EQ(big_c, 0);
	TK_ASSERT_EQ(frag, 0);
	TK_ASSERT_EQ(count(family, "pm-icmp"), 0);
	CU_ASSERT(at_hop_c >= c_len / (uint64_t)(HOP - hdrs - 12) * 9 / 10);
	TK_ASSERT_EQ(s2.tcp_pmtu_updates, s1.tcp_pmtu_updates);
}

static void test_hop_1280_v4_skiff_client(void)
{
	real_hop(AF_INET, true);
}

/* Linux's MPTCP counter @p name in b (0 when nstat does not list it). */
static unsigned long long b_mptcp(const char *name)
{
	char out[8192], *at;

	CU_ASSERT_FATAL(tb_capture(T.r.ns_b, out, sizeof(out), "nstat -asz 'MPTcpExt*'") == 0);
	at = strstr(out, name);
	/* A name is a prefix of others: whole words. */
	while (at && at[strlen(name)] != ' ')
		at = strstr(at + 1, name);
	return at ? strtoull(at + strlen(name), NULL, 10) : 0;
}

/* The hop under MPTCP, skiff the server: every segment the drop re-cut
 * (skiff__pmtu_resegment(): what was in flight back in the queue, then
 * split to the new size) keeps its frame's mapping, so each piece of a
 * segment Linux may have had in part goes out under the same one. */
static void test_hop_1280_v4_mptcp_skiff_server(void)
{
	struct skiff_stats st;

	T.proto = IPPROTO_MPTCP;
	real_hop(AF_INET, false);
	skiff_get_stats(&st);
	tk_note("MPTCP: established %llu, fallbacks %llu; data segments sent with their "
		"frames' mappings %llu, mapped aside %llu; splits that kept the mapping %llu, "
		"whose remainder went aside %llu; map mismatch %llu; Linux: "
		"MPCapableFallbackSYNACK %llu, DSSNotMatching %llu, InfiniteMapRx %llu",
		(unsigned long long)st.mptcp_passive_established,
		(unsigned long long)st.mptcp_fallbacks, (unsigned long long)st.mptcp_map_tx_ext,
		(unsigned long long)st.mptcp_map_tx_aside, (unsigned long long)st.mptcp_map_split,
		(unsigned long long)st.mptcp_map_split_aside,
		(unsigned long long)st.mptcp_map_mismatch,
		b_mptcp("MPTcpExtMPCapableFallbackSYNACK"), b_mptcp("MPTcpExtDSSNotMatching"),
		b_mptcp("MPTcpExtInfiniteMapRx"));
	TK_ASSERT_EQ(st.mptcp_passive_established, 1);
	TK_ASSERT_EQ(st.mptcp_fallbacks, 0);
	CU_ASSERT(st.mptcp_map_split > 0);
	CU_ASSERT(st.mptcp_map_tx_ext > 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	TK_ASSERT_EQ(b_mptcp("MPTcpExtMPCapableFallbackSYNACK"), 0);
	TK_ASSERT_EQ(b_mptcp("MPTcpExtDSSNotMatching"), 0);
	TK_ASSERT_EQ(b_mptcp("MPTcpExtInfiniteMapRx"), 0);
}

static void test_hop_1280_v6_skiff_server(void)
{
	real_hop(AF_INET6, false);
}

/* ---- forged ICMP ------------------------------------------------------------------- */

/* a's segments to b seen by the router: the lowest sequence number and the
 * end of the highest segment (modulo 2^32), and the ports. */
struct seen {
	unsigned n;
	uint16_t sport, dport;
	uint32_t lo, hi;
};

static void sniff_open(void)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
	int big = 8 << 20;

	T.sniff = tb_socket(T.r.ns_r, AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_ALL));
	CU_ASSERT_FATAL(T.sniff >= 0);
	sll.sll_ifindex = tb_ifindex(T.r.ns_r, T.r.if_ra);
	CU_ASSERT_FATAL(sll.sll_ifindex > 0);
	setsockopt(T.sniff, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	CU_ASSERT_FATAL(bind(T.sniff, (struct sockaddr *)&sll, sizeof(sll)) == 0);
}

/* Reads what the packet socket holds; with @p s, records a's TCP segments
 * that carry data. */
static void sniff_read(int family, struct seen *s)
{
	uint8_t a[16], b[16], p[2048];
	size_t alen = family == AF_INET ? 4 : 16;

	inet_pton(family, a_ip(family), a);
	inet_pton(family, b_ip(family), b);
	for (;;) {
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(T.sniff, p, sizeof(p), 0, (struct sockaddr *)&from, &flen);
		const uint8_t *th;
		size_t iphl, plen;
		uint32_t seq;

		if (n < 0)
			break;
		if (!s || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (family == AF_INET) {
			if (n < 40 || (p[0] >> 4) != 4 || p[9] != IPPROTO_TCP)
				continue;
			iphl = (size_t)(p[0] & 15) * 4;
			plen = (size_t)(p[2] << 8 | p[3]);
			if (memcmp(p + 12, a, 4) || memcmp(p + 16, b, 4))
				continue;
		} else {
			if (n < 60 || (p[0] >> 4) != 6 || p[6] != IPPROTO_TCP)
				continue;
			iphl = 40;
			plen = 40 + (size_t)(p[4] << 8 | p[5]);
			if (memcmp(p + 8, a, alen) || memcmp(p + 24, b, alen))
				continue;
		}
		th = p + iphl;
		if (plen <= iphl + (size_t)(th[12] >> 4) * 4)
			continue; /* no data */
		plen -= iphl + (size_t)(th[12] >> 4) * 4;
		seq = (uint32_t)th[4] << 24 | (uint32_t)th[5] << 16 | (uint32_t)th[6] << 8 | th[7];
		if (!s->n++) {
			s->sport = (uint16_t)(th[0] << 8 | th[1]);
			s->dport = (uint16_t)(th[2] << 8 | th[3]);
			s->lo = seq;
			s->hi = seq + (uint32_t)plen;
			continue;
		}
		if ((int32_t)(seq - s->lo) < 0)
			s->lo = seq;
		if ((int32_t)(seq + (uint32_t)plen - s->hi) > 0)
			s->hi = seq + (uint32_t)plen;
	}
}

/* The Internet checksum of @p n bytes, and a 16-bit field in network order. */
static uint16_t csum(const uint8_t *p, size_t n)
{
	return st_csum_fold(st_csum_add(0, p, n));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A forged message: quoting a segment from a to b on @p sport with @p seq
 * (or, Q_UDP, a UDP datagram), claiming a path MTU of @p mtu. */
#define Q_UDP	     1u /* the quoted packet is UDP */
#define Q_DSTOPTS    2u /* IPv6: behind a destination options header */
#define Q_FRAGMENTED 4u /* IPv6: 1,568 bytes, so that it leaves in two fragments */

struct quote {
	const char *what;
	uint16_t sport;
	uint32_t seq, mtu;
	unsigned how;
};

/* An ICMP "fragmentation needed" (IPv4) or ICMPv6 "packet too big" from the
 * router to a (its raw socket: the kernel adds the IP header, fragments,
 * and fills the ICMPv6 checksum). */
static void forge(int family, const struct quote *qt)
{
	static uint8_t m[8 + 40 + 20 + 1500];
	struct sockaddr_storage to;
	socklen_t tolen = st_sockaddr(family, T.r.a_ip4, T.r.a_ip6, 0, &to);
	uint8_t *q = m + 8, *th, proto = qt->how & Q_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	size_t qhl = family == AF_INET ? 20 : 40;
	size_t len = 8 + qhl + (qt->how & Q_FRAGMENTED ? 20 + 1500 : 20);
	int *raw = &T.raw[family == AF_INET6];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(8)];
	} ctl;
	struct iovec iov = {m, len};
	struct msghdr mh = {
		.msg_name = &to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};

	if (*raw < 0) {
		*raw = tb_socket(T.r.ns_r, family, SOCK_RAW,
				 family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
		CU_ASSERT_FATAL(*raw >= 0);
	}
	memset(m, 0, sizeof(m));
	if (family == AF_INET) {
		m[0] = 3; /* destination unreachable */
		m[1] = 4; /* fragmentation needed */
		put16(m + 6, (uint16_t)qt->mtu);
		q[0] = 0x45;
		put16(q + 2, 1500);
		q[6] = 0x40; /* DF */
		q[8] = 64;
		q[9] = proto;
		inet_pton(AF_INET, T.r.a_ip4, q + 12);
		inet_pton(AF_INET, T.r.b_ip4, q + 16);
		put16(q + 10, csum(q, 20));
	} else {
		m[0] = 2; /* packet too big */
		put16(m + 4, (uint16_t)(qt->mtu >> 16));
		put16(m + 6, (uint16_t)qt->mtu);
		q[0] = 0x60;
		put16(q + 4, 1460);
		q[6] = proto;
		q[7] = 64;
		inet_pton(AF_INET6, T.r.a_ip6, q + 8);
		inet_pton(AF_INET6, T.r.b_ip6, q + 24);
	}
	th = q + qhl;
	put16(th, qt->sport);
	put16(th + 2, PORT);
	if (proto == IPPROTO_UDP) {
		put16(th + 4, 1440);
	} else {
		put16(th + 4, (uint16_t)(qt->seq >> 16));
		put16(th + 6, (uint16_t)qt->seq);
		th[12] = 5 << 4;
		th[13] = 0x18; /* PSH, ACK */
	}
	if (family == AF_INET)
		put16(m + 2, csum(m, len));
	if (qt->how & Q_DSTOPTS) {
		memset(&ctl, 0, sizeof(ctl));
		ctl.h.cmsg_level = IPPROTO_IPV6;
		ctl.h.cmsg_type = IPV6_DSTOPTS;
		ctl.h.cmsg_len = CMSG_LEN(8);
		/* next header (the kernel's), length 0, a PadN of 4 */
		CMSG_DATA(&ctl.h)[2] = 1;
		CMSG_DATA(&ctl.h)[3] = 4;
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
	}
	TK_ASSERT_EQ(sendmsg(*raw, &mh, 0), (ssize_t)len);
}

/* With b's ACKs held back, @p len more bytes queued on skiff's @p fd: what
 * of them its congestion window lets out is its unacknowledged data, [s->lo,
 * s->hi) as the router saw it (everything before was acknowledged). */
static void unacked_burst(int family, int fd, uint64_t *off, uint64_t len, struct seen *s)
{
	uint64_t from = *off;

	memset(s, 0, sizeof(*s));
	sniff_read(family, NULL);
	block_acks(true);
	send_more(fd, off, len);
	run_for(100);
	sniff_read(family, s);
	TK_ASSERT_EQ(s->dport, PORT);
	CU_ASSERT(s->hi - s->lo >= 8 * 1024);
	TK_ASSERT_EQ(sink_got(), from + (s->hi - s->lo));
}

/* Each forged message in turn, given 20 ms; what the counters did. */

static void send_quotes(int family, const struct quote *q, int n, struct skiff_stats *d)
{
	struct skiff_stats a, b;

	skiff_get_stats(&a);
	for (int i = 0; i < n; i++) {
		forge(family, &q[i]);
		run_for(20);
	}
	skiff_get_stats(&b);
	d->tcp_pmtu_updates = b.tcp_pmtu_updates - a.tcp_pmtu_updates;
	d->tcp_pmtu_ignored = b.tcp_pmtu_ignored - a.tcp_pmtu_ignored;
}

/*
 * 1 MiB at full size; 64 KiB with b's ACKs held, and forged messages (MTU
 * 1280) quoting: the last acknowledged byte, the first byte not yet sent,
 * 1 MiB behind, 1 MiB ahead, another port, a UDP datagram; for IPv6 also
 * one behind a destination options header and one in two fragments (its
 * sequence number inside the window). None may move the MSS, nor make
 * skiff fragment, and 2 MiB after them go at full size. Then 64 KiB held
 * again and two messages inside the window: MTU 1400 at its last byte
 * (IPv6: behind destination options), taken, and an MTU below the family's
 * minimum at its first, taken and clamped (576 / 1280).
 * The rest must fit what was taken; 8 MiB intact.
 */
static void forged(int family)
{
	const int hdrs = family == AF_INET ? 40 : 60, min_mtu = family == AF_INET ? 576 : 1280;
	const uint32_t tiny = family == AF_INET ? 300 : 50;
	unsigned long long tcp1, big1, frag1, tcp2, over2, frag2, at_min2;
	struct skiff_stats out, in, st0, st1;
	struct seen s1, s2;
	uint64_t off = 0, off1, off2, rest_from;
	int fd, mss0, mss_out, mss_1400, mss_min, n_out;

	up(family == AF_INET ? "pmforge4" : "pmforge6");
	sniff_open();
	fd = connection(family, true);
	mss0 = mss_of(fd);
	send_more(fd, &off, 1 * ST_MIB);
	until_received(off, 250);

	/* outside the unacknowledged data */
	off1 = off;
	unacked_burst(family, fd, &off, 64 * 1024, &s1);
	{
		const struct quote q[] = {
			{"the last byte acknowledged", s1.sport, s1.lo - 1, HOP, 0},
			{"the next byte to send", s1.sport, s1.hi, HOP, 0},
			{"1 MiB behind", s1.sport, s1.lo - (1u << 20), HOP, 0},
			{"1 MiB ahead", s1.sport, s1.hi + (1u << 20), HOP, 0},
			{"another port", (uint16_t)(s1.sport + 1), s1.lo, HOP, 0},
			{"a UDP datagram", s1.sport, 0, HOP, Q_UDP},
			/* IPv6 only: lwIP's own ND would take these unless this
			 * hook finds them behind the header or in fragments */
			{"behind destination options", s1.sport, s1.hi, HOP, Q_DSTOPTS},
			{"in two fragments, inside the window", s1.sport, s1.lo, HOP, Q_FRAGMENTED},
		};

		n_out = family == AF_INET ? 6 : 8;
		skiff_get_stats(&st0);
		send_quotes(family, q, n_out, &out);
		skiff_get_stats(&st1);
	}
	mss_out = mss_of(fd);
	block_acks(false);
	zero_counts();
	send_more(fd, &off, 2 * ST_MIB);
	until_received(off, 250);
	tcp1 = count(family, "pm-tcp");
	big1 = count(family, "pm-big");
	frag1 = family == AF_INET6 ? count(family, "pm-frag") : 0;

	/* inside it */
	off2 = off;
	unacked_burst(family, fd, &off, 64 * 1024, &s2);
	TK_ASSERT_EQ(s2.lo - s1.lo, (uint32_t)(off2 - off1));
	{
		/* (IPv6: behind destination options, found there) */
		const struct quote q[] = {{"its last byte", s2.sport, s2.hi - 1, 1400,
					   family == AF_INET6 ? Q_DSTOPTS : 0}};

		send_quotes(family, q, 1, &in);
		mss_1400 = mss_of(fd);
	}
	{
		const struct quote q[] = {{"its first byte", s2.sport, s2.lo, tiny, 0}};
		struct skiff_stats d;

		send_quotes(family, q, 1, &d);
		in.tcp_pmtu_updates += d.tcp_pmtu_updates;
		in.tcp_pmtu_ignored += d.tcp_pmtu_ignored;
		mss_min = mss_of(fd);
	}
	block_acks(false);
	zero_counts();
	rest_from = off;
	send_more(fd, &off, XFER - off);
	until_received(off, 50);
	tcp2 = count(family, "pm-tcp");
	over2 = family == AF_INET ? count(family, "pm-577") : count(family, "pm-big");
	at_min2 = family == AF_INET ? count(family, "pm-576") : count(family, "pm-1280");
	frag2 = family == AF_INET6 ? count(family, "pm-frag") : 0;
	finish(fd, XFER);

	tk_note("IPv%d: %d forged (MTU %d) quoting outside [%u, %u), another port, UDP%s: "
		"pmtu_ignored +%llu, pmtu_updates +%llu, ip_frag_drop +%llu, MSS %d -> %d; the "
		"next 2 MiB: %llu TCP packets, %llu above %d, %llu IPv6 fragments",
		family == AF_INET ? 4 : 6, n_out, HOP, s1.lo, s1.hi,
		family == AF_INET6 ? ", behind destination options, in fragments" : "",
		(unsigned long long)out.tcp_pmtu_ignored, (unsigned long long)out.tcp_pmtu_updates,
		(unsigned long long)(st1.ip_frag_drop - st0.ip_frag_drop), mss0, mss_out, tcp1,
		big1, HOP, frag1);
	tk_note("IPv%d: inside [%u, %u): MTU 1400 -> MSS %d, MTU %u -> MSS %d (pmtu_updates "
		"+%llu, ignored +%llu); the last %.2f MiB: %llu TCP packets, %llu of %d bytes, "
		"%llu above, %llu IPv6 fragments",
		family == AF_INET ? 4 : 6, s2.lo, s2.hi, mss_1400, tiny, mss_min,
		(unsigned long long)in.tcp_pmtu_updates, (unsigned long long)in.tcp_pmtu_ignored,
		(XFER - rest_from) / (double)ST_MIB, tcp2, at_min2, min_mtu, over2, frag2);
	tk_score("IPv%d: %d forged ICMP outside the window (edges, +-1 MiB, other port, UDP%s): "
		 "%llu ignored, MSS %d -> %d, %llu/%llu packets after at full size; in-window "
		 "taken (MSS %d, %d for MTU %u); SHA-256 %s",
		 family == AF_INET ? 4 : 6, n_out,
		 family == AF_INET6 ? ", dest-opts, fragmented" : "",
		 (unsigned long long)out.tcp_pmtu_ignored, mss0, mss_out, big1, tcp1, mss_1400,
		 mss_min, tiny, T.sink.got == XFER && T.sink.bad_at < 0 ? "ok" : "MISMATCH");
	/* Outside: refused, nothing changed. */
	TK_ASSERT_EQ(out.tcp_pmtu_ignored, n_out);
	TK_ASSERT_EQ(out.tcp_pmtu_updates, 0);
	TK_ASSERT_EQ(mss_out, mss0);
	CU_ASSERT(big1 >= 2 * ST_MIB / 1448 * 9 / 10);
	TK_ASSERT_EQ(frag1, 0);
	if (family == AF_INET6) /* the first fragment */
		CU_ASSERT(st1.ip_frag_drop > st0.ip_frag_drop);
	/* Inside: taken, and the minimum MTU holds. */
	TK_ASSERT_EQ(in.tcp_pmtu_updates, 2);
	TK_ASSERT_EQ(mss_1400, 1400 - hdrs);
	TK_ASSERT_EQ(mss_min, min_mtu - hdrs);
	TK_ASSERT_EQ(over2, 0);
	TK_ASSERT_EQ(frag2, 0);
	CU_ASSERT(at_min2 >= (XFER - rest_from) / (uint64_t)(min_mtu - hdrs - 12) * 9 / 10);
}

static void test_forged_icmp_v4(void)
{
	forged(AF_INET);
}

static void test_forged_icmp_v6(void)
{
	forged(AF_INET6);
}

static const struct tk_case tests[] = {
	TK_TEST(test_hop_1280_v4_skiff_client),
	TK_TEST(test_hop_1280_v6_skiff_server),
	TK_TEST(test_hop_1280_v4_mptcp_skiff_server),
	TK_TEST(test_forged_icmp_v4),
	TK_TEST(test_forged_icmp_v6),
	TK_TEST_END,
};

static const struct tk_suite suite = {"pmtu", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
