/* The generic port layer: dispatches to the backend, validates what crosses
 * the rings and does every frame state transition (umem_internal.h). */
#include <stdlib.h>

#include "umem_internal.h"

/* Completions reaped per backend call. */
#ifndef UMEM_PORT_COMPLETE_BATCH
#define UMEM_PORT_COMPLETE_BATCH 256u
#endif
/* TX descriptors validated per backend call. */
#ifndef UMEM_PORT_TX_BATCH
#define UMEM_PORT_TX_BATCH 256u
#endif

unsigned umem_port_rx(struct umem_port *p, struct umem_desc *descs, unsigned max)
{
	struct umem *u = p->umem;
	unsigned n = p->ops->rx(p, descs, max), ok = 0;
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++) {
		/* A frame that is not on this port's fill ring is not handed
		 * up: the ring is shared memory, never trusted blindly. */
		if (!umem__rx_take(u, descs[i].addr, p->slot)) {
			p->stats.rx_invalid_descs++;
			continue;
		}
		bytes += descs[i].len;
		descs[ok++] = descs[i];
	}
	p->stats.rx_frames += ok;
	p->stats.rx_bytes += bytes;
	return ok;
}

/* Validates up to n descriptors into ok[] (their index in src[]), moving
 * their frames HELD -> TX. */
static unsigned tx_validate(struct umem_port *p, const struct umem_desc *descs, unsigned n,
			    struct umem_desc *ok, unsigned *src)
{
	struct umem *u = p->umem;
	struct umem_geometry g;
	unsigned k = 0;

	umem_geometry(u, &g);
	for (unsigned i = 0; i < n; i++) {
		const struct umem_desc *d = &descs[i];

		if (!umem_span_ok(g.size, g.frame_size, d->addr, d->len)) {
			umem__count_tx_refused(u);
			continue;
		}
		/* Not HELD (already in flight, free, on the fill ring): a misuse,
		 * refused and counted by umem__to_tx. */
		if (!umem__to_tx(u, d->addr, p->slot)) {
			umem__count_tx_refused(u);
			continue;
		}
		src[k] = i;
		ok[k++] = *d;
	}
	return k;
}

unsigned umem_port_tx(struct umem_port *p, const struct umem_desc *descs, unsigned n)
{
	struct umem_desc ok[UMEM_PORT_TX_BATCH];
	unsigned src[UMEM_PORT_TX_BATCH];
	unsigned done = 0;

	while (n) {
		unsigned chunk = n < UMEM_PORT_TX_BATCH ? n : UMEM_PORT_TX_BATCH;
		unsigned k = tx_validate(p, descs, chunk, ok, src);
		unsigned taken = k ? p->ops->tx(p, ok, k) : 0;

		for (unsigned i = 0; i < taken; i++)
			p->stats.tx_bytes += ok[i].len;
		p->stats.tx_frames += taken;
		if (taken < k) {
			/* The ring is full: the rest stays with the caller, who
			 * learns where it starts from the count. */
			for (unsigned i = taken; i < k; i++)
				umem__tx_to_held(p->umem, ok[i].addr);
			p->stats.tx_ring_full += k - taken;
			return done + src[taken];
		}
		done += chunk;
		descs += chunk;
		n -= chunk;
	}
	return done;
}

int umem_port_flush(struct umem_port *p)
{
	return p->ops->flush(p);
}

unsigned umem_port_complete(struct umem_port *p, unsigned max)
{
	uint64_t addrs[UMEM_PORT_COMPLETE_BATCH];
	struct umem *u = p->umem;
	unsigned valid = 0;

	while (max) {
		unsigned want = max < UMEM_PORT_COMPLETE_BATCH ? max : UMEM_PORT_COMPLETE_BATCH;
		unsigned n = p->ops->complete(p, addrs, want), k = 0;

		for (unsigned i = 0; i < n; i++)
			if (umem__complete_one(u, addrs[i], p->slot))
				addrs[k++] = addrs[i];
		p->stats.completions += k;
		valid += k;
		umem__deliver_tx_done(u, addrs, k);
		if (n < want)
			break;
		max -= n;
	}
	return valid;
}

unsigned umem_port_refill(struct umem_port *p)
{
	struct umem *u = p->umem;
	unsigned size = 0, level = p->ops->fill_level(p, &size);
	unsigned batch = umem__fill_batch(u), posted = 0;
	unsigned mark = umem__fill_watermark(u, size);
	uint64_t addrs[UMEM_FILL_BATCH_DEFAULT * 4];

	/* A target below the ring's size is kept: topped up whenever below
	 * it. At or above it the ring refills as without one (from the
	 * watermark), which a small UMEM needs to keep frames free. */
	if (p->fill_target && p->fill_target < size) {
		size = p->fill_target;
		mark = size;
	}
	if (level >= mark)
		return 0;
	if (batch > sizeof(addrs) / sizeof(addrs[0]))
		batch = sizeof(addrs) / sizeof(addrs[0]);
	/* Top the ring up in whole batches (the last one may be short when the
	 * ring or the allocator has less room). */
	while (level + posted < size) {
		unsigned want = size - level - posted, n, taken;

		if (want > batch)
			want = batch;
		n = umem__alloc_fill(u, addrs, want, p->slot);
		if (!n)
			break;
		taken = p->ops->fill(p, addrs, n);
		for (unsigned i = taken; i < n; i++)
			umem__fill_to_free(u, addrs[i]);
		posted += taken;
		if (taken < want)
			break;
	}
	p->stats.fill_posted += posted;
	return posted;
}

void umem_port_set_fill_target(struct umem_port *p, unsigned frames)
{
	p->fill_target = frames;
}

unsigned umem_port_fill_level(const struct umem_port *p, unsigned *size)
{
	unsigned sz = 0, level = p->ops->fill_level(p, &sz);

	if (size)
		*size = sz;
	return level;
}

unsigned umem_port_fill_depth(const struct umem_port *p)
{
	unsigned size = 0;

	p->ops->fill_level(p, &size);
	return p->fill_target && p->fill_target < size ? p->fill_target : size;
}

int umem_port_fd(const struct umem_port *p)
{
	return p->ops->fd ? p->ops->fd(p) : -1;
}

void umem_port_get_stats(const struct umem_port *p, struct umem_port_stats *out)
{
	*out = p->stats;
	if (p->ops->get_stats)
		p->ops->get_stats(p, out);
}

struct umem *umem_port_umem(const struct umem_port *p)
{
	return p->umem;
}

void umem_port_destroy(struct umem_port *p)
{
	struct umem *u;
	struct umem_geometry g;
	uint64_t done[64];
	unsigned ndone = 0;

	if (!p)
		return;
	u = p->umem;
	if (p->ops->destroy)
		p->ops->destroy(p);
	/* Nothing is on this port's rings any more: its fill frames go back
	 * to the allocator, its TX frames to their owner as if they had
	 * completed (a zero-copy send holds references on them). Other
	 * ports' frames stay where they are. */
	umem_geometry(u, &g);
	for (uint64_t a = 0; a < g.size; a += g.frame_size) {
		enum umem_frame_state st = umem_frame_state(u, a);

		if ((st != UMEM_FRAME_FILL && st != UMEM_FRAME_TX) || umem__owner(u, a) != p->slot)
			continue;

		if (st == UMEM_FRAME_FILL) {
			umem__fill_to_free(u, a);
		} else if (st == UMEM_FRAME_TX) {
			umem__tx_to_held(u, a);
			done[ndone++] = a;
			if (ndone == sizeof(done) / sizeof(done[0])) {
				umem__deliver_tx_done(u, done, ndone);
				ndone = 0;
			}
		}
	}
	if (ndone)
		umem__deliver_tx_done(u, done, ndone);
	umem__detach_port(u, p);
	free(p);
}
