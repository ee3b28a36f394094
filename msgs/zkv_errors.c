/*  zkv_errors.c — names and texts of the errors in zkv_errors.def. */
#include "zkv_errors.h"
#include "zkv_utf8.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    const char *code;
    const char *message;
} s_errors [] = {
#define ZKV_ERROR(name, code, message) { code, message },
#include "zkv_errors.def"
#undef ZKV_ERROR
};

const char *
zkv_err_code (zkv_err_t err)
{
    return err < ZKV_ERR_COUNT? s_errors [err].code: "Unknown";
}

const char *
zkv_err_message (zkv_err_t err)
{
    return err < ZKV_ERR_COUNT? s_errors [err].message: "zkv: unknown error";
}

int
zkv_status_set (zkv_result_t *status, zkv_err_t err, const char *fmt, ...)
{
    status->err = err;
    status->detail [0] = 0;
    if (fmt) {
        va_list args;
        va_start (args, fmt);
        vsnprintf (status->detail, sizeof status->detail, fmt, args);
        va_end (args);
        //  Details may quote the request's own bytes, and go out as text
        zkv_utf8_escape (status->detail, sizeof status->detail);
    }
    return -1;
}

const char *
zkv_status_text (const zkv_result_t *status, char *buf, size_t size)
{
    if (status->detail [0])
        snprintf (buf, size, "%s: %s", zkv_err_message (status->err), status->detail);
    else
        snprintf (buf, size, "%s", zkv_err_message (status->err));
    return buf;
}
