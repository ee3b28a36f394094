/*  =========================================================================
    zkv_rc_replication.c — log replication: the leader's view of each
    member (probe / replicate / snapshot, with an in-flight window), the
    appends and heartbeats it sends, the commit rule, and the follower's
    side of appends and heartbeats.
    =========================================================================
*/
#include "zkv_rc_private.h"

#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Progress

static void
s_inflight_reset (rc_progress_t *pr)
{
    pr->inflight_start = 0;
    pr->inflight_count = 0;
}

bool
rc_inflight_full (zkv_rc_t *self, const rc_progress_t *pr)
{
    return pr->inflight_count >= self->config.max_inflight;
}

static void
s_inflight_add (zkv_rc_t *self, rc_progress_t *pr, uint64_t last)
{
    size_t slot = (pr->inflight_start + pr->inflight_count) % self->config.max_inflight;
    pr->inflight [slot] = last;
    pr->inflight_count++;
}

//  Frees the appends whose last entry is <= index (acknowledged)
static void
s_inflight_free (zkv_rc_t *self, rc_progress_t *pr, uint64_t index)
{
    while (pr->inflight_count && pr->inflight [pr->inflight_start] <= index) {
        pr->inflight_start = (pr->inflight_start + 1) % self->config.max_inflight;
        pr->inflight_count--;
    }
}

void
rc_progress_become_probe (rc_progress_t *pr)
{
    //  After a snapshot, probe from past it
    uint64_t next = pr->match + 1;
    if (pr->state == RC_SNAPSHOT && pr->pending_snapshot + 1 > next)
        next = pr->pending_snapshot + 1;
    pr->state = RC_PROBE;
    pr->next = next;
    pr->probe_sent = false;
    pr->pending_snapshot = 0;
    s_inflight_reset (pr);
}

static void
s_become_replicate (rc_progress_t *pr)
{
    pr->state = RC_REPLICATE;
    pr->next = pr->match + 1;
    pr->probe_sent = false;
    s_inflight_reset (pr);
}

void
rc_progress_reset (zkv_rc_t *self)
{
    uint64_t last = rc_log_last_index (&self->log);
    for (size_t i = 0; i < self->progress_count; i++) {
        rc_progress_t *pr = &self->progress [i];
        pr->match = 0;
        pr->next = last + 1;
        pr->state = RC_PROBE;
        pr->probe_sent = false;
        pr->pending_snapshot = 0;
        pr->recent_active = false;
        pr->read_ack = 0;
        s_inflight_reset (pr);
        if (pr->id == self->config.id) {
            //  Only what is durable here counts toward a quorum
            pr->match = self->log.stable;
            pr->state = RC_REPLICATE;
            pr->recent_active = true;
        }
    }
}

static bool
s_paused (zkv_rc_t *self, const rc_progress_t *pr)
{
    switch (pr->state) {
        case RC_PROBE:     return pr->probe_sent;
        case RC_REPLICATE: return rc_inflight_full (self, pr);
        case RC_SNAPSHOT:  return true;
    }
    return true;
}

//  The follower acknowledged index: true if that moved its match
static bool
s_maybe_update (rc_progress_t *pr, uint64_t index)
{
    bool updated = false;
    if (pr->match < index) {
        pr->match = index;
        updated = true;
        pr->probe_sent = false;
    }
    if (pr->next < index + 1)
        pr->next = index + 1;
    return updated;
}

//  The follower refused an append after `rejected`, hinting that its log
//  matches at most up to hint: back off, unless the refusal is stale
static bool
s_maybe_decrease (rc_progress_t *pr, uint64_t rejected, uint64_t hint)
{
    if (pr->state == RC_REPLICATE) {
        if (rejected <= pr->match)
            return false;               //  stale: it already matched beyond
        pr->next = pr->match + 1;
        return true;
    }
    if (pr->next - 1 != rejected)
        return false;                   //  not the probe we sent last
    uint64_t next = rejected < hint + 1? rejected: hint + 1;
    if (next < pr->match + 1)
        next = pr->match + 1;
    pr->next = next;
    pr->probe_sent = false;
    return true;
}

//  ---------------------------------------------------------------------
//  Leader: sending

bool
rc_send_append (zkv_rc_t *self, rc_progress_t *pr, bool send_if_empty)
{
    if (pr->id == self->config.id || s_paused (self, pr))
        return false;
    uint64_t prev = pr->next - 1;
    uint64_t last = rc_log_last_index (&self->log);
    if (prev < self->log.snapshot_index || pr->needs_snapshot) {
        //  What it needs is compacted away, or it just joined: it needs a
        //  snapshot (the state, with the configuration)
        if (!pr->recent_active)
            return false;
        pr->needs_snapshot = false;
        pr->state = RC_SNAPSHOT;
        pr->pending_snapshot = self->log.snapshot_index;
        s_inflight_reset (pr);
        if (zkv_grow ((void **) &self->snapshot_to, &self->snapshot_to_room,
                      self->snapshot_to_count + 1, sizeof (uint64_t)))
            abort ();                   //  out of memory in a pure core
        self->snapshot_to [self->snapshot_to_count++] = pr->id;
        return true;
    }
    //  Entries from next on, within the message size limit (at least one)
    size_t count = 0, bytes = 0;
    for (uint64_t index = pr->next; index <= last; index++) {
        rc_entry_t *entry = rc_log_entry (&self->log, index);
        size_t size = entry->data? entry->data->size: 0;
        if (count > 0 && bytes + size > self->config.max_msg_bytes)
            break;
        bytes += size;
        count++;
    }
    if (count == 0 && !send_if_empty)
        return false;
    zkv_raft_message_t message = rc_message (self, ZKV_RC_MSG_APP, pr->id);
    message.index = prev;
    message.log_term = rc_log_term (&self->log, prev);
    message.commit = self->log.committed;
    if (count) {
        zkv_entry_t *entries = (zkv_entry_t *) malloc (count * sizeof (zkv_entry_t));
        if (!entries)
            abort ();
        for (size_t i = 0; i < count; i++) {
            rc_entry_t *entry = rc_log_entry (&self->log, pr->next + i);
            entries [i].index = entry->index;
            entries [i].term = entry->term;
            entries [i].type = entry->type;
            entries [i].data = rc_hold_ref (self, entry->data);
        }
        message.entries.items = entries;
        message.entries.count = count;
        uint64_t sent_last = pr->next + count - 1;
        if (pr->state == RC_REPLICATE) {
            //  Optimistic pipelining: the next append follows at once
            pr->next = sent_last + 1;
            s_inflight_add (self, pr, sent_last);
        }
        else
            pr->probe_sent = true;      //  one probe until it answers
    }
    else
    if (pr->state == RC_PROBE)
        pr->probe_sent = true;
    rc_send (self, &message);
    return true;
}

void
rc_broadcast_append (zkv_rc_t *self)
{
    for (size_t i = 0; i < self->progress_count; i++)
        rc_send_append (self, &self->progress [i], true);
}

void
rc_broadcast_heartbeat (zkv_rc_t *self, uint64_t context)
{
    for (size_t i = 0; i < self->progress_count; i++) {
        rc_progress_t *pr = &self->progress [i];
        if (pr->id == self->config.id)
            continue;
        //  Never tell a member to commit beyond what it is known to hold:
        //  it may have lost unsynced entries (tikv #994)
        zkv_raft_message_t message = rc_message (self, ZKV_RC_MSG_HEARTBEAT, pr->id);
        message.commit = pr->match < self->log.committed? pr->match: self->log.committed;
        message.context = context;
        rc_send (self, &message);
    }
}

void
rc_append_entries (zkv_rc_t *self, const zkv_bin_t *data, size_t count)
{
    rc_append_typed (self, data, count, ZKV_RC_ENTRY_NORMAL);
}

void
rc_append_typed (zkv_rc_t *self, const zkv_bin_t *data, size_t count, uint64_t type)
{
    uint64_t index = rc_log_last_index (&self->log);
    if (count == 0) {
        rc_log_push (&self->log, ++index, self->term, type, NULL);
    }
    for (size_t i = 0; i < count; i++) {
        rc_data_t *payload = rc_data_new (data [i].data, data [i].size);
        rc_log_push (&self->log, ++index, self->term, type, payload);
        rc_data_unref (&payload);
        self->uncommitted_bytes += data [i].size;
    }
    rc_broadcast_append (self);
}

//  ---------------------------------------------------------------------
//  Leader: commit

bool
rc_maybe_commit (zkv_rc_t *self)
{
    //  What a quorum of voters holds (of both halves when joint)
    uint64_t index = rc_quorum_index (self);
    if (index <= self->log.committed)
        return false;
#ifndef ZKV_RC_BUG_COMMIT_OLD_TERM
    //  Only an entry of the leader's own term is committed by counting
    //  replicas; earlier ones follow it (Raft §5.4.2, Figure 8)
    if (rc_log_term (&self->log, index) != self->term)
        return false;
#endif
    uint64_t old = self->log.committed;
    rc_log_commit_to (&self->log, index);
    for (uint64_t i = old + 1; i <= index; i++) {
        rc_entry_t *entry = rc_log_entry (&self->log, i);
        size_t size = entry && entry->data? entry->data->size: 0;
        self->uncommitted_bytes = self->uncommitted_bytes > size? self->uncommitted_bytes - size: 0;
    }
    if (!self->committed_in_term && rc_log_term (&self->log, index) == self->term) {
        self->committed_in_term = true;
        rc_read_release_early (self);
    }
    return true;
}

void
rc_self_persisted (zkv_rc_t *self, uint64_t index)
{
    rc_progress_t *pr = rc_progress (self, self->config.id);
    if (!pr)
        return;
    if (index > pr->match)
        pr->match = index;
    if (rc_maybe_commit (self))
        rc_broadcast_append (self);
}

//  ---------------------------------------------------------------------
//  Leader: answers

void
rc_handle_append_response (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    rc_progress_t *pr = rc_progress (self, message->from);
    if (!pr || pr->id == self->config.id)
        return;
    pr->recent_active = true;
    if (message->reject && message->context == RC_ASK_SNAPSHOT) {
        //  A member that joined has no configuration: it starts from the
        //  state, never from entries it could not judge
        pr->needs_snapshot = true;
        if (pr->state == RC_REPLICATE)
            rc_progress_become_probe (pr);
        pr->probe_sent = false;
        rc_send_append (self, pr, true);
        return;
    }
    if (message->reject) {
        //  Back off fast: skip a whole term of the follower's log at once
        uint64_t hint = message->reject_hint;
        if (message->log_term > 0)
            hint = rc_log_find_conflict_by_term (&self->log, hint, message->log_term);
        if (s_maybe_decrease (pr, message->index, hint)) {
            if (pr->state == RC_REPLICATE)
                rc_progress_become_probe (pr);
            rc_send_append (self, pr, true);
        }
        return;
    }
    bool was_paused = s_paused (self, pr);
    //  A probe answered at the match it already had still moves it on
    if (!s_maybe_update (pr, message->index)
    &&  !(pr->state == RC_PROBE && pr->match == message->index)) {
        if (pr->state == RC_SNAPSHOT && pr->match >= pr->pending_snapshot)
            rc_progress_become_probe (pr);
        return;
    }
    if (pr->state == RC_PROBE)
        s_become_replicate (pr);
    else
    if (pr->state == RC_SNAPSHOT && pr->match >= pr->pending_snapshot) {
        rc_progress_become_probe (pr);
        s_become_replicate (pr);
    }
    else
    if (pr->state == RC_REPLICATE)
        s_inflight_free (self, pr, message->index);

    if (rc_maybe_commit (self))
        rc_broadcast_append (self);
    else
    if (was_paused)
        rc_send_append (self, pr, true);
    //  Keep it fed while the window allows
    while (rc_send_append (self, pr, false))
        ;
    rc_transfer_check (self, pr);
}

void
rc_handle_heartbeat_response (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    rc_progress_t *pr = rc_progress (self, message->from);
    if (!pr || pr->id == self->config.id)
        return;
    pr->recent_active = true;
    pr->probe_sent = false;
    //  A full window may hold only lost appends: start over from its match
    if (pr->state == RC_REPLICATE && rc_inflight_full (self, pr))
        rc_progress_become_probe (pr);
    if (pr->match < rc_log_last_index (&self->log) || pr->state == RC_PROBE)
        rc_send_append (self, pr, true);
    if (message->context)
        rc_read_acked (self, message->from, message->context);
}

//  ---------------------------------------------------------------------
//  Follower

//  True if an append's entries follow its index one by one, in terms that
//  never go back nor pass the message's: a leader's always do, and what
//  comes from outside the process is never trusted to
static bool
s_append_well_formed (const zkv_raft_message_t *message)
{
    uint64_t term = message->log_term;
    for (size_t i = 0; i < message->entries.count; i++) {
        const zkv_entry_t *entry = &message->entries.items [i];
        if (entry->index != message->index + 1 + i || entry->term < term
        ||  entry->term > message->term)
            return false;
        term = entry->term;
    }
    return true;
}

void
rc_handle_append (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    if (!s_append_well_formed (message))
        return;                         //  dropped, as if lost
    zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_APP_RESP, message->from);
    if (self->conf.voter_count == 0) {
        //  Joined, with no configuration yet: ask for a snapshot
        reply.index = message->index;
        reply.reject = true;
        reply.context = RC_ASK_SNAPSHOT;
        rc_send (self, &reply);
        return;
    }
    if (message->index < self->log.committed) {
        //  Behind what we committed: tell the leader how far we are
        reply.index = self->log.committed;
        rc_send (self, &reply);
        return;
    }
    uint64_t last_new;
    if (rc_log_maybe_append (&self->log, message->index, message->log_term, message->commit,
                             &message->entries, &last_new)) {
        reply.index = last_new;
        rc_send (self, &reply);
        return;
    }
    //  Refuse, with a hint: the largest index that may match, and its term
    uint64_t hint = message->index < rc_log_last_index (&self->log)?
                    message->index: rc_log_last_index (&self->log);
    hint = rc_log_find_conflict_by_term (&self->log, hint, message->log_term);
    reply.index = message->index;
    reply.reject = true;
    reply.reject_hint = hint;
    reply.log_term = rc_log_term (&self->log, hint);
    rc_send (self, &reply);
}

void
rc_handle_heartbeat (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    rc_log_commit_to (&self->log, message->commit);
    zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_HEARTBEAT_RESP, message->from);
    reply.context = message->context;
    rc_send (self, &reply);
}
