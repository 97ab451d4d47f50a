/* MPTCP's cryptography (RFC 8684 3.1, 3.2): a key's token and initial data
 * sequence number from SHA-256 of the key, and the HMAC-SHA256 of the
 * MP_JOIN handshake. SHA-256 as FIPS 180-4 defines it and HMAC as RFC 2104
 * does, for the short inputs MPTCP hashes (a key, two keys, two nonces):
 * libskiff links no crypto library. tests/stack/test_mptcp_unit.c checks
 * both against FIPS 180-4's and the Linux kernel's published vectors. */
#include <string.h>

#include "mptcp/conn.h"

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len; /* bytes hashed */
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
			      K[i] + w[i];
		uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
	while (n) {
		size_t at = s->len % 64, take = 64 - at < n ? 64 - at : n;

		memcpy(s->buf + at, p, take);
		s->len += take;
		p += take;
		n -= take;
		if (s->len % 64 == 0)
			sha256_block(s, s->buf);
	}
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = {0x80};
	size_t at = s->len % 64, n = (at < 56 ? 56 : 120) - at;

	for (int i = 0; i < 8; i++)
		pad[n + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, n + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void skiff__mptcp_sha256(const void *p, size_t n, uint8_t out[32])
{
	struct sha256 s;

	sha256_init(&s);
	sha256_update(&s, p, n);
	sha256_final(&s, out);
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

void skiff__mptcp_key_hash(uint64_t key, uint32_t *token, uint64_t *idsn)
{
	uint8_t k[8], d[32];

	put_be64(k, key);
	skiff__mptcp_sha256(k, sizeof(k), d);
	/* The token: the most significant 32 bits; the IDSN: the least
	 * significant 64 (RFC 8684 3.1). */
	if (token)
		*token = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	if (idsn)
		*idsn = get_be64(d + 24);
}

void skiff__mptcp_hmac(uint64_t key1, uint64_t key2, const uint8_t *msg, size_t len,
		       uint8_t out[SKIFF_MPTCP_HMAC_LEN])
{
	uint8_t ipad[64], opad[64], inner[32];
	struct sha256 s;

	/* The key is Key-1 || Key-2 as they travel (RFC 8684 3.2): 16 bytes,
	 * shorter than the block, so zero-padded (RFC 2104). */
	memset(ipad, 0, sizeof(ipad));
	put_be64(ipad, key1);
	put_be64(ipad + 8, key2);
	for (int i = 0; i < 64; i++) {
		opad[i] = ipad[i] ^ 0x5c;
		ipad[i] ^= 0x36;
	}
	sha256_init(&s);
	sha256_update(&s, ipad, sizeof(ipad));
	sha256_update(&s, msg, len);
	sha256_final(&s, inner);
	sha256_init(&s);
	sha256_update(&s, opad, sizeof(opad));
	sha256_update(&s, inner, sizeof(inner));
	sha256_final(&s, out);
}
