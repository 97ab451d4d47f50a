/* The connection tables (demux.c): every active and TIME-WAIT pcb by its
 * 4-tuple, every listener by its port, and the pcbs on each local port,
 * kept current by lwIP's link/unlink notifications (patch 0002). A
 * received segment finds its pcb in O(1) (patch 0003), connect() picks a
 * port in O(1) expected (patch 0005), and the limits of skiff_config are
 * counted here. */
#ifndef SKIFF_DEMUX_H
#define SKIFF_DEMUX_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/ip_addr.h"

struct tcp_pcb;

/* Tables sized for @p max_connections (a power of two of buckets at least
 * that many); 0 or -ENOMEM. */
int skiff__demux_create(uint32_t max_connections);
/* After every pcb is gone (skiff_fini). */
void skiff__demux_destroy(void);

/* Connections on tcp_active_pcbs (handshakes and closing ones included),
 * and in TIME-WAIT. */
uint32_t skiff__demux_active(void);
uint32_t skiff__demux_time_wait(void);
/* True when one more connection would pass skiff_config.max_connections. */
bool skiff__demux_full(void);

/* The active or TIME-WAIT pcb of a 4-tuple, or NULL. */
struct tcp_pcb *skiff__demux_lookup(const ip_addr_t *local, u16_t lport, const ip_addr_t *remote,
				    u16_t rport);

/* Looking ahead in an RX batch (netif.c), a stage per frame a few places
 * before it is taken in, each on what the one before loaded: the bucket of
 * a frame's 4-tuple (false: not a TCP frame, or one for the last pcb found,
 * already hot: nothing more to do), the pcb at the bucket's head, and what
 * that pcb belongs to (its skiff_sock, or NULL) once its hash is known to
 * match. The tables are only read: a pcb gone meanwhile leaves its bucket. */
bool skiff__demux_ahead_bucket(const void *frame, uint32_t len, uint32_t *hash);
void skiff__demux_ahead_pcb(uint32_t hash);
void *skiff__demux_ahead_owner(uint32_t hash);
/* The hash the look-ahead took of the frame lwIP is about to take in, for
 * the demux hook to use instead of hashing the 4-tuple again; UINT64_MAX
 * once that frame is in (or when it took none). */
void skiff__demux_ahead_hint(uint64_t hash);

#endif
