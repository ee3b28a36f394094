/*  =========================================================================
    zkv_snapshotter.c — the snapshotter actor (see zkv_snapshotter.h).
    =========================================================================
*/
#include "zkv_snapshotter.h"
#include "zkv_actor_io.h"
#include "zkv_image.h"

#include <stdlib.h>
#include <string.h>

#define MAX_STREAMS 4
#define STALL_MSECS 60000               //  without credit before a stream is dropped
#define DEFAULT_CREDIT 8
#define DEFAULT_CHUNK (32 * 1024)       //  etcd's
#define MIN_CHUNK 4096
#define MAX_CHUNK (4 * 1024 * 1024)
#define MAX_AHEAD (64 * 1024 * 1024)    //  bytes of replies granted at most

typedef struct {
    uint64_t wait;                      //  front's number for the request
    const rocksdb_snapshot_t *snapshot;
    zkv_image_writer_t *writer;
    uint64_t total;                     //  image bytes
    uint64_t sent;
    uint64_t credit;                    //  replies the client can take
    size_t chunk;
    uint8_t *buffer;                    //  chunk bytes
    int64_t stalled_since;              //  when credit ran out
} s_stream_t;

typedef struct {
    zsock_t *pipe;
    zkv_snapshotter_args_t *args;
    zsock_t *inbox;
    zsock_t *front;
    zpoller_t *poller;
    s_stream_t streams [MAX_STREAMS];
    size_t count;
    bool terminated;
} self_t;

//  Sends front one reply of stream wait: a response, or status's error
static void
s_piece (self_t *self, uint64_t wait, const zkv_snapshot_response_t *response,
         const zkv_result_t *status, bool last)
{
    size_t size;
    uint8_t *body;
    if (status) {
        zkv_header_t header = { 0 };
        body = zkv_msg_encode_error (status, &header, &size);
    }
    else
        body = zkv_msg_encode_body (&zkv_snapshot_response_desc, response, &size);
    if (!body)
        zkv_fatal ("out of memory");
    zkv_stream_piece_t piece = { .wait = wait, .reply = zkv_bin (body, size), .last = last };
    zkv_io_send (self->front, &zkv_stream_piece_desc, &piece);
    free (body);
}

//  Adds credit, up to MAX_AHEAD bytes of replies: a client may grant more,
//  but the member never has more than that on its way to one stream
static void
s_credit_add (s_stream_t *stream, uint64_t credit)
{
    uint64_t most = MAX_AHEAD / stream->chunk;
    stream->credit = credit >= most || stream->credit + credit >= most? most
                                                                      : stream->credit + credit;
}

static void
s_stream_end (self_t *self, size_t index)
{
    s_stream_t *stream = &self->streams [index];
    zkv_image_writer_destroy (&stream->writer);
    if (stream->snapshot)
        zkv_engine_snapshot_release (self->args->engine, stream->snapshot);
    free (stream->buffer);
    self->streams [index] = self->streams [--self->count];
}

static void
s_order (self_t *self, const zkv_snapshot_order_t *order)
{
    zkv_result_t status;
    if (self->count == MAX_STREAMS) {
        zkv_status_set (&status, ZKV_ERR_TOO_MANY_REQUESTS, NULL);
        s_piece (self, order->wait, NULL, &status, true);
        return;
    }
    s_stream_t *stream = &self->streams [self->count];
    memset (stream, 0, sizeof *stream);
    stream->wait = order->wait;
    stream->chunk = order->chunk_size? order->chunk_size: DEFAULT_CHUNK;
    if (stream->chunk > MAX_CHUNK)
        stream->chunk = MAX_CHUNK;
    if (stream->chunk < MIN_CHUNK)
        stream->chunk = MIN_CHUNK;
    s_credit_add (stream, order->credit? order->credit: DEFAULT_CREDIT);
    stream->snapshot = zkv_engine_snapshot (self->args->engine);
    char *error = NULL;
    stream->writer = zkv_image_writer_new (self->args->engine, stream->snapshot, &error);
    stream->buffer = (uint8_t *) malloc (stream->chunk);
    self->count++;
    if (!stream->writer || !stream->buffer) {
        zkv_status_set (&status, ZKV_ERR_INTERNAL, "%s", error? error: "out of memory");
        free (error);
        s_piece (self, order->wait, NULL, &status, true);
        s_stream_end (self, self->count - 1);
        return;
    }
    stream->total = zkv_image_writer_size (stream->writer);
    stream->stalled_since = zclock_mono ();
    zsys_info ("snapshotter: streaming %llu bytes at applied index %llu",
               (unsigned long long) stream->total,
               (unsigned long long) zkv_image_writer_header (stream->writer)->applied_index);
}

static void
s_grant (self_t *self, const zkv_snapshot_grant_t *grant)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->streams [i].wait == grant->wait)
            s_credit_add (&self->streams [i], grant->credit);
}

//  One reply of stream index, which has credit; false when it ended
static bool
s_step (self_t *self, size_t index)
{
    s_stream_t *stream = &self->streams [index];
    zkv_snapshot_response_t response = {
        .version = zkv_bin (ZKV_STORAGE_VERSION, strlen (ZKV_STORAGE_VERSION))
    };
    char *error = NULL;
    ssize_t got = stream->sent < stream->total
                ? zkv_image_writer_read (stream->writer, stream->buffer, stream->chunk, &error)
                : 0;
    if (got < 0 || (got == 0 && stream->sent != stream->total)) {
        zkv_result_t status;
        zkv_status_set (&status, ZKV_ERR_INTERNAL, "%s",
                        error? error: "the image changed size while it was read");
        free (error);
        s_piece (self, stream->wait, NULL, &status, true);
        s_stream_end (self, index);
        return false;
    }
    stream->credit--;
    if (got > 0) {
        stream->sent += (uint64_t) got;
        response.remaining_bytes = stream->total - stream->sent;
        response.blob = zkv_bin (stream->buffer, (size_t) got);
        s_piece (self, stream->wait, &response, NULL, false);
        return true;
    }
    //  All sent: the digest ends it
    uint8_t digest [ZKV_IMAGE_DIGEST_SIZE];
    zkv_image_writer_digest (stream->writer, digest);
    response.blob = zkv_bin (digest, sizeof digest);
    response.done = true;
    s_piece (self, stream->wait, &response, NULL, true);
    s_stream_end (self, index);
    return false;
}

//  A reply for every stream with credit, then the stalled ones dropped
static void
s_work (self_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->count; ) {
        s_stream_t *stream = &self->streams [i];
        if (stream->credit > 0) {
            if (s_step (self, i)) {
                if (stream->credit == 0)
                    stream->stalled_since = now;
                i++;
            }
            continue;                   //  else the last stream moved to i
        }
        if (now - stream->stalled_since > STALL_MSECS) {
            zkv_result_t status;
            zkv_status_set (&status, ZKV_ERR_TIMEOUT, NULL);
            s_piece (self, stream->wait, NULL, &status, true);
            zsys_warning ("snapshotter: a client took no more for %d s: stream dropped",
                          STALL_MSECS / 1000);
            s_stream_end (self, i);
            continue;
        }
        i++;
    }
}

static bool
s_busy (self_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->streams [i].credit > 0)
            return true;
    return false;
}

void
zkv_snapshotter_actor (zsock_t *pipe, void *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = (zkv_snapshotter_args_t *) args;
    self->poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (self->poller, true);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, s_busy (self)? 0: self->count? 1000: -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            if (!command)
                break;
            if (streq (command, "START")) {
                self->inbox = zkv_io_inbox (self->args->inbox);
                self->front = zkv_io_outbox (self->args->front);
                if (self->inbox && self->front) {
                    zpoller_add (self->poller, self->inbox);
                    zstr_send (pipe, "OK");
                }
                else
                    zstr_sendf (pipe, "cannot bind %s", self->args->inbox);
            }
            else
            if (streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_error ("snapshotter: invalid command '%s'", command);
            zstr_free (&command);
        }
        else
        if (which == self->inbox) {
            while (zkv_io_ready (self->inbox)) {
                zkv_msg_t *msg = zkv_io_recv (self->inbox, "snapshotter");
                if (msg && msg->desc == &zkv_snapshot_order_desc)
                    s_order (self, (zkv_snapshot_order_t *) msg->body);
                else
                if (msg && msg->desc == &zkv_snapshot_grant_desc)
                    s_grant (self, (zkv_snapshot_grant_t *) msg->body);
                else
                if (msg)
                    zsys_error ("snapshotter: unexpected message %s", msg->desc->name);
                zkv_msg_destroy (&msg);
            }
        }
        s_work (self);
    }
    while (self->count)
        s_stream_end (self, self->count - 1);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->front);
    free (self);
}
