/*
 * What the load generators under bench/ share: a latency histogram (1 us
 * resolution, 1024 linear buckets per power of two up to 2^40 us) and the
 * monotonic clock in nanoseconds. Header-only: each bench program is one
 * source file.
 */
#ifndef EDDY_BENCH_LOAD_COMMON_H
#define EDDY_BENCH_LOAD_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HIST_SUB_BITS 10 /* 1024 linear buckets per power of two */
#define HIST_MAX_US   ((uint64_t)1 << 40)
#define HIST_BUCKETS  ((size_t)(40 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

static uint64_t g_hist[HIST_BUCKETS];

static inline size_t hist_index(uint64_t v)
{
    if (v >= HIST_MAX_US) v = HIST_MAX_US - 1;
    if (v < ((uint64_t)2 << HIST_SUB_BITS)) return (size_t)v;
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - HIST_SUB_BITS;
    return ((size_t)shift << HIST_SUB_BITS) + (size_t)(v >> shift);
}

/* The midpoint of the values bucket i holds. */
static inline double hist_value(size_t i)
{
    if (i < ((size_t)2 << HIST_SUB_BITS)) return (double)i;
    size_t shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t mantissa = (i & (((size_t)1 << HIST_SUB_BITS) - 1)) | ((size_t)1 << HIST_SUB_BITS);
    uint64_t lo = mantissa << shift;
    return (double)lo + (double)(((uint64_t)1 << shift) - 1) / 2.0;
}

/* The value at or below which pct_x100 / 100 percent of the samples lie. */
static inline double hist_percentile(uint64_t total, uint64_t pct_x100)
{
    if (total == 0) return 0;
    uint64_t rank = (total * pct_x100 + 9999) / 10000;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += g_hist[i];
        if (seen >= rank) return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
