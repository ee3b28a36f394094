/*  =========================================================================
    zkv_mvcc.c — the MVCC store's lifecycle, meta records and batches.
    =========================================================================
*/
#include "zkv_mvcc_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
zkv_mvcc_meta_get (zkv_engine_t *engine, const char *name, int64_t *value, char **error)
{
    uint64_t number;
    int found = zkv_engine_get_u64 (engine, ZKV_CF_META, name, &number, error);
    if (found > 0)
        *value = (int64_t) number;
    return found < 0? -1: 0;
}

static void
s_meta_put (rocksdb_writebatch_wi_t *batch, rocksdb_column_family_handle_t *meta,
            const char *name, int64_t value)
{
    uint8_t bytes [8];
    zkv_be64_put (bytes, (uint64_t) value);
    rocksdb_writebatch_wi_put_cf (batch, meta, name, strlen (name), (const char *) bytes, 8);
}

static int
s_count_key (void *arg, zkv_bin_t key, const s_found_t *found)
{
    (void) key;
    (void) found;
    (*(int64_t *) arg)++;
    return 0;
}

//  Counts the keys live now, into self->keys
static int
s_count_keys (zkv_mvcc_t *self, char **error)
{
    zkv_result_t status;
    int64_t count = 0;
    if (zkv_mvcc_visit (self, zkv_bin ("", 0), zkv_bin ("\0", 1), INT64_MAX, s_count_key,
                        &count, &status)) {
        char text [256];
        *error = strdup (zkv_status_text (&status, text, sizeof text));
        return -1;
    }
    self->keys = count;
    return 0;
}

zkv_mvcc_t *
zkv_mvcc_new (zkv_engine_t *engine, char **error)
{
    zkv_mvcc_t *self = (zkv_mvcc_t *) calloc (1, sizeof (zkv_mvcc_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->engine = engine;
    self->revision = 1;
    self->compact_revision = -1;
    self->finished_compact = -1;
    int64_t applied_index = 0, applied_term = 0;
    if (zkv_mvcc_meta_get (engine, ZKV_META_REVISION, &self->revision, error)
    ||  zkv_mvcc_meta_get (engine, ZKV_META_SCHEDULED_COMPACT, &self->compact_revision, error)
    ||  zkv_mvcc_meta_get (engine, ZKV_META_FINISHED_COMPACT, &self->finished_compact, error)
    ||  zkv_mvcc_meta_get (engine, ZKV_META_APPLIED_INDEX, &applied_index, error)
    ||  zkv_mvcc_meta_get (engine, ZKV_META_APPLIED_TERM, &applied_term, error)) {
        free (self);
        return NULL;
    }
    self->applied_index = (uint64_t) applied_index;
    self->applied_term = (uint64_t) applied_term;
    //  A database from before the count: counted once, written with the
    //  next commit
    self->keys = -1;
    if (zkv_mvcc_meta_get (engine, ZKV_META_KEYS, &self->keys, error)
    ||  (self->keys < 0 && s_count_keys (self, error))) {
        free (self);
        return NULL;
    }
    return self;
}

void
zkv_mvcc_destroy (zkv_mvcc_t **self_p)
{
    zkv_mvcc_t *self = *self_p;
    if (!self)
        return;
    if (self->batch)
        rocksdb_writebatch_wi_destroy (self->batch);
    free (self->compact_cursor);
    free (self);
    *self_p = NULL;
}

int64_t
zkv_mvcc_keys (zkv_mvcc_t *self)
{
    return self->keys;
}

int64_t
zkv_mvcc_revision (zkv_mvcc_t *self)
{
    return self->revision;
}

int64_t
zkv_mvcc_compact_revision (zkv_mvcc_t *self)
{
    return zkv_mvcc_current_compact (self);
}

uint64_t
zkv_mvcc_applied_index (zkv_mvcc_t *self)
{
    return self->applied_index;
}

uint64_t
zkv_mvcc_applied_term (zkv_mvcc_t *self)
{
    return self->applied_term;
}

void
zkv_mvcc_begin (zkv_mvcc_t *self)
{
    if (!self->batch)                   //  overwrite_key: reads see the latest write
        self->batch = rocksdb_writebatch_wi_create (0, 1);
    else
        rocksdb_writebatch_wi_clear (self->batch);
    self->batch_revision = self->revision;
    self->batch_compact = self->compact_revision;
    self->batch_keys = self->keys;
}

void
zkv_mvcc_put_raw (zkv_mvcc_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                  const void *value, size_t value_size)
{
    rocksdb_writebatch_wi_put_cf (self->batch, zkv_engine_cf (self->engine, cf),
                                  (const char *) key, key_size, (const char *) value, value_size);
}

void
zkv_mvcc_delete_raw (zkv_mvcc_t *self, zkv_cf_t cf, const void *key, size_t key_size)
{
    rocksdb_writebatch_wi_delete_cf (self->batch, zkv_engine_cf (self->engine, cf),
                                     (const char *) key, key_size);
}

int
zkv_mvcc_commit (zkv_mvcc_t *self, uint64_t applied_index, uint64_t applied_term,
                 char **error)
{
    rocksdb_column_family_handle_t *meta = zkv_engine_cf (self->engine, ZKV_CF_META);
    s_meta_put (self->batch, meta, ZKV_META_APPLIED_INDEX, (int64_t) applied_index);
    s_meta_put (self->batch, meta, ZKV_META_APPLIED_TERM, (int64_t) applied_term);
    if (self->batch_revision != self->revision)
        s_meta_put (self->batch, meta, ZKV_META_REVISION, self->batch_revision);
    if (self->batch_compact != self->compact_revision)
        s_meta_put (self->batch, meta, ZKV_META_SCHEDULED_COMPACT, self->batch_compact);
    if (self->batch_keys != self->keys || self->batch_revision != self->revision)
        s_meta_put (self->batch, meta, ZKV_META_KEYS, self->batch_keys);
    int rc = zkv_engine_write_wi (self->engine, self->batch, false, error);
    rocksdb_writebatch_wi_destroy (self->batch);
    self->batch = NULL;
    if (rc)
        return -1;
    self->revision = self->batch_revision;
    self->keys = self->batch_keys;
    if (self->batch_compact != self->compact_revision) {
        self->compact_revision = self->batch_compact;
        free (self->compact_cursor);    //  the next steps start from the first key
        self->compact_cursor = NULL;
        self->compact_cursor_size = 0;
        self->compact_inside = false;
    }
    self->applied_index = applied_index;
    self->applied_term = applied_term;
    return 0;
}

//  ---------------------------------------------------------------------
//  Helpers shared by the other files

rocksdb_iterator_t *
zkv_mvcc_iterator (zkv_mvcc_t *self, zkv_cf_t cf, rocksdb_readoptions_t *options,
                   const void *upper, size_t upper_size)
{
    rocksdb_iterator_t *base = zkv_engine_iterator_below (self->engine, cf, options,
                                                          upper, upper_size);
    if (!self->batch || rocksdb_writebatch_wi_count (self->batch) == 0)
        return base;
    return rocksdb_writebatch_wi_create_iterator_with_base_cf (
        self->batch, base, zkv_engine_cf (self->engine, cf));
}

int
zkv_mvcc_get (zkv_mvcc_t *self, zkv_cf_t cf, const void *key, size_t key_size,
              char **value, size_t *value_size, zkv_result_t *status)
{
    char *err = NULL;
    int found = self->batch && rocksdb_writebatch_wi_count (self->batch) > 0
              ? zkv_engine_get_wi (self->engine, self->batch, cf, key, key_size, value,
                                   value_size, &err)
              : zkv_engine_get (self->engine, cf, key, key_size, value, value_size, &err);
    if (found < 0)
        return zkv_mvcc_rocksdb_error (status, err);
    return found;
}

int
zkv_mvcc_rocksdb_error (zkv_result_t *status, char *err)
{
    zkv_status_set (status, ZKV_ERR_INTERNAL, "rocksdb: %s", err? err: "unknown error");
    free (err);
    return -1;
}

void *
zkv_mvcc_copy (msgpack_zone *zone, const void *data, size_t size)
{
    void *copy = msgpack_zone_malloc (zone, size? size: 1);
    if (copy && size)
        memcpy (copy, data, size);
    return copy;
}

zkv_header_t *
zkv_mvcc_header (msgpack_zone *zone, int64_t revision)
{
    zkv_header_t *header = (zkv_header_t *) msgpack_zone_malloc (zone, sizeof (zkv_header_t));
    if (header) {
        memset (header, 0, sizeof *header);
        header->revision = revision;
    }
    return header;
}

void
zkv_mvcc_set_limits (zkv_mvcc_t *self, const zkv_mvcc_limits_t *limits)
{
    self->limits = *limits;
    self->reply_bytes = 0;
}

int
zkv_mvcc_reply_take (zkv_mvcc_t *self, const zkv_key_value_t *kv, zkv_result_t *status)
{
    self->reply_bytes += kv->key.size + kv->value.size + ZKV_MVCC_REPLY_KV_OVERHEAD;
    if (self->limits.max_reply_bytes && self->reply_bytes > self->limits.max_reply_bytes)
        return zkv_status_set (status, ZKV_ERR_RESPONSE_TOO_LARGE,
                               "its key-values pass %llu bytes (--max-response-bytes): ask for "
                               "fewer (a limit, a narrower range, keys only)",
                               (unsigned long long) self->limits.max_reply_bytes);
    return 0;
}
