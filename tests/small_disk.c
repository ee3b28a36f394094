/*  small_disk.c — a small filesystem for a member's data (see
    small_disk.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "small_disk.h"

static char s_path [256];               //  the mount point, once mounted

//  Gives this test a mount namespace of its own, which the members it
//  starts inherit. That takes root (a user namespace cannot be made here:
//  Criterion's worker has threads).
static void
s_private_mounts (void)
{
    if (geteuid () != 0)
        cr_assert_fail ("this test mounts a small tmpfs, which takes root: run it as root, or "
                        "under `unshare --user --map-root-user --mount`");
    cr_assert_eq (unshare (CLONE_NEWNS), 0, "unshare (CLONE_NEWNS): %s", strerror (errno));
    //  Nothing mounted from here on goes back to the parent namespace
    cr_assert_eq (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "%s",
                  strerror (errno));
}

void
sd_mount (const char *path, int64_t bytes)
{
    s_private_mounts ();
    cr_assert (mkdir (path, 0700) == 0 || errno == EEXIST, "%s: %s", path, strerror (errno));
    char options [64];
    snprintf (options, sizeof options, "size=%lld,mode=0700", (long long) bytes);
    cr_assert_eq (mount ("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options), 0,
                  "cannot mount a tmpfs on %s: %s", path, strerror (errno));
    snprintf (s_path, sizeof s_path, "%s", path);
}

void
sd_unmount (void)
{
    if (*s_path && umount2 (s_path, MNT_DETACH))
        fprintf (stderr, "could not unmount %s: %s\n", s_path, strerror (errno));
    *s_path = 0;
}

int64_t
sd_free_bytes (void)
{
    struct statvfs fs;
    cr_assert_eq (statvfs (s_path, &fs), 0, "statvfs %s: %s", s_path, strerror (errno));
    return (int64_t) fs.f_bavail * (int64_t) fs.f_frsize;
}

const char *
sd_path (void)
{
    return s_path;
}

static void
s_ballast_path (char *path, size_t size)
{
    snprintf (path, size, "%s/ballast", s_path);
}

int64_t
sd_ballast (int64_t bytes)
{
    char path [300];
    s_ballast_path (path, sizeof path);
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cr_assert_geq (fd, 0, "%s: %s", path, strerror (errno));
    static char chunk [1 << 20];
    memset (chunk, 'b', sizeof chunk);
    int64_t written = 0;
    size_t piece = sizeof chunk;
    while (bytes == 0 || written < bytes) {
        size_t size = bytes && bytes - written < (int64_t) piece? (size_t) (bytes - written): piece;
        ssize_t done = write (fd, chunk, size);
        if (done > 0)
            written += done;
        else
        if (bytes == 0 && errno == ENOSPC && piece > 4096)
            piece = 4096;               //  the last few pages
        else {
            cr_assert (bytes == 0 && errno == ENOSPC, "ballast: %s", strerror (errno));
            break;
        }
    }
    close (fd);
    return written;
}

void
sd_drop_ballast (void)
{
    char path [300];
    s_ballast_path (path, sizeof path);
    cr_assert_eq (unlink (path), 0, "%s: %s", path, strerror (errno));
}
