/*  zkv_check.h — etcd's validation of KV requests, before they are
    proposed or served (etcd's v3rpc/key.go): empty keys, ignore_value /
    ignore_lease misuse, operation counts and duplicate keys in a txn, and
    the enum strings of compares; and the ranges of zkv's own numeric
    options (alarm actions and types, a Snapshot's chunk_size). A request
    that passes is well-formed for store/; a request that fails never
    reaches raft.
*/
#ifndef ZKV_CHECK_H_INCLUDED
#define ZKV_CHECK_H_INCLUDED

#include "zkv_msgs.h"

#define ZKV_DEFAULT_MAX_TXN_OPS 128     //  etcd's --max-txn-ops
#define ZKV_SNAPSHOT_MIN_CHUNK 4096     //  a Snapshot's chunk_size, when not 0
#define ZKV_SNAPSHOT_MAX_CHUNK (4 * 1024 * 1024)

typedef enum {
    ZKV_CMP_EQUAL, ZKV_CMP_GREATER, ZKV_CMP_LESS, ZKV_CMP_NOT_EQUAL
} zkv_cmp_result_t;

typedef enum {
    ZKV_CMP_VERSION, ZKV_CMP_CREATE, ZKV_CMP_MOD, ZKV_CMP_VALUE, ZKV_CMP_LEASE
} zkv_cmp_target_t;

typedef enum {
    ZKV_SORT_NONE, ZKV_SORT_ASCEND, ZKV_SORT_DESCEND
} zkv_sort_order_t;

typedef enum {
    ZKV_SORT_KEY, ZKV_SORT_VERSION, ZKV_SORT_CREATE, ZKV_SORT_MOD, ZKV_SORT_VALUE
} zkv_sort_target_t;

//  Checks a client request of type desc (not those front answers itself).
//  Returns 0, or -1 with status set.
int
    zkv_check_request (const zkv_desc_t *desc, const void *request, size_t max_txn_ops,
                       zkv_result_t *status);

//  True if a txn (or any txn nested in it) holds a put or a delete
bool
    zkv_txn_writes (const zkv_txn_t *txn);

//  The result and target of a checked compare
zkv_cmp_result_t
    zkv_compare_result (const zkv_compare_t *compare);
zkv_cmp_target_t
    zkv_compare_target (const zkv_compare_t *compare);

//  The sort order and target of a checked range
zkv_sort_order_t
    zkv_range_sort_order (const zkv_range_t *range);
zkv_sort_target_t
    zkv_range_sort_target (const zkv_range_t *range);

#endif
