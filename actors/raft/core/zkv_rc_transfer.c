/*  =========================================================================
    zkv_rc_transfer.c — leadership transfer, etcd-raft's way (the Raft
    dissertation §3.10, https://github.com/ongardie/dissertation). The
    leader stops taking proposals (they fail at once with
    ZKV_RC_TRANSFERRING), catches the target up, and sends it TimeoutNow
    once the target's durable log matches its own; the target campaigns at
    once, without a pre-vote, with the flag that lets voters ignore their
    leader lease. A transfer not done within an election timeout is
    abandoned (zkv_rc_tick). TimeoutNow carries the leader's last index and
    term: a target acts on it only if its log ends exactly there and the
    sender is still its leader. That stops most late TimeoutNows after an
    abort, not all: a target that was paused reads the TimeoutNow before
    the appends sent after it, and still campaigns (as etcd's does).
    =========================================================================
*/
#include "zkv_rc_private.h"

static void
s_send_timeout_now (zkv_rc_t *self, uint64_t target)
{
    zkv_raft_message_t message = rc_message (self, ZKV_RC_MSG_TIMEOUT_NOW, target);
    message.index = rc_log_last_index (&self->log);
    message.log_term = rc_log_last_term (&self->log);
    rc_send (self, &message);
}

void
rc_transfer_request (zkv_rc_t *self, uint64_t target)
{
    //  Only to a voter that stays one (never a learner: etcd's bad
    //  leader transferee, which the shell reports)
    bool incoming = false;
    for (uint32_t i = 0; i < self->conf.voter_count; i++)
        incoming |= self->conf.voters [i] == target;
    if (self->role != ZKV_RC_LEADER || !incoming)
        return;
    if (self->transferee == target)
        return;                         //  already on its way there
    rc_transfer_abort (self);           //  another target: start again
    if (target == self->config.id)
        return;                         //  already the leader
    self->transferee = target;
    self->election_elapsed = 0;         //  it has one election timeout
    rc_progress_t *pr = rc_progress (self, target);
    if (pr->match == rc_log_last_index (&self->log))
        s_send_timeout_now (self, target);
    else
        rc_send_append (self, pr, true);
}

void
rc_transfer_check (zkv_rc_t *self, const rc_progress_t *pr)
{
    if (self->transferee == pr->id && pr->match == rc_log_last_index (&self->log))
        s_send_timeout_now (self, pr->id);
}

void
rc_transfer_abort (zkv_rc_t *self)
{
    self->transferee = 0;
}

void
rc_handle_timeout_now (zkv_rc_t *self, const zkv_raft_message_t *message)
{
    if (message->from != self->leader
    ||  rc_log_last_index (&self->log) != message->index
    ||  rc_log_last_term (&self->log) != message->log_term)
        return;                         //  stale, or our log is not the leader's
    rc_hup (self, true);
    self->timeout_now_from = message->from;
    self->timeout_now_term = self->term;
}
