/* Frames for fuzz_rx's records (fuzz_wire.h). */
#include "fuzz_wire.h"

#include <stdbool.h>
#include <string.h>

const uint8_t fw_stack_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x10};
const uint8_t fw_peer_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
const uint8_t fw_stack_ip4[4] = {10, 9, 0, 1};
const uint8_t fw_peer_ip4[4] = {10, 9, 0, 2};
const uint8_t fw_stack_ip6[16] = {0xfd, 0x09, [15] = 1};
const uint8_t fw_peer_ip6[16] = {0xfd, 0x09, [15] = 2};

static uint32_t sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Internet checksum of an L4 message with the pseudo header of @p ip
 * (IPv4 when @p v6 is false). */
static uint16_t l4_sum(const uint8_t *ip, bool v6, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint32_t s;

	if (v6)
		s = sum(0, ip + 8, 32);
	else
		s = sum(0, ip + 12, 8);
	s += proto + (uint32_t)len + (uint32_t)(len >> 16);
	return fold(sum(s, l4, len));
}

static size_t eth(uint8_t *f, uint16_t type)
{
	memcpy(f, fw_stack_mac, 6);
	memcpy(f + 6, fw_peer_mac, 6);
	fw_put16(f + 12, type);
	return 14;
}

static void ip4_hdr(uint8_t *ip, uint8_t proto, size_t l4len)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	fw_put16(ip + 2, (uint16_t)(20 + l4len));
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, fw_peer_ip4, 4);
	memcpy(ip + 16, fw_stack_ip4, 4);
	fw_put16(ip + 10, fold(sum(0, ip, 20)));
}

static void ip6_hdr(uint8_t *ip, uint8_t nh, size_t l4len)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	fw_put16(ip + 4, (uint16_t)l4len);
	ip[6] = nh;
	ip[7] = 255; /* what ND requires; harmless elsewhere */
	memcpy(ip + 8, fw_peer_ip6, 16);
	memcpy(ip + 24, fw_stack_ip6, 16);
}

static void add_be(uint8_t *p, unsigned n, uint64_t base)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	v += base;
	for (unsigned i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/* A DSS option's fields as offsets from @p ref (fuzz_wire.h), as far as
 * its flags say they are there and its length holds them. */
static void rebase_dss(uint8_t *o, unsigned len, const struct fw_tcp_ref *ref)
{
	unsigned at = 4, n;

	if (len < 4 || (o[2] >> 4) != 2)
		return;
	if (o[3] & 0x01) { /* A: DATA_ACK, 8 bytes if a */
		n = o[3] & 0x02 ? 8 : 4;
		if (at + n <= len)
			add_be(o + at, n, ref->dack_base);
		at += n;
	}
	if (o[3] & 0x04) { /* M: DSN (8 bytes if m), subflow sequence */
		n = o[3] & 0x08 ? 8 : 4;
		if (at + n <= len)
			add_be(o + at, n, ref->dsn_base);
		at += n;
		if (at + 4 <= len)
			add_be(o + at, 4, ref->ssn_base);
	}
}

/* Rebases the edges of SACK options on @p base (they are offsets from it),
 * and on an MPTCP connection the fields of DSS options. */
static void rebase_opts(uint8_t *th, size_t hlen, uint32_t base, const struct fw_tcp_ref *ref)
{
	for (size_t i = 20; i < hlen;) {
		uint8_t k = th[i], l;

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hlen || (l = th[i + 1]) < 2 || i + l > hlen)
			break;
		if (k == 5)
			for (size_t e = i + 2; e + 4 <= i + l; e += 4)
				fw_put32(th + e, base + fw_get32(th + e));
		if (k == 30 && ref->mptcp)
			rebase_dss(th + i, l, ref);
		i += l;
	}
}

/* TCP fix-ups and checksum on the segment at @p th (in its frame). */
static void tcp_fix(uint8_t *ip, bool v6, uint8_t *th, size_t len, unsigned op,
		    const struct fw_tcp_ref *ref)
{
	if (!(op & FW_F_ASIS) && ref) {
		size_t hlen = (size_t)(th[12] >> 4) * 4;

		fw_put16(th, ref->peer_port);
		fw_put16(th + 2, ref->stack_port);
		fw_put32(th + 4, ref->seq_base + fw_get32(th + 4));
		fw_put32(th + 8, ref->ack_base + fw_get32(th + 8));
		rebase_opts(th, hlen < len ? hlen : len, ref->ack_base, ref);
	}
	if (!(op & FW_F_BADSUM)) {
		th[16] = th[17] = 0;
		fw_put16(th + 16, l4_sum(ip, v6, 6, th, len));
	}
}

static void udp_fix(uint8_t *ip, bool v6, uint8_t *uh, size_t len, unsigned op)
{
	if (!(op & FW_F_ASIS)) {
		fw_put16(uh + 2, FW_PORT_UDP);
		fw_put16(uh + 4, (uint16_t)len);
	}
	if (!(op & FW_F_BADSUM)) {
		uint16_t s;

		uh[6] = uh[7] = 0;
		s = l4_sum(ip, v6, 17, uh, len);
		fw_put16(uh + 6, s ? s : 0xffff);
	}
}

size_t fw_frame(uint8_t *f, unsigned op, const uint8_t *body, size_t len,
		const struct fw_tcp_ref *ref)
{
	/* Minimum header sizes: shorter bodies are zero-padded, so a
	 * truncated header still reaches the layer that parses it. */
	static const uint8_t min_len[FW__NKINDS] = {
		[FW_TCP4] = 20, [FW_TCP6] = 20, [FW_UDP4] = 8,
		[FW_UDP6] = 8,	[FW_ICMP4] = 4, [FW_ICMP6] = 4,
	};
	unsigned kind = fw_kind(op);
	bool v6 = kind == FW_IP6 || kind == FW_TCP6 || kind == FW_UDP6 || kind == FW_ICMP6;
	uint8_t *ip, *l4;
	size_t n;

	if (len > FW_BODY_MAX)
		len = FW_BODY_MAX;
	if (kind == FW_RAW) {
		memcpy(f, body, len);
		return len;
	}
	if (kind > FW_ICMP6)
		return 0;
	n = eth(f, v6 ? 0x86dd : 0x0800);
	ip = f + n;
	if (kind == FW_IP4 || kind == FW_IP6) {
		size_t hl = v6 ? 40 : len ? (size_t)(body[0] & 0xf) * 4 : 0;

		memcpy(ip, body, len);
		if (op & FW_F_ASIS || len < hl || hl < 20)
			return n + len;
		if (v6) {
			ip[0] = (uint8_t)(0x60 | (ip[0] & 0x0f));
			fw_put16(ip + 4, (uint16_t)(len - 40));
			memcpy(ip + 8, fw_peer_ip6, 16);
			memcpy(ip + 24, fw_stack_ip6, 16);
			return n + len;
		}
		fw_put16(ip + 2, (uint16_t)len);
		memcpy(ip + 12, fw_peer_ip4, 4);
		memcpy(ip + 16, fw_stack_ip4, 4);
		if (!(op & FW_F_BADSUM)) {
			ip[10] = ip[11] = 0;
			fw_put16(ip + 10, fold(sum(0, ip, hl)));
		}
		return n + len;
	}
	l4 = ip + (v6 ? 40 : 20);
	memcpy(l4, body, len);
	if (len < min_len[kind]) {
		memset(l4 + len, 0, min_len[kind] - len);
		len = min_len[kind];
	}
	switch (kind) {
	case FW_TCP4:
	case FW_TCP6:
		v6 ? ip6_hdr(ip, 6, len) : ip4_hdr(ip, 6, len);
		tcp_fix(ip, v6, l4, len, op, ref);
		break;
	case FW_UDP4:
	case FW_UDP6:
		v6 ? ip6_hdr(ip, 17, len) : ip4_hdr(ip, 17, len);
		udp_fix(ip, v6, l4, len, op);
		break;
	case FW_ICMP4:
		ip4_hdr(ip, 1, len);
		if (!(op & FW_F_BADSUM)) {
			l4[2] = l4[3] = 0;
			fw_put16(l4 + 2, fold(sum(0, l4, len)));
		}
		break;
	default: /* FW_ICMP6 */
		ip6_hdr(ip, 58, len);
		if (!(op & FW_F_BADSUM)) {
			l4[2] = l4[3] = 0;
			fw_put16(l4 + 2, l4_sum(ip, true, 58, l4, len));
		}
		break;
	}
	return n + (size_t)(l4 - ip) + len;
}

size_t fw_record(uint8_t *out, size_t pos, unsigned op, const void *body, size_t len)
{
	out[pos] = (uint8_t)op;
	fw_put16(out + pos + 1, (uint16_t)len);
	memcpy(out + pos + FW_REC_HDR, body, len);
	return pos + FW_REC_HDR + len;
}

size_t fw_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
	      const uint8_t *opt, size_t optlen, const void *data, size_t len)
{
	size_t hl = 20 + optlen;

	memset(b, 0, 20);
	fw_put16(b, sport);
	fw_put16(b + 2, dport);
	fw_put32(b + 4, seq);
	fw_put32(b + 8, ack);
	b[12] = (uint8_t)((hl / 4) << 4);
	b[13] = flags;
	fw_put16(b + 14, 65535);
	if (optlen)
		memcpy(b + 20, opt, optlen);
	if (len)
		memcpy(b + hl, data, len);
	return hl + len;
}

size_t fw_syn_options(uint8_t *o)
{
	static const uint8_t opts[] = {2, 4, 0x05, 0xb4, /* MSS 1460 */
				       1, 1, 4,	   2,	 /* SACK permitted */
				       1, 1, 8,	   10,	 0, 0, 0, 1, 0, 0, 0, 0, /* timestamps */
				       1, 3, 3,	   2}; /* window scale 2 */

	memcpy(o, opts, sizeof(opts));
	return sizeof(opts);
}

uint16_t fw_csum(const uint8_t *p, size_t len)
{
	return fold(sum(0, p, len));
}

uint16_t fw_l4_csum(bool v6, uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t ip[40];

	if (v6)
		ip6_hdr(ip, proto, len);
	else
		ip4_hdr(ip, proto, len);
	return l4_sum(ip, v6, proto, l4, len);
}
