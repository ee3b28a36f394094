/*  =========================================================================
    zkv_bulk.c — replacing families through table files (see zkv_bulk.h).
    =========================================================================
*/
#include "zkv_bulk.h"
#include "zkv_grow.h"
#include "zkv_replace.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_LIMIT (64 << 20)           //  bytes per table file, RocksDB's target size
#define MAX_FILES 4096

//  A key remembered, in a buffer that only grows
typedef struct {
    char *bytes;
    size_t size;
    size_t room;
} s_key_t;

typedef struct {
    rocksdb_sstfilewriter_t *writer;    //  the open file, NULL when none
    size_t written;                     //  bytes put into it
    s_key_t start;                      //  where its tile begins
    s_key_t last;                       //  the last key put into the family
    bool any;                           //  a record was put
} s_family_t;

struct zkv_bulk_s {
    zkv_engine_t *engine;
    rocksdb_envoptions_t *env_options;
    s_family_t family [ZKV_CF_COUNT];
    zkv_replace_file_t *files;          //  every file, finished or open
    size_t file_count;
    size_t file_room;
    bool handed;                        //  to zkv_replace: the files are its
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
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        if (self->family [cf].writer)
            rocksdb_sstfilewriter_destroy (self->family [cf].writer);
        free (self->family [cf].start.bytes);
        free (self->family [cf].last.bytes);
    }
    //  Once handed over, a marker may name them: only an open may remove them
    for (size_t i = 0; i < self->file_count && !self->handed; i++)
        zkv_replace_unstage (self->engine, self->files [i].name);
    free (self->files);
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

static int
s_key_set (s_key_t *key, const void *bytes, size_t size, char **error)
{
    if (size > key->room) {
        char *grown = (char *) realloc (key->bytes, size);
        if (!grown) {
            *error = strdup ("out of memory");
            return -1;
        }
        key->bytes = grown;
        key->room = size;
    }
    if (size)
        memcpy (key->bytes, bytes, size);
    key->size = size;
    return 0;
}

//  Appends a zero byte to key: the key right after it, in bytewise order
static int
s_key_zero (s_key_t *key, char **error)
{
    if (key->size == key->room) {
        char *grown = (char *) realloc (key->bytes, key->size + 1);
        if (!grown) {
            *error = strdup ("out of memory");
            return -1;
        }
        key->bytes = grown;
        key->room = key->size + 1;
    }
    key->bytes [key->size++] = 0;
    return 0;
}

//  Bytewise order, RocksDB's
static int
s_compare (const void *a, size_t a_size, const void *b, size_t b_size)
{
    int rc = memcmp (a, b, a_size < b_size? a_size: b_size);
    return rc? rc: a_size < b_size? -1: a_size > b_size;
}

//  Opens a new file for cf, its tile beginning at start
static int
s_open (zkv_bulk_t *self, zkv_cf_t cf, const void *start, size_t start_size, char **error)
{
    if (self->file_count == MAX_FILES) {
        *error = strdup ("bulk load: too many table files");
        return -1;
    }
    if (zkv_grow ((void **) &self->files, &self->file_room, self->file_count + 1,
                  sizeof (zkv_replace_file_t))) {
        *error = strdup ("out of memory");
        return -1;
    }
    zkv_replace_file_t *file = &self->files [self->file_count];
    memset (file, 0, sizeof *file);
    file->cf = cf;
    snprintf (file->name, sizeof file->name, "%s-%zu.sst", zkv_cf_name (cf), self->file_count);
    char path [4096];
    if (zkv_replace_path (self->engine, file->name, path, sizeof path, error)
    ||  s_key_set (&self->family [cf].start, start, start_size, error))
        return -1;
    rocksdb_options_t *options = zkv_engine_cf_options (self->engine, cf);
    rocksdb_sstfilewriter_t *writer = rocksdb_sstfilewriter_create (self->env_options, options);
    rocksdb_options_destroy (options);  //  the writer keeps its own copy
    char *err = NULL;
    rocksdb_sstfilewriter_open (writer, path, &err);
    self->file_count++;                 //  (a file begun is removed with the others)
    if (err) {
        rocksdb_sstfilewriter_destroy (writer);
        return s_fail ("table file", err, error);
    }
    self->family [cf].writer = writer;
    self->family [cf].written = 0;
    return 0;
}

//  Finishes the open file of cf (synced), its tile ending before end
static int
s_close (zkv_bulk_t *self, zkv_cf_t cf, const void *end, size_t end_size, char **error)
{
    s_family_t *family = &self->family [cf];
    char *err = NULL;
    rocksdb_sstfilewriter_delete_range (family->writer, family->start.bytes, family->start.size,
                                        (const char *) end, end_size, &err);
    if (!err)
        rocksdb_sstfilewriter_finish (family->writer, &err);
    rocksdb_sstfilewriter_destroy (family->writer);
    family->writer = NULL;
    return err? s_fail ("table file", err, error): 0;
}

int
zkv_bulk_put (zkv_bulk_t *self, zkv_cf_t cf, const void *key, size_t key_size,
              const void *value, size_t value_size, char **error)
{
    s_family_t *family = &self->family [cf];
    //  Refused here, not by RocksDB alone: a key out of order in a later
    //  file would make two tiles overlap (a damaged or forged stream)
    if (family->any
    &&  s_compare (key, key_size, family->last.bytes, family->last.size) <= 0) {
        size_t size = strlen (zkv_cf_name (cf)) + 64;
        *error = (char *) malloc (size);
        if (*error)
            snprintf (*error, size, "%s: keys out of order", zkv_cf_name (cf));
        return -1;
    }
    //  A full file's tile ends where the next file's begins: at this key
    if (family->writer && family->written >= FILE_LIMIT
    &&  s_close (self, cf, key, key_size, error))
        return -1;
    if (!family->writer && s_open (self, cf, key, family->any? key_size: 0, error))
        return -1;
    char *err = NULL;
    rocksdb_sstfilewriter_put (family->writer, (const char *) key, key_size,
                               (const char *) value, value_size, &err);
    if (err)
        return s_fail (zkv_cf_name (cf), err, error);
    family->written += key_size + value_size;
    family->any = true;
    return s_key_set (&family->last, key, key_size, error);
}

//  The largest key cf holds now, into key: returns 1, 0 when cf is empty,
//  -1 with *error
static int
s_largest (zkv_bulk_t *self, zkv_cf_t cf, s_key_t *key, char **error)
{
    rocksdb_iterator_t *it = zkv_engine_iterator (self->engine, cf, NULL);
    rocksdb_iter_seek_to_last (it);
    int rc = 0;
    if (rocksdb_iter_valid (it)) {
        size_t size;
        const char *bytes = rocksdb_iter_key (it, &size);
        rc = s_key_set (key, bytes, size, error)? -1: 1;
    }
    else
    if (zkv_engine_iter_error (self->engine, it, error))
        rc = -1;
    rocksdb_iter_destroy (it);
    return rc;
}

int
zkv_bulk_replace (zkv_bulk_t *self, unsigned families, char **error)
{
    s_key_t end = { NULL, 0, 0 };
    int rc = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT && rc == 0; cf++) {
        s_family_t *family = &self->family [cf];
        if (!(families & ZKV_BULK_FAMILY (cf))) {
            if (family->any) {
                *error = strdup ("bulk: records for a family it does not replace");
                rc = -1;
            }
            continue;
        }
        //  The last tile ends just past the largest key, the records' or
        //  the family's (that key and a zero byte: nothing sorts between)
        int found = s_largest (self, (zkv_cf_t) cf, &end, error);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (!found && !family->any)
            continue;                   //  empty, and empty it stays
        if (family->any && (!found || s_compare (family->last.bytes, family->last.size,
                                                 end.bytes, end.size) > 0))
            rc = s_key_set (&end, family->last.bytes, family->last.size, error);
        if (rc == 0)
            rc = s_key_zero (&end, error);
        //  A family without records gets a file with the deletion alone
        if (rc == 0 && !family->writer)
            rc = s_open (self, (zkv_cf_t) cf, "", 0, error);
        if (rc == 0)
            rc = s_close (self, (zkv_cf_t) cf, end.bytes, end.size, error);
    }
    free (end.bytes);
    //  Each family's files together, in the order they were written
    zkv_replace_file_t *files = rc == 0? (zkv_replace_file_t *) malloc (
        (self->file_count + 1) * sizeof (zkv_replace_file_t)): NULL;
    if (rc == 0 && !files) {
        *error = strdup ("out of memory");
        rc = -1;
    }
    if (rc)
        return -1;
    size_t count = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        for (size_t i = 0; i < self->file_count; i++)
            if (self->files [i].cf == (zkv_cf_t) cf)
                files [count++] = self->files [i];
    self->handed = true;
    rc = zkv_replace_commit (self->engine, files, count, error);
    free (files);
    return rc;
}

size_t
zkv_bulk_held (zkv_bulk_t *self)
{
    size_t held = sizeof *self + self->file_room * sizeof (zkv_replace_file_t);
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        held += self->family [cf].start.room + self->family [cf].last.room;
    return held;
}
