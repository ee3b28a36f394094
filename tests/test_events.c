/*  test_events.c — what a member publishes on its events socket, numbered
    (seq, boot) and with hellos, and zkvctl events as a subscriber that
    tells what it missed and finds a member again after a restart. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cluster_fixture.h"
#include "zkv_file_read.h"
#include "zkv_spawn.h"

TestSuite (events, .fini = cf_teardown, .timeout = 120);

//  ---------------------------------------------------------------------
//  seq, boot and hello on the wire

//  The member, seq and boot of an event body (0 when it has none), read
//  as any subscriber would, whatever its topic
static void
s_stamps (zframe_t *body, uint64_t *member, uint64_t *seq, uint64_t *boot)
{
    *member = *seq = *boot = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    if (msgpack_unpack_next (&unpacked, (const char *) zframe_data (body), zframe_size (body),
                             &offset) == MSGPACK_UNPACK_SUCCESS
    &&  unpacked.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &unpacked.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *key = &map->ptr [i].key;
            const msgpack_object *value = &map->ptr [i].val;
            if (key->type != MSGPACK_OBJECT_STR || value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                continue;
            const char *names [] = { "member", "seq", "boot" };
            uint64_t *values [] = { member, seq, boot };
            for (size_t n = 0; n < 3; n++)
                if (key->via.str.size == strlen (names [n])
                &&  memcmp (key->via.str.ptr, names [n], key->via.str.size) == 0)
                    *values [n] = value->via.u64;
        }
    }
    msgpack_unpacked_destroy (&unpacked);
}

//  What a subscriber knows of one member
typedef struct {
    uint64_t id;
    uint64_t boot;              //  0 until its first hello
    uint64_t seq;               //  its last event's
    bool defragged;             //  its defrag event came
} s_member_t;

//  Takes one message from sub (up to msecs); asserts that it follows what
//  its member published before. Returns false when none came.
static bool
s_take (zsock_t *sub, s_member_t *members, size_t count, int msecs)
{
    zpoller_t *poller = zpoller_new (sub, NULL);
    bool took = zpoller_wait (poller, msecs) != NULL;
    zpoller_destroy (&poller);
    if (!took)
        return false;
    zmsg_t *msg = zmsg_recv (sub);
    char *topic = zmsg_popstr (msg);
    zframe_t *body = zmsg_pop (msg);
    cr_assert (topic && body);
    uint64_t id, seq, boot;
    s_stamps (body, &id, &seq, &boot);
    bool hello = streq (topic, "hello");
    if (hello) {
        msgpack_zone *zone = msgpack_zone_new (1024);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status;
        const zkv_hello_event_t *decoded = (const zkv_hello_event_t *) zkv_msg_decode_body (
            zframe_data (body), zframe_size (body), &zkv_hello_event_desc, zone, &limits,
            &status);
        cr_assert_not_null (decoded, "a hello that does not decode: %s", status.detail);
        cr_assert_eq (decoded->interval_ms, 1000);
        msgpack_zone_free (zone);
    }
    else {
        cr_assert_gt (seq, 0, "a %s event without seq", topic);
        cr_assert_gt (boot, 0, "a %s event without boot", topic);
    }
    s_member_t *member = NULL;
    for (size_t i = 0; i < count && !member; i++)
        if (members [i].id == id)
            member = &members [i];
    cr_assert_not_null (member, "a %s message of member %016" PRIx64, topic, id);
    //  Once a member said hello, each of its events is the next, and each
    //  hello tells the last
    if (member->boot) {
        cr_assert_eq (boot, member->boot);
        cr_assert_eq (seq, hello? member->seq: member->seq + 1,
                      "a %s message of %016" PRIx64 " numbered %" PRIu64 " after %" PRIu64,
                      topic, id, seq, member->seq);
    }
    if (hello || member->boot) {
        member->boot = boot;
        member->seq = seq;
    }
    if (member->boot && streq (topic, "defrag"))
        member->defragged = true;
    zframe_destroy (&body);
    zstr_free (&topic);
    zmsg_destroy (&msg);
    return true;
}

Test (events, every_event_is_numbered_and_every_member_says_hello)
{
    cf_up (NULL);
    zsock_t *sub = cf_subscribe ();
    s_member_t members [3] = {
        { .id = cf_member_id ("n1") }, { .id = cf_member_id ("n2") },
        { .id = cf_member_id ("n3") }
    };
    //  A hello from each: the subscription is live everywhere
    int64_t deadline = zclock_mono () + 20000;
    while (!(members [0].boot && members [1].boot && members [2].boot)
       &&  zclock_mono () < deadline)
        s_take (sub, members, 3, 100);
    cr_assert (members [0].boot && members [1].boot && members [2].boot, "no hello from all");
    cr_assert (members [0].boot != members [1].boot || members [0].boot != members [2].boot);
    //  Then no event is missed: each is the next of its member
    const char *names [] = { "n1", "n2", "n3" };
    for (size_t i = 0; i < 3; i++) {
        zkv_defragment_t defragment = { false };
        zkv_msg_t *reply = cf_call (names [i], &zkv_defragment_desc, &defragment);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
    }
    deadline = zclock_mono () + 20000;
    while (!(members [0].defragged && members [1].defragged && members [2].defragged)
       &&  zclock_mono () < deadline)
        s_take (sub, members, 3, 100);
    cr_assert (members [0].defragged && members [1].defragged && members [2].defragged,
               "a defrag event did not come");
    //  And the hellos after tell the same last seq (s_take checks)
    for (int i = 0; i < 40; i++)
        s_take (sub, members, 3, 100);
    zsock_destroy (&sub);
}

//  ---------------------------------------------------------------------
//  zkvctl events: what it missed, told

Test (events, zkvctl_events_tells_the_events_it_missed)
{
    zactor_t *fake = zactor_new (zkv_fake_publisher, NULL);
    char *endpoint = zstr_recv (fake);
    cr_assert (endpoint && *endpoint, "the fake member could not bind");
    const char *argv [] = { ZKVCTL_BIN, "--endpoints", endpoint, "--command-timeout", "30s",
                            "events", "--max-events", "3", NULL };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out,
        "defrag member=0000000000000abc db_size_before=100 db_size=10 took_usecs=7 seq=1 boot=5\n"
        "defrag member=0000000000000abc db_size_before=100 db_size=11 took_usecs=7 seq=4 boot=5\n"
        "defrag member=0000000000000abc db_size_before=100 db_size=12 took_usecs=7 seq=2 boot=6\n");
    char *restarted = zsys_sprintf ("Member 0000000000000abc restarted at tcp://127.0.0.1:");
    cr_assert (strstr (run.err, "Missed 2 events of member 0000000000000abc (seq 2 to 3)\n")
               && strstr (run.err, restarted)
               && strstr (run.err, "Missed 1 event of member 0000000000000abc (seq 1 to 1)\n"),
               "%s", run.err);
    free (restarted);
    zkv_run_free (&run);
    zstr_free (&endpoint);
    zactor_destroy (&fake);
}

//  ---------------------------------------------------------------------
//  zkvctl events and a member restarted

//  For eventually (): defragments a member, until the events zkvctl
//  printed so far (its stdout, in a file) hold one more defrag event of
//  it, printed after `after` (an offset in that output)
typedef struct {
    const char *name;
    const char *out;            //  zkvctl's stdout
    size_t after;
    char line [64];             //  "defrag member=<its id> "
    size_t found;               //  where the event was printed
} s_defragging_t;

static bool
s_defrag_printed (void *args)
{
    s_defragging_t *self = (s_defragging_t *) args;
    char *out = zkv_file_read (self->out, 0);
    const char *found = out && strlen (out) > self->after? strstr (out + self->after, self->line)
                                                          : NULL;
    if (found)
        self->found = (size_t) (found - out);
    free (out);
    if (found)
        return true;
    zkv_defragment_t defragment = { false };
    zkv_msg_t *reply = cf_call (self->name, &zkv_defragment_desc, &defragment);
    zkv_msg_destroy (&reply);          //  (fails while it starts again)
    return false;
}

//  For eventually (): a file holds a text
typedef struct {
    const char *path;
    const char *text;
} s_says_t;

static bool
s_says (void *args)
{
    s_says_t *self = (s_says_t *) args;
    char *text = zkv_file_read (self->path, 0);
    bool says = text && strstr (text, self->text);
    free (text);
    return says;
}

//  The boot printed on a line of zkvctl's output (0: none)
static uint64_t
s_boot_at (const char *path, size_t at)
{
    char *text = zkv_file_read (path, 0);
    const char *boot = text && strlen (text) > at? strstr (text + at, " boot="): NULL;
    uint64_t value = boot? strtoull (boot + 6, NULL, 10): 0;
    free (text);
    return value;
}

//  zkvctl events --cluster kept the subscription to a member killed and
//  started again on a new events port, and printed none of its events
//  after (and said nothing of it)
Test (events, zkvctl_events_finds_a_restarted_member)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *victim = streq (leader, "n1")? "n2": "n1";
    char out [256], err [256];
    snprintf (out, sizeof out, "%s/events.out", cf_dir);
    snprintf (err, sizeof err, "%s/events.err", cf_dir);
    const char *argv [] = { ZKVCTL_BIN, "--cluster-file", zkv_harness_file (cf_cluster),
                            "events", "--cluster", "--topic", "defrag", NULL };
    zkv_spawn_t spawn = { .argv = argv, .path = { "/dev/null", out, err } };
    pid_t pid = zkv_spawn (&spawn);
    cr_assert_gt (pid, 0);
    s_defragging_t defragging = { .name = victim, .out = out };
    snprintf (defragging.line, sizeof defragging.line, "defrag member=%016" PRIx64 " ",
              cf_member_id (victim));
    cr_assert (eventually (s_defrag_printed, &defragging, 20000),
               "zkvctl events printed no defrag of %s", victim);
    uint64_t boot = s_boot_at (out, defragging.found);
    cr_assert_gt (boot, 0);

    //  Killed: lost; started again: found, and its events printed again
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGKILL), 0);
    char said [128];
    snprintf (said, sizeof said, "Member %016" PRIx64 " lost at ", cf_member_id (victim));
    s_says_t lost = { err, said };
    cr_assert (eventually (s_says, &lost, 20000), "zkvctl did not tell %s lost", victim);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, victim, error, sizeof error), 0, "%s", error);
    snprintf (said, sizeof said, "Member %016" PRIx64 " found again at ", cf_member_id (victim));
    s_says_t found = { err, said };
    cr_assert (eventually (s_says, &found, 20000), "zkvctl did not find %s again", victim);
    defragging.after = defragging.found + 1;
    cr_assert (eventually (s_defrag_printed, &defragging, 20000),
               "zkvctl events printed no defrag of %s after its restart", victim);
    cr_assert_neq (s_boot_at (out, defragging.found), boot, "the same boot after a restart");

    //  Interrupted, it ends as any command
    kill (pid, SIGINT);
    int status;
    cr_assert_eq (waitpid (pid, &status, 0), pid);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "zkvctl events ended with %d",
               status);
    char *text = zkv_file_read (err, 0);
    cr_assert (strstr (text, "(restarted)"), "%s", text);
    free (text);
}
