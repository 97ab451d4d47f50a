/* skiff against the Linux kernel's TCP/IP: two namespaces joined by a veth,
 * skiff on AF_XDP (copy mode) at one end (ns[0], the test process enters
 * it), the kernel at the other (ns[1], a child process with ordinary
 * sockets). Every transfer is checked byte by byte and by SHA-256. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <skiff/stat.h>

#include "../../stack/skiff_testing.h"
#include "testbed.h"
#include "stack_test.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define STACK_IP4 "10.77.0.10"
#define PEER_IP4  "10.77.0.2"
#define STACK_IP6 "fd77::10"
#define PEER_IP6  "fd77::2"
#define PEER2_IP4 "10.77.0.3" /* the Linux client's second address (MPTCP joins) */
#define PEER2_IP6 "fd77::3"
#define PORT	  6001
/* 64 MiB, a quarter under ASan (ST_BIG(); the 64 MiB transfers took 4 of
 * CI's ASan stage's 12 min). */
#define BIG ST_BIG(64 * ST_MIB)

static const uint8_t stack_mac[6] = {0x02, 0x53, 0x4b, 0x49, 0x46, 0x46};

static struct {
	struct tb_pair net;
	bool up;
	bool stack;
	pid_t child;
	char link_b[2][IF_NAMESIZE]; /* a second veth between the namespaces (two ports) */
} K;

/* ---- environment ------------------------------------------------------------ */

static void env_up(const char *tag)
{
	tk_require_privileged();
	CU_ASSERT_FATAL(tb_pair_create(&K.net, tag, 1, NULL, PEER_IP4 "/24") == 0);
	K.up = true;
	/* The pair's ends have TX checksum offload off (tb_veth()): veth
	 * would hand XDP the kernel's packets with checksums left for an
	 * offload that never comes (CHECKSUM_PARTIAL). */
	CU_ASSERT_FATAL(tb_addr(K.net.ns[1], K.net.ifname[1], PEER_IP6 "/64") == 0);
}

/* env_up() with Linux's MPTCP on in the peer's namespace; the test is
 * skipped, saying why, on a kernel without it. */
static void mptcp_env_up(const char *name)
{
	int probe;

	env_up(name);
	if (tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.enabled=1") != 0)
		tk_skip("no MPTCP in this kernel (net.mptcp.enabled)");
	probe = tb_socket(K.net.ns[1], AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (probe < 0)
		tk_skip("no MPTCP sockets in this kernel: %s", strerror(-probe));
	close(probe);
}

/* skiff's MPTCP listener on the wildcard address, PORT. */
static int mptcp_listen(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = st_sockaddr(family, "0.0.0.0", "::", PORT, &ss);
	int lfd = skiff_socket(family, SOCK_STREAM, IPPROTO_MPTCP);

	CU_ASSERT_FATAL(lfd >= 0);
	CU_ASSERT_FATAL(skiff_bind(lfd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT_FATAL(skiff_listen(lfd, 8) == 0);
	return lfd;
}

static void stack_up(void)
{
	st_xsk_up(K.net.ns[0], K.net.ifname[0], stack_mac, STACK_IP4, NULL, STACK_IP6, NULL);
	K.stack = true;
}

static void setup(void)
{
	memset(&K, 0, sizeof(K));
}

static void teardown(void)
{
	if (K.child > 0)
		st_child_wait(K.child, 2000);
	if (K.stack)
		st_stack_down(true);
	st_xsk_tweak = NULL;
	if (K.up) {
		tb_enter(NULL);
		tb_pair_destroy(&K.net);
	}
	memset(&K, 0, sizeof(K));
}

/* The kernel side runs in a child, in ns[1]. */
struct kjob {
	int (*fn)(struct kjob *j);
	int family;
	int proto;
	uint64_t bytes;
	unsigned count;
	int arg;
};

static int kchild_main(void *arg)
{
	struct kjob *j = arg;

	if (tb_enter(K.net.ns[1]) != 0)
		return 99;
	return j->fn(j);
}

/* Forks the kernel side (before the stack exists: the child must not
 * inherit a UMEM). */
static void kchild(struct kjob *j)
{
	K.child = st_child_start(kchild_main, j);
	CU_ASSERT_FATAL(K.child > 0);
}

static int kchild_done(int ms)
{
	int rc = st_child_wait(K.child, ms);

	K.child = 0;
	if (rc)
		tk_note("kernel side exited with %d", rc);
	return rc;
}

/* The Linux child's report of a two-way transfer, its exit, and both
 * directions checked against @p mine. */
static void kchild_two_way_done(const struct st_two_way *mine, struct st_two_way *theirs,
				uint64_t bytes)
{
	CU_ASSERT_FATAL(st_child_read_report(theirs, sizeof(*theirs), 60000));
	TK_ASSERT_EQ(kchild_done(10000), 0);
	st_check_two_way(mine, theirs, bytes);
}

/* ---- kernel socket helpers (child side) ------------------------------------------- */

static int k_connect(int family, int proto, uint16_t port)
{
	return st_kernel_connect(family, proto, STACK_IP4, STACK_IP6, port);
}

static int s_connect(int family, uint16_t port)
{
	return st_skiff_connect(family, PEER_IP4, PEER_IP6, port);
}

/* ---- 64 MiB each way ---------------------------------------------------------------- */

/* The kernel's end of the two-way transfers. */
static int k_client_two_way(struct kjob *j)
{
	return st_kernel_two_way_client(j->family, j->proto, STACK_IP4, STACK_IP6, PORT, j->bytes);
}

/* In the child: at the test's go, @p j's connection to skiff's port (its
 * descriptor, or -2 without a go, -3 when the connect failed). */
static int k_connect_at_go(struct kjob *j)
{
	int fd;

	if (!st_child_wait_go(20000))
		return -2;
	fd = k_connect(j->family, j->proto, PORT);
	return fd < 0 ? -3 : fd;
}

/* As k_client_two_way(), but the upload starts at a second go: once the
 * test saw the join (a Linux client adds no subflow after its DATA_FIN,
 * which a short upload sends at once). */
static int k_client_two_way_later(struct kjob *j)
{
	int fd = k_connect_at_go(j);

	if (fd < 0)
		return -fd;
	if (!st_child_wait_go(20000))
		return 6;
	return st_kernel_two_way_over(fd, j->bytes);
}

static int k_server_two_way(struct kjob *j)
{
	return st_kernel_two_way_server(j->family, PORT, j->bytes);
}

static void kernel_client_to_skiff(int family, int proto, uint64_t bytes, bool zc)
{
	struct kjob j = {.fn = k_client_two_way, .family = family, .proto = proto, .bytes = bytes};
	struct st_two_way mine, theirs;
	int lfd;

	env_up(family == AF_INET ? "kc4" : "kc6");
	kchild(&j);
	stack_up();
	lfd = st_skiff_listen(family, PORT, 8);
	st_child_go();
	st_skiff_two_way_server(lfd, bytes, zc, &mine);
	kchild_two_way_done(&mine, &theirs, bytes);
	st_note_rate("kernel -> skiff", bytes, mine.up.seconds);
	st_note_rate("skiff -> kernel", bytes, theirs.down.seconds);
}

static void skiff_client_to_kernel(int family, uint64_t bytes)
{
	struct kjob j = {.fn = k_server_two_way, .family = family, .bytes = bytes};
	struct st_two_way mine, theirs;
	char ready;
	int fd;

	env_up(family == AF_INET ? "sc4" : "sc6");
	kchild(&j);
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = s_connect(family, PORT);
	CU_ASSERT_FATAL(fd >= 0);
	st_skiff_two_way_client(fd, bytes, &mine);
	kchild_two_way_done(&mine, &theirs, bytes);
	st_note_rate("skiff -> kernel", bytes, mine.up.seconds);
	st_note_rate("kernel -> skiff", bytes, theirs.down.seconds);
}

static void test_kernel_client_v4_64mib_each_way(void)
{
	kernel_client_to_skiff(AF_INET, 0, BIG, false);
}

static void test_kernel_client_v6_64mib_each_way(void)
{
	kernel_client_to_skiff(AF_INET6, 0, BIG, false);
}

/* A Linux receiver whose window closes: a small receive buffer, nothing
 * read for 3 s, then the whole stream read and checked. */
static int k_server_slow_reader(struct kjob *j)
{
	int fd = st_kernel_accept_one(j->family, j->proto, PORT, 4096);
	struct st_xfer x;

	if (fd < 0)
		return -fd;
	usleep(3000 * 1000);
	if (st_kernel_recv_stream(fd, ST_SEED_UP, &x))
		return 4;
	close(fd);
	st_child_report(&x, sizeof(x));
	return 0;
}

static char zwp_pcap[64];

static void tweak_pcap(struct skiff_config *c)
{
	c->pcap_path = zwp_pcap;
}

/* Every one-byte TCP segment skiff sent to PEER_IP4:PORT in capture
 * @p path (Ethernet, IPv4) against stream @p seed: how many, to @p n, and
 * how many carried another byte than the stream's at their sequence
 * number (counted from skiff's SYN). */
static unsigned probes_wrong(const char *path, uint64_t seed, unsigned *n)
{
	uint8_t hdr[16], f[2048];
	uint32_t isn = 0, peer, stack;
	unsigned bad = 0;
	bool syn = false;
	FILE *fp = fopen(path, "rb");

	*n = 0;
	CU_ASSERT_FATAL(fp != NULL);
	inet_pton(AF_INET, PEER_IP4, &peer);
	inet_pton(AF_INET, STACK_IP4, &stack);
	CU_ASSERT_FATAL(fread(f, 1, 24, fp) == 24); /* the file's header */
	while (fread(hdr, 1, 16, fp) == 16) {
		uint32_t incl, seq;
		const uint8_t *ip = f + 14, *tcp;
		unsigned ihl, doff, len;
		uint8_t want;

		memcpy(&incl, hdr + 8, 4);
		if (incl > sizeof(f) || fread(f, 1, incl, fp) != incl)
			break;
		if (incl < 54 || f[12] != 0x08 || f[13] != 0x00 || ip[9] != IPPROTO_TCP ||
		    memcmp(ip + 12, &stack, 4) || memcmp(ip + 16, &peer, 4))
			continue;
		ihl = (ip[0] & 15u) * 4;
		tcp = ip + ihl;
		if ((unsigned)(tcp - f) + 20 > incl || (tcp[2] << 8 | tcp[3]) != PORT)
			continue;
		doff = (tcp[12] >> 4) * 4u;
		len = (unsigned)(ip[2] << 8 | ip[3]) - ihl - doff;
		seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 |
		      tcp[7];
		if (tcp[13] & 0x02) {
			isn = seq;
			syn = true;
			continue;
		}
		if (!syn || len != 1 || (unsigned)(tcp - f) + doff + 1 > incl)
			continue;
		(*n)++;
		st_pattern(seed, seq - isn - 1, &want, 1);
		if (tcp[doff] != want)
			bad++;
	}
	fclose(fp);
	return bad;
}

/* A zero-window probe carries the stream's byte (lwIP patch 0025): skiff
 * sends 512 KiB over MPTCP (the 28 bytes of options every segment of a
 * subflow carries) to a Linux receiver whose window closes for 3 s;
 * skiff's own capture holds each probe it sent, and every one must carry
 * the byte at its sequence number. Before the patch lwIP wrote the byte
 * where the options go, and the probe carried whatever the buffer held
 * there: 6 of 6 probes carried a wrong byte in each of 2 runs (over
 * plain TCP, with 12 bytes of options, the buffer happened to hold the
 * right one: 0 of 6). The receiver's stream is checked whole too. */
static void test_zero_window_probe_byte(void)
{
	struct kjob j = {.fn = k_server_slow_reader, .family = AF_INET, .proto = IPPROTO_MPTCP};
	struct sockaddr_storage ss;
	struct st_xfer mine, theirs;
	unsigned probes, bad;
	socklen_t len;
	char ready;
	int fd;

	snprintf(zwp_pcap, sizeof(zwp_pcap), "/tmp/skiff-zwp-%d.pcap", (int)getpid());
	mptcp_env_up("zwp");
	kchild(&j);
	st_xsk_tweak = tweak_pcap;
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = skiff_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	len = st_sockaddr(AF_INET, PEER_IP4, PEER_IP6, PORT, &ss);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_UP, 512 * 1024, false, &mine) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 20000));
	TK_ASSERT_EQ(kchild_done(10000), 0);
	TK_ASSERT_EQ(theirs.bytes, 512 * 1024);
	TK_ASSERT_EQ(theirs.bad, 0);
	CU_ASSERT(memcmp(theirs.digest, mine.digest, 32) == 0);
	teardown(); /* the capture is whole once the stack is down */
	setup();
	bad = probes_wrong(zwp_pcap, ST_SEED_UP, &probes);
	tk_note("%u zero-window probes with a byte, %u of them with another byte than the "
		"stream's",
		probes, bad);
	CU_ASSERT(probes >= 1);
	TK_ASSERT_EQ(bad, 0);
	unlink(zwp_pcap);
}

/* Plain sends (skiff_send) copy once: each segment leaves from the frame
 * the send copied its data into, and only control segments (the ACKs of
 * the way back) are copied whole at output. */
static void test_skiff_client_v4_64mib_each_way(void)
{
	struct skiff_stats st;

	skiff_client_to_kernel(AF_INET, BIG);
	skiff_get_stats(&st);
	tk_note("plain sends: %llu segments from their frames, %llu resends copied off the ring, "
		"%llu bytes copied whole at output",
		(unsigned long long)st.tx_send_inplace,
		(unsigned long long)st.tx_send_resend_copies,
		(unsigned long long)st.tx_send_copied_bytes);
	CU_ASSERT(st.tx_send_inplace >= BIG / 1448);
	CU_ASSERT(st.tx_send_copied_bytes < BIG / 16);
}

static void test_skiff_client_v6_64mib_each_way(void)
{
	skiff_client_to_kernel(AF_INET6, BIG);
}

/* Zero-copy both ways: receive loans and in-place sends copy nothing. */
static void test_zero_copy_64mib_each_way(void)
{
	struct skiff_stats st;

	kernel_client_to_skiff(AF_INET, 0, BIG, true);
	st_wait_idle(3000);
	skiff_get_stats(&st);
	tk_note("zero-copy: in place %llu, tx copied %llu, rx copied %llu, sends %llu, "
		"ids completed %llu, copied sends %llu",
		(unsigned long long)st.tx_inplace, (unsigned long long)st.tx_copied_bytes,
		(unsigned long long)st.rx_copied_bytes, (unsigned long long)st.zc_sends,
		(unsigned long long)st.zc_ids_completed, (unsigned long long)st.zc_sends_copied);
	TK_ASSERT_EQ(st.tx_copied_bytes, 0);
	TK_ASSERT_EQ(st.rx_copied_bytes, 0);
	TK_ASSERT_EQ(st.rx_recv_copied_bytes, 0);
	TK_ASSERT_EQ(st.zc_sends_copied, 0);
	TK_ASSERT_EQ(st.zc_ids_completed, st.zc_sends);
	CU_ASSERT(st.tx_inplace >= BIG / 1448);
}

/* Linux's MPTCP client offers MP_CAPABLE; skiff answers with plain TCP and
 * the client falls back. */
static void test_mptcp_client_falls_back(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = 8 * ST_MIB};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	int lfd;

	mptcp_env_up("mptcp");
	kchild(&j);
	stack_up();
	lfd = st_skiff_listen(AF_INET, PORT, 8);
	st_child_go();
	st_skiff_two_way_server(lfd, j.bytes, false, &mine);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_get_stats(&st);
	CU_ASSERT(st.mptcp_fallbacks >= 1);
	tk_note("MP_CAPABLE SYNs answered with plain TCP: %llu",
		(unsigned long long)st.mptcp_fallbacks);
}

/* The Linux client's MPTCP counters (nstat in its namespace): how many of
 * @p names' are non-zero goes to the note, each value to @p v. */
static void k_mptcp_counters(const char *const *names, uint64_t *v, unsigned n)
{
	char out[8192];

	memset(v, 0, n * sizeof(*v));
	CU_ASSERT_FATAL(tb_capture(K.net.ns[1], out, sizeof(out), "nstat -asz 'MPTcpExt*'") == 0);
	for (unsigned i = 0; i < n; i++) {
		char *at = strstr(out, names[i]);

		/* A name is a prefix of others (...SYNACKRX, ...SYNACKRXbad): whole words. */
		while (at && at[strlen(names[i])] != ' ')
			at = strstr(at + 1, names[i]);
		if (at)
			v[i] = strtoull(at + strlen(names[i]), NULL, 10);
		tk_note("Linux %s %llu", names[i], (unsigned long long)v[i]);
	}
}

/* The socket queries on a connection that carries on as TCP: the mode
 * says so, SOL_MPTCP is not there (as on Linux), TCP_IS_MPTCP reads 0,
 * SO_PROTOCOL still IPPROTO_MPTCP. */
static void check_fell_back(int fd)
{
	struct skiff_mptcp_status ms;
	struct skiff_mptcp_info info;
	socklen_t len = sizeof(info);
	int v = -1;

	CU_ASSERT_FATAL(skiff_mptcp_status(fd, &ms) == 0);
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_FALLBACK);
	TK_ASSERT_EQ(ms.subflows, 1);
	TK_ASSERT_EQ(ms.peer_token, 0);
	CU_ASSERT(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) == -1 &&
		  errno == EOPNOTSUPP);
	len = sizeof(v);
	CU_ASSERT(skiff_getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &v, &len) == 0);
	TK_ASSERT_EQ(v, 0);
	len = sizeof(v);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &len) == 0);
	TK_ASSERT_EQ(v, IPPROTO_MPTCP);
	tk_note("fell back: mode %d, %u subflow, MPTCP_INFO: EOPNOTSUPP, TCP_IS_MPTCP 0",
		(int)ms.mode, ms.subflows);
}

/* The Linux end's view of its MPTCP connection (ss -M in its namespace):
 * token, write_seq, snd_una, rcv_nxt. False when no such line. */
static bool k_mptcp_ss(uint32_t *token, uint64_t *write_seq, uint64_t *snd_una, uint64_t *rcv_nxt)
{
	char out[8192], *at;
	unsigned long long w, u, r;
	unsigned t;

	if (tb_capture(K.net.ns[1], out, sizeof(out), "ss -Mni") != 0)
		return false;
	at = strstr(out, "token:");
	if (!at ||
	    sscanf(at, "token:%x write_seq:%llx snd_una:%llx rcv_nxt:%llx", &t, &w, &u, &r) != 4)
		return false;
	*token = t;
	*write_seq = w;
	*snd_una = u;
	*rcv_nxt = r;
	return true;
}

/* The socket queries on a connection that is MPTCP, against the Linux
 * peer's own view of it, after skiff received @p rx bytes and sent none
 * (the peer has sent its DATA_FIN). */
static void check_mptcp_active(int fd, uint64_t rx)
{
	struct skiff_mptcp_subflow_data *h;
	struct skiff_mptcp_subflow_addrs *a;
	struct skiff_mptcp_status ms;
	struct skiff_mptcp_info info;
	uint64_t kw = 0, ku = 0, kr = 0;
	uint8_t buf[sizeof(*h) + 2 * sizeof(*a)];
	socklen_t len = sizeof(info);
	uint32_t ktok = 0;
	int v = -1;

	CU_ASSERT_FATAL(skiff_mptcp_status(fd, &ms) == 0);
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_ACTIVE);
	TK_ASSERT_EQ(ms.subflows, 1);
	CU_ASSERT(ms.token != 0 && ms.peer_token != 0);
	memset(&info, 0xa5, sizeof(info));
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) == 0);
	TK_ASSERT_EQ(len, 96);
	TK_ASSERT_EQ(info.mptcpi_flags, SKIFF_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED);
	TK_ASSERT_EQ(info.mptcpi_token, ms.token);
	TK_ASSERT_EQ(info.mptcpi_subflows, 0);
	TK_ASSERT_EQ(info.mptcpi_subflows_total, 1);
	TK_ASSERT_EQ(info.mptcpi_bytes_received, rx);
	TK_ASSERT_EQ(info.mptcpi_bytes_sent, 0);
	TK_ASSERT_EQ(info.mptcpi_write_seq, info.mptcpi_snd_una);
	len = sizeof(v);
	CU_ASSERT(skiff_getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &v, &len) == 0);
	TK_ASSERT_EQ(v, 1);
	/* The subflow list: one, this connection's addresses. */
	memset(buf, 0, sizeof(buf));
	h = (struct skiff_mptcp_subflow_data *)buf;
	a = (struct skiff_mptcp_subflow_addrs *)(buf + sizeof(*h));
	h->size_subflow_data = sizeof(*h);
	h->size_user = sizeof(*a);
	len = sizeof(buf);
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, buf, &len) == 0);
	TK_ASSERT_EQ(h->num_subflows, 1);
	TK_ASSERT_EQ(len, sizeof(*h) + sizeof(*a));
	TK_ASSERT_EQ(ntohs(((struct sockaddr_in *)&a->local)->sin_port), PORT);
	/* Linux's side of the same connection: its token is our peer's, its
	 * receive pointer our write_seq, its write_seq our receive pointer
	 * (plus one for its DATA_FIN). */
	CU_ASSERT_FATAL(k_mptcp_ss(&ktok, &kw, &ku, &kr));
	tk_note("skiff: token %08x, peer %08x, write_seq %016llx, snd_una %016llx, "
		"rcv_nxt %016llx, received %llu; Linux (ss -M): token %08x, write_seq %016llx, "
		"snd_una %016llx, rcv_nxt %016llx",
		ms.token, ms.peer_token, (unsigned long long)info.mptcpi_write_seq,
		(unsigned long long)info.mptcpi_snd_una, (unsigned long long)info.mptcpi_rcv_nxt,
		(unsigned long long)info.mptcpi_bytes_received, ktok, (unsigned long long)kw,
		(unsigned long long)ku, (unsigned long long)kr);
	TK_ASSERT_EQ(ktok, ms.peer_token);
	TK_ASSERT_EQ(kr, info.mptcpi_write_seq);
	CU_ASSERT(kw == info.mptcpi_rcv_nxt || kw == info.mptcpi_rcv_nxt + 1);
}

/* skiff asks for DSS checksums (skiff_config.mptcp_checksum). */
static void tweak_mptcp_checksum(struct skiff_config *c)
{
	c->mptcp_checksum = true;
}

/* Whether the connection on @p fd uses DSS checksums (MPTCP_INFO). */
static int mptcp_csum_enabled(int fd)
{
	struct skiff_mptcp_info info;
	socklen_t len = sizeof(info);

	if (skiff_getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len))
		return -1;
	return info.mptcpi_csum_enabled;
}

/* The Linux child started with @p j, the stack up with an MPTCP listener
 * (its descriptor to @p lfd), the child's connection accepted: its
 * descriptor. */
static int mptcp_accept_child(struct kjob *j, int *lfd)
{
	int fd;

	kchild(j);
	stack_up();
	*lfd = mptcp_listen(j->family);
	st_child_go();
	fd = skiff_accept(*lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	return fd;
}

/* The subflow queries on a connection with one join: MPTCP_INFO counts it
 * (mptcpi_subflows counts those beyond the first, as Linux does),
 * MPTCP_SUBFLOW_ADDRS lists the first subflow then the join (from the
 * client's second address, to the same port), MPTCP_TCPINFO both. */
static void check_full_info(int fd, const struct skiff_mptcp_info *info,
			    const struct skiff_mptcp_subflow_addrs *a);

static void check_join_listed(int fd, int family)
{
	struct skiff_mptcp_subflow_addrs addrs[2];
	struct skiff_mptcp_info info;
	struct skiff_mptcp_subflow_data *h;
	struct skiff_mptcp_subflow_addrs *a;
	struct tcp_info *ti;
	uint8_t buf[sizeof(*h) + 2 * sizeof(*a) + 2 * sizeof(struct tcp_info)];
	socklen_t len = sizeof(info);
	char ip[INET6_ADDRSTRLEN];

	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) == 0);
	TK_ASSERT_EQ(info.mptcpi_subflows, 1);
	TK_ASSERT_EQ(info.mptcpi_subflows_total, 2);
	memset(buf, 0, sizeof(buf));
	h = (struct skiff_mptcp_subflow_data *)buf;
	a = (struct skiff_mptcp_subflow_addrs *)(buf + sizeof(*h));
	h->size_subflow_data = sizeof(*h);
	h->size_user = sizeof(*a);
	len = sizeof(buf);
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, buf, &len) == 0);
	TK_ASSERT_EQ(h->num_subflows, 2);
	TK_ASSERT_EQ(len, sizeof(*h) + 2 * sizeof(*a));
	memcpy(addrs, a, sizeof(addrs));
	if (family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a[0].remote)->sin6_addr, ip,
			  sizeof(ip));
		CU_ASSERT(strcmp(ip, PEER_IP6) == 0);
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a[1].remote)->sin6_addr, ip,
			  sizeof(ip));
		CU_ASSERT(strcmp(ip, PEER2_IP6) == 0);
		TK_ASSERT_EQ(ntohs(((struct sockaddr_in6 *)&a[1].local)->sin6_port), PORT);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&a[0].remote)->sin_addr, ip, sizeof(ip));
		CU_ASSERT(strcmp(ip, PEER_IP4) == 0);
		inet_ntop(AF_INET, &((struct sockaddr_in *)&a[1].remote)->sin_addr, ip, sizeof(ip));
		CU_ASSERT(strcmp(ip, PEER2_IP4) == 0);
		TK_ASSERT_EQ(ntohs(((struct sockaddr_in *)&a[1].local)->sin_port), PORT);
	}
	memset(buf, 0, sizeof(buf));
	h->size_subflow_data = sizeof(*h);
	h->size_user = sizeof(struct tcp_info);
	len = sizeof(buf);
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, buf, &len) == 0);
	TK_ASSERT_EQ(h->num_subflows, 2);
	ti = (struct tcp_info *)(buf + sizeof(*h));
	TK_ASSERT_EQ(ti[0].tcpi_state, TCP_ESTABLISHED);
	TK_ASSERT_EQ(ti[1].tcpi_state, TCP_ESTABLISHED);
	CU_ASSERT(ti[1].tcpi_rcv_mss > 0);
	check_full_info(fd, &info, addrs);
}

/* MPTCP_FULL_INFO (Linux's one-call form of the three queries above) on
 * @p fd, whose MPTCP_INFO is @p info and MPTCP_SUBFLOW_ADDRS @p a (two
 * subflows): the same answers, the ids 1 and 2; arrays of one element
 * hold the first subflow and still count both; a header shorter than 40
 * bytes, or with a field only skiff sets, is refused as Linux refuses
 * it. */
static void check_full_info(int fd, const struct skiff_mptcp_info *info,
			    const struct skiff_mptcp_subflow_addrs *a)
{
	struct skiff_mptcp_subflow_info si[2];
	struct skiff_mptcp_full_info f;
	struct tcp_info ti[2];
	socklen_t len;

	memset(&f, 0, sizeof(f));
	memset(si, 0, sizeof(si));
	memset(ti, 0, sizeof(ti));
	f.size_sfinfo_user = sizeof(si[0]);
	f.size_tcpinfo_user = sizeof(ti[0]);
	f.size_arrays_user = 2;
	f.subflow_info = (uintptr_t)si;
	f.tcp_info = (uintptr_t)ti;
	len = sizeof(f);
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &f, &len) == 0);
	TK_ASSERT_EQ(len, sizeof(f));
	TK_ASSERT_EQ(f.num_subflows, 2);
	TK_ASSERT_EQ(f.size_sfinfo_kernel, sizeof(si[0]));
	TK_ASSERT_EQ(f.size_tcpinfo_kernel, sizeof(ti[0]));
	TK_ASSERT_EQ(f.mptcp_info.mptcpi_token, info->mptcpi_token);
	TK_ASSERT_EQ(f.mptcp_info.mptcpi_subflows_total, 2);
	TK_ASSERT_EQ(si[0].id, 1);
	TK_ASSERT_EQ(si[1].id, 2);
	CU_ASSERT(memcmp(&si[0].addrs, &a[0], sizeof(a[0])) == 0);
	CU_ASSERT(memcmp(&si[1].addrs, &a[1], sizeof(a[1])) == 0);
	TK_ASSERT_EQ(ti[0].tcpi_state, TCP_ESTABLISHED);
	TK_ASSERT_EQ(ti[1].tcpi_state, TCP_ESTABLISHED);

	memset(&f, 0, sizeof(f));
	memset(si, 0, sizeof(si));
	f.size_sfinfo_user = sizeof(si[0]);
	f.size_arrays_user = 1;
	f.subflow_info = (uintptr_t)si;
	len = offsetof(struct skiff_mptcp_full_info, mptcp_info);
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &f, &len) == 0);
	TK_ASSERT_EQ(len, 40);
	TK_ASSERT_EQ(f.num_subflows, 2);
	TK_ASSERT_EQ(f.size_tcpinfo_user, 0);
	TK_ASSERT_EQ(si[0].id, 1);
	TK_ASSERT_EQ(si[1].id, 0); /* past the array: untouched */

	len = 39;
	errno = 0;
	CU_ASSERT(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &f, &len) == -1 &&
		  errno == EINVAL);
	memset(&f, 0, sizeof(f));
	f.num_subflows = 1;
	len = sizeof(f);
	errno = 0;
	CU_ASSERT(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_FULL_INFO, &f, &len) == -1 &&
		  errno == EINVAL);
}

/* The Linux client's second address (10.77.0.3, or PEER2_IP6 with
 * @p family AF_INET6), and room for a second subflow; with @p endpoint its
 * path manager joins from there. */
static void k_second_address(int family, bool endpoint)
{
	const char *ip = family == AF_INET6 ? PEER2_IP6 : PEER2_IP4;
	char cmd[256];

	/* IPv6 would pick the newest address as the first subflow's source:
	 * the second one is deprecated (still usable, never chosen). */
	snprintf(cmd, sizeof(cmd), "ip addr add %s/%d dev %s%s", ip, family == AF_INET6 ? 64 : 24,
		 K.net.ifname[1], family == AF_INET6 ? " nodad preferred_lft 0" : "");
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], cmd) == 0);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip mptcp limits set subflows 2") == 0);
	if (!endpoint)
		return;
	snprintf(cmd, sizeof(cmd), "ip mptcp endpoint add %s dev %s subflow", ip, K.net.ifname[1]);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], cmd) == 0);
}

/* A Linux MPTCP client to a skiff MPTCP listener (IPPROTO_MPTCP): the
 * MP_CAPABLE handshake completes (the client counts no fallback), 64 MiB
 * go each way under DSS mappings, both SHA-256s equal, both DATA_FINs.
 * With @p csum the client asks for DSS checksums (its
 * net.mptcp.checksum_enabled): the SYN-ACK says yes, every mapping carries
 * one both ways, and neither end counts a bad one. */
static void mptcp_kernel_client(int family, bool csum)
{
	static const char *const names[] = {
		"MPTcpExtMPCapableSYNTX",
		"MPTcpExtMPCapableSYNACKRX",
		"MPTcpExtMPCapableFallbackSYNACK",
		"MPTcpExtMPCapableFallbackACK",
		"MPTcpExtDSSNotMatching",
		"MPTcpExtInfiniteMapRx",
		"MPTcpExtDataCsumErr",
		"MPTcpExtMPFallbackTokenInit",
	};
	struct kjob j = {
		.fn = k_client_two_way, .family = family, .proto = IPPROTO_MPTCP, .bytes = BIG};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	uint64_t v[8];
	int lfd, fd;

	mptcp_env_up(family == AF_INET ? "mpc4" : "mpc6");
	if (csum)
		CU_ASSERT_FATAL(tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.checksum_enabled=1") ==
				0);
	fd = mptcp_accept_child(&j, &lfd);
	skiff_close(lfd);
	TK_ASSERT_EQ(mptcp_csum_enabled(fd), csum ? 1 : 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	check_mptcp_active(fd, j.bytes);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	st_note_rate("kernel -> skiff (MPTCP)", j.bytes, mine.up.seconds);
	st_note_rate("skiff -> kernel (MPTCP)", j.bytes, theirs.down.seconds);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	tk_note("skiff: established %llu, declined %llu, fallback %llu, map mismatch %llu, "
		"DSS rx %llu tx %llu, DATA_FIN rx %llu tx %llu, checksum errors %llu",
		(unsigned long long)st.mptcp_passive_established,
		(unsigned long long)st.mptcp_declined, (unsigned long long)st.mptcp_fallback_ack,
		(unsigned long long)st.mptcp_map_mismatch, (unsigned long long)st.mptcp_dss_rx,
		(unsigned long long)st.mptcp_dss_tx, (unsigned long long)st.mptcp_data_fin_rx,
		(unsigned long long)st.mptcp_data_fin_tx, (unsigned long long)st.mptcp_csum_err);
	k_mptcp_counters(names, v, 8);
	TK_ASSERT_EQ(st.mptcp_passive_established, 1);
	TK_ASSERT_EQ(st.mptcp_declined, 0);
	TK_ASSERT_EQ(st.mptcp_csum_err, 0);
	TK_ASSERT_EQ(st.mptcp_mp_fail_tx + st.mptcp_mp_fail_rx, 0);
	TK_ASSERT_EQ(st.mptcp_fallback_ack, 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	TK_ASSERT_EQ(st.mptcp_fallbacks, 0);
	CU_ASSERT(st.mptcp_dss_rx > 0);
	/* Every mapping was read from its frame's MPTCP extension. */
	TK_ASSERT_EQ(st.mptcp_dss_rx_aside, 0);
	tk_note("skiff's data segments sent with the mapping their frames carry %llu, mapped "
		"aside %llu",
		(unsigned long long)st.mptcp_map_tx_ext, (unsigned long long)st.mptcp_map_tx_aside);
	/* Plain sends within the frame budget: every segment's mapping rode
	 * in its frame's MPTCP extension. */
	CU_ASSERT(st.mptcp_map_tx_ext > 0);
	TK_ASSERT_EQ(st.mptcp_map_tx_aside, 0);
	CU_ASSERT(st.mptcp_data_fin_rx >= 1);
	CU_ASSERT(st.mptcp_data_fin_tx >= 1);
	TK_ASSERT_EQ(v[0], 1); /* the SYN offered MP_CAPABLE */
	TK_ASSERT_EQ(v[1], 1); /* the SYN-ACK carried it */
	TK_ASSERT_EQ(v[2], 0);
	TK_ASSERT_EQ(v[3], 0);
	TK_ASSERT_EQ(v[4], 0);
	TK_ASSERT_EQ(v[5], 0);
	TK_ASSERT_EQ(v[6], 0);
	TK_ASSERT_EQ(v[7], 0);
}

static void test_mptcp_kernel_client_v4(void)
{
	mptcp_kernel_client(AF_INET, false);
}

static void test_mptcp_kernel_client_v6(void)
{
	mptcp_kernel_client(AF_INET6, false);
}

static void test_mptcp_checksum_kernel_client(void)
{
	mptcp_kernel_client(AF_INET, true);
}

/* A second subflow (MP_JOIN, RFC 8684 3.2) from a Linux MPTCP client:
 * the client's namespace has a second address, 10.77.0.3, given to its
 * path manager as a "subflow" endpoint, so once the connection is fully
 * established Linux joins it from there to skiff's address. skiff checks
 * the join's HMACs and takes the subflow; Linux then sends on both, and
 * skiff puts the two back together at the data level. 64 MiB each way,
 * SHA-256 equal; skiff's data back goes on the first subflow. With @p csum
 * the client asks for DSS checksums: the join's mappings are checked too. */
static void mptcp_join_kernel_client(int family, bool csum)
{
	static const char *const names[] = {
		"MPTcpExtMPJoinSynTx",
		"MPTcpExtMPJoinSynAckRx",
		"MPTcpExtMPJoinSynAckHMacFailure",
		"MPTcpExtMPCapableFallbackACK",
		"MPTcpExtDSSNotMatching",
		"MPTcpExtMPCapableFallbackSYNACK",
		"MPTcpExtNoDSSInWindow",
	};
	struct kjob j = {
		.fn = k_client_two_way, .family = family, .proto = IPPROTO_MPTCP, .bytes = BIG};
	struct st_two_way mine, theirs;
	struct skiff_mptcp_status ms;
	struct skiff_stats st;
	uint64_t v[7];
	int lfd, fd;

	mptcp_env_up(csum ? "mpjc" : family == AF_INET6 ? "mpj6" : "mpj4");
	if (csum)
		CU_ASSERT_FATAL(tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.checksum_enabled=1") ==
				0);
	k_second_address(family, true);
	/* The listener stays: the join's SYN comes to it. */
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	CU_ASSERT_FATAL(skiff_mptcp_status(fd, &ms) == 0);
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_ACTIVE);
	TK_ASSERT_EQ(mptcp_csum_enabled(fd), csum ? 1 : 0);
	tk_note("skiff: %u subflows after the upload", ms.subflows);
	check_join_listed(fd, family);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	st_note_rate("kernel -> skiff (MPTCP, two subflows)", j.bytes, mine.up.seconds);
	st_note_rate("skiff -> kernel (MPTCP, two subflows)", j.bytes, theirs.down.seconds);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	tk_note("skiff: joins taken %llu (bad HMAC %llu, rejected %llu), %llu bytes in on the "
		"join, %llu bytes ahead of the data-level pointer kept (%llu dropped), %llu "
		"duplicate, map mismatch %llu; %llu bytes out on the join, %llu reinjected",
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_bad_hmac,
		(unsigned long long)st.mptcp_join_rejected,
		(unsigned long long)st.mptcp_join_rx_bytes, (unsigned long long)st.mptcp_ooo_bytes,
		(unsigned long long)st.mptcp_ooo_drop, (unsigned long long)st.mptcp_dup_data_rx,
		(unsigned long long)st.mptcp_map_mismatch,
		(unsigned long long)st.mptcp_join_tx_bytes,
		(unsigned long long)st.mptcp_reinject_bytes);
	k_mptcp_counters(names, v, 7);
	TK_ASSERT_EQ(st.mptcp_passive_established, 1);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	TK_ASSERT_EQ(st.mptcp_join_bad_hmac, 0);
	TK_ASSERT_EQ(st.mptcp_join_rejected, 0);
	TK_ASSERT_EQ(ms.subflows, 2);
	/* Linux sent on both subflows, and so did skiff (its scheduler). */
	CU_ASSERT(st.mptcp_join_rx_bytes > 0);
	CU_ASSERT(st.mptcp_join_rx_bytes < j.bytes);
	CU_ASSERT(st.mptcp_join_tx_bytes > 0);
	CU_ASSERT(st.mptcp_join_tx_bytes < j.bytes);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	TK_ASSERT_EQ(v[0], 1); /* Linux joined once */
	TK_ASSERT_EQ(v[1], 1); /* and took our SYN-ACK's HMAC */
	TK_ASSERT_EQ(v[2], 0);
	TK_ASSERT_EQ(v[3], 0);
	TK_ASSERT_EQ(v[4], 0); /* every mapping of ours matched */
	TK_ASSERT_EQ(v[5], 0);
	TK_ASSERT_EQ(v[6], 0); /* nothing past the connection's window */
	TK_ASSERT_EQ(st.mptcp_csum_err, 0);
	tk_note("skiff's data segments sent with the mapping their frames carry %llu, mapped "
		"aside %llu",
		(unsigned long long)st.mptcp_map_tx_ext, (unsigned long long)st.mptcp_map_tx_aside);
	/* On both subflows the mappings rode in the frames (a few aside
	 * would be segments past the frame budget). */
	CU_ASSERT(st.mptcp_map_tx_ext > 0);
	CU_ASSERT(st.mptcp_map_tx_aside <= st.mptcp_map_tx_ext / 50);
}

static void test_mptcp_join_kernel_client(void)
{
	mptcp_join_kernel_client(AF_INET, false);
}

static void test_mptcp_join_kernel_client_v6(void)
{
	mptcp_join_kernel_client(AF_INET6, false);
}

static void test_mptcp_join_checksum_kernel_client(void)
{
	mptcp_join_kernel_client(AF_INET, true);
}

/* A wrong DSS checksum on a connection with two subflows (RFC 8684 3.7):
 * no fallback to TCP (the data went over both), the subflow it failed on
 * is reset with MP_FAIL and MP_TCPRST (middlebox interference), and the
 * connection carries on over the other, its sender putting what was lost
 * there on the other. @p rx: skiff flips a byte a Linux client sent on
 * the join (at join position 512 KiB + 12345, before its mapping's
 * checksum is checked) and resets the join; with @p first on the first
 * subflow instead (at 1 MiB + 12345, or its first byte after the join is
 * up), which skiff leaves for the join as when the peer resets it. Else skiff sends one
 * mapping on the join with a wrong checksum and Linux resets the join.
 * 16 MiB each way, SHA-256 equal, the socket still MPTCP. */
static void join_checksum_failure(bool rx, bool first)
{
	static const char *const names[] = {
		"MPTcpExtDataCsumErr",	 "MPTcpExtMPFailRx",	   "MPTcpExtMPFailTx",
		"MPTcpExtMPRstRx",	 "MPTcpExtMPRstTx",	   "MPTcpExtInfiniteMapTx",
		"MPTcpExtInfiniteMapRx", "MPTcpExtDSSNotMatching", "MPTcpExtMPJoinAckRx",
	};
	const uint64_t at = first ? 1 * ST_MIB + 12345 : 512 * 1024 + 12345;
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = 16 * ST_MIB};
	struct st_two_way mine, theirs;
	struct skiff_mptcp_status ms;
	struct skiff_stats st;
	uint64_t v[9];
	int lfd, fd;

	mptcp_env_up(first ? "mpjff" : rx ? "mpjfr" : "mpjft");
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.checksum_enabled=1") == 0);
	k_second_address(AF_INET, true);
	if (rx)
		skiff__mptcp_corrupt_rx_on(at, !first);
	else
		skiff__mptcp_corrupt_tx_join(at);
	fd = mptcp_accept_child(&j, &lfd);
	TK_ASSERT_EQ(mptcp_csum_enabled(fd), 1);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT_FATAL(skiff_mptcp_status(fd, &ms) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	k_mptcp_counters(names, v, 9);
	tk_note("skiff: mode %d, %u subflows at the end; checksum errors %llu (%llu bytes), "
		"subflows reset for one %llu, MP_FAIL tx %llu rx %llu, infinite mappings tx %llu "
		"rx %llu, joins taken %llu, %llu bytes out on the join, %llu reinjected, %llu "
		"handed over, map mismatch %llu",
		(int)ms.mode, ms.subflows, (unsigned long long)st.mptcp_csum_err,
		(unsigned long long)st.mptcp_csum_fail_bytes,
		(unsigned long long)st.mptcp_csum_fail_reset,
		(unsigned long long)st.mptcp_mp_fail_tx, (unsigned long long)st.mptcp_mp_fail_rx,
		(unsigned long long)st.mptcp_infinite_map_tx,
		(unsigned long long)st.mptcp_infinite_map_rx,
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_tx_bytes,
		(unsigned long long)st.mptcp_reinject_bytes, (unsigned long long)st.mptcp_handover,
		(unsigned long long)st.mptcp_map_mismatch);
	/* Still MPTCP: no infinite mapping either way. */
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_ACTIVE);
	TK_ASSERT_EQ(st.mptcp_infinite_map_tx + st.mptcp_infinite_map_rx, 0);
	TK_ASSERT_EQ(v[5] + v[6], 0);
	TK_ASSERT_EQ(v[7], 0);
	CU_ASSERT(st.mptcp_join_established >= 1);
	if (rx) {
		TK_ASSERT_EQ(st.mptcp_csum_err, 1);
		TK_ASSERT_EQ(st.mptcp_csum_fail_reset, 1);
		TK_ASSERT_EQ(st.mptcp_mp_fail_tx, 1);
		TK_ASSERT_EQ(v[0], 0); /* Linux found none of skiff's checksums wrong */
		TK_ASSERT_EQ(v[1], 1); /* it took skiff's MP_FAIL */
		CU_ASSERT(v[3] >= 1);  /* ... on the RST with MP_TCPRST */
		/* The first subflow's failure: the socket went on on the join. */
		if (first)
			TK_ASSERT_EQ(st.mptcp_handover, 1);
	} else {
		TK_ASSERT_EQ(st.mptcp_csum_err, 0);
		TK_ASSERT_EQ(st.mptcp_mp_fail_rx, 1);
		TK_ASSERT_EQ(st.mptcp_mp_fail_tx, 0); /* no echo: no fallback */
		TK_ASSERT_EQ(v[0], 1);		      /* Linux found the one wrong checksum */
		TK_ASSERT_EQ(v[2], 1);		      /* ... sent MP_FAIL */
		CU_ASSERT(v[4] >= 1);		      /* ... on its RST of the join */
		/* What the join carried and Linux never took went again on
		 * the first subflow. */
		CU_ASSERT(st.mptcp_reinject_bytes > 0);
	}
}

static void test_mptcp_join_checksum_failure_rx(void)
{
	join_checksum_failure(true, false);
}

static void test_mptcp_first_checksum_failure_rx(void)
{
	join_checksum_failure(true, true);
}

static void test_mptcp_join_checksum_failure_tx(void)
{
	join_checksum_failure(false, false);
}

/* The Linux client's sending shaped per source address: htb on its veth
 * end, PEER_IP4 and PEER2_IP4 each at @p mbit, the rest unshaped. */
static void k_shape_by_source(unsigned mbit)
{
	const char *ifn = K.net.ifname[1];

	CU_ASSERT_FATAL(
		tb_run(K.net.ns[1],
		       "tc qdisc add dev %s root handle 1: htb default 30 r2q 100 && "
		       "tc class add dev %s parent 1: classid 1:10 htb rate %umbit ceil %umbit && "
		       "tc class add dev %s parent 1: classid 1:20 htb rate %umbit ceil %umbit && "
		       "tc class add dev %s parent 1: classid 1:30 htb rate 1gbit && "
		       "tc filter add dev %s parent 1: protocol ip prio 1 u32 match ip src "
		       "%s/32 flowid 1:10 && "
		       "tc filter add dev %s parent 1: protocol ip prio 1 u32 match ip src "
		       "%s/32 flowid 1:20",
		       ifn, ifn, mbit, mbit, ifn, mbit, mbit, ifn, ifn, PEER_IP4, ifn,
		       PEER2_IP4) == 0);
}

/* Two paths move more than one (issue #18's test): one run of 16 MiB over
 * one subflow, then over two, each path shaped to 40 Mbit/s, far below
 * what this machine moves, so that the shaping sets the time, not the CPU
 * (@p run sets up, transfers, tears down, and says what went on the
 * join): the first must take @p want times the second's time or more
 * (1.6, issue #18's figure). Up to @p pairs pairs of runs, until each
 * side's fastest run so far meets it: on this shared machine one slow run
 * of either side moved a single pair's ratio by a third (a CI run under
 * ASan failed at 1.58x with one pair). @p what says which way and how for
 * the note. */
typedef double (*shaped_run_fn)(bool join, unsigned mbit, uint64_t bytes, uint64_t *on_join);

static void two_paths_vs(shaped_run_fn run, const char *what, double want, unsigned pairs)
{
#ifdef __SANITIZE_ADDRESS__
	/* ASan's skiff moves about 30 Mbit/s a path here in these runs: half
	 * the rate and half the bytes keep the shaping the bottleneck. */
	const unsigned mbit = 20;
	const uint64_t bytes = 8 * ST_MIB;
#else
	const unsigned mbit = 40;
	const uint64_t bytes = 16 * ST_MIB;
#endif
	double one = 0, two = 0;

	for (unsigned i = 0; i < pairs; i++) {
		uint64_t j1 = 0, j2 = 0;
		double o = run(false, mbit, bytes, &j1), t = run(true, mbit, bytes, &j2);

		tk_note("%llu MiB %s, each path shaped to %u Mbit/s: one subflow %.2f s (%.1f "
			"Mbit/s), two subflows %.2f s (%.1f Mbit/s, %llu bytes on the join): %.2fx",
			(unsigned long long)(bytes / ST_MIB), what, mbit, o, bytes * 8 / o / 1e6, t,
			bytes * 8 / t / 1e6, (unsigned long long)j2, o / t);
		TK_ASSERT_EQ(j1, 0);
		CU_ASSERT(j2 > bytes / 4);
		if (!i || o < one)
			one = o;
		if (!i || t < two)
			two = t;
		if (one / two >= want)
			break;
	}
	if (pairs > 1)
		tk_note("fastest of up to %u pairs: one subflow %.2f s, two subflows %.2f s: %.2fx",
			pairs, one, two, one / two);
	CU_ASSERT(one / two >= want);
}

static void two_paths_vs_one(shaped_run_fn run, const char *what)
{
	two_paths_vs(run, what, 1.6, 3);
}

/* A path cut in the Linux client's namespace: after @p ms, @p cut runs
 * there (an iptables DROP, a link going down); @p restore puts the path
 * back afterwards, so that the join's close goes through (a subflow
 * whose path stays dead times out as TCP does, in minutes). */
struct path_cut {
	unsigned ms;
	char cut[160], restore[160];
};

/* A cut of the client's second address: packets matching @p match
 * ("OUTPUT -s": what it sends from there; "INPUT -d": what reaches it
 * there) dropped. */
static struct path_cut second_address_cut(unsigned ms, const char *match)
{
	struct path_cut c = {.ms = ms};

	snprintf(c.cut, sizeof(c.cut), "iptables -w -A %s %s -j DROP", match, PEER2_IP4);
	snprintf(c.restore, sizeof(c.restore), "iptables -w -D %s %s -j DROP", match, PEER2_IP4);
	return c;
}

static void *path_cut_run(void *arg)
{
	const struct path_cut *c = arg;

	usleep((useconds_t)c->ms * 1000);
	if (tb_run(K.net.ns[1], "%s", c->cut) != 0)
		tk_note("'%s' failed: the path was not cut", c->cut);
	return NULL;
}

/* One path cut mid-transfer (issue #18's test, upload direction): each
 * source address shaped to 100 Mbit/s, 32 MiB up over two subflows, the
 * join's path dropped 600 ms in. Linux finds the join dead and sends what
 * it had in flight there again on the first subflow; skiff takes it at the
 * data level; both streams arrive whole (SHA-256). skiff's own data is on
 * the first subflow, whose path is never cut. */
static void test_mptcp_join_path_cut(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = 32 * ST_MIB};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	struct path_cut cut = second_address_cut(600, "OUTPUT -s");
	char out[4096], *at;
	unsigned long long dropped = 0;
	pthread_t th;
	int lfd, fd;

	mptcp_env_up("mpcut");
	k_second_address(AF_INET, true);
	k_shape_by_source(100);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, path_cut_run, &cut) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	pthread_join(th, NULL);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT_FATAL(
		tb_capture(K.net.ns[1], out, sizeof(out), "iptables -w -L OUTPUT -v -x -n") == 0);
	CU_ASSERT(tb_run(K.net.ns[1], "%s", cut.restore) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	skiff_get_stats(&st);
	/* The rule's line: its packet count first. */
	for (char *l = strtok_r(out, "\n", &at); l; l = strtok_r(NULL, "\n", &at))
		if (strstr(l, "DROP") && strstr(l, PEER2_IP4))
			dropped = strtoull(l, NULL, 10);
	tk_note("32 MiB up in %.2f s with the join's path cut at 600 ms: %llu bytes on the join, "
		"%llu packets dropped on its path, %llu bytes the connection had already "
		"(resent by Linux), %llu kept ahead of the pointer; down: %llu bytes out on the "
		"join, %llu reinjected, %llu joins stale",
		mine.up.seconds, (unsigned long long)st.mptcp_join_rx_bytes, dropped,
		(unsigned long long)st.mptcp_dup_data_rx, (unsigned long long)st.mptcp_ooo_bytes,
		(unsigned long long)st.mptcp_join_tx_bytes,
		(unsigned long long)st.mptcp_reinject_bytes,
		(unsigned long long)st.mptcp_join_stale);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	CU_ASSERT(st.mptcp_join_rx_bytes > 0);
	CU_ASSERT(st.mptcp_join_rx_bytes < j.bytes / 2);
	CU_ASSERT(dropped > 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* A send that stalls for 20 s fails (SO_SNDTIMEO) rather than waiting for
 * lwIP to give up; what the MPTCP connection looked like then goes to
 * stderr. */
static void stall_fails(int fd)
{
	struct timeval tv = {.tv_sec = 20};

	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
}

/* skiff's MPTCP counters that moved, one line to stderr. */
static void note_mptcp_counters(void)
{
	const struct skiff_stat_field *f;
	struct skiff_stats st;
	unsigned n;

	skiff_get_stats(&st);
	f = skiff_stat_fields(&n);
	fprintf(stderr, "  skiff:");
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;

		if (strncmp(f[i].name, "mptcp_", 6) != 0 || f[i].size != 8)
			continue;
		memcpy(&v, (const char *)&st + f[i].offset, sizeof(v));
		if (v)
			fprintf(stderr, " %s %llu", f[i].name + 6, (unsigned long long)v);
	}
	fputc('\n', stderr);
}

static bool sent_or_dump(int fd, bool ok)
{
	char out[4096];

	if (ok)
		return ok;
	if (fd >= 0)
		skiff__mptcp_dump(fd);
	else
		skiff__mptcp_dump_all();
	note_mptcp_counters();
	/* Linux's side: its MPTCP counters that moved, and its sockets. */
	if (tb_capture(K.net.ns[1], out, sizeof(out),
		       "nstat -asz 'MPTcpExt*' | awk '$2 != 0 {print $1, $2}' | tr '\\n' ' '; "
		       "ss -tniM | head -40") == 0)
		tk_note("Linux: %s", out);
	return ok;
}

/* The end of a cut test: the socket closed, Linux's report of both
 * streams to @p theirs (every MPTCP connection's state printed when it
 * does not come), the path restored, both streams checked whole. */
static void cut_done(int fd, int lfd, const struct path_cut *c, struct st_two_way *mine,
		     struct st_two_way *theirs, uint64_t bytes)
{
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT_FATAL(sent_or_dump(-1, st_child_read_report(theirs, sizeof(*theirs), 30000)));
	CU_ASSERT(tb_run(K.net.ns[1], "%s", c->restore) == 0);
	TK_ASSERT_EQ(kchild_done(10000), 0);
	st_check_two_way(mine, theirs, bytes);
	skiff_close(lfd);
}

/* After a Linux client with a join uploaded 32 MiB (@p mine's up half,
 * on @p fd), skiff sends 32 MiB back over both subflows while @p c cuts
 * the join's path (or the first subflow's, @p first): that subflow's
 * data is neither ACKed nor DATA_ACKed, its second retransmission
 * timeout makes it stale, and what it carried that the peer had not
 * DATA_ACKed goes again on the other (the DATA_FIN on the join when the
 * first subflow's path is cut). The download completes, SHA-256 equal;
 * @p what names the cut in the note. */
static void send_through_cut(int fd, int lfd, uint64_t bytes, struct st_two_way *mine,
			     struct path_cut *c, const char *what, bool first)
{
	struct st_two_way theirs;
	struct skiff_stats st0, st;
	pthread_t th;

	skiff_get_stats(&st0);
	stall_fails(fd);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, path_cut_run, c) == 0);
	CU_ASSERT(
		sent_or_dump(fd, st_send_stream(fd, ST_SEED_DOWN, bytes, false, &mine->down) == 0));
	pthread_join(th, NULL);
	cut_done(fd, lfd, c, mine, &theirs, bytes);
	skiff_get_stats(&st);
	tk_note("skiff -> kernel, %s at %u ms: %llu MiB in %.2f s; %llu bytes out on the join, "
		"%llu reinjected on the first subflow, joins gone stale %llu; first subflow gone "
		"stale %llu, %llu of its bytes sent again on the join, DATA_FIN on the join %llu; "
		"map mismatch %llu",
		what, c->ms, (unsigned long long)(bytes / ST_MIB), theirs.down.seconds,
		(unsigned long long)(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes),
		(unsigned long long)st.mptcp_reinject_bytes,
		(unsigned long long)st.mptcp_join_stale, (unsigned long long)st.mptcp_main_stale,
		(unsigned long long)st.mptcp_main_reinject_bytes,
		(unsigned long long)st.mptcp_data_fin_join_tx,
		(unsigned long long)st.mptcp_map_mismatch);
	CU_ASSERT(st.mptcp_join_tx_bytes > st0.mptcp_join_tx_bytes);
	if (first) {
		CU_ASSERT(st.mptcp_main_stale >= 1);
		CU_ASSERT(st.mptcp_main_reinject_bytes > 0);
		CU_ASSERT(st.mptcp_data_fin_join_tx > 0);
	} else {
		CU_ASSERT(st.mptcp_join_stale >= 1);
		CU_ASSERT(st.mptcp_reinject_bytes > 0);
	}
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* One path cut while skiff sends on both (issue #18's reinjection): a
 * Linux client with a join uploads 32 MiB, then skiff sends 32 MiB back;
 * 300 ms in, the join's path drops what skiff sends there. */
static void test_mptcp_join_path_cut_send(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct path_cut cut = second_address_cut(300, "INPUT -d");
	struct st_two_way mine;
	int lfd, fd;

	mptcp_env_up("mpcs");
	k_second_address(AF_INET, true);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	send_through_cut(fd, lfd, j.bytes, &mine, &cut, "the join's path cut", false);
}

/* Drives skiff until @p n joins are established (at most 5 s). */
static bool wait_joins(uint64_t n)
{
	long long end = st_now_ms() + 5000;
	struct skiff_stats st;

	do {
		skiff_poll(10);
		skiff_get_stats(&st);
		if (st.mptcp_join_established >= n)
			return true;
	} while (st_now_ms() < end);
	return false;
}

static int k_mptcp_server_two_way(struct kjob *j);

/* A mapping whose DSS checksum is wrong on its way in (RFC 8684 3.7): a
 * Linux client that asked for checksums sends 16 MiB; skiff flips one
 * received byte (8 MiB + 12345) before the checksum of its mapping is
 * checked, as if a middlebox had changed it and mended TCP's checksum.
 * skiff sends MP_FAIL naming the mapping; Linux answers as RFC 8684 says
 * with one subflow: an echo, then an infinite mapping on its next data,
 * and TCP from there, the failed mapping included. The socket says
 * FALLBACK; all 16 MiB arrive, in order, with no gap, the flipped byte
 * the only one changed (as TCP would deliver what a middlebox changed);
 * the 16 MiB skiff sends back arrive whole (SHA-256 equal). */
static void test_mptcp_checksum_failure_rx(void)
{
	static const char *const names[] = {
		"MPTcpExtDataCsumErr",	  "MPTcpExtMPFailRx",	   "MPTcpExtMPFailTx",
		"MPTcpExtInfiniteMapTx",  "MPTcpExtInfiniteMapRx", "MPTcpExtMPCapableFallbackACK",
		"MPTcpExtDSSNotMatching",
	};
	const uint64_t bytes = 16 * ST_MIB, flip = 8 * ST_MIB + 12345;
	struct kjob j = {
		.fn = k_client_two_way, .family = AF_INET, .proto = IPPROTO_MPTCP, .bytes = bytes};
	struct timeval tv = {.tv_sec = 10};
	struct st_two_way theirs;
	struct st_xfer down;
	struct skiff_stats st;
	uint8_t want[32];
	uint64_t v[7], got = 0, lost;
	int64_t at;
	uint8_t *buf;
	int lfd, fd;

	mptcp_env_up("mpcsr");
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.checksum_enabled=1") == 0);
	/* Linux 6.18 puts its infinite mapping (a 24-byte DSS) on a segment
	 * sized for plain TCP, as it falls back while building it: with the
	 * path's MTU taken by full segments that one is 24 bytes too long,
	 * never leaves (ICMP "fragmentation needed" to itself) and the
	 * subflow stalls. A route MTU 24 bytes short leaves it room. */
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "ip route add %s/32 dev %s mtu lock 1476", STACK_IP4,
			 K.net.ifname[1]);
		CU_ASSERT_FATAL(tb_run(K.net.ns[1], cmd) == 0);
	}
	buf = malloc(bytes);
	CU_ASSERT_FATAL(buf != NULL);
	kchild(&j);
	stack_up();
	lfd = mptcp_listen(AF_INET);
	skiff__mptcp_corrupt_rx(flip);
	st_child_go();
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	TK_ASSERT_EQ(mptcp_csum_enabled(fd), 1);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	for (;;) {
		ssize_t k = skiff_recv(fd, buf + got, bytes - got, 0);

		if (k <= 0) {
			if (k < 0)
				tk_note("recv after %llu bytes: %s", (unsigned long long)got,
					strerror(errno));
			CU_ASSERT(k == 0);
			break;
		}
		got += (uint64_t)k;
	}
	check_fell_back(fd);
	/* Linux's counters once the upload is over (MP_FAIL and the
	 * infinite mapping are behind it). */
	k_mptcp_counters(names, v, 7);
	skiff_get_stats(&st);
	lost = bytes - got;
	/* What arrived is the whole stream, the flipped byte as it came (the
	 * failed mapping is handed on as the fallback's TCP hands it on, as
	 * Linux does): no gap, nothing else changed. */
	at = st_pattern_check(ST_SEED_UP, 0, buf, got);
	tk_note("received %llu of %llu bytes, the first wrong one at %lld (the flipped byte at "
		"%llu); skiff: checksum errors %llu (%llu bytes), MP_FAIL tx %llu rx %llu, "
		"infinite mappings rx %llu, map mismatch %llu",
		(unsigned long long)got, (unsigned long long)bytes, (long long)at,
		(unsigned long long)flip, (unsigned long long)st.mptcp_csum_err,
		(unsigned long long)st.mptcp_csum_fail_bytes,
		(unsigned long long)st.mptcp_mp_fail_tx, (unsigned long long)st.mptcp_mp_fail_rx,
		(unsigned long long)st.mptcp_infinite_map_rx,
		(unsigned long long)st.mptcp_map_mismatch);
	TK_ASSERT_EQ(lost, 0);
	TK_ASSERT_EQ(at, (int64_t)flip);
	TK_ASSERT_EQ(st_pattern_check(ST_SEED_UP, flip + 1, buf + flip + 1, got - flip - 1), -1);
	CU_ASSERT(st.mptcp_csum_fail_bytes > 0 && st.mptcp_csum_fail_bytes <= 65535);
	TK_ASSERT_EQ(st.mptcp_csum_err, 1);
	TK_ASSERT_EQ(st.mptcp_mp_fail_tx, 1);
	TK_ASSERT_EQ(st.mptcp_mp_fail_rx, 1); /* Linux's echo */
	TK_ASSERT_EQ(st.mptcp_infinite_map_rx, 1);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	TK_ASSERT_EQ(v[0], 0); /* Linux found none of skiff's checksums wrong */
	TK_ASSERT_EQ(v[1], 1); /* it took skiff's MP_FAIL */
	TK_ASSERT_EQ(v[2], 1); /* ... echoed it */
	TK_ASSERT_EQ(v[3], 1); /* ... and sent the infinite mapping */
	TK_ASSERT_EQ(v[4], 0);
	TK_ASSERT_EQ(v[5], 0);
	TK_ASSERT_EQ(v[6], 0);
	/* skiff's 16 MiB back, whole, over what is now TCP. */
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, bytes, false, &down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 60000));
	TK_ASSERT_EQ(kchild_done(10000), 0);
	st_pattern_digest(ST_SEED_DOWN, bytes, want);
	TK_ASSERT_EQ(theirs.up.bytes, bytes);
	TK_ASSERT_EQ(theirs.down.bytes, bytes);
	TK_ASSERT_EQ(theirs.down.bad, 0);
	CU_ASSERT(memcmp(theirs.down.digest, want, 32) == 0);
	free(buf);
}

/* The other way: skiff's client asks for checksums of a Linux listener
 * and sends the mapping that holds byte 8 MiB + 12345 once with a wrong
 * checksum (skiff__mptcp_corrupt_tx(), the payload itself unchanged).
 * Linux counts the error and sends MP_FAIL; skiff echoes it and puts an
 * infinite mapping on its next data; Linux carries on as TCP. Linux
 * delivers the mapping (its bytes are right, only their checksum was not):
 * 16 MiB each way, SHA-256 equal; skiff's socket says FALLBACK. */
static void test_mptcp_checksum_failure_tx(void)
{
	static const char *const names[] = {
		"MPTcpExtDataCsumErr",	  "MPTcpExtMPFailTx",	   "MPTcpExtMPFailRx",
		"MPTcpExtInfiniteMapRx",  "MPTcpExtInfiniteMapTx", "MPTcpExtMPCapableFallbackACK",
		"MPTcpExtDSSNotMatching",
	};
	const uint64_t bytes = 16 * ST_MIB;
	struct kjob j = {.fn = k_mptcp_server_two_way, .family = AF_INET, .bytes = bytes, .arg = 1};
	struct st_two_way mine, theirs;
	struct skiff_mptcp_status ms;
	struct sockaddr_storage ss;
	struct skiff_stats st;
	uint64_t v[7];
	socklen_t len;
	char ready;
	int fd;

	mptcp_env_up("mpcst");
	kchild(&j);
	st_xsk_tweak = tweak_mptcp_checksum;
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = skiff_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	len = st_sockaddr(AF_INET, PEER_IP4, PEER_IP6, PORT, &ss);
	skiff__mptcp_corrupt_tx(8 * ST_MIB + 12345);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	TK_ASSERT_EQ(ready, 'y');
	CU_ASSERT(st_send_stream(fd, ST_SEED_UP, bytes, false, &mine.up) == 0);
	CU_ASSERT(skiff_shutdown(fd, SHUT_WR) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_DOWN, bytes, false, false, &mine.down) == 0);
	CU_ASSERT(skiff_mptcp_status(fd, &ms) == 0);
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_FALLBACK);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, bytes);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	tk_note("skiff: mode %d after the transfer, MP_FAIL rx %llu tx %llu, infinite mappings "
		"tx %llu, checksum errors %llu, map mismatch %llu",
		(int)ms.mode, (unsigned long long)st.mptcp_mp_fail_rx,
		(unsigned long long)st.mptcp_mp_fail_tx,
		(unsigned long long)st.mptcp_infinite_map_tx, (unsigned long long)st.mptcp_csum_err,
		(unsigned long long)st.mptcp_map_mismatch);
	TK_ASSERT_EQ(st.mptcp_mp_fail_rx, 1);
	TK_ASSERT_EQ(st.mptcp_mp_fail_tx, 1); /* the echo */
	TK_ASSERT_EQ(st.mptcp_infinite_map_tx, 1);
	TK_ASSERT_EQ(st.mptcp_csum_err, 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	k_mptcp_counters(names, v, 7);
	TK_ASSERT_EQ(v[0], 1); /* Linux found the one wrong checksum */
	TK_ASSERT_EQ(v[1], 1); /* ... sent MP_FAIL */
	TK_ASSERT_EQ(v[2], 1); /* ... took the echo */
	TK_ASSERT_EQ(v[3], 1); /* ... and the infinite mapping: TCP */
	TK_ASSERT_EQ(v[4], 0);
	TK_ASSERT_EQ(v[5], 0);
	TK_ASSERT_EQ(v[6], 0);
}

/* Linux sends data again at the connection level when DATA_ACKs stop for
 * its retransmission timeout (a stalled receiver): on the one subflow,
 * under new subflow sequence numbers. skiff holds its DATA_ACKs for the
 * first 2 s of a Linux client's upload; the resends must be taken by TCP
 * and their bytes discarded as data-level duplicates (mptcp_dup_data_rx),
 * and the transfer must finish, SHA-256 equal. A receive that stalls for
 * 20 s fails the test rather than hanging it. */
static void test_mptcp_data_level_resend(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = 16 * ST_MIB};
	struct timeval tv = {.tv_sec = 20};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	int lfd, fd, rc;

	mptcp_env_up("mpdup");
	kchild(&j);
	stack_up();
	lfd = mptcp_listen(AF_INET);
	skiff__mptcp_hold_data_ack(2000);
	st_child_go();
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	rc = st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up);
	if (rc) {
		skiff_get_stats(&st);
		tk_note("receive stalled at %llu bytes: map mismatch %llu, duplicate data %llu",
			(unsigned long long)mine.up.bytes,
			(unsigned long long)st.mptcp_map_mismatch,
			(unsigned long long)st.mptcp_dup_data_rx);
	}
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT_FATAL(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	st_note_rate("kernel -> skiff (MPTCP, DATA_ACKs held 2 s)", j.bytes, mine.up.seconds);
	st_note_rate("skiff -> kernel (MPTCP)", j.bytes, theirs.down.seconds);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	tk_note("skiff: duplicate data %llu bytes, map mismatch %llu, DSS rx %llu, "
		"DATA_FIN rx %llu tx %llu",
		(unsigned long long)st.mptcp_dup_data_rx, (unsigned long long)st.mptcp_map_mismatch,
		(unsigned long long)st.mptcp_dss_rx, (unsigned long long)st.mptcp_data_fin_rx,
		(unsigned long long)st.mptcp_data_fin_tx);
	TK_ASSERT_EQ(st.mptcp_passive_established, 1);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	CU_ASSERT(st.mptcp_dup_data_rx > 0);
	CU_ASSERT(st.mptcp_data_fin_rx >= 1);
}

/* The kernel's MPTCP listener for skiff's client: receives, then sends. */
static int k_mptcp_server_two_way(struct kjob *j)
{
	int fd = st_kernel_accept_one(j->family, IPPROTO_MPTCP, PORT, 0);
	struct st_two_way r;

	if (fd < 0)
		return -fd;
	if (j->arg) {
		/* Linux's own word on DSS checksums (its struct mptcp_info). */
		struct skiff_mptcp_info info;
		socklen_t ilen = sizeof(info);
		char csum = 'e';

		if (getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &ilen) == 0)
			csum = info.mptcpi_csum_enabled ? 'y' : 'n';
		st_child_report(&csum, 1);
	}
	if (st_kernel_recv_stream(fd, ST_SEED_UP, &r.up))
		return 4;
	if (st_kernel_send_stream(fd, ST_SEED_DOWN, j->bytes, &r.down))
		return 5;
	close(fd);
	st_child_report(&r, sizeof(r));
	return 0;
}

/* skiff's MPTCP client (connect() on an IPPROTO_MPTCP socket) to a Linux
 * MPTCP listener: MP_CAPABLE completes on both ends, 64 MiB each way.
 * With @p csum skiff asks for DSS checksums (skiff_config.mptcp_checksum)
 * of a Linux whose net.mptcp.checksum_enabled is 0: Linux takes them
 * because the SYN asks, and says so in its MPTCP_INFO. */
static void mptcp_skiff_client(int family, bool csum)
{
	static const char *const names[] = {
		"MPTcpExtMPCapableSYNRX", "MPTcpExtMPCapableACKRX", "MPTcpExtMPCapableFallbackACK",
		"MPTcpExtDSSNotMatching", "MPTcpExtInfiniteMapRx",  "MPTcpExtMPFallbackTokenInit",
		"MPTcpExtDataCsumErr",	  "MPTcpExtMPFailTx",
	};
	struct kjob j = {.fn = k_mptcp_server_two_way, .family = family, .bytes = BIG, .arg = csum};
	struct skiff_mptcp_status ms;
	struct st_two_way mine, theirs;
	struct sockaddr_storage ss;
	struct skiff_stats st;
	uint64_t v[8];
	socklen_t len;
	char ready;
	int fd;

	mptcp_env_up(family == AF_INET ? "mps4" : "mps6");
	kchild(&j);
	if (csum)
		st_xsk_tweak = tweak_mptcp_checksum;
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = skiff_socket(family, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	len = st_sockaddr(family, PEER_IP4, PEER_IP6, PORT, &ss);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT(skiff_mptcp_status(fd, &ms) == 0);
	TK_ASSERT_EQ(ms.mode, SKIFF_MPTCP_MODE_ACTIVE);
	TK_ASSERT_EQ(mptcp_csum_enabled(fd), csum ? 1 : 0);
	if (csum) {
		CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
		TK_ASSERT_EQ(ready, 'y');
	}
	st_skiff_two_way_client(fd, j.bytes, &mine);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	st_note_rate("skiff -> kernel (MPTCP)", j.bytes, mine.up.seconds);
	st_note_rate("kernel -> skiff (MPTCP)", j.bytes, theirs.down.seconds);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	tk_note("skiff: active established %llu, SYN-ACK fallback %llu, map mismatch %llu, "
		"DATA_FIN rx %llu tx %llu",
		(unsigned long long)st.mptcp_active_established,
		(unsigned long long)st.mptcp_fallback_synack,
		(unsigned long long)st.mptcp_map_mismatch, (unsigned long long)st.mptcp_data_fin_rx,
		(unsigned long long)st.mptcp_data_fin_tx);
	k_mptcp_counters(names, v, 8);
	TK_ASSERT_EQ(st.mptcp_active_established, 1);
	TK_ASSERT_EQ(st.mptcp_fallback_synack, 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	TK_ASSERT_EQ(st.mptcp_csum_err, 0);
	TK_ASSERT_EQ(st.mptcp_mp_fail_tx + st.mptcp_mp_fail_rx, 0);
	CU_ASSERT(st.mptcp_data_fin_rx >= 1);
	CU_ASSERT(st.mptcp_data_fin_tx >= 1);
	TK_ASSERT_EQ(v[0], 1); /* the server took our MP_CAPABLE SYN */
	TK_ASSERT_EQ(v[1], 1); /* ... and our third ACK's keys */
	TK_ASSERT_EQ(v[2], 0);
	TK_ASSERT_EQ(v[3], 0);
	TK_ASSERT_EQ(v[4], 0);
	TK_ASSERT_EQ(v[5], 0);
	TK_ASSERT_EQ(v[6], 0); /* no mapping's checksum wrong */
	TK_ASSERT_EQ(v[7], 0);
}

static void test_mptcp_skiff_client_v4(void)
{
	mptcp_skiff_client(AF_INET, false);
}

static void test_mptcp_checksum_skiff_client(void)
{
	mptcp_skiff_client(AF_INET, true);
}

static void test_mptcp_skiff_client_v6(void)
{
	mptcp_skiff_client(AF_INET6, false);
}

/* skiff joins what a peer announces (skiff_config.mptcp_add_addr_accepted). */
static void tweak_add_addr_accepted(struct skiff_config *c)
{
	c->mptcp_add_addr_accepted = 1;
}

/* The kernel's MPTCP listener that announces its second address (the test
 * makes it a "signal" endpoint): sends j->bytes to skiff's client and
 * reports its transfer, then, at the parent's word, reads once and
 * reports what the read saw ('e' EOF, 'R' ECONNRESET, '?' else). */
static int k_mptcp_server_announcing(struct kjob *j)
{
	int lfd = st_kernel_listen_with(j->family, IPPROTO_MPTCP, PORT, 0), fd;
	struct st_xfer x;
	char ready = 'r', b, seen;
	ssize_t n;

	if (lfd < 0)
		return 2;
	st_child_report(&ready, 1);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 3;
	/* The listener stays: MP_JOIN SYNs come to it. */
	if (st_kernel_send_stream(fd, ST_SEED_DOWN, j->bytes, &x))
		return 5;
	st_child_report(&x, sizeof(x));
	if (!st_child_wait_go(60000))
		return 6;
	n = recv(fd, &b, 1, 0);
	seen = n == 0 ? 'e' : n < 0 && errno == ECONNRESET ? 'R' : '?';
	st_child_report(&seen, 1);
	close(fd);
	close(lfd);
	return 0;
}

/* Runs the stack for @p ms. */
static void pump_ms(int ms)
{
	long long end = st_now_ms() + ms;

	while (st_now_ms() < end)
		skiff_poll(5);
}

/* The Linux server's second address (10.77.0.3 or fd77::3), which its
 * path manager announces to its clients (a "signal" endpoint, id 1). */
static void k_announce_second_address(int family)
{
	const char *ip = family == AF_INET6 ? PEER2_IP6 : PEER2_IP4;

	/* (nodad: an IPv6 address is usable at once.) */
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip addr add %s/%d dev %s nodad", ip,
			       family == AF_INET6 ? 64 : 24, K.net.ifname[1]) == 0);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip mptcp limits set subflows 2") == 0);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip mptcp endpoint add %s dev %s id 1 signal", ip,
			       K.net.ifname[1]) == 0);
}

/* Polls the stack until @p done says so or @p ms pass; whether it did. */
static bool poll_until(bool (*done)(int fd), int fd, int ms)
{
	long long end = st_now_ms() + ms;

	while (!done(fd)) {
		if (st_now_ms() > end)
			return false;
		skiff_poll(5);
	}
	return true;
}

static bool one_subflow_left(int fd)
{
	struct skiff_mptcp_status ms;
	struct skiff_stats st;

	skiff_get_stats(&st);
	return st.mptcp_rm_addr_rx > 0 && skiff_mptcp_status(fd, &ms) == 0 && ms.subflows == 1;
}

/* The path manager's signals with a Linux server (RFC 8684 3.4): Linux
 * announces its second address (ADD_ADDR, from a "signal" endpoint) to
 * skiff's client; skiff checks its HMAC, echoes it and opens a join there
 * (MP_JOIN as the initiator: the peer's token, HMAC-B checked on the
 * SYN-ACK, HMAC-A on the third ACK, till the peer ACKs it). Linux then
 * sends its 64 MiB on both subflows. Then Linux removes the endpoint
 * (REMOVE_ADDR): skiff closes the join. Last, skiff resets the connection
 * (SO_LINGER {1, 0}): its RST carries MP_FASTCLOSE and MP_TCPRST, and the
 * Linux socket reads ECONNRESET. */
static void mptcp_add_addr_skiff_client(int family)
{
	static const char *const names[] = {
		"MPTcpExtAddAddrTx",
		"MPTcpExtEchoAdd",
		"MPTcpExtMPJoinSynRx",
		"MPTcpExtMPJoinAckRx",
		"MPTcpExtMPJoinAckHMacFailure",
		"MPTcpExtMPFastcloseRx",
		"MPTcpExtMPRstRx",
		"MPTcpExtRmAddrTx",
	};
	struct kjob j = {.fn = k_mptcp_server_announcing, .family = family, .bytes = BIG};
	struct skiff_mptcp_status ms;
	struct st_xfer down, theirs;
	struct sockaddr_storage ss;
	struct skiff_stats st;
	struct linger lg = {1, 0};
	uint64_t v[8];
	socklen_t len;
	char ready, seen = 0;
	int fd;

	mptcp_env_up(family == AF_INET6 ? "mpa6" : "mpa4");
	k_announce_second_address(family);
	kchild(&j);
	st_xsk_tweak = tweak_add_addr_accepted;
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = skiff_socket(family, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	len = st_sockaddr(family, PEER_IP4, PEER_IP6, PORT, &ss);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_DOWN, j.bytes, true, false, &down) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 60000));
	CU_ASSERT(skiff_mptcp_status(fd, &ms) == 0);
	st_note_rate("kernel -> skiff (MPTCP, two subflows, the join skiff opened)", j.bytes,
		     down.seconds);
	skiff_get_stats(&st);
	tk_note("skiff: ADD_ADDR in %llu (bad HMAC %llu), echoes out %llu, MP_JOIN SYNs out %llu, "
		"joins established %llu (bad HMAC %llu), %u subflows, %llu bytes in on the join, "
		"%llu kept ahead of the data-level pointer, map mismatch %llu",
		(unsigned long long)st.mptcp_add_addr_rx,
		(unsigned long long)st.mptcp_add_addr_bad_hmac,
		(unsigned long long)st.mptcp_add_addr_echo_tx,
		(unsigned long long)st.mptcp_join_syn_tx,
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_bad_hmac, ms.subflows,
		(unsigned long long)st.mptcp_join_rx_bytes, (unsigned long long)st.mptcp_ooo_bytes,
		(unsigned long long)st.mptcp_map_mismatch);
	CU_ASSERT(st.mptcp_add_addr_rx >= 1);
	TK_ASSERT_EQ(st.mptcp_add_addr_bad_hmac, 0);
	CU_ASSERT(st.mptcp_add_addr_echo_tx >= 1);
	TK_ASSERT_EQ(st.mptcp_join_syn_tx, 1);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	TK_ASSERT_EQ(st.mptcp_join_bad_hmac, 0);
	TK_ASSERT_EQ(ms.subflows, 2);
	CU_ASSERT(st.mptcp_join_rx_bytes > 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	/* REMOVE_ADDR: the join to that address closes. */
	CU_ASSERT(tb_run(K.net.ns[1], "ip mptcp endpoint delete id 1") == 0);
	CU_ASSERT(poll_until(one_subflow_left, fd, 5000));
	skiff_get_stats(&st);
	tk_note("after the endpoint's removal: REMOVE_ADDR in %llu, subflows %s",
		(unsigned long long)st.mptcp_rm_addr_rx, one_subflow_left(fd) ? "1" : "still 2");
	/* The application's reset: MP_FASTCLOSE. */
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	pump_ms(200);
	st_child_go();
	CU_ASSERT(st_child_read_report(&seen, 1, 10000));
	skiff_get_stats(&st);
	tk_note("skiff: MP_FASTCLOSE out %llu, MP_TCPRST out %llu; Linux's read saw '%c'",
		(unsigned long long)st.mptcp_fastclose_tx, (unsigned long long)st.mptcp_rst_tx,
		seen);
	CU_ASSERT(st.mptcp_fastclose_tx >= 1);
	CU_ASSERT(st.mptcp_rst_tx >= 1);
	TK_ASSERT_EQ(seen, 'R');
	k_mptcp_counters(names, v, 8);
	TK_ASSERT_EQ(v[0], 1); /* Linux announced once */
	TK_ASSERT_EQ(v[1], 1); /* and took our echo */
	TK_ASSERT_EQ(v[2], 1); /* our MP_JOIN SYN */
	TK_ASSERT_EQ(v[3], 1); /* our third ACK's HMAC */
	TK_ASSERT_EQ(v[4], 0);
	CU_ASSERT(v[5] >= 1); /* our MP_FASTCLOSE */
	CU_ASSERT(v[6] >= 1); /* our MP_TCPRST */
}

static void test_mptcp_add_addr_skiff_client(void)
{
	mptcp_add_addr_skiff_client(AF_INET);
}

static void test_mptcp_add_addr_skiff_client_v6(void)
{
	mptcp_add_addr_skiff_client(AF_INET6);
}

/* skiff announces PORT + 1 to every connection its listeners accept. */
static void tweak_announce_port(struct skiff_config *c)
{
	c->mptcp_announce_port = PORT + 1;
}

/* skiff announces (ADD_ADDR, RFC 8684 3.4.1, skiff_config.mptcp_announce_port):
 * a Linux client that accepts one announced address
 * (`ip mptcp limits set add_addr_accepted 1`) takes skiff's ADD_ADDR
 * (its HMAC from skiff's key), echoes it, and joins skiff's address at
 * the announced port, where a second MPTCP listener takes the join. 64 MiB
 * each way over both subflows, SHA-256 equal. */
static void test_mptcp_add_addr_announced(void)
{
	static const char *const names[] = {
		"MPTcpExtAddAddr",	  "MPTcpExtAddAddrDrop",    "MPTcpExtMPJoinSynTx",
		"MPTcpExtMPJoinSynAckRx", "MPTcpExtDSSNotMatching",
	};
	struct kjob j = {
		.fn = k_client_two_way, .family = AF_INET, .proto = IPPROTO_MPTCP, .bytes = BIG};
	struct sockaddr_storage ss;
	struct st_two_way mine, theirs;
	struct skiff_mptcp_status ms;
	struct skiff_stats st;
	uint64_t v[5];
	socklen_t len;
	int lfd, lfd2, fd;

	mptcp_env_up("mpan");
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip mptcp limits set add_addr_accepted 1 subflows 2") ==
			0);
	kchild(&j);
	st_xsk_tweak = tweak_announce_port;
	stack_up();
	lfd = mptcp_listen(AF_INET);
	/* The announced port's listener: joins only come to it. */
	len = st_sockaddr(AF_INET, "0.0.0.0", "::", PORT + 1, &ss);
	lfd2 = skiff_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(lfd2 >= 0);
	CU_ASSERT_FATAL(skiff_bind(lfd2, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT_FATAL(skiff_listen(lfd2, 8) == 0);
	st_child_go();
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	CU_ASSERT(skiff_mptcp_status(fd, &ms) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	skiff_close(lfd2);
	st_note_rate("kernel -> skiff (MPTCP, joined at the port skiff announced)", j.bytes,
		     mine.up.seconds);
	st_note_rate("skiff -> kernel (MPTCP, both subflows)", j.bytes, theirs.down.seconds);
	skiff_get_stats(&st);
	tk_note("skiff: ADD_ADDR out %llu, echoes in %llu, joins taken %llu, %u subflows, "
		"%llu bytes in on the join, %llu out on it",
		(unsigned long long)st.mptcp_add_addr_tx,
		(unsigned long long)st.mptcp_add_addr_echo_rx,
		(unsigned long long)st.mptcp_join_established, ms.subflows,
		(unsigned long long)st.mptcp_join_rx_bytes,
		(unsigned long long)st.mptcp_join_tx_bytes);
	k_mptcp_counters(names, v, 5);
	CU_ASSERT(st.mptcp_add_addr_tx >= 1);
	CU_ASSERT(st.mptcp_add_addr_echo_rx >= 1);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	TK_ASSERT_EQ(ms.subflows, 2);
	CU_ASSERT(st.mptcp_join_rx_bytes > 0);
	CU_ASSERT(st.mptcp_join_tx_bytes > 0);
	CU_ASSERT(v[0] >= 1); /* Linux took our ADD_ADDR (its HMAC) */
	TK_ASSERT_EQ(v[1], 0);
	TK_ASSERT_EQ(v[2], 1); /* and joined there */
	TK_ASSERT_EQ(v[3], 1);
	TK_ASSERT_EQ(v[4], 0);
}

/* A Linux server that announces its second address, its sending shaped
 * per source address (10.77.0.2 and 10.77.0.3 each at @p mbit), sends
 * @p bytes to skiff's client; with @p join skiff joins the announced
 * address (else it takes no join: one subflow). The time skiff took to
 * receive them; what came on the join to @p on_join. A whole environment
 * of its own. */
static double announce_shaped_download(bool join, unsigned mbit, uint64_t bytes, uint64_t *on_join)
{
	struct kjob j = {.fn = k_mptcp_server_announcing, .family = AF_INET, .bytes = bytes};
	struct st_xfer down, theirs;
	struct sockaddr_storage ss;
	struct skiff_stats st;
	socklen_t len;
	char ready, seen = 0;
	double secs;
	int fd;

	mptcp_env_up(join ? "mpd2" : "mpd1");
	k_announce_second_address(AF_INET);
	k_shape_by_source(mbit);
	kchild(&j);
	if (join)
		st_xsk_tweak = tweak_add_addr_accepted;
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = skiff_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	len = st_sockaddr(AF_INET, PEER_IP4, PEER_IP6, PORT, &ss);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_DOWN, bytes, true, false, &down) == 0);
	CU_ASSERT(st_child_read_report(&theirs, sizeof(theirs), 60000));
	CU_ASSERT(skiff_close(fd) == 0);
	st_child_go();
	CU_ASSERT(st_child_read_report(&seen, 1, 10000));
	TK_ASSERT_EQ(seen, 'e');
	skiff_get_stats(&st);
	*on_join = st.mptcp_join_rx_bytes;
	TK_ASSERT_EQ(st.mptcp_add_addr_rx >= 1, true);
	TK_ASSERT_EQ(st.mptcp_join_established, join ? 1 : 0);
	TK_ASSERT_EQ(st.mptcp_ooo_drop, 0);
	secs = down.seconds;
	teardown();
	setup();
	return secs;
}

/* Two paths move more than one, the other way round (issue #18's test):
 * a Linux server's two addresses each shaped to the same rate, 16 MiB
 * down to skiff's client over one subflow, then over two (the join skiff
 * opens to the address Linux announced): at least 1.6 times. */
static void test_mptcp_add_addr_two_paths_shaped(void)
{
	two_paths_vs_one(
		announce_shaped_download,
		"down to skiff's client, the server's addresses shaped (the join skiff opened)");
}

/* ---- two ports: skiff on two links (issue #18) ---------------------------------- */

/* The second link: a veth of its own between the namespaces, skiff's
 * second port at one end (STACK_B_IP4), Linux's second address at the
 * other (PEER_B_IP4). */
#define STACK_B_IP4 "10.78.0.10"
#define PEER_B_IP4  "10.78.0.2"

static void tweak_second_port(struct skiff_config *c)
{
	c->n_extra_ports = 1;
	c->extra_ports[0].ifname = K.link_b[0];
	inet_pton(AF_INET, STACK_B_IP4, &c->extra_ports[0].ipv4);
}

/* MPTCP's environment with the second link; the Linux side takes @p
 * accepted announcements (0: it never joins, one subflow). */
static void two_links_up(const char *tag, unsigned accepted)
{
	mptcp_env_up(tag);
	CU_ASSERT_FATAL(tb_link(K.net.ns[0], K.link_b[0], NULL, K.net.ns[1], K.link_b[1],
				PEER_B_IP4 "/24", "b") == 0);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip mptcp limits set add_addr_accepted %u subflows %u",
			       accepted, accepted) == 0);
	st_xsk_tweak = tweak_second_port;
}

/* Bytes Linux's end of link @p i (0: the first, 1: the second) received
 * (@p rx) or sent. */
static uint64_t k_link_bytes(unsigned i, bool rx)
{
	char out[64];

	CU_ASSERT_FATAL(
		tb_capture(K.net.ns[1], out, sizeof(out), "cat /sys/class/net/%s/statistics/%s",
			   i ? K.link_b[1] : K.net.ifname[1], rx ? "rx_bytes" : "tx_bytes") == 0);
	return strtoull(out, NULL, 10);
}

/* What crosses each link shaped to @p mbit in one direction (htb over a
 * queue of 1000 packets: no loss, the RTT grows instead): what Linux
 * sends (@p up), or what reaches it (an ifb on each end's ingress; skiff
 * sends through AF_XDP, past any qdisc of its own end). The queue is set,
 * not left to htb's default, which follows the device's txqueuelen: 32
 * on an ifb, where skiff's one-subflow download then took 3.8 to 6.5 s
 * for 16 MiB at 40 Mbit/s (losses at the queue; 3.75 to 3.83 s in 6 runs
 * with the 1000 packets). */
static void k_shape_link(unsigned i, unsigned mbit, bool up);

static void k_shape_links(unsigned mbit, bool up)
{
	k_shape_link(0, mbit, up);
	k_shape_link(1, mbit, up);
}

/* Link @p i (0 the first, 1 the second) alone, as k_shape_links(). */
static void k_shape_link(unsigned i, unsigned mbit, bool up)
{
	{
		const char *ifn = i ? K.link_b[1] : K.net.ifname[1];
		char dev[IF_NAMESIZE];

		snprintf(dev, sizeof(dev), "%s", ifn);
		if (!up) {
			snprintf(dev, sizeof(dev), "skifb%u", i);
			CU_ASSERT_FATAL(tb_run(K.net.ns[1],
					       "ip link add %s type ifb && ip link set %s up && "
					       "tc qdisc add dev %s handle ffff: ingress && "
					       "tc filter add dev %s parent ffff: protocol all u32 "
					       "match u32 0 0 action mirred egress redirect dev %s",
					       dev, dev, ifn, ifn, dev) == 0);
		}
		CU_ASSERT_FATAL(
			tb_run(K.net.ns[1],
			       "tc qdisc add dev %s root handle 1: htb default 10 r2q 100 && "
			       "tc class add dev %s parent 1: classid 1:10 htb rate %umbit "
			       "ceil %umbit && "
			       "tc qdisc add dev %s parent 1:10 handle 10: pfifo limit 1000",
			       dev, dev, mbit, mbit, dev) == 0);
	}
}

/* One exchange between a Linux MPTCP client and skiff on two ports:
 * @p bytes each way, the links shaped to @p mbit in the direction @p up
 * says. With @p join Linux takes the second port's address skiff announces
 * and joins across the second link; else it stays on one subflow. The
 * shaped direction's time; what crossed the second link in it to @p on_b.
 * A whole environment of its own. */
/* A join runs the socket's congestion control (CUBIC with HyStart++),
 * not lwIP's Reno: over a shaped link's deep queue its slow start ends
 * when the delay grows (or at a loss), far below the 4 MiB send buffer
 * lwIP's Reno starts ssthresh at, to which it grew before (4.2 MB of
 * window against the first subflow's 600 KB). Read after the send, from
 * MPTCP_TCPINFO of the second subflow. */
static void check_join_cc(int fd)
{
	struct skiff_mptcp_subflow_data *h;
	uint8_t buf[sizeof(*h) + 2 * sizeof(struct tcp_info)];
	struct tcp_info ti[2];
	socklen_t len = sizeof(buf);

	memset(buf, 0, sizeof(buf));
	h = (struct skiff_mptcp_subflow_data *)buf;
	h->size_subflow_data = sizeof(*h);
	h->size_user = sizeof(struct tcp_info);
	CU_ASSERT_FATAL(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, buf, &len) == 0);
	TK_ASSERT_EQ(h->num_subflows, 2);
	memcpy(ti, buf + sizeof(*h), sizeof(ti));
	tk_note("after the send: first subflow cwnd %u ssthresh %u segments, join cwnd %u "
		"ssthresh %u (of %u bytes), rtt %u us",
		ti[0].tcpi_snd_cwnd, ti[0].tcpi_snd_ssthresh, ti[1].tcpi_snd_cwnd,
		ti[1].tcpi_snd_ssthresh, ti[1].tcpi_snd_mss, ti[1].tcpi_rtt);
	CU_ASSERT((uint64_t)ti[1].tcpi_snd_ssthresh * ti[1].tcpi_snd_mss < 2 * ST_MIB);
}

static double two_ports_run(bool join, bool up, unsigned mbit, uint64_t bytes, uint64_t *on_b)
{
	static const char *const names[] = {"MPTcpExtAddAddr", "MPTcpExtMPJoinSynAckRx",
					    "MPTcpExtDSSNotMatching"};
	struct kjob j = {
		.fn = k_client_two_way, .family = AF_INET, .proto = IPPROTO_MPTCP, .bytes = bytes};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	uint64_t b0, v[3];
	double secs;
	int lfd, fd;

	two_links_up(join ? (up ? "mp2u2" : "mp2d2") : (up ? "mp2u1" : "mp2d1"), join ? 1 : 0);
	k_shape_links(mbit, up);
	b0 = k_link_bytes(1, !up);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, bytes, false, false, &mine.up) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, bytes, false, &mine.down) == 0);
	if (join && !up)
		check_join_cc(fd);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, bytes);
	skiff_close(lfd);
	b0 = k_link_bytes(1, !up) - b0;
	skiff_get_stats(&st);
	*on_b = up ? st.mptcp_join_rx_bytes : st.mptcp_join_tx_bytes;
	k_mptcp_counters(names, v, 3);
	tk_note("%s: ADD_ADDR out %llu (echoed %llu); joins %llu; on the join %llu bytes in, %llu "
		"out, %llu reinjected; Linux's end of the second link %s %llu bytes",
		join ? "two subflows" : "one subflow", (unsigned long long)st.mptcp_add_addr_tx,
		(unsigned long long)st.mptcp_add_addr_echo_rx,
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_rx_bytes,
		(unsigned long long)st.mptcp_join_tx_bytes,
		(unsigned long long)st.mptcp_reinject_bytes, up ? "sent" : "received",
		(unsigned long long)b0);
	CU_ASSERT(st.mptcp_add_addr_tx >= 1); /* announced either way */
	TK_ASSERT_EQ(st.mptcp_join_established, join ? 1 : 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
	TK_ASSERT_EQ(st.mptcp_ooo_drop, 0);
	TK_ASSERT_EQ(v[1], join ? 1 : 0); /* Linux joined at the second port */
	TK_ASSERT_EQ(v[2], 0);
	if (join) {
		CU_ASSERT(v[0] >= 1); /* it took the ADD_ADDR (its HMAC) */
		CU_ASSERT(st.mptcp_join_rx_bytes > 0 && st.mptcp_join_tx_bytes > 0);
		CU_ASSERT(b0 > bytes / 4); /* the join's data crossed the second link */
	} else {
		CU_ASSERT(b0 < 64 * 1024); /* neighbour discovery at most */
	}
	secs = up ? mine.up.seconds : theirs.down.seconds;
	teardown();
	setup();
	return secs;
}

static double two_ports_up(bool join, unsigned mbit, uint64_t bytes, uint64_t *on_b)
{
	return two_ports_run(join, true, mbit, bytes, on_b);
}

static double two_ports_down(bool join, unsigned mbit, uint64_t bytes, uint64_t *on_b)
{
	return two_ports_run(join, false, mbit, bytes, on_b);
}

/* Two links, two AF_XDP ports over one UMEM (issue #18's test): skiff
 * announces its second port's address, the Linux client joins across the
 * second link, and with each link shaped to the same rate 16 MiB up take
 * at most 1 / 1.6 of the time one subflow takes. What crossed the second
 * link is counted at Linux's end of it. */
static void test_mptcp_two_ports_shaped(void)
{
	two_paths_vs_one(two_ports_up, "up over two links (skiff's second port announced)");
}

/* The same with skiff sending (its scheduler over the two ports). */
static void test_mptcp_two_ports_shaped_send(void)
{
	/* 1.6x as the others since joins run their own CUBIC (2026-12-07;
	 * 1.5x was asked of the fastest of three pairs before, when a join's
	 * Reno overshot: one pair gave 1.28x to 2.17x, and 1.40x in a CI run
	 * whose one-subflow run was slow). */
	two_paths_vs_one(two_ports_down, "down over two links (skiff's scheduler)");
}

static void tweak_second_port_joining(struct skiff_config *c)
{
	tweak_second_port(c);
	c->mptcp_add_addr_accepted = 1;
}

/* skiff's client on two ports (@p tweak sets them up) downloads what the
 * Linux server of @p j sends (over j->family), SHA-256 checked, and
 * closes; the server reads the close. The bytes Linux's end of the second
 * link sent meanwhile, the rate noted as @p what, skiff's counters after
 * it in @p st. */
static uint64_t client_two_ports_download(struct kjob *j, void (*tweak)(struct skiff_config *),
					  const char *what, struct skiff_stats *st)
{
	struct st_xfer down, theirs;
	struct sockaddr_storage ss;
	socklen_t len;
	char ready, seen = 0;
	uint64_t b0;
	int fd;

	kchild(j);
	st_xsk_tweak = tweak;
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	b0 = k_link_bytes(1, false);
	fd = skiff_socket(j->family, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	len = st_sockaddr(j->family, PEER_IP4, PEER_IP6, PORT, &ss);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_DOWN, j->bytes, true, false, &down) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 60000));
	CU_ASSERT(skiff_close(fd) == 0);
	st_child_go();
	CU_ASSERT(st_child_read_report(&seen, 1, 10000));
	TK_ASSERT_EQ(seen, 'e');
	TK_ASSERT_EQ(kchild_done(10000), 0);
	st_note_rate(what, j->bytes, down.seconds);
	b0 = k_link_bytes(1, false) - b0;
	skiff_get_stats(st);
	TK_ASSERT_EQ(st->mptcp_map_mismatch, 0);
	return b0;
}

/* ... and a join was established, took data, and crossed the second link
 * (@p b0 bytes from Linux's end of it). */
static void check_joined_across(const struct skiff_stats *st, uint64_t b0)
{
	TK_ASSERT_EQ(st->mptcp_join_established, 1);
	CU_ASSERT(st->mptcp_join_rx_bytes > 0);
	CU_ASSERT(b0 >= st->mptcp_join_rx_bytes);
}

/* skiff's client on two ports (issue #18, the other side): a Linux server
 * announces its address on the second link (a "signal" endpoint), skiff
 * joins it, and the join leaves through skiff's second port (the route to
 * that address); Linux sends 16 MiB over both links, SHA-256 equal. */
static void test_mptcp_two_ports_skiff_client(void)
{
	struct kjob j = {.fn = k_mptcp_server_announcing, .family = AF_INET, .bytes = 16 * ST_MIB};
	struct skiff_stats st;
	uint64_t b0;

	two_links_up("mp2cl", 1);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "ip mptcp endpoint add %s dev %s id 1 signal",
			       PEER_B_IP4, K.link_b[1]) == 0);
	b0 = client_two_ports_download(&j, tweak_second_port_joining,
				       "kernel -> skiff's client (MPTCP over two ports)", &st);
	check_joined_across(&st, b0);
	tk_note("skiff: ADD_ADDR in %llu, joins %llu, %llu bytes in on the join; Linux's end of "
		"the second link sent %llu bytes",
		(unsigned long long)st.mptcp_add_addr_rx,
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_rx_bytes, (unsigned long long)b0);
}

static void tweak_second_port_subflow(struct skiff_config *c)
{
	tweak_second_port(c);
	c->extra_ports[0].mptcp_subflow = true;
	inet_pton(AF_INET, PEER_B_IP4, &c->extra_ports[0].ipv4_gateway);
}

/* skiff's client with a second path to a server with one address (issue
 * #18's two interfaces, the common case: a multihomed client): the Linux
 * server announces nothing; skiff's second port asks for a subflow
 * (skiff_port_config.mptcp_subflow, as Linux's `subflow` endpoint), its
 * gateway Linux's end of the second link. Once the connection is
 * established skiff joins from the second port's address to the server's
 * first address, across the second link; Linux sends 16 MiB over both,
 * SHA-256 equal. */
static void test_mptcp_two_ports_skiff_client_subflow(void)
{
	struct kjob j = {.fn = k_mptcp_server_announcing, .family = AF_INET, .bytes = 16 * ST_MIB};
	struct skiff_stats st;
	uint64_t b0;

	two_links_up("mp2sf", 1);
	b0 = client_two_ports_download(
		&j, tweak_second_port_subflow,
		"kernel -> skiff's client (MPTCP, a join from skiff's second port)", &st);
	check_joined_across(&st, b0);
	tk_note("skiff: ADD_ADDR in %llu, joins from a port %llu, established %llu, %llu bytes in "
		"on the join; Linux's end of the second link sent %llu bytes",
		(unsigned long long)st.mptcp_add_addr_rx,
		(unsigned long long)st.mptcp_join_from_port,
		(unsigned long long)st.mptcp_join_established,
		(unsigned long long)st.mptcp_join_rx_bytes, (unsigned long long)b0);
	TK_ASSERT_EQ(st.mptcp_add_addr_rx, 0);
	TK_ASSERT_EQ(st.mptcp_join_from_port, 1);
}

/* The same second port asking for joins, on an IPv6 connection: port
 * joins are IPv4 only, so skiff opens none, and says so in a counter
 * (mptcp_join_not_opened) rather than leaving the user to wonder; the
 * download over the one subflow is whole. */
static void test_mptcp_two_ports_skiff_client_subflow_v6(void)
{
	struct kjob j = {.fn = k_mptcp_server_announcing, .family = AF_INET6, .bytes = 4 * ST_MIB};
	struct skiff_stats st;

	two_links_up("mp2sf6", 1);
	client_two_ports_download(&j, tweak_second_port_subflow,
				  "kernel -> skiff's client (MPTCP over IPv6, one subflow)", &st);
	tk_note("skiff: joins from a port %llu, joins not opened %llu, established %llu",
		(unsigned long long)st.mptcp_join_from_port,
		(unsigned long long)st.mptcp_join_not_opened,
		(unsigned long long)st.mptcp_join_established);
	TK_ASSERT_EQ(st.mptcp_active_established, 1);
	TK_ASSERT_EQ(st.mptcp_join_from_port, 0);
	TK_ASSERT_EQ(st.mptcp_join_not_opened, 1);
	TK_ASSERT_EQ(st.mptcp_join_established, 0);
}

/* A link cut while skiff sends over two ports: a Linux client joins
 * across the second link and uploads 32 MiB; skiff sends 32 MiB back over
 * both, and 300 ms in Linux's end of link @p first ? 0 : 1 goes down
 * (send_through_cut(): the download completes over the other link); the
 * frame audit at the stack's end covers both ports. */
static void two_ports_cut_send(const char *tag, bool first)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct path_cut cut = {.ms = 300};
	const char *dev = first ? K.net.ifname[1] : K.link_b[1];
	struct st_two_way mine;
	struct skiff_stats st;
	int lfd, fd;

	two_links_up(tag, 1);
	/* What reaches Linux shaped to 200 Mbit/s a link, so that the cut
	 * subflow holds data when its path goes. Unshaped, the scheduler may
	 * keep one idle (its window never full): in one run of the README
	 * command the first subflow held nothing at its cut, and in one the
	 * join held 2.7 MB, all DATA_ACKed by the cut. */
	k_shape_links(200, false);
	snprintf(cut.cut, sizeof(cut.cut), "ip link set dev %s down", dev);
	snprintf(cut.restore, sizeof(cut.restore), "ip link set dev %s up", dev);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	send_through_cut(fd, lfd, j.bytes, &mine, &cut,
			 first ? "the first link down" : "the second link down", first);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
}

/* One link cut mid-transfer (issue #18's test, over two ports): the
 * second link, whose join's data not DATA_ACKed goes again on the first
 * subflow (as test_mptcp_join_path_cut_send). */
static void test_mptcp_two_ports_link_cut_send(void)
{
	two_ports_cut_send("mp2cut", false);
}

/* The first link cut mid-transfer (issue #18's test, the first subflow's
 * path): a Linux client joins across the second link and uploads 32 MiB;
 * 300 ms in, Linux's end of the first link goes down. Linux sends what
 * it had on the first subflow again on the join and finishes there (its
 * DATA_FIN too). skiff then sends 32 MiB back: its first subflow goes
 * stale at its second retransmission timeout, what it held that the
 * peer had not DATA_ACKed goes again on the join, the rest of the send
 * goes there, and the DATA_FIN rides the join. Both streams arrive whole
 * (SHA-256); the link comes back only once both ends are done. */
static void test_mptcp_two_ports_first_link_cut(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct path_cut cut = {.ms = 300};
	struct st_two_way mine, theirs;
	struct skiff_stats st0, st;
	pthread_t th;
	int lfd, fd;

	two_links_up("mp1cut", 1);
	snprintf(cut.cut, sizeof(cut.cut), "ip link set dev %s down", K.net.ifname[1]);
	snprintf(cut.restore, sizeof(cut.restore), "ip link set dev %s up", K.net.ifname[1]);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, path_cut_run, &cut) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	pthread_join(th, NULL);
	skiff_get_stats(&st0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT_FATAL(st_child_read_report(&theirs, sizeof(theirs), 60000));
	TK_ASSERT_EQ(kchild_done(10000), 0);
	CU_ASSERT(tb_run(K.net.ns[1], "%s", cut.restore) == 0);
	st_check_two_way(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	skiff_get_stats(&st);
	tk_note("first link down at %u ms: %llu MiB up in %.2f s (%llu bytes in on the join), "
		"down in %.2f s: %llu bytes out on the join, %llu of the first subflow's "
		"sent again there, first subflow gone stale %llu, DATA_FIN on the join %llu, map "
		"mismatch %llu",
		cut.ms, (unsigned long long)(j.bytes / ST_MIB), mine.up.seconds,
		(unsigned long long)st0.mptcp_join_rx_bytes, theirs.down.seconds,
		(unsigned long long)(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes),
		(unsigned long long)st.mptcp_main_reinject_bytes,
		(unsigned long long)st.mptcp_main_stale,
		(unsigned long long)st.mptcp_data_fin_join_tx,
		(unsigned long long)st.mptcp_map_mismatch);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	CU_ASSERT(st0.mptcp_join_rx_bytes > 0);
	CU_ASSERT(st.mptcp_main_stale >= 1);
	CU_ASSERT(st.mptcp_main_reinject_bytes > 0);
	CU_ASSERT(st.mptcp_data_fin_join_tx > 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* The first link cut while skiff sends on both (issue #18's failover of
 * the first subflow): what the first subflow held goes again on the
 * join, the rest of the send and the DATA_FIN go there. */
static void test_mptcp_two_ports_first_link_cut_send(void)
{
	two_ports_cut_send("mp1cuts", true);
}

/* The Linux end of test_mptcp_two_ports_lowest_rtt: once the join is up
 * (half a second), @p j->bytes requests of 1000 bytes, each answered by
 * 1000 before the next; reports the time they took (ms). */
static int k_client_pingpong(struct kjob *j)
{
	char buf[1000];
	long long t0;
	uint32_t ms;
	int fd = k_connect_at_go(j);

	if (fd < 0)
		return -fd;
	usleep(500 * 1000);
	t0 = st_now_ms();
	for (uint64_t i = 0; i < j->bytes; i++) {
		size_t got = 0;

		memset(buf, (int)i, sizeof(buf));
		if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return 4;
		while (got < sizeof(buf)) {
			ssize_t k = recv(fd, buf + got, sizeof(buf) - got, 0);

			if (k <= 0)
				return 5;
			got += (size_t)k;
		}
		for (size_t k = 0; k < sizeof(buf); k++)
			if (buf[k] != (char)~i)
				return 6;
	}
	ms = (uint32_t)(st_now_ms() - t0);
	close(fd);
	st_child_report(&ms, sizeof(ms));
	return 0;
}

/* What send_range() sent, stream ST_SEED_DOWN's first @p bytes, as the
 * record of a send. */
static void sent_whole(struct st_xfer *x, uint64_t bytes)
{
	memset(x, 0, sizeof(*x));
	x->bytes = bytes;
	st_pattern_digest(ST_SEED_DOWN, bytes, x->digest);
}

/* Sends bytes [@p off, @p end) of stream @p seed on @p fd (blocking). */
static bool send_range(int fd, uint64_t seed, uint64_t off, uint64_t end)
{
	static uint8_t buf[64 * 1024];

	while (off < end) {
		size_t n = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t k;

		st_pattern(seed, off, buf, n);
		k = skiff_send(fd, buf, n, 0);
		if (k <= 0)
			return false;
		off += (uint64_t)k;
	}
	return true;
}

/* skiff sends @p bytes down on @p fd while @p c runs on thread @p th
 * (started here when @p start, else already running), then closes and
 * checks both streams (cut_done()). */
static void down_then_done(int fd, int lfd, struct path_cut *c, pthread_t *th, bool start,
			   struct st_two_way *mine, struct st_two_way *theirs, uint64_t bytes)
{
	if (start)
		CU_ASSERT_FATAL(pthread_create(th, NULL, path_cut_run, c) == 0);
	CU_ASSERT(
		sent_or_dump(fd, st_send_stream(fd, ST_SEED_DOWN, bytes, false, &mine->down) == 0));
	pthread_join(*th, NULL);
	cut_done(fd, lfd, c, mine, theirs, bytes);
}

/* The first subflow reset mid-transfer (issue #18: the connection
 * outlives its first subflow): a Linux client joins across the second
 * link and uploads 32 MiB; skiff sends 32 MiB back, what reaches Linux
 * shaped to 200 Mbit/s a link so that the first subflow holds data; 300
 * ms in, Linux's end of the first link answers any TCP segment but a RST
 * with a RST (iptables REJECT), as a middlebox or a peer that lost the
 * subflow would. skiff's first subflow takes the RST: what it held that
 * Linux had not DATA_ACKed is kept in copies, the socket moves onto the
 * join, and the rest of the download, the DATA_FIN and the close go
 * there. Both streams whole (SHA-256). */
static void test_mptcp_two_ports_first_reset(void)
{
	static const char rule[] = "INPUT -i %s -p tcp ! --tcp-flags RST RST -j REJECT "
				   "--reject-with tcp-reset";
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct path_cut cut = {.ms = 300};
	struct st_two_way mine, theirs;
	struct skiff_stats st0, st;
	char r[120];
	pthread_t th;
	int lfd, fd;

	two_links_up("mp1rst", 1);
	k_shape_links(200, false);
	snprintf(r, sizeof(r), rule, K.net.ifname[1]);
	snprintf(cut.cut, sizeof(cut.cut), "iptables -I %s", r);
	snprintf(cut.restore, sizeof(cut.restore), "iptables -D %s", r);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	skiff_get_stats(&st0);
	stall_fails(fd);
	down_then_done(fd, lfd, &cut, &th, true, &mine, &theirs, j.bytes);
	skiff_get_stats(&st);
	tk_note("first subflow reset at %u ms: %llu MiB down in %.2f s; handed over %llu (lost "
		"%llu), %llu of its bytes kept and sent again, %llu bytes out on the join (of "
		"which after the reset: the rest), first subflow stale before %llu, map mismatch "
		"%llu",
		cut.ms, (unsigned long long)(j.bytes / ST_MIB), theirs.down.seconds,
		(unsigned long long)st.mptcp_handover, (unsigned long long)st.mptcp_handover_lost,
		(unsigned long long)st.mptcp_main_reinject_bytes,
		(unsigned long long)(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes),
		(unsigned long long)st.mptcp_main_stale, (unsigned long long)st.mptcp_map_mismatch);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	TK_ASSERT_EQ(st.mptcp_handover, 1);
	TK_ASSERT_EQ(st.mptcp_handover_lost, 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* The first subflow closed by Linux's path manager mid-transfer (issue
 * #18: the connection outlives its first subflow): a Linux client joins
 * across the second link and uploads 32 MiB, then skiff sends 32 MiB
 * back, each link shaped to 200 Mbit/s the way the data goes; 300 ms into
 * the upload (or the download, @p down), `ip mptcp endpoint delete id 0`
 * of Linux's first address closes the first subflow (RM_ADDR, then the
 * subflow's FIN) while the connection goes on over the join. That FIN is
 * not the end of the data: the socket moves onto the join, what the first
 * subflow held that Linux had not DATA_ACKed goes again there, and both
 * streams arrive whole (SHA-256). Before, skiff read the FIN as the end
 * of the upload (19.9 of 32 MiB in), and its sends on the closed subflow
 * (64 KiB, taken by Linux's TCP, never DATA_ACKed) stalled the download. */
static void first_removed(bool down)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct path_cut cut = {.ms = 300};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	pthread_t th;
	int lfd, fd;

	two_links_up(down ? "mp1rmd" : "mp1rmu", 1);
	k_shape_links(200, !down);
	snprintf(cut.cut, sizeof(cut.cut), "ip mptcp endpoint delete id 0 %s", PEER_IP4);
	snprintf(cut.restore, sizeof(cut.restore), "true");
	fd = mptcp_accept_child(&j, &lfd);
	stall_fails(fd);
	if (!down)
		CU_ASSERT_FATAL(pthread_create(&th, NULL, path_cut_run, &cut) == 0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	down_then_done(fd, lfd, &cut, &th, down, &mine, &theirs, j.bytes);
	skiff_get_stats(&st);
	tk_note("first subflow closed by Linux %u ms into the %s: %llu MiB up in %.2f s, down in "
		"%.2f s; handed over %llu (at its FIN %llu, lost %llu), %llu of its bytes sent "
		"again on the join, %llu bytes on the join before (in %llu, out %llu), REMOVE_ADDR "
		"in %llu, map mismatch %llu",
		cut.ms, down ? "download" : "upload", (unsigned long long)(j.bytes / ST_MIB),
		mine.up.seconds, theirs.down.seconds, (unsigned long long)st.mptcp_handover,
		(unsigned long long)st.mptcp_main_fin_moved,
		(unsigned long long)st.mptcp_handover_lost,
		(unsigned long long)st.mptcp_main_reinject_bytes,
		(unsigned long long)(st.mptcp_join_rx_bytes + st.mptcp_join_tx_bytes),
		(unsigned long long)st.mptcp_join_rx_bytes,
		(unsigned long long)st.mptcp_join_tx_bytes, (unsigned long long)st.mptcp_rm_addr_rx,
		(unsigned long long)st.mptcp_map_mismatch);
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	TK_ASSERT_EQ(st.mptcp_handover, 1);
	TK_ASSERT_EQ(st.mptcp_main_fin_moved, 1);
	CU_ASSERT((down ? st.mptcp_join_tx_bytes : st.mptcp_join_rx_bytes) > 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

static void test_mptcp_two_ports_first_removed_up(void)
{
	first_removed(false);
}

static void test_mptcp_two_ports_first_removed_down(void)
{
	first_removed(true);
}

/* Linux closes the first subflow after skiff's close: skiff sends 8 MiB
 * back and closes, the first link shaped to 1 Mbit/s the way the data
 * goes (the join's unshaped), so that the first subflow may still hold
 * data; 100 ms later `ip mptcp endpoint delete id 0`: Linux's FIN on the
 * first subflow, whose data its MPTCP reads no more. No moving the socket
 * then (our FIN is queued, if deferred): the first subflow goes stale for
 * good, what it held goes again on the join, and so does the DATA_FIN.
 * Linux reads all 8 MiB and the end (SHA-256 equal). */
static void test_mptcp_two_ports_first_removed_closing(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = 8 * ST_MIB};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	int lfd, fd;

	two_links_up("mp1rmc", 1);
	k_shape_link(0, 1, false);
	fd = mptcp_accept_child(&j, &lfd);
	stall_fails(fd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	for (long long end = st_now_ms() + 100; st_now_ms() < end;)
		skiff_poll(1);
	CU_ASSERT(tb_run(K.net.ns[1], "ip mptcp endpoint delete id 0 %s", PEER_IP4) == 0);
	CU_ASSERT_FATAL(sent_or_dump(-1, st_child_read_report(&theirs, sizeof(theirs), 30000)));
	TK_ASSERT_EQ(kchild_done(10000), 0);
	st_check_two_way(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	st_wait_idle(1000);
	skiff_get_stats(&st);
	tk_note("first subflow closed by Linux after skiff's FIN: stale for good %llu, moved "
		"%llu; %llu of its bytes sent again on the join, %llu bytes out on the join, "
		"DATA_FIN on the join %llu, close deferred %llu, map mismatch %llu; 8 MiB down "
		"in %.2f s",
		(unsigned long long)st.mptcp_main_fin_stale,
		(unsigned long long)st.mptcp_main_fin_moved,
		(unsigned long long)st.mptcp_main_reinject_bytes,
		(unsigned long long)st.mptcp_join_tx_bytes,
		(unsigned long long)st.mptcp_data_fin_join_tx,
		(unsigned long long)st.mptcp_close_deferred,
		(unsigned long long)st.mptcp_map_mismatch, theirs.down.seconds);
	TK_ASSERT_EQ(st.mptcp_main_fin_stale, 1);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* The first subflow given up (issue #18: the connection outlives its
 * first subflow): as test_mptcp_two_ports_first_reset, but Linux's end of
 * the first link goes down for good 300 ms into the first 16 MiB of the
 * download, and lwIP gives a subflow up at its 3rd retransmission timeout
 * in a row instead of its 12th (minutes). The first subflow goes stale at
 * its second, its data moves onto the join; when lwIP frees it, the
 * socket moves onto the join, which takes the last 16 MiB and the close. */
static void test_mptcp_two_ports_first_link_gone(void)
{
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 /* All of it under ASan too: with a quarter, one CI run
			  * saw no handover in 15 s (not looked into yet). */
			 .bytes = 32 * ST_MIB};
	struct path_cut cut = {.ms = 300};
	struct st_two_way mine, theirs;
	struct skiff_stats st;
	long long t0, end;
	pthread_t th;
	int lfd, fd;

	two_links_up("mp1gone", 1);
	k_shape_links(200, false);
	snprintf(cut.cut, sizeof(cut.cut), "ip link set dev %s down", K.net.ifname[1]);
	snprintf(cut.restore, sizeof(cut.restore), "ip link set dev %s up", K.net.ifname[1]);
	fd = mptcp_accept_child(&j, &lfd);
	skiff__tcp_give_up_after(3);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	stall_fails(fd);
	CU_ASSERT_FATAL(pthread_create(&th, NULL, path_cut_run, &cut) == 0);
	t0 = st_now_ms();
	CU_ASSERT(sent_or_dump(fd, send_range(fd, ST_SEED_DOWN, 0, j.bytes / 2)));
	pthread_join(th, NULL);
	/* lwIP gives the first subflow up a few seconds after the cut. */
	end = st_now_ms() + 15000;
	do {
		skiff_poll(10);
		skiff_get_stats(&st);
	} while (!st.mptcp_handover && !st.mptcp_handover_lost && st_now_ms() < end);
	tk_note("handed over after %lld ms (%llu; lost %llu)", st_now_ms() - t0,
		(unsigned long long)st.mptcp_handover, (unsigned long long)st.mptcp_handover_lost);
	CU_ASSERT(sent_or_dump(fd, send_range(fd, ST_SEED_DOWN, j.bytes / 2, j.bytes)));
	sent_whole(&mine.down, j.bytes);
	cut_done(fd, lfd, &cut, &mine, &theirs, j.bytes);
	skiff_get_stats(&st);
	tk_note("first link down at %u ms: %llu MiB down in %.2f s; first subflow stale %llu, %llu "
		"of its bytes sent again on the join; handed over %llu (lost %llu); map mismatch "
		"%llu; timeouts whose queue was put back in order %llu",
		cut.ms, (unsigned long long)(j.bytes / ST_MIB), theirs.down.seconds,
		(unsigned long long)st.mptcp_main_stale,
		(unsigned long long)st.mptcp_main_reinject_bytes,
		(unsigned long long)st.mptcp_handover, (unsigned long long)st.mptcp_handover_lost,
		(unsigned long long)st.mptcp_map_mismatch,
		(unsigned long long)st.tcp_unsent_reordered);
	CU_ASSERT(st.mptcp_main_stale >= 1);
	TK_ASSERT_EQ(st.mptcp_handover, 1);
	TK_ASSERT_EQ(st.mptcp_handover_lost, 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* MP_PRIO from skiff (RFC 8684 3.3.8; skiff_mptcp_set_backup()): a
 * Linux client joins across the second link; before it has sent much,
 * skiff makes its second port backup. Linux takes the MP_PRIO and keeps
 * the rest of its 32 MiB upload off the join; skiff keeps its first 16 MiB
 * back off it too. Then the port is regular again (a second MP_PRIO) and
 * the join carries some of the last 16 MiB. Both streams whole. */
static void test_mptcp_two_ports_backup(void)
{
	static const char *const names[] = {"MPTcpExtMPPrioRx", "MPTcpExtMPJoinSynAckRx"};
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct skiff_stats st0, st1, st2, st;
	struct st_two_way mine, theirs;
	uint64_t v[2];
	int lfd, fd;

	two_links_up("mpbk", 1);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT_FATAL(wait_joins(1));
	TK_ASSERT_EQ(skiff_mptcp_set_backup(7, true), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	TK_ASSERT_EQ(skiff_mptcp_set_backup(1, true), 1); /* the join */
	skiff_get_stats(&st0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, true, false, &mine.up) == 0);
	skiff_get_stats(&st1);
	CU_ASSERT(send_range(fd, ST_SEED_DOWN, 0, j.bytes / 2));
	skiff_get_stats(&st2);
	TK_ASSERT_EQ(skiff_mptcp_set_backup(1, false), 1);
	CU_ASSERT(send_range(fd, ST_SEED_DOWN, j.bytes / 2, j.bytes));
	CU_ASSERT(skiff_close(fd) == 0);
	sent_whole(&mine.down, j.bytes);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_close(lfd);
	skiff_get_stats(&st);
	k_mptcp_counters(names, v, 2);
	tk_note("the join's bytes in before the MP_PRIO %llu, after it %llu of the %llu MiB "
		"upload; out while backup %llu of the first half, after %llu of the second; MP_PRIO "
		"sent %llu, Linux took %llu; first subflow stale %llu (%llu bytes moved)",
		(unsigned long long)st0.mptcp_join_rx_bytes,
		(unsigned long long)(st1.mptcp_join_rx_bytes - st0.mptcp_join_rx_bytes),
		(unsigned long long)(j.bytes / ST_MIB),
		(unsigned long long)(st2.mptcp_join_tx_bytes - st1.mptcp_join_tx_bytes),
		(unsigned long long)(st.mptcp_join_tx_bytes - st2.mptcp_join_tx_bytes),
		(unsigned long long)st.mptcp_prio_tx, (unsigned long long)v[0],
		(unsigned long long)st.mptcp_main_stale,
		(unsigned long long)st.mptcp_main_reinject_bytes);
	TK_ASSERT_EQ(st.mptcp_prio_tx, 2);
	TK_ASSERT_EQ(v[0], 2);
	TK_ASSERT_EQ(v[1], 1);
	/* What was on its way when the MP_PRIO went, at most. */
	CU_ASSERT(st1.mptcp_join_rx_bytes - st0.mptcp_join_rx_bytes < 1 * ST_MIB);
	TK_ASSERT_EQ(st2.mptcp_join_tx_bytes - st1.mptcp_join_tx_bytes, 0);
	CU_ASSERT(st.mptcp_join_tx_bytes - st2.mptcp_join_tx_bytes > 0);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* REMOVE_ADDR from skiff (RFC 8684 3.4.2; skiff_mptcp_withdraw()): a
 * Linux client joins across the second link, then skiff withdraws its
 * second port's address: the REMOVE_ADDR reaches Linux, the join closes,
 * and the rest of the 32 MiB each way goes on the first subflow, whole.
 * Port 0 cannot be withdrawn; a second call finds nothing to do. */
static void test_mptcp_two_ports_withdraw(void)
{
	static const char *const names[] = {"MPTcpExtRmAddr", "MPTcpExtMPJoinSynAckRx",
					    "MPTcpExtMPJoinSynTx"};
	struct kjob j = {.fn = k_client_two_way,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = ST_BIG(32 * ST_MIB)};
	struct skiff_mptcp_info info;
	struct skiff_stats st0, st;
	struct st_two_way mine;
	socklen_t len = sizeof(info);
	uint64_t v[3];
	int lfd, fd;

	two_links_up("mpwd", 1);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT_FATAL(wait_joins(1));
	TK_ASSERT_EQ(skiff_mptcp_withdraw(0), -1);
	TK_ASSERT_EQ(errno, EINVAL);
	TK_ASSERT_EQ(skiff_mptcp_withdraw(1), 1); /* the join closed */
	TK_ASSERT_EQ(skiff_mptcp_withdraw(1), 0);
	skiff_get_stats(&st0);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, true, false, &mine.up) == 0);
	CU_ASSERT(skiff_getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) == 0);
	TK_ASSERT_EQ(info.mptcpi_subflows, 0); /* no join left */
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	{
		struct st_two_way theirs;

		kchild_two_way_done(&mine, &theirs, j.bytes);
	}
	skiff_close(lfd);
	skiff_get_stats(&st);
	k_mptcp_counters(names, v, 3);
	tk_note("REMOVE_ADDR sent %llu, Linux took %llu; its joins %llu (SYN-ACKs %llu); the join's "
		"bytes in %llu before, %llu after; out after %llu",
		(unsigned long long)st.mptcp_rm_addr_tx, (unsigned long long)v[0],
		(unsigned long long)v[2], (unsigned long long)v[1],
		(unsigned long long)st0.mptcp_join_rx_bytes,
		(unsigned long long)(st.mptcp_join_rx_bytes - st0.mptcp_join_rx_bytes),
		(unsigned long long)(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes));
	TK_ASSERT_EQ(st.mptcp_rm_addr_tx, 1);
	TK_ASSERT_EQ(v[0], 1);
	TK_ASSERT_EQ(v[2], 1); /* Linux did not join again */
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	TK_ASSERT_EQ(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes, 0);
	CU_ASSERT(st.mptcp_join_rx_bytes - st0.mptcp_join_rx_bytes < 1 * ST_MIB);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

/* A close while a join owes data (issue #18's reinjection, at the end of
 * a connection): a Linux client joins across the second link, then sends
 * 8 KiB; skiff makes its first port backup, so that what it sends goes on
 * the join. Linux's end of the second link goes down; skiff sends 8 KiB
 * (all queued on the join at once) and closes. The join's data is neither
 * ACKed nor DATA_ACKed then: the first subflow's FIN waits until the join,
 * stale at its second timeout, has had it written again on the first
 * subflow, and the 8 KiB arrive whole. Before, the FIN went at once,
 * nothing could follow it, and Linux waited for the join's share forever
 * (an ASan run of test_mptcp_join_path_cut_send found it). */
static void join_owes_at_end(bool shut)
{
	struct kjob j = {.fn = k_client_two_way_later,
			 .family = AF_INET,
			 .proto = IPPROTO_MPTCP,
			 .bytes = 8 * 1024};
	struct path_cut cut = {.ms = 0};
	struct st_two_way mine, theirs;
	struct skiff_stats st0, st;
	char c;
	int lfd, fd;

	two_links_up(shut ? "mpsow" : "mpcow", 1);
	snprintf(cut.cut, sizeof(cut.cut), "ip link set dev %s down", K.link_b[1]);
	snprintf(cut.restore, sizeof(cut.restore), "ip link set dev %s up", K.link_b[1]);
	fd = mptcp_accept_child(&j, &lfd);
	CU_ASSERT_FATAL(wait_joins(1));
	st_child_go();
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	TK_ASSERT_EQ(skiff_mptcp_set_backup(0, true), 1);
	skiff_get_stats(&st0);
	CU_ASSERT_FATAL(tb_run(K.net.ns[1], "%s", cut.cut) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	if (!shut) {
		cut_done(fd, lfd, &cut, &mine, &theirs, j.bytes);
	} else {
		/* The socket stays open: the FIN goes when the join's data
		 * is in, and Linux, which reads to the end, reports. */
		CU_ASSERT(skiff_shutdown(fd, SHUT_WR) == 0);
		errno = 0;
		CU_ASSERT(skiff_send(fd, "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE);
		CU_ASSERT_FATAL(
			sent_or_dump(fd, st_child_read_report(&theirs, sizeof(theirs), 30000)));
		CU_ASSERT(skiff_recv(fd, &c, 1, 0) == 0);
		CU_ASSERT(skiff_close(fd) == 0);
		CU_ASSERT(tb_run(K.net.ns[1], "%s", cut.restore) == 0);
		TK_ASSERT_EQ(kchild_done(10000), 0);
		st_check_two_way(&mine, &theirs, j.bytes);
		skiff_close(lfd);
	}
	skiff_get_stats(&st);
	tk_note("%llu KiB down in %.2f s, %s at once with the join's link down: %llu bytes out "
		"on the join, %llu written again on the first subflow, joins stale %llu, FINs "
		"deferred %llu",
		(unsigned long long)(j.bytes / 1024), theirs.down.seconds,
		shut ? "shut down (SHUT_WR)" : "closed",
		(unsigned long long)(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes),
		(unsigned long long)(st.mptcp_reinject_bytes - st0.mptcp_reinject_bytes),
		(unsigned long long)(st.mptcp_join_stale - st0.mptcp_join_stale),
		(unsigned long long)(st.mptcp_close_deferred - st0.mptcp_close_deferred));
	TK_ASSERT_EQ(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes, j.bytes);
	TK_ASSERT_EQ(st.mptcp_close_deferred - st0.mptcp_close_deferred, 1);
	CU_ASSERT(st.mptcp_join_stale > st0.mptcp_join_stale);
	TK_ASSERT_EQ(st.mptcp_reinject_bytes - st0.mptcp_reinject_bytes, j.bytes);
	TK_ASSERT_EQ(st.mptcp_map_mismatch, 0);
}

static void test_mptcp_close_while_join_owes(void)
{
	join_owes_at_end(false);
}

/* The same with shutdown(SHUT_WR) in place of the close: the first
 * subflow's FIN waits as at a close, and the socket, still open, reads
 * the end of Linux's data after it. Before, the FIN went at once and
 * the join's share never reached Linux. */
static void test_mptcp_shutdown_while_join_owes(void)
{
	join_owes_at_end(true);
}

/* The scheduler's choice by RTT (issue #18: "the subflow with the lowest
 * RTT that has room"): Linux's end of the first link delays what crosses
 * it by 20 ms each way (tests/net's NFQUEUE helper); a Linux client joins
 * across the second link and sends 200 requests of 1000 bytes one after
 * the other, each answered by skiff with 1000 bytes. Both subflows always
 * have room: skiff's answers go on the join, whose RTT is the lower (the
 * scheduler took the first subflow on a tie before it compared RTTs:
 * every answer crossed the delayed link). */
static void test_mptcp_two_ports_lowest_rtt(void)
{
	struct kjob j = {
		.fn = k_client_pingpong, .family = AF_INET, .proto = IPPROTO_MPTCP, .bytes = 200};
	const char *dev = K.net.ifname[1];
	struct skiff_stats st0, st;
	char log[128], out[256] = "";
	uint32_t ms = 0;
	int lfd, fd;

	two_links_up("mprtt", 1);
	snprintf(log, sizeof(log), "/tmp/skiff-nfq-%d.log", (int)getpid());
	CU_ASSERT_FATAL(
		tb_run(K.net.ns[1],
		       "iptables -w -A OUTPUT -o %s -j NFQUEUE --queue-num 7 --queue-bypass && "
		       "iptables -w -A INPUT -i %s -j NFQUEUE --queue-num 7 --queue-bypass && "
		       "(setsid timeout 120 %s --queue 7 --delay-ms 20 </dev/null >%s 2>&1 &)",
		       dev, dev, NFQ_IMPAIR_PATH, log) == 0);
	for (int i = 0; i < 100 && !strstr(out, "ready"); i++) {
		usleep(20 * 1000);
		tb_capture(NULL, out, sizeof(out), "cat %s", log);
	}
	CU_ASSERT_FATAL(strstr(out, "ready") != NULL);
	fd = mptcp_accept_child(&j, &lfd);
	skiff_get_stats(&st0);
	for (unsigned i = 0; i < j.bytes; i++) {
		char buf[1000];
		size_t got = 0;

		while (got < sizeof(buf)) {
			ssize_t k = skiff_recv(fd, buf + got, sizeof(buf) - got, 0);

			CU_ASSERT_FATAL(k > 0);
			got += (size_t)k;
		}
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (char)~buf[k];
		CU_ASSERT_FATAL(skiff_send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	}
	skiff_get_stats(&st);
	CU_ASSERT(st_child_read_report(&ms, sizeof(ms), 60000));
	CU_ASSERT(skiff_close(fd) == 0);
	TK_ASSERT_EQ(kchild_done(10000), 0);
	skiff_close(lfd);
	tb_run(K.net.ns[1], "pkill -f -- '--queue 7 --delay-ms 20'; rm -f %s", log);
	tk_note("200 requests of 1000 bytes, each answered, in %u ms with the first link 20 ms "
		"slower each way; %llu of skiff's 200,000 bytes went on the join",
		ms, (unsigned long long)(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes));
	TK_ASSERT_EQ(st.mptcp_join_established, 1);
	CU_ASSERT(st.mptcp_join_tx_bytes - st0.mptcp_join_tx_bytes >= 190000);
}

/* A Linux client closes an MPTCP connection with data unread: Linux
 * resets it with MP_FASTCLOSE (RFC 8684 3.5) and MP_TCPRST on its RST.
 * skiff checks the key, counts both, and the socket reads ECONNRESET. */
static int k_client_unread_close(struct kjob *j)
{
	char buf[1000], seen = 'k';
	int fd;

	if (!st_child_wait_go(10000))
		return 2;
	fd = st_kernel_connect(j->family, IPPROTO_MPTCP, STACK_IP4, STACK_IP6, PORT);
	if (fd < 0)
		return 3;
	memset(buf, 'a', sizeof(buf));
	if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return 4;
	/* skiff's bytes arrive and stay unread. */
	if (!st_child_wait_go(10000))
		return 5;
	close(fd);
	st_child_report(&seen, 1);
	return 0;
}

static void test_mptcp_fastclose_from_linux(void)
{
	static const char *const names[] = {"MPTcpExtMPFastcloseTx", "MPTcpExtMPRstTx"};
	struct kjob j = {.fn = k_client_unread_close, .family = AF_INET, .proto = IPPROTO_MPTCP};
	struct skiff_stats st;
	char buf[1000], seen;
	uint64_t v[2];
	size_t got = 0;
	ssize_t n;
	int lfd, fd;

	mptcp_env_up("mpfc");
	fd = mptcp_accept_child(&j, &lfd);
	while (got < sizeof(buf) && (n = skiff_recv(fd, buf, sizeof(buf) - got, 0)) > 0)
		got += (size_t)n;
	TK_ASSERT_EQ(got, sizeof(buf));
	memset(buf, 'b', sizeof(buf));
	CU_ASSERT(skiff_send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	pump_ms(300);
	st_child_go();
	CU_ASSERT(st_child_read_report(&seen, 1, 10000));
	n = skiff_recv(fd, buf, sizeof(buf), 0);
	tk_note("skiff's read after Linux's close: %zd (%s)", n, n < 0 ? strerror(errno) : "-");
	CU_ASSERT(n == -1 && errno == ECONNRESET);
	skiff_get_stats(&st);
	tk_note("skiff: MP_FASTCLOSE in %llu, MP_TCPRST in %llu",
		(unsigned long long)st.mptcp_fastclose_rx, (unsigned long long)st.mptcp_rst_rx);
	k_mptcp_counters(names, v, 2);
	CU_ASSERT(st.mptcp_fastclose_rx >= 1);
	CU_ASSERT(st.mptcp_rst_rx >= 1);
	CU_ASSERT(v[0] >= 1); /* Linux sent MP_FASTCLOSE */
	CU_ASSERT(v[1] >= 1); /* and MP_TCPRST */
	skiff_close(fd);
	skiff_close(lfd);
}

/* Linux with MPTCP off (net.mptcp.enabled=0, a plain TCP client) to a
 * skiff MPTCP listener: the accepted connection reports the fallback. */
static void test_mptcp_fallback_reported_server(void)
{
	struct kjob j = {.fn = k_client_two_way, .family = AF_INET, .bytes = ST_MIB};
	struct st_two_way mine, theirs;
	struct skiff_mptcp_status ms;
	int lfd, fd;

	env_up("mpfbs");
	tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.enabled=0");
	kchild(&j);
	stack_up();
	lfd = mptcp_listen(AF_INET);
	/* A listener is not decided yet. */
	CU_ASSERT(skiff_mptcp_status(lfd, &ms) == 0 && ms.mode == SKIFF_MPTCP_MODE_PENDING &&
		  ms.subflows == 0);
	st_child_go();
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	check_fell_back(fd);
	CU_ASSERT(st_recv_stream(fd, ST_SEED_UP, j.bytes, false, false, &mine.up) == 0);
	CU_ASSERT(st_send_stream(fd, ST_SEED_DOWN, j.bytes, false, &mine.down) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	kchild_two_way_done(&mine, &theirs, j.bytes);
}

/* skiff's MPTCP client to Linux with MPTCP off: the SYN-ACK has no
 * MP_CAPABLE, the connection reports the fallback (mptcp_fallback_synack). */
static void test_mptcp_fallback_reported_client(void)
{
	struct kjob j = {.fn = k_server_two_way, .family = AF_INET, .bytes = ST_MIB};
	struct st_two_way mine, theirs;
	struct sockaddr_storage ss;
	struct skiff_mptcp_status ms;
	struct skiff_stats st;
	socklen_t len;
	char ready;
	int fd;

	env_up("mpfbc");
	tb_run(K.net.ns[1], "sysctl -q -w net.mptcp.enabled=0");
	kchild(&j);
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = skiff_socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_mptcp_status(fd, &ms) == 0 && ms.mode == SKIFF_MPTCP_MODE_PENDING &&
		  ms.subflows == 0);
	len = st_sockaddr(AF_INET, PEER_IP4, PEER_IP6, PORT, &ss);
	CU_ASSERT_FATAL(skiff_connect(fd, (struct sockaddr *)&ss, len) == 0);
	check_fell_back(fd);
	st_skiff_two_way_client(fd, j.bytes, &mine);
	kchild_two_way_done(&mine, &theirs, j.bytes);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.mptcp_fallback_synack, 1);
	TK_ASSERT_EQ(st.mptcp_active_established, 0);
}

/* ---- connection semantics ------------------------------------------------------------ */

static void test_connect_to_closed_port_refused(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct epoll_event ev = {.events = EPOLLOUT}, out;
	int fd, ep, err = 0;
	socklen_t elen = sizeof(err);
	struct skiff_stats st;

	env_up("refused");
	stack_up();
	/* Blocking. */
	fd = s_connect(AF_INET, 9);
	CU_ASSERT(fd == -1 && errno == ECONNREFUSED);
	/* Non-blocking: EINPROGRESS, then EPOLLERR and SO_ERROR. */
	len = st_sockaddr(AF_INET6, PEER_IP4, PEER_IP6, 9, &ss);
	fd = skiff_socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(skiff_connect(fd, (struct sockaddr *)&ss, len) == -1 && errno == EINPROGRESS);
	CU_ASSERT(skiff_connect(fd, (struct sockaddr *)&ss, len) == -1 && errno == EALREADY);
	ep = skiff_epoll_create(0);
	CU_ASSERT_FATAL(ep >= 0);
	CU_ASSERT(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	TK_ASSERT_EQ(skiff_epoll_wait(ep, &out, 1, 5000), 1);
	CU_ASSERT(out.events & EPOLLERR);
	CU_ASSERT(skiff_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0);
	TK_ASSERT_EQ(err, ECONNREFUSED);
	CU_ASSERT(skiff_close(fd) == 0);
	CU_ASSERT(skiff_close(ep) == 0);
	skiff_get_stats(&st);
	TK_ASSERT_EQ(st.tcp_conn_refused, 2);
}

/* The kernel resets: skiff reads what came before, then ECONNRESET, then
 * sends fail with EPIPE. */
static int k_client_then_rst(struct kjob *j)
{
	struct linger l = {1, 0};
	uint8_t buf[1000];
	int fd;

	if (!st_child_wait_go(20000))
		return 2;
	fd = k_connect(j->family, 0, PORT);
	if (fd < 0)
		return 3;
	st_pattern(7, 0, buf, sizeof(buf));
	if (send(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return 4;
	/* Let the data be ACKed before the reset overtakes it. */
	usleep(200000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
	return 0;
}

static void test_rst_from_kernel(void)
{
	struct kjob j = {.fn = k_client_then_rst, .family = AF_INET};
	uint8_t buf[2000];
	size_t got = 0;
	ssize_t n;
	int lfd, fd;

	env_up("krst");
	kchild(&j);
	stack_up();
	lfd = st_skiff_listen(AF_INET, PORT, 4);
	st_child_go();
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	TK_ASSERT_EQ(kchild_done(10000), 0);
	while ((n = skiff_recv(fd, buf + got, sizeof(buf) - got, 0)) > 0)
		got += (size_t)n;
	TK_ASSERT_EQ(got, 1000);
	CU_ASSERT(st_pattern_check(7, 0, buf, got) < 0);
	CU_ASSERT(n == -1 && errno == ECONNRESET);
	CU_ASSERT(skiff_send(fd, buf, 10, 0) == -1 && errno == EPIPE);
	CU_ASSERT(skiff_close(fd) == 0);
}

static int k_server_expect_rst(struct kjob *j)
{
	int lfd = st_kernel_listen(j->family, PORT), fd;
	uint8_t buf[2000];
	size_t got = 0;
	ssize_t n;
	char ready = 'r';
	int rc = 0;

	if (lfd < 0)
		return 2;
	st_child_report(&ready, 1);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 3;
	while ((n = recv(fd, buf + got, sizeof(buf) - got, 0)) > 0)
		got += (size_t)n;
	if (got != 1000 || st_pattern_check(8, 0, buf, got) >= 0)
		rc = 4;
	else if (n != -1 || errno != ECONNRESET)
		rc = 5;
	close(fd);
	close(lfd);
	return rc;
}

static void test_rst_from_skiff(void)
{
	struct kjob j = {.fn = k_server_expect_rst, .family = AF_INET6};
	struct linger l = {1, 0};
	uint8_t buf[1000];
	char ready;
	int fd;

	env_up("srst");
	kchild(&j);
	stack_up();
	CU_ASSERT_FATAL(st_child_read_report(&ready, 1, 10000));
	fd = s_connect(AF_INET6, PORT);
	CU_ASSERT_FATAL(fd >= 0);
	st_pattern(8, 0, buf, sizeof(buf));
	TK_ASSERT_EQ(skiff_send(fd, buf, sizeof(buf), 0), 1000);
	/* Let the data be ACKed, then reset. */
	for (long long end = st_now_ms() + 200; st_now_ms() < end;)
		skiff_poll(10);
	CU_ASSERT(skiff_setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0);
	CU_ASSERT(skiff_close(fd) == 0);
	TK_ASSERT_EQ(kchild_done(10000), 0);
	{
		struct skiff_stats st;

		skiff_get_stats(&st);
		TK_ASSERT_EQ(st.tcp_rst_sent, 1);
	}
}

/* Half-close both ways: each side shuts its writing half while still
 * reading the other's. */
static int k_half_close(struct kjob *j)
{
	uint8_t buf[4096];
	int fd;
	ssize_t n;
	size_t got = 0;

	if (!st_child_wait_go(20000))
		return 2;
	fd = k_connect(j->family, 0, PORT);
	if (fd < 0)
		return 3;
	/* Skiff shuts down first: we read its 4000 bytes and EOF, then send
	 * ours on the half that is still open. */
	while ((n = recv(fd, buf + got, sizeof(buf) - got, 0)) > 0)
		got += (size_t)n;
	if (n != 0 || got != 4000 || st_pattern_check(21, 0, buf, got) >= 0)
		return 4;
	st_pattern(22, 0, buf, 3000);
	if (send(fd, buf, 3000, 0) != 3000)
		return 5;
	shutdown(fd, SHUT_WR);
	close(fd);
	return 0;
}

static void test_half_close_both_ways(void)
{
	struct kjob j = {.fn = k_half_close, .family = AF_INET};
	uint8_t buf[4096];
	size_t got = 0;
	ssize_t n;
	int lfd, fd;

	env_up("half");
	kchild(&j);
	stack_up();
	lfd = st_skiff_listen(AF_INET, PORT, 4);
	st_child_go();
	fd = skiff_accept(lfd, NULL, NULL, 0);
	CU_ASSERT_FATAL(fd >= 0);
	skiff_close(lfd);
	st_pattern(21, 0, buf, 4000);
	TK_ASSERT_EQ(skiff_send(fd, buf, 4000, 0), 4000);
	CU_ASSERT(skiff_shutdown(fd, SHUT_WR) == 0);
	CU_ASSERT(skiff_send(fd, buf, 1, 0) == -1 && errno == EPIPE);
	while ((n = skiff_recv(fd, buf + got, sizeof(buf) - got, 0)) > 0)
		got += (size_t)n;
	TK_ASSERT_EQ(n, 0);
	TK_ASSERT_EQ(got, 3000);
	CU_ASSERT(st_pattern_check(22, 0, buf, got) < 0);
	CU_ASSERT(skiff_close(fd) == 0);
	TK_ASSERT_EQ(kchild_done(10000), 0);
}

/* ---- many connections ---------------------------------------------------------------- */

#define SEQ_CONNS  1000
#define SEQ_BYTES  2000
#define CONC_CONNS 200
#define CONC_BYTES (32 * 1024)

/* n sequential connections: send SEQ_BYTES of stream i, read the echo. */
static int k_sequential(struct kjob *j)
{
	static uint8_t out[SEQ_BYTES], in[SEQ_BYTES];

	if (!st_child_wait_go(20000))
		return 2;
	for (unsigned i = 0; i < j->count; i++) {
		int fd = k_connect(j->family, 0, PORT);
		size_t got = 0;
		ssize_t n;

		if (fd < 0) {
			st_log("connection %u: %s", i, strerror(-fd));
			return 3;
		}
		st_pattern(1000 + i, 0, out, sizeof(out));
		if (send(fd, out, sizeof(out), 0) != (ssize_t)sizeof(out) || shutdown(fd, SHUT_WR))
			return 4;
		while ((n = recv(fd, in + got, sizeof(in) - got, 0)) > 0)
			got += (size_t)n;
		if (n < 0 || got != sizeof(in) || memcmp(in, out, sizeof(in)) != 0) {
			st_log("connection %u: echo wrong (%zu bytes)", i, got);
			return 5;
		}
		close(fd);
	}
	return 0;
}

/* count concurrent connections driven with the kernel's epoll. */
static int k_concurrent(struct kjob *j)
{
	struct conn {
		int fd;
		size_t sent, got;
		uint8_t in[CONC_BYTES];
	} *c = calloc(j->count, sizeof(*c));
	static uint8_t out[CONC_BYTES];
	struct epoll_event ev[64];
	unsigned done = 0;
	int ep = epoll_create1(0);
	long long end;

	if (!c || ep < 0 || !st_child_wait_go(20000))
		return 2;
	for (unsigned i = 0; i < j->count; i++) {
		c[i].fd = k_connect(j->family, 0, PORT);
		if (c[i].fd < 0) {
			st_log("connection %u: %s", i, strerror(-c[i].fd));
			return 3;
		}
		fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
		struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
		epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &e);
	}
	end = st_now_ms() + 20000;
	while (done < j->count && st_now_ms() < end) {
		int n = epoll_wait(ep, ev, 64, 1000);

		for (int k = 0; k < n; k++) {
			struct conn *cc = &c[ev[k].data.u32];

			if (cc->fd < 0)
				continue;
			if ((ev[k].events & EPOLLOUT) && cc->sent < CONC_BYTES) {
				st_pattern(5000 + ev[k].data.u32, cc->sent, out,
					   CONC_BYTES - cc->sent);
				ssize_t w = send(cc->fd, out, CONC_BYTES - cc->sent, 0);

				if (w > 0)
					cc->sent += (size_t)w;
				if (cc->sent == CONC_BYTES) {
					shutdown(cc->fd, SHUT_WR);
					struct epoll_event e = {.events = EPOLLIN,
								.data.u32 = ev[k].data.u32};
					epoll_ctl(ep, EPOLL_CTL_MOD, cc->fd, &e);
				}
			}
			if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = recv(cc->fd, cc->in + cc->got, CONC_BYTES - cc->got, 0);

				if (r > 0)
					cc->got += (size_t)r;
				if (r == 0 || (r < 0 && errno != EAGAIN) || cc->got == CONC_BYTES) {
					if (cc->got != CONC_BYTES ||
					    st_pattern_check(5000 + ev[k].data.u32, 0, cc->in,
							     CONC_BYTES) >= 0) {
						st_log("connection %u: echo wrong (%zu)",
						       ev[k].data.u32, cc->got);
						return 4;
					}
					close(cc->fd);
					cc->fd = -1;
					done++;
				}
			}
		}
	}
	if (done < j->count) {
		unsigned shown = 0;

		st_log("%u of %u connections done", done, j->count);
		for (unsigned i = 0; i < j->count && shown < 5; i++) {
			if (c[i].fd < 0)
				continue;
			st_log("connection %u: sent %zu got %zu", i, c[i].sent, c[i].got);
			shown++;
		}
	}
	free(c);
	return done == j->count ? 0 : 5;
}

/* skiff's side: an epoll echo server for @p total connections. */
struct econn {
	int fd;
	uint8_t buf[65536];
	size_t have, off;
	bool eof;
};

static void echo_server(int lfd, unsigned total, bool edge)
{
	struct econn **conns = calloc(4096, sizeof(*conns));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, out[64];
	unsigned served = 0;
	long long end = st_now_ms() + 90000;
	int ep = skiff_epoll_create(0);

	CU_ASSERT_FATAL(ep >= 0 && conns);
	CU_ASSERT(skiff_set_nonblock(lfd, true) == 0);
	CU_ASSERT(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == 0);
	while (served < total && st_now_ms() < end) {
		int n = skiff_epoll_wait(ep, out, 64, 1000);

		CU_ASSERT(n >= 0);
		for (int k = 0; k < n; k++) {
			int fd = out[k].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = skiff_accept(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP |
									  (edge ? EPOLLET : 0),
								.data.fd = c};

					CU_ASSERT_FATAL(c < 4096);
					conns[c] = calloc(1, sizeof(struct econn));
					conns[c]->fd = c;
					CU_ASSERT(skiff_epoll_ctl(ep, EPOLL_CTL_ADD, c, &e) == 0);
				}
				CU_ASSERT(errno == EAGAIN);
				continue;
			}
			struct econn *cc = conns[fd];

			/* Until nothing moves (edge-triggered needs it drained). */
			for (bool moved = true; moved;) {
				moved = false;
				if (!cc->eof && cc->have < sizeof(cc->buf)) {
					ssize_t r = skiff_recv(fd, cc->buf + cc->have,
							       sizeof(cc->buf) - cc->have, 0);

					if (r > 0)
						cc->have += (size_t)r;
					else if (r == 0)
						cc->eof = true;
					else if (errno != EAGAIN) {
						CU_FAIL("recv failed");
						cc->eof = true;
					}
					moved = r >= 0;
				}
				if (cc->off < cc->have) {
					ssize_t w = skiff_send(fd, cc->buf + cc->off,
							       cc->have - cc->off, 0);

					if (w > 0) {
						cc->off += (size_t)w;
						moved = true;
					}
				}
				if (cc->off == cc->have)
					cc->off = cc->have = 0;
			}
			struct epoll_event e = {.events = (cc->have > cc->off ? EPOLLOUT : 0) |
							  (cc->eof ? 0 : EPOLLIN | EPOLLRDHUP) |
							  (edge ? EPOLLET : 0),
						.data.fd = fd};
			if (cc->eof && !cc->have) {
				CU_ASSERT(skiff_close(fd) == 0);
				free(cc);
				conns[fd] = NULL;
				served++;
			} else {
				skiff_epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
			}
		}
	}
	TK_ASSERT_EQ(served, total);
	for (int i = 0; i < 4096; i++) {
		if (conns[i]) {
			skiff_close(i);
			free(conns[i]);
		}
	}
	free(conns);
	CU_ASSERT(skiff_close(ep) == 0);
}

static void test_1000_sequential_connections(void)
{
	struct kjob j = {.fn = k_sequential, .family = AF_INET, .count = SEQ_CONNS};
	long long t0;
	int lfd;

	env_up("seq");
	kchild(&j);
	stack_up();
	lfd = st_skiff_listen(AF_INET, PORT, 16);
	st_child_go();
	t0 = st_now_ms();
	echo_server(lfd, SEQ_CONNS, false);
	skiff_close(lfd);
	TK_ASSERT_EQ(kchild_done(30000), 0);
	tk_note("%d connections in %.2f s", SEQ_CONNS, (st_now_ms() - t0) / 1000.0);
}

static void test_200_concurrent_connections(void)
{
	struct kjob j = {.fn = k_concurrent, .family = AF_INET6, .count = CONC_CONNS};
	long long t0;
	int lfd;

	env_up("conc");
	kchild(&j);
	stack_up();
	lfd = st_skiff_listen(AF_INET6, PORT, 255);
	st_child_go();
	t0 = st_now_ms();
	echo_server(lfd, CONC_CONNS, true);
	skiff_close(lfd);
	TK_ASSERT_EQ(kchild_done(30000), 0);
	tk_note("%d concurrent connections, %d KiB echoed each, in %.2f s", CONC_CONNS,
		CONC_BYTES / 1024, (st_now_ms() - t0) / 1000.0);
}

/* ---- ICMP ----------------------------------------------------------------------------- */

static int k_ping(struct kjob *j)
{
	char cmd[256];
	char ll[64];
	uint8_t a[16] = {0xfe, 0x80};

	(void)j;
	a[8] = stack_mac[0] ^ 2;
	a[9] = stack_mac[1];
	a[10] = stack_mac[2];
	a[11] = 0xff;
	a[12] = 0xfe;
	a[13] = stack_mac[3];
	a[14] = stack_mac[4];
	a[15] = stack_mac[5];
	inet_ntop(AF_INET6, a, ll, sizeof(ll));
	if (tb_run(NULL, "ping -q -c 3 -i 0.2 -W 2 %s", STACK_IP4))
		return 2;
	if (tb_run(NULL, "ping -6 -q -c 3 -i 0.2 -W 2 %s", STACK_IP6))
		return 3;
	snprintf(cmd, sizeof(cmd), "ping -6 -q -c 3 -i 0.2 -W 2 %s%%%s", ll, K.net.ifname[1]);
	if (tb_run(NULL, "%s", cmd))
		return 4;
	/* A large one: fragmented on the way, reassembled by skiff. */
	if (tb_run(NULL, "ping -q -c 2 -i 0.2 -W 2 -s 4000 %s", STACK_IP4))
		return 5;
	return 0;
}

static void test_ping_and_ping6_answered(void)
{
	struct kjob j = {.fn = k_ping};
	struct skiff_stats st;

	env_up("ping");
	stack_up();
	/* The pings run in a child while we keep the stack going. */
	kchild(&j);
	TK_ASSERT_EQ(kchild_done(30000), 0);
	skiff_get_stats(&st);
	CU_ASSERT(st.icmp_rx >= 5);
	CU_ASSERT(st.icmp6_rx >= 6);
}

static const struct tk_case tests[] = {
	TK_TEST(test_kernel_client_v4_64mib_each_way),
	TK_TEST(test_kernel_client_v6_64mib_each_way),
	TK_TEST(test_skiff_client_v4_64mib_each_way),
	TK_TEST(test_zero_window_probe_byte),
	TK_TEST(test_skiff_client_v6_64mib_each_way),
	TK_TEST(test_zero_copy_64mib_each_way),
	TK_TEST(test_mptcp_client_falls_back),
	TK_TEST(test_mptcp_kernel_client_v4),
	TK_TEST(test_mptcp_kernel_client_v6),
	TK_TEST(test_mptcp_checksum_kernel_client),
	TK_TEST(test_mptcp_join_kernel_client),
	TK_TEST(test_mptcp_join_kernel_client_v6),
	TK_TEST(test_mptcp_join_checksum_kernel_client),
	TK_TEST(test_mptcp_join_checksum_failure_rx),
	TK_TEST(test_mptcp_first_checksum_failure_rx),
	TK_TEST(test_mptcp_join_checksum_failure_tx),
	TK_TEST(test_mptcp_join_path_cut),
	TK_TEST(test_mptcp_join_path_cut_send),
	TK_TEST(test_mptcp_data_level_resend),
	TK_TEST(test_mptcp_skiff_client_v4),
	TK_TEST(test_mptcp_skiff_client_v6),
	TK_TEST(test_mptcp_checksum_skiff_client),
	TK_TEST(test_mptcp_add_addr_skiff_client),
	TK_TEST(test_mptcp_add_addr_skiff_client_v6),
	TK_TEST(test_mptcp_add_addr_two_paths_shaped),
	TK_TEST(test_mptcp_two_ports_shaped),
	TK_TEST(test_mptcp_two_ports_shaped_send),
	TK_TEST(test_mptcp_two_ports_link_cut_send),
	TK_TEST(test_mptcp_two_ports_first_link_cut),
	TK_TEST(test_mptcp_two_ports_first_link_cut_send),
	TK_TEST(test_mptcp_two_ports_lowest_rtt),
	TK_TEST(test_mptcp_two_ports_backup),
	TK_TEST(test_mptcp_two_ports_withdraw),
	TK_TEST(test_mptcp_close_while_join_owes),
	TK_TEST(test_mptcp_shutdown_while_join_owes),
	TK_TEST(test_mptcp_two_ports_first_reset),
	TK_TEST(test_mptcp_two_ports_first_removed_up),
	TK_TEST(test_mptcp_two_ports_first_removed_down),
	TK_TEST(test_mptcp_two_ports_first_removed_closing),
	TK_TEST(test_mptcp_two_ports_first_link_gone),
	TK_TEST(test_mptcp_two_ports_skiff_client),
	TK_TEST(test_mptcp_two_ports_skiff_client_subflow),
	TK_TEST(test_mptcp_two_ports_skiff_client_subflow_v6),
	TK_TEST(test_mptcp_add_addr_announced),
	TK_TEST(test_mptcp_fastclose_from_linux),
	TK_TEST(test_mptcp_checksum_failure_rx),
	TK_TEST(test_mptcp_checksum_failure_tx),
	TK_TEST(test_mptcp_fallback_reported_server),
	TK_TEST(test_mptcp_fallback_reported_client),
	TK_TEST(test_connect_to_closed_port_refused),
	TK_TEST(test_rst_from_kernel),
	TK_TEST(test_rst_from_skiff),
	TK_TEST(test_half_close_both_ways),
	TK_TEST(test_1000_sequential_connections),
	TK_TEST(test_200_concurrent_connections),
	TK_TEST(test_ping_and_ping6_answered),
	TK_TEST_END,
};

static const struct tk_suite suite = {"kernel", setup, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
