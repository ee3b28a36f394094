/*  =========================================================================
    zkv_raft.h — the raft actor: the Raft core (zkv_rc.h) given I/O.

    It persists the core's log and hard state through store/zkv_raftlog
    (one write per ready, synced when it holds entries or a new term or
    vote), talks to the other members over the peer transport
    (zkv_peers.h), drives the core with a fixed tick (a tenth of the
    heartbeat interval, so that election timeouts are measured to within
    10 ms, not to within a heartbeat: see zkv_raft.c), hands committed
    entries to storage (with the commit index, which storage passes on to
    front), and tells front the role, term and leader when they change. Proposals from front are batched,
    one core call per burst; those the core cannot take are refused at
    once (no leader, a transfer in progress) with a retryable error.
    Linearizable reads are batched under one read token per burst, and go
    to storage with their read index once a quorum confirmed it. The log is
    compacted every --snapshot-count applied entries, keeping a tail for
    slow followers; a follower behind the compacted log gets a snapshot
    that storage streams in chunks. A leader asked to stop moves its
    leadership to the most caught-up follower first.

    Pipe commands:
      START applied        loads the log, binds, connects; replies "OK" or
                           an error text
      PUBLISH endpoint     the client endpoint to publish in the member
                           table (proposed through raft until recorded)
      RELEASE              ends args->hold: the member takes part in raft
      $TERM                stops (transferring leadership first)
    Inbox (PULL, bound at args->raft): raft_requests (a burst's proposals
    and linearizable reads), storage_state,
    snapshot_chunk (from storage, to stream), snapshot_installed,
    fault_injection, move_order, member_order, hash_ask and hash_answer
    (relayed).
    =========================================================================
*/
#ifndef ZKV_RAFT_H_INCLUDED
#define ZKV_RAFT_H_INCLUDED

#include <czmq.h>

#include "zkv_peers.h"
#include "zkv_wiring.h"

typedef struct {
    ZKV_WIRING;                         //  binds raft; storage, front, hasher, alarm;
                                        //  CURVE for the peers with peer_cert
    const zkv_peer_t *members;          //  the member table at start, self included
    size_t member_count;
    size_t max_learners;                //  learners at once (etcd's default: 1)
    const char *listen_peer;            //  peer endpoint to bind
    int listen_peer_fd;                 //  or an inherited socket (>= 0)
    int heartbeat_interval;             //  msecs between heartbeats
    int election_timeout;               //  msecs without a leader before an election
    uint64_t snapshot_count;            //  applied entries between compactions
    bool fault_injection;               //  accept fault requests (tests)
    bool hold;                          //  start silent (no votes, no campaign,
                                        //  no ticks) until RELEASE: the
                                        //  initial corruption check runs
} zkv_raft_args_t;

void
    zkv_raft_actor (zsock_t *pipe, void *args);

#endif
