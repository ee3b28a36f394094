/*  test_cluster.c — real 3-member clusters through the zkv-cluster
    harness: writes through every member, kill -9 of the leader under load,
    a paused leader, an isolated leader, catch-up by snapshot, leadership
    handed over on a clean stop. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "zkv_client.h"
#include "zkv_harness.h"
#include "zkv_testnode.h"
#include "cluster_fixture.h"

static bool s_detached;                 //  members started by the zkv-cluster program

static zkv_run_t s_zkv_cluster (const char *const *words);

static void
s_teardown (void)
{
    if (s_detached) {                   //  they outlive any test that failed
        const char *down [] = { "down", NULL };
        zkv_run_t run = s_zkv_cluster (down);
        zkv_run_free (&run);
    }
    cf_teardown ();
}

TestSuite (cluster, .fini = s_teardown, .timeout = 120);

Test (cluster, writes_through_every_member)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), 5000);
        char key [32];
        snprintf (key, sizeof key, "via-%s", name);
        cr_assert (cf_put (client, key, name), "a put through %s failed", name);
        //  A linearizable read right after, on the same member
        zkv_range_t get = { .key = cf_bin (key) };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &get, &status);
        cr_assert_not_null (reply);
        cr_assert_eq (((zkv_range_response_t *) reply->body)->count, 1,
                      "%s does not read its own write", name);
        zkv_msg_destroy (&reply);
        zkv_client_destroy (&client);
    }
    char *data = cf_converged ();
    cr_assert_str_eq (data, "via-n1=n1\nvia-n2=n2\nvia-n3=n3\n");
    free (data);
    //  Status: every member comes to report the same leader, and the same
    //  raft index and applied index, at least the three writes
    uint64_t index = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        zkv_status_response_t seen = { 0 };
        cr_assert (cf_status_settles (name, &seen), "%s: raft index %llu, applied %llu", name,
                   (unsigned long long) seen.raft_index,
                   (unsigned long long) seen.raft_applied_index);
        cr_assert_geq (seen.raft_index, 3);
        if (i)
            cr_assert_eq (seen.raft_index, index, "%s disagrees on the raft index", name);
        index = seen.raft_index;
    }
}

//  Writes `count` keys through client, killing the leader after `kill_at`;
//  returns how many were acknowledged (acked [i] says which)
static int
s_load_with_kill (zkv_client_t *client, int count, int kill_at, bool *acked)
{
    int ok = 0;
    for (int i = 0; i < count; i++) {
        if (i == kill_at) {
            char leader [32];
            cf_leader (leader, sizeof leader);
            cr_assert_eq (zkv_harness_signal (cf_cluster, leader, SIGKILL), 0);
        }
        char key [32], value [32];
        snprintf (key, sizeof key, "load/%05d", i);
        snprintf (value, sizeof value, "v%d", i);
        acked [i] = cf_put (client, key, value);
        ok += acked [i];
    }
    return ok;
}

Test (cluster, kill_9_of_the_leader_under_load_loses_nothing)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 3000);
    enum { COUNT = 400 };
    bool acked [COUNT];
    int ok = s_load_with_kill (client, COUNT, 150, acked);
    cr_assert_gt (ok, COUNT / 2, "only %d puts went through", ok);
    //  A new leader took over
    char new_leader [32];
    cf_leader (new_leader, sizeof new_leader);
    cr_assert_str_neq (new_leader, leader);
    //  Every acknowledged put is on every member, and they agree
    char *data = cf_converged ();
    for (int i = 0; i < COUNT; i++) {
        char line [48];
        snprintf (line, sizeof line, "load/%05d=v%d\n", i, i);
        if (acked [i])
            cr_assert_not_null (strstr (data, line), "acknowledged put %d is lost", i);
    }
    free (data);
    //  The old leader comes back and catches up
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, leader, error, sizeof error), 0, "%s", error);
    data = cf_converged ();
    free (data);
    zkv_client_destroy (&client);
}

Test (cluster, a_paused_leader_is_replaced_and_steps_down)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 3000);
    cr_assert (cf_put (client, "before", "1"));
    cr_assert_eq (zkv_harness_signal (cf_cluster, leader, SIGSTOP), 0);
    //  The others elect a leader among themselves and serve
    char other [32] = "";
    for (size_t i = 0; i < 3; i++)
        if (strcmp (zkv_harness_name (cf_cluster, i), leader) != 0)
            snprintf (other, sizeof other, "%s", zkv_harness_name (cf_cluster, i));
    zkv_client_t *survivor = zkv_client_new (zkv_harness_endpoint (cf_cluster, other), 5000);
    bool written = false;
    for (int i = 0; i < 50 && !written; i++)
        written = cf_put (survivor, "during", "2");
    cr_assert (written, "the majority did not serve while the leader was paused");
    cr_assert_eq (zkv_harness_signal (cf_cluster, leader, SIGCONT), 0);
    char *data = cf_converged ();
    cr_assert_str_eq (data, "before=1\nduring=2\n");
    free (data);
    char now [32];
    cf_leader (now, sizeof now);
    cr_assert_str_neq (now, leader, "the paused leader kept leading");
    zkv_client_destroy (&survivor);
    zkv_client_destroy (&client);
}

Test (cluster, an_isolated_leader_cannot_commit)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    char error [4096];
    char groups [64];
    snprintf (groups, sizeof groups, "%s|", leader);
    for (size_t i = 0; i < 3; i++)
        if (strcmp (zkv_harness_name (cf_cluster, i), leader) != 0) {
            strcat (groups, zkv_harness_name (cf_cluster, i));
            strcat (groups, ",");
        }
    cr_assert_eq (zkv_harness_partition (cf_cluster, groups, false, error, sizeof error), 0,
                  "%s", error);
    //  A write on the isolated leader is never acknowledged
    zkv_client_t *lonely = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 1500);
    cr_assert_not (cf_put (lonely, "isolated", "x"), "an isolated leader acknowledged a write");
    //  The majority elects another leader and commits
    char other [32] = "";
    for (size_t i = 0; i < 3; i++)
        if (strcmp (zkv_harness_name (cf_cluster, i), leader) != 0)
            snprintf (other, sizeof other, "%s", zkv_harness_name (cf_cluster, i));
    zkv_client_t *majority = zkv_client_new (zkv_harness_endpoint (cf_cluster, other), 3000);
    bool written = false;
    for (int i = 0; i < 20 && !written; i++)
        written = cf_put (majority, "majority", "y");
    cr_assert (written);
    //  Heal: the old leader steps down and takes the majority's log
    cr_assert_eq (zkv_harness_heal (cf_cluster, error, sizeof error), 0, "%s", error);
    char *data = cf_converged ();
    cr_assert_str_eq (data, "majority=y\n");
    free (data);
    char now [32];
    cf_leader (now, sizeof now);
    cr_assert_str_neq (now, leader);
    zkv_client_destroy (&lonely);
    zkv_client_destroy (&majority);
}

//  The delay fault (benchmarks model members on distant hosts with it)
//  holds every raft frame: a put needs the leader's append to reach a
//  follower and its answer to come back, so it cannot take less than two
//  delays, however fast the machine. A lower bound only: nothing is timed.
Test (cluster, a_delayed_peer_link_holds_every_raft_frame)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cr_assert (cf_put (client, "before", "1"));
    char error [4096];
    cr_assert_eq (zkv_harness_delay (cf_cluster, 100, error, sizeof error), 0, "%s", error);
    for (int i = 0; i < 3; i++) {
        int64_t start = zclock_mono ();
        cr_assert (cf_put (client, "delayed", "2"));
        int64_t took = zclock_mono () - start;
        cr_assert_geq (took, 200, "a put took %" PRId64 " ms across 100 ms links", took);
    }
    //  Out of range: refused with a reason, nothing changes
    zkv_fault_t bad = { .delay_ms = 20000 };
    zkv_msg_t *reply = cf_call (leader, &zkv_fault_desc, &bad);
    const zkv_error_t *refused = reply? zkv_reply_error (reply): NULL;
    cr_assert_not_null (refused);
    cr_assert_not_null (memmem (refused->message.data, refused->message.size, "delay_ms", 8));
    zkv_msg_destroy (&reply);
    cr_assert_eq (zkv_harness_delay (cf_cluster, 0, error, sizeof error), 0, "%s", error);
    cr_assert (cf_put (client, "after", "3"));
    char *data = cf_converged ();
    cr_assert_str_eq (data, "after=3\nbefore=1\ndelayed=2\n");
    free (data);
    zkv_client_destroy (&client);
}

Test (cluster, a_member_behind_the_compacted_log_catches_up_by_snapshot)
{
    const char *flags [] = { "--snapshot-count", "20", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *lagging = strcmp (leader, "n3") == 0? "n2": "n3";
    cr_assert_eq (zkv_harness_signal (cf_cluster, lagging, SIGKILL), 0);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cf_put_keys (client, 200);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, lagging, error, sizeof error), 0, "%s", error);
    char *data = cf_converged ();
    cr_assert_not_null (strstr (data, "k199=value\n"));
    free (data);
    //  It came back by snapshot: the log says so
    cr_assert (cf_log_says (lagging, "installed a snapshot"),
               "%s caught up without a snapshot", lagging);
    zkv_client_destroy (&client);
}

//  Every member compacts its own log; killed and restarted, each must
//  resume from what its storage applied, not from the start of the log
Test (cluster, members_restart_after_compacting_their_own_logs)
{
    const char *flags [] = { "--snapshot-count", "20", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cf_put_keys (client, 200);
    zkv_client_destroy (&client);
    char *before = cf_converged ();
    const char *names [] = { "n1", "n2", "n3" };
    for (int i = 0; i < 3; i++)
        cr_assert_eq (zkv_harness_signal (cf_cluster, names [i], SIGKILL), 0);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
    cf_leader (leader, sizeof leader);
    char *after = cf_converged ();
    cr_assert_str_eq (after, before);
    free (before);
    free (after);
}

Test (cluster, a_leader_stopped_cleanly_hands_over_first)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    cr_assert_eq (zkv_harness_signal (cf_cluster, leader, SIGTERM), 0);
    cr_assert (cf_log_says (leader, "moving leadership"),
               "the leader did not move its leadership before stopping");
    char now [32];
    cf_leader (now, sizeof now);
    cr_assert_str_neq (now, leader);
}

//  ---------------------------------------------------------------------
//  The zkv-cluster program, as an operator types it: members outlive each
//  command (their pids are in the cluster file)

//  Runs zkv-cluster --dir cf_dir with words (which may end with `--` and
//  member flags)
static zkv_run_t
s_zkv_cluster (const char *const *words)
{
    const char *argv [32] = { ZKV_CLUSTER_BIN, "--dir", cf_dir };
    size_t count = 3;
    for (size_t i = 0; words [i] && count < 31; i++)
        argv [count++] = words [i];
    argv [count] = NULL;
    return zkv_run (NULL, argv);
}

//  Runs it and requires exit code `code`; returns its stdout (caller frees)
static char *
s_expect (int code, const char *const *words)
{
    zkv_run_t run = s_zkv_cluster (words);
    cr_assert_eq (run.code, code, "zkv-cluster %s: exit %d\n%s%s", words [0], run.code,
                  run.out, run.err);
    free (run.err);
    return run.out;
}

//  How many lines of `zkv-cluster status` hold `word`
static int
s_status_count (const char *word)
{
    const char *status [] = { "status", NULL };
    char *out = s_expect (0, status);
    int count = 0;
    for (const char *at = strstr (out, word); at; at = strstr (at + 1, word))
        count++;
    free (out);
    return count;
}

Test (cluster, the_zkv_cluster_program)
{
    snprintf (cf_dir, sizeof cf_dir, "/tmp/zkv-test-cluster-XXXXXX");
    cr_assert_not_null (mkdtemp (cf_dir));
    s_detached = true;
    const char *up [] = { "up", "-n", "3", "--", "--heartbeat-interval", "50",
                          "--election-timeout", "500", NULL };
    char *out = s_expect (0, up);
    cr_assert_not_null (strstr (out, "cluster file: "), "%s", out);
    free (out);
    cr_assert_eq (s_status_count (" leader "), 1);
    cr_assert_eq (s_status_count (" follower "), 2);

    //  zkvctl reaches the cluster through its file
    char file [256];
    snprintf (file, sizeof file, "%s/cluster.zpl", cf_dir);
    const char *put [] = { ZKVCTL_BIN, "--cluster-file", file, "put", "k", "v", NULL };
    zkv_run_t run = zkv_run (NULL, put);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);

    //  Kill, start, pause, resume, partition, heal: each does what it says
    const char *kill_n1 [] = { "kill", "n1", NULL };
    free (s_expect (0, kill_n1));
    cr_assert_eq (s_status_count (" stopped "), 1);
    const char *start_n1 [] = { "start", "n1", NULL };
    free (s_expect (0, start_n1));
    cr_assert_eq (s_status_count (" stopped "), 0);
    const char *wait [] = { "wait-leader", "--timeout", "20000", NULL };
    free (s_expect (0, wait));
    const char *pause_n2 [] = { "pause", "n2", NULL };
    free (s_expect (0, pause_n2));
    const char *resume_n2 [] = { "resume", "n2", NULL };
    free (s_expect (0, resume_n2));
    const char *isolate [] = { "isolate", "n3", NULL };
    free (s_expect (0, isolate));
    const char *heal [] = { "heal", NULL };
    free (s_expect (0, heal));
    const char *delay [] = { "delay", "5", NULL };
    free (s_expect (0, delay));
    const char *no_delay [] = { "delay", "0", NULL };
    free (s_expect (0, no_delay));
    const char *bad_delay [] = { "delay", "soon", NULL };
    free (s_expect (128, bad_delay));
    free (s_expect (0, wait));
    const char *get [] = { ZKVCTL_BIN, "--cluster-file", file, "get", "k", NULL };
    run = zkv_run (NULL, get);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, "k\nv\n");
    zkv_run_free (&run);

    //  down stops them all; start (no name) brings them all back, data kept
    const char *down [] = { "down", NULL };
    free (s_expect (0, down));
    cr_assert_eq (s_status_count (" stopped "), 3);
    const char *start [] = { "start", NULL };
    free (s_expect (0, start));
    free (s_expect (0, wait));
    run = zkv_run (NULL, get);
    cr_assert_str_eq (run.out, "k\nv\n", "%s", run.err);
    zkv_run_free (&run);
    free (s_expect (0, down));
    s_detached = false;

    //  Bad usage is exit 128; a port range that cannot be is exit 1
    const char *nothing [] = { NULL };
    free (s_expect (128, nothing));
    const char *unknown [] = { "status", "--frobnicate", NULL };
    free (s_expect (128, unknown));
    const char *ports [] = { "up", "-n", "3", "--ports", "50000", NULL };
    run = s_zkv_cluster (ports);
    cr_assert_eq (run.code, 1);
    cr_assert_not_null (strstr (run.err, "must lie in 1024..65535"), "%s", run.err);
    zkv_run_free (&run);
}

//  Runs zkv-cluster and requires exit code, stdout and stderr exactly
//  (stdout NULL: any)
static void
s_expect_exactly (int code, const char *out, const char *err, const char *const *words)
{
    zkv_run_t run = s_zkv_cluster (words);
    cr_assert_eq (run.code, code, "zkv-cluster %s %s: exit %d\n%s%s", words [0],
                  words [1]? words [1]: "", run.code, run.out, run.err);
    if (out)
        cr_assert_str_eq (run.out, out);
    cr_assert_str_eq (run.err, err);
    zkv_run_free (&run);
}

//  Starts a cluster of one member through the zkv-cluster program
static void
s_up_one (void)
{
    snprintf (cf_dir, sizeof cf_dir, "/tmp/zkv-test-cluster-XXXXXX");
    cr_assert_not_null (mkdtemp (cf_dir));
    s_detached = true;
    const char *up [] = { "up", "-n", "1", NULL };
    free (s_expect (0, up));
}

static void
s_down (void)
{
    const char *down [] = { "down", NULL };
    free (s_expect (0, down));
    s_detached = false;
}

Test (cluster, a_name_the_cluster_file_does_not_hold_is_bad_usage)
{
    s_up_one ();
    //  Whatever the command (kill once said `n9 is not running`, exit 1)
    const char *commands [] = { "kill", "stop", "start", "restart", "pause", "resume",
                                "isolate", NULL };
    for (size_t i = 0; commands [i]; i++) {
        const char *words [] = { commands [i], "n9", NULL };
        s_expect_exactly (128, "", "Error: no member is named n9\n", words);
    }
    //  A member that is known but stopped is no bad usage
    const char *kill_n1 [] = { "kill", "n1", NULL };
    free (s_expect (0, kill_n1));
    s_expect_exactly (1, "", "Error: n1 is not running\n", kill_n1);
    s_down ();
}

Test (cluster, a_partition_of_one_group_or_of_strangers_is_bad_usage)
{
    s_up_one ();
    //  Both exited 1, as if the cluster had failed to do it
    const char *one_group [] = { "partition", "n1", NULL };
    s_expect_exactly (128, "", "Error: a partition needs two groups, as A,B|C\n", one_group);
    const char *stranger [] = { "partition", "n1|n9", NULL };
    s_expect_exactly (128, "", "Error: no member is named n9\n", stranger);
    s_down ();
}

Test (cluster, starting_a_member_that_runs_says_so)
{
    s_up_one ();
    //  It said nothing; now it names the member and its pid, and exits 0:
    //  the member runs, as asked
    const char *status [] = { "status", NULL };
    char *table = s_expect (0, status);
    char name [16];
    int pid = 0;
    const char *row = strstr (table, "\nn1 ");
    cr_assert (row && sscanf (row + 1, "%15s %*s %d", name, &pid) == 2 && pid > 0, "%s", table);
    free (table);
    char said [128];
    snprintf (said, sizeof said, "n1 is running already (pid %d): nothing done\n", pid);
    const char *start [] = { "start", "n1", NULL };
    s_expect_exactly (0, said, "", start);
    cr_assert_eq (s_status_count (" leader "), 1);
    s_down ();
}
