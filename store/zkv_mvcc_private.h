/*  zkv_mvcc_private.h — the state shared by the files of the MVCC store
    (zkv_mvcc.c: lifecycle and batches; zkv_mvcc_read.c: key lookups and
    Range; zkv_mvcc_write.c: Put, DeleteRange, Txn, Compact;
    zkv_mvcc_compact.c: physical compaction). Not for use outside store/.
*/
#ifndef ZKV_MVCC_PRIVATE_H_INCLUDED
#define ZKV_MVCC_PRIVATE_H_INCLUDED

#include "zkv_mvcc.h"
#include "zkv_keys.h"

//  Meta family records
#define ZKV_META_APPLIED_INDEX   "consistent_index"
#define ZKV_META_APPLIED_TERM    "term"
#define ZKV_META_REVISION        "revision"
#define ZKV_META_SCHEDULED_COMPACT "scheduledCompactRev"
#define ZKV_META_FINISHED_COMPACT  "finishedCompactRev"
#define ZKV_META_KEYS            "keys"      //  keys live at the revision (zkv's own)

//  True for the meta records that are the member's own, not replicated
//  state: its applied index and term (etcd's DefaultIgnores). Hash leaves
//  them out; a restored member starts without them.
static inline bool
zkv_meta_is_own (const void *key, size_t size)
{
    return (size == strlen (ZKV_META_APPLIED_INDEX)
            && memcmp (key, ZKV_META_APPLIED_INDEX, size) == 0)
        || (size == strlen (ZKV_META_APPLIED_TERM)
            && memcmp (key, ZKV_META_APPLIED_TERM, size) == 0);
}

struct zkv_mvcc_s {
    zkv_engine_t *engine;               //  not owned
    int64_t revision;                   //  committed current revision
    int64_t compact_revision;           //  -1 until the first compaction
    int64_t finished_compact;           //  physically done up to here
    uint64_t applied_index;
    uint64_t applied_term;
    //  Open batch
    rocksdb_writebatch_wi_t *batch;     //  NULL when no batch is open
    int64_t batch_revision;             //  current revision inside the batch
    int64_t batch_compact;              //  compact revision inside the batch
    int64_t keys;                       //  keys live at the committed revision
    int64_t batch_keys;                 //  ...inside the batch
    int64_t begin_keys;                 //  ...before the transaction under way
    //  The transaction being applied
    int64_t begin_revision;             //  revision before it
    int64_t changes;                    //  changes made so far (next sub)
    //  The request under way: its bounds, and what its reply holds so far
    zkv_mvcc_limits_t limits;
    uint64_t reply_bytes;
    //  Physical compaction
    uint8_t *compact_cursor;            //  index key to resume at (NULL: start)
    size_t compact_cursor_size;
    bool compact_inside;                //  the cursor is inside a key's history,
                                        //  past the revision that stays
};

//  A key found at a revision by a lookup
typedef struct {
    zkv_rev_t rev;                      //  revision of the entry
    zkv_index_value_t state;            //  tombstone, create_revision, version
} s_found_t;

//  The current revision as transactions see it (inside a batch or not)
static inline int64_t
zkv_mvcc_current (zkv_mvcc_t *self)
{
    return self->batch? self->batch_revision: self->revision;
}

static inline int64_t
zkv_mvcc_current_compact (zkv_mvcc_t *self)
{
    return self->batch? self->batch_compact: self->compact_revision;
}

//  An iterator over cf that sees the open batch, if any, and ends before
//  upper (see zkv_engine_iterator_below: options and upper outlive it)
rocksdb_iterator_t *
    zkv_mvcc_iterator (zkv_mvcc_t *self, zkv_cf_t cf, rocksdb_readoptions_t *options,
                       const void *upper, size_t upper_size);

//  Reads one value, through the open batch if any. Returns 1 with a
//  malloc'd value, 0 if absent, -1 with status set on RocksDB errors.
int
    zkv_mvcc_get (zkv_mvcc_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                  char **value, size_t *value_size, zkv_result_t *status);

//  Finds the newest revision <= rev of key. Returns 1 (found, *found set),
//  0 (no revision of key at or below rev), -1 with status on errors.
int
    zkv_mvcc_lookup (zkv_mvcc_t *self, zkv_bin_t key, int64_t rev, s_found_t *found,
                     zkv_result_t *status);

//  Reads the KeyValue stored at rev into kv, its bytes copied into zone
//  (without with_value, its key alone, and an empty value)
int
    zkv_mvcc_read_kv (zkv_mvcc_t *self, zkv_rev_t rev, bool tombstone, bool with_value,
                      msgpack_zone *zone, zkv_key_value_t *kv, zkv_result_t *status);

//  Calls fn for every key of [key, end) live at rev (end empty: key alone;
//  end "\0": every key from key on), in key order, until fn returns
//  nonzero. The user key passed to fn is only valid during the call.
typedef int (zkv_mvcc_visit_fn) (void *arg, zkv_bin_t key, const s_found_t *found);
int
    zkv_mvcc_visit (zkv_mvcc_t *self, zkv_bin_t key, zkv_bin_t end, int64_t rev,
                    zkv_mvcc_visit_fn *fn, void *arg, zkv_result_t *status);

//  Range at the given current revision (a txn sees its own)
int
    zkv_mvcc_range_at (zkv_mvcc_t *self, const zkv_range_t *request, int64_t current,
                       msgpack_zone *zone, zkv_range_response_t *response,
                       zkv_result_t *status);

//  Counts kv into the reply of the request under way; -1 with status set
//  (ZKV_ERR_RESPONSE_TOO_LARGE) once past its bound
int
    zkv_mvcc_reply_take (zkv_mvcc_t *self, const zkv_key_value_t *kv, zkv_result_t *status);

//  A header holding only revision, allocated from zone
zkv_header_t *
    zkv_mvcc_header (msgpack_zone *zone, int64_t revision);

//  Sets status to ZKV_ERR_INTERNAL with RocksDB's text, frees err
int
    zkv_mvcc_rocksdb_error (zkv_result_t *status, char *err);

//  Copies bytes into zone
void *
    zkv_mvcc_copy (msgpack_zone *zone, const void *data, size_t size);

//  Reads an 8-byte big-endian meta record; returns 0 and sets *value (or
//  leaves it when absent), -1 with *error on failure
int
    zkv_mvcc_meta_get (zkv_engine_t *engine, const char *name, int64_t *value, char **error);

#endif
