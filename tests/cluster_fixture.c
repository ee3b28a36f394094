/*  cluster_fixture.c — a real 3-member cluster under test (see
    cluster_fixture.h). */
#include <criterion/criterion.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"

zkv_harness_t *cf_cluster;
char cf_dir [128];
const char *cf_node = ZKV_NODE_BIN;

void
cf_teardown (void)
{
    zkv_harness_destroy (&cf_cluster);
    //  ZKV_KEEP_CLUSTER=1 keeps the members' data and logs, to look into
    if (cf_dir [0] && getenv ("ZKV_KEEP_CLUSTER"))
        fprintf (stderr, "kept %s\n", cf_dir);
    else
    if (cf_dir [0]) {
        char command [256];
        snprintf (command, sizeof command, "rm -rf '%s'", cf_dir);
        if (system (command) != 0)
            fprintf (stderr, "could not remove %s\n", cf_dir);
    }
}

//  How the members authenticate each other
typedef enum { S_PEER_CERT, S_SECURE, S_INSECURE_PEERS } s_security_t;

//  Makes a cluster of members with fast timeouts (and more flags), secure
//  or not, without starting it
static void
s_prepare (size_t members, const char *const *more, s_security_t security)
{
    snprintf (cf_dir, sizeof cf_dir, "/tmp/zkv-test-cluster-XXXXXX");
    cr_assert_not_null (mkdtemp (cf_dir));
    const char *flags [16] = { "--heartbeat-interval", "50", "--election-timeout", "500" };
    size_t count = 4;
    for (size_t i = 0; more && more [i] && count < 15; i++)
        flags [count++] = more [i];
    zkv_harness_config_t config = {
        .members = members, .dir = cf_dir, .node = cf_node, .flags = flags,
        .attached = true, .secure = security == S_SECURE,
        .insecure_peers = security == S_INSECURE_PEERS
    };
    char error [4096];
    cf_cluster = zkv_harness_new (&config, error, sizeof error);
    cr_assert_not_null (cf_cluster, "%s", error);
}

void
cf_prepare (size_t members, const char *const *more)
{
    s_prepare (members, more, S_PEER_CERT);
}

//  Starts a 3-member cluster
static void
s_up (const char *const *more, s_security_t security)
{
    s_prepare (3, more, security);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
}

void
cf_up (const char *const *more)
{
    s_up (more, S_PEER_CERT);
}

void
cf_up_secure (const char *const *more)
{
    s_up (more, S_SECURE);
}

void
cf_up_insecure_peers (const char *const *more)
{
    s_up (more, S_INSECURE_PEERS);
}

void
cf_leader (char *leader, size_t size)
{
    cr_assert_eq (zkv_harness_wait_leader (cf_cluster, 20000, leader, size), 0, "no leader");
}

zkv_bin_t
cf_bin (const char *text)
{
    return zkv_bin (text, strlen (text));
}

bool
cf_text_is (zkv_bin_t bin, const char *text)
{
    return bin.size == strlen (text) && memcmp (bin.data, text, bin.size) == 0;
}

uint64_t
cf_member_id (const char *name)
{
    return strtoull (zkv_harness_id (cf_cluster, name), NULL, 16);
}

zkv_msg_t *
cf_call (const char *name, const zkv_desc_t *desc, const void *request)
{
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                 name), 5000);
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, desc, request, &status);
    zkv_client_destroy (&client);
    return reply;
}

zsock_t *
cf_subscribe (void)
{
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_member_list_t request = { .linearizable = false };
    zkv_msg_t *reply = cf_call (leader, &zkv_member_list_desc, &request);
    cr_assert (reply && !zkv_reply_error (reply));
    const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zkv_curve_apply (zkv_harness_curve (cf_cluster), sub);
    zsock_set_subscribe (sub, "");
    for (size_t i = 0; i < list->members.count; i++) {
        zkv_bin_t events = list->members.items [i].events_endpoint;
        cr_assert_gt (events.size, 0, "member %zu published no events endpoint", i);
        zsock_connect (sub, "%.*s", (int) events.size, (const char *) events.data);
    }
    zkv_msg_destroy (&reply);
    return sub;
}

void *
cf_event (zsock_t *sub, const char *topic, const zkv_desc_t *desc, msgpack_zone *zone,
          int msecs)
{
    zpoller_t *poller = zpoller_new (sub, NULL);
    int64_t deadline = zclock_mono () + msecs;
    void *event = NULL;
    while (!event && zclock_mono () < deadline) {
        if (!zpoller_wait (poller, 100))
            continue;
        zmsg_t *msg = zmsg_recv (sub);
        char *name = zmsg_popstr (msg);
        zframe_t *body = zmsg_pop (msg);
        if (name && body && streq (name, topic)) {
            //  The decoded text points into the bytes: keep them in the zone
            void *bytes = msgpack_zone_malloc (zone, zframe_size (body) + 1);
            memcpy (bytes, zframe_data (body), zframe_size (body));
            zkv_limits_t limits = zkv_limits_trusted ();
            zkv_result_t status;
            event = zkv_msg_decode_body (bytes, zframe_size (body), desc, zone, &limits,
                                         &status);
        }
        zstr_free (&name);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return event;
}

//  Puts key=value through client; true if acknowledged
bool
cf_put (zkv_client_t *client, const char *key, const char *value)
{
    zkv_put_t put = { .key = cf_bin (key), .value = cf_bin (value) };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
    bool ok = reply && !zkv_reply_error (reply);
    zkv_msg_destroy (&reply);
    return ok;
}

bool
cf_put_answers (void *putting)
{
    cf_putting_t *self = (cf_putting_t *) putting;
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (self->client, &zkv_put_desc, &self->put, &status);
    self->error [0] = 0;
    if (!reply)
        zkv_status_text (&status, self->error, sizeof self->error);
    else
    if (zkv_reply_error (reply))
        zkv_bin_str (zkv_reply_error (reply)->message, self->error, sizeof self->error);
    zkv_msg_destroy (&reply);
    return streq (self->error, self->wanted);
}

//  Every key and value one member holds (serializable: its own state),
//  as "key=value\n" lines; NULL if it did not answer
char *
cf_dump (const char *name)
{
    zkv_client_t *client = zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster,
                                                                                 name), 5000);
    zkv_range_t all = { .key = zkv_bin ("", 1), .range_end = zkv_bin ("", 1),
                        .serializable = true };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &all, &status);
    zkv_client_destroy (&client);
    if (!reply || zkv_reply_error (reply)) {
        zkv_msg_destroy (&reply);
        return NULL;
    }
    zkv_range_response_t *response = reply->body;
    size_t size = 1;
    for (size_t i = 0; i < response->kvs.count; i++)
        size += response->kvs.items [i].key.size + response->kvs.items [i].value.size + 2;
    char *text = calloc (1, size);
    for (size_t i = 0; i < response->kvs.count; i++) {
        strncat (text, (const char *) response->kvs.items [i].key.data,
                 response->kvs.items [i].key.size);
        strcat (text, "=");
        strncat (text, (const char *) response->kvs.items [i].value.data,
                 response->kvs.items [i].value.size);
        strcat (text, "\n");
    }
    zkv_msg_destroy (&reply);
    return text;
}

//  True if every running member holds the same data (into *data_p)
static bool
s_converged (void *data_p)
{
    char *first = NULL;
    bool same = true;
    for (size_t i = 0; i < zkv_harness_size (cf_cluster) && same; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (!zkv_harness_running (cf_cluster, name))
            continue;
        char *dump = cf_dump (name);
        if (!dump || (first && strcmp (first, dump) != 0))
            same = false;
        if (!first)
            first = dump;
        else
            free (dump);
    }
    if (same && first) {
        *(char **) data_p = first;
        return true;
    }
    free (first);
    return false;
}

//  Waits until every running member holds the same data; returns it
char *
cf_converged (void)
{
    char *data = NULL;
    cr_assert (eventually (s_converged, &data, 20000), "the members did not converge");
    return data;
}

//  Polls a member's Status until it names a leader and has applied all it
//  knows committed; true if it did within 10 s (*seen: the last answer)
typedef struct {
    zkv_client_t *client;
    zkv_status_response_t *seen;
} s_settling_t;

static bool
s_settled (void *args)
{
    s_settling_t *self = (s_settling_t *) args;
    zkv_status_t request = { 0 };
    zkv_result_t result;
    zkv_msg_t *reply = zkv_client_call (self->client, &zkv_status_desc, &request, &result);
    bool settled = false;
    if (reply && !zkv_reply_error (reply)) {
        zkv_status_response_t *status = (zkv_status_response_t *) reply->body;
        self->seen->raft_index = status->raft_index;
        self->seen->raft_applied_index = status->raft_applied_index;
        self->seen->leader = status->leader;
        settled = status->leader && status->raft_index == status->raft_applied_index;
    }
    zkv_msg_destroy (&reply);
    return settled;
}

bool
cf_status_settles (const char *name, zkv_status_response_t *seen)
{
    s_settling_t settling = {
        zkv_harness_client (cf_cluster, zkv_harness_endpoint (cf_cluster, name), 2000), seen
    };
    bool settled = eventually (s_settled, &settling, 10000);
    zkv_client_destroy (&settling.client);
    return settled;
}

uint64_t
cf_applied (const char *name)
{
    zkv_status_t request = { 0 };
    zkv_msg_t *reply = cf_call (name, &zkv_status_desc, &request);
    uint64_t applied = reply && !zkv_reply_error (reply)
                     ? ((zkv_status_response_t *) reply->body)->raft_applied_index: 0;
    zkv_msg_destroy (&reply);
    return applied;
}

typedef struct {
    const char *name;
    uint64_t index;
    bool caught_up;
} s_catching_up_t;

//  True once the member has applied the index, or has stopped
static bool
s_caught_up_or_stopped (void *args)
{
    s_catching_up_t *self = (s_catching_up_t *) args;
    self->caught_up = cf_applied (self->name) >= self->index;
    return self->caught_up || !zkv_harness_running (cf_cluster, self->name);
}

bool
cf_caught_up (const char *name, uint64_t index)
{
    s_catching_up_t catching_up = { name, index, false };
    return eventually (s_caught_up_or_stopped, &catching_up, 20000) && catching_up.caught_up;
}

bool
cf_ended (void *name)
{
    return !zkv_harness_running (cf_cluster, (const char *) name);
}

//  Puts k000=value, k001=value, ... through client
void
cf_put_keys (zkv_client_t *client, int count)
{
    for (int i = 0; i < count; i++) {
        char key [32];
        snprintf (key, sizeof key, "k%03d", i);
        cr_assert (cf_put (client, key, "value"));
    }
}


bool
cf_log_says (const char *name, const char *text)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s.log", cf_dir, name);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    char line [512];
    bool found = false;
    while (fgets (line, sizeof line, file))
        found |= strstr (line, text) != NULL;
    fclose (file);
    return found;
}

zkv_run_t
cf_zkvctl (const char *endpoints, const char *const *args)
{
    return cf_zkvctl_env (endpoints, NULL, args);
}

zkv_run_t
cf_zkvctl_env (const char *endpoints, const char *env, const char *const *args)
{
    const char *argv [34];
    size_t count = 0;
    if (env) {
        argv [count++] = "/usr/bin/env";
        argv [count++] = env;
    }
    argv [count++] = ZKVCTL_BIN;
    if (endpoints) {
        argv [count++] = "--endpoints";
        argv [count++] = endpoints;
    }
    for (size_t i = 0; args [i] && count < 33; i++)
        argv [count++] = args [i];
    argv [count] = NULL;
    return zkv_run (NULL, argv);
}

//  How a socket of type (DEALER for a ROUTER, SUB for a PUB) with
//  credentials (NULL: plain) fares connecting to endpoint: true if its
//  handshake succeeded, false if it failed (as its monitor reports)
bool
cf_handshake (const char *endpoint, int type, const zkv_curve_t *curve)
{
    zsock_t *dealer = zsock_new (type);
    zkv_curve_apply (curve, dealer);
    zactor_t *monitor = zactor_new (zmonitor, dealer);
    zstr_sendx (monitor, "LISTEN", "HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_AUTH",
                "HANDSHAKE_FAILED_PROTOCOL", "HANDSHAKE_FAILED_NO_DETAIL", NULL);
    zstr_sendx (monitor, "START", NULL);
    zsock_wait (monitor);
    cr_assert_eq (zsock_connect (dealer, "%s", endpoint), 0);
    //  A refusal reads HANDSHAKE_FAILED_AUTH (400, "No access") when the
    //  client takes the server's ERROR before the connection closes, and
    //  a mechanism mismatch HANDSHAKE_FAILED_PROTOCOL when it reads the
    //  greeting first: either side may close first, so any failure counts
    zsock_set_rcvtimeo (monitor, 10000);
    zmsg_t *event = zmsg_recv (monitor);
    cr_assert_not_null (event, "no handshake with %s", endpoint);
    char *name = zmsg_popstr (event);
    bool succeeded = streq (name, "HANDSHAKE_SUCCEEDED");
    cr_assert (succeeded || strncmp (name, "HANDSHAKE_FAILED", 16) == 0, "%s", name);
    zstr_free (&name);
    zmsg_destroy (&event);
    zactor_destroy (&monitor);
    zsock_destroy (&dealer);
    return succeeded;
}

bool
cf_alarm_listed (const char *asked, const char *member, const char *alarm)
{
    char text [96];
    snprintf (text, sizeof text, "memberID:%llu alarm:%s ",
              (unsigned long long) cf_member_id (member), alarm);
    zkv_status_t request = { false };
    zkv_msg_t *reply = cf_call (asked, &zkv_status_desc, &request);
    bool listed = false;
    if (reply && !zkv_reply_error (reply)) {
        const zkv_status_response_t *status = (const zkv_status_response_t *) reply->body;
        for (size_t i = 0; i < status->errors.count; i++)
            listed |= cf_text_is (status->errors.items [i].message, text);
    }
    zkv_msg_destroy (&reply);
    return listed;
}

bool
cf_alarm_listed_everywhere (const char *member, const char *alarm)
{
    for (size_t m = 0; m < zkv_harness_size (cf_cluster); m++)
        if (!cf_alarm_listed (zkv_harness_name (cf_cluster, m), member, alarm))
            return false;
    return true;
}

typedef struct {
    const char *asked;
    const char *member;
    const char *alarm;
} s_alarm_asked_t;

static bool
s_alarm_listed (void *args)
{
    s_alarm_asked_t *self = (s_alarm_asked_t *) args;
    char leader [32];
    if (!self->asked)
        cf_leader (leader, sizeof leader);
    return cf_alarm_listed (self->asked? self->asked: leader, self->member, self->alarm);
}

bool
cf_alarm_listed_within (const char *asked, const char *member, const char *alarm, int msecs)
{
    s_alarm_asked_t asking = { asked, member, alarm };
    return eventually (s_alarm_listed, &asking, msecs);
}
