/*  =========================================================================
    zkv_config.h — the settings of a zkv-node, from etcd-like flags and
    from a ZPL config file (--config), flags winning over the file.

    In the file every setting sits under a `zkv` section, named as its flag:
        zkv
            name = n1
            data-dir = /var/lib/zkv/n1
            listen-client = tcp://127.0.0.1:12379
    =========================================================================
*/
#ifndef ZKV_CONFIG_H_INCLUDED
#define ZKV_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

//  etcd's default space quota, 2 GiB
#define ZKV_DEFAULT_QUOTA_BYTES (2LL * 1024 * 1024 * 1024)

typedef enum {
    ZKV_LOG_DEBUG, ZKV_LOG_INFO, ZKV_LOG_WARN, ZKV_LOG_ERROR
} zkv_log_level_t;

typedef struct {
    char name [128];                    //  --name
    char data_dir [1024];               //  --data-dir
    char listen_client [256];           //  --listen-client
    char listen_events [256];           //  --listen-events (or next to the client's)
    bool memory;                        //  --engine memory (else rocksdb)
    size_t max_request_bytes;           //  --max-request-bytes
    size_t max_txn_ops;                 //  --max-txn-ops
    size_t max_response_bytes;          //  --max-response-bytes
    size_t max_client_unread_bytes;     //  --max-client-unread-bytes
    size_t max_unread_bytes;            //  --max-unread-bytes
    size_t max_client_connections;      //  --max-client-connections
    int64_t quota_backend_bytes;        //  --quota-backend-bytes (0 given: the default)
    int64_t min_free_disk_bytes;        //  --min-free-disk-bytes (0: off)
    int64_t disk_reserve_bytes;         //  --disk-reserve-bytes (0: none)
    int corrupt_check_time;             //  --corrupt-check-time (msecs; 0: off; 5 minutes)
    bool initial_corrupt_check;         //  --initial-corrupt-check
    size_t max_client_requests;         //  --max-client-requests
    size_t max_learners;                //  --max-learners
    int request_timeout;                //  --request-timeout (msecs)
    char initial_cluster_token [128];   //  --initial-cluster-token
    int log_level;                      //  --log-level: ZKV_LOG_DEBUG ...
    char listen_peer [256];             //  --listen-peer
    char initial_cluster [4096];        //  --initial-cluster
    bool initial_cluster_existing;      //  --initial-cluster-state existing
    int heartbeat_interval;             //  --heartbeat-interval (msecs)
    int election_timeout;               //  --election-timeout (msecs)
    uint64_t snapshot_count;            //  --snapshot-count
    bool fault_injection;               //  --enable-fault-injection (tests)
    int listen_peer_fd;                 //  --listen-peer-fd (tests; -1: none)
    int listen_client_fd;               //  --listen-client-fd (tests; -1: none)
    int listen_events_fd;               //  --listen-events-fd (tests; -1: none)
    char listen_metrics [256];          //  --listen-metrics ("": no HTTP server)
    size_t max_metrics_connections;     //  --max-metrics-connections
    int listen_metrics_fd;              //  --listen-metrics-fd (tests; -1: none)
    //  CURVE on every socket: all four or none; or on the peer socket
    //  alone: --peer-cert, with or without --peer-certs-dir (checked here;
    //  the files are read by main)
    char cert [1024];                   //  --cert: this member's certificate
    char client_certs_dir [1024];       //  --client-certs-dir: clients allowed
    char peer_certs_dir [1024];         //  --peer-certs-dir: peers allowed
    char admin_certs_dir [1024];        //  --admin-certs-dir: admins allowed
    char peer_cert [1024];              //  --peer-cert: the cluster's peer certificate
} zkv_config_t;

//  Fills config from argv (and the --config file it names). Returns 0; 1
//  when --help or --version was answered; -1 with a message in error for
//  bad flags or settings.
int
    zkv_config_parse (zkv_config_t *config, int argc, char *argv [], char *error,
                      size_t error_size);

#endif
