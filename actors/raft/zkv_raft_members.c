/*  =========================================================================
    zkv_raft_members.c — the members as the raft actor knows them, and the
    Cluster service's changes: checked here, on the leader, then proposed.

    The member table is replicated state that storage applies; this actor
    reads it back whenever storage says it changed (storage_state's
    members_version), and connects to whoever joined. A change is served
    by the leader only (a follower refuses it and names the leader, as
    etcd's "not leader"): it alone knows how far a learner has caught up
    and which members it hears from. Add, promote and remove go to the
    core as configuration entries, whose context is the internal request
    with the member's record, so that storage applies the same change on
    every member and answers the client once it is applied.

    Beyond etcd: the strict check counts voters only (etcd counts
    learners), and the leader promotes a learner added with auto_promote
    once it is in sync.
    =========================================================================
*/
#include "zkv_raft_private.h"
#include "zkv_identity.h"
#include "zkv_members.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define IN_SYNC_PERCENT 90              //  a learner this close to the leader may be promoted
#define AUTO_PROMOTE_MSECS 500          //  between looks for learners to promote
#define REMOVED_EXIT_MSECS 1000         //  a removed member stops after this, or two
                                        //  election timeouts if longer: meanwhile
                                        //  it still answers votes, for members that
                                        //  count it until they apply its removal

//  ---------------------------------------------------------------------
//  The member table

s_member_t *
zkv_raft_member (self_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->member_count; i++)
        if (self->members [i].id == id)
            return &self->members [i];
    return NULL;
}

//  The endpoint of a removed member's last record, or NULL
static const char *
s_removed_endpoint (const zkv_cluster_member_list_t *removed, uint64_t id, char *endpoint)
{
    for (size_t i = 0; i < removed->count; i++)
        if (removed->items [i].member_id == id) {
            zkv_bin_str (removed->items [i].peer_endpoint, endpoint, 256);
            return endpoint;
        }
    return NULL;
}

void
zkv_raft_members_load (self_t *self)
{
    msgpack_zone *zone = msgpack_zone_new (8192);
    zkv_cluster_member_list_t members = { NULL, 0 }, removed = { NULL, 0 };
    char *error = NULL;
    if (!zone
    ||  zkv_members_list (self->args->engine, zone, &members, &error)
    ||  zkv_members_removed_list (self->args->engine, zone, &removed, &error))
        zkv_fatal ("raft: cannot read the member table: %s", error? error: "out of memory");
    //  Keep what the leader knows of each (heard from, down)
    s_member_t before [ZKV_RC_MAX_MEMBERS];
    size_t before_count = self->member_count;
    memcpy (before, self->members, before_count * sizeof (s_member_t));
    self->member_count = 0;
    zkv_peer_t peers [2 * ZKV_RC_MAX_MEMBERS], gone [64];
    size_t peer_count = 0;
    for (size_t i = 0; i < members.count && self->member_count < ZKV_RC_MAX_MEMBERS; i++) {
        const zkv_cluster_member_t *record = &members.items [i];
        s_member_t *member = &self->members [self->member_count];
        bool known = false;
        memset (member, 0, sizeof *member);
        for (size_t j = 0; j < before_count; j++)
            if (before [j].id == record->member_id) {
                *member = before [j];
                known = true;
            }
        member->id = record->member_id;
        zkv_bin_str (record->peer_endpoint, member->endpoint, sizeof member->endpoint);
        member->learner = record->is_learner;
        member->started = record->name.size > 0;
        member->auto_promote = record->auto_promote;
        if (!known) {
            //  A newcomer that has not started is down until heard from
            member->last_heard = zclock_mono ();
            member->down = !member->started;
        }
        peers [peer_count++] = (zkv_peer_t) { member->id, member->endpoint };
        self->member_count++;
    }
    //  A voter removed by a joint change still counts until the cluster
    //  leaves the joint configuration: the members keep talking to it
    const zkv_conf_state_t *conf = self->core? zkv_rc_conf (self->core): NULL;
    static char leaving [ZKV_RC_MAX_MEMBERS][256];
    for (uint32_t i = 0; conf && i < conf->outgoing_count; i++) {
        uint64_t id = conf->outgoing [i];
        if (!zkv_raft_member (self, id)
        &&  s_removed_endpoint (&removed, id, leaving [i]))
            peers [peer_count++] = (zkv_peer_t) { id, leaving [i] };
    }
    static char endpoints [64][256];
    size_t gone_count = 0;
    for (size_t i = 0; i < removed.count && gone_count < 64; i++) {
        zkv_bin_str (removed.items [i].peer_endpoint, endpoints [gone_count], 256);
        gone [gone_count] = (zkv_peer_t) { removed.items [i].member_id, endpoints [gone_count] };
        gone_count++;
    }
    if (self->peers) {
        //  A member removed just now hears it before its connection goes:
        //  it may never apply its removal, whose entry it may never get
        for (size_t i = 0; i < self->linked_count; i++) {
            bool stays = self->linked [i] == self->args->member_id;
            for (size_t j = 0; j < peer_count; j++)
                stays |= peers [j].id == self->linked [i];
            if (!stays)
                zkv_peers_tell_removed (self->peers, self->linked [i]);
        }
        zkv_peers_sync (self->peers, peers, peer_count, gone, gone_count);
        self->linked_count = peer_count;
        for (size_t i = 0; i < peer_count; i++)
            self->linked [i] = peers [i].id;
    }
    free (error);
    msgpack_zone_free (zone);
}

void
zkv_raft_answer_join (self_t *self, const zkv_cluster_member_t *joiner)
{
    //  The member added with the joiner's peer endpoint
    const s_member_t *added = NULL;
    for (size_t i = 0; i < self->member_count; i++)
        if (zkv_bin_eq (joiner->peer_endpoint, self->members [i].endpoint))
            added = &self->members [i];
    char endpoint [256];
    zkv_bin_str (joiner->peer_endpoint, endpoint, sizeof endpoint);
    if (!added) {
        zsys_warning ("raft: a member asked to join from %s, which no member has: add it "
                      "first (zkvctl member add)", endpoint);
        return;
    }
    msgpack_zone *zone = msgpack_zone_new (8192);
    zkv_cluster_member_list_t members = { NULL, 0 };
    char *error = NULL;
    if (zone && zkv_members_list (self->args->engine, zone, &members, &error) == 0) {
        zkv_peer_frame_t answer = { .to = added->id, .members = members };
        zkv_peers_answer_join (self->peers, &answer);
        zsys_info ("raft: told member %016llx at %s the cluster it joins",
                   (unsigned long long) added->id, endpoint);
    }
    free (error);
    if (zone)
        msgpack_zone_free (zone);
}

//  ---------------------------------------------------------------------
//  Checking a change (leader)

static uint64_t
s_unix_usecs (void)
{
    struct timeval now;
    gettimeofday (&now, NULL);
    return (uint64_t) now.tv_sec * 1000000 + (uint64_t) now.tv_usec;
}

//  True if id's log is close enough to the leader's to count on it
static bool
s_in_sync (self_t *self, uint64_t id)
{
    uint64_t match, next;
    if (!zkv_rc_progress (self->core, id, &match, &next))
        return false;
    uint64_t last = zkv_rc_last_index (self->core);
    return match * 100 >= last * IN_SYNC_PERCENT;
}

//  Started and heard from: a voter that would answer now
static bool
s_up (self_t *self, const s_member_t *member)
{
    if (member->id == self->args->member_id)
        return true;
    return member->started
        && zclock_mono () - member->last_heard <= self->args->election_timeout;
}

//  The strict check, on voters only: after the change, a quorum of the
//  voters must be up (the voter added counts as down until it started;
//  the learner promoted as up, being in sync)
static bool
s_quorum_after (self_t *self, uint64_t added, uint64_t promoted, uint64_t removed)
{
    size_t voters = 0, up = 0;
    for (size_t i = 0; i < self->member_count; i++) {
        const s_member_t *member = &self->members [i];
        bool voter = (!member->learner || member->id == promoted) && member->id != removed;
        if (!voter)
            continue;
        voters++;
        up += member->id == promoted || s_up (self, member);
    }
    if (added)
        voters++;
    return voters > 0 && up >= voters / 2 + 1;
}

static bool
s_endpoint_valid (zkv_bin_t endpoint)
{
    char text [256];
    if (endpoint.size == 0 || endpoint.size >= sizeof text)
        return false;
    zkv_bin_str (endpoint, text, sizeof text);
    return (strncmp (text, "tcp://", 6) == 0 || strncmp (text, "ipc://", 6) == 0)
        && strlen (text) > 6 && !strchr (text, ',') && !strchr (text, ' ');
}

//  The member, other than except, whose peer endpoint is endpoint
static bool
s_endpoint_taken (self_t *self, zkv_bin_t endpoint, uint64_t except)
{
    for (size_t i = 0; i < self->member_count; i++)
        if (self->members [i].id != except && zkv_bin_eq (endpoint, self->members [i].endpoint))
            return true;
    return false;
}

static size_t
s_learners (self_t *self)
{
    size_t count = 0;
    for (size_t i = 0; i < self->member_count; i++)
        count += self->members [i].learner;
    return count;
}

//  A new member's id: never one a member has or had
static uint64_t
s_new_id (self_t *self, zkv_bin_t endpoint)
{
    char text [256];
    zkv_bin_str (endpoint, text, sizeof text);
    uint64_t now = s_unix_usecs ();
    for (;; now++) {
        uint64_t id = zkv_identity_added_member_id (self->args->cluster_id, text, now);
        uint8_t key [ZKV_META_REMOVED_KEY];
        zkv_members_removed_key (id, key);
        char *value = NULL, *error = NULL;
        size_t size;
        int removed = zkv_engine_get (self->args->engine, ZKV_CF_META, key, sizeof key,
                                      &value, &size, &error);
        if (removed < 0)
            zkv_fatal ("raft: cannot read the removed members: %s", error);
        free (value);
        if (!zkv_raft_member (self, id) && removed == 0)
            return id;
    }
}

static zkv_err_t
s_error_of (zkv_rc_status_t status)
{
    switch (status) {
        case ZKV_RC_CONF_PENDING: return ZKV_ERR_CONF_PENDING;
        case ZKV_RC_NO_LEADER:
        case ZKV_RC_NOT_LEADER:   return ZKV_ERR_NO_LEADER;
        case ZKV_RC_CONF_INVALID: return ZKV_ERR_NOT_ENOUGH_STARTED;
        default:                  return ZKV_ERR_PROPOSAL_DROPPED;
    }
}

//  Proposes the change: changes for the core (none: a normal entry), and
//  the request for storage
static zkv_err_t
s_propose (self_t *self, const zkv_rc_change_t *changes, size_t count,
           zkv_internal_request_t *request)
{
    size_t size;
    uint8_t *bytes = zkv_msg_encode_body (&zkv_internal_request_desc, request, &size);
    if (!bytes)
        zkv_fatal ("out of memory");
    zkv_bin_t data = zkv_bin (bytes, size);
    zkv_rc_status_t status = count? zkv_rc_propose_conf (self->core, changes, count, data)
                                  : zkv_rc_propose (self->core, &data, 1);
    free (bytes);
    return status == ZKV_RC_OK? ZKV_ERR_OK: s_error_of (status);
}

//  True once the member table (storage's) holds what the core applied:
//  the checks read the table, so the last change must be in it first (two
//  learners asked at once must not both pass the count)
static bool
s_table_current (self_t *self)
{
    const zkv_conf_state_t *conf = zkv_rc_conf (self->core);
    for (uint32_t i = 0; i < conf->voter_count; i++) {
        const s_member_t *member = zkv_raft_member (self, conf->voters [i]);
        if (!member || member->learner)
            return false;
    }
    for (uint32_t i = 0; i < conf->learner_count; i++) {
        const s_member_t *member = zkv_raft_member (self, conf->learners [i]);
        if (!member || !member->learner)
            return false;
    }
    //  (an outgoing voter that is removed has left the table already)
    return self->member_count == conf->voter_count + conf->learner_count;
}

void
zkv_raft_member_order (self_t *self, const zkv_member_order_t *order)
{
    uint64_t leader = zkv_rc_leader (self->core);
    if (zkv_rc_role (self->core) != ZKV_RC_LEADER) {
        zkv_raft_refuse (self, order->wait, leader? ZKV_ERR_NOT_LEADER: ZKV_ERR_NO_LEADER, leader);
        return;
    }
    if (!s_table_current (self)) {
        zkv_raft_refuse (self, order->wait, ZKV_ERR_CONF_PENDING, leader);
        return;
    }
    //  A leader just elected has heard from nobody yet as leader: it gives
    //  every member an election timeout (the watch starts its term so)
    zkv_raft_watch_members (self);
    zkv_internal_request_t request = {
        .origin = self->args->member_id, .wait = order->wait,
        .member_add = order->add, .member_remove = order->remove,
        .member_update = order->update, .member_promote = order->promote
    };
    zkv_rc_change_t changes [2];
    size_t count = 0;
    zkv_cluster_member_t record;
    zkv_err_t error = ZKV_ERR_OK;
    if (order->add) {
        const zkv_member_add_t *add = order->add;
        if (!s_endpoint_valid (add->peer_endpoint))
            error = ZKV_ERR_BAD_PEER_ENDPOINT;
        else
        if (s_endpoint_taken (self, add->peer_endpoint, 0))
            error = ZKV_ERR_PEER_EXISTS;
        else
        if (self->member_count >= ZKV_RC_MAX_MEMBERS)
            error = ZKV_ERR_TOO_MANY_MEMBERS;
        else
        if (add->is_learner && s_learners (self) >= self->args->max_learners)
            error = ZKV_ERR_TOO_MANY_LEARNERS;
        else
        if (!add->is_learner && !s_quorum_after (self, 1, 0, 0))
            error = ZKV_ERR_NOT_ENOUGH_STARTED;
        else {
            record = (zkv_cluster_member_t) {
                .member_id = s_new_id (self, add->peer_endpoint),
                .peer_endpoint = add->peer_endpoint, .is_learner = add->is_learner,
                .auto_promote = add->is_learner && add->auto_promote
            };
            request.member = &record;
            changes [count++] = (zkv_rc_change_t) {
                add->is_learner? ZKV_RC_ADD_LEARNER: ZKV_RC_ADD_VOTER, record.member_id
            };
        }
    }
    else
    if (order->remove) {
        const s_member_t *member = zkv_raft_member (self, order->remove->member_id);
        if (!member)
            error = ZKV_ERR_MEMBER_NOT_FOUND;
        else
        if (!member->learner && !s_quorum_after (self, 0, 0, member->id))
            error = ZKV_ERR_NOT_ENOUGH_STARTED;
        else
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_REMOVE, member->id };
    }
    else
    if (order->promote) {
        const zkv_member_promote_t *promote = order->promote;
        const s_member_t *member = zkv_raft_member (self, promote->member_id);
        const s_member_t *replaced = promote->replaces?
                                     zkv_raft_member (self, promote->replaces): NULL;
        if (!member || (promote->replaces && (!replaced || replaced->learner)))
            error = ZKV_ERR_MEMBER_NOT_FOUND;
        else
        if (!member->learner)
            error = ZKV_ERR_NOT_LEARNER;
        else
        if (!s_in_sync (self, member->id))
            error = ZKV_ERR_LEARNER_NOT_READY;
        else
        if (!s_quorum_after (self, 0, member->id, promote->replaces))
            error = ZKV_ERR_NOT_ENOUGH_STARTED;
        else {
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_ADD_VOTER, member->id };
            if (replaced)
                changes [count++] = (zkv_rc_change_t) { ZKV_RC_REMOVE, replaced->id };
        }
    }
    else
    if (order->update) {
        const zkv_member_update_t *update = order->update;
        if (!zkv_raft_member (self, update->member_id))
            error = ZKV_ERR_MEMBER_NOT_FOUND;
        else
        if (!s_endpoint_valid (update->peer_endpoint))
            error = ZKV_ERR_BAD_PEER_ENDPOINT;
        else
        if (s_endpoint_taken (self, update->peer_endpoint, update->member_id))
            error = ZKV_ERR_PEER_EXISTS;
    }
    else
        error = ZKV_ERR_MALFORMED;
    if (error == ZKV_ERR_OK)
        error = s_propose (self, changes, count, &request);
    if (error != ZKV_ERR_OK)
        zkv_raft_refuse (self, order->wait, error, leader);
}

//  ---------------------------------------------------------------------
//  The leader's rounds, and this member's own removal

//  Leader: promotes the learners added with auto_promote that caught up
static void
s_auto_promote (self_t *self)
{
    if (zkv_rc_role (self->core) != ZKV_RC_LEADER || zclock_mono () < self->next_auto_promote)
        return;
    self->next_auto_promote = zclock_mono () + AUTO_PROMOTE_MSECS;
    for (size_t i = 0; i < self->member_count; i++) {
        const s_member_t *member = &self->members [i];
        if (!member->learner || !member->auto_promote || !s_in_sync (self, member->id)
        ||  !s_quorum_after (self, 0, member->id, 0))
            continue;
        zkv_member_promote_t promote = { .member_id = member->id };
        zkv_internal_request_t request = {
            .origin = self->args->member_id, .member_promote = &promote
        };
        zkv_rc_change_t change = { ZKV_RC_ADD_VOTER, member->id };
        if (s_propose (self, &change, 1, &request) == ZKV_ERR_OK)
            zsys_info ("raft: learner %016llx is in sync: promoting it",
                       (unsigned long long) member->id);
        return;                         //  one change at a time
    }
}

void
zkv_raft_removed (self_t *self, const char *how)
{
    if (self->removed_at)
        return;
    self->removed_at = zclock_mono ();
    zsys_error ("raft: the member has been permanently removed from the cluster (%s): "
                "refusing clients, and stopping", how);
    const char *role = "removed";
    zkv_raft_state_t state = {
        .term = zkv_rc_term (self->core), .leader = 0, .role = zkv_bin (role, strlen (role))
    };
    zkv_io_send (self->front, &zkv_raft_state_desc, &state);
}

void
zkv_raft_members_check (self_t *self)
{
    const zkv_conf_state_t *conf = zkv_rc_conf (self->core);
    uint64_t me = self->args->member_id;
    bool member = zkv_rc_conf_is_voter (conf, me) || zkv_rc_conf_is_learner (conf, me);
    if (member)
        self->was_member = true;
    else
    if (self->was_member)
        zkv_raft_removed (self, "its removal was applied");
    //  The configuration's learners, for front (Status) and the events
    bool learner = zkv_rc_conf_is_learner (conf, me);
    if (learner != self->learner) {
        self->learner = learner;
        zkv_raft_push_state (self);
    }
    s_auto_promote (self);
    //  Stopped as a member that is asked to stop: the node stops its actors
    int64_t grace = 2 * (int64_t) self->args->election_timeout;
    if (grace < REMOVED_EXIT_MSECS)
        grace = REMOVED_EXIT_MSECS;
    if (self->removed_at && !self->stopping && zclock_mono () - self->removed_at >= grace) {
        self->stopping = true;
        kill (getpid (), SIGTERM);
    }
}
