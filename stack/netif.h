/* The lwIP netifs over the ports (netif.c): its set-up from the config, and
 * the RX batch that feeds it. */
#ifndef SKIFF_NETIF_H
#define SKIFF_NETIF_H

/* 0 or -errno (skiff_last_error() says why). */
int skiff__netif_up(void);
void skiff__netif_down(void);
#include "lwip/ip_addr.h"

struct skiff_link;

/* One RX batch from every port through lwIP's input, then the batch's work
 * and refills; returns the frames taken. */
unsigned skiff__rx_batch(void);
/* A port's fill ring depth from the connections, handshakes and the drain
 * of @p drained frames just done on it (netif.c explains). */
void skiff__fill_follow_demand(struct skiff_link *l, unsigned drained);
/* The link whose IPv4 address is @p src (network order), or NULL. */
struct skiff_link *skiff__link_of_src4(uint32_t src);
/* The index of the link that has address @p a (0: the first port), or -1. */
int skiff__link_index_of(const ip_addr_t *a);
/* Where a new connection to @p to goes from: the address of an extra port
 * whose link holds @p to (its prefix), else @p dflt. */
ip_addr_t skiff__link_addr_for(const ip_addr_t *to, const ip_addr_t *dflt);

#endif
