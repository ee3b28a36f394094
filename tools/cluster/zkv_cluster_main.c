/*  =========================================================================
    zkv_cluster_main.c — zkv-cluster: run a local cluster of real zkv-node
    processes, and break it on purpose.

    zkv-cluster up -n N --dir D [--ports P] [--node PATH] [--secure | --insecure-peers]
                   [-- member flags...]
    zkv-cluster down | status | wait-leader [--timeout MSECS] --dir D
    zkv-cluster kill | stop | start | restart | pause | resume NAME --dir D
    zkv-cluster partition "A,B|C" [--oneway] --dir D
    zkv-cluster isolate NAME [--oneway] --dir D
    zkv-cluster heal --dir D
    zkv-cluster delay MSECS --dir D
    zkv-cluster add NAME [--voter] [--auto-promote] --dir D
    zkv-cluster remove NAME | promote NAME --dir D
    zkv-cluster replace NAME [--name NEW] --dir D

    Members keep running after `up` returns; D/cluster.zpl describes them
    (zkvctl --cluster-file D/cluster.zpl reaches them), D/nX.log holds
    their logs. The members' peers authenticate each other: CURVE on the
    peer sockets with a fresh peer certificate, D/certs/peer.cert, that
    the cluster file names (clients stay plain); --insecure-peers turns
    that off on purpose (the peer ports then authenticate nobody: a trusted
    network only). With --secure the members talk CURVE on every socket,
    with fresh certificates in D/certs (see zkv_harness.h); the cluster
    file names them, and every later command talks to the members as the
    admin.
    Membership changes go through the Cluster service, to the leader: add
    makes a learner (a voter with --voter) on free ports and starts it to
    join (--initial-cluster-state existing); remove waits for the removed
    member to stop by itself, and forgets it (its data goes); replace adds
    NEW (by default the next free nK), starts it, and once it is in sync
    promotes it and removes NAME in one joint change. The cluster file
    follows.
    Exit codes: 0, 1 when an action failed, 128 for bad usage (an unknown
    flag or command, a member name the cluster file does not hold, a
    partition of fewer than two groups). Starting a member that runs
    already does nothing, says so, and exits 0.
    =========================================================================
*/
#include <czmq.h>
#include <libgen.h>
#include <signal.h>
#include <unistd.h>

#include "zkv_client.h"
#include "zkv_harness.h"

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zkv-cluster COMMAND [ARG] --dir D [flags]\n"
        "  up -n N [--ports P] [--node PATH] [--secure | --insecure-peers] [-- member flags]\n"
        "                                            start a cluster of N members (free\n"
        "                                            ports, or clients on P, P+10000, ...\n"
        "                                            and peers, events and metrics on the\n"
        "                                            three ports after each);\n"
        "                                            peers talk CURVE with a fresh\n"
        "                                            D/certs/peer.cert, clients plain;\n"
        "                                            --secure: CURVE everywhere, fresh certs\n"
        "                                            in D/certs; --insecure-peers: no peer\n"
        "                                            authentication (a trusted network only)\n"
        "  down                                      stop every member (SIGTERM)\n"
        "  status                                    members, roles, terms, indexes\n"
        "  wait-leader [--timeout MSECS]             wait until the members agree on a leader\n"
        "  kill NAME | stop NAME                     SIGKILL | SIGTERM one member\n"
        "  start [NAME] | restart NAME               start it (every member without NAME;\n"
        "                                            one that runs already: exit 0, said)\n"
        "  pause NAME | resume NAME                  SIGSTOP | SIGCONT\n"
        "  partition \"A,B|C\" [--oneway]              cut the links between groups\n"
        "  isolate NAME [--oneway]                   cut a member from the others\n"
        "  heal                                      restore every link\n"
        "  delay MSECS                               hold every raft frame MSECS (0: no\n"
        "                                            more), as between hosts\n"
        "  add NAME [--voter] [--auto-promote]       add a learner (a voter) on free ports\n"
        "                                            and start it to join the cluster\n"
        "  remove NAME                               remove it; it stops by itself, and\n"
        "                                            leaves the cluster file with its data\n"
        "  promote NAME                              make a learner a voter once in sync\n"
        "  replace NAME [--name NEW]                 add NEW (next free nK), start it, then\n"
        "                                            promote it and remove NAME in one\n"
        "                                            joint change once it is in sync\n"
        "  (--timeout MSECS bounds wait-leader, 10 s, and the membership changes, 60 s)\n"
        "exit: 0; 1 when an action failed; 128 for bad usage (unknown flag or command,\n"
        "a NAME the cluster file does not hold, a partition of fewer than two groups)\n");
}

static int
s_fail (const char *format, const char *detail)
{
    fprintf (stderr, "Error: ");
    fprintf (stderr, format, detail);
    fprintf (stderr, "\n");
    return 1;
}

//  Bad usage: the message, exit 128
static int
s_bad_usage (const char *message)
{
    fprintf (stderr, "Error: %s\n", message);
    return 128;
}

//  True for the commands whose argument is the name of a member
static bool
s_names_member (const char *command)
{
    static const char *commands [] = {
        "kill", "stop", "start", "restart", "pause", "resume", "isolate", NULL
    };
    for (int i = 0; commands [i]; i++)
        if (streq (command, commands [i]))
            return true;
    return false;
}

//  The zkv-node next to this program
static void
s_default_node (char *path, size_t size)
{
    char self [1024];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf (path, size, "zkv-node");
        return;
    }
    self [n] = 0;
    snprintf (path, size, "%s/zkv-node", dirname (self));
}

static void
s_status (zkv_harness_t *harness)
{
    printf ("%-6s %-16s %-8s %-26s %-14s %-6s %-10s %-10s\n", "NAME", "ID", "PID", "CLIENT",
            "ROLE", "TERM", "INDEX", "APPLIED");
    for (size_t i = 0; i < zkv_harness_size (harness); i++) {
        const char *name = zkv_harness_name (harness, i);
        char role [32] = "stopped", term [24] = "", index [24] = "", applied [24] = "";
        if (zkv_harness_running (harness, name)) {
            snprintf (role, sizeof role, "unreachable");
            zkv_client_t *client = zkv_harness_client (harness, zkv_harness_endpoint (harness,
                                                                               name), 500);
            zkv_status_t request = { 0 };
            zkv_result_t result;
            zkv_msg_t *reply = client? zkv_client_call (client, &zkv_status_desc, &request,
                                                        &result): NULL;
            if (reply && !zkv_reply_error (reply)) {
                zkv_status_response_t *status = (zkv_status_response_t *) reply->body;
                zkv_bin_str (status->role, role, sizeof role);
                snprintf (term, sizeof term, "%llu", (unsigned long long) status->raft_term);
                snprintf (index, sizeof index, "%llu", (unsigned long long) status->raft_index);
                snprintf (applied, sizeof applied, "%llu",
                          (unsigned long long) status->raft_applied_index);
            }
            zkv_msg_destroy (&reply);
            zkv_client_destroy (&client);
        }
        printf ("%-6s %-16s %-8d %-26s %-14s %-6s %-10s %-10s\n", name,
                zkv_harness_id (harness, name), (int) zkv_harness_pid (harness, name),
                zkv_harness_endpoint (harness, name), role, term, index, applied);
    }
}

static bool
s_membership_command (const char *command)
{
    return streq (command, "add") || streq (command, "remove") || streq (command, "promote")
        || streq (command, "replace");
}

//  The first name nK no member has, nor data of one
static void
s_free_name (zkv_harness_t *harness, const char *dir, char *name, size_t size)
{
    for (int k = (int) zkv_harness_size (harness) + 1; ; k++) {
        snprintf (name, size, "n%d", k);
        char *data = zsys_sprintf ("%s/%s", dir, name);
        bool taken = zkv_harness_endpoint (harness, name) || access (data, F_OK) == 0;
        free (data);
        if (!taken)
            return;
    }
}

//  add, remove, promote, replace NAME: 0, 1 (failed) or 128 (bad usage)
static int
s_membership (zkv_harness_t *harness, const char *command, const char *name, bool voter,
              bool auto_promote, const char *new_name, int timeout)
{
    char error [4096], free_name [24];
    bool known = zkv_harness_endpoint (harness, name) != NULL;
    if (streq (command, "add")? known: !known) {
        fprintf (stderr, "Error: %s %s\n", known? "a member is named": "no member is named",
                 name);
        return 128;
    }
    if (streq (command, "replace") && !new_name) {
        //  (the file's directory: the cluster's)
        char *slash = strrchr (zkv_harness_file (harness), '/');
        char dir [1024];
        snprintf (dir, sizeof dir, "%.*s", (int) (slash - zkv_harness_file (harness)),
                  zkv_harness_file (harness));
        s_free_name (harness, dir, free_name, sizeof free_name);
        new_name = free_name;
    }
    char id [32];
    snprintf (id, sizeof id, "%s", known? zkv_harness_id (harness, name): "");
    int rc = 0;
    if (streq (command, "add")) {
        rc = zkv_harness_add (harness, name, voter, auto_promote, timeout, error, sizeof error);
        if (rc == 0)
            printf ("added %s (member %s) as a %s%s; it joined the cluster\n", name,
                    zkv_harness_id (harness, name), voter? "voter": "learner",
                    auto_promote? ", promoted by the leader once in sync": "");
    }
    else
    if (streq (command, "remove")) {
        rc = zkv_harness_remove (harness, name, timeout, error, sizeof error);
        if (rc == 0)
            printf ("removed %s (member %s); it stopped by itself\n", name, id);
    }
    else
    if (streq (command, "promote")) {
        rc = zkv_harness_promote (harness, name, timeout, error, sizeof error);
        if (rc == 0)
            printf ("promoted %s (member %s)\n", name, id);
    }
    else {
        rc = zkv_harness_replace (harness, name, new_name, timeout, error, sizeof error);
        if (rc == 0)
            printf ("replaced %s (member %s) by %s (member %s) in one change; %s stopped by "
                    "itself\n", name, id, new_name, zkv_harness_id (harness, new_name), name);
    }
    if (rc)
        return s_fail ("%s", error);
    //  Shown once every member follows the leader (a new one tells its
    //  role once it has the leader's snapshot)
    char leader [32];
    zkv_harness_wait_leader (harness, 5000, leader, sizeof leader);
    s_status (harness);
    return 0;
}

int
main (int argc, char *argv [])
{
    zsys_init ();
    zsys_set_logstream (stderr);
    //  Flags and words in any order; `--` starts the members' own flags
    const char *dir = NULL, *node = NULL;
    int members = 3, timeout = 10000, first_port = 0;
    bool oneway = false, secure = false, insecure_peers = false, timeout_given = false;
    bool voter = false, auto_promote = false;
    const char *new_name = NULL;
    const char *words [4] = { NULL };
    size_t word_count = 0;
    const char *const *member_flags = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        if (streq (argv [i], "--")) {
            member_flags = (const char *const *) &argv [i + 1];
            break;
        }
        else
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            s_usage (stdout);
            return 0;
        }
        else
        if (streq (argv [i], "--oneway"))
            oneway = true;
        else
        if (streq (argv [i], "--secure"))
            secure = true;
        else
        if (streq (argv [i], "--insecure-peers"))
            insecure_peers = true;
        else
        if (streq (argv [i], "--voter"))
            voter = true;
        else
        if (streq (argv [i], "--auto-promote"))
            auto_promote = true;
        else
        if (value && streq (argv [i], "--name"))
            new_name = argv [++i];
        else
        if (value && streq (argv [i], "--dir"))
            dir = argv [++i];
        else
        if (value && streq (argv [i], "--node"))
            node = argv [++i];
        else
        if (value && streq (argv [i], "--timeout")) {
            timeout = atoi (argv [++i]);
            timeout_given = true;
        }
        else
        if (value && streq (argv [i], "-n"))
            members = atoi (argv [++i]);
        else
        if (value && streq (argv [i], "--ports"))
            first_port = atoi (argv [++i]);
        else
        if (argv [i][0] == '-') {
            fprintf (stderr, "Error: unknown flag %s\n", argv [i]);
            return 128;
        }
        else
        if (word_count < 4)
            words [word_count++] = argv [i];
    }
    if (!word_count || !dir) {
        s_usage (stderr);
        return 128;
    }
    const char *command = words [0], *arg = word_count > 1? words [1]: NULL;
    char node_path [1024];
    if (node)
        snprintf (node_path, sizeof node_path, "%s", node);
    else
        s_default_node (node_path, sizeof node_path);
    char error [4096];

    if (streq (command, "up")) {
        if (secure && insecure_peers) {
            fprintf (stderr, "Error: --secure and --insecure-peers: a secure cluster's peers "
                             "always authenticate each other\n");
            return 128;
        }
        zkv_harness_config_t config = {
            .members = (size_t) members, .dir = dir, .node = node_path,
            .flags = member_flags, .first_port = first_port, .attached = false,
            .secure = secure, .insecure_peers = insecure_peers
        };
        zkv_harness_t *harness = zkv_harness_new (&config, error, sizeof error);
        if (!harness)
            return s_fail ("%s", error);
        if (zkv_harness_start (harness, NULL, error, sizeof error)) {
            //  Leave nothing running behind a failed `up`
            for (size_t i = 0; i < zkv_harness_size (harness); i++)
                zkv_harness_signal (harness, zkv_harness_name (harness, i), SIGKILL);
            zkv_harness_destroy (&harness);
            return s_fail ("%s", error);
        }
        char leader [32];
        int rc = zkv_harness_wait_leader (harness, timeout, leader, sizeof leader);
        s_status (harness);
        printf ("cluster file: %s\n", zkv_harness_file (harness));
        if (zkv_harness_certs (harness))
            printf ("certificates: %s (the cluster file names the admin's)\n",
                    zkv_harness_certs (harness));
        else
        if (zkv_harness_peer_cert (harness))
            printf ("peer certificate: %s (CURVE between the members; clients plain)\n",
                    zkv_harness_peer_cert (harness));
        else
            printf ("peers: NOT AUTHENTICATED (--insecure-peers): keep the peer ports on a "
                    "trusted network\n");
        printf ("try: zkvctl --cluster-file %s put foo bar\n", zkv_harness_file (harness));
        zkv_harness_destroy (&harness);
        return rc? s_fail ("%s", "no leader yet"): 0;
    }
    if (s_membership_command (command)) {
        if (!arg) {
            s_usage (stderr);
            return 128;
        }
        if (voter && auto_promote) {
            fprintf (stderr, "Error: --auto-promote is for a learner, not with --voter\n");
            return 128;
        }
        zkv_harness_t *harness = zkv_harness_open (dir, node, error, sizeof error);
        if (!harness)
            return s_fail ("%s", error);
        int rc = s_membership (harness, command, arg, voter, auto_promote, new_name,
                               timeout_given? timeout: 60000);
        zkv_harness_destroy (&harness);
        return rc;
    }
    zkv_harness_t *harness = zkv_harness_open (dir, node, error, sizeof error);
    if (!harness)
        return s_fail ("%s", error);
    int rc = 0;
    char leader [32];
    if (streq (command, "down")) {
        for (size_t i = 0; i < zkv_harness_size (harness); i++)
            zkv_harness_signal (harness, zkv_harness_name (harness, i), SIGTERM);
    }
    else
    if (streq (command, "status"))
        s_status (harness);
    else
    if (streq (command, "wait-leader")) {
        rc = zkv_harness_wait_leader (harness, timeout, leader, sizeof leader);
        if (rc == 0)
            printf ("%s\n", leader);
        else
            rc = s_fail ("%s", "no leader");
    }
    else
    if (streq (command, "heal")) {
        if (zkv_harness_heal (harness, error, sizeof error))
            rc = s_fail ("%s", error);
    }
    else
    if (streq (command, "delay") && arg) {
        char *end;
        long msecs = strtol (arg, &end, 10);
        if (*end || end == arg || msecs < 0 || msecs > 10000) {
            fprintf (stderr, "Error: delay takes 0 .. 10000 msecs\n");
            rc = 128;
        }
        else
        if (zkv_harness_delay (harness, (int) msecs, error, sizeof error))
            rc = s_fail ("%s", error);
    }
    else
    if (streq (command, "partition") && arg) {
        rc = zkv_harness_partition (harness, arg, oneway, error, sizeof error);
        if (rc)
            rc = rc == ZKV_HARNESS_BAD_GROUPS? s_bad_usage (error): s_fail ("%s", error);
    }
    else
    if (arg && s_names_member (command) && !zkv_harness_endpoint (harness, arg)) {
        char why [256];
        snprintf (why, sizeof why, "no member is named %s", arg);
        rc = s_bad_usage (why);
    }
    else
    if (streq (command, "isolate") && arg) {
        //  NAME | everyone else
        char groups [512];
        snprintf (groups, sizeof groups, "%s|", arg);
        for (size_t i = 0; i < zkv_harness_size (harness); i++)
            if (!streq (zkv_harness_name (harness, i), arg)) {
                strcat (groups, zkv_harness_name (harness, i));
                strcat (groups, ",");
            }
        if (zkv_harness_partition (harness, groups, oneway, error, sizeof error))
            rc = s_fail ("%s", error);
    }
    else
    if (arg && (streq (command, "kill") || streq (command, "stop") || streq (command, "pause")
            ||  streq (command, "resume"))) {
        int signal = streq (command, "kill")? SIGKILL: streq (command, "stop")? SIGTERM:
                     streq (command, "pause")? SIGSTOP: SIGCONT;
        if (zkv_harness_signal (harness, arg, signal))
            rc = s_fail ("%s is not running", arg);
    }
    else
    if (!arg && streq (command, "start")) {
        //  Every member, on the ports of the cluster file
        if (zkv_harness_start (harness, NULL, error, sizeof error))
            rc = s_fail ("%s", error);
        else
        if (zkv_harness_wait_leader (harness, timeout, leader, sizeof leader))
            rc = s_fail ("%s", "no leader yet");
        else
            s_status (harness);
    }
    else
    if (arg && streq (command, "start") && zkv_harness_running (harness, arg))
        printf ("%s is running already (pid %d): nothing done\n", arg,
                (int) zkv_harness_pid (harness, arg));
    else
    if (arg && (streq (command, "start") || streq (command, "restart"))) {
        if (streq (command, "restart"))
            zkv_harness_signal (harness, arg, SIGTERM);
        if (zkv_harness_start (harness, arg, error, sizeof error))
            rc = s_fail ("%s", error);
    }
    else {
        s_usage (stderr);
        rc = 128;
    }
    zkv_harness_destroy (&harness);
    return rc;
}
