/*  zkv_alarm_table.c — the alarm table and the space quota (see
    zkv_alarm_table.h). */
#include "zkv_alarm_table.h"
#include "zkv_check.h"
#include "zkv_grow.h"
#include "zkv_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zkv_alarm_table_s {
    zkv_alarm_member_t *items;          //  ordered by member, then type
    size_t count;
    size_t room;
    size_t by_type [ZKV_ALARM_CORRUPT + 1];
};

zkv_alarm_table_t *
zkv_alarm_table_new (void)
{
    zkv_alarm_table_t *self = (zkv_alarm_table_t *) calloc (1, sizeof (zkv_alarm_table_t));
    if (!self)
        abort ();
    return self;
}

void
zkv_alarm_table_destroy (zkv_alarm_table_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->items);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Where (member, type) is or would go (binary search: the table may be
//  large, since any client can raise an alarm)
static size_t
s_find (zkv_alarm_table_t *self, uint64_t member, uint64_t type, bool *found)
{
    size_t low = 0, high = self->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        const zkv_alarm_member_t *at = &self->items [middle];
        if (at->member_id < member || (at->member_id == member && at->alarm < type))
            low = middle + 1;
        else
            high = middle;
    }
    *found = low < self->count && self->items [low].member_id == member
          && self->items [low].alarm == type;
    return low;
}

bool
zkv_alarm_table_add (zkv_alarm_table_t *self, uint64_t member, uint64_t type)
{
    bool found;
    size_t at = s_find (self, member, type, &found);
    if (found)
        return false;
    if (zkv_grow ((void **) &self->items, &self->room, self->count + 1,
                  sizeof (zkv_alarm_member_t)))
        abort ();
    memmove (self->items + at + 1, self->items + at,
             (self->count - at) * sizeof (zkv_alarm_member_t));
    self->items [at] = (zkv_alarm_member_t) { .member_id = member, .alarm = type };
    self->count++;
    if (type <= ZKV_ALARM_CORRUPT)
        self->by_type [type]++;
    return true;
}

bool
zkv_alarm_table_remove (zkv_alarm_table_t *self, uint64_t member, uint64_t type)
{
    bool found;
    size_t at = s_find (self, member, type, &found);
    if (!found)
        return false;
    memmove (self->items + at, self->items + at + 1,
             (self->count - at - 1) * sizeof (zkv_alarm_member_t));
    self->count--;
    if (type <= ZKV_ALARM_CORRUPT)
        self->by_type [type]--;
    return true;
}

int
zkv_alarm_table_load (zkv_alarm_table_t *self, zkv_engine_t *engine, char **error)
{
    self->count = 0;
    memset (self->by_type, 0, sizeof self->by_type);
    rocksdb_iterator_t *it = zkv_engine_iterator (engine, ZKV_CF_ALARM, NULL);
    for (rocksdb_iter_seek_to_first (it); rocksdb_iter_valid (it); rocksdb_iter_next (it)) {
        size_t size;
        const uint8_t *key = (const uint8_t *) rocksdb_iter_key (it, &size);
        if (size != ZKV_ALARM_KEY_SIZE || key [8] > ZKV_ALARM_CORRUPT)
            continue;                   //  not one of ours: ignored
        //  The family is in key order, the table's: each goes last
        zkv_alarm_table_add (self, zkv_be64_get (key), key [8]);
    }
    char *err = NULL;
    zkv_engine_iter_error (engine, it, &err);
    rocksdb_iter_destroy (it);
    if (err) {
        *error = err;
        return -1;
    }
    return 0;
}

bool
zkv_alarm_table_any (zkv_alarm_table_t *self, uint64_t type)
{
    return type <= ZKV_ALARM_CORRUPT && self->by_type [type] > 0;
}

bool
zkv_alarm_table_has (zkv_alarm_table_t *self, uint64_t member, uint64_t type)
{
    bool found;
    s_find (self, member, type, &found);
    return found;
}

size_t
zkv_alarm_table_size (zkv_alarm_table_t *self)
{
    return self->count;
}

const zkv_alarm_member_t *
zkv_alarm_table_at (zkv_alarm_table_t *self, size_t index)
{
    return index < self->count? &self->items [index]: NULL;
}

zkv_err_t
zkv_alarm_table_gate (zkv_alarm_table_t *self, const zkv_internal_request_t *request)
{
    if (self->count == 0)
        return ZKV_ERR_OK;
    bool writing_txn = request->txn && zkv_txn_writes (request->txn);
    if (zkv_alarm_table_any (self, ZKV_ALARM_CORRUPT)
    &&  (request->put || request->delete_range || writing_txn || request->compact))
        return ZKV_ERR_CORRUPT;
    if (zkv_alarm_table_any (self, ZKV_ALARM_NOSPACE)
    &&  (request->put || (request->txn && zkv_txn_cost (request->txn) > 0)))
        return ZKV_ERR_NO_SPACE;
    return ZKV_ERR_OK;
}

bool
zkv_alarm_table_apply (zkv_alarm_table_t *self, zkv_mvcc_t *mvcc, const zkv_alarm_t *request,
                       msgpack_zone *zone, zkv_alarm_response_t *response)
{
    response->alarms.count = 0;
    response->alarms.items = (zkv_alarm_member_t *) msgpack_zone_malloc (
        zone, (self->count + 1) * sizeof (zkv_alarm_member_t));
    if (!response->alarms.items)
        abort ();
    if (request->action == ZKV_ALARM_GET) {
        for (size_t i = 0; i < self->count; i++)
            if (request->alarm == ZKV_ALARM_NONE || self->items [i].alarm == request->alarm)
                response->alarms.items [response->alarms.count++] = self->items [i];
        return false;
    }
    //  Types and actions front would refuse: nothing, on every member alike
    if (request->alarm == ZKV_ALARM_NONE || request->alarm > ZKV_ALARM_CORRUPT
    ||  request->action > ZKV_ALARM_DEACTIVATE)
        return false;
    uint8_t key [ZKV_ALARM_KEY_SIZE];
    zkv_alarm_key (request->member_id, request->alarm, key);
    bool listed = false, changed = false;
    if (request->action == ZKV_ALARM_ACTIVATE) {
        //  etcd lists the alarm, raised now or before
        listed = true;
        changed = zkv_alarm_table_add (self, request->member_id, request->alarm);
        if (changed)
            zkv_mvcc_put_raw (mvcc, ZKV_CF_ALARM, key, sizeof key, "", 0);
    }
    else {
        listed = changed = zkv_alarm_table_remove (self, request->member_id, request->alarm);
        if (changed)
            zkv_mvcc_delete_raw (mvcc, ZKV_CF_ALARM, key, sizeof key);
    }
    if (listed) {
        zkv_alarm_member_t *alarm = &response->alarms.items [response->alarms.count++];
        alarm->member_id = request->member_id;
        alarm->alarm = request->alarm;
    }
    return changed;
}

void
zkv_alarm_key (uint64_t member, uint64_t type, uint8_t key [ZKV_ALARM_KEY_SIZE])
{
    zkv_be64_put (key, member);
    key [8] = (uint8_t) type;
}

const char *
zkv_alarm_name (uint64_t type)
{
    switch (type) {
        case ZKV_ALARM_NONE:    return "NONE";
        case ZKV_ALARM_NOSPACE: return "NOSPACE";
        case ZKV_ALARM_CORRUPT: return "CORRUPT";
        default:                return "UNKNOWN";
    }
}

void
zkv_alarm_text (const zkv_alarm_member_t *alarm, char *buf, size_t size)
{
    snprintf (buf, size, "memberID:%" PRIu64 " alarm:%s ", alarm->member_id,
              zkv_alarm_name (alarm->alarm));
}

bool
zkv_alarm_retry_due (zkv_alarm_retry_t *self, bool raised, int64_t now)
{
    if (raised || (!self->seen && self->proposed && now - self->proposed < ZKV_ALARM_RETRY_MSECS))
        return false;
    self->proposed = now;
    self->seen = false;
    return true;
}

//  ---------------------------------------------------------------------
//  Space quota

uint64_t
zkv_put_cost (const zkv_put_t *put)
{
    return 256 + put->key.size + put->value.size;
}

static uint64_t
s_branch_cost (const zkv_request_op_list_t *branch)
{
    uint64_t cost = 0;
    for (size_t i = 0; i < branch->count; i++) {
        const zkv_request_op_t *op = &branch->items [i];
        if (op->request_put)
            cost += zkv_put_cost (op->request_put);
        else
        if (op->request_txn)
            cost += zkv_txn_cost (op->request_txn);
    }
    return cost;
}

uint64_t
zkv_txn_cost (const zkv_txn_t *txn)
{
    uint64_t success = s_branch_cost (&txn->success);
    uint64_t failure = s_branch_cost (&txn->failure);
    return success > failure? success: failure;
}

bool
zkv_quota_fits (zkv_quota_t *self, zkv_engine_t *engine, uint64_t cost, int64_t now)
{
    if (cost == 0 || self->quota <= 0)
        return true;
    if (self->measured == 0 || now - self->measured >= ZKV_QUOTA_MEASURE_MSECS) {
        int64_t in_use;
        zkv_engine_sizes (engine, &self->size, &in_use);
        self->measured = now? now: 1;
    }
    return self->size + (int64_t) cost < self->quota;
}
