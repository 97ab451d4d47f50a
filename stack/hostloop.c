/* Hosting skiff in another event loop (<skiff/hostloop.h>): the descriptor
 * to sleep on, the next timer, one socket's readiness. */
#include <errno.h>

#include <skiff/hostloop.h>

#include "instance.h"
#include "sock.h"

#include "lwip/timeouts.h"

int skiff_wait_fd(void)
{
	if (!skiff__running())
		SKIFF_FAIL(ENOTCONN);
	if (skiff__s.wait_fd < 0)
		SKIFF_FAIL(EOPNOTSUPP);
	return skiff__s.wait_fd;
}

int skiff_next_timer_ms(void)
{
	u32_t t;

	if (!skiff__running())
		SKIFF_FAIL(ENOTCONN);
	/* ACKs held for the next round or frames not yet kicked: due now. */
	if (skiff__s.batch_head || skiff__tx_pending())
		return 0;
	t = sys_timeouts_sleeptime();
	if (t == SYS_TIMEOUTS_SLEEPTIME_INFINITE)
		return -1;
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

int skiff_sock_events(int fd, uint32_t *events)
{
	struct skiff_sock *s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP | SKIFF_SK_EPOLL);

	if (!s)
		return -1;
	if (!events)
		SKIFF_FAIL(EFAULT);
	*events = skiff__poll_mask(s);
	return 0;
}
