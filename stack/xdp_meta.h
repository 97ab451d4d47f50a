/* Wire format: the metadata record skiff's XDP program leaves in front of a
 * packet it redirects to the stack (bpf_xdp_adjust_meta), for stack/ to
 * read on receive. Shared by the XDP program (to come, umem/bpf) and
 * stack/netif.c; plain C types, no lwIP, no libc beyond <stdint.h>.
 *
 * Placement: AF_XDP hands over the metadata immediately in front of the
 * packet, so the record ends at the descriptor's address and is read
 * backwards from there:
 *
 * @verbatim
 *   frame + headroom + 256 - 32   struct skiff_xdp_meta (32 bytes)
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
#ifndef SKIFF_XDP_META_H
#define SKIFF_XDP_META_H

#include <stdint.h>

#define SKIFF_XDP_META_MAGIC   0x314d4b53u /* "SKM1" read as little-endian bytes */
#define SKIFF_XDP_META_VERSION 1u
/* Security associations one record can name, outermost first. */
#define SKIFF_XDP_META_MAX_SA 4u

/* What the classifier found: the SAs that accepted the packet (e.g. an
 * inline-crypto NIC or an XDP IPsec offload). */
struct skiff_xdp_meta {
	uint32_t spi[SKIFF_XDP_META_MAX_SA]; /* network byte order */
	uint8_t n_sa;			     /* entries of spi[] in use, 1..MAX_SA */
	uint8_t version;		     /* SKIFF_XDP_META_VERSION */
	uint16_t flags;			     /* 0; reserved */
	uint32_t reserved;		     /* 0 */
	uint32_t reserved2;		     /* 0 */
	uint32_t magic;			     /* SKIFF_XDP_META_MAGIC, last: next to the packet */
};

/* XDP metadata is at most 32 bytes and a multiple of 4. */
_Static_assert(sizeof(struct skiff_xdp_meta) == 32, "XDP metadata is 32 bytes");

#endif
