#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/base_internal.h"
#include "eddy/error.h"
#include "eddy/options.h"

void eddy_port_options_init(eddy_port_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->backlog = 511;
    o->tcp_nodelay = true;
    eddy_framing_init(&o->framing);
    o->socket_buffer_size = EDDY_SOCKET_BUFFER_SIZE;
    o->linger_timeout = 3000;
    o->linger_max_bytes = 1024 * 1024;
    o->close_flush_timeout = 10000;
    o->connect_timeout = 10000;
}

typedef enum { OPT_BOOL, OPT_INT, OPT_SIZE, OPT_U64 } opt_type_t;

typedef struct {
    const char *key;
    opt_type_t type;
    size_t offset;
    uint64_t min, max;
} opt_desc_t;

#define OPT(key, type, field, min, max)                                                            \
    {                                                                                              \
        key, type, offsetof(eddy_port_options_t, field), min, max                                  \
    }

/* Linux's limits for the keepalive socket options (0 here: leave the
 * system default). */
#define KEEPIDLE_MAX  32767
#define KEEPINTVL_MAX 32767
#define KEEPCNT_MAX   127

static const opt_desc_t options[] = {
    OPT("backlog", OPT_INT, backlog, 1, 65535),
    OPT("enable_reuse_port", OPT_BOOL, reuse_port, 0, 1),
    OPT("tcp_defer_accept", OPT_INT, tcp_defer_accept, 0, 3600),
    OPT("tcp_fastopen", OPT_INT, tcp_fastopen, 0, 65535),
    OPT("ipv6_only", OPT_BOOL, ipv6_only, 0, 1),
    OPT("max_connection", OPT_SIZE, max_connection, 0, 100000000),
    OPT("open_tcp_nodelay", OPT_BOOL, tcp_nodelay, 0, 1),
    OPT("open_tcp_keepalive", OPT_BOOL, tcp_keepalive, 0, 1),
    OPT("tcp_keepidle", OPT_INT, tcp_keepidle, 0, KEEPIDLE_MAX),
    OPT("tcp_keepinterval", OPT_INT, tcp_keepinterval, 0, KEEPINTVL_MAX),
    OPT("tcp_keepcount", OPT_INT, tcp_keepcount, 0, KEEPCNT_MAX),
    OPT("socket_buffer_size", OPT_SIZE, socket_buffer_size, 1, (uint64_t)1 << 40),
    OPT("buffer_high_watermark", OPT_SIZE, buffer_high_watermark, 0, (uint64_t)1 << 40),
    OPT("buffer_low_watermark", OPT_SIZE, buffer_low_watermark, 0, (uint64_t)1 << 40),
    OPT("heartbeat_idle_time", OPT_U64, heartbeat_idle_time, 0, 86400 * 365),
    OPT("heartbeat_check_interval", OPT_U64, heartbeat_check_interval, 0, 86400 * 365),
    OPT("linger_timeout", OPT_U64, linger_timeout, 0, 3600000),
    OPT("linger_max_bytes", OPT_SIZE, linger_max_bytes, 0, (uint64_t)1 << 40),
    OPT("close_flush_timeout", OPT_U64, close_flush_timeout, 0, 3600000),
    OPT("half_close", OPT_BOOL, half_close, 0, 1),
    OPT("connect_timeout", OPT_U64, connect_timeout, 1, 3600000),
};

static int set_field(eddy_port_options_t *o, const opt_desc_t *d, const char *value)
{
    char *field = (char *)o + d->offset;
    if (d->type == OPT_BOOL) return eddy__parse_bool(value, (bool *)field);
    uint64_t v;
    int rc = eddy__parse_uint(value, d->min, d->max, &v);
    if (rc < 0) return rc;
    switch (d->type) {
    case OPT_INT: *(int *)field = (int)v; break;
    case OPT_SIZE: *(size_t *)field = (size_t)v; break;
    default: *(uint64_t *)field = v; break;
    }
    return 0;
}

int eddy_port_options_set(eddy_port_options_t *o, const char *key, const char *value)
{
    if (!key) return -EDDY_EUNKNOWN_OPTION;
    if (!value) return -EDDY_EOPTION;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strcmp(key, options[i].key) == 0) return set_field(o, &options[i], value);
    return eddy_framing_set(&o->framing, key, value);
}

/* The same bounds as eddy_port_options_set, for fields set directly. */
static bool in_range(long long v, long long min, long long max)
{
    return v >= min && v <= max;
}

int eddy_port_options_validate(const eddy_port_options_t *o)
{
    if (o->socket_buffer_size == 0) return -EDDY_EOPTION;
    if (o->buffer_high_watermark > o->socket_buffer_size) return -EDDY_EOPTION;
    size_t high =
        o->buffer_high_watermark ? o->buffer_high_watermark : o->socket_buffer_size / 4 * 3;
    /* on_buffer_empty fires at or below the low mark after on_buffer_full
     * fired at or above the high one: equal marks would make both fire for
     * the same fill level. */
    if (o->buffer_low_watermark && o->buffer_low_watermark >= high) return -EDDY_EOPTION;
    if (!in_range(o->backlog, 1, 65535)) return -EDDY_EOPTION;
    if (!in_range(o->tcp_defer_accept, 0, 3600) || !in_range(o->tcp_fastopen, 0, 65535))
        return -EDDY_EOPTION;
    if (!in_range(o->tcp_keepidle, 0, KEEPIDLE_MAX) ||
        !in_range(o->tcp_keepinterval, 0, KEEPINTVL_MAX) ||
        !in_range(o->tcp_keepcount, 0, KEEPCNT_MAX))
        return -EDDY_EOPTION;
    if (o->connect_timeout == 0) return -EDDY_EOPTION;
    return eddy_framing_validate(&o->framing);
}
