/* The Internet checksum (RFC 1071) for lwIP (LWIP_CHKSUM, lwipopts.h).
 * Every payload byte is summed twice per hop (verified on receive, summed
 * by tcp_write() on send), a fifth of a bulk transfer's instructions with
 * lwIP's 16-bit loop. One's complement addition gives the same 16-bit
 * result at any word width once the carries are folded back in (RFC 1071
 * section 2), so this adds 32-bit words into 64-bit sums, which cannot
 * overflow below 16 GiB and so need no carry handling in the loop; with
 * AVX2, 32 bytes per step. */
#include <stdint.h>
#include <string.h>

#include "instance.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SKIFF_CHKSUM_AVX2 1
#endif

static inline uint16_t fold(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)s;
}

/* What the vector loop leaves: 4-byte words, then the tail as the first
 * bytes of a zero-padded word (on either byte order its 16-bit lanes are
 * the ones a 16-bit loop would see). */
static inline uint16_t sum_rest(const uint8_t *p, size_t n, uint64_t a, uint64_t b)
{
	for (; n >= 16; p += 16, n -= 16) {
		uint64_t x, y;

		memcpy(&x, p, 8); /* any alignment */
		memcpy(&y, p + 8, 8);
		a += (uint32_t)x;
		b += x >> 32;
		a += (uint32_t)y;
		b += y >> 32;
	}
	for (; n >= 4; p += 4, n -= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		a += w;
	}
	if (n) {
		uint32_t w = 0;

		memcpy(&w, p, n);
		b += w;
	}
	return fold(a + b);
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
	return sum_rest(p, n, l[0] + l[1], l[2] + l[3]);
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
	return sum_rest(d, n, l[0] + l[1], l[2] + l[3]);
}
#endif

/* Same contract as lwIP's lwip_standard_chksum(): the one's complement sum
 * of the 16-bit words from @p data on, in memory order, not inverted. */
uint16_t skiff__chksum(const void *data, int len)
{
	const uint8_t *p = data;
	size_t n = len > 0 ? (size_t)len : 0;

#ifdef SKIFF_CHKSUM_AVX2
	if (n >= 128 && __builtin_cpu_supports("avx2"))
		return sum_avx2(p, n);
#endif
	return sum_rest(p, n, 0, 0);
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
	return skiff__chksum(dst, len);
}
