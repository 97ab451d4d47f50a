/* Network namespaces and veth pairs for tests (netns.h). Namespaces are
 * made by iproute2 and deleted the way `ip netns del` does it (unmount and
 * unlink its name), which is async-signal-safe and so also works from the
 * signal handler. */
#define _GNU_SOURCE
#include "netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NETNS_DIR    "/run/netns"
#define NETNS_PREFIX "skiff-"
#define MAX_NS	     16
#define CMD_MAX	     1024

static char names[MAX_NS][SKIFF_NETNS_NAME_MAX];
static volatile sig_atomic_t live[MAX_NS];
static unsigned seq;
static int home_fd = -1; /* the thread's namespace before skiff_netns_enter() */
static char entered[SKIFF_NETNS_NAME_MAX];

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
#define NSIGNALS (sizeof(cleanup_signals) / sizeof(cleanup_signals[0]))
static struct sigaction saved_actions[NSIGNALS];
static bool hooks_installed;
/* A forked child inherits the hooks and the mount namespace: only the
 * process that made the namespaces may delete them. */
static pid_t owner;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("netns: ", stderr);
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
	return "ip";
}

/* NETNS_DIR "/" name into buf, without stdio (called from a signal handler). */
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

/* Async-signal-safe. */
static void remove_name(const char *name)
{
	char path[sizeof(NETNS_DIR) + SKIFF_NETNS_NAME_MAX + 1];

	ns_path(path, sizeof(path), name);
	if (!path[0])
		return;
	umount2(path, MNT_DETACH);
	unlink(path);
}

static void on_signal(int sig)
{
	for (unsigned i = 0; i < MAX_NS && getpid() == owner; i++) {
		if (live[i]) {
			live[i] = 0;
			remove_name(names[i]);
		}
	}
	for (unsigned i = 0; i < NSIGNALS; i++)
		if (cleanup_signals[i] == sig)
			sigaction(sig, &saved_actions[i], NULL);
	raise(sig);
}

static void install_hooks(void)
{
	struct sigaction sa;

	if (hooks_installed)
		return;
	hooks_installed = true;
	owner = getpid();
	atexit(skiff_netns_destroy_all);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < NSIGNALS; i++)
		sigaction(cleanup_signals[i], &sa, &saved_actions[i]);
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
		say("removing stale namespace %s", e->d_name);
		remove_name(e->d_name);
	}
	closedir(d);
}

/* Runs `sh -c cmd`, inside ns when given; its stdout goes to out (len
 * bytes, terminated) or to our stderr. Returns the exit status. */
static int spawn(const char *ns, const char *cmd, char *out, size_t len)
{
	const char *ip = ip_path();
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
		dup2(out ? pfd[1] : STDERR_FILENO, STDOUT_FILENO);
		if (ns)
			execl(ip, "ip", "netns", "exec", ns, "/bin/sh", "-c", cmd, (char *)NULL);
		else
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
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

static int vrun(const char *ns, char *out, size_t len, const char *fmt, va_list ap)
{
	char cmd[CMD_MAX];
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);

	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -ENAMETOOLONG;
	return spawn(ns, cmd, out, len);
}

int skiff_netns_run(const char *ns, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vrun(ns, NULL, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int skiff_netns_capture(const char *ns, char *out, size_t len, const char *fmt, ...)
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

/* A command that must succeed: 0, or -EIO after saying what failed. */
__attribute__((format(printf, 2, 3))) static int must(const char *ns, const char *fmt, ...)
{
	char cmd[CMD_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof(cmd))
		return -ENAMETOOLONG;
	rc = spawn(ns, cmd, NULL, 0);
	if (rc == 0)
		return 0;
	say("'%s'%s%s failed (%d)", cmd, ns ? " in " : "", ns ? ns : "", rc);
	return rc < 0 ? rc : -EIO;
}

static bool safe_word(const char *s)
{
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

int skiff_netns_private_mounts(void)
{
	static bool done;

	if (done)
		return 0;
	if (unshare(CLONE_NEWNS) != 0) {
		say("unshare(CLONE_NEWNS): %s", strerror(errno));
		return -errno;
	}
	/* Slave: the host's mounts still show, ours never leak back. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
		say("making / a slave mount: %s", strerror(errno));
		return -errno;
	}
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
		say("mount -t bpf bpf /sys/fs/bpf: %s", strerror(errno));
		return -errno;
	}
	done = true;
	return 0;
}

int skiff_netns_create(char *name, size_t len, const char *tag)
{
	char buf[SKIFF_NETNS_NAME_MAX];
	int slot = -1, n, rc;

	if (!tag || !*tag)
		tag = "t";
	if (!safe_word(tag))
		return -EINVAL;
	install_hooks();
	sweep_stale();
	for (int i = 0; i < MAX_NS && slot < 0; i++)
		if (!live[i])
			slot = i;
	if (slot < 0)
		return -ENOSPC;
	n = snprintf(buf, sizeof(buf), NETNS_PREFIX "%d-%u-%s", (int)getpid(), seq++, tag);
	if (n < 0 || (size_t)n >= sizeof(buf) || (size_t)n >= len)
		return -ENAMETOOLONG;
	/* Registered before it exists: a signal in between still cleans up. */
	memcpy(names[slot], buf, (size_t)n + 1);
	live[slot] = 1;
	rc = must(NULL, "%s netns add %s", ip_path(), buf);
	if (!rc)
		rc = must(buf, "%s link set lo up", ip_path());
	if (rc) {
		live[slot] = 0;
		remove_name(buf);
		return rc;
	}
	memcpy(name, buf, (size_t)n + 1);
	return 0;
}

void skiff_netns_destroy(const char *name)
{
	if (!name || !*name)
		return;
	if (strcmp(entered, name) == 0)
		skiff_netns_enter(NULL);
	for (unsigned i = 0; i < MAX_NS; i++) {
		if (live[i] && strcmp(names[i], name) == 0) {
			live[i] = 0;
			remove_name(name);
		}
	}
}

void skiff_netns_destroy_all(void)
{
	if (hooks_installed && getpid() != owner)
		return;
	if (entered[0])
		skiff_netns_enter(NULL);
	for (unsigned i = 0; i < MAX_NS; i++) {
		if (live[i]) {
			live[i] = 0;
			remove_name(names[i]);
		}
	}
}

int skiff_netns_veth(const char *ns_a, const char *if_a, const char *ns_b, const char *if_b,
		     unsigned queues)
{
	const char *ip = ip_path();
	int rc;

	if (!queues)
		queues = 1;
	rc = must(NULL,
		  "%s link add %s numrxqueues %u numtxqueues %u netns %s type veth peer name %s "
		  "numrxqueues %u numtxqueues %u netns %s",
		  ip, if_a, queues, queues, ns_a, if_b, queues, queues, ns_b);
	if (!rc)
		rc = must(ns_a, "%s link set %s up", ip, if_a);
	if (!rc)
		rc = must(ns_b, "%s link set %s up", ip, if_b);
	return rc;
}

int skiff_netns_addr(const char *ns, const char *ifname, const char *cidr)
{
	/* No duplicate address detection: the address is usable at once. */
	return must(ns, "%s addr add %s dev %s%s", ip_path(), cidr, ifname,
		    strchr(cidr, ':') ? " nodad" : "");
}

static int open_ns(const char *ns)
{
	char path[sizeof(NETNS_DIR) + SKIFF_NETNS_NAME_MAX + 1];
	int fd;

	ns_path(path, sizeof(path), ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int skiff_netns_enter(const char *ns)
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
	fd = open_ns(ns);
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

int skiff_netns_socket(const char *ns, int domain, int type, int protocol)
{
	int cur, fd, s = -1, e = 0;

	cur = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	fd = open_ns(ns);
	if (fd < 0) {
		close(cur);
		return fd;
	}
	if (setns(fd, CLONE_NEWNET) != 0) {
		e = -errno;
		goto out_close;
	}
	s = socket(domain, type | SOCK_CLOEXEC, protocol);
	if (s < 0)
		e = -errno;
	if (setns(cur, CLONE_NEWNET) != 0) {
		/* Stuck in the wrong namespace: nothing after this is sound. */
		say("cannot return to the original namespace: %s", strerror(errno));
		abort();
	}
out_close:
	close(fd);
	close(cur);
	return e ? e : s;
}

static int ifreq_ioctl(const char *ns, const char *ifname, unsigned long req, struct ifreq *ifr)
{
	int s = skiff_netns_socket(ns, AF_LOCAL, SOCK_DGRAM, 0), e = 0;

	if (s < 0)
		return s;
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	if (ioctl(s, req, ifr) != 0)
		e = -errno;
	close(s);
	return e;
}

int skiff_netns_ifindex(const char *ns, const char *ifname)
{
	struct ifreq ifr;
	int e = ifreq_ioctl(ns, ifname, SIOCGIFINDEX, &ifr);

	return e ? e : ifr.ifr_ifindex;
}

int skiff_netns_mac(const char *ns, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int e = ifreq_ioctl(ns, ifname, SIOCGIFHWADDR, &ifr);

	if (!e)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return e;
}

int skiff_netns_pair_create(struct skiff_netns_pair *p, const char *tag, unsigned queues,
			    const char *cidr0, const char *cidr1)
{
	int rc;

	memset(p, 0, sizeof(*p));
	rc = skiff_netns_create(p->ns[0], sizeof(p->ns[0]), tag);
	if (!rc)
		rc = skiff_netns_create(p->ns[1], sizeof(p->ns[1]), tag);
	if (rc)
		goto out_destroy;
	/* Unique too, though each end lives in a namespace of its own: a
	 * leaked device says whose it was. */
	for (int i = 0; i < 2; i++)
		snprintf(p->ifname[i], sizeof(p->ifname[i]), "sk%d-%u%c", (int)getpid(),
			 (seq - 1) % 1000, 'a' + i);
	rc = skiff_netns_veth(p->ns[0], p->ifname[0], p->ns[1], p->ifname[1], queues);
	if (!rc && cidr0)
		rc = skiff_netns_addr(p->ns[0], p->ifname[0], cidr0);
	if (!rc && cidr1)
		rc = skiff_netns_addr(p->ns[1], p->ifname[1], cidr1);
	if (!rc)
		return 0;
out_destroy:
	skiff_netns_pair_destroy(p);
	return rc;
}

void skiff_netns_pair_destroy(struct skiff_netns_pair *p)
{
	skiff_netns_destroy(p->ns[0]);
	skiff_netns_destroy(p->ns[1]);
	memset(p, 0, sizeof(*p));
}
