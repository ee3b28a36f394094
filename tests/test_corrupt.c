/*  test_corrupt.c — the corruption checks on real 3-member clusters: a
    follower whose stored data was altered while it was stopped is found
    by the leader's periodic check, which raises CORRUPT for that member;
    writes are then refused on every member and reads go on. With the
    initial check, such a member refuses to start, naming the peers. The
    free-disk watermark raises NOSPACE. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster_fixture.h"
#include "zkv_engine.h"
#include "zkv_testnode.h"

TestSuite (corruption, .fini = cf_teardown, .timeout = 120);

//  Alters one stored value of a stopped member: the last byte of the last
//  record of the key family (a byte of the value of the newest revision),
//  or of the first (the oldest revision)
static void
s_alter (const char *name, bool oldest)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s/db", cf_dir, name);
    char *error = NULL;
    zkv_engine_t *engine = zkv_engine_open (path, NULL, &error);
    cr_assert_not_null (engine, "%s", error);
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_KEY, NULL);
    if (oldest)
        rocksdb_iter_seek_to_first (it);
    else
        rocksdb_iter_seek_to_last (it);
    cr_assert (rocksdb_iter_valid (it));
    size_t key_size, value_size;
    const char *key = rocksdb_iter_key (it, &key_size);
    const char *value = rocksdb_iter_value (it, &value_size);
    char altered_key [64], altered [4096];
    cr_assert (key_size <= sizeof altered_key && value_size <= sizeof altered && value_size > 0);
    memcpy (altered_key, key, key_size);
    memcpy (altered, value, value_size);
    altered [value_size - 1] ^= 0x01;
    rocksdb_iter_destroy (it);
    cr_assert_eq (zkv_engine_put (engine, ZKV_CF_KEY, altered_key, key_size, altered,
                                  value_size, true, &error), 0, "%s", error);
    zkv_engine_destroy (&engine);
}

//  A put's error text through client ("" when it succeeded)
static const char *
s_put (zkv_client_t *client, const char *key, char *text, size_t size)
{
    zkv_put_t put = { .key = cf_bin (key), .value = cf_bin ("v") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
    cr_assert_not_null (reply);
    *text = 0;
    if (zkv_reply_error (reply))
        zkv_bin_str (zkv_reply_error (reply)->message, text, size);
    zkv_msg_destroy (&reply);
    return text;
}

//  A follower, stopped with its data altered; the cluster has 30 keys
static const char *
s_corrupt_a_follower (char *leader, size_t size)
{
    cf_leader (leader, size);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cf_put_keys (client, 30);
    zkv_client_destroy (&client);
    free (cf_converged ());
    const char *victim = streq (leader, "n1")? "n2": "n1";
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    s_alter (victim, false);
    return victim;
}

Test (corruption, the_periodic_check_finds_an_altered_member)
{
    const char *flags [] = { "--corrupt-check-time", "300", NULL };
    cf_up (flags);
    char leader [32];
    const char *victim = s_corrupt_a_follower (leader, sizeof leader);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, victim, error, sizeof error), 0, "%s", error);
    cr_assert (cf_alarm_listed_within (NULL, victim, "CORRUPT", 10000), "no CORRUPT for %s",
               victim);
    //  Writes refused on every member; reads go on
    for (size_t m = 0; m < 3; m++) {
        const char *name = zkv_harness_name (cf_cluster, m);
        zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), 5000);
        //  The member applies the alarm when it learns it is committed
        cf_putting_t putting = { .client = client, .wanted = "etcdserver: corrupt cluster",
                                 .put = { .key = cf_bin ("after"), .value = cf_bin ("v") } };
        cr_assert (eventually (cf_put_answers, &putting, 5000), "%s: %s", name, putting.error);
        zkv_range_t get = { .key = cf_bin ("k000") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &get, &status);
        cr_assert (reply && !zkv_reply_error (reply), "%s cannot read", name);
        zkv_msg_destroy (&reply);
        zkv_client_destroy (&client);
    }
    //  Only that member was blamed
    cr_assert (!cf_alarm_listed_within (NULL, leader, "CORRUPT", 0), "the leader was blamed");
}

//  An old revision altered on a member, and compacted away: only the
//  compaction hashes still hold it (HashKV at the current revision is
//  equal again once the member applied the compaction)
Test (corruption, the_compaction_hash_check_finds_what_compaction_removed)
{
    const char *flags [] = { "--corrupt-check-time", "300", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cf_put_keys (client, 30);
    cr_assert (cf_put (client, "k000", "newer"));      //  revision 2 is history now
    free (cf_converged ());
    const char *victim = streq (leader, "n1")? "n2": "n1";
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGTERM), 0);
    s_alter (victim, true);
    //  Compacted while it is down: it applies the compaction once back
    zkv_range_t get = { .key = cf_bin ("k000") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &get, &status);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_compact_t compact = {
        .revision = ((zkv_range_response_t *) reply->body)->header->revision
    };
    zkv_msg_destroy (&reply);
    reply = zkv_client_call (client, &zkv_compact_desc, &compact, &status);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, victim, error, sizeof error), 0, "%s", error);
    cr_assert (cf_alarm_listed_within (NULL, victim, "CORRUPT", 10000), "no CORRUPT for %s",
               victim);
}

Test (corruption, the_initial_check_keeps_an_altered_member_from_serving)
{
    const char *flags [] = { "--initial-corrupt-check", NULL };
    cf_up (flags);
    char leader [32];
    const char *victim = s_corrupt_a_follower (leader, sizeof leader);
    char error [8192];
    if (zkv_harness_start (cf_cluster, victim, error, sizeof error) == 0) {
        char path [256], log [20000] = "";
        snprintf (path, sizeof path, "%s/%s.log", cf_dir, victim);
        FILE *file = fopen (path, "r");
        size_t got = fread (log, 1, sizeof log - 1, file);
        log [got] = 0;
        fclose (file);
        cr_assert_fail ("%s started with altered data: %s", victim, log);
    }
    char expected [128];
    snprintf (expected, sizeof expected, "%s found data inconsistency with peers",
              zkv_harness_id (cf_cluster, victim));
    cr_assert_not_null (strstr (error, expected), "%s", error);
    cr_assert_not_null (strstr (error, zkv_harness_id (cf_cluster, leader)), "%s", error);
    //  A healthy member restarts with the check and serves
    const char *other = NULL;
    for (size_t m = 0; m < 3; m++)
        if (!streq (zkv_harness_name (cf_cluster, m), victim)
        &&  !streq (zkv_harness_name (cf_cluster, m), leader))
            other = zkv_harness_name (cf_cluster, m);
    cr_assert_eq (zkv_harness_signal (cf_cluster, other, SIGTERM), 0);
    cr_assert_eq (zkv_harness_start (cf_cluster, other, error, sizeof error), 0,
                  "%s (leader %s %s, altered %s %s)", error, leader,
                  zkv_harness_id (cf_cluster, leader), victim, zkv_harness_id (cf_cluster, victim));
}

Test (corruption, too_little_free_disk_raises_nospace)
{
    //  No disk has an exabyte free
    const char *flags [] = { "--min-free-disk-bytes", "1000000000000000000", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    cr_assert (cf_alarm_listed_within (NULL, leader, "NOSPACE", 10000), "no NOSPACE for %s",
               leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    char text [256];
    cr_assert_str_eq (s_put (client, "k", text, sizeof text),
                      "etcdserver: mvcc: database space exceeded");
    zkv_client_destroy (&client);
}
