/*  =========================================================================
    zkv_front.c — the front actor (see zkv_front.h).
    =========================================================================
*/
#include "zkv_front.h"
#include "zkv_actor_io.h"
#include "zkv_waiter.h"
#include "zkv_fatal.h"
#include "zkv_grow.h"
#include "zkv_alarm_table.h"
#include "zkv_certs.h"
#include "zkv_check.h"
#include "zkv_clients.h"
#include "zkv_guard.h"
#include "zkv_publisher.h"
#include "zkv_space.h"
#include "zkv_zap.h"
#include "zkv_metrics.h"
#include "zkv_wire.h"
#include "zkv_version.h"

#include <stdlib.h>
#include <string.h>

#define TICK_MSECS 100                  //  how often timeouts are checked
#define CLIENTS_TICK_MSECS 1000         //  and the connections' unread bytes
#define MAX_ENVELOPE_FRAMES 4           //  routing id, REQ delimiter, spare
#define MAINTENANCE_TIMEOUT (3600 * 1000)   //  msecs for Hash, HashKV, Defragment...
#define MAX_MAINTENANCE 64              //  ...of which at most so many wait at once

//  A request waiting for its answer
typedef struct {
    uint64_t wait;                      //  our number for it (table key)
    zmsg_t *envelope;                   //  frames to send the reply back with
                                        //  (the first: its client's routing id)
    bool has_id;                        //  the client's "id"
    uint64_t id;
    const char *op;                     //  request name (static)
    int kind;                           //  ZKV_REQ_<op>
    int64_t started;                    //  zclock_usecs () when it came
    bool proposal;                      //  a write, proposed to raft
    const zkv_desc_t *response;         //  its response's message
    bool front_header;                  //  front writes the header of its answer
    int64_t deadline;                   //  zclock_mono () when it times out
    size_t bytes;                       //  size of the request
    uint64_t write_bytes;               //  what it writes (etcd's cost; 0: not a put or txn)
    zlistx_t *queue;                    //  self->by_age or self->long_by_age
    void *handle;                       //  its place there
} s_waiter_t;

typedef struct {
    zsock_t *pipe;                      //  actor command pipe
    zkv_front_args_t *args;
    zsock_t *router;                    //  clients
    zsock_t *events;                    //  PUB: what this member publishes
    zkv_publisher_t *publisher;         //  ...numbered, with hellos
    zactor_t *router_guard;             //  bounds on their connections
    zactor_t *events_guard;
    zsock_t *inbox;                     //  answers and node state
    zsock_t *raft;                      //  proposals and read indexes
    zsock_t *storage;                   //  serializable reads
    zsock_t *hasher;                    //  Hash and HashKV
    zsock_t *defrag;                    //  Defragment
    zsock_t *snapshotter;               //  Snapshot streams
    zsock_t *alarm;                     //  the disk runs short
    zkv_waiter_t *waiter;               //  on the pipe, the clients, the inbox
    zhashx_t *waiting;                  //  wait number -> s_waiter_t
    zkv_clients_t *clients;             //  the connections, what each may hold
    zlistx_t *by_age;                   //  the same, oldest first: requests
    zlistx_t *long_by_age;              //  and maintenance (a later deadline)
    uint64_t next_wait;
    zkv_propose_t *proposals;           //  this burst's, for raft (own their bytes)
    size_t proposal_count;
    size_t proposal_room;
    zkv_read_index_t *reads;            //  this burst's linearizable reads
    size_t read_count;
    size_t read_room;
    size_t waiting_bytes;               //  sum of the waiting requests' sizes
    uint64_t waiting_write_bytes;       //  ...and of what their puts write
    size_t max_waiting_bytes;
    zkv_limits_t limits;                //  for client requests
    zkv_alarm_table_t *alarms;          //  read again at each alarm event and tick
    zkv_quota_t quota;                  //  checked before proposing a write
    zkv_space_t *space;                 //  the free-disk guard, the same
    zkv_alarm_retry_t nospace;          //  our NOSPACE, proposed and seen
    zhashx_t *client_keys;              //  secure: who may talk (NULL: anybody)
    zhashx_t *admin_keys;               //  and who may make admin requests
    uint64_t strangers;                 //  requests dropped for their key, for the log
    //  Node state, pushed by raft and storage
    uint64_t leader;
    uint64_t commit;
    char role [16];
    uint64_t applied;
    uint64_t applied_term;              //  etcd's raftTerm and header raft_term
    int64_t revision;
    bool terminated;
} self_t;

//  ---------------------------------------------------------------------
//  Waiting requests, keyed by a 64-bit number

static size_t
s_wait_hash (const void *key)
{
    uint64_t wait = *(const uint64_t *) key;
    return (size_t) (wait * 0x9E3779B97F4A7C15ULL);
}

static int
s_wait_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y? 1: 0;
}

static void
s_waiter_destroy (void **item_p)
{
    s_waiter_t *waiter = (s_waiter_t *) *item_p;
    if (waiter) {
        zmsg_destroy (&waiter->envelope);
        free (waiter);
        *item_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Replies

static zkv_header_t
s_header (self_t *self)
{
    zkv_header_t header = {
        .cluster_id = self->args->cluster_id,
        .member_id = self->args->member_id,
        .revision = self->revision,
        .raft_term = self->applied_term
    };
    return header;
}

//  Sends body (an encoded response or error_response, or one piece of a
//  stream) back through envelope, which is consumed
static void
s_send_reply (self_t *self, zmsg_t **envelope_p, bool has_id, uint64_t id, const char *op,
              const uint8_t *body, size_t body_size)
{
    size_t size;
    uint8_t *reply = zkv_msg_wrap_reply (id, has_id, op, strlen (op), body, body_size, &size);
    if (!reply) {
        zsys_error ("front: a reply body that is not a map");
        zmsg_destroy (envelope_p);
        return;
    }
    zmsg_t *msg = *envelope_p;
    *envelope_p = NULL;
    //  Not to a connection that holds too many replies it has not read
    if (!zkv_clients_sending (self->clients, zmsg_first (msg), size)) {
        free (reply);
        zmsg_destroy (&msg);
        return;
    }
    zmsg_addmem (msg, reply, size);
    free (reply);
    zkv_metrics_add (&zkv_metrics.client_sent_bytes, size);
    zmsg_send (&msg, self->router);     //  dropped if the client is gone
    zkv_waiter_again (self->waiter, self->router);  //  a send may take its signal
}

//  s_send_reply, of a request's last (or only) reply: counted as handled
//  with its gRPC code
static void
s_reply (self_t *self, zmsg_t **envelope_p, bool has_id, uint64_t id, const char *op,
         const uint8_t *body, size_t body_size)
{
    char code [32] = "OK";
    zkv_wire_error_code (body, body_size, code, sizeof code);
    zkv_metrics_handled (op, strlen (op), code, strlen (code));
    s_send_reply (self, envelope_p, has_id, id, op, body, body_size);
}

static void
s_reply_error (self_t *self, zmsg_t **envelope_p, bool has_id, uint64_t id, const char *op,
               const zkv_result_t *status)
{
    zkv_header_t header = s_header (self);
    size_t size;
    uint8_t *body = zkv_msg_encode_error (status, &header, &size);
    if (!body) {
        zmsg_destroy (envelope_p);
        return;
    }
    s_reply (self, envelope_p, has_id, id, op, body, size);
    free (body);
}

//  An answer body (a response or an error_response of desc's request)
//  with front's header in place of the one it has, or has not: for the
//  actors that do not know the store's revision. NULL if it could not be
//  decoded (it then goes as it is).
static uint8_t *
s_with_header (self_t *self, const zkv_desc_t *desc, const uint8_t *body, size_t size,
               size_t *new_size)
{
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    void *decoded = zkv_msg_decode_body (body, size, desc, zone, &limits, &status);
    if (!decoded) {
        desc = &zkv_error_response_desc;
        decoded = zkv_msg_decode_body (body, size, desc, zone, &limits, &status);
    }
    uint8_t *bytes = NULL;
    //  (every response's header is its field "header", a message)
    for (size_t i = 0; decoded && i < desc->field_count; i++)
        if (streq (desc->fields [i].name, "header") && desc->fields [i].type == ZKV_T_MSG) {
            zkv_header_t header = s_header (self);
            *(zkv_header_t **) ((char *) decoded + desc->fields [i].offset) = &header;
            bytes = zkv_msg_encode_body (desc, decoded, new_size);
            break;
        }
    msgpack_zone_free (zone);
    return bytes;
}

//  Forgets a waiting request, answered (its envelope gone with the reply)
//  or not
static void
s_forget (self_t *self, s_waiter_t *waiter)
{
    if (waiter->envelope)
        zkv_clients_done (self->clients, zmsg_first (waiter->envelope));
    self->waiting_bytes -= waiter->bytes;
    //  Written now, or about to be: counted until the free-disk guard measures again
    self->waiting_write_bytes -= waiter->write_bytes;
    zkv_space_wrote (self->space, ZKV_SPACE_PROPOSED * (int64_t) waiter->write_bytes);
    if (waiter->proposal)
        zkv_metrics_shift (&zkv_metrics.proposals_pending, -1);
    zlistx_delete (waiter->queue, waiter->handle);
    zhashx_delete (self->waiting, &waiter->wait);   //  destroys it
}

//  Answers a waiting request and forgets it
static void
s_finish (self_t *self, s_waiter_t *waiter, const uint8_t *body, size_t size,
          const zkv_result_t *status)
{
    uint8_t *rewritten = NULL;
    if (!status && waiter->front_header) {
        size_t rewritten_size;
        rewritten = s_with_header (self, waiter->response, body, size, &rewritten_size);
        if (rewritten) {
            body = rewritten;
            size = rewritten_size;
        }
    }
    zkv_clients_done (self->clients, zmsg_first (waiter->envelope));
    zkv_metrics_observe (&zkv_metrics.handling [waiter->kind],
                         (zclock_usecs () - waiter->started) * 1000);
    //  etcd counts a proposal failed when it was refused or timed out
    //  (a write the state machine refuses, compacted or the like, is not);
    //  no longer pending once answered (counted before the answer leaves)
    if (waiter->proposal) {
        if (status)
            zkv_metrics_add (&zkv_metrics.proposals_failed, 1);
        zkv_metrics_shift (&zkv_metrics.proposals_pending, -1);
        waiter->proposal = false;
    }
    if (status)
        s_reply_error (self, &waiter->envelope, waiter->has_id, waiter->id, waiter->op, status);
    else
        s_reply (self, &waiter->envelope, waiter->has_id, waiter->id, waiter->op, body, size);
    free (rewritten);
    zmsg_destroy (&waiter->envelope);   //  (a reply that could not be made leaves it)
    s_forget (self, waiter);
}

//  ---------------------------------------------------------------------
//  Requests

//  True if a txn only reads, and every read in it is serializable
//  (etcd's isTxnSerializable)
static bool
s_txn_serializable (const void *body)
{
    const zkv_txn_t *txn = (const zkv_txn_t *) body;
    const zkv_request_op_list_t *branches [2] = { &txn->success, &txn->failure };
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < branches [b]->count; i++) {
            const zkv_range_t *range = branches [b]->items [i].request_range;
            if (!range || !range->serializable)
                return false;
        }
    return true;
}

static bool
s_txn_writes (const void *body)
{
    return zkv_txn_writes ((const zkv_txn_t *) body);
}

static uint64_t
s_txn_cost (const void *body)
{
    return zkv_txn_cost ((const zkv_txn_t *) body);
}

static uint64_t
s_put_cost (const void *body)
{
    return zkv_put_cost ((const zkv_put_t *) body);
}

static bool
s_range_serializable (const void *body)
{
#ifdef ZKV_BUG_STALE_READS
    //  The planted bug of zkv-node-bug-stale-reads (a test-only build):
    //  every read served from local state, without a read index
    (void) body;
    return true;
#else
    return ((const zkv_range_t *) body)->serializable;
#endif
}

static bool
s_member_list_serializable (const void *body)
{
    return !((const zkv_member_list_t *) body)->linearizable;
}

//  etcd proposes even an alarm GET: a linearizable read is as good
static bool
s_alarm_writes (const void *body)
{
    return ((const zkv_alarm_t *) body)->action != ZKV_ALARM_GET;
}

//  A physical compaction deletes through the whole database
static bool
s_compact_physical (const void *body)
{
    return ((const zkv_compact_t *) body)->physical;
}

//  What the table (zkv_msgs.def, ZKV_SERVE) leaves to a request's body:
//  whether it writes (effect BODY), whether a read may be served at
//  storage at once, without a read index (etcd's serializable), whether it
//  takes long (deadline BODY), and what it writes as etcd's quota counts
//  it. NULL: no (0).
typedef struct {
    bool (*writes) (const void *body);
    bool (*serializable) (const void *body);
    bool (*long_running) (const void *body);
    uint64_t (*cost) (const void *body);
} s_rules_t;

static const s_rules_t s_rules [ZKV_REQ_COUNT] = {
    [ZKV_REQ_range]       = { .serializable = s_range_serializable },
    [ZKV_REQ_put]         = { .cost = s_put_cost },
    [ZKV_REQ_txn]         = { .writes = s_txn_writes, .serializable = s_txn_serializable,
                              .cost = s_txn_cost },
    [ZKV_REQ_compact]     = { .long_running = s_compact_physical },
    [ZKV_REQ_alarm]       = { .writes = s_alarm_writes },
    [ZKV_REQ_member_list] = { .serializable = s_member_list_serializable },
};

static const s_rules_t *
s_rules_of (const zkv_msg_t *request)
{
    return &s_rules [request->desc->serve->kind];
}

//  True for a request of the state machine that writes (it is proposed)
static bool
s_writes (const zkv_msg_t *request)
{
    zkv_effect_t effect = request->desc->serve->effect;
    return effect == ZKV_EFFECT_WRITE
        || (effect == ZKV_EFFECT_BODY && s_rules_of (request)->writes (request->body));
}

//  True for the maintenance that reads or rewrites the whole database
//  (it takes as long as the database is big, not as long as a request),
//  and for MoveLeader, whose deadline raft keeps (the request may set it)
static bool
s_maintenance (const zkv_msg_t *request)
{
    zkv_deadline_t deadline = request->desc->serve->deadline;
    return deadline == ZKV_DEADLINE_LONG
        || (deadline == ZKV_DEADLINE_BODY
            && s_rules_of (request)->long_running (request->body));
}

//  True for the requests only an admin may make on a secure member: the
//  maintenance that rewrites, exports or disturbs the whole cluster
static bool
s_admin_only (const zkv_msg_t *request)
{
    zkv_access_t access = request->desc->serve->access;
    return access == ZKV_ACCESS_ADMIN || (access == ZKV_ACCESS_ADMIN_WRITE && s_writes (request));
}

//  True for the requests whose answers come from actors that do not know
//  the store's revision (raft: MoveLeader, fault injection; defrag): front
//  writes their header, as it does for every error
static bool
s_answers_without_header (const zkv_desc_t *desc)
{
    return desc == &zkv_move_leader_desc || desc == &zkv_fault_desc
        || desc == &zkv_defragment_desc;
}

//  Registers a waiter for the request, taking its envelope, and returns it:
//  keyed by its new wait number (waiter->wait) and queued by deadline
static s_waiter_t *
s_wait (self_t *self, zmsg_t **envelope_p, const zkv_msg_t *request, size_t bytes)
{
    s_waiter_t *waiter = (s_waiter_t *) zmalloc (sizeof (s_waiter_t));
    waiter->wait = ++self->next_wait;
    zkv_clients_wait (self->clients, zmsg_first (*envelope_p));
    waiter->envelope = *envelope_p;
    *envelope_p = NULL;
    waiter->has_id = request->has_id;
    waiter->id = request->id;
    waiter->op = request->desc->name;
    waiter->kind = request->desc->serve->kind;
    waiter->started = zclock_usecs ();
    waiter->proposal = s_writes (request);
    if (waiter->proposal)
        zkv_metrics_shift (&zkv_metrics.proposals_pending, 1);
    waiter->response = request->desc->response;
    waiter->front_header = s_answers_without_header (request->desc);
    //  Each queue is in deadline order, so expiring looks at its heads only
    bool maintenance = s_maintenance (request);
    waiter->deadline = zclock_mono () + (maintenance? MAINTENANCE_TIMEOUT
                                                    : self->args->request_timeout);
    waiter->bytes = bytes;
    self->waiting_bytes += bytes;
    zhashx_insert (self->waiting, &waiter->wait, waiter);
    waiter->queue = maintenance? self->long_by_age: self->by_age;
    waiter->handle = zlistx_add_end (waiter->queue, waiter);
    return waiter;
}

//  The orders front sends the actor that serves a request (RAFT, HASHER,
//  DEFRAG, SNAPSHOTTER in the table): wait is its number here
typedef void (s_order_fn) (zsock_t *actor, void *body, uint64_t wait);

static void
s_order_fault (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_fault_injection_t injection = { .wait = wait, .request = (zkv_fault_t *) body };
    zkv_io_send (actor, &zkv_fault_injection_desc, &injection);
}

static void
s_order_move_leader (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_move_order_t order = { .wait = wait, .request = (zkv_move_leader_t *) body };
    zkv_io_send (actor, &zkv_move_order_desc, &order);
}

static void
s_order_snapshot (zsock_t *actor, void *body, uint64_t wait)
{
    const zkv_snapshot_t *snapshot = (const zkv_snapshot_t *) body;
    zkv_snapshot_order_t order = {
        .wait = wait, .credit = snapshot->credit, .chunk_size = snapshot->chunk_size
    };
    zkv_io_send (actor, &zkv_snapshot_order_desc, &order);
}

static void
s_order_defragment (zsock_t *actor, void *body, uint64_t wait)
{
    (void) body;
    zkv_defrag_order_t order = { .wait = wait };
    zkv_io_send (actor, &zkv_defrag_order_desc, &order);
}

static void
s_order_hash (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_hash_order_t order = { .wait = wait, .hash = (zkv_hash_t *) body };
    zkv_io_send (actor, &zkv_hash_order_desc, &order);
}

static void
s_order_hash_kv (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_hash_order_t order = { .wait = wait, .hash_kv = (zkv_hash_kv_t *) body };
    zkv_io_send (actor, &zkv_hash_order_desc, &order);
}

//  Membership changes: raft checks and proposes them
static void
s_order_member (zsock_t *actor, zkv_member_order_t *order)
{
    zkv_io_send (actor, &zkv_member_order_desc, order);
}

static void
s_order_member_add (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_member_order_t order = { .wait = wait, .add = (zkv_member_add_t *) body };
    s_order_member (actor, &order);
}

static void
s_order_member_remove (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_member_order_t order = { .wait = wait, .remove = (zkv_member_remove_t *) body };
    s_order_member (actor, &order);
}

static void
s_order_member_update (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_member_order_t order = { .wait = wait, .update = (zkv_member_update_t *) body };
    s_order_member (actor, &order);
}

static void
s_order_member_promote (zsock_t *actor, void *body, uint64_t wait)
{
    zkv_member_order_t order = { .wait = wait, .promote = (zkv_member_promote_t *) body };
    s_order_member (actor, &order);
}

static s_order_fn *const s_orders [ZKV_REQ_COUNT] = {
    [ZKV_REQ_member_add]     = s_order_member_add,
    [ZKV_REQ_member_remove]  = s_order_member_remove,
    [ZKV_REQ_member_update]  = s_order_member_update,
    [ZKV_REQ_member_promote] = s_order_member_promote,
    [ZKV_REQ_fault]       = s_order_fault,
    [ZKV_REQ_move_leader] = s_order_move_leader,
    [ZKV_REQ_snapshot]    = s_order_snapshot,
    [ZKV_REQ_defragment]  = s_order_defragment,
    [ZKV_REQ_hash]        = s_order_hash,
    [ZKV_REQ_hash_kv]     = s_order_hash_kv,
};

//  The actor that serves requests of server, NULL for front and storage
static zsock_t *
s_actor (self_t *self, zkv_server_t server)
{
    switch (server) {
        case ZKV_BY_RAFT:        return self->raft;
        case ZKV_BY_HASHER:      return self->hasher;
        case ZKV_BY_DEFRAG:      return self->defrag;
        case ZKV_BY_SNAPSHOTTER: return self->snapshotter;
        case ZKV_BY_FRONT:
        case ZKV_BY_STATE:       break;
    }
    return NULL;
}

//  Sends a checked request where it goes: an order to the actor that
//  serves it; for the state machine, writes to raft as proposals,
//  linearizable reads to raft for a read index, serializable reads to
//  storage
static void
s_route (self_t *self, const zkv_msg_t *request, const s_waiter_t *waiter)
{
    uint64_t wait = waiter->wait;
    const zkv_serve_t *serve = request->desc->serve;
    if (serve->server != ZKV_BY_STATE) {
        s_orders [serve->kind] (s_actor (self, serve->server), request->body, wait);
        return;
    }
    zkv_internal_request_t internal;
    memset (&internal, 0, sizeof internal);
    internal.origin = self->args->member_id;
    internal.wait = wait;
    internal.max_response_bytes = self->args->max_response_bytes;
    zkv_internal_request_set (&internal, request->desc, request->body);
    bool write = s_writes (request);
    bool serializable = !write && s_rules_of (request)->serializable
                     && s_rules_of (request)->serializable (request->body);
    if (!write)
        internal.deadline = waiter->deadline;   //  reads stay on this member
    size_t size;
    uint8_t *bytes = zkv_msg_encode_body (&zkv_internal_request_desc, &internal, &size);
    if (!bytes)
        zkv_fatal ("out of memory");
    zkv_bin_t encoded = zkv_bin (bytes, size);
    if (write) {
        //  Raft gets the burst's proposals in one message (s_flush_raft)
        if (zkv_grow ((void **) &self->proposals, &self->proposal_room, self->proposal_count + 1,
                      sizeof (zkv_propose_t)))
            zkv_fatal ("out of memory");
        zkv_propose_t propose = { .wait = wait, .request = encoded };
        self->proposals [self->proposal_count++] = propose;
        return;                         //  the bytes go with it
    }
    if (serializable) {
        zkv_read_t read = { .wait = wait, .index = 0, .request = encoded };
        zkv_io_send (self->storage, &zkv_read_desc, &read);
    }
    else {
        if (zkv_grow ((void **) &self->reads, &self->read_room, self->read_count + 1,
                      sizeof (zkv_read_index_t)))
            zkv_fatal ("out of memory");
        zkv_read_index_t read = { .wait = wait, .request = encoded };
        self->reads [self->read_count++] = read;
        return;
    }
    free (bytes);
}

//  Sends raft what the burst asked of it, in one message
static void
s_flush_raft (self_t *self)
{
    if (self->proposal_count == 0 && self->read_count == 0)
        return;
    zkv_raft_requests_t requests = {
        .proposals = { self->proposals, self->proposal_count },
        .reads = { self->reads, self->read_count }
    };
    zkv_io_send (self->raft, &zkv_raft_requests_desc, &requests);
    for (size_t i = 0; i < self->proposal_count; i++)
        free ((void *) self->proposals [i].request.data);
    for (size_t i = 0; i < self->read_count; i++)
        free ((void *) self->reads [i].request.data);
    self->proposal_count = self->read_count = 0;
}

//  Reads the alarm table again
static void
s_load_alarms (self_t *self)
{
    char *error = NULL;
    if (zkv_alarm_table_load (self->alarms, self->args->engine, &error)) {
        zsys_error ("front: cannot read the alarms: %s", error);
        free (error);
    }
    if (zkv_alarm_table_has (self->alarms, self->args->member_id, ZKV_ALARM_NOSPACE))
        self->nospace.seen = true;
    zkv_metrics_set (&zkv_metrics.alarms_active [ZKV_ALARM_NOSPACE],
                     zkv_alarm_table_any (self->alarms, ZKV_ALARM_NOSPACE));
    zkv_metrics_set (&zkv_metrics.alarms_active [ZKV_ALARM_CORRUPT],
                     zkv_alarm_table_any (self->alarms, ZKV_ALARM_CORRUPT));
}

//  Storage applied an alarm (event body: an encoded alarm_event): the
//  table is read again, and noted when it is the NOSPACE this member
//  proposed
static void
s_alarm_seen (self_t *self, zkv_bin_t body)
{
    msgpack_zone *zone = msgpack_zone_new (512);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_alarm_event_t *event = (zkv_alarm_event_t *) zkv_msg_decode_body (
        body.data, body.size, &zkv_alarm_event_desc, zone, &limits, &status);
    if (event && event->member_id == self->args->member_id
    &&  zkv_bin_eq (event->alarm, "NOSPACE") && zkv_bin_eq (event->state, "activated"))
        self->nospace.seen = true;
    msgpack_zone_free (zone);
    s_load_alarms (self);
}

//  What a request writes, as etcd's quota counts it: 256 + key + value
//  per put (a txn: its larger branch); 0 for everything else
static uint64_t
s_write_cost (const zkv_msg_t *request)
{
    const s_rules_t *rules = s_rules_of (request);
    return rules->cost? rules->cost (request->body): 0;
}

//  What the alarms refuse at apply (zkv_alarm_table_gate, on every member
//  alike) is refused here before it is proposed: a write refused at apply
//  would still cost every member its bytes in the raft log. The table is
//  this member's, as applied: a write may be refused for the moment this
//  member takes to apply a disarm the others applied already. Returns the
//  error, or ZKV_ERR_OK.
static zkv_err_t
s_gate (self_t *self, const zkv_msg_t *request)
{
    //  A removed member serves nobody; a learner (etcd's rule, and zkv's
    //  maintenance of the member itself) serves serializable reads, the
    //  member list (linearizable too: its read index comes from the
    //  leader), Status, hashes, defragmentation and snapshots
    if (streq (self->role, "removed"))
        return ZKV_ERR_MEMBER_REMOVED;
    if (streq (self->role, "learner")) {
        zkv_server_t server = request->desc->serve->server;
        bool local = (server != ZKV_BY_STATE && server != ZKV_BY_RAFT)
                  || request->desc == &zkv_member_list_desc;
        bool serializable = server == ZKV_BY_STATE && !s_writes (request)
                         && s_rules_of (request)->serializable
                         && s_rules_of (request)->serializable (request->body);
        if (!local && !serializable)
            return ZKV_ERR_LEARNER_RPC;
    }
    if (zkv_alarm_table_size (self->alarms) == 0)
        return ZKV_ERR_OK;
    //  (it refuses only writes: reads and alarms pass, and what the state
    //  machine does not serve sets no body of internal)
    zkv_internal_request_t internal;
    memset (&internal, 0, sizeof internal);
    zkv_internal_request_set (&internal, request->desc, request->body);
    return zkv_alarm_table_gate (self->alarms, &internal);
}

//  Proposes this member's NOSPACE unless it is raised (read from the
//  alarm family) or was proposed a moment ago and not seen since: not once
//  per refused write. why: for the log. True if it proposed it.
static bool
s_raise_nospace (self_t *self, const char *why)
{
    int64_t now = zclock_mono ();
    s_load_alarms (self);
    if (!zkv_alarm_retry_due (&self->nospace, zkv_alarm_table_has (self->alarms,
                              self->args->member_id, ZKV_ALARM_NOSPACE), now))
        return false;
    zsys_warning ("front: %s: raising NOSPACE", why);
    zkv_io_propose_alarm (self->raft, self->args->member_id, ZKV_ALARM_ACTIVATE,
                          self->args->member_id, ZKV_ALARM_NOSPACE);
    return true;
}

//  etcd's quota check before proposing: a put or txn that would take the
//  database past the quota is refused, and this member's NOSPACE alarm
//  proposed
static bool
s_fits_quota (self_t *self, uint64_t cost)
{
    if (zkv_quota_fits (&self->quota, self->args->engine, cost, zclock_mono ()))
        return true;
    char why [128];
    snprintf (why, sizeof why, "a write would pass the quota of %lld bytes",
              (long long) self->quota.quota);
    s_raise_nospace (self, why);
    return false;
}

//  The free-disk guard before proposing (zkv_space.h): a put or txn that
//  would leave the disk less room than --min-free-disk-bytes, counting
//  what this member's writes still waiting will write, is refused, and
//  this member's NOSPACE proposed; the alarm actor, told, releases the
//  reserve
static bool
s_fits_disk (self_t *self, uint64_t cost)
{
    int64_t bytes = ZKV_SPACE_PROPOSED * (int64_t) (self->waiting_write_bytes + cost);
    if (cost == 0 || zkv_space_fits (self->space, bytes, zclock_mono ()))
        return true;
    char text [512], why [640];
    zkv_space_describe (self->space, bytes, text, sizeof text);
    snprintf (why, sizeof why, "%s: under %lld", text, (long long) self->args->space->min_free);
    if (s_raise_nospace (self, why)) {
        zkv_disk_short_t short_of = { .who = zkv_bin ("front", 5) };
        zkv_io_send (self->alarm, &zkv_disk_short_desc, &short_of);
    }
    return false;
}

_Static_assert (ZKV_ALARM_NOSPACE == ZKV_ALARM_TYPE_NOSPACE
                && ZKV_ALARM_CORRUPT == ZKV_ALARM_TYPE_CORRUPT, "the metrics' alarm types");

//  The database's sizes, for the metrics (once a second)
static void
s_measure_size (self_t *self)
{
    int64_t db_size, db_size_in_use;
    zkv_engine_sizes (self->args->engine, &db_size, &db_size_in_use);
    zkv_metrics_set (&zkv_metrics.db_total_size, db_size);
    zkv_metrics_set (&zkv_metrics.db_total_size_in_use, db_size_in_use);
}

//  Status: answered at once from what raft and storage pushed here
static void
s_status (self_t *self, zmsg_t **envelope_p, const zkv_msg_t *request)
{
    int64_t db_size, db_size_in_use;
    zkv_engine_sizes (self->args->engine, &db_size, &db_size_in_use);
    zkv_header_t header = s_header (self);
    //  errors: no leader, then every alarm as etcd prints it
    s_load_alarms (self);
    size_t alarm_count = zkv_alarm_table_size (self->alarms);
    zkv_error_t *errors = (zkv_error_t *) malloc ((alarm_count + 1) * sizeof (zkv_error_t));
    char (*texts) [64] = (char (*) [64]) malloc ((alarm_count + 1) * 64);
    if (!errors || !texts)
        zkv_fatal ("out of memory");
    size_t error_count = 0;
    if (!self->leader)
        errors [error_count++] = (zkv_error_t) {
            .code = zkv_bin ("Unavailable", 11),
            .message = zkv_bin ("etcdserver: no leader", 21)
        };
    for (size_t i = 0; i < alarm_count; i++) {
        const zkv_alarm_member_t *alarm = zkv_alarm_table_at (self->alarms, i);
        zkv_alarm_text (alarm, texts [i], sizeof texts [i]);
        const char *code = alarm->alarm == ZKV_ALARM_NOSPACE? "ResourceExhausted": "DataLoss";
        errors [error_count++] = (zkv_error_t) {
            .code = zkv_bin (code, strlen (code)),
            .message = zkv_bin (texts [i], strlen (texts [i]))
        };
    }
    zkv_status_response_t response = {
        .header = &header,
        .version = zkv_bin (ZKV_VERSION, strlen (ZKV_VERSION)),
        .leader = self->leader,
        //  commit comes with applies: when none came since a restart, what
        //  was applied is what is known committed
        .raft_index = self->commit > self->applied? self->commit: self->applied,
        .raft_term = self->applied_term,
        .raft_applied_index = self->applied,
        .errors = { errors, error_count },
        .db_size = db_size,
        .db_size_in_use = db_size_in_use,
        .storage_version = zkv_bin (ZKV_STORAGE_VERSION, strlen (ZKV_STORAGE_VERSION)),
        .db_size_quota = self->args->quota_bytes,
        .name = zkv_bin (self->args->name, strlen (self->args->name)),
        .role = zkv_bin (self->role, strlen (self->role)),
        .is_learner = streq (self->role, "learner"),
        .events_endpoint = zkv_bin (zsock_endpoint (self->events),
                                    strlen (zsock_endpoint (self->events))),
        .metrics_url = zkv_bin (self->args->metrics_url, strlen (self->args->metrics_url))
    };
    size_t size;
    uint8_t *body = zkv_msg_encode_body (&zkv_status_response_desc, &response, &size);
    free (errors);
    free (texts);
    if (body)
        s_reply (self, envelope_p, request->has_id, request->id, "status", body, size);
    free (body);
}

//  More credit for a snapshot stream of the same client: passed on to
//  the snapshotter, not answered; refused when this connection has no
//  stream of that id running (never had, or it has ended: its last reply
//  is then on its way, or taken)
static void
s_snapshot_credit (self_t *self, zmsg_t **envelope_p, const zkv_msg_t *request)
{
    const zkv_snapshot_credit_t *grant = (const zkv_snapshot_credit_t *) request->body;
    zframe_t *client = zmsg_first (*envelope_p);
    for (s_waiter_t *waiter = (s_waiter_t *) zlistx_first (self->long_by_age); waiter;
         waiter = (s_waiter_t *) zlistx_next (self->long_by_age))
        if (waiter->op == zkv_snapshot_desc.name && waiter->has_id && waiter->id == grant->stream
        &&  zframe_eq (zmsg_first (waiter->envelope), client)) {
            zkv_snapshot_grant_t message = { .wait = waiter->wait, .credit = grant->credit };
            zkv_io_send (self->snapshotter, &zkv_snapshot_grant_desc, &message);
            zmsg_destroy (envelope_p);
            return;
        }
    zkv_result_t status;
    zkv_status_set (&status, ZKV_ERR_NO_STREAM, "no stream of id %llu on this connection",
                    (unsigned long long) grant->stream);
    s_reply_error (self, envelope_p, request->has_id, request->id, request->desc->name, &status);
}

//  The snapshot streams whose clients went away (their connections
//  closed) end now: a stream holds one of the few slots, and a RocksDB
//  snapshot that keeps what compaction would drop
static void
s_drop_orphan_streams (self_t *self)
{
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (self->long_by_age);
    while (waiter) {
        s_waiter_t *next = (s_waiter_t *) zlistx_next (self->long_by_age);
        if (waiter->op == zkv_snapshot_desc.name
        &&  zkv_clients_gone (self->clients, zmsg_first (waiter->envelope))) {
            zkv_snapshot_cancel_t cancel = { .wait = waiter->wait };
            zkv_io_send (self->snapshotter, &zkv_snapshot_cancel_desc, &cancel);
            s_forget (self, waiter);
        }
        waiter = next;
    }
}

//  The requests front answers itself at once (FRONT in the table)
typedef void (s_answer_fn) (self_t *self, zmsg_t **envelope_p, const zkv_msg_t *request);

static s_answer_fn *const s_answers [ZKV_REQ_COUNT] = {
    [ZKV_REQ_status]          = s_status,
    [ZKV_REQ_snapshot_credit] = s_snapshot_credit,
};

//  Stops the member at start when a request of the table has no way here
//  to be served: a missing entry in the tables above, not a crash later
static void
s_check_dispatch (void)
{
    for (int kind = 0; kind < ZKV_REQ_COUNT; kind++) {
        const zkv_serve_t *serve = zkv_requests [kind]->serve;
        const s_rules_t *rules = &s_rules [kind];
        const char *missing =
              serve->server == ZKV_BY_FRONT && !s_answers [kind]? "s_answers"
            : serve->server != ZKV_BY_FRONT && serve->server != ZKV_BY_STATE
                                            && !s_orders [kind]? "s_orders"
            : serve->effect == ZKV_EFFECT_BODY && !rules->writes? "s_rules writes"
            : serve->deadline == ZKV_DEADLINE_BODY && !rules->long_running? "s_rules long_running"
            : NULL;
        if (missing)
            zkv_fatal ("front: request %s has no entry in %s", zkv_requests [kind]->name, missing);
    }
}

//  Receives a client's message: its last frame (the request) into
//  payload, left as ZeroMQ's own message since only that tells the socket
//  it came on (ZMQ_SRCFD) and the client's key (User-Id); the frames
//  before it into *envelope. Returns the number of frames, 0 if none.
static size_t
s_recv_client (self_t *self, zmsg_t **envelope, zmq_msg_t *payload)
{
    void *router = zsock_resolve (self->router);
    *envelope = zmsg_new ();
    zmq_msg_init (payload);
    size_t frames = 0;
    while (zmq_msg_recv (payload, router, frames? 0: ZMQ_DONTWAIT) >= 0) {
        frames++;
        if (!zmq_msg_more (payload))
            return frames;
        zmsg_addmem (*envelope, zmq_msg_data (payload), zmq_msg_size (payload));
    }
    zmq_msg_close (payload);
    zmsg_destroy (envelope);
    return 0;
}

//  Answers a message that is no request any client sends (more frames
//  than an envelope has) through its routing id alone: a DEALER client
//  takes the one-frame reply; a REQ client never sends such a message
static void
s_refuse_frames (self_t *self, zmsg_t **envelope_p, zmq_msg_t *payload, size_t frames)
{
    zmsg_t *envelope = *envelope_p;
    while (zmsg_size (envelope) > 1) {
        zframe_t *frame = zmsg_last (envelope);
        zmsg_remove (envelope, frame);
        zframe_destroy (&frame);
    }
    uint64_t id = 0;
    bool has_id;
    char op [32];
    zkv_msg_peek ((const uint8_t *) zmq_msg_data (payload), zmq_msg_size (payload), &has_id, &id,
                  op, sizeof op);
    zkv_result_t status;
    zkv_status_set (&status, ZKV_ERR_MALFORMED, "a message of %zu frames: a request is one "
                    "frame, after at most %d frames of envelope", frames - 1,
                    MAX_ENVELOPE_FRAMES - 1);   //  (as the client counts: no routing id)
    s_reply_error (self, envelope_p, has_id, id, op, &status);
}

//  Handles a client's request if one is waiting: false when none was
static bool
s_handle_client (self_t *self)
{
    zmsg_t *envelope;
    zmq_msg_t payload_msg;
    size_t frames = s_recv_client (self, &envelope, &payload_msg);
    if (frames == 0)
        return false;
    zmq_msg_t *payload = &payload_msg;
    if (frames < 2) {                   //  a ROUTER always gives a routing id
        zmsg_destroy (&envelope);
        zmq_msg_close (payload);
        return true;
    }
    //  Secure: the key ZeroMQ names (the ZAP handler's User-Id) must be a
    //  client's, and only an admin's may make admin requests
    bool admin = true;
    if (self->client_keys) {
        const char *key = zmq_msg_gets (payload, "User-Id");
        if (!zkv_keys_has (self->client_keys, key)) {
            if (self->strangers++ % 1000 == 0)
                zsys_warning ("front: dropped a request from key %s, not a client's "
                              "(%llu dropped so far)", key? key: "(none)",
                              (unsigned long long) self->strangers);
            zmq_msg_close (payload);
            zmsg_destroy (&envelope);
            return true;
        }
        admin = zkv_keys_has (self->admin_keys, key);
    }
    zkv_clients_seen (self->clients, zmsg_first (envelope), zmq_msg_get (payload, ZMQ_SRCFD));
    if (frames > MAX_ENVELOPE_FRAMES + 1) {
        s_refuse_frames (self, &envelope, payload, frames);
        zmq_msg_close (payload);
        return true;
    }
    const uint8_t *data = (const uint8_t *) zmq_msg_data (payload);
    size_t size = zmq_msg_size (payload);
    zkv_metrics_add (&zkv_metrics.client_received_bytes, size);
    zkv_result_t status;
    zkv_err_t refused = ZKV_ERR_OK;
    zkv_msg_t *request = zkv_msg_decode (data, size, ZKV_KIND_REQUEST, &self->limits, &status);
    if (!request) {
        //  Still answer under the request's id and op, when they can be read
        uint64_t id = 0;
        bool has_id;
        char op [32];
        zkv_msg_peek (data, size, &has_id, &id, op, sizeof op);
        size_t kind;
        if (zkv_metrics_request (op, strlen (op), &kind))
            zkv_metrics_add (&zkv_metrics.started [kind], 1);
        s_reply_error (self, &envelope, has_id, id, op, &status);
        zmq_msg_close (payload);
        return true;
    }
    zkv_metrics_add (&zkv_metrics.started [request->desc->serve->kind], 1);
    if (!admin && s_admin_only (request)) {
        zkv_status_set (&status, ZKV_ERR_PERMISSION_DENIED, NULL);
        s_reply_error (self, &envelope, request->has_id, request->id, request->desc->name,
                       &status);
    }
    else
    if (request->desc->serve->server == ZKV_BY_FRONT)
        s_answers [request->desc->serve->kind] (self, &envelope, request);
    else
    if (zkv_check_request (request->desc, request->body, self->args->max_txn_ops, &status))
        s_reply_error (self, &envelope, request->has_id, request->id, request->desc->name,
                       &status);
    else
    if ((refused = s_gate (self, request)) != ZKV_ERR_OK
    ||  !s_fits_quota (self, s_write_cost (request))
    ||  !s_fits_disk (self, s_write_cost (request))) {
        zkv_status_set (&status, refused != ZKV_ERR_OK? refused: ZKV_ERR_NO_SPACE, NULL);
        s_reply_error (self, &envelope, request->has_id, request->id, request->desc->name,
                       &status);
    }
    else
    if (zhashx_size (self->waiting) >= self->args->max_waiting
    ||  zkv_clients_busy (self->clients, zmsg_first (envelope))
    ||  self->waiting_bytes + size > self->max_waiting_bytes
    ||  (s_maintenance (request) && zlistx_size (self->long_by_age) >= MAX_MAINTENANCE)) {
        zkv_status_set (&status, ZKV_ERR_TOO_MANY_REQUESTS, NULL);
        s_reply_error (self, &envelope, request->has_id, request->id, request->desc->name,
                       &status);
    }
    else {
        s_waiter_t *waiter = s_wait (self, &envelope, request, size);
        waiter->write_bytes = s_write_cost (request);
        self->waiting_write_bytes += waiter->write_bytes;
        if (self->args->verbose)
            zsys_debug ("front: %s id %llu waits as %llu", request->desc->name,
                        (unsigned long long) request->id, (unsigned long long) waiter->wait);
        s_route (self, request, waiter);
    }
    zkv_msg_destroy (&request);
    zmq_msg_close (payload);
    return true;
}

//  ---------------------------------------------------------------------
//  Events

static void
s_publish_leader (self_t *self, uint64_t term, uint64_t leader, uint64_t previous)
{
    zkv_leader_event_t event = {
        .member = self->args->member_id, .term = term, .leader = leader, .previous = previous
    };
    size_t size;
    uint8_t *body = zkv_msg_encode_body (&zkv_leader_event_desc, &event, &size);
    if (body)
        zkv_publisher_send (self->publisher, "leader", body, size);
    free (body);
}

//  ---------------------------------------------------------------------
//  Answers and node state

static void
s_handle_inbox (self_t *self)
{
    zkv_msg_t *msg;
    int budget;
    for (budget = 1024; budget > 0 && zkv_io_try_recv (self->inbox, "front", &msg);
         budget--) {
        if (!msg)
            continue;
        if (msg->desc == &zkv_answers_desc) {
            zkv_answers_t *answers = (zkv_answers_t *) msg->body;
            for (size_t i = 0; i < answers->answers.count; i++) {
                zkv_answer_t *answer = &answers->answers.items [i];
                s_waiter_t *waiter = (s_waiter_t *) zhashx_lookup (self->waiting, &answer->wait);
                if (waiter)             //  else it timed out already
                    s_finish (self, waiter, answer->reply.data, answer->reply.size, NULL);
            }
        }
        else
        if (msg->desc == &zkv_stream_piece_desc) {
            zkv_stream_piece_t *piece = (zkv_stream_piece_t *) msg->body;
            s_waiter_t *waiter = (s_waiter_t *) zhashx_lookup (self->waiting, &piece->wait);
            if (waiter && piece->last)
                s_finish (self, waiter, piece->reply.data, piece->reply.size, NULL);
            else
            if (waiter) {
                zmsg_t *envelope = zmsg_dup (waiter->envelope);
                s_send_reply (self, &envelope, waiter->has_id, waiter->id, waiter->op,
                         piece->reply.data, piece->reply.size);
            }
        }
        else
        if (msg->desc == &zkv_refused_desc) {
            zkv_refused_t *refused = (zkv_refused_t *) msg->body;
            s_waiter_t *waiter = (s_waiter_t *) zhashx_lookup (self->waiting, &refused->wait);
            if (waiter) {
                zkv_result_t status;
                zkv_err_t error = refused->error < ZKV_ERR_COUNT? (zkv_err_t) refused->error
                                                                : ZKV_ERR_INTERNAL;
                if (error == ZKV_ERR_PROPOSAL_DROPPED && refused->leader)
                    zkv_status_set (&status, error, "leadership transfer in progress, "
                                    "leader %016llx", (unsigned long long) refused->leader);
                else
                if (refused->detail.size)
                    zkv_status_set (&status, error, "%.*s", (int) refused->detail.size,
                                    (const char *) refused->detail.data);
                else
                    zkv_status_set (&status, error, NULL);
                s_finish (self, waiter, NULL, 0, &status);
            }
        }
        else
        if (msg->desc == &zkv_event_desc) {
            zkv_event_t *event = (zkv_event_t *) msg->body;
            char topic [32];
            zkv_bin_str (event->topic, topic, sizeof topic);
            if (streq (topic, "alarm"))
                s_alarm_seen (self, event->body);
            zkv_publisher_send (self->publisher, topic, event->body.data, event->body.size);
        }
        else
        if (msg->desc == &zkv_raft_state_desc) {
            zkv_raft_state_t *state = (zkv_raft_state_t *) msg->body;
            if (state->leader != self->leader)
                s_publish_leader (self, state->term, state->leader, self->leader);
            //  etcd counts a change to another leader, not its loss
            if (state->leader && state->leader != self->leader)
                zkv_metrics_add (&zkv_metrics.leader_changes, 1);
            self->leader = state->leader;
            zkv_bin_str (state->role, self->role, sizeof self->role);
            zkv_metrics_set (&zkv_metrics.has_leader, self->leader != 0);
            zkv_metrics_set (&zkv_metrics.is_leader, streq (self->role, "leader"));
            zkv_metrics_set (&zkv_metrics.is_learner, streq (self->role, "learner"));
        }
        else
        if (msg->desc == &zkv_storage_state_desc) {
            zkv_storage_state_t *state = (zkv_storage_state_t *) msg->body;
            self->revision = state->revision;
            self->applied = state->applied;
            self->applied_term = state->applied_term;
            self->commit = state->commit;
            zkv_metrics_set (&zkv_metrics.proposals_committed, (int64_t) self->commit);
            zkv_metrics_set (&zkv_metrics.proposals_applied, (int64_t) self->applied);
        }
        else
            zsys_error ("front: unexpected message %s", msg->desc->name);
        zkv_msg_destroy (&msg);
    }
    if (budget == 0)
        zkv_waiter_again (self->waiter, self->inbox);   //  more may wait
}

static void
s_expire (self_t *self)
{
    int64_t now = zclock_mono ();
    zkv_result_t status;
    zkv_status_set (&status, ZKV_ERR_TIMEOUT, NULL);
    zlistx_t *queues [2] = { self->by_age, self->long_by_age };
    for (int q = 0; q < 2; q++) {
        s_waiter_t *waiter = (s_waiter_t *) zlistx_first (queues [q]);
        while (waiter && waiter->deadline <= now) {
            s_finish (self, waiter, NULL, 0, &status);
            waiter = (s_waiter_t *) zlistx_first (queues [q]);
        }
    }
}

//  ---------------------------------------------------------------------
//  Lifecycle

static const char *
s_start (self_t *self, char *error, size_t size)
{
    self->router = zsock_new (ZMQ_ROUTER);
    //  Frames a little over the limit get an error reply; far bigger ones
    //  would only be a way to make us allocate, so ZeroMQ drops them.
    size_t hard_limit = 4 * self->args->max_request_bytes;
    if (hard_limit < (8 << 20))
        hard_limit = 8 << 20;
    zsock_set_maxmsgsize (self->router, (int64_t) hard_limit);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_rcvhwm (self->router, 100000);
    if (self->args->cert) {
        zkv_cert_apply_server (self->args->cert, self->router, ZKV_ZAP_CLIENT);
        self->client_keys = zhashx_dup (self->args->client_keys);
        self->admin_keys = zhashx_dup (self->args->admin_keys);
    }
    if (self->args->listen_fd >= 0)
        zsock_set_use_fd (self->router, self->args->listen_fd);
    self->router_guard = zkv_guard_new (self->router, "client",
                                        self->args->max_client_connections);
    if (!self->router_guard) {
        snprintf (error, size, "cannot watch the connections of the client socket");
        return error;
    }
    if (zsock_bind (self->router, "%s", self->args->listen) < 0) {
        snprintf (error, size, "cannot listen on %s: %s", self->args->listen,
                  zmq_strerror (zmq_errno ()));
        return error;
    }
    self->events = zsock_new (ZMQ_PUB);
    zsock_set_sndhwm (self->events, 10000);
    if (self->args->cert)
        zkv_cert_apply_server (self->args->cert, self->events, ZKV_ZAP_CLIENT);
    if (self->args->listen_events_fd >= 0)
        zsock_set_use_fd (self->events, self->args->listen_events_fd);
    self->events_guard = zkv_guard_new (self->events, "events",
                                        self->args->max_client_connections);
    if (!self->events_guard) {
        snprintf (error, size, "cannot watch the connections of the events socket");
        return error;
    }
    if (zsock_bind (self->events, "%s", self->args->listen_events) < 0) {
        snprintf (error, size, "cannot listen on %s: %s", self->args->listen_events,
                  zmq_strerror (zmq_errno ()));
        return error;
    }
    self->publisher = zkv_publisher_new (self->events, self->args->member_id);
    self->inbox = zkv_io_inbox (self->args->front);
    self->raft = zkv_io_outbox (self->args->raft);
    self->storage = zkv_io_outbox (self->args->storage);
    self->hasher = zkv_io_outbox (self->args->hasher);
    self->defrag = zkv_io_outbox (self->args->defrag);
    self->snapshotter = zkv_io_outbox (self->args->snapshotter);
    self->alarm = zkv_io_outbox (self->args->alarm);
    if (!self->inbox || !self->raft || !self->storage || !self->hasher || !self->defrag
    ||  !self->snapshotter || !self->alarm) {
        snprintf (error, size, "cannot bind %s or reach raft and storage", self->args->front);
        return error;
    }
    zkv_waiter_add (self->waiter, self->router);
    zkv_waiter_add (self->waiter, self->inbox);
    return NULL;
}

static void
s_stop (self_t *self)
{
    zkv_result_t status;
    zkv_status_set (&status, ZKV_ERR_STOPPED, NULL);
    zlistx_t *queues [2] = { self->by_age, self->long_by_age };
    for (int q = 0; q < 2; q++) {
        s_waiter_t *waiter = (s_waiter_t *) zlistx_first (queues [q]);
        while (waiter) {
            s_finish (self, waiter, NULL, 0, &status);
            waiter = (s_waiter_t *) zlistx_first (queues [q]);
        }
    }
    //  Give the stopped replies a moment to leave before the socket closes
    if (self->router)
        zsock_set_linger (self->router, 200);
}

static self_t *
s_self_new (zsock_t *pipe, zkv_front_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->limits = zkv_limits_request (self->args->max_request_bytes);
    self->alarms = zkv_alarm_table_new ();
    self->quota.quota = self->args->quota_bytes;
    zkv_metrics_set (&zkv_metrics.quota_backend_bytes, self->args->quota_bytes);
    self->space = zkv_space_new (self->args->engine, self->args->space);
    s_load_alarms (self);
    //  Bytes in flight are bounded too, not only requests: 64 MiB, or eight
    //  of the largest requests
    self->max_waiting_bytes = 8 * self->args->max_request_bytes;
    if (self->max_waiting_bytes < (64 << 20))
        self->max_waiting_bytes = 64 << 20;
    //  Wait numbers go into the raft log: a restarted member must not take
    //  the answers to its previous life's requests for new ones
    self->next_wait = (uint64_t) zclock_usecs () << 20;
    self->waiting = zhashx_new ();
    zhashx_set_key_hasher (self->waiting, s_wait_hash);
    zhashx_set_key_comparator (self->waiting, s_wait_compare);
    zhashx_set_key_duplicator (self->waiting, NULL);    //  keys live in the waiters
    zhashx_set_key_destructor (self->waiting, NULL);
    self->clients = zkv_clients_new (self->args->max_client_requests,
                                     self->args->max_client_unread_bytes,
                                     self->args->max_unread_bytes);
    zhashx_set_destructor (self->waiting, s_waiter_destroy);
    self->by_age = zlistx_new ();
    self->long_by_age = zlistx_new ();
    self->waiter = zkv_waiter_new ();
    zkv_waiter_add (self->waiter, pipe);
    return self;
}

//  Answers the requests still waiting (STOPPED) first, then frees all:
//  each guard before the socket it watches
static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    s_stop (self);
    zkv_waiter_destroy (&self->waiter);
    zhashx_destroy (&self->waiting);
    zkv_clients_destroy (&self->clients);
    zlistx_destroy (&self->by_age);
    zlistx_destroy (&self->long_by_age);
    zkv_alarm_table_destroy (&self->alarms);
    zkv_space_destroy (&self->space);
    zhashx_destroy (&self->client_keys);
    zhashx_destroy (&self->admin_keys);
    free (self->proposals);             //  empty: every burst was flushed
    free (self->reads);
    zkv_guard_destroy (&self->router_guard, self->router);
    zkv_guard_destroy (&self->events_guard, self->events);
    zkv_publisher_destroy (&self->publisher);
    zsock_destroy (&self->router);
    zsock_destroy (&self->events);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->raft);
    zsock_destroy (&self->storage);
    zsock_destroy (&self->hasher);
    zsock_destroy (&self->defrag);
    zsock_destroy (&self->snapshotter);
    zsock_destroy (&self->alarm);
    free (self);
    *self_p = NULL;
}

void
zkv_front_actor (zsock_t *pipe, void *args)
{
    s_check_dispatch ();
    self_t *self = s_self_new (pipe, (zkv_front_args_t *) args);
    zsock_signal (pipe, 0);

    int64_t next_tick = zclock_mono () + TICK_MSECS;
    int64_t next_clients_tick = next_tick;
    while (!self->terminated) {
        int64_t timeout = next_tick - zclock_mono ();
        zsock_t *which = zkv_waiter_wait (self->waiter, timeout < 0? 0: (int) timeout);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            if (!command)
                break;
            zkv_waiter_again (self->waiter, pipe);      //  one command read, maybe answered
            if (streq (command, "START")) {
                char error [512];
                const char *failed = s_start (self, error, sizeof error);
                if (failed)
                    zstr_send (pipe, failed);
                else
                    zstr_sendx (pipe, "OK", zsock_endpoint (self->router),
                                zsock_endpoint (self->events), NULL);
            }
            else
            if (streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_error ("front: invalid command '%s'", command);
            zstr_free (&command);
        }
        else
        if (which == self->router) {
            //  Take a burst of requests, then look at answers again
            int burst = 0;
            zkv_clients_burst (self->clients);
            while (burst < 256 && s_handle_client (self))
                burst++;
            if (burst == 256)
                zkv_waiter_again (self->waiter, self->router);  //  more may wait
            s_flush_raft (self);
        }
        else
        if (which == self->inbox)
            s_handle_inbox (self);
        if (zclock_mono () >= next_tick) {
            s_expire (self);
            s_drop_orphan_streams (self);
            s_load_alarms (self);       //  a snapshot installed tells no alarm event
            if (self->publisher)
                zkv_publisher_tick (self->publisher, zclock_mono ());
            next_tick = zclock_mono () + TICK_MSECS;
            if (next_tick >= next_clients_tick) {
                zkv_clients_tick (self->clients, next_tick);
                s_measure_size (self);
                next_clients_tick = next_tick + CLIENTS_TICK_MSECS;
            }
        }
    }
    s_self_destroy (&self);
}
