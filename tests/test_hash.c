/*  test_hash.c — Hash and HashKV (store/zkv_hash.c) against the vectors
    etcd 3.4.23 produced for the same history (the history s_write_history writes),
    and the properties around them: the hash never depends on how far a
    physical compaction has got, the compaction hashes equal the HashKV
    taken just before, Hash skips the member's own applied index.
*/
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mvcc_fixture.h"
#include "zkv_crc32c.h"
#include "zkv_hash.h"
#include "zkv_keys.h"
#include "zkv_kvpb.h"
#include "zkv_mvcc_private.h"
#include "zkv_scan.h"

#define EMPTY_HASH 1084519789u          //  crc32c ("key")

//  HashKV (revision) of the store as it is, under its own compact revision
static uint32_t
s_hash_kv (fx_store_t *store, int64_t revision, zkv_keep_t keep, int64_t compact)
{
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (store->engine);
    uint32_t hash = 0;
    char *error = NULL;
    cr_assert_eq (zkv_hash_kv (store->engine, snapshot, revision, compact, keep, &hash, &error),
                  0, "%s", error);
    zkv_engine_snapshot_release (store->engine, snapshot);
    return hash;
}

static uint32_t
s_live (fx_store_t *store, int64_t revision)
{
    return s_hash_kv (store, revision, ZKV_KEEP_LIVE, zkv_mvcc_compact_revision (store->mvcc));
}

//  Writes the history the vectors were taken with: rev 2 put foo bar; 3 put foo baz; 4
//  del foo; 5 put foo qux with lease 0x5010a217ea5f2609; 6 txn {put a 1;
//  put b 2}; 7 del a; 8 put b 3. zkv has no leases yet, so the record of
//  rev 5 is rewritten with the lease etcd's had.
static void
s_etcd_history (fx_store_t *store)
{
    fx_put (store, "foo", "bar");
    fx_put (store, "foo", "baz");
    fx_delete (store, "foo", NULL);
    fx_put (store, "foo", "qux");
    zkv_key_value_t leased = {
        .key = fx_bin ("foo"), .create_revision = 5, .mod_revision = 5, .version = 1,
        .value = fx_bin ("qux"), .lease = 0x5010a217ea5f2609LL
    };
    uint8_t value [64], revkey [ZKV_REVKEY_TOMB_SIZE];
    size_t size = zkv_kvpb_encode (&leased, value);
    zkv_rev_t rev5 = { 5, 0 };
    size_t revkey_size = zkv_revkey_encode (rev5, false, revkey);
    char *error = NULL;
    cr_assert_eq (zkv_engine_put (store->engine, ZKV_CF_KEY, revkey, revkey_size, value, size,
                                  false, &error), 0, "%s", error);

    zkv_put_t put_a = { .key = fx_bin ("a"), .value = fx_bin ("1") };
    zkv_put_t put_b = { .key = fx_bin ("b"), .value = fx_bin ("2") };
    zkv_request_op_t ops [2] = { { .request_put = &put_a }, { .request_put = &put_b } };
    zkv_txn_t txn = { .success = { ops, 2 } };
    zkv_txn_response_t response;
    zkv_result_t status;
    fx_begin (store);
    cr_assert_eq (zkv_mvcc_txn (store->mvcc, &txn, store->zone, &response, &status), 0);
    fx_commit (store);
    fx_delete (store, "a", NULL);
    fx_put (store, "b", "3");
    cr_assert_eq (zkv_mvcc_revision (store->mvcc), 8);
}

#define BOTH(suite, name) \
    static void s_##name (bool memory); \
    Test (suite, name##_on_disk) { s_##name (false); } \
    Test (suite, name##_in_memory) { s_##name (true); } \
    static void s_##name (bool memory)

BOTH (hash, hash_kv_equals_etcds_vectors)
{
    fx_store_t store;
    fx_new (&store, memory);
    cr_assert_eq (s_live (&store, 1), EMPTY_HASH);
    s_etcd_history (&store);
    cr_assert_eq (s_live (&store, 3), 2020292994u);
    cr_assert_eq (s_live (&store, 4), 3153096970u);
    cr_assert_eq (s_live (&store, 5), 2203105834u);
    cr_assert_eq (s_live (&store, 7), 457434691u);
    cr_assert_eq (s_live (&store, 8), 3951479797u);
    //  A negative revision hashes nothing, as in etcd
    cr_assert_eq (s_live (&store, -1), EMPTY_HASH);

    //  The hash a compaction to 4 keeps is HashKV (4) from before it
    cr_assert_eq (s_hash_kv (&store, 4, ZKV_KEEP_COMPACTION, -1), 3153096970u);
    fx_compact (&store, 4, ZKV_ERR_OK);
    //  Whatever the physical compaction has done so far
    for (int step = 0; step < 2; step++) {
        cr_assert_eq (s_live (&store, 8), 2943043431u);
        cr_assert_eq (s_live (&store, 5), 462785104u);
        cr_assert_eq (s_live (&store, 7), 3276423002u);
        //  HashKV at the compact revision itself (3.5.10+): the keep set
        //  is empty and the tombstone at 4 is skipped
        cr_assert_eq (s_live (&store, 4), EMPTY_HASH);
        fx_compact_fully (&store);
    }
    cr_assert_eq (s_hash_kv (&store, 7, ZKV_KEEP_COMPACTION, 4), 3276423002u);
    fx_compact (&store, 7, ZKV_ERR_OK);
    cr_assert_eq (s_live (&store, 8), 1282639491u);
    fx_compact_fully (&store);
    cr_assert_eq (s_live (&store, 8), 1282639491u);
    fx_destroy (&store);
}

//  With every key deleted the keep set is empty: etcd then hashes every
//  record at or below the compact revision still on disk, which, once
//  its compaction is done, is what compaction leaves. zkv hashes that
//  before, during and after its own compaction.
BOTH (hash, empty_keep_set_hashes_what_compaction_leaves)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "x", "1");          //  2
    fx_put (&store, "x", "2");          //  3
    fx_put (&store, "y", "1");          //  4
    fx_delete (&store, "y", NULL);      //  5
    fx_delete (&store, "x", NULL);      //  6: nothing is live from here on
    fx_compact (&store, 4, ZKV_ERR_OK);
    uint32_t before = s_live (&store, 6);
    fx_compact_fully (&store);
    uint32_t after = s_live (&store, 6);
    cr_assert_eq (before, after);
    //  What is left at or below 4: x@3 and y@4, both hashed; the
    //  tombstones above 4 as well
    uint32_t expected = zkv_crc32c (0, "key", 3);
    const int64_t mains [] = { 3, 4, 5, 6 };
    const bool tombs [] = { false, false, true, true };
    rocksdb_iterator_t *it = zkv_engine_iterator (store.engine, ZKV_CF_KEY, NULL);
    size_t count = 0;
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
        size_t key_size, value_size;
        const char *key = rocksdb_iter_key (it, &key_size);
        const char *value = rocksdb_iter_value (it, &value_size);
        zkv_rev_t rev;
        bool tomb;
        cr_assert_eq (zkv_revkey_decode ((const uint8_t *) key, key_size, &rev, &tomb), 0);
        cr_assert_lt (count, 4);
        cr_assert_eq (rev.main, mains [count]);
        cr_assert_eq (tomb, tombs [count]);
        count++;
        expected = zkv_crc32c (expected, key, key_size);
        expected = zkv_crc32c (expected, value, value_size);
    }
    rocksdb_iter_destroy (it);
    cr_assert_eq (count, 4);
    cr_assert_eq (after, expected);
    fx_destroy (&store);
}

static uint32_t
s_hash_all (fx_store_t *store)
{
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (store->engine);
    uint32_t hash = 0;
    char *error = NULL;
    cr_assert_eq (zkv_hash_all (store->engine, snapshot, &hash, &error), 0, "%s", error);
    zkv_engine_snapshot_release (store->engine, snapshot);
    return hash;
}

BOTH (hash, hash_covers_the_state_not_the_applied_index)
{
    fx_store_t store;
    fx_new (&store, memory);
    fx_put (&store, "a", "1");
    uint32_t first = s_hash_all (&store);
    //  An empty batch moves only the applied index and term
    fx_begin (&store);
    fx_commit (&store);
    cr_assert_eq (s_hash_all (&store), first);
    //  The raft log is not state
    char *error = NULL;
    cr_assert_eq (zkv_engine_put (store.engine, ZKV_CF_RAFT_LOG, "e", 1, "x", 1, false, &error),
                  0);
    cr_assert_eq (s_hash_all (&store), first);
    //  Data, members and alarms are
    fx_put (&store, "a", "2");
    uint32_t second = s_hash_all (&store);
    cr_assert_neq (second, first);
    cr_assert_eq (zkv_engine_put (store.engine, ZKV_CF_ALARM, "m", 1, "", 0, false, &error), 0);
    cr_assert_neq (s_hash_all (&store), second);
    fx_destroy (&store);
}

//  The store's own account of itself at a snapshot
BOTH (hash, state_at_a_snapshot)
{
    fx_store_t store;
    fx_new (&store, memory);
    zkv_hash_state_t state;
    char *error = NULL;
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (store.engine);
    cr_assert_eq (zkv_hash_state (store.engine, snapshot, &state, &error), 0);
    zkv_engine_snapshot_release (store.engine, snapshot);
    cr_assert_eq (state.revision, 1);
    cr_assert_eq (state.compact_revision, -1);
    fx_put (&store, "a", "1");
    fx_put (&store, "a", "2");
    snapshot = zkv_engine_snapshot (store.engine);
    fx_compact (&store, 2, ZKV_ERR_OK);  //  after the snapshot: not seen
    cr_assert_eq (zkv_hash_state (store.engine, snapshot, &state, &error), 0);
    cr_assert_eq (state.revision, 3);
    cr_assert_eq (state.compact_revision, -1);
    cr_assert_eq (state.applied_term, 1);
    zkv_engine_snapshot_release (store.engine, snapshot);
    fx_destroy (&store);
}

//  A compaction in the smallest steps: between any two of them, a deleted
//  key stays deleted and HashKV stays what it was (the tombstone of a key
//  goes with its last older revision, never before)
BOTH (hash, a_compaction_changes_nothing_visible_between_its_steps)
{
    fx_store_t store;
    fx_new (&store, memory);
    for (int i = 0; i < 5; i++) {
        fx_put (&store, "gone", "a version of a key deleted later");
        fx_put (&store, "kept", "a version of a key that stays");
    }
    fx_delete (&store, "gone", NULL);
    fx_put (&store, "after", "the compaction revision");
    int64_t compact = zkv_mvcc_revision (store.mvcc);
    fx_compact (&store, compact, ZKV_ERR_OK);
    uint32_t before = s_live (&store, compact);
    char *error = NULL;
    int steps = 0;
    while (zkv_mvcc_compaction_pending (store.mvcc)) {
        cr_assert_eq (zkv_mvcc_compact_step (store.mvcc, 1, &error), 0, "%s", error);
        steps++;
        zkv_range_t get = { .key = fx_bin ("gone") };
        zkv_range_response_t response;
        zkv_result_t status;
        cr_assert_eq (zkv_mvcc_range (store.mvcc, &get, store.zone, &response, &status), 0);
        cr_assert_eq (response.count, 0, "the deleted key came back after step %d", steps);
        cr_assert_eq (s_live (&store, compact), before, "HashKV changed at step %d", steps);
    }
    cr_assert_gt (steps, 2);
    fx_destroy (&store);
}

//  Once a compaction has finished, HashKV no longer walks the whole index:
//  it excludes the revisions of keys written after the compaction (see
//  s_excluded). Random histories, with writes after the compact revision,
//  deletions of everything (an empty keep set) and transactions: HashKV
//  of every revision from the compact one up, in both modes, equals what
//  the index walk gave while the compaction was still to do.
BOTH (hash, a_finished_compaction_hashes_as_the_index_walk_did)
{
    uint32_t seed = 2026;
    for (int history = 0; history < 100; history++) {
        fx_store_t store;
        fx_new (&store, memory);
        int writes = 10 + history % 30, after = history % 7;
        int64_t compact = 0;
        for (int op = 0; op < writes + after; op++) {
            if (op == writes) {
                compact = 2 + (int64_t) (seed % (uint32_t) (zkv_mvcc_revision (store.mvcc) - 1));
                fx_compact (&store, compact, ZKV_ERR_OK);
            }
            seed = seed * 1103515245 + 12345;
            char key [8], value [16];
            snprintf (key, sizeof key, "k%u", (seed >> 16) % 5);
            snprintf (value, sizeof value, "v%d", op);
            uint32_t kind = (seed >> 8) % 10;
            if (kind < 6)
                fx_put (&store, key, value);
            else
            if (kind < 8)
                fx_delete (&store, key, NULL);
            else
            if (kind < 9)
                fx_delete (&store, "k", "l");
            else {
                zkv_put_t put_a = { .key = fx_bin (key), .value = fx_bin (value) };
                zkv_put_t put_b = { .key = fx_bin ("k9"), .value = fx_bin (value) };
                zkv_request_op_t ops [2] = { { .request_put = &put_a },
                                             { .request_put = &put_b } };
                zkv_txn_t txn = { .success = { ops, 2 } };
                zkv_txn_response_t response;
                zkv_result_t status;
                fx_begin (&store);
                cr_assert_eq (zkv_mvcc_txn (store.mvcc, &txn, store.zone, &response, &status),
                              0);
                fx_commit (&store);
            }
        }
        if (compact == 0) {
            compact = zkv_mvcc_revision (store.mvcc);
            fx_compact (&store, compact, ZKV_ERR_OK);
        }
        int64_t top = zkv_mvcc_revision (store.mvcc);
        uint32_t walked [2][64];
        cr_assert_lt (top - compact, 64);
        for (int mode = 0; mode < 2; mode++)
            for (int64_t revision = compact; revision <= top; revision++)
                walked [mode][revision - compact] =
                    s_hash_kv (&store, revision, mode? ZKV_KEEP_COMPACTION: ZKV_KEEP_LIVE,
                               compact);
        fx_compact_fully (&store);
        for (int mode = 0; mode < 2; mode++)
            for (int64_t revision = compact; revision <= top; revision++)
                cr_assert_eq (s_hash_kv (&store, revision,
                                         mode? ZKV_KEEP_COMPACTION: ZKV_KEEP_LIVE, compact),
                              walked [mode][revision - compact],
                              "history %d, compact %" PRId64 ", HashKV (%" PRId64 "), mode %d",
                              history, compact, revision, mode);
        fx_destroy (&store);
    }
}

//  The walks go in parts on several threads (zkv_scan.h) and combine the
//  parts' CRCs: Hash equals a one-pass CRC over every family but the raft
//  log, in name order, and both hashes are the same whatever the threads,
//  before, during and after a compaction
static uint32_t
s_hash_one_pass (fx_store_t *store)
{
    const char *names [] = { "alarm", "default", "index", "key", "members", "meta" };
    uint32_t crc = 0;
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        zkv_cf_t cf = zkv_cf_by_name (names [i], strlen (names [i]));
        crc = zkv_crc32c (crc, names [i], strlen (names [i]));
        rocksdb_iterator_t *it = zkv_engine_iterator (store->engine, cf, NULL);
        for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
            size_t size, value_size;
            const char *key = rocksdb_iter_key (it, &size);
            const char *value = rocksdb_iter_value (it, &value_size);
            if (cf == ZKV_CF_META && zkv_meta_is_own (key, size))
                continue;
            crc = zkv_crc32c (crc, key, size);
            crc = zkv_crc32c (crc, value, value_size);
        }
        rocksdb_iter_destroy (it);
    }
    return crc;
}

//  Hash and HashKV at revisions of the store, with 1 thread and with 4
static void
s_same_with_any_threads (fx_store_t *store, const int64_t *revisions, size_t count)
{
    int64_t compact = zkv_mvcc_compact_revision (store->mvcc);
    zkv_scan_set_threads (1);
    uint32_t alone = s_hash_all (store);
    uint32_t kv_alone [8];
    for (size_t i = 0; i < count; i++)
        kv_alone [i] = s_hash_kv (store, revisions [i], ZKV_KEEP_LIVE, compact);
    zkv_scan_set_threads (4);
    cr_assert_eq (s_hash_all (store), alone);
    for (size_t i = 0; i < count; i++)
        cr_assert_eq (s_hash_kv (store, revisions [i], ZKV_KEEP_LIVE, compact), kv_alone [i],
                      "revision %" PRId64, revisions [i]);
    zkv_scan_set_threads (0);
}

BOTH (hash, in_parts_equals_one_pass)
{
    fx_store_t store;
    fx_new (&store, memory);
    char key [16], value [300];
    for (int i = 0; i < 400; i++) {
        snprintf (key, sizeof key, "k%03d", i % 37);
        memset (value, 'a' + i % 26, sizeof value - 1);
        value [sizeof value - 1 - (size_t) (i % 200)] = 0;
        fx_put (&store, key, value);
        if (i % 50 == 49)
            fx_delete (&store, "k01", "k05");
    }
    int64_t last = zkv_mvcc_revision (store.mvcc);
    cr_assert_eq (s_hash_all (&store), s_hash_one_pass (&store));
    const int64_t revisions [] = { 1, 2, 17, 100, 333, last - 1, last };
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq (s_live (&store, revisions [i]), fx_hash_kv_one_pass (&store, revisions [i]),
                      "revision %" PRId64, revisions [i]);
    s_same_with_any_threads (&store, revisions + 3, 4);
    //  A compaction to 300: while pending, then done
    fx_compact (&store, 300, ZKV_ERR_OK);
    cr_assert_eq (s_hash_all (&store), s_hash_one_pass (&store));
    s_same_with_any_threads (&store, revisions + 4, 3);
    fx_compact_fully (&store);
    cr_assert_eq (s_hash_all (&store), s_hash_one_pass (&store));
    s_same_with_any_threads (&store, revisions + 4, 3);
    fx_destroy (&store);
}
