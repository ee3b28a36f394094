/*  zkv_membership.c — membership changes on the member table (see
    zkv_membership.h). */
#include "zkv_membership.h"
#include "zkv_keys.h"
#include "zkv_members.h"

#include <stdlib.h>
#include <string.h>

static void
s_put_record (zkv_mvcc_t *mvcc, const zkv_cluster_member_t *member)
{
    uint8_t key [8];
    size_t size;
    uint8_t *bytes = zkv_members_record (member, key, &size);
    if (!bytes)
        abort ();                       //  out of memory while applying
    zkv_mvcc_put_raw (mvcc, ZKV_CF_MEMBERS, key, 8, bytes, size);
    free (bytes);
}

//  The record of id, or NULL (status set) when there is none
static zkv_cluster_member_t *
s_record (zkv_engine_t *engine, uint64_t id, msgpack_zone *zone, zkv_result_t *status)
{
    zkv_cluster_member_t *member = NULL;
    char *error = NULL;
    int found = zkv_members_get (engine, id, zone, &member, &error);
    if (found < 0)
        zkv_status_set (status, ZKV_ERR_INTERNAL, "cannot read the member table: %s", error);
    else
    if (found == 0)
        zkv_status_set (status, ZKV_ERR_MEMBER_NOT_FOUND, NULL);
    free (error);
    return found == 1? member: NULL;
}

static zkv_internal_request_t *
s_decode (zkv_bin_t context, msgpack_zone *zone)
{
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    return (zkv_internal_request_t *) zkv_msg_decode_body (
        context.data, context.size, &zkv_internal_request_desc, zone, &limits, &status);
}

int
zkv_membership_apply (zkv_mvcc_t *mvcc, zkv_engine_t *engine, zkv_conf_state_t *conf,
                      zkv_bin_t data, msgpack_zone *zone,
                      zkv_internal_request_t **request, zkv_membership_done_t *done,
                      zkv_result_t *status)
{
    memset (done, 0, sizeof *done);
    *request = NULL;
    zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
    size_t count;
    zkv_bin_t context;
    zkv_conf_state_t next;
    if (!zkv_rc_conf_change_decode (data, changes, &count, &context)) {
        zkv_status_set (status, ZKV_ERR_INTERNAL, "a configuration entry that does not decode");
        return -1;
    }
    if (context.size && !(*request = s_decode (context, zone))) {
        zkv_status_set (status, ZKV_ERR_INTERNAL, "a configuration entry without its request");
        return -1;
    }
    const char *why = zkv_rc_conf_apply (conf, changes, count, &next);
    if (why) {
        zkv_status_set (status, ZKV_ERR_CONF_PENDING, "%s", why);
        return -1;
    }
    const zkv_internal_request_t *asked = *request;
    for (size_t i = 0; i < count; i++) {
        uint64_t id = changes [i].id;
        zkv_result_t none;
        zkv_cluster_member_t *record = s_record (engine, id, zone, &none);
        if (changes [i].kind == ZKV_RC_REMOVE) {
            uint8_t key [8], removed [ZKV_META_REMOVED_KEY];
            zkv_be64_put (key, id);
            zkv_mvcc_delete_raw (mvcc, ZKV_CF_MEMBERS, key, 8);
            zkv_cluster_member_t gone = { .member_id = id };
            const zkv_cluster_member_t *last = record? record: &gone;
            size_t size;
            uint8_t *bytes = zkv_msg_encode_body (&zkv_cluster_member_desc, last, &size);
            if (!bytes)
                abort ();
            zkv_members_removed_key (id, removed);
            zkv_mvcc_put_raw (mvcc, ZKV_CF_META, removed, sizeof removed, bytes, size);
            free (bytes);
            if (asked && asked->member_promote)
                done->replaced = id;
            else {
                done->change = "removed";
                done->member_id = id;
                done->peer_endpoint = last->peer_endpoint;
            }
            continue;
        }
        bool learner = changes [i].kind == ZKV_RC_ADD_LEARNER;
        if (record) {
            //  A learner made a voter
            record->is_learner = learner;
            record->auto_promote = false;
            s_put_record (mvcc, record);
            done->change = "promoted";
        }
        else {
            //  A newcomer: its record as the leader decided it, unstarted
            zkv_cluster_member_t *given = asked? asked->member: NULL;
            record = (zkv_cluster_member_t *) msgpack_zone_malloc (zone, sizeof *record);
            if (!record)
                abort ();
            memset (record, 0, sizeof *record);
            record->member_id = id;
            if (given && given->member_id == id) {
                record->peer_endpoint = given->peer_endpoint;
                record->auto_promote = given->auto_promote && learner;
            }
            record->is_learner = learner;
            s_put_record (mvcc, record);
            done->change = "added";
            done->member = record;
        }
        done->member_id = id;
        done->peer_endpoint = record->peer_endpoint;
    }
    if (done->replaced && done->change)
        done->change = "replaced";
    uint8_t bytes [ZKV_RC_CONF_BYTES];
    size_t size = zkv_rc_conf_encode (&next, bytes);
    zkv_mvcc_put_raw (mvcc, ZKV_CF_META, ZKV_META_CONF, strlen (ZKV_META_CONF), bytes, size);
    *conf = next;
    return 0;
}

int
zkv_membership_update (zkv_mvcc_t *mvcc, zkv_engine_t *engine,
                       const zkv_member_update_t *update, msgpack_zone *zone,
                       zkv_membership_done_t *done, zkv_result_t *status)
{
    memset (done, 0, sizeof *done);
    zkv_cluster_member_t *record = s_record (engine, update->member_id, zone, status);
    if (!record)
        return -1;
    record->peer_endpoint = update->peer_endpoint;
    s_put_record (mvcc, record);
    done->change = "updated";
    done->member_id = update->member_id;
    done->peer_endpoint = update->peer_endpoint;
    return 0;
}
