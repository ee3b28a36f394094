/*  =========================================================================
    zkv_snapshotter.c — the snapshotter actor (see zkv_snapshotter.h).
    =========================================================================
*/
#include "zkv_snapshotter.h"
#include "zkv_metrics.h"
#include "zkv_actor_io.h"
#include "zkv_check.h"
#include "zkv_fatal.h"
#include "zkv_image.h"
#include "zkv_snapshot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_STREAMS 4
#define STALL_MSECS 60000               //  without credit before a stream is dropped
#define DEFAULT_CREDIT 8
#define DEFAULT_CHUNK (32 * 1024)       //  etcd's
#define MAX_AHEAD (64 * 1024 * 1024)    //  bytes of replies granted at most
#define MAX_PREFETCH (16 * 1024 * 1024) //  image bytes read while it is sized
#define NICE 10                         //  this thread's, over the member's

//  What a sizer thread needs (owned by its stream)
typedef struct {
    zkv_engine_t *engine;
    const rocksdb_snapshot_t *snapshot;
    atomic_bool cancel;                 //  the stream ended: stop walking
} s_sizer_args_t;

typedef struct {
    uint64_t wait;                      //  front's number for the request
    const rocksdb_snapshot_t *snapshot;
    zkv_image_writer_t *writer;
    zactor_t *sizer;                    //  measuring the image, until it has
    s_sizer_args_t *sizer_args;
    bool sized;                         //  total is known: replies may go
    uint64_t total;                     //  image bytes
    uint8_t *ahead;                     //  image bytes read before it was sized
    size_t ahead_size;
    size_t ahead_given;
    bool read_all;                      //  the writer gave its last byte
    uint64_t sent;
    uint64_t credit;                    //  replies the client can take
    size_t chunk;
    uint8_t *buffer;                    //  chunk bytes
    int64_t stalled_since;              //  when credit ran out
    int64_t started;                    //  zclock_mono () at the request
    const char *failure;                //  why it ends unsent (static), or NULL
} s_stream_t;

//  The snapshot a follower gets (one at a time)
typedef struct {
    zkv_snapshot_out_t *out;            //  NULL: none under way
    uint64_t to;                        //  the follower
    uint64_t credit;                    //  chunks it may make until raft grants more
    uint64_t next_stream;               //  numbers the streams
} s_follower_t;

typedef struct {
    zsock_t *pipe;
    zkv_snapshotter_args_t *args;
    zsock_t *inbox;
    zsock_t *front;
    zsock_t *raft;
    s_follower_t follower;
    zpoller_t *poller;
    s_stream_t streams [MAX_STREAMS];
    size_t count;
    bool terminated;
} self_t;

//  Sends front one reply of stream: its header is the image's (the
//  revision and the term of the state it holds)
static void
s_piece (self_t *self, const s_stream_t *stream, zkv_snapshot_response_t *response, bool last)
{
    const zkv_image_header_t *image = zkv_image_writer_header (stream->writer);
    zkv_header_t header = {
        .cluster_id = self->args->cluster_id, .member_id = self->args->member_id,
        .revision = image->revision, .raft_term = image->applied_term
    };
    response->header = &header;
    size_t size;
    uint8_t *body = zkv_msg_encode_body (&zkv_snapshot_response_desc, response, &size);
    if (!body)
        zkv_fatal ("out of memory");
    zkv_stream_piece_t piece = {
        .wait = stream->wait, .reply = zkv_bin (body, size), .last = last
    };
    zkv_io_send (self->front, &zkv_stream_piece_desc, &piece);
    free (body);
}

//  Ends request wait with an error: front answers it (with its header, as
//  every error) and forgets it. detail: after the error's text, or NULL.
static void
s_refuse (self_t *self, uint64_t wait, zkv_err_t error, const char *detail)
{
    zkv_refused_t refused = {
        .wait = wait, .error = (uint64_t) error,
        .detail = zkv_bin (detail, detail? strlen (detail): 0)
    };
    zkv_io_send (self->front, &zkv_refused_desc, &refused);
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

//  The size of the image of a snapshot, measured on a thread of its own
//  while the snapshotter reads the image ahead: replies carry how many
//  bytes remain, so none can go before the size is known, but the two
//  walks of the snapshot overlap. Says the size (0: it failed) on its
//  pipe, then waits for $TERM.
static void
s_sizer (zsock_t *pipe, void *args)
{
    s_sizer_args_t *sizer = (s_sizer_args_t *) args;
    zsock_signal (pipe, 0);
    char *error = NULL;
    zkv_image_writer_t *writer = zkv_image_writer_new (sizer->engine, sizer->snapshot, &error);
    uint64_t total = writer? zkv_image_writer_size (writer, &sizer->cancel): 0;
    zkv_image_writer_destroy (&writer);
    free (error);
    zstr_sendf (pipe, "%llu", (unsigned long long) total);
    while (true) {
        char *command = zstr_recv (pipe);
        bool done = !command || streq (command, "$TERM");
        zstr_free (&command);
        if (done)
            break;
    }
}

static void
s_sizer_stop (self_t *self, s_stream_t *stream)
{
    if (stream->sizer) {
        //  A walk under way stops at once: the member may be stopping
        atomic_store (&stream->sizer_args->cancel, true);
        zpoller_remove (self->poller, zactor_sock (stream->sizer));
        zactor_destroy (&stream->sizer);
    }
    free (stream->sizer_args);
    stream->sizer_args = NULL;
}

static void
s_stream_end (self_t *self, size_t index)
{
    s_stream_t *stream = &self->streams [index];
    zkv_snapshot_event_t event = {
        .member = self->args->member_id, .bytes = stream->sent,
        .took_usecs = (uint64_t) (zclock_mono () - stream->started) * 1000,
        .error = zkv_bin (stream->failure, stream->failure? strlen (stream->failure): 0)
    };
    zkv_io_event (self->front, "snapshot", &zkv_snapshot_event_desc, &event);
    zkv_metrics_observe (&zkv_metrics.snapshot, (int64_t) event.took_usecs * 1000);
    s_sizer_stop (self, stream);
    free (stream->ahead);
    zkv_image_writer_destroy (&stream->writer);
    if (stream->snapshot)
        zkv_engine_snapshot_release (self->args->engine, stream->snapshot);
    free (stream->buffer);
    self->streams [index] = self->streams [--self->count];
}

static void
s_order (self_t *self, const zkv_snapshot_order_t *order)
{
    if (self->count == MAX_STREAMS) {
        s_refuse (self, order->wait, ZKV_ERR_TOO_MANY_REQUESTS, NULL);
        return;
    }
    s_stream_t *stream = &self->streams [self->count];
    memset (stream, 0, sizeof *stream);
    stream->wait = order->wait;
    stream->started = zclock_mono ();
    //  (front refused any other size: zkv_check)
    stream->chunk = order->chunk_size? order->chunk_size: DEFAULT_CHUNK;
    if (stream->chunk > ZKV_SNAPSHOT_MAX_CHUNK)
        stream->chunk = ZKV_SNAPSHOT_MAX_CHUNK;
    if (stream->chunk < ZKV_SNAPSHOT_MIN_CHUNK)
        stream->chunk = ZKV_SNAPSHOT_MIN_CHUNK;
    s_credit_add (stream, order->credit? order->credit: DEFAULT_CREDIT);
    stream->snapshot = zkv_engine_snapshot (self->args->engine);
    char *error = NULL;
    stream->writer = zkv_image_writer_new (self->args->engine, stream->snapshot, &error);
    stream->buffer = (uint8_t *) malloc (stream->chunk);
    stream->sizer_args = (s_sizer_args_t *) malloc (sizeof (s_sizer_args_t));
    self->count++;
    if (!stream->writer || !stream->buffer || !stream->sizer_args) {
        s_refuse (self, order->wait, ZKV_ERR_INTERNAL, error? error: "out of memory");
        free (error);
        stream->failure = "failed";
        s_stream_end (self, self->count - 1);
        return;
    }
    stream->sizer_args->engine = self->args->engine;
    stream->sizer_args->snapshot = stream->snapshot;
    atomic_init (&stream->sizer_args->cancel, false);
    stream->sizer = zactor_new (s_sizer, stream->sizer_args);
    zpoller_add (self->poller, zactor_sock (stream->sizer));
    stream->stalled_since = zclock_mono ();
}

//  The size of a stream's image, from its sizer
static void
s_sized (self_t *self, zsock_t *which)
{
    for (size_t i = 0; i < self->count; i++) {
        s_stream_t *stream = &self->streams [i];
        if (!stream->sizer || zactor_sock (stream->sizer) != which)
            continue;
        char *text = zstr_recv (which);
        stream->total = text? strtoull (text, NULL, 10): 0;
        zstr_free (&text);
        s_sizer_stop (self, stream);
        if (stream->total == 0) {
            s_refuse (self, stream->wait, ZKV_ERR_INTERNAL, "the image could not be measured");
            stream->failure = "failed";
            s_stream_end (self, i);
            return;
        }
        stream->sized = true;
        stream->stalled_since = zclock_mono ();
        zsys_info ("snapshotter: streaming %llu bytes at applied index %llu",
                   (unsigned long long) stream->total,
                   (unsigned long long) zkv_image_writer_header (stream->writer)->applied_index);
        return;
    }
}

//  Fails stream index with an internal error
static void
s_stream_fail (self_t *self, size_t index, char *error, const char *why)
{
    s_refuse (self, self->streams [index].wait, ZKV_ERR_INTERNAL, error? error: why);
    free (error);
    self->streams [index].failure = "failed";
    s_stream_end (self, index);
}

//  Reads the image ahead while it is being sized; false when it failed
static bool
s_prefetch (self_t *self, size_t index)
{
    s_stream_t *stream = &self->streams [index];
    uint8_t *grown = (uint8_t *) realloc (stream->ahead, stream->ahead_size + stream->chunk);
    if (!grown) {
        s_stream_fail (self, index, NULL, "out of memory");
        return false;
    }
    stream->ahead = grown;
    char *error = NULL;
    ssize_t got = zkv_image_writer_read (stream->writer, stream->ahead + stream->ahead_size,
                                         stream->chunk, &error);
    if (got < 0) {
        s_stream_fail (self, index, error, "");
        return false;
    }
    stream->ahead_size += (size_t) got;
    stream->read_all = (size_t) got < stream->chunk;
    return true;
}

static void
s_grant (self_t *self, const zkv_snapshot_grant_t *grant)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->streams [i].wait == grant->wait)
            s_credit_add (&self->streams [i], grant->credit);
}

//  The client of a stream is gone: its slot and its RocksDB snapshot are
//  freed now, not after STALL_MSECS (front forgot the request already)
static void
s_cancel (self_t *self, const zkv_snapshot_cancel_t *cancel)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->streams [i].wait == cancel->wait) {
            zsys_info ("snapshotter: the client of a stream went away: stream dropped");
            self->streams [i].failure = "the client went away";
            s_stream_end (self, i);
            return;
        }
}

//  One reply of stream index, which is sized and has credit; false when
//  it ended
static bool
s_step (self_t *self, size_t index)
{
    s_stream_t *stream = &self->streams [index];
    zkv_snapshot_response_t response = {
        .version = zkv_bin (ZKV_STORAGE_VERSION, strlen (ZKV_STORAGE_VERSION))
    };
    const uint8_t *data = stream->buffer;   //  what this reply carries
    ssize_t got = 0;
    if (stream->ahead_given < stream->ahead_size) {
        //  What was read while the image was sized goes first
        got = (ssize_t) (stream->ahead_size - stream->ahead_given);
        if ((size_t) got > stream->chunk)
            got = (ssize_t) stream->chunk;
        //  Sent from a copy: the buffer goes once all of it is sent
        memcpy (stream->buffer, stream->ahead + stream->ahead_given, (size_t) got);
        stream->ahead_given += (size_t) got;
        if (stream->ahead_given == stream->ahead_size) {
            free (stream->ahead);
            stream->ahead = NULL;
        }
    }
    else {
        char *error = NULL;
        if (!stream->read_all && stream->sent < stream->total)
            got = zkv_image_writer_read (stream->writer, stream->buffer, stream->chunk, &error);
        if (got < 0 || (got == 0 && stream->sent != stream->total)) {
            s_stream_fail (self, index, error, "the image changed size while it was read");
            return false;
        }
    }
    stream->credit--;
    if (got > 0) {
        stream->sent += (uint64_t) got;
        if (stream->sent > stream->total) {
            s_stream_fail (self, index, NULL, "the image changed size while it was read");
            return false;
        }
        response.remaining_bytes = stream->total - stream->sent;
        response.blob = zkv_bin (data, (size_t) got);
        s_piece (self, stream, &response, false);
        return true;
    }
    //  All sent: the digest ends it
    uint8_t digest [ZKV_IMAGE_DIGEST_SIZE];
    zkv_image_writer_digest (stream->writer, digest);
    response.blob = zkv_bin (digest, sizeof digest);
    response.done = true;
    s_piece (self, stream, &response, true);
    s_stream_end (self, index);
    return false;
}

//  True if stream may read ahead (it is being sized)
static bool
s_may_prefetch (const s_stream_t *stream)
{
    return !stream->sized && !stream->read_all && stream->ahead_size < MAX_PREFETCH;
}

//  raft wants a snapshot for a follower: a new one replaces any other
static void
s_follower_start (self_t *self, const zkv_snapshot_request_t *request)
{
    s_follower_t *follower = &self->follower;
    zkv_snapshot_out_destroy (&follower->out);
    follower->out = zkv_snapshot_out_new (self->args->engine, self->args->member_id,
                                          request->to, ++follower->next_stream);
    follower->to = request->to;
    follower->credit = request->credit;
}

//  The next chunk of the follower's snapshot, to raft
static void
s_follower_step (self_t *self)
{
    s_follower_t *follower = &self->follower;
    zkv_snapshot_chunk_t chunk;
    if (!zkv_snapshot_out_next (follower->out, &chunk)) {
        zkv_snapshot_out_destroy (&follower->out);
        return;
    }
    zkv_io_send (self->raft, &zkv_snapshot_chunk_desc, &chunk);
    follower->credit--;
    if (chunk.last)
        zkv_snapshot_out_destroy (&follower->out);
}

//  A reply for every stream with credit, then the stalled ones dropped;
//  a chunk of the follower's snapshot, if it has credit
static void
s_work (self_t *self)
{
    if (self->follower.out && self->follower.credit > 0)
        s_follower_step (self);
    int64_t now = zclock_mono ();
    for (size_t i = 0; i < self->count; ) {
        s_stream_t *stream = &self->streams [i];
        if (s_may_prefetch (stream)) {
            if (s_prefetch (self, i))
                i++;
            continue;
        }
        if (stream->sized && stream->credit > 0) {
            if (s_step (self, i)) {
                if (stream->credit == 0)
                    stream->stalled_since = now;
                i++;
            }
            continue;                   //  else the last stream moved to i
        }
        if (stream->sized && now - stream->stalled_since > STALL_MSECS) {
            s_refuse (self, stream->wait, ZKV_ERR_TIMEOUT, NULL);
            zsys_warning ("snapshotter: a client took no more for %d s: stream dropped",
                          STALL_MSECS / 1000);
            stream->failure = "the client took no more";
            s_stream_end (self, i);
            continue;
        }
        i++;
    }
}

static bool
s_busy (self_t *self)
{
    if (self->follower.out && self->follower.credit > 0)
        return true;
    for (size_t i = 0; i < self->count; i++)
        if ((self->streams [i].sized && self->streams [i].credit > 0)
        ||  s_may_prefetch (&self->streams [i]))
            return true;
    return false;
}

static self_t *
s_self_new (zsock_t *pipe, zkv_snapshotter_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (self->poller, true);
    return self;
}

//  Ends the streams still under way first (front is told of each, their
//  sizers stopped), then frees the rest
static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    while (self->count) {
        self->streams [self->count - 1].failure = "the member stopped";
        s_stream_end (self, self->count - 1);
    }
    zkv_snapshot_out_destroy (&self->follower.out);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->front);
    zsock_destroy (&self->raft);
    free (self);
    *self_p = NULL;
}

void
zkv_snapshotter_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zkv_snapshotter_args_t *) args);
    //  An image is made as fast as the machine lets this thread, after the
    //  member's requests: at a lower priority (Linux: this thread alone)
    errno = 0;
    int nice = getpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid));
    if (errno == 0)
        setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), nice + NICE);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, s_busy (self)? 0: self->count? 1000: -1);
        if (which == pipe) {
            const char *endpoints [] = { self->args->front, self->args->raft };
            zsock_t **outboxes [] = { &self->front, &self->raft };
            self->terminated = !zkv_io_pipe_command (pipe, self->poller, "snapshotter",
                                                     self->args->snapshotter, &self->inbox,
                                                     endpoints, outboxes, 2);
        }
        else
        if (which && which != self->inbox)
            s_sized (self, (zsock_t *) which);
        else
        if (which == self->inbox) {
            zkv_msg_t *msg;
            while (zkv_io_try_recv (self->inbox, "snapshotter", &msg)) {
                if (msg && msg->desc == &zkv_snapshot_order_desc)
                    s_order (self, (zkv_snapshot_order_t *) msg->body);
                else
                if (msg && msg->desc == &zkv_snapshot_grant_desc)
                    s_grant (self, (zkv_snapshot_grant_t *) msg->body);
                else
                if (msg && msg->desc == &zkv_snapshot_cancel_desc)
                    s_cancel (self, (zkv_snapshot_cancel_t *) msg->body);
                else
                if (msg && msg->desc == &zkv_snapshot_request_desc)
                    s_follower_start (self, (zkv_snapshot_request_t *) msg->body);
                else
                if (msg && msg->desc == &zkv_stream_credit_desc) {
                    zkv_stream_credit_t *grant = (zkv_stream_credit_t *) msg->body;
                    if (self->follower.out && grant->to == self->follower.to)
                        self->follower.credit += grant->credit;
                }
                else
                if (msg)
                    zsys_error ("snapshotter: unexpected message %s", msg->desc->name);
                zkv_msg_destroy (&msg);
            }
        }
        s_work (self);
    }
    s_self_destroy (&self);
}
