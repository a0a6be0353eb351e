#include <limits.h>
#include <string.h>

#include "eddy/error.h"

/* Codes are matched as negative values: negating err instead would overflow
 * for INT_MIN. */

const char *eddy_strerror(int err)
{
    switch (err) {
#define EDDY_ERR_MSG_(name, value, msg)                                                            \
    case -(value): return msg;
        EDDY_ERRNO_MAP(EDDY_ERR_MSG_)
#undef EDDY_ERR_MSG_
    }
    if (err == 0) return "success";
    const char *s = err < 0 && err > INT_MIN ? strerrordesc_np(-err) : NULL;
    return s ? s : "unknown error";
}

const char *eddy_err_name(int err)
{
    switch (err) {
#define EDDY_ERR_NAME_(name, value, msg)                                                           \
    case -(value): return "EDDY_" #name;
        EDDY_ERRNO_MAP(EDDY_ERR_NAME_)
#undef EDDY_ERR_NAME_
    }
    if (err == 0) return "OK";
    const char *s = err < 0 && err > INT_MIN ? strerrorname_np(-err) : NULL;
    return s ? s : "EUNKNOWN";
}
