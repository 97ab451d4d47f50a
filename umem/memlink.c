/* memlink: a software wire over one memfd. The shared memory holds a
 * header, four single-producer/single-consumer rings per end (fill, rx, tx,
 * completion, as AF_XDP has) and each end's UMEM area. The sending end
 * copies each frame into a fill frame of the far end and posts it on the
 * far RX ring, like AF_XDP copy mode; seeded faults are applied on the way. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "umem_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#ifndef UMEM_MEMLINK_RING_SIZE_DEFAULT
#define UMEM_MEMLINK_RING_SIZE_DEFAULT 2048u
#endif
#ifndef UMEM_MEMLINK_RING_SIZE_MAX
#define UMEM_MEMLINK_RING_SIZE_MAX (1u << 20)
#endif
/* Frames a faulty end can hold back (delayed); more go out on time. */
#ifndef UMEM_MEMLINK_FAULT_QUEUE
#define UMEM_MEMLINK_FAULT_QUEUE 64u
#endif

#define ML_MAGIC   0x314b4e494c4d4b53ull /* "SKMLINK1" */
#define ML_VERSION 1u
#define ML_LINE	   64

enum ml_attach {
	ML_DETACHED,
	ML_OPENING, /* rings being reset; the far sender keeps off */
	ML_ATTACHED,
};

/* Each index on its own cache line: producer and consumer run on
 * different cores. */
struct ml_ring_ctrl {
	_Alignas(ML_LINE) _Atomic uint32_t prod;
	_Alignas(ML_LINE) _Atomic uint32_t cons;
};

struct ml_end_hdr {
	_Alignas(ML_LINE) _Atomic uint32_t attached; /* enum ml_attach */
	uint32_t headroom;			     /* of the UMEM over this end */
	/* written only by this end's sender, read by anyone */
	_Alignas(ML_LINE) struct umem_memlink_stats stats;
	struct ml_ring_ctrl fill, rx, tx, comp;
	uint64_t fill_off, rx_off, tx_off, comp_off, area_off;
};

struct ml_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t ring_size;
	uint32_t frame_size;
	uint32_t frame_count;
	uint64_t size;
	struct ml_end_hdr end[2];
};

/* One end as this process maps it. */
struct ml_end {
	struct ml_end_hdr *h;
	uint64_t *fill;
	struct umem_desc *rx;
	struct umem_desc *tx;
	uint64_t *comp;
	uint8_t *area;
};

/* A frame the wire holds back: its bytes are copied out, its TX frame has
 * already completed. */
struct ml_held {
	uint64_t due_ns;
	uint64_t call; /* sender call that queued it: never released in the same one */
	uint32_t len;
	uint32_t copies;
	uint8_t *data;
};

struct ml_faults {
	struct umem_memlink_faults f;
	bool on;
	uint64_t rng;
	uint64_t calls;
	uint8_t *buf; /* (queue slots + reorder slot + scratch) * frame_size */
	struct ml_held q[UMEM_MEMLINK_FAULT_QUEUE];
	unsigned q_head, q_len;
	struct ml_held reorder;
	bool reorder_held;
	uint8_t *scratch;
};

struct umem_memlink {
	int fd;
	uint8_t *map;
	size_t size;
	struct ml_hdr *hdr;
	uint32_t ring_size, mask, frame_size, frame_count;
	uint64_t area_size;
	struct ml_end end[2];
	struct ml_faults faults[2];
	struct umem_port *port[2];
};

struct ml_port {
	struct umem_memlink *w;
	unsigned end;
};

/* ---- layout ------------------------------------------------------------- */

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* Lays out the header in a fresh mapping; returns the size needed. */
static size_t layout(struct ml_hdr *h, uint32_t ring_size, uint32_t frame_size,
		     uint32_t frame_count)
{
	size_t pg = page_size(), off = align_up(sizeof(struct ml_hdr), pg);
	uint64_t area = align_up((size_t)frame_size * frame_count, pg);

	for (unsigned e = 0; e < 2; e++) {
		struct ml_end_hdr *eh = h ? &h->end[e] : NULL;
		uint64_t fill = off, rx, tx, comp;

		rx = align_up(fill + ring_size * sizeof(uint64_t), ML_LINE);
		tx = align_up(rx + ring_size * sizeof(struct umem_desc), ML_LINE);
		comp = align_up(tx + ring_size * sizeof(struct umem_desc), ML_LINE);
		off = align_up(comp + ring_size * sizeof(uint64_t), pg);
		if (eh) {
			eh->fill_off = fill;
			eh->rx_off = rx;
			eh->tx_off = tx;
			eh->comp_off = comp;
		}
	}
	for (unsigned e = 0; e < 2; e++) {
		if (h)
			h->end[e].area_off = off;
		off += area;
	}
	return off;
}

static void bind_ends(struct umem_memlink *w)
{
	for (unsigned e = 0; e < 2; e++) {
		struct ml_end_hdr *eh = &w->hdr->end[e];

		w->end[e] = (struct ml_end){
			.h = eh,
			.fill = (uint64_t *)(w->map + eh->fill_off),
			.rx = (struct umem_desc *)(w->map + eh->rx_off),
			.tx = (struct umem_desc *)(w->map + eh->tx_off),
			.comp = (uint64_t *)(w->map + eh->comp_off),
			.area = w->map + eh->area_off,
		};
	}
}

static int wire_alloc(struct umem_memlink **out, int fd, void *map, size_t size)
{
	struct umem_memlink *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->map = map;
	w->size = size;
	w->hdr = map;
	w->ring_size = w->hdr->ring_size;
	w->mask = w->ring_size - 1;
	w->frame_size = w->hdr->frame_size;
	w->frame_count = w->hdr->frame_count;
	w->area_size = (uint64_t)w->frame_size * w->frame_count;
	bind_ends(w);
	*out = w;
	return 0;
}

int umem_memlink_create(struct umem_memlink **out, const struct umem_memlink_config *cfg)
{
	struct umem_memlink_config c = cfg ? *cfg : (struct umem_memlink_config){0};
	size_t size;
	void *map;
	int fd, err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!c.ring_size)
		c.ring_size = UMEM_MEMLINK_RING_SIZE_DEFAULT;
	if (!c.frame_size)
		c.frame_size = UMEM_FRAME_SIZE_DEFAULT;
	if (!c.frame_count)
		c.frame_count = UMEM_FRAME_COUNT_DEFAULT;
	if (c.ring_size < 2 || c.ring_size > UMEM_MEMLINK_RING_SIZE_MAX ||
	    (c.ring_size & (c.ring_size - 1)))
		return -EINVAL;
	if ((c.frame_size != 2048 && c.frame_size != 4096) || c.frame_count > UMEM_FRAME_COUNT_MAX)
		return -EINVAL;

	size = layout(NULL, c.ring_size, c.frame_size, c.frame_count);
	fd = memfd_create("skiff-memlink", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto out_close_fd;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto out_close_fd;
	}
	/* A fresh memfd reads as zeros: indices 0, both ends detached. */
	struct ml_hdr *h = map;

	h->version = ML_VERSION;
	h->ring_size = c.ring_size;
	h->frame_size = c.frame_size;
	h->frame_count = c.frame_count;
	h->size = size;
	layout(h, c.ring_size, c.frame_size, c.frame_count);
	atomic_thread_fence(memory_order_release);
	h->magic = ML_MAGIC;

	err = wire_alloc(out, fd, map, size);
	if (err)
		goto out_unmap;
	return 0;

out_unmap:
	munmap(map, size);
out_close_fd:
	close(fd);
	return err;
}

/* The header of a wire another process made: everything derived from it
 * (ring and area offsets) must be what layout() would derive, so that a
 * foreign or damaged file cannot point us outside the mapping. */
static bool header_valid(const struct ml_hdr *h, uint64_t file_size)
{
	struct ml_hdr want;

	if (h->magic != ML_MAGIC || h->version != ML_VERSION || h->size != file_size)
		return false;
	if (!h->ring_size || (h->ring_size & (h->ring_size - 1)) || h->ring_size > (1u << 24))
		return false;
	if ((h->frame_size != 2048 && h->frame_size != 4096) || !h->frame_count ||
	    h->frame_count > UMEM_FRAME_COUNT_MAX)
		return false;
	if (h->size != layout(&want, h->ring_size, h->frame_size, h->frame_count))
		return false;
	for (unsigned e = 0; e < 2; e++)
		if (h->end[e].fill_off != want.end[e].fill_off ||
		    h->end[e].rx_off != want.end[e].rx_off ||
		    h->end[e].tx_off != want.end[e].tx_off ||
		    h->end[e].comp_off != want.end[e].comp_off ||
		    h->end[e].area_off != want.end[e].area_off)
			return false;
	return true;
}

int umem_memlink_open(struct umem_memlink **out, int fd)
{
	const struct ml_hdr *h;
	struct stat st;
	void *map;
	int own, err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(struct ml_hdr))
		return -EINVAL;
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, own,
		   0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto out_close_fd;
	}
	h = map;
	if (!header_valid(h, (uint64_t)st.st_size)) {
		err = -EINVAL;
		goto out_unmap;
	}
	err = wire_alloc(out, own, map, (size_t)st.st_size);
	if (err)
		goto out_unmap;
	return 0;

out_unmap:
	munmap(map, (size_t)st.st_size);
out_close_fd:
	close(own);
	return err;
}

int umem_memlink_fd(const struct umem_memlink *w)
{
	return w->fd;
}

int umem_memlink_umem_config(struct umem_memlink *w, unsigned end, struct umem_config *out)
{
	if (end > 1)
		return -EINVAL;
	*out = (struct umem_config){
		.frame_size = w->frame_size,
		.frame_count = w->frame_count,
		.hugepages = UMEM_HUGEPAGES_OFF,
		.area = w->end[end].area,
	};
	return 0;
}

int umem_memlink_destroy(struct umem_memlink *w)
{
	if (!w)
		return 0;
	if (w->port[0] || w->port[1])
		return -EBUSY;
	for (unsigned e = 0; e < 2; e++)
		free(w->faults[e].buf);
	munmap(w->map, w->size);
	close(w->fd);
	free(w);
	return 0;
}

void umem_memlink_get_stats(const struct umem_memlink *w, unsigned end,
			    struct umem_memlink_stats *out)
{
	if (end > 1) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = w->end[end].h->stats;
}

unsigned umem_memlink_peer_room(const struct umem_memlink *w, unsigned end)
{
	const struct ml_end_hdr *far;
	uint32_t fill, rx_room;

	if (end > 1)
		return 0;
	far = w->end[end ^ 1].h;
	if (atomic_load_explicit(&far->attached, memory_order_acquire) != ML_ATTACHED)
		return 0;
	fill = atomic_load_explicit(&far->fill.prod, memory_order_acquire) -
	       atomic_load_explicit(&far->fill.cons, memory_order_acquire);
	rx_room = w->ring_size - (atomic_load_explicit(&far->rx.prod, memory_order_acquire) -
				  atomic_load_explicit(&far->rx.cons, memory_order_acquire));
	return fill < rx_room ? fill : rx_room;
}

/* ---- faults ------------------------------------------------------------- */

/* splitmix64: tiny, and every seed (0 included) gives a good stream. */
static inline uint64_t ml_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline bool ml_hit(uint64_t *s, uint32_t ppm)
{
	return ((ml_rand(s) >> 32) * 1000000u >> 32) < ppm;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void umem_memlink_set_faults(struct umem_memlink *w, unsigned end,
			     const struct umem_memlink_faults *f)
{
	struct ml_faults *fs;

	if (end > 1)
		return;
	fs = &w->faults[end];
	/* Frames held back under the old settings are lost with them. */
	fs->q_head = fs->q_len = 0;
	fs->reorder_held = false;
	fs->calls = 0;
	if (!f) {
		fs->on = false;
		memset(&fs->f, 0, sizeof(fs->f));
		return;
	}
	fs->f = *f;
	fs->rng = f->seed;
	fs->on = f->drop_ppm || f->duplicate_ppm || f->reorder_ppm || f->corrupt_ppm ||
		 f->delay_ppm || f->stall;
	if (fs->on && !fs->buf) {
		/* Without this memory held-back frames simply go out at once. */
		fs->buf = malloc((size_t)(UMEM_MEMLINK_FAULT_QUEUE + 2) * w->frame_size);
		if (fs->buf) {
			for (unsigned i = 0; i < UMEM_MEMLINK_FAULT_QUEUE; i++)
				fs->q[i].data = fs->buf + (size_t)i * w->frame_size;
			fs->reorder.data =
				fs->buf + (size_t)UMEM_MEMLINK_FAULT_QUEUE * w->frame_size;
			fs->scratch = fs->reorder.data + w->frame_size;
		}
	}
}

/* ---- the sender: moving frames across ------------------------------------ */

/* The far end's fill and RX rings as one sender call sees them. The far
 * side's indices are read once (acquire) and again only when exhausted. */
struct ml_out {
	struct umem_memlink *w;
	struct ml_end *far;
	struct umem_memlink_stats *st;
	bool open;
	uint32_t fill_cons, fill_prod, rx_prod, rx_cons;
	uint32_t data_off; /* where a packet starts in a far frame */
	uint32_t room;	   /* bytes a far frame can take */
};

static void out_begin(struct umem_memlink *w, unsigned e, struct ml_out *o)
{
	struct ml_end *far = &w->end[e ^ 1];
	struct ml_end_hdr *fh = far->h;

	o->w = w;
	o->far = far;
	o->st = &w->end[e].h->stats;
	o->open = atomic_load_explicit(&fh->attached, memory_order_acquire) == ML_ATTACHED;
	if (!o->open)
		return;
	o->data_off = fh->headroom + UMEM_XDP_PACKET_HEADROOM;
	o->room = o->data_off < w->frame_size ? w->frame_size - o->data_off : 0;
	o->fill_cons = atomic_load_explicit(&fh->fill.cons, memory_order_relaxed);
	o->fill_prod = atomic_load_explicit(&fh->fill.prod, memory_order_acquire);
	o->rx_prod = atomic_load_explicit(&fh->rx.prod, memory_order_relaxed);
	o->rx_cons = atomic_load_explicit(&fh->rx.cons, memory_order_acquire);
}

static void out_end(struct ml_out *o)
{
	struct ml_end_hdr *fh = o->far->h;

	if (!o->open)
		return;
	atomic_store_explicit(&fh->fill.cons, o->fill_cons, memory_order_release);
	atomic_store_explicit(&fh->rx.prod, o->rx_prod, memory_order_release);
}

/* Copies one frame into a far fill frame and posts it on the far RX ring. */
static void out_deliver(struct ml_out *o, const uint8_t *data, uint32_t len)
{
	struct umem_memlink *w = o->w;
	struct ml_end *far = o->far;
	uint64_t base;

	if (!o->open) {
		o->st->no_fill++;
		return;
	}
	if (len > o->room) {
		o->st->invalid++;
		return;
	}
	if (o->rx_prod - o->rx_cons == w->ring_size) {
		o->rx_cons = atomic_load_explicit(&far->h->rx.cons, memory_order_acquire);
		if (o->rx_prod - o->rx_cons == w->ring_size) {
			o->st->rx_full++;
			return;
		}
	}
	for (;;) {
		if (o->fill_cons == o->fill_prod) {
			o->fill_prod =
				atomic_load_explicit(&far->h->fill.prod, memory_order_acquire);
			if (o->fill_cons == o->fill_prod) {
				o->st->no_fill++;
				return;
			}
		}
		base = far->fill[o->fill_cons++ & w->mask] & ~(uint64_t)(w->frame_size - 1);
		if (base < w->area_size)
			break;
		/* The far end posted garbage: skip it, as a NIC would. */
		o->st->invalid++;
	}
	memcpy(far->area + base + o->data_off, data, len);
	far->rx[o->rx_prod++ & w->mask] = (struct umem_desc){
		.addr = base + o->data_off,
		.len = len,
	};
	o->st->delivered++;
}

static void deliver_held(struct ml_out *o, const struct ml_held *h)
{
	for (uint32_t i = 0; i < h->copies; i++)
		out_deliver(o, h->data, h->len);
}

/* Releases held-back frames that are due (never in the call that queued them). */
static void release_due(struct ml_faults *fs, struct ml_out *o, uint64_t now)
{
	while (fs->q_len) {
		struct ml_held *h = &fs->q[fs->q_head];

		if (h->call == fs->calls || h->due_ns > now)
			break;
		deliver_held(o, h);
		fs->q_head = (fs->q_head + 1) % UMEM_MEMLINK_FAULT_QUEUE;
		fs->q_len--;
	}
}

/* Sends one frame through the fault model; true when it is held for reordering. */
static bool send_faulty(struct umem_memlink *w, struct ml_faults *fs, struct ml_out *o,
			const uint8_t *data, uint32_t len, uint64_t now)
{
	/* Five draws per frame whatever happens, so that one frame's fate
	 * does not shift the next one's. */
	bool drop = ml_hit(&fs->rng, fs->f.drop_ppm);
	bool corrupt = ml_hit(&fs->rng, fs->f.corrupt_ppm);
	bool dup = ml_hit(&fs->rng, fs->f.duplicate_ppm);
	bool reorder = ml_hit(&fs->rng, fs->f.reorder_ppm);
	bool delay = ml_hit(&fs->rng, fs->f.delay_ppm);
	struct ml_held *h = NULL;
	uint8_t *copy;

	if (drop) {
		o->st->dropped++;
		return false;
	}
	if (fs->buf && delay && fs->q_len < UMEM_MEMLINK_FAULT_QUEUE) {
		h = &fs->q[(fs->q_head + fs->q_len) % UMEM_MEMLINK_FAULT_QUEUE];
		h->due_ns = now + (uint64_t)fs->f.delay_us * 1000u;
		o->st->delayed++;
	} else if (fs->buf && reorder && !fs->reorder_held) {
		h = &fs->reorder;
		o->st->reordered++;
	}
	if (!h && !corrupt) {
		out_deliver(o, data, len);
		if (dup) {
			out_deliver(o, data, len);
			o->st->duplicated++;
		}
		return false;
	}
	/* The sender's frame is never touched: faults apply to a copy. */
	copy = h ? h->data : fs->scratch;
	if (!copy) {
		out_deliver(o, data, len);
		return false;
	}
	if (len > w->frame_size)
		len = w->frame_size;
	memcpy(copy, data, len);
	if (corrupt && len) {
		copy[ml_rand(&fs->rng) % len] ^= 0xff;
		o->st->corrupted++;
	}
	if (dup)
		o->st->duplicated++;
	if (!h) {
		for (int i = 0; i < 1 + dup; i++)
			out_deliver(o, copy, len);
		return false;
	}
	h->len = len;
	h->copies = 1 + dup;
	h->call = fs->calls;
	if (h == &fs->reorder) {
		fs->reorder_held = true;
		return true;
	}
	fs->q_len++;
	return false;
}

/* Moves what end e has posted on its TX ring to the far end and completes
 * it. `flush`: an explicit flush, which also lets a frame held for
 * reordering go when nothing new came to follow it. */
static void ml_move(struct umem_memlink *w, unsigned e, bool flush)
{
	struct ml_end *me = &w->end[e];
	struct ml_end_hdr *h = me->h;
	struct ml_faults *fs = &w->faults[e];
	struct umem_memlink_stats *st = &h->stats;
	uint32_t tx_cons, tx_prod, comp_prod, comp_cons, n;
	uint64_t now = 0;
	struct ml_out o;

	if (fs->on && fs->f.stall)
		return;
	tx_cons = atomic_load_explicit(&h->tx.cons, memory_order_relaxed);
	tx_prod = atomic_load_explicit(&h->tx.prod, memory_order_acquire);
	n = tx_prod - tx_cons;
	if (!n && !(fs->on && (fs->q_len || fs->reorder_held)))
		return;
	comp_prod = atomic_load_explicit(&h->comp.prod, memory_order_relaxed);
	comp_cons = atomic_load_explicit(&h->comp.cons, memory_order_acquire);
	/* A descriptor leaves the TX ring only with room for its completion. */
	if (n > w->ring_size - (comp_prod - comp_cons))
		n = w->ring_size - (comp_prod - comp_cons);

	out_begin(w, e, &o);
	if (fs->on) {
		fs->calls++;
		if (fs->f.delay_ppm || fs->q_len)
			now = now_ns();
		release_due(fs, &o, now);
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct umem_desc *d = &me->tx[(tx_cons + i) & w->mask];
		uint64_t addr = d->addr;
		uint32_t len = d->len;

		me->comp[(comp_prod + i) & w->mask] = addr;
		if (!umem_span_ok(w->area_size, w->frame_size, addr, len)) {
			st->invalid++;
			continue;
		}
		if (!fs->on) {
			out_deliver(&o, me->area + addr, len);
			continue;
		}
		bool held_now = send_faulty(w, fs, &o, me->area + addr, len, now);

		/* A frame held for reordering goes right after the next one. */
		if (!held_now && fs->reorder_held) {
			deliver_held(&o, &fs->reorder);
			fs->reorder_held = false;
		}
	}
	/* Nothing followed it: it goes now rather than waiting forever. */
	if (flush && !n && fs->reorder_held && fs->reorder.call != fs->calls) {
		deliver_held(&o, &fs->reorder);
		fs->reorder_held = false;
	}
	out_end(&o);
	st->sent += n;
	atomic_store_explicit(&h->tx.cons, tx_cons + n, memory_order_release);
	atomic_store_explicit(&h->comp.prod, comp_prod + n, memory_order_release);
}

/* ---- port ops ----------------------------------------------------------- */

static inline struct ml_port *mlp(const struct umem_port *p)
{
	return p->backend;
}

static unsigned ml_rx(struct umem_port *p, struct umem_desc *descs, unsigned max)
{
	struct umem_memlink *w = mlp(p)->w;
	struct ml_end *me = &w->end[mlp(p)->end];
	uint32_t cons, prod, n;

	ml_move(w, mlp(p)->end, false);
	cons = atomic_load_explicit(&me->h->rx.cons, memory_order_relaxed);
	prod = atomic_load_explicit(&me->h->rx.prod, memory_order_acquire);
	n = prod - cons;
	if (n > max)
		n = max;
	for (uint32_t i = 0; i < n; i++)
		descs[i] = me->rx[(cons + i) & w->mask];
	atomic_store_explicit(&me->h->rx.cons, cons + n, memory_order_release);
	return n;
}

static unsigned ml_tx(struct umem_port *p, const struct umem_desc *descs, unsigned n)
{
	struct umem_memlink *w = mlp(p)->w;
	struct ml_end *me = &w->end[mlp(p)->end];
	uint32_t prod, cons, room;

	prod = atomic_load_explicit(&me->h->tx.prod, memory_order_relaxed);
	cons = atomic_load_explicit(&me->h->tx.cons, memory_order_acquire);
	room = w->ring_size - (prod - cons);
	if (n > room)
		n = room;
	for (uint32_t i = 0; i < n; i++)
		me->tx[(prod + i) & w->mask] = descs[i];
	atomic_store_explicit(&me->h->tx.prod, prod + n, memory_order_release);
	return n;
}

static int ml_flush(struct umem_port *p)
{
	p->stats.kicks++;
	ml_move(mlp(p)->w, mlp(p)->end, true);
	return 0;
}

static unsigned ml_complete(struct umem_port *p, uint64_t *addrs, unsigned max)
{
	struct umem_memlink *w = mlp(p)->w;
	struct ml_end *me = &w->end[mlp(p)->end];
	uint32_t cons, prod, n;

	ml_move(w, mlp(p)->end, false);
	cons = atomic_load_explicit(&me->h->comp.cons, memory_order_relaxed);
	prod = atomic_load_explicit(&me->h->comp.prod, memory_order_acquire);
	n = prod - cons;
	if (n > max)
		n = max;
	for (uint32_t i = 0; i < n; i++)
		addrs[i] = me->comp[(cons + i) & w->mask];
	atomic_store_explicit(&me->h->comp.cons, cons + n, memory_order_release);
	return n;
}

static unsigned ml_fill(struct umem_port *p, const uint64_t *addrs, unsigned n)
{
	struct umem_memlink *w = mlp(p)->w;
	struct ml_end *me = &w->end[mlp(p)->end];
	uint32_t prod, cons, room;

	prod = atomic_load_explicit(&me->h->fill.prod, memory_order_relaxed);
	cons = atomic_load_explicit(&me->h->fill.cons, memory_order_acquire);
	room = w->ring_size - (prod - cons);
	if (n > room)
		n = room;
	for (uint32_t i = 0; i < n; i++)
		me->fill[(prod + i) & w->mask] = addrs[i];
	atomic_store_explicit(&me->h->fill.prod, prod + n, memory_order_release);
	return n;
}

static unsigned ml_fill_level(const struct umem_port *p, unsigned *size)
{
	struct umem_memlink *w = mlp(p)->w;
	struct ml_end_hdr *h = w->end[mlp(p)->end].h;

	*size = w->ring_size;
	return atomic_load_explicit(&h->fill.prod, memory_order_relaxed) -
	       atomic_load_explicit(&h->fill.cons, memory_order_acquire);
}

static int ml_fd(const struct umem_port *p)
{
	(void)p;
	return -1;
}

static void ml_get_stats(const struct umem_port *p, struct umem_port_stats *out)
{
	struct umem_memlink *w = mlp(p)->w;
	unsigned e = mlp(p)->end;
	const struct umem_memlink_stats *mine = &w->end[e].h->stats;
	const struct umem_memlink_stats *in = &w->end[e ^ 1].h->stats;

	/* Frames sent to us and lost at our end count as our RX drops. */
	out->rx_fill_ring_empty_descs = in->no_fill;
	out->rx_ring_full = in->rx_full;
	out->rx_dropped = in->no_fill + in->rx_full;
	out->tx_invalid_descs = mine->invalid;
}

static void ml_destroy(struct umem_port *p)
{
	struct ml_port *mp = mlp(p);
	struct umem_memlink *w = mp->w;
	struct ml_faults *fs = &w->faults[mp->end];

	atomic_store_explicit(&w->end[mp->end].h->attached, ML_DETACHED, memory_order_release);
	fs->q_head = fs->q_len = 0;
	fs->reorder_held = false;
	w->port[mp->end] = NULL;
	free(mp);
}

static const struct umem_port_ops ml_ops = {
	.name = "memlink",
	.rx = ml_rx,
	.tx = ml_tx,
	.flush = ml_flush,
	.complete = ml_complete,
	.fill = ml_fill,
	.fill_level = ml_fill_level,
	.fd = ml_fd,
	.get_stats = ml_get_stats,
	.destroy = ml_destroy,
};

static void reset_ring(struct ml_ring_ctrl *r)
{
	atomic_store_explicit(&r->prod, 0, memory_order_relaxed);
	atomic_store_explicit(&r->cons, 0, memory_order_relaxed);
}

int umem_memlink_port(struct umem_port **out, struct umem_memlink *w, unsigned end, struct umem *u)
{
	struct umem_geometry g;
	struct umem_port *p;
	struct ml_port *mp;
	struct ml_end_hdr *h;
	uint32_t expect = ML_DETACHED;
	int err;

	if (!out || !w || !u || end > 1)
		return -EINVAL;
	*out = NULL;
	umem_geometry(u, &g);
	if (g.area != w->end[end].area || g.frame_size != w->frame_size ||
	    g.frame_count != w->frame_count)
		return -EINVAL;
	h = w->end[end].h;
	if (w->port[end])
		return -EBUSY;

	p = calloc(1, sizeof(*p));
	mp = calloc(1, sizeof(*mp));
	if (!p || !mp) {
		err = -ENOMEM;
		goto out_free;
	}
	mp->w = w;
	mp->end = end;
	p->ops = &ml_ops;
	p->umem = u;
	p->backend = mp;
	err = umem__attach_port(u, p);
	if (err)
		goto out_free;
	/* Claimed across processes: the far sender stays off our rings until
	 * they are reset and attached reads ML_ATTACHED. */
	if (!atomic_compare_exchange_strong(&h->attached, &expect, ML_OPENING)) {
		err = -EBUSY;
		goto out_detach;
	}
	/* A process that got the wire by fork() has no page tables for it
	 * (MAP_POPULATE filled only its creator's), and then every frame's
	 * first touch, ours or the far sender's copy into it, is a page
	 * fault: a fill ring of 16,384 frames went round at 4,000 requests/s
	 * in a VM. Fault it all in now, as AF_XDP's registration pins its
	 * UMEM (best effort: kernels before 5.14 lack the advice). */
	madvise(w->map, w->size, MADV_POPULATE_WRITE);
	reset_ring(&h->fill);
	reset_ring(&h->rx);
	reset_ring(&h->tx);
	reset_ring(&h->comp);
	h->headroom = g.headroom;
	atomic_store_explicit(&h->attached, ML_ATTACHED, memory_order_release);
	w->port[end] = p;
	*out = p;
	return 0;

out_detach:
	umem__detach_port(u, p);
out_free:
	free(mp);
	free(p);
	return err;
}
