/* skiff-bench's loss run (loss.h): the router, the impairment of a case,
 * and its transfers, each a receiver and a sender process forked into
 * their namespaces.
 *
 * A transfer: the parent forks the receiver (it listens, says so), then
 * the sender, which takes the clock just before connect(), sends the
 * pattern, shuts its side down and waits for the receiver's close (a skiff
 * sender must keep its stack running until everything is acknowledged).
 * The receiver compares every byte with the pattern as it reads and takes
 * the clock at end of file. The time is the receiver's end less the
 * sender's start (both CLOCK_MONOTONIC, one machine): handshake, transfer
 * and the last retransmissions included. The processes are pinned as in
 * the other runs: the receiver to the server's core, the sender to the
 * client's; the router's helpers run where they can. */
#define _GNU_SOURCE
#include "loss.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "router.h"
#include "runner.h"
#include "socktab.h"
#include "testbed.h"

/* The router's links; a's veth carries the kernel's address (.2) and
 * skiff's own (.10), which skiff's XDP program takes for itself. */
#define NET4_A	  "10.93.0"
#define NET4_B	  "10.93.1"
#define SKIFF_IP4 NET4_A ".10"
#define PORT0	  5301
/* What a sender hands send() at once, and what a receiver reads into. */
#define SEND_CHUNK (1u << 20)
#define RECV_CHUNK (256u * 1024)
#define START_MS   30000
/* A transfer may take this long, plus 2 s per MiB (0.5 MB/s: 1 % loss at
 * 20 ms makes Linux itself crawl), before it is an error: a stalled
 * connection ends the run instead of hanging it. */
#define LIMIT_BASE_MS	 120000
#define LIMIT_MS_PER_MIB 2000
#define TIME_WAIT_MS	 1000
/* nfq_impair holds a reordered packet back behind the next ones. */
#define REORDER_DEPTH 3
#define NO_BAD	      UINT64_MAX

/* The rates of the estimate: the slowest transfer's median in a run of
 * 2026-12-05 19:11 (64 MiB each): at 5 % loss, and at 1 % over a 20 ms
 * round trip, a CUBIC flow moves a few Mbit/s. */
const struct bench_loss_case bench_loss_cases[BENCH_LOSS_CASES] = {
	{"drop1_dup1", "1 % loss, 1 % duplication", 0.01, 0.01, 0, 0, 40},
	{"drop5", "5 % loss", 0.05, 0, 0, 0, 1.8},
	{"drop1_reorder5", "1 % loss, 5 % reordered (each behind the next 3)", 0.01, 0, 50000, 0,
	 28},
	{"delay10", "10 ms one way, no loss", 0, 0, 0, 10, 85},
	{"delay10_drop1", "10 ms one way, 1 % loss", 0.01, 0, 0, 10, 0.74},
};

static const char *const xfer_name[BL_XFERS] = {"skiff_send", "kernel_send", "skiff_recv"};
static const char *const xfer_what[BL_XFERS] = {"skiff -> Linux", "Linux -> Linux",
						"Linux -> skiff"};

/* Child to parent. */
struct msg {
	int rc;	    /* 0, or -errno (note says why) */
	bool ready; /* the receiver's first message: it listens */
	char note[160];
	uint64_t t0_ns;	 /* sender: just before connect() */
	uint64_t t1_ns;	 /* receiver: end of file */
	uint64_t bytes;	 /* receiver: read; sender: sent */
	uint64_t bad_at; /* receiver: the first byte that differs (NO_BAD: none) */
	bool skiff;	 /* st holds the end's skiff counters */
	struct skiff_stats st;
};

_Static_assert(sizeof(struct msg) <= PIPE_BUF, "struct msg must fit in one pipe write");

/* What the parent and its children share, the forks' copies of it. */
struct ctx {
	const struct bench_plan *plan;
	struct router r;
	const uint8_t *pattern;
	uint64_t bytes;
	enum bench_loss_xfer x;
	uint16_t port;
	volatile uint64_t *received; /* shared memory: the receiver's progress */
	struct runner recv, send;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* The bytes every transfer carries: splitmix64, so that a segment landing
 * at the wrong offset differs too. */
static uint8_t *pattern_make(uint64_t bytes)
{
	uint8_t *p = malloc(bytes + 8);
	uint64_t s = 0x736b696666ull;

	if (!p)
		return NULL;
	for (uint64_t i = 0; i < bytes; i += 8) {
		uint64_t z = (s += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		memcpy(p + i, &z, 8);
	}
	return p;
}

/* ---- the ends (child processes) ------------------------------------------------------ */

static bool on_skiff(enum bench_loss_xfer x, bool sender)
{
	return sender ? x == BL_SKIFF_SEND : x == BL_SKIFF_RECV;
}

/* skiff in a, on AF_XDP (copy mode on veth) beside the kernel's address. */
static int skiff_up(const struct ctx *c, char *why, size_t len)
{
	struct skiff_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	tb_private_bpffs();
	cfg.backend = SKIFF_BACKEND_XSK;
	cfg.ifname = c->r.if_ar;
	cfg.xdp_mode = SKIFF_XDP_AUTO;
	inet_pton(AF_INET, SKIFF_IP4, &cfg.ipv4);
	cfg.ipv4_prefix = 24;
	inet_pton(AF_INET, c->r.ra_ip4, &cfg.ipv4_gateway);
	cfg.time_wait_ms = TIME_WAIT_MS;
	cfg.frame_count = c->plan->frames;
	cfg.ring_size = c->plan->ring;
	if (skiff_init(&cfg) == 0)
		return 0;
	snprintf(why, len, "skiff_init on %s: %s", cfg.ifname,
		 skiff_last_error()[0] ? skiff_last_error() : strerror(errno));
	return -errno;
}

/* Ends a child: its last message, skiff stopped. */
static int child_end(struct runner *self, struct msg *m, bool sk)
{
	if (sk) {
		skiff_get_stats(&m->st);
		m->skiff = true;
	}
	runner_child_send(self, m, sizeof(*m));
	/* The last FIN (and its resends) must reach the peer, which waits for
	 * it: skiff_fini() alone drains for 250 ms, then resets, and a reset
	 * lost on the lossy path would leave the Linux end waiting for good. */
	if (sk) {
		skiff_stop(10000);
		skiff_fini();
	}
	return m->rc ? 1 : 0;
}

__attribute__((format(printf, 3, 4))) static int fail(struct msg *m, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->note, sizeof(m->note), fmt, ap);
	va_end(ap);
	m->rc = err ? -err : -EIO;
	return m->rc;
}

/* The first offset in [off, off + n) where @p buf differs from the
 * pattern, or NO_BAD. */
static uint64_t first_bad(const struct ctx *c, const uint8_t *buf, uint64_t off, size_t n)
{
	size_t mine = off >= c->bytes ? 0 : c->bytes - off < n ? (size_t)(c->bytes - off) : n;

	if (!memcmp(buf, c->pattern + off, mine))
		return mine == n ? NO_BAD : off + mine; /* past the end: too long */
	for (size_t i = 0;; i++)
		if (buf[i] != c->pattern[off + i])
			return off + i;
}

static int receiver_main(void *arg)
{
	struct ctx *c = arg;
	bool sk = on_skiff(c->x, false);
	const struct socktab *t = sk ? &socktab_skiff : &socktab_kernel;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(c->port)};
	struct msg m = {.bad_at = NO_BAD};
	uint8_t *buf = malloc(RECV_CHUNK);
	int one = 1, lfd = -1, fd = -1;

	pin(c->plan->cpu_server);
	if (!buf) {
		fail(&m, ENOMEM, "no memory for a receive buffer");
		return child_end(&c->recv, &m, false);
	}
	if (sk && (m.rc = skiff_up(c, m.note, sizeof(m.note))))
		return child_end(&c->recv, &m, false);
	lfd = t->socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || t->setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    t->bind(lfd, (struct sockaddr *)&a, sizeof(a)) || t->listen(lfd, 4)) {
		fail(&m, errno, "listening on port %u: %s", c->port, strerror(errno));
		return child_end(&c->recv, &m, sk);
	}
	m.ready = true;
	runner_child_send(&c->recv, &m, sizeof(m));
	m.ready = false;
	fd = t->accept(lfd, NULL, NULL, 0);
	if (fd < 0) {
		fail(&m, errno, "accept: %s", strerror(errno));
		return child_end(&c->recv, &m, sk);
	}
	for (;;) {
		ssize_t n = t->recv(fd, buf, RECV_CHUNK, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(&m, errno, "recv after %llu bytes: %s", (unsigned long long)m.bytes,
			     strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (m.bad_at == NO_BAD)
			m.bad_at = first_bad(c, buf, m.bytes, (size_t)n);
		m.bytes += (uint64_t)n;
		*c->received = m.bytes;
	}
	m.t1_ns = now_ns();
	t->close(fd);
	t->close(lfd);
	free(buf);
	return child_end(&c->recv, &m, sk);
}

static int sender_main(void *arg)
{
	struct ctx *c = arg;
	bool sk = on_skiff(c->x, true);
	const struct socktab *t = sk ? &socktab_skiff : &socktab_kernel;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(c->port)};
	struct msg m = {.bad_at = NO_BAD};
	char sink[512];
	int fd;

	pin(c->plan->cpu_client);
	if (sk && (m.rc = skiff_up(c, m.note, sizeof(m.note))))
		return child_end(&c->send, &m, false);
	inet_pton(AF_INET, c->x == BL_SKIFF_RECV ? SKIFF_IP4 : c->r.b_ip4, &a.sin_addr);
	fd = t->socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		fail(&m, errno, "socket: %s", strerror(errno));
		return child_end(&c->send, &m, sk);
	}
	/* Like for like: Linux sends with the congestion control asked for
	 * (cubic, skiff's default, unless told), not the machine's default. */
	if (!sk && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, c->plan->loss_kernel_cc,
			      (socklen_t)strlen(c->plan->loss_kernel_cc))) {
		fail(&m, errno, "TCP_CONGESTION %s: %s (net.ipv4.tcp_available_congestion_control)",
		     c->plan->loss_kernel_cc, strerror(errno));
		t->close(fd);
		return child_end(&c->send, &m, sk);
	}
	m.t0_ns = now_ns();
	if (t->connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fail(&m, errno, "connect: %s", strerror(errno));
		t->close(fd);
		return child_end(&c->send, &m, sk);
	}
	while (m.bytes < c->bytes) {
		size_t len = c->bytes - m.bytes < SEND_CHUNK ? c->bytes - m.bytes : SEND_CHUNK;
		ssize_t n = t->send(fd, c->pattern + m.bytes, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail(&m, errno, "send after %llu bytes: %s", (unsigned long long)m.bytes,
			     strerror(errno));
			break;
		}
		m.bytes += (uint64_t)n;
	}
	/* The receiver closes once it has read everything: until then a skiff
	 * sender's stack must run (retransmissions). Its reset after that is
	 * no error of the transfer, whose verdict is the receiver's. */
	t->shutdown(fd, SHUT_WR);
	while (!m.rc) {
		ssize_t n = t->recv(fd, sink, sizeof(sink), 0);

		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		break;
	}
	t->close(fd);
	return child_end(&c->send, &m, sk);
}

/* ---- counters ------------------------------------------------------------------------------ */

/* What the router's rules and helpers have counted so far, both ways. */
static void path_read(struct router *r, const struct bench_loss_case *k, struct bench_loss_path *p)
{
	static const char *const dirs[2] = {"ab", "ba"};

	memset(p, 0, sizeof(*p));
	for (int d = 0; d < 2; d++) {
		struct router_counters c;
		uint64_t n;

		if (k->drop && router_dropped(r, dirs[d], &n) == 0)
			p->dropped += n;
		if (k->dup && router_duplicated(r, dirs[d], &n) == 0)
			p->duplicated += n;
		if ((k->reorder_ppm || k->delay_ms) && router_stats(r, dirs[d], &c) == 0) {
			p->queued += c.packets;
			p->reordered += c.reordered;
			p->delayed += c.delayed;
			p->late += c.late;
			if (c.late_max_us > p->late_max_us)
				p->late_max_us = c.late_max_us;
			p->requeue_failed += c.requeue_failed;
			p->enobufs += c.enobufs;
			p->kernel_queue_dropped += c.kernel_queue_dropped;
			p->kernel_user_dropped += c.kernel_user_dropped;
		}
	}
}

static void path_delta(struct bench_loss_path *d, const struct bench_loss_path *a,
		       const struct bench_loss_path *b)
{
	d->dropped = b->dropped - a->dropped;
	d->duplicated = b->duplicated - a->duplicated;
	d->queued = b->queued - a->queued;
	d->reordered = b->reordered - a->reordered;
	d->delayed = b->delayed - a->delayed;
	d->late = b->late - a->late;
	d->late_max_us = b->late_max_us;
	d->requeue_failed = b->requeue_failed - a->requeue_failed;
	d->enobufs = b->enobufs - a->enobufs;
	d->kernel_queue_dropped = b->kernel_queue_dropped - a->kernel_queue_dropped;
	d->kernel_user_dropped = b->kernel_user_dropped - a->kernel_user_dropped;
}

/* A Linux end's TCP counters: its namespace's /proc/net/snmp and netstat
 * (one namespace, one Linux end at a time). */
#define KSTAT_N 11
static const char *const kstat_key[KSTAT_N][2] = {
	{"Tcp", "RetransSegs"},	       {"TcpExt", "TCPTimeouts"},
	{"TcpExt", "TCPLossProbes"},   {"TcpExt", "TCPLossProbeRecovery"},
	{"TcpExt", "TCPSackRecovery"}, {"TcpExt", "TCPFastRetrans"},
	{"TcpExt", "TCPDSACKRecv"},    {"TcpExt", "TCPOFOQueue"},
	{"TcpExt", "TCPDSACKUndo"},    {"TcpExt", "TCPPartialUndo"},
	{"TcpExt", "TCPFullUndo"},
};

static void kstat_read(const char *ns, uint64_t v[KSTAT_N])
{
	static char buf[32768];
	char *names = NULL, *save = NULL;

	memset(v, 0, KSTAT_N * sizeof(*v));
	if (tb_capture(ns, buf, sizeof(buf), "cat /proc/net/snmp /proc/net/netstat"))
		return;
	/* "Prefix: name name ..." then "Prefix: value value ...". */
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *s1 = NULL, *s2 = NULL, *nw, *vw;
		size_t plen;

		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		plen = (size_t)(colon - line);
		if (!names || strncmp(names, line, plen + 1)) {
			names = line;
			continue;
		}
		nw = strtok_r(names + plen + 1, " ", &s1);
		vw = strtok_r(line + plen + 1, " ", &s2);
		for (; nw && vw; nw = strtok_r(NULL, " ", &s1), vw = strtok_r(NULL, " ", &s2))
			for (int k = 0; k < KSTAT_N; k++)
				if (strlen(kstat_key[k][0]) == plen &&
				    !strncmp(line, kstat_key[k][0], plen) &&
				    !strcmp(nw, kstat_key[k][1]))
					v[k] = strtoull(vw, NULL, 10);
		names = NULL;
	}
}

static void print_skiff_end(const char *who, const struct skiff_stats *s)
{
#define F(f) (unsigned long long)s->f
	printf("      %s: tcp_retransmits %llu, tcp_timeouts %llu, tcp_rto_retransmits %llu, "
	       "tcp_fast_recoveries %llu, tcp_sack_retransmits %llu, tcp_lost_retransmits %llu, "
	       "tcp_rack_losses %llu, tcp_tlp_sent %llu, tcp_tlp_recoveries %llu, "
	       "tcp_dsacks_received %llu, tcp_spurious_undos %llu, tcp_late_originals %llu, "
	       "tcp_cc_cubic_events %llu, tcp_cc_reno_events %llu, "
	       "tcp_cc_rto_events %llu, tcp_hystart_css %llu, tcp_hystart_exits %llu, "
	       "tcp_ooseq %llu, tcp_rx_out_of_window %llu, tx_drop_ring_full %llu, "
	       "rx_orphaned_bytes %llu, xdp_rx_dropped %llu, xdp_rx_ring_full %llu, "
	       "xdp_fill_ring_empty %llu\n",
	       who, F(tcp_retransmits), F(tcp_timeouts), F(tcp_rto_retransmits),
	       F(tcp_fast_recoveries), F(tcp_sack_retransmits), F(tcp_lost_retransmits),
	       F(tcp_rack_losses), F(tcp_tlp_sent), F(tcp_tlp_recoveries), F(tcp_dsacks_received),
	       F(tcp_spurious_undos), F(tcp_late_originals), F(tcp_cc_cubic_events),
	       F(tcp_cc_reno_events), F(tcp_cc_rto_events), F(tcp_hystart_css),
	       F(tcp_hystart_exits), F(tcp_ooseq), F(tcp_rx_out_of_window), F(tx_drop_ring_full),
	       F(rx_orphaned_bytes), F(xdp_rx_dropped), F(xdp_rx_ring_full),
	       F(xdp_fill_ring_empty));
#undef F
}

static void print_kernel_end(const char *who, const uint64_t a[KSTAT_N], const uint64_t b[KSTAT_N])
{
	printf("      %s:", who);
	for (int k = 0; k < KSTAT_N; k++)
		printf("%s %s %llu", k ? "," : "", kstat_key[k][1],
		       (unsigned long long)(b[k] - a[k]));
	printf("\n");
}

static void print_path(const struct bench_loss_path *p)
{
	printf("      router (both ways): %llu dropped, %llu duplicated",
	       (unsigned long long)p->dropped, (unsigned long long)p->duplicated);
	if (p->queued)
		printf(", helper: %llu packets, %llu reordered, %llu delayed, %llu released late "
		       "(latest %llu us after due), %llu requeues failed, %llu ENOBUFS, kernel "
		       "queue full %llu, socket full %llu",
		       (unsigned long long)p->queued, (unsigned long long)p->reordered,
		       (unsigned long long)p->delayed, (unsigned long long)p->late,
		       (unsigned long long)p->late_max_us, (unsigned long long)p->requeue_failed,
		       (unsigned long long)p->enobufs, (unsigned long long)p->kernel_queue_dropped,
		       (unsigned long long)p->kernel_user_dropped);
	printf("\n");
}

/* ---- the parent --------------------------------------------------------------------------- */

static bool progress_shown;

__attribute__((format(printf, 4, 5))) static void
progress(const struct bench_plan *plan, const struct bench_at *at, unsigned k, const char *fmt, ...)
{
	uint64_t all = (now_ns() - at->t0_ns) / 1000000000u;
	char msg[160], eta[48];
	va_list ap;

	if (!plan->tty)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bench_eta(at, eta, sizeof(eta));
	printf("\r\033[K[%um%02us, %s] loss %s (case %u of %u): %s", (unsigned)(all / 60),
	       (unsigned)(all % 60), eta, bench_loss_cases[k].name, at->pair + 1, at->pairs, msg);
	fflush(stdout);
	progress_shown = true;
}

static void progress_clear(void)
{
	if (!progress_shown)
		return;
	printf("\r\033[K");
	fflush(stdout);
	progress_shown = false;
}

/* The receiver's result, with the progress line meanwhile. */
static int wait_receiver(struct ctx *c, const struct bench_at *at, unsigned k, unsigned rep,
			 struct msg *m, char *why, size_t len)
{
	uint64_t t0 = now_ns();
	uint64_t limit_ms = LIMIT_BASE_MS + c->bytes / (1u << 20) * LIMIT_MS_PER_MIB;

	for (;;) {
		int rc = runner_recv(&c->recv, m, sizeof(*m), 250);
		uint64_t ms = (now_ns() - t0) / 1000000u;

		if (rc != -ETIMEDOUT) {
			progress_clear();
			if (rc == -ECHILD)
				snprintf(why, len, "the receiver exited without a word");
			return rc;
		}
		if (ms > limit_ms) {
			progress_clear();
			snprintf(why, len, "not done after %llu s (%.1f of %.1f MiB received)",
				 (unsigned long long)(ms / 1000), *c->received / 1048576.0,
				 c->bytes / 1048576.0);
			return -ETIMEDOUT;
		}
		progress(c->plan, at, k, "run %u of %u, %s: %.1f of %.1f MiB received (%.1f s)",
			 rep + 1, c->plan->loss_reps, xfer_name[c->x], *c->received / 1048576.0,
			 c->bytes / 1048576.0, ms / 1e3);
	}
}

/* One transfer; its time in @p secs. -EIO: an error of the transfer (why
 * says which); others: it could not run. */
static int transfer(struct ctx *c, const struct bench_at *at, unsigned k, unsigned rep,
		    double *secs, char *why, size_t len)
{
	const struct bench_loss_case *lc = &bench_loss_cases[k];
	bool verbose = c->plan->verbose;
	const char *ns_send = c->x == BL_SKIFF_RECV ? c->r.ns_b : c->r.ns_a;
	const char *ns_recv = c->x == BL_SKIFF_RECV ? c->r.ns_a : c->r.ns_b;
	struct bench_loss_path p0, p1, pd;
	uint64_t ks0[KSTAT_N], ks1[KSTAT_N];
	struct msg rm = {0}, sm = {0};
	int rc;

	memset(&c->recv, 0, sizeof(c->recv));
	memset(&c->send, 0, sizeof(c->send));
	c->recv.stop = c->send.stop = &app_stop;
	*c->received = 0;
	path_read(&c->r, lc, &p0);
	kstat_read(c->x == BL_SKIFF_SEND ? ns_recv : ns_send, ks0);
	rc = runner_start(&c->recv, ns_recv, receiver_main, c);
	if (!rc)
		rc = runner_recv(&c->recv, &rm, sizeof(rm), START_MS);
	if (!rc && !rm.ready)
		rc = rm.rc ? rm.rc : -EIO;
	if (rc) {
		snprintf(why, len, "the receiver did not start: %s",
			 rm.note[0] ? rm.note : strerror(-rc));
		goto out_stop;
	}
	rc = runner_start(&c->send, ns_send, sender_main, c);
	if (rc) {
		snprintf(why, len, "fork: %s", strerror(-rc));
		goto out_stop;
	}
	rc = wait_receiver(c, at, k, rep, &rm, why, len);
	if (rc)
		goto out_stop;
	rc = runner_recv(&c->send, &sm, sizeof(sm), 20000);
	if (rc) {
		snprintf(why, len, "the sender did not report (%s)", strerror(-rc));
		goto out_stop;
	}
	if (sm.rc || rm.rc) {
		snprintf(why, len, "%s%s%s",
			 sm.rc ? "sender: " : "receiver: ", sm.rc ? sm.note : rm.note, "");
		rc = -EIO;
	} else if (rm.bytes != c->bytes || rm.bad_at != NO_BAD) {
		if (rm.bad_at != NO_BAD)
			snprintf(why, len,
				 "CORRUPT: byte %llu differs from what was sent (%llu bytes read)",
				 (unsigned long long)rm.bad_at, (unsigned long long)rm.bytes);
		else
			snprintf(why, len, "SHORT: %llu of %llu bytes read",
				 (unsigned long long)rm.bytes, (unsigned long long)c->bytes);
		rc = -EIO;
	} else {
		*secs = (double)(rm.t1_ns - sm.t0_ns) / 1e9;
	}
	path_read(&c->r, lc, &p1);
	path_delta(&pd, &p0, &p1);
	kstat_read(c->x == BL_SKIFF_SEND ? ns_recv : ns_send, ks1);
	if (!rc)
		printf("    run %u of %u: %-11s %s %8.3f s  %7.1f Mbit/s  (router: %llu dropped, "
		       "%llu duplicated, %llu reordered, %llu delayed)\n",
		       rep + 1, c->plan->loss_reps, xfer_name[c->x], xfer_what[c->x], *secs,
		       (double)c->bytes * 8 / *secs / 1e6, (unsigned long long)pd.dropped,
		       (unsigned long long)pd.duplicated, (unsigned long long)pd.reordered,
		       (unsigned long long)pd.delayed);
	if (verbose) {
		print_path(&pd);
		if (sm.skiff)
			print_skiff_end("skiff sender", &sm.st);
		else
			print_kernel_end("Linux sender", ks0, ks1);
		if (rm.skiff)
			print_skiff_end("skiff receiver", &rm.st);
		else if (c->x == BL_SKIFF_SEND)
			print_kernel_end("Linux receiver", ks0, ks1);
	}

out_stop:
	runner_stop(&c->send, 3000);
	runner_stop(&c->recv, 3000);
	return rc;
}

static int impair(struct ctx *c, const struct bench_loss_case *lc, char *why, size_t len)
{
	static const char *const dirs[2] = {"ab", "ba"};
	int rc = 0;

	for (int d = 0; d < 2 && !rc; d++) {
		char args[128];

		if (lc->drop && (rc = router_drop(&c->r, dirs[d], lc->drop)))
			break;
		if (lc->dup && (rc = router_duplicate(&c->r, dirs[d], lc->dup)))
			break;
		if (!lc->reorder_ppm && !lc->delay_ms)
			continue;
		/* Seeded per direction: the same case reorders alike run to run. */
		snprintf(args, sizeof(args), "--seed %d", d + 1);
		if (lc->reorder_ppm)
			snprintf(args + strlen(args), sizeof(args) - strlen(args),
				 " --reorder-ppm %u --reorder-depth %u", lc->reorder_ppm,
				 REORDER_DEPTH);
		if (lc->delay_ms)
			snprintf(args + strlen(args), sizeof(args) - strlen(args), " --delay-ms %u",
				 lc->delay_ms);
		rc = router_impair(&c->r, dirs[d], args);
	}
	if (rc)
		snprintf(why, len, "impairing the router (%s): %s", lc->what, strerror(-rc));
	return rc;
}

int bench_loss_run(unsigned k, const struct bench_plan *plan, const struct bench_at *at,
		   struct bench_loss_result *out)
{
	static const struct router_opts ro = {
		.net4_a = NET4_A, .net4_b = NET4_B, .net6_a = "fd93::", .net6_b = "fd93:1::"};
	const struct bench_loss_case *lc = &bench_loss_cases[k];
	static uint8_t *pattern;
	static uint64_t pattern_bytes;
	static uint16_t port = PORT0;
	struct ctx c = {.plan = plan, .bytes = plan->loss_bytes};
	int rc, result = 0;

	memset(out, 0, sizeof(*out));
	out->ran = true;
	if (!pattern || pattern_bytes != plan->loss_bytes) {
		free(pattern);
		pattern = pattern_make(plan->loss_bytes);
		pattern_bytes = plan->loss_bytes;
	}
	c.pattern = pattern;
	c.received = mmap(NULL, sizeof(*c.received), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!pattern || c.received == MAP_FAILED) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		return -ENOMEM;
	}
	rc = router_create(&c.r, "bloss", &ro);
	if (rc) {
		snprintf(out->error, sizeof(out->error), "building the router: %s", strerror(-rc));
		goto out_unmap;
	}
	rc = impair(&c, lc, out->error, sizeof(out->error));
	if (rc)
		goto out_destroy;
	printf("  %s: %s, both ways; %.0f MiB per transfer\n", lc->name, lc->what,
	       plan->loss_bytes / 1048576.0);
	fflush(stdout);
	for (unsigned rep = 0; rep < plan->loss_reps && !app_stop; rep++) {
		/* Each repetition starts with the next transfer: none is always
		 * the one that follows the other two (the helper and the
		 * machine change over a case's minutes). */
		for (int i = 0; i < BL_XFERS && !app_stop; i++) {
			int x = (i + (int)rep) % BL_XFERS;
			char why[200];
			double secs = 0;

			c.x = (enum bench_loss_xfer)x;
			/* A port of its own per transfer: no TIME-WAIT in the way. */
			c.port = port++;
			if (port >= PORT0 + 2000)
				port = PORT0;
			rc = transfer(&c, at, k, rep, &secs, why, sizeof(why));
			if (rc == -EINTR || app_stop) {
				result = -EINTR;
				break;
			}
			if (rc) {
				printf("error loss.%s.%s run %u of %u: %s\n", lc->name,
				       xfer_name[x], rep + 1, plan->loss_reps, why);
				fflush(stdout);
				out->failed[x]++;
				if (!out->error[0])
					snprintf(out->error, sizeof(out->error), "%s run %u: %s",
						 xfer_name[x], rep + 1, why);
				result = -EIO;
				continue;
			}
			if (out->n[x] < BENCH_MAX_REPS)
				out->secs[x][out->n[x]++] = secs;
		}
	}
	rc = result;
	for (int x = 0; x < BL_XFERS; x++) {
		double v[BENCH_MAX_REPS];
		unsigned n = out->n[x];

		/* A figure only from every repetition good. */
		out->have[x] = n && !out->failed[x] && n == plan->loss_reps;
		if (!out->have[x])
			continue;
		memcpy(v, out->secs[x], n * sizeof(*v));
		for (unsigned i = 1; i < n; i++)
			for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
				double t = v[j];

				v[j] = v[j - 1];
				v[j - 1] = t;
			}
		out->fig[x] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	}

out_destroy:
	router_destroy(&c.r);
out_unmap:
	munmap((void *)c.received, sizeof(*c.received));
	return rc;
}

const char *bench_loss_helper(void)
{
#ifdef SKIFF_LIBEXEC_FROM_BIN
	static char path[PATH_MAX];
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct stat st;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if (snprintf(path, sizeof(path), "%s/%s/nfq_impair", self, SKIFF_LIBEXEC_FROM_BIN) <
			    (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
			router_set_helper(path);
	}
#endif
	return router_helper_path();
}
