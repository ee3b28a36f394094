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

//  What a setting's value becomes in zkv_config_t
typedef enum {
    K_TEXT,                             //  char [size], copied
    K_BOOL,                             //  bool: true for words [1], false for words [0]
    K_WORD,                             //  int: which of words
    K_SIZE,                             //  size_t, min .. max
    K_INT,                              //  int, min .. max
    K_U64,                              //  uint64_t, min .. max
    K_I64,                              //  int64_t, min .. max
    K_QUOTA,                            //  int64_t, any (0: ZKV_DEFAULT_QUOTA_BYTES)
    K_FD                                //  int, as atoi reads it (tests only: unchecked)
} s_kind_t;

//  What a refusal says after "--<flag> <error>"
typedef enum {
    SAYS_NOTHING,
    SAYS_FLOOR,                       //  " (<the lower bound>)"
    SAYS_VALUE                        //  ", not '<the value>'"
} s_says_t;

//  Every setting: its flag (and ZPL name), default, help, and where and
//  how its value lands. A switch takes no value on the command line
//  (--flag means true). An empty value of a setting that derives its
//  default from others (derive) leaves it to derive; a bound that
//  depends on another setting (floor) reads it once it is set.
typedef struct {
    const char *name;
    const char *fallback;
    const char *help;
    bool is_switch;
    s_kind_t kind;
    size_t offset;                      //  of the field in zkv_config_t
    size_t size;                        //  of a text field
    size_t min, max;                    //  a number's bounds
    size_t (*floor) (const zkv_config_t *config);   //  or its lower bound (NULL: min)
    void (*derive) (zkv_config_t *config);          //  the default of an empty value
    const char *const *words;           //  a choice's (NULL-terminated)
    const char *error;                  //  a refused number or choice (a text: too long)
    s_says_t says;
} s_setting_t;

enum {
    S_NAME, S_DATA_DIR, S_LISTEN_CLIENT, S_ENGINE, S_MAX_REQUEST_BYTES, S_MAX_TXN_OPS,
    S_REQUEST_TIMEOUT, S_TOKEN, S_LOG_LEVEL, S_LISTEN_PEER, S_INITIAL_CLUSTER,
    S_INITIAL_CLUSTER_STATE, S_HEARTBEAT, S_ELECTION, S_SNAPSHOT_COUNT, S_FAULTS,
    S_PEER_FD, S_CLIENT_FD, S_QUOTA, S_LISTEN_EVENTS, S_MIN_FREE_DISK, S_CORRUPT_CHECK,
    S_INITIAL_CORRUPT_CHECK, S_MAX_LEARNERS, S_MAX_CLIENT_REQUESTS, S_CERT, S_CLIENT_CERTS, S_PEER_CERTS,
    S_ADMIN_CERTS, S_MAX_RESPONSE_BYTES, S_MAX_CLIENT_UNREAD, S_MAX_UNREAD,
    S_MAX_CLIENT_CONNECTIONS, S_PEER_CERT, S_DISK_RESERVE, S_EVENTS_FD, S_LISTEN_METRICS,
    S_MAX_METRICS_CONNECTIONS, S_METRICS_FD
};

//  (at most 2^62: the free-disk guard adds and subtracts them in 64 bits)
#define MAX_DISK_BYTES ((size_t) 1 << 62)

//  Defaults derived from other settings

static void
s_default_data_dir (zkv_config_t *config)
{
    snprintf (config->data_dir, sizeof config->data_dir, "%s.zkv", config->name);
}

//  Next to the client endpoint: its port + 2 (+ 1 is the peers' habit),
//  or a port of its own when the client's is picked (*) (tcp only: for
//  ipc:// and the like, a loopback port of its own)
static void
s_default_listen_events (zkv_config_t *config)
{
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

static void
s_default_initial_cluster (zkv_config_t *config)
{
    snprintf (config->initial_cluster, sizeof config->initial_cluster, "%s=%s",
              config->name, config->listen_peer);
}

static void
s_default_disk_reserve (zkv_config_t *config)
{
    config->disk_reserve_bytes = config->min_free_disk_bytes;
}

//  Bounds from other settings

static size_t
s_floor_client_unread (const zkv_config_t *config)
{
    return config->max_response_bytes;
}

static size_t
s_floor_unread (const zkv_config_t *config)
{
    return config->max_client_unread_bytes;
}

static size_t
s_floor_election (const zkv_config_t *config)
{
    return 2 * (size_t) config->heartbeat_interval;
}

static const char *const s_engines [] = { "rocksdb", "memory", NULL };
static const char *const s_levels [] = { "debug", "info", "warn", "error", NULL };
static const char *const s_states [] = { "new", "existing", NULL };
static const char *const s_switch [] = { "false", "true", NULL };

#define FIELD(field) .offset = offsetof (zkv_config_t, field)
#define TEXT(field) .kind = K_TEXT, FIELD (field), .size = sizeof (((zkv_config_t *) 0)->field)

static const s_setting_t s_settings [] = {
    { "name", "default", "human-readable name of this member", TEXT (name) },
    { "data-dir", "", "data directory (default: <name>.zkv)", TEXT (data_dir),
      .derive = s_default_data_dir },
    { "listen-client", "tcp://127.0.0.1:12379", "ZeroMQ endpoint for clients (port * picks one)",
      TEXT (listen_client) },
    { "engine", "rocksdb", "rocksdb (on disk) or memory",
      .kind = K_BOOL, FIELD (memory), .words = s_engines,
      .error = "must be rocksdb or memory", .says = SAYS_VALUE },
    { "max-request-bytes", "1572864", "largest client request accepted",
      .kind = K_SIZE, FIELD (max_request_bytes), .min = 1024, .max = SIZE_MAX,
      .error = "must be a number of bytes >= 1024" },
    { "max-txn-ops", "128", "most operations in one txn",
      .kind = K_SIZE, FIELD (max_txn_ops), .min = 1, .max = SIZE_MAX,
      .error = "must be a positive number" },
    { "request-timeout", "7000", "msecs before a request times out",
      .kind = K_INT, FIELD (request_timeout), .min = 1, .max = 3600000,
      .error = "must be msecs between 1 and 3600000" },
    { "initial-cluster-token", "zkv-cluster", "token that makes the cluster id unique",
      TEXT (initial_cluster_token) },
    { "log-level", "info", "debug, info, warn or error",
      .kind = K_WORD, FIELD (log_level), .words = s_levels,
      .error = "must be debug, info, warn or error" },
    { "listen-peer", "tcp://127.0.0.1:12380", "ZeroMQ endpoint for the other members",
      TEXT (listen_peer) },
    { "initial-cluster", "", "name=endpoint,... of every member (default: this one)",
      TEXT (initial_cluster), .derive = s_default_initial_cluster },
    { "initial-cluster-state", "new", "new or existing",
      .kind = K_BOOL, FIELD (initial_cluster_existing), .words = s_states,
      .error = "must be new or existing" },
    { "heartbeat-interval", "100", "msecs between heartbeats (one raft tick)",
      .kind = K_INT, FIELD (heartbeat_interval), .min = 1, .max = 60000,
      .error = "must be msecs between 1 and 60000" },
    { "election-timeout", "1000", "msecs without a leader before an election",
      .kind = K_INT, FIELD (election_timeout), .floor = s_floor_election, .max = 600000,
      .error = "must be msecs, at least twice --heartbeat-interval" },
    { "snapshot-count", "10000", "applied entries between raft log compactions",
      .kind = K_U64, FIELD (snapshot_count), .min = 1, .max = SIZE_MAX,
      .error = "must be a positive number" },
    { "enable-fault-injection", "false", "accept fault requests (tests only)", true,
      .kind = K_BOOL, FIELD (fault_injection), .words = s_switch,
      .error = "takes true or false" },
    { "listen-peer-fd", "-1", "use this inherited listening socket (tests only)",
      .kind = K_FD, FIELD (listen_peer_fd) },
    { "listen-client-fd", "-1", "use this inherited listening socket (tests only)",
      .kind = K_FD, FIELD (listen_client_fd) },
    { "quota-backend-bytes", "0", "database size that raises NOSPACE (0: 2 GiB, < 0: none)",
      .kind = K_QUOTA, FIELD (quota_backend_bytes), .error = "must be a number of bytes" },
    { "listen-events", "", "ZeroMQ endpoint for event subscribers (default: the client port + 2)",
      TEXT (listen_events), .derive = s_default_listen_events },
    { "min-free-disk-bytes", "67108864", "free space of the data directory's disk under which NOSPACE is raised (0: off)",
      .kind = K_I64, FIELD (min_free_disk_bytes), .max = MAX_DISK_BYTES,
      .error = "must be a number of bytes" },
    { "corrupt-check-time", "300000", "msecs between the leader's corruption checks (0: off)",
      .kind = K_INT, FIELD (corrupt_check_time), .max = 86400000,
      .error = "must be msecs, at most a day" },
    { "initial-corrupt-check", "false", "compare the data with the peers' before serving", true,
      .kind = K_BOOL, FIELD (initial_corrupt_check), .words = s_switch,
      .error = "takes true or false" },
    { "max-learners", "1", "learners in the cluster at once (etcd's default: 1)",
      .kind = K_SIZE, FIELD (max_learners), .min = 0, .max = 15,
      .error = "must be between 0 and 15" },
    { "max-client-requests", "4096", "requests of one client connection waiting at once",
      .kind = K_SIZE, FIELD (max_client_requests), .min = 1, .max = 65536,
      .error = "must be between 1 and 65536" },
    { "cert", "", "this member's CURVE certificate (FILE and FILE_secret, as zcert_save writes them): CURVE on every socket",
      TEXT (cert) },
    { "client-certs-dir", "", "public certificates of the clients allowed (with --cert)",
      TEXT (client_certs_dir) },
    { "peer-certs-dir", "", "public certificates of the peers allowed (with --cert or --peer-cert)",
      TEXT (peer_certs_dir) },
    { "admin-certs-dir", "", "public certificates of the admins, who alone may defrag, move-leader, activate and disarm alarms, snapshot, compact, inject faults (with --cert)",
      TEXT (admin_certs_dir) },
    { "max-response-bytes", "67108864", "most bytes of key-values in one reply; past it the request fails",
      .kind = K_SIZE, FIELD (max_response_bytes), .min = 4096, .max = 2147483647,
      .error = "must be a number of bytes, 4096 .. 2147483647" },
    { "max-client-unread-bytes", "134217728", "bytes of replies one client connection may leave unread; past it the member closes it",
      .kind = K_SIZE, FIELD (max_client_unread_bytes), .floor = s_floor_client_unread,
      .max = SIZE_MAX, .error = "must be a number of bytes, at least --max-response-bytes",
      .says = SAYS_FLOOR },
    { "max-unread-bytes", "1073741824", "bytes of replies all clients together may leave unread; past it the member closes the connections that hold the most",
      .kind = K_SIZE, FIELD (max_unread_bytes), .floor = s_floor_unread, .max = SIZE_MAX,
      .error = "must be a number of bytes, at least --max-client-unread-bytes",
      .says = SAYS_FLOOR },
    { "max-client-connections", "1024", "client connections at once, and as many event subscribers (at most a quarter of the open-file limit each); more are closed at once",
      .kind = K_SIZE, FIELD (max_client_connections), .min = 1, .max = SIZE_MAX,
      .error = "must be a positive number" },
    { "peer-cert", "", "the cluster's peer certificate (FILE and FILE_secret; the members share it): CURVE on the peer socket alone, clients stay plain. Without it or --cert the peer port authenticates nobody",
      TEXT (peer_cert) },
    { "disk-reserve-bytes", "", "size of <data-dir>/reserve, disk set aside and released when NOSPACE is raised for lack of it (default: --min-free-disk-bytes; 0: none)",
      .kind = K_I64, FIELD (disk_reserve_bytes), .max = MAX_DISK_BYTES,
      .derive = s_default_disk_reserve, .error = "must be a number of bytes" },
    { "listen-events-fd", "-1", "use this inherited listening socket (tests only)",
      .kind = K_FD, FIELD (listen_events_fd) },
    { "listen-metrics", "", "http://HOST:PORT to serve /metrics, /health, /livez and /readyz on (PORT 0: any free one; default: none)",
      TEXT (listen_metrics) },
    { "max-metrics-connections", "16", "HTTP connections to --listen-metrics at once; more wait in the listen backlog",
      .kind = K_SIZE, FIELD (max_metrics_connections), .min = 1, .max = 1024,
      .error = "must be between 1 and 1024" },
    { "listen-metrics-fd", "-1", "use this inherited listening socket (tests only)",
      .kind = K_FD, FIELD (listen_metrics_fd) },
};
#define SETTINGS (sizeof s_settings / sizeof s_settings [0])

//  The order the settings are read in: each after those its default or
//  bounds depend on; when several are wrong, the first one is told
static const int s_order [] = {
    S_NAME, S_DATA_DIR, S_LISTEN_CLIENT, S_LISTEN_EVENTS, S_ENGINE, S_MAX_REQUEST_BYTES,
    S_MAX_RESPONSE_BYTES, S_MAX_CLIENT_UNREAD, S_MAX_UNREAD, S_MAX_CLIENT_CONNECTIONS,
    S_MAX_TXN_OPS, S_REQUEST_TIMEOUT, S_TOKEN, S_LOG_LEVEL, S_LISTEN_PEER, S_INITIAL_CLUSTER,
    S_INITIAL_CLUSTER_STATE, S_HEARTBEAT, S_ELECTION, S_SNAPSHOT_COUNT, S_FAULTS, S_QUOTA,
    S_MIN_FREE_DISK, S_DISK_RESERVE, S_CORRUPT_CHECK, S_INITIAL_CORRUPT_CHECK,
    S_MAX_LEARNERS, S_MAX_CLIENT_REQUESTS, S_CERT, S_CLIENT_CERTS, S_PEER_CERTS, S_ADMIN_CERTS, S_PEER_CERT,
    S_PEER_FD, S_CLIENT_FD, S_EVENTS_FD, S_LISTEN_METRICS, S_MAX_METRICS_CONNECTIONS,
    S_METRICS_FD
};
_Static_assert (sizeof s_order / sizeof s_order [0] == SETTINGS, "every setting is read");

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

//  A number or a choice: its value in *number, or -1
static int
s_number (const zkv_config_t *config, const s_setting_t *setting, const char *value,
          size_t *number)
{
    if (setting->words) {
        for (size_t i = 0; setting->words [i]; i++)
            if (streq (value, setting->words [i])) {
                *number = i;
                return 0;
            }
        return -1;
    }
    size_t min = setting->floor? setting->floor (config): setting->min;
    if (s_size (value, number) || *number < min || *number > setting->max)
        return -1;
    return 0;
}

//  Stores number, a number's or a choice's, in the field at target
static void
s_store (void *target, s_kind_t kind, size_t number)
{
    if (kind == K_BOOL)
        *(bool *) target = number == 1;
    else
    if (kind == K_WORD || kind == K_INT)
        *(int *) target = (int) number;
    else
    if (kind == K_SIZE)
        *(size_t *) target = number;
    else
    if (kind == K_U64)
        *(uint64_t *) target = number;
    else
        *(int64_t *) target = (int64_t) number;
}

//  Sets the field of setting from value. Returns 0, or -1 with a message.
static int
s_setting_read (zkv_config_t *config, const s_setting_t *setting, const char *value,
                char *error, size_t error_size)
{
    char *target = (char *) config + setting->offset;
    bool valid = true;
    size_t number = 0;
    if (!value [0] && setting->derive)
        setting->derive (config);
    else
    if (setting->kind == K_TEXT) {
        if (strlen (value) >= setting->size) {
            snprintf (error, error_size, "--%s is too long", setting->name);
            return -1;
        }
        strcpy (target, value);
    }
    else
    if (setting->kind == K_FD)
        *(int *) target = atoi (value);
    else
    if (setting->kind == K_QUOTA) {
        //  etcd's --quota-backend-bytes: 0 means the default
        char *end;
        errno = 0;
        long long quota = strtoll (value, &end, 10);
        valid = !errno && end != value && !*end;
        *(int64_t *) target = quota == 0? ZKV_DEFAULT_QUOTA_BYTES: (int64_t) quota;
    }
    else
    if ((valid = s_number (config, setting, value, &number) == 0))
        s_store (target, setting->kind, number);
    if (valid)
        return 0;
    if (setting->says == SAYS_FLOOR)
        snprintf (error, error_size, "--%s %s (%zu)", setting->name, setting->error,
                  setting->floor (config));
    else
    if (setting->says == SAYS_VALUE)
        snprintf (error, error_size, "--%s %s, not '%s'", setting->name, setting->error, value);
    else
        snprintf (error, error_size, "--%s %s", setting->name, setting->error);
    return -1;
}

//  --cert comes whole: a member with a key but nobody allowed, or lists
//  of keys but no key of its own, is a mistake. --peer-cert is CURVE on
//  the peer socket alone (its peers: --peer-certs-dir, or the
//  certificate's own key). Returns 0, or -1 with a message.
static int
s_curve_check (const zkv_config_t *config, char *error, size_t error_size)
{
    const struct {
        int setting;
        const char *value;
    } whole [] = {
        { S_CERT, config->cert }, { S_CLIENT_CERTS, config->client_certs_dir },
        { S_PEER_CERTS, config->peer_certs_dir }, { S_ADMIN_CERTS, config->admin_certs_dir }
    };
    char missing [128] = "";
    for (size_t i = 0; i < sizeof whole / sizeof whole [0]; i++)
        if (!whole [i].value [0])
            snprintf (missing + strlen (missing), sizeof missing - strlen (missing),
                      "%s--%s", *missing? ", ": "", s_settings [whole [i].setting].name);
    if (config->cert [0] && config->peer_cert [0])
        snprintf (error, error_size, "--peer-cert is for a member without --cert (with --cert "
                  "the peer socket talks CURVE with that certificate)");
    else
    if (!config->cert [0] && (config->client_certs_dir [0] || config->admin_certs_dir [0]))
        snprintf (error, error_size, "--client-certs-dir and --admin-certs-dir need --cert "
                  "(this member's certificate)");
    else
    if (!config->cert [0] && !config->peer_cert [0] && config->peer_certs_dir [0])
        snprintf (error, error_size, "--peer-certs-dir needs --cert or --peer-cert (the "
                  "cluster's peer certificate)");
    else
    if (*missing && config->cert [0])
        snprintf (error, error_size, "--cert needs --client-certs-dir, --peer-certs-dir and "
                  "--admin-certs-dir (missing: %s)", missing);
    else
        return 0;
    return -1;
}

//  Reads the flags into values (by setting) and *config_file. Returns 0;
//  1 when --help or --version was answered; -1 with a message.
static int
s_flags_read (int argc, char *argv [], const char **values, const char **config_file,
              char *error, size_t error_size)
{
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
            *config_file = optarg;
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
    return 0;
}

//  Reads the file's settings into the values the flags left open (they
//  point into *file, for the caller to destroy). Returns 0, or -1 with a
//  message.
static int
s_file_read (const char *config_file, const char **values, zconfig_t **file, char *error,
             size_t error_size)
{
    //  Read whole, then parsed: zconfig_load leaks its zfile when the
    //  text does not parse (CZMQ 4.2.1; found by fuzz/fuzz_config.c)
    zchunk_t *text = zchunk_slurp (config_file, 1 << 20);
    *file = text? zconfig_chunk_load (text): NULL;
    zchunk_destroy (&text);
    if (!*file) {
        snprintf (error, error_size, "cannot read config file '%s'", config_file);
        return -1;
    }
    zconfig_t *section = zconfig_locate (*file, "zkv");
    for (zconfig_t *item = section? zconfig_child (section): NULL; item;
         item = zconfig_next (item)) {
        size_t i;
        for (i = 0; i < SETTINGS; i++)
            if (streq (zconfig_name (item), s_settings [i].name))
                break;
        if (i == SETTINGS) {
            snprintf (error, error_size, "unknown setting '%s' in %s",
                      zconfig_name (item), config_file);
            return -1;
        }
        if (!values [i])
            values [i] = zconfig_value (item);
    }
    return 0;
}

int
zkv_config_parse (zkv_config_t *config, int argc, char *argv [], char *error,
                  size_t error_size)
{
    memset (config, 0, sizeof *config);
    const char *values [SETTINGS] = { NULL };
    const char *config_file = NULL;
    int rc = s_flags_read (argc, argv, values, &config_file, error, error_size);
    if (rc)
        return rc;
    //  The file fills in what the flags left open
    zconfig_t *file = NULL;
    if (config_file)
        rc = s_file_read (config_file, values, &file, error, error_size);
    for (size_t i = 0; i < SETTINGS && rc == 0; i++) {
        const s_setting_t *setting = &s_settings [s_order [i]];
        const char *value = values [s_order [i]];
        rc = s_setting_read (config, setting, value? value: setting->fallback, error,
                             error_size);
    }
    if (rc == 0)
        rc = s_curve_check (config, error, error_size);
    if (rc == 0 && !config->name [0]) {
        snprintf (error, error_size, "--name must not be empty");
        rc = -1;
    }
    zconfig_destroy (&file);
    return rc;
}
