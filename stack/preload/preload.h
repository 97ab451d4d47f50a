/* libskiff-preload: what its files share (the configuration, the
 * descriptor table, the lock and the blocking wait). docs/preload.md says
 * how the pieces fit. */
#ifndef SKIFF_PRELOAD_H
#define SKIFF_PRELOAD_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define PL_EXPORT __attribute__((visibility("default")))

/* The calls we interpose, as the next library (libc) has them. */
struct pl_real {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	int (*shutdown)(int, int);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
		       const sigset_t *);
	int (*epoll_create1)(int);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
	int (*dup)(int);
	int (*dup3)(int, int, int);
	int (*dup2)(int, int);
	int (*execve)(const char *, char *const[], char *const[]);
};
extern struct pl_real pl__real;
void pl__resolve(void);
#define REAL(name)                                                                                 \
	(__builtin_expect(pl__real.name != NULL, 1) ? 0 : (pl__resolve(), 0), pl__real.name)

/* What a descriptor number is to us. */
enum pl_kind {
	PL_KERNEL = 0, /* not ours: every call goes to the kernel untouched */
	PL_UNDECIDED,  /* a TCP/UDP socket not yet bound or connected */
	PL_SKIFF,      /* a skiff socket; the number is a kernel placeholder */
	PL_EPOLL,      /* a kernel epoll instance, with a skiff one beside it */
};

/* A socket option set before the socket was decided: replayed on skiff. */
struct pl_opt {
	int level, name;
	socklen_t len;
	uint8_t val[16];
};
#define PL_MAX_OPTS 8

/* An epoll registration of an undecided socket: moved to skiff's side of
 * the set if the socket goes to skiff. */
struct pl_epreg {
	int epfd;
	struct epoll_event ev;
};
#define PL_MAX_EPREGS 4

#define PL_IPPROTO_MPTCP 262 /* Debian 12's headers predate it */

struct pl_fd {
	uint8_t kind;	/* enum pl_kind */
	bool nonblock;	/* the application's O_NONBLOCK (skiff's side is always nonblocking) */
	bool inherited; /* a skiff socket whose stack this process does not own (fork) */
	bool listening; /* listen() went to skiff */
	int sfd;	/* skiff descriptor; PL_EPOLL: skiff epoll instance or -1 */
	int domain, type;
	int protocol;	 /* 0, or IPPROTO_MPTCP (stream sockets) */
	unsigned nskiff; /* PL_EPOLL: skiff sockets registered */
	unsigned nopts;
	struct pl_opt opts[PL_MAX_OPTS];
	unsigned nepregs; /* PL_UNDECIDED: the epoll sets it is in */
	struct pl_epreg epregs[PL_MAX_EPREGS];
};

/* Which side of a fork() keeps the stack (SKIFF_FORK). */
enum pl_fork_mode {
	PL_FORK_AUTO = 0, /* the child when only listeners exist and none was ever used */
	PL_FORK_PARENT,
	PL_FORK_CHILD,
};

/* The configuration, read from the environment once. */
struct pl_config {
	bool enabled; /* SKIFF_IF and SKIFF_IP set */
	const char *ifname;
	uint32_t ip4, gw4; /* network byte order */
	uint8_t prefix4;
	bool has_ip6;
	uint8_t ip6[16]; /* SKIFF_IP6 */
	uint8_t prefix6;
	bool has_gw6;
	uint8_t gw6[16]; /* SKIFF_GW6 */
	uint32_t queue;
	int xdp_mode; /* enum skiff_xdp_mode */
	bool xdp_skb;
	bool all_ports;
	uint16_t ports[64][2]; /* ranges of wildcard ports that go to skiff */
	unsigned nports;
	int spin_us;
	int tick_ms;
	int fork_mode; /* enum pl_fork_mode */
	bool debug;
};
extern struct pl_config pl__cfg;

/* The table: NULL for a number we do not track (PL_KERNEL). */
struct pl_fd *pl__get(int fd);
/* The entry for @p fd, made if needed (NULL past the table). */
struct pl_fd *pl__slot(int fd);
void pl__forget(int fd);

/* The lock every skiff call runs under; never held in a blocking kernel
 * call. Calls made inside it (skiff's own socket, poll, ...) bypass us. */
void pl__lock(void);
void pl__unlock(void);
extern __thread int pl__inside;

/* Starts the stack on first use. 0, or -1 and errno. */
int pl__stack_up(void);
/* True when this process cannot run the stack: a forked child of its
 * owner, or a parent that handed it to a child. */
bool pl__forked_child(void);
/* A connection was accepted or connected on skiff (the fork policy). */
void pl__note_served(void);

/* One warning per @p key on stderr. */
void pl__warn_once(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The blocking wait: drive the stack, ask @p check_skiff (under the lock)
 * and @p check_kernel (without it, timeout 0) for ready events; when none,
 * sleep in the kernel on @p kfds (plus skiff's wait descriptor, for one
 * waiting thread at a time) until the first of: a descriptor ready, skiff's
 * next timer, another thread's poll round making skiff socket or epoll set
 * @p probe ready for @p probe_events (-1: any work), @p timeout_ms. The
 * thread waiting on the most skiff sockets (@p weight) sleeps on skiff's.
 * Returns the count, 0 on timeout, -1 and errno (EINTR).
 */
int pl__block(int (*check_skiff)(void *), int (*check_kernel)(void *), void *arg, int probe,
	      uint32_t probe_events, unsigned weight, struct pollfd *kfds, nfds_t nk,
	      int timeout_ms, const sigset_t *mask);
/* Under the lock: records (op on) undecided @p e's registration in epoll
 * set @p epfd; moves @p e's recorded registrations (it went to skiff as
 * number @p fd) from the kernel sets to their skiff side. */
void pl__epreg_note(struct pl_fd *e, int epfd, int op, const struct epoll_event *ev);
void pl__epreg_move(int fd, struct pl_fd *e);

/* Waits until skiff socket @p sfd has one of @p events (or an error): 0,
 * or -1 and errno (EAGAIN when the socket's @p timeo option, SO_RCVTIMEO
 * or SO_SNDTIMEO (0: none), ran out). *@p deadline is the call's deadline
 * across waits: 0 before the first wait of a call. */
int pl__wait_sock(int sfd, uint32_t events, int timeo, long long *deadline);

#endif
