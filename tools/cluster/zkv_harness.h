/*  =========================================================================
    zkv_harness.h — a local cluster of real zkv-node processes: the code
    behind the zkv-cluster program and the C API the tests use.

    A cluster lives in a directory: one data directory and one log per
    member (n1, n2, ...), and the cluster file `cluster.zpl` (ZPL, read by
    zkvctl --cluster-file) with every member's name, id, client, peer and
    events endpoints and process id, and the members' extra flags. The file
    follows the membership: a member added joins it, a member removed
    leaves it (and its data goes). Members listen on loopback ports the
    harness picks, the same at every start (client, peer and events: a
    subscriber to a member's events finds it again after a restart): a
    test harness keeps the listening sockets open for its whole life and
    hands them to each member it starts (--listen-*-fd), so that no
    parallel test can ever take a member's port, not even between a kill
    and a restart. The zkv-cluster program hands them over at `up` and lets
    members bind the same ports again when it restarts them later.

    Members run with --enable-fault-injection: partitions are made by
    asking members to drop peer traffic (both ways, or one way).

    Every cluster's peers authenticate each other: a cluster that is not
    secure gets a fresh peer certificate, dir/certs/peer.cert (with its
    _secret file), that every member is started with (--peer-cert: CURVE
    on the peer socket alone, clients plain); the cluster file names it
    (`peer-cert`), so that later starts keep it. Only a cluster made with
    config->insecure_peers has none (its peer ports authenticate nobody:
    for the tests of what that allows).

    A secure cluster (config->secure) gets fresh certificates in
    dir/certs: cluster.cert (every member's --cert: the members share
    it), client.cert (an ordinary client), admin.cert (the admin), each
    with its _secret file, and the directories of public certificates the
    members allow: clients/ (client and admin), peers/ (cluster), admins/
    (admin). The cluster file names the admin's certificate (`cert`) and
    the cluster's (`server-cert`), which zkvctl --cluster-file uses, and
    the harness itself talks to members as the admin (fault injection is
    an admin request).
    =========================================================================
*/
#ifndef ZKV_HARNESS_H_INCLUDED
#define ZKV_HARNESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "zkv_client.h"

typedef struct zkv_harness_s zkv_harness_t;

typedef struct {
    size_t members;                     //  how many (1 .. 16)
    const char *dir;                    //  where everything goes (created)
    const char *node;                   //  path of zkv-node
    const char *const *flags;           //  more flags for every member (or NULL)
    int first_port;                     //  0: free ports; else member i serves
                                        //  clients on first_port + 10000 i,
                                        //  peers on the port after (etcd's habit)
                                        //  and events on the next
    bool attached;                      //  members die with this process, and
                                        //  keep their sockets across restarts
    bool secure;                        //  CURVE, with fresh certificates
    bool insecure_peers;                //  no peer certificate (not with secure)
} zkv_harness_config_t;

//  Prepares a new cluster in config->dir (ports, names, cluster file). No
//  member runs yet. NULL with a message in error on failure.
zkv_harness_t *
    zkv_harness_new (const zkv_harness_config_t *config, char *error, size_t error_size);

//  Opens the cluster described by dir/cluster.zpl (as zkv-cluster does for
//  every command after `up`)
zkv_harness_t *
    zkv_harness_open (const char *dir, const char *node, char *error, size_t error_size);

//  Stops every member still running (attached ones), and frees
void
    zkv_harness_destroy (zkv_harness_t **self_p);

size_t
    zkv_harness_size (zkv_harness_t *self);

//  Name of the i-th member ("n1", ...)
const char *
    zkv_harness_name (zkv_harness_t *self, size_t index);

//  Starts a member (name NULL: all) and waits until it serves. Returns 0,
//  or -1 with a message (and the member's log) in error.
int
    zkv_harness_start (zkv_harness_t *self, const char *name, char *error, size_t error_size);

//  Sends signal to a member and waits for it to end (SIGTERM, SIGKILL)
//  or to stop (SIGSTOP); SIGCONT resumes it. Returns 0 or -1.
int
    zkv_harness_signal (zkv_harness_t *self, const char *name, int signal);

//  True while a member's process runs (paused counts as running)
bool
    zkv_harness_running (zkv_harness_t *self, const char *name);

//  How a member's last process ended, as waitpid tells it (attached
//  members only); -1 while it runs or when none has ended
int
    zkv_harness_exit_status (zkv_harness_t *self, const char *name);

//  Waits up to timeout msecs for a leader that the running members agree
//  on, whose member table holds every running member's client and events
//  endpoints (so that `--cluster` finds them all); copies its name into leader.
//  Returns 0 or -1.
int
    zkv_harness_wait_leader (zkv_harness_t *self, int timeout, char *leader, size_t size);

//  Partitions the cluster: groups "n1,n2|n3" (every member in a group);
//  with oneway, only traffic from the first group to the others is cut.
//  Returns 0, -1 with a message, or ZKV_HARNESS_BAD_GROUPS with a message
//  when a name in groups is no member's or there are fewer than two groups
//  (nothing done then).
#define ZKV_HARNESS_BAD_GROUPS  -2
int
    zkv_harness_partition (zkv_harness_t *self, const char *groups, bool oneway,
                           char *error, size_t error_size);

//  Restores every link
int
    zkv_harness_heal (zkv_harness_t *self, char *error, size_t error_size);

//  Every running member holds each raft frame it sends msecs before it
//  goes (0: no more), as if the members were on hosts that far apart
int
    zkv_harness_delay (zkv_harness_t *self, int msecs, char *error, size_t error_size);

//  A member's client endpoint, its id (hex), its pid (0 if not running)
const char *
    zkv_harness_endpoint (zkv_harness_t *self, const char *name);
const char *
    zkv_harness_id (zkv_harness_t *self, const char *name);
pid_t
    zkv_harness_pid (zkv_harness_t *self, const char *name);

//  Where a member serves /metrics and /health (http://127.0.0.1:PORT; the
//  same at every start)
const char *
    zkv_harness_metrics (zkv_harness_t *self, const char *name);

//  A member's peer endpoint
const char *
    zkv_harness_peer (zkv_harness_t *self, const char *name);

//  Every client endpoint, comma separated (owned by the harness)
const char *
    zkv_harness_endpoints (zkv_harness_t *self);

//  Path of the cluster file
const char *
    zkv_harness_file (zkv_harness_t *self);

//  The directory of a secure cluster's certificates, or NULL
const char *
    zkv_harness_certs (zkv_harness_t *self);

//  The certificate the members' peer sockets present (certs/peer.cert, or
//  a secure cluster's certs/cluster.cert), or NULL when they talk plain
const char *
    zkv_harness_peer_cert (zkv_harness_t *self);

//  The credentials the harness talks to members with (the admin's), or
//  NULL for a cluster that is not secure
const zkv_curve_t *
    zkv_harness_curve (zkv_harness_t *self);

//  A client of endpoints (NULL: every member) with those credentials
zkv_client_t *
    zkv_harness_client (zkv_harness_t *self, const char *endpoints, int timeout);

//  Writes the cluster file again (after starts and stops)
int
    zkv_harness_save (zkv_harness_t *self);

//  ---------------------------------------------------------------------
//  Membership: changes through the Cluster service, sent to the leader
//  (found with zkv_harness_wait_leader, again when it refuses for now),
//  and the processes and cluster file that follow them. A member added
//  later is started with --initial-cluster-state existing and the
//  initial cluster its member add told (the file keeps it as `join`).
//  timeout: msecs for the whole change.

//  Adds a member named name on free loopback ports (a learner unless
//  voter; auto_promote: the leader promotes it once in sync), then starts
//  it and waits until it serves (with auto_promote, until the leader
//  promoted it). Returns 0, or -1 with a message.
int
    zkv_harness_add (zkv_harness_t *self, const char *name, bool voter, bool auto_promote,
                     int timeout, char *error, size_t error_size);

//  Removes a member from the cluster, then waits for it to stop by itself
//  and forgets it (zkv_harness_forget)
int
    zkv_harness_remove (zkv_harness_t *self, const char *name, int timeout,
                        char *error, size_t error_size);

//  Promotes a learner, asking again while it is not in sync yet
int
    zkv_harness_promote (zkv_harness_t *self, const char *name, int timeout,
                         char *error, size_t error_size);

//  Replaces member old by a new member named name in one change: adds
//  name as a learner and starts it, promotes it replacing old once it is
//  in sync, then forgets old once it stopped by itself
int
    zkv_harness_replace (zkv_harness_t *self, const char *old, const char *name,
                         int timeout, char *error, size_t error_size);

//  The steps of those, for a test that makes the change itself (zkvctl):
//  a member to be, named name, on free loopback ports, in the harness and
//  the cluster file but not in the cluster yet. Returns its peer endpoint
//  (the harness's), or NULL with a message.
const char *
    zkv_harness_prepare (zkv_harness_t *self, const char *name, char *error,
                         size_t error_size);

//  Starts a prepared member to join the cluster with initial_cluster
//  ("n1=tcp://...,n4=tcp://...", what `zkvctl member add` printed), and
//  waits until it serves. Returns 0, or -1 with a message.
int
    zkv_harness_join (zkv_harness_t *self, const char *name, const char *initial_cluster,
                      char *error, size_t error_size);

//  Forgets a member that left the cluster: waits up to timeout msecs for
//  its process to end by itself (then kills it, and fails), and drops it
//  from the harness and the cluster file, its data directory with it (a
//  removed member's data never serves again). Returns 0, or -1 with a
//  message.
int
    zkv_harness_forget (zkv_harness_t *self, const char *name, int timeout,
                        char *error, size_t error_size);

#endif
