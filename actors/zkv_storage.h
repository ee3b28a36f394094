/*  =========================================================================
    zkv_storage.h — the storage actor: the state machine of a member.

    Applies committed entries to the MVCC store, one RocksDB batch per
    batch of entries with the applied index in it; serves reads once the
    index they wait for is applied; answers front for the requests this
    member received; reclaims compacted space in steps when idle; before
    each batch asks the free-disk guard (zkv_space.h) whether the disk has
    room for it, and when it has not proposes this member's NOSPACE and
    tells the alarm actor, which releases the reserve (the batch is
    applied all the same); pushes
    storage_state (applied index, revision) to front and raft. Installs
    the snapshot a leader streams to it (the snapshotter makes the ones
    this member streams to followers).

    Pipe commands:
      START       opens the store and binds; replies "OK" and the applied
                  index, or an error text
      $TERM       stops
    Each compaction applied is told to the hasher (compaction_scheduled),
    and its deletions, and the installation of a snapshot, wait until the
    hasher answers compaction_hashed: the hasher's RocksDB snapshot must
    hold the history as it was just before the compaction.
    Inbox (PULL, bound at args->storage): apply, read, snapshot_chunk,
    compaction_hashed.
    =========================================================================
*/
#ifndef ZKV_STORAGE_H_INCLUDED
#define ZKV_STORAGE_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

typedef struct {
    ZKV_WIRING;                         //  binds storage; front, raft, hasher, alarm
    int64_t quota_bytes;                //  --quota-backend-bytes (<= 0: none)
} zkv_storage_args_t;

void
    zkv_storage_actor (zsock_t *pipe, void *args);

#endif
