/* MPTCP's cryptography (RFC 8684 3.1, 3.2): a key's token and initial data
 * sequence number from SHA-256 of the key, and the HMAC-SHA256 of the
 * MP_JOIN handshake, computed by OpenSSL's libcrypto. test_unit's
 * test_mptcp_crypto checks them against FIPS 180-4's and the Linux
 * kernel's published vectors. */
#include <errno.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mptcp/conn.h"

int skiff__mptcp_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	/* libcrypto fails only when it cannot allocate its context. */
	if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != 32)
		return -ENOMEM;
	return 0;
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

int skiff__mptcp_key_hash(uint64_t key, uint32_t *token, uint64_t *idsn)
{
	uint8_t k[8], d[32];
	int err;

	put_be64(k, key);
	err = skiff__mptcp_sha256(k, sizeof(k), d);
	if (err)
		return err;
	/* The token: the most significant 32 bits; the IDSN: the least
	 * significant 64 (RFC 8684 3.1). */
	if (token)
		*token = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	if (idsn)
		*idsn = get_be64(d + 24);
	return 0;
}

int skiff__mptcp_hmac(uint64_t key1, uint64_t key2, const uint8_t *msg, size_t len,
		      uint8_t out[SKIFF_MPTCP_HMAC_LEN])
{
	uint8_t key[16];
	unsigned int n = 0;

	/* The key is Key-1 || Key-2 as they travel (RFC 8684 3.2). */
	put_be64(key, key1);
	put_be64(key + 8, key2);
	if (!HMAC(EVP_sha256(), key, sizeof(key), msg, len, out, &n) || n != SKIFF_MPTCP_HMAC_LEN)
		return -ENOMEM;
	return 0;
}
