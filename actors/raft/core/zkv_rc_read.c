/*  =========================================================================
    zkv_rc_read.c — ReadIndex, safe mode: a read is served at the commit
    index the leader had when it arrived, once a quorum has confirmed, by
    answering a heartbeat sent after it, that this member still leads.

    Each read gets a token from the leader: a counter that only grows for
    the whole term, sent in the heartbeat context. A member's answer
    confirms every read whose token is at most the one it echoes, so a
    delayed or duplicated answer to an older heartbeat can never confirm a
    newer read (the bug of etcd #20418, where a reused request id did).
    A new leader serves no read before it has committed an entry of its own
    term, since until then its commit index may lag (etcd #7331).
    =========================================================================
*/
#include "zkv_rc_private.h"

#include <stdlib.h>
#include <string.h>

void
rc_read_state (zkv_rc_t *self, uint64_t index, uint64_t context)
{
    if (zkv_grow ((void **) &self->read_states, &self->read_state_room,
                  self->read_state_count + 1, sizeof (zkv_rc_read_t)))
        abort ();                       //  out of memory in a pure core
    self->read_states [self->read_state_count].index = index;
    self->read_states [self->read_state_count].context = context;
    self->read_state_count++;
}

static void
s_respond (zkv_rc_t *self, uint64_t from, uint64_t index, uint64_t context)
{
    if (from == self->config.id)
        rc_read_state (self, index, context);
    else {
        zkv_raft_message_t reply = rc_message (self, ZKV_RC_MSG_READ_INDEX_RESP, from);
        reply.index = index;
        reply.context = context;
        rc_send (self, &reply);
    }
}

void
rc_read_request (zkv_rc_t *self, uint64_t from, uint64_t context)
{
    if (self->role != ZKV_RC_LEADER)
        return;
    if (!self->committed_in_term) {
        if (zkv_grow ((void **) &self->early_reads, &self->early_room, self->early_count + 1,
                      sizeof (rc_pending_read_t)))
            abort ();                   //  out of memory in a pure core
        rc_pending_read_t *early = &self->early_reads [self->early_count++];
        early->from = from;
        early->context = context;
        return;
    }
    if (rc_sole_voter (self)) {
        s_respond (self, from, self->log.committed, context);
        return;
    }
    if (zkv_grow ((void **) &self->reads, &self->read_room, self->read_count + 1,
                  sizeof (rc_pending_read_t)))
        abort ();                       //  out of memory in a pure core
    rc_pending_read_t *read = &self->reads [self->read_count++];
    read->token = ++self->read_token;
    read->index = self->log.committed;
    read->from = from;
    read->context = context;
    rc_progress (self, self->config.id)->read_ack = read->token;
    rc_broadcast_heartbeat (self, read->token);
}

//  Whether a member confirmed the read being counted
static int
s_acked (zkv_rc_t *self, const rc_progress_t *pr)
{
    return pr->read_ack >= self->acking;
}

void
rc_read_acked (zkv_rc_t *self, uint64_t from, uint64_t token)
{
    rc_progress_t *pr = rc_progress (self, from);
    if (!pr || token > self->read_token)
        return;                         //  not a token of this term's
    if (token > pr->read_ack)
        pr->read_ack = token;
    //  Confirmations only shrink as tokens grow: serve a prefix
    size_t served = 0;
    while (served < self->read_count) {
        self->acking = self->reads [served].token;
        if (rc_tally (self, s_acked) != RC_VOTE_WON)
            break;
        rc_pending_read_t *read = &self->reads [served];
        s_respond (self, read->from, read->index, read->context);
        served++;
    }
    memmove (self->reads, self->reads + served,
             (self->read_count - served) * sizeof (rc_pending_read_t));
    self->read_count -= served;
}

void
rc_read_release_early (zkv_rc_t *self)
{
    size_t count = self->early_count;
    self->early_count = 0;
    for (size_t i = 0; i < count; i++)
        rc_read_request (self, self->early_reads [i].from, self->early_reads [i].context);
}

void
rc_read_reset (zkv_rc_t *self)
{
    //  Reads waiting on a leadership that ends are forgotten; their
    //  callers time out and ask again
    self->read_count = 0;
    self->early_count = 0;
    self->read_token = 0;
}
