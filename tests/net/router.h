/**
 * @file
 * A router namespace between two ends, for tests that need the path
 * between them impaired the way a real network impairs it (tc netem is not
 * available on the machines the tests run on):
 *
 *     a: ar  a_ip4 (.2)  ---  ra  ra_ip4 (.1)  r  rb  rb_ip4 (.1)  ---  br  b_ip4 (.2) :b
 *            a_ip6 (::2)          ra_ip6 (::1)       rb_ip6 (::1)           b_ip6 (::2)
 *
 * "a" is where skiff (or a Linux end) runs, "b" the Linux peer, "r"
 * forwards (IPv4 and IPv6) and impairs: per direction ("ab": from a to b,
 * "ba") an NFQUEUE rule in the router's mangle FORWARD chain hands the
 * packets to tests/net/nfq_impair (delay, reordering, held ACKs, edited
 * TCP options, loss; see its --help), with --queue-bypass so that a dead
 * helper leaves the path working. Impairing in the router, not at either
 * end: XDP runs before netfilter, and a drop in the sender's own namespace
 * is a local error, not loss.
 *
 * Every veth end has TX checksum offload off (tb_veth()), so the kernel
 * finishes its checksums and sends MTU-sized segments, which is what AF_XDP
 * and the helper must see.
 *
 * Threading: one thread, like the testbed (testbed.h), whose teardown also
 * covers this: the namespaces and the helpers go at exit and on fatal
 * signals even without router_destroy(). Functions return 0 or -errno and
 * say what failed on stderr.
 */
#ifndef SKIFF_TESTS_ROUTER_H
#define SKIFF_TESTS_ROUTER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "testbed.h"

#define ROUTER_TAG_MAX 24

/** Where the ends are; NULL fields (or a NULL struct) take the defaults. */
struct router_opts {
	/* The /24 of each link, as its first three bytes: "10.91.0" puts the
	 * router at 10.91.0.1 and the end at 10.91.0.2. Defaults "10.91.0"
	 * (a's link) and "10.91.1" (b's). */
	const char *net4_a, *net4_b;
	/* The /64 of each link, ending in "::": "fd91::" gives fd91::1 and
	 * fd91::2. Defaults "fd91::" and "fd91:1::". */
	const char *net6_a, *net6_b;
	/* a's end gets neither address nor route: skiff brings its own
	 * (a_ip4 / a_ip6 via ra_ip4 / ra_ip6) on AF_XDP. */
	bool a_bare;
	/* rx and tx queues of a's veth (0: 1), for multi-queue AF_XDP. */
	unsigned queues_a;
};

/** nfq_impair's counters (its --stats "key value" lines). */
struct router_counters {
	uint64_t packets;	       /**< seen on the queue */
	uint64_t delayed;	       /**< went through --delay-ms */
	uint64_t reordered;	       /**< held back behind later packets */
	uint64_t held;		       /**< held by --hold-acks-ms */
	uint64_t stripped;	       /**< had a TCP option replaced by NOPs */
	uint64_t dropped;	       /**< by --drop-ppm */
	uint64_t requeue_failed;       /**< verdicts the kernel did not take */
	uint64_t enobufs;	       /**< ENOBUFS from recv (packets lost before the helper) */
	uint64_t strip_skipped;	       /**< carried the option but were not copied whole */
	uint64_t late;		       /**< released 1 ms or more after they were due */
	uint64_t late_max_us;	       /**< the latest release, after its due time */
	uint64_t waiting;	       /**< held at the moment of the dump */
	uint64_t kernel_queue_dropped; /**< the kernel's: queue full */
	uint64_t kernel_user_dropped;  /**< the kernel's: socket full */
	uint64_t cpu_ms;	       /**< the helper's CPU time so far */
};

/** One direction's helper; use the functions below. */
struct router_nfq {
	pid_t pid; /* 0: none running */
	unsigned queue;
	bool rules; /* the NFQUEUE rules are in */
	bool drop_rules;
	bool dup_rules;
	char stats_path[96];
	struct router_counters last; /* the final counters once stopped */
};

/** The topology: names for tb_run(), tb_socket() and the like. */
struct router {
	char tag[ROUTER_TAG_MAX];
	char ns_a[TB_NS_NAME_MAX], ns_r[TB_NS_NAME_MAX], ns_b[TB_NS_NAME_MAX];
	char if_ar[IF_NAMESIZE], if_ra[IF_NAMESIZE], if_rb[IF_NAMESIZE], if_br[IF_NAMESIZE];
	char a_ip4[INET_ADDRSTRLEN], ra_ip4[INET_ADDRSTRLEN];
	char rb_ip4[INET_ADDRSTRLEN], b_ip4[INET_ADDRSTRLEN];
	char a_ip6[INET6_ADDRSTRLEN], ra_ip6[INET6_ADDRSTRLEN];
	char rb_ip6[INET6_ADDRSTRLEN], b_ip6[INET6_ADDRSTRLEN];
	struct router_nfq nfq[2]; /* [0] "ab", [1] "ba" */
};

/**
 * Builds namespaces "<tag>-a", "<tag>-r", "<tag>-b" (testbed names), the
 * two veth links with their addresses, forwarding in r and default routes
 * via r in the ends. On failure nothing is left behind.
 * @param tag lower-case letters, digits and '-', up to ROUTER_TAG_MAX - 1
 * @param opts NULL: the defaults
 * @return 0, -EINVAL (a bad tag or prefix), -EIO (a command failed), ...
 */
int router_create(struct router *r, const char *tag, const struct router_opts *opts);

/** Stops the helpers (as router_unimpair()) and deletes the namespaces;
 * accepts a zeroed or destroyed router. */
void router_destroy(struct router *r);

/**
 * Where nfq_impair is: @p path, or NULL for the one built beside the
 * router (the default). An installed program passes its installed copy.
 */
void router_set_helper(const char *path);

/** The nfq_impair that router_impair() runs. */
const char *router_helper_path(void);

/**
 * Impairs one direction: starts nfq_impair in r with @p nfq_args (words
 * separated by blanks, no quoting; --queue and --stats are added), waits
 * for it to say "ready", then sends that direction's forwarded packets
 * (IPv4 and IPv6) to it.
 * @param dir "ab" (packets from a to b: they enter r on ra) or "ba"
 * @return 0, -EINVAL (bad @p dir), -EBUSY (that direction has a helper),
 *         -ECHILD (the helper exited: bad arguments, see stderr),
 *         -ETIMEDOUT (not ready in 5 s), -EIO (iptables failed)
 */
int router_impair(struct router *r, const char *dir, const char *nfq_args);

/**
 * The helper's counters: asks for a dump (SIGUSR1) and reads it; after
 * router_unimpair(), its final counters.
 * @return 0, -EINVAL, -ESRCH (never impaired), -ETIMEDOUT (no dump in 2 s)
 */
int router_stats(struct router *r, const char *dir, struct router_counters *c);

/**
 * Stops one direction's helper (SIGTERM: it releases what it holds), then
 * takes its rules out; @p final (may be NULL) receives its last counters.
 * @return 0; -ESRCH if none ran; -EIO if it did not exit cleanly (the
 *         counters are still filled in as far as they were written)
 */
int router_unimpair(struct router *r, const char *dir, struct router_counters *final);

/** The pid of @p dir's helper, 0 if none (a test may kill it). */
pid_t router_helper(const struct router *r, const char *dir);

/**
 * Plain loss without a helper: iptables' statistic match drops
 * @p probability (0..1) of @p dir's forwarded packets, both families.
 * @return 0, -EINVAL, -EBUSY (already dropping), -EIO
 */
int router_drop(struct router *r, const char *dir, double probability);

/** Packets router_drop() has dropped in @p dir so far (both families). */
int router_dropped(struct router *r, const char *dir, uint64_t *packets);

/**
 * Duplication without a helper: iptables' statistic match in the router's
 * mangle PREROUTING has TEE send a copy of @p probability (0..1) of
 * @p dir's packets straight to the far end's address (b_ip4 / b_ip6 for
 * "ab", a_ip4 / a_ip6 for "ba"; an end whose stack answers for another
 * address of that link still gets it: TEE only picks the next hop). The
 * copy skips FORWARD, so neither router_drop() nor the helper sees it: it
 * is never lost nor delayed, the original may be.
 * @return 0, -EINVAL, -EBUSY (already duplicating), -EIO (iptables refused:
 *         no TEE target, for one)
 */
int router_duplicate(struct router *r, const char *dir, double probability);

/** Packets router_duplicate() has copied in @p dir so far (both families). */
int router_duplicated(struct router *r, const char *dir, uint64_t *packets);

/**
 * The path MTU of one hop out of the router: @p hop "rb" limits what r
 * forwards to b (so r answers a's bigger packets with ICMP fragmentation
 * needed / packet too big), "ra" what it forwards to a. Set as a route MTU
 * in r, so only that direction is limited: the veth ends keep their MTU
 * (a veth drops frames bigger than its receiving end's MTU without a word)
 * and the ends keep advertising their full MSS.
 * @param mtu 68..65535 for IPv4; IPv6 takes it only from 1280
 * @return 0, -EINVAL, -EIO
 */
int router_set_mtu(struct router *r, const char *hop, unsigned mtu);

#endif
