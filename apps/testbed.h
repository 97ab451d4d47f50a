/**
 * @file
 * The demos' self-made testbed: network namespaces joined by veth pairs,
 * with addresses and routes, built with iproute2 and torn down again.
 *
 * Names are unique per run: namespaces are "skiffdemo-<pid>-<role>" and
 * veth ends "sd<pid><role letter><n>", so parallel runs never collide and a
 * leftover says whose it was. The namespaces are ordinary named ones (visible
 * to `ip netns`, so a user can look inside while a demo runs); every device
 * lives inside them and goes with them, the XDP program with its device.
 *
 * Teardown happens in tb_destroy(), at exit, and on a fatal signal (SIGINT,
 * SIGTERM and SIGHUP are left to app_signals_install(), which calls
 * tb_emergency() on a second signal). Names a killed run left behind (its
 * pid gone) are swept by the next tb_init() or tb_ns_create().
 *
 * Threading: one thread; tb_enter() moves the calling thread only.
 * Functions return 0 or -errno; a failure also prints one line on stderr.
 */
#ifndef SKIFF_APPS_TESTBED_H
#define SKIFF_APPS_TESTBED_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TB_NS_NAME_MAX 48
#define TB_MAX_NS      4
#define TB_MAX_CHILD   8

/** Installs the exit and crash hooks and sweeps names of dead runs.
 * @p prog prefixes messages. Idempotent. */
int tb_init(const char *prog);

/** True when this process may build a testbed: root, iproute2 present,
 * network namespaces usable. Otherwise @p why (may be NULL) says why. */
bool tb_available(char *why, size_t len);

/** Creates namespace "skiffdemo-<pid>-<role>" with lo up; @p name
 * receives its name. */
int tb_ns_create(char *name, size_t len, const char *role);

/** Creates a veth pair, @p if_a in @p ns_a and @p if_b in @p ns_b, names
 * made from @p role (one letter used) and a counter, @p queues rx and tx
 * queues each (0 = 1), both up, checksum offload off on both ends.
 * @p if_a and @p if_b must hold IF_NAMESIZE bytes. */
int tb_veth(const char *ns_a, char *if_a, const char *ns_b, char *if_b, const char *role,
	    unsigned queues);

/** `ip -n NS <args...>` (NULL-terminated); 0, or -EIO after saying what failed. */
int tb_ip(const char *ns, ...) __attribute__((sentinel));

/** Adds @p cidr ("10.0.0.1/24", "fd00::1/64") to @p ifname in @p ns. */
int tb_addr(const char *ns, const char *ifname, const char *cidr);

/** Writes @p value to /proc/sys/@p key (e.g. "net/ipv4/ip_forward") as
 * seen from inside @p ns. */
int tb_sysctl(const char *ns, const char *key, const char *value);

/** Moves the calling thread into @p ns; NULL moves it back home. */
int tb_enter(const char *ns);

/** Fd of @p ns (O_CLOEXEC), or -errno. */
int tb_ns_fd(const char *ns);

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
 * Moves the process into a mount namespace of its own with a private bpffs
 * on /sys/fs/bpf (libxdp pins its dispatcher there; a private one vanishes
 * with the process). Call after the last tb_ns_create(): namespaces named
 * afterwards would be mounted only in here.
 */
int tb_private_bpffs(void);

/** Kills the children, deletes the namespaces. Safe to call twice. */
void tb_destroy(void);

/** tb_destroy() from a signal handler: async-signal-safe. */
void tb_emergency(void);

#endif
