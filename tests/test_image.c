/*  test_image.c — the snapshot image (store/zkv_image.c): what the writer
    gives (its digest the bytes' SHA-256), the reader takes back record
    for record, whatever the pieces it comes in; the size is exact; damaged images are
    refused; the loader leaves out the old membership and applied index. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mvcc_fixture.h"
#include "zkv_hash.h"
#include "zkv_image.h"
#include "zkv_sha256.h"

//  The whole image of store, in *size bytes (caller frees), and its digest
static uint8_t *
s_image (fx_store_t *store, size_t piece, size_t *size, uint8_t digest [32],
         zkv_image_header_t *header)
{
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (store->engine);
    char *error = NULL;
    zkv_image_writer_t *writer = zkv_image_writer_new (store->engine, snapshot, &error);
    cr_assert_not_null (writer, "%s", error);
    uint64_t expected = zkv_image_writer_size (writer, NULL);
    *header = *zkv_image_writer_header (writer);
    uint8_t *bytes = (uint8_t *) malloc (expected + piece);
    *size = 0;
    ssize_t got;
    while ((got = zkv_image_writer_read (writer, bytes + *size, piece, &error)) > 0)
        *size += (size_t) got;
    cr_assert_eq (got, 0);
    cr_assert_eq (*size, expected, "the image is %zu bytes, its size said %llu", *size,
                  (unsigned long long) expected);
    zkv_image_writer_digest (writer, digest);
    zkv_image_writer_destroy (&writer);
    zkv_engine_snapshot_release (store->engine, snapshot);
    return bytes;
}

typedef struct {
    size_t records;
    uint32_t crc;                       //  over family, key and value of each
} s_seen_t;

static int
s_count (void *arg, zkv_cf_t cf, const void *key, size_t key_size, const void *value,
         size_t value_size, char **error)
{
    (void) error;
    s_seen_t *seen = (s_seen_t *) arg;
    seen->records++;
    seen->crc = (seen->crc * 31 + (uint32_t) cf) ^ (uint32_t) (key_size * 7 + value_size);
    for (size_t i = 0; i < key_size; i++)
        seen->crc = seen->crc * 131 + ((const uint8_t *) key) [i];
    for (size_t i = 0; i < value_size; i++)
        seen->crc = seen->crc * 137 + ((const uint8_t *) value) [i];
    return 0;
}

//  Reads bytes in pieces of piece bytes; returns the reader's verdict
static int
s_read (const uint8_t *bytes, size_t size, size_t piece, s_seen_t *seen, uint8_t digest [32],
        bool *done)
{
    zkv_image_reader_t *reader = zkv_image_reader_new (s_count, seen);
    int rc = 0;
    char *error = NULL;
    for (size_t at = 0; at < size && rc == 0; at += piece)
        rc = zkv_image_reader_feed (reader, bytes + at, size - at < piece? size - at: piece,
                                    &error);
    free (error);
    *done = zkv_image_reader_done (reader);
    zkv_image_reader_destroy (&reader);
    //  The bytes' SHA-256, which the writer's digest must be
    zkv_sha256_t *sha = zkv_sha256_new ();
    zkv_sha256_update (sha, bytes, size);
    zkv_sha256_digest (sha, digest);
    zkv_sha256_destroy (&sha);
    return rc;
}

static void
s_fill (fx_store_t *store)
{
    for (int i = 0; i < 500; i++) {
        char key [32], value [300];
        snprintf (key, sizeof key, "key/%03d", i % 170);
        memset (value, 'a' + i % 26, sizeof value - 1);
        value [i % 290 + 1] = 0;
        fx_put (store, key, value);
    }
    fx_delete (store, "key/1", "key/2");
    fx_compact (store, 300, ZKV_ERR_OK);
    char *error = NULL;
    cr_assert_eq (zkv_engine_put (store->engine, ZKV_CF_MEMBERS, "m1", 2, "member", 6, false,
                                  &error), 0);
}

//  A new store in memory, filled, and its image (4 KiB pieces; free it)
static uint8_t *
s_filled_image (fx_store_t *store, size_t *size, uint8_t digest [32],
                zkv_image_header_t *header)
{
    fx_new (store, true);
    s_fill (store);
    return s_image (store, 4096, size, digest, header);
}

Test (image, written_and_read_back_in_any_pieces)
{
    fx_store_t store;
    fx_new (&store, true);
    s_fill (&store);
    size_t size;
    uint8_t digest [32], read_digest [32];
    zkv_image_header_t header;
    uint8_t *bytes = s_image (&store, 7, &size, digest, &header);
    cr_assert_eq (header.revision, zkv_mvcc_revision (store.mvcc));
    cr_assert_eq (header.compact_revision, 300);
    cr_assert_eq (header.applied_index, zkv_mvcc_applied_index (store.mvcc));
    cr_assert_str_eq (header.storage_version, ZKV_STORAGE_VERSION);
    //  The same bytes whatever the writer's pieces
    size_t other_size;
    uint8_t other_digest [32];
    uint8_t *other = s_image (&store, 65536, &other_size, other_digest, &header);
    cr_assert_eq (other_size, size);
    cr_assert_arr_eq (other, bytes, size);
    cr_assert_arr_eq (other_digest, digest, 32);
    free (other);
    //  The reader sees every record of the carried families, in any pieces
    size_t expected = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        if (!zkv_image_carries ((zkv_cf_t) cf))
            continue;
        rocksdb_iterator_t *it = zkv_engine_iterator (store.engine, (zkv_cf_t) cf, NULL);
        for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it))
            expected++;
        rocksdb_iter_destroy (it);
    }
    s_seen_t first = { 0, 0 };
    const size_t pieces [] = { 1, 3, 1000, size };
    for (int p = 0; p < 4; p++) {
        s_seen_t seen = { 0, 0 };
        bool done;
        cr_assert_eq (s_read (bytes, size, pieces [p], &seen, read_digest, &done), 0);
        cr_assert (done);
        cr_assert_eq (seen.records, expected);
        cr_assert_arr_eq (read_digest, digest, 32);
        if (p)
            cr_assert_eq (seen.crc, first.crc);
        first = seen;
    }
    //  A reader that takes exactly the size, and no more, gets the digest
    //  as well (a snapshot stream ends when its bytes are all sent)
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (store.engine);
    char *error = NULL;
    zkv_image_writer_t *writer = zkv_image_writer_new (store.engine, snapshot, &error);
    uint8_t *exact = (uint8_t *) malloc (size);
    cr_assert_eq (zkv_image_writer_read (writer, exact, size, &error), (ssize_t) size);
    zkv_image_writer_digest (writer, read_digest);
    cr_assert_arr_eq (read_digest, digest, 32);
    free (exact);
    zkv_image_writer_destroy (&writer);
    zkv_engine_snapshot_release (store.engine, snapshot);
    free (bytes);
    fx_destroy (&store);
}

Test (image, damaged_images_are_refused)
{
    fx_store_t store;
    size_t size;
    uint8_t digest [32], read_digest [32];
    zkv_image_header_t header;
    uint8_t *bytes = s_filled_image (&store, &size, digest, &header);
    s_seen_t seen = { 0, 0 };
    bool done;
    //  Cut short: no error, but not done
    cr_assert_eq (s_read (bytes, size - 1, 100, &seen, read_digest, &done), 0);
    cr_assert_not (done);
    //  Bytes after the end
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    memcpy (longer, bytes, size);
    longer [size] = 0xc0;
    cr_assert_eq (s_read (longer, size + 1, 100, &seen, read_digest, &done), -1);
    free (longer);
    //  A bad magic
    bytes [2] ^= 1;
    cr_assert_eq (s_read (bytes, size, 100, &seen, read_digest, &done), -1);
    bytes [2] ^= 1;
    //  A family name changed into one that is not carried ("key" -> "kez")
    uint8_t *name = (uint8_t *) memmem (bytes + 8, size - 8, "\xa3key", 4);
    cr_assert_not_null (name);
    name [3] = 'z';
    cr_assert_eq (s_read (bytes, size, 100, &seen, read_digest, &done), -1);
    free (bytes);
    fx_destroy (&store);
}

//  A record whose header claims four billion elements: refused from its
//  header, before msgpack-c would reserve memory for them (found by
//  fuzz/fuzz_image.c: 128 GiB asked of malloc)
Test (image, a_forged_container_header_is_refused_before_any_allocation)
{
    uint8_t forged [] = { 'Z', 'K', 'V', 'I', 'M', 'G', 0, 1, 0xdd, 0xff, 0xff, 0xff, 0xff };
    s_seen_t seen = { 0, 0 };
    uint8_t read_digest [32];
    bool done;
    cr_assert_eq (s_read (forged, sizeof forged, 100, &seen, read_digest, &done), -1);
    //  And in a record after a valid header: 0x93 (3 items) promised, then
    //  a map32 of four billion entries inside
    fx_store_t store;
    size_t size;
    uint8_t digest [32];
    zkv_image_header_t header;
    uint8_t *bytes = s_filled_image (&store, &size, digest, &header);
    uint8_t *record = (uint8_t *) memmem (bytes + 8, size - 8, "\x93\xa3key", 5);
    cr_assert_not_null (record);
    uint8_t tail [] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
    memcpy (record + 1, tail, sizeof tail);
    cr_assert_eq (s_read (bytes, (size_t) (record - bytes) + 6, 100, &seen, read_digest, &done),
                  -1);
    free (bytes);
    fx_destroy (&store);
}

Test (image, loaded_without_the_old_membership_and_applied_index)
{
    fx_store_t store, target;
    size_t size;
    uint8_t digest [32];
    zkv_image_header_t header;
    uint8_t *bytes = s_filled_image (&store, &size, digest, &header);
    fx_new (&target, true);
    fx_close (&target);
    char *error = NULL;
    target.engine = zkv_engine_open (target.path, target.medium, &error);
    cr_assert_not_null (target.engine);
    zkv_image_loader_t *loader = zkv_image_loader_new (target.engine);
    for (size_t at = 0; at < size; at += 1000)
        cr_assert_eq (zkv_image_loader_feed (loader, bytes + at, size - at < 1000? size - at: 1000,
                                             &error), 0, "%s", error);
    cr_assert_eq (zkv_image_loader_finish (loader, &error), 0, "%s", error);
    zkv_image_loader_destroy (&loader);
    //  The same HashKV and revision, no member, applied index 0
    const rocksdb_snapshot_t *a = zkv_engine_snapshot (store.engine);
    const rocksdb_snapshot_t *b = zkv_engine_snapshot (target.engine);
    zkv_hash_state_t state;
    cr_assert_eq (zkv_hash_state (target.engine, b, &state, &error), 0);
    cr_assert_eq (state.revision, header.revision);
    cr_assert_eq (state.compact_revision, 300);
    cr_assert_eq (state.applied_index, 0);
    uint32_t hash_a, hash_b;
    cr_assert_eq (zkv_hash_kv (store.engine, a, header.revision, 300, ZKV_KEEP_LIVE, &hash_a,
                               &error), 0);
    cr_assert_eq (zkv_hash_kv (target.engine, b, header.revision, 300, ZKV_KEEP_LIVE, &hash_b,
                               &error), 0);
    cr_assert_eq (hash_a, hash_b);
    zkv_engine_snapshot_release (store.engine, a);
    zkv_engine_snapshot_release (target.engine, b);
    char *value = NULL;
    size_t value_size;
    cr_assert_eq (zkv_engine_get (target.engine, ZKV_CF_MEMBERS, "m1", 2, &value, &value_size,
                                  &error), 0);
    //  A loader fed half an image refuses to finish
    zkv_image_loader_t *half = zkv_image_loader_new (target.engine);
    cr_assert_eq (zkv_image_loader_feed (half, bytes, size / 2, &error), 0);
    cr_assert_eq (zkv_image_loader_finish (half, &error), -1);
    free (error);
    zkv_image_loader_destroy (&half);
    free (bytes);
    target.mvcc = zkv_mvcc_new (target.engine, &error);
    fx_destroy (&target);
    fx_destroy (&store);
}
