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
