/*  test_snapshot.c — raft's snapshot streams (store/zkv_snapshot.c): what
    one store streams out, another installs record for record, over
    whatever state it had, on disk and in memory; the installer holds a
    bounded number of bytes whatever the size of the state; a stream cut
    short, a bad digest, and a crash (a child killed with SIGKILL) at any
    moment of an install leave the old state or the whole new one, never
    a mix, and no file behind once the store is open again.

    The crashes during the switch come from a wrapper of RocksDB's ingest
    (the unit tests are linked with --wrap=rocksdb_ingest_external_file_cf):
    armed in a child, it kills the child before or after the ingest of one
    family. Elsewhere it passes every call on. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvcc_fixture.h"
#include "zkv_crc32c.h"
#include "zkv_raftlog.h"
#include "zkv_snapshot.h"

//  ---------------------------------------------------------------------
//  The ingest wrapper

static int s_ingests;                   //  calls so far, in this process
static int s_crash_at;                  //  the call that kills (0: none)
static bool s_crash_after;              //  ...once RocksDB has done it

void __real_rocksdb_ingest_external_file_cf (
    rocksdb_t *db, rocksdb_column_family_handle_t *handle, const char *const *files,
    const size_t count, const rocksdb_ingestexternalfileoptions_t *options, char **error);

void __wrap_rocksdb_ingest_external_file_cf (
    rocksdb_t *db, rocksdb_column_family_handle_t *handle, const char *const *files,
    const size_t count, const rocksdb_ingestexternalfileoptions_t *options, char **error);

void
__wrap_rocksdb_ingest_external_file_cf (rocksdb_t *db, rocksdb_column_family_handle_t *handle,
                                        const char *const *files, const size_t count,
                                        const rocksdb_ingestexternalfileoptions_t *options,
                                        char **error)
{
    bool crash = ++s_ingests == s_crash_at;
    if (crash && !s_crash_after)
        raise (SIGKILL);
    __real_rocksdb_ingest_external_file_cf (db, handle, files, count, options, error);
    if (crash)
        raise (SIGKILL);
}

//  ---------------------------------------------------------------------
//  Helpers

//  keys puts of value_size bytes (500 to a batch), a range of them
//  deleted and the history compacted, a member and an alarm
static void
s_fill (fx_store_t *store, const char *prefix, int keys, size_t value_size)
{
    char *value = (char *) malloc (value_size + 1);
    for (int i = 0; i < keys; i++) {
        if (i % 500 == 0)
            fx_begin (store);
        char key [64];
        snprintf (key, sizeof key, "%s/%06d", prefix, i);
        memset (value, 'a' + i % 26, value_size);
        value [value_size] = 0;
        zkv_put_t put = { .key = fx_bin (key), .value = fx_bin (value) };
        zkv_put_response_t response;
        zkv_result_t status;
        cr_assert_eq (zkv_mvcc_put (store->mvcc, &put, store->zone, &response, &status), 0);
        if (i % 500 == 499 || i == keys - 1)
            fx_commit (store);
    }
    free (value);
    char from [64], to [64];
    snprintf (from, sizeof from, "%s/%06d", prefix, keys / 3);
    snprintf (to, sizeof to, "%s/%06d", prefix, keys / 3 + 10);
    fx_delete (store, from, to);
    fx_compact (store, zkv_mvcc_revision (store->mvcc) - 5, ZKV_ERR_OK);
    fx_compact_fully (store);
    char *error = NULL;
    cr_assert_eq (zkv_engine_put (store->engine, ZKV_CF_MEMBERS, prefix, strlen (prefix),
                                  "member", 6, false, &error), 0);
    cr_assert_eq (zkv_engine_put (store->engine, ZKV_CF_ALARM, prefix, strlen (prefix), "", 0,
                                  false, &error), 0);
}

//  The old state of a member about to install: other keys, one whose
//  index key sorts past 32 bytes of 0xFF, and its own raft log
static void
s_fill_old (fx_store_t *store)
{
    s_fill (store, "old", 300, 50);
    char beyond [41];
    memset (beyond, 0xff, 40);
    beyond [40] = 0;
    fx_put (store, beyond, "far");
    char *error = NULL;
    cr_assert_eq (zkv_engine_put (store->engine, ZKV_CF_RAFT_LOG, "own", 3, "kept", 4, false,
                                  &error), 0);
}

//  Every record of every family but the raft log (the applied index and
//  term included), hashed; *records counts them
static uint32_t
s_fingerprint (zkv_engine_t *engine, size_t *records)
{
    uint32_t crc = 0;
    *records = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        if (cf == ZKV_CF_RAFT_LOG)
            continue;
        crc = zkv_crc32c (crc, zkv_cf_name ((zkv_cf_t) cf), strlen (zkv_cf_name ((zkv_cf_t) cf)));
        rocksdb_iterator_t *it = zkv_engine_iterator (engine, (zkv_cf_t) cf, NULL);
        for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
            size_t key_size, value_size;
            const char *key = rocksdb_iter_key (it, &key_size);
            const char *value = rocksdb_iter_value (it, &value_size);
            crc = zkv_crc32c (crc, &key_size, sizeof key_size);
            crc = zkv_crc32c (crc, key, key_size);
            crc = zkv_crc32c (crc, &value_size, sizeof value_size);
            crc = zkv_crc32c (crc, value, value_size);
            (*records)++;
        }
        rocksdb_iter_destroy (it);
    }
    return crc;
}

//  Files in the store's staging directory (none when there is none)
static int
s_staged (fx_store_t *store)
{
    char dir [300];
    snprintf (dir, sizeof dir, "%s/replace", store->path);
    DIR *listing = opendir (dir);
    int count = 0;
    struct dirent *entry;
    while (listing && (entry = readdir (listing)))
        count += entry->d_name [0] != '.';
    if (listing)
        closedir (listing);
    return count;
}

//  The heap in use by this thread's arena (the test's; RocksDB's table
//  builders allocate from the thread that calls them)
static size_t
s_heap (void)
{
    struct mallinfo2 info = mallinfo2 ();
    return info.uordblks + info.hblkhd;
}

typedef struct {
    size_t stop;                        //  the chunk not fed (SIZE_MAX: none)
    size_t steps;                       //  of the install, at most (0: all)
    void (*tamper) (zkv_snapshot_chunk_t *chunk);
    bool interleaved;                   //  chunks read as they come, or steps between them
    size_t held;                        //  out: the most the installer held
    size_t heap;                        //  out: the most the heap grew
    size_t chunks;                      //  out: chunks fed
    char *error;                        //  out: the last refusal's
} s_stream_t;

static void
s_measure (zkv_snapshot_in_t *in, s_stream_t *how, size_t base)
{
    size_t held = zkv_snapshot_in_held (in);
    how->held = held > how->held? held: how->held;
    size_t heap = s_heap ();
    if (heap > base && heap - base > how->heap)
        how->heap = heap - base;
}

//  Streams source's state into in, chunk by chunk (with steps between
//  them when how->interleaved), until a feed says other than 0 or the
//  stop, then installs it, in at most how->steps
//  steps: returns the last feed's or step's result (1: installed; 2: the
//  steps ran out). The chunks are all read first, so that the heap
//  measured is the installer's.
static int
s_stream (zkv_engine_t *source, zkv_snapshot_in_t *in, uint64_t stream, s_stream_t *how)
{
    zkv_snapshot_out_t *out = zkv_snapshot_out_new (source, 1, 2, stream);
    cr_assert_not_null (out);
    zkv_snapshot_chunk_t *chunks = NULL;
    uint8_t digest [32];
    size_t count = 0;
    zkv_snapshot_chunk_t chunk;
    while (zkv_snapshot_out_next (out, &chunk)) {
        chunks = (zkv_snapshot_chunk_t *) realloc (chunks, (count + 1) * sizeof chunk);
        void *data = malloc (chunk.data.size + 1);
        memcpy (data, chunk.data.data, chunk.data.size);
        chunk.data = zkv_bin (data, chunk.data.size);
        if (chunk.last) {
            memcpy (digest, chunk.digest.data, sizeof digest);
            chunk.digest = zkv_bin (digest, sizeof digest);
        }
        chunks [count++] = chunk;
    }
    zkv_snapshot_out_destroy (&out);
    size_t base = s_heap ();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count && how->chunks < how->stop; i++) {
        chunk = chunks [i];
        if (how->tamper)
            how->tamper (&chunk);
        //  Interleaved, as the storage actor does: some chunks come with
        //  others behind them (spooled), some alone (read at once if the
        //  spool was read), and steps read the spool between some
        bool backlog = !how->interleaved || i % 4 == 2;
        rc = zkv_snapshot_in_feed (in, &chunk, backlog, &how->error);
        how->chunks++;
        s_measure (in, how, base);
        while (how->interleaved && i % 3 != 1 && rc == 0 && zkv_snapshot_in_has_step (in)) {
            rc = zkv_snapshot_in_step (in, &how->error);
            s_measure (in, how, base);
        }
    }
    for (size_t i = 0; i < count; i++)
        free ((void *) chunks [i].data.data);
    free (chunks);
    //  Received whole: installed step by step (the last step swaps the
    //  files in, and its heap is RocksDB's ingest, not the installer's)
    size_t steps = how->steps? how->steps: SIZE_MAX;
    for (size_t step = 0; rc == 1 && step < steps; step++) {
        rc = zkv_snapshot_in_step (in, &how->error);
        if (rc == 0) {
            s_measure (in, how, base);
            rc = 1;
        }
        else
        if (rc == 1)
            break;
    }
    return rc == 1 && zkv_snapshot_in_installing (in)? 2: rc;
}

//  ---------------------------------------------------------------------
//  Installing

static void
s_installs_record_for_record (bool memory, bool interleaved)
{
    fx_store_t source, target;
    fx_new (&source, memory);
    s_fill (&source, "key", 6000, 300);
    fx_new (&target, memory);
    s_fill_old (&target);
    zkv_snapshot_in_t *in = zkv_snapshot_in_new (target.engine);
    s_stream_t how = { .stop = SIZE_MAX, .interleaved = interleaved };
    cr_assert_eq (s_stream (source.engine, in, 1, &how), 1, "%s", how.error);
    cr_assert_gt (how.chunks, 1);
    size_t records, expected;
    uint32_t want = s_fingerprint (source.engine, &expected);
    cr_assert_eq (s_fingerprint (target.engine, &records), want,
                  "installed %zu records, the source has %zu", records, expected);
    cr_assert_eq (s_staged (&target), 0);
    //  Its own raft log stays
    char *value = NULL, *error = NULL;
    size_t size;
    cr_assert_eq (zkv_engine_get (target.engine, ZKV_CF_RAFT_LOG, "own", 3, &value, &size,
                                  &error), 1);
    free (value);
    //  The same after a restart, the source's applied index and revision
    fx_close (&target);
    fx_open (&target);
    cr_assert_eq (s_fingerprint (target.engine, &records), want);
    cr_assert_eq (zkv_mvcc_applied_index (target.mvcc), zkv_mvcc_applied_index (source.mvcc));
    cr_assert_eq (zkv_mvcc_revision (target.mvcc), zkv_mvcc_revision (source.mvcc));
    //  And again over the installed state, which has changed meanwhile
    fx_put (&source, "key/new", "value");
    fx_delete (&source, "key/000000", "key/000100");
    fx_put (&target, "key/000001", "changed");
    zkv_snapshot_in_destroy (&in);
    in = zkv_snapshot_in_new (target.engine);
    s_stream_t again = { .stop = SIZE_MAX, .interleaved = interleaved };
    cr_assert_eq (s_stream (source.engine, in, 2, &again), 1, "%s", again.error);
    cr_assert_eq (s_fingerprint (target.engine, &records), s_fingerprint (source.engine,
                                                                          &expected));
    zkv_snapshot_in_destroy (&in);
    fx_destroy (&target);
    fx_destroy (&source);
}

Test (snapshot, installed_record_for_record_on_disk)
{
    s_installs_record_for_record (false, false);
}

Test (snapshot, installed_record_for_record_in_memory)
{
    s_installs_record_for_record (true, false);
}

//  As the storage actor does: what came is read into table files while
//  the rest comes
Test (snapshot, read_as_it_comes_installed_record_for_record_on_disk)
{
    s_installs_record_for_record (false, true);
}

Test (snapshot, read_as_it_comes_installed_record_for_record_in_memory)
{
    s_installs_record_for_record (true, true);
}

//  What the installer holds itself stays under 4 MiB, and the heap grows
//  by less than 10 MiB while a stream comes, for a state of 2 MB as for
//  one of 32 MB (which one write batch held whole). The heap's bound: the
//  step's buffer (1 MiB), the reader's (2 MiB) and RocksDB's table builders
//  (a write buffer of up to 1 MiB for each of the five families, an index
//  and a filter). (Under AddressSanitizer glibc's heap is not used: there
//  the installer's own count alone is checked.)
Test (snapshot, the_installer_holds_a_bound_whatever_the_state)
{
    const int keys [] = { 2000, 32000 };
    for (int i = 0; i < 2; i++) {
        fx_store_t source, target;
        fx_new (&source, false);
        s_fill (&source, "key", keys [i], 1000);
        fx_new (&target, false);
        zkv_snapshot_in_t *in = zkv_snapshot_in_new (target.engine);
        s_stream_t how = { .stop = SIZE_MAX, .interleaved = i == 1 };
        cr_assert_eq (s_stream (source.engine, in, 1, &how), 1, "%s", how.error);
        fprintf (stderr, "%d keys, %zu chunks%s: held at most %zu bytes, heap grew %zu\n",
                 keys [i], how.chunks, how.interleaved? " read as they came": "", how.held,
                 how.heap);
        cr_assert_lt (how.held, 4 << 20, "%d keys: the installer held %zu bytes", keys [i],
                      how.held);
        cr_assert_lt (how.heap, 10 << 20, "%d keys (%zu chunks): the heap grew by %zu bytes",
                      keys [i], how.chunks, how.heap);
        zkv_snapshot_in_destroy (&in);
        fx_destroy (&target);
        fx_destroy (&source);
    }
}

//  ---------------------------------------------------------------------
//  Refusals: the old state, no file left

typedef struct {
    fx_store_t source, target;
    uint32_t before;                    //  the target's fingerprint
    uint64_t applied;                   //  ...and applied index
    zkv_snapshot_in_t *in;
} s_pair_t;

//  A source of keys keys of 1000 bytes (3000: three chunks and more), and
//  a target with an old state
static void
s_pair_new (s_pair_t *pair, bool memory, int keys)
{
    fx_new (&pair->source, memory);
    s_fill (&pair->source, "key", keys, 1000);
    fx_new (&pair->target, memory);
    s_fill_old (&pair->target);
    size_t records;
    pair->before = s_fingerprint (pair->target.engine, &records);
    pair->applied = zkv_mvcc_applied_index (pair->target.mvcc);
    pair->in = zkv_snapshot_in_new (pair->target.engine);
}

//  The target as it was, without a staged file
static void
s_pair_unchanged (s_pair_t *pair)
{
    size_t records;
    cr_assert_eq (s_fingerprint (pair->target.engine, &records), pair->before);
    if (!pair->target.memory)
        cr_assert_eq (s_staged (&pair->target), 0);
}

static void
s_pair_destroy (s_pair_t *pair)
{
    zkv_snapshot_in_destroy (&pair->in);
    fx_destroy (&pair->target);
    fx_destroy (&pair->source);
}

static void
s_cut_short (bool memory)
{
    s_pair_t pair;
    s_pair_new (&pair, memory, 3000);
    s_stream_t how = { .stop = 2, .interleaved = true };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 1, &how), 0);
    if (!memory)
        cr_assert_gt (s_staged (&pair.target), 0, "the records went to disk as they came");
    zkv_snapshot_in_destroy (&pair.in);
    s_pair_unchanged (&pair);
    //  A stream given up for a new one: the new one is installed
    pair.in = zkv_snapshot_in_new (pair.target.engine);
    s_stream_t first = { .stop = 2 }, second = { .stop = SIZE_MAX };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 1, &first), 0);
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 2, &second), 1, "%s", second.error);
    size_t records;
    cr_assert_eq (s_fingerprint (pair.target.engine, &records),
                  s_fingerprint (pair.source.engine, &records));
    s_pair_destroy (&pair);
}

//  A stream that comes while another is installed (the leader sending
//  again what it has not heard installed) is refused; the install goes on
Test (snapshot, another_stream_waits_for_the_install_under_way)
{
    s_pair_t pair;
    s_pair_new (&pair, false, 3000);
    s_stream_t first = { .stop = SIZE_MAX, .steps = 2 };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 1, &first), 2, "%s", first.error);
    fx_put (&pair.source, "key/later", "value");
    s_stream_t second = { .stop = SIZE_MAX };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 2, &second), -1);
    cr_assert_not_null (strstr (second.error, "installing another"), "%s", second.error);
    free (second.error);
    char *error = NULL;
    int rc;
    while ((rc = zkv_snapshot_in_step (pair.in, &error)) == 0)
        ;
    cr_assert_eq (rc, 1, "%s", error);
    fx_close (&pair.target);
    fx_open (&pair.target);
    cr_assert_eq (zkv_mvcc_revision (pair.target.mvcc), zkv_mvcc_revision (pair.source.mvcc) - 1,
                  "the first stream's state, without the put after it");
    s_pair_destroy (&pair);
}

Test (snapshot, a_stream_cut_short_changes_nothing_on_disk)
{
    s_cut_short (false);
}

Test (snapshot, a_stream_cut_short_changes_nothing_in_memory)
{
    s_cut_short (true);
}

static void
s_bad_digest (zkv_snapshot_chunk_t *chunk)
{
    static uint8_t digest [32];
    if (!chunk->last)
        return;
    memcpy (digest, chunk->digest.data, sizeof digest);
    digest [7] ^= 1;
    chunk->digest = zkv_bin (digest, sizeof digest);
}

//  One byte of a value, in the second chunk, changed on the way
static void
s_bad_byte (zkv_snapshot_chunk_t *chunk)
{
    static uint8_t *data;
    if (chunk->seq != 1)
        return;
    data = (uint8_t *) realloc (data, chunk->data.size);
    memcpy (data, chunk->data.data, chunk->data.size);
    uint8_t *value = (uint8_t *) memmem (data, chunk->data.size, "kkkkkkkk", 8);
    cr_assert_not_null (value);
    value [3] = 'K';
    chunk->data = zkv_bin (data, chunk->data.size);
}

static void
s_refused (bool memory, void (*tamper) (zkv_snapshot_chunk_t *), const char *why,
           bool interleaved)
{
    s_pair_t pair;
    s_pair_new (&pair, memory, 3000);
    s_stream_t how = { .stop = SIZE_MAX, .tamper = tamper, .interleaved = interleaved };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 1, &how), -1);
    cr_assert_not_null (strstr (how.error, why), "%s", how.error);
    free (how.error);
    s_pair_unchanged (&pair);
    //  Out of order: a chunk missing
    s_stream_t skipped = { .stop = 1 }, rest = { .stop = SIZE_MAX };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 2, &skipped), 0);
    zkv_snapshot_out_t *out = zkv_snapshot_out_new (pair.source.engine, 1, 2, 2);
    zkv_snapshot_chunk_t chunk;
    cr_assert (zkv_snapshot_out_next (out, &chunk));
    cr_assert (zkv_snapshot_out_next (out, &chunk));
    cr_assert (zkv_snapshot_out_next (out, &chunk));
    cr_assert_eq (zkv_snapshot_in_feed (pair.in, &chunk, false, &rest.error), -1);
    cr_assert_not_null (strstr (rest.error, "out of order"), "%s", rest.error);
    free (rest.error);
    zkv_snapshot_out_destroy (&out);
    s_pair_unchanged (&pair);
    s_pair_destroy (&pair);
}

Test (snapshot, a_bad_digest_changes_nothing_on_disk)
{
    s_refused (false, s_bad_digest, "digest mismatch", false);
}

Test (snapshot, a_bad_digest_changes_nothing_in_memory)
{
    s_refused (true, s_bad_digest, "digest mismatch", false);
}

Test (snapshot, a_changed_byte_changes_nothing)
{
    s_refused (false, s_bad_byte, "digest mismatch", false);
}

//  Read into table files as it came, then refused at its last chunk:
//  those files go, nothing was replaced
Test (snapshot, a_bad_digest_read_as_it_came_changes_nothing)
{
    s_refused (false, s_bad_digest, "digest mismatch", true);
    s_refused (true, s_bad_digest, "digest mismatch", true);
}

Test (snapshot, a_changed_byte_read_as_it_came_changes_nothing)
{
    s_refused (false, s_bad_byte, "digest mismatch", true);
}

//  ---------------------------------------------------------------------
//  Crashes (on disk: the memory medium dies with its process)

//  In a child: opens both stores again, arms the wrapper, streams (the
//  first stop chunks, or all of them, and steps of the install) and dies
//  by SIGKILL
static void
s_crash (s_pair_t *pair, size_t stop, size_t steps, int crash_at, bool after)
{
    zkv_snapshot_in_destroy (&pair->in);
    fx_close (&pair->target);
    fx_close (&pair->source);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        char *error = NULL;
        zkv_engine_t *source = zkv_engine_open (pair->source.path, NULL, &error);
        zkv_engine_t *target = zkv_engine_open (pair->target.path, NULL, &error);
        if (!source || !target)
            _exit (1);
        s_ingests = 0;
        s_crash_at = crash_at;
        s_crash_after = after;
        zkv_snapshot_in_t *in = zkv_snapshot_in_new (target);
        s_stream_t how = { .stop = stop, .steps = steps };
        s_stream (source, in, 1, &how);
        if (crash_at)
            _exit (3);                  //  the wrapper should have killed it
        raise (SIGKILL);
    }
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
               "the child ended otherwise (status %d)", status);
    fx_open (&pair->source);
}

//  Killed while the stream comes (its bytes spooled), then while it is
//  installed (table files written, not swapped in yet): the next open has
//  the old state, and no file left
Test (snapshot, a_crash_before_the_switch_leaves_the_old_state)
{
    const size_t stops [] = { 2, SIZE_MAX }, steps [] = { 0, 3 };
    for (int i = 0; i < 2; i++) {
        s_pair_t pair;
        s_pair_new (&pair, false, 3000);
        s_crash (&pair, stops [i], steps [i], 0, false);
        cr_assert_gt (s_staged (&pair.target), i, "the child wrote files");
        fx_open (&pair.target);
        s_pair_unchanged (&pair);       //  and the files are gone
        cr_assert_eq (zkv_mvcc_applied_index (pair.target.mvcc), pair.applied);
        s_pair_destroy (&pair);
    }
}

//  Killed before the ingest of the first family (the marker alone), of
//  the third, of the last, and after the third and the last (all of them
//  in, the marker still there): the next open has the whole new state,
//  with its applied index, and ingested every family again
Test (snapshot, a_crash_while_the_families_are_replaced_is_finished_at_the_next_open)
{
    struct {
        int at;
        bool after;
    } crashes [] = {
        { 1, false }, { 3, false }, { 5, false }, { 3, true }, { 5, true }
    };
    for (size_t i = 0; i < sizeof crashes / sizeof crashes [0]; i++) {
        s_pair_t pair;
        s_pair_new (&pair, false, 500);
        s_crash (&pair, SIZE_MAX, 0, crashes [i].at, crashes [i].after);
        int ingests = s_ingests;
        fx_open (&pair.target);
        cr_assert_eq (s_ingests - ingests, 5, "the open finished the replacement");
        size_t records, expected;
        cr_assert_eq (s_fingerprint (pair.target.engine, &records),
                      s_fingerprint (pair.source.engine, &expected),
                      "killed at ingest %d%s: %zu records, the source has %zu",
                      crashes [i].at, crashes [i].after? " (after)": "", records, expected);
        cr_assert_eq (zkv_mvcc_applied_index (pair.target.mvcc),
                      zkv_mvcc_applied_index (pair.source.mvcc));
        cr_assert_eq (s_staged (&pair.target), 0);
        s_pair_destroy (&pair);
    }
}

//  Killed once the install is whole, before raft recorded it in its log:
//  the next open knows (raft restarts its log after the state then); once
//  the log recorded the snapshot, or settled it when there is nothing to
//  record, it is forgotten
Test (snapshot, an_install_the_raft_log_did_not_record_is_known_at_the_next_open)
{
    for (int settle = 0; settle < 2; settle++) {
        s_pair_t pair;
        s_pair_new (&pair, false, 500);
        cr_assert (!zkv_engine_finished_replace (pair.target.engine));
        s_crash (&pair, SIZE_MAX, 0, 0, false);
        fx_open (&pair.target);
        cr_assert_eq (zkv_mvcc_applied_index (pair.target.mvcc),
                      zkv_mvcc_applied_index (pair.source.mvcc), "the install was whole");
        cr_assert (zkv_engine_finished_replace (pair.target.engine),
                   "the open knows the log did not record the install");
        char *error = NULL;
        zkv_raftlog_t *log = zkv_raftlog_new (pair.target.engine, &error);
        cr_assert_not_null (log, "%s", error);
        int rc = settle? zkv_raftlog_settle_replace (log, &error)
                       : zkv_raftlog_install (log, zkv_mvcc_applied_index (pair.target.mvcc),
                                              1, &error);
        cr_assert_eq (rc, 0, "%s", error);
        zkv_raftlog_destroy (&log);
        fx_close (&pair.target);
        fx_open (&pair.target);
        cr_assert (!zkv_engine_finished_replace (pair.target.engine));
        s_pair_destroy (&pair);
    }
}

//  An install dropped in the middle (storage drops one that raft went
//  past while it came) leaves the state as it was, and the next comes in
Test (snapshot, an_install_cancelled_changes_nothing_and_the_next_goes_in)
{
    s_pair_t pair;
    s_pair_new (&pair, false, 3000);
    s_stream_t first = { .stop = SIZE_MAX, .steps = 2 };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 1, &first), 2, "%s", first.error);
    cr_assert_gt (zkv_snapshot_in_index (pair.in), 0);
    zkv_snapshot_in_cancel (pair.in);
    cr_assert_eq (zkv_snapshot_in_index (pair.in), 0);
    cr_assert (!zkv_snapshot_in_installing (pair.in));
    s_pair_unchanged (&pair);
    s_stream_t second = { .stop = SIZE_MAX };
    cr_assert_eq (s_stream (pair.source.engine, pair.in, 2, &second), 1, "%s", second.error);
    s_pair_destroy (&pair);
}
