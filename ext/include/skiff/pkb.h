/**
 * @file
 * ext/: pkb, the packet buffer over a UMEM frame, and its extensions.
 *
 * A pkb is a head (data/tail/head/end pointers and a little state) over one
 * UMEM frame. The frame's reserved headroom (umem_geometry.headroom, default
 * 256 bytes) holds, at fixed offsets from the frame's start:
 *
 * @verbatim
 *   frame + 0                 struct pkb_shinfo   data refcount, release hook, ubuf
 *   frame + PKB_SHINFO_SIZE   struct pkb          the in-place head
 *   frame + PKB_META_SIZE     head                first byte a header may be pushed to
 *   ...                       data .. tail        the packet
 *   frame + frame_size        end
 * @endverbatim
 *
 * so building a pkb for a received frame allocates nothing (seed 003,
 * option A). A clone is a separate head taken from the pool's head free list
 * that shares the frame through the data refcount; writing into shared data
 * needs pkb_unshare() first (copy-on-write).
 *
 * Extensions (seed 000): a pkb has an `active` bitmask and one pointer to a
 * refcounted extension area that holds every extension at a fixed offset.
 * Clones share the area; adding to a shared area copies it first; deleting
 * only clears a bit and cannot fail; the last pkb to go releases the area.
 *
 * Zero-copy notification (seed 004): a frame's shared info may point to one
 * struct pkb_ubuf; its owner hears (ops->put) when the data is finished with,
 * clones and frame references included (seeds 001, 002).
 *
 * Threading: a pool, the pkbs built from it, their frames and their
 * extension areas belong to one thread (the thread that owns the UMEM);
 * nothing here locks. Refcounts above one are changed with atomic
 * instructions (seed 000) so that a count read from elsewhere is never torn,
 * but the free lists are not thread-safe. struct pkb_sa is the exception: SA
 * objects may be shared by the stacks of several threads, so their refcount
 * is atomic and pkb_sa_put() may run anywhere.
 *
 * Errors: actions return 0 or -errno, constructors return int and write an
 * out-parameter, predicates return bool, destructors accept NULL and return
 * void (STYLE.md).
 */
#ifndef SKIFF_PKB_H
#define SKIFF_PKB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <skiff/export.h>
#include <skiff/sanitize.h>
#include <skiff/umem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Compile-time options
 */

/** Bytes of scratch space in every head for the layer holding the pkb
 * (stack/ keeps its lwIP pbuf_custom there). Copied by clone and copy. */
#ifndef PKB_CB_SIZE
#define PKB_CB_SIZE 48
#endif

/** Default TX headroom: Ethernet 14 + VLAN 4 + IPv6 40 + TCP with options
 * 60 = 118, rounded up to 128. */
#ifndef PKB_TX_HEADROOM
#define PKB_TX_HEADROOM 128u
#endif

#ifndef PKB_POOL_HEADS_DEFAULT
#define PKB_POOL_HEADS_DEFAULT 1024u
#endif
#ifndef PKB_POOL_AREAS_DEFAULT
#define PKB_POOL_AREAS_DEFAULT 1024u
#endif

/** Security associations a secpath can record (IPsec nesting depth). */
#ifndef PKB_SECPATH_MAX
#define PKB_SECPATH_MAX 6
#endif

#define PKB__POISON(p, n)   SKIFF_POISON(p, n)
#define PKB__UNPOISON(p, n) SKIFF_UNPOISON(p, n)

#define PKB__LIKELY(x)	 __builtin_expect(!!(x), 1)
#define PKB__UNLIKELY(x) __builtin_expect(!!(x), 0)

struct pkb_pool;
struct pkb;

/* ------------------------------------------------------------------------
 * Zero-copy notification (seed 004)
 */

struct pkb_ubuf;

struct pkb_ubuf_ops {
	/** One reference was dropped. The owner decrements refcnt and, at 0,
	 * finishes its object (e.g. reports the send complete). Called on the
	 * pool's thread; may call pkb functions (nothing of the frame that
	 * dropped the reference is touched afterwards). */
	void (*put)(struct pkb_ubuf *ubuf);
};

/** ubuf->flags bit set by ext/ whenever it copies data out of a frame that
 * carries this ubuf (pkb_copy, pkb_unshare, pkb_orphan): the data went out
 * of a copy, not zero-copy. ext/ never clears it. */
#define PKB_UBUF_F_COPIED 0x1u

/**
 * A generic zero-copy notification object, embedded by its owner
 * (zerocopy/) in its own structure.
 *
 * refcnt: the owner's count; pkb_ubuf_get() adds one, and every reference
 * is dropped through ops->put. Invariant: equals the number of pointers to
 * it (the owner's own, plus one per frame whose shared info points to it).
 * A frame's reference is taken by pkb_set_ubuf() and dropped when the
 * frame's data refcount reaches 0 (before the frame is released), so
 * clones and frame references (pkb_frame_get) keep it alive and pkb_copy()
 * does not carry it.
 */
struct pkb_ubuf {
	const struct pkb_ubuf_ops *ops;
	uint32_t refcnt;
	uint32_t flags; /* the owner's, plus PKB_UBUF_F_* */
};

static inline void pkb_ubuf_get(struct pkb_ubuf *ubuf)
{
	ubuf->refcnt++;
}

/** Drop one reference through ops->put; accepts NULL. */
static inline void pkb_ubuf_put(struct pkb_ubuf *ubuf)
{
	if (ubuf)
		ubuf->ops->put(ubuf);
}

/* ------------------------------------------------------------------------
 * Shared info and the head (exposed for the inline functions below; use
 * the functions)
 */

/**
 * Called once when a frame's data is finished with (data refcount 0,
 * clones and frame references included), instead of umem_free(). The
 * frame (any state umem_free accepts: HELD or LOANED) now belongs to the
 * callee, which frees, recycles or keeps it. May call pkb functions.
 * @param frame the frame's base address
 */
typedef void (*pkb_release_fn)(void *opaque, struct pkb_pool *pool, uint64_t frame);

/**
 * Per-frame shared info, at the frame's first byte (like skb_shared_info,
 * but before the data: seed 001 suggests it).
 *
 * dataref: 1 when a pkb is built over the frame, released at 0; equals the
 * number of heads pointing at the frame plus the frame references taken
 * with pkb_frame_get().
 */
struct pkb_shinfo {
	uint32_t dataref;
	uint32_t __pad;
	struct pkb_ubuf *ubuf;	/* NULL, or one reference on it */
	pkb_release_fn release; /* NULL: the pool's default, else umem_free */
	void *release_opaque;
	/* A checksum cache over the frame's bytes, kept by its user (the
	 * stack: a received payload's sum, reused when the payload is sent
	 * on as it lies): the one's complement sum, folded and not inverted,
	 * of csum_len bytes from csum_off (from the frame's first byte).
	 * csum_len 0: nothing cached; 0 on build and alloc. Whoever writes
	 * inside the span forgets it (pkb_csum_forget()). */
	uint16_t csum_off, csum_len, csum, __pad16;
	uint64_t __reserved[3];
};

#define PKB_F_CLONE 0x01 /* the head came from the pool; else it lives in its frame */

/**
 * The packet buffer head. Read the fields freely; change them only through
 * the functions below. Invariant: head <= data <= tail <= end, all inside
 * one frame.
 */
struct pkb {
	uint8_t *data; /* first byte of the packet */
	uint8_t *tail; /* one past the last byte */
	uint8_t *head; /* lowest address data may be pushed to */
	uint8_t *end;  /* one past the frame */
	struct pkb_shinfo *shinfo;
	struct pkb_pool *pool;
	struct pkb_ext *ext; /* meaningful only while active != 0 */
	uint8_t active;	     /* bit (1 << enum pkb_ext_id) per extension */
	uint8_t flags;	     /* PKB_F_* */
	uint16_t __pad0;
	uint32_t __pad1;
	struct pkb *next; /* the holder's to use for queues; NULL on build */
	/* The holder's scratch space: undefined after build/alloc, copied by
	 * clone and copy. */
	uint8_t cb[PKB_CB_SIZE] __attribute__((aligned(8)));
} __attribute__((aligned(64)));

/** Where the metadata sits in a frame; the UMEM's headroom must cover it. */
#define PKB_SHINFO_SIZE 64u
#define PKB_META_SIZE	(PKB_SHINFO_SIZE + (unsigned)sizeof(struct pkb))

#ifdef __cplusplus
#define PKB__STATIC_ASSERT static_assert
#else
#define PKB__STATIC_ASSERT _Static_assert
#endif
PKB__STATIC_ASSERT(sizeof(struct pkb_shinfo) == PKB_SHINFO_SIZE, "shinfo is one cache line");
PKB__STATIC_ASSERT(PKB_META_SIZE <= UMEM_HEADROOM_DEFAULT,
		   "pkb metadata must fit the default UMEM headroom");
PKB__STATIC_ASSERT(PKB_META_SIZE % 64 == 0, "head starts on a cache line");

/* ------------------------------------------------------------------------
 * Extensions (seed 000)
 */

enum pkb_ext_id {
	PKB_EXT_MPTCP,	 /* struct pkb_ext_mptcp: the DSS mapping */
	PKB_EXT_BRIDGE,	 /* struct pkb_ext_bridge: L2 ingress facts */
	PKB_EXT_SECPATH, /* struct pkb_ext_secpath: the SAs that accepted it */
	PKB_EXT__NUM,
};

/* Flag bits of the DSS option's flags byte, as on the wire (RFC 8684
 * section 3.3). 'a' and 'm' mean something only with 'A' and 'M'. */
#define PKB_DSS_DATA_ACK 0x01 /* A: DATA_ACK present */
#define PKB_DSS_ACK64	 0x02 /* a: DATA_ACK is 8 octets (else 4) */
#define PKB_DSS_MAP	 0x04 /* M: DSN, subflow seq, data-level length (+checksum) present */
#define PKB_DSS_DSN64	 0x08 /* m: DSN is 8 octets (else 4) */
#define PKB_DSS_DATA_FIN 0x10 /* F: DATA_FIN */
#define PKB_DSS_FLAGS	 0x1f

/**
 * MPTCP: the DSS mapping a segment carries (RFC 8684 section 3.3). Parsed
 * from / written to TCP option kind 30 subtype 2 by <skiff/mptcp_dss.h>.
 * 4-octet fields on the wire hold the low 32 bits; widening them is the
 * connection's job (it knows the expected upper bits).
 */
struct pkb_ext_mptcp {
	uint64_t data_ack;    /* with PKB_DSS_DATA_ACK */
	uint64_t data_seq;    /* DSN, with PKB_DSS_MAP */
	uint32_t subflow_seq; /* relative to the subflow's initial sequence number */
	uint16_t data_len;    /* data-level length; 0 = infinite mapping */
	uint16_t csum;	      /* DSS checksum, with has_csum */
	uint8_t flags;	      /* PKB_DSS_*, the wire's flag bits */
	bool has_csum;	      /* the mapping carries a checksum (negotiated, and M) */
};

#define PKB_BRIDGE_F_VLAN 0x01 /* the frame came in with a VLAN tag */

/** BRIDGE: what the frame looked like at L2 when it came in; recorded by
 * the netif on receive, used on egress and forwarding. */
struct pkb_ext_bridge {
	uint32_t ingress_port; /* ifindex or port number, the netif's choice */
	uint16_t vlan_tci;     /* with PKB_BRIDGE_F_VLAN: PCP, DEI, VID (host order) */
	uint16_t vlan_proto;   /* with PKB_BRIDGE_F_VLAN: 0x8100 or 0x88a8 (host order) */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint8_t flags; /* PKB_BRIDGE_F_* */
};

struct pkb_sa;

/** Called once when an SA's refcount reaches 0; the owner frees it. */
typedef void (*pkb_sa_destroy_fn)(struct pkb_sa *sa);

/**
 * A security association, owned by whoever created it (an SA table), held
 * by secpaths. refcnt: 1 on pkb_sa_init(), destroyed at 0; equals the number
 * of pointers to it (the owner's, plus one per secpath entry). Atomic: SAs
 * may be shared across threads.
 */
struct pkb_sa {
	uint32_t refcnt;
	uint32_t spi; /* network byte order, as on the wire */
	uint32_t reqid;
	uint8_t proto;	/* IPPROTO_ESP or IPPROTO_AH */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint16_t flags; /* the owner's */
	uint8_t daddr[16];
	pkb_sa_destroy_fn destroy;
	void *opaque;
};

/** SECPATH: the SAs that accepted the packet, outermost first. Each entry
 * holds one reference on its SA, owned by the extension area. */
struct pkb_ext_secpath {
	uint8_t len;
	struct pkb_sa *sa[PKB_SECPATH_MAX];
};

/**
 * The extension area: every extension at a fixed offset. refcnt: 1 on
 * allocation, released at 0; equals the number of pkbs whose `active` is
 * non-zero and whose ext points to it. `present` marks the slots whose
 * contents are initialized and whose references (secpath SAs) the area
 * holds; each sharing pkb's `active` is a subset of it.
 */
struct pkb_ext {
	uint32_t refcnt;
	uint8_t present;
	uint8_t __pad[3];
	struct pkb_ext_mptcp mptcp;
	struct pkb_ext_bridge bridge;
	struct pkb_ext_secpath secpath;
} __attribute__((aligned(64)));

/* ------------------------------------------------------------------------
 * The pool
 */

/** Run-time options; a NULL config or a zero field means the default. */
struct pkb_pool_config {
	uint32_t heads; /**< clone heads (PKB_POOL_HEADS_DEFAULT) */
	uint32_t areas; /**< extension areas (PKB_POOL_AREAS_DEFAULT) */
	uint32_t
		tx_headroom; /**< bytes between head and data in pkb_alloc_tx() (PKB_TX_HEADROOM) */
	/** Release hook for frames that set none (pkb_set_release); NULL =
	 * umem_free. */
	pkb_release_fn release;
	void *release_opaque;
};

/** Counters; live_* are what pkb_pool_destroy() waits for. */
struct pkb_pool_stats {
	uint64_t live_pkbs;   /* heads in use, in place and clones */
	uint64_t live_heads;  /* clone heads taken from the pool */
	uint64_t live_areas;  /* extension areas taken from the pool */
	uint64_t live_frames; /* frames with a data refcount >= 1 */
	uint64_t head_alloc_fail;
	uint64_t area_alloc_fail;
	uint64_t frame_alloc_fail;
	uint64_t injected_fail;	  /* failures caused by pkb_pool_inject_alloc_failure */
	uint64_t area_cow;	  /* areas copied for an add on a shared area */
	uint64_t data_copy;	  /* frames copied: pkb_copy, pkb_unshare, pkb_orphan */
	uint64_t orphaned;	  /* pkb_orphan calls that copied */
	uint64_t frames_released; /* data refcounts that reached 0 */
	uint64_t rx_invalid;	  /* pkb_build/pkb_build_rx refusals */
	uint64_t misuse;	  /* bad pkb_frame_get/put addresses */
};

/** The part of struct pkb_pool that inline functions use. Internal. */
struct pkb_pool__hot {
	uint8_t *area;
	uint64_t area_size;
	uint64_t frame_mask; /* frame_size - 1 */
	uint32_t frame_size;
	uint32_t fail_armed; /* failure injection pending: take the slow paths */
	struct pkb **head_free;
	uint32_t head_top;
	uint32_t area_top;
	struct pkb_ext **area_free;
	uint64_t live_pkbs;
	uint64_t live_frames;
	uint64_t frames_released;
	uint64_t rx_invalid;
	struct umem *umem;
	bool plain_release; /* no pool-wide release hook: unhooked frames go to umem_free */
};

static inline struct pkb_pool__hot *pkb__hot(struct pkb_pool *pool)
{
	return (struct pkb_pool__hot *)pool;
}

/**
 * Create a pool over @p umem: the clone heads and extension areas, carved
 * from one allocation.
 * @param out receives the pool
 * @param umem the UMEM whose frames the pkbs use; must outlive the pool
 * @param cfg options, NULL for defaults
 * @return 0, -EINVAL (no UMEM, UMEM headroom below PKB_META_SIZE, TX
 *         headroom that leaves no room in a frame), -ENOMEM
 */
SKIFF_API int pkb_pool_create(struct pkb_pool **out, struct umem *umem,
			      const struct pkb_pool_config *cfg);

/**
 * Destroy a pool; accepts NULL.
 * @return 0, -EBUSY while pkbs, clone heads, extension areas or frames
 *         built from it are live
 */
SKIFF_API int pkb_pool_destroy(struct pkb_pool *pool);

SKIFF_API struct umem *pkb_pool_umem(const struct pkb_pool *pool);
SKIFF_API void pkb_pool_get_stats(const struct pkb_pool *pool, struct pkb_pool_stats *out);

#define PKB_ALLOC_HEAD	0x1u /* clone heads */
#define PKB_ALLOC_AREA	0x2u /* extension areas */
#define PKB_ALLOC_FRAME 0x4u /* frames from umem_alloc (alloc_tx, copy, unshare, orphan) */
#define PKB_ALLOC_ALL	0x7u

/**
 * Test hook: after @p after more successful allocations of the kinds in
 * @p kinds (PKB_ALLOC_*), fail the next @p count of them with -ENOMEM.
 * count 0 disarms.
 */
SKIFF_API void pkb_pool_inject_alloc_failure(struct pkb_pool *pool, unsigned kinds, uint32_t after,
					     uint32_t count);

/* ------------------------------------------------------------------------
 * Out-of-line halves of the inline functions. Internal.
 */
SKIFF_API void pkb__data_release(struct pkb_pool *pool, struct pkb_shinfo *sh);
SKIFF_API int pkb__clone_slow(struct pkb *pkb, struct pkb **out);
SKIFF_API int pkb__unshare_slow(struct pkb **pkbp);
SKIFF_API void pkb__area_free(struct pkb_pool *pool, struct pkb_ext *ext);
SKIFF_API int pkb__ext_add_slow(struct pkb *pkb, enum pkb_ext_id id, void **out);
SKIFF_API void pkb__ext_release_slot(struct pkb_ext *ext, enum pkb_ext_id id);
SKIFF_API void pkb__build_invalid(struct pkb_pool *pool);

/* ------------------------------------------------------------------------
 * Building and freeing
 */

/* Initializes the shared info and the in-place head of a held frame. */
static inline struct pkb *pkb__init_frame(struct pkb_pool *pool, uint8_t *frame, uint8_t *data,
					  uint32_t len)
{
	struct pkb_pool__hot *h = pkb__hot(pool);
	struct pkb_shinfo *sh = (struct pkb_shinfo *)frame;
	struct pkb *pkb = (struct pkb *)(frame + PKB_SHINFO_SIZE);

	sh->dataref = 1;
	sh->ubuf = NULL;
	sh->release = NULL;
	sh->csum_len = 0;
	pkb->data = data;
	pkb->tail = data + len;
	pkb->head = frame + PKB_META_SIZE;
	pkb->end = frame + h->frame_size;
	pkb->shinfo = sh;
	pkb->pool = pool;
	pkb->active = 0;
	pkb->flags = 0;
	pkb->next = NULL;
	h->live_pkbs++;
	h->live_frames++;
	return pkb;
}

/**
 * Build a pkb in place over a frame the caller holds (HELD), whose packet
 * starts at @p addr and is @p len bytes long. Allocates nothing: the head
 * and the shared info go in the frame's headroom. The pkb holds the frame
 * from now on: pkb_free() releases it.
 * @param pool the pool over the frame's UMEM
 * @param addr UMEM address of the packet's first byte
 * @param len  packet length
 * @param out receives the pkb (inside the frame)
 * @return 0, -EINVAL (address outside the UMEM, packet starting inside
 *         the metadata or running past the frame; counted in rx_invalid;
 *         the frame is still the caller's)
 */
/* [addr, addr + len) lies in one frame's packet room, past its metadata. */
static inline bool pkb__in_frame(const struct pkb_pool__hot *h, uint64_t addr, uint32_t len)
{
	uint64_t off = addr & h->frame_mask;

	return addr < h->area_size && off >= PKB_META_SIZE && off + len <= h->frame_size;
}

static inline int pkb_build(struct pkb_pool *pool, uint64_t addr, uint32_t len, struct pkb **out)
{
	struct pkb_pool__hot *h = pkb__hot(pool);
	uint64_t off = addr & h->frame_mask;
	uint8_t *frame;

	if (PKB__UNLIKELY(!pkb__in_frame(h, addr, len))) {
		pkb__build_invalid(pool);
		return -EINVAL;
	}
	frame = h->area + (addr - off);
	*out = pkb__init_frame(pool, frame, frame + off, len);
	return 0;
}

/** pkb_build() for a descriptor from umem_port_rx(). Same returns. */
static inline int pkb_build_rx(struct pkb_pool *pool, const struct umem_desc *desc,
			       struct pkb **out)
{
	return pkb_build(pool, desc->addr, desc->len, out);
}

/**
 * Start loading what pkb_build_rx() writes (the frame's metadata) and what
 * a receive path reads first (the packet's first two cache lines) for a
 * descriptor a few places ahead in an RX batch: the device wrote the frame
 * from another core, or long ago, so each is a cache miss otherwise. A bad
 * descriptor is left to pkb_build_rx() to refuse.
 */
static inline void pkb_prefetch_rx(struct pkb_pool *pool, const struct umem_desc *desc)
{
	struct pkb_pool__hot *h = pkb__hot(pool);
	uint64_t off = desc->addr & h->frame_mask;
	uint8_t *frame;

	if (PKB__UNLIKELY(desc->addr >= h->area_size))
		return;
	frame = h->area + (desc->addr - off);
	for (unsigned o = 0; o < PKB_META_SIZE; o += 64)
		__builtin_prefetch(frame + o, 1);
	__builtin_prefetch(frame + off, 0);
	__builtin_prefetch(frame + off + 64, 0);
}

/**
 * The packet of a received descriptor, to read ahead of pkb_build_rx()
 * (which then checks it again): NULL when it lies outside a frame.
 */
static inline const uint8_t *pkb_peek_rx(struct pkb_pool *pool, const struct umem_desc *desc)
{
	struct pkb_pool__hot *h = pkb__hot(pool);

	if (PKB__UNLIKELY(!pkb__in_frame(h, desc->addr, desc->len)))
		return NULL;
	return h->area + desc->addr;
}

/**
 * Allocate a frame and build an empty pkb for transmission: data (= tail)
 * sits tx_headroom (default PKB_TX_HEADROOM) bytes past head, room for
 * Ethernet + VLAN + IPv6 + TCP with options in front of it.
 * @return 0, -ENOMEM (no free frame, or injected)
 */
SKIFF_API int pkb_alloc_tx(struct pkb_pool *pool, struct pkb **out);

/* Drops one data reference; true when it was the last. Sole owner: nobody
 * else can race us to zero, so no atomic. */
static inline bool pkb__data_unref(struct pkb_shinfo *sh)
{
	return __atomic_load_n(&sh->dataref, __ATOMIC_RELAXED) == 1 ||
	       __atomic_sub_fetch(&sh->dataref, 1, __ATOMIC_ACQ_REL) == 0;
}

/* An unreferenced frame nobody needs to hear about (no ubuf, no release
 * hook): it can go straight back to the allocator, counted here; returns
 * its address then, else UMEM_INVALID_ADDR (pkb__data_release's job). */
static inline uint64_t pkb__frame_plain(struct pkb_pool__hot *h, struct pkb_shinfo *sh)
{
	if (!PKB__LIKELY(!sh->ubuf && !sh->release && h->plain_release))
		return UMEM_INVALID_ADDR;
	sh->dataref = 0;
	h->live_frames--;
	h->frames_released++;
	return (uint64_t)((uint8_t *)sh - h->area);
}

/* Drops one data reference; the last one releases the frame. */
static inline void pkb__data_put(struct pkb_pool *pool, struct pkb_shinfo *sh)
{
	struct pkb_pool__hot *h = pkb__hot(pool);
	uint64_t frame;

	if (!pkb__data_unref(sh))
		return;
	frame = pkb__frame_plain(h, sh);
	if (PKB__LIKELY(frame != UMEM_INVALID_ADDR))
		umem_free(h->umem, frame);
	else
		pkb__data_release(pool, sh);
}

static inline void pkb__area_put(struct pkb_pool *pool, struct pkb_ext *ext)
{
	if (__atomic_load_n(&ext->refcnt, __ATOMIC_RELAXED) == 1 ||
	    __atomic_sub_fetch(&ext->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		pkb__area_free(pool, ext);
}

/* Everything pkb_free() does but drop the data reference: the extension
 * area reference, the clone head. Returns the frame's shared info. */
static inline struct pkb_shinfo *pkb__head_put(struct pkb *pkb)
{
	struct pkb_pool__hot *h = pkb__hot(pkb->pool);
	struct pkb_shinfo *sh = pkb->shinfo;

	if (pkb->active)
		pkb__area_put(pkb->pool, pkb->ext);
	if (pkb->flags & PKB_F_CLONE) {
		PKB__POISON(pkb, sizeof(*pkb));
		h->head_free[h->head_top++] = pkb;
	}
	h->live_pkbs--;
	return sh;
}

/**
 * Free a pkb; accepts NULL. Drops its extension area reference, returns a
 * clone head to the pool, and drops its data reference last (an in-place
 * head lives in the frame that may go): the last data reference drops the
 * ubuf reference, then runs the release hook (or umem_free).
 */
static inline void pkb_free(struct pkb *pkb)
{
	struct pkb_pool *pool;
	struct pkb_shinfo *sh;

	if (!pkb)
		return;
	pool = pkb->pool;
	sh = pkb__head_put(pkb);
	/* Last: an in-place head lives in the frame this may release. */
	pkb__data_put(pool, sh);
}

/** Free @p n pkbs (NULL entries allowed); returns frames in one umem batch. */
SKIFF_API void pkb_free_bulk(struct pkb *const *pkbs, unsigned n);

/* Takes a head off the pool's free list (the caller checked there is one)
 * and makes it a clone of @p pkb. */
static inline struct pkb *pkb__clone_head(struct pkb *pkb)
{
	struct pkb_pool__hot *h = pkb__hot(pkb->pool);
	struct pkb *c = h->head_free[--h->head_top];

	PKB__UNPOISON(c, sizeof(*c));
	*c = *pkb;
	c->flags = PKB_F_CLONE;
	c->next = NULL;
	__atomic_add_fetch(&pkb->shinfo->dataref, 1, __ATOMIC_RELAXED);
	if (c->active)
		__atomic_add_fetch(&c->ext->refcnt, 1, __ATOMIC_RELAXED);
	h->live_pkbs++;
	return c;
}

/**
 * Clone: a new head (from the pool) over the same data, inheriting the
 * extension area (refcount + 1), the cb and the data bounds. The data is
 * shared afterwards: call pkb_unshare() before writing into it.
 * @return 0, -ENOMEM (no free head, or injected)
 */
static inline int pkb_clone(struct pkb *pkb, struct pkb **out)
{
	struct pkb_pool__hot *h = pkb__hot(pkb->pool);

	if (PKB__UNLIKELY(!h->head_top || h->fail_armed))
		return pkb__clone_slow(pkb, out);
	*out = pkb__clone_head(pkb);
	return 0;
}

/**
 * Copy: a new frame holding a copy of the packet (at the same offset, so the
 * headroom is the same), an in-place head with the same cb, sharing the
 * extension area (refcount + 1: extensions are copied on write). The copy
 * carries no ubuf and no release hook: it no longer references the original
 * data (the original's ubuf, if any, gets PKB_UBUF_F_COPIED).
 * @return 0, -ENOMEM (no free frame, or injected)
 */
SKIFF_API int pkb_copy(const struct pkb *pkb, struct pkb **out);

/**
 * pkb_copy(), placing the data so that at least @p headroom bytes precede
 * it (the original's offset is kept when it already leaves that much): for
 * a packet built too close to its frame's head to take its headers.
 * @return 0, -EMSGSIZE (headroom + packet do not fit in a frame), -ENOMEM
 */
SKIFF_API int pkb_copy_expand(const struct pkb *pkb, uint32_t headroom, struct pkb **out);

/**
 * Make the data writable: if it is shared (pkb_data_shared), copy it into a
 * fresh frame as pkb_copy() does, and drop the reference on the old one.
 * Call before writing into the packet or into pushed headroom of a pkb that
 * may be shared (a clone, a frame on the TX ring).
 * @param pkbp the pkb; replaced on success when its head lived in the old
 *        frame (an in-place head moves with its data). Unchanged on error.
 * @return 0, -ENOMEM (unchanged)
 */
static inline int pkb_unshare(struct pkb **pkbp)
{
	if (PKB__LIKELY(__atomic_load_n(&(*pkbp)->shinfo->dataref, __ATOMIC_RELAXED) == 1))
		return 0;
	return pkb__unshare_slow(pkbp);
}

/**
 * Orphan (seed 002, skb_orphan_frags): if the data carries a ubuf, copy it
 * into a fresh frame so that this pkb stops referencing the user's data; the
 * ubuf reference goes as soon as the other holders of the old frame do (at
 * once if there are none). For holders that keep data indefinitely
 * (out-of-order queue, slow reader). No ubuf: nothing to do.
 * @param pkbp the pkb; replaced on success as by pkb_unshare()
 * @return 0, -ENOMEM (unchanged)
 */
SKIFF_API int pkb_orphan(struct pkb **pkbp);

/* ------------------------------------------------------------------------
 * Data bounds. All refuse to leave [head, end] and change nothing then.
 * They move pointers only: before writing into data that may be shared,
 * pkb_unshare().
 */

static inline uint32_t pkb_len(const struct pkb *pkb)
{
	return (uint32_t)(pkb->tail - pkb->data);
}

static inline uint32_t pkb_headroom(const struct pkb *pkb)
{
	return (uint32_t)(pkb->data - pkb->head);
}

static inline uint32_t pkb_tailroom(const struct pkb *pkb)
{
	return (uint32_t)(pkb->end - pkb->tail);
}

/** Prepend @p len bytes (data moves down). @return 0, -ENOSPC (headroom) */
static inline int pkb_push(struct pkb *pkb, uint32_t len)
{
	if (PKB__UNLIKELY(len > pkb_headroom(pkb)))
		return -ENOSPC;
	pkb->data -= len;
	return 0;
}

/** Remove @p len bytes from the front. @return 0, -EINVAL (longer than the packet) */
static inline int pkb_pull(struct pkb *pkb, uint32_t len)
{
	if (PKB__UNLIKELY(len > pkb_len(pkb)))
		return -EINVAL;
	pkb->data += len;
	return 0;
}

/** Append @p len bytes (tail moves up). @return 0, -ENOSPC (tailroom) */
static inline int pkb_put(struct pkb *pkb, uint32_t len)
{
	if (PKB__UNLIKELY(len > pkb_tailroom(pkb)))
		return -ENOSPC;
	pkb->tail += len;
	return 0;
}

/** Cut the packet to @p len bytes. @return 0, -EINVAL (longer than the packet) */
static inline int pkb_trim(struct pkb *pkb, uint32_t len)
{
	if (PKB__UNLIKELY(len > pkb_len(pkb)))
		return -EINVAL;
	pkb->tail = pkb->data + len;
	return 0;
}

/** Move an empty packet @p len bytes up, growing the headroom.
 * @return 0, -EINVAL (not empty), -ENOSPC (tailroom) */
static inline int pkb_reserve(struct pkb *pkb, uint32_t len)
{
	if (PKB__UNLIKELY(pkb->data != pkb->tail))
		return -EINVAL;
	if (PKB__UNLIKELY(len > pkb_tailroom(pkb)))
		return -ENOSPC;
	pkb->data += len;
	pkb->tail += len;
	return 0;
}

/* ------------------------------------------------------------------------
 * Frames, data references, release hooks, ubuf
 */

/** UMEM address of the pkb's frame (its base). */
static inline uint64_t pkb_frame_addr(const struct pkb *pkb)
{
	return (uint64_t)((uint8_t *)pkb->shinfo - pkb__hot(pkb->pool)->area);
}

/** UMEM address of the packet's first byte, for a TX descriptor. */
static inline uint64_t pkb_data_addr(const struct pkb *pkb)
{
	return (uint64_t)(pkb->data - pkb__hot(pkb->pool)->area);
}

/** True when someone else also references the data (another head, a frame
 * reference such as a TX ring hold): writing needs pkb_unshare(). */
static inline bool pkb_data_shared(const struct pkb *pkb)
{
	return __atomic_load_n(&pkb->shinfo->dataref, __ATOMIC_RELAXED) != 1;
}

/** Forget the frame's checksum cache (struct pkb_shinfo): its bytes are
 * about to change. */
static inline void pkb_csum_forget(struct pkb *pkb)
{
	pkb->shinfo->csum_len = 0;
}

/** True when the pkb's frame is posted on a TX ring (umem_frame_state is
 * UMEM_FRAME_TX): never rewrite it, copy instead. */
SKIFF_API bool pkb_frame_in_flight(const struct pkb *pkb);

/**
 * Take one data reference on the frame holding @p addr, e.g. to hold it
 * while it is on the TX ring. The frame must be one a pkb of this pool was
 * built over and still referenced (data refcount >= 1).
 * @return 0, -EINVAL (outside the UMEM, frame free or on the fill ring;
 *         counted in misuse)
 */
SKIFF_API int pkb_frame_get(struct pkb_pool *pool, uint64_t addr);

/** Drop a reference taken with pkb_frame_get(); the last one releases the
 * frame as pkb_free() would. The frame must not be on a ring any more. */
SKIFF_API void pkb_frame_put(struct pkb_pool *pool, uint64_t addr);

/** Hand the frame to @p fn (with @p opaque) instead of umem_free once its
 * data is finished with (seed 001). Replaces any earlier hook; the hook
 * belongs to the frame, so clones share it and copies do not inherit it. */
static inline void pkb_set_release(struct pkb *pkb, pkb_release_fn fn, void *opaque)
{
	pkb->shinfo->release = fn;
	pkb->shinfo->release_opaque = opaque;
}

/**
 * Attach a zero-copy notification to the pkb's data; takes a reference
 * (pkb_ubuf_get). Clones and frame references share it; it is dropped when
 * the data refcount reaches 0, before the frame is released.
 * @return 0 (also when @p ubuf is already attached: no second reference),
 *         -EBUSY (a different ubuf is attached)
 */
static inline int pkb_set_ubuf(struct pkb *pkb, struct pkb_ubuf *ubuf)
{
	struct pkb_shinfo *sh = pkb->shinfo;

	if (sh->ubuf == ubuf)
		return 0;
	if (sh->ubuf)
		return -EBUSY;
	pkb_ubuf_get(ubuf);
	sh->ubuf = ubuf;
	return 0;
}

static inline struct pkb_ubuf *pkb_ubuf(const struct pkb *pkb)
{
	return pkb->shinfo->ubuf;
}

/* ------------------------------------------------------------------------
 * Extension access
 *
 * Pointers from pkb_ext_find() point into an area other pkbs may share:
 * read only. To write, pkb_ext_add() (which copies a shared area first).
 */

static inline size_t pkb__ext_off(enum pkb_ext_id id)
{
	switch (id) {
	case PKB_EXT_MPTCP:
		return offsetof(struct pkb_ext, mptcp);
	case PKB_EXT_BRIDGE:
		return offsetof(struct pkb_ext, bridge);
	case PKB_EXT_SECPATH:
	default:
		return offsetof(struct pkb_ext, secpath);
	}
}

static inline size_t pkb__ext_size(enum pkb_ext_id id)
{
	switch (id) {
	case PKB_EXT_MPTCP:
		return sizeof(struct pkb_ext_mptcp);
	case PKB_EXT_BRIDGE:
		return sizeof(struct pkb_ext_bridge);
	case PKB_EXT_SECPATH:
	default:
		return sizeof(struct pkb_ext_secpath);
	}
}

static inline bool pkb_ext_exists(const struct pkb *pkb, enum pkb_ext_id id)
{
	return pkb->active & (1u << id);
}

/** The extension @p id, or NULL when the pkb does not carry it. Read only. */
static inline const void *pkb_ext_find(const struct pkb *pkb, enum pkb_ext_id id)
{
	if (!(pkb->active & (1u << id)))
		return NULL;
	return (const uint8_t *)pkb->ext + pkb__ext_off(id);
}

/**
 * Add extension @p id, or make it writable when the pkb carries it already,
 * and return it. New: zeroed. Already there: contents kept. A pkb without
 * extensions gets an area from the pool; a shared area is copied first
 * (copy-on-write, the copy re-taking the references its extensions hold); a
 * sole-owned one is used in place, without an atomic.
 * @param out receives the extension, writable
 * @return 0, -ENOMEM (no free area, or injected; the pkb is unchanged)
 */
static inline int pkb_ext_add(struct pkb *pkb, enum pkb_ext_id id, void **out)
{
	struct pkb_ext *ext = pkb->ext;
	uint8_t bit = (uint8_t)(1u << id);
	uint8_t *slot;

	if (PKB__UNLIKELY(!pkb->active || __atomic_load_n(&ext->refcnt, __ATOMIC_RELAXED) != 1))
		return pkb__ext_add_slow(pkb, id, out);
	slot = (uint8_t *)ext + pkb__ext_off(id);
	if (!(ext->present & bit)) {
		memset(slot, 0, pkb__ext_size(id));
		ext->present |= bit;
	} else if (PKB__UNLIKELY(!(pkb->active & bit))) {
		/* Deleted while shared; the other holders are gone now. */
		pkb__ext_release_slot(ext, id);
		memset(slot, 0, pkb__ext_size(id));
		ext->present |= bit;
	}
	pkb->active |= bit;
	*out = slot;
	return 0;
}

/**
 * Delete extension @p id: clears its bit, nothing else is needed, so it
 * cannot fail, even without memory. A sole owner also releases what the
 * slot holds (secpath SA references) at once; the last bit releases the
 * area reference. Not carried: nothing happens.
 */
static inline void pkb_ext_del(struct pkb *pkb, enum pkb_ext_id id)
{
	uint8_t bit = (uint8_t)(1u << id);
	struct pkb_ext *ext = pkb->ext;

	if (!(pkb->active & bit))
		return;
	pkb->active &= (uint8_t)~bit;
	if (!pkb->active) {
		pkb__area_put(pkb->pool, ext);
		return;
	}
	if (__atomic_load_n(&ext->refcnt, __ATOMIC_RELAXED) == 1) {
		if (id == PKB_EXT_SECPATH)
			pkb__ext_release_slot(ext, id);
		ext->present &= (uint8_t)~bit;
	}
}

/** Drop every extension of @p pkb. Cannot fail. */
static inline void pkb_ext_reset(struct pkb *pkb)
{
	if (pkb->active)
		pkb__area_put(pkb->pool, pkb->ext);
	pkb->active = 0;
}

/** Make @p to carry exactly the extensions of @p from, sharing its area
 * (refcount + 1, copy-on-write later). Cannot fail. Same pool. */
static inline void pkb_ext_copy(struct pkb *to, const struct pkb *from)
{
	if (to == from)
		return;
	if (from->active)
		__atomic_add_fetch(&from->ext->refcnt, 1, __ATOMIC_RELAXED);
	pkb_ext_reset(to);
	to->active = from->active;
	to->ext = from->ext;
}

static inline const struct pkb_ext_mptcp *pkb_ext_mptcp(const struct pkb *pkb)
{
	return (const struct pkb_ext_mptcp *)pkb_ext_find(pkb, PKB_EXT_MPTCP);
}

static inline const struct pkb_ext_bridge *pkb_ext_bridge(const struct pkb *pkb)
{
	return (const struct pkb_ext_bridge *)pkb_ext_find(pkb, PKB_EXT_BRIDGE);
}

static inline const struct pkb_ext_secpath *pkb_ext_secpath(const struct pkb *pkb)
{
	return (const struct pkb_ext_secpath *)pkb_ext_find(pkb, PKB_EXT_SECPATH);
}

/** pkb_ext_add(PKB_EXT_MPTCP), typed. */
static inline int pkb_ext_add_mptcp(struct pkb *pkb, struct pkb_ext_mptcp **out)
{
	return pkb_ext_add(pkb, PKB_EXT_MPTCP, (void **)out);
}

/** pkb_ext_add(PKB_EXT_BRIDGE), typed. */
static inline int pkb_ext_add_bridge(struct pkb *pkb, struct pkb_ext_bridge **out)
{
	return pkb_ext_add(pkb, PKB_EXT_BRIDGE, (void **)out);
}

/** pkb_ext_add(PKB_EXT_SECPATH), typed. Prefer pkb_ext_secpath_append(). */
static inline int pkb_ext_add_secpath(struct pkb *pkb, struct pkb_ext_secpath **out)
{
	return pkb_ext_add(pkb, PKB_EXT_SECPATH, (void **)out);
}

/**
 * Record that @p sa accepted the packet (after those already recorded):
 * adds the secpath extension if needed and takes a reference on @p sa.
 * @return 0, -ENOMEM (area; unchanged), -ENOSPC (PKB_SECPATH_MAX entries
 *         already; unchanged)
 */
SKIFF_API int pkb_ext_secpath_append(struct pkb *pkb, struct pkb_sa *sa);

/* ------------------------------------------------------------------------
 * Split and merge rules
 *
 * TCP splits a segment (tcp_fragment-like: `orig` keeps the front, `tail`
 * gets the back) and merges them (coalescing `from` after `into`). Each
 * extension is carried over or refused on purpose:
 *
 * Split -- every extension goes to both halves, sharing the area:
 *  - MPTCP: both keep the same mapping, DATA_FIN and DATA_ACK included. A
 *    DSS mapping names a range (DSN, subflow seq, length) rather than the
 *    segment that carries it, and RFC 8684 lets a mapping be repeated on
 *    every segment it covers; DATA_FIN is the mapping's last octet and
 *    DATA_ACK is cumulative, so repeating either is harmless.
 *  - BRIDGE: both halves came in through the same port with the same L2
 *    header.
 *  - SECPATH: both halves were accepted by the same SAs.
 *
 * Merge -- allowed only when no fact would be lost or invented:
 *  - MPTCP: neither carries one; or both carry the same mapping (M, m, F,
 *    DSN, subflow seq, length, checksum); or `into`'s mapping is followed
 *    directly by `from`'s (DSN and subflow seq both contiguous, same DSN
 *    width, no checksum on either, `into` has no DATA_FIN, total length
 *    below 64 KiB), which become one mapping ending with `from`'s DATA_FIN.
 *    A DATA_ACK on `from` replaces `into`'s (it is cumulative and newer).
 *    A segment with a mapping and one without, or unrelated mappings:
 *    refused.
 *  - BRIDGE: neither, or both equal (same port, VLAN, MACs). Refused
 *    otherwise: the merged packet would claim one L2 origin for both.
 *  - SECPATH: neither, or both the same SAs in the same order. Refused
 *    otherwise: a protected segment must not launder an unprotected one
 *    past a policy check.
 * `from`'s extensions stay with `from` (the caller frees it).
 */

/** Give @p tail the extensions of @p orig under the split rule (all of them,
 * sharing the area); whatever @p tail carried is dropped. Cannot fail. */
static inline void pkb_ext_on_split(const struct pkb *orig, struct pkb *tail)
{
	pkb_ext_copy(tail, orig);
}

/** True when pkb_ext_on_merge(@p into, @p from) would not refuse. */
SKIFF_API bool pkb_ext_can_merge(const struct pkb *into, const struct pkb *from);

/**
 * Apply the merge rule: @p into's extensions become those of the merged
 * packet.
 * @return 0, -EINVAL (the rule refuses: do not merge), -ENOMEM (an MPTCP
 *         mapping had to be rewritten in a shared area and no area was
 *         free); on error nothing changed
 */
SKIFF_API int pkb_ext_on_merge(struct pkb *into, const struct pkb *from);

/**
 * The MPTCP merge rule for data appended to @p into without a pkb of its
 * own (a sender adding a write's bytes to a queued segment): @p next is the
 * appended data's mapping. @p into without an MPTCP extension takes
 * @p next as its mapping; one with a mapping takes the merged mapping.
 * @return 0, -EINVAL (the rule refuses: the appended data needs a segment
 *         of its own), -ENOMEM (no extension area free); on error nothing
 *         changed
 */
SKIFF_API int pkb_ext_mptcp_append(struct pkb *into, const struct pkb_ext_mptcp *next);

/* ------------------------------------------------------------------------
 * Security associations
 */

/** Set up @p sa with refcnt 1 (the caller's reference); the other fields
 * are the caller's to fill. @p destroy runs when the last reference goes. */
static inline void pkb_sa_init(struct pkb_sa *sa, pkb_sa_destroy_fn destroy, void *opaque)
{
	sa->refcnt = 1;
	sa->destroy = destroy;
	sa->opaque = opaque;
}

static inline void pkb_sa_get(struct pkb_sa *sa)
{
	__atomic_add_fetch(&sa->refcnt, 1, __ATOMIC_RELAXED);
}

/** Drop a reference; the last one calls destroy. Accepts NULL. */
static inline void pkb_sa_put(struct pkb_sa *sa)
{
	if (sa && __atomic_sub_fetch(&sa->refcnt, 1, __ATOMIC_ACQ_REL) == 0 && sa->destroy)
		sa->destroy(sa);
}

#ifdef __cplusplus
}
#endif

#endif
