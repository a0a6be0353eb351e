/* HTTP server options: defaults, Swoole-style string keys, validation. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/base_internal.h"
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
    strcpy(o->static_index_files, EDDY_STATIC_DEFAULT_INDEX_FILES);
    strcpy(o->static_prefix, "/");
    strcpy(o->upload_tmp_dir, EDDY_UPLOAD_DEFAULT_TMP_DIR);
    o->upload_max_filesize = EDDY_UPLOAD_DEFAULT_MAX_FILESIZE;
    o->upload_max_body = EDDY_HTTP_DEFAULT_UPLOAD_MAX_BODY;
    eddy_port_options_init(&o->port);
    o->port.framing.mode = EDDY_FRAME_HTTP;
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

/* A URL path prefix: '/' first, then visible ASCII (a decoded path is
 * compared with it byte for byte). */
static bool valid_prefix(const char *s)
{
    if (s[0] != '/') return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) return false;
    return true;
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
    if (strcmp(key, "http_compression") == 0) return eddy__parse_bool(value, &o->compression);
    if (strcmp(key, "http_compression_level") == 0) {
        if (eddy__parse_size(value, 1, 9, &v) < 0) return -EDDY_EOPTION;
        o->compression_level = (int)v;
        return 0;
    }
    if (strcmp(key, "http_compression_min_length") == 0 ||
        strcmp(key, "compression_min_length") == 0)
        return eddy__parse_size(value, 0, (size_t)1 << 40, &o->compression_min_length);
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
    if (strcmp(key, "http_pipeline_max") == 0)
        return eddy__parse_size(value, 1, 1024, &o->pipeline_max);
    if (strcmp(key, "enable_static_handler") == 0)
        return eddy__parse_bool(value, &o->enable_static_handler);
    if (strcmp(key, "document_root") == 0) {
        if (!value[0]) return -EDDY_EOPTION;
        return set_string(o->document_root, sizeof o->document_root, value);
    }
    if (strcmp(key, "static_index_files") == 0 || strcmp(key, "http_index_files") == 0)
        return set_string(o->static_index_files, sizeof o->static_index_files, value);
    if (strcmp(key, "static_prefix") == 0) {
        if (!valid_prefix(value)) return -EDDY_EOPTION;
        return set_string(o->static_prefix, sizeof o->static_prefix, value);
    }
    if (strcmp(key, "upload_tmp_dir") == 0) {
        if (!value[0]) return -EDDY_EOPTION;
        return set_string(o->upload_tmp_dir, sizeof o->upload_tmp_dir, value);
    }
    if (strcmp(key, "upload_max_filesize") == 0)
        return eddy__parse_uint(value, 1, UINT64_MAX, &o->upload_max_filesize);
    if (strcmp(key, "upload_max_body") == 0)
        return eddy__parse_uint(value, 1, UINT64_MAX, &o->upload_max_body);
    if (strcmp(key, "open_http_protocol") == 0) { /* always on for an HTTP port */
        bool on;
        return eddy__parse_bool(value, &on) == 0 && on ? 0 : -EDDY_EOPTION;
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
    if (!memchr(o->document_root, '\0', sizeof o->document_root) ||
        !memchr(o->static_index_files, '\0', sizeof o->static_index_files) ||
        !memchr(o->static_prefix, '\0', sizeof o->static_prefix) ||
        !memchr(o->upload_tmp_dir, '\0', sizeof o->upload_tmp_dir))
        return -EDDY_EOPTION;
    if (o->enable_static_handler && (!o->document_root[0] || !valid_prefix(o->static_prefix)))
        return -EDDY_EOPTION;
    if (!o->upload_tmp_dir[0] || o->upload_max_filesize == 0 || o->upload_max_body == 0)
        return -EDDY_EOPTION;
    if (o->port.framing.mode != EDDY_FRAME_HTTP) return -EDDY_EOPTION;
    return eddy_port_options_validate(&o->port);
}
