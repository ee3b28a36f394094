/*  =========================================================================
    zkv_hash.c — Hash and HashKV (see zkv_hash.h).

    HashKV walks the `key` family in revision order up to R, and decides
    which revisions at or below the compact revision count by merging with
    a sorted array. While the compaction is still to finish, that array is
    the revisions that count, from a walk over the whole index; once it has
    finished, it is the revisions that do not, found from the writes after
    the compact revision alone (s_excluded): HashKV of 1M keys then costs
    one walk, not two and a sort. Every walk reads the same snapshot, so a
    compaction or a write running meanwhile changes nothing.

    The walks that hash (the `key` family for HashKV, every family for
    Hash) go in parts on several threads (zkv_scan.h): each part's CRC
    starts from 0, and the parts' CRCs are combined in order with their
    lengths (zkv_crc32c_combine), which gives the one pass's CRC.
    =========================================================================
*/
#include "zkv_hash.h"
#include "zkv_crc32c.h"
#include "zkv_grow.h"
#include "zkv_kvpb.h"
#include "zkv_mvcc_private.h"
#include "zkv_scan.h"

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
    if (zkv_grow ((void **) &revs->items, &revs->room, revs->count + 1, sizeof (zkv_rev_t)))
        return -1;
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

//  Whether a key whose newest revision <= revision is rev, in state, is in
//  HashKV (revision)'s keep set: a live key; for a compaction's hash, also
//  a key deleted at revision itself
static bool
s_kept (zkv_keep_t mode, const zkv_index_value_t *state, zkv_rev_t rev, int64_t revision)
{
    return mode == ZKV_KEEP_LIVE? !state->tombstone
                                : !(state->tombstone && rev.main < revision);
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
            if (s_kept (mode, &state, rev, revision)) {
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

//  True if rev is in the sorted revs, which the caller walks in rising
//  order (*next: where the last search ended)
static bool
s_revs_meet (const s_revs_t *revs, size_t *next, const zkv_rev_t *rev)
{
    while (*next < revs->count && s_rev_compare (&revs->items [*next], rev) < 0)
        (*next)++;
    return *next < revs->count && s_rev_compare (&revs->items [*next], rev) == 0;
}

//  The state of the newest revision of key <= main, from the index: 0 and
//  *rev, *state filled; 1 if there is none; -1 on error
static int
s_newest (rocksdb_iterator_t *it, const zkv_bin_t *key, int64_t main, uint8_t *seek,
          zkv_rev_t *rev, zkv_index_value_t *state)
{
    size_t escaped_size = zkv_escape (key->data, key->size, seek);
    size_t seek_size = zkv_indexkey_seek_escaped (seek, escaped_size, main);
    rocksdb_iter_seek (it, (const char *) seek, seek_size);
    if (!rocksdb_iter_valid (it))
        return 1;
    size_t size, value_size, this_size;
    const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (it, &size);
    if (zkv_indexkey_decode (bytes, size, &this_size, rev))
        return -1;
    if (this_size != escaped_size || memcmp (bytes, seek, escaped_size) != 0)
        return 1;
    const uint8_t *value = (const uint8_t *) rocksdb_iter_value (it, &value_size);
    return zkv_index_value_decode (value, value_size, state)? -1: 0;
}

//  What s_counted decides, in time that grows with the writes after
//  compact rather than with the store, when the compaction to compact has
//  finished at snapshot and revision >= compact. The key family then holds
//  at or below compact only what that compaction left: per key, its newest
//  revision <= compact, unless a tombstone older than compact (a later
//  compaction may have taken more; a tombstone at compact is never hashed).
//  Of those, HashKV (revision) does not count the ones of keys written in
//  (compact, revision]: their newest revision <= revision is above compact,
//  so not in the keep set; unless the keep set is empty (no key's newest
//  revision <= revision kept), when everything left counts. Fills excluded
//  with the revisions <= compact not counted, sorted.
static int
s_excluded (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, int64_t revision,
            int64_t compact, zkv_keep_t mode, s_revs_t *excluded, char **error)
{
    rocksdb_iterator_t *keys = zkv_engine_iterator (engine, ZKV_CF_KEY, snapshot);
    rocksdb_iterator_t *index = zkv_engine_iterator (engine, ZKV_CF_INDEX, snapshot);
    uint8_t *seek = NULL;
    size_t seek_room = 0;
    bool keep_empty = true;
    int rc = 0;
    uint8_t first [ZKV_REVKEY_TOMB_SIZE];
    zkv_rev_t after = { compact + 1, 0 };
    rocksdb_iter_seek (keys, (const char *) first, zkv_revkey_encode (after, false, first));
    for (; rc == 0 && rocksdb_iter_valid (keys); rocksdb_iter_next (keys)) {
        size_t size, value_size;
        const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (keys, &size);
        const uint8_t *value = (const uint8_t *) rocksdb_iter_value (keys, &value_size);
        zkv_rev_t rev;
        bool tombstone;
        zkv_key_value_t kv;
        if (zkv_revkey_decode (bytes, size, &rev, &tombstone)
        ||  zkv_kvpb_decode (value, value_size, &kv)) {
            rc = -1;
            break;
        }
        if (rev.main > revision)
            break;
        if (ZKV_INDEXKEY_MAX (kv.key.size) > seek_room) {
            seek_room = 2 * ZKV_INDEXKEY_MAX (kv.key.size);
            uint8_t *grown = (uint8_t *) realloc (seek, seek_room);
            if (!grown) {
                rc = -1;
                break;
            }
            seek = grown;
        }
        zkv_rev_t newest;
        zkv_index_value_t state;
        int found;
        if (keep_empty) {               //  is the key's newest <= revision kept?
            found = s_newest (index, &kv.key, revision, seek, &newest, &state);
            if (found < 0) {
                rc = -1;
                break;
            }
            if (found == 0 && s_kept (mode, &state, newest, revision))
                keep_empty = false;
        }
        found = s_newest (index, &kv.key, compact, seek, &newest, &state);
        if (found < 0
        ||  (found == 0 && !(state.tombstone && newest.main < compact)
             && s_revs_add (excluded, newest))) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && excluded->count > 1) {
        qsort (excluded->items, excluded->count, sizeof (zkv_rev_t), s_rev_compare);
        size_t unique = 1;
        for (size_t i = 1; i < excluded->count; i++)
            if (s_rev_compare (&excluded->items [i], &excluded->items [unique - 1]) != 0)
                excluded->items [unique++] = excluded->items [i];
        excluded->count = unique;
    }
    //  Else, the keep set holds a key not written since compact if a put
    //  <= compact is left that is not excluded (mostly the first record)
    if (rc == 0 && keep_empty) {
        size_t next = 0;
        for (rocksdb_iter_seek_to_first (keys); rocksdb_iter_valid (keys);
             rocksdb_iter_next (keys)) {
            size_t size;
            const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (keys, &size);
            zkv_rev_t rev;
            bool tombstone;
            if (zkv_revkey_decode (bytes, size, &rev, &tombstone)) {
                rc = -1;
                break;
            }
            if (rev.main > compact)
                break;
            if (!tombstone && !s_revs_meet (excluded, &next, &rev)) {
                keep_empty = false;
                break;
            }
        }
        if (keep_empty)
            excluded->count = 0;        //  everything left counts
    }
    if (rc)
        *error = strdup ("corrupt record, or out of memory");
    if (rc == 0)
        rc = zkv_engine_iter_error (engine, keys, error);
    if (rc == 0)
        rc = zkv_engine_iter_error (engine, index, error);
    rocksdb_iter_destroy (keys);
    rocksdb_iter_destroy (index);
    free (seek);
    return rc;
}

//  One part of a hashing walk, and what it yields
typedef struct {
    zkv_scan_part_t part;
    const char *name;                   //  hashed before the part (Hash: a
                                        //  family's name), or NULL
    uint32_t crc;                       //  of the part's bytes alone
    uint64_t length;                    //  their count
    int rc;
    char *error;
} s_piece_t;

//  A hashing walk: its pieces, in hash order, and what decides which
//  records count
typedef struct {
    zkv_engine_t *engine;
    const rocksdb_snapshot_t *snapshot;
    s_piece_t *pieces;
    size_t count;
    size_t *order;                      //  Hash: run order -> piece
    int64_t revision;                   //  HashKV: its revision,
    int64_t compact;                    //  the compact revision,
    bool by_exclusion;                  //  and the revisions <= compact listed
    const s_revs_t *listed;             //  as excluded (else as counted)
} s_walk_t;

//  The CRC of the walk's pieces in order, from crc, or -1 with *error (the
//  first piece's that failed)
static int
s_combine (s_walk_t *walk, uint32_t crc, uint32_t *hash, char **error)
{
    int rc = 0;
    for (size_t i = 0; i < walk->count; i++) {
        s_piece_t *piece = &walk->pieces [i];
        if (piece->rc && rc == 0) {
            rc = -1;
            *error = piece->error? piece->error: strdup ("out of memory");
            piece->error = NULL;
        }
        free (piece->error);
        if (piece->name)
            crc = zkv_crc32c (crc, piece->name, strlen (piece->name));
        crc = zkv_crc32c_combine (crc, piece->crc, piece->length);
    }
    if (rc == 0)
        *hash = crc;
    return rc;
}

//  Where the revisions from (main, 0) up start in the sorted revs
static size_t
s_revs_from (const s_revs_t *revs, int64_t main)
{
    size_t low = 0, high = revs->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (revs->items [middle].main < main)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

//  HashKV's walk over one part of the `key` family
static void
s_hash_kv_piece (void *arg, size_t index)
{
    s_walk_t *walk = (s_walk_t *) arg;
    s_piece_t *piece = &walk->pieces [index];
    zkv_scan_cursor_t cursor;
    zkv_scan_open (&cursor, walk->engine, walk->snapshot, &piece->part);
    size_t next = s_revs_from (walk->listed, piece->part.first_main);
    uint32_t crc = 0;
    uint64_t length = 0;
    for (; rocksdb_iter_valid (cursor.it); rocksdb_iter_next (cursor.it)) {
        size_t size, value_size;
        const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (cursor.it, &size);
        zkv_rev_t rev;
        bool tombstone;
        if (zkv_revkey_decode (bytes, size, &rev, &tombstone)) {
            piece->error = strdup ("corrupt revision key");
            piece->rc = -1;
            break;
        }
        if (rev.main > walk->revision)
            break;
        if (rev.main <= walk->compact
        &&  (walk->by_exclusion? s_revs_meet (walk->listed, &next, &rev)
                               : !s_revs_meet (walk->listed, &next, &rev)))
            continue;
        if (tombstone && rev.main == walk->compact)
            continue;
        const char *value = rocksdb_iter_value (cursor.it, &value_size);
        crc = zkv_crc32c (crc, bytes, size);
        crc = zkv_crc32c (crc, value, value_size);
        length += size + value_size;
    }
    if (piece->rc == 0)
        piece->rc = zkv_engine_iter_error (walk->engine, cursor.it, &piece->error);
    zkv_scan_close (&cursor);
    piece->crc = crc;
    piece->length = length;
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
    //  At or below compact, either only the revisions in counted count, or
    //  all but those in excluded
    s_revs_t counted = { NULL, 0, 0 }, excluded = { NULL, 0, 0 };
    bool by_exclusion = false;
    if (compact >= 0) {
        int64_t finished = -1;
        if (s_meta_get (engine, snapshot, ZKV_META_FINISHED_COMPACT, &finished, error))
            return -1;
        by_exclusion = finished == compact && revision >= compact;
        int rc = by_exclusion
               ? s_excluded (engine, snapshot, revision, compact, keep, &excluded, error)
               : s_counted (engine, snapshot, revision, compact, keep, &counted, error);
        if (rc) {
            free (excluded.items);
            return -1;
        }
    }
    s_piece_t pieces [ZKV_SCAN_KEY_PARTS];
    zkv_scan_part_t parts [ZKV_SCAN_KEY_PARTS];
    int count = zkv_scan_split_keys (engine, snapshot, revision, parts, ZKV_SCAN_KEY_PARTS,
                                     error);
    int rc = count < 0? -1: 0;
    if (rc == 0) {
        memset (pieces, 0, sizeof pieces);
        for (int i = 0; i < count; i++)
            pieces [i].part = parts [i];
        s_walk_t walk = {
            .engine = engine, .snapshot = snapshot, .pieces = pieces, .count = (size_t) count,
            .revision = revision, .compact = compact, .by_exclusion = by_exclusion,
            .listed = by_exclusion? &excluded: &counted
        };
        zkv_scan_run (walk.count, s_hash_kv_piece, &walk);
        rc = s_combine (&walk, crc, hash, error);
    }
    free (counted.items);
    free (excluded.items);
    return rc;
}

//  Hash's walk over one part of a family
static void
s_hash_piece (void *arg, size_t index)
{
    s_walk_t *walk = (s_walk_t *) arg;
    s_piece_t *piece = &walk->pieces [walk->order [index]];
    zkv_scan_cursor_t cursor;
    zkv_scan_open (&cursor, walk->engine, walk->snapshot, &piece->part);
    bool meta = piece->part.cf == ZKV_CF_META;
    uint32_t crc = 0;
    uint64_t length = 0;
    for (; rocksdb_iter_valid (cursor.it); rocksdb_iter_next (cursor.it)) {
        size_t size, value_size;
        const char *key = rocksdb_iter_key (cursor.it, &size);
        if (meta && zkv_meta_is_own (key, size))
            continue;
        const char *value = rocksdb_iter_value (cursor.it, &value_size);
        crc = zkv_crc32c (crc, key, size);
        crc = zkv_crc32c (crc, value, value_size);
        length += size + value_size;
    }
    piece->rc = zkv_engine_iter_error (walk->engine, cursor.it, &piece->error);
    zkv_scan_close (&cursor);
    piece->crc = crc;
    piece->length = length;
}

int
zkv_hash_all (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, uint32_t *hash,
              char **error)
{
    //  Families by name, the raft log left out
    zkv_cf_t families [ZKV_CF_COUNT];
    size_t families_count = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (cf != ZKV_CF_RAFT_LOG) {
            size_t at = families_count++;
            while (at > 0 && strcmp (zkv_cf_name (families [at - 1]), zkv_cf_name (cf)) > 0) {
                families [at] = families [at - 1];
                at--;
            }
            families [at] = (zkv_cf_t) cf;
        }
    //  Their pieces, in hash order: the `key` family in parts, every other
    //  one whole; each family's name before its first piece
    s_piece_t pieces [ZKV_CF_COUNT + ZKV_SCAN_KEY_PARTS];
    memset (pieces, 0, sizeof pieces);
    size_t count = 0;
    for (size_t i = 0; i < families_count; i++) {
        size_t first = count;
        if (families [i] == ZKV_CF_KEY) {
            zkv_scan_part_t parts [ZKV_SCAN_KEY_PARTS];
            int split = zkv_scan_split_keys (engine, snapshot, INT64_MAX, parts,
                                             ZKV_SCAN_KEY_PARTS, error);
            if (split < 0)
                return -1;
            for (int p = 0; p < split; p++)
                pieces [count++].part = parts [p];
        }
        if (count == first)             //  a whole family, or an empty `key`
            zkv_scan_whole (&pieces [count++].part, families [i]);
        pieces [first].name = zkv_cf_name (families [i]);
    }
    //  The index, the one large family walked whole, starts first, so that
    //  the other threads share the `key` family's parts meanwhile
    size_t order [ZKV_CF_COUNT + ZKV_SCAN_KEY_PARTS];
    size_t ordered = 0;
    for (size_t i = 0; i < count; i++)
        if (pieces [i].part.cf == ZKV_CF_INDEX)
            order [ordered++] = i;
    for (size_t i = 0; i < count; i++)
        if (pieces [i].part.cf != ZKV_CF_INDEX)
            order [ordered++] = i;
    s_walk_t walk = {
        .engine = engine, .snapshot = snapshot, .pieces = pieces, .count = count,
        .order = order
    };
    zkv_scan_run (count, s_hash_piece, &walk);
    return s_combine (&walk, 0, hash, error);
}
