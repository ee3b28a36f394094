/*  =========================================================================
    zkv_guard.h — a bound on the connections a listening socket keeps.

    Every connection a member accepts costs it a descriptor, and the
    descriptors are the store's too: a member whose RocksDB cannot open a
    file stops. So no number of strangers' connections (idle, half-open,
    failing the CURVE handshake) may take them all. ZeroMQ accepts every
    connection it is offered and has no bound of its own; but its socket
    monitor tells each connection accepted (with its descriptor) and each
    that ends. A guard is an actor that watches one socket's monitor,
    counts its connections, and shuts down at once every connection past
    its bound (ZeroMQ then sees it end, and closes it): the member keeps
    serving the clients it has, and logs what it refused. A connection
    that has not finished its handshake after ZKV_HANDSHAKE_MSECS is
    dropped by ZeroMQ itself (ZMQ_HANDSHAKE_IVL, set here).

    Made by the thread that owns the socket, before it binds (the monitor
    is the socket's: libzmq wants it set from there), destroyed by the same
    thread before it closes the socket.
    =========================================================================
*/
#ifndef ZKV_GUARD_H_INCLUDED
#define ZKV_GUARD_H_INCLUDED

#include <czmq.h>

#define ZKV_HANDSHAKE_MSECS 5000        //  a connection's handshake, at most

//  Guards sock (not yet bound): at most max_connections at once; name
//  tells which socket in the log ("client", "events", "peer")
zactor_t *
    zkv_guard_new (zsock_t *sock, const char *name, size_t max_connections);

//  Stops watching sock, and the guard
void
    zkv_guard_destroy (zactor_t **guard_p, zsock_t *sock);

#endif
