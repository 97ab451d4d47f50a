/* memlink at the stack's level: the shared-memory wire of umem/ behind a
 * handle of skiff's own, so that programs on the skiff_* API never reach
 * into umem/ (DESIGN.md's layering). */
#include <errno.h>
#include <stdlib.h>

#include "instance.h"

struct skiff_memlink {
	struct umem_memlink *wire;
};

struct umem_memlink *skiff__memlink_wire(const struct skiff_memlink *w)
{
	return w ? w->wire : NULL;
}

int skiff_memlink_create(struct skiff_memlink **out, const struct skiff_memlink_config *cfg)
{
	struct umem_memlink_config wc = {0};
	struct skiff_memlink *w;
	int e;

	if (!out) {
		errno = EINVAL;
		return -1;
	}
	if (cfg) {
		wc.frame_count = cfg->frame_count;
		wc.ring_size = cfg->ring_size;
		if (!wc.frame_count && !wc.ring_size && cfg->expected_connections)
			skiff_sizes_for(cfg->expected_connections, &wc.ring_size, &wc.frame_count);
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return -1;
	}
	e = umem_memlink_create(&w->wire, &wc);
	if (e) {
		free(w);
		errno = -e;
		return -1;
	}
	*out = w;
	return 0;
}

int skiff_memlink_open(struct skiff_memlink **out, int fd)
{
	struct skiff_memlink *w;
	int e;

	if (!out || fd < 0) {
		errno = EINVAL;
		return -1;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return -1;
	}
	e = umem_memlink_open(&w->wire, fd);
	if (e) {
		free(w);
		errno = -e;
		return -1;
	}
	*out = w;
	return 0;
}

int skiff_memlink_fd(const struct skiff_memlink *w)
{
	if (!w) {
		errno = EINVAL;
		return -1;
	}
	return umem_memlink_fd(w->wire);
}

int skiff_memlink_set_faults(struct skiff_memlink *w, unsigned end,
			     const struct skiff_memlink_faults *f)
{
	struct umem_memlink_faults uf;

	if (!w || end > 1) {
		errno = EINVAL;
		return -1;
	}
	if (f)
		uf = (struct umem_memlink_faults){
			.seed = f->seed,
			.drop_ppm = f->drop_ppm,
			.duplicate_ppm = f->duplicate_ppm,
			.reorder_ppm = f->reorder_ppm,
			.corrupt_ppm = f->corrupt_ppm,
			.delay_ppm = f->delay_ppm,
			.delay_us = f->delay_us,
		};
	umem_memlink_set_faults(w->wire, end, f ? &uf : NULL);
	return 0;
}

int skiff_memlink_get_stats(const struct skiff_memlink *w, unsigned end,
			    struct skiff_memlink_stats *out)
{
	struct umem_memlink_stats us;

	if (!w || end > 1 || !out) {
		errno = EINVAL;
		return -1;
	}
	umem_memlink_get_stats(w->wire, end, &us);
	*out = (struct skiff_memlink_stats){
		.sent = us.sent,
		.delivered = us.delivered,
		.dropped = us.dropped,
		.duplicated = us.duplicated,
		.reordered = us.reordered,
		.corrupted = us.corrupted,
		.delayed = us.delayed,
		.no_fill = us.no_fill,
		.rx_full = us.rx_full,
		.invalid = us.invalid,
	};
	return 0;
}

int skiff_memlink_destroy(struct skiff_memlink *w)
{
	int e;

	if (!w)
		return 0;
	e = umem_memlink_destroy(w->wire);
	if (e) {
		errno = -e;
		return -1;
	}
	free(w);
	return 0;
}
