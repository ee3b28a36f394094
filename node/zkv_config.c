/*  =========================================================================
    zkv_config.c — zkv-node settings from flags and a ZPL file.
    =========================================================================
*/
#include "zkv_config.h"
#include "zkv_version.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

//  Every setting: its flag (and ZPL name), default, and help. A switch
//  takes no value on the command line (--flag means true).
typedef struct {
    const char *name;
    const char *fallback;
    const char *help;
    bool is_switch;
} s_setting_t;

enum {
    S_NAME, S_DATA_DIR, S_LISTEN_CLIENT, S_ENGINE, S_MAX_REQUEST_BYTES, S_MAX_TXN_OPS,
    S_REQUEST_TIMEOUT, S_TOKEN, S_LOG_LEVEL, S_LISTEN_PEER, S_INITIAL_CLUSTER,
    S_INITIAL_CLUSTER_STATE, S_HEARTBEAT, S_ELECTION, S_SNAPSHOT_COUNT, S_FAULTS,
    S_PEER_FD, S_CLIENT_FD, S_QUOTA, S_LISTEN_EVENTS, S_MIN_FREE_DISK, S_CORRUPT_CHECK,
    S_INITIAL_CORRUPT_CHECK, S_MAX_CLIENT_REQUESTS, S_CERT, S_CLIENT_CERTS, S_PEER_CERTS,
    S_ADMIN_CERTS, S_MAX_RESPONSE_BYTES, S_MAX_CLIENT_UNREAD, S_MAX_UNREAD,
    S_MAX_CLIENT_CONNECTIONS, S_PEER_CERT, S_DISK_RESERVE
};

static const s_setting_t s_settings [] = {
    { "name",                  "default",               "human-readable name of this member", false },
    { "data-dir",              "",                      "data directory (default: <name>.zkv)", false },
    { "listen-client",         "tcp://127.0.0.1:12379", "ZeroMQ endpoint for clients (port * picks one)", false },
    { "engine",                "rocksdb",               "rocksdb (on disk) or memory", false },
    { "max-request-bytes",     "1572864",               "largest client request accepted", false },
    { "max-txn-ops",           "128",                   "most operations in one txn", false },
    { "request-timeout",       "7000",                  "msecs before a request times out", false },
    { "initial-cluster-token", "zkv-cluster",           "token that makes the cluster id unique", false },
    { "log-level",             "info",                  "debug, info, warn or error", false },
    { "listen-peer",           "tcp://127.0.0.1:12380", "ZeroMQ endpoint for the other members", false },
    { "initial-cluster",       "",                      "name=endpoint,... of every member (default: this one)", false },
    { "initial-cluster-state", "new",                   "new or existing", false },
    { "heartbeat-interval",    "100",                   "msecs between heartbeats (one raft tick)", false },
    { "election-timeout",      "1000",                  "msecs without a leader before an election", false },
    { "snapshot-count",        "10000",                 "applied entries between raft log compactions", false },
    { "enable-fault-injection", "false",                "accept fault requests (tests only)", true },
    { "listen-peer-fd",        "-1",                    "use this inherited listening socket (tests only)", false },
    { "listen-client-fd",      "-1",                    "use this inherited listening socket (tests only)", false },
    { "quota-backend-bytes",   "0",                     "database size that raises NOSPACE (0: 2 GiB, < 0: none)", false },
    { "listen-events",         "",                      "ZeroMQ endpoint for event subscribers (default: the client port + 2)", false },
    { "min-free-disk-bytes",   "67108864",              "free space of the data directory's disk under which NOSPACE is raised (0: off)", false },
    { "corrupt-check-time",    "300000",                "msecs between the leader's corruption checks (0: off)", false },
    { "initial-corrupt-check", "false",                 "compare the data with the peers' before serving", true },
    { "max-client-requests",   "4096",                  "requests of one client connection waiting at once", false },
    { "cert",                  "",                      "this member's CURVE certificate (FILE and FILE_secret, as zcert_save writes them): CURVE on every socket", false },
    { "client-certs-dir",      "",                      "public certificates of the clients allowed (with --cert)", false },
    { "peer-certs-dir",        "",                      "public certificates of the peers allowed (with --cert or --peer-cert)", false },
    { "admin-certs-dir",       "",                      "public certificates of the admins, who alone may defrag, move-leader, activate and disarm alarms, snapshot, compact, inject faults (with --cert)", false },
    { "max-response-bytes",    "67108864",              "most bytes of key-values in one reply; past it the request fails", false },
    { "max-client-unread-bytes", "134217728",           "bytes of replies one client connection may leave unread; past it the member closes it", false },
    { "max-unread-bytes",      "1073741824",            "bytes of replies all clients together may leave unread; past it the member closes the connections that hold the most", false },
    { "max-client-connections", "1024",                 "client connections at once, and as many event subscribers (at most a quarter of the open-file limit each); more are closed at once", false },
    { "peer-cert",             "",                      "the cluster's peer certificate (FILE and FILE_secret; the members share it): CURVE on the peer socket alone, clients stay plain. Without it or --cert the peer port authenticates nobody", false },
    { "disk-reserve-bytes",    "",                      "size of <data-dir>/reserve, disk set aside and released when NOSPACE is raised for lack of it (default: --min-free-disk-bytes; 0: none)", false },
};
#define SETTINGS (sizeof s_settings / sizeof s_settings [0])
#define MAX_DISK_BYTES ((size_t) 1 << 62)

static void
s_usage (void)
{
    printf ("usage: zkv-node [flags]\n\nflags (also settings under `zkv` in a --config file):\n");
    for (size_t i = 0; i < SETTINGS; i++)
        printf ("  --%-24s %s [%s]\n", s_settings [i].name, s_settings [i].help,
                s_settings [i].fallback);
    printf ("  --%-24s %s\n", "config FILE", "read settings from a ZPL file first");
    printf ("  --%-24s %s\n", "help", "print this help");
    printf ("  --%-24s %s\n", "version", "print the version");
}

static int
s_size (const char *text, size_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *end || text [0] == '-')
        return -1;
    *value = (size_t) number;
    return 0;
}

static int
s_copy (char *target, size_t size, const char *value, const char *name, char *error,
        size_t error_size)
{
    if (strlen (value) >= size) {
        snprintf (error, error_size, "--%s is too long", name);
        return -1;
    }
    strcpy (target, value);
    return 0;
}

int
zkv_config_parse (zkv_config_t *config, int argc, char *argv [], char *error,
                  size_t error_size)
{
    memset (config, 0, sizeof *config);
    const char *values [SETTINGS] = { NULL };
    const char *config_file = NULL;

    struct option options [SETTINGS + 4];
    for (size_t i = 0; i < SETTINGS; i++)
        options [i] = (struct option) { s_settings [i].name,
                                        s_settings [i].is_switch? optional_argument
                                                                : required_argument,
                                        NULL, (int) i };
    options [SETTINGS] = (struct option) { "config", required_argument, NULL, 1000 };
    options [SETTINGS + 1] = (struct option) { "help", no_argument, NULL, 1001 };
    options [SETTINGS + 2] = (struct option) { "version", no_argument, NULL, 1002 };
    options [SETTINGS + 3] = (struct option) { NULL, 0, NULL, 0 };

    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (option >= 0 && option < (int) SETTINGS)
            values [option] = optarg? optarg: "true";
        else
        if (option == 1000)
            config_file = optarg;
        else
        if (option == 1001) {
            s_usage ();
            return 1;
        }
        else
        if (option == 1002) {
            printf ("zkv-node %s\n", ZKV_VERSION);
            return 1;
        }
        else {
            snprintf (error, error_size, "unknown or incomplete flag '%s'", argv [optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf (error, error_size, "unexpected argument '%s'", argv [optind]);
        return -1;
    }

    //  The file fills in what the flags left open
    zconfig_t *file = NULL;
    if (config_file) {
        //  Read whole, then parsed: zconfig_load leaks its zfile when the
        //  text does not parse (CZMQ 4.2.1; found by fuzz/fuzz_config.c)
        zchunk_t *text = zchunk_slurp (config_file, 1 << 20);
        file = text? zconfig_chunk_load (text): NULL;
        zchunk_destroy (&text);
        if (!file) {
            snprintf (error, error_size, "cannot read config file '%s'", config_file);
            return -1;
        }
        zconfig_t *section = zconfig_locate (file, "zkv");
        for (zconfig_t *item = section? zconfig_child (section): NULL; item;
             item = zconfig_next (item)) {
            size_t i;
            for (i = 0; i < SETTINGS; i++)
                if (streq (zconfig_name (item), s_settings [i].name))
                    break;
            if (i == SETTINGS) {
                snprintf (error, error_size, "unknown setting '%s' in %s",
                          zconfig_name (item), config_file);
                zconfig_destroy (&file);
                return -1;
            }
            if (!values [i])
                values [i] = zconfig_value (item);
        }
    }
    for (size_t i = 0; i < SETTINGS; i++)
        if (!values [i])
            values [i] = s_settings [i].fallback;

    int rc = 0;
    rc |= s_copy (config->name, sizeof config->name, values [S_NAME], "name", error, error_size);
    if (rc == 0 && values [S_DATA_DIR][0])
        rc |= s_copy (config->data_dir, sizeof config->data_dir, values [S_DATA_DIR], "data-dir",
                      error, error_size);
    else
    if (rc == 0)
        snprintf (config->data_dir, sizeof config->data_dir, "%s.zkv", config->name);
    if (rc == 0)
        rc |= s_copy (config->listen_client, sizeof config->listen_client, values [S_LISTEN_CLIENT],
                      "listen-client", error, error_size);
    if (rc == 0 && values [S_LISTEN_EVENTS][0])
        rc |= s_copy (config->listen_events, sizeof config->listen_events,
                      values [S_LISTEN_EVENTS], "listen-events", error, error_size);
    else
    if (rc == 0) {
        //  Next to the client endpoint: its port + 2 (+ 1 is the peers'
        //  habit), or a port of its own when the client's is picked (*)
        //  (tcp only: for ipc:// and the like, a loopback port of its own)
        bool tcp = strncmp (config->listen_client, "tcp://", 6) == 0;
        const char *colon = strrchr (config->listen_client, ':');
        char *end = NULL;
        long port = tcp && colon? strtol (colon + 1, &end, 10): 0;
        if (tcp && end && *end == 0 && port > 0 && port <= 65535 - 2)
            snprintf (config->listen_events, sizeof config->listen_events, "%.*s:%ld",
                      (int) (colon - config->listen_client), config->listen_client, port + 2);
        else
        if (tcp && colon > config->listen_client + 5)
            snprintf (config->listen_events, sizeof config->listen_events, "%.*s:*",
                      (int) (colon - config->listen_client), config->listen_client);
        else
            snprintf (config->listen_events, sizeof config->listen_events, "tcp://127.0.0.1:*");
    }
    if (rc == 0) {
        if (streq (values [S_ENGINE], "memory"))
            config->memory = true;
        else
        if (!streq (values [S_ENGINE], "rocksdb")) {
            snprintf (error, error_size, "--engine must be rocksdb or memory, not '%s'",
                      values [S_ENGINE]);
            rc = -1;
        }
    }
    size_t number = 0;
    if (rc == 0 && (s_size (values [S_MAX_REQUEST_BYTES], &config->max_request_bytes)
                    || config->max_request_bytes < 1024)) {
        snprintf (error, error_size, "--max-request-bytes must be a number of bytes >= 1024");
        rc = -1;
    }
    if (rc == 0 && (s_size (values [S_MAX_RESPONSE_BYTES], &config->max_response_bytes)
                    || config->max_response_bytes < 4096
                    || config->max_response_bytes > 2147483647)) {
        snprintf (error, error_size, "--max-response-bytes must be a number of bytes, "
                  "4096 .. 2147483647");
        rc = -1;
    }
    if (rc == 0 && (s_size (values [S_MAX_CLIENT_UNREAD], &config->max_client_unread_bytes)
                    || config->max_client_unread_bytes < config->max_response_bytes)) {
        snprintf (error, error_size, "--max-client-unread-bytes must be a number of bytes, at "
                  "least --max-response-bytes (%zu)", config->max_response_bytes);
        rc = -1;
    }
    if (rc == 0 && (s_size (values [S_MAX_UNREAD], &config->max_unread_bytes)
                    || config->max_unread_bytes < config->max_client_unread_bytes)) {
        snprintf (error, error_size, "--max-unread-bytes must be a number of bytes, at least "
                  "--max-client-unread-bytes (%zu)", config->max_client_unread_bytes);
        rc = -1;
    }
    if (rc == 0 && (s_size (values [S_MAX_CLIENT_CONNECTIONS], &config->max_client_connections)
                    || config->max_client_connections == 0)) {
        snprintf (error, error_size, "--max-client-connections must be a positive number");
        rc = -1;
    }
    if (rc == 0 && (s_size (values [S_MAX_TXN_OPS], &config->max_txn_ops) || config->max_txn_ops == 0)) {
        snprintf (error, error_size, "--max-txn-ops must be a positive number");
        rc = -1;
    }
    if (rc == 0 && (s_size (values [S_REQUEST_TIMEOUT], &number) || number == 0 || number > 3600000)) {
        snprintf (error, error_size, "--request-timeout must be msecs between 1 and 3600000");
        rc = -1;
    }
    config->request_timeout = (int) number;
    if (rc == 0)
        rc |= s_copy (config->initial_cluster_token, sizeof config->initial_cluster_token,
                      values [S_TOKEN], "initial-cluster-token", error, error_size);
    if (rc == 0) {
        const char *levels [] = { "debug", "info", "warn", "error" };
        config->log_level = -1;
        for (int level = ZKV_LOG_DEBUG; level <= ZKV_LOG_ERROR; level++)
            if (streq (values [S_LOG_LEVEL], levels [level]))
                config->log_level = level;
        if (config->log_level < 0) {
            snprintf (error, error_size, "--log-level must be debug, info, warn or error");
            rc = -1;
        }
    }
    if (rc == 0)
        rc |= s_copy (config->listen_peer, sizeof config->listen_peer, values [S_LISTEN_PEER],
                      "listen-peer", error, error_size);
    if (rc == 0 && values [S_INITIAL_CLUSTER][0])
        rc |= s_copy (config->initial_cluster, sizeof config->initial_cluster,
                      values [S_INITIAL_CLUSTER], "initial-cluster", error, error_size);
    else
    if (rc == 0)
        snprintf (config->initial_cluster, sizeof config->initial_cluster, "%s=%s",
                  config->name, config->listen_peer);
    if (rc == 0) {
        const char *state = values [S_INITIAL_CLUSTER_STATE];
        if (!streq (state, "new") && !streq (state, "existing")) {
            snprintf (error, error_size, "--initial-cluster-state must be new or existing");
            rc = -1;
        }
        config->initial_cluster_existing = streq (state, "existing");
    }
    if (rc == 0 && (s_size (values [S_HEARTBEAT], &number) || number == 0 || number > 60000)) {
        snprintf (error, error_size, "--heartbeat-interval must be msecs between 1 and 60000");
        rc = -1;
    }
    config->heartbeat_interval = (int) number;
    if (rc == 0 && (s_size (values [S_ELECTION], &number)
                    || number < 2 * (size_t) config->heartbeat_interval || number > 600000)) {
        snprintf (error, error_size, "--election-timeout must be msecs, at least twice "
                  "--heartbeat-interval");
        rc = -1;
    }
    config->election_timeout = (int) number;
    if (rc == 0 && (s_size (values [S_SNAPSHOT_COUNT], &number) || number == 0)) {
        snprintf (error, error_size, "--snapshot-count must be a positive number");
        rc = -1;
    }
    config->snapshot_count = number;
    if (rc == 0) {
        const char *faults = values [S_FAULTS];
        if (!streq (faults, "true") && !streq (faults, "false")) {
            snprintf (error, error_size, "--enable-fault-injection takes true or false");
            rc = -1;
        }
        config->fault_injection = streq (faults, "true");
    }
    if (rc == 0) {
        //  etcd's --quota-backend-bytes: 0 means the default
        char *end;
        errno = 0;
        long long quota = strtoll (values [S_QUOTA], &end, 10);
        if (errno || end == values [S_QUOTA] || *end) {
            snprintf (error, error_size, "--quota-backend-bytes must be a number of bytes");
            rc = -1;
        }
        config->quota_backend_bytes = quota == 0? ZKV_DEFAULT_QUOTA_BYTES: (int64_t) quota;
    }
    //  (at most 2^62: the free-disk guard adds and subtracts them in 64 bits)
    if (rc == 0 && (s_size (values [S_MIN_FREE_DISK], &number) || number > MAX_DISK_BYTES)) {
        snprintf (error, error_size, "--min-free-disk-bytes must be a number of bytes");
        rc = -1;
    }
    config->min_free_disk_bytes = (int64_t) number;
    if (rc == 0 && !values [S_DISK_RESERVE][0])
        number = (size_t) config->min_free_disk_bytes;
    else
    if (rc == 0 && (s_size (values [S_DISK_RESERVE], &number) || number > MAX_DISK_BYTES)) {
        snprintf (error, error_size, "--disk-reserve-bytes must be a number of bytes");
        rc = -1;
    }
    config->disk_reserve_bytes = (int64_t) number;
    if (rc == 0 && (s_size (values [S_CORRUPT_CHECK], &number) || number > 86400000)) {
        snprintf (error, error_size, "--corrupt-check-time must be msecs, at most a day");
        rc = -1;
    }
    config->corrupt_check_time = (int) number;
    if (rc == 0) {
        const char *check = values [S_INITIAL_CORRUPT_CHECK];
        if (!streq (check, "true") && !streq (check, "false")) {
            snprintf (error, error_size, "--initial-corrupt-check takes true or false");
            rc = -1;
        }
        config->initial_corrupt_check = streq (check, "true");
    }
    if (rc == 0 && (s_size (values [S_MAX_CLIENT_REQUESTS], &number) || number == 0
                    || number > 65536)) {
        snprintf (error, error_size, "--max-client-requests must be between 1 and 65536");
        rc = -1;
    }
    config->max_client_requests = number;
    //  --cert comes whole: a member with a key but nobody allowed, or
    //  lists of keys but no key of its own, is a mistake. --peer-cert is
    //  CURVE on the peer socket alone (its peers: --peer-certs-dir, or
    //  the certificate's own key)
    const struct {
        int setting;
        char *target;
    } curve [] = {
        { S_CERT, config->cert }, { S_CLIENT_CERTS, config->client_certs_dir },
        { S_PEER_CERTS, config->peer_certs_dir }, { S_ADMIN_CERTS, config->admin_certs_dir },
        { S_PEER_CERT, config->peer_cert }
    };
    char missing [128] = "";
    for (size_t i = 0; i < 5 && rc == 0; i++) {
        rc |= s_copy (curve [i].target, sizeof config->cert, values [curve [i].setting],
                      s_settings [curve [i].setting].name, error, error_size);
        if (i < 4 && !*curve [i].target)
            snprintf (missing + strlen (missing), sizeof missing - strlen (missing),
                      "%s--%s", *missing? ", ": "", s_settings [curve [i].setting].name);
    }
    if (rc == 0 && config->cert [0] && config->peer_cert [0]) {
        snprintf (error, error_size, "--peer-cert is for a member without --cert (with --cert "
                  "the peer socket talks CURVE with that certificate)");
        rc = -1;
    }
    else
    if (rc == 0 && !config->cert [0]
    &&  (config->client_certs_dir [0] || config->admin_certs_dir [0])) {
        snprintf (error, error_size, "--client-certs-dir and --admin-certs-dir need --cert "
                  "(this member's certificate)");
        rc = -1;
    }
    else
    if (rc == 0 && !config->cert [0] && !config->peer_cert [0] && config->peer_certs_dir [0]) {
        snprintf (error, error_size, "--peer-certs-dir needs --cert or --peer-cert (the "
                  "cluster's peer certificate)");
        rc = -1;
    }
    else
    if (rc == 0 && *missing && config->cert [0]) {
        snprintf (error, error_size, "--cert needs --client-certs-dir, --peer-certs-dir and "
                  "--admin-certs-dir (missing: %s)", missing);
        rc = -1;
    }
    config->listen_peer_fd = atoi (values [S_PEER_FD]);
    config->listen_client_fd = atoi (values [S_CLIENT_FD]);
    if (rc == 0 && !config->name [0]) {
        snprintf (error, error_size, "--name must not be empty");
        rc = -1;
    }
    zconfig_destroy (&file);
    return rc;
}
