/* The Internet checksum (RFC 1071) for lwIP (LWIP_CHKSUM, lwipopts.h).
 * Every payload byte is summed twice per hop (verified on receive, summed
 * by tcp_write() on send, unless it is sent on as it lies: below), a
 * fifth of a bulk transfer's instructions with lwIP's 16-bit loop. One's
 * complement addition gives the same 16-bit result at any word width once
 * the carries are folded back in (RFC 1071 section 2): short buffers
 * (headers, small payloads) are added 64 bits at a time with the carry
 * folded back in at each step; from 128 bytes, with AVX2, 32-bit words go
 * into 64-bit lanes, which cannot overflow below 16 GiB and so need no
 * carry handling in the loop. */
#include <stdint.h>
#include <string.h>

#include "frames.h"
#include "instance.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SKIFF_CHKSUM_AVX2 1
#endif

/* One's complement addition of 64-bit words: the carry out goes back in
 * at once (add, adc). A non-zero sum never comes out as zero. */
static inline uint64_t add_c(uint64_t s, uint64_t x)
{
	s += x;
	return s + (s < x);
}

static inline uint16_t fold(uint64_t s)
{
	uint32_t hi = (uint32_t)(s >> 32), lo = (uint32_t)s + hi;
	uint16_t h16, l16;

	lo += lo < hi;
	h16 = (uint16_t)(lo >> 16);
	l16 = (uint16_t)((uint16_t)lo + h16);
	return (uint16_t)(l16 + (l16 < h16));
}

/* The words from @p p on, 32 bytes a step, then 8, then a 4-, 2- and
 * 1-byte tail (every step but the last even-sized, so each lands on the
 * 16-bit lanes a 16-bit loop would see; the last byte is the first of a
 * zero-padded 16-bit word), added to @p s. Each word costs an add and an
 * adc where 32-bit halves into 64-bit sums cost five instructions. */
static inline uint16_t sum_rest(const uint8_t *p, size_t n, uint64_t s)
{
	for (; n >= 32; p += 32, n -= 32) {
		uint64_t w0, w1, w2, w3;

		memcpy(&w0, p, 8); /* any alignment */
		memcpy(&w1, p + 8, 8);
		memcpy(&w2, p + 16, 8);
		memcpy(&w3, p + 24, 8);
		s = add_c(s, w0);
		s = add_c(s, w1);
		s = add_c(s, w2);
		s = add_c(s, w3);
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		s = add_c(s, w);
	}
	if (n & 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		s = add_c(s, w);
		p += 4;
	}
	if (n & 2) {
		uint16_t w;

		memcpy(&w, p, 2);
		s = add_c(s, w);
		p += 2;
	}
	if (n & 1) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		s = add_c(s, (uint64_t)*p << 8);
#else
		s = add_c(s, *p);
#endif
	}
	return fold(s);
}

#ifdef SKIFF_CHKSUM_AVX2
__attribute__((target("avx2"))) static uint16_t sum_avx2(const uint8_t *p, size_t n)
{
	const __m256i z = _mm256_setzero_si256();
	__m256i s0 = z, s1 = z;
	uint64_t l[4];

	/* Each 32-bit lane zero-extended into a 64-bit one: two sums, so
	 * that consecutive adds do not wait on each other. */
	for (; n >= 64; p += 64, n -= 64) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));

		s0 = _mm256_add_epi64(s0, _mm256_unpacklo_epi32(x, z));
		s1 = _mm256_add_epi64(s1, _mm256_unpackhi_epi32(x, z));
		s0 = _mm256_add_epi64(s0, _mm256_unpacklo_epi32(y, z));
		s1 = _mm256_add_epi64(s1, _mm256_unpackhi_epi32(y, z));
	}
	_mm256_storeu_si256((__m256i *)(void *)l, _mm256_add_epi64(s0, s1));
	return sum_rest(p, n, add_c(add_c(l[0], l[1]), add_c(l[2], l[3])));
}
#endif

#ifdef SKIFF_CHKSUM_AVX2
__attribute__((target("avx2"))) static uint16_t copy_sum_avx2(uint8_t *d, const uint8_t *p,
							      size_t n)
{
	const __m256i z = _mm256_setzero_si256();
	__m256i s0 = z, s1 = z;
	uint64_t l[4];

	for (; n >= 32; p += 32, d += 32, n -= 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);

		_mm256_storeu_si256((__m256i *)(void *)d, x);
		s0 = _mm256_add_epi64(s0, _mm256_unpacklo_epi32(x, z));
		s1 = _mm256_add_epi64(s1, _mm256_unpackhi_epi32(x, z));
	}
	memcpy(d, p, n);
	_mm256_storeu_si256((__m256i *)(void *)l, _mm256_add_epi64(s0, s1));
	return sum_rest(d, n, add_c(add_c(l[0], l[1]), add_c(l[2], l[3])));
}
#endif

static uint16_t sum_any(const uint8_t *p, size_t n)
{
#ifdef SKIFF_CHKSUM_AVX2
	if (n >= 128 && __builtin_cpu_supports("avx2"))
		return sum_avx2(p, n);
#endif
	return sum_rest(p, n, 0);
}

/* ---- the sum of a received payload, kept for sending it on -------------- */

/* An echo or a proxy sends a received payload on as it lies
 * (skiff_zc_loan_to_buf()), and tcp_write() sums it again: the sum lwIP
 * computed when it verified the segment, less the headers', is kept in
 * the frame (pkb_shinfo.csum_*) and serves instead (from
 * SKIFF_CSUM_KEEP_MIN bytes, frames.h). */

/* The last span of our UMEM summed here while lwIP took in a received
 * frame, as its verification of a TCP segment sums it (from the TCP
 * header on), and the sum of what would be its TCP header:
 * skiff__chksum_rx_payload() takes the payload's sum from these. The
 * header's is taken now, while its bytes are as they arrived: tcp_input()
 * turns some of its fields to host order in place after the check. */
static struct {
	const uint8_t *p;
	size_t n, hlen;
	uint16_t sum, hsum;
} last;

/* The shared info of the UMEM frame holding @p p, or NULL when @p p is
 * not inside our UMEM. */
static struct pkb_shinfo *frame_of(const uint8_t *p)
{
	const struct umem_geometry *g = &skiff__s.geo;

	if (!g->area || p < g->area || p >= g->area + g->size)
		return NULL;
	return (struct pkb_shinfo *)(void *)(g->area + umem_geo_frame(g, umem_geo_addr(g, p)));
}

/* Same contract as lwIP's lwip_standard_chksum(): the one's complement sum
 * of the 16-bit words from @p data on, in memory order, not inverted. */
uint16_t skiff__chksum(const void *data, int len)
{
	const uint8_t *p = data;
	size_t n = len > 0 ? (size_t)len : 0;
	struct pkb_shinfo *sh;
	uint16_t s;

	if (n < SKIFF_CSUM_KEEP_MIN || !(sh = frame_of(p)))
		return sum_any(p, n);
	if (sh->csum_len == n && (const uint8_t *)sh + sh->csum_off == p) {
		skiff__s.stats.csum_reused++;
		return sh->csum;
	}
	s = sum_any(p, n);
	if (!skiff__s.in_rx)
		return s;
	last.p = p;
	last.n = n;
	last.sum = s;
	last.hlen = (size_t)(p[12] >> 4) * 4; /* TCP's data offset, if TCP it is */
	if (last.hlen >= 20 && last.hlen < n)
		last.hsum = sum_any(p, last.hlen);
	else
		last.p = NULL;
	return s;
}

void skiff__chksum_rx_payload(const void *hdr, uint32_t hlen, const void *payload, uint32_t len)
{
	const uint8_t *h = hdr;
	struct pkb_shinfo *sh;
	uint32_t s;

	/* The header's length is a multiple of 4, so the payload's words are
	 * the segment's words past it. */
	if (last.p != h || last.hlen != hlen || last.n != (size_t)hlen + len ||
	    h + hlen != payload || len < SKIFF_CSUM_KEEP_MIN || !(sh = frame_of(payload)))
		return;
	last.p = NULL;
	/* One's complement subtraction: add the complement. */
	s = (uint32_t)last.sum + (uint16_t)~last.hsum;
	s = (s & 0xffffu) + (s >> 16);
	sh->csum = (uint16_t)s;
	sh->csum_off = (uint16_t)((const uint8_t *)payload - (const uint8_t *)sh);
	sh->csum_len = (uint16_t)len;
}

/* LWIP_CHKSUM_COPY: copies @p len bytes and returns their sum (as
 * skiff__chksum() of @p dst), in one pass over the data where the copying
 * send path (tcp_write() with TCP_WRITE_FLAG_COPY) made two. */
uint16_t skiff__chksum_copy(void *dst, const void *src, uint16_t len)
{
#ifdef SKIFF_CHKSUM_AVX2
	if (len >= 128 && __builtin_cpu_supports("avx2"))
		return copy_sum_avx2(dst, src, len);
#endif
	memcpy(dst, src, len);
	return sum_any(dst, len);
}
