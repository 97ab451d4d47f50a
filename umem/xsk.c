/* The xsk port: AF_XDP through libxdp's xsk API, with skiff's own XDP
 * program (bpf/skiff_xdp.bpf.c) attached by us rather than libxdp's default
 * one, so that only the stack's frames reach the socket and the host keeps
 * the rest of the interface's traffic. The program hangs on a BPF link that
 * the process owns: however the process ends, the kernel detaches it.
 *
 * Like every backend it only moves descriptors between the rings and the
 * arrays port.c gives it; port.c does the frame state transitions. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/sockios.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "umem_internal.h"
#include "bpf/umem_bpf.h"

/* Debian 12's headers predate some of these. */
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#ifndef UMEM_XSK_RING_DEFAULT
#define UMEM_XSK_RING_DEFAULT 2048u
#endif
#ifndef UMEM_XSK_BUSY_POLL_BUDGET_DEFAULT
#define UMEM_XSK_BUSY_POLL_BUDGET_DEFAULT 64u
#endif
/* How long create waits for a queue that a closed socket still holds. */
#ifndef UMEM_XSK_BUSY_WAIT_MS
#define UMEM_XSK_BUSY_WAIT_MS 500u
#endif
#define UMEM_XSK_BUSY_STEP_MS 2u
/* How long a busy-polling socket spins in the driver per call, in us. */
#ifndef UMEM_XSK_BUSY_POLL_USECS
#define UMEM_XSK_BUSY_POLL_USECS 20
#endif

struct umem_xsk {
	struct xsk_ring_cons rx;
	struct xsk_ring_prod tx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_umem *xumem;
	struct xsk_socket *sock;
	int sock_fd;
	struct bpf_object *obj;
	/* The BPF link that holds our program on the interface: it lives as
	 * long as this fd (or the process) does. */
	int link_fd;
	uint32_t prog_id;
	bool native;
	int xsks_fd, verdicts_fd;
	int ifindex;
	uint32_t queue;
	bool zerocopy;
	bool need_wakeup;
	bool busy_poll;
	uint64_t kicks;
	char ifname[IF_NAMESIZE];
};

static const struct umem_port_ops afxdp_ops;

__attribute__((format(printf, 3, 4))) static int fail(struct umem_err *err, int code,
						      const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- fast path ---------------------------------------------------------- */

static inline struct umem_xsk *state(const struct umem_port *p)
{
	return p->backend;
}

/* Lets the kernel (driver) run its RX side; the outcome shows on the rings,
 * so the call's own result does not matter. */
static void kick_rx(struct umem_xsk *x)
{
	recvfrom(x->sock_fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
	x->kicks++;
}

static unsigned port_rx(struct umem_port *p, struct umem_desc *descs, unsigned max)
{
	struct umem_xsk *x = state(p);
	uint32_t idx = 0;
	unsigned n;

	n = xsk_ring_cons__peek(&x->rx, max, &idx);
	if (!n) {
		/* Busy polling runs the driver from our syscalls only; a
		 * zero-copy driver may have gone to sleep on an empty fill
		 * ring. */
		if (x->busy_poll || (x->need_wakeup && xsk_ring_prod__needs_wakeup(&x->fill)))
			kick_rx(x);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);

		descs[i].addr = d->addr;
		descs[i].len = d->len;
		descs[i].options = d->options;
	}
	xsk_ring_cons__release(&x->rx, n);
	return n;
}

static unsigned port_tx(struct umem_port *p, const struct umem_desc *descs, unsigned n)
{
	struct umem_xsk *x = state(p);
	uint32_t idx = 0, room;

	room = xsk_prod_nb_free(&x->tx, n);
	if (room > n)
		room = n;
	if (!room || xsk_ring_prod__reserve(&x->tx, room, &idx) != room)
		return 0;
	for (unsigned i = 0; i < room; i++) {
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + i);

		d->addr = descs[i].addr;
		d->len = descs[i].len;
		d->options = descs[i].options;
	}
	xsk_ring_prod__submit(&x->tx, room);
	return room;
}

static inline bool tx_ring_empty(struct umem_xsk *x)
{
	return xsk_prod_nb_free(&x->tx, x->tx.size) == x->tx.size;
}

static int port_flush(struct umem_port *p)
{
	struct umem_xsk *x = state(p);
	uint32_t before;

	if (tx_ring_empty(x))
		return 0;
	if (x->need_wakeup && !x->busy_poll && !xsk_ring_prod__needs_wakeup(&x->tx))
		return 0;
	/* Copy mode sends at most a small batch per call and answers EAGAIN
	 * while more is queued; EBUSY when the device dropped a frame (a link
	 * whose carrier is off drops each one: completed, not sent), after
	 * which the kernel stops taking descriptors for that call. Go on
	 * while it makes progress: else what stays on the ring waits for the
	 * port's next traffic, which may never come (a downed link's frames
	 * held until the end). */
	for (;;) {
		before = xsk_prod_nb_free(&x->tx, x->tx.size);
		x->kicks++;
		if (sendto(x->sock_fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return 0;
		switch (errno) {
		case EAGAIN:
		case EBUSY:
		case ENOBUFS:
			if (tx_ring_empty(x) || xsk_prod_nb_free(&x->tx, x->tx.size) == before)
				return 0;
			continue;
		case ENETDOWN:
			return 0;
		default:
			return -errno;
		}
	}
}

static unsigned port_complete(struct umem_port *p, uint64_t *addrs, unsigned max)
{
	struct umem_xsk *x = state(p);
	uint32_t idx = 0;
	unsigned n;

	n = xsk_ring_cons__peek(&x->comp, max, &idx);
	for (unsigned i = 0; i < n; i++)
		addrs[i] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
	if (n)
		xsk_ring_cons__release(&x->comp, n);
	return n;
}

static unsigned port_fill(struct umem_port *p, const uint64_t *addrs, unsigned n)
{
	struct umem_xsk *x = state(p);
	uint32_t idx = 0, room;

	room = xsk_prod_nb_free(&x->fill, n);
	if (room > n)
		room = n;
	if (!room || xsk_ring_prod__reserve(&x->fill, room, &idx) != room)
		return 0;
	for (unsigned i = 0; i < room; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = addrs[i];
	xsk_ring_prod__submit(&x->fill, room);
	return room;
}

static unsigned port_fill_level(const struct umem_port *p, unsigned *size)
{
	struct umem_xsk *x = state(p);

	*size = x->fill.size;
	return x->fill.size - xsk_prod_nb_free(&x->fill, x->fill.size);
}

static int port_fd(const struct umem_port *p)
{
	return state(p)->sock_fd;
}

static void port_stats(const struct umem_port *p, struct umem_port_stats *out)
{
	struct umem_xsk *x = state(p);
	struct xdp_statistics st = {0};
	struct umem_xsk_xdp_stats v;
	socklen_t len = sizeof(st);

	/* Added: port.c counts some of the same reasons on its side. */
	if (getsockopt(x->sock_fd, SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
		out->rx_dropped += st.rx_dropped;
		out->rx_invalid_descs += st.rx_invalid_descs;
		out->tx_invalid_descs += st.tx_invalid_descs;
		out->rx_ring_full += st.rx_ring_full;
		out->rx_fill_ring_empty_descs += st.rx_fill_ring_empty_descs;
		out->tx_ring_empty_descs += st.tx_ring_empty_descs;
	}
	out->kicks += x->kicks;
	if (umem__xsk_xdp_stats(p, &v) == 0) {
		out->xdp_redirected += v.redirected;
		out->xdp_passed_not_ours += v.passed_not_ours;
		out->xdp_passed_no_socket += v.passed_no_socket;
	}
}

/* ---- the XDP program ---------------------------------------------------- */

/* The name the kernel knows our program by (its function name, within
 * BPF_OBJ_NAME_LEN): what tells a leftover of ours from a foreign program. */
#define PROG_NAME "skiff_xdp"

/* What is attached to the interface in one mode, by id and name. */
struct xdp_occupant {
	uint32_t id;
	char name[BPF_OBJ_NAME_LEN];
};

static void occupant_name(struct xdp_occupant *o)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(o->id);

	snprintf(o->name, sizeof(o->name), "?");
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		snprintf(o->name, sizeof(o->name), "%s", info.name);
	close(fd);
}

/* Makes the interface's XDP hook free for us. Our own program attached the
 * old way (netlink, no owner) is what a killed skiff of an earlier release
 * leaves behind: take it over. A program held by a BPF link belongs to a
 * live process; anything else is foreign. Neither is ever removed. */
static int clear_leftover(struct umem_xsk *x, struct umem_err *err)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct {
		uint32_t id;
		uint32_t flag;
		const char *mode, *off;
	} modes[2];
	int e;

	e = bpf_xdp_query(x->ifindex, 0, &q);
	if (e)
		return fail(err, e, "%s: cannot query its XDP programs: %s", x->ifname,
			    strerror(-e));
	modes[0] = (typeof(modes[0])){q.drv_prog_id, XDP_FLAGS_DRV_MODE, "native", "xdpdrv"};
	modes[1] = (typeof(modes[1])){q.skb_prog_id, XDP_FLAGS_SKB_MODE, "generic", "xdpgeneric"};
	if (q.hw_prog_id)
		return fail(err, -EEXIST,
			    "%s: an XDP program (id %u) is offloaded to the NIC; skiff leaves it "
			    "alone (remove it with: ip link set dev %s xdpoffload off)",
			    x->ifname, q.hw_prog_id, x->ifname);
	for (unsigned i = 0; i < 2; i++) {
		struct xdp_occupant o = {.id = modes[i].id};

		if (!o.id)
			continue;
		occupant_name(&o);
		if (strcmp(o.name, PROG_NAME) != 0)
			return fail(
				err, -EEXIST,
				"%s: XDP program '%s' (id %u, %s mode) is attached and is not "
				"skiff's; skiff leaves it alone (remove it with: ip link set dev "
				"%s %s off)",
				x->ifname, o.name, o.id, modes[i].mode, x->ifname, modes[i].off);
		/* A link refuses a plain detach (EBUSY): its owner is alive.
		 * (Link ids name no namespace, so this is the one sure test.) */
		e = bpf_xdp_detach(x->ifindex, modes[i].flag, NULL);
		if (e == -EBUSY)
			return fail(err, -EBUSY,
				    "%s: skiff's XDP program (id %u) is in use by a running skiff "
				    "process; one skiff instance per interface",
				    x->ifname, o.id);
		if (e)
			return fail(err, e,
				    "%s: cannot remove a leftover skiff XDP program (id %u): %s",
				    x->ifname, o.id, strerror(-e));
		fprintf(stderr,
			"skiff umem: %s: took over skiff's XDP program (id %u, %s mode) that a "
			"process no longer running left attached\n",
			x->ifname, o.id, modes[i].mode);
	}
	return 0;
}

static void close_prog(struct umem_xsk *x)
{
	/* The link is the attachment: closing it detaches the program, in
	 * whatever namespace the thread is now. A killed process's link goes
	 * the same way when the kernel closes its files. */
	if (x->link_fd >= 0)
		close(x->link_fd);
	x->link_fd = -1;
	bpf_object__close(x->obj);
	x->obj = NULL;
}

static int set_max_entries(struct bpf_object *obj, const char *name, uint32_t n)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__set_max_entries(m, n ? n : 1) : -ENOENT;
}

/* Loads a fresh copy of the embedded object (a failed attach may leave one
 * half loaded) and attaches it through a BPF link in native or generic
 * mode. */
static int attach_prog(struct umem_xsk *x, const struct umem_xsk_config *cfg, bool native)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "skiff_xdp");
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	struct bpf_program *prog;
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int err, fd;

	x->obj = bpf_object__open_mem(umem__xdp_prog, umem__xdp_prog_len, &opts);
	if (!x->obj)
		return errno ? -errno : -EINVAL;
	err = set_max_entries(x->obj, UMEM_BPF_MAP_XSKS, x->queue + 1);
	if (!err)
		err = set_max_entries(x->obj, UMEM_BPF_MAP_IPV4, cfg->n_ipv4);
	if (!err)
		err = set_max_entries(x->obj, UMEM_BPF_MAP_IPV6, 2 * cfg->n_ipv6);
	prog = bpf_object__find_program_by_name(x->obj, PROG_NAME);
	if (!err && !prog)
		err = -ENOENT;
	if (!err)
		err = bpf_object__load(x->obj);
	if (err)
		goto out_close_obj;
	fd = bpf_program__fd(prog);
	lo.flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	x->link_fd = bpf_link_create(fd, x->ifindex, BPF_XDP, &lo);
	if (x->link_fd < 0) {
		err = -errno;
		goto out_close_obj;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		x->prog_id = info.id;
	x->native = native;
	return 0;

out_close_obj:
	close_prog(x);
	return err;
}

static int attach_error(struct umem_xsk *x, struct umem_err *err, int e, const char *what)
{
	if (e == -EPERM)
		return fail(err, -EPERM,
			    "%s: not permitted to attach an XDP program (needs CAP_NET_ADMIN and "
			    "CAP_BPF)",
			    x->ifname);
	if (e == -EEXIST || e == -EBUSY)
		return fail(err, e,
			    "%s: another XDP program was attached while skiff attached its own: %s",
			    x->ifname, strerror(-e));
	return fail(err, e, "%s: attaching skiff's XDP program in %s mode failed: %s", x->ifname,
		    what, strerror(-e));
}

/* The solicited-node multicast group of @p a: ff02::1:ff00:0/104 + its
 * low 24 bits (RFC 4291 2.7.1). */
static void solicited_node(const uint8_t a[16], struct umem_bpf_ip6 *out)
{
	static const uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};

	memcpy(out->addr, prefix, sizeof(prefix));
	memcpy(out->addr + 13, a + 13, 3);
}

static int fill_maps(struct umem_xsk *x, const struct umem_xsk_config *cfg, const uint8_t mac[6])
{
	int cfg_fd = bpf_object__find_map_fd_by_name(x->obj, UMEM_BPF_MAP_CFG);
	int v4_fd = bpf_object__find_map_fd_by_name(x->obj, UMEM_BPF_MAP_IPV4);
	int v6_fd = bpf_object__find_map_fd_by_name(x->obj, UMEM_BPF_MAP_IPV6);
	struct umem_bpf_cfg c;
	uint8_t unicast = UMEM_BPF_ADDR_UNICAST, solicited = UMEM_BPF_ADDR_SOLICITED;
	uint32_t zero = 0;
	int err = 0;

	x->xsks_fd = bpf_object__find_map_fd_by_name(x->obj, UMEM_BPF_MAP_XSKS);
	x->verdicts_fd = bpf_object__find_map_fd_by_name(x->obj, UMEM_BPF_MAP_VERDICTS);
	if (cfg_fd < 0 || v4_fd < 0 || v6_fd < 0 || x->xsks_fd < 0 || x->verdicts_fd < 0)
		return -ENOENT;
	/* Addresses first: the MAC is what makes the program match at all. */
	for (unsigned i = 0; i < cfg->n_ipv4 && !err; i++)
		err = bpf_map_update_elem(v4_fd, &cfg->ipv4[i], &unicast, BPF_ANY);
	for (unsigned i = 0; i < cfg->n_ipv6 && !err; i++) {
		struct umem_bpf_ip6 sn;

		solicited_node(cfg->ipv6[i], &sn);
		err = bpf_map_update_elem(v6_fd, cfg->ipv6[i], &unicast, BPF_ANY);
		if (!err)
			err = bpf_map_update_elem(v6_fd, &sn, &solicited, BPF_ANY);
	}
	memset(&c, 0, sizeof(c));
	memcpy(c.mac, mac, 6);
	if (!err)
		err = bpf_map_update_elem(cfg_fd, &zero, &c, BPF_ANY);
	return err ? -errno : 0;
}

int umem__xsk_xdp_stats(const struct umem_port *p, struct umem_xsk_xdp_stats *out)
{
	uint64_t sum[UMEM_BPF__NVERDICTS] = {0};
	struct umem_xsk *x;
	uint64_t *vals;
	int ncpu;

	memset(out, 0, sizeof(*out));
	if (!p || p->ops != &afxdp_ops)
		return -EINVAL;
	x = state(p);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t v = 0; v < UMEM_BPF__NVERDICTS; v++) {
		if (bpf_map_lookup_elem(x->verdicts_fd, &v, vals) != 0) {
			free(vals);
			return -errno;
		}
		for (int c = 0; c < ncpu; c++)
			sum[v] += vals[c];
	}
	free(vals);
	out->redirected = sum[UMEM_BPF_REDIRECTED];
	out->passed_not_ours = sum[UMEM_BPF_PASSED_NOT_OURS];
	out->passed_no_socket = sum[UMEM_BPF_PASSED_NO_SOCKET];
	return 0;
}

/* ---- create / destroy --------------------------------------------------- */

/* Queues an AF_XDP socket can bind on (the kernel accepts an id below the
 * larger of the rx and tx counts); 0 when the driver does not say. */
static unsigned queue_count(int sk, const char *ifname, int ifindex)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr;
	char path[96];
	unsigned rx = 0, tx = 0;
	struct dirent *e;
	DIR *d;
	FILE *f;
	int idx = 0;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(sk, SIOCETHTOOL, &ifr) == 0) {
		unsigned n = ch.rx_count > ch.tx_count ? ch.rx_count : ch.tx_count;

		if (n + ch.combined_count)
			return n + ch.combined_count;
	}
	/* sysfs shows the namespace it was mounted in: trust it only when
	 * it names the same device. */
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", ifname);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &idx) != 1)
		idx = 0;
	fclose(f);
	if (idx != ifindex)
		return 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifname);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "rx-", 3) == 0)
			rx++;
		else if (strncmp(e->d_name, "tx-", 3) == 0)
			tx++;
	}
	closedir(d);
	return rx > tx ? rx : tx;
}

static int read_mac(int sk, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sk, SIOCGIFHWADDR, &ifr) != 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* The capabilities AF_XDP plus an XDP program need, named when missing.
 * The kernel has the last word (a user namespace may grant fewer). */
static const char *missing_caps(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	uint64_t eff;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return NULL;
	eff = (uint64_t)data[1].effective << 32 | data[0].effective;
#define HAS(c) ((eff >> (c)) & 1)
	if (!HAS(CAP_NET_RAW))
		return "CAP_NET_RAW (AF_XDP sockets)";
	if (!HAS(CAP_NET_ADMIN))
		return "CAP_NET_ADMIN (attaching XDP programs)";
	if (!HAS(CAP_BPF) && !HAS(CAP_SYS_ADMIN))
		return "CAP_BPF (loading XDP programs and maps)";
#undef HAS
	return NULL;
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int check_ring(const char *what, uint32_t *size, struct umem_err *err)
{
	if (!*size)
		*size = UMEM_XSK_RING_DEFAULT;
	if (*size & (*size - 1))
		return fail(err, -EINVAL, "%s ring size %u is not a power of two", what, *size);
	return 0;
}

static int check_config(struct umem_xsk_config *c, struct umem_err *err)
{
	int e;

	if (!c->ifname || !c->ifname[0] || strlen(c->ifname) >= IF_NAMESIZE)
		return fail(err, -EINVAL, "no interface name, or one longer than %d bytes",
			    IF_NAMESIZE - 1);
	if ((unsigned)c->mode > UMEM_XSK_MODE_COPY || (unsigned)c->attach > UMEM_XSK_ATTACH_SKB)
		return fail(err, -EINVAL, "unknown mode or attach option");
	if (c->mode == UMEM_XSK_MODE_ZEROCOPY && c->attach == UMEM_XSK_ATTACH_SKB)
		return fail(err, -EINVAL, "zero-copy needs native XDP, not skb attach");
	if (c->n_ipv4 > UMEM_XSK_MAX_ADDRS || c->n_ipv6 > UMEM_XSK_MAX_ADDRS)
		return fail(err, -EINVAL, "more than %d IPv4 or IPv6 addresses",
			    UMEM_XSK_MAX_ADDRS);
	for (unsigned i = 0; i < c->n_ipv6; i++)
		if (c->ipv6[i][0] == 0xff)
			return fail(err, -EINVAL, "IPv6 address %u is multicast", i);
	if (c->mac[0] & 1)
		return fail(err, -EINVAL, "the stack's MAC is a group address");
	if (!c->busy_poll_budget)
		c->busy_poll_budget = UMEM_XSK_BUSY_POLL_BUDGET_DEFAULT;
	if ((e = check_ring("rx", &c->rx_size, err)) || (e = check_ring("tx", &c->tx_size, err)) ||
	    (e = check_ring("fill", &c->fill_size, err)) ||
	    (e = check_ring("completion", &c->comp_size, err)))
		return e;
	return 0;
}

/* Checks what can be checked before touching the interface: that it
 * exists, has the queue, and that we may use AF_XDP and XDP on it. */
static int check_interface(struct umem_xsk *x, const struct umem_xsk_config *c, uint8_t mac[6],
			   struct umem_err *err)
{
	const char *caps;
	unsigned queues;
	int sk, e = 0;

	x->ifindex = (int)if_nametoindex(c->ifname);
	if (!x->ifindex)
		return fail(err, -ENODEV, "no interface named '%s' in this network namespace",
			    c->ifname);
	sk = socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return fail(err, -errno, "socket: %s", strerror(errno));
	queues = queue_count(sk, c->ifname, x->ifindex);
	if (queues && c->queue >= queues) {
		e = fail(err, -EINVAL, "queue %u out of range: %s has %u queue%s", c->queue,
			 c->ifname, queues, queues == 1 ? "" : "s");
		goto out_close;
	}
	caps = missing_caps();
	if (caps) {
		e = fail(err, -EPERM, "not privileged: AF_XDP on %s needs %s", c->ifname, caps);
		goto out_close;
	}
	if (is_zero(c->mac, 6)) {
		e = read_mac(sk, c->ifname, mac);
		if (e)
			fail(err, e, "%s: cannot read its MAC address: %s", c->ifname,
			     strerror(-e));
	} else {
		memcpy(mac, c->mac, 6);
	}
out_close:
	close(sk);
	return e;
}

static int attach(struct umem_xsk *x, const struct umem_xsk_config *c, struct umem_err *err)
{
	int e;

	e = clear_leftover(x, err);
	if (e)
		return e;
	if (c->attach != UMEM_XSK_ATTACH_SKB) {
		e = attach_prog(x, c, true);
		if (!e || e == -EPERM || c->attach == UMEM_XSK_ATTACH_NATIVE)
			return e ? attach_error(x, err, e, "native") : 0;
		/* Zero-copy is a driver (native) feature: without native XDP
		 * there is nothing to fall back to. */
		if (c->mode == UMEM_XSK_MODE_ZEROCOPY)
			return fail(err, -EOPNOTSUPP,
				    "%s: zero-copy needs native XDP, which the driver refused: %s",
				    x->ifname, strerror(-e));
	}
	e = attach_prog(x, c, false);
	return e ? attach_error(x, err, e, "skb") : 0;
}

/* Lets go of the UMEM registration: libxdp deletes it with its last
 * socket (-EBUSY before), and then the next port registers anew. */
static void release_umem(struct umem *u, struct umem_xsk *x)
{
	if (x->xumem && xsk_umem__delete(x->xumem) == 0 && *umem__shared(u) == x->xumem)
		*umem__shared(u) = NULL;
	x->xumem = NULL;
}

static int open_socket(struct umem_xsk *x, struct umem *u, const struct umem_xsk_config *c,
		       struct umem_err *err)
{
	struct umem_geometry g;
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	struct xdp_options opts = {0};
	socklen_t len = sizeof(opts);
	int e;

	umem_geometry(u, &g);
	/* A UMEM registered by an earlier port is shared (XDP_SHARED_UMEM):
	 * this socket brings its own fill and completion rings, and a frame
	 * may go out on any port without a copy. */
	x->xumem = *umem__shared(u);
	if (x->xumem)
		goto registered;
	ucfg = (struct xsk_umem_config){
		.fill_size = c->fill_size,
		.comp_size = c->comp_size,
		.frame_size = g.frame_size,
		.frame_headroom = g.headroom,
	};
	e = xsk_umem__create(&x->xumem, g.area, g.size, &x->fill, &x->comp, &ucfg);
	if (e == -EPERM)
		return fail(err, e, "not permitted to create an AF_XDP socket (needs CAP_NET_RAW)");
	if (e == -ENOMEM || e == -ENOBUFS)
		return fail(err, e,
			    "cannot register the UMEM (%llu bytes): raise RLIMIT_MEMLOCK or grant "
			    "CAP_IPC_LOCK",
			    (unsigned long long)g.size);
	if (e)
		return fail(err, e, "registering the UMEM with AF_XDP failed: %s", strerror(-e));

registered:
	/* No mode flag asks the kernel for zero-copy with a fallback to copy
	 * (what AUTO means); generic XDP can only feed a copy-mode socket. */
	scfg = (struct xsk_socket_config){
		.rx_size = c->rx_size,
		.tx_size = c->tx_size,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	};
	if (c->mode == UMEM_XSK_MODE_ZEROCOPY)
		scfg.bind_flags |= XDP_ZEROCOPY;
	else if (c->mode == UMEM_XSK_MODE_COPY || !x->native)
		scfg.bind_flags |= XDP_COPY;
	if (c->need_wakeup)
		scfg.bind_flags |= XDP_USE_NEED_WAKEUP;
	/* A socket closed a moment ago keeps the queue until the kernel
	 * releases its buffer pool from a workqueue: EBUSY for a short while
	 * after a destroy, so wait for it rather than fail a quick re-create. */
	for (unsigned ms = 0;; ms += UMEM_XSK_BUSY_STEP_MS) {
		/* A sharing socket takes the first one's mode and wakeup
		 * flags (the kernel refuses its own). */
		e = xsk_socket__create_shared(&x->sock, c->ifname, c->queue, x->xumem, &x->rx,
					      &x->tx, &x->fill, &x->comp, &scfg);
		if (e != -EBUSY || ms >= UMEM_XSK_BUSY_WAIT_MS)
			break;
		usleep(UMEM_XSK_BUSY_STEP_MS * 1000);
	}
	if (e) {
		x->sock = NULL;
		if (e == -EOPNOTSUPP && c->mode == UMEM_XSK_MODE_ZEROCOPY)
			fail(err, e,
			     "%s: the driver refused zero-copy AF_XDP (veth and generic XDP only "
			     "do copy mode): use copy or auto mode",
			     c->ifname);
		else if (e == -EBUSY)
			fail(err, e, "%s queue %u already has an AF_XDP socket (or zero-copy user)",
			     c->ifname, c->queue);
		else if (e == -EINVAL)
			fail(err, e,
			     "%s refused to bind queue %u (queue out of range or bad ring "
			     "sizes)",
			     c->ifname, c->queue);
		else
			fail(err, e, "%s: binding the AF_XDP socket to queue %u failed: %s",
			     c->ifname, c->queue, strerror(-e));
		goto out_delete_umem;
	}
	x->sock_fd = xsk_socket__fd(x->sock);
	if (getsockopt(x->sock_fd, SOL_XDP, XDP_OPTIONS, &opts, &len) == 0)
		x->zerocopy = opts.flags & XDP_OPTIONS_ZEROCOPY;
	*umem__shared(u) = x->xumem;
	return 0;

out_delete_umem:
	release_umem(u, x);
	return e;
}

static int set_busy_poll(struct umem_xsk *x, const struct umem_xsk_config *c, struct umem_err *err)
{
	int one = 1, usecs = UMEM_XSK_BUSY_POLL_USECS, budget = (int)c->busy_poll_budget;

	if (setsockopt(x->sock_fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
	    setsockopt(x->sock_fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) ||
	    setsockopt(x->sock_fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget))) {
		int e = errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;

		return fail(err, e, "busy-poll socket options refused: %s", strerror(-e));
	}
	x->busy_poll = true;
	return 0;
}

/* libbpf and libxdp report on stderr by default, which a server's users
 * would read as skiff's own output. While we call them, their messages are
 * kept (the last warning explains a failure better than an errno) and go
 * to stderr only with SKIFF_VERBOSE set. */
static char lib_last_msg[160];

static void lib_note(bool warn, const char *fmt, va_list ap)
{
	va_list copy;
	size_t n;

	if (getenv("SKIFF_VERBOSE")) {
		va_copy(copy, ap);
		vfprintf(stderr, fmt, copy);
		va_end(copy);
	}
	if (!warn)
		return;
	vsnprintf(lib_last_msg, sizeof(lib_last_msg), fmt, ap);
	n = strlen(lib_last_msg);
	while (n && (lib_last_msg[n - 1] == '\n' || lib_last_msg[n - 1] == ' '))
		lib_last_msg[--n] = '\0';
}

static int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_DEBUG)
		lib_note(level == LIBBPF_WARN, fmt, ap);
	return 0;
}

static int log_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBXDP_DEBUG)
		lib_note(level == LIBXDP_WARN, fmt, ap);
	return 0;
}

static int open_port(struct umem_port **out, struct umem *u, const struct umem_xsk_config *cfg,
		     struct umem_err *err);

int umem_xsk_create(struct umem_port **out, struct umem *u, const struct umem_xsk_config *cfg,
		    struct umem_err *err)
{
	libbpf_print_fn_t old_bpf = libbpf_set_print(log_libbpf);
	libxdp_print_fn_t old_xdp = libxdp_set_print(log_libxdp);
	int e;

	lib_last_msg[0] = '\0';
	e = open_port(out, u, cfg, err);
	libxdp_set_print(old_xdp);
	libbpf_set_print(old_bpf);
	if (e && err && lib_last_msg[0]) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n, " (libbpf/libxdp: %s)", lib_last_msg);
	}
	return e;
}

static int open_port(struct umem_port **out, struct umem *u, const struct umem_xsk_config *cfg,
		     struct umem_err *err)
{
	struct umem_xsk_config c;
	struct umem_port *p;
	struct umem_xsk *x;
	uint8_t mac[6];
	int e;

	if (err)
		err->msg[0] = '\0';
	if (!out || !u || !cfg)
		return fail(err, -EINVAL, "umem_xsk_create: NULL argument");
	*out = NULL;
	c = *cfg;
	e = check_config(&c, err);
	if (e)
		return e;

	p = calloc(1, sizeof(*p));
	x = calloc(1, sizeof(*x));
	if (!p || !x) {
		free(x);
		free(p);
		return fail(err, -ENOMEM, "out of memory");
	}
	x->sock_fd = x->xsks_fd = x->verdicts_fd = x->link_fd = -1;
	x->queue = c.queue;
	x->need_wakeup = c.need_wakeup;
	snprintf(x->ifname, sizeof(x->ifname), "%s", c.ifname);
	e = check_interface(x, &c, mac, err);
	if (e)
		goto out_free;

	p->ops = &afxdp_ops;
	p->umem = u;
	p->backend = x;
	e = umem__attach_port(u, p);
	if (e) {
		fail(err, e, "the UMEM has %u ports already, or a port that does not share it",
		     UMEM_MAX_PORTS);
		goto out_free;
	}

	e = attach(x, &c, err);
	if (e)
		goto out_detach_port;
	e = fill_maps(x, &c, mac);
	if (e) {
		fail(err, e, "configuring skiff's XDP program failed: %s", strerror(-e));
		goto out_detach_prog;
	}
	e = open_socket(x, u, &c, err);
	if (e)
		goto out_detach_prog;
	if (c.busy_poll) {
		e = set_busy_poll(x, &c, err);
		if (e)
			goto out_delete_socket;
	}
	/* Last: from here on the program hands the socket its frames. */
	if (bpf_map_update_elem(x->xsks_fd, &x->queue, &x->sock_fd, BPF_ANY)) {
		e = fail(err, -errno, "adding the socket to the XSKMAP failed: %s",
			 strerror(errno));
		goto out_delete_socket;
	}
	*out = p;
	return 0;

out_delete_socket:
	xsk_socket__delete(x->sock);
	release_umem(u, x); /* open_socket() made or shared it */
out_detach_prog:
	close_prog(x);
out_detach_port:
	umem__detach_port(u, p);
out_free:
	free(x);
	free(p);
	return e;
}

/* Releases everything but p (port.c returns the ring frames and frees p). */
static void port_destroy(struct umem_port *p)
{
	struct umem_xsk *x = state(p);
	uint32_t q = x->queue;

	libbpf_print_fn_t old_bpf = libbpf_set_print(log_libbpf);
	libxdp_print_fn_t old_xdp = libxdp_set_print(log_libxdp);

	/* Traffic back to the kernel first, then the socket can go. */
	bpf_map_delete_elem(x->xsks_fd, &q);
	close_prog(x);
	libxdp_set_print(old_xdp);
	libbpf_set_print(old_bpf);
	xsk_socket__delete(x->sock);
	release_umem(p->umem, x);
	free(x);
	p->backend = NULL;
}

bool umem_xsk_is_zerocopy(const struct umem_port *p)
{
	return p && p->ops == &afxdp_ops && state(p)->zerocopy;
}

bool umem_xsk_is_native(const struct umem_port *p)
{
	return p && p->ops == &afxdp_ops && state(p)->native;
}

uint32_t umem_xsk_prog_id(const struct umem_port *p)
{
	if (!p || p->ops != &afxdp_ops)
		return 0;
	return state(p)->prog_id;
}

static const struct umem_port_ops afxdp_ops = {
	.shares = true,
	.name = "xsk",
	.rx = port_rx,
	.tx = port_tx,
	.flush = port_flush,
	.complete = port_complete,
	.fill = port_fill,
	.fill_level = port_fill_level,
	.fd = port_fd,
	.get_stats = port_stats,
	.destroy = port_destroy,
};
