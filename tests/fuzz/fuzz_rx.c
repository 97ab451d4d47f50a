/* Fuzzes skiff's receive path, Ethernet to TCP/UDP/ICMP, with connections
 * in progress so that TCP state is reached.
 *
 * One stack runs over an in-process memlink wire for the whole run; the
 * harness is the far end. Each input is a list of records (fuzz_wire.h):
 * frames to inject (raw, or bodies wrapped in valid headers and aimed at a
 * live connection), clock steps that fire lwIP's timers, application calls,
 * and XDP metadata. Connections are opened on first use in each input (the
 * peer's ISN is fixed; the stack's is learnt from its SYN-ACK) and aborted
 * when the input ends, so an input means the same thing whatever ran before
 * it.
 *
 * Leaks fail the run: every LEAK_CHECK_EVERY inputs, and at exit, the stack
 * is shut down (which aborts every connection and drains every queue) and
 * must give every frame back; lwIP's pools must then be empty.
 *
 * Built as fuzz_mptcp (FUZZ_MPTCP 1), the same harness runs MPTCP
 * (RFC 8684) connections: the listener is IPPROTO_MPTCP and the peer
 * offers MP_CAPABLE, the stack's connection is IPPROTO_MPTCP and the peer
 * answers it, both with the peer's fixed key (its IDSN from SHA-256, as
 * the RFC says), so that the option bytes of every TCP record reach the
 * connection level (stack/mptcp/: the handshake, DSS mappings, DATA_FIN,
 * MP_JOIN, unknown subtypes), DSS fields rebased like sequence numbers.
 * fuzz_mptcp keeps one more connection: a join (MP_JOIN, both HMACs
 * right) of the accepted IPv4 one, which TCP6 records with FW_F_CONN1
 * aim at (over IPv4), its mappings rebased from where the first
 * subflow's data is, so that data lands ahead of, behind and across the
 * data-level receive pointer (stack/mptcp/join.c, recv.c).
 *
 * SKIFF_FUZZ_DEBUG=1 ./fuzz_rx INPUT shows what an input reached: the
 * frames the stack sent, the connections, the drop counters. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <skiff/mptcp_dss.h>
#include <skiff/pkb.h>
#include <skiff/skiff.h>
#include <skiff/umem.h>

#include "../../stack/skiff_testing.h"
#include <skiff/xdp_meta.h>
#include "fuzz_wire.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
/* Free frames are poisoned (SKIFF_DEBUG_FRAMES): only frames the stack has
 * posted or holds are the wire's to write. */
#define POISONED(p, n) (__asan_region_is_poisoned((void *)(p), n) != NULL)
#endif
#endif
#ifndef POISONED
#define POISONED(p, n) false
#endif

#define WIRE_FRAMES	 1024u
#define WIRE_RING	 256u
#define MAX_RECORDS	 64
#define LEAK_CHECK_EVERY 2000u
#define PEER_ISS	 1000000u /* the peer's initial sequence number */
#define TCP_TICK_MS	 5u	  /* TCP_TMR_INTERVAL in stack/lwipopts.h */
#define CLOCK_MAX_MS	 2000u	  /* one clock record: two initial RTOs (a tick costs a poll) */

#ifndef FUZZ_MPTCP
#define FUZZ_MPTCP 0 /* fuzz_mptcp: MPTCP connections (CMakeLists.txt) */
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define PEER_KEY   0x5eed0123456789abull /* the peer's MPTCP key */
#define PEER_NONCE 0x6e6f6e63u		 /* the peer's MP_JOIN nonce */
/* The connections: fuzz_wire.h's, and in fuzz_mptcp a join of the first. */
#define NCONN  (FW_C__N + FUZZ_MPTCP)
#define C_JOIN FW_C__N

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct conn {
	int fd;	       /* skiff socket; -1 none, -2 none but followed on the wire */
	bool v6;       /* over IPv6 */
	bool outbound; /* the stack connected (else it accepted) */
	bool up;       /* handshake done in this input */
	bool tried;    /* opening it failed in this input: no retry */
	bool lingers;  /* closed gracefully: its pcb outlives the socket */
	bool syn_seen; /* the stack's SYN (-ACK) came */
	uint16_t gen;  /* moves the peer's port past pcbs left behind */
	uint16_t peer_port, stack_port;
	uint32_t snd_nxt; /* the peer's next sequence number, as the stack ACKs it */
	uint32_t rcv_nxt; /* the end of what the stack has sent */
	/* MPTCP (fuzz_mptcp): the stack's ISN, its key and that key's IDSN */
	uint32_t stack_iss;
	bool stack_key_seen;
	uint64_t stack_key, stack_idsn;
	/* the join: the stack's nonce from its SYN-ACK */
	bool nonce_seen;
	uint32_t stack_nonce;
};

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)fw_get32(p) << 32 | fw_get32(p + 4);
}

static void put_be64(uint8_t *p, uint64_t v)
{
	fw_put32(p, (uint32_t)(v >> 32));
	fw_put32(p + 4, (uint32_t)v);
}

/* A key's IDSN: the least significant 64 bits of its SHA-256 (RFC 8684 3.1). */
static uint64_t key_idsn(uint64_t key)
{
	uint8_t k[8], h[SHA256_DIGEST_LENGTH];

	put_be64(k, key);
	SHA256(k, sizeof(k), h);
	return be64(h + 24);
}

static struct {
	struct skiff_memlink *w;
	struct umem *u; /* the harness's end */
	struct umem_port *p;
	struct umem_geometry g;
	struct umem_config stack_uc; /* the stack's end, for metadata */
	bool up;
	int lfd, lfd_sec, ufd;
	struct conn c[NCONN];
	struct pkb_sa sa[2];
	bool meta; /* a record is stamped on the stack's frames */
	bool debug;
	unsigned long runs;
} F;

/* ---- the wire --------------------------------------------------------------- */

static void drain(void);

static bool inject(const uint8_t *frame, size_t len)
{
	struct umem_desc d;
	uint64_t a;

	if (!len)
		return false;
	if (!umem_memlink_peer_room(skiff__memlink_wire(F.w), 1)) {
		skiff_poll(0);
		drain();
		if (!umem_memlink_peer_room(skiff__memlink_wire(F.w), 1))
			return false;
	}
	if (umem_alloc(F.u, &a)) {
		drain();
		if (umem_alloc(F.u, &a))
			return false;
	}
	a += F.g.headroom;
	memcpy(umem_geo_ptr(&F.g, a), frame, len);
	d = (struct umem_desc){.addr = a, .len = (uint32_t)len};
	if (umem_port_tx(F.p, &d, 1) != 1) {
		umem_free(F.u, a);
		return false;
	}
	umem_port_flush(F.p);
	return true;
}

static void inject_tcp(const struct conn *c, uint32_t seq, uint32_t ack, uint8_t flags,
		       const uint8_t *opt, size_t optlen)
{
	uint8_t seg[80], f[FW_FRAME_MAX];
	size_t n = fw_tcp(seg, c->peer_port, c->stack_port, seq, ack, flags, opt, optlen, NULL, 0);

	inject(f, fw_frame(f, (c->v6 ? FW_TCP6 : FW_TCP4) | FW_F_ASIS, seg, n, NULL));
}

static void arp_reply(const uint8_t *req)
{
	uint8_t f[60] = {0}, *a = f + 14;

	memcpy(f, req + 6, 6);
	memcpy(f + 6, fw_peer_mac, 6);
	fw_put16(f + 12, 0x0806);
	memcpy(a, req + 14, 8);
	a[7] = 2;
	memcpy(a + 8, fw_peer_mac, 6);
	memcpy(a + 14, req + 14 + 24, 4); /* we are whom it asked for */
	memcpy(a + 18, req + 14 + 8, 10); /* to the asker */
	inject(f, sizeof(f));
}

/* A neighbor advertisement for the peer (the stack solicited it). */
static void na_reply(void)
{
	uint8_t na[32] = {136}, f[FW_FRAME_MAX];

	na[4] = 0x60; /* solicited, override */
	memcpy(na + 8, fw_peer_ip6, 16);
	na[24] = 2; /* target link-layer address */
	na[25] = 1;
	memcpy(na + 26, fw_peer_mac, 6);
	inject(f, fw_frame(f, FW_ICMP6, na, sizeof(na), NULL));
}

static struct conn *conn_of(bool v6, uint16_t sport, uint16_t dport, uint8_t flags)
{
	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &F.c[i];

		if (c->v6 != v6 || c->fd == -1 || c->peer_port != dport)
			continue;
		/* The port the stack connects from shows in its SYN. */
		if (c->outbound && !c->syn_seen && flags == FW_TH_SYN)
			c->stack_port = sport;
		if (c->stack_port == sport)
			return c;
	}
	return NULL;
}

/* The stack's MPTCP key: the first one of an MP_CAPABLE it sends (its
 * SYN-ACK's, or its third ACK's, which puts the sender's key first). */
static void take_stack_key(struct conn *c, const uint8_t *th, size_t hl)
{
	for (size_t i = 20; i + 1 < hl;) {
		if (th[i] == 0)
			break;
		if (th[i] == 1) {
			i++;
			continue;
		}
		if (th[i + 1] < 2 || i + th[i + 1] > hl)
			break;
		/* A join's SYN-ACK: MP_JOIN with the stack's nonce. */
		if (th[i] == 30 && th[i + 1] == 16 && (th[i + 2] >> 4) == 1) {
			c->stack_nonce = fw_get32(th + i + 12);
			c->nonce_seen = true;
			return;
		}
		if (th[i] == 30 && th[i + 1] >= 12 && (th[i + 2] >> 4) == 0) {
			c->stack_key = be64(th + i + 4);
			c->stack_idsn = key_idsn(c->stack_key);
			c->stack_key_seen = true;
			return;
		}
		i += th[i + 1];
	}
}

/* Follows a connection through what the stack sends on it. */
static void track(bool v6, const uint8_t *th, size_t len)
{
	uint8_t flags = th[13];
	size_t hl = (size_t)(th[12] >> 4) * 4;
	struct conn *c;
	uint32_t end;

	if (len < 20 || hl < 20 || hl > len)
		return;
	c = conn_of(v6, fw_get16(th), fw_get16(th + 2), flags);
	if (!c)
		return;
	end = fw_get32(th + 4) + (uint32_t)(len - hl) + !!(flags & FW_TH_SYN) +
	      !!(flags & FW_TH_FIN);
	if (FUZZ_MPTCP && !c->stack_key_seen)
		take_stack_key(c, th, hl);
	if (flags & FW_TH_SYN) {
		c->syn_seen = true;
		c->stack_iss = fw_get32(th + 4);
		c->rcv_nxt = end;
	} else if ((int32_t)(end - c->rcv_nxt) > 0) {
		c->rcv_nxt = end;
	}
	if (flags & FW_TH_ACK &&
	    (flags & FW_TH_SYN || (int32_t)(fw_get32(th + 8) - c->snd_nxt) > 0))
		c->snd_nxt = fw_get32(th + 8);
}

/* One frame from the stack (trusted: its headers are sane). */
static void sent(const uint8_t *f, uint32_t len)
{
	const uint8_t *l3 = f + 14;
	uint16_t type = len >= 14 ? fw_get16(f + 12) : 0;
	size_t ihl = (size_t)(l3[0] & 0xf) * 4;

	if (F.debug)
		fprintf(stderr, "  stack sent %04x, %u bytes\n", type, len);
	if (type == 0x0806 && len >= 42 && l3[7] == 1 && !memcmp(l3 + 24, fw_peer_ip4, 4))
		arp_reply(f);
	/* Lengths from the IP header: the frame may be padded. */
	else if (type == 0x0800 && len >= 34 && l3[9] == 6 && fw_get16(l3 + 2) <= len - 14)
		track(false, l3 + ihl, fw_get16(l3 + 2) - ihl);
	else if (type == 0x86dd && len >= 54 && l3[6] == 6 && fw_get16(l3 + 4) <= len - 54)
		track(true, l3 + 40, fw_get16(l3 + 4));
	else if (type == 0x86dd && len >= 78 && l3[6] == 58 && l3[40] == 135 &&
		 !memcmp(l3 + 48, fw_peer_ip6, 16))
		na_reply();
}

/* What the stack sent: neighbor requests answered, connections followed,
 * frames returned. */
static void drain(void)
{
	struct umem_desc d[64];
	unsigned n;

	umem_port_complete(F.p, 1024);
	while ((n = umem_port_rx(F.p, d, 64))) {
		for (unsigned i = 0; i < n; i++) {
			sent(umem_geo_ptr(&F.g, d[i].addr), d[i].len);
			umem_free(F.u, d[i].addr);
		}
		umem_port_refill(F.p);
	}
	umem_port_refill(F.p);
}

/* Lets the stack and the harness answer each other until both are quiet. */
static void pump(void)
{
	struct umem_port_stats a, b;
	int n;

	for (int i = 0; i < 8; i++) {
		umem_port_get_stats(F.p, &a);
		n = skiff_poll(0);
		drain();
		umem_port_get_stats(F.p, &b);
		if (n <= 0 && a.rx_frames == b.rx_frames && a.tx_frames == b.tx_frames)
			break;
	}
}

static void clock_step(unsigned ms)
{
	skiff__clock_advance(ms);
	pump();
}

/* Moves the clock on by @p ms as lwIP's TCP timers see it: they count
 * their own ticks, not time, so the clock steps at their interval
 * (TCP_TMR_INTERVAL, lwipopts.h) and the stack runs at each step. */
static void tcp_ticks(unsigned ms)
{
	for (unsigned t = 0; t < ms; t += TCP_TICK_MS) {
		skiff__clock_advance(TCP_TICK_MS);
		skiff_poll(0);
		if (t % (16 * TCP_TICK_MS) == 0)
			drain();
	}
	pump();
}

/* ---- connections ------------------------------------------------------------ */

static void zc_done(void *opaque, int fd, uint32_t lo, uint32_t hi, unsigned flags)
{
	(void)opaque, (void)fd, (void)lo, (void)hi, (void)flags;
}

static void set_abortive(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	skiff_setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* Accepts whatever the listener @p lfd has; returns the one from
 * @p peer_port (or -1) and aborts the others. */
static int accept_from(int lfd, uint16_t peer_port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, want = -1;

	while ((fd = skiff_accept(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK)) >= 0) {
		uint16_t port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port;

		if (want < 0 && ntohs(port) == peer_port) {
			want = fd;
		} else {
			set_abortive(fd);
			skiff_close(fd);
		}
		sl = sizeof(ss);
	}
	return want;
}

/* MP_CAPABLE's flags from the peer: H, and A (DSS checksums) on the
 * connections the stack opens and on every other one it accepts (its
 * first plain), so that received mappings are also held and checked
 * (stack/mptcp/recv.c). */
static uint8_t mpc_flags(const struct conn *c, bool outbound)
{
	return (uint8_t)(0x01 | (outbound || (c->gen & 1) ? 0x80 : 0));
}

/* The peer connects to the stack's listener. */
static bool open_accepted(struct conn *c)
{
	uint8_t o[40], mpc[20] = {30, 20, 0x01, 0x01};
	size_t olen = fw_syn_options(o);

	/* MP_CAPABLE v1 on the SYN, HMAC-SHA256 (RFC 8684 3.1). */
	if (FUZZ_MPTCP) {
		memcpy(o + olen, (uint8_t[]){30, 4, 0x01, mpc_flags(c, false)}, 4);
		olen += 4;
		mpc[3] = mpc_flags(c, false);
	}
	c->peer_port = (uint16_t)(FW_PORT_ACCEPT + (c->v6 ? 2000 : 0) + c->gen % 2000);
	c->stack_port = FW_PORT_LISTEN;
	c->snd_nxt = PEER_ISS;
	c->fd = -2; /* tracked from now on (conn_of skips fd -1) */
	inject_tcp(c, PEER_ISS, 0, FW_TH_SYN, o, olen);
	pump();
	if (!c->syn_seen)
		return false;
	/* The third ACK echoes both keys, the peer's first. */
	put_be64(mpc + 4, PEER_KEY);
	put_be64(mpc + 12, c->stack_key);
	if (c->stack_key_seen)
		inject_tcp(c, PEER_ISS + 1, c->rcv_nxt, FW_TH_ACK, mpc, sizeof(mpc));
	else
		inject_tcp(c, PEER_ISS + 1, c->rcv_nxt, FW_TH_ACK, NULL, 0);
	pump();
	c->fd = accept_from(F.lfd, c->peer_port);
	return c->fd >= 0;
}

static struct conn *conn(unsigned i);

/* The peer joins the accepted IPv4 connection (RFC 8684 3.2): its token
 * and our nonce on the SYN, HMAC-A on the third ACK. No socket: the join
 * is followed on the wire. */
static bool open_join(struct conn *c)
{
	struct conn *m = conn(FW_C_ACCEPTED4);
	uint8_t o[40], ack[24] = {30, 24, 0x10, 0}, k[16], h[SHA256_DIGEST_LENGTH], msg[8];
	size_t olen = fw_syn_options(o);
	unsigned int hl = 0;

	if (!m || !m->stack_key_seen)
		return false;
	put_be64(k, m->stack_key);
	SHA256(k, 8, h);
	memcpy(o + olen, (uint8_t[]){30, 12, 0x10, 0}, 4);
	memcpy(o + olen + 4, h, 4); /* the token */
	fw_put32(o + olen + 8, PEER_NONCE);
	olen += 12;
	c->peer_port = (uint16_t)(FW_PORT_ACCEPT + 4000 + c->gen % 2000);
	c->stack_port = FW_PORT_LISTEN;
	c->snd_nxt = PEER_ISS;
	c->fd = -2;
	inject_tcp(c, PEER_ISS, 0, FW_TH_SYN, o, olen);
	pump();
	if (!c->syn_seen || !c->nonce_seen)
		return false;
	put_be64(k, PEER_KEY);
	put_be64(k + 8, m->stack_key);
	fw_put32(msg, PEER_NONCE);
	fw_put32(msg + 4, c->stack_nonce);
	if (!HMAC(EVP_sha256(), k, sizeof(k), msg, sizeof(msg), h, &hl))
		return false;
	memcpy(ack + 4, h, 20);
	inject_tcp(c, PEER_ISS + 1, c->rcv_nxt, FW_TH_ACK, ack, sizeof(ack));
	pump();
	c->stack_key = m->stack_key;
	c->stack_idsn = m->stack_idsn;
	c->stack_key_seen = true;
	return true;
}

/* The stack connects to the peer. */
static bool open_outbound(struct conn *c)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(FW_PORT_PEER)};
	uint8_t o[40];
	size_t olen = fw_syn_options(o);

	memcpy(&to.sin_addr, fw_peer_ip4, 4);
	if (FUZZ_MPTCP) { /* the SYN-ACK's MP_CAPABLE: the peer's key */
		memcpy(o + olen, (uint8_t[]){30, 12, 0x01, mpc_flags(c, true)}, 4);
		put_be64(o + olen + 4, PEER_KEY);
		olen += 12;
	}
	c->peer_port = FW_PORT_PEER;
	c->fd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, FUZZ_MPTCP ? IPPROTO_MPTCP : 0);
	if (c->fd < 0)
		return false;
	if (skiff_connect(c->fd, (struct sockaddr *)&to, sizeof(to)) == 0 || errno != EINPROGRESS)
		return false;
	pump();
	if (!c->syn_seen)
		return false;
	c->snd_nxt = PEER_ISS + 1;
	inject_tcp(c, PEER_ISS, c->rcv_nxt, FW_TH_SYN | FW_TH_ACK, o, olen);
	pump();
	return true;
}

static void conn_reset(struct conn *c)
{
	uint16_t gen = c->gen;
	bool v6 = c->v6, outbound = c->outbound;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->gen = gen;
	c->v6 = v6;
	c->outbound = outbound;
}

/* Connection @p i, opened on first use in an input. */
static struct conn *conn(unsigned i)
{
	struct conn *c = &F.c[i % NCONN];
	bool join = FUZZ_MPTCP && i % NCONN == C_JOIN;

	if (c->up || c->lingers)
		return c;
	if (c->tried)
		return NULL;
	c->tried = true;
	if (join ? open_join(c) : c->outbound ? open_outbound(c) : open_accepted(c)) {
		c->up = true;
		if (c->fd >= 0)
			skiff_zc_set_callback(c->fd, zc_done, NULL);
		return c;
	}
	/* Something of an earlier input still holds the port: next time,
	 * another one. */
	if (c->fd >= 0) {
		set_abortive(c->fd);
		skiff_close(c->fd);
	}
	c->fd = -1;
	c->gen++;
	return NULL;
}

static void read_all(int fd)
{
	char buf[4096];

	for (int i = 0; i < 64; i++)
		if (skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static void conns_close(void)
{
	bool lingered = false;

	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &F.c[i];

		if (c->fd >= 0) {
			read_all(c->fd);
			set_abortive(c->fd);
			skiff_close(c->fd);
		}
		/* A pcb closed gracefully goes now, and its socket with it:
		 * a reset, or (TIME_WAIT ignores resets) TIME_WAIT's end. An
		 * input then frees what it allocated, which spares libFuzzer
		 * a leak scan after it. */
		if (c->lingers) {
			inject_tcp(c, c->snd_nxt, c->rcv_nxt, FW_TH_RST | FW_TH_ACK, NULL, 0);
			lingered = true;
			c->gen++;
		}
		/* A join: reset with its connection (stack/mptcp/join.c); a
		 * reset of ours too, should it outlive it, and a new port. */
		if (FUZZ_MPTCP && i == C_JOIN && (c->up || c->syn_seen)) {
			pump();
			inject_tcp(c, c->snd_nxt, c->rcv_nxt, FW_TH_RST | FW_TH_ACK, NULL, 0);
			c->gen++;
		}
		conn_reset(c);
	}
	if (lingered)
		tcp_ticks(250); /* time_wait_ms (200) */
	accept_from(F.lfd, 0);
	accept_from(F.lfd_sec, 0);
	for (int i = 0; i < 64; i++) {
		char buf[2048];

		if (skiff_recvfrom(F.ufd, buf, sizeof(buf), MSG_DONTWAIT, NULL, NULL) < 0)
			break;
	}
}

/* ---- the application -------------------------------------------------------- */

static void app(const uint8_t *b, size_t len)
{
	static uint8_t pattern[8192];
	uint8_t a[8] = {0};
	struct conn *c;

	memcpy(a, b, len < sizeof(a) ? len : sizeof(a));
	if ((a[0] & 0xf) % FW_APP__N == FW_APP_UDP_SEND) {
		struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
		struct sockaddr_in to4 = {.sin_family = AF_INET, .sin_port = htons(9)};

		memcpy(&to6.sin6_addr, fw_peer_ip6, 16);
		memcpy(&to4.sin_addr, fw_peer_ip4, 4);
		if (a[0] & 0x10)
			skiff_sendto(F.ufd, pattern, a[1], 0, (struct sockaddr *)&to6, sizeof(to6));
		else
			skiff_sendto(F.ufd, pattern, a[1], 0, (struct sockaddr *)&to4, sizeof(to4));
		return;
	}
	c = conn(a[0] >> 4);
	if (!c || c->fd < 0)
		return;
	switch ((a[0] & 0xf) % FW_APP__N) {
	case FW_APP_SEND:
		skiff_send(c->fd, pattern, fw_get16(a + 1) % sizeof(pattern) + 1, MSG_DONTWAIT);
		break;
	case FW_APP_RECV:
		read_all(c->fd);
		break;
	case FW_APP_SHUT_WR:
		skiff_shutdown(c->fd, SHUT_WR);
		break;
	case FW_APP_CLOSE:
		skiff_close(c->fd);
		c->fd = -2; /* still followed on the wire */
		c->lingers = true;
		break;
	case FW_APP_ZC_SEND: {
		struct skiff_zc_buf zb;

		if (skiff_zc_alloc(c->fd, &zb))
			break;
		zb.len = (uint32_t)a[1] * 8 + 1 < zb.cap ? (uint32_t)a[1] * 8 + 1 : zb.cap;
		memset(zb.data, 'z', zb.len);
		if (skiff_zc_send(c->fd, &zb, 1, 0) < 0)
			skiff_zc_free(&zb);
		break;
	}
	case FW_APP_ZC_RECV: {
		struct skiff_zc_loan l[8];
		ssize_t n = skiff_zc_recv(c->fd, l, 8, MSG_DONTWAIT);

		if (n > 0)
			skiff_zc_recv_done(l, (unsigned)n);
		break;
	}
	case FW_APP_MPTCP: {
		struct pkb_ext_mptcp m = {
			.flags = a[1] & PKB_DSS_FLAGS,
			.data_seq = fw_get32(a + 2),
			.subflow_seq = 1,
			.data_len = fw_get16(a + 6),
		};

		skiff__mptcp_set_mapping(c->fd, a[1] == 0xff ? NULL : &m);
		break;
	}
	}
}

/* ---- XDP metadata ----------------------------------------------------------- */

/* Puts @p rec (NULL: zeroes) where the stack's frames will receive their
 * packets' metadata: the XDP program's job. */
static void stamp_meta(const uint8_t *rec)
{
	const struct umem_config *uc = &F.stack_uc;

	for (uint32_t i = 0; i < uc->frame_count; i++) {
		uint8_t *slot = (uint8_t *)uc->area + (uint64_t)i * uc->frame_size +
				UMEM_HEADROOM_DEFAULT + UMEM_XDP_PACKET_HEADROOM -
				sizeof(struct umem_xdp_meta);

		if (POISONED(slot, sizeof(struct umem_xdp_meta)))
			continue;
		if (rec)
			memcpy(slot, rec, sizeof(struct umem_xdp_meta));
		else
			memset(slot, 0, sizeof(struct umem_xdp_meta));
	}
}

static void meta(const uint8_t *b, size_t len)
{
	uint8_t rec[sizeof(struct umem_xdp_meta)] = {0};

	/* Short records end where the packet starts, as the kernel puts them. */
	if (len > sizeof(rec))
		len = sizeof(rec);
	memcpy(rec + sizeof(rec) - len, b, len);
	stamp_meta(rec);
	F.meta = true;
}

/* ---- set-up and the leak check ---------------------------------------------- */

static void die(const char *what)
{
	fprintf(stderr, "fuzz_rx: %s\n", what);
	abort();
}

static void sa_destroy(struct pkb_sa *sa)
{
	(void)sa;
}

static int listener(int domain, uint16_t port, bool secpath)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = skiff_socket(domain, SOCK_STREAM | SOCK_NONBLOCK,
			      FUZZ_MPTCP && !secpath ? IPPROTO_MPTCP : 0),
	    one = 1;

	if (fd < 0)
		die("socket");
	if (secpath)
		skiff_setsockopt(fd, SOL_SKIFF, SKIFF_SO_REQUIRE_SECPATH, &one, sizeof(one));
	if (domain == AF_INET6 ? skiff_bind(fd, (struct sockaddr *)&a6, sizeof(a6))
			       : skiff_bind(fd, (struct sockaddr *)&a4, sizeof(a4)))
		die("bind");
	if (skiff_listen(fd, 16))
		die("listen");
	return fd;
}

static void stack_up(void)
{
	struct sockaddr_in6 u = {.sin6_family = AF_INET6, .sin6_port = htons(FW_PORT_UDP)};
	struct skiff_config c = {
		.backend = SKIFF_BACKEND_MEMLINK,
		.memlink = F.w,
		.memlink_end = 0,
		.ipv4_prefix = 24,
		.ipv6_prefix = 64,
		.max_sockets = 64,
		.time_wait_ms = 200,
	};
	struct skiff_stats st;

	memcpy(c.mac, fw_stack_mac, 6);
	memcpy(&c.ipv4, fw_stack_ip4, 4);
	memcpy(c.ipv6, fw_stack_ip6, 16);
	if (skiff_init(&c))
		die(skiff_last_error());
	/* Whatever an earlier instance left in lwIP's pools is a leak. */
	skiff_get_stats(&st);
	if (st.lwip_pcbs_used || st.lwip_udp_pcbs_used || st.lwip_segs_used || st.lwip_pbufs_used ||
	    st.lwip_reass_used)
		die("lwIP pool entries leaked by the previous stack instance");
	skiff__isn_key(1, 2);
	for (int i = 0; i < 2; i++)
		if (skiff__sa_add(&F.sa[i]))
			die("sa_add");
	F.lfd = listener(AF_INET6, FW_PORT_LISTEN, false);
	F.lfd_sec = listener(AF_INET, FW_PORT_SECURE, true);
	F.ufd = skiff_socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (F.ufd < 0 || skiff_bind(F.ufd, (struct sockaddr *)&u, sizeof(u)))
		die("udp socket");
	F.up = true;
	pump();
}

static void stack_down(void)
{
	conns_close();
	skiff_close(F.lfd);
	skiff_close(F.lfd_sec);
	skiff_close(F.ufd);
	pump();
	skiff_fini();
	F.up = false;
	drain();
	/* skiff_fini() aborts every connection and ages every queue out; it
	 * destroys the UMEM (which unpoisons its frames) only when every frame
	 * and packet buffer came back. Frames still poisoned: a leak. */
	if (POISONED(F.stack_uc.area, (size_t)F.stack_uc.frame_size * F.stack_uc.frame_count))
		die("frames or packet buffers leaked (skiff_fini could not release the UMEM)");
	for (int i = 0; i < 2; i++)
		if (F.sa[i].refcnt != 1)
			die("secpath references leaked");
}

static void at_exit(void)
{
	if (!F.up)
		return;
	stack_down();
	umem_port_destroy(F.p);
	if (!umem_audit(F.u, NULL))
		die("the harness's UMEM books do not balance");
	umem_destroy(F.u);
	skiff_memlink_destroy(F.w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct skiff_memlink_config mc = {.ring_size = WIRE_RING, .frame_count = WIRE_FRAMES};
	struct umem_config uc;

	(void)argc, (void)argv;
	for (int i = 0; i < 2; i++) {
		pkb_sa_init(&F.sa[i], sa_destroy, NULL);
		F.sa[i].spi = htonl(i ? FW_SPI1 : FW_SPI0);
		F.sa[i].proto = IPPROTO_ESP;
	}
	for (int i = 0; i < NCONN; i++) {
		conn_reset(&F.c[i]);
		F.c[i].v6 = i == FW_C_ACCEPTED6;
		F.c[i].outbound = i == FW_C_OPENED4;
	}
	if (skiff_memlink_create(&F.w, &mc) ||
	    umem_memlink_umem_config(skiff__memlink_wire(F.w), 1, &uc) || umem_create(&F.u, &uc) ||
	    umem_memlink_port(&F.p, skiff__memlink_wire(F.w), 1, F.u) ||
	    umem_memlink_umem_config(skiff__memlink_wire(F.w), 0, &F.stack_uc))
		die("memlink");
	umem_geometry(F.u, &F.g);
	umem_port_refill(F.p);
	F.debug = getenv("SKIFF_FUZZ_DEBUG") != NULL;
	stack_up();
	atexit(at_exit);
	return 0;
}

/* ---- one input --------------------------------------------------------------- */

/* SKIFF_FUZZ_DEBUG=1: what each input reached, to check the harness. */
static void debug_dump(void)
{
	struct skiff_stats st;

	skiff_get_stats(&st);
	for (int i = 0; i < NCONN; i++) {
		const struct conn *c = &F.c[i];

		fprintf(stderr, "  conn%d: %s fd %d ports %u->%u snd_nxt %u rcv_nxt %u\n", i,
			c->up	   ? "up"
			: c->tried ? "FAILED"
				   : "unused",
			c->fd, c->peer_port, c->stack_port, c->snd_nxt, c->rcv_nxt);
	}
	fprintf(stderr,
		"  rx %llu tx %llu tcp drop %llu csum %llu ip drop %llu udp drop %llu icmp %llu "
		"icmp6 %llu meta drop %llu secpath drop %llu held %u pcbs %u\n",
		(unsigned long long)st.rx_frames, (unsigned long long)st.tx_frames,
		(unsigned long long)st.tcp_rx_drop, (unsigned long long)st.tcp_checksum_err,
		(unsigned long long)st.ip_rx_drop, (unsigned long long)st.udp_rx_drop,
		(unsigned long long)st.icmp_rx, (unsigned long long)st.icmp6_rx,
		(unsigned long long)st.rx_drop_meta, (unsigned long long)st.secpath_drops,
		st.frames_held, st.lwip_pcbs_used);
	fprintf(stderr,
		"  mptcp: passive %llu active %llu dss rx %llu tx %llu mismatch %llu bad %llu "
		"unknown %llu join rejected %llu data_fin rx %llu csum err %llu (%llu bytes) "
		"mp_fail tx %llu rx %llu infinite tx %llu rx %llu; joins %llu (bad HMAC %llu), "
		"%llu bytes on them, %llu ahead kept (%llu dropped), %llu duplicate\n",
		(unsigned long long)st.mptcp_passive_established,
		(unsigned long long)st.mptcp_active_established,
		(unsigned long long)st.mptcp_dss_rx, (unsigned long long)st.mptcp_dss_tx,
		(unsigned long long)st.mptcp_map_mismatch, (unsigned long long)st.mptcp_bad_option,
		(unsigned long long)st.mptcp_unknown_subtype,
		(unsigned long long)st.mptcp_join_rejected,
		(unsigned long long)st.mptcp_data_fin_rx, (unsigned long long)st.mptcp_csum_err,
		(unsigned long long)st.mptcp_csum_fail_bytes,
		(unsigned long long)st.mptcp_mp_fail_tx, (unsigned long long)st.mptcp_mp_fail_rx,
		(unsigned long long)st.mptcp_infinite_map_tx,
		(unsigned long long)st.mptcp_infinite_map_rx,
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_bad_hmac,
		(unsigned long long)st.mptcp_join_rx_bytes, (unsigned long long)st.mptcp_ooo_bytes,
		(unsigned long long)st.mptcp_ooo_drop, (unsigned long long)st.mptcp_dup_data_rx);
}

static void record(unsigned op, const uint8_t *b, size_t len)
{
	unsigned kind = fw_kind(op);
	uint8_t f[FW_FRAME_MAX];
	struct fw_tcp_ref ref, *r = NULL;
	struct conn *c;

	switch (kind) {
	case FW_CLOCK: {
		unsigned ms = len >= 2 ? (unsigned)(b[0] | b[1] << 8) : len ? b[0] : 250;

		/* One jump: every due timer runs once (lwIP does not catch up). */
		if (op & FW_F_ASIS) {
			clock_step(ms);
			return;
		}
		tcp_ticks(ms < CLOCK_MAX_MS ? ms : CLOCK_MAX_MS);
		return;
	}
	case FW_APP:
		app(b, len);
		goto out;
	case FW_META:
		meta(b, len);
		return;
	case FW_TCP4:
	case FW_TCP6:
		if (op & FW_F_ASIS)
			break;
		if (FUZZ_MPTCP && kind == FW_TCP6 && (op & FW_F_CONN1)) {
			/* The join, over IPv4. */
			op = (op & ~(0x0fu | FW_F_CONN1)) | FW_TCP4;
			c = conn(C_JOIN);
		} else {
			c = conn(kind == FW_TCP6   ? FW_C_ACCEPTED6
				 : op & FW_F_CONN1 ? FW_C_OPENED4
						   : FW_C_ACCEPTED4);
		}
		if (!c)
			break;
		ref = (struct fw_tcp_ref){
			.peer_port = c->peer_port,
			.stack_port = c->stack_port,
			.seq_base = c->snd_nxt,
			.ack_base = c->rcv_nxt,
		};
		if (FUZZ_MPTCP && c->stack_key_seen) {
			ref.mptcp = true;
			ref.dack_base =
				c->stack_idsn + 1 + (uint32_t)(c->rcv_nxt - c->stack_iss - 1);
			ref.dsn_base =
				key_idsn(PEER_KEY) + 1 + (uint32_t)(c->snd_nxt - PEER_ISS - 1);
			ref.ssn_base = c->snd_nxt - PEER_ISS;
			if (c == &F.c[C_JOIN] && F.c[FW_C_ACCEPTED4].up) {
				/* The join's data goes on from where the first
				 * subflow's is. */
				const struct conn *m = &F.c[FW_C_ACCEPTED4];

				ref.dack_base = m->stack_idsn + 1 +
						(uint32_t)(m->rcv_nxt - m->stack_iss - 1);
				ref.dsn_base = key_idsn(PEER_KEY) + 1 +
					       (uint32_t)(m->snd_nxt - PEER_ISS - 1) +
					       (uint32_t)(c->snd_nxt - PEER_ISS - 1);
			}
		}
		r = &ref;
		break;
	}
	inject(f, fw_frame(f, op, b, len, r));
out:
	if (op & FW_F_PUMP)
		pump();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int n = 0; size >= FW_REC_HDR && n < MAX_RECORDS; n++) {
		unsigned op = data[0];
		size_t len = fw_get16(data + 1);

		data += FW_REC_HDR;
		size -= FW_REC_HDR;
		if (len > size)
			len = size;
		record(op, data, len);
		data += len;
		size -= len;
	}
	pump();
	if (F.debug)
		debug_dump();
	conns_close();
	pump(); /* the aborts' callbacks: sockets go now, not in the next input */
	if (F.meta) {
		stamp_meta(NULL);
		F.meta = false;
	}
	if (++F.runs % LEAK_CHECK_EVERY == 0) {
		stack_down();
		stack_up();
	}
	return 0;
}
