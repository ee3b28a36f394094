/*  =========================================================================
    zkvctl_defrag.c — `defrag [--cluster]`, as etcdctl 3.6 has it
    (etcdctl/ctlv3/command/defrag_command.go), with what etcd's users had
    to script themselves.

    Each endpoint in turn (--endpoints, the cluster file's, or with
    --cluster every member's client endpoint): on success, on stdout,
        Finished defragmenting etcd member[<ep>]. took <duration>
    followed, on the same line, by zkv's sizes before and after
        , db size 61 MB -> 30 MB, in use 30 MB -> 30 MB
    on failure, on stderr,
        Failed to defragment etcd member[<ep>]. took <duration>. (<error>)
    and exit 1 once every endpoint was tried. A member that is down fails
    within --dial-timeout (the connection is not made), not the defrag's
    hour, and the others are still defragmented (etcdctl 3.4 fails it after
    --command-timeout and goes on, exit 1 as well).

    Beyond etcd: with --cluster the followers go first and the leader last
    (etcd #15477: etcd walks the member list in order), as found by asking
    each member's Status; and, since a zkv member keeps serving while it
    defragments, the default --command-timeout for defrag is an hour, not
    5 s (etcd #8260: etcdctl gave up while etcd went on).
    =========================================================================
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"

#define S_DEFRAG_TIMEOUT (3600LL * 1000000000LL)    //  nsecs, when not given

static int s_defrag_run (zkvctl_t *ctl, int argc, char **argv);

const zkvctl_command_t zkvctl_defrag_command = {
    "defrag", "defrag [flags]",
    "Defragments the storage of the zkv members with given endpoints", s_defrag_run, NULL, NULL
};

//  True if the member at endpoint says it leads
static bool
s_is_leader (zkvctl_t *ctl, const char *endpoint)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = zkvctl_call_at (ctl, endpoint, &zkv_status_desc, &request);
    if (!reply)
        return false;                   //  its defrag will tell what is wrong
    const zkv_status_response_t *status = (const zkv_status_response_t *) reply->body;
    bool leader = status->header && status->leader == status->header->member_id;
    zkv_msg_destroy (&reply);
    return leader;
}

static int
s_defrag_run (zkvctl_t *ctl, int argc, char **argv)
{
    bool cluster = false;
    zkvctl_flag_t flags [] = {
        { "cluster", 0, ZKVCTL_FLAG_BOOL, &cluster, "false",
          "use all endpoints from the cluster member list", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &zkvctl_defrag_command, flags, true, argc - 1, argv + 1,
                                 NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    //  The defragmentation itself may take long; the member list and the
    //  Status calls that order the members do not
    int64_t short_timeout = ctl->command_timeout;
    int64_t defrag_timeout = zkvctl_flag_changed (ctl->globals, "command-timeout")
                           ? short_timeout: S_DEFRAG_TIMEOUT;
    if (zkvctl_ready (ctl, false))
        return -1;
    bool incomplete;
    zlist_t *endpoints = zkvctl_endpoints (ctl, cluster, &incomplete);
    if (!endpoints)
        return -1;
    if (cluster) {
        //  The leader last
        char *leader = NULL;
        for (char *endpoint = (char *) zlist_first (endpoints); endpoint && !leader;
             endpoint = (char *) zlist_next (endpoints))
            if (s_is_leader (ctl, endpoint))
                leader = strdup (endpoint);
        if (leader) {
            for (char *endpoint = (char *) zlist_first (endpoints); endpoint;
                 endpoint = (char *) zlist_next (endpoints))
                if (streq (endpoint, leader)) {
                    zlist_remove (endpoints, endpoint);     //  frees it (autofree)
                    break;
                }
            zlist_append (endpoints, leader);
            free (leader);
        }
    }
    int failures = incomplete? 1: 0;
    for (char *endpoint = (char *) zlist_first (endpoints); endpoint;
         endpoint = (char *) zlist_next (endpoints)) {
        int64_t started = zclock_usecs ();
        zkv_defragment_t request = { false };
        ctl->command_timeout = defrag_timeout;
        zkv_msg_t *reply = zkvctl_call_at (ctl, endpoint, &zkv_defragment_desc, &request);
        ctl->command_timeout = short_timeout;
        char took [32];
        zkvctl_go_duration ((zclock_usecs () - started) * 1000, took, sizeof took);
        if (!reply) {
            fprintf (stderr, "Failed to defragment etcd member[%s]. took %s. (%s)\n", endpoint,
                     took, ctl->error);
            failures++;
            continue;
        }
        const zkv_defragment_response_t *response =
            (const zkv_defragment_response_t *) reply->body;
        char before [32], after [32], in_use_before [32], in_use_after [32];
        zkvctl_humanize_bytes ((uint64_t) response->db_size_before, before, sizeof before);
        zkvctl_humanize_bytes ((uint64_t) response->db_size, after, sizeof after);
        zkvctl_humanize_bytes ((uint64_t) response->db_size_in_use_before, in_use_before,
                               sizeof in_use_before);
        zkvctl_humanize_bytes ((uint64_t) response->db_size_in_use, in_use_after,
                               sizeof in_use_after);
        printf ("Finished defragmenting etcd member[%s]. took %s, db size %s -> %s, "
                "in use %s -> %s\n", endpoint, took, before, after, in_use_before, in_use_after);
        fflush (stdout);
        zkv_msg_destroy (&reply);
    }
    zlist_destroy (&endpoints);
    if (failures)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", "");
    return 0;
}
