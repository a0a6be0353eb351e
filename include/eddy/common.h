/*
 * eddy/common.h — definitions every eddy header shares.
 *
 * EDDY_EXPORT marks the symbols that leave the library; everything else is
 * built with hidden visibility. Forward declarations of the opaque objects
 * live here so headers can refer to each other without include cycles.
 */
#ifndef EDDY_COMMON_H
#define EDDY_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(EDDY_BUILDING) && defined(__GNUC__)
#define EDDY_EXPORT __attribute__((visibility("default")))
#else
#define EDDY_EXPORT
#endif

#if defined(__GNUC__)
#define EDDY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define EDDY_NODISCARD         __attribute__((warn_unused_result))
#else
#define EDDY_PRINTF(fmt, args)
#define EDDY_NODISCARD
#endif

#define EDDY_VERSION_MAJOR 0
#define EDDY_VERSION_MINOR 1
#define EDDY_VERSION_PATCH 0
#define EDDY_VERSION       "0.1.0"

typedef struct eddy_loop eddy_loop_t;
typedef struct eddy_conn eddy_conn_t;
typedef struct eddy_listener eddy_listener_t;

#endif
