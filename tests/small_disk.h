/*  small_disk.h — a small filesystem for a member's data, in a test: a
    tmpfs mounted in the test's own mount namespace (seen nowhere else,
    and unmounted by the kernel when the test and its members are gone,
    even after a crash). Takes root: real root, or the root of a user
    namespace (`unshare --user --map-root-user --mount`).
*/
#ifndef SMALL_DISK_H_INCLUDED
#define SMALL_DISK_H_INCLUDED

#include <stdint.h>

//  Mounts a tmpfs of bytes on path (made if missing), in a mount namespace
//  of this test's own (the members it starts inherit it). Once per test.
void sd_mount (const char *path, int64_t bytes);
//  Unmounts it (lazily: a member may still hold files); quiet when
//  nothing was mounted
void sd_unmount (void);
//  The free bytes of the mounted filesystem, as an unprivileged process
//  sees them (statvfs f_bavail)
int64_t sd_free_bytes (void);
//  The mount point, "" before sd_mount
const char *sd_path (void);
//  Puts a ballast file of bytes on the small disk (all of what is free
//  when bytes is 0); returns its size
int64_t sd_ballast (int64_t bytes);
//  Deletes the ballast
void sd_drop_ballast (void);

#endif
