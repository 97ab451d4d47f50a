/**
 * @file
 * The MPTCP Data Sequence Signal option (RFC 8684 section 3.3): TCP option
 * kind 30, subtype 2, to and from struct pkb_ext_mptcp. stack/ calls these
 * from lwIP's TCP option hooks.
 *
 * @verbatim
 *  byte 0   kind = 30
 *  byte 1   length (whole option, kind and length included)
 *  byte 2   subtype (high nibble) = 2, reserved (low nibble)
 *  byte 3   reserved (3 bits) | F | m | M | a | A
 *  DATA_ACK          4 or 8 octets   if A (8 if a)
 *  DSN               4 or 8 octets   if M (8 if m)
 *  subflow seq       4 octets        if M
 *  data-level length 2 octets        if M
 *  checksum          2 octets        if M and checksums were negotiated
 * @endverbatim
 *
 * All multi-octet fields are in network byte order. The option is not
 * padded: the TCP option writer aligns the option block with NOPs.
 *
 * Pure functions over buffers; any thread.
 */
#ifndef SKIFF_MPTCP_DSS_H
#define SKIFF_MPTCP_DSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <skiff/export.h>
#include <skiff/pkb.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PKB_MPTCP_OPT_KIND    30
#define PKB_MPTCP_SUBTYPE_DSS 2
/** Longest DSS option: 4 + 8 (DATA_ACK) + 8 (DSN) + 4 + 2 + 2. */
#define PKB_MPTCP_DSS_MAXLEN 28

/**
 * Length of the DSS option for these flags.
 * @param flags PKB_DSS_* (other bits ignored)
 * @param csum  DSS checksums were negotiated on the connection
 */
static inline unsigned pkb_mptcp_dss_len(uint8_t flags, bool csum)
{
	unsigned len = 4;

	if (flags & PKB_DSS_DATA_ACK)
		len += (flags & PKB_DSS_ACK64) ? 8u : 4u;
	if (flags & PKB_DSS_MAP)
		len += ((flags & PKB_DSS_DSN64) ? 8u : 4u) + 4u + 2u + (csum ? 2u : 0u);
	return len;
}

/**
 * Write the DSS option for @p dss into @p buf. The flags byte carries
 * dss->flags as given; 4-octet fields take the low 32 bits. A checksum is
 * written when PKB_DSS_MAP is set and @p csum (dss->has_csum is ignored:
 * negotiation decides).
 * @return the option's length (pkb_mptcp_dss_len), -EINVAL (flags outside
 *         PKB_DSS_FLAGS), -EMSGSIZE (@p size too small; nothing written)
 */
SKIFF_API int pkb_mptcp_dss_encode(const struct pkb_ext_mptcp *dss, bool csum, uint8_t *buf,
				   size_t size);

/**
 * Parse a DSS option. @p opt points at its kind byte and @p avail bytes
 * are readable from there (to the end of the TCP option block); nothing
 * past min(avail, the option's length byte) is read. Absent fields are 0.
 * @param csum DSS checksums were negotiated: a mapping must then carry one
 * @return the option's length, -ENOMSG (not a DSS option: kind other than
 *         30, or subtype other than 2), -EMSGSIZE (truncated: fewer than 2
 *         bytes available, or the length byte runs past @p avail),
 *         -EINVAL (length byte too short to hold the header, or not the
 *         one the flags call for: truncated fields or oversized); @p out is
 *         untouched on error
 */
SKIFF_API int pkb_mptcp_dss_decode(const uint8_t *opt, size_t avail, bool csum,
				   struct pkb_ext_mptcp *out);

#ifdef __cplusplus
}
#endif

#endif
