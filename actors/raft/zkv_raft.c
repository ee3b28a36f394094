/*  =========================================================================
    zkv_raft.c — the raft actor, single-member log (see zkv_raft.h).
    =========================================================================
*/
#include "zkv_raft.h"
#include "zkv_actor_io.h"
#include "zkv_raftlog.h"

#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 4096                  //  proposals per synced write at most
#define REPLAY_CHUNK 1024               //  entries per apply when replaying

typedef struct {
    zsock_t *pipe;                      //  actor command pipe
    zkv_raft_args_t *args;
    zsock_t *inbox;                     //  propose and read_index, from front
    zsock_t *storage;                   //  apply and read, to storage
    zsock_t *front;                     //  raft_state, to front
    zpoller_t *poller;
    zkv_raftlog_t *log;
    zkv_hard_state_t hard_state;        //  term, vote, commit as persisted
    bool terminated;
} self_t;

static void
s_push_state (self_t *self)
{
    zkv_raft_state_t state = {
        .term = self->hard_state.term,
        .leader = self->args->member_id,
        .commit = self->hard_state.commit,
        .role = zkv_bin ("leader", 6)
    };
    zkv_io_send (self->front, &zkv_raft_state_desc, &state);
}

//  Appends entries durably (fsync) and commits them: with one member, a
//  durable entry is a committed one. Then storage may apply them.
static void
s_append_and_commit (self_t *self, zkv_entry_t *entries, size_t count)
{
    if (count == 0)
        return;
    zkv_hard_state_t hard_state = self->hard_state;
    hard_state.commit = entries [count - 1].index;
    char *error = NULL;
    if (zkv_raftlog_append (self->log, entries, count, &hard_state, &error))
        zkv_fatal ("raft: writing the log failed: %s", error);
    self->hard_state = hard_state;
    zkv_apply_t apply = { .entries = { entries, count } };
    zkv_io_send (self->storage, &zkv_apply_desc, &apply);
}

static void
s_handle_inbox (self_t *self)
{
    zkv_entry_t entries [MAX_BATCH];
    zkv_msg_t *messages [MAX_BATCH];    //  keep the bytes the entries point into
    size_t count = 0, held = 0;
    zkv_msg_t *reads [MAX_BATCH];
    size_t read_count = 0;
    uint64_t next = zkv_raftlog_last_index (self->log) + 1;

    //  Group commit: take everything waiting, up to a batch
    while (held < MAX_BATCH && read_count < MAX_BATCH && zkv_io_ready (self->inbox)) {
        zkv_msg_t *msg = zkv_io_recv (self->inbox, "raft");
        if (!msg)
            continue;
        if (msg->desc == &zkv_propose_desc) {
            zkv_propose_t *propose = (zkv_propose_t *) msg->body;
            entries [count].index = next++;
            entries [count].term = self->hard_state.term;
            entries [count].type = 0;
            entries [count].data = propose->request;
            count++;
            messages [held++] = msg;
        }
        else
        if (msg->desc == &zkv_read_index_desc)
            reads [read_count++] = msg;
        else {
            zsys_error ("raft: unexpected message %s", msg->desc->name);
            zkv_msg_destroy (&msg);
        }
    }
    s_append_and_commit (self, entries, count);
    //  A read waits for everything committed before it was asked, which
    //  includes the entries of this batch
    for (size_t i = 0; i < read_count; i++) {
        zkv_read_index_t *request = (zkv_read_index_t *) reads [i]->body;
        zkv_read_t read = {
            .wait = request->wait,
            .index = self->hard_state.commit,
            .request = request->request
        };
        zkv_io_send (self->storage, &zkv_read_desc, &read);
        zkv_msg_destroy (&reads [i]);
    }
    for (size_t i = 0; i < held; i++)
        zkv_msg_destroy (&messages [i]);
}

//  Loads the log, takes a new term with its empty entry, and replays the
//  committed entries storage has not applied
static const char *
s_start (self_t *self, uint64_t applied, char *error, size_t size)
{
    char *err = NULL;
    self->log = zkv_raftlog_new (self->args->engine, &err);
    if (!self->log) {
        snprintf (error, size, "cannot read the raft log: %s", err);
        free (err);
        return error;
    }
    self->hard_state = zkv_raftlog_hard_state (self->log);
    uint64_t first = zkv_raftlog_first_index (self->log);
    uint64_t last = zkv_raftlog_last_index (self->log);
    if (applied + 1 < first) {
        snprintf (error, size, "raft log starts at %llu but storage applied only %llu",
                  (unsigned long long) first, (unsigned long long) applied);
        return error;
    }
    if (applied > last) {
        snprintf (error, size, "storage applied %llu but the raft log ends at %llu",
                  (unsigned long long) applied, (unsigned long long) last);
        return error;
    }
    self->inbox = zkv_io_inbox (self->args->inbox);
    self->storage = zkv_io_outbox (self->args->storage);
    self->front = zkv_io_outbox (self->args->front);
    if (!self->inbox || !self->storage || !self->front) {
        snprintf (error, size, "cannot bind %s or reach storage and front", self->args->inbox);
        return error;
    }
    //  Every entry in the log was durable, and one member is a quorum:
    //  all of them are committed. Replay what storage has not applied.
    for (uint64_t lo = applied + 1; lo <= last; lo += REPLAY_CHUNK) {
        uint64_t hi = lo + REPLAY_CHUNK <= last + 1? lo + REPLAY_CHUNK: last + 1;
        msgpack_zone *zone = msgpack_zone_new (65536);
        zkv_entry_list_t entries;
        if (zkv_raftlog_entries (self->log, lo, hi, zone, &entries, &err)) {
            snprintf (error, size, "cannot replay the raft log: %s", err);
            free (err);
            msgpack_zone_free (zone);
            return error;
        }
        zkv_apply_t apply = { .entries = entries };
        zkv_io_send (self->storage, &zkv_apply_desc, &apply);
        msgpack_zone_free (zone);
    }
    //  A new term, and the leader's empty entry to commit in it
    self->hard_state.term++;
    self->hard_state.vote = self->args->member_id;
    zkv_entry_t empty = {
        .index = last + 1, .term = self->hard_state.term, .type = 0, .data = { NULL, 0 }
    };
    s_append_and_commit (self, &empty, 1);
    zpoller_add (self->poller, self->inbox);
    s_push_state (self);
    return NULL;
}

void
zkv_raft_actor (zsock_t *pipe, void *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = (zkv_raft_args_t *) args;
    self->poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (self->poller, true);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == pipe) {
            zmsg_t *request = zmsg_recv (pipe);
            if (!request)
                break;
            char *command = zmsg_popstr (request);
            if (streq (command, "START")) {
                char *applied = zmsg_popstr (request);
                char error [512];
                const char *failed = s_start (self, applied? strtoull (applied, NULL, 10): 0,
                                              error, sizeof error);
                zstr_send (pipe, failed? failed: "OK");
                zstr_free (&applied);
            }
            else
            if (streq (command, "$TERM"))
                self->terminated = true;
            else
                zsys_error ("raft: invalid command '%s'", command);
            zstr_free (&command);
            zmsg_destroy (&request);
        }
        else
        if (which == self->inbox)
            s_handle_inbox (self);
    }
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->storage);
    zsock_destroy (&self->front);
    zkv_raftlog_destroy (&self->log);
    free (self);
}
