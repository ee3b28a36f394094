/*  =========================================================================
    zkvctl_cluster.c — the cluster side of zkvctl: `member list`, and the
    --cluster-file global flag.

    --cluster-file FILE reads a cluster file written by zkv-cluster (ZPL):

        cluster
            id = 71542586ef100417
            member
                name = n1
                client = tcp://127.0.0.1:40001
                peer = tcp://127.0.0.1:40002
                ...
            member
                ...

    and uses every member's `client` endpoint, in file order, exactly as if
    they were given with --endpoints (the client library tries them in
    turn, so any live member serves). The file of a secure cluster names
    certificates too (`cert`, the client's, and `server-cert`, the
    cluster's; relative to the file's directory unless absolute), each
    taken unless given as a flag (--cert, --server-cert). When --endpoints
    is given too, it wins and the file is not read at all (unless
    --endpoints came from ZKVCTL_ENDPOINTS and --cluster-file from the
    command line). A file that cannot be read, is not ZPL, or lists no
    client endpoint is a bad argument (exit 128), found before anything is
    sent. etcdctl has no such flag.

    member list follows etcdctl 3.6: --consistency l (the default: the
    node answers once it knows its member table is current) or s (the
    member's own table, at once); the member table printed as etcdctl's
    printers print a MemberListResponse, STATUS and IS LEARNER included
    (see zkvctl_output.c). The changes are in zkvctl_member.c.
    =========================================================================
*/
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"
#include "zkv_cluster_file.h"

//  ---------------------------------------------------------------------
//  --cluster-file (read by the client library: zkv_cluster_file.h)

int
zkvctl_cluster_file_load (zkvctl_t *ctl)
{
    //  --endpoints wins over --cluster-file: the file is then not read;
    //  but a flag on the command line wins over a variable, so that
    //  ZKVCTL_ENDPOINTS does not hide a --cluster-file given
    bool endpoints_win = zkvctl_flag_changed (ctl->globals, "endpoints");
    if (endpoints_win && zkvctl_flag_from_env (ctl, "endpoints")
    &&  !zkvctl_flag_from_env (ctl, "cluster-file"))
        endpoints_win = false;
    if (!ctl->cluster_file || endpoints_win)
        return 0;
    char error [1024];
    zkv_cluster_file_t *file = zkv_cluster_file_load (ctl->cluster_file, error, sizeof error);
    if (!file)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", error);
    //  A secure cluster's certificates, unless given as flags
    const char *cert = zkv_cluster_file_cert (file);
    const char *server_cert = zkv_cluster_file_server_cert (file);
    if (!ctl->cert && cert)
        ctl->cert = ctl->file_cert = strdup (cert);
    if (!ctl->server_cert && server_cert)
        ctl->server_cert = ctl->file_server_cert = strdup (server_cert);
    free (ctl->endpoints);
    ctl->endpoints = strdup (zkv_cluster_file_endpoints (file));
    zkv_cluster_file_destroy (&file);
    return 0;
}

//  ---------------------------------------------------------------------
//  member list

static int
s_member_list_run (zkvctl_t *ctl, int argc, char **argv);

const zkvctl_command_t zkvctl_member_list_command = {
    "list", "member list [options]", "Lists all members in the cluster",
    s_member_list_run, NULL, NULL
};

static int
s_member_list_run (zkvctl_t *ctl, int argc, char **argv)
{
    const char *consistency = "l";
    zkvctl_flag_t flags [] = {
        { "consistency", 0, ZKVCTL_FLAG_STRING, &consistency, "\"l\"",
          "Linearizable(l) or Serializable(s)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &zkvctl_member_list_command, flags, true, argc - 1, argv + 1,
                                 NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    //  Arguments are ignored, as by etcdctl.
    //  DEVIATION: etcdctl exits 4 for a bad --consistency, after it read
    //  the endpoints, and names get's value in its message
    zkv_member_list_t request = { true };
    if (streq (consistency, "s"))
        request.linearizable = false;
    else
    if (!streq (consistency, "l")) {
        char *quoted = zkvctl_quote (consistency, strlen (consistency));
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown consistency flag %s", quoted);
        free (quoted);
        return -1;
    }
    if (zkvctl_ready (ctl, true))
        return -1;
    zkv_msg_t *reply = zkvctl_call (ctl, &zkv_member_list_desc, &request);
    if (!reply)
        return -1;
    zkvctl_print_member_list (ctl, (const zkv_member_list_response_t *) reply->body);
    zkv_msg_destroy (&reply);
    return 0;
}
