/* Socket addresses: struct sockaddr to lwIP's ip_addr_t and back. An
 * AF_INET6 socket also speaks IPv4 through v4-mapped addresses unless
 * IPV6_V6ONLY; one netif, so no zones (LWIP_IPV6_SCOPES is off). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "instance.h"
#include "sock.h"

#include "lwip/tcp.h"
#include "lwip/udp.h"

int skiff__sockaddr_in(const struct skiff_sock *s, const struct sockaddr *sa, socklen_t len,
		       ip_addr_t *ip, u16_t *port)
{
	if (!sa)
		return -EFAULT;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		if (len < sizeof(*in))
			return -EINVAL;
		if (s->domain == AF_INET6)
			return -EAFNOSUPPORT;
		ip_addr_set_ip4_u32_val(*ip, in->sin_addr.s_addr);
		*port = lwip_ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (len < sizeof(*in6))
			return -EINVAL;
		if (s->domain != AF_INET6)
			return -EAFNOSUPPORT;
		*port = lwip_ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			uint32_t v4;

			if (s->opt.v6only)
				return -EAFNOSUPPORT;
			memcpy(&v4, in6->sin6_addr.s6_addr + 12, 4);
			ip_addr_set_ip4_u32_val(*ip, v4);
			return 0;
		}
		IP_SET_TYPE_VAL(*ip, IPADDR_TYPE_V6);
		memcpy(ip_2_ip6(ip)->addr, in6->sin6_addr.s6_addr, 16);
		/* The scope id of a link-local address is not needed. */
		return 0;
	}
	return -EAFNOSUPPORT;
}

/* The netif of a link-local address: the link it is ours on, else the
 * first (a peer's link-local address names no link by itself). */
static struct netif *link_of6(const ip6_addr_t *a)
{
	struct skiff_stack *st = &skiff__s;

	for (unsigned i = 1; i < st->n_links; i++)
		if (netif_get_ip6_addr_match(&st->link[i].netif, a) >= 0)
			return &st->link[i].netif;
	return &st->link[0].netif;
}

void skiff__sockaddr_out(const struct skiff_sock *s, const ip_addr_t *ip, u16_t port,
			 struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t n;

	memset(&ss, 0, sizeof(ss));
	if (s->domain == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = lwip_htons(port);
		in->sin_addr.s_addr = IP_IS_V4(ip) ? ip4_addr_get_u32(ip_2_ip4(ip)) : 0;
		n = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = lwip_htons(port);
		if (IP_IS_V4(ip)) {
			uint32_t v4 = ip4_addr_get_u32(ip_2_ip4(ip));

			/* v4-mapped, unless it is the unspecified address */
			if (v4) {
				in6->sin6_addr.s6_addr[10] = 0xff;
				in6->sin6_addr.s6_addr[11] = 0xff;
				memcpy(in6->sin6_addr.s6_addr + 12, &v4, 4);
			}
		} else {
			memcpy(in6->sin6_addr.s6_addr, ip_2_ip6(ip)->addr, 16);
			if (ip6_addr_islinklocal(ip_2_ip6(ip)))
				in6->sin6_scope_id = netif_get_index(link_of6(ip_2_ip6(ip)));
		}
		n = sizeof(*in6);
	}
	if (sa && len) {
		memcpy(sa, &ss, *len < n ? *len : n);
		*len = n;
	}
}

const ip_addr_t *skiff__bind_addr(const struct skiff_sock *s, const ip_addr_t *ip)
{
	if (s->domain == AF_INET6 && IP_IS_V6(ip) && ip6_addr_isany(ip_2_ip6(ip)))
		return s->opt.v6only ? IP6_ADDR_ANY : IP_ANY_TYPE;
	return ip;
}

bool skiff__addr_is_ours(const ip_addr_t *ip)
{
	struct skiff_stack *st = &skiff__s;

	if (ip_addr_isany(ip))
		return true;
	for (unsigned i = 0; i < st->n_links; i++) {
		struct netif *n = &st->link[i].netif;

		if ((IP_IS_V4(ip) && ip4_addr_eq(ip_2_ip4(ip), netif_ip4_addr(n))) ||
		    (IP_IS_V6(ip) && netif_get_ip6_addr_match(n, ip_2_ip6(ip)) >= 0))
			return true;
	}
	return false;
}

void skiff__addrs_snapshot(struct skiff_sock *s, const struct tcp_pcb *pcb)
{
	ip_addr_copy(s->addr.local, pcb->local_ip);
	s->addr.lport = pcb->local_port;
	if (pcb->state != LISTEN) {
		ip_addr_copy(s->addr.remote, pcb->remote_ip);
		s->addr.rport = pcb->remote_port;
	}
}

/* ---- getsockname, getpeername ------------------------------------------- */

int skiff_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct skiff_sock *s;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (!addr || !len)
		SKIFF_FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP && s->pcb.udp)
		skiff__sockaddr_out(s, &s->pcb.udp->local_ip, s->pcb.udp->local_port, addr, len);
	else if (s->kind == SKIFF_SK_TCP && s->pcb.tcp)
		skiff__sockaddr_out(s, &s->pcb.tcp->local_ip, s->pcb.tcp->local_port, addr, len);
	else
		skiff__sockaddr_out(s, &s->addr.local, s->addr.lport, addr, len);
	return 0;
}

int skiff_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct skiff_sock *s;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (!addr || !len)
		SKIFF_FAIL(EFAULT);
	if (s->kind == SKIFF_SK_UDP) {
		if (!s->pcb.udp || !(s->pcb.udp->flags & UDP_FLAGS_CONNECTED))
			SKIFF_FAIL(ENOTCONN);
		skiff__sockaddr_out(s, &s->pcb.udp->remote_ip, s->pcb.udp->remote_port, addr, len);
		return 0;
	}
	if (s->state != SKIFF_TS_CONNECTED && !(s->state == SKIFF_TS_DEAD && s->addr.rport))
		SKIFF_FAIL(ENOTCONN);
	skiff__sockaddr_out(s, &s->addr.remote, s->addr.rport, addr, len);
	return 0;
}
