/* Wire format: the metadata record skiff's XDP program (umem/bpf, its
 * writer) leaves in front of a packet it redirects to the stack
 * (bpf_xdp_adjust_meta), for stack/ to read on receive (secpath.c). Kept
 * beside its writer and shared by both sides: plain C types, no lwIP, no
 * libc beyond <stdint.h>, so that clang -target bpf compiles it too. (The
 * program does not emit records yet; tests and fuzzers write them.)
 *
 * Placement: AF_XDP hands over the metadata immediately in front of the
 * packet, so the record ends at the descriptor's address and is read
 * backwards from there:
 *
 * @verbatim
 *   frame + headroom + 256 - 32   struct umem_xdp_meta (32 bytes)
 *   frame + headroom + 256        the packet (descriptor address)
 * @endverbatim
 *
 * The kernel writes the record only when the program made one; otherwise
 * those bytes are whatever the frame held before. stack/ zeroes the slot
 * whenever a frame is released (pkb pool release hook), so a stale record
 * can never be read twice and payload bytes of an earlier transmission can
 * never pass for one.
 *
 * Byte order: spi[] as on the wire (network order, as struct pkb_sa keeps
 * it); the other fields in host order (the program and the stack run on
 * the same machine).
 */
#ifndef UMEM_XDP_META_H
#define UMEM_XDP_META_H

#include <stdint.h>

#define UMEM_XDP_META_MAGIC   0x314d4b53u /* "SKM1" read as little-endian bytes */
#define UMEM_XDP_META_VERSION 1u
/* Security associations one record can name, outermost first. */
#define UMEM_XDP_META_MAX_SA 4u

/* What the classifier found: the SAs that accepted the packet (e.g. an
 * inline-crypto NIC or an XDP IPsec offload). */
struct umem_xdp_meta {
	uint32_t spi[UMEM_XDP_META_MAX_SA]; /* network byte order */
	uint8_t n_sa;			    /* entries of spi[] in use, 1..MAX_SA */
	uint8_t version;		    /* UMEM_XDP_META_VERSION */
	uint16_t flags;			    /* 0; reserved */
	uint32_t reserved;		    /* 0 */
	uint32_t reserved2;		    /* 0 */
	uint32_t magic;			    /* UMEM_XDP_META_MAGIC, last: next to the packet */
};

/* XDP metadata is at most 32 bytes and a multiple of 4. */
_Static_assert(sizeof(struct umem_xdp_meta) == 32, "XDP metadata is 32 bytes");

#endif
