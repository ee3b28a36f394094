/*  test_move_leader.c — MoveLeader on real 3-member clusters: asked of a
    follower, by name (zkvctl) and by id (the client library); to the
    leader itself; to members that do not exist; while the target is
    paused, when the transfer aborts, writes are refused with a retryable
    error meanwhile and succeed again after. The transfer events reach a
    subscriber of a member that is neither end of the transfer. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster_fixture.h"
#include "zkv_testnode.h"

TestSuite (move_leader, .fini = cf_teardown, .timeout = 120);

//  The two members that are not name, in order
static void
s_others (const char *name, const char **first, const char **second)
{
    const char *found [2];
    size_t count = 0;
    for (size_t i = 0; i < 3; i++)
        if (!streq (zkv_harness_name (cf_cluster, i), name))
            found [count++] = zkv_harness_name (cf_cluster, i);
    *first = found [0];
    *second = found [1];
}

//  A subscriber to one member's events, known to receive them: the member
//  defragments until the subscriber hears it say so (a SUB socket hears
//  nothing published before its subscription reached the publisher)
static zsock_t *
s_listen_to (const char *name)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = cf_call (name, &zkv_status_desc, &request);
    cr_assert (reply && !zkv_reply_error (reply), "%s did not answer Status", name);
    zkv_bin_t endpoint = ((zkv_status_response_t *) reply->body)->events_endpoint;
    zsock_t *sub = zsock_new_sub (NULL, "");
    cr_assert_eq (zsock_connect (sub, "%.*s", (int) endpoint.size, (const char *) endpoint.data),
                  0);
    zkv_msg_destroy (&reply);
    msgpack_zone *zone = msgpack_zone_new (1024);
    void *heard = NULL;
    for (int round = 0; round < 100 && !heard; round++) {
        zkv_defragment_t defragment = { false };
        reply = cf_call (name, &zkv_defragment_desc, &defragment);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
        heard = cf_event (sub, "defrag", &zkv_defrag_event_desc, zone, 100);
    }
    msgpack_zone_free (zone);
    cr_assert_not_null (heard, "the events of %s never came", name);
    return sub;
}

//  A cluster (with more member flags), its leader, the two other members
//  (target and third), and a subscriber to third's events
static zsock_t *
s_cluster_up (const char *const *flags, char *leader, size_t size, const char **target,
              const char **third)
{
    cf_up (flags);
    cf_leader (leader, size);
    s_others (leader, target, third);
    return s_listen_to (*third);
}

//  The transfer events heard on sub
typedef struct {
    zkv_transfer_event_t *items [64];
    size_t count;
} s_heard_t;

//  Listens to sub (the events of one member, which come in no set order
//  when told by different members) until a transfer event in phase has
//  come (5 s at most); returns it, or NULL. Every event heard is kept.
typedef struct {
    zsock_t *sub;
    s_heard_t *heard;
    const char *phase;
    msgpack_zone *zone;
} s_listener_t;

//  The transfer event in phase among those heard, or NULL
static zkv_transfer_event_t *
s_heard_phase (const s_heard_t *heard, const char *phase)
{
    for (size_t i = 0; i < heard->count; i++)
        if (cf_text_is (heard->items [i]->phase, phase))
            return heard->items [i];
    return NULL;
}

//  True once the phase is heard, or no more can be kept; else listens for
//  one more event (half a second)
static bool
s_phase_heard (void *args)
{
    s_listener_t *self = (s_listener_t *) args;
    if (s_heard_phase (self->heard, self->phase) || self->heard->count == 64)
        return true;
    zkv_transfer_event_t *event = (zkv_transfer_event_t *) cf_event (
        self->sub, "transfer", &zkv_transfer_event_desc, self->zone, 500);
    if (event)
        self->heard->items [self->heard->count++] = event;
    return false;
}

static zkv_transfer_event_t *
s_transfer_event (zsock_t *sub, s_heard_t *heard, const char *phase, msgpack_zone *zone)
{
    s_listener_t listener = { sub, heard, phase, zone };
    eventually (s_phase_heard, &listener, 5000);
    return s_heard_phase (heard, phase);
}

static zkv_msg_t *
s_move (const char *at, uint64_t target_id, const char *target_name)
{
    zkv_move_leader_t request = { .target_id = target_id };
    if (target_name)
        request.name = cf_bin (target_name);
    zkv_msg_t *reply = cf_call (at, &zkv_move_leader_desc, &request);
    cr_assert_not_null (reply, "%s did not answer MoveLeader", at);
    return reply;
}

typedef struct {
    const char *member;
    uint64_t id;                //  the leader wanted
    uint64_t leader;            //  the leader the member named last
} s_following_t;

//  True once the member's Status names the leader wanted
static bool
s_follows (void *args)
{
    s_following_t *self = (s_following_t *) args;
    zkv_status_t request = { false };
    zkv_msg_t *reply = cf_call (self->member, &zkv_status_desc, &request);
    if (reply && !zkv_reply_error (reply))
        self->leader = ((zkv_status_response_t *) reply->body)->leader;
    zkv_msg_destroy (&reply);
    return self->leader == self->id;
}

//  Every member agrees that name leads (Status, until they do)
static void
s_all_follow (const char *name)
{
    for (size_t i = 0; i < 3; i++) {
        s_following_t following = { zkv_harness_name (cf_cluster, i), cf_member_id (name), 0 };
        cr_assert (eventually (s_follows, &following, 5000), "%s follows %016" PRIx64 ", not %s",
                   following.member, following.leader, name);
    }
}

Test (move_leader, from_a_follower_by_name_and_by_id_to_itself_and_to_no_member)
{
    char leader [32];
    const char *target, *third;
    zsock_t *sub = s_cluster_up (NULL, leader, sizeof leader, &target, &third);
    msgpack_zone *zone = msgpack_zone_new (4096);
    s_heard_t heard = { .count = 0 };

    //  zkvctl, by name, asked of the member that is neither end
    const char *by_name [] = { "move-leader", target, NULL };
    zkv_run_t run = cf_zkvctl (zkv_harness_endpoint (cf_cluster, third), by_name);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char expected [128];
    snprintf (expected, sizeof expected, "Leadership transferred from %" PRIx64 " to %" PRIx64 "\n",
              cf_member_id (leader), cf_member_id (target));
    cr_assert_str_eq (run.out, expected);
    zkv_run_free (&run);
    s_all_follow (target);

    //  The third member published the whole transfer
    zkv_transfer_event_t *started = s_transfer_event (sub, &heard, "started", zone);
    cr_assert_not_null (started, "no started event");
    cr_assert_eq (started->from, cf_member_id (leader));
    cr_assert_eq (started->to, cf_member_id (target));
    cr_assert_eq (started->member, cf_member_id (third));
    zkv_transfer_event_t *completed = s_transfer_event (sub, &heard, "completed", zone);
    cr_assert_not_null (completed, "no completed event");
    cr_assert_eq (completed->from, cf_member_id (leader));
    cr_assert_eq (completed->to, cf_member_id (target));
    cr_assert_eq (completed->reporter, cf_member_id (target));
    cr_assert_gt (completed->term, started->term);

    //  By id, through the client library, asked of a follower: back again
    zkv_msg_t *reply = s_move (third, cf_member_id (leader), NULL);
    cr_assert_null (zkv_reply_error (reply), "%s", zkv_reply_error (reply)->message.data);
    zkv_move_leader_response_t *moved = (zkv_move_leader_response_t *) reply->body;
    cr_assert_eq (moved->previous, cf_member_id (target));
    cr_assert_eq (moved->leader, cf_member_id (leader));
    zkv_msg_destroy (&reply);
    s_all_follow (leader);

    //  To the leader itself: done at once, nothing changes (Status's term is
    //  the applied entry's: a write applied first makes it the leader's)
    zkv_client_t *writer = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cr_assert (cf_put (writer, "term", "1"));
    zkv_client_destroy (&writer);
    zkv_status_t status_request = { false };
    reply = cf_call (leader, &zkv_status_desc, &status_request);
    uint64_t term = ((zkv_status_response_t *) reply->body)->raft_term;
    zkv_msg_destroy (&reply);
    reply = s_move (target, 0, leader);
    cr_assert_null (zkv_reply_error (reply));
    moved = (zkv_move_leader_response_t *) reply->body;
    cr_assert_eq (moved->previous, cf_member_id (leader));
    cr_assert_eq (moved->leader, cf_member_id (leader));
    zkv_msg_destroy (&reply);
    reply = cf_call (leader, &zkv_status_desc, &status_request);
    cr_assert_eq (((zkv_status_response_t *) reply->body)->raft_term, term);
    cr_assert_eq (((zkv_status_response_t *) reply->body)->leader, cf_member_id (leader));
    zkv_msg_destroy (&reply);

    //  To no member: by id, by name, and an id and a name that disagree
    reply = s_move (target, 0x1234, NULL);
    cr_assert_not_null (zkv_reply_error (reply));
    cr_assert (cf_text_is (zkv_reply_error (reply)->message, "etcdserver: bad leader transferee"));
    cr_assert (cf_text_is (zkv_reply_error (reply)->code, "FailedPrecondition"));
    zkv_msg_destroy (&reply);
    reply = s_move (target, cf_member_id (target), third);
    cr_assert_not_null (zkv_reply_error (reply));
    char disagree [200];
    snprintf (disagree, sizeof disagree, "zkv: malformed request: target_id %016llx and name "
              "\"%s\" (member %016llx) name different members",
              (unsigned long long) cf_member_id (target), third,
              (unsigned long long) cf_member_id (third));
    cr_assert (cf_text_is (zkv_reply_error (reply)->message, disagree), "%.*s",
               (int) zkv_reply_error (reply)->message.size,
               (const char *) zkv_reply_error (reply)->message.data);
    cr_assert (cf_text_is (zkv_reply_error (reply)->code, "InvalidArgument"));
    zkv_msg_destroy (&reply);
    const char *nobody [] = { "move-leader", "nobody", NULL };
    run = cf_zkvctl (zkv_harness_endpoints (cf_cluster), nobody);
    cr_assert_eq (run.code, 1);
    cr_assert_str_eq (run.err, "Error: etcdserver: bad leader transferee\n");
    zkv_run_free (&run);
    const char *no_target [] = { "move-leader", NULL };
    run = cf_zkvctl (zkv_harness_endpoints (cf_cluster), no_target);
    cr_assert_eq (run.code, 128);
    cr_assert_str_eq (run.err, "Error: move-leader command needs 1 argument\n");
    zkv_run_free (&run);
    s_all_follow (leader);

    msgpack_zone_free (zone);
    zsock_destroy (&sub);
}

Test (move_leader, a_paused_target_aborts_the_transfer_and_the_leader_serves_again)
{
    //  A longer election timeout: the transfer is pending for 4 s, long
    //  enough for a write to meet it on a loaded machine
    const char *flags [] = { "--election-timeout", "4000", NULL };
    char leader [32];
    const char *target, *third;
    zsock_t *sub = s_cluster_up (flags, leader, sizeof leader, &target, &third);
    msgpack_zone *zone = msgpack_zone_new (4096);
    s_heard_t heard = { .count = 0 };
    zkv_client_t *writer = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cr_assert (cf_put (writer, "before", "1"));
    //  (the member's refusal itself, not the library's retries of it)
    zkv_client_set_retry (writer, false);

    cr_assert_eq (zkv_harness_signal (cf_cluster, target, SIGSTOP), 0);
    zkv_client_t *mover = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 10000);
    zkv_move_leader_t request = { .target_id = cf_member_id (target) };
    cr_assert_neq (zkv_client_send (mover, &zkv_move_leader_desc, &request, 5000), 0);
    cr_assert_not_null (s_transfer_event (sub, &heard, "started", zone), "no started event");

    //  Mid-transfer, a write fails at once with a retryable error that
    //  names the leader
    zkv_put_t put = { .key = cf_bin ("during"), .value = cf_bin ("1") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (writer, &zkv_put_desc, &put, &status);
    cr_assert_not_null (reply);
    const zkv_error_t *error = zkv_reply_error (reply);
    cr_assert_not_null (error, "a write went through mid-transfer");
    cr_assert (cf_text_is (error->code, "Unavailable"));
    char text [256];
    zkv_bin_str (error->message, text, sizeof text);
    cr_assert_not_null (strstr (text, "raft proposal dropped"), "%s", text);
    char named [32];
    snprintf (named, sizeof named, "leader %016" PRIx64, cf_member_id (leader));
    cr_assert_not_null (strstr (text, named), "%s", text);
    zkv_msg_destroy (&reply);

    //  One election timeout later the transfer aborts: the request fails
    //  with etcd's text, and every member says why
    zkv_transfer_event_t *aborted = s_transfer_event (sub, &heard, "aborted", zone);
    cr_assert_not_null (aborted, "no aborted event");
    cr_assert_eq (aborted->to, cf_member_id (target));
    cr_assert_eq (aborted->from, cf_member_id (leader));
    cr_assert_gt (aborted->reason.size, 0);
    reply = zkv_client_recv (mover, &zkv_move_leader_desc, 10000, &status);
    cr_assert_not_null (reply, "the move was never answered");
    cr_assert_not_null (zkv_reply_error (reply));
    cr_assert (cf_text_is (zkv_reply_error (reply)->message,
                           "etcdserver: request timed out, leader transfer took too long"));
    zkv_msg_destroy (&reply);

    //  The old leader serves again: the write succeeds on retry
    cr_assert (cf_put (writer, "during", "1"), "the leader did not serve again");
    cr_assert_eq (zkv_harness_signal (cf_cluster, target, SIGCONT), 0);
    free (cf_converged ());

    zkv_client_destroy (&mover);
    zkv_client_destroy (&writer);
    msgpack_zone_free (zone);
    zsock_destroy (&sub);
}

typedef struct {
    zsock_t *sub;
    uint64_t peer;
    const char *state;
    msgpack_zone *zone;
    zkv_member_event_t *event;  //  the last event heard
} s_member_listener_t;

//  True once a member event about the peer in the state is heard (half a
//  second to hear one)
static bool
s_member_heard (void *args)
{
    s_member_listener_t *self = (s_member_listener_t *) args;
    self->event = (zkv_member_event_t *) cf_event (self->sub, "member", &zkv_member_event_desc,
                                                   self->zone, 500);
    return self->event && self->event->peer == self->peer
        && cf_text_is (self->event->state, self->state);
}

//  The next member event about peer in state from sub (NULL if none in 5 s)
static zkv_member_event_t *
s_member_event (zsock_t *sub, uint64_t peer, const char *state, msgpack_zone *zone)
{
    s_member_listener_t listener = { sub, peer, state, zone, NULL };
    return eventually (s_member_heard, &listener, 5000)? listener.event: NULL;
}

Test (move_leader, the_leader_tells_every_member_when_a_member_goes_down_and_comes_back)
{
    char leader [32];
    const char *paused, *third;
    zsock_t *sub = s_cluster_up (NULL, leader, sizeof leader, &paused, &third);
    msgpack_zone *zone = msgpack_zone_new (4096);
    cr_assert_eq (zkv_harness_signal (cf_cluster, paused, SIGSTOP), 0);
    zkv_member_event_t *down = s_member_event (sub, cf_member_id (paused), "down", zone);
    cr_assert_not_null (down, "no member down event");
    cr_assert_eq (down->reporter, cf_member_id (leader));
    cr_assert_eq (down->member, cf_member_id (third));
    cr_assert_eq (zkv_harness_signal (cf_cluster, paused, SIGCONT), 0);
    cr_assert_not_null (s_member_event (sub, cf_member_id (paused), "up", zone),
                        "no member up event");
    msgpack_zone_free (zone);
    zsock_destroy (&sub);
}
