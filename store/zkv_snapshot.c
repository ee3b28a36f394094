/*  =========================================================================
    zkv_snapshot.c — state snapshots as chunk streams (see zkv_snapshot.h).
    =========================================================================
*/
#include "zkv_snapshot.h"
#include "zkv_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zkv_snapshot_out_s {
    zkv_engine_t *engine;
    const rocksdb_snapshot_t *snapshot;
    zkv_image_writer_t *writer;
    uint64_t from, to, stream, seq;
    bool done;
    uint8_t *buffer;                    //  the chunk being sent
    uint8_t sum [ZKV_IMAGE_DIGEST_SIZE];
};

zkv_snapshot_out_t *
zkv_snapshot_out_new (zkv_engine_t *engine, uint64_t from, uint64_t to, uint64_t stream)
{
    zkv_snapshot_out_t *self = (zkv_snapshot_out_t *) calloc (1, sizeof (zkv_snapshot_out_t));
    if (!self)
        return NULL;
    self->engine = engine;
    self->snapshot = zkv_engine_snapshot (engine);
    self->from = from;
    self->to = to;
    self->stream = stream;
    char *error = NULL;
    self->writer = zkv_image_writer_new (engine, self->snapshot, &error);
    self->buffer = (uint8_t *) malloc (ZKV_SNAPSHOT_CHUNK);
    if (!self->writer || !self->buffer) {
        fprintf (stderr, "snapshot: %s\n", error? error: "out of memory");
        free (error);
        zkv_snapshot_out_destroy (&self);
    }
    return self;
}

void
zkv_snapshot_out_destroy (zkv_snapshot_out_t **self_p)
{
    zkv_snapshot_out_t *self = *self_p;
    if (!self)
        return;
    zkv_image_writer_destroy (&self->writer);
    zkv_engine_snapshot_release (self->engine, self->snapshot);
    free (self->buffer);
    free (self);
    *self_p = NULL;
}

bool
zkv_snapshot_out_next (zkv_snapshot_out_t *self, zkv_snapshot_chunk_t *chunk)
{
    if (self->done)
        return false;
    char *error = NULL;
    ssize_t size = zkv_image_writer_read (self->writer, self->buffer, ZKV_SNAPSHOT_CHUNK, &error);
    if (size < 0) {
        fprintf (stderr, "snapshot: %s\n", error);
        free (error);
        self->done = true;              //  the follower asks again
        return false;
    }
    const zkv_image_header_t *header = zkv_image_writer_header (self->writer);
    memset (chunk, 0, sizeof *chunk);
    chunk->to = self->to;
    chunk->from = self->from;
    chunk->stream = self->stream;
    chunk->index = header->applied_index;
    chunk->term = header->applied_term;
    chunk->seq = self->seq++;
    chunk->data = zkv_bin (self->buffer, (size_t) size);
    if (size < ZKV_SNAPSHOT_CHUNK) {
        zkv_image_writer_digest (self->writer, self->sum);
        chunk->last = true;
        chunk->digest = zkv_bin (self->sum, sizeof self->sum);
        self->done = true;
    }
    return true;
}

//  ---------------------------------------------------------------------

struct zkv_snapshot_in_s {
    zkv_engine_t *engine;
    rocksdb_writebatch_t *batch;        //  NULL when no stream is under way
    zkv_image_reader_t *reader;
    uint64_t stream, from, next_seq;
};

zkv_snapshot_in_t *
zkv_snapshot_in_new (zkv_engine_t *engine)
{
    zkv_snapshot_in_t *self = (zkv_snapshot_in_t *) calloc (1, sizeof (zkv_snapshot_in_t));
    if (self)
        self->engine = engine;
    return self;
}

static void
s_drop (zkv_snapshot_in_t *self)
{
    if (self->batch)
        rocksdb_writebatch_destroy (self->batch);
    self->batch = NULL;
    zkv_image_reader_destroy (&self->reader);
}

void
zkv_snapshot_in_destroy (zkv_snapshot_in_t **self_p)
{
    if (*self_p) {
        s_drop (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Adds to batch the deletion of everything a family holds: a range up to
//  a bound past any short key, then whatever longer key lies beyond it.
//  Returns 0, or -1 with *error when the family could not be read.
static int
s_empty_family (zkv_snapshot_in_t *self, zkv_cf_t cf, char **error)
{
    static const char bound [32] = {
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
    };
    rocksdb_column_family_handle_t *handle = zkv_engine_cf (self->engine, cf);
    rocksdb_writebatch_delete_range_cf (self->batch, handle, "", 0, bound, sizeof bound);
    rocksdb_iterator_t *it = zkv_engine_iterator (self->engine, cf, NULL);
    for (rocksdb_iter_seek (it, bound, sizeof bound); rocksdb_iter_valid (it);
         rocksdb_iter_next (it)) {
        size_t size;
        const char *key = rocksdb_iter_key (it, &size);
        rocksdb_writebatch_delete_cf (self->batch, handle, key, size);
    }
    int rc = zkv_engine_iter_error (self->engine, it, error);
    rocksdb_iter_destroy (it);
    return rc;
}

static int
s_refuse (zkv_snapshot_in_t *self, char **error, const char *why)
{
    s_drop (self);
    if (why)
        *error = strdup (why);
    return -1;
}

//  Every record of the image goes into the batch
static int
s_record (void *arg, zkv_cf_t cf, const void *key, size_t key_size, const void *value,
          size_t value_size, char **error)
{
    (void) error;
    zkv_snapshot_in_t *self = (zkv_snapshot_in_t *) arg;
    rocksdb_writebatch_put_cf (self->batch, zkv_engine_cf (self->engine, cf),
                               (const char *) key, key_size, (const char *) value, value_size);
    return 0;
}

int
zkv_snapshot_in_feed (zkv_snapshot_in_t *self, const zkv_snapshot_chunk_t *chunk, char **error)
{
    if (chunk->seq == 0) {
        //  A new stream replaces any other under way: every family the
        //  image carries is emptied first, in the same batch
        s_drop (self);
        self->batch = rocksdb_writebatch_create ();
        self->reader = zkv_image_reader_new (s_record, self);
        if (!self->reader)
            return s_refuse (self, error, "out of memory");
        self->stream = chunk->stream;
        self->from = chunk->from;
        self->next_seq = 0;
        for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
            if (zkv_image_carries ((zkv_cf_t) cf) && s_empty_family (self, (zkv_cf_t) cf, error))
                return s_refuse (self, error, NULL);
    }
    if (!self->batch || chunk->stream != self->stream || chunk->from != self->from
    ||  chunk->seq != self->next_seq)
        return s_refuse (self, error, "snapshot chunk out of order");
    self->next_seq++;
    if (zkv_image_reader_feed (self->reader, chunk->data.data, chunk->data.size, error))
        return s_refuse (self, error, NULL);
    if (!chunk->last)
        return 0;

    uint8_t sum [ZKV_IMAGE_DIGEST_SIZE];
    zkv_image_reader_digest (self->reader, sum);
    if (chunk->digest.size != sizeof sum || memcmp (chunk->digest.data, sum, sizeof sum) != 0)
        return s_refuse (self, error, "snapshot digest mismatch");
    if (!zkv_image_reader_done (self->reader))
        return s_refuse (self, error, "snapshot image cut short");
    const zkv_image_header_t *header = zkv_image_reader_header (self->reader);
    if (header->applied_index != chunk->index || header->applied_term != chunk->term)
        return s_refuse (self, error, "snapshot image at another index than its stream");
    char *err = NULL;
    int rc = zkv_engine_write (self->engine, self->batch, true, &err);
    s_drop (self);
    if (rc) {
        *error = err;
        return -1;
    }
    return 1;
}
