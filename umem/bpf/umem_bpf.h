/* umem/: what skiff's XDP program (skiff_xdp.bpf.c) and xsk.c agree on: map
 * names, key and value layouts, verdict reasons. Compiled both by clang
 * -target bpf and by the host compiler; not installed. */
#ifndef SKIFF_UMEM_BPF_H
#define SKIFF_UMEM_BPF_H

#include <linux/types.h>

/* Maps, found by name in the loaded object. xsk.c sizes them before load:
 * XSKMAP to queue + 1, the address sets to the configured counts. */
#define UMEM_BPF_MAP_XSKS     "skiff_xsks"     /* XSKMAP: rx queue -> socket */
#define UMEM_BPF_MAP_CFG      "skiff_cfg"      /* ARRAY[1] of struct umem_bpf_cfg */
#define UMEM_BPF_MAP_IPV4     "skiff_ipv4"     /* HASH: __be32 -> __u8 kind */
#define UMEM_BPF_MAP_IPV6     "skiff_ipv6"     /* HASH: struct umem_bpf_ip6 -> __u8 kind */
#define UMEM_BPF_MAP_VERDICTS "skiff_verdicts" /* PERCPU_ARRAY: verdict -> __u64 */

struct umem_bpf_cfg {
	__u8 mac[6]; /* the stack's MAC; all zero until configured: nothing is ours */
	__u8 pad[2];
};

/* Value of an address set entry. The IPv6 set also holds the
 * solicited-node multicast address of each unicast one, so that a neighbour
 * solicitation reaches the stack with one lookup. */
enum umem_bpf_addr_kind {
	UMEM_BPF_ADDR_UNICAST = 1,
	UMEM_BPF_ADDR_SOLICITED = 2,
};

struct umem_bpf_ip6 {
	__u8 addr[16];
};

/* Why a frame went where it went; index of the per-CPU counter array. */
enum umem_bpf_verdict {
	UMEM_BPF_REDIRECTED,	   /* for the stack, handed to the socket */
	UMEM_BPF_PASSED_NOT_OURS,  /* not the stack's (or malformed): the kernel's */
	UMEM_BPF_PASSED_NO_SOCKET, /* the stack's, but no socket on this rx queue */
	UMEM_BPF__NVERDICTS,
};

#ifndef __bpf__
#include <stddef.h>
#include <stdint.h>

struct umem_port;

/* The program's bytes, embedded at build time (SkiffXdpProg.cmake). */
extern const unsigned char umem__xdp_prog[];
extern const size_t umem__xdp_prog_len;

/* The verdict counters, summed over CPUs; umem_port_get_stats() reports
 * them as xdp_* (tests read them here directly). */
struct umem_xsk_xdp_stats {
	uint64_t redirected;
	uint64_t passed_not_ours;
	uint64_t passed_no_socket;
};

/* Reads the counters of an xsk port's program.
 * @return 0, -EINVAL (not an xsk port), -errno from the map lookup */
int umem__xsk_xdp_stats(const struct umem_port *p, struct umem_xsk_xdp_stats *out);
#endif

#endif
