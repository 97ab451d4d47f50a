/* Reading published counters (<skiff/stat.h>): the list of segments, a
 * reader's seqlock copy, the owner checks and the sweep of dead owners'
 * segments that the publisher shares (statseg.h), and the field table. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <skiff/stat.h>

#include "statseg.h"

/* How many times a read looks before giving up on a writer that is always
 * mid-update (it holds the seqlock for one memcpy of the counters). */
#define READ_TRIES 10000

struct skiff_stat_reader {
	const struct skiff_statseg *seg;
	size_t len;
	char path[256];
};

/* ---- the owner ------------------------------------------------------------- */

const char *skiff__statseg_dir(const char *dir)
{
	const char *env;

	if (dir && dir[0])
		return dir;
	env = getenv("SKIFF_STAT_DIR");
	return env && env[0] ? env : "/dev/shm";
}

pid_t skiff__statseg_pid_of(const char *name)
{
	const char *p = name + strlen(SKIFF_STATSEG_PREFIX);
	unsigned long pid;
	char *end;

	if (strncmp(name, SKIFF_STATSEG_PREFIX, strlen(SKIFF_STATSEG_PREFIX)) != 0 || *p < '1' ||
	    *p > '9')
		return 0;
	pid = strtoul(p, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9' || pid > INT32_MAX)
		return 0;
	for (end++; *end; end++)
		if (*end < '0' || *end > '9')
			return 0;
	return (pid_t)pid;
}

uint64_t skiff__statseg_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: count from the last ')'.
	 * starttime is field 22; the state after ')' is field 3. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

bool skiff__statseg_owner_alive(pid_t pid, uint64_t proc_start)
{
	uint64_t now;

	if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH))
		return false;
	/* The pid runs: the owner, unless a later process got its pid. */
	now = skiff__statseg_proc_start(pid);
	return !now || !proc_start || now == proc_start;
}

/* Maps the segment at @p path read-only; checks magic, version, size. */
static int map_segment(const char *path, const struct skiff_statseg **out, size_t *len)
{
	struct stat sb;
	void *m;
	int fd, e = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) != 0) {
		e = -errno;
		goto out_close;
	}
	if ((size_t)sb.st_size < offsetof(struct skiff_statseg, stats)) {
		e = -EPROTO;
		goto out_close;
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		e = -errno;
		goto out_close;
	}
	{
		const struct skiff_statseg *s = m;

		if (s->magic != SKIFF_STATSEG_MAGIC || s->version != SKIFF_STATSEG_VERSION ||
		    (uint64_t)s->stats_offset + s->stats_size > (uint64_t)sb.st_size) {
			munmap(m, (size_t)sb.st_size);
			e = -EPROTO;
			goto out_close;
		}
	}
	*out = m;
	*len = (size_t)sb.st_size;
out_close:
	close(fd);
	return e;
}

static bool seg_alive(const struct skiff_statseg *s)
{
	return skiff__statseg_owner_alive((pid_t)s->pid, s->proc_start);
}

unsigned skiff__statseg_sweep(const char *dir)
{
	char path[512];
	struct dirent *d;
	unsigned n = 0;
	DIR *dp;

	dir = skiff__statseg_dir(dir);
	dp = opendir(dir);
	if (!dp)
		return 0;
	while ((d = readdir(dp))) {
		const struct skiff_statseg *s;
		size_t len;
		bool dead;

		if (!skiff__statseg_pid_of(d->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (map_segment(path, &s, &len))
			continue; /* not ours to judge */
		dead = !seg_alive(s);
		munmap((void *)s, len);
		if (dead && unlink(path) == 0)
			n++;
	}
	closedir(dp);
	return n;
}

/* ---- reading ----------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The header's fields that never change, and the published ones as they
 * are now (@p published_ns, @p publishes and @p state from one seqlock
 * copy when the caller has one). */
static void fill_info(const struct skiff_statseg *s, const char *path,
		      struct skiff_stat_instance *in)
{
	uint64_t pub = __atomic_load_n(&s->published_mono_ns, __ATOMIC_RELAXED), now = mono_ns();

	memset(in, 0, sizeof(*in));
	in->pid = (pid_t)s->pid;
	memcpy(in->program, s->program, sizeof(in->program) - 1);
	in->backend = (enum skiff_backend)s->backend;
	memcpy(in->ifname, s->ifname, sizeof(in->ifname) - 1);
	in->queue = s->queue;
	in->ipv4 = s->ipv4;
	in->ipv4_prefix = s->ipv4_prefix;
	memcpy(in->ipv6, s->ipv6, 16);
	in->ipv6_prefix = s->ipv6_prefix;
	memcpy(in->mac, s->mac, 6);
	in->xdp_zerocopy = s->xdp_zerocopy;
	in->xdp_prog_id = s->xdp_prog_id;
	in->started_ns = s->started_ns;
	in->interval_ms = s->interval_ms;
	if (pub >= s->started_mono_ns)
		in->uptime_ms = (pub - s->started_mono_ns) / 1000000u;
	in->age_ms = now > pub ? (now - pub) / 1000000u : 0;
	in->publishes = __atomic_load_n(&s->publishes, __ATOMIC_RELAXED);
	in->stopped = __atomic_load_n(&s->state, __ATOMIC_RELAXED) == SKIFF_STATSEG_STOPPED;
	in->alive = seg_alive(s);
	snprintf(in->path, sizeof(in->path), "%s", path);
}

static int by_pid(const void *a, const void *b)
{
	const struct skiff_stat_instance *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int skiff_stat_list(const char *dir, struct skiff_stat_instance *out, int max, unsigned *dead)
{
	char path[512];
	struct dirent *d;
	unsigned ndead = 0;
	int n = 0;
	DIR *dp;

	dir = skiff__statseg_dir(dir);
	dp = opendir(dir);
	if (!dp)
		return -1;
	while ((d = readdir(dp))) {
		struct skiff_stat_instance in;
		const struct skiff_statseg *s;
		size_t len;

		if (!skiff__statseg_pid_of(d->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (map_segment(path, &s, &len))
			continue;
		fill_info(s, path, &in);
		munmap((void *)s, len);
		if (!in.alive) {
			ndead++;
			unlink(path);
			continue;
		}
		if (n < max)
			out[n] = in;
		n++;
	}
	closedir(dp);
	if (out && n)
		qsort(out, (size_t)(n < max ? n : max), sizeof(*out), by_pid);
	if (dead)
		*dead = ndead;
	return n;
}

/* DIR/skiff.<pid>.<n> with the lowest n, into @p path. */
static int find_segment(const char *dir, pid_t pid, char *path, size_t len)
{
	char best[256] = "";
	long best_n = -1;
	struct dirent *d;
	DIR *dp;

	dp = opendir(dir);
	if (!dp)
		return -errno;
	while ((d = readdir(dp))) {
		long n;

		if (skiff__statseg_pid_of(d->d_name) != pid)
			continue;
		n = strtol(strrchr(d->d_name, '.') + 1, NULL, 10);
		if (best_n < 0 || n < best_n) {
			best_n = n;
			snprintf(best, sizeof(best), "%s", d->d_name);
		}
	}
	closedir(dp);
	if (best_n < 0)
		return -ENOENT;
	snprintf(path, len, "%s/%s", dir, best);
	return 0;
}

int skiff_stat_open(struct skiff_stat_reader **out, const char *dir, pid_t pid)
{
	struct skiff_stat_reader *r;
	int e;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return -1;
	}
	e = find_segment(skiff__statseg_dir(dir), pid, r->path, sizeof(r->path));
	if (!e)
		e = map_segment(r->path, &r->seg, &r->len);
	if (!e && !seg_alive(r->seg)) {
		munmap((void *)r->seg, r->len);
		unlink(r->path);
		e = -ESRCH;
	}
	if (e) {
		free(r);
		errno = -e;
		return -1;
	}
	*out = r;
	return 0;
}

int skiff_stat_read(struct skiff_stat_reader *r, struct skiff_stats *stats,
		    struct skiff_stat_instance *info)
{
	const struct skiff_statseg *s = r->seg;
	const uint8_t *src = (const uint8_t *)s + s->stats_offset;
	size_t n = s->stats_size < sizeof(*stats) ? s->stats_size : sizeof(*stats);

	memset(stats, 0, sizeof(*stats));
	for (int i = 0; i < READ_TRIES; i++) {
		uint64_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), b;

		if (a & 1) {
			if (i > 100)
				sched_yield();
			continue;
		}
		memcpy(stats, src, n);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		b = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		if (a != b)
			continue;
		if (info)
			fill_info(s, r->path, info);
		/* Counters of a stopped instance are final, whatever became of
		 * it since; an owner gone without stopping died. */
		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != SKIFF_STATSEG_STOPPED &&
		    !seg_alive(s)) {
			unlink(r->path);
			errno = ESRCH;
			return -1;
		}
		return 0;
	}
	errno = EAGAIN;
	return -1;
}

void skiff_stat_close(struct skiff_stat_reader *r)
{
	if (!r)
		return;
	munmap((void *)r->seg, r->len);
	free(r);
}

/* ---- the fields ------------------------------------------------------------ */

#define F(field, grp, is_gauge)                                                                    \
	{                                                                                          \
		.name = #field, .group = grp, .offset = offsetof(struct skiff_stats, field),       \
		.size = sizeof(((struct skiff_stats *)0)->field), .gauge = is_gauge                \
	}

static const struct skiff_stat_field fields[] = {
	F(rx_frames, "link", false),
	F(rx_bytes, "link", false),
	F(tx_frames, "link", false),
	F(tx_bytes, "link", false),
	F(rx_drop_no_pkb, "drops", false),
	F(rx_drop_bad_frame, "drops", false),
	F(rx_drop_vlan, "drops", false),
	F(rx_drop_not_ours, "drops", false),
	F(rx_drop_meta, "drops", false),
	F(tx_drop_no_frame, "drops", false),
	F(tx_drop_ring_full, "drops", false),
	F(tx_drop_too_big, "drops", false),
	F(rx_copied_bytes, "copies", false),
	F(tx_copied_bytes, "copies", false),
	F(rx_recv_copied_bytes, "copies", false),
	F(tx_send_copied_bytes, "copies", false),
	F(tx_inplace, "copies", false),
	F(tx_send_inplace, "copies", false),
	F(tx_send_resend_copies, "copies", false),
	F(csum_reused, "copies", false),
	F(rx_orphaned_bytes, "copies", false),
	F(ip_rx_drop, "drops", false),
	F(ip_checksum_err, "tcp", false),
	F(ip6_rx_drop, "drops", false),
	F(icmp_rx, "tcp", false),
	F(icmp6_rx, "tcp", false),
	F(tcp_rx_drop, "drops", false),
	F(tcp_checksum_err, "tcp", false),
	F(tcp_retransmits, "tcp", false),
	F(tcp_ooseq, "tcp", false),
	F(tcp_rst_sent, "tcp", false),
	F(tcp_conn_refused, "tcp", false),
	F(udp_rx_drop, "drops", false),
	F(udp_checksum_err, "tcp", false),
	F(udp_rcvq_drop, "drops", false),
	F(arp_drop, "drops", false),
	F(nd6_drop, "drops", false),
	F(tcp_fast_recoveries, "tcp", false),
	F(tcp_timeouts, "tcp", false),
	F(tcp_rto_retransmits, "tcp", false),
	F(tcp_partial_acks, "tcp", false),
	F(tcp_sack_retransmits, "tcp", false),
	F(tcp_lost_retransmits, "tcp", false),
	F(tcp_rack_losses, "tcp", false),
	F(tcp_unsent_reordered, "tcp", false),
	F(tcp_tlp_sent, "tcp", false),
	F(tcp_tlp_recoveries, "tcp", false),
	F(tcp_dsacks_received, "tcp", false),
	F(tcp_spurious_undos, "tcp", false),
	F(tcp_late_originals, "tcp", false),
	F(tcp_dsacks_sent, "tcp", false),
	F(tcp_pure_acks, "tcp", false),
	F(tcp_acks_held, "tcp", false),
	F(tcp_acks_hold_expired, "tcp", false),
	F(tcp_acks_hold_longer, "tcp", false),
	F(tcp_cc_cubic_events, "tcp", false),
	F(tcp_cc_reno_events, "tcp", false),
	F(tcp_cc_rto_events, "tcp", false),
	F(tcp_cubic_fast_convergence, "tcp", false),
	F(tcp_cubic_reno_friendly, "tcp", false),
	F(tcp_hystart_css, "tcp", false),
	F(tcp_hystart_resumed, "tcp", false),
	F(tcp_hystart_exits, "tcp", false),
	F(tcp_accept_backlog_drop, "drops", false),
	F(secpath_drops, "drops", false),
	F(mptcp_fallbacks, "tcp", false),
	F(mptcp_dss_rx, "tcp", false),
	F(mptcp_dss_tx, "tcp", false),
	F(mptcp_dss_rx_aside, "tcp", false),
	F(mptcp_map_tx_ext, "tcp", false),
	F(mptcp_map_tx_aside, "tcp", false),
	F(mptcp_map_split, "tcp", false),
	F(mptcp_map_split_aside, "tcp", false),
	F(mptcp_bad_option, "tcp", false),
	F(mptcp_passive_established, "tcp", false),
	F(mptcp_declined, "tcp", false),
	F(mptcp_fallback_ack, "tcp", false),
	F(mptcp_map_mismatch, "tcp", false),
	F(mptcp_data_fin_rx, "tcp", false),
	F(mptcp_data_fin_tx, "tcp", false),
	F(mptcp_active_established, "tcp", false),
	F(mptcp_fallback_synack, "tcp", false),
	F(mptcp_dup_data_rx, "tcp", false),
	F(mptcp_join_rejected, "tcp", false),
	F(mptcp_unknown_subtype, "tcp", false),
	F(mptcp_csum_err, "tcp", false),
	F(mptcp_csum_fail_bytes, "tcp", false),
	F(mptcp_csum_fail_reset, "tcp", false),
	F(mptcp_mp_fail_tx, "tcp", false),
	F(mptcp_mp_fail_rx, "tcp", false),
	F(mptcp_infinite_map_tx, "tcp", false),
	F(mptcp_infinite_map_rx, "tcp", false),
	F(mptcp_join_established, "tcp", false),
	F(mptcp_join_bad_hmac, "tcp", false),
	F(mptcp_join_rx_bytes, "tcp", false),
	F(mptcp_ooo_bytes, "tcp", false),
	F(mptcp_ooo_drop, "tcp", false),
	F(mptcp_join_syn_tx, "tcp", false),
	F(mptcp_join_open_fail, "tcp", false),
	F(mptcp_add_addr_rx, "tcp", false),
	F(mptcp_add_addr_bad_hmac, "tcp", false),
	F(mptcp_add_addr_echo_tx, "tcp", false),
	F(mptcp_add_addr_echo_rx, "tcp", false),
	F(mptcp_rm_addr_rx, "tcp", false),
	F(mptcp_prio_rx, "tcp", false),
	F(mptcp_prio_tx, "tcp", false),
	F(mptcp_rm_addr_tx, "tcp", false),
	F(mptcp_join_from_port, "tcp", false),
	F(mptcp_join_not_opened, "tcp", false),
	F(mptcp_handover, "tcp", false),
	F(mptcp_handover_lost, "tcp", false),
	F(mptcp_main_fin_stale, "tcp", false),
	F(mptcp_main_fin_moved, "tcp", false),
	F(mptcp_data_ack_probes, "tcp", false),
	F(mptcp_fastclose_rx, "tcp", false),
	F(mptcp_fastclose_tx, "tcp", false),
	F(mptcp_rst_rx, "tcp", false),
	F(mptcp_rst_tx, "tcp", false),
	F(mptcp_join_tx_bytes, "tcp", false),
	F(mptcp_reinject_bytes, "tcp", false),
	F(mptcp_reinject_nomem, "tcp", false),
	F(mptcp_join_stale, "tcp", false),
	F(mptcp_add_addr_tx, "tcp", false),
	F(mptcp_main_stale, "tcp", false),
	F(mptcp_main_reinject_bytes, "tcp", false),
	F(mptcp_data_fin_join_tx, "tcp", false),
	F(mptcp_close_deferred, "tcp", false),
	F(mptcp_signal_not_taken, "hostile", false),
	F(ip_len_err, "hostile", false),
	F(tcp_len_err, "hostile", false),
	F(ip_frag_drop, "hostile", false),
	F(tcp_bad_options, "hostile", false),
	F(tcp_unknown_options, "hostile", false),
	F(tcp_rst_ignored, "hostile", false),
	F(tcp_challenge_acks, "hostile", false),
	F(tcp_challenge_acks_limited, "hostile", false),
	F(tcp_rx_out_of_window, "hostile", false),
	F(tcp_syn_rcvd_timeouts, "hostile", false),
	F(tcp_listen_overflows, "hostile", false),
	F(tcp_listen_overflow_rsts, "hostile", false),
	F(tcp_syncookies_sent, "hostile", false),
	F(tcp_syncookies_ok, "hostile", false),
	F(tcp_syncookies_failed, "hostile", false),
	F(tcp_connect_refused_limit, "hostile", false),
	F(tcp_time_wait_recycled, "hostile", false),
	F(tcp_time_wait_reopened, "tcp", false),
	F(tcp_pmtu_updates, "hostile", false),
	F(tcp_pmtu_ignored, "hostile", false),
	F(tcp_ooseq_budget_drops, "drops", false),
	F(tcp_ooseq_pressure_drops, "drops", false),
	F(rx_budget_orphaned_bytes, "copies", false),
	F(tcp_timer_missed_arms, "hostile", false),
	F(arp_spoof_drop, "hostile", false),
	F(nd6_spoof_drop, "hostile", false),
	F(zc_sends, "zerocopy", false),
	F(zc_ids_completed, "zerocopy", false),
	F(zc_sends_copied, "zerocopy", false),
	F(zc_sends_aborted, "zerocopy", false),
	F(zc_loans_live, "zerocopy", true),
	F(frames_total, "frames", true),
	F(frames_free, "frames", true),
	F(frames_fill, "frames", true),
	F(frames_held, "frames", true),
	F(frames_tx, "frames", true),
	F(frames_loaned, "frames", true),
	F(ooseq_frames, "frames", true),
	F(rx_queued_frames, "frames", true),
	F(rx_queued_frames_conn_peak, "frames", true),
	F(ext_areas_live, "frames", true),
	F(xdp_rx_dropped, "xdp", false),
	F(xdp_rx_invalid, "xdp", false),
	F(xdp_tx_invalid, "xdp", false),
	F(xdp_rx_ring_full, "xdp", false),
	F(xdp_fill_ring_empty, "xdp", false),
	F(xdp_tx_ring_empty, "xdp", false),
	F(xdp_passed_not_ours, "xdp", false),
	F(tcp_connections, "tables", true),
	F(tcp_time_wait, "tables", true),
	F(tcp_half_open, "tables", true),
	F(tcp_timers_armed, "tables", true),
	F(lwip_pcbs_used, "lwip", true),
	F(lwip_udp_pcbs_used, "lwip", true),
	F(lwip_segs_used, "lwip", true),
	F(lwip_pbufs_used, "lwip", true),
	F(lwip_reass_used, "lwip", true),
	F(lwip_heap_used, "lwip", true),
	F(lwip_pool_errors, "lwip", false),
};

const struct skiff_stat_field *skiff_stat_fields(unsigned *n)
{
	*n = sizeof(fields) / sizeof(fields[0]);
	return fields;
}
