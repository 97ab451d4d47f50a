/* The DSS checksum (RFC 8684 3.3.1): TCP's one's complement sum over a
 * pseudo-header (the mapping's 64-bit data sequence number, its 32-bit
 * relative subflow sequence number, its 16-bit data-level length and 16
 * zero bits) and the mapping's payload, which may lie across many pbufs
 * and segments. The sums of the pieces are added as the Internet checksum
 * adds them (RFC 1071): a piece that starts at an odd offset is added with
 * its bytes swapped. */
#include <string.h>

#include "mptcp/conn.h"

#include "lwip/def.h"
#include "lwip/opt.h"
#include "lwip/pbuf.h"

static uint32_t fold32(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	return (s & 0xffff) + (s >> 16);
}

uint16_t skiff__mptcp_csum_sum(uint64_t dsn, uint32_t ssn, uint16_t dll, const struct pbuf *p,
			       uint32_t off, uint32_t len, uint16_t csum)
{
	uint8_t ph[16];
	uint32_t acc, pos = 0;

	for (int i = 7; i >= 0; i--, dsn >>= 8)
		ph[i] = (uint8_t)dsn;
	ph[8] = (uint8_t)(ssn >> 24);
	ph[9] = (uint8_t)(ssn >> 16);
	ph[10] = (uint8_t)(ssn >> 8);
	ph[11] = (uint8_t)ssn;
	ph[12] = (uint8_t)(dll >> 8);
	ph[13] = (uint8_t)dll;
	ph[14] = (uint8_t)(csum >> 8); /* 0 in the pseudo-header; the checksum */
	ph[15] = (uint8_t)csum;	       /* itself when checking one */
	/* Sums in memory order (LWIP_CHKSUM's), turned to host order at the end. */
	acc = LWIP_CHKSUM(ph, sizeof(ph));
	for (; p && len; p = p->next) {
		uint32_t n, s;

		if (off >= p->len) {
			off -= p->len;
			continue;
		}
		n = p->len - off < len ? p->len - off : len;
		s = LWIP_CHKSUM((const uint8_t *)p->payload + off, (int)n);
		if (pos & 1)
			s = ((s & 0xff) << 8) | (s >> 8);
		acc = fold32(acc + s);
		pos += n;
		len -= n;
		off = 0;
	}
	return lwip_ntohs((uint16_t)fold32(acc));
}

uint16_t skiff__mptcp_dss_csum(uint64_t dsn, uint32_t ssn, uint16_t dll,
			       const uint8_t *const *piece, const uint16_t *len, unsigned n)
{
	struct pbuf q[8];
	uint32_t total = 0;

	if (!n || n > 8)
		return 0;
	memset(q, 0, sizeof(q));
	for (unsigned i = n; i-- > 0;) {
		q[i].payload = (void *)(uintptr_t)piece[i];
		q[i].len = len[i];
		q[i].next = i + 1 < n ? &q[i + 1] : NULL;
		total += len[i];
		q[i].tot_len = (u16_t)(len[i] + (q[i].next ? q[i].next->tot_len : 0));
	}
	return (uint16_t)~skiff__mptcp_csum_sum(dsn, ssn, dll, q, 0, total, 0);
}
