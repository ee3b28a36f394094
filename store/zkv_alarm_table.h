/*  =========================================================================
    zkv_alarm_table.h — the alarm table, etcd's v3alarm store: which
    members have which alarms raised. Replicated state: raft applies every
    activation and deactivation on every member. In the `alarm` family one
    record per alarm: key = member id (8 bytes, big-endian) + type (1 byte),
    value empty (etcd keys its bucket by the encoded AlarmMember).

    Also etcd's space quota check (server/storage/quota.go), which decides
    when NOSPACE is raised.
    =========================================================================
*/
#ifndef ZKV_ALARM_TABLE_H_INCLUDED
#define ZKV_ALARM_TABLE_H_INCLUDED

#include "zkv_engine.h"
#include "zkv_errors.h"
#include "zkv_msgs.h"
#include "zkv_mvcc.h"

//  etcdserverpb.AlarmType and AlarmRequest.AlarmAction
#define ZKV_ALARM_NONE          0
#define ZKV_ALARM_NOSPACE       1
#define ZKV_ALARM_CORRUPT       2
#define ZKV_ALARM_GET           0
#define ZKV_ALARM_ACTIVATE      1
#define ZKV_ALARM_DEACTIVATE    2

#define ZKV_ALARM_KEY_SIZE      9

typedef struct zkv_alarm_table_s zkv_alarm_table_t;

zkv_alarm_table_t *
    zkv_alarm_table_new (void);

void
    zkv_alarm_table_destroy (zkv_alarm_table_t **self_p);

//  Replaces the table with what the alarm family holds. Returns 0, or -1
//  with *error.
int
    zkv_alarm_table_load (zkv_alarm_table_t *self, zkv_engine_t *engine, char **error);

//  True if some member has an alarm of type
bool
    zkv_alarm_table_any (zkv_alarm_table_t *self, uint64_t type);

//  True if member has an alarm of type
bool
    zkv_alarm_table_has (zkv_alarm_table_t *self, uint64_t member, uint64_t type);

//  Adds or removes one alarm in memory; false if that changed nothing. The
//  caller writes the record (zkv_alarm_key) in the same batch.
bool
    zkv_alarm_table_add (zkv_alarm_table_t *self, uint64_t member, uint64_t type);
bool
    zkv_alarm_table_remove (zkv_alarm_table_t *self, uint64_t member, uint64_t type);

//  The alarms, ordered by member then type
size_t
    zkv_alarm_table_size (zkv_alarm_table_t *self);
const zkv_alarm_member_t *
    zkv_alarm_table_at (zkv_alarm_table_t *self, size_t index);

//  The error the alarms make request fail with at apply, as etcd's applier
//  wrappers do, or ZKV_ERR_OK. CORRUPT: put, delete, a txn that writes,
//  compaction; NOSPACE: put, a txn with puts. Reads, alarms and maintenance
//  always go through.
zkv_err_t
    zkv_alarm_table_gate (zkv_alarm_table_t *self, const zkv_internal_request_t *request);

//  Applies an Alarm request: GET lists the alarms of its type (every type
//  for NONE); ACTIVATE raises the alarm and lists it (raised before or
//  not, as etcd's AlarmStore.Activate); DEACTIVATE clears it and lists it,
//  or lists none when it was not raised. The record is written or deleted
//  in mvcc's open batch. Type NONE (etcd 3.5+) and types or actions past
//  the known ones change nothing. response->alarms comes from zone.
//  Returns true if the table changed.
bool
    zkv_alarm_table_apply (zkv_alarm_table_t *self, zkv_mvcc_t *mvcc, const zkv_alarm_t *request,
                           msgpack_zone *zone, zkv_alarm_response_t *response);

//  The record key of an alarm
void
    zkv_alarm_key (uint64_t member, uint64_t type, uint8_t key [ZKV_ALARM_KEY_SIZE]);

//  "NONE", "NOSPACE", "CORRUPT", or "UNKNOWN"
const char *
    zkv_alarm_name (uint64_t type);

//  An alarm as etcd prints it (etcdctl alarm list, Status errors):
//  "memberID:<decimal> alarm:NOSPACE " (trailing space included)
void
    zkv_alarm_text (const zkv_alarm_member_t *alarm, char *buf, size_t size);

//  When a member proposes its own alarm (NOSPACE, from a refused write):
//  never while the table holds it, and, until the one proposed is seen
//  raised (seen, set by the caller), at most every ZKV_ALARM_RETRY_MSECS,
//  not once per refused write
#define ZKV_ALARM_RETRY_MSECS 1000
typedef struct {
    int64_t proposed;                   //  when (msecs; 0: never)
    bool seen;                          //  raised since
} zkv_alarm_retry_t;

//  True if the alarm is to be proposed now (then noted as proposed);
//  raised: the table holds it. now: the caller's clock, in msecs.
bool
    zkv_alarm_retry_due (zkv_alarm_retry_t *self, bool raised, int64_t now);

//  ---------------------------------------------------------------------
//  Space quota

//  etcd's cost of a write: 256 + key + value bytes per put; for a txn the
//  larger of its two branches (nested txns included); 0 for the rest
uint64_t
    zkv_put_cost (const zkv_put_t *put);
uint64_t
    zkv_txn_cost (const zkv_txn_t *txn);

//  The database size the quota is checked against, measured at most every
//  ZKV_QUOTA_MEASURE_MSECS (RocksDB's properties cost a few microseconds per
//  family: not for every write)
#define ZKV_QUOTA_MEASURE_MSECS 100
typedef struct {
    int64_t quota;                      //  bytes; <= 0: no quota
    int64_t size;                       //  as last measured
    int64_t measured;                   //  when (msecs; 0: never)
} zkv_quota_t;

//  True if a write of cost fits: cost 0, no quota, or size + cost < quota
//  (etcd's rule). now: the caller's clock, in msecs.
bool
    zkv_quota_fits (zkv_quota_t *self, zkv_engine_t *engine, uint64_t cost, int64_t now);

#endif
