/**
 * @file
 * What skiff-echo and skiff-proxy share: the command line (in the spirit
 * of xdpsock's), the checks that turn bad use into a message and exit code
 * 2 before anything is set up, the servers' own counters, and the stop
 * signals (skiff-bench's too).
 *
 * Exit codes: 0 PASS (or a server stopped by a signal), 1 FAIL or a
 * run-time error, 2 bad use.
 */
#ifndef SKIFF_APPS_APP_H
#define SKIFF_APPS_APP_H

#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <skiff/skiff.h>

#define APP_EXIT_OK    0
#define APP_EXIT_FAIL  1
#define APP_EXIT_USAGE 2

enum app_kind {
	APP_ECHO,
	APP_PROXY,
};

struct app_opts {
	enum app_kind kind;
	const char *prog;
	/* the interface; NULL: the embedded default builds its own testbed */
	const char *ifname;
	uint32_t queue;
	bool queue_set;
	enum skiff_xdp_mode xdp_mode;
	bool xdp_skb;
	bool busy_poll;
	/* skiff's addresses (network byte order) */
	uint32_t ip4, gw4;
	uint8_t prefix4;
	uint8_t ip6[16], gw6[16];
	uint8_t prefix6;
	bool have_ip4, have_ip6, have_gw4, have_gw6;
	uint16_t port;
	bool mptcp; /* --mptcp: IPPROTO_MPTCP listeners, and skiff-proxy's upstream */
	/* --also IFACE=ADDR/PREFIX: more ports (skiff_config.extra_ports) */
	struct skiff_port_config also[SKIFF_MAX_PORTS - 1];
	unsigned n_also;
	unsigned stats_s; /* 0: no periodic counters */
	/* capture (--pcap): the skiff_config fields of the same names */
	const char *pcap_path;
	uint32_t pcap_snaplen;
	uint64_t pcap_max_bytes;
	uint32_t pcap_files;
	/* skiff-proxy */
	struct sockaddr_storage upstream;
	socklen_t upstream_len;
	char upstream_str[128];
	/* the embedded default's load */
	unsigned conns, requests;
	uint32_t min_size, max_size;
	uint64_t seed;
	bool force_memlink;
};

/** The server's own counters (the stack's come from skiff_get_stats()). */
struct app_counters {
	uint64_t conns_total; /* accepted */
	uint32_t conns_open;
	uint64_t upstream_total, upstream_failed; /* skiff-proxy's outgoing connections */
	uint64_t requests;			  /* receive calls that returned data */
	uint64_t bytes;				  /* payload bytes echoed or forwarded */
	uint64_t loans;				  /* payloads lent by skiff_zc_recv() */
	uint64_t loans_sent;	   /* of which sent on in their own frames (skiff_zc_loan_to_buf) */
	uint64_t recv_copied;	   /* receives that fell back to skiff_recv() */
	uint64_t zc_sends;	   /* skiff_zc_send() calls that succeeded */
	uint64_t zc_done;	   /* their ids completed */
	uint64_t zc_aborted;	   /* of which aborted (the connection died first) */
	uint64_t send_copied;	   /* sends that fell back to skiff_send() */
	uint64_t app_copied_bytes; /* bytes the application copied from a loan into a send buffer */
};

/**
 * Parse the command line into @p o. -h prints the usage and exits 0; bad
 * use prints one line saying what is wrong (and how to get help) and exits
 * APP_EXIT_USAGE.
 */
void app_parse(int argc, char **argv, enum app_kind kind, struct app_opts *o);

/** Print "<prog>: <message>" and exit APP_EXIT_USAGE. */
__attribute__((noreturn, format(printf, 2, 3))) void app_usage_error(const struct app_opts *o,
								     const char *fmt, ...);

/**
 * With an interface given: the checks that need no stack, each a clear
 * message and exit 2 on failure: root, the interface exists in this
 * network namespace, the queue exists, skiff's addresses are not the
 * kernel's own on this host.
 */
void app_check_interface(const struct app_opts *o);

/** The skiff_config for @p o (xsk backend, its interface and addresses,
 * the capture). */
void app_skiff_config(const struct app_opts *o, struct skiff_config *cfg);

/** The capture @p o asks for (--pcap ...) into @p cfg. */
void app_capture_config(const struct app_opts *o, struct skiff_config *cfg);

/** Exit code for a failed skiff_init() / bind: bad use (2) or failure (1). */
int app_init_exit_code(int err);

/** Set by the first SIGINT, SIGTERM or SIGHUP; a second one calls
 * @p emergency (async-signal-safe; may be NULL) and exits 130. SIGPIPE is
 * ignored. */
extern volatile sig_atomic_t app_stop;
void app_signals_install(void (*emergency)(void));

/** "10.0.0.1/24" or "fd00::1/64" of @p o's addresses, for banners. */
const char *app_ip4_str(const struct app_opts *o, char *buf, size_t len);
const char *app_ip6_str(const struct app_opts *o, char *buf, size_t len);

#endif
