/*  =========================================================================
    zkv_guard.c — a bound on the connections a listening socket keeps
    (see zkv_guard.h).
    =========================================================================
*/
#include "zkv_guard.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TELL_MSECS 10000                //  refusals are logged so often at most

typedef struct {
    char endpoint [64];                 //  where the socket's monitor publishes
    char name [16];
    size_t max_connections;
} s_args_t;

typedef struct {
    zsock_t *pipe;                      //  actor command pipe
    s_args_t *args;                     //  owned
    zsock_t *monitor;
    uint8_t *live;                      //  by descriptor: 1 for a connection counted
    size_t room;
    size_t count;
    uint64_t refused;                   //  since the last line in the log
    uint64_t refused_total;
    uint64_t accept_failures;
    int64_t told;
    zpoller_t *poller;
} self_t;

//  Counts the connection on fd; false when it is one too many
static bool
s_admit (self_t *self, size_t fd)
{
    if (self->count >= self->args->max_connections)
        return false;
    if (fd >= self->room) {
        size_t room = 2 * fd + 64;
        uint8_t *grown = (uint8_t *) realloc (self->live, room);
        if (!grown)
            return false;
        memset (grown + self->room, 0, room - self->room);
        self->live = grown;
        self->room = room;
    }
    if (!self->live [fd]) {             //  (an event lost would count it twice)
        self->live [fd] = 1;
        self->count++;
    }
    return true;
}

static void
s_forget (self_t *self, size_t fd)
{
    if (fd < self->room && self->live [fd]) {
        self->live [fd] = 0;
        self->count--;
    }
}

static void
s_tell (self_t *self, bool now)
{
    if (!self->refused || (!now && zclock_mono () < self->told + TELL_MSECS))
        return;
    zsys_warning ("guard: the %s socket holds %zu connections, its bound: %llu more "
                  "refused (%llu in all)", self->args->name, self->count,
                  (unsigned long long) self->refused, (unsigned long long) self->refused_total);
    self->refused = 0;
    self->told = zclock_mono ();
}

static void
s_event (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->monitor);
    zframe_t *head = msg? zmsg_first (msg): NULL;
    if (!head || zframe_size (head) < 6) {
        zmsg_destroy (&msg);
        return;
    }
    uint16_t event;
    uint32_t value;
    memcpy (&event, zframe_data (head), 2);
    memcpy (&value, zframe_data (head) + 2, 4);
    zmsg_destroy (&msg);
    if (event == ZMQ_EVENT_ACCEPTED) {
        if (!s_admit (self, value)) {
            //  ZeroMQ sees the connection end and closes it
            shutdown ((int) value, SHUT_RDWR);
            self->refused++;
            self->refused_total++;
            s_tell (self, self->refused_total == 1);
        }
    }
    else
    if (event == ZMQ_EVENT_DISCONNECTED)
        s_forget (self, value);
    else
    if (event == ZMQ_EVENT_ACCEPT_FAILED && self->accept_failures++ % 1000 == 0)
        zsys_warning ("guard: the %s socket could not accept a connection: %s (%llu times)",
                      self->args->name, strerror ((int) value),
                      (unsigned long long) self->accept_failures);
}

//  Takes args (owned from here)
static self_t *
s_self_new (zsock_t *pipe, s_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    //  Connected before the socket binds: no connection goes uncounted
    self->monitor = zsock_new (ZMQ_PAIR);
    zsock_set_rcvhwm (self->monitor, 0);
    zsock_connect (self->monitor, "%s", args->endpoint);
    self->poller = zpoller_new (pipe, self->monitor, NULL);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->monitor);
    free (self->live);
    free (self->args);
    free (self);
    *self_p = NULL;
}

static void
s_guard_actor (zsock_t *pipe, void *arg)
{
    self_t *self = s_self_new (pipe, (s_args_t *) arg);
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (self->poller, TELL_MSECS);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool stop = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (stop)
                break;
        }
        else
        if (which == self->monitor)
            s_event (self);
        else
        if (zpoller_terminated (self->poller))
            break;
        s_tell (self, false);
    }
    s_self_destroy (&self);
}

zactor_t *
zkv_guard_new (zsock_t *sock, const char *name, size_t max_connections)
{
    s_args_t *args = (s_args_t *) zmalloc (sizeof (s_args_t));
    snprintf (args->endpoint, sizeof args->endpoint, "inproc://zkv-guard-%p", (void *) sock);
    snprintf (args->name, sizeof args->name, "%s", name);
    args->max_connections = max_connections;
    zsock_set_handshake_ivl (sock, ZKV_HANDSHAKE_MSECS);
    if (zmq_socket_monitor (zsock_resolve (sock), args->endpoint,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_ACCEPT_FAILED)) {
        free (args);
        return NULL;
    }
    return zactor_new (s_guard_actor, args);
}

void
zkv_guard_destroy (zactor_t **guard_p, zsock_t *sock)
{
    if (*guard_p && sock)
        zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
    zactor_destroy (guard_p);
}
