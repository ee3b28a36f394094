/*  =========================================================================
    zkv_hash.c — Hash and HashKV (see zkv_hash.h).

    HashKV walks the index once to find, per key, the revisions that count
    at or below the compact revision, as a sorted array; then walks the
    `key` family in revision order up to R, merging with that array. Both
    walks read the same snapshot, so a compaction or a write running
    meanwhile changes nothing.
    =========================================================================
*/
#include "zkv_hash.h"
#include "zkv_crc32c.h"
#include "zkv_mvcc_private.h"

#include <stdlib.h>
#include <string.h>

//  A growing array of revisions
typedef struct {
    zkv_rev_t *items;
    size_t count;
    size_t room;
} s_revs_t;

static int
s_revs_add (s_revs_t *revs, zkv_rev_t rev)
{
    if (revs->count == revs->room) {
        size_t room = revs->room? 2 * revs->room: 1024;
        zkv_rev_t *grown = (zkv_rev_t *) realloc (revs->items, room * sizeof (zkv_rev_t));
        if (!grown)
            return -1;
        revs->items = grown;
        revs->room = room;
    }
    revs->items [revs->count++] = rev;
    return 0;
}

static int
s_rev_compare (const void *a, const void *b)
{
    const zkv_rev_t *x = (const zkv_rev_t *) a, *y = (const zkv_rev_t *) b;
    if (x->main != y->main)
        return x->main < y->main? -1: 1;
    return x->sub < y->sub? -1: x->sub > y->sub? 1: 0;
}

//  An 8-byte meta record at snapshot, left as is when absent
static int
s_meta_get (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, const char *name,
            int64_t *value, char **error)
{
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_META, snapshot);
    size_t name_size = strlen (name);
    rocksdb_iter_seek (it, name, name_size);
    int rc = 0;
    if (rocksdb_iter_valid (it)) {
        size_t key_size, value_size;
        const char *key = rocksdb_iter_key (it, &key_size);
        const char *bytes = rocksdb_iter_value (it, &value_size);
        if (key_size == name_size && memcmp (key, name, name_size) == 0) {
            if (value_size == 8)
                *value = (int64_t) zkv_be64_get ((const uint8_t *) bytes);
            else {
                *error = strdup ("corrupt meta record");
                rc = -1;
            }
        }
    }
    if (rc == 0)
        rc = zkv_engine_iter_error (engine, it, error);
    rocksdb_iter_destroy (it);
    return rc;
}

int
zkv_hash_state (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot,
                zkv_hash_state_t *state, char **error)
{
    //  The defaults of a new store, as zkv_mvcc_new has them
    int64_t term = 0, index = 0;
    state->revision = 1;
    state->compact_revision = -1;
    if (s_meta_get (engine, snapshot, ZKV_META_REVISION, &state->revision, error)
    ||  s_meta_get (engine, snapshot, ZKV_META_SCHEDULED_COMPACT, &state->compact_revision, error)
    ||  s_meta_get (engine, snapshot, ZKV_META_APPLIED_INDEX, &index, error)
    ||  s_meta_get (engine, snapshot, ZKV_META_APPLIED_TERM, &term, error))
        return -1;
    state->applied_index = (uint64_t) index;
    state->applied_term = (uint64_t) term;
    return 0;
}

//  Per key of the index: the newest revision <= revision (what keep
//  decides on) and the newest <= compact (what compaction leaves). Fills
//  counted with the revisions <= compact that count, sorted.
static int
s_counted (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, int64_t revision,
           int64_t compact, zkv_keep_t mode, s_revs_t *counted, char **error)
{
    s_revs_t keep = { NULL, 0, 0 }, left = { NULL, 0, 0 };
    bool keep_empty = true;
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_INDEX, snapshot);
    rocksdb_iter_seek_to_first (it);
    uint8_t *key = NULL;                //  escaped user key in hand
    size_t key_size = 0, key_room = 0;
    bool seen_revision = false, seen_compact = false;
    int rc = 0;
    for (; rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
        size_t size, value_size, escaped_size;
        const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (it, &size);
        const uint8_t *value = (const uint8_t *) rocksdb_iter_value (it, &value_size);
        zkv_rev_t rev;
        zkv_index_value_t state;
        if (zkv_indexkey_decode (bytes, size, &escaped_size, &rev)
        ||  zkv_index_value_decode (value, value_size, &state)) {
            *error = strdup ("corrupt index record");
            rc = -1;
            break;
        }
        if (!key || escaped_size != key_size || memcmp (bytes, key, key_size) != 0) {
            if (escaped_size > key_room) {
                key_room = 2 * escaped_size;
                uint8_t *grown = (uint8_t *) realloc (key, key_room);
                if (!grown) {
                    *error = strdup ("out of memory");
                    rc = -1;
                    break;
                }
                key = grown;
            }
            memcpy (key, bytes, escaped_size);
            key_size = escaped_size;
            seen_revision = seen_compact = false;
        }
        //  Newest first: the first entry <= a bound is the newest under it
        if (!seen_revision && rev.main <= revision) {
            seen_revision = true;
            bool kept = mode == ZKV_KEEP_LIVE? !state.tombstone
                                             : !(state.tombstone && rev.main < revision);
            if (kept) {
                keep_empty = false;
                if (rev.main <= compact && s_revs_add (&keep, rev)) {
                    rc = -1;
                    break;
                }
            }
        }
        if (!seen_compact && rev.main <= compact) {
            seen_compact = true;
            if (!(state.tombstone && rev.main < compact) && s_revs_add (&left, rev)) {
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0)
        rc = zkv_engine_iter_error (engine, it, error);
    else
    if (!*error)
        *error = strdup ("out of memory");
    rocksdb_iter_destroy (it);
    free (key);
    //  etcd: an empty keep set filters nothing at or below compact, i.e.
    //  everything compaction leaves there counts
    s_revs_t *chosen = keep_empty? &left: &keep;
    s_revs_t *other = keep_empty? &keep: &left;
    free (other->items);
    if (rc) {
        free (chosen->items);
        return -1;
    }
    if (chosen->count > 1)              //  (qsort must not be given NULL)
        qsort (chosen->items, chosen->count, sizeof (zkv_rev_t), s_rev_compare);
    *counted = *chosen;
    return 0;
}

int
zkv_hash_kv (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, int64_t revision,
             int64_t compact, zkv_keep_t keep, uint32_t *hash, char **error)
{
    uint32_t crc = zkv_crc32c (0, "key", 3);
    if (revision <= 0) {
        *hash = crc;
        return 0;
    }
    s_revs_t counted = { NULL, 0, 0 };
    if (compact >= 0 && s_counted (engine, snapshot, revision, compact, keep, &counted, error))
        return -1;
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_KEY, snapshot);
    rocksdb_iter_seek_to_first (it);
    size_t next = 0;                    //  next counted revision to meet
    int rc = 0;
    for (; rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
        size_t size, value_size;
        const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (it, &size);
        zkv_rev_t rev;
        bool tombstone;
        if (zkv_revkey_decode (bytes, size, &rev, &tombstone)) {
            *error = strdup ("corrupt revision key");
            rc = -1;
            break;
        }
        if (rev.main > revision)
            break;
        if (rev.main <= compact) {
            while (next < counted.count && s_rev_compare (&counted.items [next], &rev) < 0)
                next++;
            if (next == counted.count || s_rev_compare (&counted.items [next], &rev) != 0)
                continue;
        }
        if (tombstone && rev.main == compact)
            continue;
        const char *value = rocksdb_iter_value (it, &value_size);
        crc = zkv_crc32c (crc, bytes, size);
        crc = zkv_crc32c (crc, value, value_size);
    }
    if (rc == 0)
        rc = zkv_engine_iter_error (engine, it, error);
    rocksdb_iter_destroy (it);
    free (counted.items);
    if (rc == 0)
        *hash = crc;
    return rc;
}

int
zkv_hash_all (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, uint32_t *hash,
              char **error)
{
    //  Families by name, the raft log left out
    zkv_cf_t families [ZKV_CF_COUNT];
    size_t count = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (cf != ZKV_CF_RAFT_LOG) {
            size_t at = count++;
            while (at > 0 && strcmp (zkv_cf_name (families [at - 1]), zkv_cf_name (cf)) > 0) {
                families [at] = families [at - 1];
                at--;
            }
            families [at] = (zkv_cf_t) cf;
        }
    uint32_t crc = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        const char *name = zkv_cf_name (families [i]);
        crc = zkv_crc32c (crc, name, strlen (name));
        rocksdb_iterator_t *it = zkv_engine_iterator (engine, families [i], snapshot);
        for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
            size_t size, value_size;
            const char *key = rocksdb_iter_key (it, &size);
            if (families [i] == ZKV_CF_META && zkv_meta_is_own (key, size))
                continue;
            const char *value = rocksdb_iter_value (it, &value_size);
            crc = zkv_crc32c (crc, key, size);
            crc = zkv_crc32c (crc, value, value_size);
        }
        rc = zkv_engine_iter_error (engine, it, error);
        rocksdb_iter_destroy (it);
    }
    if (rc == 0)
        *hash = crc;
    return rc;
}
