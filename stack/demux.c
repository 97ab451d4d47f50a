/*
 * The connection tables. lwIP finds a segment's connection by walking its
 * pcb lists, O(connections) per segment; skiff keeps every active and
 * TIME-WAIT pcb in a hash table by its 4-tuple and every listener in a
 * small table by its port, and lwIP asks them (LWIP_HOOK_TCP_DEMUX, patch
 * 0003) instead of walking. The tables follow lwIP's lists exactly through
 * the link/unlink notifications of patch 0002, which also keep a count of
 * the pcbs on each local port: lwIP asks it whether a port is free (patch
 * 0005) instead of walking every list for every port it tries.
 *
 * The 4-tuple hash is SipHash-1-3 under a key drawn at skiff_init(): a peer
 * choosing its addresses and ports cannot aim its connections at one
 * bucket. Chains run through the pcbs themselves (skiff_hnext, lwipopts.h),
 * so the table costs one pointer per bucket and nothing per connection.
 * The last pcb found is tried first: a bulk flow's segments skip the hash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "demux.h"
#include "engine.h"
#include "instance.h"
#include "listenq.h"
#include "ooseq.h"
#include "skiff_lwip_hooks.h"
#include "skiff_testing.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/tcp.h"

/* Listener buckets: listeners are few; by port. */
#define LISTEN_BUCKETS 256u

struct skiff_demux {
	struct tcp_pcb **conn;
	uint32_t conn_mask;
	struct tcp_pcb *lsn[LISTEN_BUCKETS];
	uint32_t users[65536]; /* pcbs on each local port, every list */
	uint16_t fixed[65536]; /* of those, bound or listening: not for connect() */
	uint64_t k0, k1;
	struct tcp_pcb *last;
	uint64_t hint; /* skiff__demux_ahead_hint() */
	uint32_t n_active, n_tw;
	uint32_t port_cursor;				/* RFC 6056 algorithm 3's increment */
	uint64_t ahead_hashed, ahead_found, ahead_used; /* skiff__demux_ahead_counts() */
};

static struct skiff_demux *dm;

/* ---- the hash ------------------------------------------------------------ */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = rotl(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = rotl(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = rotl(v2, 32);                                                                 \
	} while (0)

/* SipHash-1-3 of the 4-tuple (addresses as lwIP stores them: the hash is
 * only compared with itself). */
static uint32_t tuple_hash(const ip_addr_t *l, u16_t lport, const ip_addr_t *r, u16_t rport)
{
	uint64_t v0 = dm->k0 ^ 0x736f6d6570736575ull, v1 = dm->k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = dm->k0 ^ 0x6c7967656e657261ull, v3 = dm->k1 ^ 0x7465646279746573ull;
	uint64_t m[5];
	unsigned n;

	if (IP_IS_V6(l)) {
		const u32_t *a = ip_2_ip6(l)->addr, *b = ip_2_ip6(r)->addr;

		m[0] = (uint64_t)a[0] << 32 | a[1];
		m[1] = (uint64_t)a[2] << 32 | a[3];
		m[2] = (uint64_t)b[0] << 32 | b[1];
		m[3] = (uint64_t)b[2] << 32 | b[3];
		m[4] = (uint64_t)lport << 16 | rport | 36ull << 56;
		n = 5;
	} else {
		m[0] = (uint64_t)ip4_addr_get_u32(ip_2_ip4(l)) << 32 |
		       ip4_addr_get_u32(ip_2_ip4(r));
		m[1] = (uint64_t)lport << 16 | rport | 12ull << 56;
		n = 2;
	}
	for (unsigned i = 0; i < n; i++) {
		v3 ^= m[i];
		SIPROUND;
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (uint32_t)(v0 ^ v1 ^ v2 ^ v3);
}

static inline bool tuple_eq(const struct tcp_pcb *pcb, const ip_addr_t *l, u16_t lport,
			    const ip_addr_t *r, u16_t rport)
{
	return pcb->local_port == lport && pcb->remote_port == rport &&
	       ip_addr_eq(&pcb->remote_ip, r) && ip_addr_eq(&pcb->local_ip, l);
}

/* ---- the tables ------------------------------------------------------------ */

static uint32_t test_buckets;

void skiff__demux_test_buckets(uint32_t buckets)
{
	test_buckets = buckets;
}

int skiff__demux_create(uint32_t max_connections)
{
	uint32_t buckets = 1024;

	while (buckets < max_connections && buckets < (1u << 30))
		buckets <<= 1;
	if (test_buckets)
		buckets = test_buckets;
	dm = calloc(1, sizeof(*dm));
	if (!dm)
		return -ENOMEM;
	dm->conn = calloc(buckets, sizeof(*dm->conn));
	if (!dm->conn) {
		free(dm);
		dm = NULL;
		return -ENOMEM;
	}
	dm->conn_mask = buckets - 1;
	dm->hint = UINT64_MAX;
	skiff__random(&dm->k0, sizeof(dm->k0));
	skiff__random(&dm->k1, sizeof(dm->k1));
	skiff__random(&dm->port_cursor, sizeof(dm->port_cursor));
	return 0;
}

void skiff__demux_destroy(void)
{
	if (!dm)
		return;
	free(dm->conn);
	free(dm);
	dm = NULL;
}

uint32_t skiff__demux_active(void)
{
	return dm ? dm->n_active : 0;
}

uint32_t skiff__demux_time_wait(void)
{
	return dm ? dm->n_tw : 0;
}

bool skiff__demux_full(void)
{
	return dm && dm->n_active >= skiff__s.cfg.max_connections;
}

static void conn_insert(struct tcp_pcb *pcb)
{
	uint32_t h = tuple_hash(&pcb->local_ip, pcb->local_port, &pcb->remote_ip, pcb->remote_port);
	struct tcp_pcb **b = &dm->conn[h & dm->conn_mask];

	pcb->skiff_hash = h;
	pcb->skiff_hnext = *b;
	*b = pcb;
	pcb->skiff_flags |= SKIFF_PCB_HASHED;
}

static void chain_remove(struct tcp_pcb **b, struct tcp_pcb *pcb)
{
	for (; *b; b = &(*b)->skiff_hnext) {
		if (*b == pcb) {
			*b = pcb->skiff_hnext;
			break;
		}
	}
	pcb->skiff_hnext = NULL;
}

/* The pcb of a 4-tuple whose hash is @p h, or NULL. */
static struct tcp_pcb *find(uint32_t h, const ip_addr_t *local, u16_t lport,
			    const ip_addr_t *remote, u16_t rport)
{
	for (struct tcp_pcb *pcb = dm->conn[h & dm->conn_mask]; pcb; pcb = pcb->skiff_hnext)
		if (pcb->skiff_hash == h && tuple_eq(pcb, local, lport, remote, rport))
			return pcb;
	return NULL;
}

struct tcp_pcb *skiff__demux_lookup(const ip_addr_t *local, u16_t lport, const ip_addr_t *remote,
				    u16_t rport)
{
	if (!dm)
		return NULL;
	return find(tuple_hash(local, lport, remote, rport), local, lport, remote, rport);
}

/* ---- looking ahead in an RX batch -------------------------------------------- */

/* The 4-tuple of a received Ethernet frame carrying TCP over IPv4 or IPv6
 * (no VLAN tag, no IPv6 extension header), as lwIP's demux will see it:
 * false for anything else, which is then simply not looked ahead for. */
static bool frame_tuple(const uint8_t *f, uint32_t len, ip_addr_t *local, u16_t *lport,
			ip_addr_t *remote, u16_t *rport)
{
	const uint8_t *t;
	uint16_t type;

	if (len < 14 + 20 + 4)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETHTYPE_IP) {
		uint32_t s, d;

		if ((f[14] >> 4) != 4 || f[14 + 9] != IP_PROTO_TCP)
			return false;
		t = f + 14 + (f[14] & 0xf) * 4u;
		if (t + 4 > f + len)
			return false;
		memcpy(&s, f + 14 + 12, 4);
		memcpy(&d, f + 14 + 16, 4);
		ip_addr_set_ip4_u32_val(*remote, s);
		ip_addr_set_ip4_u32_val(*local, d);
	} else if (type == ETHTYPE_IPV6) {
		u32_t a[8];

		if (len < 14 + 40 + 4 || f[14 + 6] != IP_PROTO_TCP)
			return false;
		t = f + 14 + 40;
		memcpy(a, f + 14 + 8, sizeof(a));
		IP_ADDR6(remote, a[0], a[1], a[2], a[3]);
		IP_ADDR6(local, a[4], a[5], a[6], a[7]);
	} else {
		return false;
	}
	*rport = (u16_t)(t[0] << 8 | t[1]);
	*lport = (u16_t)(t[2] << 8 | t[3]);
	return true;
}

bool skiff__demux_ahead_bucket(const void *frame, uint32_t len, uint32_t *hash)
{
	ip_addr_t l, r;
	u16_t lport, rport;
	const struct tcp_pcb *last;

	if (!dm || !frame_tuple(frame, len, &l, &lport, &r, &rport))
		return false;
	/* A bulk flow's segments find their pcb first in line (the hook's
	 * last), hot in cache: nothing to load, nor a hash to pay for. */
	last = dm->last;
	if (last && tuple_eq(last, &l, lport, &r, rport))
		return false;
	*hash = tuple_hash(&l, lport, &r, rport);
	__builtin_prefetch(&dm->conn[*hash & dm->conn_mask], 0);
	dm->ahead_hashed++;
	return true;
}

void skiff__demux_ahead_pcb(uint32_t hash)
{
	const struct tcp_pcb *pcb = dm->conn[hash & dm->conn_mask];

	if (pcb)
		for (unsigned o = 0; o < sizeof(*pcb); o += 64)
			__builtin_prefetch((const char *)pcb + o, 1);
}

void *skiff__demux_ahead_owner(uint32_t hash)
{
	const struct tcp_pcb *pcb = dm->conn[hash & dm->conn_mask];

	if (!pcb || pcb->skiff_hash != hash || !pcb->callback_arg)
		return NULL;
	dm->ahead_found++;
	return pcb->callback_arg;
}

void skiff__demux_ahead_hint(uint64_t hash)
{
	if (dm)
		dm->hint = hash;
}

void skiff__demux_ahead_counts(uint64_t *hashed, uint64_t *found, uint64_t *used)
{
	*hashed = dm ? dm->ahead_hashed : 0;
	*found = dm ? dm->ahead_found : 0;
	*used = dm ? dm->ahead_used : 0;
}

/* The listener a segment for @p dest:@p port goes to, with lwIP's rules
 * (tcp_input()): an exact address first, else a wildcard of the same
 * family, or a dual-stack (IPADDR_TYPE_ANY) one. */
static struct tcp_pcb *listener_lookup(const ip_addr_t *dest, u16_t port)
{
	struct tcp_pcb *any = NULL;

	for (struct tcp_pcb *l = dm->lsn[port % LISTEN_BUCKETS]; l; l = l->skiff_hnext) {
		if (l->local_port != port)
			continue;
		if (IP_IS_ANY_TYPE_VAL(l->local_ip)) {
			any = l;
		} else if (IP_ADDR_PCB_VERSION_MATCH_EXACT(l, dest)) {
			if (ip_addr_eq(&l->local_ip, dest))
				return l;
			if (ip_addr_isany(&l->local_ip))
				any = l;
		}
	}
	return any;
}

struct tcp_pcb *skiff__hook_tcp_demux(const struct tcp_hdr *hdr, const struct ip_addr *src,
				      const struct ip_addr *dest, struct netif *inp)
{
	/* tcp_input() turned the header's fields to host order already. */
	u16_t lport = hdr->dest, rport = hdr->src;
	struct tcp_pcb *pcb = dm->last;

	(void)inp; /* one netif: no pcb is bound to another */
	if (!pcb || !tuple_eq(pcb, dest, lport, src, rport)) {
		/* The look-ahead hashed this frame already; a hash from a
		 * frame it misread (an IP fragment) finds no pcb of this
		 * 4-tuple, and the lookup hashes it again. */
		pcb = dm->hint != UINT64_MAX ? find((uint32_t)dm->hint, dest, lport, src, rport)
					     : NULL;
		if (pcb)
			dm->ahead_used++;
		else
			pcb = skiff__demux_lookup(dest, lport, src, rport);
		if (!pcb)
			return skiff__listenq_segment(hdr, listener_lookup(dest, lport));
		dm->last = pcb;
	}
	/* A SYN on the 4-tuple of a connection in TIME-WAIT, above all that
	 * connection received: the peer opens a new one (RFC 1122 4.2.2.13;
	 * Linux's servers take it). lwIP answered with an ACK of the old
	 * connection, the peer with an RST that TIME-WAIT ignores, and the
	 * peer's connect() waited out our 2 MSL (120 s), or gave up (a SYN
	 * inside the old window got an RST). A server that closes first (nginx
	 * ends a keep-alive connection every 1,000 requests) leaves such
	 * 4-tuples, and a client may pick the port again. The old pcb goes,
	 * and the SYN to the listener. */
	if (pcb->state == TIME_WAIT &&
	    (TCPH_FLAGS(hdr) & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN &&
	    TCP_SEQ_GT(hdr->seqno, pcb->rcv_nxt)) {
		struct tcp_pcb *l = listener_lookup(dest, lport);

		if (l) {
			skiff__s.stats.tcp_time_wait_reopened++;
			tcp_abort(pcb); /* in TIME-WAIT: unlinked and freed, no RST */
			return skiff__listenq_segment(hdr, l);
		}
	}
	/* In SYN-SENT, an ACK that is not the SYN-ACK of our SYN: lwIP
	 * answers with an RST and sends the SYN again with its retransmission
	 * timer restarted, which the timers cannot tell from rtime, the left
	 * edge or a flag. */
	if (pcb->state == SYN_SENT && (TCPH_FLAGS(hdr) & (TCP_ACK | TCP_RST)) == TCP_ACK &&
	    !((TCPH_FLAGS(hdr) & TCP_SYN) && hdr->ackno == pcb->lastack + 1))
		skiff__timer_rtime_restarted(pcb);
	else if (pcb->state != TIME_WAIT)
		skiff__timer_arm(pcb);
	else if (TCPH_FLAGS(hdr) & TCP_FIN)
		skiff__timers_tw_restarted(pcb); /* tcp_timewait_input() restarts 2 MSL */
	return pcb;
}

/* ---- following lwIP's lists --------------------------------------------------- */

void skiff__hook_pcb_linked(struct tcp_pcb **list, struct tcp_pcb *pcb)
{
	if (!dm)
		return;
	dm->users[pcb->local_port]++;
	if (list == &tcp_active_pcbs) {
		conn_insert(pcb);
		dm->n_active++;
		skiff__listenq_linked(pcb);
		skiff__timer_arm(pcb);
	} else if (list == &tcp_tw_pcbs) {
		conn_insert(pcb);
		dm->n_tw++;
		skiff__timers_tw_linked(pcb);
	} else if (list == &tcp_listen_pcbs.pcbs) {
		struct tcp_pcb **b = &dm->lsn[pcb->local_port % LISTEN_BUCKETS];

		/* tcp_listen() does not zero a listener: our fields start here. */
		pcb->skiff_tnext = pcb->skiff_tprev = NULL;
		pcb->skiff_onext = pcb->skiff_oprev = NULL;
		pcb->skiff_hash = 0;
		pcb->skiff_half_open = 0;
		pcb->skiff_flags = SKIFF_PCB_LISTENER;
		dm->fixed[pcb->local_port]++;
		pcb->skiff_hnext = *b;
		*b = pcb;
	} else {
		dm->fixed[pcb->local_port]++; /* bound, not connected yet */
	}
}

void skiff__hook_pcb_unlinking(struct tcp_pcb **list, struct tcp_pcb *pcb)
{
	if (!dm)
		return;
	dm->users[pcb->local_port]--;
	if (dm->last == pcb)
		dm->last = NULL;
	if (list == &tcp_active_pcbs || list == &tcp_tw_pcbs) {
		chain_remove(&dm->conn[pcb->skiff_hash & dm->conn_mask], pcb);
		pcb->skiff_flags &= (u8_t)~SKIFF_PCB_HASHED;
		if (list == &tcp_active_pcbs) {
			dm->n_active--;
			skiff__listenq_unlinking(pcb);
			skiff__ooseq_unlinking(pcb);
		} else {
			dm->n_tw--;
		}
		skiff__timers_unlinking(pcb, list == &tcp_tw_pcbs);
	} else if (list == &tcp_listen_pcbs.pcbs) {
		dm->fixed[pcb->local_port]--;
		chain_remove(&dm->lsn[pcb->local_port % LISTEN_BUCKETS], pcb);
		pcb->skiff_flags &= (u8_t)~SKIFF_PCB_LISTENER;
	} else {
		dm->fixed[pcb->local_port]--;
	}
}

/* ---- local ports --------------------------------------------------------------- */

int skiff__hook_port_in_use(u16_t port)
{
	return dm && dm->users[port] != 0;
}

/*
 * connect()'s port (RFC 6056, algorithm 3): the search starts at a keyed
 * hash of the local address and the peer, plus a counter, and takes the
 * first port that no listener or bound socket holds and that makes a
 * 4-tuple of its own. Ports in use towards other peers serve this one too,
 * as on Linux. 0 when every port of the range is taken for this peer.
 */
u16_t skiff__hook_connect_port(const struct tcp_pcb *pcb)
{
	const uint32_t n = TCP_LOCAL_PORT_RANGE_END - TCP_LOCAL_PORT_RANGE_START + 1;
	uint32_t start;

	if (!dm)
		return 0;
	start = tuple_hash(&pcb->local_ip, 0, &pcb->remote_ip, pcb->remote_port) + dm->port_cursor;
	for (uint32_t i = 0; i < n; i++) {
		u16_t port = (u16_t)(TCP_LOCAL_PORT_RANGE_START + (start + i) % n);

		if (dm->fixed[port])
			continue;
		if (dm->users[port] &&
		    skiff__demux_lookup(&pcb->local_ip, port, &pcb->remote_ip, pcb->remote_port))
			continue;
		dm->port_cursor += i + 1;
		return port;
	}
	return 0;
}

int skiff__hook_tuple_in_use(const struct tcp_pcb *pcb)
{
	return skiff__demux_lookup(&pcb->local_ip, pcb->local_port, &pcb->remote_ip,
				   pcb->remote_port) != NULL;
}
