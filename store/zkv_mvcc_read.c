/*  =========================================================================
    zkv_mvcc_read.c — finding keys at a revision, and Range.

    Every lookup is a seek in the index family: index keys sort by user key
    and, within a key, newest revision first, so seeking to (key, ~R) lands
    on the newest revision <= R of key in O(log n), however long its
    history. A range visits each key of the interval with at most two seeks
    (one when the key's newest revision is already <= R): O(log n + k).
    =========================================================================
*/
#include "zkv_mvcc_private.h"
#include "zkv_grow.h"
#include "zkv_kvpb.h"
#include "zkv_check.h"

#include <stdlib.h>
#include <string.h>

//  The user key of index key bytes, unescaped into buf (sized by caller)
static zkv_bin_t
s_user_key (const uint8_t *escaped, size_t escaped_size, uint8_t *buf)
{
    return zkv_bin (buf, zkv_unescape (escaped, escaped_size, buf));
}

//  Visits the newest revision <= rev of every key of [key, end), skipping
//  the keys whose newest is a tombstone unless tombstones is set
static int
s_walk (zkv_mvcc_t *self, zkv_bin_t key, zkv_bin_t end, int64_t rev, bool tombstones,
        zkv_mvcc_visit_fn *fn, void *arg, zkv_result_t *status)
{
    bool single = end.size == 0;
    bool to_end = end.size == 1 && end.data [0] == 0;
    //  Upper bound: escape (end) sorts after every index key of a user key
    //  below end and at or before every one of end and beyond.
    uint8_t *bound = NULL;
    size_t bound_size = 0;
    if (!single && !to_end) {
        bound = (uint8_t *) malloc (2 * end.size + 1);
        if (!bound)
            return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        bound_size = zkv_escape (end.data, end.size, bound);
    }
    //  One buffer serves every target: escaped key + 18 bytes
    size_t target_room = 2 * key.size + 18;
    uint8_t *target = (uint8_t *) malloc (target_room);
    uint8_t *user = NULL;
    size_t user_room = 0;
    if (!target) {
        free (bound);
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    }
    size_t target_size = zkv_indexkey_seek (key.data, key.size, rev, target);
    size_t escaped_key_size = target_size - 18;

    //  RocksDB stops at the end of the walk (one key's revisions, or end)
    //  instead of stepping over every deleted record after it
    uint8_t *after = single? (uint8_t *) malloc (2 * key.size + 2): NULL;
    if (single && !after) {
        free (target);
        free (bound);
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    }
    size_t after_size = single? zkv_indexkey_after (key.data, key.size, after): 0;
    rocksdb_readoptions_t *options = rocksdb_readoptions_create ();
    rocksdb_iterator_t *it = single
        ? zkv_mvcc_iterator (self, ZKV_CF_INDEX, options, after, after_size)
        : zkv_mvcc_iterator (self, ZKV_CF_INDEX, options, bound, bound_size);
    rocksdb_iter_seek (it, (const char *) target, target_size);
    int rc = 0;
    for (size_t steps = 1; rocksdb_iter_valid (it); steps++) {
        if (self->limits.expired && steps % ZKV_MVCC_DEADLINE_STEPS == 0
        &&  self->limits.expired (self->limits.arg)) {
            rc = zkv_status_set (status, ZKV_ERR_TIMEOUT, NULL);
            break;
        }
        size_t size;
        const uint8_t *bytes = (const uint8_t *) rocksdb_iter_key (it, &size);
        size_t escaped_size;
        zkv_rev_t found_rev;
        if (zkv_indexkey_decode (bytes, size, &escaped_size, &found_rev)) {
            rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "corrupt index key");
            break;
        }
        if (single) {
            if (zkv_bin_compare (zkv_bin (bytes, escaped_size), zkv_bin (target, escaped_key_size)) != 0)
                break;
        }
        else
        if (bound && zkv_bin_compare (zkv_bin (bytes, size), zkv_bin (bound, bound_size)) >= 0)
            break;

        //  Room for targets built from this key
        if (escaped_size + 18 > target_room || escaped_size > user_room) {
            size_t room = 2 * (escaped_size + 18);
            uint8_t *grown = (uint8_t *) realloc (target, room);
            uint8_t *grown_user = grown? (uint8_t *) realloc (user, room): NULL;
            if (!grown || !grown_user) {
                if (grown)
                    target = grown;
                rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
                break;
            }
            target = grown;
            user = grown_user;
            target_room = user_room = room;
        }
        if (found_rev.main > rev) {
            //  Newer than wanted: jump to this key's newest <= rev
            memmove (target, bytes, escaped_size);
            size_t seek_size = zkv_indexkey_seek_escaped (target, escaped_size, rev);
            rocksdb_iter_seek (it, (const char *) target, seek_size);
            if (!rocksdb_iter_valid (it))
                break;
            bytes = (const uint8_t *) rocksdb_iter_key (it, &size);
            size_t again_size;
            if (zkv_indexkey_decode (bytes, size, &again_size, &found_rev)) {
                rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "corrupt index key");
                break;
            }
            if (again_size != escaped_size || memcmp (bytes, target, escaped_size) != 0)
                continue;               //  no revision <= rev: on to the next key
            escaped_size = again_size;
        }
        size_t value_size;
        const uint8_t *value = (const uint8_t *) rocksdb_iter_value (it, &value_size);
        s_found_t found;
        found.rev = found_rev;
        if (zkv_index_value_decode (value, value_size, &found.state)) {
            rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "corrupt index value");
            break;
        }
        //  Keep the escaped key before the iterator moves
        memmove (target, bytes, escaped_size);
        if (tombstones || !found.state.tombstone) {
            zkv_bin_t user_key = s_user_key (target, escaped_size, user);
            rc = fn (arg, user_key, &found);
            if (rc)
                break;
        }
        if (single)
            break;
        //  On to the next user key: past escape (key) 00 01 ... is 00 02
        target [escaped_size] = 0x00;
        target [escaped_size + 1] = 0x02;
        rocksdb_iter_seek (it, (const char *) target, escaped_size + 2);
    }
    if (rc == 0) {
        char *err = NULL;
        zkv_engine_iter_error (self->engine, it, &err);
        if (err)
            rc = zkv_mvcc_rocksdb_error (status, err);
    }
    rocksdb_iter_destroy (it);
    rocksdb_readoptions_destroy (options);
    free (after);
    free (target);
    free (user);
    free (bound);
    return rc < 0? -1: 0;
}

int
zkv_mvcc_visit (zkv_mvcc_t *self, zkv_bin_t key, zkv_bin_t end, int64_t rev,
                zkv_mvcc_visit_fn *fn, void *arg, zkv_result_t *status)
{
    return s_walk (self, key, end, rev, false, fn, arg, status);
}

//  ---------------------------------------------------------------------
//  Single key lookup: unlike a visit it also reports a tombstone, which a
//  put needs to know that the key's next generation starts

static int
s_lookup_visit (void *arg, zkv_bin_t key, const s_found_t *found)
{
    (void) key;
    *(s_found_t *) arg = *found;
    return 1;
}

int
zkv_mvcc_lookup (zkv_mvcc_t *self, zkv_bin_t key, int64_t rev, s_found_t *found,
                 zkv_result_t *status)
{
    found->rev.main = 0;
    if (s_walk (self, key, zkv_bin (NULL, 0), rev, true, s_lookup_visit, found, status))
        return -1;
    return found->rev.main? 1: 0;
}

int
zkv_mvcc_read_kv (zkv_mvcc_t *self, zkv_rev_t rev, bool tombstone, bool with_value,
                  msgpack_zone *zone, zkv_key_value_t *kv, zkv_result_t *status)
{
    uint8_t revkey [ZKV_REVKEY_TOMB_SIZE];
    size_t revkey_size = zkv_revkey_encode (rev, tombstone, revkey);
    char *value;
    size_t value_size;
    int found = zkv_mvcc_get (self, ZKV_CF_KEY, revkey, revkey_size, &value, &value_size, status);
    if (found < 0)
        return -1;
    if (found == 0)
        return zkv_status_set (status, ZKV_ERR_INTERNAL,
                               "index points at a missing revision %lld_%lld",
                               (long long) rev.main, (long long) rev.sub);
    //  Without its value, only the key goes into the zone: a keys-only
    //  range over large values holds no more than its keys
    uint8_t *bytes = with_value? (uint8_t *) zkv_mvcc_copy (zone, value, value_size)
                               : (uint8_t *) value;
    int rc = 0;
    if (!bytes)
        rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    else
    if (zkv_kvpb_decode (bytes, value_size, kv))
        rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "corrupt KeyValue at %lld_%lld",
                             (long long) rev.main, (long long) rev.sub);
    else
    if (!with_value) {
        kv->value = zkv_bin (NULL, 0);
        void *key = zkv_mvcc_copy (zone, kv->key.data, kv->key.size);
        kv->key = zkv_bin (key, kv->key.size);
        if (!key)
            rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    }
    free (value);
    return rc;
}

//  ---------------------------------------------------------------------
//  Range

typedef struct {
    zkv_mvcc_t *self;
    const zkv_range_t *request;
    msgpack_zone *zone;
    int64_t fetch;                      //  most key-values to read (0: all)
    bool with_value;                    //  read the values
    zkv_key_value_t *kvs;               //  growing array (malloc'd)
    size_t kv_count;
    size_t kv_room;
    int64_t count;
    zkv_result_t *status;
} s_range_t;

static int
s_range_visit (void *arg, zkv_bin_t key, const s_found_t *found)
{
    (void) key;
    s_range_t *range = (s_range_t *) arg;
    range->count++;
    if (range->request->count_only)
        return 0;
    //  etcd counts every key of the range but reads at most what it needs
    if (range->fetch > 0 && (int64_t) range->kv_count >= range->fetch)
        return 0;
    if (zkv_grow ((void **) &range->kvs, &range->kv_room, range->kv_count + 1,
                  sizeof (zkv_key_value_t)))
        return zkv_status_set (range->status, ZKV_ERR_INTERNAL, "out of memory");
    zkv_key_value_t *kv = &range->kvs [range->kv_count];
    if (zkv_mvcc_read_kv (range->self, found->rev, false, range->with_value, range->zone,
                          kv, range->status))
        return -1;
    if (zkv_mvcc_reply_take (range->self, kv, range->status))
        return -1;
    range->kv_count++;
    return 0;
}

//  Byte strings as Go's bytes.Compare orders them
static int
s_bytes_compare (zkv_bin_t a, zkv_bin_t b)
{
    size_t common = a.size < b.size? a.size: b.size;
    int rc = common? memcmp (a.data, b.data, common): 0;
    if (rc)
        return rc;
    return a.size < b.size? -1: a.size > b.size? 1: 0;
}

static int
s_int_compare (int64_t a, int64_t b)
{
    return a < b? -1: a > b? 1: 0;
}

//  How a sort compares key-values (qsort has no argument for it)
typedef struct {
    zkv_sort_target_t target;
    bool descend;
} s_sort_t;
static _Thread_local s_sort_t s_sort;

//  The sort's order by its target, ties in key order whatever the
//  direction: what etcd's Go sort gives (an insertion sort, stable, up to
//  12 key-values; etcd leaves ties of longer ranges in no set order)
static int
s_sort_compare (const void *a_, const void *b_)
{
    const zkv_key_value_t *a = (const zkv_key_value_t *) a_, *b = (const zkv_key_value_t *) b_;
    int rc = 0;
    switch (s_sort.target) {
        case ZKV_SORT_KEY:     rc = s_bytes_compare (a->key, b->key); break;
        case ZKV_SORT_VERSION: rc = s_int_compare (a->version, b->version); break;
        case ZKV_SORT_CREATE:  rc = s_int_compare (a->create_revision, b->create_revision); break;
        case ZKV_SORT_MOD:     rc = s_int_compare (a->mod_revision, b->mod_revision); break;
        case ZKV_SORT_VALUE:   rc = s_bytes_compare (a->value, b->value); break;
    }
    if (rc)
        return s_sort.descend? -rc: rc;
    return s_bytes_compare (a->key, b->key);
}

int
zkv_mvcc_range_at (zkv_mvcc_t *self, const zkv_range_t *request, int64_t current,
                   msgpack_zone *zone, zkv_range_response_t *response, zkv_result_t *status)
{
    memset (response, 0, sizeof *response);
    int64_t rev = request->revision;
    if (rev > current)
        return zkv_status_set (status, ZKV_ERR_FUTURE_REV, NULL);
    if (rev <= 0)
        rev = current;
    if (rev < zkv_mvcc_current_compact (self))
        return zkv_status_set (status, ZKV_ERR_COMPACTED, NULL);

    //  etcd's applier: an order asked for reads the whole range, sorts it,
    //  then applies the limit; a target other than KEY without an order
    //  sorts ASCEND, but only the limit + 1 keys read in key order. Keys
    //  come in key order, so KEY ASCEND needs no sort.
    zkv_sort_order_t order = zkv_range_sort_order (request);
    zkv_sort_target_t target = zkv_range_sort_target (request);
    if (order == ZKV_SORT_ASCEND && target == ZKV_SORT_KEY)
        order = ZKV_SORT_NONE;
    int64_t fetch = request->limit > 0? request->limit: 0;
    if (order != ZKV_SORT_NONE)
        fetch = 0;
    else
    if (target != ZKV_SORT_KEY) {
        order = ZKV_SORT_ASCEND;
        if (fetch)
            fetch++;
    }
    //  A keys-only range sorted by value reads the values to sort them by
    bool with_value = !request->keys_only || (order != ZKV_SORT_NONE && target == ZKV_SORT_VALUE);

    s_range_t range = { self, request, zone, fetch, with_value, NULL, 0, 0, 0, status };
    if (zkv_mvcc_visit (self, request->key, request->range_end, rev,
                        s_range_visit, &range, status)) {
        free (range.kvs);
        return -1;
    }
    if (order != ZKV_SORT_NONE && range.kv_count > 1) {
        s_sort = (s_sort_t) { target, order == ZKV_SORT_DESCEND };
        qsort (range.kvs, range.kv_count, sizeof (zkv_key_value_t), s_sort_compare);
    }
    if (request->keys_only && with_value)
        for (size_t i = 0; i < range.kv_count; i++)
            range.kvs [i].value = zkv_bin (NULL, 0);
    response->header = zkv_mvcc_header (zone, current);
    response->count = range.count;
    //  etcd: more when the keys read exceed the limit; a count-only range
    //  reads none
    response->more = !request->count_only && request->limit > 0 && range.count > request->limit;
    if (request->limit > 0 && (int64_t) range.kv_count > request->limit)
        range.kv_count = (size_t) request->limit;
    if (range.kv_count) {
        response->kvs.items = (zkv_key_value_t *) zkv_mvcc_copy (
            zone, range.kvs, range.kv_count * sizeof (zkv_key_value_t));
        response->kvs.count = range.kv_count;
    }
    free (range.kvs);
    if (!response->header || (range.kv_count && !response->kvs.items))
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    return 0;
}

int
zkv_mvcc_range (zkv_mvcc_t *self, const zkv_range_t *request, msgpack_zone *zone,
                zkv_range_response_t *response, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    return zkv_mvcc_range_at (self, request, zkv_mvcc_current (self), zone, response, status);
}
