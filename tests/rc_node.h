/*  =========================================================================
    rc_node.h — a raft core with a simulated disk, for tests and the
    simulator: what zkv_raft.c does with RocksDB, done in memory, with the
    durable state kept apart from the core so that a crash (destroying
    the core) loses exactly what was not yet written.
    =========================================================================
*/
#ifndef RC_NODE_H_INCLUDED
#define RC_NODE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "zkv_rc.h"

//  One durable log entry
typedef struct {
    uint64_t index;
    uint64_t term;
    uint64_t type;
    uint8_t *data;
    size_t size;
} rc_node_entry_t;

typedef struct rc_node_s rc_node_t;

//  Called for each message a node sends
typedef void (rc_node_send_fn) (void *arg, rc_node_t *from, const zkv_raft_message_t *message);
//  Called for each entry a node applies, and each read it may serve
typedef void (rc_node_apply_fn) (void *arg, rc_node_t *node, const zkv_entry_t *entry);
typedef void (rc_node_read_fn) (void *arg, rc_node_t *node, const zkv_rc_read_t *read);
//  Called when the leader node needs a snapshot sent to follower `to`
typedef void (rc_node_snapshot_fn) (void *arg, rc_node_t *from, uint64_t to);
//  Called with each forwarded proposal the leader refused
typedef void (rc_node_dropped_fn) (void *arg, rc_node_t *node, const zkv_rc_dropped_t *dropped);
//  Called after each ready is advanced, with the applied index before it
//  (an observer's view of what the core decided at that point)
typedef void (rc_node_advanced_fn) (void *arg, rc_node_t *node, uint64_t applied_before);

struct rc_node_s {
    uint64_t id;
    zkv_rc_t *core;                     //  NULL while crashed
    zkv_rc_config_t config;
    uint64_t voters [16];
    //  The disk: what survives a crash
    zkv_hard_state_t hard_state;
    rc_node_entry_t *log;               //  durable entries, in order
    size_t log_count;
    size_t log_room;
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    //  The state machine (kept across crashes, like storage's applied
    //  index in the same batch as the data), with the configuration as of
    //  applied, which it keeps as storage does
    uint64_t applied;
    zkv_conf_state_t conf;
    //  Callbacks
    rc_node_send_fn *send;
    rc_node_apply_fn *apply;
    rc_node_read_fn *read;
    rc_node_snapshot_fn *snapshot;      //  may be NULL
    rc_node_dropped_fn *dropped;        //  may be NULL
    rc_node_advanced_fn *advanced;      //  may be NULL
    void *arg;
    //  Number of readies processed, and restarts
    uint64_t readies;
    uint64_t restarts;
};

//  A node with a fresh disk: a member of a new cluster of voters, or with
//  voter_count 0, a member that joins an existing one (it starts with no
//  configuration, and learns it from a snapshot)
rc_node_t *
    rc_node_new (uint64_t id, const uint64_t *voters, size_t voter_count,
                 const zkv_rc_config_t *config, void *arg, rc_node_send_fn *send,
                 rc_node_apply_fn *apply, rc_node_read_fn *read);

void
    rc_node_destroy (rc_node_t **self_p);

//  Processes every ready the core has (send, write, send after, apply,
//  advance), until none is left
void
    rc_node_process (rc_node_t *self);

//  Processes one ready but dies in the middle of it: its messages went
//  out, its write did not happen (a crash before fsync returned)
void
    rc_node_process_and_crash (rc_node_t *self);

//  Crash: the core and everything not written is gone
void
    rc_node_crash (rc_node_t *self);

//  Restart from the disk, with a new seed for its timeouts
void
    rc_node_restart (rc_node_t *self, uint64_t seed);

//  Storage installed a snapshot of another member's state at (index, term),
//  whose configuration was conf
void
    rc_node_install_snapshot (rc_node_t *self, uint64_t index, uint64_t term,
                              const zkv_conf_state_t *conf);

//  Compacts the log (core and disk) up to index (<= applied)
void
    rc_node_compact (rc_node_t *self, uint64_t index);

//  The durable entry at index, or NULL
const rc_node_entry_t *
    rc_node_entry (rc_node_t *self, uint64_t index);

//  A deep copy of a message a core sent, for a network that holds it after
//  the core's ready is advanced; rc_message_free frees what it allocated
void
    rc_message_copy (zkv_raft_message_t *copy, const zkv_raft_message_t *message);
void
    rc_message_free (zkv_raft_message_t *message);

#endif
