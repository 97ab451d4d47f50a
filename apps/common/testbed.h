/**
 * @file
 * The testbed: network namespaces joined by veth pairs, with addresses and
 * routes, built with iproute2 and torn down again. The one library for it
 * of the demos, the benchmark and the tests.
 *
 * Names carry the pid of the process that made them, so parallel runs
 * never collide and a leftover says whose it was: namespaces are
 * "skiffdemo-<pid>-<role>" (one live namespace per role and process), veth
 * ends "sd<pid><role letter><n>a" and "...b". The namespaces are ordinary
 * named ones (`ip netns`, so a user can look inside while a demo runs);
 * every device lives inside them and goes with them, an XDP program with
 * its device.
 *
 * Teardown: the namespaces and the children of tb_spawn() go in
 * tb_destroy(), at exit, and on SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT
 * (a failed assertion), SIGSEGV, SIGBUS, SIGFPE and SIGILL: the handler
 * cleans up, then the signal takes the course it had before (a signal
 * that was ignored stays ignored). A program that handles SIGINT, SIGTERM
 * or SIGHUP itself afterwards (app_signals_install()) calls tb_emergency()
 * from its handler. Names of runs whose process is gone are swept by
 * tb_init() and by every tb_ns_create(). Only the process that made
 * something removes it: a forked child neither tears down its parent's
 * testbed nor leaves its own behind.
 *
 * Threading: one thread; tb_enter() moves the calling thread only.
 * Functions return 0 or -errno unless they say otherwise; a failure also
 * prints one line on stderr.
 */
#ifndef SKIFF_APPS_TESTBED_H
#define SKIFF_APPS_TESTBED_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TB_NS_NAME_MAX 64
#define TB_MAX_NS      16
#define TB_MAX_CHILD   8

/** Installs the exit and signal hooks and sweeps names of dead runs;
 * @p prog (NULL: the program's name) prefixes messages. Idempotent; in a
 * forked child it starts a testbed of the child's own. tb_ns_create() and
 * tb_spawn() call it. */
int tb_init(const char *prog);

/** True when this process may build a testbed: root, iproute2 present,
 * network namespaces usable. Otherwise @p why (may be NULL) says why. */
bool tb_available(char *why, size_t len);

/** Creates namespace "skiffdemo-<pid>-<role>" with lo up; @p name
 * receives its name. @p role: lower-case letters, digits and '-'.
 * @return 0, -EEXIST (this process has a namespace of that role), ... */
int tb_ns_create(char *name, size_t len, const char *role);

/** Deletes a namespace made here (its devices go with it); leaves it
 * first if this thread is inside. Accepts NULL and "". */
void tb_ns_destroy(const char *name);

/** Creates a veth pair, @p if_a in @p ns_a and @p if_b in @p ns_b, named
 * after @p role (its first letter) and a counter, @p queues rx and tx
 * queues each (0 = 1), both up, TX checksum offload off on both ends
 * (tb_tx_csum()). @p if_a and @p if_b must hold IF_NAMESIZE bytes. */
int tb_veth(const char *ns_a, char *if_a, const char *ns_b, char *if_b, const char *role,
	    unsigned queues);

/** A one-queue tb_veth() with @p cidr_a on @p if_a and @p cidr_b on @p if_b
 * (NULL: no address). */
int tb_link(const char *ns_a, char *if_a, const char *cidr_a, const char *ns_b, char *if_b,
	    const char *cidr_b, const char *role);

/**
 * TX checksum offload of @p ifname in @p ns, on or off. The kernel's TCP
 * leaves checksums to the device (CHECKSUM_PARTIAL) and veth hands such
 * packets to XDP unfinished: with the offload off the kernel completes them
 * in software, and its segments stay MTU-sized (no TSO without checksum
 * offload), which is what AF_XDP must see.
 */
int tb_tx_csum(const char *ns, const char *ifname, bool on);

/** `ip -n NS <args...>` (NULL-terminated; @p ns NULL: no -n); 0, or -EIO
 * after saying what failed. */
int tb_ip(const char *ns, ...) __attribute__((sentinel));

/** Adds @p cidr ("10.0.0.1/24", "fd00::1/64") to @p ifname in @p ns. */
int tb_addr(const char *ns, const char *ifname, const char *cidr);

/** Writes @p value to /proc/sys/@p key (e.g. "net/ipv4/ip_forward") as
 * seen from inside @p ns. */
int tb_sysctl(const char *ns, const char *key, const char *value);

/** Routes everything from @p leaf through @p router: the leaf's default
 * route via @p gw (the router's IPv4 address on their link), and IPv4
 * forwarding on in the router. */
int tb_route_via(const char *leaf, const char *router, const char *gw);

/**
 * Runs a shell command in @p ns (`ip netns exec`; NULL: where the process
 * is), its output on stderr.
 * @return the command's exit status (0-255, 128 + signal), or -errno when
 *         it could not run
 */
__attribute__((format(printf, 2, 3))) int tb_run(const char *ns, const char *fmt, ...);

/** As tb_run(), capturing up to @p len - 1 bytes of its stdout in @p out
 * (always terminated). */
__attribute__((format(printf, 4, 5))) int tb_capture(const char *ns, char *out, size_t len,
						     const char *fmt, ...);

/** Moves the calling thread into @p ns; NULL moves it back to the
 * namespace it was in before the first call. */
int tb_enter(const char *ns);

/** Fd of @p ns (O_CLOEXEC), or -errno. */
int tb_ns_fd(const char *ns);

/** Opens a socket (O_CLOEXEC) in @p ns without moving the thread; returns
 * the fd or -errno. */
int tb_socket(const char *ns, int domain, int type, int protocol);

/** The ifindex of @p ifname in @p ns, or -errno. */
int tb_ifindex(const char *ns, const char *ifname);

/** The MAC address of @p ifname in @p ns. */
int tb_mac(const char *ns, const char *ifname, uint8_t mac[6]);

/** Two namespaces joined by one veth: end i is ifname[i] in ns[i]. */
struct tb_pair {
	char ns[2][TB_NS_NAME_MAX];
	char ifname[2][IF_NAMESIZE];
};

/** Creates namespaces of roles @p tag and "<tag>-peer" and the veth
 * between them (@p queues as in tb_veth()); @p cidr0 / @p cidr1 (NULL:
 * none) go to the ends. On failure nothing is left behind. */
int tb_pair_create(struct tb_pair *p, const char *tag, unsigned queues, const char *cidr0,
		   const char *cidr1);

/** Destroys both namespaces; accepts a zeroed pair. */
void tb_pair_destroy(struct tb_pair *p);

/**
 * Forks a child that enters @p ns (NULL: stays), ignores SIGINT (the
 * parent decides when to stop), dies with the parent, runs @p fn(@p arg)
 * and exits with its return value. The child is killed at teardown.
 * @return the child's pid, or -errno
 */
pid_t tb_spawn(const char *ns, int (*fn)(void *arg), void *arg);

/** Sends SIGTERM to a child from tb_spawn() and reaps it (SIGKILL after
 * @p grace_ms); returns its exit status as a shell would (128+sig when
 * killed), or -errno. */
int tb_stop_child(pid_t pid, int grace_ms);

/** Forget a child reaped elsewhere. */
void tb_forget_child(pid_t pid);

/**
 * Moves the process into a mount namespace of its own (a slave of the
 * host's) with a private bpffs on /sys/fs/bpf: libxdp pins its dispatcher
 * there, and a private one vanishes with the process and keeps parallel
 * runs from seeing each other's pins. Namespaces created afterwards are
 * mounted only in here (they die with the process even when it is
 * killed, and `ip netns` outside does not show them): the demos call it
 * after their last tb_ns_create(), the tests before their first.
 * Idempotent; silent (the caller says what a failure means to it).
 */
int tb_private_bpffs(void);

/** Kills the children, returns the thread home, deletes the namespaces.
 * Safe to call twice. */
void tb_destroy(void);

/** tb_destroy() from a signal handler: async-signal-safe. */
void tb_emergency(void);

/** Namespaces of run @p pid still named in /run/netns. */
unsigned tb_leftover_namespaces(pid_t pid);

/** veth ends of run @p pid in this network namespace (where none belongs). */
unsigned tb_leftover_links(pid_t pid);

#endif
