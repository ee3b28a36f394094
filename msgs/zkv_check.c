/*  zkv_check.c — etcd's request validation (see zkv_check.h). */
#include "zkv_check.h"

#include <stdlib.h>
#include <string.h>

static const char *s_results [] = { "EQUAL", "GREATER", "LESS", "NOT_EQUAL" };
static const char *s_targets [] = { "VERSION", "CREATE", "MOD", "VALUE", "LEASE" };

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

static int
s_check_range (const zkv_range_t *range, zkv_status_t *status)
{
    if (range->key.size == 0)
        return zkv_status_set (status, ZKV_ERR_EMPTY_KEY, NULL);
    return 0;
}

static int
s_check_put (const zkv_put_t *put, zkv_status_t *status)
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
s_check_delete (const zkv_delete_range_t *del, zkv_status_t *status)
{
    if (del->key.size == 0)
        return zkv_status_set (status, ZKV_ERR_EMPTY_KEY, NULL);
    return 0;
}

static int s_check_txn (const zkv_txn_t *txn, size_t max_txn_ops, zkv_status_t *status);

static int
s_check_op (const zkv_request_op_t *op, size_t max_txn_ops, zkv_status_t *status)
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
    return s_check_txn (op->request_txn, max_txn_ops, status);
}

//  ---------------------------------------------------------------------
//  Duplicate keys: etcd's checkIntervals. A txn may not put one key twice,
//  nor put a key that one of its deletes covers, on the same path.

typedef struct {
    zkv_bin_t key;
    zkv_bin_t end;                      //  empty: the single key
} s_interval_t;

typedef struct {
    zkv_bin_t *puts;
    size_t put_count;
    s_interval_t *dels;
    size_t del_count;
} s_keys_t;

static bool
s_deleted (const s_keys_t *keys, zkv_bin_t key)
{
    for (size_t i = 0; i < keys->del_count; i++) {
        const s_interval_t *del = &keys->dels [i];
        if (del->end.size == 0) {
            if (zkv_bin_compare (key, del->key) == 0)
                return true;
        }
        else
        if (zkv_bin_compare (key, del->key) >= 0
        && ((del->end.size == 1 && del->end.data [0] == 0)     //  "\0": to the end
            || zkv_bin_compare (key, del->end) < 0))
            return true;
    }
    return false;
}

static bool
s_has_put (const s_keys_t *keys, zkv_bin_t key)
{
    for (size_t i = 0; i < keys->put_count; i++)
        if (zkv_bin_compare (keys->puts [i], key) == 0)
            return true;
    return false;
}

static void
s_keys_free (s_keys_t *keys)
{
    free (keys->puts);
    free (keys->dels);
    memset (keys, 0, sizeof *keys);
}

//  Appends; the arrays are sized by the caller's operation bound
static void
s_add_put (s_keys_t *keys, zkv_bin_t key)
{
    keys->puts = realloc (keys->puts, (keys->put_count + 1) * sizeof (zkv_bin_t));
    keys->puts [keys->put_count++] = key;
}

static void
s_add_del (s_keys_t *keys, s_interval_t del)
{
    keys->dels = realloc (keys->dels, (keys->del_count + 1) * sizeof (s_interval_t));
    keys->dels [keys->del_count++] = del;
}

static int
s_intervals (const zkv_request_op_list_t *ops, s_keys_t *keys)
{
    memset (keys, 0, sizeof *keys);
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_delete_range_t *del = ops->items [i].request_delete_range;
        if (del) {
            s_interval_t interval = { del->key, del->range_end };
            s_add_del (keys, interval);
        }
    }
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_txn_t *txn = ops->items [i].request_txn;
        if (!txn)
            continue;
        s_keys_t then, otherwise;
        if (s_intervals (&txn->success, &then)) {
            s_keys_free (&then);
            return -1;
        }
        if (s_intervals (&txn->failure, &otherwise)) {
            s_keys_free (&then);
            s_keys_free (&otherwise);
            return -1;
        }
        int rc = 0;
        for (size_t k = 0; k < then.put_count && !rc; k++) {
            if (s_has_put (keys, then.puts [k]) || s_deleted (keys, then.puts [k]))
                rc = -1;
            else
                s_add_put (keys, then.puts [k]);
        }
        for (size_t k = 0; k < otherwise.put_count && !rc; k++) {
            //  then and else exclude each other: a key put by both is fine
            if ((s_has_put (keys, otherwise.puts [k]) && !s_has_put (&then, otherwise.puts [k]))
            ||  s_deleted (keys, otherwise.puts [k]))
                rc = -1;
            else
                s_add_put (keys, otherwise.puts [k]);
        }
        for (size_t k = 0; k < then.del_count; k++)
            s_add_del (keys, then.dels [k]);
        for (size_t k = 0; k < otherwise.del_count; k++)
            s_add_del (keys, otherwise.dels [k]);
        s_keys_free (&then);
        s_keys_free (&otherwise);
        if (rc)
            return -1;
    }
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_put_t *put = ops->items [i].request_put;
        if (!put)
            continue;
        if (s_has_put (keys, put->key) || s_deleted (keys, put->key))
            return -1;
        s_add_put (keys, put->key);
    }
    return 0;
}

static int
s_check_duplicates (const zkv_request_op_list_t *ops, zkv_status_t *status)
{
    s_keys_t keys;
    int rc = s_intervals (ops, &keys);
    s_keys_free (&keys);
    if (rc)
        return zkv_status_set (status, ZKV_ERR_DUPLICATE_KEY, NULL);
    return 0;
}

static int
s_check_txn (const zkv_txn_t *txn, size_t max_txn_ops, zkv_status_t *status)
{
    size_t ops = txn->compare.count;
    if (ops < txn->success.count)
        ops = txn->success.count;
    if (ops < txn->failure.count)
        ops = txn->failure.count;
    if (ops > max_txn_ops)
        return zkv_status_set (status, ZKV_ERR_TOO_MANY_OPS, NULL);

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
    //  Nested txns share the budget of operations, as in etcd
    for (size_t i = 0; i < txn->success.count; i++)
        if (s_check_op (&txn->success.items [i], max_txn_ops - ops, status))
            return -1;
    for (size_t i = 0; i < txn->failure.count; i++)
        if (s_check_op (&txn->failure.items [i], max_txn_ops - ops, status))
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
                   zkv_status_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    if (desc == &zkv_range_desc)
        return s_check_range ((const zkv_range_t *) request, status);
    if (desc == &zkv_put_desc)
        return s_check_put ((const zkv_put_t *) request, status);
    if (desc == &zkv_delete_range_desc)
        return s_check_delete ((const zkv_delete_range_t *) request, status);
    if (desc == &zkv_txn_desc) {
        const zkv_txn_t *txn = (const zkv_txn_t *) request;
        if (s_check_txn (txn, max_txn_ops, status))
            return -1;
        if (s_check_duplicates (&txn->success, status)
        ||  s_check_duplicates (&txn->failure, status))
            return -1;
        return 0;
    }
    return 0;
}
