/*  test_limits.c — limits that keep one client from taking a member from
    the others: a client connection with --max-client-requests requests
    waiting gets `etcdserver: too many requests` for more at once, while
    another client's requests are still taken and answered. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cluster_fixture.h"

TestSuite (limits, .fini = cf_teardown, .timeout = 120);

Test (limits, a_flooding_client_cannot_take_the_waiting_table_from_others)
{
    //  Writes wait while both followers are stopped (for less than the
    //  election timeout, so that the leader keeps leading)
    const char *flags [] = { "--election-timeout", "5000", "--max-client-requests", "100",
                             NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *followers [2];
    size_t count = 0;
    for (size_t m = 0; m < 3; m++)
        if (!streq (zkv_harness_name (cf_cluster, m), leader))
            followers [count++] = zkv_harness_name (cf_cluster, m);
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq (zkv_harness_signal (cf_cluster, followers [i], SIGSTOP), 0);

    //  The flood: 300 puts at once from one connection; 100 wait, the
    //  others are refused at once
    zkv_client_t *flood = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 10000);
    for (int i = 0; i < 300; i++) {
        char key [32];
        snprintf (key, sizeof key, "flood/%03d", i);
        zkv_put_t put = { .key = cf_bin (key), .value = cf_bin ("x") };
        cr_assert_neq (zkv_client_send (flood, &zkv_put_desc, &put, 2000), 0);
    }
    for (int i = 0; i < 200; i++) {
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_recv (flood, &zkv_put_desc, 3000, &status);
        cr_assert_not_null (reply, "refusal %d never came", i);
        const zkv_error_t *error = zkv_reply_error (reply);
        cr_assert_not_null (error, "a put went through without a quorum");
        cr_assert (cf_text_is (error->message, "etcdserver: too many requests"));
        zkv_msg_destroy (&reply);
    }
    //  Another client is still taken
    zkv_client_t *other = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 10000);
    zkv_put_t put = { .key = cf_bin ("other"), .value = cf_bin ("y") };
    cr_assert_neq (zkv_client_send (other, &zkv_put_desc, &put, 2000), 0);
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq (zkv_harness_signal (cf_cluster, followers [i], SIGCONT), 0);
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_recv (other, &zkv_put_desc, 8000, &status);
    cr_assert_not_null (reply, "the other client was never answered");
    cr_assert_null (zkv_reply_error (reply), "%s", zkv_reply_error (reply)->message.data);
    zkv_msg_destroy (&reply);
    //  And the flood's 100 are answered too
    for (int i = 0; i < 100; i++) {
        reply = zkv_client_recv (flood, &zkv_put_desc, 8000, &status);
        cr_assert_not_null (reply, "waiting put %d never answered", i);
        cr_assert_null (zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
    }
    zkv_client_destroy (&other);
    zkv_client_destroy (&flood);
}
