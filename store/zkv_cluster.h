/*  =========================================================================
    zkv_cluster.h — the members of the cluster, from --initial-cluster at
    the first start, and from the `members` family after that.

    --initial-cluster "n1=tcp://10.0.0.1:12380,n2=tcp://10.0.0.2:12380" names
    every voting member and its peer endpoint (etcd's flag). Member ids are
    derived from the cluster token and the names, the cluster id from the
    token and the ids (zkv_identity.h). At the first start the table goes
    into the `members` family, replicated state from then on; later starts
    read it back and ignore the flag, as etcd does.
    =========================================================================
*/
#ifndef ZKV_CLUSTER_H_INCLUDED
#define ZKV_CLUSTER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_engine.h"

#define ZKV_CLUSTER_MAX 16              //  members at most

typedef struct {
    uint64_t id;
    char name [128];
    char peer_endpoint [256];
} zkv_member_t;

typedef struct {
    zkv_member_t members [ZKV_CLUSTER_MAX];
    size_t count;
    uint64_t self;                      //  this member's id
    uint64_t cluster_id;
} zkv_cluster_t;

//  Parses an --initial-cluster value. Returns 0, or -1 with a message.
int
    zkv_cluster_parse (const char *initial_cluster, const char *token, zkv_cluster_t *cluster,
                       char *error, size_t error_size);

//  Loads the cluster of engine's data: the `members` family and the ids
//  kept by zkv_identity, or on the first start, the parsed initial
//  cluster, which it records. name must be one of its members.
int
    zkv_cluster_load (zkv_engine_t *engine, const char *name, const char *token,
                      const zkv_cluster_t *initial, zkv_cluster_t *cluster,
                      char *error, size_t error_size);

//  The member named name (NULL if none)
const zkv_member_t *
    zkv_cluster_find (const zkv_cluster_t *cluster, const char *name);

#endif
