/*
 * Server options: the defaults, eddy_server_set for every server key and the
 * port keys it passes on, refused values and unknown keys that leave the
 * options untouched, copied strings, config files (comments, blank lines,
 * quotes, the offending line number, a missing file), eddy_server_listen
 * errors, eddy_server_start without ports, and every setter refused once the
 * server has started (the test process itself becomes the master for a
 * moment: on_start asks for the shutdown).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <eddy.h>

#include "server/server_internal.h"
#include "test.h"

static char tmpdir[] = "/tmp/eddy-server-options-XXXXXX";

static eddy_server_t *new_server(void)
{
    eddy_server_t *s;
    CHECK_EQ(eddy_server_new(NULL, NULL, NULL, &s), 0);
    return s;
}

static void set_ok(eddy_server_t *s, const char *key, const char *value)
{
    int rc = eddy_server_set(s, key, value);
    if (rc != 0) fprintf(stderr, "set(%s, \"%s\") = %s\n", key, value, eddy_err_name(rc));
    CHECK_EQ(rc, 0);
}

/* A refused setting leaves every option exactly as it was (the string
 * pointers included: nothing was reallocated). */
static void set_bad(eddy_server_t *s, const char *key, const char *value, int want)
{
    eddy_server_options_t before = s->opts;
    int rc = eddy_server_set(s, key, value);
    if (rc != want)
        fprintf(stderr, "set(%s, \"%s\") = %s, want %s\n", key ? key : "(null)",
                value ? value : "(null)", eddy_err_name(rc), eddy_err_name(want));
    CHECK_EQ(rc, want);
    CHECK(memcmp(&before, &s->opts, sizeof before) == 0);
}

static void test_defaults(void)
{
    eddy_server_options_t o;
    memset(&o, 0x5a, sizeof o);
    eddy_server_options_init(&o);
    CHECK_EQ(o.mode, EDDY_MODE_BASE);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_EQ(o.worker_num, cpus > 0 ? cpus : 1);
    CHECK_EQ(o.task_worker_num, 0);
    CHECK_EQ(o.max_request, 0);
    CHECK_EQ(o.max_request_grace, 0);
    CHECK_EQ(o.task_max_request, 0);
    CHECK_EQ(o.max_wait_time, 3);
    CHECK_EQ(o.dispatch_mode, EDDY_DISPATCH_FD);
    CHECK(o.reactor_num >= 1);
    CHECK_EQ(o.max_queued_bytes, 8u << 20);
    CHECK(!o.reload_async);
    CHECK(!o.daemonize);
    CHECK(o.pid_file == NULL && o.log_file == NULL && o.user == NULL && o.group == NULL);
    CHECK_EQ(o.log_level, eddy_log_get_level());
    eddy_port_options_t p;
    eddy_port_options_init(&p);
    CHECK(memcmp(&p, &o.port, sizeof p) == 0);

    /* eddy_server_new(NULL ...) starts from the same defaults. */
    eddy_server_t *s = new_server();
    CHECK(memcmp(&s->opts, &o, sizeof o) == 0);
    CHECK_EQ(eddy_server_worker_id(s), -1);
    eddy_server_free(s);
    eddy_server_free(NULL);
}

static void test_new_validates(void)
{
    eddy_server_options_t o;
    eddy_server_t *s = NULL;
    eddy_server_options_init(&o);
    o.worker_num = 0;
    CHECK_EQ(eddy_server_new(&o, NULL, NULL, &s), -EDDY_EOPTION);
    eddy_server_options_init(&o);
    o.task_worker_num = 4094; /* with worker_num, more than a session id can name */
    CHECK_EQ(eddy_server_new(&o, NULL, NULL, &s), -EDDY_EOPTION);
    eddy_server_options_init(&o);
    o.max_wait_time = 0;
    CHECK_EQ(eddy_server_new(&o, NULL, NULL, &s), -EDDY_EOPTION);
    eddy_server_options_init(&o);
    o.port.buffer_low_watermark = 100;
    o.port.buffer_high_watermark = 10;
    CHECK_EQ(eddy_server_new(&o, NULL, NULL, &s), -EDDY_EOPTION);
    CHECK(s == NULL);

    /* The caller's strings are copied, not kept. */
    char path[64];
    snprintf(path, sizeof path, "%s/a.pid", tmpdir);
    eddy_server_options_init(&o);
    o.pid_file = path;
    o.worker_num = 3;
    CHECK_EQ(eddy_server_new(&o, NULL, NULL, &s), 0);
    path[0] = 'X';
    CHECK(s->opts.pid_file != path);
    CHECK_EQ(s->opts.pid_file[0], '/');
    CHECK_EQ(s->opts.worker_num, 3);
    eddy_server_free(s);
}

static void test_numbers(void)
{
    eddy_server_t *s = new_server();
    set_ok(s, "worker_num", "4");
    CHECK_EQ(s->opts.worker_num, 4);
    set_ok(s, "worker_num", "1");
    set_ok(s, "worker_num", "4094");
    CHECK_EQ(s->opts.worker_num, 4094);
    set_bad(s, "worker_num", "0", -EDDY_EOPTION);
    set_bad(s, "worker_num", "4095", -EDDY_EOPTION);
    static const char *const junk[] = {"",   "-1", "+1",   " 4",  "4 ",
                                       "4x", "x",  "0x10", "1e3", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        set_bad(s, "worker_num", junk[i], -EDDY_EOPTION);

    /* Accepted by eddy_server_set; eddy_server_start refuses non-zero for now. */
    set_ok(s, "task_worker_num", "2");
    CHECK_EQ(s->opts.task_worker_num, 2);
    set_ok(s, "task_worker_num", "0");
    set_bad(s, "task_worker_num", "4095", -EDDY_EOPTION);

    const char *const u32[] = {"max_request", "max_request_grace", "task_max_request"};
    uint64_t *const fields[] = {&s->opts.max_request, &s->opts.max_request_grace,
                                &s->opts.task_max_request};
    for (int i = 0; i < 3; i++) {
        set_ok(s, u32[i], "0");
        CHECK_EQ(*fields[i], 0);
        set_ok(s, u32[i], "4294967295");
        CHECK_EQ(*fields[i], 4294967295u);
        set_ok(s, u32[i], "50");
        CHECK_EQ(*fields[i], 50);
        set_bad(s, u32[i], "4294967296", -EDDY_EOPTION);
        set_bad(s, u32[i], "-5", -EDDY_EOPTION);
        set_bad(s, u32[i], "ten", -EDDY_EOPTION);
    }

    set_ok(s, "max_wait_time", "1");
    CHECK_EQ(s->opts.max_wait_time, 1);
    set_ok(s, "max_wait_time", "86400");
    CHECK_EQ(s->opts.max_wait_time, 86400);
    set_bad(s, "max_wait_time", "0", -EDDY_EOPTION);
    set_bad(s, "max_wait_time", "86401", -EDDY_EOPTION);
    eddy_server_free(s);
}

static void test_mode_bools_levels(void)
{
    eddy_server_t *s = new_server();
    set_ok(s, "mode", "base");
    set_ok(s, "mode", "BASE");
    set_ok(s, "mode", "1");
    CHECK_EQ(s->opts.mode, EDDY_MODE_BASE);
    set_ok(s, "mode", "process");
    CHECK_EQ(s->opts.mode, EDDY_MODE_PROCESS);
    set_ok(s, "mode", "2");
    CHECK_EQ(s->opts.mode, EDDY_MODE_PROCESS);
    set_bad(s, "mode", "3", -EDDY_EOPTION);
    set_bad(s, "mode", "threads", -EDDY_EOPTION);
    set_bad(s, "mode", "", -EDDY_EOPTION);

    set_ok(s, "reactor_num", "4");
    CHECK_EQ(s->opts.reactor_num, 4);
    set_bad(s, "reactor_num", "0", -EDDY_EOPTION);
    set_bad(s, "reactor_num", "257", -EDDY_EOPTION);
    for (int m = 1; m <= 5; m++) {
        char v[4];
        snprintf(v, sizeof v, "%d", m);
        set_ok(s, "dispatch_mode", v);
        CHECK_EQ((int)s->opts.dispatch_mode, m);
    }
    set_bad(s, "dispatch_mode", "0", -EDDY_EOPTION);
    set_bad(s, "dispatch_mode", "6", -EDDY_EOPTION);
    set_ok(s, "max_queued_bytes", "1048576");
    CHECK_EQ(s->opts.max_queued_bytes, 1048576u);
    set_bad(s, "max_queued_bytes", "0", -EDDY_EOPTION);
    set_bad(s, "max_queued_bytes", "-1", -EDDY_EOPTION);

    static const char *const yes[] = {"1", "true", "on", "yes", "TRUE", "Yes"};
    static const char *const no[] = {"0", "false", "off", "no", "OFF"};
    bool *const flags[] = {&s->opts.reload_async, &s->opts.daemonize};
    const char *const names[] = {"reload_async", "daemonize"};
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            *flags[f] = false;
            set_ok(s, names[f], yes[i]);
            CHECK(*flags[f]);
        }
        for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
            *flags[f] = true;
            set_ok(s, names[f], no[i]);
            CHECK(!*flags[f]);
        }
        set_bad(s, names[f], "maybe", -EDDY_EOPTION);
        set_bad(s, names[f], "", -EDDY_EOPTION);
        set_bad(s, names[f], "2", -EDDY_EOPTION);
    }

    set_ok(s, "log_level", "debug");
    CHECK_EQ(s->opts.log_level, EDDY_LOG_DEBUG);
    set_ok(s, "log_level", "WARN");
    CHECK_EQ(s->opts.log_level, EDDY_LOG_WARN);
    set_ok(s, "log_level", "off");
    CHECK_EQ(s->opts.log_level, EDDY_LOG_OFF);
    set_bad(s, "log_level", "loud", -EDDY_EOPTION);
    set_bad(s, "log_level", "", -EDDY_EOPTION);
    eddy_server_free(s);
}

static void test_strings(void)
{
    eddy_server_t *s = new_server();
    const char *const keys[] = {"pid_file", "log_file", "user", "group"};
    const char **const fields[] = {&s->opts.pid_file, &s->opts.log_file, &s->opts.user,
                                   &s->opts.group};
    for (int i = 0; i < 4; i++) {
        char value[32];
        snprintf(value, sizeof value, "first-%d", i);
        set_ok(s, keys[i], value);
        CHECK(*fields[i] != value);
        memset(value, 'X', sizeof value - 1); /* the server kept a copy */
        CHECK_STR(*fields[i], i == 0   ? "first-0"
                              : i == 1 ? "first-1"
                              : i == 2 ? "first-2"
                                       : "first-3");
        set_ok(s, keys[i], "second"); /* the first copy is freed (ASan: no leak) */
        CHECK_STR(*fields[i], "second");
        set_bad(s, keys[i], "", -EDDY_EOPTION);
        CHECK_STR(*fields[i], "second");
    }
    eddy_server_free(s);
}

static void test_port_keys(void)
{
    eddy_server_t *s = new_server();
    const eddy_port_options_t *p = &s->opts.port;
    const char *const pairs[][2] = {
        {"backlog", "128"},
        {"enable_reuse_port", "1"},
        {"tcp_defer_accept", "5"},
        {"tcp_fastopen", "16"},
        {"ipv6_only", "yes"},
        {"max_connection", "1000"},
        {"open_tcp_nodelay", "0"},
        {"open_tcp_keepalive", "1"},
        {"tcp_keepidle", "30"},
        {"tcp_keepinterval", "5"},
        {"tcp_keepcount", "4"},
        {"socket_buffer_size", "1048576"},
        {"buffer_high_watermark", "524288"},
        {"buffer_low_watermark", "1024"},
        {"heartbeat_idle_time", "60"},
        {"heartbeat_check_interval", "10"},
        {"linger_timeout", "500"},
        {"linger_max_bytes", "4096"},
        {"close_flush_timeout", "2000"},
        {"half_close", "on"},
        {"connect_timeout", "1500"},
        {"open_eof_split", "1"},
        {"package_eof", "\\r\\n"},
        {"package_max_length", "65536"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        set_ok(s, pairs[i][0], pairs[i][1]);
    CHECK_EQ(p->backlog, 128);
    CHECK(p->reuse_port);
    CHECK_EQ(p->tcp_defer_accept, 5);
    CHECK_EQ(p->tcp_fastopen, 16);
    CHECK(p->ipv6_only);
    CHECK_EQ(p->max_connection, 1000);
    CHECK(!p->tcp_nodelay);
    CHECK(p->tcp_keepalive);
    CHECK_EQ(p->tcp_keepidle, 30);
    CHECK_EQ(p->tcp_keepinterval, 5);
    CHECK_EQ(p->tcp_keepcount, 4);
    CHECK_EQ(p->socket_buffer_size, 1048576);
    CHECK_EQ(p->buffer_high_watermark, 524288);
    CHECK_EQ(p->buffer_low_watermark, 1024);
    CHECK_EQ(p->heartbeat_idle_time, 60);
    CHECK_EQ(p->heartbeat_check_interval, 10);
    CHECK_EQ(p->linger_timeout, 500);
    CHECK_EQ(p->linger_max_bytes, 4096);
    CHECK_EQ(p->close_flush_timeout, 2000);
    CHECK(p->half_close);
    CHECK_EQ(p->connect_timeout, 1500);
    CHECK_EQ(p->framing.mode, EDDY_FRAME_EOF_SPLIT);
    CHECK_EQ(p->framing.package_eof_len, 2);
    CHECK(memcmp(p->framing.package_eof, "\r\n", 2) == 0);
    CHECK_EQ(p->framing.package_max_length, 65536);

    /* Length framing keys reach the framing too. */
    set_ok(s, "open_length_check", "1");
    set_ok(s, "package_length_type", "N");
    set_ok(s, "package_length_offset", "2");
    set_ok(s, "package_body_offset", "6");
    CHECK_EQ(p->framing.mode, EDDY_FRAME_LENGTH);
    CHECK_EQ(p->framing.package_length_type, 'N');
    CHECK_EQ(p->framing.package_length_offset, 2);
    CHECK_EQ(p->framing.package_body_offset, 6);
    set_ok(s, "open_eof_check", "1");
    CHECK_EQ(p->framing.mode, EDDY_FRAME_EOF_CHECK);

    /* Refused port values leave everything as it was. */
    set_bad(s, "backlog", "0", -EDDY_EOPTION);
    set_bad(s, "backlog", "65536", -EDDY_EOPTION);
    set_bad(s, "socket_buffer_size", "0", -EDDY_EOPTION);
    set_bad(s, "enable_reuse_port", "perhaps", -EDDY_EOPTION);
    set_bad(s, "package_length_type", "Z", -EDDY_EOPTION);
    set_bad(s, "connect_timeout", "0", -EDDY_EOPTION);
    eddy_server_free(s);
}

static void test_unknown_and_null(void)
{
    eddy_server_t *s = new_server();
    set_ok(s, "pid_file", "/tmp/x.pid"); /* so a string is in play */
    set_bad(s, "no_such_key", "1", -EDDY_EUNKNOWN_OPTION);
    set_bad(s, "", "1", -EDDY_EUNKNOWN_OPTION);
    set_bad(s, "Worker_Num", "2", -EDDY_EUNKNOWN_OPTION); /* names are exact */
    set_bad(s, "worker_num ", "2", -EDDY_EUNKNOWN_OPTION);
    set_bad(s, NULL, "1", -EDDY_EUNKNOWN_OPTION);
    set_bad(s, "worker_num", NULL, -EDDY_EOPTION);
    set_bad(s, "pid_file", NULL, -EDDY_EOPTION);
    CHECK_STR(s->opts.pid_file, "/tmp/x.pid");
    eddy_server_free(s);
}

/* ---- config files -------------------------------------------------------- */

static const char *write_config(const char *name, const char *text)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    CHECK(fclose(f) == 0);
    return path;
}

static void test_config_file(void)
{
    const char *path = write_config("good.conf", "# eddy server\n"
                                                 "\n"
                                                 "worker_num = 3\n"
                                                 "   # indented comment\n"
                                                 "max_request=100\n"
                                                 "\t max_wait_time \t=\t 7 \t\n"
                                                 "   \n"
                                                 "pid_file = \"/tmp/with space # and=equals\"\n"
                                                 "log_file = /tmp/a=b.log\n"
                                                 "open_eof_split = on\n"
                                                 "package_eof = \"\\r\\n\"\n"
                                                 "reload_async = yes\n"
                                                 "mode = base"); /* no final newline */
    eddy_server_t *s = new_server();
    int line = -1;
    CHECK_EQ(eddy_server_load_config(s, path, &line), 0);
    CHECK_EQ(line, -1); /* only set on error */
    CHECK_EQ(s->opts.worker_num, 3);
    CHECK_EQ(s->opts.max_request, 100);
    CHECK_EQ(s->opts.max_wait_time, 7);
    CHECK_STR(s->opts.pid_file, "/tmp/with space # and=equals");
    CHECK_STR(s->opts.log_file, "/tmp/a=b.log");
    CHECK_EQ(s->opts.port.framing.mode, EDDY_FRAME_EOF_SPLIT);
    CHECK_EQ(s->opts.port.framing.package_eof_len, 2);
    CHECK(s->opts.reload_async);
    CHECK_EQ(eddy_server_load_config(s, path, NULL), 0); /* line may be NULL */
    eddy_server_free(s);

    /* Errors name the line; lines before it were applied, none after. */
    struct {
        const char *name, *text;
        int rc, line;
    } const bad[] = {
        {"range.conf", "worker_num = 2\n# c\n\nmax_wait_time = 0\nworker_num = 5\n", -EDDY_EOPTION,
         4},
        {"noeq.conf", "worker_num = 2\nthis line has no equals sign\nworker_num = 5\n",
         -EDDY_EOPTION, 2},
        {"unknown.conf", "\n\nworker_num = 2\nworker_count = 5\nworker_num = 5\n",
         -EDDY_EUNKNOWN_OPTION, 4},
        {"empty.conf", "worker_num = 2\npid_file =\nworker_num = 5\n", -EDDY_EOPTION, 2},
        {"nokey.conf", "worker_num = 2\n = 4\nworker_num = 5\n", -EDDY_EUNKNOWN_OPTION, 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = new_server();
        line = -1;
        int rc = eddy_server_load_config(s, write_config(bad[i].name, bad[i].text), &line);
        if (rc != bad[i].rc || line != bad[i].line)
            fprintf(stderr, "%s: rc %s line %d\n", bad[i].name, eddy_err_name(rc), line);
        CHECK_EQ(rc, bad[i].rc);
        CHECK_EQ(line, bad[i].line);
        CHECK_EQ(s->opts.worker_num, 2);
        eddy_server_free(s);
    }

    /* A line longer than the reader's buffer is an error, not two lines. */
    char *text = malloc(10000);
    CHECK(text != NULL);
    strcpy(text, "worker_num = 2\npid_file = /tmp/");
    size_t n = strlen(text);
    memset(text + n, 'p', 6000);
    strcpy(text + n + 6000, "\nworker_num = 5\n");
    s = new_server();
    CHECK_EQ(eddy_server_load_config(s, write_config("long.conf", text), &line), -EDDY_EOPTION);
    CHECK_EQ(line, 2);
    CHECK_EQ(s->opts.worker_num, 2);
    CHECK(s->opts.pid_file == NULL);
    free(text);
    eddy_server_free(s);

    /* A file that is not there. */
    s = new_server();
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.conf", tmpdir);
    line = -1;
    CHECK_EQ(eddy_server_load_config(s, missing, &line), -ENOENT);
    eddy_server_free(s);
}

/* ---- listen and start ---------------------------------------------------- */

static void test_listen_errors(void)
{
    eddy_server_t *s = new_server();
    static const char *const bad_urls[] = {"nope://127.0.0.1:1", "tcp://", "tcp://127.0.0.1",
                                           "tcp://256.1.1.1:80", "tcp://127.0.0.1:99999"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        int rc = eddy_server_listen(s, bad_urls[i], NULL, NULL, NULL);
        if (rc >= 0) fprintf(stderr, "listen(%s) = %d\n", bad_urls[i], rc);
        CHECK(rc < 0);
    }
    CHECK_EQ(s->nports, 0);
    CHECK_EQ(eddy_server_port(s, 0), -EINVAL);

    CHECK_EQ(eddy_server_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL), 0);
    int port = eddy_server_port(s, 0);
    CHECK(port > 0);
    CHECK_EQ(eddy_server_port(s, 1), -EINVAL);
    CHECK_EQ(eddy_server_port(s, -1), -EINVAL);

    /* The port is taken (by this server): a second server cannot have it. */
    eddy_server_t *other = new_server();
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    CHECK_EQ(eddy_server_listen(other, url, NULL, NULL, NULL), -EADDRINUSE);
    CHECK_EQ(other->nports, 0);

    /* Options that do not go together are refused at listen. */
    eddy_port_options_t po;
    eddy_port_options_init(&po);
    po.buffer_high_watermark = 10;
    po.buffer_low_watermark = 100;
    CHECK_EQ(eddy_server_listen(other, "tcp://127.0.0.1:0", &po, NULL, NULL), -EDDY_EOPTION);
    CHECK_EQ(other->nports, 0);

    /* After failures the next port still gets the next index. */
    CHECK_EQ(eddy_server_listen(s, "udp://127.0.0.1:0", NULL, NULL, NULL), 1);
    CHECK(eddy_server_port(s, 1) > 0);

    /* A spool directory needs a port, and room for the file names in it. */
    char long_dir[1200];
    memset(long_dir, 'd', sizeof long_dir - 1);
    long_dir[0] = '/';
    long_dir[sizeof long_dir - 1] = '\0';
    CHECK_EQ(eddy_server_set_spool_dir(s, 0, "/var/tmp"), 0);
    CHECK_EQ(eddy_server_set_spool_dir(s, 0, "/tmp"), 0); /* replaced, the old copy freed */
    CHECK_EQ(eddy_server_set_spool_dir(s, 2, "/tmp"), -EINVAL);
    CHECK_EQ(eddy_server_set_spool_dir(s, -1, "/tmp"), -EINVAL);
    CHECK_EQ(eddy_server_set_spool_dir(s, 0, NULL), -EINVAL);
    CHECK_EQ(eddy_server_set_spool_dir(s, 0, ""), -EINVAL);
    CHECK_EQ(eddy_server_set_spool_dir(s, 0, long_dir), -EINVAL);
    eddy_server_free(other);
    eddy_server_free(s);

    /* Once freed the port is free again. */
    s = new_server();
    CHECK_EQ(eddy_server_listen(s, url, NULL, NULL, NULL), 0);
    eddy_server_free(s);
}

static bool accepting(int fd)
{
    int on = -1;
    socklen_t len = sizeof on;
    CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len), 0);
    return on == 1;
}

/* With enable_reuse_port each worker listens on its own socket; the
 * master's only holds the port. Were it listening, it would be in the
 * SO_REUSEPORT group and the kernel would hand it connections that no one
 * ever accepts. */
static void test_listen_reuse_port(void)
{
    eddy_server_t *s = new_server();
    set_ok(s, "enable_reuse_port", "1");
    CHECK_EQ(eddy_server_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL), 0);
    CHECK(s->ports[0].fd >= 0);
    CHECK(!accepting(s->ports[0].fd));
    int port = eddy_server_port(s, 0);
    CHECK(port > 0);
    /* Held: a program without SO_REUSEPORT cannot bind it. */
    eddy_server_t *other = new_server();
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    CHECK_EQ(eddy_server_listen(other, url, NULL, NULL, NULL), -EADDRINUSE);
    eddy_server_free(other);
    /* A udp port is shared by the workers, whatever enable_reuse_port says. */
    CHECK_EQ(eddy_server_listen(s, "udp://127.0.0.1:0", NULL, NULL, NULL), 1);
    CHECK(s->ports[1].udp);
    /* Without enable_reuse_port the master's socket is the one they share. */
    eddy_port_options_t po;
    eddy_port_options_init(&po);
    CHECK_EQ(eddy_server_listen(s, "tcp://127.0.0.1:0", &po, NULL, NULL), 2);
    CHECK(accepting(s->ports[2].fd));
    CHECK(!s->ports[2].udp);
    /* IPv6, where the host has it. */
    int rc = eddy_server_listen(s, "tcp://[::1]:0", NULL, NULL, NULL);
    if (rc >= 0) {
        CHECK(!accepting(s->ports[rc].fd));
        CHECK(eddy_server_port(s, rc) > 0);
    }
    eddy_server_free(s);
}

static void test_start_without_ports(void)
{
    eddy_server_t *s = new_server();
    CHECK_EQ(eddy_server_start(s), -EINVAL);
    CHECK(!s->started);
    /* Process control and methods before start, or outside a worker. */
    CHECK_EQ(eddy_server_reload(s, false), -EDDY_ESTATE);
    CHECK_EQ(eddy_server_shutdown(s), -EDDY_ESTATE);
    CHECK_EQ(eddy_server_stop_worker(s, 0), -EDDY_ESTATE);
    CHECK_EQ(eddy_server_send(s, (eddy_session_t)1 << 52 | 5, "x", 1), -EDDY_ESESSION);
    CHECK_EQ(eddy_server_close(s, 0), -EDDY_ESESSION);
    CHECK(!eddy_server_exists(s, 0));
    eddy_session_info_t info;
    CHECK_EQ(eddy_server_info(s, 0, &info), -EDDY_ESESSION);
    CHECK_EQ(eddy_server_sendto(s, 0, NULL, "x", 1), -EINVAL);
    /* Settings valid one by one, not together: refused at start, after the
     * ports (workers and task workers share a session id's 12 bits). */
    set_ok(s, "worker_num", "4000");
    set_ok(s, "task_worker_num", "100");
    CHECK_EQ(eddy_server_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL), 0);
    CHECK_EQ(eddy_server_start(s), -EDDY_EOPTION);
    CHECK(!s->started);
    eddy_server_free(s);
}

/* on_start runs in the master once the ports are bound: every setter must
 * refuse by then. The results go out through a pipe-free static (the master
 * is this very process). */
static int after_start[9];

static void started(eddy_server_t *s, void *ud)
{
    after_start[0] = eddy_server_set(s, "worker_num", "2");
    after_start[1] = eddy_server_set(s, "no_such_key", "2");
    after_start[2] = eddy_server_load_config(s, ud, NULL);
    after_start[3] = eddy_server_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL);
    after_start[4] = eddy_server_start(s);
    after_start[5] = eddy_server_worker_id(s);
    after_start[6] = eddy_server_master_pid(s) == getpid();
    after_start[7] = eddy_server_shutdown(s); /* the master asks itself to stop */
    after_start[8] = eddy_server_set_spool_dir(s, 0, "/tmp");
}

static int shutdowns;

static void shut(eddy_server_t *s, void *ud)
{
    shutdowns++;
}

static void test_set_after_start(void)
{
    const char *conf = write_config("late.conf", "worker_num = 2\n");
    eddy_server_callbacks_t cbs = {.on_start = started, .on_shutdown = shut};
    eddy_server_t *s;
    CHECK_EQ(eddy_server_new(NULL, &cbs, (void *)conf, &s), 0);
    set_ok(s, "worker_num", "1");
    set_ok(s, "max_wait_time", "1");
    set_ok(s, "log_level", "warn");
    CHECK_EQ(eddy_server_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL), 0);
    fflush(NULL); /* the worker is forked from this process */
    sigset_t before, after;
    sigprocmask(SIG_SETMASK, NULL, &before);
    alarm(20); /* a master that never finishes fails the test rather than hang it */
    CHECK_EQ(eddy_server_start(s), 0);
    alarm(0);
    sigprocmask(SIG_SETMASK, NULL, &after);
    CHECK_EQ(after_start[0], -EDDY_ESTATE);
    CHECK_EQ(after_start[1], -EDDY_ESTATE);
    CHECK_EQ(after_start[2], -EDDY_ESTATE);
    CHECK_EQ(after_start[3], -EDDY_ESTATE);
    CHECK_EQ(after_start[4], -EDDY_ESTATE);
    CHECK_EQ(after_start[5], -1);
    CHECK_EQ(after_start[6], 1);
    CHECK_EQ(after_start[7], 0);
    CHECK_EQ(after_start[8], -EDDY_ESTATE);
    CHECK_EQ(shutdowns, 1);
    /* Back in the caller: the signal mask is as it was, and it stays started. */
    for (int signo = 1; signo < SIGRTMAX; signo++)
        CHECK_EQ(sigismember(&before, signo), sigismember(&after, signo));
    CHECK_EQ(eddy_server_set(s, "worker_num", "2"), -EDDY_ESTATE);
    CHECK_EQ(eddy_server_start(s), -EDDY_ESTATE);
    eddy_server_free(s);
    eddy_log_set_level(EDDY_LOG_NOTICE);
}

int main(void)
{
    CHECK(mkdtemp(tmpdir) != NULL);
    RUN(test_defaults);
    RUN(test_new_validates);
    RUN(test_numbers);
    RUN(test_mode_bools_levels);
    RUN(test_strings);
    RUN(test_port_keys);
    RUN(test_unknown_and_null);
    RUN(test_config_file);
    RUN(test_listen_errors);
    RUN(test_listen_reuse_port);
    RUN(test_start_without_ports);
    RUN(test_set_after_start);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0);
    return 0;
}
