/*  =========================================================================
    zkv_client.h — the zkv client library (C), which zkvctl, zkv-cluster
    and zkv-bench are built on. Installed with its headers and zkv-client.pc:
    `cc prog.c $(pkg-config --cflags --libs zkv-client)`.

    Speaks the documented client protocol (docs/PROTOCOL.md) over a DEALER
    socket connected to one member at a time: each request carries a fresh
    id, and only the reply with that id answers it. A request goes to the
    endpoint in use, or, when that one accepts no connection within a
    share of the time left, to the next one, in turn.

    The retry policy of zkv_client_call (docs/PROTOCOL.md, "Client
    guidance / Retrying"; the Python client, clients/python, follows the
    same rules), on unless zkv_client_set_retry turns it off:
    - A refusal that says the member did nothing (`etcdserver: no leader`,
      `raft proposal dropped`, `etcdserver: leader changed`) is sent again
      after a short pause (50 ms, doubled up to 500 ms) until the call's
      deadline, at the next member (at the same one after `raft proposal
      dropped`: a leadership transfer ends soon). So are, when there is
      another member to ask, `etcdserver: rpc not supported for learner`
      and `etcdserver: the member has been permanently removed from the
      cluster`. When the deadline comes, the last refusal is the reply.
    - A request that only reads (zkv_request_reads_only: range, a txn
      without writes, status, hash, hash_kv, member_list, alarm GET) gets a
      share of the time left from each member: one that does not answer
      within it, or answers `etcdserver: request timed out` or `etcdserver:
      server stopped`, is left for the next member, within the deadline.
    - A write whose outcome is unknown (no reply in time, `etcdserver:
      request timed out`, `etcdserver: server stopped`) is NEVER sent
      again: the call fails (`context deadline exceeded`) or returns that
      refusal. A write is never applied twice by the library.
    - Every other refusal is returned at once.
    After a request got no reply the client connects afresh, to the next
    member, so that a late reply is never taken for another request's.

    Against a secure cluster (members started with --cert) the client
    talks CURVE: give it its credentials (zkv_certs.h) before the first
    request, or make it from a cluster file (zkv_client_new_from_cluster_file),
    which names them. A member that does not know the client's key refuses
    the handshake, and the request then times out as if no member were
    there (ZeroMQ tells the client nothing more).

    A client is not thread-safe: use one per thread.
    =========================================================================
*/
#ifndef ZKV_CLIENT_H_INCLUDED
#define ZKV_CLIENT_H_INCLUDED

#include <czmq.h>

#include "zkv_certs.h"
#include "zkv_cluster_file.h"
#include "zkv_msgs.h"

typedef struct zkv_client_s zkv_client_t;

//  endpoints: comma-separated, each "host:port" (tcp) or a ZeroMQ endpoint
//  ("tcp://...", "ipc://..."). timeout: msecs a call may take in all.
zkv_client_t *
    zkv_client_new (const char *endpoints, int timeout);

//  A client of the members of the cluster file at path (zkv_cluster_file.h:
//  every member's client endpoint in file order, and a secure cluster's
//  credentials, as zkvctl --cluster-file takes them). NULL with a message
//  in error when the file cannot be read or its certificates cannot.
zkv_client_t *
    zkv_client_new_from_cluster_file (const char *path, int timeout, char *error,
                                      size_t size);

void
    zkv_client_destroy (zkv_client_t **self_p);

//  Talks CURVE with curve's credentials from now on (copied; NULL: plain
//  again). The connection is made afresh: call it before a request.
void
    zkv_client_set_curve (zkv_client_t *self, const zkv_curve_t *curve);

//  The largest request this client sends (etcd's clients have the same
//  habit): a member reads frames up to max(8 MiB, 4 x its
//  --max-request-bytes) to answer them `etcdserver: request is too large`,
//  and ZeroMQ drops bigger ones unread, with no reply ever. So the client
//  refuses them itself, at once, with the same error. The default suits
//  members of the default limit; raise it for members whose limit is
//  raised.
#define ZKV_CLIENT_MAX_REQUEST_BYTES (8 << 20)
void
    zkv_client_set_max_request_bytes (zkv_client_t *self, size_t bytes);

//  The dial timeout, etcd's DialTimeout for ZeroMQ, which connects lazily:
//  an endpoint must complete its connection (TCP and ZeroMQ's handshake,
//  CURVE's included) within msecs of a request being sent to it (and
//  within the call's timeout; with several endpoints, within the share of
//  it each gets, as without a dial timeout), or the request goes to the
//  next endpoint, and fails with `context deadline exceeded` once none is
//  left. A call's timeout then counts from when its request went out
//  (etcdctl's command timeout excludes the dial). 0 (the default): no
//  dial timeout, connecting may take the whole timeout of the call.
void
    zkv_client_set_connect_timeout (zkv_client_t *self, int msecs);

//  Sends request (of type desc) and waits for its reply, by the retry
//  policy above (unless turned off), all within the client's timeout.
//  Returns the reply (body: desc->response, or error_response when the
//  member refused: zkv_reply_error), or NULL with status set:
//  ZKV_ERR_TIMEOUT when no member answered in time (detail "context
//  deadline exceeded", as etcdctl says), ZKV_ERR_REQUEST_TOO_LARGE when the
//  request is larger than this client sends, or ZKV_ERR_MALFORMED when
//  the reply could not be decoded.
zkv_msg_t *
    zkv_client_call (zkv_client_t *self, const zkv_desc_t *desc, const void *request,
                     zkv_result_t *status);

//  Turns the retry policy of zkv_client_call on (the default) or off. Off,
//  a call sends its request once, to the first member that takes it, and
//  returns whatever that member answers (zkvctl: one request per command,
//  as etcdctl; tests that look at one member's refusals).
void
    zkv_client_set_retry (zkv_client_t *self, bool retry);

//  True if the request changes nothing, so that the retry policy may send
//  it again, to any member: range, a txn whose operations (nested txns
//  included) only read, status, hash, hash_kv, member_list, alarm GET
bool
    zkv_request_reads_only (const zkv_desc_t *desc, const void *request);

//  True if error is err's: its text alone, or followed by a detail
//  ("raft proposal dropped: ...", "... (...)")
bool
    zkv_error_is (const zkv_error_t *error, zkv_err_t err);

//  Sends a request without waiting for its reply (for load generators that
//  keep one request in flight per client). Returns its id, or 0 when no
//  endpoint took it in time, or it is larger than this client sends.
uint64_t
    zkv_client_send (zkv_client_t *self, const zkv_desc_t *desc, const void *request,
                     int timeout);

//  Receives the next reply, decoded as a reply to a request of type desc.
//  NULL with status set on timeout or an undecodable reply.
zkv_msg_t *
    zkv_client_recv (zkv_client_t *self, const zkv_desc_t *desc, int timeout,
                     zkv_result_t *status);

//  Connects afresh to the endpoint in use: the replies to requests sent
//  before are never received (after giving up on a request or a stream)
void
    zkv_client_reconnect (zkv_client_t *self);

//  What a snapshot saved was
typedef struct {
    uint64_t size;                      //  bytes of the file (image and SHA-256)
    uint64_t member_id;                 //  the member that streamed it (0: not told)
    char version [32];                  //  its server version ("3.4.0")
    uint8_t sha256 [32];                //  the SHA-256 of the image (the file's last bytes)
} zkv_snapshot_info_t;

//  Told as a snapshot streams in: image bytes received, of total
typedef void (zkv_snapshot_progress_fn) (void *arg, uint64_t received, uint64_t total);

//  Saves a snapshot of the member in use into path, as zkvctl snapshot
//  save does: streams it (docs/PROTOCOL.md, "snapshot") into path.part,
//  granting the member credit as it writes, checks the SHA-256 that ends
//  the stream against the bytes received, fsyncs, renames it to path and
//  fsyncs the directory. timeout: msecs the whole save may take (0: no
//  deadline, but a member silent for a minute fails it); the client's
//  dial timeout applies. progress (may be NULL) is told after each reply.
//  Returns 0 with info (may be NULL) filled, or -1 with a message in error
//  (the member's refusal, `context deadline exceeded`, `sha256 checksum
//  not found`, `could not open FILE.part (...)`, ...): path.part is then
//  removed and the client connects afresh. Never retried: a new stream is
//  the caller's to ask for.
int
    zkv_client_snapshot_save (zkv_client_t *self, const char *path, int timeout,
                              zkv_snapshot_progress_fn *progress, void *arg,
                              zkv_snapshot_info_t *info, char *error, size_t size);

//  The socket replies arrive on, for polling
zsock_t *
    zkv_client_socket (zkv_client_t *self);

//  The error of a reply that is an error_response, or NULL
const zkv_error_t *
    zkv_reply_error (const zkv_msg_t *reply);

//  The msecs a call may take in all, as given to zkv_client_new
int
    zkv_client_timeout (zkv_client_t *self);

//  The endpoint in use (after normalisation to a ZeroMQ endpoint)
const char *
    zkv_client_endpoint (zkv_client_t *self);

//  Number of endpoints, and the i-th one
size_t
    zkv_client_endpoint_count (zkv_client_t *self);
const char *
    zkv_client_endpoint_at (zkv_client_t *self, size_t index);

//  Turns "host:port" into "tcp://host:port"; returns a fresh string
char *
    zkv_endpoint_normalize (const char *endpoint);

#endif
