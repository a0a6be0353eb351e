/* Routing on the decoded path: exact routes in a sorted array (binary
 * search), prefix routes sorted longest first (the first that matches is
 * the longest), then the fallback. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

typedef struct route {
    char *pattern;
    size_t len;
    eddy_http_handler_fn fn;
    void *ud;
} route_t;

typedef struct route_list {
    route_t *v;
    size_t n, cap;
} route_list_t;

struct eddy_http_router {
    route_list_t exact;  /* by pattern */
    route_list_t prefix; /* longest first */
    eddy_http_handler_fn fallback;
    void *fallback_ud;
};

int eddy_http_router_new(eddy_http_router_t **out)
{
    eddy_http_router_t *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    *out = r;
    return 0;
}

static void list_free(route_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].pattern);
    free(l->v);
}

void eddy_http_router_free(eddy_http_router_t *r)
{
    if (!r) return;
    list_free(&r->exact);
    list_free(&r->prefix);
    free(r);
}

static int cmp_exact(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

/* Where pattern goes (or is) in l. */
static size_t find_pos(const route_list_t *l, const char *p, size_t len, bool by_length)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const route_t *m = &l->v[mid];
        int c = by_length && m->len != len ? (m->len > len ? -1 : 1)
                                           : cmp_exact(m->pattern, m->len, p, len);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int eddy_http_route(eddy_http_router_t *r, const char *pattern, eddy_http_match_t match,
                    eddy_http_handler_fn fn, void *ud)
{
    if (!pattern || !*pattern || !fn) return -EINVAL;
    if (match != EDDY_HTTP_EXACT && match != EDDY_HTTP_PREFIX) return -EINVAL;
    route_list_t *l = match == EDDY_HTTP_EXACT ? &r->exact : &r->prefix;
    size_t len = strlen(pattern);
    bool by_length = match == EDDY_HTTP_PREFIX;
    size_t pos = find_pos(l, pattern, len, by_length);
    if (pos < l->n && l->v[pos].len == len && memcmp(l->v[pos].pattern, pattern, len) == 0)
        return -EEXIST;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        route_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    char *copy = strdup(pattern);
    if (!copy) return -ENOMEM;
    memmove(l->v + pos + 1, l->v + pos, (l->n - pos) * sizeof *l->v);
    l->v[pos] = (route_t){copy, len, fn, ud};
    l->n++;
    return 0;
}

void eddy_http_router_fallback(eddy_http_router_t *r, eddy_http_handler_fn fn, void *ud)
{
    r->fallback = fn;
    r->fallback_ud = ud;
}

static const route_t *lookup(const eddy_http_router_t *r, eddy_http_str_t path)
{
    const route_list_t *l = &r->exact;
    size_t pos = find_pos(l, path.ptr, path.len, false);
    if (pos < l->n && l->v[pos].len == path.len &&
        memcmp(l->v[pos].pattern, path.ptr, path.len) == 0)
        return &l->v[pos];
    for (size_t i = 0; i < r->prefix.n; i++) {
        const route_t *p = &r->prefix.v[i];
        if (p->len <= path.len && memcmp(p->pattern, path.ptr, p->len) == 0) return p;
    }
    return NULL;
}

void eddy_http_router_handler(eddy_http_req_t *req, eddy_http_res_t *res, void *router)
{
    const eddy_http_router_t *r = router;
    const route_t *route = lookup(r, eddy_http_path(req));
    if (route) {
        route->fn(req, res, route->ud);
        return;
    }
    if (r->fallback) {
        r->fallback(req, res, r->fallback_ud);
        return;
    }
    eddy_http_set_status(res, 404);
    eddy_http_set_header(res, "Content-Type", "text/plain");
    eddy_http_end(res, "404 Not Found\n", 14);
}
