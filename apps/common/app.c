/* The demos' command line, checks and stop signals (app.h). */
#define _GNU_SOURCE
#include "app.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

volatile sig_atomic_t app_stop;
static void (*emergency_hook)(void);

enum {
	OPT_IP = 256,
	OPT_IP6,
	OPT_GW,
	OPT_STATS,
	OPT_CONNS,
	OPT_REQUESTS,
	OPT_SIZE,
	OPT_SEED,
	OPT_MEMLINK,
	OPT_PCAP,
	OPT_PCAP_SNAPLEN,
	OPT_PCAP_MAX,
	OPT_PCAP_FILES,
	OPT_MPTCP,
	OPT_ALSO,
};

static const struct option long_opts[] = {
	{"interface", required_argument, NULL, 'i'},
	{"queue", required_argument, NULL, 'q'},
	{"ip", required_argument, NULL, OPT_IP},
	{"ip6", required_argument, NULL, OPT_IP6},
	{"gw", required_argument, NULL, OPT_GW},
	{"port", required_argument, NULL, 'p'},
	{"zero-copy", no_argument, NULL, 'z'},
	{"copy", no_argument, NULL, 'c'},
	{"xdp-skb", no_argument, NULL, 'S'},
	{"busy-poll", no_argument, NULL, 'B'},
	{"stats", required_argument, NULL, OPT_STATS},
	{"upstream", required_argument, NULL, 'u'},
	{"conns", required_argument, NULL, OPT_CONNS},
	{"requests", required_argument, NULL, OPT_REQUESTS},
	{"size", required_argument, NULL, OPT_SIZE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"memlink", no_argument, NULL, OPT_MEMLINK},
	{"pcap", required_argument, NULL, OPT_PCAP},
	{"pcap-snaplen", required_argument, NULL, OPT_PCAP_SNAPLEN},
	{"pcap-max", required_argument, NULL, OPT_PCAP_MAX},
	{"pcap-files", required_argument, NULL, OPT_PCAP_FILES},
	{"mptcp", no_argument, NULL, OPT_MPTCP},
	{"also", required_argument, NULL, OPT_ALSO},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage(const struct app_opts *o)
{
	bool proxy = o->kind == APP_PROXY;

	printf("Usage: %s [OPTIONS]\n", o->prog);
	if (proxy)
		printf("A TCP proxy on skiff: accepts on skiff, connects upstream through skiff, and\n"
		       "moves the data both ways over skiff's zero-copy receive and send paths.\n");
	else
		printf("A TCP echo server on skiff, the user-space TCP/IP stack over AF_XDP.\n");
	printf("\nWithout -i it runs its embedded default: it builds its own testbed (network\n"
	       "namespaces and a veth pair), runs skiff on one end and drives it from the other\n"
	       "with Linux TCP clients%s, verifies every byte, prints requests/s,\n"
	       "latency and throughput and a verdict line, and tears the testbed down. Without\n"
	       "root or AF_XDP it runs the same job between two skiff processes over a memlink.\n"
	       "Exit status: 0 PASS, 1 FAIL, 2 bad use.\n\n",
	       proxy ? " (through the proxy to a Linux echo server)" : "");
	printf("Serving on an interface:\n"
	       "  -i, --interface IFACE  run on IFACE (needs root)\n"
	       "  -q, --queue N          the interface's queue (default 0)\n"
	       "      --ip ADDR/PREFIX   skiff's IPv4 address, not the kernel's (e.g. 10.0.0.2/24)\n"
	       "      --ip6 ADDR/PREFIX  skiff's IPv6 address (e.g. fd00::2/64)\n"
	       "      --gw ADDR          default gateway (IPv4 or IPv6)\n"
	       "      --also IFACE=ADDR/PREFIX[,gw=GW][,subflow]  one more port: IFACE with\n"
	       "                         skiff's IPv4 address ADDR there (up to 3; MPTCP\n"
	       "                         connections accepted announce them); gw=: that\n"
	       "                         port's gateway; subflow: MPTCP connections skiff\n"
	       "                         opens add a subflow from it (Linux's subflow endpoint)\n"
	       "  -p, --port PORT        listen on PORT (default %u)\n",
	       proxy ? 8080 : 7);
	if (proxy)
		printf("  -u, --upstream HOST:PORT  where connections go ([ADDR6]:PORT for IPv6)\n"
		       "      --mptcp            MPTCP (RFC 8684) both sides: accept IPPROTO_MPTCP\n"
		       "                         clients, connect upstream with MPTCP (peers without\n"
		       "                         it are served over plain TCP)\n");
	else
		printf("      --mptcp            MPTCP (RFC 8684): listen with IPPROTO_MPTCP (clients\n"
		       "                         without it are served over plain TCP)\n");
	printf("  -z, --zero-copy        force AF_XDP zero-copy mode (fail if refused)\n"
	       "  -c, --copy             force AF_XDP copy mode (default: zero-copy if the driver can)\n"
	       "  -S, --xdp-skb          attach the XDP program in generic (skb) mode\n"
	       "  -B, --busy-poll        busy-poll: spin instead of sleeping\n"
	       "      --stats SECONDS    print counters every SECONDS (default 1; 0: only totals)\n"
	       "      --pcap FILE        capture every frame skiff receives and sends into FILE\n"
	       "                         (pcap, nanosecond timestamps; %%p in FILE: the pid)\n"
	       "      --pcap-snaplen N   keep N bytes of each frame (default all)\n"
	       "      --pcap-max SIZE    rotate FILE past SIZE bytes (k, M, G: KiB, MiB, GiB)\n"
	       "      --pcap-files N     files kept when rotating, FILE.1 ... (default 2)\n"
	       "\nThe embedded default's load:\n"
	       "      --conns N          connections (default 64)\n"
	       "      --requests M       requests per connection (default 1000)\n"
	       "      --size MIN-MAX     request sizes in bytes, uniformly random (default 1-16384)\n"
	       "      --seed S           seed for sizes and payloads (default 1)\n"
	       "      --memlink          use the memlink fallback even where AF_XDP works\n"
	       "  -h, --help             this text\n");
}

void app_usage_error(const struct app_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", o->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", o->prog);
	exit(APP_EXIT_USAGE);
}

static unsigned long long parse_uint(const struct app_opts *o, const char *opt, const char *s,
				     unsigned long long min, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		app_usage_error(o, "%s: '%s' is not a number from %llu to %llu", opt, s, min, max);
	return v;
}

/* "ADDR[/PREFIX]" of @p family into @p addr; the prefix defaults to 24 or 64. */
static uint8_t parse_cidr(const struct app_opts *o, const char *opt, const char *s, int family,
			  void *addr)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned max = family == AF_INET ? 32 : 128;
	char *slash;
	unsigned long long prefix = family == AF_INET ? 24 : 64;

	if (strlen(s) >= sizeof(buf))
		app_usage_error(o, "%s: '%s' is not an address", opt, s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		prefix = parse_uint(o, opt, slash + 1, 1, max);
	}
	if (inet_pton(family, buf, addr) != 1)
		app_usage_error(o, "%s: '%s' is not an %s address%s", opt, buf,
				family == AF_INET ? "IPv4" : "IPv6",
				family == AF_INET ? " (use --ip6 for IPv6)" : "");
	return (uint8_t)prefix;
}

/* --also IFACE=ADDR/PREFIX[,gw=GW][,subflow]: one more port. */
static void parse_also(struct app_opts *o, const char *s)
{
	struct skiff_port_config *p;
	const char *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : 0;
	char *rest, *item, *save = NULL;

	if (o->n_also == SKIFF_MAX_PORTS - 1)
		app_usage_error(o, "--also: at most %d more ports", SKIFF_MAX_PORTS - 1);
	if (!eq || !n || n >= IF_NAMESIZE)
		app_usage_error(o, "--also: '%s' is not IFACE=ADDR/PREFIX", s);
	p = &o->also[o->n_also];
	p->ifname = strndup(s, n);
	rest = strdup(eq + 1);
	if (!p->ifname || !rest)
		app_usage_error(o, "--also: out of memory");
	item = strtok_r(rest, ",", &save);
	if (!item)
		app_usage_error(o, "--also: '%s' is not IFACE=ADDR/PREFIX", s);
	p->ipv4_prefix = parse_cidr(o, "--also", item, AF_INET, &p->ipv4);
	while ((item = strtok_r(NULL, ",", &save))) {
		if (strncmp(item, "gw=", 3) == 0) {
			if (inet_pton(AF_INET, item + 3, &p->ipv4_gateway) != 1)
				app_usage_error(o, "--also: gw='%s' is not an IPv4 address",
						item + 3);
		} else if (strcmp(item, "subflow") == 0) {
			p->mptcp_subflow = true;
		} else {
			app_usage_error(
				o, "--also: '%s': only gw=ADDR and subflow may follow the address",
				item);
		}
	}
	free(rest);
	o->n_also++;
}

static void parse_gw(struct app_opts *o, const char *s)
{
	if (inet_pton(AF_INET, s, &o->gw4) == 1)
		o->have_gw4 = true;
	else if (inet_pton(AF_INET6, s, o->gw6) == 1)
		o->have_gw6 = true;
	else
		app_usage_error(o, "--gw: '%s' is not an IPv4 or IPv6 address", s);
}

/* "HOST:PORT" or "[ADDR6]:PORT"; HOST may be a name (resolved here, by the
 * host's resolver). */
static void parse_upstream(struct app_opts *o, const char *s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	char host[256];
	const char *port;
	struct addrinfo *res;
	size_t hlen;
	int rc;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			app_usage_error(o, "--upstream: '%s' is not [ADDR6]:PORT", s);
		hlen = (size_t)(close - s - 1);
		memcpy(host, s + 1, hlen < sizeof(host) ? hlen : 0);
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon || strchr(s, ':') != colon)
			app_usage_error(o, "--upstream: '%s' is not HOST:PORT", s);
		hlen = (size_t)(colon - s);
		memcpy(host, s, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (!hlen || hlen >= sizeof(host))
		app_usage_error(o, "--upstream: '%s' has no host", s);
	host[hlen] = '\0';
	parse_uint(o, "--upstream", port, 1, 65535);
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		app_usage_error(o, "--upstream: cannot resolve '%s': %s", host, gai_strerror(rc));
	memcpy(&o->upstream, res->ai_addr, res->ai_addrlen);
	o->upstream_len = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(o->upstream_str, sizeof(o->upstream_str), "%s", s);
}

/* "4096", "64k", "10M", "1G" (powers of 1024), at least 4 KiB. */
static uint64_t parse_size_bytes(const struct app_opts *o, const char *opt, const char *s)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (errno || end == s || *end || s[0] == '-' || v > (1ull << 40) >> shift ||
	    (v << shift) < 4096)
		app_usage_error(o, "%s: '%s' is not a size from 4k to 1024G (e.g. 64k, 10M)", opt,
				s);
	return (uint64_t)v << shift;
}

static void parse_size(struct app_opts *o, const char *s)
{
	char buf[64];
	char *dash;

	if (strlen(s) >= sizeof(buf))
		app_usage_error(o, "--size: '%s' is not MIN-MAX", s);
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	o->min_size = (uint32_t)parse_uint(o, "--size", buf, 1, 1u << 24);
	o->max_size = dash ? (uint32_t)parse_uint(o, "--size", dash + 1, 1, 1u << 24) : o->min_size;
	if (o->min_size > o->max_size)
		app_usage_error(o, "--size: MIN %u is larger than MAX %u", o->min_size,
				o->max_size);
}

void app_parse(int argc, char **argv, enum app_kind kind, struct app_opts *o)
{
	const char *base = strrchr(argv[0], '/');
	const char *embedded_only = NULL, *iface_only = NULL;
	int c;

	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->prog = base ? base + 1 : argv[0];
	o->port = kind == APP_PROXY ? 8080 : 7;
	o->stats_s = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:q:p:u:zcSBh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (!optarg[0] || strlen(optarg) >= IF_NAMESIZE)
				app_usage_error(o, "-i: '%s' is not an interface name", optarg);
			o->ifname = optarg;
			break;
		case 'q':
			o->queue = (uint32_t)parse_uint(o, "-q", optarg, 0, UINT32_MAX);
			o->queue_set = true;
			iface_only = "-q";
			break;
		case OPT_IP:
			o->prefix4 = parse_cidr(o, "--ip", optarg, AF_INET, &o->ip4);
			o->have_ip4 = true;
			iface_only = "--ip";
			break;
		case OPT_IP6:
			o->prefix6 = parse_cidr(o, "--ip6", optarg, AF_INET6, o->ip6);
			o->have_ip6 = true;
			iface_only = "--ip6";
			break;
		case OPT_GW:
			parse_gw(o, optarg);
			iface_only = "--gw";
			break;
		case 'p':
			o->port = (uint16_t)parse_uint(o, "-p", optarg, 1, 65535);
			break;
		case 'u':
			if (kind != APP_PROXY)
				app_usage_error(o,
						"unknown option '--upstream' (skiff-proxy has it)");
			parse_upstream(o, optarg);
			iface_only = "--upstream";
			break;
		case 'z':
			o->xdp_mode = SKIFF_XDP_ZEROCOPY;
			break;
		case 'c':
			o->xdp_mode = SKIFF_XDP_COPY;
			break;
		case 'S':
			o->xdp_skb = true;
			break;
		case 'B':
			o->busy_poll = true;
			break;
		case OPT_STATS:
			o->stats_s = (unsigned)parse_uint(o, "--stats", optarg, 0, 86400);
			break;
		case OPT_CONNS:
			o->conns = (unsigned)parse_uint(o, "--conns", optarg, 1, 4000);
			embedded_only = "--conns";
			break;
		case OPT_REQUESTS:
			o->requests = (unsigned)parse_uint(o, "--requests", optarg, 1, 100000000);
			embedded_only = "--requests";
			break;
		case OPT_SIZE:
			parse_size(o, optarg);
			embedded_only = "--size";
			break;
		case OPT_SEED:
			o->seed = parse_uint(o, "--seed", optarg, 1, ULLONG_MAX);
			embedded_only = "--seed";
			break;
		case OPT_MPTCP:
			o->mptcp = true;
			iface_only = "--mptcp";
			break;
		case OPT_ALSO:
			parse_also(o, optarg);
			iface_only = "--also";
			break;
		case OPT_MEMLINK:
			o->force_memlink = true;
			embedded_only = "--memlink";
			break;
		case OPT_PCAP:
			if (!optarg[0])
				app_usage_error(o, "--pcap: needs a file name");
			o->pcap_path = optarg;
			break;
		case OPT_PCAP_SNAPLEN:
			o->pcap_snaplen =
				(uint32_t)parse_uint(o, "--pcap-snaplen", optarg, 14, 65535);
			break;
		case OPT_PCAP_MAX:
			o->pcap_max_bytes = parse_size_bytes(o, "--pcap-max", optarg);
			break;
		case OPT_PCAP_FILES:
			o->pcap_files = (uint32_t)parse_uint(o, "--pcap-files", optarg, 1, 1000);
			break;
		case 'h':
			usage(o);
			exit(APP_EXIT_OK);
		case ':':
			if (optopt > 0 && optopt < 128)
				app_usage_error(o, "option '-%c' needs an argument", optopt);
			app_usage_error(o, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 128)
				app_usage_error(o, "unknown option '-%c'", optopt);
			app_usage_error(o, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		app_usage_error(o, "unexpected argument '%s'", argv[optind]);
	if (!o->pcap_path && (o->pcap_snaplen || o->pcap_max_bytes || o->pcap_files))
		app_usage_error(o,
				"--pcap-snaplen, --pcap-max and --pcap-files go with --pcap FILE");
	if (o->xdp_mode == SKIFF_XDP_ZEROCOPY && o->xdp_skb)
		app_usage_error(o, "-z and -S do not go together: zero-copy needs native XDP");
	if (o->ifname) {
		if (embedded_only)
			app_usage_error(o, "%s is for the embedded default, not with -i",
					embedded_only);
		if (!o->have_ip4 && !o->have_ip6)
			app_usage_error(o,
					"-i needs an address for skiff: --ip ADDR/PREFIX or --ip6 "
					"ADDR/PREFIX");
		if (kind == APP_PROXY && !o->upstream_len)
			app_usage_error(o, "-i needs --upstream HOST:PORT: where to proxy to");
		if ((o->have_gw4 && !o->have_ip4) || (o->have_gw6 && !o->have_ip6))
			app_usage_error(o, "--gw: skiff has no address of that family");
		if (kind == APP_PROXY && ((o->upstream.ss_family == AF_INET && !o->have_ip4) ||
					  (o->upstream.ss_family == AF_INET6 && !o->have_ip6)))
			app_usage_error(
				o, "--upstream %s: skiff has no %s address to reach it (%s)",
				o->upstream_str, o->upstream.ss_family == AF_INET ? "IPv4" : "IPv6",
				o->upstream.ss_family == AF_INET ? "--ip" : "--ip6");
	} else if (iface_only) {
		app_usage_error(o,
				"%s needs -i: without an interface the embedded default picks its "
				"own",
				iface_only);
	}
}

/* Queues of @p ifname: ethtool's channel count, else sysfs; 0 if unknown. */
static unsigned queue_count(const char *ifname)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr;
	char path[96];
	unsigned rx = 0, tx = 0;
	struct dirent *e;
	DIR *d;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s >= 0) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_data = (void *)&ch;
		if (ioctl(s, SIOCETHTOOL, &ifr) == 0) {
			unsigned n = (ch.rx_count > ch.tx_count ? ch.rx_count : ch.tx_count) +
				     ch.combined_count;

			close(s);
			if (n)
				return n;
		} else {
			close(s);
		}
	}
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

/* The kernel's interface that already has @p addr, or NULL. */
static const char *kernel_owner(int family, const void *addr, char *name, size_t len)
{
	struct ifaddrs *ifa, *i;
	const char *found = NULL;

	if (getifaddrs(&ifa) != 0)
		return NULL;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if ((family == AF_INET &&
		     !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, 4)) ||
		    (family == AF_INET6 &&
		     !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, 16))) {
			snprintf(name, len, "%s", i->ifa_name);
			found = name;
		}
	}
	freeifaddrs(ifa);
	return found;
}

void app_check_interface(const struct app_opts *o)
{
	char owner[IF_NAMESIZE], a[INET6_ADDRSTRLEN];
	unsigned queues;

	if (geteuid() != 0)
		app_usage_error(o,
				"-i %s needs root: AF_XDP sockets and XDP programs need "
				"CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF (without -i the embedded "
				"default runs unprivileged)",
				o->ifname);
	if (!if_nametoindex(o->ifname))
		app_usage_error(o,
				"unknown interface '%s': no such device in this network namespace",
				o->ifname);
	queues = queue_count(o->ifname);
	if (queues && o->queue >= queues)
		app_usage_error(o, "queue %u out of range: %s has %u queue%s (0..%u)", o->queue,
				o->ifname, queues, queues == 1 ? "" : "s", queues - 1);
	if (o->have_ip4 && kernel_owner(AF_INET, &o->ip4, owner, sizeof(owner)))
		app_usage_error(o,
				"address %s already in use: the kernel has it on %s; give skiff an "
				"address of its own",
				inet_ntop(AF_INET, &o->ip4, a, sizeof(a)), owner);
	if (o->have_ip6 && kernel_owner(AF_INET6, o->ip6, owner, sizeof(owner)))
		app_usage_error(o,
				"address %s already in use: the kernel has it on %s; give skiff an "
				"address of its own",
				inet_ntop(AF_INET6, o->ip6, a, sizeof(a)), owner);
	for (unsigned i = 0; i < o->n_also; i++) {
		const struct skiff_port_config *p = &o->also[i];

		if (!if_nametoindex(p->ifname))
			app_usage_error(o,
					"--also: unknown interface '%s': no such device in this "
					"network namespace",
					p->ifname);
		if (kernel_owner(AF_INET, &p->ipv4, owner, sizeof(owner)))
			app_usage_error(o,
					"--also: address %s already in use: the kernel has it on "
					"%s; give skiff an address of its own",
					inet_ntop(AF_INET, &p->ipv4, a, sizeof(a)), owner);
	}
}

void app_skiff_config(const struct app_opts *o, struct skiff_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backend = SKIFF_BACKEND_XSK;
	cfg->ifname = o->ifname;
	cfg->queue = o->queue;
	cfg->xdp_mode = o->xdp_mode;
	cfg->xdp_skb_mode = o->xdp_skb;
	cfg->busy_poll = o->busy_poll;
	if (o->have_ip4) {
		cfg->ipv4 = o->ip4;
		cfg->ipv4_prefix = o->prefix4;
	}
	if (o->have_gw4)
		cfg->ipv4_gateway = o->gw4;
	if (o->have_ip6) {
		memcpy(cfg->ipv6, o->ip6, 16);
		cfg->ipv6_prefix = o->prefix6;
	}
	if (o->have_gw6)
		memcpy(cfg->ipv6_gateway, o->gw6, 16);
	cfg->n_extra_ports = o->n_also;
	memcpy(cfg->extra_ports, o->also, sizeof(o->also));
	app_capture_config(o, cfg);
}

void app_capture_config(const struct app_opts *o, struct skiff_config *cfg)
{
	cfg->pcap_path = o->pcap_path;
	cfg->pcap_snaplen = o->pcap_snaplen;
	cfg->pcap_max_bytes = o->pcap_max_bytes;
	cfg->pcap_files = o->pcap_files;
}

int app_init_exit_code(int err)
{
	switch (err < 0 ? -err : err) {
	case ENODEV:
	case EINVAL:
	case EPERM:
	case EACCES:
	case EBUSY:
	case EADDRINUSE:
	case EADDRNOTAVAIL:
	case EOPNOTSUPP:
		return APP_EXIT_USAGE;
	default:
		return APP_EXIT_FAIL;
	}
}

static void on_stop(int sig)
{
	if (!app_stop) {
		app_stop = 1;
		return;
	}
	if (emergency_hook)
		emergency_hook();
	_exit(128 + sig);
}

void app_signals_install(void (*emergency)(void))
{
	struct sigaction sa;

	emergency_hook = emergency;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking wait returns EINTR and the loop sees the flag. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

const char *app_ip4_str(const struct app_opts *o, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	if (!o->have_ip4)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s/%u", inet_ntop(AF_INET, &o->ip4, a, sizeof(a)), o->prefix4);
	return buf;
}

const char *app_ip6_str(const struct app_opts *o, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!o->have_ip6)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s/%u", inet_ntop(AF_INET6, o->ip6, a, sizeof(a)), o->prefix6);
	return buf;
}
