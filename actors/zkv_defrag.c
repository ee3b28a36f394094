/*  =========================================================================
    zkv_defrag.c — the defrag actor (see zkv_defrag.h).
    =========================================================================
*/
#include "zkv_defrag.h"
#include "zkv_metrics.h"
#include "zkv_actor_io.h"
#include "zkv_fatal.h"
#include "zkv_grow.h"
#include "zkv_space.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    zsock_t *pipe;
    zkv_defrag_args_t *args;
    zsock_t *inbox;
    zsock_t *front;
    zpoller_t *poller;
    zkv_space_t *space;                 //  does the disk hold a defragmentation?
    bool terminated;
} self_t;

//  The disk's room besides what RocksDB owes it already (the reserve,
//  released when NOSPACE was raised, is there for a defragmentation: it is
//  not counted as owed), in *room: true when the free-disk guard is on and
//  could measure it (a failed measure is logged)
static bool
s_room (self_t *self, int64_t *room)
{
    if (!zkv_space_enabled (self->space))
        return false;
    char *error = NULL;
    if (zkv_space_measure (self->space, zclock_mono (), &error)) {
        zsys_warning ("defrag: %s", error);
        free (error);
        return false;
    }
    const zkv_space_view_t *view = zkv_space_view (self->space);
    *room = view->free - view->memtables - view->compaction;
    return true;
}

//  A defragmentation writes what it keeps before it drops what it
//  rewrote: it goes only when the disk has room for that (or no figures
//  say otherwise: as before the guard). Returns 0, or -1 with status set
//  (the member goes on: better than a full disk)
static int
s_disk_holds (self_t *self, zkv_result_t *status)
{
    int64_t room;
    if (!s_room (self, &room))
        return 0;
    int64_t need = zkv_engine_defrag_need (self->args->engine);
    if (room >= need)
        return 0;
    zkv_status_set (status, ZKV_ERR_DISK_SHORT, "a defragmentation would write up to %lld "
                    "bytes, and the disk has %lld free besides what RocksDB owes it: delete "
                    "and compact first, or free disk", (long long) need, (long long) room);
    char text [512];
    zkv_status_text (status, text, sizeof text);
    zsys_warning ("defrag: refused: %s", text);
    return -1;
}

//  The raft log is compacted last, and only when that frees anything (a
//  range deletion of entries raft compacted away is in its table files)
//  and the disk has room for a rewrite of all of it then: it is not
//  counted in what the defragmentation needs before it starts
//  (zkv_engine_defrag_need), since a log of large entries nobody deleted
//  would be rewritten whole for nothing, and could refuse the
//  defragmentation that frees the rest
static bool
s_raft_log_worth_it (self_t *self)
{
    zkv_engine_t *engine = self->args->engine;
    if (!zkv_engine_defrag_frees (engine, ZKV_CF_RAFT_LOG))
        return false;
    if (!zkv_space_enabled (self->space))
        return true;
    int64_t room;
    if (!s_room (self, &room))
        return false;                   //  no figures: not this optional rewrite
    int64_t need = (int64_t) zkv_engine_property (engine, ZKV_CF_RAFT_LOG,
                                                  "rocksdb.total-sst-files-size");
    if (room >= need)
        return true;
    zsys_warning ("defrag: the raft log (%lld bytes) not compacted: the disk has %lld free "
                  "besides what RocksDB owes it", (long long) need, (long long) room);
    return false;
}

//  Flushes and compacts every family; fills response, or status on failure
static int
s_defragment (self_t *self, zkv_defragment_response_t *response, zkv_result_t *status)
{
    zkv_engine_t *engine = self->args->engine;
    if (s_disk_holds (self, status))
        return -1;
    int64_t started = zclock_usecs ();
    zkv_engine_sizes (engine, &response->db_size_before, &response->db_size_in_use_before);
    char *error = NULL;
    int rc = zkv_engine_flush (engine, &error);
    for (int cf = 0; cf < ZKV_CF_COUNT && rc == 0; cf++)
        if (cf != ZKV_CF_RAFT_LOG || s_raft_log_worth_it (self))
            rc = zkv_engine_compact (engine, (zkv_cf_t) cf, &error);
    if (rc) {
        zsys_error ("defrag: %s", error);
        zkv_status_set (status, ZKV_ERR_INTERNAL, "%s", error);
        free (error);
        return -1;
    }
    zkv_engine_sizes (engine, &response->db_size, &response->db_size_in_use);
    response->took_usecs = (uint64_t) (zclock_usecs () - started);
    zkv_metrics_observe (&zkv_metrics.defrag, (int64_t) response->took_usecs * 1000);
    zsys_info ("defrag: %lld -> %lld bytes in %.3f s", (long long) response->db_size_before,
               (long long) response->db_size, response->took_usecs / 1e6);
    return 0;
}

//  Runs one defragmentation for the order, then answers it and every
//  order that came meanwhile with the same answer
static void
s_run (self_t *self, const zkv_defrag_order_t *first)
{
    //  (front writes the header of the answer: the store's revision is not
    //  known here)
    zkv_defragment_response_t response = { .header = NULL };
    zkv_result_t status;
    int rc = s_defragment (self, &response, &status);
    if (rc == 0) {
        zkv_defrag_event_t event = {
            .member = self->args->member_id, .db_size_before = response.db_size_before,
            .db_size = response.db_size, .took_usecs = response.took_usecs
        };
        zkv_io_event (self->front, "defrag", &zkv_defrag_event_desc, &event);
    }
    size_t size;
    uint8_t *body = rc? zkv_msg_encode_error (&status, NULL, &size)
                      : zkv_msg_encode_body (&zkv_defragment_response_desc, &response, &size);
    if (!body)
        zkv_fatal ("out of memory");
    size_t count = 0, room = 16;
    zkv_answer_t *answers = (zkv_answer_t *) malloc (room * sizeof (zkv_answer_t));
    if (!answers)
        zkv_fatal ("out of memory");
    answers [count++] = (zkv_answer_t) { .wait = first->wait, .reply = zkv_bin (body, size) };
    zkv_msg_t *msg;
    while (zkv_io_try_recv (self->inbox, "defrag", &msg)) {
        if (msg && msg->desc == &zkv_defrag_order_desc) {
            if (zkv_grow ((void **) &answers, &room, count + 1, sizeof (zkv_answer_t)))
                zkv_fatal ("out of memory");
            answers [count++] = (zkv_answer_t) {
                .wait = ((zkv_defrag_order_t *) msg->body)->wait, .reply = zkv_bin (body, size)
            };
        }
        else
        if (msg)
            zsys_error ("defrag: unexpected message %s", msg->desc->name);
        zkv_msg_destroy (&msg);
    }
    zkv_answers_t message = { .answers = { answers, count } };
    zkv_io_send (self->front, &zkv_answers_desc, &message);
    free (answers);
    free (body);
}

static self_t *
s_self_new (zsock_t *pipe, zkv_defrag_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->space = zkv_space_new (args->engine, args->space);
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
    zkv_space_destroy (&self->space);
    free (self);
    *self_p = NULL;
}

void
zkv_defrag_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zkv_defrag_args_t *) args);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == pipe) {
            const char *endpoints [] = { self->args->front };
            zsock_t **outboxes [] = { &self->front };
            self->terminated = !zkv_io_pipe_command (pipe, self->poller, "defrag",
                                                     self->args->defrag, &self->inbox,
                                                     endpoints, outboxes, 1);
        }
        else
        if (which == self->inbox) {
            zkv_msg_t *msg = zkv_io_recv (self->inbox, "defrag");
            if (msg && msg->desc == &zkv_defrag_order_desc)
                s_run (self, (zkv_defrag_order_t *) msg->body);
            else
            if (msg)
                zsys_error ("defrag: unexpected message %s", msg->desc->name);
            zkv_msg_destroy (&msg);
        }
    }
    s_self_destroy (&self);
}
