/* Path MTU discovery for TCP (pmtu.c): a validated ICMP "fragmentation
 * needed" / ICMPv6 "packet too big" lowers a connection's MSS. */
#ifndef SKIFF_PMTU_H
#define SKIFF_PMTU_H

struct tcp_pcb;

/* Cuts @p pcb's queued segments to its MSS and sends them again; if one is
 * still on the TX ring, at the next timer visit (SKIFF_PCB_RESEGMENT). */
void skiff__pmtu_resegment(struct tcp_pcb *pcb);

#endif
