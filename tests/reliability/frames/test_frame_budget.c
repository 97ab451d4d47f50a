/* The frame budget for holders (docs/hardening.md): skiff on AF_XDP (veth,
 * copy mode) runs an echo server for 60 Linux TCP connections from the
 * peer namespace, while holder_agent.py (Scapy) holds frames on 8 more:
 * 4 fed nothing but out-of-order one-byte segments, 4 fed one-byte
 * segments in order to a listener that never reads. The 60 keep their
 * rate, the out-of-order queues stay within their budget, the unread data
 * past its budget moves to the heap, and every frame comes back. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <skiff/skiff.h>

#include "echo_server.h"
#include "loadgen.h"
#include "socktab.h"
#include "testbed.h"
#include "testkit.h"

#define SKIFF_IP  "10.78.0.10"
#define KERN_IP	  "10.78.0.1"
#define PEER_IP	  "10.78.0.2"
#define OWN_IP	  "10.78.0.50" /* the agent's: the peer kernel's RSTs filtered */
#define PORT_ECHO 7
#define PORT_OOO  7101
#define PORT_SLOW 7102
#define HOLDERS	  4    /* connections of each kind */
#define SEGS	  3000 /* one-byte segments each holds */
#define PHASE_S	  2.5  /* seconds of load per phase */

#define CONN_FRAMES 1437u

static const uint8_t skiff_mac[6] = {0x02, 0x53, 0x4b, 0x46, 0x42, 0x01};

static struct {
	struct tb_pair net;
	struct echo_server *echo;
	int lfd_ooo, lfd_slow;
	int held[2 * HOLDERS]; /* accepted holder connections */
	unsigned n_held;
	uint32_t peak_ooseq, peak_rxq;
} env;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void teardown(void)
{
	tb_destroy();
	memset(&env, 0, sizeof(env));
}

/* ---- the Linux clients ------------------------------------------------------ */

static volatile sig_atomic_t load_stop;

static void on_alarm(int sig)
{
	(void)sig;
	load_stop = 1;
}

/* In the peer namespace: 60 connections against the echo server for
 * PHASE_S seconds; the result goes up the pipe. */
static int load_child(void *arg)
{
	int fd = *(int *)arg;
	struct sockaddr_in *a;
	struct lg_config c;
	struct lg_result r;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	memset(&c, 0, sizeof(c));
	a = (struct sockaddr_in *)&c.dst;
	a->sin_family = AF_INET;
	a->sin_port = htons(PORT_ECHO);
	inet_pton(AF_INET, SKIFF_IP, &a->sin_addr);
	c.dst_len = sizeof(*a);
	c.conns = 60;
	c.requests = 100000000;
	c.min_size = 1;
	c.max_size = 16384;
	c.stop = &load_stop;
	lg_config_defaults(&c);
	setitimer(ITIMER_REAL,
		  &(struct itimerval){.it_value = {(time_t)PHASE_S,
						   (suseconds_t)((PHASE_S - (int)PHASE_S) * 1e6)}},
		  NULL);
	memset(&r, 0, sizeof(r));
	lg_run(&c, &socktab_kernel, &r);
	(void)!write(fd, &r, sizeof(r));
	return 0;
}

/* Serves skiff (echo, accepting the holders) for @p ms. */
static void serve_for(int ms)
{
	long long end = now_ms() + ms, last = 0;

	while (now_ms() < end) {
		struct skiff_stats s;

		echo_server_step(env.echo, 1);
		for (int *l = &env.lfd_ooo; l <= &env.lfd_slow; l++) {
			int c;

			while (env.n_held < 2 * HOLDERS &&
			       (c = skiff_accept(*l, NULL, NULL, 0)) >= 0)
				env.held[env.n_held++] = c;
		}
		if (now_ms() - last >= 10) {
			last = now_ms();
			skiff_get_stats(&s);
			if (s.ooseq_frames > env.peak_ooseq)
				env.peak_ooseq = s.ooseq_frames;
			if (s.rx_queued_frames > env.peak_rxq)
				env.peak_rxq = s.rx_queued_frames;
		}
	}
}

/* One phase of load while serving; returns requests per second. */
static double load_phase(const char *what)
{
	struct lg_result r;
	int fds[2];
	pid_t pid;
	double rps;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	pid = tb_spawn(env.net.ns[1], load_child, &fds[1]);
	CU_ASSERT_FATAL(pid > 0);
	memset(&r, 0, sizeof(r));
	for (;;) {
		serve_for(20);
		if (read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r))
			break;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			CU_FAIL("the load generator died");
			break;
		}
	}
	serve_for(200);
	tb_stop_child(pid, 1000);
	close(fds[0]);
	close(fds[1]);
	rps = r.elapsed_s > 0 ? (double)r.requests_done / r.elapsed_s : 0;
	tk_note("%s: 60 connections, %.0f requests/s, slowest answer %.1f ms, %llu bad bytes%s%s",
		what, rps, r.lat_max_us / 1000, (unsigned long long)r.bad_bytes,
		r.first_error[0] ? ", " : "", r.first_error);
	TK_ASSERT_EQ(r.bad_bytes, 0);
	CU_ASSERT(r.requests_done > 0);
	return rps;
}

/* ---- the holders --------------------------------------------------------- */

struct agent {
	pid_t pid;
	int out;
};

static void agent_start(struct agent *a, double seconds)
{
	char path[512], secs[16], conns[8], segs[8], po[8], ps[8], mac[18];
	int fds[2];

	snprintf(path, sizeof(path), "%s/holder_agent.py", SKIFF_TEST_SRC_DIR);
	snprintf(secs, sizeof(secs), "%.1f", seconds);
	snprintf(conns, sizeof(conns), "%d", HOLDERS);
	snprintf(segs, sizeof(segs), "%d", SEGS);
	snprintf(po, sizeof(po), "%d", PORT_OOO);
	snprintf(ps, sizeof(ps), "%d", PORT_SLOW);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", skiff_mac[0], skiff_mac[1],
		 skiff_mac[2], skiff_mac[3], skiff_mac[4], skiff_mac[5]);
	CU_ASSERT_FATAL(pipe(fds) == 0);
	a->pid = fork();
	CU_ASSERT_FATAL(a->pid >= 0);
	if (a->pid == 0) {
		char *argv[] = {"/usr/bin/python3",
				path,
				env.net.ifname[1],
				mac,
				SKIFF_IP,
				OWN_IP,
				po,
				ps,
				conns,
				segs,
				secs,
				NULL};

		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		if (tb_enter(env.net.ns[1]) != 0)
			_exit(3);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	a->out = fds[0];
	fcntl(a->out, F_SETFL, O_NONBLOCK);
}

/* Serves until the agent printed @p text (or @p ms pass); its output so far
 * in @p buf. */
static bool agent_wait(struct agent *a, const char *text, char *buf, size_t len, int ms)
{
	long long end = now_ms() + ms;
	size_t have = strlen(buf);

	while (now_ms() < end) {
		ssize_t n = read(a->out, buf + have, len - 1 - have);

		if (n > 0) {
			have += (size_t)n;
			buf[have] = '\0';
		}
		if (strstr(buf, text))
			return true;
		serve_for(5);
	}
	return false;
}

static bool have_scapy(void)
{
	return system("/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1") == 0;
}

/* ---- skiff -------------------------------------------------------------------- */

static void skiff_up(void)
{
	struct skiff_config c;

	CU_ASSERT_FATAL(tb_enter(env.net.ns[0]) == 0);
	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_XSK;
	c.ifname = env.net.ifname[0];
	memcpy(c.mac, skiff_mac, 6);
	inet_pton(AF_INET, SKIFF_IP, &c.ipv4);
	c.time_wait_ms = 200;
	/* The per-connection budgets of a 2 MiB window of full segments, as
	 * the agent's 3,000 segments per holder were sized for (with the
	 * 4 MiB default, 2,897, a slow agent's holders often stay below). */
	c.max_ooseq_frames_conn = CONN_FRAMES;
	c.max_rx_frames_conn = CONN_FRAMES;
	if (getenv("SKIFF_TEST_NO_BUDGET")) {
		/* How it was before the budgets: this run is expected to fail. */
		c.max_ooseq_frames_conn = 65535;
		c.max_ooseq_frames = 1u << 30;
		c.max_rx_frames_conn = 1u << 30;
		tk_note("SKIFF_TEST_NO_BUDGET: budgets off");
	}
	if (skiff_init(&c) != 0) {
		tk_note("skiff_init: %s: %s", strerror(errno), skiff_last_error());
		CU_FAIL_FATAL("skiff_init");
	}
}

static int listen_nonblock(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(skiff_bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(skiff_listen(fd, 16) == 0);
	return fd;
}

/* ---- the test ---------------------------------------------------------------- */

static void test_holders_keep_to_their_budget(void)
{
	char out[4096] = "";
	struct skiff_stats s0, s1, s2;
	struct echo_config ec;
	struct agent a;
	double before, during;
	int status;

	tk_require_privileged();
	if (!have_scapy())
		tk_skip("python3-scapy is not installed (tests/host/setup.sh installs it)");
	CU_ASSERT_FATAL(tb_pair_create(&env.net, "fbud", 1, KERN_IP "/24", PEER_IP "/24") == 0);
	CU_ASSERT_FATAL(tb_addr(env.net.ns[1], env.net.ifname[1], OWN_IP "/24") == 0);
	CU_ASSERT_FATAL(tb_run(env.net.ns[1],
			       "iptables -A OUTPUT -s %s -p tcp --tcp-flags RST RST -j DROP",
			       OWN_IP) == 0);
	skiff_up();
	skiff_get_stats(&s0);
	memset(&ec, 0, sizeof(ec));
	ec.ops = &socktab_skiff;
	ec.port = PORT_ECHO;
	ec.ipv4 = true;
	ec.zero_copy = true;
	CU_ASSERT_FATAL(echo_server_open(&env.echo, &ec) == 0);
	env.lfd_ooo = listen_nonblock(PORT_OOO);
	env.lfd_slow = listen_nonblock(PORT_SLOW);

	before = load_phase("no holders");

	agent_start(&a, PHASE_S + 3);
	if (!agent_wait(&a, "ready", out, sizeof(out), 15000)) {
		tk_note("agent: %s", out);
		CU_FAIL_FATAL("the holder agent did not connect");
	}
	serve_for(500); /* the holders fill up */
	skiff_get_stats(&s1);
	during = load_phase("4 out-of-order + 4 unread holders");
	agent_wait(&a, "}", out, sizeof(out), 10000);
	waitpid(a.pid, &status, 0);
	close(a.out);
	tk_note("agent: %s", out);
	skiff_get_stats(&s2);

	tk_note("out-of-order frames peak %u (budget %u, %u per connection), budget drops "
		"%llu, pressure drops %llu",
		env.peak_ooseq, s0.frames_total / 4, CONN_FRAMES,
		(unsigned long long)s2.tcp_ooseq_budget_drops,
		(unsigned long long)s2.tcp_ooseq_pressure_drops);
	tk_note("unread frames peak %u in all (the echo connections' too), %u in one connection "
		"(budget %u); %llu bytes orphaned at the connection budget, %llu under pressure; "
		"frames now: %u free, %u fill, %u held",
		env.peak_rxq, s2.rx_queued_frames_conn_peak, CONN_FRAMES,
		(unsigned long long)s2.rx_budget_orphaned_bytes,
		(unsigned long long)s2.rx_orphaned_bytes, s2.frames_free, s2.frames_fill,
		s2.frames_held);
	CU_ASSERT(env.n_held == 2 * HOLDERS);
	CU_ASSERT(env.peak_ooseq > 0);
	CU_ASSERT(env.peak_ooseq <= s0.frames_total / 4);
	CU_ASSERT(s2.tcp_ooseq_budget_drops > 0);
	/* Orphaning is due once a connection's unread data reached its
	 * budget; a slow agent (an ASan build, a busy machine) may not get
	 * that far, and then none is owed. */
	if (s2.rx_queued_frames_conn_peak < CONN_FRAMES)
		tk_note("the unread holders never reached a connection's budget (peak %u frames): "
			"nothing was owed orphaning",
			s2.rx_queued_frames_conn_peak);
	CU_ASSERT(s2.rx_budget_orphaned_bytes > 0 || s2.rx_queued_frames_conn_peak < CONN_FRAMES);
	/* The budget is per connection. (The gauge over all of them also
	 * counts what the 60 echo connections hold between reads: up to a
	 * 16 KiB request each, so it is no measure of the holders.) */
	CU_ASSERT(s2.rx_queued_frames_conn_peak <= CONN_FRAMES);
	tk_note("fill ring ran empty %llu times while the holders held",
		(unsigned long long)(s2.xdp_fill_ring_empty - s1.xdp_fill_ring_empty));
	tk_note("requests/s of the 60: %.0f before, %.0f with the holders (%.2fx)", before, during,
		before > 0 ? during / before : 0);
	/* The others keep being served. Starvation shows as a fill ring run
	 * empty (frames all held) and connections that stall outright; a
	 * budget shows neither. Their rate shares two cores with the Python
	 * agent during the holders' phase, so it falls for that alone (0.46x
	 * to 1.5x seen): a quarter is the floor, not a half. */
	CU_ASSERT(s2.xdp_fill_ring_empty - s1.xdp_fill_ring_empty == 0);
	CU_ASSERT(during >= before * 0.25);
	tk_score("4 out-of-order + 4 unread holders of %d one-byte segments beside 60 echo "
		 "connections: %.0f -> %.0f req/s (%.2fx); out-of-order frames peak %u "
		 "(budget %u); unread frames peak %u in one connection (budget %u)",
		 SEGS, before, during, before > 0 ? during / before : 0, env.peak_ooseq,
		 s0.frames_total / 4, s2.rx_queued_frames_conn_peak, CONN_FRAMES);

	for (unsigned i = 0; i < env.n_held; i++)
		skiff_close(env.held[i]);
	skiff_close(env.lfd_ooo);
	skiff_close(env.lfd_slow);
	echo_server_close(env.echo);
	env.echo = NULL;
	/* Every frame back: free or on the fill ring, once the closes went. */
	for (int i = 0; i < 100 && skiff_poll(10) >= 0; i++) {
		skiff_get_stats(&s2);
		if (!s2.frames_held && !s2.frames_tx && !s2.frames_loaned)
			break;
	}
	tk_note("after the closes: %u free, %u fill, %u held, %u tx, %u loaned", s2.frames_free,
		s2.frames_fill, s2.frames_held, s2.frames_tx, s2.frames_loaned);
	TK_ASSERT_EQ(s2.frames_held + s2.frames_tx + s2.frames_loaned, 0);
	TK_ASSERT_EQ(s2.ooseq_frames, 0);
	TK_ASSERT_EQ(s2.rx_queued_frames, 0);
	CU_ASSERT(skiff_stop(100) == 0);
	skiff_fini();
}

static const struct tk_case tests[] = {
	TK_TEST(test_holders_keep_to_their_budget),
	TK_TEST_END,
};

static const struct tk_suite suite = {"frames", NULL, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
