/*  =========================================================================
    zkv_wiring.h — what every actor of a member shares: who the member is,
    the inproc inboxes where the actors meet, and the handles main opened
    once (the database, the free-disk guard's settings, the CURVE keys).

    main builds one zkv_wiring_t; each actor's args struct takes it whole
    (ZKV_WIRING, first) and adds the actor's own settings after it. The
    fields read one by one (args->engine, args->raft) and set as one
    (.wiring = wiring): ZKV_WIRING is an anonymous union of the struct and
    the same fields unnamed, a common initial sequence (C11 6.5.2.3).
    =========================================================================
*/
#ifndef ZKV_WIRING_H_INCLUDED
#define ZKV_WIRING_H_INCLUDED

#include <czmq.h>

#include "zkv_engine.h"
#include "zkv_space.h"

//  inproc://zkv-<pid>-<actor> fits with room to spare
#define ZKV_INBOX_SIZE 64

#define ZKV_WIRING_FIELDS                                                               \
    zkv_engine_t *engine;               /*  the member's database (shared)              */ \
    const zkv_space_config_t *space;    /*  the free-disk guard's settings              */ \
    uint64_t member_id;                                                                 \
    uint64_t cluster_id;                                                                \
    const char *name;                   /*  this member's name                          */ \
    /*  The actors' inboxes (PULL): each binds its own, pushes to the others'           */ \
    char front [ZKV_INBOX_SIZE];                                                        \
    char raft [ZKV_INBOX_SIZE];                                                         \
    char storage [ZKV_INBOX_SIZE];                                                      \
    char hasher [ZKV_INBOX_SIZE];                                                       \
    char defrag [ZKV_INBOX_SIZE];                                                       \
    char snapshotter [ZKV_INBOX_SIZE];                                                  \
    char alarm [ZKV_INBOX_SIZE];                                                        \
    /*  CURVE: with --cert every socket (peer_cert is cert), with --peer-cert the       */ \
    /*  peer socket alone (cert and the client and admin keys NULL); else all NULL.     */ \
    /*  Read or copied at START.                                                        */ \
    zcert_t *cert;                      /*  the client and events sockets'              */ \
    zcert_t *peer_cert;                 /*  the peer socket's                           */ \
    zhashx_t *client_keys;              /*  keys allowed to talk (admins included)      */ \
    zhashx_t *peer_keys;                /*  keys of the peers allowed                   */ \
    zhashx_t *admin_keys;               /*  keys allowed admin requests                 */

typedef struct {
    ZKV_WIRING_FIELDS
} zkv_wiring_t;

//  The first member of an actor's args struct
#define ZKV_WIRING union { zkv_wiring_t wiring; struct { ZKV_WIRING_FIELDS }; }

#endif
