/* libskiff-preload's core: the configuration, the descriptor table, the
 * lock, starting the stack, the background ticker, fork, and the blocking
 * wait every interposed call shares. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <skiff/hostloop.h>
#include <skiff/skiff.h>

#include "preload.h"

struct pl_real pl__real;
struct pl_config pl__cfg;
__thread int pl__inside;

static struct pl_fd **table; /* pages of entries, made on first use */
static int table_len;
#define PL_PAGE 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool stack_up, stack_failed, child, gave_away;
static pid_t owner_pid;
/* Fork: whether this fork hands the stack to the child (decided once, in
 * the prepare handler, for both sides); whether a connection was ever
 * served; whether the ticker thread still has to start in this process. */
static bool handover, served, ticker_wanted;

/* Threads asleep in pl__block(). One of them, the poller, sleeps on the
 * AF_XDP socket as well as on its own descriptors; the others only on
 * theirs and their eventfd, so that a frame arriving wakes one thread, not
 * all of them. When a poll round (the poller's, the ticker's, any
 * thread's) did work, each waiter whose skiff socket or epoll set it
 * made ready is woken through its eventfd; a waiter that cannot say which
 * socket it waits for (poll() over several) is woken on any work. When the
 * poller returns to the application, another waiter takes its place. */
#define PL_MAX_WAITERS 256
struct pl_waiter {
	int kick;	 /* its eventfd */
	int probe;	 /* the skiff socket or epoll set it waits for, or -1: any */
	uint32_t events; /* ... and for which events */
	unsigned weight; /* how many skiff sockets it waits for */
};
static struct pl_waiter waiters[PL_MAX_WAITERS];
static unsigned nwaiters;
static int poller = -1; /* the poller's eventfd */
static unsigned poller_weight;
static bool work_done;
static __thread int my_kick = -1;

void pl__resolve(void)
{
#define R(n) pl__real.n = dlsym(RTLD_NEXT, #n)
	R(socket);
	R(bind);
	R(listen);
	R(accept4);
	R(connect);
	R(read);
	R(write);
	R(readv);
	R(writev);
	R(recvfrom);
	R(sendto);
	R(recvmsg);
	R(sendmsg);
	R(sendfile);
	R(close);
	R(close_range);
	R(shutdown);
	R(getsockopt);
	R(setsockopt);
	R(getsockname);
	R(getpeername);
	R(fcntl);
	R(ioctl);
	R(poll);
	R(ppoll);
	R(select);
	R(pselect);
	R(epoll_create1);
	R(epoll_ctl);
	R(epoll_pwait);
	R(dup);
	R(dup3);
	R(dup2);
	R(execve);
#undef R
}

void pl__warn_once(const char *key, const char *fmt, ...)
{
	static char seen[64][48];
	static unsigned nseen;
	va_list ap;

	for (unsigned i = 0; i < nseen; i++)
		if (!strncmp(seen[i], key, sizeof(seen[i]) - 1))
			return;
	if (nseen < 64)
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
	fprintf(stderr, "skiff-preload[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- configuration -------------------------------------------------------- */

static bool parse_ports(const char *s)
{
	while (s && *s) {
		char *end;
		unsigned long lo, hi;

		if (!strncmp(s, "all", 3) || *s == '*') {
			pl__cfg.all_ports = true;
			return true;
		}
		lo = strtoul(s, &end, 10);
		hi = lo;
		if (end == s || lo > 65535)
			return false;
		if (*end == '-') {
			s = end + 1;
			hi = strtoul(s, &end, 10);
			if (end == s || hi > 65535 || hi < lo)
				return false;
		}
		if (pl__cfg.nports < 64) {
			pl__cfg.ports[pl__cfg.nports][0] = (uint16_t)lo;
			pl__cfg.ports[pl__cfg.nports][1] = (uint16_t)hi;
			pl__cfg.nports++;
		}
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return false;
	}
	return true;
}

static void read_config(void)
{
	const char *ifname = getenv("SKIFF_IF"), *ip = getenv("SKIFF_IP"), *v;
	char buf[64], *slash;

	pl__cfg.tick_ms = 2;
	pl__cfg.debug = (v = getenv("SKIFF_PRELOAD_DEBUG")) && *v == '1';
	if (!ifname || !*ifname || !ip || !*ip) {
		if (getenv("LD_PRELOAD"))
			pl__warn_once("noconf",
				      "SKIFF_IF and SKIFF_IP are not both set: every socket "
				      "stays on the kernel (run through skiff-run)");
		return;
	}
	snprintf(buf, sizeof(buf), "%s", ip);
	pl__cfg.prefix4 = 24;
	if ((slash = strchr(buf, '/'))) {
		*slash = 0;
		pl__cfg.prefix4 = (uint8_t)atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, &pl__cfg.ip4) != 1 || pl__cfg.prefix4 > 32) {
		pl__warn_once("badip",
			      "SKIFF_IP='%s' is not an IPv4 address/prefix: every socket "
			      "stays on the kernel",
			      ip);
		return;
	}
	if ((v = getenv("SKIFF_GW")) && *v && inet_pton(AF_INET, v, &pl__cfg.gw4) != 1) {
		pl__warn_once("badgw", "SKIFF_GW='%s' is not an IPv4 address: ignored", v);
		pl__cfg.gw4 = 0;
	}
	if ((v = getenv("SKIFF_IP6")) && *v) {
		char b6[80], *sl;

		snprintf(b6, sizeof(b6), "%s", v);
		pl__cfg.prefix6 = 64;
		if ((sl = strchr(b6, '/'))) {
			*sl = 0;
			pl__cfg.prefix6 = (uint8_t)atoi(sl + 1);
		}
		if (inet_pton(AF_INET6, b6, pl__cfg.ip6) == 1 && pl__cfg.prefix6 >= 1 &&
		    pl__cfg.prefix6 <= 128)
			pl__cfg.has_ip6 = true;
		else
			pl__warn_once("badip6",
				      "SKIFF_IP6='%s' is not an IPv6 address/prefix: IPv6 stays "
				      "on the kernel",
				      v);
	}
	if ((v = getenv("SKIFF_GW6")) && *v) {
		if (!pl__cfg.has_ip6)
			pl__warn_once("gw6noip6", "SKIFF_GW6 without SKIFF_IP6: ignored");
		else if (inet_pton(AF_INET6, v, pl__cfg.gw6) == 1)
			pl__cfg.has_gw6 = true;
		else
			pl__warn_once("badgw6", "SKIFF_GW6='%s' is not an IPv6 address: ignored",
				      v);
	}
	if ((v = getenv("SKIFF_QUEUE")))
		pl__cfg.queue = (uint32_t)strtoul(v, NULL, 10);
	if ((v = getenv("SKIFF_XDP_MODE"))) {
		if (!strcmp(v, "copy"))
			pl__cfg.xdp_mode = SKIFF_XDP_COPY;
		else if (!strcmp(v, "zerocopy"))
			pl__cfg.xdp_mode = SKIFF_XDP_ZEROCOPY;
		else if (!strcmp(v, "skb")) {
			pl__cfg.xdp_mode = SKIFF_XDP_COPY;
			pl__cfg.xdp_skb = true;
		}
	}
	if ((v = getenv("SKIFF_PORTS")) && !parse_ports(v))
		pl__warn_once("badports",
			      "SKIFF_PORTS='%s' is not a list of ports and ranges "
			      "(80,8000-8100 or all): wildcard binds stay on the kernel",
			      v);
	if ((v = getenv("SKIFF_SPIN_US")))
		pl__cfg.spin_us = atoi(v);
	if ((v = getenv("SKIFF_TICK_MS")))
		pl__cfg.tick_ms = atoi(v);
	if ((v = getenv("SKIFF_FORK")) && *v) {
		if (!strcmp(v, "parent"))
			pl__cfg.fork_mode = PL_FORK_PARENT;
		else if (!strcmp(v, "child"))
			pl__cfg.fork_mode = PL_FORK_CHILD;
		else if (strcmp(v, "auto"))
			pl__warn_once("badfork",
				      "SKIFF_FORK='%s' is not parent, child or auto: auto", v);
	}
	pl__cfg.ifname = ifname;
	pl__cfg.enabled = true;
}

/* ---- the table ------------------------------------------------------------ */

struct pl_fd *pl__get(int fd)
{
	struct pl_fd *page;

	if ((unsigned)fd >= (unsigned)table_len || !(page = table[fd / PL_PAGE]))
		return NULL;
	return page[fd % PL_PAGE].kind ? &page[fd % PL_PAGE] : NULL;
}

struct pl_fd *pl__slot(int fd)
{
	struct pl_fd **pp;

	if ((unsigned)fd >= (unsigned)table_len)
		return NULL;
	pp = &table[fd / PL_PAGE];
	if (!*pp) {
		struct pl_fd *page = calloc(PL_PAGE, sizeof(*page));

		/* Two threads may race here: keep the first page. */
		if (!page || !__atomic_compare_exchange_n(pp, &(struct pl_fd *){NULL}, page, false,
							  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			free(page);
	}
	return *pp ? &(*pp)[fd % PL_PAGE] : NULL;
}

void pl__forget(int fd)
{
	struct pl_fd *e = pl__get(fd);

	if (e)
		memset(e, 0, sizeof(*e));
}

/* ---- the lock ------------------------------------------------------------- */

void pl__lock(void)
{
	pthread_mutex_lock(&lock);
	pl__inside++;
}

static void kick(int fd)
{
	uint64_t one = 1;

	(void)!pl__real.write(fd, &one, sizeof(one));
}

/* After a round that did work: the waiters it made ready. */
static void kick_waiters(void)
{
	for (unsigned i = 0; i < nwaiters; i++) {
		const struct pl_waiter *w = &waiters[i];
		uint32_t ev = 0;

		if (w->kick == my_kick)
			continue;
		if (w->probe < 0 || skiff_sock_events(w->probe, &ev) ||
		    (ev & (w->events | EPOLLERR | EPOLLHUP)))
			kick(w->kick);
	}
}

void pl__unlock(void)
{
	if (work_done) {
		work_done = false;
		kick_waiters();
	}
	pl__inside--;
	pthread_mutex_unlock(&lock);
}

/* Poll rounds until one finds nothing (a bound keeps a flood from starving
 * the caller). Under the lock. */
static void drive(void)
{
	for (int i = 0; i < 8; i++) {
		if (skiff_poll(0) <= 0)
			break;
		work_done = true;
	}
}

/* ---- the stack -------------------------------------------------------------- */

static void at_exit(void)
{
	if (!stack_up || getpid() != owner_pid)
		return;
	pthread_mutex_lock(&lock);
	pl__inside++;
	stack_up = false;
	skiff_fini();
	pl__inside--;
	pthread_mutex_unlock(&lock);
}

/* Keeps ACKs and retransmissions going while the application computes
 * instead of calling us: a poll round every tick_ms when no other thread
 * holds the lock. */
static void *ticker(void *arg)
{
	struct timespec ts = {.tv_sec = pl__cfg.tick_ms / 1000,
			      .tv_nsec = (pl__cfg.tick_ms % 1000) * 1000000L};

	(void)arg;
	pl__inside = 1; /* this thread never goes through the wrappers */
	for (;;) {
		nanosleep(&ts, NULL);
		if (pthread_mutex_trylock(&lock))
			continue;
		if (stack_up)
			drive();
		if (work_done) {
			work_done = false;
			kick_waiters();
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

void pl__note_served(void)
{
	served = true;
}

static bool has_listener(void)
{
	for (int fd = 0; fd < table_len; fd++) {
		struct pl_fd *e = pl__get(fd);

		if (e && e->kind == PL_SKIFF && e->listening && !e->inherited)
			return true;
	}
	return false;
}

/* Marks every skiff socket and epoll set of this process as not its own. */
static void disown_all(void)
{
	for (int fd = 0; fd < table_len; fd++) {
		struct pl_fd *e = pl__get(fd);

		if (e && (e->kind == PL_SKIFF || e->kind == PL_EPOLL))
			e->inherited = true;
	}
}

/*
 * Which side keeps the stack. Both have the same memory at fork, the rings
 * and the UMEM are shared mappings, so either can go on with it, but only
 * one may: the other never polls again. The parent keeps it unless told
 * otherwise or, in auto mode, it has only listeners and never served a
 * connection: a master that binds, then forks a worker to serve (nginx).
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
	handover = stack_up && (pl__cfg.fork_mode == PL_FORK_CHILD ||
				(pl__cfg.fork_mode == PL_FORK_AUTO && !served && has_listener()));
}

static void fork_parent(void)
{
	if (handover) {
		stack_up = false;
		gave_away = true;
		disown_all();
		if (pl__cfg.debug)
			fprintf(stderr,
				"skiff-preload[%d]: skiff handed to the forked child (SKIFF_FORK)\n",
				(int)getpid());
	}
	pthread_mutex_unlock(&lock);
}

static void fork_child(void)
{
	pthread_mutex_init(&lock, NULL);
	/* The parent's waiters (the poller among them) are its threads. */
	nwaiters = 0;
	poller = -1;
	poller_weight = 0;
	if (my_kick >= 0)
		pl__real.close(my_kick); /* the parent thread's eventfd */
	my_kick = -1;
	if (!stack_up)
		return;
	if (handover) {
		/* This process runs the stack from now on; its ticker starts
		 * with the first wait (no threads made inside fork). */
		owner_pid = getpid();
		ticker_wanted = pl__cfg.tick_ms > 0;
		return;
	}
	/* The stack, its rings and its connections stay the parent's: the
	 * child never polls them (it would steal the parent's frames) and
	 * never closes a connection on the wire. */
	stack_up = false;
	child = true;
	disown_all();
}

bool pl__forked_child(void)
{
	return child || gave_away;
}

/* The ticker blocks every signal: a signal sent to the process must reach
 * an application thread, whose wait it interrupts (a SIGTERM taken by the
 * ticker left an nginx worker asleep in poll() with its flag set). */
static void start_ticker(void)
{
	sigset_t all, old;
	pthread_t t;

	ticker_wanted = false;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, ticker, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Under the lock. */
int pl__stack_up(void)
{
	struct skiff_config cfg = {0};

	if (stack_up)
		return 0;
	if (child || gave_away) {
		pl__warn_once("childinit",
			      "skiff runs in another process of this family (fork: SKIFF_FORK) "
			      "and owns the interface: this process's new sockets stay on the "
			      "kernel");
		errno = EOPNOTSUPP;
		return -1;
	}
	if (stack_failed) {
		errno = ENETDOWN;
		return -1;
	}
	cfg.backend = SKIFF_BACKEND_XSK;
	cfg.ifname = pl__cfg.ifname;
	cfg.queue = pl__cfg.queue;
	cfg.xdp_mode = pl__cfg.xdp_mode;
	cfg.xdp_skb_mode = pl__cfg.xdp_skb;
	cfg.ipv4 = pl__cfg.ip4;
	cfg.ipv4_prefix = pl__cfg.prefix4;
	cfg.ipv4_gateway = pl__cfg.gw4;
	if (pl__cfg.has_ip6) {
		memcpy(cfg.ipv6, pl__cfg.ip6, sizeof(cfg.ipv6));
		cfg.ipv6_prefix = pl__cfg.prefix6;
		if (pl__cfg.has_gw6)
			memcpy(cfg.ipv6_gateway, pl__cfg.gw6, sizeof(cfg.ipv6_gateway));
	}
	if (skiff_init(&cfg)) {
		int e = errno;

		stack_failed = true;
		pl__warn_once("initfail", "skiff could not start on %s: %s (%s)", pl__cfg.ifname,
			      skiff_last_error(), strerror(e));
		errno = e;
		return -1;
	}
	stack_up = true;
	owner_pid = getpid();
	atexit(at_exit);
	if (pl__cfg.debug)
		fprintf(stderr, "skiff-preload[%d]: skiff up on %s queue %u (%s mode)\n",
			(int)getpid(), pl__cfg.ifname, pl__cfg.queue,
			skiff_xdp_zerocopy() ? "zero-copy" : "copy");
	if (pl__cfg.tick_ms > 0)
		start_ticker();
	return 0;
}

/* ---- the blocking wait ---------------------------------------------------- */

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Under the lock: this thread waits (for @p probe's @p events, or for any
 * work when @p probe is -1), on @p weight skiff sockets. The poller is the
 * waiter with the most: the thread that serves the connections (a worker's
 * epoll set, not the acceptor's) then takes their data off the ring
 * itself, without a hand-over. Returns whether it is the poller (or must
 * poll: no eventfd to be woken through, or no room on the list). */
static bool waiter_add(int probe, uint32_t events, unsigned weight)
{
	if (my_kick < 0)
		my_kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (my_kick < 0 || nwaiters == PL_MAX_WAITERS)
		return true;
	waiters[nwaiters++] = (struct pl_waiter){my_kick, probe, events, weight};
	if (poller < 0 || weight > poller_weight) {
		poller = my_kick;
		poller_weight = weight;
	}
	return poller == my_kick;
}

/* Under the lock: this thread is awake. When it @p leaves for the
 * application while it was the poller, another waiter takes over. */
static void waiter_del(bool leaves)
{
	for (unsigned i = 0; i < nwaiters; i++)
		if (waiters[i].kick == my_kick) {
			waiters[i] = waiters[--nwaiters];
			break;
		}
	if (my_kick < 0 || poller != my_kick)
		return;
	poller = -1;
	if (leaves && nwaiters) {
		unsigned best = 0;

		for (unsigned i = 1; i < nwaiters; i++)
			if (waiters[i].weight > waiters[best].weight)
				best = i;
		kick(waiters[best].kick);
	}
}

/* A signal the wait's mask lets through is pending (the loop blocks them
 * all while it drives the stack). */
static bool signal_pending(const sigset_t *wait_mask)
{
	sigset_t p;

	if (sigpending(&p))
		return false;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&p, sig) == 1 && sigismember(wait_mask, sig) != 1)
			return true;
	return false;
}

int pl__block(int (*check_skiff)(void *), int (*check_kernel)(void *), void *arg, int probe,
	      uint32_t probe_events, unsigned weight, struct pollfd *kfds, nfds_t nk,
	      int timeout_ms, const sigset_t *mask)
{
	long long start = now_us();
	long long deadline = timeout_ms < 0 ? -1 : start + (long long)timeout_ms * 1000;
	long long spin_end = start + pl__cfg.spin_us;
	struct pollfd small[16], *pfd = small;
	sigset_t all, saved;
	const sigset_t *wait_mask = mask;
	bool intr, polls, masked = false;
	int n, k, timer, wfd, r, e;

	if (nk + 2 > 16 && !(pfd = malloc((nk + 2) * sizeof(*pfd)))) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		pl__lock();
		if (ticker_wanted)
			start_ticker();
		drive();
		n = check_skiff(arg);
		timer = skiff_next_timer_ms();
		polls = waiter_add(probe, probe_events, weight);
		wfd = polls ? skiff_wait_fd() : -1;
		pl__unlock();
		k = check_kernel ? check_kernel(arg) : 0;
		if (n < 0 || k < 0) {
			n = -1;
			break;
		}
		n += k;
		if (n || timeout_ms == 0)
			break;
		long long now = now_us();
		if (deadline >= 0 && now >= deadline)
			break;
		/* About to wait: signals are held from here on, and the wait
		 * below lets them in atomically (ppoll()), so that one coming
		 * while this thread drives the stack, between its looks and
		 * its sleep, still ends the wait with EINTR, as it ends a
		 * kernel socket's. Unheld, it ran its handler there and the
		 * wait went on (a blocking read() of preload_policy's waited
		 * out its peer). First one more look with them held. */
		if (!masked) {
			sigfillset(&all);
			pthread_sigmask(SIG_BLOCK, &all, &saved);
			masked = true;
			if (!wait_mask)
				wait_mask = &saved;
			pl__lock();
			waiter_del(false);
			pl__unlock();
			continue;
		}
		if (now < spin_end) {
			pl__lock();
			waiter_del(false);
			pl__unlock();
			if (signal_pending(wait_mask)) {
				errno = EINTR;
				n = -1;
				goto out;
			}
			continue;
		}
		long long ms = deadline < 0 ? -1 : (deadline - now + 999) / 1000;
		if (timer >= 0 && (ms < 0 || timer < ms))
			ms = timer;
		memcpy(pfd, kfds, nk * sizeof(*pfd));
		nfds_t np = nk;
		if (wfd >= 0)
			pfd[np++] = (struct pollfd){.fd = wfd, .events = POLLIN};
		if (my_kick >= 0)
			pfd[np++] = (struct pollfd){.fd = my_kick, .events = POLLIN};
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

		r = pl__real.ppoll(pfd, np, ms < 0 ? NULL : &ts, wait_mask);
		/* Kept before the calls below (the empty eventfd's read sets
		 * EAGAIN): a signal must end the wait with EINTR, or a handler's
		 * flag (nginx's SIGTERM) is never looked at. */
		intr = r < 0 && errno == EINTR;
		pl__lock();
		waiter_del(intr);
		pl__unlock();
		if (my_kick >= 0) {
			uint64_t v;

			(void)!pl__real.read(my_kick, &v, sizeof(v));
		}
		if (intr) {
			errno = EINTR;
			n = -1;
			goto out;
		}
		/* Woken (or timed out): the next turn looks again; a timeout
		 * ends after that look. */
	}
	pl__lock();
	waiter_del(true);
	pl__unlock();
out:
	if (pfd != small)
		free(pfd);
	e = errno;
	if (masked)
		pthread_sigmask(SIG_SETMASK, &saved, NULL); /* a held signal's handler runs now */
	errno = e;
	return n;
}

struct wait_one {
	int sfd;
	uint32_t events;
};

static int check_one(void *arg)
{
	struct wait_one *w = arg;
	uint32_t ev = 0;

	if (skiff_sock_events(w->sfd, &ev))
		return -1;
	return (ev & (w->events | EPOLLERR | EPOLLHUP)) ? 1 : 0;
}

int pl__wait_sock(int sfd, uint32_t events, int timeo, long long *deadline)
{
	struct wait_one w = {sfd, events};
	int ms = -1, r;

	if (timeo && !*deadline) {
		/* The socket's SO_RCVTIMEO/SO_SNDTIMEO, for the whole call. */
		struct timeval tv = {0};
		socklen_t len = sizeof(tv);

		pl__lock();
		r = skiff_getsockopt(sfd, SOL_SOCKET, timeo, &tv, &len);
		pl__unlock();
		*deadline = r || (!tv.tv_sec && !tv.tv_usec)
				    ? -1
				    : now_us() + (long long)tv.tv_sec * 1000000 + tv.tv_usec;
	}
	if (timeo && *deadline > 0) {
		long long left = *deadline - now_us();

		ms = left <= 0 ? 0 : (int)((left + 999) / 1000);
	}
	r = pl__block(check_one, NULL, &w, sfd, events, 1, NULL, 0, ms, NULL);
	if (r == 0) {
		errno = EAGAIN; /* the timeout passed, as the kernel's call says it */
		return -1;
	}
	return r < 0 ? -1 : 0;
}

__attribute__((constructor)) static void pl_init(void)
{
	struct rlimit rl;

	pl__resolve();
	read_config();
	if (!pl__cfg.enabled)
		return;
	table_len = 1 << 20;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < (rlim_t)table_len)
		table_len = (int)rl.rlim_max;
	table = calloc((table_len + PL_PAGE - 1) / PL_PAGE, sizeof(*table));
	if (!table) {
		table_len = 0;
		pl__cfg.enabled = false;
		return;
	}
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
