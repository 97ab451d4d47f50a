/* The frame bridge (frames.c): UMEM frames (pkb) to lwIP's pbufs and back.
 * A received frame becomes a pbuf_custom living in its pkb's cb (no copy);
 * a packet lwIP sends goes out with its headers written in front of a
 * zero-copy payload in the payload's own frame, or copied whole into a
 * fresh frame. */
#ifndef SKIFF_FRAMES_H
#define SKIFF_FRAMES_H

#include <stdint.h>

#include "lwip/err.h"

struct pbuf;
struct pkb;

/* The in-place pkb head of the UMEM frame holding @p ptr, or NULL when
 * @p ptr is not inside our UMEM. */
struct pkb *skiff__pkb_of(const void *ptr);
/* The pkb a received pbuf was built on (NULL: not one of our frames). */
struct pkb *skiff__rx_pkb(const struct pbuf *p);
/* A pbuf over the received frame @p pkb (its first @p len bytes), freed
 * with the frame at lwIP's last pbuf_free; NULL when lwIP refuses. */
struct pbuf *skiff__rx_pbuf(struct pkb *pkb, uint32_t len);
/* A frame holding a copy of @p data; 0 or -errno. */
int skiff__copy_to_frame(const void *data, uint32_t len, struct pkb **out);
/* A received TCP segment's payload (@p len bytes after the @p hlen bytes
 * of headers at @p hdr) keeps the sum lwIP's verification computed, less
 * the headers', in its frame: skiff__chksum() hands it back when the
 * payload is sent on as it lies (chksum.c). Shorter payloads than
 * SKIFF_CSUM_KEEP_MIN cost less to sum again than to look up: none kept. */
#define SKIFF_CSUM_KEEP_MIN 128u
void skiff__chksum_rx_payload(const void *hdr, uint32_t hlen, const void *payload, uint32_t len);
/* The frame of a plain send's segment whose first pbuf is @p p (its
 * headers and data in one UMEM frame), or NULL (lwIP's heap, a zero-copy
 * payload's headers, a control segment). */
struct pkb *skiff__tx_seg_pkb(const struct pbuf *p);
struct skiff_link;
/* lwIP's packet @p p onto link @p l's TX ring (netif linkoutput). */
err_t skiff__tx_packet(struct skiff_link *l, struct pbuf *p);

#endif
