/**
 * @file
 * umem/: the UMEM frame allocator and the ports that move frames (AF_XDP
 * `xsk` and the shared-memory `memlink` wire).
 *
 * A UMEM is one mmap'd region cut into fixed frames. Every frame is always
 * in exactly one place (enum umem_frame_state) and
 * `free + fill + held + tx_inflight + loaned == total` holds after every
 * call; umem_audit() checks it. Frames are named by their address: the byte
 * offset of the frame (or of a byte inside it) from the start of the UMEM,
 * as AF_XDP names them.
 *
 * Threading: a UMEM and its ports belong to one thread; nothing here locks.
 * Two processes joined by a memlink each own their own UMEM and port.
 *
 * Errors: actions return 0 or -errno, batch calls return a count, predicates
 * return bool (STYLE.md; docs/errors.md). Misuse (double free, free of a
 * frame on a ring, tx of a frame not held, ...) is refused and counted in
 * umem_stats.misuse; debug builds (SKIFF_DEBUG_FRAMES) also abort with a
 * message unless the environment holds SKIFF_UMEM_MISUSE=count.
 */
#ifndef SKIFF_UMEM_H
#define SKIFF_UMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <skiff/export.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef UMEM_FRAME_SIZE_DEFAULT
#define UMEM_FRAME_SIZE_DEFAULT 2048u
#endif
#ifndef UMEM_FRAME_COUNT_DEFAULT
#define UMEM_FRAME_COUNT_DEFAULT 4096u
#endif
/* Bytes reserved at each frame's start for the pkb metadata of ext/. */
#ifndef UMEM_HEADROOM_DEFAULT
#define UMEM_HEADROOM_DEFAULT 256u
#endif
/* AF_XDP (copy and zero-copy) writes received data this far past the
 * configured headroom. */
#define UMEM_XDP_PACKET_HEADROOM 256u

#define UMEM_INVALID_ADDR UINT64_MAX

/* Ports one UMEM may carry at once (AF_XDP ports sharing it; a memlink
 * port is alone on its UMEM). */
#define UMEM_MAX_PORTS 4u

struct umem;

enum umem_frame_state {
	UMEM_FRAME_FREE,   /* in the allocator */
	UMEM_FRAME_FILL,   /* posted on a fill ring, the kernel/wire owns it */
	UMEM_FRAME_HELD,   /* held by the stack (pkb data refcount >= 1) */
	UMEM_FRAME_TX,	   /* posted on a TX ring, until its completion */
	UMEM_FRAME_LOANED, /* loaned to the application */
	UMEM_FRAME__NSTATES,
};

enum umem_hugepages {
	UMEM_HUGEPAGES_AUTO, /* try MAP_HUGETLB, fall back to normal pages */
	UMEM_HUGEPAGES_OFF,
	UMEM_HUGEPAGES_ON, /* fail with -ENOMEM if none can be had */
};

/** Run-time options; a NULL config or a zero field means the default. */
struct umem_config {
	uint32_t frame_size;  /**< 2048 or 4096 */
	uint32_t frame_count; /**< frames in the UMEM */
	uint32_t headroom;    /**< reserved bytes at each frame's start (multiple of 64) */
	uint32_t fill_batch;  /**< frames posted per refill (default 64) */
	uint32_t
		fill_watermark; /**< refill when fewer than this are posted (default fill ring / 2) */
	/** Frames a refill leaves free for sending (default 0): with a fill
	 * ring as large as the UMEM, refills would otherwise post every frame
	 * and leave none for ACKs or data. */
	uint32_t fill_reserve;
	enum umem_hugepages hugepages;
	/** Memory to use instead of mapping our own (memlink shares its UMEM
	 * this way); NULL = mmap. Must be frame_size * frame_count bytes,
	 * page-aligned, and outlive the UMEM. */
	void *area;
};

/** Where the frames are, for fast address <-> pointer arithmetic. */
struct umem_geometry {
	uint8_t *area;
	uint64_t size;
	uint32_t frame_size;
	uint32_t frame_shift; /* log2(frame_size) */
	uint32_t frame_count;
	uint32_t headroom;
};

/** One frame per state; the audit sums these. */
struct umem_audit {
	uint32_t total;
	uint32_t free;
	uint32_t fill;
	uint32_t held;
	uint32_t tx_inflight;
	uint32_t loaned;
};

/** Everything umem/ refused, dropped or found invalid, plus its work. */
struct umem_stats {
	uint64_t alloc;	     /* frames handed out */
	uint64_t alloc_fail; /* requests the free list could not meet */
	uint64_t freed;
	uint64_t comp_invalid;	    /* completion addresses ignored (sum of the four below) */
	uint64_t comp_out_of_range; /* past the UMEM's end */
	uint64_t comp_misaligned;   /* not the address we posted */
	uint64_t comp_not_inflight; /* frame was not on the TX ring */
	uint64_t comp_other_port;   /* frame on another port's TX ring (shared UMEM) */
	uint64_t tx_refused; /* descriptors refused before posting (bad address, frame busy) */
	uint64_t misuse; /* invalid transitions caught (always counted; asserted in debug builds) */
};

/**
 * Create a UMEM.
 * @param out receives the UMEM
 * @param cfg options, NULL for defaults
 * @return 0, -EINVAL (bad frame size, headroom, count or area alignment),
 *         -ENOMEM (mapping failed, or hugepages required and absent)
 */
SKIFF_API int umem_create(struct umem **out, const struct umem_config *cfg);

/**
 * Destroy a UMEM; accepts NULL.
 * @return 0, -EBUSY while a port still uses it
 */
SKIFF_API int umem_destroy(struct umem *u);

SKIFF_API void umem_geometry(const struct umem *u, struct umem_geometry *out);
/** True when the region is backed by hugepages. */
SKIFF_API bool umem_uses_hugepages(const struct umem *u);

/** Base address (headroom start) of the frame holding @p addr. */
static inline uint64_t umem_geo_frame(const struct umem_geometry *g, uint64_t addr)
{
	return addr & ~(uint64_t)(g->frame_size - 1);
}

/** True when @p len bytes at @p addr are a packet one frame can hold:
 * inside a UMEM of @p size bytes, not empty, not crossing the frame's end. */
static inline bool umem_span_ok(uint64_t size, uint32_t frame_size, uint64_t addr, uint32_t len)
{
	return addr < size && len != 0 && (addr & (frame_size - 1)) + len <= frame_size;
}

static inline void *umem_geo_ptr(const struct umem_geometry *g, uint64_t addr)
{
	return g->area + addr;
}

static inline uint64_t umem_geo_addr(const struct umem_geometry *g, const void *p)
{
	return (uint64_t)((const uint8_t *)p - g->area);
}

/**
 * Take one free frame (FREE -> HELD).
 * @param addr receives the frame's base address
 * @return 0, -ENOMEM when no frame is free
 */
SKIFF_API int umem_alloc(struct umem *u, uint64_t *addr);

/** Take up to @p n frames; returns how many (0 when none is free). */
SKIFF_API unsigned umem_alloc_bulk(struct umem *u, uint64_t *addrs, unsigned n);

/** Return a HELD or LOANED frame (any address inside it) to the allocator. */
SKIFF_API void umem_free(struct umem *u, uint64_t addr);
SKIFF_API void umem_free_bulk(struct umem *u, const uint64_t *addrs, unsigned n);

/** HELD -> LOANED (the application now holds it) and back. */
SKIFF_API void umem_loan(struct umem *u, uint64_t addr);
SKIFF_API void umem_unloan(struct umem *u, uint64_t addr);

/** State of the frame holding @p addr (UMEM_FRAME__NSTATES if out of
 * range). States are tracked in every build; debug builds also assert every
 * transition and poison free frames. */
SKIFF_API enum umem_frame_state umem_frame_state(const struct umem *u, uint64_t addr);

/**
 * Count frames by state and check that they add up to the total (and, in
 * debug builds, that each frame's recorded state agrees with the counts).
 * @param out receives the counts; may be NULL
 * @return true when the books balance
 */
SKIFF_API bool umem_audit(const struct umem *u, struct umem_audit *out);
/** How many frames are in state @p st now (a counter read, unlike the
 * audit's walk: fine on a fast path). */
SKIFF_API uint32_t umem_frames_in(const struct umem *u, enum umem_frame_state st);

SKIFF_API void umem_get_stats(const struct umem *u, struct umem_stats *out);

/**
 * Frames that came back on a completion ring, already validated, are handed
 * to @p cb in the HELD state; the callee frees or keeps each. Without a
 * callback they return to the allocator. Frames still on the TX ring when
 * the port is destroyed are handed over the same way. One owner per UMEM:
 * NULL unregisters.
 * @return 0, -EBUSY (another callback is registered)
 */
typedef void (*umem_tx_done_fn)(void *opaque, const uint64_t *addrs, unsigned n);
SKIFF_API int umem_set_tx_done(struct umem *u, umem_tx_done_fn cb, void *opaque);

/* ------------------------------------------------------------------------
 * Ports: rx/fill and tx/completion over a UMEM. One interface, two backends.
 */

struct umem_port;

/** One frame on a ring: @p addr points at the packet's first byte. */
struct umem_desc {
	uint64_t addr;
	uint32_t len;
	uint32_t options;
};

struct umem_port_stats {
	/* XDP_STATISTICS (xsk) or the wire's equivalents (memlink) */
	uint64_t rx_dropped;
	uint64_t rx_invalid_descs;
	uint64_t tx_invalid_descs;
	uint64_t rx_ring_full;
	uint64_t rx_fill_ring_empty_descs;
	uint64_t tx_ring_empty_descs;
	/* ours */
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, completions;
	uint64_t tx_ring_full; /* descriptors that found no room on the TX ring */
	uint64_t kicks;	       /* wakeups / sendto() calls */
	uint64_t fill_posted;
	/* our XDP program's verdicts, summed over CPUs (xsk; 0 on memlink) */
	uint64_t xdp_redirected;       /* the stack's: handed to the socket */
	uint64_t xdp_passed_not_ours;  /* not the stack's: left to the kernel */
	uint64_t xdp_passed_no_socket; /* the stack's, but no socket on that queue */
};

/** Received frames, FILL -> HELD; returns how many (at most @p max). Does
 * not refill: call umem_port_refill() once per poll loop. */
SKIFF_API unsigned umem_port_rx(struct umem_port *p, struct umem_desc *descs, unsigned max);

/** Post frames for transmission, HELD -> TX. Returns how many descriptors
 * from the front of @p descs were consumed: posted, or refused (address out
 * of range, length 0 or past the frame, frame not HELD: counted in
 * umem_stats.tx_refused, the frame left as it was). Fewer than @p n when the
 * ring is full; the rest were not posted. */
SKIFF_API unsigned umem_port_tx(struct umem_port *p, const struct umem_desc *descs, unsigned n);

/** Make posted TX descriptors go (wake the kernel, move the wire).
 * @return 0, or -errno from the kernel other than the transient ones */
SKIFF_API int umem_port_flush(struct umem_port *p);

/** Reap up to @p max completions: validate each address, TX -> HELD, hand
 * them to the UMEM's tx_done callback. Returns how many were valid. */
SKIFF_API unsigned umem_port_complete(struct umem_port *p, unsigned max);

/** Post free frames on the fill ring when it is below the watermark,
 * FREE -> FILL; returns how many were posted. */
SKIFF_API unsigned umem_port_refill(struct umem_port *p);

/** Refills stop at @p frames on the fill ring (0: the ring's size). The
 * far end takes the oldest frame posted, so a fill ring kept deeper than
 * the traffic needs cycles every received frame through that many
 * frames, cold in the caches: with a ring sized for 100,000 connections
 * an echo over 64 of them ran 2.7x slower than with 2,048 slots
 * (docs/benchmarks.md, scale run).
 * The receive path sets what it expects to need; a target below the
 * ring's size is topped up by every refill below it (no watermark), one at
 * or above it changes nothing. */
SKIFF_API void umem_port_set_fill_target(struct umem_port *p, unsigned frames);

/** How many frames the fill ring holds now; its size in @p size (may be
 * NULL). Receive paths use it to tell when frames run short. */
SKIFF_API unsigned umem_port_fill_level(const struct umem_port *p, unsigned *size);

/** How deep refills keep the fill ring: the target set, at most the ring's
 * size (the size when no target is set). A level well below it means
 * frames run short; below the size alone it may just be the target. */
SKIFF_API unsigned umem_port_fill_depth(const struct umem_port *p);

/** A file descriptor to poll for RX readiness, or -1. */
SKIFF_API int umem_port_fd(const struct umem_port *p);

SKIFF_API void umem_port_get_stats(const struct umem_port *p, struct umem_port_stats *out);
SKIFF_API struct umem *umem_port_umem(const struct umem_port *p);

/** Destroy a port, accepts NULL. Frames on its rings return to the allocator. */
SKIFF_API void umem_port_destroy(struct umem_port *p);

/** A short message for the last failed create call on this thread. */
struct umem_err {
	char msg[256];
};

/* ---- xsk: AF_XDP through libxdp ---------------------------------------- */

enum umem_xsk_mode {
	UMEM_XSK_MODE_AUTO,	/* zero-copy if the driver accepts, else copy */
	UMEM_XSK_MODE_ZEROCOPY, /* fail with -EOPNOTSUPP if refused */
	UMEM_XSK_MODE_COPY,
};

enum umem_xsk_attach {
	UMEM_XSK_ATTACH_AUTO, /* native, else generic (skb) */
	UMEM_XSK_ATTACH_NATIVE,
	UMEM_XSK_ATTACH_SKB,
};

#ifndef UMEM_XSK_MAX_ADDRS
#define UMEM_XSK_MAX_ADDRS 8
#endif

struct umem_xsk_config {
	const char *ifname;
	uint32_t queue;
	enum umem_xsk_mode mode;
	enum umem_xsk_attach attach;
	bool need_wakeup;
	bool busy_poll;
	uint32_t busy_poll_budget;			 /* 0 = 64 */
	uint32_t rx_size, tx_size, fill_size, comp_size; /* 0 = 2048 each */
	/* What belongs to the stack: our XDP program redirects only frames for
	 * these (and ARP/ND about them) and passes the rest to the kernel. */
	uint8_t mac[6];			   /* all zero = the interface's own MAC */
	uint32_t ipv4[UMEM_XSK_MAX_ADDRS]; /* network byte order */
	unsigned n_ipv4;
	uint8_t ipv6[UMEM_XSK_MAX_ADDRS][16];
	unsigned n_ipv6;
};

/**
 * Open an AF_XDP socket on @p cfg->ifname / queue over @p u and attach our
 * XDP program.
 * @return 0, -ENODEV (no such interface), -EINVAL (queue out of range, bad
 *         option), -EPERM (not privileged), -EOPNOTSUPP (zero-copy forced and
 *         refused), -EBUSY (the UMEM already has a port, or the queue
 *         already has an AF_XDP socket, or a live skiff holds the
 *         interface), -EEXIST (a foreign XDP program is attached: it is
 *         left alone and named in the message), or another -errno from the
 *         kernel; @p err (may be NULL)
 *         receives a message.
 */
SKIFF_API int umem_xsk_create(struct umem_port **out, struct umem *u,
			      const struct umem_xsk_config *cfg, struct umem_err *err);

/** True when the socket got zero-copy mode (false: copy mode). */
SKIFF_API bool umem_xsk_is_zerocopy(const struct umem_port *p);
/** True when the program is attached in native (driver) mode. */
SKIFF_API bool umem_xsk_is_native(const struct umem_port *p);
/** The kernel's id of the XDP program the port attached (0: none, or not an
 * xsk port): what `bpftool prog show id N` and leak checks look for. */
SKIFF_API uint32_t umem_xsk_prog_id(const struct umem_port *p);

/* ---- memlink: a software wire over shared memory ------------------------ */

struct umem_memlink;

struct umem_memlink_config {
	uint32_t ring_size;   /* descriptors per ring, power of two (default 2048) */
	uint32_t frame_size;  /* of both ends' UMEMs (default UMEM_FRAME_SIZE_DEFAULT) */
	uint32_t frame_count; /* per end (default UMEM_FRAME_COUNT_DEFAULT) */
};

/** Seeded faults, applied to frames leaving one end; rates in parts per million. */
struct umem_memlink_faults {
	uint64_t seed;
	uint32_t drop_ppm;
	uint32_t duplicate_ppm;
	uint32_t reorder_ppm; /* the frame swaps places with the next one */
	uint32_t corrupt_ppm; /* one byte flipped */
	uint32_t delay_ppm;
	uint32_t delay_us; /* how long a delayed frame waits */
	bool stall;	   /* a NIC that reads nothing: frames stay on this end's TX
			       * ring, not sent nor completed, until the faults change */
};

struct umem_memlink_stats {
	uint64_t sent, delivered, dropped, duplicated, reordered, corrupted, delayed;
	uint64_t no_fill; /* frames lost because the far end had no fill frame */
	uint64_t rx_full; /* frames lost because the far end's RX ring was full */
	uint64_t invalid; /* descriptors refused by the wire (too long for the far
			   * frame, fill address outside the far UMEM); still completed */
};

/**
 * Create a wire backed by a memfd; both ends live in it. Each end's port
 * moves the frames it sends into the far end's fill frames in
 * umem_port_flush() (and on the way in umem_port_rx()/umem_port_complete()),
 * as AF_XDP copy mode does, at the far UMEM's headroom +
 * UMEM_XDP_PACKET_HEADROOM. Two processes: fork after this call and before
 * creating the UMEMs (ASan's shadow is inherited), or pass
 * umem_memlink_fd(). Stop traffic before destroying a port.
 * @return 0, -EINVAL (ring size not a power of two, bad frame size/count),
 *         -ENOMEM, or -errno from memfd_create/ftruncate/mmap
 */
SKIFF_API int umem_memlink_create(struct umem_memlink **out, const struct umem_memlink_config *cfg);
/** Map a wire another process created (its fd passed by fork or SCM_RIGHTS;
 * the wire keeps its own duplicate of @p fd).
 * @return 0, -EINVAL (not a memlink), or -errno from fstat/mmap */
SKIFF_API int umem_memlink_open(struct umem_memlink **out, int fd);
SKIFF_API int umem_memlink_fd(const struct umem_memlink *w);
/** The UMEM memory of end 0 or 1, to pass as umem_config.area (with the
 * config's frame size and count filled in). */
SKIFF_API int umem_memlink_umem_config(struct umem_memlink *w, unsigned end,
				       struct umem_config *out);
/** Open end 0 or 1 of the wire as a port over @p u (created from that end's area).
 * @return 0, -EINVAL (bad end, @p u not over that end's area), -EBUSY (end
 *         already open, or @p u has a port), -ENOMEM */
SKIFF_API int umem_memlink_port(struct umem_port **out, struct umem_memlink *w, unsigned end,
				struct umem *u);
/** Faults for frames leaving @p end; NULL clears them. Same seed, same faults. */
SKIFF_API void umem_memlink_set_faults(struct umem_memlink *w, unsigned end,
				       const struct umem_memlink_faults *f);
SKIFF_API void umem_memlink_get_stats(const struct umem_memlink *w, unsigned end,
				      struct umem_memlink_stats *out);
/** How many frames leaving @p end the far end can take now without loss
 * (its posted fill frames, bounded by the room on its RX ring): a sender
 * that wants a lossless wire posts no more than this before a flush. */
SKIFF_API unsigned umem_memlink_peer_room(const struct umem_memlink *w, unsigned end);
/** Unmap; accepts NULL. Ports on it must be destroyed first (-EBUSY). */
SKIFF_API int umem_memlink_destroy(struct umem_memlink *w);

#ifdef __cplusplus
}
#endif

#endif
