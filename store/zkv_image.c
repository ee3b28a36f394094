/*  =========================================================================
    zkv_image.c — a member's state as one stream of bytes (see
    zkv_image.h).
    =========================================================================
*/
#include "zkv_image.h"
#include "zkv_members.h"
#include "zkv_bulk.h"
#include "zkv_hash.h"
#include "zkv_mvcc_private.h"
#include "zkv_scan.h"
#include "zkv_sha256.h"
#include "zkv_wire.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "ZKVIMG\x00\x01"
#define MAGIC_SIZE 8
#define REFILL (64 * 1024)              //  bytes encoded ahead of the reader
#define HEADER_FIELDS 5
#define MAX_RECORD (256 << 20)          //  bytes one record of an image may take

//  ---------------------------------------------------------------------
//  Writer

struct zkv_image_writer_s {
    zkv_engine_t *engine;
    const rocksdb_snapshot_t *snapshot;
    zkv_image_header_t header;
    int family;                         //  next family to walk (ZKV_CF_COUNT: done)
    rocksdb_iterator_t *it;             //  over family - 1, NULL between families
    bool ended;                         //  the end marker is encoded
    msgpack_sbuffer pending;            //  encoded, not yet given
    size_t given;                       //  of pending
    zkv_sha256_t *digest;
    bool digested;                      //  the image was all given, sum is set
    uint8_t sum [ZKV_IMAGE_DIGEST_SIZE];
};

bool
zkv_image_carries (zkv_cf_t cf)
{
    return cf != ZKV_CF_RAFT_LOG && cf != ZKV_CF_DEFAULT && cf < ZKV_CF_COUNT;
}

static void
s_pack_str (msgpack_packer *pk, const char *text)
{
    msgpack_pack_str_with_body (pk, text, strlen (text));
}

static void
s_pack_header (msgpack_packer *pk, const zkv_image_header_t *header)
{
    msgpack_pack_map (pk, HEADER_FIELDS);
    s_pack_str (pk, "storage_version");
    s_pack_str (pk, header->storage_version);
    s_pack_str (pk, "revision");
    msgpack_pack_int64 (pk, header->revision);
    s_pack_str (pk, "compact_revision");
    msgpack_pack_int64 (pk, header->compact_revision);
    s_pack_str (pk, "applied_index");
    msgpack_pack_uint64 (pk, header->applied_index);
    s_pack_str (pk, "applied_term");
    msgpack_pack_uint64 (pk, header->applied_term);
}

zkv_image_writer_t *
zkv_image_writer_new (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot, char **error)
{
    zkv_hash_state_t state;
    if (zkv_hash_state (engine, snapshot, &state, error))
        return NULL;
    zkv_image_writer_t *self = (zkv_image_writer_t *) calloc (1, sizeof (zkv_image_writer_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->engine = engine;
    self->snapshot = snapshot;
    snprintf (self->header.storage_version, sizeof self->header.storage_version, "%s",
              ZKV_STORAGE_VERSION);
    self->header.revision = state.revision;
    self->header.compact_revision = state.compact_revision;
    self->header.applied_index = state.applied_index;
    self->header.applied_term = state.applied_term;
    msgpack_sbuffer_init (&self->pending);
    msgpack_sbuffer_write (&self->pending, MAGIC, MAGIC_SIZE);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->pending, msgpack_sbuffer_write);
    s_pack_header (&pk, &self->header);
    self->digest = zkv_sha256_new ();
    if (!self->digest) {
        *error = strdup ("out of memory");
        zkv_image_writer_destroy (&self);
    }
    return self;
}

void
zkv_image_writer_destroy (zkv_image_writer_t **self_p)
{
    zkv_image_writer_t *self = *self_p;
    if (!self)
        return;
    if (self->it)
        rocksdb_iter_destroy (self->it);
    msgpack_sbuffer_destroy (&self->pending);
    zkv_sha256_destroy (&self->digest);
    free (self);
    *self_p = NULL;
}

const zkv_image_header_t *
zkv_image_writer_header (zkv_image_writer_t *self)
{
    return &self->header;
}

//  Bytes msgpack takes for a str or bin header of size bytes
static uint64_t
s_str_header (size_t size)
{
    return size < 32? 1: size < 256? 2: size < 65536? 3: 5;
}

static uint64_t
s_bin_header (size_t size)
{
    return size < 256? 2: size < 65536? 3: 5;
}

//  A walk that measures the image: the records of each part, summed
typedef struct {
    zkv_image_writer_t *writer;
    const atomic_bool *cancel;
    zkv_scan_part_t parts [ZKV_CF_COUNT + ZKV_SCAN_KEY_PARTS];
    uint64_t bytes [ZKV_CF_COUNT + ZKV_SCAN_KEY_PARTS];
    atomic_bool cancelled;
} s_sizing_t;

static void
s_size_part (void *arg, size_t index)
{
    s_sizing_t *sizing = (s_sizing_t *) arg;
    zkv_image_writer_t *self = sizing->writer;
    const zkv_scan_part_t *part = &sizing->parts [index];
    size_t name = strlen (zkv_cf_name (part->cf));
    uint64_t total = 0;
    size_t seen = 0;
    zkv_scan_cursor_t cursor;
    zkv_scan_open (&cursor, self->engine, self->snapshot, part);
    for (; rocksdb_iter_valid (cursor.it); rocksdb_iter_next (cursor.it)) {
        size_t key_size, value_size;
        rocksdb_iter_key (cursor.it, &key_size);
        rocksdb_iter_value (cursor.it, &value_size);
        total += 1 + s_str_header (name) + name + s_bin_header (key_size) + key_size
               + s_bin_header (value_size) + value_size;
        if (++seen % 4096 == 0
        &&  (atomic_load (&sizing->cancelled)
             || (sizing->cancel && atomic_load (sizing->cancel)))) {
            atomic_store (&sizing->cancelled, true);
            break;
        }
    }
    char *err = NULL;
    if (zkv_engine_iter_error (self->engine, cursor.it, &err))
        free (err);                     //  the stream meets it too, and fails
    zkv_scan_close (&cursor);
    sizing->bytes [index] = total;
}

uint64_t
zkv_image_writer_size (zkv_image_writer_t *self, const atomic_bool *cancel)
{
    //  Every carried family, the `key` family in parts, walked at once
    //  (zkv_scan.h); the index, the one large family walked whole, first
    s_sizing_t *sizing = (s_sizing_t *) calloc (1, sizeof (s_sizing_t));
    if (!sizing)
        return 0;
    sizing->writer = self;
    sizing->cancel = cancel;
    atomic_init (&sizing->cancelled, false);
    size_t count = 0;
    zkv_scan_whole (&sizing->parts [count++], ZKV_CF_INDEX);
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        if (!zkv_image_carries ((zkv_cf_t) cf) || cf == ZKV_CF_INDEX)
            continue;
        int split = 0;
        if (cf == ZKV_CF_KEY) {
            char *error = NULL;
            split = zkv_scan_split_keys (self->engine, self->snapshot, INT64_MAX,
                                         sizing->parts + count, ZKV_SCAN_KEY_PARTS, &error);
            if (split < 0) {
                free (error);
                free (sizing);
                return 0;
            }
        }
        if (split == 0)
            zkv_scan_whole (&sizing->parts [count++], (zkv_cf_t) cf);
        else
            count += (size_t) split;
    }
    zkv_scan_run (count, s_size_part, sizing);
    //  What the writer has encoded already: the magic and the header
    uint64_t total = self->pending.size + 1;        //  and the end marker
    for (size_t i = 0; i < count; i++)
        total += sizing->bytes [i];
    if (atomic_load (&sizing->cancelled))
        total = 0;
    free (sizing);
    return total;
}

//  Encodes the next records (or the end) into pending; -1 on an error
static int
s_refill (zkv_image_writer_t *self, char **error)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->pending, msgpack_sbuffer_write);
    while (self->pending.size < REFILL && !self->ended) {
        if (!self->it) {
            while (self->family < ZKV_CF_COUNT && !zkv_image_carries ((zkv_cf_t) self->family))
                self->family++;
            if (self->family == ZKV_CF_COUNT) {
                msgpack_pack_nil (&pk);
                self->ended = true;
                break;
            }
            self->it = zkv_engine_iterator (self->engine, (zkv_cf_t) self->family++,
                                            self->snapshot);
            rocksdb_iter_seek_to_first (self->it);
        }
        if (!rocksdb_iter_valid (self->it)) {
            char *err = NULL;
            zkv_engine_iter_error (self->engine, self->it, &err);
            rocksdb_iter_destroy (self->it);
            self->it = NULL;
            if (err) {
                *error = err;
                return -1;
            }
            continue;
        }
        size_t key_size, value_size;
        const char *key = rocksdb_iter_key (self->it, &key_size);
        const char *value = rocksdb_iter_value (self->it, &value_size);
        msgpack_pack_array (&pk, 3);
        s_pack_str (&pk, zkv_cf_name ((zkv_cf_t) (self->family - 1)));
        msgpack_pack_bin_with_body (&pk, key, key_size);
        msgpack_pack_bin_with_body (&pk, value, value_size);
        rocksdb_iter_next (self->it);
    }
    return 0;
}

ssize_t
zkv_image_writer_read (zkv_image_writer_t *self, uint8_t *buf, size_t size, char **error)
{
    size_t done = 0;
    while (done < size) {
        if (self->given == self->pending.size) {
            if (self->ended)
                break;
            msgpack_sbuffer_clear (&self->pending);
            self->given = 0;
            if (s_refill (self, error))
                return -1;
            continue;
        }
        size_t take = self->pending.size - self->given;
        if (take > size - done)
            take = size - done;
        memcpy (buf + done, self->pending.data + self->given, take);
        self->given += take;
        done += take;
    }
    if (!self->digested) {
        zkv_sha256_update (self->digest, buf, done);
        //  The last byte given: the digest is ready at once, for a reader
        //  that knows the size and asks no more
        if (self->ended && self->given == self->pending.size) {
            zkv_sha256_digest (self->digest, self->sum);
            self->digested = true;
        }
    }
    return (ssize_t) done;
}

void
zkv_image_writer_digest (zkv_image_writer_t *self, uint8_t digest [ZKV_IMAGE_DIGEST_SIZE])
{
    memcpy (digest, self->sum, ZKV_IMAGE_DIGEST_SIZE);
}

//  ---------------------------------------------------------------------
//  Reader

//  The reader checks each object's bytes (zkv_wire) before msgpack-c
//  unpacks it: msgpack-c would reserve memory for a forged container
//  header before reading its elements
struct zkv_image_reader_s {
    zkv_image_record_fn *record;
    void *arg;
    uint8_t *pending;                   //  bytes of the object not yet whole
    size_t pending_size;
    size_t pending_room;
    msgpack_zone *zone;
    uint8_t magic [MAGIC_SIZE];
    size_t magic_seen;
    bool has_header;
    bool done;
    bool failed;
    zkv_image_header_t header;
};

zkv_image_reader_t *
zkv_image_reader_new (zkv_image_record_fn *record, void *arg)
{
    zkv_image_reader_t *self = (zkv_image_reader_t *) calloc (1, sizeof (zkv_image_reader_t));
    if (!self)
        return NULL;
    self->zone = msgpack_zone_new (REFILL);
    if (!self->zone) {
        free (self);
        return NULL;
    }
    self->record = record;
    self->arg = arg;
    return self;
}

void
zkv_image_reader_destroy (zkv_image_reader_t **self_p)
{
    zkv_image_reader_t *self = *self_p;
    if (!self)
        return;
    msgpack_zone_free (self->zone);
    free (self->pending);
    free (self);
    *self_p = NULL;
}

static int
s_fail (zkv_image_reader_t *self, char **error, const char *why)
{
    self->failed = true;
    *error = strdup (why);
    return -1;
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen (name)
        && memcmp (key->via.str.ptr, name, key->via.str.size) == 0;
}

static bool
s_integer (const msgpack_object *value, int64_t *number)
{
    if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER && value->via.u64 <= INT64_MAX)
        *number = (int64_t) value->via.u64;
    else
    if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *number = value->via.i64;
    else
        return false;
    return true;
}

//  The header map: every field present, of its type
static int
s_header (zkv_image_reader_t *self, const msgpack_object *object, char **error)
{
    if (object->type != MSGPACK_OBJECT_MAP || object->via.map.size != HEADER_FIELDS)
        return s_fail (self, error, "not a snapshot image: bad header");
    int seen = 0;
    for (uint32_t i = 0; i < object->via.map.size; i++) {
        const msgpack_object *key = &object->via.map.ptr [i].key;
        const msgpack_object *value = &object->via.map.ptr [i].val;
        int64_t number = 0;
        bool ok;
        if (s_key_is (key, "storage_version")) {
            ok = value->type == MSGPACK_OBJECT_STR
              && value->via.str.size < sizeof self->header.storage_version;
            if (ok) {
                memcpy (self->header.storage_version, value->via.str.ptr, value->via.str.size);
                self->header.storage_version [value->via.str.size] = 0;
            }
            seen |= 1;
        }
        else {
            ok = s_integer (value, &number);
            if (s_key_is (key, "revision")) {
                self->header.revision = number;
                seen |= 2;
            }
            else
            if (s_key_is (key, "compact_revision")) {
                self->header.compact_revision = number;
                seen |= 4;
            }
            else
            if (s_key_is (key, "applied_index")) {
                ok = ok && number >= 0;
                self->header.applied_index = (uint64_t) number;
                seen |= 8;
            }
            else
            if (s_key_is (key, "applied_term")) {
                ok = ok && number >= 0;
                self->header.applied_term = (uint64_t) number;
                seen |= 16;
            }
            else
                ok = false;
        }
        if (!ok)
            return s_fail (self, error, "not a snapshot image: bad header");
    }
    if (seen != 31)
        return s_fail (self, error, "not a snapshot image: bad header");
    self->has_header = true;
    return 0;
}

static int
s_object (zkv_image_reader_t *self, const msgpack_object *object, char **error)
{
    if (self->done)
        return s_fail (self, error, "snapshot image: bytes after its end");
    if (!self->has_header)
        return s_header (self, object, error);
    if (object->type == MSGPACK_OBJECT_NIL) {
        self->done = true;
        return 0;
    }
    if (object->type != MSGPACK_OBJECT_ARRAY || object->via.array.size != 3
    ||  object->via.array.ptr [0].type != MSGPACK_OBJECT_STR
    ||  object->via.array.ptr [1].type != MSGPACK_OBJECT_BIN
    ||  object->via.array.ptr [2].type != MSGPACK_OBJECT_BIN)
        return s_fail (self, error, "snapshot image: a record of the wrong shape");
    const msgpack_object *item = object->via.array.ptr;
    zkv_cf_t cf = zkv_cf_by_name (item [0].via.str.ptr, item [0].via.str.size);
    if (cf == ZKV_CF_COUNT || !zkv_image_carries ((zkv_cf_t) cf))
        return s_fail (self, error, "snapshot image: a record of an unknown family");
    if (self->record (self->arg, cf, item [1].via.bin.ptr, item [1].via.bin.size,
                      item [2].via.bin.ptr, item [2].via.bin.size, error)) {
        self->failed = true;
        return -1;
    }
    return 0;
}

int
zkv_image_reader_feed (zkv_image_reader_t *self, const void *data, size_t size, char **error)
{
    if (self->failed)
        return s_fail (self, error, "snapshot image: reading already failed");
    const uint8_t *bytes = (const uint8_t *) data;
    while (self->magic_seen < MAGIC_SIZE && size > 0) {
        if (*bytes != (uint8_t) MAGIC [self->magic_seen])
            return s_fail (self, error, "not a snapshot image: bad magic");
        self->magic_seen++;
        bytes++;
        size--;
    }
    if (size == 0)
        return 0;
    if (self->done)
        return s_fail (self, error, "snapshot image: bytes after its end");
    //  Keep what is not a whole object yet, with what just came
    if (self->pending_size + size > self->pending_room) {
        size_t room = self->pending_room? self->pending_room: REFILL;
        while (room < self->pending_size + size)
            room *= 2;
        uint8_t *grown = (uint8_t *) realloc (self->pending, room);
        if (!grown)
            return s_fail (self, error, "out of memory");
        self->pending = grown;
        self->pending_room = room;
    }
    memcpy (self->pending + self->pending_size, bytes, size);
    self->pending_size += size;
    //  Each whole object: checked, unpacked, taken
    size_t offset = 0;
    int rc = 0;
    while (rc == 0 && offset < self->pending_size && !self->done) {
        size_t length;
        char why [128];
        int measured = zkv_wire_measure (self->pending + offset, self->pending_size - offset,
                                         2, HEADER_FIELDS, &length, why, sizeof why);
        if (measured > 0) {
            if (self->pending_size - offset > MAX_RECORD)
                rc = s_fail (self, error, "snapshot image: a record too large");
            break;                      //  the rest comes with the next bytes
        }
        if (measured < 0) {
            char text [192];
            snprintf (text, sizeof text, "snapshot image: not msgpack (%s)", why);
            rc = s_fail (self, error, text);
            break;
        }
        msgpack_object object;
        size_t used = 0;
        if (msgpack_unpack ((const char *) self->pending + offset, length, &used, self->zone,
                            &object) != MSGPACK_UNPACK_SUCCESS)
            rc = s_fail (self, error, "snapshot image: not msgpack");
        else
            rc = s_object (self, &object, error);
        msgpack_zone_clear (self->zone);
        offset += length;
    }
    if (rc == 0 && self->done && offset < self->pending_size)
        rc = s_fail (self, error, "snapshot image: bytes after its end");
    memmove (self->pending, self->pending + offset, self->pending_size - offset);
    self->pending_size -= offset;
    return rc;
}

bool
zkv_image_reader_done (zkv_image_reader_t *self)
{
    return self->done;
}

const zkv_image_header_t *
zkv_image_reader_header (zkv_image_reader_t *self)
{
    return self->has_header? &self->header: NULL;
}

size_t
zkv_image_reader_held (zkv_image_reader_t *self)
{
    return sizeof *self + self->pending_room;
}

//  ---------------------------------------------------------------------
//  Loader

struct zkv_image_loader_s {
    zkv_image_reader_t *reader;
    zkv_bulk_t *bulk;                   //  the records go into table files
};

static int
s_load_record (void *arg, zkv_cf_t cf, const void *key, size_t key_size, const void *value,
               size_t value_size, char **error)
{
    zkv_image_loader_t *self = (zkv_image_loader_t *) arg;
    if (cf == ZKV_CF_MEMBERS || (cf == ZKV_CF_META && zkv_members_is_meta (key, key_size)))
        return 0;                       //  the new membership replaces it
    if (cf == ZKV_CF_META && zkv_meta_is_own (key, key_size))
        return 0;                       //  a new raft log starts at 0
    return zkv_bulk_put (self->bulk, cf, key, key_size, value, value_size, error);
}

zkv_image_loader_t *
zkv_image_loader_new (zkv_engine_t *engine)
{
    zkv_image_loader_t *self = (zkv_image_loader_t *) calloc (1, sizeof (zkv_image_loader_t));
    if (!self)
        return NULL;
    self->reader = zkv_image_reader_new (s_load_record, self);
    self->bulk = zkv_bulk_new (engine);
    if (!self->reader || !self->bulk) {
        zkv_image_loader_destroy (&self);
        return NULL;
    }
    return self;
}

void
zkv_image_loader_destroy (zkv_image_loader_t **self_p)
{
    zkv_image_loader_t *self = *self_p;
    if (!self)
        return;
    zkv_image_reader_destroy (&self->reader);
    zkv_bulk_destroy (&self->bulk);
    free (self);
    *self_p = NULL;
}

int
zkv_image_loader_feed (zkv_image_loader_t *self, const void *data, size_t size, char **error)
{
    return zkv_image_reader_feed (self->reader, data, size, error);
}

int
zkv_image_loader_finish (zkv_image_loader_t *self, char **error)
{
    if (!zkv_image_reader_done (self->reader)) {
        *error = strdup ("snapshot image: cut short");
        return -1;
    }
    //  The new member's database is empty: every family the image
    //  carries but the membership gets the image's records
    unsigned families = 0;
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        if (zkv_image_carries ((zkv_cf_t) cf) && cf != ZKV_CF_MEMBERS)
            families |= ZKV_BULK_FAMILY (cf);
    return zkv_bulk_replace (self->bulk, families, error);
}

const zkv_image_header_t *
zkv_image_loader_header (zkv_image_loader_t *self)
{
    return zkv_image_reader_header (self->reader);
}
