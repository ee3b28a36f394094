/*  =========================================================================
    zkv_mvcc.h — etcd's multi-version KV store on RocksDB.

    The store has a revision, 1 when new. Every write transaction (one raft
    entry: a put, a delete that deletes something, a txn that writes) takes
    the next main revision; each change inside it the next sub revision.
    Each key carries create_revision, mod_revision, version (puts since
    creation, reset by a delete) and its value; a delete writes a
    tombstone. Compact(R) forgets every revision of a key older than its
    newest at or below R (and that one too when it is a tombstone).

    Writes happen inside a batch: begin, any number of transactions, then
    commit, which writes them in one RocksDB batch together with the raft
    index and term they came from (so a restart resumes exactly after the
    last durable batch). Reads inside a batch see the batch's own writes.

    Responses are allocated from the caller's zone: their bytes point into
    it and stay valid until the zone is freed. Every response carries a
    header holding only the revision; the caller fills in the rest.

    Errors are etcd's: requests the store cannot serve return -1 with
    status set (ZKV_ERR_COMPACTED, ZKV_ERR_FUTURE_REV, ZKV_ERR_KEY_NOT_FOUND,
    ZKV_ERR_LEASE_NOT_FOUND), changing nothing; a RocksDB failure returns -1
    with ZKV_ERR_INTERNAL and RocksDB's text in the detail.
    =========================================================================
*/
#ifndef ZKV_MVCC_H_INCLUDED
#define ZKV_MVCC_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <msgpack.h>

#include "zkv_engine.h"
#include "zkv_msgs.h"

typedef struct zkv_mvcc_s zkv_mvcc_t;

//  Opens the store held by engine, reading only its meta records: no scan
//  of keys, whatever their number. Resumes an unfinished compaction.
zkv_mvcc_t *
    zkv_mvcc_new (zkv_engine_t *engine, char **error);

void
    zkv_mvcc_destroy (zkv_mvcc_t **self_p);

//  Current revision (1 on an empty store)
int64_t
    zkv_mvcc_revision (zkv_mvcc_t *self);

//  The keys live at the committed revision (etcd_debugging_mvcc_keys_total)
int64_t
    zkv_mvcc_keys (zkv_mvcc_t *self);

//  Revision of the last compaction, -1 if never compacted (inside a
//  batch, the batch's)
int64_t
    zkv_mvcc_compact_revision (zkv_mvcc_t *self);

//  Raft index and term of the last committed batch (0 when new)
uint64_t
    zkv_mvcc_applied_index (zkv_mvcc_t *self);
uint64_t
    zkv_mvcc_applied_term (zkv_mvcc_t *self);

//  ---------------------------------------------------------------------
//  What one request may make the store spend

//  Every key-value a reply returns counts its key, its value and this much
//  more (an upper bound of its encoding's other bytes)
#define ZKV_MVCC_REPLY_KV_OVERHEAD 128

//  The bounds of the next request (set before each): the bytes of the
//  key-values its reply may hold (0: no bound; past it the request fails
//  with ZKV_ERR_RESPONSE_TOO_LARGE and, a write, changes nothing), and a
//  test of its deadline (NULL: none), asked every ZKV_MVCC_DEADLINE_STEPS
//  keys a walk visits (past it: ZKV_ERR_TIMEOUT). The store has no clock:
//  writes, which every member must apply alike, never get a deadline.
#define ZKV_MVCC_DEADLINE_STEPS 1024
typedef struct {
    uint64_t max_reply_bytes;
    bool (*expired) (void *arg);
    void *arg;
} zkv_mvcc_limits_t;

void
    zkv_mvcc_set_limits (zkv_mvcc_t *self, const zkv_mvcc_limits_t *limits);

//  ---------------------------------------------------------------------
//  Reads

//  Range over the committed state (or, inside a batch, the batch's state)
int
    zkv_mvcc_range (zkv_mvcc_t *self, const zkv_range_t *request, msgpack_zone *zone,
                    zkv_range_response_t *response, zkv_result_t *status);

//  A txn that writes nothing (zkv_txn_writes () is false), outside a batch
int
    zkv_mvcc_txn_read (zkv_mvcc_t *self, const zkv_txn_t *request, msgpack_zone *zone,
                       zkv_txn_response_t *response, zkv_result_t *status);

//  ---------------------------------------------------------------------
//  Writes

//  Starts a batch of write transactions
void
    zkv_mvcc_begin (zkv_mvcc_t *self);

int
    zkv_mvcc_put (zkv_mvcc_t *self, const zkv_put_t *request, msgpack_zone *zone,
                  zkv_put_response_t *response, zkv_result_t *status);

int
    zkv_mvcc_delete_range (zkv_mvcc_t *self, const zkv_delete_range_t *request,
                           msgpack_zone *zone, zkv_delete_range_response_t *response,
                           zkv_result_t *status);

int
    zkv_mvcc_txn (zkv_mvcc_t *self, const zkv_txn_t *request, msgpack_zone *zone,
                  zkv_txn_response_t *response, zkv_result_t *status);

//  Logical compaction: reads below revision fail from now on; the space is
//  reclaimed later by zkv_mvcc_compact_step
int
    zkv_mvcc_compact (zkv_mvcc_t *self, const zkv_compact_t *request, msgpack_zone *zone,
                      zkv_compact_response_t *response, zkv_result_t *status);

//  Adds a raw write of another replicated family (members, alarm) to the
//  open batch, so that it lands with the applied index
void
    zkv_mvcc_put_raw (zkv_mvcc_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                      const void *value, size_t value_size);

//  Adds a raw delete of a record of another replicated family to the batch
void
    zkv_mvcc_delete_raw (zkv_mvcc_t *self, zkv_cf_t cf, const void *key, size_t key_size);

//  Writes the batch with the raft index and term it applies, without
//  fsync: the raft log holds the entries durably and replays what a crash
//  lost. Returns 0, or -1 with RocksDB's error.
int
    zkv_mvcc_commit (zkv_mvcc_t *self, uint64_t applied_index, uint64_t applied_term,
                     char **error);

//  ---------------------------------------------------------------------
//  Physical compaction, in steps between batches

//  True while a compaction has deleted less than it should
bool
    zkv_mvcc_compaction_pending (zkv_mvcc_t *self);

//  Deletes the revisions the last compaction made unreachable, stopping
//  after about max_deletes of them (a step may end inside the history of
//  one key). Returns 0, or -1 with RocksDB's error.
int
    zkv_mvcc_compact_step (zkv_mvcc_t *self, size_t max_deletes, char **error);

#endif
