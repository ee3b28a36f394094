/*  test_metrics.c — a member's HTTP server: /metrics (checked by the real
    promtool), /health with etcd's JSON and reasons, /livez, /readyz, and
    its bounds (connections, request size, methods), on real members. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "cluster_fixture.h"
#include "eventually.h"
#include "metrics_fixture.h"
#include "zkv_client.h"
#include "zkv_testnode.h"

static zkv_testnode_t *s_node;

static void
s_stop_node (void)
{
    zkv_testnode_destroy (&s_node);
}

//  Where a member says it serves metrics (its Status)
static char *
s_metrics_url (const char *endpoint)
{
    zkv_client_t *client = zkv_client_new (endpoint, 5000);
    zkv_status_t request = { false };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_status_desc, &request, &status);
    cr_assert_not_null (reply);
    zkv_status_response_t *response = (zkv_status_response_t *) reply->body;
    char *url = zsys_sprintf ("%.*s", (int) response->metrics_url.size,
                              (const char *) response->metrics_url.data);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    return url;
}

static zkv_bin_t
s_bin (const char *text)
{
    return zkv_bin (text, strlen (text));
}

//  ---------------------------------------------------------------------

Test (metrics, a_member_serves_its_metrics_and_health_as_etcd_does, .fini = s_stop_node)
{
    const char *flags [] = { "--listen-metrics", "http://127.0.0.1:0", NULL };
    s_node = zkv_testnode_start ("metrics", flags);
    cr_assert_not_null (s_node);
    char *url = s_metrics_url (zkv_testnode_endpoint (s_node));
    cr_assert (strncmp (url, "http://127.0.0.1:", 17) == 0, "metrics_url %s", url);

    //  Writes and reads show in the counts
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    for (int i = 0; i < 5; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", i);
        zkv_put_t put = { .key = s_bin (key), .value = s_bin ("v") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
        cr_assert (reply && !zkv_reply_error (reply));
        zkv_msg_destroy (&reply);
    }
    zkv_delete_range_t del = { .key = s_bin ("k0") };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_delete_range_desc, &del, &status);
    cr_assert (reply && !zkv_reply_error (reply));
    zkv_msg_destroy (&reply);
    zkv_range_t compacted = { .key = s_bin ("k1"), .revision = 100 };
    reply = zkv_client_call (client, &zkv_range_desc, &compacted, &status);
    cr_assert (reply && zkv_reply_error (reply), "a future revision is refused");
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);

    mf_http_t metrics = mf_get (url, "/metrics");
    cr_assert_eq (metrics.status, 200);
    const char *text = metrics.body;
    cr_assert_eq (mf_sample (text, "etcd_server_has_leader"), 1);
    cr_assert_eq (mf_sample (text, "etcd_server_is_leader"), 1);
    cr_assert_eq (mf_sample (text, "etcd_server_is_learner"), 0);
    cr_assert_eq (mf_sample (text, "etcd_server_leader_changes_seen_total"), 1);
    cr_assert_eq (mf_sample (text, "etcd_debugging_mvcc_keys_total"), 4);
    cr_assert_eq (mf_sample (text, "etcd_server_proposals_pending"), 0);
    cr_assert_geq (mf_sample (text, "etcd_server_proposals_applied_total"), 6);
    cr_assert_geq (mf_sample (text, "etcd_disk_wal_fsync_duration_seconds_count"), 6);
    cr_assert_geq (mf_sample (text, "etcd_disk_backend_commit_duration_seconds_count"), 6);
    cr_assert_eq (mf_sample (text, "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\","
                                  "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}"), 5);
    cr_assert_eq (mf_sample (text, "grpc_server_handled_total{grpc_code=\"OutOfRange\","
                                  "grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\","
                                  "grpc_type=\"unary\"}"), 1);
    cr_assert_eq (mf_sample (text, "grpc_server_started_total{grpc_method=\"Put\","
                                  "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}"), 5);
    cr_assert_eq (mf_sample (text, "grpc_server_handling_seconds_count{grpc_method=\"Put\","
                                  "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}"), 5);
    cr_assert_gt (mf_sample (text, "etcd_network_client_grpc_received_bytes_total"), 0);
    cr_assert_gt (mf_sample (text, "etcd_mvcc_db_total_size_in_bytes"), -1);
    cr_assert_eq (mf_sample (text, "etcd_server_quota_backend_bytes"), 2147483648.0);
    cr_assert_eq (mf_sample (text, "zkv_alarms_active{alarm=\"NOSPACE\"}"), 0);
    cr_assert_eq (mf_sample (text, "zkv_actor_inbox_depth{actor=\"storage\"}"), 0);
    cr_assert_gt (mf_sample (text, "zkv_actor_messages_total{actor=\"storage\"}"), 0);
    cr_assert_gt (mf_sample (text, "process_resident_memory_bytes"), 1000000);
    cr_assert_gt (mf_sample (text, "process_open_fds"), 3);
    cr_assert_gt (mf_sample (text, "process_start_time_seconds"), 1.7e9);
    char other [4096];
    cr_assert (mf_promtool_passes (text, other, sizeof other), "promtool check metrics: %s",
               other);
    free (metrics.body);

    mf_http_t health = mf_get (url, "/health");
    cr_assert_eq (health.status, 200);
    cr_assert_str_eq (health.body, "{\"health\":\"true\",\"reason\":\"\"}");
    free (health.body);
    //  etcd 3.6's named checks, their query and sub-paths
    const char *checks [][3] = {
        { "/livez", "200", "{\"health\":\"true\",\"reason\":\"[+]serializable_read ok\\n\"}" },
        { "/readyz", "200", "{\"health\":\"true\",\"reason\":\"[+]data_corruption ok\\n"
                            "[+]serializable_read ok\\n\"}" },
        { "/readyz?exclude=serializable_read", "200",
          "{\"health\":\"true\",\"reason\":\"[+]data_corruption ok\\n\"}" },
        { "/readyz?allowlist=serializable_read", "200",
          "{\"health\":\"true\",\"reason\":\"[+]serializable_read ok\\n\"}" },
        { "/readyz/data_corruption", "200",
          "{\"health\":\"true\",\"reason\":\"[+]data_corruption ok\\n\"}" },
        { "/livez?exclude=nope", "400",
          "some health checks cannot be excluded: no matches for \"nope\"\n" },
        { "/readyz?exclude=data_corruption&allowlist=serializable_read", "400",
          "both an allowlist and an exclude list are specified in the query\n" },
        { "/health?serializable=true", "200", "{\"health\":\"true\",\"reason\":\"\"}" },
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks [0]; i++) {
        mf_http_t answer = mf_get (url, checks [i][0]);
        cr_assert_eq (answer.status, atol (checks [i][1]), "%s: %ld", checks [i][0],
                      answer.status);
        cr_assert_str_eq (answer.body, checks [i][2], "%s", checks [i][0]);
        free (answer.body);
    }
    char *metrics_url = zsys_sprintf ("%s/metrics", url);
    mf_http_t head = mf_http ("HEAD", metrics_url);
    cr_assert_eq (head.status, 200);
    free (head.body);
    mf_http_t post = mf_http ("POST", metrics_url), missing = mf_get (url, "/v3/kv/range");
    zstr_free (&metrics_url);
    cr_assert_eq (post.status, 405);
    cr_assert_eq (missing.status, 404);
    free (post.body);
    free (missing.body);
    zstr_free (&url);
}

//  An alarm makes a member unhealthy, as etcd's /health says it
Test (metrics, an_alarm_makes_health_fail_until_it_is_disarmed, .fini = s_stop_node)
{
    const char *flags [] = { "--listen-metrics", "http://127.0.0.1:0", NULL };
    s_node = zkv_testnode_start ("alarmed", flags);
    cr_assert_not_null (s_node);
    char *url = s_metrics_url (zkv_testnode_endpoint (s_node));
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    zkv_status_t ask = { false };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_status_desc, &ask, &status);
    uint64_t me = ((zkv_status_response_t *) reply->body)->header->member_id;
    zkv_msg_destroy (&reply);
    //  NOSPACE, then CORRUPT: activated, then disarmed
    const char *names [] = { NULL, "NOSPACE", "CORRUPT" };
    for (uint64_t type = 1; type <= 2; type++)
        for (uint64_t action = 1; action <= 2; action++) {
            zkv_alarm_t alarm = { .action = action, .member_id = me, .alarm = type };
            reply = zkv_client_call (client, &zkv_alarm_desc, &alarm, &status);
            cr_assert (reply && !zkv_reply_error (reply));
            zkv_msg_destroy (&reply);
            mf_http_t health = mf_get (url, "/health"), readyz = mf_get (url, "/readyz");
            mf_http_t metrics = mf_get (url, "/metrics");
            char sample [64], body [128];
            snprintf (sample, sizeof sample, "zkv_alarms_active{alarm=\"%s\"}", names [type]);
            cr_assert_eq (mf_sample (metrics.body, sample), action == 1);
            if (action == 1) {
                cr_assert_eq (health.status, 503);
                snprintf (body, sizeof body, "{\"health\":\"false\",\"reason\":\"ALARM %s\"}\n",
                          names [type]);
                cr_assert_str_eq (health.body, body);
                //  As kubeadm's liveness probe asks it
                char query [64];
                snprintf (query, sizeof query, "/health?exclude=%s&serializable=true",
                          names [type]);
                mf_http_t probe = mf_get (url, query);
                cr_assert_eq (probe.status, 200, "%s", probe.body);
                free (probe.body);
            }
            else {
                cr_assert_eq (health.status, 200);
                cr_assert_str_eq (health.body, "{\"health\":\"true\",\"reason\":\"\"}");
            }
            //  Ready while NOSPACE (the member serves reads), not while CORRUPT
            if (type == 2 && action == 1) {
                cr_assert_eq (readyz.status, 503);
                cr_assert_str_eq (readyz.body, "{\"health\":\"false\",\"reason\":\"[-]"
                                  "data_corruption failed: Alarm active: CORRUPT\\n"
                                  "[+]serializable_read ok\\n\"}\n");
            }
            else
                cr_assert_eq (readyz.status, 200, "%s", readyz.body);
            free (health.body);
            free (readyz.body);
            free (metrics.body);
        }
    zkv_client_destroy (&client);
    zstr_free (&url);
}

//  A member with no leader, and one that cannot read linearizably, are not
//  healthy; the one left alone of three says so
static bool
s_no_leader_told (void *url)
{
    mf_http_t health = mf_get ((const char *) url, "/health");
    bool told = health.status == 503
             && streq (health.body, "{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}\n");
    free (health.body);
    return told;
}

Test (metrics, a_member_without_a_quorum_is_not_healthy, .fini = cf_teardown)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    //  The survivor: a follower; the leader and the other follower die
    const char *survivor = NULL;
    for (size_t i = 0; i < zkv_harness_size (cf_cluster); i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (!streq (name, leader) && !survivor)
            survivor = name;
    }
    const char *url = zkv_harness_metrics (cf_cluster, survivor);
    cr_assert (url && *url);
    mf_http_t health = mf_get (url, "/health");
    cr_assert_eq (health.status, 200, "%s", health.body);
    free (health.body);
    for (size_t i = 0; i < zkv_harness_size (cf_cluster); i++) {
        const char *name = zkv_harness_name (cf_cluster, i);
        if (!streq (name, survivor))
            cr_assert_eq (zkv_harness_signal (cf_cluster, name, SIGKILL), 0);
    }
    cr_assert (eventually (s_no_leader_told, (void *) url, 20000),
               "the survivor never said RAFT NO LEADER");
    //  It still serves serializable reads: live and ready as etcd 3.6 says
    //  it, and healthy when asked for those alone
    mf_http_t readyz = mf_get (url, "/readyz"), livez = mf_get (url, "/livez");
    mf_http_t serializable = mf_get (url, "/health?serializable=true");
    cr_assert_eq (readyz.status, 200, "%s", readyz.body);
    cr_assert_eq (livez.status, 200, "%s", livez.body);
    cr_assert_eq (serializable.status, 200, "%s", serializable.body);
    free (readyz.body);
    free (livez.body);
    free (serializable.body);
    mf_http_t metrics = mf_get (url, "/metrics");
    cr_assert_eq (mf_sample (metrics.body, "etcd_server_has_leader"), 0);
    free (metrics.body);
}

//  A learner that follows is healthy (its probe read is serializable), and
//  says it is a learner
static bool
s_healthy_learner (void *url)
{
    mf_http_t health = mf_get ((const char *) url, "/health");
    mf_http_t metrics = mf_get ((const char *) url, "/metrics");
    bool healthy = health.status == 200
                && mf_sample (metrics.body, "etcd_server_is_learner") == 1
                && mf_sample (metrics.body, "etcd_server_has_leader") == 1;
    free (health.body);
    free (metrics.body);
    return healthy;
}

Test (metrics, a_learner_that_follows_is_healthy, .fini = cf_teardown)
{
    cf_up (NULL);
    char leader [32], error [256];
    cf_leader (leader, sizeof leader);
    cr_assert_eq (zkv_harness_add (cf_cluster, "n4", false, false, 30000, error, sizeof error),
                  0, "%s", error);
    const char *url = zkv_harness_metrics (cf_cluster, "n4");
    cr_assert (url && *url);
    cr_assert (eventually (s_healthy_learner, (void *) url, 20000),
               "the learner never said it is healthy");
}

//  ---------------------------------------------------------------------
//  Bounds: what a stranger can make the HTTP server spend

static int
s_connect (const char *url)
{
    int port = atoi (strrchr (url, ':') + 1);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    cr_assert_eq (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    return fd;
}

Test (metrics, connections_past_the_limit_wait_and_the_member_serves_on,
      .fini = s_stop_node)
{
    const char *flags [] = { "--listen-metrics", "http://127.0.0.1:0",
                             "--max-metrics-connections", "2", NULL };
    s_node = zkv_testnode_start ("bounded", flags);
    cr_assert_not_null (s_node);
    char *url = s_metrics_url (zkv_testnode_endpoint (s_node));
    //  Two idle connections take the two places; a third is not accepted:
    //  its request is answered only once one of them has gone
    int held [2] = { s_connect (url), s_connect (url) };
    int third = s_connect (url);
    const char *request = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cr_assert_eq (send (third, request, strlen (request), MSG_NOSIGNAL), (ssize_t) strlen (request));
    char answer [64] = "";
    struct timeval wait = { 1, 0 };
    setsockopt (third, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    cr_assert_lt (recv (third, answer, sizeof answer - 1, 0), 0, "served past the limit: %s",
                  answer);
    //  The member serves its clients meanwhile
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 5000);
    zkv_status_t ask = { false };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_status_desc, &ask, &status);
    cr_assert_not_null (reply);
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    close (held [0]);
    wait.tv_sec = 10;
    setsockopt (third, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    cr_assert_gt (recv (third, answer, sizeof answer - 1, 0), 0);
    cr_assert (strncmp (answer, "HTTP/1.1 200", 12) == 0, "answered %s", answer);
    close (third);

    //  A request larger than 16 KiB (headers) is refused, not read on
    int fd = s_connect (url);
    char *big = malloc (32 * 1024);
    memset (big, 'a', 32 * 1024 - 1);
    big [32 * 1024 - 1] = 0;
    char *huge = zsys_sprintf ("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", big);
    send (fd, huge, strlen (huge), MSG_NOSIGNAL);
    memset (answer, 0, sizeof answer);
    wait.tv_sec = 5;
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    recv (fd, answer, sizeof answer - 1, 0);
    cr_assert (strncmp (answer, "HTTP/1.1 431", 12) == 0, "answered %s", answer);
    close (fd);
    free (big);
    zstr_free (&huge);
    mf_http_t after = mf_get (url, "/livez");
    cr_assert_eq (after.status, 200);
    free (after.body);

    //  The connection held idle all along is closed after 10 s
    wait.tv_sec = 20;
    setsockopt (held [1], SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    cr_assert_eq (recv (held [1], answer, sizeof answer, 0), 0, "an idle connection stays");
    close (held [1]);
    zstr_free (&url);
}

Test (metrics, a_bad_metrics_url_is_refused_at_start)
{
    const char *urls [] = { "127.0.0.1:9", "http://127.0.0.1", "http://127.0.0.1:70000",
                            "http://nowhere.invalid:1", "https://127.0.0.1:1" };
    for (size_t i = 0; i < sizeof urls / sizeof urls [0]; i++) {
        const char *argv [] = { ZKV_NODE_BIN, "--engine", "memory", "--listen-metrics",
                                urls [i], NULL };
        zkv_run_t run = zkv_run (NULL, argv);
        cr_assert_eq (run.code, 2, "%s: exit %d", urls [i], run.code);
        cr_assert (strstr (run.err, "--listen-metrics"), "%s", run.err);
        zkv_run_free (&run);
    }
}
