/*  =========================================================================
    zkv_space.h — the free-disk guard of a member: the room its disk
    really has, and the reserve file that keeps some of it for the moment
    that room runs short (docs/OPERATIONS.md, "Disk faults").

    Room = what statvfs says may still be written on the data directory's
    filesystem, less what the member already owes it:
      - what RocksDB will still write for the data it holds: its memtables
        (a flush writes them out) and the next compaction at most
        (zkv_engine_compaction_bound);
      - the part of the reserve file that is not on disk (the member makes
        it again once its NOSPACE is disarmed: room it must get back first);
      - what the caller said it wrote since the last measure
        (zkv_space_wrote), and, when it asks, what it is about to write
        (zkv_space_fits).
    The member raises its NOSPACE when the room would fall under
    --min-free-disk-bytes.

    The reserve: <data-dir>/reserve, --disk-reserve-bytes of real blocks
    (posix_fallocate, fsync'd), made at start and again whenever the
    member's NOSPACE is not raised and the room allows it; released
    (deleted) the moment a guard finds the room short, so that what was
    already on its way, the alarm's own entry, flushes, compactions and a
    defragmentation find its space free. The alarm actor alone makes it;
    any guard that trips releases it.

    Each actor that checks has a guard of its own (it measures and
    caches); the file is all they share. No clock here: callers pass the
    time, in msecs of a monotonic clock.
    =========================================================================
*/
#ifndef ZKV_SPACE_H_INCLUDED
#define ZKV_SPACE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_engine.h"

//  A measure is used for so long, or until so many bytes were written
//  since (statvfs and RocksDB's properties cost some microseconds: not for
//  every small write)
#define ZKV_SPACE_MEASURE_MSECS 10
#define ZKV_SPACE_MEASURE_BYTES (8 << 20)

//  What a write of n bytes costs a member's disk before RocksDB drops the
//  WAL files that hold it: its record in the raft log (the WAL, then a
//  table file of the raft_log family), then its apply (the WAL again,
//  then a table file of the key family). n times ZKV_SPACE_PROPOSED from
//  the moment it is proposed, ZKV_SPACE_APPENDED once it is in the raft log.
#define ZKV_SPACE_PROPOSED 4
#define ZKV_SPACE_APPENDED 2

//  The reserve file's name, in the data directory
#define ZKV_SPACE_RESERVE "reserve"

typedef struct {
    const char *data_dir;               //  NULL: no disk (the memory engine)
    int64_t min_free;                   //  --min-free-disk-bytes (<= 0: off)
    int64_t reserve;                    //  --disk-reserve-bytes (<= 0: none)
} zkv_space_config_t;

//  The figures of the last measure, in bytes
typedef struct {
    int64_t free;                       //  statvfs: what may still be written
    int64_t memtables;                  //  RocksDB's, to be flushed
    int64_t compaction;                 //  the next compaction, at most
    int64_t reserve_missing;            //  the reserve's bytes not on disk
    int64_t written;                    //  told by the caller since
} zkv_space_view_t;

typedef struct zkv_space_s zkv_space_t;

//  A guard for the member whose database is engine (config is copied)
zkv_space_t *
    zkv_space_new (zkv_engine_t *engine, const zkv_space_config_t *config);

void
    zkv_space_destroy (zkv_space_t **self_p);

//  True if the guard is on: a data directory, and a min_free above 0
bool
    zkv_space_enabled (zkv_space_t *self);

//  Measures now. Returns 0, or -1 with the reason in *error (malloc'd):
//  the figures of the last measure then stand.
int
    zkv_space_measure (zkv_space_t *self, int64_t now, char **error);

//  True if the room stays at min_free or above with bytes more written
//  (weighted by the caller: ZKV_SPACE_PROPOSED, ZKV_SPACE_APPENDED).
//  Measures first when the last measure is ZKV_SPACE_MEASURE_MSECS old
//  at now, or ZKV_SPACE_MEASURE_BYTES were written since. Always true
//  when the guard is off.
bool
    zkv_space_fits (zkv_space_t *self, int64_t bytes, int64_t now);

//  Counts bytes as written, until the next measure sees them
void
    zkv_space_wrote (zkv_space_t *self, int64_t bytes);

//  The room as of the last measure, less what was written since
int64_t
    zkv_space_room (zkv_space_t *self);

const zkv_space_view_t *
    zkv_space_view (zkv_space_t *self);

//  The last measure in words, for logs: "F bytes free on the disk of D,
//  O owed (memtables M, next compaction C, reserve R, writes W)", bytes
//  (about to be written) added to the writes
void
    zkv_space_describe (zkv_space_t *self, int64_t bytes, char *text, size_t size);

//  Makes the reserve file unless it is there whole: allocated, synced,
//  renamed into place. Returns 0, or -1 with the reason in *error
//  (malloc'd; then no part of it is left). Nothing without a reserve size.
int
    zkv_space_reserve_make (zkv_space_t *self, char **error);

//  Deletes the reserve file (and a half-made one a crash left); true if
//  there was one
bool
    zkv_space_reserve_release (zkv_space_t *self);

#endif
