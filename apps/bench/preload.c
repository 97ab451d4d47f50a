/* skiff-bench's preload run (preload.h): each server on the kernel's
 * address, then under skiff-run on skiff's, on one veth pair made for it,
 * and its standard client in the peer namespace.
 *
 * A server is a child of tb_spawn() that execs it (or skiff-run with it),
 * its output in a log file of a scratch folder. It is up when its log says
 * so (redis, iperf3, nginx's error log) and a TCP connection from the
 * peer namespace is accepted (redis, nginx, memcached: iperf3 -s would
 * take a bare connection for a failed test). The clients run through the
 * shell in the peer namespace (tb_capture()), pinned with taskset, under
 * timeout(1) so that a stalled server ends the measurement, not the run. */
#define _GNU_SOURCE
#include "preload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "testbed.h"

#define NET4	  "10.97.1"
#define PEER_IP	  NET4 ".1"
#define SKIFF_IP  NET4 ".2"
#define KERNEL_IP NET4 ".3"
#define READY_MS  15000
/* A client that has not finished this long after its measurement should
 * have is stopped (timeout(1)): the metric is an error. */
#define CLIENT_SLACK_S 60

const struct bench_preload_metric_info bench_preload_metrics[BP_METRICS] = {
	[BP_REDIS_GET_P1] = {"redis.get_p1", "req/s", 1.0},
	[BP_REDIS_GET_P16] = {"redis.get_p16", "req/s", 1.3},
	[BP_REDIS_SET_P16] = {"redis.set_p16", "req/s", 1.0},
	[BP_NGINX_WRK64] = {"nginx.wrk64_rps", "req/s", 1.3},
	[BP_IPERF3_GBPS] = {"iperf3.gbps", "Gbit/s", 1.0},
	[BP_MEMCACHED_OPS] = {"memcached.ops", "ops/s", 1.0},
};

static const char *const side_name[BP_SIDES] = {"skiff", "kernel"};

enum server {
	SRV_REDIS,
	SRV_NGINX,
	SRV_IPERF3,
	SRV_MEMCACHED,
	SRVS,
};

struct server_info {
	const char *name;
	const char *progs[3]; /* the server, then its clients */
	uint16_t port;
	const char *ready_text; /* its log says this when it is up (NULL: nothing) */
	bool probe;		/* a TCP connection shows it is up */
	enum bench_preload_metric first, last;
};

static const struct server_info servers[SRVS] = {
	[SRV_REDIS] = {"redis",
		       {"redis-server", "redis-benchmark"},
		       6379,
		       "eady to accept",
		       true,
		       BP_REDIS_GET_P1,
		       BP_REDIS_SET_P16},
	[SRV_NGINX] = {"nginx",
		       {"nginx", "wrk"},
		       8080,
		       "start worker process",
		       true,
		       BP_NGINX_WRK64,
		       BP_NGINX_WRK64},
	[SRV_IPERF3] = {"iperf3",
			{"iperf3"},
			5201,
			"Server listening",
			false,
			BP_IPERF3_GBPS,
			BP_IPERF3_GBPS},
	[SRV_MEMCACHED] = {"memcached",
			   {"memcached", "memcslap"},
			   11211,
			   NULL,
			   true,
			   BP_MEMCACHED_OPS,
			   BP_MEMCACHED_OPS},
};

/* What one server's measurements on one side gave. */
struct sample {
	double v[BP_METRICS];
	bool ok[BP_METRICS];
	char why[BP_METRICS][200];
};

struct ctx {
	const struct bench_plan *plan;
	const struct bench_at *at;
	struct tb_pair pair;
	char dir[64];		      /* the scratch folder */
	char path[SRVS][3][PATH_MAX]; /* the programs found */
	char skiff_run[PATH_MAX];
	unsigned rep;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* @p name's path on $PATH (and the sbin folders root's usually has). */
static bool find_prog(const char *name, char *out, size_t len)
{
	const char *env = getenv("PATH");
	char list[4096];
	char *save = NULL;

	snprintf(list, sizeof(list), "%s:/usr/local/sbin:/usr/sbin:/sbin", env ? env : "/usr/bin");
	for (char *d = strtok_r(list, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if ((size_t)snprintf(out, len, "%s/%s", *d ? d : ".", name) >= len)
			continue;
		if (access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/* skiff-run beside skiff-bench (the build folder's apps/, or the bin/ of
 * an install). */
static bool find_skiff_run(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return false;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if ((size_t)snprintf(out, len, "%s/skiff-run", self) >= len)
		return false;
	return access(out, X_OK) == 0;
}

static bool progress_shown;

__attribute__((format(printf, 2, 3))) static void progress(const struct ctx *c, const char *fmt,
							   ...)
{
	uint64_t all = (now_ns() - c->at->t0_ns) / 1000000000u;
	char msg[160], eta[48];
	va_list ap;

	if (!c->plan->tty)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bench_eta(c->at, eta, sizeof(eta));
	printf("\r\033[K[%um%02us, %s] preload round %u of %u: %s", (unsigned)(all / 60),
	       (unsigned)(all % 60), eta, c->rep + 1, c->plan->preload_reps, msg);
	fflush(stdout);
	progress_shown = true;
}

static void progress_clear(void)
{
	if (!progress_shown)
		return;
	printf("\r\033[K");
	fflush(stdout);
	progress_shown = false;
}

/* ---- the servers ------------------------------------------------------------------ */

struct spawn {
	char *argv[48];
	char log[PATH_MAX];
	int cpu;
	bool skiff;
};

/* In the child, in the server's namespace: output to the log, pinned,
 * exec. */
static int spawn_exec(void *arg)
{
	struct spawn *s = arg;
	int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cpu_set_t set;

	if (fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return 126;
	if (s->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(s->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	/* libxdp pins its dispatcher in bpffs: a private one per run. */
	if (s->skiff)
		tb_private_bpffs();
	execv(s->argv[0], s->argv);
	fprintf(stderr, "exec %s: %s\n", s->argv[0], strerror(errno));
	return 127;
}

static void add(struct spawn *s, int *n, const char *word)
{
	if (*n < (int)(sizeof(s->argv) / sizeof(s->argv[0])) - 1)
		s->argv[(*n)++] = (char *)word;
	s->argv[*n] = NULL;
}

/* nginx's configuration for @p ip: one worker, Debian's defaults where
 * they matter (sendfile, tcp_nopush), and a small file to serve. */
static int nginx_prepare(const struct ctx *c, const char *ip)
{
	char path[PATH_MAX];
	FILE *f;

	if (tb_run(NULL,
		   "mkdir -p %s/www %s/tmp && echo skiff-nginx > %s/www/small.html && "
		   "chmod -R a+rX %s",
		   c->dir, c->dir, c->dir, c->dir))
		return -EIO;
	snprintf(path, sizeof(path), "%s/nginx.conf", c->dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f,
		"daemon off;\nmaster_process on;\nworker_processes 1;\npid %s/nginx.pid;\n"
		"error_log %s/error.log info;\nevents { worker_connections 4096; }\n"
		"http {\n access_log off;\n sendfile on;\n tcp_nopush on;\n"
		" client_body_temp_path %s/tmp/b;\n proxy_temp_path %s/tmp/p;\n"
		" fastcgi_temp_path %s/tmp/f;\n uwsgi_temp_path %s/tmp/u;\n"
		" scgi_temp_path %s/tmp/s;\n"
		" server { listen %s:8080; root %s/www; }\n}\n",
		c->dir, c->dir, c->dir, c->dir, c->dir, c->dir, c->dir, ip, c->dir);
	fclose(f);
	return 0;
}

/* The log to wait on: nginx writes its own. */
static void ready_log(const struct ctx *c, enum server k, const struct spawn *s, char *out,
		      size_t len)
{
	if (k == SRV_NGINX)
		snprintf(out, len, "%s/error.log", c->dir);
	else
		snprintf(out, len, "%s", s->log);
}

static bool file_has(const char *path, const char *text)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* One TCP connection from the peer namespace, accepted within 0.5 s. */
static bool probe(const struct ctx *c, const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
	int fd = tb_socket(c->pair.ns[1], AF_INET, SOCK_STREAM, 0);
	bool ok;

	if (fd < 0)
		return false;
	inet_pton(AF_INET, ip, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* The last lines of @p path, one line, for an error. */
static void log_tail(const char *path, char *out, size_t len)
{
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "tail -n 3 %s 2>/dev/null | tr '\\n' ' '", path);
	if (tb_capture(NULL, out, len, "%s", cmd) != 0 || !*out)
		snprintf(out, len, "(no output)");
}

/* Starts server @p k on @p side; returns its pid, or -errno (why says). */
static pid_t server_start(struct ctx *c, enum server k, enum bench_preload_side side, char *why,
			  size_t len)
{
	static struct spawn s;
	static char cidr[32], nconf[PATH_MAX], nlog[PATH_MAX], port[8];
	const char *ip = side == BP_SKIFF ? SKIFF_IP : KERNEL_IP;
	char log[PATH_MAX], tail[512];
	pid_t pid;
	int n = 0;

	memset(&s, 0, sizeof(s));
	s.cpu = c->plan->cpu_server;
	s.skiff = side == BP_SKIFF;
	snprintf(s.log, sizeof(s.log), "%s/%s-%s.log", c->dir, servers[k].name, side_name[side]);
	snprintf(port, sizeof(port), "%u", servers[k].port);
	if (side == BP_SKIFF) {
		snprintf(cidr, sizeof(cidr), "%s/24", SKIFF_IP);
		add(&s, &n, c->skiff_run);
		add(&s, &n, "-i");
		add(&s, &n, c->pair.ifname[0]);
		add(&s, &n, "--ip");
		add(&s, &n, cidr);
		add(&s, &n, "--");
	}
	add(&s, &n, c->path[k][0]);
	switch (k) {
	case SRV_REDIS:
		add(&s, &n, "--port");
		add(&s, &n, port);
		add(&s, &n, "--bind");
		add(&s, &n, ip);
		add(&s, &n, "--save");
		add(&s, &n, "");
		add(&s, &n, "--appendonly");
		add(&s, &n, "no");
		add(&s, &n, "--protected-mode");
		add(&s, &n, "no");
		add(&s, &n, "--dir");
		add(&s, &n, c->dir);
		break;
	case SRV_NGINX:
		if (nginx_prepare(c, ip)) {
			snprintf(why, len, "cannot write nginx's configuration in %s", c->dir);
			return -EIO;
		}
		snprintf(nconf, sizeof(nconf), "%s/nginx.conf", c->dir);
		snprintf(nlog, sizeof(nlog), "%s/error.log", c->dir);
		unlink(nlog);
		add(&s, &n, "-c");
		add(&s, &n, nconf);
		add(&s, &n, "-e");
		add(&s, &n, nlog);
		break;
	case SRV_IPERF3:
		add(&s, &n, "-s");
		add(&s, &n, "-B");
		add(&s, &n, ip);
		add(&s, &n, "-p");
		add(&s, &n, port);
		add(&s, &n, "--forceflush");
		break;
	case SRV_MEMCACHED:
		add(&s, &n, "-u");
		add(&s, &n, "root");
		add(&s, &n, "-l");
		add(&s, &n, ip);
		add(&s, &n, "-p");
		add(&s, &n, port);
		add(&s, &n, "-U");
		add(&s, &n, "0");
		add(&s, &n, "-t");
		add(&s, &n, "2");
		break;
	default:
		break;
	}
	pid = tb_spawn(c->pair.ns[0], spawn_exec, &s);
	if (pid < 0) {
		snprintf(why, len, "cannot start %s: %s", servers[k].name, strerror((int)-pid));
		return pid;
	}
	ready_log(c, k, &s, log, sizeof(log));
	for (int waited = 0; waited < READY_MS && !app_stop; waited += 50) {
		if ((!servers[k].ready_text || file_has(log, servers[k].ready_text)) &&
		    (!servers[k].probe || probe(c, ip, servers[k].port)))
			return pid;
		usleep(50000);
	}
	tb_stop_child(pid, 2000);
	log_tail(log, tail, sizeof(tail));
	snprintf(why, len, "%s did not come up on %s within %d s: %s", servers[k].name,
		 side_name[side], READY_MS / 1000, tail);
	return app_stop ? -EINTR : -ETIMEDOUT;
}

/* ---- the clients ------------------------------------------------------------------ */

/* Runs a client in the peer namespace, pinned, bounded; its output (stdout
 * and stderr) in @p out. */
__attribute__((format(printf, 5, 6))) static int client(const struct ctx *c, char *out, size_t len,
							int secs, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return tb_capture(c->pair.ns[1], out, len, "timeout %d taskset -c %d %s 2>&1",
			  secs + CLIENT_SLACK_S, c->plan->cpu_client, cmd);
}

/* The first line of @p out, for an error. */
static void first_line(const char *out, char *why, size_t len, const char *what)
{
	snprintf(why, len, "%s: %.*s", what, (int)strcspn(out, "\n"), *out ? out : "(no output)");
}

/* redis-benchmark --csv: "GET","123.45",... */
static bool redis_rps(const char *out, const char *test, double *v)
{
	char key[16];
	const char *l;

	snprintf(key, sizeof(key), "\"%s\",\"", test);
	l = strstr(out, key);
	return l && sscanf(l + strlen(key), "%lf", v) == 1 && *v > 0;
}

/* redis-benchmark stops after a request count, not a time: a count of
 * GETs, pipelined @p pipeline deep, that lasts about preload_ms at the
 * rate a first run of @p probe of them measures (on this machine the rates
 * have ranged from 25k to 1.5M requests/s from one day to another, and a
 * fixed count ran from 0.1 s to several). 0 when the probe fails (its
 * output in @p out). */
static unsigned redis_count(struct ctx *c, const char *ip, int pipeline, unsigned probe, char *out,
			    size_t len)
{
	double rps = 0, n;

	if (client(c, out, len, 10, "%s -h %s -p 6379 -c 50 -n %u -t get -P %d --csv",
		   c->path[SRV_REDIS][1], ip, probe, pipeline) != 0 ||
	    !redis_rps(out, "GET", &rps))
		return 0;
	n = rps * c->plan->preload_ms / 1000.0;
	return n < probe ? probe : n > 1e8 ? 100000000u : (unsigned)n;
}

static void measure_redis(struct ctx *c, const char *ip, struct sample *s)
{
	static char out[8192];
	unsigned n1, n16;
	const char *rb = c->path[SRV_REDIS][1];
	int secs, rc;

	progress(c, "redis set,get -P 16");
	n16 = redis_count(c, ip, 16, 100000, out, sizeof(out));
	/* The count for about preload_ms each at the probe's rate; a SET
	 * may run slower, so the bound is generous. */
	secs = 4 * (c->plan->preload_ms / 1000 + 1);
	rc = n16 ? client(c, out, sizeof(out), secs,
			  "%s -h %s -p 6379 -c 50 -n %u -t set,get -P 16 --csv", rb, ip, n16)
		 : -1;
	if (rc == 0 && redis_rps(out, "SET", &s->v[BP_REDIS_SET_P16]))
		s->ok[BP_REDIS_SET_P16] = true;
	else
		first_line(out, s->why[BP_REDIS_SET_P16], sizeof(s->why[0]), "redis-benchmark");
	if (rc == 0 && redis_rps(out, "GET", &s->v[BP_REDIS_GET_P16]))
		s->ok[BP_REDIS_GET_P16] = true;
	else
		first_line(out, s->why[BP_REDIS_GET_P16], sizeof(s->why[0]), "redis-benchmark");
	progress(c, "redis get -P 1");
	n1 = redis_count(c, ip, 1, 10000, out, sizeof(out));
	rc = n1 ? client(c, out, sizeof(out), secs,
			 "%s -h %s -p 6379 -c 50 -n %u -t get -P 1 --csv", rb, ip, n1)
		: -1;
	if (rc == 0 && redis_rps(out, "GET", &s->v[BP_REDIS_GET_P1]))
		s->ok[BP_REDIS_GET_P1] = true;
	else
		first_line(out, s->why[BP_REDIS_GET_P1], sizeof(s->why[0]), "redis-benchmark");
}

static void measure_nginx(struct ctx *c, const char *ip, struct sample *s)
{
	static char out[8192];
	int secs = c->plan->preload_ms < 1000 ? 1 : c->plan->preload_ms / 1000;
	const char *wrk = c->path[SRV_NGINX][1];
	const char *l;
	double rps = 0;
	int rc;

	progress(c, "nginx warm-up, wrk 1 s");
	client(c, out, sizeof(out), 1, "%s -t1 -c64 -d1s http://%s:8080/small.html", wrk, ip);
	progress(c, "nginx wrk -t1 -c64 -d%ds", secs);
	rc = client(c, out, sizeof(out), secs, "%s -t1 -c64 -d%ds http://%s:8080/small.html", wrk,
		    secs, ip);
	l = strstr(out, "Requests/sec:");
	if (rc == 0 && l && sscanf(l, "Requests/sec: %lf", &rps) == 1 && rps > 0 &&
	    !strstr(out, "Non-2xx")) {
		s->v[BP_NGINX_WRK64] = rps;
		s->ok[BP_NGINX_WRK64] = true;
		if ((l = strstr(out, "Socket errors")))
			printf("    note: nginx on %s: wrk: %.*s\n", ip, (int)strcspn(l, "\n"), l);
	} else {
		first_line(strstr(out, "Non-2xx") ? strstr(out, "Non-2xx") : out,
			   s->why[BP_NGINX_WRK64], sizeof(s->why[0]), "wrk");
	}
}

static void measure_iperf3(struct ctx *c, const char *ip, struct sample *s)
{
	static char out[262144];
	int secs = c->plan->preload_ms < 1000 ? 1 : c->plan->preload_ms / 1000;
	const char *l;
	double bps = 0;
	int rc;

	progress(c, "iperf3 -c, %d s after 1 s omitted", secs);
	/* Twice at most: a server that said it listens has refused the
	 * first connection now and then (one of six here), an iperf3 -s
	 * moment rather than a measurement. */
	for (int t = 0; t < 2; t++) {
		rc = client(c, out, sizeof(out), secs + 1, "%s -c %s -p 5201 -t %d -O 1 -J",
			    c->path[SRV_IPERF3][0], ip, secs);
		if (!strstr(out, "Connection refused"))
			break;
		usleep(500000);
	}
	l = strstr(out, "\"sum_received\"");
	if (l)
		l = strstr(l, "\"bits_per_second\":");
	if (rc == 0 && l && sscanf(l, "\"bits_per_second\": %lf", &bps) == 1 && bps > 0) {
		s->v[BP_IPERF3_GBPS] = bps / 1e9;
		s->ok[BP_IPERF3_GBPS] = true;
	} else {
		l = strstr(out, "\"error\"");
		first_line(l ? l : out, s->why[BP_IPERF3_GBPS], sizeof(s->why[0]), "iperf3 -c");
	}
}

/* One memcslap run of @p per gets on each of its 16 threads; its gets per
 * second, or 0 (its output in @p out). */
static double memcslap_gets(struct ctx *c, const char *ip, unsigned per, char *out, size_t len)
{
	int secs = 4 * (c->plan->preload_ms / 1000 + 1);
	unsigned long keys = 0;
	unsigned threads = 0;
	double t = 0;
	const char *l;

	if (client(c, out, len, secs,
		   "%s --servers=%s:11211 --concurrency=16 --execute-number=%u --test=get",
		   c->path[SRV_MEMCACHED][1], ip, per) != 0)
		return 0;
	l = strstr(out, "Time to get");
	if (!l || sscanf(l, "Time to get %lu keys by %u threads: %lf", &keys, &threads, &t) != 3 ||
	    t <= 0 || !keys || strstr(out, "Failure"))
		return 0;
	return (double)keys / t;
}

static void measure_memcached(struct ctx *c, const char *ip, struct sample *s)
{
	static char out[8192];
	/* memcslap runs a count of gets per thread, not a time: a count that
	 * lasts about preload_ms at the rate a first run of 1,000 per thread
	 * measures (as redis_count()). */
	double probe, per;

	progress(c, "memcslap, 16 threads of gets");
	probe = memcslap_gets(c, ip, 1000, out, sizeof(out));
	if (probe > 0) {
		per = probe * c->plan->preload_ms / 1000.0 / 16;
		s->v[BP_MEMCACHED_OPS] =
			memcslap_gets(c, ip, per < 1000 ? 1000u : (unsigned)per, out, sizeof(out));
		s->ok[BP_MEMCACHED_OPS] = s->v[BP_MEMCACHED_OPS] > 0;
	}
	if (!s->ok[BP_MEMCACHED_OPS])
		first_line(out, s->why[BP_MEMCACHED_OPS], sizeof(s->why[0]), "memcslap");
}

/* ---- a server, both sides ------------------------------------------------------------ */

static void note_error(struct bench_preload_result *out, enum bench_preload_metric m,
		       enum bench_preload_side side, const char *why)
{
	if (!out->error[m][0])
		snprintf(out->error[m], sizeof(out->error[m]), "%s: %.240s", side_name[side], why);
}

static void run_side(struct ctx *c, enum server k, enum bench_preload_side side,
		     struct bench_preload_result *out)
{
	const char *ip = side == BP_SKIFF ? SKIFF_IP : KERNEL_IP;
	struct sample s;
	char why[600];
	pid_t pid;

	memset(&s, 0, sizeof(s));
	progress(c, "%s on %s: starting", servers[k].name, side_name[side]);
	pid = server_start(c, k, side, why, sizeof(why));
	if (pid < 0) {
		progress_clear();
		printf("    %s on %s: FAILED: %s\n", servers[k].name, side_name[side], why);
		for (int m = servers[k].first; m <= (int)servers[k].last; m++)
			note_error(out, m, side, why);
		return;
	}
	switch (k) {
	case SRV_REDIS:
		measure_redis(c, ip, &s);
		break;
	case SRV_NGINX:
		measure_nginx(c, ip, &s);
		break;
	case SRV_IPERF3:
		measure_iperf3(c, ip, &s);
		break;
	default:
		measure_memcached(c, ip, &s);
		break;
	}
	tb_stop_child(pid, 5000);
	progress_clear();
	printf("    %-9s on %-6s", servers[k].name, side_name[side]);
	for (int m = servers[k].first; m <= (int)servers[k].last; m++) {
		const char *name = strchr(bench_preload_metrics[m].name, '.') + 1;

		if (s.ok[m]) {
			unsigned *n = &out->n[m][side];

			char num[32];

			snprintf(num, sizeof(num), bench_preload_format(s.v[m]), s.v[m]);
			printf("  %s %s %s", name, num, bench_preload_metrics[m].unit);
			if (*n < BENCH_MAX_REPS)
				out->v[m][side][(*n)++] = s.v[m];
		} else {
			printf("  %s FAILED", name);
			note_error(out, m, side, s.why[m]);
		}
	}
	printf("\n");
	for (int m = servers[k].first; m <= (int)servers[k].last; m++)
		if (!s.ok[m])
			printf("      %s: %s\n", bench_preload_metrics[m].name, s.why[m]);
}

const char *bench_preload_format(double v)
{
	return v >= 1000 ? "%.0f" : "%.3f";
}

void bench_preload_line(const char *name, const char *suffix, double v, const char *unit)
{
	char num[32];

	snprintf(num, sizeof(num), bench_preload_format(v), v);
	printf("bench preload.%s%s %s %s\n", name, suffix, num, unit);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_estimate_preload_s(const struct bench_plan *plan)
{
	double ms = plan->preload_ms / 1e3;
	/* Per side: redis ~3 measurements, nginx 1 + a 1 s warm-up, iperf3
	 * 1 + 1 s omitted, memcached ~1; about 1 s to start and stop each
	 * server; a testbed per server. */
	double side = 6 * ms + 2 + 4 * 1.0;

	return plan->preload_reps * (2 * side + SRVS * 0.5);
}

int bench_preload_run(const struct bench_plan *plan, const struct bench_at *at,
		      struct bench_preload_result *out)
{
	static struct ctx c;
	bool usable[SRVS];
	int rc = 0;

	memset(&c, 0, sizeof(c));
	c.plan = plan;
	c.at = at;
	out->ran = true;
	if (!find_skiff_run(c.skiff_run, sizeof(c.skiff_run))) {
		for (int m = 0; m < BP_METRICS; m++)
			snprintf(out->error[m], sizeof(out->error[m]),
				 "skiff-run is not beside skiff-bench");
		return -EIO;
	}
	for (int k = 0; k < SRVS; k++) {
		usable[k] = true;
		for (int i = 0; i < 3 && servers[k].progs[i]; i++) {
			if (find_prog(servers[k].progs[i], c.path[k][i], sizeof(c.path[k][i])))
				continue;
			usable[k] = false;
			for (int m = servers[k].first; m <= (int)servers[k].last; m++)
				snprintf(out->error[m], sizeof(out->error[m]),
					 "%s is not installed (tests/host/setup.sh installs it)",
					 servers[k].progs[i]);
			printf("  %s: not measured: %s is not installed\n", servers[k].name,
			       servers[k].progs[i]);
			break;
		}
	}
	snprintf(c.dir, sizeof(c.dir), "/tmp/skiff-bench-preload-XXXXXX");
	if (!mkdtemp(c.dir)) {
		for (int m = 0; m < BP_METRICS; m++)
			snprintf(out->error[m], sizeof(out->error[m]), "mkdtemp: %s",
				 strerror(errno));
		return -EIO;
	}
	chmod(c.dir, 0755); /* nginx's worker runs as nobody */
	for (unsigned rep = 0; rep < plan->preload_reps && !app_stop; rep++) {
		c.rep = rep;
		printf("  round %u of %u\n", rep + 1, plan->preload_reps);
		for (int k = 0; k < SRVS && !app_stop; k++) {
			char tag[16];
			int err;

			if (!usable[k])
				continue;
			snprintf(tag, sizeof(tag), "pre%s", servers[k].name);
			tag[6] = '\0';
			err = tb_pair_create(&c.pair, tag, 1, KERNEL_IP "/24", PEER_IP "/24");
			if (err) {
				for (int m = servers[k].first; m <= (int)servers[k].last; m++)
					snprintf(out->error[m], sizeof(out->error[m]),
						 "testbed: %s", strerror(-err));
				continue;
			}
			/* The kernel first, on a link XDP has not touched yet. */
			run_side(&c, k, BP_KERNEL, out);
			if (!app_stop)
				run_side(&c, k, BP_SKIFF, out);
			tb_pair_destroy(&c.pair);
		}
	}
	progress_clear();
	tb_run(NULL, "rm -rf %s", c.dir);
	for (int m = 0; m < BP_METRICS; m++) {
		for (int side = 0; side < BP_SIDES; side++) {
			unsigned n = out->n[m][side];

			out->have[m][side] = n && n == plan->preload_reps;
			if (out->have[m][side])
				out->fig[m][side] = median(out->v[m][side], n);
		}
		if (!out->have[m][BP_SKIFF] || !out->have[m][BP_KERNEL])
			rc = -EIO;
	}
	return app_stop ? -EINTR : rc;
}
