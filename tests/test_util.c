/*  test_util.c — util/: the growable array, mkdir -p, reading a file, the
    spawner. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zkv_file_read.h"
#include "zkv_grow.h"
#include "zkv_mkdirs.h"
#include "zkv_spawn.h"

Test (util, grow_doubles_from_sixteen)
{
    uint64_t *items = NULL;
    size_t room = 0;
    cr_assert_eq (zkv_grow ((void **) &items, &room, 1, sizeof *items), 0);
    cr_assert_eq (room, 16);
    for (size_t i = 0; i < 16; i++)
        items [i] = i;
    cr_assert_eq (zkv_grow ((void **) &items, &room, 16, sizeof *items), 0);
    cr_assert_eq (room, 16, "room enough: nothing moves");
    cr_assert_eq (zkv_grow ((void **) &items, &room, 17, sizeof *items), 0);
    cr_assert_eq (room, 32);
    cr_assert_eq (zkv_grow ((void **) &items, &room, 100, sizeof *items), 0);
    cr_assert_eq (room, 128, "doubles until the items fit");
    for (size_t i = 0; i < 16; i++)
        cr_assert_eq (items [i], i);
    free (items);
}

Test (util, grow_that_cannot_be_leaves_the_array)
{
    uint64_t *items = NULL;
    size_t room = 0;
    cr_assert_eq (zkv_grow ((void **) &items, &room, 3, sizeof *items), 0);
    uint64_t *before = items;
    cr_assert_eq (zkv_grow ((void **) &items, &room, SIZE_MAX / 4, sizeof *items), -1);
    cr_assert_eq (zkv_grow ((void **) &items, &room, SIZE_MAX, 1), -1);
    cr_assert_eq (items, before);
    cr_assert_eq (room, 16);
    free (items);
}

Test (util, mkdirs_makes_parents_and_accepts_what_exists)
{
    char dir [] = "/tmp/zkv-test-util-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char path [128];
    snprintf (path, sizeof path, "%s/a/b/c", dir);
    cr_assert_eq (zkv_mkdirs (path), 0);
    cr_assert_eq (zkv_mkdirs (path), 0);
    struct stat info;
    cr_assert_eq (stat (path, &info), 0);
    cr_assert (S_ISDIR (info.st_mode));
    cr_assert_eq (info.st_mode & 0777, 0700);

    char long_path [2048];
    memset (long_path, 'x', sizeof long_path - 1);
    long_path [0] = '/';
    long_path [sizeof long_path - 1] = 0;
    errno = 0;
    cr_assert_eq (zkv_mkdirs (long_path), -1);
    cr_assert_eq (errno, ENAMETOOLONG);
    char command [160];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}

Test (util, file_read_reads_all_of_a_file_and_stops_at_its_bound)
{
    char path [] = "/tmp/zkv-test-util-read-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    //  larger than one read, so that the text grows
    size_t size = 10000;
    char *written = malloc (size);
    for (size_t i = 0; i < size; i++)
        written [i] = (char) ('a' + i % 26);
    cr_assert_eq (write (fd, written, size), (ssize_t) size);
    close (fd);
    char *text = zkv_file_read (path, 0);
    cr_assert_not_null (text);
    cr_assert_eq (strlen (text), size);
    cr_assert_eq (memcmp (text, written, size), 0);
    free (text);
    errno = 0;
    cr_assert_null (zkv_file_read (path, size - 1), "a file past the bound is refused");
    cr_assert_eq (errno, EFBIG);
    cr_assert_null (zkv_file_read ("/dev/zero", 1 << 20), "an endless file too");
    cr_assert_eq (errno, EFBIG);
    unlink (path);
    cr_assert_null (zkv_file_read (path, 0));
    cr_assert_eq (errno, ENOENT);
    free (written);
}

Test (util, spawn_gives_the_child_its_streams_and_keeps)
{
    char dir [] = "/tmp/zkv-test-util-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char out [128], err [128];
    snprintf (out, sizeof out, "%s/out", dir);
    snprintf (err, sizeof err, "%s/err", dir);
    //  A descriptor kept open, and one closed, in the child
    int kept = open ("/dev/null", O_RDONLY);
    int closed = open ("/dev/null", O_RDONLY);
    cr_assert_geq (kept, 3);
    cr_assert_geq (closed, 3);
    char script [160];
    snprintf (script, sizeof script,
              "echo out; echo err >&2; [ -e /proc/self/fd/%d ] && [ ! -e /proc/self/fd/%d ]",
              kept, closed);
    const char *argv [] = { "/bin/sh", "-c", script, NULL };
    zkv_spawn_t spawn = {
        .argv = argv, .path = { "/dev/null", out, err },
        .close_others = true, .keep = &kept, .keep_count = 1
    };
    pid_t pid = zkv_spawn (&spawn);
    cr_assert_gt (pid, 0);
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    close (kept);
    close (closed);
    FILE *file = fopen (out, "r");
    char line [16] = "";
    cr_assert_not_null (fgets (line, sizeof line, file));
    fclose (file);
    cr_assert_str_eq (line, "out\n");

    const char *missing [] = { "/nonexistent/program", NULL };
    spawn = (zkv_spawn_t) { .argv = missing, .path = { NULL, NULL, err } };
    pid = zkv_spawn (&spawn);
    cr_assert_gt (pid, 0);
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 127);
    char command [160];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}
