/* libskiff-preload: the socket calls. Which sockets go to skiff (the
 * policy), and each call on a skiff socket mapped onto skiff_*: skiff's
 * side is always nonblocking, and a call the application made blocking
 * waits in pl__block(), the lock released. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <skiff/hostloop.h>
#include <skiff/skiff.h>

#include "preload.h"

/* ---- the policy ----------------------------------------------------------- */

static bool addr4_of(const struct sockaddr *a, socklen_t len, uint32_t *ip, uint16_t *port)
{
	if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const void *)a;

		*ip = s->sin_addr.s_addr;
		*port = ntohs(s->sin_port);
		return true;
	}
	if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const void *)a;

		*port = ntohs(s->sin6_port);
		if (IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr)) {
			*ip = 0;
			return true;
		}
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			memcpy(ip, &s->sin6_addr.s6_addr[12], 4);
			return true;
		}
	}
	return false; /* IPv6 proper: addr6_of() */
}

/* An IPv6 address proper (not the wildcard, not v4-mapped). */
static bool addr6_of(const struct sockaddr *a, socklen_t len, const uint8_t **ip, uint16_t *port)
{
	const struct sockaddr_in6 *s = (const void *)a;

	if (a->sa_family != AF_INET6 || len < sizeof(*s) ||
	    IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&s->sin6_addr))
		return false;
	*ip = s->sin6_addr.s6_addr;
	*port = ntohs(s->sin6_port);
	return true;
}

/* Whether @p ip is on skiff's IPv6 prefix. */
static bool on_prefix6(const uint8_t *ip)
{
	unsigned bits = pl__cfg.prefix6, full = bits / 8;

	if (memcmp(ip, pl__cfg.ip6, full))
		return false;
	if (bits % 8) {
		uint8_t m = (uint8_t)(0xff << (8 - bits % 8));

		return (ip[full] & m) == (pl__cfg.ip6[full] & m);
	}
	return true;
}

static bool port_listed(uint16_t port)
{
	if (pl__cfg.all_ports)
		return true;
	for (unsigned i = 0; i < pl__cfg.nports; i++)
		if (port >= pl__cfg.ports[i][0] && port <= pl__cfg.ports[i][1])
			return true;
	return false;
}

/* bind(): skiff's address, or the wildcard on a port SKIFF_PORTS lists. */
static bool bind_goes_to_skiff(const struct sockaddr *a, socklen_t len)
{
	const uint8_t *ip6;
	uint32_t ip;
	uint16_t port;

	if (addr6_of(a, len, &ip6, &port))
		return pl__cfg.has_ip6 && !memcmp(ip6, pl__cfg.ip6, 16);
	if (!addr4_of(a, len, &ip, &port))
		return false;
	if (ip == pl__cfg.ip4)
		return true;
	if (ip == 0) {
		if (port_listed(port))
			return true;
		pl__warn_once("wild",
			      "wildcard bind to port %u stays on the kernel (add it to "
			      "SKIFF_PORTS, or bind skiff's address)",
			      port);
	}
	return false;
}

/* The interface the kernel would send to @p ip (IPv4, network order) or
 * @p ip6 (when not NULL) from, as the kernel's route says (a connected UDP
 * socket's source address, then its owner). */
static bool kernel_routes_via_skiff_if(uint32_t ip, const uint8_t *ip6)
{
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr = {ip}};
	struct sockaddr_in6 dst6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	struct sockaddr_storage src;
	socklen_t sl = sizeof(src);
	struct ifaddrs *ifs, *i;
	int fam = ip6 ? AF_INET6 : AF_INET;
	bool via = false;
	int s;

	if (ip6)
		memcpy(&dst6.sin6_addr, ip6, 16);
	if ((s = pl__real.socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	if (ip6 ? pl__real.connect(s, (void *)&dst6, sizeof(dst6))
		: pl__real.connect(s, (void *)&dst, sizeof(dst))) {
		/* No kernel route at all: skiff's gateway is the way out. */
		via = errno == ENETUNREACH;
		pl__real.close(s);
		return via;
	}
	pl__real.getsockname(s, (void *)&src, &sl);
	pl__real.close(s);
	if (getifaddrs(&ifs))
		return false;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
			continue;
		if (ip6 ? !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				  &((struct sockaddr_in6 *)&src)->sin6_addr, 16)
			: ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
				    ((struct sockaddr_in *)&src)->sin_addr.s_addr)
			via = !strcmp(i->ifa_name, pl__cfg.ifname);
	}
	freeifaddrs(ifs);
	return via;
}

/* connect()/sendto() of an undecided socket: a destination on skiff's
 * subnet (IPv6: its prefix), or routed (by the kernel's table) out of
 * skiff's interface when skiff has a gateway. Loopback never. */
static bool dst_goes_to_skiff(const struct sockaddr *a, socklen_t len)
{
	const uint8_t *ip6;
	uint32_t ip, mask;
	uint16_t port;

	if (addr6_of(a, len, &ip6, &port)) {
		if (!pl__cfg.has_ip6 || IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)ip6) ||
		    IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)ip6))
			return false;
		return on_prefix6(ip6) || (pl__cfg.has_gw6 && kernel_routes_via_skiff_if(0, ip6));
	}
	if (!addr4_of(a, len, &ip, &port) || ip == 0)
		return false;
	if ((ntohl(ip) >> 24) == 127)
		return false;
	mask = pl__cfg.prefix4 ? htonl(~0u << (32 - pl__cfg.prefix4)) : 0;
	if ((ip & mask) == (pl__cfg.ip4 & mask))
		return true;
	return pl__cfg.gw4 && kernel_routes_via_skiff_if(ip, NULL);
}

/* ---- moving a socket to skiff --------------------------------------------- */

/* Under the lock: a skiff socket for undecided @p e (number @p fd), its
 * recorded options replayed and its epoll registrations moved. 0, or -1
 * and errno. */
static int adopt(int fd, struct pl_fd *e)
{
	int sfd;

	if (pl__stack_up())
		return -1;
	sfd = skiff_socket(e->domain, e->type | SOCK_NONBLOCK, e->protocol);
	if (sfd < 0)
		return -1;
	for (unsigned i = 0; i < e->nopts; i++) {
		struct pl_opt *o = &e->opts[i];

		if (skiff_setsockopt(sfd, o->level, o->name, o->val, o->len))
			pl__warn_once("replay",
				      "option %d/%d set before bind is not supported by "
				      "skiff: dropped",
				      o->level, o->name);
	}
	e->kind = PL_SKIFF;
	e->sfd = sfd;
	e->nopts = 0;
	pl__epreg_move(fd, e);
	return 0;
}

static int inherited(void)
{
	pl__warn_once("inh", "a skiff socket shared across fork() belongs to the process that "
			     "runs skiff (SKIFF_FORK): this one may only close it (EBADF)");
	errno = EBADF;
	return -1;
}

#define SKIFF_FD(fd, e) ((e = pl__get(fd)) && e->kind == PL_SKIFF)

/* ---- creating, binding, connecting ---------------------------------------- */

PL_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct pl_fd *e;

	if (fd < 0 || pl__inside || !pl__cfg.enabled)
		return fd;
	pl__forget(fd);
	/* MPTCP (RFC 8684) goes to skiff's MPTCP; the kernel socket beside
	 * it is an MPTCP one too, for the case it stays the kernel's. */
	if ((domain != AF_INET && domain != AF_INET6) ||
	    (base != SOCK_STREAM && base != SOCK_DGRAM) ||
	    (protocol && protocol != IPPROTO_TCP && protocol != IPPROTO_UDP &&
	     !(protocol == PL_IPPROTO_MPTCP && base == SOCK_STREAM)) ||
	    pl__forked_child())
		return fd;
	if ((e = pl__slot(fd))) {
		/* A number decided for the kernel before left its fields. */
		memset(e, 0, sizeof(*e));
		e->kind = PL_UNDECIDED;
		e->domain = domain;
		e->type = base;
		e->protocol = protocol == PL_IPPROTO_MPTCP ? PL_IPPROTO_MPTCP : 0;
		e->nonblock = type & SOCK_NONBLOCK;
		e->sfd = -1;
	}
	return fd;
}

/* The call that names an address decides an undecided socket: adopted by
 * skiff when @p to_skiff, else the kernel's for good. Decided sockets are
 * left as they are. 0, or -1 (adopting failed, errno set). */
static int decide(int fd, struct pl_fd *e, bool to_skiff)
{
	int r;

	if (e->kind != PL_UNDECIDED)
		return 0;
	if (!to_skiff) {
		e->kind = PL_KERNEL;
		return 0;
	}
	pl__lock();
	r = adopt(fd, e);
	pl__unlock();
	return r ? -1 : 0;
}

PL_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct pl_fd *e = pl__get(fd);
	int r;

	if (!e || pl__inside || !addr)
		return REAL(bind)(fd, addr, len);
	if (e->inherited)
		return inherited();
	if (decide(fd, e, e->kind == PL_UNDECIDED && bind_goes_to_skiff(addr, len)))
		return -1;
	if (e->kind != PL_SKIFF)
		return REAL(bind)(fd, addr, len);
	pl__lock();
	r = skiff_bind(e->sfd, addr, len);
	pl__unlock();
	if (pl__cfg.debug && !r)
		fprintf(stderr, "skiff-preload[%d]: fd %d bound on skiff\n", (int)getpid(), fd);
	return r;
}

PL_EXPORT int listen(int fd, int backlog)
{
	struct pl_fd *e = pl__get(fd);
	int r;

	if (!e || pl__inside)
		return REAL(listen)(fd, backlog);
	if (e->inherited)
		return inherited();
	if (e->kind != PL_SKIFF) {
		e->kind = PL_KERNEL; /* unbound: the kernel picks a port */
		return REAL(listen)(fd, backlog);
	}
	pl__lock();
	r = skiff_listen(e->sfd, backlog);
	pl__unlock();
	if (r == 0)
		e->listening = true;
	return r;
}

PL_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct pl_fd *e, *ne;
	long long deadline = 0;
	int s, k, domain;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(accept4)(fd, addr, len, flags);
	if (e->inherited)
		return inherited();
	for (;;) {
		pl__lock();
		s = skiff_accept(e->sfd, addr, len, SOCK_NONBLOCK);
		pl__unlock();
		if (s >= 0)
			break;
		if (errno != EAGAIN || e->nonblock ||
		    pl__wait_sock(e->sfd, EPOLLIN, SO_RCVTIMEO, &deadline))
			return -1;
	}
	/* The number the application sees is a kernel socket's: it cannot
	 * collide with a kernel descriptor and stays low for select(). */
	domain = e->domain;
	k = REAL(socket)(domain, SOCK_STREAM | (flags & SOCK_CLOEXEC), 0);
	if (k < 0 || !(ne = pl__slot(k))) {
		int err = k < 0 ? errno : EMFILE;

		if (k >= 0)
			REAL(close)(k);
		pl__lock();
		skiff_close(s);
		pl__unlock();
		errno = err;
		return -1;
	}
	pl__note_served();
	memset(ne, 0, sizeof(*ne));
	ne->kind = PL_SKIFF;
	ne->sfd = s;
	ne->domain = domain;
	ne->type = SOCK_STREAM;
	ne->nonblock = flags & SOCK_NONBLOCK;
	return k;
}

PL_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return accept4(fd, addr, len, 0);
}

PL_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct pl_fd *e = pl__get(fd);
	long long deadline = 0;
	int r, err;
	socklen_t el = sizeof(err);

	if (!e || pl__inside || !addr)
		return REAL(connect)(fd, addr, len);
	if (e->inherited)
		return inherited();
	if (decide(fd, e, e->kind == PL_UNDECIDED && dst_goes_to_skiff(addr, len)))
		return -1;
	if (e->kind != PL_SKIFF)
		return REAL(connect)(fd, addr, len);
	pl__lock();
	r = skiff_connect(e->sfd, addr, len);
	pl__unlock();
	pl__note_served();
	if (r == 0 || errno != EINPROGRESS || e->nonblock || e->type != SOCK_STREAM)
		return r;
	if (pl__wait_sock(e->sfd, EPOLLOUT, SO_SNDTIMEO, &deadline)) {
		if (errno == EAGAIN)
			errno = EINPROGRESS; /* as the kernel's connect() on SO_SNDTIMEO */
		return -1;
	}
	pl__lock();
	r = skiff_getsockopt(e->sfd, SOL_SOCKET, SO_ERROR, &err, &el);
	pl__unlock();
	if (r == 0 && err) {
		errno = err;
		return -1;
	}
	return r;
}

/* ---- data ----------------------------------------------------------------- */

/* The iovec calls, through skiff_recvmsg/skiff_sendmsg: a datagram is
 * gathered and scattered whole, a stream's buffers go as one write (a
 * blocking one sends them all, as the kernel's does). */
static ssize_t sk_recvmsg(struct pl_fd *e, struct msghdr *m, int flags)
{
	long long deadline = 0;
	ssize_t n;

	if (e->inherited)
		return inherited();
	if (flags & MSG_OOB) {
		pl__warn_once("oob", "MSG_OOB is not supported on skiff sockets (EOPNOTSUPP)");
		errno = EOPNOTSUPP;
		return -1;
	}
	for (;;) {
		pl__lock();
		n = skiff_recvmsg(e->sfd, m, flags | MSG_DONTWAIT);
		pl__unlock();
		if (n >= 0 || errno != EAGAIN || e->nonblock || (flags & MSG_DONTWAIT))
			return n;
		if (pl__wait_sock(e->sfd, EPOLLIN | EPOLLRDHUP, SO_RCVTIMEO, &deadline))
			return -1;
	}
}

static ssize_t sk_sendmsg(struct pl_fd *e, const struct msghdr *m, int flags)
{
	struct msghdr rest = *m;
	struct iovec *iov = NULL, one;
	long long deadline = 0;
	size_t done = 0;
	ssize_t n;

	if (e->inherited)
		return inherited();
	if (flags & MSG_OOB) {
		pl__warn_once("oob", "MSG_OOB is not supported on skiff sockets (EOPNOTSUPP)");
		errno = EOPNOTSUPP;
		return -1;
	}
	if (m->msg_controllen)
		pl__warn_once("cmsg", "ancillary data on a skiff socket is ignored");
	rest.msg_control = NULL;
	rest.msg_controllen = 0;
	flags &= MSG_DONTWAIT | MSG_MORE | MSG_NOSIGNAL;
	for (;;) {
		pl__lock();
		n = skiff_sendmsg(e->sfd, &rest, flags | MSG_DONTWAIT);
		pl__unlock();
		if (e->type != SOCK_STREAM)
			break;
		if (n > 0) {
			done += (size_t)n;
			/* What is left: a copy of the array, moved past the sent
			 * bytes (the caller's stays as it was). */
			if (!iov && m->msg_iovlen == 1) {
				one = m->msg_iov[0];
				iov = &one;
				rest.msg_iov = iov;
			} else if (!iov) {
				if (!(iov = malloc(m->msg_iovlen * sizeof(*iov)))) {
					n = -1;
					errno = ENOMEM;
					break;
				}
				memcpy(iov, m->msg_iov, m->msg_iovlen * sizeof(*iov));
				rest.msg_iov = iov;
			}
			for (size_t k = (size_t)n; k;) {
				size_t step = k < rest.msg_iov->iov_len ? k : rest.msg_iov->iov_len;

				rest.msg_iov->iov_base = (char *)rest.msg_iov->iov_base + step;
				rest.msg_iov->iov_len -= step;
				k -= step;
				if (!rest.msg_iov->iov_len) {
					rest.msg_iov++;
					rest.msg_iovlen--;
				}
			}
			while (rest.msg_iovlen && !rest.msg_iov->iov_len) {
				rest.msg_iov++;
				rest.msg_iovlen--;
			}
			if (!rest.msg_iovlen)
				break;
		} else if (n < 0 && errno != EAGAIN) {
			break;
		}
		if (e->nonblock || (flags & MSG_DONTWAIT)) {
			if (!done)
				n = -1; /* errno EAGAIN */
			break;
		}
		if (pl__wait_sock(e->sfd, EPOLLOUT, SO_SNDTIMEO, &deadline))
			break;
	}
	if (iov != &one)
		free(iov);
	if (e->type != SOCK_STREAM)
		return n;
	return done ? (ssize_t)done : n < 0 ? -1 : 0;
}

static ssize_t sk_recv(struct pl_fd *e, void *buf, size_t len, int flags, struct sockaddr *from,
		       socklen_t *fromlen)
{
	struct iovec v = {buf, len};
	struct msghdr m = {.msg_name = fromlen ? from : NULL,
			   .msg_namelen = fromlen ? *fromlen : 0,
			   .msg_iov = &v,
			   .msg_iovlen = 1};
	ssize_t n = sk_recvmsg(e, &m, flags);

	if (n >= 0 && fromlen && from)
		*fromlen = m.msg_namelen;
	return n;
}

static ssize_t sk_send(struct pl_fd *e, const void *buf, size_t len, int flags,
		       const struct sockaddr *to, socklen_t tolen)
{
	struct iovec v = {(void *)buf, len};
	struct msghdr m = {.msg_name = (void *)to,
			   .msg_namelen = to ? tolen : 0,
			   .msg_iov = &v,
			   .msg_iovlen = 1};

	return sk_sendmsg(e, &m, flags);
}

PL_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(read)(fd, buf, len);
	return sk_recv(e, buf, len, 0, NULL, NULL);
}

PL_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, len);
}

PL_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(write)(fd, buf, len);
	return sk_send(e, buf, len, 0, NULL, 0);
}

PL_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(recvfrom)(fd, buf, len, flags, NULL, NULL);
	return sk_recv(e, buf, len, flags, NULL, NULL);
}

PL_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	(void)buflen;
	return recv(fd, buf, len, flags);
}

PL_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			   socklen_t *fromlen)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(recvfrom)(fd, buf, len, flags, from, fromlen);
	return sk_recv(e, buf, len, flags, from, fromlen);
}

PL_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *fromlen)
{
	(void)buflen;
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

PL_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(sendto)(fd, buf, len, flags, NULL, 0);
	return sk_send(e, buf, len, flags, NULL, 0);
}

PL_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
			 socklen_t tolen)
{
	struct pl_fd *e = pl__get(fd);

	if (!e || pl__inside)
		return REAL(sendto)(fd, buf, len, flags, to, tolen);
	if (to && decide(fd, e, e->kind == PL_UNDECIDED && dst_goes_to_skiff(to, tolen)))
		return -1;
	if (e->kind != PL_SKIFF)
		return REAL(sendto)(fd, buf, len, flags, to, tolen);
	return sk_send(e, buf, len, flags, to, tolen);
}

static ssize_t sk_recvv(struct pl_fd *e, const struct iovec *iov, int cnt)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};

	return sk_recvmsg(e, &m, 0);
}

static ssize_t sk_sendv(struct pl_fd *e, const struct iovec *iov, int cnt)
{
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt};

	return sk_sendmsg(e, &m, 0);
}

PL_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(readv)(fd, iov, cnt);
	return sk_recvv(e, iov, cnt);
}

PL_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(writev)(fd, iov, cnt);
	return sk_sendv(e, iov, cnt);
}

PL_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	struct pl_fd *e;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(recvmsg)(fd, m, flags);
	return sk_recvmsg(e, m, flags);
}

PL_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct pl_fd *e = pl__get(fd);

	if (!e || pl__inside)
		return REAL(sendmsg)(fd, m, flags);
	if (m->msg_name &&
	    decide(fd, e,
		   e->kind == PL_UNDECIDED && dst_goes_to_skiff(m->msg_name, m->msg_namelen)))
		return -1;
	if (e->kind != PL_SKIFF)
		return REAL(sendmsg)(fd, m, flags);
	return sk_sendmsg(e, m, flags);
}

/* sendfile() to a skiff socket: read the file, send what was read; the
 * file offset moves by what was sent. */
PL_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	struct pl_fd *e;
	char buf[65536];
	off_t pos;
	ssize_t n, s;

	if (pl__inside || !SKIFF_FD(out, e))
		return REAL(sendfile)(out, in, off, count);
	pos = off ? *off : lseek(in, 0, SEEK_CUR);
	if (pos < 0)
		return -1;
	n = pread(in, buf, count < sizeof(buf) ? count : sizeof(buf), pos);
	if (n <= 0)
		return n;
	s = sk_send(e, buf, (size_t)n, 0, NULL, 0);
	if (s <= 0)
		return s;
	if (off)
		*off = pos + s;
	else
		lseek(in, pos + s, SEEK_SET);
	return s;
}

/* What programs built with _FILE_OFFSET_BITS=64 call (nginx): the same
 * call on a 64-bit target. */
PL_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

/* ---- closing -------------------------------------------------------------- */

/* Drops our side of @p fd (the kernel number stays open). */
static void release(int fd)
{
	struct pl_fd *e = pl__get(fd);

	if (!e)
		return;
	if ((e->kind == PL_SKIFF || (e->kind == PL_EPOLL && e->sfd >= 0)) && !e->inherited) {
		pl__lock();
		skiff_close(e->sfd);
		pl__unlock();
	}
	pl__forget(fd);
}

PL_EXPORT int close(int fd)
{
	if (!pl__inside && pl__get(fd))
		release(fd);
	return REAL(close)(fd);
}

PL_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (!pl__inside && !(flags & CLOSE_RANGE_CLOEXEC))
		for (unsigned fd = first; fd <= last && fd < (1u << 20); fd++)
			if (pl__get((int)fd))
				release((int)fd);
	return REAL(close_range)(first, last, flags);
}

PL_EXPORT int shutdown(int fd, int how)
{
	struct pl_fd *e;
	int r;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(shutdown)(fd, how);
	if (e->inherited)
		return inherited();
	pl__lock();
	r = skiff_shutdown(e->sfd, how);
	pl__unlock();
	return r;
}

/* ---- options and names ---------------------------------------------------- */

PL_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct pl_fd *e = pl__get(fd);
	int r;

	if (!e || pl__inside || e->kind == PL_KERNEL || e->kind == PL_EPOLL)
		return REAL(setsockopt)(fd, level, name, val, len);
	if (e->kind == PL_UNDECIDED) {
		r = REAL(setsockopt)(fd, level, name, val, len);
		if (r == 0 && len <= sizeof(e->opts[0].val) && e->nopts < PL_MAX_OPTS) {
			struct pl_opt *o = &e->opts[e->nopts++];

			o->level = level;
			o->name = name;
			o->len = len;
			memcpy(o->val, val, len);
		}
		return r;
	}
	if (e->inherited)
		return inherited();
	if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF)) {
		pl__warn_once("bufsz", "SO_RCVBUF/SO_SNDBUF on a skiff socket: skiff's buffers are "
				       "fixed at build time; ignored");
		return 0;
	}
	pl__lock();
	r = skiff_setsockopt(e->sfd, level, name, val, len);
	pl__unlock();
	if (r && errno == ENOPROTOOPT) {
		char key[32];

		snprintf(key, sizeof(key), "opt%d/%d", level, name);
		pl__warn_once(key,
			      "socket option %d/%d is not supported on skiff sockets "
			      "(ENOPROTOOPT)",
			      level, name);
		errno = ENOPROTOOPT;
	}
	return r;
}

PL_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct pl_fd *e;
	int r;

	if (pl__inside || !SKIFF_FD(fd, e))
		return REAL(getsockopt)(fd, level, name, val, len);
	if (e->inherited)
		return inherited();
	pl__lock();
	r = skiff_getsockopt(e->sfd, level, name, val, len);
	pl__unlock();
	if (r && errno == ENOPROTOOPT) {
		char key[32];

		snprintf(key, sizeof(key), "gopt%d/%d", level, name);
		pl__warn_once(key,
			      "socket option %d/%d cannot be read from skiff sockets "
			      "(ENOPROTOOPT)",
			      level, name);
		errno = ENOPROTOOPT;
	}
	return r;
}

PL_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct pl_fd *e;
	int r;

	if (pl__inside || !SKIFF_FD(fd, e) || e->inherited)
		return REAL(getsockname)(fd, addr, len);
	pl__lock();
	r = skiff_getsockname(e->sfd, addr, len);
	pl__unlock();
	return r;
}

PL_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct pl_fd *e;
	int r;

	if (pl__inside || !SKIFF_FD(fd, e) || e->inherited)
		return REAL(getpeername)(fd, addr, len);
	pl__lock();
	r = skiff_getpeername(e->sfd, addr, len);
	pl__unlock();
	return r;
}

/* ---- descriptor flags ----------------------------------------------------- */

static int refuse_dup(void)
{
	pl__warn_once("dup", "dup() of a skiff socket is not supported (EOPNOTSUPP)");
	errno = EOPNOTSUPP;
	return -1;
}

static int pl_fcntl(int fd, int cmd, long arg)
{
	struct pl_fd *e = pl__get(fd);
	int r;

	if (!e || pl__inside || e->kind == PL_KERNEL || e->kind == PL_EPOLL)
		return REAL(fcntl)(fd, cmd, arg);
	switch (cmd) {
	case F_GETFL:
		r = REAL(fcntl)(fd, cmd);
		if (r >= 0)
			r = e->nonblock ? (r | O_NONBLOCK) : (r & ~O_NONBLOCK);
		return r;
	case F_SETFL:
		r = REAL(fcntl)(fd, cmd, arg);
		if (r == 0)
			e->nonblock = arg & O_NONBLOCK;
		return r;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (e->kind == PL_SKIFF)
			return refuse_dup();
		return REAL(fcntl)(fd, cmd, arg);
	default:
		return REAL(fcntl)(fd, cmd, arg);
	}
}

PL_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return pl_fcntl(fd, cmd, arg);
}

PL_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return pl_fcntl(fd, cmd, arg);
}

PL_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct pl_fd *e;
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (pl__inside || !(e = pl__get(fd)) || e->kind == PL_KERNEL || e->kind == PL_EPOLL)
		return REAL(ioctl)(fd, req, arg);
	if (req == FIONBIO) {
		e->nonblock = *(int *)arg != 0;
		return REAL(ioctl)(fd, req, arg);
	}
	if (e->kind == PL_UNDECIDED)
		return REAL(ioctl)(fd, req, arg);
	if (req == FIONREAD) {
		/* What a peek returns, up to 64 KiB: enough for "is there data,
		 * how much at least". */
		static __thread char peek[65536];
		ssize_t n;

		pl__lock();
		n = skiff_recv(e->sfd, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
		pl__unlock();
		*(int *)arg = n > 0 ? (int)n : 0;
		return 0;
	}
	pl__warn_once("ioctl", "ioctl %#lx on a skiff socket is not supported (ENOTTY)", req);
	errno = ENOTTY;
	return -1;
}

PL_EXPORT int dup(int fd)
{
	struct pl_fd *e;

	if (!pl__inside && SKIFF_FD(fd, e))
		return refuse_dup();
	return REAL(dup)(fd);
}

PL_EXPORT int dup3(int old, int new, int flags)
{
	struct pl_fd *e;

	if (!pl__inside && SKIFF_FD(old, e))
		return refuse_dup();
	if (!pl__inside && old != new &&pl__get(new))
		release(new); /* dup3 closes what was there */
	return REAL(dup3)(old, new, flags);
}

PL_EXPORT int dup2(int old, int new)
{
	struct pl_fd *e;

	if (!pl__inside && SKIFF_FD(old, e))
		return refuse_dup();
	if (!pl__inside && old != new &&pl__get(new))
		release(new);
	return REAL(dup2)(old, new);
}

PL_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	for (int fd = 0; fd < 65536 && !pl__inside; fd++) {
		struct pl_fd *e = pl__get(fd);

		if (e && e->kind == PL_SKIFF && !e->inherited) {
			pl__warn_once("exec",
				      "exec(): skiff sockets do not survive it (fd %d and "
				      "others become dead kernel sockets)",
				      fd);
			break;
		}
	}
	return REAL(execve)(path, argv, envp);
}
