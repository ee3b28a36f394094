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
#include <errno.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkvctl.h"
#include "zkv_file_read.h"

//  A cluster file is a few hundred bytes; this stops a `--cluster-file
//  /dev/zero` from reading for ever
#define S_FILE_MAX      (1024 * 1024)

//  ---------------------------------------------------------------------
//  --cluster-file


//  Parses text as ZPL. zconfig tells a syntax error with zclock_log, on
//  stdout, which is the command's output: that line is caught here, and
//  its text (`line 3: indentation error`) copied into why.
static zconfig_t *
s_zpl_parse (const char *text, char *why, size_t size)
{
    *why = 0;
    fflush (stdout);
    FILE *capture = tmpfile ();
    int saved = capture? dup (STDOUT_FILENO): -1;
    if (saved >= 0 && dup2 (fileno (capture), STDOUT_FILENO) < 0) {
        close (saved);
        saved = -1;
    }
    zconfig_t *root = zconfig_str_load (text);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
        char line [512] = "";
        rewind (capture);
        if (fgets (line, sizeof line, capture)) {
            //  "<date> <time> E (zconfig): (3) indentation error\n"
            const char *at = strstr (line, "(zconfig): ");
            at = at? at + strlen ("(zconfig): "): line;
            int lineno, skip = 0;
            if (sscanf (at, "(%d) %n", &lineno, &skip) == 1 && skip)
                snprintf (why, size, "line %d: %s", lineno, at + skip);
            else
                snprintf (why, size, "%s", at);
            size_t length = strlen (why);
            while (length && isspace ((unsigned char) why [length - 1]))
                why [--length] = 0;
        }
    }
    if (capture)
        fclose (capture);
    return root;
}

//  A path of the cluster file at file: as it is when absolute, else
//  relative to the file's directory (a fresh string)
static char *
s_file_path (const char *file, const char *path)
{
    const char *slash = strrchr (file, '/');
    if (*path == '/' || !slash)
        return strdup (path);
    return zsys_sprintf ("%.*s/%s", (int) (slash - file), file, path);
}

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
    const char *path = ctl->cluster_file;
    char *text = zkv_file_read (path, S_FILE_MAX);
    if (!text) {
        //  As Go's syscall errors read: "no such file or directory"
        char reason [256];
        snprintf (reason, sizeof reason, "%s", strerror (errno));
        reason [0] = (char) tolower ((unsigned char) reason [0]);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "cannot read cluster file %s: %s",
                            path, reason);
    }
    char why [256];
    zconfig_t *root = s_zpl_parse (text, why, sizeof why);
    free (text);
    if (!root)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "cannot parse cluster file %s: %s",
                            path, *why? why: "not a ZPL file");
    //  Every member's client endpoint, in file order
    zconfig_t *cluster = zconfig_locate (root, "cluster");
    size_t room = 1;
    for (zconfig_t *item = cluster? zconfig_child (cluster): NULL; item;
         item = zconfig_next (item))
        if (streq (zconfig_name (item), "member"))
            room += strlen (zconfig_get (item, "client", "")) + 1;
    char *endpoints = (char *) zmalloc (room);
    for (zconfig_t *item = cluster? zconfig_child (cluster): NULL; item;
         item = zconfig_next (item)) {
        const char *client = streq (zconfig_name (item), "member")
                           ? zconfig_get (item, "client", ""): "";
        if (*client) {
            if (*endpoints)
                strcat (endpoints, ",");
            strcat (endpoints, client);
        }
    }
    //  A secure cluster's certificates, unless given as flags
    const char *cert = cluster? zconfig_get (cluster, "cert", ""): "";
    const char *server_cert = cluster? zconfig_get (cluster, "server-cert", ""): "";
    if (!ctl->cert && *cert)
        ctl->cert = ctl->file_cert = s_file_path (path, cert);
    if (!ctl->server_cert && *server_cert)
        ctl->server_cert = ctl->file_server_cert = s_file_path (path, server_cert);
    zconfig_destroy (&root);
    if (*endpoints == 0) {
        free (endpoints);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                            "cluster file %s lists no member client endpoint", path);
    }
    free (ctl->endpoints);
    ctl->endpoints = endpoints;
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
