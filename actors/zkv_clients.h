/*  =========================================================================
    zkv_clients.h — the client connections front serves, and what each may
    make the member hold.

    One record per connection, keyed by its ROUTER routing id, made when
    its first request comes: how many of its requests wait for answers
    (at most --max-client-requests), and how many bytes of replies the
    member has handed to ZeroMQ for it that the kernel has not yet taken
    (its unread bytes: a client that does not read leaves them in
    ZeroMQ's queue, in the member's memory).

    ZeroMQ tells neither what it still holds for a connection nor its
    descriptor; a received message names its descriptor (ZMQ_SRCFD), and
    the kernel tells what it took from that socket: the bytes the peer
    acknowledged plus those queued to send (TCP_INFO, SIOCOUTQ). Unread =
    replies sent - what the kernel took since the record was made (ZMTP's
    own bytes make it a little less than true). Each reply adds its size to
    the estimate; the kernel is asked again only when the estimate passes
    the connection's bound, and every second for connections with bytes
    unread, so a client that reads costs no system call per reply. The
    socket a connection came on (descriptor and inode) tells front when the
    connection has closed.

    A connection past --max-client-unread-bytes is closed (shutdown of its
    socket: ZeroMQ then drops the connection and frees what it queued), and
    so are the ones that hold the most while the member's total passes
    --max-unread-bytes; each closing is logged. Only tcp connections are
    measured (inproc and ipc ones are not bounded in bytes). Once 64 MiB of
    unread bytes are gone, the next tick gives the memory back to the
    system (malloc_trim): glibc would keep large freed blocks in its heaps.
    =========================================================================
*/
#ifndef ZKV_CLIENTS_H_INCLUDED
#define ZKV_CLIENTS_H_INCLUDED

#include <czmq.h>

typedef struct zkv_clients_s zkv_clients_t;

zkv_clients_t *
    zkv_clients_new (size_t max_requests, size_t max_unread, size_t max_total_unread);

void
    zkv_clients_destroy (zkv_clients_t **self_p);

//  A request came from the connection of routing_id, on socket fd (its
//  ZMQ_SRCFD, -1 if none): makes or refreshes its record
void
    zkv_clients_seen (zkv_clients_t *self, zframe_t *routing_id, int fd);

//  Front reads a new burst of requests. Within a burst, a request from a
//  routing id on the descriptor number its last came on is taken to come
//  on the same socket; at its first request of a burst, the socket is
//  checked (an fstat: one system call per request was one per put). A
//  client that closed and reconnected with the same routing id within a
//  burst (some 256 requests) has its first requests counted against the
//  record of the connection before, until the next burst.
void
    zkv_clients_burst (zkv_clients_t *self);

//  True if the connection of routing_id is known closed: the socket its
//  requests came on is no longer open (ZeroMQ closed it when the client
//  went away, or when the member shut it down). False when unknown.
bool
    zkv_clients_gone (zkv_clients_t *self, zframe_t *routing_id);

//  True if the connection has as many requests waiting as one may
bool
    zkv_clients_busy (zkv_clients_t *self, zframe_t *routing_id);

//  One more, or one less, of its requests waits (after zkv_clients_seen)
void
    zkv_clients_wait (zkv_clients_t *self, zframe_t *routing_id);
void
    zkv_clients_done (zkv_clients_t *self, zframe_t *routing_id);

//  A reply of size bytes is about to go to routing_id. False when the
//  connection holds too much (it is closed now, or was): drop the reply.
bool
    zkv_clients_sending (zkv_clients_t *self, zframe_t *routing_id, size_t size);

//  Once a second: asks the kernel again for every connection with bytes
//  unread, closes what holds too much, forgets connections long quiet
void
    zkv_clients_tick (zkv_clients_t *self, int64_t now);

//  Bytes unread by every connection together, as last estimated
size_t
    zkv_clients_unread (zkv_clients_t *self);

#endif
