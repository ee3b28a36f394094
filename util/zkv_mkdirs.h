/*  zkv_mkdirs.h — a directory and its missing parents. */
#ifndef ZKV_MKDIRS_H_INCLUDED
#define ZKV_MKDIRS_H_INCLUDED

//  Creates dir and any missing parent (mode 0700), as mkdir -p. Returns 0
//  (also when it exists), or -1 with errno set.
int
    zkv_mkdirs (const char *dir);

#endif
