/*  fuzz_peer.c — libFuzzer target: a frame from another member, as the
    peer transport reads one (decoded under the peer limits), then what
    the receiving member decodes out of it: the client requests inside the
    raft entries (as storage applies them) and the events (as the raft
    actor publishes them). No input may crash, leak or overrun. */
#include <stdlib.h>

#include "zkv_msgs.h"

static void
s_decode (zkv_bin_t bytes, const zkv_desc_t *desc)
{
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_msg_decode_body (bytes.data, bytes.size, desc, zone, &limits, &status);
    msgpack_zone_free (zone);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zkv_limits_t limits = { 256 << 20, 8, 1 << 24, false };
    zkv_result_t status;
    zkv_msg_t *msg = zkv_msg_decode (data, size, ZKV_KIND_PEER, &limits, &status);
    if (msg && msg->desc == &zkv_peer_frame_desc) {
        const zkv_peer_frame_t *frame = (const zkv_peer_frame_t *) msg->body;
        for (size_t i = 0; i < frame->messages.count; i++)
            for (size_t e = 0; e < frame->messages.items [i].entries.count; e++)
                s_decode (frame->messages.items [i].entries.items [e].data,
                          &zkv_internal_request_desc);
        for (size_t i = 0; i < frame->events.count; i++) {
            s_decode (frame->events.items [i].body, &zkv_transfer_event_desc);
            s_decode (frame->events.items [i].body, &zkv_member_event_desc);
        }
    }
    zkv_msg_destroy (&msg);
    return 0;
}
