/*  =========================================================================
    zkv_rc_log.c — the raft core's log: an array of entries after a
    snapshot point, with the commit, applied and durable (stable) marks.
    =========================================================================
*/
#include "zkv_rc_private.h"

#include <stdlib.h>
#include <string.h>

rc_data_t *
rc_data_new (const void *bytes, size_t size)
{
    if (size == 0)
        return NULL;
    rc_data_t *data = (rc_data_t *) malloc (sizeof (rc_data_t) + size);
    if (!data)
        abort ();                       //  out of memory: nothing sane to do
    data->refs = 1;
    data->size = size;
    memcpy (data->bytes, bytes, size);
    return data;
}

rc_data_t *
rc_data_ref (rc_data_t *data)
{
    if (data)
        data->refs++;
    return data;
}

void
rc_data_unref (rc_data_t **data_p)
{
    rc_data_t *data = *data_p;
    if (data && --data->refs == 0)
        free (data);
    *data_p = NULL;
}

void
rc_log_init (rc_log_t *log, uint64_t snapshot_index, uint64_t snapshot_term)
{
    memset (log, 0, sizeof *log);
    log->snapshot_index = snapshot_index;
    log->snapshot_term = snapshot_term;
    log->offset = snapshot_index + 1;
    log->committed = snapshot_index;
    log->applied = snapshot_index;
    log->stable = snapshot_index;
}

void
rc_log_destroy (rc_log_t *log)
{
    for (size_t i = 0; i < log->count; i++)
        rc_data_unref (&log->entries [i].data);
    free (log->entries);
    memset (log, 0, sizeof *log);
}

uint64_t
rc_log_first_index (const rc_log_t *log)
{
    return log->offset;
}

uint64_t
rc_log_last_index (const rc_log_t *log)
{
    return log->offset + log->count - 1;
}

uint64_t
rc_log_term (const rc_log_t *log, uint64_t index)
{
    if (index == log->snapshot_index)
        return log->snapshot_term;
    if (index < log->offset || index > rc_log_last_index (log))
        return 0;
    return log->entries [index - log->offset].term;
}

uint64_t
rc_log_last_term (const rc_log_t *log)
{
    return rc_log_term (log, rc_log_last_index (log));
}

rc_entry_t *
rc_log_entry (rc_log_t *log, uint64_t index)
{
    if (index < log->offset || index > rc_log_last_index (log))
        return NULL;
    return &log->entries [index - log->offset];
}

bool
rc_log_match (const rc_log_t *log, uint64_t index, uint64_t term)
{
    if (index < log->snapshot_index || index > rc_log_last_index (log))
        return false;
    return rc_log_term (log, index) == term;
}

bool
rc_log_up_to_date (const rc_log_t *log, uint64_t last_index, uint64_t last_term)
{
    uint64_t our_term = rc_log_last_term (log);
    return last_term > our_term
        || (last_term == our_term && last_index >= rc_log_last_index (log));
}

void
rc_log_push (rc_log_t *log, uint64_t index, uint64_t term, uint64_t type, rc_data_t *data)
{
    if (index != rc_log_last_index (log) + 1)
        abort ();                       //  a programming error in the core
    if (zkv_grow ((void **) &log->entries, &log->room, log->count + 1, sizeof (rc_entry_t)))
        abort ();                       //  out of memory in a pure core
    rc_entry_t *entry = &log->entries [log->count++];
    entry->index = index;
    entry->term = term;
    entry->type = type;
    entry->data = rc_data_ref (data);
}

void
rc_log_truncate (rc_log_t *log, uint64_t index)
{
    if (index <= log->committed)
        abort ();                       //  committed entries never change
    while (log->count && rc_log_last_index (log) >= index) {
        rc_entry_t *entry = &log->entries [--log->count];
        rc_data_unref (&entry->data);
    }
    if (log->stable >= index)
        log->stable = index - 1;        //  the replacements are not durable yet
}

uint64_t
rc_log_find_conflict_by_term (const rc_log_t *log, uint64_t index, uint64_t term)
{
    if (index > rc_log_last_index (log))
        index = rc_log_last_index (log);
    while (index > log->snapshot_index) {
        if (rc_log_term (log, index) <= term)
            break;
        index--;
    }
    return index;
}

bool
rc_log_maybe_append (rc_log_t *log, uint64_t index, uint64_t log_term, uint64_t committed,
                     const zkv_entry_list_t *entries, uint64_t *last_new_p)
{
    if (!rc_log_match (log, index, log_term))
        return false;
    uint64_t last_new = index + entries->count;
    //  Skip what we have already; truncate at the first conflict only (a
    //  stale or duplicate append must never cut a log short)
    size_t i = 0;
    for (; i < entries->count; i++) {
        const zkv_entry_t *entry = &entries->items [i];
        if (entry->index <= log->snapshot_index)
            continue;                   //  compacted: matched by the snapshot
        if (entry->index > rc_log_last_index (log))
            break;
        if (rc_log_term (log, entry->index) != entry->term) {
            if (entry->index <= log->committed)
                return false;           //  contradicts what is committed: refused
            rc_log_truncate (log, entry->index);
            break;
        }
    }
    for (; i < entries->count; i++) {
        const zkv_entry_t *entry = &entries->items [i];
        rc_data_t *data = rc_data_new (entry->data.data, entry->data.size);
        rc_log_push (log, entry->index, entry->term, entry->type, data);
        rc_data_unref (&data);
    }
    //  A follower commits only what it verified matches the leader's log
    uint64_t commit = committed < last_new? committed: last_new;
    rc_log_commit_to (log, commit);
    *last_new_p = last_new;
    return true;
}

bool
rc_log_commit_to (rc_log_t *log, uint64_t index)
{
    if (index > rc_log_last_index (log))
        index = rc_log_last_index (log);
    if (index <= log->committed)
        return false;
    log->committed = index;
    return true;
}

void
rc_log_compact (rc_log_t *log, uint64_t index)
{
    if (index <= log->snapshot_index)
        return;
    if (index > log->applied || index > log->stable)
        return;                         //  only what is applied and durable
    uint64_t term = rc_log_term (log, index);
    size_t drop = (size_t) (index - log->offset + 1);
    for (size_t i = 0; i < drop; i++)
        rc_data_unref (&log->entries [i].data);
    memmove (log->entries, log->entries + drop, (log->count - drop) * sizeof (rc_entry_t));
    log->count -= drop;
    log->offset = index + 1;
    log->snapshot_index = index;
    log->snapshot_term = term;
}

bool
rc_log_restore (rc_log_t *log, uint64_t index, uint64_t term)
{
    if (rc_log_match (log, index, term)) {
        //  We have the snapshot's entry: keep what follows, commit to it
        rc_log_commit_to (log, index);
        if (log->applied < index)
            log->applied = index;       //  storage holds that state now
        return false;
    }
    for (size_t i = 0; i < log->count; i++)
        rc_data_unref (&log->entries [i].data);
    log->count = 0;
    log->offset = index + 1;
    log->snapshot_index = index;
    log->snapshot_term = term;
    log->committed = index;
    log->applied = index;
    log->stable = index;
    return true;
}
