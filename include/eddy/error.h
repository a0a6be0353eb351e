/*
 * eddy/error.h — error codes.
 *
 * Every eddy function that can fail returns a negative code: system errors
 * are -errno (as in libuv), eddy's own errors are the -EDDY_E* values below,
 * all below -4000 so they never collide with an errno. eddy_strerror() and
 * eddy_err_name() describe any of them and never return NULL; the strings are
 * static and must not be freed.
 */
#ifndef EDDY_ERROR_H
#define EDDY_ERROR_H

#include "common.h"

/* X(name, value, message): the single table both functions are generated from. */
#define EDDY_ERRNO_MAP(X)                                                                          \
    X(EOUTPUT_FULL, 4001, "output buffer limit reached; nothing was queued")                       \
    X(ECLOSING, 4002, "connection is closing or closed")                                           \
    X(EPACKET_TOO_BIG, 4003, "packet exceeds package_max_length")                                  \
    X(EBADLEN, 4004, "invalid value in packet length header")                                      \
    X(EOPTION, 4005, "invalid option value")                                                       \
    X(EUNKNOWN_OPTION, 4006, "unknown option name")                                                \
    X(EADDR, 4007, "malformed address")                                                            \
    X(ERESOLVE, 4008, "host name could not be resolved")                                           \
    X(ENOHOST, 4009, "host name has no address of the requested family")                           \
    X(ECONN_LIMIT, 4010, "max_connection reached")                                                 \
    X(ELINGER, 4011, "peer did not acknowledge all output before the linger deadline")             \
    X(ESTATE, 4012, "operation not allowed in the object's current state")                         \
    X(ETIMER, 4013, "no live timer with that id")                                                  \
    X(ESESSION, 4014, "no such session: the connection is gone or belongs elsewhere")              \
    X(EURL_DECODE, 4015,                                                                           \
      "malformed percent-encoding: '%' without two hex digits, or a refused %00")                  \
    X(EHTTP_INCOMPLETE, 4100, "HTTP message incomplete: more bytes are needed")                    \
    X(EHTTP_PARSE, 4101, "malformed or refused HTTP message")                                      \
    /* 4200..4219: multipart bodies and uploads (multipart.h, http_upload.h) */                    \
    X(EMULTIPART_TYPE, 4200, "Content-Type is not a well-formed multipart/form-data value")        \
    X(EMULTIPART_BOUNDARY, 4201, "multipart boundary missing, repeated or not 1-70 bchars")        \
    X(EMULTIPART, 4202, "malformed or refused multipart body")                                     \
    X(EUPLOAD_TOO_BIG, 4203, "uploaded file larger than upload_max_filesize")

enum {
#define EDDY_ERR_ENUM_(name, value, msg) EDDY_##name = value,
    EDDY_ERRNO_MAP(EDDY_ERR_ENUM_)
#undef EDDY_ERR_ENUM_
};

/* Human-readable description of any eddy or system error code (negative). */
EDDY_EXPORT const char *eddy_strerror(int err);

/* Symbolic name: "EDDY_EOUTPUT_FULL", "ECONNRESET", ... ("EUNKNOWN" if none). */
EDDY_EXPORT const char *eddy_err_name(int err);

#endif
