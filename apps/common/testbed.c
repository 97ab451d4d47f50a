/* The testbed (testbed.h). Namespaces are made by iproute2 and deleted the
 * way `ip netns del` does it (unmount and unlink the name), which is
 * async-signal-safe and so also works from a signal handler. */
#define _GNU_SOURCE
#include "testbed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NETNS_DIR    "/run/netns"
#define NETNS_PREFIX "skiffdemo-"
#define LINK_PREFIX  "sd"
#define IP_ARGS_MAX  32
#define CMD_MAX	     1024

static const char *tb_prog;
static char ns_names[TB_MAX_NS][TB_NS_NAME_MAX];
static volatile sig_atomic_t ns_live[TB_MAX_NS];
static volatile pid_t children[TB_MAX_CHILD];
static unsigned veth_seq;
static int home_fd = -1;	     /* the thread's namespace before tb_enter() */
static char entered[TB_NS_NAME_MAX]; /* where tb_enter() put it, or "" */
static bool inited;
/* A forked child inherits all of this: only the process that built the
 * testbed may tear it down. */
static pid_t owner;

/* Cleaned up on, then passed on as before. */
static const int cleanup_signals[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT, SIGABRT,
				      SIGSEGV, SIGBUS,	SIGFPE, SIGILL};
#define NSIGNALS (sizeof(cleanup_signals) / sizeof(cleanup_signals[0]))
static struct sigaction saved_actions[NSIGNALS];

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: testbed: ", tb_prog ? tb_prog : program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char *ip_path(void)
{
	static const char *const paths[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* NETNS_DIR "/" name into buf, without stdio (signal handlers call it). */
static void ns_path(char *buf, size_t len, const char *name)
{
	size_t n = sizeof(NETNS_DIR) - 1, k = strlen(name);

	if (n + 1 + k + 1 > len) {
		buf[0] = '\0';
		return;
	}
	memcpy(buf, NETNS_DIR, n);
	buf[n] = '/';
	memcpy(buf + n + 1, name, k + 1);
}

/* Async-signal-safe. Unlinking also detaches the name's mount in other
 * mount namespaces (tb_private_bpffs() may have made one). */
static void remove_name(const char *name)
{
	char path[sizeof(NETNS_DIR) + TB_NS_NAME_MAX + 1];

	ns_path(path, sizeof(path), name);
	if (!path[0])
		return;
	umount2(path, MNT_DETACH);
	unlink(path);
}

/* Async-signal-safe. */
static void remove_names(void)
{
	for (unsigned i = 0; i < TB_MAX_NS; i++) {
		if (ns_live[i]) {
			ns_live[i] = 0;
			remove_name(ns_names[i]);
		}
	}
}

/* Async-signal-safe. */
static void kill_children(void)
{
	for (unsigned i = 0; i < TB_MAX_CHILD; i++) {
		pid_t pid = children[i];

		if (pid > 0) {
			children[i] = 0;
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
}

void tb_emergency(void)
{
	if (!inited || getpid() != owner)
		return;
	kill_children();
	remove_names();
}

static void on_signal(int sig)
{
	tb_emergency();
	for (unsigned i = 0; i < NSIGNALS; i++)
		if (cleanup_signals[i] == sig)
			sigaction(sig, &saved_actions[i], NULL);
	raise(sig);
}

static void at_exit(void)
{
	tb_destroy();
}

static void install_hooks(void)
{
	struct sigaction sa;

	atexit(at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < NSIGNALS; i++) {
		sigaction(cleanup_signals[i], NULL, &saved_actions[i]);
		/* nohup and the like: an ignored signal stays ignored. */
		if (saved_actions[i].sa_handler != SIG_IGN)
			sigaction(cleanup_signals[i], &sa, NULL);
	}
}

static bool ours(const char *name, const char *prefix, pid_t pid, char end)
{
	size_t n = strlen(prefix);
	char *stop;
	long p;

	if (strncmp(name, prefix, n) != 0)
		return false;
	p = strtol(name + n, &stop, 10);
	if (stop == name + n || p != pid)
		return false;
	return end ? *stop == end : *stop < '0' || *stop > '9';
}

/* Names of runs whose process is gone (killed before cleaning up). */
static void sweep_stale(void)
{
	struct dirent *e;
	DIR *d = opendir(NETNS_DIR);

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(e->d_name, NETNS_PREFIX, sizeof(NETNS_PREFIX) - 1) != 0)
			continue;
		pid = strtol(e->d_name + sizeof(NETNS_PREFIX) - 1, &end, 10);
		if (*end != '-' || pid <= 0 || pid == getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		say("removing namespace %s left by an earlier run", e->d_name);
		remove_name(e->d_name);
	}
	closedir(d);
}

int tb_init(const char *prog)
{
	if (prog)
		tb_prog = prog;
	if (inited && owner == getpid())
		return 0;
	if (inited) {
		/* A forked child building a testbed of its own: what it
		 * inherited is its parent's to tear down (the hooks stay). */
		for (unsigned i = 0; i < TB_MAX_NS; i++)
			ns_live[i] = 0;
		for (unsigned i = 0; i < TB_MAX_CHILD; i++)
			children[i] = 0;
		entered[0] = '\0';
		owner = getpid();
		return 0;
	}
	inited = true;
	owner = getpid();
	install_hooks();
	sweep_stale();
	return 0;
}

bool tb_available(char *why, size_t len)
{
	const char *reason = NULL;
	int fd;

	if (geteuid() != 0)
		reason = "not running as root (network namespaces, veth and XDP need it)";
	else if (!ip_path())
		reason = "iproute2's ip is not installed (tests/host/setup.sh installs it)";
	else if ((fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		reason = "network namespaces are not available in this kernel";
	else
		close(fd);
	if (reason && why && len)
		snprintf(why, len, "%s", reason);
	return !reason;
}

/* Runs argv (argv[0] a path) and waits; its stdout goes to out (len bytes,
 * terminated) or to our stderr. Returns the exit status, 128+signal, or
 * -errno. */
static int run_argv(char *const argv[], char *out, size_t len)
{
	int pfd[2] = {-1, -1}, status;
	size_t used = 0;
	pid_t pid;

	if (out && pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		if (out) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return e;
	}
	if (pid == 0) {
		/* A Ctrl-C meant for us must not cut a set-up step short. */
		signal(SIGINT, SIG_IGN);
		dup2(out ? pfd[1] : STDERR_FILENO, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	if (out) {
		close(pfd[1]);
		for (;;) {
			ssize_t n = read(pfd[0], out + used, len - 1 - used);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			used += (size_t)n;
			if (used == len - 1) {
				char sink[256];

				while (read(pfd[0], sink, sizeof(sink)) > 0)
					;
				break;
			}
		}
		out[used] = '\0';
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int vip(const char *ns, va_list ap)
{
	char *argv[IP_ARGS_MAX];
	char cmd[512];
	size_t used = 0;
	int n = 0, rc;
	const char *a;

	argv[n++] = (char *)ip_path();
	if (!argv[0])
		return -ENOENT;
	if (ns) {
		argv[n++] = "-n";
		argv[n++] = (char *)ns;
	}
	while ((a = va_arg(ap, const char *)) && n < IP_ARGS_MAX - 1)
		argv[n++] = (char *)a;
	argv[n] = NULL;
	rc = run_argv(argv, NULL, 0);
	if (rc == 0)
		return 0;
	for (int i = 0; i < n && used < sizeof(cmd); i++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "",
					 argv[i]);
	say("'%s' failed (%s %d)", cmd, rc < 0 ? "error" : "status", rc < 0 ? -rc : rc);
	return -EIO;
}

int tb_ip(const char *ns, ...)
{
	va_list ap;
	int rc;

	va_start(ap, ns);
	rc = vip(ns, ap);
	va_end(ap);
	return rc;
}

static int vrun(const char *ns, char *out, size_t len, const char *fmt, va_list ap)
{
	char cmd[CMD_MAX];
	char *sh[] = {"/bin/sh", "-c", cmd, NULL};
	char *in_ns[] = {(char *)ip_path(), "netns", "exec", (char *)ns,
			 "/bin/sh",	    "-c",    cmd,    NULL};
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);

	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -ENAMETOOLONG;
	if (ns && !in_ns[0])
		return -ENOENT;
	return run_argv(ns ? in_ns : sh, out, len);
}

int tb_run(const char *ns, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrun(ns, NULL, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int tb_capture(const char *ns, char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!out || !len)
		return -EINVAL;
	va_start(ap, fmt);
	rc = vrun(ns, out, len, fmt, ap);
	va_end(ap);
	return rc;
}

static bool safe_word(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '-')
			return false;
	return true;
}

int tb_ns_create(char *name, size_t len, const char *role)
{
	char buf[TB_NS_NAME_MAX];
	int slot = -1, n, rc;

	tb_init(NULL);
	if (!safe_word(role))
		return -EINVAL;
	sweep_stale();
	n = snprintf(buf, sizeof(buf), NETNS_PREFIX "%d-%s", (int)getpid(), role);
	if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n >= len)
		return -ENAMETOOLONG;
	for (int i = 0; i < TB_MAX_NS; i++) {
		if (ns_live[i] && strcmp(ns_names[i], buf) == 0)
			return -EEXIST;
		if (!ns_live[i] && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -ENOSPC;
	/* Registered before it exists: a signal in between still cleans up. */
	memcpy(ns_names[slot], buf, (size_t)n + 1);
	ns_live[slot] = 1;
	rc = tb_ip(NULL, "netns", "add", buf, (char *)NULL);
	if (!rc)
		rc = tb_ip(buf, "link", "set", "lo", "up", (char *)NULL);
	if (rc) {
		ns_live[slot] = 0;
		remove_name(buf);
		return rc;
	}
	memcpy(name, buf, (size_t)n + 1);
	return 0;
}

void tb_ns_destroy(const char *name)
{
	if (!name || !*name || !inited || getpid() != owner)
		return;
	if (strcmp(entered, name) == 0)
		tb_enter(NULL);
	for (unsigned i = 0; i < TB_MAX_NS; i++) {
		if (ns_live[i] && strcmp(ns_names[i], name) == 0) {
			ns_live[i] = 0;
			remove_name(name);
		}
	}
}

int tb_ns_fd(const char *ns)
{
	char path[sizeof(NETNS_DIR) + TB_NS_NAME_MAX + 1];
	int fd;

	ns_path(path, sizeof(path), ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int tb_enter(const char *ns)
{
	int fd;

	if (home_fd < 0) {
		home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (home_fd < 0)
			return -errno;
	}
	if (!ns) {
		if (setns(home_fd, CLONE_NEWNET) != 0)
			return -errno;
		entered[0] = '\0';
		return 0;
	}
	fd = tb_ns_fd(ns);
	if (fd < 0)
		return fd;
	if (setns(fd, CLONE_NEWNET) != 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	snprintf(entered, sizeof(entered), "%s", ns);
	return 0;
}

/* Runs fn inside ns and comes back; returns what fn returned. */
static int in_ns(const char *ns, int (*fn)(const void *), const void *arg)
{
	int cur = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), fd, rc;

	if (cur < 0)
		return -errno;
	fd = tb_ns_fd(ns);
	if (fd < 0) {
		close(cur);
		return fd;
	}
	if (setns(fd, CLONE_NEWNET) != 0) {
		rc = -errno;
		goto out_close;
	}
	rc = fn(arg);
	if (setns(cur, CLONE_NEWNET) != 0) {
		/* Stuck in the wrong namespace: nothing after this is sound. */
		say("cannot return to the original network namespace: %s", strerror(errno));
		abort();
	}
out_close:
	close(fd);
	close(cur);
	return rc;
}

struct socket_args {
	int domain, type, protocol;
};

static int open_socket(const void *arg)
{
	const struct socket_args *a = arg;
	int s = socket(a->domain, a->type | SOCK_CLOEXEC, a->protocol);

	return s < 0 ? -errno : s;
}

int tb_socket(const char *ns, int domain, int type, int protocol)
{
	struct socket_args a = {domain, type, protocol};

	return in_ns(ns, open_socket, &a);
}

/* An interface ioctl on @p ifname in @p ns; @p data (may be NULL) goes in
 * ifr_data. */
static int ifreq_ioctl(const char *ns, const char *ifname, unsigned long req, struct ifreq *ifr,
		       void *data)
{
	int s = tb_socket(ns, AF_INET, SOCK_DGRAM, 0), e = 0;

	if (s < 0)
		return s;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	ifr->ifr_data = data;
	if (ioctl(s, req, ifr) != 0)
		e = -errno;
	close(s);
	return e;
}

int tb_ifindex(const char *ns, const char *ifname)
{
	struct ifreq ifr;
	int e = ifreq_ioctl(ns, ifname, SIOCGIFINDEX, &ifr, NULL);

	return e ? e : ifr.ifr_ifindex;
}

int tb_mac(const char *ns, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int e = ifreq_ioctl(ns, ifname, SIOCGIFHWADDR, &ifr, NULL);

	if (!e)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return e;
}

int tb_tx_csum(const char *ns, const char *ifname, bool on)
{
	struct ethtool_value v = {.cmd = ETHTOOL_STXCSUM, .data = on};
	struct ifreq ifr;

	return ifreq_ioctl(ns, ifname, SIOCETHTOOL, &ifr, &v);
}

int tb_veth(const char *ns_a, char *if_a, const char *ns_b, char *if_b, const char *role,
	    unsigned queues)
{
	char q[16];
	int rc;

	if (!queues)
		queues = 1;
	snprintf(q, sizeof(q), "%u", queues);
	snprintf(if_a, IF_NAMESIZE, LINK_PREFIX "%d%c%ua", (int)getpid(), role[0], veth_seq % 100);
	snprintf(if_b, IF_NAMESIZE, LINK_PREFIX "%d%c%ub", (int)getpid(), role[0], veth_seq % 100);
	veth_seq++;
	rc = tb_ip(NULL, "link", "add", if_a, "numrxqueues", q, "numtxqueues", q, "netns", ns_a,
		   "type", "veth", "peer", "name", if_b, "numrxqueues", q, "numtxqueues", q,
		   "netns", ns_b, (char *)NULL);
	if (!rc)
		rc = tb_ip(ns_a, "link", "set", if_a, "up", (char *)NULL);
	if (!rc)
		rc = tb_ip(ns_b, "link", "set", if_b, "up", (char *)NULL);
	if (!rc && (rc = tb_tx_csum(ns_a, if_a, false)) != 0)
		say("%s: turning TX checksum offload off: %s", if_a, strerror(-rc));
	if (!rc && (rc = tb_tx_csum(ns_b, if_b, false)) != 0)
		say("%s: turning TX checksum offload off: %s", if_b, strerror(-rc));
	return rc;
}

int tb_addr(const char *ns, const char *ifname, const char *cidr)
{
	/* No duplicate address detection: the address is usable at once. */
	if (strchr(cidr, ':'))
		return tb_ip(ns, "addr", "add", cidr, "dev", ifname, "nodad", (char *)NULL);
	return tb_ip(ns, "addr", "add", cidr, "dev", ifname, (char *)NULL);
}

int tb_link(const char *ns_a, char *if_a, const char *cidr_a, const char *ns_b, char *if_b,
	    const char *cidr_b, const char *role)
{
	int rc = tb_veth(ns_a, if_a, ns_b, if_b, role, 1);

	if (!rc && cidr_a)
		rc = tb_addr(ns_a, if_a, cidr_a);
	if (!rc && cidr_b)
		rc = tb_addr(ns_b, if_b, cidr_b);
	return rc;
}

struct sysctl_arg {
	const char *key, *value;
};

static int write_sysctl(const void *arg)
{
	const struct sysctl_arg *a = arg;
	char path[256];
	size_t n = strlen(a->value);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", a->key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, a->value, n) != (ssize_t)n)
		rc = -errno;
	close(fd);
	return rc;
}

int tb_sysctl(const char *ns, const char *key, const char *value)
{
	struct sysctl_arg a = {key, value};
	int rc = in_ns(ns, write_sysctl, &a);

	if (rc)
		say("setting %s=%s in %s: %s", key, value, ns, strerror(-rc));
	return rc;
}

int tb_route_via(const char *leaf, const char *router, const char *gw)
{
	int rc = tb_ip(leaf, "route", "add", "default", "via", gw, (char *)NULL);

	return rc ? rc : tb_sysctl(router, "net/ipv4/ip_forward", "1");
}

int tb_pair_create(struct tb_pair *p, const char *tag, unsigned queues, const char *cidr0,
		   const char *cidr1)
{
	char peer[TB_NS_NAME_MAX];
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(peer, sizeof(peer), "%s-peer", tag ? tag : "");
	rc = tb_ns_create(p->ns[0], sizeof(p->ns[0]), tag);
	if (!rc)
		rc = tb_ns_create(p->ns[1], sizeof(p->ns[1]), peer);
	if (!rc)
		rc = tb_veth(p->ns[0], p->ifname[0], p->ns[1], p->ifname[1], tag, queues);
	if (!rc && cidr0)
		rc = tb_addr(p->ns[0], p->ifname[0], cidr0);
	if (!rc && cidr1)
		rc = tb_addr(p->ns[1], p->ifname[1], cidr1);
	if (rc)
		tb_pair_destroy(p);
	return rc;
}

void tb_pair_destroy(struct tb_pair *p)
{
	tb_ns_destroy(p->ns[0]);
	tb_ns_destroy(p->ns[1]);
	memset(p, 0, sizeof(*p));
}

pid_t tb_spawn(const char *ns, int (*fn)(void *arg), void *arg)
{
	pid_t parent = getpid(), pid;
	int slot = -1, fd = -1;

	tb_init(NULL);
	for (int i = 0; i < TB_MAX_CHILD && slot < 0; i++)
		if (!children[i])
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	if (ns && (fd = tb_ns_fd(ns)) < 0)
		return fd;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		if (fd >= 0)
			close(fd);
		return e;
	}
	if (pid == 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGINT, &sa, NULL);
		sa.sa_handler = SIG_DFL;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126); /* the parent died before prctl */
		if (fd >= 0 && setns(fd, CLONE_NEWNET) != 0) {
			say("child: entering %s: %s", ns, strerror(errno));
			_exit(126);
		}
		_exit(fn(arg));
	}
	if (fd >= 0)
		close(fd);
	children[slot] = pid;
	return pid;
}

void tb_forget_child(pid_t pid)
{
	for (unsigned i = 0; i < TB_MAX_CHILD; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tb_stop_child(pid_t pid, int grace_ms)
{
	long long end = now_ms() + grace_ms;
	int status;
	pid_t r;

	if (pid <= 0)
		return -EINVAL;
	kill(pid, SIGTERM);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end)
		usleep(2000);
	if (r == 0) {
		kill(pid, SIGKILL);
		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	tb_forget_child(pid);
	if (r < 0)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int tb_private_bpffs(void)
{
	static bool done;

	if (done)
		return 0;
	if (unshare(CLONE_NEWNS) != 0)
		return -errno;
	/* Slave: the host's mounts still show, ours never leak back. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0)
		return -errno;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
		return -errno;
	done = true;
	return 0;
}

void tb_destroy(void)
{
	if (!inited || getpid() != owner)
		return;
	for (unsigned i = 0; i < TB_MAX_CHILD; i++)
		if (children[i] > 0)
			tb_stop_child(children[i], 500);
	if (home_fd >= 0)
		tb_enter(NULL);
	remove_names();
}

unsigned tb_leftover_namespaces(pid_t pid)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d = opendir(NETNS_DIR);

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += ours(e->d_name, NETNS_PREFIX, pid, '-');
	closedir(d);
	return n;
}

unsigned tb_leftover_links(pid_t pid)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d = opendir("/sys/class/net");

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += ours(e->d_name, LINK_PREFIX, pid, 0);
	closedir(d);
	return n;
}
