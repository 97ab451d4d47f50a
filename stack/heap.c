/* lwIP's heap (MEM_CUSTOM_ALLOCATOR, lwipopts.h): the C heap behind a
 * cache of freed blocks. With MEMP_MEM_MALLOC every pbuf head, segment and
 * header buffer is a malloc() and a free(): three of each per echoed
 * request, some 550 instructions of its 7,500 (skiff-bench --runs cost),
 * most of them in glibc's _int_free once a burst overflows its small
 * per-size cache. Here a freed block goes on a LIFO list of its size class
 * (16-byte steps up to HEAP_CACHED_MAX) and the next allocation of that
 * class takes it back, a dozen instructions each way.
 *
 * No header is added: a block's class is its usable size as the C heap
 * reports it, rounded down, so a block always serves its class's largest
 * request. A list keeps at most HEAP_KEEP blocks (more go back to the C
 * heap), so the cache never holds more than the peak of what lwIP had
 * allocated, and at most HEAP_KEEP blocks of any size.
 *
 * Like the rest of lwIP's state, the lists belong to the one thread that
 * drives the stack. */
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwipopts.h"

#ifndef HEAP_CACHED_MAX
#define HEAP_CACHED_MAX 2048 /* bytes: larger blocks go straight to the C heap */
#endif
#if defined(__SANITIZE_ADDRESS__)
/* ASan builds: every block back to the C heap, where use after free shows. */
#define HEAP_KEEP 0
#endif
#ifndef HEAP_KEEP
#define HEAP_KEEP 4096 /* free blocks a class keeps */
#endif
#define HEAP_STEP    16
#define HEAP_CLASSES (HEAP_CACHED_MAX / HEAP_STEP + 1)

struct heap_free {
	struct heap_free *next;
};

static struct heap_list {
	struct heap_free *head;
	uint32_t n;
} heap_lists[HEAP_CLASSES];

void *skiff__heap_alloc(size_t size)
{
	size_t c = (size + HEAP_STEP - 1) / HEAP_STEP;
	struct heap_list *l;
	struct heap_free *b;

	if (c >= HEAP_CLASSES)
		return malloc(size);
	l = &heap_lists[c];
	b = l->head;
	if (!b)
		return malloc(c ? c * HEAP_STEP : HEAP_STEP);
	l->head = b->next;
	l->n--;
	return b;
}

void skiff__heap_free(void *p)
{
	struct heap_list *l;
	size_t c;

	if (!p)
		return;
#if HEAP_KEEP == 0
	(void)l;
	(void)c;
	free(p);
#else
	c = malloc_usable_size(p) / HEAP_STEP;
	if (c >= HEAP_CLASSES) {
		free(p);
		return;
	}
	l = &heap_lists[c];
	if (l->n >= HEAP_KEEP) {
		free(p);
		return;
	}
	((struct heap_free *)p)->next = l->head;
	l->head = p;
	l->n++;
#endif
}

void *skiff__heap_calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	p = skiff__heap_alloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}
