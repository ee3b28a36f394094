/*  =========================================================================
    zkv_raft_moves.c — MoveLeader, and the events the cluster tells about
    itself: transfers and members up or down.

    Any member takes a MoveLeader: it checks the target, asks the core to
    transfer (which forwards the request to the leader when this member
    follows) and keeps the request until it sees the target lead, which it
    learns from the new leader's `completed` event or from the new leader's
    first message, whichever comes first: nothing is polled. A request is
    answered with an error when the transfer is reported aborted, or at its
    deadline.

    Transfer events are told by the member that sees them: the leader that
    starts a transfer sends `started` to every member; the target, once it
    wins the election the TimeoutNow started, sends `completed`; the leader
    whose transfer fails sends `aborted`. Each member publishes what it
    hears, so a subscriber to any member sees the whole transfer. The
    leader also tells every member when it sees a member go down (nothing
    heard from it for an election timeout) or come back.
    =========================================================================
*/
#include "zkv_raft_private.h"
#include "zkv_metrics.h"
#include "zkv_clock.h"
#include "zkv_members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MOVE_MSECS (3600 * 1000)    //  the longest deadline a request may ask

//  True if id is a member (0 never is)
static bool
s_is_member (self_t *self, uint64_t id)
{
    return zkv_raft_member (self, id) != NULL;
}

//  True if id is a member that votes: leadership goes to no other
static bool
s_is_voter (self_t *self, uint64_t id)
{
    const s_member_t *member = zkv_raft_member (self, id);
    return member && !member->learner;
}

//  ---------------------------------------------------------------------
//  Telling every member

//  Publishes an event here and sends it to every other member
static void
s_broadcast (self_t *self, const char *topic, const zkv_desc_t *desc, const void *body)
{
    size_t size;
    uint8_t *bytes = zkv_msg_encode_body (desc, body, &size);
    if (!bytes)
        return;
    zkv_event_t event = { .topic = zkv_bin (topic, strlen (topic)), .body = zkv_bin (bytes, size) };
    zkv_io_send (self->front, &zkv_event_desc, &event);
    for (size_t i = 0; i < self->member_count; i++) {
        uint64_t peer = self->members [i].id;
        if (peer != self->args->member_id) {
            zkv_peer_frame_t frame = { .to = peer, .events = { &event, 1 } };
            zkv_peers_send (self->peers, &frame);
        }
    }
    free (bytes);
}

//  ---------------------------------------------------------------------
//  MoveLeader requests

//  (front writes the header of the answer: raft knows no revision)
static void
s_move_answer (self_t *self, const s_move_t *move, uint64_t leader)
{
    zkv_move_leader_response_t response = {
        .previous = move->previous, .leader = leader,
        .took_usecs = (uint64_t) (zkv_mono_usecs () - move->started)
    };
    zkv_metrics_observe (&zkv_metrics.move_leader, (int64_t) response.took_usecs * 1000);
    size_t size;
    uint8_t *reply = zkv_msg_encode_body (&zkv_move_leader_response_desc, &response, &size);
    if (!reply)
        return;
    zkv_answer_t answer = { .wait = move->wait, .reply = zkv_bin (reply, size) };
    zkv_answers_t answers = { .answers = { &answer, 1 } };
    zkv_io_send (self->front, &zkv_answers_desc, &answers);
    free (reply);
}

//  The member a request names (0 if none) into *target: by id, or by
//  name from the member table. Returns ZKV_ERR_OK; ZKV_ERR_MALFORMED (the
//  reason into why) when both are given and the name is not that of the
//  member target_id; ZKV_ERR_BAD_TRANSFEREE when the member is no voter.
static zkv_err_t
s_move_target (self_t *self, const zkv_move_leader_t *request, uint64_t *target,
               char *why, size_t why_size)
{
    *target = 0;
    if (request->name.size == 0) {
        //  A learner is no transferee (etcd's "bad leader transferee")
        *target = request->target_id;
        return s_is_voter (self, *target)? ZKV_ERR_OK: ZKV_ERR_BAD_TRANSFEREE;
    }
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_cluster_member_list_t members = { NULL, 0 };
    char *error = NULL;
    uint64_t named = 0;
    if (zkv_members_list (self->args->engine, zone, &members, &error) == 0) {
        for (size_t i = 0; i < members.count; i++)
            if (members.items [i].name.size == request->name.size
            &&  memcmp (members.items [i].name.data, request->name.data, request->name.size) == 0)
                named = members.items [i].member_id;
    }
    else
        zsys_error ("raft: cannot read the member table: %s", error);
    free (error);
    msgpack_zone_free (zone);
    if (request->target_id && named != request->target_id) {
        //  Which of the two was meant is not ours to guess
        int shown = request->name.size > 64? 64: (int) request->name.size;
        if (named)
            snprintf (why, why_size, "target_id %016llx and name \"%.*s\" (member %016llx) "
                      "name different members", (unsigned long long) request->target_id,
                      shown, (const char *) request->name.data, (unsigned long long) named);
        else
            snprintf (why, why_size, "target_id %016llx and name \"%.*s\" (no member) "
                      "name different members", (unsigned long long) request->target_id,
                      shown, (const char *) request->name.data);
        return ZKV_ERR_MALFORMED;
    }
    //  A name is only as good as the member it names
    *target = named;
    return s_is_voter (self, named)? ZKV_ERR_OK: ZKV_ERR_BAD_TRANSFEREE;
}

void
zkv_raft_move (self_t *self, const zkv_move_order_t *order)
{
    const zkv_move_leader_t *request = order->request;
    uint64_t target;
    char why [256];
    zkv_err_t refused = s_move_target (self, request, &target, why, sizeof why);
    uint64_t leader = zkv_rc_leader (self->core);
    if (refused != ZKV_ERR_OK) {
        zkv_raft_refuse_why (self, order->wait, refused, leader,
                             refused == ZKV_ERR_MALFORMED? why: NULL);
        return;
    }
    s_move_t move = {
        .wait = order->wait, .target = target, .previous = leader,
        .started = zkv_mono_usecs ()
    };
    if (leader == target) {
        //  Done already; passed on all the same, since a transfer to the
        //  leader cancels the one pending (etcd-raft's rule)
        if (zkv_rc_role (self->core) == ZKV_RC_LEADER && zkv_rc_transferee (self->core))
            self->transfer_cancelled = true;
        zkv_rc_transfer (self->core, target);
        s_move_answer (self, &move, leader);
        return;
    }
    if (!leader || zkv_rc_transfer (self->core, target) != ZKV_RC_OK) {
        zkv_raft_refuse (self, order->wait, ZKV_ERR_NO_LEADER, 0);
        return;
    }
    uint64_t msecs = request->timeout_ms? request->timeout_ms
                                        : 2 * (uint64_t) self->args->election_timeout;
    if (msecs > MAX_MOVE_MSECS)
        msecs = MAX_MOVE_MSECS;
    move.deadline = zclock_mono () + (int64_t) msecs;
    self->moves = (s_move_t *) realloc (self->moves, (self->move_count + 1) * sizeof (s_move_t));
    if (!self->moves)
        zkv_fatal ("out of memory");
    self->moves [self->move_count++] = move;
}

//  How held moves end: their target leads; a transfer to their target was
//  aborted (only moves that heard it start: an abort told late about an
//  earlier transfer must not fail a new request); their deadline passed
typedef enum { S_LEADS, S_ABORTED, S_EXPIRED } s_end_t;

static void
s_moves_end (self_t *self, uint64_t target, s_end_t how)
{
    int64_t now = zclock_mono ();
    size_t kept = 0;
    for (size_t i = 0; i < self->move_count; i++) {
        s_move_t *move = &self->moves [i];
        bool ends = how == S_EXPIRED? move->deadline <= now
                  : move->target == target && (how == S_LEADS || move->started_heard);
        if (!ends)
            self->moves [kept++] = *move;
        else
        if (how == S_LEADS)
            s_move_answer (self, move, target);
        else
            zkv_raft_refuse (self, move->wait, ZKV_ERR_TRANSFER_TIMEOUT,
                             zkv_rc_leader (self->core));
    }
    self->move_count = kept;
}

//  A transfer to target started: the moves to it may now end if it aborts
static void
s_moves_started (self_t *self, uint64_t target)
{
    for (size_t i = 0; i < self->move_count; i++)
        if (self->moves [i].target == target)
            self->moves [i].started_heard = true;
}

void
zkv_raft_moves_check (self_t *self)
{
    if (!self->move_count)
        return;
    uint64_t leader = zkv_rc_leader (self->core);
    if (leader)
        s_moves_end (self, leader, S_LEADS);
    s_moves_end (self, 0, S_EXPIRED);
}

//  ---------------------------------------------------------------------
//  Transfer events

static void
s_transfer_tell (self_t *self, const char *phase, uint64_t from, uint64_t to, int64_t since,
                 const char *reason)
{
    zkv_transfer_event_t event = {
        .member = self->args->member_id, .phase = zkv_bin (phase, strlen (phase)),
        .from = from, .to = to, .term = zkv_rc_term (self->core),
        .elapsed_ms = since? (uint64_t) (zkv_mono_usecs () - since) / 1000: 0,
        .reason = zkv_bin (reason, reason? strlen (reason): 0),
        .reporter = self->args->member_id
    };
    if (streq (phase, "started")) {
        self->heard_started_from = from;
        self->heard_started_to = to;
        self->heard_started_at = zkv_mono_usecs ();
        s_moves_started (self, to);
    }
    zsys_info ("raft: leadership transfer %016llx -> %016llx %s%s%s",
               (unsigned long long) from, (unsigned long long) to, phase,
               reason? ": ": "", reason? reason: "");
    s_broadcast (self, "transfer", &zkv_transfer_event_desc, &event);
    if (streq (phase, "completed"))
        s_moves_end (self, to, S_LEADS);
    else
    if (streq (phase, "aborted"))
        s_moves_end (self, to, S_ABORTED);
}

void
zkv_raft_watch_transfer (self_t *self)
{
    zkv_rc_role_t role = zkv_rc_role (self->core);
    uint64_t term = zkv_rc_term (self->core);
    uint64_t leader = zkv_rc_leader (self->core);
    uint64_t me = self->args->member_id;
    //  Won the election a transfer to us started
    uint64_t from = zkv_rc_transferred_from (self->core);
    if (role == ZKV_RC_LEADER && from && self->completed_term != term) {
        self->completed_term = term;
        bool heard = self->heard_started_from == from && self->heard_started_to == me;
        s_transfer_tell (self, "completed", from, me, heard? self->heard_started_at: 0, NULL);
    }
    uint64_t transferee = role == ZKV_RC_LEADER? zkv_rc_transferee (self->core): 0;
    if (self->transfer_to) {
        char reason [96];
        if (role == ZKV_RC_LEADER && term == self->transfer_term) {
            if (transferee == self->transfer_to)
                return;                 //  still under way
            if (transferee)
                snprintf (reason, sizeof reason, "superseded by a transfer to %016llx",
                          (unsigned long long) transferee);
            else
            if (self->transfer_cancelled)
                snprintf (reason, sizeof reason, "cancelled by a move to the leader itself");
            else
                snprintf (reason, sizeof reason, "not done within an election timeout");
        }
        else {
            //  We stepped down: the election tells how it ended, and the
            //  target tells it itself when it won
            if (leader == 0 || leader == self->transfer_to) {
                if (leader)
                    self->transfer_to = 0;
                return;
            }
            snprintf (reason, sizeof reason, "%016llx was elected instead",
                      (unsigned long long) leader);
        }
        s_transfer_tell (self, "aborted", me, self->transfer_to, self->transfer_started, reason);
        self->transfer_to = 0;
    }
    self->transfer_cancelled = false;
    if (transferee) {
        self->transfer_to = transferee;
        self->transfer_term = term;
        self->transfer_started = zkv_mono_usecs ();
        s_transfer_tell (self, "started", me, transferee, 0, NULL);
    }
}

//  ---------------------------------------------------------------------
//  Member events (leader)

void
zkv_raft_heard_from (self_t *self, uint64_t peer)
{
    s_member_t *member = zkv_raft_member (self, peer);
    if (member)
        member->last_heard = zclock_mono ();
}

static void
s_member_tell (self_t *self, uint64_t peer, bool down)
{
    const char *state = down? "down": "up";
    zsys_info ("raft: member %016llx is %s", (unsigned long long) peer, state);
    zkv_member_event_t event = {
        .member = self->args->member_id, .peer = peer,
        .state = zkv_bin (state, strlen (state)), .term = zkv_rc_term (self->core),
        .reporter = self->args->member_id
    };
    s_broadcast (self, "member", &zkv_member_event_desc, &event);
}

void
zkv_raft_watch_members (self_t *self)
{
    bool leading = zkv_rc_role (self->core) == ZKV_RC_LEADER;
    int64_t now = zclock_mono ();
    if (leading && !self->was_leading) {
        //  A new leader gives every member an election timeout to be
        //  heard, then tells the state of each (what a previous leader
        //  told may be stale), then only changes
        for (size_t i = 0; i < self->member_count; i++)
            self->members [i].last_heard = now;
        self->leading_since = now;
        self->members_told = false;
    }
    self->was_leading = leading;
    if (!leading || now - self->leading_since < self->args->election_timeout)
        return;
    for (size_t i = 0; i < self->member_count; i++) {
        s_member_t *member = &self->members [i];
        if (member->id == self->args->member_id)
            continue;
        bool down = now - member->last_heard > self->args->election_timeout;
        if (self->members_told && down == member->down)
            continue;
        member->down = down;
        s_member_tell (self, member->id, down);
    }
    self->members_told = true;
}

//  ---------------------------------------------------------------------
//  Events from other members

void
zkv_raft_peer_events (self_t *self, const zkv_peer_frame_t *frame)
{
    for (size_t i = 0; i < frame->events.count; i++) {
        const zkv_event_t *event = &frame->events.items [i];
        bool transfer = zkv_bin_eq (event->topic, "transfer");
        bool member = zkv_bin_eq (event->topic, "member");
        msgpack_zone *zone = msgpack_zone_new (1024);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status;
        void *body = transfer || member
                   ? zkv_msg_decode_body (event->body.data, event->body.size,
                                          transfer? &zkv_transfer_event_desc
                                                  : &zkv_member_event_desc,
                                          zone, &limits, &status)
                   : NULL;
        //  Told by the member that saw it, about members
        bool valid = false;
        if (body && transfer) {
            zkv_transfer_event_t *told = (zkv_transfer_event_t *) body;
            valid = told->reporter == frame->from && s_is_member (self, told->from)
                 && s_is_member (self, told->to);
        }
        else
        if (body) {
            zkv_member_event_t *told = (zkv_member_event_t *) body;
            valid = told->reporter == frame->from && s_is_member (self, told->peer);
        }
        if (!valid) {
            zsys_warning ("raft: %016llx sent an event this member cannot take",
                          (unsigned long long) frame->from);
            msgpack_zone_free (zone);
            continue;
        }
        //  Published as this member's event, naming who reported it
        size_t size = 0;
        uint8_t *bytes;
        if (transfer) {
            zkv_transfer_event_t *told = (zkv_transfer_event_t *) body;
            told->member = self->args->member_id;
            bytes = zkv_msg_encode_body (&zkv_transfer_event_desc, told, &size);
            if (zkv_bin_eq (told->phase, "started")) {
                self->heard_started_from = told->from;
                self->heard_started_to = told->to;
                self->heard_started_at = zkv_mono_usecs ();
                s_moves_started (self, told->to);
            }
            else
            if (zkv_bin_eq (told->phase, "completed"))
                s_moves_end (self, told->to, S_LEADS);
            else
            if (zkv_bin_eq (told->phase, "aborted"))
                s_moves_end (self, told->to, S_ABORTED);
        }
        else {
            zkv_member_event_t *told = (zkv_member_event_t *) body;
            told->member = self->args->member_id;
            bytes = zkv_msg_encode_body (&zkv_member_event_desc, told, &size);
        }
        if (bytes) {
            zkv_event_t local = { .topic = event->topic, .body = zkv_bin (bytes, size) };
            zkv_io_send (self->front, &zkv_event_desc, &local);
        }
        free (bytes);
        msgpack_zone_free (zone);
    }
}
