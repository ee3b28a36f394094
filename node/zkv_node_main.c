/*  =========================================================================
    zkv_node_main.c — zkv-node: one member of a zkv cluster.

    Parses its settings, reads its certificates (--cert, --peer-cert),
    opens the database, wires the actors (zkv_wiring.h: built once, each
    actor's own settings beside it) and starts them from a table in order
    (the ZAP handler when a socket is CURVE, snapshotter, defrag, alarm,
    hasher, storage, raft, front: each START answered with a status, since
    zactor_new cannot report an actor's own failure), prints where it
    listens (and warns when its peer port authenticates nobody), waits for
    SIGINT or SIGTERM, and stops them in reverse order.
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
#include "zkv_actor_io.h"
#include "zkv_cluster.h"
#include "zkv_fatal.h"
#include "zkv_config.h"
#include "zkv_join.h"
#include "zkv_engine.h"
#include "zkv_front.h"
#include "zkv_hasher.h"
#include "zkv_alarm.h"
#include "zkv_defrag.h"
#include "zkv_snapshotter.h"
#include "zkv_peers.h"
#include "zkv_raft.h"
#include "zkv_storage.h"
#include "zkv_wiring.h"
#include "zkv_http.h"
#include "zkv_metrics.h"
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
    //  and so is the member itself, for its health probe (zkv_http.h)
    zhashx_update (security->client_keys, zcert_public_txt (security->cert), (void *) "");
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

//  The database: one RocksDB in <data-dir>/db, or in memory (*memory).
//  NULL when it cannot open (said on stderr). Its failure handler keeps
//  config->data_dir.
static zkv_engine_t *
s_database_open (zkv_config_t *config, zkv_memory_t **memory)
{
    char db_path [1100];
    if (config->memory) {
        *memory = zkv_memory_new ();
        snprintf (db_path, sizeof db_path, "/zkv/%s", config->name);
    }
    else {
        if (zkv_mkdirs (config->data_dir)) {
            fprintf (stderr, "zkv-node: cannot create data dir %s: %s\n", config->data_dir,
                     strerror (errno));
            return NULL;
        }
        snprintf (db_path, sizeof db_path, "%s/db", config->data_dir);
        //  A member that found its database damaged does not serve from it
        //  again: someone must rebuild it (or, knowing better, remove the mark)
        char mark [1100], reason [1024] = "";
        snprintf (mark, sizeof mark, "%s/" DAMAGED_MARK, config->data_dir);
        FILE *file = fopen (mark, "r");
        if (file) {
            if (!fgets (reason, sizeof reason, file))
                reason [0] = 0;
            fclose (file);
            reason [strcspn (reason, "\n")] = 0;
            fprintf (stderr, "zkv-node: the database in %s was found damaged (%s), and %s keeps "
                     "the member from starting on it: rebuild the member (docs/OPERATIONS.md, "
                     "\"Damaged files\")\n", db_path, reason, mark);
            return NULL;
        }
    }
    char *err = NULL;
    zkv_engine_t *engine = zkv_engine_open (db_path, *memory, &err);
    if (!engine) {
        if (strstr (err, "lock"))
            fprintf (stderr, "zkv-node: data dir %s is in use by another zkv-node (%s)\n",
                     config->data_dir, err);
        else
        if (strncmp (err, "Corruption", 10) == 0)
            fprintf (stderr, "zkv-node: the database in %s is damaged, not starting on it: %s\n",
                     db_path, err);
        else
        if (strstr (err, "No space left on device"))
            fprintf (stderr, "zkv-node: no space left on the disk of %s: free some, then start "
                     "the member again (%s)\n", config->data_dir, err);
        else
            fprintf (stderr, "zkv-node: cannot open %s: %s\n", db_path, err);
        free (err);
        return NULL;
    }
    //  From here on a failed write or read of the database stops the member
    zkv_engine_set_failure (engine, s_storage_failed, config->memory? NULL: config->data_dir);
    return engine;
}

//  The members: --initial-cluster at the first start, then the table.
//  Returns 0, or -1 with a message in error.
static int
s_cluster_load (const zkv_config_t *config, zkv_engine_t *engine, zkv_cluster_t *cluster,
                char *error, size_t size)
{
    zkv_cluster_t initial;
    if (zkv_cluster_parse (config->initial_cluster, config->initial_cluster_token, &initial,
                           error, size)
    ||  zkv_cluster_load (engine, config->name, config->initial_cluster_token, &initial,
                          cluster, error, size))
        return -1;
    return 0;
}

//  The actors, in the order they start; they stop in reverse order. The
//  ZAP handler comes first whenever a socket is CURVE (the peer socket
//  is, whenever any is): a CURVE socket that listens before the handler
//  is bound lets any key in (libzmq's legacy behaviour without ZAP); so
//  it stops last, as it guards every socket. Raft starts from the index
//  storage applied, and front, which lets clients in, last.
enum {
    A_ZAP, A_SNAPSHOTTER, A_DEFRAG, A_ALARM, A_HASHER, A_STORAGE, A_RAFT, A_FRONT, ACTORS
};

typedef struct {
    const char *name;                   //  as "could not start" names it
    zactor_fn *fn;
    void *args;                         //  NULL: not started (ZAP without CURVE)
    zactor_t *actor;
    char *detail;                       //  the frames after START's "OK", if any:
    char *more;                         //  storage's applied index, front's endpoints
} s_actor_t;

//  Names every actor's inbox: inproc endpoints private to this process
static void
s_inboxes_name (zkv_wiring_t *wiring)
{
    char *inboxes [] = { wiring->storage, wiring->raft, wiring->front, wiring->hasher,
                         wiring->defrag, wiring->snapshotter, wiring->alarm };
    const char *actors [] = { "storage", "raft", "front", "hasher", "defrag", "snapshotter",
                              "alarm" };
    for (size_t i = 0; i < sizeof inboxes / sizeof inboxes [0]; i++)
        snprintf (inboxes [i], ZKV_INBOX_SIZE, "inproc://zkv-%d-%s", (int) getpid (),
                  actors [i]);
}

//  Starts actors [from, to) in order: zactor_new cannot report an actor's
//  own failure, so each answers START with "OK" (then its details) or an
//  error text. Returns 0, or -1 when one failed (said on stderr).
static int
s_actors_start (s_actor_t *actors, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        s_actor_t *self = &actors [i];
        if (!self->args)
            continue;
        self->actor = zactor_new (self->fn, self->args);
        const char *applied = actors [A_STORAGE].detail? actors [A_STORAGE].detail: "0";
        if (i == A_RAFT)
            zstr_sendx (self->actor, "START", applied, NULL);
        else
            zstr_send (self->actor, "START");
        zmsg_t *reply = zmsg_recv (self->actor);
        char *status = reply? zmsg_popstr (reply): NULL;
        self->detail = reply? zmsg_popstr (reply): NULL;
        self->more = reply? zmsg_popstr (reply): NULL;
        zmsg_destroy (&reply);
        bool started = status && streq (status, "OK");
        if (!started)
            fprintf (stderr, "zkv-node: %s could not start: %s\n", self->name,
                     status? status: "no answer");
        zstr_free (&status);
        if (!started)
            return -1;
    }
    return 0;
}

//  Stops the actors in reverse order
static void
s_actors_stop (s_actor_t *actors)
{
    for (size_t i = ACTORS; i-- > 0;) {
        zactor_destroy (&actors [i].actor);
        zstr_free (&actors [i].detail);
        zstr_free (&actors [i].more);
    }
}

//  etcd's initial check: compare with the peers before serving, and
//  before taking part in raft (raft started held: it only relays).
//  Returns 0 (raft released), or -1 (said on stderr).
static int
s_initial_check (zactor_t *alarm, zactor_t *raft)
{
    zstr_send (alarm, "CHECK");
    char *status = zstr_recv (alarm);
    bool consistent = status && streq (status, "OK");
    if (consistent)
        zstr_send (raft, "RELEASE");
    else
        fprintf (stderr, "zkv-node: %s\n", status? status: "the initial check failed");
    zstr_free (&status);
    return consistent? 0: -1;
}

//  Says where the member listens, on stdout (endpoint and events: the
//  client and events sockets front bound)
static void
s_announce (const zkv_config_t *config, const zkv_wiring_t *wiring, size_t members,
            const char *endpoint, const char *events)
{
    printf ("zkv-node %s: member %016llx of cluster %016llx (%zu member%s)\n", config->name,
            (unsigned long long) wiring->member_id, (unsigned long long) wiring->cluster_id,
            members, members == 1? "": "s");
    //  (A member alone takes no frame: none comes from a member)
    bool exposed = !wiring->peer_cert && members > 1;
    if (exposed)
        zsys_warning ("THE PEER PORT %s AUTHENTICATES NOBODY (no --cert, no --peer-cert): "
                      "whoever reaches it can send this member raft messages as a member "
                      "of the cluster and make it apply writes nobody proposed. Keep it on "
                      "a trusted network only, or give every member the cluster's "
                      "--peer-cert (zkv-cluster up makes one)", config->listen_peer);
    printf ("zkv-node %s: peers on %s (%s)\n", config->name, config->listen_peer,
            wiring->peer_cert? "CURVE"
            : exposed? "NOT AUTHENTICATED: a trusted network only": "plain");
    printf ("zkv-node %s: data in %s (%s)\n", config->name,
            config->memory? "memory": config->data_dir, config->memory? "memory": "rocksdb");
    printf ("zkv-node %s: serving clients on %s\n", config->name, endpoint);
    printf ("zkv-node %s: events on %s\n", config->name, events);
    if (wiring->cert)
        printf ("zkv-node %s: CURVE with key %s: %zu client keys (admins included), "
                "%zu admin, %zu peer\n", config->name, zcert_public_txt (wiring->cert),
                zhashx_size (wiring->client_keys), zhashx_size (wiring->admin_keys),
                zhashx_size (wiring->peer_keys));
    else
    if (wiring->peer_cert)
        printf ("zkv-node %s: CURVE between peers with key %s: %zu peer key%s; clients "
                "plain\n", config->name, zcert_public_txt (wiring->peer_cert),
                zhashx_size (wiring->peer_keys),
                zhashx_size (wiring->peer_keys) == 1? "": "s");
    if (wiring->cert)
        printf ("zkv-node %s: try  zkvctl --endpoints %s --cert <a client's certificate> "
                "--server-cert %s put foo bar\n", config->name, endpoint, config->cert);
    else
        printf ("zkv-node %s: try  zkvctl --endpoints %s put foo bar\n", config->name,
                endpoint);
    fflush (stdout);
}

//  Until SIGINT or SIGTERM: the actors ignore signals, main stops them.
//  (zmq_poll, not zpoller: CZMQ 4.2.1's zpoller probes a descriptor as
//  if it were a ZeroMQ socket.)
static void
s_wait_for_stop (int stop_fd, s_actor_t *actors)
{
    zmq_pollitem_t items [1 + ACTORS];
    zactor_t *polled [1 + ACTORS];
    size_t count = 0;
    items [count++] = (zmq_pollitem_t) { NULL, stop_fd, ZMQ_POLLIN, 0 };
    for (size_t i = 0; i < ACTORS; i++)
        if (actors [i].actor) {
            polled [count] = actors [i].actor;
            items [count++] = (zmq_pollitem_t) { zsock_resolve (actors [i].actor), 0,
                                                 ZMQ_POLLIN, 0 };
        }
    while (true) {
        //  (after an error, revents are stale: poll again or stop)
        if (zmq_poll (items, (int) count, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            break;
        for (size_t i = 1; i < count; i++)
            if (items [i].revents & ZMQ_POLLIN) {       //  actors only speak when asked
                zmsg_t *unexpected = zmsg_recv (polled [i]);
                zmsg_destroy (&unexpected);
            }
    }
}

//  A member's actors and what they start with: the wiring, built once,
//  and each actor's own settings (the actors read them while they run)
typedef struct {
    zkv_space_config_t space;           //  the free-disk guard's settings
    zkv_wiring_t wiring;
    zkv_peer_t peers [ZKV_CLUSTER_MAX];
    zkv_zap_args_t zap;
    zkv_snapshotter_args_t snapshotter;
    zkv_defrag_args_t defrag;
    zkv_alarm_args_t alarm;
    zkv_hasher_args_t hasher;
    zkv_storage_args_t storage;
    zkv_raft_args_t raft;
    zkv_front_args_t front;
    s_actor_t actors [ACTORS];
} s_member_t;

//  Wires the actors of self: the shared part once, then each one's own
//  settings, and the table they start from
static void
s_member_wire (s_member_t *self, const zkv_config_t *config, const s_security_t *security,
               zkv_engine_t *engine, const zkv_cluster_t *cluster, size_t open_files)
{
    //  The free-disk guard, on disk only; its reserve only with it
    self->space = (zkv_space_config_t) {
        .data_dir = config->memory? NULL: config->data_dir,
        .min_free = config->min_free_disk_bytes,
        .reserve = config->min_free_disk_bytes > 0? config->disk_reserve_bytes: 0
    };
    self->wiring = (zkv_wiring_t) {
        .engine = engine, .space = &self->space, .name = config->name,
        .member_id = cluster->self, .cluster_id = cluster->cluster_id,
        .cert = security->cert, .peer_cert = security->peer_cert,
        .client_keys = security->client_keys, .peer_keys = security->peer_keys,
        .admin_keys = security->admin_keys
    };
    s_inboxes_name (&self->wiring);
    _Static_assert (ZKV_CLUSTER_MAX <= ZKV_ALARM_MAX_MEMBERS, "a check holds every answer");
    for (size_t i = 0; i < cluster->count; i++) {
        self->peers [i].id = cluster->members [i].id;
        self->peers [i].endpoint = cluster->members [i].peer_endpoint;
    }
    self->zap = (zkv_zap_args_t) { .wiring = self->wiring };
    self->snapshotter = (zkv_snapshotter_args_t) { .wiring = self->wiring };
    self->defrag = (zkv_defrag_args_t) { .wiring = self->wiring };
    self->hasher = (zkv_hasher_args_t) { .wiring = self->wiring };
    self->storage = (zkv_storage_args_t) {
        .wiring = self->wiring, .quota_bytes = config->quota_backend_bytes
    };
    //  A check waits for answers twice an election timeout, and a second at least
    self->alarm = (zkv_alarm_args_t) {
        .wiring = self->wiring, .corrupt_check_msecs = config->corrupt_check_time,
        .answer_msecs = 2 * config->election_timeout < 1000? 1000: 2 * config->election_timeout
    };
    self->raft = (zkv_raft_args_t) {
        .wiring = self->wiring, .members = self->peers, .member_count = cluster->count,
        .listen_peer = config->listen_peer, .listen_peer_fd = config->listen_peer_fd,
        .heartbeat_interval = config->heartbeat_interval,
        .election_timeout = config->election_timeout,
        .snapshot_count = config->snapshot_count, .fault_injection = config->fault_injection,
        .max_learners = config->max_learners,
        .hold = config->initial_corrupt_check
    };
    self->front = (zkv_front_args_t) {
        .wiring = self->wiring,
        .listen = config->listen_client, .listen_fd = config->listen_client_fd,
        .listen_events = config->listen_events, .listen_events_fd = config->listen_events_fd,
        .metrics_url = "",          //  (s_member_run: once the HTTP server serves)
        .max_request_bytes = config->max_request_bytes, .max_txn_ops = config->max_txn_ops,
        .max_response_bytes = config->max_response_bytes,
        .max_client_unread_bytes = config->max_client_unread_bytes,
        .max_unread_bytes = config->max_unread_bytes,
        .max_client_connections = s_client_connections (config->max_client_connections,
                                      open_files, ZKV_PEER_CONNECTIONS (cluster->count)),
        .max_waiting = 65536, .max_client_requests = config->max_client_requests,
        .request_timeout = config->request_timeout,
        .quota_bytes = config->quota_backend_bytes,
        .verbose = config->log_level == ZKV_LOG_DEBUG
    };
    s_actor_t actors [ACTORS] = {
        [A_ZAP] = { "the ZAP handler", zkv_zap_actor, security->peer_cert? &self->zap: NULL },
        [A_SNAPSHOTTER] = { "snapshotter", zkv_snapshotter_actor, &self->snapshotter },
        [A_DEFRAG] = { "defrag", zkv_defrag_actor, &self->defrag },
        [A_ALARM] = { "alarm", zkv_alarm_actor, &self->alarm },
        [A_HASHER] = { "hasher", zkv_hasher_actor, &self->hasher },
        [A_STORAGE] = { "storage", zkv_storage_actor, &self->storage },
        [A_RAFT] = { "raft", zkv_raft_actor, &self->raft },
        [A_FRONT] = { "front", zkv_front_actor, &self->front }
    };
    memcpy (self->actors, actors, sizeof actors);
}

//  Starts the actors of a wired member, serves until SIGINT or SIGTERM,
//  and stops them. Returns main's exit code.
static int
s_member_run (s_member_t *self, const zkv_config_t *config, size_t members, int stop_fd)
{
    s_actor_t *actors = self->actors;
    int rc = s_actors_start (actors, 0, A_FRONT);
    if (rc == 0 && config->initial_corrupt_check)
        rc = s_initial_check (actors [A_ALARM].actor, actors [A_RAFT].actor);
    //  The HTTP server before front, which tells its URL in Status
    zkv_http_t *http = NULL;
    if (rc == 0 && (config->listen_metrics [0] || config->listen_metrics_fd >= 0)) {
        char error [300];
        zkv_http_config_t http_config = {
            .listen = config->listen_metrics, .listen_fd = config->listen_metrics_fd,
            .max_connections = (unsigned) config->max_metrics_connections,
            .cert = config->cert [0]? config->cert: NULL
        };
        http = zkv_http_new (&http_config, error, sizeof error);
        if (http)
            self->front.metrics_url = zkv_http_url (http);
        else {
            zsys_error ("%s", error);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = s_actors_start (actors, A_FRONT, ACTORS);
    if (rc == 0) {
        const char *endpoint = actors [A_FRONT].detail;
        const char *events = actors [A_FRONT].more? actors [A_FRONT].more: "";
        if (http)
            zkv_http_probe_at (http, endpoint);
        zstr_sendx (actors [A_RAFT].actor, "PUBLISH", endpoint, events, NULL);
        s_announce (config, &self->wiring, members, endpoint, events);
        if (http && config->log_level <= ZKV_LOG_INFO)
            zsys_info ("serving metrics and health on %s", zkv_http_url (http));
        s_wait_for_stop (stop_fd, actors);
        if (config->log_level <= ZKV_LOG_INFO)
            zsys_info ("stopping");
    }
    zkv_http_destroy (&http);
    s_actors_stop (actors);
    return rc? 1: 0;
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
    char host [64];
    int port;
    if (config.listen_metrics [0] && config.listen_metrics_fd < 0
    &&  zkv_http_parse_url (config.listen_metrics, host, sizeof host, &port, error,
                            sizeof error)) {
        fprintf (stderr, "zkv-node: --listen-metrics: %s (see --help)\n", error);
        return 2;
    }
    zsys_init ();
    zsys_set_logident ("zkv-node");
    zkv_metrics_init ();
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
    zkv_memory_t *memory = NULL;
    zkv_engine_t *engine = NULL;
    zkv_cluster_t cluster;
    rc = 1;
    if ((config.cert [0] || config.peer_cert [0])
    &&  s_security_load (&config, &security, error, sizeof error))
        fprintf (stderr, "zkv-node: %s\n", error);
    else
    if ((engine = s_database_open (&config, &memory))) {
        if ((config.initial_cluster_existing
             && zkv_join (&config, engine, security.peer_cert, error, sizeof error))
        ||  s_cluster_load (&config, engine, &cluster, error, sizeof error))
            fprintf (stderr, "zkv-node: %s\n", error);
        else {
            s_member_t member;
            s_member_wire (&member, &config, &security, engine, &cluster, open_files);
            rc = s_member_run (&member, &config, cluster.count, stop_fd);
        }
    }
    zkv_engine_destroy (&engine);
    zkv_memory_destroy (&memory);
    s_security_destroy (&security);
    close (s_stop_pipe [0]);
    close (s_stop_pipe [1]);
    return rc;
}
