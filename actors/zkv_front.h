/*  =========================================================================
    zkv_front.h — the front actor: the only actor clients talk to.

    Binds the client ROUTER (DEALER and REQ clients alike: the last frame
    of a message is the request, the frames before it its envelope, sent
    back with the reply). Decodes and checks each request as hostile input
    and answers anything wrong with an error reply, never dropping the
    client or stopping. Refuses, before proposing it, a write the alarms
    refuse (zkv_alarm_table_gate, on the table as this member applied it),
    and a put or txn that passes the quota or that the free-disk guard
    finds no room for (zkv_space.h: what this member's waiting writes will
    write counted), proposing this member's NOSPACE for those two; when
    the guard trips it tells the alarm actor (disk_short), which releases
    the reserve file. Routes writes to raft, linearizable reads to raft
    for a read index, serializable reads to storage, Hash and HashKV to
    the hasher, Defragment to defrag, Snapshot to the snapshotter (whose
    stream of replies it passes on, and the client's credit grants, a
    grant for no stream of that connection refused; a stream whose
    client's connection closed is cancelled within a tick); keeps the
    table of waiting requests
    and answers each when the actor it went to reports it done, or with
    `etcdserver: request timed out` when it waited too long
    (--request-timeout; an hour for the maintenance that reads or rewrites
    the whole database, physical compactions included, of which at most 64
    wait at once). Keeps the node state raft and storage push to
    it, for headers (those of every error, and of the answers of raft and
    defrag, which know no revision) and to answer Status at once (the database sizes in
    it are RocksDB's own figures, read from the shared handle: see
    zkv_engine_sizes).

    Binds the events PUB socket too, and publishes on it what the other
    actors send it as `event` (defrag, snapshot), and a `leader` event when
    raft says the leader changed.

    With a certificate (--cert) both sockets are CURVE servers whose clients
    the ZAP handler checks under domain "client" (zkv_zap.h). A request
    whose User-Id (the client's public key) is not in the client set is
    dropped unanswered (the ZAP handler let no such client in; this holds
    even without it), and the admin requests (Defragment, MoveLeader, Alarm
    ACTIVATE and DEACTIVATE, Snapshot, Compact, fault injection) of a key
    not in the admin set get `etcdserver: permission denied`. Without a
    certificate everybody may do everything, as etcd without auth.

    Pipe commands:
      START       binds args->listen and args->listen_events; replies "OK"
                  and the two bound endpoints, or an error text
      $TERM       answers every waiting request `etcdserver: server
                  stopped`, then stops
    Inbox (PULL, bound at args->front): answers, stream_piece, refused,
    raft_state, storage_state, event.
    =========================================================================
*/
#ifndef ZKV_FRONT_H_INCLUDED
#define ZKV_FRONT_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

typedef struct {
    ZKV_WIRING;                         //  binds front, pushes to the others
    const char *listen;                 //  client endpoint to bind
    int listen_fd;                      //  or an inherited socket (>= 0)
    const char *listen_events;          //  events endpoint to bind (PUB)
    int listen_events_fd;               //  or an inherited socket (>= 0)
    const char *metrics_url;            //  where /metrics is served ("": nowhere)
    size_t max_request_bytes;           //  --max-request-bytes
    size_t max_txn_ops;                 //  --max-txn-ops
    size_t max_response_bytes;          //  --max-response-bytes
    size_t max_waiting;                 //  requests in flight at most
    size_t max_client_requests;         //  ...of which from one client connection
    size_t max_client_unread_bytes;     //  replies one connection may leave unread
    size_t max_unread_bytes;            //  ...and all of them together
    size_t max_client_connections;      //  on the client socket, and on the events one
    int request_timeout;                //  msecs before a request times out
    int64_t quota_bytes;                //  --quota-backend-bytes, as Status says it
    bool verbose;                       //  log every request (debug)
} zkv_front_args_t;

void
    zkv_front_actor (zsock_t *pipe, void *args);

#endif
