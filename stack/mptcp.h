/* MPTCP options today (mptcp.c): DSS options read into each received
 * frame's MPTCP extension, MP_CAPABLE answered by falling back to TCP, and
 * a DSS option written on a connection's segments when a mapping is set
 * (skiff__mptcp_set_mapping(), tests). */
#ifndef SKIFF_MPTCP_H
#define SKIFF_MPTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/arch.h"

struct pbuf;
struct tcp_pcb;

/* Once per process: the ext arg slot of the mapping. */
void skiff__mptcp_init(void);
/* One option of kind 30 (@p avail bytes from its kind byte) of a segment
 * (@p syn: a SYN without ACK) whose first pbuf is @p p. */
void skiff__mptcp_option_in(const uint8_t *o, size_t avail, bool syn, struct pbuf *p);
/* Option bytes @p pcb's segments carry for MPTCP (0: none). */
u8_t skiff__mptcp_option_len(const struct tcp_pcb *pcb);
/* Writes them at @p opts; returns the word after. */
u32_t *skiff__mptcp_option_out(const struct tcp_pcb *pcb, u32_t *opts);

#endif
