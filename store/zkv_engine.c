/*  =========================================================================
    zkv_engine.c — RocksDB with zkv's column families (see zkv_engine.h).
    =========================================================================
*/
#include "zkv_engine.h"
#include "zkv_keys.h"
#include "zkv_replace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>

struct zkv_memory_s {
    rocksdb_env_t *env;                 //  RocksDB's in-memory environment
};

struct zkv_engine_s {
    rocksdb_t *db;
    char *path;                         //  the database directory
    rocksdb_options_t *options;         //  database options
    rocksdb_options_t *cf_options [ZKV_CF_COUNT];
    rocksdb_block_based_table_options_t *table_options [ZKV_CF_COUNT];
    rocksdb_cache_t *cache;             //  one block cache for every family
    rocksdb_column_family_handle_t *cf [ZKV_CF_COUNT];
    rocksdb_readoptions_t *read_options;
    rocksdb_writeoptions_t *write_sync; //  WAL fsync'd before returning
    rocksdb_writeoptions_t *write_async;
    rocksdb_env_t *env;                 //  only for the memory medium (not owned)
    rocksdb_env_t *disk_env;            //  the default env, on disk (owned handle)
    zkv_engine_failure_fn *failure;     //  told of failed writes and reads
    void *failure_arg;
    pthread_mutex_t views;              //  held while families are replaced
    bool views_made;                    //  (the mutex was initialised)
    bool replace_finished;              //  opening finished a cut-short replacement
};

static const char *s_cf_names [ZKV_CF_COUNT] = {
    "default", "key", "index", "meta", "alarm", "members", "raft_log"
};

zkv_cf_t
zkv_cf_by_name (const char *name, size_t size)
{
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (strlen (s_cf_names [cf]) == size && memcmp (s_cf_names [cf], name, size) == 0)
            return (zkv_cf_t) cf;
    return ZKV_CF_COUNT;
}

const char *
zkv_cf_name (zkv_cf_t cf)
{
    return cf < ZKV_CF_COUNT? s_cf_names [cf]: "?";
}

zkv_memory_t *
zkv_memory_new (void)
{
    zkv_memory_t *self = (zkv_memory_t *) calloc (1, sizeof (zkv_memory_t));
    if (self)
        self->env = rocksdb_create_mem_env ();
    return self;
}

void
zkv_memory_destroy (zkv_memory_t **self_p)
{
    if (*self_p) {
        rocksdb_env_destroy ((*self_p)->env);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Options of one column family: point lookups in `key` (by revision) and
//  `raft_log` (by index) profit from bloom filters; the index is read by
//  seeks, where a whole-key bloom filter cannot help.
static rocksdb_options_t *
s_cf_options (zkv_engine_t *self, zkv_cf_t cf)
{
    rocksdb_options_t *options = rocksdb_options_create ();
    rocksdb_block_based_table_options_t *table = rocksdb_block_based_options_create ();
    rocksdb_block_based_options_set_block_cache (table, self->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks (table, 1);
    //  The index of a table file in partitions of 4 KiB, under a top level
    //  pinned in the cache: with long keys one index block grew to
    //  megabytes (256-byte keys: 10 MB for 130 MB of keys), larger than a
    //  shard of the cache (64 MiB in 64 shards), so every seek read and
    //  decompressed it again: puts ran 4x slower once the keys were in
    //  table files (75 % of the leader's CPU in snappy and memmove)
    rocksdb_block_based_options_set_index_type (
        table, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_metadata_block_size (table, 4096);
    rocksdb_block_based_options_set_pin_top_level_index_and_filter (table, 1);
    if (cf == ZKV_CF_KEY || cf == ZKV_CF_RAFT_LOG) {
        rocksdb_filterpolicy_t *bloom = rocksdb_filterpolicy_create_bloom_full (10);
        rocksdb_block_based_options_set_filter_policy (table, bloom);
    }
    if (cf == ZKV_CF_KEY || cf == ZKV_CF_INDEX) {
        //  The families every full scan reads (Hash, HashKV, a snapshot):
        //  blocks of 16 KiB (RocksDB's default is 4) and LZ4, which
        //  decompresses about twice as fast as snappy at about its ratio.
        //  A walk pays per block (a seek in the index, a cache lookup, a
        //  decompression call) as much as per record: at 1M keys of 256
        //  bytes, one thread's Hash went 538 -> 422 ms with LZ4, -> 360 ms
        //  with 16 KiB blocks too, and the files shrank (key family 33.6 ->
        //  19.4 MB, index 17.1 -> 14.1 MB). No compression was slower
        //  (684 ms: the walk then reads 9x the bytes) and took 313 MB.
        //  Tables written before keep their format until rewritten.
        rocksdb_block_based_options_set_block_size (table, 16 * 1024);
        rocksdb_options_set_compression (options, rocksdb_lz4_compression);
    }
    rocksdb_options_set_block_based_table_factory (options, table);
    self->table_options [cf] = table;
    if (cf == ZKV_CF_KEY || cf == ZKV_CF_INDEX)
        //  A compaction of the history deletes records one by one, and
        //  every scan (Hash, HashKV, a snapshot, a range) steps over their
        //  RocksDB tombstones until RocksDB compacts them away: after a
        //  million deletions, a 100,000-key HashKV took 6x as long. A
        //  table file written with half of some 1,024 consecutive records
        //  deleted is compacted in the background at once, which drops them
        //  with what they delete. (Deletions that never met what they
        //  delete, in one memtable, can reach the last level by a move and
        //  stay there until a defrag: a few, on a small store.)
        rocksdb_options_add_compact_on_deletion_collector_factory (options, 1024, 512);
    return options;
}

zkv_engine_t *
zkv_engine_open (const char *path, zkv_memory_t *memory, char **error)
{
    zkv_engine_t *self = (zkv_engine_t *) calloc (1, sizeof (zkv_engine_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->path = strdup (path);
    self->views_made = pthread_mutex_init (&self->views, NULL) == 0;
    self->cache = rocksdb_cache_create_lru (64 << 20);
    //  RocksDB allocates the disk it writes, not more: by default it
    //  fallocates a WAL in steps of 64 MB and a compaction's table file in
    //  steps of 70 MB, so the free space of a disk jumped by that much at
    //  a new file, and a step taken just before another write could leave
    //  that write no room. The free-disk guard (zkv_space.h) judges the
    //  free space by what RocksDB will still write; it needs what RocksDB
    //  holds to be what it wrote. (7.8's C API sets this only from text.)
    rocksdb_options_t *base = rocksdb_options_create ();
    self->options = rocksdb_options_create ();
    char *err = NULL;
    rocksdb_get_options_from_string (base, "allow_fallocate=false", self->options, &err);
    rocksdb_options_destroy (base);
    if (err) {
        *error = err;
        zkv_engine_destroy (&self);
        return NULL;
    }
    rocksdb_options_set_create_if_missing (self->options, 1);
    rocksdb_options_set_create_missing_column_families (self->options, 1);
    rocksdb_options_increase_parallelism (self->options, 2);
    rocksdb_options_set_max_background_jobs (self->options, 2);
    rocksdb_options_set_bytes_per_sync (self->options, 1 << 20);
    //  The WAL files are kept until every family with records in them has
    //  flushed, and the small families (meta, members, alarms) fill their
    //  memtables only after months: RocksDB's default bound (four times all
    //  write buffers) let a member keep 730 MB of WAL for 100 MB of data,
    //  and replay it all at a restart. Past 64 MB, RocksDB flushes the
    //  families that hold the oldest WAL file, and deletes it.
    rocksdb_options_set_max_total_wal_size (self->options, 64 << 20);
    //  Table files open at once: at most a quarter of the descriptors the
    //  process may have (the others are for its connections and ZeroMQ:
    //  see zkv_node_main.c), so that the store can always open the files
    //  it writes. Past it RocksDB closes the least used tables.
    struct rlimit files;
    if (getrlimit (RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY
    &&  files.rlim_cur / 4 < 100000)
        rocksdb_options_set_max_open_files (self->options,
                                            files.rlim_cur / 4 < 64? 64: (int) (files.rlim_cur / 4));
    //  RocksDB's default, said out loud: checks at open (every table file
    //  is there, with the size the MANIFEST records) and while running (a
    //  corruption found by a flush or compaction stops writes for good)
    rocksdb_options_set_paranoid_checks (self->options, 1);
    //  A torn last record of the WAL (a crash in the middle of writing it:
    //  it was never synced, so never acknowledged) is dropped; any other
    //  damage refuses to open. RocksDB's default (point in time) would stop
    //  replaying at the first bad record and open without everything after
    //  it, fsync'd raft entries included: acknowledged writes lost in silence.
    rocksdb_options_set_wal_recovery_mode (self->options,
                                           rocksdb_tolerate_corrupted_tail_records_recovery);
    //  RocksDB's own LOG gets only the header it writes at open (its
    //  options): Debian's RocksDB 7.8 is built with assertions, and aborts
    //  the process when it logs again after a failed write of the LOG (a
    //  full disk); zkv logs every error RocksDB returns to it instead
    rocksdb_options_set_info_log_level (self->options, 5);     //  HEADER_LEVEL
    if (memory) {
        self->env = memory->env;
        rocksdb_options_set_env (self->options, self->env);
    }
    else {
        //  Compactions (a defrag's too) run at a lower CPU and I/O priority
        //  than the threads that serve requests and sync the WAL, so that
        //  a long compaction slows writes as little as the machine allows
        self->disk_env = rocksdb_create_default_env ();
        rocksdb_env_lower_thread_pool_cpu_priority (self->disk_env);
        rocksdb_env_lower_thread_pool_io_priority (self->disk_env);
        rocksdb_options_set_env (self->options, self->disk_env);
    }

    const char *names [ZKV_CF_COUNT];
    const rocksdb_options_t *cf_options [ZKV_CF_COUNT];
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        self->cf_options [cf] = s_cf_options (self, (zkv_cf_t) cf);
        names [cf] = s_cf_names [cf];
        cf_options [cf] = self->cf_options [cf];
    }
    //  A database must be opened with every family it has; zkv's own
    //  families are all listed, so any other one means a foreign database.
    size_t existing_count = 0;
    char **existing = rocksdb_list_column_families (self->options, path, &existing_count, &err);
    if (err) {
        rocksdb_free (err);             //  no database yet: it will be created
        err = NULL;
        if (existing)                   //  allocated even on failure
            rocksdb_list_column_families_destroy (existing, existing_count);
    }
    else {
        for (size_t i = 0; i < existing_count; i++) {
            bool known = false;
            for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
                known |= strcmp (existing [i], s_cf_names [cf]) == 0;
            if (!known && !err) {
                size_t size = strlen (existing [i]) + 128;
                err = (char *) malloc (size);
                if (err)
                    snprintf (err, size, "not a zkv database: unknown column family \"%s\"",
                              existing [i]);
            }
        }
        rocksdb_list_column_families_destroy (existing, existing_count);
        if (err) {
            *error = err;
            zkv_engine_destroy (&self);
            return NULL;
        }
    }
    self->db = rocksdb_open_column_families (self->options, path, ZKV_CF_COUNT, names,
                                             cf_options, self->cf, &err);
    if (err) {
        *error = err;
        zkv_engine_destroy (&self);
        return NULL;
    }
    self->read_options = rocksdb_readoptions_create ();
    self->write_sync = rocksdb_writeoptions_create ();
    rocksdb_writeoptions_set_sync (self->write_sync, 1);
    self->write_async = rocksdb_writeoptions_create ();
    //  A replacement of families that a crash cut short is finished before
    //  anybody reads: nobody may see some families replaced and not others
    if (!self->views_made || zkv_replace_recover (self, error)) {
        if (!self->views_made)
            *error = strdup ("out of memory");
        zkv_engine_destroy (&self);
        return NULL;
    }
    return self;
}

void
zkv_engine_set_failure (zkv_engine_t *self, zkv_engine_failure_fn *fn, void *arg)
{
    self->failure = fn;
    self->failure_arg = arg;
}

//  A RocksDB error err of an operation: told to the failure handler (which
//  stops a member), else handed to the caller in *error. Returns -1.
static int
s_failed (zkv_engine_t *self, const char *what, char *err, char **error)
{
    if (self->failure)
        self->failure (self->failure_arg, strncmp (err, "Corruption", 10) == 0, what, err);
    *error = err;
    return -1;
}

int
zkv_engine_iter_error (zkv_engine_t *self, rocksdb_iterator_t *it, char **error)
{
    char *err = NULL;
    rocksdb_iter_get_error (it, &err);
    return err? s_failed (self, "read", err, error): 0;
}

void
zkv_engine_destroy (zkv_engine_t **self_p)
{
    zkv_engine_t *self = *self_p;
    if (!self)
        return;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (self->cf [cf])
            rocksdb_column_family_handle_destroy (self->cf [cf]);
    if (self->db)
        rocksdb_close (self->db);
    free (self->path);
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        if (self->cf_options [cf])
            rocksdb_options_destroy (self->cf_options [cf]);
        if (self->table_options [cf])
            rocksdb_block_based_options_destroy (self->table_options [cf]);
    }
    if (self->options)
        rocksdb_options_destroy (self->options);
    if (self->cache)
        rocksdb_cache_destroy (self->cache);
    if (self->read_options)
        rocksdb_readoptions_destroy (self->read_options);
    if (self->write_sync)
        rocksdb_writeoptions_destroy (self->write_sync);
    if (self->write_async)
        rocksdb_writeoptions_destroy (self->write_async);
    if (self->disk_env)
        rocksdb_env_destroy (self->disk_env);
    if (self->views_made)
        pthread_mutex_destroy (&self->views);
    free (self);
    *self_p = NULL;
}

rocksdb_t *
zkv_engine_db (zkv_engine_t *self)
{
    return self->db;
}

rocksdb_column_family_handle_t *
zkv_engine_cf (zkv_engine_t *self, zkv_cf_t cf)
{
    return self->cf [cf];
}

int
zkv_engine_write (zkv_engine_t *self, rocksdb_writebatch_t *batch, bool sync, char **error)
{
    char *err = NULL;
    rocksdb_write (self->db, sync? self->write_sync: self->write_async, batch, &err);
    return err? s_failed (self, "write", err, error): 0;
}

int
zkv_engine_write_wi (zkv_engine_t *self, rocksdb_writebatch_wi_t *batch, bool sync,
                     char **error)
{
    char *err = NULL;
    rocksdb_write_writebatch_wi (self->db, sync? self->write_sync: self->write_async,
                                 batch, &err);
    return err? s_failed (self, "write", err, error): 0;
}

int
zkv_engine_put (zkv_engine_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                const void *value, size_t value_size, bool sync, char **error)
{
    char *err = NULL;
    rocksdb_put_cf (self->db, sync? self->write_sync: self->write_async, self->cf [cf],
                    (const char *) key, key_size, (const char *) value, value_size, &err);
    return err? s_failed (self, "write", err, error): 0;
}

int
zkv_engine_get (zkv_engine_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                char **value, size_t *value_size, char **error)
{
    char *err = NULL;
    *value = rocksdb_get_cf (self->db, self->read_options, self->cf [cf],
                             (const char *) key, key_size, value_size, &err);
    if (err)
        return s_failed (self, "read", err, error);
    return *value? 1: 0;
}

int
zkv_engine_get_wi (zkv_engine_t *self, rocksdb_writebatch_wi_t *batch, zkv_cf_t cf,
                   const void *key, size_t key_size, char **value, size_t *value_size,
                   char **error)
{
    char *err = NULL;
    *value = rocksdb_writebatch_wi_get_from_batch_and_db_cf (
        batch, self->db, self->read_options, self->cf [cf], (const char *) key, key_size,
        value_size, &err);
    if (err)
        return s_failed (self, "read", err, error);
    return *value? 1: 0;
}

int
zkv_engine_get_u64 (zkv_engine_t *self, zkv_cf_t cf, const char *name, uint64_t *value,
                    char **error)
{
    char *bytes;
    size_t size;
    int found = zkv_engine_get (self, cf, name, strlen (name), &bytes, &size, error);
    if (found <= 0)
        return found;
    if (size != 8) {
        free (bytes);
        size_t room = strlen (name) + 64;
        *error = (char *) malloc (room);
        if (*error)
            snprintf (*error, room, "corrupt record \"%s\" in %s", name, zkv_cf_name (cf));
        return -1;
    }
    *value = zkv_be64_get ((const uint8_t *) bytes);
    free (bytes);
    return 1;
}

int
zkv_engine_put_u64 (zkv_engine_t *self, zkv_cf_t cf, const char *name, uint64_t value,
                    char **error)
{
    uint8_t bytes [8];
    zkv_be64_put (bytes, value);
    return zkv_engine_put (self, cf, name, strlen (name), bytes, 8, true, error);
}

rocksdb_iterator_t *
zkv_engine_iterator (zkv_engine_t *self, zkv_cf_t cf, const rocksdb_snapshot_t *snapshot)
{
    if (!snapshot)
        return rocksdb_create_iterator_cf (self->db, self->read_options, self->cf [cf]);
    rocksdb_readoptions_t *options = zkv_engine_scan_options (snapshot);
    rocksdb_iterator_t *iterator = rocksdb_create_iterator_cf (self->db, options, self->cf [cf]);
    rocksdb_readoptions_destroy (options);  //  the iterator copied what it needs
    return iterator;
}

rocksdb_readoptions_t *
zkv_engine_scan_options (const rocksdb_snapshot_t *snapshot)
{
    rocksdb_readoptions_t *options = rocksdb_readoptions_create ();
    rocksdb_readoptions_set_snapshot (options, snapshot);
    //  A snapshot's reader walks a whole family (Hash, HashKV, a snapshot
    //  file): its blocks go through the cache without pushing out what
    //  requests use, and are read ahead (HashKV of 1M keys: 1.0 -> 0.5 s)
    rocksdb_readoptions_set_fill_cache (options, 0);
    rocksdb_readoptions_set_readahead_size (options, 2 << 20);
    return options;
}

rocksdb_iterator_t *
zkv_engine_iterator_below (zkv_engine_t *self, zkv_cf_t cf, rocksdb_readoptions_t *options,
                           const void *upper, size_t upper_size)
{
    if (upper)
        rocksdb_readoptions_set_iterate_upper_bound (options, (const char *) upper, upper_size);
    return rocksdb_create_iterator_cf (self->db, options, self->cf [cf]);
}

const rocksdb_snapshot_t *
zkv_engine_snapshot (zkv_engine_t *self)
{
    pthread_mutex_lock (&self->views);
    const rocksdb_snapshot_t *snapshot = rocksdb_create_snapshot (self->db);
    pthread_mutex_unlock (&self->views);
    return snapshot;
}

void
zkv_engine_hold_views (zkv_engine_t *self)
{
    pthread_mutex_lock (&self->views);
}

void
zkv_engine_release_views (zkv_engine_t *self)
{
    pthread_mutex_unlock (&self->views);
}

int
zkv_engine_ingest (zkv_engine_t *self, zkv_cf_t cf, const char *const *files, size_t count,
                   char **error)
{
    rocksdb_ingestexternalfileoptions_t *options = rocksdb_ingestexternalfileoptions_create ();
    //  On disk the files are copied, and stay as they were: RocksDB 7.8
    //  writes the sequence number it gives a file into the file itself
    //  (write_global_seqno, which the C API cannot turn off), and refuses to
    //  ingest a file that carries one. A linked file, changed in place, could
    //  never be ingested again if the ingestion were cut short; a copy can.
    //  In memory, where nothing survives a crash, they are moved.
    rocksdb_ingestexternalfileoptions_set_move_files (options, self->env != NULL);
    char *err = NULL;
    rocksdb_ingest_external_file_cf (self->db, self->cf [cf], (const char *const *) files,
                                     count, options, &err);
    rocksdb_ingestexternalfileoptions_destroy (options);
    return err? s_failed (self, "ingest", err, error): 0;
}

void
zkv_engine_snapshot_release (zkv_engine_t *self, const rocksdb_snapshot_t *snapshot)
{
    rocksdb_release_snapshot (self->db, snapshot);
}

uint64_t
zkv_engine_property (zkv_engine_t *self, zkv_cf_t cf, const char *name)
{
    uint64_t value = 0, total = 0;
    if (cf < ZKV_CF_COUNT)
        return rocksdb_property_int_cf (self->db, self->cf [cf], name, &value) == 0? value: 0;
    for (int f = 0; f < ZKV_CF_COUNT; f++)
        if (rocksdb_property_int_cf (self->db, self->cf [f], name, &value) == 0)
            total += value;
    return total;
}

//  Entries in cf's table files and memtables, deletions included, from
//  A count of cf's table files together, from RocksDB's aggregated table
//  properties ("...; # entries=N; # range deletions=M; ..."): name is
//  "# entries=" or "# range deletions="; 0 when RocksDB does not say
static uint64_t
s_table_count (zkv_engine_t *self, zkv_cf_t cf, const char *name)
{
    char *text = rocksdb_property_value_cf (self->db, self->cf [cf],
                                            "rocksdb.aggregated-table-properties");
    const char *at = text? strstr (text, name): NULL;
    uint64_t count = at? strtoull (at + strlen (name), NULL, 10): 0;
    rocksdb_free (text);
    return count;
}

//  Records of cf: its memtables' and its table files'
static uint64_t
s_entries (zkv_engine_t *self, zkv_cf_t cf)
{
    return zkv_engine_property (self, cf, "rocksdb.num-entries-active-mem-table")
         + zkv_engine_property (self, cf, "rocksdb.num-entries-imm-mem-tables")
         + s_table_count (self, cf, "# entries=");
}

//  The bytes of cf (table files and memtables), and the part of them in
//  use: RocksDB's estimate of the keys that remain (entries less what
//  deletions cancel) over all entries
static void
s_family_size (zkv_engine_t *self, zkv_cf_t cf, double *bytes, double *in_use)
{
    *bytes = (double) zkv_engine_property (self, cf, "rocksdb.cur-size-all-mem-tables")
           + (double) zkv_engine_property (self, cf, "rocksdb.total-sst-files-size");
    double entries = (double) s_entries (self, cf);
    double keys = (double) zkv_engine_property (self, cf, "rocksdb.estimate-num-keys");
    double share = entries > 0? keys / entries: 1;
    *in_use = *bytes * (share > 1? 1: share);
}

void
zkv_engine_sizes (zkv_engine_t *self, int64_t *size, int64_t *in_use)
{
    double files = 0, live = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (cf != ZKV_CF_RAFT_LOG) {
            double bytes, used;
            s_family_size (self, (zkv_cf_t) cf, &bytes, &used);
            files += bytes;
            live += used;
        }
    *size = (int64_t) files;
    *in_use = (int64_t) live;
}

void
zkv_engine_low_levels (zkv_engine_t *self, int64_t low [ZKV_CF_COUNT])
{
    memset (low, 0, ZKV_CF_COUNT * sizeof (int64_t));
    const rocksdb_livefiles_t *files = rocksdb_livefiles (self->db);
    int count = files? rocksdb_livefiles_count (files): 0;
    for (int i = 0; i < count; i++) {
        const char *name = rocksdb_livefiles_column_family_name (files, i);
        zkv_cf_t cf = name? zkv_cf_by_name (name, strlen (name)): ZKV_CF_COUNT;
        if (cf < ZKV_CF_COUNT && rocksdb_livefiles_level (files, i) <= 1)
            low [cf] += (int64_t) rocksdb_livefiles_size (files, i);
    }
    if (files)
        rocksdb_livefiles_destroy (files);
}

int64_t
zkv_engine_compaction_bound (zkv_engine_t *self, const int64_t low [ZKV_CF_COUNT])
{
    int64_t bound = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        int64_t next = low [cf] + (int64_t) zkv_engine_property (
            self, (zkv_cf_t) cf, "rocksdb.cur-size-all-mem-tables");
        int64_t pending = (int64_t) zkv_engine_property (
            self, (zkv_cf_t) cf, "rocksdb.estimate-pending-compaction-bytes");
        int64_t family = next > pending? next: pending;
        if (family > bound)
            bound = family;
    }
    return bound;
}

//  The range deletions in cf's table files (the raft log drops compacted
//  entries with one; RocksDB 7.8 counts none in memtables)
static uint64_t
s_range_deletions (zkv_engine_t *self, zkv_cf_t cf)
{
    return s_table_count (self, cf, "# range deletions=");
}

bool
zkv_engine_defrag_frees (zkv_engine_t *self, zkv_cf_t cf)
{
    return cf != ZKV_CF_RAFT_LOG || s_range_deletions (self, cf) > 0;
}

int64_t
zkv_engine_defrag_need (zkv_engine_t *self)
{
    double need = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        if (cf == ZKV_CF_RAFT_LOG)
            continue;                   //  judged at its turn (zkv_defrag.c)
        double bytes, used;
        s_family_size (self, (zkv_cf_t) cf, &bytes, &used);
        if (used > need)
            need = used;
    }
    return (int64_t) need;
}

int
zkv_engine_compact (zkv_engine_t *self, zkv_cf_t cf, char **error)
{
    (void) error;                       //  RocksDB's C API reports no errors here
    rocksdb_compactoptions_t *options = rocksdb_compactoptions_create ();
    //  2 = kForce: rewrite the bottommost level too (its default, 1, skips it)
    rocksdb_compactoptions_set_bottommost_level_compaction (options, 2);
    rocksdb_compactoptions_set_exclusive_manual_compaction (options, 0);
    rocksdb_compact_range_cf_opt (self->db, self->cf [cf], options, NULL, 0, NULL, 0);
    rocksdb_compactoptions_destroy (options);
    return 0;
}

int
zkv_engine_flush_soon (zkv_engine_t *self, zkv_cf_t cf, char **error)
{
    rocksdb_flushoptions_t *options = rocksdb_flushoptions_create ();
    rocksdb_flushoptions_set_wait (options, 0);
    char *err = NULL;
    rocksdb_flush_cf (self->db, options, self->cf [cf], &err);
    rocksdb_flushoptions_destroy (options);
    return err? s_failed (self, "flush", err, error): 0;
}

int
zkv_engine_flush (zkv_engine_t *self, char **error)
{
    rocksdb_flushoptions_t *options = rocksdb_flushoptions_create ();
    rocksdb_flushoptions_set_wait (options, 1);
    char *err = NULL;
    for (int cf = 0; cf < ZKV_CF_COUNT && !err; cf++)
        rocksdb_flush_cf (self->db, options, self->cf [cf], &err);
    rocksdb_flushoptions_destroy (options);
    return err? s_failed (self, "flush", err, error): 0;
}

const char *
zkv_engine_path (zkv_engine_t *self)
{
    return self->path;
}

void
zkv_engine_replace_finished (zkv_engine_t *self)
{
    self->replace_finished = true;
}

bool
zkv_engine_finished_replace (zkv_engine_t *self)
{
    return self->replace_finished;
}

bool
zkv_engine_on_disk (zkv_engine_t *self)
{
    return self->env == NULL;
}

rocksdb_options_t *
zkv_engine_cf_options (zkv_engine_t *self, zkv_cf_t cf)
{
    rocksdb_options_t *options = rocksdb_options_create_copy (self->cf_options [cf]);
    rocksdb_options_set_env (options, self->env? self->env: self->disk_env);
    return options;
}
