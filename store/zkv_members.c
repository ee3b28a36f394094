/*  zkv_members.c — the member table (see zkv_members.h). */
#include "zkv_members.h"
#include "zkv_keys.h"

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

int
zkv_members_list (zkv_engine_t *engine, msgpack_zone *zone, zkv_cluster_member_list_t *list,
                  char **error)
{
    memset (list, 0, sizeof *list);
    size_t room = 0;
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_MEMBERS, NULL);
    int rc = 0;
    zkv_cluster_member_t *items = NULL;
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it) && rc == 0;
         rocksdb_iter_next (it)) {
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

uint8_t *
zkv_members_record (const zkv_cluster_member_t *member, uint8_t key [8], size_t *size)
{
    zkv_be64_put (key, member->member_id);
    return zkv_msg_encode_body (&zkv_cluster_member_desc, member, size);
}
