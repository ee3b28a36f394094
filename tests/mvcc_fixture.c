/*  mvcc_fixture.c — an MVCC store under test (see mvcc_fixture.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvcc_fixture.h"
#include "zkv_crc32c.h"
#include "zkv_keys.h"

void
fx_open (fx_store_t *store)
{
    char *error = NULL;
    store->engine = zkv_engine_open (store->path, store->medium, &error);
    cr_assert_not_null (store->engine, "open: %s", error);
    store->mvcc = zkv_mvcc_new (store->engine, &error);
    cr_assert_not_null (store->mvcc, "mvcc: %s", error);
    store->index = zkv_mvcc_applied_index (store->mvcc) + 1;
}

void
fx_close (fx_store_t *store)
{
    zkv_mvcc_destroy (&store->mvcc);
    zkv_engine_destroy (&store->engine);
}

void
fx_new (fx_store_t *store, bool memory)
{
    memset (store, 0, sizeof *store);
    store->memory = memory;
    if (memory) {
        store->medium = zkv_memory_new ();
        snprintf (store->path, sizeof store->path, "/mem/test");
    }
    else {
        snprintf (store->path, sizeof store->path, "/tmp/zkv-test-mvcc-XXXXXX");
        cr_assert_not_null (mkdtemp (store->path));
    }
    store->zone = msgpack_zone_new (8192);
    fx_open (store);
}

void
fx_destroy (fx_store_t *store)
{
    fx_close (store);
    msgpack_zone_free (store->zone);
    if (store->memory)
        zkv_memory_destroy (&store->medium);
    else {
        char command [300];
        snprintf (command, sizeof command, "rm -rf '%s'", store->path);
        cr_assert_eq (system (command), 0);
    }
}

zkv_bin_t
fx_bin (const char *text)
{
    return zkv_bin (text, strlen (text));
}

void
fx_begin (fx_store_t *store)
{
    zkv_mvcc_begin (store->mvcc);
}

void
fx_commit (fx_store_t *store)
{
    char *error = NULL;
    cr_assert_eq (zkv_mvcc_commit (store->mvcc, store->index, 1, &error), 0, "%s", error);
    store->index++;
}

//  Put in a batch of its own; returns the response header revision
int64_t
fx_put (fx_store_t *store, const char *key, const char *value)
{
    zkv_put_t put = { .key = fx_bin (key), .value = fx_bin (value) };
    zkv_put_response_t response;
    zkv_result_t status;
    fx_begin (store);
    cr_assert_eq (zkv_mvcc_put (store->mvcc, &put, store->zone, &response, &status), 0);
    fx_commit (store);
    return response.header->revision;
}

int64_t
fx_delete (fx_store_t *store, const char *key, const char *end)
{
    zkv_delete_range_t del = { .key = fx_bin (key), .range_end = fx_bin (end? end: "") };
    if (end && !*end)
        del.range_end = zkv_bin ("", 1);    //  "\0": from key on
    zkv_delete_range_response_t response;
    zkv_result_t status;
    fx_begin (store);
    cr_assert_eq (zkv_mvcc_delete_range (store->mvcc, &del, store->zone, &response, &status), 0);
    fx_commit (store);
    return response.deleted;
}

void
fx_compact (fx_store_t *store, int64_t revision, zkv_err_t expected)
{
    zkv_compact_t compact = { .revision = revision };
    zkv_compact_response_t response;
    zkv_result_t status;
    fx_begin (store);
    zkv_mvcc_compact (store->mvcc, &compact, store->zone, &response, &status);
    cr_assert_eq (status.err, expected);
    fx_commit (store);
}

void
fx_compact_fully (fx_store_t *store)
{
    char *error = NULL;
    while (zkv_mvcc_compaction_pending (store->mvcc))
        cr_assert_eq (zkv_mvcc_compact_step (store->mvcc, 2, &error), 0, "%s", error);
}


void
fx_wait_until_rocksdb_is_idle (zkv_engine_t *engine)
{
    static const char *busy [] = {
        "rocksdb.mem-table-flush-pending", "rocksdb.num-running-flushes",
        "rocksdb.compaction-pending", "rocksdb.num-running-compactions"
    };
    size_t count = sizeof busy / sizeof busy [0];
    for (size_t i = 0; i < count; i++)
        if (zkv_engine_property (engine, ZKV_CF_COUNT, busy [i])) {
            usleep (1000);
            i = (size_t) -1;            //  all four again, from the first
        }
}

uint32_t
fx_hash_kv_one_pass (fx_store_t *store, int64_t revision)
{
    uint32_t crc = zkv_crc32c (0, "key", 3);
    rocksdb_iterator_t *it = zkv_engine_iterator (store->engine, ZKV_CF_KEY, NULL);
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
        size_t size, value_size;
        const uint8_t *key = (const uint8_t *) rocksdb_iter_key (it, &size);
        const char *value = rocksdb_iter_value (it, &value_size);
        zkv_rev_t rev = { 0, 0 };
        bool tombstone = false;
        cr_assert_eq (zkv_revkey_decode (key, size, &rev, &tombstone), 0);
        if (rev.main > revision)
            break;                      //  the key family is in revision order
        crc = zkv_crc32c (crc, key, size);
        crc = zkv_crc32c (crc, value, value_size);
    }
    rocksdb_iter_destroy (it);
    return crc;
}
