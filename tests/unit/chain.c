/*
 * eddy_chain_t: coalescing, ordering across copied / owned / file chunks,
 * eddy_chain_iov stopping at files, consume across chunk boundaries, release
 * of owned memory and files exactly once, and a randomized model test that
 * "writes" the chain the way a connection does (writev for memory, pread in
 * place of sendfile for files) and compares every byte.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "eddy/buf.h"
#include "test.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t rng_below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* A temporary file holding len known bytes (unlinked at once). */
static int temp_file(const char *content, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/eddy-chain-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(write(fd, content, len), (long long)len);
    return fd;
}

/* Sum of chunk lengths must always equal the byte counter. */
static void check_bytes(const eddy_chain_t *c)
{
    size_t sum = 0;
    const eddy_chunk_t *last = NULL;
    for (const eddy_chunk_t *k = c->head; k; k = k->next) {
        CHECK(k->len > 0); /* no empty chunk lingers */
        sum += k->len;
        last = k;
    }
    CHECK(c->tail == last);
    CHECK_EQ(sum, c->bytes);
    CHECK_EQ(eddy_chain_empty(c), c->head == NULL);
}

/* Flatten what eddy_chain_iov returns into out (at most cap bytes). */
static size_t iov_bytes(const eddy_chain_t *c, char *out, size_t cap, int *niov)
{
    struct iovec iov[64];
    int n = eddy_chain_iov(c, iov, 64);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        CHECK(len + iov[i].iov_len <= cap);
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    if (niov) *niov = n;
    return len;
}

struct free_count {
    int calls;
    void *last_ptr;
};

static void count_free(void *ptr, void *ud)
{
    struct free_count *fc = ud;
    fc->calls++;
    fc->last_ptr = ptr;
}

static void test_empty_chain(void)
{
    eddy_chain_t c;
    eddy_chain_init(&c);
    CHECK(eddy_chain_empty(&c));
    CHECK_EQ(c.bytes, 0);
    struct iovec iov[4];
    CHECK_EQ(eddy_chain_iov(&c, iov, 4), 0);
    eddy_chain_consume(&c, 0);
    eddy_chain_clear(&c);
    CHECK(eddy_chain_empty(&c));
    check_bytes(&c);
}

static void test_coalesce(void)
{
    eddy_chain_t c;
    eddy_chain_init(&c);
    CHECK_EQ(eddy_chain_append(&c, "ab", 2), 0);
    CHECK_EQ(eddy_chain_append(&c, "", 0), 0);
    CHECK_EQ(eddy_chain_append(&c, "cd", 2), 0);
    CHECK_EQ(eddy_chain_append(&c, "e", 1), 0);
    CHECK(c.head != NULL && c.head == c.tail);
    CHECK_EQ(c.head->kind, EDDY_CHUNK_COPY);
    CHECK_EQ(c.bytes, 5);
    char out[64];
    int n;
    CHECK_EQ(iov_bytes(&c, out, sizeof out, &n), 5);
    CHECK_EQ(n, 1);
    CHECK(memcmp(out, "abcde", 5) == 0);

    /* Appending to a partly written copy chunk still coalesces. */
    eddy_chain_consume(&c, 2);
    CHECK_EQ(eddy_chain_append(&c, "fg", 2), 0);
    CHECK(c.head == c.tail);
    CHECK_EQ(iov_bytes(&c, out, sizeof out, &n), 5);
    CHECK(memcmp(out, "cdefg", 5) == 0);

    /* Many small appends stay in few chunks: far fewer than appends. */
    int chunks = 0;
    for (int i = 0; i < 10000; i++)
        CHECK_EQ(eddy_chain_append(&c, "0123456789", 10), 0);
    for (eddy_chunk_t *k = c.head; k; k = k->next)
        chunks++;
    CHECK(chunks <= 10);
    CHECK_EQ(c.bytes, 5 + 100000);
    check_bytes(&c);
    eddy_chain_clear(&c);
    CHECK(eddy_chain_empty(&c));
    CHECK_EQ(c.bytes, 0);
    CHECK(c.tail == NULL);
}

static void test_large_append(void)
{
    eddy_chain_t c;
    eddy_chain_init(&c);
    size_t big = 100000;
    char *data = malloc(big);
    char *out = malloc(big + 16);
    CHECK(data && out);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)rng();
    CHECK_EQ(eddy_chain_append(&c, "xyz", 3), 0);
    CHECK_EQ(eddy_chain_append(&c, data, big), 0);
    CHECK_EQ(c.bytes, big + 3);
    CHECK_EQ(iov_bytes(&c, out, big + 16, NULL), big + 3);
    CHECK(memcmp(out, "xyz", 3) == 0);
    CHECK(memcmp(out + 3, data, big) == 0);
    check_bytes(&c);
    eddy_chain_clear(&c);
    free(data);
    free(out);
}

static void test_order_and_iov_stops_at_file(void)
{
    int fd = temp_file("FILEDATA", 8);
    eddy_chain_t c;
    eddy_chain_init(&c);
    struct free_count fc = {0, NULL};
    char owned[] = "BB";
    CHECK_EQ(eddy_chain_append(&c, "A", 1), 0);
    CHECK_EQ(eddy_chain_append_owned(&c, owned, 2, count_free, &fc), 0);
    CHECK_EQ(eddy_chain_append(&c, "CCC", 3), 0);             /* after owned: new chunk */
    CHECK_EQ(eddy_chain_append_file(&c, fd, 4, 4, false), 0); /* "DATA" */
    CHECK_EQ(eddy_chain_append(&c, "EE", 2), 0);              /* after file: new chunk */
    CHECK_EQ(c.bytes, 1 + 2 + 3 + 4 + 2);
    check_bytes(&c);

    struct iovec iov[8];
    CHECK_EQ(eddy_chain_iov(&c, iov, 8), 3);
    CHECK_EQ(iov[0].iov_len, 1);
    CHECK(memcmp(iov[0].iov_base, "A", 1) == 0);
    CHECK_EQ(iov[1].iov_len, 2);
    CHECK(iov[1].iov_base == owned); /* not copied */
    CHECK_EQ(iov[2].iov_len, 3);
    CHECK(memcmp(iov[2].iov_base, "CCC", 3) == 0);
    CHECK_EQ(eddy_chain_iov(&c, iov, 2), 2); /* max respected */
    CHECK_EQ(eddy_chain_iov(&c, iov, 0), 0);

    /* Write the memory part; the owned chunk is released when written. */
    eddy_chain_consume(&c, 6);
    CHECK_EQ(fc.calls, 1);
    CHECK(fc.last_ptr == owned);
    CHECK_EQ(c.bytes, 6);
    CHECK(c.head->kind == EDDY_CHUNK_FILE);
    CHECK_EQ(eddy_chain_iov(&c, iov, 8), 0); /* head is a file */
    CHECK_EQ(c.head->u.file.fd, fd);
    CHECK_EQ(c.head->u.file.offset, 4);
    CHECK_EQ(c.head->len, 4);

    /* Partial file write advances the offset. */
    eddy_chain_consume(&c, 3);
    CHECK_EQ(c.head->kind, EDDY_CHUNK_FILE);
    CHECK_EQ(c.head->u.file.offset, 7);
    CHECK_EQ(c.head->len, 1);
    /* Finish the file and one byte of what follows in one call. */
    eddy_chain_consume(&c, 2);
    CHECK(fd_open(fd)); /* close_fd was false */
    CHECK_EQ(eddy_chain_iov(&c, iov, 8), 1);
    CHECK_EQ(iov[0].iov_len, 1);
    CHECK(memcmp(iov[0].iov_base, "E", 1) == 0);
    CHECK_EQ(c.bytes, 1);
    eddy_chain_consume(&c, 1);
    CHECK(eddy_chain_empty(&c));
    CHECK(c.tail == NULL);
    CHECK_EQ(c.bytes, 0);
    CHECK_EQ(fc.calls, 1);

    /* The chain is reusable after draining. */
    CHECK_EQ(eddy_chain_append(&c, "again", 5), 0);
    CHECK_EQ(eddy_chain_iov(&c, iov, 8), 1);
    CHECK(memcmp(iov[0].iov_base, "again", 5) == 0);
    eddy_chain_clear(&c);
    close(fd);
}

static void test_consume_boundaries(void)
{
    eddy_chain_t c;
    eddy_chain_init(&c);
    struct free_count f1 = {0, NULL}, f2 = {0, NULL};
    char m1[] = "bbbb", m2[] = "dddd";
    CHECK_EQ(eddy_chain_append(&c, "aaa", 3), 0);
    CHECK_EQ(eddy_chain_append_owned(&c, m1, 4, count_free, &f1), 0);
    CHECK_EQ(eddy_chain_append(&c, "ccccc", 5), 0);
    CHECK_EQ(eddy_chain_append_owned(&c, m2, 4, count_free, &f2), 0);
    char out[64];

    eddy_chain_consume(&c, 0); /* no-op */
    CHECK_EQ(c.bytes, 16);
    eddy_chain_consume(&c, 2); /* partial inside the first chunk */
    CHECK_EQ(iov_bytes(&c, out, sizeof out, NULL), 14);
    CHECK(memcmp(out, "abbbbcccccdddd", 14) == 0);
    eddy_chain_consume(&c, 1); /* exactly to the end of the first chunk */
    CHECK_EQ(iov_bytes(&c, out, sizeof out, NULL), 13);
    CHECK(memcmp(out, "bbbbcccccdddd", 13) == 0);
    CHECK_EQ(c.head->kind, EDDY_CHUNK_OWNED);
    CHECK_EQ(f1.calls, 0);
    eddy_chain_consume(&c, 4); /* exactly the owned chunk */
    CHECK_EQ(f1.calls, 1);
    CHECK(f1.last_ptr == m1);
    CHECK_EQ(iov_bytes(&c, out, sizeof out, NULL), 9);
    CHECK(memcmp(out, "cccccdddd", 9) == 0);
    eddy_chain_consume(&c, 7); /* across a boundary, ending inside owned */
    CHECK_EQ(f2.calls, 0);
    CHECK_EQ(c.bytes, 2);
    CHECK_EQ(iov_bytes(&c, out, sizeof out, NULL), 2);
    CHECK(memcmp(out, "dd", 2) == 0);
    CHECK(c.head == c.tail);
    eddy_chain_consume(&c, 2);
    CHECK_EQ(f2.calls, 1);
    CHECK(f2.last_ptr == m2);
    CHECK(eddy_chain_empty(&c));
    CHECK(c.tail == NULL);
    CHECK_EQ(c.bytes, 0);
    eddy_chain_clear(&c);
    CHECK_EQ(f1.calls, 1);
    CHECK_EQ(f2.calls, 1);

    /* One consume spanning several whole chunks. */
    char m3[] = "xy";
    struct free_count f3 = {0, NULL};
    CHECK_EQ(eddy_chain_append(&c, "12", 2), 0);
    CHECK_EQ(eddy_chain_append_owned(&c, m3, 2, count_free, &f3), 0);
    CHECK_EQ(eddy_chain_append(&c, "34", 2), 0);
    eddy_chain_consume(&c, 6);
    CHECK(eddy_chain_empty(&c));
    CHECK_EQ(f3.calls, 1);
}

static void std_free(void *ptr, void *ud)
{
    (void)ud;
    free(ptr);
}

static void test_owned_release(void)
{
    eddy_chain_t c;
    eddy_chain_init(&c);
    struct free_count fc = {0, NULL};
    char m[] = "owned";

    /* Discarded by clear: released once, and not again by a second clear. */
    CHECK_EQ(eddy_chain_append_owned(&c, m, 5, count_free, &fc), 0);
    eddy_chain_consume(&c, 3);
    CHECK_EQ(fc.calls, 0);
    eddy_chain_clear(&c);
    CHECK_EQ(fc.calls, 1);
    CHECK(fc.last_ptr == m); /* the original pointer, not the cursor */
    eddy_chain_clear(&c);
    CHECK_EQ(fc.calls, 1);

    /* Zero length: released at once, nothing queued. */
    CHECK_EQ(eddy_chain_append_owned(&c, m, 0, count_free, &fc), 0);
    CHECK_EQ(fc.calls, 2);
    CHECK(eddy_chain_empty(&c));
    CHECK_EQ(c.bytes, 0);

    /* NULL free function: fine on consume and on clear. */
    CHECK_EQ(eddy_chain_append_owned(&c, m, 5, NULL, NULL), 0);
    CHECK_EQ(eddy_chain_append_owned(&c, m, 0, NULL, NULL), 0);
    CHECK_EQ(c.bytes, 5);
    eddy_chain_consume(&c, 5);
    CHECK(eddy_chain_empty(&c));
    CHECK_EQ(eddy_chain_append_owned(&c, m, 5, NULL, NULL), 0);
    eddy_chain_clear(&c);

    /* Heap memory handed over with free(): ASan/LSan would flag a leak or a
     * double free. */
    for (int i = 0; i < 100; i++) {
        char *p = malloc(32);
        CHECK(p != NULL);
        memset(p, 'a' + i % 26, 32);
        CHECK_EQ(eddy_chain_append_owned(&c, p, 32, std_free, NULL), 0);
    }
    eddy_chain_consume(&c, 32 * 50 + 7);
    eddy_chain_clear(&c);
}

static void test_file_close(void)
{
    int base = temp_file("0123456789", 10);
    eddy_chain_t c;
    eddy_chain_init(&c);

    /* close_fd: closed once the range is written. */
    int fd = dup(base);
    CHECK(fd >= 0);
    CHECK_EQ(eddy_chain_append_file(&c, fd, 0, 10, true), 0);
    CHECK_EQ(c.bytes, 10);
    eddy_chain_consume(&c, 9);
    CHECK(fd_open(fd));
    eddy_chain_consume(&c, 1);
    CHECK(!fd_open(fd));
    CHECK(eddy_chain_empty(&c));

    /* close_fd: closed when discarded. */
    fd = dup(base);
    CHECK_EQ(eddy_chain_append(&c, "x", 1), 0);
    CHECK_EQ(eddy_chain_append_file(&c, fd, 2, 5, true), 0);
    eddy_chain_consume(&c, 3);
    CHECK(fd_open(fd));
    eddy_chain_clear(&c);
    CHECK(!fd_open(fd));

    /* Without close_fd the caller keeps the fd: open after consume and clear. */
    CHECK_EQ(eddy_chain_append_file(&c, base, 0, 10, false), 0);
    eddy_chain_consume(&c, 10);
    CHECK(fd_open(base));
    CHECK_EQ(eddy_chain_append_file(&c, base, 0, 10, false), 0);
    eddy_chain_clear(&c);
    CHECK(fd_open(base));

    /* Zero-length file ranges queue nothing; close_fd still closes. */
    fd = dup(base);
    CHECK_EQ(eddy_chain_append_file(&c, fd, 0, 0, true), 0);
    CHECK(!fd_open(fd));
    CHECK_EQ(eddy_chain_append_file(&c, base, 0, 0, false), 0);
    CHECK(fd_open(base));
    CHECK(eddy_chain_empty(&c));
    CHECK_EQ(c.bytes, 0);

    /* Two file chunks back to back stay separate and in order. */
    CHECK_EQ(eddy_chain_append_file(&c, base, 0, 3, false), 0);
    CHECK_EQ(eddy_chain_append_file(&c, base, 5, 3, false), 0);
    CHECK(c.head != c.tail);
    CHECK_EQ(c.head->u.file.offset, 0);
    CHECK_EQ(c.tail->u.file.offset, 5);
    eddy_chain_consume(&c, 4);
    CHECK(c.head == c.tail);
    CHECK_EQ(c.head->u.file.offset, 6);
    CHECK_EQ(c.head->len, 2);
    eddy_chain_clear(&c);
    close(base);
}

/* ---- randomized model ------------------------------------------------------ */

enum { MODEL_CAP = 8 << 20, FILE_LEN = 1 << 20, MAX_OWNED = 100000 };

struct owned_rec {
    uint64_t end; /* stream position one past its last byte */
    int freed;
};

static struct {
    uint64_t written; /* stream position consumed so far (updated before consume) */
    bool clearing;
    struct owned_rec recs[MAX_OWNED];
    int nrecs;
} g;

static void rec_free(void *ptr, void *ud)
{
    struct owned_rec *r = ud;
    r->freed++;
    CHECK_EQ(r->freed, 1);
    /* Released only once all its bytes are written, or on clear. */
    CHECK(g.clearing || g.written >= r->end);
    free(ptr);
}

static void test_random_model(void)
{
    int fds_before = count_fds();
    char *file_data = malloc(FILE_LEN);
    char *model = malloc(MODEL_CAP); /* model[rd, wr) = bytes still queued */
    char *tmp = malloc(MODEL_CAP);
    CHECK(file_data && model && tmp);
    for (size_t i = 0; i < FILE_LEN; i++)
        file_data[i] = (char)rng();
    int file = temp_file(file_data, FILE_LEN);
    size_t rd = 0, wr = 0;
    uint64_t pos_rd = 0, pos_wr = 0; /* absolute stream positions */

    eddy_chain_t c;
    eddy_chain_init(&c);
    for (int op = 0; op < 100000; op++) {
        size_t live = wr - rd;
        size_t n = rng_below(10) == 0 ? rng_below(64 * 1024) : rng_below(300);
        if (rng_below(50) == 0) n = 0;
        unsigned what = (unsigned)rng_below(100);
        if (live + n > MODEL_CAP / 2) what = 60; /* drain */
        if (wr + n > MODEL_CAP) {
            memmove(model, model + rd, live);
            rd = 0;
            wr = live;
        }
        if (what < 25) { /* copy */
            for (size_t i = 0; i < n; i++)
                model[wr + i] = (char)rng();
            CHECK_EQ(eddy_chain_append(&c, model + wr, n), 0);
            wr += n;
            pos_wr += n;
        } else if (what < 38 && g.nrecs < MAX_OWNED) { /* owned */
            char *p = malloc(n ? n : 1);
            CHECK(p != NULL);
            for (size_t i = 0; i < n; i++)
                p[i] = model[wr + i] = (char)rng();
            struct owned_rec *r = &g.recs[g.nrecs++];
            r->end = pos_wr + n;
            if (n == 0) g.written = pos_wr; /* nothing to write: released at once */
            CHECK_EQ(eddy_chain_append_owned(&c, p, n, rec_free, r), 0);
            if (n == 0) CHECK_EQ(r->freed, 1);
            wr += n;
            pos_wr += n;
        } else if (what < 50) { /* file range */
            if (n > FILE_LEN) n = FILE_LEN;
            size_t off = rng_below(FILE_LEN - n + 1);
            memcpy(model + wr, file_data + off, n);
            bool own = rng_below(2) == 0;
            int fd = own ? dup(file) : file;
            CHECK(fd >= 0);
            CHECK_EQ(eddy_chain_append_file(&c, fd, (off_t)off, n, own), 0);
            wr += n;
            pos_wr += n;
        } else if (what < 99) { /* write some of the head, like a connection */
            size_t want = rng_below(3) == 0 ? live : rng_below(live + 1);
            size_t got;
            if (c.head && c.head->kind == EDDY_CHUNK_FILE) {
                struct iovec iov[1];
                CHECK_EQ(eddy_chain_iov(&c, iov, 1), 0);
                got = want < c.head->len ? want : c.head->len;
                CHECK_EQ(pread(c.head->u.file.fd, tmp, got, c.head->u.file.offset), (long long)got);
            } else {
                struct iovec iov[16];
                int max = 1 + (int)rng_below(16);
                int niov = eddy_chain_iov(&c, iov, max);
                /* iov covers the leading memory chunks, up to max of them. */
                int mem = 0;
                for (eddy_chunk_t *k = c.head; k && k->kind != EDDY_CHUNK_FILE; k = k->next)
                    mem++;
                CHECK_EQ(niov, mem < max ? mem : max);
                got = 0;
                for (int i = 0; i < niov && got < want; i++) {
                    size_t part = iov[i].iov_len < want - got ? iov[i].iov_len : want - got;
                    memcpy(tmp + got, iov[i].iov_base, part);
                    got += part;
                }
            }
            CHECK(got <= live);
            if (got) CHECK(memcmp(tmp, model + rd, got) == 0);
            g.written = pos_rd + got;
            eddy_chain_consume(&c, got);
            rd += got;
            pos_rd += got;
        } else { /* discard everything */
            g.clearing = true;
            eddy_chain_clear(&c);
            g.clearing = false;
            pos_rd += live;
            rd = wr;
        }
        CHECK_EQ(c.bytes, wr - rd);
        if (op % 64 == 0) check_bytes(&c);
    }
    /* Drain what is left completely, then check every release happened. */
    while (!eddy_chain_empty(&c)) {
        size_t got;
        if (c.head->kind == EDDY_CHUNK_FILE) {
            got = c.head->len;
            CHECK_EQ(pread(c.head->u.file.fd, tmp, got, c.head->u.file.offset), (long long)got);
        } else {
            got = iov_bytes(&c, tmp, MODEL_CAP, NULL);
        }
        CHECK(memcmp(tmp, model + rd, got) == 0);
        g.written = pos_rd + got;
        eddy_chain_consume(&c, got);
        rd += got;
        pos_rd += got;
    }
    CHECK_EQ(rd, wr);
    CHECK_EQ(c.bytes, 0);
    for (int i = 0; i < g.nrecs; i++)
        CHECK_EQ(g.recs[i].freed, 1);
    CHECK(g.nrecs > 1000);
    close(file);
    CHECK_EQ(count_fds(), fds_before); /* every close_fd range was closed */
    free(file_data);
    free(model);
    free(tmp);
}

int main(void)
{
    RUN(test_empty_chain);
    RUN(test_coalesce);
    RUN(test_large_append);
    RUN(test_order_and_iov_stops_at_file);
    RUN(test_consume_boundaries);
    RUN(test_owned_release);
    RUN(test_file_close);
    RUN(test_random_model);
    return 0;
}
