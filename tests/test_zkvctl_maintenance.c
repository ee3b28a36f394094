/*  test_zkvctl_maintenance.c — zkvctl's maintenance commands against one
    real zkv-node: their output formats, their errors and exit codes. The
    3-member behaviour (--cluster, leader last) is in test_maintenance.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eventually.h"
#include "zkv_client.h"
#include "zkv_testnode.h"

static zkv_testnode_t *s_node;

static void
s_teardown (void)
{
    zkv_testnode_destroy (&s_node);
}

TestSuite (zkvctl_maintenance, .fini = s_teardown, .timeout = 60);

//  Runs zkvctl --endpoints <the node> args (NULL-terminated)
static zkv_run_t
s_zkvctl (const char *const *args)
{
    if (!s_node) {
        s_node = zkv_testnode_start ("ctl", NULL);
        cr_assert_not_null (s_node);
    }
    const char *argv [32] = { ZKVCTL_BIN, "--endpoints", zkv_testnode_endpoint (s_node) };
    size_t count = 3;
    for (size_t i = 0; args [i] && count < 31; i++)
        argv [count++] = args [i];
    argv [count] = NULL;
    return zkv_run (NULL, argv);
}

//  Checks a run's exit code and that its stdout / stderr hold text (NULL:
//  anything)
static void
s_expect (const char *const *args, int code, const char *out, const char *err)
{
    zkv_run_t run = s_zkvctl (args);
    cr_assert_eq (run.code, code, "%s: exit %d\n%s%s", args [0], run.code, run.out, run.err);
    if (out)
        cr_assert_not_null (strstr (run.out, out), "stdout: %s", run.out);
    if (err)
        cr_assert_not_null (strstr (run.err, err), "stderr: %s", run.err);
    zkv_run_free (&run);
}

Test (zkvctl_maintenance, endpoint_status_in_every_format)
{
    const char *put [] = { "put", "a", "1", NULL };
    s_expect (put, 0, "OK", NULL);
    const char *simple [] = { "endpoint", "status", NULL };
    s_expect (simple, 0, ", 1.0.0, ", NULL);
    const char *table [] = { "endpoint", "status", "-w", "table", NULL };
    s_expect (table, 0, "| PERCENTAGE NOT IN USE |", NULL);
    const char *json [] = { "endpoint", "status", "-w", "json", NULL };
    s_expect (json, 0, "\"role\":\"leader\"", NULL);
    const char *fields [] = { "endpoint", "status", "-w", "fields", NULL };
    s_expect (fields, 0, "\"RaftAppliedIndex\" : ", NULL);
    const char *health [] = { "endpoint", "health", "-w", "table", NULL };
    s_expect (health, 0, " true | ", NULL);
}

Test (zkvctl_maintenance, hashkv_errors_are_etcds)
{
    const char *puts [][5] = {
        { "put", "k", "1", NULL }, { "put", "k", "2", NULL }, { "put", "k", "3", NULL }
    };
    for (int i = 0; i < 3; i++)
        s_expect (puts [i], 0, "OK", NULL);
    const char *compact [] = { "compaction", "3", NULL };
    s_expect (compact, 0, "compacted revision 3", NULL);
    const char *old [] = { "endpoint", "hashkv", "--rev", "2", NULL };
    s_expect (old, 1, NULL, "(etcdserver: mvcc: required revision has been compacted)");
    const char *table [] = { "endpoint", "hashkv", "-w", "table", NULL };
    s_expect (table, 0, "| HASH REVISION |", NULL);
    const char *fields [] = { "endpoint", "hash", "-w", "fields", NULL };
    s_expect (fields, 0, "\"Hash\" : ", NULL);
}

Test (zkvctl_maintenance, defrag_and_snapshot_misuse)
{
    const char *defrag [] = { "defrag", NULL };
    s_expect (defrag, 0, "Finished defragmenting etcd member[", NULL);
    const char *table [] = { "defrag", "-w", "table", NULL };
    s_expect (table, 128, NULL, "Error: table not supported as output format");
    //  save: one endpoint only (etcdctl's exit 4), one file
    char *endpoints = NULL;
    if (asprintf (&endpoints, "%s,%s", zkv_testnode_endpoint (s_node),
                  zkv_testnode_endpoint (s_node)) < 0)
        cr_assert_fail ();
    const char *two [] = { "--endpoints", endpoints, "snapshot", "save", "/tmp/never", NULL };
    s_expect (two, 4, NULL, "snapshot must be requested to one selected node, not multiple");
    free (endpoints);
    const char *no_file [] = { "snapshot", "save", NULL };
    s_expect (no_file, 128, NULL, "snapshot save expects one argument");
    //  status and restore of what is not a snapshot
    char dir [] = "/tmp/zkv-test-ctl-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char file [128], target [128];
    snprintf (file, sizeof file, "%s/not-a-snapshot", dir);
    FILE *out = fopen (file, "w");
    fprintf (out, "this is no image, and its last 32 bytes are no digest of it either\n");
    fclose (out);
    const char *status [] = { "snapshot", "status", file, NULL };
    s_expect (status, 1, NULL, "Error: ");
    snprintf (target, sizeof target, "%s/restored", dir);
    const char *restore [] = { "snapshot", "restore", file, "--data-dir", target,
                               "--initial-cluster", "default=tcp://127.0.0.1:9", NULL };
    s_expect (restore, 1, NULL, "not a snapshot image");
    cr_assert (access (target, F_OK) != 0, "a refused restore left %s", target);
    //  restore refuses a data dir that is not empty
    char snap [128], inside [160];
    snprintf (snap, sizeof snap, "%s/real.db", dir);
    const char *save [] = { "snapshot", "save", snap, NULL };
    s_expect (save, 0, "Snapshot saved at ", NULL);
    cr_assert_eq (mkdir (target, 0700), 0);
    snprintf (inside, sizeof inside, "%s/something", target);
    out = fopen (inside, "w");
    fclose (out);
    const char *occupied [] = { "snapshot", "restore", snap, "--data-dir", target,
                                "--initial-cluster", "default=tcp://127.0.0.1:9", NULL };
    s_expect (occupied, 1, NULL, "not empty or could not be read");
    cr_assert_eq (access (inside, F_OK), 0, "restore touched a data dir it refused");
    char command [200];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}

Test (zkvctl_maintenance, events_stop_at_a_given_timeout)
{
    const char *events [] = { "--command-timeout", "500ms", "events", "--topic", "defrag", NULL };
    s_expect (events, 1, NULL, "Error: context deadline exceeded");
    const char *bad [] = { "events", "--max-events", "-1", NULL };
    s_expect (bad, 128, NULL, "--max-events must not be negative");
}

//  zkvctl events, run on a thread of its own until it has its events
typedef struct {
    const char *argv [16];
    zkv_run_t run;
    atomic_int done;
} s_listening_t;

static void *
s_listen_thread (void *args)
{
    s_listening_t *listening = (s_listening_t *) args;
    listening->run = zkv_run (NULL, listening->argv);
    atomic_store (&listening->done, 1);
    return NULL;
}

//  For eventually (): raises the NOSPACE alarm and disarms it again, until
//  the listener (a s_listening_t) had its events
static bool
s_alarm_drilled (void *args)
{
    s_listening_t *listening = (s_listening_t *) args;
    if (atomic_load (&listening->done))
        return true;
    const char *activate [] = { "alarm", "activate", "nospace", NULL };
    s_expect (activate, 0, "alarm:NOSPACE", NULL);
    const char *disarm [] = { "alarm", "disarm", NULL };
    s_expect (disarm, 0, "alarm:NOSPACE", NULL);
    return false;
}

//  zkvctl events printed no alarm event at all, with or without --topic
//  alarm (it knew no topic `alarm`)
Test (zkvctl_maintenance, events_tell_alarms)
{
    const char *help [] = { "events", "--help", NULL };
    s_expect (help, 0, "(leader, transfer, member, alarm, defrag, snapshot)", NULL);
    const char *unknown [] = { "events", "--topic", "alarms", NULL };
    s_expect (unknown, 128, NULL, "Error: unknown topic \"alarms\"");
    const char *topics [] = { "alarm", "" };
    for (size_t i = 0; i < 2; i++) {
        zkv_run_t status = s_zkvctl ((const char *[]) { "endpoint", "status", NULL });
        zkv_run_free (&status);         //  (the node runs: s_zkvctl starts it)
        s_listening_t listening = {
            .argv = { ZKVCTL_BIN, "--endpoints", zkv_testnode_endpoint (s_node),
                      "--command-timeout", "30s", "events", "--max-events", "2",
                      *topics [i]? "--topic": NULL, topics [i], NULL }
        };
        pthread_t thread;
        cr_assert_eq (pthread_create (&thread, NULL, s_listen_thread, &listening), 0);
        cr_assert (eventually (s_alarm_drilled, &listening, 30000), "zkvctl events heard nothing");
        pthread_join (thread, NULL);
        cr_assert_eq (listening.run.code, 0, "%s", listening.run.err);
        //  Its first two events are the activation and its disarm (a drill
        //  that began before it listened may end first: a deactivation)
        const char *activated = strstr (listening.run.out, "alarm member=");
        cr_assert (activated && strstr (activated, " state=\"activated\" member_id=")
                   && strstr (activated, " alarm=\"NOSPACE\""), "%s", listening.run.out);
        zkv_run_free (&listening.run);
    }
}

//  -w fields where etcdctl has a fields printer: its lines; where it has
//  none (move-leader), its error, before anything is sent
Test (zkvctl_maintenance, fields_output_of_health_snapshot_alarm_and_move_leader)
{
    //  endpoint health: "Endpoint", "Health", "Took", "Error", a blank line
    const char *health [] = { "endpoint", "health", "-w", "fields", NULL };
    zkv_run_t run = s_zkvctl (health);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char *head = zsys_sprintf ("\"Endpoint\" : \"%s\"\n\"Health\" : true\n\"Took\" : ",
                               zkv_testnode_endpoint (s_node));
    cr_assert_eq (strncmp (run.out, head, strlen (head)), 0, "%s", run.out);
    const char *tail = "\"Error\" : \n\n";
    size_t length = strlen (run.out);
    cr_assert (length > strlen (tail) && streq (run.out + length - strlen (tail), tail), "%s",
               run.out);
    cr_assert_str_empty (run.err);
    free (head);
    zkv_run_free (&run);
    //  An unhealthy endpoint is printed too (nothing more on stderr)
    char dead [128];
    int fd = zkv_dead_endpoint (dead, sizeof dead);
    cr_assert_geq (fd, 0);
    //  (a second --endpoints adds to the list, as pflag's)
    const char *unhealthy [] = { "--endpoints", dead, "--dial-timeout", "200ms", "endpoint",
                                 "health", "-w", "fields", NULL };
    run = s_zkvctl (unhealthy);
    cr_assert_eq (run.code, 1, "%s", run.err);
    char *dead_part = zsys_sprintf ("\"Endpoint\" : \"%s\"\n\"Health\" : false\n\"Took\" : ",
                                    dead);
    cr_assert_not_null (strstr (run.out, dead_part), "%s", run.out);
    cr_assert_not_null (strstr (run.out, "\"Error\" : context deadline exceeded\n\n"), "%s",
                        run.out);
    cr_assert_str_eq (run.err, "Error: unhealthy cluster\n");
    free (dead_part);
    zkv_run_free (&run);
    close (fd);

    //  snapshot status: "Hash", "Revision", "Keys", "Size", "Version"
    const char *put [] = { "put", "a", "1", NULL };
    s_expect (put, 0, "OK", NULL);
    char dir [] = "/tmp/zkv-test-ctl-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    char file [128];
    snprintf (file, sizeof file, "%s/fields.db", dir);
    const char *save [] = { "snapshot", "save", file, NULL };
    s_expect (save, 0, "Snapshot saved at ", NULL);
    const char *status [] = { "snapshot", "status", file, "-w", "fields", NULL };
    run = s_zkvctl (status);
    cr_assert_eq (run.code, 0, "%s", run.err);
    unsigned long hash, size;
    long revision, keys;
    char version [32];
    int consumed = 0;
    cr_assert_eq (sscanf (run.out, "\"Hash\" : %lu\n\"Revision\" : %ld\n\"Keys\" : %ld\n"
                          "\"Size\" : %lu\n\"Version\" : %31s\n%n", &hash, &revision, &keys,
                          &size, version, &consumed), 5, "%s", run.out);
    cr_assert_eq ((size_t) consumed, strlen (run.out), "%s", run.out);
    cr_assert_eq (keys, 1);
    struct stat info;
    cr_assert_eq (stat (file, &info), 0);
    cr_assert_eq ((off_t) size, info.st_size);
    zkv_run_free (&run);
    unlink (file);
    rmdir (dir);

    //  alarm list and disarm: the header, then "MemberID", "AlarmType"
    const char *activate [] = { "alarm", "activate", "nospace", NULL };
    s_expect (activate, 0, "alarm:NOSPACE", NULL);
    const char *list [] = { "alarm", "list", "-w", "fields", NULL };
    run = s_zkvctl (list);
    cr_assert_eq (run.code, 0, "%s", run.err);
    unsigned long long cluster, member, alarmed;
    consumed = 0;
    cr_assert_eq (sscanf (run.out, "\"ClusterID\" : %llu\n\"MemberID\" : %llu\n", &cluster,
                          &member), 2, "%s", run.out);
    char *alarm = strstr (run.out, "\n\"MemberID\" : ");
    cr_assert_not_null (alarm = strstr (alarm + 1, "\n\"MemberID\" : "), "%s", run.out);
    cr_assert_eq (sscanf (alarm, "\n\"MemberID\" : %llu\n\"AlarmType\" : NOSPACE\n\n%n",
                          &alarmed, &consumed), 1, "%s", run.out);
    cr_assert_eq (alarmed, member);
    cr_assert_eq (alarm [consumed], 0, "%s", run.out);
    zkv_run_free (&run);
    const char *disarm [] = { "alarm", "disarm", "-w", "fields", NULL };
    s_expect (disarm, 0, "\"AlarmType\" : NOSPACE\n\n", NULL);
    const char *none [] = { "alarm", "list", "-w", "fields", NULL };
    run = s_zkvctl (none);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_null (strstr (run.out, "AlarmType"), "%s", run.out);
    cr_assert_not_null (strstr (run.out, "\"RaftTerm\" : "), "%s", run.out);
    zkv_run_free (&run);

    //  move-leader: etcdctl has no fields printer (it fails after the move)
    const char *move [] = { "move-leader", "ctl", "-w", "fields", NULL };
    run = s_zkvctl (move);
    cr_assert_eq (run.code, 128, "%s", run.err);
    cr_assert_str_eq (run.err, "Error: fields not supported as output format\n");
    zkv_run_free (&run);
}
