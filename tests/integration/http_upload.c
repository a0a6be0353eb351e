/*
 * multipart/form-data uploads through the HTTP server, driven by curl -F
 * and by hand-written bodies: fields reach the handler as form fields,
 * files as temp files in a private upload_tmp_dir with exact sizes and
 * contents (checksums compared), mode 0600, named by eddy not the client;
 * temp files are gone once the answer has arrived, after a move, and when
 * the client left before the answer; a file over upload_max_filesize is
 * 413 and a malformed body 400, with the handler not called and nothing
 * left behind. http_upload_process.sh runs it again in PROCESS mode.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <eddy.h>

#include "http_app.h"
#include "test.h"
#include "testutil.h"

static http_app_t app;
static char work[64], tmpdir[128], small[128], mib[128], toobig[128], body[128], keep[128];

#define MAX_FILESIZE (1536 * 1024) /* 1.5 MiB */

static char *curl(const char *args, const char *path)
{
    return http_app_curl(&app, 20, args, path);
}

static uint64_t fnv1a(const char *data, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)data[i]) * 0x100000001b3ull;
    return h;
}

/* Bytes of every value, CR, LF and "--" among them. */
static char *random_bytes(size_t n, uint32_t seed)
{
    char *p = malloc(n);
    CHECK(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (char)(seed >> 24);
    }
    return p;
}

static uint64_t sum_small, sum_mib;

static void make_files(void)
{
    snprintf(work, sizeof work, "/tmp/eddy-upload-test-XXXXXX");
    CHECK(mkdtemp(work));
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", work);
    CHECK_EQ(mkdir(tmpdir, 0700), 0);
    snprintf(small, sizeof small, "%s/small.txt", work);
    snprintf(mib, sizeof mib, "%s/one_mib.bin", work);
    snprintf(toobig, sizeof toobig, "%s/too_big.bin", work);
    snprintf(body, sizeof body, "%s/body", work);
    snprintf(keep, sizeof keep, "%s/kept", work);
    char text[1000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "small file\r\n--"[i % 14];
    test_write_file(small, text, sizeof text);
    sum_small = fnv1a(text, sizeof text);
    char *p = random_bytes(1024 * 1024, 7);
    test_write_file(mib, p, 1024 * 1024);
    sum_mib = fnv1a(p, 1024 * 1024);
    free(p);
    p = random_bytes(MAX_FILESIZE + 1, 9);
    test_write_file(toobig, p, MAX_FILESIZE + 1);
    free(p);
}

static pid_t owner; /* the test process: forked servers must not clean up */

static void remove_files(void)
{
    if (getpid() != owner || !work[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    work[0] = '\0';
    if (system(cmd) != 0) fprintf(stderr, "cleanup failed: %s\n", cmd); /* may run at exit */
}

/* Entries in the upload directory whose names start with prefix. */
static int tmp_count_of(const char *prefix)
{
    DIR *d = opendir(tmpdir);
    CHECK(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static int tmp_count(void)
{
    return tmp_count_of("");
}

static void expect_empty_tmp(int line)
{
    int n = tmp_count();
    if (n != 0) {
        fprintf(stderr, "line %d: %d file(s) left in %s\n", line, n, tmpdir);
        exit(1);
    }
}
#define EXPECT_EMPTY_TMP() expect_empty_tmp(__LINE__)

static void test_fields_and_files(void)
{
    char args[1024], want[512];
    snprintf(args, sizeof args,
             "-F field=value -F 'note=h\xc3\xa9llo, world' -F 'small=@%s;type=text/plain' "
             "-F 'big=@%s' -F 'empty='",
             small, mib);
    char *out = curl(args, "/upload");
    CHECK_CONTAINS(out, "form.field=value\n");
    CHECK_CONTAINS(out, "form.note=h\xc3\xa9llo, world\n");
    CHECK_CONTAINS(out, "form.empty=\n");
    snprintf(want, sizeof want,
             "file.small filename=small.txt type=text/plain size=1000 sum=%016llx mode=600 "
             "tmp=%s/eddy-upload-",
             (unsigned long long)sum_small, tmpdir);
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want,
             "file.big filename=one_mib.bin type=application/octet-stream size=1048576 "
             "sum=%016llx mode=600 tmp=%s/eddy-upload-",
             (unsigned long long)sum_mib, tmpdir);
    CHECK_CONTAINS(out, want);
    CHECK_CONTAINS(out, "files=2\n");
    free(out);
    /* Removed before the answer left: nothing is there once curl has it. */
    EXPECT_EMPTY_TMP();
    /* The same file twice, under one field name, on a kept-alive connection. */
    snprintf(args, sizeof args, "-F 'a=@%s' -F 'a=@%s;filename=second.txt' -o %s/out1", small,
             small, work);
    char path[256];
    snprintf(path, sizeof path, "/upload' 'http://127.0.0.1:%d/upload", app.port);
    out = curl(args, path);
    free(out);
    snprintf(path, sizeof path, "%s/out1", work);
    size_t len;
    char *got = test_read_file(path, &len);
    CHECK(got);
    CHECK_CONTAINS(got, "file.a filename=second.txt");
    CHECK_CONTAINS(got, "files=2\n");
    free(got);
    EXPECT_EMPTY_TMP();
}

static void test_too_big(void)
{
    uint64_t calls = http_app_calls(&app);
    char args[512];
    snprintf(args, sizeof args, "-i -F x=1 -F 'f=@%s'", toobig);
    char *out = curl(args, "/upload");
    CHECK_CONTAINS(out, "HTTP/1.1 413 Content Too Large\r\n");
    free(out);
    EXPECT_EMPTY_TMP();
    /* A complete file first, then one too big: neither stays. */
    snprintf(args, sizeof args, "-i -F 'ok=@%s' -F 'f=@%s'", small, toobig);
    out = curl(args, "/upload");
    CHECK_CONTAINS(out, "HTTP/1.1 413 Content Too Large\r\n");
    free(out);
    EXPECT_EMPTY_TMP();
    CHECK_EQ(http_app_calls(&app), calls);
    /* At the limit exactly: accepted. */
    size_t len;
    char *p = test_read_file(toobig, &len);
    CHECK(p);
    char edge[160];
    snprintf(edge, sizeof edge, "%s/edge.bin", work);
    test_write_file(edge, p, MAX_FILESIZE);
    char want[128];
    snprintf(want, sizeof want, "size=%d sum=%016llx", MAX_FILESIZE,
             (unsigned long long)fnv1a(p, MAX_FILESIZE));
    free(p);
    snprintf(args, sizeof args, "-F 'f=@%s'", edge);
    out = curl(args, "/upload");
    CHECK_CONTAINS(out, want);
    free(out);
    EXPECT_EMPTY_TMP();
}

/* POST body (written to a file) with the given boundary; returns curl -i's output. */
static char *post_raw(const char *content_type, const char *data)
{
    test_write_file(body, data, strlen(data));
    char args[512];
    snprintf(args, sizeof args, "-i -H 'Content-Type: %s' --data-binary @%s", content_type, body);
    return curl(args, "/upload");
}

static void test_malformed(void)
{
    uint64_t calls = http_app_calls(&app);
    const char *ct = "multipart/form-data; boundary=XyZ";
    const char *bad[][2] = {
        {ct, "no delimiter at all"},
        /* A whole file part, then the body ends without the close delimiter. */
        {ct, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\n"
             "file bytes\r\n--XyZ\r\nContent-Disposition: form-data; name=\"g\"\r\n\r\nvalue"},
        /* A file part, then a part without Content-Disposition. */
        {ct, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\n"
             "file bytes\r\n--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--\r\n"},
        /* Bare LF line endings. */
        {ct, "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\nv\n--XyZ--\n"},
        /* Something after a delimiter. */
        {ct, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZjunk\r\n"},
        {"multipart/form-data", "--XyZ--\r\n"},                       /* no boundary */
        {"multipart/form-data; boundary=\"\"", "--\r\n"},             /* empty boundary */
        {"multipart/form-data; boundary=a; boundary=b", "--a--\r\n"}, /* two */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = post_raw(bad[i][0], bad[i][1]);
        if (!strstr(out, "HTTP/1.1 400 Bad Request\r\n")) {
            fprintf(stderr, "body %zu: not 400:\n%s\n", i, out);
            exit(1);
        }
        free(out);
        EXPECT_EMPTY_TMP();
    }
    CHECK_EQ(http_app_calls(&app), calls);
    /* Not form-data: the handler gets the body as it is. */
    char *out = post_raw("multipart/mixed; boundary=XyZ", "--XyZ--\r\n");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "files=0\n");
    free(out);
    CHECK_EQ(http_app_calls(&app), calls + 1);
}

static void test_odd_parts(void)
{
    /* An empty file input (filename "" and no bytes) is no file; a client's
     * filename is only reported, never used as a path; a body with no parts,
     * and no body. */
    char *out = post_raw(
        "multipart/form-data; boundary=\"b o\"",
        "preamble\r\n--b o\r\nContent-Disposition: form-data; name=\"nothing\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n\r\n"
        "--b o\r\nContent-Disposition: form-data; name=\"evil\"; filename=\"../../etc/x\"\r\n\r\n"
        "evil bytes\r\n"
        "--b o\r\nContent-Disposition: form-data; name=\"utf\"; "
        "filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n"
        "\r\n\xc3\xa9\r\n"
        "--b o\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nline 1\r\nline 2\r\n"
        "--b o--\r\nepilogue");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "form.text=line 1\r\nline 2\n");
    CHECK_CONTAINS(out, "file.evil filename=../../etc/x type=(none) size=10 ");
    char want[256];
    snprintf(want, sizeof want, "tmp=%s/eddy-upload-", tmpdir);
    CHECK_CONTAINS(out, want);
    CHECK_CONTAINS(out, "file.utf filename=\xc3\xa9t\xc3\xa9.txt type=(none) size=2 ");
    CHECK_CONTAINS(out, "files=2\n");
    free(out);
    out = post_raw("multipart/form-data; boundary=XyZ", "--XyZ--\r\n");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "files=0\n");
    free(out);
    /* No body at all: no form, and no error either — also when the empty
     * body comes chunked (streamed: its last chunk alone). */
    out = post_raw("multipart/form-data; boundary=XyZ", "");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "files=0\n");
    free(out);
    out = post_raw("multipart/form-data; boundary=XyZ' -H 'Transfer-Encoding: chunked", "");
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "files=0\n");
    free(out);
    EXPECT_EMPTY_TMP();
}

static void test_move(void)
{
    char args[512], path[256];
    snprintf(args, sizeof args, "-F 'f=@%s' -F 'g=@%s'", mib, small);
    snprintf(path, sizeof path, "/upload-keep?dest=%s", keep);
    char *out = curl(args, path);
    CHECK_STR(out, "move=0\n");
    free(out);
    size_t len;
    char *got = test_read_file(keep, &len);
    CHECK(got);
    CHECK_EQ(len, 1024 * 1024);
    CHECK_EQ(fnv1a(got, len), sum_mib);
    free(got);
    EXPECT_EMPTY_TMP(); /* g was not kept */
    /* A move that fails leaves the file to eddy, which removes it. */
    snprintf(path, sizeof path, "/upload-keep?dest=%s/no/such/dir", work);
    out = curl(args, path);
    char want[32];
    snprintf(want, sizeof want, "move=%d\n", -ENOENT);
    CHECK_STR(out, want);
    free(out);
    EXPECT_EMPTY_TMP();
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Files of a connection that closes go once it has closed: wait up to 3 s. */
static void wait_empty_tmp(void)
{
    long deadline = now_ms() + 3000;
    while (tmp_count() != 0 && now_ms() < deadline)
        usleep(10000);
}

/* A chunked form (streamed, decoded on the way): fields and files arrive
 * intact; a file over upload_max_filesize is 413; a chunk size that goes
 * wrong in the middle of the body is 400, the handler not called and
 * nothing left behind. */
static void test_chunked(void)
{
    uint64_t calls = http_app_calls(&app);
    char args[1024], want[512];
    snprintf(args, sizeof args,
             "-H 'Transfer-Encoding: chunked' -F field=value -F 'small=@%s' -F 'big=@%s'", small,
             mib);
    char *out = curl(args, "/upload");
    CHECK_CONTAINS(out, "form.field=value\n");
    snprintf(want, sizeof want,
             "file.small filename=small.txt type=text/plain size=1000 sum=%016llx",
             (unsigned long long)sum_small);
    CHECK_CONTAINS(out, want);
    snprintf(want, sizeof want, "size=1048576 sum=%016llx", (unsigned long long)sum_mib);
    CHECK_CONTAINS(out, want);
    CHECK_CONTAINS(out, "files=2\n");
    free(out);
    EXPECT_EMPTY_TMP();
    snprintf(args, sizeof args, "-i -H 'Transfer-Encoding: chunked' -F x=1 -F 'f=@%s'", toobig);
    out = curl(args, "/upload");
    CHECK_CONTAINS(out, "HTTP/1.1 413 Content Too Large\r\n");
    free(out);
    EXPECT_EMPTY_TMP();
    CHECK_EQ(http_app_calls(&app), calls + 1);
    /* By hand: a file's first chunk, then a size that is no number. */
    static const char req[] =
        "POST /upload HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4f\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\n"
        "file bytes\r\n"
        "zz\r\nmore\r\n0\r\n\r\n";
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, req);
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 400);
    http_reply_free(&r);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
    wait_empty_tmp();
    EXPECT_EMPTY_TMP();
    CHECK_EQ(http_app_calls(&app), calls + 1);
}

/* A chunked form's body reaches the multipart parser byte for byte
 * however it is read: sent one byte at a time (each read mostly a piece of
 * its own) and all in one write, the file comes out the same. Chunks
 * of many sizes, with extensions and a trailer; the file holds CR, LF and
 * "--" and near-delimiters, split across chunks. */
static void test_chunked_pieces(void)
{
    enum { FILE_LEN = 3000 };
    char *file = random_bytes(FILE_LEN, 5);
    memcpy(file + 100, "\r\n--Xy\r\n--XyW", 14); /* almost delimiters */
    char form[FILE_LEN + 512];
    int n = snprintf(form, sizeof form,
                     "--XyZ\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\ntext\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"p.bin\"\r\n"
                     "\r\n");
    memcpy(form + n, file, FILE_LEN);
    n += FILE_LEN;
    n += snprintf(form + n, sizeof form - (size_t)n, "\r\n--XyZ--\r\n");
    static char req[2 * FILE_LEN + 4096];
    int o = snprintf(req, sizeof req,
                     "POST /upload HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: multipart/form-data; boundary=XyZ\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0, k = 0; i < n; k++) {
        int len = 1 + (k * 53) % 400;
        if (len > n - i) len = n - i;
        o += snprintf(req + o, sizeof req - (size_t)o, k % 2 ? "%x\r\n" : "%X;k=\"v\"\r\n", len);
        memcpy(req + o, form + i, (size_t)len);
        o += len;
        o += snprintf(req + o, sizeof req - (size_t)o, "\r\n");
        i += len;
    }
    o += snprintf(req + o, sizeof req - (size_t)o, "0\r\nX-Trailer: 1\r\n\r\n");
    char want[128];
    snprintf(want, sizeof want, "file.f filename=p.bin type=(none) size=%d sum=%016llx", FILE_LEN,
             (unsigned long long)fnv1a(file, FILE_LEN));
    free(file);
    for (int bytewise = 1; bytewise >= 0; bytewise--) {
        http_client_t c;
        http_client_open(&c, app.port);
        if (bytewise) {
            int one = 1;
            setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (int i = 0; i < o; i++) {
                http_client_send(&c, req + i, 1);
                usleep(50);
            }
        } else {
            http_client_send(&c, req, (size_t)o);
        }
        http_reply_t r;
        CHECK_EQ(http_client_read(&c, &r, false), 0);
        CHECK_EQ(r.status, 200);
        CHECK(strstr(r.body, "form.t=text\n") != NULL);
        CHECK(strstr(r.body, want) != NULL);
        http_reply_free(&r);
        http_client_close(&c);
        EXPECT_EMPTY_TMP();
    }
}

/* The client leaves while the response is retained: the files go when the
 * late answer fails. */
static void test_dropped(void)
{
    const char *part = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
                       "\r\nheld file\r\n--XyZ--\r\n";
    char head[256];
    snprintf(head, sizeof head,
             "POST /upload-hold/x?ms=400 HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %zu\r\n\r\n",
             strlen(part));
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, head);
    http_client_sends(&c, part);
    /* The upload file, not the spool that precedes it in PROCESS mode: the
     * directory is empty for a moment between the two. */
    long deadline = now_ms() + 3000;
    while (tmp_count_of("eddy-upload-") == 0 && now_ms() < deadline)
        usleep(5000);
    CHECK_EQ(tmp_count(), 1); /* the handler holds it */
    http_client_close(&c);
    deadline = now_ms() + 3000;
    while (tmp_count() != 0 && now_ms() < deadline)
        usleep(10000);
    EXPECT_EMPTY_TMP();
    /* Held and answered: gone with the answer. */
    char args[256];
    snprintf(args, sizeof args, "-F 'f=@%s'", small);
    char *out = curl(args, "/upload-hold/y?ms=50");
    CHECK_STR(out, "late /upload-hold/y");
    free(out);
    EXPECT_EMPTY_TMP();
}

static long stats_peak_kib(http_app_t *a)
{
    char *out = http_app_curl(a, 20, "", "/stats");
    const char *p = strstr(out, "peak_kib=");
    CHECK(p);
    long kib = strtol(p + 9, NULL, 10);
    free(out);
    return kib;
}

/* Peak resident memory (VmHWM) of a process of the test's, in KiB. */
static long peak_kib_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    char *status = test_read_file(path, NULL);
    CHECK(status);
    const char *p = strstr(status, "VmHWM:");
    CHECK(p);
    long kib = strtol(p + 6, NULL, 10);
    free(status);
    return kib;
}

/* A multipart body is never whole in memory (BASE: parsed as it arrives;
 * PROCESS: spooled to upload_tmp_dir by the reactor, then parsed by the
 * worker): a 24 MiB file passes a server whose package_max_length is 1 MiB,
 * and neither the worker's nor the master's peak memory grows by more than
 * a fraction of the file. Before bodies were streamed the framing buffered
 * the request whole: 413 — and with package_max_length raised, a peak
 * grown by the whole body. A body over upload_max_body is 413 from its
 * head, and so are plain fields over package_max_length. */
static void streamed(const char *te)
{
    enum { BIG = 24 << 20 };
    char big[160];
    snprintf(big, sizeof big, "%s/big.bin", work);
    char *p = random_bytes(BIG, 7);
    test_write_file(big, p, BIG);
    char want[128];
    snprintf(want, sizeof want, "size=%d sum=%016llx", BIG, (unsigned long long)fnv1a(p, BIG));
    free(p);
    http_app_t a;
    const char *options[] = {"upload_tmp_dir",
                             tmpdir,
                             "upload_max_filesize",
                             "33554432",
                             "upload_max_body",
                             "26214400",
                             "package_max_length",
                             "1048576",
                             NULL};
    http_app_start(&a, options);
    long before = stats_peak_kib(&a), master_before = peak_kib_of(a.pid);
    char args[512];
    snprintf(args, sizeof args, "-i %s -F x=1 -F 'f=@%s'", te, big);
    char *out = http_app_curl(&a, 60, args, "/upload");
    long grown = stats_peak_kib(&a) - before, master_grown = peak_kib_of(a.pid) - master_before;
    CHECK_CONTAINS(out, "HTTP/1.1 200 OK\r\n");
    CHECK_CONTAINS(out, "form.x=1\n");
    CHECK_CONTAINS(out, want);
    printf("streamed upload%s: %d MiB file; peak grew by %ld KiB in the worker, %ld KiB in the "
           "master\n",
           te[0] ? " (chunked)" : "", BIG >> 20, grown, master_grown);
    CHECK(grown < 8 * 1024);
    CHECK(master_grown < 8 * 1024);
    free(out);
    EXPECT_EMPTY_TMP();
    /* Two of them: 48 MiB, over upload_max_body. */
    snprintf(args, sizeof args, "-i %s -F 'f=@%s' -F 'g=@%s'", te, big, big);
    out = http_app_curl(&a, 60, args, "/upload");
    CHECK_CONTAINS(out, "HTTP/1.1 413 Content Too Large\r\n");
    free(out);
    /* A chunked body is refused only when its data passes the limit, the
     * first file written: it goes when the connection has closed. */
    wait_empty_tmp();
    EXPECT_EMPTY_TMP();
    /* A plain field of 1.5 MiB: fields are held in memory, within
     * package_max_length. */
    snprintf(args, sizeof args, "-i %s -F 'x=<%s'", te, toobig);
    out = http_app_curl(&a, 60, args, "/upload");
    CHECK_CONTAINS(out, "HTTP/1.1 413 Content Too Large\r\n");
    free(out);
    EXPECT_EMPTY_TMP();
    http_app_stop(&a);
    unlink(big);
}

static void test_streamed(void)
{
    streamed("");
}

/* The same with the body chunked (curl sends a form chunked when asked
 * to): streamed as well, and bounded by upload_max_body in decoded bytes.
 * Before chunked bodies were streamed: 413 over package_max_length. */
static void test_streamed_chunked(void)
{
    streamed("-H 'Transfer-Encoding: chunked'");
}

/* The client leaves in the middle of its upload: what was written of the
 * body (BASE: the file part; PROCESS: the reactor's spool) is removed. */
static void test_abandoned(void)
{
    enum { CLAIMED = 4 << 20, SENT = 256 << 10 };
    char head[512];
    snprintf(head, sizeof head,
             "POST /upload HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %d\r\n\r\n"
             "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n",
             CLAIMED);
    uint64_t calls = http_app_calls(&app);
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, head);
    char *bytes = random_bytes(SENT, 3);
    http_client_send(&c, bytes, SENT);
    free(bytes);
    long deadline = now_ms() + 3000;
    while (tmp_count() == 0 && now_ms() < deadline)
        usleep(5000);
    CHECK_EQ(tmp_count(), 1); /* the body is on its way to disk */
    http_client_close(&c);
    deadline = now_ms() + 3000;
    while (tmp_count() != 0 && now_ms() < deadline)
        usleep(10000);
    EXPECT_EMPTY_TMP();
    CHECK_EQ(http_app_calls(&app), calls);
}

/* Open a connection to port and send, in one write, the request before,
 * a POST to path of a small upload (a.txt holding file_text), and after. */
static void send_around_upload(http_client_t *c, int port, const char *before, const char *path,
                               const char *file_text, const char *after)
{
    char part[256], all[1024];
    int part_len = snprintf(part, sizeof part,
                            "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; "
                            "filename=\"a.txt\"\r\n\r\n%s\r\n--XyZ--\r\n",
                            file_text);
    int n = snprintf(all, sizeof all,
                     "%sPOST %s HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %d\r\n"
                     "\r\n%s%s",
                     before, path, part_len, part, after);
    CHECK(n > 0 && (size_t)n < sizeof all);
    http_client_open(c, port);
    http_client_send(c, all, (size_t)n);
}

static void pipelined_upload(const char *path)
{
    static const char get[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    http_client_t c;
    send_around_upload(&c, app.port, get, path, "pipelined file", get);
    for (int i = 0; i < 3; i++) {
        http_reply_t r;
        CHECK_EQ(http_client_read(&c, &r, false), 0);
        CHECK_EQ(r.status, 200);
        if (i != 1)
            CHECK_STR(r.body, "Hello, World!");
        else if (strcmp(path, "/upload") == 0)
            CHECK(strstr(r.body, "file.f filename=a.txt type=(none) size=14 ") != NULL);
        else
            CHECK_STR(r.body, "late /upload-hold/p");
        http_reply_free(&r);
    }
    http_client_close(&c);
    EXPECT_EMPTY_TMP();
}

/* An upload pipelined between two requests, all in one write: three
 * answers, in order, the upload's with its file (its body is streamed, the
 * requests around it are whole) — also when the upload's handler answers
 * later, from a timer, and the request behind it must wait. */
static void test_pipelined_upload(void)
{
    for (int held = 0; held < 2; held++)
        pipelined_upload(held ? "/upload-hold/p?ms=100" : "/upload");
}

/* A reload while a body is arriving loses nothing: in BASE mode the old
 * worker keeps the connection until it has answered; in PROCESS mode the
 * reactor goes on spooling and the successor gets the whole request. */
static void test_reload_mid_upload(void)
{
    enum { FILE_LEN = 512 << 10, FIRST = 64 << 10 };
    static const char open_part[] =
        "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n";
    static const char close_part[] = "\r\n--XyZ--\r\n";
    char *bytes = random_bytes(FILE_LEN, 11);
    char want[128];
    snprintf(want, sizeof want, "size=%d sum=%016llx", FILE_LEN,
             (unsigned long long)fnv1a(bytes, FILE_LEN));
    char head[256];
    snprintf(head, sizeof head,
             "POST /upload HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %zu\r\n\r\n",
             sizeof open_part - 1 + FILE_LEN + sizeof close_part - 1);
    http_client_t c;
    http_client_open(&c, app.port);
    http_client_sends(&c, head);
    http_client_sends(&c, open_part);
    http_client_send(&c, bytes, FIRST);
    usleep(50000);
    CHECK_EQ(kill(app.pid, SIGUSR1), 0);
    usleep(300000); /* the successor is up, the old worker leaving */
    http_client_send(&c, bytes + FIRST, FILE_LEN - FIRST);
    http_client_sends(&c, close_part);
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    CHECK(strstr(r.body, want) != NULL);
    http_reply_free(&r);
    http_client_close(&c);
    free(bytes);
    EXPECT_EMPTY_TMP();
}

/* An upload that fails behind a request still being answered: that
 * answer first, whole, then the 500 and a clean close. (PROCESS mode once
 * closed at once when the spool failed, cutting the earlier answer off:
 * this test then read EOF where the 200 should be.) */
static void upload_fails_behind_late_answer(const http_app_t *a)
{
    http_client_t c;
    send_around_upload(&c, a->port, "GET /late/first?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n", "/upload",
                       "lost file", "");
    http_reply_t r;
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "late /late/first");
    http_reply_free(&r);
    CHECK_EQ(http_client_read(&c, &r, false), 0);
    CHECK_EQ(r.status, 500);
    http_reply_free(&r);
    CHECK_EQ(http_client_wait_close(&c, NULL), 0);
    http_client_close(&c);
}

/* The upload directory is gone (or the disk full): 500 and a close, in
 * both modes (PROCESS: the reactor cannot spool the body; BASE: the upload
 * sink cannot create the file), after the answers to the requests before
 * it, and the server serves on. */
static void test_no_tmp_dir(void)
{
    char dir[160];
    snprintf(dir, sizeof dir, "%s/gone", work);
    CHECK_EQ(mkdir(dir, 0700), 0);
    http_app_t a;
    const char *options[] = {"upload_tmp_dir", dir, NULL};
    http_app_start(&a, options);
    CHECK_EQ(rmdir(dir), 0);
    char args[512];
    snprintf(args, sizeof args, "-i -F 'f=@%s'", small);
    char *out = http_app_curl(&a, 20, args, "/upload");
    CHECK_CONTAINS(out, "HTTP/1.1 500 Internal Server Error\r\n");
    free(out);
    upload_fails_behind_late_answer(&a);
    out = http_app_curl(&a, 20, "", "/hello");
    CHECK_STR(out, "Hello, World!");
    free(out);
    http_app_stop(&a);
}

int main(void)
{
    owner = getpid();
    make_files();
    atexit(remove_files); /* a failed CHECK exits: leave nothing in /tmp */
    char max[32];
    snprintf(max, sizeof max, "%d", MAX_FILESIZE);
    const char *options[] = {
        "upload_tmp_dir", tmpdir, "upload_max_filesize", max, "package_max_length",
        "8388608",        NULL};
    http_app_start(&app, options);
    RUN(test_fields_and_files);
    RUN(test_too_big);
    RUN(test_malformed);
    RUN(test_odd_parts);
    RUN(test_move);
    RUN(test_dropped);
    RUN(test_chunked);
    RUN(test_chunked_pieces);
    RUN(test_abandoned);
    RUN(test_pipelined_upload);
    RUN(test_reload_mid_upload);
    http_app_stop(&app);
    RUN(test_streamed);
    RUN(test_streamed_chunked);
    RUN(test_no_tmp_dir);
    remove_files();
    return 0;
}
