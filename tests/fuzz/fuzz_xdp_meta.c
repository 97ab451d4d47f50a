/* Fuzzes the XDP metadata parser (skiff__rx_meta(), which netif RX runs on
 * every frame before lwIP sees it): arbitrary bytes in front of a packet in
 * a UMEM frame, the packet where AF_XDP puts it or anywhere near the pkb
 * metadata. Whatever the bytes, the parser must read only the record slot,
 * agree with the wire format (xdp_meta.h) on what it accepts, wipe a record
 * it has read, and leave every SA reference and frame accounted for.
 *
 * Input: byte 0 picks the packet's offset in the frame (bit 7 set: just
 * past the pkb metadata, plus the low bits; else where AF_XDP puts it);
 * then up to 32 bytes of metadata, ending where the packet starts (a short
 * one is preceded by zeroes, as a wiped slot is); then the packet. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <skiff/pkb.h>
#include <skiff/umem.h>

#include "../../stack/skiff_testing.h"
#include <skiff/xdp_meta.h>
#include "fuzz_wire.h"

#define N_SA 3

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct umem *u;
	struct pkb_pool *pool;
	struct umem_geometry g;
	struct pkb_sa sa[N_SA];
} X;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_xdp_meta: %s\n", what);
	abort();
}

static void sa_destroy(struct pkb_sa *sa)
{
	(void)sa;
	die("an SA was destroyed: a secpath put a reference it did not hold");
}

static struct pkb_sa *known(uint32_t spi)
{
	for (int i = 0; i < N_SA; i++)
		if (X.sa[i].spi == spi)
			return &X.sa[i];
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct umem_config uc = {.frame_count = 64};
	static const uint32_t spis[N_SA] = {FW_SPI0, FW_SPI1, 0x99aabbccu};

	(void)argc, (void)argv;
	if (umem_create(&X.u, &uc) || pkb_pool_create(&X.pool, X.u, NULL))
		die("umem");
	umem_geometry(X.u, &X.g);
	for (int i = 0; i < N_SA; i++) {
		pkb_sa_init(&X.sa[i], sa_destroy, NULL);
		X.sa[i].spi = htonl(spis[i]);
		X.sa[i].proto = IPPROTO_ESP;
		if (skiff__sa_add(&X.sa[i]))
			die("sa_add");
	}
	return 0;
}

/* What the parser must answer for record @p m (read from a slot that
 * exists). */
static int expected(const struct umem_xdp_meta *m)
{
	if (m->magic != UMEM_XDP_META_MAGIC)
		return -ENOENT;
	if (m->version != UMEM_XDP_META_VERSION || !m->n_sa || m->n_sa > UMEM_XDP_META_MAX_SA)
		return -EINVAL;
	for (unsigned i = 0; i < m->n_sa; i++)
		if (!known(m->spi[i]))
			return -EINVAL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const size_t rec = sizeof(struct umem_xdp_meta);
	struct umem_xdp_meta m, after;
	const struct pkb_ext_secpath *sp;
	struct pkb_pool_stats ps;
	struct umem_audit au;
	struct pkb *pkb, *clone;
	uint8_t *frame, *pkt;
	size_t off, mlen, plen;
	bool slot;
	uint64_t a;
	int r, want;

	if (size < 1)
		return 0;
	off = data[0] & 0x80 ? PKB_META_SIZE + (data[0] & 0x7f)
			     : X.g.headroom + UMEM_XDP_PACKET_HEADROOM;
	data++, size--;
	mlen = size < rec ? size : rec;
	plen = size - mlen;
	if (plen > X.g.frame_size - off)
		plen = X.g.frame_size - off;
	if (!plen)
		plen = 1;

	if (umem_alloc(X.u, &a))
		die("no frame");
	frame = umem_geo_ptr(&X.g, a);
	pkt = frame + off;
	/* The bytes in front of the packet as the stack leaves them (slot
	 * wiped), then the metadata, never into the pkb's own metadata. */
	memset(frame + PKB_META_SIZE, 0, off - PKB_META_SIZE);
	for (size_t i = 0; i < mlen; i++)
		if (pkt - mlen + i >= frame + PKB_META_SIZE)
			pkt[-(ptrdiff_t)mlen + (ptrdiff_t)i] = data[i];
	memset(pkt, 0, plen);
	memcpy(pkt, data + mlen, plen < size - mlen ? plen : size - mlen);
	slot = off >= PKB_META_SIZE + rec;
	if (slot)
		memcpy(&m, pkt - rec, rec);
	if (pkb_build(X.pool, a + off, (uint32_t)plen, &pkb))
		die("pkb_build");

	r = skiff__rx_meta(pkb);
	want = slot ? expected(&m) : -ENOENT;
	if (r != want) {
		fprintf(stderr, "fuzz_xdp_meta: got %d, want %d\n", r, want);
		abort();
	}
	if (slot) {
		memcpy(&after, pkt - rec, rec);
		/* A record is read once: wiped. Anything else is left alone. */
		if (want == -ENOENT ? memcmp(&after, &m, rec) != 0
				    : memcmp(&after, &(struct umem_xdp_meta){0}, rec) != 0)
			die("the metadata slot was not left as it should be");
	}
	sp = pkb_ext_secpath(pkb);
	if (r == 0) {
		if (!sp || sp->len != m.n_sa)
			die("accepted record without its secpath");
		for (unsigned i = 0; i < m.n_sa; i++)
			if (sp->sa[i] != known(m.spi[i]))
				die("secpath entries out of order");
		/* A clone shares the secpath; both must go cleanly. */
		if (pkb_clone(pkb, &clone) == 0)
			pkb_free(clone);
	} else if (sp) {
		die("a refused record left a secpath behind");
	}
	pkb_free(pkb);

	for (int i = 0; i < N_SA; i++)
		if (X.sa[i].refcnt != 2) /* ours and the stack's table's */
			die("SA reference leaked");
	pkb_pool_get_stats(X.pool, &ps);
	if (ps.live_pkbs || ps.live_areas || ps.live_frames || ps.live_heads)
		die("packet buffer leaked");
	if (!umem_audit(X.u, &au) || au.held)
		die("frame leaked");
	return 0;
}
