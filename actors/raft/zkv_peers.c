/*  =========================================================================
    zkv_peers.c — the peer transport of the raft actor (see zkv_peers.h).
    =========================================================================
*/
#include "zkv_peers.h"
#include "zkv_metrics.h"
#include "zkv_certs.h"
#include "zkv_guard.h"
#include "zkv_rc.h"
#include "zkv_grow.h"
#include "zkv_zap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RTT_LOST_USECS 1000000         //  a heartbeat not answered by then is lost

#define MAX_PEER_FRAME (256 << 20)      //  bytes a peer frame may hold
#define PEER_SNDHWM 1000                //  frames queued for a connected peer
#define CHUNK_SNDHWM 2                  //  snapshot chunks queued for one (1 MiB each)

typedef struct {
    uint64_t id;
    char *endpoint;
    zsock_t *dealer;                    //  to this peer (NULL for self)
    zsock_t *chunk_dealer;              //  for snapshot chunks, made when first needed
    const zkv_raft_message_t **queued;  //  raft messages for the next flush
    size_t queued_count;
    size_t queued_room;
    zlistx_t *chunks;                   //  encoded chunk frames (zframe_t)
    zlistx_t *delayed;                  //  raft frames held back (s_delayed_t)
    bool drop_to;                       //  fault injection
    bool drop_from;
    zkv_metrics_peer_t *metrics;        //  its etcd_network_peer_* (NULL: none left)
    int64_t heartbeat_sent;             //  zclock_usecs of the heartbeat awaiting
                                        //  its answer (0: none): the round trip
} s_peer_t;

//  A member that was removed: its frames are answered with the news, over
//  a connection of its own (made when first needed), at most once a second
typedef struct {
    uint64_t id;
    char *endpoint;
    zsock_t *dealer;
    int64_t told;                       //  zclock_mono of the last notice
} s_departed_t;

struct zkv_peers_s {
    uint64_t self_id;
    uint64_t cluster_id;
    zcert_t *cert;                      //  the caller's (NULL: not secure)
    s_departed_t *departed;
    size_t departed_count;
    zsock_t *router;
    zactor_t *guard;                    //  bounds its connections
    zhashx_t *keys;                     //  allowed senders (NULL: not secure)
    s_peer_t *peers;
    size_t count;
    uint64_t refused;                   //  frames refused, for the log
    int delay;                          //  msecs raft frames are held back
    zframe_t *joiner;                   //  routing id of the last join asked
};

//  A frame of raft messages held back by the delay fault
typedef struct {
    int64_t due;                        //  zclock_usecs
    zframe_t *frame;
} s_delayed_t;

static void
s_frame_destroy (void **item_p)
{
    zframe_destroy ((zframe_t **) item_p);
}

static void
s_delayed_destroy (void **item_p)
{
    s_delayed_t *delayed = (s_delayed_t *) *item_p;
    if (delayed) {
        zframe_destroy (&delayed->frame);
        free (delayed);
        *item_p = NULL;
    }
}

static int
    s_peer_init (zkv_peers_t *self, s_peer_t *peer, uint64_t id, const char *endpoint);
static int
    s_send (zsock_t *dealer, const void *bytes, size_t size);

static s_peer_t *
s_peer (zkv_peers_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->peers [i].id == id)
            return &self->peers [i];
    return NULL;
}

//  Where the members reach us (our record's peer endpoint), for frames
//  to members that may not know us yet
static zkv_bin_t
s_own_endpoint (zkv_peers_t *self)
{
    s_peer_t *own = s_peer (self, self->self_id);
    return own? zkv_bin (own->endpoint, strlen (own->endpoint)): zkv_bin (NULL, 0);
}

static bool
s_departed (zkv_peers_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->departed_count; i++)
        if (self->departed [i].id == id)
            return true;
    return false;
}

zkv_peers_t *
zkv_peers_new (uint64_t self_id, uint64_t cluster_id, const zkv_peer_t *peers, size_t count,
               const char *endpoint, int fd, zcert_t *cert, zhashx_t *peer_keys,
               char *error, size_t error_size)
{
    zkv_peers_t *self = (zkv_peers_t *) zmalloc (sizeof (zkv_peers_t));
    self->self_id = self_id;
    self->cluster_id = cluster_id;
    self->router = zsock_new (ZMQ_ROUTER);
    if (cert) {
        zkv_cert_apply_server (cert, self->router, ZKV_ZAP_PEER);
        self->keys = zhashx_dup (peer_keys);
    }
    zsock_set_maxmsgsize (self->router, MAX_PEER_FRAME);
    zsock_set_rcvhwm (self->router, 100000);
    //  Receives never wait (zkv_peers_try_recv): raft drains the socket
    //  until it is empty instead of asking before each frame whether one
    //  waits, which costs libzmq two system calls each time
    zsock_set_rcvtimeo (self->router, 0);
    if (fd >= 0)
        zsock_set_use_fd (self->router, fd);
    //  Room for the largest cluster: members come and go
    self->guard = zkv_guard_new (self->router, "peer", ZKV_PEER_CONNECTIONS (ZKV_PEERS_MAX));
    if (!self->guard) {
        snprintf (error, error_size, "cannot watch the connections of the peer socket");
        zkv_peers_destroy (&self);
        return NULL;
    }
    if (zsock_bind (self->router, "%s", endpoint) < 0) {
        snprintf (error, error_size, "cannot listen for peers on %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
        zkv_peers_destroy (&self);
        return NULL;
    }
    self->cert = cert;
    self->peers = (s_peer_t *) zmalloc (ZKV_PEERS_MAX * sizeof (s_peer_t));
    for (size_t i = 0; i < count && i < ZKV_PEERS_MAX; i++) {
        s_peer_t *peer = &self->peers [self->count++];
        if (s_peer_init (self, peer, peers [i].id, peers [i].endpoint)) {
            snprintf (error, error_size, "bad peer endpoint %s", peers [i].endpoint);
            zkv_peers_destroy (&self);
            return NULL;
        }
    }
    return self;
}

//  A connection to a member's peer endpoint (CURVE when secure), queueing
//  at most hwm frames
static zsock_t *
s_dealer_new (zkv_peers_t *self, const char *endpoint, int hwm)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    //  Nothing queues for a peer that is down; little for one that is up
    zsock_set_immediate (dealer, 1);
    zsock_set_sndhwm (dealer, hwm);
    zsock_set_linger (dealer, 0);
    //  A restarted peer is found within 50 ms, however long it was
    //  down: no back-off (a refused connect on a LAN costs nothing)
    zsock_set_reconnect_ivl (dealer, 50);
    zsock_set_reconnect_ivl_max (dealer, 0);
    if (self->cert) {
        //  Every member presents the cluster's key, ours
        zcert_apply (self->cert, dealer);
        zsock_set_curve_serverkey (dealer, zcert_public_txt (self->cert));
    }
    if (zsock_connect (dealer, "%s", endpoint) < 0)
        zsock_destroy (&dealer);
    return dealer;
}

static int
s_peer_init (zkv_peers_t *self, s_peer_t *peer, uint64_t id, const char *endpoint)
{
    memset (peer, 0, sizeof *peer);
    peer->id = id;
    peer->endpoint = strdup (endpoint);
    peer->chunks = zlistx_new ();
    zlistx_set_destructor (peer->chunks, s_frame_destroy);
    peer->delayed = zlistx_new ();
    zlistx_set_destructor (peer->delayed, s_delayed_destroy);
    if (id == self->self_id)
        return 0;
    peer->metrics = zkv_metrics_peer (id);
    peer->dealer = s_dealer_new (self, endpoint, PEER_SNDHWM);
    return peer->dealer? 0: -1;
}

static void
s_peer_clear (s_peer_t *peer)
{
    zsock_destroy (&peer->dealer);
    zsock_destroy (&peer->chunk_dealer);
    zlistx_destroy (&peer->chunks);
    zlistx_destroy (&peer->delayed);
    free (peer->queued);
    free (peer->endpoint);
    zkv_metrics_peer_release (peer->metrics);
    memset (peer, 0, sizeof *peer);
}

void
zkv_peers_sync (zkv_peers_t *self, const zkv_peer_t *peers, size_t count,
                const zkv_peer_t *removed, size_t removed_count)
{
    //  Those who stay keep their connection and queues, unless their
    //  endpoint changed; the others' go
    s_peer_t *next = (s_peer_t *) zmalloc (ZKV_PEERS_MAX * sizeof (s_peer_t));
    size_t next_count = 0;
    for (size_t i = 0; i < count && next_count < ZKV_PEERS_MAX; i++) {
        s_peer_t *old = s_peer (self, peers [i].id);
        s_peer_t *peer = &next [next_count];
        if (old && streq (old->endpoint, peers [i].endpoint)) {
            *peer = *old;
            memset (old, 0, sizeof *old);
        }
        else {
            if (old)
                s_peer_clear (old);
            if (s_peer_init (self, peer, peers [i].id, peers [i].endpoint)) {
                zsys_warning ("raft: bad peer endpoint %s of %016llx", peers [i].endpoint,
                              (unsigned long long) peers [i].id);
                s_peer_clear (peer);
                continue;
            }
            if (old == NULL && peers [i].id != self->self_id)
                zsys_info ("raft: connecting to new member %016llx at %s",
                           (unsigned long long) peers [i].id, peers [i].endpoint);
        }
        next_count++;
    }
    for (size_t i = 0; i < self->count; i++)
        if (self->peers [i].endpoint)
            s_peer_clear (&self->peers [i]);
    free (self->peers);
    self->peers = next;
    self->count = next_count;
    //  The removed: known for their notices
    for (size_t i = 0; i < removed_count; i++) {
        bool known = false;
        for (size_t j = 0; j < self->departed_count; j++)
            known |= self->departed [j].id == removed [i].id;
        if (known || !removed [i].endpoint || !*removed [i].endpoint)
            continue;
        self->departed = (s_departed_t *) realloc (
            self->departed, (self->departed_count + 1) * sizeof (s_departed_t));
        if (!self->departed)
            abort ();
        s_departed_t *departed = &self->departed [self->departed_count++];
        memset (departed, 0, sizeof *departed);
        departed->id = removed [i].id;
        departed->endpoint = strdup (removed [i].endpoint);
    }
}

//  A removed member spoke: tell it, at most once a second
static void
s_tell_removed (zkv_peers_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->departed_count; i++) {
        s_departed_t *departed = &self->departed [i];
        if (departed->id != id || zclock_mono () - departed->told < 1000)
            continue;
        departed->told = zclock_mono ();
        if (!departed->dealer)
            departed->dealer = s_dealer_new (self, departed->endpoint, PEER_SNDHWM);
        zkv_peer_frame_t frame = {
            .cluster_id = self->cluster_id, .from = self->self_id, .to = id, .removed = true
        };
        size_t size;
        uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, &frame, &size);
        if (bytes && departed->dealer)
            s_send (departed->dealer, bytes, size);
        free (bytes);
    }
}

void
zkv_peers_answer_join (zkv_peers_t *self, zkv_peer_frame_t *frame)
{
    if (!self->joiner)
        return;
    frame->cluster_id = self->cluster_id;
    frame->from = self->self_id;
    size_t size;
    uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, frame, &size);
    if (!bytes)
        abort ();
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, &self->joiner);
    zmsg_addmem (reply, bytes, size);
    free (bytes);
    zmsg_send (&reply, self->router);
}

bool
zkv_peers_tell_removed (zkv_peers_t *self, uint64_t id)
{
    s_peer_t *peer = s_peer (self, id);
    if (!peer || !peer->dealer)
        return false;
    zkv_peer_frame_t frame = { .to = id, .removed = true };
    return zkv_peers_send (self, &frame);
}

void
zkv_peers_destroy (zkv_peers_t **self_p)
{
    zkv_peers_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        s_peer_clear (&self->peers [i]);
    free (self->peers);
    for (size_t i = 0; i < self->departed_count; i++) {
        zsock_destroy (&self->departed [i].dealer);
        free (self->departed [i].endpoint);
    }
    free (self->departed);
    zframe_destroy (&self->joiner);
    zkv_guard_destroy (&self->guard, self->router);
    zsock_destroy (&self->router);
    zhashx_destroy (&self->keys);
    free (self);
    *self_p = NULL;
}

zsock_t *
zkv_peers_socket (zkv_peers_t *self)
{
    return self->router;
}

void
zkv_peers_queue (zkv_peers_t *self, const zkv_raft_message_t *message)
{
    s_peer_t *peer = s_peer (self, message->to);
    if (!peer || !peer->dealer)
        return;
    if (zkv_grow ((void **) &peer->queued, &peer->queued_room, peer->queued_count + 1,
                  sizeof (zkv_raft_message_t *)))
        abort ();
    peer->queued [peer->queued_count++] = message;
}

void
zkv_peers_queue_chunk (zkv_peers_t *self, const zkv_snapshot_chunk_t *chunk)
{
    s_peer_t *peer = s_peer (self, chunk->to);
    if (!peer || !peer->dealer)
        return;
    zkv_peer_frame_t frame = {
        .cluster_id = self->cluster_id, .from = self->self_id, .to = chunk->to,
        .chunk = (zkv_snapshot_chunk_t *) chunk, .endpoint = s_own_endpoint (self)
    };
    size_t size;
    uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, &frame, &size);
    if (!bytes)
        abort ();
    zframe_t *encoded = zframe_new (bytes, size);
    free (bytes);
    zlistx_add_end (peer->chunks, encoded);
}

//  Sends a frame without waiting; returns 0 or -1 (peer down or full)
static int
s_send (zsock_t *dealer, const void *bytes, size_t size)
{
    int rc;
    while ((rc = zmq_send (zsock_resolve (dealer), bytes, size, ZMQ_DONTWAIT)) < 0
    &&     zmq_errno () == EINTR)
        ;
    return rc < 0? -1: 0;
}

//  s_send to peer (on dealer, one of its two), counted when it went
static int
s_send_to (s_peer_t *peer, zsock_t *dealer, const void *bytes, size_t size)
{
    int rc = s_send (dealer, bytes, size);
    if (rc == 0 && peer->metrics)
        zkv_metrics_add (&peer->metrics->sent_bytes, size);
    return rc;
}

bool
zkv_peers_send (zkv_peers_t *self, zkv_peer_frame_t *frame)
{
    s_peer_t *peer = s_peer (self, frame->to);
    if (!peer || !peer->dealer || peer->drop_to)
        return false;
    frame->cluster_id = self->cluster_id;
    frame->from = self->self_id;
    size_t size;
    uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, frame, &size);
    if (!bytes)
        abort ();
    bool sent = s_send_to (peer, peer->dealer, bytes, size) == 0;
    free (bytes);
    return sent;
}

//  Sends the delayed frames that are due, in order; false if one could
//  not go (the rest are dropped as well: raft sends again)
static bool
s_send_due (s_peer_t *peer, int64_t now)
{
    bool sent = true;
    s_delayed_t *delayed = (s_delayed_t *) zlistx_first (peer->delayed);
    while (delayed && (delayed->due <= now || !sent)) {
        if (sent && !peer->drop_to)
            sent = s_send_to (peer, peer->dealer, zframe_data (delayed->frame),
                           zframe_size (delayed->frame)) == 0;
        zlistx_delete (peer->delayed, zlistx_cursor (peer->delayed));
        delayed = (s_delayed_t *) zlistx_first (peer->delayed);
    }
    return sent;
}

//  Holds an encoded frame back until the delay has passed
static void
s_hold (zkv_peers_t *self, s_peer_t *peer, const uint8_t *bytes, size_t size, int64_t now)
{
    s_delayed_t *delayed = (s_delayed_t *) malloc (sizeof (s_delayed_t));
    if (!delayed)
        abort ();
    delayed->due = now + (int64_t) self->delay * 1000;
    delayed->frame = zframe_new (bytes, size);
    zlistx_add_end (peer->delayed, delayed);
}

size_t
zkv_peers_flush (zkv_peers_t *self, zkv_peers_fn *unreachable, void *arg)
{
    size_t chunks_sent = 0;
    int64_t now = zclock_usecs ();
    for (size_t i = 0; i < self->count; i++) {
        s_peer_t *peer = &self->peers [i];
        if (zlistx_size (peer->delayed) && !s_send_due (peer, now) && unreachable)
            unreachable (arg, peer->id);
        if (peer->queued_count) {
            bool sent = peer->drop_to;  //  dropped on purpose: "sent"
            if (!peer->drop_to) {
                //  One frame holds every message for this peer
                zkv_raft_message_t *messages = (zkv_raft_message_t *) malloc (
                    peer->queued_count * sizeof (zkv_raft_message_t));
                if (!messages)
                    abort ();
                for (size_t m = 0; m < peer->queued_count; m++) {
                    messages [m] = *peer->queued [m];
                    //  the leader times the first heartbeat not answered yet
                    //  (one lost: timed again after a second)
                    if (messages [m].type == ZKV_RC_MSG_HEARTBEAT
                    &&  (!peer->heartbeat_sent || now - peer->heartbeat_sent > RTT_LOST_USECS))
                        peer->heartbeat_sent = now;
                }
                zkv_peer_frame_t frame = {
                    .cluster_id = self->cluster_id, .from = self->self_id, .to = peer->id,
                    .messages = { messages, peer->queued_count },
                    .endpoint = s_own_endpoint (self)
                };
                size_t size;
                uint8_t *bytes = zkv_msg_encode (&zkv_peer_frame_desc, &frame, &size);
                free (messages);
                if (!bytes)
                    abort ();
                //  Behind the frames held back, if any: in order
                if (self->delay || zlistx_size (peer->delayed)) {
                    s_hold (self, peer, bytes, size, now);
                    sent = true;        //  as far as anyone can tell yet
                }
                else
                    sent = s_send_to (peer, peer->dealer, bytes, size) == 0;
                free (bytes);
            }
            peer->queued_count = 0;
            if (!sent && unreachable)
                unreachable (arg, peer->id);
        }
        //  Chunks go in order, as far as their connection takes them: its
        //  own, with room for a couple, so that a stream goes at the pace
        //  the peer reads it (raft grants storage more as they leave),
        //  and never delays the raft frames
        zframe_t *chunk = (zframe_t *) zlistx_first (peer->chunks);
        if (chunk && !peer->chunk_dealer && !peer->drop_to)
            peer->chunk_dealer = s_dealer_new (self, peer->endpoint, CHUNK_SNDHWM);
        while (chunk) {
            if (!peer->drop_to && (!peer->chunk_dealer
                                   || s_send_to (peer, peer->chunk_dealer, zframe_data (chunk),
                                              zframe_size (chunk))))
                break;                  //  try again at the next flush
            zlistx_delete (peer->chunks, zlistx_cursor (peer->chunks));
            chunks_sent++;
            chunk = (zframe_t *) zlistx_first (peer->chunks);
        }
    }
    return chunks_sent;
}

size_t
zkv_peers_chunks_waiting (zkv_peers_t *self, uint64_t id)
{
    s_peer_t *peer = s_peer (self, id);
    return peer? zlistx_size (peer->chunks): 0;
}

static void
s_refuse (zkv_peers_t *self, const char *why, uint64_t from)
{
    //  Log the first refusals and then one in a thousand
    if (self->refused++ % 1000 == 0)
        zsys_warning ("raft: refused a peer frame from %016llx: %s (%llu refused so far)",
                      (unsigned long long) from, why, (unsigned long long) self->refused);
}

//  The peer frame msg carries, checked, or NULL if refused; takes msg
static zkv_msg_t *
s_checked (zkv_peers_t *self, zmsg_t *msg)
{
    zframe_t *payload = zmsg_last (msg);
    size_t payload_size = payload? zframe_size (payload): 0;
    if (zmsg_size (msg) != 2 || !payload) {
        zmsg_destroy (&msg);
        s_refuse (self, "not one frame", 0);
        return NULL;
    }
    //  Secure: only a peer's key, whatever the ZAP handler let in
    if (self->keys && !zkv_keys_has (self->keys, zframe_meta (payload, "User-Id"))) {
        zmsg_destroy (&msg);
        s_refuse (self, "the sender's key is not a peer's", 0);
        return NULL;
    }
    zkv_limits_t limits = { MAX_PEER_FRAME, 8, 1 << 24, false };
    zkv_result_t status;
    zkv_msg_t *decoded = zkv_msg_decode (zframe_data (payload), zframe_size (payload),
                                         ZKV_KIND_PEER, &limits, &status);
    if (!decoded || decoded->desc != &zkv_peer_frame_desc) {
        zmsg_destroy (&msg);
        char text [256];
        s_refuse (self, decoded? "not a peer frame": zkv_status_text (&status, text, sizeof text),
                  0);
        zkv_msg_destroy (&decoded);
        return NULL;
    }
    zkv_peer_frame_t *frame = (zkv_peer_frame_t *) decoded->body;
    if (frame->join && frame->cluster_id == 0 && frame->from == 0 && frame->to == 0
    &&  frame->messages.count == 0 && !frame->chunk) {
        //  A joiner's question, answered by zkv_peers_answer_join
        zframe_destroy (&self->joiner);
        self->joiner = zframe_dup (zmsg_first (msg));
        zmsg_destroy (&msg);
        return decoded;
    }
    zmsg_destroy (&msg);
    s_peer_t *peer = s_peer (self, frame->from);
    const char *why = NULL;
    if (frame->cluster_id != self->cluster_id)
        why = "wrong cluster id";
    else
    if (frame->to != self->self_id)
        why = "not for this member";
    else
    if (!peer && frame->from != self->self_id && frame->from && !s_departed (self, frame->from)
    &&  frame->endpoint.size > 0 && frame->endpoint.size < 256 && self->count < ZKV_PEERS_MAX) {
        //  A member this one has not heard of (added while it was down, or
        //  before it applied the change): talk back to it, until the member
        //  table, once it catches up, says who is a member
        char endpoint [256];
        zkv_bin_str (frame->endpoint, endpoint, sizeof endpoint);
        peer = &self->peers [self->count];
        if (s_peer_init (self, peer, frame->from, endpoint) == 0) {
            self->count++;
            zsys_info ("raft: %016llx, not in the member table yet, talks to us from %s",
                       (unsigned long long) frame->from, endpoint);
        }
        else {
            s_peer_clear (peer);
            peer = NULL;
        }
    }
    if (!peer || frame->from == self->self_id) {
        why = "sender is not a member";
        s_tell_removed (self, frame->from);
    }
    if (why) {
        s_refuse (self, why, frame->from);
        zkv_msg_destroy (&decoded);
        return NULL;
    }
    if (peer->drop_from) {
        zkv_msg_destroy (&decoded);     //  fault injection: as if lost
        return NULL;
    }
    if (peer->metrics)
        zkv_metrics_add (&peer->metrics->received_bytes, payload_size);
    //  Every raft message must be between the two ends of the frame
    for (size_t i = 0; i < frame->messages.count; i++) {
        zkv_raft_message_t *message = &frame->messages.items [i];
        if (message->type == ZKV_RC_MSG_HEARTBEAT_RESP && peer->heartbeat_sent
        &&  peer->metrics) {
            zkv_metrics_observe (&peer->metrics->round_trip,
                                 (zclock_usecs () - peer->heartbeat_sent) * 1000);
            peer->heartbeat_sent = 0;
        }
        //  A forwarded transfer names the transferee in `from` (etcd's way)
        bool transfer = message->type == ZKV_RC_MSG_TRANSFER_LEADER;
        if (message->to != self->self_id || (!transfer && message->from != frame->from)) {
            s_refuse (self, "message addresses do not match the frame", frame->from);
            zkv_msg_destroy (&decoded);
            return NULL;
        }
    }
    return decoded;
}

bool
zkv_peers_try_recv (zkv_peers_t *self, zkv_msg_t **msg_p)
{
    zmsg_t *msg = zmsg_recv (self->router);
    *msg_p = msg? s_checked (self, msg): NULL;
    return msg != NULL;
}

void
zkv_peers_drop (zkv_peers_t *self, const uint64_t *to, size_t to_count,
                const uint64_t *from, size_t from_count)
{
    for (size_t i = 0; i < to_count; i++) {
        s_peer_t *peer = s_peer (self, to [i]);
        if (peer)
            peer->drop_to = true;
    }
    for (size_t i = 0; i < from_count; i++) {
        s_peer_t *peer = s_peer (self, from [i]);
        if (peer)
            peer->drop_from = true;
    }
}

void
zkv_peers_heal (zkv_peers_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        self->peers [i].drop_to = self->peers [i].drop_from = false;
    self->delay = 0;
}

void
zkv_peers_delay (zkv_peers_t *self, int msecs)
{
    self->delay = msecs > 0? msecs: 0;
}

int
zkv_peers_due_in (zkv_peers_t *self)
{
    int64_t first = -1;
    for (size_t i = 0; i < self->count; i++) {
        s_delayed_t *delayed = (s_delayed_t *) zlistx_first (self->peers [i].delayed);
        if (delayed && (first < 0 || delayed->due < first))
            first = delayed->due;
    }
    if (first < 0)
        return -1;
    int64_t left = first - zclock_usecs ();
    return left <= 0? 0: (int) ((left + 999) / 1000);
}
