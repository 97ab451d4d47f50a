/* skiff's XDP program: hands the AF_XDP socket only the frames that belong
 * to the stack (its MAC and addresses, and ARP/ND about them) and passes
 * everything else to the kernel, so the host keeps using the interface.
 *
 * Built with clang -target bpf and embedded into libskiff (SkiffXdpProg.cmake);
 * xsk.c loads it through libxdp and fills its maps (umem_bpf.h). */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "umem_bpf.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define ARPHRD_ETHER_ 1
#define ICMPV6_NS     135

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} skiff_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct umem_bpf_cfg);
} skiff_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __be32);
	__type(value, __u8);
} skiff_ipv4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct umem_bpf_ip6);
	__type(value, __u8);
} skiff_ipv6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UMEM_BPF__NVERDICTS);
	__type(key, __u32);
	__type(value, __u64);
} skiff_verdicts SEC(".maps");

struct vlan {
	__be16 tci;
	__be16 proto;
};

/* ARP for IPv4 over Ethernet; the 4-byte addresses are unaligned. */
struct arp_eth {
	__be16 hrd;
	__be16 pro;
	__u8 hln;
	__u8 pln;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
};

/* ICMPv6 neighbour solicitation up to its target. */
struct nd_ns {
	__u8 type;
	__u8 code;
	__be16 csum;
	__be32 reserved;
	struct umem_bpf_ip6 target;
};

/* What the classifier learnt, for whoever delivers the frame. A later
 * secpath extension records its findings here too. */
struct pkt {
	void *data;
	void *end;
	struct ethhdr *eth;
	void *l3;
	__u16 proto; /* host order, after at most one VLAN tag */
	bool to_us;  /* destination MAC is the stack's */
	bool group;  /* destination MAC is broadcast or multicast */
};

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

static __always_inline int ip4_kind(const void *addr)
{
	__u8 *kind = bpf_map_lookup_elem(&skiff_ipv4, addr);

	return kind ? *kind : 0;
}

static __always_inline int ip6_kind(const void *addr)
{
	__u8 *kind = bpf_map_lookup_elem(&skiff_ipv6, addr);

	return kind ? *kind : 0;
}

static __always_inline bool parse_l2(struct pkt *pk, const struct umem_bpf_cfg *cfg)
{
	struct ethhdr *eth = pk->data;
	struct vlan *vh;

	if ((void *)(eth + 1) > pk->end)
		return false;
	pk->eth = eth;
	pk->proto = bpf_ntohs(eth->h_proto);
	pk->l3 = eth + 1;
	if (pk->proto == ETH_P_8021Q || pk->proto == ETH_P_8021AD) {
		vh = pk->l3;
		if ((void *)(vh + 1) > pk->end)
			return false;
		pk->proto = bpf_ntohs(vh->proto);
		pk->l3 = vh + 1;
	}
	pk->group = eth->h_dest[0] & 1;
	pk->to_us = !pk->group && mac_eq(eth->h_dest, cfg->mac);
	return true;
}

static __always_inline bool ours_ipv4(struct pkt *pk)
{
	struct iphdr *iph = pk->l3;

	if ((void *)(iph + 1) > pk->end || iph->version != 4)
		return false;
	return pk->to_us && ip4_kind(&iph->daddr) == UMEM_BPF_ADDR_UNICAST;
}

static __always_inline bool ours_arp(struct pkt *pk)
{
	struct arp_eth *arp = pk->l3;

	if ((void *)(arp + 1) > pk->end)
		return false;
	if (arp->hrd != bpf_htons(ARPHRD_ETHER_) || arp->pro != bpf_htons(ETH_P_IP) ||
	    arp->hln != 6 || arp->pln != 4)
		return false;
	return (pk->to_us || pk->group) && ip4_kind(arp->tpa) == UMEM_BPF_ADDR_UNICAST;
}

static __always_inline bool ours_ipv6(struct pkt *pk)
{
	struct ipv6hdr *ip6 = pk->l3;
	struct nd_ns *ns;

	if ((void *)(ip6 + 1) > pk->end || ip6->version != 6)
		return false;
	switch (ip6_kind(&ip6->daddr)) {
	case UMEM_BPF_ADDR_UNICAST:
		return pk->to_us;
	case UMEM_BPF_ADDR_SOLICITED:
		/* The host may share the solicited-node group (same low 24
		 * bits): only a solicitation for one of the stack's own
		 * addresses is the stack's. */
		if (!pk->group || ip6->nexthdr != IPPROTO_ICMPV6)
			return false;
		ns = (void *)(ip6 + 1);
		if ((void *)(ns + 1) > pk->end || ns->type != ICMPV6_NS)
			return false;
		return ip6_kind(&ns->target) == UMEM_BPF_ADDR_UNICAST;
	default:
		return false;
	}
}

static __always_inline int count(enum umem_bpf_verdict v, int action)
{
	__u32 key = v;
	__u64 *n = bpf_map_lookup_elem(&skiff_verdicts, &key);

	if (n)
		*n += 1;
	return action;
}

/* The one way out to the socket. Metadata for the stack (the secpath
 * extension, from what the classifier left in pk) goes in here, with
 * bpf_xdp_adjust_meta(): it invalidates every packet pointer, so it comes
 * after all parsing. A redirect that fails later (RX ring full) shows in
 * XDP_STATISTICS. */
static __always_inline int to_socket(struct xdp_md *ctx, struct pkt *pk)
{
	int action;

	(void)pk;
	action = bpf_redirect_map(&skiff_xsks, ctx->rx_queue_index, XDP_PASS);
	if (action != XDP_REDIRECT)
		return count(UMEM_BPF_PASSED_NO_SOCKET, XDP_PASS);
	return count(UMEM_BPF_REDIRECTED, action);
}

SEC("xdp")
int skiff_xdp(struct xdp_md *ctx)
{
	struct pkt pk = {
		.data = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	struct umem_bpf_cfg *cfg;
	__u32 zero = 0;
	bool ours;

	cfg = bpf_map_lookup_elem(&skiff_cfg, &zero);
	if (!cfg || !parse_l2(&pk, cfg))
		return count(UMEM_BPF_PASSED_NOT_OURS, XDP_PASS);
	switch (pk.proto) {
	case ETH_P_IP:
		ours = ours_ipv4(&pk);
		break;
	case ETH_P_ARP:
		ours = ours_arp(&pk);
		break;
	case ETH_P_IPV6:
		ours = ours_ipv6(&pk);
		break;
	default:
		ours = false;
	}
	if (!ours)
		return count(UMEM_BPF_PASSED_NOT_OURS, XDP_PASS);
	return to_socket(ctx, &pk);
}

char _license[] SEC("license") = "Dual BSD/GPL";
