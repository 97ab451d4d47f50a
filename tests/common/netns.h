/**
 * @file
 * Network namespaces and veth pairs for tests that need the real kernel.
 *
 * Names carry the test process's pid and a counter, so parallel runs never
 * collide. Everything created here is torn down by skiff_netns_destroy(),
 * at exit, and on SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGABRT (a failed
 * assertion in a debug build). Names a killed run left behind (its pid
 * gone) are swept by the next skiff_netns_create().
 *
 * Threading: one test thread; skiff_netns_enter() moves only the calling
 * thread. Functions return 0 or -errno unless they say otherwise; a failure
 * also prints one line on stderr.
 */
#ifndef SKIFF_TEST_NETNS_H
#define SKIFF_TEST_NETNS_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#define SKIFF_NETNS_NAME_MAX 64

/**
 * Moves the process into a mount namespace of its own (slave of the
 * host's) with a fresh bpffs on /sys/fs/bpf: libxdp's dispatcher needs a
 * bpffs, and a private one keeps parallel runs from seeing each other's
 * pins. Namespaces created afterwards are mounted only there, so they die
 * with the process even when it is killed. Idempotent; call before the
 * first skiff_netns_create().
 */
int skiff_netns_private_mounts(void);

/** Creates a namespace "skiff-<pid>-<n>-<tag>" with lo up; @p name
 * receives its name. */
int skiff_netns_create(char *name, size_t len, const char *tag);

/** Deletes a namespace made here (its devices go with it); leaves it first
 * if this thread is inside. Accepts NULL and "". */
void skiff_netns_destroy(const char *name);

/** Deletes every namespace made here (also runs at exit). */
void skiff_netns_destroy_all(void);

/** Creates a veth pair with @p if_a in @p ns_a and @p if_b in @p ns_b,
 * each with @p queues rx and tx queues (0 = 1), and sets both up. */
int skiff_netns_veth(const char *ns_a, const char *if_a, const char *ns_b, const char *if_b,
		     unsigned queues);

/** Adds an address ("10.0.0.1/24", "fd00::1/64") to @p ifname in @p ns. */
int skiff_netns_addr(const char *ns, const char *ifname, const char *cidr);

/**
 * Runs a shell command in @p ns (NULL: where the process is), its output
 * on stderr.
 * @return the command's exit status (0-255), or -errno when it could not run
 */
__attribute__((format(printf, 2, 3))) int skiff_netns_run(const char *ns, const char *fmt, ...);

/** As skiff_netns_run(), capturing up to @p len - 1 bytes of its stdout in
 * @p out (always terminated). */
__attribute__((format(printf, 4, 5))) int skiff_netns_capture(const char *ns, char *out, size_t len,
							      const char *fmt, ...);

/** Moves the calling thread into @p ns (setns); NULL moves it back to the
 * namespace it was in before the first call. */
int skiff_netns_enter(const char *ns);

/** Opens a socket in @p ns without moving the thread; returns the fd or
 * -errno. */
int skiff_netns_socket(const char *ns, int domain, int type, int protocol);

/** The ifindex of @p ifname in @p ns, or -errno. */
int skiff_netns_ifindex(const char *ns, const char *ifname);

/** The MAC address of @p ifname in @p ns. */
int skiff_netns_mac(const char *ns, const char *ifname, uint8_t mac[6]);

/** Two namespaces joined by one veth: end i is ifname[i] in ns[i]. */
struct skiff_netns_pair {
	char ns[2][SKIFF_NETNS_NAME_MAX];
	char ifname[2][IF_NAMESIZE];
};

/** Creates both namespaces and the veth between them (@p queues as in
 * skiff_netns_veth()); @p cidr0 / @p cidr1 (may be NULL) are given to the
 * ends. On failure nothing is left behind. */
int skiff_netns_pair_create(struct skiff_netns_pair *p, const char *tag, unsigned queues,
			    const char *cidr0, const char *cidr1);

/** Destroys both namespaces; accepts a zeroed pair. */
void skiff_netns_pair_destroy(struct skiff_netns_pair *p);

#endif
