/*  test_peer_auth.c — a forged peer frame (issue 14, item 3) on real
    3-member clusters. Anyone who reads a reply header and the member list
    knows the cluster id, the members' ids and their peer endpoints: with
    them, one frame sent to a follower's peer port, claiming to be the
    leader at a higher term, carries an append with a put nobody proposed
    and a commit index covering it.

    By default (a cluster made by the harness, as zkv-cluster up makes
    one: the members share a peer certificate) the peer port speaks CURVE:
    the frame never gets through, nothing is applied anywhere, and a key
    that is not the cluster's is refused at the handshake. With peer
    authentication turned off on purpose the follower applies the put, and
    the leader's periodic corruption check raises CORRUPT for that member,
    whether the member goes on applying what the others commit (a history
    with one entry of its own) or can never apply again (stuck behind the
    others, at a revision of its own). */
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster_fixture.h"
#include "zkv_alarm_table.h"

TestSuite (peer_auth, .fini = cf_teardown, .timeout = 120);

#define FORGED_KEY "forged"
#define FORGED_VALUE "a put nobody proposed"

//  What one reply told the forger: the cluster id, and the follower's peer
//  endpoint (the member list)
typedef struct {
    uint64_t cluster_id;
    char peer [128];
} s_learnt_t;

static s_learnt_t
s_learn (const char *asked, const char *follower)
{
    s_learnt_t learnt = { 0 };
    zkv_member_list_t list = { false };
    zkv_msg_t *reply = cf_call (asked, &zkv_member_list_desc, &list);
    cr_assert (reply && !zkv_reply_error (reply));
    const zkv_member_list_response_t *members = (const zkv_member_list_response_t *) reply->body;
    learnt.cluster_id = members->header->cluster_id;
    for (size_t i = 0; i < members->members.count; i++)
        if (members->members.items [i].member_id == cf_member_id (follower))
            snprintf (learnt.peer, sizeof learnt.peer, "%.*s",
                      (int) members->members.items [i].peer_endpoint.size,
                      (const char *) members->members.items [i].peer_endpoint.data);
    zkv_msg_destroy (&reply);
    cr_assert (learnt.cluster_id && *learnt.peer);
    return learnt;
}

//  The frame: an append from the leader at a higher term than anyone's,
//  after the follower's last entry (index, term), holding one put at the
//  next index and a commit index covering it. The entry keeps the term of
//  the entry before it (a leader's entries never go back in term): the
//  follower's log then ends no higher than the others' once they write,
//  so it can never win an election and spread the put
static uint8_t *
s_forge (const s_learnt_t *learnt, const char *leader, const char *follower, uint64_t index,
         uint64_t term, size_t *size)
{
    zkv_put_t put = { .key = cf_bin (FORGED_KEY), .value = cf_bin (FORGED_VALUE) };
    zkv_internal_request_t request = { .put = &put };
    size_t request_size;
    uint8_t *data = zkv_msg_encode_body (&zkv_internal_request_desc, &request, &request_size);
    cr_assert_not_null (data);
    zkv_entry_t entry = {
        .index = index + 1, .term = term, .data = zkv_bin (data, request_size)
    };
    zkv_raft_message_t append = {
        .type = 1, //  ZKV_RC_MSG_APP
        .to = cf_member_id (follower), .from = cf_member_id (leader), .term = term + 100,
        .log_term = term, .index = index, .entries = { &entry, 1 }, .commit = index + 1
    };
    zkv_peer_frame_t frame = {
        .cluster_id = learnt->cluster_id, .from = cf_member_id (leader),
        .to = cf_member_id (follower), .messages = { &append, 1 }
    };
    uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, &frame, size);
    cr_assert_not_null (bytes);
    free (data);
    return bytes;
}

//  Cuts what the follower sends the others (not what it hears), so that
//  the others go on without hearing of its new term, then sends it the
//  forged frame from a plain DEALER; true if the frame left (a
//  connection was made within 2 s)
static bool
s_send_forged (const char *leader, const char *follower)
{
    char error [4096], groups [64];
    snprintf (groups, sizeof groups, "%s|", follower);
    for (size_t i = 0; i < zkv_harness_size (cf_cluster); i++)
        if (!streq (zkv_harness_name (cf_cluster, i), follower)) {
            strcat (groups, zkv_harness_name (cf_cluster, i));
            strcat (groups, ",");
        }
    cr_assert_eq (zkv_harness_partition (cf_cluster, groups, true, error, sizeof error), 0,
                  "%s", error);
    s_learnt_t learnt = s_learn (leader, follower);
    //  Its last entry: every member has applied all it knows committed
    zkv_status_response_t settled = { 0 };
    cr_assert (cf_status_settles (follower, &settled));
    zkv_status_t ask = { false };
    zkv_msg_t *reply = cf_call (follower, &zkv_status_desc, &ask);
    cr_assert (reply && !zkv_reply_error (reply));
    const zkv_status_response_t *status = (const zkv_status_response_t *) reply->body;
    uint64_t index = status->raft_applied_index, term = status->raft_term;
    zkv_msg_destroy (&reply);
    size_t size;
    uint8_t *bytes = s_forge (&learnt, leader, follower, index, term, &size);
    zsock_t *forger = zsock_new (ZMQ_DEALER);
    zsock_set_immediate (forger, 1);
    zsock_set_sndtimeo (forger, 2000);
    zsock_set_linger (forger, 2000);        //  what left is delivered
    cr_assert_eq (zsock_connect (forger, "%s", learnt.peer), 0);
    bool sent = zmq_send (zsock_resolve (forger), bytes, size, 0) == (int) size;
    zsock_destroy (&forger);
    free (bytes);
    return sent;
}

//  The value of the forged key on a member (its own state), or NULL
static char *
s_forged_on (const char *name)
{
    zkv_range_t get = { .key = cf_bin (FORGED_KEY), .serializable = true };
    zkv_msg_t *reply = cf_call (name, &zkv_range_desc, &get);
    cr_assert (reply && !zkv_reply_error (reply), "%s did not answer", name);
    const zkv_range_response_t *range = (const zkv_range_response_t *) reply->body;
    char *value = range->kvs.count
                ? zsys_sprintf ("%.*s", (int) range->kvs.items [0].value.size,
                                (const char *) range->kvs.items [0].value.data)
                : NULL;
    zkv_msg_destroy (&reply);
    return value;
}

//  True once the forged key is on member name
static bool
s_forged_there (void *name)
{
    char *value = s_forged_on ((const char *) name);
    free (value);
    return value != NULL;
}

//  Waits up to msecs for the forged key on a member; true once there
static bool
s_forged_applied (const char *name, int msecs)
{
    return eventually (s_forged_there, (void *) name, msecs);
}

//  A member's HashKV (0: at its revision); *revision: the revision hashed
static uint64_t
s_hash_kv (const char *name, int64_t at, int64_t *revision)
{
    zkv_hash_kv_t request = { .revision = at };
    zkv_msg_t *reply = cf_call (name, &zkv_hash_kv_desc, &request);
    cr_assert (reply && !zkv_reply_error (reply), "%s: no HashKV", name);
    const zkv_hash_kv_response_t *response = (const zkv_hash_kv_response_t *) reply->body;
    uint64_t hash = response->hash;
    if (revision)
        *revision = response->hash_revision;
    zkv_msg_destroy (&reply);
    return hash;
}

//  The three members: the leader, a follower to forge for, the other one
static void
s_roles (char *leader, size_t size, const char **follower, const char **other)
{
    cf_leader (leader, size);
    *follower = *other = NULL;
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (streq (name, leader))
            continue;
        if (!*follower)
            *follower = name;
        else
            *other = name;
    }
}

Test (peer_auth, a_forged_peer_frame_is_refused_by_default)
{
    cf_up (NULL);                       //  as zkv-cluster up makes a cluster
    char leader [32];
    const char *follower, *other;
    s_roles (leader, sizeof leader, &follower, &other);
    cr_assert_not_null (zkv_harness_peer_cert (cf_cluster));
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                  leader), 5000);
    cf_put_keys (client, 10);
    free (cf_converged ());

    cr_assert_not (s_send_forged (leader, follower),
                   "a plain DEALER got a connection to the peer socket");
    char error [4096];
    cr_assert_eq (zkv_harness_heal (cf_cluster, error, sizeof error), 0, "%s", error);
    //  Nothing applied: the follower goes on with the others, the key is
    //  nowhere, and the follower's HashKV is the others'
    cr_assert (cf_put (client, "after", "the forgery"));
    zkv_client_destroy (&client);
    free (cf_converged ());
    int64_t revision;
    uint64_t hash = s_hash_kv (leader, 0, &revision);
    cr_assert_eq (s_hash_kv (follower, revision, NULL), hash);
    cr_assert_eq (s_hash_kv (other, revision, NULL), hash);
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        char *value = s_forged_on (name);
        cr_assert_null (value, "%s applied the forged put", name);
        cr_assert_not (cf_log_says (name, "AUTHENTICATES NOBODY"), "%s warned", name);
    }
}

Test (peer_auth, a_key_that_is_not_the_clusters_cannot_talk_on_the_peer_socket)
{
    cf_up (NULL);
    char leader [32];
    const char *follower, *other;
    s_roles (leader, sizeof leader, &follower, &other);
    s_learnt_t learnt = s_learn (leader, follower);
    //  A CURVE client that knows the peer socket's public key, with a key
    //  of its own: the ZAP handler refuses it (without one, libzmq would
    //  let any key in); the cluster's own key passes
    char error [512], stranger_path [256];
    snprintf (stranger_path, sizeof stranger_path, "%s/stranger.cert", cf_dir);
    zcert_t *key = zcert_new ();
    cr_assert_eq (zcert_save (key, stranger_path), 0);
    zcert_destroy (&key);
    const char *peer_cert = zkv_harness_peer_cert (cf_cluster);
    zkv_curve_t *stranger = zkv_curve_new (stranger_path, peer_cert, error, sizeof error);
    cr_assert_not_null (stranger, "%s", error);
    zkv_curve_t *cluster = zkv_curve_new (peer_cert, peer_cert, error, sizeof error);
    cr_assert_not_null (cluster, "%s", error);
    cr_assert_not (cf_handshake (learnt.peer, ZMQ_DEALER, stranger));
    cr_assert_not (cf_handshake (learnt.peer, ZMQ_DEALER, NULL));
    cr_assert (cf_handshake (learnt.peer, ZMQ_DEALER, cluster));
    char refused [160];
    snprintf (refused, sizeof refused, "zap: refused CURVE key %s from 127.0.0.1 on domain peer",
              zkv_curve_public (stranger));
    cr_assert (cf_log_says (follower, refused));
    //  Clients stay plain
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, follower), 5000);
    cr_assert (cf_put (client, "plain", "client"));
    cr_assert_eq (zsock_mechanism (zkv_client_socket (client)), ZMQ_NULL);
    zkv_client_destroy (&client);
    zkv_curve_destroy (&stranger);
    zkv_curve_destroy (&cluster);
}

//  With peer authentication off: the forged put is applied by the
//  follower alone; stuck says whether the others then move leadership
//  (a new term: the follower can never match their log again, and stops
//  applying) or not (its forged entry has the term of the others' entry
//  at that index: their leader takes it for the same, and the follower
//  applies everything else after it)
static void
s_diverge (bool stuck)
{
    const char *flags [] = { "--corrupt-check-time", "300", NULL };
    cf_up_insecure_peers (flags);
    char leader [32];
    const char *follower, *other;
    s_roles (leader, sizeof leader, &follower, &other);
    //  Each member said so at start
    for (size_t i = 0; i < 3; i++)
        cr_assert (cf_log_says (zkv_harness_name (cf_cluster, i), "AUTHENTICATES NOBODY"));
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                  leader), 5000);
    cf_put_keys (client, 10);
    free (cf_converged ());

    cr_assert (s_send_forged (leader, follower), "the frame did not leave");
    cr_assert (s_forged_applied (follower, 10000), "%s did not apply the forged put", follower);
    const char *writer = leader;
    if (stuck) {
        zkv_move_leader_t move = { .target_id = cf_member_id (other) };
        zkv_msg_t *reply = cf_call (leader, &zkv_move_leader_desc, &move);
        cr_assert (reply && !zkv_reply_error (reply), "no move to %s", other);
        zkv_msg_destroy (&reply);
        writer = other;
    }
    //  The others write on, past the follower's last index
    zkv_client_destroy (&client);
    client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster, writer), 5000);
    for (int i = 0; i < 3; i++) {
        char key [32];
        snprintf (key, sizeof key, "real-%d", i);
        cr_assert (cf_put (client, key, "proposed"));
    }
    zkv_client_destroy (&client);
    char error [4096];
    cr_assert_eq (zkv_harness_heal (cf_cluster, error, sizeof error), 0, "%s", error);

    //  The check finds it: CORRUPT for the follower, and for nobody else
    cr_assert (cf_alarm_listed_within (writer, follower, "CORRUPT", 20000), "no CORRUPT for %s", follower);
    cr_assert_not (cf_alarm_listed (writer, leader, "CORRUPT"));
    cr_assert_not (cf_alarm_listed (writer, other, "CORRUPT"));
    //  Applied by the follower only
    char *value = s_forged_on (follower);
    cr_assert_str_eq (value, FORGED_VALUE);
    free (value);
    cr_assert_null (s_forged_on (leader));
    cr_assert_null (s_forged_on (other));
}

Test (peer_auth, with_peer_auth_off_a_forged_frame_diverges_a_follower_that_goes_on_applying)
{
    s_diverge (false);
}

Test (peer_auth, with_peer_auth_off_a_forged_frame_diverges_a_follower_that_stops_applying)
{
    s_diverge (true);
}
