/*  =========================================================================
    rc_net.c — a synchronous network of raft cores (see rc_net.h).
    =========================================================================
*/
#include "rc_net.h"
#include "zkv_grow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_send (void *arg, rc_node_t *from, const zkv_raft_message_t *message)
{
    rc_net_t *self = (rc_net_t *) arg;
    (void) from;
    if (message->to < 1 || message->to > self->count)
        return;
    if (self->cut [message->from][message->to] || self->drop_type [message->type])
        return;
    if (zkv_grow ((void **) &self->queue, &self->queue_room, self->queue_count + 1,
                  sizeof (rc_net_message_t)))
        abort ();
    rc_message_copy (&self->queue [self->queue_count++].message, message);
}

static void
s_apply (void *arg, rc_node_t *node, const zkv_entry_t *entry)
{
    rc_net_t *self = (rc_net_t *) arg;
    size_t *count = &self->applied_count [node->id];
    if (*count < 512) {
        char *text = calloc (1, entry->data.size + 1);
        if (entry->data.size)       //  empty entries have no data pointer
            memcpy (text, entry->data.data, entry->data.size);
        self->applied [node->id][(*count)++] = text;
    }
}

static void
s_read (void *arg, rc_node_t *node, const zkv_rc_read_t *read)
{
    rc_net_t *self = (rc_net_t *) arg;
    if (self->read_count [node->id] < 64)
        self->reads [node->id][self->read_count [node->id]++] = *read;
}

static void
s_dropped (void *arg, rc_node_t *node, const zkv_rc_dropped_t *dropped)
{
    rc_net_t *self = (rc_net_t *) arg;
    if (self->dropped_count [node->id] < 64)
        self->dropped [node->id][self->dropped_count [node->id]++] = *dropped;
}

static void
s_snapshot (void *arg, rc_node_t *from, uint64_t to)
{
    rc_net_t *self = (rc_net_t *) arg;
    self->snapshots_asked++;
    if (!self->auto_snapshot)
        return;
    rc_node_t *target = rc_net_node (self, to);
    uint64_t index = from->applied;
    uint64_t term = zkv_rc_term_at (from->core, index);
    if (target && target->core && !self->cut [from->id][to]) {
        rc_node_install_snapshot (target, index, term, &from->conf);
        zkv_rc_report_snapshot (from->core, to, true);
    }
    else
        zkv_rc_report_snapshot (from->core, to, false);
}

rc_net_t *
rc_net_new (size_t count, const zkv_rc_config_t *config)
{
    return rc_net_new_joining (count, count, config);
}

rc_net_t *
rc_net_new_joining (size_t count, size_t voter_count, const zkv_rc_config_t *config)
{
    rc_net_t *self = calloc (1, sizeof (rc_net_t));
    uint64_t voters [RC_NET_MAX];
    for (size_t i = 0; i < voter_count; i++)
        voters [i] = i + 1;
    self->count = count;
    self->auto_snapshot = true;
    for (size_t i = 0; i < count; i++) {
        zkv_rc_config_t node_config = *config;
        node_config.seed = config->seed + i * 7919 + 1;
        self->nodes [i] = rc_node_new (i + 1, voters, i < voter_count? voter_count: 0,
                                       &node_config, self, s_send, s_apply, s_read);
        self->nodes [i]->dropped = s_dropped;
        self->nodes [i]->snapshot = s_snapshot;
    }
    return self;
}

void
rc_net_destroy (rc_net_t **self_p)
{
    rc_net_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        rc_node_destroy (&self->nodes [i]);
    for (size_t i = self->queue_head; i < self->queue_count; i++)
        rc_message_free (&self->queue [i].message);
    free (self->queue);
    for (size_t n = 0; n <= RC_NET_MAX; n++)
        for (size_t i = 0; i < self->applied_count [n]; i++)
            free (self->applied [n][i]);
    free (self);
    *self_p = NULL;
}

rc_node_t *
rc_net_node (rc_net_t *self, uint64_t id)
{
    return id >= 1 && id <= self->count? self->nodes [id - 1]: NULL;
}

static void
s_process_all (rc_net_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        rc_node_process (self->nodes [i]);
}

bool
rc_net_deliver_one (rc_net_t *self)
{
    s_process_all (self);
    if (self->queue_head == self->queue_count) {
        self->queue_head = self->queue_count = 0;
        return false;
    }
    zkv_raft_message_t message = self->queue [self->queue_head++].message;
    rc_node_t *target = rc_net_node (self, message.to);
    if (target && target->core && !self->cut [message.from][message.to])
        zkv_rc_step (target->core, &message);
    rc_message_free (&message);
    s_process_all (self);
    return true;
}

void
rc_net_stabilize (rc_net_t *self)
{
    for (int i = 0; i < 100000 && rc_net_deliver_one (self); i++)
        ;
}

void
rc_net_campaign (rc_net_t *self, uint64_t id)
{
    zkv_rc_campaign (rc_net_node (self, id)->core);
    rc_net_stabilize (self);
}

zkv_rc_status_t
rc_net_propose (rc_net_t *self, uint64_t id, const char *data)
{
    zkv_bin_t bin = zkv_bin (data, strlen (data));
    zkv_rc_status_t status = zkv_rc_propose (rc_net_node (self, id)->core, &bin, 1);
    rc_net_stabilize (self);
    return status;
}

void
rc_net_tick (rc_net_t *self, uint64_t id, int n)
{
    for (int i = 0; i < n; i++)
        zkv_rc_tick (rc_net_node (self, id)->core);
}

void
rc_net_isolate (rc_net_t *self, uint64_t id)
{
    for (size_t other = 1; other <= self->count; other++)
        if (other != id) {
            self->cut [id][other] = true;
            self->cut [other][id] = true;
        }
}

void
rc_net_cut (rc_net_t *self, uint64_t a, uint64_t b)
{
    self->cut [a][b] = self->cut [b][a] = true;
}

void
rc_net_recover (rc_net_t *self)
{
    memset (self->cut, 0, sizeof self->cut);
    memset (self->drop_type, 0, sizeof self->drop_type);
}

uint64_t
rc_net_leader (rc_net_t *self)
{
    uint64_t leader = 0;
    for (size_t i = 0; i < self->count; i++) {
        rc_node_t *node = self->nodes [i];
        if (node->core && zkv_rc_role (node->core) == ZKV_RC_LEADER) {
            if (leader)
                return 0;
            leader = node->id;
        }
    }
    return leader;
}
