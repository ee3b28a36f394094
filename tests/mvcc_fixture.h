/*  mvcc_fixture.h — an MVCC store under test, on disk (a temp dir) or in
    memory, with one-line writes that each make a batch of their own (the
    raft index advancing by one per batch). Failures are Criterion asserts.
*/
#ifndef MVCC_FIXTURE_H_INCLUDED
#define MVCC_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "zkv_engine.h"
#include "zkv_mvcc.h"

typedef struct {
    bool memory;
    zkv_memory_t *medium;
    char path [256];
    zkv_engine_t *engine;
    zkv_mvcc_t *mvcc;
    uint64_t index;                     //  raft index of the next batch
    msgpack_zone *zone;                 //  responses of the current test step
} fx_store_t;

//  A new empty store; fx_destroy removes it
void fx_new (fx_store_t *store, bool memory);
void fx_destroy (fx_store_t *store);
//  Closes and reopens it (a restart)
void fx_open (fx_store_t *store);
void fx_close (fx_store_t *store);

zkv_bin_t fx_bin (const char *text);
void fx_begin (fx_store_t *store);
void fx_commit (fx_store_t *store);

//  Put in a batch of its own; returns the response header revision
int64_t fx_put (fx_store_t *store, const char *key, const char *value);
//  Deletes [key, end) (end NULL: key alone; "": from key on); returns
//  the number deleted
int64_t fx_delete (fx_store_t *store, const char *key, const char *end);
//  Compacts to revision, expecting that outcome
void fx_compact (fx_store_t *store, int64_t revision, zkv_err_t expected);
//  Runs the physical compaction to its end, in small steps
void fx_compact_fully (fx_store_t *store);
//  Returns once RocksDB has no flush or compaction to run or running: it
//  has then done all it was asked, or decided, to do
void fx_wait_until_rocksdb_is_idle (zkv_engine_t *engine);

//  HashKV of a store never compacted, in one pass over the key family:
//  the CRC-32C of "key", then of every record's key and value whose
//  revision is <= revision (etcd's bytes: the key family holds them)
uint32_t fx_hash_kv_one_pass (fx_store_t *store, int64_t revision);

#endif
