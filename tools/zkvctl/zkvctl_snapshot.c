/*  =========================================================================
    zkvctl_snapshot.c — `snapshot save`, `snapshot status` and `snapshot
    restore`, as etcdctl 3.4 had them (etcdutl's in 3.5/3.6).

    save FILE       streams the Snapshot of one member (exactly one
                    endpoint) into FILE.part, granting the member credit as
                    it writes; checks the SHA-256 that ends the stream;
                    fsyncs, renames to FILE, and says `Snapshot saved at
                    FILE` and `Server version V`. A terminal sees progress
                    on stderr. No deadline unless --command-timeout is
                    given (etcd's habit), but a member silent for a minute
                    fails it, and one that does not connect within
                    --dial-timeout fails it at once (etcdctl 3.4 hangs).
    status FILE     checks the file (image + SHA-256) and prints etcd 3.6's
                    columns: hash (CRC-32C over every record: family name,
                    key, value), revision, total keys (live keys), total
                    size, version; -w fields: `"Hash" : <decimal>`,
                    `"Revision"`, `"Keys"`, `"Size"` (bytes), `"Version"`.
    restore FILE    --data-dir D --name N --initial-cluster C
                    --initial-cluster-token T [--skip-hash-check]: loads
                    the image into the new, empty data dir D with the new
                    membership and a fresh raft log, so that the members
                    restored from one file, each with its own --name, form
                    a new cluster. Offline: it talks to no member.
    =========================================================================
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkvctl.h"
#include "zkv_cluster.h"
#include "zkv_crc32c.h"
#include "zkv_image.h"
#include "zkv_keys.h"
#include "zkv_sha256.h"

#define ZKVCTL_EXIT_BAD_FEATURE 4       //  etcdctl's ExitBadFeature

//  ---------------------------------------------------------------------
//  save

static int s_save_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_save_command = {
    "save", "snapshot save <filename>", "Stores a snapshot of a zkv member to a file",
    s_save_run, NULL, NULL
};

//  Progress on a terminal (stderr)
static void
s_progress (void *arg, uint64_t received, uint64_t total)
{
    *(uint64_t *) arg = received;
    fprintf (stderr, "\rDownloading %" PRIu64 " / %" PRIu64 " bytes (%d%%)",
             received, total, total? (int) (received * 100 / total): 100);
}

static int
s_save_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_save_command, NULL, true, argc - 1, argv + 1, NULL,
                                 positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "snapshot save expects one argument");
    if (zkvctl_ready (ctl, false))
        return -1;
    if (strchr (ctl->endpoints, ','))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_FEATURE,
                            "snapshot must be requested to one selected node, not multiple [%s]",
                            ctl->endpoints);
    const char *path = (const char *) positional [0].data;
    //  No deadline unless --command-timeout is given (the library's
    //  silence of a minute applies then)
    bool deadline = zkvctl_flag_changed (ctl->globals, "command-timeout");
    int64_t msecs = deadline? (ctl->command_timeout + 999999) / 1000000: 0;
    if (deadline && msecs <= 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "context deadline exceeded");
    zkv_client_t *client = zkvctl_client (ctl, ctl->endpoints, 60000);
    if (!client)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "etcdclient: no available endpoints");
    uint64_t received = 0;
    bool terminal = isatty (STDERR_FILENO);
    zkv_snapshot_info_t info;
    char error [1024];
    rc = zkv_client_snapshot_save (client, path, msecs > INT_MAX? INT_MAX: (int) msecs,
                                   terminal? s_progress: NULL, &received, &info, error,
                                   sizeof error);
    zkv_client_destroy (&client);
    if (terminal && received)
        fprintf (stderr, "\n");
    if (rc)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", error);
    printf ("Snapshot saved at %s\n", path);
    printf ("Server version %s\n", info.version);
    return 0;
}

//  ---------------------------------------------------------------------
//  Reading a saved file: image + SHA-256

//  Feeds the image part of the file at path to fn (with arg); checks the
//  SHA-256 at its end unless skip_hash. Returns 0, or -1 with the failure
//  recorded; *size is the file's size.
typedef int (s_feed_fn) (void *arg, const void *data, size_t size, char **error);

static int
s_read_file (zkvctl_t *ctl, const char *path, bool skip_hash, s_feed_fn *fn, void *arg,
             uint64_t *size)
{
    int fd = open (path, O_RDONLY);
    struct stat info;
    if (fd < 0 || fstat (fd, &info)) {
        int error = errno;
        if (fd >= 0)
            close (fd);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "open %s: %s", path, strerror (error));
    }
    *size = (uint64_t) info.st_size;
    if (info.st_size < ZKV_SHA256_SIZE) {
        close (fd);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s: sha256 checksum not found", path);
    }
    uint64_t image = (uint64_t) info.st_size - ZKV_SHA256_SIZE, done = 0;
    zkv_sha256_t *digest = zkv_sha256_new ();
    static uint8_t buffer [1 << 20];
    int rc = digest? 0: zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "out of memory");
    while (rc == 0 && done < image) {
        size_t want = image - done < sizeof buffer? (size_t) (image - done): sizeof buffer;
        ssize_t got = read (fd, buffer, want);
        if (got <= 0) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "read %s: %s", path,
                              got < 0? strerror (errno): "cut short");
            break;
        }
        zkv_sha256_update (digest, buffer, (size_t) got);
        char *error = NULL;
        if (fn (arg, buffer, (size_t) got, &error)) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s: %s", path, error);
            free (error);
        }
        done += (size_t) got;
    }
    uint8_t expected [ZKV_SHA256_SIZE], sum [ZKV_SHA256_SIZE];
    if (rc == 0 && read (fd, expected, sizeof expected) != sizeof expected)
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "read %s: cut short", path);
    close (fd);
    if (rc == 0)
        zkv_sha256_digest (digest, sum);
    zkv_sha256_destroy (&digest);
    if (rc == 0 && !skip_hash && memcmp (sum, expected, sizeof sum) != 0) {
        char want_hex [65], got_hex [65];
        sodium_bin2hex (want_hex, sizeof want_hex, expected, sizeof expected);
        sodium_bin2hex (got_hex, sizeof got_hex, sum, sizeof sum);
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s: expected sha256 %s, got %s", path,
                          want_hex, got_hex);
    }
    return rc;
}

//  ---------------------------------------------------------------------
//  status

static int s_status_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_status_command = {
    "status", "snapshot status <filename>",
    "Gets backend snapshot status of a given file", s_status_run, NULL, NULL
};

typedef struct {
    uint32_t hash;
    int64_t total_keys;
    uint8_t *key;                       //  the escaped user key of the index in hand
    size_t key_size;
    size_t key_room;
    bool has_key;
} s_status_t;

static int
s_status_record (void *arg, zkv_cf_t cf, const void *key, size_t key_size, const void *value,
                 size_t value_size, char **error)
{
    s_status_t *status = (s_status_t *) arg;
    const char *name = zkv_cf_name (cf);
    status->hash = zkv_crc32c (status->hash, name, strlen (name));
    status->hash = zkv_crc32c (status->hash, key, key_size);
    status->hash = zkv_crc32c (status->hash, value, value_size);
    if (cf != ZKV_CF_INDEX)
        return 0;
    //  The live keys: the newest revision of each key (its first index
    //  record) that is not a tombstone, as etcd 3.6 counts them
    size_t escaped;
    zkv_rev_t rev;
    zkv_index_value_t state;
    if (zkv_indexkey_decode ((const uint8_t *) key, key_size, &escaped, &rev)
    ||  zkv_index_value_decode ((const uint8_t *) value, value_size, &state)) {
        *error = strdup ("snapshot image: a corrupt index record");
        return -1;
    }
    if (status->has_key && escaped == status->key_size
    &&  memcmp (status->key, key, escaped) == 0)
        return 0;                       //  an older revision of the same key
    if (escaped > status->key_room) {
        status->key_room = 2 * escaped;
        status->key = (uint8_t *) realloc (status->key, status->key_room);
        if (!status->key) {
            *error = strdup ("out of memory");
            return -1;
        }
    }
    memcpy (status->key, key, escaped);
    status->key_size = escaped;
    status->has_key = true;
    if (!state.tombstone)
        status->total_keys++;
    return 0;
}

static int
s_reader_feed (void *arg, const void *data, size_t size, char **error)
{
    return zkv_image_reader_feed ((zkv_image_reader_t *) arg, data, size, error);
}

static int
s_status_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_status_command, NULL, true, argc - 1, argv + 1, NULL,
                                 positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "snapshot status requires exactly one "
                            "argument");
    if (zkvctl_output_parse (ctl))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unsupported output format");
    const char *path = (const char *) positional [0].data;
    s_status_t status = { 0 };
    zkv_image_reader_t *reader = zkv_image_reader_new (s_status_record, &status);
    if (!reader)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "out of memory");
    uint64_t size = 0;
    rc = s_read_file (ctl, path, false, s_reader_feed, reader, &size);
    if (rc == 0 && !zkv_image_reader_done (reader))
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s: snapshot image: cut short", path);
    if (rc == 0) {
        const zkv_image_header_t *header = zkv_image_reader_header (reader);
        char total [32];
        zkvctl_humanize_bytes (size, total, sizeof total);
        if (ctl->format == ZKVCTL_FORMAT_JSON)
            printf ("{\"hash\":%" PRIu32 ",\"revision\":%" PRId64 ",\"totalKey\":%" PRId64
                    ",\"totalSize\":%" PRIu64 ",\"version\":\"%s\"}\n", status.hash,
                    header->revision, status.total_keys, size, header->storage_version);
        else
        if (ctl->format == ZKVCTL_FORMAT_FIELDS)
            //  etcdctl 3.4's four lines, then the version the other formats print
            printf ("\"Hash\" : %" PRIu32 "\n\"Revision\" : %" PRId64 "\n\"Keys\" : %" PRId64
                    "\n\"Size\" : %" PRIu64 "\n\"Version\" : %s\n", status.hash,
                    header->revision, status.total_keys, size, header->storage_version);
        else {
            static const char *titles [] = {
                "hash", "revision", "total keys", "total size", "version"
            };
            char *cells [5] = {
                zsys_sprintf ("%" PRIx32, status.hash),
                zsys_sprintf ("%" PRId64, header->revision),
                zsys_sprintf ("%" PRId64, status.total_keys),
                strdup (total), strdup (header->storage_version)
            };
            if (ctl->format == ZKVCTL_FORMAT_TABLE)
                zkvctl_table_print (titles, 5, (const char *const *) cells, 1);
            else
                printf ("%s, %s, %s, %s, %s\n", cells [0], cells [1], cells [2], cells [3],
                        cells [4]);
            for (int i = 0; i < 5; i++)
                free (cells [i]);
        }
    }
    zkv_image_reader_destroy (&reader);
    free (status.key);
    return rc;
}

//  ---------------------------------------------------------------------
//  restore

static int s_restore_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_restore_command = {
    "restore", "snapshot restore <filename> [options]",
    "Restores a zkv member snapshot to a zkv directory", s_restore_run, NULL, NULL
};

//  True if dir is absent or empty
static bool
s_dir_empty (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return errno == ENOENT;
    bool empty = true;
    struct dirent *entry;
    while (empty && (entry = readdir (handle)))
        empty = streq (entry->d_name, ".") || streq (entry->d_name, "..");
    closedir (handle);
    return empty;
}

static int
s_remove (const char *path, const struct stat *info, int type, struct FTW *ftw)
{
    (void) info;
    (void) ftw;
    return type == FTW_DP? rmdir (path): unlink (path);
}

static int
s_loader_feed (void *arg, const void *data, size_t size, char **error)
{
    return zkv_image_loader_feed ((zkv_image_loader_t *) arg, data, size, error);
}

static int
s_restore_run (zkvctl_t *ctl, int argc, char **argv)
{
    const char *data_dir = "", *name = "default", *initial = "", *token = "zkv-cluster";
    const char *advertise = "";
    bool skip_hash = false;
    zkvctl_flag_t flags [] = {
        { "data-dir", 0, ZKVCTL_FLAG_STRING, &data_dir, "\"\"",
          "Path to the data directory", false },
        { "name", 0, ZKVCTL_FLAG_STRING, &name, "\"default\"",
          "Human-readable name for this member", false },
        { "initial-cluster", 0, ZKVCTL_FLAG_STRING, &initial, "\"\"",
          "Initial cluster configuration for restore bootstrap", false },
        { "initial-cluster-token", 0, ZKVCTL_FLAG_STRING, &token, "\"zkv-cluster\"",
          "Initial cluster token for the cluster during restore bootstrap", false },
        { "initial-advertise-peer-urls", 0, ZKVCTL_FLAG_STRING, &advertise, "\"\"",
          "accepted for etcdctl's sake: the peer endpoint is --initial-cluster's", false },
        { "skip-hash-check", 0, ZKVCTL_FLAG_BOOL, &skip_hash, "false",
          "Ignore snapshot integrity hash value", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_restore_command, flags, true, argc - 1, argv + 1,
                                 NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "snapshot restore requires exactly one "
                            "argument");
    //  zkv-node's default data dir is <name>.zkv
    char dir [1024];
    if (*data_dir)
        snprintf (dir, sizeof dir, "%s", data_dir);
    else
        snprintf (dir, sizeof dir, "%s.zkv", name);
    if (!*initial)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--initial-cluster is required");
    zkv_cluster_t cluster, loaded;
    char why [512];
    if (zkv_cluster_parse (initial, token, &cluster, why, sizeof why))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", why);
    if (!zkv_cluster_find (&cluster, name))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "couldn't find local name \"%s\" in "
                            "the initial cluster configuration", name);
    if (!s_dir_empty (dir))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "data-dir \"%s\" not empty or could not "
                            "be read", dir);
    if (mkdir (dir, 0700) && errno != EEXIST)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "mkdir %s: %s", dir, strerror (errno));
    char db [1100];
    snprintf (db, sizeof db, "%s/db", dir);
    char *error = NULL;
    zkv_engine_t *engine = zkv_engine_open (db, NULL, &error);
    if (!engine) {
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "cannot open %s: %s", db, error);
        free (error);
        return rc;
    }
    zkv_image_loader_t *loader = zkv_image_loader_new (engine);
    uint64_t size;
    const char *path = (const char *) positional [0].data;
    rc = loader? s_read_file (ctl, path, skip_hash, s_loader_feed, loader, &size)
               : zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "out of memory");
    if (rc == 0 && zkv_image_loader_finish (loader, &error)) {
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s: %s", path, error);
        free (error);
    }
    int64_t revision = rc == 0? zkv_image_loader_header (loader)->revision: 0;
    zkv_image_loader_destroy (&loader);
    if (rc == 0 && zkv_cluster_load (engine, name, token, &cluster, &loaded, why, sizeof why))
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", why);
    zkv_engine_destroy (&engine);
    if (rc) {
        //  A failed restore leaves nothing behind
        if (nftw (dir, s_remove, 16, FTW_DEPTH | FTW_PHYS))
            fprintf (stderr, "could not remove %s\n", dir);
        return -1;
    }
    printf ("Restored snapshot %s into %s: member %s (%016" PRIx64 ") of cluster %016" PRIx64
            ", revision %" PRId64 "\n", path, dir, name, loaded.self, loaded.cluster_id,
            revision);
    return 0;
}

//  ---------------------------------------------------------------------
//  snapshot

static const zkvctl_command_t *const s_snapshot_commands [] = {
    &s_restore_command,
    &s_save_command,
    &s_status_command,
    NULL
};

static int
s_snapshot_run (zkvctl_t *ctl, int argc, char **argv)
{
    return zkvctl_subcommand_run (ctl, &zkvctl_snapshot_command, argc, argv);
}

const zkvctl_command_t zkvctl_snapshot_command = {
    "snapshot", "snapshot <subcommand> [flags]", "Manages zkv node snapshots",
    s_snapshot_run, s_snapshot_commands, NULL
};
