/* The stack instance: skiff_init() and skiff_fini(), the configuration's
 * checks and defaults, the UMEM, pools and port it runs on, and the last
 * error. One instance per process (lwIP keeps global state). */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "demux.h"
#include "instance.h"
#include "mptcp.h"
#include "netif.h"
#include "pcap.h"
#include "secpath.h"
#include "sock.h"
#include "statpub.h"
#include "tcpglue.h"

#include "lwip/init.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/udp.h"

struct skiff_stack skiff__s;

static bool lwip_started;

/* ---- errors ------------------------------------------------------------------ */

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
	       umem_xsk_is_zerocopy(skiff__s.link[0].port);
}

uint32_t skiff_xdp_prog_id(void)
{
	return skiff__s.up && skiff__s.cfg.backend == SKIFF_BACKEND_XSK
		       ? umem_xsk_prog_id(skiff__s.link[0].port)
		       : 0;
}

/* ---- set-up ------------------------------------------------------------------ */

void skiff_sizes_for(uint32_t connections, uint32_t *ring_size, uint32_t *frame_count)
{
	uint32_t ring = SKIFF_RING_SIZE_DEFAULT, frames;

	while (ring < connections && ring < SKIFF_RING_SIZE_MAX)
		ring <<= 1;
	frames = 2 * ring > SKIFF_FRAME_COUNT_DEFAULT ? 2 * ring : SKIFF_FRAME_COUNT_DEFAULT;
	if (ring_size)
		*ring_size = ring;
	if (frame_count)
		*frame_count = frames;
}

/* Prefix lengths: 0 means 24 (IPv4) and 64 (IPv6); whether in range. */
static bool prefixes_ok(uint8_t *v4, uint8_t *v6)
{
	if (!*v4)
		*v4 = 24;
	if (!*v6)
		*v6 = 64;
	return *v4 <= 32 && *v6 <= 128;
}

/* Extra ports: xsk only, each on its own interface or queue, with an
 * address, and with addresses no other port has. */
static int check_extra_ports(struct skiff_config *c)
{
	if (!c->n_extra_ports)
		return 0;
	if (c->n_extra_ports > SKIFF_MAX_PORTS - 1) {
		skiff__set_error("n_extra_ports %u: at most %u", c->n_extra_ports,
				 SKIFF_MAX_PORTS - 1);
		return -EINVAL;
	}
	if (c->backend != SKIFF_BACKEND_XSK) {
		skiff__set_error("extra ports need the xsk backend (a memlink wire has two ends)");
		return -EINVAL;
	}
	for (unsigned i = 0; i < c->n_extra_ports; i++) {
		struct skiff_port_config *p = &c->extra_ports[i];

		if (!p->ifname || !p->ifname[0]) {
			skiff__set_error("extra port %u: no interface name", i);
			return -EINVAL;
		}
		if (!p->ipv4 && memcmp(p->ipv6, (uint8_t[16]){0}, 16) == 0) {
			skiff__set_error("extra port %s: no address", p->ifname);
			return -EINVAL;
		}
		if (!prefixes_ok(&p->ipv4_prefix, &p->ipv6_prefix)) {
			skiff__set_error("extra port %s: prefix length out of range", p->ifname);
			return -EINVAL;
		}
		if (p->mac[0] & 1) {
			skiff__set_error("extra port %s: the MAC is a group address", p->ifname);
			return -EINVAL;
		}
		for (unsigned j = 0; j <= i; j++) {
			const char *other = j ? c->extra_ports[j - 1].ifname : c->ifname;
			uint32_t oq = j ? c->extra_ports[j - 1].queue : c->queue;
			uint32_t o4 = j ? c->extra_ports[j - 1].ipv4 : c->ipv4;

			if (other && strcmp(other, p->ifname) == 0 && oq == p->queue) {
				skiff__set_error("extra port %s queue %u: already a port",
						 p->ifname, p->queue);
				return -EINVAL;
			}
			if (p->ipv4 && o4 == p->ipv4) {
				skiff__set_error(
					"extra port %s: its IPv4 address is another port's",
					p->ifname);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_config(struct skiff_config *c)
{
	uint32_t window_frames;
	int e;

	if (c->backend == SKIFF_BACKEND_XSK) {
		if (!c->ifname || !c->ifname[0]) {
			skiff__set_error("xsk backend needs an interface name");
			return -EINVAL;
		}
	} else if (c->backend == SKIFF_BACKEND_MEMLINK) {
		struct umem_config uc;

		if (!c->memlink || c->memlink_end > 1) {
			skiff__set_error("memlink backend needs a wire and an end (0 or 1)");
			return -EINVAL;
		}
		/* The wire's UMEM is the one the frames come from: the frame
		 * budgets and the extension areas count those (they counted
		 * the 16,384 default whatever the wire had). */
		if (umem_memlink_umem_config(skiff__memlink_wire(c->memlink), c->memlink_end,
					     &uc) == 0)
			c->frame_count = uc.frame_count;
	} else {
		skiff__set_error("unknown backend %d", (int)c->backend);
		return -EINVAL;
	}
	if (!prefixes_ok(&c->ipv4_prefix, &c->ipv6_prefix)) {
		skiff__set_error("prefix length out of range");
		return -EINVAL;
	}
	e = check_extra_ports(c);
	if (e)
		return e;
	if (c->vlan_id > 4094) {
		skiff__set_error("VLAN id %u out of range (1..4094)", c->vlan_id);
		return -EINVAL;
	}
	if (c->mac[0] & 1) {
		skiff__set_error("the stack's MAC is a group address");
		return -EINVAL;
	}
	/* A ring for a segment of each connection expected at once, and the
	 * frames to post it all (skiff_sizes_for). */
	if (!c->frame_count && !c->ring_size)
		skiff_sizes_for(c->expected_connections, &c->ring_size, &c->frame_count);
	if (!c->frame_count)
		c->frame_count = SKIFF_FRAME_COUNT_DEFAULT;
	if (!c->ring_size)
		c->ring_size = SKIFF_RING_SIZE_DEFAULT;
	if (!c->max_connections)
		c->max_connections = SKIFF_MAX_CONNECTIONS_DEFAULT;
	if (!c->max_sockets)
		c->max_sockets = c->max_connections + 1024;
	if (!c->max_half_open)
		c->max_half_open = SKIFF_MAX_HALF_OPEN_DEFAULT;
	if (!c->max_time_wait)
		c->max_time_wait = c->max_connections;
	if (!c->max_backlog)
		c->max_backlog = SKIFF_MAX_BACKLOG_DEFAULT;
	if (!c->max_zc_sends)
		c->max_zc_sends = SKIFF_MAX_ZC_SENDS_DEFAULT;
	/* A window of full segments always fits a connection's budgets (a
	 * bulk transfer in loss recovery, a reader a window behind); small
	 * segments meet them sooner. A full segment carries the MSS less the
	 * timestamps option (every peer here sends it): 1,448 bytes, 2,897
	 * frames for the 4 MiB window (counted at 1,460, the budget was 24
	 * frames short of the window, and a hole at the window's left edge
	 * cost the last of the flight behind it). */
	window_frames = TCP_WND / (TCP_MSS - LWIP_TCP_OPT_LEN_TS_OUT) + 1;
	if (!c->max_ooseq_frames_conn)
		c->max_ooseq_frames_conn =
			LWIP_MIN(window_frames, LWIP_MAX(c->frame_count / 8, 1u));
	if (c->max_ooseq_frames_conn > 65535)
		c->max_ooseq_frames_conn = 65535; /* lwIP counts them in 16 bits */
	if (!c->max_ooseq_frames)
		c->max_ooseq_frames = LWIP_MAX(c->frame_count / 4, 1u);
	if (!c->max_rx_frames_conn)
		c->max_rx_frames_conn = LWIP_MAX(window_frames, c->frame_count / 16);
	if (c->max_sockets > (1u << 24) || c->max_connections > (1u << 24)) {
		skiff__set_error("max_sockets %u / max_connections %u: at most %u", c->max_sockets,
				 c->max_connections, 1u << 24);
		return -EINVAL;
	}
	if (c->max_backlog > 65535) {
		skiff__set_error("max_backlog %u: at most 65535", c->max_backlog);
		return -EINVAL;
	}
	if (c->mptcp_add_addr_accepted > 7) {
		/* A connection takes 8 subflows: the first and 7 joins. */
		skiff__set_error("mptcp_add_addr_accepted %u: at most 7",
				 (unsigned)c->mptcp_add_addr_accepted);
		return -EINVAL;
	}
	if (!c->min_rto_ms)
		c->min_rto_ms = SKIFF_MIN_RTO_MS_DEFAULT;
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

/* The AF_XDP port of link @p l: the second and later share the first's
 * UMEM registration (umem/xsk.c). */
static int open_xsk(struct skiff_link *l)
{
	struct skiff_stack *st = &skiff__s;
	const struct skiff_config *c = &st->cfg;
	const struct skiff_port_config *pc = &l->cfg;
	struct umem_xsk_config x;
	struct umem_err uerr = {{0}};
	int e;

	if (mac_is_zero(pc->mac)) {
		e = read_if_mac(pc->ifname, l->mac);
		if (e) {
			skiff__set_error("%s: cannot read its MAC address: %s", pc->ifname,
					 strerror(-e));
			return e == -ENODEV || e == -ENXIO ? -ENODEV : e;
		}
	}
	memset(&x, 0, sizeof(x));
	x.ifname = pc->ifname;
	x.queue = pc->queue;
	x.mode = c->xdp_mode == SKIFF_XDP_ZEROCOPY ? UMEM_XSK_MODE_ZEROCOPY
		 : c->xdp_mode == SKIFF_XDP_COPY   ? UMEM_XSK_MODE_COPY
						   : UMEM_XSK_MODE_AUTO;
	x.attach = c->xdp_skb_mode ? UMEM_XSK_ATTACH_SKB : UMEM_XSK_ATTACH_AUTO;
	x.need_wakeup = true;
	x.busy_poll = c->busy_poll;
	x.rx_size = x.tx_size = x.fill_size = x.comp_size = c->ring_size;
	memcpy(x.mac, l->mac, 6);
	/* Exactly the stack's traffic on this link: its addresses, the
	 * link-local one included, and ARP/ND about them. */
	if (pc->ipv4)
		x.ipv4[x.n_ipv4++] = pc->ipv4;
	link_local(l->mac, x.ipv6[x.n_ipv6++]);
	if (memcmp(pc->ipv6, (uint8_t[16]){0}, 16) != 0)
		memcpy(x.ipv6[x.n_ipv6++], pc->ipv6, 16);
	e = umem_xsk_create(&l->port, st->umem, &x, &uerr);
	if (e) {
		if (l != st->link)
			skiff__set_error("extra port %s: %s", pc->ifname,
					 uerr.msg[0] ? uerr.msg : strerror(-e));
		else
			skiff__set_error("%s", uerr.msg[0] ? uerr.msg : strerror(-e));
		return e;
	}
	l->port_fd = umem_port_fd(l->port);
	return 0;
}

/* What a wait sleeps on: the one port's descriptor, or an epoll instance
 * holding every port's. */
static int open_wait_fd(void)
{
	struct skiff_stack *st = &skiff__s;
	int ep;

	if (st->n_links == 1) {
		st->wait_fd = st->link[0].port_fd;
		return 0;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		skiff__set_error("epoll_create1: %s", strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < st->n_links; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, st->link[i].port_fd, &ev) != 0) {
			int e = -errno;

			skiff__set_error("epoll_ctl: %s", strerror(errno));
			close(ep);
			return e;
		}
	}
	st->wait_fd = ep;
	return 0;
}

/* Every frame's data finished with comes here (pool release hook): the XDP
 * metadata slot is wiped before the frame can be filled again, so a record
 * is never read twice and old payload never passes for one (xdp_meta.h). */
static void release_frame(void *opaque, struct pkb_pool *pool, uint64_t frame)
{
	struct skiff_stack *st = opaque;
	uint64_t slot = frame + st->geo.headroom + UMEM_XDP_PACKET_HEADROOM - 32;

	(void)pool;
	memset(umem_geo_ptr(&st->geo, slot), 0, 32);
	umem_free(st->umem, frame);
}

static int open_umem(void)
{
	struct skiff_stack *st = &skiff__s;
	const struct skiff_config *c = &st->cfg;
	struct umem_config uc;
	/* An extension area per frame at most (a VLAN tag or a secpath on
	 * every received packet): never short of them. */
	struct pkb_pool_config pc = {
		.areas = c->frame_count,
		.release = release_frame,
		.release_opaque = st,
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
	e = umem_create(&st->umem, &uc);
	if (e) {
		skiff__set_error("umem_create: %s", strerror(-e));
		return e;
	}
	umem_geometry(st->umem, &st->geo);
	if (st->geo.headroom + UMEM_XDP_PACKET_HEADROOM < PKB_META_SIZE + 32) {
		skiff__set_error("UMEM headroom %u leaves no room for metadata", st->geo.headroom);
		e = -EINVAL;
		goto out_destroy_umem;
	}
	e = pkb_pool_create(&st->pool, st->umem, &pc);
	if (e) {
		skiff__set_error("pkb_pool_create: %s", strerror(-e));
		goto out_destroy_umem;
	}
	/* Loans take at most half the frames: the rest keep the fill ring and
	 * the TX path going (ACKs, window updates). A small UMEM under the
	 * default budget let a reader sitting on its loans starve its own
	 * connection of every frame. */
	zcc.max_sends = c->max_zc_sends;
	zcc.loan_budget = st->geo.frame_count / 2 ? st->geo.frame_count / 2 : 1;
	if (zcc.loan_budget > ZC_LOAN_BUDGET_DEFAULT)
		zcc.loan_budget = ZC_LOAN_BUDGET_DEFAULT;
	e = zc_engine_create(&st->zc, st->pool, &zcc);
	if (e) {
		skiff__set_error("zc_engine_create: %s", strerror(-e));
		goto out_destroy_pool;
	}
	return 0;

out_destroy_pool:
	pkb_pool_destroy(st->pool);
	st->pool = NULL;
out_destroy_umem:
	umem_destroy(st->umem);
	st->umem = NULL;
	return e;
}

static void close_umem(void)
{
	struct skiff_stack *st = &skiff__s;
	int e;

	e = zc_engine_destroy(st->zc);
	if (e)
		fprintf(stderr,
			"skiff: zero-copy state still live at fini (loans not returned?)\n");
	else
		st->zc = NULL;
	e = pkb_pool_destroy(st->pool);
	if (e)
		fprintf(stderr, "skiff: packet buffers still live at fini\n");
	else
		st->pool = NULL;
	if (st->n_links > 1 && st->wait_fd >= 0)
		close(st->wait_fd);
	st->wait_fd = -1;
	/* The extra ports first: the first one registered the UMEM. */
	for (unsigned i = SKIFF_MAX_PORTS; i-- > 0;) {
		umem_port_destroy(st->link[i].port);
		st->link[i].port = NULL;
		st->link[i].port_fd = -1;
	}
	if (!st->pool && !st->zc && umem_destroy(st->umem) == 0)
		st->umem = NULL;
	/* Whatever is still live is leaked on purpose: the application holds
	 * loans into it. */
	st->zc = NULL;
	st->pool = NULL;
	st->umem = NULL;
}

/* The links from the config: link[0] from its own fields, then one per
 * extra port. */
static void set_links(void)
{
	struct skiff_stack *st = &skiff__s;
	const struct skiff_config *c = &st->cfg;
	struct skiff_port_config *p0 = &st->link[0].cfg;

	p0->ifname = c->ifname;
	p0->queue = c->queue;
	memcpy(p0->mac, c->mac, 6);
	p0->ipv4 = c->ipv4;
	p0->ipv4_prefix = c->ipv4_prefix;
	p0->ipv4_gateway = c->ipv4_gateway;
	memcpy(p0->ipv6, c->ipv6, 16);
	p0->ipv6_prefix = c->ipv6_prefix;
	st->n_links = 1 + c->n_extra_ports;
	for (unsigned i = 1; i < st->n_links; i++)
		st->link[i].cfg = c->extra_ports[i - 1];
	for (unsigned i = 0; i < st->n_links; i++)
		memcpy(st->link[i].mac, st->link[i].cfg.mac, 6);
}

static int start(const struct skiff_config *cfg)
{
	struct skiff_stack *st = &skiff__s;
	int e;

	if (st->up)
		return -EALREADY;
	memset(st, 0, sizeof(*st));
	st->wait_fd = -1;
	for (unsigned i = 0; i < SKIFF_MAX_PORTS; i++)
		st->link[i].port_fd = -1;
	if (!cfg) {
		skiff__set_error("no configuration");
		return -EINVAL;
	}
	st->cfg = *cfg;
	e = check_config(&st->cfg);
	if (e)
		return e;
	e = skiff__pcap_open();
	if (e)
		return e;
	set_links();
	if (mac_is_zero(st->link[0].mac) && st->cfg.backend == SKIFF_BACKEND_MEMLINK) {
		uint8_t *mac = st->link[0].mac;

		/* Locally administered, unicast, from the wire end. */
		skiff__random(mac + 1, 5);
		mac[0] = 0x02;
		mac[5] = (uint8_t)((mac[5] & 0xfe) | st->cfg.memlink_end);
	}
	skiff__random(&st->isn_k0, sizeof(st->isn_k0));
	skiff__random(&st->isn_k1, sizeof(st->isn_k1));

	st->socks = calloc(st->cfg.max_sockets, sizeof(*st->socks));
	if (!st->socks) {
		skiff__set_error("no memory for %u sockets", st->cfg.max_sockets);
		e = -ENOMEM;
		goto out_close_pcap;
	}
	e = skiff__demux_create(st->cfg.max_connections);
	if (e) {
		skiff__set_error("no memory for a table of %u connections",
				 st->cfg.max_connections);
		goto out_free_socks;
	}
	e = open_umem();
	if (e)
		goto out_free_socks;
	if (st->cfg.backend == SKIFF_BACKEND_XSK) {
		for (unsigned i = 0; i < st->n_links && !e; i++)
			e = open_xsk(&st->link[i]);
	} else {
		e = umem_memlink_port(&st->link[0].port, skiff__memlink_wire(st->cfg.memlink),
				      st->cfg.memlink_end, st->umem);
		if (e)
			skiff__set_error("memlink end %u: %s", st->cfg.memlink_end, strerror(-e));
		st->link[0].port_fd = e ? -1 : umem_port_fd(st->link[0].port);
	}
	if (!e)
		e = open_wait_fd();
	if (e)
		goto out_close_umem;
	/* Receive loans watch the first port's fill ring; each post names
	 * its own port (frames.c). */
	zc_engine_set_port(st->zc, st->link[0].port);
	{
		/* An eighth of the UMEM, at most a fill ring's worth per port,
		 * stays free or on the fill rings for receiving (zcsock.c). */
		unsigned ring = 0;

		umem_port_fill_level(st->link[0].port, &ring);
		st->rx_reserve = st->geo.frame_count / 8;
		if (ring && st->rx_reserve > ring * st->n_links)
			st->rx_reserve = ring * st->n_links;
	}

	if (!lwip_started) {
		/* lwIP keeps global state and its timers: once per process. */
		lwip_init();
		lwip_started = true;
	}
	skiff__tcpglue_init();
	skiff__mptcp_init();
	skiff__tcp_give_up_after(0);
	e = skiff__netif_up();
	if (e)
		goto out_close_umem;
	for (unsigned i = 0; i < st->n_links; i++) {
		st->link[i].fill_target = st->link[i].fill_burst = 0;
		skiff__fill_follow_demand(&st->link[i], 0);
		umem_port_refill(st->link[i].port);
	}
	st->up = true;
	st->last_error[0] = '\0';
	skiff__statpub_open();
	return 0;

out_close_umem:
	close_umem();
out_free_socks:
	skiff__demux_destroy();
	free(st->socks);
	st->socks = NULL;
out_close_pcap:
	skiff__pcap_close();
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

/* Frames on the TX ring hold data references: let them come back, until
 * @p deadline (one look at least). */
static void drain_tx(long long deadline)
{
	struct skiff_stack *st = &skiff__s;
	struct umem_audit a;

	for (;;) {
		for (unsigned i = 0; i < st->n_links; i++)
			umem_port_flush(st->link[i].port);
		skiff__tx_reap(1024);
		umem_audit(st->umem, &a);
		if (!a.tx_inflight || skiff__now_ms() >= deadline)
			break;
		usleep(100);
	}
	for (unsigned i = 0; i < st->n_links; i++)
		st->link[i].tx_pending = 0;
}

/* True while a connection still has data the peer has not acknowledged:
 * what the graceful part of a shutdown waits for. */
static bool data_in_flight(void)
{
	for (struct tcp_pcb *pcb = tcp_active_pcbs; pcb; pcb = pcb->next)
		if (pcb->unsent || pcb->unacked)
			return true;
	return false;
}

int skiff_stop(int drain_ms)
{
	struct skiff_stack *st = &skiff__s;
	long long deadline;
	struct umem_audit a;

	if (!st->up) {
		errno = ENOTCONN;
		return -1;
	}
	if (st->stopped)
		return 0;
	if (st->in_poll || st->in_callback) {
		errno = EDEADLK;
		return -1;
	}
	if (drain_ms < 0)
		drain_ms = 0;
	deadline = skiff__now_ms() + drain_ms;
	/* Graceful while the bound lasts: what the application closed goes
	 * out and is acknowledged. */
	while (skiff__now_ms() < deadline && data_in_flight())
		skiff_poll(1);
	st->in_poll = true; /* callbacks below must not poll */
	skiff__socks_abort_all();
	abort_stray_pcbs();
	skiff__netif_down();
	/* Reassembly queues hold received frames; age them out. */
	for (int i = 0; i <= IP_REASS_MAXAGE + 1; i++) {
		ip_reass_tmr();
		ip6_reass_tmr();
	}
	st->tx_reap_held = false; /* the shutdown takes every frame back */
	drain_tx(deadline);
	st->in_callback = true;
	zc_engine_deliver(st->zc);
	st->in_callback = false;
	skiff__socks_free_all();
	st->stopped = true;
	st->in_poll = false;
	skiff__statpub_stopped();
	skiff__pcap_flush();
	umem_audit(st->umem, &a);
	if (a.tx_inflight) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

void skiff_fini(void)
{
	struct skiff_stack *st = &skiff__s;

	if (!st->up)
		return;
	if (!st->stopped)
		skiff_stop(SKIFF_FINI_DRAIN_MS);
	skiff__statpub_close();
	skiff__pcap_close();
	skiff__secpath_clear();
	close_umem();
	skiff__demux_destroy();
	free(st->socks);
	st->socks = NULL;
	st->up = false;
	st->stopped = false;
}
