/* The bed of the hostile tests (hostile_bed.h): namespaces, the agent, the
 * stack and the kernel's connection, each test's own. */
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

#include "hostile_bed.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define AGENT SKIFF_SOURCE_DIR "/tests/reliability/hostile/hostile_agent.py"

static const uint8_t stack_mac[6] = {0x02, 0x53, 0x4b, 0x49, 0x46, 0x46};

struct hostile_bed hb;

/* ---- environment ------------------------------------------------------------------------ */

static void env_up(const char *tag, unsigned mtu)
{
	tk_require_privileged();
	if (tb_run(NULL, "/usr/bin/python3 -c 'import scapy.all' 2>/dev/null") != 0)
		tk_skip("no Scapy for /usr/bin/python3 (tests/host/setup.sh installs it)");
	CU_ASSERT_FATAL(tb_pair_create(&hb.net, tag, 1, NULL, HB_PEER_IP4 "/24") == 0);
	hb.up = true;
	CU_ASSERT_FATAL(tb_addr(hb.net.ns[1], hb.net.ifname[1], HB_OWN_IP4 "/24") == 0);
	CU_ASSERT_FATAL(tb_addr(hb.net.ns[1], hb.net.ifname[1], HB_PEER_IP6 "/64") == 0);
	/* The agent's connections must not be reset by the kernel that owns
	 * their address. (TX checksum offload is off: tb_veth().) */
	CU_ASSERT_FATAL(tb_run(hb.net.ns[1],
			       "iptables -A OUTPUT -s %s -p tcp --tcp-flags RST RST -j DROP",
			       HB_OWN_IP4) == 0);
	if (mtu) {
		CU_ASSERT_FATAL(tb_run(hb.net.ns[0], "ip link set dev %s mtu %u", hb.net.ifname[0],
				       mtu) == 0);
		CU_ASSERT_FATAL(tb_run(hb.net.ns[1], "ip link set dev %s mtu %u", hb.net.ifname[1],
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
	hb.agent = fork();
	CU_ASSERT_FATAL(hb.agent >= 0);
	if (hb.agent == 0) {
		char port[8];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		if (tb_enter(hb.net.ns[1]) != 0)
			_exit(99);
		snprintf(port, sizeof(port), "%d", HB_PORT);
		execl("/usr/bin/python3", "python3", "-u", AGENT, hb.net.ifname[1], mac,
		      HB_STACK_IP4, HB_STACK_IP6, HB_PEER_IP4, HB_OWN_IP4, port, (char *)NULL);
		_exit(98);
	}
	close(in[0]);
	close(out[1]);
	hb.to_agent = in[1];
	hb.from_agent = out[0];
	fcntl(hb.from_agent, F_SETFL, O_NONBLOCK);
}

static void stack_up(void)
{
	struct skiff_config c;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(HB_PORT)};
	int e, one = 1;

	CU_ASSERT_FATAL(tb_enter(hb.net.ns[0]) == 0);
	memset(&c, 0, sizeof(c));
	c.backend = SKIFF_BACKEND_XSK;
	c.ifname = hb.net.ifname[0];
	memcpy(c.mac, stack_mac, 6);
	inet_pton(AF_INET, HB_STACK_IP4, &c.ipv4);
	c.ipv4_prefix = 24;
	inet_pton(AF_INET6, HB_STACK_IP6, c.ipv6);
	c.ipv6_prefix = 64;
	c.time_wait_ms = 200;
	e = skiff_init(&c) ? -errno : 0;
	if (e)
		tk_note("skiff_init: %s: %s", strerror(-e), skiff_last_error());
	CU_ASSERT_FATAL(e == 0);
	hb.stack = true;
	hb.lfd = skiff_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, hb.mptcp ? IPPROTO_MPTCP : 0);
	CU_ASSERT_FATAL(hb.lfd >= 0);
	skiff_setsockopt(hb.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	CU_ASSERT_FATAL(skiff_bind(hb.lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CU_ASSERT_FATAL(skiff_listen(hb.lfd, 64) == 0);
}

void hb_pump(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	uint8_t junk[4096];
	int c;

	skiff_poll(1);
	while ((c = skiff_accept(hb.lfd, (struct sockaddr *)&a, &alen, SOCK_NONBLOCK)) >= 0) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
		if (hb.sfd < 0 && strcmp(ip, HB_PEER_IP4) == 0)
			hb.sfd = c;
		else if (hb.nheld < HB_MAX_HELD)
			hb.held[hb.nheld++] = c;
		else
			skiff_close(c);
		alen = sizeof(a);
	}
	for (unsigned i = 0; i < hb.nheld; i++) {
		ssize_t n;

		while ((n = skiff_recv(hb.held[i], junk, sizeof(junk), 0)) > 0) {
			hb.hrx += (uint64_t)n;
			for (ssize_t k = 0; k < n; k++)
				hb.hsum = (hb.hsum ^ junk[k]) * 0x100000001b3ull;
		}
	}
	if (hb.sfd >= 0) {
		ssize_t n;

		if (hb.ehave < sizeof(hb.echo)) {
			n = skiff_recv(hb.sfd, hb.echo + hb.ehave, sizeof(hb.echo) - hb.ehave, 0);
			if (n > 0) {
				hb.ehave += (size_t)n;
				hb.srx += (uint64_t)n;
			}
			if (n < 0 && errno != EAGAIN && !hb.serr)
				hb.serr = errno;
		}
		if (hb.eoff < hb.ehave) {
			n = skiff_send(hb.sfd, hb.echo + hb.eoff, hb.ehave - hb.eoff, 0);
			if (n > 0)
				hb.eoff += (size_t)n;
			if (n < 0 && errno != EAGAIN && !hb.serr)
				hb.serr = errno;
		}
		if (hb.eoff == hb.ehave)
			hb.eoff = hb.ehave = 0;
	}
}

void hb_pump_ms(int ms)
{
	for (long long end = st_now_ms() + ms; st_now_ms() < end;)
		hb_pump();
}

/* The kernel connects to the listener; skiff's end echoes. */
static void kconn_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(HB_PORT)};
	long long end = st_now_ms() + 5000;

	hb.sfd = -1;
	inet_pton(AF_INET, HB_STACK_IP4, &a.sin_addr);
	hb.kfd = tb_socket(hb.net.ns[1], AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
			   hb.mptcp ? IPPROTO_MPTCP : 0);
	CU_ASSERT_FATAL(hb.kfd >= 0);
	CU_ASSERT_FATAL(connect(hb.kfd, (struct sockaddr *)&a, sizeof(a)) == 0 ||
			errno == EINPROGRESS);
	while (hb.sfd < 0 && st_now_ms() < end)
		hb_pump();
	CU_ASSERT_FATAL(hb.sfd >= 0);
}

/* @p n bytes of the stream through the kernel's connection and back,
 * checked byte by byte. */
bool hb_kconn_round(size_t n)
{
	static uint8_t out[1 << 20], in[1 << 20];
	size_t sent = 0, got = 0;
	long long end = st_now_ms() + 15000;

	if (n > sizeof(out))
		n = sizeof(out);
	st_pattern(0x4057, hb.koff, out, n);
	while (got < n && st_now_ms() < end) {
		ssize_t k;

		hb_pump();
		if (sent < n && (k = send(hb.kfd, out + sent, n - sent, MSG_DONTWAIT)) > 0)
			sent += (size_t)k;
		if ((k = recv(hb.kfd, in + got, n - got, MSG_DONTWAIT)) > 0)
			got += (size_t)k;
	}
	hb.koff += n;
	if (got != n) {
		tk_note("kernel connection: %zu of %zu bytes came back", got, n);
		return false;
	}
	return st_pattern_check(0x4057, hb.koff - n, in, n) < 0;
}

/* ---- the agent ------------------------------------------------------------------------- */

/* The agent's next line (the stack kept running meanwhile), or false. */
bool hb_agent_line(char *line, size_t len, int ms)
{
	long long end = st_now_ms() + ms;

	for (;;) {
		char *nl = memchr(hb.abuf, '\n', hb.alen);

		if (nl) {
			size_t l = (size_t)(nl - hb.abuf);

			snprintf(line, len, "%.*s", (int)l, hb.abuf);
			memmove(hb.abuf, nl + 1, hb.alen - l - 1);
			hb.alen -= l + 1;
			return true;
		}
		ssize_t k = read(hb.from_agent, hb.abuf + hb.alen, sizeof(hb.abuf) - 1 - hb.alen);

		if (k > 0) {
			hb.alen += (size_t)k;
			continue;
		}
		if (k == 0 || st_now_ms() > end)
			return false;
		if (hb.stack)
			hb_pump();
		else
			usleep(10000);
	}
}

static void agent_ready(void)
{
	char line[256];

	CU_ASSERT_FATAL(hb_agent_line(line, sizeof(line), 30000));
	CU_ASSERT_FATAL(strstr(line, "ready") != NULL);
}

/* Runs a case: @p json is its command; the reply goes to @p out. */
void hb_agent_case(const char *json, char *out, size_t len)
{
	CU_ASSERT_FATAL(write(hb.to_agent, json, strlen(json)) == (ssize_t)strlen(json));
	CU_ASSERT_FATAL(write(hb.to_agent, "\n", 1) == 1);
	CU_ASSERT_FATAL(hb_agent_line(out, len, 60000));
	tk_note("agent: %s", out);
	CU_ASSERT_FATAL(strstr(out, "\"error\"") == NULL);
}

/* A number or boolean of the agent's one-line JSON reply. */
long long hb_jnum(const char *json, const char *key)
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

void hb_setup(void)
{
	memset(&hb, 0, sizeof(hb));
	hb.lfd = hb.kfd = hb.sfd = hb.to_agent = hb.from_agent = -1;
}

void hb_teardown(void)
{
	if (hb.agent > 0) {
		close(hb.to_agent); /* the agent ends at EOF */
		for (int i = 0; i < 100 && waitpid(hb.agent, NULL, WNOHANG) == 0; i++)
			usleep(20000);
		kill(hb.agent, SIGKILL);
		waitpid(hb.agent, NULL, 0);
		close(hb.from_agent);
	}
	if (hb.kfd >= 0)
		close(hb.kfd);
	if (hb.stack) {
		struct linger l = {1, 0};
		struct skiff_stats st;

		/* the agent's connections go with a RST: it will not answer */
		for (unsigned i = 0; i < hb.nheld; i++) {
			skiff_setsockopt(hb.held[i], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			skiff_close(hb.held[i]);
		}
		if (hb.sfd >= 0)
			skiff_close(hb.sfd);
		if (hb.lfd >= 0)
			skiff_close(hb.lfd);
		st_assert_idle();
		skiff_get_stats(&st);
		TK_ASSERT_EQ(st.frames_total, st.frames_free + st.frames_fill);
		TK_ASSERT_EQ(st.rx_drop_no_pkb + st.tx_drop_no_frame, 0);
		if (getenv("ST_VERBOSE"))
			st_dump_stats("skiff");
		skiff_fini();
	}
	if (hb.up) {
		tb_enter(NULL);
		tb_pair_destroy(&hb.net);
	}
	memset(&hb, 0, sizeof(hb));
}

void hb_begin(const char *tag, unsigned mtu)
{
	env_up(tag, mtu);
	agent_start();
	agent_ready();
	stack_up();
	kconn_open();
	CU_ASSERT_FATAL(hb_kconn_round(64 * 1024));
	hb.hsum = 0xcbf29ce484222325ull; /* FNV-1a's basis */
	skiff_get_stats(&hb.before);
}

void hb_begin_mptcp(const char *tag)
{
	struct skiff_mptcp_status ms;

	hb.mptcp = true;
	hb_begin(tag, 0);
	CU_ASSERT_FATAL(skiff_mptcp_status(hb.sfd, &ms) == 0);
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_ACTIVE);
}

bool hb_intact(void)
{
	bool ok = hb_kconn_round(1 << 20);

	CU_ASSERT(ok);
	return ok;
}
