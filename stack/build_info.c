/* What the library was built with, read from lwIP's own configuration so it
 * cannot drift from lwipopts.h. */
#include <skiff/skiff.h>

#include "lwip/init.h"
#include "lwip/opt.h"

#define SKIFF_STR_(x) #x
#define SKIFF_STR(x)  SKIFF_STR_(x)

void skiff_get_build_info(struct skiff_build_info *out)
{
	*out = (struct skiff_build_info){
		.skiff_version = SKIFF_VERSION,
		.lwip_version = LWIP_VERSION_STRING,
		.tcp_mss = TCP_MSS,
		.tcp_wnd = TCP_WND,
		.tcp_snd_buf = TCP_SND_BUF,
		.tcp_rcv_scale = TCP_RCV_SCALE,
		.window_scaling = LWIP_WND_SCALE,
		.timestamps = LWIP_TCP_TIMESTAMPS,
		.sack_out = LWIP_TCP_SACK_OUT,
		.ipv4 = LWIP_IPV4,
		.ipv6 = LWIP_IPV6,
		.custom_pbufs = LWIP_SUPPORT_CUSTOM_PBUF,
#ifdef SKIFF_DEBUG_FRAMES
		.frame_tracking = true,
#endif
	};
}
