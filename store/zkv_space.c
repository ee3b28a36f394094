/*  zkv_space.c — the free-disk guard and the reserve file (see
    zkv_space.h). */
#include "zkv_space.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct zkv_space_s {
    zkv_engine_t *engine;
    zkv_space_config_t config;
    char *data_dir;                     //  config.data_dir points here
    char *reserve_path;                 //  <data-dir>/reserve
    char *temp_path;                    //  <data-dir>/reserve.new, while it is made
    zkv_space_view_t view;
    bool measured;                      //  view holds a measure
    int64_t measured_at;
    uint64_t table_bytes;               //  RocksDB's table files when low was read
    int64_t low [ZKV_CF_COUNT];         //  levels 0 and 1 of each family, then
};

static char *
s_error (const char *what, const char *path, int code)
{
    char text [1200];
    snprintf (text, sizeof text, "%s %s: %s", what, path, strerror (code));
    return strdup (text);
}

zkv_space_t *
zkv_space_new (zkv_engine_t *engine, const zkv_space_config_t *config)
{
    zkv_space_t *self = (zkv_space_t *) calloc (1, sizeof (zkv_space_t));
    if (!self)
        abort ();
    self->engine = engine;
    self->config = *config;
    if (config->data_dir) {
        self->data_dir = strdup (config->data_dir);
        size_t size = strlen (config->data_dir) + sizeof ZKV_SPACE_RESERVE + 8;
        self->reserve_path = (char *) malloc (size);
        self->temp_path = (char *) malloc (size);
        if (!self->data_dir || !self->reserve_path || !self->temp_path)
            abort ();
        snprintf (self->reserve_path, size, "%s/%s", config->data_dir, ZKV_SPACE_RESERVE);
        snprintf (self->temp_path, size, "%s/%s.new", config->data_dir, ZKV_SPACE_RESERVE);
    }
    self->config.data_dir = self->data_dir;
    return self;
}

void
zkv_space_destroy (zkv_space_t **self_p)
{
    zkv_space_t *self = *self_p;
    if (self) {
        free (self->data_dir);
        free (self->reserve_path);
        free (self->temp_path);
        free (self);
        *self_p = NULL;
    }
}

bool
zkv_space_enabled (zkv_space_t *self)
{
    return self->data_dir && self->config.min_free > 0;
}

//  The bytes of the reserve file on disk (its blocks: a file cut short
//  or sparse does not count for more than it holds)
static int64_t
s_reserve_held (zkv_space_t *self)
{
    struct stat info;
    if (!self->reserve_path || stat (self->reserve_path, &info))
        return 0;
    int64_t blocks = (int64_t) info.st_blocks * 512;
    return blocks < (int64_t) info.st_size? blocks: (int64_t) info.st_size;
}

int
zkv_space_measure (zkv_space_t *self, int64_t now, char **error)
{
    if (!self->data_dir)
        return 0;
    struct statvfs fs;
    if (statvfs (self->data_dir, &fs)) {
        *error = s_error ("statvfs", self->data_dir, errno);
        return -1;
    }
    self->view.free = (int64_t) fs.f_bavail * (int64_t) fs.f_frsize;
    self->view.memtables = (int64_t) zkv_engine_property (self->engine, ZKV_CF_COUNT,
                                                          "rocksdb.cur-size-all-mem-tables");
    //  Which table files sit in levels 0 and 1 changes only when some
    //  table file comes or goes: read again then
    uint64_t tables = zkv_engine_property (self->engine, ZKV_CF_COUNT,
                                           "rocksdb.total-sst-files-size");
    if (!self->measured || tables != self->table_bytes) {
        zkv_engine_low_levels (self->engine, self->low);
        self->table_bytes = tables;
    }
    self->view.compaction = zkv_engine_compaction_bound (self->engine, self->low);
    int64_t reserve = self->config.reserve > 0? self->config.reserve: 0;
    int64_t held = s_reserve_held (self);
    self->view.reserve_missing = held < reserve? reserve - held: 0;
    self->view.written = 0;
    self->measured = true;
    self->measured_at = now;
    return 0;
}

bool
zkv_space_fits (zkv_space_t *self, int64_t bytes, int64_t now)
{
    if (!zkv_space_enabled (self))
        return true;
    if (!self->measured || now - self->measured_at >= ZKV_SPACE_MEASURE_MSECS
    ||  self->view.written >= ZKV_SPACE_MEASURE_BYTES) {
        char *error = NULL;
        if (zkv_space_measure (self, now, &error))
            free (error);               //  the alarm actor tells (it measures too)
    }
    return zkv_space_room (self) - bytes >= self->config.min_free;
}

void
zkv_space_wrote (zkv_space_t *self, int64_t bytes)
{
    self->view.written += bytes;
}

int64_t
zkv_space_room (zkv_space_t *self)
{
    const zkv_space_view_t *view = &self->view;
    return view->free - view->memtables - view->compaction - view->reserve_missing
         - view->written;
}

const zkv_space_view_t *
zkv_space_view (zkv_space_t *self)
{
    return &self->view;
}

void
zkv_space_describe (zkv_space_t *self, int64_t bytes, char *text, size_t size)
{
    const zkv_space_view_t *view = &self->view;
    int64_t owed = view->free - zkv_space_room (self) + bytes;
    snprintf (text, size, "%lld bytes free on the disk of %s, %lld owed (memtables %lld, "
              "next compaction %lld, reserve %lld, writes %lld)", (long long) view->free,
              self->data_dir? self->data_dir: "(none)", (long long) owed,
              (long long) view->memtables, (long long) view->compaction,
              (long long) view->reserve_missing, (long long) (view->written + bytes));
}

//  Makes a rename in dir durable
static void
s_sync_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync (fd);                     //  (a failure: the name may not last a crash)
        close (fd);
    }
}

int
zkv_space_reserve_make (zkv_space_t *self, char **error)
{
    if (!self->reserve_path || self->config.reserve <= 0
    ||  s_reserve_held (self) >= self->config.reserve)
        return 0;
    const char *temp = self->temp_path;
    int code = 0;
    int fd = open (temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        code = errno;
    else {
        //  Real blocks (glibc writes them where fallocate is not supported)
        code = posix_fallocate (fd, 0, (off_t) self->config.reserve);
        if (!code && fsync (fd))
            code = errno;
        close (fd);
        if (!code && rename (temp, self->reserve_path))
            code = errno;
    }
    if (code) {
        *error = s_error ("cannot make the reserve file", self->reserve_path, code);
        unlink (temp);
        return -1;
    }
    s_sync_dir (self->data_dir);
    return 0;
}

bool
zkv_space_reserve_release (zkv_space_t *self)
{
    if (!self->reserve_path)
        return false;
    unlink (self->temp_path);           //  one a crash left half made, if any
    return unlink (self->reserve_path) == 0;
}
