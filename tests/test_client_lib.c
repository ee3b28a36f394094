/*  test_client_lib.c — the C client library (client/zkv_client.h) as
    people build on it: its retry policy against fake members (ROUTER
    sockets on actors that refuse, answer or keep silent as told, and
    count what reached them) and against a real cluster (a paused member);
    the cluster file, a snapshot saved to a file, and the events
    subscriber (against a fake member that misses events and restarts,
    and against real members).
*/
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"
#include "zkv_client.h"
#include "zkv_events.h"
#include "zkv_sha256.h"
#include "zkv_testnode.h"

//  ---------------------------------------------------------------------
//  Fake members

//  What a fake member does with each request that reaches it: refuses
//  the first `refusals` with err (all of them when refusals < 0), or
//  keeps silent (silent), else answers with an empty response of the
//  request's type. Set before the actor starts; requests counts them.
typedef struct {
    int refusals;
    zkv_err_t err;
    bool silent;
    atomic_int requests;
} s_script_t;

static void
s_fake_member (zsock_t *pipe, void *args)
{
    s_script_t *script = (s_script_t *) args;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "s", router? zsock_endpoint (router): "");
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (router) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;                      //  $TERM or interrupted
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (msg);
        zframe_t *frame = zmsg_pop (msg);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status;
        zkv_msg_t *request = frame? zkv_msg_decode (zframe_data (frame), zframe_size (frame),
                                                    ZKV_KIND_REQUEST, &limits, &status)
                                  : NULL;
        if (request && request->desc != &zkv_snapshot_credit_desc) {
            int count = atomic_fetch_add (&script->requests, 1);
            zkv_header_t header = { .cluster_id = 1, .member_id = 0xfa4e, .revision = 7 };
            if (script->silent)
                ;
            else
            if (script->refusals < 0 || count < script->refusals) {
                zkv_error_t error = {
                    zkv_bin (zkv_err_code (script->err), strlen (zkv_err_code (script->err))),
                    zkv_bin (zkv_err_message (script->err),
                             strlen (zkv_err_message (script->err)))
                };
                zkv_error_response_t body = { &header, &error };
                size_t size;
                uint8_t *bytes = zkv_msg_encode_body (&zkv_error_response_desc, &body, &size);
                zkv_fake_send (router, identity, request, bytes, size);
            }
            else {
                //  Every response begins with its header; the rest empty
                union {
                    zkv_put_response_t put;
                    zkv_range_response_t range;
                    zkv_status_response_t status;
                } response;
                memset (&response, 0, sizeof response);
                response.put.header = &header;
                zkv_fake_answer (router, identity, request, &response);
            }
        }
        zkv_msg_destroy (&request);
        zframe_destroy (&frame);
        zframe_destroy (&identity);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

typedef struct {
    zactor_t *actor;
    char *endpoint;
} s_fake_t;

static s_fake_t
s_fake_new (s_script_t *script)
{
    s_fake_t fake = { zactor_new (s_fake_member, script), NULL };
    fake.endpoint = zstr_recv (fake.actor);
    cr_assert (fake.endpoint && *fake.endpoint, "a fake member could not bind");
    return fake;
}

static void
s_fake_destroy (s_fake_t *fake)
{
    zactor_destroy (&fake->actor);
    zstr_free (&fake->endpoint);
}

static const zkv_put_t s_put = { .key = { (const uint8_t *) "k", 1 },
                                 .value = { (const uint8_t *) "v", 1 } };
static const zkv_range_t s_get = { .key = { (const uint8_t *) "k", 1 } };

//  The text of reply's error ("" when none)
static const char *
s_error (const zkv_msg_t *reply, char *text, size_t size)
{
    const zkv_error_t *error = reply? zkv_reply_error (reply): NULL;
    *text = 0;
    if (error)
        zkv_bin_str (error->message, text, size);
    return text;
}

//  ---------------------------------------------------------------------
//  The retry policy

TestSuite (client_lib, .timeout = 120);

Test (client_lib, a_write_refused_with_no_leader_is_sent_again_until_served)
{
    s_script_t script = { .refusals = 2, .err = ZKV_ERR_NO_LEADER };
    s_fake_t fake = s_fake_new (&script);
    zkv_client_t *client = zkv_client_new (fake.endpoint, 30000);
    zkv_result_t status;
    char text [256];
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &s_put, &status);
    cr_assert_not_null (reply, "%s", status.detail);
    cr_assert_str_eq (s_error (reply, text, sizeof text), "");
    cr_assert_eq (reply->desc, &zkv_put_response_desc);
    cr_assert_eq (atomic_load (&script.requests), 3);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    s_fake_destroy (&fake);
}

Test (client_lib, without_the_policy_a_refusal_is_the_answer)
{
    s_script_t script = { .refusals = 2, .err = ZKV_ERR_NO_LEADER };
    s_fake_t fake = s_fake_new (&script);
    zkv_client_t *client = zkv_client_new (fake.endpoint, 30000);
    zkv_client_set_retry (client, false);
    zkv_result_t status;
    char text [256];
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &s_put, &status);
    cr_assert_str_eq (s_error (reply, text, sizeof text), "etcdserver: no leader");
    cr_assert_eq (atomic_load (&script.requests), 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    s_fake_destroy (&fake);
}

Test (client_lib, a_refusal_that_lasts_is_the_answer_at_the_deadline)
{
    s_script_t script = { .refusals = -1, .err = ZKV_ERR_LEADER_CHANGED };
    s_fake_t fake = s_fake_new (&script);
    zkv_client_t *client = zkv_client_new (fake.endpoint, 600);
    zkv_result_t status;
    char text [256];
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &s_get, &status);
    cr_assert_str_eq (s_error (reply, text, sizeof text), "etcdserver: leader changed");
    cr_assert_gt (atomic_load (&script.requests), 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    s_fake_destroy (&fake);
}

Test (client_lib, other_refusals_are_the_answer_at_once)
{
    s_script_t script = { .refusals = -1, .err = ZKV_ERR_COMPACTED };
    s_fake_t fake = s_fake_new (&script);
    zkv_client_t *client = zkv_client_new (fake.endpoint, 30000);
    zkv_result_t status;
    char text [256];
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &s_get, &status);
    cr_assert_str_eq (s_error (reply, text, sizeof text),
                      "etcdserver: mvcc: required revision has been compacted");
    cr_assert_eq (atomic_load (&script.requests), 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    s_fake_destroy (&fake);
}

Test (client_lib, a_write_that_got_no_reply_is_never_sent_again)
{
    s_script_t silent = { .silent = true }, answering = { .refusals = 0 };
    s_fake_t first = s_fake_new (&silent), second = s_fake_new (&answering);
    char *endpoints = zsys_sprintf ("%s,%s", first.endpoint, second.endpoint);
    zkv_client_t *client = zkv_client_new (endpoints, 1000);
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &s_put, &status);
    cr_assert_null (reply);
    cr_assert_eq (status.err, ZKV_ERR_TIMEOUT);
    cr_assert_str_eq (status.detail, "context deadline exceeded");
    cr_assert_eq (atomic_load (&silent.requests), 1);
    cr_assert_eq (atomic_load (&answering.requests), 0, "the write was sent again");
    //  ... and the next call goes to the next member
    reply = zkv_client_call (client, &zkv_put_desc, &s_put, &status);
    cr_assert_not_null (reply, "%s", status.detail);
    cr_assert_eq (atomic_load (&answering.requests), 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    free (endpoints);
    s_fake_destroy (&first);
    s_fake_destroy (&second);
}

Test (client_lib, a_write_of_unknown_outcome_is_not_sent_again_a_read_is)
{
    s_script_t timing_out = { .refusals = -1, .err = ZKV_ERR_TIMEOUT };
    s_script_t answering = { .refusals = 0 };
    s_fake_t first = s_fake_new (&timing_out), second = s_fake_new (&answering);
    char *endpoints = zsys_sprintf ("%s,%s", first.endpoint, second.endpoint);
    zkv_client_t *client = zkv_client_new (endpoints, 30000);
    zkv_result_t status;
    char text [256];
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &s_put, &status);
    cr_assert_str_eq (s_error (reply, text, sizeof text), "etcdserver: request timed out");
    cr_assert_eq (atomic_load (&timing_out.requests), 1);
    cr_assert_eq (atomic_load (&answering.requests), 0, "the write was sent again");
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);

    //  The same for a read: the next member serves it
    client = zkv_client_new (endpoints, 30000);
    reply = zkv_client_call (client, &zkv_range_desc, &s_get, &status);
    cr_assert_not_null (reply, "%s", status.detail);
    cr_assert_str_eq (s_error (reply, text, sizeof text), "");
    cr_assert_eq (atomic_load (&timing_out.requests), 2);
    cr_assert_eq (atomic_load (&answering.requests), 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    free (endpoints);
    s_fake_destroy (&first);
    s_fake_destroy (&second);
}

Test (client_lib, a_read_without_reply_goes_to_the_next_member)
{
    s_script_t silent = { .silent = true }, answering = { .refusals = 0 };
    s_fake_t first = s_fake_new (&silent), second = s_fake_new (&answering);
    char *endpoints = zsys_sprintf ("%s,%s", first.endpoint, second.endpoint);
    zkv_client_t *client = zkv_client_new (endpoints, 30000);
    zkv_result_t status;
    zkv_status_t request = { false };
    zkv_msg_t *reply = zkv_client_call (client, &zkv_status_desc, &request, &status);
    cr_assert_not_null (reply, "%s", status.detail);
    cr_assert_eq (reply->desc, &zkv_status_response_desc);
    cr_assert_eq (atomic_load (&silent.requests), 1);
    cr_assert_eq (atomic_load (&answering.requests), 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    free (endpoints);
    s_fake_destroy (&first);
    s_fake_destroy (&second);
}

Test (client_lib, reads_only_tells_the_requests_that_change_nothing)
{
    zkv_put_t put = { .key = cf_bin ("k") };
    zkv_range_t range = { .key = cf_bin ("k") };
    zkv_request_op_t reads [] = { { .request_range = &range } };
    zkv_txn_t inner_write = { .failure = { (zkv_request_op_t []) { { .request_put = &put } }, 1 } };
    zkv_request_op_t nested [] = { { .request_range = &range }, { .request_txn = &inner_write } };
    zkv_txn_t read_only = { .success = { reads, 1 }, .failure = { reads, 1 } };
    zkv_txn_t writes = { .success = { nested, 2 } };
    cr_assert (zkv_request_reads_only (&zkv_txn_desc, &read_only));
    cr_assert_not (zkv_request_reads_only (&zkv_txn_desc, &writes));
    cr_assert (zkv_request_reads_only (&zkv_range_desc, &range));
    cr_assert_not (zkv_request_reads_only (&zkv_put_desc, &put));
    zkv_alarm_t get = { .action = 0 }, disarm = { .action = 2 };
    cr_assert (zkv_request_reads_only (&zkv_alarm_desc, &get));
    cr_assert_not (zkv_request_reads_only (&zkv_alarm_desc, &disarm));
    zkv_defragment_t defragment = { 0 };
    cr_assert_not (zkv_request_reads_only (&zkv_defragment_desc, &defragment));
}

//  ---------------------------------------------------------------------
//  Against real members

TestSuite (client_lib_cluster, .fini = cf_teardown, .timeout = 120);

Test (client_lib_cluster, a_read_fails_over_from_a_paused_member)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_harness_client (cf_cluster, NULL, 20000);
    cr_assert_eq (strcmp (zkv_client_endpoint (client), zkv_harness_endpoint (cf_cluster, "n1")),
                  0);
    cr_assert (cf_put (client, "k", "v"));
    //  n1, connected, is paused: the read queued for it gets no reply
    cr_assert_eq (zkv_harness_signal (cf_cluster, "n1", SIGSTOP), 0);
    zkv_range_t range = { .key = cf_bin ("k") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
    cr_assert_not_null (reply, "%s", status.detail);
    cr_assert_null (zkv_reply_error (reply));
    const zkv_range_response_t *response = (const zkv_range_response_t *) reply->body;
    cr_assert_eq (response->kvs.count, 1);
    cr_assert (cf_text_is (response->kvs.items [0].value, "v"));
    cr_assert_neq (strcmp (zkv_client_endpoint (client), zkv_harness_endpoint (cf_cluster, "n1")),
                   0);
    zkv_msg_destroy (&reply);
    cr_assert_eq (zkv_harness_signal (cf_cluster, "n1", SIGCONT), 0);
    zkv_client_destroy (&client);
}

Test (client_lib_cluster, a_client_from_the_cluster_file_of_a_secure_cluster)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    char error [1024];
    zkv_client_t *client = zkv_client_new_from_cluster_file (zkv_harness_file (cf_cluster),
                                                             10000, error, sizeof error);
    cr_assert_not_null (client, "%s", error);
    cr_assert_eq (zkv_client_endpoint_count (client), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_eq (zkv_client_endpoint_at (client, i),
                          zkv_harness_endpoint (cf_cluster, zkv_harness_name (cf_cluster, i)));
    cr_assert (cf_put (client, "k", "v"), "a put with the file's credentials failed");
    zkv_client_destroy (&client);

    //  What the file says, and its failures as zkvctl tells them
    zkv_cluster_file_t *file = zkv_cluster_file_load (zkv_harness_file (cf_cluster), error,
                                                      sizeof error);
    cr_assert_not_null (file, "%s", error);
    cr_assert_str_eq (zkv_cluster_file_endpoints (file), zkv_harness_endpoints (cf_cluster));
    cr_assert_not_null (zkv_cluster_file_cert (file));
    cr_assert_not_null (zkv_cluster_file_server_cert (file));
    cr_assert_eq (strlen (zkv_cluster_file_events (file)) > 0, true);
    zkv_cluster_file_destroy (&file);
    char *missing = zsys_sprintf ("%s/none.zpl", cf_dir);
    cr_assert_null (zkv_client_new_from_cluster_file (missing, 1000, error, sizeof error));
    char *expected = zsys_sprintf ("cannot read cluster file %s: no such file or directory",
                                   missing);
    cr_assert_str_eq (error, expected);
    free (expected);
    free (missing);
}

Test (client_lib_cluster, a_snapshot_saved_to_a_file)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                 leader), 10000);
    cf_put_keys (client, 50);
    char *path = zsys_sprintf ("%s/saved.db", cf_dir);
    char *part = zsys_sprintf ("%s.part", path);
    zkv_snapshot_info_t info;
    char error [1024];
    int rc = zkv_client_snapshot_save (client, path, 0, NULL, NULL, &info, error, sizeof error);
    cr_assert_eq (rc, 0, "%s", error);
    cr_assert_eq (info.member_id, cf_member_id (leader));
    cr_assert_gt (strlen (info.version), 0);
    cr_assert_not (zsys_file_exists (part));
    //  The file: the image, then its SHA-256
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file);
    uint8_t *bytes = (uint8_t *) malloc (info.size + 1);
    cr_assert_eq (fread (bytes, 1, info.size + 1, file), info.size);
    fclose (file);
    zkv_sha256_t *digest = zkv_sha256_new ();
    zkv_sha256_update (digest, bytes, info.size - ZKV_SHA256_SIZE);
    uint8_t sum [ZKV_SHA256_SIZE];
    zkv_sha256_digest (digest, sum);
    zkv_sha256_destroy (&digest);
    cr_assert_eq (memcmp (sum, bytes + info.size - ZKV_SHA256_SIZE, ZKV_SHA256_SIZE), 0);
    cr_assert_eq (memcmp (sum, info.sha256, ZKV_SHA256_SIZE), 0);
    free (bytes);
    //  ... as zkvctl snapshot status reads it
    const char *status [] = { "snapshot", "status", path, "-w", "fields", NULL };
    zkv_run_t run = cf_zkvctl (NULL, status);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out, "\"Keys\" : 50\n"), "%s", run.out);
    zkv_run_free (&run);

    //  A file that cannot be made: nothing left behind, and the client
    //  serves on
    char *nowhere = zsys_sprintf ("%s/no/such/dir/saved.db", cf_dir);
    cr_assert_eq (zkv_client_snapshot_save (client, nowhere, 0, NULL, NULL, NULL, error,
                                            sizeof error), -1);
    char *expected = zsys_sprintf ("could not open %s.part (No such file or directory)", nowhere);
    cr_assert_str_eq (error, expected);
    cr_assert (cf_put (client, "after", "1"));
    free (expected);
    free (nowhere);
    free (part);
    free (path);
    zkv_client_destroy (&client);
}

Test (client_lib_cluster, events_of_every_member)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_harness_client (cf_cluster, NULL, 10000);
    zkv_events_t *events = zkv_events_new (NULL);
    char error [1024];
    cr_assert_eq (zkv_events_add_members (events, client, true, error, sizeof error), 3, "%s",
                  error);
    zkv_events_set_topic (events, "defrag");
    //  Defragments n2 until its event comes (the subscriptions become live
    //  some time after they are made: the first defrags may go unheard)
    uint64_t n2 = cf_member_id ("n2");
    bool heard = false;
    for (int attempt = 0; attempt < 50 && !heard; attempt++) {
        zkv_defragment_t request = { false };
        zkv_msg_t *reply = cf_call ("n2", &zkv_defragment_desc, &request);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
        zkv_events_item_t event;
        while (!heard && zkv_events_recv (events, 500, &event) == 0) {
            if (event.kind != ZKV_EVENTS_EVENT)
                continue;
            cr_assert_str_eq (event.topic, "defrag");
            cr_assert_eq (event.desc, &zkv_defrag_event_desc);
            cr_assert_eq (event.member, n2);
            const zkv_defrag_event_t *defrag = (const zkv_defrag_event_t *) event.body;
            cr_assert_eq (defrag->member, n2);
            cr_assert_eq (defrag->seq, event.seq);
            cr_assert_gt (event.boot, 0);
            heard = true;
        }
    }
    cr_assert (heard, "no defrag event of n2 came");
    zkv_events_destroy (&events);
    zkv_client_destroy (&client);
}

//  ---------------------------------------------------------------------
//  Events from a fake member (zkv_fake_publisher)

Test (client_lib, events_tell_what_was_missed_and_restarts)
{
    zactor_t *fake = zactor_new (zkv_fake_publisher, NULL);
    char *endpoint = zstr_recv (fake);
    cr_assert (endpoint && *endpoint, "the fake member could not bind");
    zkv_client_t *client = zkv_client_new (endpoint, 10000);
    zkv_events_t *events = zkv_events_new (NULL);
    char error [1024];
    cr_assert_eq (zkv_events_add_members (events, client, false, error, sizeof error), 1, "%s",
                  error);
    cr_assert_eq (zkv_events_size (events), 1);
    //  What comes, in order: event 1; 2 and 3 missed; event 4; a restart,
    //  1 of boot 6 missed; event 2 of boot 6
    const struct {
        zkv_events_kind_t kind;
        uint64_t seq, boot, from, to;
        int64_t db_size;
    } expected [] = {
        { ZKV_EVENTS_EVENT, 1, 5, 0, 0, 10 },
        { ZKV_EVENTS_MISSED, 0, 0, 2, 3, 0 },
        { ZKV_EVENTS_EVENT, 4, 5, 0, 0, 11 },
        { ZKV_EVENTS_RESTARTED, 0, 0, 0, 0, 0 },
        { ZKV_EVENTS_MISSED, 0, 0, 1, 1, 0 },
        { ZKV_EVENTS_EVENT, 2, 6, 0, 0, 12 }
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected [0]; i++) {
        zkv_events_item_t event;
        cr_assert_eq (zkv_events_recv (events, 20000, &event), 0, "nothing came (%zu)", i);
        cr_assert_eq (event.kind, expected [i].kind, "%zu: kind %d", i, (int) event.kind);
        cr_assert_eq (event.member, ZKV_FAKE_MEMBER);
        if (event.kind == ZKV_EVENTS_EVENT) {
            cr_assert_str_eq (event.topic, "defrag");
            cr_assert_eq (event.seq, expected [i].seq);
            cr_assert_eq (event.boot, expected [i].boot);
            cr_assert_eq (((const zkv_defrag_event_t *) event.body)->db_size,
                          expected [i].db_size);
        }
        if (event.kind == ZKV_EVENTS_MISSED) {
            cr_assert_eq (event.missed_from, expected [i].from);
            cr_assert_eq (event.missed_to, expected [i].to);
        }
    }
    zkv_events_destroy (&events);
    zkv_client_destroy (&client);
    zstr_free (&endpoint);
    zactor_destroy (&fake);
}

//  The events endpoint a fake member names in its Status
static char *
s_events_endpoint (const char *endpoint)
{
    zkv_client_t *client = zkv_client_new (endpoint, 10000);
    zkv_status_t request = { false };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_status_desc, &request, &status);
    cr_assert (reply && !zkv_reply_error (reply), "%s", status.detail);
    zkv_bin_t events = ((const zkv_status_response_t *) reply->body)->events_endpoint;
    char *text = zsys_sprintf ("%.*s", (int) events.size, (const char *) events.data);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    return text;
}

Test (client_lib, events_of_a_member_that_moved)
{
    zactor_t *first = zactor_new (zkv_fake_publisher, NULL);
    zactor_t *second = zactor_new (zkv_fake_publisher, NULL);
    char *first_endpoint = zstr_recv (first), *second_endpoint = zstr_recv (second);
    cr_assert (first_endpoint && *first_endpoint && second_endpoint && *second_endpoint);
    char *was = s_events_endpoint (first_endpoint), *now = s_events_endpoint (second_endpoint);
    zkv_events_t *events = zkv_events_new (NULL);
    zkv_events_add (events, was, 0);
    zkv_events_item_t item;
    cr_assert_eq (zkv_events_recv (events, 20000, &item), 0);
    cr_assert_str_eq (item.endpoint, was);
    cr_assert_eq (item.member, ZKV_FAKE_MEMBER, "the member id is learnt from its words");
    cr_assert_eq (zkv_events_move (events, was, now), 0);
    cr_assert_eq (zkv_events_move (events, "tcp://127.0.0.1:1", now), -1);
    //  What comes now comes from where it publishes now
    bool heard = false;
    while (!heard && zkv_events_recv (events, 20000, &item) == 0)
        if (item.kind == ZKV_EVENTS_EVENT) {
            cr_assert_str_eq (item.endpoint, now);
            heard = true;
        }
    cr_assert (heard, "no event came from where the member moved");
    zkv_events_destroy (&events);
    free (was);
    free (now);
    zstr_free (&first_endpoint);
    zstr_free (&second_endpoint);
    zactor_destroy (&first);
    zactor_destroy (&second);
}
