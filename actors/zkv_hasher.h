/*  =========================================================================
    zkv_hasher.h — the hasher actor: Hash and HashKV, off the storage
    thread, each on its own RocksDB snapshot, so hashing a large member
    never stalls its writes (docs/PROTOCOL.md, hash and hash_kv; store/zkv_hash.h).

    Keeps etcd 3.6's compaction-hash cache: when storage applies a
    compaction to R (the one before it to P) it tells the hasher and holds
    back the physical deletions until the hasher has taken a snapshot; the
    hasher then computes the hash of the history up to R as it stood just
    before the compaction, and keeps {hash, P, R} for the newest 10
    compactions. HashKV (R) is answered from the cache first, with P as
    its compact revision, as etcd 3.6 does.

    Pipe commands:
      START       binds; replies "OK" or an error text
      $TERM       stops
    Inbox (PULL, bound at args->hasher): hash_order from front (and from
    raft, for another member's or the alarm actor's ask: a HashKV for a
    corruption check), compaction_scheduled from storage. Answers go to
    front as `answers`, those to asks to raft as `hash_answer`;
    compaction_hashed goes to storage.
    =========================================================================
*/
#ifndef ZKV_HASHER_H_INCLUDED
#define ZKV_HASHER_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

#define ZKV_COMPACTION_HASHES 10        //  compactions whose hash is kept

typedef struct {
    ZKV_WIRING;                         //  binds hasher; front, storage, raft (for
                                        //  answers to members' asks)
} zkv_hasher_args_t;

void
    zkv_hasher_actor (zsock_t *pipe, void *args);

#endif
