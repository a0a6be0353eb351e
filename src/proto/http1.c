/*
 * HTTP/1.1 head parser and chunked body decoder (include/eddy/http1.h).
 *
 * Layout: character classes; the delimiter scanners for each SIMD path;
 * the helpers that turn field lines into framing facts (shared by every
 * path); the head parser, instantiated once per path from http1_parse.h with
 * that path's scanners and target attribute; run-time dispatch; the chunked
 * decoder (a byte-exact state machine: framing bytes are few, body bytes are
 * handed out as slices without being looked at).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eddy/error.h"
#include "eddy/http1.h"

#if defined(__x86_64__) || defined(__i386__)
#define HTTP1_X86 1
#include <immintrin.h>
#else
#define HTTP1_X86 0
#endif

#define EDDY_LIKELY(x)   __builtin_expect(!!(x), 1)
#define EDDY_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- character classes ------------------------------------------------------------------- */

#define ALPHA_(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define DIGIT_(c) ((c) >= '0' && (c) <= '9')
/* tchar (RFC 9110 5.6.2) */
#define TCHAR_(c)                                                                                  \
    (ALPHA_(c) || DIGIT_(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' ||             \
     (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' ||          \
     (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
/* ends a field value: a control byte other than HTAB, or DEL */
#define VSTOP_(c) (((c) < 0x20 && (c) != 0x09) || (c) == 0x7f)
/* ends a request-target: a control byte, SP, or DEL */
#define TSTOP_(c) ((c) <= 0x20 || (c) == 0x7f)
/* may appear in a Host value or an authority: reg-name, IP literals, port */
#define HOST_(c)                                                                                   \
    (ALPHA_(c) || DIGIT_(c) || (c) == '-' || (c) == '.' || (c) == '_' || (c) == '~' ||             \
     (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || (c) == ')' ||          \
     (c) == '*' || (c) == '+' || (c) == ',' || (c) == ';' || (c) == '=' || (c) == ':' ||           \
     (c) == '%' || (c) == '[' || (c) == ']')

enum { C_TOKEN = 1, C_VSTOP = 2, C_TSTOP = 4, C_HOST = 8, C_QSTOP = 16 };

/* C_QSTOP: ends the path part of a target (a target stop, or '?') */
#define CLS_(c)                                                                                    \
    (TCHAR_(c) * C_TOKEN | VSTOP_(c) * C_VSTOP | TSTOP_(c) * C_TSTOP | HOST_(c) * C_HOST |         \
     (TSTOP_(c) || (c) == '?') * C_QSTOP)
#define ROW_(b)                                                                                    \
    CLS_(b + 0), CLS_(b + 1), CLS_(b + 2), CLS_(b + 3), CLS_(b + 4), CLS_(b + 5), CLS_(b + 6),     \
        CLS_(b + 7), CLS_(b + 8), CLS_(b + 9), CLS_(b + 10), CLS_(b + 11), CLS_(b + 12),           \
        CLS_(b + 13), CLS_(b + 14), CLS_(b + 15)

static const uint8_t cls[256] = {
    ROW_(0x00), ROW_(0x10), ROW_(0x20), ROW_(0x30), ROW_(0x40), ROW_(0x50), ROW_(0x60), ROW_(0x70),
    ROW_(0x80), ROW_(0x90), ROW_(0xa0), ROW_(0xb0), ROW_(0xc0), ROW_(0xd0), ROW_(0xe0), ROW_(0xf0),
};

static inline bool is_token(char c)
{
    return cls[(unsigned char)c] & C_TOKEN;
}

bool eddy_http1_is_token(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!is_token(*s)) return false;
    return true;
}

bool eddy_http1_is_field_value(const char *s)
{
    if (!s) return false;
    for (; *s; s++)
        if (cls[(unsigned char)*s] & C_VSTOP) return false;
    return true;
}

bool eddy_http1_media_type_is(const char *value, size_t len, const char *type)
{
    size_t n = strlen(type);
    if (!value || len < n || strncasecmp(value, type, n) != 0) return false;
    return len == n || value[n] == ';' || value[n] == ' ' || value[n] == '\t';
}

/* ---- scanners --------------------------------------------------------------------------------
 *
 * Every scanner is called as scan(p, end, base) with base <= p <= end all in
 * the caller's buffer, and returns the first byte in [p, end) of its stop
 * class, or end. It reads only [base, end): whole blocks from p while they
 * fit, then, for the last few bytes, one block that ends exactly at end (its
 * bytes before p are masked off) when the buffer holds that many bytes, else
 * a byte loop. So no load ever crosses end, whatever is mapped after it. */

/* ---- portable: 8 bytes at a time in a 64-bit word (SWAR) ---- */

/* Each mask has the high bit set in exactly the bytes that match (no borrow
 * crosses a byte), so the first set byte is the answer. */
#define ONES_ UINT64_C(0x0101010101010101)
#define HIGH_ (ONES_ * 0x80)

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Bytes below k (k <= 0x80). */
static inline uint64_t swar_below(uint64_t x, unsigned k)
{
    return ~(((x & ~HIGH_) + ONES_ * (0x80 - k)) | x) & HIGH_;
}

/* Bytes equal to k. */
static inline uint64_t swar_equal(uint64_t x, unsigned k)
{
    uint64_t y = x ^ (ONES_ * k);
    return ~(((y & ~HIGH_) + ~HIGH_) | y) & HIGH_;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SWAR_FIRST_(m)   ((size_t)__builtin_clzll(m) / 8)
#define SWAR_DROP_(m, k) ((m) & (~UINT64_C(0) >> (8 * (k)))) /* forget the first k bytes */
#else
#define SWAR_FIRST_(m)   ((size_t)__builtin_ctzll(m) / 8)
#define SWAR_DROP_(m, k) ((m) & (~UINT64_C(0) << (8 * (k))))
#endif

static inline uint64_t swar_value(uint64_t x) /* controls but HTAB, and DEL */
{
    return (swar_below(x, 0x20) & ~swar_equal(x, 0x09)) | swar_equal(x, 0x7f);
}

static inline uint64_t swar_target(uint64_t x) /* controls, SP, DEL */
{
    return swar_below(x, 0x21) | swar_equal(x, 0x7f);
}

static inline uint64_t swar_path(uint64_t x) /* the same, and '?' */
{
    return swar_target(x) | swar_equal(x, '?');
}

static inline const char *scan_class_tail(const char *p, const char *end, uint8_t stop)
{
    while (p != end && !(cls[(unsigned char)*p] & stop))
        p++;
    return p;
}

#define SWAR_SCAN_(name, fn, tail_stop)                                                            \
    static inline const char *name(const char *p, const char *end, const char *base)               \
    {                                                                                              \
        for (; end - p >= 8; p += 8) {                                                             \
            uint64_t m = fn(load64(p));                                                            \
            if (m) return p + SWAR_FIRST_(m);                                                      \
        }                                                                                          \
        if (p == end) return end;                                                                  \
        if (end - base >= 8) {                                                                     \
            const char *q = end - 8;                                                               \
            uint64_t m = SWAR_DROP_(fn(load64(q)), (size_t)(p - q));                               \
            return m ? q + SWAR_FIRST_(m) : end;                                                   \
        }                                                                                          \
        return scan_class_tail(p, end, tail_stop);                                                 \
    }

SWAR_SCAN_(scan_value_portable, swar_value, C_VSTOP)
SWAR_SCAN_(scan_target_portable, swar_target, C_TSTOP)
SWAR_SCAN_(scan_path_portable, swar_path, C_QSTOP)

/* Names are short and tchar is no range: a byte loop. */
static inline const char *scan_token_portable(const char *p, const char *end, const char *base)
{
    (void)base;
    while (p != end && is_token(*p))
        p++;
    return p;
}

/* Host values are nearly always fine: one pass without a branch per byte,
 * and a second only to find the culprit. */
static inline const char *scan_host_portable(const char *p, const char *end, const char *base)
{
    (void)base;
    unsigned all = C_HOST;
    for (const char *q = p; q != end; q++)
        all &= cls[(unsigned char)*q];
    if (all) return end;
    while (cls[(unsigned char)*p] & C_HOST)
        p++;
    return p;
}

#if HTTP1_X86
#define SSE42_ __attribute__((target("sse4.2")))
#define AVX2_  __attribute__((target("avx2")))

/* The rare answer of the "expected byte" scanners below, out of line so the
 * compiler keeps a branch (a conditional move would put the slow class test
 * back on the path to the next field). */
__attribute__((noinline, cold)) static const char *advance_cold(const char *p, unsigned i)
{
    return p + i;
}

/* Class test by nibble lookup (pshufb, SSSE3): lo[b & 15] has bit (b >> 4)
 * set when b is in the class; hi[b >> 4] is that bit (0 for b >= 0x80, never
 * in a class tested this way). */
#define NBIT_(P, c, h) ((unsigned)P((h)*16 + (c)) << (h))
#define NLO_(P, c)                                                                                 \
    (char)(NBIT_(P, c, 0) | NBIT_(P, c, 1) | NBIT_(P, c, 2) | NBIT_(P, c, 3) | NBIT_(P, c, 4) |    \
           NBIT_(P, c, 5) | NBIT_(P, c, 6) | NBIT_(P, c, 7))
#define NLO_ROW_(P)                                                                                \
    NLO_(P, 0), NLO_(P, 1), NLO_(P, 2), NLO_(P, 3), NLO_(P, 4), NLO_(P, 5), NLO_(P, 6),            \
        NLO_(P, 7), NLO_(P, 8), NLO_(P, 9), NLO_(P, 10), NLO_(P, 11), NLO_(P, 12), NLO_(P, 13),    \
        NLO_(P, 14), NLO_(P, 15)
#define NHI_ROW_ 1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0

/* Bits of the bytes of x outside the class whose tables are lo, hi. */
SSE42_ static inline unsigned nibble_stops128(__m128i x, __m128i lo, __m128i hi)
{
    const __m128i nib = _mm_set1_epi8(0x0f);
    __m128i a = _mm_shuffle_epi8(lo, _mm_and_si128(x, nib));
    __m128i b = _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi16(x, 4), nib));
    return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(a, b), _mm_setzero_si128()));
}

SSE42_ static inline unsigned host_stops128(__m128i x)
{
    return nibble_stops128(x, _mm_setr_epi8(NLO_ROW_(HOST_)), _mm_setr_epi8(NHI_ROW_));
}

SSE42_ static inline __m128i load128(const char *p)
{
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* ---- SSE4.2: pcmpestri byte ranges, 16 bytes at a time (as picohttpparser) ---- */

#define RANGES_INDEX_ (_SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_LEAST_SIGNIFICANT)
#define RANGES_MASK_  (_SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_BIT_MASK)

/* Byte ranges (pairs lo..hi) that stop each scan. */
static const char ranges_target[16] __attribute__((aligned(16))) = {0x00, 0x20, 0x7f, 0x7f};
static const char ranges_path[16] __attribute__((aligned(16))) = {0x00, 0x20, 0x7f, 0x7f, '?', '?'};
/* Every non-tchar, and also '|' and '~' (inside {..\xff): at most 8 ranges
 * fit, so those two stop the fast loop and are re-checked with the table. */
static const char ranges_token[16] __attribute__((aligned(16))) = {
    0x00, 0x20, '"', '"', '(', ')', ',', ',', '/', '/', ':', '@', '[', ']', '{', (char)0xff};

SSE42_ static inline __m128i ranges_load(const char *ranges)
{
    return _mm_load_si128((const __m128i *)(const void *)ranges);
}

/* Whole blocks from *pp: the first byte in the ranges, or NULL with *pp at
 * the first byte not looked at (fewer than 16 remain). */
SSE42_ static inline const char *ranges_blocks(const char **pp, const char *end, __m128i r, int n)
{
    const char *p = *pp;
    for (; end - p >= 16; p += 16) {
        int i = _mm_cmpestri(r, n, load128(p), 16, RANGES_INDEX_);
        if (i != 16) return p + i;
    }
    *pp = p;
    return NULL;
}

/* The same, when the stop is almost always the byte expect: its position
 * comes from one compare, and pcmpestri confirms in a predicted branch that
 * nothing stopped earlier (see AVX2_SCAN_EXPECT_). */
SSE42_ static inline const char *ranges_expect_blocks(const char **pp, const char *end, __m128i r,
                                                      int n, char expect)
{
    const char *p = *pp;
    __m128i e = _mm_set1_epi8(expect);
    for (; end - p >= 16; p += 16) {
        __m128i b = load128(p);
        unsigned d = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, e));
        int i = _mm_cmpestri(r, n, b, 16, RANGES_INDEX_);
        if (EDDY_LIKELY(d)) {
            int j = __builtin_ctz(d);
            if (EDDY_UNLIKELY(i < j)) return advance_cold(p, (unsigned)i);
            return p + j;
        }
        if (i != 16) return p + i;
    }
    *pp = p;
    return NULL;
}

/* The last end - p (1..15) bytes with one block ending at end: the stop or
 * end; NULL when the buffer does not hold 16 bytes before end. */
SSE42_ static inline const char *ranges_last(const char *p, const char *end, const char *base,
                                             __m128i r, int n)
{
    if (end - base < 16) return NULL;
    const char *q = end - 16;
    __m128i m = _mm_cmpestrm(r, n, load128(q), 16, RANGES_MASK_);
    unsigned bits = (unsigned)_mm_cvtsi128_si32(m) & (~0u << (p - q));
    return bits ? q + __builtin_ctz(bits) : end;
}

#define SSE42_SCAN_(name, blocks, ranges, n, tail_stop)                                            \
    SSE42_ static inline const char *name(const char *p, const char *end, const char *base)        \
    {                                                                                              \
        __m128i r = ranges_load(ranges);                                                           \
        const char *s = blocks;                                                                    \
        if (s) return s;                                                                           \
        if (p == end) return end;                                                                  \
        if ((s = ranges_last(p, end, base, r, n))) return s;                                       \
        return scan_class_tail(p, end, tail_stop);                                                 \
    }

SSE42_ static inline unsigned value_stops128(__m128i x)
{
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x);
    __m128i tab = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x09));
    __m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(tab, ctl), del));
}

/* Values are the bulk of a head, and SSE2 compares beat pcmpestri's
 * latency and throughput there; the position comes from the CR compare
 * alone, the class test confirms (see AVX2_SCAN_EXPECT_). */
SSE42_ static inline const char *scan_value_sse42(const char *p, const char *end, const char *base)
{
    const __m128i cr = _mm_set1_epi8('\r');
    for (; end - p >= 16; p += 16) {
        __m128i x = load128(p);
        unsigned d = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, cr));
        unsigned m = value_stops128(x);
        if (EDDY_LIKELY(d)) {
            unsigned i = (unsigned)__builtin_ctz(d);
            if (EDDY_UNLIKELY(m & ((1u << i) - 1)))
                return advance_cold(p, (unsigned)__builtin_ctz(m));
            return p + i;
        }
        if (m) return p + __builtin_ctz(m);
    }
    if (p == end) return end;
    if (end - base >= 16) {
        const char *q = end - 16;
        unsigned m = value_stops128(load128(q)) & (~0u << (p - q));
        return m ? q + __builtin_ctz(m) : end;
    }
    return scan_class_tail(p, end, C_VSTOP);
}
SSE42_SCAN_(scan_target_sse42, ranges_blocks(&p, end, r, 4), ranges_target, 4, C_TSTOP)
SSE42_SCAN_(scan_path_sse42, ranges_blocks(&p, end, r, 6), ranges_path, 6, C_QSTOP)

SSE42_ static inline const char *scan_token_sse42(const char *p, const char *end, const char *base)
{
    __m128i r = ranges_load(ranges_token);
    for (;;) {
        const char *s = ranges_expect_blocks(&p, end, r, 16, ':');
        if (!s) {
            if (p == end) return end;
            s = ranges_last(p, end, base, r, 16);
            if (!s) return scan_token_portable(p, end, base);
        }
        if (s == end || !is_token(*s)) return s;
        p = s + 1; /* '|' or '~' */
    }
}

SSE42_ static inline const char *scan_host_sse42(const char *p, const char *end, const char *base)
{
    for (; end - p >= 16; p += 16) {
        unsigned m = host_stops128(load128(p));
        if (m) return p + __builtin_ctz(m);
    }
    if (p == end) return end;
    if (end - base >= 16) {
        const char *q = end - 16;
        unsigned m = host_stops128(load128(q)) & (~0u << (p - q));
        return m ? q + __builtin_ctz(m) : end;
    }
    return scan_host_portable(p, end, base);
}

/* ---- AVX2: compares on 32 bytes at a time ---- */

AVX2_ static inline __m256i load256(const char *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

AVX2_ static inline unsigned value_stops256(__m256i x)
{
    __m256i ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x1f)), x);
    __m256i tab = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x09));
    __m256i del = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x7f));
    return (unsigned)_mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(tab, ctl), del));
}

AVX2_ static inline unsigned target_stops128(__m128i x)
{
    __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x20)), x);
    __m128i del = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, del));
}

AVX2_ static inline unsigned target_stops256(__m256i x)
{
    __m256i ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x20)), x);
    __m256i del = _mm256_cmpeq_epi8(x, _mm256_set1_epi8(0x7f));
    return (unsigned)_mm256_movemask_epi8(_mm256_or_si256(ctl, del));
}

AVX2_ static inline unsigned path_stops128(__m128i x)
{
    __m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('?'));
    return target_stops128(x) | (unsigned)_mm_movemask_epi8(q);
}

AVX2_ static inline unsigned path_stops256(__m256i x)
{
    __m256i q = _mm256_cmpeq_epi8(x, _mm256_set1_epi8('?'));
    return target_stops256(x) | (unsigned)_mm256_movemask_epi8(q);
}

AVX2_ static inline unsigned nibble_stops256(__m256i x, __m256i lo, __m256i hi)
{
    const __m256i nib = _mm256_set1_epi8(0x0f);
    __m256i a = _mm256_shuffle_epi8(lo, _mm256_and_si256(x, nib));
    __m256i b = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(x, 4), nib));
    __m256i t = _mm256_and_si256(a, b);
    return (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(t, _mm256_setzero_si256()));
}

AVX2_ static inline unsigned token_stops128(__m128i x)
{
    return nibble_stops128(x, _mm_setr_epi8(NLO_ROW_(TCHAR_)), _mm_setr_epi8(NHI_ROW_));
}

AVX2_ static inline unsigned token_stops256(__m256i x)
{
    return nibble_stops256(x, _mm256_setr_epi8(NLO_ROW_(TCHAR_), NLO_ROW_(TCHAR_)),
                           _mm256_setr_epi8(NHI_ROW_, NHI_ROW_));
}

AVX2_ static inline unsigned host_stops256(__m256i x)
{
    return nibble_stops256(x, _mm256_setr_epi8(NLO_ROW_(HOST_), NLO_ROW_(HOST_)),
                           _mm256_setr_epi8(NHI_ROW_, NHI_ROW_));
}

/* After the 32-byte blocks: one block of 32 ending at end when the buffer
 * holds it, else one of 16 from p, then one of 16 ending at end, else the
 * byte loop. */
#define AVX2_TAIL_(stops128, stops256, tail)                                                       \
    if (p == end) return end;                                                                      \
    if (end - base >= 32) {                                                                        \
        const char *q = end - 32;                                                                  \
        unsigned m = stops256(load256(q)) & (~0u << (p - q));                                      \
        return m ? q + __builtin_ctz(m) : end;                                                     \
    }                                                                                              \
    if (end - p >= 16) {                                                                           \
        unsigned m = stops128(load128(p));                                                         \
        if (m) return p + __builtin_ctz(m);                                                        \
        p += 16;                                                                                   \
        if (p == end) return end;                                                                  \
    }                                                                                              \
    if (end - base >= 16) {                                                                        \
        const char *q = end - 16;                                                                  \
        unsigned m = stops128(load128(q)) & (~0u << (p - q));                                      \
        return m ? q + __builtin_ctz(m) : end;                                                     \
    }                                                                                              \
    return tail;

#define AVX2_SCAN_(name, stops128, stops256, tail)                                                 \
    AVX2_ static inline const char *name(const char *p, const char *end, const char *base)         \
    {                                                                                              \
        for (; end - p >= 32; p += 32) {                                                           \
            unsigned m = stops256(load256(p));                                                     \
            if (m) return p + __builtin_ctz(m);                                                    \
        }                                                                                          \
        AVX2_TAIL_(stops128, stops256, tail)                                                       \
    }

/* For fields, where the stop is almost always one expected byte (':' after a
 * name, CR after a value): its position comes from a single compare, and the
 * full class test only confirms, in a well-predicted branch, that nothing
 * stopped earlier. The next field's position then waits on a short chain of
 * dependent instructions. Same answer as AVX2_SCAN_. */
#define AVX2_SCAN_EXPECT_(name, stops128, stops256, expect, tail)                                  \
    AVX2_ static inline const char *name(const char *p, const char *end, const char *base)         \
    {                                                                                              \
        for (; end - p >= 32; p += 32) {                                                           \
            __m256i x = load256(p);                                                                \
            unsigned d =                                                                           \
                (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(expect)));    \
            unsigned m = stops256(x);                                                              \
            if (EDDY_LIKELY(d)) {                                                                  \
                unsigned i = (unsigned)__builtin_ctz(d);                                           \
                if (EDDY_UNLIKELY(m & ((1u << i) - 1)))                                            \
                    return advance_cold(p, (unsigned)__builtin_ctz(m));                            \
                return p + i;                                                                      \
            }                                                                                      \
            if (m) return p + __builtin_ctz(m);                                                    \
        }                                                                                          \
        AVX2_TAIL_(stops128, stops256, tail)                                                       \
    }

AVX2_SCAN_EXPECT_(scan_value_avx2, value_stops128, value_stops256, '\r',
                  scan_class_tail(p, end, C_VSTOP))
AVX2_SCAN_(scan_target_avx2, target_stops128, target_stops256, scan_class_tail(p, end, C_TSTOP))
AVX2_SCAN_(scan_path_avx2, path_stops128, path_stops256, scan_class_tail(p, end, C_QSTOP))
AVX2_SCAN_(scan_host_avx2, host_stops128, host_stops256, scan_host_portable(p, end, base))
AVX2_SCAN_EXPECT_(scan_token_avx2, token_stops128, token_stops256, ':',
                  scan_token_portable(p, end, base))
#endif /* HTTP1_X86 */

/* ---- limits and errors ---------------------------------------------------------------------- */

static const eddy_http1_limits_t default_limits = {
    .max_header_size = EDDY_HTTP1_DEFAULT_MAX_HEADER_SIZE,
    .max_headers = EDDY_HTTP1_DEFAULT_MAX_HEADERS,
    .max_target_size = EDDY_HTTP1_DEFAULT_MAX_TARGET_SIZE,
    .max_body_size = EDDY_HTTP1_DEFAULT_MAX_BODY_SIZE,
    .max_chunk_ext = EDDY_HTTP1_DEFAULT_MAX_CHUNK_EXT,
    .allow_bare_lf = false,
};

void eddy_http1_limits_init(eddy_http1_limits_t *l)
{
    *l = default_limits;
}

int eddy_http1_error_status(eddy_http1_error_t err)
{
    switch (err) {
#define STATUS_(name, status, msg)                                                                 \
    case EDDY_HTTP1_ERR_##name: return status;
        EDDY_HTTP1_ERROR_MAP(STATUS_)
#undef STATUS_
    default: return 400;
    }
}

const char *eddy_http1_error_name(eddy_http1_error_t err)
{
    switch (err) {
#define NAME_(name, status, msg)                                                                   \
    case EDDY_HTTP1_ERR_##name: return "EDDY_HTTP1_ERR_" #name;
        EDDY_HTTP1_ERROR_MAP(NAME_)
#undef NAME_
    default: return "EDDY_HTTP1_ERR_UNKNOWN";
    }
}

const char *eddy_http1_error_str(eddy_http1_error_t err)
{
    switch (err) {
#define STR_(name, status, msg)                                                                    \
    case EDDY_HTTP1_ERR_##name: return msg;
        EDDY_HTTP1_ERROR_MAP(STR_)
#undef STR_
    default: return "unknown HTTP/1 parse error";
    }
}

/* ---- shared helpers: what the field lines mean --------------------------------------------- */

/* What the fields said, gathered while they are parsed. */
typedef struct facts {
    uint64_t content_length;
    eddy_http1_str_t host;
    eddy_http1_str_t upgrade;
    unsigned host_count;
    unsigned te_chunked; /* times chunked appeared */
    bool has_cl, has_te;
    bool te_last_chunked; /* the final coding so far is chunked */
    bool te_other;        /* some coding other than chunked */
    bool conn_close, conn_keep_alive, conn_upgrade;
    bool expect_continue;
} facts_t;

typedef struct parser {
    const char *buf;
    const char *end; /* buf + min(len, max): the parser never looks further */
    size_t len;
    size_t max; /* max_header_size, clamped to INT_MAX */
    const eddy_http1_limits_t *lim;
    bool lf;      /* bare LF accepted as a line end */
    bool request; /* Host and Expect matter */
    int rc;       /* INCOMPLETE or ERROR, when a step returned NULL */
    eddy_http1_error_t err;
    size_t err_at;
    facts_t f;
} parser_t;

static inline void parser_init(parser_t *P, const char *buf, size_t len,
                               const eddy_http1_limits_t *lim, bool request)
{
    size_t max = lim->max_header_size < INT_MAX ? lim->max_header_size : INT_MAX;
    P->buf = buf;
    P->end = len ? buf + (len < max ? len : max) : buf;
    P->len = len;
    P->max = max;
    P->lim = lim;
    P->lf = lim->allow_bare_lf;
    P->request = request;
    P->rc = 0;
    P->err = EDDY_HTTP1_ERR_NONE;
    P->err_at = 0;
    memset(&P->f, 0, sizeof P->f);
}

__attribute__((cold, noinline)) static const char *fail_at(parser_t *P, eddy_http1_error_t err,
                                                           const char *at)
{
    P->rc = EDDY_HTTP1_ERROR;
    P->err = err;
    P->err_at = (size_t)(at - P->buf);
    return NULL;
}

/* The window ran out: the head needs more bytes, which it may not have. */
static const char *need_more(parser_t *P)
{
    if (P->len >= P->max) return fail_at(P, EDDY_HTTP1_ERR_HEAD_TOO_LARGE, P->end);
    P->rc = EDDY_HTTP1_INCOMPLETE;
    return NULL;
}

static inline int fail(parser_t *P, eddy_http1_error_t err, const char *at)
{
    fail_at(P, err, at);
    return -1;
}

static inline uint32_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* s[0..n) equals the lower-case literal lit, ignoring ASCII case. Sound for
 * the letters, digits and '-' of the literals used here: the other byte
 * that ORs to the same value is a control byte, never present in a token or
 * a field value. Whole words at a time (overlapping for the tail); n is a
 * constant at every call, so the branches fold away. */
static inline bool lower_eq(const char *s, const char *lit, size_t n)
{
    const uint64_t case64 = ONES_ * 0x20;
    const uint32_t case32 = 0x20202020u;
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8)
            if ((load64(s + i) | case64) != load64(lit + i)) return false;
        return n % 8 == 0 || (load64(s + n - 8) | case64) == load64(lit + n - 8);
    }
    if (n >= 4)
        return (load32(s) | case32) == load32(lit) &&
               (load32(s + n - 4) | case32) == load32(lit + n - 4);
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != lit[i]) return false;
    return true;
}

/* Whether on_field may care about a name, from its length and first letter:
 * host 4, expect 6, upgrade 7, connection 10, content-length 14,
 * transfer-encoding 17. Most names fail this without a call. */
static const char special_first[32] = {
    [4] = 'h', [6] = 'e', [7] = 'u', [10] = 'c', [14] = 'c', [17] = 't'};

static inline bool maybe_special(const char *name, size_t n)
{
    return n < 32 && special_first[n] == (name[0] | 0x20);
}

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Next element of a comma-separated list in [*p, end), OWS trimmed (it may be
 * empty). Returns false when the list is used up. Values are short, so a
 * plain loop beats memchr. */
static bool next_element(const char **p, const char *end, const char **s, size_t *n)
{
    const char *a = *p;
    if (a == NULL) return false;
    const char *b = a;
    while (b != end && *b != ',')
        b++;
    *p = b != end ? b + 1 : NULL;
    while (a != b && is_ows(*a))
        a++;
    while (b != a && is_ows(b[-1]))
        b--;
    *s = a;
    *n = (size_t)(b - a);
    return true;
}

static int parse_decimal(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int eddy_http1_parse_content_length(const char *value, size_t len, uint64_t *out,
                                    eddy_http1_error_t *err)
{
    const char *p = len ? value : NULL, *s;
    const char *end = len ? value + len : NULL;
    size_t n;
    uint64_t v = 0, first = 0;
    bool any = false;
    eddy_http1_error_t e = EDDY_HTTP1_ERR_CONTENT_LENGTH;
    if (len == 0) goto bad;
    while (next_element(&p, end, &s, &n)) {
        if (parse_decimal(s, n, &v) < 0) goto bad;
        if (any && v != first) {
            e = EDDY_HTTP1_ERR_CONTENT_LENGTH_CONFLICT;
            goto bad;
        }
        first = v;
        any = true;
    }
    *out = first;
    return 0;
bad:
    if (err) *err = e;
    return EDDY_HTTP1_ERROR;
}

static int on_content_length(parser_t *P, const char *name, const char *v, size_t n)
{
    uint64_t value;
    eddy_http1_error_t err;
    if (eddy_http1_parse_content_length(v, n, &value, &err) < 0) return fail(P, err, v);
    if (P->f.has_cl && P->f.content_length != value)
        return fail(P, EDDY_HTTP1_ERR_CONTENT_LENGTH_CONFLICT, name);
    P->f.has_cl = true;
    P->f.content_length = value;
    return 0;
}

/* Every line of Transfer-Encoding adds to one list of codings. Each element
 * is a token, optionally with parameters; chunked takes none. Empty elements
 * are refused rather than skipped: no reading of the list may differ. */
static int on_transfer_encoding(parser_t *P, const char *v, size_t n)
{
    const char *p = v, *end = v + n, *s;
    size_t len;
    P->f.has_te = true;
    if (n == 0) return fail(P, EDDY_HTTP1_ERR_TRANSFER_ENCODING, v);
    while (next_element(&p, end, &s, &len)) {
        size_t t = 0;
        while (t < len && is_token(s[t]))
            t++;
        if (t == 0) return fail(P, EDDY_HTTP1_ERR_TRANSFER_ENCODING, s);
        bool chunked = t == 7 && lower_eq(s, "chunked", 7);
        if (t < len) {
            size_t k = t;
            while (k < len && is_ows(s[k]))
                k++;
            if (chunked || k == len || s[k] != ';')
                return fail(P, EDDY_HTTP1_ERR_TRANSFER_ENCODING, s + t);
        }
        if (chunked)
            P->f.te_chunked++;
        else
            P->f.te_other = true;
        P->f.te_last_chunked = chunked;
    }
    return 0;
}

static void on_connection(parser_t *P, const char *v, size_t n)
{
    const char *p = n ? v : NULL, *end = v + n, *s;
    size_t len;
    /* The usual single values first. */
    if (n == 10 && lower_eq(v, "keep-alive", 10)) {
        P->f.conn_keep_alive = true;
        return;
    }
    if (n == 5 && lower_eq(v, "close", 5)) {
        P->f.conn_close = true;
        return;
    }
    while (next_element(&p, end, &s, &len)) {
        if (len == 5 && lower_eq(s, "close", 5)) P->f.conn_close = true;
        if (len == 10 && lower_eq(s, "keep-alive", 10)) P->f.conn_keep_alive = true;
        if (len == 7 && lower_eq(s, "upgrade", 7)) P->f.conn_upgrade = true;
    }
}

/* The value's characters are checked once the head is complete, with the
 * code path's scanner (SCAN_HOST). */
static int on_host(parser_t *P, const char *name, const char *v, size_t n)
{
    if (++P->f.host_count > 1) return fail(P, EDDY_HTTP1_ERR_HOST, name);
    P->f.host.ptr = v;
    P->f.host.len = n;
    return 0;
}

/* Called for the names maybe_special() lets through. */
static int on_field(parser_t *P, const char *name, size_t n, const char *v, size_t vlen)
{
    switch (n) {
    case 4:
        if (P->request && lower_eq(name, "host", 4)) return on_host(P, name, v, vlen);
        return 0;
    case 6:
        if (P->request && lower_eq(name, "expect", 6) && vlen == 12 &&
            lower_eq(v, "100-continue", 12))
            P->f.expect_continue = true;
        return 0;
    case 7:
        if (lower_eq(name, "upgrade", 7) && !P->f.upgrade.ptr) {
            P->f.upgrade.ptr = v;
            P->f.upgrade.len = vlen;
        }
        return 0;
    case 10:
        if (lower_eq(name, "connection", 10)) on_connection(P, v, vlen);
        return 0;
    case 14:
        if (lower_eq(name, "content-length", 14)) return on_content_length(P, name, v, vlen);
        return 0;
    case 17:
        if (lower_eq(name, "transfer-encoding", 17)) return on_transfer_encoding(P, v, vlen);
        return 0;
    default: return 0;
    }
}

/* "HTTP/" DIGIT "." DIGIT, checking whatever has arrived so a wrong prefix
 * fails at once. Major version 1 only; minor 2..9 reads as 1 (RFC 9110 2.5). */
static inline const char *parse_version(parser_t *P, const char *p, int *minor)
{
    size_t avail = (size_t)(P->end - p);
    if (EDDY_LIKELY(avail >= 8)) {
        if (memcmp(p, "HTTP/1.1", 8) == 0) {
            *minor = 1;
            return p + 8;
        }
        if (memcmp(p, "HTTP/1.0", 8) == 0) {
            *minor = 0;
            return p + 8;
        }
    }
    static const char shape[] = "HTTP/0.0";
    for (size_t i = 0; i < 8; i++) {
        if (i == avail) return need_more(P);
        bool ok = shape[i] == '0' ? DIGIT_(p[i]) : p[i] == shape[i];
        if (!ok) return fail_at(P, EDDY_HTTP1_ERR_VERSION_SYNTAX, p + i);
    }
    if (p[5] != '1') return fail_at(P, EDDY_HTTP1_ERR_VERSION, p + 5);
    *minor = p[7] == '0' ? 0 : 1;
    return p + 8;
}

static inline eddy_http1_method_t method_id(const char *m, size_t n)
{
    switch (n) {
    case 3:
        if (memcmp(m, "GET", 3) == 0) return EDDY_HTTP1_METHOD_GET;
        if (memcmp(m, "PUT", 3) == 0) return EDDY_HTTP1_METHOD_PUT;
        break;
    case 4:
        if (memcmp(m, "POST", 4) == 0) return EDDY_HTTP1_METHOD_POST;
        if (memcmp(m, "HEAD", 4) == 0) return EDDY_HTTP1_METHOD_HEAD;
        break;
    case 5:
        if (memcmp(m, "PATCH", 5) == 0) return EDDY_HTTP1_METHOD_PATCH;
        if (memcmp(m, "TRACE", 5) == 0) return EDDY_HTTP1_METHOD_TRACE;
        break;
    case 6:
        if (memcmp(m, "DELETE", 6) == 0) return EDDY_HTTP1_METHOD_DELETE;
        break;
    case 7:
        if (memcmp(m, "OPTIONS", 7) == 0) return EDDY_HTTP1_METHOD_OPTIONS;
        if (memcmp(m, "CONNECT", 7) == 0) return EDDY_HTTP1_METHOD_CONNECT;
        break;
    }
    return EDDY_HTTP1_METHOD_OTHER;
}

/* authority-form: host ":" port, the host made of authority characters. */
static bool valid_authority(const char *s, size_t n)
{
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(cls[(unsigned char)s[i]] & C_HOST)) return false;
        if (s[i] == ':') colon = s + i;
    }
    if (!colon || colon == s || colon == s + n - 1) return false;
    for (const char *c = colon + 1; c != s + n; c++)
        if (!DIGIT_(*c)) return false;
    return true;
}

/* Which form the target has (RFC 9112 3.2), whether the method allows it, and
 * where its path and query are (q: the first '?' in the target, or NULL). */
static inline int analyze_target(parser_t *P, eddy_http1_request_t *req, const char *q)
{
    const char *t = req->target.ptr, *end = t + req->target.len, *path = t;
    size_t n = req->target.len;
    bool connect = req->method_id == EDDY_HTTP1_METHOD_CONNECT;
    req->authority.ptr = NULL;
    req->authority.len = 0;
    req->query.ptr = NULL;
    req->query.len = 0;
    if (*t == '/') {
        req->target_form = EDDY_HTTP1_TARGET_ORIGIN;
    } else if (n == 1 && *t == '*') {
        req->target_form = EDDY_HTTP1_TARGET_ASTERISK;
        if (req->method_id != EDDY_HTTP1_METHOD_OPTIONS) return fail(P, EDDY_HTTP1_ERR_TARGET, t);
        req->path = req->target;
        return 0;
    } else if (connect) {
        if (!valid_authority(t, n)) return fail(P, EDDY_HTTP1_ERR_TARGET, t);
        req->target_form = EDDY_HTTP1_TARGET_AUTHORITY;
        req->authority = req->target;
        req->path.ptr = NULL;
        req->path.len = 0;
        return 0;
    } else {
        /* absolute-form: scheme ":" hier-part */
        size_t i = 0;
        if (!ALPHA_(t[0])) return fail(P, EDDY_HTTP1_ERR_TARGET, t);
        while (i < n && (ALPHA_(t[i]) || DIGIT_(t[i]) || t[i] == '+' || t[i] == '-' || t[i] == '.'))
            i++;
        if (i == n || t[i] != ':') return fail(P, EDDY_HTTP1_ERR_TARGET, t + i);
        i++;
        if (n - i >= 2 && t[i] == '/' && t[i + 1] == '/') {
            size_t a = i + 2, b = a;
            while (b < n && t[b] != '/' && t[b] != '?' && t[b] != '#')
                b++;
            req->authority.ptr = t + a;
            req->authority.len = b - a;
            i = b;
        }
        req->target_form = EDDY_HTTP1_TARGET_ABSOLUTE;
        path = t + i;
    }
    if (connect) return fail(P, EDDY_HTTP1_ERR_TARGET, t);
    /* q is the first '?' of the target; a scheme or authority holds none. */
    if (q && q < path) return fail(P, EDDY_HTTP1_ERR_TARGET, q);
    req->path.ptr = path;
    req->path.len = (size_t)((q ? q : end) - path);
    if (q) {
        req->query.ptr = q + 1;
        req->query.len = (size_t)(end - q - 1);
    }
    return 0;
}

/* Framing rules for a message with Transfer-Encoding (RFC 9112 6.1, 6.3). */
static int check_te(parser_t *P, bool v11, const char *at)
{
    facts_t *f = &P->f;
    if (!v11) return fail(P, EDDY_HTTP1_ERR_TE_HTTP10, at);
    if (f->has_cl) return fail(P, EDDY_HTTP1_ERR_TE_WITH_CL, at);
    if (f->te_chunked != 1 || !f->te_last_chunked) {
        /* A response may end with another coding (it is then read until
         * close), but eddy could not decode it, so it is unsupported. */
        if (!P->request && f->te_chunked < 2) return fail(P, EDDY_HTTP1_ERR_TE_UNSUPPORTED, at);
        return fail(P, EDDY_HTTP1_ERR_TRANSFER_ENCODING, at);
    }
    if (f->te_other) return fail(P, EDDY_HTTP1_ERR_TE_UNSUPPORTED, at);
    return 0;
}

static bool keep_alive(const facts_t *f, bool v11)
{
    if (f->conn_close) return false;
    return v11 || f->conn_keep_alive;
}

static inline int finish_request(parser_t *P, eddy_http1_request_t *req, const char *at)
{
    facts_t *f = &P->f;
    bool v11 = req->minor_version >= 1;
    req->content_length = 0;
    req->body = EDDY_HTTP1_BODY_NONE;
    if (f->has_te) {
        if (check_te(P, v11, at) < 0) return -1;
        req->body = EDDY_HTTP1_BODY_CHUNKED;
    } else if (f->has_cl) {
        if (f->content_length > P->lim->max_body_size)
            return fail(P, EDDY_HTTP1_ERR_BODY_TOO_LARGE, at);
        req->content_length = f->content_length;
        if (f->content_length) req->body = EDDY_HTTP1_BODY_LENGTH;
    }
    if (v11 && f->host_count == 0) return fail(P, EDDY_HTTP1_ERR_HOST_MISSING, at);
    req->host = f->host;
    req->upgrade = f->upgrade;
    req->keep_alive = keep_alive(f, v11);
    req->expect_continue = v11 && f->expect_continue;
    req->upgrade_requested = v11 && f->upgrade.ptr && f->conn_upgrade;
    return 0;
}

static int finish_response(parser_t *P, eddy_http1_response_t *res, const char *at)
{
    facts_t *f = &P->f;
    bool v11 = res->minor_version >= 1;
    int s = res->status;
    bool no_body = s < 200 || s == 204 || s == 304;
    res->content_length = 0;
    res->body = EDDY_HTTP1_BODY_CLOSE;
    if (f->has_te) {
        if (check_te(P, v11, at) < 0) return -1;
        res->body = EDDY_HTTP1_BODY_CHUNKED;
    } else if (f->has_cl) {
        if (!no_body && f->content_length > P->lim->max_body_size)
            return fail(P, EDDY_HTTP1_ERR_BODY_TOO_LARGE, at);
        res->content_length = f->content_length;
        res->body = f->content_length ? EDDY_HTTP1_BODY_LENGTH : EDDY_HTTP1_BODY_NONE;
    }
    if (no_body) {
        res->body = EDDY_HTTP1_BODY_NONE;
        res->content_length = 0;
    }
    res->upgrade = f->upgrade;
    res->keep_alive = keep_alive(f, v11) && res->body != EDDY_HTTP1_BODY_CLOSE;
    return 0;
}

/* ---- the head parser, once per code path ------------------------------------------------------
 */

#define HTTP1_CAT2_(a, b) a##b
#define HTTP1_CAT_(a, b)  HTTP1_CAT2_(a, b)
#define HTTP1_NAME(n)     HTTP1_CAT_(n, HTTP1_SUFFIX)

#define HTTP1_FN
#define HTTP1_SUFFIX      _portable
#define SCAN_TOKEN(p, e)  scan_token_portable(p, e, P->buf)
#define SCAN_VALUE(p, e)  scan_value_portable(p, e, P->buf)
#define SCAN_TARGET(p, e) scan_target_portable(p, e, P->buf)
#define SCAN_PATH(p, e)   scan_path_portable(p, e, P->buf)
#define SCAN_HOST(p, e)   scan_host_portable(p, e, P->buf)
#include "http1_parse.h"
#undef HTTP1_FN
#undef HTTP1_SUFFIX
#undef SCAN_TOKEN
#undef SCAN_VALUE
#undef SCAN_TARGET
#undef SCAN_PATH
#undef SCAN_HOST

#if HTTP1_X86
#define HTTP1_FN          SSE42_
#define HTTP1_SUFFIX      _sse42
#define SCAN_TOKEN(p, e)  scan_token_sse42(p, e, P->buf)
#define SCAN_VALUE(p, e)  scan_value_sse42(p, e, P->buf)
#define SCAN_TARGET(p, e) scan_target_sse42(p, e, P->buf)
#define SCAN_PATH(p, e)   scan_path_sse42(p, e, P->buf)
#define SCAN_HOST(p, e)   scan_host_sse42(p, e, P->buf)
#include "http1_parse.h"
#undef HTTP1_FN
#undef HTTP1_SUFFIX
#undef SCAN_TOKEN
#undef SCAN_VALUE
#undef SCAN_TARGET
#undef SCAN_PATH
#undef SCAN_HOST

#define HTTP1_FN          AVX2_
#define HTTP1_SUFFIX      _avx2
#define SCAN_TOKEN(p, e)  scan_token_avx2(p, e, P->buf)
#define SCAN_VALUE(p, e)  scan_value_avx2(p, e, P->buf)
#define SCAN_TARGET(p, e) scan_target_avx2(p, e, P->buf)
#define SCAN_PATH(p, e)   scan_path_avx2(p, e, P->buf)
#define SCAN_HOST(p, e)   scan_host_avx2(p, e, P->buf)
#include "http1_parse.h"
#undef HTTP1_FN
#undef HTTP1_SUFFIX
#undef SCAN_TOKEN
#undef SCAN_VALUE
#undef SCAN_TARGET
#undef SCAN_PATH
#undef SCAN_HOST
#endif

/* ---- run-time dispatch --------------------------------------------------------------------------
 */

static int simd_choice = -1; /* eddy_http1_simd_t once resolved */

static bool simd_available(eddy_http1_simd_t s)
{
    switch (s) {
    case EDDY_HTTP1_SIMD_PORTABLE: return true;
#if HTTP1_X86
    case EDDY_HTTP1_SIMD_SSE42: __builtin_cpu_init(); return __builtin_cpu_supports("sse4.2");
    case EDDY_HTTP1_SIMD_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2");
#endif
    default: return false;
    }
}

static eddy_http1_simd_t simd_best(void)
{
    if (simd_available(EDDY_HTTP1_SIMD_AVX2)) return EDDY_HTTP1_SIMD_AVX2;
    if (simd_available(EDDY_HTTP1_SIMD_SSE42)) return EDDY_HTTP1_SIMD_SSE42;
    return EDDY_HTTP1_SIMD_PORTABLE;
}

/* The first call reads EDDY_HTTP1_SIMD; an unknown or unavailable name
 * leaves the best path in use. Racing first calls agree on the answer. */
__attribute__((noinline)) static eddy_http1_simd_t simd_resolve(void)
{
    eddy_http1_simd_t s = simd_best();
    const char *env = getenv("EDDY_HTTP1_SIMD");
    if (env) {
        eddy_http1_simd_t want = EDDY_HTTP1_SIMD_AUTO;
        if (!strcmp(env, "portable") || !strcmp(env, "0") || !strcmp(env, "none"))
            want = EDDY_HTTP1_SIMD_PORTABLE;
        else if (!strcmp(env, "sse42") || !strcmp(env, "sse4.2"))
            want = EDDY_HTTP1_SIMD_SSE42;
        else if (!strcmp(env, "avx2"))
            want = EDDY_HTTP1_SIMD_AVX2;
        if (want != EDDY_HTTP1_SIMD_AUTO && simd_available(want)) s = want;
    }
    __atomic_store_n(&simd_choice, (int)s, __ATOMIC_RELAXED);
    return s;
}

static inline eddy_http1_simd_t simd_current(void)
{
    int s = __atomic_load_n(&simd_choice, __ATOMIC_RELAXED);
    return EDDY_LIKELY(s >= 0) ? (eddy_http1_simd_t)s : simd_resolve();
}

int eddy_http1_simd_set(eddy_http1_simd_t simd)
{
    if (simd == EDDY_HTTP1_SIMD_AUTO)
        simd = simd_best();
    else if (!simd_available(simd))
        return -ENOTSUP;
    __atomic_store_n(&simd_choice, (int)simd, __ATOMIC_RELAXED);
    return 0;
}

eddy_http1_simd_t eddy_http1_simd_get(void)
{
    return simd_current();
}

const char *eddy_http1_simd_name(eddy_http1_simd_t simd)
{
    switch (simd) {
    case EDDY_HTTP1_SIMD_AUTO: return "auto";
    case EDDY_HTTP1_SIMD_PORTABLE: return "portable";
    case EDDY_HTTP1_SIMD_SSE42: return "sse42";
    case EDDY_HTTP1_SIMD_AVX2: return "avx2";
    }
    return "unknown";
}

int eddy_http1_parse_request(const char *buf, size_t len, size_t last_len,
                             eddy_http1_request_t *req, const eddy_http1_limits_t *limits)
{
    if (!limits) limits = &default_limits;
    switch (simd_current()) {
#if HTTP1_X86
    case EDDY_HTTP1_SIMD_AVX2: return parse_request_avx2(buf, len, last_len, req, limits);
    case EDDY_HTTP1_SIMD_SSE42: return parse_request_sse42(buf, len, last_len, req, limits);
#endif
    default: return parse_request_portable(buf, len, last_len, req, limits);
    }
}

int eddy_http1_parse_response(const char *buf, size_t len, size_t last_len,
                              eddy_http1_response_t *res, const eddy_http1_limits_t *limits)
{
    if (!limits) limits = &default_limits;
    switch (simd_current()) {
#if HTTP1_X86
    case EDDY_HTTP1_SIMD_AVX2: return parse_response_avx2(buf, len, last_len, res, limits);
    case EDDY_HTTP1_SIMD_SSE42: return parse_response_sse42(buf, len, last_len, res, limits);
#endif
    default: return parse_response_portable(buf, len, last_len, res, limits);
    }
}

const eddy_http1_header_t *eddy_http1_find_header(const eddy_http1_header_t *headers, size_t n,
                                                  const char *name, size_t name_len)
{
    for (size_t i = 0; i < n; i++) {
        const eddy_http1_header_t *h = &headers[i];
        if (h->name.len != name_len) continue;
        size_t k = 0;
        while (k < name_len &&
               (h->name.ptr[k] == name[k] || ((h->name.ptr[k] | 0x20) == (name[k] | 0x20) &&
                                              ALPHA_(h->name.ptr[k]) && ALPHA_(name[k]))))
            k++;
        if (k == name_len) return h;
    }
    return NULL;
}

/* ---- chunked bodies
 * ------------------------------------------------------------------------------ */

enum {
    CH_SIZE0,      /* first hex digit of a chunk size */
    CH_SIZE,       /* more hex digits, or what follows them */
    CH_EXT_SEMI,   /* BWS before ';' */
    CH_EXT_NAME0,  /* BWS, then the first character of an extension name */
    CH_EXT_NAME,   /* in the name */
    CH_EXT_EQ,     /* BWS after the name, before '=' or ';' */
    CH_EXT_VALUE0, /* BWS after '=' */
    CH_EXT_TOKEN,  /* token value */
    CH_EXT_QUOTED, /* quoted-string value */
    CH_EXT_QPAIR,  /* after a backslash */
    CH_EXT_AFTERQ, /* after the closing quote */
    CH_SIZE_LF,    /* CR seen at the end of the size line */
    CH_DATA,       /* remaining bytes of chunk data */
    CH_DATA_CR,    /* CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER,       /* start of a trailer line (or the final CRLF) */
    CH_TRAILER_NAME,  /* in a trailer field name */
    CH_TRAILER_VALUE, /* in a trailer field value */
    CH_TRAILER_LF,    /* CR seen after a trailer field */
    CH_END_LF,        /* CR of the last empty line seen */
    CH_DONE,
    CH_ERROR,
};

void eddy_http1_chunked_init(eddy_http1_chunked_t *d, const eddy_http1_limits_t *limits)
{
    if (!limits) limits = &default_limits;
    memset(d, 0, sizeof *d);
    d->max_body = limits->max_body_size;
    d->max_ext = limits->max_chunk_ext;
    d->max_trailer = limits->max_header_size;
    d->max_trailers = limits->max_headers;
    d->state = CH_SIZE0;
    d->error = EDDY_HTTP1_ERR_NONE;
}

bool eddy_http1_chunked_done(const eddy_http1_chunked_t *d)
{
    return d->state == CH_DONE;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* qdtext and quoted-pair octets (RFC 9110 5.6.4) */
static bool is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

static bool is_field_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static ssize_t chunk_fail(eddy_http1_chunked_t *d, eddy_http1_error_t err)
{
    d->state = CH_ERROR;
    d->error = err;
    return EDDY_HTTP1_ERROR;
}

/* The size line is complete: the chunk must fit within max_body. */
static ssize_t chunk_size_done(eddy_http1_chunked_t *d)
{
    if (d->total > d->max_body || d->remaining > d->max_body - d->total)
        return chunk_fail(d, EDDY_HTTP1_ERR_BODY_TOO_LARGE);
    d->total += d->remaining;
    return 0;
}

/* One framing byte (not chunk data). Returns 0 or an error. */
static ssize_t chunk_step(eddy_http1_chunked_t *d, unsigned char c)
{
    int h;
    switch (d->state) {
    case CH_SIZE0:
        if ((h = hex_value(c)) < 0) return chunk_fail(d, EDDY_HTTP1_ERR_CHUNK_SIZE);
        d->remaining = (uint64_t)h;
        d->digits = 1;
        d->count = 0;
        d->state = CH_SIZE;
        return 0;
    case CH_SIZE:
        if ((h = hex_value(c)) >= 0) {
            if (d->digits == 16) return chunk_fail(d, EDDY_HTTP1_ERR_CHUNK_SIZE);
            d->remaining = d->remaining << 4 | (uint64_t)h;
            d->digits++;
            return 0;
        }
        if (chunk_size_done(d) < 0) return EDDY_HTTP1_ERROR;
        if (c == '\r') {
            d->state = CH_SIZE_LF;
            return 0;
        }
        if (c == ';') {
            d->state = CH_EXT_NAME0;
        } else if (c == ' ' || c == '\t') {
            d->state = CH_EXT_SEMI;
        } else {
            return chunk_fail(d, c == '\n' ? EDDY_HTTP1_ERR_NEWLINE : EDDY_HTTP1_ERR_CHUNK_SIZE);
        }
        d->count = 1;
        return 0;
    case CH_SIZE_LF:
        if (c != '\n') return chunk_fail(d, EDDY_HTTP1_ERR_NEWLINE);
        if (d->remaining == 0) {
            d->state = CH_TRAILER;
            d->count = 0;
        } else {
            d->state = CH_DATA;
        }
        return 0;
    case CH_DATA_CR:
        if (c != '\r') return chunk_fail(d, EDDY_HTTP1_ERR_CHUNK_DATA);
        d->state = CH_DATA_LF;
        return 0;
    case CH_DATA_LF:
        if (c != '\n') return chunk_fail(d, EDDY_HTTP1_ERR_CHUNK_DATA);
        d->state = CH_SIZE0;
        return 0;
    case CH_TRAILER:
    case CH_TRAILER_NAME:
    case CH_TRAILER_VALUE:
    case CH_TRAILER_LF:
    case CH_END_LF:
        if (++d->count > d->max_trailer) return chunk_fail(d, EDDY_HTTP1_ERR_HEAD_TOO_LARGE);
        switch (d->state) {
        case CH_TRAILER:
            if (c == '\r') {
                d->state = CH_END_LF;
            } else if (is_token((char)c)) {
                if (++d->fields > d->max_trailers)
                    return chunk_fail(d, EDDY_HTTP1_ERR_TOO_MANY_HEADERS);
                d->state = CH_TRAILER_NAME;
            } else {
                return chunk_fail(d, c == '\n' ? EDDY_HTTP1_ERR_NEWLINE : EDDY_HTTP1_ERR_TRAILER);
            }
            return 0;
        case CH_TRAILER_NAME:
            if (c == ':')
                d->state = CH_TRAILER_VALUE;
            else if (!is_token((char)c))
                return chunk_fail(d, EDDY_HTTP1_ERR_TRAILER);
            return 0;
        case CH_TRAILER_VALUE:
            if (c == '\r')
                d->state = CH_TRAILER_LF;
            else if (!is_field_vchar(c))
                return chunk_fail(d, c == '\n' ? EDDY_HTTP1_ERR_NEWLINE : EDDY_HTTP1_ERR_TRAILER);
            return 0;
        case CH_TRAILER_LF:
            if (c != '\n') return chunk_fail(d, EDDY_HTTP1_ERR_NEWLINE);
            d->state = CH_TRAILER;
            return 0;
        default: /* CH_END_LF */
            if (c != '\n') return chunk_fail(d, EDDY_HTTP1_ERR_NEWLINE);
            d->state = CH_DONE;
            return 0;
        }
    default: break;
    }

    /* Chunk extensions: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) */
    if (c == '\r' &&
        (d->state == CH_EXT_NAME || d->state == CH_EXT_TOKEN || d->state == CH_EXT_AFTERQ)) {
        d->state = CH_SIZE_LF;
        return 0;
    }
    if (++d->count > d->max_ext) return chunk_fail(d, EDDY_HTTP1_ERR_CHUNK_EXT);
    bool ws = c == ' ' || c == '\t';
    switch (d->state) {
    case CH_EXT_SEMI:
        if (c == ';')
            d->state = CH_EXT_NAME0;
        else if (!ws)
            goto bad;
        return 0;
    case CH_EXT_NAME0:
        if (is_token((char)c))
            d->state = CH_EXT_NAME;
        else if (!ws)
            goto bad;
        return 0;
    case CH_EXT_NAME:
        if (is_token((char)c)) return 0;
        if (c == '=')
            d->state = CH_EXT_VALUE0;
        else if (c == ';')
            d->state = CH_EXT_NAME0;
        else if (ws)
            d->state = CH_EXT_EQ;
        else
            goto bad;
        return 0;
    case CH_EXT_EQ:
        if (c == '=')
            d->state = CH_EXT_VALUE0;
        else if (c == ';')
            d->state = CH_EXT_NAME0;
        else if (!ws)
            goto bad;
        return 0;
    case CH_EXT_VALUE0:
        if (c == '"')
            d->state = CH_EXT_QUOTED;
        else if (is_token((char)c))
            d->state = CH_EXT_TOKEN;
        else if (!ws)
            goto bad;
        return 0;
    case CH_EXT_TOKEN:
        if (is_token((char)c)) return 0;
        if (c == ';')
            d->state = CH_EXT_NAME0;
        else if (ws)
            d->state = CH_EXT_SEMI;
        else
            goto bad;
        return 0;
    case CH_EXT_QUOTED:
        if (c == '"')
            d->state = CH_EXT_AFTERQ;
        else if (c == '\\')
            d->state = CH_EXT_QPAIR;
        else if (!is_qdtext(c))
            goto bad;
        return 0;
    case CH_EXT_QPAIR:
        if (!is_field_vchar(c)) goto bad;
        d->state = CH_EXT_QUOTED;
        return 0;
    case CH_EXT_AFTERQ:
        if (c == ';')
            d->state = CH_EXT_NAME0;
        else if (ws)
            d->state = CH_EXT_SEMI;
        else
            goto bad;
        return 0;
    default: break;
    }
bad:
    return chunk_fail(d, c == '\n' ? EDDY_HTTP1_ERR_NEWLINE : EDDY_HTTP1_ERR_CHUNK_EXT);
}

ssize_t eddy_http1_chunked_parse(eddy_http1_chunked_t *d, const char *buf, size_t len,
                                 eddy_http1_str_t *data)
{
    size_t i = 0;
    data->ptr = buf;
    data->len = 0;
    if (d->state == CH_ERROR) return EDDY_HTTP1_ERROR;
    while (i < len && d->state != CH_DONE) {
        if (d->state == CH_DATA) {
            size_t n = len - i;
            if (n > d->remaining) n = (size_t)d->remaining;
            data->ptr = buf + i;
            data->len = n;
            i += n;
            d->remaining -= n;
            if (d->remaining == 0) d->state = CH_DATA_CR;
            break;
        }
        if (chunk_step(d, (unsigned char)buf[i++]) < 0) return EDDY_HTTP1_ERROR;
    }
    return (ssize_t)i;
}

ssize_t eddy_http1_chunked_decode(eddy_http1_chunked_t *d, char *buf, size_t *len)
{
    size_t n = *len, src = 0, dst = 0;
    while (src < n && d->state != CH_DONE) {
        eddy_http1_str_t data;
        ssize_t r = eddy_http1_chunked_parse(d, buf + src, n - src, &data);
        if (r < 0) {
            *len = dst;
            return r;
        }
        if (data.len) {
            memmove(buf + dst, data.ptr, data.len);
            dst += data.len;
        }
        src += (size_t)r;
    }
    if (d->state == CH_ERROR) {
        *len = dst;
        return EDDY_HTTP1_ERROR;
    }
    if (d->state != CH_DONE) {
        *len = dst;
        return EDDY_HTTP1_INCOMPLETE;
    }
    if (src < n) memmove(buf + dst, buf + src, n - src);
    *len = dst;
    return (ssize_t)(n - src);
}
