/* MPTCP's door from lwIP's option hooks (mptcp.c) into its room
 * (stack/mptcp/, connection-level MPTCP): received kind-30 options
 * gathered during the option walk and handed over after it, a subflow's
 * option bytes on the way out. */
#ifndef SKIFF_MPTCP_H
#define SKIFF_MPTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/arch.h"

struct pbuf;
struct tcp_hdr;
struct tcp_pcb;

/* Once per process: the ext arg slot of the mapping. */
void skiff__mptcp_init(void);
/* One option of kind 30 (@p avail bytes from its kind byte) of a segment
 * (@p syn: a SYN without ACK) whose first pbuf is @p p. */
void skiff__mptcp_option_in(const uint8_t *o, size_t avail, bool syn, struct pbuf *p);
/* After the walk: the segment's MPTCP options to the connection level
 * (@p hdr in host order, as tcp_input() leaves it); ERR_ABRT drops it. */
s8_t skiff__mptcp_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p);
/* @p pcb, about to connect, offers MP_CAPABLE (0 or -errno). */
int skiff__mptcp_connect(struct tcp_pcb *pcb);
/* lwIP's accept of @p pcb: true when it is an MP_JOIN's subflow, which
 * the connection takes (stack/mptcp/join.c); no socket is made for it. */
bool skiff__mptcp_accept_join(struct tcp_pcb *pcb);
/* The socket of @p pcb closes it (or resets it, @p abort): an MPTCP
 * connection's joins go with it. True when @p pcb's own close must wait:
 * a join holds data of ours the peer has not DATA_ACKed, which @p pcb
 * may have to carry again if that join's path is gone (no data can
 * follow a FIN). The connection then closes @p pcb itself
 * (skiff__tcp_close_pcb()) once nothing is owed there. */
bool skiff__mptcp_closing(struct tcp_pcb *pcb, bool abort);
/* The socket's first subflow @p old is dying: a RST taken in, or lwIP
 * gave it up (@p purged: its segments freed already). True when an MPTCP
 * connection goes on over a join, which becomes its first subflow (@p
 * next; the socket moves onto it): what @p old held that the peer has not
 * DATA_ACKed is kept in copies and written there (stack/mptcp/join.c). */
bool skiff__mptcp_handover(struct tcp_pcb *old, bool purged, struct tcp_pcb **next);
/* A join's own congestion control (cc.c runs it), NULL for any other
 * pcb. It takes the algorithm the connection's socket runs. */
struct skiff_cc *skiff__mptcp_join_cc(const struct tcp_pcb *pcb);
/* The peer's FIN on @p pcb, an established MPTCP first subflow: it
 * closes the subflow (the connection's end is the DATA_FIN), and Linux
 * reads nothing more from a subflow it closed, though its TCP ACKs it:
 * while we have data to send, the connection must leave it. */
bool skiff__mptcp_subflow_fin(const struct tcp_pcb *pcb);
/* The peer's FIN on the first subflow @p pcb after our FIN was queued
 * (no handover then), while a join is open: the first subflow goes stale
 * for good, what it holds and the DATA_FIN go on joins (send.c); false
 * when it does not apply. */
bool skiff__mptcp_main_peer_fin(struct tcp_pcb *pcb);
/* The socket of @p pcb shuts its sending side (our FIN queued). True
 * when @p pcb's FIN must wait, as at a close (skiff__mptcp_closing()):
 * the connection shuts @p pcb's sending side itself once nothing is
 * owed there. */
bool skiff__mptcp_shut_wr(struct tcp_pcb *pcb);
/* Connections whose first subflow went while joins remain, and what
 * resets those joins: once per poll round, outside lwIP's walks. */
struct skiff_mptcp_conn;
extern struct skiff_mptcp_conn *skiff__mptcp_orphans;
void skiff__mptcp_reap(void);
/* Connections with data of a dead or stale join to send again on the
 * first subflow (stack/mptcp/send.c), and what sends it: once per poll
 * round, outside lwIP's walks. */
extern struct skiff_mptcp_conn *skiff__mptcp_reinject_due;
void skiff__mptcp_reinject_run(void);
/* Connections whose window shut with nothing left to ACK at the subflow
 * level, and what probes them for the peer's DATA_ACK (send.c): once per
 * poll round. */
extern struct skiff_mptcp_conn *skiff__mptcp_probe_due;
void skiff__mptcp_probe_run(void);
/* Sending on an MPTCP connection whose first subflow is @p main (send.c):
 * the subflow the next chunk of a plain send goes on (@p main when it has
 * no joins), and to @p room how many bytes it takes (0: every subflow is
 * full, the send waits); after a successful tcp_write() of @p len bytes (@p data, or
 * NULL for a zero-copy buffer) on any subflow (@p last: the last unsent
 * segment before it, or NULL), its mapping recorded;
 * whether a join has room (EPOLLOUT); the joins' queued data put out. */
struct tcp_pcb *skiff__mptcp_tx_pcb(struct tcp_pcb *main, size_t *room);
struct tcp_seg;
void skiff__mptcp_wrote(struct tcp_pcb *pcb, const void *data, uint32_t len,
			const struct tcp_seg *last);
bool skiff__mptcp_writable(const struct tcp_pcb *main);
/* Bytes the connection-level receive window lets the next send queue
 * (SIZE_MAX while the connection has no joins: TCP's own window rules). */
size_t skiff__mptcp_tx_limit(const struct tcp_pcb *main);
void skiff__mptcp_output(struct tcp_pcb *main);
/* lwIP patch 0024: may a write (or a FIN) on @p pcb join its last unsent
 * segment @p last? Not when it does not continue its mapping at the data
 * level. */
bool skiff__mptcp_write_appends(const struct tcp_pcb *pcb, const struct tcp_seg *last);
/* Whether a write on subflow @p pcb has room for its mapping (send.c). */
bool skiff__mptcp_may_write(const struct tcp_pcb *pcb);
/* Subflow @p i of the MPTCP connection whose first subflow is @p pcb: 0
 * is @p pcb, then its established joins in the order they came; NULL
 * past the last. */
const struct tcp_pcb *skiff__mptcp_subflow(const struct tcp_pcb *pcb, unsigned i);
/* A subflow's id (from 1, in the order the connection's subflows came),
 * 0 for a pcb that is none. */
uint32_t skiff__mptcp_subflow_id(const struct tcp_pcb *pcb);
/* The socket of @p pcb read data: an MPTCP connection's joins get the
 * window they are owed. */
void skiff__mptcp_read(struct tcp_pcb *pcb);
/* In-order data @p p on its way to the socket of @p pcb: on an MPTCP
 * subflow, what the connection has already is cut out (stack/mptcp/recv.c).
 * What is left, or NULL. */
struct pbuf *skiff__mptcp_recv(struct tcp_pcb *pcb, struct pbuf *p);
/* After in-order data reached the socket: true once, when the peer's
 * DATA_FIN is reached too (the connection-level end of its data). */
bool skiff__mptcp_rcv_eof(struct tcp_pcb *pcb);
/* The socket queries (stack/mptcp/info.c): @p st, and @p info when not
 * NULL, for @p pcb (NULL: gone) of a socket that asked for MPTCP or not
 * (@p asked). 0, or -ENOTCONN when an MPTCP socket's pcb is gone. */
struct skiff_mptcp_info;
struct skiff_mptcp_status;
int skiff__mptcp_query(const struct tcp_pcb *pcb, bool asked, struct skiff_mptcp_status *st,
		       struct skiff_mptcp_info *info);
/* Option bytes @p pcb's segments carry for MPTCP (0: none). */
u8_t skiff__mptcp_option_len(const struct tcp_pcb *pcb);
/* Writes them at @p opts of segment @p p (header @p hdr, network order);
 * returns the word after. */
u32_t *skiff__mptcp_option_out(struct pbuf *p, const struct tcp_hdr *hdr, const struct tcp_pcb *pcb,
			       u32_t *opts);

#endif
