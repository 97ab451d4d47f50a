/* Secpath (secpath.c): the security associations an XDP metadata record
 * may name, the record's parsing into a received frame's SECPATH
 * extension, and the listener policy that requires one. */
#ifndef SKIFF_SECPATH_H
#define SKIFF_SECPATH_H

#include <stdbool.h>

struct pbuf;
struct pkb;
struct skiff_sock;

/* The XDP metadata record in front of @p pkb's data into its SECPATH
 * extension: 0, -ENOENT (no record), -EINVAL (a record naming an unknown
 * SA: drop). Also skiff__rx_meta() for tests (skiff_testing.h). */
int skiff__secpath_rx_meta(struct pkb *pkb);
/* False when @p s requires a secpath (SKIFF_SO_REQUIRE_SECPATH, inherited
 * by accepted connections) and the segment @p p came without one
 * (counted in secpath_drops). */
bool skiff__secpath_allows(const struct skiff_sock *s, const struct pbuf *p);
/* Every SA goes (skiff_fini). */
void skiff__secpath_clear(void);

#endif
