/*  =========================================================================
    zkv_spool.h — bytes written once and read back in order, kept out of
    memory: a file in the engine's staging directory (zkv_replace.h), or,
    on the memory medium, a buffer. A snapshot stream lands in one as fast
    as it comes, and is installed from it at the installer's own pace, as
    far as it came (reads and writes may alternate).
    Nothing in it survives the process: an open of the engine empties the
    staging directory.
    =========================================================================
*/
#ifndef ZKV_SPOOL_H_INCLUDED
#define ZKV_SPOOL_H_INCLUDED

#include <stddef.h>
#include <sys/types.h>

#include "zkv_engine.h"

typedef struct zkv_spool_s zkv_spool_t;

//  A new, empty spool called name (a file name in the staging directory).
//  Returns NULL with *error.
zkv_spool_t *
    zkv_spool_new (zkv_engine_t *engine, const char *name, char **error);

//  Removes the file
void
    zkv_spool_destroy (zkv_spool_t **self_p);

//  Appends size bytes. Returns 0, or -1 with *error.
int
    zkv_spool_write (zkv_spool_t *self, const void *data, size_t size, char **error);

//  The bytes written and not read yet
size_t
    zkv_spool_unread (zkv_spool_t *self);

//  Reads up to size of the bytes not read yet into buffer: returns how
//  many (0 once every byte written was read), or -1 with *error
ssize_t
    zkv_spool_read (zkv_spool_t *self, void *buffer, size_t size, char **error);

#endif
