/* The UMEM and its frame allocator: a LIFO stack of free frame addresses
 * (cache-hot reuse, as page_pool) and one state byte per frame, kept in
 * every build so that completions and misuse can be checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "umem_internal.h"

#include <skiff/sanitize.h>

#if defined(SKIFF_ASAN) || !defined(SKIFF_DEBUG_FRAMES)
#define UMEM_POISON(p, n) SKIFF_POISON(p, n)
#else
/* Without ASan a freed frame is filled so that a stale reader sees junk. */
#define UMEM_POISON(p, n) memset(p, 0x6b, n)
#endif
#define UMEM_UNPOISON(p, n) SKIFF_UNPOISON(p, n)

#ifdef SKIFF_DEBUG_FRAMES
#define UMEM_DEBUG 1
#else
#define UMEM_DEBUG 0
#endif

#ifndef UMEM_HUGEPAGE_SIZE
#define UMEM_HUGEPAGE_SIZE (2u << 20)
#endif

struct umem {
	struct umem_geometry geo;
	uint64_t frame_mask;  /* frame_size - 1 */
	uint64_t *free_stack; /* base addresses; top is the next to go */
	uint32_t free_top;
	uint8_t *state;	  /* enum umem_frame_state per frame */
	uint16_t *tx_off; /* offset inside the frame of the address posted on TX */
	uint8_t *owner;	  /* the slot of the port whose ring holds a FILL or TX frame */
	uint32_t count[UMEM_FRAME__NSTATES];
	struct umem_stats stats;
	struct umem_port *ports[UMEM_MAX_PORTS]; /* slot i + 1 is ports[i] */
	void *shared;				 /* the backend's, for its ports to share */
	umem_tx_done_fn tx_done;
	void *tx_done_opaque;
	uint32_t fill_batch;
	uint32_t fill_watermark;
	uint32_t fill_reserve; /* free frames a refill never takes */
	size_t map_len;	       /* 0 when the caller gave the area */
	bool hugepages;
	bool misuse_abort;
};

static const char *const state_names[] = {
	[UMEM_FRAME_FREE] = "FREE", [UMEM_FRAME_FILL] = "FILL",	    [UMEM_FRAME_HELD] = "HELD",
	[UMEM_FRAME_TX] = "TX",	    [UMEM_FRAME_LOANED] = "LOANED",
};

static inline bool addr_ok(const struct umem *u, uint64_t addr)
{
	return addr < u->geo.size;
}

static inline uint32_t frame_idx(const struct umem *u, uint64_t addr)
{
	return (uint32_t)(addr >> u->geo.frame_shift);
}

static inline uint8_t *frame_ptr(const struct umem *u, uint32_t idx)
{
	return u->geo.area + ((uint64_t)idx << u->geo.frame_shift);
}

void umem__misuse(struct umem *u, const char *what, uint64_t addr)
{
	u->stats.misuse++;
	if (!u->misuse_abort)
		return;
	if (addr_ok(u, addr))
		fprintf(stderr, "skiff umem: misuse: %s (addr 0x%llx, frame %u is %s)\n", what,
			(unsigned long long)addr, frame_idx(u, addr),
			state_names[u->state[frame_idx(u, addr)]]);
	else
		fprintf(stderr, "skiff umem: misuse: %s (addr 0x%llx outside the UMEM)\n", what,
			(unsigned long long)addr);
	abort();
}

void umem__set_misuse_abort(struct umem *u, bool abort_on_misuse)
{
	u->misuse_abort = UMEM_DEBUG && abort_on_misuse;
}

static bool misuse_abort_default(void)
{
	const char *env = getenv("SKIFF_UMEM_MISUSE");

	return UMEM_DEBUG && !(env && strcmp(env, "count") == 0);
}

static int check_config(const struct umem_config *c)
{
	long page = sysconf(_SC_PAGESIZE);

	if (c->frame_size != 2048 && c->frame_size != 4096)
		return -EINVAL;
	if (c->frame_count == 0 || c->frame_count > UMEM_FRAME_COUNT_MAX)
		return -EINVAL;
	if (c->headroom % 64 || c->headroom + UMEM_XDP_PACKET_HEADROOM + 64 > c->frame_size)
		return -EINVAL;
	if (c->fill_batch == 0 || c->fill_batch > c->frame_count)
		return -EINVAL;
	if (c->fill_reserve >= c->frame_count)
		return -EINVAL;
	if ((unsigned)c->hugepages > UMEM_HUGEPAGES_ON)
		return -EINVAL;
	if (c->area && page > 0 && (uintptr_t)c->area % (uintptr_t)page)
		return -EINVAL;
	return 0;
}

/* Maps the frames; hugepages first when allowed. Shared, not private: the
 * kernel pins the pages at registration, and a forked child of a private
 * mapping gets copies of pinned pages at fork, so a child that takes the
 * stack over (libskiff-preload's fork hand-over, docs/preload.md) would
 * write frames the kernel never reads. A shared mapping is the same pages
 * in both. */
static int map_area(struct umem *u, enum umem_hugepages hp)
{
	size_t len = u->geo.size;
	void *p;

	if (hp != UMEM_HUGEPAGES_OFF) {
		size_t hlen = (len + UMEM_HUGEPAGE_SIZE - 1) & ~(size_t)(UMEM_HUGEPAGE_SIZE - 1);

		p = mmap(NULL, hlen, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		if (p != MAP_FAILED) {
			u->geo.area = p;
			u->map_len = hlen;
			u->hugepages = true;
			return 0;
		}
		if (hp == UMEM_HUGEPAGES_ON)
			return -ENOMEM;
	}
	/* Populated up front: AF_XDP pins the pages anyway, and the fast path
	 * should not take page faults. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1,
		 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	u->geo.area = p;
	u->map_len = len;
	return 0;
}

int umem_create(struct umem **out, const struct umem_config *cfg)
{
	struct umem_config c = cfg ? *cfg : (struct umem_config){0};
	struct umem *u;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!c.frame_size)
		c.frame_size = UMEM_FRAME_SIZE_DEFAULT;
	if (!c.frame_count)
		c.frame_count = UMEM_FRAME_COUNT_DEFAULT;
	if (!c.headroom)
		c.headroom = UMEM_HEADROOM_DEFAULT;
	if (!c.fill_batch)
		c.fill_batch = c.frame_count < UMEM_FILL_BATCH_DEFAULT ? c.frame_count
								       : UMEM_FILL_BATCH_DEFAULT;
	err = check_config(&c);
	if (err)
		return err;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->geo.frame_size = c.frame_size;
	u->geo.frame_shift = c.frame_size == 4096 ? 12 : 11;
	u->geo.frame_count = c.frame_count;
	u->geo.headroom = c.headroom;
	u->geo.size = (uint64_t)c.frame_size * c.frame_count;
	u->frame_mask = c.frame_size - 1;
	u->fill_batch = c.fill_batch;
	u->fill_watermark = c.fill_watermark;
	u->fill_reserve = c.fill_reserve;
	u->misuse_abort = misuse_abort_default();

	u->free_stack = malloc(sizeof(*u->free_stack) * c.frame_count);
	u->state = malloc(c.frame_count);
	u->tx_off = calloc(c.frame_count, sizeof(*u->tx_off));
	u->owner = calloc(c.frame_count, 1);
	if (!u->free_stack || !u->state || !u->tx_off || !u->owner) {
		err = -ENOMEM;
		goto out_free_arrays;
	}

	if (c.area) {
		u->geo.area = c.area;
	} else {
		err = map_area(u, c.hugepages);
		if (err)
			goto out_free_arrays;
	}

	/* Lowest addresses on top: the first frames handed out are the first
	 * in memory. */
	for (uint32_t i = 0; i < c.frame_count; i++)
		u->free_stack[i] = (uint64_t)(c.frame_count - 1 - i) << u->geo.frame_shift;
	u->free_top = c.frame_count;
	memset(u->state, UMEM_FRAME_FREE, c.frame_count);
	u->count[UMEM_FRAME_FREE] = c.frame_count;
	UMEM_POISON(u->geo.area, u->geo.size);
	*out = u;
	return 0;

out_free_arrays:
	free(u->owner);
	free(u->tx_off);
	free(u->state);
	free(u->free_stack);
	free(u);
	return err;
}

int umem_destroy(struct umem *u)
{
	if (!u)
		return 0;
	for (unsigned i = 0; i < UMEM_MAX_PORTS; i++)
		if (u->ports[i])
			return -EBUSY;
	/* The shadow must not outlive the mapping (or the caller's area). */
	UMEM_UNPOISON(u->geo.area, u->geo.size);
	if (u->map_len)
		munmap(u->geo.area, u->map_len);
	free(u->owner);
	free(u->tx_off);
	free(u->state);
	free(u->free_stack);
	free(u);
	return 0;
}

void umem_geometry(const struct umem *u, struct umem_geometry *out)
{
	*out = u->geo;
}

bool umem_uses_hugepages(const struct umem *u)
{
	return u->hugepages;
}

int umem_alloc(struct umem *u, uint64_t *addr)
{
	uint64_t a;
	uint32_t idx;

	if (!u->free_top) {
		u->stats.alloc_fail++;
		return -ENOMEM;
	}
	a = u->free_stack[--u->free_top];
	idx = frame_idx(u, a);
	u->state[idx] = UMEM_FRAME_HELD;
	u->count[UMEM_FRAME_FREE]--;
	u->count[UMEM_FRAME_HELD]++;
	u->stats.alloc++;
	UMEM_UNPOISON(frame_ptr(u, idx), u->geo.frame_size);
	*addr = a;
	return 0;
}

/* Pops n (<= free_top) frames into state st. */
static inline void pop_bulk(struct umem *u, uint64_t *addrs, unsigned n, uint8_t st)
{
	const uint64_t *src = u->free_stack + u->free_top;

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = *--src;

		u->state[a >> u->geo.frame_shift] = st;
		addrs[i] = a;
		UMEM_UNPOISON(u->geo.area + a, u->geo.frame_size);
	}
	u->free_top -= n;
	u->count[UMEM_FRAME_FREE] -= n;
	u->count[st] += n;
}

unsigned umem_alloc_bulk(struct umem *u, uint64_t *addrs, unsigned n)
{
	if (n > u->free_top) {
		u->stats.alloc_fail++;
		n = u->free_top;
	}
	pop_bulk(u, addrs, n, UMEM_FRAME_HELD);
	u->stats.alloc += n;
	return n;
}

unsigned umem__alloc_fill(struct umem *u, uint64_t *addrs, unsigned n, uint8_t slot)
{
	uint32_t avail = u->free_top > u->fill_reserve ? u->free_top - u->fill_reserve : 0;

	if (n > avail)
		n = avail;
	pop_bulk(u, addrs, n, UMEM_FRAME_FILL);
	for (unsigned i = 0; i < n; i++)
		u->owner[frame_idx(u, addrs[i])] = slot;
	return n;
}

/* Moves a frame (already checked: in range, state st) to the free stack. */
static inline void push_free(struct umem *u, uint32_t idx, uint8_t st)
{
	u->state[idx] = UMEM_FRAME_FREE;
	u->count[st]--;
	u->count[UMEM_FRAME_FREE]++;
	u->free_stack[u->free_top++] = (uint64_t)idx << u->geo.frame_shift;
	UMEM_POISON(frame_ptr(u, idx), u->geo.frame_size);
}

void umem_free(struct umem *u, uint64_t addr)
{
	uint32_t idx;
	uint8_t st;

	if (!addr_ok(u, addr)) {
		umem__misuse(u, "free of an address outside the UMEM", addr);
		return;
	}
	idx = frame_idx(u, addr);
	st = u->state[idx];
	if (st != UMEM_FRAME_HELD && st != UMEM_FRAME_LOANED) {
		umem__misuse(u, st == UMEM_FRAME_FREE ? "double free" : "free of a frame on a ring",
			     addr);
		return;
	}
	push_free(u, idx, st);
	u->stats.freed++;
}

void umem_free_bulk(struct umem *u, const uint64_t *addrs, unsigned n)
{
	uint64_t *stack = u->free_stack + u->free_top;
	const uint32_t shift = u->geo.frame_shift;
	unsigned held = 0, loaned = 0, bad = 0;

	/* The common case (every frame HELD) touches one state byte and one
	 * stack slot per frame; counts are settled once. */
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = addrs[i];
		uint32_t idx = (uint32_t)(a >> shift);
		uint8_t st;

		if (!addr_ok(u, a)) {
			bad++;
			umem__misuse(u, "free of an address outside the UMEM", a);
			continue;
		}
		st = u->state[idx];
		if (st == UMEM_FRAME_HELD) {
			held++;
		} else if (st == UMEM_FRAME_LOANED) {
			loaned++;
		} else {
			bad++;
			umem__misuse(u,
				     st == UMEM_FRAME_FREE ? "double free"
							   : "free of a frame on a ring",
				     a);
			continue;
		}
		u->state[idx] = UMEM_FRAME_FREE;
		*stack++ = (uint64_t)idx << shift;
		UMEM_POISON(frame_ptr(u, idx), u->geo.frame_size);
	}
	n -= bad;
	u->free_top += n;
	u->count[UMEM_FRAME_HELD] -= held;
	u->count[UMEM_FRAME_LOANED] -= loaned;
	u->count[UMEM_FRAME_FREE] += n;
	u->stats.freed += n;
}

void umem_loan(struct umem *u, uint64_t addr)
{
	uint32_t idx;

	if (!addr_ok(u, addr) || u->state[frame_idx(u, addr)] != UMEM_FRAME_HELD) {
		umem__misuse(u, "loan of a frame that is not held", addr);
		return;
	}
	idx = frame_idx(u, addr);
	u->state[idx] = UMEM_FRAME_LOANED;
	u->count[UMEM_FRAME_HELD]--;
	u->count[UMEM_FRAME_LOANED]++;
}

void umem_unloan(struct umem *u, uint64_t addr)
{
	uint32_t idx;

	if (!addr_ok(u, addr) || u->state[frame_idx(u, addr)] != UMEM_FRAME_LOANED) {
		umem__misuse(u, "unloan of a frame that is not loaned", addr);
		return;
	}
	idx = frame_idx(u, addr);
	u->state[idx] = UMEM_FRAME_HELD;
	u->count[UMEM_FRAME_LOANED]--;
	u->count[UMEM_FRAME_HELD]++;
}

enum umem_frame_state umem_frame_state(const struct umem *u, uint64_t addr)
{
	if (!addr_ok(u, addr))
		return UMEM_FRAME__NSTATES;
	return (enum umem_frame_state)u->state[frame_idx(u, addr)];
}

uint32_t umem_frames_in(const struct umem *u, enum umem_frame_state st)
{
	return (unsigned)st < UMEM_FRAME__NSTATES ? u->count[st] : 0;
}

bool umem_audit(const struct umem *u, struct umem_audit *out)
{
	uint32_t seen[UMEM_FRAME__NSTATES] = {0};
	uint64_t sum = 0;
	bool ok = true;

	for (unsigned s = 0; s < UMEM_FRAME__NSTATES; s++)
		sum += u->count[s];
	if (sum != u->geo.frame_count || u->count[UMEM_FRAME_FREE] != u->free_top)
		ok = false;
	for (uint32_t i = 0; i < u->geo.frame_count; i++) {
		if (u->state[i] >= UMEM_FRAME__NSTATES) {
			ok = false;
			continue;
		}
		seen[u->state[i]]++;
	}
	for (unsigned s = 0; s < UMEM_FRAME__NSTATES; s++)
		if (seen[s] != u->count[s])
			ok = false;
	/* Every stack entry names a distinct FREE frame base. Together with the
	 * counts above this proves the stack holds each FREE frame once. */
	for (uint32_t i = 0; i < u->free_top && ok; i++) {
		uint64_t a = u->free_stack[i];

		if (!addr_ok(u, a) || (a & u->frame_mask) ||
		    u->state[frame_idx(u, a)] != UMEM_FRAME_FREE)
			ok = false;
	}
	if (ok && u->free_top) {
		uint8_t *seen_free = calloc(u->geo.frame_count, 1);

		for (uint32_t i = 0; seen_free && i < u->free_top; i++) {
			uint32_t idx = frame_idx(u, u->free_stack[i]);

			if (seen_free[idx]++)
				ok = false;
		}
		free(seen_free);
	}
	if (out) {
		out->total = u->geo.frame_count;
		out->free = u->count[UMEM_FRAME_FREE];
		out->fill = u->count[UMEM_FRAME_FILL];
		out->held = u->count[UMEM_FRAME_HELD];
		out->tx_inflight = u->count[UMEM_FRAME_TX];
		out->loaned = u->count[UMEM_FRAME_LOANED];
	}
	return ok;
}

void umem_get_stats(const struct umem *u, struct umem_stats *out)
{
	*out = u->stats;
}

int umem_set_tx_done(struct umem *u, umem_tx_done_fn cb, void *opaque)
{
	if (cb && u->tx_done && (u->tx_done != cb || u->tx_done_opaque != opaque))
		return -EBUSY;
	u->tx_done = cb;
	u->tx_done_opaque = cb ? opaque : NULL;
	return 0;
}

/* ---- internal: ports ---------------------------------------------------- */

int umem__attach_port(struct umem *u, struct umem_port *p)
{
	unsigned free_slot = 0;

	/* Ports share a UMEM only when their backend can (AF_XDP's shared
	 * UMEM): a memlink's UMEM is the wire's, one end each. */
	for (unsigned i = 0; i < UMEM_MAX_PORTS; i++) {
		if (!u->ports[i]) {
			if (!free_slot)
				free_slot = i + 1;
		} else if (!p->ops->shares || u->ports[i]->ops != p->ops) {
			return -EBUSY;
		}
	}
	if (!free_slot)
		return -EBUSY;
	u->ports[free_slot - 1] = p;
	p->slot = (uint8_t)free_slot;
	return 0;
}

void umem__detach_port(struct umem *u, struct umem_port *p)
{
	if (p->slot && u->ports[p->slot - 1] == p)
		u->ports[p->slot - 1] = NULL;
	p->slot = 0;
}

void **umem__shared(struct umem *u)
{
	return &u->shared;
}

uint8_t umem__owner(const struct umem *u, uint64_t addr)
{
	return addr_ok(u, addr) ? u->owner[frame_idx(u, addr)] : 0;
}

/* Moves frame idx from state `from` to `to` when it is there. */
static inline bool move(struct umem *u, uint64_t addr, uint8_t from, uint8_t to, const char *what)
{
	uint32_t idx;

	if (!addr_ok(u, addr) || u->state[frame_idx(u, addr)] != from) {
		umem__misuse(u, what, addr);
		return false;
	}
	idx = frame_idx(u, addr);
	u->state[idx] = to;
	u->count[from]--;
	u->count[to]++;
	return true;
}

bool umem__rx_take(struct umem *u, uint64_t addr, uint8_t slot)
{
	uint32_t idx;

	if (!addr_ok(u, addr))
		return false;
	idx = frame_idx(u, addr);
	if (u->state[idx] != UMEM_FRAME_FILL || u->owner[idx] != slot)
		return false;
	u->state[idx] = UMEM_FRAME_HELD;
	u->count[UMEM_FRAME_FILL]--;
	u->count[UMEM_FRAME_HELD]++;
	return true;
}

bool umem__fill_to_free(struct umem *u, uint64_t addr)
{
	if (!addr_ok(u, addr) || u->state[frame_idx(u, addr)] != UMEM_FRAME_FILL) {
		umem__misuse(u, "fill reclaim of a frame not on the fill ring", addr);
		return false;
	}
	push_free(u, frame_idx(u, addr), UMEM_FRAME_FILL);
	return true;
}

bool umem__to_tx(struct umem *u, uint64_t addr, uint8_t slot)
{
	uint32_t idx;

	if (!move(u, addr, UMEM_FRAME_HELD, UMEM_FRAME_TX, "tx of a frame that is not held"))
		return false;
	idx = frame_idx(u, addr);
	u->tx_off[idx] = (uint16_t)(addr & u->frame_mask);
	u->owner[idx] = slot;
	return true;
}

bool umem__tx_to_held(struct umem *u, uint64_t addr)
{
	return move(u, addr, UMEM_FRAME_TX, UMEM_FRAME_HELD, "tx unpost of a frame not in TX");
}

bool umem__tx_to_free(struct umem *u, uint64_t addr)
{
	if (!addr_ok(u, addr) || u->state[frame_idx(u, addr)] != UMEM_FRAME_TX) {
		umem__misuse(u, "tx reclaim of a frame not in TX", addr);
		return false;
	}
	push_free(u, frame_idx(u, addr), UMEM_FRAME_TX);
	return true;
}

bool umem__complete_one(struct umem *u, uint64_t addr, uint8_t slot)
{
	uint32_t idx;

	if (!addr_ok(u, addr)) {
		u->stats.comp_out_of_range++;
		goto out_invalid;
	}
	idx = frame_idx(u, addr);
	if (u->state[idx] != UMEM_FRAME_TX) {
		u->stats.comp_not_inflight++;
		goto out_invalid;
	}
	if ((addr & u->frame_mask) != u->tx_off[idx]) {
		u->stats.comp_misaligned++;
		goto out_invalid;
	}
	/* Another port's frame: that port's ring still holds it. */
	if (u->owner[idx] != slot) {
		u->stats.comp_other_port++;
		goto out_invalid;
	}
	u->state[idx] = UMEM_FRAME_HELD;
	u->count[UMEM_FRAME_TX]--;
	u->count[UMEM_FRAME_HELD]++;
	return true;

out_invalid:
	u->stats.comp_invalid++;
	return false;
}

void umem__deliver_tx_done(struct umem *u, const uint64_t *addrs, unsigned n)
{
	if (!n)
		return;
	if (u->tx_done)
		u->tx_done(u->tx_done_opaque, addrs, n);
	else
		umem_free_bulk(u, addrs, n);
}

void umem__count_tx_refused(struct umem *u)
{
	u->stats.tx_refused++;
}

unsigned umem__fill_batch(const struct umem *u)
{
	return u->fill_batch;
}

unsigned umem__fill_watermark(const struct umem *u, unsigned ring_size)
{
	if (u->fill_watermark && u->fill_watermark <= ring_size)
		return u->fill_watermark;
	return ring_size / 2;
}
