/*  =========================================================================
    zkv_client.c — the client library (see zkv_client.h).
    =========================================================================
*/
#include "zkv_client.h"
#include "zkv_cluster_file.h"

#include <stdlib.h>
#include <string.h>

#define S_PAUSE         50              //  msecs of the first pause before a retry
#define S_PAUSE_MAX     500             //  doubled up to this

struct zkv_client_s {
    zlist_t *endpoints;                 //  normalised endpoints (owned strings)
    size_t current;                     //  index of the one in use
    zsock_t *dealer;                    //  connected to it
    zkv_curve_t *curve;                 //  CURVE credentials (NULL: plain)
    int timeout;                        //  msecs per call
    int connect_timeout;                //  msecs to connect to an endpoint (0: timeout)
    size_t max_request_bytes;           //  larger requests are refused here
    uint64_t next_id;
    bool retry;                         //  zkv_client_call follows the retry policy
};

char *
zkv_endpoint_normalize (const char *endpoint)
{
    if (strstr (endpoint, "://")) {
        //  etcd-style URLs name the same host and port over tcp
        if (strncmp (endpoint, "http://", 7) == 0)
            return zsys_sprintf ("tcp://%s", endpoint + 7);
        return strdup (endpoint);
    }
    return zsys_sprintf ("tcp://%s", endpoint);
}

static void
s_connect (zkv_client_t *self)
{
    zsock_destroy (&self->dealer);
    self->dealer = zsock_new (ZMQ_DEALER);
    //  Queue nothing for a peer that is not connected, so that a send
    //  times out instead, and the next endpoint can be tried
    zsock_set_immediate (self->dealer, 1);
    zsock_set_linger (self->dealer, 0);
    zsock_set_reconnect_ivl (self->dealer, 50);
    zkv_curve_apply (self->curve, self->dealer);
    const char *endpoint = zkv_client_endpoint_at (self, self->current);
    if (zsock_connect (self->dealer, "%s", endpoint) < 0)
        zsys_warning ("zkv client: cannot connect to %s", endpoint);
}

zkv_client_t *
zkv_client_new (const char *endpoints, int timeout)
{
    zkv_client_t *self = (zkv_client_t *) zmalloc (sizeof (zkv_client_t));
    self->max_request_bytes = ZKV_CLIENT_MAX_REQUEST_BYTES;
    self->endpoints = zlist_new ();
    zlist_autofree (self->endpoints);
    char *list = strdup (endpoints);
    char *saved = NULL;
    for (char *token = strtok_r (list, ",", &saved); token; token = strtok_r (NULL, ",", &saved)) {
        while (*token == ' ')
            token++;
        if (*token) {
            char *endpoint = zkv_endpoint_normalize (token);
            zlist_append (self->endpoints, endpoint);
            free (endpoint);
        }
    }
    free (list);
    if (zlist_size (self->endpoints) == 0) {
        zlist_destroy (&self->endpoints);
        free (self);
        return NULL;
    }
    self->timeout = timeout > 0? timeout: 5000;
    self->retry = true;
    self->next_id = (uint64_t) zclock_time () << 16;    //  distinct across runs
    s_connect (self);
    return self;
}

zkv_client_t *
zkv_client_new_from_cluster_file (const char *path, int timeout, char *error, size_t size)
{
    zkv_cluster_file_t *file = zkv_cluster_file_load (path, error, size);
    if (!file)
        return NULL;
    const char *cert = zkv_cluster_file_cert (file);
    const char *server_cert = zkv_cluster_file_server_cert (file);
    zkv_curve_t *curve = NULL;
    if (cert && server_cert)
        curve = zkv_curve_new (cert, server_cert, error, size);
    else
    if (cert || server_cert)
        snprintf (error, size, "cluster file %s names %s without %s", path,
                  cert? "cert": "server-cert", cert? "server-cert": "cert");
    zkv_client_t *self = NULL;
    if (curve || !(cert || server_cert)) {
        self = zkv_client_new (zkv_cluster_file_endpoints (file), timeout);
        if (self && curve)
            zkv_client_set_curve (self, curve);
    }
    zkv_curve_destroy (&curve);
    zkv_cluster_file_destroy (&file);
    return self;
}

void
zkv_client_destroy (zkv_client_t **self_p)
{
    zkv_client_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->dealer);
    zlist_destroy (&self->endpoints);
    zkv_curve_destroy (&self->curve);
    free (self);
    *self_p = NULL;
}

void
zkv_client_set_curve (zkv_client_t *self, const zkv_curve_t *curve)
{
    zkv_curve_destroy (&self->curve);
    self->curve = zkv_curve_dup (curve);
    s_connect (self);
}

int
zkv_client_timeout (zkv_client_t *self)
{
    return self->timeout;
}

size_t
zkv_client_endpoint_count (zkv_client_t *self)
{
    return zlist_size (self->endpoints);
}

const char *
zkv_client_endpoint_at (zkv_client_t *self, size_t index)
{
    const char *endpoint = (const char *) zlist_first (self->endpoints);
    for (size_t i = 0; i < index && endpoint; i++)
        endpoint = (const char *) zlist_next (self->endpoints);
    return endpoint;
}

const char *
zkv_client_endpoint (zkv_client_t *self)
{
    return zkv_client_endpoint_at (self, self->current);
}

const zkv_error_t *
zkv_reply_error (const zkv_msg_t *reply)
{
    if (reply->desc != &zkv_error_response_desc)
        return NULL;
    return ((const zkv_error_response_t *) reply->body)->error;
}

//  Sends frame on the current endpoint, or on the next ones in turn when
//  the current one accepts no connection in time. Returns 0 once sent.
static int
s_send (zkv_client_t *self, const uint8_t *bytes, size_t size, int64_t deadline)
{
    size_t count = zlist_size (self->endpoints);
    for (size_t tried = 0; tried < count; tried++) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        //  Share what is left among the endpoints still to try; the last
        //  one may use all of it (a member still starting gets its chance)
        size_t remaining = count - tried;
        int64_t wait = remaining == 1? left: left / (int64_t) remaining;
        if (remaining > 1 && wait > 1000)
            wait = 1000;
        if (self->connect_timeout > 0 && wait > self->connect_timeout)
            wait = self->connect_timeout;
        zsock_set_sndtimeo (self->dealer, (int) wait);
        if (zmq_send (zsock_resolve (self->dealer), bytes, size, 0) == (int) size)
            return 0;
        self->current = (self->current + 1) % count;
        s_connect (self);
    }
    return -1;
}

void
zkv_client_set_max_request_bytes (zkv_client_t *self, size_t bytes)
{
    self->max_request_bytes = bytes;
}

void
zkv_client_set_connect_timeout (zkv_client_t *self, int msecs)
{
    self->connect_timeout = msecs > 0? msecs: 0;
}

//  Encodes and sends a request; returns its id, or 0 with status set
static uint64_t
s_send_request (zkv_client_t *self, const zkv_desc_t *desc, const void *request, int timeout,
                zkv_result_t *status)
{
    uint64_t id = ++self->next_id;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = zkv_msg_pack_top (&pk, desc, request, NULL, true, id);
    if (rc)
        zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    else
    if (buffer.size > self->max_request_bytes)
        rc = zkv_status_set (status, ZKV_ERR_REQUEST_TOO_LARGE, "%zu bytes, over the %zu this "
                             "client sends (--max-request-bytes)", buffer.size,
                             self->max_request_bytes);
    else
    if (s_send (self, (const uint8_t *) buffer.data, buffer.size, zclock_mono () + timeout))
        rc = zkv_status_set (status, ZKV_ERR_TIMEOUT, "context deadline exceeded");
    msgpack_sbuffer_destroy (&buffer);
    return rc? 0: id;
}

uint64_t
zkv_client_send (zkv_client_t *self, const zkv_desc_t *desc, const void *request, int timeout)
{
    zkv_result_t status;
    return s_send_request (self, desc, request, timeout, &status);
}

//  Decodes a reply frame (destroyed) as a reply to a request of type desc
static zkv_msg_t *
s_decode (zframe_t **frame_p, const zkv_desc_t *desc, zkv_result_t *status)
{
    zkv_limits_t limits = zkv_limits_client ();
    zkv_msg_t *reply = zkv_msg_decode_reply (zframe_data (*frame_p), zframe_size (*frame_p),
                                             desc, &limits, status);
    zframe_destroy (frame_p);
    return reply;
}

zkv_msg_t *
zkv_client_recv (zkv_client_t *self, const zkv_desc_t *desc, int timeout,
                 zkv_result_t *status)
{
    zsock_set_rcvtimeo (self->dealer, timeout);
    zframe_t *frame = zframe_recv (self->dealer);
    if (!frame) {
        zkv_status_set (status, ZKV_ERR_TIMEOUT, "context deadline exceeded");
        return NULL;
    }
    return s_decode (&frame, desc, status);
}

void
zkv_client_reconnect (zkv_client_t *self)
{
    s_connect (self);
}

zsock_t *
zkv_client_socket (zkv_client_t *self)
{
    return self->dealer;
}

void
zkv_client_set_retry (zkv_client_t *self, bool retry)
{
    self->retry = retry;
}

//  True if the ops (and the txns nested in them) only read
static bool
s_ops_read_only (const zkv_request_op_list_t *ops)
{
    for (size_t i = 0; i < ops->count; i++) {
        const zkv_request_op_t *op = &ops->items [i];
        if (op->request_put || op->request_delete_range)
            return false;
        if (op->request_txn && !zkv_request_reads_only (&zkv_txn_desc, op->request_txn))
            return false;
    }
    return true;
}

bool
zkv_request_reads_only (const zkv_desc_t *desc, const void *request)
{
    if (desc == &zkv_range_desc || desc == &zkv_status_desc || desc == &zkv_hash_desc
    ||  desc == &zkv_hash_kv_desc || desc == &zkv_member_list_desc)
        return true;
    if (desc == &zkv_txn_desc) {
        const zkv_txn_t *txn = (const zkv_txn_t *) request;
        return s_ops_read_only (&txn->success) && s_ops_read_only (&txn->failure);
    }
    if (desc == &zkv_alarm_desc)
        return ((const zkv_alarm_t *) request)->action == 0;       //  GET
    return false;
}

bool
zkv_error_is (const zkv_error_t *error, zkv_err_t err)
{
    if (!error)
        return false;
    const char *text = zkv_err_message (err);
    size_t length = strlen (text);
    if (error->message.size < length || memcmp (error->message.data, text, length) != 0)
        return false;
    //  The text alone, or followed by a detail: "raft proposal dropped: ..."
    return error->message.size == length || error->message.data [length] == ':'
        || (error->message.data [length] == ' ' && error->message.size > length + 1
            && error->message.data [length + 1] == '(');
}

//  Moves to the next endpoint, on a fresh connection (so that a late reply
//  to a request sent on the old one is never taken for another's)
static void
s_next_endpoint (zkv_client_t *self)
{
    self->current = (self->current + 1) % zlist_size (self->endpoints);
    s_connect (self);
}

//  Waits until the mono msecs until for the reply to request id; NULL when
//  none came (the caller reconnects: a late reply must not come after),
//  or, with status set, when it could not be decoded
static zkv_msg_t *
s_wait_reply (zkv_client_t *self, const zkv_desc_t *desc, uint64_t id, int64_t until,
              bool *answered, zkv_result_t *status)
{
    *answered = false;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            return NULL;
        zsock_set_rcvtimeo (self->dealer, (int) left);
        zframe_t *frame = zframe_recv (self->dealer);
        if (!frame)
            return NULL;                //  timed out or interrupted
        //  A late reply to an earlier call (of any type: a stream's, say)
        //  is dropped before it is decoded as this call's type
        bool has_id = false;
        uint64_t reply_id = 0;
        char op [32];
        zkv_msg_peek (zframe_data (frame), zframe_size (frame), &has_id, &reply_id, op,
                      sizeof op);
        if (has_id && reply_id != id) {
            zframe_destroy (&frame);
            continue;
        }
        *answered = true;
        return s_decode (&frame, desc, status);     //  NULL: undecodable
    }
}

//  The call without the retry policy: one request, sent once
static zkv_msg_t *
s_call_once (zkv_client_t *self, const zkv_desc_t *desc, const void *request,
             zkv_result_t *status)
{
    int64_t deadline = zclock_mono () + self->timeout;
    uint64_t id = s_send_request (self, desc, request, self->timeout, status);
    if (!id)
        return NULL;
    if (self->connect_timeout > 0)
        deadline = zclock_mono () + self->timeout;      //  the dial is not counted
    bool answered;
    zkv_msg_t *reply = s_wait_reply (self, desc, id, deadline, &answered, status);
    if (answered)
        return reply;
    //  The request may or may not have been applied: start afresh, so
    //  that its late reply cannot be taken for another's
    s_connect (self);
    zkv_status_set (status, ZKV_ERR_TIMEOUT, "context deadline exceeded");
    return NULL;
}

//  True if the policy sends again a request refused with error: the
//  refusals that did nothing; those of a member that cannot serve it when
//  another may; for a read, those of unknown outcome too
static bool
s_again (const zkv_error_t *error, bool reads, size_t endpoints)
{
    if (zkv_error_is (error, ZKV_ERR_NO_LEADER) || zkv_error_is (error, ZKV_ERR_PROPOSAL_DROPPED)
    ||  zkv_error_is (error, ZKV_ERR_LEADER_CHANGED))
        return true;
    if (endpoints > 1
    &&  (zkv_error_is (error, ZKV_ERR_LEARNER_RPC) || zkv_error_is (error, ZKV_ERR_MEMBER_REMOVED)))
        return true;
    return reads
        && (zkv_error_is (error, ZKV_ERR_TIMEOUT) || zkv_error_is (error, ZKV_ERR_STOPPED));
}

zkv_msg_t *
zkv_client_call (zkv_client_t *self, const zkv_desc_t *desc, const void *request,
                 zkv_result_t *status)
{
    if (!self->retry)
        return s_call_once (self, desc, request, status);
    bool reads = zkv_request_reads_only (desc, request);
    size_t count = zlist_size (self->endpoints);
    int64_t deadline = zclock_mono () + self->timeout;
    zkv_msg_t *last = NULL;             //  the last refusal, kept to return
    int64_t pause = S_PAUSE;
    for (size_t tries = 0; !zsys_interrupted; tries++) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        uint64_t id = s_send_request (self, desc, request, (int) left, status);
        if (!id)
            return last;                //  (NULL, with status set, when none)
        if (tries == 0 && self->connect_timeout > 0)
            deadline = zclock_mono () + self->timeout;  //  the dial is not counted
        //  A read waits for a share of the time left, so that another
        //  member may be asked when this one does not answer
        int64_t now = zclock_mono ();
        int64_t until = deadline;
        if (reads && count > 1)
            until = now + (deadline - now) / (int64_t) (count - tries % count);
        bool answered;
        zkv_msg_t *reply = s_wait_reply (self, desc, id, until, &answered, status);
        if (!answered) {
            //  This member took the request and did not answer: the next
            //  calls go to the next member; a write is never sent again
            s_next_endpoint (self);
            if (reads && zclock_mono () < deadline)
                continue;
            if (!reads)
                zkv_msg_destroy (&last);    //  it may be applied: no refusal tells it
            break;
        }
        const zkv_error_t *error = reply? zkv_reply_error (reply): NULL;
        if (!error) {
            zkv_msg_destroy (&last);
            return reply;               //  (NULL, status set: undecodable)
        }
        zkv_msg_destroy (&last);
        last = reply;
        if (!s_again (error, reads, count) || zclock_mono () + pause >= deadline)
            return last;
        zclock_sleep ((int) pause);
        pause = pause * 2 < S_PAUSE_MAX? pause * 2: S_PAUSE_MAX;
        //  Another member may know a leader, or serve what this one cannot;
        //  a leadership transfer is over soon at the same member
        if (!zkv_error_is (error, ZKV_ERR_PROPOSAL_DROPPED) && count > 1)
            s_next_endpoint (self);
    }
    if (last)
        return last;                    //  what the members said tells more
    zkv_status_set (status, ZKV_ERR_TIMEOUT, "context deadline exceeded");
    return NULL;
}
