/*  test_registry.c — the metrics registry (metrics/zkv_metrics.h): what it
    prints in Prometheus's text format, its histograms, peer slots and
    request names, and the error code a reply body carries (zkv_wire). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_metrics.h"
#include "zkv_wire.h"

static char *
s_render (void)
{
    size_t size;
    char *text = zkv_metrics_render (&size);
    cr_assert_not_null (text);
    cr_assert_eq (strlen (text), size);
    return text;
}

static void
s_assert_line (const char *text, const char *line)
{
    char *wanted = malloc (strlen (line) + 3);
    sprintf (wanted, "\n%s\n", line);
    cr_assert_not_null (strstr (text, wanted), "no line %s in:\n%s", line, text);
    free (wanted);
}

Test (registry, histograms_print_cumulative_buckets_with_etcds_bounds)
{
    zkv_metrics_init ();
    zkv_metrics_observe (&zkv_metrics.wal_fsync, 500000);          //  0.5 ms
    zkv_metrics_observe (&zkv_metrics.wal_fsync, 1000000);         //  1 ms: on the bound
    zkv_metrics_observe (&zkv_metrics.wal_fsync, 3000000);         //  3 ms
    zkv_metrics_observe (&zkv_metrics.wal_fsync, 20000000000LL);   //  20 s: past them all
    char *text = s_render ();
    s_assert_line (text, "# TYPE etcd_disk_wal_fsync_duration_seconds histogram");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 2");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 2");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"} 3");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"8.192\"} 3");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 4");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_sum 20.0045");
    s_assert_line (text, "etcd_disk_wal_fsync_duration_seconds_count 4");
    s_assert_line (text, "etcd_mvcc_hash_duration_seconds_bucket{le=\"163.84\"} 0");
    s_assert_line (text, "# TYPE etcd_network_peer_round_trip_time_seconds histogram");
    free (text);
}

Test (registry, counters_gauges_and_labelled_families)
{
    zkv_metrics_init ();
    zkv_metrics_set (&zkv_metrics.has_leader, 1);
    zkv_metrics_add (&zkv_metrics.leader_changes, 3);
    zkv_metrics_shift (&zkv_metrics.proposals_pending, 2);
    zkv_metrics_shift (&zkv_metrics.proposals_pending, -1);
    zkv_metrics_handled ("put", 3, "OK", 2);
    zkv_metrics_handled ("put", 3, "ResourceExhausted", 17);
    zkv_metrics_handled ("range", 5, "NoSuchCode", 10);
    zkv_metrics_handled ("nonsense", 8, "OK", 2);      //  no such request: not counted
    zkv_metrics_sent_to (zkv_metrics_actor_of ("inproc://zkv-42-storage"));
    zkv_metrics_sent_to (zkv_metrics_actor_of ("storage"));
    zkv_metrics_received_by (zkv_metrics_actor_of ("storage"));
    cr_assert_eq (zkv_metrics_actor_of ("inproc://zkv-42-nobody"), ZKV_ACTOR_COUNT);
    char *text = s_render ();
    s_assert_line (text, "# TYPE etcd_server_has_leader gauge");
    s_assert_line (text, "etcd_server_has_leader 1");
    s_assert_line (text, "# TYPE etcd_server_leader_changes_seen_total counter");
    s_assert_line (text, "etcd_server_leader_changes_seen_total 3");
    s_assert_line (text, "etcd_server_proposals_pending 1");
    s_assert_line (text, "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\","
                         "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 1");
    s_assert_line (text, "grpc_server_handled_total{grpc_code=\"ResourceExhausted\","
                         "grpc_method=\"Put\",grpc_service=\"etcdserverpb.KV\","
                         "grpc_type=\"unary\"} 1");
    s_assert_line (text, "grpc_server_handled_total{grpc_code=\"Unknown\",grpc_method=\"Range\","
                         "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 1");
    //  Every method's OK, even at 0; other codes only once seen
    s_assert_line (text, "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Snapshot\","
                         "grpc_service=\"etcdserverpb.Maintenance\",grpc_type=\"server_stream\"} 0");
    cr_assert_null (strstr (text, "grpc_code=\"Aborted\""));
    s_assert_line (text, "zkv_actor_inbox_depth{actor=\"storage\"} 1");
    s_assert_line (text, "zkv_actor_messages_total{actor=\"storage\"} 1");
    s_assert_line (text, "zkv_alarms_active{alarm=\"NOSPACE\"} 0");
    cr_assert_not_null (strstr (text, "\nprocess_resident_memory_bytes "));
    cr_assert_not_null (strstr (text, "\nprocess_open_fds "));
    free (text);
}

Test (registry, peers_take_a_slot_each_and_give_it_back)
{
    zkv_metrics_init ();
    zkv_metrics_peer_t *slots [ZKV_METRICS_PEERS];
    for (uint64_t i = 0; i < ZKV_METRICS_PEERS; i++) {
        slots [i] = zkv_metrics_peer (0x100 + i);
        cr_assert_not_null (slots [i]);
        cr_assert_eq (zkv_metrics_peer (0x100 + i), slots [i], "the same slot again");
    }
    cr_assert_null (zkv_metrics_peer (0x999), "all taken");
    cr_assert_null (zkv_metrics_peer (0), "no member is 0");
    zkv_metrics_add (&slots [3]->sent_bytes, 77);
    zkv_metrics_observe (&slots [3]->round_trip, 300000);       //  0.3 ms
    char *text = s_render ();
    s_assert_line (text, "etcd_network_peer_sent_bytes_total{To=\"103\"} 77");
    s_assert_line (text, "etcd_network_peer_round_trip_time_seconds_bucket{To=\"103\","
                         "le=\"0.0004\"} 1");
    s_assert_line (text, "etcd_network_peer_round_trip_time_seconds_count{To=\"103\"} 1");
    free (text);
    zkv_metrics_peer_release (slots [3]);
    zkv_metrics_peer_t *again = zkv_metrics_peer (0x999);
    cr_assert_eq (again, slots [3]);
    text = s_render ();
    cr_assert_null (strstr (text, "To=\"103\""));
    s_assert_line (text, "etcd_network_peer_sent_bytes_total{To=\"999\"} 0");
    free (text);
}

Test (registry, the_error_code_of_a_reply_body)
{
    zkv_header_t header = { .cluster_id = 1, .member_id = 2, .revision = 3, .raft_term = 4 };
    zkv_result_t status;
    zkv_status_set (&status, ZKV_ERR_COMPACTED, NULL);
    size_t size;
    uint8_t *error = zkv_msg_encode_error (&status, &header, &size);
    char code [32];
    cr_assert (zkv_wire_error_code (error, size, code, sizeof code));
    cr_assert_str_eq (code, "OutOfRange");
    //  A response: no code, whatever it holds
    zkv_key_value_t kv = { .key = zkv_bin ("error", 5), .value = zkv_bin ("code", 4) };
    zkv_range_response_t response = { .header = &header, .kvs = { &kv, 1 }, .count = 1 };
    uint8_t *body = zkv_msg_encode_body (&zkv_range_response_desc, &response, &size);
    cr_assert_not (zkv_wire_error_code (body, size, code, sizeof code));
    //  Nor garbage
    cr_assert_not (zkv_wire_error_code ((const uint8_t *) "\x81\xa5" "error", 7, code,
                                        sizeof code));
    cr_assert_not (zkv_wire_error_code (NULL, 0, code, sizeof code));
    free (error);
    free (body);
}
