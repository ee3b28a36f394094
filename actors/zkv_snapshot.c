/*  =========================================================================
    zkv_snapshot.c — state snapshots as chunk streams (see zkv_snapshot.h).
    =========================================================================
*/
#include "zkv_snapshot.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The families a snapshot carries: everything replicated
static const zkv_cf_t s_families [] = {
    ZKV_CF_KEY, ZKV_CF_INDEX, ZKV_CF_META, ZKV_CF_ALARM, ZKV_CF_MEMBERS
};
#define FAMILIES (sizeof s_families / sizeof s_families [0])

struct zkv_snapshot_out_s {
    zkv_engine_t *engine;
    const rocksdb_snapshot_t *snapshot;
    rocksdb_iterator_t *it;             //  over s_families [family]
    size_t family;
    uint64_t from, to, stream, index, term, seq;
    bool done;
    msgpack_sbuffer buffer;             //  the chunk being built
    crypto_hash_sha256_state digest;
    uint8_t sum [crypto_hash_sha256_BYTES];
};

zkv_snapshot_out_t *
zkv_snapshot_out_new (zkv_engine_t *engine, uint64_t from, uint64_t to, uint64_t stream,
                      uint64_t index, uint64_t term)
{
    zkv_snapshot_out_t *self = (zkv_snapshot_out_t *) calloc (1, sizeof (zkv_snapshot_out_t));
    if (!self)
        return NULL;
    self->engine = engine;
    self->snapshot = zkv_engine_snapshot (engine);
    self->from = from;
    self->to = to;
    self->stream = stream;
    self->index = index;
    self->term = term;
    self->it = zkv_engine_iterator (engine, s_families [0], self->snapshot);
    rocksdb_iter_seek_to_first (self->it);
    msgpack_sbuffer_init (&self->buffer);
    crypto_hash_sha256_init (&self->digest);
    return self;
}

void
zkv_snapshot_out_destroy (zkv_snapshot_out_t **self_p)
{
    zkv_snapshot_out_t *self = *self_p;
    if (!self)
        return;
    if (self->it)
        rocksdb_iter_destroy (self->it);
    zkv_engine_snapshot_release (self->engine, self->snapshot);
    msgpack_sbuffer_destroy (&self->buffer);
    free (self);
    *self_p = NULL;
}

bool
zkv_snapshot_out_next (zkv_snapshot_out_t *self, zkv_snapshot_chunk_t *chunk)
{
    if (self->done)
        return false;
    //  Records until the chunk is full: counted first, packed after, since
    //  an array header needs its count
    msgpack_sbuffer records;
    msgpack_sbuffer_init (&records);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &records, msgpack_sbuffer_write);
    size_t count = 0;
    while (records.size < ZKV_SNAPSHOT_CHUNK && self->it) {
        if (!rocksdb_iter_valid (self->it)) {
            rocksdb_iter_destroy (self->it);
            self->it = NULL;
            if (++self->family < FAMILIES) {
                self->it = zkv_engine_iterator (self->engine, s_families [self->family],
                                                self->snapshot);
                rocksdb_iter_seek_to_first (self->it);
            }
            continue;
        }
        size_t key_size, value_size;
        const char *key = rocksdb_iter_key (self->it, &key_size);
        const char *value = rocksdb_iter_value (self->it, &value_size);
        msgpack_pack_array (&pk, 3);
        msgpack_pack_uint8 (&pk, (uint8_t) s_families [self->family]);
        msgpack_pack_bin_with_body (&pk, key, key_size);
        msgpack_pack_bin_with_body (&pk, value, value_size);
        count++;
        rocksdb_iter_next (self->it);
    }
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, count);
    msgpack_sbuffer_write (&self->buffer, records.data, records.size);
    msgpack_sbuffer_destroy (&records);
    crypto_hash_sha256_update (&self->digest, (const uint8_t *) self->buffer.data,
                               self->buffer.size);

    memset (chunk, 0, sizeof *chunk);
    chunk->to = self->to;
    chunk->from = self->from;
    chunk->stream = self->stream;
    chunk->index = self->index;
    chunk->term = self->term;
    chunk->seq = self->seq++;
    chunk->data = zkv_bin (self->buffer.data, self->buffer.size);
    if (!self->it) {
        crypto_hash_sha256_final (&self->digest, self->sum);
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
    uint64_t stream, from, next_seq;
    crypto_hash_sha256_state digest;
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
//  a bound past any short key, then whatever longer key lies beyond it
static void
s_empty_family (zkv_snapshot_in_t *self, zkv_cf_t cf)
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
    rocksdb_iter_destroy (it);
}

static int
s_refuse (zkv_snapshot_in_t *self, char **error, const char *why)
{
    s_drop (self);
    *error = strdup (why);
    return -1;
}

int
zkv_snapshot_in_feed (zkv_snapshot_in_t *self, const zkv_snapshot_chunk_t *chunk, char **error)
{
    if (chunk->seq == 0) {
        //  A new stream replaces any other under way
        s_drop (self);
        self->batch = rocksdb_writebatch_create ();
        self->stream = chunk->stream;
        self->from = chunk->from;
        self->next_seq = 0;
        crypto_hash_sha256_init (&self->digest);
        for (size_t i = 0; i < FAMILIES; i++)
            s_empty_family (self, s_families [i]);
    }
    if (!self->batch || chunk->stream != self->stream || chunk->from != self->from
    ||  chunk->seq != self->next_seq)
        return s_refuse (self, error, "snapshot chunk out of order");
    self->next_seq++;
    crypto_hash_sha256_update (&self->digest, chunk->data.data, chunk->data.size);

    //  The records: an array of [family, key, value]
    msgpack_zone *zone = msgpack_zone_new (1 << 16);
    msgpack_object root;
    size_t offset = 0;
    int rc = 0;
    if (msgpack_unpack ((const char *) chunk->data.data, chunk->data.size, &offset, zone, &root)
        != MSGPACK_UNPACK_SUCCESS || offset != chunk->data.size
    ||  root.type != MSGPACK_OBJECT_ARRAY)
        rc = -1;
    for (uint32_t i = 0; rc == 0 && i < root.via.array.size; i++) {
        const msgpack_object *record = &root.via.array.ptr [i];
        if (record->type != MSGPACK_OBJECT_ARRAY || record->via.array.size != 3
        ||  record->via.array.ptr [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  record->via.array.ptr [1].type != MSGPACK_OBJECT_BIN
        ||  record->via.array.ptr [2].type != MSGPACK_OBJECT_BIN) {
            rc = -1;
            break;
        }
        uint64_t cf = record->via.array.ptr [0].via.u64;
        bool carried = false;
        for (size_t f = 0; f < FAMILIES; f++)
            carried |= s_families [f] == cf;
        if (!carried) {
            rc = -1;
            break;
        }
        const msgpack_object_bin *key = &record->via.array.ptr [1].via.bin;
        const msgpack_object_bin *value = &record->via.array.ptr [2].via.bin;
        rocksdb_writebatch_put_cf (self->batch, zkv_engine_cf (self->engine, (zkv_cf_t) cf),
                                   key->ptr, key->size, value->ptr, value->size);
    }
    msgpack_zone_free (zone);
    if (rc)
        return s_refuse (self, error, "corrupt snapshot chunk");
    if (!chunk->last)
        return 0;

    uint8_t sum [crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (&self->digest, sum);
    if (chunk->digest.size != sizeof sum || memcmp (chunk->digest.data, sum, sizeof sum) != 0)
        return s_refuse (self, error, "snapshot digest mismatch");
    char *err = NULL;
    rc = zkv_engine_write (self->engine, self->batch, true, &err);
    s_drop (self);
    if (rc) {
        *error = err;
        return -1;
    }
    return 1;
}
