/* MPTCP's room (stack/mptcp/): connection-level MPTCP (RFC 8684) above
 * lwIP's TCP connections, which are its subflows. A subflow's state hangs
 * off its pcb in lwIP's per-pcb extension slot 1 (lwipopts.h), whose
 * destroy callback frees it with the pcb and whose passive-open callback,
 * on a listener, is where a SYN's MP_CAPABLE becomes a subflow's state
 * before the SYN-ACK is built. The connection-level state (keys, data
 * sequence spaces, DATA_FIN) is shared by a connection's subflows.
 *
 * Today: MP_CAPABLE v1 both sides, one subflow, DSS checksums when
 * negotiated, MP_FAIL and the infinite mapping after a checksum failure
 * (docs/mptcp.md). stack/mptcp.c is the door from lwIP's option hooks. */
#ifndef SKIFF_MPTCP_CONN_H
#define SKIFF_MPTCP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <skiff/skiff.h>

#include <skiff/pkb.h>

#include "cc.h"
#include "lwip/arch.h"
#include "lwip/err.h"
#include "lwip/ip_addr.h"

struct pbuf;
struct tcp_hdr;
struct tcp_pcb;

#define SKIFF_MPTCP_HMAC_LEN	    32
#define SKIFF_MPTCP_MPC_SYN_LEN	    4	 /* MP_CAPABLE v1 on a SYN: no key */
#define SKIFF_MPTCP_MPC_SYNACK_LEN  12	 /* ... on a SYN-ACK: the receiver's key */
#define SKIFF_MPTCP_MPC_ACK_LEN	    20	 /* ... on the third ACK: both keys */
#define SKIFF_MPTCP_MPC_DATA_LEN    22	 /* ... on the first data: both keys, data-level length */
#define SKIFF_MPTCP_MPC_CSUM_LEN    24	 /* ... and its checksum, when negotiated (3.1) */
#define SKIFF_MPTCP_MPC_A	    0x80 /* MP_CAPABLE flag A: DSS checksums */
#define SKIFF_MPTCP_MPC_H	    0x01 /* ... flag H: HMAC-SHA256 */
#define SKIFF_MPTCP_FAIL_LEN	    12	 /* MP_FAIL: the failed mapping's 64-bit DSN (3.7) */
#define SKIFF_MPTCP_JOIN_SYN_LEN    12	 /* MP_JOIN on a SYN: token, nonce (3.2) */
#define SKIFF_MPTCP_JOIN_SYNACK_LEN 16	 /* ... on a SYN-ACK: truncated HMAC, nonce */
#define SKIFF_MPTCP_JOIN_ACK_LEN    24	 /* ... on the third ACK: HMAC */
/* Option subtypes (RFC 8684 section 8); MP_TCPRST is the highest assigned
 * (0xf is for private use: unknown to us too). */
#define SKIFF_MPTCP_SUB_CAPABLE	  0
#define SKIFF_MPTCP_SUB_JOIN	  1
#define SKIFF_MPTCP_SUB_ADD_ADDR  3
#define SKIFF_MPTCP_SUB_RM_ADDR	  4
#define SKIFF_MPTCP_SUB_PRIO	  5
#define SKIFF_MPTCP_SUB_FAIL	  6
#define SKIFF_MPTCP_SUB_FASTCLOSE 7
#define SKIFF_MPTCP_SUB_TCPRST	  8
#define SKIFF_MPTCP_FASTCLOSE_LEN 12 /* MP_FASTCLOSE: the receiver's key (3.5) */
#define SKIFF_MPTCP_TCPRST_LEN	  4  /* MP_TCPRST: flags, reason (3.6) */
#define SKIFF_MPTCP_PRIO_LEN	  3  /* MP_PRIO: the backup flag (3.3.8) */
#define SKIFF_MPTCP_RM_IDS	  8  /* address ids one REMOVE_ADDR names, at most */
/* MP_TCPRST reasons (3.6) skiff writes. */
#define SKIFF_MPTCP_RST_UNSPEC	   0 /* unspecified: the connection is going */
#define SKIFF_MPTCP_RST_EMPTCP	   1 /* an MPTCP-specific error (a wrong HMAC) */
#define SKIFF_MPTCP_RST_EMIDDLEBOX 6 /* middlebox interference (a wrong checksum) */
/* Option bytes of every segment of an MPTCP subflow after the handshake:
 * the longest DSS (64-bit DATA_ACK and DSN, a checksum's room), NOP-padded.
 * One length for all, because lwIP sizes a segment's header room when it
 * queues the segment and asks again, with only the pcb, when it sends it. */
#define SKIFF_MPTCP_EST_LEN 28

enum skiff_mptcp_phase {
	SKIFF_MPTCP_FIXED,	   /* a test's fixed mapping on a plain connection */
	SKIFF_MPTCP_SYN_RCVD,	   /* MP_CAPABLE offered and answered (our key on the SYN-ACK) */
	SKIFF_MPTCP_SYN_SENT,	   /* we offered MP_CAPABLE on our SYN (client) */
	SKIFF_MPTCP_EST,	   /* keys exchanged: DSS on every segment */
	SKIFF_MPTCP_FALLBACK,	   /* carried on as TCP (RFC 8684 3.7) */
	SKIFF_MPTCP_JOIN_SYN_RCVD, /* MP_JOIN answered (our HMAC on the SYN-ACK) */
	SKIFF_MPTCP_JOIN_SYN_SENT, /* we asked to join (MP_JOIN on our SYN) */
	SKIFF_MPTCP_JOIN_ACK_SENT, /* ... the peer's HMAC checked, ours on the third
				    * ACK, until the peer ACKs it */
};

/* Subflows one connection takes (the first and its joins). */
#ifndef SKIFF_MPTCP_MAX_SUBFLOWS
#define SKIFF_MPTCP_MAX_SUBFLOWS 8
#endif
/* Data-level out-of-order pieces a connection keeps (data that came on one
 * subflow ahead of data still due on another; a piece gathers a run of up
 * to 64 KiB), and their bytes: room for more than the peer may have in
 * flight at the data level (our window). */
#ifndef SKIFF_MPTCP_OOO
#define SKIFF_MPTCP_OOO 256
#endif
#ifndef SKIFF_MPTCP_OOO_BYTES
#define SKIFF_MPTCP_OOO_BYTES (8u << 20)
#endif
/* A join's window is given back while the connection holds less than this
 * unread or out of order (join.c). */
#ifndef SKIFF_MPTCP_JOIN_HOLD
#define SKIFF_MPTCP_JOIN_HOLD (4u << 20)
#endif

struct skiff_mptcp_sf;

/* A 32-bit sequence offset widened to 64 bits around @p base (within 2^31
 * of it): subflow positions, data sequence numbers sent in 32 bits. */
static inline uint64_t skiff__mptcp_widen(uint64_t base, uint32_t off)
{
	return base + (uint64_t)(int64_t)(int32_t)(off - (uint32_t)base);
}

/* Extents of our data a subflow carries once the connection sends on
 * more than one (send.c): subflow positions [rel, rel + len) carry data
 * sequence numbers from dsn on. */
#ifndef SKIFF_MPTCP_SMAPS
#define SKIFF_MPTCP_SMAPS 128
#endif

struct skiff_mptcp_smap {
	uint64_t rel, dsn;
	uint32_t len;
};

/* A copy of data sent on a join, kept until DATA_ACKed (send.c). */
struct skiff_mptcp_rtx {
	struct skiff_mptcp_rtx *next;
	struct skiff_mptcp_sf *sf; /* the join it went on; NULL once that one is gone */
	uint64_t dsn;
	uint32_t len;
	bool reinjected;
	uint8_t data[];
};

/* A piece of data ahead of the data-level receive pointer. */
struct skiff_mptcp_ooo {
	uint64_t dsn;
	struct pbuf *p;
	bool from_main; /* came on the first subflow (its window is the socket's) */
};

/* Connection-level state. */
struct skiff_mptcp_conn {
	uint64_t local_key, remote_key;
	uint32_t local_token, remote_token;
	uint64_t local_idsn, remote_idsn;
	bool csum;	    /* DSS checksums negotiated (3.3.1) */
	bool data_fin_rcvd; /* the peer's DATA_FIN seen, at data_fin_seq */
	bool client;	    /* we opened it: our key goes on the third ACK, first data */
	bool dss_seen;	    /* the peer sent a DSS: its side is established */
	bool eof_told;	    /* ... and everything before it: the socket read its end */
	uint64_t data_fin_seq;
	uint64_t snd_data_acked; /* the peer's highest DATA_ACK */
	uint64_t wnd_end;	 /* the right edge of its window (once wnd_end_set) */
	bool wnd_end_set;
	uint64_t rcv_data_nxt;	/* the next data sequence number the socket is owed */
	uint64_t data_ack_sent; /* our last DATA_ACK (once data_ack_told) */
	bool data_ack_told;
	/* Subflows (join.c): the first one, whose pcb the socket holds, and
	 * the joins (MP_JOIN, 3.2), which only receive; how many hold the
	 * state (it goes with the last). */
	struct tcp_pcb *main_pcb;
	struct skiff_mptcp_sf *main_sf, *joins;
	unsigned nsf;
	uint16_t next_sf_id; /* the id the next subflow gets (the first's is 1) */
	bool joined; /* a join may carry data (taken, or our third ACK sent): data may come ahead of the pointer */
	bool tok_listed, orphan;
	/* The application reset the connection: every subflow's RST carries
	 * MP_FASTCLOSE (3.5). */
	bool fastclose;
	/* The path manager's signals (3.4): the peer's announced addresses
	 * (ADD_ADDR) by address id, whether a join to each was opened; the
	 * echo still owed for the last one. */
	unsigned nann;
	struct skiff_mptcp_ann {
		uint8_t id, family; /* AF_INET, AF_INET6 */
		uint8_t addr[16];
		uint16_t port; /* host order; 0: none given */
		bool joined;
	} ann[SKIFF_MPTCP_MAX_SUBFLOWS];
	bool echo_owed;
	struct skiff_mptcp_ann echo;
	/* Our announcements, by address id: 1 is this address with
	 * skiff_config.mptcp_announce_port, 2 to 4 the extra ports' IPv4
	 * addresses. Bit (id - 1) of adv_owed until the peer echoes it; each
	 * sent again after a second without its echo, 5 times at most. */
	uint8_t adv_owed;
	/* Our withdrawn address ids (bit id - 1) a REMOVE_ADDR still owes. */
	uint8_t rm_owed;
	uint8_t adv_tries[SKIFF_MAX_PORTS];
	uint16_t adv_port;
	uint32_t adv_last_ms;
	/* Sending on several subflows (send.c): once a join carried our
	 * data, every write is mapped by extents; the next data sequence
	 * number to hand out, and the one of the write under way; copies of
	 * what joins carry, for reinjection. */
	bool multi;
	uint64_t snd_data_nxt, wr_dsn;
	struct skiff_mptcp_rtx *rtx, *rtx_tail;
	bool reinject_queued, reinject_more;
	bool fail_reset_due; /* a subflow's fail_reset is to be done (send.c) */
	/* Our FIN is queued (close or shutdown) after the data up to
	 * fin_dsn (the DATA_FIN's number); the application closed (joins
	 * close once the peer DATA_ACKs the DATA_FIN: one may carry it);
	 * how far a stale first subflow's data went again on joins. */
	bool fin_queued, app_closed, joins_closed, main_rj, main_all_moved;
	/* The application closed while a join held data of ours the peer
	 * had not DATA_ACKed: the first subflow's FIN (and with it the
	 * DATA_FIN) waits until that data is DATA_ACKed or written again
	 * on the first subflow (skiff__mptcp_close_defer()); close_shut:
	 * what waits is a shutdown of the sending side only (the socket
	 * stays open), until the application closes. */
	bool close_deferred, close_shut;
	uint64_t fin_dsn, main_rj_dsn; /* (main_rj_dsn: the highest end moved) */
	struct skiff_mptcp_conn *reinject_next;
	/* The connection's window shut with every subflow's data ACKed but
	 * not DATA_ACKed: a probe for the peer's DATA_ACK is due (send.c). */
	bool probe_listed;
	uint32_t probe_due_ms, probe_ival_ms;
	struct skiff_mptcp_conn *probe_next;
	struct skiff_mptcp_conn *tok_next;    /* the token table's chain */
	struct skiff_mptcp_conn *orphan_next; /* first subflow gone, joins left */
	/* Data-level reassembly (recv.c), sorted by dsn. */
	unsigned nooo;
	uint32_t ooo_bytes;
	struct skiff_mptcp_ooo ooo[SKIFF_MPTCP_OOO];
	struct {
		/* A checksum failed here (3.7): the socket is told TCP from
		 * now; the peer's infinite mapping, where it starts (a subflow
		 * position), makes the subflow plain TCP. */
		bool failed, inf_rx;
		uint64_t inf_rel;
		/* MP_FAIL to write (the DSN of the failed mapping; an echo of
		 * the peer's), then an infinite mapping on our next data. */
		bool fail_tx, inf_tx;
		uint64_t fail_seq;
		uint32_t inf_seq; /* the subflow sequence number it went out on */
		bool inf_sent;
	} fb;
};

/* Received mappings of a subflow, as extents: subflow positions [rel, end)
 * (0 is the first data byte) carry data sequence numbers rel + off.
 * Mappings that continue one another with the same offset are one extent;
 * a new extent starts where the peer sent data again at the connection
 * level (or where a hole in the subflow's sequence is still open). */
#ifndef SKIFF_MPTCP_RMAPS
#define SKIFF_MPTCP_RMAPS 16
#endif

struct skiff_mptcp_rmap {
	uint64_t rel, end;
	uint64_t off;
};

/* Received mappings whose checksum is still to be checked (3.3.1), one
 * each, sorted by rel: the checksum covers the whole mapping, so its bytes
 * wait (held) until the last has arrived. Linux maps up to 64 KiB at once. */
#ifndef SKIFF_MPTCP_CMAPS
#define SKIFF_MPTCP_CMAPS 64
#endif

struct skiff_mptcp_cmap {
	uint64_t rel, dsn;
	uint16_t len;  /* data bytes */
	uint16_t dll;  /* the data-level length (a DATA_FIN counts one) */
	uint16_t csum; /* as received */
};

/* A subflow's state (the pcb's extension slot 1). */
struct skiff_mptcp_sf {
	enum skiff_mptcp_phase phase;
	uint8_t est_len; /* option bytes once the handshake is over */
	struct skiff_mptcp_conn *conn;
	/* A join (3.2): its pcb, the next join of the connection, the nonces
	 * and the peer's address id; window owed to the peer (join.c). */
	bool join, backup, closing;
	uint16_t id; /* from 1 in the order the connection's subflows came */
	uint8_t raddr_id;
	uint8_t laddr_id;   /* ours: 0 on the first port's address, 2 to 4 on the extra ports' */
	uint8_t rst_reason; /* MP_TCPRST's reason on our RST of it (3.6) */
	bool stale;	    /* a join two RTOs deep: takes no data (send.c) */
	/* A checksum failed here while other subflows were open (3.7): the
	 * subflow is reset at the end of the poll round, its RST carrying
	 * MP_FAIL (the failed mapping's DSN) and MP_TCPRST. */
	bool fail_reset;
	uint64_t fail_seq;
	/* The first subflow the peer closed with a FIN after ours was
	 * queued: stale for good (its TCP still ACKs, its MPTCP reads no
	 * more), its data and the DATA_FIN go on joins (send.c). */
	bool peer_fin;
	/* Backup at our request (its port's, skiff_mptcp_set_backup()): the
	 * scheduler keeps off it as off one the peer asked for (backup);
	 * our MP_PRIO saying so owed on its next segment with room. */
	bool lbackup, prio_owed;
	/* The subflow's smoothed RTT (microseconds, RFC 6298's gain 1/8; 0:
	 * no sample yet), for the scheduler: one segment timed at a time,
	 * from its first transmission to the ACK that covers it, never
	 * across a retransmission (Karn). */
	bool rtt_on;
	uint32_t rtt_seq, rtt_t0, srtt_us;
	/* A join's own congestion control (cc.c: the socket's algorithm,
	 * CUBIC with HyStart++ by default, on lwIP's loss detection); the
	 * first subflow's is the socket's. */
	struct skiff_cc cc;
	unsigned nsmap;
	struct skiff_mptcp_smap smap[SKIFF_MPTCP_SMAPS];
	uint32_t lnonce, rnonce;
	uint8_t synack_hmac[8];
	uint8_t ack_hmac[20]; /* a join we opened: HMAC-A, for the third ACK */
	struct tcp_pcb *pcb;
	struct skiff_mptcp_sf *next;
	uint32_t owed;
	/* The subflow's initial sequence numbers, and 64-bit offsets from them
	 * kept near SND.UNA and RCV.NXT (to widen 32-bit positions). */
	uint32_t iss, irs;
	uint64_t snd_rel, rcv_rel;
	/* Connection-level receive (recv.c): the subflow's bytes handed to
	 * the socket so far, the mappings from there on (sorted by rel), and
	 * the offset of the last one let go (for bytes no mapping covers). */
	uint64_t rcv_deliv;
	uint64_t rmap_off;
	unsigned nrmap;
	struct skiff_mptcp_rmap rmap[SKIFF_MPTCP_RMAPS];
	/* With checksums: the mappings not yet checked, and the in-order
	 * bytes from rcv_deliv on that wait for theirs to be complete. */
	unsigned ncmap;
	struct skiff_mptcp_cmap cmap[SKIFF_MPTCP_CMAPS];
	struct pbuf *held;
	uint32_t held_len;
	/* a test's fixed mapping (SKIFF_MPTCP_FIXED) */
	struct pkb_ext_mptcp fixed;
	uint8_t fixed_len;
};

/* The pcb of subflow @p sf of @p c (the first subflow's state does not
 * hold it: the connection does). */
static inline struct tcp_pcb *skiff__mptcp_sf_pcb(const struct skiff_mptcp_conn *c,
						  const struct skiff_mptcp_sf *sf)
{
	return sf == c->main_sf ? c->main_pcb : sf->pcb;
}

/* The subflow after @p sf of @p c: the first one, then its joins in the
 * order they came (from c->main_sf on). */
static inline struct skiff_mptcp_sf *skiff__mptcp_sf_next(const struct skiff_mptcp_conn *c,
							  const struct skiff_mptcp_sf *sf)
{
	return sf == c->main_sf ? c->joins : sf->next;
}

/* send.c: the pcb of subflow @p sf of @p c when it is established and
 * open (not closing, ESTABLISHED or CLOSE_WAIT): one that may carry
 * data; else NULL. */
struct tcp_pcb *skiff__mptcp_sf_open(const struct skiff_mptcp_conn *c,
				     const struct skiff_mptcp_sf *sf);

/* A subflow's second window probe while the connection's window is open
 * (another subflow's ACK showed it): the zero window it showed when its
 * path went is old news, and will not open. */
#define SKIFF_MPTCP_PROBING_DEAD(pcb, c)                                                           \
	((pcb)->persist_backoff && (pcb)->persist_probe >= 2 && (c)->wnd_end_set &&                \
	 (int64_t)((c)->wnd_end - (c)->snd_data_acked) > 0)

/* The MPTCP options of one received segment, gathered by the option walk. */
struct skiff_mptcp_rx {
	bool mpc, dss, join, fail;
	uint8_t mpc_len, join_len;
	uint8_t mpc_opt[24];
	uint8_t join_opt[24];
	uint64_t fail_seq;
	/* The path manager's signals and the closing options (3.4 to 3.6),
	 * their lengths checked by the walk. */
	bool add_addr, rm_addr, prio, fastclose, tcprst;
	uint8_t add_addr_len;
	uint8_t add_addr_opt[30];
	uint8_t nrm, rm_ids[SKIFF_MPTCP_RM_IDS];
	bool prio_backup;
	uint64_t fastclose_key;
	uint8_t tcprst_flags, tcprst_reason;
	/* The DSS, when the frame had no room for its MPTCP extension
	 * (where it is otherwise read from). */
	struct pkb_ext_mptcp map;
};

/* crypto.c (libcrypto): SHA-256; a key's token and IDSN; HMAC-SHA256 keyed
 * with key1 || key2 (network order). 0, or -ENOMEM when libcrypto could not
 * allocate. */
int skiff__mptcp_sha256(const void *p, size_t n, uint8_t out[32]);
int skiff__mptcp_key_hash(uint64_t key, uint32_t *token, uint64_t *idsn);
int skiff__mptcp_hmac(uint64_t key1, uint64_t key2, const uint8_t *msg, size_t len,
		      uint8_t out[SKIFF_MPTCP_HMAC_LEN]);

/* csum.c: the DSS checksum (3.3.1): the one's complement sum of the
 * pseudo-header (64-bit DSN, 32-bit relative subflow sequence number,
 * 16-bit data-level length, 16 zero bits) and @p len bytes of @p p from
 * @p off, plus @p csum (the received checksum, or 0). The value to write
 * is its complement with @p csum 0; a received mapping is intact when the
 * sum with its checksum is 0xffff. */
uint16_t skiff__mptcp_csum_sum(uint64_t dsn, uint32_t ssn, uint16_t dll, const struct pbuf *p,
			       uint32_t off, uint32_t len, uint16_t csum);

/* conn.c */
void skiff__mptcp_conn_setup(uint8_t ext_id);
/* A segment's MPTCP options, after the option walk: @p pcb may be a
 * listener (whose socket asked for MPTCP: @p want). ERR_ABRT drops it. */
err_t skiff__mptcp_conn_input(struct tcp_pcb *pcb, bool want, const struct tcp_hdr *hdr,
			      const struct pbuf *p, const struct skiff_mptcp_rx *rx);
u8_t skiff__mptcp_sf_option_len(const struct tcp_pcb *pcb, const struct skiff_mptcp_sf *sf);
u32_t *skiff__mptcp_sf_option_out(const struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
				  const struct pbuf *p, const struct tcp_hdr *hdr, u32_t *opts);
/* A socket's connect(): @p pcb, not yet connected, offers MP_CAPABLE. */
int skiff__mptcp_conn_connect(struct tcp_pcb *pcb);
/* True once, when everything up to the peer's DATA_FIN has arrived. */
bool skiff__mptcp_conn_eof(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf);
/* recv.c: connection-level receive. The peer's data sequence starts at
 * @p dsn (its IDSN + 1) on this subflow. */
void skiff__mptcp_rcv_start(struct skiff_mptcp_sf *sf, uint64_t dsn);
/* A received mapping of @p len data bytes from subflow position @p rel to
 * data sequence @p dsn. 0, or -EINVAL when it contradicts one already
 * taken for the same bytes, -ENOBUFS when no extent is free (the segment
 * is dropped either way). */
int skiff__mptcp_rmap_add(struct skiff_mptcp_sf *sf, uint64_t rel, uint32_t len, uint64_t dsn);
/* A received mapping to check (checksums negotiated): 0, -EINVAL when
 * it differs from one taken at the same subflow position, or -ENOBUFS
 * when none is free (the segment is dropped either way). */
int skiff__mptcp_cmap_add(struct skiff_mptcp_sf *sf, const struct skiff_mptcp_cmap *m);
/* The data sequence number of subflow position @p rel. */
uint64_t skiff__mptcp_rmap_dsn(const struct skiff_mptcp_sf *sf, uint64_t rel);
/* In-order subflow data @p p on its way to the socket: the bytes the
 * connection already has are cut out (the TCP window reopened for them)
 * and the data-level receive pointer moves. What is left, or NULL. */
struct pbuf *skiff__mptcp_conn_recv(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf, struct pbuf *p);
/* info.c: what the socket queries report (skiff.h's MPTCP section). */
struct skiff_mptcp_info;
struct skiff_mptcp_status;
/* @p st (and @p info, when not NULL) for @p pcb (NULL: gone), whose
 * socket asked for MPTCP or not (@p asked), with its subflow state @p sf
 * (NULL: none). 0, or -ENOTCONN when an MPTCP socket's pcb is gone. */
int skiff__mptcp_sf_query(const struct tcp_pcb *pcb, bool asked, const struct skiff_mptcp_sf *sf,
			  struct skiff_mptcp_status *st, struct skiff_mptcp_info *info);
/* Frees a subflow's state (and its connection's with the last subflow). */
void skiff__mptcp_sf_free(struct skiff_mptcp_sf *sf);
/* join.c: the token table (connections whose keys are exchanged), and a
 * subflow's hold on its connection's state let go (freed with the last). */
struct skiff_mptcp_conn *skiff__mptcp_token_find(uint32_t token);
void skiff__mptcp_token_add(struct skiff_mptcp_conn *c);
void skiff__mptcp_conn_put(struct skiff_mptcp_conn *c);
/* An MP_JOIN SYN to an MPTCP listener: ERR_OK (answered by the passive
 * open that follows), or ERR_ABRT (a RST sent: unknown token). */
err_t skiff__mptcp_join_syn(const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx);
/* The listener's passive open of @p cpcb: its join state, when the SYN
 * taken in was an MP_JOIN; else NULL. */
struct skiff_mptcp_sf *skiff__mptcp_join_open(struct tcp_pcb *cpcb);
/* The MP_JOIN of our SYN-ACK, at @p b (16 bytes). */
unsigned skiff__mptcp_join_synack(const struct skiff_mptcp_sf *sf, uint8_t *b);
/* The third ACK of a join: HMAC-A checked. ERR_ABRT: wrong, @p pcb reset
 * and freed. */
err_t skiff__mptcp_join_ack(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
			    const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx);
/* The ext arg slot of a subflow's state (from skiff__mptcp_conn_setup()). */
void skiff__mptcp_join_setup(uint8_t id);
/* lwIP's accept of @p pcb: true when it is a join (state @p sf), whose
 * events join.c takes; no socket is made for it. */
bool skiff__mptcp_join_accept(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf);
/* ADD_ADDR (3.4.1, not an echo) on a subflow of @p c: its HMAC checked,
 * echoed, and a join opened to it when skiff_config allows. */
void skiff__mptcp_add_addr_in(struct tcp_pcb *pcb, struct skiff_mptcp_conn *c, const uint8_t *o,
			      unsigned len);
/* pm.c: a subflow over a backup port (skiff_mptcp_set_backup()) starts
 * as backup, its MP_PRIO owed once established (@p est); whether its port
 * is withdrawn (skiff_mptcp_withdraw()). */
void skiff__mptcp_port_prio(struct skiff_mptcp_sf *sf, const struct tcp_pcb *pcb, bool est);
bool skiff__mptcp_port_gone(const ip_addr_t *local);
/* pm.c: a connection we opened is established (the peer's first DSS):
 * a join from each extra port that asks for one (its mptcp_subflow). */
void skiff__mptcp_pm_established(struct skiff_mptcp_conn *c);
/* join.c: a join of @p c from @p from to the peer's address and port of
 * the first subflow (IPv4; out of @p from's port only). False when it
 * could not be opened. */
bool skiff__mptcp_join_from(struct skiff_mptcp_conn *c, const ip_addr_t *from);
/* Every connection of the token table, for the path manager's commands. */
void skiff__mptcp_each_conn(void (*fn)(struct skiff_mptcp_conn *c, void *arg), void *arg);
/* REMOVE_ADDR (3.4.2): the joins to or from those address ids close. */
void skiff__mptcp_rm_addr_in(struct skiff_mptcp_conn *c, const uint8_t *ids, unsigned n);
/* The SYN-ACK of a join we asked for: its HMAC checked. ERR_ABRT: wrong,
 * @p pcb reset and freed. */
err_t skiff__mptcp_join_synack_in(struct tcp_pcb *pcb, struct skiff_mptcp_sf *sf,
				  const struct tcp_hdr *hdr, const struct skiff_mptcp_rx *rx);
/* The MP_JOIN of our SYN (12 bytes) and third ACK (24), at @p b. */
unsigned skiff__mptcp_join_syn_out(const struct skiff_mptcp_sf *sf, uint8_t *b);
unsigned skiff__mptcp_join_ack_out(const struct skiff_mptcp_sf *sf, uint8_t *b);
/* The peer ACKed our third ACK: the join is established. */
void skiff__mptcp_join_acked(struct skiff_mptcp_sf *sf);
/* MP_FASTCLOSE with our key (3.5): every subflow of @p c but @p except
 * (which a RST resets already) is reset, the socket told ECONNRESET. */
void skiff__mptcp_fastclose_rx_reset(struct skiff_mptcp_conn *c, struct tcp_pcb *except);
/* send.c: the data sequence number of our data at subflow position
 * @p rel, and to @p room how many bytes from there share its extent. */
uint64_t skiff__mptcp_tx_dsn(struct skiff_mptcp_sf *sf, uint64_t rel, uint32_t *room);
/* The mapping the frame of the segment whose first pbuf is @p p carries
 * (its MPTCP extension, written by send.c as data is queued), when it
 * covers the segment's @p len bytes from sequence number @p seq; to @p off
 * where in it the segment begins. NULL: none (lwIP's heap, a zero-copy
 * payload, data queued before the handshake ended), or not covering. */
const struct pkb_ext_mptcp *skiff__mptcp_seg_map(const struct skiff_mptcp_sf *sf,
						 const struct pbuf *p, u32_t seq, unsigned len,
						 uint32_t *off);
/* The state of @p pcb's subflow, or NULL (mptcp.c). */
struct skiff_mptcp_sf *skiff__mptcp_sf_of(const struct tcp_pcb *pcb);
/* The peer's DATA_ACK moved: the copies it covers go. */
void skiff__mptcp_rtx_acked(struct skiff_mptcp_conn *c);
void skiff__mptcp_rtx_free(struct skiff_mptcp_conn *c);
/* A join went (its state is being freed): its data not DATA_ACKed is
 * reinjected at the end of the poll round. */
void skiff__mptcp_sf_gone(struct skiff_mptcp_sf *sf);
/* A checksum failed on @p sf: whether it is reset (another subflow is
 * open to carry the connection, 3.7) rather than the connection falling
 * back; then done at the end of the poll round (send.c). */
bool skiff__mptcp_fail_reset(struct skiff_mptcp_sf *sf, uint64_t dsn);
/* join.c: whether a join would carry the connection on if its first
 * subflow @p sf went now (skiff__mptcp_handover()). */
bool skiff__mptcp_may_hand_over(const struct skiff_mptcp_sf *sf);
/* A join goes stale (two RTOs deep) or comes back (an ACK moved). */
void skiff__mptcp_join_stale(struct skiff_mptcp_sf *sf, bool stale);
/* The first subflow of @p c is dying: its data not DATA_ACKed kept in
 * copies for the next one (reinjection writes them there). With @p
 * purged (its segments freed already) only a check that its stale rounds
 * moved everything onto joins. False when some of it would be lost. */
bool skiff__mptcp_main_keep(struct skiff_mptcp_conn *c, bool purged);
/* The first subflow goes stale (a second retransmission timeout in a
 * row, joins open) or comes back (an ACK moved on it). */
void skiff__mptcp_main_stale(struct skiff_mptcp_sf *sf, bool stale);
/* Whether a join's segment without data carries the DATA_FIN (the first
 * subflow stale, our FIN queued and not DATA_ACKed). */
bool skiff__mptcp_data_fin_on_join(const struct skiff_mptcp_conn *c);
/* The application closed and the peer DATA_ACKed our DATA_FIN: the
 * joins, kept open to carry the end, may close. */
bool skiff__mptcp_joins_may_close(const struct skiff_mptcp_conn *c);
/* At the application's close of @p c, or its shutdown of the sending
 * side (@p shut; the FIN position set): true when the first subflow's
 * FIN must wait, as close_deferred says; send.c's rounds then close the
 * first subflow (or shut its sending side) when nothing is owed there.
 * A close after a shutdown that waits makes the wait a close's. */
bool skiff__mptcp_close_defer(struct skiff_mptcp_conn *c, bool shut);
/* Our FIN is queued on the first subflow (@p close: the application
 * closed, else shutdown): the DATA_FIN's number is fixed. */
void skiff__mptcp_fin_queued(struct skiff_mptcp_conn *c, bool close);
void skiff__mptcp_reinject_later(struct skiff_mptcp_conn *c);
/* @p c leaves the list of connections waiting on a DATA_ACK. */
void skiff__mptcp_probe_del(struct skiff_mptcp_conn *c);
/* The first subflow closes (or is reset, @p abort): so do the joins. */
void skiff__mptcp_joins_close(struct skiff_mptcp_conn *c, bool abort);
/* A join's state leaves its connection's list. */
void skiff__mptcp_join_unlink(struct skiff_mptcp_sf *sf);
/* The first subflow of @p c went (its pcb freed): its joins are reset at
 * the end of the poll round (skiff__mptcp_reap(), mptcp.h). */
void skiff__mptcp_orphan(struct skiff_mptcp_conn *c);
/* The application read data of @p c: window its joins are owed. */
void skiff__mptcp_joins_read(struct skiff_mptcp_conn *c);

#endif
