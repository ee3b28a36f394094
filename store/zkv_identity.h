/*  =========================================================================
    zkv_identity.h — the stable 64-bit ids of a member and of its cluster.

    Both are derived once, from the first start's settings, with SHA-256
    (libsodium): member id from the cluster token and the member's name,
    cluster id from the token and the member ids. They are then kept in
    the `raft_log` family (the member's own, never replicated), so a member
    keeps its ids whatever later flags say.
    Printed in hex, like etcd's.
    =========================================================================
*/
#ifndef ZKV_IDENTITY_H_INCLUDED
#define ZKV_IDENTITY_H_INCLUDED

#include <stdint.h>

#include "zkv_engine.h"

//  The member id the settings give (never 0)
uint64_t
    zkv_identity_member_id (const char *token, const char *name);

//  The cluster id of a cluster of these members (never 0)
uint64_t
    zkv_identity_cluster_id (const char *token, const uint64_t *members, size_t count);

//  The id of a member added to a running cluster, from its peer endpoint,
//  the cluster and the time (etcd's habit: two adds of one endpoint give
//  two ids; never 0)
uint64_t
    zkv_identity_added_member_id (uint64_t cluster_id, const char *peer_endpoint,
                                  uint64_t unix_usecs);

//  Reads the ids kept in engine, or keeps the given ones on first start.
//  Returns 0, or -1 with *error.
int
    zkv_identity_load (zkv_engine_t *engine, uint64_t new_member_id, uint64_t new_cluster_id,
                       uint64_t *member_id, uint64_t *cluster_id, char **error);

#endif
