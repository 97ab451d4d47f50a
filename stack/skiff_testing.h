/* stack/ internals that tests call directly, in plain C types (no lwIP type
 * leaves stack/). Not installed, not API: names keep the skiff__ prefix. */
#ifndef SKIFF_TESTING_H
#define SKIFF_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <skiff/pkb.h>

/* The umem/ wire behind a skiff_memlink, for tests that drive one end
 * with raw frames (NULL for NULL). */
struct skiff_memlink;
struct umem_memlink;
struct umem_memlink *skiff__memlink_wire(const struct skiff_memlink *w);

/* The next instance's 4-tuple table gets @p buckets buckets (a power of
 * two; 0: sized from max_connections), so that tests can make every lookup
 * walk one chain. */
void skiff__demux_test_buckets(uint32_t buckets);

/* What the RX batch's look-ahead did in this instance (netif.c): frames it
 * hashed ahead, the sockets it found for them at their bucket's head, and
 * the segments whose pcb the demux hook found by the look-ahead's hash. */
void skiff__demux_ahead_counts(uint64_t *hashed, uint64_t *found, uint64_t *used);
/* The RX batch looks connections up ahead from this many on (default
 * SKIFF_RX_AHEAD_MIN, 2048; tests: 0, always). */
void skiff__rx_ahead_min(uint32_t connections);

/* lwIP's err_t (a signed byte) to errno: the one translation. */
int skiff__errno(int8_t err);

/* SipHash-2-4 of @p len bytes under the key (k0, k1). */
uint64_t skiff__siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len);

/* Sets the RFC 6528 secret (tests: a known key). */
void skiff__isn_key(uint64_t k0, uint64_t k1);
/* The ISN skiff picks for an IPv4 4-tuple now (addresses in network
 * order, ports in host order). */
uint32_t skiff__isn_v4(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport);

/* Write @p dss as a DSS option on the segments of @p fd from now on (NULL
 * stops). 0, -EBADF, -ENOTCONN, -EINVAL, -EBUSY (segments queued with
 * another option length), -ENOMEM. */
int skiff__mptcp_set_mapping(int fd, const struct pkb_ext_mptcp *dss);

/* MPTCP's hashes (stack/mptcp/crypto.c, libcrypto): SHA-256; a key's
 * token and IDSN (RFC 8684 3.1); HMAC-SHA256 keyed with key1 || key2 in
 * network order (3.2). 0, or -ENOMEM. */
int skiff__mptcp_sha256(const void *p, size_t n, uint8_t out[32]);
/* The DSS checksum (RFC 8684 3.3.1) skiff writes for a mapping (64-bit
 * DSN, relative subflow sequence number, data-level length) of the @p n
 * pieces (at most 8) of payload, in order (stack/mptcp/csum.c). */
uint16_t skiff__mptcp_dss_csum(uint64_t dsn, uint32_t ssn, uint16_t dll,
			       const uint8_t *const *piece, const uint16_t *len, unsigned n);
int skiff__mptcp_key_hash(uint64_t key, uint32_t *token, uint64_t *idsn);
int skiff__mptcp_hmac(uint64_t key1, uint64_t key2, const uint8_t *msg, size_t len,
		      uint8_t out[32]);

/* For @p ms from now (0: no longer), every MPTCP subflow repeats the last
 * DATA_ACK it sent instead of acknowledging what has arrived since, as a
 * stalled receiver would: the peer's connection-level retransmission
 * timer fires and it sends data again that skiff already has. */
void skiff__mptcp_hold_data_ack(unsigned ms);
/* MPTCP with DSS checksums: the mapping that carries subflow byte @p off
 * (0 is the first data byte) goes out once with a wrong checksum, as if a
 * middlebox had changed its payload and mended TCP's checksum (the peer
 * answers with MP_FAIL). */
void skiff__mptcp_corrupt_tx(uint64_t off);
/* ... and received byte @p off is flipped before its mapping's checksum is
 * checked (the mapping fails: not delivered, MP_FAIL sent). */
void skiff__mptcp_corrupt_rx(uint64_t off);
/* The same on a join's positions only (@p join), or the first
 * subflow's once a join was taken (its first byte at or past @p off from
 * then); the send side on a join's positions. */
void skiff__mptcp_corrupt_rx_on(uint64_t off, bool join);
void skiff__mptcp_corrupt_tx_join(uint64_t off);
/* The MPTCP connection of socket @p fd as it stands, on stderr (a test's
 * view of a stall). */
void skiff__mptcp_dump(int fd);
/* ... and every MPTCP connection there is (sockets closed too). */
void skiff__mptcp_dump_all(void);

/* Security associations the XDP metadata record may name (by SPI). */
int skiff__sa_add(struct pkb_sa *sa);
void skiff__sa_clear(void);

/* Moves skiff's clock (and lwIP's timers with it) @p ms forward, for good:
 * the next poll runs the timers that fell due. */
void skiff__clock_advance(unsigned ms);

/* While @p hold, nothing reaps the completion ring: frames the kernel (or
 * the memlink wire) has finished with stay there, TX state, holding their
 * data references, so no zero-copy send they carried can complete. The
 * ring fills and TX stalls once it holds a ring's worth. Cleared by
 * skiff_init() and by skiff_stop() (the shutdown takes every frame back). */
void skiff__tx_reap_hold(bool hold);
/* lwIP gives a connection up at its @p n-th retransmission timeout in a
 * row (1 to 12; 0: 12 again, as upstream), so that a test sees it within
 * seconds rather than minutes. Set back by skiff_init(). */
void skiff__tcp_give_up_after(unsigned n);

/* Zero-copy buffers of @p fd that TCP still holds (their bytes not yet
 * acknowledged whole); 0 once the peer has acknowledged every send. The
 * count, or -EBADF / -ENOTSOCK. */
int skiff__zc_buffers_held(int fd);

/* The XDP metadata parser (netif RX): the record in front of @p pkb's data
 * into its SECPATH extension. 0, -ENOENT (no record), -EINVAL (drop). */
int skiff__rx_meta(struct pkb *pkb);

/* lwIP's LWIP_CHKSUM and LWIP_CHKSUM_COPY (chksum.c): the folded, not yet
 * complemented, one's complement sum of @p len bytes as they lie in memory;
 * the copy variant also copies them to @p dst. */
uint16_t skiff__chksum(const void *data, int len);
uint16_t skiff__chksum_copy(void *dst, const void *src, uint16_t len);

#endif
