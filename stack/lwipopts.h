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

/* ---- memory: heap for lwIP's own control data; packet data is in UMEM -- */
#define MEM_ALIGNMENT 8
/* Send buffers of plain (copying) sends live in this heap: 64 MiB of
 * address space, touched only as used. */
#define MEM_SIZE (64 * 1024 * 1024)
/* One per zero-copy segment (the PBUF_ROM pointing at the UMEM payload):
 * several sockets' worth of 2 MiB send buffers. */
#define MEMP_NUM_PBUF		16384
#define MEMP_NUM_TCP_PCB	1024
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define MEMP_NUM_TCP_SEG	32768
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
#define ARP_TABLE_SIZE	    64
#define ARP_QUEUEING	    1
/* A burst of connects to a neighbour not yet resolved queues one SYN each
 * while ARP runs; lwIP's default of 3 drops the rest for a second. */
#define ARP_QUEUE_LEN	   64
#define MEMP_NUM_ARP_QUEUE 256
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
#define IP_REASSEMBLY		      1
#define IP_FRAG			      1
#define LWIP_IPV6_REASS		      1
#define LWIP_IPV6_FRAG		      1
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
/* lwIP gives up after 12 retransmissions (its backoff table caps at 7x):
 * at the 30 ms floor only ~2 s of silence. After 4 timeouts in a row the
 * RTO base is raised to 200 ms (hooks.c), which stretches that to ~10 s. */
#define SKIFF_RTO_BACKOFF_FLOOR_MS 200
/* RFC 6298's initial RTO of 1 s (lwIP's default is 3 s). */
#define LWIP_TCP_RTO_TIME 1000
/* TCP_MSL stays lwIP's 60 s: it also bounds LAST_ACK, which must outlive
 * retransmissions. A shorter TIME_WAIT (skiff_config.time_wait_ms, tests)
 * is enforced by the poll loop reaping TIME_WAIT pcbs itself (stack.c). */
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE  7
/* Windows of at least 1 MiB each way. */
#define TCP_WND		  (2 * 1024 * 1024)
#define TCP_SND_BUF	  (2 * 1024 * 1024)
#define TCP_SND_QUEUELEN  16384
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
/* lwIP sends a window update the moment the application reads 4 MSS; the
 * poll loop sends it after the application's turn instead, when its
 * answer has not carried it already (ackbatch.c): never from here. */
#define TCP_WND_UPDATE_THRESHOLD 0xffffffffu
/* With window scaling TCP_SNDLOWAT must stay 4*MSS below 0xFFFF. */
#define TCP_SNDLOWAT		   (0xFFFF - (4 * TCP_MSS) - 1)
#define LWIP_TCP_TIMESTAMPS	   1
#define LWIP_TCP_SACK_OUT	   1
#define LWIP_TCP_MAX_SACK_NUM	   4
#define TCP_QUEUE_OOSEQ		   1
#define TCP_OOSEQ_MAX_BYTES	   (4 * 1024 * 1024)
#define TCP_OOSEQ_MAX_PBUFS	   4096
#define TCP_LISTEN_BACKLOG	   1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_KEEPALIVE	   1
#define TCP_OVERSIZE		   TCP_MSS
/* Slot 0: the socket that owns the pcb (its destroy callback is the one
 * notice of every pcb's end); slot 1: MPTCP state. */
#define LWIP_TCP_PCB_NUM_EXT_ARGS 2

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
#define LWIP_SINGLE_NETIF	   1
#define LWIP_NETIF_TX_SINGLE_PBUF  0

/* ---- statistics and debugging ------------------------------------------ */
#define LWIP_STATS	   1
#define LWIP_STATS_DISPLAY 0
#define MEMP_STATS	   1
#define MEM_STATS	   1
#define TCP_STATS	   1
#define LWIP_DEBUG	   0

#endif
