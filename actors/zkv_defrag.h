/*  =========================================================================
    zkv_defrag.h — the defrag actor: Defragment, online.

    etcd copies its whole database into a new file while the member serves
    nothing (etcd 3.4's mvcc/backend/backend.go, defrag). zkv flushes the memtables and
    compacts every column family with RocksDB's manual compaction, the
    bottommost level forced, on this actor's thread: RocksDB goes on
    taking writes and serving reads meanwhile, and the automatic
    compactions keep running, so the member never stops. Local to the
    member, never replicated.

    It first checks that the disk holds what it will write before it drops
    what it rewrote (zkv_engine_defrag_need, against the room zkv_space.h
    measures, the reserve not counted as owed), and refuses with `zkv: not
    enough free disk` when it does not: a defragmentation that met a full
    disk would stop the member.

    The answer tells the sizes before and after (zkv_engine_sizes) and how
    long it took; so does the `defrag` event it has front publish. Requests that arrive while one runs wait for it and get
    its answer: one defragmentation serves them all.

    Pipe commands:
      START       binds; replies "OK" or an error text
      $TERM       stops (after the defragmentation under way, if any)
    Inbox (PULL, bound at args->defrag): defrag_order from front; answers
    go to front.
    =========================================================================
*/
#ifndef ZKV_DEFRAG_H_INCLUDED
#define ZKV_DEFRAG_H_INCLUDED

#include <czmq.h>

#include "zkv_wiring.h"

typedef struct {
    ZKV_WIRING;                         //  binds defrag; front
} zkv_defrag_args_t;

void
    zkv_defrag_actor (zsock_t *pipe, void *args);

#endif
