/* ext/ internals shared by pkb.c and pkb_ext.c. Not installed. */
#ifndef SKIFF_PKB_INTERNAL_H
#define SKIFF_PKB_INTERNAL_H

#include <skiff/pkb.h>

struct pkb_pool {
	struct pkb_pool__hot hot; /* first: pkb__hot() casts to it */
	uint32_t tx_headroom;
	uint32_t heads;
	uint32_t areas;
	pkb_release_fn release;
	void *release_opaque;
	void *block; /* the one allocation: this struct, heads, areas, free stacks */

	/* Failure injection (pkb_pool_inject_alloc_failure). */
	unsigned fail_kinds;
	uint32_t fail_after;
	uint32_t fail_count;

	uint64_t head_alloc_fail;
	uint64_t area_alloc_fail;
	uint64_t frame_alloc_fail;
	uint64_t injected_fail;
	uint64_t area_cow;
	uint64_t data_copy;
	uint64_t orphaned;
	uint64_t misuse;
};

/* True when this allocation of @kind must fail (injected). */
bool pkb__inject(struct pkb_pool *pool, unsigned kind);

/* A frame from umem_alloc, or -ENOMEM (counted). */
int pkb__frame_alloc(struct pkb_pool *pool, uint64_t *addr);

#endif
