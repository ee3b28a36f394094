/*  zkv_check.c — etcd's request validation (see zkv_check.h). */
#include "zkv_check.h"

#include <stdlib.h>
#include <string.h>

static const char *s_results [] = { "EQUAL", "GREATER", "LESS", "NOT_EQUAL" };
static const char *s_targets [] = { "VERSION", "CREATE", "MOD", "VALUE", "LEASE" };
static const char *s_sort_orders [] = { "NONE", "ASCEND", "DESCEND" };
static const char *s_sort_targets [] = { "KEY", "VERSION", "CREATE", "MOD", "VALUE" };

static int
s_enum_index (zkv_bin_t text, const char **names, int count, bool empty_is_first)
{
    if (text.size == 0 && empty_is_first)
        return 0;                       //  proto3: the zero enum is omitted
    for (int i = 0; i < count; i++)
        if (zkv_bin_eq (text, names [i]))
            return i;
    return -1;
}

zkv_cmp_result_t
zkv_compare_result (const zkv_compare_t *compare)
{
    return (zkv_cmp_result_t) s_enum_index (compare->result, s_results, 4, true);
}

zkv_cmp_target_t
zkv_compare_target (const zkv_compare_t *compare)
{
    return (zkv_cmp_target_t) s_enum_index (compare->target, s_targets, 5, true);
}

zkv_sort_order_t
zkv_range_sort_order (const zkv_range_t *range)
{
    return (zkv_sort_order_t) s_enum_index (range->sort_order, s_sort_orders, 3, true);
}

zkv_sort_target_t
zkv_range_sort_target (const zkv_range_t *range)
{
    return (zkv_sort_target_t) s_enum_index (range->sort_target, s_sort_targets, 5, true);
}

static int
s_check_range (const zkv_range_t *range, zkv_result_t *status)
{
    if (range->key.size == 0)
        return zkv_status_set (status, ZKV_ERR_EMPTY_KEY, NULL);
    if ((int) zkv_range_sort_order (range) < 0)
        return zkv_status_set (status, ZKV_ERR_MALFORMED,
                               "sort_order must be NONE, ASCEND or DESCEND");
    if ((int) zkv_range_sort_target (range) < 0)
        return zkv_status_set (status, ZKV_ERR_MALFORMED,
                               "sort_target must be KEY, VERSION, CREATE, MOD or VALUE");
    return 0;
}

static int
s_check_put (const zkv_put_t *put, zkv_result_t *status)
{
    if (put->key.size == 0)
        return zkv_status_set (status, ZKV_ERR_EMPTY_KEY, NULL);
    if (put->ignore_value && put->value.size)
        return zkv_status_set (status, ZKV_ERR_VALUE_PROVIDED, NULL);
    if (put->ignore_lease && put->lease)
        return zkv_status_set (status, ZKV_ERR_LEASE_PROVIDED, NULL);
    return 0;
}

static int
s_check_delete (const zkv_delete_range_t *del, zkv_result_t *status)
{
    if (del->key.size == 0)
        return zkv_status_set (status, ZKV_ERR_EMPTY_KEY, NULL);
    return 0;
}

static int s_check_txn (const zkv_txn_t *txn, zkv_result_t *status);

static int
s_check_op (const zkv_request_op_t *op, zkv_result_t *status)
{
    int set = (op->request_range != NULL) + (op->request_put != NULL)
            + (op->request_delete_range != NULL) + (op->request_txn != NULL);
    if (set == 0)                       //  etcd answers an empty op so
        return zkv_status_set (status, ZKV_ERR_KEY_NOT_FOUND, NULL);
    if (set > 1)
        return zkv_status_set (status, ZKV_ERR_MALFORMED,
                               "a request_op must hold exactly one request");
    if (op->request_range)
        return s_check_range (op->request_range, status);
    if (op->request_put)
        return s_check_put (op->request_put, status);
    if (op->request_delete_range)
        return s_check_delete (op->request_delete_range, status);
    return s_check_txn (op->request_txn, status);
}

//  ---------------------------------------------------------------------
//  Duplicate keys: etcd's checkIntervals. A txn may not put one key twice,
//  nor put a key that one of its deletes covers, on the same path. A
//  request may hold tens of thousands of puts (nested txns), so puts live
//  in a hash set and deletes in intervals sorted for stabbing queries.

//  A set of keys (open addressing; the keys point into the request)
typedef struct {
    zkv_bin_t *slots;
    size_t room;                        //  a power of two
    size_t count;
} s_key_set_t;

static uint64_t
s_hash (zkv_bin_t key)
{
    uint64_t hash = 14695981039346656037ULL;       //  FNV-1a
    for (size_t i = 0; i < key.size; i++)
        hash = (hash ^ key.data [i]) * 1099511628211ULL;
    return hash;
}

static bool
s_set_has (const s_key_set_t *set, zkv_bin_t key)
{
    if (set->count == 0)
        return false;
    for (size_t i = s_hash (key) & (set->room - 1); set->slots [i].data;
         i = (i + 1) & (set->room - 1))
        if (zkv_bin_compare (set->slots [i], key) == 0)
            return true;
    return false;
}

static int
s_set_add (s_key_set_t *set, zkv_bin_t key)
{
    static const uint8_t empty = 0;
    if (!key.data)
        key.data = &empty;              //  a NULL data marks a free slot
    if (2 * (set->count + 1) > set->room) {
        s_key_set_t grown = { NULL, set->room? 2 * set->room: 64, 0 };
        grown.slots = (zkv_bin_t *) calloc (grown.room, sizeof (zkv_bin_t));
        if (!grown.slots)
            return -1;
        for (size_t i = 0; i < set->room; i++)
            if (set->slots [i].data)
                s_set_add (&grown, set->slots [i]);
        free (set->slots);
        *set = grown;
    }
    size_t i = s_hash (key) & (set->room - 1);
    for (; set->slots [i].data; i = (i + 1) & (set->room - 1))
        if (zkv_bin_compare (set->slots [i], key) == 0)
            return 0;
    set->slots [i] = key;
    set->count++;
    return 0;
}

//  Deleted intervals [key, end); a single key is [key, key + "\0"]
typedef struct {
    zkv_bin_t key;
    zkv_bin_t end;                      //  empty: the single key
} s_interval_t;

typedef struct {
    s_interval_t *items;
    size_t count;
    size_t room;
    bool sorted;                        //  items sorted, max_end valid
    zkv_bin_t *max_end;                 //  largest end among items [0..i]
} s_intervals_t;

//  True if interval contains key. etcd compares raw strings, so an end of
//  "\0" bounds nothing past it: [a, "\0") holds no key at all
static bool
s_contains (const s_interval_t *interval, zkv_bin_t key)
{
    if (interval->end.size == 0)
        return zkv_bin_compare (interval->key, key) == 0;
    return zkv_bin_compare (key, interval->key) >= 0
        && zkv_bin_compare (key, interval->end) < 0;
}

static int
s_interval_compare (const void *a, const void *b)
{
    return zkv_bin_compare (((const s_interval_t *) a)->key, ((const s_interval_t *) b)->key);
}

static int
s_intervals_add (s_intervals_t *list, s_interval_t interval)
{
    if (list->count == list->room) {
        size_t room = list->room? 2 * list->room: 16;
        s_interval_t *items = (s_interval_t *) realloc (list->items, room * sizeof *items);
        if (!items)
            return -1;
        list->items = items;
        list->room = room;
    }
    list->items [list->count++] = interval;
    list->sorted = false;
    return 0;
}

//  Sorts by start and computes running maxima of the ends, so that a key
//  is covered iff the last interval starting at or before it reaches past
//  it (single keys count as ending just after themselves)
static int
s_intervals_prepare (s_intervals_t *list)
{
    if (list->sorted)
        return 0;
    if (list->count > 1)            //  qsort may not be given a NULL array
        qsort (list->items, list->count, sizeof (s_interval_t), s_interval_compare);
    free (list->max_end);
    list->max_end = (zkv_bin_t *) malloc ((list->count + 1) * sizeof (zkv_bin_t));
    if (!list->max_end)
        return -1;
    for (size_t i = 0; i < list->count; i++) {
        zkv_bin_t end = list->items [i].end;
        if (end.size == 0)
            end = list->items [i].key;  //  compared with "<=" below
        list->max_end [i] = i && zkv_bin_compare (list->max_end [i - 1], end) > 0?
                            list->max_end [i - 1]: end;
    }
    list->sorted = true;
    return 0;
}

static bool
s_intervals_cover (s_intervals_t *list, zkv_bin_t key)
{
    if (list->count == 0)
        return false;
    //  Last interval whose start is <= key
    size_t lo = 0, hi = list->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (zkv_bin_compare (list->items [mid].key, key) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return false;
    //  The running maximum says whether any of them may reach key; scan
    //  back only while that stays true (exact answer, usually one step)
    for (size_t i = lo; i > 0; i--) {
        if (zkv_bin_compare (list->max_end [i - 1], key) < 0)
            return false;
        if (s_contains (&list->items [i - 1], key))
            return true;
    }
    return false;
}

typedef struct {
    s_key_set_t puts;
    s_intervals_t dels;
} s_keys_t;

static void
s_keys_free (s_keys_t *keys)
{
    free (keys->puts.slots);
    free (keys->dels.items);
    free (keys->dels.max_end);
    memset (keys, 0, sizeof *keys);
}

//  Returns 0, 1 on a duplicate, -1 out of memory
static int
s_covered_or_put (s_keys_t *keys, zkv_bin_t key)
{
    if (s_intervals_prepare (&keys->dels))
        return -1;
    return s_set_has (&keys->puts, key) || s_intervals_cover (&keys->dels, key);
}

static int
s_intervals (const zkv_request_op_list_t *ops, s_keys_t *keys)
{
    memset (keys, 0, sizeof *keys);
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_delete_range_t *del = ops->items [i].request_delete_range;
        if (del) {
            s_interval_t interval = { del->key, del->range_end };
            if (s_intervals_add (&keys->dels, interval))
                return -1;
        }
    }
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_txn_t *txn = ops->items [i].request_txn;
        if (!txn)
            continue;
        s_keys_t then, otherwise;
        int rc = s_intervals (&txn->success, &then);
        if (rc == 0)
            rc = s_intervals (&txn->failure, &otherwise);
        else
            memset (&otherwise, 0, sizeof otherwise);
        //  Puts of `then` first, then of `else`: both exclude each other,
        //  so a key put by both is fine
        for (size_t k = 0; k < then.puts.room && rc == 0; k++) {
            zkv_bin_t key = then.puts.slots [k];
            if (!key.data)
                continue;
            rc = s_covered_or_put (keys, key);
            if (rc == 0)
                rc = s_set_add (&keys->puts, key);
        }
        for (size_t k = 0; k < otherwise.puts.room && rc == 0; k++) {
            zkv_bin_t key = otherwise.puts.slots [k];
            if (!key.data)
                continue;
            if (s_intervals_prepare (&keys->dels))
                rc = -1;
            else
            if ((s_set_has (&keys->puts, key) && !s_set_has (&then.puts, key))
            ||  s_intervals_cover (&keys->dels, key))
                rc = 1;
            else
                rc = s_set_add (&keys->puts, key);
        }
        for (size_t k = 0; k < then.dels.count && rc == 0; k++)
            rc = s_intervals_add (&keys->dels, then.dels.items [k]);
        for (size_t k = 0; k < otherwise.dels.count && rc == 0; k++)
            rc = s_intervals_add (&keys->dels, otherwise.dels.items [k]);
        s_keys_free (&then);
        s_keys_free (&otherwise);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_put_t *put = ops->items [i].request_put;
        if (!put)
            continue;
        int rc = s_covered_or_put (keys, put->key);
        if (rc == 0)
            rc = s_set_add (&keys->puts, put->key);
        if (rc)
            return rc;
    }
    return 0;
}

static int
s_check_duplicates (const zkv_request_op_list_t *ops, zkv_result_t *status)
{
    s_keys_t keys;
    int rc = s_intervals (ops, &keys);
    s_keys_free (&keys);
    if (rc < 0)
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    if (rc > 0)
        return zkv_status_set (status, ZKV_ERR_DUPLICATE_KEY, NULL);
    return 0;
}

//  The operations a branch holds: its own, and every one of each txn
//  nested in it (compares and both branches, however deep)
static size_t
s_branch_ops (const zkv_request_op_list_t *ops)
{
    size_t total = ops->count;
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_txn_t *nested = ops->items [i].request_txn;
        if (nested)
            total += nested->compare.count + s_branch_ops (&nested->success)
                   + s_branch_ops (&nested->failure);
    }
    return total;
}

static int
s_check_txn (const zkv_txn_t *txn, zkv_result_t *status)
{
    for (size_t i = 0; i < txn->compare.count; i++) {
        const zkv_compare_t *compare = &txn->compare.items [i];
        if (compare->key.size == 0)
            return zkv_status_set (status, ZKV_ERR_EMPTY_KEY, NULL);
        if ((int) zkv_compare_result (compare) < 0)
            return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                   "compare result must be EQUAL, GREATER, LESS or NOT_EQUAL");
        if ((int) zkv_compare_target (compare) < 0)
            return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                   "compare target must be VERSION, CREATE, MOD, VALUE or LEASE");
    }
    for (size_t i = 0; i < txn->success.count; i++)
        if (s_check_op (&txn->success.items [i], status))
            return -1;
    for (size_t i = 0; i < txn->failure.count; i++)
        if (s_check_op (&txn->failure.items [i], status))
            return -1;
    return 0;
}

bool
zkv_txn_writes (const zkv_txn_t *txn)
{
    const zkv_request_op_list_t *branches [2] = { &txn->success, &txn->failure };
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < branches [b]->count; i++) {
            const zkv_request_op_t *op = &branches [b]->items [i];
            if (op->request_put || op->request_delete_range)
                return true;
            if (op->request_txn && zkv_txn_writes (op->request_txn))
                return true;
        }
    return false;
}

int
zkv_check_request (const zkv_desc_t *desc, const void *request, size_t max_txn_ops,
                   zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    if (desc == &zkv_range_desc)
        return s_check_range ((const zkv_range_t *) request, status);
    if (desc == &zkv_put_desc)
        return s_check_put ((const zkv_put_t *) request, status);
    if (desc == &zkv_delete_range_desc)
        return s_check_delete ((const zkv_delete_range_t *) request, status);
    if (desc == &zkv_alarm_desc) {
        const zkv_alarm_t *alarm = (const zkv_alarm_t *) request;
        if (alarm->action > 2)
            return zkv_status_set (status, ZKV_ERR_MALFORMED, "unknown alarm action %llu",
                                   (unsigned long long) alarm->action);
        if (alarm->alarm > 2)
            return zkv_status_set (status, ZKV_ERR_MALFORMED, "unknown alarm type %llu",
                                   (unsigned long long) alarm->alarm);
        return 0;
    }
    if (desc == &zkv_snapshot_desc) {
        //  Refused, not bent into range: a client that asked for chunks of
        //  one size must not get chunks of another
        uint64_t chunk = ((const zkv_snapshot_t *) request)->chunk_size;
        if (chunk && (chunk < ZKV_SNAPSHOT_MIN_CHUNK || chunk > ZKV_SNAPSHOT_MAX_CHUNK))
            return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                   "chunk_size %llu is out of range (0, or %d .. %d)",
                                   (unsigned long long) chunk, ZKV_SNAPSHOT_MIN_CHUNK,
                                   ZKV_SNAPSHOT_MAX_CHUNK);
        return 0;
    }
    if (desc == &zkv_txn_desc) {
        //  etcd's rule, at most max_txn_ops compares and as many operations
        //  per branch, with what nested txns hold counted in the branch
        //  that holds them: etcd counts each level alone, so that nesting
        //  multiplies what one request may make a member do
        const zkv_txn_t *txn = (const zkv_txn_t *) request;
        if (txn->compare.count > max_txn_ops || s_branch_ops (&txn->success) > max_txn_ops
        ||  s_branch_ops (&txn->failure) > max_txn_ops)
            return zkv_status_set (status, ZKV_ERR_TOO_MANY_OPS, NULL);
        if (s_check_txn (txn, status))
            return -1;
        if (s_check_duplicates (&txn->success, status)
        ||  s_check_duplicates (&txn->failure, status))
            return -1;
        return 0;
    }
    return 0;
}
