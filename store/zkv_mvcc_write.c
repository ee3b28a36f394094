/*  =========================================================================
    zkv_mvcc_write.c — Put, DeleteRange, Txn and Compact with etcd's rules.

    Each of them is one write transaction: it starts at the current
    revision and, if it changes anything, ends one main revision later,
    its changes numbered by sub revision in order. A txn chooses its path
    by evaluating every compare (its nested txns' too) against the state
    before it, checks the requests on that path (etcd's checkRequests), and
    only then writes, so a failing request changes nothing.
    =========================================================================
*/
#include "zkv_mvcc_private.h"
#include "zkv_grow.h"
#include "zkv_check.h"
#include "zkv_kvpb.h"

#include <stdlib.h>
#include <string.h>

//  Starts one write transaction of the open batch (or a read-only txn)
static void
s_tx_begin (zkv_mvcc_t *self)
{
    self->begin_revision = zkv_mvcc_current (self);
    self->begin_keys = self->batch_keys;
    self->changes = 0;
    if (self->batch)
        rocksdb_writebatch_wi_set_save_point (self->batch);
}

//  Ends it: a transaction that changed anything takes the next revision.
//  On failure, forgets what it wrote.
static int
s_tx_end (zkv_mvcc_t *self, int rc)
{
    if (rc == 0 && self->changes > 0)
        self->batch_revision = self->begin_revision + 1;
    if (rc && self->batch && self->changes > 0) {
        char *err = NULL;
        rocksdb_writebatch_wi_rollback_to_save_point (self->batch, &err);
        free (err);
        self->batch_keys = self->begin_keys;
    }
    self->changes = 0;
    return rc;
}

//  The revision the transaction's own reads and responses see
static int64_t
s_tx_revision (zkv_mvcc_t *self)
{
    return self->begin_revision + (self->changes > 0? 1: 0);
}

static int
s_no_batch (zkv_result_t *status)
{
    return zkv_status_set (status, ZKV_ERR_INTERNAL, "write outside a batch");
}

//  Writes one revision of key: its KeyValue and its index entry
static void
s_write_revision (zkv_mvcc_t *self, const zkv_key_value_t *kv, bool tombstone)
{
    zkv_rev_t rev = { self->begin_revision + 1, self->changes++ };
    uint8_t revkey [ZKV_REVKEY_TOMB_SIZE];
    size_t revkey_size = zkv_revkey_encode (rev, tombstone, revkey);
    size_t value_size = zkv_kvpb_size (kv);
    uint8_t stack_value [512];
    uint8_t *value = value_size <= sizeof stack_value? stack_value: (uint8_t *) malloc (value_size);
    if (!value)
        abort ();                       //  out of memory in the middle of a batch
    zkv_kvpb_encode (kv, value);
    rocksdb_writebatch_wi_put_cf (self->batch, zkv_engine_cf (self->engine, ZKV_CF_KEY),
                                  (const char *) revkey, revkey_size,
                                  (const char *) value, value_size);
    if (value != stack_value)
        free (value);

    size_t index_room = ZKV_INDEXKEY_MAX (kv->key.size);
    uint8_t stack_index [256];
    uint8_t *index = index_room <= sizeof stack_index? stack_index: (uint8_t *) malloc (index_room);
    if (!index)
        abort ();
    size_t index_size = zkv_indexkey_encode (kv->key.data, kv->key.size, rev, index);
    zkv_index_value_t state = { tombstone, kv->create_revision, kv->version };
    uint8_t state_bytes [ZKV_INDEX_VALUE_SIZE];
    zkv_index_value_encode (&state, state_bytes);
    rocksdb_writebatch_wi_put_cf (self->batch, zkv_engine_cf (self->engine, ZKV_CF_INDEX),
                                  (const char *) index, index_size,
                                  (const char *) state_bytes, sizeof state_bytes);
    if (index != stack_index)
        free (index);
}

//  ---------------------------------------------------------------------
//  Put

//  etcd's checkPut: ignore_value / ignore_lease need the key to exist, and
//  a lease must exist (zkv has no leases yet, so none does)
static int
s_check_put (zkv_mvcc_t *self, const zkv_put_t *request, zkv_result_t *status)
{
    if (request->ignore_value || request->ignore_lease) {
        s_found_t found;
        int rc = zkv_mvcc_lookup (self, request->key, INT64_MAX, &found, status);
        if (rc < 0)
            return -1;
        if (rc == 0 || found.state.tombstone)
            return zkv_status_set (status, ZKV_ERR_KEY_NOT_FOUND, NULL);
    }
    if (request->lease != 0)
        return zkv_status_set (status, ZKV_ERR_LEASE_NOT_FOUND, NULL);
    return 0;
}

static int
s_put (zkv_mvcc_t *self, const zkv_put_t *request, msgpack_zone *zone,
       zkv_put_response_t *response, zkv_result_t *status)
{
    memset (response, 0, sizeof *response);
    if (!self->batch)
        return s_no_batch (status);
    s_found_t found;
    int rc = zkv_mvcc_lookup (self, request->key, INT64_MAX, &found, status);
    if (rc < 0)
        return -1;
    bool exists = rc == 1 && !found.state.tombstone;
    zkv_key_value_t *prev = NULL;
    if (exists && (request->prev_kv || request->ignore_value || request->ignore_lease)) {
        prev = (zkv_key_value_t *) msgpack_zone_malloc (zone, sizeof (zkv_key_value_t));
        if (!prev)
            return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        if (zkv_mvcc_read_kv (self, found.rev, false, true, zone, prev, status))
            return -1;
        if (request->prev_kv && zkv_mvcc_reply_take (self, prev, status))
            return -1;
    }
    if ((request->ignore_value || request->ignore_lease) && !prev)
        return zkv_status_set (status, ZKV_ERR_KEY_NOT_FOUND, NULL);
    zkv_key_value_t kv = {
        .key = request->key,
        .create_revision = exists? found.state.create_revision: self->begin_revision + 1,
        .mod_revision = self->begin_revision + 1,
        .version = exists? found.state.version + 1: 1,
        .value = request->ignore_value? prev->value: request->value,
        .lease = request->ignore_lease? prev->lease: request->lease
    };
    s_write_revision (self, &kv, false);
    if (!exists)
        self->batch_keys++;
    response->header = zkv_mvcc_header (zone, self->begin_revision + 1);
    if (request->prev_kv)
        response->prev_kv = prev;
    return response->header? 0: zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
}

int
zkv_mvcc_put (zkv_mvcc_t *self, const zkv_put_t *request, msgpack_zone *zone,
              zkv_put_response_t *response, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    s_tx_begin (self);
    int rc = s_check_put (self, request, status);
    if (rc == 0)
        rc = s_put (self, request, zone, response, status);
    return s_tx_end (self, rc);
}

//  ---------------------------------------------------------------------
//  DeleteRange

typedef struct {
    msgpack_zone *zone;
    zkv_key_value_t *victims;           //  key and revision to delete (malloc'd)
    s_found_t *found;
    size_t count;
    size_t room;
    zkv_result_t *status;
} s_delete_t;

static int
s_delete_visit (void *arg, zkv_bin_t key, const s_found_t *found)
{
    s_delete_t *del = (s_delete_t *) arg;
    size_t room = del->room;            //  twin arrays: the first grows with a copy
    if (zkv_grow ((void **) &del->victims, &room, del->count + 1, sizeof (zkv_key_value_t))
    ||  zkv_grow ((void **) &del->found, &del->room, del->count + 1, sizeof (s_found_t)))
        return zkv_status_set (del->status, ZKV_ERR_INTERNAL, "out of memory");
    //  The visited key lives only during this call: keep a copy
    void *copy = zkv_mvcc_copy (del->zone, key.data, key.size);
    if (!copy)
        return zkv_status_set (del->status, ZKV_ERR_INTERNAL, "out of memory");
    memset (&del->victims [del->count], 0, sizeof (zkv_key_value_t));
    del->victims [del->count].key = zkv_bin (copy, key.size);
    del->found [del->count] = *found;
    del->count++;
    return 0;
}

static int
s_delete_range (zkv_mvcc_t *self, const zkv_delete_range_t *request, msgpack_zone *zone,
                zkv_delete_range_response_t *response, zkv_result_t *status)
{
    memset (response, 0, sizeof *response);
    if (!self->batch)
        return s_no_batch (status);
    //  Find the victims first: the batch must not change under the iterator
    s_delete_t del = { zone, NULL, NULL, 0, 0, status };
    int rc = zkv_mvcc_visit (self, request->key, request->range_end, INT64_MAX,
                             s_delete_visit, &del, status);
    if (rc == 0 && request->prev_kv && del.count) {
        response->prev_kvs.items = (zkv_key_value_t *) msgpack_zone_malloc (
            zone, del.count * sizeof (zkv_key_value_t));
        if (!response->prev_kvs.items)
            rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        for (size_t i = 0; i < del.count && rc == 0; i++)
            rc = zkv_mvcc_read_kv (self, del.found [i].rev, false, true, zone,
                                   &response->prev_kvs.items [i], status)
              || zkv_mvcc_reply_take (self, &response->prev_kvs.items [i], status)? -1: 0;
        response->prev_kvs.count = rc == 0? del.count: 0;
    }
    if (rc == 0) {
        //  A tombstone holds nothing but the key, as in etcd
        for (size_t i = 0; i < del.count; i++)
            s_write_revision (self, &del.victims [i], true);
        response->deleted = (int64_t) del.count;
        self->batch_keys -= (int64_t) del.count;
        response->header = zkv_mvcc_header (zone, s_tx_revision (self));
        if (!response->header)
            rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    }
    free (del.victims);
    free (del.found);
    return rc;
}

int
zkv_mvcc_delete_range (zkv_mvcc_t *self, const zkv_delete_range_t *request, msgpack_zone *zone,
                       zkv_delete_range_response_t *response, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    s_tx_begin (self);
    return s_tx_end (self, s_delete_range (self, request, zone, response, status));
}

//  ---------------------------------------------------------------------
//  Txn: compares

typedef struct {
    zkv_mvcc_t *self;
    const zkv_compare_t *compare;
    zkv_cmp_target_t target;
    zkv_cmp_result_t result;
    msgpack_zone *zone;
    bool any;                           //  the range held at least one key
    bool holds;                         //  every key so far satisfied it
    zkv_result_t *status;
} s_compare_t;

static int
s_int_compare (int64_t a, int64_t b)
{
    return a < b? -1: a > b? 1: 0;
}

//  etcd's compareKV: true if kv satisfies compare
static bool
s_compare_kv (const s_compare_t *cmp, const zkv_key_value_t *kv)
{
    const zkv_compare_t *compare = cmp->compare;
    int c = 0;
    switch (cmp->target) {
        case ZKV_CMP_VALUE:   c = zkv_bin_compare (kv->value, compare->value); break;
        case ZKV_CMP_VERSION: c = s_int_compare (kv->version, compare->version); break;
        case ZKV_CMP_CREATE:  c = s_int_compare (kv->create_revision, compare->create_revision);
                              break;
        case ZKV_CMP_MOD:     c = s_int_compare (kv->mod_revision, compare->mod_revision); break;
        case ZKV_CMP_LEASE:   c = s_int_compare (kv->lease, compare->lease); break;
    }
    switch (cmp->result) {
        case ZKV_CMP_EQUAL:     return c == 0;
        case ZKV_CMP_GREATER:   return c > 0;
        case ZKV_CMP_LESS:      return c < 0;
        case ZKV_CMP_NOT_EQUAL: return c != 0;
    }
    return false;
}

static int
s_compare_visit (void *arg, zkv_bin_t key, const s_found_t *found)
{
    s_compare_t *cmp = (s_compare_t *) arg;
    cmp->any = true;
    zkv_key_value_t kv = {
        .key = key,
        .create_revision = found->state.create_revision,
        .mod_revision = found->rev.main,
        .version = found->state.version
    };
    //  Read into a zone of the compare's own, emptied after each key: a
    //  compare over a range of large values holds one at a time
    if (cmp->target == ZKV_CMP_VALUE || cmp->target == ZKV_CMP_LEASE)
        if (zkv_mvcc_read_kv (cmp->self, found->rev, false, cmp->target == ZKV_CMP_VALUE,
                              cmp->zone, &kv, cmp->status))
            return -1;
    bool holds = s_compare_kv (cmp, &kv);
    msgpack_zone_clear (cmp->zone);
    if (!holds) {
        cmp->holds = false;
        return 1;                       //  stop: the compare fails
    }
    return 0;
}

//  etcd's applyCompare: every key of the compare's range must satisfy it;
//  with no key, a value compare fails and others compare a zero KeyValue
static int
s_compare (zkv_mvcc_t *self, const zkv_compare_t *compare, int64_t rev, bool *holds,
           zkv_result_t *status)
{
    msgpack_zone *scratch = msgpack_zone_new (4096);
    if (!scratch)
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    s_compare_t cmp = { self, compare, zkv_compare_target (compare),
                        zkv_compare_result (compare), scratch, false, true, status };
    int rc = zkv_mvcc_visit (self, compare->key, compare->range_end, rev, s_compare_visit,
                             &cmp, status);
    msgpack_zone_free (scratch);
    if (rc)
        return -1;
    if (!cmp.any) {
        zkv_key_value_t zero;
        memset (&zero, 0, sizeof zero);
        *holds = cmp.target == ZKV_CMP_VALUE? false: s_compare_kv (&cmp, &zero);
    }
    else
        *holds = cmp.holds;
    return 0;
}

//  The path through a txn: one bool per txn met (the txn itself, then the
//  nested txns of the branch it takes, depth first), as etcd's
//  compareToPath computes it, against the state before the txn.
typedef struct {
    bool *taken;
    size_t count;
    size_t room;
    size_t next;                        //  read position when walking it
} s_path_t;

static int
s_path (zkv_mvcc_t *self, const zkv_txn_t *txn, int64_t rev, s_path_t *path,
        zkv_result_t *status)
{
    bool success = true;
    for (size_t i = 0; i < txn->compare.count && success; i++)
        if (s_compare (self, &txn->compare.items [i], rev, &success, status))
            return -1;
    if (zkv_grow ((void **) &path->taken, &path->room, path->count + 1, sizeof (bool)))
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    path->taken [path->count++] = success;
    const zkv_request_op_list_t *ops = success? &txn->success: &txn->failure;
    for (size_t i = 0; i < ops->count; i++)
        if (ops->items [i].request_txn
        &&  s_path (self, ops->items [i].request_txn, rev, path, status))
            return -1;
    return 0;
}

//  etcd's checkRequests along the path: range revisions must be servable,
//  puts must find the keys and leases they rely on
static int
s_check_path (zkv_mvcc_t *self, const zkv_txn_t *txn, s_path_t *path, zkv_result_t *status)
{
    bool success = path->taken [path->next++];
    const zkv_request_op_list_t *ops = success? &txn->success: &txn->failure;
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_request_op_t *op = &ops->items [i];
        if (op->request_range) {
            //  etcd's checkRequestRange, negative revisions included: below
            //  the compact revision (-1 when never compacted) is compacted
            int64_t rev = op->request_range->revision;
            if (rev != 0 && rev > zkv_mvcc_current (self))
                return zkv_status_set (status, ZKV_ERR_FUTURE_REV, NULL);
            if (rev != 0 && rev < zkv_mvcc_current_compact (self))
                return zkv_status_set (status, ZKV_ERR_COMPACTED, NULL);
        }
        else
        if (op->request_put) {
            if (s_check_put (self, op->request_put, status))
                return -1;
        }
        else
        if (op->request_txn) {
            if (s_check_path (self, op->request_txn, path, status))
                return -1;
        }
    }
    return 0;
}

//  Allocates a zeroed object of size from zone
static void *
s_zalloc (msgpack_zone *zone, size_t size)
{
    void *object = msgpack_zone_malloc (zone, size);
    if (object)
        memset (object, 0, size);
    return object;
}

static int
s_apply_path (zkv_mvcc_t *self, const zkv_txn_t *txn, s_path_t *path, msgpack_zone *zone,
              zkv_txn_response_t *response, zkv_result_t *status)
{
    bool success = path->taken [path->next++];
    const zkv_request_op_list_t *ops = success? &txn->success: &txn->failure;
    response->succeeded = success;
    if (ops->count) {
        response->responses.items = (zkv_response_op_t *) s_zalloc (
            zone, ops->count * sizeof (zkv_response_op_t));
        if (!response->responses.items)
            return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        response->responses.count = ops->count;
    }
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_request_op_t *op = &ops->items [i];
        zkv_response_op_t *out = &response->responses.items [i];
        int rc;
        if (op->request_range) {
            out->response_range = s_zalloc (zone, sizeof (zkv_range_response_t));
            rc = !out->response_range? -1:
                 zkv_mvcc_range_at (self, op->request_range, s_tx_revision (self), zone,
                                    out->response_range, status);
        }
        else
        if (op->request_put) {
            out->response_put = s_zalloc (zone, sizeof (zkv_put_response_t));
            rc = !out->response_put? -1:
                 s_put (self, op->request_put, zone, out->response_put, status);
        }
        else
        if (op->request_delete_range) {
            out->response_delete_range = s_zalloc (zone, sizeof (zkv_delete_range_response_t));
            rc = !out->response_delete_range? -1:
                 s_delete_range (self, op->request_delete_range, zone,
                                 out->response_delete_range, status);
        }
        else {
            out->response_txn = s_zalloc (zone, sizeof (zkv_txn_response_t));
            rc = !out->response_txn? -1:
                 s_apply_path (self, op->request_txn, path, zone, out->response_txn, status);
            if (rc == 0)
                out->response_txn->header = zkv_mvcc_header (zone, s_tx_revision (self));
        }
        if (rc) {
            if (zkv_status_ok (status))
                zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int
s_txn (zkv_mvcc_t *self, const zkv_txn_t *request, msgpack_zone *zone,
       zkv_txn_response_t *response, zkv_result_t *status)
{
    memset (response, 0, sizeof *response);
    s_path_t path = { NULL, 0, 0, 0 };
    int rc = s_path (self, request, self->begin_revision, &path, status);
    if (rc == 0)
        rc = s_check_path (self, request, &path, status);
    if (rc == 0) {
        path.next = 0;
        rc = s_apply_path (self, request, &path, zone, response, status);
    }
    if (rc == 0) {
        response->header = zkv_mvcc_header (zone, s_tx_revision (self));
        if (!response->header)
            rc = zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    }
    free (path.taken);
    return rc;
}

int
zkv_mvcc_txn (zkv_mvcc_t *self, const zkv_txn_t *request, msgpack_zone *zone,
              zkv_txn_response_t *response, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    if (!self->batch)
        return s_no_batch (status);
    s_tx_begin (self);
    return s_tx_end (self, s_txn (self, request, zone, response, status));
}

int
zkv_mvcc_txn_read (zkv_mvcc_t *self, const zkv_txn_t *request, msgpack_zone *zone,
                   zkv_txn_response_t *response, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    if (zkv_txn_writes (request))
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "a txn that writes needs a batch");
    s_tx_begin (self);
    return s_tx_end (self, s_txn (self, request, zone, response, status));
}

//  ---------------------------------------------------------------------
//  Compact

int
zkv_mvcc_compact (zkv_mvcc_t *self, const zkv_compact_t *request, msgpack_zone *zone,
                  zkv_compact_response_t *response, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    memset (response, 0, sizeof *response);
    if (!self->batch)
        return s_no_batch (status);
    if (request->revision <= self->batch_compact)
        return zkv_status_set (status, ZKV_ERR_COMPACTED, NULL);
    if (request->revision > self->batch_revision)
        return zkv_status_set (status, ZKV_ERR_FUTURE_REV, NULL);
    self->batch_compact = request->revision;
    response->header = zkv_mvcc_header (zone, self->batch_revision);
    return response->header? 0: zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
}
