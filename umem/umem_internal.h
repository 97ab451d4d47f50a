/* umem/ internals shared by the allocator (umem.c), the generic port layer
 * (port.c) and the two backends (memlink.c, xsk.c). Not installed. */
#ifndef SKIFF_UMEM_INTERNAL_H
#define SKIFF_UMEM_INTERNAL_H

#include <skiff/umem.h>

/* Backend operations behind struct umem_port. Each returns what the
 * matching umem_port_* call returns; port.c does the accounting that is
 * common to both (stats, frame state transitions through the umem__ calls
 * below) where it can, the backend does the rest. */
struct umem_port_ops {
	const char *name;
	unsigned (*rx)(struct umem_port *p, struct umem_desc *descs, unsigned max);
	unsigned (*tx)(struct umem_port *p, const struct umem_desc *descs, unsigned n);
	int (*flush)(struct umem_port *p);
	/* writes raw completion addresses, unvalidated; port.c validates */
	unsigned (*complete)(struct umem_port *p, uint64_t *addrs, unsigned max);
	/* posts up to n frames from addrs on the fill ring; returns how many */
	unsigned (*fill)(struct umem_port *p, const uint64_t *addrs, unsigned n);
	/* how many frames the fill ring holds now, and its size */
	unsigned (*fill_level)(const struct umem_port *p, unsigned *size);
	int (*fd)(const struct umem_port *p);
	void (*get_stats)(const struct umem_port *p, struct umem_port_stats *out);
	/* releases backend resources; port.c then returns ring frames */
	void (*destroy)(struct umem_port *p);
};

struct umem_port {
	const struct umem_port_ops *ops;
	struct umem *umem;
	struct umem_port_stats stats;
	void *backend; /* the backend's own state */
};

/* Port attach/detach: a UMEM has at most one port (-EBUSY otherwise). */
int umem__attach_port(struct umem *u, struct umem_port *p);
void umem__detach_port(struct umem *u, struct umem_port *p);

/* Frame state transitions used by the ports. Each checks the frame's
 * current state in debug builds (asserting on misuse) and keeps the counts.
 * @return true when the transition was legal (always true in non-debug
 * builds, except the range checks). */
bool umem__to_fill(struct umem *u, uint64_t addr);    /* FREE -> FILL (frame taken by refill) */
bool umem__from_fill(struct umem *u, uint64_t addr);  /* FILL -> HELD (received) */
bool umem__fill_to_free(struct umem *u, uint64_t addr); /* FILL -> FREE (port teardown) */
bool umem__to_tx(struct umem *u, uint64_t addr);      /* HELD -> TX */
bool umem__tx_to_free(struct umem *u, uint64_t addr); /* TX -> FREE (port teardown) */

/* Validates one completion address (in range, the exact address posted,
 * frame in TX) and moves it TX -> HELD; counts the reason when invalid. */
bool umem__complete_one(struct umem *u, uint64_t addr);

/* Hands validated, HELD frames to the tx_done callback (or frees them). */
void umem__deliver_tx_done(struct umem *u, const uint64_t *addrs, unsigned n);

/* Refill parameters from the UMEM's config. */
unsigned umem__fill_batch(const struct umem *u);
unsigned umem__fill_watermark(const struct umem *u, unsigned ring_size);

/* Records a misuse (counted; asserts in debug builds) with a message. */
void umem__misuse(struct umem *u, const char *what, uint64_t addr);

#endif
