/**
 * @file
 * SHA-256 (FIPS 180-4) for tests that verify transfers end to end. Small
 * and dependency-free; checked against the standard's test vectors in
 * tests/stack/test_unit.c.
 */
#ifndef SKIFF_TEST_SHA256_H
#define SKIFF_TEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t fill;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[32]);
/** One call: the digest of @p len bytes at @p data. */
void sha256(const void *data, size_t len, uint8_t out[32]);
/** Lower-case hex of a digest into @p hex (65 bytes, terminated). */
void sha256_hex(const uint8_t d[32], char hex[65]);

#endif
