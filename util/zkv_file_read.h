/*  zkv_file_read.h — all of a file, as text. */
#ifndef ZKV_FILE_READ_H_INCLUDED
#define ZKV_FILE_READ_H_INCLUDED

#include <stddef.h>

//  All of the file at path, NUL-terminated (the caller frees it), or NULL
//  with errno set: EFBIG once it holds more than max_bytes (0: no bound,
//  for files this process trusts, such as a member's log it started)
char *
    zkv_file_read (const char *path, size_t max_bytes);

#endif
