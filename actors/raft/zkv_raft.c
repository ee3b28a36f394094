/*  =========================================================================
    zkv_raft.c — the raft actor: the core given I/O (see zkv_raft.h).
    =========================================================================
*/
#include "zkv_raft_private.h"
#include "zkv_members.h"
#include "zkv_metrics.h"

#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Telling front

void
zkv_raft_refuse (self_t *self, uint64_t wait, zkv_err_t error, uint64_t leader)
{
    zkv_raft_refuse_why (self, wait, error, leader, NULL);
}

void
zkv_raft_refuse_why (self_t *self, uint64_t wait, zkv_err_t error, uint64_t leader,
                     const char *detail)
{
    if (!wait)
        return;                         //  our own proposal: nobody waits
    zkv_refused_t refused = {
        .wait = wait, .error = (uint64_t) error, .leader = leader,
        .detail = zkv_bin (detail, detail? strlen (detail): 0)
    };
    zkv_io_send (self->front, &zkv_refused_desc, &refused);
}

void
zkv_raft_push_state (self_t *self)
{
    if (self->removed_at)
        return;                         //  front refuses everything from then on
    //  A learner follows, and says so: front serves it as etcd serves one
    const char *role = self->learner? "learner": zkv_rc_role_name (zkv_rc_role (self->core));
    zkv_raft_state_t state = {
        .term = zkv_rc_term (self->core),
        .leader = zkv_rc_leader (self->core),
        .role = zkv_bin (role, strlen (role))
    };
    zkv_io_send (self->front, &zkv_raft_state_desc, &state);
    zkv_io_send (self->alarm, &zkv_raft_state_desc, &state);
}

//  ---------------------------------------------------------------------
//  Proposals

//  Takes a burst of requests from front; msg is held until the burst's
//  proposals are handed to the core (they point into it)
static void
s_requests_add (self_t *self, zkv_msg_t *msg)
{
    zkv_raft_requests_t *requests = (zkv_raft_requests_t *) msg->body;
    for (size_t i = 0; i < requests->reads.count; i++)
        zkv_raft_read_add (self, requests->reads.items [i].wait, requests->reads.items [i].request);
    size_t count = requests->proposals.count;
    //  Twin arrays of one room: the first grows with a copy of it
    size_t room = self->proposal_room;
    if (zkv_grow ((void **) &self->proposals, &room, self->proposal_count + count,
                  sizeof (zkv_bin_t))
    ||  zkv_grow ((void **) &self->proposal_waits, &self->proposal_room,
                  self->proposal_count + count, sizeof (uint64_t)))
        zkv_fatal ("out of memory");
    for (size_t i = 0; i < count; i++) {
        self->proposals [self->proposal_count] = requests->proposals.items [i].request;
        self->proposal_waits [self->proposal_count] = requests->proposals.items [i].wait;
        self->proposal_count++;
    }
    if (zkv_grow ((void **) &self->held, &self->held_room, self->held_count + 1,
                  sizeof (zkv_msg_t *)))
        zkv_fatal ("out of memory");
    self->held [self->held_count++] = msg;
}

static zkv_err_t
s_error_of (zkv_rc_status_t status)
{
    switch (status) {
        case ZKV_RC_NO_LEADER:    return ZKV_ERR_NO_LEADER;
        case ZKV_RC_TRANSFERRING: return ZKV_ERR_PROPOSAL_DROPPED;
        case ZKV_RC_TOO_LARGE:    return ZKV_ERR_TOO_MANY_REQUESTS;
        default:                  return ZKV_ERR_PROPOSAL_DROPPED;
    }
}

static void
s_flush_proposals (self_t *self)
{
    if (self->proposal_count) {
        zkv_rc_status_t status = zkv_rc_propose (self->core, self->proposals,
                                                 self->proposal_count);
        for (size_t i = 0; i < self->proposal_count && status != ZKV_RC_OK; i++)
            zkv_raft_refuse (self, self->proposal_waits [i], s_error_of (status),
                      zkv_rc_leader (self->core));
        self->proposal_count = 0;
    }
    //  The core copied what it took
    for (size_t i = 0; i < self->held_count; i++)
        zkv_msg_destroy (&self->held [i]);
    self->held_count = 0;
}

//  A forwarded proposal the leader refused: answer it if it is ours
static void
s_dropped (self_t *self, const zkv_rc_dropped_t *dropped)
{
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_internal_request_t *request = (zkv_internal_request_t *) zkv_msg_decode_body (
        dropped->data.data, dropped->data.size, &zkv_internal_request_desc, zone, &limits,
        &status);
    if (request && request->origin == self->args->member_id)
        zkv_raft_refuse (self, request->wait, s_error_of (dropped->why), dropped->leader);
    msgpack_zone_free (zone);
}

//  ---------------------------------------------------------------------
//  Ready

static void
s_unreachable (void *arg, uint64_t peer)
{
    self_t *self = (self_t *) arg;
    zkv_rc_report_unreachable (self->core, peer);
}

//  Hands committed entries to storage, in messages of bounded size
static void
s_apply (self_t *self, const zkv_entry_t *entries, size_t count)
{
    size_t from = 0;
    while (from < count) {
        size_t bytes = 0, to = from;
        while (to < count && (to == from || bytes + entries [to].data.size <= MAX_APPLY_BYTES))
            bytes += entries [to++].data.size;
        zkv_apply_t apply = { .entries = { (zkv_entry_t *) entries + from, to - from },
                              .commit = zkv_rc_committed (self->core) };
        if (zkv_io_send (self->storage, &zkv_apply_desc, &apply))
            zkv_fatal ("raft: storage is gone while entries are committed");
        from = to;
    }
}

static s_stream_t *
s_stream (self_t *self, uint64_t to)
{
    for (size_t i = 0; i < self->stream_count; i++)
        if (self->streams [i].to == to)
            return &self->streams [i];
    return NULL;
}

//  The core wants follower `to` to get a snapshot: the snapshotter streams
//  one (on its own thread: storage's applies never wait behind a chunk),
//  unless the last one moved less than SNAPSHOT_RETRY_MSECS ago (a chunk
//  left for the follower, or the last did: it is being installed, and a
//  member that joined asks again until it has installed it). Then the
//  core hears that this one will not come, and asks again later: a
//  follower killed while it received or installed one must get another,
//  or it waits forever (found by the crash loop)
static void
s_snapshot_to (self_t *self, uint64_t to)
{
    s_stream_t *stream = s_stream (self, to);
    if (stream && zclock_mono () - stream->moved < SNAPSHOT_RETRY_MSECS) {
        zkv_rc_report_snapshot (self->core, to, false);
        return;
    }
    if (!stream) {
        self->streams = (s_stream_t *) realloc (self->streams,
                                                (self->stream_count + 1) * sizeof (s_stream_t));
        stream = &self->streams [self->stream_count++];
    }
    stream->to = to;
    stream->moved = zclock_mono ();
    stream->last_queued = false;
    stream->sending = true;
    stream->granted = SNAPSHOT_WINDOW;
    zsys_info ("raft: streaming a snapshot to %016llx", (unsigned long long) to);
    zkv_snapshot_request_t request = { .to = to, .credit = SNAPSHOT_WINDOW };
    zkv_io_send (self->snapshotter, &zkv_snapshot_request_desc, &request);
}

//  Sends what the peers queue holds; a stream whose every chunk left is
//  done as far as this member can tell. A stream keeps SNAPSHOT_WINDOW
//  chunks between the snapshotter and its connection: the snapshotter
//  makes one more as one leaves
static void
s_flush_peers (self_t *self)
{
    zkv_peers_flush (self->peers, s_unreachable, self);
    for (size_t i = 0; i < self->stream_count; i++) {
        s_stream_t *stream = &self->streams [i];
        size_t waiting = zkv_peers_chunks_waiting (self->peers, stream->to);
        if (stream->last_queued && !waiting) {
            stream->last_queued = false;
            stream->sending = false;
            stream->moved = zclock_mono ();
            zkv_rc_report_snapshot (self->core, stream->to, true);
        }
        else
        if (stream->sending && !stream->last_queued
        &&  stream->granted + waiting < SNAPSHOT_WINDOW) {
            zkv_stream_credit_t grant = {
                .to = stream->to, .credit = SNAPSHOT_WINDOW - stream->granted - waiting
            };
            stream->granted += grant.credit;
            stream->moved = zclock_mono ();     //  (chunks left)
            zkv_io_send (self->snapshotter, &zkv_stream_credit_desc, &grant);
        }
    }
}

static void
s_process (self_t *self)
{
    zkv_raft_watch_transfer (self);     //  a tick may have ended one
    while (zkv_rc_has_ready (self->core)) {
        zkv_rc_ready_t ready;
        zkv_rc_ready (self->core, &ready);
        //  Transfer events go before the messages that carry the transfer
        //  out (TimeoutNow), so that every member hears `started` first
        zkv_raft_watch_transfer (self);
        if (ready.soft_state_changed) {
            if (ready.role == ZKV_RC_LEADER)
                zsys_info ("raft: %016llx leads in term %llu", (unsigned long long) ready.leader,
                           (unsigned long long) ready.term);
            zkv_raft_push_state (self);
        }
        //  1. Messages that need nothing of this write go at once, so that
        //  followers write in parallel with the leader
        for (size_t i = 0; i < ready.message_count; i++)
            zkv_peers_queue (self->peers, &ready.messages [i]);
        s_flush_peers (self);
        //  2. The write: synced when it holds entries, a term or a vote
        char *error = NULL;
        if (ready.snapshot_changed
        &&  zkv_raftlog_install (self->log, ready.snapshot_index, ready.snapshot_term, &error))
            zkv_fatal ("raft: recording a snapshot failed: %s", error);
        if (ready.entry_count || ready.hard_state_changed) {
            bool sync = ready.entry_count > 0 || ready.hard_state.term != self->persisted.term
                     || ready.hard_state.vote != self->persisted.vote;
            int64_t started = zclock_usecs ();
            if (zkv_raftlog_append (self->log, ready.entries, ready.entry_count,
                                    ready.hard_state_changed? &ready.hard_state: NULL, sync,
                                    &error))
                zkv_fatal ("raft: writing the log failed: %s", error);
            //  etcd's WAL fsync: the synced write (the log's WAL)
            if (sync)
                zkv_metrics_observe (&zkv_metrics.wal_fsync, (zclock_usecs () - started) * 1000);
            if (ready.hard_state_changed)
                self->persisted = ready.hard_state;
        }
        //  3. What vouches for that write
        for (size_t i = 0; i < ready.message_after_count; i++)
            zkv_peers_queue (self->peers, &ready.messages_after [i]);
        s_flush_peers (self);
        //  4. Apply, then serve the reads confirmed
        if (ready.committed_count)
            s_apply (self, ready.committed, ready.committed_count);
        for (size_t i = 0; i < ready.read_count; i++)
            zkv_raft_read_confirmed (self, &ready.reads [i]);
        for (size_t i = 0; i < ready.dropped_count; i++)
            s_dropped (self, &ready.dropped [i]);
        for (size_t i = 0; i < ready.snapshot_to_count; i++)
            s_snapshot_to (self, ready.snapshot_to [i]);
        zkv_rc_advance (self->core);
    }
}

//  ---------------------------------------------------------------------
//  Log compaction

//  Keeps the log between `keep` and snapshot_count + keep entries: a
//  follower that falls behind less than `keep` catches up from the log
static void
s_maybe_compact (self_t *self)
{
    uint64_t keep = self->args->snapshot_count / 2;
    if (keep > 5000)
        keep = 5000;
    uint64_t first = zkv_raftlog_snapshot_index (self->log);
    if (self->applied < first + self->args->snapshot_count + keep)
        return;
    uint64_t index = self->applied - keep;
    uint64_t term = zkv_rc_term_at (self->core, index);
    if (!term)
        return;
    char *error = NULL;
    if (zkv_raftlog_compact (self->log, index, term, &error))
        zkv_fatal ("raft: compacting the log failed: %s", error);
    zkv_rc_compact (self->core, index);
}

//  ---------------------------------------------------------------------
//  Publishing the client endpoint

//  True if the member table already holds our client endpoint
static bool
s_published (self_t *self)
{
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_cluster_member_t *member = NULL;
    char *error = NULL;
    bool same = zkv_members_get (self->args->engine, self->args->member_id, zone, &member,
                                 &error) == 1
             && zkv_bin_eq (member->name, self->args->name)
             && zkv_bin_eq (member->client_endpoint, self->client_endpoint)
             && zkv_bin_eq (member->events_endpoint, self->events_endpoint);
    free (error);
    msgpack_zone_free (zone);
    return same;
}

static void
s_maybe_publish (self_t *self)
{
    if (self->published || !self->client_endpoint || zclock_mono () < self->next_publish)
        return;
    if (s_published (self)) {
        self->published = true;
        return;
    }
    if (!zkv_rc_leader (self->core))
        return;                         //  again next tick: clients wait for this
    //  Proposed: give it time to be applied before proposing it again
    self->next_publish = zclock_mono () + PUBLISH_MSECS;
    zkv_cluster_member_t attributes = {
        .member_id = self->args->member_id,
        .name = zkv_bin (self->args->name, strlen (self->args->name)),
        .client_endpoint = zkv_bin (self->client_endpoint, strlen (self->client_endpoint)),
        .events_endpoint = zkv_bin (self->events_endpoint, strlen (self->events_endpoint))
    };
    zkv_internal_request_t request = {
        .origin = self->args->member_id, .wait = 0, .attributes = &attributes
    };
    size_t size;
    uint8_t *bytes = zkv_msg_encode_body (&zkv_internal_request_desc, &request, &size);
    if (!bytes)
        return;
    zkv_bin_t data = zkv_bin (bytes, size);
    zkv_rc_propose (self->core, &data, 1);
    free (bytes);
}

//  ---------------------------------------------------------------------
//  Fault injection (tests)

//  Parses hex member ids, comma separated
static size_t
s_parse_ids (zkv_bin_t text, uint64_t *ids, size_t room)
{
    char buffer [1024];
    zkv_bin_str (text, buffer, sizeof buffer);
    size_t count = 0;
    char *saved = NULL;
    for (char *item = strtok_r (buffer, ", ", &saved); item && count < room;
         item = strtok_r (NULL, ", ", &saved))
        ids [count++] = strtoull (item, NULL, 16);
    return count;
}

static void
s_fault (self_t *self, const zkv_fault_injection_t *injection)
{
    //  (front writes the header of the answer: raft knows no revision)
    size_t size;
    uint8_t *reply;
    if (!self->args->fault_injection) {
        zkv_result_t status;
        zkv_status_set (&status, ZKV_ERR_PERMISSION_DENIED, NULL);
        reply = zkv_msg_encode_error (&status, NULL, &size);
    }
    else
    if (injection->request->delay_ms < -1 || injection->request->delay_ms > 10000) {
        zkv_result_t status;
        zkv_status_set (&status, ZKV_ERR_MALFORMED, "delay_ms must be -1 .. 10000");
        reply = zkv_msg_encode_error (&status, NULL, &size);
    }
    else {
        const zkv_fault_t *fault = injection->request;
        uint64_t to [64], from [64];
        size_t to_count = s_parse_ids (fault->drop_to, to, 64);
        size_t from_count = s_parse_ids (fault->drop_from, from, 64);
        if (fault->heal)
            zkv_peers_heal (self->peers);
        zkv_peers_drop (self->peers, to, to_count, from, from_count);
        if (fault->delay_ms)
            zkv_peers_delay (self->peers, (int) fault->delay_ms);
        zsys_info ("raft: fault injection: drop to %zu, from %zu member(s)%s%s", to_count,
                   from_count, fault->heal? " after healing": "",
                   fault->delay_ms > 0? ", raft frames delayed": "");
        zkv_fault_response_t response = { .header = NULL };
        reply = zkv_msg_encode_body (&zkv_fault_response_desc, &response, &size);
    }
    if (!reply)
        return;
    zkv_answer_t answer = { .wait = injection->wait, .reply = zkv_bin (reply, size) };
    zkv_answers_t answers = { .answers = { &answer, 1 } };
    zkv_io_send (self->front, &zkv_answers_desc, &answers);
    free (reply);
}

//  ---------------------------------------------------------------------
//  Events

static void
s_handle_inbox (self_t *self)
{
    zkv_msg_t *msg;
    int budget;
    for (budget = 4096; budget > 0 && zkv_io_try_recv (self->inbox, "raft", &msg);
         budget--) {
        if (!msg)
            continue;
        if (msg->desc == &zkv_raft_requests_desc) {
            s_requests_add (self, msg); //  holds msg until the burst is proposed
            continue;
        }
        if (msg->desc == &zkv_storage_state_desc) {
            zkv_storage_state_t *state = (zkv_storage_state_t *) msg->body;
            self->applied = state->applied;
            if (state->members_version != self->members_version) {
                self->members_version = state->members_version;
                zkv_raft_members_load (self);
            }
            s_maybe_compact (self);
        }
        else
        if (msg->desc == &zkv_snapshot_chunk_desc) {
            zkv_snapshot_chunk_t *chunk = (zkv_snapshot_chunk_t *) msg->body;
            zkv_peers_queue_chunk (self->peers, chunk);
            s_stream_t *stream = s_stream (self, chunk->to);
            if (stream && stream->granted)
                stream->granted--;
            if (stream && chunk->last)
                stream->last_queued = true;
        }
        else
        if (msg->desc == &zkv_snapshot_installed_desc) {
            zkv_snapshot_installed_t *installed = (zkv_snapshot_installed_t *) msg->body;
            zsys_info ("raft: installed a snapshot at %llu", (unsigned long long) installed->index);
            //  The core decides whether the log restarts after it; the
            //  ready then records the snapshot point
            self->applied = installed->index;
            zkv_conf_state_t conf;
            char *error = NULL;
            if (zkv_members_conf (self->args->engine, &conf, &error))
                zkv_fatal ("raft: cannot read the installed snapshot's members: %s", error);
            zkv_rc_restore_snapshot (self->core, installed->index, installed->term, &conf);
            zkv_raft_members_load (self);
        }
        else
        if (msg->desc == &zkv_fault_injection_desc)
            s_fault (self, (zkv_fault_injection_t *) msg->body);
        else
        if (msg->desc == &zkv_move_order_desc)
            zkv_raft_move (self, (zkv_move_order_t *) msg->body);
        else
        if (msg->desc == &zkv_member_order_desc)
            zkv_raft_member_order (self, (zkv_member_order_t *) msg->body);
        else
        if (msg->desc == &zkv_hash_ask_desc)
            zkv_raft_hash_ask (self, (zkv_hash_ask_t *) msg->body);
        else
        if (msg->desc == &zkv_hash_answer_desc)
            zkv_raft_hash_answer (self, (zkv_hash_answer_t *) msg->body);
        else
            zsys_error ("raft: unexpected message %s", msg->desc->name);
        zkv_msg_destroy (&msg);
    }
    if (budget == 0)
        zkv_waiter_again (self->waiter, self->inbox);   //  more may wait
}

static void
s_handle_peers (self_t *self)
{
    zkv_msg_t *msg;
    int budget;
    for (budget = 4096; budget > 0 && zkv_peers_try_recv (self->peers, &msg); budget--) {
        if (!msg)
            continue;
        zkv_peer_frame_t *frame = (zkv_peer_frame_t *) msg->body;
        if (frame->join) {
            zkv_raft_answer_join (self, frame->join);
            //  (answered on the socket this drains: a send may take its signal)
            zkv_waiter_again (self->waiter, zkv_peers_socket (self->peers));
            zkv_msg_destroy (&msg);
            continue;
        }
        zkv_raft_heard_from (self, frame->from);
        if (frame->removed) {
            char how [64];
            snprintf (how, sizeof how, "told by %016llx", (unsigned long long) frame->from);
            zkv_raft_removed (self, how);
        }
        zkv_raft_peer_events (self, frame);
        zkv_raft_peer_hashes (self, frame);
        for (size_t i = 0; i < frame->messages.count && !self->holding; i++)
            zkv_rc_step (self->core, &frame->messages.items [i]);
        if (frame->chunk)               //  a snapshot for us: storage installs it
            zkv_io_send (self->storage, &zkv_snapshot_chunk_desc, frame->chunk);
        zkv_msg_destroy (&msg);
    }
    if (budget == 0)                    //  more may wait
        zkv_waiter_again (self->waiter, zkv_peers_socket (self->peers));
}

static void
s_tick (self_t *self)
{
    if (self->holding)
        return;                         //  silent until the initial check passed
    zkv_rc_tick (self->core);
    zkv_raft_expire_reads (self);
    zkv_raft_watch_members (self);
    s_maybe_publish (self);
}

//  ---------------------------------------------------------------------
//  Start and stop

//  A duration in ticks of the core. A tick is a tenth of the heartbeat
//  interval: followers time elections out within 10 ms of each other, not
//  within a whole heartbeat, so a candidate whose timer fires first is not
//  refused by a voter whose lease, counted in coarse ticks, still runs
//  (the second-round elections etcd shows after a leader dies)
static int
s_ticks (self_t *self, int msecs, int minimum)
{
    int ticks = msecs / self->tick_msecs;
    return ticks < minimum? minimum: ticks;
}

//  This member alone votes: it elects itself at once
static bool
s_sole_voter (self_t *self)
{
    const zkv_conf_state_t *conf = zkv_rc_conf (self->core);
    return conf->voter_count == 1 && conf->voters [0] == self->args->member_id
        && conf->outgoing_count == 0;
}

static const char *
s_start (self_t *self, uint64_t applied, char *error, size_t size)
{
    zkv_raft_args_t *args = self->args;
    char *err = NULL;
    self->log = zkv_raftlog_new (args->engine, &err);
    if (!self->log) {
        snprintf (error, size, "cannot read the raft log: %s", err);
        free (err);
        return error;
    }
    uint64_t first = zkv_raftlog_first_index (self->log);
    uint64_t last = zkv_raftlog_last_index (self->log);
    if (applied + 1 < first) {
        snprintf (error, size, "the database is damaged: the raft log starts at %llu but "
                  "storage applied only %llu",
                  (unsigned long long) first, (unsigned long long) applied);
        return error;
    }
    if (applied > last) {
        //  Entries are written, synced, before any is applied: so either
        //  storage installed a snapshot (the leader's state, committed) and
        //  a stop came before the log recorded it, and the log restarts
        //  after it, as it would have; or files were damaged (a cut MANIFEST)
        uint64_t term = 0;
        if (!zkv_engine_finished_replace (args->engine)
        ||  zkv_engine_get_u64 (args->engine, ZKV_CF_META, "term", &term, &err) <= 0 || !term
        ||  zkv_raftlog_install (self->log, applied, term, &err)) {
            snprintf (error, size, "the database is damaged: storage applied %llu but the raft "
                      "log ends at %llu%s%s", (unsigned long long) applied,
                      (unsigned long long) last, err? ": ": "", err? err: "");
            free (err);
            return error;
        }
        zsys_warning ("raft: storage holds a snapshot at %llu (term %llu) the log had not "
                      "recorded before a stop: the log restarts after it",
                      (unsigned long long) applied, (unsigned long long) term);
        first = zkv_raftlog_first_index (self->log);
        last = zkv_raftlog_last_index (self->log);
    }
    else
    if (zkv_engine_finished_replace (args->engine)
    &&  zkv_raftlog_settle_replace (self->log, &err)) {
        //  (a restored image, or an install the log had gone past: nothing
        //  to record, and the mark must not excuse a later damage)
        snprintf (error, size, "cannot write the raft log: %s", err);
        free (err);
        return error;
    }
    //  The core starts from everything the log holds
    msgpack_zone *zone = msgpack_zone_new (1 << 20);
    zkv_entry_list_t entries = { NULL, 0 };
    if (last >= first && zkv_raftlog_entries (self->log, first, last + 1, zone, &entries, &err)) {
        //  (entries between the log's bounds are written in order and
        //  synced: one missing or unreadable means files were damaged)
        snprintf (error, size, "the database is damaged: cannot read the raft log: %s", err);
        free (err);
        msgpack_zone_free (zone);
        return error;
    }
    //  Who votes and who learns: as of the applied index (the member table
    //  of a new cluster: all of it votes)
    zkv_conf_state_t conf;
    if (zkv_members_conf (args->engine, &conf, &err)) {
        snprintf (error, size, "cannot read the member table: %s", err);
        free (err);
        msgpack_zone_free (zone);
        return error;
    }
    self->tick_msecs = args->heartbeat_interval >= 10? args->heartbeat_interval / 10: 1;
    zkv_rc_config_t config = {
        .id = args->member_id,
        .election_ticks = s_ticks (self, args->election_timeout, 2),
        .heartbeat_ticks = s_ticks (self, args->heartbeat_interval, 1),
        .pre_vote = true, .check_quorum = true,
        .max_msg_bytes = 1 << 20, .max_inflight = 256,
        .max_uncommitted_bytes = 64 << 20,
        .seed = (uint64_t) zclock_usecs () ^ args->member_id
    };
    self->persisted = zkv_raftlog_hard_state (self->log);
    zkv_rc_restore_t restore = {
        .hard_state = self->persisted,
        .snapshot_index = zkv_raftlog_snapshot_index (self->log),
        .snapshot_term = zkv_raftlog_snapshot_term (self->log),
        .entries = entries.items, .entry_count = entries.count,
        .applied = applied, .conf = &conf
    };
    self->core = zkv_rc_new (&config, &restore);
    msgpack_zone_free (zone);
    self->applied = applied;

    self->peers = zkv_peers_new (args->member_id, args->cluster_id, args->members,
                                 args->member_count, args->listen_peer, args->listen_peer_fd,
                                 args->peer_cert, args->peer_keys, error, size);
    if (!self->peers) {
        zkv_rc_destroy (&self->core);   //  the actor runs only once started whole
        return error;
    }
    self->inbox = zkv_io_inbox (args->raft);
    self->storage = zkv_io_outbox (args->storage);
    self->snapshotter = zkv_io_outbox (args->snapshotter);
    self->front = zkv_io_outbox (args->front);
    self->hasher = zkv_io_outbox (args->hasher);
    self->alarm = zkv_io_outbox (args->alarm);
    if (!self->inbox || !self->storage || !self->snapshotter || !self->front || !self->hasher
    ||  !self->alarm) {
        snprintf (error, size, "cannot bind %s or reach storage and front", args->raft);
        zkv_rc_destroy (&self->core);
        return error;
    }
    zkv_waiter_add (self->waiter, self->inbox);
    zkv_waiter_add (self->waiter, zkv_peers_socket (self->peers));
    zkv_raft_members_load (self);
    //  A cluster of one elects itself at once
    self->holding = args->hold;
    if (s_sole_voter (self) && !self->holding)
        zkv_rc_campaign (self->core);
    s_process (self);
    zkv_raft_members_check (self);
    zkv_raft_push_state (self);
    self->next_tick = zclock_mono () + self->tick_msecs;
    return NULL;
}

//  A leader asked to stop hands its leadership to the most caught-up
//  follower first, so that the cluster does not wait an election timeout
static void
s_transfer_before_stop (self_t *self)
{
    if (!self->core || zkv_rc_role (self->core) != ZKV_RC_LEADER || self->member_count < 2)
        return;
    uint64_t target = 0, best = 0;
    for (size_t i = 0; i < self->member_count; i++) {
        uint64_t id = self->members [i].id, match, next;
        if (id != self->args->member_id && !self->members [i].learner
        &&  zkv_rc_progress (self->core, id, &match, &next)
        &&  match >= best) {
            best = match;
            target = id;
        }
    }
    if (!target)
        return;
    zsys_info ("raft: stopping: moving leadership to %016llx", (unsigned long long) target);
    zkv_rc_transfer (self->core, target);
    s_process (self);
    int64_t deadline = zclock_mono ()
                     + (int64_t) self->args->election_timeout;
    zpoller_t *poller = zpoller_new (zkv_peers_socket (self->peers), NULL);
    zpoller_set_nonstop (poller, true);
    while (zclock_mono () < deadline && zkv_rc_leader (self->core) == self->args->member_id) {
        int64_t wait = self->next_tick - zclock_mono ();
        if (zpoller_wait (poller, wait < 0? 0: (int) wait))
            s_handle_peers (self);
        if (zclock_mono () >= self->next_tick) {
            zkv_rc_tick (self->core);
            self->next_tick += self->tick_msecs;
        }
        s_process (self);
    }
    zpoller_destroy (&poller);
}

static self_t *
s_self_new (zsock_t *pipe, zkv_raft_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->waiter = zkv_waiter_new ();
    zkv_waiter_add (self->waiter, pipe);
    self->pending_reads = zlistx_new ();
    zlistx_set_destructor (self->pending_reads, zkv_raft_reads_item_destroy);
    //  Read tokens must never repeat, not even across restarts
    self->next_read_context = (uint64_t) zclock_usecs () << 16;
    return self;
}

//  A leader hands its leadership over first (with the peers and the core
//  still there), then all is freed
static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    s_transfer_before_stop (self);
    for (size_t i = 0; i < self->held_count; i++)
        zkv_msg_destroy (&self->held [i]);
    free (self->proposals);
    free (self->proposal_waits);
    free (self->held);
    zkv_raft_reads_destroy (&self->reads);
    zlistx_destroy (&self->pending_reads);
    free (self->streams);
    free (self->moves);
    free (self->client_endpoint);
    free (self->events_endpoint);
    zkv_waiter_destroy (&self->waiter);
    zkv_peers_destroy (&self->peers);
    zkv_rc_destroy (&self->core);
    zkv_raftlog_destroy (&self->log);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->storage);
    zsock_destroy (&self->snapshotter);
    zsock_destroy (&self->front);
    zsock_destroy (&self->hasher);
    zsock_destroy (&self->alarm);
    free (self);
    *self_p = NULL;
}

void
zkv_raft_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zkv_raft_args_t *) args);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        int timeout = -1;
        if (self->core) {
            int64_t left = self->next_tick - zclock_mono ();
            timeout = left < 0? 0: (int) left;
            int due = zkv_peers_due_in (self->peers);
            if (due >= 0 && due < timeout)
                timeout = due;          //  a delayed frame leaves then
        }
        zsock_t *which = zkv_waiter_wait (self->waiter, timeout);
        if (which == pipe) {
            zmsg_t *request = zmsg_recv (pipe);
            if (!request)
                break;
            zkv_waiter_again (self->waiter, pipe);      //  one command read, maybe answered
            char *command = zmsg_popstr (request);
            if (streq (command, "START")) {
                char *applied = zmsg_popstr (request);
                char error [512];
                const char *failed = s_start (self, applied? strtoull (applied, NULL, 10): 0,
                                              error, sizeof error);
                zstr_send (pipe, failed? failed: "OK");
                zstr_free (&applied);
            }
            else
            if (streq (command, "PUBLISH")) {
                free (self->client_endpoint);
                free (self->events_endpoint);
                self->client_endpoint = zmsg_popstr (request);
                self->events_endpoint = zmsg_popstr (request);
                if (!self->events_endpoint)
                    self->events_endpoint = strdup ("");
                self->published = false;
            }
            else
            if (streq (command, "RELEASE") && self->core) {
                self->holding = false;
                if (s_sole_voter (self))
                    zkv_rc_campaign (self->core);
            }
            else
            if (streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_error ("raft: invalid command '%s'", command);
            zstr_free (&command);
            zmsg_destroy (&request);
        }
        else
        if (self->core && which == self->inbox)
            s_handle_inbox (self);
        else
        if (self->core && which == zkv_peers_socket (self->peers))
            s_handle_peers (self);
        if (!self->core)
            continue;
        if (zclock_mono () >= self->next_tick) {
            s_tick (self);
            self->next_tick += self->tick_msecs;
            if (self->next_tick < zclock_mono ())
                self->next_tick = zclock_mono () + self->tick_msecs;
        }
        s_flush_proposals (self);
        zkv_raft_flush_reads (self);
        s_process (self);
        zkv_raft_moves_check (self);
        zkv_raft_members_check (self);
        s_flush_peers (self);           //  chunks that could not go before
    }
    s_self_destroy (&self);
}
