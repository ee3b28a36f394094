/*  =========================================================================
    zkv_engine.h — the one RocksDB database of a member, with its column
    families (ARCHITECTURE §5), on disk or on RocksDB's in-memory
    environment: one code path, two media.

    Errors are RocksDB's own text, handed to the caller as a malloc'd
    string in *error (free it with free); functions return 0 or -1.
    The handle is thread-safe, as RocksDB is: storage writes through it,
    other actors read snapshots or compact through it.
    =========================================================================
*/
#ifndef ZKV_ENGINE_H_INCLUDED
#define ZKV_ENGINE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <rocksdb/c.h>

//  The version of the layout of the families (Status storageVersion)
#define ZKV_STORAGE_VERSION "1.0.0"

typedef enum {
    ZKV_CF_DEFAULT,                     //  required by RocksDB; only the marker
                                        //  of a replacement under way (zkv_replace.h)
    ZKV_CF_KEY,                         //  revision key -> KeyValue protobuf
    ZKV_CF_INDEX,                       //  user key + revision -> key state
    ZKV_CF_META,                        //  applied index, revisions, ids
    ZKV_CF_ALARM,                       //  alarm member -> empty
    ZKV_CF_MEMBERS,                     //  member id -> member
    ZKV_CF_RAFT_LOG,                    //  raft entries and hard state
    ZKV_CF_COUNT
} zkv_cf_t;

typedef struct zkv_engine_s zkv_engine_t;
typedef struct zkv_memory_s zkv_memory_t;

//  Called when RocksDB fails a write (a WAL append, a sync, a flush) or
//  any read, with RocksDB's text; damaged is true for a Corruption status
//  (a checksum mismatch, a cut or missing file: the files are not what
//  RocksDB wrote). A member's handler stops it and does not return:
//  retrying a failed write is never safe (the WAL's state is unknown, and
//  RocksDB may have stopped writes for good), and a store that cannot read
//  its own data must not answer for it, nor apply entries the others apply.
typedef void (zkv_engine_failure_fn) (void *arg, bool damaged, const char *what,
                                      const char *error);

//  An in-memory medium. Databases opened on it survive closing and
//  reopening for as long as it lives (tests use this to restart a store).
zkv_memory_t *
    zkv_memory_new (void);

void
    zkv_memory_destroy (zkv_memory_t **self_p);

//  Opens (creating if needed) the database at path, on disk, or in memory
//  when memory is not NULL, and finishes a replacement of families that a
//  crash cut short (zkv_replace.h). A database held by another process
//  fails with RocksDB's lock error.
zkv_engine_t *
    zkv_engine_open (const char *path, zkv_memory_t *memory, char **error);

void
    zkv_engine_destroy (zkv_engine_t **self_p);

//  Sets the handler of failures (see zkv_engine_failure_fn); without one,
//  errors only go back to the caller (tests, offline tools)
void
    zkv_engine_set_failure (zkv_engine_t *self, zkv_engine_failure_fn *fn, void *arg);

//  The error of an iterator of this engine (after it stopped being valid):
//  0, or -1 with RocksDB's text in *error, told to the failure handler
int
    zkv_engine_iter_error (zkv_engine_t *self, rocksdb_iterator_t *it, char **error);

//  The column family name of cf ("key", "index", ...)
const char *
    zkv_cf_name (zkv_cf_t cf);

//  The column family called name (size bytes), or ZKV_CF_COUNT
zkv_cf_t
    zkv_cf_by_name (const char *name, size_t size);

rocksdb_t *
    zkv_engine_db (zkv_engine_t *self);

rocksdb_column_family_handle_t *
    zkv_engine_cf (zkv_engine_t *self, zkv_cf_t cf);

//  Writes a batch atomically across families; sync waits for the WAL fsync
int
    zkv_engine_write (zkv_engine_t *self, rocksdb_writebatch_t *batch, bool sync,
                      char **error);

int
    zkv_engine_write_wi (zkv_engine_t *self, rocksdb_writebatch_wi_t *batch, bool sync,
                         char **error);

//  Writes one value (synced when sync)
int
    zkv_engine_put (zkv_engine_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                    const void *value, size_t value_size, bool sync, char **error);

//  Reads one value: returns 1 and a malloc'd *value (free with free), 0 if
//  absent, -1 on error
int
    zkv_engine_get (zkv_engine_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                    char **value, size_t *value_size, char **error);

//  Reads one value through batch (its writes first, then the database);
//  as zkv_engine_get
int
    zkv_engine_get_wi (zkv_engine_t *self, rocksdb_writebatch_wi_t *batch, zkv_cf_t cf,
                       const void *key, size_t key_size, char **value, size_t *value_size,
                       char **error);

//  An 8-byte big-endian number under name in cf: returns 1 with *value
//  set, 0 if absent, -1 with *error (also for a record of another size)
int
    zkv_engine_get_u64 (zkv_engine_t *self, zkv_cf_t cf, const char *name, uint64_t *value,
                        char **error);

//  Writes one, synced
int
    zkv_engine_put_u64 (zkv_engine_t *self, zkv_cf_t cf, const char *name, uint64_t value,
                        char **error);

//  A new iterator over cf, reading at snapshot when not NULL. A snapshot's
//  iterator is meant for a walk over the whole family: it reads ahead, and
//  leaves the block cache to requests.
rocksdb_iterator_t *
    zkv_engine_iterator (zkv_engine_t *self, zkv_cf_t cf, const rocksdb_snapshot_t *snapshot);

//  The read options of zkv_engine_iterator's walks at snapshot (for
//  zkv_engine_iterator_below); the caller destroys them
rocksdb_readoptions_t *
    zkv_engine_scan_options (const rocksdb_snapshot_t *snapshot);

//  An iterator of cf that ends before upper (upper_size bytes; NULL: no
//  end). RocksDB then never steps over the deleted records past upper,
//  which after a compaction can be a long run of them. options is the
//  caller's (rocksdb_readoptions_create), and it and upper must outlive the
//  iterator: RocksDB keeps pointers to both.
rocksdb_iterator_t *
    zkv_engine_iterator_below (zkv_engine_t *self, zkv_cf_t cf, rocksdb_readoptions_t *options,
                               const void *upper, size_t upper_size);

//  A consistent view of every family, released with _snapshot_release
//  (waits while views are held)
const rocksdb_snapshot_t *
    zkv_engine_snapshot (zkv_engine_t *self);

//  Holds back every new snapshot until _release_views: while families are
//  replaced one after the other (zkv_replace.h), a snapshot would see some
//  of them new and the others old. Snapshots taken before keep their view.
void
    zkv_engine_hold_views (zkv_engine_t *self);

void
    zkv_engine_release_views (zkv_engine_t *self);

//  Ingests count table files (written with zkv_engine_cf_options'
//  options) into cf in one step, their records the family's newest. On
//  disk RocksDB copies them, and they stay as they were, to be ingested
//  again if need be; in memory it moves them (their names are gone).
//  Returns 0, or -1 with *error (told to the failure handler).
int
    zkv_engine_ingest (zkv_engine_t *self, zkv_cf_t cf, const char *const *files,
                       size_t count, char **error);

void
    zkv_engine_snapshot_release (zkv_engine_t *self, const rocksdb_snapshot_t *snapshot);

//  An integer RocksDB property of cf ("rocksdb.live-sst-files-size", ...),
//  or of the whole database summed over families when cf is ZKV_CF_COUNT.
//  Returns 0 for unknown properties.
uint64_t
    zkv_engine_property (zkv_engine_t *self, zkv_cf_t cf, const char *name);

//  The database's size and the part of it in use, from RocksDB's own
//  figures over the families etcd's db file holds (the raft log is etcd's
//  WAL, outside its db). Size: every table file, live or waiting to be
//  deleted, plus the memtables (the memory they took; their contents are
//  in the WAL). In use: that size times, per family, RocksDB's estimate
//  of the keys that remain (rocksdb.estimate-num-keys: entries less what
//  deletions cancel) over the entries stored (the aggregated table
//  properties and the memtables' counts): deleted and compacted data,
//  still on disk until a compaction drops it, is not in use.
void
    zkv_engine_sizes (zkv_engine_t *self, int64_t *size, int64_t *in_use);

//  The bytes of the table files in levels 0 and 1 of each family
//  (RocksDB's list of live files: read it when the files change)
void
    zkv_engine_low_levels (zkv_engine_t *self, int64_t low [ZKV_CF_COUNT]);

//  What the next compaction may write, at most (RocksDB writes a
//  compaction's output before it deletes the input, and runs one at a
//  time): for the family where it is largest, the compaction out of level
//  0 (low: its levels 0 and 1, as zkv_engine_low_levels read them, and the
//  memtables that will flush into level 0) or what RocksDB estimates its
//  pending compactions rewrite (rocksdb.estimate-pending-compaction-bytes),
//  whichever is larger. An estimate from RocksDB's own figures, not a
//  promise: see OPERATIONS.md, "Disk faults".
int64_t
    zkv_engine_compaction_bound (zkv_engine_t *self, const int64_t low [ZKV_CF_COUNT]);

//  True if a compaction of cf may free anything: every family but the
//  raft log, and the raft log while its table files hold a range deletion
//  (of entries raft compacted away; a flush puts the memtables' there)
bool
    zkv_engine_defrag_frees (zkv_engine_t *self, zkv_cf_t cf);

//  What a defragmentation (zkv_engine_flush, then zkv_engine_compact of
//  each family in turn) writes before it drops what it rewrote: the data
//  in use of the largest family but the raft log (as zkv_engine_sizes
//  estimates it), whose compaction the defragmentation judges at its turn
int64_t
    zkv_engine_defrag_need (zkv_engine_t *self);

//  Compacts the whole of cf, rewriting even its bottommost level so that
//  deleted data and tombstones are really dropped. Writes go on meanwhile
//  (the compaction is not exclusive: automatic compactions keep running,
//  so no write stalls behind a long manual one).
int
    zkv_engine_compact (zkv_engine_t *self, zkv_cf_t cf, char **error);

//  Flushes every memtable to SST files
int
    zkv_engine_flush (zkv_engine_t *self, char **error);

//  The directory the database lives in
const char *
    zkv_engine_path (zkv_engine_t *self);

//  False on the memory medium
bool
    zkv_engine_on_disk (zkv_engine_t *self);

//  A copy of cf's options, its table format and the database's medium
//  included (for table files written outside the database); the caller
//  destroys it
rocksdb_options_t *
    zkv_engine_cf_options (zkv_engine_t *self, zkv_cf_t cf);

//  Asks RocksDB to flush cf's memtable in the background, and returns at
//  once: deletions reach a table file, where they can be compacted away
int
    zkv_engine_flush_soon (zkv_engine_t *self, zkv_cf_t cf, char **error);

//  A replacement of families (a snapshot install) is finished in the state
//  but not yet recorded by the raft log: the replacement's last step leaves
//  this key in the `raft_log` family, and the log deletes it as it records
//  the snapshot (zkv_raftlog_install). Opening the database with the key
//  there, or finishing a replacement a stop cut short, sets the flag below:
//  a stop fell between the state and the log, and raft restarts its log
//  after the state's applied index
#define ZKV_ENGINE_REPLACED_KEY "r"

//  Opening the database found a replacement of families the raft log has
//  not recorded (above): the replacement says so, raft asks
void
    zkv_engine_replace_finished (zkv_engine_t *self);
bool
    zkv_engine_finished_replace (zkv_engine_t *self);

#endif
