/* Writes the fuzzers' seed corpora from the codecs themselves: every DSS
 * flag combination, with and without checksum, encoded for real; fuzz_rx
 * inputs in its record format (fuzz_wire.h) for each protocol and TCP state
 * it should start from, and fuzz_mptcp's on its MPTCP connections; XDP
 * metadata records valid and not.
 *   fuzz_seeds OUTDIR */
#include <arpa/inet.h>
#include <errno.h>
#include <skiff/mptcp_dss.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <skiff/xdp_meta.h>
#include "fuzz_wire.h"

static int write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static int dss_seeds(const char *out)
{
	char dir[400], name[32];

	snprintf(dir, sizeof(dir), "%s/dss", out);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	for (unsigned flags = 0; flags <= PKB_DSS_FLAGS; flags++) {
		for (unsigned csum = 0; csum < 2; csum++) {
			struct pkb_ext_mptcp m = {
				.flags = (uint8_t)flags,
				.data_ack = 0x0102030405060708ull,
				.data_seq = 0x1112131415161718ull,
				.subflow_seq = 0x21222324,
				.data_len = 1460,
				.csum = 0xbeef,
			};
			uint8_t buf[1 + PKB_MPTCP_DSS_MAXLEN];
			int len;

			buf[0] = (uint8_t)csum;
			len = pkb_mptcp_dss_encode(&m, csum, buf + 1, sizeof(buf) - 1);
			if (len < 0)
				return -1;
			snprintf(name, sizeof(name), "f%02x-c%u", flags, csum);
			if (write_seed(dir, name, buf, (size_t)len + 1))
				return -1;
		}
	}
	return 0;
}

static int mkdir_in(char *dir, size_t cap, const char *out, const char *name)
{
	snprintf(dir, cap, "%s/%s", out, name);
	return mkdir(dir, 0755) && errno != EEXIST ? -1 : 0;
}

/* ---- fuzz_rx ---------------------------------------------------------------- */

/* An input being written: records appended one by one. */
struct in {
	uint8_t b[8192];
	size_t n;
};

static void rec(struct in *in, unsigned op, const void *body, size_t len)
{
	in->n = fw_record(in->b, in->n, op, body, len);
}

/* A TCP record for a connection: @p seq and @p ack are offsets from where
 * the connection is (fuzz_wire.h). */
static void tcp(struct in *in, unsigned op, uint32_t seq, uint32_t ack, uint8_t flags,
		const uint8_t *opt, size_t optlen, const char *data)
{
	uint8_t seg[FW_BODY_MAX];
	size_t n = fw_tcp(seg, 0, 0, seq, ack, flags, opt, optlen, data, data ? strlen(data) : 0);

	rec(in, op, seg, n);
}

static void app(struct in *in, unsigned op, uint8_t action, unsigned conn, uint16_t arg)
{
	uint8_t b[3] = {(uint8_t)(action | conn << 4), (uint8_t)(arg >> 8), (uint8_t)arg};

	/* ZC_SEND and UDP_SEND take one byte. */
	if (action == FW_APP_ZC_SEND || action == FW_APP_UDP_SEND)
		b[1] = (uint8_t)arg;
	rec(in, FW_APP | op, b, sizeof(b));
}

static void clock_ms(struct in *in, uint16_t ms)
{
	uint8_t b[2] = {(uint8_t)ms, (uint8_t)(ms >> 8)};

	rec(in, FW_CLOCK, b, 2);
}

/* A whole frame as a raw record: what fw_frame makes of (op, body). */
static void raw(struct in *in, unsigned op, const uint8_t *body, size_t len)
{
	uint8_t f[FW_FRAME_MAX];

	rec(in, FW_RAW, f, fw_frame(f, op, body, len, NULL));
}

static void meta_rec(uint8_t *m, uint32_t spi0, uint8_t n_sa, uint8_t version, uint32_t magic)
{
	struct umem_xdp_meta x = {
		.spi = {htonl(spi0), htonl(FW_SPI1), htonl(FW_SPI0), htonl(FW_SPI1)},
		.n_sa = n_sa,
		.version = version,
		.magic = magic,
	};

	memcpy(m, &x, sizeof(x));
}

static int put(const char *dir, const char *name, struct in *in)
{
	int e = write_seed(dir, name, in->b, in->n);

	in->n = 0;
	return e;
}

static int rx_seeds(const char *out)
{
	static struct in in;
	uint8_t o[40], seg[256], b[256];
	size_t n;
	char dir[400];
	int e = 0;

	if (mkdir_in(dir, sizeof(dir), out, "rx"))
		return -1;

	/* A SYN from a port of its own (raw), and a stray ACK for it. */
	n = fw_tcp(seg, FW_PORT_RAW, FW_PORT_LISTEN, 7, 0, FW_TH_SYN, o, fw_syn_options(o), NULL,
		   0);
	raw(&in, FW_TCP4 | FW_F_ASIS, seg, n);
	n = fw_tcp(seg, FW_PORT_RAW, FW_PORT_LISTEN, 8, 12345, FW_TH_ACK, NULL, 0, NULL, 0);
	raw(&in, FW_TCP4 | FW_F_ASIS, seg, n);
	e |= put(dir, "syn-raw", &in);

	/* To a closed port: a RST back. */
	n = fw_tcp(seg, FW_PORT_RAW, 81, 7, 0, FW_TH_SYN, NULL, 0, NULL, 0);
	rec(&in, FW_TCP4 | FW_F_ASIS, seg, n);
	e |= put(dir, "syn-closed", &in);

	/* An ARP request for the stack. */
	memset(b, 0, 60);
	memset(b, 0xff, 6);
	memcpy(b + 6, fw_peer_mac, 6);
	fw_put16(b + 12, 0x0806);
	fw_put16(b + 14, 1);
	fw_put16(b + 16, 0x0800);
	b[18] = 6;
	b[19] = 4;
	b[21] = 1;
	memcpy(b + 22, fw_peer_mac, 6);
	memcpy(b + 28, fw_peer_ip4, 4);
	memcpy(b + 38, fw_stack_ip4, 4);
	rec(&in, FW_RAW, b, 60);
	e |= put(dir, "arp-request", &in);

	/* The same request tagged with a VLAN the stack does not have. */
	memmove(b + 16, b + 12, 48);
	fw_put16(b + 12, 0x8100);
	fw_put16(b + 14, 5);
	rec(&in, FW_RAW, b, 64);
	e |= put(dir, "arp-vlan", &in);

	/* Data on the accepted connection, read by the application. */
	tcp(&in, FW_TCP4, 0, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "hello");
	app(&in, FW_F_PUMP, FW_APP_RECV, FW_C_ACCEPTED4, 0);
	e |= put(dir, "data", &in);

	/* Out of order, then the hole filled. */
	tcp(&in, FW_TCP4, 5, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "world");
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "hello");
	app(&in, FW_F_PUMP, FW_APP_ZC_RECV, FW_C_ACCEPTED4, 0);
	e |= put(dir, "data-ooseq", &in);

	/* The stack sends; the peer ACKs part of it with a SACK block past a
	 * hole; time passes (retransmission); everything is ACKed. */
	app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_ACCEPTED4, 3999);
	{
		uint8_t sack[12] = {1, 1, 5, 10};

		fw_put32(sack + 4, (uint32_t)-1460);
		fw_put32(sack + 8, 0);
		tcp(&in, FW_TCP4 | FW_F_PUMP, 0, (uint32_t)-2920, FW_TH_ACK, sack, sizeof(sack),
		    NULL);
		tcp(&in, FW_TCP4 | FW_F_PUMP, 0, (uint32_t)-2920, FW_TH_ACK, sack, sizeof(sack),
		    NULL);
		tcp(&in, FW_TCP4 | FW_F_PUMP, 0, (uint32_t)-2920, FW_TH_ACK, sack, sizeof(sack),
		    NULL);
	}
	clock_ms(&in, 3500);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK, NULL, 0, NULL);
	e |= put(dir, "send-sack", &in);

	/* The peer closes, then the application (CLOSE_WAIT, LAST_ACK). */
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_FIN, NULL, 0, NULL);
	app(&in, FW_F_PUMP, FW_APP_CLOSE, FW_C_ACCEPTED4, 0);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 1, 0, FW_TH_ACK, NULL, 0, NULL);
	e |= put(dir, "fin-passive", &in);

	/* The application closes first (FIN_WAIT, TIME_WAIT). */
	app(&in, FW_F_PUMP, FW_APP_SHUT_WR, FW_C_ACCEPTED4, 0);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK, NULL, 0, NULL);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_FIN, NULL, 0, NULL);
	clock_ms(&in, 1000);
	e |= put(dir, "fin-active", &in);

	tcp(&in, FW_TCP4, 0, 0, FW_TH_RST, NULL, 0, NULL);
	e |= put(dir, "rst", &in);

	/* Zero window, data queued, persist timer, window opens. */
	{
		uint8_t s0[20];

		fw_tcp(s0, 0, 0, 0, 0, FW_TH_ACK, NULL, 0, NULL, 0);
		fw_put16(s0 + 14, 0);
		rec(&in, FW_TCP4 | FW_F_PUMP, s0, sizeof(s0));
		app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_ACCEPTED4, 999);
		clock_ms(&in, 6000);
		tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK, NULL, 0, NULL);
	}
	e |= put(dir, "zero-window", &in);

	/* A zero-window probe that carries the whole queue, ACKed (regression:
	 * lwIP's persist timer ticking over nothing, stack/socket.c). A
	 * window update needs a newer sequence number: one past. */
	{
		uint8_t s0[20];

		fw_tcp(s0, 0, 0, 1, 0, FW_TH_ACK, NULL, 0, NULL, 0);
		fw_put16(s0 + 14, 0);
		rec(&in, FW_TCP4 | FW_F_PUMP, s0, sizeof(s0));
		app(&in, FW_F_PUMP, FW_APP_ZC_SEND, FW_C_ACCEPTED4, 0);
		clock_ms(&in, 2000);
		fw_put32(s0 + 4, 0);
		rec(&in, FW_TCP4 | FW_F_PUMP, s0, sizeof(s0));
		clock_ms(&in, 500);
	}
	e |= put(dir, "persist-probe-acked", &in);

	/* Zero-copy send, ACKed. */
	app(&in, FW_F_PUMP, FW_APP_ZC_SEND, FW_C_ACCEPTED4, 100);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK, NULL, 0, NULL);
	e |= put(dir, "zc-send", &in);

	/* A zero-copy send behind data still queued (regression: lwIP's
	 * oversize bookkeeping, stack/zcsock.c). */
	app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_ACCEPTED4, 7839);
	app(&in, FW_F_PUMP, FW_APP_ZC_SEND, FW_C_ACCEPTED4, 0);
	e |= put(dir, "zc-after-send", &in);

	/* MPTCP: a mapping on our segments, a DSS option on the peer's. */
	{
		struct pkb_ext_mptcp m = {
			.flags = PKB_DSS_DATA_ACK | PKB_DSS_MAP,
			.data_ack = 1,
			.data_seq = 1,
			.subflow_seq = 1,
			.data_len = 5,
		};
		uint8_t dss[24] = {1, 1};
		int l = pkb_mptcp_dss_encode(&m, false, dss + 2, sizeof(dss) - 2);

		app(&in, 0, FW_APP_MPTCP, FW_C_ACCEPTED4, PKB_DSS_MAP << 8);
		app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_ACCEPTED4, 4);
		if (l > 0)
			tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, dss,
			    (size_t)(l + 2 + 3) & ~3u, "mptcp");
	}
	e |= put(dir, "mptcp", &in);

	/* The connection the stack opened: data both ways. */
	tcp(&in, FW_TCP4 | FW_F_CONN1, 0, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "client");
	app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_OPENED4, 99);
	tcp(&in, FW_TCP4 | FW_F_CONN1 | FW_F_PUMP, 6, 0, FW_TH_ACK, NULL, 0, NULL);
	e |= put(dir, "client", &in);

	/* IPv6. */
	tcp(&in, FW_TCP6, 0, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "hello6");
	app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_ACCEPTED6, 9);
	tcp(&in, FW_TCP6 | FW_F_PUMP, 6, 0, FW_TH_ACK, NULL, 0, NULL);
	e |= put(dir, "tcp6", &in);

	/* UDP to the stack's socket, and from it. */
	memset(b, 0, 8);
	fw_put16(b, 9999);
	memcpy(b + 8, "datagram", 8);
	rec(&in, FW_UDP4, b, 16);
	rec(&in, FW_UDP6, b, 16);
	app(&in, FW_F_PUMP, FW_APP_UDP_SEND, 0, 32);
	app(&in, FW_F_PUMP, FW_APP_UDP_SEND, 1, 32);
	e |= put(dir, "udp", &in);

	/* To a closed UDP port: port unreachable back. */
	fw_put16(b + 2, 9);
	fw_put16(b + 4, 16);
	b[6] = b[7] = 0;
	rec(&in, FW_UDP4 | FW_F_ASIS, b, 16);
	e |= put(dir, "udp-closed", &in);

	/* ICMP echo, both families. */
	memset(b, 0, 8);
	b[0] = 8;
	fw_put16(b + 4, 0x1234);
	fw_put16(b + 6, 1);
	memcpy(b + 8, "ping", 4);
	rec(&in, FW_ICMP4, b, 12);
	b[0] = 128;
	rec(&in, FW_ICMP6, b, 12);
	e |= put(dir, "icmp-echo", &in);

	/* ICMP errors about a segment of the accepted connection. */
	memset(b, 0, 8);
	b[0] = 3;
	b[1] = 4; /* fragmentation needed */
	fw_put16(b + 6, 576);
	b[8] = 0x45;
	fw_put16(b + 10, 40);
	b[16] = 64;
	b[17] = 6;
	memcpy(b + 20, fw_stack_ip4, 4);
	memcpy(b + 24, fw_peer_ip4, 4);
	fw_put16(b + 28, FW_PORT_LISTEN);
	fw_put16(b + 30, FW_PORT_ACCEPT);
	rec(&in, FW_ICMP4, b, 36);
	e |= put(dir, "icmp-unreach", &in);

	/* An IPv4 datagram in two fragments (UDP without a checksum), and one
	 * with an IP option. */
	{
		uint8_t ip[48] = {0x45, 0, 0, 0, 0xbe, 0xef, 0x20, 0, 64, 17};

		fw_put16(ip + 20, 9999);
		fw_put16(ip + 22, FW_PORT_UDP);
		fw_put16(ip + 24, 8 + 24);
		memset(ip + 28, 'f', 20);
		rec(&in, FW_IP4, ip, 48);
		ip[6] = 0;
		ip[7] = 3; /* offset 24: the rest */
		memset(ip + 20, 'g', 8);
		rec(&in, FW_IP4, ip, 28);
		e |= put(dir, "ip4-frag", &in);

		memset(ip, 0, sizeof(ip));
		ip[0] = 0x46;
		ip[8] = 64;
		ip[9] = 1;
		ip[20] = 0x94; /* router alert */
		ip[21] = 4;
		ip[24] = 8; /* echo request */
		fw_put16(ip + 26, fw_csum(ip + 24, 8));
		rec(&in, FW_IP4, ip, 32);
		e |= put(dir, "ip4-options", &in);
	}

	/* An IPv6 echo request in a fragment header, and a hop-by-hop header. */
	{
		uint8_t ip[80] = {0x60}, *icmp = ip + 48;

		ip[6] = 44;
		ip[7] = 64;
		ip[40] = 58; /* fragment: next header, offset 0, last */
		fw_put32(ip + 44, 0xcafe);
		icmp[0] = 128;
		memcpy(icmp + 8, "fragment", 8);
		fw_put16(icmp + 2, fw_l4_csum(true, 58, icmp, 16));
		rec(&in, FW_IP6, ip, 64);
		e |= put(dir, "ip6-frag", &in);

		memset(ip, 0, sizeof(ip));
		ip[0] = 0x60;
		ip[7] = 64;
		ip[40] = 58; /* hop-by-hop: PadN */
		ip[42] = 1;
		ip[43] = 4;
		icmp[0] = 128;
		memcpy(icmp + 8, "hopbyhop", 8);
		fw_put16(icmp + 2, fw_l4_csum(true, 58, icmp, 16));
		rec(&in, FW_IP6, ip, 64);
		e |= put(dir, "ip6-hbh", &in);
	}

	/* Neighbor discovery: a solicitation for the stack, a router
	 * advertisement with a prefix. */
	memset(b, 0, 64);
	b[0] = 135;
	memcpy(b + 8, fw_stack_ip6, 16);
	b[24] = 1;
	b[25] = 1;
	memcpy(b + 26, fw_peer_mac, 6);
	rec(&in, FW_ICMP6, b, 32);
	memset(b, 0, 64);
	b[0] = 134;
	b[4] = 64;
	fw_put16(b + 6, 1800);
	b[16] = 3; /* prefix information */
	b[17] = 4;
	b[18] = 64;
	b[19] = 0xc0;
	fw_put32(b + 20, 3600);
	fw_put32(b + 24, 1800);
	b[32] = 0xfd;
	b[33] = 0x0a;
	rec(&in, FW_ICMP6, b, 48);
	e |= put(dir, "nd", &in);

	/* A secpath from XDP metadata: the listener that requires one
	 * accepts; an unknown SA is dropped. */
	meta_rec(b, FW_SPI0, 1, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC);
	rec(&in, FW_META, b, sizeof(struct umem_xdp_meta));
	n = fw_tcp(seg, FW_PORT_RAW, FW_PORT_SECURE, 7, 0, FW_TH_SYN, o, fw_syn_options(o), NULL,
		   0);
	rec(&in, FW_TCP4 | FW_F_ASIS | FW_F_PUMP, seg, n);
	e |= put(dir, "meta-secpath", &in);

	meta_rec(b, 0x01020304, 1, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC);
	rec(&in, FW_META, b, sizeof(struct umem_xdp_meta));
	tcp(&in, FW_TCP4, 0, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "dropped");
	e |= put(dir, "meta-unknown-sa", &in);

	/* A bad checksum. */
	tcp(&in, FW_TCP4 | FW_F_BADSUM, 0, 0, FW_TH_ACK | FW_TH_PSH, NULL, 0, "corrupt");
	e |= put(dir, "bad-checksum", &in);
	return e;
}

/* ---- fuzz_xdp_meta ------------------------------------------------------------ */

static int meta_seeds(const char *out)
{
	static const struct {
		const char *name;
		uint8_t place; /* byte 0 of the input */
		uint32_t spi0;
		uint8_t n_sa, version;
		uint32_t magic;
	} s[] = {
		{"one-sa", 0, FW_SPI0, 1, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
		{"four-sa", 0, FW_SPI1, 4, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
		{"unknown-sa", 0, 0x01020304, 1, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
		{"too-many", 0, FW_SPI0, 5, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
		{"none", 0, FW_SPI0, 0, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
		{"version", 0, FW_SPI0, 1, 2, UMEM_XDP_META_MAGIC},
		{"no-magic", 0, FW_SPI0, 1, UMEM_XDP_META_VERSION, 0},
		{"no-room", 0x80 | 16, FW_SPI0, 1, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
		{"just-room", 0x80 | 32, FW_SPI0, 1, UMEM_XDP_META_VERSION, UMEM_XDP_META_MAGIC},
	};
	uint8_t buf[1 + sizeof(struct umem_xdp_meta) + 64];
	char dir[400];
	int e = 0;

	if (mkdir_in(dir, sizeof(dir), out, "xdp_meta"))
		return -1;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		buf[0] = s[i].place;
		meta_rec(buf + 1, s[i].spi0, s[i].n_sa, s[i].version, s[i].magic);
		/* The packet: an Ethernet header. */
		memcpy(buf + 33, fw_stack_mac, 6);
		memcpy(buf + 39, fw_peer_mac, 6);
		fw_put16(buf + 45, 0x0800);
		memset(buf + 47, 0, sizeof(buf) - 47);
		e |= write_seed(dir, s[i].name, buf, sizeof(buf));
	}
	/* A short record: only the magic, the rest as a wiped slot. */
	memcpy(buf, (uint8_t[]){0}, 1);
	{
		uint32_t magic = UMEM_XDP_META_MAGIC;

		memcpy(buf + 1, &magic, 4);
		e |= write_seed(dir, "short", buf, 5);
	}
	return e;
}

/* ---- fuzz_mptcp ------------------------------------------------------------- */

/* Two NOPs and a DSS with a 64-bit DATA_ACK and (@p map) a 64-bit mapping
 * of @p dlen bytes, every field 0: where the connection is (fuzz_wire.h).
 * Returns its length (28, or 16 without the mapping). */
static size_t dss_opt(uint8_t *o, bool map, uint8_t extra_flags, uint16_t dlen)
{
	uint8_t *d = o + 2;

	memset(o, 0, 28);
	o[0] = o[1] = 1;
	d[0] = PKB_MPTCP_OPT_KIND;
	d[1] = map ? 26 : 12;
	d[2] = PKB_MPTCP_SUBTYPE_DSS << 4;
	d[3] = (uint8_t)(0x03 | (map ? 0x0c : 0) | extra_flags);
	if (map)
		fw_put16(d + 24, dlen);
	return map ? 28 : 16;
}

static int mptcp_seeds(const char *out)
{
	static struct in in;
	uint8_t o[40], seg[256];
	size_t n;
	char dir[400];
	int e = 0;

	if (mkdir_in(dir, sizeof(dir), out, "mptcp"))
		return -1;

	/* Data under its mapping, read; the stack answers with a DATA_ACK. */
	tcp(&in, FW_TCP4, 0, 0, FW_TH_ACK | FW_TH_PSH, o, dss_opt(o, true, 0, 5), "hello");
	app(&in, FW_F_PUMP, FW_APP_RECV, FW_C_ACCEPTED4, 0);
	e |= put(dir, "dss-data", &in);

	/* The same over IPv6, then a DATA_FIN with the last bytes and FIN. */
	tcp(&in, FW_TCP6, 0, 0, FW_TH_ACK | FW_TH_PSH, o, dss_opt(o, true, 0, 5), "hello");
	tcp(&in, FW_TCP6 | FW_F_PUMP, 5, 0, FW_TH_ACK | FW_TH_FIN, o, dss_opt(o, true, 0x10, 4),
	    "bye");
	app(&in, FW_F_PUMP, FW_APP_RECV, FW_C_ACCEPTED6, 0);
	e |= put(dir, "dss-data-fin", &in);

	/* Out of order under its mapping, then the hole filled. */
	n = dss_opt(o, true, 0, 5);
	fw_put32(o + 2 + 16, 5); /* the DSN's low half: 5 on */
	fw_put32(o + 2 + 20, 5); /* the subflow sequence number: 5 on */
	tcp(&in, FW_TCP4, 5, 0, FW_TH_ACK | FW_TH_PSH, o, n, "world");
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, dss_opt(o, true, 0, 5),
	    "hello");
	app(&in, FW_F_PUMP, FW_APP_RECV, FW_C_ACCEPTED4, 0);
	e |= put(dir, "dss-ooseq", &in);

	/* An infinite mapping (data-level length 0). */
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, dss_opt(o, true, 0, 0),
	    "hello");
	e |= put(dir, "dss-infinite", &in);

	/* An unknown subtype beside the DSS. */
	n = dss_opt(o, true, 0, 5);
	memcpy(o + n, (uint8_t[]){30, 4, 0xe0, 0}, 4);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, n + 4, "hello");
	e |= put(dir, "unknown-subtype", &in);

	/* MP_CAPABLE with the first data (22 bytes: both keys, data-level length). */
	memset(o, 0, sizeof(o));
	o[0] = o[1] = 1;
	memcpy(o + 2, (uint8_t[]){30, 22, 0x01, 0x01}, 4);
	fw_put16(o + 2 + 20, 5);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, 24, "hello");
	e |= put(dir, "mpc-data", &in);

	/* DSS checksums (the stack's own connection asked for them): a
	 * mapping of 10 bytes over two segments, its bytes held until both
	 * are in; its checksum (0) is wrong, so they are dropped and the
	 * stack sends MP_FAIL. Then the peer's infinite mapping. */
	memset(o, 0, sizeof(o));
	o[0] = PKB_MPTCP_OPT_KIND;
	o[1] = 28;
	o[2] = PKB_MPTCP_SUBTYPE_DSS << 4;
	o[3] = 0x0f; /* 64-bit DATA_ACK and DSN, a mapping */
	fw_put16(o + 24, 10);
	tcp(&in, FW_TCP4 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, 28, "hello");
	/* The fields are offsets from where the connection is (fuzz_wire.h),
	 * 5 bytes on once the stack has ACKed "hello": the same mapping is 5
	 * back. */
	memset(o + 12, 0xff, 8);
	o[19] = 0xfb;
	fw_put32(o + 20, 0xfffffffbu);
	tcp(&in, FW_TCP4 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, 28, "world");
	memset(o + 12, 0, 12);
	fw_put16(o + 24, 0);
	tcp(&in, FW_TCP4 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, 28, "plain");
	app(&in, FW_F_PUMP, FW_APP_RECV, FW_C_OPENED4, 0);
	e |= put(dir, "dss-csum", &in);

	/* An MP_JOIN SYN to the MPTCP listener: reset (no token is known). */
	memcpy(o, (uint8_t[]){30, 12, 0x10, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 12);
	n = fw_tcp(seg, FW_PORT_RAW, FW_PORT_LISTEN, 7, 0, FW_TH_SYN, o, 12, NULL, 0);
	rec(&in, FW_TCP4 | FW_F_ASIS | FW_F_PUMP, seg, n);
	e |= put(dir, "join-syn", &in);

	/* A join of the accepted IPv4 connection (TCP6 with FW_F_CONN1 in
	 * fuzz_mptcp: the harness joins with the right HMACs): 5 bytes on it
	 * mapped 5 ahead of the data-level pointer, then the 5 due on the
	 * first subflow; both read in order; the join's FIN. */
	n = dss_opt(o, true, 0, 5);
	fw_put32(o + 2 + 16, 5); /* the DSN's low half: 5 on */
	tcp(&in, FW_TCP6 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, n, "world");
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o, dss_opt(o, true, 0, 5),
	    "hello");
	app(&in, FW_F_PUMP, FW_APP_RECV, FW_C_ACCEPTED4, 0);
	tcp(&in, FW_TCP6 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_FIN, o,
	    dss_opt(o, false, 0, 0), NULL);
	e |= put(dir, "join-data", &in);

	/* The stack sends on both connections; the peer's DATA_ACKs. */
	app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_ACCEPTED4, 2999);
	tcp(&in, FW_TCP4 | FW_F_PUMP, 0, 0, FW_TH_ACK, o, dss_opt(o, false, 0, 0), NULL);
	app(&in, FW_F_PUMP, FW_APP_SEND, FW_C_OPENED4, 999);
	tcp(&in, FW_TCP4 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK, o, dss_opt(o, false, 0, 0),
	    NULL);
	tcp(&in, FW_TCP4 | FW_F_CONN1 | FW_F_PUMP, 0, 0, FW_TH_ACK | FW_TH_PSH, o,
	    dss_opt(o, true, 0, 5), "hello");
	app(&in, FW_F_PUMP, FW_APP_SHUT_WR, FW_C_OPENED4, 0);
	clock_ms(&in, 500);
	e |= put(dir, "send-data-ack", &in);
	return e;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	return dss_seeds(argv[1]) || rx_seeds(argv[1]) || mptcp_seeds(argv[1]) ||
			       meta_seeds(argv[1])
		       ? 1
		       : 0;
}
