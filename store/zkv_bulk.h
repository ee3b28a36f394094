/*  =========================================================================
    zkv_bulk.h — loading a large, sorted stream of records into an empty
    database as table files: RocksDB's SstFileWriter writes each family's
    records (in rising key order) into files beside the database, and
    IngestExternalFile moves them in whole at the end. No WAL, no memtable,
    no compaction: a snapshot restore of 1M keys writes each byte once.
    =========================================================================
*/
#ifndef ZKV_BULK_H_INCLUDED
#define ZKV_BULK_H_INCLUDED

#include <stddef.h>

#include "zkv_engine.h"

typedef struct zkv_bulk_s zkv_bulk_t;

zkv_bulk_t *
    zkv_bulk_new (zkv_engine_t *engine);

//  Removes the files of a load that did not finish
void
    zkv_bulk_destroy (zkv_bulk_t **self_p);

//  Adds one record. Within a family, keys must rise (the families may
//  come in any order). Returns 0, or -1 with *error.
int
    zkv_bulk_put (zkv_bulk_t *self, zkv_cf_t cf, const void *key, size_t key_size,
                  const void *value, size_t value_size, char **error);

//  Finishes the files (synced) and moves them into the database; the
//  records are then there for good. Returns 0, or -1 with *error.
int
    zkv_bulk_finish (zkv_bulk_t *self, char **error);

#endif
