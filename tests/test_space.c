/*  test_space.c — the free-disk guard's arithmetic (zkv_space): the room
    is the free space less what RocksDB owes, the reserve not on disk and
    the writes counted since the measure; the reserve file (real blocks,
    released, made again); and the RocksDB figures it rests on
    (zkv_engine_low_levels, zkv_engine_compaction_bound,
    zkv_engine_defrag_need). Time is passed in, so a measure is reused
    exactly as long as the test says. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zkv_engine.h"
#include "zkv_space.h"

#define MIB (1024 * 1024)

static char s_dir [64];
static zkv_engine_t *s_engine;

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/zkv-test-space-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    char path [128], *error = NULL;
    snprintf (path, sizeof path, "%s/db", s_dir);
    s_engine = zkv_engine_open (path, NULL, &error);
    cr_assert_not_null (s_engine, "%s", error);
}

static void
s_teardown (void)
{
    zkv_engine_destroy (&s_engine);
    char command [128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    cr_assert_eq (system (command), 0);
}

TestSuite (space, .init = s_setup, .fini = s_teardown);

//  Writes count incompressible values of size bytes to cf, then flushes
static void
s_fill (zkv_cf_t cf, int count, size_t size)
{
    char *value = malloc (size);
    cr_assert_not_null (value);
    unsigned int seed = 7;
    for (int i = 0; i < count; i++) {
        char key [32], *error = NULL;
        snprintf (key, sizeof key, "k%06d", i);
        for (size_t b = 0; b < size; b++)
            value [b] = (char) rand_r (&seed);
        cr_assert_eq (zkv_engine_put (s_engine, cf, key, strlen (key), value, size, false,
                                      &error), 0, "%s", error);
    }
    free (value);
}

static int64_t
s_file_blocks (const char *name)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    struct stat info;
    return stat (path, &info)? -1: (int64_t) info.st_blocks * 512;
}

Test (space, the_room_is_the_free_space_less_what_is_owed)
{
    zkv_space_config_t config = { .data_dir = s_dir, .min_free = MIB, .reserve = 0 };
    zkv_space_t *space = zkv_space_new (s_engine, &config);
    cr_assert (zkv_space_enabled (space));
    char *error = NULL;
    cr_assert_eq (zkv_space_measure (space, 1000, &error), 0, "%s", error);
    const zkv_space_view_t *view = zkv_space_view (space);
    cr_assert_gt (view->free, 0);
    cr_assert_eq (view->reserve_missing, 0);
    cr_assert_eq (zkv_space_room (space),
                  view->free - view->memtables - view->compaction);
    //  Bytes said written come off the room until the next measure
    int64_t room = zkv_space_room (space);
    zkv_space_wrote (space, 1000);
    cr_assert_eq (zkv_space_room (space), room - 1000);
    //  At the same moment, under 8 MiB since: the measure is reused, and
    //  fits says exactly where the line is
    room = zkv_space_room (space);
    cr_assert (zkv_space_fits (space, room - MIB, 1000));
    cr_assert (!zkv_space_fits (space, room - MIB + 1, 1000));
    //  10 ms later it measures again: what was said written is forgotten
    //  (the disk shows it by then)
    cr_assert (zkv_space_fits (space, 0, 1000 + ZKV_SPACE_MEASURE_MSECS));
    cr_assert_eq (zkv_space_view (space)->written, 0);
    //  And so it does after 8 MiB said written
    cr_assert_eq (zkv_space_measure (space, 2000, &error), 0);
    zkv_space_wrote (space, ZKV_SPACE_MEASURE_BYTES);
    zkv_space_fits (space, 0, 2000);
    cr_assert_eq (zkv_space_view (space)->written, 0);
    char text [512];
    zkv_space_describe (space, 5, text, sizeof text);
    cr_assert_not_null (strstr (text, " bytes free on the disk of "), "%s", text);
    cr_assert_not_null (strstr (text, "writes 5)"), "%s", text);
    zkv_space_destroy (&space);
}

Test (space, memtables_and_compactions_are_owed)
{
    zkv_space_config_t config = { .data_dir = s_dir, .min_free = MIB, .reserve = 0 };
    zkv_space_t *space = zkv_space_new (s_engine, &config);
    char *error = NULL;
    s_fill (ZKV_CF_KEY, 200, 4096);
    cr_assert_eq (zkv_space_measure (space, 1000, &error), 0, "%s", error);
    //  In the memtable: a flush will write it, and it flushes into level 0
    cr_assert_gt (zkv_space_view (space)->memtables, 200 * 4096);
    cr_assert_geq (zkv_space_view (space)->compaction, 200 * 4096);
    cr_assert_eq (zkv_engine_flush (s_engine, &error), 0, "%s", error);
    int64_t low [ZKV_CF_COUNT];
    zkv_engine_low_levels (s_engine, low);
    cr_assert_gt (low [ZKV_CF_KEY], 200 * 4096 / 2, "levels 0 and 1 hold %lld bytes",
                  (long long) low [ZKV_CF_KEY]);
    cr_assert_eq (low [ZKV_CF_INDEX], 0);
    cr_assert_geq (zkv_engine_compaction_bound (s_engine, low), low [ZKV_CF_KEY]);
    //  Once flushed, the table files are what the next compaction rewrites
    cr_assert_eq (zkv_space_measure (space, 2000, &error), 0, "%s", error);
    cr_assert_lt (zkv_space_view (space)->memtables, 200 * 4096);
    cr_assert_geq (zkv_space_view (space)->compaction, low [ZKV_CF_KEY]);
    //  A defragmentation rewrites the data in use of the largest family:
    //  all of it while it is live, little once it is deleted
    int64_t need = zkv_engine_defrag_need (s_engine);
    cr_assert_geq (need, low [ZKV_CF_KEY] * 9 / 10);
    for (int i = 0; i < 200; i++) {
        char key [32];
        snprintf (key, sizeof key, "k%06d", i);
        rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
        rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (s_engine, ZKV_CF_KEY), key,
                                      strlen (key));
        cr_assert_eq (zkv_engine_write (s_engine, batch, false, &error), 0);
        rocksdb_writebatch_destroy (batch);
    }
    cr_assert_eq (zkv_engine_flush (s_engine, &error), 0, "%s", error);
    cr_assert_lt (zkv_engine_defrag_need (s_engine), need / 4, "%lld of %lld",
                  (long long) zkv_engine_defrag_need (s_engine), (long long) need);
    zkv_space_destroy (&space);
}

Test (space, the_reserve_is_real_blocks_released_and_made_again)
{
    zkv_space_config_t config = { .data_dir = s_dir, .min_free = MIB, .reserve = 4 * MIB };
    zkv_space_t *space = zkv_space_new (s_engine, &config);
    char *error = NULL;
    //  Not there: owed
    cr_assert_eq (zkv_space_measure (space, 1000, &error), 0, "%s", error);
    cr_assert_eq (zkv_space_view (space)->reserve_missing, 4 * MIB);
    cr_assert_eq (zkv_space_reserve_make (space, &error), 0, "%s", error);
    cr_assert_geq (s_file_blocks (ZKV_SPACE_RESERVE), 4 * MIB);
    cr_assert_eq (s_file_blocks (ZKV_SPACE_RESERVE ".new"), -1);
    //  There: no longer owed (the free space is smaller by as much; other
    //  tests write on the same disk, so that is not compared here)
    cr_assert_eq (zkv_space_measure (space, 2000, &error), 0, "%s", error);
    cr_assert_eq (zkv_space_view (space)->reserve_missing, 0);
    //  Made once: making it again does nothing
    cr_assert_eq (zkv_space_reserve_make (space, &error), 0, "%s", error);
    cr_assert (zkv_space_reserve_release (space));
    cr_assert_eq (s_file_blocks (ZKV_SPACE_RESERVE), -1);
    cr_assert (!zkv_space_reserve_release (space));
    cr_assert_eq (zkv_space_measure (space, 3000, &error), 0, "%s", error);
    cr_assert_eq (zkv_space_view (space)->reserve_missing, 4 * MIB);
    cr_assert_eq (zkv_space_reserve_make (space, &error), 0, "%s", error);
    cr_assert_geq (s_file_blocks (ZKV_SPACE_RESERVE), 4 * MIB);
    //  One a crash left half made goes with the release too
    char path [128];
    snprintf (path, sizeof path, "%s/%s.new", s_dir, ZKV_SPACE_RESERVE);
    FILE *half = fopen (path, "w");
    cr_assert_not_null (half);
    fputs ("half", half);
    fclose (half);
    cr_assert (zkv_space_reserve_release (space));
    cr_assert_eq (s_file_blocks (ZKV_SPACE_RESERVE ".new"), -1);
    zkv_space_destroy (&space);
}

Test (space, a_reserve_that_cannot_be_made_leaves_nothing)
{
    //  Larger than any disk
    zkv_space_config_t config = { .data_dir = s_dir, .min_free = MIB,
                                  .reserve = (int64_t) 1 << 60 };
    zkv_space_t *space = zkv_space_new (s_engine, &config);
    char *error = NULL;
    cr_assert_eq (zkv_space_reserve_make (space, &error), -1);
    cr_assert_not_null (strstr (error, "cannot make the reserve file"), "%s", error);
    free (error);
    cr_assert_eq (s_file_blocks (ZKV_SPACE_RESERVE), -1);
    cr_assert_eq (s_file_blocks (ZKV_SPACE_RESERVE ".new"), -1);
    zkv_space_destroy (&space);
}

Test (space, off_without_a_disk_or_a_minimum)
{
    zkv_space_config_t off = { .data_dir = s_dir, .min_free = 0, .reserve = 4 * MIB };
    zkv_space_t *space = zkv_space_new (s_engine, &off);
    cr_assert (!zkv_space_enabled (space));
    cr_assert (zkv_space_fits (space, (int64_t) 1 << 62, 1000));
    zkv_space_destroy (&space);
    zkv_space_config_t memory = { .data_dir = NULL, .min_free = MIB, .reserve = 4 * MIB };
    space = zkv_space_new (s_engine, &memory);
    cr_assert (!zkv_space_enabled (space));
    cr_assert (zkv_space_fits (space, (int64_t) 1 << 62, 1000));
    char *error = NULL;
    cr_assert_eq (zkv_space_reserve_make (space, &error), 0);
    cr_assert (!zkv_space_reserve_release (space));
    zkv_space_destroy (&space);
    //  A data directory that is gone: the measure fails, and says why
    char gone [128];
    snprintf (gone, sizeof gone, "%s/gone", s_dir);
    zkv_space_config_t lost = { .data_dir = gone, .min_free = MIB, .reserve = 0 };
    space = zkv_space_new (s_engine, &lost);
    cr_assert_eq (zkv_space_measure (space, 1000, &error), -1);
    cr_assert_not_null (strstr (error, "statvfs"), "%s", error);
    free (error);
    zkv_space_destroy (&space);
}
