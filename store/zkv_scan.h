/*  =========================================================================
    zkv_scan.h — full walks of a snapshot in parts, on several threads
    (Hash, HashKV, the size of an image).

    A walk over a whole family is bound by RocksDB's iterator and the
    blocks it decompresses, one core's worth. Its parts are walked at once,
    each by its own iterator over its own key range: the `key` family in
    ranges of revisions, every other family whole. What each part yields
    (a CRC and its length, a sum) is combined afterwards, in order, so the
    result is bit for bit the one pass's.

    The threads are plain pthreads inside zkv_scan_run, all joined before
    it returns: callers stay single-threaded functions that return a result.
    =========================================================================
*/
#ifndef ZKV_SCAN_H_INCLUDED
#define ZKV_SCAN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "zkv_engine.h"
#include "zkv_keys.h"

//  Parts the `key` family is split into: more than threads, so that the
//  threads that finish early take the rest (a compacted history leaves
//  some revision ranges almost empty)
#define ZKV_SCAN_KEY_PARTS 16

//  Records of one family with key in [lower, upper): no bound where the
//  size is 0
typedef struct {
    zkv_cf_t cf;
    uint8_t lower [ZKV_REVKEY_SIZE];
    size_t lower_size;
    uint8_t upper [ZKV_REVKEY_SIZE];
    size_t upper_size;
    int64_t first_main;                 //  `key` family: the first revision it holds
} zkv_scan_part_t;

//  A part's iterator at its first record, over the snapshot
typedef struct {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *options;     //  (the iterator points into them)
} zkv_scan_cursor_t;

//  Splits the `key` family at snapshot, up to main revision last, into up
//  to room (at most ZKV_SCAN_KEY_PARTS) parts in revision order, of equal
//  spans of revisions. Returns how many (0: no record up to last), or -1
//  with *error.
int
    zkv_scan_split_keys (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot,
                         int64_t last, zkv_scan_part_t *parts, size_t room, char **error);

//  The whole of family cf as one part
void
    zkv_scan_whole (zkv_scan_part_t *part, zkv_cf_t cf);

//  Opens an iterator over part at snapshot, at its first record (a walk's
//  reader: reads ahead, leaves the block cache alone)
void
    zkv_scan_open (zkv_scan_cursor_t *cursor, zkv_engine_t *engine,
                   const rocksdb_snapshot_t *snapshot, const zkv_scan_part_t *part);

void
    zkv_scan_close (zkv_scan_cursor_t *cursor);

//  Calls fn (arg, index) once for every index < count, in rising order of
//  start, on up to zkv_scan_threads () threads (the caller's one of them);
//  returns once every call returned
typedef void (zkv_scan_fn) (void *arg, size_t index);

void
    zkv_scan_run (size_t count, zkv_scan_fn *fn, void *arg);

//  Threads a walk uses: the processors online, at most 4; or what
//  zkv_scan_set_threads said (tests compare 1 with more; 0: the default)
size_t
    zkv_scan_threads (void);

void
    zkv_scan_set_threads (size_t threads);

#endif
