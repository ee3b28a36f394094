/*  =========================================================================
    zkv_members.h — the member table in the `members` family: member id
    (8 bytes, big-endian) -> an encoded cluster_member (msgs/).
    =========================================================================
*/
#ifndef ZKV_MEMBERS_H_INCLUDED
#define ZKV_MEMBERS_H_INCLUDED

#include "zkv_engine.h"
#include "zkv_msgs.h"

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

#endif
