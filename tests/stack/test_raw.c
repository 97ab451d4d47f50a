/* skiff's lwIP hooks against crafted frames: the test drives the far end of
 * an in-process memlink wire with raw Ethernet/IPv4/TCP and reads what the
 * stack answers. MPTCP options (MP_CAPABLE fallback, DSS parsed into the
 * pkb's extension and written on our segments), 802.1Q VLANs, secpaths from
 * XDP metadata and a listener's secpath policy, checksum errors. No root. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/mptcp_dss.h>
#include <skiff/pkb.h>

#include "../../stack/skiff_testing.h"
#include <skiff/xdp_meta.h>
#include "stack_test.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* Free frames are poisoned (frame tracking): only frames on the fill ring
 * are the wire's (here: the XDP program's) to write. */
#define FRAME_WRITABLE(p, n) (__asan_region_is_poisoned((void *)(p), n) == NULL)
#else
#define FRAME_WRITABLE(p, n) true
#endif

#define PEER_IP	  "10.9.0.2"
#define STACK_IP  ST_ML_IP4_0
#define PORT	  80
#define PEER_PORT 40000

static const uint8_t peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

static struct {
	struct skiff_memlink *w;
	struct umem *u;
	struct umem_port *p;
	struct umem_geometry g, stack_g;
	uint8_t stack_mac[6];
	uint16_t vlan; /* tag our frames with this VID (0: untagged) */
	bool up;
	/* the TCP connection we drive */
	uint32_t snd_nxt, rcv_nxt;
	uint16_t wnd_less; /* our window field: 65535 less this */
	uint16_t port;	   /* the stack's port (0: PORT) */
} R;

/* ---- frames ------------------------------------------------------------------------ */

/* Ethernet (+ tag) header from the peer; returns its length. */
static size_t put_eth(uint8_t *f, const uint8_t dst[6], uint16_t type, uint16_t vid)
{
	return st_eth_header(f, dst, peer_mac, type, vid);
}

/* TH_FIN, TH_SYN, TH_RST, TH_ACK: <netinet/tcp.h>'s (the same bits). */
#define TH_PSH ST_TH_PSH

/* A whole Ethernet/IPv4/TCP frame from the peer to the stack. */
static size_t tcp_frame(uint8_t *f, uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *opt,
			size_t optlen, const void *data, size_t len)
{
	struct st_tcp4 t = {.dst_mac = R.stack_mac,
			    .src_mac = peer_mac,
			    .vid = R.vlan,
			    .sport = PEER_PORT,
			    .dport = R.port ? R.port : PORT,
			    .seq = seq,
			    .ack = ack,
			    .flags = flags,
			    .opt = opt,
			    .optlen = optlen,
			    .wnd_less = R.wnd_less};

	inet_pton(AF_INET, PEER_IP, &t.saddr);
	inet_pton(AF_INET, STACK_IP, &t.daddr);
	return st_tcp4_frame(f, &t, data, len);
}

static void raw_send(const uint8_t *frame, size_t len)
{
	struct umem_desc d;
	uint64_t a;

	CU_ASSERT_FATAL(umem_alloc(R.u, &a) == 0);
	a += R.g.headroom;
	memcpy(umem_geo_ptr(&R.g, a), frame, len);
	d = (struct umem_desc){.addr = a, .len = (uint32_t)len};
	CU_ASSERT_FATAL(umem_port_tx(R.p, &d, 1) == 1);
	umem_port_flush(R.p);
	umem_port_complete(R.p, 64);
}

/* A parsed frame from the stack. */
struct rx {
	uint8_t buf[2048];
	size_t len;
	uint16_t vid; /* 0: untagged */
	uint16_t type;
	const uint8_t *l3;
	/* TCP, when type is IPv4 and protocol 6 */
	const uint8_t *th;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *opt;
	size_t optlen;
	size_t paylen;
};

static void parse(struct rx *r)
{
	const uint8_t *f = r->buf;
	size_t off = 12;

	r->vid = 0;
	r->th = NULL;
	r->type = (uint16_t)(f[12] << 8 | f[13]);
	if (r->type == 0x8100) {
		r->vid = (uint16_t)((f[14] << 8 | f[15]) & 0xfff);
		off = 16;
		r->type = (uint16_t)(f[16] << 8 | f[17]);
	}
	r->l3 = f + off + 2;
	if (r->type == 0x0800 && r->l3[9] == 6) {
		size_t ihl = (r->l3[0] & 0xf) * 4u, tot = (size_t)(r->l3[2] << 8 | r->l3[3]);

		r->th = r->l3 + ihl;
		r->seq = (uint32_t)r->th[4] << 24 | (uint32_t)r->th[5] << 16 |
			 (uint32_t)r->th[6] << 8 | r->th[7];
		r->ack = (uint32_t)r->th[8] << 24 | (uint32_t)r->th[9] << 16 |
			 (uint32_t)r->th[10] << 8 | r->th[11];
		r->flags = r->th[13];
		r->opt = r->th + 20;
		r->optlen = (size_t)(r->th[12] >> 4) * 4 - 20;
		r->paylen = tot - ihl - 20 - r->optlen;
	}
}

/* Answers the stack's ARP requests for the peer (with our tag). */
static bool arp_reply(const struct rx *r)
{
	uint8_t f[64];
	size_t n;

	if (r->type != 0x0806 || r->l3[7] != 1)
		return false;
	n = put_eth(f, r->buf + 6, 0x0806, r->vid);
	memcpy(f + n, r->l3, 8);
	f[n + 7] = 2; /* reply */
	memcpy(f + n + 8, peer_mac, 6);
	memcpy(f + n + 14, r->l3 + 24, 4); /* we are whom it asked for */
	memcpy(f + n + 18, r->l3 + 8, 10); /* to the asker */
	raw_send(f, n + 28);
	return true;
}

/* The next frame the stack sends (ARP for us answered on the way), within
 * @p ms, polling the stack meanwhile. */
static bool raw_recv(struct rx *r, int ms)
{
	long long end = st_now_ms() + ms;

	while (st_now_ms() < end) {
		struct umem_desc d;

		skiff_poll(0);
		umem_port_refill(R.p);
		if (umem_port_rx(R.p, &d, 1) != 1) {
			umem_port_complete(R.p, 64);
			continue;
		}
		r->len = d.len < sizeof(r->buf) ? d.len : sizeof(r->buf);
		memcpy(r->buf, umem_geo_ptr(&R.g, d.addr), r->len);
		umem_free(R.u, d.addr);
		parse(r);
		if (arp_reply(r))
			continue;
		return true;
	}
	return false;
}

/* The next TCP segment; others (ND, MLD) are skipped. */
static bool recv_tcp(struct rx *r, int ms)
{
	long long end = st_now_ms() + ms;

	while (raw_recv(r, (int)(end - st_now_ms() > 0 ? end - st_now_ms() : 1)))
		if (r->th)
			return true;
	return false;
}

/* Finds option @p kind in a parsed segment; its offset, or -1. */
static int find_opt(const struct rx *r, uint8_t kind)
{
	for (size_t i = 0; i < r->optlen;) {
		uint8_t k = r->opt[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= r->optlen || r->opt[i + 1] < 2)
			break;
		if (k == kind)
			return (int)i;
		i += r->opt[i + 1];
	}
	return -1;
}

/* ---- set-up -------------------------------------------------------------------------- */

static void raw_up_gw(uint16_t vlan, const char *gw)
{
	struct skiff_config c;
	struct umem_config uc;

	R.w = st_memlink_create();
	CU_ASSERT_FATAL(R.w != NULL);
	c = st_memlink_config(R.w, 0);
	c.vlan_id = vlan;
	if (gw)
		inet_pton(AF_INET, gw, &c.ipv4_gateway);
	CU_ASSERT_FATAL(skiff_init(&c) == 0);
	R.up = true;
	memcpy(R.stack_mac, c.mac, 6);
	R.vlan = vlan;
	CU_ASSERT_FATAL(umem_memlink_umem_config(skiff__memlink_wire(R.w), 1, &uc) == 0);
	CU_ASSERT_FATAL(umem_create(&R.u, &uc) == 0);
	CU_ASSERT_FATAL(umem_memlink_port(&R.p, skiff__memlink_wire(R.w), 1, R.u) == 0);
	umem_geometry(R.u, &R.g);
	CU_ASSERT_FATAL(umem_memlink_umem_config(skiff__memlink_wire(R.w), 0, &uc) == 0);
	R.stack_g = (struct umem_geometry){
		.area = uc.area, .frame_size = uc.frame_size, .frame_count = uc.frame_count};
	umem_port_refill(R.p);
}

static void raw_up(uint16_t vlan)
{
	raw_up_gw(vlan, NULL);
}

static void setup(void)
{
	memset(&R, 0, sizeof(R));
}

static void teardown(void)
{
	if (R.up) {
		st_assert_idle();
		skiff__sa_clear();
		skiff_fini();
	}
	if (R.p) {
		umem_port_destroy(R.p);
		CU_ASSERT(umem_audit(R.u, NULL));
		CU_ASSERT(umem_destroy(R.u) == 0);
	}
	if (R.w)
		CU_ASSERT(skiff_memlink_destroy(R.w) == 0);
	memset(&R, 0, sizeof(R));
}

static int listen_port(bool require_secpath)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	int fd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	CU_ASSERT_FATAL(fd >= 0);
	if (require_secpath)
		CU_ASSERT(skiff_setsockopt(fd, SOL_SKIFF, SKIFF_SO_REQUIRE_SECPATH, &one,
					   sizeof(one)) == 0);
	CU_ASSERT_FATAL(skiff_bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(skiff_listen(fd, 4) == 0);
	return fd;
}

/* MSS 1460, SACK permitted, timestamps, window scale 0, and optionally
 * MP_CAPABLE (RFC 8684 3.1: version 1, the sender's key). */
static size_t syn_options(uint8_t *o, bool mp_capable)
{
	static const uint8_t base[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 1, 8, 10,
				       0, 0, 0,	   1,	 0, 0, 0, 0, 1, 3, 3, 0};
	static const uint8_t mpc[] = {30, 12, 0x01, 0x81, 1, 2, 3, 4, 5, 6, 7, 8};
	size_t n = sizeof(base);

	memcpy(o, base, n);
	if (mp_capable) {
		memcpy(o + n, mpc, sizeof(mpc));
		n += sizeof(mpc);
	}
	return n;
}

/* SYN from the peer; returns whether a SYN-ACK came (in @p r). */
static bool send_syn(struct rx *r, bool mp_capable, int ms)
{
	uint8_t f[256], o[40];
	size_t olen = syn_options(o, mp_capable);

	R.snd_nxt = 1000;
	raw_send(f, tcp_frame(f, R.snd_nxt, 0, TH_SYN, o, olen, NULL, 0));
	R.snd_nxt++;
	if (!recv_tcp(r, ms))
		return false;
	if (r->flags != (TH_SYN | TH_ACK))
		return false;
	R.rcv_nxt = r->seq + 1;
	return true;
}

/* The peer's ACK of the SYN-ACK, then the accepted connection's skiff
 * descriptor (fatal when none comes within 2 s). */
static int complete_handshake(int lfd)
{
	uint8_t f[256];
	int fd = -1;

	raw_send(f, tcp_frame(f, R.snd_nxt, R.rcv_nxt, TH_ACK, NULL, 0, NULL, 0));
	for (long long end = st_now_ms() + 2000; fd < 0 && st_now_ms() < end;) {
		skiff_poll(1);
		fd = skiff_accept(lfd, NULL, NULL, 0);
	}
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

/* Handshake done, connection accepted: the skiff descriptor. */
static int handshake(int lfd, bool mp_capable)
{
	struct rx r;

	CU_ASSERT_FATAL(send_syn(&r, mp_capable, 2000));
	return complete_handshake(lfd);
}

/* Data from the peer with options @p o; the segment is ACKed by the stack
 * (eventually). */
static void send_data(const uint8_t *o, size_t olen, const char *data)
{
	uint8_t f[512];
	size_t n = strlen(data);

	raw_send(f, tcp_frame(f, R.snd_nxt, R.rcv_nxt, TH_ACK | TH_PSH, o, olen, data, n));
	R.snd_nxt += (uint32_t)n;
}

/* Lends the next received payload: @p pkb is its buffer (ext/ API). */
static ssize_t lend(int fd, struct skiff_zc_loan *l)
{
	ssize_t n = -1;

	for (long long end = st_now_ms() + 2000; st_now_ms() < end;) {
		skiff_poll(1);
		n = skiff_zc_recv(fd, l, 1, MSG_DONTWAIT);
		if (n != -1 || errno != EAGAIN)
			break;
	}
	return n;
}

/* The peer closes with a RST (the stack's side then closes cleanly). */
static void peer_reset(int fd)
{
	uint8_t f[256];

	raw_send(f, tcp_frame(f, R.snd_nxt, R.rcv_nxt, TH_RST | TH_ACK, NULL, 0, NULL, 0));
	for (int i = 0; i < 20; i++)
		skiff_poll(1);
	CU_ASSERT(skiff_close(fd) == 0);
}

/* ---- MPTCP ------------------------------------------------------------------------------ */

static void test_mp_capable_syn_falls_back(void)
{
	struct skiff_stats st;
	struct rx r;
	int lfd, fd;

	raw_up(0);
	lfd = listen_port(false);
	CU_ASSERT_FATAL(send_syn(&r, true, 2000));
	/* The SYN-ACK: plain TCP, so a Linux MPTCP client falls back. */
	CU_ASSERT(find_opt(&r, 30) < 0);
	CU_ASSERT(find_opt(&r, 2) >= 0); /* MSS */
	CU_ASSERT(find_opt(&r, 4) >= 0); /* SACK permitted */
	CU_ASSERT(find_opt(&r, 8) >= 0); /* timestamps */
	CU_ASSERT(find_opt(&r, 3) >= 0); /* window scale */
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.mptcp_fallbacks, 1);
	/* The handshake completes as plain TCP. */
	fd = complete_handshake(lfd);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

static void test_dss_parsed_into_extension(void)
{
	struct pkb_ext_mptcp dss =
				     {
					     .data_ack = 0x11223344,
					     .data_seq = 0x55667788,
					     .subflow_seq = 1,
					     .data_len = 5,
					     .flags = PKB_DSS_DATA_ACK | PKB_DSS_MAP,
				     },
			     got;
	const struct pkb_ext_mptcp *m;
	struct skiff_zc_loan l;
	struct skiff_stats st;
	uint8_t o[40];
	int lfd, fd, n;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	/* NOPs first: the option block stays a multiple of 4. */
	o[0] = o[1] = 1;
	n = pkb_mptcp_dss_encode(&dss, false, o + 2, sizeof(o) - 2);
	CU_ASSERT_FATAL(n == 18);
	send_data(o, 20, "hello");
	TK_ASSERT_EQ(lend(fd, &l), 1);
	CU_ASSERT(l.len == 5 && memcmp(l.data, "hello", 5) == 0);
	CU_ASSERT(!(l.flags & SKIFF_ZC_LOAN_COPIED));
	/* A frame loan's priv__ is its pkb (zerocopy/): the mapping rides on it. */
	m = pkb_ext_mptcp(l.priv__);
	CU_ASSERT_FATAL(m != NULL);
	got = *m;
	TK_ASSERT_EQ(got.data_ack, dss.data_ack);
	TK_ASSERT_EQ(got.data_seq, dss.data_seq);
	TK_ASSERT_EQ(got.subflow_seq, dss.subflow_seq);
	TK_ASSERT_EQ(got.data_len, dss.data_len);
	TK_ASSERT_EQ(got.flags, dss.flags);
	skiff_zc_recv_done(&l, 1);

	/* A DSS option whose length runs past the option block: counted, the
	 * data still delivered. */
	o[2] = 30;
	o[3] = 30; /* longer than the 20 bytes there are */
	send_data(o, 20, "world");
	TK_ASSERT_EQ(lend(fd, &l), 1);
	CU_ASSERT(l.len == 5 && memcmp(l.data, "world", 5) == 0);
	CU_ASSERT(pkb_ext_mptcp(l.priv__) == NULL);
	skiff_zc_recv_done(&l, 1);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.mptcp_dss_rx, 1);
	TK_ASSERT_EQ(st.rx_copied_bytes, 0);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

static void test_dss_written_on_segments(void)
{
	struct pkb_ext_mptcp dss =
				     {
					     .data_seq = 0x0102030405060708ull,
					     .subflow_seq = 1,
					     .data_len = 4,
					     .flags = PKB_DSS_MAP | PKB_DSS_DSN64,
				     },
			     got;
	struct skiff_stats st;
	struct rx r;
	int lfd, fd, off;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	TK_ASSERT_EQ(skiff__mptcp_set_mapping(fd, &dss), 0);
	TK_ASSERT_EQ(skiff_send(fd, "data", 4, 0), 4);
	do {
		CU_ASSERT_FATAL(recv_tcp(&r, 2000));
	} while (!r.paylen);
	CU_ASSERT(memcmp(r.th + 20 + r.optlen, "data", 4) == 0);
	off = find_opt(&r, 30);
	CU_ASSERT_FATAL(off >= 0);
	memset(&got, 0, sizeof(got));
	TK_ASSERT_EQ(pkb_mptcp_dss_decode(r.opt + off, r.optlen - (size_t)off, false, &got),
		     pkb_mptcp_dss_len(dss.flags, false));
	CU_ASSERT(got.data_seq == dss.data_seq && got.subflow_seq == 1 && got.data_len == 4 &&
		  got.flags == dss.flags);
	CU_ASSERT(find_opt(&r, 8) >= 0); /* timestamps still there */
	/* Segments are queued with room for the option: no other length now. */
	TK_ASSERT_EQ(skiff__mptcp_set_mapping(fd, NULL), -EBUSY);
	{
		uint8_t f[256];

		raw_send(f, tcp_frame(f, R.snd_nxt, r.seq + 4, TH_ACK, NULL, 0, NULL, 0));
		for (int i = 0; i < 10; i++)
			skiff_poll(1);
	}
	TK_ASSERT_EQ(skiff__mptcp_set_mapping(fd, NULL), 0);
	skiff_get_stats(&st);
	CU_ASSERT(st.mptcp_dss_tx >= 1);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* ---- VLAN ------------------------------------------------------------------------------- */

/* An ARP request for the stack's address, tagged with @p vid (0: none). */
static void send_arp_request(uint16_t vid)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t f[64] = {0};
	size_t n = put_eth(f, bcast, 0x0806, vid);

	f[n + 1] = 1;	 /* Ethernet */
	f[n + 2] = 0x08; /* IPv4 */
	f[n + 4] = 6;
	f[n + 5] = 4;
	f[n + 7] = 1; /* request */
	memcpy(f + n + 8, peer_mac, 6);
	inet_pton(AF_INET, PEER_IP, f + n + 14);
	inet_pton(AF_INET, STACK_IP, f + n + 24);
	raw_send(f, n + 28 < 60 ? 60 : n + 28);
}

static bool arp_reply_seen(struct rx *r, int ms)
{
	while (raw_recv(r, ms))
		if (r->type == 0x0806 && r->l3[7] == 2)
			return true;
	return false;
}

static void test_vlan_tagged_accepted_and_answered(void)
{
	const struct pkb_ext_bridge *br;
	struct skiff_zc_loan l;
	struct skiff_stats st;
	struct rx r;
	int lfd, fd;

	raw_up(5);
	/* Our VLAN: answered, tagged alike. */
	send_arp_request(5);
	CU_ASSERT_FATAL(arp_reply_seen(&r, 1000));
	TK_ASSERT_EQ(r.vid, 5);
	/* Untagged, or another VLAN: not ours. */
	send_arp_request(0);
	send_arp_request(6);
	CU_ASSERT(!arp_reply_seen(&r, 300));
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.rx_drop_vlan, 2);

	/* A connection on the VLAN: segments carry their tag in the BRIDGE
	 * extension. */
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	send_data(NULL, 0, "tagged");
	TK_ASSERT_EQ(lend(fd, &l), 1);
	br = pkb_ext_bridge(l.priv__);
	CU_ASSERT_FATAL(br != NULL);
	CU_ASSERT(br->flags & PKB_BRIDGE_F_VLAN);
	TK_ASSERT_EQ(br->vlan_tci & 0xfff, 5);
	TK_ASSERT_EQ(br->vlan_proto, 0x8100);
	CU_ASSERT(memcmp(br->src_mac, peer_mac, 6) == 0);
	CU_ASSERT(memcmp(br->dst_mac, R.stack_mac, 6) == 0);
	skiff_zc_recv_done(&l, 1);
	/* What the stack sends is tagged too. */
	TK_ASSERT_EQ(skiff_send(fd, "back", 4, 0), 4);
	do {
		CU_ASSERT_FATAL(recv_tcp(&r, 2000));
	} while (!r.paylen);
	TK_ASSERT_EQ(r.vid, 5);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* ---- secpath ---------------------------------------------------------------------------- */

static void sa_destroy(struct pkb_sa *sa)
{
	(void)sa;
}

/* Puts (or with @p spi 0 wipes) a metadata record in front of where every
 * fill frame of the stack will receive its packet: the XDP program's job. */
static void stack_frames_meta(uint32_t spi)
{
	struct umem_xdp_meta m = {
		.spi = {htonl(spi)},
		.n_sa = 1,
		.version = UMEM_XDP_META_VERSION,
		.magic = UMEM_XDP_META_MAGIC,
	};

	for (uint32_t i = 0; i < R.stack_g.frame_count; i++) {
		uint8_t *slot = R.stack_g.area + (uint64_t)i * R.stack_g.frame_size +
				UMEM_HEADROOM_DEFAULT + UMEM_XDP_PACKET_HEADROOM - sizeof(m);

		if (!FRAME_WRITABLE(slot, sizeof(m)))
			continue;
		if (spi)
			memcpy(slot, &m, sizeof(m));
		else
			memset(slot, 0, sizeof(m));
	}
}

static void test_secpath_policy(void)
{
	struct pkb_sa sa;
	const struct pkb_ext_secpath *sp;
	struct skiff_zc_loan l;
	struct skiff_stats st;
	struct rx r;
	int lfd, fd;

	raw_up(0);
	pkb_sa_init(&sa, sa_destroy, NULL);
	sa.spi = htonl(0x11223344);
	sa.proto = IPPROTO_ESP;
	CU_ASSERT(skiff__sa_add(&sa) == 0);
	lfd = listen_port(true);

	/* No secpath: the SYN is dropped, counted, unanswered. */
	CU_ASSERT(!send_syn(&r, false, 300));
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.secpath_drops, 1);

	/* An SA we do not know: dropped at the netif. */
	stack_frames_meta(0x99999999);
	CU_ASSERT(!send_syn(&r, false, 300));
	skiff_get_stats(&st);
	CU_ASSERT(st.rx_drop_meta >= 1);

	/* Accepted by our SA: the connection goes ahead, and its segments
	 * carry the secpath. */
	stack_frames_meta(0x11223344);
	fd = handshake(lfd, false);
	send_data(NULL, 0, "secret");
	TK_ASSERT_EQ(lend(fd, &l), 1);
	sp = pkb_ext_secpath(l.priv__);
	CU_ASSERT_FATAL(sp != NULL);
	TK_ASSERT_EQ(sp->len, 1);
	CU_ASSERT(sp->sa[0] == &sa);
	skiff_zc_recv_done(&l, 1);

	/* Its connections too: a segment without one is dropped. */
	stack_frames_meta(0);
	skiff_get_stats(&st);
	send_data(NULL, 0, "plain");
	R.snd_nxt -= 5; /* never accepted */
	for (int i = 0; i < 20; i++)
		skiff_poll(1);
	{
		struct skiff_stats st2;
		char b[16];

		skiff_get_stats(&st2);
		TK_ASSERT_EQ(st2.secpath_drops, st.secpath_drops + 1);
		CU_ASSERT(skiff_recv(fd, b, sizeof(b), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	}
	stack_frames_meta(0x11223344);
	peer_reset(fd);
	stack_frames_meta(0);
	CU_ASSERT(skiff_close(lfd) == 0);
	for (int i = 0; i < 10; i++)
		skiff_poll(1);
	skiff__sa_clear();
	/* Every secpath reference went with its packet. */
	TK_ASSERT_EQ(sa.refcnt, 1);
}

/* ---- checksums -------------------------------------------------------------------------- */

static void test_bad_tcp_checksum_counted(void)
{
	struct skiff_stats st;
	uint8_t f[256], o[40];
	size_t n;
	struct rx r;
	int lfd;

	raw_up(0);
	lfd = listen_port(false);
	n = tcp_frame(f, 1000, 0, TH_SYN, o, syn_options(o, false), NULL, 0);
	f[n - 1] ^= 0x40; /* an option byte: the checksum no longer matches */
	raw_send(f, n);
	CU_ASSERT(!recv_tcp(&r, 300));
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.tcp_checksum_err, 1);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* ---- the receive window ---------------------------------------------------------------- */

static uint8_t seq_byte(uint32_t seq)
{
	return (uint8_t)(seq * 131u + (seq >> 9));
}

/* Bytes [seq, seq + len) of the peer's stream, as one segment. */
static void send_stream(uint32_t seq, size_t len)
{
	uint8_t f[1600], d[1448];

	for (size_t i = 0; i < len; i++)
		d[i] = seq_byte(seq + (uint32_t)i);
	raw_send(f, tcp_frame(f, seq, R.rcv_nxt, TH_ACK, NULL, 0, d, len));
}

/* The window an ACK of the stack announces (its scale: 7). */
static uint32_t ack_wnd(const struct rx *r)
{
	return (uint32_t)(r->th[14] << 8 | r->th[15]) << 7;
}

/* How far right of @p edge the ACKs of the stack read so far (@p r, if
 * any) put the window's right edge, at most. */
static int32_t past_edge(const struct rx *r, uint32_t edge, int32_t most)
{
	int32_t past = (int32_t)(r->ack + ack_wnd(r) - edge);

	return (r->flags & TH_ACK) && past > most ? past : most;
}

/* The stack's ACKs until one acknowledges @p ack (its window in @p wnd),
 * within @p ms; false if none did. @p most: past_edge() of @p edge. */
static bool acked_to(uint32_t ack, uint32_t *wnd, int ms, uint32_t edge, int32_t *most)
{
	long long end = st_now_ms() + ms;
	struct rx r;

	while (st_now_ms() < end && recv_tcp(&r, 50)) {
		*most = past_edge(&r, edge, *most);
		if ((r.flags & TH_ACK) && r.ack == ack) {
			*wnd = ack_wnd(&r);
			return true;
		}
	}
	return false;
}

/* An out-of-order segment that starts inside the receive window and ends
 * past it, the first on the out-of-order queue: the stack keeps only the
 * part inside (RFC 9293 3.10.7.4) and SACKs that. lwIP queued the whole
 * segment; once the hole before it filled, its bytes exceeded what was
 * left of the window (lwIP asserts; a release build's rcv_wnd wrapped
 * around). Then the hole is filled with the application not reading: the
 * window closes exactly at its edge, and every byte up to it, none past,
 * reaches the application. */
static void test_ooseq_past_window_trimmed(void)
{
	uint32_t start, edge, wnd = 0, seq;
	int32_t most = INT32_MIN;
	socklen_t tilen = sizeof(struct tcp_info);
	uint64_t got = 0, bad = 0;
	struct tcp_info ti;
	uint8_t buf[65536];
	struct rx r;
	int lfd, fd, at;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	start = R.snd_nxt;
	/* One byte, for an ACK that announces the whole window. */
	send_stream(start, 1);
	CU_ASSERT_FATAL(acked_to(start + 1, &wnd, 2000, start, &most));
	/* The window's edge as the stack keeps it (the field announced it
	 * rounded up to its scale). */
	memset(&ti, 0, sizeof(ti));
	CU_ASSERT_FATAL(skiff_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tilen) == 0);
	edge = start + 1 + ti.tcpi_rcv_space;
	most = INT32_MIN;
	tk_note("window %u bytes, %u announced", ti.tcpi_rcv_space, wnd);
	CU_ASSERT_FATAL(ti.tcpi_rcv_space >= 65536 && wnd - ti.tcpi_rcv_space < 128);
	/* 100 bytes from 50 before the edge, out of order. */
	send_stream(edge - 50, 100);
	CU_ASSERT_FATAL(recv_tcp(&r, 2000));
	at = find_opt(&r, 5);
	CU_ASSERT_FATAL(at >= 0 && r.opt[at + 1] >= 10);
	{
		const uint8_t *b = r.opt + at + 2;
		uint32_t left =
			(uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
		uint32_t right =
			(uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];

		TK_ASSERT_EQ(left - start, edge - 50 - start);
		TK_ASSERT_EQ(right - start, edge - start); /* not edge + 50 */
	}
	/* The hole, with nobody reading. */
	for (seq = start + 1; seq != edge - 50;) {
		uint32_t n = edge - 50 - seq < 1448 ? edge - 50 - seq : 1448;

		send_stream(seq, n);
		seq += n;
		if ((seq - start) % (64 * 1448) < 1448)
			while (recv_tcp(&r, 0)) /* not to fill our ring */
				most = past_edge(&r, edge, most);
	}
	CU_ASSERT_FATAL(acked_to(edge, &wnd, 3000, edge, &most));
	TK_ASSERT_EQ(wnd, 0);
	/* The announced edge stayed within the rounding of the one kept (it
	 * crept 57,984 bytes right when each ACK rounded the kept edge up). */
	tk_note("announced edge at most %d bytes right of the window's", most);
	CU_ASSERT(most >= 0 && most < 128);
	/* Every byte up to the edge, right, and none past it. */
	for (long long end = st_now_ms() + 5000; got < edge - start && st_now_ms() < end;) {
		ssize_t k = skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (k <= 0) {
			skiff_poll(1);
			continue;
		}
		for (ssize_t i = 0; i < k; i++)
			bad += buf[i] != seq_byte(start + (uint32_t)(got + (uint64_t)i));
		got += (uint64_t)k;
	}
	TK_ASSERT_EQ(got, edge - start);
	TK_ASSERT_EQ(bad, 0);
	CU_ASSERT(skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	R.snd_nxt = edge;
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* ---- retransmission timeouts ----------------------------------------------------------- */

/* An ACK from the peer of everything up to @p ack, its window 65535 less
 * @p wnd_less. */
static void peer_ack(uint32_t ack, uint16_t wnd_less)
{
	uint8_t f[128];

	R.wnd_less = wnd_less;
	raw_send(f, tcp_frame(f, R.snd_nxt, ack, TH_ACK, NULL, 0, NULL, 0));
	R.wnd_less = 0;
}

/* A connection whose RTO came down from 1 s to its floor: one RTT sample
 * (5 bytes sent and ACKed). Its descriptor; R.rcv_nxt past the 5 bytes. */
static int sampled_connection(int *lfd)
{
	struct rx r;
	int fd;

	raw_up(0);
	*lfd = listen_port(false);
	fd = handshake(*lfd, false);
	CU_ASSERT_FATAL(skiff_send(fd, "hello", 5, 0) == 5);
	CU_ASSERT_FATAL(recv_tcp(&r, 2000) && r.paylen == 5);
	R.rcv_nxt = r.seq + 5;
	peer_ack(R.rcv_nxt, 0);
	return fd;
}

/* The peer ACKs 100 bytes into the first segment of a write and nothing
 * more: each timeout resends that segment, which begins below SND.UNA,
 * and the peer answers each resend with the same ACK. The timeouts back
 * off, each twice the one before (RFC 6298 5.5). lwIP timed such a resend
 * and took each answer for a 0-tick RTT sample that reset the backed-off
 * RTO (fixed by lwIP patch 0018, Karn's rule): the timeouts came sooner
 * and sooner and the connection was given up within a second. The
 * answers' windows differ by a byte (window updates, not duplicate ACKs
 * that would start a fast retransmit). */
static void test_rto_backs_off_after_partial_ack(void)
{
	uint8_t data[4000];
	long long t[3];
	uint32_t first, got = 0;
	struct rx r;
	int lfd, fd, k = 0;

	fd = sampled_connection(&lfd);
	memset(data, 'x', sizeof(data));
	CU_ASSERT_FATAL(skiff_send(fd, data, sizeof(data), 0) == (ssize_t)sizeof(data));
	first = R.rcv_nxt;
	/* Its first two segments (Nagle holds the rest back for an ACK). */
	while (got < 2 * 1448 && recv_tcp(&r, 2000))
		if (r.paylen && r.seq == first + got)
			got += (uint32_t)r.paylen;
	TK_ASSERT_EQ(got, 2 * 1448);
	peer_ack(first + 100, 0);
	while (k < 3 && recv_tcp(&r, 3000))
		if (r.paylen && r.seq == first) {
			t[k++] = st_now_ms();
			peer_ack(first + 100, (uint16_t)k);
		}
	TK_ASSERT_EQ(k, 3);
	if (k == 3) {
		tk_note("timeouts %lld ms, then %lld ms apart", t[1] - t[0], t[2] - t[1]);
		CU_ASSERT(t[1] - t[0] >= 300);			 /* twice the 200 ms floor */
		CU_ASSERT(t[2] - t[1] >= (t[1] - t[0]) * 3 / 2); /* and twice again */
	}
	R.rcv_nxt = first + 100;
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

static void idle_ms(int ms);

/* Corked (TCP_CORK) sends are queued, a zero-copy one as a plain one (and
 * as Linux queues its MSG_ZEROCOPY sends): with no segment coming in
 * meanwhile (an ACK would take what is queued: docs/api.md), nothing
 * leaves before the uncork, which sends it; without an uncork, what waits
 * leaves after 200 ms, Linux's ceiling (corking again does not restart
 * it); a send that fills the send buffer goes at once. skiff_zc_send()
 * used to send at once, and lwIP's poll, at the next slow-timer visit,
 * sent corked data of either kind within milliseconds. */
static void test_corked_sends_wait(void)
{
	struct skiff_zc_buf b;
	int lfd, fd, one = 1, zero = 0;
	long long t0, t_data = -1;
	bool recorked = false;
	struct rx r;

	fd = sampled_connection(&lfd);
	idle_ms(5); /* the peer's ACK taken: a segment in sends what is queued */
	CU_ASSERT_FATAL(skiff_setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) == 0);
	CU_ASSERT_FATAL(skiff_zc_alloc(fd, &b) == 0);
	memset(b.data, 'z', 100);
	b.len = 100;
	CU_ASSERT_FATAL(skiff_zc_send(fd, &b, 1, 0) >= 0);
	while (recv_tcp(&r, 100))
		CU_ASSERT(r.paylen == 0); /* no data while corked */
	CU_ASSERT_FATAL(skiff_setsockopt(fd, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero)) == 0);
	CU_ASSERT_FATAL(recv_tcp(&r, 1000));
	TK_ASSERT_EQ(r.seq, R.rcv_nxt);
	TK_ASSERT_EQ(r.paylen, 100);
	R.rcv_nxt += 100;
	peer_ack(R.rcv_nxt, 0);
	idle_ms(5);

	/* Corked again, a plain send, no uncork: out after the ceiling,
	 * which corking again halfway does not move. */
	CU_ASSERT_FATAL(skiff_setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) == 0);
	t0 = st_now_ms();
	CU_ASSERT_FATAL(skiff_send(fd, "corked", 6, 0) == 6);
	while (t_data < 0 && st_now_ms() - t0 < 1000) {
		if (recv_tcp(&r, 10) && r.paylen) {
			t_data = st_now_ms() - t0;
		} else if (!recorked && st_now_ms() - t0 >= 100) {
			CU_ASSERT(skiff_setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)) ==
				  0);
			recorked = true;
		}
	}
	tk_note("corked data left after %lld ms", t_data);
	CU_ASSERT(t_data >= 195 && t_data < 280);
	TK_ASSERT_EQ(r.paylen, 6);
	R.rcv_nxt += 6;
	peer_ack(R.rcv_nxt, 0);
	idle_ms(5);

	/* Still corked, a send that fills the send buffer: it goes at once. */
	{
		static uint8_t big[4 << 20];
		ssize_t n = skiff_send(fd, big, sizeof(big), MSG_DONTWAIT);

		CU_ASSERT_FATAL(n > 0);
		t0 = st_now_ms();
		t_data = -1;
		while (t_data < 0 && recv_tcp(&r, 1000))
			if (r.paylen)
				t_data = st_now_ms() - t0;
		tk_note("%zd bytes filled the send buffer; the first left after %lld ms", n,
			t_data);
		CU_ASSERT(t_data >= 0 && t_data < 50);
	}
	R.rcv_nxt = r.seq + (uint32_t)r.paylen;
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* The byte at stream offset @p o of test_full_queue_appends_at_tail(). */
static uint8_t queued_byte(uint32_t o)
{
	return (uint8_t)(o % 251u + (o >> 16));
}

/* Writes queue behind a window the peer does not ACK. First the window is
 * 500 bytes: a write of 1,000 waits until the persist timer cuts it in two
 * and sends the first half; the next write goes after the second half,
 * the queue's last segment now. Then 1,498 writes more, a retransmission
 * timeout that puts what was in flight back in front of them, 500 writes
 * more, and the FIN, which goes on the last segment. The peer then takes
 * the stream as it comes and ACKs each segment, its window open: every
 * byte arrives, in order, and the FIN after the last. lwIP patch 0023
 * keeps the queue's last segment (tcp_write() walked the whole queue for
 * it on every write); builds with assertions check it against a walk at
 * every use. */
static void test_full_queue_appends_at_tail(void)
{
	const uint32_t writes = 2000, size = 1000, total = writes * size;
	static uint8_t buf[1000];
	struct skiff_stats a, b;
	uint32_t base, o;
	long long end;
	bool fin = false;
	struct rx r;
	int lfd, fd;

	fd = sampled_connection(&lfd);
	base = R.rcv_nxt;
	/* A window that shrinks comes with a later SEG.SEQ (RFC 9293
	 * 3.10.7.4): a byte of data, then the window on the next one. */
	send_data(NULL, 0, "x");
	R.wnd_less = 65535 - 500;
	send_data(NULL, 0, "y");
	R.wnd_less = 0;
	idle_ms(5);
	skiff_get_stats(&a);
	for (uint32_t i = 0; i < writes; i++) {
		for (uint32_t k = 0; k < size; k++)
			buf[k] = queued_byte(i * size + k);
		CU_ASSERT_FATAL(skiff_send(fd, buf, size, MSG_DONTWAIT) == (ssize_t)size);
		if (i == 0) {
			/* The persist timer's probe: the first 500 bytes. */
			end = st_now_ms() + 3000;
			while (recv_tcp(&r, 100) ? !(r.seq == base && r.paylen) : st_now_ms() < end)
				;
			TK_ASSERT_EQ(r.seq, base);
			TK_ASSERT_EQ(r.paylen, 500);
		}
		if (i + 1 == 1500) {
			/* Nothing ACKed: the first window comes back by RTO. */
			end = st_now_ms() + 3000;
			do {
				(void)recv_tcp(&r, 10);
				skiff_get_stats(&b);
			} while (b.tcp_timeouts == a.tcp_timeouts && st_now_ms() < end);
			TK_ASSERT_EQ(b.tcp_timeouts - a.tcp_timeouts, 1);
		}
	}
	CU_ASSERT_FATAL(skiff_shutdown(fd, SHUT_WR) == 0);
	end = st_now_ms() + 30000;
	while (!fin && st_now_ms() < end && recv_tcp(&r, 2000)) {
		if (r.seq != R.rcv_nxt)
			continue; /* a resend of what came already, or past a gap */
		o = R.rcv_nxt - base;
		if (r.paylen) {
			CU_ASSERT_FATAL(o + r.paylen <= total);
			for (size_t k = 0; k < r.paylen; k++)
				if (r.th[(r.th[12] >> 4) * 4 + k] != queued_byte(o + (uint32_t)k)) {
					tk_note("byte %u differs", o + (unsigned)k);
					CU_FAIL_FATAL("a byte out of place");
				}
			R.rcv_nxt += (uint32_t)r.paylen;
		}
		if (r.flags & TH_FIN) {
			TK_ASSERT_EQ(R.rcv_nxt - base, total);
			R.rcv_nxt++;
			fin = true;
		}
		peer_ack(R.rcv_nxt, 0);
	}
	TK_ASSERT_EQ(R.rcv_nxt - base, total + 1);
	CU_ASSERT(fin);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* Runs the stack for @p ms without answering anything. */
static void idle_ms(int ms)
{
	for (long long end = st_now_us() + ms * 1000LL; st_now_us() < end;)
		skiff_poll(0);
}

/* An ACK of @p ack with a timestamp echoing @p tsecr and SACK blocks
 * [blk[i][0], blk[i][1]) for i < @p n (at most 3: the option room left
 * beside the timestamps). */
static void peer_ack_sack(uint32_t ack, uint32_t tsecr, const uint32_t (*blk)[2], unsigned n)
{
	static uint32_t tsval = 2; /* the SYN's was 1 */
	uint8_t f[128], o[40] = {1, 1, 8, 10};
	size_t olen = 12;

	for (int i = 0; i < 4; i++) {
		o[4 + i] = (uint8_t)(tsval >> (24 - 8 * i));
		o[8 + i] = (uint8_t)(tsecr >> (24 - 8 * i));
	}
	tsval++;
	if (n) {
		o[olen++] = 1, o[olen++] = 1, o[olen++] = 5, o[olen++] = (uint8_t)(2 + 8 * n);
		for (unsigned b = 0; b < n; b++)
			for (int e = 0; e < 2; e++)
				for (int i = 0; i < 4; i++)
					o[olen++] = (uint8_t)(blk[b][e] >> (24 - 8 * i));
	}
	raw_send(f, tcp_frame(f, R.snd_nxt, ack, TH_ACK, o, olen, NULL, 0));
}

/* The same with one SACK block, [@p left, @p right) (none when @p right
 * is 0). */
static void peer_ack_ts(uint32_t ack, uint32_t tsecr, uint32_t left, uint32_t right)
{
	const uint32_t blk[1][2] = {{left, right}};

	peer_ack_sack(ack, tsecr, blk, right ? 1 : 0);
}

#define RACK_RTT_MS   20 /* the peer answers everything this late */
#define RACK_EPISODES 10

/* The TSval of a segment from the stack (0: none). */
static uint32_t seg_tsval(const struct rx *r)
{
	int i = find_opt(r, 8);

	return i < 0 ? 0
		     : (uint32_t)r->opt[i + 2] << 24 | (uint32_t)r->opt[i + 3] << 16 |
			       (uint32_t)r->opt[i + 4] << 8 | r->opt[i + 5];
}

/* A connection whose handshake took RACK_RTT_MS: its RTT sample, so
 * RACK's window on a path not seen to reorder is 5 ms. Its descriptor;
 * the listener's in *@p lfd. */
static int rack_connection(int *lfd)
{
	struct rx r;

	raw_up(0);
	*lfd = listen_port(false);
	CU_ASSERT_FATAL(send_syn(&r, false, 2000));
	idle_ms(RACK_RTT_MS);
	return complete_handshake(*lfd);
}

/* Writes @p len bytes of @p data and takes the segments they leave in, in
 * order; the TSvals of the first and of the last in *@p ts_first and
 * *@p ts_last (either may be NULL). */
static void write_and_take(int fd, const uint8_t *data, uint32_t len, uint32_t *ts_first,
			   uint32_t *ts_last)
{
	uint32_t first = R.rcv_nxt, got = 0;
	struct rx r;

	CU_ASSERT_FATAL(skiff_send(fd, data, len, 0) == (ssize_t)len);
	while (got < len && recv_tcp(&r, 2000))
		if (r.paylen && r.seq == first + got) {
			if (!got && ts_first)
				*ts_first = seg_tsval(&r);
			if (ts_last)
				*ts_last = seg_tsval(&r);
			got += (uint32_t)r.paylen;
		}
	TK_ASSERT_EQ(got, len);
}

/* RACK's reordering timer runs at its deadline (RFC 8985 6.3), not at the
 * next 5 ms tick: the peer answers every segment RACK_RTT_MS late (so the
 * minimum RTT, and with it the reordering window of a path not seen to
 * reorder, min_rtt / 4, is known: 5 ms), and in each episode SACKs the
 * second of two segments, the first lost. The first is resent once the
 * window has passed since the SACK, no sooner (reordering shorter than
 * the window costs nothing), and within 2 ms of it. On the fast tick the
 * resend waited for the next tick: here 8.8-10 ms after the SACK in all
 * 10 episodes (they fall in step with the ticks), 5.0 ms with the fine
 * timer. At most 2 of the episodes may be late (the machine may be
 * busy). */
static void test_rack_timer_fires_at_deadline(void)
{
	uint8_t data[2 * 1448];
	long long sacked, took[RACK_EPISODES];
	int lfd, fd, late = 0, early = 0;
	struct rx r;

	fd = rack_connection(&lfd);
	memset(data, 'r', sizeof(data));
	for (int e = 0; e < RACK_EPISODES; e++) {
		uint32_t first = R.rcv_nxt, ts = 0;
		bool resent = false;

		write_and_take(fd, data, sizeof(data), &ts, NULL);
		idle_ms(RACK_RTT_MS);
		peer_ack_ts(first, ts, first + 1448, first + 2 * 1448);
		sacked = st_now_us();
		while (!resent && recv_tcp(&r, 1000))
			resent = r.paylen && r.seq == first;
		CU_ASSERT_FATAL(resent);
		took[e] = st_now_us() - sacked;
		idle_ms(RACK_RTT_MS);
		R.rcv_nxt = first + sizeof(data);
		peer_ack(R.rcv_nxt, 0);
		/* window: min_rtt / 4 = 5 ms; early by the gap between the two
		 * sends at most */
		early += took[e] < (RACK_RTT_MS / 4 - 1) * 1000;
		late += took[e] > (RACK_RTT_MS / 4 + 2) * 1000;
	}
	tk_note("resent %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld us after the SACK "
		"(window 5 ms): %d early, %d late",
		took[0], took[1], took[2], took[3], took[4], took[5], took[6], took[7], took[8],
		took[9], early, late);
	TK_ASSERT_EQ(early, 0);
	CU_ASSERT(late <= 2);
	idle_ms(RACK_RTT_MS);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* A tail loss probe more than two slow ticks off waits on the timer
 * wheel, not on the fast list (a visit every 5 ms), and still goes on
 * time: with a 20 ms RTT, two segments out and no ACK, the probe resends
 * the last one 2 SRTT = 40 ms after it left (RFC 8985 7.2), on the first
 * fast tick after that, long before the 200 ms RTO. */
static void test_probe_from_the_wheel_on_time(void)
{
	uint8_t data[2 * 1448];
	struct skiff_stats a, b;
	uint32_t first;
	long long sent, took = -1;
	int lfd, fd;
	struct rx r;

	fd = rack_connection(&lfd);
	memset(data, 'p', sizeof(data));
	skiff_get_stats(&a);
	first = R.rcv_nxt;
	write_and_take(fd, data, sizeof(data), NULL, NULL);
	sent = st_now_us();
	while (took < 0 && recv_tcp(&r, 1000))
		if (r.paylen && r.seq == first + 1448)
			took = st_now_us() - sent;
	skiff_get_stats(&b);
	tk_note("the probe came %lld us after the segments", took);
	CU_ASSERT(took >= 38000 && took < 60000);
	TK_ASSERT_EQ(b.tcp_tlp_sent - a.tcp_tlp_sent, 1);
	TK_ASSERT_EQ(b.tcp_timeouts - a.tcp_timeouts, 0);
	/* The wheel woke it, not the safety net (which finds a due probe
	 * timer on no list within a slow tick, and counts it). */
	TK_ASSERT_EQ(b.tcp_timer_missed_arms - a.tcp_timer_missed_arms, 0);
	R.rcv_nxt = first + sizeof(data);
	peer_ack(R.rcv_nxt, 0);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

static struct tcp_info tcp_info(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	CU_ASSERT(skiff_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0);
	return ti;
}

static uint32_t snd_cwnd(int fd)
{
	return tcp_info(fd).tcpi_snd_cwnd;
}

/* A recovery RACK began for a segment only reordered is undone when the
 * ACK that fills the hole echoes the original's timestamp, not the
 * resend's (RFC 3522's detection: the original arrived, late): the
 * congestion window comes back at once, without waiting for a D-SACK of
 * the resend. Two episodes: in the first the resend fills the hole (its
 * echo): the loss was real and the window stays cut; in the second the
 * original does. Before, the second episode's late original was counted
 * (tcp_late_originals) but the window stayed cut. */
static void test_late_original_undoes_recovery(void)
{
	uint8_t data[2 * 1448];
	struct skiff_stats a, b;
	int lfd, fd;
	struct rx r;

	fd = rack_connection(&lfd);
	memset(data, 'u', sizeof(data));
	for (int late = 0; late < 2; late++) {
		uint32_t first = R.rcv_nxt, ts_orig = 0, ts_resend = 0, cwnd0, cwnd1;
		bool resent = false;

		write_and_take(fd, data, sizeof(data), &ts_orig, NULL);
		CU_ASSERT_FATAL(ts_orig != 0);
		cwnd0 = snd_cwnd(fd);
		skiff_get_stats(&a);
		idle_ms(RACK_RTT_MS);
		peer_ack_ts(first, ts_orig, first + 1448, first + 2 * 1448);
		while (!resent && recv_tcp(&r, 1000))
			if (r.paylen && r.seq == first) {
				resent = true;
				ts_resend = seg_tsval(&r);
			}
		CU_ASSERT_FATAL(resent);
		CU_ASSERT(ts_resend > ts_orig); /* one tick or more above */
		cwnd1 = snd_cwnd(fd);
		idle_ms(RACK_RTT_MS);
		R.rcv_nxt = first + sizeof(data);
		peer_ack_ts(R.rcv_nxt, late ? ts_orig : ts_resend, 0, 0);
		idle_ms(1);
		skiff_get_stats(&b);
		tk_note("episode %d (%s fills the hole): cwnd %u before, %u in recovery, %u after; "
			"%llu recoveries, %llu late originals, %llu undos",
			late, late ? "the original" : "the resend", cwnd0, cwnd1, snd_cwnd(fd),
			(unsigned long long)(b.tcp_fast_recoveries - a.tcp_fast_recoveries),
			(unsigned long long)(b.tcp_late_originals - a.tcp_late_originals),
			(unsigned long long)(b.tcp_spurious_undos - a.tcp_spurious_undos));
		TK_ASSERT_EQ(b.tcp_fast_recoveries - a.tcp_fast_recoveries, 1);
		CU_ASSERT(cwnd1 < cwnd0);
		TK_ASSERT_EQ(b.tcp_late_originals - a.tcp_late_originals, (unsigned)late);
		TK_ASSERT_EQ(b.tcp_spurious_undos - a.tcp_spurious_undos, (unsigned)late);
		CU_ASSERT(late ? snd_cwnd(fd) >= cwnd0 : snd_cwnd(fd) < cwnd0);
	}
	idle_ms(RACK_RTT_MS);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* Data the peer SACKs grows the window as the ACK of it would, outside a
 * recovery (Linux counts what is delivered, ACKed or SACKed): the peer
 * SACKs the last three of four segments, within RACK's reordering window
 * of the first, then ACKs all four. Slow start grows by the three at the
 * SACK and by the one segment left at the ACK: four in all, as an ACK of
 * the four alone gives (first episode, no SACK). Before, the SACK grew
 * nothing, and data SACKed above a hole that RACK then called lost was
 * never counted: its ACK came inside the recovery. */
static void test_sacked_data_grows_window(void)
{
	uint8_t data[4 * 1448];
	int lfd, fd;

	fd = rack_connection(&lfd);
	memset(data, 'g', sizeof(data));
	for (int sack = 0; sack < 2; sack++) {
		uint32_t first = R.rcv_nxt, ts = 0, cwnd0, cwnd1, cwnd2;

		write_and_take(fd, data, sizeof(data), NULL, &ts);
		cwnd0 = snd_cwnd(fd);
		idle_ms(RACK_RTT_MS);
		if (sack) {
			peer_ack_ts(first, ts, first + 1448, first + sizeof(data));
			idle_ms(1);
		}
		cwnd1 = snd_cwnd(fd);
		peer_ack_ts(first + sizeof(data), ts, 0, 0);
		idle_ms(1);
		cwnd2 = snd_cwnd(fd);
		R.rcv_nxt = first + sizeof(data);
		tk_note("%s: cwnd %u, %u after the SACK, %u after the ACK",
			sack ? "SACK then ACK" : "ACK alone", cwnd0, cwnd1, cwnd2);
		if (sack)
			CU_ASSERT(cwnd1 >= cwnd0 + 3);
		TK_ASSERT_EQ(cwnd2, cwnd0 + 4);
	}
	idle_ms(RACK_RTT_MS);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* RFC 6675's NextSeg(), with RACK deciding what is lost (RFC 8985 in
 * place of the DupThresh rule of IsLost(), as Linux has it): six segments
 * out, the peer SACKs the 2nd, 4th and 6th; once RACK's reordering window
 * has passed, the holes go again lowest first (rule 1: the 1st, 3rd, 5th
 * in that order), no SACKed segment is sent again, and nothing else is
 * sent before the holes. */
static void test_sack_holes_resent_lowest_first(void)
{
	uint8_t data[6 * 1448];
	uint32_t first, ts = 0, seen[8];
	unsigned n = 0;
	int lfd, fd;
	struct rx r;

	fd = rack_connection(&lfd);
	first = R.rcv_nxt;
	memset(data, 'h', sizeof(data));
	write_and_take(fd, data, sizeof(data), NULL, &ts);
	idle_ms(RACK_RTT_MS);
	{
		const uint32_t blk[3][2] = {{first + 5 * 1448, first + 6 * 1448},
					    {first + 3 * 1448, first + 4 * 1448},
					    {first + 1 * 1448, first + 2 * 1448}};

		peer_ack_sack(first, ts, blk, 3);
	}
	for (long long end = st_now_ms() + 200; n < 3 && st_now_ms() < end;)
		if (recv_tcp(&r, 50) && r.paylen)
			seen[n++] = (r.seq - first) / 1448;
	tk_note("sent after the SACK: %u segments, %u %u %u", n, n > 0 ? seen[0] : 99,
		n > 1 ? seen[1] : 99, n > 2 ? seen[2] : 99);
	TK_ASSERT_EQ(n, 3);
	if (n == 3) {
		TK_ASSERT_EQ(seen[0], 0);
		TK_ASSERT_EQ(seen[1], 2);
		TK_ASSERT_EQ(seen[2], 4);
	}
	/* Nothing more: the SACKed ones stay. TCP_INFO counts the three
	 * resends, and says the connection is in a recovery. */
	CU_ASSERT(!(recv_tcp(&r, 30) && r.paylen));
	TK_ASSERT_EQ(tcp_info(fd).tcpi_total_retrans, 3);
	TK_ASSERT_EQ(tcp_info(fd).tcpi_ca_state, 3);
	R.rcv_nxt = first + sizeof(data);
	peer_ack_ts(R.rcv_nxt, ts, 0, 0);
	idle_ms(RACK_RTT_MS);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* The RTO a connection starts with, in ms (TCP_INFO). */
static unsigned rto_ms(int fd)
{
	return tcp_info(fd).tcpi_rto / 1000;
}

/* The stack connects to the peer: its descriptor once the SYN came (in
 * @p r), with R.port the stack's ephemeral port, ours to answer. */
static int connect_from_stack(struct rx *r)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(PEER_PORT)};
	int fd;

	inet_pton(AF_INET, PEER_IP, &peer.sin_addr);
	fd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_connect(fd, (struct sockaddr *)&peer, sizeof(peer)) == -1 &&
		  errno == EINPROGRESS);
	CU_ASSERT_FATAL(recv_tcp(r, 2000) && r->flags == TH_SYN);
	R.port = (uint16_t)(r->th[0] << 8 | r->th[1]);
	return fd;
}
/* The handshake's round trip is the first RTT sample, both ways (RFC 6298
 * 2.2; Linux takes it too): the RTO comes down from the initial 1 s to its
 * 200 ms floor before any data. Before, a connection that had sent no data
 * kept 1 s (an active open) or lwIP's 750 ms (a passive one): a lost first
 * request, answer or FIN waited that long. */
static void test_handshake_rtt_sets_rto(void)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(PEER_PORT)};
	uint8_t f[256], o[40];
	struct rx r;
	int lfd, fd, cfd;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	tk_note("accepted: RTO %u ms", rto_ms(fd));
	TK_ASSERT_EQ(rto_ms(fd), 200);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);

	/* The stack connects; the peer answers its SYN at once. */
	cfd = connect_from_stack(&r);
	R.snd_nxt = 5000;
	R.rcv_nxt = r.seq + 1;
	raw_send(f, tcp_frame(f, R.snd_nxt++, R.rcv_nxt, TH_SYN | TH_ACK, o, syn_options(o, false),
			      NULL, 0));
	for (long long end = st_now_ms() + 2000; st_now_ms() < end;) {
		socklen_t len = sizeof(peer);

		skiff_poll(1);
		if (skiff_getpeername(cfd, (struct sockaddr *)&peer, &len) == 0)
			break;
	}
	tk_note("connected: RTO %u ms", rto_ms(cfd));
	TK_ASSERT_EQ(rto_ms(cfd), 200);
	peer_reset(cfd);
}

/* ---- errors ------------------------------------------------------------------------------ */

/* A gathered write of small buffers leaves as one segment, with TCP_NODELAY
 * as without: memcached answers a get with sendmsg() of a header, the value
 * and a trailer. The push meant for long sends (after each 64 KiB queued)
 * once came after every buffer: three segments and three TX kicks per
 * answer, and memcached's gets under skiff-run at half the rate. */
static void test_gathered_write_one_segment(void)
{
	char a[10], b[20], c[30];
	struct iovec iov[3] = {{a, sizeof(a)}, {b, sizeof(b)}, {c, sizeof(c)}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
	int lfd, fd, one = 1, segs = 0;
	uint32_t first, got = 0;
	struct rx r;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	CU_ASSERT(skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	memset(c, 'c', sizeof(c));
	first = R.rcv_nxt;
	CU_ASSERT_FATAL(skiff_sendmsg(fd, &m, 0) == 60);
	while (got < 60 && recv_tcp(&r, 2000))
		if (r.paylen && r.seq == first + got) {
			got += (uint32_t)r.paylen;
			segs++;
		}
	TK_ASSERT_EQ(got, 60);
	TK_ASSERT_EQ(segs, 1);
	R.rcv_nxt = first + got;
	peer_ack(R.rcv_nxt, 0);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* A connect()'s SYN answered with a bare ACK (a half-open peer): lwIP
 * sends an RST and the SYN again at once, with its retransmission timer
 * restarted; the SYN after that comes a whole RTO (1 s before any RTT
 * sample) later, not at the first SYN's deadline. */
static void test_syn_resent_on_bare_ack_gets_its_rto(void)
{
	uint8_t f[128];
	long long t0, t1 = -1, t2 = -1;
	uint32_t iss;
	struct rx r;
	int fd;

	raw_up(0);
	fd = connect_from_stack(&r);
	t0 = st_now_ms();
	iss = r.seq;
	idle_ms(300);
	raw_send(f, tcp_frame(f, 5000, iss + 1000, TH_ACK, NULL, 0, NULL, 0));
	while ((t1 < 0 || t2 < 0) && recv_tcp(&r, 3000)) {
		if (r.flags != TH_SYN)
			continue; /* the RST */
		if (t1 < 0)
			t1 = st_now_ms();
		else
			t2 = st_now_ms();
	}
	tk_note("SYNs at 0, %lld and %lld ms", t1 - t0, t2 - t0);
	CU_ASSERT(t1 >= 0 && t1 - t0 < 600);
	CU_ASSERT(t2 >= 0 && t2 - t1 >= 850);
	R.port = 0;
	CU_ASSERT(skiff_close(fd) == 0);
}

/* A connection past its first data: that data opens the window beyond
 * what the SYN-ACK could say (no scaling there), and the update goes at
 * once, whatever the ACK hold. Its descriptor, nothing unread or unACKed. */
static int opened_connection(int *lfd)
{
	char buf[8];
	struct rx r;
	int fd;

	raw_up(0);
	*lfd = listen_port(false);
	fd = handshake(*lfd, false);
	send_data(NULL, 0, "hello");
	CU_ASSERT_FATAL(recv_tcp(&r, 1000));
	TK_ASSERT_EQ(r.ack, R.snd_nxt);
	CU_ASSERT(skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 5);
	idle_ms(5);
	return fd;
}

/* More small segments to a socket whose application does not read: the
 * held ACK still goes 40 ms after the first, as a delayed ACK's deadline
 * stays put. Each new segment used to take the ACK off the hold list and
 * the next round put it back with a new 40 ms, so a peer sending every 15
 * ms got no ACK until more than a segment's worth was owed, and its tail
 * loss probes and RTO fired meanwhile. */
static void test_ack_hold_counts_from_first(void)
{
	long long t0, t_ack = -1;
	int lfd, fd, sent = 0;
	uint32_t acked;
	struct rx r;

	fd = opened_connection(&lfd);
	acked = R.snd_nxt;
	t0 = st_now_ms();
	while (t_ack < 0 && st_now_ms() - t0 < 400) {
		send_data(NULL, 0, "x");
		sent++;
		while (t_ack < 0 && recv_tcp(&r, 15))
			if (!r.paylen && r.ack != acked)
				t_ack = st_now_ms() - t0;
	}
	tk_note("the first ACK came %lld ms after the first of %d segments", t_ack, sent);
	CU_ASSERT(t_ack >= 35 && t_ack < 100);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* The peer keeps talking (window updates every 5 ms, no ACK of the data)
 * while a segment waits for its ACK: every segment in arms the
 * connection's timers, and the retransmission timeout must still come,
 * counted from when it started. Timers that worked the deadline out afresh
 * from each arm, counting lwIP's rtime only at visits, moved it on at
 * every arm and never resent. */
static void test_rto_fires_while_peer_talks(void)
{
	struct skiff_stats a, b;
	uint32_t first;
	long long t0, t_rto = -1;
	uint16_t less = 0;
	struct rx r;
	int lfd, fd;

	fd = sampled_connection(&lfd);
	first = R.rcv_nxt;
	skiff_get_stats(&a);
	CU_ASSERT_FATAL(skiff_send(fd, "world", 5, 0) == 5);
	CU_ASSERT_FATAL(recv_tcp(&r, 2000) && r.paylen == 5 && r.seq == first);
	t0 = st_now_ms();
	while (t_rto < 0 && st_now_ms() - t0 < 3000) {
		peer_ack(first, (uint16_t)(++less % 200 + 1));
		idle_ms(5);
		skiff_get_stats(&b);
		if (b.tcp_timeouts > a.tcp_timeouts)
			t_rto = st_now_ms() - t0;
	}
	tk_note("the timeout came after %lld ms (%llu resends in all)", t_rto,
		(unsigned long long)(b.tcp_retransmits - a.tcp_retransmits));
	CU_ASSERT(t_rto >= 150 && t_rto < 3000);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* Sends @p req, which the application reads @p ms later and answers: no
 * segment before the answer, which carries the ACK. */
static void answered_after(int fd, const char *req, int ms)
{
	char buf[64];
	int pure = 0;
	struct rx r;

	send_data(NULL, 0, req);
	while (recv_tcp(&r, ms))
		pure++;
	TK_ASSERT_EQ(pure, 0);
	CU_ASSERT_FATAL(skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == (ssize_t)strlen(req));
	CU_ASSERT_FATAL(skiff_send(fd, "200\r\n", 5, 0) == 5);
	CU_ASSERT_FATAL(recv_tcp(&r, 1000));
	TK_ASSERT_EQ(r.paylen, 5);
	TK_ASSERT_EQ(r.ack, R.snd_nxt);
	R.rcv_nxt += 5;
	peer_ack(R.rcv_nxt, 0);
}

/* A small request the application has not read yet: its ACK waits, since
 * the answer will carry it, until the application reads (the answer then
 * carries it) or for the 40 ms hold (then a pure ACK). skiff used to send
 * the ACK after two poll rounds, and an application whose epoll_wait()
 * reports a few hundred of thousands of ready sockets paid a pure ACK for
 * nearly every request. */
static void test_ack_held_until_read(void)
{
	struct skiff_stats a, b;
	long long t0, t_ack = -1;
	int lfd, fd;
	char buf[64];
	struct rx r;

	fd = opened_connection(&lfd);
	skiff_get_stats(&a);

	/* Unread: nothing for 20 ms (a hundred-odd poll rounds), then the
	 * ACK alone, once the hold is over. */
	t0 = st_now_ms();
	send_data(NULL, 0, "GET one\r\n");
	CU_ASSERT(!recv_tcp(&r, 20));
	while (t_ack < 0 && recv_tcp(&r, 1000))
		if (r.ack == R.snd_nxt && !r.paylen)
			t_ack = st_now_ms() - t0;
	if (t_ack < 35)
		tk_note("the held ACK came after %lld ms", t_ack);
	CU_ASSERT(t_ack >= 35 && t_ack < 1000);
	skiff_get_stats(&b);
	TK_ASSERT_EQ(b.tcp_acks_held - a.tcp_acks_held, 1);
	TK_ASSERT_EQ(b.tcp_acks_hold_expired - a.tcp_acks_hold_expired, 1);
	CU_ASSERT(skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 9);

	/* Read 5 ms after it came and answered: the answer carries the ACK,
	 * no pure ACK before it. */
	answered_after(fd, "GET two\r\n", 5);
	skiff_get_stats(&a);
	TK_ASSERT_EQ(a.tcp_acks_hold_expired - b.tcp_acks_hold_expired, 0);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* Sends @p req and waits for skiff's pure ACK of it: the milliseconds it
 * took, or -1 (none within 1 s, or data came instead). */
static long long held_ack_ms(const char *req)
{
	long long t0 = st_now_ms();
	struct rx r;

	send_data(NULL, 0, req);
	while (recv_tcp(&r, 1000)) {
		if (r.paylen)
			return -1;
		if (r.ack == R.snd_nxt)
			return st_now_ms() - t0;
	}
	return -1;
}

/* A hold that runs out before the application reads doubles for that
 * connection (40, 80, 160 ms), much as Linux doubles its delayed-ACK
 * timeout when that timer fires first; an answer within a quarter of the
 * hold halves it. With one 40 ms hold, a server that took 60 ms to come
 * round 10,000 sockets paid a pure ACK per request. */
static void test_ack_hold_doubles(void)
{
	struct skiff_stats a, b;
	long long ms;
	int lfd, fd;
	char buf[64];

	fd = opened_connection(&lfd);
	skiff_get_stats(&a);

	ms = held_ack_ms("GET one\r\n"); /* 40 ms, then 80 */
	tk_note("first hold: %lld ms", ms);
	CU_ASSERT(ms >= 35 && ms < 75);
	CU_ASSERT_FATAL(skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 9);
	ms = held_ack_ms("GET two\r\n"); /* 80 ms, then 160 */
	tk_note("second hold: %lld ms", ms);
	CU_ASSERT(ms >= 75 && ms < 155);
	CU_ASSERT_FATAL(skiff_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 9);
	skiff_get_stats(&b);
	TK_ASSERT_EQ(b.tcp_acks_hold_expired - a.tcp_acks_hold_expired, 2);
	TK_ASSERT_EQ(b.tcp_acks_hold_longer - a.tcp_acks_hold_longer, 2);

	/* Answered 50 ms after it came, inside the 160 ms hold but past a
	 * quarter of it: the answer carries the ACK, and the hold stays. */
	answered_after(fd, "GET three\r\n", 50);
	/* Answered 10 ms after it came: 80 ms from now on. */
	answered_after(fd, "GET three\r\n", 10);
	ms = held_ack_ms("GET four\r\n");
	tk_note("hold after the answer: %lld ms", ms);
	CU_ASSERT(ms >= 75 && ms < 155);
	skiff_get_stats(&a);
	TK_ASSERT_EQ(a.tcp_acks_hold_expired - b.tcp_acks_hold_expired, 1);
	/* 160 again after that one. */
	TK_ASSERT_EQ(a.tcp_acks_hold_longer - b.tcp_acks_hold_longer, 1);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* The connection is reset while a blocking send() waits for room, after it
 * queued part of its bytes: that call returns the count, the next one
 * ECONNRESET, the one after EPIPE (Linux's order: the error stays pending
 * behind a partial send). The count used to take the error with it, and
 * the next call said only EPIPE. */
static void test_reset_during_send_reported_next(void)
{
	static uint8_t big[8 << 20];
	uint8_t f[128];
	ssize_t n;
	int lfd, fd;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	/* The RST waits on the stack's RX ring until the send polls, after
	 * it filled the send buffer. */
	raw_send(f, tcp_frame(f, R.snd_nxt, 0, TH_RST, NULL, 0, NULL, 0));
	n = skiff_send(fd, big, sizeof(big), 0);
	tk_note("send: %zd bytes", n);
	CU_ASSERT(n > 0 && n < (ssize_t)sizeof(big));
	n = skiff_send(fd, big, 1, 0);
	TK_ASSERT_EQ(n, -1);
	TK_ASSERT_EQ(errno, ECONNRESET);
	n = skiff_send(fd, big, 1, 0);
	TK_ASSERT_EQ(n, -1);
	TK_ASSERT_EQ(errno, EPIPE);
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* ---- routing ---------------------------------------------------------------------------- */

/* Off-link destinations go to the gateway's MAC, with their own address. */
static void test_ipv4_gateway_used(void)
{
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9)};
	uint8_t want[4];
	struct rx r;
	int fd;

	raw_up_gw(0, PEER_IP); /* the peer is the router */
	inet_pton(AF_INET, "192.0.2.1", &far.sin_addr);
	memcpy(want, &far.sin_addr, 4);
	fd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_connect(fd, (struct sockaddr *)&far, sizeof(far)) == -1 &&
		  errno == EINPROGRESS);
	CU_ASSERT_FATAL(recv_tcp(&r, 2000));
	CU_ASSERT(r.flags == TH_SYN);
	CU_ASSERT(memcmp(r.buf, peer_mac, 6) == 0); /* to the router */
	CU_ASSERT(memcmp(r.l3 + 16, want, 4) == 0); /* for the far host */
	CU_ASSERT(skiff_close(fd) == 0);
}

/* The stack's end of the wire stalled (a NIC that reads nothing), then
 * @p len bytes of @p data sent on @p fd: their frames wait on the TX ring. */
static void send_into_stall(int fd, const uint8_t *data, size_t len)
{
	umem_memlink_set_faults(skiff__memlink_wire(R.w), 0,
				&(struct umem_memlink_faults){.stall = true});
	CU_ASSERT_FATAL(skiff_send(fd, data, len, 0) == (ssize_t)len);
}

/* Runs the stack until the counter at @p off in struct skiff_stats
 * reaches @p want, 3 s at most; the counters then. */
static struct skiff_stats poll_until_count(size_t off, uint64_t want)
{
	long long end = st_now_ms() + 3000;
	struct skiff_stats st;
	uint64_t v;

	do {
		skiff_poll(1);
		skiff_get_stats(&st);
		memcpy(&v, (const uint8_t *)&st + off, sizeof(v));
	} while (v < want && st_now_ms() < end);
	return st;
}

/* A plain send's segment lies in the frame that goes on the TX ring, its
 * headers included (lwIP patch 0021), and a resend rewrites those headers
 * (ACK number, window, TSval, checksum). A resend while the first
 * transmission is still on the ring (a NIC that has not read it yet: the
 * wire is stalled) goes out of a copy, and the frame on the ring is left
 * as it was posted (DESIGN.md): once the wire runs again, the first
 * transmission arrives with its own TSval, the resend after it with a
 * later one, the same bytes in both. Written in place, the first would
 * carry the resend's TSval. */
static void test_resend_while_on_ring_copied(void)
{
	uint32_t first, ts[2] = {0, 0};
	struct skiff_stats st;
	uint8_t data[1000];
	struct rx r;
	int lfd, fd, k = 0;

	fd = sampled_connection(&lfd);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	first = R.rcv_nxt;
	send_into_stall(fd, data, sizeof(data));
	st = poll_until_count(offsetof(struct skiff_stats, tx_send_resend_copies), 1);
	/* A round may make two resends before the counter is read, each from
	 * a copy: a probe and the timeout due in the same round (the probe
	 * does not restart the retransmission timer; restarting it, as RFC
	 * 8985 7.3 says, slowed the loss run's drop1_reorder5 and was taken
	 * back: docs/benchmarks.md, 2026-12-07). */
	tk_note("%llu resends from a copy (probes %llu, timeouts %llu, resends %llu)",
		(unsigned long long)st.tx_send_resend_copies, (unsigned long long)st.tcp_tlp_sent,
		(unsigned long long)st.tcp_timeouts, (unsigned long long)st.tcp_retransmits);
	CU_ASSERT(st.tx_send_resend_copies >= 1);
	CU_ASSERT(st.tx_send_inplace >= 2); /* "hello" and this write */
	umem_memlink_set_faults(skiff__memlink_wire(R.w), 0, NULL);
	while (k < 2 && recv_tcp(&r, 2000))
		if (r.seq == first && r.paylen == sizeof(data)) {
			CU_ASSERT(memcmp(r.opt + r.optlen, data, sizeof(data)) == 0);
			ts[k++] = seg_tsval(&r);
		}
	TK_ASSERT_EQ(k, 2);
	tk_note("TSvals %u then %u", ts[0], ts[1]);
	CU_ASSERT((int32_t)(ts[1] - ts[0]) > 0);
	R.rcv_nxt = first + sizeof(data);
	peer_ack(R.rcv_nxt, 0);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* True when the TCP checksum of a segment from the stack verifies. */
static bool tcp_csum_ok(const struct rx *r)
{
	size_t tcp_len = 20 + r->optlen + r->paylen;
	uint8_t ph[4] = {0, 6, (uint8_t)(tcp_len >> 8), (uint8_t)tcp_len};
	uint32_t s = st_csum_add(0, r->l3 + 12, 8); /* the addresses */

	s = st_csum_add(s, ph, 4);
	s = st_csum_add(s, r->th, tcp_len);
	return st_csum_fold(s) == 0;
}

/* A bulk payload received and sent back as it lies (an echo:
 * skiff_zc_loan_to_buf()) goes out with the sum lwIP computed when it
 * verified the segment, less the headers' (csum_reused), instead of being
 * summed again; the bytes and the checksum on the wire are right. */
static void test_echoed_payload_keeps_its_sum(void)
{
	struct skiff_stats st0, st;
	struct skiff_zc_loan l;
	struct skiff_zc_buf b;
	uint32_t first, from;
	size_t bad = 0;
	struct rx r;
	int lfd, fd;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	skiff_get_stats(&st0);
	from = R.snd_nxt;
	send_stream(from, 1000);
	R.snd_nxt += 1000;
	TK_ASSERT_EQ(lend(fd, &l), 1);
	TK_ASSERT_EQ(l.len, 1000);
	CU_ASSERT_FATAL(skiff_zc_loan_to_buf(fd, &l, &b) == 0);
	first = R.rcv_nxt;
	CU_ASSERT_FATAL(skiff_zc_send(fd, &b, 1, 0) >= 0);
	while (recv_tcp(&r, 2000) && !r.paylen)
		;
	TK_ASSERT_EQ(r.paylen, 1000);
	TK_ASSERT_EQ(r.seq, first);
	for (size_t i = 0; i < r.paylen; i++)
		bad += r.opt[r.optlen + i] != seq_byte(from + (uint32_t)i);
	TK_ASSERT_EQ(bad, 0);
	CU_ASSERT(tcp_csum_ok(&r));
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.csum_reused - st0.csum_reused, 1);
	R.rcv_nxt = first + 1000;
	peer_ack(R.rcv_nxt, 0);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* A segment sent once and queued again while its frame is still on the
 * TX ring (the wire stalled: the timeouts requeue everything and the
 * window after them lets only the first segment go) takes a later
 * write's bytes (chained onto it by tcp_write()), that write's PSH and a
 * shutdown()'s FIN, all on a copy: written in place they would change a
 * frame the NIC may be reading (its checksum no longer its header's), and
 * the copy must carry the chained bytes too. Once the wire runs, every
 * segment that arrives verifies and carries the bytes sent at its place,
 * and the FIN comes after all of them. */
static void test_queued_resend_written_on_a_copy(void)
{
	struct skiff_stats st;
	uint8_t data[2000], more[300];
	uint32_t first;
	int lfd, fd, segs = 0, bad = 0, wrong = 0, fins = 0, fin_data = 0, one = 1;
	struct rx r;

	fd = sampled_connection(&lfd);
	/* Both segments leave at once (Nagle would hold the second back). */
	CU_ASSERT(skiff_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
	memset(data, 'f', sizeof(data));
	memset(more, 'g', sizeof(more));
	first = R.rcv_nxt;
	send_into_stall(fd, data, sizeof(data));
	/* Past the first timeout: its resend went out of a copy. */
	st = poll_until_count(offsetof(struct skiff_stats, tcp_timeouts), 1);
	CU_ASSERT_FATAL(st.tcp_timeouts >= 1);
	CU_ASSERT(skiff_send(fd, more, sizeof(more), 0) == (ssize_t)sizeof(more));
	CU_ASSERT(skiff_shutdown(fd, SHUT_WR) == 0);
	skiff_poll(0);
	umem_memlink_set_faults(skiff__memlink_wire(R.w), 0, NULL);
	/* The peer ACKs what arrives in order, so the rest follows. */
	while (recv_tcp(&r, 1000)) {
		segs++;
		bad += !tcp_csum_ok(&r);
		for (size_t i = 0; i < r.paylen; i++)
			wrong += r.opt[r.optlen + i] !=
				 (r.seq - first + i < sizeof(data) ? 'f' : 'g');
		tk_note("seq +%u, %zu bytes, flags %#x", r.seq - first, r.paylen, r.flags);
		if (r.flags & TH_FIN) {
			fins++;
			fin_data = (int)(r.seq + r.paylen - first);
		}
		if (r.seq == R.rcv_nxt && (r.paylen || (r.flags & TH_FIN))) {
			R.rcv_nxt += (uint32_t)r.paylen + !!(r.flags & TH_FIN);
			peer_ack(R.rcv_nxt, 0);
		}
		if (fins)
			break;
	}
	skiff_get_stats(&st);
	tk_note("%d segments after the stall, %d FIN, %llu resends copied off the ring", segs, fins,
		(unsigned long long)st.tx_send_resend_copies);
	TK_ASSERT_EQ(bad, 0);
	TK_ASSERT_EQ(wrong, 0);
	CU_ASSERT(fins >= 1);
	TK_ASSERT_EQ(fin_data, (int)(sizeof(data) + sizeof(more)));
	CU_ASSERT(st.tx_send_resend_copies >= 1);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

/* The stack closes first, so its side of the 4-tuple waits in TIME-WAIT;
 * the peer's next connection comes from the same port (a Linux client
 * may pick it again at once: its side closed passively), with a SYN above
 * the old connection's sequence. The listener answers with a SYN-ACK.
 * Before, TIME-WAIT answered: with an RST (this SYN, inside the old
 * window; seen here) or an ACK of the old connection (a SYN outside it,
 * whose peer's RST TIME-WAIT ignores), for its 120 s. */
static void test_syn_reopens_time_wait(void)
{
	struct skiff_stats st;
	uint8_t f[256], o[40];
	size_t olen;
	uint32_t fin;
	struct rx r;
	int lfd, fd;

	raw_up(0);
	lfd = listen_port(false);
	fd = handshake(lfd, false);
	CU_ASSERT(skiff_close(fd) == 0);
	while (recv_tcp(&r, 2000) && !(r.flags & TH_FIN))
		;
	CU_ASSERT_FATAL(r.flags & TH_FIN);
	fin = r.seq;
	/* The peer ACKs the FIN and sends its own: the stack's side is in
	 * TIME-WAIT once it ACKs that. */
	raw_send(f, tcp_frame(f, R.snd_nxt, fin + 1, TH_FIN | TH_ACK, NULL, 0, NULL, 0));
	R.snd_nxt++;
	while (recv_tcp(&r, 500) && r.ack != R.snd_nxt)
		;
	TK_ASSERT_EQ(r.ack, R.snd_nxt);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.tcp_time_wait, 1);
	olen = syn_options(o, false);
	raw_send(f, tcp_frame(f, R.snd_nxt + 100000, 0, TH_SYN, o, olen, NULL, 0));
	CU_ASSERT_FATAL(recv_tcp(&r, 2000));
	tk_note("answer to the new SYN: flags %#x, ack %u (the SYN's seq + 1: %u)", r.flags, r.ack,
		R.snd_nxt + 100001);
	TK_ASSERT_EQ(r.flags, TH_SYN | TH_ACK);
	TK_ASSERT_EQ(r.ack, R.snd_nxt + 100001);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.tcp_time_wait_reopened, 1);
	TK_ASSERT_EQ(st.tcp_time_wait, 0);
	/* The peer takes it: a connection again. */
	R.snd_nxt += 100001;
	R.rcv_nxt = r.seq + 1;
	fd = complete_handshake(lfd);
	peer_reset(fd);
	CU_ASSERT(skiff_close(lfd) == 0);
}

static const struct tk_case tests[] = {
	TK_TEST(test_ipv4_gateway_used),
	TK_TEST(test_mp_capable_syn_falls_back),
	TK_TEST(test_dss_parsed_into_extension),
	TK_TEST(test_dss_written_on_segments),
	TK_TEST(test_vlan_tagged_accepted_and_answered),
	TK_TEST(test_secpath_policy),
	TK_TEST(test_bad_tcp_checksum_counted),
	TK_TEST(test_ooseq_past_window_trimmed),
	TK_TEST(test_rto_backs_off_after_partial_ack),
	TK_TEST(test_full_queue_appends_at_tail),
	TK_TEST(test_corked_sends_wait),
	TK_TEST(test_handshake_rtt_sets_rto),
	TK_TEST(test_rack_timer_fires_at_deadline),
	TK_TEST(test_probe_from_the_wheel_on_time),
	TK_TEST(test_late_original_undoes_recovery),
	TK_TEST(test_sacked_data_grows_window),
	TK_TEST(test_sack_holes_resent_lowest_first),
	TK_TEST(test_gathered_write_one_segment),
	TK_TEST(test_reset_during_send_reported_next),
	TK_TEST(test_ack_held_until_read),
	TK_TEST(test_ack_hold_doubles),
	TK_TEST(test_rto_fires_while_peer_talks),
	TK_TEST(test_ack_hold_counts_from_first),
	TK_TEST(test_syn_resent_on_bare_ack_gets_its_rto),
	TK_TEST(test_resend_while_on_ring_copied),
	TK_TEST(test_echoed_payload_keeps_its_sum),
	TK_TEST(test_queued_resend_written_on_a_copy),
	TK_TEST(test_syn_reopens_time_wait),
	TK_TEST_END,
};

static const struct tk_suite suite = {"raw", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
