/*
 * Port options by name: every key eddy_port_options_set knows, booleans in
 * every spelling, numbers and their bounds, unknown keys, bad values,
 * framing keys passed on, and eddy_port_options_validate.
 */
#include <string.h>

#include <eddy.h>

#include "test.h"

static eddy_port_options_t fresh(void)
{
    eddy_port_options_t o;
    eddy_port_options_init(&o);
    return o;
}

static void set_ok(eddy_port_options_t *o, const char *key, const char *value)
{
    int rc = eddy_port_options_set(o, key, value);
    if (rc != 0) fprintf(stderr, "set(%s, \"%s\") = %s\n", key, value, eddy_err_name(rc));
    CHECK_EQ(rc, 0);
}

/* A refused value leaves the options exactly as they were. */
static void set_bad(eddy_port_options_t *o, const char *key, const char *value)
{
    eddy_port_options_t before = *o;
    int rc = eddy_port_options_set(o, key, value);
    if (rc != -EDDY_EOPTION) fprintf(stderr, "set(%s, \"%s\") = %d\n", key, value, rc);
    CHECK_EQ(rc, -EDDY_EOPTION);
    CHECK(memcmp(&before, o, sizeof before) == 0);
}

static void test_defaults(void)
{
    eddy_port_options_t o = fresh();
    CHECK_EQ(o.backlog, 511);
    CHECK(!o.reuse_port);
    CHECK_EQ(o.tcp_defer_accept, 0);
    CHECK_EQ(o.tcp_fastopen, 0);
    CHECK(!o.ipv6_only);
    CHECK_EQ(o.max_connection, 0);
    CHECK(o.tcp_nodelay);
    CHECK(!o.tcp_keepalive);
    CHECK_EQ(o.framing.mode, EDDY_FRAME_RAW);
    CHECK_EQ(o.framing.package_max_length, EDDY_PACKAGE_MAX_LENGTH);
    CHECK_EQ(o.socket_buffer_size, EDDY_SOCKET_BUFFER_SIZE);
    CHECK_EQ(o.buffer_high_watermark, 0);
    CHECK_EQ(o.buffer_low_watermark, 0);
    CHECK_EQ(o.heartbeat_idle_time, 0);
    CHECK_EQ(o.heartbeat_check_interval, 0);
    CHECK_EQ(o.linger_timeout, 3000);
    CHECK_EQ(o.linger_max_bytes, 1024 * 1024);
    CHECK_EQ(o.close_flush_timeout, 10000);
    CHECK(!o.half_close);
    CHECK_EQ(o.connect_timeout, 10000);
    CHECK_EQ(eddy_port_options_validate(&o), 0);
}

typedef struct bool_key {
    const char *key;
    size_t offset;
} bool_key_t;

#define BOOL_KEY(k, field)                                                                         \
    {                                                                                              \
        k, offsetof(eddy_port_options_t, field)                                                    \
    }

static void test_bools(void)
{
    static const bool_key_t keys[] = {
        BOOL_KEY("enable_reuse_port", reuse_port), BOOL_KEY("ipv6_only", ipv6_only),
        BOOL_KEY("open_tcp_nodelay", tcp_nodelay), BOOL_KEY("open_tcp_keepalive", tcp_keepalive),
        BOOL_KEY("half_close", half_close),
    };
    static const char *const yes[] = {"1", "true", "TRUE", "True", "on", "ON", "yes", "Yes"};
    static const char *const no[] = {"0", "false", "FALSE", "off", "Off", "no", "NO"};
    static const char *const bad[] = {"", "2", "-1", "y", "n", "enable", "true ", " 1", "01"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        eddy_port_options_t o = fresh();
        bool *field = (bool *)((char *)&o + keys[k].offset);
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            *field = false;
            set_ok(&o, keys[k].key, yes[i]);
            CHECK(*field);
        }
        for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
            *field = true;
            set_ok(&o, keys[k].key, no[i]);
            CHECK(!*field);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            set_bad(&o, keys[k].key, bad[i]);
    }
}

typedef enum { T_INT, T_SIZE, T_U64 } num_type_t;

typedef struct num_key {
    const char *key;
    num_type_t type;
    size_t offset;
    unsigned long long min, max;
} num_key_t;

#define NUM_KEY(k, t, field, lo, hi)                                                               \
    {                                                                                              \
        k, t, offsetof(eddy_port_options_t, field), lo, hi                                         \
    }

static unsigned long long get_num(const eddy_port_options_t *o, const num_key_t *k)
{
    const char *p = (const char *)o + k->offset;
    switch (k->type) {
    case T_INT: return (unsigned long long)*(const int *)p;
    case T_SIZE: return *(const size_t *)p;
    default: return *(const uint64_t *)p;
    }
}

static void test_numbers(void)
{
    static const num_key_t keys[] = {
        NUM_KEY("backlog", T_INT, backlog, 1, 65535),
        NUM_KEY("tcp_defer_accept", T_INT, tcp_defer_accept, 0, 3600),
        NUM_KEY("tcp_fastopen", T_INT, tcp_fastopen, 0, 65535),
        NUM_KEY("max_connection", T_SIZE, max_connection, 0, 100000000),
        NUM_KEY("tcp_keepidle", T_INT, tcp_keepidle, 0, 32767),
        NUM_KEY("tcp_keepinterval", T_INT, tcp_keepinterval, 0, 32767),
        NUM_KEY("tcp_keepcount", T_INT, tcp_keepcount, 0, 127),
        NUM_KEY("socket_buffer_size", T_SIZE, socket_buffer_size, 1, 1ull << 40),
        NUM_KEY("buffer_high_watermark", T_SIZE, buffer_high_watermark, 0, 1ull << 40),
        NUM_KEY("buffer_low_watermark", T_SIZE, buffer_low_watermark, 0, 1ull << 40),
        NUM_KEY("heartbeat_idle_time", T_U64, heartbeat_idle_time, 0, 86400ull * 365),
        NUM_KEY("heartbeat_check_interval", T_U64, heartbeat_check_interval, 0, 86400ull * 365),
        NUM_KEY("linger_timeout", T_U64, linger_timeout, 0, 3600000),
        NUM_KEY("linger_max_bytes", T_SIZE, linger_max_bytes, 0, 1ull << 40),
        NUM_KEY("close_flush_timeout", T_U64, close_flush_timeout, 0, 3600000),
        NUM_KEY("connect_timeout", T_U64, connect_timeout, 1, 3600000),
    };
    static const char *const bad[] = {"",
                                      "-1",
                                      "+5",
                                      " 5",
                                      "5 ",
                                      "5x",
                                      "0x10",
                                      "1e3",
                                      "abc",
                                      "1.5",
                                      "-0",
                                      "--1",
                                      "99999999999999999999999"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const num_key_t *d = &keys[k];
        eddy_port_options_t o = fresh();
        char v[32];
        snprintf(v, sizeof v, "%llu", d->min);
        set_ok(&o, d->key, v);
        CHECK_EQ(get_num(&o, d), d->min);
        snprintf(v, sizeof v, "%llu", d->max);
        set_ok(&o, d->key, v);
        CHECK(get_num(&o, d) == d->max);
        set_ok(&o, d->key, "7");
        CHECK_EQ(get_num(&o, d), 7);
        snprintf(v, sizeof v, "%llu", d->max + 1);
        set_bad(&o, d->key, v);
        if (d->min > 0) {
            snprintf(v, sizeof v, "%llu", d->min - 1);
            set_bad(&o, d->key, v);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            set_bad(&o, d->key, bad[i]);
        CHECK_EQ(get_num(&o, d), 7);
    }
}

static void test_unknown_and_null(void)
{
    eddy_port_options_t o = fresh();
    eddy_port_options_t before = o;
    CHECK_EQ(eddy_port_options_set(&o, "worker_nums", "4"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_port_options_set(&o, "", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_port_options_set(&o, "Backlog", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_port_options_set(&o, "backlog ", "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_port_options_set(&o, "no_such_key", "x"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_port_options_set(&o, NULL, "1"), -EDDY_EUNKNOWN_OPTION);
    CHECK_EQ(eddy_port_options_set(&o, "backlog", NULL), -EDDY_EOPTION);
    CHECK_EQ(eddy_port_options_set(&o, "open_eof_split", NULL), -EDDY_EOPTION);
    CHECK(memcmp(&before, &o, sizeof o) == 0);
}

static void test_framing_forwarded(void)
{
    eddy_port_options_t o = fresh();
    set_ok(&o, "open_eof_split", "true");
    CHECK_EQ(o.framing.mode, EDDY_FRAME_EOF_SPLIT);
    set_ok(&o, "package_eof", "\\r\\n");
    CHECK_EQ(o.framing.package_eof_len, 2);
    CHECK(memcmp(o.framing.package_eof, "\r\n", 2) == 0);
    set_ok(&o, "open_eof_check", "1");
    CHECK_EQ(o.framing.mode, EDDY_FRAME_EOF_CHECK);
    set_ok(&o, "open_eof_check", "0");
    CHECK_EQ(o.framing.mode, EDDY_FRAME_RAW);
    set_ok(&o, "open_length_check", "on");
    CHECK_EQ(o.framing.mode, EDDY_FRAME_LENGTH);
    set_ok(&o, "package_length_type", "n");
    CHECK_EQ(o.framing.package_length_type, 'n');
    set_ok(&o, "package_length_offset", "4");
    CHECK_EQ(o.framing.package_length_offset, 4);
    set_ok(&o, "package_body_offset", "6");
    CHECK_EQ(o.framing.package_body_offset, 6);
    set_ok(&o, "package_max_length", "65536");
    CHECK_EQ(o.framing.package_max_length, 65536);
    CHECK_EQ(eddy_port_options_validate(&o), 0);

    set_bad(&o, "package_length_type", "x");
    set_bad(&o, "package_max_length", "0");
    set_bad(&o, "package_eof", "");
    set_bad(&o, "package_eof", "123456789");
    set_bad(&o, "open_eof_split", "maybe");

    /* Framing that cannot work is caught by validate. */
    set_ok(&o, "package_max_length", "4");
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
}

static void test_validate(void)
{
    eddy_port_options_t o = fresh();
    CHECK_EQ(eddy_port_options_validate(&o), 0);

    /* High watermark within the output limit. */
    set_ok(&o, "socket_buffer_size", "1000");
    set_ok(&o, "buffer_high_watermark", "1000");
    CHECK_EQ(eddy_port_options_validate(&o), 0);
    set_ok(&o, "buffer_high_watermark", "1001");
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);

    /* Low watermark below the high one (explicit or the 3/4 default). */
    set_ok(&o, "buffer_high_watermark", "800");
    set_ok(&o, "buffer_low_watermark", "799");
    CHECK_EQ(eddy_port_options_validate(&o), 0);
    set_ok(&o, "buffer_low_watermark", "800");
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    set_ok(&o, "buffer_low_watermark", "801");
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    set_ok(&o, "buffer_high_watermark", "0"); /* default: 750 */
    set_ok(&o, "buffer_low_watermark", "749");
    CHECK_EQ(eddy_port_options_validate(&o), 0);
    set_ok(&o, "buffer_low_watermark", "750");
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    set_ok(&o, "buffer_low_watermark", "0");
    CHECK_EQ(eddy_port_options_validate(&o), 0);

    /* Fields set directly, bypassing eddy_port_options_set. */
    o = fresh();
    o.socket_buffer_size = 0;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.backlog = 0;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.backlog = -5;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.connect_timeout = 0;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.tcp_keepcount = -1;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.tcp_keepidle = 40000;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.framing.package_max_length = 0;
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);
    o = fresh();
    o.framing.mode = EDDY_FRAME_EOF_SPLIT; /* no package_eof */
    CHECK_EQ(eddy_port_options_validate(&o), -EDDY_EOPTION);

    /* eddy_listen and eddy_connect refuse what validate refuses. */
    eddy_loop_t *loop;
    CHECK_EQ(eddy_loop_new(&loop), 0);
    eddy_listener_t *l = NULL;
    CHECK_EQ(eddy_listen(loop, "tcp://127.0.0.1:0", &o, NULL, NULL, &l), -EDDY_EOPTION);
    eddy_conn_t *c = NULL;
    CHECK_EQ(eddy_connect(loop, "tcp://127.0.0.1:1", &o, NULL, NULL, &c), -EDDY_EOPTION);
    CHECK(l == NULL && c == NULL);
    CHECK_EQ(eddy_loop_run(loop), 0); /* nothing was left behind */
    eddy_loop_free(loop);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_bools);
    RUN(test_numbers);
    RUN(test_unknown_and_null);
    RUN(test_framing_forwarded);
    RUN(test_validate);
    return 0;
}
