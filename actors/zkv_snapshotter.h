/*  =========================================================================
    zkv_snapshotter.h — the snapshotter actor: the Snapshot RPC, and the
    snapshots a leader streams to followers.

    Each stream reads one RocksDB snapshot of the member (the state at
    exactly one applied index) through an image writer (store/zkv_image.h)
    and hands front its replies: chunks of the image with remaining_bytes
    counting down (etcd's meaning: bytes left after this one), then a last
    reply whose blob is the SHA-256 of all the image bytes, so that a
    saved file is "image + SHA-256" as etcd's is. Every reply's header is
    the image's: the revision and the raft term of the state it holds. A
    stream that fails ends with a `refused` to front, which answers it
    with the error and its own header, as every error. The first reply needs
    the image's size, which takes a walk of its own over the snapshot: a
    sizer thread walks while the stream reads up to 16 MiB of the image
    ahead, so the two walks overlap.

    Credit-based flow control: a stream sends only as many replies as its
    client granted (a ROUTER drops what a slow client cannot take, so the
    node must never send ahead of it). A stream whose client grants
    nothing for STALL_MSECS is given up (its RocksDB snapshot released),
    with `etcdserver: request timed out`. At most MAX_STREAMS at once;
    more are refused with `etcdserver: too many requests`. Each stream that
    ends, sent whole or not, is a `snapshot` event. A stream whose client
    went away (front sees its connection closed: snapshot_cancel) ends at
    once, unanswered.

    A follower's snapshot (raft's InstallSnapshot, store/zkv_snapshot.h):
    raft's snapshot_request starts one (replacing the one under way) with
    some credit, stream_credit grants more, and each chunk, one per turn
    while there is credit, goes to raft. It is made here, on this actor's
    thread, and not by storage, so that a leader's applies never wait
    behind a chunk of the image (1 MiB, about 7 ms of CPU): with storage
    making them, a writer's puts took 5x longer while a follower caught up.

    Pipe commands:
      START       binds; replies "OK" or an error text
      $TERM       stops, dropping the streams under way
    Inbox (PULL, bound at args->snapshotter): snapshot_order, snapshot_grant,
    snapshot_cancel, from front; snapshot_request, stream_credit, from raft;
    stream_piece and refused go to front, snapshot_chunk to raft.
    =========================================================================
*/
#ifndef ZKV_SNAPSHOTTER_H_INCLUDED
#define ZKV_SNAPSHOTTER_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

typedef struct {
    ZKV_WIRING;                         //  binds snapshotter; front
} zkv_snapshotter_args_t;

void
    zkv_snapshotter_actor (zsock_t *pipe, void *args);

#endif
