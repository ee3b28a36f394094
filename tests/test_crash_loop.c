/*  test_crash_loop.c — kill -9 at random moments under a write load, round
    after round: a member (the leader as often as not) is killed after a
    random delay, sometimes while it defragments, and on a cluster that
    compacts its raft log every 50 entries, so that restarted members
    catch up by snapshot and are killed again while they install one. After
    each restart the member must rejoin; at the end every member must hold
    every write that was acknowledged, with its value.

    ZKV_CRASH_ROUNDS sets the rounds (default 10, CI); ZKV_CRASH_SEED the
    seed (default: the time), printed when the test fails. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"

TestSuite (crash_loop, .fini = cf_teardown, .timeout = 900);

#define MAX_ACKED 100000

//  The writer: unique keys, as fast as the cluster takes them, on its own
//  thread; the keys acknowledged are recorded (index i: key w%06d)
typedef struct {
    char endpoints [1024];
    bool acked [MAX_ACKED];
    int written;                        //  keys tried
    atomic_int acked_count;             //  read by the test while it writes
} s_writer_t;

static void
s_writer_actor (zsock_t *pipe, void *args)
{
    s_writer_t *writer = (s_writer_t *) args;
    zsock_signal (pipe, 0);
    zkv_client_t *client = zkv_client_new (writer->endpoints, 1000);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    while (writer->written < MAX_ACKED && !zpoller_wait (poller, 0)) {
        char key [32];
        int i = writer->written++;
        snprintf (key, sizeof key, "w%06d", i);
        zkv_put_t put = { .key = cf_bin (key), .value = cf_bin (key) };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
        writer->acked [i] = reply && !zkv_reply_error (reply);
        if (writer->acked [i])
            atomic_fetch_add (&writer->acked_count, 1);
        if (!reply) {
            //  The endpoint it used may be dead: start again on all
            zkv_client_destroy (&client);
            client = zkv_client_new (writer->endpoints, 1000);
        }
        zkv_msg_destroy (&reply);
    }
    zpoller_destroy (&poller);
    zkv_client_destroy (&client);
    char *command = zstr_recv (pipe);   //  $TERM
    zstr_free (&command);
}

Test (crash_loop, acknowledged_writes_survive_kill_9_at_random_moments)
{
    const char *rounds_text = getenv ("ZKV_CRASH_ROUNDS");
    const char *seed_text = getenv ("ZKV_CRASH_SEED");
    int rounds = rounds_text? atoi (rounds_text): 10;
    unsigned seed = seed_text? (unsigned) strtoul (seed_text, NULL, 10)
                             : (unsigned) zclock_usecs ();
    srand (seed);
    cr_log_info ("crash loop: %d rounds, seed %u", rounds, seed);
    const char *flags [] = { "--snapshot-count", "50", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    s_writer_t *writer = (s_writer_t *) calloc (1, sizeof (s_writer_t));
    snprintf (writer->endpoints, sizeof writer->endpoints, "%s", zkv_harness_endpoints (cf_cluster));
    zactor_t *load = zactor_new (s_writer_actor, writer);

    for (int round = 0; round < rounds; round++) {
        cf_leader (leader, sizeof leader);
        const char *victim = rand () % 2? leader: zkv_harness_name (cf_cluster, rand () % 3);
        if (rand () % 3 == 0) {
            //  Killed while it defragments (the request may outlive it)
            zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, victim),
                                                   100);
            zkv_defragment_t defragment = { false };
            zkv_client_send (client, &zkv_defragment_desc, &defragment, 100);
            zkv_client_destroy (&client);
        }
        zclock_sleep (rand () % 300);
        cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGKILL), 0,
                      "seed %u, round %d", seed, round);
        zclock_sleep (rand () % 300);
        char error [4096];
        cr_assert_eq (zkv_harness_start (cf_cluster, victim, error, sizeof error), 0,
                      "seed %u, round %d: %s did not restart: %s", seed, round, victim, error);
        //  The cluster serves writes again
        eventually_more_t acked = { &writer->acked_count, atomic_load (&writer->acked_count) };
        cr_assert (eventually (eventually_more, &acked, 10000),
                   "seed %u, round %d: no write acknowledged after %s restarted", seed, round,
                   victim);
    }
    zactor_destroy (&load);
    cf_leader (leader, sizeof leader);
    char *data = cf_converged ();
    //  Every member holds the same data: each write there, with its value
    bool *present = (bool *) calloc (MAX_ACKED, sizeof (bool));
    for (char *line = data; line && *line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        int key, value;
        if (sscanf (line, "w%06d=w%06d", &key, &value) == 2 && key == value
        &&  key >= 0 && key < MAX_ACKED)
            present [key] = true;
    }
    int acked = 0;
    for (int i = 0; i < writer->written; i++)
        if (writer->acked [i]) {
            acked++;
            cr_assert (present [i], "seed %u: acknowledged write %d lost", seed, i);
        }
    free (present);
    cr_assert_geq (acked, rounds, "seed %u", seed);
    free (data);
    free (writer);
}
