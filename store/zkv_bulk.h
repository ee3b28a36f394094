/*  =========================================================================
    zkv_bulk.h — replacing whole families with a large, sorted stream of
    records, in bounded memory: RocksDB's SstFileWriter writes each
    family's records (in rising key order) into table files in the staging
    directory as they come (a file every 64 MiB), and zkv_replace ingests
    them at the end. No WAL, no memtable, no compaction (each byte is
    written twice: the file, and RocksDB's copy of it, zkv_engine_ingest),
    and what the writer holds is one file's write buffer, index and filter
    per family, whatever the number of records.

    The files of a family tile its whole key space: each carries a range
    deletion from its first key (the family's first file: from the empty
    key) to the next file's first key (the last file: past the largest key
    of the records and of the family as it stands), which deletes what the
    family held there before, never the file's own records (they have the
    same sequence number). So one family's ingestion replaces all of it in
    one step, and can be done again (zkv_replace.h).
    =========================================================================
*/
#ifndef ZKV_BULK_H_INCLUDED
#define ZKV_BULK_H_INCLUDED

#include <stddef.h>

#include "zkv_engine.h"

//  A family's bit in the families zkv_bulk_replace replaces
#define ZKV_BULK_FAMILY(cf) (1u << (cf))

typedef struct zkv_bulk_s zkv_bulk_t;

zkv_bulk_t *
    zkv_bulk_new (zkv_engine_t *engine);

//  Removes the files of a replacement that did not happen
void
    zkv_bulk_destroy (zkv_bulk_t **self_p);

//  Adds one record. Within a family, keys must rise (the families may
//  come in any order). Returns 0, or -1 with *error.
int
    zkv_bulk_put (zkv_bulk_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                  const void *value, size_t value_size, char **error);

//  Finishes the files (synced) and replaces each family in families (a
//  mask of ZKV_BULK_FAMILY bits; every family with records must be in it)
//  by the records put into it: what it held before is gone, in one step
//  even across a crash (zkv_replace.h). Returns 0, or -1 with *error.
int
    zkv_bulk_replace (zkv_bulk_t *self, unsigned families, char **error);

//  Bytes the bulk holds itself (the keys it remembers), besides the
//  table builders (RocksDB's; bounded by the file size)
size_t
    zkv_bulk_held (zkv_bulk_t *self);

#endif
