/*  test_maintenance.c — the maintenance service on real 3-member clusters:
    Status fields after writes, a leader change, a kill and an isolation;
    Hash and HashKV equal on every member after a write load with
    compactions; zkvctl's endpoint commands against them. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster_fixture.h"
#include "zkv_testnode.h"

TestSuite (maintenance, .fini = cf_teardown, .timeout = 120);

static zkv_status_response_t *
s_status (const char *name, zkv_msg_t **reply_p)
{
    zkv_status_t request = { false };
    *reply_p = cf_call (name, &zkv_status_desc, &request);
    cr_assert_not_null (*reply_p, "%s did not answer Status", name);
    cr_assert_null (zkv_reply_error (*reply_p));
    return (zkv_status_response_t *) (*reply_p)->body;
}

typedef struct {
    const char *name;
    uint64_t leader;
    const char *role;
    zkv_msg_t **reply_p;
    zkv_status_response_t *status;      //  the last answer, in *reply_p
} s_status_wanted_t;

static bool
s_status_is (void *args)
{
    s_status_wanted_t *self = (s_status_wanted_t *) args;
    zkv_msg_destroy (self->reply_p);
    self->status = s_status (self->name, self->reply_p);
    return self->status->leader == self->leader && cf_text_is (self->status->role, self->role);
}

//  Waits until Status of name says leader (0: none) and role
static zkv_status_response_t *
s_status_until (const char *name, uint64_t leader, const char *role, zkv_msg_t **reply_p)
{
    *reply_p = NULL;
    s_status_wanted_t wanted = { name, leader, role, reply_p, NULL };
    bool reached = eventually (s_status_is, &wanted, 10000);
    cr_assert (reached, "%s: leader %" PRIx64 ", role %.*s", name, wanted.status->leader,
               (int) wanted.status->role.size, (const char *) wanted.status->role.data);
    return wanted.status;
}

Test (maintenance, status_after_writes_a_leader_change_a_kill_and_an_isolation)
{
    const char *flags [] = { "--enable-fault-injection", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    cf_put_keys (client, 20);
    free (cf_converged ());
    uint64_t cluster_id = 0, leader_id = cf_member_id (leader), term = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        zkv_status_response_t seen;
        cr_assert (cf_status_settles (name, &seen));
        zkv_msg_t *reply;
        zkv_status_response_t *status = s_status (name, &reply);
        cr_assert_eq (status->header->member_id, cf_member_id (name));
        if (i)
            cr_assert_eq (status->header->cluster_id, cluster_id);
        cluster_id = status->header->cluster_id;
        cr_assert_eq (status->header->revision, 21);
        cr_assert_eq (status->leader, leader_id);
        cr_assert_geq (status->raft_applied_index, 20);
        cr_assert_geq (status->raft_term, 1);
        cr_assert_eq (status->header->raft_term, status->raft_term);
        term = status->raft_term;
        cr_assert_gt (status->db_size, 0);
        cr_assert_gt (status->db_size_in_use, 0);
        cr_assert_leq (status->db_size_in_use, status->db_size);
        cr_assert_eq (status->db_size_quota, 2LL << 30);
        cr_assert (cf_text_is (status->storage_version, "1.0.0"));
        cr_assert (cf_text_is (status->name, name));
        cr_assert (cf_text_is (status->role, streq (name, leader)? "leader": "follower"));
        cr_assert_eq (status->errors.count, 0);
        cr_assert_not (status->is_learner);
        zkv_msg_destroy (&reply);
    }

    //  kill -9 of the leader: the others name a new one, in a newer term
    //  once it applied an entry of its own
    cr_assert_eq (zkv_harness_signal (cf_cluster, leader, SIGKILL), 0);
    char next [32];
    cf_leader (next, sizeof next);
    cr_assert_str_neq (next, leader);
    cr_assert (cf_put (client, "after", "kill"));
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (streq (name, leader))
            continue;
        zkv_msg_t *reply;
        zkv_status_response_t *status = s_status_until (
            name, cf_member_id (next), streq (name, next)? "leader": "follower", &reply);
        zkv_status_response_t seen;
        cr_assert (cf_status_settles (name, &seen));
        zkv_msg_destroy (&reply);
        status = s_status (name, &reply);
        cr_assert_gt (status->raft_term, term);
        cr_assert_eq (status->header->revision, 22);
        zkv_msg_destroy (&reply);
    }

    //  The killed member back, then isolated: it loses its leader and says so
    char error [1024];
    cr_assert_eq (zkv_harness_start (cf_cluster, leader, error, sizeof error), 0, "%s", error);
    char groups [64];
    snprintf (groups, sizeof groups, "%s|%s", leader,
              streq (zkv_harness_name (cf_cluster, 0), leader)
              ? "n2,n3": streq (zkv_harness_name (cf_cluster, 1), leader)? "n1,n3": "n1,n2");
    zkv_msg_t *reply;
    s_status_until (leader, cf_member_id (next), "follower", &reply);
    zkv_msg_destroy (&reply);
    cr_assert_eq (zkv_harness_partition (cf_cluster, groups, false, error, sizeof error), 0,
                  "%s", error);
    zkv_status_response_t *status = s_status_until (leader, 0, "pre-candidate", &reply);
    cr_assert_eq (status->errors.count, 1);
    cr_assert (cf_text_is (status->errors.items [0].message, "etcdserver: no leader"));
    zkv_msg_destroy (&reply);
    cr_assert_eq (zkv_harness_heal (cf_cluster, error, sizeof error), 0, "%s", error);
    s_status_until (leader, cf_member_id (next), "follower", &reply);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
}

//  Hash of name (kv: HashKV at revision), with its compact revision
static uint32_t
s_hash (const char *name, bool kv, int64_t revision, int64_t *compact)
{
    zkv_hash_t hash = { false };
    zkv_hash_kv_t hash_kv = { .revision = revision };
    zkv_msg_t *reply = kv? cf_call (name, &zkv_hash_kv_desc, &hash_kv)
                         : cf_call (name, &zkv_hash_desc, &hash);
    cr_assert_not_null (reply);
    const zkv_error_t *error = zkv_reply_error (reply);
    cr_assert_null (error, "%s: %.*s", name, error? (int) error->message.size: 0,
                    error? (const char *) error->message.data: "");
    uint32_t value;
    if (kv) {
        zkv_hash_kv_response_t *response = (zkv_hash_kv_response_t *) reply->body;
        value = (uint32_t) response->hash;
        *compact = response->compact_revision;
        cr_assert_eq (response->hash_revision, revision? revision: response->header->revision);
    }
    else
        value = (uint32_t) ((zkv_hash_response_t *) reply->body)->hash;
    zkv_msg_destroy (&reply);
    return value;
}

//  True if every member gives the same hash (and compact revision)
static bool
s_hashes_agree (bool kv, int64_t revision, uint32_t *hash)
{
    int64_t first_compact = 0;
    for (size_t i = 0; i < 3; i++) {
        int64_t compact = 0;
        uint32_t value = s_hash (zkv_harness_name (cf_cluster, i), kv, revision, &compact);
        if (i && (value != *hash || compact != first_compact))
            return false;
        *hash = value;
        first_compact = compact;
    }
    return true;
}

//  True once every member gives the same Hash (into hash)
static bool
s_hash_agreed (void *hash)
{
    return s_hashes_agree (false, 0, (uint32_t *) hash);
}

static void
s_compact (zkv_client_t *client, int64_t revision)
{
    zkv_compact_t compact = { .revision = revision, .physical = true };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_compact_desc, &compact, &status);
    cr_assert_not_null (reply);
    cr_assert_null (zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
}

Test (maintenance, hashes_agree_on_every_member_after_writes_and_compactions)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    //  Overwrites and deletes over 40 keys, a compaction in the middle
    for (int i = 0; i < 300; i++) {
        char key [32], value [32];
        snprintf (key, sizeof key, "key/%02d", (i * 7) % 40);
        snprintf (value, sizeof value, "value %d", i);
        if (i % 9 == 4) {
            zkv_delete_range_t del = { .key = cf_bin (key) };
            zkv_result_t status;
            zkv_msg_t *reply = zkv_client_call (client, &zkv_delete_range_desc, &del, &status);
            cr_assert (reply && !zkv_reply_error (reply));
            zkv_msg_destroy (&reply);
        }
        else
            cr_assert (cf_put (client, key, value));
        if (i == 150)
            s_compact (client, 100);
    }
    s_compact (client, 200);
    free (cf_converged ());
    for (size_t i = 0; i < 3; i++) {
        zkv_status_response_t seen;
        cr_assert (cf_status_settles (zkv_harness_name (cf_cluster, i), &seen));
    }
    //  HashKV at the current revision, between the compactions, at the
    //  second compaction (its cached hash) and above it
    const int64_t revisions [] = { 0, 200, 250, 100 };
    for (size_t r = 0; r < 4; r++) {
        uint32_t hash;
        cr_assert (s_hashes_agree (true, revisions [r], &hash),
                   "members disagree on HashKV (%" PRId64 ")", revisions [r]);
    }
    //  Hash once every member has finished deleting what was compacted
    uint32_t hash;
    cr_assert (eventually (s_hash_agreed, &hash, 10000), "members disagree on Hash");
    zkv_client_destroy (&client);
}

//  ---------------------------------------------------------------------
//  zkvctl's endpoint commands

//  zkvctl with args exactly as given, or after --endpoints <n1>
static zkv_run_t
s_zkvctl_bare (const char *const *args)
{
    return cf_zkvctl (NULL, args);
}

static zkv_run_t
s_zkvctl (const char *const *args)
{
    return cf_zkvctl (zkv_harness_endpoint (cf_cluster, "n1"), args);
}

static int
s_count (const char *text, const char *word)
{
    int count = 0;
    for (const char *at = strstr (text, word); at; at = strstr (at + 1, word))
        count++;
    return count;
}

Test (maintenance, zkvctl_endpoint_commands_address_the_whole_cluster)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    cf_put_keys (client, 10);
    zkv_client_destroy (&client);
    free (cf_converged ());

    //  status: one row per member, etcd's 16 columns and zkv's 2
    const char *status [] = { "endpoint", "status", "--cluster", NULL };
    zkv_run_t run = s_zkvctl (status);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_eq (s_count (run.out, "\n"), 3, "%s", run.out);
    cr_assert_eq (s_count (run.out, ", "), 3 * 17, "%s", run.out);
    cr_assert_eq (s_count (run.out, ", leader\n"), 1, "%s", run.out);
    cr_assert_eq (s_count (run.out, ", 1.0.0, "), 3, "%s", run.out);
    zkv_run_free (&run);
    const char *status_json [] = { "endpoint", "status", "--cluster", "-w", "json", NULL };
    run = s_zkvctl (status_json);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_eq (strncmp (run.out, "[{\"Endpoint\":\"tcp://", 20), 0, "%s", run.out);
    cr_assert_eq (s_count (run.out, "\"Status\":{\"header\":{\"cluster_id\":"), 3, "%s", run.out);
    cr_assert_eq (s_count (run.out, "\"role\":\"leader\""), 1, "%s", run.out);
    cr_assert_eq (s_count (run.out, "\"dbSizeQuota\":2147483648"), 3, "%s", run.out);
    zkv_run_free (&run);

    //  hashkv: the same hash from every member, at the current revision
    const char *hashkv [] = { "endpoint", "hashkv", "--cluster", NULL };
    run = s_zkvctl (hashkv);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char *first_line_end = strchr (run.out, '\n');
    cr_assert_not_null (first_line_end);
    const char *hash = strchr (run.out, ' ');
    cr_assert_not_null (hash);
    char expected [64];
    snprintf (expected, sizeof expected, "%.*s", (int) (first_line_end - hash), hash);
    cr_assert_eq (s_count (run.out, expected), 3, "%s", run.out);
    cr_assert_not_null (strstr (expected, ", 11"), "%s", expected);
    zkv_run_free (&run);
    const char *hashkv_json [] = { "endpoint", "hashkv", "--rev", "5", "-w", "json", NULL };
    run = s_zkvctl (hashkv_json);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_not_null (strstr (run.out, "\"compact_revision\":-1,\"hash_revision\":5}}]"),
                        "%s", run.out);
    zkv_run_free (&run);

    //  A future revision: each member's failure told, exit 1, no "Error:"
    const char *future [] = { "endpoint", "hashkv", "--cluster", "--rev", "1000", NULL };
    run = s_zkvctl (future);
    cr_assert_eq (run.code, 1);
    cr_assert_str_empty (run.out);
    cr_assert_eq (s_count (run.err, "Failed to get the hash of endpoint tcp://"), 3, "%s",
                  run.err);
    cr_assert_eq (s_count (run.err, "(etcdserver: mvcc: required revision is a future "
                                    "revision)\n"), 3, "%s", run.err);
    cr_assert_null (strstr (run.err, "Error:"));
    zkv_run_free (&run);

    //  hash: equal everywhere too
    const char *hash_all [] = { "endpoint", "hash", "--cluster", "-w", "table", NULL };
    run = s_zkvctl (hash_all);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_not_null (strstr (run.out, "ENDPOINT"), "%s", run.out);
    cr_assert_eq (s_count (run.out, "| tcp://127.0.0.1:"), 3, "%s", run.out);
    zkv_run_free (&run);

    //  health: every member healthy; with one killed, exit 1
    const char *health [] = { "endpoint", "health", "--cluster", NULL };
    run = s_zkvctl (health);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_eq (s_count (run.out, " is healthy: successfully committed proposal: took = "), 3,
                  "%s", run.out);
    zkv_run_free (&run);
    //  A follower other than n1 (which lists the members): the leader
    //  and n1 stay, so their health does not wait for an election
    const char *victim = !streq (leader, "n2")? "n2": "n3";
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGKILL), 0);
    const char *health_short [] = { "--command-timeout", "1s", "endpoint", "health", "--cluster",
                                    NULL };
    run = s_zkvctl (health_short);
    cr_assert_eq (run.code, 1);
    cr_assert_eq (s_count (run.out, " is healthy"), 2, "%s", run.out);
    cr_assert_eq (s_count (run.err, " is unhealthy: failed to commit proposal: "), 1, "%s",
                  run.err);
    cr_assert_not_null (strstr (run.err, "Error: unhealthy cluster\n"), "%s", run.err);
    zkv_run_free (&run);

    //  Bad flags are bad arguments
    const char *bad [] = { "endpoint", "hashkv", "--rev", "x", NULL };
    run = s_zkvctl (bad);
    cr_assert_eq (run.code, 128, "%s", run.err);
    zkv_run_free (&run);
}

//  ---------------------------------------------------------------------
//  Defragment

//  A writer that puts keys until told to stop, counting failures
typedef struct {
    char endpoints [512];
    atomic_int written;                 //  read by the test while it writes
    atomic_int failed;
} s_writer_t;

static void
s_writer (zsock_t *pipe, void *args)
{
    s_writer_t *writer = (s_writer_t *) args;
    zkv_client_t *client = zkv_client_new (writer->endpoints, 5000);
    zsock_signal (pipe, 0);
    while (!(zsock_events (pipe) & ZMQ_POLLIN)) {
        char key [32];
        snprintf (key, sizeof key, "load/%06d",
                  atomic_load (&writer->written) + atomic_load (&writer->failed));
        if (cf_put (client, key, "a value written while a member defragments"))
            atomic_fetch_add (&writer->written, 1);
        else
            atomic_fetch_add (&writer->failed, 1);
    }
    zkv_client_destroy (&client);
    char *command = zstr_recv (pipe);
    zstr_free (&command);
    zsock_signal (pipe, 0);
}

Test (maintenance, defrag_under_a_write_load_loses_and_fails_nothing)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    //  Garbage to reclaim: 6 MB of values that do not compress, written,
    //  put into table files by a first defrag, then deleted and compacted.
    //  In tables, it waits for a defrag: its 500 deletions are fewer than
    //  RocksDB's compact-on-deletion needs (512 in 1,024 records), and one
    //  new table file starts no automatic compaction.
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    char value [12288];
    uint32_t seed = 7;
    for (int i = 0; i < 500; i++) {
        for (size_t c = 0; c + 1 < sizeof value; c++) {
            seed = seed * 1103515245 + 12345;
            value [c] = (char) ('!' + (seed >> 16) % 90);
        }
        value [sizeof value - 1] = 0;
        char key [32];
        snprintf (key, sizeof key, "garbage/%03d", i);
        cr_assert (cf_put (client, key, value));
    }
    zkv_defragment_t request = { false };
    zkv_msg_t *reply = cf_call (leader, &zkv_defragment_desc, &request);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
    zkv_delete_range_t del = { .key = cf_bin ("garbage/"), .range_end = cf_bin ("garbage0") };
    zkv_result_t result;
    reply = zkv_client_call (client, &zkv_delete_range_desc, &del, &result);
    cr_assert (reply && !zkv_reply_error (reply));
    int64_t revision = ((zkv_delete_range_response_t *) reply->body)->header->revision;
    zkv_msg_destroy (&reply);
    s_compact (client, revision);
    zkv_client_destroy (&client);

    //  Under a writer to the leader: the leader alone first, then every
    //  member, the leader last (the asserts wait until the writer stopped)
    s_writer_t writer = { .written = 0 };
    snprintf (writer.endpoints, sizeof writer.endpoints, "%s",
              zkv_harness_endpoint (cf_cluster, leader));
    zactor_t *load = zactor_new (s_writer, &writer);
    eventually_more_t written = { &writer.written, 0 };
    cr_assert (eventually (eventually_more, &written, 10000), "the writer wrote nothing");
    reply = cf_call (leader, &zkv_defragment_desc, &request);
    const char *defrag [] = { "defrag", "--cluster", NULL };
    zkv_run_t run = s_zkvctl (defrag);
    //  ... and writes once every member has defragmented
    written.before = atomic_load (&writer.written);
    cr_assert (eventually (eventually_more, &written, 10000),
               "the writer wrote nothing after the defrag");
    zstr_send (load, "STOP");
    zsock_wait (load);
    zactor_destroy (&load);

    cr_assert (reply && !zkv_reply_error (reply));
    zkv_defragment_response_t *response = (zkv_defragment_response_t *) reply->body;
    cr_assert_lt (response->db_size, response->db_size_before - (2 << 20),
                  "%" PRId64 " -> %" PRId64, response->db_size_before, response->db_size);
    cr_assert_leq (response->db_size_in_use, response->db_size);
    zkv_msg_destroy (&reply);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_eq (s_count (run.out, "Finished defragmenting etcd member[tcp://"), 3, "%s", run.out);
    cr_assert_eq (s_count (run.out, "]. took "), 3, "%s", run.out);
    char last [128];
    snprintf (last, sizeof last, "member[%s]", zkv_harness_endpoint (cf_cluster, leader));
    const char *final = NULL;
    for (const char *at = strstr (run.out, "member["); at; at = strstr (at + 1, "member["))
        final = at;
    cr_assert (final && strncmp (final, last, strlen (last)) == 0,
               "the leader was not last:\n%s", run.out);
    zkv_run_free (&run);
    cr_assert_eq (writer.failed, 0, "%d writes failed during the defrag", writer.failed);
    cr_assert_gt (writer.written, 0);

    //  The data intact, everywhere: every key written, nothing else
    char *data = cf_converged ();
    int lines = s_count (data, "\n");
    cr_assert_eq (lines, writer.written, "%d keys, %d written", lines, writer.written);
    free (data);
    uint32_t hash;
    cr_assert (eventually (s_hash_agreed, &hash, 10000), "members disagree on Hash after defrag");
}

//  ---------------------------------------------------------------------
//  Snapshot


//  Writes a copy of file at copy: its first `keep` bytes, with the byte at
//  `flip` (if below keep) changed
static void
s_copy_damaged (const char *file, const char *copy, long keep, long flip)
{
    FILE *in = fopen (file, "rb"), *out = fopen (copy, "wb");
    cr_assert (in && out);
    for (long at = 0; at < keep; at++) {
        int byte = fgetc (in);
        if (byte == EOF)
            break;
        fputc (at == flip? byte ^ 0x5a: byte, out);
    }
    fclose (in);
    fclose (out);
}

static long
s_file_size (const char *file)
{
    FILE *in = fopen (file, "rb");
    cr_assert_not_null (in);
    fseek (in, 0, SEEK_END);
    long size = ftell (in);
    fclose (in);
    return size;
}

Test (maintenance, snapshot_saved_and_restored_into_a_new_cluster)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoints (cf_cluster), 5000);
    for (int i = 0; i < 400; i++) {
        char key [32], value [64];
        snprintf (key, sizeof key, "snap/%03d", (i * 13) % 150);
        snprintf (value, sizeof value, "value %d of a snapshot", i);
        cr_assert (cf_put (client, key, value));
        if (i == 250)
            s_compact (client, 200);
    }
    zkv_client_destroy (&client);
    char *data = cf_converged ();
    const char *source = streq (leader, "n2")? "n3": "n2";

    //  save from a follower; status reads it back
    char file [256];
    snprintf (file, sizeof file, "%s/backup.db", cf_dir);
    const char *save [] = { "--endpoints", zkv_harness_endpoint (cf_cluster, source),
                            "snapshot", "save", file, NULL };
    zkv_run_t run = s_zkvctl_bare (save);
    cr_assert_eq (run.code, 0, "%s", run.err);
    char said [300];
    snprintf (said, sizeof said, "Snapshot saved at %s\nServer version 1.0.0\n", file);
    cr_assert_str_eq (run.out, said);
    zkv_run_free (&run);
    const char *status [] = { "snapshot", "status", file, "-w", "json", NULL };
    run = s_zkvctl_bare (status);
    cr_assert_eq (run.code, 0, "%s", run.err);
    cr_assert_not_null (strstr (run.out, "\"revision\":401,\"totalKey\":150,"), "%s", run.out);
    zkv_run_free (&run);
    int64_t compact;
    uint32_t hash = s_hash (source, true, 401, &compact);

    //  A file cut short or altered is refused by status and restore
    char damaged [256];
    snprintf (damaged, sizeof damaged, "%s/damaged.db", cf_dir);
    long size = s_file_size (file);
    const long keeps [] = { size / 2, size, 20 };
    const long flips [] = { -1, size / 3, -1 };
    for (int d = 0; d < 3; d++) {
        s_copy_damaged (file, damaged, keeps [d], flips [d]);
        const char *check [] = { "snapshot", "status", damaged, NULL };
        run = s_zkvctl_bare (check);
        cr_assert_eq (run.code, 1, "damage %d: %s", d, run.out);
        cr_assert_not_null (strstr (run.err, "Error: "), "%s", run.err);
        zkv_run_free (&run);
        char dir [300];
        snprintf (dir, sizeof dir, "%s/refused", cf_dir);
        const char *restore [] = { "snapshot", "restore", damaged, "--data-dir", dir,
                                   "--name", "n1", "--initial-cluster", "n1=tcp://127.0.0.1:9",
                                   NULL };
        run = s_zkvctl_bare (restore);
        cr_assert_eq (run.code, 1, "damage %d: %s", d, run.out);
        cr_assert (access (dir, F_OK) != 0, "a refused restore left %s", dir);
        zkv_run_free (&run);
    }

    //  A new cluster, every member restored from the file
    char new_dir [256];
    snprintf (new_dir, sizeof new_dir, "%s/restored", cf_dir);
    const char *flags [] = { "--heartbeat-interval", "50", "--election-timeout", "500", NULL };
    zkv_harness_config_t config = {
        .members = 3, .dir = new_dir, .node = ZKV_NODE_BIN, .flags = flags, .attached = true
    };
    char error [4096];
    zkv_harness_t *restored = zkv_harness_new (&config, error, sizeof error);
    cr_assert_not_null (restored, "%s", error);
    zconfig_t *root = zconfig_load (zkv_harness_file (restored));
    cr_assert_not_null (root);
    const char *token = zconfig_get (root, "cluster/token", "");
    char initial [512] = "";
    for (zconfig_t *member = zconfig_child (zconfig_locate (root, "cluster")); member;
         member = zconfig_next (member))
        if (streq (zconfig_name (member), "member")) {
            char item [128];
            snprintf (item, sizeof item, "%s%s=%s", *initial? ",": "",
                      zconfig_get (member, "name", ""), zconfig_get (member, "peer", ""));
            strcat (initial, item);
        }
    for (size_t i = 0; i < 3; i++) {
        const char *name = zkv_harness_name (restored, i);
        char dir [300];
        snprintf (dir, sizeof dir, "%s/%s", new_dir, name);
        const char *restore [] = { "snapshot", "restore", file, "--data-dir", dir, "--name",
                                   name, "--initial-cluster", initial,
                                   "--initial-cluster-token", token, NULL };
        run = s_zkvctl_bare (restore);
        cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
        zkv_run_free (&run);
    }
    zconfig_destroy (&root);
    cr_assert_eq (zkv_harness_start (restored, NULL, error, sizeof error), 0, "%s", error);
    char new_leader [32];
    cr_assert_eq (zkv_harness_wait_leader (restored, 20000, new_leader, sizeof new_leader), 0);
    //  The same data and the same HashKV at the snapshot's revision, on
    //  every new member; writes go on from that revision
    zkv_harness_t *original = cf_cluster;
    cf_cluster = restored;
    char *copy = cf_converged ();
    cr_assert_str_eq (copy, data);
    free (copy);
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq (s_hash (zkv_harness_name (restored, i), true, 401, &compact), hash);
    client = zkv_client_new (zkv_harness_endpoints (restored), 5000);
    zkv_put_t put = { .key = cf_bin ("after"), .value = cf_bin ("restore") };
    zkv_result_t result;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &result);
    cr_assert (reply && !zkv_reply_error (reply));
    cr_assert_eq (((zkv_put_response_t *) reply->body)->header->revision, 402);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    cf_cluster = original;
    zkv_harness_destroy (&restored);
    free (data);
}

//  A client that asks for a snapshot and then reads nothing: the member
//  sends only what was granted and goes on serving everyone else
Test (maintenance, a_client_that_stops_reading_a_snapshot_hurts_nothing)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    zkv_client_t *client = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    cf_put_keys (client, 300);
    zkv_client_t *stalled [4];
    for (int i = 0; i < 3; i++) {
        stalled [i] = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
        zkv_snapshot_t request = { .credit = 2, .chunk_size = 4096 };
        cr_assert (zkv_client_send (stalled [i], &zkv_snapshot_desc, &request, 2000));
        zkv_result_t status;
        for (int r = 0; r < 2; r++) {
            zkv_msg_t *reply = zkv_client_recv (stalled [i], &zkv_snapshot_desc, 5000, &status);
            cr_assert_not_null (reply);
            cr_assert_null (zkv_reply_error (reply));
            cr_assert_eq (((zkv_snapshot_response_t *) reply->body)->blob.size, 4096);
            zkv_msg_destroy (&reply);
        }
        //  Granted two: a third never comes
        cr_assert_null (zkv_client_recv (stalled [i], &zkv_snapshot_desc, 300, &status));
    }
    //  Writes, reads, Status and a whole snapshot by another client go on
    for (int i = 0; i < 50; i++)
        cr_assert (cf_put (client, "during", "stalled snapshots"));
    char file [256];
    snprintf (file, sizeof file, "%s/whole.db", cf_dir);
    const char *save [] = { "--endpoints", zkv_harness_endpoint (cf_cluster, leader),
                            "snapshot", "save", file, NULL };
    zkv_run_t run = s_zkvctl_bare (save);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    //  A fourth stream stalls too; a fifth is one more than a member keeps
    //  at once, and is refused, clearly
    stalled [3] = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    zkv_snapshot_t request = { .credit = 1 };
    cr_assert (zkv_client_send (stalled [3], &zkv_snapshot_desc, &request, 2000));
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_recv (stalled [3], &zkv_snapshot_desc, 5000, &status);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
    zkv_client_t *fifth = zkv_client_new (zkv_harness_endpoint (cf_cluster, leader), 5000);
    reply = zkv_client_call (fifth, &zkv_snapshot_desc, &request, &status);
    cr_assert_not_null (reply);
    const zkv_error_t *error = zkv_reply_error (reply);
    cr_assert (error && error->message.size == strlen ("etcdserver: too many requests")
               && memcmp (error->message.data, "etcdserver: too many requests",
                          error->message.size) == 0);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&fifth);
    for (int i = 0; i < 4; i++)
        zkv_client_destroy (&stalled [i]);
    zkv_client_destroy (&client);
}

//  ---------------------------------------------------------------------
//  Events

//  zkvctl events, run on a thread of its own: says "EXITED" on its pipe
//  once zkvctl has seen its event and ended
static void
s_listener (zsock_t *pipe, void *args)
{
    zkv_run_t *run = (zkv_run_t *) args;
    const char *argv [] = { ZKVCTL_BIN, "--endpoints", zkv_harness_endpoints (cf_cluster),
                            "--command-timeout", "30s", "events", "--cluster", "--topic",
                            "defrag", "--max-events", "1", "-w", "json", NULL };
    zsock_signal (pipe, 0);
    *run = zkv_run (NULL, argv);
    zstr_send (pipe, "EXITED");
    char *command = zstr_recv (pipe);   //  $TERM
    zstr_free (&command);
}

typedef struct {
    zsock_t *sub;
    msgpack_zone *zone;
    uint64_t leader;            //  the new leader
    uint64_t old;               //  the old leader
} s_leader_told_t;

//  True once a leader event tells of the new leader, from another member
//  than the old leader (half a second to hear one)
static bool
s_survivor_told (void *args)
{
    s_leader_told_t *self = (s_leader_told_t *) args;
    zkv_leader_event_t *event = (zkv_leader_event_t *) cf_event (
        self->sub, "leader", &zkv_leader_event_desc, self->zone, 500);
    return event && event->leader == self->leader && event->member != self->old;
}

Test (maintenance, every_member_publishes_its_events)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    //  A subscriber to every member, at the events endpoints they published
    zsock_t *sub = cf_subscribe ();
    zkv_msg_t *reply;

    //  defrag: the member defragmented says so, to this subscriber and to
    //  zkvctl events. A subscriber sees only what is published once it is
    //  connected, so defrags go on until both have seen one.
    zkv_run_t listened = { 0, NULL, NULL };
    zactor_t *listener = zactor_new (s_listener, &listened);
    zpoller_t *listening = zpoller_new (listener, NULL);
    const char *victim = streq (leader, "n1")? "n2": "n1";
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_defrag_event_t *defrag = NULL;
    bool exited = false;
    for (int round = 0; round < 50 && !(defrag && exited); round++) {
        zkv_defragment_t defragment = { false };
        reply = cf_call (victim, &zkv_defragment_desc, &defragment);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
        if (!defrag)
            defrag = (zkv_defrag_event_t *) cf_event (sub, "defrag", &zkv_defrag_event_desc,
                                                     zone, 200);
        if (!exited && zpoller_wait (listening, 200)) {
            char *said = zstr_recv (listener);
            exited = said && streq (said, "EXITED");
            zstr_free (&said);
        }
    }
    zpoller_destroy (&listening);
    zactor_destroy (&listener);
    cr_assert_not_null (defrag, "no defrag event");
    cr_assert_eq (defrag->member, cf_member_id (victim));
    cr_assert_gt (defrag->db_size_before, 0);
    cr_assert (exited, "zkvctl events saw no defrag event");
    cr_assert_eq (listened.code, 0, "%s", listened.err);
    cr_assert_not_null (strstr (listened.out, "{\"topic\":\"defrag\",\"event\":{\"member\":"),
                        "%s", listened.out);
    zkv_run_free (&listened);

    //  A snapshot streamed to a client
    char file [256];
    snprintf (file, sizeof file, "%s/events.db", cf_dir);
    const char *save [] = { "--endpoints", zkv_harness_endpoint (cf_cluster, victim),
                            "snapshot", "save", file, NULL };
    zkv_run_t run = s_zkvctl_bare (save);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    zkv_snapshot_event_t *snapshot = (zkv_snapshot_event_t *) cf_event (
        sub, "snapshot", &zkv_snapshot_event_desc, zone, 10000);
    cr_assert_not_null (snapshot, "no snapshot event");
    cr_assert_eq (snapshot->member, cf_member_id (victim));
    cr_assert_gt (snapshot->bytes, 0);
    cr_assert_eq (snapshot->error.size, 0);

    //  kill -9 of the leader: a survivor tells the new leader and the old
    cr_assert_eq (zkv_harness_signal (cf_cluster, leader, SIGKILL), 0);
    char next [32];
    cf_leader (next, sizeof next);
    s_leader_told_t told = { sub, zone, cf_member_id (next), cf_member_id (leader) };
    cr_assert (eventually (s_survivor_told, &told, 10000),
               "no survivor told of the new leader %s", next);
    msgpack_zone_free (zone);
    zsock_destroy (&sub);
}

//  defrag --cluster with a member down (killed: its port refuses; stopped:
//  its port takes the TCP connection, but nothing answers ZeroMQ's
//  handshake): that member fails within the dial timeout (not the
//  defrag's hour), the others are defragmented, the follower first and
//  the leader last, and the exit code is 1
static void
s_defrag_past_a_member_down (int signal)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    //  A follower other than n1, which lists the members
    const char *victim = !streq (leader, "n2")? "n2": "n3";
    const char *follower = streq (leader, "n1")? (streq (victim, "n2")? "n3": "n2"): "n1";
    cr_assert_eq (zkv_harness_signal (cf_cluster, victim, signal), 0);
    const char *defrag [] = { "defrag", "--cluster", NULL };
    zkv_run_t run = s_zkvctl (defrag);
    if (signal == SIGSTOP)
        cr_assert_eq (zkv_harness_signal (cf_cluster, victim, SIGCONT), 0);
    cr_assert_eq (run.code, 1, "%s%s", run.out, run.err);
    char *failed = zsys_sprintf ("Failed to defragment etcd member[%s]. took ",
                                 zkv_harness_endpoint (cf_cluster, victim));
    cr_assert_eq (strncmp (run.err, failed, strlen (failed)), 0, "%s", run.err);
    cr_assert_eq (s_count (run.err, "\n"), 1, "%s", run.err);
    cr_assert_not_null (strstr (run.err, ". (context deadline exceeded)\n"), "%s", run.err);
    char *first = zsys_sprintf ("Finished defragmenting etcd member[%s]. took ",
                                zkv_harness_endpoint (cf_cluster, follower));
    char *last = zsys_sprintf ("\nFinished defragmenting etcd member[%s]. took ",
                               zkv_harness_endpoint (cf_cluster, leader));
    cr_assert_eq (strncmp (run.out, first, strlen (first)), 0, "%s", run.out);
    cr_assert_not_null (strstr (run.out, last), "%s", run.out);
    cr_assert_eq (s_count (run.out, "\n"), 2, "%s", run.out);
    free (first);
    free (last);
    free (failed);
    zkv_run_free (&run);
}

Test (maintenance, defrag_cluster_goes_past_a_dead_member)
{
    s_defrag_past_a_member_down (SIGKILL);
}

Test (maintenance, defrag_cluster_goes_past_a_stopped_member)
{
    s_defrag_past_a_member_down (SIGSTOP);
}
