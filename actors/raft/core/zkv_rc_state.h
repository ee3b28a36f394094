/*  =========================================================================
    zkv_rc_state.h — the state the Raft core asks to be kept durable: the
    hard state, and the configuration (who votes, who learns).

    The core defines it and the store keeps it (store/zkv_raftlog.h), as
    etcd-raft defines raftpb.HardState for its Storage: the store depends
    on this header, never the core on the store.
    =========================================================================
*/
#ifndef ZKV_RC_STATE_H_INCLUDED
#define ZKV_RC_STATE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define ZKV_RC_MAX_MEMBERS 16           //  voters and learners, together

typedef struct {
    uint64_t term;                      //  current term
    uint64_t vote;                      //  member voted for in term, 0 if none
    uint64_t commit;                    //  highest index known committed
} zkv_hard_state_t;

//  The configuration: who votes and who only learns. Outside a change,
//  outgoing is empty and a quorum is a majority of voters. In a joint
//  configuration (entered by a change of several members at once) a
//  quorum is a majority of voters AND a majority of outgoing, the voters
//  before the change. Learners receive the log and never count. A member
//  is in at most one of voters and learners (it may be in outgoing too).
//  It takes effect when its entry is applied, and is kept with the
//  applied state: a member restarts with the configuration of its last
//  applied entry, and a snapshot carries the one at its index.
typedef struct {
    uint64_t voters [ZKV_RC_MAX_MEMBERS];
    uint64_t outgoing [ZKV_RC_MAX_MEMBERS];
    uint64_t learners [ZKV_RC_MAX_MEMBERS];
    uint32_t voter_count;
    uint32_t outgoing_count;
    uint32_t learner_count;
    bool auto_leave;                    //  joint: the leader leaves it once applied
} zkv_conf_state_t;

#endif
