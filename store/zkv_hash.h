/*  =========================================================================
    zkv_hash.h — Hash and HashKV of a member's state, read from one RocksDB
    snapshot (docs/PROTOCOL.md, hash and hash_kv).

    HashKV is etcd's bit for bit: CRC-32C over "key", then, for every
    record of the `key` family included, its 17/18-byte revision key and
    its KeyValue protobuf bytes, in revision order. A record is included
    when its main revision is <= R, and, if its main revision is <= the
    compact revision C, when it is in the keep set (etcd's treeIndex.Keep:
    per key, its newest revision <= R, unless a tombstone); a tombstone at
    exactly C is never included.

    etcd hashes, when the keep set is empty, every record <= C that is
    still on disk, which depends on how far the background compaction has
    got. zkv hashes instead the records that compaction leaves (per key
    the newest revision <= C, unless a tombstone older than C): what etcd
    hashes once its compaction is done, whatever state zkv's own is in.

    Hash is CRC-32C over every family but the raft log, in family-name
    order: the family name, then each key and value in key order, skipping
    the member's own applied index and term in `meta` (etcd's
    DefaultIgnores).

    No sockets: the caller hands in the snapshot. The walks that hash run
    in parts on threads of their own, all joined before the function
    returns (zkv_scan.h); the result is the one pass's, bit for bit.
    =========================================================================
*/
#ifndef ZKV_HASH_H_INCLUDED
#define ZKV_HASH_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "zkv_engine.h"

//  What the store says about itself at a snapshot
typedef struct {
    int64_t revision;                   //  current revision (1 when new)
    int64_t compact_revision;           //  -1 if never compacted
    uint64_t applied_index;             //  index of the last applied entry
    uint64_t applied_term;              //  and its term
} zkv_hash_state_t;

int
    zkv_hash_state (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot,
                    zkv_hash_state_t *state, char **error);

//  Which records at or below the compact revision count
typedef enum {
    ZKV_KEEP_LIVE,                      //  HashKV: newest <= R, not a tombstone
    ZKV_KEEP_COMPACTION                 //  a compaction to R: newest <= R, unless
                                        //  a tombstone older than R (etcd's
                                        //  index.Compact (R) "available" set)
} zkv_keep_t;

//  HashKV at revision (> 0; a negative one hashes nothing) with compact
//  revision compact, the caller having checked the bounds. Returns 0 with
//  *hash, or -1 with *error.
int
    zkv_hash_kv (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, int64_t revision,
                 int64_t compact, zkv_keep_t keep, uint32_t *hash, char **error);

//  Hash of every family but the raft log. Returns 0 or -1 with *error.
int
    zkv_hash_all (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, uint32_t *hash,
                  char **error);

#endif
