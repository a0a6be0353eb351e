/* HTTP server options: defaults, Swoole-style string keys, validation. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "eddy/error.h"
#include "http_internal.h"

void eddy_http_options_init(eddy_http_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->compression = true;
    o->compression_level = 1;
    o->compression_min_length = 20;
    strcpy(o->compression_types, EDDY_HTTP_DEFAULT_COMPRESSION_TYPES);
    strcpy(o->server_name, "eddy");
    o->pipeline_max = 16;
    eddy_port_options_init(&o->port);
    o->port.framing.mode = EDDY_FRAME_HTTP;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "on", "yes"};
    static const char *const no[] = {"0", "false", "off", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
    }
    return -EDDY_EOPTION;
}

static int parse_num(const char *s, size_t min, size_t max, size_t *out)
{
    size_t v = 0;
    if (!*s) return -EDDY_EOPTION;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -EDDY_EOPTION;
        if (v > (max - (size_t)(*s - '0')) / 10) return -EDDY_EOPTION;
        v = v * 10 + (size_t)(*s - '0');
    }
    if (v < min) return -EDDY_EOPTION;
    *out = v;
    return 0;
}

static int set_string(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    if (n >= cap) return -EDDY_EOPTION;
    memcpy(dst, value, n + 1);
    return 0;
}

/* "type/subtype", or "type/" and an asterisk: tokens, separated by commas and spaces. */
static bool valid_types(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p) break;
        const char *e = p;
        int slashes = 0;
        while (*e && *e != ',' && *e != ' ') {
            unsigned char c = (unsigned char)*e;
            if (c == '/')
                slashes++;
            else if (!(c > 0x20 && c < 0x7f && !strchr("\"(),:;<=>?@[\\]{}", c)))
                return false;
            e++;
        }
        if (slashes != 1 || p[0] == '/' || e[-1] == '/') return false;
        n++;
        p = e;
    }
    return n > 0;
}

/* A value that looks like a server name: visible ASCII and spaces. */
static bool valid_text(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) return false;
    return true;
}

int eddy_http_options_set(eddy_http_options_t *o, const char *key, const char *value)
{
    if (!key) return -EDDY_EUNKNOWN_OPTION;
    if (!value) return -EDDY_EOPTION;
    size_t v;
    if (strcmp(key, "http_compression") == 0) return parse_bool(value, &o->compression);
    if (strcmp(key, "http_compression_level") == 0) {
        if (parse_num(value, 1, 9, &v) < 0) return -EDDY_EOPTION;
        o->compression_level = (int)v;
        return 0;
    }
    if (strcmp(key, "http_compression_min_length") == 0 ||
        strcmp(key, "compression_min_length") == 0)
        return parse_num(value, 0, (size_t)1 << 40, &o->compression_min_length);
    if (strcmp(key, "http_compression_types") == 0) {
        if (!valid_types(value)) return -EDDY_EOPTION;
        return set_string(o->compression_types, sizeof o->compression_types, value);
    }
    if (strcmp(key, "http_server_name") == 0) {
        if (!valid_text(value)) return -EDDY_EOPTION;
        return set_string(o->server_name, sizeof o->server_name, value);
    }
    if (strcmp(key, "http_access_log") == 0)
        return set_string(o->access_log, sizeof o->access_log, value);
    if (strcmp(key, "http_pipeline_max") == 0) return parse_num(value, 1, 1024, &o->pipeline_max);
    if (strcmp(key, "open_http_protocol") == 0) { /* always on for an HTTP port */
        bool on;
        return parse_bool(value, &on) == 0 && on ? 0 : -EDDY_EOPTION;
    }
    return eddy_port_options_set(&o->port, key, value);
}

int eddy__http_options_validate(const eddy_http_options_t *o)
{
    if (o->compression_level < 1 || o->compression_level > 9) return -EDDY_EOPTION;
    if (o->pipeline_max < 1 || o->pipeline_max > 1024) return -EDDY_EOPTION;
    if (!memchr(o->compression_types, '\0', sizeof o->compression_types)) return -EDDY_EOPTION;
    if (!memchr(o->server_name, '\0', sizeof o->server_name) || !valid_text(o->server_name))
        return -EDDY_EOPTION;
    if (!memchr(o->access_log, '\0', sizeof o->access_log)) return -EDDY_EOPTION;
    if (o->compression && !valid_types(o->compression_types)) return -EDDY_EOPTION;
    if (o->port.framing.mode != EDDY_FRAME_HTTP) return -EDDY_EOPTION;
    return eddy_port_options_validate(&o->port);
}
