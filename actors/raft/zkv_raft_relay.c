/*  =========================================================================
    zkv_raft_relay.c — what the raft actor carries between members for
    other actors: the HashKV asks of the corruption checks and their
    answers. An ask goes from the asking member's alarm actor to the hasher
    of the member it names (this one's, or another's over the peer
    transport); the answer comes back the same way to the asker's alarm
    actor. Asks and answers that do not come from the member they name, or
    are not for this member, are dropped.
    =========================================================================
*/
#include "zkv_raft_private.h"

void
zkv_raft_hash_ask (self_t *self, zkv_hash_ask_t *ask)
{
    if (ask->to == self->args->member_id) {
        zkv_hash_order_t order = { .ask = ask };
        zkv_io_send (self->hasher, &zkv_hash_order_desc, &order);
    }
    else {
        zkv_peer_frame_t frame = { .to = ask->to, .hash_asks = { ask, 1 } };
        zkv_peers_send (self->peers, &frame);
    }
}

void
zkv_raft_hash_answer (self_t *self, zkv_hash_answer_t *answer)
{
    if (answer->asker == self->args->member_id)
        zkv_io_send (self->alarm, &zkv_hash_answer_desc, answer);
    else {
        zkv_peer_frame_t frame = { .to = answer->asker, .hash_answers = { answer, 1 } };
        zkv_peers_send (self->peers, &frame);
    }
}

void
zkv_raft_peer_hashes (self_t *self, const zkv_peer_frame_t *frame)
{
    uint64_t me = self->args->member_id;
    for (size_t i = 0; i < frame->hash_asks.count; i++) {
        zkv_hash_ask_t *ask = &frame->hash_asks.items [i];
        if (ask->asker == frame->from && ask->to == me)
            zkv_raft_hash_ask (self, ask);
    }
    for (size_t i = 0; i < frame->hash_answers.count; i++) {
        zkv_hash_answer_t *answer = &frame->hash_answers.items [i];
        if (answer->member == frame->from && answer->asker == me)
            zkv_raft_hash_answer (self, answer);
    }
}
