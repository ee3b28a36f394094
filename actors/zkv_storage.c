/*  =========================================================================
    zkv_storage.c — the storage actor (see zkv_storage.h).
    =========================================================================
*/
#include "zkv_storage.h"
#include "zkv_metrics.h"
#include "zkv_actor_io.h"
#include "zkv_waiter.h"
#include "zkv_fatal.h"
#include "zkv_grow.h"
#include "zkv_alarm_table.h"
#include "zkv_members.h"
#include "zkv_membership.h"
#include "zkv_snapshot.h"
#include "zkv_check.h"

#define SLOW_APPLY_USECS 100000          //  etcd's warnApplyDuration
#include "zkv_mvcc.h"
#include "zkv_space.h"

#include <stdlib.h>
#include <string.h>

#define COMPACT_STEP 1000               //  deletions per physical compaction step
#define STATE_TO_RAFT 128               //  applied entries between reports to raft
#define STATE_TO_RAFT_BYTES (4 << 20)   //  ...or bytes of them, if that comes first

//  Replies to send to front after the batch that produced them is written
typedef struct {
    zkv_answer_t *items;
    size_t count;
    size_t room;
    size_t bytes;                       //  of the replies held
} s_answers_t;

//  Replies go to front once they hold so many bytes, whatever else is
//  waiting: a drain of many large reads must not hold all their replies
#define ANSWERS_FLUSH_BYTES (1 << 20)

//  Reads are served for so long at a time before the inbox comes first
#define READ_SLICE_MSECS 5

//  A read waiting for the state machine to reach its index
typedef struct {
    zkv_msg_t *msg;                     //  the `read` message (owns the bytes)
} s_read_t;

typedef struct {
    zsock_t *pipe;                      //  actor command pipe
    zkv_storage_args_t *args;
    zsock_t *inbox;                     //  apply and read, from raft and front
    zsock_t *front;                     //  answers and state, to front
    zsock_t *raft;                      //  state and snapshot chunks, to raft
    zsock_t *hasher;                    //  compactions, to the hasher
    zsock_t *alarm;                     //  the disk runs short, to the alarm actor
    int64_t hash_hold;                  //  the newest compaction the hasher has
                                        //  not taken a snapshot of (-1: none):
                                        //  no deleting, no installing till then
    zkv_waiter_t *waiter;               //  on the pipe and the inbox
    zkv_mvcc_t *mvcc;                   //  the state machine
    zkv_alarm_table_t *alarms;          //  the alarms, as applied
    zkv_quota_t quota;                  //  checked again at apply
    zkv_alarm_retry_t nospace;          //  our NOSPACE, proposed and seen
    zkv_space_t *space;                 //  the free-disk guard
    zkv_alarm_t *alarm_changes;         //  of the batch being applied
    size_t alarm_change_count;
    zlistx_t *reads;                    //  s_read_t waiting for their index
    s_answers_t after_compaction;       //  physical compact requests' replies
    zkv_snapshot_in_t *install;         //  snapshots streamed in
    int64_t install_began;              //  when its first chunk came (ms)
    uint64_t refused_from, refused_stream;  //  the last stream refused
    uint64_t commit;                    //  raft's commit index, as the last apply said
    uint64_t applied_told_raft;
    uint64_t bytes_since_told_raft;     //  of the entries applied since
    zkv_conf_state_t conf;              //  the raft configuration, as applied
    uint64_t members_version;           //  changes of the member table, for raft
    uint64_t members_version_told;
    uint64_t late_reads;                //  dropped or stopped past their deadline,
    int64_t late_reads_told;            //  told in the log at most once a second
    bool terminated;
} self_t;

//  ---------------------------------------------------------------------
//  Answers

static void
s_answers_add (s_answers_t *answers, uint64_t wait, uint8_t *reply, size_t size)
{
    if (!reply)
        return;                         //  a request without a reply
    if (zkv_grow ((void **) &answers->items, &answers->room, answers->count + 1,
                  sizeof (zkv_answer_t)))
        zkv_fatal ("out of memory");
    answers->items [answers->count].wait = wait;
    answers->items [answers->count].reply = zkv_bin (reply, size);
    answers->count++;
    answers->bytes += size;
}

static void
s_answers_send (self_t *self, s_answers_t *answers)
{
    if (answers->count == 0)
        return;
    zkv_answers_t message = { .answers = { answers->items, answers->count } };
    zkv_io_send (self->front, &zkv_answers_desc, &message);
    for (size_t i = 0; i < answers->count; i++)
        free ((void *) answers->items [i].reply.data);
    answers->count = 0;
    answers->bytes = 0;
}

static void
s_answers_free (s_answers_t *answers)
{
    for (size_t i = 0; i < answers->count; i++)
        free ((void *) answers->items [i].reply.data);
    free (answers->items);
    memset (answers, 0, sizeof *answers);
}

//  ---------------------------------------------------------------------
//  Executing one request

static void *
s_zalloc (msgpack_zone *zone, size_t size)
{
    void *object = msgpack_zone_malloc (zone, size);
    if (!object)
        zkv_fatal ("out of memory");
    memset (object, 0, size);
    return object;
}

//  True for member 0 (an alarm for nobody in particular) and the members
//  of the member table (replicated state: every member decides alike, so
//  a table this member cannot read stops it)
static bool
s_is_member (self_t *self, uint64_t id, msgpack_zone *zone)
{
    zkv_cluster_member_t *member = NULL;
    char *error = NULL;
    int found = id? zkv_members_get (self->args->engine, id, zone, &member, &error): 1;
    if (found < 0)
        zkv_fatal ("storage: cannot read the member table: %s", error);
    return found == 1;
}

//  An alarm was raised or cleared in the open batch: noted, to be told to
//  front once the batch is written
static void
s_alarm_changed (self_t *self, const zkv_alarm_t *alarm)
{
    if (alarm->member_id == self->args->member_id && alarm->alarm == ZKV_ALARM_NOSPACE
    &&  alarm->action == ZKV_ALARM_ACTIVATE)
        self->nospace.seen = true;
    self->alarm_changes = (zkv_alarm_t *) realloc (
        self->alarm_changes, (self->alarm_change_count + 1) * sizeof (zkv_alarm_t));
    if (!self->alarm_changes)
        zkv_fatal ("out of memory");
    self->alarm_changes [self->alarm_change_count++] = *alarm;
}

//  Tells front the alarms raised or cleared by the batch just written
static void
s_alarm_changes_tell (self_t *self)
{
    for (size_t i = 0; i < self->alarm_change_count; i++) {
        const zkv_alarm_t *alarm = &self->alarm_changes [i];
        const char *state = alarm->action == ZKV_ALARM_ACTIVATE? "activated": "deactivated";
        const char *name = zkv_alarm_name (alarm->alarm);
        zsys_warning ("storage: alarm %s %s for member %016llx", name, state,
                      (unsigned long long) alarm->member_id);
        zkv_alarm_event_t event = {
            .member = self->args->member_id, .state = zkv_bin (state, strlen (state)),
            .member_id = alarm->member_id, .alarm = zkv_bin (name, strlen (name))
        };
        zkv_io_event (self->front, "alarm", &zkv_alarm_event_desc, &event);
    }
    self->alarm_change_count = 0;
}

//  This member's database passed the quota: propose its NOSPACE alarm,
//  unless it is raised, or was proposed a moment ago and not seen since
static void
s_raise_nospace (self_t *self)
{
    if (!zkv_alarm_retry_due (&self->nospace, zkv_alarm_table_has (self->alarms,
                              self->args->member_id, ZKV_ALARM_NOSPACE), zclock_mono ()))
        return;
    zsys_warning ("storage: the database passed its quota of %lld bytes: raising NOSPACE",
                  (long long) self->quota.quota);
    zkv_io_propose_alarm (self->raft, self->args->member_id, ZKV_ALARM_ACTIVATE,
                          self->args->member_id, ZKV_ALARM_NOSPACE);
}

//  A read's deadline (arg: zclock_mono msecs) passed
static bool
s_past_deadline (void *arg)
{
    return zclock_mono () > *(const int64_t *) arg;
}

//  The room of the disk would run short with the batch about to be
//  applied: this member's NOSPACE is proposed, and the alarm actor told
//  (it releases the reserve). The batch is applied all the same: every
//  member applies every committed entry.
static void
s_disk_short (self_t *self, int64_t bytes)
{
    if (!zkv_alarm_retry_due (&self->nospace, zkv_alarm_table_has (self->alarms,
                              self->args->member_id, ZKV_ALARM_NOSPACE), zclock_mono ()))
        return;
    char text [512];
    zkv_space_describe (self->space, bytes, text, sizeof text);
    zsys_warning ("storage: %s: under %lld: raising NOSPACE", text,
                  (long long) self->args->space->min_free);
    zkv_io_propose_alarm (self->raft, self->args->member_id, ZKV_ALARM_ACTIVATE,
                          self->args->member_id, ZKV_ALARM_NOSPACE);
    zkv_disk_short_t short_of = { .who = zkv_bin ("storage", 7) };
    zkv_io_send (self->alarm, &zkv_disk_short_desc, &short_of);
}

//  etcd's quota applier: a write past the quota is applied all the
//  same, but answered with NOSPACE, and the alarm raised. rc: the
//  write's; returns it, or -1 with status set.
static int
s_quota_applier (self_t *self, int rc, uint64_t cost, zkv_result_t *status)
{
    if (rc == 0 && !zkv_quota_fits (&self->quota, self->args->engine, cost, zclock_mono ())) {
        s_raise_nospace (self);
        zkv_status_set (status, ZKV_ERR_NO_SPACE, NULL);
        rc = -1;
    }
    return rc;
}

//  The handlers of the state machine's requests (STATE in zkv_msgs.def):
//  each runs body (its zkv_<name>_t) against the store, a write inside
//  the open batch, into response (a zeroed zkv_<name>_response_t from
//  zone), and returns 0, or -1 with status set. s_execute fills in the
//  response's header but its revision.
typedef int (s_handler_fn) (self_t *self, const void *body, void *response,
                            msgpack_zone *zone, zkv_result_t *status);

static int
s_handle_range (self_t *self, const void *body, void *response, msgpack_zone *zone,
                zkv_result_t *status)
{
    return zkv_mvcc_range (self->mvcc, (const zkv_range_t *) body, zone, response, status);
}

static int
s_handle_put (self_t *self, const void *body, void *response, msgpack_zone *zone,
              zkv_result_t *status)
{
    const zkv_put_t *put = (const zkv_put_t *) body;
    int rc = zkv_mvcc_put (self->mvcc, put, zone, response, status);
    return s_quota_applier (self, rc, zkv_put_cost (put), status);
}

static int
s_handle_delete_range (self_t *self, const void *body, void *response, msgpack_zone *zone,
                       zkv_result_t *status)
{
    return zkv_mvcc_delete_range (self->mvcc, (const zkv_delete_range_t *) body, zone,
                                  response, status);
}

static int
s_handle_txn (self_t *self, const void *body, void *response, msgpack_zone *zone,
              zkv_result_t *status)
{
    const zkv_txn_t *txn = (const zkv_txn_t *) body;
    int rc = zkv_txn_writes (txn)? zkv_mvcc_txn (self->mvcc, txn, zone, response, status)
                                 : zkv_mvcc_txn_read (self->mvcc, txn, zone, response, status);
    return s_quota_applier (self, rc, zkv_txn_cost (txn), status);
}

static int
s_handle_compact (self_t *self, const void *body, void *response, msgpack_zone *zone,
                  zkv_result_t *status)
{
    return zkv_mvcc_compact (self->mvcc, (const zkv_compact_t *) body, zone, response, status);
}

static int
s_handle_member_list (self_t *self, const void *body, void *response, msgpack_zone *zone,
                      zkv_result_t *status)
{
    (void) body;
    zkv_member_list_response_t *list = (zkv_member_list_response_t *) response;
    char *error = NULL;
    int rc = zkv_members_list (self->args->engine, zone, &list->members, &error);
    if (rc)
        zkv_status_set (status, ZKV_ERR_INTERNAL, "%s", error);
    free (error);
    list->header = s_zalloc (zone, sizeof (zkv_header_t));
    list->header->revision = zkv_mvcc_revision (self->mvcc);
    return rc;
}

static int
s_handle_alarm (self_t *self, const void *body, void *response, msgpack_zone *zone,
                zkv_result_t *status)
{
    (void) status;
    const zkv_alarm_t *alarm = (const zkv_alarm_t *) body;
    zkv_header_t *header = s_zalloc (zone, sizeof (zkv_header_t));
    header->revision = zkv_mvcc_revision (self->mvcc);
    ((zkv_alarm_response_t *) response)->header = header;
    //  Alarms are for members (or member 0): not a table any client
    //  could grow without bound with made-up ids
    if (!(alarm->action == ZKV_ALARM_ACTIVATE && !s_is_member (self, alarm->member_id, zone))
    &&  zkv_alarm_table_apply (self->alarms, self->mvcc, alarm, zone,
                               (zkv_alarm_response_t *) response))
        s_alarm_changed (self, alarm);
    return 0;
}

static s_handler_fn *const s_handlers [ZKV_REQ_COUNT] = {
    [ZKV_REQ_range]        = s_handle_range,
    [ZKV_REQ_put]          = s_handle_put,
    [ZKV_REQ_delete_range] = s_handle_delete_range,
    [ZKV_REQ_txn]          = s_handle_txn,
    [ZKV_REQ_compact]      = s_handle_compact,
    [ZKV_REQ_member_list]  = s_handle_member_list,
    [ZKV_REQ_alarm]        = s_handle_alarm,
};

//  Stops the member at start when a request the table gives the state
//  machine has no handler: a missing entry above, not a crash later
static void
s_check_dispatch (void)
{
    for (int kind = 0; kind < ZKV_REQ_COUNT; kind++)
        if (zkv_requests [kind]->serve->server == ZKV_BY_STATE && !s_handlers [kind])
            zkv_fatal ("storage: request %s has no entry in s_handlers",
                       zkv_requests [kind]->name);
}

//  A member publishes its name and client endpoint (attributes, proposed
//  by raft): merged in its record (a member added by MemberAdd is
//  "started" from then on). Nobody waits for it.
static void
s_merge_attributes (self_t *self, const zkv_cluster_member_t *attributes, msgpack_zone *zone)
{
    zkv_cluster_member_t *record = NULL;
    char *error = NULL;
    int found = zkv_members_get (self->args->engine, attributes->member_id, zone,
                                 &record, &error);
    if (found < 0)
        zkv_fatal ("storage: cannot read the member table: %s", error);
    if (found == 1) {
        record->name = attributes->name;        //  an added member: started now
        record->client_endpoint = attributes->client_endpoint;
        record->events_endpoint = attributes->events_endpoint;
        uint8_t key [8];
        size_t size;
        uint8_t *bytes = zkv_members_record (record, key, &size);
        if (bytes)
            zkv_mvcc_put_raw (self->mvcc, ZKV_CF_MEMBERS, key, 8, bytes, size);
        free (bytes);
    }
    free (error);
}

//  Runs request against the store (a write inside the open batch, or a
//  read) with its handler, and encodes its reply with a full header. term
//  is the raft term the reply's header carries; index that of the entry
//  being applied (0 for a read): an entry the store fails to apply (its
//  data unreadable, memory short) stops the member, since every other
//  member applies it, and this one would go on from another state.
static uint8_t *
s_execute (self_t *self, const zkv_internal_request_t *request, uint64_t term,
           uint64_t index, msgpack_zone *zone, size_t *size)
{
    zkv_result_t status;
    const zkv_desc_t *desc = NULL;
    void *response = NULL;
    int rc = -1;
    //  The request's own bounds; a write's come from its entry alone, so
    //  that every member applies it alike
    zkv_mvcc_limits_t limits = {
        .max_reply_bytes = request->max_response_bytes,
        .expired = index == 0 && request->deadline? s_past_deadline: NULL,
        .arg = (void *) &request->deadline
    };
    zkv_mvcc_set_limits (self->mvcc, &limits);
    void *body;
    const zkv_desc_t *kind = zkv_internal_request_get (request, &body);
    zkv_err_t refused = zkv_alarm_table_gate (self->alarms, request);
    if (refused != ZKV_ERR_OK)
        zkv_status_set (&status, refused, NULL);
    else
    if (kind) {
        desc = kind->response;
        response = s_zalloc (zone, desc->size);
        rc = s_handlers [kind->serve->kind] (self, body, response, zone, &status);
    }
    else
    if (request->attributes) {
        s_merge_attributes (self, request->attributes, zone);
        self->members_version++;        //  raft counts the member as started
        return NULL;                    //  nobody waits for it
    }
    else
        zkv_status_set (&status, ZKV_ERR_INTERNAL, "an internal request with no request");

    if (rc == 0) {
        //  Every response of the table starts with its header
        zkv_header_t *header = *(zkv_header_t **) response;
        header->cluster_id = self->args->cluster_id;
        header->member_id = self->args->member_id;
        header->raft_term = term;
        return zkv_msg_encode_body (desc, response, size);
    }
    if (status.err == ZKV_ERR_TIMEOUT)
        self->late_reads++;             //  a read's walk stopped at its deadline
    if (status.err == ZKV_ERR_INTERNAL) {
        char text [512];
        zkv_status_text (&status, text, sizeof text);
        //  (desc is NULL for an entry holding no request zkv knows, which
        //  every member refuses alike)
        if (index && desc)
            zkv_fatal ("storage: entry %llu could not be applied: %s",
                       (unsigned long long) index, text);
        zsys_error ("storage: %s", text);
    }
    zkv_header_t header = {
        .cluster_id = self->args->cluster_id, .member_id = self->args->member_id,
        .revision = zkv_mvcc_revision (self->mvcc), .raft_term = term
    };
    return zkv_msg_encode_error (&status, &header, size);
}

static zkv_internal_request_t *
s_decode_request (zkv_bin_t bytes, msgpack_zone *zone)
{
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_internal_request_t *request = (zkv_internal_request_t *) zkv_msg_decode_body (
        bytes.data, bytes.size, &zkv_internal_request_desc, zone, &limits, &status);
    if (!request) {
        char text [256];
        zsys_error ("storage: undecodable request: %s",
                    zkv_status_text (&status, text, sizeof text));
    }
    return request;
}

//  ---------------------------------------------------------------------
//  Apply and read

//  Front hears after every apply (Status, headers); raft, which needs the
//  applied index only to pace log compaction, every STATE_TO_RAFT entries
//  (a message between threads costs a wake-up), or STATE_TO_RAFT_BYTES of
//  them: large entries make a large log soon
static void
s_push_state (self_t *self, bool to_raft)
{
    zkv_storage_state_t state = {
        .commit = self->commit,
        .applied = zkv_mvcc_applied_index (self->mvcc),
        .applied_term = zkv_mvcc_applied_term (self->mvcc),
        .revision = zkv_mvcc_revision (self->mvcc),
        .compact_revision = zkv_mvcc_compact_revision (self->mvcc),
        .members_version = self->members_version
    };
    zkv_io_send (self->front, &zkv_storage_state_desc, &state);
    if (to_raft || state.applied >= self->applied_told_raft + STATE_TO_RAFT
    ||  self->bytes_since_told_raft >= STATE_TO_RAFT_BYTES) {
        zkv_io_send (self->raft, &zkv_storage_state_desc, &state);
        self->applied_told_raft = state.applied;
        self->bytes_since_told_raft = 0;
    }
}

//  True when the oldest waiting read can be served (its index applied:
//  raft hands out indexes in order)
static bool
s_reads_ready (self_t *self)
{
    s_read_t *pending = self->mvcc? (s_read_t *) zlistx_first (self->reads): NULL;
    return pending
        && ((zkv_read_t *) pending->msg->body)->index <= zkv_mvcc_applied_index (self->mvcc);
}

//  Serves the waiting reads whose index is applied, in order, for about
//  READ_SLICE_MSECS: then the inbox comes first again, so that writes to
//  apply never wait behind a client's many large reads
static void
s_serve_reads (self_t *self, s_answers_t *answers)
{
    int64_t until = zclock_mono () + READ_SLICE_MSECS;
    while (s_reads_ready (self) && zclock_mono () < until) {
        s_read_t *pending = (s_read_t *) zlistx_first (self->reads);
        zkv_read_t *read = (zkv_read_t *) pending->msg->body;
        msgpack_zone *zone = msgpack_zone_new (8192);
        zkv_internal_request_t *request = s_decode_request (read->request, zone);
        //  A read whose client has had its timeout costs nothing more
        if (request && request->deadline && zclock_mono () > request->deadline)
            self->late_reads++;
        else
        if (request) {
            size_t size;
            uint8_t *reply = s_execute (self, request, zkv_mvcc_applied_term (self->mvcc), 0,
                                        zone, &size);
            s_answers_add (answers, read->wait, reply, size);
            if (answers->bytes >= ANSWERS_FLUSH_BYTES)
                s_answers_send (self, answers);
        }
        msgpack_zone_free (zone);
        zlistx_delete (self->reads, zlistx_cursor (self->reads));   //  (pending)
    }
}

//  ---------------------------------------------------------------------
//  Membership

//  zkv_mvcc_commit, timed (etcd_disk_backend_commit_duration_seconds)
static int
s_commit (self_t *self, uint64_t index, uint64_t term, char **error)
{
    int64_t started = zclock_usecs ();
    int rc = zkv_mvcc_commit (self->mvcc, index, term, error);
    zkv_metrics_observe (&zkv_metrics.backend_commit, (zclock_usecs () - started) * 1000);
    return rc;
}

//  Writes the batch so far, and opens the next: a membership change is
//  applied in a batch of its own, so that it reads the member table as
//  the entries before it left it, and the entries after it read its own
static void
s_batch_cut (self_t *self, uint64_t index, uint64_t term)
{
    char *error = NULL;
    if (index && s_commit (self, index, term, &error))
        zkv_fatal ("storage: applying entries up to %llu failed: %s",
                   (unsigned long long) index, error);
    zkv_mvcc_begin (self->mvcc);
}

//  The reply to a membership request, once its change is written: the
//  members after it (and the member added)
static uint8_t *
s_membership_reply (self_t *self, const zkv_internal_request_t *request,
                    const zkv_membership_done_t *done, const zkv_result_t *failed, uint64_t term,
                    msgpack_zone *zone, zkv_cluster_member_list_t *members, size_t *size)
{
    zkv_header_t header = {
        .cluster_id = self->args->cluster_id, .member_id = self->args->member_id,
        .revision = zkv_mvcc_revision (self->mvcc), .raft_term = term
    };
    if (failed)
        return zkv_msg_encode_error (failed, &header, size);
    (void) zone;
    if (request->member_add) {
        zkv_member_add_response_t response = { &header, done->member, *members };
        return zkv_msg_encode_body (&zkv_member_add_response_desc, &response, size);
    }
    if (request->member_remove) {
        zkv_member_remove_response_t response = { &header, *members };
        return zkv_msg_encode_body (&zkv_member_remove_response_desc, &response, size);
    }
    if (request->member_update) {
        zkv_member_update_response_t response = { &header, *members };
        return zkv_msg_encode_body (&zkv_member_update_response_desc, &response, size);
    }
    if (request->member_promote) {
        zkv_member_promote_response_t response = { &header, *members };
        return zkv_msg_encode_body (&zkv_member_promote_response_desc, &response, size);
    }
    return NULL;
}

//  Tells the change on the events socket, with the members after it
static void
s_membership_tell (self_t *self, const zkv_membership_done_t *done,
                   const zkv_cluster_member_list_t *members, uint64_t index)
{
    if (!done->change)
        return;
    zsys_info ("storage: member %016llx %s (entry %llu)", (unsigned long long) done->member_id,
               done->change, (unsigned long long) index);
    zkv_membership_event_t event = {
        .member = self->args->member_id, .change = zkv_bin (done->change, strlen (done->change)),
        .member_id = done->member_id, .replaced = done->replaced,
        .peer_endpoint = done->peer_endpoint, .members = *members,
        .joint = zkv_rc_conf_is_joint (&self->conf), .index = index
    };
    zkv_io_event (self->front, "member", &zkv_membership_event_desc, &event);
}

//  Applies a membership entry: a configuration entry, or a member update
//  (request, decoded already). The batch holds the entries before it.
static void
s_apply_membership (self_t *self, const zkv_entry_t *entry, zkv_internal_request_t *request,
                    uint64_t before_index, uint64_t before_term, msgpack_zone *zone,
                    s_answers_t *answers)
{
    s_batch_cut (self, before_index, before_term);
    zkv_membership_done_t done;
    zkv_result_t status;
    int rc = request? zkv_membership_update (self->mvcc, self->args->engine,
                                             request->member_update, zone, &done, &status)
                    : zkv_membership_apply (self->mvcc, self->args->engine, &self->conf,
                                            entry->data, zone, &request, &done, &status);
    s_batch_cut (self, entry->index, entry->term);
    self->members_version++;
    zkv_cluster_member_list_t members = { NULL, 0 };
    char *error = NULL;
    if (zkv_members_list (self->args->engine, zone, &members, &error))
        zkv_fatal ("storage: cannot read the member table: %s", error);
    if (rc == 0)
        s_membership_tell (self, &done, &members, entry->index);
    else {
        char text [256];
        zsys_warning ("storage: membership entry %llu changed nothing: %s",
                      (unsigned long long) entry->index, zkv_status_text (&status, text, sizeof text));
    }
    if (!request || request->origin != self->args->member_id || request->wait == 0)
        return;                         //  another member answers its client
    size_t size;
    uint8_t *reply = s_membership_reply (self, request, &done, rc? &status: NULL, entry->term,
                                         zone, &members, &size);
    s_answers_add (answers, request->wait, reply, size);
}

static void
s_apply (self_t *self, const zkv_apply_t *apply, s_answers_t *answers)
{
    if (apply->commit > self->commit)
        self->commit = apply->commit;
    uint64_t applied = zkv_mvcc_applied_index (self->mvcc);
    uint64_t last_index = 0, last_term = 0;
    msgpack_zone *zone = msgpack_zone_new (65536);
    if (!zone)
        zkv_fatal ("out of memory");
    //  Replies to physical compactions wait until the batch is written
    s_answers_t physical = { NULL, 0, 0, 0 };
    //  Compactions applied, told to the hasher once the batch is written
    zkv_compaction_scheduled_t *compactions = NULL;
    size_t compaction_count = 0;
    //  The free-disk guard looks before each batch (the raft log holds it
    //  already: its apply writes it again, in the WAL and a table file)
    int64_t bytes = 0;
    for (size_t i = 0; i < apply->entries.count; i++)
        if (apply->entries.items [i].index > applied)
            bytes += (int64_t) apply->entries.items [i].data.size;
    if (bytes && !zkv_space_fits (self->space, ZKV_SPACE_APPENDED * bytes, zclock_mono ()))
        s_disk_short (self, ZKV_SPACE_APPENDED * bytes);
    zkv_mvcc_begin (self->mvcc);
    for (size_t i = 0; i < apply->entries.count; i++) {
        const zkv_entry_t *entry = &apply->entries.items [i];
        if (entry->index <= applied)
            continue;                   //  replayed after a restart: done already
        uint64_t expected = last_index? last_index + 1: applied + 1;
        if (entry->index != expected)
            zkv_fatal ("storage: entry %llu follows %llu: committed entries were lost",
                       (unsigned long long) entry->index, (unsigned long long) (expected - 1));
        uint64_t before_index = last_index, before_term = last_term;
        last_index = entry->index;
        last_term = entry->term;
        if (entry->type == ZKV_RC_ENTRY_CONF) {
            s_apply_membership (self, entry, NULL, before_index, before_term, zone, answers);
            continue;
        }
        if (entry->data.size == 0)
            continue;                   //  a new leader's empty entry
        zkv_internal_request_t *request = s_decode_request (entry->data, zone);
        if (!request)
            continue;
        if (request->member_update) {
            s_apply_membership (self, entry, request, before_index, before_term, zone, answers);
            continue;
        }
        size_t size;
        int64_t compacted = zkv_mvcc_compact_revision (self->mvcc);
        uint8_t *reply = s_execute (self, request, entry->term, entry->index, zone, &size);
        if (zkv_mvcc_compact_revision (self->mvcc) != compacted) {
            zkv_compaction_scheduled_t compaction = {
                .revision = zkv_mvcc_compact_revision (self->mvcc), .previous = compacted
            };
            compactions = (zkv_compaction_scheduled_t *) realloc (
                compactions, (compaction_count + 1) * sizeof (zkv_compaction_scheduled_t));
            if (!compactions)
                zkv_fatal ("out of memory");
            compactions [compaction_count++] = compaction;
        }
        if (!reply)
            continue;                   //  nothing to answer
        if (request->origin != self->args->member_id || request->wait == 0) {
            free (reply);               //  another member answers its client
            continue;
        }
        if (request->compact && request->compact->physical)
            s_answers_add (&physical, request->wait, reply, size);
        else
            s_answers_add (answers, request->wait, reply, size);
    }
    char *error = NULL;
    if (last_index && s_commit (self, last_index, last_term, &error))
        zkv_fatal ("storage: applying entries up to %llu failed: %s",
                   (unsigned long long) last_index, error);
    zkv_metrics_set (&zkv_metrics.keys_total, zkv_mvcc_keys (self->mvcc));
    if (self->members_version != self->members_version_told) {
        s_push_state (self, true);      //  raft connects to new members at once
        self->members_version_told = self->members_version;
    }
    zkv_space_wrote (self->space, ZKV_SPACE_APPENDED * bytes);
    self->bytes_since_told_raft += (uint64_t) bytes;
    s_alarm_changes_tell (self);
    msgpack_zone_free (zone);
    for (size_t i = 0; i < compaction_count; i++)
        if (zkv_io_send (self->hasher, &zkv_compaction_scheduled_desc, &compactions [i]) == 0
        &&  compactions [i].revision > self->hash_hold)
            self->hash_hold = compactions [i].revision;
    free (compactions);
    //  A physical compaction is answered once its deletions are done (an
    //  error reply, or one with nothing to delete, goes at once)
    for (size_t i = 0; i < physical.count; i++)
        s_answers_add (zkv_mvcc_compaction_pending (self->mvcc)? &self->after_compaction: answers,
                       physical.items [i].wait, (uint8_t *) physical.items [i].reply.data,
                       physical.items [i].reply.size);
    free (physical.items);
    if (self->after_compaction.count && !zkv_mvcc_compaction_pending (self->mvcc))
        s_answers_send (self, &self->after_compaction);
}

//  A chunk of a leader's state: read into table files at once when
//  nothing waits behind it, or landed on disk for steps to read
//  (s_install_step); once the last has come and the stream checks out,
//  the last step installs the files
static void
s_install (self_t *self, const zkv_snapshot_chunk_t *chunk)
{
    if (chunk->seq == 0 && chunk->index <= zkv_mvcc_applied_index (self->mvcc)) {
        zsys_info ("storage: ignoring a snapshot at %llu, applied %llu already",
                   (unsigned long long) chunk->index,
                   (unsigned long long) zkv_mvcc_applied_index (self->mvcc));
        return;
    }
    bool installing = zkv_snapshot_in_installing (self->install);
    if (chunk->seq == 0 && !installing) {
        zsys_info ("storage: receiving a snapshot at %llu from %016llx",
                   (unsigned long long) chunk->index, (unsigned long long) chunk->from);
        self->install_began = zclock_mono ();
    }
    char *error = NULL;
    int rc = zkv_snapshot_in_feed (self->install, chunk, zkv_io_ready (self->inbox), &error);
    //  A stream refused is said once, not for each of its chunks
    if (rc < 0 && (chunk->from != self->refused_from || chunk->stream != self->refused_stream)) {
        zsys_warning ("storage: snapshot stream refused: %s", error);
        self->refused_from = chunk->from;
        self->refused_stream = chunk->stream;
    }
    free (error);
    if (rc == 1)
        zsys_info ("storage: received a snapshot at %llu whole in %lld ms; installing it",
                   (unsigned long long) chunk->index,
                   (long long) (zclock_mono () - self->install_began));
}

//  A step of the install under way: when it is done, the state is
//  replaced and raft learns where it now stands
static void
s_install_step (self_t *self)
{
    //  A snapshot no newer than what is applied now is dropped: raft went
    //  on past it (from an earlier snapshot, and appends) while it was on
    //  its way, and installing it would take back applied entries
    uint64_t index = zkv_snapshot_in_index (self->install);
    if (index && index <= zkv_mvcc_applied_index (self->mvcc)) {
        zsys_info ("storage: dropping a snapshot at %llu: applied %llu already",
                   (unsigned long long) index,
                   (unsigned long long) zkv_mvcc_applied_index (self->mvcc));
        zkv_snapshot_in_cancel (self->install);
        return;
    }
    char *error = NULL;
    int rc = zkv_snapshot_in_step (self->install, &error);
    if (rc < 0) {
        zsys_warning ("storage: snapshot install failed, the state is as it was: %s", error);
        free (error);
        return;
    }
    if (rc == 0)
        return;
    //  Installed: read the new state's meta records and alarms again
    zkv_mvcc_destroy (&self->mvcc);
    self->mvcc = zkv_mvcc_new (self->args->engine, &error);
    if (!self->mvcc)
        zkv_fatal ("storage: cannot open the installed snapshot: %s", error);
    if (zkv_alarm_table_load (self->alarms, self->args->engine, &error))
        zkv_fatal ("storage: cannot read the installed snapshot's alarms: %s", error);
    if (zkv_members_conf (self->args->engine, &self->conf, &error))
        zkv_fatal ("storage: cannot read the installed snapshot's members: %s", error);
    self->members_version++;
    zsys_info ("storage: installed a snapshot at %llu (revision %lld) in %lld ms",
               (unsigned long long) zkv_mvcc_applied_index (self->mvcc),
               (long long) zkv_mvcc_revision (self->mvcc),
               (long long) (zclock_mono () - self->install_began));
    zkv_snapshot_installed_t installed = {
        .index = zkv_mvcc_applied_index (self->mvcc),
        .term = zkv_mvcc_applied_term (self->mvcc)
    };
    zkv_io_send (self->raft, &zkv_snapshot_installed_desc, &installed);
    zkv_metrics_set (&zkv_metrics.keys_total, zkv_mvcc_keys (self->mvcc));
    s_push_state (self, false);
}

static void
s_handle_inbox (self_t *self)
{
    s_answers_t answers = { NULL, 0, 0, 0 };
    bool applied = false;
    //  Drain what is waiting, then send every reply in one message
    zkv_msg_t *msg;
    int budget;
    for (budget = 1024; budget > 0 && zkv_io_try_recv (self->inbox, "storage", &msg);
         budget--) {
        if (!msg)
            continue;
        if (msg->desc == &zkv_apply_desc) {
            //  etcd's slow apply: past 100 ms (here: a whole batch)
            int64_t started = zclock_usecs ();
            s_apply (self, (zkv_apply_t *) msg->body, &answers);
            if (zclock_usecs () - started > SLOW_APPLY_USECS)
                zkv_metrics_add (&zkv_metrics.slow_apply, 1);
            applied = true;
            zkv_msg_destroy (&msg);
        }
        else
        if (msg->desc == &zkv_read_desc) {
            s_read_t *pending = (s_read_t *) calloc (1, sizeof (s_read_t));
            if (!pending)
                zkv_fatal ("out of memory");
            pending->msg = msg;
            zlistx_add_end (self->reads, pending);
        }
        else
        if (msg->desc == &zkv_compaction_hashed_desc) {
            if (((zkv_compaction_hashed_t *) msg->body)->revision >= self->hash_hold)
                self->hash_hold = -1;
            zkv_msg_destroy (&msg);
        }
        else
        if (msg->desc == &zkv_snapshot_chunk_desc) {
            s_install (self, (zkv_snapshot_chunk_t *) msg->body);
            zkv_msg_destroy (&msg);
        }
        else {
            zsys_error ("storage: unexpected message %s", msg->desc->name);
            zkv_msg_destroy (&msg);
        }
        if (answers.bytes >= ANSWERS_FLUSH_BYTES)
            s_answers_send (self, &answers);        //  (the batch is written)
    }
    if (budget == 0)
        zkv_waiter_again (self->waiter, self->inbox);   //  more may wait
    s_serve_reads (self, &answers);
    s_answers_send (self, &answers);
    free (answers.items);
    if (applied)
        s_push_state (self, false);
    if (self->late_reads && zclock_mono () >= self->late_reads_told + 1000) {
        zsys_info ("storage: %llu reads dropped or stopped past their deadline (their "
                   "clients had their timeout)", (unsigned long long) self->late_reads);
        self->late_reads = 0;
        self->late_reads_told = zclock_mono ();
    }
}

static void
s_compact_step (self_t *self)
{
    char *error = NULL;
    if (zkv_mvcc_compact_step (self->mvcc, COMPACT_STEP, &error))
        zkv_fatal ("storage: compaction failed: %s", error);
    if (!zkv_mvcc_compaction_pending (self->mvcc))
        s_answers_send (self, &self->after_compaction);
}

//  ---------------------------------------------------------------------
//  Lifecycle

static void
s_read_destroy (void **item_p)
{
    s_read_t *pending = (s_read_t *) *item_p;
    if (pending) {
        zkv_msg_destroy (&pending->msg);
        free (pending);
        *item_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe, zkv_storage_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->reads = zlistx_new ();
    zlistx_set_destructor (self->reads, s_read_destroy);
    self->hash_hold = -1;
    self->alarms = zkv_alarm_table_new ();
    //  Only $TERM stops an actor: the node stops them in order on a signal
    self->waiter = zkv_waiter_new ();
    zkv_waiter_add (self->waiter, pipe);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zkv_waiter_destroy (&self->waiter);
    zlistx_destroy (&self->reads);
    s_answers_free (&self->after_compaction);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->front);
    zsock_destroy (&self->raft);
    zsock_destroy (&self->hasher);
    zsock_destroy (&self->alarm);
    zkv_snapshot_in_destroy (&self->install);
    zkv_mvcc_destroy (&self->mvcc);
    zkv_alarm_table_destroy (&self->alarms);
    zkv_space_destroy (&self->space);
    free (self->alarm_changes);
    free (self);
    *self_p = NULL;
}

//  Opens the store and binds; returns NULL or an error text (static)
static const char *
s_start (self_t *self, char *error, size_t size)
{
    char *err = NULL;
    self->mvcc = zkv_mvcc_new (self->args->engine, &err);
    if (!self->mvcc || zkv_alarm_table_load (self->alarms, self->args->engine, &err)
    ||  zkv_members_conf (self->args->engine, &self->conf, &err)) {
        snprintf (error, size, "cannot open the store: %s", err);
        free (err);
        return error;
    }
    self->quota.quota = self->args->quota_bytes;
    zkv_metrics_set (&zkv_metrics.keys_total, zkv_mvcc_keys (self->mvcc));
    self->space = zkv_space_new (self->args->engine, self->args->space);
    self->inbox = zkv_io_inbox (self->args->storage);
    self->front = zkv_io_outbox (self->args->front);
    self->raft = zkv_io_outbox (self->args->raft);
    self->hasher = zkv_io_outbox (self->args->hasher);
    self->alarm = zkv_io_outbox (self->args->alarm);
    self->install = zkv_snapshot_in_new (self->args->engine);
    if (!self->inbox || !self->front || !self->raft || !self->hasher || !self->alarm
    ||  !self->install) {
        snprintf (error, size, "cannot bind %s or reach front and raft", self->args->storage);
        return error;
    }
    zkv_waiter_add (self->waiter, self->inbox);
    return NULL;
}

void
zkv_storage_actor (zsock_t *pipe, void *args)
{
    s_check_dispatch ();
    self_t *self = s_self_new (pipe, (zkv_storage_args_t *) args);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        bool compacting = self->mvcc && zkv_mvcc_compaction_pending (self->mvcc)
                       && self->hash_hold < 0;
        //  An install replaces the state: not before the hasher has the
        //  snapshot of the compaction it is hashing. Its steps read what
        //  came of a stream into table files while the rest comes.
        bool installing = self->install && zkv_snapshot_in_has_step (self->install)
                       && self->hash_hold < 0;
        zkv_metrics_set (&zkv_metrics.snapshot_apply_in_progress,
                         self->install && zkv_snapshot_in_installing (self->install));
        bool busy = compacting || installing || s_reads_ready (self);
        zsock_t *which = zkv_waiter_wait (self->waiter, busy? 0: -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            if (!command)
                break;
            zkv_waiter_again (self->waiter, pipe);      //  one command read, maybe answered
            if (streq (command, "START")) {
                char error [512];
                const char *failed = s_start (self, error, sizeof error);
                if (failed)
                    zstr_sendx (pipe, failed, NULL);
                else {
                    //  One message: "OK" and the applied index
                    char applied [32];
                    snprintf (applied, sizeof applied, "%llu",
                              (unsigned long long) zkv_mvcc_applied_index (self->mvcc));
                    zstr_sendx (pipe, "OK", applied, NULL);
                    s_push_state (self, true);
                }
            }
            else
            if (streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_error ("storage: invalid command '%s'", command);
            zstr_free (&command);
        }
        else
        if (which == self->inbox)
            s_handle_inbox (self);
        else {
            //  Idle: reads that waited for their slice, a step of the
            //  background work
            if (s_reads_ready (self)) {
                s_answers_t answers = { NULL, 0, 0, 0 };
                s_serve_reads (self, &answers);
                s_answers_send (self, &answers);
                free (answers.items);
            }
            if (compacting)
                s_compact_step (self);
            if (installing)
                s_install_step (self);
        }
    }
    s_self_destroy (&self);
}
