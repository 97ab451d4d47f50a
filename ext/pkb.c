/* The pkb pool and the slow paths of pkb: TX allocation, copies, unshare,
 * orphan, frame references and the release of a frame's data. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkb_internal.h"

#define PKB_POOL_ALIGN 64u

static size_t round_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

int pkb_pool_create(struct pkb_pool **out, struct umem *umem, const struct pkb_pool_config *cfg)
{
	struct pkb_pool_config c = cfg ? *cfg : (struct pkb_pool_config){0};
	struct umem_geometry g;
	struct pkb_pool *pool;
	size_t off_heads, off_areas, off_hstack, off_astack, total;
	uint8_t *block;

	if (!out || !umem)
		return -EINVAL;
	*out = NULL;
	if (!c.heads)
		c.heads = PKB_POOL_HEADS_DEFAULT;
	if (!c.areas)
		c.areas = PKB_POOL_AREAS_DEFAULT;
	if (!c.tx_headroom)
		c.tx_headroom = PKB_TX_HEADROOM;

	umem_geometry(umem, &g);
	/* The metadata is written before the packet: the UMEM must leave room
	 * for it in every frame (the kernel writes past the headroom). */
	if (g.headroom < PKB_META_SIZE)
		return -EINVAL;
	if ((uint64_t)PKB_META_SIZE + c.tx_headroom >= g.frame_size)
		return -EINVAL;

	/* One allocation, carved: no malloc per packet, one free at the end. */
	off_heads = round_up(sizeof(*pool), PKB_POOL_ALIGN);
	off_areas = off_heads + (size_t)c.heads * sizeof(struct pkb);
	off_hstack = off_areas + (size_t)c.areas * sizeof(struct pkb_ext);
	off_astack = off_hstack + (size_t)c.heads * sizeof(struct pkb *);
	total = round_up(off_astack + (size_t)c.areas * sizeof(struct pkb_ext *), PKB_POOL_ALIGN);
	block = aligned_alloc(PKB_POOL_ALIGN, total);
	if (!block)
		return -ENOMEM;
	memset(block, 0, off_heads);

	pool = (struct pkb_pool *)block;
	pool->block = block;
	pool->hot.umem = umem;
	pool->hot.plain_release = !c.release;
	pool->tx_headroom = c.tx_headroom;
	pool->heads = c.heads;
	pool->areas = c.areas;
	pool->release = c.release;
	pool->release_opaque = c.release_opaque;
	pool->hot.area = g.area;
	pool->hot.area_size = g.size;
	pool->hot.frame_size = g.frame_size;
	pool->hot.frame_mask = g.frame_size - 1;
	pool->hot.head_free = (struct pkb **)(block + off_hstack);
	pool->hot.area_free = (struct pkb_ext **)(block + off_astack);

	/* Lowest objects on top, so the first ones handed out are adjacent. */
	for (uint32_t i = 0; i < c.heads; i++) {
		struct pkb *p = (struct pkb *)(block + off_heads) + (c.heads - 1 - i);

		PKB__POISON(p, sizeof(*p));
		pool->hot.head_free[i] = p;
	}
	pool->hot.head_top = c.heads;
	for (uint32_t i = 0; i < c.areas; i++) {
		struct pkb_ext *e = (struct pkb_ext *)(block + off_areas) + (c.areas - 1 - i);

		PKB__POISON(e, sizeof(*e));
		pool->hot.area_free[i] = e;
	}
	pool->hot.area_top = c.areas;
	*out = pool;
	return 0;
}

int pkb_pool_destroy(struct pkb_pool *pool)
{
	struct pkb_pool__hot *h;

	if (!pool)
		return 0;
	h = &pool->hot;
	if (h->live_pkbs || h->live_frames || h->head_top != pool->heads ||
	    h->area_top != pool->areas)
		return -EBUSY;
	/* The shadow must not outlive the block. */
	PKB__UNPOISON(pool->block, round_up(sizeof(*pool), PKB_POOL_ALIGN) +
					   (size_t)pool->heads * sizeof(struct pkb) +
					   (size_t)pool->areas * sizeof(struct pkb_ext));
	free(pool->block);
	return 0;
}

struct umem *pkb_pool_umem(const struct pkb_pool *pool)
{
	return pool->hot.umem;
}

void pkb_pool_get_stats(const struct pkb_pool *pool, struct pkb_pool_stats *out)
{
	const struct pkb_pool__hot *h = &pool->hot;

	*out = (struct pkb_pool_stats){
		.live_pkbs = h->live_pkbs,
		.live_heads = pool->heads - h->head_top,
		.live_areas = pool->areas - h->area_top,
		.live_frames = h->live_frames,
		.head_alloc_fail = pool->head_alloc_fail,
		.area_alloc_fail = pool->area_alloc_fail,
		.frame_alloc_fail = pool->frame_alloc_fail,
		.injected_fail = pool->injected_fail,
		.area_cow = pool->area_cow,
		.data_copy = pool->data_copy,
		.orphaned = pool->orphaned,
		.frames_released = h->frames_released,
		.rx_invalid = h->rx_invalid,
		.misuse = pool->misuse,
	};
}

void pkb_pool_inject_alloc_failure(struct pkb_pool *pool, unsigned kinds, uint32_t after,
				   uint32_t count)
{
	pool->fail_kinds = kinds & PKB_ALLOC_ALL;
	pool->fail_after = after;
	pool->fail_count = count;
	pool->hot.fail_armed = count && pool->fail_kinds;
}

bool pkb__inject(struct pkb_pool *pool, unsigned kind)
{
	if (!pool->hot.fail_armed || !(pool->fail_kinds & kind))
		return false;
	if (pool->fail_after) {
		pool->fail_after--;
		return false;
	}
	if (--pool->fail_count == 0)
		pool->hot.fail_armed = 0;
	pool->injected_fail++;
	return true;
}

int pkb__frame_alloc(struct pkb_pool *pool, uint64_t *addr)
{
	if (pkb__inject(pool, PKB_ALLOC_FRAME) || umem_alloc(pool->hot.umem, addr)) {
		pool->frame_alloc_fail++;
		return -ENOMEM;
	}
	return 0;
}

void pkb__build_invalid(struct pkb_pool *pool)
{
	pool->hot.rx_invalid++;
}

int pkb_alloc_tx(struct pkb_pool *pool, struct pkb **out)
{
	uint64_t addr;
	uint8_t *frame;

	if (pkb__frame_alloc(pool, &addr))
		return -ENOMEM;
	frame = pool->hot.area + addr;
	*out = pkb__init_frame(pool, frame, frame + PKB_META_SIZE + pool->tx_headroom, 0);
	return 0;
}

/* The frame's data is finished with: drop the ubuf reference, then hand the
 * frame to its owner. Nothing of the frame is read after the first callback,
 * so the callbacks may do anything (free other pkbs, reuse the frame). */
void pkb__data_release(struct pkb_pool *pool, struct pkb_shinfo *sh)
{
	struct pkb_ubuf *ubuf = sh->ubuf;
	pkb_release_fn fn = sh->release;
	void *opaque = sh->release_opaque;
	uint64_t frame = (uint64_t)((uint8_t *)sh - pool->hot.area);

	/* 0 so that a stale pkb_frame_get() on a recycled frame is caught. */
	sh->dataref = 0;
	sh->ubuf = NULL;
	pool->hot.live_frames--;
	pool->hot.frames_released++;
	if (!fn) {
		fn = pool->release;
		opaque = pool->release_opaque;
	}
	pkb_ubuf_put(ubuf);
	if (fn)
		fn(opaque, pool, frame);
	else
		umem_free(pool->hot.umem, frame);
}

void pkb_free_bulk(struct pkb *const *pkbs, unsigned n)
{
	uint64_t batch[64];
	struct pkb_pool *bpool = NULL;
	unsigned nb = 0;

	for (unsigned i = 0; i < n; i++) {
		struct pkb_pool *pool;
		struct pkb_shinfo *sh;
		uint64_t frame;

		if (!pkbs[i])
			continue;
		pool = pkbs[i]->pool;
		sh = pkb__head_put(pkbs[i]);
		if (!pkb__data_unref(sh))
			continue;
		frame = pkb__frame_plain(&pool->hot, sh);
		if (frame == UMEM_INVALID_ADDR) {
			pkb__data_release(pool, sh);
			continue;
		}
		/* Plain frames go back in one umem batch per pool. */
		if (bpool != pool || nb == sizeof(batch) / sizeof(batch[0])) {
			if (nb)
				umem_free_bulk(bpool->hot.umem, batch, nb);
			nb = 0;
			bpool = pool;
		}
		batch[nb++] = frame;
	}
	if (nb)
		umem_free_bulk(bpool->hot.umem, batch, nb);
}

int pkb__clone_slow(struct pkb *pkb, struct pkb **out)
{
	struct pkb_pool *pool = pkb->pool;
	struct pkb_pool__hot *h = &pool->hot;

	if (pkb__inject(pool, PKB_ALLOC_HEAD) || !h->head_top) {
		pool->head_alloc_fail++;
		return -ENOMEM;
	}
	*out = pkb__clone_head(pkb);
	return 0;
}

static uint64_t data_offset(const struct pkb *pkb)
{
	return (uint64_t)(pkb->data - (uint8_t *)pkb->shinfo);
}

/* A fresh frame with a copy of @src's packet at offset @off and an in-place
 * head with its cb; no extensions, no ubuf, no release hook. */
static int copy_to_new_frame(const struct pkb *src, uint64_t off, struct pkb **out)
{
	struct pkb_pool *pool = src->pool;
	uint32_t len = pkb_len(src);
	struct pkb_ubuf *ubuf = src->shinfo->ubuf;
	struct pkb *n;
	uint64_t addr;
	uint8_t *frame;

	if (pkb__frame_alloc(pool, &addr))
		return -ENOMEM;
	frame = pool->hot.area + addr;
	n = pkb__init_frame(pool, frame, frame + off, len);
	memcpy(n->data, src->data, len);
	memcpy(n->cb, src->cb, sizeof(n->cb));
	if (ubuf)
		ubuf->flags |= PKB_UBUF_F_COPIED;
	pool->data_copy++;
	*out = n;
	return 0;
}

static int copy_at(const struct pkb *pkb, uint64_t off, struct pkb **out)
{
	struct pkb *n;
	int err;

	err = copy_to_new_frame(pkb, off, &n);
	if (err)
		return err;
	if (pkb->active) {
		__atomic_add_fetch(&pkb->ext->refcnt, 1, __ATOMIC_RELAXED);
		n->ext = pkb->ext;
		n->active = pkb->active;
	}
	*out = n;
	return 0;
}

int pkb_copy(const struct pkb *pkb, struct pkb **out)
{
	return copy_at(pkb, data_offset(pkb), out);
}

int pkb_copy_expand(const struct pkb *pkb, uint32_t headroom, struct pkb **out)
{
	uint64_t off = data_offset(pkb), min = (uint64_t)PKB_META_SIZE + headroom;

	if (off < min)
		off = min;
	if (off + pkb_len(pkb) > pkb->pool->hot.frame_size)
		return -EMSGSIZE;
	return copy_at(pkb, off, out);
}

/* Moves *pkbp's data to a fresh frame and drops its reference on the old
 * one. A clone head stays where it is; an in-place head lives in the old
 * frame, so the new frame's in-place head takes its place. */
static int move_to_new_frame(struct pkb **pkbp)
{
	struct pkb *p = *pkbp;
	struct pkb_pool *pool = p->pool;
	struct pkb_shinfo *old = p->shinfo;
	struct pkb *n;
	int err;

	err = copy_to_new_frame(p, data_offset(p), &n);
	if (err)
		return err;
	if (p->flags & PKB_F_CLONE) {
		p->data = n->data;
		p->tail = n->tail;
		p->head = n->head;
		p->end = n->end;
		p->shinfo = n->shinfo;
	} else {
		n->ext = p->ext;
		n->active = p->active;
		n->next = p->next;
		*pkbp = n;
	}
	/* One of the two heads is no longer used (and needs no freeing: both
	 * in-place heads live in their frames). */
	pool->hot.live_pkbs--;
	pkb__data_put(pool, old);
	return 0;
}

int pkb__unshare_slow(struct pkb **pkbp)
{
	if (!pkb_data_shared(*pkbp))
		return 0;
	return move_to_new_frame(pkbp);
}

int pkb_orphan(struct pkb **pkbp)
{
	struct pkb_pool *pool = (*pkbp)->pool;
	int err;

	if (!(*pkbp)->shinfo->ubuf)
		return 0;
	err = move_to_new_frame(pkbp);
	if (!err)
		pool->orphaned++;
	return err;
}

bool pkb_frame_in_flight(const struct pkb *pkb)
{
	return umem_frame_state(pkb->pool->hot.umem, pkb_frame_addr(pkb)) == UMEM_FRAME_TX;
}

/* The shared info of the frame holding @addr if it is one we can count
 * references on (in range, held somewhere, dataref >= 1), else NULL. */
static struct pkb_shinfo *frame_shinfo(struct pkb_pool *pool, uint64_t addr,
				       enum umem_frame_state *state)
{
	struct pkb_shinfo *sh;

	if (addr >= pool->hot.area_size)
		goto out_misuse;
	*state = umem_frame_state(pool->hot.umem, addr);
	/* A free or fill frame's headroom is not ours (and is poisoned). */
	if (*state != UMEM_FRAME_HELD && *state != UMEM_FRAME_TX && *state != UMEM_FRAME_LOANED)
		goto out_misuse;
	sh = (struct pkb_shinfo *)(pool->hot.area + (addr & ~pool->hot.frame_mask));
	if (!__atomic_load_n(&sh->dataref, __ATOMIC_RELAXED))
		goto out_misuse;
	return sh;

out_misuse:
	pool->misuse++;
	return NULL;
}

int pkb_frame_get(struct pkb_pool *pool, uint64_t addr)
{
	enum umem_frame_state st;
	struct pkb_shinfo *sh = frame_shinfo(pool, addr, &st);

	if (!sh)
		return -EINVAL;
	__atomic_add_fetch(&sh->dataref, 1, __ATOMIC_RELAXED);
	return 0;
}

void pkb_frame_put(struct pkb_pool *pool, uint64_t addr)
{
	enum umem_frame_state st;
	struct pkb_shinfo *sh = frame_shinfo(pool, addr, &st);

	if (!sh)
		return;
	/* The last reference must not go while the ring still has the frame:
	 * keep it (a leak the audit shows) rather than free it under the NIC. */
	if (st == UMEM_FRAME_TX && __atomic_load_n(&sh->dataref, __ATOMIC_RELAXED) == 1) {
		pool->misuse++;
		return;
	}
	pkb__data_put(pool, sh);
}
