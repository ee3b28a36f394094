/*  =========================================================================
    zkv_zap.h — the ZAP handler of a member: who may connect.

    ZeroMQ asks the ZAP handler of the process (RFC 27, one REP socket
    bound at inproc://zeromq.zap.01) about every CURVE handshake on a
    socket with a ZAP domain. This actor is that handler, and runs
    whenever any socket of the member is CURVE: every socket with --cert,
    the peer socket alone with --peer-cert. It allows a client key on
    domain "client" (the client ROUTER and the events PUB) when it is in
    the client set, on domain "peer" (the peer ROUTER) when it is in the
    peer set, and nothing else (a set not given allows nobody); the reply's User-Id is the
    key, in Z85, which ZeroMQ then attaches to every message of that
    connection: front and the peer transport read it for their own checks
    (admin requests, peer frames). Refusals are logged (the first ones,
    then one in a thousand).

    Why not CZMQ's zauth: it checks every domain against one set of keys
    (a client key would pass the peer socket's handshake), and it stops at
    SIGINT/SIGTERM (its poller is not nonstop), after which libzmq 4.3
    lets every CURVE client in without asking anybody
    (ZMQ_ZAP_ENFORCE_DOMAIN is a draft option), while the member is still
    stopping. This one stops when main destroys it, after front and raft.

    Pipe commands:
      START   binds the handler; replies "OK" or an error text
      $TERM   stops
    =========================================================================
*/
#ifndef ZKV_ZAP_H_INCLUDED
#define ZKV_ZAP_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

#define ZKV_ZAP_CLIENT "client"         //  domain of the client and events sockets
#define ZKV_ZAP_PEER "peer"             //  domain of the peer socket

//  Allows client_keys on "client", peer_keys on "peer" (copied at START;
//  NULL: none)
typedef struct {
    ZKV_WIRING;
} zkv_zap_args_t;

void
    zkv_zap_actor (zsock_t *pipe, void *args);

#endif
