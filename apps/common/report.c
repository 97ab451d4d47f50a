/* Banner, periodic counters and totals (report.h). */
#define _GNU_SOURCE
#include "report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>

double report_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1234567 -> "1.23M": rates and counts at a glance. */
static const char *human(double v, char *buf, size_t len)
{
	static const char *const units[] = {"", "k", "M", "G", "T"};
	unsigned u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}

static const char *mode_name(enum skiff_xdp_mode m)
{
	switch (m) {
	case SKIFF_XDP_ZEROCOPY:
		return "zero-copy (forced, -z)";
	case SKIFF_XDP_COPY:
		return "copy (forced, -c)";
	default:
		return "auto";
	}
}

void report_banner(FILE *f, const struct app_opts *o, const char *backend_line)
{
	struct skiff_build_info bi;
	char a4[64], a6[80];

	skiff_get_build_info(&bi);
	fprintf(f, "%s: skiff %s, lwIP %s, MSS %u, window %u KiB%s\n", o->prog, bi.skiff_version,
		bi.lwip_version, bi.tcp_mss, bi.tcp_wnd / 1024,
		bi.frame_tracking ? ", frame tracking on (debug build)" : "");
	if (backend_line) {
		fprintf(f, "  backend    %s\n", backend_line);
	} else {
		fprintf(f, "  interface  %s queue %u, XDP %s mode%s, program id %u\n", o->ifname,
			o->queue, skiff_xdp_zerocopy() ? "zero-copy" : "copy",
			o->xdp_skb ? ", generic (skb) attach" : "", skiff_xdp_prog_id());
		fprintf(f, "  asked for  %s%s\n", mode_name(o->xdp_mode),
			o->busy_poll ? ", busy-poll" : "");
	}
	fprintf(f, "  address    %s  %s\n", app_ip4_str(o, a4, sizeof(a4)),
		app_ip6_str(o, a6, sizeof(a6)));
	if (o->have_gw4 || o->have_gw6) {
		char g[INET6_ADDRSTRLEN];

		fprintf(f, "  gateway    %s\n",
			o->have_gw4 ? inet_ntop(AF_INET, &o->gw4, g, sizeof(g))
				    : inet_ntop(AF_INET6, o->gw6, g, sizeof(g)));
	}
	if (o->kind == APP_PROXY)
		fprintf(f, "  listening  port %u, proxying to %s%s\n", o->port, o->upstream_str,
			o->mptcp ? " (MPTCP both sides)" : "");
	else
		fprintf(f, "  listening  port %u (TCP echo%s)\n", o->port,
			o->mptcp ? ", MPTCP" : "");
	if (o->pcap_path)
		fprintf(f, "  capture    %s (pcap, every frame received and sent)\n", o->pcap_path);
	fprintf(f, "  counters   %s\n",
		o->stats_s ? "every interval below, totals at exit" : "totals at exit");
	fflush(f);
}

void report_start(struct report *r, FILE *f, const struct app_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->interval_s = o->stats_s;
	r->kind = o->kind;
	r->mptcp = o->mptcp;
	r->t0 = r->last_t = report_now();
	skiff_get_stats(&r->last);
}

static uint64_t drops(const struct skiff_stats *s)
{
	return s->rx_drop_no_pkb + s->rx_drop_bad_frame + s->rx_drop_vlan + s->rx_drop_meta +
	       s->tx_drop_no_frame + s->tx_drop_ring_full + s->tx_drop_too_big + s->ip_rx_drop +
	       s->ip6_rx_drop + s->tcp_rx_drop + s->udp_rx_drop + s->arp_drop + s->nd6_drop +
	       s->tcp_accept_backlog_drop;
}

static uint64_t xdp_drops(const struct skiff_stats *s)
{
	return s->xdp_rx_dropped + s->xdp_rx_invalid + s->xdp_tx_invalid + s->xdp_rx_ring_full;
}

void report_tick(struct report *r, const struct app_counters *c)
{
	struct skiff_stats s;
	char a[16], d[16], g[16];
	double now = report_now(), dt;

	if (!r->interval_s || now - r->last_t < r->interval_s)
		return;
	dt = now - r->last_t;
	skiff_get_stats(&s);
	fprintf(r->f,
		"[%6.1fs] conns %u open %llu total | %s req/s | rx %.3f Gbit/s %s pps | tx %.3f "
		"Gbit/s %s pps | drops %llu | xdp drops %llu fill-empty %llu | retrans %llu\n",
		now - r->t0, c->conns_open, (unsigned long long)c->conns_total,
		human((double)(c->requests - r->last_c.requests) / dt, a, sizeof(a)),
		(double)(s.rx_bytes - r->last.rx_bytes) * 8 / dt / 1e9,
		human((double)(s.rx_frames - r->last.rx_frames) / dt, d, sizeof(d)),
		(double)(s.tx_bytes - r->last.tx_bytes) * 8 / dt / 1e9,
		human((double)(s.tx_frames - r->last.tx_frames) / dt, g, sizeof(g)),
		(unsigned long long)(drops(&s) - drops(&r->last)),
		(unsigned long long)(xdp_drops(&s) - xdp_drops(&r->last)),
		(unsigned long long)(s.xdp_fill_ring_empty - r->last.xdp_fill_ring_empty),
		(unsigned long long)(s.tcp_retransmits - r->last.tcp_retransmits));
	fflush(r->f);
	r->last = s;
	r->last_c = *c;
	r->last_t = now;
}

void report_totals(struct report *r, const struct app_counters *c)
{
	struct skiff_stats s;
	double secs = report_now() - r->t0;
	char a[16], b[16];

	if (secs <= 0)
		secs = 1e-9;
	skiff_get_stats(&s);
	fprintf(r->f, "totals after %.1f s:\n", secs);
	fprintf(r->f, "  connections %llu accepted, %u open", (unsigned long long)c->conns_total,
		c->conns_open);
	if (c->upstream_total || c->upstream_failed)
		fprintf(r->f, "; upstream %llu opened, %llu failed",
			(unsigned long long)c->upstream_total,
			(unsigned long long)c->upstream_failed);
	fprintf(r->f, "\n  requests    %llu receives, %sB %s\n", (unsigned long long)c->requests,
		human((double)c->bytes, a, sizeof(a)), c->upstream_total ? "forwarded" : "echoed");
	if (r->mptcp)
		fprintf(r->f,
			"  mptcp       %llu accepted as MPTCP, %llu opened upstream as MPTCP; fell "
			"back: %llu declined, %llu SYN-ACK, %llu third ACK; %llu MP_CAPABLE SYNs "
			"to a TCP listener\n",
			(unsigned long long)s.mptcp_passive_established,
			(unsigned long long)s.mptcp_active_established,
			(unsigned long long)s.mptcp_declined,
			(unsigned long long)s.mptcp_fallback_synack,
			(unsigned long long)s.mptcp_fallback_ack,
			(unsigned long long)s.mptcp_fallbacks);
	fprintf(r->f,
		"  zero-copy   %llu loans (%llu sent on in their frames), %llu sends (%llu "
		"completed, %llu aborted); fell back: %llu recv, %llu send; the app copied %sB\n",
		(unsigned long long)c->loans, (unsigned long long)c->loans_sent,
		(unsigned long long)c->zc_sends, (unsigned long long)c->zc_done,
		(unsigned long long)c->zc_aborted, (unsigned long long)c->recv_copied,
		(unsigned long long)c->send_copied,
		human((double)c->app_copied_bytes, a, sizeof(a)));
	fprintf(r->f, "  link        rx %llu frames %sB, tx %llu frames %sB (%.3f / %.3f Gbit/s)\n",
		(unsigned long long)s.rx_frames, human((double)s.rx_bytes, a, sizeof(a)),
		(unsigned long long)s.tx_frames, human((double)s.tx_bytes, b, sizeof(b)),
		(double)s.rx_bytes * 8 / secs / 1e9, (double)s.tx_bytes * 8 / secs / 1e9);
	fprintf(r->f,
		"  copies      stack rx %sB (zero-copy receive), tx %sB (zero-copy send), %llu "
		"segments sent in place\n",
		human((double)s.rx_copied_bytes, a, sizeof(a)),
		human((double)s.tx_copied_bytes, b, sizeof(b)), (unsigned long long)s.tx_inplace);
	fprintf(r->f,
		"  drops       rx: no-pkb %llu bad-frame %llu vlan %llu not-ours %llu; tx: no-frame "
		"%llu ring-full %llu too-big %llu; ip %llu ip6 %llu tcp %llu backlog %llu\n",
		(unsigned long long)s.rx_drop_no_pkb, (unsigned long long)s.rx_drop_bad_frame,
		(unsigned long long)s.rx_drop_vlan, (unsigned long long)s.rx_drop_not_ours,
		(unsigned long long)s.tx_drop_no_frame, (unsigned long long)s.tx_drop_ring_full,
		(unsigned long long)s.tx_drop_too_big, (unsigned long long)s.ip_rx_drop,
		(unsigned long long)s.ip6_rx_drop, (unsigned long long)s.tcp_rx_drop,
		(unsigned long long)s.tcp_accept_backlog_drop);
	fprintf(r->f,
		"  tcp         retransmits %llu, out-of-order %llu, resets sent %llu, refused %llu, "
		"checksum errors %llu\n",
		(unsigned long long)s.tcp_retransmits, (unsigned long long)s.tcp_ooseq,
		(unsigned long long)s.tcp_rst_sent, (unsigned long long)s.tcp_conn_refused,
		(unsigned long long)(s.tcp_checksum_err + s.ip_checksum_err));
	fprintf(r->f,
		"  recovery    %llu timeouts, %llu recoveries (%llu congestion events: cubic %llu, "
		"reno %llu; %llu undone), %llu RACK losses, %llu tail loss probes (%llu repaired a "
		"loss), %llu D-SACKs received, %llu sent, %llu late originals\n",
		(unsigned long long)s.tcp_timeouts, (unsigned long long)s.tcp_fast_recoveries,
		(unsigned long long)(s.tcp_cc_cubic_events + s.tcp_cc_reno_events),
		(unsigned long long)s.tcp_cc_cubic_events, (unsigned long long)s.tcp_cc_reno_events,
		(unsigned long long)s.tcp_spurious_undos, (unsigned long long)s.tcp_rack_losses,
		(unsigned long long)s.tcp_tlp_sent, (unsigned long long)s.tcp_tlp_recoveries,
		(unsigned long long)s.tcp_dsacks_received, (unsigned long long)s.tcp_dsacks_sent,
		(unsigned long long)s.tcp_late_originals);
	fprintf(r->f,
		"  xdp         rx-dropped %llu rx-invalid %llu tx-invalid %llu rx-ring-full %llu "
		"fill-ring-empty %llu tx-ring-empty %llu\n",
		(unsigned long long)s.xdp_rx_dropped, (unsigned long long)s.xdp_rx_invalid,
		(unsigned long long)s.xdp_tx_invalid, (unsigned long long)s.xdp_rx_ring_full,
		(unsigned long long)s.xdp_fill_ring_empty, (unsigned long long)s.xdp_tx_ring_empty);
	fprintf(r->f, "  frames      %u total: %u free, %u fill, %u held, %u tx, %u loaned\n",
		s.frames_total, s.frames_free, s.frames_fill, s.frames_held, s.frames_tx,
		s.frames_loaned);
	fflush(r->f);
}

void report_stopped(struct report *r, double secs, int bound_ms, int rc)
{
	struct skiff_stats s;
	unsigned out;

	skiff_get_stats(&s);
	out = s.frames_held + s.frames_tx + s.frames_loaned;
	fprintf(r->f, "  stopped     in %.0f ms (drain bound %d ms%s): ", secs * 1e3, bound_ms,
		rc == -ETIMEDOUT ? ", reached" : "");
	if (!out)
		fprintf(r->f, "frames all returned (%u free, %u fill)\n", s.frames_free,
			s.frames_fill);
	else
		fprintf(r->f, "%u frames still out: %u held, %u tx, %u loaned\n", out,
			s.frames_held, s.frames_tx, s.frames_loaned);
	fflush(r->f);
}

void report_load(FILE *f, const char *what, const struct lg_result *r)
{
	double secs = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;
	char a[32], b[32];

	fprintf(f, "%s: %llu of %llu requests in %.2f s over %u connections\n", what,
		(unsigned long long)r->requests_done, (unsigned long long)r->requests_planned,
		r->elapsed_s, r->conns);
	fprintf(f, "  requests/s  %s\n", human((double)r->requests_done / secs, a, sizeof(a)));
	fprintf(f, "  latency     p50 %.1f us   p99 %.1f us   mean %.1f us   max %.1f us\n",
		r->lat_p50_us, r->lat_p99_us, r->lat_mean_us, r->lat_max_us);
	fprintf(f, "  throughput  %.3f Gbit/s each way (%sB sent, %sB echoed and verified)\n",
		(double)r->bytes_verified * 8 / secs / 1e9,
		human((double)r->bytes_sent, a, sizeof(a)),
		human((double)r->bytes_verified, b, sizeof(b)));
	if (r->first_error[0])
		fprintf(f, "  first error %s\n", r->first_error);
	if (lg_passed(r))
		fprintf(f, "verdict: PASS %u connections x %llu requests, %llu bad bytes\n",
			r->conns,
			(unsigned long long)(r->conns ? r->requests_planned / r->conns : 0),
			(unsigned long long)r->bad_bytes);
	else
		fprintf(f,
			"verdict: FAIL %llu of %llu requests answered, %u of %u connections failed, "
			"%llu bad bytes%s%s\n",
			(unsigned long long)r->requests_done,
			(unsigned long long)r->requests_planned, r->conns_failed, r->conns,
			(unsigned long long)r->bad_bytes, r->stalled ? ", stalled" : "",
			r->interrupted ? ", interrupted" : "");
}
