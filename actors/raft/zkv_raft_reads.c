/*  =========================================================================
    zkv_raft_reads.c — the raft actor's linearizable reads: the reads of a
    burst share one read token; once a quorum confirmed it, storage serves
    them at the read index (see zkv_raft_private.h).
    =========================================================================
*/
#include "zkv_raft_private.h"

#include <stdlib.h>
#include <string.h>

void
zkv_raft_reads_destroy (s_reads_t **reads_p)
{
    s_reads_t *reads = *reads_p;
    if (!reads)
        return;
    for (size_t i = 0; i < reads->count; i++)
        free ((void *) reads->requests [i].data);
    free (reads->requests);
    free (reads->waits);
    free (reads);
    *reads_p = NULL;
}

void
zkv_raft_reads_item_destroy (void **item_p)
{
    zkv_raft_reads_destroy ((s_reads_t **) item_p);
}

void
zkv_raft_read_add (self_t *self, uint64_t wait, zkv_bin_t request)
{
    if (!self->reads) {
        self->reads = (s_reads_t *) zmalloc (sizeof (s_reads_t));
        self->reads->context = ++self->next_read_context;
        self->reads->created = zclock_mono ();
    }
    s_reads_t *reads = self->reads;
    size_t room = reads->room;          //  twin arrays: the first grows with a copy
    if (zkv_grow ((void **) &reads->waits, &room, reads->count + 1, sizeof (uint64_t))
    ||  zkv_grow ((void **) &reads->requests, &reads->room, reads->count + 1,
                  sizeof (zkv_bin_t)))
        zkv_fatal ("out of memory");
    uint8_t *copy = (uint8_t *) malloc (request.size? request.size: 1);
    if (!copy)
        zkv_fatal ("out of memory");
    memcpy (copy, request.data, request.size);
    reads->waits [reads->count] = wait;
    reads->requests [reads->count] = zkv_bin (copy, request.size);
    reads->count++;
}

//  Asks the core for one read index for every read of the burst
void
zkv_raft_flush_reads (self_t *self)
{
    s_reads_t *reads = self->reads;
    if (!reads)
        return;
    self->reads = NULL;
    if (zkv_rc_read_index (self->core, reads->context) != ZKV_RC_OK) {
        for (size_t i = 0; i < reads->count; i++)
            zkv_raft_refuse (self, reads->waits [i], ZKV_ERR_NO_LEADER, 0);
        zkv_raft_reads_destroy (&reads);
        return;
    }
    zlistx_add_end (self->pending_reads, reads);
}

//  A quorum confirmed the read token: storage serves the reads at index
void
zkv_raft_read_confirmed (self_t *self, const zkv_rc_read_t *read)
{
    s_reads_t *reads = (s_reads_t *) zlistx_first (self->pending_reads);
    while (reads && reads->context != read->context)
        reads = (s_reads_t *) zlistx_next (self->pending_reads);
    if (!reads)
        return;                         //  timed out already
    for (size_t i = 0; i < reads->count; i++) {
        zkv_read_t message = {
            .wait = reads->waits [i], .index = read->index, .request = reads->requests [i]
        };
        zkv_io_send (self->storage, &zkv_read_desc, &message);
    }
    zlistx_delete (self->pending_reads, zlistx_cursor (self->pending_reads));
}

//  Reads whose confirmation never came (the leadership changed, a message
//  was lost) fail fast, so their clients can retry
void
zkv_raft_expire_reads (self_t *self)
{
    int64_t limit = 2 * (int64_t) self->args->election_timeout;
    s_reads_t *reads = (s_reads_t *) zlistx_first (self->pending_reads);
    while (reads && zclock_mono () - reads->created > limit) {
        for (size_t i = 0; i < reads->count; i++)
            zkv_raft_refuse (self, reads->waits [i], ZKV_ERR_LEADER_CHANGED, zkv_rc_leader (self->core));
        zlistx_delete (self->pending_reads, zlistx_cursor (self->pending_reads));
        reads = (s_reads_t *) zlistx_first (self->pending_reads);
    }
}

