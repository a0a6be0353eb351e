/* HTTP server options: defaults, string keys, refused values, port keys
 * passed through, and eddy_http_listen's checks. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <eddy.h>

#include "test.h"

static void test_defaults(void)
{
    eddy_http_options_t o;
    memset(&o, 0x5a, sizeof o);
    eddy_http_options_init(&o);
    CHECK(o.compression);
    CHECK_EQ(o.compression_level, 1);
    CHECK_EQ(o.compression_min_length, 20);
    CHECK_STR(o.compression_types, EDDY_HTTP_DEFAULT_COMPRESSION_TYPES);
    CHECK_STR(o.server_name, "eddy");
    CHECK_STR(o.access_log, "");
    CHECK_EQ(o.pipeline_max, 16);
    CHECK_EQ(o.port.framing.mode, EDDY_FRAME_HTTP);
    CHECK_EQ(o.port.framing.http_header_timeout, 30000);
    CHECK_EQ(o.port.framing.package_max_length, 2 * 1024 * 1024);
    CHECK(!o.enable_static_handler);
    CHECK_STR(o.document_root, "");
    CHECK_STR(o.static_index_files, "index.html");
    CHECK_STR(o.static_prefix, "/");
    CHECK_STR(o.upload_tmp_dir, "/tmp");
    CHECK_EQ(o.upload_max_filesize, 2 * 1024 * 1024);
    CHECK_EQ(o.upload_max_body, 8 * 1024 * 1024);
}

static void test_set(void)
{
    eddy_http_options_t o;
    eddy_http_options_init(&o);
    CHECK_EQ(eddy_http_options_set(&o, "http_compression", "off"), 0);
    CHECK(!o.compression);
    CHECK_EQ(eddy_http_options_set(&o, "http_compression_level", "9"), 0);
    CHECK_EQ(o.compression_level, 9);
    CHECK_EQ(eddy_http_options_set(&o, "http_compression_min_length", "0"), 0);
    CHECK_EQ(o.compression_min_length, 0);
    CHECK_EQ(eddy_http_options_set(&o, "compression_min_length", "128"), 0); /* Swoole's name */
    CHECK_EQ(o.compression_min_length, 128);
    CHECK_EQ(eddy_http_options_set(&o, "http_compression_types", "text/*, application/wasm"), 0);
    CHECK_STR(o.compression_types, "text/*, application/wasm");
    CHECK_EQ(eddy_http_options_set(&o, "http_server_name", "my server/1.0"), 0);
    CHECK_STR(o.server_name, "my server/1.0");
    CHECK_EQ(eddy_http_options_set(&o, "http_server_name", ""), 0);
    CHECK_STR(o.server_name, "");
    CHECK_EQ(eddy_http_options_set(&o, "http_access_log", "-"), 0);
    CHECK_STR(o.access_log, "-");
    CHECK_EQ(eddy_http_options_set(&o, "http_pipeline_max", "1024"), 0);
    CHECK_EQ(o.pipeline_max, 1024);
    /* Port and framing keys reach the port. */
    CHECK_EQ(eddy_http_options_set(&o, "http_max_header_size", "8192"), 0);
    CHECK_EQ(o.port.framing.http_max_header_size, 8192);
    CHECK_EQ(eddy_http_options_set(&o, "package_max_length", "1000"), 0);
    CHECK_EQ(o.port.framing.package_max_length, 1000);
    CHECK_EQ(eddy_http_options_set(&o, "heartbeat_idle_time", "60"), 0);
    CHECK_EQ(o.port.heartbeat_idle_time, 60);
    CHECK_EQ(eddy_http_options_set(&o, "open_http_protocol", "1"), 0);
    /* Static files and uploads. */
    CHECK_EQ(eddy_http_options_set(&o, "enable_static_handler", "true"), 0);
    CHECK(o.enable_static_handler);
    CHECK_EQ(eddy_http_options_set(&o, "document_root", "/srv/www"), 0);
    CHECK_STR(o.document_root, "/srv/www");
    CHECK_EQ(eddy_http_options_set(&o, "static_index_files", "index.html, index.htm"), 0);
    CHECK_STR(o.static_index_files, "index.html, index.htm");
    CHECK_EQ(eddy_http_options_set(&o, "http_index_files", "default.htm"), 0); /* Swoole's name */
    CHECK_STR(o.static_index_files, "default.htm");
    CHECK_EQ(eddy_http_options_set(&o, "static_index_files", ""), 0);
    CHECK_STR(o.static_index_files, "");
    CHECK_EQ(eddy_http_options_set(&o, "static_prefix", "/assets/"), 0);
    CHECK_STR(o.static_prefix, "/assets/");
    CHECK_EQ(eddy_http_options_set(&o, "upload_tmp_dir", "/var/tmp"), 0);
    CHECK_STR(o.upload_tmp_dir, "/var/tmp");
    CHECK_EQ(eddy_http_options_set(&o, "upload_max_filesize", "1"), 0);
    CHECK_EQ(o.upload_max_filesize, 1);
    CHECK_EQ(eddy_http_options_set(&o, "upload_max_filesize", "18446744073709551615"), 0);
    CHECK_EQ(o.upload_max_filesize, UINT64_MAX);
    CHECK_EQ(eddy_http_options_set(&o, "upload_max_body", "1073741824"), 0);
    CHECK_EQ(o.upload_max_body, 1073741824);
}

static void test_refused(void)
{
    eddy_http_options_t o, before;
    eddy_http_options_init(&o);
    before = o;
    const char *bad[][2] = {
        {"http_compression", "maybe"},
        {"http_compression_level", "0"},
        {"http_compression_level", "10"},
        {"http_compression_level", "1.5"},
        {"http_compression_min_length", "-1"},
        {"http_compression_types", ""},
        {"http_compression_types", "text"},
        {"http_compression_types", "text/html;q=1"},
        {"http_compression_types", "/html"},
        {"http_server_name", "evil\r\nX: 1"},
        {"http_pipeline_max", "0"},
        {"http_pipeline_max", "1025"},
        {"open_http_protocol", "0"},
        {"http_max_headers", "100000"},
        {"package_max_length", "0"},
        {"enable_static_handler", "2"},
        {"document_root", ""},
        {"static_prefix", ""},
        {"static_prefix", "assets"},
        {"static_prefix", "/a b"},
        {"upload_tmp_dir", ""},
        {"upload_max_filesize", "0"},
        {"upload_max_body", "0"},
        {"upload_max_body", "-1"},
        {"upload_max_body", "8M"},
        {"upload_max_filesize", "2M"},
        {"upload_max_filesize", "18446744073709551616"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = eddy_http_options_set(&o, bad[i][0], bad[i][1]);
        if (rc != -EDDY_EOPTION) fprintf(stderr, "%s=%s: %d\n", bad[i][0], bad[i][1], rc);
        CHECK_EQ(rc, -EDDY_EOPTION);
    }
    char long_name[300];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ(eddy_http_options_set(&o, "http_server_name", long_name), -EDDY_EOPTION);
    char long_path[1100];
    memset(long_path, 'p', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    CHECK_EQ(eddy_http_options_set(&o, "document_root", long_path), -EDDY_EOPTION);
    CHECK_EQ(eddy_http_options_set(&o, "upload_tmp_dir", long_path), -EDDY_EOPTION);
    CHECK_EQ(eddy_http_options_set(&o, "http_no_such_key", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_http_options_set(&o, NULL, "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_http_options_set(&o, "http_compression", NULL), -EDDY_EOPTION);
    CHECK(memcmp(&o, &before, sizeof o) == 0);
}

static void handler(eddy_http_req_t *req, eddy_http_res_t *res, void *ud)
{
    eddy_http_end(res, NULL, 0);
}

static void test_listen_checks(void)
{
    eddy_server_t *s;
    CHECK_EQ(eddy_server_new(NULL, NULL, NULL, &s), 0);
    eddy_http_options_t o;
    eddy_http_options_init(&o);
    o.compression_level = 12;
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -EDDY_EOPTION);
    eddy_http_options_init(&o);
    o.port.framing.http_max_headers = 0;
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -EDDY_EOPTION);
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(eddy_http_listen(s, "nonsense", NULL, handler, NULL), -EDDY_EADDR);
    /* What the file system must offer when the port is added. */
    eddy_http_options_init(&o);
    o.enable_static_handler = true; /* without a document_root */
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -EDDY_EOPTION);
    CHECK_EQ(eddy_http_options_set(&o, "document_root", "/nonexistent/eddy/root"), 0);
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -ENOENT);
    CHECK_EQ(eddy_http_options_set(&o, "document_root", "/dev/null"), 0);
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -ENOTDIR);
    CHECK_EQ(eddy_http_options_set(&o, "document_root", "/tmp"), 0);
    CHECK_EQ(eddy_http_options_set(&o, "static_index_files", "a,../b"), 0);
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -EDDY_EOPTION);
    eddy_http_options_init(&o);
    CHECK_EQ(eddy_http_options_set(&o, "upload_tmp_dir", "/nonexistent/eddy/tmp"), 0);
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -ENOENT);
    CHECK_EQ(eddy_http_options_set(&o, "upload_tmp_dir", "/dev/null"), 0);
    CHECK_EQ(eddy_http_listen(s, "tcp://127.0.0.1:0", &o, handler, NULL), -ENOTDIR);
    int port = eddy_http_listen(s, "tcp://127.0.0.1:0", NULL, handler, NULL);
    CHECK_EQ(port, 0);
    CHECK(eddy_server_port(s, port) > 0);
    eddy_http_stats_t st;
    eddy_http_stats(s, &st);
    CHECK_EQ(st.requests, 0);
    eddy_server_free(s);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_set);
    RUN(test_refused);
    RUN(test_listen_checks);
    return 0;
}
