/*  test_security.c — CURVE on real secure 3-member clusters (zkv-cluster's
    layout: one cluster certificate, a client, an admin): the members elect
    and replicate over CURVE; an allowed client talks, encrypted; a client
    with an unknown key, or without CURVE, is refused at the handshake and
    the member goes on serving the others; only the admin key may make
    the admin requests; a client key cannot talk on the peer socket;
    events reach an allowed subscriber only; zkvctl takes the certificates
    as flags or from the cluster file; a value never crosses the wire in
    clear. And the member flags come whole. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_fixture.h"
#include "zkv_alarm_table.h"
#include "zkv_testnode.h"

TestSuite (security, .fini = cf_teardown, .timeout = 120);

//  The credentials of who ("client", "admin", "cluster") of the cluster
//  under test, against the cluster's certificate
static zkv_curve_t *
s_curve (const char *who)
{
    char cert [512], server [512], error [512];
    snprintf (cert, sizeof cert, "%s/%s.cert", zkv_harness_certs (cf_cluster), who);
    snprintf (server, sizeof server, "%s/cluster.cert", zkv_harness_certs (cf_cluster));
    zkv_curve_t *curve = zkv_curve_new (cert, server, error, sizeof error);
    cr_assert_not_null (curve, "%s", error);
    return curve;
}

//  The credentials of a key nobody allowed
static zkv_curve_t *
s_stranger (void)
{
    char cert [512], server [512], error [512];
    snprintf (cert, sizeof cert, "%s/stranger.cert", cf_dir);
    snprintf (server, sizeof server, "%s/cluster.cert", zkv_harness_certs (cf_cluster));
    zcert_t *stranger = zcert_new ();
    cr_assert_eq (zcert_save (stranger, cert), 0);
    zcert_destroy (&stranger);
    zkv_curve_t *curve = zkv_curve_new (cert, server, error, sizeof error);
    cr_assert_not_null (curve, "%s", error);
    return curve;
}

//  A client of one member with credentials (NULL: plain)
static zkv_client_t *
s_client (const char *name, const zkv_curve_t *curve, int timeout)
{
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), timeout);
    zkv_client_set_curve (client, curve);
    return client;
}

//  A member's events endpoint, from its Status
static char *
s_events_endpoint (const char *name)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = cf_call (name, &zkv_status_desc, &request);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_bin_t events = ((zkv_status_response_t *) reply->body)->events_endpoint;
    char *endpoint = zsys_sprintf ("%.*s", (int) events.size, (const char *) events.data);
    zkv_msg_destroy (&reply);
    return endpoint;
}

Test (security, members_replicate_over_curve_and_an_allowed_client_talks_encrypted)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);     //  elected over CURVE
    const char *follower = streq (leader, "n1")? "n2": "n1";
    //  A write to a follower goes to the leader over the peer transport
    zkv_curve_t *curve = s_curve ("client");
    zkv_client_t *client = s_client (follower, curve, 5000);
    cr_assert (cf_put (client, "secret", "value"));
    cr_assert_eq (zsock_mechanism (zkv_client_socket (client)), ZMQ_CURVE);
    char *data = cf_converged ();
    cr_assert_str_eq (data, "secret=value\n");
    free (data);
    //  A member restarted keeps its certificates and catches up
    cr_assert_eq (zkv_harness_signal (cf_cluster, follower, SIGKILL), 0);
    zkv_client_t *writer = s_client (leader, curve, 5000);
    cr_assert (cf_put (writer, "after", "restart"));
    zkv_client_destroy (&writer);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, follower, error, sizeof error), 0, "%s", error);
    data = cf_converged ();
    cr_assert_str_eq (data, "after=restart\nsecret=value\n");
    free (data);
    zkv_client_destroy (&client);
    zkv_curve_destroy (&curve);
}

Test (security, unknown_keys_and_plain_clients_are_refused_at_the_handshake)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *endpoint = zkv_harness_endpoint (cf_cluster, leader);
    zkv_curve_t *stranger = s_stranger ();
    zkv_curve_t *client = s_curve ("client");
    cr_assert_not (cf_handshake (endpoint, ZMQ_DEALER, stranger));
    cr_assert_not (cf_handshake (endpoint, ZMQ_DEALER, NULL));  //  no CURVE
    cr_assert (cf_handshake (endpoint, ZMQ_DEALER, client));
    //  The ZAP handler refused the stranger; the plain client got no
    //  further than the greeting (no mechanism in common)
    char refused [160];
    snprintf (refused, sizeof refused, "zap: refused CURVE key %s from 127.0.0.1 on domain "
              "client", zkv_curve_public (stranger));
    cr_assert (cf_log_says (leader, refused));

    //  Their requests time out; the member goes on serving the others
    zkv_client_t *clients [2] = { s_client (leader, stranger, 1000),
                                  s_client (leader, NULL, 1000) };
    for (int i = 0; i < 2; i++) {
        zkv_put_t put = { .key = cf_bin ("k"), .value = cf_bin ("v") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (clients [i], &zkv_put_desc, &put, &status);
        cr_assert_null (reply);
        cr_assert_eq (status.err, ZKV_ERR_TIMEOUT);
        zkv_client_destroy (&clients [i]);
    }
    zkv_client_t *allowed = s_client (leader, client, 5000);
    cr_assert (cf_put (allowed, "k", "v"));
    zkv_client_destroy (&allowed);
    char *data = cf_dump (leader);
    cr_assert_str_eq (data, "k=v\n");
    free (data);
    zkv_curve_destroy (&client);
    zkv_curve_destroy (&stranger);
}

//  Sends desc through client; the reply's error message, "" on success
static char *
s_outcome (zkv_client_t *client, const zkv_desc_t *desc, const void *request)
{
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, desc, request, &status);
    cr_assert_not_null (reply, "%s: no reply", desc->name);
    const zkv_error_t *error = zkv_reply_error (reply);
    char *text = error? zsys_sprintf ("%.*s %.*s", (int) error->code.size,
                                      (const char *) error->code.data, (int) error->message.size,
                                      (const char *) error->message.data)
                      : strdup ("");
    zkv_msg_destroy (&reply);
    return text;
}

Test (security, only_the_admin_key_may_make_admin_requests)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *follower = streq (leader, "n1")? "n2": "n1";
    zkv_curve_t *client_curve = s_curve ("client");
    zkv_curve_t *admin_curve = s_curve ("admin");
    zkv_client_t *client = s_client (leader, client_curve, 5000);
    zkv_client_t *admin = s_client (leader, admin_curve, 5000);
    cr_assert (cf_put (client, "k", "v"));

    //  Reads, Status, hashes, the alarm list are anybody's
    zkv_alarm_t list = { .action = ZKV_ALARM_GET };
    zkv_status_t status = { false };
    zkv_hash_kv_t hash_kv = { 0 };
    zkv_range_t range = { .key = cf_bin ("k") };
    const struct {
        const zkv_desc_t *desc;
        const void *request;
    } anybody [] = {
        { &zkv_alarm_desc, &list }, { &zkv_status_desc, &status },
        { &zkv_hash_kv_desc, &hash_kv }, { &zkv_range_desc, &range }
    };
    for (size_t i = 0; i < sizeof anybody / sizeof anybody [0]; i++) {
        char *outcome = s_outcome (client, anybody [i].desc, anybody [i].request);
        cr_assert_str_eq (outcome, "", "%s: %s", anybody [i].desc->name, outcome);
        free (outcome);
    }
    zkv_defragment_t defragment = { false };
    zkv_move_leader_t move = { .target_id = cf_member_id (follower) };
    zkv_alarm_t activate = { .action = ZKV_ALARM_ACTIVATE, .alarm = ZKV_ALARM_NOSPACE };
    zkv_alarm_t deactivate = { .action = ZKV_ALARM_DEACTIVATE, .alarm = ZKV_ALARM_NOSPACE };
    zkv_snapshot_t snapshot = { .credit = 1 };
    zkv_compact_t compact = { .revision = 2 };
    zkv_fault_t fault = { .heal = true };
    const struct {
        const zkv_desc_t *desc;
        const void *request;
    } admin_only [] = {
        { &zkv_defragment_desc, &defragment }, { &zkv_alarm_desc, &activate },
        { &zkv_alarm_desc, &deactivate }, { &zkv_snapshot_desc, &snapshot },
        { &zkv_compact_desc, &compact }, { &zkv_fault_desc, &fault },
        { &zkv_move_leader_desc, &move }    //  last: the admin's moves the leader
    };
    for (size_t i = 0; i < sizeof admin_only / sizeof admin_only [0]; i++) {
        char *outcome = s_outcome (client, admin_only [i].desc, admin_only [i].request);
        cr_assert_str_eq (outcome, "PermissionDenied etcdserver: permission denied",
                          "%s", admin_only [i].desc->name);
        free (outcome);
        outcome = s_outcome (admin, admin_only [i].desc, admin_only [i].request);
        cr_assert_str_eq (outcome, "", "%s by the admin: %s", admin_only [i].desc->name,
                          outcome);
        free (outcome);
    }
    zkv_client_destroy (&client);
    zkv_client_destroy (&admin);
    zkv_curve_destroy (&client_curve);
    zkv_curve_destroy (&admin_curve);
}

Test (security, a_client_key_cannot_talk_on_the_peer_socket)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *follower = streq (leader, "n1")? "n2": "n1";
    zkv_member_list_t list = { false };
    zkv_msg_t *reply = cf_call (leader, &zkv_member_list_desc, &list);
    cr_assert (reply && !zkv_reply_error (reply));
    const zkv_member_list_response_t *members = (const zkv_member_list_response_t *) reply->body;
    char *peer = NULL;
    for (size_t i = 0; i < members->members.count; i++)
        if (members->members.items [i].member_id == cf_member_id (follower))
            peer = zsys_sprintf ("%.*s", (int) members->members.items [i].peer_endpoint.size,
                                 (const char *) members->members.items [i].peer_endpoint.data);
    uint64_t cluster_id = members->header->cluster_id;
    zkv_msg_destroy (&reply);
    cr_assert_not_null (peer);

    //  The client's key may talk to the follower's client socket, not to
    //  its peer socket; the cluster's own key may
    zkv_curve_t *client = s_curve ("client");
    zkv_curve_t *cluster = s_curve ("cluster");
    cr_assert_not (cf_handshake (peer, ZMQ_DEALER, client));
    cr_assert (cf_handshake (peer, ZMQ_DEALER, cluster));
    cr_assert (cf_handshake (zkv_harness_endpoint (cf_cluster, follower), ZMQ_DEALER, client));
    char refused [160];
    snprintf (refused, sizeof refused, "zap: refused CURVE key %s from 127.0.0.1 on domain peer",
              zkv_curve_public (client));
    cr_assert (cf_log_says (follower, refused));

    //  A frame as the leader would send it, telling of a transfer that
    //  never happened: it never leaves (no connection), and the cluster
    //  publishes no such thing
    zsock_t *forger = zsock_new (ZMQ_DEALER);
    zkv_curve_apply (client, forger);
    zsock_set_immediate (forger, 1);
    cr_assert_eq (zsock_connect (forger, "%s", peer), 0);
    zkv_transfer_event_t forged = {
        .member = cf_member_id (leader), .phase = cf_bin ("aborted"),
        .from = cf_member_id (leader), .to = cf_member_id (follower), .term = 999999,
        .reason = cf_bin ("forged"), .reporter = cf_member_id (leader)
    };
    size_t size;
    uint8_t *body = zkv_msg_encode_body (&zkv_transfer_event_desc, &forged, &size);
    zkv_event_t tell = { .topic = cf_bin ("transfer"), .body = zkv_bin (body, size) };
    zkv_peer_frame_t frame = {
        .cluster_id = cluster_id, .from = cf_member_id (leader), .to = cf_member_id (follower),
        .events = { &tell, 1 }
    };
    uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, &frame, &size);
    cr_assert_not_null (bytes);
    zsock_set_sndtimeo (forger, 2000);
    cr_assert_eq (zmq_send (zsock_resolve (forger), bytes, size, 0), -1,
                  "a client key got a connection to the peer socket");
    free (bytes);
    free (body);
    zsock_destroy (&forger);

    //  Unaffected: it writes, and a real transfer is all its events tell
    //  (once the subscriber hears the leader: it defragments until then)
    zkv_client_t *writer = s_client (follower, client, 5000);
    cr_assert (cf_put (writer, "k", "v"));
    zkv_client_destroy (&writer);
    zsock_t *sub = cf_subscribe ();
    msgpack_zone *zone = msgpack_zone_new (1024);
    void *heard = NULL;
    for (int round = 0; round < 100 && !heard; round++) {
        zkv_defragment_t defragment = { false };
        reply = cf_call (leader, &zkv_defragment_desc, &defragment);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
        heard = cf_event (sub, "defrag", &zkv_defrag_event_desc, zone, 100);
    }
    cr_assert_not_null (heard, "the leader's events never came");
    zkv_move_leader_t move = { .target_id = cf_member_id (follower) };
    reply = cf_call (leader, &zkv_move_leader_desc, &move);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
    zkv_transfer_event_t *seen;
    do {
        seen = (zkv_transfer_event_t *) cf_event (sub, "transfer", &zkv_transfer_event_desc,
                                                  zone, 10000);
        cr_assert_not_null (seen, "the transfer was not told");
        cr_assert_neq (seen->term, 999999, "the forged transfer was published");
    } while (!cf_text_is (seen->phase, "completed"));
    msgpack_zone_free (zone);
    zsock_destroy (&sub);
    free (peer);
    zkv_curve_destroy (&client);
    zkv_curve_destroy (&cluster);
}

Test (security, events_reach_allowed_subscribers_only)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    char *endpoint = s_events_endpoint (leader);
    zkv_curve_t *client = s_curve ("client");
    zkv_curve_t *stranger = s_stranger ();
    cr_assert_not (cf_handshake (endpoint, ZMQ_SUB, stranger));
    cr_assert_not (cf_handshake (endpoint, ZMQ_SUB, NULL));
    cr_assert (cf_handshake (endpoint, ZMQ_SUB, client));
    char refused [160];
    snprintf (refused, sizeof refused, "zap: refused CURVE key %s from 127.0.0.1 on domain "
              "client", zkv_curve_public (stranger));
    cr_assert (cf_log_says (leader, refused));
    //  An allowed subscriber hears the member's defrags (the admin's)
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zkv_curve_apply (client, sub);
    zsock_set_subscribe (sub, "defrag");
    cr_assert_eq (zsock_connect (sub, "%s", endpoint), 0);
    msgpack_zone *zone = msgpack_zone_new (1024);
    void *heard = NULL;
    for (int round = 0; round < 100 && !heard; round++) {
        zkv_defragment_t defragment = { false };
        zkv_msg_t *reply = cf_call (leader, &zkv_defragment_desc, &defragment);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
        heard = cf_event (sub, "defrag", &zkv_defrag_event_desc, zone, 100);
    }
    cr_assert_not_null (heard, "an allowed subscriber heard nothing");
    cr_assert_eq (zsock_mechanism (sub), ZMQ_CURVE);
    msgpack_zone_free (zone);
    zsock_destroy (&sub);
    free (endpoint);
    zkv_curve_destroy (&client);
    zkv_curve_destroy (&stranger);
}

//  Defragments a member (through the client given, ours now) every
//  200 ms until destroyed: events for a subscriber that cannot be told
//  when it is listening
static void
s_defragger (zsock_t *pipe, void *args)
{
    zkv_client_t *client = (zkv_client_t *) args;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zsock_signal (pipe, 0);
    while (zpoller_wait (poller, 200) != pipe && !zpoller_terminated (poller)) {
        zkv_defragment_t defragment = { false };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_defragment_desc, &defragment, &status);
        zkv_msg_destroy (&reply);
    }
    zpoller_destroy (&poller);
    zkv_client_destroy (&client);
}

Test (security, zkvctl_takes_the_certificates_as_flags_or_from_the_cluster_file)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *endpoint = zkv_harness_endpoint (cf_cluster, leader);
    char cert [512], server [512], missing [512], public_cert [512];
    snprintf (cert, sizeof cert, "%s/client.cert", zkv_harness_certs (cf_cluster));
    snprintf (server, sizeof server, "%s/cluster.cert", zkv_harness_certs (cf_cluster));
    snprintf (public_cert, sizeof public_cert, "%s/clients/client.cert",
              zkv_harness_certs (cf_cluster));
    snprintf (missing, sizeof missing, "%s/missing.cert", zkv_harness_certs (cf_cluster));
    const char *file = zkv_harness_file (cf_cluster);

    //  As flags: the client's key
    const char *put [] = { "--cert", cert, "--server-cert", server, "put", "k", "v", NULL };
    zkv_run_t run = cf_zkvctl (endpoint, put);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, "OK\n");
    zkv_run_free (&run);
    const char *compact [] = { "--cert", cert, "--server-cert", server, "compaction", "2",
                               NULL };
    run = cf_zkvctl (endpoint, compact);
    cr_assert_eq (run.code, 1);
    cr_assert_str_eq (run.err, "Error: etcdserver: permission denied\n");
    zkv_run_free (&run);
    //  From the cluster file: the admin's key; a flag wins over the file
    const char *by_file [] = { "--cluster-file", file, "compaction", "2", NULL };
    run = cf_zkvctl (NULL, by_file);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, "compacted revision 2\n");
    zkv_run_free (&run);
    const char *file_and_flag [] = { "--cluster-file", file, "--cert", cert, "get", "k", NULL };
    run = cf_zkvctl (NULL, file_and_flag);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, "k\nv\n");
    zkv_run_free (&run);
    //  Without certificates, nothing answers
    const char *plain [] = { "--command-timeout", "1s", "get", "k", NULL };
    run = cf_zkvctl (endpoint, plain);
    cr_assert_eq (run.code, 1);
    cr_assert_str_eq (run.err, "Error: context deadline exceeded\n");
    zkv_run_free (&run);
    //  Certificates that cannot be used are bad arguments, found first
    const char *bad [] = { "--cert", missing, "--server-cert", server, "get", "k", NULL };
    run = cf_zkvctl (endpoint, bad);
    cr_assert_eq (run.code, 128);
    cr_assert (strstr (run.err, "Error: cannot read certificate"), "%s", run.err);
    zkv_run_free (&run);
    const char *half [] = { "--cert", cert, "get", "k", NULL };
    run = cf_zkvctl (endpoint, half);
    cr_assert_eq (run.code, 128);
    cr_assert_str_eq (run.err, "Error: --cert needs --server-cert (the cluster's public "
                               "certificate)\n");
    zkv_run_free (&run);
    const char *public_only [] = { "--cert", public_cert, "--server-cert", server, "get", "k",
                                   NULL };
    run = cf_zkvctl (endpoint, public_only);
    cr_assert_eq (run.code, 128);
    cr_assert (strstr (run.err, "has no secret key"), "%s", run.err);
    zkv_run_free (&run);

    //  events, with the client's key, while the admin defragments
    zkv_curve_t *admin = s_curve ("admin");
    zactor_t *defragger = zactor_new (s_defragger, s_client (leader, admin, 5000));
    const char *events [] = { "--cluster-file", file, "--cert", cert, "--command-timeout", "20s",
                              "events", "--topic", "defrag", "--max-events", "1", NULL };
    run = cf_zkvctl (NULL, events);
    zactor_destroy (&defragger);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strncmp (run.out, "defrag member=", 14) == 0, "%s", run.out);
    zkv_run_free (&run);
    zkv_curve_destroy (&admin);
}

//  ---------------------------------------------------------------------
//  A tap: a tcp relay to a member that keeps what the client sent

typedef struct {
    int listener;                       //  where the client connects
    int port;                           //  its port
    int target;                         //  the member's port
    zchunk_t *sent;                     //  what the client sent, once stopped
} s_tap_t;

//  Relays the last connection made until $TERM, keeping the client's
//  bytes (a client may connect more than once: the last one talks)
static void
s_tap_actor (zsock_t *pipe, void *args)
{
    s_tap_t *tap = (s_tap_t *) args;
    zsock_signal (pipe, 0);
    int client = -1, member = -1;
    bool running = true;
    while (running) {
        zmq_pollitem_t items [4] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { NULL, tap->listener, ZMQ_POLLIN, 0 },
            { NULL, client, ZMQ_POLLIN, 0 },
            { NULL, member, ZMQ_POLLIN, 0 }
        };
        if (zmq_poll (items, client < 0? 2: 4, 1000) <= 0)
            continue;
        if (items [0].revents) {
            char *command = zstr_recv (pipe);       //  $TERM: the only command
            zstr_free (&command);
            running = false;
        }
        else
        if (items [1].revents) {
            if (client >= 0) {
                close (client);
                close (member);
            }
            client = accept (tap->listener, NULL, NULL);
            member = socket (AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in address = { .sin_family = AF_INET,
                                           .sin_port = htons ((uint16_t) tap->target),
                                           .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
            if (connect (member, (struct sockaddr *) &address, sizeof address)) {
                close (client);         //  the client sees a closed connection
                close (member);
                client = member = -1;
            }
        }
        else {
            uint8_t buffer [65536];
            for (int i = 2; i < 4; i++) {
                if (!items [i].revents)
                    continue;
                ssize_t size = read (items [i].fd, buffer, sizeof buffer);
                if (size > 0 && write (i == 2? member: client, buffer, (size_t) size) == size) {
                    if (i == 2)
                        zchunk_extend (tap->sent, buffer, (size_t) size);
                }
                else {                  //  one end closed: so does the other
                    close (client);
                    close (member);
                    client = member = -1;
                    break;
                }
            }
        }
    }
    if (client >= 0) {
        close (client);
        close (member);
    }
}

//  Puts key=value on a member through a tap; what the client sent
static zchunk_t *
s_tapped_put (const char *endpoint, const zkv_curve_t *curve, const char *key,
              const char *value)
{
    s_tap_t tap = { .sent = zchunk_new (NULL, 0) };
    tap.target = atoi (strrchr (endpoint, ':') + 1);
    tap.listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    cr_assert (tap.listener >= 0
            && bind (tap.listener, (struct sockaddr *) &address, sizeof address) == 0
            && listen (tap.listener, 1) == 0
            && getsockname (tap.listener, (struct sockaddr *) &address, &length) == 0);
    tap.port = ntohs (address.sin_port);
    zactor_t *relay = zactor_new (s_tap_actor, &tap);
    char tapped [64];
    snprintf (tapped, sizeof tapped, "tcp://127.0.0.1:%d", tap.port);
    zkv_client_t *client = zkv_client_new (tapped, 5000);
    zkv_client_set_curve (client, curve);
    cr_assert (cf_put (client, key, value), "the put through the tap failed");
    zkv_client_destroy (&client);
    zactor_destroy (&relay);
    close (tap.listener);
    return tap.sent;
}

Test (security, a_value_never_crosses_the_wire_in_clear)
{
    const char *value = "a value nobody may read on the wire";
    //  The tap sees what a client sends a member in clear
    zkv_testnode_t *plain = zkv_testnode_start ("plain", NULL);
    cr_assert_not_null (plain);
    zchunk_t *sent = s_tapped_put (zkv_testnode_endpoint (plain), NULL, "k", value);
    cr_assert_not_null (memmem (zchunk_data (sent), zchunk_size (sent), value, strlen (value)),
                        "the tap saw no plain value");
    zchunk_destroy (&sent);
    zkv_testnode_destroy (&plain);
    //  and nothing of it from a secure member's client
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_curve_t *curve = s_curve ("client");
    sent = s_tapped_put (zkv_harness_endpoint (cf_cluster, leader), curve, "k", value);
    cr_assert_gt (zchunk_size (sent), strlen (value));
    cr_assert_null (memmem (zchunk_data (sent), zchunk_size (sent), value, strlen (value)),
                    "the value crossed the wire in clear");
    zchunk_destroy (&sent);
    zkv_curve_destroy (&curve);
}

Test (security, the_member_flags_come_whole)
{
    char dir [] = "/tmp/zkv-test-flags-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char cert [128];
    snprintf (cert, sizeof cert, "%s/member.cert", dir);
    zcert_t *member = zcert_new ();
    cr_assert_eq (zcert_save (member, cert), 0);
    zcert_destroy (&member);
    const char *alone [] = { ZKV_NODE_BIN, "--engine", "memory", "--cert", cert, NULL };
    zkv_run_t run = zkv_run (NULL, alone);
    cr_assert_eq (run.code, 2);
    cr_assert_str_eq (run.err, "zkv-node: --cert needs --client-certs-dir, --peer-certs-dir "
                               "and --admin-certs-dir (missing: --client-certs-dir, "
                               "--peer-certs-dir, --admin-certs-dir) (see --help)\n");
    zkv_run_free (&run);
    const char *no_cert [] = { ZKV_NODE_BIN, "--engine", "memory", "--admin-certs-dir", dir,
                               NULL };
    run = zkv_run (NULL, no_cert);
    cr_assert_eq (run.code, 2);
    cr_assert_str_eq (run.err, "zkv-node: --client-certs-dir and --admin-certs-dir need --cert "
                               "(this member's certificate) (see --help)\n");
    zkv_run_free (&run);
    const char *no_peer_cert [] = { ZKV_NODE_BIN, "--engine", "memory", "--peer-certs-dir", dir,
                                    NULL };
    run = zkv_run (NULL, no_peer_cert);
    cr_assert_eq (run.code, 2);
    cr_assert_str_eq (run.err, "zkv-node: --peer-certs-dir needs --cert or --peer-cert (the "
                               "cluster's peer certificate) (see --help)\n");
    zkv_run_free (&run);
    //  --peer-cert is CURVE on the peer socket alone: not with --cert, nor
    //  with the clients' and admins' directories
    const char *both [] = { ZKV_NODE_BIN, "--engine", "memory", "--cert", cert,
                            "--client-certs-dir", dir, "--peer-certs-dir", dir,
                            "--admin-certs-dir", dir, "--peer-cert", cert, NULL };
    run = zkv_run (NULL, both);
    cr_assert_eq (run.code, 2);
    cr_assert_str_eq (run.err, "zkv-node: --peer-cert is for a member without --cert (with "
                               "--cert the peer socket talks CURVE with that certificate) "
                               "(see --help)\n");
    zkv_run_free (&run);
    const char *clients [] = { ZKV_NODE_BIN, "--engine", "memory", "--peer-cert", cert,
                               "--client-certs-dir", dir, NULL };
    run = zkv_run (NULL, clients);
    cr_assert_eq (run.code, 2);
    zkv_run_free (&run);
    //  Its own key must be a peer's: the members share one certificate
    const char *not_a_peer [] = { ZKV_NODE_BIN, "--engine", "memory", "--cert", cert,
                                  "--client-certs-dir", dir, "--peer-certs-dir", "/",
                                  "--admin-certs-dir", dir, NULL };
    char empty [160];
    snprintf (empty, sizeof empty, "%s/empty", dir);
    cr_assert_eq (mkdir (empty, 0700), 0);
    not_a_peer [8] = empty;
    run = zkv_run (NULL, not_a_peer);
    cr_assert_eq (run.code, 1);
    cr_assert (strstr (run.err, "does not hold this member's public certificate"), "%s",
               run.err);
    zkv_run_free (&run);
    const char *peer_not_a_peer [] = { ZKV_NODE_BIN, "--engine", "memory", "--peer-cert", cert,
                                       "--peer-certs-dir", empty, NULL };
    run = zkv_run (NULL, peer_not_a_peer);
    cr_assert_eq (run.code, 1);
    cr_assert (strstr (run.err, "does not hold this member's public certificate (--peer-cert"),
               "%s", run.err);
    zkv_run_free (&run);
    //  A peer certificate without its secret key is no key pair
    char public_only [160];
    snprintf (public_only, sizeof public_only, "%s/public.cert", dir);
    zcert_t *public_cert = zcert_new ();
    cr_assert_eq (zcert_save_public (public_cert, public_only), 0);
    zcert_destroy (&public_cert);
    const char *no_secret [] = { ZKV_NODE_BIN, "--engine", "memory", "--peer-cert",
                                 public_only, NULL };
    run = zkv_run (NULL, no_secret);
    cr_assert_eq (run.code, 1);
    cr_assert (strstr (run.err, "--peer-cert: certificate") && strstr (run.err, "no secret key"),
               "%s", run.err);
    zkv_run_free (&run);
    char command [256];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}
