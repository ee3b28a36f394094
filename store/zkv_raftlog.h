/*  =========================================================================
    zkv_raftlog.h — the raft log and hard state of a member, in the
    `raft_log` family.

    Entries are stored under 'e' + be64 (index) as encoded `entry` messages;
    the hard state (term, vote, commit) under 'h'; the point the log was
    compacted to (a snapshot's index and term) under 's'; 'r' while a
    snapshot storage installed is not recorded here (zkv_engine.h,
    ZKV_ENGINE_REPLACED_KEY). Appends are synced
    writes: nothing that depends on an entry may leave the member before
    zkv_raftlog_append has returned. An append at index i replaces every
    entry from i on (raft's implicit truncation). A failed write is
    returned to the caller, who must stop the member (never retry fsync).
    =========================================================================
*/
#ifndef ZKV_RAFTLOG_H_INCLUDED
#define ZKV_RAFTLOG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "zkv_engine.h"
#include "zkv_msgs.h"
#include "zkv_rc_state.h"               //  the hard state: the core defines it

typedef struct zkv_raftlog_s zkv_raftlog_t;

//  Loads the bounds of the log and the hard state, reading three records
zkv_raftlog_t *
    zkv_raftlog_new (zkv_engine_t *engine, char **error);

void
    zkv_raftlog_destroy (zkv_raftlog_t **self_p);

//  Index and term the log was compacted to (0, 0 when never)
uint64_t
    zkv_raftlog_snapshot_index (zkv_raftlog_t *self);
uint64_t
    zkv_raftlog_snapshot_term (zkv_raftlog_t *self);

//  Forgets the entries up to index (applied everywhere it matters), whose
//  term is term. Returns 0 or -1 with *error.
int
    zkv_raftlog_compact (zkv_raftlog_t *self, uint64_t index, uint64_t term, char **error);

//  A snapshot at (index, term) replaced the state: forgets every entry and
//  restarts the log after it, synced. Returns 0 or -1 with *error.
int
    zkv_raftlog_install (zkv_raftlog_t *self, uint64_t index, uint64_t term, char **error);

//  Forgets that a replacement of families was not recorded
//  (ZKV_ENGINE_REPLACED_KEY), when there is nothing to record: the state
//  is not ahead of the log. Returns 0 or -1 with *error.
int
    zkv_raftlog_settle_replace (zkv_raftlog_t *self, char **error);

//  Index of the first stored entry (last + 1 when empty)
uint64_t
    zkv_raftlog_first_index (zkv_raftlog_t *self);

//  Index and term of the last stored entry (0, 0 when empty)
uint64_t
    zkv_raftlog_last_index (zkv_raftlog_t *self);
uint64_t
    zkv_raftlog_last_term (zkv_raftlog_t *self);

zkv_hard_state_t
    zkv_raftlog_hard_state (zkv_raftlog_t *self);

//  Appends count entries (consecutive indexes, the first at most last + 1)
//  and the hard state (when not NULL) in one write, synced when sync.
//  Returns 0 or -1 with *error.
int
    zkv_raftlog_append (zkv_raftlog_t *self, const zkv_entry_t *entries, size_t count,
                        const zkv_hard_state_t *hard_state, bool sync, char **error);

//  Reads entries [lo, hi) into a list allocated from zone (their data
//  points into zone). Returns 0, or -1 with *error (also when some index is
//  not stored).
int
    zkv_raftlog_entries (zkv_raftlog_t *self, uint64_t lo, uint64_t hi, msgpack_zone *zone,
                         zkv_entry_list_t *entries, char **error);

#endif
