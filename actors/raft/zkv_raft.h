/*  =========================================================================
    zkv_raft.h — the raft actor: the replicated log of a member.

    In this first version the cluster has one member, so the log is local:
    the actor is always the leader, and an entry is committed as soon as it
    is durable. It batches every proposal waiting in its inbox into one
    synced RocksDB write (group commit: one fsync serves many clients),
    then hands the entries to storage as committed, followed by the reads
    that asked for a read index meanwhile. At start it takes a new term,
    appends the leader's empty entry, and replays to storage the committed
    entries storage has not applied yet. Consensus among several members
    replaces the inside of this actor, not its messages.

    Pipe commands:
      START applied   loads the log; replays entries after applied; replies
                      "OK" or an error text
      $TERM           stops
    Inbox (PULL, bound at args->inbox): propose, read_index.
    =========================================================================
*/
#ifndef ZKV_RAFT_H_INCLUDED
#define ZKV_RAFT_H_INCLUDED

#include <czmq.h>

#include "zkv_engine.h"

typedef struct {
    zkv_engine_t *engine;               //  the member's database (shared)
    uint64_t member_id;
    const char *inbox;                  //  endpoint this actor binds (PULL)
    const char *storage;                //  storage's inbox
    const char *front;                  //  front's inbox
} zkv_raft_args_t;

void
    zkv_raft_actor (zsock_t *pipe, void *args);

#endif
