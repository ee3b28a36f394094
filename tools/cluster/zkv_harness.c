/*  =========================================================================
    zkv_harness.c — a local cluster of real zkv-node processes (see
    zkv_harness.h).
    =========================================================================
*/
#include "zkv_harness.h"
#include "zkv_client.h"
#include "zkv_mkdirs.h"
#include "zkv_file_read.h"
#include "zkv_spawn.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_MEMBERS 16
#define START_TIMEOUT 30000             //  msecs for a member to serve

typedef struct {
    char name [24];
    char id [32];                       //  hex, once known
    char client [64];                   //  client endpoint
    char peer [64];                     //  peer endpoint
    char events [64];                   //  events endpoint, kept across starts
                                        //  ("": a port of its own each start)
    char metrics [64];                  //  its HTTP server's URL, the same way
    int client_fd;                      //  listening sockets held (-1: none)
    int peer_fd;
    int events_fd;
    int metrics_fd;
    char data [1024];
    char log [1024];
    char out [1024];
    pid_t pid;                          //  0 when not running
    int status;                         //  wait status of the last process that
                                        //  ended (attached only), -1: none
    char join [MAX_MEMBERS * 96];       //  added later: the --initial-cluster it
                                        //  joins with (existing); "" for the first
} s_member_t;

struct zkv_harness_s {
    char dir [900];
    char file [1024];
    char node [1024];
    char token [64];
    bool attached;
    char certs [1024];                  //  secure: the certificates (else "")
    char cluster_cert [1100];           //  secure: certs/cluster.cert
    char peer_cert [1100];              //  not secure: the peers' (--peer-cert; else "")
    zkv_curve_t *curve;                 //  secure: how we talk (the admin)
    const char *flags [32];             //  extra member flags (not owned)
    size_t flag_count;
    char *file_flags [32];              //  those of the cluster file (owned)
    s_member_t members [MAX_MEMBERS];
    size_t count;
    char endpoints [MAX_MEMBERS * 64];
};

//  ---------------------------------------------------------------------
//  Helpers

//  A listening loopback socket on *port (0: any free port, then written
//  back), or -1
static int
s_listen (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    address.sin_port = htons ((uint16_t) *port);
    socklen_t length = sizeof address;
    if (bind (fd, (struct sockaddr *) &address, sizeof address)
    ||  listen (fd, 128)
    ||  getsockname (fd, (struct sockaddr *) &address, &length)) {
        close (fd);
        return -1;
    }
    *port = ntohs (address.sin_port);
    return fd;
}

//  Closes the listening sockets member holds, if any
static void
s_close_sockets (s_member_t *member)
{
    int *fds [] = { &member->client_fd, &member->peer_fd, &member->events_fd,
                    &member->metrics_fd };
    for (size_t i = 0; i < sizeof fds / sizeof fds [0]; i++) {
        if (*fds [i] >= 0)
            close (*fds [i]);
        *fds [i] = -1;
    }
}

//  Binds member's four listening sockets on loopback: at client_port and
//  the three ports after it (peer, events, metrics: the member's own
//  defaults), or on free ports when client_port is 0; and names its
//  endpoints after them. 0, or -1 with none held.
static int
s_listen_all (s_member_t *member, int client_port)
{
    int ports [4];
    int *fds [4] = { &member->client_fd, &member->peer_fd, &member->events_fd,
                     &member->metrics_fd };
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        ports [i] = client_port? client_port + i: 0;
        *fds [i] = rc == 0? s_listen (&ports [i]): -1;
        if (*fds [i] < 0)
            rc = -1;
    }
    if (rc) {
        s_close_sockets (member);
        return -1;
    }
    snprintf (member->client, sizeof member->client, "tcp://127.0.0.1:%d", ports [0]);
    snprintf (member->peer, sizeof member->peer, "tcp://127.0.0.1:%d", ports [1]);
    snprintf (member->events, sizeof member->events, "tcp://127.0.0.1:%d", ports [2]);
    snprintf (member->metrics, sizeof member->metrics, "http://127.0.0.1:%d", ports [3]);
    return 0;
}

//  True while a member started by another zkv-cluster run lives: its pid
//  must still be a zkv-node on the member's data directory (pids are
//  reused), and not a zombie (whoever inherited it may never reap it)
static bool
s_detached_alive (const s_member_t *member)
{
    char path [64], buffer [4096];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) member->pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    size_t size = fread (buffer, 1, sizeof buffer - 1, file);
    fclose (file);
    buffer [size] = 0;
    const char *state = strrchr (buffer, ')');     //  "pid (comm) S ..."
    if (!state || state [1] != ' ' || state [2] == 'Z' || state [2] == 'X')
        return false;
    snprintf (path, sizeof path, "/proc/%d/cmdline", (int) member->pid);
    file = fopen (path, "r");
    if (!file)
        return false;
    size = fread (buffer, 1, sizeof buffer - 1, file);
    fclose (file);
    buffer [size] = 0;
    for (size_t at = 0; at < size; at += strlen (buffer + at) + 1)
        if (streq (buffer + at, member->data))
            return true;
    return false;
}

static s_member_t *
s_member (zkv_harness_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (streq (self->members [i].name, name))
            return &self->members [i];
    return NULL;
}

//  All of a file this process wrote or its child did ("" if none)
static char *
s_read_file (const char *path)
{
    char *text = zkv_file_read (path, 0);
    return text? text: strdup ("");
}

static void
s_update_endpoints (zkv_harness_t *self)
{
    self->endpoints [0] = 0;
    for (size_t i = 0; i < self->count; i++) {
        if (i)
            strcat (self->endpoints, ",");
        strcat (self->endpoints, self->members [i].client);
    }
}

//  ---------------------------------------------------------------------
//  Certificates

//  Saves a fresh certificate as certs/name.cert (and _secret), and its
//  public part as certs/allowed/name.cert for each directory named
static int
s_make_cert (const char *certs, const char *name, const char *const *allowed)
{
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "name", "zkv %s", name);
    char path [1100];
    snprintf (path, sizeof path, "%s/%s.cert", certs, name);
    int rc = zcert_save (cert, path);
    for (size_t i = 0; allowed [i] && rc == 0; i++) {
        snprintf (path, sizeof path, "%s/%s/%s.cert", certs, allowed [i], name);
        rc = zcert_save_public (cert, path);
    }
    zcert_destroy (&cert);
    return rc;
}

//  Fresh certificates in dir/certs (see zkv_harness.h)
static int
s_make_certs (zkv_harness_t *self, char *error, size_t error_size)
{
    snprintf (self->certs, sizeof self->certs, "%s/certs", self->dir);
    const char *dirs [] = { "clients", "peers", "admins" };
    for (size_t i = 0; i < 3; i++) {
        char path [1100];
        snprintf (path, sizeof path, "%s/%s", self->certs, dirs [i]);
        if (zkv_mkdirs (path)) {
            snprintf (error, error_size, "cannot create %s: %s", path, strerror (errno));
            return -1;
        }
    }
    const char *peers [] = { "peers", NULL };
    const char *clients [] = { "clients", NULL };
    const char *admins [] = { "clients", "admins", NULL };
    if (s_make_cert (self->certs, "cluster", peers)
    ||  s_make_cert (self->certs, "client", clients)
    ||  s_make_cert (self->certs, "admin", admins)) {
        snprintf (error, error_size, "cannot write certificates in %s", self->certs);
        return -1;
    }
    return 0;
}

//  A fresh peer certificate, dir/certs/peer.cert (see zkv_harness.h)
static int
s_make_peer_cert (zkv_harness_t *self, char *error, size_t error_size)
{
    char certs [1000];
    snprintf (certs, sizeof certs, "%s/certs", self->dir);
    snprintf (self->peer_cert, sizeof self->peer_cert, "%s/certs/peer.cert", self->dir);
    const char *allowed [] = { NULL };
    if (zkv_mkdirs (certs) || s_make_cert (certs, "peer", allowed)) {
        snprintf (error, error_size, "cannot write the peer certificate %s", self->peer_cert);
        return -1;
    }
    return 0;
}

//  Reads the credentials the harness talks with
static int
s_load_curve (zkv_harness_t *self, char *error, size_t error_size)
{
    char cert [1100];
    snprintf (cert, sizeof cert, "%s/admin.cert", self->certs);
    snprintf (self->cluster_cert, sizeof self->cluster_cert, "%s/cluster.cert", self->certs);
    self->curve = zkv_curve_new (cert, self->cluster_cert, error, error_size);
    return self->curve? 0: -1;
}

//  ---------------------------------------------------------------------
//  Cluster file

int
zkv_harness_save (zkv_harness_t *self)
{
    zconfig_t *root = zconfig_new ("root", NULL);
    zconfig_t *cluster = zconfig_new ("cluster", root);
    zconfig_put (cluster, "token", self->token);
    zconfig_put (cluster, "node", self->node);
    if (*self->certs) {
        zconfig_put (cluster, "certs", self->certs);
        zconfig_putf (cluster, "cert", "%s/admin.cert", self->certs);
        zconfig_putf (cluster, "server-cert", "%s/cluster.cert", self->certs);
    }
    if (*self->peer_cert)
        zconfig_put (cluster, "peer-cert", self->peer_cert);
    //  The members' extra flags, one a line, so that a member started by a
    //  later command (start, add) runs as the first ones do
    for (size_t i = 0; i < self->flag_count; i++)
        zconfig_set_value (zconfig_new ("flag", cluster), "%s", self->flags [i]);
    for (size_t i = 0; i < self->count; i++) {
        s_member_t *member = &self->members [i];
        zconfig_t *entry = zconfig_new ("member", cluster);
        zconfig_put (entry, "name", member->name);
        zconfig_put (entry, "id", member->id);
        zconfig_put (entry, "client", member->client);
        zconfig_put (entry, "peer", member->peer);
        if (*member->events)
            zconfig_put (entry, "events", member->events);
        if (*member->metrics)
            zconfig_put (entry, "metrics", member->metrics);
        zconfig_put (entry, "data", member->data);
        zconfig_put (entry, "log", member->log);
        zconfig_putf (entry, "pid", "%d", (int) member->pid);
        if (*member->join)
            zconfig_put (entry, "join", member->join);
    }
    zconfig_set_comment (root, " zkv cluster file, written by zkv-cluster (read by zkvctl "
                               "--cluster-file)");
    int rc = zconfig_save (root, self->file);
    zconfig_destroy (&root);
    return rc;
}

zkv_harness_t *
zkv_harness_new (const zkv_harness_config_t *config, char *error, size_t error_size)
{
    if (config->members < 1 || config->members > MAX_MEMBERS) {
        snprintf (error, error_size, "a cluster has 1 to %d members", MAX_MEMBERS);
        return NULL;
    }
    if (config->secure && config->insecure_peers) {
        snprintf (error, error_size, "a secure cluster's peers always authenticate each other");
        return NULL;
    }
    if (config->first_port
    &&  (config->first_port < 1024
    ||   config->first_port + 10000 * ((int) config->members - 1) + 2 > 65535)) {
        snprintf (error, error_size, "--ports %d: every member's ports must lie in 1024..65535",
                  config->first_port);
        return NULL;
    }
    char *absolute = NULL;
    if (zkv_mkdirs (config->dir) || !(absolute = realpath (config->dir, NULL))) {
        snprintf (error, error_size, "cannot create %s: %s", config->dir, strerror (errno));
        return NULL;
    }
    if (strlen (absolute) >= sizeof ((zkv_harness_t *) 0)->dir) {
        snprintf (error, error_size, "directory path too long: %s", absolute);
        free (absolute);
        return NULL;
    }
    zkv_harness_t *self = (zkv_harness_t *) zmalloc (sizeof (zkv_harness_t));
    snprintf (self->dir, sizeof self->dir, "%s", absolute);
    snprintf (self->file, sizeof self->file, "%s/cluster.zpl", self->dir);
    snprintf (self->node, sizeof self->node, "%s", config->node);
    //  A token of its own keeps this cluster's members deaf to any other's
    snprintf (self->token, sizeof self->token, "zkv-%08x-%d",
              (unsigned) (zclock_usecs () ^ (int64_t) getpid () << 20), (int) config->members);
    self->attached = config->attached;
    for (size_t i = 0; config->flags && config->flags [i] && i < 31; i++)
        self->flags [self->flag_count++] = config->flags [i];
    self->count = config->members;
    for (size_t i = 0; i < self->count; i++) {
        s_member_t *member = &self->members [i];
        char name [sizeof member->name];    //  a copy: snprintf's source
        snprintf (name, sizeof name, "n%zu", i + 1);   //  may not overlap self
        snprintf (member->name, sizeof member->name, "%s", name);
        int client_port = config->first_port? config->first_port + 10000 * (int) i: 0;
        member->status = -1;
        if (s_listen_all (member, client_port)) {
            if (config->first_port)
                snprintf (error, error_size, "cannot listen on 127.0.0.1:%d to :%d (%s)",
                          client_port, client_port + 3, strerror (errno));
            else
                snprintf (error, error_size, "cannot find free loopback ports");
            free (absolute);
            zkv_harness_destroy (&self);
            return NULL;
        }
        snprintf (member->data, sizeof member->data, "%s/%s", absolute, name);
        snprintf (member->log, sizeof member->log, "%s/%s.log", absolute, name);
        snprintf (member->out, sizeof member->out, "%s/%s.out", absolute, name);
    }
    free (absolute);
    s_update_endpoints (self);
    if (config->secure
    &&  (s_make_certs (self, error, error_size) || s_load_curve (self, error, error_size))) {
        zkv_harness_destroy (&self);
        return NULL;
    }
    if (!config->secure && !config->insecure_peers
    &&  s_make_peer_cert (self, error, error_size)) {
        zkv_harness_destroy (&self);
        return NULL;
    }
    if (zkv_harness_save (self)) {
        snprintf (error, error_size, "cannot write %s", self->file);
        zkv_harness_destroy (&self);
        return NULL;
    }
    return self;
}

zkv_harness_t *
zkv_harness_open (const char *dir, const char *node, char *error, size_t error_size)
{
    zkv_harness_t *self = (zkv_harness_t *) zmalloc (sizeof (zkv_harness_t));
    if (!realpath (dir, self->dir)) {
        snprintf (error, error_size, "no cluster in %s", dir);
        free (self);
        return NULL;
    }
    snprintf (self->file, sizeof self->file, "%s/cluster.zpl", self->dir);
    zconfig_t *root = zconfig_load (self->file);
    zconfig_t *cluster = root? zconfig_locate (root, "cluster"): NULL;
    if (!cluster) {
        snprintf (error, error_size, "cannot read %s", self->file);
        zconfig_destroy (&root);
        free (self);
        return NULL;
    }
    snprintf (self->token, sizeof self->token, "%s", zconfig_get (cluster, "token", ""));
    snprintf (self->certs, sizeof self->certs, "%s", zconfig_get (cluster, "certs", ""));
    snprintf (self->peer_cert, sizeof self->peer_cert, "%s",
              zconfig_get (cluster, "peer-cert", ""));
    snprintf (self->node, sizeof self->node, "%s",
              node? node: zconfig_get (cluster, "node", "zkv-node"));
    for (zconfig_t *entry = zconfig_child (cluster); entry; entry = zconfig_next (entry))
        if (streq (zconfig_name (entry), "flag") && self->flag_count < 31) {
            self->file_flags [self->flag_count] = strdup (zconfig_value (entry));
            self->flags [self->flag_count] = self->file_flags [self->flag_count];
            self->flag_count++;
        }
    for (zconfig_t *entry = zconfig_child (cluster); entry && self->count < MAX_MEMBERS;
         entry = zconfig_next (entry)) {
        if (!streq (zconfig_name (entry), "member"))
            continue;
        s_member_t *member = &self->members [self->count++];
        snprintf (member->name, sizeof member->name, "%s", zconfig_get (entry, "name", ""));
        snprintf (member->id, sizeof member->id, "%s", zconfig_get (entry, "id", ""));
        snprintf (member->client, sizeof member->client, "%s", zconfig_get (entry, "client", ""));
        snprintf (member->peer, sizeof member->peer, "%s", zconfig_get (entry, "peer", ""));
        snprintf (member->events, sizeof member->events, "%s", zconfig_get (entry, "events", ""));
        snprintf (member->metrics, sizeof member->metrics, "%s",
                  zconfig_get (entry, "metrics", ""));
        snprintf (member->data, sizeof member->data, "%s", zconfig_get (entry, "data", ""));
        snprintf (member->log, sizeof member->log, "%s", zconfig_get (entry, "log", ""));
        char out [sizeof member->out];
        snprintf (out, sizeof out, "%s/%s.out", self->dir, member->name);
        memcpy (member->out, out, sizeof out);
        member->pid = atoi (zconfig_get (entry, "pid", "0"));
        snprintf (member->join, sizeof member->join, "%s", zconfig_get (entry, "join", ""));
        member->client_fd = member->peer_fd = member->events_fd = member->metrics_fd = -1;
        member->status = -1;
        //  A pid from the file counts only while that process lives
        if (member->pid && !s_detached_alive (member))
            member->pid = 0;
    }
    zconfig_destroy (&root);
    s_update_endpoints (self);
    if (*self->certs && s_load_curve (self, error, error_size)) {
        zkv_harness_destroy (&self);
        return NULL;
    }
    return self;
}

void
zkv_harness_destroy (zkv_harness_t **self_p)
{
    zkv_harness_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        s_member_t *member = &self->members [i];
        if (self->attached && member->pid)
            zkv_harness_signal (self, member->name, SIGKILL);
        s_close_sockets (member);
    }
    zkv_curve_destroy (&self->curve);
    for (size_t i = 0; i < self->flag_count; i++)
        free (self->file_flags [i]);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Processes

static int
s_start_member (zkv_harness_t *self, s_member_t *member, char *error, size_t error_size)
{
    if (zkv_harness_running (self, member->name))
        return 0;                       //  running already
    //  The first members bootstrap the cluster together; one added later
    //  joins it with what its member add told
    char initial [MAX_MEMBERS * 96] = "";
    for (size_t i = 0; i < self->count; i++) {
        char item [96];
        if (*self->members [i].join)
            continue;
        snprintf (item, sizeof item, "%s%s=%s", *initial? ",": "", self->members [i].name,
                  self->members [i].peer);
        strcat (initial, item);
    }
    if (*member->join)
        snprintf (initial, sizeof initial, "%s", member->join);
    char client_fd [16], peer_fd [16], events_fd [16], metrics_fd [16];
    char cert [1100], clients [1100], peers [1100], admins [1100];
    snprintf (cert, sizeof cert, "%s/cluster.cert", self->certs);
    snprintf (clients, sizeof clients, "%s/clients", self->certs);
    snprintf (peers, sizeof peers, "%s/peers", self->certs);
    snprintf (admins, sizeof admins, "%s/admins", self->certs);
    snprintf (client_fd, sizeof client_fd, "%d", member->client_fd);
    snprintf (peer_fd, sizeof peer_fd, "%d", member->peer_fd);
    snprintf (events_fd, sizeof events_fd, "%d", member->events_fd);
    snprintf (metrics_fd, sizeof metrics_fd, "%d", member->metrics_fd);
    const char *argv [80];
    int argc = 0;
    argv [argc++] = self->node;
    argv [argc++] = "--name";
    argv [argc++] = member->name;
    argv [argc++] = "--data-dir";
    argv [argc++] = member->data;
    argv [argc++] = "--listen-client";
    argv [argc++] = member->client;
    argv [argc++] = "--listen-peer";
    argv [argc++] = member->peer;
    //  The same events endpoint at every start, so that subscribers find
    //  the member again (a cluster file written before members had one:
    //  a port of its own)
    argv [argc++] = "--listen-events";
    argv [argc++] = *member->events? member->events: "tcp://127.0.0.1:*";
    argv [argc++] = "--listen-metrics";
    argv [argc++] = *member->metrics? member->metrics: "http://127.0.0.1:0";
    argv [argc++] = "--initial-cluster";
    argv [argc++] = initial;
    argv [argc++] = "--initial-cluster-token";
    argv [argc++] = self->token;
    if (*member->join) {
        argv [argc++] = "--initial-cluster-state";
        argv [argc++] = "existing";
    }
    argv [argc++] = "--enable-fault-injection";
    if (*self->certs) {
        argv [argc++] = "--cert";
        argv [argc++] = cert;
        argv [argc++] = "--client-certs-dir";
        argv [argc++] = clients;
        argv [argc++] = "--peer-certs-dir";
        argv [argc++] = peers;
        argv [argc++] = "--admin-certs-dir";
        argv [argc++] = admins;
    }
    else
    if (*self->peer_cert) {
        argv [argc++] = "--peer-cert";
        argv [argc++] = self->peer_cert;
    }
    if (member->client_fd >= 0) {
        argv [argc++] = "--listen-client-fd";
        argv [argc++] = client_fd;
        argv [argc++] = "--listen-peer-fd";
        argv [argc++] = peer_fd;
    }
    if (member->events_fd >= 0) {
        argv [argc++] = "--listen-events-fd";
        argv [argc++] = events_fd;
    }
    if (member->metrics_fd >= 0) {
        argv [argc++] = "--listen-metrics-fd";
        argv [argc++] = metrics_fd;
    }
    for (size_t i = 0; i < self->flag_count; i++)
        argv [argc++] = self->flags [i];
    argv [argc] = NULL;

    unlink (member->out);
    //  Detached, a member outlives zkv-cluster; only its own sockets go with it
    int keep [] = { member->client_fd, member->peer_fd, member->events_fd, member->metrics_fd };
    zkv_spawn_t spawn = {
        .argv = argv, .path = { "/dev/null", member->out, member->log },
        .detach = !self->attached, .close_others = true, .keep = keep, .keep_count = 4
    };
    pid_t pid = zkv_spawn (&spawn);
    if (pid < 0) {
        snprintf (error, error_size, "cannot fork: %s", strerror (errno));
        return -1;
    }
    member->pid = pid;
    //  Wait for the line that says where it serves, and its id
    int64_t deadline = zclock_mono () + START_TIMEOUT;
    while (zclock_mono () < deadline) {
        char *out = s_read_file (member->out);
        char *serving = strstr (out, "serving clients on");
        char *id = strstr (out, ": member ");
        if (serving && id) {
            sscanf (id + 9, "%31s", member->id);
            free (out);
            //  zkv-cluster's members bind their ports themselves from now on
            if (!self->attached) {
                s_close_sockets (member);
            }
            return zkv_harness_save (self);
        }
        free (out);
        int status;                     //  ours until it runs on its own
        if (waitpid (pid, &status, WNOHANG) == pid) {
            member->pid = 0;
            member->status = status;
            break;
        }
        zclock_sleep (10);
    }
    char *log = s_read_file (member->log);
    size_t length = strlen (log);
    snprintf (error, error_size, "%s did not start; the end of %s:\n%s", member->name,
              member->log, length > 2000? log + length - 2000: log);
    free (log);
    if (member->pid)
        zkv_harness_signal (self, member->name, SIGKILL);
    return -1;
}

int
zkv_harness_start (zkv_harness_t *self, const char *name, char *error, size_t error_size)
{
    for (size_t i = 0; i < self->count; i++) {
        s_member_t *member = &self->members [i];
        if (name && !streq (member->name, name))
            continue;
        if (s_start_member (self, member, error, error_size))
            return -1;
        if (name)
            return 0;
    }
    if (name) {
        snprintf (error, error_size, "no member named %s", name);
        return -1;
    }
    return 0;
}

int
zkv_harness_signal (zkv_harness_t *self, const char *name, int signal)
{
    s_member_t *member = s_member (self, name);
    if (!member || !member->pid)
        return -1;
    if (kill (member->pid, signal))
        return -1;
    if (signal == SIGSTOP || signal == SIGCONT)
        return 0;
    //  Wait for it to end
    int64_t deadline = zclock_mono () + 30000;
    while (zclock_mono () < deadline) {
        int status;
        if (self->attached) {
            if (waitpid (member->pid, &status, 0) == member->pid) {
                member->status = status;
                break;
            }
            if (errno == ECHILD)
                break;
        }
        else
        if (!s_detached_alive (member))
            break;
        zclock_sleep (10);
    }
    member->pid = 0;
    return self->attached? 0: zkv_harness_save (self);
}

bool
zkv_harness_running (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    if (!member || !member->pid)
        return false;
    if (self->attached) {
        int status;
        if (waitpid (member->pid, &status, WNOHANG) == member->pid) {
            member->pid = 0;
            member->status = status;
            return false;
        }
        return true;
    }
    return s_detached_alive (member);
}

//  ---------------------------------------------------------------------
//  Talking to members

zkv_client_t *
zkv_harness_client (zkv_harness_t *self, const char *endpoints, int timeout)
{
    zkv_client_t *client = zkv_client_new (endpoints? endpoints: self->endpoints, timeout);
    if (client && self->curve)
        zkv_client_set_curve (client, self->curve);
    return client;
}

//  Calls a member; returns the reply (caller destroys) or NULL
static zkv_msg_t *
s_call (zkv_harness_t *self, s_member_t *member, const zkv_desc_t *desc, const void *request,
        int timeout)
{
    zkv_client_t *client = zkv_harness_client (self, member->client, timeout);
    if (!client)
        return NULL;
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, desc, request, &status);
    zkv_client_destroy (&client);
    return reply;
}

//  True if the member table of leader holds the client and events
//  endpoints of every running member (clients that address the whole
//  cluster need them)
static bool
s_published (zkv_harness_t *self, s_member_t *leader)
{
    zkv_member_list_t request = { .linearizable = false };
    zkv_msg_t *reply = s_call (self, leader, &zkv_member_list_desc, &request, 300);
    if (!reply || zkv_reply_error (reply)) {
        zkv_msg_destroy (&reply);
        return false;
    }
    const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
    bool all = true;
    for (size_t i = 0; i < self->count && all; i++) {
        if (!zkv_harness_running (self, self->members [i].name))
            continue;
        //  Its events endpoint, as it says (the harness gives each member
        //  the same one at every start; one of its own, which changes,
        //  when the cluster file names none)
        zkv_status_t request = { false };
        zkv_msg_t *status = s_call (self, &self->members [i], &zkv_status_desc, &request, 300);
        bool found = false;
        if (status && !zkv_reply_error (status)) {
            zkv_bin_t events = ((zkv_status_response_t *) status->body)->events_endpoint;
            for (size_t m = 0; m < list->members.count && !found; m++) {
                const zkv_cluster_member_t *member = &list->members.items [m];
                found = zkv_bin_eq (member->client_endpoint, self->members [i].client)
                     && member->events_endpoint.size == events.size
                     && (events.size == 0
                         || memcmp (member->events_endpoint.data, events.data, events.size) == 0);
            }
        }
        zkv_msg_destroy (&status);
        all = found;
    }
    zkv_msg_destroy (&reply);
    return all;
}

int
zkv_harness_wait_leader (zkv_harness_t *self, int timeout, char *leader, size_t size)
{
    int64_t deadline = zclock_mono () + timeout;
    while (zclock_mono () < deadline) {
        uint64_t agreed = 0;
        bool all = true, any = false;
        for (size_t i = 0; i < self->count && all; i++) {
            s_member_t *member = &self->members [i];
            if (!zkv_harness_running (self, member->name))
                continue;
            zkv_status_t request = { 0 };
            zkv_msg_t *reply = s_call (self, member, &zkv_status_desc, &request, 300);
            if (!reply || zkv_reply_error (reply)) {
                zkv_msg_destroy (&reply);
                continue;               //  paused or slow: not counted
            }
            uint64_t seen = ((zkv_status_response_t *) reply->body)->leader;
            zkv_msg_destroy (&reply);
            if (!seen || (agreed && seen != agreed))
                all = false;
            agreed = seen;
            any = true;
        }
        if (any && all && agreed) {
            char id [32];
            snprintf (id, sizeof id, "%016llx", (unsigned long long) agreed);
            for (size_t i = 0; i < self->count; i++)
                if (streq (self->members [i].id, id)
                &&  zkv_harness_running (self, self->members [i].name)
                &&  s_published (self, &self->members [i])) {
                    snprintf (leader, size, "%s", self->members [i].name);
                    return 0;
                }
        }
        zclock_sleep (50);
    }
    return -1;
}

//  Sends a fault request to a running member
static int
s_fault (zkv_harness_t *self, s_member_t *member, const char *drop_to, const char *drop_from,
         bool heal, int64_t delay_ms, char *error, size_t error_size)
{
    if (!zkv_harness_running (self, member->name))
        return 0;                       //  a stopped member drops everything anyway
    zkv_fault_t request = {
        .drop_to = zkv_bin (drop_to, strlen (drop_to)),
        .drop_from = zkv_bin (drop_from, strlen (drop_from)),
        .heal = heal, .delay_ms = delay_ms
    };
    zkv_msg_t *reply = s_call (self, member, &zkv_fault_desc, &request, 2000);
    int rc = 0;
    if (!reply || zkv_reply_error (reply)) {
        snprintf (error, error_size, "%s did not take the fault request", member->name);
        rc = -1;
    }
    zkv_msg_destroy (&reply);
    return rc;
}

int
zkv_harness_partition (zkv_harness_t *self, const char *groups, bool oneway,
                       char *error, size_t error_size)
{
    //  Which group each member is in (by index), 0 = not named
    int group_of [MAX_MEMBERS] = { 0 };
    char *text = strdup (groups);
    int group = 0;
    char *saved_group = NULL;
    for (char *part = strtok_r (text, "|", &saved_group); part;
         part = strtok_r (NULL, "|", &saved_group)) {
        group++;
        char *saved = NULL;
        for (char *name = strtok_r (part, ", ", &saved); name; name = strtok_r (NULL, ", ", &saved)) {
            s_member_t *member = s_member (self, name);
            if (!member) {
                snprintf (error, error_size, "no member is named %s", name);
                free (text);
                return ZKV_HARNESS_BAD_GROUPS;
            }
            group_of [member - self->members] = group;
        }
    }
    free (text);
    if (group < 2) {
        snprintf (error, error_size, "a partition needs two groups, as A,B|C");
        return ZKV_HARNESS_BAD_GROUPS;
    }
    //  Members left out form a group of their own
    for (size_t i = 0; i < self->count; i++)
        if (!group_of [i])
            group_of [i] = group + 1;
    for (size_t i = 0; i < self->count; i++) {
        char drop_to [MAX_MEMBERS * 20] = "", drop_from [MAX_MEMBERS * 20] = "";
        for (size_t j = 0; j < self->count; j++) {
            if (group_of [j] == group_of [i])
                continue;
            bool cut_to = !oneway || group_of [i] == 1;
            bool cut_from = !oneway || group_of [j] == 1;
            if (cut_to) {
                strcat (drop_to, self->members [j].id);
                strcat (drop_to, ",");
            }
            if (cut_from) {
                strcat (drop_from, self->members [j].id);
                strcat (drop_from, ",");
            }
        }
        if (s_fault (self, &self->members [i], drop_to, drop_from, true, 0, error, error_size))
            return -1;
    }
    return 0;
}

int
zkv_harness_heal (zkv_harness_t *self, char *error, size_t error_size)
{
    for (size_t i = 0; i < self->count; i++)
        if (s_fault (self, &self->members [i], "", "", true, 0, error, error_size))
            return -1;
    return 0;
}

int
zkv_harness_delay (zkv_harness_t *self, int msecs, char *error, size_t error_size)
{
    for (size_t i = 0; i < self->count; i++)
        if (s_fault (self, &self->members [i], "", "", false, msecs > 0? msecs: -1,
                     error, error_size))
            return -1;
    return 0;
}

//  ---------------------------------------------------------------------
//  Inspection

size_t
zkv_harness_size (zkv_harness_t *self)
{
    return self->count;
}

const char *
zkv_harness_name (zkv_harness_t *self, size_t index)
{
    return index < self->count? self->members [index].name: NULL;
}

const char *
zkv_harness_endpoint (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    return member? member->client: NULL;
}

const char *
zkv_harness_metrics (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    return member? member->metrics: NULL;
}

const char *
zkv_harness_peer (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    return member? member->peer: NULL;
}

const char *
zkv_harness_id (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    return member? member->id: NULL;
}

int
zkv_harness_exit_status (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    if (!member || zkv_harness_running (self, name))
        return -1;
    return member->status;
}

pid_t
zkv_harness_pid (zkv_harness_t *self, const char *name)
{
    s_member_t *member = s_member (self, name);
    return member? member->pid: 0;
}

const char *
zkv_harness_endpoints (zkv_harness_t *self)
{
    return self->endpoints;
}

const char *
zkv_harness_file (zkv_harness_t *self)
{
    return self->file;
}

const char *
zkv_harness_certs (zkv_harness_t *self)
{
    return *self->certs? self->certs: NULL;
}

const char *
zkv_harness_peer_cert (zkv_harness_t *self)
{
    if (*self->certs)
        return self->cluster_cert;
    return *self->peer_cert? self->peer_cert: NULL;
}

const zkv_curve_t *
zkv_harness_curve (zkv_harness_t *self)
{
    return self->curve;
}

//  ---------------------------------------------------------------------
//  Membership

//  Removes a directory and everything in it
static int
s_remove_entry (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    return remove (path);
}

static int
s_remove_tree (const char *dir)
{
    return nftw (dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

//  A name a member may have: letters, digits, '-' and '_', and not taken
static bool
s_name_valid (zkv_harness_t *self, const char *name, char *error, size_t error_size)
{
    size_t length = strlen (name);
    if (length == 0 || length >= sizeof self->members [0].name
    ||  strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        != length) {
        snprintf (error, error_size, "a member name is 1 to %zu letters, digits, - or _: %s",
                  sizeof self->members [0].name - 1, name);
        return false;
    }
    if (s_member (self, name)) {
        snprintf (error, error_size, "a member named %s exists already", name);
        return false;
    }
    return true;
}

const char *
zkv_harness_prepare (zkv_harness_t *self, const char *name, char *error, size_t error_size)
{
    if (!s_name_valid (self, name, error, error_size))
        return NULL;
    if (self->count >= MAX_MEMBERS) {
        snprintf (error, error_size, "the harness runs at most %d members", MAX_MEMBERS);
        return NULL;
    }
    //  Made apart, then copied in (snprintf's sources may not overlap self)
    s_member_t made;
    s_member_t *member = &made;
    memset (member, 0, sizeof *member);
    snprintf (member->name, sizeof member->name, "%s", name);
    snprintf (member->data, sizeof member->data, "%s/%s", self->dir, name);
    snprintf (member->log, sizeof member->log, "%s/%s.log", self->dir, name);
    snprintf (member->out, sizeof member->out, "%s/%s.out", self->dir, name);
    struct stat info;
    if (stat (member->data, &info) == 0) {
        snprintf (error, error_size, "%s exists already (the data of another member?)",
                  member->data);
        return NULL;
    }
    member->status = -1;
    if (s_listen_all (member, 0)) {
        snprintf (error, error_size, "cannot find free loopback ports");
        return NULL;
    }
    //  Joins with itself alone until told the cluster (zkv_harness_join)
    snprintf (member->join, sizeof member->join, "%.23s=%.63s", member->name, member->peer);
    self->members [self->count++] = made;
    s_update_endpoints (self);
    if (zkv_harness_save (self)) {
        snprintf (error, error_size, "cannot write %s", self->file);
        return NULL;
    }
    return self->members [self->count - 1].peer;
}

int
zkv_harness_join (zkv_harness_t *self, const char *name, const char *initial_cluster,
                  char *error, size_t error_size)
{
    s_member_t *member = s_member (self, name);
    if (!member || !*member->join) {
        snprintf (error, error_size, "no member named %s was prepared to join", name);
        return -1;
    }
    if (strlen (initial_cluster) >= sizeof member->join) {
        snprintf (error, error_size, "--initial-cluster too long");
        return -1;
    }
    snprintf (member->join, sizeof member->join, "%s", initial_cluster);
    return s_start_member (self, member, error, error_size);
}

int
zkv_harness_forget (zkv_harness_t *self, const char *name, int timeout,
                    char *error, size_t error_size)
{
    s_member_t *member = s_member (self, name);
    if (!member) {
        snprintf (error, error_size, "no member named %s", name);
        return -1;
    }
    int rc = 0;
    int64_t deadline = zclock_mono () + timeout;
    while (zkv_harness_running (self, name) && zclock_mono () < deadline)
        zclock_sleep (20);
    if (zkv_harness_running (self, name)) {
        snprintf (error, error_size, "%s still runs %d ms after its removal: killed", name,
                  timeout);
        zkv_harness_signal (self, name, SIGKILL);
        rc = -1;
    }
    if (*member->data)
        s_remove_tree (member->data);
    s_close_sockets (member);
    size_t at = (size_t) (member - self->members);
    memmove (member, member + 1, (self->count - at - 1) * sizeof (s_member_t));
    self->count--;
    s_update_endpoints (self);
    if (zkv_harness_save (self) && rc == 0) {
        snprintf (error, error_size, "cannot write %s", self->file);
        rc = -1;
    }
    return rc;
}

//  True if a refusal did nothing and the change may go again to the
//  leader (found anew)
static bool
s_refused_for_now (const zkv_error_t *refusal)
{
    static const zkv_err_t again [] = {
        ZKV_ERR_NOT_LEADER, ZKV_ERR_NO_LEADER, ZKV_ERR_LEADER_CHANGED,
        ZKV_ERR_PROPOSAL_DROPPED, ZKV_ERR_CONF_PENDING
    };
    for (size_t i = 0; i < sizeof again / sizeof again [0]; i++) {
        const char *text = zkv_err_message (again [i]);
        size_t length = strlen (text);
        if (refusal->message.size >= length
        &&  memcmp (refusal->message.data, text, length) == 0)
            return true;
    }
    return false;
}

//  True if the reply is the refusal err
static bool
s_refused_with (const zkv_msg_t *reply, zkv_err_t err)
{
    const zkv_error_t *refusal = zkv_reply_error (reply);
    return refusal && zkv_bin_eq (refusal->message, zkv_err_message (err));
}

//  Sends a membership change to the leader, again while it is refused
//  for now, for up to timeout msecs. Returns the reply (an error too), or
//  NULL with a message.
static zkv_msg_t *
s_change (zkv_harness_t *self, const zkv_desc_t *desc, const void *request, int timeout,
          char *error, size_t error_size)
{
    int64_t deadline = zclock_mono () + timeout;
    snprintf (error, error_size, "no leader");
    while (zclock_mono () < deadline) {
        char leader [32];
        int left = (int) (deadline - zclock_mono ());
        if (zkv_harness_wait_leader (self, left, leader, sizeof leader))
            break;
        left = (int) (deadline - zclock_mono ());
        zkv_msg_t *reply = s_call (self, s_member (self, leader), desc, request,
                                   left < 5000? (left > 0? left: 1): 5000);
        if (!reply) {
            //  Its outcome is unknown: not sent again
            snprintf (error, error_size, "no answer from the leader %s", leader);
            return NULL;
        }
        const zkv_error_t *refusal = zkv_reply_error (reply);
        if (!refusal || !s_refused_for_now (refusal))
            return reply;
        snprintf (error, error_size, "%.*s", (int) refusal->message.size,
                  (const char *) refusal->message.data);
        zkv_msg_destroy (&reply);
        zclock_sleep (50);
    }
    return NULL;
}

//  The change's reply when it succeeded, else NULL with a message
static zkv_msg_t *
s_change_done (zkv_harness_t *self, const zkv_desc_t *desc, const void *request, int timeout,
               char *error, size_t error_size)
{
    zkv_msg_t *reply = s_change (self, desc, request, timeout, error, error_size);
    const zkv_error_t *refusal = reply? zkv_reply_error (reply): NULL;
    if (refusal) {
        snprintf (error, error_size, "%.*s", (int) refusal->message.size,
                  (const char *) refusal->message.data);
        zkv_msg_destroy (&reply);
    }
    return reply;
}

//  The initial cluster a member that was just added joins with: every
//  member with a name, and itself (etcd's ETCD_INITIAL_CLUSTER)
static void
s_initial_cluster (const zkv_cluster_member_list_t *members, uint64_t id, const char *name,
                   char *initial, size_t size)
{
    *initial = 0;
    for (size_t i = 0; i < members->count; i++) {
        const zkv_cluster_member_t *member = &members->items [i];
        bool added = member->member_id == id;
        if (!added && member->name.size == 0)
            continue;
        size_t length = strlen (initial);
        snprintf (initial + length, size - length, "%s%.*s=%.*s", length? ",": "",
                  added? (int) strlen (name): (int) member->name.size,
                  added? name: (const char *) member->name.data,
                  (int) member->peer_endpoint.size, (const char *) member->peer_endpoint.data);
    }
}

//  Adds a prepared member (as a learner unless voter) and starts it to
//  join; its id into id (hex)
static int
s_add (zkv_harness_t *self, const char *name, bool voter, bool auto_promote, int timeout,
       char *id, char *error, size_t error_size)
{
    s_member_t *member = s_member (self, name);
    zkv_member_add_t request = {
        .peer_endpoint = zkv_bin (member->peer, strlen (member->peer)),
        .is_learner = !voter, .auto_promote = auto_promote && !voter
    };
    zkv_msg_t *reply = s_change_done (self, &zkv_member_add_desc, &request, timeout,
                                      error, error_size);
    if (!reply)
        return -1;
    const zkv_member_add_response_t *response = (const zkv_member_add_response_t *) reply->body;
    uint64_t added = response->member? response->member->member_id: 0;
    snprintf (id, 32, "%016llx", (unsigned long long) added);
    char initial [sizeof member->join];
    s_initial_cluster (&response->members, added, name, initial, sizeof initial);
    zkv_msg_destroy (&reply);
    return zkv_harness_join (self, name, initial, error, error_size);
}

//  True once the leader's member table has member id as a voter
static bool
s_voter (zkv_harness_t *self, uint64_t id)
{
    char leader [32];
    if (zkv_harness_wait_leader (self, 1000, leader, sizeof leader))
        return false;
    zkv_member_list_t request = { .linearizable = false };
    zkv_msg_t *reply = s_call (self, s_member (self, leader), &zkv_member_list_desc, &request,
                               1000);
    bool voter = false;
    if (reply && !zkv_reply_error (reply)) {
        const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
        for (size_t i = 0; i < list->members.count; i++)
            if (list->members.items [i].member_id == id)
                voter = !list->members.items [i].is_learner;
    }
    zkv_msg_destroy (&reply);
    return voter;
}

int
zkv_harness_add (zkv_harness_t *self, const char *name, bool voter, bool auto_promote,
                 int timeout, char *error, size_t error_size)
{
    int64_t deadline = zclock_mono () + timeout;
    if (!zkv_harness_prepare (self, name, error, error_size))
        return -1;
    char id [32];
    if (s_add (self, name, voter, auto_promote, timeout, id, error, error_size) == 0) {
        //  Promoted by the leader once in sync: wait for it
        while (auto_promote && !voter && !s_voter (self, strtoull (id, NULL, 16))) {
            if (zclock_mono () >= deadline) {
                snprintf (error, error_size, "%s joined, and the leader has not promoted it "
                          "yet", name);
                return -1;
            }
            zclock_sleep (50);
        }
        return 0;
    }
    //  Never added, or added and never started: it goes (the cluster
    //  keeps an unstarted member in the second case, as etcd would)
    char why [1024];
    zkv_harness_forget (self, name, 0, why, sizeof why);
    return -1;
}

int
zkv_harness_remove (zkv_harness_t *self, const char *name, int timeout,
                    char *error, size_t error_size)
{
    s_member_t *member = s_member (self, name);
    if (!member || !*member->id) {
        snprintf (error, error_size, "no member named %s", name);
        return -1;
    }
    zkv_member_remove_t request = { strtoull (member->id, NULL, 16) };
    zkv_msg_t *reply = s_change_done (self, &zkv_member_remove_desc, &request, timeout,
                                      error, error_size);
    if (!reply)
        return -1;
    zkv_msg_destroy (&reply);
    //  It stops by itself once it knows
    return zkv_harness_forget (self, name, timeout, error, error_size);
}

//  Promotes member id (replacing replaces, 0: none), asking again while
//  it is not in sync yet
static int
s_promote (zkv_harness_t *self, uint64_t id, uint64_t replaces, int timeout,
           char *error, size_t error_size)
{
    zkv_member_promote_t request = { id, replaces };
    int64_t deadline = zclock_mono () + timeout;
    while (true) {
        int left = (int) (deadline - zclock_mono ());
        zkv_msg_t *reply = s_change (self, &zkv_member_promote_desc, &request,
                                     left > 0? left: 1, error, error_size);
        if (!reply)
            return -1;
        bool waiting = s_refused_with (reply, ZKV_ERR_LEARNER_NOT_READY);
        const zkv_error_t *refusal = zkv_reply_error (reply);
        if (refusal)
            snprintf (error, error_size, "%.*s", (int) refusal->message.size,
                      (const char *) refusal->message.data);
        zkv_msg_destroy (&reply);
        if (!refusal)
            return 0;
        if (!waiting || zclock_mono () + 200 >= deadline)
            return -1;
        zclock_sleep (200);
    }
}

int
zkv_harness_promote (zkv_harness_t *self, const char *name, int timeout,
                     char *error, size_t error_size)
{
    s_member_t *member = s_member (self, name);
    if (!member || !*member->id) {
        snprintf (error, error_size, "no member named %s", name);
        return -1;
    }
    return s_promote (self, strtoull (member->id, NULL, 16), 0, timeout, error, error_size);
}

int
zkv_harness_replace (zkv_harness_t *self, const char *old, const char *name, int timeout,
                     char *error, size_t error_size)
{
    s_member_t *member = s_member (self, old);
    if (!member || !*member->id) {
        snprintf (error, error_size, "no member named %s", old);
        return -1;
    }
    uint64_t replaced = strtoull (member->id, NULL, 16);
    int64_t deadline = zclock_mono () + timeout;
    if (zkv_harness_add (self, name, false, false, timeout, error, error_size))
        return -1;
    uint64_t id = strtoull (s_member (self, name)->id, NULL, 16);
    int left = (int) (deadline - zclock_mono ());
    if (s_promote (self, id, replaced, left > 0? left: 1, error, error_size))
        return -1;
    left = (int) (deadline - zclock_mono ());
    return zkv_harness_forget (self, old, left > 1000? left: 1000, error, error_size);
}
