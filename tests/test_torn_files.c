/*  test_torn_files.c — a member whose RocksDB files were damaged while it
    was down, as a disk can damage them: bytes flipped in a table file's
    data, the newest table file cut, the MANIFEST or CURRENT cut, the WAL
    torn in its last record after a kill -9 (legitimate: a crash in the
    middle of a write) or a WAL record in its middle altered. Started
    again, the member either refuses to start, naming the damage, or stops
    on the damage the first time it reads it and then refuses to start, or
    serves every acknowledged write as it was: it never answers a read of
    an acknowledged key with another value or with nothing. And a value
    altered with valid checksums (only zkv can tell): a member that cannot
    apply a write reading it stops rather than fall behind the others. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_fixture.h"
#include "zkv_engine.h"

TestSuite (torn_files, .fini = cf_teardown, .timeout = 120);

#define KEYS 200                        //  written before the defrag (in tables)
#define VALUE_BYTES 1024

//  ---------------------------------------------------------------------
//  Data

//  The value of key i: bytes no compression shrinks, so that a table
//  file is mostly data blocks
static void
s_value (int i, char *value)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t) (i + 1);
    for (size_t b = 0; b < VALUE_BYTES; b++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        value [b] = (char) ('!' + x % 90);
    }
}

static void
s_key (int i, char *key, size_t size)
{
    snprintf (key, size, "k%04d", i);
}

//  Puts keys [from, to) through client; each must be acknowledged
static void
s_write (zkv_client_t *client, int from, int to)
{
    static char value [VALUE_BYTES];
    for (int i = from; i < to; i++) {
        char key [16];
        s_key (i, key, sizeof key);
        s_value (i, value);
        zkv_put_t put = { .key = cf_bin (key), .value = zkv_bin (value, VALUE_BYTES) };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
        cr_assert (reply && !zkv_reply_error (reply), "%s was not acknowledged", key);
        zkv_msg_destroy (&reply);
    }
}

//  A cluster of members (1 or 3) holding KEYS keys, all in table files on
//  the victim (a follower when there are others): a defrag flushed its
//  memtables and compacted them
static const char *
s_cluster_with_tables (size_t members, char *leader, size_t size)
{
    if (members == 3)
        cf_up (NULL);
    else {
        cf_prepare (members, NULL);
        char error [4096];
        cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
    }
    cf_leader (leader, size);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    s_write (client, 0, KEYS);
    zkv_client_destroy (&client);
    const char *victim = leader;
    for (size_t m = 0; m < members && streq (victim, leader); m++)
        victim = zkv_harness_name (cf_cluster, m);
    //  The victim applied everything before its tables are written
    cr_assert (cf_caught_up (victim, cf_applied (leader)));
    zkv_defragment_t defrag = { false };
    zkv_msg_t *reply = cf_call (victim, &zkv_defragment_desc, &defrag);
    cr_assert (reply && !zkv_reply_error (reply), "%s did not defragment", victim);
    zkv_msg_destroy (&reply);
    return victim;
}

//  ---------------------------------------------------------------------
//  Files

static void
s_db_path (const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s/db", cf_dir, name);
}

//  The table files of a stopped member's database, as RocksDB lists them
//  (opened read-only: nothing changes): the path of the key family's
//  biggest, and of the newest of all
static void
s_tables (const char *name, char *key_table, char *newest, size_t size)
{
    char db [256];
    s_db_path (name, db, sizeof db);
    rocksdb_options_t *options = rocksdb_options_create ();
    const char *names [ZKV_CF_COUNT];
    const rocksdb_options_t *cf_options [ZKV_CF_COUNT];
    rocksdb_column_family_handle_t *handles [ZKV_CF_COUNT];
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++) {
        names [cf] = zkv_cf_name ((zkv_cf_t) cf);
        cf_options [cf] = options;
    }
    char *error = NULL;
    rocksdb_t *db_handle = rocksdb_open_for_read_only_column_families (
        options, db, ZKV_CF_COUNT, names, cf_options, handles, 0, &error);
    cr_assert_null (error, "%s", error);
    const rocksdb_livefiles_t *files = rocksdb_livefiles (db_handle);
    size_t key_size = 0;
    long newest_number = -1;
    *key_table = *newest = 0;
    for (int i = 0; i < rocksdb_livefiles_count (files); i++) {
        const char *file = rocksdb_livefiles_name (files, i);
        size_t file_size = rocksdb_livefiles_size (files, i);
        if (streq (rocksdb_livefiles_column_family_name (files, i), "key")
        &&  file_size > key_size) {
            key_size = file_size;
            snprintf (key_table, size, "%s%s", db, file);
        }
        long number = strtol (file + 1, NULL, 10);
        if (number > newest_number) {
            newest_number = number;
            snprintf (newest, size, "%s%s", db, file);
        }
    }
    rocksdb_livefiles_destroy (files);
    for (int cf = 0; cf < ZKV_CF_COUNT; cf++)
        rocksdb_column_family_handle_destroy (handles [cf]);
    rocksdb_close (db_handle);
    rocksdb_options_destroy (options);
    cr_assert (*key_table && *newest, "%s has no table files", name);
}

//  The file of a member's database whose name starts with prefix and ends
//  with suffix and whose number is highest (the newest WAL, the MANIFEST)
static void
s_newest_file (const char *name, const char *prefix, const char *suffix, char *path,
               size_t size)
{
    char db [256];
    s_db_path (name, db, sizeof db);
    DIR *dir = opendir (db);
    cr_assert_not_null (dir, "%s", db);
    struct dirent *entry;
    long best = -1;
    while ((entry = readdir (dir))) {
        const char *file = entry->d_name;
        size_t length = strlen (file);
        if (strncmp (file, prefix, strlen (prefix)) != 0 || length < strlen (suffix)
        ||  !streq (file + length - strlen (suffix), suffix))
            continue;
        long number = strtol (file + strlen (prefix), NULL, 10);
        if (number > best) {
            best = number;
            snprintf (path, size, "%s/%s", db, file);
        }
    }
    closedir (dir);
    cr_assert_geq (best, 0, "no %s*%s in %s", prefix, suffix, db);
}

static off_t
s_size (const char *path)
{
    struct stat info;
    cr_assert_eq (stat (path, &info), 0, "%s: %s", path, strerror (errno));
    return info.st_size;
}

//  Inverts count bytes of path at offset
static void
s_flip (const char *path, off_t offset, size_t count)
{
    int fd = open (path, O_RDWR);
    cr_assert_geq (fd, 0, "%s: %s", path, strerror (errno));
    unsigned char bytes [64];
    cr_assert_leq (count, sizeof bytes);
    cr_assert_eq (pread (fd, bytes, count, offset), (ssize_t) count);
    for (size_t i = 0; i < count; i++)
        bytes [i] ^= 0xFF;
    cr_assert_eq (pwrite (fd, bytes, count, offset), (ssize_t) count);
    close (fd);
}

static void
s_cut (const char *path, off_t size)
{
    cr_assert_eq (truncate (path, size), 0, "%s: %s", path, strerror (errno));
}

//  The logical records of a RocksDB log file (a WAL, a MANIFEST): 32 KiB
//  blocks of fragments, each with a 7-byte header (checksum, length, type;
//  11 bytes for the recyclable types). Fills starts and ends (offsets) of
//  up to max records; returns how many.
static size_t
s_log_records (const char *path, off_t *starts, off_t *ends, size_t max)
{
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file, "%s", path);
    off_t size = s_size (path);
    unsigned char *data = malloc ((size_t) size + 1);
    cr_assert_eq (fread (data, 1, (size_t) size, file), (size_t) size);
    fclose (file);
    off_t at = 0, start = 0;
    size_t count = 0;
    while (at + 7 <= size && count < max) {
        off_t left = 32768 - at % 32768;
        if (left < 7) {
            at += left;                 //  the block's trailer
            continue;
        }
        size_t length = data [at + 4] | (size_t) data [at + 5] << 8;
        int type = data [at + 6];
        off_t header = type >= 5? 11: 7;
        if (type == 0 && length == 0) {
            at += left;                 //  zeroes: padding, preallocation
            continue;
        }
        if (at + header + (off_t) length > size)
            break;
        if (type == 1 || type == 2 || type == 5 || type == 6)
            start = at;                 //  full or first fragment
        if (type == 1 || type == 4 || type == 5 || type == 8) {
            starts [count] = start;     //  full or last fragment
            ends [count++] = at + header + (off_t) length;
        }
        at += header + (off_t) length;
    }
    free (data);
    return count;
}

//  ---------------------------------------------------------------------
//  What the member does with it

typedef enum { REFUSED, STOPPED, SERVED } s_outcome_t;

static const char *
s_outcome_name (s_outcome_t outcome)
{
    return outcome == REFUSED? "refused to start": outcome == STOPPED? "stopped": "served";
}

//  A member's log as a string (freed by the caller)
static char *
s_log (const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s.log", cf_dir, name);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = malloc ((size_t) size + 1);
    size_t got = fread (text, 1, (size_t) size, file);
    text [got] = 0;
    fclose (file);
    return text;
}

//  Waits for a member's process to end; requires a fatal storage stop
//  (exit code 2) that names the damage
static void
s_stopped_on_damage (const char *name)
{
    cr_assert (eventually (cf_ended, (void *) name, 20000), "%s neither answers nor stops", name);
    int status = zkv_harness_exit_status (cf_cluster, name);
    char *log = s_log (name);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "%s ended with %d: %s", name,
               status, log);
    cr_assert_not_null (strstr (log, "fatal: storage: the database is damaged"), "%s", log);
    free (log);
}

//  The HashKV of a member at revision (0 when it failed); *answered false
//  when no answer came
static uint32_t
s_hash_kv (const char *name, int64_t revision, bool *answered)
{
    zkv_hash_kv_t request = { .revision = revision };
    zkv_msg_t *reply = cf_call (name, &zkv_hash_kv_desc, &request);
    *answered = reply != NULL;
    uint32_t hash = 0;
    if (reply && !zkv_reply_error (reply))
        hash = (uint32_t) ((zkv_hash_kv_response_t *) reply->body)->hash;
    zkv_msg_destroy (&reply);
    return hash;
}

//  Starts the damaged member again and reads every acknowledged key from
//  it (serializable: its own data answers) and its HashKV. It refuses to
//  start, exit code 1 or 2, naming the damage; or it starts, and answers
//  every read with the value acknowledged (an error would do, but no other
//  value, no missing key), until it stops on the damage (exit code 2,
//  naming it); or it serves everything, HashKV as the leader's. applied:
//  what it had applied before it stopped, or what the others applied since
//  (raft replays what a torn WAL tail took, the leader sends what it missed)
static s_outcome_t
s_restart_and_read (const char *victim, const char *leader, int count, uint64_t applied)
{
    char error [8192];
    if (zkv_harness_start (cf_cluster, victim, error, sizeof error)) {
        int status = zkv_harness_exit_status (cf_cluster, victim);
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) >= 1 && WEXITSTATUS (status) <= 2,
                   "%s ended with %d: %s", victim, status, error);
        cr_assert (strstr (error, "damaged") || strstr (error, "Corruption"),
                   "%s refused to start without naming the damage: %s", victim, error);
        return REFUSED;
    }
    if (!cf_caught_up (victim, applied)) {
        s_stopped_on_damage (victim);
        return STOPPED;
    }
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, victim), 2000);
    static char value [VALUE_BYTES];
    int errors = 0;
    for (int i = 0; i < count; i++) {
        char key [16];
        s_key (i, key, sizeof key);
        zkv_range_t get = { .key = cf_bin (key), .serializable = true };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &get, &status);
        if (!reply) {
            zkv_client_destroy (&client);
            s_stopped_on_damage (victim);
            return STOPPED;
        }
        if (zkv_reply_error (reply))
            errors++;
        else {
            const zkv_range_response_t *range = (const zkv_range_response_t *) reply->body;
            cr_assert_eq (range->kvs.count, 1, "%s answered %s with nothing", victim, key);
            s_value (i, value);
            cr_assert (range->kvs.items [0].value.size == VALUE_BYTES
                       && memcmp (range->kvs.items [0].value.data, value, VALUE_BYTES) == 0,
                       "%s answered %s with another value", victim, key);
        }
        zkv_msg_destroy (&reply);
    }
    zkv_client_destroy (&client);
    //  Every key of the history, through HashKV at the leader's revision
    zkv_range_t get = { .key = cf_bin ("k0000"), .serializable = true };
    zkv_msg_t *reply = cf_call (leader, &zkv_range_desc, &get);
    cr_assert (reply && !zkv_reply_error (reply));
    int64_t revision = ((zkv_range_response_t *) reply->body)->header->revision;
    zkv_msg_destroy (&reply);
    bool answered;
    uint32_t theirs = s_hash_kv (leader, revision, &answered);
    uint32_t ours = s_hash_kv (victim, revision, &answered);
    if (!answered) {
        s_stopped_on_damage (victim);
        return STOPPED;
    }
    cr_assert (ours == theirs, "%s: HashKV %u at %lld, the leader's %u", victim, ours,
               (long long) revision, theirs);
    cr_assert_eq (errors, 0, "%s answered %d reads with errors but stayed up", victim, errors);
    return SERVED;
}

static void
s_expect (s_outcome_t outcome, s_outcome_t expected, const char *victim)
{
    cr_assert_eq (outcome, expected, "%s %s (expected: %s)", victim, s_outcome_name (outcome),
                  s_outcome_name (expected));
}

//  A member that stopped on damage leaves its mark: it does not start again
static void
s_refuses_again (const char *victim)
{
    char error [8192];
    cr_assert_neq (zkv_harness_start (cf_cluster, victim, error, sizeof error), 0,
                   "%s started again on damaged files", victim);
    int status = zkv_harness_exit_status (cf_cluster, victim);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "%s", error);
    cr_assert_not_null (strstr (error, "was found damaged"), "%s", error);
}

//  ---------------------------------------------------------------------

Test (torn_files, flipped_bytes_in_a_table_stop_the_member_at_the_first_read)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (3, leader, sizeof leader);
    uint64_t applied = cf_applied (victim);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    char key_table [512], newest [512];
    s_tables (victim, key_table, newest, sizeof key_table);
    //  The middle of the key family's table: data blocks (values)
    s_flip (key_table, s_size (key_table) / 2, 16);
    s_expect (s_restart_and_read (victim, leader, KEYS, applied), STOPPED, victim);
    s_refuses_again (victim);

    //  Rebuilt as docs/OPERATIONS.md says: its data moved aside, started
    //  empty, and a new leader (a leader never sends a member entries below
    //  what it acknowledged once) brings it back with everything
    char data [256], aside [300];
    snprintf (data, sizeof data, "%s/%s", cf_dir, victim);
    snprintf (aside, sizeof aside, "%s.damaged", data);
    cr_assert_eq (rename (data, aside), 0, "%s", strerror (errno));
    char error [8192];
    cr_assert_eq (zkv_harness_start (cf_cluster, victim, error, sizeof error), 0, "%s", error);
    cf_leader (leader, sizeof leader);
    const char *target = NULL;
    for (size_t m = 0; m < 3; m++)
        if (!streq (zkv_harness_name (cf_cluster, m), victim)
        &&  !streq (zkv_harness_name (cf_cluster, m), leader))
            target = zkv_harness_name (cf_cluster, m);
    const char *move [] = { "move-leader", target, NULL };
    zkv_run_t run = cf_zkvctl (zkv_harness_endpoint (cf_cluster, leader), move);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    free (cf_converged ());
    s_expect (s_restart_and_read (victim, target, KEYS, cf_applied (target)), SERVED, victim);
}

Test (torn_files, a_cut_table_refuses_to_start)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (3, leader, sizeof leader);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    char key_table [512], newest [512];
    s_tables (victim, key_table, newest, sizeof key_table);
    s_cut (newest, s_size (newest) / 2);
    s_expect (s_restart_and_read (victim, leader, KEYS, 0), REFUSED, victim);
}

Test (torn_files, a_cut_manifest_or_current_refuses_to_start)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (3, leader, sizeof leader);
    uint64_t applied = cf_applied (victim);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    char db [256], copy [300], command [1024];
    s_db_path (victim, db, sizeof db);
    snprintf (copy, sizeof copy, "%s.whole", db);
    snprintf (command, sizeof command, "cp -a '%s' '%s'", db, copy);
    cr_assert_eq (system (command), 0);

    //  The MANIFEST cut in the middle of its last record: RocksDB takes a
    //  torn last record for one never written (it is synced before it takes
    //  effect) and opens the version before it, whose table files the last
    //  compaction deleted
    char manifest [512];
    s_newest_file (victim, "MANIFEST-", "", manifest, sizeof manifest);
    off_t starts [4096], ends [4096];
    size_t count = s_log_records (manifest, starts, ends, 4096);
    cr_assert_gt (count, 1);
    cr_assert_eq (ends [count - 1], s_size (manifest), "a MANIFEST with a torn tail already");
    s_cut (manifest, (starts [count - 1] + ends [count - 1]) / 2);
    s_expect (s_restart_and_read (victim, leader, KEYS, applied), REFUSED, victim);

    //  CURRENT (the MANIFEST's name and a newline) cut
    snprintf (command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", db, copy, db);
    cr_assert_eq (system (command), 0);
    char current [300];
    snprintf (current, sizeof current, "%s/CURRENT", db);
    s_cut (current, s_size (current) / 2);
    s_expect (s_restart_and_read (victim, leader, KEYS, applied), REFUSED, victim);

    //  And whole again, it serves
    snprintf (command, sizeof command, "rm -rf '%s' && mv '%s' '%s'", db, copy, db);
    cr_assert_eq (system (command), 0);
    s_expect (s_restart_and_read (victim, leader, KEYS, applied), SERVED, victim);
}

//  A flush's record cut from the MANIFEST: the restart after a stop turns
//  the WAL into table files, one record per family in the MANIFEST, the
//  raft log's last; without it the raft log ends before what storage applied
Test (torn_files, a_manifest_cut_after_a_flush_refuses_to_start)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (3, leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    s_write (client, KEYS, KEYS + 50);
    zkv_client_destroy (&client);
    uint64_t applied = cf_applied (leader);
    cr_assert (cf_caught_up (victim, applied));
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    s_expect (s_restart_and_read (victim, leader, KEYS + 50, applied), SERVED, victim);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    char manifest [512];
    s_newest_file (victim, "MANIFEST-", "", manifest, sizeof manifest);
    off_t starts [4096], ends [4096];
    size_t count = s_log_records (manifest, starts, ends, 4096);
    cr_assert_gt (count, 1);
    s_cut (manifest, (starts [count - 1] + ends [count - 1]) / 2);
    s_expect (s_restart_and_read (victim, leader, KEYS + 50, applied), REFUSED, victim);
}

//  A kill -9 in the middle of a write leaves the WAL's last record torn:
//  that record was never synced, so never acknowledged, and RocksDB drops
//  it; the member comes back with everything (raft replays what the lost
//  apply held, or the leader sends it again)
Test (torn_files, a_torn_wal_tail_after_a_kill_loses_nothing_acknowledged)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (3, leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    s_write (client, KEYS, KEYS + 50);
    zkv_client_destroy (&client);
    uint64_t applied = cf_applied (leader);
    cr_assert (cf_caught_up (victim, applied));
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGKILL), 0);
    char wal [512];
    s_newest_file (victim, "", ".log", wal, sizeof wal);
    off_t starts [4096], ends [4096];
    size_t count = s_log_records (wal, starts, ends, 4096);
    //  (a follower gets several entries in one append when it lags, as on
    //  a loaded machine: fewer records than writes, seen 45 for 50)
    cr_assert_gt (count, 1, "the WAL holds %zu records", count);
    s_cut (wal, (starts [count - 1] + ends [count - 1]) / 2);
    s_expect (s_restart_and_read (victim, leader, KEYS + 50, applied), SERVED, victim);
}

//  The same on a cluster of one, whose disk holds the only copy of what it
//  acknowledged: every acknowledged write is still there
Test (torn_files, a_torn_wal_tail_on_the_only_member_loses_nothing_acknowledged)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (1, leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    s_write (client, KEYS, KEYS + 50);
    zkv_client_destroy (&client);
    uint64_t applied = cf_applied (victim);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGKILL), 0);
    char wal [512];
    s_newest_file (victim, "", ".log", wal, sizeof wal);
    off_t starts [4096], ends [4096];
    size_t count = s_log_records (wal, starts, ends, 4096);
    cr_assert_gt (count, 50, "the WAL holds %zu records", count);
    s_cut (wal, (starts [count - 1] + ends [count - 1]) / 2);
    s_expect (s_restart_and_read (victim, victim, KEYS + 50, applied), SERVED, victim);
}

//  A record in the middle of the WAL altered: not a crash's doing. The
//  member refuses to start; RocksDB's default recovery would have opened
//  the database without every record after it, fsync'd ones included
//  (here: acknowledged writes of the only member, gone)
Test (torn_files, an_altered_wal_record_refuses_to_start)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (1, leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    s_write (client, KEYS, KEYS + 50);
    zkv_client_destroy (&client);
    uint64_t applied = cf_applied (victim);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGKILL), 0);
    char wal [512];
    s_newest_file (victim, "", ".log", wal, sizeof wal);
    off_t starts [4096], ends [4096];
    size_t count = s_log_records (wal, starts, ends, 4096);
    cr_assert_gt (count, 50, "the WAL holds %zu records", count);
    size_t middle = count / 2;
    s_flip (wal, (starts [middle] + ends [middle]) / 2, 1);
    s_expect (s_restart_and_read (victim, victim, KEYS + 50, applied), REFUSED, victim);
}

//  A stored value altered so that it no longer decodes (its checksums
//  rewritten to match, as RocksDB writes it: only zkv can tell). A read of
//  it is refused with an error; a write whose apply reads it (a put asking
//  for the previous value) stops the member, which would otherwise answer
//  it with an error and go on one revision behind every other member
Test (torn_files, a_value_that_no_longer_decodes_stops_the_member_that_applies_a_read_of_it)
{
    char leader [32];
    const char *victim = s_cluster_with_tables (3, leader, sizeof leader);
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    char db [256];
    s_db_path (victim, db, sizeof db);
    char *error = NULL;
    zkv_engine_t *engine = zkv_engine_open (db, NULL, &error);
    cr_assert_not_null (engine, "%s", error);
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_KEY, NULL);
    rocksdb_iter_seek_to_first (it);            //  revision 2: k0000's put
    cr_assert (rocksdb_iter_valid (it));
    size_t key_size;
    const char *key = rocksdb_iter_key (it, &key_size);
    char revision [32];
    cr_assert_leq (key_size, sizeof revision);
    memcpy (revision, key, key_size);
    rocksdb_iter_destroy (it);
    const char garbage [] = { (char) 0xFF };    //  a varint cut short
    cr_assert_eq (zkv_engine_put (engine, ZKV_CF_KEY, revision, key_size, garbage,
                                  sizeof garbage, true, &error), 0, "%s", error);
    zkv_engine_destroy (&engine);

    char text [8192];
    cr_assert_eq (zkv_harness_start (cf_cluster, victim, text, sizeof text), 0, "%s", text);
    zkv_range_t get = { .key = cf_bin ("k0000"), .serializable = true };
    zkv_msg_t *reply = cf_call (victim, &zkv_range_desc, &get);
    cr_assert (reply && zkv_reply_error (reply), "%s answered a value it cannot decode", victim);
    zkv_msg_destroy (&reply);

    zkv_put_t put = { .key = cf_bin ("k0000"), .value = cf_bin ("new"), .prev_kv = true };
    reply = cf_call (leader, &zkv_put_desc, &put);
    cr_assert (reply && !zkv_reply_error (reply), "the cluster did not take the put");
    zkv_msg_destroy (&reply);
    cr_assert (eventually (cf_ended, (void *) victim, 20000), "%s applied what it could not read",
               victim);
    int status = zkv_harness_exit_status (cf_cluster, victim);
    char *log = s_log (victim);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2, "%s ended with %d", victim,
               status);
    cr_assert_not_null (strstr (log, "could not be applied"), "%s", log);
    free (log);
}
