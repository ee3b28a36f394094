/*  test_engine.c — RocksDB with zkv's families: snapshots, size figures,
    forced compaction, errors with RocksDB's text; the raft log kept in
    them (zkv_raftlog). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkv_bulk.h"
#include "zkv_engine.h"
#include "zkv_raftlog.h"
#include "mvcc_fixture.h"

static char s_dir [64];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/zkv-test-engine-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    char command [128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (command), 0);
}

TestSuite (engine, .init = s_setup, .fini = s_teardown);

static zkv_engine_t *
s_open (const char *name)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    char *error = NULL;
    zkv_engine_t *engine = zkv_engine_open (path, NULL, &error);
    cr_assert_not_null (engine, "%s", error);
    return engine;
}

//  Fills value with size - 1 random letters and a 0: a value that does
//  not compress, so that table files are as large as what was written
static void
s_incompressible (char *value, size_t size, unsigned int *seed)
{
    for (size_t j = 0; j < size - 1; j++)
        value [j] = 'a' + rand_r (seed) % 26;
    value [size - 1] = 0;
}

static void
s_put (zkv_engine_t *engine, zkv_cf_t cf, const char *key, const char *value)
{
    char *error = NULL;
    cr_assert_eq (zkv_engine_put (engine, cf, key, strlen (key), value, strlen (value), false,
                                  &error), 0, "%s", error);
}

Test (engine, families_and_atomic_batches)
{
    zkv_engine_t *engine = s_open ("db");
    cr_assert_str_eq (zkv_cf_name (ZKV_CF_KEY), "key");
    cr_assert_str_eq (zkv_cf_name (ZKV_CF_RAFT_LOG), "raft_log");
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_writebatch_put_cf (batch, zkv_engine_cf (engine, ZKV_CF_KEY), "k", 1, "v", 1);
    rocksdb_writebatch_put_cf (batch, zkv_engine_cf (engine, ZKV_CF_META), "k", 1, "m", 1);
    char *error = NULL;
    cr_assert_eq (zkv_engine_write (engine, batch, true, &error), 0);
    rocksdb_writebatch_destroy (batch);
    char *value;
    size_t size;
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_KEY, "k", 1, &value, &size, &error), 1);
    cr_assert_eq (value [0], 'v');
    free (value);
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_META, "k", 1, &value, &size, &error), 1);
    cr_assert_eq (value [0], 'm');
    free (value);
    //  Families are separate key spaces
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_INDEX, "k", 1, &value, &size, &error), 0);
    zkv_engine_destroy (&engine);
}

Test (engine, snapshots_are_consistent_views)
{
    zkv_engine_t *engine = s_open ("db");
    s_put (engine, ZKV_CF_KEY, "k", "5000");
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (engine);
    s_put (engine, ZKV_CF_KEY, "k", "5001");
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_KEY, snapshot);
    rocksdb_iter_seek_to_first (it);
    cr_assert (rocksdb_iter_valid (it));
    size_t size;
    const char *value = rocksdb_iter_value (it, &size);
    cr_assert_eq (size, 4);
    cr_assert_arr_eq (value, "5000", 4);
    rocksdb_iter_destroy (it);
    zkv_engine_snapshot_release (engine, snapshot);
    zkv_engine_destroy (&engine);
}

Test (engine, sizes_and_forced_compaction)
{
    zkv_engine_t *engine = s_open ("db");
    char key [32], value [128];
    unsigned int seed = 1;
    for (int i = 0; i < 5000; i++) {
        snprintf (key, sizeof key, "k%06d", i);
        s_incompressible (value, sizeof value, &seed);
        s_put (engine, ZKV_CF_KEY, key, value);
    }
    char *error = NULL;
    cr_assert_eq (zkv_engine_flush (engine, &error), 0, "%s", error);
    uint64_t full = zkv_engine_property (engine, ZKV_CF_KEY, "rocksdb.live-sst-files-size");
    cr_assert_gt (full, 5000 * 100 / 4, "live SST size %llu", (unsigned long long) full);
    cr_assert_geq (zkv_engine_property (engine, ZKV_CF_COUNT, "rocksdb.live-sst-files-size"),
                   full);
    cr_assert_eq (zkv_engine_property (engine, ZKV_CF_KEY, "rocksdb.no-such-property"), 0);

    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_writebatch_delete_range_cf (batch, zkv_engine_cf (engine, ZKV_CF_KEY),
                                        "k000000", 7, "k004000", 7);
    cr_assert_eq (zkv_engine_write (engine, batch, false, &error), 0);
    rocksdb_writebatch_destroy (batch);
    cr_assert_eq (zkv_engine_flush (engine, &error), 0);
    cr_assert_eq (zkv_engine_compact (engine, ZKV_CF_KEY, &error), 0);
    uint64_t compacted = zkv_engine_property (engine, ZKV_CF_KEY, "rocksdb.live-sst-files-size");
    cr_assert_lt (compacted, full / 3, "compaction kept %llu of %llu bytes",
                  (unsigned long long) compacted, (unsigned long long) full);
    cr_assert_eq (zkv_engine_property (engine, ZKV_CF_KEY, "rocksdb.estimate-num-keys"), 1000);
    zkv_engine_destroy (&engine);
}

Test (engine, errors_carry_rocksdbs_text)
{
    char path [128];
    snprintf (path, sizeof path, "%s/file", s_dir);
    FILE *file = fopen (path, "w");
    fputs ("not a database", file);
    fclose (file);
    char *error = NULL;
    zkv_engine_t *engine = zkv_engine_open (path, NULL, &error);
    cr_assert_null (engine);
    cr_assert_not_null (error);
    cr_assert_gt (strlen (error), 10, "%s", error);
    free (error);
}

Test (engine, memory_medium_survives_reopen_while_it_lives)
{
    zkv_memory_t *memory = zkv_memory_new ();
    char *error = NULL;
    zkv_engine_t *engine = zkv_engine_open ("/mem/a", memory, &error);
    cr_assert_not_null (engine, "%s", error);
    s_put (engine, ZKV_CF_META, "x", "1");
    zkv_engine_destroy (&engine);
    engine = zkv_engine_open ("/mem/a", memory, &error);
    char *value;
    size_t size;
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_META, "x", 1, &value, &size, &error), 1);
    free (value);
    zkv_engine_destroy (&engine);
    zkv_memory_destroy (&memory);
    //  Nothing reached the disk
    cr_assert_neq (access ("/mem/a", F_OK), 0);
}

//  ---------------------------------------------------------------------
//  The raft log family

static zkv_raftlog_t *
s_raftlog (zkv_engine_t *engine)
{
    char *error = NULL;
    zkv_raftlog_t *log = zkv_raftlog_new (engine, &error);
    cr_assert_not_null (log, "%s", error);
    return log;
}

Test (engine, raft_log_hard_state_and_snapshot_point_survive_reopen)
{
    zkv_engine_t *engine = s_open ("raftlog");
    zkv_raftlog_t *log = s_raftlog (engine);
    cr_assert_eq (zkv_raftlog_last_index (log), 0);
    zkv_entry_t entries [5];
    for (uint64_t i = 0; i < 5; i++)
        entries [i] = (zkv_entry_t) { .index = i + 1, .term = 2, .data = zkv_bin ("x", 1) };
    zkv_hard_state_t hard = { .term = 3, .vote = 77, .commit = 4 };
    char *error = NULL;
    cr_assert_eq (zkv_raftlog_append (log, entries, 5, &hard, true, &error), 0, "%s", error);
    cr_assert_eq (zkv_raftlog_compact (log, 2, 2, &error), 0, "%s", error);
    zkv_raftlog_destroy (&log);
    zkv_engine_destroy (&engine);

    engine = s_open ("raftlog");
    log = s_raftlog (engine);
    zkv_hard_state_t read = zkv_raftlog_hard_state (log);
    cr_assert_eq (read.term, 3);
    cr_assert_eq (read.vote, 77);
    cr_assert_eq (read.commit, 4);
    cr_assert_eq (zkv_raftlog_snapshot_index (log), 2);
    cr_assert_eq (zkv_raftlog_snapshot_term (log), 2);
    cr_assert_eq (zkv_raftlog_first_index (log), 3);
    cr_assert_eq (zkv_raftlog_last_index (log), 5);
    cr_assert_eq (zkv_raftlog_last_term (log), 2);
    zkv_raftlog_destroy (&log);
    zkv_engine_destroy (&engine);
}

Test (engine, raft_log_records_of_the_wrong_size_are_corrupt)
{
    zkv_engine_t *engine = s_open ("corrupt");
    s_put (engine, ZKV_CF_RAFT_LOG, "h", "not 24 bytes");
    char *error = NULL;
    cr_assert_null (zkv_raftlog_new (engine, &error));
    cr_assert_str_eq (error, "corrupt raft hard state");
    free (error);
    zkv_engine_destroy (&engine);

    engine = s_open ("corrupt-point");
    s_put (engine, ZKV_CF_RAFT_LOG, "s", "short");
    error = NULL;
    cr_assert_null (zkv_raftlog_new (engine, &error));
    cr_assert_str_eq (error, "corrupt raft snapshot point");
    free (error);
    zkv_engine_destroy (&engine);
}

//  The number a shell command prints
static long long
s_shell_number (const char *command)
{
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe);
    long long number = -1;
    cr_assert_eq (fscanf (pipe, "%lld", &number), 1, "%s printed no number", command);
    pclose (pipe);
    return number;
}

//  Bytes of the WAL files in the database directory name
static long long
s_wal_bytes (const char *name)
{
    char command [256];
    snprintf (command, sizeof command, "cat '%s/%s'/*.log 2>/dev/null | wc -c", s_dir, name);
    return s_shell_number (command);
}

//  A family written once (meta, members, alarms) must not keep every WAL
//  file since: a member kept 730 MB of WAL for 100 MB of data, and replayed
//  it all at each restart. Past 64 MB, the oldest WAL's families flush.
Test (engine, a_quiet_family_does_not_keep_the_wal)
{
    zkv_engine_t *engine = s_open ("db");
    s_put (engine, ZKV_CF_META, "written", "once");
    char value [4096];
    memset (value, 'v', sizeof value);
    value [sizeof value - 1] = 0;
    char key [32];
    for (int i = 0; i < 30000; i++) {   //  120 MB
        snprintf (key, sizeof key, "%08d", i);
        s_put (engine, ZKV_CF_KEY, key, value);
    }
    fx_wait_until_rocksdb_is_idle (engine);
    long long bytes = s_wal_bytes ("db");
    cr_assert_lt (bytes, 72LL << 20, "%lld bytes of WAL for 120 MB written", bytes);
    zkv_engine_destroy (&engine);
}

//  Table files in the database's staging directory, counted
static long long
s_bulk_files (const char *name)
{
    char command [256];
    snprintf (command, sizeof command, "ls '%s/%s/replace' 2>/dev/null | grep -c 'sst$'", s_dir,
              name);
    return s_shell_number (command);
}

//  A bulk load (snapshot restore) through table files: every record there
//  after finish, and after a reopen; in several files when large
Test (engine, a_bulk_load_ingests_table_files)
{
    zkv_engine_t *engine = s_open ("db");
    zkv_bulk_t *bulk = zkv_bulk_new (engine);
    char *error = NULL;
    char key [32], value [1024];
    memset (value, 'v', sizeof value);
    for (int i = 0; i < 100000; i++) {      //  100 MB: two files and more
        snprintf (key, sizeof key, "%08d", i);
        cr_assert_eq (zkv_bulk_put (bulk, ZKV_CF_KEY, key, 8, value, sizeof value, &error), 0,
                      "%s", error);
        if (i % 1000 == 0)
            cr_assert_eq (zkv_bulk_put (bulk, ZKV_CF_INDEX, key, 8, "i", 1, &error), 0);
    }
    cr_assert_geq (s_bulk_files ("db"), 3);
    cr_assert_eq (zkv_bulk_replace (bulk, ZKV_BULK_FAMILY (ZKV_CF_KEY)
                                        | ZKV_BULK_FAMILY (ZKV_CF_INDEX), &error), 0, "%s", error);
    zkv_bulk_destroy (&bulk);
    cr_assert_eq (s_bulk_files ("db"), 0, "the staged files go once ingested");
    zkv_engine_destroy (&engine);
    engine = s_open ("db");
    char *got = NULL;
    size_t size;
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_KEY, "00099999", 8, &got, &size, &error), 1);
    cr_assert_eq (size, sizeof value);
    free (got);
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_INDEX, "00099000", 8, &got, &size, &error), 1);
    cr_assert_eq (size, 1);
    free (got);
    zkv_engine_destroy (&engine);
}

//  The number of records of cf
static int
s_count (zkv_engine_t *engine, zkv_cf_t cf)
{
    int count = 0;
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, cf, NULL);
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it))
        count++;
    rocksdb_iter_destroy (it);
    return count;
}

//  What the replaced families held goes, wherever it sorts: before the
//  first record, between records of one file, at the seam of two files,
//  past the last record; a family left out keeps its records, and one
//  without a record put is emptied
Test (engine, a_bulk_load_replaces_whole_families)
{
    zkv_engine_t *engine = s_open ("db");
    const char *old [] = { "/", "00000000x", "00000005", "00050000x", "00099999x", "zzz" };
    for (int i = 0; i < 6; i++) {
        s_put (engine, ZKV_CF_KEY, old [i], "old");
        s_put (engine, ZKV_CF_INDEX, old [i], "old");
        s_put (engine, ZKV_CF_META, old [i], "old");
        s_put (engine, ZKV_CF_ALARM, old [i], "old");
    }
    zkv_bulk_t *bulk = zkv_bulk_new (engine);
    char *error = NULL;
    char key [32], value [1024];
    memset (value, 'v', sizeof value);
    for (int i = 0; i < 100000; i++) {      //  100 MB: two files and more
        snprintf (key, sizeof key, "%08d", i);
        cr_assert_eq (zkv_bulk_put (bulk, ZKV_CF_KEY, key, 8, value, sizeof value, &error), 0,
                      "%s", error);
    }
    cr_assert_eq (zkv_bulk_put (bulk, ZKV_CF_INDEX, "00000001", 8, "i", 1, &error), 0);
    cr_assert_eq (zkv_bulk_replace (bulk, ZKV_BULK_FAMILY (ZKV_CF_KEY)
                                        | ZKV_BULK_FAMILY (ZKV_CF_INDEX)
                                        | ZKV_BULK_FAMILY (ZKV_CF_ALARM), &error), 0, "%s", error);
    zkv_bulk_destroy (&bulk);
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq (s_count (engine, ZKV_CF_KEY), 100000);
        cr_assert_eq (s_count (engine, ZKV_CF_INDEX), 1);
        cr_assert_eq (s_count (engine, ZKV_CF_META), 6);
        cr_assert_eq (s_count (engine, ZKV_CF_ALARM), 0);
        char *got = NULL;
        size_t size;
        cr_assert_eq (zkv_engine_get (engine, ZKV_CF_KEY, "00000005", 8, &got, &size, &error), 1);
        cr_assert_eq (size, sizeof value);
        free (got);
        //  The same after the files were compacted, and after a reopen
        cr_assert_eq (zkv_engine_compact (engine, ZKV_CF_KEY, &error), 0);
        zkv_engine_destroy (&engine);
        engine = s_open ("db");
    }
    zkv_engine_destroy (&engine);
}

//  Keys that do not rise (a damaged or forged image) are refused, and the
//  load leaves no file behind
Test (engine, a_bulk_load_refuses_keys_out_of_order)
{
    zkv_engine_t *engine = s_open ("db");
    zkv_bulk_t *bulk = zkv_bulk_new (engine);
    char *error = NULL;
    cr_assert_eq (zkv_bulk_put (bulk, ZKV_CF_KEY, "b", 1, "1", 1, &error), 0);
    cr_assert_eq (zkv_bulk_put (bulk, ZKV_CF_KEY, "a", 1, "2", 1, &error), -1);
    cr_assert_not_null (strstr (error, "key: "), "%s", error);
    free (error);
    cr_assert_eq (s_bulk_files ("db"), 1);
    zkv_bulk_destroy (&bulk);
    cr_assert_eq (s_bulk_files ("db"), 0);
    char *got = NULL;
    size_t size;
    cr_assert_eq (zkv_engine_get (engine, ZKV_CF_KEY, "b", 1, &got, &size, &error), 0);
    cr_assert_null (got);
    zkv_engine_destroy (&engine);
}

//  Table files index their blocks in partitions, so that no index block
//  outgrows a shard of the block cache, whatever the keys' length (with
//  one index block per file, 256-byte keys made index blocks of megabytes,
//  read and decompressed again by every seek)
Test (engine, table_files_have_partitioned_indexes)
{
    zkv_engine_t *engine = s_open ("db");
    char key [300];
    const zkv_cf_t families [] = { ZKV_CF_KEY, ZKV_CF_INDEX, ZKV_CF_RAFT_LOG };
    //  (enough records for more than one partition of the index of the
    //  families with 16 KiB blocks, whose index is 4x smaller)
    for (size_t f = 0; f < sizeof families / sizeof families [0]; f++)
        for (int i = 0; i < 16000; i++) {
            memset (key, 0, sizeof key);
            snprintf (key, sizeof key, "key-%06d", i);
            key [sizeof key - 1] = 'x';
            char *error = NULL;
            cr_assert_eq (zkv_engine_put (engine, families [f], key, sizeof key, "v", 1, false,
                                          &error), 0, "%s", error);
        }
    char *error = NULL;
    cr_assert_eq (zkv_engine_flush (engine, &error), 0, "%s", error);
    for (size_t f = 0; f < sizeof families / sizeof families [0]; f++) {
        char *text = rocksdb_property_value_cf (zkv_engine_db (engine),
                                                zkv_engine_cf (engine, families [f]),
                                                "rocksdb.aggregated-table-properties");
        cr_assert_not_null (text);
        const char *partitions = strstr (text, "# index partitions=");
        cr_assert_not_null (partitions, "no partitioned index in family %d: %s",
                            (int) families [f], text);
        cr_assert_gt (atoi (partitions + strlen ("# index partitions=")), 1, "%s", text);
        rocksdb_free (text);
    }
    zkv_engine_destroy (&engine);
}

//  A defragmentation compacts the raft log only while it holds a range
//  deletion (entries raft compacted away), and never counts it in what it
//  needs before it starts (zkv_defrag.c judges it at its turn): a log of
//  large entries nobody deleted would be rewritten whole for nothing, and
//  could refuse the defragmentation on a full disk
Test (engine, a_defragmentation_leaves_a_raft_log_with_nothing_deleted)
{
    zkv_engine_t *engine = s_open ("db");
    char value [4096];
    unsigned int seed = 1;
    for (int i = 0; i < 200; i++) {
        char key [16];
        snprintf (key, sizeof key, "e%06d", i);
        s_incompressible (value, sizeof value, &seed);
        s_put (engine, ZKV_CF_RAFT_LOG, key, value);
    }
    char *error = NULL;
    cr_assert_eq (zkv_engine_flush (engine, &error), 0, "%s", error);
    cr_assert_not (zkv_engine_defrag_frees (engine, ZKV_CF_RAFT_LOG));
    cr_assert (zkv_engine_defrag_frees (engine, ZKV_CF_KEY));
    cr_assert_lt (zkv_engine_defrag_need (engine), 100 * 4096, "need %lld",
                  (long long) zkv_engine_defrag_need (engine));
    //  Compacted entries, deleted by a range, once flushed into a table file
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_writebatch_delete_range_cf (batch, zkv_engine_cf (engine, ZKV_CF_RAFT_LOG),
                                        "e000000", 7, "e000100", 7);
    cr_assert_eq (zkv_engine_write (engine, batch, false, &error), 0);
    rocksdb_writebatch_destroy (batch);
    cr_assert_eq (zkv_engine_flush (engine, &error), 0, "%s", error);
    cr_assert (zkv_engine_defrag_frees (engine, ZKV_CF_RAFT_LOG));
    cr_assert_lt (zkv_engine_defrag_need (engine), 100 * 4096);
    zkv_engine_destroy (&engine);
}
