/*  =========================================================================
    zkv_snapshot.h — the state of a member as a stream of chunks, for a
    follower that fell behind the leader's compacted log (raft's
    InstallSnapshot), and its installation on the other side.

    A stream is the member's snapshot image (store/zkv_image.h, the format
    the Snapshot RPC and saved files use too), read from one RocksDB
    snapshot, so it is the state at exactly one applied index, which the
    chunks carry with its term. Each chunk carries about a megabyte of the
    image's bytes; the last one carries its SHA-256.

    Installing streams to disk in bounded memory. Each chunk's SHA-256
    is computed as it comes. A chunk with nothing waiting (neither before
    it nor behind it) is read at once into table files (zkv_bulk.h; the
    image holds each family's records in key order); otherwise it lands
    in a spool file (zkv_spool.h: the member's queues never hold a
    backlog of chunks, whatever the pace of the rest), and steps read the
    spool back a chunk's worth at a time into the files, as far as the
    stream came, while the rest comes: only files are written before the
    digest is checked. Once the last chunk
    has come and the digest matches, steps read the rest, and the last
    step makes those files replace the families the image carries, in one
    step that a crash cannot cut in two
    (zkv_replace.h: the member has the old state and applied index, or the
    whole new state and its index, also after a restart). A stream cut
    short, refused or replaced by another, or an image that is not one,
    changes nothing, and its files are removed (at the latest, by the next
    start). While it installs, the installer refuses other streams: the
    leader sends one again when it has not heard of the install yet.
    What the installer holds is about two chunks plus RocksDB's table
    builders (a write buffer, an index and a filter per file of 64 MiB at
    most), whatever the size of the state.
    =========================================================================
*/
#ifndef ZKV_SNAPSHOT_H_INCLUDED
#define ZKV_SNAPSHOT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "zkv_engine.h"
#include "zkv_msgs.h"

#define ZKV_SNAPSHOT_CHUNK (1 << 20)    //  data bytes per chunk, about

typedef struct zkv_snapshot_out_s zkv_snapshot_out_t;
typedef struct zkv_snapshot_in_s zkv_snapshot_in_t;

//  A stream of this member's state as it is now, for member `to`
zkv_snapshot_out_t *
    zkv_snapshot_out_new (zkv_engine_t *engine, uint64_t from, uint64_t to, uint64_t stream);

void
    zkv_snapshot_out_destroy (zkv_snapshot_out_t **self_p);

//  Fills chunk with the next chunk (its data valid until the next call);
//  returns false once the last chunk was given
bool
    zkv_snapshot_out_next (zkv_snapshot_out_t *self, zkv_snapshot_chunk_t *chunk);

//  The member's side
zkv_snapshot_in_t *
    zkv_snapshot_in_new (zkv_engine_t *engine);

void
    zkv_snapshot_in_destroy (zkv_snapshot_in_t **self_p);

//  Takes one chunk; backlog: more are waiting behind it (then it goes to
//  the spool, taking no time; without, and with the spool read, it is read
//  into table files at once). Returns 0 while the stream goes on, 1 when it came
//  whole and checks out (then install it with _step), -1 when it was
//  refused (a chunk out of order, a bad digest, a write error, another
//  install under way: *error says which; the stream is dropped, not an
//  install under way).
int
    zkv_snapshot_in_feed (zkv_snapshot_in_t *self, const zkv_snapshot_chunk_t *chunk,
                          bool backlog, char **error);

//  True from the stream's last chunk until the install is done or failed
bool
    zkv_snapshot_in_installing (zkv_snapshot_in_t *self);

//  True when _step has work: bytes received and not read back yet, or
//  the install's end
bool
    zkv_snapshot_in_has_step (zkv_snapshot_in_t *self);

//  Reads a chunk's worth of the image received into table files (while
//  the stream comes, or once it has come whole), or, once all of a whole
//  stream was read, replaces the state with them. Returns 0 while there
//  is more (or the stream has not come whole), 1 once it was installed
//  (the families replaced), -1 when it failed (an image that is not one,
//  a write error: *error says which; the stream or install is dropped,
//  and the state is as it was unless the failure handler was told).
int
    zkv_snapshot_in_step (zkv_snapshot_in_t *self, char **error);

//  The index of the install under way (0: none)
uint64_t
    zkv_snapshot_in_index (zkv_snapshot_in_t *self);

//  Drops the install under way: the state stays as it is
void
    zkv_snapshot_in_cancel (zkv_snapshot_in_t *self);

//  The bytes the installer keeps between calls itself (its buffer, its
//  reader's, the keys it remembers), the table builders' aside
size_t
    zkv_snapshot_in_held (zkv_snapshot_in_t *self);

#endif
