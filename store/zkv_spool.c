/*  =========================================================================
    zkv_spool.c — bytes kept out of memory until read back (see
    zkv_spool.h).
    =========================================================================
*/
#include "zkv_spool.h"
#include "zkv_grow.h"
#include "zkv_replace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct zkv_spool_s {
    char *path;                         //  on disk: the file
    int fd;                             //  (-1 in memory)
    char *bytes;                        //  in memory: the bytes
    size_t room;
    size_t written, read;
};

static int
s_fail (char **error, const char *what, int code)
{
    size_t size = strlen (what) + 128;
    *error = (char *) malloc (size);
    if (*error)
        snprintf (*error, size, "spool: %s: %s", what, strerror (code));
    return -1;
}

zkv_spool_t *
zkv_spool_new (zkv_engine_t *engine, const char *name, char **error)
{
    zkv_spool_t *self = (zkv_spool_t *) calloc (1, sizeof (zkv_spool_t));
    if (!self) {
        *error = strdup ("out of memory");
        return NULL;
    }
    self->fd = -1;
    if (!zkv_engine_on_disk (engine))
        return self;
    char path [4096];
    if (zkv_replace_path (engine, name, path, sizeof path, error)) {
        zkv_spool_destroy (&self);
        return NULL;
    }
    self->path = strdup (path);
    self->fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (!self->path || self->fd < 0) {
        s_fail (error, path, self->path? errno: ENOMEM);
        zkv_spool_destroy (&self);
    }
    return self;
}

void
zkv_spool_destroy (zkv_spool_t **self_p)
{
    zkv_spool_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0) {
        close (self->fd);
        unlink (self->path);
    }
    free (self->path);
    free (self->bytes);
    free (self);
    *self_p = NULL;
}

int
zkv_spool_write (zkv_spool_t *self, const void *data, size_t size, char **error)
{
    if (self->fd < 0) {
        if (zkv_grow ((void **) &self->bytes, &self->room, self->written + size, 1)) {
            *error = strdup ("out of memory");
            return -1;
        }
        memcpy (self->bytes + self->written, data, size);
        self->written += size;
        return 0;
    }
    const char *bytes = (const char *) data;
    while (size > 0) {
        ssize_t done = pwrite (self->fd, bytes, size, (off_t) self->written);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return s_fail (error, self->path, done < 0? errno: EIO);
        bytes += done;
        size -= (size_t) done;
        self->written += (size_t) done;
    }
    return 0;
}

size_t
zkv_spool_unread (zkv_spool_t *self)
{
    return self->written - self->read;
}

ssize_t
zkv_spool_read (zkv_spool_t *self, void *buffer, size_t size, char **error)
{
    if (size > self->written - self->read)
        size = self->written - self->read;
    if (self->fd < 0) {
        if (size)
            memcpy (buffer, self->bytes + self->read, size);
        self->read += size;
        if (self->read == self->written)
            self->read = self->written = 0;     //  read as it came: the buffer is reused
        return (ssize_t) size;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t got = pread (self->fd, (char *) buffer + done, size - done,
                             (off_t) (self->read + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return s_fail (error, self->path, got < 0? errno: EIO);
        done += (size_t) got;
    }
    self->read += done;
    return (ssize_t) done;
}
