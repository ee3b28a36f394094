/*  fuzz_request.c — libFuzzer target: a client request, as front reads one
    from its socket: peeked (id and op for the error reply; the error code
    front reads from a reply body, zkv_wire's walk too), decoded under
    the request limits, checked with etcd's rules, and encoded again as
    front does when it routes it. No input may crash, leak or overrun. */
#include <stdlib.h>

#include "zkv_check.h"
#include "zkv_msgs.h"
#include "zkv_wire.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    bool has_id;
    uint64_t id;
    char op [32];
    zkv_msg_peek (data, size, &has_id, &id, op, sizeof op);
    char code [32];
    zkv_wire_error_code (data, size, code, sizeof code);
    zkv_limits_t limits = zkv_limits_request (1572864);
    zkv_result_t status;
    zkv_msg_t *msg = zkv_msg_decode (data, size, ZKV_KIND_REQUEST, &limits, &status);
    if (msg) {
        zkv_check_request (msg->desc, msg->body, 128, &status);
        size_t encoded_size;
        free (zkv_msg_encode_body (msg->desc, msg->body, &encoded_size));
        zkv_msg_destroy (&msg);
    }
    return 0;
}
