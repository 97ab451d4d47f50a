/*
 * skiff-run: runs an unmodified program with its TCP/UDP sockets on skiff
 * (LD_PRELOAD=libskiff-preload.so; docs/preload.md).
 *
 *   skiff-run [options] -- CMD [ARGS...]
 *
 * Every option is also an environment variable (the option wins); the
 * launcher checks what it can before the program starts (root, the
 * interface, the address), exports the variables, puts the library in
 * front of LD_PRELOAD and execs CMD.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <libgen.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char usage[] =
	"usage: skiff-run [options] -- CMD [ARGS...]\n"
	"Runs CMD with its sockets on skiff (docs/preload.md). Each option is also an\n"
	"environment variable, named beside it.\n"
	"  -i, --interface IF     interface skiff takes (SKIFF_IF)              [required]\n"
	"  -a, --ip ADDR/PREFIX   skiff's IPv4 address (SKIFF_IP)                [required]\n"
	"  -6, --ip6 ADDR/PREFIX  skiff's IPv6 address (SKIFF_IP6; prefix default 64)\n"
	"  -g, --gw ADDR          IPv4 gateway (SKIFF_GW)\n"
	"      --gw6 ADDR         IPv6 gateway, with --ip6 (SKIFF_GW6)\n"
	"  -q, --queue N          NIC queue (SKIFF_QUEUE, default 0)\n"
	"  -m, --xdp-mode MODE    auto, copy, zerocopy or skb (SKIFF_XDP_MODE)\n"
	"  -p, --ports LIST       wildcard binds on these ports go to skiff: 80,8000-8100\n"
	"                         or all (SKIFF_PORTS; default none: only binds to\n"
	"                         skiff's address)\n"
	"      --spin-us N        busy-poll N us before sleeping (SKIFF_SPIN_US, 0)\n"
	"      --tick-ms N        background ticker period (SKIFF_TICK_MS, 2; 0: off)\n"
	"      --fork MODE        which side of a fork() keeps skiff: auto, parent or\n"
	"                         child (SKIFF_FORK, auto: the child when the parent\n"
	"                         has only listeners and never served one, as nginx's\n"
	"                         master; else the parent)\n"
	"      --preload PATH     the library (SKIFF_PRELOAD; default: beside skiff-run)\n"
	"  -v, --verbose          say what goes to skiff (SKIFF_PRELOAD_DEBUG=1)\n"
	"  -h, --help\n";

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("skiff-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

static void set(const char *name, const char *val)
{
	if (val)
		setenv(name, val, 1);
}

/* The library: --preload, $SKIFF_PRELOAD, then beside this program
 * (installed: ../lib/, build tree: ../lib/ of the build). */
static const char *find_library(const char *given, char *buf, size_t len)
{
	static const char *rel[] = {"libskiff-preload.so", "../lib/libskiff-preload.so",
				    "../lib64/libskiff-preload.so",
				    "../lib/x86_64-linux-gnu/libskiff-preload.so"};
	char self[PATH_MAX], *dir;
	ssize_t n;

	if (given) {
		if (access(given, R_OK))
			die("--preload %s: no such readable file", given);
		return realpath(given, buf) ? buf : given;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		die("cannot find where skiff-run is (give --preload PATH)");
	self[n] = 0;
	dir = dirname(self);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s", dir, rel[i]);
		if (access(p, R_OK) == 0 && realpath(p, buf))
			return buf;
	}
	(void)len;
	die("libskiff-preload.so is not beside %s nor in ../lib (give --preload PATH or "
	    "SKIFF_PRELOAD)",
	    dir);
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{"interface", required_argument, NULL, 'i'},
		{"ip", required_argument, NULL, 'a'},
		{"ip6", required_argument, NULL, '6'},
		{"gw6", required_argument, NULL, 'G'},
		{"gw", required_argument, NULL, 'g'},
		{"queue", required_argument, NULL, 'q'},
		{"xdp-mode", required_argument, NULL, 'm'},
		{"ports", required_argument, NULL, 'p'},
		{"spin-us", required_argument, NULL, 'S'},
		{"tick-ms", required_argument, NULL, 'T'},
		{"fork", required_argument, NULL, 'F'},
		{"preload", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *preload = getenv("SKIFF_PRELOAD");
	char lib[PATH_MAX], *ld;
	const char *ifname, *ip, *v;
	int c;

	while ((c = getopt_long(argc, argv, "+i:a:6:g:q:m:p:vh", longs, NULL)) != -1) {
		switch (c) {
		case 'i':
			set("SKIFF_IF", optarg);
			break;
		case 'a':
			set("SKIFF_IP", optarg);
			break;
		case '6':
			set("SKIFF_IP6", optarg);
			break;
		case 'g':
			set("SKIFF_GW", optarg);
			break;
		case 'G':
			set("SKIFF_GW6", optarg);
			break;
		case 'q':
			set("SKIFF_QUEUE", optarg);
			break;
		case 'm':
			set("SKIFF_XDP_MODE", optarg);
			break;
		case 'p':
			set("SKIFF_PORTS", optarg);
			break;
		case 'S':
			set("SKIFF_SPIN_US", optarg);
			break;
		case 'T':
			set("SKIFF_TICK_MS", optarg);
			break;
		case 'F':
			set("SKIFF_FORK", optarg);
			break;
		case 'P':
			preload = optarg;
			break;
		case 'v':
			set("SKIFF_PRELOAD_DEBUG", "1");
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		die("no command to run (skiff-run [options] -- CMD [ARGS...]; try --help)");

	ifname = getenv("SKIFF_IF");
	ip = getenv("SKIFF_IP");
	if (!ifname || !*ifname)
		die("no interface: give -i IF or SKIFF_IF");
	if (!ip || !*ip)
		die("no address: give --ip ADDR/PREFIX or SKIFF_IP (skiff's own IPv4 address, "
		    "e.g. 10.0.0.2/24)");
	{
		char a[64], *slash;
		struct in_addr in;
		long pfx = 24;

		snprintf(a, sizeof(a), "%s", ip);
		if ((slash = strchr(a, '/'))) {
			*slash = 0;
			pfx = strtol(slash + 1, NULL, 10);
		}
		if (inet_pton(AF_INET, a, &in) != 1 || pfx < 1 || pfx > 32)
			die("SKIFF_IP '%s' is not an IPv4 ADDR/PREFIX (e.g. 10.0.0.2/24)", ip);
	}
	if ((v = getenv("SKIFF_IP6")) && *v) {
		char a[80], *slash;
		struct in6_addr in6;
		long pfx = 64;

		snprintf(a, sizeof(a), "%s", v);
		if ((slash = strchr(a, '/'))) {
			*slash = 0;
			pfx = strtol(slash + 1, NULL, 10);
		}
		if (inet_pton(AF_INET6, a, &in6) != 1 || pfx < 1 || pfx > 128)
			die("SKIFF_IP6 '%s' is not an IPv6 ADDR/PREFIX (e.g. fd00::2/64)", v);
	}
	if ((v = getenv("SKIFF_GW")) && *v) {
		struct in_addr in;

		if (inet_pton(AF_INET, v, &in) != 1)
			die("SKIFF_GW '%s' is not an IPv4 address", v);
	}
	if ((v = getenv("SKIFF_GW6")) && *v) {
		struct in6_addr in6;

		if (inet_pton(AF_INET6, v, &in6) != 1)
			die("SKIFF_GW6 '%s' is not an IPv6 address", v);
		if (!(v = getenv("SKIFF_IP6")) || !*v)
			die("SKIFF_GW6 needs SKIFF_IP6 (--ip6): skiff has no IPv6 address to route from");
	}
	if ((v = getenv("SKIFF_XDP_MODE")) && strcmp(v, "auto") && strcmp(v, "copy") &&
	    strcmp(v, "zerocopy") && strcmp(v, "skb"))
		die("SKIFF_XDP_MODE '%s': auto, copy, zerocopy or skb", v);
	if ((v = getenv("SKIFF_FORK")) && *v && strcmp(v, "auto") && strcmp(v, "parent") &&
	    strcmp(v, "child"))
		die("SKIFF_FORK '%s': auto, parent or child", v);
	if (geteuid() != 0)
		die("skiff needs root (CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW) to attach to %s: run "
		    "as root",
		    ifname);
	if (!if_nametoindex(ifname))
		die("no interface %s in this network namespace (ip link shows the ones there are)",
		    ifname);

	find_library(preload, lib, sizeof(lib));
	/* Ours first; a preload list the user had stays behind it. */
	if ((v = getenv("LD_PRELOAD")) && *v) {
		if (asprintf(&ld, "%s:%s", lib, v) < 0)
			die("out of memory");
	} else {
		ld = lib;
	}
	setenv("LD_PRELOAD", ld, 1);
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "skiff-run: cannot run %s: %m\n", argv[optind]);
	return 127;
}
