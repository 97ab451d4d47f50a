/**
 * @file
 * skiff's public API: a user-space TCP/IP stack (lwIP inside) over AF_XDP.
 *
 * Threading: one stack instance per process, driven by one thread; no
 * skiff_* call may run concurrently with another.
 *
 * Errors: the POSIX-shaped socket calls return -1 and set errno, like the
 * calls they replace; everything else returns 0 or -errno (docs/errors.md).
 */
#ifndef SKIFF_H
#define SKIFF_H

#include <stdbool.h>
#include <stdint.h>

#include <skiff/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What this libskiff was built with: the TCP/IP engine and its limits. */
struct skiff_build_info {
	const char *skiff_version; /**< "MAJOR.MINOR.PATCH" */
	const char *lwip_version;  /**< the lwIP release inside */
	uint32_t tcp_mss;
	uint32_t tcp_wnd;          /**< receive window, bytes */
	uint32_t tcp_snd_buf;      /**< send buffer, bytes */
	uint8_t tcp_rcv_scale;     /**< window scale shift we announce */
	bool window_scaling;
	bool timestamps;
	bool sack_out;             /**< SACK blocks sent on out-of-order data */
	bool ipv4;
	bool ipv6;
	bool custom_pbufs;         /**< zero-copy RX into lwIP */
	bool frame_tracking;       /**< built with SKIFF_DEBUG_FRAMES */
};

/** Fills @p out; cannot fail. */
SKIFF_API void skiff_get_build_info(struct skiff_build_info *out);

#ifdef __cplusplus
}
#endif

#endif
