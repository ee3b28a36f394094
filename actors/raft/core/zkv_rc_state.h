/*  =========================================================================
    zkv_rc_state.h — the state the Raft core asks to be kept durable.

    The core defines it and the store keeps it (store/zkv_raftlog.h), as
    etcd-raft defines raftpb.HardState for its Storage: the store depends
    on this header, never the core on the store.
    =========================================================================
*/
#ifndef ZKV_RC_STATE_H_INCLUDED
#define ZKV_RC_STATE_H_INCLUDED

#include <stdint.h>

typedef struct {
    uint64_t term;                      //  current term
    uint64_t vote;                      //  member voted for in term, 0 if none
    uint64_t commit;                    //  highest index known committed
} zkv_hard_state_t;

#endif
