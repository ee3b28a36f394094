/*  =========================================================================
    zkv_join.h — a member joining an existing cluster.

    Started with --initial-cluster-state existing on an empty data
    directory, after `zkvctl member add` gave it its place, a member does
    not know its id nor the cluster's (both come from the cluster, as in
    etcd): it asks the members of --initial-cluster over their peer
    sockets, with its own peer endpoint, until one answers with the
    cluster id, its id and the member table. It keeps them, with an empty
    raft configuration: it takes part in nothing until the leader's
    snapshot gives it the state and the configuration.
    =========================================================================
*/
#ifndef ZKV_JOIN_H_INCLUDED
#define ZKV_JOIN_H_INCLUDED

#include <czmq.h>

#include "zkv_config.h"
#include "zkv_engine.h"

//  Joins, unless engine's data has a member table already (a restart).
//  peer_cert: the cluster's key when the peers are CURVE. Returns 0, or
//  -1 with a message in error.
int
    zkv_join (const zkv_config_t *config, zkv_engine_t *engine, zcert_t *peer_cert,
              char *error, size_t size);

#endif
