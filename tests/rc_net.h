/*  =========================================================================
    rc_net.h — a synchronous network of raft cores for unit tests, in the
    manner of etcd's newNetwork: messages are queued and delivered in
    order by rc_net_stabilize, links can be cut, message types dropped.
    =========================================================================
*/
#ifndef RC_NET_H_INCLUDED
#define RC_NET_H_INCLUDED

#include "rc_node.h"

#define RC_NET_MAX 8

typedef struct {
    zkv_raft_message_t message;         //  owns its entries and their data
} rc_net_message_t;

typedef struct {
    rc_node_t *nodes [RC_NET_MAX];      //  ids 1 .. count
    size_t count;
    bool cut [RC_NET_MAX + 1][RC_NET_MAX + 1];  //  from, to
    bool drop_type [ZKV_RC_MSG_TYPES];
    rc_net_message_t *queue;
    size_t queue_count;
    size_t queue_room;
    size_t queue_head;
    //  What each node applied, in order (data as strings; "" for empty)
    char *applied [RC_NET_MAX + 1][512];
    size_t applied_count [RC_NET_MAX + 1];
    zkv_rc_read_t reads [RC_NET_MAX + 1][64];
    size_t read_count [RC_NET_MAX + 1];
    zkv_rc_dropped_t dropped [RC_NET_MAX + 1][64];
    size_t dropped_count [RC_NET_MAX + 1];
    size_t snapshots_asked;             //  snapshot requests seen
    bool auto_snapshot;                 //  deliver snapshots at once
} rc_net_t;

//  count nodes with ids 1..count; config's id, voters and seed are set
rc_net_t *
    rc_net_new (size_t count, const zkv_rc_config_t *config);

//  count nodes of which ids 1..voters form the cluster, and the others
//  are members yet to join it (no configuration until a snapshot)
rc_net_t *
    rc_net_new_joining (size_t count, size_t voters, const zkv_rc_config_t *config);

void
    rc_net_destroy (rc_net_t **self_p);

rc_node_t *
    rc_net_node (rc_net_t *self, uint64_t id);

//  Processes readies and delivers messages until nothing moves
void
    rc_net_stabilize (rc_net_t *self);

//  Delivers at most one queued message (after processing readies);
//  returns false when none was queued
bool
    rc_net_deliver_one (rc_net_t *self);

//  Campaign on node id and stabilize
void
    rc_net_campaign (rc_net_t *self, uint64_t id);

//  Propose a string on node id and stabilize; returns the core's status
zkv_rc_status_t
    rc_net_propose (rc_net_t *self, uint64_t id, const char *data);

//  Ticks node id n times (without stabilizing)
void
    rc_net_tick (rc_net_t *self, uint64_t id, int n);

void
    rc_net_isolate (rc_net_t *self, uint64_t id);
void
    rc_net_cut (rc_net_t *self, uint64_t a, uint64_t b);
void
    rc_net_recover (rc_net_t *self);

//  The leader's id if exactly one node leads, else 0
uint64_t
    rc_net_leader (rc_net_t *self);

#endif
