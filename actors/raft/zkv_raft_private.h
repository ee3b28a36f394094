/*  =========================================================================
    zkv_raft_private.h — the state shared by the files of the raft actor
    (zkv_raft.c: the core given I/O; zkv_raft_reads.c: linearizable
    reads; zkv_raft_moves.c: MoveLeader and the transfer and member
    events; zkv_raft_relay.c: the corruption checks' asks and answers).
    Not for use outside actors/raft/.
    =========================================================================
*/
#ifndef ZKV_RAFT_PRIVATE_H_INCLUDED
#define ZKV_RAFT_PRIVATE_H_INCLUDED

#include "zkv_raft.h"
#include "zkv_actor_io.h"
#include "zkv_waiter.h"
#include "zkv_fatal.h"
#include "zkv_grow.h"
#include "zkv_raftlog.h"
#include "zkv_rc.h"

#define MAX_APPLY_BYTES (16 << 20)      //  committed entries per apply message
#define SNAPSHOT_RETRY_MSECS 5000       //  a stream stalled, or ended, that long: another
#define SNAPSHOT_WINDOW 4               //  chunks of a stream ahead of its connection
#define PUBLISH_MSECS 2000              //  between attempts to publish ourselves

//  Linearizable reads asked during one burst, under one read token
typedef struct {
    uint64_t context;
    int64_t created;
    uint64_t *waits;
    zkv_bin_t *requests;                //  owned copies
    size_t count;
    size_t room;
} s_reads_t;

//  A snapshot stream to one follower
typedef struct {
    uint64_t to;
    int64_t moved;                      //  when it started, a chunk left, or it ended
    bool last_queued;                   //  storage produced its last chunk
    size_t granted;                     //  chunks storage may make, not come yet
    bool sending;                       //  its chunks are not all sent yet
} s_stream_t;

//  A member, as the member table has it and the leader sees it
typedef struct {
    uint64_t id;
    char endpoint [256];                //  its peer endpoint
    bool learner;
    bool started;                       //  it published its name
    bool auto_promote;
    int64_t last_heard;                 //  leader: a frame came from it (mono)
    bool down;                          //  leader: told down
} s_member_t;

//  A MoveLeader waiting for its target to lead
typedef struct {
    uint64_t wait;
    uint64_t target;
    uint64_t previous;                  //  the leader when it came
    int64_t started;                    //  monotonic usecs
    int64_t deadline;                   //  monotonic msecs
    bool started_heard;                 //  a transfer to target started since
} s_move_t;

typedef struct {
    zsock_t *pipe;                      //  actor command pipe
    zkv_raft_args_t *args;
    zsock_t *inbox;
    zsock_t *storage;
    zsock_t *snapshotter;               //  makes the snapshots followers get
    zsock_t *front;
    zsock_t *hasher;                    //  asks of other members' checks
    zsock_t *alarm;                     //  state, and answers to its asks
    zkv_waiter_t *waiter;               //  on the pipe, the inbox, the peers
    zkv_peers_t *peers;
    zkv_rc_t *core;
    zkv_raftlog_t *log;
    int tick_msecs;                     //  one tick of the core
    int64_t next_tick;
    zkv_hard_state_t persisted;         //  hard state last written
    //  Proposals of the burst
    zkv_bin_t *proposals;
    uint64_t *proposal_waits;
    size_t proposal_count;
    size_t proposal_room;
    zkv_msg_t **held;                   //  the messages they point into
    size_t held_count;
    size_t held_room;
    //  Reads
    s_reads_t *reads;                   //  this burst's
    zlistx_t *pending_reads;            //  s_reads_t waiting for a read index
    uint64_t next_read_context;
    //  What storage reports
    uint64_t applied;
    //  Snapshot streams (leader)
    s_stream_t *streams;
    size_t stream_count;
    //  Publishing our client endpoint
    char *client_endpoint;
    char *events_endpoint;
    bool published;
    int64_t next_publish;
    //  MoveLeader requests held here
    s_move_t *moves;
    size_t move_count;
    //  Transfers: ours (as leader), and the last one started we heard of
    uint64_t transfer_to;
    uint64_t transfer_term;
    int64_t transfer_started;           //  monotonic usecs
    uint64_t completed_term;            //  a transfer to us completed in it
    bool transfer_cancelled;            //  by a move to the leader itself
    uint64_t heard_started_from;
    uint64_t heard_started_to;
    int64_t heard_started_at;           //  monotonic usecs
    //  The members (the member table, as storage applied it)
    s_member_t members [ZKV_RC_MAX_MEMBERS];
    size_t member_count;
    uint64_t members_version;           //  storage's, when last read
    uint64_t linked [2 * ZKV_RC_MAX_MEMBERS];   //  the peers connected to
    size_t linked_count;
    int64_t next_auto_promote;
    bool was_member;                    //  in the configuration once
    bool learner;                       //  a learner now
    int64_t removed_at;                 //  removed: when it learned it (mono)
    bool stopping;
    //  Members up or down, as the leader sees them
    bool was_leading;
    int64_t leading_since;
    bool members_told;                  //  the state of each told this term
    bool holding;                       //  relays hashes only: no step, no tick
    bool terminated;
} self_t;

//  Tells front a request cannot go on (wait 0: our own, nobody waits)
void
    zkv_raft_refuse (self_t *self, uint64_t wait, zkv_err_t error, uint64_t leader);
//  The same, with a detail after the error's text (NULL: none)
void
    zkv_raft_refuse_why (self_t *self, uint64_t wait, zkv_err_t error, uint64_t leader,
                         const char *detail);

//  Tells front and the alarm actor the role, term and leader
void
    zkv_raft_push_state (self_t *self);

//  Members (zkv_raft_members.c)
//  The member id, or NULL
s_member_t *
    zkv_raft_member (self_t *self, uint64_t id);
//  Reads the member table again, and connects to whoever joined
void
    zkv_raft_members_load (self_t *self);
//  A membership change from front: refused at once, or proposed
void
    zkv_raft_member_order (self_t *self, const zkv_member_order_t *order);
//  After each round: auto-promotion (leader), this member's own removal
void
    zkv_raft_members_check (self_t *self);
//  A member that joins asks for its cluster: answered if it was added
void
    zkv_raft_answer_join (self_t *self, const zkv_cluster_member_t *joiner);
//  This member was removed (how: for the log): refuses clients, then stops
void
    zkv_raft_removed (self_t *self, const char *how);

//  Reads (zkv_raft_reads.c)
//  Adds a read to this burst's
void
    zkv_raft_read_add (self_t *self, uint64_t wait, zkv_bin_t request);
//  Asks the core for one read index for every read of the burst
void
    zkv_raft_flush_reads (self_t *self);
//  A quorum confirmed the read token: storage serves the reads at index
void
    zkv_raft_read_confirmed (self_t *self, const zkv_rc_read_t *read);
//  Fails the reads whose confirmation never came
void
    zkv_raft_expire_reads (self_t *self);
void
    zkv_raft_reads_destroy (s_reads_t **reads_p);
void
    zkv_raft_reads_item_destroy (void **item_p);

//  MoveLeader and events (zkv_raft_moves.c)
//  Takes a MoveLeader: answers it at once, or holds it until done
void
    zkv_raft_move (self_t *self, const zkv_move_order_t *order);
//  Answers the moves whose target leads; fails those past their deadline
void
    zkv_raft_moves_check (self_t *self);
//  Tells the transfers this member started, completed or saw abort
void
    zkv_raft_watch_transfer (self_t *self);
//  A frame came from peer
void
    zkv_raft_heard_from (self_t *self, uint64_t peer);
//  Leader: tells the members that went down or came back
void
    zkv_raft_watch_members (self_t *self);
//  Publishes the events another member sent, and learns from them
void
    zkv_raft_peer_events (self_t *self, const zkv_peer_frame_t *frame);

//  The asks and answers of the corruption checks (zkv_raft_relay.c)
//  An ask of our alarm actor's, or a member's for us: to whom it is for
void
    zkv_raft_hash_ask (self_t *self, zkv_hash_ask_t *ask);
//  An answer of our hasher's, or a member's to us: to its asker
void
    zkv_raft_hash_answer (self_t *self, zkv_hash_answer_t *answer);
//  The asks and answers of a peer frame
void
    zkv_raft_peer_hashes (self_t *self, const zkv_peer_frame_t *frame);

#endif
