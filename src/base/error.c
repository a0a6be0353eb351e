#include <netdb.h>
#include <string.h>

#include "eddy/error.h"

const char *eddy_strerror(int err)
{
    switch (-err) {
#define EDDY_ERR_MSG_(name, value, msg)                                                            \
    case EDDY_##name:                                                                              \
        return msg;
        EDDY_ERRNO_MAP(EDDY_ERR_MSG_)
#undef EDDY_ERR_MSG_
    }
    if (err == 0) return "success";
    const char *s = err < 0 ? strerrordesc_np(-err) : NULL;
    return s ? s : "unknown error";
}

const char *eddy_err_name(int err)
{
    switch (-err) {
#define EDDY_ERR_NAME_(name, value, msg)                                                           \
    case EDDY_##name:                                                                              \
        return "EDDY_" #name;
        EDDY_ERRNO_MAP(EDDY_ERR_NAME_)
#undef EDDY_ERR_NAME_
    }
    if (err == 0) return "OK";
    const char *s = err < 0 ? strerrorname_np(-err) : NULL;
    return s ? s : "EUNKNOWN";
}
