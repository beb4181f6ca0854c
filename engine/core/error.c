/* error.c -- see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tp_error_set(tp_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int tp_error_prefix(tp_error *err, const char *fmt, ...)
{
    if (!err)
        return TP_EINVAL;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s%s", head, old);
    return err->code;
}

const char *tp_strerror(int code)
{
    switch (code) {
    case TP_OK: return "ok";
    case TP_ENOMEM: return "out of memory";
    case TP_EIO: return "input/output error";
    case TP_EINVAL: return "invalid input";
    case TP_ECONFIG: return "invalid configuration";
    case TP_EPLUGIN: return "plugin error";
    case TP_ENOTFOUND: return "not found";
    case TP_EPARSE: return "parse error";
    case TP_EUSAGE: return "usage error";
    case TP_ESTOP: return "stopped";
    case TP_ELIMIT: return "limit exceeded";
    case TP_EDB: return "database error";
    case TP_ELOST: return "job lease lost";
    case TP_ECANCELLED: return "cancelled";
    case TP_ECRASHED: return "plugin failed";
    case TP_ECORRUPT: return "corrupt stored data";
    default: return "unknown error";
    }
}
