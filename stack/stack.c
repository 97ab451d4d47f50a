/* The stack instance: set-up and tear-down, the run-to-completion loop
 * (skiff_poll), lwIP's clock, and the counters. */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "skiff_internal.h"

#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"

struct skiff_stack skiff__s;

static bool lwip_started;
static uint64_t rand_state;

/* ---- clocks and randomness ------------------------------------------------ */

/* Time skiff__clock_advance() added: fuzzers and tests reach lwIP's
 * timers (retransmission, TIME_WAIT, reassembly) without sleeping. */
static long long clock_skew_ms;

long long skiff__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_skew_ms;
}

void skiff__clock_advance(unsigned ms)
{
	clock_skew_ms += ms;
}

long long skiff__deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : skiff__now_ms() + timeout_ms;
}

/* lwIP's clock (required by NO_SYS timers). */
u32_t sys_now(void)
{
	return (u32_t)skiff__now_ms();
}

static void get_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* No entropy source at all: the clock is better than
			 * nothing, and ISNs stay keyed per process. */
			for (size_t i = 0; i < len; i++)
				p[i] = (uint8_t)(skiff__now_ms() * 2654435761u >> (i % 24));
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

uint32_t skiff__rand(void)
{
	/* xorshift64*: ports and the like need spread, not secrecy (the ISN
	 * uses its own keyed hash). */
	if (!rand_state)
		get_random(&rand_state, sizeof(rand_state));
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return (uint32_t)((rand_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* ---- errors ---------------------------------------------------------------- */

void skiff__set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skiff__s.last_error, sizeof(skiff__s.last_error), fmt, ap);
	va_end(ap);
}

const char *skiff_last_error(void)
{
	return skiff__s.last_error;
}

bool skiff_xdp_zerocopy(void)
{
	return skiff__s.up && skiff__s.cfg.backend == SKIFF_BACKEND_XSK &&
	       umem_xsk_is_zerocopy(skiff__s.port);
}

uint32_t skiff_xdp_prog_id(void)
{
	return skiff__s.up && skiff__s.cfg.backend == SKIFF_BACKEND_XSK
		       ? umem_xsk_prog_id(skiff__s.port)
		       : 0;
}

/* ---- set-up ------------------------------------------------------------------ */

static int check_config(struct skiff_config *c)
{
	if (c->backend == SKIFF_BACKEND_XSK) {
		if (!c->ifname || !c->ifname[0]) {
			skiff__set_error("xsk backend needs an interface name");
			return -EINVAL;
		}
	} else if (c->backend == SKIFF_BACKEND_MEMLINK) {
		if (!c->memlink || c->memlink_end > 1) {
			skiff__set_error("memlink backend needs a wire and an end (0 or 1)");
			return -EINVAL;
		}
	} else {
		skiff__set_error("unknown backend %d", (int)c->backend);
		return -EINVAL;
	}
	if (!c->ipv4_prefix)
		c->ipv4_prefix = 24;
	if (!c->ipv6_prefix)
		c->ipv6_prefix = 64;
	if (c->ipv4_prefix > 32 || c->ipv6_prefix > 128) {
		skiff__set_error("prefix length out of range");
		return -EINVAL;
	}
	if (c->vlan_id > 4094) {
		skiff__set_error("VLAN id %u out of range (1..4094)", c->vlan_id);
		return -EINVAL;
	}
	if (c->mac[0] & 1) {
		skiff__set_error("the stack's MAC is a group address");
		return -EINVAL;
	}
	if (!c->frame_count)
		c->frame_count = SKIFF_FRAME_COUNT_DEFAULT;
	if (!c->ring_size)
		c->ring_size = SKIFF_RING_SIZE_DEFAULT;
	if (!c->max_sockets)
		c->max_sockets = SKIFF_MAX_SOCKETS_DEFAULT;
	if (c->max_sockets > (1u << 24)) {
		skiff__set_error("max_sockets %u is too many", c->max_sockets);
		return -EINVAL;
	}
	if (!c->time_wait_ms)
		c->time_wait_ms = SKIFF_TIME_WAIT_MS_DEFAULT;
	return 0;
}

static bool mac_is_zero(const uint8_t *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static int read_if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int sk = socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0), e = 0;

	if (sk < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sk, SIOCGIFHWADDR, &ifr) != 0)
		e = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(sk);
	return e;
}

/* fe80::/64 with the modified EUI-64 of @p mac (RFC 4291 appendix A), as
 * lwIP's netif_create_ip6_linklocal_address() makes it. */
static void link_local(const uint8_t mac[6], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

static int open_xsk(void)
{
	struct skiff_stack *s = &skiff__s;
	const struct skiff_config *c = &s->cfg;
	struct umem_xsk_config x;
	struct umem_err uerr = {{0}};
	int e;

	if (mac_is_zero(c->mac)) {
		e = read_if_mac(c->ifname, s->mac);
		if (e) {
			skiff__set_error("%s: cannot read its MAC address: %s", c->ifname,
					 strerror(-e));
			return e == -ENODEV || e == -ENXIO ? -ENODEV : e;
		}
	}
	memset(&x, 0, sizeof(x));
	x.ifname = c->ifname;
	x.queue = c->queue;
	x.mode = c->xdp_mode == SKIFF_XDP_ZEROCOPY ? UMEM_XSK_MODE_ZEROCOPY
		 : c->xdp_mode == SKIFF_XDP_COPY   ? UMEM_XSK_MODE_COPY
						   : UMEM_XSK_MODE_AUTO;
	x.attach = c->xdp_skb_mode ? UMEM_XSK_ATTACH_SKB : UMEM_XSK_ATTACH_AUTO;
	x.need_wakeup = true;
	x.busy_poll = c->busy_poll;
	x.rx_size = x.tx_size = x.fill_size = x.comp_size = c->ring_size;
	memcpy(x.mac, s->mac, 6);
	/* Exactly the stack's traffic: its addresses, the link-local one
	 * included, and ARP/ND about them. */
	if (c->ipv4)
		x.ipv4[x.n_ipv4++] = c->ipv4;
	link_local(s->mac, x.ipv6[x.n_ipv6++]);
	if (memcmp(c->ipv6, (uint8_t[16]){0}, 16) != 0)
		memcpy(x.ipv6[x.n_ipv6++], c->ipv6, 16);
	e = umem_xsk_create(&s->port, s->umem, &x, &uerr);
	if (e) {
		skiff__set_error("%s", uerr.msg[0] ? uerr.msg : strerror(-e));
		return e;
	}
	return 0;
}

/* Every frame's data finished with comes here (pool release hook): the XDP
 * metadata slot is wiped before the frame can be filled again, so a record
 * is never read twice and old payload never passes for one (xdp_meta.h). */
static void release_frame(void *opaque, struct pkb_pool *pool, uint64_t frame)
{
	struct skiff_stack *s = opaque;
	uint64_t slot = frame + s->geo.headroom + UMEM_XDP_PACKET_HEADROOM - 32;

	(void)pool;
	memset(umem_geo_ptr(&s->geo, slot), 0, 32);
	umem_free(s->umem, frame);
}

static int open_umem(void)
{
	struct skiff_stack *s = &skiff__s;
	const struct skiff_config *c = &s->cfg;
	struct umem_config uc;
	/* An extension area per frame at most (a VLAN tag or a secpath on
	 * every received packet): never short of them. */
	struct pkb_pool_config pc = {
		.areas = c->frame_count,
		.release = release_frame,
		.release_opaque = s,
	};
	struct zc_engine_config zcc = {0};
	int e;

	memset(&uc, 0, sizeof(uc));
	if (c->backend == SKIFF_BACKEND_MEMLINK) {
		e = umem_memlink_umem_config(skiff__memlink_wire(c->memlink), c->memlink_end, &uc);
		if (e) {
			skiff__set_error("memlink end %u: %s", c->memlink_end, strerror(-e));
			return e;
		}
	} else {
		uc.frame_count = c->frame_count;
		/* A full fill ring must leave frames to send with (and the
		 * loans half): else refills post them all and TX starves. */
		if (c->ring_size > uc.frame_count / 2) {
			skiff__set_error("rings of %u need at least %u UMEM frames (have %u)",
					 c->ring_size, 2 * c->ring_size, uc.frame_count);
			return -EINVAL;
		}
	}
	/* The fill ring topped up every poll round, not only once it is half
	 * empty: a peer's burst (a whole window) arriving while the
	 * application has its turn finds every frame posted, where half the
	 * ring lost the tail of the burst and cost a retransmission timeout.
	 * (A wire with smaller rings falls back to umem/'s half.) */
	uc.fill_watermark = c->ring_size;
	e = umem_create(&s->umem, &uc);
	if (e) {
		skiff__set_error("umem_create: %s", strerror(-e));
		return e;
	}
	umem_geometry(s->umem, &s->geo);
	if (s->geo.headroom + UMEM_XDP_PACKET_HEADROOM < PKB_META_SIZE + 32) {
		skiff__set_error("UMEM headroom %u leaves no room for metadata", s->geo.headroom);
		e = -EINVAL;
		goto out_destroy_umem;
	}
	e = pkb_pool_create(&s->pool, s->umem, &pc);
	if (e) {
		skiff__set_error("pkb_pool_create: %s", strerror(-e));
		goto out_destroy_umem;
	}
	/* Loans take at most half the frames: the rest keep the fill ring and
	 * the TX path going (ACKs, window updates). A small UMEM under the
	 * default budget let a reader sitting on its loans starve its own
	 * connection of every frame. */
	zcc.loan_budget = s->geo.frame_count / 2 ? s->geo.frame_count / 2 : 1;
	if (zcc.loan_budget > ZC_LOAN_BUDGET_DEFAULT)
		zcc.loan_budget = ZC_LOAN_BUDGET_DEFAULT;
	e = zc_engine_create(&s->zc, s->pool, &zcc);
	if (e) {
		skiff__set_error("zc_engine_create: %s", strerror(-e));
		goto out_destroy_pool;
	}
	return 0;

out_destroy_pool:
	pkb_pool_destroy(s->pool);
	s->pool = NULL;
out_destroy_umem:
	umem_destroy(s->umem);
	s->umem = NULL;
	return e;
}

static void close_umem(void)
{
	struct skiff_stack *s = &skiff__s;
	int e;

	e = zc_engine_destroy(s->zc);
	if (e)
		fprintf(stderr,
			"skiff: zero-copy state still live at fini (loans not returned?)\n");
	else
		s->zc = NULL;
	e = pkb_pool_destroy(s->pool);
	if (e)
		fprintf(stderr, "skiff: packet buffers still live at fini\n");
	else
		s->pool = NULL;
	umem_port_destroy(s->port);
	s->port = NULL;
	if (!s->pool && !s->zc && umem_destroy(s->umem) == 0)
		s->umem = NULL;
	/* Whatever is still live is leaked on purpose: the application holds
	 * loans into it. */
	s->zc = NULL;
	s->pool = NULL;
	s->umem = NULL;
}

static int start(const struct skiff_config *cfg)
{
	struct skiff_stack *s = &skiff__s;
	int e;

	if (s->up)
		return -EALREADY;
	memset(s, 0, sizeof(*s));
	s->port_fd = -1;
	if (!cfg) {
		skiff__set_error("no configuration");
		return -EINVAL;
	}
	s->cfg = *cfg;
	e = check_config(&s->cfg);
	if (e)
		return e;
	memcpy(s->mac, s->cfg.mac, 6);
	if (mac_is_zero(s->mac) && s->cfg.backend == SKIFF_BACKEND_MEMLINK) {
		/* Locally administered, unicast, from the wire end. */
		get_random(s->mac + 1, 5);
		s->mac[0] = 0x02;
		s->mac[5] = (uint8_t)((s->mac[5] & 0xfe) | s->cfg.memlink_end);
	}
	get_random(&s->isn_k0, sizeof(s->isn_k0));
	get_random(&s->isn_k1, sizeof(s->isn_k1));

	s->socks = calloc(s->cfg.max_sockets, sizeof(*s->socks));
	if (!s->socks) {
		skiff__set_error("no memory for %u sockets", s->cfg.max_sockets);
		return -ENOMEM;
	}
	e = open_umem();
	if (e)
		goto out_free_socks;
	if (s->cfg.backend == SKIFF_BACKEND_XSK)
		e = open_xsk();
	else {
		e = umem_memlink_port(&s->port, skiff__memlink_wire(s->cfg.memlink),
				      s->cfg.memlink_end, s->umem);
		if (e)
			skiff__set_error("memlink end %u: %s", s->cfg.memlink_end, strerror(-e));
	}
	if (e)
		goto out_close_umem;
	s->port_fd = umem_port_fd(s->port);
	zc_engine_set_port(s->zc, s->port);
	{
		/* An eighth of the UMEM, at most a fill ring's worth, stays free
		 * or on the fill ring for receiving (zcsock.c). */
		unsigned ring = 0;

		umem_port_fill_level(s->port, &ring);
		s->rx_reserve = s->geo.frame_count / 8;
		if (ring && s->rx_reserve > ring)
			s->rx_reserve = ring;
	}

	if (!lwip_started) {
		/* lwIP keeps global state and its timers: once per process. */
		lwip_init();
		lwip_started = true;
	}
	skiff__hooks_init();
	e = skiff__netif_up();
	if (e)
		goto out_close_umem;
	umem_port_refill(s->port);
	s->up = true;
	s->last_error[0] = '\0';
	return 0;

out_close_umem:
	close_umem();
out_free_socks:
	free(s->socks);
	s->socks = NULL;
	return e;
}

int skiff_init(const struct skiff_config *cfg)
{
	int e = start(cfg);

	if (e) {
		errno = -e;
		return -1;
	}
	return 0;
}

/* Pcbs no socket owns any more (closing, TIME_WAIT) go too. */
static void abort_stray_pcbs(void)
{
	while (tcp_active_pcbs)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs)
		tcp_abort(tcp_tw_pcbs);
	while (tcp_bound_pcbs)
		tcp_abort(tcp_bound_pcbs);
	while (tcp_listen_pcbs.pcbs)
		tcp_close(tcp_listen_pcbs.pcbs);
	while (udp_pcbs)
		udp_remove(udp_pcbs);
}

/* Frames on the TX ring hold data references: let them come back. */
static void drain_tx(void)
{
	struct skiff_stack *s = &skiff__s;
	long long end = skiff__now_ms() + 2000;
	struct umem_audit a;

	for (;;) {
		umem_port_flush(s->port);
		umem_port_complete(s->port, 1024);
		umem_audit(s->umem, &a);
		if (!a.tx_inflight || skiff__now_ms() > end)
			break;
		usleep(100);
	}
	s->tx_pending = 0;
}

void skiff_fini(void)
{
	struct skiff_stack *s = &skiff__s;

	if (!s->up)
		return;
	s->in_poll = true; /* callbacks below must not poll */
	skiff__abort_all();
	abort_stray_pcbs();
	skiff__netif_down();
	/* Reassembly queues hold received frames; age them out. */
	for (int i = 0; i <= IP_REASS_MAXAGE + 1; i++) {
		ip_reass_tmr();
		ip6_reass_tmr();
	}
	drain_tx();
	s->in_callback = true;
	zc_engine_deliver(s->zc);
	s->in_callback = false;
	skiff__free_all();
	skiff__sa_clear();
	close_umem();
	free(s->socks);
	s->socks = NULL;
	s->up = false;
	s->in_poll = false;
}

/* ---- the loop ------------------------------------------------------------- */

void skiff__flush(void)
{
	struct skiff_stack *s = &skiff__s;

	if (!s->tx_pending)
		return;
	s->tx_pending = 0;
	umem_port_flush(s->port);
}

/* TIME_WAIT shorter than lwIP's 2 * MSL (skiff_config.time_wait_ms): the
 * pcbs that have waited long enough go (tcp_abort() of a TIME_WAIT pcb
 * sends nothing). Checked once per slow timer tick. */
static void reap_time_wait(void)
{
	static u32_t last_tick;
	u32_t limit = skiff__s.cfg.time_wait_ms / TCP_SLOW_INTERVAL;
	struct tcp_pcb *pcb;

	if (skiff__s.cfg.time_wait_ms >= 2 * TCP_MSL || tcp_ticks == last_tick)
		return;
	last_tick = tcp_ticks;
again:
	for (pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
		if ((u32_t)(tcp_ticks - pcb->tmr) >= limit) {
			tcp_abort(pcb);
			goto again;
		}
	}
}

static unsigned round_once(void)
{
	struct skiff_stack *s = &skiff__s;
	unsigned n, acks_later;

	/* The ACKs the last round's data called for, unless the answers the
	 * application sent since carried them; then what the API calls
	 * queued since the last round goes out. An ACK left for the next
	 * round counts as work: the loop must come back for it. */
	acks_later = skiff__batch_acks();
	skiff__flush();
	n = acks_later + skiff__rx_batch();
	skiff__rx_relieve();
	sys_check_timeouts();
	reap_time_wait();
	skiff__guard_tick();
	skiff__flush();
	n += umem_port_complete(s->port, 1024);
	s->in_callback = true;
	n += zc_engine_deliver(s->zc);
	s->in_callback = false;
	return n;
}

/* Sleeps until traffic may have come, @p ms at most (-1: no limit beyond
 * lwIP's next timer). */
static void wait_traffic(int ms)
{
	struct skiff_stack *s = &skiff__s;
	u32_t timer = sys_timeouts_sleeptime();

	if (timer != SYS_TIMEOUTS_SLEEPTIME_INFINITE && (ms < 0 || timer < (u32_t)ms))
		ms = (int)timer;
	if (s->port_fd >= 0) {
		struct pollfd pfd = {.fd = s->port_fd, .events = POLLIN};

		poll(&pfd, 1, ms);
		return;
	}
	/* memlink has no descriptor: a short nap, the wire is shared memory. */
	if (ms != 0) {
		struct timespec ts = {.tv_nsec = 20000};

		nanosleep(&ts, NULL);
	}
}

int skiff_poll(int timeout_ms)
{
	struct skiff_stack *s = &skiff__s;
	long long deadline;
	unsigned long before;
	int n;

	if (!s->up) {
		errno = ENOTCONN;
		return -1;
	}
	if (s->in_poll || s->in_callback)
		return 0;
	s->in_poll = true;
	/* A clock read costs tens of ns here (a VM's TSC): none for the
	 * one-round poll a spinning caller makes. */
	deadline = timeout_ms == 0 ? 0 : skiff__deadline(timeout_ms);
	for (;;) {
		before = s->notified;
		n = (int)round_once();
		n += (int)(s->notified - before);
		if (n || timeout_ms == 0)
			break;
		long long left = deadline < 0 ? -1 : deadline - skiff__now_ms();
		if (deadline >= 0 && left <= 0)
			break;
		wait_traffic(left > INT32_MAX ? INT32_MAX : (int)left);
	}
	s->in_poll = false;
	return n;
}

int skiff__wait(long long deadline_ms)
{
	long long left;
	int n;

	if (!skiff__s.up)
		return -ENOTCONN;
	if (skiff__s.in_callback || skiff__s.in_poll)
		return -EDEADLK; /* a blocking call inside a callback would spin */
	left = deadline_ms < 0 ? -1 : deadline_ms - skiff__now_ms();
	if (deadline_ms >= 0 && left <= 0)
		return -ETIMEDOUT;
	n = skiff_poll(left > INT32_MAX ? INT32_MAX : (int)left);
	return n < 0 ? -errno : 0;
}

/* ---- counters ------------------------------------------------------------- */

static uint32_t pool_used(memp_t t)
{
	return lwip_stats.memp[t] ? (uint32_t)lwip_stats.memp[t]->used : 0;
}

static uint32_t pool_errors(void)
{
	uint32_t n = 0;

	for (int i = 0; i < MEMP_MAX; i++)
		if (lwip_stats.memp[i])
			n += (uint32_t)lwip_stats.memp[i]->err;
	return n + (uint32_t)lwip_stats.mem.err;
}

void skiff_get_stats(struct skiff_stats *out)
{
	struct skiff_stack *s = &skiff__s;
	struct umem_port_stats ps;
	struct zc_engine_stats zs;
	struct umem_audit a;

	memset(out, 0, sizeof(*out));
	if (!s->up)
		return;
	*out = s->st;
	umem_port_get_stats(s->port, &ps);
	out->rx_frames = ps.rx_frames;
	out->rx_bytes = ps.rx_bytes;
	out->tx_frames = ps.tx_frames;
	out->tx_bytes = ps.tx_bytes;
	out->xdp_rx_dropped = ps.rx_dropped;
	out->xdp_rx_invalid = ps.rx_invalid_descs;
	out->xdp_tx_invalid = ps.tx_invalid_descs;
	out->xdp_rx_ring_full = ps.rx_ring_full;
	out->xdp_fill_ring_empty = ps.rx_fill_ring_empty_descs;
	out->xdp_tx_ring_empty = ps.tx_ring_empty_descs;

	zc_engine_get_stats(s->zc, &zs);
	out->tx_copied_bytes += zs.tx_copied_bytes;
	out->rx_copied_bytes += zs.rx_copied_bytes;
	out->zc_sends = zs.sends;
	out->zc_ids_completed = zs.ids_completed;
	out->zc_sends_copied = zs.sends_copied;
	out->zc_sends_aborted = zs.sends_aborted;
	out->zc_loans_live = zs.loans_live;

	umem_audit(s->umem, &a);
	out->frames_total = a.total;
	out->frames_free = a.free;
	out->frames_fill = a.fill;
	out->frames_held = a.held;
	out->frames_tx = a.tx_inflight;
	out->frames_loaned = a.loaned;

	out->ip_rx_drop = lwip_stats.ip.drop;
	out->ip_checksum_err = lwip_stats.ip.chkerr;
	out->ip6_rx_drop = lwip_stats.ip6.drop;
	out->icmp_rx = lwip_stats.icmp.recv;
	out->icmp6_rx = lwip_stats.icmp6.recv;
	out->tcp_rx_drop = lwip_stats.tcp.drop;
	out->tcp_checksum_err = lwip_stats.tcp.chkerr;
	out->udp_rx_drop = lwip_stats.udp.drop;
	out->udp_checksum_err = lwip_stats.udp.chkerr;
	out->arp_drop = lwip_stats.etharp.drop;
	out->nd6_drop = lwip_stats.nd6.drop;
	out->ip_len_err = lwip_stats.ip.lenerr + lwip_stats.ip6.lenerr;
	out->tcp_len_err = lwip_stats.tcp.lenerr;
	out->ip_frag_drop = lwip_stats.ip_frag.drop + lwip_stats.ip6_frag.drop;
	out->xdp_passed_not_ours = ps.xdp_passed_not_ours;

	out->lwip_pcbs_used = pool_used(MEMP_TCP_PCB) + pool_used(MEMP_TCP_PCB_LISTEN);
	out->lwip_udp_pcbs_used = pool_used(MEMP_UDP_PCB);
	out->lwip_segs_used = pool_used(MEMP_TCP_SEG);
	out->lwip_pbufs_used = pool_used(MEMP_PBUF) + pool_used(MEMP_PBUF_POOL);
	out->lwip_reass_used = pool_used(MEMP_REASSDATA) + pool_used(MEMP_FRAG_PBUF);
#if LWIP_IPV6_REASS
	out->lwip_reass_used += pool_used(MEMP_IP6_REASSDATA);
#endif
	out->lwip_heap_used = (uint32_t)lwip_stats.mem.used;
	out->lwip_pool_errors = pool_errors();
}
