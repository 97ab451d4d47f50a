/* skiff-stat: watch running skiff instances from outside. Lists the
 * instances publishing their counters (<skiff/stat.h>), or attaches to one
 * by pid or name and prints, every interval, rates and totals grouped as
 * the demos' totals are (link, TCP, zero-copy, drops with their reasons,
 * frames by state), or one JSON object per interval.
 *
 * Exit codes: 0 fine, 1 no such instance / its owner died / a read failed,
 * 2 bad use. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <skiff/stat.h>

#define EXIT_FAIL  1
#define EXIT_USAGE 2
#define MAX_LIST   256

struct opts {
	const char *prog;
	const char *dir;
	const char *target; /* pid or name; NULL: list */
	double interval_s;
	long count; /* reports; 0: until stopped */
	bool json, all;
};

struct sample {
	struct skiff_stats s;
	struct skiff_stat_instance in;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

__attribute__((noreturn, format(printf, 2, 3))) static void usage_error(const struct opts *o,
									const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", o->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", o->prog);
	exit(EXIT_USAGE);
}

static void usage(const char *prog)
{
	printf("Usage: %s [OPTIONS] [PID|NAME]\n"
	       "Watch running skiff instances (skiff-echo, skiff-proxy, any program linked with\n"
	       "skiff) through the counters each one publishes in shared memory.\n\n"
	       "Without PID|NAME it lists the running instances: pid, program, interface and\n"
	       "queue (or memlink end), address, uptime, state. With one (a pid, or a program\n"
	       "or interface name that names exactly one instance) it prints every interval the\n"
	       "rates and totals: link, TCP, zero-copy, drops with their reasons, frames by\n"
	       "state.\n\n"
	       "  -i, --interval SECONDS  between reports (default 1; fractions allowed)\n"
	       "  -n, --count N           stop after N reports\n"
	       "      --once              one report: two samples an interval apart, then exit\n"
	       "  -j, --json              one JSON object per report (per instance with the list)\n"
	       "  -a, --all               every counter, not only the grouped summary\n"
	       "      --dir DIR           where instances publish (default $SKIFF_STAT_DIR, else\n"
	       "                          /dev/shm)\n"
	       "  -h, --help              this text\n\n"
	       "Segments left by instances that died are reported and removed.\n"
	       "Exit status: 0 fine, 1 no such instance or its owner died, 2 bad use.\n",
	       prog);
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"interval", required_argument, NULL, 'i'},
		{"count", required_argument, NULL, 'n'},
		{"once", no_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"all", no_argument, NULL, 'a'},
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = strrchr(argv[0], '/');
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->prog = base ? base + 1 : argv[0];
	o->interval_s = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:n:jah", lo, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->interval_s = strtod(optarg, &end);
			if (end == optarg || *end || !(o->interval_s >= 0.01) ||
			    o->interval_s > 86400)
				usage_error(
					o, "-i: '%s' is not a number of seconds from 0.01 to 86400",
					optarg);
			break;
		case 'n':
			o->count = strtol(optarg, &end, 10);
			if (end == optarg || *end || o->count < 1)
				usage_error(o, "-n: '%s' is not a count of 1 or more", optarg);
			break;
		case 'o':
			o->count = 1;
			break;
		case 'j':
			o->json = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'h':
			usage(o->prog);
			exit(0);
		case ':':
			usage_error(o, "option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < 128)
				usage_error(o, "unknown option '-%c'", optopt);
			usage_error(o, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->target = argv[optind++];
	if (optind < argc)
		usage_error(o, "unexpected argument '%s'", argv[optind]);
}

/* ---- formatting ---------------------------------------------------------- */

static const char *human(double v, char *buf, size_t len)
{
	static const char *const units[] = {"", "k", "M", "G", "T", "P"};
	unsigned u = 0;

	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
	return buf;
}

static const char *where(const struct skiff_stat_instance *in, char *buf, size_t len)
{
	if (in->backend == SKIFF_BACKEND_MEMLINK)
		snprintf(buf, len, "memlink end %u", in->queue);
	else
		snprintf(buf, len, "%s queue %u", in->ifname, in->queue);
	return buf;
}

static const char *address(const struct skiff_stat_instance *in, char *buf, size_t len)
{
	char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
	static const uint8_t zero[16];

	if (in->ipv4)
		inet_ntop(AF_INET, &in->ipv4, a4, sizeof(a4));
	if (memcmp(in->ipv6, zero, 16))
		inet_ntop(AF_INET6, in->ipv6, a6, sizeof(a6));
	if (a4[0] && a6[0])
		snprintf(buf, len, "%s/%u %s/%u", a4, in->ipv4_prefix, a6, in->ipv6_prefix);
	else if (a4[0])
		snprintf(buf, len, "%s/%u", a4, in->ipv4_prefix);
	else if (a6[0])
		snprintf(buf, len, "%s/%u", a6, in->ipv6_prefix);
	else
		snprintf(buf, len, "-");
	return buf;
}

static const char *uptime(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else if (s < 3600)
		snprintf(buf, len, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
	else
		snprintf(buf, len, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
	return buf;
}

static const char *state(const struct skiff_stat_instance *in)
{
	return in->stopped ? "stopped" : !in->alive ? "dead" : "running";
}

/* A JSON string: the names are the kernel's comm and interface names, but
 * quote them properly all the same. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_instance(const struct skiff_stat_instance *in)
{
	char a[128];

	printf("\"pid\":%d,\"program\":", (int)in->pid);
	json_str(in->program);
	printf(",\"backend\":\"%s\",\"interface\":",
	       in->backend == SKIFF_BACKEND_MEMLINK ? "memlink" : "xsk");
	json_str(in->ifname);
	printf(",\"queue\":%u,\"address\":", in->queue);
	json_str(address(in, a, sizeof(a)));
	printf(",\"xdp_mode\":\"%s\",\"xdp_prog_id\":%u,\"started_ns\":%llu,\"uptime_s\":%.3f,"
	       "\"age_ms\":%llu,\"publish_interval_ms\":%u,\"state\":\"%s\"",
	       in->backend == SKIFF_BACKEND_MEMLINK ? "none"
	       : in->xdp_zerocopy		    ? "zero-copy"
						    : "copy",
	       in->xdp_prog_id, (unsigned long long)in->started_ns, (double)in->uptime_ms / 1000,
	       (unsigned long long)in->age_ms, in->interval_ms, state(in));
}

/* ---- the list -------------------------------------------------------------- */

static int list(const struct opts *o)
{
	static struct skiff_stat_instance in[MAX_LIST];
	unsigned dead = 0;
	char w[64], a[128], u[32];
	int n = skiff_stat_list(o->dir, in, MAX_LIST, &dead);

	if (n < 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", o->prog,
			o->dir			   ? o->dir
			: getenv("SKIFF_STAT_DIR") ? getenv("SKIFF_STAT_DIR")
						   : "/dev/shm",
			strerror(errno));
		return EXIT_FAIL;
	}
	if (dead)
		fprintf(stderr, "%s: removed %u segment%s of instance%s that died\n", o->prog, dead,
			dead == 1 ? "" : "s", dead == 1 ? "" : "s");
	if (n > MAX_LIST)
		n = MAX_LIST;
	if (o->json) {
		for (int i = 0; i < n; i++) {
			putchar('{');
			json_instance(&in[i]);
			printf("}\n");
		}
		return 0;
	}
	if (!n) {
		printf("no skiff instance running\n");
		return 0;
	}
	printf("%-8s %-15s %-22s %-32s %9s  %s\n", "PID", "PROGRAM", "INTERFACE", "ADDRESS",
	       "UPTIME", "STATE");
	for (int i = 0; i < n; i++)
		printf("%-8d %-15s %-22s %-32s %9s  %s\n", (int)in[i].pid, in[i].program,
		       where(&in[i], w, sizeof(w)), address(&in[i], a, sizeof(a)),
		       uptime(in[i].uptime_ms, u, sizeof(u)), state(&in[i]));
	return 0;
}

/* The pid @p target names: a number, or the one instance whose program or
 * interface it is. 0 after saying why not. */
static pid_t resolve(const struct opts *o)
{
	static struct skiff_stat_instance in[MAX_LIST];
	pid_t found[MAX_LIST];
	char *end;
	long v = strtol(o->target, &end, 10);
	int n, k = 0;

	if (end != o->target && !*end && v > 0)
		return (pid_t)v;
	n = skiff_stat_list(o->dir, in, MAX_LIST, NULL);
	for (int i = 0; i < n && i < MAX_LIST; i++)
		if (!strcmp(in[i].program, o->target) || !strcmp(in[i].ifname, o->target))
			found[k++] = in[i].pid;
	if (k == 1)
		return found[0];
	if (!k) {
		fprintf(stderr, "%s: no skiff instance named '%s' (run %s to list them)\n", o->prog,
			o->target, o->prog);
		return 0;
	}
	fprintf(stderr, "%s: '%s' names %d instances, pids", o->prog, o->target, k);
	for (int i = 0; i < k; i++)
		fprintf(stderr, "%s %d", i ? "," : "", (int)found[i]);
	fprintf(stderr, ": give a pid\n");
	return 0;
}

/* ---- reports ---------------------------------------------------------------- */

static uint64_t drops_total(const struct skiff_stats *s)
{
	unsigned n;
	const struct skiff_stat_field *f = skiff_stat_fields(&n);
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(f[i].group, "drops"))
			t += skiff_stat_value(s, &f[i]);
	return t;
}

/* Each non-zero counter of @p group as "name total (+delta)". */
static void group_line(const char *label, const char *group, const struct sample *a,
		       const struct sample *b)
{
	unsigned n, shown = 0;
	const struct skiff_stat_field *f = skiff_stat_fields(&n);

	if (label)
		printf("  %-11s", label);
	for (unsigned i = 0; i < n; i++) {
		uint64_t v, d;

		if (strcmp(f[i].group, group))
			continue;
		v = skiff_stat_value(&b->s, &f[i]);
		d = v - skiff_stat_value(&a->s, &f[i]);
		if (!v)
			continue;
		if (f[i].gauge || !d)
			printf("%s %s %llu", shown ? "," : "", f[i].name, (unsigned long long)v);
		else
			printf("%s %s %llu (+%llu)", shown ? "," : "", f[i].name,
			       (unsigned long long)v, (unsigned long long)d);
		shown++;
	}
	printf("%s\n", shown ? "" : " none");
}

static void human_report(const struct opts *o, const struct sample *a, const struct sample *b,
			 double dt)
{
	const struct skiff_stats *s = &b->s, *p = &a->s;
	char w[64], ad[128], u[32], x[16], y[16], z[16], q[16];
	double r = dt > 0 ? 1 / dt : 0;

	printf("%s pid %d  %s  %s  up %s  %s  (rates over %.2f s)\n", b->in.program, (int)b->in.pid,
	       where(&b->in, w, sizeof(w)), address(&b->in, ad, sizeof(ad)),
	       uptime(b->in.uptime_ms, u, sizeof(u)), state(&b->in), dt);
	printf("  link        rx %s pps %.3f Gbit/s, tx %s pps %.3f Gbit/s | totals rx %llu frames "
	       "%sB, tx %llu frames %sB\n",
	       human((double)(s->rx_frames - p->rx_frames) * r, x, sizeof(x)),
	       (double)(s->rx_bytes - p->rx_bytes) * 8 * r / 1e9,
	       human((double)(s->tx_frames - p->tx_frames) * r, y, sizeof(y)),
	       (double)(s->tx_bytes - p->tx_bytes) * 8 * r / 1e9, (unsigned long long)s->rx_frames,
	       human((double)s->rx_bytes, z, sizeof(z)), (unsigned long long)s->tx_frames,
	       human((double)s->tx_bytes, q, sizeof(q)));
	printf("  tcp         connections %u, time-wait %u, half-open %u | retransmits %llu (%s/s), "
	       "out-of-order %llu, resets sent %llu, refused %llu, checksum errors %llu\n",
	       s->tcp_connections, s->tcp_time_wait, s->tcp_half_open,
	       (unsigned long long)s->tcp_retransmits,
	       human((double)(s->tcp_retransmits - p->tcp_retransmits) * r, x, sizeof(x)),
	       (unsigned long long)s->tcp_ooseq, (unsigned long long)s->tcp_rst_sent,
	       (unsigned long long)s->tcp_conn_refused,
	       (unsigned long long)(s->tcp_checksum_err + s->ip_checksum_err));
	printf("  zero-copy   sends %llu (%s/s), completed %llu, copied %llu, aborted %llu, loans "
	       "out %llu | copies: stack rx %sB, tx %sB; %llu segments sent in place\n",
	       (unsigned long long)s->zc_sends,
	       human((double)(s->zc_sends - p->zc_sends) * r, x, sizeof(x)),
	       (unsigned long long)s->zc_ids_completed, (unsigned long long)s->zc_sends_copied,
	       (unsigned long long)s->zc_sends_aborted, (unsigned long long)s->zc_loans_live,
	       human((double)s->rx_copied_bytes, y, sizeof(y)),
	       human((double)s->tx_copied_bytes, z, sizeof(z)), (unsigned long long)s->tx_inplace);
	printf("  drops       %llu (+%llu):", (unsigned long long)drops_total(s),
	       (unsigned long long)(drops_total(s) - drops_total(p)));
	group_line(NULL, "drops", a, b);
	printf("  xdp         rx-dropped %llu rx-invalid %llu tx-invalid %llu rx-ring-full %llu "
	       "fill-ring-empty %llu tx-ring-empty %llu passed-not-ours %llu\n",
	       (unsigned long long)s->xdp_rx_dropped, (unsigned long long)s->xdp_rx_invalid,
	       (unsigned long long)s->xdp_tx_invalid, (unsigned long long)s->xdp_rx_ring_full,
	       (unsigned long long)s->xdp_fill_ring_empty, (unsigned long long)s->xdp_tx_ring_empty,
	       (unsigned long long)s->xdp_passed_not_ours);
	printf("  frames      %u total: %u free, %u fill, %u held, %u tx, %u loaned (of the held: "
	       "%u out-of-order, %u unread)\n",
	       s->frames_total, s->frames_free, s->frames_fill, s->frames_held, s->frames_tx,
	       s->frames_loaned, s->ooseq_frames, s->rx_queued_frames);
	if (o->all) {
		group_line("copies", "copies", a, b);
		group_line("tcp (all)", "tcp", a, b);
		group_line("hostile", "hostile", a, b);
		group_line("lwip", "lwip", a, b);
	}
	fflush(stdout);
}

static void json_report(const struct sample *a, const struct sample *b, double dt)
{
	static const char *const groups[] = {"link",	 "drops",  "copies", "tcp",    "hostile",
					     "zerocopy", "frames", "xdp",    "tables", "lwip"};
	unsigned n;
	const struct skiff_stat_field *f = skiff_stat_fields(&n);
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	printf("{\"time\":%.3f,", (double)now.tv_sec + (double)now.tv_nsec / 1e9);
	json_instance(&b->in);
	printf(",\"interval_s\":%.3f", dt);
	for (int pass = 0; pass < 2; pass++) {
		printf(pass ? ",\"rates\":{" : ",\"counters\":{");
		for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
			bool first = true;

			printf("%s\"%s\":{", g ? "," : "", groups[g]);
			for (unsigned i = 0; i < n; i++) {
				uint64_t v = skiff_stat_value(&b->s, &f[i]);

				if (strcmp(f[i].group, groups[g]) || (pass && f[i].gauge))
					continue;
				printf("%s\"%s\":", first ? "" : ",", f[i].name);
				if (pass)
					printf("%.1f",
					       dt > 0 ? (double)(v -
								 skiff_stat_value(&a->s, &f[i])) /
								dt
						      : 0.0);
				else
					printf("%llu", (unsigned long long)v);
				first = false;
			}
			printf("}");
		}
		printf("}");
	}
	printf("}\n");
	fflush(stdout);
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s,
			      .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (!stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

enum take { TAKEN, ENDED, FAILED };

/* Reads @p r into @p out; ENDED (the instance ran skiff_fini()) or FAILED
 * (the owner died, or the read failed) after saying so. */
static enum take take(const struct opts *o, struct skiff_stat_reader *r, pid_t pid,
		      struct sample *out)
{
	if (skiff_stat_read(r, &out->s, &out->in) == 0) {
		if (!out->in.stopped && access(out->in.path, F_OK) != 0) {
			fprintf(stderr, "%s: pid %d: the instance has ended (skiff_fini)\n",
				o->prog, (int)pid);
			return ENDED;
		}
		return TAKEN;
	}
	if (errno == ESRCH)
		fprintf(stderr,
			"%s: pid %d: the owner died without stopping skiff; its segment is "
			"removed\n",
			o->prog, (int)pid);
	else
		fprintf(stderr, "%s: pid %d: cannot read the counters: %s\n", o->prog, (int)pid,
			strerror(errno));
	return FAILED;
}

static int watch(const struct opts *o)
{
	struct skiff_stat_reader *r;
	struct sample a, b;
	pid_t pid = resolve(o);
	long done = 0;

	if (!pid)
		return EXIT_FAIL;
	if (skiff_stat_open(&r, o->dir, pid) != 0) {
		if (errno == ENOENT)
			fprintf(stderr,
				"%s: no skiff instance with pid %d (%s; run %s to list them)\n",
				o->prog, (int)pid,
				kill(pid, 0) == 0 || errno == EPERM
					? "the process runs but publishes no counters"
					: "no such process",
				o->prog);
		else if (errno == ESRCH)
			fprintf(stderr,
				"%s: pid %d: the owner died without stopping skiff; its segment is "
				"removed\n",
				o->prog, (int)pid);
		else
			fprintf(stderr, "%s: pid %d: %s\n", o->prog, (int)pid, strerror(errno));
		return EXIT_FAIL;
	}
	if (take(o, r, pid, &a) != TAKEN) {
		skiff_stat_close(r);
		return EXIT_FAIL;
	}
	while (!stop) {
		double dt;

		sleep_s(o->interval_s);
		if (stop)
			break;
		switch (take(o, r, pid, &b)) {
		case TAKEN:
			break;
		case ENDED:
			skiff_stat_close(r);
			return 0;
		default:
			skiff_stat_close(r);
			return EXIT_FAIL;
		}
		/* Rates over the publications' own times. */
		dt = (double)(b.in.uptime_ms - a.in.uptime_ms) / 1000;
		if (o->json)
			json_report(&a, &b, dt);
		else
			human_report(o, &a, &b, dt);
		a = b;
		if (b.in.stopped) {
			fprintf(stderr, "%s: pid %d: skiff stopped; those are its final counters\n",
				o->prog, (int)pid);
			break;
		}
		if (o->count && ++done >= o->count)
			break;
	}
	skiff_stat_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sigaction sa;

	parse(argc, argv, &o);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!o.target) {
		if (o.count > 1 || o.all)
			usage_error(&o, "-n and -a need an instance: PID or NAME");
		return list(&o);
	}
	return watch(&o);
}
