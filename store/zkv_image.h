/*  =========================================================================
    zkv_image.h — a member's state as one stream of bytes: the image that
    the Snapshot RPC sends, `zkvctl snapshot save` writes (followed by its
    SHA-256, as etcd's files are), `snapshot status` reads and `snapshot
    restore` installs. Format (docs/PROTOCOL.md, "Snapshot image"):

        "ZKVIMG" 00 01                   magic and format version 1
        msgpack map                      storage_version, revision,
                                         compact_revision, applied_index,
                                         applied_term
        msgpack [family, key, value]...  every record of every family but
                                         the raft log (str, bin, bin), in
                                         family then key order
        msgpack nil                      the end

    The writer reads one RocksDB snapshot, so the image is the state at
    exactly one applied index. The writer keeps the SHA-256 of the bytes
    it gave; a reader's caller checks it (a stream's or a file's), so the
    reader does not compute it again. No sockets; the writer's size walk
    runs in parts on threads joined before it returns (zkv_scan.h).
    =========================================================================
*/
#ifndef ZKV_IMAGE_H_INCLUDED
#define ZKV_IMAGE_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zkv_engine.h"

#define ZKV_IMAGE_DIGEST_SIZE 32        //  SHA-256

typedef struct {
    char storage_version [32];
    int64_t revision;
    int64_t compact_revision;
    uint64_t applied_index;
    uint64_t applied_term;
} zkv_image_header_t;

//  True for the families an image carries: every one but the raft log
//  and RocksDB's unused default
bool
    zkv_image_carries (zkv_cf_t cf);

typedef struct zkv_image_writer_s zkv_image_writer_t;
typedef struct zkv_image_reader_s zkv_image_reader_t;

//  An image of engine at snapshot (which must outlive the writer)
zkv_image_writer_t *
    zkv_image_writer_new (zkv_engine_t *engine, const rocksdb_snapshot_t *snapshot,
                          char **error);

void
    zkv_image_writer_destroy (zkv_image_writer_t **self_p);

//  The image's size in bytes, exactly (a walk over the snapshot's sizes);
//  0 if *cancel (when not NULL) became true during the walk
uint64_t
    zkv_image_writer_size (zkv_image_writer_t *self, const atomic_bool *cancel);

//  Its header
const zkv_image_header_t *
    zkv_image_writer_header (zkv_image_writer_t *self);

//  Fills buf with up to size next bytes of the image. Returns how many
//  (less than size only at the end; 0 once all were given), or -1 with
//  *error on a RocksDB failure.
ssize_t
    zkv_image_writer_read (zkv_image_writer_t *self, uint8_t *buf, size_t size, char **error);

//  The SHA-256 of every byte given, once all were (as soon as the last
//  byte was given, even if no read returned 0 yet)
void
    zkv_image_writer_digest (zkv_image_writer_t *self, uint8_t digest [ZKV_IMAGE_DIGEST_SIZE]);

//  What a reader hands on: one record, valid during the call. Returns 0,
//  or -1 with *error to stop the reading.
typedef int (zkv_image_record_fn) (void *arg, zkv_cf_t cf, const void *key, size_t key_size,
                                   const void *value, size_t value_size, char **error);

zkv_image_reader_t *
    zkv_image_reader_new (zkv_image_record_fn *record, void *arg);

void
    zkv_image_reader_destroy (zkv_image_reader_t **self_p);

//  Takes the next bytes of an image, handing on each whole record. Returns
//  0, or -1 with *error when the bytes are not an image (a bad magic or
//  header, an unknown family, a record of the wrong shape, bytes after the
//  end) or when record said stop. Images come from this member's own
//  files and from its peers: msgpack-c allocates what an array header
//  announces before its elements arrive, so a forged header fails with
//  "out of memory" rather than being checked against the bytes to come.
int
    zkv_image_reader_feed (zkv_image_reader_t *self, const void *data, size_t size,
                           char **error);

//  True once the end of the image was read
bool
    zkv_image_reader_done (zkv_image_reader_t *self);

//  The header, once read (NULL before)
const zkv_image_header_t *
    zkv_image_reader_header (zkv_image_reader_t *self);

//  Bytes the reader keeps between feeds: its buffer for the bytes of an
//  object not yet whole (about the largest piece fed, or record read)
size_t
    zkv_image_reader_held (zkv_image_reader_t *self);

//  ---------------------------------------------------------------------
//  Loading an image into a new member's empty database (snapshot
//  restore): every record but the old membership (the `members` family)
//  and the old member's applied index and term, so that the members
//  restored from one image start a new raft log, at index 0, on the same
//  state. The records go into table files as they come (zkv_bulk), which
//  finish ingests into the database; the caller records the new
//  membership after.
typedef struct zkv_image_loader_s zkv_image_loader_t;

zkv_image_loader_t *
    zkv_image_loader_new (zkv_engine_t *engine);

void
    zkv_image_loader_destroy (zkv_image_loader_t **self_p);

//  Takes the next bytes of the image; 0, or -1 with *error
int
    zkv_image_loader_feed (zkv_image_loader_t *self, const void *data, size_t size,
                           char **error);

//  Once every byte was fed: writes what is left, synced. Returns 0, or -1
//  with *error (also when the image was cut short).
int
    zkv_image_loader_finish (zkv_image_loader_t *self, char **error);

//  The header of the image loaded (NULL before it was read)
const zkv_image_header_t *
    zkv_image_loader_header (zkv_image_loader_t *self);

#endif
