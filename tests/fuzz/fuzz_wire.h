/* The input format of fuzz_rx and the frames its records stand for, shared
 * by the harness and the seed generator (fuzz_seeds.c) so that seeds are
 * always inputs the harness understands.
 *
 * An input is a sequence of records, each
 *
 *   op (1 byte) | body length (2 bytes, big-endian; cut to what is left) | body
 *
 * The low nibble of op (modulo FW__NKINDS) says what the body is, the high
 * bits are FW_F_* modifiers. Bodies of the L3/L4 kinds are wrapped in valid
 * Ethernet (and IP) headers from the peer to the stack; unless FW_F_ASIS is
 * set, the fields a random mutation would almost never get right are fixed
 * up, so that mutations reach TCP state instead of the checksum checks:
 * addresses, lengths, checksums, and for TCP the connection's ports with
 * sequence/acknowledgement numbers (and SACK edges) taken as offsets from
 * where the connection is, so 0 means "exactly what the stack expects"
 * (and on fuzz_mptcp's MPTCP connections the same for DSS fields). */
#ifndef SKIFF_FUZZ_WIRE_H
#define SKIFF_FUZZ_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_REC_HDR   3
#define FW_BODY_MAX  1500
#define FW_FRAME_MAX (FW_BODY_MAX + 14 + 40 + 20)

enum fw_kind {
	FW_RAW,	  /* a whole Ethernet frame */
	FW_IP4,	  /* an IPv4 packet */
	FW_IP6,	  /* an IPv6 packet */
	FW_TCP4,  /* TCP header + payload, on a connection over IPv4 */
	FW_TCP6,  /* the same on the IPv6 connection */
	FW_UDP4,  /* UDP header + payload (to the stack's socket) */
	FW_UDP6,  /* the same over IPv6 */
	FW_ICMP4, /* an ICMP message */
	FW_ICMP6, /* an ICMPv6 message (ND and MLD included: hop limit 255) */
	FW_CLOCK, /* 2 bytes, little-endian: milliseconds to move the clock on,
		   * in TCP timer ticks (FW_F_ASIS: in one jump) */
	FW_APP,	  /* the application acts: enum fw_app + arguments */
	FW_META,  /* the XDP metadata record in front of the frames that follow */
	FW__NKINDS,
};

static inline unsigned fw_kind(unsigned op)
{
	return (op & 0x0fu) % FW__NKINDS;
}

#define FW_F_CONN1  0x10 /* TCP4: the connection the stack opened, not the one it accepted */
#define FW_F_ASIS   0x20 /* no fix-ups but the checksum */
#define FW_F_BADSUM 0x40 /* the checksum as given too */
#define FW_F_PUMP   0x80 /* the stack runs (and is answered) right after this record */

/* FW_APP body: byte 0 = action (low nibble) | connection 0..2 (high nibble),
 * then the action's arguments. */
enum fw_app {
	FW_APP_SEND,	 /* 2 bytes: length - 1 (big-endian, modulo 8 KiB) */
	FW_APP_RECV,	 /* read everything there is */
	FW_APP_SHUT_WR,	 /* shutdown(SHUT_WR): a FIN */
	FW_APP_CLOSE,	 /* graceful close: the pcb lives on without the socket */
	FW_APP_ZC_SEND,	 /* 1 byte: length / 8 */
	FW_APP_ZC_RECV,	 /* receive loans, returned at once */
	FW_APP_MPTCP,	 /* 1 byte flags (0xff: none), then DSS fields */
	FW_APP_UDP_SEND, /* 1 byte: length; to the peer (IPv6 for odd connections) */
	FW_APP__N,
};

/* The connections fuzz_rx keeps open while it runs an input. */
enum fw_conn {
	FW_C_ACCEPTED4, /* peer -> stack:FW_PORT_LISTEN over IPv4 */
	FW_C_OPENED4,	/* stack -> peer:FW_PORT_PEER over IPv4 */
	FW_C_ACCEPTED6, /* peer -> stack:FW_PORT_LISTEN over IPv6 */
	FW_C__N,
};

extern const uint8_t fw_stack_mac[6], fw_peer_mac[6];
extern const uint8_t fw_stack_ip4[4], fw_peer_ip4[4];
extern const uint8_t fw_stack_ip6[16], fw_peer_ip6[16];

#define FW_PORT_LISTEN 80    /* dual-stack listener */
#define FW_PORT_SECURE 443   /* IPv4 listener that requires a secpath */
#define FW_PORT_PEER   5000  /* where the stack connects to */
#define FW_PORT_UDP    7     /* the stack's UDP socket (dual-stack) */
#define FW_PORT_ACCEPT 40000 /* the peer's first port for accepted connections */
#define FW_PORT_RAW    41000 /* the peer's port in raw seeds (no connection of ours) */

/* Known to the stack (skiff__sa_add), in network order once converted. */
#define FW_SPI0 0x11223344u
#define FW_SPI1 0x55667788u

#define FW_TH_FIN 0x01
#define FW_TH_SYN 0x02
#define FW_TH_RST 0x04
#define FW_TH_PSH 0x08
#define FW_TH_ACK 0x10

/* Where TCP fix-ups put a segment. */
struct fw_tcp_ref {
	uint16_t peer_port, stack_port;
	uint32_t seq_base; /* the peer's next sequence number (what the stack ACKs) */
	uint32_t ack_base; /* the end of what the stack has sent */
	/* On an MPTCP connection (fuzz_mptcp), a DSS option's fields are
	 * offsets too: the DATA_ACK from dack_base, the mapping's data
	 * sequence number from dsn_base and its subflow sequence number
	 * (relative) from ssn_base, each where the connection is. */
	bool mptcp;
	uint64_t dack_base, dsn_base;
	uint32_t ssn_base;
};

/* The frame for one record of kind FW_RAW..FW_ICMP6 into @p f
 * (FW_FRAME_MAX bytes); its length, 0 for none. @p ref: where TCP
 * fix-ups put the segment (NULL: none). */
size_t fw_frame(uint8_t *f, unsigned op, const uint8_t *body, size_t len,
		const struct fw_tcp_ref *ref);

/* Appends a record to @p out at @p pos; returns the new end. */
size_t fw_record(uint8_t *out, size_t pos, unsigned op, const void *body, size_t len);

/* A TCP header (+ options, + payload) into @p b; returns its length. The
 * checksum is left 0 (fw_frame computes it). */
size_t fw_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
	      const uint8_t *opt, size_t optlen, const void *data, size_t len);

/* The options of a SYN: MSS 1460, SACK permitted, timestamps, window scale;
 * returns their length (24). */
size_t fw_syn_options(uint8_t *o);

/* The Internet checksum of @p len bytes. */
uint16_t fw_csum(const uint8_t *p, size_t len);
/* The checksum of an L4 message from the peer to the stack (pseudo header
 * included), its checksum field zero. */
uint16_t fw_l4_csum(bool v6, uint8_t proto, const uint8_t *l4, size_t len);

static inline void fw_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void fw_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t fw_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t fw_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
