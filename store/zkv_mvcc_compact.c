/*  =========================================================================
    zkv_mvcc_compact.c — reclaiming what a compaction made unreachable.

    Compact(C) only moves the compact revision (reads below it fail at
    once); the deletions happen here, in steps the storage actor takes
    between batches, so that a large compaction never stalls applying. For
    every key the newest revision <= C stays, unless it is a tombstone
    older than C; a tombstone exactly at C stays until the next compaction
    (etcd 3.6 keeps it for watchers; HashKV skips it). Every older revision
    goes, from the index and the key family; a tombstone that goes, goes in
    the same batch as the key's last older revision, so that no step ever
    leaves an older put of a deleted key as its newest revision. A step stops after about
    max_deletes deletions, inside a key's history if need be (one key may
    have a million revisions). When a walk over the whole index ends,
    finishedCompactRev = C is recorded; a restart with finished < scheduled
    walks again from the start.
    =========================================================================
*/
#include "zkv_mvcc_private.h"

#include <stdlib.h>
#include <string.h>

bool
zkv_mvcc_compaction_pending (zkv_mvcc_t *self)
{
    return self->compact_revision > self->finished_compact;
}

//  Deletes one index entry and the revision it points to
static void
s_forget (zkv_mvcc_t *self, rocksdb_writebatch_t *batch, const char *index_key,
          size_t index_size, zkv_rev_t rev, bool tombstone)
{
    uint8_t revkey [ZKV_REVKEY_TOMB_SIZE];
    size_t revkey_size = zkv_revkey_encode (rev, tombstone, revkey);
    rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (self->engine, ZKV_CF_INDEX),
                                  index_key, index_size);
    rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (self->engine, ZKV_CF_KEY),
                                  (const char *) revkey, revkey_size);
}

//  An index entry whose deletion waits (a copy of its key)
typedef struct {
    uint8_t *bytes;
    size_t size;
    size_t room;
    zkv_rev_t rev;
    bool set;
} s_pending_t;

static int
s_pending_set (s_pending_t *pending, const char *bytes, size_t size, zkv_rev_t rev)
{
    if (size > pending->room) {
        uint8_t *grown = (uint8_t *) realloc (pending->bytes, size);
        if (!grown)
            return -1;
        pending->bytes = grown;
        pending->room = size;
    }
    memcpy (pending->bytes, bytes, size);
    pending->size = size;
    pending->rev = rev;
    pending->set = true;
    return 0;
}

//  Deletes the pending tombstone, if any
static void
s_pending_forget (zkv_mvcc_t *self, rocksdb_writebatch_t *batch, s_pending_t *pending)
{
    if (pending->set)
        s_forget (self, batch, (const char *) pending->bytes, pending->size, pending->rev, true);
    pending->set = false;
}

//  Remembers where the next step starts: at index key bytes (NULL: the
//  walk is over); inside when that entry is an older revision of a key
//  whose kept revision was already passed
static int
s_set_cursor (zkv_mvcc_t *self, const void *bytes, size_t size, bool inside)
{
    free (self->compact_cursor);
    self->compact_cursor = NULL;
    self->compact_cursor_size = 0;
    self->compact_inside = false;
    if (!bytes)
        return 0;
    self->compact_cursor = (uint8_t *) malloc (size);
    if (!self->compact_cursor)
        return -1;
    memcpy (self->compact_cursor, bytes, size);
    self->compact_cursor_size = size;
    self->compact_inside = inside;
    return 0;
}

int
zkv_mvcc_compact_step (zkv_mvcc_t *self, size_t max_deletes, char **error)
{
    if (!zkv_mvcc_compaction_pending (self))
        return 0;
    int64_t compact = self->compact_revision;
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_iterator_t *it = zkv_engine_iterator (self->engine, ZKV_CF_INDEX, NULL);
    uint8_t *key = NULL;                //  escaped user key being walked
    size_t key_room = 0, key_size = 0;
    //  Resuming inside a key: the first entry is an older revision
    bool resumed_inside = false;
    if (self->compact_cursor) {
        rocksdb_iter_seek (it, (const char *) self->compact_cursor, self->compact_cursor_size);
        resumed_inside = self->compact_inside;
    }
    else
        rocksdb_iter_seek_to_first (it);

    int rc = 0;
    size_t work = 0;
    bool stopped = false, stopped_inside = false;
    //  A key whose newest revision <= compact is a tombstone older than it
    //  loses the tombstone last, in the batch that deletes its last older
    //  revision: deleted first, the key's older put would read as live
    //  until the next step (and for good after a restart or a snapshot)
    s_pending_t tomb = { NULL, 0, 0, { 0, 0 }, false };
    while (rc == 0 && rocksdb_iter_valid (it)) {
        size_t size;
        const char *bytes = rocksdb_iter_key (it, &size);
        size_t this_size;
        zkv_rev_t rev;
        if (zkv_indexkey_decode ((const uint8_t *) bytes, size, &this_size, &rev)) {
            *error = strdup ("corrupt index key");
            rc = -1;
            break;
        }
        bool same_key = key && this_size == key_size && memcmp (bytes, key, key_size) == 0;
        if (!same_key)
            s_pending_forget (self, batch, &tomb);
        //  Every entry visited costs a little; a step never stops inside a
        //  key whose tombstone is still to go
        if (work++ >= max_deletes && !tomb.set) {
            stopped = true;
            stopped_inside = same_key || resumed_inside;
            break;
        }
        if (!same_key) {
            if (this_size + 18 > key_room) {
                key_room = 2 * (this_size + 18);
                uint8_t *grown = (uint8_t *) realloc (key, key_room);
                if (!grown) {
                    *error = strdup ("out of memory");
                    rc = -1;
                    break;
                }
                key = grown;
            }
            memcpy (key, bytes, this_size);
            key_size = this_size;
            if (!resumed_inside) {
                //  A new key: its newest revision <= compact stays (unless
                //  a tombstone older than compact); every older one goes
                size_t seek_size = zkv_indexkey_seek_escaped (key, key_size, compact);
                rocksdb_iter_seek (it, (const char *) key, seek_size);
                if (!rocksdb_iter_valid (it))
                    break;
                bytes = rocksdb_iter_key (it, &size);
                if (zkv_indexkey_decode ((const uint8_t *) bytes, size, &this_size, &rev)
                ||  this_size != key_size || memcmp (bytes, key, key_size) != 0)
                    continue;           //  none <= compact: on to the next key
                size_t value_size;
                const uint8_t *value = (const uint8_t *) rocksdb_iter_value (it, &value_size);
                zkv_index_value_t state;
                if (zkv_index_value_decode (value, value_size, &state)) {
                    *error = strdup ("corrupt index value");
                    rc = -1;
                    break;
                }
                if (state.tombstone && rev.main < compact
                &&  s_pending_set (&tomb, bytes, size, rev)) {
                    *error = strdup ("out of memory");
                    rc = -1;
                    break;
                }
                rocksdb_iter_next (it);
                continue;
            }
            resumed_inside = false;
        }
        //  An older revision of the key in hand: it goes
        size_t value_size;
        const uint8_t *value = (const uint8_t *) rocksdb_iter_value (it, &value_size);
        zkv_index_value_t state;
        if (zkv_index_value_decode (value, value_size, &state)) {
            *error = strdup ("corrupt index value");
            rc = -1;
            break;
        }
        s_forget (self, batch, bytes, size, rev, state.tombstone);
        rocksdb_iter_next (it);
    }
    if (rc == 0)
        s_pending_forget (self, batch, &tomb);
    free (tomb.bytes);
    if (rc == 0) {
        char *err = NULL;
        zkv_engine_iter_error (self->engine, it, &err);
        if (err) {
            *error = err;
            rc = -1;
        }
    }
    bool finished = rc == 0 && !stopped;
    if (rc == 0 && stopped) {
        size_t size;
        const char *bytes = rocksdb_iter_key (it, &size);
        if (s_set_cursor (self, bytes, size, stopped_inside)) {
            *error = strdup ("out of memory");
            rc = -1;
        }
    }
    rocksdb_iter_destroy (it);
    free (key);
    if (rc == 0 && finished) {
        uint8_t bytes [8];
        zkv_be64_put (bytes, (uint64_t) compact);
        rocksdb_writebatch_put_cf (batch, zkv_engine_cf (self->engine, ZKV_CF_META),
                                   ZKV_META_FINISHED_COMPACT, strlen (ZKV_META_FINISHED_COMPACT),
                                   (const char *) bytes, 8);
    }
    if (rc == 0)
        rc = zkv_engine_write (self->engine, batch, false, error);
    rocksdb_writebatch_destroy (batch);
    if (rc == 0 && finished) {
        self->finished_compact = compact;
        s_set_cursor (self, NULL, 0, false);
        //  The deletions' tombstones go to table files now, not whenever
        //  the memtables fill: there RocksDB compacts them away (see
        //  s_cf_options), and scans stop stepping over them
        rc = zkv_engine_flush_soon (self->engine, ZKV_CF_KEY, error);
        if (rc == 0)
            rc = zkv_engine_flush_soon (self->engine, ZKV_CF_INDEX, error);
    }
    return rc;
}
