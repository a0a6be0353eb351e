/* The upload sink: temp files in upload_tmp_dir (0600, close-on-exec,
 * unique), exact content, upload_max_filesize at its edge with the partial
 * file removed, write errors (RLIMIT_FSIZE) with the file removed, finish /
 * move / discard in every order, bad options; and a multipart body streamed
 * into sinks the way the HTTP server does it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eddy/error.h"
#include "eddy/http_upload.h"
#include "eddy/multipart.h"
#include "test.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/eddy-upload-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

/* Files left in dir. */
static int count_files(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    int n = -1;
    CHECK(fscanf(f, "%d", &n) == 1);
    pclose(f);
    return n;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, cap);
    CHECK(n >= 0);
    close(fd);
    return (size_t)n;
}

static eddy_upload_options_t opts(uint64_t max)
{
    eddy_upload_options_t o;
    eddy_upload_options_init(&o);
    o.upload_tmp_dir = dir;
    o.upload_max_filesize = max;
    return o;
}

static void test_defaults(void)
{
    eddy_upload_options_t o;
    eddy_upload_options_init(&o);
    CHECK_STR(o.upload_tmp_dir, "/tmp");
    CHECK_EQ(o.upload_max_filesize, 2 * 1024 * 1024);
    /* NULL options: /tmp, 2 MiB. */
    eddy_upload_t u;
    CHECK_EQ(eddy_upload_open(&u, NULL), 0);
    CHECK(strncmp(u.path, "/tmp/eddy-upload-", 17) == 0);
    CHECK_EQ(u.max_size, 2 * 1024 * 1024);
    CHECK(exists(u.path));
    char path[EDDY_UPLOAD_PATH_MAX];
    strcpy(path, u.path);
    eddy_upload_discard(&u);
    CHECK(!exists(path));
}

static void test_write_finish(void)
{
    eddy_upload_options_t o = opts(1000);
    eddy_upload_t u;
    CHECK_EQ(eddy_upload_open(&u, &o), 0);
    CHECK(strncmp(u.path, dir, strlen(dir)) == 0);
    CHECK(strncmp(u.path + strlen(dir), "/eddy-upload-", 13) == 0);
    CHECK(u.fd >= 0 && u.size == 0);
    struct stat sb;
    CHECK(fstat(u.fd, &sb) == 0);
    CHECK(S_ISREG(sb.st_mode));
    CHECK_EQ(sb.st_mode & 0777, 0600);
    CHECK(fcntl(u.fd, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(eddy_upload_write(&u, "hello, ", 7), 0);
    CHECK_EQ(eddy_upload_write(&u, "", 0), 0);
    CHECK_EQ(eddy_upload_write(&u, "world\0!", 7), 0);
    CHECK_EQ(u.size, 14);
    CHECK_EQ(eddy_upload_finish(&u), 0);
    CHECK_EQ(u.fd, -1);
    char buf[64];
    CHECK_EQ(read_file(u.path, buf, sizeof buf), 14);
    CHECK(memcmp(buf, "hello, world\0!", 14) == 0);
    /* Not open any more. */
    CHECK_EQ(eddy_upload_write(&u, "x", 1), -EDDY_ESTATE);
    CHECK_EQ(eddy_upload_finish(&u), -EDDY_ESTATE);
    CHECK(exists(u.path)); /* a failed call on a finished sink keeps the file */
    eddy_upload_discard(&u);
    CHECK_EQ(u.path[0], '\0');
    eddy_upload_discard(&u); /* twice is fine */
    CHECK_EQ(count_files(), 0);
    /* Two sinks never share a file. */
    eddy_upload_t a, b;
    CHECK_EQ(eddy_upload_open(&a, &o), 0);
    CHECK_EQ(eddy_upload_open(&b, &o), 0);
    CHECK(strcmp(a.path, b.path) != 0);
    CHECK_EQ(count_files(), 2);
    eddy_upload_discard(&a); /* while still open */
    eddy_upload_discard(&b);
    CHECK_EQ(count_files(), 0);
    /* A sink that was never opened. */
    eddy_upload_init(&a);
    eddy_upload_discard(&a);
    CHECK_EQ(eddy_upload_write(&a, "x", 1), -EDDY_ESTATE);
}

static void test_limit(void)
{
    eddy_upload_options_t o = opts(10);
    eddy_upload_t u;
    /* Exactly the limit is fine. */
    CHECK_EQ(eddy_upload_open(&u, &o), 0);
    CHECK_EQ(eddy_upload_write(&u, "0123456789", 10), 0);
    CHECK_EQ(eddy_upload_write(&u, "", 0), 0);
    /* One byte more: refused, and the partial file is gone. */
    char path[EDDY_UPLOAD_PATH_MAX];
    strcpy(path, u.path);
    CHECK_EQ(eddy_upload_write(&u, "x", 1), -EDDY_EUPLOAD_TOO_BIG);
    CHECK(!exists(path));
    CHECK_EQ(u.fd, -1);
    CHECK_EQ(u.path[0], '\0');
    CHECK_EQ(u.size, 0);
    CHECK_EQ(eddy_upload_write(&u, "x", 1), -EDDY_ESTATE);
    CHECK_EQ(eddy_upload_finish(&u), -EDDY_ESTATE);
    CHECK_EQ(count_files(), 0);
    /* A write that would cross it is refused as a whole. */
    CHECK_EQ(eddy_upload_open(&u, &o), 0);
    CHECK_EQ(eddy_upload_write(&u, "0123", 4), 0);
    CHECK_EQ(eddy_upload_write(&u, "4567890", 7), -EDDY_EUPLOAD_TOO_BIG);
    CHECK_EQ(count_files(), 0);
    /* No limit. */
    o.upload_max_filesize = UINT64_MAX;
    CHECK_EQ(eddy_upload_open(&u, &o), 0);
    char big[65536];
    memset(big, 'z', sizeof big);
    for (int i = 0; i < 64; i++)
        CHECK_EQ(eddy_upload_write(&u, big, sizeof big), 0);
    CHECK_EQ(u.size, 64 * 65536);
    CHECK_EQ(eddy_upload_finish(&u), 0);
    struct stat sb;
    CHECK(stat(u.path, &sb) == 0 && sb.st_size == 64 * 65536);
    eddy_upload_discard(&u);
    CHECK_EQ(count_files(), 0);
}

/* A write error (the file size limit of the process: EFBIG after a short
 * write) removes the file. In a child, so the limit stays there. */
static void test_write_error(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = 4096;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(2);
        eddy_upload_options_t o = opts(UINT64_MAX);
        eddy_upload_t u;
        if (eddy_upload_open(&u, &o) != 0) _exit(3);
        char path[EDDY_UPLOAD_PATH_MAX];
        strcpy(path, u.path);
        char buf[3000] = {0};
        if (eddy_upload_write(&u, buf, sizeof buf) != 0) _exit(4);
        if (eddy_upload_write(&u, buf, sizeof buf) != -EFBIG)
            _exit(5); /* 1096 written, then EFBIG */
        if (exists(path) || u.fd != -1 || u.path[0]) _exit(6);
        _exit(0);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(count_files(), 0);
}

static void test_move(void)
{
    eddy_upload_options_t o = opts(100);
    eddy_upload_t u;
    char dest[128];
    snprintf(dest, sizeof dest, "%s/kept.txt", dir);
    CHECK_EQ(eddy_upload_open(&u, &o), 0);
    CHECK_EQ(eddy_upload_write(&u, "abc", 3), 0);
    CHECK_EQ(eddy_upload_move(&u, dest), -EDDY_ESTATE); /* not finished */
    CHECK_EQ(eddy_upload_finish(&u), 0);
    CHECK_EQ(eddy_upload_move(&u, ""), -EINVAL);
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/missing/x", dir);
    CHECK_EQ(eddy_upload_move(&u, nodir), -ENOENT);
    CHECK(exists(u.path)); /* still ours */
    CHECK_EQ(eddy_upload_move(&u, dest), 0);
    CHECK_EQ(u.path[0], '\0');
    CHECK_EQ(eddy_upload_move(&u, dest), -EDDY_ESTATE);
    eddy_upload_discard(&u); /* nothing to remove: the file is the application's */
    char buf[8];
    CHECK_EQ(read_file(dest, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK(unlink(dest) == 0);
    CHECK_EQ(count_files(), 0);
}

static void test_bad_options(void)
{
    eddy_upload_t u;
    eddy_upload_options_t o = opts(10);
    o.upload_tmp_dir = "";
    CHECK_EQ(eddy_upload_open(&u, &o), -EDDY_EOPTION);
    CHECK(u.fd == -1 && u.path[0] == '\0');
    o.upload_tmp_dir = NULL;
    CHECK_EQ(eddy_upload_open(&u, &o), -EDDY_EOPTION);
    o = opts(0);
    CHECK_EQ(eddy_upload_open(&u, &o), -EDDY_EOPTION);
    o = opts(10);
    o.upload_tmp_dir = "/nonexistent-eddy-dir";
    CHECK_EQ(eddy_upload_open(&u, &o), -ENOENT);
    CHECK(u.fd == -1 && u.path[0] == '\0');
    eddy_upload_discard(&u);
    char *longdir = malloc(5000);
    CHECK(longdir != NULL);
    memset(longdir, 'd', 4999);
    longdir[0] = '/';
    longdir[4999] = '\0';
    o.upload_tmp_dir = longdir;
    CHECK_EQ(eddy_upload_open(&u, &o), -ENAMETOOLONG);
    free(longdir);
    /* A trailing slash names the same directory. */
    char slash[80];
    snprintf(slash, sizeof slash, "%s//", dir);
    o.upload_tmp_dir = slash;
    CHECK_EQ(eddy_upload_open(&u, &o), 0);
    CHECK(strncmp(u.path + strlen(dir), "/eddy-upload-", 13) == 0);
    eddy_upload_discard(&u);
    CHECK_EQ(count_files(), 0);
}

/* What the server does: parse a body, stream every file part into a sink,
 * keep field values in memory. One part is over the limit. */
static void test_multipart_to_files(void)
{
    static const char body[] =
        "--XX\r\n"
        "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
        "holiday\r\n"
        "--XX\r\n"
        "Content-Disposition: form-data; name=\"a\"; filename=\"a.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
        "\x00\x01\x02\r\n--X\r\n\xff\r\n"
        "--XX\r\n"
        "Content-Disposition: form-data; name=\"b\"; filename=\"b.txt\"\r\n\r\n"
        "this one is too large\r\n"
        "--XX--\r\n";
    eddy_upload_options_t o = opts(16);
    eddy_multipart_t *p;
    CHECK_EQ(eddy_multipart_new(&p, "XX", 2, NULL), 0);
    eddy_upload_t sink;
    eddy_upload_init(&sink);
    char kept[EDDY_UPLOAD_PATH_MAX] = "", field[64] = "";
    size_t field_len = 0;
    int too_big = 0;
    /* 7-byte reads, as a socket might deliver them. */
    for (size_t off = 0; off < sizeof body - 1; off += 7) {
        const char *buf = body + off;
        size_t left = sizeof body - 1 - off < 7 ? sizeof body - 1 - off : 7;
        for (;;) {
            eddy_multipart_event_t ev;
            ssize_t n = eddy_multipart_parse(p, buf, left, &ev);
            CHECK(n >= 0);
            buf += n, left -= (size_t)n;
            if (ev.type == EDDY_MULTIPART_NONE) break;
            bool file = ev.part && ev.part->filename.ptr;
            if (ev.type == EDDY_MULTIPART_PART_BEGIN && file)
                CHECK_EQ(eddy_upload_open(&sink, &o), 0);
            if (ev.type == EDDY_MULTIPART_PART_DATA && file && sink.fd >= 0) {
                int rc = eddy_upload_write(&sink, ev.data, ev.len);
                if (rc == -EDDY_EUPLOAD_TOO_BIG)
                    too_big++;
                else
                    CHECK_EQ(rc, 0);
            }
            if (ev.type == EDDY_MULTIPART_PART_DATA && !file) {
                CHECK(field_len + ev.len < sizeof field);
                memcpy(field + field_len, ev.data, ev.len);
                field_len += ev.len;
            }
            if (ev.type == EDDY_MULTIPART_PART_END && file && sink.fd >= 0) {
                CHECK_EQ(eddy_upload_finish(&sink), 0);
                strcpy(kept, sink.path);
                eddy_upload_init(&sink); /* the request keeps the path; see below */
            }
        }
    }
    CHECK_EQ(eddy_multipart_finish(p), 0);
    eddy_multipart_free(p);
    CHECK_EQ(field_len, 7);
    CHECK(memcmp(field, "holiday", 7) == 0);
    CHECK_EQ(too_big, 1);
    char buf[32];
    CHECK_EQ(read_file(kept, buf, sizeof buf), 11);
    CHECK(memcmp(buf, "\x00\x01\x02\r\n--X\r\n\xff", 11) == 0);
    CHECK_EQ(count_files(), 1); /* the refused one is already gone */
    CHECK(unlink(kept) == 0);
}

int main(void)
{
    make_dir();
    RUN(test_defaults);
    RUN(test_write_finish);
    RUN(test_limit);
    RUN(test_write_error);
    RUN(test_move);
    RUN(test_bad_options);
    RUN(test_multipart_to_files);
    CHECK(rmdir(dir) == 0);
    return 0;
}
