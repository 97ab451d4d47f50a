/* Capture (pcap.c): every frame received (as it comes off the RX ring,
 * before any filter) and sent (as it goes on the TX ring) into a pcap file
 * with nanosecond timestamps, through a buffer written out from the loop's
 * periodic turn. Off, it costs the RX and TX paths one predictable branch
 * each (skiff__pcap_frame()). */
#ifndef SKIFF_PCAP_H
#define SKIFF_PCAP_H

#include <stdint.h>

#include "instance.h"

/* Opens the capture the config (or $SKIFF_PCAP) asks for: 0, nothing
 * asked, or -errno with skiff_last_error() set. */
int skiff__pcap_open(void);
/* Writes out what is buffered when its time has come (@p now_ns,
 * CLOCK_MONOTONIC). */
void skiff__pcap_tick(uint64_t now_ns);
/* Writes out everything buffered (skiff_stop()). */
void skiff__pcap_flush(void);
/* Flushes and closes (skiff_fini()). */
void skiff__pcap_close(void);

void skiff__pcap_write(const void *frame, uint32_t len);

static inline void skiff__pcap_frame(const void *frame, uint32_t len)
{
	if (__builtin_expect(skiff__s.pcap != NULL, 0))
		skiff__pcap_write(frame, len);
}

#endif
