/* The stack instance (instance.c): the one per process, its configuration,
 * its UMEM, ports and pools, the loop's state and its own counters. Every
 * room of stack/ reaches it as skiff__s; this header includes no room's.
 * Internal to stack/ (lwIP types are fine here; they never leave it). */
#ifndef SKIFF_INSTANCE_H
#define SKIFF_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include <skiff/pkb.h>
#include <skiff/skiff.h>
#include <skiff/umem.h>
#include <skiff/zc.h>

#include "lwip/netif.h"

#include "skiff_testing.h"

#ifndef SKIFF_FRAME_COUNT_DEFAULT
#define SKIFF_FRAME_COUNT_DEFAULT 16384u
#endif
#ifndef SKIFF_RING_SIZE_DEFAULT
#define SKIFF_RING_SIZE_DEFAULT 2048u
#endif
/* Limits (skiff_config): defaults that let one instance hold 100,000
 * connections. */
#ifndef SKIFF_MAX_CONNECTIONS_DEFAULT
#define SKIFF_MAX_CONNECTIONS_DEFAULT 131072u
#endif
#ifndef SKIFF_MAX_HALF_OPEN_DEFAULT
#define SKIFF_MAX_HALF_OPEN_DEFAULT 65536u
#endif
#ifndef SKIFF_MAX_BACKLOG_DEFAULT
#define SKIFF_MAX_BACKLOG_DEFAULT 65535u
#endif
#ifndef SKIFF_MAX_ZC_SENDS_DEFAULT
#define SKIFF_MAX_ZC_SENDS_DEFAULT 65536u
#endif
#ifndef SKIFF_MIN_RTO_MS_DEFAULT
#define SKIFF_MIN_RTO_MS_DEFAULT 200u
#endif
#ifndef SKIFF_TIME_WAIT_MS_DEFAULT
#define SKIFF_TIME_WAIT_MS_DEFAULT 120000u
#endif
#define SKIFF_MTU 1500u
/* skiff_fini()'s bound on the graceful part of a stop it does itself. */
#ifndef SKIFF_FINI_DRAIN_MS
#define SKIFF_FINI_DRAIN_MS 250
#endif

#define SKIFF_CONTAINER_OF(ptr, type, member)                                                      \
	((type *)(void *)((uint8_t *)(ptr)-offsetof(type, member)))

struct skiff_sock;

/* One port and its lwIP netif (netif.c): link[0] is the config's own
 * interface, the others its extra_ports, all over the one UMEM. */
struct skiff_link {
	struct umem_port *port;
	int port_fd;
	struct netif netif;
	struct skiff_port_config cfg; /* link[0]'s from the config's own fields */
	uint8_t mac[6];
	unsigned tx_pending;  /* frames posted since the last kick */
	unsigned fill_target; /* the fill ring's depth now (netif.c, following demand) */
	unsigned fill_burst;  /* twice the largest drain lately (halved every 1024 empty rounds) */
	unsigned fill_rounds;
	/* MPTCP's path manager (stack/mptcp/pm.c): the port's subflows are
	 * backup; its address is withdrawn (no joins, no announcements). */
	bool mptcp_backup, mptcp_gone;
};

/* Hold lengths of ackbatch.c: SKIFF_ACK_HOLD_MS doubled up to this less
 * one times. */
#define SKIFF_ACK_HOLDS 3u

struct skiff_stack {
	bool up;
	bool stopped; /* skiff_stop() ran: counters readable, no traffic */
	bool in_poll;
	bool in_callback;
	bool in_rx; /* lwIP is taking in a received frame (netif.c: rx_one) */
	struct skiff_config cfg;
	char last_error[256];

	/* frames */
	struct umem *umem;
	struct pkb_pool *pool;
	struct zc_engine *zc;
	struct umem_geometry geo;
	uint32_t rx_reserve; /* frames free or on the fill ring that sends leave (zcsend.c) */
	bool tx_reap_held;   /* a test keeps the completion ring unreaped (skiff__tx_reap_hold) */

	/* the links: one per port */
	struct skiff_link link[SKIFF_MAX_PORTS];
	unsigned n_links;
	int wait_fd; /* what a wait sleeps on: the one port's, or an epoll of all */

	/* the loop */
	unsigned long notified;	       /* readiness changes: a poll round that made any did work */
	struct skiff_sock *batch_head; /* sockets with work after the RX batch (ackbatch.c) */
	/* ACKs held for unread data, a list per hold length (ackbatch.c) */
	struct {
		struct skiff_sock *head, *tail;
	} hold[SKIFF_ACK_HOLDS];
	unsigned holding; /* on those lists */

	/* sockets (fdtable.c) */
	struct skiff_sock **socks;
	uint32_t free_hint;
	uint32_t live_socks; /* structs, closed ones included */
	struct skiff_sock *all_socks;

	uint64_t isn_k0, isn_k1; /* RFC 6528 secret (isn.c) */

	/* observability: the loop's periodic turn (loop.c) for the published
	 * counters (statpub.c) and the capture (pcap.c) */
	bool observing;		   /* publishing or capturing */
	unsigned observe_rounds;   /* poll rounds since the clock was last looked at */
	struct skiff_statpub *pub; /* NULL: counters not published */
	struct skiff_pcap *pcap;   /* NULL: no capture */

	struct skiff_stats stats; /* the counters stack/ keeps itself (stats.c adds the rest) */
};

extern struct skiff_stack skiff__s;

/* Up and not shut down: sockets and the loop work. */
static inline bool skiff__running(void)
{
	return skiff__s.up && !skiff__s.stopped;
}

/* instance.c: one line about the last failure (skiff_last_error()). */
void skiff__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* clock.c: skiff's clock (CLOCK_MONOTONIC plus what skiff__clock_advance()
 * added), deadlines on it, and cheap randomness. */
long long skiff__now_ms(void);
/* The same clock in microseconds, wrapping every 71 minutes: for
 * intervals (compare with (int32_t)(a - b)). */
uint32_t skiff__now_us(void);
long long skiff__deadline(int timeout_ms); /* -1: forever */
/* A poll round reads the clock once per step (its start, then
 * skiff__clock_step() per RX batch) and every reading until
 * skiff__clock_round_end() returns that step's time. */
void skiff__clock_round_begin(void);
void skiff__clock_step(void);
void skiff__clock_round_end(void);
void skiff__random(void *buf, size_t len); /* getrandom(), never fails */
uint32_t skiff__rand(void);		   /* spread, not secrecy */

/* stats.c: the counters into @p out; @p audit walks every frame to check
 * the books (skiff_get_stats()), else the frame counts are read as kept
 * (the published copy, every interval). */
void skiff__stats_gather(struct skiff_stats *out, bool audit);

/* loop.c: the run-to-completion loop. */
void skiff__flush(void);      /* kick each TX ring frames were posted on */
bool skiff__tx_pending(void); /* frames posted and not kicked yet, on any port */
/* Frames back off the completion ring, @p max at most (none while a test
 * holds the ring); how many. */
unsigned skiff__tx_reap(unsigned max);
int skiff__wait(long long deadline_ms); /* one blocking poll round; 0 or -errno */

#endif
