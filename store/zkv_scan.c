/*  =========================================================================
    zkv_scan.c — full walks of a snapshot in parts (see zkv_scan.h).
    =========================================================================
*/
#include "zkv_scan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 4

static atomic_size_t s_threads;         //  0: as many as processors

size_t
zkv_scan_threads (void)
{
    size_t threads = atomic_load (&s_threads);
    if (threads == 0) {
        long online = sysconf (_SC_NPROCESSORS_ONLN);
        threads = online < 1? 1: (size_t) online;
    }
    return threads > MAX_THREADS? MAX_THREADS: threads;
}

void
zkv_scan_set_threads (size_t threads)
{
    atomic_store (&s_threads, threads);
}

//  The main revision of the record the iterator is at: 0, or -1 if it is
//  not at a revision key
static int
s_main_at (rocksdb_iterator_t *it, int64_t *main)
{
    size_t size;
    const uint8_t *key = (const uint8_t *) rocksdb_iter_key (it, &size);
    zkv_rev_t rev;
    bool tombstone;
    if (zkv_revkey_decode (key, size, &rev, &tombstone))
        return -1;
    *main = rev.main;
    return 0;
}

int
zkv_scan_split_keys (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, int64_t last,
                     zkv_scan_part_t *parts, size_t room, char **error)
{
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_KEY, snapshot);
    int64_t first = 0, newest = 0;
    int rc = 0;
    bool found = false;
    rocksdb_iter_seek_to_first (it);
    if (rocksdb_iter_valid (it)) {
        rc = s_main_at (it, &first);
        rocksdb_iter_seek_to_last (it);
        if (rc == 0 && rocksdb_iter_valid (it))
            rc = s_main_at (it, &newest);
        found = true;
        if (rc)
            *error = strdup ("corrupt revision key");
    }
    if (rc == 0)
        rc = zkv_engine_iter_error (engine, it, error);
    rocksdb_iter_destroy (it);
    if (rc)
        return -1;
    if (newest < last)
        last = newest;
    if (!found || first > last)
        return 0;
    //  Equal spans of main revisions [first, last]: bound i is where part i
    //  starts, the revision key (bound, 0) sorting before every record of
    //  that revision and after every older one
    uint64_t span = (uint64_t) (last - first) + 1;
    size_t count = room < ZKV_SCAN_KEY_PARTS? room: ZKV_SCAN_KEY_PARTS;
    if (span < count)
        count = (size_t) span;
    for (size_t i = 0; i < count; i++) {
        zkv_scan_part_t *part = &parts [i];
        memset (part, 0, sizeof *part);
        part->cf = ZKV_CF_KEY;
        part->first_main = first + (int64_t) (span * i / count);
        int64_t end = first + (int64_t) (span * (i + 1) / count);
        if (i > 0)
            part->lower_size = zkv_revkey_encode ((zkv_rev_t) { part->first_main, 0 }, false,
                                                  part->lower);
        part->upper_size = zkv_revkey_encode ((zkv_rev_t) { end, 0 }, false, part->upper);
    }
    return (int) count;
}

void
zkv_scan_whole (zkv_scan_part_t *part, zkv_cf_t cf)
{
    memset (part, 0, sizeof *part);
    part->cf = cf;
}

void
zkv_scan_open (zkv_scan_cursor_t *cursor, zkv_engine_t *engine,
               const rocksdb_snapshot_t *snapshot, const zkv_scan_part_t *part)
{
    cursor->options = zkv_engine_scan_options (snapshot);
    cursor->it = zkv_engine_iterator_below (engine, part->cf, cursor->options,
                                            part->upper_size? part->upper: NULL,
                                            part->upper_size);
    if (part->lower_size)
        rocksdb_iter_seek (cursor->it, (const char *) part->lower, part->lower_size);
    else
        rocksdb_iter_seek_to_first (cursor->it);
}

void
zkv_scan_close (zkv_scan_cursor_t *cursor)
{
    if (cursor->it)
        rocksdb_iter_destroy (cursor->it);
    if (cursor->options)
        rocksdb_readoptions_destroy (cursor->options);
    cursor->it = NULL;
    cursor->options = NULL;
}

typedef struct {
    size_t count;
    zkv_scan_fn *fn;
    void *arg;
    atomic_size_t next;                 //  the next index to take
} s_run_t;

static void *
s_worker (void *arg)
{
    s_run_t *run = (s_run_t *) arg;
    for (size_t index = atomic_fetch_add (&run->next, 1); index < run->count;
         index = atomic_fetch_add (&run->next, 1))
        run->fn (run->arg, index);
    return NULL;
}

void
zkv_scan_run (size_t count, zkv_scan_fn *fn, void *arg)
{
    s_run_t run = { .count = count, .fn = fn, .arg = arg };
    atomic_init (&run.next, 0);
    size_t helpers = zkv_scan_threads () - 1;
    if (helpers + 1 > count)
        helpers = count > 0? count - 1: 0;
    pthread_t threads [MAX_THREADS];
    size_t started = 0;
    //  A thread that cannot start leaves its share to the others
    while (started < helpers && pthread_create (&threads [started], NULL, s_worker, &run) == 0)
        started++;
    s_worker (&run);
    for (size_t i = 0; i < started; i++)
        pthread_join (threads [i], NULL);
}
