/*  =========================================================================
    zkv_peers.h — the peer transport of the raft actor: tcp between
    members, over ZeroMQ.

    Each member binds a ROUTER on its peer endpoint, and keeps one DEALER
    connected to every other member's. What one member sends another during
    one ready goes as one frame: a peer_frame (msgs/) with the cluster id,
    sender, receiver and every raft message, so that many messages cost one
    frame. Sending never blocks and never buffers without bound: a DEALER
    queues nothing for a peer that is not connected (ZMQ_IMMEDIATE) and a
    bounded number of frames for one that is; what does not fit is dropped,
    which Raft tolerates, and the peer is reported unreachable. Snapshot
    chunks are the exception: they wait in a queue of their own until they
    can go, since a stream with a hole is worthless.

    Frames from outside the cluster (another cluster id, a sender that is
    not a member, a receiver that is not us) are refused and logged.

    With a certificate (--cert, or --peer-cert for the peer socket alone)
    the ROUTER is a CURVE server whose clients the ZAP handler checks
    under domain "peer" (zkv_zap.h), and each DEALER a CURVE client with
    the same key pair, expecting the same public key of its peer: the
    members of a cluster share one certificate. A frame whose
    User-Id (the sender's public key) is not in the peer set is refused
    too: the ZAP handler checked it already, this holds even without it.

    For tests, a member started with fault injection can drop what it sends
    to, or receives from, chosen members (partitions, one-way included).
    =========================================================================
*/
#ifndef ZKV_PEERS_H_INCLUDED
#define ZKV_PEERS_H_INCLUDED

#include <czmq.h>

#include "zkv_msgs.h"

typedef struct zkv_peers_s zkv_peers_t;

typedef struct {
    uint64_t id;
    const char *endpoint;
} zkv_peer_t;

//  The connections the peer socket keeps at most (a guard closes more, so
//  that strangers cannot take the member's descriptors): each member's
//  one, with room for reconnections and for zkvctl-free tools
#define ZKV_PEER_CONNECTIONS(members) (32 + 4 * (members))
#define ZKV_PEERS_MAX 16                //  members at most (ZKV_RC_MAX_MEMBERS)

//  Binds endpoint (or takes over the listening socket fd when >= 0) and
//  connects to every peer but self; over CURVE with cert's key pair when
//  cert is not NULL, taking frames only from the keys of peer_keys (the
//  caller keeps cert for the peers' life; peer_keys is copied). NULL with
//  a message in error if it cannot bind.
zkv_peers_t *
    zkv_peers_new (uint64_t self_id, uint64_t cluster_id, const zkv_peer_t *peers, size_t count,
                   const char *endpoint, int fd, zcert_t *cert, zhashx_t *peer_keys,
                   char *error, size_t error_size);

void
    zkv_peers_destroy (zkv_peers_t **self_p);

//  The members changed: connects to the new ones (and to those whose
//  endpoint changed), drops the departed. A frame from a removed member
//  is answered with a notice that it was removed (at most once a second).
void
    zkv_peers_sync (zkv_peers_t *self, const zkv_peer_t *peers, size_t count,
                    const zkv_peer_t *removed, size_t removed_count);

//  Answers the joiner whose question zkv_peers_try_recv returned last (a
//  frame with `join`: not from a member, never checked as one's)
void
    zkv_peers_answer_join (zkv_peers_t *self, zkv_peer_frame_t *frame);

//  Tells member id, before it is dropped, that it was removed
bool
    zkv_peers_tell_removed (zkv_peers_t *self, uint64_t id);

//  The socket frames arrive on, for polling
zsock_t *
    zkv_peers_socket (zkv_peers_t *self);

//  Queues a raft message for its receiver (copied at once)
void
    zkv_peers_queue (zkv_peers_t *self, const zkv_raft_message_t *message);

//  Queues a snapshot chunk for its receiver (copied at once)
void
    zkv_peers_queue_chunk (zkv_peers_t *self, const zkv_snapshot_chunk_t *chunk);

//  Sends frame (events, hash asks and answers; no raft messages) to peer
//  frame->to at once, ahead of what is queued, filling in the cluster id
//  and sender; returns false if it could not go
bool
    zkv_peers_send (zkv_peers_t *self, zkv_peer_frame_t *frame);

//  Sends what is queued. Calls unreachable (if not NULL) for every peer a
//  frame of raft messages could not go to. Chunks that could not go stay
//  queued for the next flush. Returns the number of chunks sent.
typedef void (zkv_peers_fn) (void *arg, uint64_t peer);
size_t
    zkv_peers_flush (zkv_peers_t *self, zkv_peers_fn *unreachable, void *arg);

//  The chunks waiting for peer's connection to take them
size_t
    zkv_peers_chunks_waiting (zkv_peers_t *self, uint64_t peer);

//  Receives one frame if one waits, never waiting: false if none does.
//  *msg_p is the checked peer_frame from a member, or NULL for something
//  refused. The caller destroys it.
bool
    zkv_peers_try_recv (zkv_peers_t *self, zkv_msg_t **msg_p);

//  Fault injection: drops what goes to the `to` members and what comes
//  from the `from` members; heal drops nothing any more
void
    zkv_peers_drop (zkv_peers_t *self, const uint64_t *to, size_t to_count,
                    const uint64_t *from, size_t from_count);
void
    zkv_peers_heal (zkv_peers_t *self);

//  Fault injection: every frame of raft messages leaves msecs after it is
//  flushed (0: at once again), in order; heal ends the delay too. A peer
//  link as long as between hosts, for the benchmarks.
void
    zkv_peers_delay (zkv_peers_t *self, int msecs);

//  Msecs until a delayed frame is due (the next flush sends it), or -1
int
    zkv_peers_due_in (zkv_peers_t *self);

#endif
