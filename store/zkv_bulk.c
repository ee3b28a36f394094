/*  =========================================================================
    zkv_bulk.c — bulk loading through table files (see zkv_bulk.h).
    =========================================================================
*/
#include "zkv_bulk.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_LIMIT (64 << 20)           //  bytes per table file, RocksDB's target size
#define MAX_FILES 4096

struct zkv_bulk_s {
    zkv_engine_t *engine;
    rocksdb_envoptions_t *env_options;
    rocksdb_sstfilewriter_t *writer [ZKV_CF_COUNT];    //  the open file of each family
    size_t written [ZKV_CF_COUNT];      //  bytes put into it
    char *files [MAX_FILES];            //  every file, finished or open
    zkv_cf_t file_cf [MAX_FILES];
    size_t file_count;
    bool ingested;
};

zkv_bulk_t *
zkv_bulk_new (zkv_engine_t *engine)
{
    zkv_bulk_t *self = (zkv_bulk_t *) calloc (1, sizeof (zkv_bulk_t));
    if (!self)
        return NULL;
    self->engine = engine;
    self->env_options = rocksdb_envoptions_create ();
    return self;
}

void
zkv_bulk_destroy (zkv_bulk_t **self_p)
{
    zkv_bulk_t *self = *self_p;
    if (!self)
        return;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (self->writer [cf])
            rocksdb_sstfilewriter_destroy (self->writer [cf]);
    for (size_t i = 0; i < self->file_count; i++) {
        if (!self->ingested)
            unlink (self->files [i]);   //  (a memory medium has none on disk)
        free (self->files [i]);
    }
    rocksdb_envoptions_destroy (self->env_options);
    free (self);
    *self_p = NULL;
}

//  Hands err on as *error, prefixed; returns -1
static int
s_fail (const char *what, char *err, char **error)
{
    size_t size = strlen (what) + strlen (err) + 3;
    *error = (char *) malloc (size);
    if (*error)
        snprintf (*error, size, "%s: %s", what, err);
    free (err);
    return -1;
}

//  Finishes the open file of cf, if any (synced)
static int
s_close (zkv_bulk_t *self, zkv_cf_t cf, char **error)
{
    if (!self->writer [cf])
        return 0;
    char *err = NULL;
    rocksdb_sstfilewriter_finish (self->writer [cf], &err);
    rocksdb_sstfilewriter_destroy (self->writer [cf]);
    self->writer [cf] = NULL;
    return err? s_fail ("table file", err, error): 0;
}

//  Opens a new file for cf beside the database
static int
s_open (zkv_bulk_t *self, zkv_cf_t cf, char **error)
{
    if (self->file_count == MAX_FILES) {
        *error = strdup ("bulk load: too many table files");
        return -1;
    }
    char path [4096];
    snprintf (path, sizeof path, "%s/bulk-%s-%zu.sst", zkv_engine_path (self->engine),
              zkv_cf_name (cf), self->file_count);
    char *copy = strdup (path);
    if (!copy) {
        *error = strdup ("out of memory");
        return -1;
    }
    rocksdb_options_t *options = zkv_engine_cf_options (self->engine, cf);
    rocksdb_sstfilewriter_t *writer = rocksdb_sstfilewriter_create (self->env_options, options);
    rocksdb_options_destroy (options);  //  the writer keeps its own copy
    char *err = NULL;
    rocksdb_sstfilewriter_open (writer, path, &err);
    if (err) {
        rocksdb_sstfilewriter_destroy (writer);
        free (copy);
        return s_fail ("table file", err, error);
    }
    self->writer [cf] = writer;
    self->written [cf] = 0;
    self->files [self->file_count] = copy;
    self->file_cf [self->file_count++] = cf;
    return 0;
}

int
zkv_bulk_put (zkv_bulk_t *self, zkv_cf_t cf, const void *key, size_t key_size,
              const void *value, size_t value_size, char **error)
{
    if (self->writer [cf] && self->written [cf] >= FILE_LIMIT && s_close (self, cf, error))
        return -1;
    if (!self->writer [cf] && s_open (self, cf, error))
        return -1;
    char *err = NULL;
    //  A key not above the last is refused here (a damaged or forged stream)
    rocksdb_sstfilewriter_put (self->writer [cf], (const char *) key, key_size,
                               (const char *) value, value_size, &err);
    if (err)
        return s_fail (zkv_cf_name (cf), err, error);
    self->written [cf] += key_size + value_size;
    return 0;
}

int
zkv_bulk_finish (zkv_bulk_t *self, char **error)
{
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (s_close (self, (zkv_cf_t) cf, error))
            return -1;
    rocksdb_ingestexternalfileoptions_t *options = rocksdb_ingestexternalfileoptions_create ();
    rocksdb_ingestexternalfileoptions_set_move_files (options, 1);
    int rc = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT && rc == 0; cf++) {
        const char *files [MAX_FILES];
        size_t count = 0;
        for (size_t i = 0; i < self->file_count; i++)
            if (self->file_cf [i] == (zkv_cf_t) cf)
                files [count++] = self->files [i];
        if (!count)
            continue;
        char *err = NULL;
        rocksdb_ingest_external_file_cf (zkv_engine_db (self->engine),
                                         zkv_engine_cf (self->engine, (zkv_cf_t) cf),
                                         files, count, options, &err);
        if (err)
            rc = s_fail ("ingest", err, error);
    }
    rocksdb_ingestexternalfileoptions_destroy (options);
    self->ingested = rc == 0;
    return rc;
}
