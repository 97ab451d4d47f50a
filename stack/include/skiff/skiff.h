/**
 * @file
 * skiff's public API: a user-space TCP/IP stack (lwIP inside) over AF_XDP,
 * behind calls shaped like the POSIX socket and epoll calls they replace.
 *
 * Threading: one stack instance per process, driven by one thread; no
 * skiff_* call may run concurrently with another. Scale across cores with
 * one process (or instance) per NIC queue, shared-nothing.
 *
 * Driving the stack: skiff_poll() runs one round of the run-to-completion
 * loop (RX batch -> lwIP input -> timers -> TX flush -> completions ->
 * zero-copy callbacks). skiff_epoll_wait() and the blocking calls run it
 * too, so an application either polls from its own loop or just blocks.
 * Nothing moves between calls: an application that neither blocks in skiff
 * nor calls skiff_poll() stops its peers' traffic too.
 *
 * Sockets: skiff descriptors are small non-negative integers of their own
 * numbering, not kernel file descriptors.
 *
 * Errors: every skiff_* call that can fail returns -1 and sets errno, as
 * the POSIX calls it stands beside do (skiff_socket() ... skiff_epoll_wait(),
 * and skiff_init(), skiff_poll(), the zero-copy and memlink calls alike);
 * on success it returns 0, a count or a descriptor. Calls that cannot fail
 * return void. Each call's comment lists its errno values (docs/errors.md).
 */
#ifndef SKIFF_H
#define SKIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <skiff/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- set-up ------------------------------------------------------------ */

enum skiff_backend {
	SKIFF_BACKEND_XSK,     /**< AF_XDP on a NIC queue */
	SKIFF_BACKEND_MEMLINK, /**< one end of a shared-memory wire (tests, benchmarks) */
};

enum skiff_xdp_mode {
	SKIFF_XDP_AUTO,	    /**< zero-copy if the driver accepts, else copy */
	SKIFF_XDP_ZEROCOPY, /**< fail if the driver refuses */
	SKIFF_XDP_COPY,
};

/* ---- memlink: a shared-memory wire between two skiff instances ---------- */

/** A software wire with the rings of AF_XDP, over shared memory: two skiff
 * instances (in one process, or in two joined by fork()) talk over it as
 * over a cable. For tests and benchmarks without a NIC. */
struct skiff_memlink;

struct skiff_memlink_config {
	uint32_t frame_count; /**< UMEM frames per end (0: 16384) */
	uint32_t ring_size;   /**< descriptors per ring, a power of two (0: 2048) */

	uint32_t expected_connections; /**< when frame_count and ring_size are 0: sized
					* as skiff_sizes_for() says (give the ends'
					* skiff_config the same) */
};

/** Faults for the frames leaving one end, drawn from @p seed (same seed,
 * same faults); rates in parts per million. */
struct skiff_memlink_faults {
	uint64_t seed;
	uint32_t drop_ppm;
	uint32_t duplicate_ppm;
	uint32_t reorder_ppm; /**< the frame swaps places with the next one */
	uint32_t corrupt_ppm; /**< one byte flipped */
	uint32_t delay_ppm;
	uint32_t delay_us; /**< how long a delayed frame waits */
};

/** What left one end of the wire. */
struct skiff_memlink_stats {
	uint64_t sent, delivered, dropped, duplicated, reordered, corrupted, delayed;
	uint64_t no_fill; /**< lost: the far end had no fill frame posted */
	uint64_t rx_full; /**< lost: the far end's RX ring was full */
	uint64_t invalid; /**< descriptors the wire refused */
};

/** Create a wire (@p cfg NULL: defaults). Create it before fork() when the
 * two ends live in two processes.
 * @return 0, or -1 and errno (EINVAL, ENOMEM, or the error of memfd/mmap) */
SKIFF_API int skiff_memlink_create(struct skiff_memlink **out,
				   const struct skiff_memlink_config *cfg);
/** Map a wire another process created, from its descriptor (see
 * skiff_memlink_fd(): passed by fork, exec or SCM_RIGHTS); the handle keeps
 * its own duplicate of @p fd. Destroy it as one created here.
 * @return 0, or -1 and errno (EINVAL: not a memlink; or the error of fstat/mmap) */
SKIFF_API int skiff_memlink_open(struct skiff_memlink **out, int fd);
/** The wire's descriptor (close-on-exec; the handle owns it).
 * @return it, or -1 and errno EINVAL */
SKIFF_API int skiff_memlink_fd(const struct skiff_memlink *w);
/** Faults for frames leaving @p end (0 or 1); NULL clears them.
 * @return 0, or -1 and errno EINVAL (bad end) */
SKIFF_API int skiff_memlink_set_faults(struct skiff_memlink *w, unsigned end,
				       const struct skiff_memlink_faults *f);
/** Counters of the frames that left @p end.
 * @return 0, or -1 and errno EINVAL (bad end) */
SKIFF_API int skiff_memlink_get_stats(const struct skiff_memlink *w, unsigned end,
				      struct skiff_memlink_stats *out);
/** Destroy a wire; accepts NULL. Both ends' instances must be stopped first.
 * @return 0, or -1 and errno EBUSY (an end is still open: the wire stays) */
SKIFF_API int skiff_memlink_destroy(struct skiff_memlink *w);

/**
 * The ring and UMEM sizes for @p connections that may each have a segment
 * on the wire at once (a request in flight each, a burst of SYNs): a peer
 * can put all of them on the RX ring while the application has its turn,
 * and what does not fit is dropped and costs a retransmission timeout. The
 * ring is the power of two at or above @p connections, 2048 at least and
 * SKIFF_RING_SIZE_MAX at most; the frames twice that, 16384 at least (half
 * posted on the fill ring, half for what is held, sent and lent). Each
 * frame is 2 KiB of UMEM: 10,000 connections take 64 MiB, 100,000 512 MiB.
 * 0 gives the defaults (2048, 16384). Either pointer may be NULL.
 */
SKIFF_API void skiff_sizes_for(uint32_t connections, uint32_t *ring_size, uint32_t *frame_count);
#define SKIFF_RING_SIZE_MAX 131072u

/** Run-time configuration; a zero field means the default. */
/** The most AF_XDP ports one instance drives: the config's own and
 *  SKIFF_MAX_PORTS - 1 in skiff_config.extra_ports. */
#define SKIFF_MAX_PORTS 4

/**
 * An AF_XDP port beyond the first: another interface (or queue) with its
 * own addresses, over the same UMEM (AF_XDP shared UMEM: a frame received
 * on one port can go out on another without a copy). It takes the first
 * port's XDP mode, ring size and VLAN. Traffic from one of its addresses
 * leaves through it; other traffic is routed by destination (the port
 * whose prefix holds it, else the first port's gateway). docs/api.md,
 * "Several ports".
 */
struct skiff_port_config {
	const char *ifname;
	uint32_t queue;
	uint8_t mac[6];		 /**< all zero: the interface's */
	uint32_t ipv4;		 /**< network byte order; 0 = no IPv4 */
	uint8_t ipv4_prefix;	 /**< 0 = 24 */
	uint32_t ipv4_gateway;	 /**< network byte order; 0 = none */
	uint8_t ipv6[16];	 /**< all zero = no global IPv6 (link-local is always added) */
	uint8_t ipv6_prefix;	 /**< 0 = 64 */
	/** MPTCP: each connection this instance opens over IPv4 (connect() on
	 *  an IPPROTO_MPTCP socket) also opens a join from this port's IPv4
	 *  address to the peer's address and port once the peer's first DSS
	 *  shows the connection established, as Linux's `ip mptcp endpoint
	 *  add ADDR dev IF subflow`: a second path to a peer with one address.
	 *  The peer must be on this port's link or behind its ipv4_gateway. */
	bool mptcp_subflow;
};

struct skiff_config {
	enum skiff_backend backend;
	/* xsk */
	const char *ifname;
	uint32_t queue;
	enum skiff_xdp_mode xdp_mode;
	bool xdp_skb_mode; /**< attach in generic (skb) mode */
	bool busy_poll;
	/* memlink */
	struct skiff_memlink *memlink;
	unsigned memlink_end; /**< 0 or 1 */
	/* addresses */
	uint8_t mac[6];		  /**< all zero: the interface's (xsk) or a generated one */
	uint32_t ipv4;		  /**< network byte order; 0 = no IPv4 */
	uint8_t ipv4_prefix;	  /**< e.g. 24 (0 = 24) */
	uint32_t ipv4_gateway;	  /**< network byte order; 0 = none */
	uint8_t ipv6[16];	  /**< all zero = no global IPv6 (link-local is always added) */
	uint8_t ipv6_prefix;	  /**< on-link prefix length of ipv6 (0 = 64) */
	uint8_t ipv6_gateway[16]; /**< all zero = none */
	uint16_t vlan_id; /**< 0 = untagged; else only frames tagged with this VID are ours */
	/* what to size the defaults for */
	uint32_t expected_connections; /**< connections expected to send at once (0: not
					* said): sizes the rings and the UMEM when
					* ring_size and frame_count are 0, as
					* skiff_sizes_for() says */

	/* sizes and limits: each answers when reached (docs/hardening.md) */
	uint32_t frame_count;	  /**< UMEM frames (default 16384; memlink: the wire's) */
	uint32_t ring_size;	  /**< each AF_XDP ring (default 2048; at most frame_count / 2,
			       * else skiff_init() fails with EINVAL) */
	uint32_t max_sockets;	  /**< descriptors, epoll instances included (default
			       * max_connections + 1024); past it socket(), accept()
			       * and epoll_create() fail with EMFILE */
	uint32_t max_connections; /**< TCP connections, handshakes and closing ones
				   * included (default 131072); past it a SYN gets a
				   * SYN cookie (or an RST) and connect() fails with
				   * ENOBUFS */
	uint32_t max_half_open;	  /**< handshakes under way over all listeners (default
				   * 65536); past it SYNs get SYN cookies */
	uint32_t max_time_wait;	  /**< connections in TIME-WAIT (default 131072); past it
				   * the oldest end early (counted) */
	uint32_t max_backlog;	  /**< the most listen() grants (default 65535) */
	uint32_t max_zc_sends;	  /**< zero-copy sends in flight (default 65536) */
	bool no_syncookies;	  /**< answer a SYN past a limit with an RST instead of a
				   * SYN cookie */
	/* frame budgets: what received data may hold of the UMEM */
	uint32_t max_ooseq_frames_conn; /**< frames one connection's out-of-order queue
					 * may hold (default a receive window of full
					 * segments, 2897, or frame_count / 8 if less; at
					 * most 65535); past it the highest segments are
					 * dropped (the peer resends them) */
	uint32_t max_ooseq_frames;	/**< the same over all connections (default
					 * frame_count / 4) */
	uint32_t max_rx_frames_conn;	/**< frames one connection's unread data may hold
					 * (default a receive window of full segments,
					 * 2897, or frame_count / 16 if more); past it
					 * newly received data is copied into the heap
					 * and its frame goes back (orphaned) */
	/* TCP */
	uint32_t min_rto_ms;   /**< the retransmission timeout's floor (default 200, as
				* Linux; RFC 6298 says 1000) */
	uint32_t time_wait_ms; /**< how long TIME_WAIT lasts (default 120000: 2 x MSL
				* of 60 s); tests shorten it */
	bool mptcp_checksum;   /**< MPTCP: ask for DSS checksums (RFC 8684 3.3.1) on
				* connect() and on every connection a listener
				* accepts, as Linux's net.mptcp.checksum_enabled
				* (default off: used only when the peer asks) */
	/** MPTCP: subflows (MP_JOIN) one connection opens to addresses its
	 * peer announces (ADD_ADDR), as Linux's `ip mptcp limits
	 * add_addr_accepted` (default 0: none, as Linux; at most 7). */
	uint8_t mptcp_add_addr_accepted;
	/** MPTCP: a port every connection an MPTCP listener accepts over IPv4
	 * announces (ADD_ADDR: this instance's address with that port, address
	 * id 1), as Linux's `ip mptcp endpoint add ADDR port P signal`; an
	 * MPTCP listener on that port takes the peer's joins (0: none). */
	uint16_t mptcp_announce_port;
	/** More AF_XDP ports (xsk backend only), each with its own addresses.
	 * An MPTCP connection accepted over IPv4 announces each one's IPv4
	 * address (ADD_ADDR, address ids 2, 3, 4), so that a Linux peer opens
	 * its joins across the other links. */
	struct skiff_port_config extra_ports[SKIFF_MAX_PORTS - 1];
	unsigned n_extra_ports;
	/* observability (docs/observability.md) */
	bool no_stat_publish;	   /**< publish no counters for skiff-stat (so does
				    * SKIFF_STAT=0 in the environment) */
	uint32_t stat_interval_ms; /**< how often the published counters are refreshed
				    * (default $SKIFF_STAT_MS, else 100) */
	const char *stat_dir;	   /**< where the segment goes (default $SKIFF_STAT_DIR,
				    * else /dev/shm) */
	const char *pcap_path;	   /**< capture every frame received and sent into this
				    * pcap file (nanosecond timestamps); "%p" in it
				    * becomes the pid (default $SKIFF_PCAP; NULL: no
				    * capture). skiff_init() fails if it cannot be
				    * created */
	uint32_t pcap_snaplen;	   /**< bytes kept of each frame (default
				    * $SKIFF_PCAP_SNAPLEN, else all) */
	uint64_t pcap_max_bytes;   /**< past this size the file rotates: FILE becomes
				    * FILE.1, and so on (default $SKIFF_PCAP_MAX;
				    * 0: no bound) */
	uint32_t pcap_files;	   /**< files kept when rotating, the current one
				    * included (default $SKIFF_PCAP_FILES, else 2) */
};

/**
 * Start the stack. One instance per process; after skiff_fini() the
 * process may start another.
 * @return 0, or -1 and errno: EALREADY (already running), EINVAL (bad
 *         config), ENODEV, EPERM, EOPNOTSUPP, EBUSY (queue or wire end
 *         taken), ENOMEM, or another error of the port; skiff_last_error()
 *         then says more.
 */
SKIFF_API int skiff_init(const struct skiff_config *cfg);

/**
 * Stop the traffic, within a bound. For up to @p drain_ms the stack keeps
 * polling while a connection still has data the peer has not acknowledged
 * (what the application closed goes out gracefully); then every connection
 * still open is aborted (RST), frames on the TX ring get what is left of the
 * bound to come back, and every zero-copy send still pending completes with
 * ZC_F_ABORTED. It returns within @p drain_ms plus the time those callbacks
 * take. Afterwards skiff_get_stats() still reads the final counters and the
 * frame audit, lent receive frames may still be returned, and every other
 * call fails with ENETDOWN/ENOTCONN until skiff_fini(). Called twice it does
 * nothing the second time.
 * @return 0 (every frame came back), or -1 and errno: ETIMEDOUT (frames
 *         were still on the TX ring at the bound; skiff_fini() reclaims
 *         them with the socket), ENOTCONN (not running), EDEADLK (called
 *         from a callback)
 */
SKIFF_API int skiff_stop(int drain_ms);

/** Free the stack: skiff_stop(250) if it has not run (so it returns in
 * about 250 ms under any load), then the sockets, frames, UMEM and port.
 * Accepts being called when not running. */
SKIFF_API void skiff_fini(void);

/** One line about the last failure of skiff_init() (or ""). */
SKIFF_API const char *skiff_last_error(void);

/** True when the port runs in zero-copy mode (false: copy mode). */
SKIFF_API bool skiff_xdp_zerocopy(void);

/** The kernel's id of skiff's XDP program on the interface (0: none, e.g.
 * memlink or not running). */
SKIFF_API uint32_t skiff_xdp_prog_id(void);

/**
 * One round of the run-to-completion loop; waits up to @p timeout_ms (0:
 * don't wait, -1: until something happens) for traffic when there is none.
 * Called from inside a zero-copy completion callback it does nothing.
 * @return how many packets and events were processed, or -1 and errno
 *         ENOTCONN (the stack is not running)
 */
SKIFF_API int skiff_poll(int timeout_ms);

/* ---- sockets ------------------------------------------------------------ */

/** AF_INET or AF_INET6; SOCK_STREAM or SOCK_DGRAM, optionally | SOCK_NONBLOCK
 * (| SOCK_CLOEXEC is accepted and ignored). An AF_INET6 socket also serves
 * IPv4 (v4-mapped addresses) unless IPV6_V6ONLY is set. */
SKIFF_API int skiff_socket(int domain, int type, int protocol);
SKIFF_API int skiff_bind(int fd, const struct sockaddr *addr, socklen_t len);
/** @p backlog is clamped to 1..skiff_config.max_backlog (65535). */
SKIFF_API int skiff_listen(int fd, int backlog);
/** @p flags: 0 or SOCK_NONBLOCK (accept4 semantics). */
SKIFF_API int skiff_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags);
SKIFF_API int skiff_connect(int fd, const struct sockaddr *addr, socklen_t len);
/** @p flags: MSG_DONTWAIT, MSG_MORE (hold the segment back), MSG_NOSIGNAL
 * (accepted; skiff never raises signals). */
SKIFF_API ssize_t skiff_send(int fd, const void *buf, size_t len, int flags);
/** @p flags: MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL. */
SKIFF_API ssize_t skiff_recv(int fd, void *buf, size_t len, int flags);
SKIFF_API ssize_t skiff_sendto(int fd, const void *buf, size_t len, int flags,
			       const struct sockaddr *to, socklen_t tolen);
SKIFF_API ssize_t skiff_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
				 socklen_t *fromlen);
/** send and receive over several buffers, as sendmsg(2)/recvmsg(2): a
 * stream's buffers go out as one write (blocking: all of them) and fill in
 * order; a datagram is gathered from them or scattered into them, with
 * MSG_TRUNC in msg_flags when it was longer (the flag MSG_TRUNC returns its
 * whole length). msg_name as for sendto/recvfrom. No ancillary data:
 * msg_control is ignored on send, msg_controllen is 0 on return. Up to
 * IOV_MAX buffers (else EMSGSIZE). */
SKIFF_API ssize_t skiff_sendmsg(int fd, const struct msghdr *msg, int flags);
SKIFF_API ssize_t skiff_recvmsg(int fd, struct msghdr *msg, int flags);
SKIFF_API int skiff_shutdown(int fd, int how);
/** Graceful close (FIN), or abortive (RST) when unread data is queued or
 * SO_LINGER {1, 0} is set, as Linux does. */
SKIFF_API int skiff_close(int fd);

/** skiff's own socket option level. */
#define SOL_SKIFF 0x534b
/** int, listening TCP sockets: accept only connections whose segments came
 * with a secpath (XDP metadata naming a known security association); the
 * others are dropped and counted in skiff_stats.secpath_drops. Inherited by
 * the accepted connections. */
#define SKIFF_SO_REQUIRE_SECPATH 1

/** SOL_SOCKET: SO_ERROR, SO_REUSEADDR, SO_RCVTIMEO, SO_SNDTIMEO, SO_KEEPALIVE,
 * SO_LINGER, SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_RCVBUF and
 * SO_SNDBUF (read only); IPPROTO_TCP: TCP_NODELAY, TCP_MAXSEG (read only),
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_INFO (partial), TCP_IS_MPTCP
 * (read only); IPPROTO_IPV6: IPV6_V6ONLY (before bind); SOL_SKIFF:
 * SKIFF_SO_REQUIRE_SECPATH; SOL_MPTCP (read only, below). Others:
 * ENOPROTOOPT. */
SKIFF_API int skiff_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
SKIFF_API int skiff_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
SKIFF_API int skiff_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
SKIFF_API int skiff_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
/** O_NONBLOCK on or off. */
SKIFF_API int skiff_set_nonblock(int fd, bool on);

/* ---- MPTCP (docs/mptcp.md) ---------------------------------------------------
 * getsockopt() answers as Linux's does, with <linux/mptcp.h>'s numbers and
 * layouts (spelled skiff_ here; Linux's own structs may be passed): on an
 * IPPROTO_MPTCP socket that is, or may still become, MPTCP, SOL_MPTCP's
 * MPTCP_INFO fills struct skiff_mptcp_info (as many bytes as asked, the
 * length set to what was written), MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS
 * list the subflows behind a struct skiff_mptcp_subflow_data header, and
 * MPTCP_FULL_INFO fills struct skiff_mptcp_full_info and the two arrays it
 * points to in one call; on a connection that fell back to TCP, or a
 * socket that never asked, they fail with EOPNOTSUPP. IPPROTO_TCP's TCP_IS_MPTCP reads 1 or 0.
 * skiff_mptcp_status() says the same more simply. */
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_INFO
#define MPTCP_INFO 1
#endif
#ifndef MPTCP_TCPINFO
#define MPTCP_TCPINFO 2
#endif
#ifndef MPTCP_SUBFLOW_ADDRS
#define MPTCP_SUBFLOW_ADDRS 3
#endif
#ifndef MPTCP_FULL_INFO
#define MPTCP_FULL_INFO 4
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43
#endif

/** mptcpi_flags: the peer's key is known (the handshake is over). */
#define SKIFF_MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED (1u << 1)

/** Linux's struct mptcp_info (6.18), field for field. skiff fills the
 * data sequence numbers, token, flags, the byte counts and
 * mptcpi_subflows_total; mptcpi_subflows counts subflows beyond the first,
 * as Linux does (0: skiff opens no other); the path manager's fields,
 * retransmits and the last_* times are 0. */
struct skiff_mptcp_info {
	uint8_t mptcpi_subflows;
	uint8_t mptcpi_add_addr_signal;
	uint8_t mptcpi_add_addr_accepted;
	uint8_t mptcpi_subflows_max;
	uint8_t mptcpi_add_addr_signal_max;
	uint8_t mptcpi_add_addr_accepted_max;
	uint32_t mptcpi_flags;
	uint32_t mptcpi_token;
	uint64_t mptcpi_write_seq; /**< the data sequence number of the next byte written */
	uint64_t mptcpi_snd_una;   /**< the peer's DATA_ACK */
	uint64_t mptcpi_rcv_nxt;   /**< the next data sequence number the socket is owed */
	uint8_t mptcpi_local_addr_used;
	uint8_t mptcpi_local_addr_max;
	uint8_t mptcpi_csum_enabled;
	uint32_t mptcpi_retransmits;
	uint64_t mptcpi_bytes_retrans;
	uint64_t mptcpi_bytes_sent;
	uint64_t mptcpi_bytes_received;
	uint64_t mptcpi_bytes_acked;
	uint8_t mptcpi_subflows_total; /**< 1 while connected */
	uint8_t mptcpi_endp_laminar_max;
	uint8_t mptcpi_endp_fullmesh_max;
	uint8_t mptcpi_reserved;
	uint32_t mptcpi_last_data_sent;
	uint32_t mptcpi_last_data_recv;
	uint32_t mptcpi_last_ack_recv;
};

/** The header in front of MPTCP_TCPINFO's and MPTCP_SUBFLOW_ADDRS's
 * arrays (Linux's struct mptcp_subflow_data): the caller sets
 * size_subflow_data (16) and size_user (one element's size), the rest 0;
 * skiff sets num_subflows and size_kernel and writes as many elements as
 * the buffer holds, each size_user bytes at most. */
struct skiff_mptcp_subflow_data {
	uint32_t size_subflow_data;
	uint32_t num_subflows;
	uint32_t size_kernel;
	uint32_t size_user;
} __attribute__((aligned(8)));

/** One subflow's addresses (Linux's struct mptcp_subflow_addrs), in the
 * socket's family. */
struct skiff_mptcp_subflow_addrs {
	struct sockaddr_storage local;
	struct sockaddr_storage remote;
};

/** One subflow in MPTCP_FULL_INFO (Linux's struct mptcp_subflow_info):
 * its id (from 1, in the order the connection's subflows came) and its
 * addresses. */
struct skiff_mptcp_subflow_info {
	uint32_t id;
	struct skiff_mptcp_subflow_addrs addrs;
};

/** MPTCP_FULL_INFO (Linux's struct mptcp_full_info): the caller sets the
 * two size_*_user fields (one element's size in each array), the arrays'
 * length in size_arrays_user and their addresses in subflow_info and
 * tcp_info (struct skiff_mptcp_subflow_info and struct tcp_info elements),
 * the rest 0; skiff sets the size_*_kernel fields and num_subflows (all
 * the connection's subflows, the arrays holding the first
 * size_arrays_user of them) and fills mptcp_info as far as the length
 * given reaches past the first 40 bytes. */
struct skiff_mptcp_full_info {
	uint32_t size_tcpinfo_kernel;
	uint32_t size_tcpinfo_user;
	uint32_t size_sfinfo_kernel;
	uint32_t size_sfinfo_user;
	uint32_t num_subflows;
	uint32_t size_arrays_user;
	uint64_t subflow_info __attribute__((aligned(8)));
	uint64_t tcp_info __attribute__((aligned(8)));
	struct skiff_mptcp_info mptcp_info;
};

/** What became of MPTCP on a socket. */
enum skiff_mptcp_mode {
	SKIFF_MPTCP_MODE_TCP,	   /**< not an IPPROTO_MPTCP socket */
	SKIFF_MPTCP_MODE_PENDING,  /**< not decided yet: not connected, listening, handshaking */
	SKIFF_MPTCP_MODE_ACTIVE,   /**< MP_CAPABLE completed: connection-level MPTCP */
	SKIFF_MPTCP_MODE_FALLBACK, /**< asked for, but the connection is plain TCP (the peer
				    * did not offer or answer it, the path stripped it, or
				    * skiff declined what the peer asked: docs/mptcp.md) */
};

struct skiff_mptcp_status {
	enum skiff_mptcp_mode mode;
	unsigned subflows;   /**< TCP connections under it: 1 once connecting, 0 before */
	uint32_t token;	     /**< ours (from our key), once we sent or answered MP_CAPABLE */
	uint32_t peer_token; /**< the peer's, once MODE_ACTIVE */
};

/** Whether a TCP socket's connection is MPTCP, fell back, or is not decided.
 * @return 0, or -1 with errno EBADF, EOPNOTSUPP (a UDP socket), ENOTSOCK
 * (an epoll descriptor), EFAULT (@p out NULL), ENOTCONN (an IPPROTO_MPTCP
 * socket whose connection is gone: reset, or closed on both sides). */
SKIFF_API int skiff_mptcp_status(int fd, struct skiff_mptcp_status *out);

/** MPTCP's path manager, as Linux's `ip mptcp endpoint change ID backup`
 * (and `nobackup`): the subflows over port @p port (0: skiff_config's own
 * interface, 1 to 3: its extra_ports in order) become backup (@p backup)
 * or regular again. Each established one sends MP_PRIO (RFC 8684 3.3.8) on
 * its next segment; skiff sends on a backup subflow only while no regular
 * one is up (a full one counts as up), and asks the peer to do the same. Subflows opened over
 * the port later start so (the B flag of MP_JOIN; an MP_PRIO on a first
 * subflow once established). Returns how many subflows were told, or -1
 * with errno ENOTCONN (not running) or EINVAL (no such port). */
SKIFF_API int skiff_mptcp_set_backup(unsigned port, bool backup);
/** MPTCP's path manager, as `ip mptcp endpoint delete`: the address of
 * extra port @p port (1 to 3) is withdrawn. Every connection that
 * announced it or has a subflow over it sends REMOVE_ADDR (RFC 8684 3.4.2)
 * with its address id and closes those subflows (their data the peer has
 * not DATA_ACKed goes again on the others); it is not announced again,
 * and joins to it are refused (RST). For good: the port still carries
 * plain traffic. Returns how many subflows were closed, or -1 with errno
 * ENOTCONN (not running) or EINVAL (port 0, whose address every
 * connection's first subflow may use, or no such port). */
SKIFF_API int skiff_mptcp_withdraw(unsigned port);

/* ---- readiness -------------------------------------------------------------
 * epoll's calls and event bits (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP,
 * EPOLLRDHUP, EPOLLET, EPOLLONESHOT), over skiff descriptors. Zero-copy
 * completions pending on a socket raise SKIFF_EPOLLZC.
 */
#define SKIFF_EPOLLZC EPOLLPRI

SKIFF_API int skiff_epoll_create(int flags);
SKIFF_API int skiff_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
SKIFF_API int skiff_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms);

/* ---- zero-copy -------------------------------------------------------------
 * The contract is zerocopy/'s (<skiff/zc.h>, docs/zerocopy.md).
 */

/** Completion flags (the values of <skiff/zc.h>'s ZC_F_*). */
#define SKIFF_ZC_COPIED	 0x1u /**< the stack copied the data instead (zero-copy did not pay) */
#define SKIFF_ZC_ABORTED 0x2u /**< the connection died before the peer ACKed */

/** A buffer in a UMEM frame, with headroom for the headers in front. */
struct skiff_zc_buf {
	void *data;   /**< write the payload here */
	uint32_t cap; /**< bytes available at data: one segment of the connection */
	uint32_t len; /**< bytes to send (set before skiff_zc_send) */
	void *priv__;
};

/** Completion: ids [lo, hi] of @p fd are done (flags SKIFF_ZC_*). */
typedef void (*skiff_zc_fn)(void *opaque, int fd, uint32_t lo, uint32_t hi, unsigned flags);

/**
 * Get a buffer. Its cap is the payload one segment of @p fd's connection
 * carries (MSS less options), so that a full buffer goes out as one segment
 * with its headers written in front of it, in place; a shorter one may be
 * merged with its neighbours, and then goes out of a copy.
 * @param fd a connected TCP socket, or -1 for the default segment size
 * @return 0, or -1 and errno: ENOMEM (no free frame: an eighth of the UMEM,
 *         at most a fill ring's worth, stays free or on the fill ring for
 *         receiving the ACKs that release sends), EBADF, ENOTCONN, ENOTSUP
 *         (not TCP), ENETDOWN, EINVAL (@p buf NULL)
 */
SKIFF_API int skiff_zc_alloc(int fd, struct skiff_zc_buf *buf);
/** Give back a buffer that was never sent; accepts an empty one. */
SKIFF_API void skiff_zc_free(struct skiff_zc_buf *buf);
/** Completion callback for @p fd (NULL: completions are queued and raise
 * SKIFF_EPOLLZC, and skiff_zc_completions() reads them).
 * @return 0, or -1 and errno EBADF, ENOTSUP (not TCP) */
SKIFF_API int skiff_zc_set_callback(int fd, skiff_zc_fn cb, void *opaque);
/**
 * Send @p n buffers as one zero-copy send. On success the buffers belong
 * to the stack until the id completes (the callback, or
 * skiff_zc_completions()); their skiff_zc_buf structs may be reused at once.
 * @p flags: MSG_DONTWAIT, MSG_MORE (a corked socket, TCP_CORK, queues as with
 * MSG_MORE).
 * @return the id (>= 0), or -1 with errno: EAGAIN (no room now; nothing
 *         was sent and the buffers are still the caller's), ENOTCONN,
 *         EPIPE, ECONNRESET, EINVAL (bad buffer or length), EBADF, ENOTSUP
 */
SKIFF_API int64_t skiff_zc_send(int fd, struct skiff_zc_buf *bufs, unsigned n, int flags);

/** Completed ranges not taken by a callback. */
struct skiff_zc_range {
	uint32_t lo, hi;
	unsigned flags;
};
/** Read up to @p max completed ranges. @return how many, or -1 and errno
 * (EBADF) */
SKIFF_API int skiff_zc_completions(int fd, struct skiff_zc_range *out, int max);

/** A received payload lent to the application. */
struct skiff_zc_loan {
	const uint8_t *data;
	uint32_t len;
	uint32_t flags; /**< SKIFF_ZC_LOAN_COPIED: the payload was copied, not lent */
	void *priv__;
	uint32_t priv_flags__;
};
#define SKIFF_ZC_LOAN_COPIED 0x1u

/**
 * Lend up to @p max received payloads, in stream order, instead of copying
 * them out (each is one segment's payload, in its UMEM frame). They count
 * as read: the window opens as they are lent.
 * @return count, 0 at EOF, -1 and errno (EAGAIN, ENOTCONN, ECONNRESET,
 *         ENOBUFS: too many loans out, return some first)
 */
SKIFF_API ssize_t skiff_zc_recv(int fd, struct skiff_zc_loan *loans, unsigned max, int flags);
/** Return loans: their frames go back to the fill ring. */
SKIFF_API void skiff_zc_recv_done(struct skiff_zc_loan *loans, unsigned n);
/**
 * Turn a loan into a send buffer for @p fd, in the same frame: the received
 * payload is sent on as it lies, with the new headers written in front of
 * it (a proxy's or an echo's zero copy). On success the loan is spent
 * (cleared: skiff_zc_recv_done() skips it) and @p buf holds its bytes
 * (len = cap = the loan's length, or cap = one segment of @p fd when that
 * is more); give @p buf to skiff_zc_send() or skiff_zc_free(). A buffer
 * longer than one segment of @p fd goes out as several segments, all but
 * the first out of a copy (counted in tx_copied_bytes). Its bytes are
 * the received ones: sent whole, a payload of 128 bytes or more goes out
 * with the checksum sum computed when it arrived (csum_reused), so do not
 * write into it (copy into a skiff_zc_alloc() buffer to change bytes).
 * @param fd a connected TCP socket, or -1
 * @return 0, or -1 and errno: EINVAL (the loan is unchanged: a copied
 *         loan, SKIFF_ZC_LOAN_COPIED; an empty one; one already returned
 *         or spent; a frame shared with another reference or without room
 *         for headers in front), ENOBUFS (frames are short: an eighth of
 *         the UMEM stays free for receiving; return or copy the loan),
 *         EBADF, ENOTCONN, ENOTSUP (not TCP), ENETDOWN
 */
SKIFF_API int skiff_zc_loan_to_buf(int fd, struct skiff_zc_loan *loan, struct skiff_zc_buf *buf);

/* ---- counters ------------------------------------------------------------ */

struct skiff_stats {
	/* link */
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_drop_no_pkb;    /**< descriptor that pkb_build refused */
	uint64_t rx_drop_bad_frame; /**< too short or too long for Ethernet */
	uint64_t rx_drop_vlan;	    /**< wrong VID, untagged while a VLAN is set, 802.1ad */
	uint64_t rx_drop_not_ours;  /**< unicast to another MAC */
	uint64_t rx_drop_meta;	    /**< XDP metadata naming an unknown SA */
	uint64_t tx_drop_no_frame, tx_drop_ring_full, tx_drop_too_big;
	/* copies (payload bytes unless said otherwise) */
	uint64_t rx_copied_bytes;      /**< zero-copy receive: payloads copied instead of lent
				   * (copy-break, or data not in a frame of ours) */
	uint64_t tx_copied_bytes;      /**< zero-copy send: payloads that went out of a copy */
	uint64_t rx_recv_copied_bytes; /**< bytes skiff_recv/recvfrom copied out: by nature */
	uint64_t tx_send_copied_bytes; /**< whole frames (headers too) copied for everything
					* but zero-copy payloads: plain sends, control
					* segments, ARP, ICMP, UDP */
	uint64_t tx_inplace; /**< segments sent with headers written in front of their payload */
	uint64_t tx_send_inplace; /**< segments of plain sends sent from the frame the send
				   * copied their data into (their one copy) */
	uint64_t tx_send_resend_copies; /**< of those, copied before lwIP wrote their headers
					 * (a resend; the PSH or FIN of one queued again)
					 * while the earlier transmission was on the TX ring */
	uint64_t csum_reused; /**< sums of received payloads served from the one kept
			       * at receipt instead of summed again (a payload sent on
			       * as it lies; an MPTCP DSS checksum over it) */
	uint64_t rx_orphaned_bytes; /**< received data copied out of its frames because the
				     * application left it queued while frames ran short */
	/* IP/TCP/UDP, from lwIP's counters */
	uint64_t ip_rx_drop, ip_checksum_err, ip6_rx_drop, icmp_rx, icmp6_rx;
	uint64_t tcp_rx_drop, tcp_checksum_err, tcp_retransmits, tcp_ooseq, tcp_rst_sent,
		tcp_conn_refused;
	uint64_t udp_rx_drop, udp_checksum_err, udp_rcvq_drop;
	uint64_t arp_drop, nd6_drop;
	uint64_t tcp_fast_recoveries;	/**< fast retransmits (3 duplicate ACKs) */
	uint64_t tcp_timeouts;		/**< retransmission timeouts */
	uint64_t tcp_rto_retransmits;	/**< segments resent after a retransmission timeout */
	uint64_t tcp_partial_acks;	/**< NewReno: holes resent on a partial ACK in recovery */
	uint64_t tcp_sack_retransmits;	/**< holes resent from the SACK scoreboard */
	uint64_t tcp_lost_retransmits;	/**< resends found lost (SACKs past them) and resent */
	uint64_t tcp_rack_losses;	/**< segments RACK found lost (RFC 8985): sent before
					   * one the peer has, and missing an RTT plus the
					   * reordering window later; resent */
	uint64_t tcp_unsent_reordered;	/**< retransmission timeouts whose queue lwIP left out
					   * of order (RACK's resends below what was in
					   * flight): put back in order */
	uint64_t tcp_tlp_sent;		/**< tail loss probes (RFC 8985 7) */
	uint64_t tcp_tlp_recoveries;	/**< ... that repaired a tail loss (no D-SACK) */
	uint64_t tcp_dsacks_received;	/**< D-SACK blocks (RFC 2883): the peer got
					   * something twice */
	uint64_t tcp_spurious_undos;	/**< recoveries whose every resend the peer reported
				      * received twice (D-SACK): the window cut undone */
	uint64_t tcp_late_originals;	/**< resends whose original arrived first, as the
					   * ACK's timestamp echo showed (RFC 3522): not
					   * taken as RACK's reference */
	uint64_t tcp_dsacks_sent;	/**< ACKs carrying a D-SACK (RFC 2883) for data received
				   * twice, below the window */
	uint64_t tcp_pure_acks;		/**< ACKs sent on their own: no data, SYN or FIN
				   * carried them */
	uint64_t tcp_acks_held;		/**< ACKs held because the application had not
				   * read the data yet (its answer will carry them) */
	uint64_t tcp_acks_hold_expired; /**< ... of those, sent on their own after the hold
					  * (40 ms, doubled up to 160 ms on a
					  * connection where it ran out) with the data
					  * still unread */
	uint64_t tcp_acks_hold_longer;	/**< ... of those, doubling their connection's
					  * next hold */
	uint64_t tcp_cc_cubic_events;	/**< congestion events (a loss recovery, a timeout)
					   * on connections running CUBIC (RFC 9438) */
	uint64_t tcp_cc_reno_events;	/**< ... running Reno (TCP_CONGESTION "reno") */
	uint64_t tcp_cc_rto_events;	/**< of those, retransmission timeouts */
	uint64_t tcp_cubic_fast_convergence; /**< CUBIC's W_max lowered below the window
					      * at the event (RFC 9438 4.7) */
	uint64_t tcp_cubic_reno_friendly;    /**< ACKs where Reno's estimate led the cubic
					   * curve (RFC 9438 4.3) */
	uint64_t tcp_hystart_css;	     /**< HyStart++ (RFC 9406): slow start left for
					   * conservative slow start, the RTT rose */
	uint64_t tcp_hystart_resumed;	     /**< ... back to slow start: the rise was spurious */
	uint64_t tcp_hystart_exits;	     /**< ... conservative slow start's rounds done:
					   * congestion avoidance before any loss */
	uint64_t tcp_accept_backlog_drop;    /**< handshakes that finished for a listener closed
					   * meanwhile: reset */
	uint64_t secpath_drops;		     /**< segments refused by a listener's secpath policy */
	uint64_t mptcp_fallbacks;	     /**< MP_CAPABLE SYNs answered with plain TCP */
	uint64_t mptcp_dss_rx, mptcp_dss_tx;
	uint64_t mptcp_dss_rx_aside; /**< received DSS options whose frame had no room for
				      * its MPTCP extension: read from a copy aside */
	uint64_t mptcp_map_tx_ext;   /**< data segments sent with the DSS mapping their
				      * frame's MPTCP extension carries */
	uint64_t mptcp_map_tx_aside; /**< data segments sent without one (lwIP's heap, a
				      * zero-copy payload): mapped from the subflow's extents */
	uint64_t mptcp_map_split;    /**< split segments whose remainder kept the mapping */
	uint64_t mptcp_map_split_aside; /**< ... whose remainder went to lwIP's heap */
	uint64_t mptcp_bad_option; /**< malformed kind-30 options (bad length, repeated): ignored */
	uint64_t mptcp_passive_established; /**< MP_CAPABLE handshakes an MPTCP listener
					     * (IPPROTO_MPTCP) completed: keys exchanged */
	uint64_t mptcp_declined;	    /**< MP_CAPABLE SYNs an MPTCP listener answered as TCP
				      * (version 0, no HMAC-SHA256, DSS checksums asked) */
	uint64_t mptcp_fallback_ack;	    /**< third ACKs without a valid MP_CAPABLE (stripped,
				      * not our key): carried on as TCP (RFC 8684 3.7) */
	uint64_t mptcp_map_mismatch;	    /**< received DSS mappings that contradict the
				      * subflow's: segment dropped */
	uint64_t mptcp_data_fin_rx, mptcp_data_fin_tx; /**< DATA_FINs seen; sent (resends too) */
	uint64_t mptcp_active_established;	       /**< MP_CAPABLE handshakes an MPTCP socket's
					    * connect() completed */
	uint64_t mptcp_fallback_synack; /**< ... whose SYN-ACK had no valid MP_CAPABLE: TCP */
	uint64_t mptcp_dup_data_rx;	/**< received bytes whose mapping names data already
					 * received (the peer's connection-level resends):
					 * taken by TCP, not delivered again */
	uint64_t mptcp_join_rejected;	/**< MP_JOIN SYNs to an MPTCP listener: RST (a token
					 * of no connection here, or one that takes no more
					 * subflows; RFC 8684 3.2) */
	uint64_t mptcp_unknown_subtype; /**< kind-30 options of a subtype RFC 8684 does
					 * not define: ignored */
	uint64_t mptcp_csum_err;	/**< received mappings whose DSS checksum was wrong
					 * (RFC 8684 3.3.1); the first of a connection
					 * sends MP_FAIL, which falls back (3.7) */
	uint64_t mptcp_csum_fail_bytes; /**< ... their bytes (not segments), handed on
					   * as the fallback's TCP hands them on */
	uint64_t mptcp_csum_fail_reset; /**< ... on a connection with another subflow open:
					 * that subflow reset with MP_FAIL, its bytes dropped
					 * (the peer sends them again on the others) */
	uint64_t mptcp_mp_fail_tx, mptcp_mp_fail_rx; /**< MP_FAIL options sent (ours, or
						      * the echo of the peer's); received */
	uint64_t mptcp_infinite_map_tx;		     /**< infinite mappings sent (the peer's MP_FAIL
					 * asked): TCP from there */
	uint64_t mptcp_infinite_map_rx;		     /**< ... received after our MP_FAIL */
	uint64_t mptcp_join_established; /**< MP_JOIN subflows taken (HMAC-A checked,
					  * RFC 8684 3.2) */
	uint64_t mptcp_join_bad_hmac;	 /**< MP_JOIN third ACKs without a valid HMAC-A
					  * (or whose connection went): reset */
	uint64_t mptcp_join_rx_bytes;	 /**< bytes received on MP_JOIN subflows */
	uint64_t mptcp_ooo_bytes; /**< bytes that came ahead of the data-level receive
				   * pointer (another subflow's data due first): kept */
	uint64_t mptcp_ooo_drop;  /**< ... dropped instead (no room): sent again by
				   * the peer at the connection level */
	/* MPTCP's path manager signals and closing options (docs/mptcp.md) */
	uint64_t mptcp_join_syn_tx;	  /**< MP_JOIN SYNs skiff sent (joins it opened) */
	uint64_t mptcp_join_open_fail;	  /**< joins (to announced addresses, or from a port's
					   * mptcp_subflow) that could not open (no
					   * memory, no route, no port) */
	uint64_t mptcp_add_addr_rx;	  /**< ADD_ADDRs received, HMAC right: echoed */
	uint64_t mptcp_add_addr_bad_hmac; /**< ... HMAC wrong: ignored, not echoed */
	uint64_t mptcp_add_addr_echo_tx;  /**< ADD_ADDR echoes sent */
	uint64_t mptcp_add_addr_echo_rx;  /**< ADD_ADDR echoes received (ignored) */
	uint64_t mptcp_rm_addr_rx;	  /**< REMOVE_ADDRs received (their joins closed) */
	uint64_t mptcp_prio_rx;		  /**< MP_PRIOs received */
	uint64_t mptcp_prio_tx;		  /**< MP_PRIOs sent (skiff_mptcp_set_backup()) */
	uint64_t mptcp_rm_addr_tx;	  /**< REMOVE_ADDRs sent (skiff_mptcp_withdraw()) */
	uint64_t mptcp_join_from_port;	  /**< joins opened from an extra port that asks for
					   * them (skiff_port_config.mptcp_subflow) */
	uint64_t mptcp_join_not_opened; /**< joins skiff would have opened (a port's
					 * mptcp_subflow, an announced address it takes) but
					 * did not: the connection at its subflow limit (8),
					 * the announced-address table full, or a port join
					 * for an IPv6 connection (port joins are IPv4 only) */
	uint64_t mptcp_handover;	  /**< first subflows that died (a RST, lwIP's give-up)
					   * while a join carried the connection on: the
					   * socket moved onto it */
	uint64_t mptcp_handover_lost;	  /**< ... that ended the connection instead: some of
					   * their data was in no copy */
	uint64_t mptcp_main_fin_stale; /**< first subflows the peer closed with a FIN after
					* ours was queued: their data and the DATA_FIN went
					* on joins */
	uint64_t mptcp_main_fin_moved;	  /**< first subflows the peer closed with a FIN and
					   * no DATA_FIN (its path manager): the socket
					   * moved onto a join (counted in mptcp_handover
					   * too) */
	uint64_t mptcp_data_ack_probes;	  /**< probes for a DATA_ACK the peer owed: our
					   * window shut, every subflow's data ACKed */
	uint64_t mptcp_fastclose_rx;	  /**< MP_FASTCLOSEs received with our key: reset */
	uint64_t mptcp_fastclose_tx;	  /**< MP_FASTCLOSEs sent (one per subflow reset) */
	uint64_t mptcp_rst_rx;		  /**< MP_TCPRSTs received (on a RST) */
	uint64_t mptcp_rst_tx;		  /**< MP_TCPRSTs sent (on our RSTs) */
	uint64_t mptcp_join_tx_bytes;	  /**< bytes of ours written on joins (scheduler) */
	uint64_t mptcp_reinject_bytes;	  /**< ... written again on the first subflow: their
					   * join died or went stale before the DATA_ACK */
	uint64_t mptcp_reinject_nomem;	  /**< writes on joins kept without a copy (no memory):
					   * not reinjected if the join dies */
	uint64_t mptcp_join_stale;	  /**< joins gone stale (two RTOs deep) */
	uint64_t mptcp_add_addr_tx;	  /**< ADD_ADDRs sent (mptcp_announce_port; again
					   * each second until echoed, 5 at most) */
	uint64_t mptcp_main_stale;	  /**< first subflows gone stale (two RTOs deep):
					   * their data goes on joins */
	uint64_t mptcp_main_reinject_bytes; /**< bytes a stale first subflow held, not
					     * DATA_ACKed, written again on a join */
	uint64_t mptcp_data_fin_join_tx;    /**< DATA_FINs sent on a join (the first
					     * subflow stale) */
	uint64_t mptcp_close_deferred;	    /**< closes and SHUT_WR shutdowns whose first
					     * subflow's FIN waited for a join's data to
					     * be DATA_ACKed or written again on it */
	uint64_t mptcp_signal_not_taken;  /**< ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_FASTCLOSE,
					   * MP_TCPRST on segments TCP does not take (out of
					   * the window, an unacceptable ACK, a RST not at
					   * RCV.NXT): ignored */
	/* hostile input (docs/hardening.md) */
	uint64_t ip_len_err;	  /**< IPv4/IPv6 packets shorter than their header or length */
	uint64_t tcp_len_err;	  /**< TCP segments shorter than their header (data offset) */
	uint64_t ip_frag_drop;	  /**< fragments reassembly refused (overlap, bad offset, room) */
	uint64_t tcp_bad_options; /**< segments with a malformed option (length < 2, past the
				       * header): the options after it are ignored */
	uint64_t tcp_unknown_options; /**< options of kinds skiff does not know: skipped */
	uint64_t tcp_rst_ignored;     /**< RSTs outside the receive window: dropped, no answer */
	uint64_t tcp_challenge_acks;  /**< RFC 5961 challenge ACKs: in-window RST, SYN on a
				       * synchronized connection, ACK of data never sent */
	/** the same over the rate limit: dropped unanswered */
	uint64_t tcp_challenge_acks_limited;
	uint64_t tcp_rx_out_of_window;	    /**< data wholly outside the receive window (old
					* duplicates too): dropped, answered with an ACK */
	uint64_t tcp_syn_rcvd_timeouts;	    /**< half-open connections expired
					 * (SKIFF_SYN_RCVD_TIMEOUT_MS) */
	uint64_t tcp_listen_overflows;	    /**< SYNs that found a limit (the listener's backlog,
					 * max_half_open, max_connections): each answered
					 * by a SYN cookie or an RST */
	uint64_t tcp_listen_overflow_rsts;  /**< ... answered by an RST (cookies off), and
					    * cookie ACKs that found the connection table
					    * still full */
	uint64_t tcp_syncookies_sent;	    /**< SYN-ACKs carrying a SYN cookie */
	uint64_t tcp_syncookies_ok;	    /**< connections made from a returned cookie */
	uint64_t tcp_syncookies_failed;	    /**< ACKs to a listener with a wrong or stale
					    * cookie: answered with an RST */
	uint64_t tcp_connect_refused_limit; /**< connect() refused: max_connections
					     * (ENOBUFS) or no local port left for the
					     * peer (EADDRNOTAVAIL) */
	uint64_t tcp_time_wait_recycled;    /**< TIME-WAIT ended early at max_time_wait */
	uint64_t tcp_time_wait_reopened;    /**< TIME-WAIT ended by the peer's new SYN on its
					     * 4-tuple, above the old sequence */
	uint64_t tcp_pmtu_updates;	    /**< connections whose MSS an ICMP "fragmentation
					     * needed" / "packet too big" lowered */
	uint64_t tcp_pmtu_ignored;	    /**< such messages refused: bad checksum, no such
					     * connection, a sequence number outside its
					     * unacknowledged data (RFC 5927), no lower MTU */
	uint64_t tcp_ooseq_budget_drops;    /**< out-of-order frames dropped at a budget
					     * (max_ooseq_frames_conn / max_ooseq_frames) */
	uint64_t tcp_ooseq_pressure_drops;  /**< out-of-order frames dropped because frames
					     * ran short (as Linux prunes its out-of-order
					     * queue under memory pressure) */
	uint64_t rx_budget_orphaned_bytes;  /**< received data copied out of its frames
					     * because the connection's unread data was
					     * at max_rx_frames_conn */
	uint64_t tcp_timer_missed_arms;	    /**< connections the timer safety net found
					     * unarmed with timer work: a bug, stays 0 */
	uint64_t arp_spoof_drop; /**< ARP from another MAC claiming the stack's IPv4 address */
	uint64_t nd6_spoof_drop; /**< NS/NA from the wire claiming one of the stack's IPv6
				   * addresses */
	/* zero-copy */
	uint64_t zc_sends, zc_ids_completed, zc_sends_copied, zc_sends_aborted, zc_loans_live;
	/* frames by state */
	uint32_t frames_total, frames_free, frames_fill, frames_held, frames_tx, frames_loaned;
	uint32_t ooseq_frames;	   /**< of the held: in out-of-order queues */
	uint32_t rx_queued_frames; /**< of the held: holding data the application has not read */
	uint32_t rx_queued_frames_conn_peak; /**< the most frames one connection's unread data
					      * has held (max_rx_frames_conn at most, unless
					      * lwIP's heap could not take a copy) */
	uint32_t ext_areas_live; /**< packet extension areas in use (received frames' and
				  * queued segments' MPTCP mappings, secpaths): 0 once
				  * every frame is home */
	/* XDP statistics (or the memlink wire's equivalents) */
	uint64_t xdp_rx_dropped, xdp_rx_invalid, xdp_tx_invalid, xdp_rx_ring_full,
		xdp_fill_ring_empty, xdp_tx_ring_empty;
	uint64_t xdp_passed_not_ours; /**< frames our XDP program left to the kernel: not the
				       * stack's, or too malformed to classify */
	/* the connection tables, now */
	uint32_t tcp_connections; /**< on lwIP's active list (handshakes, closing) */
	uint32_t tcp_time_wait;
	uint32_t tcp_half_open;
	uint32_t tcp_timers_armed; /**< connections with a timer visit due each tick */
	/* lwIP pools in use (0 when idle and no sockets are open) */
	uint32_t lwip_pcbs_used; /**< TCP (and listening TCP) PCBs */
	uint32_t lwip_udp_pcbs_used, lwip_segs_used, lwip_pbufs_used, lwip_reass_used;
	uint32_t lwip_heap_used;   /**< bytes */
	uint32_t lwip_pool_errors; /**< allocation failures over all pools */
};

/** Counters since skiff_init(); all zero when the stack is not running. */
SKIFF_API void skiff_get_stats(struct skiff_stats *out);

/** What this libskiff was built with: the TCP/IP engine and its limits. */
struct skiff_build_info {
	const char *skiff_version; /**< "MAJOR.MINOR.PATCH" */
	const char *lwip_version;  /**< the lwIP release inside */
	uint32_t tcp_mss;
	uint32_t tcp_wnd;      /**< receive window, bytes */
	uint32_t tcp_snd_buf;  /**< send buffer, bytes */
	uint8_t tcp_rcv_scale; /**< window scale shift we announce */
	bool window_scaling;
	bool timestamps;
	bool sack_out; /**< SACK blocks sent on out-of-order data */
	bool ipv4;
	bool ipv6;
	bool custom_pbufs;   /**< zero-copy RX into lwIP */
	bool frame_tracking; /**< built with SKIFF_DEBUG_FRAMES */
};

/** Fills @p out; cannot fail. */
SKIFF_API void skiff_get_build_info(struct skiff_build_info *out);

#ifdef __cplusplus
}
#endif

#endif
