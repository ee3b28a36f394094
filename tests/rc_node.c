/*  =========================================================================
    rc_node.c — a raft core on a simulated disk (see rc_node.h).
    =========================================================================
*/
#include "rc_node.h"
#include "zkv_grow.h"

#include <stdlib.h>
#include <string.h>

rc_node_t *
rc_node_new (uint64_t id, const uint64_t *voters, size_t voter_count,
             const zkv_rc_config_t *config, void *arg, rc_node_send_fn *send,
             rc_node_apply_fn *apply, rc_node_read_fn *read)
{
    rc_node_t *self = (rc_node_t *) calloc (1, sizeof (rc_node_t));
    self->id = id;
    self->config = *config;
    memcpy (self->voters, voters, voter_count * sizeof (uint64_t));
    self->config.voters = self->voters;
    self->config.voter_count = voter_count;
    self->config.id = id;
    for (size_t i = 0; i < voter_count && i < ZKV_RC_MAX_MEMBERS; i++)
        self->conf.voters [self->conf.voter_count++] = voters [i];
    self->send = send;
    self->apply = apply;
    self->read = read;
    self->arg = arg;
    rc_node_restart (self, config->seed);
    self->restarts = 0;
    return self;
}

static void
s_drop_log (rc_node_t *self, size_t from)
{
    for (size_t i = from; i < self->log_count; i++)
        free (self->log [i].data);
    if (from < self->log_count)
        self->log_count = from;
}

void
rc_node_destroy (rc_node_t **self_p)
{
    rc_node_t *self = *self_p;
    if (!self)
        return;
    zkv_rc_destroy (&self->core);
    s_drop_log (self, 0);
    free (self->log);
    free (self);
    *self_p = NULL;
}

const rc_node_entry_t *
rc_node_entry (rc_node_t *self, uint64_t index)
{
    if (self->log_count == 0 || index < self->log [0].index
    ||  index > self->log [self->log_count - 1].index)
        return NULL;
    return &self->log [index - self->log [0].index];
}

//  The write of a ready: entries (replacing from the first), hard state,
//  snapshot point
static void
s_write (rc_node_t *self, const zkv_rc_ready_t *ready)
{
    if (ready->snapshot_changed) {
        self->snapshot_index = ready->snapshot_index;
        self->snapshot_term = ready->snapshot_term;
        //  Keep the entries after it only if the core kept them
        size_t keep = 0;
        for (size_t i = 0; i < self->log_count; i++)
            if (self->log [i].index > ready->snapshot_index
            &&  zkv_rc_term_at (self->core, self->log [i].index) == self->log [i].term)
                self->log [keep++] = self->log [i];
            else
                free (self->log [i].data);
        self->log_count = keep;
    }
    if (ready->entry_count) {
        uint64_t first = ready->entries [0].index;
        size_t from = self->log_count;
        for (size_t i = 0; i < self->log_count; i++)
            if (self->log [i].index >= first) {
                from = i;
                break;
            }
        s_drop_log (self, from);
        for (size_t i = 0; i < ready->entry_count; i++) {
            if (zkv_grow ((void **) &self->log, &self->log_room, self->log_count + 1,
                          sizeof (rc_node_entry_t)))
                abort ();
            const zkv_entry_t *entry = &ready->entries [i];
            rc_node_entry_t *copy = &self->log [self->log_count++];
            copy->index = entry->index;
            copy->term = entry->term;
            copy->type = entry->type;
            copy->size = entry->data.size;
            copy->data = NULL;
            if (copy->size) {
                copy->data = malloc (copy->size);
                memcpy (copy->data, entry->data.data, copy->size);
            }
        }
    }
    if (ready->hard_state_changed)
        self->hard_state = ready->hard_state;
}

static void
s_process_one (rc_node_t *self, bool crash)
{
    zkv_rc_ready_t ready;
    zkv_rc_ready (self->core, &ready);
    self->readies++;
    uint64_t applied_before = self->applied;
    for (size_t i = 0; i < ready.message_count; i++)
        self->send (self->arg, self, &ready.messages [i]);
    if (crash) {
        rc_node_crash (self);
        return;
    }
    s_write (self, &ready);
    for (size_t i = 0; i < ready.message_after_count; i++)
        self->send (self->arg, self, &ready.messages_after [i]);
    for (size_t i = 0; i < ready.snapshot_to_count; i++)
        if (self->snapshot)
            self->snapshot (self->arg, self, ready.snapshot_to [i]);
    for (size_t i = 0; i < ready.committed_count; i++) {
        const zkv_entry_t *entry = &ready.committed [i];
        if (entry->index <= self->applied)
            continue;                   //  applied before a crash
        if (self->apply)
            self->apply (self->arg, self, entry);
        self->applied = entry->index;
        if (entry->type == ZKV_RC_ENTRY_CONF) {
            //  As storage keeps it: the same function as the core's
            zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
            size_t count;
            zkv_bin_t context;
            zkv_conf_state_t next;
            if (zkv_rc_conf_change_decode (entry->data, changes, &count, &context)
            &&  !zkv_rc_conf_apply (&self->conf, changes, count, &next))
                self->conf = next;
        }
    }
    for (size_t i = 0; i < ready.read_count; i++)
        if (self->read)
            self->read (self->arg, self, &ready.reads [i]);
    for (size_t i = 0; i < ready.dropped_count; i++)
        if (self->dropped)
            self->dropped (self->arg, self, &ready.dropped [i]);
    zkv_rc_advance (self->core);
    if (self->advanced)
        self->advanced (self->arg, self, applied_before);
}

void
rc_node_process (rc_node_t *self)
{
    for (int rounds = 0; self->core && zkv_rc_has_ready (self->core); rounds++) {
        if (rounds > 1000)
            abort ();                   //  a core that never settles is a bug
        s_process_one (self, false);
    }
}

void
rc_node_process_and_crash (rc_node_t *self)
{
    if (self->core && zkv_rc_has_ready (self->core))
        s_process_one (self, true);
    else
        rc_node_crash (self);
}

void
rc_node_crash (rc_node_t *self)
{
    zkv_rc_destroy (&self->core);
}

void
rc_node_restart (rc_node_t *self, uint64_t seed)
{
    zkv_rc_destroy (&self->core);
    zkv_entry_t *entries = calloc (self->log_count + 1, sizeof (zkv_entry_t));
    for (size_t i = 0; i < self->log_count; i++) {
        entries [i].index = self->log [i].index;
        entries [i].term = self->log [i].term;
        entries [i].type = self->log [i].type;
        entries [i].data = zkv_bin (self->log [i].data, self->log [i].size);
    }
    zkv_rc_restore_t restore = {
        self->hard_state, self->snapshot_index, self->snapshot_term, entries,
        self->log_count, self->applied, &self->conf
    };
    self->config.seed = seed;
    self->core = zkv_rc_new (&self->config, &restore);
    free (entries);
    self->restarts++;
}

void
rc_node_install_snapshot (rc_node_t *self, uint64_t index, uint64_t term,
                          const zkv_conf_state_t *conf)
{
    if (!self->core || index <= self->applied)
        return;                         //  storage refuses an older snapshot
    self->applied = index;
    self->conf = *conf;
    zkv_rc_restore_snapshot (self->core, index, term, conf);
    rc_node_process (self);
}

void
rc_node_compact (rc_node_t *self, uint64_t index)
{
    if (!self->core || index > self->applied)
        return;
    const rc_node_entry_t *entry = rc_node_entry (self, index);
    if (!entry)
        return;
    self->snapshot_index = index;
    self->snapshot_term = entry->term;
    size_t drop = (size_t) (index - self->log [0].index + 1);
    for (size_t i = 0; i < drop; i++)
        free (self->log [i].data);
    memmove (self->log, self->log + drop, (self->log_count - drop) * sizeof (rc_node_entry_t));
    self->log_count -= drop;
    zkv_rc_compact (self->core, index);
}

void
rc_message_copy (zkv_raft_message_t *copy, const zkv_raft_message_t *message)
{
    *copy = *message;
    copy->entries.items = NULL;
    if (message->entries.count) {
        copy->entries.items = calloc (message->entries.count, sizeof (zkv_entry_t));
        for (size_t i = 0; i < message->entries.count; i++) {
            copy->entries.items [i] = message->entries.items [i];
            size_t size = message->entries.items [i].data.size;
            uint8_t *data = NULL;
            if (size) {
                data = malloc (size);
                memcpy (data, message->entries.items [i].data.data, size);
            }
            copy->entries.items [i].data = zkv_bin (data, size);
        }
    }
}

void
rc_message_free (zkv_raft_message_t *message)
{
    for (size_t i = 0; i < message->entries.count; i++)
        free ((void *) message->entries.items [i].data.data);
    free (message->entries.items);
    message->entries.items = NULL;
    message->entries.count = 0;
}
