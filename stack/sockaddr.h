/* Socket addresses (sockaddr.c): struct sockaddr to lwIP's ip_addr_t and
 * back, IPv4-mapped IPv6 included, and the addresses a socket remembers. */
#ifndef SKIFF_SOCKADDR_H
#define SKIFF_SOCKADDR_H

#include <sys/socket.h>

#include "lwip/ip_addr.h"

struct skiff_sock;
struct tcp_pcb;

/* Kept for getpeername()/getsockname() after the pcb goes. */
struct skiff_addrs {
	ip_addr_t local, remote;
	u16_t lport, rport;
};

/* 0, or -EFAULT, -EINVAL, -EAFNOSUPPORT (not @p s's family). */
int skiff__sockaddr_in(const struct skiff_sock *s, const struct sockaddr *sa, socklen_t len,
		       ip_addr_t *ip, u16_t *port);
/* @p ip:@p port as @p s's family spells it, truncated to *@p len as
 * getsockname() does; *@p len becomes the full size. */
void skiff__sockaddr_out(const struct skiff_sock *s, const ip_addr_t *ip, u16_t port,
			 struct sockaddr *sa, socklen_t *len);
/* The address to bind for @p ip: an AF_INET6 wildcard serves both
 * families unless IPV6_V6ONLY. */
const ip_addr_t *skiff__bind_addr(const struct skiff_sock *s, const ip_addr_t *ip);
/* True when @p ip is the wildcard or one of the stack's addresses. */
bool skiff__addr_is_ours(const ip_addr_t *ip);
/* The pcb's addresses into the socket's memory of them. */
void skiff__addrs_snapshot(struct skiff_sock *s, const struct tcp_pcb *pcb);

#endif
