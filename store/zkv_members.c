/*  zkv_members.c — the member table (see zkv_members.h). */
#include "zkv_members.h"
#include "zkv_keys.h"
#include "zkv_rc.h"                     //  the configuration's encoding

#include <stdlib.h>
#include <string.h>

static zkv_cluster_member_t *
s_decode (const void *value, size_t size, msgpack_zone *zone, char **error)
{
    //  The bytes must outlive the struct: keep them in the zone
    void *copy = msgpack_zone_malloc (zone, size? size: 1);
    if (!copy) {
        *error = strdup ("out of memory");
        return NULL;
    }
    memcpy (copy, value, size);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_cluster_member_t *member = (zkv_cluster_member_t *) zkv_msg_decode_body (
        copy, size, &zkv_cluster_member_desc, zone, &limits, &status);
    if (!member)
        *error = strdup ("corrupt member record");
    return member;
}

int
zkv_members_get (zkv_engine_t *engine, uint64_t id, msgpack_zone *zone,
                 zkv_cluster_member_t **member, char **error)
{
    uint8_t key [8];
    zkv_be64_put (key, id);
    char *value;
    size_t size;
    int found = zkv_engine_get (engine, ZKV_CF_MEMBERS, key, 8, &value, &size, error);
    if (found <= 0)
        return found;
    *member = s_decode (value, size, zone, error);
    free (value);
    return *member? 1: -1;
}

//  Reads the records of family cf whose keys start with prefix
static int
s_list (zkv_engine_t *engine, zkv_cf_t cf, const char *prefix, msgpack_zone *zone,
        zkv_cluster_member_list_t *list, char **error)
{
    memset (list, 0, sizeof *list);
    size_t room = 0;
    size_t prefix_size = strlen (prefix);
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, cf, NULL);
    int rc = 0;
    zkv_cluster_member_t *items = NULL;
    for (rocksdb_iter_seek (it, prefix, prefix_size); rocksdb_iter_valid (it) && rc == 0;
         rocksdb_iter_next (it)) {
        size_t key_size;
        const char *key = rocksdb_iter_key (it, &key_size);
        if (key_size < prefix_size || memcmp (key, prefix, prefix_size) != 0)
            break;
        size_t size;
        const char *value = rocksdb_iter_value (it, &size);
        zkv_cluster_member_t *member = s_decode (value, size, zone, error);
        if (!member) {
            rc = -1;
            break;
        }
        if (list->count == room) {
            room = room? 2 * room: 8;
            zkv_cluster_member_t *grown = (zkv_cluster_member_t *) msgpack_zone_malloc (
                zone, room * sizeof (zkv_cluster_member_t));
            if (!grown) {
                *error = strdup ("out of memory");
                rc = -1;
                break;
            }
            if (list->count)
                memcpy (grown, items, list->count * sizeof (zkv_cluster_member_t));
            items = grown;
        }
        items [list->count++] = *member;
    }
    //  A family cut short by an error is no member list
    if (rc == 0 && zkv_engine_iter_error (engine, it, error))
        rc = -1;
    rocksdb_iter_destroy (it);
    list->items = items;
    return rc;
}

int
zkv_members_list (zkv_engine_t *engine, msgpack_zone *zone, zkv_cluster_member_list_t *list,
                  char **error)
{
    return s_list (engine, ZKV_CF_MEMBERS, "", zone, list, error);
}

int
zkv_members_removed_list (zkv_engine_t *engine, msgpack_zone *zone,
                          zkv_cluster_member_list_t *list, char **error)
{
    return s_list (engine, ZKV_CF_META, ZKV_META_REMOVED, zone, list, error);
}

bool
zkv_members_is_meta (const void *key, size_t size)
{
    size_t prefix = sizeof ZKV_META_REMOVED - 1;
    return (size == strlen (ZKV_META_CONF) && memcmp (key, ZKV_META_CONF, size) == 0)
        || (size == ZKV_META_REMOVED_KEY && memcmp (key, ZKV_META_REMOVED, prefix) == 0);
}

void
zkv_members_removed_key (uint64_t id, uint8_t key [ZKV_META_REMOVED_KEY])
{
    memcpy (key, ZKV_META_REMOVED, sizeof ZKV_META_REMOVED - 1);
    zkv_be64_put (key + sizeof ZKV_META_REMOVED - 1, id);
}

int
zkv_members_conf (zkv_engine_t *engine, zkv_conf_state_t *conf, char **error)
{
    memset (conf, 0, sizeof *conf);
    char *value;
    size_t size;
    int found = zkv_engine_get (engine, ZKV_CF_META, ZKV_META_CONF, strlen (ZKV_META_CONF),
                                &value, &size, error);
    if (found < 0)
        return -1;
    if (found) {
        bool good = zkv_rc_conf_decode ((const uint8_t *) value, size, conf);
        free (value);
        if (!good)
            *error = strdup ("corrupt raft configuration");
        return good? 0: -1;
    }
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_cluster_member_list_t members;
    int rc = zone? zkv_members_list (engine, zone, &members, error): -1;
    for (size_t i = 0; rc == 0 && i < members.count; i++) {
        const zkv_cluster_member_t *member = &members.items [i];
        if (conf->voter_count + conf->learner_count >= ZKV_RC_MAX_MEMBERS)
            break;
        if (member->is_learner)
            conf->learners [conf->learner_count++] = member->member_id;
        else
            conf->voters [conf->voter_count++] = member->member_id;
    }
    if (zone)
        msgpack_zone_free (zone);
    return rc;
}

uint8_t *
zkv_members_record (const zkv_cluster_member_t *member, uint8_t key [8], size_t *size)
{
    zkv_be64_put (key, member->member_id);
    return zkv_msg_encode_body (&zkv_cluster_member_desc, member, size);
}
