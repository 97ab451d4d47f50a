/* Hostile packets and a SYN flood from the peer namespace. skiff runs on
 * AF_XDP (copy mode) in ns[0]; in ns[1] the kernel holds an established
 * connection to skiff and hostile_agent.py (Scapy) sends the bad frames
 * and reports what came back. Each test checks the answer (or its
 * absence), the counter that says why, that the kernel's connection still
 * moves data byte-exact, and that no frame leaked (teardown). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testbed.h"
#include "stack_test.h"

#define STACK_IP4  "10.77.0.10"
#define PEER_IP4   "10.77.0.2"
#define OWN_IP4	   "10.77.0.3" /* the agent's connections: kernel RSTs filtered */
#define STACK_IP6  "fd77::10"
#define PEER_IP6   "fd77::2"
#define PORT	   7001
#define FLOOD_PORT 7002
#define AGENT	   SKIFF_SOURCE_DIR "/tests/reliability/hostile/hostile_agent.py"
#define MAX_HELD   256

static const uint8_t stack_mac[6] = {0x02, 0x53, 0x4b, 0x49, 0x46, 0x46};

static struct {
	struct tb_pair net;
	bool up, stack;
	pid_t agent;
	int to_agent, from_agent;
	char abuf[16384];
	size_t alen;
	int lfd;
	int held[MAX_HELD];
	unsigned nheld;
	/* the kernel's connection: kfd in ns[1], sfd its skiff end (echoes) */
	int kfd, sfd;
	uint64_t koff;
	uint8_t echo[65536];
	size_t ehave, eoff;
	struct skiff_stats before;
} H;

/* ---- environment ------------------------------------------------------------------------ */

static void env_up(const char *tag, unsigned mtu)
{
	tk_require_privileged();
	if (tb_run(NULL, "/usr/bin/python3 -c 'import scapy.all' 2>/dev/null") != 0)
		tk_skip("no Scapy for /usr/bin/python3 (tests/host/setup.sh installs it)");
	CU_ASSERT_FATAL(tb_pair_create(&H.net, tag, 1, NULL, PEER_IP4 "/24") == 0);
	H.up = true;
	CU_ASSERT_FATAL(tb_addr(H.net.ns[1], H.net.ifname[1], OWN_IP4 "/24") == 0);
	CU_ASSERT_FATAL(tb_addr(H.net.ns[1], H.net.ifname[1], PEER_IP6 "/64") == 0);
	/* The agent's connections must not be reset by the kernel that owns
	 * their address. (TX checksum offload is off: tb_veth().) */
	CU_ASSERT_FATAL(tb_run(H.net.ns[1],
			       "iptables -A OUTPUT -s %s -p tcp --tcp-flags RST RST -j DROP",
			       OWN_IP4) == 0);
	if (mtu) {
		CU_ASSERT_FATAL(tb_run(H.net.ns[0], "ip link set dev %s mtu %u", H.net.ifname[0],
				       mtu) == 0);
		CU_ASSERT_FATAL(tb_run(H.net.ns[1], "ip link set dev %s mtu %u", H.net.ifname[1],
				       mtu) == 0);
	}
}

/* The agent starts before the stack: a child must not inherit a UMEM. */
static void agent_start(void)
{
	int in[2], out[2];
	char mac[32];

	CU_ASSERT_FATAL(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", stack_mac[0], stack_mac[1],
		 stack_mac[2], stack_mac[3], stack_mac[4], stack_mac[5]);
	fflush(NULL);
	H.agent = fork();
	CU_ASSERT_FATAL(H.agent >= 0);
	if (H.agent == 0) {
		char port[8];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (tb_enter(H.net.ns[1]) != 0)
			_exit(99);
		snprintf(port, sizeof(port), "%d", PORT);
		execl("/usr/bin/python3", "python3", "-u", AGENT, H.net.ifname[1], mac, STACK_IP4,
		      STACK_IP6, PEER_IP4, OWN_IP4, port, (char *)NULL);
		_exit(98);
	}
	close(in[0]);
	close(out[1]);
	H.to_agent = in[1];
	H.from_agent = out[0];
	fcntl(H.from_agent, F_SETFL, O_NONBLOCK);
}

static void stack_up(void)
{
	struct skiff_config c;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	int e, one = 1;

	CU_ASSERT_FATAL(tb_enter(H.net.ns[0]) == 0);
	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_XSK;
	c.ifname = H.net.ifname[0];
	memcpy(c.mac, stack_mac, 6);
	inet_pton(AF_INET, STACK_IP4, &c.ipv4);
	c.ipv4_prefix = 24;
	inet_pton(AF_INET6, STACK_IP6, c.ipv6);
	c.ipv6_prefix = 64;
	c.time_wait_ms = 200;
	e = skiff_init(&c) ? -errno : 0;
	if (e)
		tk_note("skiff_init: %s: %s", strerror(-e), skiff_last_error());
	CU_ASSERT_FATAL(e == 0);
	H.stack = true;
	H.lfd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(H.lfd >= 0);
	skiff_setsockopt(H.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CU_ASSERT_FATAL(skiff_bind(H.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(skiff_listen(H.lfd, 64) == 0);
}

/* One round of the stack, the listener's new connections taken, data on
 * the agent's connections discarded and the kernel's echoed. */
static void pump(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	uint8_t junk[4096];
	int c;

	skiff_poll(1);
	while ((c = skiff_accept(H.lfd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK)) >= 0) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
		if (H.sfd < 0 && strcmp(ip, PEER_IP4) == 0)
			H.sfd = c;
		else if (H.nheld < MAX_HELD)
			H.held[H.nheld++] = c;
		else
			skiff_close(c);
		alen = sizeof(a);
	}
	for (unsigned i = 0; i < H.nheld; i++)
		while (skiff_recv(H.held[i], junk, sizeof(junk), 0) > 0)
			;
	if (H.sfd >= 0) {
		ssize_t n;

		if (H.ehave < sizeof(H.echo)) {
			n = skiff_recv(H.sfd, H.echo + H.ehave, sizeof(H.echo) - H.ehave, 0);
			if (n > 0)
				H.ehave += (size_t)n;
		}
		if (H.eoff < H.ehave) {
			n = skiff_send(H.sfd, H.echo + H.eoff, H.ehave - H.eoff, 0);
			if (n > 0)
				H.eoff += (size_t)n;
		}
		if (H.eoff == H.ehave)
			H.eoff = H.ehave = 0;
	}
}

static void pump_ms(int ms)
{
	for (long long end = st_now_ms() + ms; st_now_ms() < end;)
		pump();
}

/* The kernel connects to the listener; skiff's end echoes. */
static void kconn_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	long long end = st_now_ms() + 5000;

	H.sfd = -1;
	inet_pton(AF_INET, STACK_IP4, &a.sin_addr);
	H.kfd = tb_socket(H.net.ns[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(H.kfd >= 0);
	CU_ASSERT_FATAL(connect(H.kfd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
			errno == EINPROGRESS);
	while (H.sfd < 0 && st_now_ms() < end)
		pump();
	CU_ASSERT_FATAL(H.sfd >= 0);
}

/* @p n bytes of the stream through the kernel's connection and back,
 * checked byte by byte. */
static bool kconn_round(size_t n)
{
	static uint8_t out[1 << 20], in[1 << 20];
	size_t sent = 0, got = 0;
	long long end = st_now_ms() + 15000;

	if (n > sizeof(out))
		n = sizeof(out);
	st_pattern(0x4057, H.koff, out, n);
	while (got < n && st_now_ms() < end) {
		ssize_t k;

		pump();
		if (sent < n && (k = send(H.kfd, out + sent, n - sent, MSG_DONTWAIT)) > 0)
			sent += (size_t)k;
		if ((k = recv(H.kfd, in + got, n - got, MSG_DONTWAIT)) > 0)
			got += (size_t)k;
	}
	H.koff += n;
	if (got != n) {
		tk_note("kernel connection: %zu of %zu bytes came back", got, n);
		return false;
	}
	return st_pattern_check(0x4057, H.koff - n, in, n) < 0;
}

/* ---- the agent ------------------------------------------------------------------------- */

/* The agent's next line (the stack kept running meanwhile), or false. */
static bool agent_line(char *line, size_t len, int ms)
{
	long long end = st_now_ms() + ms;

	for (;;) {
		char *nl = memchr(H.abuf, '\n', H.alen);

		if (nl) {
			size_t l = (size_t)(nl - H.abuf);

			snprintf(line, len, "%.*s", (int)l, H.abuf);
			memmove(H.abuf, nl + 1, H.alen - l - 1);
			H.alen -= l + 1;
			return true;
		}
		ssize_t k = read(H.from_agent, H.abuf + H.alen, sizeof(H.abuf) - 1 - H.alen);

		if (k > 0) {
			H.alen += (size_t)k;
			continue;
		}
		if (k == 0 || st_now_ms() > end)
			return false;
		if (H.stack)
			pump();
		else
			usleep(10000);
	}
}

static void agent_ready(void)
{
	char line[256];

	CU_ASSERT_FATAL(agent_line(line, sizeof(line), 30000));
	CU_ASSERT_FATAL(strstr(line, "ready") != NULL);
}

/* Runs a case: @p json is its command; the reply goes to @p out. */
static void agent_case(const char *json, char *out, size_t len)
{
	CU_ASSERT_FATAL(write(H.to_agent, json, strlen(json)) == (ssize_t)strlen(json));
	CU_ASSERT_FATAL(write(H.to_agent, "\n", 1) == 1);
	CU_ASSERT_FATAL(agent_line(out, len, 60000));
	tk_note("agent: %s", out);
	CU_ASSERT_FATAL(strstr(out, "\"error\"") == NULL);
}

/* A number or boolean of the agent's one-line JSON reply. */
static long long jnum(const char *json, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(json, k);
	if (!p) {
		tk_note("no \"%s\" in the agent's reply", key);
		CU_FAIL("agent reply incomplete");
		return -1;
	}
	p += strlen(k);
	if (!strncmp(p, "true", 4))
		return 1;
	if (!strncmp(p, "false", 5))
		return 0;
	return strtoll(p, NULL, 10);
}

/* ---- set-up per test --------------------------------------------------------------------- */

static void setup(void)
{
	memset(&H, 0, sizeof(H));
	H.lfd = H.kfd = H.sfd = H.to_agent = H.from_agent = -1;
}

static void teardown(void)
{
	if (H.agent > 0) {
		close(H.to_agent); /* the agent ends at EOF */
		for (int i = 0; i < 100 && waitpid(H.agent, NULL, WNOHANG) == 0; i++)
			usleep(20000);
		kill(H.agent, SIGKILL);
		waitpid(H.agent, NULL, 0);
		close(H.from_agent);
	}
	if (H.kfd >= 0)
		close(H.kfd);
	if (H.stack) {
		struct linger l = {1, 0};
		struct skiff_stats st;

		/* the agent's connections go with a RST: it will not answer */
		for (unsigned i = 0; i < H.nheld; i++) {
			skiff_setsockopt(H.held[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			skiff_close(H.held[i]);
		}
		if (H.sfd >= 0)
			skiff_close(H.sfd);
		if (H.lfd >= 0)
			skiff_close(H.lfd);
		st_assert_idle();
		skiff_get_stats(&st);
		TK_ASSERT_EQ(st.frames_total, st.frames_free + st.frames_fill);
		TK_ASSERT_EQ(st.rx_drop_no_pkb + st.tx_drop_no_frame, 0);
		if (getenv("ST_VERBOSE"))
			st_dump_stats("skiff");
		skiff_fini();
	}
	if (H.up) {
		tb_enter(NULL);
		tb_pair_destroy(&H.net);
	}
	memset(&H, 0, sizeof(H));
}

/* Namespaces, agent, stack, the kernel's connection moving data. */
static void begin(const char *tag, unsigned mtu)
{
	env_up(tag, mtu);
	agent_start();
	agent_ready();
	stack_up();
	kconn_open();
	CU_ASSERT_FATAL(kconn_round(64 * 1024));
	skiff_get_stats(&H.before);
}

#define DELTA(st, f) ((long long)((st).f - H.before.f))

/* The kernel's connection after the attack: 1 MiB there and back. */
static bool intact(void)
{
	bool ok = kconn_round(1 << 20);

	CU_ASSERT(ok);
	return ok;
}

/* ---- malformed packets --------------------------------------------------------------------- */

static void test_bad_ip_checksums(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("ipcsum", 0);
	agent_case("{\"case\": \"bad_ip_checksum\", \"n\": 40}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	TK_ASSERT_EQ(DELTA(st, ip_checksum_err), 40);
	tk_score("40 IPv4 packets (ICMP, TCP SYN) with bad header checksums: %lld answered, "
		 "ip_checksum_err +%lld, connection %s",
		 jnum(r, "answered"), DELTA(st, ip_checksum_err), ok ? "intact" : "BROKEN");
}

static void test_bad_tcp_checksums(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("tcpcsum", 0);
	agent_case("{\"case\": \"bad_tcp_checksum\", \"n\": 40}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	TK_ASSERT_EQ(jnum(r, "alive"), 1);
	TK_ASSERT_EQ(DELTA(st, tcp_checksum_err), 40);
	tk_score("40 TCP segments (SYNs, in-sequence data) with bad checksums: %lld "
		 "answered, tcp_checksum_err +%lld, connections %s",
		 jnum(r, "answered"), DELTA(st, tcp_checksum_err),
		 ok && jnum(r, "alive") ? "intact" : "BROKEN");
}

static void test_truncated_headers(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("trunc", 0);
	agent_case("{\"case\": \"truncated\", \"n\": 40}", r, sizeof(r));
	skiff_get_stats(&st);
	tk_note("rx %lld ip drop %lld csum %lld xdp passed %lld tcp drop %lld",
		DELTA(st, rx_frames), DELTA(st, ip_rx_drop), DELTA(st, ip_checksum_err),
		DELTA(st, xdp_passed_not_ours), DELTA(st, tcp_rx_drop));
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	TK_ASSERT_EQ(DELTA(st, ip_len_err), 20);
	TK_ASSERT_EQ(DELTA(st, tcp_len_err), 20);
	tk_score("40 truncated packets (IPv4 length or IHL past the end, 10-byte TCP "
		 "header, data offset past the end): %lld answered, ip_len_err +%lld, "
		 "tcp_len_err +%lld, connection %s",
		 jnum(r, "answered"), DELTA(st, ip_len_err), DELTA(st, tcp_len_err),
		 ok ? "intact" : "BROKEN");
}

static void test_bad_tcp_options(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("tcpopt", 0);
	agent_case("{\"case\": \"tcp_options\", \"n\": 10}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	/* Malformed or unknown options are ignored, not the segments
	 * (RFC 9293 3.1; Linux does the same). */
	TK_ASSERT_EQ(jnum(r, "syn_answered"), 10);
	TK_ASSERT_EQ(jnum(r, "data_acked"), 10);
	TK_ASSERT_EQ(jnum(r, "alive"), 1);
	TK_ASSERT_EQ(DELTA(st, tcp_bad_options), 12);
	TK_ASSERT_EQ(DELTA(st, tcp_unknown_options), 8);
	tk_score("10 SYNs + 10 data segments with options of length 0, past the header, "
		 "length 1, unknown kinds: %lld/10 SYN-ACKed, %lld/10 data ACKed, "
		 "tcp_bad_options +%lld, tcp_unknown_options +%lld, connections %s",
		 jnum(r, "syn_answered"), jnum(r, "data_acked"), DELTA(st, tcp_bad_options),
		 DELTA(st, tcp_unknown_options), ok && jnum(r, "alive") ? "intact" : "BROKEN");
}

/* ---- RFC 5961 ------------------------------------------------------------------------- */

static void probe_case(const char *tag, const char *agent_name, long long want_answers,
		       const char *what)
{
	char r[1024], cmd[128];
	struct skiff_stats st;
	bool ok;

	begin(tag, 0);
	snprintf(cmd, sizeof(cmd), "{\"case\": \"%s\", \"n\": 40}", agent_name);
	agent_case(cmd, r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), want_answers);
	TK_ASSERT_EQ(jnum(r, "rst"), 0);
	TK_ASSERT_EQ(jnum(r, "alive"), 1);
	if (want_answers == 0)
		TK_ASSERT_EQ(DELTA(st, tcp_rst_ignored), 40);
	if (want_answers == 40)
		TK_ASSERT_EQ(DELTA(st, tcp_rx_out_of_window), 40);
	if (want_answers == 1) { /* a challenge ACK, then the rate limit */
		TK_ASSERT_EQ(jnum(r, "acks_rcv_nxt"), 1);
		TK_ASSERT_EQ(DELTA(st, tcp_challenge_acks), 1);
		TK_ASSERT_EQ(DELTA(st, tcp_challenge_acks_limited), 39);
	}
	tk_score("40 %s on an established connection: %lld answered, "
		 "tcp_challenge_acks +%lld, tcp_challenge_acks_limited +%lld, "
		 "tcp_rst_ignored +%lld, tcp_rx_out_of_window +%lld, connections %s",
		 what, jnum(r, "answered"), DELTA(st, tcp_challenge_acks),
		 DELTA(st, tcp_challenge_acks_limited), DELTA(st, tcp_rst_ignored),
		 DELTA(st, tcp_rx_out_of_window), ok && jnum(r, "alive") ? "intact" : "BROKEN");
}

static void test_rst_out_of_window(void)
{
	probe_case("rstoow", "rst_out_of_window", 0, "RSTs outside the window");
}

static void test_rst_in_window_challenge_ack(void)
{
	probe_case("rstwin", "rst_in_window", 1, "in-window RSTs (not at RCV.NXT)");
}

static void test_syn_on_established(void)
{
	probe_case("synest", "syn_established", 1, "SYNs");
}

static void test_ack_of_unsent_data(void)
{
	probe_case("badack", "bad_ack", 1, "ACKs of data never sent");
}

static void test_out_of_window_data(void)
{
	probe_case("oowdata", "oow_data", 40, "data segments 1 MB past the window");
}

/* ---- IP and link layer ---------------------------------------------------------------- */

static void test_ip_fragments(void)
{
	char r[1024];
	struct skiff_stats st;
	long long t0;
	bool ok;

	begin("frag", 0);
	agent_case("{\"case\": \"fragments\", \"n\": 20}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "whole_answered"), 1);
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	CU_ASSERT(DELTA(st, ip_frag_drop) >= 21);
	/* Incomplete datagrams give their frames back when they expire. */
	t0 = st_now_ms();
	while (st.lwip_reass_used && st_now_ms() - t0 < 10000) {
		pump_ms(50);
		skiff_get_stats(&st);
	}
	TK_ASSERT_EQ(st.lwip_reass_used, 0);
	tk_score("3-fragment ping answered (%lld); 20 overlapping pairs, 20 lone first "
		 "fragments, 1 ending past 65535: %lld answered, ip_frag_drop +%lld, "
		 "reassembly empty %.1f s later, connection %s",
		 jnum(r, "whole_answered"), jnum(r, "answered"), DELTA(st, ip_frag_drop),
		 (st_now_ms() - t0) / 1000.0, ok ? "intact" : "BROKEN");
}

static void test_oversized_and_undersized_frames(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("frames", 2000);
	agent_case("{\"case\": \"frames\", \"n\": 40, \"big\": 1600}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	/* Over the MTU: the stack drops them. Shorter than an IPv4 header:
	 * our XDP program cannot classify them and leaves them to the
	 * kernel, so they never reach the stack. */
	TK_ASSERT_EQ(DELTA(st, rx_drop_bad_frame) + DELTA(st, xdp_rx_dropped), 20);
	CU_ASSERT(DELTA(st, xdp_passed_not_ours) >= 20);
	tk_score("20 frames of 1600 bytes (MTU 1500) and 20 of 14-20 bytes: %lld answered, "
		 "rx_drop_bad_frame +%lld, xdp_rx_dropped +%lld, xdp_passed_not_ours "
		 "+%lld, connection %s",
		 jnum(r, "answered"), DELTA(st, rx_drop_bad_frame), DELTA(st, xdp_rx_dropped),
		 DELTA(st, xdp_passed_not_ours), ok ? "intact" : "BROKEN");
}

static void test_bogus_vlan_tags(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("vlan", 0);
	agent_case("{\"case\": \"vlan\", \"n\": 20}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	TK_ASSERT_EQ(DELTA(st, rx_drop_vlan), 20);
	TK_ASSERT_EQ(jnum(r, "prio_tag_answered"), 1);
	tk_score("20 pings tagged VID 42/7 (802.1Q and 802.1ad) to an untagged stack: "
		 "%lld answered, rx_drop_vlan +%lld; priority-tagged (VID 0) ping "
		 "answered %lld; connection %s",
		 jnum(r, "answered"), DELTA(st, rx_drop_vlan), jnum(r, "prio_tag_answered"),
		 ok ? "intact" : "BROKEN");
}

static void test_arp_nd_spoofing(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	begin("spoof", 0);
	agent_case("{\"case\": \"spoof\", \"n\": 20}", r, sizeof(r));
	skiff_get_stats(&st);
	ok = intact();
	TK_ASSERT_EQ(jnum(r, "answered"), 0);
	TK_ASSERT_EQ(DELTA(st, arp_spoof_drop), 10);
	TK_ASSERT_EQ(DELTA(st, nd6_spoof_drop), 10);
	TK_ASSERT_EQ(jnum(r, "pings_answered"), 2);
	TK_ASSERT_EQ(jnum(r, "pings_to_our_mac"), 2);
	tk_score("20 ARP/ND claims on the stack's addresses (gratuitous ARP, ARP reply, "
		 "NA, NS from its address): %lld answered, arp_spoof_drop +%lld, "
		 "nd6_spoof_drop +%lld; pings after: %lld/2 answered to the right MAC; "
		 "connection %s",
		 jnum(r, "answered"), DELTA(st, arp_spoof_drop), DELTA(st, nd6_spoof_drop),
		 jnum(r, "pings_to_our_mac"), ok ? "intact" : "BROKEN");
}

/* ---- SYN flood ----------------------------------------------------------------------- */

#define FLOOD_SYNS  20000
#define FLOOD_RATE  4000 /* per second: 5 s */
#define LEGIT_CONNS 20

/* skiff's end of the kernel's connection streams to the kernel for
 * @p ms (the agent's reply may end it early); bytes received. */
struct stream {
	uint64_t bytes;
	double seconds;
};

static uint8_t sbuf[256 * 1024], kbuf[256 * 1024];

static void stream_step(struct stream *s)
{
	ssize_t k;

	skiff_send(H.sfd, sbuf, sizeof(sbuf), MSG_DONTWAIT);
	while ((k = recv(H.kfd, kbuf, sizeof(kbuf), MSG_DONTWAIT)) > 0)
		s->bytes += (uint64_t)k;
}

static void stream_for(struct stream *s, int ms)
{
	long long t0 = st_now_ms();

	memset(s, 0, sizeof(*s));
	while (st_now_ms() - t0 < ms) {
		skiff_poll(0);
		stream_step(s);
	}
	s->seconds = (st_now_ms() - t0) / 1000.0;
}

static double mbit(const struct stream *s)
{
	return s->seconds > 0 ? s->bytes * 8 / s->seconds / 1e6 : 0;
}

struct legit {
	int kfd, sfd;
	long long t0;
	bool done;
};

/* Accepted connections go to the connects still waiting, in order; a
 * connect is done when the kernel's end is connected and skiff accepted. */
static void legit_progress(struct legit *lg, unsigned started, int ffd, unsigned *ok)
{
	int c;

	while ((c = skiff_accept(ffd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		unsigned j;

		for (j = 0; j < started && (lg[j].sfd >= 0 || lg[j].done); j++)
			;
		if (j < started)
			lg[j].sfd = c;
		else
			skiff_close(c);
	}
	for (unsigned i = 0; i < started; i++)
		if (!lg[i].done && lg[i].sfd >= 0 &&
		    send(lg[i].kfd, "hello", 5, MSG_DONTWAIT | MSG_NOSIGNAL) == 5) {
			lg[i].done = true;
			(*ok)++;
		}
}

static void test_syn_flood(void)
{
	struct sockaddr_in fa = {.sin_family = AF_INET, .sin_port = htons(FLOOD_PORT)};
	struct legit lg[LEGIT_CONNS];
	struct stream before, during = {0};
	struct skiff_stats st, mid;
	char r[1024], line[256];
	unsigned started = 0, ok_conns = 0, max_half_open = 0;
	long long t0, t_end, next = 0, next_sample = 0;
	int ffd;

	begin("flood", 0);
	ffd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(ffd >= 0);
	CU_ASSERT_FATAL(skiff_bind(ffd, (struct sockaddr *)&fa, sizeof(fa)) == 0);
	CU_ASSERT_FATAL(skiff_listen(ffd, 128) == 0);
	inet_pton(AF_INET, STACK_IP4, &fa.sin_addr);
	/* Drain the echo state: the connection now only streams to the kernel. */
	pump_ms(100);
	H.ehave = H.eoff = 0;
	stream_for(&before, 2000);

	snprintf(r, sizeof(r), "{\"case\": \"flood\", \"count\": %d, \"rate\": %d, \"port\": %d}\n",
		 FLOOD_SYNS, FLOOD_RATE, FLOOD_PORT);
	CU_ASSERT_FATAL(write(H.to_agent, r, strlen(r)) == (ssize_t)strlen(r));
	CU_ASSERT_FATAL(agent_line(line, sizeof(line), 30000)); /* frames built, flood starts */
	t0 = st_now_ms();
	r[0] = '\0';
	memset(lg, 0, sizeof(lg));
	/* While it lasts: stream, and a legitimate connect every 200 ms. */
	for (;;) {
		ssize_t k = read(H.from_agent, H.abuf + H.alen, sizeof(H.abuf) - 1 - H.alen);

		if (k > 0)
			H.alen += (size_t)k;
		if (memchr(H.abuf, '\n', H.alen)) {
			agent_line(r, sizeof(r), 0);
			break;
		}
		CU_ASSERT_FATAL(st_now_ms() - t0 < 60000);
		skiff_poll(0);
		stream_step(&during);
		if (started < LEGIT_CONNS && st_now_ms() >= next) {
			struct legit *l = &lg[started++];

			l->sfd = -1;
			l->t0 = st_now_ms();
			l->kfd = tb_socket(H.net.ns[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
			CU_ASSERT_FATAL(l->kfd >= 0);
			connect(l->kfd, (struct sockaddr *)&fa, sizeof(fa));
			next = st_now_ms() + 200;
		}
		legit_progress(lg, started, ffd, &ok_conns);
		/* The peak, sampled every 10 ms: skiff_get_stats() audits every
		 * frame, and called each round it ate the stream's CPU. */
		if (st_now_ms() >= next_sample) {
			skiff_get_stats(&mid);
			if (mid.lwip_pcbs_used > max_half_open)
				max_half_open = mid.lwip_pcbs_used;
			next_sample = st_now_ms() + 10;
		}
	}
	during.seconds = (st_now_ms() - t0) / 1000.0;
	skiff_get_stats(&st);
	tk_note("flood agent: %s", r);
	/* Connects still under way when the flood ended get 3 s more. */
	t_end = st_now_ms();
	while (ok_conns < started && st_now_ms() - t_end < 3000) {
		skiff_poll(1);
		legit_progress(lg, started, ffd, &ok_conns);
	}
	/* Half-open connections must be gone within their bounded lifetime
	 * (5 s), counted from the flood's end. */
	t_end = st_now_ms();
	for (;;) {
		skiff_get_stats(&mid);
		/* listeners 2, the kernel's connection, the legitimate ones */
		if (mid.lwip_pcbs_used <= 3 + ok_conns || st_now_ms() - t_end > 10000)
			break;
		pump_ms(20);
	}
	double gone_s = (st_now_ms() - t_end) / 1000.0;

	tk_note("stream before: %.0f Mbit/s; during the flood: %.0f Mbit/s (%.2f s)", mbit(&before),
		mbit(&during), during.seconds);
	tk_note("SYN cookies sent %llu (connections from cookies %llu), half-open expired %llu, "
		"listen overflows %llu; peak PCBs %u; half-open gone %.2f s after the flood",
		(unsigned long long)(mid.tcp_syncookies_sent - H.before.tcp_syncookies_sent),
		(unsigned long long)(mid.tcp_syncookies_ok - H.before.tcp_syncookies_ok),
		(unsigned long long)(mid.tcp_syn_rcvd_timeouts - H.before.tcp_syn_rcvd_timeouts),
		(unsigned long long)(mid.tcp_listen_overflows - H.before.tcp_listen_overflows),
		max_half_open, gone_s);
	TK_ASSERT_EQ(jnum(r, "sent"), FLOOD_SYNS);
	TK_ASSERT_EQ(ok_conns, LEGIT_CONNS);
	CU_ASSERT(mbit(&during) >= 0.2 * mbit(&before));
	CU_ASSERT(max_half_open <= 3 + LEGIT_CONNS + 128);
	CU_ASSERT(mid.lwip_pcbs_used <= 3 + ok_conns);
	/* Past the backlog every SYN is answered with a cookie, no state. */
	CU_ASSERT(mid.tcp_syncookies_sent > H.before.tcp_syncookies_sent);
	TK_ASSERT_EQ(mid.tcp_listen_overflow_rsts - H.before.tcp_listen_overflow_rsts, 0);
	tk_score("%d SYNs at %d/s from random addresses/ports: stream %.0f -> %.0f Mbit/s "
		 "(%.0f%%), %u/%d legitimate connects, peak PCBs %u, SYN cookies "
		 "+%llu, half-open gone %.1f s after",
		 FLOOD_SYNS, FLOOD_RATE, mbit(&before), mbit(&during),
		 mbit(&before) > 0 ? 100 * mbit(&during) / mbit(&before) : 0, ok_conns, LEGIT_CONNS,
		 max_half_open,
		 (unsigned long long)(mid.tcp_syncookies_sent - H.before.tcp_syncookies_sent),
		 gone_s);
	for (unsigned i = 0; i < started; i++) {
		close(lg[i].kfd);
		if (lg[i].sfd >= 0)
			skiff_close(lg[i].sfd);
	}
	skiff_close(ffd);
	/* the stream's leftovers: drain so the closes finish cleanly */
	for (long long end = st_now_ms() + 500; st_now_ms() < end;) {
		skiff_poll(1);
		while (recv(H.kfd, kbuf, sizeof(kbuf), MSG_DONTWAIT) > 0)
			;
	}
}

static const struct tk_case tests[] = {
	TK_TEST(test_bad_ip_checksums),
	TK_TEST(test_bad_tcp_checksums),
	TK_TEST(test_truncated_headers),
	TK_TEST(test_bad_tcp_options),
	TK_TEST(test_rst_out_of_window),
	TK_TEST(test_rst_in_window_challenge_ack),
	TK_TEST(test_syn_on_established),
	TK_TEST(test_ack_of_unsent_data),
	TK_TEST(test_out_of_window_data),
	TK_TEST(test_ip_fragments),
	TK_TEST(test_oversized_and_undersized_frames),
	TK_TEST(test_bogus_vlan_tags),
	TK_TEST(test_arp_nd_spoofing),
	TK_TEST(test_syn_flood),
	TK_TEST_END,
};

static const struct tk_suite suite = {"hostile", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
