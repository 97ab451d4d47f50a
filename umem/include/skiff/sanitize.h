/**
 * @file
 * Manual poisoning for AddressSanitizer, one definition for every module:
 * memory that skiff owns but nobody may touch (a free frame, a free pkb
 * head) is poisoned, so a stale pointer is caught where it is used.
 * Without ASan these do nothing.
 */
#ifndef SKIFF_SANITIZE_H
#define SKIFF_SANITIZE_H

#if defined(__SANITIZE_ADDRESS__)
#define SKIFF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKIFF_ASAN 1
#endif
#endif

#ifdef SKIFF_ASAN
#include <sanitizer/asan_interface.h>
#define SKIFF_POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define SKIFF_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SKIFF_POISON(p, n)   ((void)(p), (void)(n))
#define SKIFF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#endif
