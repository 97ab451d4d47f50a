/* The lwIP netif over the port (netif.c): its set-up from the config, and
 * the RX batch that feeds it. */
#ifndef SKIFF_NETIF_H
#define SKIFF_NETIF_H

/* 0 or -errno (skiff_last_error() says why). */
int skiff__netif_up(void);
void skiff__netif_down(void);
/* One RX batch through lwIP's input, then the batch's work and a refill;
 * returns the frames taken. */
unsigned skiff__rx_batch(void);
/* The fill ring's depth from the connections, handshakes and the drain
 * of @p drained frames just done (netif.c explains). */
void skiff__fill_follow_demand(unsigned drained);

#endif
