/*  =========================================================================
    zkv_replace.h — replacing whole families of the database by table
    files, in one step as far as the member can ever tell, a crash
    included. RocksDB 7.8's C API ingests files into one family at a time
    (IngestExternalFiles, atomic across families, is C++ only), so:

    1. The files are written first, into the staging directory <db>/replace
       (zkv_bulk.h), each family's files tiling the whole of its key space
       with range deletions: ingesting a family's files replaces all it
       held in one step, and ingesting them again changes nothing.
    2. zkv_replace_commit makes the files and the directory durable; then,
       while no snapshot can be taken (zkv_engine_hold_views), it writes a
       marker naming them (synced, in the `default` family, which holds
       nothing else), ingests each family's files (copies: the staged
       files stay as they were, zkv_engine_ingest) and deletes the marker,
       putting in the same write the mark ZKV_ENGINE_REPLACED_KEY that the
       raft log deletes as it records the snapshot; and only then the
       staged files.
    3. Opening the database (zkv_engine_open) finishes a replacement whose
       marker it finds: it ingests every family's files again (those
       ingested before the crash too: harmless), deletes the marker, and
       empties the staging directory (also of the files of a replacement
       that never wrote its marker). Finding one, or the mark, it says so:
       zkv_engine_finished_replace.

    So the member, running or restarted after a crash at any moment, has
    the old families or the new ones, never a mix. Before the marker a
    failure changes nothing; after it, a failure goes to the engine's
    failure handler (a member stops) and the next open finishes the work.
    On the memory medium RocksDB's C API cannot remove a staged file: the
    files of a replacement given up stay until the next replacement writes
    the same names again.
    =========================================================================
*/
#ifndef ZKV_REPLACE_H_INCLUDED
#define ZKV_REPLACE_H_INCLUDED

#include <stddef.h>

#include "zkv_engine.h"

#define ZKV_REPLACE_NAME 32             //  bytes of a staged file's name, at most

typedef struct {
    zkv_cf_t cf;
    char name [ZKV_REPLACE_NAME];       //  in the staging directory
} zkv_replace_file_t;

//  The path of staged file name into path (size bytes), the staging
//  directory made if need be. Returns 0, or -1 with *error.
int
    zkv_replace_path (zkv_engine_t *engine, const char *name, char *path, size_t size,
                      char **error);

//  Removes staged file name, if it is there (on disk; see above)
void
    zkv_replace_unstage (zkv_engine_t *engine, const char *name);

//  Replaces each family that files name by its files (count of them, every
//  family's together, in key order), as described above; the files are
//  then the engine's. Returns 0, or -1 with *error: before the marker was
//  written, with the files removed and nothing changed; after, with the
//  failure handler told and the rest left to the next open.
int
    zkv_replace_commit (zkv_engine_t *engine, const zkv_replace_file_t *files, size_t count,
                        char **error);

//  Finishes a replacement a crash cut short, and empties the staging
//  directory (zkv_engine_open calls it). Returns 0, or -1 with *error.
int
    zkv_replace_recover (zkv_engine_t *engine, char **error);

#endif
