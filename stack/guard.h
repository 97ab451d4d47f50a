/* Defences against hostile input that lwIP 2.2.1 lacks (guard.c,
 * docs/hardening.md): a rate limit on RFC 5961 challenge ACKs, and a filter
 * for ARP/ND claiming the stack's own addresses. */
#ifndef SKIFF_GUARD_H
#define SKIFF_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/err.h"

struct pbuf;
struct tcp_hdr;
struct tcp_pcb;

/* Per socket: the last challenge ACK let out. */
struct skiff_guardstate {
	long long challenge_ms;
};

/* First in the TCP input hook: ERR_OK, or ERR_ABRT to drop the segment (a
 * challenge ACK over the rate limit). */
err_t skiff__guard_tcp_in(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p);
struct skiff_link;
/* ARP or ND received on link @p l from another host claiming one of that
 * link's addresses (counted). */
bool skiff__guard_spoofed(const struct skiff_link *l, const uint8_t *frame, uint32_t len);

#endif
