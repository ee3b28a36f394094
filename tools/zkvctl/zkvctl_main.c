/*  =========================================================================
    zkvctl_main.c — zkvctl: global flags, command dispatch, exit codes.

    The command line follows etcdctl (cobra + pflag): global flags may come
    anywhere, before or after the command; flags and arguments mix freely;
    `--` ends the flags; a unique prefix of a command name selects it.

    Exit codes: 0 ok; 1 when a request fails (the node's error text, or
    `context deadline exceeded`, or `interrupted`); 3 for bad txn input;
    128 for bad arguments, flags, endpoints or output format, always found
    before anything is read or sent.

    Every global flag may also be given as ZKVCTL_<FLAG> (see
    zkvctl_flags.c), as etcdctl's ETCDCTL_<FLAG>.

    --dial-timeout (2 s, etcdctl's): ZeroMQ connects lazily, so zkvctl's
    dial is the request's first send: an endpoint must have completed its
    connection (TCP and ZeroMQ's handshake, CURVE's included) within it,
    or the request goes to the next endpoint, and fails with `context
    deadline exceeded` when none is left. So a dead or unreachable member
    fails every command within the dial timeout, whatever the command's
    own timeout (an hour for defrag). --command-timeout counts from the
    send, as etcdctl's excludes the dial.

    DEVIATION: etcdctl exits 1 on cobra errors (unknown flag or command, bad
    flag value) and 4 for an unsupported output format, a bad --consistency
    or a printer that cannot print the reply (after sending the request);
    zkvctl exits 128 for all of them, and checks them all before sending.
    It prints no usage text after such an error.
    =========================================================================
*/
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"
#include "zkv_version.h"


#define S_DEFAULT_ENDPOINTS "127.0.0.1:12379"
#define S_NSECS_PER_SEC     1000000000LL

int
zkvctl_fail (zkvctl_t *ctl, int code, const char *format, ...)
{
    ctl->code = code;
    va_list args;
    va_start (args, format);
    vsnprintf (ctl->error, sizeof ctl->error, format, args);
    va_end (args);
    return -1;
}

//  ---------------------------------------------------------------------
//  The commands

static int s_help_run (zkvctl_t *ctl, int argc, char **argv);
static int s_version_run (zkvctl_t *ctl, int argc, char **argv);

static const zkvctl_command_t s_help_command = {
    "help", "help [command]", "Help about any command", s_help_run, NULL, NULL
};
static const zkvctl_command_t s_version_command = {
    "version", "version", "Prints the version of zkvctl", s_version_run, NULL, NULL
};

//  In the order of the usage text
static const zkvctl_command_t *const s_commands [] = {
    &zkvctl_alarm_command,
    &zkvctl_check_command,
    &zkvctl_compaction_command,
    &zkvctl_defrag_command,
    &zkvctl_del_command,
    &zkvctl_endpoint_command,
    &zkvctl_events_command,
    &zkvctl_get_command,
    &s_help_command,
    &zkvctl_member_command,
    &zkvctl_move_leader_command,
    &zkvctl_put_command,
    &zkvctl_snapshot_command,
    &zkvctl_txn_command,
    &s_version_command,
    NULL
};
static const zkvctl_command_t s_root_command = {
    "zkvctl", "zkvctl [flags] <command> [options] [arguments]",
    "A simple command line client for zkv, in the manner of etcdctl.", NULL, s_commands, NULL
};

//  ---------------------------------------------------------------------
//  Usage texts (stdout, as etcdctl prints them)

//  One line per flag of both tables (either may be NULL), help aligned
static void
s_flags_usage (zkvctl_flag_t *first, zkvctl_flag_t *second, const char *help)
{
    char lines [64][160];
    const char *helps [64];
    size_t count = 0, width = 0;
    zkvctl_flag_t *tables [] = { first, second };
    for (int t = 0; t < 2; t++)
        for (zkvctl_flag_t *flag = tables [t]; flag && flag->name && count < 63; flag++) {
            char shorthand [8] = "    ";
            if (flag->shorthand)
                snprintf (shorthand, sizeof shorthand, "-%c, ", flag->shorthand);
            snprintf (lines [count], sizeof lines [count],
                      flag->type == ZKVCTL_FLAG_BOOL? "  %s--%s[=%s]": "  %s--%s=%s",
                      shorthand, flag->name, flag->defvalue);
            helps [count++] = flag->help;
        }
    if (help) {
        snprintf (lines [count], sizeof lines [count], "  -h, --help[=false]");
        helps [count++] = help;
    }
    for (size_t i = 0; i < count; i++)
        if (strlen (lines [i]) > width)
            width = strlen (lines [i]);
    for (size_t i = 0; i < count; i++)
        printf ("%-*s  %s\n", (int) width, lines [i], helps [i]);
}

//  The subcommands of command, one line each
static void
s_commands_usage (const zkvctl_command_t *command)
{
    printf ("COMMANDS:\n");
    for (int i = 0; command->subcommands [i]; i++)
        printf ("\t%-12s%s\n", command->subcommands [i]->name,
                command->subcommands [i]->summary);
}

void
zkvctl_usage (zkvctl_t *ctl, const zkvctl_command_t *command, zkvctl_flag_t *flags)
{
    if (command == &s_root_command) {
        printf ("NAME:\n\tzkvctl - %s\n\n", command->summary);
        printf ("VERSION:\n\t%s\n\n", ZKV_VERSION);
        printf ("USAGE:\n\t%s\n\n", command->use);
        s_commands_usage (command);
        printf ("\nOPTIONS:\n");
        s_flags_usage (ctl->globals, flags, "help for zkvctl");
        printf ("\nENVIRONMENT:\n"
                "\tEvery global option may be set as ZKVCTL_<OPTION>, upper case, dashes\n"
                "\tas underscores (ZKVCTL_ENDPOINTS, ZKVCTL_WRITE_OUT, ZKVCTL_DIAL_TIMEOUT).\n"
                "\tAn option given both ways is an error; a value the option cannot take\n"
                "\tis ignored with a warning.\n");
    }
    else {
        printf ("NAME:\n\t%s - %s\n\n", command->name, command->summary);
        printf ("USAGE:\n\tzkvctl %s\n\n", command->use);
        if (command->description)
            printf ("DESCRIPTION:\n%s\n", command->description);
        if (command->subcommands) {
            s_commands_usage (command);
            printf ("\n");
        }
        if (flags && flags->name) {
            printf ("OPTIONS:\n");
            s_flags_usage (flags, NULL, "help for this command");
            printf ("\n");
        }
        printf ("GLOBAL OPTIONS:\n");
        s_flags_usage (ctl->globals, NULL, NULL);
    }
}

//  ---------------------------------------------------------------------
//  What every command needs

//  Checks every endpoint of --endpoints (or of the cluster file): host:port,
//  http://host:port or tcp://host:port with a port from 1 to 65535, or
//  ipc://path. DEVIATION: etcdctl takes any text and waits its command
//  timeout on what cannot be dialled (`--endpoints=localhost`); ZeroMQ
//  refuses some at connect and would wait on the others: a bad argument
//  (exit 128) here, before anything is sent.
static int
s_endpoints_check (zkvctl_t *ctl)
{
    char *list = strdup (ctl->endpoints);
    char *saved = NULL;
    int rc = 0;
    for (char *item = strtok_r (list, ",", &saved); item && rc == 0;
         item = strtok_r (NULL, ",", &saved)) {
        char *endpoint = zkv_endpoint_normalize (item);
        const char *why = NULL;
        if (strncmp (endpoint, "ipc://", 6) == 0) {
            if (endpoint [6] == 0)
                why = "missing path";
        }
        else
        if (strncmp (endpoint, "tcp://", 6) == 0) {
            const char *host = endpoint + 6;
            const char *colon = strrchr (host, ':');
            const char *port = colon? colon + 1: "";
            size_t digits = strspn (port, "0123456789");
            if (!colon || *port == 0)
                why = "missing port";
            else
            if (digits != strlen (port) || digits > 5 || atoi (port) < 1 || atoi (port) > 65535)
                why = "invalid port";
            else
            if (colon == host)
                why = "missing host";
            else
            if (strcspn (host, "/?#@ \t") < (size_t) (colon - host))
                why = "invalid host";
        }
        else
            why = "unsupported scheme";
        if (why)
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "invalid endpoint \"%s\": %s (expected "
                              "host:port, tcp://host:port or ipc://path)", item, why);
        free (endpoint);
    }
    free (list);
    return rc;
}

int
zkvctl_ready (zkvctl_t *ctl, bool table_ok)
{
    if (zkvctl_output_parse (ctl))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unsupported output format");
    if (ctl->format == ZKVCTL_FORMAT_TABLE && !table_ok)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "table not supported as output format");
    if (zkvctl_cluster_file_load (ctl))
        return -1;
    //  DEVIATION: etcdctl exits 2 for an empty endpoint list
    if (*ctl->endpoints == 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "etcdclient: no available endpoints");
    if (s_endpoints_check (ctl))
        return -1;
    //  CURVE: both certificates, or neither
    bool cert = ctl->cert && *ctl->cert, server_cert = ctl->server_cert && *ctl->server_cert;
    if (cert && !server_cert)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--cert needs --server-cert "
                            "(the cluster's public certificate)");
    if (server_cert && !cert)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--server-cert needs --cert "
                            "(this client's certificate)");
    if (cert) {
        char error [1024];
        zkv_curve_destroy (&ctl->curve);
        ctl->curve = zkv_curve_new (ctl->cert, ctl->server_cert, error, sizeof error);
        if (!ctl->curve)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "%s", error);
    }
    return 0;
}

zkv_client_t *
zkvctl_client (zkvctl_t *ctl, const char *endpoints, int msecs)
{
    zkv_client_t *client = zkv_client_new (endpoints, msecs);
    //  One request per command, as etcdctl sends it: its refusal is the
    //  command's (membership changes retry by their own rules)
    if (client)
        zkv_client_set_retry (client, false);
    if (client && ctl->dial_timeout > 0) {
        int64_t dial = (ctl->dial_timeout + 999999) / 1000000;
        zkv_client_set_connect_timeout (client, dial > INT_MAX? INT_MAX: (int) dial);
    }
    if (client && ctl->curve)
        zkv_client_set_curve (client, ctl->curve);
    if (client && ctl->max_request_bytes > 0)
        zkv_client_set_max_request_bytes (client, (size_t) ctl->max_request_bytes);
    return client;
}

zkv_msg_t *
zkvctl_call (zkvctl_t *ctl, const zkv_desc_t *desc, const void *request)
{
    return zkvctl_call_at (ctl, ctl->endpoints, desc, request);
}

zkv_msg_t *
zkvctl_call_at (zkvctl_t *ctl, const char *endpoints, const zkv_desc_t *desc,
                const void *request)
{
    if (zsys_interrupted) {
        zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "interrupted");
        return NULL;
    }
    //  As a Go context with a timeout: none left means no time at all
    if (ctl->command_timeout <= 0) {
        zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "context deadline exceeded");
        return NULL;
    }
    int64_t msecs = (ctl->command_timeout + 999999) / 1000000;
    zkv_client_t *client = zkvctl_client (ctl, endpoints, msecs > INT_MAX? INT_MAX: (int) msecs);
    if (!client) {
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "etcdclient: no available endpoints");
        return NULL;
    }
    zkv_result_t status = { ZKV_ERR_OK, "" };
    zkv_msg_t *reply = zkv_client_call (client, desc, request, &status);
    zkv_client_destroy (&client);
    if (!reply) {
        char text [512];
        if (zsys_interrupted)
            zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "interrupted");
        else
        if (status.err == ZKV_ERR_TIMEOUT && status.detail [0])
            zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", status.detail);
        else
            zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", zkv_status_text (&status, text, sizeof text));
        return NULL;
    }
    if (reply->desc != desc->response) {
        //  The node's own text, verbatim, as etcdctl prints etcd's
        const zkv_error_t *error = zkv_reply_error (reply);
        if (error && error->message.size)
            zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%.*s", (int) error->message.size,
                         (const char *) error->message.data);
        else
        if (error)
            zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "rpc error: code = %.*s",
                         (int) error->code.size, (const char *) error->code.data);
        else
            zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "zkv: unexpected reply");
        zkv_msg_destroy (&reply);
        return NULL;
    }
    return reply;
}

//  ---------------------------------------------------------------------
//  Commands of main itself

static int
s_version_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_version_command, NULL, true, argc - 1, argv + 1, NULL,
                                 positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    printf ("zkvctl version: %s\n", ZKV_VERSION);
    return 0;
}

static const zkvctl_command_t *
    s_command_find (const zkvctl_command_t *const *commands, const char *name);

static int
s_help_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_help_command, NULL, true, argc - 1, argv + 1, NULL,
                                 positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    const zkvctl_command_t *command = count? s_command_find (s_commands,
                                                            (const char *) positional [0].data)
                                           : NULL;
    if (!command || command->run == s_help_run) {
        if (count)
            printf ("Unknown help topic \"%.*s\"\n\n", (int) positional [0].size,
                    (const char *) positional [0].data);
        zkvctl_usage (ctl, &s_root_command, NULL);
        return 0;
    }
    //  `help member list`: the rest of the topic goes along
    char *help_argv [count + 2];
    help_argv [0] = (char *) command->name;
    for (int i = 1; i < count; i++)
        help_argv [i] = (char *) positional [i].data;
    help_argv [count] = (char *) "--help";
    help_argv [count + 1] = NULL;
    return command->run (ctl, count + 1, help_argv);
}

//  The command of commands named name, or the only one name is a prefix
//  of (cobra's EnablePrefixMatching, on in etcdctl: `compact` is
//  compaction)
static const zkvctl_command_t *
s_command_find (const zkvctl_command_t *const *commands, const char *name)
{
    const zkvctl_command_t *match = NULL;
    int matches = 0;
    for (int i = 0; commands [i]; i++) {
        if (streq (commands [i]->name, name))
            return commands [i];
        if (*name && strncmp (commands [i]->name, name, strlen (name)) == 0) {
            match = commands [i];
            matches++;
        }
    }
    return matches == 1? match: NULL;
}

//  True if arg is a global flag that takes its value from the next
//  argument ("--endpoints", "-w"; not "--endpoints=..." nor a switch)
static bool
s_global_takes_next (const zkvctl_t *ctl, const char *arg)
{
    for (const zkvctl_flag_t *flag = ctl->globals; flag->name; flag++)
        if (flag->type != ZKVCTL_FLAG_BOOL
        &&  ((arg [1] == '-' && streq (arg + 2, flag->name))
        ||   (flag->shorthand && arg [1] == flag->shorthand && arg [2] == 0)))
            return true;
    return false;
}

//  Index of the command name in argv, skipping flags (and the values of
//  the global flags that take one), or 0 when there is none
static int
s_command_index (const zkvctl_t *ctl, int argc, char *argv [])
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        if (streq (arg, "--"))
            return i + 1 < argc? i + 1: 0;
        if (arg [0] != '-' || arg [1] == 0)
            return i;
        if (s_global_takes_next (ctl, arg))
            i++;
    }
    return 0;
}

//  Runs command, found at argv [index]: it sees its name first, then every
//  other argument in order
static int
s_command_run (zkvctl_t *ctl, const zkvctl_command_t *command, int index,
               int argc, char *argv [])
{
    char *args [argc + 1];
    int count = 0;
    args [count++] = argv [index];
    for (int i = 0; i < argc; i++)
        if (i != index)
            args [count++] = argv [i];
    args [count] = NULL;
    return command->run (ctl, count, args);
}

int
zkvctl_subcommand_run (zkvctl_t *ctl, const zkvctl_command_t *parent, int argc, char **argv)
{
    int index = s_command_index (ctl, argc, argv);
    if (index == 0) {
        //  cobra prints the usage of a command that cannot run by itself
        zkv_bin_t positional [argc];
        int count;
        int rc = zkvctl_flags_parse (ctl, parent, NULL, true, argc - 1, argv + 1, NULL,
                                     positional, &count);
        if (rc)
            return rc == ZKVCTL_HELP? 0: -1;
        zkvctl_usage (ctl, parent, NULL);
        return 0;
    }
    const zkvctl_command_t *command = s_command_find (parent->subcommands, argv [index]);
    //  DEVIATION: cobra prints the parent's usage and exits 0
    if (!command)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                            "unknown command \"%s\" for \"zkvctl %s\"\n"
                            "Run 'zkvctl %s --help' for usage.",
                            argv [index], parent->name, parent->name);
    //  The parent's name is not an argument of its subcommand
    return s_command_run (ctl, command, index - 1, argc - 1, argv + 1);
}

static int
s_dispatch (zkvctl_t *ctl, int argc, char *argv [])
{
    int index = s_command_index (ctl, argc, argv);
    if (index == 0) {
        //  No command: only flags; print the usage (as etcdctl) or version
        bool version = false;
        zkvctl_flag_t flags [] = {
            { "version", 0, ZKVCTL_FLAG_BOOL, &version, "false", "print the version and exit", false },
            { NULL, 0, 0, NULL, NULL, NULL, false }
        };
        zkv_bin_t positional [argc];
        int count;
        int rc = zkvctl_flags_parse (ctl, &s_root_command, flags, true, argc - 1, argv + 1,
                                     NULL, positional, &count);
        if (rc)
            return rc == ZKVCTL_HELP? 0: -1;
        if (version)
            printf ("zkvctl version: %s\n", ZKV_VERSION);
        else
            zkvctl_usage (ctl, &s_root_command, flags);
        return 0;
    }
    const zkvctl_command_t *command = s_command_find (s_commands, argv [index]);
    if (!command) {
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                     "unknown command \"%s\" for \"zkvctl\"\nRun 'zkvctl --help' for usage.",
                     argv [index]);
        return -1;
    }
    //  argv [0] (the program) is no argument of the command
    return s_command_run (ctl, command, index - 1, argc - 1, argv + 1);
}

int
main (int argc, char *argv [])
{
    //  CZMQ catches SIGINT/SIGTERM: a blocked call or read then returns
    //  and the command fails with `interrupted`
    zsys_init ();
    zsys_set_logident ("zkvctl");
    zsys_set_logstream (stderr);

    zkvctl_t ctl;
    memset (&ctl, 0, sizeof ctl);
    ctl.endpoints = strdup (S_DEFAULT_ENDPOINTS);
    ctl.command_timeout = 5 * S_NSECS_PER_SEC;
    ctl.dial_timeout = 2 * S_NSECS_PER_SEC;
    ctl.max_request_bytes = ZKV_CLIENT_MAX_REQUEST_BYTES;
    ctl.write_out = "simple";
    zkvctl_flag_t globals [] = {
        //  DEVIATION: zkv's own (etcdctl's --cert is a TLS certificate):
        //  CURVE with this key pair, as zcert_save writes it (FILE and
        //  FILE_secret), against the cluster whose public certificate is
        //  --server-cert
        { "cert", 0, ZKVCTL_FLAG_STRING, &ctl.cert, "\"\"",
          "this client's CURVE certificate (FILE and FILE_secret, as zcert_save writes them)",
          false },
        //  DEVIATION: zkv's own; --endpoints wins when both are given
        { "cluster-file", 0, ZKVCTL_FLAG_STRING, &ctl.cluster_file, "\"\"",
          "use the client endpoints (and certificates) of the cluster in this zkv-cluster file",
          false },
        { "command-timeout", 0, ZKVCTL_FLAG_DURATION, &ctl.command_timeout, "5s",
          "timeout for short running command (excluding dial timeout)", false },
        //  ZeroMQ connects lazily: see the head of this file
        { "dial-timeout", 0, ZKVCTL_FLAG_DURATION, &ctl.dial_timeout, "2s",
          "dial timeout for client connections (a member must complete its connection "
          "within it)", false },
        { "endpoints", 0, ZKVCTL_FLAG_LIST, &ctl.endpoints, "[" S_DEFAULT_ENDPOINTS "]",
          "zkv endpoints (host:port or ZeroMQ endpoints, comma separated)", false },
        { "hex", 0, ZKVCTL_FLAG_BOOL, &ctl.hex, "false",
          "print byte strings as hex encoded strings", false },
        { "max-request-bytes", 0, ZKVCTL_FLAG_INT64, &ctl.max_request_bytes, "8388608",
          "client-side request send limit in bytes (the members' ZeroMQ drops larger ones "
          "unread)", false },
        { "server-cert", 0, ZKVCTL_FLAG_STRING, &ctl.server_cert, "\"\"",
          "the cluster's public CURVE certificate (with --cert)", false },
        { "write-out", 'w', ZKVCTL_FLAG_STRING, &ctl.write_out, "\"simple\"",
          "set the output format (fields, json, simple, table)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    ctl.globals = globals;

    int rc = s_dispatch (&ctl, argc, argv);
    fflush (stdout);
    if (rc < 0 && ctl.error [0])
        fprintf (stderr, "Error: %s\n", ctl.error);
    free (ctl.endpoints);
    free (ctl.file_cert);
    free (ctl.file_server_cert);
    zkv_curve_destroy (&ctl.curve);
    return rc < 0? ctl.code: ZKVCTL_EXIT_SUCCESS;
}
