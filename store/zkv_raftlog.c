/*  =========================================================================
    zkv_raftlog.c — raft log persistence (see zkv_raftlog.h).
    =========================================================================
*/
#include "zkv_raftlog.h"
#include "zkv_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_PREFIX 'e'
#define HARD_STATE_KEY "h"
#define SNAPSHOT_KEY "s"

struct zkv_raftlog_s {
    zkv_engine_t *engine;               //  not owned
    uint64_t first_index;
    uint64_t last_index;
    uint64_t last_term;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    zkv_hard_state_t hard_state;
};

static void
s_entry_key (uint64_t index, uint8_t key [9])
{
    key [0] = ENTRY_PREFIX;
    zkv_be64_put (key + 1, index);
}

static int
s_decode_entry (const void *bytes, size_t size, msgpack_zone *zone, zkv_entry_t *entry,
                char **error)
{
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_entry_t *decoded = (zkv_entry_t *) zkv_msg_decode_body (bytes, size, &zkv_entry_desc,
                                                                zone, &limits, &status);
    if (!decoded) {
        char text [256];
        size_t room = 300;
        *error = (char *) malloc (room);
        if (*error)
            snprintf (*error, room, "corrupt raft log entry: %s",
                      zkv_status_text (&status, text, sizeof text));
        return -1;
    }
    *entry = *decoded;
    return 0;
}

//  Reads the record at the one-byte key: count big-endian u64s. Returns 1,
//  0 when there is none, -1 on error (a record of another size is corrupt)
static int
s_get_u64s (zkv_engine_t *engine, const char *key, uint64_t *values, size_t count,
            const char *what, char **error)
{
    char *value;
    size_t size;
    int found = zkv_engine_get (engine, ZKV_CF_RAFT_LOG, key, 1, &value, &size, error);
    if (found <= 0)
        return found;
    if (size != 8 * count) {
        free (value);
        size_t room = 64;
        *error = (char *) malloc (room);
        if (*error)
            snprintf (*error, room, "corrupt %s", what);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        values [i] = zkv_be64_get ((const uint8_t *) value + 8 * i);
    free (value);
    return 1;
}

zkv_raftlog_t *
zkv_raftlog_new (zkv_engine_t *engine, char **error)
{
    zkv_raftlog_t *self = (zkv_raftlog_t *) calloc (1, sizeof (zkv_raftlog_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->engine = engine;
    uint64_t hard [3], point [2];
    int found = s_get_u64s (engine, HARD_STATE_KEY, hard, 3, "raft hard state", error);
    if (found < 0)
        goto failed;
    if (found) {
        self->hard_state.term = hard [0];
        self->hard_state.vote = hard [1];
        self->hard_state.commit = hard [2];
    }
    found = s_get_u64s (engine, SNAPSHOT_KEY, point, 2, "raft snapshot point", error);
    if (found < 0)
        goto failed;
    if (found) {
        self->snapshot_index = point [0];
        self->snapshot_term = point [1];
    }
    //  First and last entries: the two ends of the 'e' prefix
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_RAFT_LOG, NULL);
    uint8_t key [9];
    size_t size;
    s_entry_key (0, key);
    rocksdb_iter_seek (it, (const char *) key, sizeof key);
    if (rocksdb_iter_valid (it)) {
        const char *k = rocksdb_iter_key (it, &size);
        if (size == 9 && k [0] == ENTRY_PREFIX) {
            self->first_index = zkv_be64_get ((const uint8_t *) k + 1);
            s_entry_key (UINT64_MAX, key);
            rocksdb_iter_seek_for_prev (it, (const char *) key, sizeof key);
            k = rocksdb_iter_key (it, &size);
            self->last_index = zkv_be64_get ((const uint8_t *) k + 1);
            size_t value_size;
            const char *bytes = rocksdb_iter_value (it, &value_size);
            msgpack_zone *zone = msgpack_zone_new (8192);
            zkv_entry_t entry;
            int rc = zone? s_decode_entry (bytes, value_size, zone, &entry, error): -1;
            if (rc == 0)
                self->last_term = entry.term;
            else
            if (!zone)
                *error = strdup ("out of memory");
            if (zone)
                msgpack_zone_free (zone);
            if (rc) {
                rocksdb_iter_destroy (it);
                goto failed;
            }
        }
    }
    char *err = NULL;
    zkv_engine_iter_error (engine, it, &err);
    rocksdb_iter_destroy (it);
    if (err) {
        *error = err;
        goto failed;
    }
    if (self->last_index == 0 || self->last_index <= self->snapshot_index) {
        self->first_index = self->snapshot_index + 1;
        self->last_index = self->snapshot_index;
        self->last_term = self->snapshot_term;
    }
    return self;

failed:
    free (self);
    return NULL;
}

void
zkv_raftlog_destroy (zkv_raftlog_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
zkv_raftlog_snapshot_index (zkv_raftlog_t *self)
{
    return self->snapshot_index;
}

uint64_t
zkv_raftlog_snapshot_term (zkv_raftlog_t *self)
{
    return self->snapshot_term;
}

//  Adds to batch: drop entries [from, to), record the snapshot point
static void
s_drop_and_mark (zkv_raftlog_t *self, rocksdb_writebatch_t *batch, uint64_t from, uint64_t to,
                 uint64_t index, uint64_t term)
{
    rocksdb_column_family_handle_t *cf = zkv_engine_cf (self->engine, ZKV_CF_RAFT_LOG);
    uint8_t lo [9], hi [9];
    s_entry_key (from, lo);
    s_entry_key (to, hi);
    rocksdb_writebatch_delete_range_cf (batch, cf, (const char *) lo, sizeof lo,
                                        (const char *) hi, sizeof hi);
    uint8_t point [16];
    zkv_be64_put (point, index);
    zkv_be64_put (point + 8, term);
    rocksdb_writebatch_put_cf (batch, cf, SNAPSHOT_KEY, 1, (const char *) point, sizeof point);
}

int
zkv_raftlog_compact (zkv_raftlog_t *self, uint64_t index, uint64_t term, char **error)
{
    if (index <= self->snapshot_index)
        return 0;
    if (index > self->last_index) {
        *error = strdup ("cannot compact the raft log past its end");
        return -1;
    }
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    s_drop_and_mark (self, batch, 0, index + 1, index, term);
    //  Not synced: losing it only means compacting again
    int rc = zkv_engine_write (self->engine, batch, false, error);
    rocksdb_writebatch_destroy (batch);
    if (rc)
        return -1;
    self->snapshot_index = index;
    self->snapshot_term = term;
    self->first_index = index + 1;
    return 0;
}

int
zkv_raftlog_install (zkv_raftlog_t *self, uint64_t index, uint64_t term, char **error)
{
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    s_drop_and_mark (self, batch, 0, UINT64_MAX, index, term);
    //  The replacement that installed it is recorded now
    rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (self->engine, ZKV_CF_RAFT_LOG),
                                  ZKV_ENGINE_REPLACED_KEY, strlen (ZKV_ENGINE_REPLACED_KEY));
    int rc = zkv_engine_write (self->engine, batch, true, error);
    rocksdb_writebatch_destroy (batch);
    if (rc)
        return -1;
    self->snapshot_index = index;
    self->snapshot_term = term;
    self->first_index = index + 1;
    self->last_index = index;
    self->last_term = term;
    return 0;
}

int
zkv_raftlog_settle_replace (zkv_raftlog_t *self, char **error)
{
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    rocksdb_writebatch_delete_cf (batch, zkv_engine_cf (self->engine, ZKV_CF_RAFT_LOG),
                                  ZKV_ENGINE_REPLACED_KEY, strlen (ZKV_ENGINE_REPLACED_KEY));
    int rc = zkv_engine_write (self->engine, batch, true, error);
    rocksdb_writebatch_destroy (batch);
    return rc;
}

uint64_t
zkv_raftlog_first_index (zkv_raftlog_t *self)
{
    return self->first_index;
}

uint64_t
zkv_raftlog_last_index (zkv_raftlog_t *self)
{
    return self->last_index;
}

uint64_t
zkv_raftlog_last_term (zkv_raftlog_t *self)
{
    return self->last_term;
}

zkv_hard_state_t
zkv_raftlog_hard_state (zkv_raftlog_t *self)
{
    return self->hard_state;
}

int
zkv_raftlog_append (zkv_raftlog_t *self, const zkv_entry_t *entries, size_t count,
                    const zkv_hard_state_t *hard_state, bool sync, char **error)
{
    rocksdb_column_family_handle_t *cf = zkv_engine_cf (self->engine, ZKV_CF_RAFT_LOG);
    rocksdb_writebatch_t *batch = rocksdb_writebatch_create ();
    if (count && entries [0].index <= self->last_index) {
        //  Replace the conflicting suffix
        uint8_t from [9], to [9];
        s_entry_key (entries [0].index, from);
        s_entry_key (self->last_index + 1, to);
        rocksdb_writebatch_delete_range_cf (batch, cf, (const char *) from, sizeof from,
                                            (const char *) to, sizeof to);
    }
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        size_t size;
        uint8_t *bytes = zkv_msg_encode_body (&zkv_entry_desc, &entries [i], &size);
        if (!bytes) {
            *error = strdup ("out of memory");
            rc = -1;
            break;
        }
        uint8_t key [9];
        s_entry_key (entries [i].index, key);
        rocksdb_writebatch_put_cf (batch, cf, (const char *) key, sizeof key,
                                   (const char *) bytes, size);
        free (bytes);
    }
    if (rc == 0 && hard_state) {
        uint8_t bytes [24];
        zkv_be64_put (bytes, hard_state->term);
        zkv_be64_put (bytes + 8, hard_state->vote);
        zkv_be64_put (bytes + 16, hard_state->commit);
        rocksdb_writebatch_put_cf (batch, cf, HARD_STATE_KEY, 1, (const char *) bytes, 24);
    }
    if (rc == 0)
        rc = zkv_engine_write (self->engine, batch, sync, error);
    rocksdb_writebatch_destroy (batch);
    if (rc)
        return -1;
    if (count) {
        self->last_index = entries [count - 1].index;
        self->last_term = entries [count - 1].term;
    }
    if (hard_state)
        self->hard_state = *hard_state;
    return 0;
}

int
zkv_raftlog_entries (zkv_raftlog_t *self, uint64_t lo, uint64_t hi, msgpack_zone *zone,
                     zkv_entry_list_t *entries, char **error)
{
    memset (entries, 0, sizeof *entries);
    if (lo < self->first_index || hi > self->last_index + 1 || lo > hi) {
        *error = strdup ("raft log entries out of the stored range");
        return -1;
    }
    if (lo == hi)
        return 0;
    entries->items = (zkv_entry_t *) msgpack_zone_malloc (zone, (hi - lo) * sizeof (zkv_entry_t));
    if (!entries->items) {
        *error = strdup ("out of memory");
        return -1;
    }
    rocksdb_iterator_t *it = zkv_engine_iterator (self->engine, ZKV_CF_RAFT_LOG, NULL);
    uint8_t key [9];
    s_entry_key (lo, key);
    rocksdb_iter_seek (it, (const char *) key, sizeof key);
    int rc = 0;
    for (uint64_t index = lo; index < hi && rc == 0; index++) {
        size_t size;
        const char *k = rocksdb_iter_valid (it)? rocksdb_iter_key (it, &size): NULL;
        if (!k || size != 9 || k [0] != ENTRY_PREFIX
        ||  zkv_be64_get ((const uint8_t *) k + 1) != index) {
            *error = strdup ("raft log has a hole");
            rc = -1;
            break;
        }
        size_t value_size;
        const char *value = rocksdb_iter_value (it, &value_size);
        //  The decoded entry points into its bytes: keep a copy in zone
        void *copy = msgpack_zone_malloc (zone, value_size? value_size: 1);
        if (!copy) {
            *error = strdup ("out of memory");
            rc = -1;
            break;
        }
        memcpy (copy, value, value_size);
        rc = s_decode_entry (copy, value_size, zone, &entries->items [index - lo], error);
        rocksdb_iter_next (it);
    }
    if (rc == 0) {
        char *err = NULL;
        zkv_engine_iter_error (self->engine, it, &err);
        if (err) {
            *error = err;
            rc = -1;
        }
    }
    rocksdb_iter_destroy (it);
    if (rc == 0)
        entries->count = hi - lo;
    return rc;
}
