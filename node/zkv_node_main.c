/*  =========================================================================
    zkv_node_main.c — zkv-node: one member of a zkv cluster.

    Parses its settings, reads its certificates (--cert, --peer-cert),
    opens the database, starts the actors in order (the ZAP handler when
    a socket is CURVE, snapshotter, defrag, hasher, storage, raft, front:
    each START answered with a status, since zactor_new cannot report an
    actor's own failure), prints where it listens (and warns when its peer
    port authenticates nobody), waits for SIGINT or SIGTERM, and stops
    them in reverse order.
    Logs go to stderr; stdout carries only the lines that say where the
    member listens, for people and for scripts.
    =========================================================================
*/
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkv_certs.h"
#include "zkv_fatal.h"
#include "zkv_initial_cluster.h"
#include "zkv_config.h"
#include "zkv_engine.h"
#include "zkv_front.h"
#include "zkv_hasher.h"
#include "zkv_alarm.h"
#include "zkv_defrag.h"
#include "zkv_snapshotter.h"
#include "zkv_peers.h"
#include "zkv_raft.h"
#include "zkv_storage.h"
#include "zkv_zap.h"
#include "zkv_mkdirs.h"

//  The CURVE side of the settings: the member's key pair, and the keys of
//  the clients (admins are clients too), peers and admins it allows.
//  With --cert every socket is CURVE (cert and peer_cert are the same key
//  pair); with --peer-cert the peer socket alone (cert is NULL, and so
//  are the client and admin sets); with neither, nothing (all NULL).
typedef struct {
    zcert_t *cert;                      //  clients' and events' sockets
    zcert_t *peer_cert;                 //  the peer socket's
    zhashx_t *client_keys;
    zhashx_t *peer_keys;
    zhashx_t *admin_keys;
} s_security_t;

//  zkv_keys_load, its error naming the flag
static int
s_keys_load (zhashx_t *keys, const char *flag, const char *dir, char *error, size_t size)
{
    char why [512];
    int count = zkv_keys_load (keys, dir, why, sizeof why);
    if (count < 0)
        snprintf (error, size, "--%s: %.400s", flag, why);
    return count;
}

//  The peers' keys: those of --peer-certs-dir, which must hold the
//  member's own (the members share one certificate, and each takes the
//  others' for its own), or, without it, the certificate's own key.
//  Returns 0, or -1 with a message in error.
static int
s_peer_keys_load (const zkv_config_t *config, s_security_t *security, const char *flag,
                  const char *path, char *error, size_t size)
{
    security->peer_keys = zkv_keys_new ();
    if (!config->peer_certs_dir [0]) {
        zhashx_update (security->peer_keys, zcert_public_txt (security->peer_cert), (void *) "");
        return 0;
    }
    if (s_keys_load (security->peer_keys, "peer-certs-dir", config->peer_certs_dir,
                     error, size) < 0)
        return -1;
    if (!zkv_keys_has (security->peer_keys, zcert_public_txt (security->peer_cert))) {
        snprintf (error, size, "--peer-certs-dir %.150s does not hold this member's public "
                  "certificate (--%s %.150s): the members of a cluster share one certificate",
                  config->peer_certs_dir, flag, path);
        return -1;
    }
    return 0;
}

//  --peer-cert: CURVE on the peer socket alone
static int
s_peer_security_load (const zkv_config_t *config, s_security_t *security, char *error,
                      size_t size)
{
    if (!zsys_has_curve ()) {
        snprintf (error, size, "--peer-cert: this libzmq has no CURVE");
        return -1;
    }
    char why [512];
    security->peer_cert = zkv_cert_load_pair (config->peer_cert, why, sizeof why);
    if (!security->peer_cert) {
        snprintf (error, size, "--peer-cert: %.400s", why);
        return -1;
    }
    return s_peer_keys_load (config, security, "peer-cert", config->peer_cert, error, size);
}

static int
s_security_load (const zkv_config_t *config, s_security_t *security, char *error, size_t size)
{
    if (config->peer_cert [0])
        return s_peer_security_load (config, security, error, size);
    if (!zsys_has_curve ()) {
        snprintf (error, size, "--cert: this libzmq has no CURVE");
        return -1;
    }
    char why [512];
    security->cert = zkv_cert_load_pair (config->cert, why, sizeof why);
    if (!security->cert) {
        snprintf (error, size, "--cert: %.400s", why);
        return -1;
    }
    security->peer_cert = zcert_dup (security->cert);
    security->client_keys = zkv_keys_new ();
    security->admin_keys = zkv_keys_new ();
    int clients = s_keys_load (security->client_keys, "client-certs-dir",
                               config->client_certs_dir, error, size);
    int peers = clients < 0? -1: s_peer_keys_load (config, security, "cert", config->cert,
                                                   error, size);
    int admins = peers < 0? -1: s_keys_load (security->admin_keys, "admin-certs-dir",
                                             config->admin_certs_dir, error, size);
    //  An admin is a client too
    if (admins < 0 || s_keys_load (security->client_keys, "admin-certs-dir",
                                   config->admin_certs_dir, error, size) < 0)
        return -1;
    if (clients + admins == 0)
        zsys_warning ("--client-certs-dir %s and --admin-certs-dir %s hold no certificate: "
                      "no client may connect", config->client_certs_dir,
                      config->admin_certs_dir);
    else
    if (admins == 0)
        zsys_warning ("--admin-certs-dir %s holds no certificate: nobody may make admin "
                      "requests", config->admin_certs_dir);
    return 0;
}

static void
s_security_destroy (s_security_t *security)
{
    zcert_destroy (&security->cert);
    zcert_destroy (&security->peer_cert);
    zhashx_destroy (&security->client_keys);
    zhashx_destroy (&security->peer_keys);
    zhashx_destroy (&security->admin_keys);
}

//  The mark a member leaves in its data directory when it finds its
//  database damaged: it will not start on that data again
#define DAMAGED_MARK "damaged"

//  Writes the mark (the error that found the damage), synced; a failure
//  to write it leaves only the log to tell
static void
s_mark_damaged (const char *data_dir, const char *error)
{
    char path [1100];
    snprintf (path, sizeof path, "%s/" DAMAGED_MARK, data_dir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return;
    char text [1200];
    int size = snprintf (text, sizeof text, "%s\n", error);
    if (size > (int) sizeof text - 1)
        size = (int) sizeof text - 1;
    if (write (fd, text, (size_t) size) == size)
        fsync (fd);
    close (fd);
    int dir = open (data_dir, O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
        fsync (dir);
        close (dir);
    }
}

//  The member's answer to a failed write or read of its database (see
//  zkv_engine_failure_fn): it stops at once, never retrying; damaged
//  files leave the mark too (arg: the data directory, NULL in memory)
static void
s_storage_failed (void *arg, bool damaged, const char *what, const char *error)
{
    if (damaged) {
        if (arg)
            s_mark_damaged ((const char *) arg, error);
        zkv_fatal ("storage: the database is damaged (found by a %s): %s", what, error);
    }
    zkv_fatal ("storage: RocksDB failed a %s: %s", what, error);
}

//  SIGINT and SIGTERM: the kernel hands a signal sent to the process to
//  any thread that does not block it (an actor's, RocksDB's, or under
//  valgrind almost any), so a flag set by the handler could wait for main
//  forever. The handler writes a byte to a pipe that main polls instead.
static int s_stop_pipe [2] = { -1, -1 };

static void
s_on_stop_signal (int signum)
{
    (void) signum;
    int saved = errno;
    ssize_t written = write (s_stop_pipe [1], "", 1);
    (void) written;                     //  full: main has a byte to read already
    errno = saved;
}

//  Replaces CZMQ's handler (zsys_init installs it) with s_on_stop_signal;
//  returns the pipe's end to poll, or -1
static int
s_catch_stop_signals (void)
{
    if (pipe2 (s_stop_pipe, O_CLOEXEC | O_NONBLOCK))
        return -1;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_stop_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset (&action.sa_mask);
    if (sigaction (SIGINT, &action, NULL) || sigaction (SIGTERM, &action, NULL))
        return -1;
    return s_stop_pipe [0];
}

//  Raises the soft open-file limit to the hard one (a member needs
//  descriptors for its clients, peers and store, and a low soft limit is
//  only a default), logs both, and returns the limit in force
static size_t
s_raise_open_files (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit))
        return 1024;
    rlim_t soft = limit.rlim_cur;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit (RLIMIT_NOFILE, &limit))
            limit.rlim_cur = soft;
    }
    zsys_info ("open files: at most %llu (soft limit %llu, hard limit %llu)",
               (unsigned long long) limit.rlim_cur, (unsigned long long) soft,
               (unsigned long long) limit.rlim_max);
    return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > SIZE_MAX / 2
         ? SIZE_MAX / 2: (size_t) limit.rlim_cur;
}

//  Connections from outside (client, events and peer sockets) may take at
//  most half of the descriptors: RocksDB keeps at most a quarter open
//  (zkv_engine.c), and ZeroMQ's own and the peers' outgoing ones the
//  rest. The peers may have 32 and 4 per member; the client and the events
//  sockets --max-client-connections each, lowered to fit (and said so).
static size_t
s_client_connections (size_t requested, size_t open_files, size_t peer_connections)
{
    size_t room = open_files / 2 > peer_connections + 16
                ? (open_files / 2 - peer_connections) / 2: 8;
    if (requested <= room)
        return requested;
    zsys_warning ("--max-client-connections %zu lowered to %zu: the open-file limit is %zu "
                  "(half of it for connections, the rest for the store)", requested, room,
                  open_files);
    return room;
}

//  Sends START (with an optional argument) and returns the status frame
//  ("OK" or an error text) and, in *detail and *more, the next frames if
//  any
static char *
s_start (zactor_t *actor, const char *argument, char **detail, char **more)
{
    if (argument)
        zstr_sendx (actor, "START", argument, NULL);
    else
        zstr_send (actor, "START");
    zmsg_t *reply = zmsg_recv (actor);
    char *status = reply? zmsg_popstr (reply): NULL;
    if (detail)
        *detail = reply? zmsg_popstr (reply): NULL;
    if (more)
        *more = reply? zmsg_popstr (reply): NULL;
    zmsg_destroy (&reply);
    return status? status: strdup ("no answer");
}

int
main (int argc, char *argv [])
{
    zkv_config_t config;
    char error [512];
    int rc = zkv_config_parse (&config, argc, argv, error, sizeof error);
    if (rc > 0)
        return 0;
    if (rc < 0) {
        fprintf (stderr, "zkv-node: %s (see --help)\n", error);
        return 2;
    }
    zsys_init ();
    zsys_set_logident ("zkv-node");
    zsys_set_logstream (stderr);
    int stop_fd = s_catch_stop_signals ();
    if (stop_fd < 0) {
        fprintf (stderr, "zkv-node: cannot catch SIGTERM: %s\n", strerror (errno));
        return 1;
    }
    size_t open_files = s_raise_open_files ();
    if (sodium_init () < 0) {
        fprintf (stderr, "zkv-node: libsodium failed to start\n");
        return 1;
    }
    s_security_t security = { NULL, NULL, NULL, NULL, NULL };
    if ((config.cert [0] || config.peer_cert [0])
    &&  s_security_load (&config, &security, error, sizeof error)) {
        fprintf (stderr, "zkv-node: %s\n", error);
        s_security_destroy (&security);
        return 1;
    }

    //  The database: one RocksDB in <data-dir>/db, or in memory
    zkv_memory_t *memory = NULL;
    char db_path [1100];
    if (config.memory) {
        memory = zkv_memory_new ();
        snprintf (db_path, sizeof db_path, "/zkv/%s", config.name);
    }
    else {
        if (zkv_mkdirs (config.data_dir)) {
            fprintf (stderr, "zkv-node: cannot create data dir %s: %s\n", config.data_dir,
                     strerror (errno));
            s_security_destroy (&security);
            return 1;
        }
        snprintf (db_path, sizeof db_path, "%s/db", config.data_dir);
        //  A member that found its database damaged does not serve from it
        //  again: someone must rebuild it (or, knowing better, remove the mark)
        char mark [1100], reason [1024] = "";
        snprintf (mark, sizeof mark, "%s/" DAMAGED_MARK, config.data_dir);
        FILE *file = fopen (mark, "r");
        if (file) {
            if (!fgets (reason, sizeof reason, file))
                reason [0] = 0;
            fclose (file);
            reason [strcspn (reason, "\n")] = 0;
            fprintf (stderr, "zkv-node: the database in %s was found damaged (%s), and %s keeps "
                     "the member from starting on it: rebuild the member (docs/OPERATIONS.md, "
                     "\"Damaged files\")\n", db_path, reason, mark);
            s_security_destroy (&security);
            return 1;
        }
    }
    char *err = NULL;
    zkv_engine_t *engine = zkv_engine_open (db_path, memory, &err);
    if (!engine) {
        if (strstr (err, "lock"))
            fprintf (stderr, "zkv-node: data dir %s is in use by another zkv-node (%s)\n",
                     config.data_dir, err);
        else
        if (strncmp (err, "Corruption", 10) == 0)
            fprintf (stderr, "zkv-node: the database in %s is damaged, not starting on it: %s\n",
                     db_path, err);
        else
        if (strstr (err, "No space left on device"))
            fprintf (stderr, "zkv-node: no space left on the disk of %s: free some, then start "
                     "the member again (%s)\n", config.data_dir, err);
        else
            fprintf (stderr, "zkv-node: cannot open %s: %s\n", db_path, err);
        free (err);
        zkv_memory_destroy (&memory);
        s_security_destroy (&security);
        return 1;
    }
    //  From here on a failed write or read of the database stops the member
    zkv_engine_set_failure (engine, s_storage_failed, config.memory? NULL: config.data_dir);
    //  The members: --initial-cluster at the first start, then the table
    zkv_cluster_t initial, cluster;
    if (zkv_cluster_parse (config.initial_cluster, config.initial_cluster_token, &initial,
                           error, sizeof error)
    ||  zkv_cluster_load (engine, config.name, config.initial_cluster_token, &initial, &cluster,
                          error, sizeof error)) {
        fprintf (stderr, "zkv-node: %s\n", error);
        zkv_engine_destroy (&engine);
        zkv_memory_destroy (&memory);
        s_security_destroy (&security);
        return 1;
    }
    uint64_t member_id = cluster.self, cluster_id = cluster.cluster_id;
    size_t peer_connections = ZKV_PEER_CONNECTIONS (cluster.count);
    size_t client_connections = s_client_connections (config.max_client_connections,
                                                      open_files, peer_connections);
    zkv_peer_t peers [ZKV_CLUSTER_MAX];
    for (size_t i = 0; i < cluster.count; i++) {
        peers [i].id = cluster.members [i].id;
        peers [i].endpoint = cluster.members [i].peer_endpoint;
    }

    //  The actors meet on inproc endpoints private to this process
    char storage_inbox [64], raft_inbox [64], front_inbox [64], hasher_inbox [64];
    char defrag_inbox [64], snapshotter_inbox [64], alarm_inbox [64];
    snprintf (storage_inbox, sizeof storage_inbox, "inproc://zkv-%d-storage", (int) getpid ());
    snprintf (raft_inbox, sizeof raft_inbox, "inproc://zkv-%d-raft", (int) getpid ());
    snprintf (front_inbox, sizeof front_inbox, "inproc://zkv-%d-front", (int) getpid ());
    snprintf (hasher_inbox, sizeof hasher_inbox, "inproc://zkv-%d-hasher", (int) getpid ());
    snprintf (defrag_inbox, sizeof defrag_inbox, "inproc://zkv-%d-defrag", (int) getpid ());
    snprintf (snapshotter_inbox, sizeof snapshotter_inbox, "inproc://zkv-%d-snapshotter",
              (int) getpid ());
    snprintf (alarm_inbox, sizeof alarm_inbox, "inproc://zkv-%d-alarm", (int) getpid ());
    //  The free-disk guard, on disk only; its reserve only with it
    zkv_space_config_t space = {
        .data_dir = config.memory? NULL: config.data_dir,
        .min_free = config.min_free_disk_bytes,
        .reserve = config.min_free_disk_bytes > 0? config.disk_reserve_bytes: 0
    };
    zkv_storage_args_t storage_args = {
        engine, member_id, cluster_id, storage_inbox, front_inbox, raft_inbox, hasher_inbox,
        alarm_inbox, config.quota_backend_bytes, &space
    };
    zkv_hasher_args_t hasher_args = {
        engine, member_id, cluster_id, hasher_inbox, front_inbox, storage_inbox, raft_inbox
    };
    _Static_assert (ZKV_CLUSTER_MAX <= ZKV_ALARM_MAX_MEMBERS, "a check holds every answer");
    uint64_t member_ids [ZKV_CLUSTER_MAX];
    for (size_t i = 0; i < cluster.count; i++)
        member_ids [i] = cluster.members [i].id;
    //  A check waits for answers twice an election timeout, and a second at least
    zkv_alarm_args_t alarm_args = {
        .engine = engine, .member_id = member_id, .members = member_ids,
        .member_count = cluster.count, .space = &space,
        .corrupt_check_msecs = config.corrupt_check_time,
        .answer_msecs = 2 * config.election_timeout < 1000? 1000: 2 * config.election_timeout,
        .inbox = alarm_inbox, .raft = raft_inbox
    };
    zkv_defrag_args_t defrag_args = {
        engine, member_id, cluster_id, defrag_inbox, front_inbox, &space
    };
    zkv_snapshotter_args_t snapshotter_args = {
        engine, member_id, snapshotter_inbox, front_inbox
    };
    zkv_raft_args_t raft_args = {
        .engine = engine, .member_id = member_id, .cluster_id = cluster_id,
        .members = peers, .member_count = cluster.count,
        .listen_peer = config.listen_peer, .listen_peer_fd = config.listen_peer_fd,
        .heartbeat_interval = config.heartbeat_interval,
        .election_timeout = config.election_timeout,
        .snapshot_count = config.snapshot_count, .fault_injection = config.fault_injection,
        .name = config.name, .inbox = raft_inbox, .storage = storage_inbox,
        .front = front_inbox, .hasher = hasher_inbox, .alarm = alarm_inbox,
        .hold = config.initial_corrupt_check,
        .cert = security.peer_cert, .peer_keys = security.peer_keys
    };
    zkv_front_args_t front_args = {
        .member_id = member_id, .cluster_id = cluster_id,
        .listen = config.listen_client, .listen_fd = config.listen_client_fd,
        .listen_events = config.listen_events,
        .max_request_bytes = config.max_request_bytes, .max_txn_ops = config.max_txn_ops,
        .max_response_bytes = config.max_response_bytes,
        .max_client_unread_bytes = config.max_client_unread_bytes,
        .max_unread_bytes = config.max_unread_bytes,
        .max_client_connections = client_connections,
        .max_waiting = 65536, .max_client_requests = config.max_client_requests,
        .request_timeout = config.request_timeout,
        .inbox = front_inbox, .raft = raft_inbox, .storage = storage_inbox,
        .hasher = hasher_inbox, .defrag = defrag_inbox,
        .snapshotter = snapshotter_inbox, .alarm = alarm_inbox, .engine = engine, .quota_bytes = config.quota_backend_bytes,
        .space = &space,
        .verbose = config.log_level == ZKV_LOG_DEBUG, .name = config.name,
        .cert = security.cert, .client_keys = security.client_keys,
        .admin_keys = security.admin_keys
    };
    zkv_zap_args_t zap_args = {
        .client_keys = security.client_keys, .peer_keys = security.peer_keys
    };

    zactor_t *snapshotter = NULL, *defrag = NULL, *hasher = NULL, *storage = NULL;
    zactor_t *raft = NULL, *front = NULL, *alarm = NULL, *zap = NULL;
    char *status = NULL, *detail = NULL, *events = NULL;
    const char *failed_actor = NULL;
    if (security.peer_cert) {
        //  First, whenever a socket is CURVE (the peer socket is, whenever
        //  any is): a CURVE socket that listens before the handler is
        //  bound lets any key in (libzmq's legacy behaviour without ZAP)
        zap = zactor_new (zkv_zap_actor, &zap_args);
        status = s_start (zap, NULL, NULL, NULL);
        if (!streq (status, "OK"))
            failed_actor = "the ZAP handler";
    }
    if (!failed_actor) {
        zstr_free (&status);
        snapshotter = zactor_new (zkv_snapshotter_actor, &snapshotter_args);
        status = s_start (snapshotter, NULL, NULL, NULL);
        if (!streq (status, "OK"))
            failed_actor = "snapshotter";
    }
    if (!failed_actor) {
        zstr_free (&status);
        defrag = zactor_new (zkv_defrag_actor, &defrag_args);
        status = s_start (defrag, NULL, NULL, NULL);
        if (!streq (status, "OK"))
            failed_actor = "defrag";
    }
    if (!failed_actor) {
        zstr_free (&status);
        alarm = zactor_new (zkv_alarm_actor, &alarm_args);
        status = s_start (alarm, NULL, NULL, NULL);
        if (!streq (status, "OK"))
            failed_actor = "alarm";
    }
    if (!failed_actor) {
        zstr_free (&status);
        hasher = zactor_new (zkv_hasher_actor, &hasher_args);
        status = s_start (hasher, NULL, NULL, NULL);
        if (!streq (status, "OK"))
            failed_actor = "hasher";
    }
    if (!failed_actor) {
        zstr_free (&status);
        storage = zactor_new (zkv_storage_actor, &storage_args);
        status = s_start (storage, NULL, &detail, NULL);
        if (!streq (status, "OK"))
            failed_actor = "storage";
    }
    if (!failed_actor) {
        char applied [32];
        snprintf (applied, sizeof applied, "%s", detail? detail: "0");
        zstr_free (&status);
        zstr_free (&detail);
        raft = zactor_new (zkv_raft_actor, &raft_args);
        status = s_start (raft, applied, NULL, NULL);
        if (!streq (status, "OK"))
            failed_actor = "raft";
    }
    bool inconsistent = false;
    if (!failed_actor && config.initial_corrupt_check) {
        //  etcd's initial check: compare with the peers before serving, and
        //  before taking part in raft (raft started held: it only relays)
        zstr_free (&status);
        zstr_send (alarm, "CHECK");
        status = zstr_recv (alarm);
        if (!status || !streq (status, "OK")) {
            fprintf (stderr, "zkv-node: %s\n", status? status: "the initial check failed");
            inconsistent = true;
            rc = 1;
        }
        else
            zstr_send (raft, "RELEASE");
    }
    if (!failed_actor && !inconsistent) {
        zstr_free (&status);
        front = zactor_new (zkv_front_actor, &front_args);
        status = s_start (front, NULL, &detail, &events);
        if (!streq (status, "OK"))
            failed_actor = "front";
    }
    if (failed_actor) {
        fprintf (stderr, "zkv-node: %s could not start: %s\n", failed_actor, status);
        rc = 1;
    }
    else
    if (!inconsistent) {
        zstr_sendx (raft, "PUBLISH", detail, events? events: "", NULL);
        printf ("zkv-node %s: member %016llx of cluster %016llx (%zu member%s)\n", config.name,
                (unsigned long long) member_id, (unsigned long long) cluster_id, cluster.count,
                cluster.count == 1? "": "s");
        //  (A member alone takes no frame: none comes from a member)
        bool exposed = !security.peer_cert && cluster.count > 1;
        if (exposed)
            zsys_warning ("THE PEER PORT %s AUTHENTICATES NOBODY (no --cert, no --peer-cert): "
                          "whoever reaches it can send this member raft messages as a member "
                          "of the cluster and make it apply writes nobody proposed. Keep it on "
                          "a trusted network only, or give every member the cluster's "
                          "--peer-cert (zkv-cluster up makes one)", config.listen_peer);
        printf ("zkv-node %s: peers on %s (%s)\n", config.name, config.listen_peer,
                security.peer_cert? "CURVE"
                : exposed? "NOT AUTHENTICATED: a trusted network only": "plain");
        printf ("zkv-node %s: data in %s (%s)\n", config.name,
                config.memory? "memory": config.data_dir, config.memory? "memory": "rocksdb");
        printf ("zkv-node %s: serving clients on %s\n", config.name, detail);
        printf ("zkv-node %s: events on %s\n", config.name, events? events: "");
        if (security.cert)
            printf ("zkv-node %s: CURVE with key %s: %zu client keys (admins included), "
                    "%zu admin, %zu peer\n", config.name, zcert_public_txt (security.cert),
                    zhashx_size (security.client_keys), zhashx_size (security.admin_keys),
                    zhashx_size (security.peer_keys));
        else
        if (security.peer_cert)
            printf ("zkv-node %s: CURVE between peers with key %s: %zu peer key%s; clients "
                    "plain\n", config.name, zcert_public_txt (security.peer_cert),
                    zhashx_size (security.peer_keys),
                    zhashx_size (security.peer_keys) == 1? "": "s");
        if (security.cert)
            printf ("zkv-node %s: try  zkvctl --endpoints %s --cert <a client's certificate> "
                    "--server-cert %s put foo bar\n", config.name, detail, config.cert);
        else
            printf ("zkv-node %s: try  zkvctl --endpoints %s put foo bar\n", config.name,
                    detail);
        fflush (stdout);
        //  Until SIGINT or SIGTERM: the actors ignore signals, main stops
        //  them. (zmq_poll, not zpoller: CZMQ 4.2.1's zpoller probes a
        //  descriptor as if it were a ZeroMQ socket.)
        zactor_t *actors [] = { front, raft, storage, hasher, defrag, snapshotter, alarm };
        zmq_pollitem_t items [1 + sizeof actors / sizeof actors [0]];
        items [0] = (zmq_pollitem_t) { NULL, stop_fd, ZMQ_POLLIN, 0 };
        for (size_t i = 0; i < sizeof actors / sizeof actors [0]; i++)
            items [1 + i] = (zmq_pollitem_t) { zsock_resolve (actors [i]), 0, ZMQ_POLLIN, 0 };
        size_t count = sizeof items / sizeof items [0];
        while (!(items [0].revents & ZMQ_POLLIN)) {
            if (zmq_poll (items, (int) count, -1) < 0 && errno != EINTR)
                break;
            for (size_t i = 1; i < count; i++)
                if (items [i].revents & ZMQ_POLLIN) {   //  actors only speak when asked
                    zmsg_t *unexpected = zmsg_recv (actors [i - 1]);
                    zmsg_destroy (&unexpected);
                }
        }
        if (config.log_level <= ZKV_LOG_INFO)
            zsys_info ("stopping");
    }
    zstr_free (&status);
    zstr_free (&detail);
    zstr_free (&events);
    zactor_destroy (&front);
    zactor_destroy (&raft);
    zactor_destroy (&storage);
    zactor_destroy (&hasher);
    zactor_destroy (&alarm);
    zactor_destroy (&defrag);
    zactor_destroy (&snapshotter);
    zactor_destroy (&zap);              //  last: it guards every socket
    zkv_engine_destroy (&engine);
    zkv_memory_destroy (&memory);
    s_security_destroy (&security);
    close (s_stop_pipe [0]);
    close (s_stop_pipe [1]);
    return rc;
}
