/*  test_zkvctl_member.c — zkvctl's membership commands against a fake
    cluster: one or two fake members (ROUTER sockets in one actor) that
    answer Status, the member list and the changes from a member table of
    their own, as the leader or as a follower that refuses changes. Exact
    stdout, stderr and exit codes, and the requests that reached which
    member. (test_membership_cli.c runs the same commands against real
    members.) */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_client.h"
#include "zkv_testnode.h"

TestSuite (zkvctl_member, .timeout = 60);

#define S_CLUSTER_ID    0x71542586ef100417ULL
#define S_FIRST_NEW_ID  0x0badc0ffee123456ULL   //  %16x pads it with a space
#define S_MAX_MEMBERS   8

//  ---------------------------------------------------------------------
//  The fake cluster

typedef struct {
    uint64_t id;
    char name [48];
    char peer [64];
    char client [64];
    bool learner;
} s_member_t;

typedef struct {
    //  Set before the actor starts
    int fakes;                          //  members that answer (1 or 2)
    int leader;                         //  the one that leads (the other refuses changes)
    int stale;                          //  the first stale Status answers name fake 0
                                        //  as the leader
    int not_ready;                      //  promotes refused as not in sync before one
                                        //  passes (-1: every one)
    //  The actor's from then on
    s_member_t members [S_MAX_MEMBERS];
    size_t count;
    uint64_t next_id;
    char log [4096];                    //  the changes that came, one a line
} s_fake_t;

static void
s_log (s_fake_t *fake, const char *format, ...)
{
    size_t length = strlen (fake->log);
    va_list args;
    va_start (args, format);
    vsnprintf (fake->log + length, sizeof fake->log - length, format, args);
    va_end (args);
}

static s_member_t *
s_find (s_fake_t *fake, uint64_t id)
{
    for (size_t i = 0; i < fake->count; i++)
        if (fake->members [i].id == id)
            return &fake->members [i];
    return NULL;
}

static void
s_insert (s_fake_t *fake, const s_member_t *member)
{
    size_t at = 0;
    while (at < fake->count && fake->members [at].id < member->id)
        at++;
    memmove (&fake->members [at + 1], &fake->members [at],
             (fake->count - at) * sizeof (s_member_t));
    fake->members [at] = *member;
    fake->count++;
}

static void
s_erase (s_fake_t *fake, s_member_t *member)
{
    size_t at = (size_t) (member - fake->members);
    memmove (member, member + 1, (fake->count - at - 1) * sizeof (s_member_t));
    fake->count--;
}

static zkv_bin_t
s_text (const char *text)
{
    return zkv_bin (text, strlen (text));
}

//  The member table as cluster_member records (into room)
static zkv_cluster_member_list_t
s_table (s_fake_t *fake, zkv_cluster_member_t *room)
{
    for (size_t i = 0; i < fake->count; i++) {
        s_member_t *member = &fake->members [i];
        zkv_cluster_member_t record = {
            .member_id = member->id, .name = s_text (member->name),
            .peer_endpoint = s_text (member->peer), .client_endpoint = s_text (member->client),
            .is_learner = member->learner
        };
        room [i] = record;
    }
    zkv_cluster_member_list_t list = { room, fake->count };
    return list;
}

static void
s_refuse (zsock_t *router, zframe_t **identity, const zkv_msg_t *request,
          zkv_header_t *header, const char *code, const char *message)
{
    zkv_error_t error = { s_text (code), s_text (message) };
    zkv_error_response_t body = { header, &error };
    size_t size;
    uint8_t *bytes = zkv_msg_encode_body (&zkv_error_response_desc, &body, &size);
    zkv_fake_send (router, *identity, request, bytes, size);
}

static void
s_refuse_with (zsock_t *router, zframe_t **identity, const zkv_msg_t *request,
               zkv_header_t *header, zkv_err_t err)
{
    s_refuse (router, identity, request, header, zkv_err_code (err), zkv_err_message (err));
}

//  Serves one request that fake member `self` got
static void
s_serve (s_fake_t *fake, int self, zsock_t *router, zframe_t **identity, zkv_msg_t *request)
{
    zkv_header_t header = { S_CLUSTER_ID, fake->members [0].id, 0, 7 };
    header.member_id = self == 0? 0x5712a4179abd4a9aULL: 0x8e9e05c52164694dULL;
    zkv_cluster_member_t room [S_MAX_MEMBERS];
    const zkv_desc_t *desc = request->desc;
    uint64_t leader = fake->leader == 0? 0x5712a4179abd4a9aULL: 0x8e9e05c52164694dULL;
    if (desc == &zkv_status_desc) {
        zkv_status_response_t response = { .header = &header, .leader = leader };
        if (fake->stale > 0) {
            fake->stale--;
            response.leader = 0x5712a4179abd4a9aULL;
        }
        zkv_fake_answer (router, *identity, request, &response);
        return;
    }
    if (desc == &zkv_member_list_desc) {
        zkv_member_list_response_t response = { &header, s_table (fake, room) };
        zkv_fake_answer (router, *identity, request, &response);
        return;
    }
    if (header.member_id != leader) {
        s_log (fake, "%d %s refused\n", self, desc->name);
        s_refuse (router, identity, request, &header, "Unavailable",
                  "etcdserver: not leader");
        return;
    }
    if (desc == &zkv_member_add_desc) {
        const zkv_member_add_t *add = (const zkv_member_add_t *) request->body;
        s_log (fake, "%d member_add %.*s%s%s\n", self, (int) add->peer_endpoint.size,
               (const char *) add->peer_endpoint.data, add->is_learner? " learner": "",
               add->auto_promote? " auto": "");
        for (size_t i = 0; i < fake->count; i++)
            if (zkv_bin_eq (add->peer_endpoint, fake->members [i].peer)) {
                s_refuse_with (router, identity, request, &header, ZKV_ERR_PEER_EXISTS);
                return;
            }
        s_member_t member = { .id = fake->next_id++, .learner = add->is_learner };
        zkv_bin_str (add->peer_endpoint, member.peer, sizeof member.peer);
        s_insert (fake, &member);
        zkv_cluster_member_t added = {
            .member_id = member.id, .peer_endpoint = add->peer_endpoint,
            .is_learner = member.learner
        };
        zkv_member_add_response_t response = { &header, &added, s_table (fake, room) };
        zkv_fake_answer (router, *identity, request, &response);
        return;
    }
    //  remove, update, promote: a member_id first
    uint64_t id = 0, replaces = 0;
    zkv_bin_t peer = { NULL, 0 };
    if (desc == &zkv_member_remove_desc)
        id = ((const zkv_member_remove_t *) request->body)->member_id;
    else
    if (desc == &zkv_member_update_desc) {
        id = ((const zkv_member_update_t *) request->body)->member_id;
        peer = ((const zkv_member_update_t *) request->body)->peer_endpoint;
    }
    else
    if (desc == &zkv_member_promote_desc) {
        id = ((const zkv_member_promote_t *) request->body)->member_id;
        replaces = ((const zkv_member_promote_t *) request->body)->replaces;
    }
    else {
        s_refuse_with (router, identity, request, &header, ZKV_ERR_UNKNOWN_OP);
        return;
    }
    s_log (fake, "%d %s %" PRIx64, self, desc->name, id);
    if (peer.size)
        s_log (fake, " %.*s", (int) peer.size, (const char *) peer.data);
    if (replaces)
        s_log (fake, " replaces %" PRIx64, replaces);
    s_log (fake, "\n");
    s_member_t *member = s_find (fake, id);
    if (!member) {
        s_refuse_with (router, identity, request, &header, ZKV_ERR_MEMBER_NOT_FOUND);
        return;
    }
    if (desc == &zkv_member_remove_desc)
        s_erase (fake, member);
    else
    if (desc == &zkv_member_update_desc)
        zkv_bin_str (peer, member->peer, sizeof member->peer);
    else {
        if (!member->learner) {
            s_refuse_with (router, identity, request, &header, ZKV_ERR_NOT_LEARNER);
            return;
        }
        if (fake->not_ready) {
            //  It runs by now, and publishes itself
            if (fake->not_ready > 0)
                fake->not_ready--;
            snprintf (member->name, sizeof member->name, "n9");
            snprintf (member->client, sizeof member->client, "tcp://127.0.0.1:40099");
            s_refuse_with (router, identity, request, &header, ZKV_ERR_LEARNER_NOT_READY);
            return;
        }
        s_member_t *old = replaces? s_find (fake, replaces): NULL;
        if (replaces && (!old || old->learner)) {
            s_refuse_with (router, identity, request, &header, ZKV_ERR_MEMBER_NOT_FOUND);
            return;
        }
        member->learner = false;
        if (old)
            s_erase (fake, old);
    }
    zkv_member_remove_response_t response = { &header, s_table (fake, room) };
    zkv_fake_answer (router, *identity, request, &response);
}

//  The actor: sends the endpoint of each fake member, then serves them;
//  "LOG" on the pipe answers the log so far and clears it, "NOT-READY" n
//  sets not_ready (answering "")
static void
s_fake_actor (zsock_t *pipe, void *args)
{
    s_fake_t *fake = (s_fake_t *) args;
    zsock_t *routers [2] = { NULL, NULL };
    for (int i = 0; i < fake->fakes; i++)
        routers [i] = zsock_new_router ("tcp://127.0.0.1:*");
    //  The table: the fake members, a bootstrap member that never ran
    //  (named, no client endpoint), a learner added and never started
    fake->next_id = S_FIRST_NEW_ID;
    s_member_t members [] = {
        { 0x5712a4179abd4a9aULL, "n1", "tcp://127.0.0.1:40002", "", false },
        { 0x8e9e05c52164694dULL, "n2", "tcp://127.0.0.1:40004", "", false },
        { 0x10, "n3", "tcp://127.0.0.1:40006", "", false },
        { 0xabc, "", "tcp://127.0.0.1:40012", "", true }
    };
    for (int i = 0; i < 2; i++)
        if (routers [i])
            snprintf (members [i].client, sizeof members [i].client, "%s",
                      zsock_endpoint (routers [i]));
    for (size_t i = 0; i < 4; i++)
        if (i != 1 || fake->fakes == 2)
            s_insert (fake, &members [i]);
    zsock_signal (pipe, 0);
    zstr_sendx (pipe, zsock_endpoint (routers [0]),
                routers [1]? zsock_endpoint (routers [1]): "", NULL);
    zpoller_t *poller = zpoller_new (pipe, routers [0], routers [1], NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = NULL, *value = NULL;
            zstr_recvx (pipe, &command, &value, NULL);
            bool log = command && streq (command, "LOG");
            if (command && streq (command, "NOT-READY") && value)
                fake->not_ready = atoi (value);
            else
            if (!log) {
                zstr_free (&command);
                break;                  //  $TERM
            }
            zstr_send (pipe, log? fake->log: "");
            if (log)
                fake->log [0] = 0;
            zstr_free (&command);
            zstr_free (&value);
            continue;
        }
        if (!which)
            break;
        int self = which == routers [0]? 0: 1;
        zmsg_t *msg = zmsg_recv (which);
        zframe_t *identity = zmsg_pop (msg);
        zframe_t *frame = zmsg_pop (msg);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status = { ZKV_ERR_OK, "" };
        zkv_msg_t *request = frame? zkv_msg_decode (zframe_data (frame), zframe_size (frame),
                                                    ZKV_KIND_REQUEST, &limits, &status)
                                  : NULL;
        if (request)
            s_serve (fake, self, (zsock_t *) which, &identity, request);
        zkv_msg_destroy (&request);
        zframe_destroy (&frame);
        zframe_destroy (&identity);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&routers [0]);
    zsock_destroy (&routers [1]);
}

//  A fake cluster under test
typedef struct {
    s_fake_t fake;
    zactor_t *actor;
    char *endpoints [2];                //  of fake 0 and fake 1 ("" if none)
} s_cluster_t;

static s_cluster_t *
s_cluster_new (int fakes, int leader)
{
    s_cluster_t *self = (s_cluster_t *) zmalloc (sizeof (s_cluster_t));
    self->fake.fakes = fakes;
    self->fake.leader = leader;
    return self;
}

static void
s_cluster_start (s_cluster_t *self)
{
    self->actor = zactor_new (s_fake_actor, &self->fake);
    cr_assert_not_null (self->actor);
    zstr_recvx (self->actor, &self->endpoints [0], &self->endpoints [1], NULL);
    cr_assert (self->endpoints [0] && *self->endpoints [0], "the fake could not bind");
}

static void
s_cluster_destroy (s_cluster_t **self_p)
{
    s_cluster_t *self = *self_p;
    zactor_destroy (&self->actor);
    zstr_free (&self->endpoints [0]);
    zstr_free (&self->endpoints [1]);
    free (self);
    *self_p = NULL;
}

//  Sets how many promotes the leader refuses as not in sync from now on
static void
s_cluster_not_ready (s_cluster_t *self, int count)
{
    char value [16];
    snprintf (value, sizeof value, "%d", count);
    zstr_sendx (self->actor, "NOT-READY", value, NULL);
    char *answer = zstr_recv (self->actor);
    zstr_free (&answer);
}

//  The changes the fake members got since the last look
static char *
s_cluster_log (s_cluster_t *self)
{
    zstr_send (self->actor, "LOG");
    return zstr_recv (self->actor);
}

#define S_EXPECT_LOG(cluster, text) do { \
    char *log_ = s_cluster_log (cluster); \
    cr_assert_str_eq (log_, (text)); \
    zstr_free (&log_); \
} while (0)

//  ---------------------------------------------------------------------
//  Running zkvctl

static zkv_run_t
s_zkvctl (const char *endpoints, const char *first, ...)
{
    const char *argv [64];
    int argc = 0;
    argv [argc++] = ZKVCTL_BIN;
    if (endpoints) {
        argv [argc++] = "--endpoints";
        argv [argc++] = endpoints;
    }
    va_list args;
    va_start (args, first);
    for (const char *arg = first; arg && argc < 63; arg = va_arg (args, const char *))
        argv [argc++] = arg;
    va_end (args);
    argv [argc] = NULL;
    return zkv_run (NULL, argv);
}

//  Checks a run: exit code, and stdout / stderr exactly (NULL: any)
#define S_EXPECT(run_expr, code_, out_, err_) do { \
    zkv_run_t run_ = (run_expr); \
    cr_assert_eq (run_.code, (code_), "exit code %d, expected %d\nstdout: %s\nstderr: %s", \
                  run_.code, (code_), run_.out, run_.err); \
    if ((out_) != NULL) \
        cr_assert_str_eq (run_.out, (const char *) (out_), "stdout: %s\nstderr: %s", \
                          run_.out, run_.err); \
    if ((err_) != NULL) \
        cr_assert_str_eq (run_.err, (const char *) (err_)); \
    zkv_run_free (&run_); \
} while (0)

//  ---------------------------------------------------------------------
//  member list: STATUS and IS LEARNER in every format

Test (zkvctl_member, member_list_shows_learners_and_unstarted_members)
{
    s_cluster_t *cluster = s_cluster_new (1, 0);
    s_cluster_start (cluster);
    const char *at = cluster->endpoints [0];
    char *expected = zsys_sprintf (
        "10, unstarted, , tcp://127.0.0.1:40006, , false\n"
        "abc, unstarted, , tcp://127.0.0.1:40012, , true\n"
        "5712a4179abd4a9a, started, n1, tcp://127.0.0.1:40002, %s, false\n", at);
    S_EXPECT (s_zkvctl (at, "member", "list", NULL), 0, expected, "");
    free (expected);

    size_t width = strlen (at);
    char dashes [80], title [80], blank [80];
    memset (dashes, '-', width + 2);
    dashes [width + 2] = 0;
    memset (blank, ' ', width);
    blank [width] = 0;
    //  Centred as tablewriter centres it
    snprintf (title, sizeof title, "%*s%s%*s", (int) (width - 12) / 2, "", "CLIENT ADDRS",
              (int) (width - 12 - (width - 12) / 2), "");
    expected = zsys_sprintf (
        "+------------------+-----------+------+-----------------------+%s+------------+\n"
        "|        ID        |  STATUS   | NAME |      PEER ADDRS       | %s | IS LEARNER |\n"
        "+------------------+-----------+------+-----------------------+%s+------------+\n"
        "|               10 | unstarted |      | tcp://127.0.0.1:40006 | %s |      false |\n"
        "|              abc | unstarted |      | tcp://127.0.0.1:40012 | %s |       true |\n"
        "| 5712a4179abd4a9a |   started |   n1 | tcp://127.0.0.1:40002 | %s |      false |\n"
        "+------------------+-----------+------+-----------------------+%s+------------+\n",
        dashes, title, dashes, blank, blank, at, dashes);
    S_EXPECT (s_zkvctl (at, "member", "list", "-w", "table", NULL), 0, expected, "");
    free (expected);

    //  isLearner only when true, as Go's omitempty leaves it
    expected = zsys_sprintf (
        "{\"header\":{\"cluster_id\":8166193285796201495,\"member_id\":6274257652167821978,"
        "\"raft_term\":7},\"members\":["
        "{\"ID\":16,\"name\":\"n3\",\"peerURLs\":[\"tcp://127.0.0.1:40006\"]},"
        "{\"ID\":2748,\"peerURLs\":[\"tcp://127.0.0.1:40012\"],\"isLearner\":true},"
        "{\"ID\":6274257652167821978,\"name\":\"n1\",\"peerURLs\":[\"tcp://127.0.0.1:40002\"],"
        "\"clientURLs\":[\"%s\"]}]}\n", at);
    S_EXPECT (s_zkvctl (at, "member", "list", "-w", "json", NULL), 0, expected, "");
    free (expected);
    expected = zsys_sprintf (
        "{\"header\":{\"cluster_id\":\"71542586ef100417\",\"member_id\":\"5712a4179abd4a9a\","
        "\"raft_term\":7},\"members\":["
        "{\"ID\":\"10\",\"name\":\"n3\",\"peerURLs\":[\"tcp://127.0.0.1:40006\"],"
        "\"clientURLs\":null},"
        "{\"ID\":\"abc\",\"name\":\"\",\"peerURLs\":[\"tcp://127.0.0.1:40012\"],"
        "\"clientURLs\":null,\"isLearner\":true},"
        "{\"ID\":\"5712a4179abd4a9a\",\"name\":\"n1\",\"peerURLs\":[\"tcp://127.0.0.1:40002\"],"
        "\"clientURLs\":[\"%s\"]}]}\n", at);
    S_EXPECT (s_zkvctl (at, "member", "list", "-w", "json", "--hex", NULL), 0, expected, "");
    free (expected);
    expected = zsys_sprintf (
        "\"ClusterID\" : 8166193285796201495\n"
        "\"MemberID\" : 6274257652167821978\n"
        "\"RaftTerm\" : 7\n"
        "\"ID\" : 16\n"
        "\"Name\" : \"n3\"\n"
        "\"PeerURL\" : \"tcp://127.0.0.1:40006\"\n"
        "\"IsLearner\" : false\n\n"
        "\"ID\" : 2748\n"
        "\"Name\" : \"\"\n"
        "\"PeerURL\" : \"tcp://127.0.0.1:40012\"\n"
        "\"IsLearner\" : true\n\n"
        "\"ID\" : 6274257652167821978\n"
        "\"Name\" : \"n1\"\n"
        "\"PeerURL\" : \"tcp://127.0.0.1:40002\"\n"
        "\"ClientURL\" : \"%s\"\n"
        "\"IsLearner\" : false\n\n", at);
    S_EXPECT (s_zkvctl (at, "member", "list", "-w", "fields", NULL), 0, expected, "");
    free (expected);
    s_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  member add

Test (zkvctl_member, add_makes_a_learner_and_prints_the_flags_to_start_it_with)
{
    s_cluster_t *cluster = s_cluster_new (1, 0);
    s_cluster_start (cluster);
    const char *at = cluster->endpoints [0];
    //  etcdctl's %16x pads the ID; the initial cluster leaves out the
    //  learner that never started (no name) and keeps n3 (named)
    S_EXPECT (s_zkvctl (at, "member", "add", "n4", "--peer-endpoint=tcp://127.0.0.1:40008",
                        NULL), 0,
              "Member  badc0ffee123456 added to cluster 71542586ef100417\n"
              "\n"
              "--name=\"n4\"\n"
              "--initial-cluster=\"n3=tcp://127.0.0.1:40006,"
              "n4=tcp://127.0.0.1:40008,n1=tcp://127.0.0.1:40002\"\n"
              "--listen-peer=\"tcp://127.0.0.1:40008\"\n"
              "--initial-cluster-state=\"existing\"\n", "");
    S_EXPECT_LOG (cluster, "0 member_add tcp://127.0.0.1:40008 learner\n");

    //  --learner changes nothing; --auto-promote; etcdctl's --peer-urls,
    //  host:port meaning tcp
    S_EXPECT (s_zkvctl (at, "member", "add", "n5", "--learner", "--auto-promote",
                        "--peer-urls", "127.0.0.1:40010", NULL), 0, NULL, "");
    S_EXPECT_LOG (cluster, "0 member_add tcp://127.0.0.1:40010 learner auto\n");

    //  --voter, and the reply as JSON (the new member, the members after)
    S_EXPECT (s_zkvctl (at, "member", "add", "n6", "--voter", "--peer-endpoint",
                        "tcp://127.0.0.1:40014", "-w", "json", NULL), 0, NULL, "");
    S_EXPECT_LOG (cluster, "0 member_add tcp://127.0.0.1:40014\n");
    char *expected = zsys_sprintf (
        "{\"header\":{\"cluster_id\":8166193285796201495,\"member_id\":6274257652167821978,"
        "\"raft_term\":7},\"member\":{\"ID\":841540910831514713,"
        "\"peerURLs\":[\"tcp://127.0.0.1:40016\"],\"isLearner\":true},\"members\":["
        "{\"ID\":16,\"name\":\"n3\",\"peerURLs\":[\"tcp://127.0.0.1:40006\"]},"
        "{\"ID\":2748,\"peerURLs\":[\"tcp://127.0.0.1:40012\"],\"isLearner\":true},"
        "{\"ID\":841540910831514710,\"peerURLs\":[\"tcp://127.0.0.1:40008\"],"
        "\"isLearner\":true},"
        "{\"ID\":841540910831514711,\"peerURLs\":[\"tcp://127.0.0.1:40010\"],"
        "\"isLearner\":true},"
        "{\"ID\":841540910831514712,\"peerURLs\":[\"tcp://127.0.0.1:40014\"]},"
        "{\"ID\":841540910831514713,\"peerURLs\":[\"tcp://127.0.0.1:40016\"],"
        "\"isLearner\":true},"
        "{\"ID\":6274257652167821978,\"name\":\"n1\",\"peerURLs\":[\"tcp://127.0.0.1:40002\"],"
        "\"clientURLs\":[\"%s\"]}]}\n", at);
    S_EXPECT (s_zkvctl (at, "member", "add", "n7", "--peer-endpoint", "tcp://127.0.0.1:40016",
                        "-w", "json", NULL), 0, expected, "");
    free (expected);
    S_EXPECT_LOG (cluster, "0 member_add tcp://127.0.0.1:40016 learner\n");

    //  The leader's refusal, as etcdctl prints etcd's
    S_EXPECT (s_zkvctl (at, "member", "add", "n8", "--peer-endpoint=tcp://127.0.0.1:40002",
                        NULL), 1, "", "Error: etcdserver: Peer URLs already exists\n");
    S_EXPECT_LOG (cluster, "0 member_add tcp://127.0.0.1:40002 learner\n");
    s_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  member remove, update, promote

Test (zkvctl_member, remove_update_and_promote_say_what_they_did_as_etcdctl)
{
    s_cluster_t *cluster = s_cluster_new (1, 0);
    s_cluster_start (cluster);
    const char *at = cluster->endpoints [0];
    S_EXPECT (s_zkvctl (at, "member", "update", "abc", "--peer-endpoint=127.0.0.1:40022",
                        NULL), 0,
              "Member              abc updated in cluster 71542586ef100417\n", "");
    S_EXPECT (s_zkvctl (at, "member", "promote", "ABC", NULL), 0,
              "Member              abc promoted in cluster 71542586ef100417\n", "");
    char *expected = zsys_sprintf (
        "{\"header\":{\"cluster_id\":8166193285796201495,\"member_id\":6274257652167821978,"
        "\"raft_term\":7},\"members\":["
        "{\"ID\":16,\"name\":\"n3\",\"peerURLs\":[\"tcp://127.0.0.1:40006\"]},"
        "{\"ID\":6274257652167821978,\"name\":\"n1\",\"peerURLs\":[\"tcp://127.0.0.1:40002\"],"
        "\"clientURLs\":[\"%s\"]}]}\n", at);
    S_EXPECT (s_zkvctl (at, "member", "remove", "0abc", "-w", "json", NULL), 0, expected, "");
    free (expected);
    S_EXPECT_LOG (cluster, "0 member_update abc tcp://127.0.0.1:40022\n"
                           "0 member_promote abc\n0 member_remove abc\n");
    S_EXPECT (s_zkvctl (at, "member", "remove", "10", NULL), 0,
              "Member               10 removed from cluster 71542586ef100417\n", "");
    S_EXPECT_LOG (cluster, "0 member_remove 10\n");

    //  The leader's refusals
    S_EXPECT (s_zkvctl (at, "member", "remove", "ffff", NULL), 1, "",
              "Error: etcdserver: member not found\n");
    S_EXPECT (s_zkvctl (at, "member", "promote", "5712a4179abd4a9a", NULL), 1, "",
              "Error: etcdserver: can only promote a learner member\n");
    S_EXPECT (s_zkvctl (at, "member", "update", "ffff", "--peer-urls=tcp://127.0.0.1:1", NULL),
              1, "", "Error: etcdserver: member not found\n");
    S_EXPECT_LOG (cluster, "0 member_remove ffff\n0 member_promote 5712a4179abd4a9a\n"
                           "0 member_update ffff tcp://127.0.0.1:1\n");
    s_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  Bad arguments: exit 128, etcdctl's texts, nothing sent

Test (zkvctl_member, bad_arguments_are_refused_before_anything_is_sent)
{
    s_cluster_t *cluster = s_cluster_new (1, 0);
    s_cluster_start (cluster);
    const char *at = cluster->endpoints [0];
    struct {
        const char *args [8];
        const char *error;
    } cases [] = {
        { { "add" }, "member name not provided" },
        { { "add", "n4" }, "member peer urls not provided" },
        { { "add", "n4", "--peer-endpoint=" }, "member peer urls not provided" },
        { { "add", "n4", "n5", "--peer-endpoint=tcp://127.0.0.1:1" }, "too many arguments" },
        { { "add", "n4", "--peer-urls=tcp://127.0.0.1:1,tcp://127.0.0.1:2" },
          "a zkv member has one peer endpoint, not a list: "
          "tcp://127.0.0.1:1,tcp://127.0.0.1:2" },
        { { "add", "n4", "--peer-urls=127.0.0.1:1", "--peer-endpoint=127.0.0.1:2" },
          "--peer-endpoint and --peer-urls differ: give one" },
        { { "add", "n4", "--peer-urls=127.0.0.1:1", "--voter", "--learner" },
          "--voter and --learner: give one" },
        { { "add", "n4", "--peer-urls=127.0.0.1:1", "--voter", "--auto-promote" },
          "--auto-promote is for a learner, not with --voter" },
        { { "add", "n4", "--peer-urls=127.0.0.1:1", "-w", "table" },
          "table not supported as output format" },
        { { "add", "n4", "--peer-urls=127.0.0.1:1", "-w", "fields" },
          "fields not supported as output format" },
        { { "add", "n4", "--peer-urls=127.0.0.1:1", "-w", "yaml" },
          "unsupported output format" },
        { { "add", "n4", "--peer" }, "unknown flag: --peer" },
        { { "remove" }, "member ID is not provided" },
        { { "remove", "1", "2" }, "member ID is not provided" },
        { { "remove", "x" },
          "bad member ID arg (strconv.ParseUint: parsing \"x\": invalid syntax), "
          "expecting ID in Hex" },
        { { "remove", "0x12" },
          "bad member ID arg (strconv.ParseUint: parsing \"0x12\": invalid syntax), "
          "expecting ID in Hex" },
        { { "remove", "10000000000000000" },
          "bad member ID arg (strconv.ParseUint: parsing \"10000000000000000\": value out "
          "of range), expecting ID in Hex" },
        { { "remove", "0" }, "bad member ID arg (0 is no member's ID), expecting ID in Hex" },
        { { "remove", "--", "-1" },
          "bad member ID arg (strconv.ParseUint: parsing \"-1\": invalid syntax), "
          "expecting ID in Hex" },
        { { "remove", "abc", "-w", "table" }, "table not supported as output format" },
        { { "update" }, "member ID is not provided" },
        { { "update", "abc" }, "member peer urls not provided" },
        { { "update", "zz", "--peer-urls=127.0.0.1:1" },
          "bad member ID arg (strconv.ParseUint: parsing \"zz\": invalid syntax), "
          "expecting ID in Hex" },
        { { "promote" }, "member ID is not provided" },
        { { "promote", "" },
          "bad member ID arg (strconv.ParseUint: parsing \"\": invalid syntax), "
          "expecting ID in Hex" },
        { { "promote", "abc", "--peer-urls=127.0.0.1:1" }, "unknown flag: --peer-urls" },
        { { "replace" }, "member ID or name is not provided" },
        { { "replace", "n1", "--peer-endpoint=127.0.0.1:1" },
          "member name not provided (--name)" },
        { { "replace", "n1", "--name=n9" }, "member peer urls not provided" },
        { { "replace", "n1", "--name=n9", "--peer-urls=127.0.0.1:1", "--timeout=0s" },
          "--timeout must be positive" },
        { { "replace", "n1", "--name=n9", "--peer-urls=127.0.0.1:1", "--timeout=1" },
          "invalid argument \"1\" for \"--timeout\" flag: time: missing unit in duration "
          "\"1\"" },
        { { "replace", "n1", "--name=n9", "--peer-urls=127.0.0.1:1", "-w", "fields" },
          "fields not supported as output format" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char *argv [16] = { ZKVCTL_BIN, "--endpoints", at, "member" };
        int argc = 4;
        for (size_t a = 0; cases [i].args [a]; a++)
            argv [argc++] = cases [i].args [a];
        zkv_run_t run = zkv_run (NULL, argv);
        char *expected = zsys_sprintf ("Error: %s\n", cases [i].error);
        cr_assert_eq (run.code, 128, "case %zu: exit %d\n%s", i, run.code, run.err);
        cr_assert_str_eq (run.err, expected, "case %zu", i);
        cr_assert_str_eq (run.out, "", "case %zu", i);
        free (expected);
        zkv_run_free (&run);
    }
    S_EXPECT_LOG (cluster, "");
    s_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  To the leader

Test (zkvctl_member, changes_go_to_the_leader_whichever_member_is_asked)
{
    //  Fake 0 follows, fake 1 leads
    s_cluster_t *cluster = s_cluster_new (2, 1);
    s_cluster_start (cluster);
    const char *follower = cluster->endpoints [0];
    S_EXPECT (s_zkvctl (follower, "member", "remove", "abc", NULL), 0,
              "Member              abc removed from cluster 71542586ef100417\n", "");
    S_EXPECT_LOG (cluster, "1 member_remove abc\n");
    S_EXPECT (s_zkvctl (follower, "member", "add", "n4", "--peer-urls=127.0.0.1:40008", NULL),
              0, NULL, "");
    S_EXPECT_LOG (cluster, "1 member_add tcp://127.0.0.1:40008 learner\n");
    s_cluster_destroy (&cluster);

    //  The follower still believes it leads, and refuses: zkvctl asks
    //  again, and finds the leader
    cluster = s_cluster_new (2, 1);
    cluster->fake.stale = 2;
    s_cluster_start (cluster);
    follower = cluster->endpoints [0];
    S_EXPECT (s_zkvctl (follower, "member", "promote", "abc", NULL), 0,
              "Member              abc promoted in cluster 71542586ef100417\n", "");
    S_EXPECT_LOG (cluster, "0 member_promote refused\n0 member_promote refused\n"
                           "1 member_promote abc\n");
    s_cluster_destroy (&cluster);

    //  A refusal for ever ends with --command-timeout
    cluster = s_cluster_new (2, 1);
    cluster->fake.stale = 1000000;
    s_cluster_start (cluster);
    S_EXPECT (s_zkvctl (cluster->endpoints [0], "--command-timeout=500ms", "member", "remove",
                        "abc", NULL), 1, "", "Error: etcdserver: not leader\n");
    s_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  member replace

Test (zkvctl_member, replace_adds_waits_then_promotes_and_removes_in_one_change)
{
    s_cluster_t *cluster = s_cluster_new (2, 1);
    cluster->fake.not_ready = 3;
    s_cluster_start (cluster);
    //  The old member by name, through the follower; no terminal: no
    //  progress line, each step on a line of its own
    char *expected = zsys_sprintf (
        "Member  badc0ffee123456 added to cluster 71542586ef100417\n"
        "\n"
        "--name=\"n9\"\n"
        "--initial-cluster=\"n3=tcp://127.0.0.1:40006,n9=tcp://127.0.0.1:40020,"
        "n1=tcp://127.0.0.1:40002,n2=tcp://127.0.0.1:40004\"\n"
        "--listen-peer=\"tcp://127.0.0.1:40020\"\n"
        "--initial-cluster-state=\"existing\"\n"
        "\n"
        "Waiting for member badc0ffee123456 to start and catch up with the leader\n"
        "Member  badc0ffee123456 started\n"
        "Member  badc0ffee123456 promoted in cluster 71542586ef100417\n"
        "Member               10 removed from cluster 71542586ef100417\n");
    S_EXPECT (s_zkvctl (cluster->endpoints [0], "member", "replace", "n3", "--name", "n9",
                        "--peer-endpoint=127.0.0.1:40020", NULL), 0, expected, "");
    free (expected);
    S_EXPECT_LOG (cluster, "1 member_add tcp://127.0.0.1:40020 learner\n"
                           "1 member_promote badc0ffee123456 replaces 10\n"
                           "1 member_promote badc0ffee123456 replaces 10\n"
                           "1 member_promote badc0ffee123456 replaces 10\n"
                           "1 member_promote badc0ffee123456 replaces 10\n");

    //  By hex ID, as JSON: the two replies
    s_cluster_not_ready (cluster, 0);
    zkv_run_t run = s_zkvctl (cluster->endpoints [1], "member", "replace", "5712a4179abd4a9a",
                              "--name=n10", "--peer-endpoint=127.0.0.1:40022", "-w", "json",
                              NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strncmp (run.out, "{\"header\":", 10) == 0, "%s", run.out);
    char *second = strchr (run.out, '\n');
    cr_assert (second && strstr (run.out, "\"member\":{\"ID\":841540910831514711,"), "%s",
               run.out);
    cr_assert (strncmp (second + 1, "{\"header\":", 10) == 0, "%s", run.out);
    cr_assert_null (strstr (second, "\"ID\":6274257652167821978"), "%s", run.out);
    zkv_run_free (&run);
    S_EXPECT_LOG (cluster, "1 member_add tcp://127.0.0.1:40022 learner\n"
                           "1 member_promote badc0ffee123457 replaces 5712a4179abd4a9a\n");
    s_cluster_destroy (&cluster);
}

Test (zkvctl_member, replace_gives_up_at_its_timeout_and_goes_on_when_run_again)
{
    s_cluster_t *cluster = s_cluster_new (1, 0);
    cluster->fake.not_ready = -1;
    s_cluster_start (cluster);
    const char *at = cluster->endpoints [0];
    zkv_run_t run = s_zkvctl (at, "member", "replace", "n3", "--name=n9",
                              "--peer-endpoint=127.0.0.1:40020", "--timeout=700ms", NULL);
    cr_assert_eq (run.code, 1, "%s", run.err);
    cr_assert_str_eq (run.err, "Error: member badc0ffee123456 did not catch up within 700ms "
                      "(last answer: etcdserver: can only promote a learner member which is in "
                      "sync with leader); it stays a learner: run the same command again to "
                      "go on, or remove it\n");
    cr_assert (strstr (run.out, "Member  badc0ffee123456 added to cluster"), "%s", run.out);
    zkv_run_free (&run);
    char *log = s_cluster_log (cluster);
    cr_assert (strncmp (log, "0 member_add tcp://127.0.0.1:40020 learner\n"
                             "0 member_promote badc0ffee123456 replaces 10\n", 88) == 0,
               "%s", log);
    zstr_free (&log);

    //  Again: the learner is taken, not added twice (it published its name
    //  meanwhile, so the initial cluster has it as it is)
    s_cluster_not_ready (cluster, 0);
    S_EXPECT (s_zkvctl (at, "member", "replace", "n3", "--name=n9",
                        "--peer-endpoint=tcp://127.0.0.1:40020", NULL), 0,
              "Member  badc0ffee123456 is already a learner of cluster 71542586ef100417\n"
              "\n"
              "--name=\"n9\"\n"
              "--initial-cluster=\"n3=tcp://127.0.0.1:40006,"
              "n9=tcp://127.0.0.1:40020,n1=tcp://127.0.0.1:40002\"\n"
              "--listen-peer=\"tcp://127.0.0.1:40020\"\n"
              "--initial-cluster-state=\"existing\"\n"
              "\n"
              "Waiting for member badc0ffee123456 to start and catch up with the leader\n"
              "Member  badc0ffee123456 promoted in cluster 71542586ef100417\n"
              "Member               10 removed from cluster 71542586ef100417\n", "");
    S_EXPECT_LOG (cluster, "0 member_promote badc0ffee123456 replaces 10\n");
    s_cluster_destroy (&cluster);
}

Test (zkvctl_member, replace_refuses_what_it_cannot_do_before_adding)
{
    s_cluster_t *cluster = s_cluster_new (1, 0);
    s_cluster_start (cluster);
    const char *at = cluster->endpoints [0];
    S_EXPECT (s_zkvctl (at, "member", "replace", "n7", "--name=n9",
                        "--peer-endpoint=127.0.0.1:40020", NULL), 1, "",
              "Error: no member has the ID or name n7\n");
    S_EXPECT (s_zkvctl (at, "member", "replace", "abc", "--name=n9",
                        "--peer-endpoint=127.0.0.1:40020", NULL), 1, "",
              "Error: member abc is a learner: remove it instead (member replace replaces "
              "a voter)\n");
    S_EXPECT (s_zkvctl (at, "member", "replace", "n3", "--name=n9",
                        "--peer-endpoint=127.0.0.1:40002", NULL), 1, "",
              "Error: etcdserver: Peer URLs already exists\n");
    S_EXPECT_LOG (cluster, "");
    s_cluster_destroy (&cluster);
}

//  ---------------------------------------------------------------------
//  Help

Test (zkvctl_member, every_change_has_its_help)
{
    zkv_run_t run = s_zkvctl (NULL, "member", NULL);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert (strstr (run.out,
        "COMMANDS:\n"
        "\tadd         Adds a member into the cluster\n"
        "\tlist        Lists all members in the cluster\n"
        "\tpromote     Promotes a non-voting member in the cluster\n"
        "\tremove      Removes a member from the cluster\n"
        "\treplace     Replaces a voting member with a new one in one change (zkv's own)\n"
        "\tupdate      Updates a member in the cluster\n"), "%s", run.out);
    zkv_run_free (&run);
    const char *topics [][2] = {
        { "add", "zkvctl member add <memberName> [options]" },
        { "remove", "zkvctl member remove <memberID>" },
        { "update", "zkvctl member update <memberID> [options]" },
        { "promote", "zkvctl member promote <memberID>" },
        { "replace", "zkvctl member replace <memberID | memberName> --name=<newName> "
                     "--peer-endpoint=<endpoint> [options]" },
    };
    for (size_t i = 0; i < sizeof topics / sizeof topics [0]; i++) {
        run = s_zkvctl (NULL, "help", "member", topics [i][0], NULL);
        cr_assert_eq (run.code, 0, "%s", run.err);
        cr_assert (strstr (run.out, topics [i][1]), "%s", run.out);
        zkv_run_free (&run);
        run = s_zkvctl (NULL, "member", topics [i][0], "--help", NULL);
        cr_assert_eq (run.code, 0, "%s", run.err);
        cr_assert (strstr (run.out, topics [i][1]), "%s", run.out);
        zkv_run_free (&run);
    }
    run = s_zkvctl (NULL, "member", "add", "-h", NULL);
    cr_assert (strstr (run.out, "  --voter[=false]"), "%s", run.out);
    cr_assert (strstr (run.out, "  --peer-urls=\"\""), "%s", run.out);
    cr_assert (strstr (run.out, "  --auto-promote[=false]"), "%s", run.out);
    zkv_run_free (&run);
    run = s_zkvctl (NULL, "member", "replace", "-h", NULL);
    cr_assert (strstr (run.out, "  --timeout=10m0s"), "%s", run.out);
    zkv_run_free (&run);
}
