/*  test_disk_full.c — a member whose data directory is a small filesystem
    (a tmpfs the test mounts, 64 MiB, part of it taken by a ballast file):
    the free-disk guard raises NOSPACE while the disk still has room (under
    load: test_disk_guard.c);
    with the watermark off, a write that meets the full disk stops the
    member (exit 2, RocksDB's error in its log), and so does a flush that
    meets it while the member is idle; it refuses to start while the disk
    is full, and once the ballast is gone it starts and holds every write
    it acknowledged. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "cluster_fixture.h"
#include "small_disk.h"

#define MIB (1024 * 1024)
#define DISK_BYTES (64 * MIB)
#define VALUE_BYTES 8192

static void
s_teardown (void)
{
    //  The members first: they hold files on it
    zkv_harness_destroy (&cf_cluster);
    sd_unmount ();
    cf_teardown ();
}

TestSuite (disk_full, .fini = s_teardown, .timeout = 120);

//  Mounts a tmpfs of DISK_BYTES as the data directory of member name
static void
s_small_disk (const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", cf_dir, name);
    sd_mount (path, DISK_BYTES);
}

static void
s_start (const char *name)
{
    char error [8192];
    cr_assert_eq (zkv_harness_start (cf_cluster, name, error, sizeof error), 0, "%s", error);
}

//  The i-th key of a fill, and its value (compressible, as most are)
static void
s_key (int i, char *key, size_t size)
{
    snprintf (key, size, "fill/%05d", i);
}

static void
s_value (int i, char *value)
{
    for (size_t b = 0; b < VALUE_BYTES; b++)
        value [b] = (char) ('a' + (b * 7 + (size_t) i * 13) % 26);
}

//  The put of the i-th key (its key and value in buffers of its own, until
//  the next call)
static zkv_put_t
s_put_of (int i)
{
    static char key [32];
    static char value [VALUE_BYTES];
    s_key (i, key, sizeof key);
    s_value (i, value);
    return (zkv_put_t) { .key = cf_bin (key), .value = zkv_bin (value, VALUE_BYTES) };
}

//  Puts the i-th key; its error text ("" when acknowledged; the text of
//  the status when no reply came)
static const char *
s_put (zkv_client_t *client, int i, char *text, size_t size)
{
    cf_putting_t putting = { .client = client, .put = s_put_of (i), .wanted = "" };
    cf_put_answers (&putting);
    snprintf (text, size, "%s", putting.error);
    return text;
}

//  True once every member's Status lists a NOSPACE for member
static bool
s_nospace_everywhere (void *member)
{
    return cf_alarm_listed_everywhere ((const char *) member, "NOSPACE");
}

//  Requires on member name every key of the fill below count that was
//  acknowledged (acked [i], or every one when acked is NULL), each with its
//  value; the others may be there or not (serializable reads: the
//  member's own data, in pages)
static void
s_check_acked (const char *name, int count, const bool *acked)
{
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), 5000);
    static char value [VALUE_BYTES];
    int next = 0;                       //  keys below it are checked
    bool more = true;
    while (more && next < count) {
        char from [32];
        s_key (next, from, sizeof from);
        zkv_range_t range = { .key = cf_bin (from), .range_end = cf_bin ("fill0"),
                              .limit = 256, .serializable = true };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
        cr_assert (reply && !zkv_reply_error (reply), "%s did not read from %s", name, from);
        const zkv_range_response_t *response = (const zkv_range_response_t *) reply->body;
        more = response->more;
        for (size_t k = 0; k < response->kvs.count; k++) {
            const zkv_key_value_t *kv = &response->kvs.items [k];
            char key [32];
            snprintf (key, sizeof key, "%.*s", (int) kv->key.size, (const char *) kv->key.data);
            int index = atoi (key + strlen ("fill/"));
            for (; next < index && next < count; next++)
                cr_assert (acked && !acked [next], "%s lost the acknowledged fill/%05d", name,
                           next);
            s_value (index, value);
            cr_assert (kv->value.size == VALUE_BYTES
                       && memcmp (kv->value.data, value, VALUE_BYTES) == 0,
                       "%s holds another value of %s", name, key);
            next = index + 1;
        }
        zkv_msg_destroy (&reply);
    }
    for (; next < count; next++)
        cr_assert (acked && !acked [next], "%s lost the acknowledged fill/%05d", name, next);
    zkv_client_destroy (&client);
}

//  Waits until member name's process has ended; its wait status
static int
s_ended (const char *name)
{
    cr_assert (eventually (cf_ended, (void *) name, 20000), "%s is still running", name);
    return zkv_harness_exit_status (cf_cluster, name);
}

//  Requires member name to have stopped with exit code 2 (a fatal storage
//  failure), not a signal (RocksDB's abort), naming RocksDB's ENOSPC
static void
s_stopped_on_a_full_disk (const char *name)
{
    int status = s_ended (name);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 2,
               "%s ended with %s %d, not exit code 2", name,
               WIFSIGNALED (status)? "signal": "exit code",
               WIFSIGNALED (status)? WTERMSIG (status): WEXITSTATUS (status));
    cr_assert (cf_log_says (name, "fatal: storage: RocksDB failed a"),
               "%s's log tells no fatal storage failure", name);
    cr_assert (cf_log_says (name, "No space left on device"), "%s's log names no ENOSPC", name);
}

//  While the disk is full the member refuses to start, with exit code 1
//  and a clear message
static void
s_refuses_to_start_on_a_full_disk (const char *name)
{
    char error [8192];
    cr_assert_neq (zkv_harness_start (cf_cluster, name, error, sizeof error), 0,
                   "%s started on a full disk", name);
    int status = zkv_harness_exit_status (cf_cluster, name);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "%s", error);
    cr_assert_not_null (strstr (error, "no space left on the disk of"), "%s", error);
}

//  What member name's free-disk guard saw when it first raised NOSPACE
//  (from its log line: "F bytes free on the disk of D, O owed (...)"):
//  the free bytes, and what it counted as owed to them; false if it
//  raised none
static bool
s_seen_when_raised (const char *name, int64_t *free_bytes, int64_t *owed)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s.log", cf_dir, name);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    char line [1024];
    bool found = false;
    while (!found && fgets (line, sizeof line, file)) {
        char *at = strstr (line, " bytes free on the disk of ");
        if (!at || !strstr (at, "raising NOSPACE"))
            continue;
        while (at > line && at [-1] >= '0' && at [-1] <= '9')
            at--;                       //  to the number before it
        long long bytes, counted;
        if (sscanf (at, "%lld bytes free on the disk of %*[^,], %lld owed", &bytes,
                    &counted) == 2) {
            *free_bytes = bytes;
            *owed = counted;
            found = true;
        }
    }
    fclose (file);
    return found;
}

Test (disk_full, the_watermark_raises_nospace_while_the_disk_still_has_room)
{
    //  n1's data on 64 MiB, 8 of them ballast and 24 its reserve: NOSPACE
    //  once the free space less what n1 owes it (memtables, the next
    //  compaction, writes in flight) is under 24 MiB
    const int64_t watermark = 24 * MIB;
    const char *flags [] = { "--min-free-disk-bytes", "25165824", NULL };
    cf_prepare (3, flags);
    s_small_disk ("n1");
    sd_ballast (8 * MIB);
    s_start (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    cr_assert_gt (sd_free_bytes (), watermark);

    //  Writes go through until n1's disk is under the watermark (n1 may
    //  write an entry after the leader acknowledged it, and raise its alarm
    //  before this loop sees the disk under); then, once n1 has raised its
    //  NOSPACE, they are refused on every member
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    char text [256];
    int acked = 0;
    while (sd_free_bytes () >= watermark) {
        if (*s_put (client, acked, text, sizeof text)) {
            cr_assert_str_eq (text, "etcdserver: mvcc: database space exceeded",
                              "put %d refused with %lld bytes free", acked,
                              (long long) sd_free_bytes ());
            break;
        }
        acked++;
    }
    cr_assert (eventually (s_nospace_everywhere, "n1", 10000),
               "n1 raised no NOSPACE (%lld bytes free)", (long long) sd_free_bytes ());
    //  From the watermark, not from a full disk: there was room, and n1 runs
    int64_t seen, owed;
    cr_assert (s_seen_when_raised ("n1", &seen, &owed), "n1's log tells no NOSPACE raised");
    cr_assert (seen > 0 && seen - owed < watermark,
               "n1 raised NOSPACE with %lld bytes free, %lld owed", (long long) seen,
               (long long) owed);
    cr_assert_gt (sd_free_bytes (), 0);
    cr_assert (zkv_harness_running (cf_cluster, "n1"));
    cr_assert (!cf_log_says ("n1", "No space left on device"));
    for (size_t m = 0; m < 3; m++) {
        const char *name = zkv_harness_name (cf_cluster, m);
        zkv_client_t *member = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), 5000);
        cr_assert_str_eq (s_put (member, acked, text, sizeof text),
                          "etcdserver: mvcc: database space exceeded", "%s", name);
        zkv_client_destroy (&member);
        s_check_acked (name, acked, NULL);
    }

    //  Space freed and the alarm disarmed: writes again
    sd_drop_ballast ();
    cr_assert_gt (sd_free_bytes (), watermark);
    const char *disarm [] = { "alarm", "disarm", NULL };
    zkv_run_t run = cf_zkvctl (zkv_harness_endpoints (cf_cluster), disarm);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    cf_putting_t putting = { .client = client, .put = s_put_of (acked), .wanted = "" };
    cr_assert (eventually (cf_put_answers, &putting, 10000), "writes still refused: %s",
               putting.error);
    zkv_client_destroy (&client);
}

Test (disk_full, a_write_that_meets_a_full_disk_stops_the_member_until_space_is_freed)
{
    //  One member (its disk holds the only copy of what it acknowledged),
    //  the watermark off; the ballast leaves room for less WAL than it
    //  frees, so that the restart can flush the WAL into table files
    const char *flags [] = { "--min-free-disk-bytes", "0", NULL };
    cf_prepare (1, flags);
    s_small_disk ("n1");
    sd_ballast (32 * MIB);
    s_start ("n1");
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, "n1"), 3000);
    char text [256];
    int acked = 0;
    while (!*s_put (client, acked, text, sizeof text))
        acked++;
    zkv_client_destroy (&client);
    cr_assert_gt (acked, 1000, "the first refusal came early: %s", text);
    s_stopped_on_a_full_disk ("n1");
    s_refuses_to_start_on_a_full_disk ("n1");

    sd_drop_ballast ();
    s_start ("n1");
    cf_leader (leader, sizeof leader);
    s_check_acked ("n1", acked, NULL);
    client = zkv_client_new (zkv_harness_endpoint (cf_cluster, "n1"), 5000);
    cr_assert_str_eq (s_put (client, acked, text, sizeof text), "");
    zkv_client_destroy (&client);
}

Test (disk_full, a_flush_that_meets_a_full_disk_stops_an_idle_member)
{
    //  The disk fills while the member does nothing; then a defrag makes
    //  RocksDB flush its memtables: the flush fails, the member stops (it
    //  used to abort in RocksDB's LOG)
    const char *flags [] = { "--min-free-disk-bytes", "0", NULL };
    cf_prepare (1, flags);
    s_small_disk ("n1");
    s_start ("n1");
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, "n1"), 5000);
    char text [256];
    const int count = 200;
    for (int i = 0; i < count; i++)
        cr_assert_str_eq (s_put (client, i, text, sizeof text), "");
    zkv_client_destroy (&client);
    sd_ballast (0);
    cr_assert_lt (sd_free_bytes (), 65536);
    zkv_defragment_t defrag = { false };
    zkv_msg_t *reply = cf_call ("n1", &zkv_defragment_desc, &defrag);
    cr_assert (!reply || zkv_reply_error (reply), "a defrag went through on a full disk");
    zkv_msg_destroy (&reply);
    s_stopped_on_a_full_disk ("n1");
    s_refuses_to_start_on_a_full_disk ("n1");

    sd_drop_ballast ();
    s_start ("n1");
    cf_leader (leader, sizeof leader);
    s_check_acked ("n1", count, NULL);
}

Test (disk_full, a_member_whose_disk_fills_stops_while_the_others_go_on)
{
    //  n1's disk fills (the watermark off) under writes sent to n2: n1
    //  stops, the other two go on (electing a leader if n1 led), and once
    //  space is freed n1 starts and catches up with what it missed
    const char *flags [] = { "--min-free-disk-bytes", "0", NULL };
    cf_prepare (3, flags);
    s_small_disk ("n1");
    sd_ballast (32 * MIB);
    s_start (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    enum { MAX_PUTS = 20000 };
    bool *acked = calloc (MAX_PUTS, sizeof (bool));
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, "n2"), 3000);
    char text [256];
    int count = 0, after = 0;
    //  Until n1 is down and the others have acknowledged 100 writes since
    while (after < 100) {
        cr_assert_lt (count, MAX_PUTS, "n1 never stopped");
        acked [count] = !*s_put (client, count, text, sizeof text);
        if (!zkv_harness_running (cf_cluster, "n1") && acked [count])
            after++;
        count++;
    }
    zkv_client_destroy (&client);
    s_stopped_on_a_full_disk ("n1");
    s_refuses_to_start_on_a_full_disk ("n1");

    //  (n2 answered the last write once it had applied it)
    uint64_t applied = cf_applied ("n2");
    sd_drop_ballast ();
    s_start ("n1");
    cr_assert (cf_caught_up ("n1", applied), "n1 did not catch up");
    for (size_t m = 0; m < 3; m++)
        s_check_acked (zkv_harness_name (cf_cluster, m), count, acked);
    free (acked);
}
