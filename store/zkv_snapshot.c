/*  =========================================================================
    zkv_snapshot.c — state snapshots as chunk streams (see zkv_snapshot.h).
    =========================================================================
*/
#include "zkv_snapshot.h"
#include "zkv_bulk.h"
#include "zkv_image.h"
#include "zkv_sha256.h"
#include "zkv_spool.h"

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

//  A stream is read into table files as it comes (receiving): a chunk at
//  once, or, when chunks wait, through a spool that steps read back as far
//  as it came; once it is whole and its digest matches (installing),
//  steps read the rest of the spool, and the last step swaps the files in
struct zkv_snapshot_in_s {
    zkv_engine_t *engine;
    zkv_spool_t *spool;                 //  NULL when no stream is under way
    zkv_sha256_t *digest;               //  of the bytes received
    uint64_t stream, from, next_seq;
    uint64_t index, term;               //  what the stream says it holds
    bool installing;                    //  it came whole, and checks out
    zkv_image_reader_t *reader;         //  the image read back
    zkv_bulk_t *bulk;                   //  into its families' table files
    uint8_t *buffer;                    //  a step's bytes
};

zkv_snapshot_in_t *
zkv_snapshot_in_new (zkv_engine_t *engine)
{
    zkv_snapshot_in_t *self = (zkv_snapshot_in_t *) calloc (1, sizeof (zkv_snapshot_in_t));
    if (self)
        self->engine = engine;
    return self;
}

//  Gives up the stream under way, or the install: their files go
static void
s_drop (zkv_snapshot_in_t *self)
{
    zkv_spool_destroy (&self->spool);
    zkv_sha256_destroy (&self->digest);
    zkv_image_reader_destroy (&self->reader);
    zkv_bulk_destroy (&self->bulk);
    free (self->buffer);
    self->buffer = NULL;
    self->installing = false;
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

static int
s_refuse (zkv_snapshot_in_t *self, char **error, const char *why)
{
    s_drop (self);
    if (why)
        *error = strdup (why);
    return -1;
}

//  Every record of the image goes into its family's table file
static int
s_record (void *arg, zkv_cf_t cf, const void *key, size_t key_size, const void *value,
          size_t value_size, char **error)
{
    zkv_snapshot_in_t *self = (zkv_snapshot_in_t *) arg;
    return zkv_bulk_put (self->bulk, cf, key, key_size, value, value_size, error);
}

int
zkv_snapshot_in_feed (zkv_snapshot_in_t *self, const zkv_snapshot_chunk_t *chunk, bool backlog,
                      char **error)
{
    //  One install at a time, to its end: another stream is the leader
    //  sending again what this member has not said it installed yet
    if (self->installing) {
        *error = strdup ("installing another snapshot");
        return -1;
    }
    if (chunk->seq == 0) {
        //  A new stream replaces any other under way
        s_drop (self);
        self->spool = zkv_spool_new (self->engine, "image", error);
        if (!self->spool)
            return s_refuse (self, error, NULL);
        self->digest = zkv_sha256_new ();
        self->reader = zkv_image_reader_new (s_record, self);
        self->bulk = zkv_bulk_new (self->engine);
        self->buffer = (uint8_t *) malloc (ZKV_SNAPSHOT_CHUNK);
        if (!self->digest || !self->reader || !self->bulk || !self->buffer)
            return s_refuse (self, error, "out of memory");
        self->stream = chunk->stream;
        self->from = chunk->from;
        self->next_seq = 0;
    }
    if (!self->spool || chunk->stream != self->stream || chunk->from != self->from
    ||  chunk->seq != self->next_seq)
        return s_refuse (self, error, "snapshot chunk out of order");
    self->next_seq++;
    zkv_sha256_update (self->digest, chunk->data.data, chunk->data.size);
    //  Nothing waiting, neither in the spool nor behind this chunk: it is
    //  read into table files at once, and never goes through the spool
    //  (two copies of it less); otherwise it lands there, in its turn
    int rc = !backlog && zkv_spool_unread (self->spool) == 0
           ? zkv_image_reader_feed (self->reader, chunk->data.data, chunk->data.size, error)
           : zkv_spool_write (self->spool, chunk->data.data, chunk->data.size, error);
    if (rc)
        return s_refuse (self, error, NULL);
    if (!chunk->last)
        return 0;

    uint8_t sum [ZKV_IMAGE_DIGEST_SIZE];
    zkv_sha256_digest (self->digest, sum);
    if (chunk->digest.size != sizeof sum || memcmp (chunk->digest.data, sum, sizeof sum) != 0)
        return s_refuse (self, error, "snapshot digest mismatch");
    self->index = chunk->index;
    self->term = chunk->term;
    self->installing = true;
    return 1;
}

bool
zkv_snapshot_in_installing (zkv_snapshot_in_t *self)
{
    return self->installing;
}

bool
zkv_snapshot_in_has_step (zkv_snapshot_in_t *self)
{
    return self->installing || (self->spool && zkv_spool_unread (self->spool) > 0);
}

int
zkv_snapshot_in_step (zkv_snapshot_in_t *self, char **error)
{
    if (!self->spool) {
        *error = strdup ("no snapshot to install");
        return -1;
    }
    ssize_t size = zkv_spool_read (self->spool, self->buffer, ZKV_SNAPSHOT_CHUNK, error);
    if (size < 0)
        return s_refuse (self, error, NULL);
    //  What came so far: read ahead of the digest (files that would be
    //  removed if it did not match, nothing replaced before it does)
    if (size > 0)
        return zkv_image_reader_feed (self->reader, self->buffer, (size_t) size, error)
             ? s_refuse (self, error, NULL): 0;
    if (!self->installing)
        return 0;                       //  the rest has not come yet
    //  All read (the spool goes: the disk then holds the state twice at
    //  most, its table files and RocksDB's copies): the image must be
    //  whole, and what its stream said
    zkv_spool_destroy (&self->spool);
    if (!zkv_image_reader_done (self->reader))
        return s_refuse (self, error, "snapshot image cut short");
    const zkv_image_header_t *header = zkv_image_reader_header (self->reader);
    if (header->applied_index != self->index || header->applied_term != self->term)
        return s_refuse (self, error, "snapshot image at another index than its stream");
    //  Every family the image carries is replaced, also one it has no
    //  record of (emptied)
    unsigned families = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (zkv_image_carries ((zkv_cf_t) cf))
            families |= ZKV_BULK_FAMILY (cf);
    int rc = zkv_bulk_replace (self->bulk, families, error);
    s_drop (self);
    return rc? -1: 1;
}

uint64_t
zkv_snapshot_in_index (zkv_snapshot_in_t *self)
{
    return self->installing? self->index: 0;
}

void
zkv_snapshot_in_cancel (zkv_snapshot_in_t *self)
{
    s_drop (self);
}

size_t
zkv_snapshot_in_held (zkv_snapshot_in_t *self)
{
    return sizeof *self + (self->buffer? ZKV_SNAPSHOT_CHUNK: 0)
         + (self->reader? zkv_image_reader_held (self->reader): 0)
         + (self->bulk? zkv_bulk_held (self->bulk): 0);
}
