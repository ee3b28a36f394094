/*  test_mvcc.c — etcd's MVCC semantics on both engines (disk and memory). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkv_crc32c.h"
#include "zkv_engine.h"
#include "zkv_keys.h"
#include "zkv_kvpb.h"
#include "zkv_mvcc.h"
#include "mvcc_fixture.h"

//  ---------------------------------------------------------------------
//  A store under test: tests/mvcc_fixture.h

static zkv_range_response_t
s_range (fx_store_t *store, zkv_range_t range, zkv_err_t expected)
{
    zkv_range_response_t response;
    zkv_result_t status;
    int rc = zkv_mvcc_range (store->mvcc, &range, store->zone, &response, &status);
    char text [256];
    cr_assert_eq (status.err, expected, "range: %s", zkv_status_text (&status, text, sizeof text));
    cr_assert_eq (rc, expected == ZKV_ERR_OK? 0: -1);
    return response;
}

//  The value of key at rev (0: current), or NULL when absent
static const zkv_key_value_t *
s_get (fx_store_t *store, const char *key, int64_t rev)
{
    zkv_range_t range = { .key = fx_bin (key), .revision = rev };
    zkv_range_response_t response = s_range (store, range, ZKV_ERR_OK);
    cr_assert_leq (response.kvs.count, 1);
    return response.kvs.count? &response.kvs.items [0]: NULL;
}

static void
s_assert_kv (const zkv_key_value_t *kv, const char *value, int64_t create, int64_t mod,
             int64_t version)
{
    cr_assert_not_null (kv);
    cr_assert_eq (kv->value.size, strlen (value));
    cr_assert_arr_eq (kv->value.data, value, kv->value.size);
    cr_assert_eq (kv->create_revision, create, "create %lld", (long long) kv->create_revision);
    cr_assert_eq (kv->mod_revision, mod, "mod %lld", (long long) kv->mod_revision);
    cr_assert_eq (kv->version, version, "version %lld", (long long) kv->version);
}

//  Entries of a family
static size_t
s_family_size (fx_store_t *store, zkv_cf_t cf)
{
    rocksdb_iterator_t *it = zkv_engine_iterator (store->engine, cf, NULL);
    size_t count = 0;
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it))
        count++;
    rocksdb_iter_destroy (it);
    return count;
}

//  Every test runs on both media
#define BOTH(suite, name) \
    static void s_##name (bool memory); \
    Test (suite, name##_on_disk) { s_##name (false); } \
    Test (suite, name##_in_memory) { s_##name (true); } \
    static void s_##name (bool memory)

//  ---------------------------------------------------------------------

BOTH (mvcc, fresh_store)
{
    fx_store_t store;
    fx_new (&store, memory);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 1);
    cr_assert_eq (zkv_mvcc_compact_revision (store.mvcc), -1);
    cr_assert_eq (zkv_mvcc_applied_index (store.mvcc), 0);
    cr_assert_null (s_get (&store, "foo", 0));
    zkv_range_t range = { .key = fx_bin ("foo") };
    zkv_range_response_t response = s_range (&store, range, ZKV_ERR_OK);
    cr_assert_eq (response.header->revision, 1);
    cr_assert_eq (response.count, 0);
    fx_destroy (&store);
}

BOTH (mvcc, revisions_versions_and_tombstones)
{
    fx_store_t store;
    fx_new (&store, memory);
    cr_assert_eq (fx_put (&store, "foo", "bar"), 2);
    s_assert_kv (s_get (&store, "foo", 0), "bar", 2, 2, 1);
    cr_assert_eq (fx_put (&store, "foo", "baz"), 3);
    s_assert_kv (s_get (&store, "foo", 0), "baz", 2, 3, 2);
    cr_assert_eq (fx_delete (&store, "foo", NULL), 1);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 4);
    cr_assert_null (s_get (&store, "foo", 0));
    //  A new generation starts at version 1 with a new create revision
    cr_assert_eq (fx_put (&store, "foo", "qux"), 5);
    s_assert_kv (s_get (&store, "foo", 0), "qux", 5, 5, 1);
    //  History stays readable
    s_assert_kv (s_get (&store, "foo", 2), "bar", 2, 2, 1);
    s_assert_kv (s_get (&store, "foo", 3), "baz", 2, 3, 2);
    cr_assert_null (s_get (&store, "foo", 4));
    cr_assert_null (s_get (&store, "foo", 1));
    //  Deleting nothing takes no revision
    cr_assert_eq (fx_delete (&store, "nothing", NULL), 0);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 5);
    fx_destroy (&store);
}

BOTH (mvcc, future_revision)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "a", "1");
    zkv_range_t range = { .key = fx_bin ("a"), .revision = 3 };
    s_range (&store, range, ZKV_ERR_FUTURE_REV);
    range.revision = 2;
    s_range (&store, range, ZKV_ERR_OK);
    fx_destroy (&store);
}

BOTH (mvcc, ranges_prefix_from_key_limit_count)
{
    fx_store_t store;
    fx_new (&store, memory);
    const char *keys [] = { "a", "ab", "abc", "b", "ba", "c" };
    for (int i = 0; i < 6; i++)
        fx_put (&store, keys [i], keys [i]);
    fx_put (&store, "ab", "ab2");        //  a longer history must not disturb ranges

    zkv_range_t range = { .key = fx_bin ("a"), .range_end = fx_bin ("b") };
    zkv_range_response_t response = s_range (&store, range, ZKV_ERR_OK);
    cr_assert_eq (response.count, 3);
    cr_assert_eq (response.kvs.count, 3);
    cr_assert (zkv_bin_eq (response.kvs.items [0].key, "a"));
    cr_assert (zkv_bin_eq (response.kvs.items [1].key, "ab"));
    cr_assert (zkv_bin_eq (response.kvs.items [1].value, "ab2"));
    cr_assert (zkv_bin_eq (response.kvs.items [2].key, "abc"));
    cr_assert_not (response.more);
    cr_assert_eq (response.header->revision, 8);

    range.limit = 2;
    response = s_range (&store, range, ZKV_ERR_OK);
    cr_assert_eq (response.count, 3);   //  etcd counts the whole range
    cr_assert_eq (response.kvs.count, 2);
    cr_assert (response.more);

    //  From a key to the end
    zkv_range_t from = { .key = fx_bin ("b"), .range_end = zkv_bin ("", 1) };
    response = s_range (&store, from, ZKV_ERR_OK);
    cr_assert_eq (response.count, 3);
    cr_assert (zkv_bin_eq (response.kvs.items [2].key, "c"));

    //  Everything: key "\0", range_end "\0"
    zkv_range_t all = { .key = zkv_bin ("", 1), .range_end = zkv_bin ("", 1) };
    response = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (response.count, 6);

    all.count_only = true;
    response = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (response.count, 6);
    cr_assert_eq (response.kvs.count, 0);

    all.count_only = false;
    all.keys_only = true;
    response = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (response.kvs.count, 6);
    cr_assert_eq (response.kvs.items [0].value.size, 0);
    cr_assert_eq (response.kvs.items [0].mod_revision, 2);

    //  At an old revision
    all.keys_only = false;
    all.revision = 4;
    response = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (response.count, 3);
    cr_assert (zkv_bin_eq (response.kvs.items [1].value, "ab"));
    fx_destroy (&store);
}

BOTH (mvcc, keys_with_zero_bytes_sort_as_bytes)
{
    fx_store_t store;
    fx_new (&store, memory);
    //  Byte order: "a" < "a\0" < "a\0b" < "a\x01" < "b"
    struct { const char *bytes; size_t size; } keys [] = {
        { "a\x01", 2 }, { "b", 1 }, { "a\0b", 3 }, { "a", 1 }, { "a\0", 2 }
    };
    for (int i = 0; i < 5; i++) {
        zkv_put_t put = { .key = zkv_bin (keys [i].bytes, keys [i].size),
                          .value = zkv_bin ("v", 1) };
        zkv_put_response_t response;
        zkv_result_t status;
        fx_begin (&store);
        cr_assert_eq (zkv_mvcc_put (store.mvcc, &put, store.zone, &response, &status), 0);
        fx_commit (&store);
    }
    zkv_range_t all = { .key = zkv_bin ("", 1), .range_end = zkv_bin ("", 1) };
    zkv_range_response_t response = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (response.kvs.count, 5);
    const char *expected [] = { "a", "a\0", "a\0b", "a\x01", "b" };
    size_t sizes [] = { 1, 2, 3, 2, 1 };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq (response.kvs.items [i].key.size, sizes [i], "key %d", i);
        cr_assert_arr_eq (response.kvs.items [i].key.data, expected [i], sizes [i]);
    }
    //  The single key "a" is not "a\0"
    zkv_range_t one = { .key = zkv_bin ("a\0", 2) };
    response = s_range (&store, one, ZKV_ERR_OK);
    cr_assert_eq (response.count, 1);
    cr_assert_eq (response.kvs.items [0].key.size, 2);
    //  Prefix "a\0": [a\0, a\x01)
    zkv_range_t prefix = { .key = zkv_bin ("a\0", 2), .range_end = zkv_bin ("a\x01", 2) };
    response = s_range (&store, prefix, ZKV_ERR_OK);
    cr_assert_eq (response.count, 2);
    fx_destroy (&store);
}

BOTH (mvcc, delete_range_with_prev_kv)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "k1", "v1");
    fx_put (&store, "k2", "v2");
    fx_put (&store, "k3", "v3");
    zkv_delete_range_t del = { .key = fx_bin ("k1"), .range_end = fx_bin ("k3"), .prev_kv = true };
    zkv_delete_range_response_t response;
    zkv_result_t status;
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_delete_range (store.mvcc, &del, store.zone, &response, &status), 0);
    fx_commit (&store);
    cr_assert_eq (response.deleted, 2);
    cr_assert_eq (response.prev_kvs.count, 2);
    cr_assert (zkv_bin_eq (response.prev_kvs.items [1].value, "v2"));
    cr_assert_eq (response.header->revision, 5);
    cr_assert_null (s_get (&store, "k1", 0));
    cr_assert_not_null (s_get (&store, "k3", 0));
    //  One revision, two sub revisions: tombstones 5_0 and 5_1
    uint8_t revkey [ZKV_REVKEY_TOMB_SIZE];
    zkv_rev_t rev = { 5, 1 };
    size_t size = zkv_revkey_encode (rev, true, revkey);
    char *value, *error = NULL;
    size_t value_size;
    cr_assert_eq (zkv_engine_get (store.engine, ZKV_CF_KEY, revkey, size, &value, &value_size,
                                  &error), 1);
    cr_assert_eq (value_size, 4);       //  0A 02 'k' '2'
    cr_assert_arr_eq (value, "\x0a\x02k2", 4);
    free (value);
    fx_destroy (&store);
}

BOTH (mvcc, put_options)
{
    fx_store_t store;
    fx_new (&store, memory);
    zkv_result_t status;
    zkv_put_response_t response;
    zkv_put_t put = { .key = fx_bin ("k"), .ignore_value = true };
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_put (store.mvcc, &put, store.zone, &response, &status), -1);
    cr_assert_eq (status.err, ZKV_ERR_KEY_NOT_FOUND);
    zkv_put_t leased = { .key = fx_bin ("k"), .value = fx_bin ("v"), .lease = 7 };
    cr_assert_eq (zkv_mvcc_put (store.mvcc, &leased, store.zone, &response, &status), -1);
    cr_assert_eq (status.err, ZKV_ERR_LEASE_NOT_FOUND);
    fx_commit (&store);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 1);   //  nothing changed

    fx_put (&store, "k", "first");
    zkv_put_t again = { .key = fx_bin ("k"), .ignore_value = true, .prev_kv = true };
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_put (store.mvcc, &again, store.zone, &response, &status), 0);
    fx_commit (&store);
    cr_assert (zkv_bin_eq (response.prev_kv->value, "first"));
    s_assert_kv (s_get (&store, "k", 0), "first", 2, 3, 2);
    fx_destroy (&store);
}

static zkv_compare_t
s_cmp (const char *key, const char *target, const char *result)
{
    zkv_compare_t compare = { .key = fx_bin (key), .target = fx_bin (target),
                              .result = fx_bin (result) };
    return compare;
}

BOTH (mvcc, txn_compares_and_branches)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "a", "1");           //  rev 2
    fx_put (&store, "a", "2");           //  rev 3: version 2

    zkv_compare_t compares [4] = {
        s_cmp ("a", "VALUE", "EQUAL"), s_cmp ("a", "VERSION", "EQUAL"),
        s_cmp ("a", "MOD", "GREATER"), s_cmp ("a", "CREATE", "LESS")
    };
    compares [0].value = fx_bin ("2");
    compares [1].version = 2;
    compares [2].mod_revision = 2;
    compares [3].create_revision = 3;
    zkv_put_t put_b = { .key = fx_bin ("b"), .value = fx_bin ("yes") };
    zkv_put_t put_c = { .key = fx_bin ("c"), .value = fx_bin ("also") };
    zkv_range_t get_b = { .key = fx_bin ("b") };
    zkv_put_t put_no = { .key = fx_bin ("b"), .value = fx_bin ("no") };
    zkv_request_op_t success [3] = {
        { .request_put = &put_b }, { .request_put = &put_c }, { .request_range = &get_b }
    };
    zkv_request_op_t failure [1] = { { .request_put = &put_no } };
    zkv_txn_t txn = { .compare = { compares, 4 }, .success = { success, 3 },
                      .failure = { failure, 1 } };
    zkv_txn_response_t response;
    zkv_result_t status;
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_txn (store.mvcc, &txn, store.zone, &response, &status), 0);
    fx_commit (&store);
    cr_assert (response.succeeded);
    cr_assert_eq (response.header->revision, 4);
    cr_assert_eq (response.responses.count, 3);
    //  The range in the txn sees the txn's own put
    zkv_range_response_t *inner = response.responses.items [2].response_range;
    cr_assert_not_null (inner);
    cr_assert_eq (inner->kvs.count, 1);
    cr_assert (zkv_bin_eq (inner->kvs.items [0].value, "yes"));
    //  One main revision, sub revisions in order
    s_assert_kv (s_get (&store, "b", 0), "yes", 4, 4, 1);
    s_assert_kv (s_get (&store, "c", 0), "also", 4, 4, 1);
    uint8_t revkey [ZKV_REVKEY_SIZE];
    zkv_rev_t rev = { 4, 1 };
    size_t size = zkv_revkey_encode (rev, false, revkey);
    char *value, *error = NULL;
    size_t value_size;
    cr_assert_eq (zkv_engine_get (store.engine, ZKV_CF_KEY, revkey, size, &value, &value_size,
                                  &error), 1);
    zkv_key_value_t kv;
    cr_assert_eq (zkv_kvpb_decode ((uint8_t *) value, value_size, &kv), 0);
    cr_assert (zkv_bin_eq (kv.key, "c"));
    free (value);

    //  Now the value compare fails: the failure branch runs
    compares [0].value = fx_bin ("1");
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_txn (store.mvcc, &txn, store.zone, &response, &status), 0);
    fx_commit (&store);
    cr_assert_not (response.succeeded);
    s_assert_kv (s_get (&store, "b", 0), "no", 4, 5, 2);

    //  A value compare on a missing key fails; a version compare sees 0
    zkv_compare_t missing [2] = { s_cmp ("zz", "VALUE", "EQUAL"),
                                  s_cmp ("zz", "VERSION", "EQUAL") };
    zkv_txn_t probe = { .compare = { &missing [0], 1 } };
    cr_assert_eq (zkv_mvcc_txn_read (store.mvcc, &probe, store.zone, &response, &status), 0);
    cr_assert_not (response.succeeded);
    probe.compare.items = &missing [1];
    cr_assert_eq (zkv_mvcc_txn_read (store.mvcc, &probe, store.zone, &response, &status), 0);
    cr_assert (response.succeeded);
    cr_assert_eq (response.header->revision, 5);        //  reads take no revision
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 5);
    fx_destroy (&store);
}

BOTH (mvcc, txn_compare_over_a_range_and_nested_txn)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "p/1", "x");
    fx_put (&store, "p/2", "x");
    fx_put (&store, "p/3", "y");
    zkv_compare_t all_x = s_cmp ("p/", "VALUE", "EQUAL");
    all_x.range_end = fx_bin ("p0");
    all_x.value = fx_bin ("x");
    zkv_txn_t txn = { .compare = { &all_x, 1 } };
    zkv_txn_response_t response;
    zkv_result_t status;
    cr_assert_eq (zkv_mvcc_txn_read (store.mvcc, &txn, store.zone, &response, &status), 0);
    cr_assert_not (response.succeeded);         //  p/3 is y

    //  A nested txn's compares see the state before the outer txn
    zkv_put_t put = { .key = fx_bin ("p/3"), .value = fx_bin ("x") };
    zkv_compare_t still_y = s_cmp ("p/3", "VALUE", "EQUAL");
    still_y.value = fx_bin ("y");
    zkv_put_t mark = { .key = fx_bin ("seen-y"), .value = fx_bin ("1") };
    zkv_request_op_t inner_ops [1] = { { .request_put = &mark } };
    zkv_txn_t inner = { .compare = { &still_y, 1 }, .success = { inner_ops, 1 } };
    zkv_request_op_t outer_ops [2] = { { .request_put = &put }, { .request_txn = &inner } };
    zkv_txn_t outer = { .success = { outer_ops, 2 } };
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_txn (store.mvcc, &outer, store.zone, &response, &status), 0);
    fx_commit (&store);
    cr_assert (response.succeeded);
    cr_assert_not_null (response.responses.items [1].response_txn);
    cr_assert (response.responses.items [1].response_txn->succeeded);
    s_assert_kv (s_get (&store, "seen-y", 0), "1", 5, 5, 1);
    fx_destroy (&store);
}

BOTH (mvcc, failing_txn_changes_nothing)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "a", "1");
    fx_put (&store, "a", "2");
    fx_compact (&store, 3, ZKV_ERR_OK);
    zkv_put_t put = { .key = fx_bin ("b"), .value = fx_bin ("x") };
    zkv_range_t old = { .key = fx_bin ("a"), .revision = 2 };
    zkv_request_op_t ops [2] = { { .request_put = &put }, { .request_range = &old } };
    zkv_txn_t txn = { .success = { ops, 2 } };
    zkv_txn_response_t response;
    zkv_result_t status;
    fx_begin (&store);
    cr_assert_eq (zkv_mvcc_txn (store.mvcc, &txn, store.zone, &response, &status), -1);
    cr_assert_eq (status.err, ZKV_ERR_COMPACTED);
    fx_commit (&store);
    cr_assert_null (s_get (&store, "b", 0));
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 3);
    fx_destroy (&store);
}

BOTH (mvcc, many_transactions_in_one_batch)
{
    fx_store_t store;
    fx_new (&store, memory);
    zkv_result_t status;
    fx_begin (&store);
    for (int i = 0; i < 10; i++) {
        zkv_put_t put = { .key = fx_bin ("counter"), .value = zkv_bin (&"0123456789" [i], 1) };
        zkv_put_response_t response;
        cr_assert_eq (zkv_mvcc_put (store.mvcc, &put, store.zone, &response, &status), 0);
        cr_assert_eq (response.header->revision, 2 + i);
        //  Each sees the ones before it in the same batch
        zkv_range_t get = { .key = fx_bin ("counter") };
        zkv_range_response_t read;
        cr_assert_eq (zkv_mvcc_range (store.mvcc, &get, store.zone, &read, &status), 0);
        cr_assert_eq (read.kvs.items [0].version, i + 1);
    }
    //  Nothing is visible to the committed state before commit
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 1);
    fx_commit (&store);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 11);
    cr_assert_eq (zkv_mvcc_applied_index (store.mvcc), 1);
    s_assert_kv (s_get (&store, "counter", 0), "9", 2, 11, 10);
    fx_destroy (&store);
}

BOTH (mvcc, compaction_rules)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "a", "1");           //  2
    fx_put (&store, "a", "2");           //  3
    fx_put (&store, "b", "1");           //  4
    fx_delete (&store, "b", NULL);       //  5
    fx_put (&store, "c", "1");           //  6
    fx_delete (&store, "c", NULL);       //  7: a tombstone exactly at the compaction
    fx_put (&store, "a", "3");           //  8
    cr_assert_eq (s_family_size (&store, ZKV_CF_KEY), 7);

    fx_compact (&store, 9, ZKV_ERR_FUTURE_REV);
    fx_compact (&store, 7, ZKV_ERR_OK);
    cr_assert_eq (zkv_mvcc_compact_revision (store.mvcc), 7);
    fx_compact (&store, 7, ZKV_ERR_COMPACTED);
    fx_compact (&store, 5, ZKV_ERR_COMPACTED);

    //  Reads below the compaction fail at once, before any deletion
    zkv_range_t old = { .key = fx_bin ("a"), .revision = 6 };
    s_range (&store, old, ZKV_ERR_COMPACTED);
    cr_assert (zkv_mvcc_compaction_pending (store.mvcc));
    fx_compact_fully (&store);
    cr_assert_not (zkv_mvcc_compaction_pending (store.mvcc));

    //  a keeps 3 (its newest <= 7) and 8; b's tombstone below 7 goes with
    //  its put; c's tombstone at 7 stays, its put goes
    cr_assert_eq (s_family_size (&store, ZKV_CF_KEY), 3);
    cr_assert_eq (s_family_size (&store, ZKV_CF_INDEX), 3);
    s_assert_kv (s_get (&store, "a", 7), "2", 2, 3, 2);
    s_assert_kv (s_get (&store, "a", 0), "3", 2, 8, 3);
    cr_assert_null (s_get (&store, "b", 7));
    cr_assert_null (s_get (&store, "c", 7));
    cr_assert_null (s_get (&store, "c", 0));
    zkv_range_t all = { .key = zkv_bin ("", 1), .range_end = zkv_bin ("", 1), .revision = 7 };
    zkv_range_response_t response = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (response.count, 1);

    //  The next compaction drops the tombstone kept at 7
    fx_compact (&store, 8, ZKV_ERR_OK);
    fx_compact_fully (&store);
    cr_assert_eq (s_family_size (&store, ZKV_CF_KEY), 1);
    fx_destroy (&store);
}

BOTH (mvcc, compaction_in_steps_of_one_deletion)
{
    //  A step may stop inside a key's history and resume there
    fx_store_t store;
    fx_new (&store, memory);
    for (int i = 0; i < 30; i++)
        fx_put (&store, "long", "history");          //  2 .. 31
    fx_put (&store, "gone", "x");                    //  32
    fx_delete (&store, "gone", NULL);                //  33
    fx_put (&store, "short", "y");                   //  34
    fx_compact (&store, 34, ZKV_ERR_OK);
    char *error = NULL;
    int steps = 0;
    while (zkv_mvcc_compaction_pending (store.mvcc) && steps < 1000) {
        cr_assert_eq (zkv_mvcc_compact_step (store.mvcc, 1, &error), 0, "%s", error);
        steps++;
    }
    cr_assert_gt (steps, 30);
    cr_assert_eq (s_family_size (&store, ZKV_CF_KEY), 2);   //  long@31, short@34
    cr_assert_eq (s_family_size (&store, ZKV_CF_INDEX), 2);
    s_assert_kv (s_get (&store, "long", 0), "history", 2, 31, 30);
    cr_assert_null (s_get (&store, "gone", 0));
    fx_destroy (&store);
}

BOTH (mvcc, compaction_resumes_after_restart)
{
    fx_store_t store;
    fx_new (&store, memory);
    for (int i = 0; i < 20; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%02d", i);
        fx_put (&store, key, "old");
        fx_put (&store, key, "new");
    }
    fx_compact (&store, zkv_mvcc_revision (store.mvcc), ZKV_ERR_OK);
    char *error = NULL;
    cr_assert_eq (zkv_mvcc_compact_step (store.mvcc, 5, &error), 0);
    cr_assert (zkv_mvcc_compaction_pending (store.mvcc));
    fx_close (&store);
    fx_open (&store);
    cr_assert_eq (zkv_mvcc_compact_revision (store.mvcc), 41);
    cr_assert (zkv_mvcc_compaction_pending (store.mvcc));
    fx_compact_fully (&store);
    cr_assert_eq (s_family_size (&store, ZKV_CF_KEY), 20);
    fx_close (&store);
    fx_open (&store);
    cr_assert_not (zkv_mvcc_compaction_pending (store.mvcc));
    fx_destroy (&store);
}

BOTH (mvcc, reopen_keeps_everything)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "x", "1");
    fx_put (&store, "y", "2");
    fx_delete (&store, "x", NULL);
    fx_compact (&store, 3, ZKV_ERR_OK);
    fx_close (&store);
    fx_open (&store);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), 4);
    cr_assert_eq (zkv_mvcc_compact_revision (store.mvcc), 3);
    cr_assert_eq (zkv_mvcc_applied_index (store.mvcc), 4);
    cr_assert_eq (zkv_mvcc_applied_term (store.mvcc), 1);
    cr_assert_null (s_get (&store, "x", 0));
    s_assert_kv (s_get (&store, "y", 0), "2", 3, 3, 1);
    s_assert_kv (s_get (&store, "x", 3), "1", 2, 2, 1);
    cr_assert_eq (fx_put (&store, "x", "again"), 5);
    fx_destroy (&store);
}

//  The bytes of the key family are etcd's: the HashKV of etcd 3.4.23 over
//  the same history (tests/test_hash.c's history) comes out of them
BOTH (mvcc, key_family_holds_etcds_bytes)
{
    fx_store_t store;
    fx_new (&store, memory);
    cr_assert_eq (fx_hash_kv_one_pass (&store, 1), 1084519789u);
    fx_put (&store, "foo", "bar");       //  rev 2
    fx_put (&store, "foo", "baz");       //  rev 3
    fx_delete (&store, "foo", NULL);     //  rev 4
    cr_assert_eq (fx_hash_kv_one_pass (&store, 3), 2020292994u);
    cr_assert_eq (fx_hash_kv_one_pass (&store, 4), 3153096970u);
    fx_destroy (&store);
}

BOTH (mvcc, second_open_of_a_store_is_refused)
{
    if (memory)
        return;                         //  the lock is a file lock: disk only
    fx_store_t store;
    fx_new (&store, memory);
    char *error = NULL;
    zkv_engine_t *second = zkv_engine_open (store.path, NULL, &error);
    cr_assert_null (second);
    cr_assert_not_null (strstr (error, "lock"), "%s", error);
    free (error);
    fx_destroy (&store);
}

//  Puts count keys t0000, t0001, ... (all between "t" and "u")
static void
s_put_keys (fx_store_t *store, int count)
{
    char key [16];
    for (int i = 0; i < count; i++) {
        snprintf (key, sizeof key, "t%04d", i);
        fx_put (store, key, "v");
    }
}

//  RocksDB's perf context counts, in this thread, the deleted records
//  iterators step over from s_count_skips until s_skips_counted
static rocksdb_perfcontext_t *
s_count_skips (void)
{
    rocksdb_set_perf_level (rocksdb_enable_count);
    rocksdb_perfcontext_t *perf = rocksdb_perfcontext_create ();
    rocksdb_perfcontext_reset (perf);
    return perf;
}

static uint64_t
s_skips_counted (rocksdb_perfcontext_t *perf)
{
    uint64_t skipped = rocksdb_perfcontext_metric (perf, rocksdb_internal_delete_skipped_count);
    rocksdb_perfcontext_destroy (perf);
    rocksdb_set_perf_level (rocksdb_disable);
    return skipped;
}

//  A put looks up its key's newest revision: RocksDB must stop at the end
//  of that key's records, not step over the deleted records of the keys
//  after it (after a compaction, a run as long as the history; a benchmark
//  saw puts fall to 20/s). Counted by RocksDB's perf context, not timed.
BOTH (mvcc, a_lookup_does_not_walk_the_deleted_records_after_its_key)
{
    fx_store_t store;
    fx_new (&store, memory);
    s_put_keys (&store, 500);
    fx_delete (&store, "t", "u");
    //  Two compactions: the first keeps the tombstones at its revision, the
    //  second deletes them, index records included
    fx_compact (&store, zkv_mvcc_revision (store.mvcc), ZKV_ERR_OK);
    fx_compact_fully (&store);
    fx_put (&store, "z", "v");
    fx_compact (&store, zkv_mvcc_revision (store.mvcc), ZKV_ERR_OK);
    fx_compact_fully (&store);
    rocksdb_perfcontext_t *perf = s_count_skips ();
    fx_put (&store, "s", "v");
    uint64_t skipped = s_skips_counted (perf);
    cr_assert_lt (skipped, 50, "the put stepped over %llu deleted records",
                  (unsigned long long) skipped);
    fx_destroy (&store);
}

//  How many deleted records a scan of cf from its first record steps over
static uint64_t
s_deleted_records_scanned (fx_store_t *store, zkv_cf_t cf)
{
    rocksdb_perfcontext_t *perf = s_count_skips ();
    rocksdb_iterator_t *it = zkv_engine_iterator (store->engine, cf, NULL);
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it))
        ;
    rocksdb_iter_destroy (it);
    return s_skips_counted (perf);
}

//  A compaction deletes records one by one; Hash, HashKV, snapshots and
//  ranges must not step over their RocksDB tombstones for long after it
//  (a HashKV of 100,000 keys took 6x as long after a million deletions).
//  The compaction flushes its deletions, and RocksDB compacts away table
//  files dense with them on its own. Counted, not timed.
BOTH (mvcc, scans_after_a_compaction_do_not_step_over_its_deletions)
{
    fx_store_t store;
    fx_new (&store, memory);
    s_put_keys (&store, 3000);
    //  In table files, as a large store's data is: deletions that never
    //  meet what they delete (all in one memtable) may be moved to the
    //  last level as they are, and wait there for a defrag
    char *error = NULL;
    cr_assert_eq (zkv_engine_flush (store.engine, &error), 0, "%s", error);
    fx_delete (&store, "t", "u");
    fx_put (&store, "z", "v");
    fx_compact (&store, zkv_mvcc_revision (store.mvcc), ZKV_ERR_OK);
    fx_compact_fully (&store);
    fx_wait_until_rocksdb_is_idle (store.engine);
    uint64_t key_skipped = s_deleted_records_scanned (&store, ZKV_CF_KEY);
    uint64_t index_skipped = s_deleted_records_scanned (&store, ZKV_CF_INDEX);
    cr_assert_lt (key_skipped, 100, "a scan of the key family stepped over %llu deletions",
                  (unsigned long long) key_skipped);
    cr_assert_lt (index_skipped, 100, "a scan of the index stepped over %llu deletions",
                  (unsigned long long) index_skipped);
    fx_destroy (&store);
}

//  ---------------------------------------------------------------------
//  What one request may make the store spend

static bool
s_expired_after (void *arg)
{
    //  The deadline passes at the nth look
    return --*(int *) arg <= 0;
}

BOTH (mvcc, a_reply_stops_at_its_bound_and_a_write_past_it_changes_nothing)
{
    fx_store_t store;
    fx_new (&store, memory);
    char value [1000];
    memset (value, 'v', sizeof value - 1);
    value [sizeof value - 1] = 0;
    for (int i = 0; i < 10; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", i);
        fx_put (&store, key, value);
    }
    //  Ten key-values of ~1 KB: 10 x (2 + 999 + overhead) bytes
    size_t each = 2 + 999 + ZKV_MVCC_REPLY_KV_OVERHEAD;
    zkv_range_t all = { .key = fx_bin ("k"), .range_end = fx_bin ("l") };
    zkv_mvcc_limits_t limits = { .max_reply_bytes = 10 * each };
    zkv_mvcc_set_limits (store.mvcc, &limits);
    cr_assert_eq (s_range (&store, all, ZKV_ERR_OK).kvs.count, 10);
    limits.max_reply_bytes = 10 * each - 1;
    zkv_mvcc_set_limits (store.mvcc, &limits);
    s_range (&store, all, ZKV_ERR_RESPONSE_TOO_LARGE);
    //  Keys only: their values do not count
    all.keys_only = true;
    limits.max_reply_bytes = 10 * (2 + ZKV_MVCC_REPLY_KV_OVERHEAD);
    zkv_mvcc_set_limits (store.mvcc, &limits);
    zkv_range_response_t keys = s_range (&store, all, ZKV_ERR_OK);
    cr_assert_eq (keys.kvs.count, 10);
    const zkv_key_value_t *first = &keys.kvs.items [0];
    cr_assert_eq (keys.kvs.items [9].value.size, 0);
    cr_assert_eq (first->value.size, 0);
    cr_assert (first->create_revision == 2 && first->mod_revision == 2 && first->version == 1);
    cr_assert (first->key.size == 2 && memcmp (first->key.data, "k0", 2) == 0);
    all.keys_only = false;

    //  A txn that writes and reads past the bound: refused, nothing written
    zkv_put_t put = { .key = fx_bin ("new"), .value = fx_bin ("x") };
    zkv_request_op_t ops [3] = { { .request_put = &put }, { .request_range = &all },
                                 { .request_range = &all } };
    zkv_txn_t txn = { .success = { ops, 3 } };
    limits.max_reply_bytes = 15 * each;
    zkv_mvcc_set_limits (store.mvcc, &limits);
    int64_t revision = zkv_mvcc_revision (store.mvcc);
    fx_begin (&store);
    zkv_txn_response_t response;
    zkv_result_t status;
    cr_assert_eq (zkv_mvcc_txn (store.mvcc, &txn, store.zone, &response, &status), -1);
    cr_assert_eq (status.err, ZKV_ERR_RESPONSE_TOO_LARGE);
    fx_commit (&store);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), revision);
    limits.max_reply_bytes = 0;         //  no bound
    zkv_mvcc_set_limits (store.mvcc, &limits);
    cr_assert_null (s_get (&store, "new", 0));
    //  A delete's previous key-values count too
    zkv_delete_range_t del = { .key = fx_bin ("k"), .range_end = fx_bin ("l"), .prev_kv = true };
    limits.max_reply_bytes = 5 * each;
    zkv_mvcc_set_limits (store.mvcc, &limits);
    fx_begin (&store);
    zkv_delete_range_response_t deleted;
    cr_assert_eq (zkv_mvcc_delete_range (store.mvcc, &del, store.zone, &deleted, &status), -1);
    cr_assert_eq (status.err, ZKV_ERR_RESPONSE_TOO_LARGE);
    fx_commit (&store);
    cr_assert_eq (zkv_mvcc_revision (store.mvcc), revision);
    fx_destroy (&store);
}

BOTH (mvcc, a_walk_stops_once_its_deadline_passed)
{
    fx_store_t store;
    fx_new (&store, memory);
    for (int i = 0; i < 3 * ZKV_MVCC_DEADLINE_STEPS; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%05d", i);
        fx_put (&store, key, "v");
    }
    zkv_range_t all = { .key = fx_bin ("k"), .range_end = fx_bin ("l"), .count_only = true };
    int looks = 2;
    zkv_mvcc_limits_t limits = { .expired = s_expired_after, .arg = &looks };
    zkv_mvcc_set_limits (store.mvcc, &limits);
    s_range (&store, all, ZKV_ERR_TIMEOUT);
    cr_assert_eq (looks, 0, "the deadline was not looked at every so many keys");
    looks = 4;
    zkv_mvcc_set_limits (store.mvcc, &limits);
    cr_assert_eq (s_range (&store, all, ZKV_ERR_OK).count, 3 * ZKV_MVCC_DEADLINE_STEPS);
    fx_destroy (&store);
}

//  The keys of a range reply, joined by spaces
static char *
s_keys (const zkv_range_response_t *response)
{
    static char text [512];
    text [0] = 0;
    for (size_t i = 0; i < response->kvs.count; i++) {
        const zkv_key_value_t *kv = &response->kvs.items [i];
        snprintf (text + strlen (text), sizeof text - strlen (text), "%s%.*s", i? " ": "",
                  (int) kv->key.size, (const char *) kv->key.data);
    }
    return text;
}

static zkv_range_t
s_sorted (const char *order, const char *target, int64_t limit)
{
    zkv_range_t range = { .key = fx_bin ("k"), .range_end = fx_bin ("l"), .limit = limit };
    if (order)
        range.sort_order = fx_bin (order);
    if (target)
        range.sort_target = fx_bin (target);
    return range;
}

BOTH (mvcc, a_sorted_range_sorts_as_etcd_then_applies_the_limit)
{
    fx_store_t store;
    fx_new (&store, memory);
    //  14 keys (past the 12 where etcd's sort is stable) whose versions tie:
    //  k00..k13 with value 13 - i, k01 k03 .. k13 put twice
    for (int i = 0; i < 14; i++) {
        char key [16], value [16];
        snprintf (key, sizeof key, "k%02d", i);
        snprintf (value, sizeof value, "%02d", 13 - i);
        fx_put (&store, key, value);
    }
    for (int i = 1; i < 14; i += 2) {
        char key [16], value [16];
        snprintf (key, sizeof key, "k%02d", i);
        snprintf (value, sizeof value, "%02d", 13 - i);
        fx_put (&store, key, value);
    }
    zkv_range_response_t r;
    //  DESCEND by version: the twice-put first, ties in key order
    r = s_range (&store, s_sorted ("DESCEND", "VERSION", 0), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k01 k03 k05 k07 k09 k11 k13 k00 k02 k04 k06 k08 k10 k12");
    //  The limit applies after the sort; count and more as without one
    r = s_range (&store, s_sorted ("DESCEND", "VERSION", 3), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k01 k03 k05");
    cr_assert (r.more && r.count == 14);
    r = s_range (&store, s_sorted ("ASCEND", "VALUE", 2), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k13 k12");
    r = s_range (&store, s_sorted ("DESCEND", NULL, 2), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k13 k12");
    r = s_range (&store, s_sorted ("DESCEND", "MOD", 1), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k13");
    r = s_range (&store, s_sorted ("ASCEND", "CREATE", 2), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k00 k01");
    r = s_range (&store, s_sorted ("ASCEND", "KEY", 2), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k00 k01");
    //  etcd's default: a target without an order sorts ASCEND the first
    //  limit + 1 keys only
    r = s_range (&store, s_sorted (NULL, "VALUE", 2), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k02 k01");
    cr_assert (r.more && r.count == 14);
    r = s_range (&store, s_sorted ("NONE", "MOD", 0), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k00 k02 k04 k06 k08 k10 k12 k01 k03 k05 k07 k09 k11 k13");
    //  Keys only, sorted by the values it leaves out
    zkv_range_t keys = s_sorted ("DESCEND", "VALUE", 3);
    keys.keys_only = true;
    r = s_range (&store, keys, ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k00 k01 k02");
    cr_assert (r.kvs.items [0].value.size == 0 && r.kvs.items [2].value.size == 0);
    //  Count only: nothing to sort
    zkv_range_t count = s_sorted ("DESCEND", "VALUE", 3);
    count.count_only = true;
    r = s_range (&store, count, ZKV_ERR_OK);
    cr_assert (r.kvs.count == 0 && r.count == 14 && !r.more);
    //  A sort holds every key-value it reads: the reply bound counts them
    //  all. KEY ASCEND is key order, read no further than the limit.
    //  (setting the limits starts a reply's count)
    zkv_mvcc_limits_t limits = { .max_reply_bytes = 3 * (3 + 2 + ZKV_MVCC_REPLY_KV_OVERHEAD) };
    zkv_mvcc_set_limits (store.mvcc, &limits);
    r = s_range (&store, s_sorted ("ASCEND", "KEY", 3), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k00 k01 k02");
    zkv_mvcc_set_limits (store.mvcc, &limits);
    r = s_range (&store, s_sorted (NULL, "VERSION", 2), ZKV_ERR_OK);
    cr_assert_str_eq (s_keys (&r), "k00 k02");
    zkv_mvcc_set_limits (store.mvcc, &limits);
    s_range (&store, s_sorted ("DESCEND", "KEY", 3), ZKV_ERR_RESPONSE_TOO_LARGE);
    fx_destroy (&store);
}

//  ---------------------------------------------------------------------
//  The keys live (etcd_debugging_mvcc_keys_total)

BOTH (mvcc, live_keys_are_counted_through_writes_failures_and_restarts)
{
    fx_store_t store;
    fx_new (&store, memory);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 0);
    fx_put (&store, "a", "1");
    fx_put (&store, "b", "1");
    fx_put (&store, "a", "2");           //  the same key again
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 2);
    cr_assert_eq (fx_delete (&store, "a", NULL), 1);
    cr_assert_eq (fx_delete (&store, "a", NULL), 0);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 1);
    fx_put (&store, "a", "3");           //  again after its tombstone
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 2);

    //  A txn that fails after a put of a new key leaves the count as it was
    zkv_put_t put_c = { .key = fx_bin ("c"), .value = fx_bin ("1") };
    zkv_put_t put_missing = { .key = fx_bin ("nope"), .ignore_value = true };
    zkv_request_op_t success [2] = { { .request_put = &put_c }, { .request_put = &put_missing } };
    zkv_txn_t txn = { .success = { success, 2 } };
    zkv_txn_response_t response;
    zkv_result_t status;
    fx_begin (&store);
    cr_assert_neq (zkv_mvcc_txn (store.mvcc, &txn, store.zone, &response, &status), 0);
    fx_commit (&store);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 2);
    //  Not committed yet: the committed count
    fx_begin (&store);
    zkv_put_response_t put_response;
    cr_assert_eq (zkv_mvcc_put (store.mvcc, &put_c, store.zone, &put_response, &status), 0);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 2);
    fx_commit (&store);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 3);

    //  Kept across a restart, and counted again when a database has no count
    fx_close (&store);
    fx_open (&store);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 3);
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (store.engine, ZKV_CF_META), "keys", 4);
    char *error = NULL;
    cr_assert_eq (zkv_engine_write (store.engine, batch, true, &error), 0);
    rocksdb_writebatch_destroy (batch);
    fx_close (&store);
    fx_open (&store);
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 3);
    fx_put (&store, "d", "1");
    cr_assert_eq (zkv_mvcc_keys (store.mvcc), 4);
    fx_destroy (&store);
}
