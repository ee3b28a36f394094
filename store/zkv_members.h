/*  =========================================================================
    zkv_members.h — the member table in the `members` family: member id
    (8 bytes, big-endian) -> an encoded cluster_member (msgs/); and in the
    `meta` family, written with the applied index: the raft configuration
    as of it ("conf", the core's encoding), and the members removed
    ("removed/" + id -> their last record): a removed id never returns.
    All of it is replicated state: it travels in snapshots.
    =========================================================================
*/
#ifndef ZKV_MEMBERS_H_INCLUDED
#define ZKV_MEMBERS_H_INCLUDED

#include "zkv_engine.h"
#include "zkv_msgs.h"
#include "zkv_rc_state.h"               //  the configuration: the core defines it

#define ZKV_META_CONF "conf"
#define ZKV_META_REMOVED "removed/"     //  + be64 id
#define ZKV_META_REMOVED_KEY (sizeof ZKV_META_REMOVED - 1 + 8)

//  Reads member id into a struct allocated from zone (its text points into
//  zone). Returns 1, 0 when absent, -1 with *error.
int
    zkv_members_get (zkv_engine_t *engine, uint64_t id, msgpack_zone *zone,
                     zkv_cluster_member_t **member, char **error);

//  Reads every member, in id order, into a list allocated from zone.
//  Returns 0, or -1 with *error.
int
    zkv_members_list (zkv_engine_t *engine, msgpack_zone *zone, zkv_cluster_member_list_t *list,
                      char **error);

//  The key and value of a member's record: key receives 8 bytes, the value
//  is a fresh buffer (free it)
uint8_t *
    zkv_members_record (const zkv_cluster_member_t *member, uint8_t key [8], size_t *size);

//  True for the meta records of the membership (the configuration, the
//  removed members): a restored cluster starts from its new membership
bool
    zkv_members_is_meta (const void *key, size_t size);

//  The configuration as of the applied index. Without one kept (a new
//  cluster, a restored snapshot, data from before membership changes)
//  every member of the table votes, or learns if it is a learner.
//  Returns 0, or -1 with *error.
int
    zkv_members_conf (zkv_engine_t *engine, zkv_conf_state_t *conf, char **error);

//  The meta key of removed member id (ZKV_META_REMOVED_KEY bytes)
void
    zkv_members_removed_key (uint64_t id, uint8_t key [ZKV_META_REMOVED_KEY]);

//  Reads every removed member's last record, as zkv_members_list
int
    zkv_members_removed_list (zkv_engine_t *engine, msgpack_zone *zone,
                              zkv_cluster_member_list_t *list, char **error);

#endif
