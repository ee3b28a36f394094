/*  test_alarms.c — alarms on real 3-member clusters: NOSPACE raised by the
    quota, seen on every member, lifted by delete + compact + defrag +
    disarm, and raised again when disarmed without freeing space; CORRUPT
    refusing writes and compaction on every member while reads and
    maintenance work; alarms published as events and kept across a full
    cluster restart; zkvctl alarm list, disarm and activate. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cluster_fixture.h"
#include "eventually.h"
#include "zkv_testnode.h"

TestSuite (alarms, .fini = cf_teardown, .timeout = 120);

static zkv_run_t
s_zkvctl (const char *const *words)
{
    return cf_zkvctl (zkv_harness_endpoints (cf_cluster), words);
}

//  The error text of a reply ("" when it succeeded)
static const char *
s_error_of (zkv_msg_t *reply, char *text, size_t size)
{
    cr_assert_not_null (reply, "no reply");
    const zkv_error_t *error = zkv_reply_error (reply);
    *text = 0;
    if (error)
        zkv_bin_str (error->message, text, size);
    return text;
}

//  A put through client; its error text ("" when it succeeded)
static const char *
s_put (zkv_client_t *client, const char *key, const char *value, char *text, size_t size)
{
    zkv_put_t put = { .key = cf_bin (key), .value = cf_bin (value) };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
    s_error_of (reply, text, size);
    zkv_msg_destroy (&reply);
    return text;
}

//  The alarms a member's Status lists, one per line as zkvctl prints them
//  (NULL if it did not answer)
static char *
s_status_alarms (const char *name)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = cf_call (name, &zkv_status_desc, &request);
    if (!reply || zkv_reply_error (reply)) {
        zkv_msg_destroy (&reply);
        return NULL;
    }
    const zkv_status_response_t *status = (const zkv_status_response_t *) reply->body;
    char *alarms = zmalloc (status->errors.count * 128 + 1);
    for (size_t i = 0; i < status->errors.count; i++) {
        char text [128];
        zkv_bin_str (status->errors.items [i].message, text, sizeof text);
        if (strncmp (text, "memberID:", 9) == 0) {
            strcat (alarms, text);
            strcat (alarms, "\n");
        }
    }
    zkv_msg_destroy (&reply);
    return alarms;
}

typedef struct {
    bool some;                  //  some alarms wanted, or none
    char *first;                //  what n1 listed at the last look
} s_agreement_t;

static bool
s_alarms_agreed (void *args)
{
    s_agreement_t *self = (s_agreement_t *) args;
    free (self->first);
    self->first = s_status_alarms ("n1");
    bool same = self->first && (*self->first != 0) == self->some;
    for (size_t m = 1; m < 3 && same; m++) {
        char *other = s_status_alarms (zkv_harness_name (cf_cluster, m));
        same = other && streq (other, self->first);
        free (other);
    }
    return same;
}

//  Waits until every member's Status lists the same alarms, some or none;
//  returns them (freed by the caller)
static char *
s_alarms_settle (bool some)
{
    s_agreement_t agreement = { some, NULL };
    cr_assert (eventually (s_alarms_agreed, &agreement, 10000),
               "the members never agreed on %s alarms (n1: %s)", some? "some": "no",
               agreement.first? agreement.first: "-");
    return agreement.first;
}

//  Asserts that the alarms listed (one per line) are some NOSPACE alarms
static void
s_only_nospace (const char *alarms)
{
    cr_assert_gt (strlen (alarms), 0, "no alarm listed");
    for (const char *line = alarms; *line; line = strchr (line, '\n') + 1) {
        const char *end = strchr (line, '\n');
        cr_assert_not_null (end, "%s", alarms);
        cr_assert (strncmp (line, "memberID:", 9) == 0, "%s", alarms);
        cr_assert (end - line > 14 && strncmp (end - 14, "alarm:NOSPACE ", 14) == 0, "%s",
                   alarms);
    }
}

static void
s_alarm_text (const char *name, const char *type, char *text, size_t size)
{
    snprintf (text, size, "memberID:%" PRIu64 " alarm:%s ", cf_member_id (name), type);
}

//  Puts values of 4 KB until one is refused; returns its error text
static const char *
s_fill (zkv_client_t *client, char *text, size_t size)
{
    char value [4096];
    for (int i = 0; i < 20000; i++) {
        for (size_t b = 0; b < sizeof value - 1; b++)
            value [b] = (char) ('a' + (b * 7 + (size_t) i * 13) % 26);
        value [sizeof value - 1] = 0;
        char key [32];
        snprintf (key, sizeof key, "fill/%05d", i);
        if (*s_put (client, key, value, text, size))
            return text;
    }
    cr_assert_fail ("the quota never refused a write");
    return text;
}

Test (alarms, nospace_from_the_quota_to_disarm_and_back)
{
    const char *flags [] = { "--quota-backend-bytes", "4000000", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    char text [256];
    cr_assert_str_eq (s_fill (client, text, sizeof text),
                      "etcdserver: mvcc: database space exceeded");
    //  The members whose database passed the quota first raised their
    //  NOSPACE (which ones depends on when each measured its size): every
    //  member lists the same alarms, writes are refused on every member,
    //  reads and deletes go through
    char *alarms = s_alarms_settle (true);
    s_only_nospace (alarms);
    const char *list [] = { "alarm", "list", NULL };
    zkv_run_t run = s_zkvctl (list);
    cr_assert_eq (run.code, 0, "%s", run.err);
    s_only_nospace (run.out);
    zkv_run_free (&run);
    for (size_t m = 0; m < 3; m++) {
        const char *name = zkv_harness_name (cf_cluster, m);
        zkv_client_t *member = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), 5000);
        cr_assert_str_eq (s_put (member, "small", "x", text, sizeof text),
                          "etcdserver: mvcc: database space exceeded", "%s", name);
        zkv_client_destroy (&member);
    }
    zkv_range_t get = { .key = cf_bin ("fill/00000") };
    zkv_msg_t *reply = cf_call (leader, &zkv_range_desc, &get);
    cr_assert_str_eq (s_error_of (reply, text, sizeof text), "");
    cr_assert_eq (((zkv_range_response_t *) reply->body)->count, 1);
    zkv_msg_destroy (&reply);

    //  Recovery, as etcd's: delete, compact, defragment, disarm
    zkv_delete_range_t del = { .key = cf_bin ("fill/"), .range_end = cf_bin ("fill0") };
    reply = cf_call (leader, &zkv_delete_range_desc, &del);
    cr_assert_str_eq (s_error_of (reply, text, sizeof text), "");
    int64_t revision = ((zkv_delete_range_response_t *) reply->body)->header->revision;
    zkv_msg_destroy (&reply);
    zkv_compact_t compact = { .revision = revision, .physical = true };
    reply = cf_call (leader, &zkv_compact_desc, &compact);
    cr_assert_str_eq (s_error_of (reply, text, sizeof text), "");
    zkv_msg_destroy (&reply);
    const char *defrag [] = { "defrag", "--cluster", NULL };
    run = s_zkvctl (defrag);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    //  (a follower's alarm may have come after the first look)
    free (alarms);
    run = s_zkvctl (list);
    alarms = run.out;
    run.out = NULL;
    zkv_run_free (&run);
    const char *disarm [] = { "alarm", "disarm", NULL };
    run = s_zkvctl (disarm);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, alarms, "disarm printed %s", run.out);
    zkv_run_free (&run);
    free (alarms);
    free (s_alarms_settle (false));
    cr_assert_str_eq (s_put (client, "after", "1", text, sizeof text), "");

    //  Disarmed without freeing space, the next write to a member whose
    //  database is past the quota raises its alarm again
    s_fill (client, text, sizeof text);
    alarms = s_alarms_settle (true);
    uint64_t raised = strtoull (alarms + strlen ("memberID:"), NULL, 10);
    const char *full = NULL;
    for (size_t m = 0; m < 3; m++)
        if (cf_member_id (zkv_harness_name (cf_cluster, m)) == raised)
            full = zkv_harness_name (cf_cluster, m);
    cr_assert_not_null (full, "%s", alarms);
    free (alarms);
    run = s_zkvctl (disarm);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    free (s_alarms_settle (false));
    zkv_client_t *to_full = zkv_client_new (zkv_harness_endpoint (cf_cluster, full), 5000);
    cr_assert_str_eq (s_put (to_full, "again", "1", text, sizeof text),
                      "etcdserver: mvcc: database space exceeded");
    zkv_client_destroy (&to_full);
    char alarm [96];
    s_alarm_text (full, "NOSPACE", alarm, sizeof alarm);
    alarms = s_alarms_settle (true);
    cr_assert_not_null (strstr (alarms, alarm), "%s", alarms);
    free (alarms);
    zkv_client_destroy (&client);
}

typedef struct {
    zsock_t *sub;
    msgpack_zone *zone;
} s_listener_t;

//  True once an alarm event says deactivated (half a second to hear one)
static bool
s_deactivated_heard (void *args)
{
    s_listener_t *self = (s_listener_t *) args;
    zkv_alarm_event_t *event = (zkv_alarm_event_t *) cf_event (
        self->sub, "alarm", &zkv_alarm_event_desc, self->zone, 500);
    return event && cf_text_is (event->state, "deactivated");
}

Test (alarms, corrupt_refuses_writes_everywhere_but_reads_and_maintenance_go_on)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    cr_assert (cf_put (client, "k", "v"));
    const char *victim = streq (leader, "n3")? "n2": "n3";
    char alarm [96];
    s_alarm_text (victim, "CORRUPT", alarm, sizeof alarm);

    //  An event for it, on a member that is not the one asked
    zsock_t *sub = cf_subscribe ();
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_alarm_event_t *event = NULL;
    char line [128];
    snprintf (line, sizeof line, "%s\n", alarm);
    const char *activate [] = { "alarm", "activate", "corrupt", "--member",
                                zkv_harness_id (cf_cluster, victim), NULL };
    //  A SUB hears nothing sent before it joined: raise, clear, until heard
    for (int round = 0; round < 50 && !event; round++) {
        zkv_run_t run = s_zkvctl (activate);
        cr_assert_eq (run.code, 0, "%s", run.err);
        zkv_run_free (&run);
        event = (zkv_alarm_event_t *) cf_event (sub, "alarm", &zkv_alarm_event_desc, zone, 200);
        if (!event) {
            zkv_alarm_t deactivate = { .action = 2, .member_id = cf_member_id (victim),
                                       .alarm = 2 };
            zkv_msg_t *reply = cf_call (leader, &zkv_alarm_desc, &deactivate);
            zkv_msg_destroy (&reply);
        }
    }
    cr_assert_not_null (event, "no alarm event");
    cr_assert (cf_text_is (event->state, "activated"));
    cr_assert (cf_text_is (event->alarm, "CORRUPT"));
    cr_assert_eq (event->member_id, cf_member_id (victim));
    char *alarms = s_alarms_settle (true);
    cr_assert_str_eq (alarms, line);
    free (alarms);

    //  Writes and compaction refused on every member; reads go on
    char text [256];
    for (size_t m = 0; m < 3; m++) {
        const char *name = zkv_harness_name (cf_cluster, m);
        zkv_client_t *member = zkv_client_new (zkv_harness_endpoint (cf_cluster, name), 5000);
        cr_assert_str_eq (s_put (member, "k", "w", text, sizeof text),
                          "etcdserver: corrupt cluster", "%s", name);
        zkv_delete_range_t del = { .key = cf_bin ("k") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (member, &zkv_delete_range_desc, &del, &status);
        cr_assert_str_eq (s_error_of (reply, text, sizeof text), "etcdserver: corrupt cluster");
        cr_assert (cf_text_is (zkv_reply_error (reply)->code, "DataLoss"));
        zkv_msg_destroy (&reply);
        zkv_compact_t compact = { .revision = 1 };
        reply = zkv_client_call (member, &zkv_compact_desc, &compact, &status);
        cr_assert_str_eq (s_error_of (reply, text, sizeof text), "etcdserver: corrupt cluster");
        zkv_msg_destroy (&reply);
        for (int serializable = 0; serializable < 2; serializable++) {
            zkv_range_t get = { .key = cf_bin ("k"), .serializable = serializable };
            reply = zkv_client_call (member, &zkv_range_desc, &get, &status);
            cr_assert_str_eq (s_error_of (reply, text, sizeof text), "");
            zkv_range_response_t *range = (zkv_range_response_t *) reply->body;
            cr_assert (range->count == 1 && cf_text_is (range->kvs.items [0].value, "v"));
            zkv_msg_destroy (&reply);
        }
        zkv_hash_kv_t hash_kv = { 0 };
        reply = zkv_client_call (member, &zkv_hash_kv_desc, &hash_kv, &status);
        cr_assert_str_eq (s_error_of (reply, text, sizeof text), "");
        zkv_msg_destroy (&reply);
        zkv_client_destroy (&member);
    }
    //  Disarmed: writes again
    const char *disarm [] = { "alarm", "disarm", NULL };
    zkv_run_t run = s_zkvctl (disarm);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_str_eq (run.out, line);
    zkv_run_free (&run);
    cr_assert_str_eq (s_put (client, "k", "w", text, sizeof text), "");
    //  Every member publishes it (earlier events may still be queued)
    s_listener_t listener = { sub, zone };
    cr_assert (eventually (s_deactivated_heard, &listener, 5000), "no alarm event for the disarm");
    msgpack_zone_free (zone);
    zsock_destroy (&sub);
    zkv_client_destroy (&client);
}

Test (alarms, alarms_survive_a_full_cluster_restart)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *activate [] = { "alarm", "activate", "nospace", "--member",
                                zkv_harness_id (cf_cluster, leader), NULL };
    zkv_run_t run = s_zkvctl (activate);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    char alarm [96];
    s_alarm_text (leader, "NOSPACE", alarm, sizeof alarm);
    uint64_t raised = cf_member_id (leader);
    char *alarms = s_alarms_settle (true);
    char line [128];
    snprintf (line, sizeof line, "%s\n", alarm);
    cr_assert_str_eq (alarms, line);
    free (alarms);
    for (size_t m = 0; m < 3; m++)
        cr_assert_eq (zkv_harness_signal (cf_cluster, zkv_harness_name (cf_cluster, m), SIGTERM),
                      0);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, NULL, error, sizeof error), 0, "%s", error);
    cf_leader (leader, sizeof leader);
    alarms = s_alarms_settle (true);
    cr_assert_str_eq (alarms, line);
    free (alarms);
    const char *list [] = { "alarm", "list", "-w", "json", NULL };
    run = s_zkvctl (list);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char member [64];
    snprintf (member, sizeof member, "\"alarms\":[{\"memberID\":%" PRIu64 ",\"alarm\":1}]",
              raised);
    cr_assert_not_null (strstr (run.out, member), "%s", run.out);
    zkv_run_free (&run);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    char text [256];
    cr_assert_str_eq (s_put (client, "k", "v", text, sizeof text),
                      "etcdserver: mvcc: database space exceeded");
    zkv_client_destroy (&client);
}

Test (alarms, zkvctl_alarm_refuses_bad_arguments_before_sending_anything)
{
    char endpoint [64];
    int held = zkv_dead_endpoint (endpoint, sizeof endpoint);
    cr_assert_geq (held, 0);
    const char *cases [][8] = {
        { "alarm", "activate", NULL },
        { "alarm", "activate", "bogus", NULL },
        { "alarm", "activate", "nospace", "--member", "xyz", NULL },
        { "alarm", "list", "extra", NULL },
        { "alarm", "disarm", "extra", NULL },
        { "alarm", "list", "--bogus", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        const char *argv [12] = { ZKVCTL_BIN, "--endpoints", endpoint };
        size_t count = 3;
        for (size_t w = 0; cases [i][w]; w++)
            argv [count++] = cases [i][w];
        argv [count] = NULL;
        zkv_run_t run = zkv_run (NULL, argv);
        cr_assert_eq (run.code, 128, "%s %s: exit %d, %s", cases [i][1],
                      cases [i][2]? cases [i][2]: "", run.code, run.err);
        cr_assert (strncmp (run.err, "Error: ", 7) == 0, "%s", run.err);
        zkv_run_free (&run);
    }
    //  A well-formed one reaches for the endpoint, and fails there (exit 1)
    const char *list [] = { ZKVCTL_BIN, "--endpoints", endpoint, "--command-timeout", "200ms",
                            "alarm", "list", NULL };
    zkv_run_t run = zkv_run (NULL, list);
    cr_assert_eq (run.code, 1, "%s", run.err);
    zkv_run_free (&run);
    close (held);
}

//  For eventually (): the log of member `name` says it installed a snapshot
static bool
s_installed_a_snapshot (void *name)
{
    return cf_log_says ((const char *) name, "installed a snapshot");
}

//  A member that catches up through a snapshot holding an alarm gates
//  writes by it at once (storage reads the table again after an install)
Test (alarms, an_alarm_comes_with_a_snapshot)
{
    const char *flags [] = { "--snapshot-count", "20", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *lagging = streq (leader, "n1")? "n2": "n1";
    cr_assert_eq (zkv_harness_signal (cf_cluster, lagging, SIGTERM), 0);
    const char *activate [] = { "alarm", "activate", "nospace", "--member",
                                zkv_harness_id (cf_cluster, leader), NULL };
    zkv_run_t run = s_zkvctl (activate);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    //  Deletes go on under NOSPACE: enough of them to compact the log (raft
    //  hears storage's applied index every 128 entries)
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    char text [256];
    for (int i = 0; i < 300; i++) {
        zkv_delete_range_t del = { .key = cf_bin ("nothing") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_delete_range_desc, &del, &status);
        cr_assert_str_eq (s_error_of (reply, text, sizeof text), "");
        zkv_msg_destroy (&reply);
    }
    zkv_client_destroy (&client);
    char error [4096];
    cr_assert_eq (zkv_harness_start (cf_cluster, lagging, error, sizeof error), 0, "%s", error);
    char line [128];
    s_alarm_text (leader, "NOSPACE", line, sizeof line);
    strcat (line, "\n");
    char *alarms = s_alarms_settle (true);
    cr_assert_str_eq (alarms, line);
    free (alarms);
    //  (raft says it once storage told it, which is after the state, and
    //  so the alarm, could be read)
    cr_assert (eventually (s_installed_a_snapshot, (void *) lagging, 10000),
               "%s caught up without a snapshot", lagging);
    zkv_client_t *member = zkv_client_new (zkv_harness_endpoint (cf_cluster, lagging), 5000);
    cr_assert_str_eq (s_put (member, "k", "v", text, sizeof text),
                      "etcdserver: mvcc: database space exceeded");
    zkv_client_destroy (&member);
}
