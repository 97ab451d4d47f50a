/* umem/ internals shared by the allocator (umem.c), the generic port layer
 * (port.c) and the two backends (memlink.c, xsk.c). Not installed.
 *
 * Division of work between port.c and a backend:
 *  - Backends move raw descriptors and addresses between their rings and
 *    the arrays they are given. They never change a frame's state: port.c
 *    does every transition (FILL -> HELD on rx, HELD -> TX on tx, TX ->
 *    HELD on completion, FREE -> FILL on refill) and the common stats
 *    (rx/tx frames and bytes, completions, fill_posted, tx_ring_full).
 *  - A backend's create call allocates the struct umem_port with malloc or
 *    calloc (zeroed stats), sets ops, umem and backend, and calls
 *    umem__attach_port(), which gives the port its slot. A UMEM has one
 *    port, or up to UMEM_MAX_PORTS of a backend that shares (ops->shares:
 *    AF_XDP's shared UMEM); -EBUSY otherwise. umem_port_destroy() calls
 *    ops->destroy() (release backend state, not the port), returns every
 *    FILL and TX frame that port's rings held to the allocator, detaches
 *    the port and frees it.
 *  - Every FILL or TX frame records the slot of the port whose ring holds
 *    it: a port receives, and takes completions for, its own frames only.
 */
#ifndef SKIFF_UMEM_INTERNAL_H
#define SKIFF_UMEM_INTERNAL_H

#include <skiff/umem.h>

/* Largest UMEM we accept: 4 Mi frames (8 or 16 GiB). */
#ifndef UMEM_FRAME_COUNT_MAX
#define UMEM_FRAME_COUNT_MAX (1u << 22)
#endif
#ifndef UMEM_FILL_BATCH_DEFAULT
#define UMEM_FILL_BATCH_DEFAULT 64u
#endif

/* Backend operations behind struct umem_port. Each returns what the
 * matching umem_port_* call returns; port.c does the accounting that is
 * common to both (stats, frame state transitions through the umem__ calls
 * below), the backend does the rest. */
struct umem_port_ops {
	bool shares; /* several ports of this backend may share one UMEM */
	const char *name;
	/* writes up to max received descriptors (addr inside a FILL frame) */
	unsigned (*rx)(struct umem_port *p, struct umem_desc *descs, unsigned max);
	/* posts the first descriptors that fit on the TX ring; returns how many
	 * (port.c has validated them and moved their frames HELD -> TX, and
	 * moves the ones not taken back) */
	unsigned (*tx)(struct umem_port *p, const struct umem_desc *descs, unsigned n);
	int (*flush)(struct umem_port *p);
	/* writes raw completion addresses, unvalidated; port.c validates */
	unsigned (*complete)(struct umem_port *p, uint64_t *addrs, unsigned max);
	/* posts up to n frames from addrs on the fill ring; returns how many */
	unsigned (*fill)(struct umem_port *p, const uint64_t *addrs, unsigned n);
	/* how many frames the fill ring holds now, and its size */
	unsigned (*fill_level)(const struct umem_port *p, unsigned *size);
	int (*fd)(const struct umem_port *p);
	/* called after port.c copied p->stats into out: fills or adds the
	 * backend's own counters (XDP_STATISTICS, the wire's losses, kicks);
	 * may be NULL */
	void (*get_stats)(const struct umem_port *p, struct umem_port_stats *out);
	/* releases backend resources (not p itself); port.c then returns ring
	 * frames and frees p */
	void (*destroy)(struct umem_port *p);
};

struct umem_port {
	const struct umem_port_ops *ops;
	struct umem *umem;
	struct umem_port_stats stats;
	void *backend;	      /* the backend's own state */
	unsigned fill_target; /* refills stop at this level (0: the ring's size) */
	uint8_t slot;	      /* 1..UMEM_MAX_PORTS while attached */
};

/* Port attach/detach (the division of work above says when -EBUSY). */
int umem__attach_port(struct umem *u, struct umem_port *p);
void umem__detach_port(struct umem *u, struct umem_port *p);
/* One pointer the UMEM keeps for its backend's ports to share (xsk.c: the
 * libxdp UMEM registration); NULL until a backend sets it. */
void **umem__shared(struct umem *u);
/* The slot of the port whose ring holds the frame of @p addr (set when
 * the frame goes on a fill or TX ring; meaningful for FILL and TX frames). */
uint8_t umem__owner(const struct umem *u, uint64_t addr);

/* Frame state transitions used by the ports. Each takes any address inside
 * the frame, checks the frame's current state in every build, refuses and
 * counts an illegal one (umem__misuse(), which aborts in debug builds) and
 * keeps the counts.
 * @return true when the transition was legal and done. */
/* FILL -> HELD (received) when the frame is on port @p slot's fill ring;
 * false (no misuse: the ring is shared memory) otherwise. */
bool umem__rx_take(struct umem *u, uint64_t addr, uint8_t slot);
bool umem__fill_to_free(struct umem *u, uint64_t addr); /* FILL -> FREE (port teardown) */
/* HELD -> TX on port @p slot's ring, remembers addr as the one posted */
bool umem__to_tx(struct umem *u, uint64_t addr, uint8_t slot);
bool umem__tx_to_held(struct umem *u,
		      uint64_t addr); /* TX -> HELD (descriptor the ring did not take) */
bool umem__tx_to_free(struct umem *u, uint64_t addr); /* TX -> FREE (port teardown) */

/* Takes up to n free frames straight to FILL on port @p slot's ring
 * (refill); returns how many. */
unsigned umem__alloc_fill(struct umem *u, uint64_t *addrs, unsigned n, uint8_t slot);

/* Validates one completion address (in range, the exact address posted,
 * frame in TX on the ring of port @p slot) and moves it TX -> HELD;
 * counts the reason when invalid. Never a misuse: kernels return invalid
 * descriptors here. */
bool umem__complete_one(struct umem *u, uint64_t addr, uint8_t slot);

/* Hands validated, HELD frames to the tx_done callback (or frees them). */
void umem__deliver_tx_done(struct umem *u, const uint64_t *addrs, unsigned n);

/* Counts a TX descriptor refused before posting (umem_stats.tx_refused). */
void umem__count_tx_refused(struct umem *u);

/* Refill parameters from the UMEM's config. */
unsigned umem__fill_batch(const struct umem *u);
unsigned umem__fill_watermark(const struct umem *u, unsigned ring_size);

/* Records a misuse (counted; asserts in debug builds) with a message. */
void umem__misuse(struct umem *u, const char *what, uint64_t addr);

/* Debug builds abort on misuse unless told to count only: per UMEM with
 * this setter, or for every UMEM created while the environment holds
 * SKIFF_UMEM_MISUSE=count (tests). Non-debug builds always count only. */
void umem__set_misuse_abort(struct umem *u, bool abort_on_misuse);

#endif
