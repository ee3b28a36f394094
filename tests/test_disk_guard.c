/*  test_disk_guard.c — NOSPACE before ENOSPC: writers that fill a
    member's small disk (a tmpfs the test mounts) as fast as they can get
    NOSPACE, round after round, and the member never meets a full disk:
    it keeps running, its reserve file is released, it holds every write
    it acknowledged, and once the operator deletes, compacts, defragments
    and disarms, the reserve is made again and writes work again. The
    free-disk watermark and the reserve are at their defaults (64 MiB);
    the raft log is compacted every 16 entries (at its default, 10000
    entries of 1 MiB would not fit, and no defragmentation reclaims the
    log: docs/OPERATIONS.md, "Disk faults"). */
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cluster_fixture.h"
#include "small_disk.h"

#define MIB (1024 * 1024)
#define RESERVE (64 * MIB)              //  --disk-reserve-bytes, by default
#define PATIENCE 120000                 //  msecs a round's writer or an operator's
                                        //  command may take: generous

static void
s_teardown (void)
{
    //  The members first: they hold files on the small disk
    zkv_harness_destroy (&cf_cluster);
    sd_unmount ();
    cf_teardown ();
}

TestSuite (disk_guard, .fini = s_teardown, .timeout = 600);

//  One attack: who has the small disk, who the writer talks to, how
typedef struct {
    size_t members;
    const char *small;                  //  the member on the small disk
    bool to_leader;                     //  the writer talks to the leader (else to small)
    int64_t disk_bytes;
    size_t value_bytes;
    int in_flight;                      //  puts the writer keeps in flight
    int rounds;
} s_attack_t;

//  The value of key i of round r: incompressible bytes (a compressed
//  table file would make the disk fill slower than the writer writes)
static void
s_value (int round, int i, uint8_t *value, size_t size)
{
    uint64_t x = ((uint64_t) round << 32 | (uint64_t) i) * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t b = 0; b < size; b++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        value [b] = (uint8_t) x;
    }
}

static void
s_key (int round, int i, char *key, size_t size)
{
    snprintf (key, size, "burst/%02d/%06d", round, i);
}

//  The error text of a reply ("" when it is no error)
static const char *
s_error (const zkv_msg_t *reply, char *text, size_t size)
{
    *text = 0;
    if (zkv_reply_error (reply))
        zkv_bin_str (zkv_reply_error (reply)->message, text, size);
    return text;
}

static bool
s_nospace (const char *text)
{
    return streq (text, "etcdserver: mvcc: database space exceeded");
}

//  True if every member runs
static bool
s_all_running (void)
{
    for (size_t m = 0; m < zkv_harness_size (cf_cluster); m++)
        if (!zkv_harness_running (cf_cluster, zkv_harness_name (cf_cluster, m)))
            return false;
    return true;
}

//  Requires every member to run, and none to have met a full disk
static void
s_nobody_met_enospc (int round)
{
    for (size_t m = 0; m < zkv_harness_size (cf_cluster); m++) {
        const char *name = zkv_harness_name (cf_cluster, m);
        if (!zkv_harness_running (cf_cluster, name)) {
            int status = zkv_harness_exit_status (cf_cluster, name);
            cr_assert_fail ("round %d: %s ended (%s %d)%s", round, name,
                            WIFSIGNALED (status)? "signal": "exit code",
                            WIFSIGNALED (status)? WTERMSIG (status): WEXITSTATUS (status),
                            cf_log_says (name, "No space left on device")
                            ? ", its log names ENOSPC": "");
        }
        cr_assert (!cf_log_says (name, "No space left on device"),
                   "round %d: %s met a full disk", round, name);
    }
}

//  The writer: puts of round's keys, in_flight of them at a time, until
//  one is refused with NOSPACE (then it waits for those in flight). Marks
//  acked [i] for each acknowledged; returns how many it sent. Other
//  errors are allowed (not acknowledged), but every put gets an answer.
//  *lowest: the least free space seen, after each answer.
static int
s_burst (const s_attack_t *attack, const char *to, int round, bool *acked, int max,
         int64_t *lowest)
{
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster, to),
                                               30000);
    uint8_t *value = malloc (attack->value_bytes);
    cr_assert_not_null (value);
    int sent = 0, outstanding = 0;
    uint64_t first_id = 0;
    bool refused = false;
    int64_t deadline = zclock_mono () + PATIENCE;
    while (true) {
        while (!refused && outstanding < attack->in_flight) {
            if (sent % 64 == 0 || sent == max)
                s_nobody_met_enospc (round);    //  a member gone, or sound
            cr_assert_lt (sent, max, "round %d: %d puts of %zu bytes went through on a disk "
                          "of %lld bytes without NOSPACE", round, sent, attack->value_bytes,
                          (long long) attack->disk_bytes);
            char key [64];
            s_key (round, sent, key, sizeof key);
            s_value (round, sent, value, attack->value_bytes);
            zkv_put_t put = { .key = cf_bin (key), .value = zkv_bin (value, attack->value_bytes) };
            uint64_t id = zkv_client_send (client, &zkv_put_desc, &put, 30000);
            cr_assert_neq (id, 0, "round %d: put %d could not be sent", round, sent);
            if (!first_id)
                first_id = id;
            cr_assert_eq (id, first_id + (uint64_t) sent);
            sent++;
            outstanding++;
        }
        if (outstanding == 0)
            break;
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_recv (client, &zkv_put_desc, 1000, &status);
        if (!reply) {
            //  Slow, or gone: a member that stopped fails the round, one
            //  that stopped answering too
            if (!s_all_running ())
                s_nobody_met_enospc (round);
            cr_assert_lt (zclock_mono (), deadline, "round %d: %d puts unanswered for %d s "
                          "(%lld bytes free)", round, outstanding, PATIENCE / 1000,
                          (long long) sd_free_bytes ());
            continue;
        }
        cr_assert (reply->has_id && reply->id >= first_id
                   && reply->id < first_id + (uint64_t) sent, "a reply to no put of ours");
        int index = (int) (reply->id - first_id);
        char text [256];
        s_error (reply, text, sizeof text);
        acked [index] = !*text;
        refused |= s_nospace (text);
        outstanding--;
        if (sd_free_bytes () < *lowest)
            *lowest = sd_free_bytes ();
        zkv_msg_destroy (&reply);
    }
    free (value);
    zkv_client_destroy (&client);
    return sent;
}

//  Requires member name to hold every acknowledged put of round, with its
//  value (serializable reads: the member's own data)
static void
s_check_acked (const s_attack_t *attack, const char *name, int round, const bool *acked,
               int count)
{
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                 name), 10000);
    uint8_t *value = malloc (attack->value_bytes);
    cr_assert_not_null (value);
    for (int i = 0; i < count; i++) {
        if (!acked [i])
            continue;
        char key [64];
        s_key (round, i, key, sizeof key);
        zkv_range_t range = { .key = cf_bin (key), .serializable = true };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
        cr_assert (reply && !zkv_reply_error (reply), "round %d: %s did not read %s", round,
                   name, key);
        const zkv_range_response_t *response = (const zkv_range_response_t *) reply->body;
        cr_assert_eq (response->kvs.count, 1, "round %d: %s lost the acknowledged %s", round,
                      name, key);
        s_value (round, i, value, attack->value_bytes);
        const zkv_key_value_t *kv = &response->kvs.items [0];
        cr_assert (kv->value.size == attack->value_bytes
                   && memcmp (kv->value.data, value, attack->value_bytes) == 0,
                   "round %d: %s holds another value of %s", round, name, key);
        zkv_msg_destroy (&reply);
    }
    free (value);
    zkv_client_destroy (&client);
}

//  zkvctl with args against every member; requires it to succeed
static void
s_zkvctl (const char *const *args)
{
    zkv_run_t run = cf_zkvctl (zkv_harness_endpoints (cf_cluster), args);
    cr_assert_eq (run.code, 0, "zkvctl %s %s %s: %s", args [0], args [1]? args [1]: "",
                  args [1] && args [2]? args [2]: "", run.err);
    zkv_run_free (&run);
}

//  The bytes of the small member's reserve file on disk
static int64_t
s_reserve_held (void)
{
    char path [300];
    snprintf (path, sizeof path, "%s/reserve", sd_path ());
    struct stat info;
    return stat (path, &info)? 0: (int64_t) info.st_blocks * 512;
}

typedef struct {
    const char *small;          //  the member on the small disk
    int round;                  //  each look requires s_nobody_met_enospc (round) if >= 0
} s_guarded_t;

//  True once every member lists the small member's NOSPACE, and its
//  reserve is released
static bool
s_nospace_and_reserve_released (void *args)
{
    s_guarded_t *self = (s_guarded_t *) args;
    if (self->round >= 0)
        s_nobody_met_enospc (self->round);
    return cf_alarm_listed_everywhere (self->small, "NOSPACE") && s_reserve_held () == 0;
}

typedef struct {
    zkv_client_t *client;
    int round;
    char *text;                 //  the error of the last put
    size_t size;
    bool written;               //  a put went through
} s_recovery_t;

//  True once a put goes through, and then the reserve is made again
static bool
s_recovered (void *args)
{
    s_recovery_t *self = (s_recovery_t *) args;
    if (!self->written) {
        char key [32];
        snprintf (key, sizeof key, "after/%02d", self->round);
        zkv_put_t put = { .key = cf_bin (key), .value = cf_bin ("again") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (self->client, &zkv_put_desc, &put, &status);
        self->written = reply && !*s_error (reply, self->text, self->size);
        zkv_msg_destroy (&reply);
    }
    return self->written && s_reserve_held () >= RESERVE;
}

//  The operator's recovery, as etcd's: delete, compact, defragment,
//  disarm; then writes must work again (waited for: the disarm is applied
//  on each member in its own time), and the reserve be made again
static void
s_recover (const char *to, int round)
{
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster, to),
                                               30000);
    zkv_delete_range_t del = { .key = cf_bin ("burst/"), .range_end = cf_bin ("burst0") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_delete_range_desc, &del, &status);
    char text [256];
    cr_assert (reply && !*s_error (reply, text, sizeof text), "round %d: delete: %s", round,
               reply? text: "no reply");
    int64_t revision = ((const zkv_delete_range_response_t *) reply->body)->header->revision;
    zkv_msg_destroy (&reply);
    zkv_compact_t compact = { .revision = revision, .physical = true };
    reply = zkv_client_call (client, &zkv_compact_desc, &compact, &status);
    cr_assert (reply && !*s_error (reply, text, sizeof text), "round %d: compact: %s", round,
               reply? text: "no reply");
    zkv_msg_destroy (&reply);
    const char *defrag [] = { "--command-timeout", "120s", "defrag", "--cluster", NULL };
    s_zkvctl (defrag);
    const char *disarm [] = { "alarm", "disarm", NULL };
    s_zkvctl (disarm);
    *text = 0;
    s_recovery_t recovery = { client, round, text, sizeof text, false };
    bool recovered = eventually (s_recovered, &recovery, PATIENCE);
    cr_assert (recovery.written, "round %d: writes still refused after the recovery: %s "
               "(%lld bytes free)", round, text, (long long) sd_free_bytes ());
    cr_assert (recovered, "round %d: the reserve was not made again (%lld bytes free)", round,
               (long long) sd_free_bytes ());
    zkv_client_destroy (&client);
}

//  True once the leader is another member than name
static bool
s_not_leader (void *name)
{
    char leader [32];
    cf_leader (leader, sizeof leader);
    return !streq (leader, (const char *) name);
}

//  The member on the small disk is to follow: the leader moves away
static void
s_not_leading (const char *name)
{
    char leader [32];
    cf_leader (leader, sizeof leader);
    if (!streq (leader, name))
        return;
    const char *target = streq (name, "n2")? "n3": "n2";
    const char *move [] = { "move-leader", target, NULL };
    s_zkvctl (move);
    cr_assert (eventually (s_not_leader, (void *) name, 20000), "%s still leads", name);
}

static void
s_run (const s_attack_t *attack)
{
    const char *flags [] = { "--snapshot-count", "16", NULL };
    cf_prepare (attack->members, flags);
    char path [256];
    snprintf (path, sizeof path, "%s/%s", cf_dir, attack->small);
    sd_mount (path, attack->disk_bytes);
    char error [8192];
    cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
    cr_assert_geq (s_reserve_held (), RESERVE, "%s started without its reserve", attack->small);
    int max = (int) (attack->disk_bytes / (int64_t) attack->value_bytes) + 64;
    bool *acked = calloc ((size_t) max, sizeof (bool));
    cr_assert_not_null (acked);
    for (int round = 0; round < attack->rounds; round++) {
        if (attack->to_leader && attack->members > 1)
            s_not_leading (attack->small);
        char leader [32];
        cf_leader (leader, sizeof leader);
        const char *to = attack->to_leader? leader: attack->small;
        memset (acked, 0, (size_t) max * sizeof (bool));
        int64_t free_before = sd_free_bytes (), lowest = free_before;
        int sent = s_burst (attack, to, round, acked, max, &lowest);
        int count = 0;
        for (int i = 0; i < sent; i++)
            count += acked [i];
        s_guarded_t guarded = { attack->small, round };
        cr_assert (eventually (s_nospace_and_reserve_released, &guarded, 30000),
                   "round %d: %s's NOSPACE is not listed, or its reserve (%lld bytes) not "
                   "released", round, attack->small, (long long) s_reserve_held ());
        s_nobody_met_enospc (round);
        cr_log_info ("round %d: %d of %d puts acknowledged; %lld bytes free before, %lld at "
                     "least, %lld after", round, count, sent, (long long) free_before,
                     (long long) lowest, (long long) sd_free_bytes ());
        for (size_t m = 0; m < zkv_harness_size (cf_cluster); m++)
            s_check_acked (attack, zkv_harness_name (cf_cluster, m), round, acked, sent);
        s_recover (to, round);
        s_nobody_met_enospc (round);
    }
    free (acked);
}

Test (disk_guard, a_burst_writer_gets_nospace_before_the_disk_fills)
{
    //  The writer: 1 MiB puts, 8 in flight, to the member itself
    s_attack_t attack = {
        .members = 1, .small = "n1", .to_leader = false, .disk_bytes = 256 * MIB,
        .value_bytes = MIB, .in_flight = 8, .rounds = 20
    };
    s_run (&attack);
}

Test (disk_guard, a_steady_writer_gets_nospace_before_the_disk_fills)
{
    //  256 KiB puts, one at a time
    s_attack_t attack = {
        .members = 1, .small = "n1", .to_leader = false, .disk_bytes = 256 * MIB,
        .value_bytes = 256 * 1024, .in_flight = 1, .rounds = 10
    };
    s_run (&attack);
}

Test (disk_guard, a_follower_with_a_small_disk_gets_nospace_for_the_cluster)
{
    //  The burst goes to the leader, whose disk is large; the follower on
    //  the small disk sees the writes only as entries to append and apply,
    //  raises its NOSPACE, and the alarm stops writes on every member
    s_attack_t attack = {
        .members = 3, .small = "n1", .to_leader = true, .disk_bytes = 256 * MIB,
        .value_bytes = MIB, .in_flight = 8, .rounds = 5
    };
    s_run (&attack);
}

Test (disk_guard, a_defragmentation_that_would_not_fit_is_refused)
{
    //  n1 alone holds 24 live values of 1 MiB, and a ballast leaves its
    //  disk 8 MiB: a defragmentation would rewrite the values before it
    //  dropped the old tables, so it refuses, and the member goes on. With
    //  the ballast gone it runs.
    s_attack_t attack = {
        .members = 1, .small = "n1", .disk_bytes = 256 * MIB, .value_bytes = MIB
    };
    const char *flags [] = { "--snapshot-count", "16", NULL };
    cf_prepare (1, flags);
    char path [256];
    snprintf (path, sizeof path, "%s/n1", cf_dir);
    sd_mount (path, attack.disk_bytes);
    char error [8192], leader [32], text [256];
    cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                 "n1"), 60000);
    enum { COUNT = 24 };
    bool acked [COUNT];
    uint8_t *value = malloc (MIB);
    cr_assert_not_null (value);
    for (int i = 0; i < COUNT; i++) {
        char key [64];
        s_key (0, i, key, sizeof key);
        s_value (0, i, value, MIB);
        zkv_put_t put = { .key = cf_bin (key), .value = zkv_bin (value, MIB) };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
        cr_assert (reply && !*s_error (reply, text, sizeof text), "put %d: %s", i,
                   reply? text: "no reply");
        acked [i] = true;
        zkv_msg_destroy (&reply);
    }
    free (value);
    sd_ballast (sd_free_bytes () - 8 * MIB);
    s_guarded_t guarded = { "n1", -1 };
    cr_assert (eventually (s_nospace_and_reserve_released, &guarded, 30000),
               "no NOSPACE, or the reserve is still there");

    zkv_defragment_t defrag = { false };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_defragment_desc, &defrag, &status);
    cr_assert_not_null (reply, "no answer to the defragmentation");
    cr_assert_not_null (strstr (s_error (reply, text, sizeof text), "zkv: not enough free disk: "),
                        "the defragmentation answered: %s", *text? text: "(done)");
    zkv_msg_destroy (&reply);
    s_nobody_met_enospc (0);
    s_check_acked (&attack, "n1", 0, acked, COUNT);

    sd_drop_ballast ();
    reply = zkv_client_call (client, &zkv_defragment_desc, &defrag, &status);
    cr_assert (reply && !*s_error (reply, text, sizeof text), "defrag: %s",
               reply? text: "no reply");
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    s_nobody_met_enospc (0);
    s_check_acked (&attack, "n1", 0, acked, COUNT);
}
