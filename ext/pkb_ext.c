/* Extension areas (seed 000): allocation from the pool, copy-on-write, the
 * release of what a slot holds, and the split/merge rules. */
#include <errno.h>
#include <string.h>

#include "pkb_internal.h"

static struct pkb_ext *area_alloc(struct pkb_pool *pool)
{
	struct pkb_pool__hot *h = &pool->hot;
	struct pkb_ext *ext;

	if (PKB__UNLIKELY((h->fail_armed && pkb__inject(pool, PKB_ALLOC_AREA)) || !h->area_top)) {
		pool->area_alloc_fail++;
		return NULL;
	}
	ext = h->area_free[--h->area_top];
	PKB__UNPOISON(ext, sizeof(*ext));
	ext->refcnt = 1;
	ext->present = 0;
	return ext;
}

/* Zeroes one slot; constant sizes so the compiler inlines the stores. */
static void slot_zero(struct pkb_ext *ext, enum pkb_ext_id id)
{
	switch (id) {
	case PKB_EXT_MPTCP:
		memset(&ext->mptcp, 0, sizeof(ext->mptcp));
		break;
	case PKB_EXT_BRIDGE:
		memset(&ext->bridge, 0, sizeof(ext->bridge));
		break;
	case PKB_EXT_SECPATH:
	default:
		memset(&ext->secpath, 0, sizeof(ext->secpath));
		break;
	}
}

void pkb__ext_release_slot(struct pkb_ext *ext, enum pkb_ext_id id)
{
	struct pkb_ext_secpath *sp = &ext->secpath;

	/* Only the secpath holds references; the others are plain data. */
	if (id != PKB_EXT_SECPATH)
		return;
	for (unsigned i = 0; i < sp->len; i++)
		pkb_sa_put(sp->sa[i]);
	sp->len = 0;
}

void pkb__area_free(struct pkb_pool *pool, struct pkb_ext *ext)
{
	struct pkb_pool__hot *h = &pool->hot;

	if (ext->present & (1u << PKB_EXT_SECPATH))
		pkb__ext_release_slot(ext, PKB_EXT_SECPATH);
	PKB__POISON(ext, sizeof(*ext));
	h->area_free[h->area_top++] = ext;
}

/* Copy the slots @active of @from into the fresh @to, re-taking the
 * references they hold: @to owns them independently of @from. The whole
 * area is copied in one go (two cache lines); slots outside @active are
 * not present in @to, so whatever they hold means nothing there. */
static void area_copy(struct pkb_ext *to, const struct pkb_ext *from, uint8_t active)
{
	*to = *from;
	to->refcnt = 1;
	to->present = active;
	if (active & (1u << PKB_EXT_SECPATH))
		for (unsigned i = 0; i < to->secpath.len; i++)
			pkb_sa_get(to->secpath.sa[i]);
}

int pkb__ext_add_slow(struct pkb *pkb, enum pkb_ext_id id, void **out)
{
	struct pkb_pool *pool = pkb->pool;
	uint8_t bit = (uint8_t)(1u << id);
	struct pkb_ext *ext;
	uint8_t *slot;

	if ((unsigned)id >= PKB_EXT__NUM)
		return -EINVAL;
	if (!pkb->active) {
		ext = area_alloc(pool);
		if (!ext)
			return -ENOMEM;
		pkb->ext = ext;
	} else if (__atomic_load_n(&pkb->ext->refcnt, __ATOMIC_RELAXED) != 1) {
		/* Shared: the other holders keep the old area untouched. */
		ext = area_alloc(pool);
		if (!ext)
			return -ENOMEM;
		area_copy(ext, pkb->ext, pkb->active);
		pool->area_cow++;
		pkb__area_put(pool, pkb->ext);
		pkb->ext = ext;
	} else {
		ext = pkb->ext;
	}

	slot = (uint8_t *)ext + pkb__ext_off(id);
	if ((ext->present & bit) && !(pkb->active & bit))
		pkb__ext_release_slot(ext, id);
	if (!(pkb->active & bit)) {
		slot_zero(ext, id);
		ext->present |= bit;
		pkb->active |= bit;
	}
	*out = slot;
	return 0;
}

int pkb_ext_secpath_append(struct pkb *pkb, struct pkb_sa *sa)
{
	const struct pkb_ext_secpath *sp = pkb_ext_secpath(pkb);
	struct pkb_ext_secpath *w;
	int err;

	if (sp && sp->len >= PKB_SECPATH_MAX)
		return -ENOSPC;
	err = pkb_ext_add_secpath(pkb, &w);
	if (err)
		return err;
	pkb_sa_get(sa);
	w->sa[w->len++] = sa;
	return 0;
}

/* ---- merge rules (documented in pkb.h) ----------------------------------- */

static bool bridge_equal(const struct pkb_ext_bridge *a, const struct pkb_ext_bridge *b)
{
	if (a->ingress_port != b->ingress_port || a->flags != b->flags)
		return false;
	if ((a->flags & PKB_BRIDGE_F_VLAN) &&
	    (a->vlan_tci != b->vlan_tci || a->vlan_proto != b->vlan_proto))
		return false;
	return !memcmp(a->src_mac, b->src_mac, 6) && !memcmp(a->dst_mac, b->dst_mac, 6);
}

static bool secpath_equal(const struct pkb_ext_secpath *a, const struct pkb_ext_secpath *b)
{
	if (a->len != b->len)
		return false;
	for (unsigned i = 0; i < a->len; i++)
		if (a->sa[i] != b->sa[i])
			return false;
	return true;
}

#define DSS_MAP_FLAGS (PKB_DSS_MAP | PKB_DSS_DSN64 | PKB_DSS_DATA_FIN)

static bool mapping_equal(const struct pkb_ext_mptcp *a, const struct pkb_ext_mptcp *b)
{
	if ((a->flags & DSS_MAP_FLAGS) != (b->flags & DSS_MAP_FLAGS))
		return false;
	if (!(a->flags & PKB_DSS_MAP))
		return true;
	return a->data_seq == b->data_seq && a->subflow_seq == b->subflow_seq &&
	       a->data_len == b->data_len && a->has_csum == b->has_csum &&
	       (!a->has_csum || a->csum == b->csum);
}

/* @b's mapping continues @a's: one mapping can describe both. */
static bool mapping_follows(const struct pkb_ext_mptcp *a, const struct pkb_ext_mptcp *b)
{
	uint64_t dsn_end = a->data_seq + a->data_len;

	if (!(a->flags & PKB_DSS_MAP) || !(b->flags & PKB_DSS_MAP))
		return false;
	if ((a->flags & PKB_DSS_DSN64) != (b->flags & PKB_DSS_DSN64))
		return false;
	/* A checksum covers exactly its mapping's data; DATA_FIN ends it; an
	 * infinite mapping (length 0) has no end to continue from. */
	if (a->has_csum || b->has_csum || (a->flags & PKB_DSS_DATA_FIN) || !a->data_len ||
	    !b->data_len)
		return false;
	if (!(a->flags & PKB_DSS_DSN64))
		dsn_end = (uint32_t)dsn_end;
	return dsn_end == b->data_seq &&
	       (uint32_t)(a->subflow_seq + a->data_len) == b->subflow_seq &&
	       (uint32_t)a->data_len + b->data_len <= 0xffff;
}

/* The merged mapping in @m (from @a = into's, @b = from's); false: refused. */
static bool mptcp_merged(const struct pkb_ext_mptcp *a, const struct pkb_ext_mptcp *b,
			 struct pkb_ext_mptcp *m)
{
	*m = *a;
	if (mapping_follows(a, b)) {
		m->data_len = (uint16_t)(a->data_len + b->data_len);
		m->flags =
			(uint8_t)((m->flags & ~PKB_DSS_DATA_FIN) | (b->flags & PKB_DSS_DATA_FIN));
	} else if (!mapping_equal(a, b)) {
		return false;
	}
	if (b->flags & PKB_DSS_DATA_ACK) {
		m->flags = (uint8_t)((m->flags & ~(PKB_DSS_DATA_ACK | PKB_DSS_ACK64)) |
				     (b->flags & (PKB_DSS_DATA_ACK | PKB_DSS_ACK64)));
		m->data_ack = b->data_ack;
	}
	return true;
}

static bool mptcp_same(const struct pkb_ext_mptcp *a, const struct pkb_ext_mptcp *b)
{
	return a->flags == b->flags && a->data_ack == b->data_ack && mapping_equal(a, b);
}

bool pkb_ext_can_merge(const struct pkb *into, const struct pkb *from)
{
	const struct pkb_ext_mptcp *mi = pkb_ext_mptcp(into), *mf = pkb_ext_mptcp(from);
	const struct pkb_ext_bridge *bi = pkb_ext_bridge(into), *bf = pkb_ext_bridge(from);
	const struct pkb_ext_secpath *si = pkb_ext_secpath(into), *sf = pkb_ext_secpath(from);
	struct pkb_ext_mptcp m;

	if (!mi != !mf || !bi != !bf || !si != !sf)
		return false;
	if (mi && !mptcp_merged(mi, mf, &m))
		return false;
	if (bi && !bridge_equal(bi, bf))
		return false;
	if (si && !secpath_equal(si, sf))
		return false;
	return true;
}

int pkb_ext_on_merge(struct pkb *into, const struct pkb *from)
{
	if (!pkb_ext_can_merge(into, from))
		return -EINVAL;
	/* Only MPTCP may change; BRIDGE and SECPATH are equal on both sides. */
	if (!pkb_ext_mptcp(into))
		return 0;
	return pkb_ext_mptcp_append(into, pkb_ext_mptcp(from));
}

int pkb_ext_mptcp_append(struct pkb *into, const struct pkb_ext_mptcp *next)
{
	const struct pkb_ext_mptcp *mi = pkb_ext_mptcp(into);
	struct pkb_ext_mptcp m = *next, *w;
	int err;

	if (mi && !mptcp_merged(mi, next, &m))
		return -EINVAL;
	if (mi && mptcp_same(mi, &m))
		return 0;
	err = pkb_ext_add_mptcp(into, &w);
	if (err)
		return err;
	*w = m;
	return 0;
}
