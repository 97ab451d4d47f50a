/* Fuzzes the DSS option decoder (what stack/ runs on every MPTCP option a
 * peer sends): it must never read past the bytes it is given, and whatever
 * it accepts must encode back to the same option (reserved bits aside). */
#include <skiff/mptcp_dss.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkb_ext_mptcp dss;
	uint8_t again[PKB_MPTCP_DSS_MAXLEN];
	bool csum;
	int len, len2;

	if (size < 1)
		return 0;
	/* First byte: whether checksums were negotiated; the rest is the
	 * option block from the kind byte on (libFuzzer's buffer is exactly
	 * this long, so ASan sees any over-read). */
	csum = data[0] & 1;
	len = pkb_mptcp_dss_decode(data + 1, size - 1, csum, &dss);
	if (len < 0)
		return 0;
	if ((size_t)len > size - 1 || len > PKB_MPTCP_DSS_MAXLEN)
		abort();
	len2 = pkb_mptcp_dss_encode(&dss, csum && (dss.flags & PKB_DSS_MAP), again, sizeof(again));
	if (len2 != len)
		abort();
	/* Same bytes but the reserved bits (low nibble of byte 2, top three of
	 * byte 3). */
	if (memcmp(again, data + 1, 2) != 0 || (again[2] & 0xf0) != (data[3] & 0xf0) ||
	    (again[3] & 0x1f) != (data[4] & 0x1f) || memcmp(again + 4, data + 5, (size_t)len - 4))
		abort();
	return 0;
}
