/* The HTTP client's options: defaults, string keys, validation. */
#include <stddef.h>
#include <string.h>

#include "base/base_internal.h"
#include "eddy/error.h"
#include "eddy/http_client.h"

#define KIB               1024u
#define MIB               (1024u * 1024u)
#define MAX_TIMEOUT_MS    (7ull * 24 * 3600 * 1000) /* a week */
#define MAX_CONNECT_MS    3600000ull                /* as eddy_port_options' connect_timeout */
#define MAX_SIZE          ((uint64_t)1 << 40)
#define MAX_HEADERS       10000u
#define MAX_CONNS         65535u
#define MAX_REDIRECTS     1000u
#define MIN_HEADER_SIZE   64u /* room for a status line and a few fields */
#define MAX_HEADER_SIZE   (64u * MIB)
#define DEFAULT_MAX_CONNS 6u /* what browsers open per host */

void eddy_http_client_options_init(eddy_http_client_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->connect_timeout = 10000;
    o->request_timeout = 60000;
    o->max_response_size = 16 * MIB;
    o->max_header_size = 64 * KIB;
    o->max_headers = 100;
    o->max_connections_per_host = DEFAULT_MAX_CONNS;
    o->max_idle_per_host = DEFAULT_MAX_CONNS;
    o->idle_timeout = 30000;
    o->follow_redirects = false;
    o->max_redirects = 10;
}

typedef enum { OPT_BOOL, OPT_UNSIGNED, OPT_SIZE, OPT_U64 } opt_type_t;

typedef struct {
    const char *key;
    opt_type_t type;
    size_t offset;
    uint64_t min, max;
} opt_desc_t;

#define OPT(key, type, field, min, max)                                                            \
    {                                                                                              \
        key, type, offsetof(eddy_http_client_options_t, field), min, max                           \
    }

static const opt_desc_t options[] = {
    OPT("connect_timeout", OPT_U64, connect_timeout, 1, MAX_CONNECT_MS),
    OPT("request_timeout", OPT_U64, request_timeout, 1, MAX_TIMEOUT_MS),
    OPT("max_response_size", OPT_SIZE, max_response_size, 1, MAX_SIZE),
    OPT("max_header_size", OPT_SIZE, max_header_size, MIN_HEADER_SIZE, MAX_HEADER_SIZE),
    OPT("max_headers", OPT_SIZE, max_headers, 1, MAX_HEADERS),
    OPT("max_connections_per_host", OPT_SIZE, max_connections_per_host, 1, MAX_CONNS),
    OPT("max_idle_per_host", OPT_SIZE, max_idle_per_host, 0, MAX_CONNS),
    OPT("idle_timeout", OPT_U64, idle_timeout, 1, MAX_TIMEOUT_MS),
    OPT("follow_redirects", OPT_BOOL, follow_redirects, 0, 1),
    OPT("max_redirects", OPT_UNSIGNED, max_redirects, 0, MAX_REDIRECTS),
};

static int set_field(eddy_http_client_options_t *o, const opt_desc_t *d, const char *value)
{
    char *field = (char *)o + d->offset;
    if (d->type == OPT_BOOL) return eddy__parse_bool(value, (bool *)field);
    uint64_t v;
    int rc = eddy__parse_uint(value, d->min, d->max, &v);
    if (rc < 0) return rc;
    switch (d->type) {
    case OPT_UNSIGNED: *(unsigned *)field = (unsigned)v; break;
    case OPT_SIZE: *(size_t *)field = (size_t)v; break;
    default: *(uint64_t *)field = v; break;
    }
    return 0;
}

int eddy_http_client_options_set(eddy_http_client_options_t *o, const char *key, const char *value)
{
    if (!key) return -EDDY_EUNKNOWN_OPTION;
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
        if (strcmp(key, options[i].key) != 0) continue;
        return value ? set_field(o, &options[i], value) : -EDDY_EOPTION;
    }
    return -EDDY_EUNKNOWN_OPTION;
}

static bool field_in_range(const eddy_http_client_options_t *o, const opt_desc_t *d)
{
    const char *field = (const char *)o + d->offset;
    uint64_t v;
    switch (d->type) {
    case OPT_BOOL: return true;
    case OPT_UNSIGNED: v = *(const unsigned *)field; break;
    case OPT_SIZE: v = *(const size_t *)field; break;
    default: v = *(const uint64_t *)field; break;
    }
    return v >= d->min && v <= d->max;
}

int eddy_http_client_options_validate(const eddy_http_client_options_t *o)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (!field_in_range(o, &options[i])) return -EDDY_EOPTION;
    return 0;
}
