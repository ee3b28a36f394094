/*  zkv_waiter.c — waits on actor sockets through their ZMQ_FD (zkv_waiter.h). */
#include "zkv_waiter.h"

#include <poll.h>
#include <stdlib.h>

#define WAITER_MAX 8

struct _zkv_waiter_t {
    zsock_t *socks [WAITER_MAX];
    struct pollfd fds [WAITER_MAX];
    bool ask [WAITER_MAX];              //  ask for its events before blocking
    bool ready [WAITER_MAX];            //  may have input: return it
    size_t count;
};

zkv_waiter_t *
zkv_waiter_new (void)
{
    return (zkv_waiter_t *) zmalloc (sizeof (zkv_waiter_t));
}

void
zkv_waiter_destroy (zkv_waiter_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

void
zkv_waiter_add (zkv_waiter_t *self, zsock_t *sock)
{
    //  A fixed set, known when an actor starts: more is a programming error
    assert (self->count < WAITER_MAX);
    size_t i = self->count++;
    self->socks [i] = sock;
    self->fds [i] = (struct pollfd) { .fd = zsock_fd (sock), .events = POLLIN };
    self->ask [i] = true;
    self->ready [i] = false;
}

void
zkv_waiter_again (zkv_waiter_t *self, zsock_t *sock)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->socks [i] == sock)
            self->ask [i] = true;
}

//  The first socket marked ready, unmarked; NULL if none is
static zsock_t *
s_take_ready (zkv_waiter_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->ready [i]) {
            self->ready [i] = false;
            return self->socks [i];
        }
    return NULL;
}

zsock_t *
zkv_waiter_wait (zkv_waiter_t *self, int timeout)
{
    //  Sockets whose descriptor may not show the input they hold: asking
    //  processes their commands, after which the descriptor tells again
    for (size_t i = 0; i < self->count; i++)
        if (self->ask [i]) {
            self->ask [i] = false;
            if (zsock_events (self->socks [i]) & ZMQ_POLLIN)
                self->ready [i] = true;
        }
    zsock_t *sock = s_take_ready (self);
    if (sock)
        return sock;
    if (poll (self->fds, self->count, timeout) <= 0)
        return NULL;                    //  the time passed, or a signal
    //  A readable descriptor: the socket has commands, and most likely
    //  input; the caller's receive processes them and clears it
    for (size_t i = 0; i < self->count; i++)
        if (self->fds [i].revents)
            self->ready [i] = true;
    return s_take_ready (self);
}
