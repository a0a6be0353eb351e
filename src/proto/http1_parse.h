/*
 * HTTP/1.1 head parser, instantiated once per SIMD code path by http1.c.
 *
 * Not a normal header: http1.c defines, before each inclusion,
 *   HTTP1_FN           attributes for every function here (a target("...")
 *                      attribute, so the scanners inline without -m flags)
 *   HTTP1_NAME(n)      n with the path's suffix
 *   SCAN_TOKEN(p, e)   first byte in [p, e) that is not a tchar, or e
 *   SCAN_VALUE(p, e)   first control byte other than HTAB, or DEL, or e
 *   SCAN_TARGET(p, e)  first byte <= 0x20 or DEL, or e
 *   SCAN_PATH(p, e)    the same, or '?'
 *   SCAN_HOST(p, e)    first byte that may not appear in a Host value, or e
 * and the shared helpers (parser_t, fail_at, need_more, on_field, ...).
 * Every scanner reads only [p, e), so the parser never reads outside the
 * window [P->buf, P->end) the caller's bytes define.
 */

/* With last_len != 0, look only at bytes not seen before (from 3 before
 * last_len, so a terminator straddling the old end is found) for the end of
 * the head or a byte that is never valid in a head. Returns true when the full
 * parse must run, false when the head is still open. Every CR and LF is
 * visited once per call, so byte-at-a-time input costs linear work. */
HTTP1_FN static bool HTTP1_NAME(head_ready)(const parser_t *P, size_t last_len)
{
    const char *buf = P->buf, *end = P->end;
    const char *p = buf + (last_len < 3 ? 0 : last_len - 3);
    if (p > end) return true; /* past the limit already: let the full parse say so */
    for (;;) {
        p = SCAN_VALUE(p, end);
        if (p == end) return false;
        if (*p == '\r') {
            if (p + 1 == end) return false;
            if (p[1] != '\n') return true; /* bare CR */
            p++;
        } else if (*p != '\n') {
            return true; /* NUL, another control byte, or DEL */
        } else if (p == buf || p[-1] != '\r') {
            if (!P->lf) return true; /* bare LF */
            if (p > buf && p[-1] == '\n') return true;
            p++;
            continue;
        }
        /* p is the LF of a CRLF: an empty line ends the head. */
        if (p - buf >= 2 && p[-2] == '\n') return true;
        p++;
    }
}

/* Field lines up to and including the empty line. Returns the byte after
 * it, or NULL with P->rc set. */
HTTP1_FN static const char *HTTP1_NAME(parse_fields)(parser_t *P, const char *p,
                                                     eddy_http1_header_t *h, size_t cap,
                                                     size_t *num)
{
    const char *end = P->end;
    size_t n = 0;
    for (;;) {
        if (p == end) return need_more(P);
        if (*p == '\r') {
            if (p + 1 == end) return need_more(P);
            if (p[1] != '\n') return fail_at(P, EDDY_HTTP1_ERR_NEWLINE, p);
            p += 2;
            break;
        }
        if (*p == '\n') {
            if (!P->lf) return fail_at(P, EDDY_HTTP1_ERR_NEWLINE, p);
            p++;
            break;
        }
        if (*p == ' ' || *p == '\t')
            return fail_at(P, n ? EDDY_HTTP1_ERR_OBS_FOLD : EDDY_HTTP1_ERR_HEADER_NAME, p);
        if (n == cap) return fail_at(P, EDDY_HTTP1_ERR_TOO_MANY_HEADERS, p);

        const char *name = p;
        p = SCAN_TOKEN(p, end);
        if (p == end) return need_more(P);
        if (EDDY_UNLIKELY(*p != ':' || p == name)) {
            if (p != name && (*p == ' ' || *p == '\t'))
                return fail_at(P, EDDY_HTTP1_ERR_SPACE_BEFORE_COLON, p);
            return fail_at(P, EDDY_HTTP1_ERR_HEADER_NAME, p);
        }
        size_t name_len = (size_t)(p - name);
        /* OWS is not a stop, so the scan runs from the colon; skipping the
         * leading OWS afterwards keeps it off the path to the next line. */
        const char *value = ++p;
        p = SCAN_VALUE(p, end);
        if (p == end) return need_more(P);
        const char *value_end = p;
        if (EDDY_LIKELY(*p == '\r')) {
            if (p + 1 == end) return need_more(P);
            if (p[1] != '\n') return fail_at(P, EDDY_HTTP1_ERR_NEWLINE, p);
            p += 2;
        } else if (*p == '\n') {
            if (!P->lf) return fail_at(P, EDDY_HTTP1_ERR_NEWLINE, p);
            p++;
        } else {
            return fail_at(P, EDDY_HTTP1_ERR_HEADER_VALUE, p);
        }
        while (value != value_end && (*value == ' ' || *value == '\t'))
            value++;
        while (value_end != value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        h[n].name.ptr = name;
        h[n].name.len = name_len;
        h[n].value.ptr = value;
        h[n].value.len = (size_t)(value_end - value);
        n++;
        if (EDDY_UNLIKELY(maybe_special(name, name_len)) &&
            on_field(P, name, name_len, value, (size_t)(value_end - value)) < 0)
            return NULL;
    }
    *num = n;
    return p;
}

/* The line ending after the start line. */
HTTP1_FN static const char *HTTP1_NAME(line_end)(parser_t *P, const char *p, eddy_http1_error_t err)
{
    if (p == P->end) return need_more(P);
    if (EDDY_LIKELY(*p == '\r')) {
        if (p + 1 == P->end) return need_more(P);
        if (p[1] != '\n') return fail_at(P, EDDY_HTTP1_ERR_NEWLINE, p);
        return p + 2;
    }
    if (*p == '\n') return P->lf ? p + 1 : fail_at(P, EDDY_HTTP1_ERR_NEWLINE, p);
    return fail_at(P, err, p);
}

HTTP1_FN static int HTTP1_NAME(parse_request)(const char *buf, size_t len, size_t last_len,
                                              eddy_http1_request_t *req,
                                              const eddy_http1_limits_t *lim)
{
    parser_t P_;
    parser_t *P = &P_;
    parser_init(P, buf, len, lim, true);
    req->error = EDDY_HTTP1_ERR_NONE;
    req->error_offset = 0;
    if (len == 0) return EDDY_HTTP1_INCOMPLETE;
    if (last_len != 0 && last_len <= len && !HTTP1_NAME(head_ready)(P, last_len) && len < P->max)
        return EDDY_HTTP1_INCOMPLETE;

    const char *p = buf, *end = P->end;
    /* One empty line before the request line is ignored (RFC 9112 2.2). */
    if (*p == '\r' || *p == '\n') {
        p = HTTP1_NAME(line_end)(P, p, EDDY_HTTP1_ERR_NEWLINE);
        if (!p) goto done;
    }

    const char *method = p;
    while (p != end && (cls[(unsigned char)*p] & C_TOKEN))
        p++;
    if (p == end) goto more;
    if (*p != ' ' || p == method) {
        p = fail_at(P, EDDY_HTTP1_ERR_METHOD, p);
        goto done;
    }
    req->method.ptr = method;
    req->method.len = (size_t)(p - method);
    p++;

    const char *target = p, *query = NULL;
    p = SCAN_PATH(p, end);
    if (p != end && *p == '?') {
        query = p;
        p = SCAN_TARGET(p + 1, end);
    }
    if ((size_t)(p - target) > P->lim->max_target_size) {
        p = fail_at(P, EDDY_HTTP1_ERR_TARGET_TOO_LONG, target + P->lim->max_target_size);
        goto done;
    }
    if (p == end) goto more;
    if (*p != ' ' || p == target) {
        p = fail_at(P,
                    p != target && (*p == '\r' || *p == '\n') ? EDDY_HTTP1_ERR_REQUEST_LINE
                                                              : EDDY_HTTP1_ERR_TARGET,
                    p);
        goto done;
    }
    req->target.ptr = target;
    req->target.len = (size_t)(p - target);
    p++;

    int minor = 0;
    if (!(p = parse_version(P, p, &minor))) goto done;
    if (!(p = HTTP1_NAME(line_end)(P, p, EDDY_HTTP1_ERR_REQUEST_LINE))) goto done;
    req->minor_version = minor;
    req->method_id = method_id(req->method.ptr, req->method.len);
    if (analyze_target(P, req, query) < 0) goto error;

    size_t cap = req->max_headers < lim->max_headers ? req->max_headers : lim->max_headers;
    if (!(p = HTTP1_NAME(parse_fields)(P, p, req->headers, cap, &req->num_headers))) goto done;
    if (P->f.host.ptr) {
        const char *h = P->f.host.ptr, *h_end = h + P->f.host.len, *bad = SCAN_HOST(h, h_end);
        if (bad != h_end) {
            fail_at(P, EDDY_HTTP1_ERR_HOST, bad);
            goto error;
        }
    }
    if (finish_request(P, req, p) < 0) goto error;
    return (int)(p - buf);

more:
    need_more(P);
done:
    if (P->rc == EDDY_HTTP1_INCOMPLETE) return EDDY_HTTP1_INCOMPLETE;
error:
    req->error = P->err;
    req->error_offset = P->err_at;
    return EDDY_HTTP1_ERROR;
}

HTTP1_FN static int HTTP1_NAME(parse_response)(const char *buf, size_t len, size_t last_len,
                                               eddy_http1_response_t *res,
                                               const eddy_http1_limits_t *lim)
{
    parser_t P_;
    parser_t *P = &P_;
    parser_init(P, buf, len, lim, false);
    res->error = EDDY_HTTP1_ERR_NONE;
    res->error_offset = 0;
    if (len == 0) return EDDY_HTTP1_INCOMPLETE;
    if (last_len != 0 && last_len <= len && !HTTP1_NAME(head_ready)(P, last_len) && len < P->max)
        return EDDY_HTTP1_INCOMPLETE;

    const char *p = buf, *end = P->end;
    int minor = 0;
    if (!(p = parse_version(P, p, &minor))) goto done;
    if (p == end) goto more;
    if (*p != ' ') {
        p = fail_at(P, EDDY_HTTP1_ERR_STATUS, p);
        goto done;
    }
    p++;
    int status = 0;
    for (int i = 0; i < 3; i++, p++) {
        if (p == end) goto more;
        if (*p < '0' || *p > '9' || (i == 0 && *p == '0')) {
            p = fail_at(P, EDDY_HTTP1_ERR_STATUS, p);
            goto done;
        }
        status = status * 10 + (*p - '0');
    }
    if (p == end) goto more;
    const char *reason = p;
    if (*p == ' ') {
        reason = ++p;
        p = SCAN_VALUE(p, end);
        if (p == end) goto more;
    }
    res->reason.ptr = reason;
    res->reason.len = (size_t)(p - reason);
    if (!(p = HTTP1_NAME(line_end)(P, p, EDDY_HTTP1_ERR_STATUS))) goto done;
    res->minor_version = minor;
    res->status = status;

    size_t cap = res->max_headers < lim->max_headers ? res->max_headers : lim->max_headers;
    if (!(p = HTTP1_NAME(parse_fields)(P, p, res->headers, cap, &res->num_headers))) goto done;
    if (finish_response(P, res, p) < 0) goto error;
    return (int)(p - buf);

more:
    need_more(P);
done:
    if (P->rc == EDDY_HTTP1_INCOMPLETE) return EDDY_HTTP1_INCOMPLETE;
error:
    res->error = P->err;
    res->error_offset = P->err_at;
    return EDDY_HTTP1_ERROR;
}
