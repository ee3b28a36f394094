/*  =========================================================================
    zkv_hasher.c — the hasher actor (see zkv_hasher.h).
    =========================================================================
*/
#include "zkv_hasher.h"
#include "zkv_metrics.h"
#include "zkv_actor_io.h"
#include "zkv_fatal.h"
#include "zkv_hash.h"

#include <stdlib.h>
#include <string.h>

#define ASKS_REMEMBERED 64

//  The hash of the history up to revision, taken just before the
//  compaction to revision; compact_revision is the compaction before it
typedef struct {
    int64_t revision;
    int64_t compact_revision;
    uint32_t hash;
} s_compaction_hash_t;

//  An answer to a member's ask, kept to be sent again
typedef struct {
    uint64_t asker;                     //  0: unused
    uint64_t number;
    bool failed;
    zkv_header_t header;
    zkv_hash_kv_response_t response;
    char code [32];
    char message [200];
} s_answered_t;

typedef struct {
    zsock_t *pipe;
    zkv_hasher_args_t *args;
    zsock_t *inbox;
    zsock_t *front;
    zsock_t *storage;
    zsock_t *raft;                      //  answers to other members' asks
    zpoller_t *poller;
    s_compaction_hash_t cache [ZKV_COMPACTION_HASHES];
    size_t cached;                      //  entries in use
    size_t oldest;                      //  next to replace once full
    //  The answers to the asks answered last: an ask sent again (the
    //  initial check resends, since an answer may be lost while a peer
    //  reconnects) gets its answer again, without a second hash
    s_answered_t answered [ASKS_REMEMBERED];
    size_t next_answered;
    bool terminated;
} self_t;

static const s_compaction_hash_t *
s_cache_find (self_t *self, int64_t revision)
{
    for (size_t i = 0; i < self->cached; i++)
        if (self->cache [i].revision == revision)
            return &self->cache [i];
    return NULL;
}

static void
s_cache_store (self_t *self, const s_compaction_hash_t *entry)
{
    if (self->cached < ZKV_COMPACTION_HASHES)
        self->cache [self->cached++] = *entry;
    else {
        self->cache [self->oldest] = *entry;
        self->oldest = (self->oldest + 1) % ZKV_COMPACTION_HASHES;
    }
}

//  Sends a member's ask its answer
static void
s_answer_again (self_t *self, s_answered_t *kept)
{
    zkv_error_t error = {
        .code = zkv_bin (kept->code, strlen (kept->code)),
        .message = zkv_bin (kept->message, strlen (kept->message))
    };
    kept->response.header = &kept->header;
    zkv_hash_answer_t answer = {
        .number = kept->number, .asker = kept->asker, .member = self->args->member_id,
        .response = kept->failed? NULL: &kept->response, .error = kept->failed? &error: NULL
    };
    zkv_io_send (self->raft, &zkv_hash_answer_desc, &answer);
}

//  Answers the order: front with response (of type desc), or, when status
//  is not NULL, with that error; a member's ask goes back to raft as a
//  hash_answer
static void
s_answer (self_t *self, const zkv_hash_order_t *order, const zkv_desc_t *desc,
          const void *response, const zkv_header_t *header, const zkv_result_t *status)
{
    if (order->ask) {
        //  Kept, then sent
        s_answered_t *kept = &self->answered [self->next_answered];
        self->next_answered = (self->next_answered + 1) % ASKS_REMEMBERED;
        memset (kept, 0, sizeof *kept);
        kept->asker = order->ask->asker;
        kept->number = order->ask->number;
        kept->failed = status != NULL;
        if (status) {
            snprintf (kept->code, sizeof kept->code, "%s", zkv_err_code (status->err));
            zkv_status_text (status, kept->message, sizeof kept->message);
        }
        else {
            kept->response = *(const zkv_hash_kv_response_t *) response;
            kept->header = *kept->response.header;
        }
        s_answer_again (self, kept);
        return;
    }
    size_t size;
    uint8_t *body = status? zkv_msg_encode_error (status, header, &size)
                          : zkv_msg_encode_body (desc, response, &size);
    if (!body)
        zkv_fatal ("out of memory");
    zkv_answer_t answer = { .wait = order->wait, .reply = zkv_bin (body, size) };
    zkv_answers_t answers = { .answers = { &answer, 1 } };
    zkv_io_send (self->front, &zkv_answers_desc, &answers);
    free (body);
}

static void
s_hash_order (self_t *self, const zkv_hash_order_t *order)
{
    zkv_engine_t *engine = self->args->engine;
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (engine);
    zkv_hash_state_t state;
    zkv_result_t status;
    char *error = NULL;
    uint32_t hash = 0;
    int rc = zkv_hash_state (engine, snapshot, &state, &error);
    //  Another member's ask is a HashKV
    zkv_hash_kv_t asked = { .revision = order->ask? order->ask->revision: 0 };
    const zkv_hash_kv_t *hash_kv = order->ask? &asked: order->hash_kv;
    zkv_header_t header = {
        .cluster_id = self->args->cluster_id, .member_id = self->args->member_id,
        .revision = rc == 0? state.revision: 0, .raft_term = rc == 0? state.applied_term: 0
    };
    if (rc == 0 && hash_kv) {
        int64_t revision = hash_kv->revision;
        const s_compaction_hash_t *cached = revision > 0? s_cache_find (self, revision): NULL;
        zkv_hash_kv_response_t response = { .header = &header };
        if (cached) {
            response.hash = cached->hash;
            response.compact_revision = cached->compact_revision;
            response.hash_revision = revision;
        }
        else
        if (revision > 0 && revision < state.compact_revision) {
            zkv_status_set (&status, ZKV_ERR_COMPACTED, NULL);
            rc = 1;
        }
        else
        if (revision > 0 && revision > state.revision) {
            zkv_status_set (&status, ZKV_ERR_FUTURE_REV, NULL);
            rc = 1;
        }
        else {
            if (revision == 0)
                revision = state.revision;
            int64_t started = zclock_usecs ();
            rc = zkv_hash_kv (engine, snapshot, revision, state.compact_revision,
                              ZKV_KEEP_LIVE, &hash, &error);
            zkv_metrics_observe (&zkv_metrics.hash_rev, (zclock_usecs () - started) * 1000);
            response.hash = hash;
            response.compact_revision = state.compact_revision;
            response.hash_revision = revision;
        }
        if (rc == 0)
            s_answer (self, order, &zkv_hash_kv_response_desc, &response, NULL, NULL);
    }
    else
    if (rc == 0) {
        int64_t started = zclock_usecs ();
        rc = zkv_hash_all (engine, snapshot, &hash, &error);
        zkv_metrics_observe (&zkv_metrics.hash, (zclock_usecs () - started) * 1000);
        zkv_hash_response_t response = { .header = &header, .hash = hash };
        if (rc == 0)
            s_answer (self, order, &zkv_hash_response_desc, &response, NULL, NULL);
    }
    zkv_engine_snapshot_release (engine, snapshot);
    if (rc < 0) {
        zsys_error ("hasher: %s", error);
        zkv_status_set (&status, ZKV_ERR_INTERNAL, "%s", error);
        free (error);
    }
    if (rc)
        s_answer (self, order, NULL, NULL, &header, &status);
}

//  A compaction was applied: take its snapshot, let storage go on, then
//  hash what the history up to its revision was just before it
static void
s_compaction (self_t *self, const zkv_compaction_scheduled_t *compaction)
{
    zkv_engine_t *engine = self->args->engine;
    const rocksdb_snapshot_t *snapshot = zkv_engine_snapshot (engine);
    zkv_compaction_hashed_t hashed = { .revision = compaction->revision };
    zkv_io_send (self->storage, &zkv_compaction_hashed_desc, &hashed);
    s_compaction_hash_t entry = {
        .revision = compaction->revision, .compact_revision = compaction->previous
    };
    char *error = NULL;
    if (zkv_hash_kv (engine, snapshot, compaction->revision, compaction->previous,
                     ZKV_KEEP_COMPACTION, &entry.hash, &error) == 0)
        s_cache_store (self, &entry);
    else {
        zsys_error ("hasher: hashing compaction %lld: %s", (long long) compaction->revision,
                    error);
        free (error);
    }
    zkv_engine_snapshot_release (engine, snapshot);
}

static bool
s_same_ask (const zkv_hash_ask_t *a, const zkv_hash_ask_t *b)
{
    return a && b && a->asker == b->asker && a->number == b->number;
}

//  True if msg is a member's ask seen before: answered (then answered
//  again from what was kept) or waiting in orders
static bool
s_asked_before (self_t *self, zlistx_t *orders, zkv_msg_t *msg)
{
    const zkv_hash_ask_t *ask = ((const zkv_hash_order_t *) msg->body)->ask;
    if (!ask)
        return false;
    for (size_t i = 0; i < ASKS_REMEMBERED; i++)
        if (self->answered [i].asker == ask->asker && self->answered [i].number == ask->number) {
            s_answer_again (self, &self->answered [i]);
            return true;
        }
    for (zkv_msg_t *queued = (zkv_msg_t *) zlistx_first (orders); queued;
         queued = (zkv_msg_t *) zlistx_next (orders))
        if (s_same_ask (((const zkv_hash_order_t *) queued->body)->ask, ask))
            return true;
    return false;
}

//  Takes every message waiting, and handles the compactions first: the
//  inbox queues storage's and front's messages apart, and a HashKV (R)
//  that a client sends once its compaction to R is answered must find
//  that compaction's hash, which storage sent before the answer
static void
s_handle_inbox (self_t *self)
{
    zlistx_t *orders = zlistx_new ();
    zkv_msg_t *msg;
    while (zkv_io_try_recv (self->inbox, "hasher", &msg)) {
        if (!msg)
            continue;
        if (msg->desc == &zkv_compaction_scheduled_desc) {
            s_compaction (self, (zkv_compaction_scheduled_t *) msg->body);
            zkv_msg_destroy (&msg);
        }
        else
        if (msg->desc == &zkv_hash_order_desc && s_asked_before (self, orders, msg))
            zkv_msg_destroy (&msg);
        else
        if (msg->desc == &zkv_hash_order_desc)
            zlistx_add_end (orders, msg);
        else {
            zsys_error ("hasher: unexpected message %s", msg->desc->name);
            zkv_msg_destroy (&msg);
        }
    }
    for (zkv_msg_t *msg = (zkv_msg_t *) zlistx_first (orders); msg;
         msg = (zkv_msg_t *) zlistx_next (orders)) {
        s_hash_order (self, (zkv_hash_order_t *) msg->body);
        zkv_msg_destroy (&msg);
    }
    zlistx_destroy (&orders);
}

static self_t *
s_self_new (zsock_t *pipe, zkv_hasher_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (self->poller, true);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->front);
    zsock_destroy (&self->storage);
    zsock_destroy (&self->raft);
    free (self);
    *self_p = NULL;
}

void
zkv_hasher_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zkv_hasher_args_t *) args);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == pipe) {
            const char *endpoints [] = {
                self->args->front, self->args->storage, self->args->raft
            };
            zsock_t **outboxes [] = { &self->front, &self->storage, &self->raft };
            self->terminated = !zkv_io_pipe_command (pipe, self->poller, "hasher",
                                                     self->args->hasher, &self->inbox,
                                                     endpoints, outboxes, 3);
        }
        else
        if (which == self->inbox)
            s_handle_inbox (self);
    }
    s_self_destroy (&self);
}
