/*  zkv_waiter.h — waits for input on an actor's sockets as zpoller does, at
    a fraction of its system calls.

    zmq_poll, which zpoller calls, asks every socket for its events
    (ZMQ_EVENTS) before it blocks and again after; each ask that finds the
    socket's command mailbox idle costs libzmq 4.3 a poll () and a getpid ().
    With three sockets that is a dozen system calls per wake-up, and on the
    write path of a member, whose actors wake up several times per batch of
    puts, they were most of the system calls per put (docs/BENCHMARKS.md,
    "Fewer system calls per put"). The waiter polls the sockets' ZMQ_FD
    instead, which becomes readable when a socket's mailbox gets a command
    (as when a message arrives at an empty queue), and asks a socket for its
    events only when it may have input that its descriptor no longer shows:
    edge-triggered, as libzmq documents ZMQ_FD.

    The contract that makes it so: a socket zkv_waiter_wait returns may have
    input; the caller receives from it until a receive finds nothing, or
    calls zkv_waiter_again for it when it stops before that (a budget, a
    command read alone). It also calls zkv_waiter_again for a socket it sent
    on: a send may process the command that announced input, and leave the
    messages behind a descriptor that says nothing.
*/
#ifndef ZKV_WAITER_H_INCLUDED
#define ZKV_WAITER_H_INCLUDED

#include <czmq.h>

typedef struct _zkv_waiter_t zkv_waiter_t;

//  A waiter on no socket yet
zkv_waiter_t *
    zkv_waiter_new (void);

void
    zkv_waiter_destroy (zkv_waiter_t **self_p);

//  Waits on sock too (at most 8 sockets); it is asked for its events at the
//  next wait. Sockets are returned in the order they were added, when
//  several have input.
void
    zkv_waiter_add (zkv_waiter_t *self, zsock_t *sock);

//  The caller left sock with input maybe waiting (it stopped receiving
//  before a receive found nothing, or it sent on it): the next wait asks it
//  for its events before it blocks
void
    zkv_waiter_again (zkv_waiter_t *self, zsock_t *sock);

//  Returns a socket that may have input, waiting for one at most timeout
//  msecs (-1: with no limit, 0: not at all); NULL when none came in time,
//  or a signal interrupted the wait
zsock_t *
    zkv_waiter_wait (zkv_waiter_t *self, int timeout);

#endif
