/* lwIP configuration for skiff (lwIP 2.2.1, NO_SYS). Options are grouped as
 * lwIP's opt.h groups them; each departure from lwIP's default says why. */
#ifndef SKIFF_LWIPOPTS_H
#define SKIFF_LWIPOPTS_H

#include <stdint.h>

/* Our lwIP hooks (ISN, VLAN, TCP options): macros and declarations. */
#define LWIP_HOOK_FILENAME "skiff_lwip_hooks.h"

/* ---- system: raw API only, one thread drives the stack (skiff_poll) ---- */
#define NO_SYS		     1
#define LWIP_SOCKET	     0
#define LWIP_NETCONN	     0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS	     1

/* ---- memory: lwIP's control data from the C heap; packet data is in UMEM
 * Every pool (pcbs, segments, pbuf heads) and lwIP's heap (the send buffers
 * of plain, copying sends) come from malloc(): nothing is sized at compile
 * time, so the limits are skiff_config's, enforced where a connection or a
 * descriptor is made (demux.c, fdtable.c), each with its answer (SYN
 * cookie or RST, errno). The MEMP_NUM_* below only bound what lwIP's
 * statistics call "available". */
#define MEM_ALIGNMENT 8
/* The C heap behind a cache of freed blocks per size class (heap.c): the
 * per-packet pbufs and segments skip malloc's slow path. */
#include <stddef.h>
void *skiff__heap_alloc(size_t size);
void skiff__heap_free(void *p);
void *skiff__heap_calloc(size_t n, size_t size);
#define MEM_CUSTOM_ALLOCATOR 1
#define MEM_CUSTOM_MALLOC    skiff__heap_alloc
#define MEM_CUSTOM_FREE	     skiff__heap_free
#define MEM_CUSTOM_CALLOC    skiff__heap_calloc
#define MEMP_MEM_MALLOC	     1
/* Sizes lwIP's mem_size_t (32 bits: chains of copying sends beyond 64 KiB). */
#define MEM_SIZE		(64 * 1024 * 1024)
#define MEMP_NUM_PBUF		65535
#define MEMP_NUM_TCP_PCB	65535
#define MEMP_NUM_TCP_PCB_LISTEN 65535
#define MEMP_NUM_TCP_SEG	65535
#define MEMP_NUM_REASSDATA	16
#define IP_REASS_MAX_PBUFS	64
#define MEMP_NUM_FRAG_PBUF	64
#define MEMP_NUM_UDP_PCB	64
#define MEMP_NUM_SYS_TIMEOUT	16
#define PBUF_POOL_SIZE		1024
#define PBUF_POOL_BUFSIZE	2048
/* lwIP checks TCP_WND against PBUF_POOL_SIZE, but received segments live in
 * UMEM frames (pbuf_custom), not in the pool: that check does not apply. */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
/* Zero-copy RX: received frames become pbuf_custom (stack/). */
#define LWIP_SUPPORT_CUSTOM_PBUF 1
/* A frame can be referenced by many pbufs (clones, retransmissions). */
#define LWIP_PBUF_REF_T u16_t

/* ---- link: Ethernet, ARP, VLAN ---------------------------------------- */
#define LWIP_ARP	    1
#define LWIP_ETHERNET	    1
#define ETHARP_SUPPORT_VLAN 1
/* Room for the neighbours a SYN flood from spoofed on-link addresses makes
 * us answer (SYN cookies, RSTs): with 64 entries their churn evicted the
 * real peers' entries, and their traffic stalled on ARP (a 20,000-SYN
 * flood from 151 addresses took a stream beside it from 3.0 to 0.3 Gbit/s;
 * with 512, 3.0 to 3.1). lwIP scans the table linearly on a miss. */
#define ARP_TABLE_SIZE 512
#define ARP_QUEUEING   1
/* A burst of connects to a neighbour not yet resolved queues one SYN each
 * while ARP runs; lwIP's default of 3 drops the rest for a second. */
#define ARP_QUEUE_LEN	   1024
#define MEMP_NUM_ARP_QUEUE 65535
#define ETH_PAD_SIZE	   0
/* Room for a VLAN tag in front of every packet: our LWIP_HOOK_VLAN_SET
 * lives in the hooks header, which opt.h cannot see when it sizes this. */
#define PBUF_LINK_HLEN 18

/* ---- IPv4 and IPv6 ----------------------------------------------------- */
#define LWIP_IPV4		      1
#define LWIP_IPV6		      1
#define LWIP_ICMP		      1
#define LWIP_ICMP6		      1
#define LWIP_IPV6_ND		      1
#define LWIP_IPV6_MLD		      1
#define LWIP_IPV6_AUTOCONFIG	      0
#define LWIP_IPV6_DHCP6		      0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_NUM_ADDRESSES	      4
/* Addresses are usable at once (like `ip addr add ... nodad`): the
 * configured ones are the operator's to keep unique. */
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
/* TCP segments leave with Don't Fragment, as Linux's; the path MTU shows
 * through ICMP (pmtu.c). */
#define IP_TCP_DONT_FRAGMENT 1
#define IP_REASSEMBLY	     1
#define IP_FRAG		     1
#define LWIP_IPV6_REASS	     1
#define LWIP_IPV6_FRAG	     1
/* A datagram whose fragments never all come holds UMEM frames until it
 * expires: 5 s for both families (lwIP's defaults, 15 s and 60 s, let a
 * trickle of lone fragments pin frames for a minute). */
#define IP_REASS_MAXAGE	  5
#define IPV6_REASS_MAXAGE 5
/* 64-bit pointers do not fit lwIP's in-header reassembly helper. */
#define IPV6_FRAG_COPYHEADER 1
#define LWIP_DHCP	     0
#define LWIP_AUTOIP	     0
#define LWIP_ACD	     0
#define LWIP_IGMP	     0
#define LWIP_DNS	     0
#define LWIP_RAW	     0
#define LWIP_UDP	     1
/* SO_REUSEADDR (TIME_WAIT rebinding, several listeners). */
#define SO_REUSE 1

/* ---- TCP: big windows, timestamps, SACK ------------------------------- */
#define LWIP_TCP 1
#define TCP_MSS	 1460
/* Timers: fast (delayed ACK) every 5 ms, slow (retransmission, RTT and RTO
 * granularity) every 10 ms instead of 250/500: RTTs here are microseconds,
 * and lwIP's RTO cannot go below 3 slow ticks (its variance term stops
 * decaying at 3), so a 500 ms tick makes every timeout cost 1.5 s. */
#define TCP_TMR_INTERVAL 5
/* The RTO itself comes from skiff's RTT estimate in microseconds, at
 * least skiff_config.min_rto_ms (recovery.c): lwIP's 12 retransmissions
 * then last about 14 s at the 200 ms minimum. */
/* RFC 6298's initial RTO of 1 s (lwIP's default is 3 s). */
#define LWIP_TCP_RTO_TIME 1000
/* TCP_MSL stays lwIP's 60 s: it also bounds LAST_ACK, which must outlive
 * retransmissions. A shorter TIME_WAIT (skiff_config.time_wait_ms, tests)
 * is enforced by the poll loop reaping TIME_WAIT pcbs itself (stack.c). */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE  7
/* 4 MiB windows each way (Linux's default tcp_wmem maximum; its receive
 * window autotunes up to 6 MiB): a 20 ms round trip at 900 Mbit/s needs
 * 2.2 MB in flight, and 2 MiB held such a path to about 600 Mbit/s. */
#define TCP_WND		  (4 * 1024 * 1024)
#define TCP_SND_BUF	  (4 * 1024 * 1024)
#define TCP_SND_QUEUELEN  16384
/* Retransmission timeouts in a row before lwIP gives a connection up: 12,
 * as upstream; a variable so that a test can have it give up sooner
 * (skiff__tcp_give_up_after(), skiff_testing.h). */
extern unsigned char skiff__tcp_maxrtx;
#define TCP_MAXRTX skiff__tcp_maxrtx
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
/* lwIP sends a window update the moment the application reads 4 MSS; the
 * poll loop sends it after the application's turn instead, when its
 * answer has not carried it already (ackbatch.c): never from here. */
#define TCP_WND_UPDATE_THRESHOLD 0xffffffffu
/* With window scaling TCP_SNDLOWAT must stay 4*MSS below 0xFFFF. */
#define TCP_SNDLOWAT	      (0xFFFF - (4 * TCP_MSS) - 1)
#define LWIP_TCP_TIMESTAMPS   1
#define LWIP_TCP_SACK_OUT     1
#define LWIP_TCP_MAX_SACK_NUM 4
#define TCP_QUEUE_OOSEQ	      1
#define TCP_OOSEQ_MAX_BYTES   (4 * 1024 * 1024)
/* Frames a connection's out-of-order queue may keep: its budget and what
 * the global one leaves, counted without walking the queue (ooseq.c,
 * patches 0010 and 0011). */
struct tcp_pcb;
int skiff__ooseq_within(struct tcp_pcb *pcb);
unsigned short skiff__ooseq_limit(struct tcp_pcb *pcb);
#define TCP_OOSEQ_WITHIN_LIMITS(pcb) skiff__ooseq_within(pcb)
#define TCP_OOSEQ_PBUFS_LIMIT(pcb)   skiff__ooseq_limit(pcb)
#define TCP_LISTEN_BACKLOG	     1
#define TCP_DEFAULT_LISTEN_BACKLOG   128
/* Ephemeral ports as Linux's ip_local_port_range; connect() picks one that
 * makes the 4-tuple unique (demux.c), so a port serves many peers. */
#define TCP_LOCAL_PORT_RANGE_START 32768
#define TCP_LOCAL_PORT_RANGE_END   60999
#define TCP_ENSURE_LOCAL_PORT_RANGE(port)                                                          \
	((u16_t)(TCP_LOCAL_PORT_RANGE_START +                                                      \
		 (port) % (TCP_LOCAL_PORT_RANGE_END - TCP_LOCAL_PORT_RANGE_START + 1)))
#define LWIP_TCP_KEEPALIVE 1
#define TCP_OVERSIZE	   TCP_MSS
/* Slot 0: the socket that owns the pcb (its destroy callback is the one
 * notice of every pcb's end); slot 1: MPTCP state. */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 2
/* The engine's links in every pcb (patch 0002): its chain in the 4-tuple
 * or listener table (demux.c); its place on the timer wheel or in the
 * TIME-WAIT order, on the fast-timer list, its next due tick and what the
 * last visit saw (timers.c); its listener's half-open list (listenq.c; a
 * listener uses those links as the list's head and tail, and counts its
 * half-open connections); the list of connections holding out-of-order
 * frames and their count (ooseq.c); when the handshake's SYN or SYN-ACK
 * left, if only once (recovery.c: the first RTT sample); its place on the
 * fine timer's list and that deadline, in microseconds (timers.c); its place
 * on the list of pcbs armed since the timers last looked, and where lwIP's
 * retransmission timer stood then (timers.c). */
#define LWIP_TCP_PCB_EMBEDDER_FIELDS                                                               \
	struct tcp_pcb *skiff_hnext;                                                               \
	struct tcp_pcb *skiff_tnext, *skiff_tprev;                                                 \
	struct tcp_pcb *skiff_fnext, *skiff_fprev;                                                 \
	struct tcp_pcb *skiff_onext, *skiff_oprev;                                                 \
	struct tcp_pcb *skiff_qnext, *skiff_qprev;                                                 \
	struct tcp_pcb *skiff_rnext, *skiff_rprev;                                                 \
	struct tcp_pcb *skiff_anext, *skiff_aprev;                                                 \
	u16_t skiff_ooseq;                                                                         \
	u32_t skiff_hash;                                                                          \
	u32_t skiff_half_open;                                                                     \
	u32_t skiff_due, skiff_visited;                                                            \
	u32_t skiff_syn_us;                                                                        \
	u32_t skiff_fine_us;                                                                       \
	u32_t skiff_lastack;                                                                       \
	s16_t skiff_rtime;                                                                         \
	u8_t skiff_armed;                                                                          \
	u8_t skiff_tlist;                                                                          \
	u8_t skiff_fine;                                                                           \
	u8_t skiff_flags;
/* What recovery.c keeps in every segment (patch 0013): when it was last
 * sent and with which TSval (patch 0020), and whether it was sent more
 * than once or SACKed. */
#define LWIP_TCP_SEG_EMBEDDER_FIELDS                                                               \
	u32_t skiff_xmit_us;                                                                       \
	u32_t skiff_tsval;                                                                         \
	u8_t skiff_sflags;
/* The pcb lists' link/unlink notifications (patch 0002) feed the same
 * structures. Declared here, not in the hooks file: lwIP's list macros
 * test for them when tcp_priv.h is read, before the hooks file is. */
struct tcp_pcb;
void skiff__hook_pcb_linked(struct tcp_pcb **list, struct tcp_pcb *pcb);
void skiff__hook_pcb_unlinking(struct tcp_pcb **list, struct tcp_pcb *pcb);
#define LWIP_HOOK_TCP_PCB_LINKED(list, pcb) skiff__hook_pcb_linked(list, (struct tcp_pcb *)(pcb))
#define LWIP_HOOK_TCP_PCB_UNLINKING(list, pcb)                                                     \
	skiff__hook_pcb_unlinking(list, (struct tcp_pcb *)(pcb))

/* ---- checksums: computed in software both ways ------------------------ */
#define CHECKSUM_GEN_IP	      1
#define CHECKSUM_GEN_TCP      1
#define CHECKSUM_GEN_UDP      1
#define CHECKSUM_CHECK_IP     1
#define CHECKSUM_CHECK_TCP    1
#define CHECKSUM_CHECK_UDP    1
#define LWIP_CHECKSUM_ON_COPY 1
/* lwIP's loop adds 16 bits at a time; ours 32 into 64-bit sums, with AVX2
 * where the CPU has it (chksum.c): the same result, 2x faster. */
uint16_t skiff__chksum(const void *data, int len);
#define LWIP_CHKSUM skiff__chksum
/* Copying sends: copy and sum in one pass (lwIP's copies, then sums). */
uint16_t skiff__chksum_copy(void *dst, const void *src, uint16_t len);
#define LWIP_CHKSUM_COPY(dst, src, len) skiff__chksum_copy(dst, src, len)

/* ---- netif ----------------------------------------------------------- */
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK   0
/* One netif per port (skiff_config.extra_ports). Traffic from a port's
 * address leaves through that port when the destination is on its link or
 * it has a gateway; else lwIP routes by destination (netif.c). Defined here,
 * not with the other hooks: ip4.h must see it. */
#define LWIP_SINGLE_NETIF	   0
/* No zones on IPv6 addresses (lwIP's default with several netifs): a
 * link-local address goes out on the netif that holds the source. */
#define LWIP_IPV6_SCOPES 0
struct ip4_addr;
struct ip6_addr;
struct netif;
struct netif *skiff__hook_route4_src(const struct ip4_addr *src, const struct ip4_addr *dest);
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) skiff__hook_route4_src(src, dest)
struct netif *skiff__hook_route6(const struct ip6_addr *src, const struct ip6_addr *dest);
#define LWIP_HOOK_IP6_ROUTE(src, dest) skiff__hook_route6(src, dest)
#define LWIP_NETIF_TX_SINGLE_PBUF  0

/* ---- statistics and debugging ------------------------------------------ */
#define LWIP_STATS	   1
#define LWIP_STATS_DISPLAY 0
#define MEMP_STATS	   1
#define MEM_STATS	   1
#define TCP_STATS	   1
#define LWIP_DEBUG	   0

#endif
