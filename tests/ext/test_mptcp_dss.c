/* The MPTCP DSS option codec (RFC 8684 section 3.3): every flag combination
 * round-trips, the wire bytes are the RFC's, and malformed options are
 * refused without reading past them (each decode reads from a heap buffer
 * of exactly the bytes it may read, so ASan catches an over-read). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/mptcp_dss.h>

#include "testkit.h"

/* A heap copy of @len bytes: nothing readable past it under ASan. */
static int decode_exact(const uint8_t *bytes, size_t len, bool csum, struct pkb_ext_mptcp *out)
{
	uint8_t *buf = malloc(len ? len : 1);
	int r;

	CU_ASSERT_FATAL(buf != NULL);
	memcpy(buf, bytes, len);
	r = pkb_mptcp_dss_decode(buf, len, csum, out);
	free(buf);
	return r;
}

static struct pkb_ext_mptcp sample(uint8_t flags)
{
	return (struct pkb_ext_mptcp){
		.data_ack = 0x1122334455667788ull,
		.data_seq = 0x99aabbccddeeff01ull,
		.subflow_seq = 0x0badf00d,
		.data_len = 0x1234,
		.csum = 0xbeef,
		.flags = flags,
	};
}

static void test_lengths(void)
{
	TK_ASSERT_EQ(pkb_mptcp_dss_len(0, false), 4);
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_DATA_ACK, false), 8);
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_DATA_ACK | PKB_DSS_ACK64, false), 12);
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_MAP, false), 14);
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_MAP, true), 16);
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_MAP | PKB_DSS_DSN64, true), 20);
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_FLAGS, true), PKB_MPTCP_DSS_MAXLEN);
	/* a and m mean nothing without A and M; F adds no field. */
	TK_ASSERT_EQ(pkb_mptcp_dss_len(PKB_DSS_ACK64 | PKB_DSS_DSN64 | PKB_DSS_DATA_FIN, true), 4);
}

static void test_roundtrip_every_flag_combination(void)
{
	for (unsigned csum = 0; csum < 2; csum++) {
		for (unsigned f = 0; f < 32; f++) {
			struct pkb_ext_mptcp in = sample((uint8_t)f), out;
			uint8_t buf[64];
			unsigned want = pkb_mptcp_dss_len((uint8_t)f, csum);
			int n;

			memset(buf, 0xcc, sizeof(buf));
			n = pkb_mptcp_dss_encode(&in, csum, buf, sizeof(buf));
			TK_ASSERT_EQ(n, want);
			/* Nothing written past the option. */
			TK_ASSERT_EQ(buf[want], 0xcc);
			TK_ASSERT_EQ(buf[0], 30);
			TK_ASSERT_EQ(buf[1], want);
			TK_ASSERT_EQ(buf[2], 0x20);
			TK_ASSERT_EQ(buf[3], f);
			memset(&out, 0x5a, sizeof(out));
			TK_ASSERT_EQ(decode_exact(buf, (size_t)n, csum, &out), n);

			TK_ASSERT_EQ(out.flags, f);
			if (f & PKB_DSS_DATA_ACK)
				TK_ASSERT_EQ(out.data_ack, (f & PKB_DSS_ACK64)
								   ? in.data_ack
								   : (uint32_t)in.data_ack);
			else
				TK_ASSERT_EQ(out.data_ack, 0);
			if (f & PKB_DSS_MAP) {
				TK_ASSERT_EQ(out.data_seq, (f & PKB_DSS_DSN64)
								   ? in.data_seq
								   : (uint32_t)in.data_seq);
				TK_ASSERT_EQ(out.subflow_seq, in.subflow_seq);
				TK_ASSERT_EQ(out.data_len, in.data_len);
				TK_ASSERT_EQ(out.has_csum, csum);
				TK_ASSERT_EQ(out.csum, csum ? in.csum : 0);
			} else {
				TK_ASSERT_EQ(out.data_seq, 0);
				TK_ASSERT_EQ(out.subflow_seq, 0);
				TK_ASSERT_EQ(out.data_len, 0);
				CU_ASSERT_FALSE(out.has_csum);
			}
		}
	}
}

static void test_wire_bytes(void)
{
	/* A=1 a=0 M=1 m=1 F=1, checksum: the RFC 8684 figure 9 layout. */
	struct pkb_ext_mptcp in =
		sample(PKB_DSS_DATA_ACK | PKB_DSS_MAP | PKB_DSS_DSN64 | PKB_DSS_DATA_FIN);
	static const uint8_t want[] = {
		30,   24,   0x20, 0x1d,				/* kind, len, subtype, flags */
		0x55, 0x66, 0x77, 0x88,				/* DATA_ACK, low 32 bits */
		0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, /* DSN, 64 bits */
		0x0b, 0xad, 0xf0, 0x0d,				/* subflow seq */
		0x12, 0x34,					/* data-level length */
		0xbe, 0xef,					/* checksum */
	};
	uint8_t buf[32];

	TK_ASSERT_EQ(sizeof(want), 24);
	/* 4 + 4 + 8 + 4 + 2 + 2 = 24: the length byte says so. */
	TK_ASSERT_EQ(pkb_mptcp_dss_encode(&in, true, buf, sizeof(buf)), 24);
	CU_ASSERT(memcmp(buf, want, sizeof(want)) == 0);
}

static void test_encode_refusals(void)
{
	struct pkb_ext_mptcp in = sample(PKB_DSS_FLAGS);
	uint8_t buf[PKB_MPTCP_DSS_MAXLEN + 1];

	memset(buf, 0xcc, sizeof(buf));
	TK_ASSERT_EQ(pkb_mptcp_dss_encode(&in, true, buf, PKB_MPTCP_DSS_MAXLEN - 1), -EMSGSIZE);
	TK_ASSERT_EQ(buf[0], 0xcc);
	TK_ASSERT_EQ(pkb_mptcp_dss_encode(&in, true, buf, PKB_MPTCP_DSS_MAXLEN),
		     PKB_MPTCP_DSS_MAXLEN);
	TK_ASSERT_EQ(buf[PKB_MPTCP_DSS_MAXLEN], 0xcc);
	in.flags = 0x20;
	TK_ASSERT_EQ(pkb_mptcp_dss_encode(&in, false, buf, sizeof(buf)), -EINVAL);
	TK_ASSERT_EQ(pkb_mptcp_dss_encode(&in, false, buf, 0), -EINVAL);
}

static void test_decode_refuses_truncated(void)
{
	for (unsigned csum = 0; csum < 2; csum++) {
		for (unsigned f = 0; f < 32; f++) {
			struct pkb_ext_mptcp in = sample((uint8_t)f), out = {0};
			uint8_t buf[64];
			int n = pkb_mptcp_dss_encode(&in, csum, buf, sizeof(buf));

			/* Every shorter buffer: refused, out untouched. */
			for (int avail = 0; avail < n; avail++) {
				int r = decode_exact(buf, (size_t)avail, csum, &out);

				TK_ASSERT_EQ(r, -EMSGSIZE);
			}
			TK_ASSERT_EQ(out.flags, 0);
			TK_ASSERT_EQ(out.data_ack, 0);
			/* Bytes after the option are not its business. */
			buf[n] = 1;
			buf[n + 1] = 1;
			TK_ASSERT_EQ(decode_exact(buf, (size_t)n + 2, csum, &out), n);
		}
	}
}

static void test_decode_refuses_wrong_length(void)
{
	for (unsigned csum = 0; csum < 2; csum++) {
		for (unsigned f = 0; f < 32; f++) {
			struct pkb_ext_mptcp in = sample((uint8_t)f), out;
			uint8_t buf[64];
			int n = pkb_mptcp_dss_encode(&in, csum, buf, sizeof(buf));

			memset(buf + n, 0, sizeof(buf) - (size_t)n);
			/* Every other length byte, with the bytes it claims present. */
			for (unsigned len = 0; len <= 40; len++) {
				if ((int)len == n)
					continue;
				buf[1] = (uint8_t)len;
				TK_ASSERT_EQ(decode_exact(buf, len > 2 ? len : 2, csum, &out),
					     -EINVAL);
			}
			/* Oversized: the length claims more than the buffer. */
			buf[1] = 255;
			TK_ASSERT_EQ(decode_exact(buf, 40, csum, &out), -EMSGSIZE);
		}
	}
}

static void test_decode_checksum_must_match_negotiation(void)
{
	struct pkb_ext_mptcp in = sample(PKB_DSS_MAP), out;
	uint8_t buf[32];
	int n;

	n = pkb_mptcp_dss_encode(&in, true, buf, sizeof(buf));
	TK_ASSERT_EQ(decode_exact(buf, (size_t)n, false, &out), -EINVAL);
	n = pkb_mptcp_dss_encode(&in, false, buf, sizeof(buf));
	TK_ASSERT_EQ(decode_exact(buf, (size_t)n, true, &out), -EINVAL);
	/* Without a mapping the checksum question does not arise. */
	in.flags = PKB_DSS_DATA_ACK;
	n = pkb_mptcp_dss_encode(&in, false, buf, sizeof(buf));
	TK_ASSERT_EQ(decode_exact(buf, (size_t)n, true, &out), n);
	CU_ASSERT_FALSE(out.has_csum);
}

static void test_decode_refuses_wrong_kind_and_subtype(void)
{
	struct pkb_ext_mptcp in = sample(PKB_DSS_DATA_ACK | PKB_DSS_MAP), out;
	uint8_t buf[32];
	int n = pkb_mptcp_dss_encode(&in, false, buf, sizeof(buf));

	buf[0] = 8; /* timestamps */
	TK_ASSERT_EQ(decode_exact(buf, (size_t)n, false, &out), -ENOMSG);
	TK_ASSERT_EQ(decode_exact(buf, 1, false, &out), -ENOMSG);
	buf[0] = 30;
	for (unsigned st = 0; st < 16; st++) {
		if (st == PKB_MPTCP_SUBTYPE_DSS)
			continue;
		buf[2] = (uint8_t)(st << 4);
		TK_ASSERT_EQ(decode_exact(buf, (size_t)n, false, &out), -ENOMSG);
	}
	/* Reserved bits (subtype byte's low nibble, flags byte's top three)
	 * are ignored. */
	buf[2] = 0x2f;
	buf[3] |= 0xe0;
	TK_ASSERT_EQ(decode_exact(buf, (size_t)n, false, &out), n);
	TK_ASSERT_EQ(out.flags, PKB_DSS_DATA_ACK | PKB_DSS_MAP);
	TK_ASSERT_EQ(decode_exact(buf, 0, false, &out), -EMSGSIZE);
}

/* Random bytes: never a crash, never an over-read, and a success is always
 * an option of exactly the length its length byte says. */
static void test_decode_random_bytes(void)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned ok = 0;

	for (unsigned i = 0; i < 200000; i++) {
		uint8_t buf[40];
		struct pkb_ext_mptcp out;
		size_t avail;
		bool csum;
		int r;

		for (unsigned j = 0; j < sizeof(buf); j++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[j] = (uint8_t)s;
		}
		/* Bias toward plausible headers so the deep paths run. */
		if (i & 1) {
			buf[0] = 30;
			buf[2] = (uint8_t)((buf[2] & 0x0f) | 0x20);
			buf[1] = (uint8_t)(buf[1] % 32);
		}
		avail = (size_t)(s >> 40) % (sizeof(buf) + 1);
		csum = (s >> 20) & 1;
		r = decode_exact(buf, avail, csum, &out);
		if (r >= 0) {
			ok++;
			CU_ASSERT(r == buf[1] && (size_t)r <= avail);
			CU_ASSERT(r == (int)pkb_mptcp_dss_len(out.flags, csum));
		} else {
			CU_ASSERT(r == -EINVAL || r == -EMSGSIZE || r == -ENOMSG);
		}
	}
	CU_ASSERT(ok > 0);
}

static const struct tk_case codec_tests[] = {
	TK_TEST(test_lengths),
	TK_TEST(test_roundtrip_every_flag_combination),
	TK_TEST(test_wire_bytes),
	TK_TEST(test_encode_refusals),
	TK_TEST(test_decode_refuses_truncated),
	TK_TEST(test_decode_refuses_wrong_length),
	TK_TEST(test_decode_checksum_must_match_negotiation),
	TK_TEST(test_decode_refuses_wrong_kind_and_subtype),
	TK_TEST(test_decode_random_bytes),
	TK_TEST_END,
};

static const struct tk_suite codec_suite = {"mptcp_dss", NULL, NULL, codec_tests};

const struct tk_suite *const tk_suites[] = {&codec_suite, NULL};
