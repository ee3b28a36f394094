/*  =========================================================================
    zkv_mvcc_compact.c — reclaiming what a compaction made unreachable.

    Compact(C) only moves the compact revision (reads below it fail at
    once); the deletions happen here, in steps the storage actor takes
    between batches, so that a large compaction never stalls applying. For
    every key the newest revision <= C stays, unless it is a tombstone
    older than C; a tombstone exactly at C stays until the next compaction
    (etcd 3.6 keeps it for watchers; HashKV skips it). Every older revision
    goes, from the index and the key family. When a walk over the whole
    index ends, finishedCompactRev = C is recorded; a restart with
    finished < scheduled walks again from the start.
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

int
zkv_mvcc_compact_step (zkv_mvcc_t *self, size_t max_keys, char **error)
{
    if (!zkv_mvcc_compaction_pending (self))
        return 0;
    int64_t compact = self->compact_revision;
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_iterator_t *it = zkv_engine_iterator (self->engine, ZKV_CF_INDEX, NULL);
    uint8_t *target = NULL;             //  seek target buffer
    size_t target_room = 0;
    if (self->compact_cursor)
        rocksdb_iter_seek (it, (const char *) self->compact_cursor, self->compact_cursor_size);
    else
        rocksdb_iter_seek_to_first (it);

    int rc = 0;
    size_t keys = 0;
    while (rocksdb_iter_valid (it) && keys < max_keys) {
        size_t size;
        const char *bytes = rocksdb_iter_key (it, &size);
        size_t escaped_size;
        zkv_rev_t rev;
        if (zkv_indexkey_decode ((const uint8_t *) bytes, size, &escaped_size, &rev)) {
            *error = strdup ("corrupt index key");
            rc = -1;
            break;
        }
        if (escaped_size + 18 > target_room) {
            target_room = 2 * (escaped_size + 18);
            uint8_t *grown = (uint8_t *) realloc (target, target_room);
            if (!grown) {
                *error = strdup ("out of memory");
                rc = -1;
                break;
            }
            target = grown;
        }
        memcpy (target, bytes, escaped_size);
        keys++;
        //  The newest revision <= compact of this key, then everything older
        size_t seek_size = zkv_indexkey_seek_escaped (target, escaped_size, compact);
        rocksdb_iter_seek (it, (const char *) target, seek_size);
        bool newest = true;
        while (rocksdb_iter_valid (it)) {
            bytes = rocksdb_iter_key (it, &size);
            size_t this_size;
            if (zkv_indexkey_decode ((const uint8_t *) bytes, size, &this_size, &rev)
            ||  this_size != escaped_size || memcmp (bytes, target, escaped_size) != 0)
                break;                  //  the next user key
            size_t value_size;
            const uint8_t *value = (const uint8_t *) rocksdb_iter_value (it, &value_size);
            zkv_index_value_t state;
            if (zkv_index_value_decode (value, value_size, &state)) {
                *error = strdup ("corrupt index value");
                rc = -1;
                break;
            }
            bool keep = newest && !(state.tombstone && rev.main < compact);
            if (!keep)
                s_forget (self, batch, bytes, size, rev, state.tombstone);
            newest = false;
            rocksdb_iter_next (it);
        }
        if (rc)
            break;
    }
    if (rc == 0) {
        char *err = NULL;
        rocksdb_iter_get_error (it, &err);
        if (err) {
            *error = err;
            rc = -1;
        }
    }
    bool finished = rc == 0 && !rocksdb_iter_valid (it);
    if (rc == 0 && !finished) {
        //  Resume at the next user key next time
        size_t size;
        const char *bytes = rocksdb_iter_key (it, &size);
        size_t escaped_size;
        zkv_rev_t rev;
        if (zkv_indexkey_decode ((const uint8_t *) bytes, size, &escaped_size, &rev) == 0) {
            uint8_t *cursor = (uint8_t *) realloc (self->compact_cursor, escaped_size + 2);
            if (cursor) {
                memcpy (cursor, bytes, escaped_size);
                cursor [escaped_size] = 0x00;
                cursor [escaped_size + 1] = 0x01;
                self->compact_cursor = cursor;
                self->compact_cursor_size = escaped_size + 2;
            }
        }
    }
    rocksdb_iter_destroy (it);
    free (target);
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
        free (self->compact_cursor);
        self->compact_cursor = NULL;
        self->compact_cursor_size = 0;
    }
    return rc;
}
