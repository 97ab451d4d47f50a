/* Published counters: the writer's side of the segment statseg.h
 * describes. Every interval the poll loop (loop.c) hands over the clock;
 * the counters are gathered (no frame walk) into a local copy, then copied
 * into the segment inside the seqlock, so a reader retries only across one
 * memcpy. Nothing here runs per packet, and the only ordered stores are
 * the two of the sequence number per publication. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "instance.h"
#include "statpub.h"
#include "statseg.h"

struct skiff_statpub {
	struct skiff_statseg *seg;
	pid_t pid; /* a child forked after skiff_init() must not write */
	uint64_t interval_ns, next_ns;
	char path[512];
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* $SKIFF_STAT set to 0, off or no turns publishing off. */
static bool env_off(void)
{
	const char *e = getenv("SKIFF_STAT");

	return e && (!strcmp(e, "0") || !strcasecmp(e, "off") || !strcasecmp(e, "no"));
}

static uint32_t interval_ms(const struct skiff_config *c)
{
	const char *e = getenv("SKIFF_STAT_MS");
	unsigned long v;

	if (c->stat_interval_ms)
		return c->stat_interval_ms;
	if (e && (v = strtoul(e, NULL, 10)) > 0 && v <= 3600000)
		return (uint32_t)v;
	return SKIFF_STAT_INTERVAL_MS_DEFAULT;
}

static void publish(struct skiff_statpub *p, uint64_t now_ns, uint32_t state)
{
	struct skiff_statseg *s = p->seg;
	struct skiff_stats snap;
	uint64_t seq;

	if (getpid() != p->pid)
		return;
	skiff__stats_gather(&snap, false);
	seq = s->seq;
	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->stats = snap;
	s->published_mono_ns = now_ns;
	s->publishes++;
	s->state = state;
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
	p->next_ns = now_ns + p->interval_ns;
}

/* The header: who, where, since when. */
static void describe(struct skiff_statseg *s, pid_t pid)
{
	const struct skiff_stack *st = &skiff__s;
	const struct skiff_config *c = &st->cfg;
	char comm[64] = {0};
	FILE *f = fopen("/proc/self/comm", "re");

	s->magic = SKIFF_STATSEG_MAGIC;
	s->version = SKIFF_STATSEG_VERSION;
	s->stats_offset = (uint32_t)offsetof(struct skiff_statseg, stats);
	s->stats_size = (uint32_t)sizeof(struct skiff_stats);
	s->pid = (uint32_t)pid;
	s->proc_start = skiff__statseg_proc_start(pid);
	s->started_ns = clock_ns(CLOCK_REALTIME);
	s->started_mono_ns = clock_ns(CLOCK_MONOTONIC);
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	memcpy(s->program, comm, sizeof(s->program) - 1); /* comm is at most 15 */
	s->backend = (uint32_t)c->backend;
	if (c->backend == SKIFF_BACKEND_XSK) {
		snprintf(s->ifname, sizeof(s->ifname), "%s", c->ifname);
		s->queue = c->queue;
		s->xdp_zerocopy = skiff_xdp_zerocopy();
		s->xdp_prog_id = skiff_xdp_prog_id();
	} else {
		s->queue = c->memlink_end;
	}
	s->ipv4 = c->ipv4;
	s->ipv4_prefix = c->ipv4 ? c->ipv4_prefix : 0;
	memcpy(s->ipv6, c->ipv6, 16);
	s->ipv6_prefix = memcmp(c->ipv6, (uint8_t[16]){0}, 16) ? c->ipv6_prefix : 0;
	memcpy(s->mac, st->link[0].mac, 6);
	s->interval_ms = interval_ms(c);
}

void skiff__statpub_open(void)
{
	struct skiff_stack *st = &skiff__s;
	const char *dir = skiff__statseg_dir(st->cfg.stat_dir);
	struct skiff_statpub *p;
	char tmp[600];
	void *m;
	int fd;

	if (st->cfg.no_stat_publish || env_off())
		return;
	skiff__statseg_sweep(dir);
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_fail;
	p->pid = getpid();
	snprintf(p->path, sizeof(p->path), "%s/" SKIFF_STATSEG_PREFIX "%d.0", dir, (int)p->pid);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.0.new", dir, SKIFF_STATSEG_PREFIX, (int)p->pid);
	unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out_free;
	if (fchmod(fd, 0644) != 0 || ftruncate(fd, sizeof(struct skiff_statseg)) != 0)
		goto out_unlink;
	m = mmap(NULL, sizeof(struct skiff_statseg), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto out_unlink;
	p->seg = m;
	describe(p->seg, p->pid);
	p->interval_ns = (uint64_t)p->seg->interval_ms * 1000000u;
	publish(p, clock_ns(CLOCK_MONOTONIC), SKIFF_STATSEG_RUNNING);
	/* Named only once whole: a reader never sees half a header. A stale
	 * segment of an earlier process with our pid goes. */
	if (rename(tmp, p->path) != 0)
		goto out_unmap;
	close(fd);
	st->pub = p;
	st->observing = true;
	return;

out_unmap:
	munmap(p->seg, sizeof(struct skiff_statseg));
out_unlink:
	unlink(tmp);
	close(fd);
out_free:
	free(p);
out_fail:
	fprintf(stderr, "skiff: counters not published in %s: %s\n", dir, strerror(errno));
}

void skiff__statpub_tick(uint64_t now_ns)
{
	struct skiff_statpub *p = skiff__s.pub;

	if (now_ns >= p->next_ns)
		publish(p, now_ns, SKIFF_STATSEG_RUNNING);
}

void skiff__statpub_stopped(void)
{
	struct skiff_statpub *p = skiff__s.pub;

	if (p)
		publish(p, clock_ns(CLOCK_MONOTONIC), SKIFF_STATSEG_STOPPED);
}

void skiff__statpub_close(void)
{
	struct skiff_statpub *p = skiff__s.pub;

	if (!p)
		return;
	if (getpid() == p->pid)
		unlink(p->path);
	munmap(p->seg, sizeof(struct skiff_statseg));
	free(p);
	skiff__s.pub = NULL;
	skiff__s.observing = skiff__s.pcap != NULL;
}
