/* Helpers for the stack tests: a stack per process over memlink or xsk,
 * self-checking byte streams, SHA-256 verified transfers, the idle check
 * every test ends with, and a child process for the far end. */
#ifndef SKIFF_STACK_TEST_H
#define SKIFF_STACK_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <skiff/skiff.h>
#include <skiff/umem.h>

#include "sha256.h"
#include "testkit.h"

#define ST_MIB (1024ull * 1024ull)
/* A big transfer's bytes: @p n, a quarter under ASan, where the point is
 * memory safety on the paths the transfer takes, not its rate. */
#ifdef __SANITIZE_ADDRESS__
#define ST_BIG(n) ((n) / 4)
#else
#define ST_BIG(n) (n)
#endif

/* Addresses of the two memlink ends and of the veth tests. */
#define ST_ML_IP4_0 "10.9.0.1"
#define ST_ML_IP4_1 "10.9.0.2"
#define ST_ML_IP6_0 "fd09::1"
#define ST_ML_IP6_1 "fd09::2"

long long st_now_ms(void);
/* Microseconds on the same clock, for what answers faster than a millisecond. */
long long st_now_us(void);

/* ---- byte streams ------------------------------------------------------- */

/* Byte @p off of stream @p seed, for any offset: both ends agree on every
 * byte without storing the stream. */
void st_pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);
/* Offset of the first byte of @p buf that is not the stream's, or -1. */
int64_t st_pattern_check(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len);
/* Byte @p bad of @p buf (stream @p seed from @p off) differed: @p x's
 * bad_len and bad_src say how many bytes from there differ and whose
 * bytes they are (either test stream, any offset 256 MiB either side). */
struct st_xfer;
void st_pattern_explain(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len, size_t bad,
			struct st_xfer *x);

struct st_xfer {
	uint64_t bytes;
	uint64_t bad;	    /* reads whose bytes differed from the pattern */
	uint64_t first_bad; /* the stream offset of the first byte that differed */
	/* The first wrong run (st_pattern_explain()): its length within its
	 * read, and the stream and offset its bytes belong to (-1: neither
	 * stream's, within 256 MiB). */
	uint32_t bad_len;
	uint64_t bad_src_seed;
	int64_t bad_src;
	uint8_t digest[32]; /* SHA-256 of what was sent or received */
	double seconds;
	int err; /* errno of a failed call, 0 */
};

/* Sends @p total bytes of stream @p seed on @p fd (blocking calls), or with
 * @p zc zero-copy buffers. */
int st_send_stream(int fd, uint64_t seed, uint64_t total, bool zc, struct st_xfer *x);
/* Receives until EOF (or @p total bytes when @p until_total), checking
 * every byte against stream @p seed; @p zc uses receive loans. */
int st_recv_stream(int fd, uint64_t seed, uint64_t total, bool until_total, bool zc,
		   struct st_xfer *x);
/* The digest stream @p seed of @p total bytes must have. */
void st_pattern_digest(uint64_t seed, uint64_t total, uint8_t out[32]);

/* ---- stacks -------------------------------------------------------------- */

/* skiff_config for memlink end @p end with the ST_ML_* addresses. */
struct skiff_config st_memlink_config(struct skiff_memlink *w, unsigned end);
/* A wire for two stacks (large enough rings and frames for 4 MiB windows). */
struct skiff_memlink *st_memlink_create(void);
/* The same with @p frames frames per end (few: frames run short). */
struct skiff_memlink *st_memlink_create_frames(uint32_t frames);

/* Polls until no connection, segment, pbuf or frame is held by the stack
 * (TIME_WAIT included: tests configure it short), @p ms at most; true when
 * it got there. Says what is still held otherwise. */
/* How long a stack may take to go idle after a test: under seeded loss a
 * closing handshake can need several retransmission timeouts (1 s, 2 s,
 * 4 s, ...), and sanitizer builds run slower. Only spent when not idle. */
#define ST_IDLE_WAIT_MS 30000

bool st_wait_idle(int ms);
/* Every counter on one line (stderr), for diagnosis. */
void st_dump_stats(const char *label);
/* st_wait_idle() and the counters on the zero-copy path asserted. */
void st_assert_idle(void);

/* ---- the far end in a child process ---------------------------------------- */

/* Runs @p fn(arg) in a child; its return value is the exit code (0 = pass).
 * The child reports what it wants to through @p out (up to @p out_len bytes,
 * written before it exits) with st_child_report(). */
typedef int (*st_child_fn)(void *arg);
pid_t st_child_start(st_child_fn fn, void *arg);
/* Waits up to @p ms for the child (then kills it); its exit code, or 128 +
 * signal, or -1 on timeout. */
int st_child_wait(pid_t pid, int ms);
/* The child's report pipe: write end in the child, read end in the parent. */
void st_child_report(const void *data, size_t len);
bool st_child_read_report(void *data, size_t len, int ms);

/* A byte from parent to child ("go"): st_child_go() in the parent, and
 * st_child_wait_go() in the child, which returns false after @p ms. */
void st_child_go(void);
bool st_child_wait_go(int ms);

/* Logs from a child (stderr, prefixed). */
void st_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the kernel as the peer ---------------------------------------------------
 * Ordinary sockets, for the child that runs in the kernel's namespace, and
 * the skiff calls of the same transfers. */

/* @p ss for @p family from @p ip4 or @p ip6 (text) and @p port; its length. */
socklen_t st_sockaddr(int family, const char *ip4, const char *ip6, uint16_t port,
		      struct sockaddr_storage *ss);
/* A kernel TCP connection (@p proto 0 or IPPROTO_MPTCP), retried for a
 * second while nobody listens yet; the fd or -errno. */
int st_kernel_connect(int family, int proto, const char *ip4, const char *ip6, uint16_t port);
/* A kernel listener on every address; the fd or -errno. */
int st_kernel_listen(int family, uint16_t port);
/* ... of protocol @p proto (0: TCP; IPPROTO_MPTCP), with a receive buffer
 * of @p rcvbuf bytes when not 0 (set before listen(): it sets the window
 * scale of what it accepts). */
int st_kernel_listen_with(int family, int proto, uint16_t port, int rcvbuf);
/* A child's server side: listens as st_kernel_listen_with(), reports
 * ready (one byte), accepts one connection and closes the listener. The
 * connection, or -2 (no listener) or -3 (no connection): the child's exit
 * code negated. */
int st_kernel_accept_one(int family, int proto, uint16_t port, int rcvbuf);
/* st_send_stream() and st_recv_stream() (to EOF) over kernel sockets. */
int st_kernel_send_stream(int fd, uint64_t seed, uint64_t total, struct st_xfer *x);
int st_kernel_recv_stream(int fd, uint64_t seed, struct st_xfer *x);

/* A two-way transfer: the client sends @p bytes of stream ST_SEED_UP and
 * half-closes, the server reads to EOF, answers with as many bytes of
 * ST_SEED_DOWN and closes. Each end records what it saw. */
#define ST_SEED_UP   0x1001
#define ST_SEED_DOWN 0x2002

struct st_two_way {
	struct st_xfer up, down;
};

/* In a child, over a connected @p fd: @p bytes up (ST_SEED_UP), our
 * side shut, the stream down (ST_SEED_DOWN) read to its end, @p fd
 * closed and both ends' st_two_way reported; 0, or 4 (up) or 5 (down). */
int st_kernel_two_way_over(int fd, uint64_t bytes);
/* The kernel's end, run in the child; it reports its struct st_two_way
 * (the server first reports 'r' once it listens; the client waits for
 * st_child_go()). 0, or the exit code that says which step failed. */
int st_kernel_two_way_client(int family, int proto, const char *ip4, const char *ip6, uint16_t port,
			     uint64_t bytes);
int st_kernel_two_way_server(int family, uint16_t port, uint64_t bytes);
/* skiff's end (asserting each call): the server accepts one connection on
 * @p lfd and closes @p lfd; the client runs on the connected @p fd. */
void st_skiff_two_way_server(int lfd, uint64_t bytes, bool zc, struct st_two_way *mine);
void st_skiff_two_way_client(int fd, uint64_t bytes, struct st_two_way *mine);
/* Every byte count, pattern check and digest of both ends. */
void st_check_two_way(const struct st_two_way *mine, const struct st_two_way *theirs,
		      uint64_t bytes);

/* A skiff listener (SO_REUSEADDR) on every address, asserted. */
int st_skiff_listen(int family, uint16_t port, int backlog);
/* A blocking skiff connect; the fd, or -1 with errno. */
int st_skiff_connect(int family, const char *ip4, const char *ip6, uint16_t port);

/* A note "what: N MiB in S s = R Mbit/s". */
void st_note_rate(const char *what, uint64_t bytes, double s);

/* ---- two stacks over memlink ----------------------------------------------------
 * The parent's stack is end 0 (ST_ML_*_0), the child's end 1. */

struct st_pair {
	struct skiff_memlink *w;
	pid_t child;
	bool up;
};

/* A wire of @p frames frames per end (0: st_memlink_create()'s), a child
 * that starts skiff on end 1, runs @p fn(@p arg), checks its stack goes
 * idle (exit code 91 if not) and stops it; skiff on end 0 here. */
/* Set before st_pair_up(): changes each end's config before its stack
 * starts (NULL: none; the child inherits it). */
extern void (*st_pair_tweak)(struct skiff_config *c, unsigned end);
/* Set by a test to change st_xsk_up()'s config before skiff_init(). */
extern void (*st_xsk_tweak)(struct skiff_config *c);
void st_pair_up(struct st_pair *p, uint32_t frames, st_child_fn fn, void *arg);
/* As st_pair_up(), the wire impaired both ways by @p f (its seed is taken
 * as a base: each end draws its own sequence); NULL: a clean wire. */
void st_pair_up_faults(struct st_pair *p, uint32_t frames, st_child_fn fn, void *arg,
		       const struct skiff_memlink_faults *f);
/* The child's exit code (0: it passed), or -1 after @p ms. */
int st_pair_wait_child(struct st_pair *p, int ms);
/* Teardown: the child reaped, this stack idle with every frame free or on
 * the fill ring, stopped, the wire destroyed. Accepts a zeroed pair. */
void st_pair_down(struct st_pair *p);

/* ---- crafted frames -------------------------------------------------------------- */

#define ST_TH_FIN 0x01
#define ST_TH_SYN 0x02
#define ST_TH_RST 0x04
#define ST_TH_PSH 0x08
#define ST_TH_ACK 0x10

/* The Internet checksum: st_csum_add() over the parts, st_csum_fold() at
 * the end. */
uint32_t st_csum_add(uint32_t s, const uint8_t *p, size_t n);
uint16_t st_csum_fold(uint32_t s);
/* An Ethernet header (802.1Q-tagged when @p vid); its length. */
size_t st_eth_header(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type,
		     uint16_t vid);

/* One Ethernet/IPv4/TCP segment's fields (addresses in network order). */
struct st_tcp4 {
	const uint8_t *dst_mac, *src_mac;
	uint16_t vid;
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *opt;
	size_t optlen;
	uint16_t wnd_less; /* the window field: 65535 less this */
};

/* The whole frame, checksums filled in; its length. */
size_t st_tcp4_frame(uint8_t *f, const struct st_tcp4 *t, const void *data, size_t len);

/* ---- skiff on a veth --------------------------------------------------------------- */

/* Enters @p ns and starts skiff on AF_XDP on @p ifname (copy mode, as veth
 * gives) with @p mac, @p ip4/24 and @p ip6/64, the gateways when not NULL,
 * a 200 ms TIME_WAIT; asserted. */
void st_xsk_up(const char *ns, const char *ifname, const uint8_t mac[6], const char *ip4,
	       const char *gw4, const char *ip6, const char *gw6);
/* A test's end: idle (st_assert_idle()), every frame free or on the fill
 * ring, and with @p no_drops no frame dropped for want of a pkb or a TX
 * frame and none malformed; then skiff_fini(). */
void st_stack_down(bool no_drops);

#endif
