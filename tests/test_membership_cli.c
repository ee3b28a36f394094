/*  test_membership_cli.c — membership changes as an operator makes them:
    zkvctl member add, promote, remove, update and replace against real
    zkv-node members (the harness runs the processes: it prepares a new
    member's ports, and starts it with the flags zkvctl printed), every
    error zkvctl gives, and zkv-cluster's own add, promote, remove and
    replace. (test_zkvctl_member.c checks the output formats against a
    fake cluster.) */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"

static bool s_detached;                 //  members started by the zkv-cluster program

static zkv_run_t s_zkv_cluster (const char *first, ...);

static void
s_teardown (void)
{
    if (s_detached) {                   //  they outlive a test that failed
        zkv_run_t run = s_zkv_cluster ("down", NULL);
        zkv_run_free (&run);
    }
    cf_teardown ();
}

TestSuite (membership_cli, .fini = s_teardown, .timeout = 120);

//  ---------------------------------------------------------------------
//  Helpers

//  Runs zkvctl with args (NULL-terminated) after --endpoints endpoints
//  (NULL: --cluster-file, the harness's)
static zkv_run_t
s_zkvctl (const char *endpoints, const char *first, ...)
{
    const char *argv [32] = { ZKVCTL_BIN };
    int argc = 1;
    if (endpoints) {
        argv [argc++] = "--endpoints";
        argv [argc++] = endpoints;
    }
    else {
        argv [argc++] = "--cluster-file";
        argv [argc++] = zkv_harness_file (cf_cluster);
    }
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg && argc < 31; arg = va_arg (args, const char *))
        argv [argc++] = arg;
    va_end (args);
    argv [argc] = NULL;
    return zkv_run (NULL, argv);
}

#define S_EXPECT(run_expr, code_, out_, err_) do { \
    zkv_run_t run_ = (run_expr); \
    cr_assert_eq (run_.code, (code_), "exit code %d, expected %d\nstdout: %s\nstderr: %s", \
                  run_.code, (code_), run_.out, run_.err); \
    if ((out_) != NULL) \
        cr_assert_str_eq (run_.out, (const char *) (out_), "stdout: %s\nstderr: %s", \
                          run_.out, run_.err); \
    if ((err_) != NULL) \
        cr_assert_str_eq (run_.err, (const char *) (err_), "stderr: %s", run_.err); \
    zkv_run_free (&run_); \
} while (0)

//  A cluster of `members` members, running, with a leader
static void
s_cluster_up (size_t members)
{
    cf_prepare (members, NULL);
    char error [4096], leader [32];
    cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
    cf_leader (leader, sizeof leader);
}

static char *
s_hex (uint64_t id)
{
    return zsys_sprintf ("%" PRIx64, id);
}

//  The value of `--flag="value"` in zkvctl's output (fresh)
static char *
s_flag_value (const char *out, const char *flag)
{
    char *pattern = zsys_sprintf ("\n%s=\"", flag);
    const char *at = strstr (out, pattern);
    cr_assert_not_null (at, "no %s in:\n%s", flag, out);
    at += strlen (pattern);
    free (pattern);
    const char *end = strchr (at, '"');
    cr_assert_not_null (end);
    return zsys_sprintf ("%.*s", (int) (end - at), at);
}

//  What `zkvctl member add` printed, checked line by line: the new
//  member's id, and the initial cluster it must join with (fresh)
static uint64_t
s_added (const char *out, const char *name, const char *peer, char **initial)
{
    unsigned long long id, cluster;
    cr_assert_eq (sscanf (out, "Member %llx added to cluster %llx\n", &id, &cluster), 2,
                  "%s", out);
    *initial = s_flag_value (out, "--initial-cluster");
    char *expected = zsys_sprintf ("Member %16llx added to cluster %16llx\n\n"
                                   "--name=\"%s\"\n--initial-cluster=\"%s\"\n"
                                   "--listen-peer=\"%s\"\n--initial-cluster-state=\"existing\"\n",
                                   id, cluster, name, *initial, peer);
    cr_assert_str_eq (out, expected);
    free (expected);
    //  The new member's place, and every started member's
    char *self = zsys_sprintf ("%s=%s", name, peer);
    cr_assert (strstr (*initial, self), "%s", *initial);
    free (self);
    for (size_t i = 0; i < zkv_harness_size (cf_cluster); i++) {
        const char *member = zkv_harness_name (cf_cluster, i);
        if (!zkv_harness_running (cf_cluster, member))
            continue;
        char *entry = zsys_sprintf ("%s=", member);
        cr_assert (strstr (*initial, entry), "%s has no %s", *initial, member);
        free (entry);
    }
    return (uint64_t) id;
}

//  Adds member name with zkvctl (more: its flags, NULL-terminated, or
//  NULL), starts it with the flags zkvctl printed; its id
static uint64_t
s_add (const char *name, const char *const *more)
{
    char error [4096];
    const char *peer = zkv_harness_prepare (cf_cluster, name, error, sizeof error);
    cr_assert_not_null (peer, "%s", error);
    const char *argv [16] = { ZKVCTL_BIN, "--cluster-file", zkv_harness_file (cf_cluster),
                              "member", "add", name, "--peer-endpoint", peer };
    int argc = 8;
    for (size_t i = 0; more && more [i]; i++)
        argv [argc++] = more [i];
    argv [argc] = NULL;
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char *initial;
    uint64_t id = s_added (run.out, name, peer, &initial);
    zkv_run_free (&run);
    cr_assert_eq (zkv_harness_join (cf_cluster, name, initial, error, sizeof error), 0, "%s",
                  error);
    free (initial);
    return id;
}

//  How member id stands in the member list a member gives: 0 absent,
//  1 unstarted, 2 started; *learner
static int
s_member_state (const char *asked, uint64_t id, bool *learner)
{
    zkv_member_list_t request = { .linearizable = false };
    zkv_msg_t *reply = cf_call (asked, &zkv_member_list_desc, &request);
    int state = -1;
    if (reply && !zkv_reply_error (reply)) {
        const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
        state = 0;
        for (size_t i = 0; i < list->members.count; i++)
            if (list->members.items [i].member_id == id) {
                state = list->members.items [i].client_endpoint.size? 2: 1;
                *learner = list->members.items [i].is_learner;
            }
    }
    zkv_msg_destroy (&reply);
    return state;
}

//  For eventually (): member `id` is as wanted in every running member's list
typedef struct {
    uint64_t id;
    int state;                          //  wanted: 0, 1 or 2
    bool learner;
} s_wanted_t;

static bool
s_member_is (void *args)
{
    s_wanted_t *wanted = (s_wanted_t *) args;
    for (size_t i = 0; i < zkv_harness_size (cf_cluster); i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (!zkv_harness_running (cf_cluster, name))
            continue;
        bool learner = false;
        int state = s_member_state (name, wanted->id, &learner);
        if (state != wanted->state || (state && learner != wanted->learner))
            return false;
    }
    return true;
}

static void
s_expect_member (uint64_t id, int state, bool learner)
{
    s_wanted_t wanted = { id, state, learner };
    cr_assert (eventually (s_member_is, &wanted, 20000),
               "member %" PRIx64 " never got to state %d (learner %d) everywhere", id, state,
               learner);
}

//  For eventually (): zkvctl member promote, asked of `endpoints`, until
//  the learner is in sync; the refusals meanwhile must be that one
typedef struct {
    const char *endpoints;
    uint64_t id;
} s_promoting_t;

static bool
s_promoted (void *args)
{
    s_promoting_t *promoting = (s_promoting_t *) args;
    char *id = s_hex (promoting->id);
    zkv_run_t run = s_zkvctl (promoting->endpoints, "member", "promote", id, NULL);
    free (id);
    if (run.code != 0)
        cr_assert_str_eq (run.err, "Error: etcdserver: can only promote a learner member which "
                          "is in sync with leader\n");
    bool done = run.code == 0;
    zkv_run_free (&run);
    return done;
}

//  The data every member holds, once they agree, holds key=value
static void
s_expect_everywhere (const char *key, const char *value)
{
    char *data = cf_converged ();
    char *line = zsys_sprintf ("%s=%s\n", key, value);
    cr_assert (strstr (data, line), "%s", data);
    free (line);
    free (data);
}

//  ---------------------------------------------------------------------
//  Growing

Test (membership_cli, grow_from_one_member_to_three_with_member_add_and_promote)
{
    s_cluster_up (1);
    S_EXPECT (s_zkvctl (NULL, "put", "before", "1", NULL), 0, "OK\n", "");

    //  A learner, started with what zkvctl printed: it catches up (the
    //  leader's snapshot) and serves as a learner
    uint64_t n2 = s_add ("n2", NULL);
    s_expect_member (n2, 2, true);
    s_expect_everywhere ("before", "1");
    char *line = zsys_sprintf ("%" PRIx64 ", started, n2, %s, %s, true\n",
                               n2, zkv_harness_peer (cf_cluster, "n2"),
                               zkv_harness_endpoint (cf_cluster, "n2"));
    zkv_run_t run = s_zkvctl (NULL, "member", "list", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out, line), "%s", run.out);
    zkv_run_free (&run);
    free (line);
    //  It refuses what a learner cannot serve, as etcd's does
    S_EXPECT (s_zkvctl (zkv_harness_endpoint (cf_cluster, "n2"), "put", "a", "b", NULL), 1, "",
              "Error: etcdserver: rpc not supported for learner\n");

    //  Promoted through the learner itself: zkvctl finds the leader
    s_promoting_t promoting = { zkv_harness_endpoint (cf_cluster, "n2"), n2 };
    cr_assert (eventually (s_promoted, &promoting, 20000), "n2 was never promoted");
    s_expect_member (n2, 2, false);

    //  The third promotes itself (--auto-promote)
    const char *auto_promote [] = { "--auto-promote", NULL };
    uint64_t n3 = s_add ("n3", auto_promote);
    s_expect_member (n3, 2, false);
    S_EXPECT (s_zkvctl (NULL, "put", "after", "3", NULL), 0, "OK\n", "");
    s_expect_everywhere ("after", "3");

    //  Three started voters
    run = s_zkvctl (NULL, "member", "list", "-w", "table", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    int started = 0, voters = 0;
    for (const char *at = strstr (run.out, " started |"); at; at = strstr (at + 1, " started |"))
        started++;
    for (const char *at = strstr (run.out, " false |\n"); at; at = strstr (at + 1, " false |\n"))
        voters++;
    cr_assert (started == 3 && voters == 3, "%s", run.out);
    zkv_run_free (&run);
}

//  ---------------------------------------------------------------------
//  Removing

Test (membership_cli, a_member_removed_stops_by_itself_the_leader_too)
{
    s_cluster_up (3);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *follower = NULL, *other = NULL;
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (streq (name, leader))
            continue;
        if (!follower)
            follower = name;
        else
            other = name;
    }
    //  A follower, asked of the other follower
    //  (etcdctl's %16x: an id with a leading zero digit is padded with a space)
    char *expected = zsys_sprintf ("Member %16llx removed from cluster ",
                                   (unsigned long long) cf_member_id (follower));
    zkv_run_t run = s_zkvctl (zkv_harness_endpoint (cf_cluster, other), "member", "remove",
                              zkv_harness_id (cf_cluster, follower), NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strncmp (run.out, expected, strlen (expected)) == 0, "%s", run.out);
    zkv_run_free (&run);
    free (expected);
    cr_assert (eventually (cf_ended, (void *) follower, 20000), "%s still runs", follower);
    cr_assert (cf_log_says (follower, "permanently removed from the cluster"),
               "%s did not say why it stopped", follower);
    uint64_t gone = cf_member_id (follower);
    char error [4096];
    cr_assert_eq (zkv_harness_forget (cf_cluster, follower, 0, error, sizeof error), 0, "%s",
                  error);
    s_expect_member (gone, 0, false);

    //  The leader, asked of itself: the other member goes on alone
    uint64_t old_leader = cf_member_id (leader);
    S_EXPECT (s_zkvctl (zkv_harness_endpoint (cf_cluster, leader), "member", "remove",
                        zkv_harness_id (cf_cluster, leader), NULL), 0, NULL, "");
    cr_assert (eventually (cf_ended, leader, 20000), "the old leader still runs");
    cr_assert_eq (zkv_harness_forget (cf_cluster, leader, 0, error, sizeof error), 0, "%s",
                  error);
    s_expect_member (old_leader, 0, false);
    char now [32];
    cf_leader (now, sizeof now);
    cr_assert_str_eq (now, other);
    S_EXPECT (s_zkvctl (NULL, "put", "alone", "yes", NULL), 0, "OK\n", "");
    run = s_zkvctl (NULL, "member", "list", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char *only = zsys_sprintf ("%" PRIx64 ", started, %s, %s, %s, false\n", cf_member_id (other),
                               other, zkv_harness_peer (cf_cluster, other),
                               zkv_harness_endpoint (cf_cluster, other));
    cr_assert_str_eq (run.out, only);
    free (only);
    zkv_run_free (&run);
}

//  ---------------------------------------------------------------------
//  Updating

Test (membership_cli, update_moves_a_members_peer_endpoint)
{
    s_cluster_up (1);
    //  An unstarted learner, moved before it starts: it joins at the new place
    char error [4096];
    const char *peer = zkv_harness_prepare (cf_cluster, "n2", error, sizeof error);
    cr_assert_not_null (peer, "%s", error);
    zkv_run_t run = s_zkvctl (NULL, "member", "add", "n2", "--peer-urls",
                              "tcp://127.0.0.1:1", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    unsigned long long id;
    cr_assert_eq (sscanf (run.out, "Member %llx", &id), 1);
    char *initial = s_flag_value (run.out, "--initial-cluster");
    zkv_run_free (&run);
    char *hex = s_hex (id);
    run = s_zkvctl (NULL, "member", "update", hex, "--peer-endpoint", peer, NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char *expected = zsys_sprintf ("Member %16llx updated in cluster ", id);
    cr_assert (strncmp (run.out, expected, strlen (expected)) == 0, "%s", run.out);
    free (expected);
    zkv_run_free (&run);
    //  The initial cluster printed before named the old place: this one
    //  joins with its own
    char *moved = zsys_sprintf ("n1=%s,n2=%s", zkv_harness_peer (cf_cluster, "n1"), peer);
    if (id < cf_member_id ("n1")) {
        free (moved);
        moved = zsys_sprintf ("n2=%s,n1=%s", peer, zkv_harness_peer (cf_cluster, "n1"));
    }
    cr_assert (strstr (initial, "n2=tcp://127.0.0.1:1"), "%s", initial);
    cr_assert_eq (zkv_harness_join (cf_cluster, "n2", moved, error, sizeof error), 0, "%s",
                  error);
    s_expect_member (id, 2, true);
    free (moved);
    free (initial);
    free (hex);
}

//  ---------------------------------------------------------------------
//  Replacing

//  zkvctl member replace, run on a thread of its own
typedef struct {
    const char *argv [16];
    zkv_run_t run;
} s_replacing_t;

static void *
s_replace_thread (void *args)
{
    s_replacing_t *replacing = (s_replacing_t *) args;
    replacing->run = zkv_run (NULL, replacing->argv);
    return NULL;
}

//  For eventually (): a learner at the peer endpoint; its id into *id
typedef struct {
    const char *peer;
    uint64_t id;
} s_learner_t;

static bool
s_learner_added (void *args)
{
    s_learner_t *learner = (s_learner_t *) args;
    zkv_member_list_t request = { .linearizable = false };
    zkv_msg_t *reply = cf_call (zkv_harness_name (cf_cluster, 0), &zkv_member_list_desc,
                                &request);
    if (reply && !zkv_reply_error (reply)) {
        const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
        for (size_t i = 0; i < list->members.count; i++)
            if (cf_text_is (list->members.items [i].peer_endpoint, learner->peer)
            &&  list->members.items [i].is_learner)
                learner->id = list->members.items [i].member_id;
    }
    zkv_msg_destroy (&reply);
    return learner->id != 0;
}

Test (membership_cli, replace_a_failed_member_in_one_change)
{
    s_cluster_up (3);
    S_EXPECT (s_zkvctl (NULL, "put", "before", "1", NULL), 0, "OK\n", "");
    //  n3 has failed
    uint64_t n3 = cf_member_id ("n3");
    cr_assert_eq (zkv_harness_signal (cf_cluster, "n3", SIGKILL), 0);
    char error [4096];
    const char *peer = zkv_harness_prepare (cf_cluster, "n4", error, sizeof error);
    cr_assert_not_null (peer, "%s", error);
    s_replacing_t replacing = {
        .argv = { ZKVCTL_BIN, "--endpoints", zkv_harness_endpoint (cf_cluster, "n1"),
                  "member", "replace", "n3", "--name=n4", "--peer-endpoint", peer,
                  "--timeout=60s", NULL }
    };
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_replace_thread, &replacing), 0);
    //  The learner it added is started as the operator would, with the
    //  flags it printed (the named members and itself)
    s_learner_t learner = { peer, 0 };
    cr_assert (eventually (s_learner_added, &learner, 20000), "no learner was added");
    char *initial = zsys_sprintf ("%s=%s,%s=%s,%s=%s,%s=%s", "n1",
                                  zkv_harness_peer (cf_cluster, "n1"), "n2",
                                  zkv_harness_peer (cf_cluster, "n2"), "n3",
                                  zkv_harness_peer (cf_cluster, "n3"), "n4", peer);
    cr_assert_eq (zkv_harness_join (cf_cluster, "n4", initial, error, sizeof error), 0, "%s",
                  error);
    free (initial);
    pthread_join (thread, NULL);
    zkv_run_t *run = &replacing.run;
    cr_assert_eq (run->code, 0, "%s%s", run->out, run->err);
    cr_assert_str_eq (run->err, "");
    char *steps = zsys_sprintf ("\nWaiting for member %" PRIx64 " to start and catch up with the "
                                "leader\n", learner.id);
    cr_assert (strstr (run->out, steps), "%s", run->out);
    free (steps);
    char *promoted = zsys_sprintf ("Member %16" PRIx64 " promoted in cluster ", learner.id);
    char *removed = zsys_sprintf ("Member %16" PRIx64 " removed from cluster ", n3);
    cr_assert (strstr (run->out, promoted) && strstr (run->out, removed)
               && strstr (run->out, promoted) < strstr (run->out, removed), "%s", run->out);
    free (promoted);
    free (removed);
    //  What n4 was told to start with: the four lines
    char *flags = zsys_sprintf ("\n--name=\"n4\"\n--initial-cluster=\"");
    cr_assert (strstr (run->out, flags), "%s", run->out);
    free (flags);
    zkv_run_free (run);

    //  n3 is gone, n4 votes; the data is everywhere
    cr_assert_eq (zkv_harness_forget (cf_cluster, "n3", 0, error, sizeof error), 0, "%s", error);
    s_expect_member (n3, 0, false);
    s_expect_member (learner.id, 2, false);
    S_EXPECT (s_zkvctl (NULL, "put", "after", "4", NULL), 0, "OK\n", "");
    s_expect_everywhere ("before", "1");
    s_expect_everywhere ("after", "4");
}

Test (membership_cli, replace_a_live_member_by_name_after_a_timeout)
{
    s_cluster_up (3);
    char error [4096];
    uint64_t n2 = cf_member_id ("n2");
    const char *peer = zkv_harness_prepare (cf_cluster, "n4", error, sizeof error);
    cr_assert_not_null (peer, "%s", error);
    //  Nobody starts n4 in time: the learner stays
    zkv_run_t run = s_zkvctl (NULL, "member", "replace", "n2", "--name=n4", "--peer-endpoint",
                              peer, "--timeout=1s", NULL);
    cr_assert_eq (run.code, 1, "%s%s", run.out, run.err);
    unsigned long long id;
    cr_assert_eq (sscanf (run.out, "Member %llx added to cluster", &id), 1, "%s", run.out);
    char *error_text = zsys_sprintf ("Error: member %llx did not catch up within 1s (last "
                                     "answer: etcdserver: can only promote a learner member "
                                     "which is in sync with leader); it stays a learner: run "
                                     "the same command again to go on, or remove it\n", id);
    cr_assert_str_eq (run.err, error_text);
    free (error_text);
    char *initial = s_flag_value (run.out, "--initial-cluster");
    zkv_run_free (&run);
    s_expect_member (id, 1, true);
    //  Started now, with what it printed; the same command goes on
    cr_assert_eq (zkv_harness_join (cf_cluster, "n4", initial, error, sizeof error), 0, "%s",
                  error);
    free (initial);
    run = s_zkvctl (NULL, "member", "replace", "n2", "--name=n4", "--peer-endpoint", peer,
                    NULL);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    char *again = zsys_sprintf ("Member %16llx is already a learner of cluster ", id);
    cr_assert (strncmp (run.out, again, strlen (again)) == 0, "%s", run.out);
    free (again);
    char *removed = zsys_sprintf ("Member %16" PRIx64 " removed from cluster ", n2);
    cr_assert (strstr (run.out, removed), "%s", run.out);
    free (removed);
    zkv_run_free (&run);
    //  n2 ran: it stops by itself
    cr_assert (eventually (cf_ended, "n2", 20000), "n2 still runs");
    cr_assert_eq (zkv_harness_forget (cf_cluster, "n2", 0, error, sizeof error), 0, "%s", error);
    s_expect_member (id, 2, false);
    S_EXPECT (s_zkvctl (NULL, "put", "k", "v", NULL), 0, "OK\n", "");
    s_expect_everywhere ("k", "v");
}

//  ---------------------------------------------------------------------
//  Events

//  zkvctl events, run on a thread of its own until it has its events
typedef struct {
    const char *argv [16];
    zkv_run_t run;
    atomic_int done;
} s_listening_t;

static void *
s_listen_thread (void *args)
{
    s_listening_t *listening = (s_listening_t *) args;
    listening->run = zkv_run (NULL, listening->argv);
    atomic_store (&listening->done, 1);
    return NULL;
}

//  For eventually (): one more change (the peer endpoint of a learner
//  that never started, back and forth) until the listener had its events
typedef struct {
    s_listening_t *listening;
    const char *id;
    int changes;
} s_changing_t;

static bool
s_heard (void *args)
{
    s_changing_t *changing = (s_changing_t *) args;
    if (atomic_load (&changing->listening->done))
        return true;
    const char *peer = changing->changes++ % 2? "127.0.0.1:1": "127.0.0.1:2";
    S_EXPECT (s_zkvctl (NULL, "member", "update", changing->id, "--peer-endpoint", peer, NULL),
              0, NULL, "");
    return false;
}

Test (membership_cli, zkvctl_events_tells_the_membership_changes)
{
    s_cluster_up (1);
    zkv_run_t run = s_zkvctl (NULL, "member", "add", "n2", "--peer-endpoint=127.0.0.1:1", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    unsigned long long id;
    cr_assert_eq (sscanf (run.out, "Member %llx", &id), 1);
    zkv_run_free (&run);
    char *hex = s_hex (id);
    s_listening_t listening = {
        .argv = { ZKVCTL_BIN, "--cluster-file", zkv_harness_file (cf_cluster), "events",
                  "--topic", "member", "--max-events", "3", "-w", "json",
                  "--command-timeout", "20s", NULL }
    };
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_listen_thread, &listening), 0);
    s_changing_t changing = { &listening, hex, 0 };
    cr_assert (eventually (s_heard, &changing, 20000), "zkvctl events heard nothing");
    pthread_join (thread, NULL);
    cr_assert_eq (listening.run.code, 0, "%s", listening.run.err);
    char *expected = zsys_sprintf ("\"change\":\"updated\",\"member_id\":%llu,", id);
    //  (the leader may tell the learner down or up meanwhile: the same topic)
    cr_assert (strncmp (listening.run.out, "{\"topic\":\"member\",\"event\":{\"member\":", 36)
               == 0 && strstr (listening.run.out, expected)
               && strstr (listening.run.out, "\"isLearner\":true}"), "%s", listening.run.out);
    free (expected);
    zkv_run_free (&listening.run);
    free (hex);
}

//  ---------------------------------------------------------------------
//  Every refusal, as zkvctl tells it

//  For eventually (): the leader told that member `id` is down
typedef struct {
    zsock_t *sub;
    uint64_t id;
} s_down_t;

static bool
s_told_down (void *args)
{
    s_down_t *down = (s_down_t *) args;
    msgpack_zone *zone = msgpack_zone_new (1024);
    const zkv_member_event_t *event = (const zkv_member_event_t *)
        cf_event (down->sub, "member", &zkv_member_event_desc, zone, 100);
    bool told = event && event->peer == down->id && cf_text_is (event->state, "down");
    msgpack_zone_free (zone);
    return told;
}

//  For eventually (): the member named `name` knows no leader
static bool
s_leaderless (void *name)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = cf_call ((const char *) name, &zkv_status_desc, &request);
    bool none = reply && !zkv_reply_error (reply)
             && ((const zkv_status_response_t *) reply->body)->leader == 0;
    zkv_msg_destroy (&reply);
    return none;
}

Test (membership_cli, the_refusals_zkvctl_tells)
{
    s_cluster_up (3);
    const char *n1 = zkv_harness_id (cf_cluster, "n1");
    //  Promote a voter; unknown members
    S_EXPECT (s_zkvctl (NULL, "member", "promote", n1, NULL), 1, "",
              "Error: etcdserver: can only promote a learner member\n");
    S_EXPECT (s_zkvctl (NULL, "member", "remove", "ffff", NULL), 1, "",
              "Error: etcdserver: member not found\n");
    S_EXPECT (s_zkvctl (NULL, "member", "update", "ffff", "--peer-urls", "127.0.0.1:1", NULL),
              1, "", "Error: etcdserver: member not found\n");
    S_EXPECT (s_zkvctl (NULL, "member", "promote", "ffff", NULL), 1, "",
              "Error: etcdserver: member not found\n");
    //  Peer endpoints: taken, not one zkv speaks
    char *taken = zsys_sprintf ("--peer-endpoint=%s", zkv_harness_peer (cf_cluster, "n2"));
    S_EXPECT (s_zkvctl (NULL, "member", "add", "n9", taken, NULL), 1, "",
              "Error: etcdserver: Peer URLs already exists\n");
    free (taken);
    S_EXPECT (s_zkvctl (NULL, "member", "add", "n9", "--peer-endpoint=udp://127.0.0.1:1", NULL),
              1, "", "Error: zkv: bad peer endpoint\n");
    //  A learner that never started: not in sync; a second one: too many
    zkv_run_t run = s_zkvctl (NULL, "member", "add", "n9", "--peer-endpoint=127.0.0.1:1", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    unsigned long long id;
    cr_assert_eq (sscanf (run.out, "Member %llx", &id), 1);
    zkv_run_free (&run);
    char *hex = s_hex (id);
    S_EXPECT (s_zkvctl (NULL, "member", "promote", hex, NULL), 1, "",
              "Error: etcdserver: can only promote a learner member which is in sync with "
              "leader\n");
    S_EXPECT (s_zkvctl (NULL, "member", "add", "n10", "--peer-endpoint=127.0.0.1:2", NULL), 1,
              "", "Error: etcdserver: too many learner members in cluster\n");
    //  replace takes a voter, and finds no other
    char *expected = zsys_sprintf ("Error: member %s is a learner: remove it instead (member "
                                   "replace replaces a voter)\n", hex);
    S_EXPECT (s_zkvctl (NULL, "member", "replace", hex, "--name=n10",
                        "--peer-endpoint=127.0.0.1:2", NULL), 1, "", expected);
    free (expected);
    S_EXPECT (s_zkvctl (NULL, "member", "replace", "n7", "--name=n10",
                        "--peer-endpoint=127.0.0.1:2", NULL), 1, "",
              "Error: no member has the ID or name n7\n");
    S_EXPECT (s_zkvctl (NULL, "member", "remove", hex, NULL), 0, NULL, "");
    free (hex);
    //  The strict check: with n3 down (once the leader tells it), a fourth
    //  voter would leave two up of four
    zsock_t *sub = cf_subscribe ();
    cr_assert_eq (zkv_harness_signal (cf_cluster, "n3", SIGKILL), 0);
    s_down_t down = { sub, cf_member_id ("n3") };
    cr_assert (eventually (s_told_down, &down, 20000), "the leader never told n3 down");
    zsock_destroy (&sub);
    S_EXPECT (s_zkvctl (NULL, "member", "add", "n9", "--voter", "--peer-endpoint=127.0.0.1:1",
                        NULL), 1, "",
              "Error: etcdserver: re-configuration failed due to not enough started members\n");
    //  No leader: nobody takes the change
    cr_assert_eq (zkv_harness_signal (cf_cluster, "n2", SIGKILL), 0);
    cr_assert (eventually (s_leaderless, "n1", 20000), "n1 still names a leader");
    S_EXPECT (s_zkvctl (zkv_harness_endpoint (cf_cluster, "n1"), "--command-timeout=1s",
                        "member", "remove", zkv_harness_id (cf_cluster, "n2"), NULL), 1, "",
              "Error: etcdserver: no leader\n");
    //  No member at all
    S_EXPECT (s_zkvctl ("127.0.0.1:1", "--command-timeout=300ms", "member", "remove", "abc",
                        NULL), 1, "", "Error: context deadline exceeded\n");
}

//  ---------------------------------------------------------------------
//  zkv-cluster's own commands, as an operator types them: members outlive
//  each command (their pids are in the cluster file)

static zkv_run_t
s_zkv_cluster (const char *first, ...)
{
    const char *argv [32] = { ZKV_CLUSTER_BIN, "--dir", cf_dir };
    int argc = 3;
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg && argc < 31; arg = va_arg (args, const char *))
        argv [argc++] = arg;
    va_end (args);
    argv [argc] = NULL;
    return zkv_run (NULL, argv);
}

//  How many lines of the cluster file hold text
static int
s_file_count (const char *text)
{
    char *path = zsys_sprintf ("%s/cluster.zpl", cf_dir);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s", path);
    char line [4096];
    int count = 0;
    while (fgets (line, sizeof line, file))
        count += strstr (line, text) != NULL;
    fclose (file);
    free (path);
    return count;
}

//  zkvctl member list through the cluster file
static char *
s_member_list (void)
{
    char *file = zsys_sprintf ("%s/cluster.zpl", cf_dir);
    const char *argv [] = { ZKVCTL_BIN, "--cluster-file", file, "member", "list", NULL };
    zkv_run_t run = zkv_run (NULL, argv);
    free (file);
    cr_assert_eq (run.code, 0, "%s", run.err);
    free (run.err);
    return run.out;
}

static int
s_count (const char *text, const char *word)
{
    int count = 0;
    for (const char *at = strstr (text, word); at; at = strstr (at + 1, word))
        count++;
    return count;
}

Test (membership_cli, the_zkv_cluster_program_follows_the_membership)
{
    snprintf (cf_dir, sizeof cf_dir, "/tmp/zkv-test-cluster-XXXXXX");
    cr_assert_not_null (mkdtemp (cf_dir));
    s_detached = true;
    S_EXPECT (s_zkv_cluster ("up", "-n", "1", "--", "--heartbeat-interval", "50",
                             "--election-timeout", "500", NULL), 0, NULL, NULL);
    //  A learner, then a voter of it
    S_EXPECT (s_zkv_cluster ("add", "n2", NULL), 0, NULL, "");
    char *list = s_member_list ();
    cr_assert (strstr (list, ", started, n2, ") && s_count (list, ", true\n") == 1, "%s", list);
    free (list);
    cr_assert_eq (s_file_count ("name = \"n2\""), 1);
    cr_assert_eq (s_file_count ("join = "), 1);
    S_EXPECT (s_zkv_cluster ("promote", "n2", NULL), 0, NULL, "");
    //  One that promotes itself; then n1 replaced by n4 (the next free name)
    S_EXPECT (s_zkv_cluster ("add", "n3", "--auto-promote", NULL), 0, NULL, "");
    zkv_run_t run = s_zkv_cluster ("replace", "n1", NULL);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    cr_assert (strstr (run.out, "replaced n1 (member "), "%s", run.out);
    cr_assert (strstr (run.out, ") by n4 (member "), "%s", run.out);
    zkv_run_free (&run);
    cr_assert_eq (s_file_count ("name = \"n1\""), 0);
    char *n1_data = zsys_sprintf ("%s/n1", cf_dir);
    cr_assert_neq (access (n1_data, F_OK), 0, "the removed member's data stayed");
    free (n1_data);
    //  And one removed
    S_EXPECT (s_zkv_cluster ("remove", "n2", NULL), 0, NULL, "");
    cr_assert_eq (s_file_count ("name = "), 2);
    list = s_member_list ();
    cr_assert (s_count (list, ", started, ") == 2 && s_count (list, ", false\n") == 2
               && strstr (list, ", n3, ") && strstr (list, ", n4, "), "%s", list);
    free (list);
    char *file = zsys_sprintf ("%s/cluster.zpl", cf_dir);
    const char *put [] = { ZKVCTL_BIN, "--cluster-file", file, "put", "k", "v", NULL };
    run = zkv_run (NULL, put);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    free (file);

    //  Bad usage
    S_EXPECT (s_zkv_cluster ("add", NULL), 128, NULL, NULL);
    S_EXPECT (s_zkv_cluster ("add", "n3", NULL), 128, "", "Error: a member is named n3\n");
    S_EXPECT (s_zkv_cluster ("remove", "n9", NULL), 128, "", "Error: no member is named n9\n");
    S_EXPECT (s_zkv_cluster ("promote", "n9", NULL), 128, "", "Error: no member is named n9\n");
    S_EXPECT (s_zkv_cluster ("replace", "n9", NULL), 128, "", "Error: no member is named n9\n");
    S_EXPECT (s_zkv_cluster ("add", "n5", "--voter", "--auto-promote", NULL), 128, "",
              "Error: --auto-promote is for a learner, not with --voter\n");
    //  A refusal: promote a voter
    S_EXPECT (s_zkv_cluster ("promote", "n3", NULL), 1, "",
              "Error: etcdserver: can only promote a learner member\n");
    S_EXPECT (s_zkv_cluster ("down", NULL), 0, NULL, NULL);
}
