/* libskiff-preload and skiff-run with real, unmodified servers: in a
 * namespace whose veth end has no kernel address, skiff takes 10.96.1.2
 * and the server runs under skiff-run; its standard client runs on the
 * Linux end (10.96.1.1) in the other namespace. iperf3 -s (both
 * directions, bytes and rate), redis-server (redis-benchmark, SET/GET from
 * the peer, the same keys over a Unix socket and loopback of the same
 * server, BGSAVE's fork), nginx (master and worker: the stack handed to
 * the worker at fork; a 50 MB file by sendfile, SHA-256 compared; wrk with
 * 64 and 1000 connections; two workers), memcached (its default threads:
 * pymemcache from several client threads, a large value, memcslap), and
 * preload_policy (the policy from inside a program). Each skips without
 * its server installed. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo_proc.h"
#include "testbed.h"
#include "testkit.h"

#define SKIFF_IP   "10.96.1.2"
#define SKIFF_CIDR SKIFF_IP "/24"

static struct tb_pair pair;

static void teardown(void)
{
	tb_destroy();
}

static bool have(const char *prog)
{
	char p[64];

	snprintf(p, sizeof(p), "/usr/bin/%s", prog);
	return access(p, X_OK) == 0;
}

/* The two namespaces: skiff's end without an address, the peer's
 * 10.96.1.1/24. */
static void testbed_up(const char *tag)
{
	tk_require_privileged();
	CU_ASSERT_FATAL(tb_init("test_preload") == 0);
	tb_private_bpffs();
	CU_ASSERT_FATAL(tb_pair_create(&pair, tag, 1, NULL, "10.96.1.1/24") == 0);
}

/* Starts argv (after "--") under skiff-run in skiff's namespace, with
 * skiff-run options @p opts (NULL-terminated, may be NULL) first. */
static void start_on_skiff_opts(struct proc *p, char *const opts[], char *const cmd[])
{
	char *argv[40] = {SKIFF_RUN_PATH, "-i", pair.ifname[0], "--ip", SKIFF_CIDR};
	int n = 5;

	for (int i = 0; opts && opts[i] && n < 20; i++)
		argv[n++] = opts[i];
	argv[n++] = "--";
	for (int i = 0; cmd[i] && n < 39; i++)
		argv[n++] = cmd[i];
	argv[n] = NULL;
	proc_start(p, pair.ns[0], 0, argv);
}

static void start_on_skiff(struct proc *p, char *const cmd[])
{
	start_on_skiff_opts(p, NULL, cmd);
}

/* The "receiver" line's rate in Gbit/s (iperf3 -f g), or -1. -f sets the
 * rate's unit only: the amount is in KBytes, MBytes or GBytes as it fits. */
static double receiver_gbps(const char *out, double *gbytes)
{
	const char *l = strstr(out, "receiver");
	double amount, rate;
	char unit;

	while (l && l > out && l[-1] != '\n')
		l--;
	if (!l || sscanf(strstr(l, "sec") + 3, "%lf %cBytes %lf", &amount, &unit, &rate) != 3)
		return -1;
	*gbytes = amount / (unit == 'G' ? 1 : unit == 'M' ? 1024 : unit == 'K' ? 1048576 : 1e12);
	tk_note("%.*s", (int)strcspn(l, "\n"), l);
	return rate;
}

static void iperf3_run(bool reverse)
{
	char *server[] = {"iperf3", "-s", "-1", "-B", SKIFF_IP, "-p", "5201", "--forceflush", NULL};
	char *client[] = {"iperf3", "-c", SKIFF_IP, "-p", "5201",
			  "-t",	    "3",  "-f",	    "g",  reverse ? "-R" : NULL,
			  NULL};
	struct proc ps, pc;
	double gb = 0, rate;

	if (!have("iperf3"))
		tk_skip("iperf3 is not installed (tests/host/setup.sh installs it)");
	testbed_up(reverse ? "plr" : "pl");
	start_on_skiff(&ps, server);
	proc_wait_up(&ps, "Server listening", 15000, "iperf3 -s under skiff-run");
	proc_start(&pc, pair.ns[1], 0, client);
	proc_finish(&pc, 30000);
	proc_expect(&pc, 0, "receiver");
	rate = receiver_gbps(pc.buf, &gb);
	/* 3 s at well over 0.1 Gbit/s: at least 30 MB moved, every byte
	 * counted by both ends. */
	CU_ASSERT(rate > 0.1);
	CU_ASSERT(gb > 0.03);
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, reverse ? "sender" : "receiver");
	proc_done(&pc);
	proc_done(&ps);
	tb_pair_destroy(&pair);
}

static void test_iperf3_server(void)
{
	iperf3_run(false);
}

static void test_iperf3_server_reverse(void)
{
	iperf3_run(true);
}

/* skiff's IPv6 address (--ip6): iperf3 bound to it, the client over IPv6. */
static void test_iperf3_ipv6(void)
{
	char *opts[] = {"--ip6", "fd96:1::2/64", NULL};
	char *server[] = {"iperf3", "-s",   "-1",	    "-B", "fd96:1::2",
			  "-p",	    "5201", "--forceflush", NULL};
	char *client[] = {"iperf3", "-c", "fd96:1::2", "-p", "5201", "-t", "2", "-f", "g", NULL};
	struct proc ps, pc;
	double gb = 0, rate;

	if (!have("iperf3"))
		tk_skip("iperf3 is not installed (tests/host/setup.sh installs it)");
	testbed_up("pl6");
	CU_ASSERT_FATAL(tb_ip(pair.ns[1], "addr", "add", "fd96:1::1/64", "dev", pair.ifname[1],
			      "nodad", NULL) == 0);
	start_on_skiff_opts(&ps, opts, server);
	proc_wait_up(&ps, "Server listening", 15000, "iperf3 -s -B fd96:1::2 under skiff-run");
	proc_start(&pc, pair.ns[1], 0, client);
	proc_finish(&pc, 30000);
	proc_expect(&pc, 0, "receiver");
	rate = receiver_gbps(pc.buf, &gb);
	tk_note("over IPv6: %.2f Gbit/s", rate);
	CU_ASSERT(rate > 0.1);
	CU_ASSERT(gb > 0.02);
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, "receiver");
	proc_done(&pc);
	proc_done(&ps);
	tb_pair_destroy(&pair);
}

/* An IPv6 gateway (--gw6): the client's address, fd96:2::1, is off
 * skiff's link, so skiff's answers go to the gateway (the client's own
 * namespace, which owns that address). Without the gateway skiff has no
 * route back and the client cannot connect. */
static void test_ipv6_gateway(void)
{
	char *opts[] = {"--ip6", "fd96:1::2/64", "--gw6", "fd96:1::1", NULL};
	char *bare[] = {"--ip6", "fd96:1::2/64", NULL};
	char *server[] = {"iperf3", "-s",   "-1",	    "-B", "fd96:1::2",
			  "-p",	    "5201", "--forceflush", NULL};
	char *client[] = {"timeout", "20",   "iperf3", "-c", "fd96:1::2", "-B", "fd96:2::1",
			  "-p",	     "5201", "-t",     "1",  "-f",	  "g",	NULL};
	char *quick[] = {"timeout", "4",    "iperf3", "-c", "fd96:1::2", "-B", "fd96:2::1",
			 "-p",	    "5201", "-t",     "1",  "-f",	 "g",  NULL};
	struct proc ps, pc;
	double gb = 0;

	if (!have("iperf3"))
		tk_skip("iperf3 is not installed (tests/host/setup.sh installs it)");
	testbed_up("plgw6");
	CU_ASSERT_FATAL(tb_ip(pair.ns[1], "addr", "add", "fd96:1::1/64", "dev", pair.ifname[1],
			      "nodad", NULL) == 0);
	CU_ASSERT_FATAL(tb_ip(pair.ns[1], "addr", "add", "fd96:2::1/128", "dev", pair.ifname[1],
			      "nodad", NULL) == 0);
	/* Without the gateway: no answer reaches fd96:2::1. */
	start_on_skiff_opts(&ps, bare, server);
	proc_wait_up(&ps, "Server listening", 15000, "iperf3 -s under skiff-run, no --gw6");
	proc_start(&pc, pair.ns[1], 0, quick);
	proc_finish(&pc, 10000);
	CU_ASSERT(pc.status != 0);
	CU_ASSERT(pc.buf == NULL || strstr(pc.buf, "receiver") == NULL);
	proc_done(&pc);
	kill(ps.pid, SIGTERM);
	proc_finish(&ps, 10000);
	proc_done(&ps);
	/* With it. */
	start_on_skiff_opts(&ps, opts, server);
	proc_wait_up(&ps, "Server listening", 15000, "iperf3 -s under skiff-run --gw6");
	proc_start(&pc, pair.ns[1], 0, client);
	proc_finish(&pc, 30000);
	proc_expect(&pc, 0, "receiver");
	tk_note("from an off-link address through --gw6: %.2f Gbit/s", receiver_gbps(pc.buf, &gb));
	CU_ASSERT(gb > 0.01);
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, "receiver");
	proc_done(&pc);
	proc_done(&ps);
	/* The other way: a client under skiff-run connects to the off-link
	 * address (the kernel of skiff's namespace has no route there, so
	 * the connection goes to skiff and out through its gateway). */
	{
		char *ksrv[] = {"iperf3", "-s",	  "-1",		  "-B", "fd96:2::1",
				"-p",	  "5202", "--forceflush", NULL};
		char *sclient[] = {"iperf3", "-c", "fd96:2::1", "-p", "5202",
				   "-t",     "1",  "-f",	"g",  NULL};
		proc_start(&ps, pair.ns[1], 0, ksrv);
		proc_wait_up(&ps, "Server listening", 15000, "iperf3 -s on the kernel, fd96:2::1");
		start_on_skiff_opts(&pc, opts, sclient);
		proc_finish(&pc, 30000);
		proc_expect(&pc, 0, "receiver");
		gb = 0;
		tk_note("to an off-link address through --gw6: %.2f Gbit/s",
			receiver_gbps(pc.buf, &gb));
		CU_ASSERT(gb > 0.01);
		proc_finish(&ps, 10000);
		proc_done(&pc);
		proc_done(&ps);
	}
	tb_pair_destroy(&pair);
}

static void test_redis_server(void)
{
	char sock[64], dir[64], out[4096];
	char *server[] = {"redis-server",
			  "--port",
			  "6379",
			  "--bind",
			  SKIFF_IP,
			  "127.0.0.1",
			  "--save",
			  "",
			  "--appendonly",
			  "no",
			  "--protected-mode",
			  "no",
			  "--unixsocket",
			  sock,
			  "--dir",
			  dir,
			  NULL};
	struct proc ps;

	if (!have("redis-server") || !have("redis-benchmark") || !have("redis-cli"))
		tk_skip("redis-server/redis-tools are not installed (tests/host/setup.sh installs "
			"them)");
	snprintf(sock, sizeof(sock), "/tmp/skiff-preload-%d.sock", (int)getpid());
	snprintf(dir, sizeof(dir), "/tmp/skiff-preload-%d", (int)getpid());
	CU_ASSERT_FATAL(tb_run(NULL, "mkdir -p %s", dir) == 0);
	testbed_up("plredis");
	start_on_skiff(&ps, server);
	proc_wait_up(&ps, "eady to accept", 15000, "redis-server under skiff-run");
	/* From the peer, through skiff. */
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "redis-benchmark -h %s -q -n 2000 -t set,get 2>&1 | tr '\\r' '\\n' | "
			     "grep 'requests per second'",
			     SKIFF_IP) == 0);
	CU_ASSERT(strstr(out, "SET:") && strstr(out, "GET:"));
	tk_note("redis-benchmark via skiff: %s", out);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s set viaskiff 1",
			     SKIFF_IP) == 0 &&
		  strstr(out, "OK"));
	/* The same server's kernel sockets: the Unix socket and loopback. */
	CU_ASSERT(tb_capture(pair.ns[0], out, sizeof(out), "redis-cli -s %s set viaunix 2", sock) ==
			  0 &&
		  strstr(out, "OK"));
	CU_ASSERT(tb_capture(pair.ns[0], out, sizeof(out),
			     "redis-cli -h 127.0.0.1 mget viaskiff viaunix") == 0 &&
		  !strcmp(out, "1\n2\n"));
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s mget viaskiff viaunix",
			     SKIFF_IP) == 0 &&
		  !strcmp(out, "1\n2\n"));
	/* BGSAVE forks: the child writes the dump and exits, the parent keeps
	 * its connections. */
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s bgsave", SKIFF_IP) ==
		  0);
	CU_ASSERT(proc_wait_for(&ps, "Background saving terminated with success", 10000));
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "redis-benchmark -h %s -q -n 2000 -t get 2>&1 | tr '\\r' '\\n' | "
			     "grep 'requests per second'",
			     SKIFF_IP) == 0);
	CU_ASSERT(strstr(out, "GET:") != NULL);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "redis-cli -h %s get viaskiff",
			     SKIFF_IP) == 0 &&
		  !strcmp(out, "1\n"));
	kill(ps.pid, SIGTERM);
	proc_finish(&ps, 10000);
	CU_ASSERT(strstr(ps.buf, "skiff-preload") == NULL || strstr(ps.buf, "FAIL") == NULL);
	proc_done(&ps);
	tb_run(NULL, "rm -rf %s %s", dir, sock);
	tb_pair_destroy(&pair);
}

static void policy_program(char *const opts[])
{
	char *prog[] = {PRELOAD_POLICY_PATH, SKIFF_IP, "7001", "7002", NULL};
	char out[256];
	struct proc p;

	testbed_up("plpol");
	start_on_skiff_opts(&p, opts, prog);
	proc_wait_up(&p, "READY", 15000, "preload_policy");
	/* The loopback listener is the kernel's; skiff's is not. */
	CU_ASSERT(tb_capture(pair.ns[0], out, sizeof(out), "ss -Htln") == 0);
	CU_ASSERT(strstr(out, "127.0.0.1:7002") != NULL);
	CU_ASSERT(strstr(out, ":7001") == NULL);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "timeout 10 bash -c 'exec 3<>/dev/tcp/%s/7001; printf skiff >&3; "
			     "head -c 5 <&3'",
			     SKIFF_IP) == 0);
	CU_ASSERT(!strcmp(out, "SKIFF"));
	proc_finish(&p, 20000);
	proc_expect(&p, 0, "PASS");
	for (const char *const *k = (const char *const[]){"blocking read with", "time left", NULL};
	     *k; k++) {
		const char *l = p.buf ? strstr(p.buf, *k) : NULL;

		if (l)
			tk_note("%.*s", (int)strcspn(l, "\n"), l);
	}
	proc_done(&p);
	tb_pair_destroy(&pair);
}

static void test_policy_program(void)
{
	policy_program(NULL);
}

/* The same program with every wait spinning a second before it sleeps:
 * the alarm that must end its blocking read with EINTR comes while the
 * read spins (it waited out its peer, 10 s, before the spin looked for a
 * held signal). */
static void test_policy_program_spinning(void)
{
	policy_program((char *const[]){"--spin-us", "1000000", NULL});
}

/*
 * Threads asleep on different skiff sockets each wake for their own data,
 * with the ticker off (preload_threads.c). One waiting thread sleeps on the
 * AF_XDP socket, the one waiting on the most skiff sockets; its poll
 * rounds wake the others whose sockets they made ready, through their
 * eventfds: a thread not woken so would sleep until lwIP's next timer
 * (5 ms; 4.65 ms median when the wake-up was taken out). When that thread
 * returns to the application and stays there 500 ms, the other is served
 * meanwhile (within 250 ms). That bound does not tell the hand-over of the
 * AF_XDP socket from lwIP's next timer, which also wakes the other within a
 * few ms (the run was as fast with the hand-over taken out); it catches a
 * thread that sleeps until the first one comes back.
 */
static void test_threads_wake_for_their_sockets(void)
{
	char *opts[] = {"--tick-ms", "0", NULL};
	char *prog[] = {PRELOAD_THREADS_PATH, SKIFF_IP, "7003", NULL};
	double idle = -1, median = -1, max = -1;
	char out[1024];
	const char *l;
	struct proc p;

	if (access("/usr/bin/python3", X_OK))
		tk_skip("python3 is not installed");
	testbed_up("plthr");
	start_on_skiff_opts(&p, opts, prog);
	proc_wait_up(&p, "READY", 15000, "preload_threads");
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "timeout 60 /usr/bin/python3 %s " SKIFF_IP " 7003 2>&1",
			     PRELOAD_THREADS_PEER_PATH) == 0);
	tk_note("%.*s", (int)strcspn(out, "\n"), out);
	CU_ASSERT(strstr(out, "DONE") != NULL);
	if ((l = strstr(out, "idle median ")))
		sscanf(l, "idle median %lf ms", &idle);
	if ((l = strstr(out, "is busy: ")))
		sscanf(l, "is busy: median %lf ms, max %lf ms", &median, &max);
	CU_ASSERT(idle >= 0 && idle < 2);
	CU_ASSERT(median >= 0);
	CU_ASSERT(max < 250);
	proc_finish(&p, 10000);
	proc_expect(&p, 0, "PASS");
	proc_done(&p);
	tb_pair_destroy(&pair);
}

/* ---- nginx: master and worker processes ------------------------------------ */

/* A scratch folder with a config, a 50 MB random file and a small one. */
static void nginx_prepare(char *dir, size_t len, unsigned workers)
{
	char conf[4096];
	FILE *f;

	snprintf(dir, len, "/tmp/skiff-preload-nginx-%d", (int)getpid());
	CU_ASSERT_FATAL(tb_run(NULL, "rm -rf %s && mkdir -p %s/www %s/tmp", dir, dir, dir) == 0);
	CU_ASSERT_FATAL(tb_run(NULL, "head -c 50000000 /dev/urandom > %s/www/big.bin", dir) == 0);
	CU_ASSERT_FATAL(tb_run(NULL, "echo skiff-nginx > %s/www/small.html", dir) == 0);
	/* Debian's defaults where they matter here: sendfile and tcp_nopush
	 * (TCP_CORK) on, workers that drop root (nobody). */
	snprintf(conf, sizeof(conf),
		 "daemon off;\nmaster_process on;\nworker_processes %u;\npid %s/nginx.pid;\n"
		 "error_log %s/error.log info;\nevents { worker_connections 4096; }\n"
		 "http {\n access_log off;\n sendfile on;\n tcp_nopush on;\n"
		 " client_body_temp_path %s/tmp/b;\n proxy_temp_path %s/tmp/p;\n"
		 " fastcgi_temp_path %s/tmp/f;\n uwsgi_temp_path %s/tmp/u;\n"
		 " scgi_temp_path %s/tmp/s;\n"
		 " server { listen " SKIFF_IP ":8080; root %s/www; }\n}\n",
		 workers, dir, dir, dir, dir, dir, dir, dir, dir);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/nginx.conf", dir);
		f = fopen(path, "w");
		CU_ASSERT_FATAL(f != NULL);
		fputs(conf, f);
		fclose(f);
	}
	/* The workers run as nobody: the files must be readable to them. */
	tb_run(NULL, "chmod -R a+rX %s", dir);
}

/* Waits until file @p path holds @p text (nginx moves its stderr, and so
 * the library's messages, into its error log). */
static bool file_wait_for(const char *path, const char *text, int timeout_ms)
{
	char buf[16384];

	for (int waited = 0; waited < timeout_ms; waited += 50) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		if (strstr(buf, text))
			return true;
		usleep(50000);
	}
	return false;
}

/* Starts nginx under skiff-run and waits until the worker has the stack. */
static void nginx_start(struct proc *ps, const char *dir)
{
	static char conf[128], elog[128];
	char *opts[] = {"-v", NULL};
	char *cmd[] = {"nginx", "-c", conf, "-e", elog, NULL};

	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	snprintf(elog, sizeof(elog), "%s/error.log", dir);
	start_on_skiff_opts(ps, opts, cmd);
	if (!file_wait_for(elog, "handed to the forked child", 15000) ||
	    !file_wait_for(elog, "start worker process", 5000)) {
		kill(ps->pid, SIGTERM); /* the master stops its workers */
		proc_finish(ps, 5000);
		proc_show(ps);
		tb_run(NULL, "cat %s/error.log >&2", dir);
		CU_FAIL_FATAL("nginx did not start a worker with skiff under skiff-run");
	}
}

/* Stops nginx (SIGTERM to the master, which stops its workers) and checks
 * its error log for alerts and emergencies. */
static void nginx_stop(struct proc *ps, const char *dir)
{
	char out[4096];

	/* The master passes SIGTERM on to the workers: each must wake from
	 * its wait and exit (a signal taken by the library's ticker thread
	 * would leave it asleep). */
	kill(ps->pid, SIGTERM);
	proc_finish(ps, 10000);
	CU_ASSERT(ps->status == 0);
	CU_ASSERT(tb_capture(NULL, out, sizeof(out), "grep -c 'exited with code 0' %s/error.log",
			     dir) == 0);
	tk_note("nginx stopped: exit %d, workers that exited with code 0: %s", ps->status, out);
	CU_ASSERT(tb_capture(NULL, out, sizeof(out),
			     "grep -E '\\[(alert|emerg|crit)\\]' %s/error.log || true", dir) == 0);
	if (*out)
		tk_note("nginx error log: %s", out);
	CU_ASSERT(*out == 0);
	proc_done(ps);
	tb_run(NULL, "rm -rf %s", dir);
}

/* wrk's "Requests/sec:" figure and request count, noted; asserts no
 * socket errors and no non-2xx answers. */
static double wrk_run(const char *ns, unsigned conns, unsigned secs, const char *url)
{
	char out[4096];
	double rps = -1;
	long reqs = 0;
	const char *l;

	CU_ASSERT(tb_capture(ns, out, sizeof(out), "wrk -t1 -c%u -d%us %s 2>&1", conns, secs,
			     url) == 0);
	if ((l = strstr(out, "Requests/sec:")))
		sscanf(l, "Requests/sec: %lf", &rps);
	if ((l = strstr(out, " requests in "))) {
		while (l > out && l[-1] != '\n')
			l--;
		sscanf(l, " %ld requests in", &reqs);
	}
	tk_note("wrk -t1 -c%u -d%us: %ld requests, %.0f req/s%s", conns, secs, reqs, rps,
		strstr(out, "Socket errors") ? strstr(out, "Socket errors") : "");
	CU_ASSERT(reqs > 0 && rps > 0);
	CU_ASSERT(strstr(out, "Non-2xx") == NULL);
	return rps;
}

static void test_nginx_server(void)
{
	char dir[96], out[256], want[128];
	struct proc ps;

	if (access("/usr/sbin/nginx", X_OK) || !have("curl") || !have("wrk"))
		tk_skip("nginx, curl or wrk is not installed (tests/host/setup.sh installs them)");
	testbed_up("plnginx");
	nginx_prepare(dir, sizeof(dir), 1);
	nginx_start(&ps, dir);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "curl -sf -m 10 http://" SKIFF_IP ":8080/small.html") == 0);
	CU_ASSERT(!strcmp(out, "skiff-nginx\n"));
	/* 50 MB through sendfile with TCP_CORK, every byte compared. */
	CU_ASSERT(tb_capture(NULL, want, sizeof(want), "sha256sum < %s/www/big.bin", dir) == 0);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "curl -sf -m 60 -o %s/got.bin -w '%%{size_download} "
			     "%%{speed_download}' http://" SKIFF_IP ":8080/big.bin",
			     dir) == 0);
	{
		char got[128];
		double size = 0, speed = 0;

		sscanf(out, "%lf %lf", &size, &speed);
		CU_ASSERT(tb_capture(NULL, got, sizeof(got), "sha256sum < %s/got.bin", dir) == 0);
		tk_note("curl 50 MB: %.0f bytes at %.1f MB/s, sha256 %s", size, speed / 1e6,
			strcmp(got, want) ? "DIFFERENT" : "equal");
		CU_ASSERT(size == 50000000);
		CU_ASSERT(!strcmp(got, want));
	}
	wrk_run(pair.ns[1], 64, 3, "http://" SKIFF_IP ":8080/small.html");
	wrk_run(pair.ns[1], 1000, 3, "http://" SKIFF_IP ":8080/small.html");
	/* Still serving after the runs. */
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "curl -sf -m 10 http://" SKIFF_IP ":8080/small.html") == 0 &&
		  !strcmp(out, "skiff-nginx\n"));
	nginx_stop(&ps, dir);
	tb_pair_destroy(&pair);
}

/* Two workers: the first gets the stack and serves everything; the second
 * idles with one warning. */
static void test_nginx_two_workers(void)
{
	char dir[96], out[256];
	struct proc ps;

	if (access("/usr/sbin/nginx", X_OK) || !have("curl"))
		tk_skip("nginx or curl is not installed (tests/host/setup.sh installs them)");
	testbed_up("plngx2");
	nginx_prepare(dir, sizeof(dir), 2);
	nginx_start(&ps, dir);
	{
		char elog[128];

		snprintf(elog, sizeof(elog), "%s/error.log", dir);
		CU_ASSERT(file_wait_for(elog, "it will report no events", 10000));
	}
	for (int i = 0; i < 20; i++)
		CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
				     "curl -sf -m 10 http://" SKIFF_IP ":8080/small.html") == 0 &&
			  !strcmp(out, "skiff-nginx\n"));
	tk_note("worker_processes 2: 20 requests served by the worker that has the stack");
	nginx_stop(&ps, dir);
	tb_pair_destroy(&pair);
}

/* ---- memcached: threads ------------------------------------------------------ */

static void test_memcached_server(void)
{
	/* Quiet: -vv logs every command to a pipe read only between checks. */
	char *server[] = {"memcached", "-u",	"root", "-l", SKIFF_IP,
			  "-p",	       "11211", "-U",	"0",  NULL};
	char out[4096];
	struct proc ps;

	if (!have("memcached") || !have("memcslap") || access("/usr/bin/python3", X_OK) ||
	    tb_run(NULL, "/usr/bin/python3 -c 'import pymemcache' 2>/dev/null"))
		tk_skip("memcached, libmemcached-tools or python3-pymemcache is not installed "
			"(tests/host/setup.sh installs them)");
	testbed_up("plmemc");
	/* memcached's default: 4 worker threads beside the one that accepts. */
	start_on_skiff(&ps, server);
	if (tb_run(pair.ns[1], "for i in $(seq 150); do memcping --servers=" SKIFF_IP
			       ":11211 && exit 0; sleep 0.1; done; exit 1")) {
		kill(ps.pid, SIGTERM);
		proc_finish(&ps, 5000);
		proc_show(&ps);
		CU_FAIL_FATAL("memcached did not come up under skiff-run");
	}
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "timeout 120 /usr/bin/python3 %s " SKIFF_IP " 11211 8 300 2>&1",
			     MEMCACHED_CLIENT_PATH) == 0);
	tk_note("pymemcache: %s", out);
	CU_ASSERT(strstr(out, "PASS") != NULL);
	CU_ASSERT(strstr(out, "threads 4") != NULL);
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out),
			     "timeout 120 memcslap --servers=" SKIFF_IP
			     ":11211 --concurrency=16 --execute-number=2000 2>&1 | "
			     "grep -E 'Time to (load|read|set)|Failure'") == 0);
	tk_note("memcslap 16 threads: %s", out);
	CU_ASSERT(strstr(out, "Time to set") != NULL);
	CU_ASSERT(strstr(out, "Failure") == NULL);
	kill(ps.pid, SIGTERM);
	proc_finish(&ps, 10000);
	CU_ASSERT(strstr(ps.buf, "skiff could not") == NULL);
	proc_done(&ps);
	tb_pair_destroy(&pair);
}

/* The launcher's clear errors. */
/* An unmodified MPTCP server on skiff (RFC 8684; IPPROTO_MPTCP through
 * the preload): a Python echo server asks for socket(AF_INET,
 * SOCK_STREAM, IPPROTO_MPTCP) under skiff-run and reads MPTCP_INFO on
 * the connection it accepts (which fails on a connection that fell back,
 * as on Linux); a Linux MPTCP client sends 4 MiB and reads them back,
 * equal. Linux counted MP_CAPABLE completed, no fallback. */
static void test_mptcp_server(void)
{
	static const char server[] =
		"import socket, sys\n"
		"s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n"
		"s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
		"s.bind((sys.argv[1], int(sys.argv[2])))\n"
		"s.listen(4)\n"
		"print('LISTENING', flush=True)\n"
		"c, _ = s.accept()\n"
		"print('MPTCP_INFO', len(c.getsockopt(284, 1, 96)), flush=True)\n"
		"n = 0\n"
		"while True:\n"
		"    d = c.recv(65536)\n"
		"    if not d:\n"
		"        break\n"
		"    c.sendall(d)\n"
		"    n += len(d)\n"
		"c.close()\n"
		"print('ECHOED', n, flush=True)\n";
	static const char client[] =
		"import os, socket, sys, threading\n"
		"data = os.urandom(4 << 20)\n"
		"c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)\n"
		"c.connect((sys.argv[1], int(sys.argv[2])))\n"
		"def send():\n"
		"    c.sendall(data)\n"
		"    c.shutdown(socket.SHUT_WR)\n"
		"t = threading.Thread(target=send)\n"
		"t.start()\n"
		"got = bytearray()\n"
		"while True:\n"
		"    d = c.recv(1 << 20)\n"
		"    if not d:\n"
		"        break\n"
		"    got += d\n"
		"t.join()\n"
		"print('EQUAL' if bytes(got) == data else 'DIFFERENT', len(got))\n";
	char dir[] = "/tmp/skiff-plmptcp.XXXXXX", path[2][64], out[512];
	char *cmd[] = {"python3", path[0], SKIFF_IP, "7010", NULL};
	unsigned long long synack = 0, fallback = 1;
	const char *at;
	struct proc ps;

	testbed_up("plmp");
	if (tb_run(pair.ns[1], "sysctl -q -w net.mptcp.enabled=1") != 0)
		tk_skip("no MPTCP in this kernel (net.mptcp.enabled)");
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	for (int i = 0; i < 2; i++) {
		FILE *f;

		snprintf(path[i], sizeof(path[i]), "%s/%s.py", dir, i ? "client" : "server");
		f = fopen(path[i], "w");
		CU_ASSERT_FATAL(f != NULL);
		fputs(i ? client : server, f);
		fclose(f);
	}
	start_on_skiff(&ps, cmd);
	proc_wait_up(&ps, "LISTENING", 15000, "the Python MPTCP server under skiff-run");
	CU_ASSERT(tb_capture(pair.ns[1], out, sizeof(out), "timeout 60 python3 %s %s 7010", path[1],
			     SKIFF_IP) == 0);
	tk_note("Linux client: %s", out);
	CU_ASSERT(strstr(out, "EQUAL 4194304") != NULL);
	proc_finish(&ps, 10000);
	proc_expect(&ps, 0, "ECHOED 4194304");
	CU_ASSERT(strstr(ps.buf, "MPTCP_INFO 96") != NULL);
	CU_ASSERT(tb_capture(
			  pair.ns[1], out, sizeof(out),
			  "nstat -asz MPTcpExtMPCapableSYNACKRX MPTcpExtMPCapableFallbackSYNACK") ==
		  0);
	if ((at = strstr(out, "MPTcpExtMPCapableSYNACKRX ")))
		synack = strtoull(at + strlen("MPTcpExtMPCapableSYNACKRX "), NULL, 10);
	if ((at = strstr(out, "MPTcpExtMPCapableFallbackSYNACK ")))
		fallback = strtoull(at + strlen("MPTcpExtMPCapableFallbackSYNACK "), NULL, 10);
	tk_note("Linux: MPCapableSYNACKRX %llu, MPCapableFallbackSYNACK %llu", synack, fallback);
	TK_ASSERT_EQ(synack, 1);
	TK_ASSERT_EQ(fallback, 0);
	proc_done(&ps);
	tb_run(NULL, "rm -rf %s", dir);
	tb_pair_destroy(&pair);
}

static void test_skiff_run_bad_use(void)
{
	if (geteuid() != 0)
		tk_skip("needs root to get past the root check");
	BAD(0, "no interface", SKIFF_RUN_PATH, "--ip", "10.9.9.9/24", "--", "true");
	BAD(0, "no address", SKIFF_RUN_PATH, "-i", "lo", "--", "true");
	BAD(0, "no interface skiffnope0", SKIFF_RUN_PATH, "-i", "skiffnope0", "--ip", "10.9.9.9/24",
	    "--", "true");
	BAD(0, "is not an IPv4 ADDR/PREFIX", SKIFF_RUN_PATH, "-i", "lo", "--ip", "nope", "--",
	    "true");
	BAD(0, "no command to run", SKIFF_RUN_PATH, "-i", "lo", "--ip", "10.9.9.9/24");
	BAD(0, "is not an IPv6 ADDR/PREFIX", SKIFF_RUN_PATH, "-i", "lo", "--ip", "10.9.9.9/24",
	    "--ip6", "10.1.1.1", "--", "true");
	BAD(0, "SKIFF_FORK 'both'", SKIFF_RUN_PATH, "-i", "lo", "--ip", "10.9.9.9/24", "--fork",
	    "both", "--", "true");
	BAD(NOBODY, "needs root", SKIFF_RUN_PATH, "-i", "lo", "--ip", "10.9.9.9/24", "--", "true");
}

static const struct tk_case tests[] = {
	TK_TEST(test_skiff_run_bad_use),
	TK_TEST(test_policy_program),
	TK_TEST(test_policy_program_spinning),
	TK_TEST(test_threads_wake_for_their_sockets),
	TK_TEST(test_iperf3_server),
	TK_TEST(test_iperf3_server_reverse),
	TK_TEST(test_iperf3_ipv6),
	TK_TEST(test_ipv6_gateway),
	TK_TEST(test_redis_server),
	TK_TEST(test_nginx_server),
	TK_TEST(test_nginx_two_workers),
	TK_TEST(test_memcached_server),
	TK_TEST(test_mptcp_server),
	TK_TEST_END,
};
static const struct tk_suite suite = {"preload", NULL, teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
