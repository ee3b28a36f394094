/*  zkv_actor_io.c — internal messages over actor sockets (zkv_actor_io.h). */
#include "zkv_actor_io.h"
#include "zkv_metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
s_free_bytes (void *data, void *hint)
{
    (void) hint;
    free (data);
}

zsock_t *
zkv_io_inbox (const char *endpoint)
{
    zsock_t *inbox = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (inbox, 0);
    if (zsock_bind (inbox, "%s", endpoint) < 0)
        zsock_destroy (&inbox);
    return inbox;
}

zsock_t *
zkv_io_outbox (const char *endpoint)
{
    zsock_t *outbox = zsock_new (ZMQ_PUSH);
    zsock_set_sndhwm (outbox, 0);
    //  The receiving actor's name, for the inbox counts of zkv_io_send
    //  (a PUSH socket's routing id is never sent on: it only labels it)
    const char *name = strrchr (endpoint, '-');
    name = name? name + 1: endpoint;
    zmq_setsockopt (zsock_resolve (outbox), ZMQ_ROUTING_ID, name, strlen (name));
    if (zsock_connect (outbox, "%s", endpoint) < 0)
        zsock_destroy (&outbox);
    return outbox;
}

int
zkv_io_send_bytes (zsock_t *sock, uint8_t **bytes_p, size_t size)
{
    zmq_msg_t frame;
    //  Zero copy: ZeroMQ frees the buffer once sent
    if (zmq_msg_init_data (&frame, *bytes_p, size, s_free_bytes, NULL)) {
        free (*bytes_p);
        *bytes_p = NULL;
        return -1;
    }
    *bytes_p = NULL;
    //  Queues between actors are unbounded, so a send can only block when
    //  the receiving actor is gone (stopping): never wait for it
    int rc;
    while ((rc = zmq_msg_send (&frame, zsock_resolve (sock), ZMQ_DONTWAIT)) < 0
    &&     zmq_errno () == EINTR)
        ;
    if (rc < 0) {
        zmq_msg_close (&frame);
        return -1;
    }
    char name [32];
    size_t name_size = sizeof name - 1;
    if (zmq_getsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, name, &name_size) == 0) {
        name [name_size] = 0;
        zkv_metrics_sent_to (zkv_metrics_actor_of (name));
    }
    return 0;
}

int
zkv_io_send (zsock_t *sock, const zkv_desc_t *desc, const void *msg)
{
    size_t size;
    uint8_t *bytes = zkv_msg_encode (desc, msg, &size);
    if (!bytes)
        return -1;
    return zkv_io_send_bytes (sock, &bytes, size);
}

//  Decodes one internal message's frame; NULL if it was not one (logged)
static zkv_msg_t *
s_decode (const uint8_t *data, size_t size, const char *who)
{
    zkv_metrics_received_by (zkv_metrics_actor_of (who));
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_msg_t *msg = zkv_msg_decode (data, size, ZKV_KIND_INTERNAL, &limits, &status);
    if (!msg) {
        char text [256];
        zsys_error ("%s: dropped an internal message: %s", who,
                    zkv_status_text (&status, text, sizeof text));
    }
    return msg;
}

zkv_msg_t *
zkv_io_recv (zsock_t *sock, const char *who)
{
    zframe_t *frame = zframe_recv (sock);
    if (!frame)
        return NULL;
    zkv_msg_t *msg = s_decode (zframe_data (frame), zframe_size (frame), who);
    zframe_destroy (&frame);
    return msg;
}

bool
zkv_io_try_recv (zsock_t *sock, const char *who, zkv_msg_t **msg_p)
{
    *msg_p = NULL;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    if (zmq_msg_recv (&frame, zsock_resolve (sock), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&frame);
        return false;
    }
    *msg_p = s_decode ((const uint8_t *) zmq_msg_data (&frame), zmq_msg_size (&frame), who);
    zmq_msg_close (&frame);
    return true;
}

bool
zkv_io_ready (zsock_t *sock)
{
    return (zsock_events (sock) & ZMQ_POLLIN) != 0;
}

void
zkv_io_event (zsock_t *sock, const char *topic, const zkv_desc_t *desc, const void *msg)
{
    size_t size;
    uint8_t *body = zkv_msg_encode_body (desc, msg, &size);
    if (!body)
        return;                         //  an event lost, nothing else
    zkv_event_t event = { .topic = zkv_bin (topic, strlen (topic)), .body = zkv_bin (body, size) };
    zkv_io_send (sock, &zkv_event_desc, &event);
    free (body);
}

void
zkv_io_propose_alarm (zsock_t *sock, uint64_t origin, uint64_t action, uint64_t member,
                      uint64_t type)
{
    zkv_alarm_t alarm = { .action = action, .member_id = member, .alarm = type };
    zkv_internal_request_t request = { .origin = origin, .wait = 0, .alarm = &alarm };
    size_t size;
    uint8_t *bytes = zkv_msg_encode_body (&zkv_internal_request_desc, &request, &size);
    if (!bytes)
        return;
    zkv_propose_t propose = { .wait = 0, .request = zkv_bin (bytes, size) };
    zkv_raft_requests_t requests = { .proposals = { &propose, 1 } };
    zkv_io_send (sock, &zkv_raft_requests_desc, &requests);
    free (bytes);
}

bool
zkv_io_pipe_command (zsock_t *pipe, zpoller_t *poller, const char *who,
                     const char *inbox_endpoint, zsock_t **inbox,
                     const char *const *outbox_endpoints, zsock_t **const *outboxes,
                     size_t count)
{
    char *command = zstr_recv (pipe);
    if (!command)
        return false;
    bool go_on = true;
    if (streq (command, "START")) {
        *inbox = zkv_io_inbox (inbox_endpoint);
        bool wired = *inbox != NULL;
        for (size_t i = 0; i < count; i++) {
            *outboxes [i] = zkv_io_outbox (outbox_endpoints [i]);
            wired &= *outboxes [i] != NULL;
        }
        if (wired) {
            zpoller_add (poller, *inbox);
            zstr_send (pipe, "OK");
        }
        else
            zstr_sendf (pipe, "cannot bind %s", inbox_endpoint);
    }
    else
    if (streq (command, "$TERM"))
        go_on = false;
    else
        zsys_error ("%s: invalid command '%s'", who, command);
    zstr_free (&command);
    return go_on;
}
