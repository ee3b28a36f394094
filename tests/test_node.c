/*  test_node.c — a real zkv-node process, driven through the client library
    and raw sockets: hostile frames, restarts, kill -9. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "zkv_client.h"
#include "zkv_sha256.h"
#include "zkv_testnode.h"
#include "zkv_utf8.h"

static zkv_testnode_t *s_node;

static void
s_stop_node (void)
{
    zkv_testnode_destroy (&s_node);
}

static zkv_testnode_t *
s_start (const char *const *flags)
{
    s_node = zkv_testnode_start ("node", flags);
    cr_assert_not_null (s_node, "zkv-node did not start");
    return s_node;
}

static zkv_bin_t
s_bin (const char *text)
{
    return zkv_bin (text, strlen (text));
}

//  Puts key=value through the library; returns the revision
static int64_t
s_put (zkv_client_t *client, const char *key, const char *value)
{
    zkv_put_t put = { .key = s_bin (key), .value = s_bin (value) };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
    char text [256];
    cr_assert_not_null (reply, "put %s: %s", key, zkv_status_text (&status, text, sizeof text));
    cr_assert_null (zkv_reply_error (reply));
    int64_t revision = ((zkv_put_response_t *) reply->body)->header->revision;
    zkv_msg_destroy (&reply);
    return revision;
}

//  The value of key as a fresh string, or NULL
static char *
s_get (zkv_client_t *client, const char *key, bool serializable)
{
    zkv_range_t range = { .key = s_bin (key), .serializable = serializable };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
    cr_assert_not_null (reply);
    cr_assert_null (zkv_reply_error (reply));
    zkv_range_response_t *response = reply->body;
    char *value = NULL;
    if (response->kvs.count)
        value = strndup ((const char *) response->kvs.items [0].value.data,
                         response->kvs.items [0].value.size);
    zkv_msg_destroy (&reply);
    return value;
}

TestSuite (node, .fini = s_stop_node, .timeout = 60);

Test (node, put_get_and_headers)
{
    s_start (NULL);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    cr_assert_eq (s_put (client, "foo", "bar"), 2);
    char *value = s_get (client, "foo", false);
    cr_assert_str_eq (value, "bar");
    free (value);
    value = s_get (client, "foo", true);
    cr_assert_str_eq (value, "bar");
    free (value);
    cr_assert_null (s_get (client, "nothing", false));

    //  The header names the member and cluster, and the current revision
    zkv_range_t range = { .key = s_bin ("foo") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
    zkv_header_t *header = ((zkv_range_response_t *) reply->body)->header;
    cr_assert_neq (header->cluster_id, 0);
    cr_assert_neq (header->member_id, 0);
    cr_assert_eq (header->revision, 2);
    cr_assert_geq (header->raft_term, 1);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
}

//  ---------------------------------------------------------------------
//  Raw sockets: what any program could send

//  Sends one frame on a DEALER and returns the decoded reply
static zkv_msg_t *
s_raw_call (zsock_t *dealer, const void *bytes, size_t size, const zkv_desc_t *as)
{
    zframe_t *frame = zframe_new (bytes, size);
    cr_assert_eq (zframe_send (&frame, dealer, 0), 0);
    zframe_t *reply = zframe_recv (dealer);
    cr_assert_not_null (reply, "no reply");
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_msg_t *msg = zkv_msg_decode_reply (zframe_data (reply), zframe_size (reply), as,
                                           &limits, &status);
    zframe_destroy (&reply);
    cr_assert_not_null (msg, "undecodable reply");
    return msg;
}

static void
s_assert_error (zkv_msg_t *reply, const char *code, const char *text)
{
    const zkv_error_t *error = zkv_reply_error (reply);
    cr_assert_not_null (error, "expected an error");
    char buffer [512];
    cr_assert (zkv_bin_eq (error->code, code), "code %s",
               zkv_bin_str (error->code, buffer, sizeof buffer));
    zkv_bin_str (error->message, buffer, sizeof buffer);
    cr_assert_not_null (strstr (buffer, text), "message \"%s\" lacks \"%s\"", buffer, text);
}

static zsock_t *
s_dealer (void)
{
    zsock_t *dealer = zsock_new_dealer (zkv_testnode_endpoint (s_node));
    zsock_set_rcvtimeo (dealer, 5000);
    return dealer;
}

Test (node, garbage_frames_get_error_replies)
{
    s_start (NULL);
    zsock_t *dealer = s_dealer ();
    const struct {
        const char *bytes;
        size_t size;
        const char *code;
        const char *text;
    } cases [] = {
#define CASE(bytes, code, text) { bytes, sizeof bytes - 1, code, text }
        CASE ("\xc1", "InvalidArgument", "malformed request"),
        CASE ("", "InvalidArgument", "truncated"),
        CASE ("hello world", "InvalidArgument", "malformed request"),
        CASE ("\x93\x01\x02\x03", "InvalidArgument", "must be a map"),
        CASE ("\xdf\xff\xff\xff\xff", "InvalidArgument", "entries"),
        CASE ("\x82\xa2id\x07\xa2op\xa3put\xff", "InvalidArgument", "trailing"),
        CASE ("\x82\xa2id\x08\xa2op\xa4" "frob", "Unimplemented", "unknown op"),
        CASE ("\x83\xa2id\x09\xa2op\xa3put\xa3key\xa3" "foo", "InvalidArgument",
              "field \"key\" of put must be bin, got str"),
        CASE ("\x82\xa2id\x0a\xa2op\xa3put", "InvalidArgument", "key is not provided"),
#undef CASE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        zkv_msg_t *reply = s_raw_call (dealer, cases [i].bytes, cases [i].size, &zkv_put_desc);
        s_assert_error (reply, cases [i].code, cases [i].text);
        zkv_msg_destroy (&reply);
    }
    //  The replies carry the request's id and op when they could be read
    zkv_msg_t *reply = s_raw_call (dealer, "\x82\xa2id\x08\xa2op\xa4" "frob", 13, &zkv_put_desc);
    cr_assert (reply->has_id);
    cr_assert_eq (reply->id, 8);
    cr_assert (zkv_bin_eq (reply->op, "frob"));
    zkv_msg_destroy (&reply);

    //  What a reply quotes of a request is valid UTF-8, whatever the
    //  request held (msgpack str must be: strict decoders refuse the rest)
    const struct {
        const char *bytes;
        size_t size;
        const char *op;
        const char *text;
    } quoting [] = {
#define QUOTE(bytes, op, text) { bytes, sizeof bytes - 1, op, text }
        QUOTE ("\x82\xa2id\x0b\xa2op\xa3\xff\xfe\xfd", "\\xff\\xfe\\xfd",
               "zkv: unknown op: \"\\xff\\xfe\\xfd\""),
        QUOTE ("\x83\xa2id\x0c\xa2op\xa3put\xa2\xc3\x28\x01", "put", "\\xc3("),
        QUOTE ("\x82\xa2id\x0d\xa2op\xa4\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80",
               "zkv: unknown op: \"\xf0\x9f\x98\x80\""),
#undef QUOTE
    };
    for (size_t i = 0; i < sizeof quoting / sizeof quoting [0]; i++) {
        zkv_msg_t *reply = s_raw_call (dealer, quoting [i].bytes, quoting [i].size,
                                       &zkv_put_desc);
        const zkv_error_t *error = zkv_reply_error (reply);
        cr_assert_not_null (error);
        cr_assert (zkv_utf8_valid (reply->op.data, reply->op.size));
        cr_assert (zkv_utf8_valid (error->message.data, error->message.size));
        char text [256];
        cr_assert (zkv_bin_eq (reply->op, quoting [i].op), "op %s",
                   zkv_bin_str (reply->op, text, sizeof text));
        zkv_bin_str (error->message, text, sizeof text);
        cr_assert_not_null (strstr (text, quoting [i].text), "message \"%s\"", text);
        zkv_msg_destroy (&reply);
    }

    //  A message of more frames than any client sends is answered too
    zmsg_t *frames = zmsg_new ();
    for (int i = 0; i < 4; i++)
        zmsg_addstr (frames, "envelope");
    zmsg_addmem (frames, "\x82\xa2id\x0e\xa2op\xa3put", 12);
    cr_assert_eq (zmsg_send (&frames, dealer), 0);
    zframe_t *answer = zframe_recv (dealer);
    cr_assert_not_null (answer, "no reply to a message of five frames");
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    reply = zkv_msg_decode_reply (zframe_data (answer), zframe_size (answer), &zkv_put_desc,
                                  &limits, &status);
    zframe_destroy (&answer);
    cr_assert_not_null (reply);
    cr_assert_eq (reply->id, 14);
    s_assert_error (reply, "InvalidArgument", "a message of 5 frames: a request is one frame, "
                    "after at most 3 frames of envelope");
    zkv_msg_destroy (&reply);

    //  And the node keeps serving
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    cr_assert_eq (s_put (client, "still", "here"), 2);
    zkv_client_destroy (&client);
    cr_assert (zkv_testnode_running (s_node));
    zsock_destroy (&dealer);
}

Test (node, oversize_frame)
{
    s_start (NULL);
    zsock_t *dealer = s_dealer ();
    //  2 MiB of value: over the default 1.5 MiB limit
    size_t size = 2 << 20;
    zkv_put_t put = { .key = s_bin ("big") };
    char *value = calloc (1, size);
    put.value = zkv_bin (value, size);
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    zkv_msg_pack_top (&pk, &zkv_put_desc, &put, NULL, true, 99);
    zkv_msg_t *reply = s_raw_call (dealer, buffer.data, buffer.size, &zkv_put_desc);
    s_assert_error (reply, "InvalidArgument", "etcdserver: request is too large");
    cr_assert_eq (reply->id, 99);
    zkv_msg_destroy (&reply);
    msgpack_sbuffer_destroy (&buffer);
    free (value);

    //  Just under the limit is fine
    put.value = zkv_bin ("small", 5);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    zkv_result_t status;
    reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
    cr_assert_not_null (reply);
    cr_assert_null (zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    zsock_destroy (&dealer);
}

Test (node, settings_from_a_config_file)
{
    char path [] = "/tmp/zkv-test-config-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    const char *text = "zkv\n    max-request-bytes = 2048\n    max-txn-ops = 2\n";
    cr_assert_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    const char *flags [] = { "--config", path, NULL };
    s_start (flags);
    unlink (path);
    zsock_t *dealer = s_dealer ();
    char value [4096];
    memset (value, 'v', sizeof value);
    zkv_put_t put = { .key = s_bin ("k"), .value = zkv_bin (value, sizeof value) };
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    zkv_msg_pack_top (&pk, &zkv_put_desc, &put, NULL, true, 1);
    zkv_msg_t *reply = s_raw_call (dealer, buffer.data, buffer.size, &zkv_put_desc);
    s_assert_error (reply, "InvalidArgument", "etcdserver: request is too large");
    zkv_msg_destroy (&reply);
    msgpack_sbuffer_destroy (&buffer);

    zkv_range_t get = { .key = s_bin ("k") };
    zkv_request_op_t ops [3] = { { .request_range = &get }, { .request_range = &get },
                                 { .request_range = &get } };
    zkv_txn_t txn = { .success = { ops, 3 } };
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    zkv_result_t status;
    reply = zkv_client_call (client, &zkv_txn_desc, &txn, &status);
    cr_assert_not_null (reply);
    s_assert_error (reply, "InvalidArgument", "etcdserver: too many operations in txn request");
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    zsock_destroy (&dealer);
}

Test (node, bad_settings_are_refused)
{
    const char *engine [] = { ZKV_NODE_BIN, "--engine", "floppy", NULL };
    zkv_run_t run = zkv_run (NULL, engine);
    cr_assert_eq (run.code, 2);
    cr_assert_not_null (strstr (run.err, "--engine must be rocksdb or memory"), "%s", run.err);
    zkv_run_free (&run);

    //  Sizes the free-disk guard adds up in 64 bits
    const char *huge [] = { ZKV_NODE_BIN, "--disk-reserve-bytes", "18446744073709551615", NULL };
    run = zkv_run (NULL, huge);
    cr_assert_eq (run.code, 2);
    cr_assert_not_null (strstr (run.err, "--disk-reserve-bytes must be a number of bytes"), "%s",
                        run.err);
    zkv_run_free (&run);

    const char *unknown [] = { ZKV_NODE_BIN, "--frobnicate", NULL };
    run = zkv_run (NULL, unknown);
    cr_assert_eq (run.code, 2);
    cr_assert_not_null (strstr (run.err, "--frobnicate"), "%s", run.err);
    zkv_run_free (&run);

    //  Other members could not find a member whose peer port is a wildcard
    const char *wildcard [] = { ZKV_NODE_BIN, "--engine", "memory", "--name", "w1",
                                "--listen-peer", "tcp://127.0.0.1:*", NULL };
    run = zkv_run (NULL, wildcard);
    cr_assert_eq (run.code, 1);
    cr_assert_not_null (strstr (run.err, "peer endpoint tcp://127.0.0.1:* of member 'w1' "
                                         "has no fixed port"), "%s", run.err);
    zkv_run_free (&run);
}

Test (node, req_clients_are_served_too)
{
    s_start (NULL);
    zsock_t *req = zsock_new_req (zkv_testnode_endpoint (s_node));
    zsock_set_rcvtimeo (req, 5000);
    zkv_put_t put = { .key = s_bin ("r"), .value = s_bin ("1") };
    size_t size;
    uint8_t *bytes = zkv_msg_encode (&zkv_put_desc, &put, &size);
    zframe_t *frame = zframe_new (bytes, size);
    free (bytes);
    zframe_send (&frame, req, 0);
    zframe_t *reply = zframe_recv (req);
    cr_assert_not_null (reply);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_msg_t *msg = zkv_msg_decode_reply (zframe_data (reply), zframe_size (reply),
                                           &zkv_put_desc, &limits, &status);
    cr_assert_not_null (msg);
    cr_assert_null (zkv_reply_error (msg));
    cr_assert_not (msg->has_id);        //  none was sent
    cr_assert_eq (((zkv_put_response_t *) msg->body)->header->revision, 2);
    zkv_msg_destroy (&msg);
    zframe_destroy (&reply);
    zsock_destroy (&req);
}

Test (node, a_second_node_on_the_same_data_dir_is_refused)
{
    s_start (NULL);
    const char *argv [] = { ZKV_NODE_BIN, "--name", "twin", "--data-dir",
                            zkv_testnode_data_dir (s_node), "--listen-client",
                            "tcp://127.0.0.1:*", NULL };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 1);
    cr_assert_not_null (strstr (run.err, "is in use by another zkv-node"), "%s", run.err);
    zkv_run_free (&run);
    cr_assert (zkv_testnode_running (s_node));
}

Test (node, a_peer_port_in_use_is_refused_with_an_error)
{
    //  raft cannot bind its peer socket: the member says so and exits 1
    //  (it used to crash stopping a raft actor that had only half started)
    char taken [64], dir [] = "/tmp/zkv-test-peer-port-XXXXXX";
    int holder = zkv_dead_endpoint (taken, sizeof taken);
    cr_assert_geq (holder, 0);
    cr_assert_not_null (mkdtemp (dir));
    const char *argv [] = { ZKV_NODE_BIN, "--name", "n1", "--data-dir", dir, "--listen-client",
                            "tcp://127.0.0.1:*", "--listen-peer", taken, NULL };
    zkv_run_t run = zkv_run (NULL, argv);
    close (holder);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    cr_assert_eq (system (command), 0);
    cr_assert_eq (run.code, 1, "exit %d: %s", run.code, run.err);
    cr_assert_not_null (strstr (run.err, "raft could not start"), "%s", run.err);
    zkv_run_free (&run);
}

Test (node, sigterm_stops_cleanly_and_data_survives)
{
    s_start (NULL);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    s_put (client, "a", "1");
    zkv_client_destroy (&client);
    int status = zkv_testnode_kill (s_node, SIGTERM);
    cr_assert (WIFEXITED (status), "the node did not exit by itself");
    cr_assert_eq (WEXITSTATUS (status), 0);
    cr_assert_eq (zkv_testnode_restart (s_node), 0);
    client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    char *value = s_get (client, "a", false);
    cr_assert_str_eq (value, "1");
    free (value);
    cr_assert_eq (s_put (client, "a", "2"), 3);
    zkv_client_destroy (&client);
}

Test (node, sigterm_stops_the_member_whichever_thread_receives_it)
{
    //  kill(1) hands the signal to any thread that does not block it; the
    //  member must stop as surely when it lands on an actor's thread as on
    //  main's (under valgrind it mostly did not, and the member ran on)
    s_start (NULL);
    cr_assert_neq (zkv_testnode_signal_thread (s_node, SIGTERM), 0,
                   "no thread of the member but main takes SIGTERM");
    int status = 0;
    bool exited = zkv_testnode_exited_within (s_node, 20000, &status);
    cr_assert (exited, "the member did not stop on a SIGTERM that reached another thread");
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
}

Test (node, kill_9_loses_no_acknowledged_put)
{
    s_start (NULL);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    const int count = 300;
    int64_t revision = 0;
    for (int i = 0; i < count; i++) {
        char key [32], value [32];
        snprintf (key, sizeof key, "key-%04d", i);
        snprintf (value, sizeof value, "value-%d", i);
        revision = s_put (client, key, value);
    }
    zkv_client_destroy (&client);
    int status = zkv_testnode_kill (s_node, SIGKILL);
    cr_assert (WIFSIGNALED (status));
    cr_assert_eq (zkv_testnode_restart (s_node), 0);

    client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    zkv_range_t all = { .key = s_bin ("key-"), .range_end = s_bin ("key."), };
    zkv_result_t call_status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &all, &call_status);
    cr_assert_not_null (reply);
    zkv_range_response_t *response = reply->body;
    cr_assert_eq (response->count, count);
    cr_assert_eq (response->header->revision, revision);
    for (int i = 0; i < count; i++) {
        char value [32];
        snprintf (value, sizeof value, "value-%d", i);
        cr_assert (zkv_bin_eq (response->kvs.items [i].value, value), "key %d", i);
    }
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
}

//  Sends put number n of client c (key c/n, value v<n>, request id n)
static void
s_send_put (zsock_t *dealer, int c, int n)
{
    char key [32], value [32];
    snprintf (key, sizeof key, "%02d/%06d", c, n);
    snprintf (value, sizeof value, "v%d", n);
    zkv_put_t put = { .key = s_bin (key), .value = s_bin (value) };
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    zkv_msg_pack_top (&pk, &zkv_put_desc, &put, NULL, true, (uint64_t) n);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    zframe_send (&frame, dealer, 0);
    msgpack_sbuffer_destroy (&buffer);
}

Test (node, kill_9_under_concurrent_load_loses_no_acknowledged_put)
{
    s_start (NULL);
    //  Many clients keep puts in flight; the node dies between an fsync and
    //  an answer, or anywhere else. Every put answered before must survive.
    enum { CLIENTS = 16, MAX_PUTS = 100000 };
    zsock_t *dealers [CLIENTS];
    int next [CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        dealers [c] = s_dealer ();
        next [c] = 0;
    }
    bool *acked = calloc (CLIENTS * MAX_PUTS, sizeof (bool));
    zpoller_t *poller = zpoller_new (NULL);
    for (int c = 0; c < CLIENTS; c++)
        zpoller_add (poller, dealers [c]);
    for (int c = 0; c < CLIENTS; c++)
        s_send_put (dealers [c], c, next [c]++);
    int answered = 0;
    while (answered < 1500) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 5000);
        cr_assert_not_null (which, "no answer");
        int c = 0;
        while (dealers [c] != which)
            c++;
        zframe_t *reply = zframe_recv (which);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status;
        zkv_msg_t *msg = zkv_msg_decode_reply (zframe_data (reply), zframe_size (reply),
                                               &zkv_put_desc, &limits, &status);
        cr_assert_not_null (msg);
        cr_assert_null (zkv_reply_error (msg));
        acked [c * MAX_PUTS + (int) msg->id] = true;
        zkv_msg_destroy (&msg);
        zframe_destroy (&reply);
        answered++;
        s_send_put (dealers [c], c, next [c]++);
    }
    //  Puts are still in flight on every client
    zkv_testnode_kill (s_node, SIGKILL);
    zpoller_destroy (&poller);
    for (int c = 0; c < CLIENTS; c++)
        zsock_destroy (&dealers [c]);
    cr_assert_eq (zkv_testnode_restart (s_node), 0);

    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    for (int c = 0; c < CLIENTS; c++) {
        char from [16], to [16];
        snprintf (from, sizeof from, "%02d/", c);
        snprintf (to, sizeof to, "%02d0", c);
        zkv_range_t range = { .key = s_bin (from), .range_end = s_bin (to) };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
        cr_assert_not_null (reply);
        zkv_range_response_t *response = reply->body;
        bool *found = calloc (MAX_PUTS, sizeof (bool));
        for (size_t i = 0; i < response->kvs.count; i++) {
            int n = atoi ((const char *) response->kvs.items [i].key.data + 3);
            found [n] = true;
        }
        for (int n = 0; n < next [c]; n++)
            cr_assert (!acked [c * MAX_PUTS + n] || found [n],
                       "client %d: acknowledged put %d is lost", c, n);
        free (found);
        zkv_msg_destroy (&reply);
    }
    zkv_client_destroy (&client);
    free (acked);
}

Test (node, memory_engine_serves_and_forgets)
{
    const char *flags [] = { "--engine", "memory", NULL };
    s_start (flags);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    cr_assert_eq (s_put (client, "m", "1"), 2);
    char *value = s_get (client, "m", false);
    cr_assert_str_eq (value, "1");
    free (value);
    zkv_client_destroy (&client);
    zkv_testnode_kill (s_node, SIGTERM);
    cr_assert_eq (zkv_testnode_restart (s_node), 0);
    client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    cr_assert_null (s_get (client, "m", false));
    zkv_client_destroy (&client);
}

//  The maintenance that reads or rewrites the whole database works on the
//  memory engine too: the same calls, the same answers
Test (node, memory_engine_maintenance)
{
    const char *flags [] = { "--engine", "memory", NULL };
    s_start (flags);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    for (int i = 0; i < 200; i++)
        s_put (client, i % 2? "odd": "even", "a value to compact away");
    zkv_compact_t compact = { .revision = 150, .physical = true };
    zkv_defragment_t defragment = { false };
    zkv_hash_kv_t hash_kv = { .revision = 0 };
    zkv_hash_t hash = { false };
    zkv_snapshot_t snapshot = { .credit = 1000, .chunk_size = 4096 };
    const zkv_desc_t *descs [] = {
        &zkv_compact_desc, &zkv_defragment_desc, &zkv_hash_kv_desc, &zkv_hash_desc
    };
    const void *requests [] = { &compact, &defragment, &hash_kv, &hash };
    for (int r = 0; r < 4; r++) {
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, descs [r], requests [r], &status);
        cr_assert_not_null (reply, "%s", descs [r]->name);
        cr_assert_null (zkv_reply_error (reply), "%s", descs [r]->name);
        if (descs [r] == &zkv_hash_kv_desc)
            cr_assert_eq (((zkv_hash_kv_response_t *) reply->body)->compact_revision, 150);
        if (descs [r] == &zkv_defragment_desc) {
            const zkv_defragment_response_t *done = reply->body;
            cr_assert_gt (done->db_size_before, 0);
            cr_assert_leq (done->db_size_in_use, done->db_size);
        }
        zkv_msg_destroy (&reply);
    }
    //  The snapshot, whole: its bytes hash to the SHA-256 that ends it
    zkv_client_t *streamer = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    cr_assert (zkv_client_send (streamer, &zkv_snapshot_desc, &snapshot, 2000));
    zkv_sha256_t *digest = zkv_sha256_new ();
    uint64_t received = 0, total = 0;
    bool done = false;
    while (!done) {
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_recv (streamer, &zkv_snapshot_desc, 5000, &status);
        cr_assert (reply && !zkv_reply_error (reply));
        const zkv_snapshot_response_t *piece = (const zkv_snapshot_response_t *) reply->body;
        if (received == 0)
            total = piece->remaining_bytes + piece->blob.size;
        done = piece->done;
        if (done) {
            uint8_t sum [ZKV_SHA256_SIZE];
            zkv_sha256_digest (digest, sum);
            cr_assert_eq (piece->blob.size, sizeof sum);
            cr_assert_arr_eq (piece->blob.data, sum, sizeof sum);
        }
        else {
            zkv_sha256_update (digest, piece->blob.data, piece->blob.size);
            received += piece->blob.size;
            cr_assert_eq (piece->remaining_bytes, total - received);
        }
        zkv_msg_destroy (&reply);
    }
    cr_assert_eq (received, total);
    zkv_sha256_destroy (&digest);
    zkv_client_destroy (&streamer);
    char *value = s_get (client, "odd", true);
    cr_assert_str_eq (value, "a value to compact away");
    free (value);
    zkv_client_destroy (&client);
}

Test (node, many_clients_at_once)
{
    s_start (NULL);
    //  Many requests in flight on many sockets: group commit serves them
    enum { CLIENTS = 32, ROUNDS = 20 };
    zsock_t *dealers [CLIENTS];
    for (int c = 0; c < CLIENTS; c++)
        dealers [c] = s_dealer ();
    for (int round = 0; round < ROUNDS; round++) {
        for (int c = 0; c < CLIENTS; c++) {
            char key [32];
            snprintf (key, sizeof key, "c%02d", c);
            zkv_put_t put = { .key = s_bin (key), .value = s_bin (key) };
            size_t size;
            uint8_t *bytes = zkv_msg_encode (&zkv_put_desc, &put, &size);
            zframe_t *frame = zframe_new (bytes, size);
            free (bytes);
            zframe_send (&frame, dealers [c], 0);
        }
        for (int c = 0; c < CLIENTS; c++) {
            zframe_t *reply = zframe_recv (dealers [c]);
            cr_assert_not_null (reply);
            zframe_destroy (&reply);
        }
    }
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    zkv_range_t all = { .key = s_bin ("c"), .range_end = s_bin ("d"), .count_only = true };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &all, &status);
    cr_assert_eq (((zkv_range_response_t *) reply->body)->count, CLIENTS);
    cr_assert_eq (((zkv_range_response_t *) reply->body)->header->revision,
                  1 + CLIENTS * ROUNDS);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    for (int c = 0; c < CLIENTS; c++)
        zsock_destroy (&dealers [c]);
}
