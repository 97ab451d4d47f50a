/* Secpath: the security associations that XDP metadata records may name,
 * the records' parsing into each received frame's SECPATH extension
 * (<skiff/xdp_meta.h>), and the policy of listeners that require one. */
#include <errno.h>
#include <string.h>

#include <skiff/xdp_meta.h>

#include "frames.h"
#include "instance.h"
#include "secpath.h"
#include "sock.h"

#define MAX_SAS 64
static struct pkb_sa *sas[MAX_SAS];
static unsigned n_sas;

int skiff__sa_add(struct pkb_sa *sa)
{
	if (n_sas == MAX_SAS)
		return -ENOSPC;
	pkb_sa_get(sa);
	sas[n_sas++] = sa;
	return 0;
}

void skiff__sa_clear(void)
{
	while (n_sas)
		pkb_sa_put(sas[--n_sas]);
}

void skiff__secpath_clear(void)
{
	skiff__sa_clear();
}

static struct pkb_sa *sa_lookup(uint32_t spi)
{
	for (unsigned i = 0; i < n_sas; i++)
		if (sas[i]->spi == spi)
			return sas[i];
	return NULL;
}

int skiff__secpath_rx_meta(struct pkb *pkb)
{
	uint8_t *frame = (uint8_t *)pkb->shinfo;
	struct umem_xdp_meta m;

	if (pkb->data - frame < (ptrdiff_t)(PKB_META_SIZE + sizeof(m)))
		return -ENOENT;
	memcpy(&m, pkb->data - sizeof(m), sizeof(m));
	if (m.magic != UMEM_XDP_META_MAGIC)
		return -ENOENT;
	/* Read once: the slot is wiped again when the frame is released. */
	memset(pkb->data - sizeof(m), 0, sizeof(m));
	if (m.version != UMEM_XDP_META_VERSION || !m.n_sa || m.n_sa > UMEM_XDP_META_MAX_SA)
		return -EINVAL;
	for (unsigned i = 0; i < m.n_sa; i++) {
		struct pkb_sa *sa = sa_lookup(m.spi[i]);

		/* An SA we do not know accepted nothing we can vouch for. */
		if (!sa || pkb_ext_secpath_append(pkb, sa) != 0) {
			pkb_ext_del(pkb, PKB_EXT_SECPATH);
			return -EINVAL;
		}
	}
	return 0;
}

int skiff__rx_meta(struct pkb *pkb)
{
	return skiff__secpath_rx_meta(pkb);
}

bool skiff__secpath_allows(const struct skiff_sock *s, const struct pbuf *p)
{
	struct pkb *pkb;

	if (!s || !s->opt.require_secpath)
		return true;
	pkb = skiff__rx_pkb(p);
	if (pkb && pkb_ext_secpath(pkb))
		return true;
	skiff__s.stats.secpath_drops++;
	return false;
}
