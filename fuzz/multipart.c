/*
 * Fuzz target for the multipart/form-data parser (eddy/multipart.h).
 *
 * Input layout: the first line, up to the first '\n' (at most 256 bytes),
 * is a Content-Type value; the rest is the body. The boundary comes from
 * eddy_multipart_boundary() on that line, so the Content-Type parser is
 * fuzzed too; when the line does not give one (no '\n', or a rejected
 * value), the boundary is "AaB03x" and the whole input is the body.
 * Example seed: "multipart/form-data; boundary=b\n--b\r\n...".
 *
 * Each body is parsed with the default limits and with small ones
 * (header section 64 bytes, 3 header lines, 4 parts), each three ways: all
 * at once, one byte at a time, and in pieces whose sizes come from the
 * input. The three must give the same events (data compared as the
 * concatenation per part), the same error and offset, and respect what the
 * header promises: events in order, data only inside a part, parts counted,
 * no delimiter inside a part's data. Pieces are exact-size allocations, so
 * ASan sees any read beyond them.
 */
#define _GNU_SOURCE /* memmem */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/multipart.h"

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "multipart fuzz: %s:%d: %s\n", __FILE__, __LINE__, #c);                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct out {
    char *s;
    size_t len, cap;
} out_t;

static void put(out_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 64;
        o->s = realloc(o->s, o->cap);
        ASSERT(o->s != NULL);
    }
    if (n) memcpy(o->s + o->len, p, n);
    o->len += n;
}

static void put_str(out_t *o, eddy_http1_str_t s)
{
    uint32_t n = s.ptr ? (uint32_t)s.len : UINT32_MAX;
    put(o, &n, sizeof n);
    if (s.ptr) put(o, s.ptr, s.len);
}

/* Per-run state checked against the header's promises. */
typedef struct run {
    out_t trace;
    out_t data; /* the current part's data */
    bool in_part, ended;
    size_t parts;
    const char *delim;
    size_t dlen;
    const eddy_multipart_limits_t *limits;
} run_t;

static void on_event(run_t *r, const eddy_multipart_event_t *ev)
{
    char tag = (char)('0' + ev->type);
    switch (ev->type) {
    case EDDY_MULTIPART_NONE: return;
    case EDDY_MULTIPART_PART_BEGIN:
        ASSERT(!r->in_part && !r->ended && ev->part);
        ASSERT(ev->part->index == r->parts);
        ASSERT(ev->part->name.ptr != NULL);
        ASSERT(ev->part->num_headers >= 1 && ev->part->num_headers <= r->limits->max_headers);
        r->parts++;
        ASSERT(r->parts <= r->limits->max_parts);
        r->in_part = true;
        r->data.len = 0;
        put(&r->trace, &tag, 1);
        put_str(&r->trace, ev->part->name);
        put_str(&r->trace, ev->part->filename);
        put_str(&r->trace, ev->part->content_type);
        return;
    case EDDY_MULTIPART_PART_DATA:
        ASSERT(r->in_part && ev->len > 0 && ev->data);
        put(&r->data, ev->data, ev->len);
        return;
    case EDDY_MULTIPART_PART_END:
        ASSERT(r->in_part);
        r->in_part = false;
        /* RFC 2046: a part never holds its delimiter. */
        ASSERT(!r->data.len || !memmem(r->data.s, r->data.len, r->delim, r->dlen));
        put(&r->trace, &tag, 1);
        put(&r->trace, r->data.s, r->data.len);
        return;
    case EDDY_MULTIPART_BODY_END:
        ASSERT(!r->in_part && !r->ended);
        r->ended = true;
        put(&r->trace, &tag, 1);
        return;
    }
    ASSERT(!"unknown event");
}

/* mode 0: whole; 1: one byte at a time; 2: pieces from seed. */
static void parse(run_t *r, const char *boundary, const uint8_t *body, size_t len, int mode,
                  uint32_t seed)
{
    eddy_multipart_t *p;
    ASSERT(eddy_multipart_new(&p, boundary, strlen(boundary), r->limits) == 0);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = len - off;
        if (mode == 1) n = 1;
        if (mode == 2) {
            seed = seed * 1103515245u + 12345u;
            size_t want = 1 + (seed >> 16) % 97;
            if (want < n) n = want;
        }
        char *piece = malloc(n);
        ASSERT(piece);
        memcpy(piece, body + off, n);
        const char *buf = piece;
        size_t left = n;
        for (;;) {
            eddy_multipart_event_t ev;
            ssize_t used = eddy_multipart_parse(p, buf, left, &ev);
            if (used < 0) {
                ASSERT(used == -EDDY_EMULTIPART);
                rc = -1;
                break;
            }
            ASSERT((size_t)used <= left);
            buf += used;
            left -= (size_t)used;
            if (ev.type == EDDY_MULTIPART_PART_DATA) /* inside this piece or the parser */
                ASSERT((ev.data >= piece && ev.data + ev.len <= piece + n) || ev.len <= r->dlen);
            on_event(r, &ev);
            if (ev.type == EDDY_MULTIPART_NONE) {
                ASSERT(left == 0);
                break;
            }
        }
        free(piece);
        off += n;
    }
    int fin = eddy_multipart_finish(p);
    eddy_multipart_error_t err = eddy_multipart_error(p);
    uint64_t at = eddy_multipart_error_offset(p);
    ASSERT((fin == 0) == (err == EDDY_MULTIPART_ERR_NONE));
    ASSERT(fin == 0 || fin == -EDDY_EMULTIPART);
    ASSERT(fin != 0 || r->ended);
    ASSERT(at <= len);
    ASSERT(eddy_multipart_error_name(err) && eddy_multipart_error_str(err));
    put(&r->trace, &err, sizeof err);
    put(&r->trace, &at, sizeof at);
    eddy_multipart_free(p);
}

static void check_limits(const char *boundary, const uint8_t *body, size_t len,
                         const eddy_multipart_limits_t *limits, uint32_t seed)
{
    char delim[4 + EDDY_MULTIPART_BOUNDARY_MAX + 1];
    snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    run_t runs[3];
    for (int mode = 0; mode < 3; mode++) {
        memset(&runs[mode], 0, sizeof runs[mode]);
        runs[mode].delim = delim;
        runs[mode].dlen = strlen(delim);
        runs[mode].limits = limits;
        parse(&runs[mode], boundary, body, len, mode, seed);
    }
    for (int mode = 1; mode < 3; mode++) {
        ASSERT(runs[mode].trace.len == runs[0].trace.len);
        ASSERT(memcmp(runs[mode].trace.s, runs[0].trace.s, runs[0].trace.len) == 0);
    }
    for (int mode = 0; mode < 3; mode++) {
        free(runs[mode].trace.s);
        free(runs[mode].data.s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char boundary[EDDY_MULTIPART_BOUNDARY_MAX + 1] = "AaB03x";
    const uint8_t *body = data;
    size_t len = size;
    const uint8_t *nl = memchr(data, '\n', size < 257 ? size : 257);
    if (nl) {
        char b[EDDY_MULTIPART_BOUNDARY_MAX + 1];
        int n = eddy_multipart_boundary((const char *)data, (size_t)(nl - data), b);
        ASSERT(n < 0 || (n >= 1 && n <= EDDY_MULTIPART_BOUNDARY_MAX && (size_t)n == strlen(b)));
        if (n > 0) {
            memcpy(boundary, b, (size_t)n + 1);
            body = nl + 1;
            len = size - (size_t)(nl + 1 - data);
        }
    }
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 16777619u;
    eddy_multipart_limits_t limits;
    eddy_multipart_limits_init(&limits);
    check_limits(boundary, body, len, &limits, seed);
    eddy_multipart_limits_t small = {.max_header_size = 64, .max_headers = 3, .max_parts = 4};
    check_limits(boundary, body, len, &small, seed);
    return 0;
}
