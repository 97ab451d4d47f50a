/* The router namespace and its impairment helper (router.h), on the
 * testbed's namespaces, links and children. */
#define _GNU_SOURCE
#include "router.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NFQ_IMPAIR_PATH
#error "NFQ_IMPAIR_PATH: the path of tests/net's nfq_impair (CMake sets it)"
#endif

#define HELPER_ARGS_MAX 48
#define HELPER_READY_MS 5000
#define HELPER_STOP_MS	3000
#define STATS_WAIT_MS	2000
#define ARGS_MAX	1024

static const char *const iptables[] = {"iptables", "ip6tables"};
static const char *helper_path = NFQ_IMPAIR_PATH;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: router: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 for "ab", 1 for "ba", -1 otherwise. */
static int dir_index(const char *dir)
{
	if (dir && strcmp(dir, "ab") == 0)
		return 0;
	if (dir && strcmp(dir, "ba") == 0)
		return 1;
	return -1;
}

/* The router's interface a direction's packets come in by. */
static const char *in_if(const struct router *r, int d)
{
	return d == 0 ? r->if_ra : r->if_rb;
}

/* ---- the topology ----------------------------------------------------------------- */

static bool valid_tag(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;

	if (!n || n >= ROUTER_TAG_MAX)
		return false;
	for (const char *s = tag; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '-')
			return false;
	return true;
}

/* "10.91.0" + host into out; false unless it makes an IPv4 address. */
static bool host4(char *out, const char *net, int host)
{
	struct in_addr a;

	snprintf(out, INET_ADDRSTRLEN, "%s.%d", net, host);
	return inet_pton(AF_INET, out, &a) == 1;
}

static bool host6(char *out, const char *net, int host)
{
	size_t n = strlen(net);
	struct in6_addr a;

	if (n < 2 || strcmp(net + n - 2, "::") != 0)
		return false;
	snprintf(out, INET6_ADDRSTRLEN, "%s%d", net, host);
	return inet_pton(AF_INET6, out, &a) == 1;
}

static int addresses(struct router *r, const struct router_opts *o)
{
	const char *n4a = o->net4_a ? o->net4_a : "10.91.0";
	const char *n4b = o->net4_b ? o->net4_b : "10.91.1";
	const char *n6a = o->net6_a ? o->net6_a : "fd91::";
	const char *n6b = o->net6_b ? o->net6_b : "fd91:1::";

	if (!host4(r->a_ip4, n4a, 2) || !host4(r->ra_ip4, n4a, 1) || !host4(r->rb_ip4, n4b, 1) ||
	    !host4(r->b_ip4, n4b, 2) || !host6(r->a_ip6, n6a, 2) || !host6(r->ra_ip6, n6a, 1) ||
	    !host6(r->rb_ip6, n6b, 1) || !host6(r->b_ip6, n6b, 2)) {
		say("bad prefixes (\"10.91.0\" for a /24, \"fd91::\" for a /64)");
		return -EINVAL;
	}
	return 0;
}

/* @p ip with a prefix length, for tb_addr(). */
static int addr(const char *ns, const char *ifname, const char *ip, int plen)
{
	char cidr[INET6_ADDRSTRLEN + 8];

	snprintf(cidr, sizeof(cidr), "%s/%d", ip, plen);
	return tb_addr(ns, ifname, cidr);
}

int router_create(struct router *r, const char *tag, const struct router_opts *opts)
{
	static const struct router_opts defaults;
	const struct router_opts *o = opts ? opts : &defaults;
	char role[ROUTER_TAG_MAX + 4];
	int rc;

	memset(r, 0, sizeof(*r));
	if (!valid_tag(tag)) {
		say("bad tag '%s' (lower-case letters, digits, '-')", tag ? tag : "(null)");
		return -EINVAL;
	}
	snprintf(r->tag, sizeof(r->tag), "%s", tag);
	rc = addresses(r, o);
	if (rc)
		return rc;
	snprintf(role, sizeof(role), "%s-a", tag);
	rc = tb_ns_create(r->ns_a, sizeof(r->ns_a), role);
	snprintf(role, sizeof(role), "%s-r", tag);
	if (!rc)
		rc = tb_ns_create(r->ns_r, sizeof(r->ns_r), role);
	snprintf(role, sizeof(role), "%s-b", tag);
	if (!rc)
		rc = tb_ns_create(r->ns_b, sizeof(r->ns_b), role);
	/* Without duplicate address detection the links' own (link-local)
	 * addresses are usable at once: neighbour discovery needs them, and
	 * the first IPv6 packets would otherwise wait a second or two. */
	for (int i = 0; i < 3 && !rc; i++) {
		const char *ns = i == 0 ? r->ns_a : i == 1 ? r->ns_r : r->ns_b;

		rc = tb_sysctl(ns, "net/ipv6/conf/default/accept_dad", "0");
		if (!rc)
			rc = tb_sysctl(ns, "net/ipv6/conf/all/accept_dad", "0");
	}
	if (rc)
		goto out_destroy;
	/* tb_veth() turns TX checksum offload off on every end. */
	rc = tb_veth(r->ns_a, r->if_ar, r->ns_r, r->if_ra, "a", o->queues_a);
	if (!rc)
		rc = tb_veth(r->ns_r, r->if_rb, r->ns_b, r->if_br, "b", 1);
	if (rc)
		goto out_destroy;
	if ((rc = addr(r->ns_r, r->if_ra, r->ra_ip4, 24)) ||
	    (rc = addr(r->ns_r, r->if_ra, r->ra_ip6, 64)) ||
	    (rc = addr(r->ns_r, r->if_rb, r->rb_ip4, 24)) ||
	    (rc = addr(r->ns_r, r->if_rb, r->rb_ip6, 64)) ||
	    (rc = addr(r->ns_b, r->if_br, r->b_ip4, 24)) ||
	    (rc = addr(r->ns_b, r->if_br, r->b_ip6, 64)))
		goto out_destroy;
	if ((rc = tb_sysctl(r->ns_r, "net/ipv4/ip_forward", "1")) ||
	    (rc = tb_sysctl(r->ns_r, "net/ipv6/conf/all/forwarding", "1")) ||
	    (rc = tb_route_via(r->ns_b, r->ns_r, r->rb_ip4)) ||
	    (rc = tb_ip(r->ns_b, "-6", "route", "add", "default", "via", r->rb_ip6, (char *)NULL)))
		goto out_destroy;
	if (!o->a_bare && ((rc = addr(r->ns_a, r->if_ar, r->a_ip4, 24)) ||
			   (rc = addr(r->ns_a, r->if_ar, r->a_ip6, 64)) ||
			   (rc = tb_route_via(r->ns_a, r->ns_r, r->ra_ip4)) ||
			   (rc = tb_ip(r->ns_a, "-6", "route", "add", "default", "via", r->ra_ip6,
				       (char *)NULL))))
		goto out_destroy;
	return 0;

out_destroy:
	router_destroy(r);
	return rc;
}

void router_destroy(struct router *r)
{
	static const char *const dirs[2] = {"ab", "ba"};

	if (!r)
		return;
	for (int d = 0; d < 2; d++)
		if (r->nfq[d].pid > 0)
			router_unimpair(r, dirs[d], NULL);
	tb_ns_destroy(r->ns_a);
	tb_ns_destroy(r->ns_r);
	tb_ns_destroy(r->ns_b);
	memset(r, 0, sizeof(*r));
}

/* ---- the helper ------------------------------------------------------------------- */

struct helper_exec {
	char *argv[HELPER_ARGS_MAX];
	int out_fd; /* the write end of the "ready" pipe */
};

/* In the child tb_spawn() made inside r. */
static int helper_exec(void *arg)
{
	struct helper_exec *h = arg;

	if (dup2(h->out_fd, STDOUT_FILENO) < 0)
		return 126;
	execv(h->argv[0], h->argv);
	fprintf(stderr, "router: exec %s: %s\n", h->argv[0], strerror(errno));
	return 127;
}

/* Splits @p args (modified) into @p argv after @p n words; returns the
 * new count or -E2BIG. */
static int split_args(char *args, char **argv, int n)
{
	for (char *save = NULL, *w = strtok_r(args, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		if (n >= HELPER_ARGS_MAX - 5)
			return -E2BIG;
		argv[n++] = w;
	}
	return n;
}

/* Reads the helper's stdout until "ready"; 0, -ECHILD (it ended) or
 * -ETIMEDOUT. */
static int wait_ready(int fd)
{
	long long end = now_ms() + HELPER_READY_MS;
	char buf[256];
	size_t used = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (!p.revents)
			continue;
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -ECHILD;
		used += (size_t)n;
		buf[used] = '\0';
		if (strstr(buf, "ready\n"))
			return 0;
		if (used == sizeof(buf) - 1)
			used = 0;
	}
}

static int queue_rules(struct router *r, int d, bool add)
{
	int rc = 0;

	for (int f = 0; f < 2 && !rc; f++)
		rc = tb_run(r->ns_r,
			    "%s -w -t mangle -%c FORWARD -i %s -j NFQUEUE --queue-num %u "
			    "--queue-bypass",
			    iptables[f], add ? 'A' : 'D', in_if(r, d), r->nfq[d].queue);
	return rc ? -EIO : 0;
}

void router_set_helper(const char *path)
{
	helper_path = path ? path : NFQ_IMPAIR_PATH;
}

const char *router_helper_path(void)
{
	return helper_path;
}

int router_impair(struct router *r, const char *dir, const char *nfq_args)
{
	int d = dir_index(dir), pfd[2], n = 0, rc;
	struct router_nfq *q;
	struct helper_exec h;
	char args[ARGS_MAX], queue[16], path[sizeof(r->nfq[0].stats_path)];
	pid_t pid;

	if (d < 0 || !r->ns_r[0])
		return -EINVAL;
	q = &r->nfq[d];
	if (q->pid > 0)
		return -EBUSY;
	if (snprintf(args, sizeof(args), "%s", nfq_args ? nfq_args : "") >= (int)sizeof(args))
		return -E2BIG;
	q->queue = (unsigned)d;
	snprintf(queue, sizeof(queue), "%u", q->queue);
	/* Through a copy: gcc -O3 (-Wrestrict) cannot tell r->tag from q's path. */
	snprintf(path, sizeof(path), "/tmp/skiff-router-%d-%s-%s.stats", (int)getpid(), r->tag,
		 dir);
	memcpy(q->stats_path, path, sizeof(path));
	unlink(q->stats_path);
	memset(&h, 0, sizeof(h));
	h.argv[n++] = (char *)helper_path;
	n = split_args(args, h.argv, n);
	if (n < 0)
		return n;
	h.argv[n++] = "--queue";
	h.argv[n++] = queue;
	h.argv[n++] = "--stats";
	h.argv[n++] = q->stats_path;
	h.argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	h.out_fd = pfd[1];
	pid = tb_spawn(r->ns_r, helper_exec, &h);
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return pid;
	}
	rc = wait_ready(pfd[0]);
	close(pfd[0]);
	if (rc) {
		int st = tb_stop_child(pid, 500);

		say("nfq_impair %s (queue %u, %s): %s (exit status %d)", nfq_args ? nfq_args : "",
		    q->queue, dir, rc == -ECHILD ? "exited before it was ready" : strerror(-rc),
		    st);
		return rc;
	}
	q->pid = pid;
	q->rules = true;
	rc = queue_rules(r, d, true);
	if (rc)
		router_unimpair(r, dir, NULL);
	return rc;
}

/* Parses a stats file; false if it cannot be read. */
static bool read_counters(const char *path, struct router_counters *c, uint64_t *dumps)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
#define K(f) {#f, offsetof(struct router_counters, f)}
		K(packets),
		K(delayed),
		K(reordered),
		K(held),
		K(stripped),
		K(dropped),
		K(requeue_failed),
		K(enobufs),
		K(strip_skipped),
		K(waiting),
		K(kernel_queue_dropped),
		K(kernel_user_dropped),
		K(cpu_ms),
		K(late),
		K(late_max_us),
#undef K
	};
	char key[64];
	unsigned long long v;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	memset(c, 0, sizeof(*c));
	*dumps = 0;
	while (fscanf(f, "%63s %llu", key, &v) == 2) {
		if (strcmp(key, "dumps") == 0)
			*dumps = v;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(key, keys[i].key) == 0)
				*(uint64_t *)((char *)c + keys[i].off) = v;
	}
	fclose(f);
	return true;
}

int router_stats(struct router *r, const char *dir, struct router_counters *c)
{
	int d = dir_index(dir);
	struct router_nfq *q;
	uint64_t before = 0, dumps;
	long long end;

	if (d < 0)
		return -EINVAL;
	q = &r->nfq[d];
	if (q->pid <= 0) {
		if (!q->stats_path[0])
			return -ESRCH;
		*c = q->last;
		return 0;
	}
	read_counters(q->stats_path, c, &before);
	if (kill(q->pid, SIGUSR1) != 0)
		return -errno;
	/* The helper replaces the file whole (rename), its dump count last
	 * written: a higher count is a complete new dump. */
	for (end = now_ms() + STATS_WAIT_MS; now_ms() < end; usleep(1000))
		if (read_counters(q->stats_path, c, &dumps) && dumps > before)
			return 0;
	return -ETIMEDOUT;
}

int router_unimpair(struct router *r, const char *dir, struct router_counters *final)
{
	int d = dir_index(dir), st, rc = 0;
	struct router_nfq *q;
	uint64_t dumps;

	if (d < 0)
		return -EINVAL;
	q = &r->nfq[d];
	if (q->pid <= 0)
		return -ESRCH;
	/* The helper first (it lets out what it holds, in order, then unbinds
	 * and the bypass takes over), the rules after. */
	st = tb_stop_child(q->pid, HELPER_STOP_MS);
	q->pid = 0;
	if (st != 0) {
		say("nfq_impair (%s) ended with status %d", dir, st);
		rc = -EIO;
	}
	if (q->rules && queue_rules(r, d, false) != 0)
		rc = -EIO;
	q->rules = false;
	memset(&q->last, 0, sizeof(q->last));
	read_counters(q->stats_path, &q->last, &dumps);
	unlink(q->stats_path);
	if (final)
		*final = q->last;
	return rc;
}

pid_t router_helper(const struct router *r, const char *dir)
{
	int d = dir_index(dir);

	return d < 0 ? 0 : r->nfq[d].pid;
}

/* ---- plain loss, path MTU ---------------------------------------------------------------- */

int router_drop(struct router *r, const char *dir, double probability)
{
	int d = dir_index(dir);

	if (d < 0 || probability < 0 || probability > 1)
		return -EINVAL;
	if (r->nfq[d].drop_rules)
		return -EBUSY;
	for (int f = 0; f < 2; f++)
		if (tb_run(r->ns_r,
			   "%s -w -A FORWARD -i %s -m statistic --mode random --probability %.6f "
			   "-j DROP",
			   iptables[f], in_if(r, d), probability))
			return -EIO;
	r->nfq[d].drop_rules = true;
	return 0;
}

/* Packets the rules of @p table's @p chain with @p target for @p dir's
 * in-interface have matched, both families. */
static int rule_packets(struct router *r, const char *dir, const char *table, const char *chain,
			const char *target_name, uint64_t *packets)
{
	int d = dir_index(dir);

	if (d < 0)
		return -EINVAL;
	*packets = 0;
	for (int f = 0; f < 2; f++) {
		char buf[4096], *line, *save = NULL;

		if (tb_capture(r->ns_r, buf, sizeof(buf), "%s -w -t %s -L %s -v -n -x", iptables[f],
			       table, chain))
			return -EIO;
		/* "pkts bytes target prot opt in out ...": our rules. */
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned long long pk, bytes;
			char target[32], prot[16], opt[16], in[IF_NAMESIZE + 1];
			int k = sscanf(line, " %llu %llu %31s %15s %15s %16s", &pk, &bytes, target,
				       prot, opt, in);

			/* ip6tables has no opt column: the in-interface is one left. */
			if (k >= 5 && strcmp(target, target_name) == 0 &&
			    (strcmp(opt, in_if(r, d)) == 0 ||
			     (k == 6 && strcmp(in, in_if(r, d)) == 0)))
				*packets += pk;
		}
	}
	return 0;
}

int router_dropped(struct router *r, const char *dir, uint64_t *packets)
{
	return rule_packets(r, dir, "filter", "FORWARD", "DROP", packets);
}

int router_duplicate(struct router *r, const char *dir, double probability)
{
	int d = dir_index(dir);

	if (d < 0 || probability < 0 || probability > 1)
		return -EINVAL;
	if (r->nfq[d].dup_rules)
		return -EBUSY;
	for (int f = 0; f < 2; f++) {
		const char *to =
			f == 0 ? (d == 0 ? r->b_ip4 : r->a_ip4) : (d == 0 ? r->b_ip6 : r->a_ip6);

		if (tb_run(r->ns_r,
			   "%s -w -t mangle -A PREROUTING -i %s -m statistic --mode random "
			   "--probability %.6f -j TEE --gateway %s",
			   iptables[f], in_if(r, d), probability, to)) {
			say("TEE refused (%s; no xt_TEE?)", iptables[f]);
			return -EIO;
		}
	}
	r->nfq[d].dup_rules = true;
	return 0;
}

int router_duplicated(struct router *r, const char *dir, uint64_t *packets)
{
	return rule_packets(r, dir, "mangle", "PREROUTING", "TEE", packets);
}

int router_set_mtu(struct router *r, const char *hop, unsigned mtu)
{
	const char *ifname, *net4, *net6;
	char prefix4[INET_ADDRSTRLEN + 4], prefix6[INET6_ADDRSTRLEN + 4], *dot;

	if (!hop || mtu < 68 || mtu > 65535)
		return -EINVAL;
	if (strcmp(hop, "rb") == 0) {
		ifname = r->if_rb;
		net4 = r->rb_ip4;
		net6 = r->rb_ip6;
	} else if (strcmp(hop, "ra") == 0) {
		ifname = r->if_ra;
		net4 = r->ra_ip4;
		net6 = r->ra_ip6;
	} else {
		return -EINVAL;
	}
	/* The link's prefixes from the router's own addresses (x.y.z.1, p::1). */
	snprintf(prefix4, sizeof(prefix4), "%s", net4);
	dot = strrchr(prefix4, '.');
	snprintf(dot, sizeof(prefix4) - (size_t)(dot - prefix4), ".0/24");
	snprintf(prefix6, sizeof(prefix6), "%s", net6);
	snprintf(prefix6 + strlen(prefix6) - 1, 5, "/64");
	/* Forwarding honours a route's MTU (ip_dst_mtu_maybe_forward()), and
	 * a route limits only what leaves by it. */
	if (tb_run(r->ns_r, "ip route replace %s dev %s proto kernel scope link src %s mtu lock %u",
		   prefix4, ifname, net4, mtu))
		return -EIO;
	if (mtu >= 1280 &&
	    tb_run(r->ns_r, "ip -6 route replace %s dev %s proto kernel metric 256 mtu lock %u",
		   prefix6, ifname, mtu))
		return -EIO;
	return 0;
}
