/*  =========================================================================
    zkv_rc.c — the raft core: lifecycle, Step, ticks, Ready/Advance.
    =========================================================================
*/
#include "zkv_rc_private.h"

#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Small helpers

static uint64_t
s_random (zkv_rc_t *self)
{
    //  xorshift64*: deterministic for a seed, which the simulator needs
    self->rng ^= self->rng >> 12;
    self->rng ^= self->rng << 25;
    self->rng ^= self->rng >> 27;
    return self->rng * 2685821657736338717ULL;
}

void
rc_reset_randomized_timeout (zkv_rc_t *self)
{
    //  In [base, 1.5 base): etcd draws from [base, 2 base). Two survivors of
    //  a dead leader then time out a quarter of a timeout sooner in the
    //  median; a split vote needs both to fire within one vote round trip,
    //  which half a timeout of spread keeps rare (PreVote and the
    //  simulator's liveness checks cover the rest)
    int base = self->config.election_ticks;
    int spread = base / 2 > 0? base / 2: 1;
    self->randomized_timeout = base + (int) (s_random (self) % (uint64_t) spread);
}

rc_progress_t *
rc_progress (zkv_rc_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->progress_count; i++)
        if (self->progress [i].id == id)
            return &self->progress [i];
    return NULL;
}

zkv_raft_message_t
rc_message (zkv_rc_t *self, uint64_t type, uint64_t to)
{
    zkv_raft_message_t message;
    memset (&message, 0, sizeof message);
    message.type = type;
    message.to = to;
    message.from = self->config.id;
    message.term = self->term;
    return message;
}

zkv_bin_t
rc_hold_ref (zkv_rc_t *self, rc_data_t *data)
{
    if (!data)
        return zkv_bin (NULL, 0);
    if (zkv_grow ((void **) &self->held, &self->held_room, self->held_count + 1,
                  sizeof (rc_data_t *)))
        abort ();                       //  out of memory in a pure core
    self->held [self->held_count++] = rc_data_ref (data);
    return zkv_bin (data->bytes, data->size);
}

zkv_bin_t
rc_hold (zkv_rc_t *self, zkv_bin_t bytes)
{
    rc_data_t *data = rc_data_new (bytes.data, bytes.size);
    zkv_bin_t held = rc_hold_ref (self, data);
    rc_data_unref (&data);
    return held;
}

zkv_entry_t *
rc_hold_entries (zkv_rc_t *self, const zkv_entry_t *entries, const zkv_bin_t *data,
                 size_t count)
{
    zkv_entry_t *copy = (zkv_entry_t *) calloc (count? count: 1, sizeof (zkv_entry_t));
    if (!copy)
        abort ();
    for (size_t i = 0; i < count; i++) {
        if (entries)
            copy [i] = entries [i];
        copy [i].data = rc_hold (self, entries? entries [i].data: data [i]);
    }
    return copy;
}

void
rc_send (zkv_rc_t *self, zkv_raft_message_t *message)
{
    //  Answers that vouch for this member's durable state (its vote, the
    //  entries it holds) leave only after the ready's write
    bool after = message->type == ZKV_RC_MSG_APP_RESP || message->type == ZKV_RC_MSG_VOTE_RESP
              || message->type == ZKV_RC_MSG_PRE_VOTE_RESP;
#ifdef ZKV_RC_BUG_VOTE_BEFORE_DURABLE
    //  Planted bug: votes and acknowledgements leave before the write
    after = after && message->to == self->config.id;
#endif
    rc_messages_t *list = after? &self->messages_after: &self->messages;
    if (zkv_grow ((void **) &list->items, &list->room, list->count + 1,
                  sizeof (zkv_raft_message_t)))
        abort ();                       //  out of memory in a pure core
    list->items [list->count++] = *message;
}

//  ---------------------------------------------------------------------
//  Roles

//  Resets what a term change resets
static void
s_reset (zkv_rc_t *self, uint64_t term)
{
    if (self->term != term) {
        self->term = term;
        self->vote = 0;
    }
    self->leader = 0;
    self->election_elapsed = 0;
    self->heartbeat_elapsed = 0;
    rc_reset_randomized_timeout (self);
    rc_transfer_abort (self);
    rc_read_reset (self);
    rc_progress_reset (self);
    self->uncommitted_bytes = 0;
    self->committed_in_term = false;
}

void
rc_become_follower (zkv_rc_t *self, uint64_t term, uint64_t leader)
{
    s_reset (self, term);
    self->role = ZKV_RC_FOLLOWER;
    self->leader = leader;
}

void
rc_become_pre_candidate (zkv_rc_t *self)
{
    //  A pre-candidate neither changes its term nor votes, but it has no
    //  leader any more (etcd #8334, #9586)
    self->role = ZKV_RC_PRE_CANDIDATE;
    self->leader = 0;
    for (size_t i = 0; i < self->progress_count; i++)
        self->progress [i].vote_answered = self->progress [i].vote_granted = false;
}

void
rc_become_candidate (zkv_rc_t *self)
{
    s_reset (self, self->term + 1);
    self->vote = self->config.id;
    self->role = ZKV_RC_CANDIDATE;
    for (size_t i = 0; i < self->progress_count; i++)
        self->progress [i].vote_answered = self->progress [i].vote_granted = false;
}

void
rc_become_leader (zkv_rc_t *self)
{
    s_reset (self, self->term);
    self->role = ZKV_RC_LEADER;
    self->leader = self->config.id;
    //  The leader's empty entry: committing it commits everything before
    //  it, and lets reads and conf changes start (whether a change is
    //  pending in the log is not known: wait until all of it is applied)
    rc_append_entries (self, NULL, 0);
    self->pending_conf_index = rc_log_last_index (&self->log);
}

//  ---------------------------------------------------------------------
//  Step

static zkv_rc_status_t
    s_propose_conf (zkv_rc_t *self, zkv_bin_t data);

void
zkv_rc_step (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    if (message->to != self->config.id)
        return;
    if (message->term > self->term) {
        if (message->type == ZKV_RC_MSG_VOTE || message->type == ZKV_RC_MSG_PRE_VOTE) {
            //  While it heard from a leader within the election timeout, a
            //  member ignores elections, unless the leader itself asked for
            //  one by transferring leadership (CheckQuorum's lease)
            bool force = message->context == 1;
            bool in_lease = self->config.check_quorum && self->leader != 0
                         && self->election_elapsed < self->config.election_ticks;
            if (!force && in_lease)
                return;
        }
        if (message->type == ZKV_RC_MSG_PRE_VOTE)
            ;                           //  a pre-vote never changes our term
        else
        if (message->type == ZKV_RC_MSG_PRE_VOTE_RESP && !message->reject)
            ;                           //  granted for a term we may yet take
        else
        if (message->type == ZKV_RC_MSG_APP || message->type == ZKV_RC_MSG_HEARTBEAT
        ||  message->type == ZKV_RC_MSG_SNAP)
            rc_become_follower (self, message->term, message->from);
        else
        if (message->type == ZKV_RC_MSG_VOTE) {
            //  Take the term, but keep the election clock running (the
            //  paper resets it only for a vote granted or a leader heard):
            //  a member with a stale log and a fast clock must not keep the
            //  others from ever timing out (found by the simulator)
            int elapsed = self->election_elapsed;
            int timeout = self->randomized_timeout;
            rc_become_follower (self, message->term, 0);
            self->election_elapsed = elapsed;
            self->randomized_timeout = timeout;
        }
        else
            rc_become_follower (self, message->term, 0);
    }
    else
    if (message->term < self->term) {
        if ((self->config.check_quorum || self->config.pre_vote)
        &&  (message->type == ZKV_RC_MSG_HEARTBEAT || message->type == ZKV_RC_MSG_APP)) {
            //  A stale leader (or a member cut off with a high term) learns
            //  our term, so a partitioned member can rejoin
            zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_APP_RESP, message->from);
            rc_send (self, &reply);
        }
        else
        if (message->type == ZKV_RC_MSG_PRE_VOTE) {
            zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_PRE_VOTE_RESP, message->from);
            reply.reject = true;
            rc_send (self, &reply);
        }
        return;
    }
    if (message->type == ZKV_RC_MSG_VOTE || message->type == ZKV_RC_MSG_PRE_VOTE)
        rc_handle_vote_request (self, message);
    else
        rc_step_role (self, message);
}

void
rc_step_role (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    switch (self->role) {
        case ZKV_RC_LEADER:
            switch (message->type) {
                case ZKV_RC_MSG_APP_RESP:       rc_handle_append_response (self, message); break;
                case ZKV_RC_MSG_HEARTBEAT_RESP: rc_handle_heartbeat_response (self, message); break;
                case ZKV_RC_MSG_READ_INDEX:     rc_read_request (self, message->from,
                                                                 message->context); break;
                case ZKV_RC_MSG_TRANSFER_LEADER: rc_transfer_request (self, message->from); break;
                case ZKV_RC_MSG_PROP: {
                    //  Proposals forwarded by a follower: a configuration
                    //  change comes alone
                    zkv_bin_t stack [64];
                    size_t count = message->entries.count;
                    zkv_bin_t *data = count <= 64? stack:
                                      (zkv_bin_t *) malloc (count * sizeof (zkv_bin_t));
                    for (size_t i = 0; i < count; i++)
                        data [i] = message->entries.items [i].data;
                    zkv_rc_status_t status = count == 1
                        && message->entries.items [0].type == ZKV_RC_ENTRY_CONF?
                        s_propose_conf (self, data [0]): zkv_rc_propose (self, data, count);
                    if (status != ZKV_RC_OK) {
                        //  Refused: tell the follower at once, so that its
                        //  clients need not wait for a timeout
                        zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_PROP_RESP,
                                                               message->from);
                        reply.entries.items = rc_hold_entries (self, message->entries.items,
                                                               NULL, count);
                        reply.entries.count = count;
                        reply.reject = true;
                        reply.context = status;
                        reply.reject_hint = self->config.id;
                        rc_send (self, &reply);
                    }
                    if (data != stack)
                        free (data);
                    break;
                }
                default: break;
            }
            break;
        case ZKV_RC_CANDIDATE:
        case ZKV_RC_PRE_CANDIDATE:
            switch (message->type) {
                case ZKV_RC_MSG_APP:
                    rc_become_follower (self, message->term, message->from);
                    rc_handle_append (self, message);
                    break;
                case ZKV_RC_MSG_HEARTBEAT:
                    rc_become_follower (self, message->term, message->from);
                    rc_handle_heartbeat (self, message);
                    break;
                case ZKV_RC_MSG_VOTE_RESP:
                case ZKV_RC_MSG_PRE_VOTE_RESP:
                    rc_handle_vote_response (self, message);
                    break;
                default: break;
            }
            break;
        case ZKV_RC_FOLLOWER:
            switch (message->type) {
                case ZKV_RC_MSG_APP:
                    self->election_elapsed = 0;
                    self->leader = message->from;
                    rc_handle_append (self, message);
                    break;
                case ZKV_RC_MSG_HEARTBEAT:
                    self->election_elapsed = 0;
                    self->leader = message->from;
                    rc_handle_heartbeat (self, message);
                    break;
                case ZKV_RC_MSG_TIMEOUT_NOW:
                    rc_handle_timeout_now (self, message);
                    break;
                case ZKV_RC_MSG_READ_INDEX_RESP:
                    rc_read_state (self, message->index, message->context);
                    break;
                case ZKV_RC_MSG_PROP_RESP:
                    for (size_t i = 0; i < message->entries.count; i++) {
                        if (zkv_grow ((void **) &self->dropped, &self->dropped_room,
                                      self->dropped_count + 1, sizeof (zkv_rc_dropped_t)))
                            abort ();   //  out of memory in a pure core
                        zkv_rc_dropped_t *dropped = &self->dropped [self->dropped_count++];
                        dropped->data = rc_hold (self, message->entries.items [i].data);
                        dropped->why = (zkv_rc_status_t) message->context;
                        dropped->leader = message->reject_hint;
                    }
                    break;
                case ZKV_RC_MSG_TRANSFER_LEADER:
                    //  Someone asked us to lead: pass it on to the leader
                    if (self->leader) {
                        zkv_raft_message_t forward = *message;
                        forward.to = self->leader;
                        forward.term = self->term;
                        forward.entries.items = NULL;   //  none belong in it
                        forward.entries.count = 0;
                        rc_send (self, &forward);
                    }
                    break;
                default: break;
            }
            break;
    }
}

//  ---------------------------------------------------------------------
//  Ticks

void
zkv_rc_tick (zkv_rc_t *self)
{
    self->election_elapsed++;
    if (self->role == ZKV_RC_LEADER) {
        self->heartbeat_elapsed++;
        if (self->election_elapsed >= self->config.election_ticks) {
            self->election_elapsed = 0;
            if (self->config.check_quorum)
                rc_check_quorum (self);
            if (self->role != ZKV_RC_LEADER)
                return;
            //  A transfer that did not finish within an election timeout
            //  is abandoned, and the leader serves again
            if (self->transferee)
                rc_transfer_abort (self);
        }
        if (self->heartbeat_elapsed >= self->config.heartbeat_ticks) {
            self->heartbeat_elapsed = 0;
            rc_broadcast_heartbeat (self, 0);
        }
    }
    else
    if (self->election_elapsed >= self->randomized_timeout) {
        //  A member that may not campaign (a learner, a member yet to join
        //  or removed, one with a change to apply) keeps its clock past the
        //  timeout: its leader's lease lapses, and it answers the members
        //  that may campaign (etcd resets only a promotable member's)
        if (rc_promotable (self)) {
            self->election_elapsed = 0;
            rc_hup (self, false);
        }
        else
            self->election_elapsed = self->randomized_timeout;
    }
}

void
zkv_rc_campaign (zkv_rc_t *self)
{
    rc_hup (self, false);
}

//  ---------------------------------------------------------------------
//  Proposals

zkv_rc_status_t
zkv_rc_propose (zkv_rc_t *self, const zkv_bin_t *data, size_t count)
{
    if (count == 0)
        return ZKV_RC_OK;
    if (self->role == ZKV_RC_LEADER) {
        if (self->transferee)
            return ZKV_RC_TRANSFERRING;
        size_t bytes = 0;
        for (size_t i = 0; i < count; i++)
            bytes += data [i].size;
        if (self->config.max_uncommitted_bytes
        &&  self->uncommitted_bytes > 0
        &&  self->uncommitted_bytes + bytes > self->config.max_uncommitted_bytes)
            return ZKV_RC_TOO_LARGE;
        rc_append_entries (self, data, count);
        return ZKV_RC_OK;
    }
    if (self->role != ZKV_RC_FOLLOWER || self->leader == 0)
        return ZKV_RC_NO_LEADER;
    //  Forward to the leader
    zkv_raft_message_t forward = rc_message (self, ZKV_RC_MSG_PROP, self->leader);
    zkv_entry_t *entries = rc_hold_entries (self, NULL, data, count);
    forward.entries.items = entries;
    forward.entries.count = count;
    rc_send (self, &forward);
    return ZKV_RC_OK;
}

//  A configuration entry's data, on the leader or forwarded to it
static zkv_rc_status_t
s_propose_conf (zkv_rc_t *self, zkv_bin_t data)
{
    if (self->role == ZKV_RC_LEADER) {
        if (self->transferee)
            return ZKV_RC_TRANSFERRING;
        zkv_rc_status_t status = rc_conf_check (self, data);
        if (status != ZKV_RC_OK)
            return status;
        rc_append_typed (self, &data, 1, ZKV_RC_ENTRY_CONF);
        self->pending_conf_index = rc_log_last_index (&self->log);
#ifdef ZKV_RC_BUG_CONF_ON_APPEND
        //  Planted bug: the leader counts by the new configuration at once
        zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
        size_t count;
        zkv_bin_t context;
        zkv_conf_state_t next;
        if (zkv_rc_conf_change_decode (data, changes, &count, &context)
        &&  !zkv_rc_conf_apply (&self->conf, changes, count, &next))
            rc_conf_switch (self, &next);
#endif
        return ZKV_RC_OK;
    }
    if (self->role != ZKV_RC_FOLLOWER || self->leader == 0)
        return ZKV_RC_NO_LEADER;
    zkv_raft_message_t forward = rc_message (self, ZKV_RC_MSG_PROP, self->leader);
    zkv_entry_t entry = { .type = ZKV_RC_ENTRY_CONF, .data = data };
    forward.entries.items = rc_hold_entries (self, &entry, NULL, 1);
    forward.entries.count = 1;
    rc_send (self, &forward);
    return ZKV_RC_OK;
}

zkv_rc_status_t
zkv_rc_propose_conf (zkv_rc_t *self, const zkv_rc_change_t *changes, size_t count,
                     zkv_bin_t context)
{
    if (count == 0 || count > ZKV_RC_MAX_CHANGES)
        return ZKV_RC_CONF_INVALID;     //  leaving a joint one is the core's
    size_t size;
    uint8_t *bytes = zkv_rc_conf_change_encode (changes, count, context, &size);
    zkv_rc_status_t status = s_propose_conf (self, zkv_bin (bytes, size));
    free (bytes);
    return status;
}

zkv_rc_status_t
zkv_rc_read_index (zkv_rc_t *self, uint64_t context)
{
    if (self->role == ZKV_RC_LEADER) {
        rc_read_request (self, self->config.id, context);
        return ZKV_RC_OK;
    }
    if (self->role != ZKV_RC_FOLLOWER || self->leader == 0)
        return ZKV_RC_NO_LEADER;
    zkv_raft_message_t ask = rc_message (self, ZKV_RC_MSG_READ_INDEX, self->leader);
    ask.context = context;
    rc_send (self, &ask);
    return ZKV_RC_OK;
}

zkv_rc_status_t
zkv_rc_transfer (zkv_rc_t *self, uint64_t target)
{
    if (self->role == ZKV_RC_LEADER) {
        rc_transfer_request (self, target);
        return ZKV_RC_OK;
    }
    if (self->role != ZKV_RC_FOLLOWER || self->leader == 0)
        return ZKV_RC_NO_LEADER;
    zkv_raft_message_t forward = rc_message (self, ZKV_RC_MSG_TRANSFER_LEADER, self->leader);
    forward.from = target;              //  etcd's convention: from = transferee
    rc_send (self, &forward);
    return ZKV_RC_OK;
}

//  ---------------------------------------------------------------------
//  Snapshots and compaction

void
zkv_rc_report_snapshot (zkv_rc_t *self, uint64_t follower, bool done)
{
    rc_progress_t *pr = rc_progress (self, follower);
    if (self->role != ZKV_RC_LEADER || !pr || pr->state != RC_SNAPSHOT)
        return;
    if (!done)
        pr->pending_snapshot = 0;       //  try again from probing
    rc_progress_become_probe (pr);
    //  Wait for the follower's answer before sending more (etcd: pause)
    pr->probe_sent = true;
}

void
zkv_rc_restore_snapshot (zkv_rc_t *self, uint64_t index, uint64_t term,
                         const zkv_conf_state_t *conf)
{
    if (index <= self->log.committed)
        return;                         //  older than what we know committed
    if (rc_log_restore (&self->log, index, term))
        self->snapshot_changed = true;
    if (conf)
        rc_conf_switch (self, conf);
    //  Tell the leader where we are now
    if (self->leader) {
        zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_APP_RESP, self->leader);
        reply.index = rc_log_last_index (&self->log);
        rc_send (self, &reply);
    }
}

void
zkv_rc_compact (zkv_rc_t *self, uint64_t index)
{
    //  A ready handed out points into the log: wait for its advance
    if (self->in_ready) {
        if (index > self->compact_to)
            self->compact_to = index;
    }
    else
        rc_log_compact (&self->log, index);
}

void
zkv_rc_report_unreachable (zkv_rc_t *self, uint64_t peer)
{
    rc_progress_t *pr = rc_progress (self, peer);
    if (self->role == ZKV_RC_LEADER && pr && pr->state == RC_REPLICATE)
        rc_progress_become_probe (pr);
}

//  ---------------------------------------------------------------------
//  Ready and Advance

bool
zkv_rc_has_ready (zkv_rc_t *self)
{
    zkv_hard_state_t hard = { self->term, self->vote, self->log.committed };
    return self->leader != self->ready_leader || self->role != self->ready_role
        || memcmp (&hard, &self->ready_hard_state, sizeof hard) != 0
        || self->log.stable < rc_log_last_index (&self->log)
        || self->snapshot_changed
        || self->messages.count || self->messages_after.count
        || self->snapshot_to_count || self->read_state_count || self->dropped_count
        || self->log.applied < self->log.committed;
}

//  Copies entries [lo, hi] of the log as zkv_entry_t (sharing the data)
static zkv_entry_t *
s_entries (zkv_rc_t *self, uint64_t lo, uint64_t hi, size_t *count)
{
    *count = hi >= lo? (size_t) (hi - lo + 1): 0;
    if (*count == 0)
        return NULL;
    zkv_entry_t *entries = (zkv_entry_t *) malloc (*count * sizeof (zkv_entry_t));
    if (!entries)
        abort ();
    for (uint64_t index = lo; index <= hi; index++) {
        rc_entry_t *entry = rc_log_entry (&self->log, index);
        zkv_entry_t *out = &entries [index - lo];
        out->index = entry->index;
        out->term = entry->term;
        out->type = entry->type;
        out->data = entry->data? zkv_bin (entry->data->bytes, entry->data->size)
                               : zkv_bin (NULL, 0);
    }
    return entries;
}

void
zkv_rc_ready (zkv_rc_t *self, zkv_rc_ready_t *ready)
{
    memset (ready, 0, sizeof *ready);
    self->in_ready = true;
    ready->leader = self->leader;
    ready->role = self->role;
    ready->term = self->term;
    ready->soft_state_changed = self->leader != self->ready_leader
                             || self->role != self->ready_role
                             || self->term != self->ready_term;
    zkv_hard_state_t hard = { self->term, self->vote, self->log.committed };
    ready->hard_state = hard;
    ready->hard_state_changed = memcmp (&hard, &self->ready_hard_state, sizeof hard) != 0;
    ready->snapshot_changed = self->snapshot_changed;
    ready->snapshot_index = self->log.snapshot_index;
    ready->snapshot_term = self->log.snapshot_term;

    //  Entries not yet durable
    uint64_t last = rc_log_last_index (&self->log);
    self->ready_entries = s_entries (self, self->log.stable + 1, last, &ready->entry_count);
    ready->entries = self->ready_entries;
    self->ready_stable_to = last;

    //  Entries committed and not yet handed out: with the write done before
    //  applying (step 2 before step 4), committed entries of this very
    //  ready may be applied
    uint64_t commit_to = self->log.committed < last? self->log.committed: last;
    self->ready_committed = s_entries (self, self->log.applied + 1, commit_to,
                                       &ready->committed_count);
    self->ready_applied_count = ready->committed_count;
    ready->committed = self->ready_committed;
    self->ready_applied_to = commit_to > self->log.applied? commit_to: self->log.applied;

    //  Messages, lent until advance
    self->out_messages = self->messages;
    self->out_after = self->messages_after;
    memset (&self->messages, 0, sizeof self->messages);
    memset (&self->messages_after, 0, sizeof self->messages_after);
    //  Messages to self are not for the caller: advance delivers them
    size_t kept = 0;
    for (size_t i = 0; i < self->out_after.count; i++)
        if (self->out_after.items [i].to != self->config.id)
            kept++;
    ready->messages = self->out_messages.items;
    ready->message_count = self->out_messages.count;
    //  Keep self-addressed ones at the end, outside what the caller sees
    for (size_t i = 0, j = 0; i < self->out_after.count; i++) {
        if (self->out_after.items [i].to != self->config.id) {
            zkv_raft_message_t tmp = self->out_after.items [j];
            self->out_after.items [j] = self->out_after.items [i];
            self->out_after.items [i] = tmp;
            j++;
        }
    }
    ready->messages_after = self->out_after.items;
    ready->message_after_count = kept;

    ready->snapshot_to = self->snapshot_to;
    ready->snapshot_to_count = self->snapshot_to_count;
    ready->reads = self->read_states;
    ready->read_count = self->read_state_count;
    ready->dropped = self->dropped;
    ready->dropped_count = self->dropped_count;
}

static void
s_free_messages (rc_messages_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free (list->items [i].entries.items);
    free (list->items);
    memset (list, 0, sizeof *list);
}

void
zkv_rc_advance (zkv_rc_t *self)
{
    if (!self->in_ready)
        return;
    self->in_ready = false;
    self->ready_leader = self->leader;
    self->ready_role = self->role;
    self->ready_term = self->term;
    zkv_hard_state_t hard = { self->term, self->vote, self->log.committed };
    self->ready_hard_state = hard;
    self->snapshot_changed = false;
    //  The write is durable: entries up to what was handed out are stable
    //  (unless a truncation since took some back)
    uint64_t stable_to = self->ready_stable_to;
    if (stable_to > rc_log_last_index (&self->log))
        stable_to = rc_log_last_index (&self->log);
    if (stable_to > self->log.stable)
        self->log.stable = stable_to;
    if (self->ready_applied_to > self->log.applied)
        self->log.applied = self->ready_applied_to;
    //  Configurations take effect now that their entries are applied
    for (size_t i = 0; self->ready_committed && i < self->ready_applied_count; i++)
        if (self->ready_committed [i].type == ZKV_RC_ENTRY_CONF)
            rc_conf_applied (self, self->ready_committed [i].data);
    rc_conf_maybe_leave (self);
    free (self->ready_entries);
    free (self->ready_committed);
    self->ready_entries = self->ready_committed = NULL;
    self->snapshot_to_count = 0;
    self->read_state_count = 0;
    self->dropped_count = 0;
    for (size_t i = 0; i < self->held_count; i++)
        rc_data_unref (&self->held [i]);
    self->held_count = 0;

    //  Deliver what this member said to itself, now that it is durable
    rc_messages_t after = self->out_after;
    memset (&self->out_after, 0, sizeof self->out_after);
    for (size_t i = 0; i < after.count; i++)
        if (after.items [i].to == self->config.id)
            zkv_rc_step (self, &after.items [i]);
    s_free_messages (&after);
    s_free_messages (&self->out_messages);
    if (self->role == ZKV_RC_LEADER)
        rc_self_persisted (self, self->log.stable);
    if (self->compact_to) {
        rc_log_compact (&self->log, self->compact_to);
        self->compact_to = 0;
    }
}

//  ---------------------------------------------------------------------
//  Lifecycle

zkv_rc_t *
zkv_rc_new (const zkv_rc_config_t *config, const zkv_rc_restore_t *restore)
{
    zkv_rc_t *self = (zkv_rc_t *) calloc (1, sizeof (zkv_rc_t));
    if (!self)
        return NULL;
    self->config = *config;
    if (self->config.election_ticks < 2)
        self->config.election_ticks = 2;
    if (self->config.heartbeat_ticks < 1)
        self->config.heartbeat_ticks = 1;
    if (self->config.max_inflight == 0)
        self->config.max_inflight = 256;
    if (self->config.max_msg_bytes == 0)
        self->config.max_msg_bytes = 1 << 20;
    self->config.voters = NULL;         //  the caller's: see conf
    self->config.voter_count = 0;
    for (size_t i = 0; i < ZKV_RC_MAX_MEMBERS; i++) {
        self->spare_inflight [i] = (uint64_t *) calloc (self->config.max_inflight,
                                                        sizeof (uint64_t));
        if (!self->spare_inflight [i])
            abort ();
    }
    self->spare_count = ZKV_RC_MAX_MEMBERS;
    self->rng = config->seed? config->seed: 0x9E3779B97F4A7C15ULL;
    rc_log_init (&self->log, restore->snapshot_index, restore->snapshot_term);
    for (size_t i = 0; i < restore->entry_count; i++) {
        const zkv_entry_t *entry = &restore->entries [i];
        rc_data_t *data = rc_data_new (entry->data.data, entry->data.size);
        rc_log_push (&self->log, entry->index, entry->term, entry->type, data);
        rc_data_unref (&data);
    }
    self->log.stable = rc_log_last_index (&self->log);
    self->term = restore->hard_state.term;
    self->vote = restore->hard_state.vote;
    rc_log_commit_to (&self->log, restore->hard_state.commit);
    uint64_t applied = restore->applied;
    if (applied > self->log.committed)
        applied = self->log.committed;
    if (applied > self->log.applied)
        self->log.applied = applied;
    self->role = ZKV_RC_FOLLOWER;
    zkv_conf_state_t conf;
    if (restore->conf)
        conf = *restore->conf;
    else {
        //  A new cluster: every member it was started with votes
        memset (&conf, 0, sizeof conf);
        for (size_t i = 0; i < config->voter_count && i < ZKV_RC_MAX_MEMBERS; i++)
            conf.voters [conf.voter_count++] = config->voters [i];
    }
    rc_conf_switch (self, &conf);
    rc_reset_randomized_timeout (self);
    rc_progress_reset (self);
    self->ready_role = ZKV_RC_FOLLOWER;
    self->ready_term = self->term;
    zkv_hard_state_t hard = { self->term, self->vote, self->log.committed };
    self->ready_hard_state = hard;
    return self;
}

void
zkv_rc_destroy (zkv_rc_t **self_p)
{
    zkv_rc_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->progress_count; i++)
        free (self->progress [i].inflight);
    for (size_t i = 0; i < self->spare_count; i++)
        free (self->spare_inflight [i]);
    rc_log_destroy (&self->log);
    s_free_messages (&self->messages);
    s_free_messages (&self->messages_after);
    s_free_messages (&self->out_messages);
    s_free_messages (&self->out_after);
    for (size_t i = 0; i < self->held_count; i++)
        rc_data_unref (&self->held [i]);
    free (self->held);
    free (self->ready_entries);
    free (self->ready_committed);
    free (self->reads);
    free (self->early_reads);
    free (self->snapshot_to);
    free (self->read_states);
    free (self->dropped);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Inspection

zkv_rc_role_t zkv_rc_role (zkv_rc_t *self) { return self->role; }
uint64_t zkv_rc_term (zkv_rc_t *self) { return self->term; }
uint64_t zkv_rc_leader (zkv_rc_t *self) { return self->leader; }
uint64_t zkv_rc_committed (zkv_rc_t *self) { return self->log.committed; }
uint64_t zkv_rc_last_index (zkv_rc_t *self) { return rc_log_last_index (&self->log); }
uint64_t zkv_rc_first_index (zkv_rc_t *self) { return rc_log_first_index (&self->log); }
uint64_t zkv_rc_transferee (zkv_rc_t *self) { return self->transferee; }
const zkv_conf_state_t *zkv_rc_conf (zkv_rc_t *self) { return &self->conf; }

uint64_t
zkv_rc_transferred_from (zkv_rc_t *self)
{
    return self->timeout_now_term == self->term? self->timeout_now_from: 0;
}
uint64_t zkv_rc_term_at (zkv_rc_t *self, uint64_t index) { return rc_log_term (&self->log, index); }

bool
zkv_rc_progress (zkv_rc_t *self, uint64_t peer, uint64_t *match, uint64_t *next)
{
    rc_progress_t *pr = rc_progress (self, peer);
    if (self->role != ZKV_RC_LEADER || !pr)
        return false;
    *match = pr->match;
    *next = pr->next;
    return true;
}

const char *
zkv_rc_role_name (zkv_rc_role_t role)
{
    static const char *names [] = { "follower", "pre-candidate", "candidate", "leader" };
    return role <= ZKV_RC_LEADER? names [role]: "?";
}

const char *
zkv_rc_msg_name (uint64_t type)
{
    static const char *names [] = {
        "?", "App", "AppResp", "Vote", "VoteResp", "PreVote", "PreVoteResp", "Heartbeat",
        "HeartbeatResp", "Snap", "Prop", "PropResp", "ReadIndex", "ReadIndexResp",
        "TransferLeader", "TimeoutNow"
    };
    return type < ZKV_RC_MSG_TYPES? names [type]: "?";
}
