/* The MPTCP DSS option codec (RFC 8684 section 3.3). Byte-wise loads and
 * stores: options sit at any alignment inside a TCP header. */
#include <errno.h>

#include <skiff/mptcp_dss.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

int pkb_mptcp_dss_encode(const struct pkb_ext_mptcp *dss, bool csum, uint8_t *buf, size_t size)
{
	unsigned len = pkb_mptcp_dss_len(dss->flags, csum);
	uint8_t *p = buf;

	if (dss->flags & ~PKB_DSS_FLAGS)
		return -EINVAL;
	if (size < len)
		return -EMSGSIZE;
	*p++ = PKB_MPTCP_OPT_KIND;
	*p++ = (uint8_t)len;
	*p++ = PKB_MPTCP_SUBTYPE_DSS << 4;
	*p++ = dss->flags;
	if (dss->flags & PKB_DSS_DATA_ACK) {
		if (dss->flags & PKB_DSS_ACK64) {
			put64(p, dss->data_ack);
			p += 8;
		} else {
			put32(p, (uint32_t)dss->data_ack);
			p += 4;
		}
	}
	if (dss->flags & PKB_DSS_MAP) {
		if (dss->flags & PKB_DSS_DSN64) {
			put64(p, dss->data_seq);
			p += 8;
		} else {
			put32(p, (uint32_t)dss->data_seq);
			p += 4;
		}
		put32(p, dss->subflow_seq);
		put16(p + 4, dss->data_len);
		p += 6;
		if (csum) {
			put16(p, dss->csum);
			p += 2;
		}
	}
	return (int)(p - buf);
}

int pkb_mptcp_dss_decode(const uint8_t *opt, size_t avail, bool csum, struct pkb_ext_mptcp *out)
{
	struct pkb_ext_mptcp d = {0};
	const uint8_t *p;
	unsigned optlen;

	/* Each byte is read only after checking it lies inside both the
	 * buffer and the option. */
	if (avail < 1)
		return -EMSGSIZE;
	if (opt[0] != PKB_MPTCP_OPT_KIND)
		return -ENOMSG;
	if (avail < 2)
		return -EMSGSIZE;
	optlen = opt[1];
	if (optlen > avail)
		return -EMSGSIZE;
	if (optlen < 3)
		return -EINVAL;
	if ((opt[2] >> 4) != PKB_MPTCP_SUBTYPE_DSS)
		return -ENOMSG;
	if (optlen < 4)
		return -EINVAL;
	d.flags = opt[3] & PKB_DSS_FLAGS;
	if (optlen != pkb_mptcp_dss_len(d.flags, csum))
		return -EINVAL;

	p = opt + 4;
	if (d.flags & PKB_DSS_DATA_ACK) {
		if (d.flags & PKB_DSS_ACK64) {
			d.data_ack = get64(p);
			p += 8;
		} else {
			d.data_ack = get32(p);
			p += 4;
		}
	}
	if (d.flags & PKB_DSS_MAP) {
		if (d.flags & PKB_DSS_DSN64) {
			d.data_seq = get64(p);
			p += 8;
		} else {
			d.data_seq = get32(p);
			p += 4;
		}
		d.subflow_seq = get32(p);
		d.data_len = get16(p + 4);
		p += 6;
		if (csum) {
			d.csum = get16(p);
			d.has_csum = true;
		}
	}
	*out = d;
	return (int)optlen;
}
