/* RFC 6528 initial sequence numbers: ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey), M a 4-microsecond clock, F SipHash-2-4
 * under a key drawn from getrandom() at skiff_init() (lwIP's own ISN,
 * iss += tcp_ticks, is predictable). lwIP asks through LWIP_HOOK_TCP_ISN. */
#include <string.h>
#include <time.h>

#include "instance.h"
#include "skiff_lwip_hooks.h"

#include "lwip/ip_addr.h"

void skiff__isn_key(uint64_t k0, uint64_t k1)
{
	skiff__s.isn_k0 = k0;
	skiff__s.isn_k1 = k1;
}

static size_t put_addr(uint8_t *b, const ip_addr_t *a)
{
	if (IP_IS_V6(a)) {
		memcpy(b, ip_2_ip6(a)->addr, 16);
		return 16;
	}
	memcpy(b, &ip_2_ip4(a)->addr, 4);
	return 4;
}

u32_t skiff__hook_tcp_isn(const struct ip_addr *local_ip, u16_t local_port,
			  const struct ip_addr *remote_ip, u16_t remote_port)
{
	uint8_t b[16 + 2 + 16 + 2];
	size_t n = 0;
	struct timespec ts;
	uint64_t m;

	n += put_addr(b + n, local_ip);
	b[n++] = (uint8_t)(local_port >> 8);
	b[n++] = (uint8_t)local_port;
	n += put_addr(b + n, remote_ip);
	b[n++] = (uint8_t)(remote_port >> 8);
	b[n++] = (uint8_t)remote_port;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) / 4000;
	return (u32_t)(skiff__siphash24(skiff__s.isn_k0, skiff__s.isn_k1, b, n) + m);
}

uint32_t skiff__isn_v4(uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
	ip_addr_t l, r;

	ip_addr_set_ip4_u32_val(l, laddr);
	ip_addr_set_ip4_u32_val(r, raddr);
	return skiff__hook_tcp_isn(&l, lport, &r, rport);
}
