/*  =========================================================================
    zkv_rc_election.c — elections: randomized timeouts, PreVote, votes,
    and CheckQuorum on the leader.
    =========================================================================
*/
#include "zkv_rc_private.h"

void
rc_hup (zkv_rc_t *self, bool transfer)
{
    //  A learner, a member that is not one (yet, or any more), and one
    //  that has a change to apply first, do not campaign
    if (self->role == ZKV_RC_LEADER || !rc_promotable (self))
        return;
    //  A transferee campaigns at once, without a pre-vote its old leader
    //  would refuse while its lease lasts
    rc_campaign (self, self->config.pre_vote && !transfer, transfer);
}

void
rc_campaign (zkv_rc_t *self, bool pre_vote, bool transfer)
{
    uint64_t term;
    uint64_t type;
    if (pre_vote) {
        rc_become_pre_candidate (self);
        type = ZKV_RC_MSG_PRE_VOTE;
        term = self->term + 1;          //  the term it would take
    }
    else {
        rc_become_candidate (self);
        type = ZKV_RC_MSG_VOTE;
        term = self->term;
    }
    //  Its own vote counts once its term and vote are durable: a message to
    //  itself, delivered after the ready's write
    zkv_raft_message_t own = rc_message (self, type == ZKV_RC_MSG_VOTE? ZKV_RC_MSG_VOTE_RESP
                                                                      : ZKV_RC_MSG_PRE_VOTE_RESP,
                                         self->config.id);
    own.from = self->config.id;
    own.term = term;
    rc_send (self, &own);
    //  Votes are asked of the voters of both halves, never of learners
    for (size_t i = 0; i < self->progress_count; i++) {
        uint64_t id = self->progress [i].id;
        if (id == self->config.id || !zkv_rc_conf_is_voter (&self->conf, id))
            continue;
        zkv_raft_message_t request = rc_message (self, type, id);
        request.term = term;
        request.index = rc_log_last_index (&self->log);
        request.log_term = rc_log_last_term (&self->log);
        request.context = transfer? 1: 0;
        rc_send (self, &request);
    }
}

void
rc_handle_vote_request (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    bool pre = message->type == ZKV_RC_MSG_PRE_VOTE;
    //  Once per term a member votes; a pre-vote for a later term is only a
    //  question and binds nothing
    bool can_vote = self->vote == message->from
                 || (self->vote == 0 && self->leader == 0)
                 || (pre && message->term > self->term);
#ifdef ZKV_RC_BUG_VOTE_WITHOUT_LOG_CHECK
    bool up_to_date = true;
#else
    bool up_to_date = rc_log_up_to_date (&self->log, message->index, message->log_term);
#endif
    zkv_raft_message_t reply = rc_message (self, pre? ZKV_RC_MSG_PRE_VOTE_RESP
                                                    : ZKV_RC_MSG_VOTE_RESP, message->from);
    if (can_vote && up_to_date) {
        reply.term = message->term;
        if (!pre) {
            self->election_elapsed = 0;
            self->vote = message->from;
        }
    }
    else {
        //  A refusal tells how far this member knows the log committed: a
        //  candidate may be unable to win because it never heard that a
        //  change was committed (a removed leader steps down knowing it,
        //  and refuses candidates for its longer log), and learns it here
        reply.reject = true;
        reply.commit = self->log.committed;
        reply.log_term = rc_log_term (&self->log, self->log.committed);
    }
    rc_send (self, &reply);
}

static int
s_vote_answer (zkv_rc_t *self, const rc_progress_t *pr)
{
    (void) self;
    return pr->vote_answered? pr->vote_granted: -1;
}

static int
s_active_answer (zkv_rc_t *self, const rc_progress_t *pr)
{
    return pr->id == self->config.id || pr->recent_active;
}

void
rc_handle_vote_response (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    bool pre = message->type == ZKV_RC_MSG_PRE_VOTE_RESP;
    if ((pre && self->role != ZKV_RC_PRE_CANDIDATE)
    ||  (!pre && self->role != ZKV_RC_CANDIDATE))
        return;
    //  The same entry in our log is committed too (log matching)
    if (message->reject && message->commit > self->log.committed
    &&  rc_log_match (&self->log, message->commit, message->log_term))
        rc_log_commit_to (&self->log, message->commit);
    rc_progress_t *pr = rc_progress (self, message->from);
    if (!pr)
        return;
    if (!pr->vote_answered) {
        pr->vote_answered = true;
        pr->vote_granted = !message->reject;
    }
    rc_vote_t result = rc_tally (self, s_vote_answer);
    if (result == RC_VOTE_WON) {
        if (pre)
            rc_campaign (self, false, false);
        else {
            rc_become_leader (self);
            rc_broadcast_append (self);
        }
    }
    else
    if (result == RC_VOTE_LOST)
        rc_become_follower (self, self->term, 0);
}

void
rc_check_quorum (zkv_rc_t *self)
{
    bool active = rc_tally (self, s_active_answer) == RC_VOTE_WON;
    for (size_t i = 0; i < self->progress_count; i++)
        if (self->progress [i].id != self->config.id)
            self->progress [i].recent_active = false;
    //  Without a quorum in touch, this member may no longer be the leader:
    //  stepping down stops it from serving reads no one else confirms
    if (!active)
        rc_become_follower (self, self->term, 0);
}
