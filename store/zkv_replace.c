/*  =========================================================================
    zkv_replace.c — replacing whole families by table files, crash-safe
    (see zkv_replace.h).
    =========================================================================
*/
#include "zkv_replace.h"
#include "zkv_mkdirs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAGING "replace"               //  the staging directory, in the database's
#define MARKER "replace"                //  the marker's key in the `default` family

//  *error = format with detail; returns -1
static int
s_fail (char **error, const char *format, const char *detail)
{
    size_t size = strlen (format) + strlen (detail) + 1;
    *error = (char *) malloc (size);
    if (*error)
        snprintf (*error, size, format, detail);
    return -1;
}

static void
s_staging (zkv_engine_t *engine, char *dir, size_t size)
{
    snprintf (dir, size, "%s/" STAGING, zkv_engine_path (engine));
}

int
zkv_replace_path (zkv_engine_t *engine, const char *name, char *path, size_t size,
                  char **error)
{
    char dir [4096];
    s_staging (engine, dir, sizeof dir);
    //  (RocksDB's memory medium needs no directory)
    if (zkv_engine_on_disk (engine) && zkv_mkdirs (dir))
        return s_fail (error, "cannot make the staging directory: %s", strerror (errno));
    if ((size_t) snprintf (path, size, "%s/%s", dir, name) >= size)
        return s_fail (error, "staged file %s: path too long", name);
    return 0;
}

void
zkv_replace_unstage (zkv_engine_t *engine, const char *name)
{
    char path [4096];
    char *error = NULL;
    if (!zkv_engine_on_disk (engine) || zkv_replace_path (engine, name, path, sizeof path, &error)) {
        free (error);
        return;
    }
    unlink (path);                      //  (gone already: so much the better)
}

//  fsync of a directory: the names in it are then durable
static int
s_sync_dir (const char *dir, char **error)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync (fd)) {
        int code = errno;
        if (fd >= 0)
            close (fd);
        char what [4200];
        snprintf (what, sizeof what, "syncing %s: %s", dir, strerror (code));
        return s_fail (error, "%s", what);
    }
    close (fd);
    return 0;
}

//  The marker: for each file, its family (1 byte), the length of its name
//  (1 byte) and its name
static uint8_t *
s_marker_encode (const zkv_replace_file_t *files, size_t count, size_t *size)
{
    uint8_t *bytes = (uint8_t *) malloc (count * (2 + ZKV_REPLACE_NAME));
    if (!bytes)
        return NULL;
    *size = 0;
    for (size_t i = 0; i < count; i++) {
        size_t length = strnlen (files [i].name, ZKV_REPLACE_NAME - 1);
        bytes [(*size)++] = (uint8_t) files [i].cf;
        bytes [(*size)++] = (uint8_t) length;
        memcpy (bytes + *size, files [i].name, length);
        *size += length;
    }
    return bytes;
}

//  The files a marker names, into a fresh array (free it); -1 if damaged
static int
s_marker_decode (const uint8_t *bytes, size_t size, zkv_replace_file_t **files, size_t *count)
{
    *files = (zkv_replace_file_t *) calloc (size / 2 + 1, sizeof (zkv_replace_file_t));
    *count = 0;
    if (!*files)
        return -1;
    for (size_t at = 0; at < size;) {
        if (size - at < 2 || bytes [at] >= ZKV_CF_COUNT || bytes [at + 1] == 0
        ||  bytes [at + 1] >= ZKV_REPLACE_NAME || size - at - 2 < bytes [at + 1]
        ||  memchr (bytes + at + 2, '/', bytes [at + 1])) {
            free (*files);
            *files = NULL;
            return -1;
        }
        zkv_replace_file_t *file = &(*files) [(*count)++];
        file->cf = (zkv_cf_t) bytes [at];
        memcpy (file->name, bytes + at + 2, bytes [at + 1]);
        at += 2 + bytes [at + 1];
    }
    return 0;
}

//  Ingests the files of each family in turn. On disk the staged files
//  stay until the marker is gone; in memory, where they are moved, a
//  family with a file gone was ingested already (RocksDB reads every file
//  of a family before it moves any, and removes their names only once it
//  has recorded them).
static int
s_ingest (zkv_engine_t *engine, const zkv_replace_file_t *files, size_t count, bool recovering,
          char **error)
{
    char **paths = (char **) calloc (count, sizeof (char *));
    if (!paths)
        return s_fail (error, "%s", "out of memory");
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        char path [4096];
        rc = zkv_replace_path (engine, files [i].name, path, sizeof path, error);
        if (rc == 0 && !(paths [i] = strdup (path)))
            rc = s_fail (error, "%s", "out of memory");
    }
    for (size_t first = 0; first < count && rc == 0;) {
        size_t end = first;
        while (end < count && files [end].cf == files [first].cf)
            end++;
        char *err = NULL;
        rc = zkv_engine_ingest (engine, files [first].cf, (const char *const *) paths + first,
                                end - first, &err);
        if (rc && recovering && !zkv_engine_on_disk (engine)
        &&  strstr (err, "No such file or directory")) {
            free (err);
            rc = 0;
        }
        else
        if (rc)
            *error = err;
        first = end;
    }
    for (size_t i = 0; i < count; i++)
        free (paths [i]);
    free (paths);
    return rc;
}

//  The last step: the marker goes, and the key saying that the raft log
//  has not recorded the replacement yet comes, in one synced write
static int
s_marker_delete (zkv_engine_t *engine, char **error)
{
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (engine, ZKV_CF_DEFAULT), MARKER,
                                  strlen (MARKER));
    rocksdb_writebatch_put_cf (batch, zkv_engine_cf (engine, ZKV_CF_RAFT_LOG),
                               ZKV_ENGINE_REPLACED_KEY, strlen (ZKV_ENGINE_REPLACED_KEY),
                               "", 0);
    int rc = zkv_engine_write (engine, batch, true, error);
    rocksdb_writebatch_destroy (batch);
    return rc;
}

int
zkv_replace_commit (zkv_engine_t *engine, const zkv_replace_file_t *files, size_t count,
                    char **error)
{
    //  A family's files together: a family in two runs would be replaced
    //  twice, the second run alone remaining
    bool seen [ZKV_CF_COUNT] = { false };
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (i > 0 && files [i].cf == files [i - 1].cf)
            continue;
        if (seen [files [i].cf])
            rc = s_fail (error, "%s", "replace: a family's files are not together");
        seen [files [i].cf] = true;
    }
    //  1. The files are synced as they are finished; their names too, now:
    //  on disk the recovery needs every file the marker names
    if (rc == 0 && count && zkv_engine_on_disk (engine)) {
        char dir [4096];
        s_staging (engine, dir, sizeof dir);
        rc = s_sync_dir (dir, error) || s_sync_dir (zkv_engine_path (engine), error)? -1: 0;
    }
    size_t size = 0;
    uint8_t *marker = rc == 0 && count? s_marker_encode (files, count, &size): NULL;
    if (rc == 0 && count && !marker)
        rc = s_fail (error, "%s", "out of memory");
    if (rc || count == 0) {
        //  Nothing changed: the files go
        for (size_t i = 0; i < count; i++)
            zkv_replace_unstage (engine, files [i].name);
        return rc;
    }
    //  No snapshot from here to the end sees the families (nor the
    //  marker, which Hash would count) half replaced
    zkv_engine_hold_views (engine);
    //  2. The marker: from here on, an open finishes the replacement (a
    //  failed synced write may have reached the disk all the same)
    rc = zkv_engine_put (engine, ZKV_CF_DEFAULT, MARKER, strlen (MARKER), marker, size, true,
                         error);
    free (marker);
    //  3. The families; 4. done: the marker goes
    if (rc == 0)
        rc = s_ingest (engine, files, count, false, error);
    if (rc == 0)
        rc = s_marker_delete (engine, error);
    zkv_engine_release_views (engine);
    if (rc)
        return -1;
    //  Then the staged files
    for (size_t i = 0; i < count; i++)
        zkv_replace_unstage (engine, files [i].name);
    return 0;
}

//  Removes whatever the staging directory holds, and the directory
static void
s_staging_empty (zkv_engine_t *engine)
{
    char dir [4096];
    s_staging (engine, dir, sizeof dir);
    DIR *listing = opendir (dir);
    if (!listing)
        return;
    struct dirent *entry;
    while ((entry = readdir (listing)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            unlinkat (dirfd (listing), entry->d_name, 0);
    closedir (listing);
    rmdir (dir);
}

int
zkv_replace_recover (zkv_engine_t *engine, char **error)
{
    char *value = NULL;
    size_t size = 0;
    int found = zkv_engine_get (engine, ZKV_CF_DEFAULT, MARKER, strlen (MARKER), &value, &size,
                                error);
    if (found < 0)
        return -1;
    if (found) {
        zkv_replace_file_t *files;
        size_t count;
        int rc = s_marker_decode ((const uint8_t *) value, size, &files, &count);
        free (value);
        if (rc)
            return s_fail (error, "%s", "the marker of a replacement of families is damaged");
        char *err = NULL;
        rc = s_ingest (engine, files, count, true, &err);
        free (files);
        if (rc) {
            s_fail (error, "finishing a replacement of families that was cut short: %s",
                    err? err: "?");
            free (err);
            return -1;
        }
        if (s_marker_delete (engine, error))
            return -1;
        fprintf (stderr, "zkv: finished a replacement of families that a stop had cut short "
                 "(%zu table files)\n", count);
    }
    //  (a marker finished just now left the key too)
    found = zkv_engine_get (engine, ZKV_CF_RAFT_LOG, ZKV_ENGINE_REPLACED_KEY,
                            strlen (ZKV_ENGINE_REPLACED_KEY), &value, &size, error);
    if (found < 0)
        return -1;
    if (found) {
        free (value);
        zkv_engine_replace_finished (engine);
    }
    if (zkv_engine_on_disk (engine))
        s_staging_empty (engine);
    return 0;
}
