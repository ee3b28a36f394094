/*  zkv_actor_io.h — internal messages over the sockets between actors.

    Each internal message travels as one frame holding its msgpack
    encoding (zkv_msgs.def). The peers are actors of the same process, so
    a frame that does not decode is a bug: it is logged and dropped.
*/
#ifndef ZKV_ACTOR_IO_H_INCLUDED
#define ZKV_ACTOR_IO_H_INCLUDED

#include <czmq.h>

#include "zkv_msgs.h"

//  A PULL inbox bound at endpoint, with no queue limit (front bounds what
//  is in flight in the whole node). NULL if it cannot bind.
zsock_t *
    zkv_io_inbox (const char *endpoint);

//  A PUSH socket connected to another actor's inbox, with no queue limit
zsock_t *
    zkv_io_outbox (const char *endpoint);

//  Encodes msg (a top-level internal message) and sends it, never waiting
//  (a receiver that is gone is stopping). Returns 0 or -1.
int
    zkv_io_send (zsock_t *sock, const zkv_desc_t *desc, const void *msg);

//  Sends bytes already encoded, taking ownership of them (freed with free)
int
    zkv_io_send_bytes (zsock_t *sock, uint8_t **bytes_p, size_t size);

//  Asks front (at sock) to publish an event: topic and the event message
//  msg of type desc (a *_event)
void
    zkv_io_event (zsock_t *sock, const char *topic, const zkv_desc_t *desc, const void *msg);

//  Proposes an Alarm action (activate or deactivate type for member) to
//  raft at sock, as member origin's own request: nobody waits for it
void
    zkv_io_propose_alarm (zsock_t *sock, uint64_t origin, uint64_t action, uint64_t member,
                          uint64_t type);

//  Receives one internal message; NULL if the frame was not one (logged)
zkv_msg_t *
    zkv_io_recv (zsock_t *sock, const char *who);

//  The pipe commands of an actor that works only on its inbox: START binds
//  *inbox at inbox_endpoint (and adds it to poller), connects *outboxes [i]
//  to outbox_endpoints [i] (count of them), and answers "OK" or an error
//  text; $TERM asks it to stop. Returns false when the actor must stop
//  ($TERM, or the pipe was closed).
bool
    zkv_io_pipe_command (zsock_t *pipe, zpoller_t *poller, const char *who,
                         const char *inbox_endpoint, zsock_t **inbox,
                         const char *const *outbox_endpoints, zsock_t **const *outboxes,
                         size_t count);

//  Receives one internal message if one is waiting, never waiting for
//  one: false when none is (or the socket is closing). *msg_p is NULL when
//  the frame was not a message (logged). Drains an inbox at no system
//  call per message, where asking whether one waits (zkv_io_ready, as
//  zpoller does: ZMQ_EVENTS) costs libzmq a poll () and a getpid () each
//  time it finds its mailbox idle.
bool
    zkv_io_try_recv (zsock_t *sock, const char *who, zkv_msg_t **msg_p);

//  True while sock has a message waiting (to drain without blocking)
bool
    zkv_io_ready (zsock_t *sock);

#endif
