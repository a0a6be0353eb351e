/*
 * eddy_buf_t: append / consume / reserve+commit / compaction / release, checked
 * byte for byte against a plain reference array over many random operations.
 */
#include <errno.h>

#include "eddy/buf.h"
#include "test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t rng_below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static void check_invariants(const eddy_buf_t *b)
{
    CHECK(b->start <= b->end);
    CHECK(b->end <= b->cap);
    if (b->cap) CHECK(b->base != NULL);
}

static void test_empty(void)
{
    eddy_buf_t b;
    eddy_buf_init(&b);
    CHECK(b.base == NULL);
    CHECK_EQ(eddy_buf_len(&b), 0);
    CHECK_EQ(eddy_buf_space(&b), 0);
    /* Callers pass data/len on without checking for an allocation first; with
     * base == NULL that used to compute NULL + 0 (clang UBSan: "applying zero
     * offset to null pointer"). */
    CHECK(eddy_buf_data(&b) == NULL);
    CHECK(eddy_buf_tail(&b) == NULL);
    /* Zero-length operations on an unallocated buffer allocate nothing. */
    CHECK_EQ(eddy_buf_append(&b, "", 0), 0);
    CHECK_EQ(eddy_buf_reserve(&b, 0), 0);
    CHECK(b.base == NULL);
    CHECK_EQ(eddy_buf_len(&b), 0);
    eddy_buf_release_if_empty(&b);
    eddy_buf_free(&b);
    eddy_buf_free(&b); /* freeing twice is harmless: free resets the struct */
    CHECK(b.base == NULL);
}

static void test_append_consume(void)
{
    eddy_buf_t b;
    eddy_buf_init(&b);
    CHECK_EQ(eddy_buf_append(&b, "hello", 5), 0);
    CHECK_EQ(eddy_buf_append(&b, " world", 6), 0);
    CHECK_EQ(eddy_buf_len(&b), 11);
    CHECK(memcmp(eddy_buf_data(&b), "hello world", 11) == 0);
    eddy_buf_consume(&b, 6);
    CHECK_EQ(eddy_buf_len(&b), 5);
    CHECK(memcmp(eddy_buf_data(&b), "world", 5) == 0);
    eddy_buf_consume(&b, 0);
    CHECK_EQ(eddy_buf_len(&b), 5);
    /* Consuming everything rewinds the cursors so the space is reused. */
    eddy_buf_consume(&b, 5);
    CHECK_EQ(eddy_buf_len(&b), 0);
    CHECK_EQ(b.start, 0);
    CHECK_EQ(b.end, 0);
    CHECK_EQ(eddy_buf_space(&b), b.cap);
    check_invariants(&b);
    eddy_buf_free(&b);
}

static void test_reserve_commit(void)
{
    eddy_buf_t b;
    eddy_buf_init(&b);
    CHECK_EQ(eddy_buf_reserve(&b, 10), 0);
    CHECK(eddy_buf_space(&b) >= 10);
    memcpy(eddy_buf_tail(&b), "0123456789", 10);
    eddy_buf_commit(&b, 4);
    CHECK_EQ(eddy_buf_len(&b), 4);
    CHECK(memcmp(eddy_buf_data(&b), "0123", 4) == 0);

    /* Growth keeps the unread bytes and provides the space asked for. */
    size_t big = 1u << 20;
    CHECK_EQ(eddy_buf_reserve(&b, big), 0);
    CHECK(eddy_buf_space(&b) >= big);
    CHECK_EQ(eddy_buf_len(&b), 4);
    CHECK(memcmp(eddy_buf_data(&b), "0123", 4) == 0);
    memset(eddy_buf_tail(&b), 'x', big);
    eddy_buf_commit(&b, big);
    CHECK_EQ(eddy_buf_len(&b), 4 + big);
    CHECK_EQ(eddy_buf_data(&b)[4 + big - 1], 'x');
    check_invariants(&b);

    /* An impossible size fails cleanly and leaves the buffer as it was. */
    char *base = b.base;
    size_t cap = b.cap, start = b.start, end = b.end;
    CHECK_EQ(eddy_buf_reserve(&b, SIZE_MAX), -ENOMEM);
    CHECK_EQ(eddy_buf_append(&b, "z", SIZE_MAX), -ENOMEM);
    CHECK(b.base == base);
    CHECK_EQ(b.cap, cap);
    CHECK_EQ(b.start, start);
    CHECK_EQ(b.end, end);
    eddy_buf_free(&b);
}

static void test_compaction(void)
{
    eddy_buf_t b;
    eddy_buf_init(&b);
    char data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7);
    CHECK_EQ(eddy_buf_append(&b, data, 3000), 0);
    size_t cap = b.cap;
    eddy_buf_consume(&b, 2900);
    CHECK_EQ(eddy_buf_len(&b), 100);
    /* Not enough room at the tail, but plenty once the 100 live bytes move to
     * the front: the buffer compacts instead of growing. */
    CHECK(eddy_buf_space(&b) < cap - 200);
    CHECK_EQ(eddy_buf_reserve(&b, cap - 200), 0);
    CHECK_EQ(b.cap, cap);
    CHECK_EQ(b.start, 0);
    CHECK_EQ(eddy_buf_len(&b), 100);
    CHECK(memcmp(eddy_buf_data(&b), data + 2900, 100) == 0);
    CHECK(eddy_buf_space(&b) >= cap - 200);

    /* More than the allocation can hold even compacted: it grows. */
    CHECK_EQ(eddy_buf_reserve(&b, cap), 0);
    CHECK(b.cap > cap);
    CHECK_EQ(eddy_buf_len(&b), 100);
    CHECK(memcmp(eddy_buf_data(&b), data + 2900, 100) == 0);
    eddy_buf_free(&b);
}

static void test_release_if_empty(void)
{
    eddy_buf_t b;
    eddy_buf_init(&b);
    CHECK_EQ(eddy_buf_append(&b, "abc", 3), 0);
    CHECK(b.base != NULL);
    eddy_buf_release_if_empty(&b); /* not empty: kept */
    CHECK(b.base != NULL);
    CHECK_EQ(eddy_buf_len(&b), 3);
    CHECK(memcmp(eddy_buf_data(&b), "abc", 3) == 0);
    eddy_buf_consume(&b, 3);
    eddy_buf_release_if_empty(&b);
    CHECK(b.base == NULL);
    CHECK_EQ(b.cap, 0);
    CHECK_EQ(eddy_buf_len(&b), 0);
    /* Usable again after release. */
    CHECK_EQ(eddy_buf_append(&b, "de", 2), 0);
    CHECK_EQ(eddy_buf_len(&b), 2);
    CHECK(memcmp(eddy_buf_data(&b), "de", 2) == 0);
    eddy_buf_free(&b);
}

/* Random operations against a reference model: model[rd, wr) holds the live
 * bytes (slid back to the front when it runs out of room). */
static void test_random_model(void)
{
    enum { MODEL = 4 << 20, BIG = 256 * 1024 };
    char *model = malloc(MODEL);
    char *scratch = malloc(BIG);
    CHECK(model && scratch);
    size_t rd = 0, wr = 0, max_need = 0, max_cap = 0, total = 0;
    eddy_buf_t b;
    eddy_buf_init(&b);
    for (int op = 0; op < 200000; op++) {
        size_t live = wr - rd;
        unsigned what = (unsigned)rng_below(100);
        /* Mostly small sizes, sometimes large ones, to exercise both paths. */
        size_t n = rng_below(16) == 0 ? rng_below(BIG) : rng_below(600);
        if (live + n > MODEL / 2) what = 80; /* keep the live data bounded */
        if (wr + n > MODEL) {
            memmove(model, model + rd, live);
            rd = 0;
            wr = live;
        }
        if (what < 35) { /* append */
            for (size_t i = 0; i < n; i++)
                scratch[i] = (char)rng();
            CHECK_EQ(eddy_buf_append(&b, scratch, n), 0);
            memcpy(model + wr, scratch, n);
            wr += n;
            total += n;
            if (live + n > max_need) max_need = live + n;
        } else if (what < 55) { /* reserve, write some of it, commit */
            CHECK_EQ(eddy_buf_reserve(&b, n), 0);
            CHECK(eddy_buf_space(&b) >= n);
            size_t k = rng_below(n + 1);
            for (size_t i = 0; i < k; i++)
                model[wr + i] = (char)rng();
            if (k) memcpy(eddy_buf_tail(&b), model + wr, k);
            eddy_buf_commit(&b, k);
            wr += k;
            total += k;
            if (live + n > max_need) max_need = live + n;
        } else if (what < 90) { /* consume part (or, sometimes, all) */
            size_t k = rng_below(4) == 0 ? live : rng_below(live + 1);
            eddy_buf_consume(&b, k);
            rd += k;
        } else if (what < 95) {
            eddy_buf_release_if_empty(&b);
            if (live == 0) CHECK(b.base == NULL);
        } else { /* read the last byte through the public pointer */
            if (live) CHECK_EQ(eddy_buf_data(&b)[live - 1], model[wr - 1]);
        }
        check_invariants(&b);
        CHECK_EQ(eddy_buf_len(&b), wr - rd);
        if (wr > rd) CHECK(memcmp(eddy_buf_data(&b), model + rd, wr - rd) == 0);
        if (b.cap > max_cap) max_cap = b.cap;
    }
    /* The allocation follows the most ever needed at once (live + reserved),
     * not the total that passed through. */
    CHECK(total > 16 * max_cap);
    CHECK(max_cap <= (max_need > 4096 ? 2 * max_need : 4096));
    eddy_buf_free(&b);
    free(model);
    free(scratch);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_append_consume);
    RUN(test_reserve_commit);
    RUN(test_compaction);
    RUN(test_release_if_empty);
    RUN(test_random_model);
    return 0;
}
