/* The run-to-completion loop (skiff_poll): ACKs owed from the last round,
 * the RX batch through lwIP, timers, the TX flush, completions off the
 * ring, zero-copy callbacks; and the blocking wait every blocking call
 * shares. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "ackbatch.h"
#include "instance.h"
#include "mptcp.h"
#include "netif.h"
#include "pcap.h"
#include "rxq.h"
#include "statpub.h"
#include "timers.h"
#include "skiff_testing.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/timeouts.h"

/* Poll rounds between two looks at the clock for observability's periodic
 * work (a spinning caller's rounds take well under a microsecond). */
#ifndef SKIFF_OBSERVE_ROUNDS
#define SKIFF_OBSERVE_ROUNDS 64u
#endif

void skiff__flush(void)
{
	struct skiff_stack *st = &skiff__s;

	for (unsigned i = 0; i < st->n_links; i++) {
		struct skiff_link *l = &st->link[i];

		if (l->tx_pending) {
			l->tx_pending = 0;
			umem_port_flush(l->port);
		}
	}
}

bool skiff__tx_pending(void)
{
	const struct skiff_stack *st = &skiff__s;

	for (unsigned i = 0; i < st->n_links; i++)
		if (st->link[i].tx_pending)
			return true;
	return false;
}

unsigned skiff__tx_reap(unsigned max)
{
	struct skiff_stack *st = &skiff__s;
	unsigned n;

	if (st->tx_reap_held)
		return 0;
	n = umem_port_complete(st->link[0].port, max);
	for (unsigned i = 1; i < st->n_links; i++)
		n += umem_port_complete(st->link[i].port, max);
	return n;
}

unsigned char skiff__tcp_maxrtx = 12;

void skiff__tcp_give_up_after(unsigned n)
{
	skiff__tcp_maxrtx = (unsigned char)(n >= 1 && n <= 12 ? n : 12);
}

void skiff__tx_reap_hold(bool hold)
{
	skiff__s.tx_reap_held = hold;
}

/* The published counters when their interval has passed, the capture's
 * buffer when it is due. Called every SKIFF_OBSERVE_ROUNDS rounds and
 * after every wait, only while publishing or capturing: the rounds in
 * between pay one predictable branch and an increment. */
static void observe(void)
{
	struct skiff_stack *st = &skiff__s;
	struct timespec ts;
	uint64_t now;

	st->observe_rounds = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (st->pub)
		skiff__statpub_tick(now);
	if (st->pcap)
		skiff__pcap_tick(now);
}

static unsigned round_once(void)
{
	struct skiff_stack *st = &skiff__s;
	unsigned n, acks_later;

	/* The ACKs the last round's data called for, unless the answers the
	 * application sent since carried them; then what the API calls
	 * queued since the last round goes out. An ACK left for the next
	 * round counts as work: the loop must come back for it. */
	skiff__clock_round_begin();
	acks_later = skiff__batch_acks();
	skiff__flush();
	n = acks_later + skiff__rx_batch();
	skiff__rxq_relieve();
	sys_check_timeouts();
	/* MPTCP joins whose connection's first subflow went (join.c). */
	if (__builtin_expect(skiff__mptcp_orphans != NULL, 0))
		skiff__mptcp_reap();
	/* ... and data of their dead or stale joins to send again. */
	if (__builtin_expect(skiff__mptcp_reinject_due != NULL, 0))
		skiff__mptcp_reinject_run();
	/* ... and those waiting on a DATA_ACK that may never come by itself. */
	if (__builtin_expect(skiff__mptcp_probe_due != NULL, 0))
		skiff__mptcp_probe_run();
	if (__builtin_expect(skiff__fine_head != NULL, 0)) {
		u32_t now = skiff__now_us();

		if ((int32_t)(skiff__fine_next - now) <= 0)
			skiff__timers_fine_run(now);
	}
	skiff__flush();
	n += skiff__tx_reap(1024);
	st->in_callback = true;
	n += zc_engine_deliver(st->zc);
	st->in_callback = false;
	skiff__clock_round_end();
	if (__builtin_expect(st->observing, 0) && ++st->observe_rounds >= SKIFF_OBSERVE_ROUNDS)
		observe();
	return n;
}

/* Sleeps until traffic may have come, @p ms at most (-1: no limit beyond
 * lwIP's next timer and the fine timer's). */
static void wait_traffic(int ms)
{
	struct skiff_stack *st = &skiff__s;
	u32_t timer = sys_timeouts_sleeptime();
	long long us;

	if (timer != SYS_TIMEOUTS_SLEEPTIME_INFINITE && (ms < 0 || timer < (u32_t)ms))
		ms = (int)timer;
	us = ms < 0 ? -1 : (long long)ms * 1000;
	if (skiff__fine_head) {
		int32_t left = (int32_t)(skiff__fine_next - skiff__now_us());

		if (left < 0)
			left = 0;
		if (us < 0 || left < us)
			us = left;
	}
	if (st->holding) {
		long long left = skiff__batch_hold_left_us();

		if (us < 0 || left < us)
			us = left;
	}
	if (st->wait_fd >= 0) {
		struct pollfd pfd = {.fd = st->wait_fd, .events = POLLIN};
		struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};

		ppoll(&pfd, 1, us < 0 ? NULL : &ts, NULL);
	} else if (us != 0) {
		/* memlink has no descriptor: a short nap, the wire is shared
		 * memory. */
		struct timespec ts = {.tv_nsec = 20000};

		nanosleep(&ts, NULL);
	}
	/* A waiting loop makes few rounds: look at the clock after each wait
	 * (cheap next to the wait's system call). */
	if (st->observing)
		observe();
}

int skiff_poll(int timeout_ms)
{
	struct skiff_stack *st = &skiff__s;
	long long deadline;
	unsigned long before;
	int n;

	if (!skiff__running()) {
		errno = ENOTCONN;
		return -1;
	}
	if (st->in_poll || st->in_callback)
		return 0;
	st->in_poll = true;
	/* A clock read costs tens of ns here (a VM's TSC): none for the
	 * one-round poll a spinning caller makes. */
	deadline = timeout_ms == 0 ? 0 : skiff__deadline(timeout_ms);
	for (;;) {
		before = st->notified;
		n = (int)round_once();
		n += (int)(st->notified - before);
		if (n || timeout_ms == 0)
			break;
		long long left = deadline < 0 ? -1 : deadline - skiff__now_ms();
		if (deadline >= 0 && left <= 0)
			break;
		wait_traffic(left > INT32_MAX ? INT32_MAX : (int)left);
	}
	st->in_poll = false;
	return n;
}

int skiff__wait(long long deadline_ms)
{
	long long left;
	int n;

	if (!skiff__running())
		return -ENOTCONN;
	if (skiff__s.in_callback || skiff__s.in_poll)
		return -EDEADLK; /* a blocking call inside a callback would spin */
	left = deadline_ms < 0 ? -1 : deadline_ms - skiff__now_ms();
	if (deadline_ms >= 0 && left <= 0)
		return -ETIMEDOUT;
	n = skiff_poll(left > INT32_MAX ? INT32_MAX : (int)left);
	return n < 0 ? -errno : 0;
}
