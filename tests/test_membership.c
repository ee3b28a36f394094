/*  test_membership.c — membership changes on real members: a cluster
    grown from one member by MemberAdd (learners that join with
    --initial-cluster-state existing and catch up from a snapshot),
    promoted, shrunk by MemberRemove (the leader too), a voter replaced
    in one joint change; learners served as etcd serves them; every
    error with etcd's text; removed members that stop and stay out.
    After each change, the members' HashKV agree and every acknowledged
    write is there. Peers talk over ipc:// here (no port to race for). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "eventually.h"
#include "zkv_client.h"
#include "zkv_msgs.h"
#include "zkv_testnode.h"

#define MAX_NODES 6

typedef struct {
    zkv_testnode_t *node;
    char name [16];
    uint64_t id;
} s_node_t;

static s_node_t s_nodes [MAX_NODES];
static size_t s_count;
static char s_token [64];

static void
s_teardown (void)
{
    for (size_t i = 0; i < s_count; i++)
        zkv_testnode_destroy (&s_nodes [i].node);
    s_count = 0;
}

//  One request (5 s at most): the reply, NULL if none came
static zkv_msg_t *
s_call (s_node_t *node, const zkv_desc_t *desc, const void *request)
{
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (node->node), 5000);
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, desc, request, &status);
    zkv_client_destroy (&client);
    return reply;
}

//  The error text of a reply ("" when it succeeded, "none" when none came)
static const char *
s_error (const zkv_msg_t *reply)
{
    if (!reply)
        return "none";
    const zkv_error_t *error = zkv_reply_error (reply);
    static char text [256];
    if (!error)
        return "";
    snprintf (text, sizeof text, "%.*s", (int) error->message.size,
              (const char *) error->message.data);
    return text;
}

static bool
s_text_is (zkv_bin_t bin, const char *text)
{
    return bin.size == strlen (text) && memcmp (bin.data, text, bin.size) == 0;
}

static zkv_status_response_t
s_status (s_node_t *node, zkv_msg_t **reply)
{
    zkv_status_t request = { 0 };
    *reply = s_call (node, &zkv_status_desc, &request);
    zkv_status_response_t none;
    memset (&none, 0, sizeof none);
    return *reply && !zkv_reply_error (*reply)? *(zkv_status_response_t *) (*reply)->body: none;
}

static uint64_t
s_node_id (s_node_t *node)
{
    zkv_msg_t *reply;
    zkv_status_response_t status = s_status (node, &reply);
    uint64_t id = status.header? status.header->member_id: 0;
    zkv_msg_destroy (&reply);
    return id;
}

//  The first member of a new cluster
static s_node_t *
s_first (void)
{
    snprintf (s_token, sizeof s_token, "membership-%d", (int) getpid ());
    s_node_t *node = &s_nodes [s_count++];
    snprintf (node->name, sizeof node->name, "n1");
    node->node = zkv_testnode_new ("n1");
    cr_assert_not_null (node->node);
    static char cluster [512];
    snprintf (cluster, sizeof cluster, "n1=%s", zkv_testnode_peer_endpoint (node->node));
    const char *flags [] = {
        "--initial-cluster", cluster, "--initial-cluster-token", s_token,
        "--heartbeat-interval", "50", "--election-timeout", "500", NULL
    };
    static const char *kept [16];
    memcpy (kept, flags, sizeof flags);
    zkv_testnode_set_flags (node->node, kept);
    cr_assert_eq (zkv_testnode_restart (node->node), 0);
    node->id = s_node_id (node);
    cr_assert_neq (node->id, 0);
    return node;
}

//  Who leads, as node says (0: none known)
static uint64_t
s_leader_of (s_node_t *node)
{
    zkv_msg_t *reply;
    zkv_status_response_t status = s_status (node, &reply);
    uint64_t leader = status.leader;
    zkv_msg_destroy (&reply);
    return leader;
}

static s_node_t *
s_by_id (uint64_t id)
{
    for (size_t i = 0; i < s_count; i++)
        if (s_nodes [i].id == id && zkv_testnode_running (s_nodes [i].node))
            return &s_nodes [i];
    return NULL;
}

typedef struct {
    s_node_t *asked;
    s_node_t *leader;
} s_leader_t;

static bool
s_leader_known (void *arg)
{
    s_leader_t *seen = (s_leader_t *) arg;
    seen->leader = s_by_id (s_leader_of (seen->asked));
    return seen->leader != NULL;
}

//  The leader, as the running member asked sees it, within 10 s
static s_node_t *
s_leader (s_node_t *asked)
{
    s_leader_t seen = { asked, NULL };
    cr_assert (eventually (s_leader_known, &seen, 10000), "no leader known to %s", asked->name);
    return seen.leader;
}

//  A membership change, sent to the leader until it is not refused for a
//  reason that passes (a change under way, a learner catching up, a
//  leader changing): the last reply
typedef struct {
    s_node_t *asked;
    const zkv_desc_t *desc;
    const void *request;
    zkv_msg_t *reply;
} s_change_t;

static bool
s_change_done (void *arg)
{
    s_change_t *change = (s_change_t *) arg;
    zkv_msg_destroy (&change->reply);
    change->reply = s_call (s_leader (change->asked), change->desc, change->request);
    const char *error = s_error (change->reply);
    //  (a leader that removed itself answers as removed until it stops; a
    //  leader just elected, or slow, may not have heard every member yet)
    return !(strstr (error, "in sync") || strstr (error, "under way")
             || strstr (error, "not leader") || strstr (error, "no leader")
             || strstr (error, "permanently removed") || strstr (error, "not enough started")
             || streq (error, "none"));
}

static zkv_msg_t *
s_change (s_node_t *asked, const zkv_desc_t *desc, const void *request)
{
    s_change_t change = { asked, desc, request, NULL };
    eventually (s_change_done, &change, 20000);
    return change.reply;
}

//  Adds a member (a learner, or a voter) and starts it: it joins
static s_node_t *
s_add (s_node_t *asked, bool learner)
{
    s_node_t *node = &s_nodes [s_count++];
    snprintf (node->name, sizeof node->name, "n%zu", s_count);
    node->node = zkv_testnode_new (node->name);
    cr_assert_not_null (node->node);
    const char *peer = zkv_testnode_peer_endpoint (node->node);
    zkv_member_add_t add = { .peer_endpoint = zkv_bin (peer, strlen (peer)),
                             .is_learner = learner };
    zkv_msg_t *reply = s_change (asked, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "", "member add: %s", s_error (reply));
    const zkv_member_add_response_t *added = (const zkv_member_add_response_t *) reply->body;
    node->id = added->member->member_id;
    cr_assert_eq (added->member->is_learner, learner);
    cr_assert_eq (added->member->name.size, 0, "an added member is unstarted");
    //  Its initial cluster: the started members, and itself
    static char clusters [MAX_NODES][1024];
    char *cluster = clusters [s_count - 1];
    cluster [0] = 0;
    for (size_t i = 0; i < added->members.count; i++) {
        const zkv_cluster_member_t *member = &added->members.items [i];
        const char *name = member->member_id == node->id? node->name: NULL;
        char other [16];
        if (!name) {
            snprintf (other, sizeof other, "%.*s", (int) member->name.size,
                      (const char *) member->name.data);
            name = other;
        }
        snprintf (cluster + strlen (cluster), 1024 - strlen (cluster), "%s%s=%.*s",
                  i? ",": "", name, (int) member->peer_endpoint.size,
                  (const char *) member->peer_endpoint.data);
    }
    zkv_msg_destroy (&reply);
    static const char *flags [MAX_NODES][16];
    const char *these [] = {
        "--initial-cluster", cluster, "--initial-cluster-state", "existing",
        "--initial-cluster-token", s_token, "--heartbeat-interval", "50",
        "--election-timeout", "500", NULL
    };
    memcpy (flags [s_count - 1], these, sizeof these);
    zkv_testnode_set_flags (node->node, flags [s_count - 1]);
    cr_assert_eq (zkv_testnode_restart (node->node), 0, "%s did not join", node->name);
    return node;
}

static void
s_promote (s_node_t *asked, s_node_t *learner, s_node_t *replaced)
{
    zkv_member_promote_t promote = { .member_id = learner->id,
                                     .replaces = replaced? replaced->id: 0 };
    zkv_msg_t *reply = s_change (asked, &zkv_member_promote_desc, &promote);
    cr_assert_str_eq (s_error (reply), "", "member promote: %s", s_error (reply));
    zkv_msg_destroy (&reply);
}

//  A learner added, joined and promoted: a voter that started from a
//  snapshot
static s_node_t *
s_voter (s_node_t *asked)
{
    s_node_t *node = s_add (asked, true);
    s_promote (asked, node, NULL);
    return node;
}

static void
s_remove (s_node_t *asked, s_node_t *node)
{
    zkv_member_remove_t remove = { .member_id = node->id };
    zkv_msg_t *reply = s_change (asked, &zkv_member_remove_desc, &remove);
    const zkv_header_t *header = reply? *(zkv_header_t **) reply->body: NULL;
    s_node_t *answered = header? s_by_id (header->member_id): NULL;
    cr_assert_str_eq (s_error (reply), "", "member remove of %s asked of %s: %s (from %s)",
                      node->name, asked->name, s_error (reply), answered? answered->name: "?");
    zkv_msg_destroy (&reply);
}

//  Puts key=value through node (a follower forwards it); true if acknowledged
static bool
s_put (s_node_t *node, const char *key, const char *value)
{
    zkv_put_t put = { .key = zkv_bin (key, strlen (key)), .value = zkv_bin (value, strlen (value)) };
    zkv_msg_t *reply = s_call (node, &zkv_put_desc, &put);
    bool done = reply && !zkv_reply_error (reply);
    zkv_msg_destroy (&reply);
    return done;
}

//  HashKV of node at revision (0: its current); *revision set to it
static uint32_t
s_hash_kv (s_node_t *node, int64_t *revision)
{
    zkv_hash_kv_t request = { .revision = *revision };
    zkv_msg_t *reply = s_call (node, &zkv_hash_kv_desc, &request);
    cr_assert_str_eq (s_error (reply), "", "hashkv on %s: %s", node->name, s_error (reply));
    const zkv_hash_kv_response_t *hash = (const zkv_hash_kv_response_t *) reply->body;
    uint32_t value = hash->hash;
    *revision = hash->header->revision;
    zkv_msg_destroy (&reply);
    return value;
}

//  Every running member has applied what the leader has
typedef struct {
    s_node_t *leader;
} s_synced_t;

static bool
s_all_applied (void *arg)
{
    s_synced_t *synced = (s_synced_t *) arg;
    zkv_msg_t *reply;
    uint64_t index = s_status (synced->leader, &reply).raft_applied_index;
    zkv_msg_destroy (&reply);
    for (size_t i = 0; i < s_count; i++) {
        if (!zkv_testnode_running (s_nodes [i].node))
            continue;
        uint64_t applied = s_status (&s_nodes [i], &reply).raft_applied_index;
        zkv_msg_destroy (&reply);
        if (applied < index)
            return false;
    }
    return true;
}

//  Every running member holds the same keys (HashKV at the leader's
//  revision) and the writes acknowledged: keys k0 .. k<count-1>
static void
s_agree (s_node_t *asked, int count)
{
    s_synced_t synced = { s_leader (asked) };
    cr_assert (eventually (s_all_applied, &synced, 20000), "the members did not catch up");
    int64_t revision = 0;
    uint32_t hash = s_hash_kv (synced.leader, &revision);
    for (size_t i = 0; i < s_count; i++) {
        if (!zkv_testnode_running (s_nodes [i].node))
            continue;
        int64_t at = revision;
        cr_assert_eq (s_hash_kv (&s_nodes [i], &at), hash, "%s's HashKV differs", s_nodes [i].name);
    }
    for (int i = 0; i < count; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", i);
        zkv_range_t range = { .key = zkv_bin (key, strlen (key)) };
        zkv_msg_t *reply = s_call (synced.leader, &zkv_range_desc, &range);
        cr_assert (reply && !zkv_reply_error (reply));
        cr_assert_eq (((zkv_range_response_t *) reply->body)->kvs.count, 1,
                      "acknowledged %s is lost", key);
        zkv_msg_destroy (&reply);
    }
}

static int s_keys;                      //  k0 ... acknowledged so far

typedef struct {
    s_node_t *node;
    const char *key;
} s_putting_t;

static bool
s_put_acked (void *arg)
{
    s_putting_t *putting = (s_putting_t *) arg;
    return s_put (putting->node, putting->key, "value");
}

//  Puts the next keys through node, each again until acknowledged (an
//  election after a change refuses them for a moment: a client retries)
static void
s_write (s_node_t *node, int count)
{
    for (int i = 0; i < count; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", s_keys);
        s_putting_t putting = { node, key };
        cr_assert (eventually (s_put_acked, &putting, 10000), "put %s through %s", key,
                   node->name);
        s_keys++;
    }
}

//  The members node lists are three started voters
static bool
s_all_started (void *node)
{
    zkv_member_list_t list = { .linearizable = true };
    zkv_msg_t *reply = s_call ((s_node_t *) node, &zkv_member_list_desc, &list);
    bool started = reply && !zkv_reply_error (reply);
    const zkv_member_list_response_t *members = started?
        (const zkv_member_list_response_t *) reply->body: NULL;
    started = started && members->members.count == 3;
    for (size_t i = 0; started && i < members->members.count; i++)
        started = members->members.items [i].name.size > 0
               && !members->members.items [i].is_learner;
    zkv_msg_destroy (&reply);
    return started;
}

static bool
s_node_ended (void *node)
{
    return !zkv_testnode_running (((s_node_t *) node)->node);
}

TestSuite (membership, .fini = s_teardown, .timeout = 120);

Test (membership, grows_from_one_to_three_then_loses_its_first_leader)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_write (n1, 20);
    //  A learner joins, catches up from a snapshot, and is promoted
    s_node_t *n2 = s_add (n1, true);
    s_write (n1, 10);
    s_agree (n1, s_keys);
    s_promote (n1, n2, NULL);
    //  A voter, added straight: two voters up of three after it
    s_node_t *n3 = s_add (n1, false);
    s_write (n2, 10);
    s_agree (n1, s_keys);
    cr_assert (eventually (s_all_started, n3, 10000), "not every member started");
    //  The first member, the leader, is removed: it steps down and stops,
    //  the two others go on
    cr_assert_eq (s_leader (n2), n1);
    s_remove (n1, n1);
    cr_assert (eventually (s_node_ended, n1, 10000), "the removed leader did not stop");
    s_write (n3, 10);
    s_agree (n2, s_keys);
    //  Restarted on its data, it stays out
    zkv_testnode_restart (n1->node);
    char *log = zkv_testnode_log (n1->node);
    cr_assert (strstr (log, "permanently removed"), "%s", log);
    free (log);
}

Test (membership, learners_serve_what_etcd_learners_serve)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_write (n1, 5);
    s_node_t *n2 = s_add (n1, true);
    s_agree (n1, s_keys);
    zkv_msg_t *reply;
    zkv_status_response_t status = s_status (n2, &reply);
    cr_assert (status.is_learner);
    zkv_msg_destroy (&reply);
    //  A write, a linearizable read: refused as etcd refuses them
    zkv_put_t put = { .key = zkv_bin ("a", 1), .value = zkv_bin ("b", 1) };
    reply = s_call (n2, &zkv_put_desc, &put);
    cr_assert_str_eq (s_error (reply), "etcdserver: rpc not supported for learner");
    zkv_msg_destroy (&reply);
    zkv_range_t range = { .key = zkv_bin ("k0", 2) };
    reply = s_call (n2, &zkv_range_desc, &range);
    cr_assert_str_eq (s_error (reply), "etcdserver: rpc not supported for learner");
    zkv_msg_destroy (&reply);
    //  A serializable read, the member list, hashes: served
    range.serializable = true;
    reply = s_call (n2, &zkv_range_desc, &range);
    cr_assert_str_eq (s_error (reply), "");
    cr_assert_eq (((zkv_range_response_t *) reply->body)->kvs.count, 1);
    zkv_msg_destroy (&reply);
    zkv_member_list_t list = { .linearizable = false };
    reply = s_call (n2, &zkv_member_list_desc, &list);
    cr_assert_str_eq (s_error (reply), "");
    zkv_msg_destroy (&reply);
    int64_t revision = 0;
    s_hash_kv (n2, &revision);
    //  Leadership never goes to a learner
    zkv_move_leader_t move = { .target_id = n2->id };
    reply = s_call (n1, &zkv_move_leader_desc, &move);
    cr_assert_str_eq (s_error (reply), "etcdserver: bad leader transferee");
    zkv_msg_destroy (&reply);
}

Test (membership, refuses_what_etcd_refuses_with_its_words)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    //  A voter added to a cluster of one that never starts would lose the
    //  quorum at once: refused (etcd adds it, and hangs)
    const char *dead = "tcp://127.0.0.1:1";
    zkv_member_add_t add = { .peer_endpoint = zkv_bin (dead, strlen (dead)) };
    zkv_msg_t *reply = s_call (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply),
                      "etcdserver: re-configuration failed due to not enough started members");
    zkv_msg_destroy (&reply);
    //  Bad endpoints, taken endpoints
    add.peer_endpoint = zkv_bin ("localhost", 9);
    add.is_learner = true;
    reply = s_call (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "zkv: bad peer endpoint");
    zkv_msg_destroy (&reply);
    const char *own = zkv_testnode_peer_endpoint (n1->node);
    add.peer_endpoint = zkv_bin (own, strlen (own));
    reply = s_call (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "etcdserver: Peer URLs already exists");
    zkv_msg_destroy (&reply);
    //  One learner at a time (etcd's default)
    add.peer_endpoint = zkv_bin (dead, strlen (dead));
    reply = s_call (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "");
    uint64_t unstarted = ((zkv_member_add_response_t *) reply->body)->member->member_id;
    zkv_msg_destroy (&reply);
    const char *other = "tcp://127.0.0.1:2";
    add.peer_endpoint = zkv_bin (other, strlen (other));
    reply = s_call (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "etcdserver: too many learner members in cluster");
    zkv_msg_destroy (&reply);
    //  Promotions: of a learner that is not in sync, of a voter, of nobody
    zkv_member_promote_t promote = { .member_id = unstarted };
    reply = s_call (n1, &zkv_member_promote_desc, &promote);
    cr_assert_str_eq (s_error (reply),
                      "etcdserver: can only promote a learner member which is in sync with leader");
    zkv_msg_destroy (&reply);
    promote.member_id = n1->id;
    reply = s_call (n1, &zkv_member_promote_desc, &promote);
    cr_assert_str_eq (s_error (reply), "etcdserver: can only promote a learner member");
    zkv_msg_destroy (&reply);
    promote.member_id = 0x1234;
    reply = s_call (n1, &zkv_member_promote_desc, &promote);
    cr_assert_str_eq (s_error (reply), "etcdserver: member not found");
    zkv_msg_destroy (&reply);
    zkv_member_remove_t remove = { .member_id = 0x1234 };
    reply = s_call (n1, &zkv_member_remove_desc, &remove);
    cr_assert_str_eq (s_error (reply), "etcdserver: member not found");
    zkv_msg_destroy (&reply);
    //  The only voter cannot go
    remove.member_id = n1->id;
    reply = s_call (n1, &zkv_member_remove_desc, &remove);
    cr_assert_str_eq (s_error (reply),
                      "etcdserver: re-configuration failed due to not enough started members");
    zkv_msg_destroy (&reply);
    //  An update to a taken endpoint; then a good one
    zkv_member_update_t update = { .member_id = unstarted, .peer_endpoint = zkv_bin (own, strlen (own)) };
    reply = s_call (n1, &zkv_member_update_desc, &update);
    cr_assert_str_eq (s_error (reply), "etcdserver: Peer URLs already exists");
    zkv_msg_destroy (&reply);
    update.peer_endpoint = zkv_bin (other, strlen (other));
    reply = s_call (n1, &zkv_member_update_desc, &update);
    cr_assert_str_eq (s_error (reply), "");
    const zkv_member_update_response_t *updated = (const zkv_member_update_response_t *) reply->body;
    bool found = false;
    for (size_t i = 0; i < updated->members.count; i++)
        found |= updated->members.items [i].member_id == unstarted
              && updated->members.items [i].peer_endpoint.size == strlen (other)
              && memcmp (updated->members.items [i].peer_endpoint.data, other, strlen (other)) == 0;
    cr_assert (found, "the update is in the member list");
    zkv_msg_destroy (&reply);
    //  The unstarted learner goes; writes never stopped
    remove.member_id = unstarted;
    reply = s_call (n1, &zkv_member_remove_desc, &remove);
    cr_assert_str_eq (s_error (reply), "");
    zkv_msg_destroy (&reply);
    s_write (n1, 3);
}

Test (membership, replaces_a_voter_in_one_joint_change)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_voter (n1);
    s_write (n1, 20);
    //  n4 replaces n2: a learner first, then promoted with n2 removed in
    //  the same change
    s_node_t *n4 = s_add (n1, true);
    s_agree (n1, s_keys);
    s_promote (n1, n4, n2);
    cr_assert (eventually (s_node_ended, n2, 10000), "the replaced member did not stop");
    s_write (n4, 10);
    s_agree (n3, s_keys);
    zkv_member_list_t list = { .linearizable = true };
    zkv_msg_t *reply = s_call (n3, &zkv_member_list_desc, &list);
    cr_assert_str_eq (s_error (reply), "");
    const zkv_member_list_response_t *members = (const zkv_member_list_response_t *) reply->body;
    cr_assert_eq (members->members.count, 3);
    for (size_t i = 0; i < members->members.count; i++) {
        cr_assert_neq (members->members.items [i].member_id, n2->id);
        cr_assert (!members->members.items [i].is_learner);
    }
    zkv_msg_destroy (&reply);
    //  The replaced leader's case: the leader replaced by a new learner
    s_node_t *leader = s_leader (n3);
    s_node_t *n5 = s_add (n3, true);
    s_agree (n3, s_keys);
    s_promote (n3, n5, leader);
    cr_assert (eventually (s_node_ended, leader, 10000), "the replaced leader did not stop");
    s_node_t *alive = leader == n1? n3: n1;
    s_write (alive, 10);
    s_agree (alive, s_keys);
}

Test (membership, a_removed_member_that_was_paused_stops_when_it_resumes)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_voter (n1);
    s_write (n1, 5);
    s_agree (n1, s_keys);
    s_node_t *leader = s_leader (n1);
    s_node_t *paused = leader == n3? n2: n3;
    kill (zkv_testnode_pid (paused->node), SIGSTOP);
    s_remove (leader, paused);
    s_write (leader, 5);
    kill (zkv_testnode_pid (paused->node), SIGCONT);
    cr_assert (eventually (s_node_ended, paused, 10000), "the removed member did not stop");
    char *log = zkv_testnode_log (paused->node);
    cr_assert (strstr (log, "permanently removed"), "%s", log);
    free (log);
    s_agree (leader, s_keys);
}

//  The node's member list says id is a voter
static bool
s_is_voter (s_node_t *node, uint64_t id)
{
    zkv_member_list_t list = { .linearizable = false };
    zkv_msg_t *reply = s_call (node, &zkv_member_list_desc, &list);
    bool voter = false;
    if (reply && !zkv_reply_error (reply)) {
        const zkv_member_list_response_t *members =
            (const zkv_member_list_response_t *) reply->body;
        for (size_t i = 0; i < members->members.count; i++)
            voter |= members->members.items [i].member_id == id
                  && !members->members.items [i].is_learner;
    }
    zkv_msg_destroy (&reply);
    return voter;
}

typedef struct {
    s_node_t *asked;
    uint64_t id;
} s_voter_t;

static bool
s_becomes_voter (void *arg)
{
    s_voter_t *voter = (s_voter_t *) arg;
    return s_is_voter (voter->asked, voter->id);
}

Test (membership, a_learner_added_with_auto_promote_is_promoted_once_in_sync)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_write (n1, 30);
    //  Added by hand, as s_add does, with auto_promote
    s_node_t *n2 = &s_nodes [s_count++];
    snprintf (n2->name, sizeof n2->name, "n2");
    n2->node = zkv_testnode_new ("n2");
    const char *peer = zkv_testnode_peer_endpoint (n2->node);
    zkv_member_add_t add = { .peer_endpoint = zkv_bin (peer, strlen (peer)), .is_learner = true,
                             .auto_promote = true };
    zkv_msg_t *reply = s_call (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "");
    n2->id = ((zkv_member_add_response_t *) reply->body)->member->member_id;
    cr_assert (((zkv_member_add_response_t *) reply->body)->member->auto_promote);
    zkv_msg_destroy (&reply);
    //  Not started: it stays a learner
    zclock_sleep (1000);
    cr_assert (!s_is_voter (n1, n2->id));
    static char cluster [1024];
    snprintf (cluster, sizeof cluster, "n1=%s,n2=%s", zkv_testnode_peer_endpoint (n1->node), peer);
    static const char *flags [16];
    const char *these [] = {
        "--initial-cluster", cluster, "--initial-cluster-state", "existing",
        "--initial-cluster-token", s_token, "--heartbeat-interval", "50",
        "--election-timeout", "500", NULL
    };
    memcpy (flags, these, sizeof these);
    zkv_testnode_set_flags (n2->node, flags);
    cr_assert_eq (zkv_testnode_restart (n2->node), 0);
    s_voter_t voter = { n1, n2->id };
    cr_assert (eventually (s_becomes_voter, &voter, 10000), "never promoted");
    s_write (n2, 5);
    s_agree (n1, s_keys);
}

Test (membership, members_learners_and_the_configuration_survive_restarts)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_add (n1, true);
    s_write (n1, 10);
    s_agree (n1, s_keys);
    //  Every member restarts: two voters and a learner still
    for (size_t i = 0; i < s_count; i++) {
        zkv_testnode_kill (s_nodes [i].node, SIGKILL);
        cr_assert_eq (zkv_testnode_restart (s_nodes [i].node), 0);
    }
    s_write (n2, 10);
    s_agree (n1, s_keys);
    cr_assert (s_is_voter (n1, n2->id));
    cr_assert (!s_is_voter (n1, n3->id));
    zkv_msg_t *reply;
    cr_assert (s_status (n3, &reply).is_learner);
    zkv_msg_destroy (&reply);
    //  The learner still refuses what a learner refuses, and is promoted
    zkv_put_t put = { .key = zkv_bin ("a", 1), .value = zkv_bin ("b", 1) };
    reply = s_call (n3, &zkv_put_desc, &put);
    cr_assert_str_eq (s_error (reply), "etcdserver: rpc not supported for learner");
    zkv_msg_destroy (&reply);
    s_promote (n2, n3, NULL);
    s_write (n3, 5);
    s_agree (n1, s_keys);
}

Test (membership, two_learners_racing_one_wins)
{
    s_node_t *n1 = s_first ();
    const char *first = "tcp://127.0.0.1:1", *second = "tcp://127.0.0.1:2";
    zkv_member_add_t a = { .peer_endpoint = zkv_bin (first, strlen (first)), .is_learner = true };
    zkv_member_add_t b = { .peer_endpoint = zkv_bin (second, strlen (second)), .is_learner = true };
    //  Both sent before either is answered
    zkv_client_t *one = zkv_client_new (zkv_testnode_endpoint (n1->node), 5000);
    zkv_client_t *two = zkv_client_new (zkv_testnode_endpoint (n1->node), 5000);
    zkv_result_t status;
    cr_assert_neq (zkv_client_send (one, &zkv_member_add_desc, &a, 5000), 0);
    cr_assert_neq (zkv_client_send (two, &zkv_member_add_desc, &b, 5000), 0);
    zkv_msg_t *ra = zkv_client_recv (one, &zkv_member_add_desc, 5000, &status);
    zkv_msg_t *rb = zkv_client_recv (two, &zkv_member_add_desc, 5000, &status);
    const char *ea = s_error (ra);
    char first_error [256];
    snprintf (first_error, sizeof first_error, "%s", ea);
    const char *eb = s_error (rb);
    bool a_won = streq (first_error, "") && !streq (eb, "");
    bool b_won = !streq (first_error, "") && streq (eb, "");
    cr_assert (a_won || b_won, "one add wins: '%s' / '%s'", first_error, eb);
    const char *lost = a_won? eb: first_error;
    cr_assert (streq (lost, "zkv: a membership change is still under way")
            || streq (lost, "etcdserver: too many learner members in cluster"), "%s", lost);
    zkv_msg_destroy (&ra);
    zkv_msg_destroy (&rb);
    zkv_client_destroy (&one);
    zkv_client_destroy (&two);
}

Test (membership, every_member_publishes_every_change)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_voter (n1);
    s_agree (n1, 0);
    //  A subscriber to each member sees the next change
    zsock_t *subs [2];
    for (int i = 0; i < 2; i++) {
        zkv_msg_t *reply;
        zkv_status_response_t status = s_status (&s_nodes [i], &reply);
        subs [i] = zsock_new (ZMQ_SUB);
        zsock_set_subscribe (subs [i], "member");
        zsock_connect (subs [i], "%.*s", (int) status.events_endpoint.size,
                       (const char *) status.events_endpoint.data);
        zkv_msg_destroy (&reply);
    }
    zclock_sleep (300);                 //  the subscriptions reach the members
    const char *dead = "tcp://127.0.0.1:1";
    zkv_member_add_t add = { .peer_endpoint = zkv_bin (dead, strlen (dead)), .is_learner = true };
    zkv_msg_t *reply = s_change (n1, &zkv_member_add_desc, &add);
    cr_assert_str_eq (s_error (reply), "");
    uint64_t added = ((zkv_member_add_response_t *) reply->body)->member->member_id;
    zkv_msg_destroy (&reply);
    for (int i = 0; i < 2; i++) {
        bool seen = false;
        zpoller_t *poller = zpoller_new (subs [i], NULL);
        int64_t deadline = zclock_mono () + 5000;
        while (!seen && zclock_mono () < deadline) {
            if (!zpoller_wait (poller, 200))
                continue;
            zmsg_t *msg = zmsg_recv (subs [i]);
            zframe_t *body = zmsg_last (msg);
            msgpack_zone *zone = msgpack_zone_new (4096);
            zkv_limits_t limits = zkv_limits_trusted ();
            zkv_result_t status;
            zkv_membership_event_t *event = (zkv_membership_event_t *) zkv_msg_decode_body (
                zframe_data (body), zframe_size (body), &zkv_membership_event_desc, zone,
                &limits, &status);
            seen = event && event->member_id == added && s_text_is (event->change, "added")
                && event->members.count == 3;
            msgpack_zone_free (zone);
            zmsg_destroy (&msg);
        }
        zpoller_destroy (&poller);
        cr_assert (seen, "%s did not publish the change", s_nodes [i].name);
        zsock_destroy (&subs [i]);
    }
}

Test (membership, a_leader_restarted_in_the_middle_of_a_joint_change_leaves_it)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_voter (n1);
    s_node_t *n4 = s_add (n1, true);
    s_write (n1, 10);
    s_agree (n1, s_keys);
    //  The joint change goes in; the leader dies at once, before or after
    //  it left the joint configuration: a new one finishes the change
    s_node_t *leader = s_leader (n1);
    s_node_t *replaced = leader == n3? n2: n3;
    s_promote (leader, n4, replaced);
    zkv_testnode_kill (leader->node, SIGKILL);
    s_node_t *other = leader == n1? n4: n1;
    cr_assert_eq (zkv_testnode_restart (leader->node), 0);
    cr_assert (eventually (s_node_ended, replaced, 15000), "the replaced member did not stop");
    s_write (other, 10);
    s_agree (other, s_keys);
    //  Nothing is joint any more: a next change is taken
    s_node_t *n5 = s_add (other, true);
    (void) n5;
}

Test (membership, a_snapshot_of_a_changed_cluster_restores_into_a_new_membership)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_voter (n1);
    s_write (n1, 20);
    s_remove (n1, n2);
    cr_assert (eventually (s_node_ended, n2, 10000));
    s_write (n1, 5);
    s_agree (n1, s_keys);
    //  Saved from a member, restored as a new cluster of one
    char file [300];
    snprintf (file, sizeof file, "%s/saved.snap", zkv_testnode_data_dir (n3->node));
    char zkvctl [300];
    snprintf (zkvctl, sizeof zkvctl, "%s/zkvctl", ZKV_BUILD_DIR);
    const char *save [] = { zkvctl, "--endpoints", zkv_testnode_endpoint (n3->node), "snapshot",
                            "save", file, NULL };
    zkv_run_t run = zkv_run (NULL, save);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    zkv_run_free (&run);
    int64_t revision = 0;
    uint32_t hash = s_hash_kv (n3, &revision);
    //  The old cluster stops: the new one is all there is
    zkv_testnode_kill (n1->node, SIGTERM);
    zkv_testnode_kill (n3->node, SIGTERM);
    s_node_t *restored = &s_nodes [s_count++];
    snprintf (restored->name, sizeof restored->name, "r1");
    restored->node = zkv_testnode_new ("r1");
    static char cluster [512];
    snprintf (cluster, sizeof cluster, "r1=%s", zkv_testnode_peer_endpoint (restored->node));
    const char *restore [] = { zkvctl, "snapshot", "restore", file, "--data-dir",
                               zkv_testnode_data_dir (restored->node), "--name", "r1",
                               "--initial-cluster", cluster, "--initial-cluster-token", "restored",
                               NULL };
    run = zkv_run (NULL, restore);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    zkv_run_free (&run);
    static const char *flags [] = {
        "--initial-cluster", cluster, "--initial-cluster-token", "restored",
        "--heartbeat-interval", "50", "--election-timeout", "500", NULL
    };
    flags [1] = cluster;
    zkv_testnode_set_flags (restored->node, flags);
    cr_assert_eq (zkv_testnode_restart (restored->node), 0);
    restored->id = s_node_id (restored);
    //  Its member alone votes, whatever the old configuration was; the data
    //  is the same; and it grows again
    s_leader (restored);
    int64_t at = revision;
    cr_assert_eq (s_hash_kv (restored, &at), hash);
    zkv_member_list_t list = { .linearizable = true };
    zkv_msg_t *reply = s_call (restored, &zkv_member_list_desc, &list);
    cr_assert_str_eq (s_error (reply), "");
    cr_assert_eq (((zkv_member_list_response_t *) reply->body)->members.count, 1);
    zkv_msg_destroy (&reply);
    snprintf (s_token, sizeof s_token, "restored");
    s_node_t *grown = s_add (restored, true);
    s_promote (restored, grown, NULL);
    s_write (restored, 5);
    s_agree (restored, s_keys);
}

//  Two voters, one replaced: until the cluster leaves the joint
//  configuration it needs both of the old voters, the one leaving too; it
//  must hear of its removal only once the change is complete
Test (membership, replaces_one_of_two_voters_the_leader)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_write (n1, 10);
    s_node_t *n3 = s_add (n1, true);
    s_agree (n1, s_keys);
    s_promote (n1, n3, n1);
    cr_assert (eventually (s_node_ended, n1, 10000), "the replaced leader did not stop");
    s_write (n2, 10);
    s_agree (n3, s_keys);
}

//  A writer that puts its own keys w0, w1, ... through the members the
//  test tells it of, in turn, all along, and keeps count of the ones
//  acknowledged (it touches no test node: the test owns them)
typedef struct {
    pthread_mutex_t lock;
    char endpoints [MAX_NODES][64];
    size_t count;
    volatile bool stop;
    uint64_t cluster_id;                //  a member that stopped may leave its port
                                        //  to another test's member: not ours
    int acked;                          //  w0 .. w<acked-1> acknowledged
    int refused;
} s_writer_t;

//  Tells the writer the members that run now
static void
s_writer_members (s_writer_t *writer)
{
    pthread_mutex_lock (&writer->lock);
    writer->count = 0;
    for (size_t i = 0; i < s_count; i++)
        if (s_nodes [i].node && zkv_testnode_running (s_nodes [i].node))
            snprintf (writer->endpoints [writer->count++], 64, "%s",
                      zkv_testnode_endpoint (s_nodes [i].node));
    pthread_mutex_unlock (&writer->lock);
}

static void *
s_writer_run (void *arg)
{
    s_writer_t *writer = (s_writer_t *) arg;
    size_t turn = 0;
    while (!writer->stop) {
        char endpoint [64] = "";
        pthread_mutex_lock (&writer->lock);
        if (writer->count)
            snprintf (endpoint, sizeof endpoint, "%s", writer->endpoints [turn++ % writer->count]);
        pthread_mutex_unlock (&writer->lock);
        char key [16];
        snprintf (key, sizeof key, "w%d", writer->acked);
        zkv_put_t put = { .key = zkv_bin (key, strlen (key)), .value = zkv_bin ("v", 1) };
        zkv_client_t *client = zkv_client_new (endpoint, 2000);
        zkv_result_t status;
        zkv_msg_t *reply = *endpoint? zkv_client_call (client, &zkv_put_desc, &put, &status): NULL;
        if (reply && !zkv_reply_error (reply)
        &&  ((zkv_put_response_t *) reply->body)->header->cluster_id == writer->cluster_id)
            writer->acked++;
        else {
            writer->refused++;
            zclock_sleep (20);
        }
        zkv_msg_destroy (&reply);
        zkv_client_destroy (&client);
    }
    return NULL;
}

typedef struct {
    s_writer_t *writer;
    int count;
} s_more_t;

static bool
s_writes_reach (void *arg)
{
    s_more_t *more = (s_more_t *) arg;
    return more->writer->acked >= more->count;
}

static bool
s_writes_acked (void *arg)
{
    s_writer_t *writer = (s_writer_t *) arg;
    return writer->acked > 0;
}

Test (membership, grows_one_three_five_and_shrinks_five_three_one_under_a_writer)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_writer_t writer = { .stop = false };
    pthread_mutex_init (&writer.lock, NULL);
    zkv_msg_t *reply;
    writer.cluster_id = s_status (n1, &reply).header->cluster_id;
    zkv_msg_destroy (&reply);
    s_writer_members (&writer);
    pthread_t thread;
    pthread_create (&thread, NULL, s_writer_run, &writer);
    cr_assert (eventually (s_writes_acked, &writer, 5000));
    s_node_t *grown [4];
    for (int i = 0; i < 4; i++) {
        grown [i] = s_add (n1, true);
        s_promote (n1, grown [i], NULL);
        s_writer_members (&writer);
    }
    int at_five = writer.acked;
    //  Down to three, then one: the first member (the leader) goes too
    s_remove (n1, grown [0]);
    s_remove (n1, n1);
    cr_assert (eventually (s_node_ended, n1, 10000));
    s_writer_members (&writer);
    s_remove (grown [1], grown [1]);
    s_remove (grown [2], grown [3]);
    s_node_t *last = grown [2];
    for (int i = 0; i < 4; i++)
        if (i != 2)
            cr_assert (eventually (s_node_ended, grown [i], 10000), "%s is still running",
                       grown [i]->name);
    s_writer_members (&writer);
    s_writer_t *watched = &writer;
    watched->refused = 0;
    int at_one = writer.acked;
    s_more_t more = { watched, at_one + 5 };
    cr_assert (eventually (s_writes_reach, &more, 15000), "writes did not go on with one member");
    writer.stop = true;
    pthread_join (thread, NULL);
    pthread_mutex_destroy (&writer.lock);
    cr_assert_gt (at_five, 0);
    cr_log_info ("writer: %d acknowledged, %d refused or timed out", writer.acked,
                 writer.refused);
    //  Every acknowledged write is on the last member
    for (int i = 0; i < writer.acked; i++) {
        char key [16];
        snprintf (key, sizeof key, "w%d", i);
        zkv_range_t range = { .key = zkv_bin (key, strlen (key)) };
        zkv_msg_t *reply = s_call (last, &zkv_range_desc, &range);
        cr_assert (reply && !zkv_reply_error (reply));
        cr_assert_eq (((zkv_range_response_t *) reply->body)->kvs.count, 1, "%s is lost", key);
        zkv_msg_destroy (&reply);
    }
}

Test (membership, replaces_a_member_killed_with_its_data_gone)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_voter (n1);
    s_write (n1, 20);
    s_agree (n1, s_keys);
    s_node_t *leader = s_leader (n1);
    s_node_t *dead = leader == n2? n3: n2;
    zkv_testnode_kill (dead->node, SIGKILL);
    char command [400];
    snprintf (command, sizeof command, "rm -rf '%s'", zkv_testnode_data_dir (dead->node));
    cr_assert_eq (system (command), 0);
    s_write (leader, 10);
    s_node_t *n4 = s_add (leader, true);
    s_promote (leader, n4, dead);
    s_write (n4, 10);
    s_agree (leader, s_keys);
    zkv_member_list_t list = { .linearizable = true };
    zkv_msg_t *reply = s_call (n4, &zkv_member_list_desc, &list);
    cr_assert_str_eq (s_error (reply), "");
    const zkv_member_list_response_t *members = (const zkv_member_list_response_t *) reply->body;
    cr_assert_eq (members->members.count, 3);
    for (size_t i = 0; i < members->members.count; i++)
        cr_assert_neq (members->members.items [i].member_id, dead->id);
    zkv_msg_destroy (&reply);
}

//  Two voters, the leader removes itself: the other needs to know the
//  removal committed before it can lead alone (the leader tells it as it
//  steps down, and answers votes until it stops)
Test (membership, the_last_of_two_voters_leads_alone_once_the_leader_removed_itself)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_write (n1, 10);
    s_remove (n1, n1);
    cr_assert (eventually (s_node_ended, n1, 15000), "the removed leader did not stop");
    s_write (n2, 10);
    s_agree (n2, s_keys);
}

//  A member down while the membership changed comes back to a leader it
//  has never heard of: it must still follow it (it learns the member from
//  the log it receives from it)
Test (membership, a_member_restarted_after_changes_follows_a_leader_it_never_heard_of)
{
    s_keys = 0;
    s_node_t *n1 = s_first ();
    s_node_t *n2 = s_voter (n1);
    s_node_t *n3 = s_voter (n1);
    s_write (n1, 10);
    s_agree (n1, s_keys);
    s_node_t *leader = s_leader (n1);
    s_node_t *down = leader == n3? n2: n3;
    zkv_testnode_kill (down->node, SIGKILL);
    //  A newcomer replaces the other follower, and leads
    s_node_t *replaced = NULL;
    for (s_node_t *node = s_nodes; node < s_nodes + s_count; node++)
        if (node != leader && node != down)
            replaced = node;
    s_node_t *n4 = s_add (leader, true);
    s_promote (leader, n4, replaced);
    cr_assert (eventually (s_node_ended, replaced, 15000));
    zkv_move_leader_t move = { .target_id = n4->id };
    zkv_msg_t *reply = s_call (leader, &zkv_move_leader_desc, &move);
    cr_assert_str_eq (s_error (reply), "");
    zkv_msg_destroy (&reply);
    s_write (n4, 10);
    //  The member that was down comes back
    cr_assert_eq (zkv_testnode_restart (down->node), 0);
    s_write (n4, 10);
    s_agree (n4, s_keys);
}
