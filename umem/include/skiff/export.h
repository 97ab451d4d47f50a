/**
 * @file
 * Symbol visibility: libskiff is built with -fvisibility=hidden and exports
 * only what is marked SKIFF_API.
 */
#ifndef SKIFF_EXPORT_H
#define SKIFF_EXPORT_H

#define SKIFF_API __attribute__((visibility("default")))

#endif
