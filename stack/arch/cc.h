/* lwIP's compiler/platform glue for skiff: Linux, gcc or clang, 64-bit. */
#ifndef SKIFF_LWIP_ARCH_CC_H
#define SKIFF_LWIP_ARCH_CC_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

/* glibc's <netinet/in.h> defines htons() and friends as macros when
 * optimising; lwIP must not define them again (it uses lwip_htons itself). */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
/* lwIP's own lwip_htons()/lwip_htonl() are out-of-line calls (def.c), made
 * several times per segment: the compiler's byte swaps inline to one
 * instruction. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define lwip_htons(x) ((uint16_t)__builtin_bswap16((uint16_t)(x)))
#define lwip_htonl(x) ((uint32_t)__builtin_bswap32((uint32_t)(x)))
#endif

/* Release builds leave lwIP's internal consistency checks out, as they do
 * assert() (LWIP_ERROR's argument checks stay): some sit on the per-segment
 * path, in the connection lookup among others. */
#ifdef NDEBUG
#define LWIP_NOASSERT 1
#endif

#define LWIP_TIMEVAL_PRIVATE  0
#define LWIP_ERRNO_INCLUDE    <errno.h>
#define LWIP_ERRNO_STDINCLUDE 1

/* Ephemeral ports and the like: seeded from getrandom() (stack.c). */
uint32_t skiff__rand(void);
#define LWIP_RAND() ((u32_t)skiff__rand())

#define LWIP_PLATFORM_DIAG(x)                                                                      \
	do {                                                                                       \
		printf x;                                                                          \
	} while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
	do {                                                                                       \
		fprintf(stderr, "lwIP assertion \"%s\" failed at line %d in %s\n", x, __LINE__,    \
			__FILE__);                                                                 \
		abort();                                                                           \
	} while (0)

#define PACK_STRUCT_FIELD(x) x
#define PACK_STRUCT_STRUCT   __attribute__((packed))
#define PACK_STRUCT_BEGIN
#define PACK_STRUCT_END

#endif
