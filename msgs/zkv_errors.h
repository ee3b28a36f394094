/*  zkv_errors.h — the errors a client can see (declared in zkv_errors.def).

    A zkv_result_t carries one of them with an optional detail that follows
    the fixed text after ": " (e.g. `zkv: malformed request: field "key"
    must be bin, got str`).
*/
#ifndef ZKV_ERRORS_H_INCLUDED
#define ZKV_ERRORS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef enum {
#define ZKV_ERROR(name, code, message) ZKV_ERR_##name,
#include "zkv_errors.def"
#undef ZKV_ERROR
    ZKV_ERR_COUNT
} zkv_err_t;

typedef struct {
    zkv_err_t err;                      //  ZKV_ERR_OK when all went well
    char detail [200];                  //  optional, appended to the message
} zkv_result_t;

//  The gRPC code name of an error ("InvalidArgument", ...)
const char *
    zkv_err_code (zkv_err_t err);

//  The fixed message of an error (etcd's text where etcd has one)
const char *
    zkv_err_message (zkv_err_t err);

//  Sets status to err with a printf-style detail (fmt may be NULL).
//  Returns -1 so that callers can `return zkv_status_set (...)`.
int
    zkv_status_set (zkv_result_t *status, zkv_err_t err, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Writes the full message of a status (message, ": ", detail) into buf
const char *
    zkv_status_text (const zkv_result_t *status, char *buf, size_t size);

static inline bool
zkv_status_ok (const zkv_result_t *status)
{
    return status->err == ZKV_ERR_OK;
}

#endif
