/*  =========================================================================
    zkvctl.h — what the parts of zkvctl share.

    zkvctl is the etcdctl-style operations CLI of zkv. It follows etcdctl
    3.5/3.6 (flags, messages, output formats, exit codes) except where a
    comment marked DEVIATION says otherwise.

    Every function that can fail returns -1 after recording the failure in
    the zkvctl_t (exit code and message); main prints it as `Error: <msg>`
    on stderr and exits with the code. Nothing else exits the process.
    =========================================================================
*/
#ifndef ZKVCTL_H_INCLUDED
#define ZKVCTL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zkv_client.h"

//  Exit codes (etcdctl's pkg/cobrautl names)
#define ZKVCTL_EXIT_SUCCESS         0
#define ZKVCTL_EXIT_ERROR           1       //  the request failed
#define ZKVCTL_EXIT_INVALID_INPUT   3       //  bad txn input
#define ZKVCTL_EXIT_BAD_ARGS        128     //  bad arguments, flags, output format

//  Return of the parsers when -h/--help was given (usage printed)
#define ZKVCTL_HELP                 1
//  Return of a parser when a flag was wrong (as opposed to an argument)
#define ZKVCTL_BAD_FLAG             -2

typedef enum {
    ZKVCTL_FORMAT_SIMPLE,
    ZKVCTL_FORMAT_JSON,
    ZKVCTL_FORMAT_FIELDS,
    ZKVCTL_FORMAT_TABLE
} zkvctl_format_t;

//  One run of zkvctl: the global settings and the failure to report
typedef struct zkvctl_flag_s zkvctl_flag_t;
typedef struct {
    char *endpoints;                    //  --endpoints, comma list (owned)
    const char *cluster_file;           //  --cluster-file, or NULL
    const char *cert;                   //  --cert (or the cluster file's), or NULL
    const char *server_cert;            //  --server-cert (or the cluster file's), or NULL
    char *file_cert;                    //  the cluster file's, when taken (owned)
    char *file_server_cert;
    zkv_curve_t *curve;                 //  read from them by zkvctl_ready (NULL: plain)
    int64_t command_timeout;            //  --command-timeout, nanoseconds
    int64_t dial_timeout;               //  --dial-timeout, nanoseconds (<= 0: none)
    int64_t max_request_bytes;          //  --max-request-bytes: larger ones are not sent
    const char *write_out;              //  -w/--write-out as given
    bool hex;                           //  --hex
    zkvctl_format_t format;             //  write_out, once checked
    zkvctl_flag_t *globals;             //  the global flags, for every parser
    bool env_read;                      //  their ZKVCTL_ variables were read
    uint32_t from_env;                  //  bit i: globals [i] came from its variable
    int code;                           //  exit code of the failure
    char error [2048];                  //  its message
} zkvctl_t;

//  ---------------------------------------------------------------------
//  zkvctl_main.c: dispatch, usage, talking to the node;
//  zkvctl_flags.c: the flag parser

typedef enum {
    ZKVCTL_FLAG_BOOL,                   //  bool *
    ZKVCTL_FLAG_STRING,                 //  const char ** (points into the args)
    ZKVCTL_FLAG_INT64,                  //  int64_t *, Go strconv.ParseInt (s, 0, 64)
    ZKVCTL_FLAG_DURATION,               //  int64_t * nanoseconds, Go time.ParseDuration
    ZKVCTL_FLAG_LIST                    //  char ** comma list (owned), repeatable
} zkvctl_flag_type_t;

//  A flag table ends with an entry whose name is NULL
struct zkvctl_flag_s {
    const char *name;                   //  long name, without "--"
    char shorthand;                     //  one letter, or 0
    zkvctl_flag_type_t type;
    void *value;                        //  where the parser stores it
    const char *defvalue;               //  default, for the usage text
    const char *help;
    bool changed;                       //  set by the parser when given
};

//  A command of the command line
typedef struct zkvctl_command_s zkvctl_command_t;
struct zkvctl_command_s {
    const char *name;
    const char *use;                    //  "get [options] <key> [range_end]"
    const char *summary;
    //  argv [0] is the command name; global flags may be anywhere
    int (*run) (zkvctl_t *ctl, int argc, char **argv);
    //  A command made of subcommands (`member list`): their table, ending
    //  with NULL, for the usage text and zkvctl_subcommand_run
    const zkvctl_command_t *const *subcommands;
    const char *description;            //  more than the summary says, or NULL
};

//  Records a failure; returns -1. An empty message exits with code and
//  prints nothing more (for commands that told each failure already).
int
    zkvctl_fail (zkvctl_t *ctl, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Parses args (sizes [i] bytes each, NULL: NUL-terminated) with pflag's
//  rules against flags plus, when with_globals, ctl->globals. Positional
//  args go to positional (room for argc) and their number to count.
//  Returns 0; ZKVCTL_HELP after printing command's usage (command NULL:
//  help is a bad flag); ZKVCTL_BAD_FLAG with the failure recorded.
int
    zkvctl_flags_parse (zkvctl_t *ctl, const zkvctl_command_t *command,
                        zkvctl_flag_t *flags, bool with_globals,
                        int argc, char **args, const size_t *sizes,
                        zkv_bin_t *positional, int *count);

//  True if the flag called name in flags was given on the command line
//  (or, for a global flag, by its ZKVCTL_ variable)
bool
    zkvctl_flag_changed (const zkvctl_flag_t *flags, const char *name);

//  True if the global flag called name took its value from its ZKVCTL_
//  variable (the command line did not give it)
bool
    zkvctl_flag_from_env (const zkvctl_t *ctl, const char *name);

//  Prints the usage of command (with its flags) on stdout, as etcdctl does
void
    zkvctl_usage (zkvctl_t *ctl, const zkvctl_command_t *command, zkvctl_flag_t *flags);

//  Runs the subcommand of parent named in argv (argv [0] is the parent's
//  name; global flags may be anywhere), as cobra does for `member list`:
//  a unique prefix selects it; no subcommand prints the parent's usage.
int
    zkvctl_subcommand_run (zkvctl_t *ctl, const zkvctl_command_t *parent,
                           int argc, char **argv);

//  Go's strconv.ParseInt (text, base, 64) for base 0, 10 or 16. Returns 0,
//  or -1 with Go's error text in error
int
    zkvctl_parse_int (const char *text, int base, int64_t *value,
                      char *error, size_t size);

//  Checks the settings a request needs (output format, endpoints, the
//  cluster file, the certificates), after the command checked its
//  arguments and before it reads or sends anything. table_ok: the
//  command can print -w table. A malformed endpoint is a bad argument.
int
    zkvctl_ready (zkvctl_t *ctl, bool table_ok);

//  A client of endpoints (comma list) that waits at most msecs per call
//  once an endpoint took the request, and at most --dial-timeout for an
//  endpoint to connect, with the certificates of zkvctl_ready; NULL when
//  endpoints names none
zkv_client_t *
    zkvctl_client (zkvctl_t *ctl, const char *endpoints, int msecs);

//  zkvctl_call, to the given endpoints rather than --endpoints
zkv_msg_t *
    zkvctl_call_at (zkvctl_t *ctl, const char *endpoints, const zkv_desc_t *desc,
                    const void *request);

//  Sends request (of type desc) to the node, once connected (within
//  --dial-timeout), and waits at most --command-timeout. Returns the
//  reply, whose body is a desc->response, or NULL with the failure
//  recorded (exit 1): the node's error text, `context deadline exceeded`,
//  or `interrupted`.
zkv_msg_t *
    zkvctl_call (zkvctl_t *ctl, const zkv_desc_t *desc, const void *request);

//  ---------------------------------------------------------------------
//  zkvctl_kv.c: put, get, del, compaction

//  How a get's reply is printed
typedef struct {
    bool value_only;                    //  --print-value-only
    bool count_only;                    //  --count-only
} zkvctl_view_t;

//  One put, get or del, as a request
typedef enum { ZKVCTL_OP_PUT, ZKVCTL_OP_GET, ZKVCTL_OP_DEL } zkvctl_op_kind_t;

typedef struct {
    zkvctl_op_kind_t kind;
    zkv_put_t put;
    zkv_range_t range;
    zkv_delete_range_t delete_range;
    zkvctl_view_t view;
} zkvctl_op_t;

extern const zkvctl_command_t zkvctl_put_command;
extern const zkvctl_command_t zkvctl_get_command;
extern const zkvctl_command_t zkvctl_del_command;
extern const zkvctl_command_t zkvctl_compaction_command;

//  Parses the arguments of a put, get or del (args [0] is the first
//  argument after the command name) into op, as etcdctl's getPutOp,
//  getGetOp and getDelOp do. Bytes op needs beyond args come from zone.
//  Returns 0, ZKVCTL_HELP, ZKVCTL_BAD_FLAG (flag error) or -1 (argument
//  error, exit 128).
int
    zkvctl_op_parse (zkvctl_t *ctl, zkvctl_op_kind_t kind, bool with_globals,
                     int argc, char **args, const size_t *sizes,
                     msgpack_zone *zone, zkvctl_op_t *op);

//  clientv3.WithPrefix: the range of every key that starts with key (an
//  empty key: every key); bytes it needs come from zone
void
    zkvctl_prefix_range (zkv_bin_t *key, zkv_bin_t *range_end, msgpack_zone *zone);

//  ---------------------------------------------------------------------
//  zkvctl_txn.c

extern const zkvctl_command_t zkvctl_txn_command;

//  ---------------------------------------------------------------------
//  zkvctl_cluster.c: --cluster-file, member list;
//  zkvctl_member.c: member and its changes (add, remove, update, promote,
//  replace), sent to the leader

extern const zkvctl_command_t zkvctl_member_command;
extern const zkvctl_command_t zkvctl_member_list_command;

//  ---------------------------------------------------------------------
//  zkvctl_endpoint.c: endpoint status, health, hash, hashkv

extern const zkvctl_command_t zkvctl_endpoint_command;

//  zkvctl_defrag.c
extern const zkvctl_command_t zkvctl_defrag_command;

//  zkvctl_events.c
extern const zkvctl_command_t zkvctl_events_command;

//  zkvctl_alarm.c: alarm list, disarm, activate
extern const zkvctl_command_t zkvctl_alarm_command;

//  zkvctl_move_leader.c
extern const zkvctl_command_t zkvctl_move_leader_command;

//  zkvctl_snapshot.c: snapshot save, status, restore
extern const zkvctl_command_t zkvctl_snapshot_command;

//  zkvctl_check.c: check perf, check datascale
extern const zkvctl_command_t zkvctl_check_command;

//  zkvctl_load.c: the put load of the checks, and its report
typedef struct {
    size_t clients;                     //  connections, one put in flight each
    double rate;                        //  puts per second at most (0: no limit)
    int64_t duration;                   //  usecs during which puts go out (0: no limit)
    uint64_t count;                     //  puts in all (0: no limit)
    const char *prefix;                 //  each key: the prefix, then key_size bytes
    size_t key_size;
    size_t value_size;
    //  Told done = 1 as each put ends, and done = 0 at least every 100 ms
    void (*progress) (void *arg, uint64_t done);
    void *arg;
} zkvctl_load_t;

typedef struct {
    char *text;
    uint64_t count;
} zkvctl_load_error_t;

//  As etcd's pkg/report Stats: seconds, of the puts that succeeded
typedef struct {
    uint64_t count;                     //  puts that succeeded
    double total;                       //  seconds from the start until the last ended
    double rps;                         //  count / total
    double average, stddev, fastest, slowest;   //  NaN average and stddev when none
    zkvctl_load_error_t *errors;        //  the failures, by error text
    size_t error_count;
} zkvctl_load_stats_t;

//  Runs load against --endpoints, each put waiting --command-timeout at
//  most. Returns 0 with stats filled (free them with
//  zkvctl_load_stats_free), or -1 with the failure recorded (interrupted).
int
    zkvctl_load_run (zkvctl_t *ctl, const zkvctl_load_t *load, zkvctl_load_stats_t *stats);
void
    zkvctl_load_stats_free (zkvctl_load_stats_t *stats);

//  zkvctl_progress.c: etcdctl's progress bar (cheggaaa/pb.v1, "Bom !")
typedef struct zkvctl_progress_s zkvctl_progress_t;

//  Draws the bar at 0 of total on stdout, now
zkvctl_progress_t *
    zkvctl_progress_start (int64_t total);
void
    zkvctl_progress_add (zkvctl_progress_t *self, int64_t count);
//  Redraws the bar if 200 ms went by since it was last drawn
void
    zkvctl_progress_refresh (zkvctl_progress_t *self);
//  Draws it finished (with the time it took) and a newline; frees it
void
    zkvctl_progress_finish (zkvctl_progress_t **self_p);

//  zkvctl_metrics.c: the value of the first line of <url>/metrics that
//  starts with name, as etcdctl's endpointMemoryMetrics reads it, within
//  msecs; 0 with etcdctl's words for what failed in why ("" otherwise)
double
    zkvctl_metrics_sample (const char *url, const char *name, int msecs, char *why,
                           size_t size);

//  The endpoints a per-endpoint command addresses: --endpoints (or the
//  cluster file's), or, with cluster, every member's client endpoint in
//  the member list's order. Returns a zlist of strings, or NULL with the
//  failure recorded. *incomplete says that a member had no client endpoint
//  to list (told on stderr): the command must then fail.
zlist_t *
    zkvctl_endpoints (zkvctl_t *ctl, bool cluster, bool *incomplete);

//  Every member's client endpoint (or, with events, events endpoint) from
//  the member list, in its order; *incomplete as above
zlist_t *
    zkvctl_member_endpoints (zkvctl_t *ctl, bool events, bool *incomplete);

//  Go's time.Duration.String of nsecs ("1.5ms", "2m3.25s")
void
    zkvctl_go_duration (int64_t nsecs, char *buf, size_t size);

//  go-humanize's Bytes: SI units ("5.4 MB", "20 kB", "7 B")
void
    zkvctl_humanize_bytes (uint64_t bytes, char *buf, size_t size);

//  --cluster-file: sets ctl->endpoints to the client endpoints of the
//  members in the cluster file, unless --endpoints was given, and each
//  certificate to the file's (a secure cluster's) unless given as a flag
//  (--cert, --server-cert). Returns 0, or -1 (exit 128) when the file
//  cannot be read or lists no endpoint.
int
    zkvctl_cluster_file_load (zkvctl_t *ctl);

//  ---------------------------------------------------------------------
//  zkvctl_output.c: printers and formatting helpers

//  Sets ctl->format from ctl->write_out; -1 if it names no printer
int
    zkvctl_output_parse (zkvctl_t *ctl);

void
    zkvctl_print_put (zkvctl_t *ctl, const zkv_put_response_t *response);
void
    zkvctl_print_range (zkvctl_t *ctl, const zkv_range_response_t *response,
                        const zkvctl_view_t *view);
void
    zkvctl_print_delete (zkvctl_t *ctl, const zkv_delete_range_response_t *response);

//  views [i] tells how to print the i-th response when it is a range
//  (NULL or fewer: plainly)
void
    zkvctl_print_txn (zkvctl_t *ctl, const zkv_txn_response_t *response,
                      const zkvctl_view_t *views, size_t view_count);

//  member list, in every format (table too)
void
    zkvctl_print_member_list (zkvctl_t *ctl, const zkv_member_list_response_t *response);

//  One member as Go's encoding/json writes an etcdserverpb.Member
void
    zkvctl_json_member (FILE *out, const zkv_cluster_member_t *member);

//  The JSON of a Cluster service reply, as Go's encoding/json writes
//  etcd's: header, the member added (NULL: none), the members
void
    zkvctl_json_members (FILE *out, const zkv_header_t *header,
                         const zkv_cluster_member_t *member,
                         const zkv_cluster_member_list_t *members);

//  A table of rows (row_count x columns cells) under header, as etcdctl's
//  tablewriter draws it
void
    zkvctl_table_print (const char *const *header, size_t columns, const char *const *cells,
                        size_t row_count);

//  JSON pieces, as Go's encoding/json writes them: the name of the next
//  member of an object (a comma before all but the first), a header
//  member (nothing when header is NULL), a string
void
    zkvctl_json_name (FILE *out, bool *first, const char *name);
void
    zkvctl_json_header (FILE *out, bool *first, const zkv_header_t *header);
void
    zkvctl_json_string (FILE *out, zkv_bin_t bin);
//  A number member, left out when 0 (Go's omitempty)
void
    zkvctl_json_int (FILE *out, bool *first, const char *name, int64_t value);

//  The header lines of etcdctl's fields printer
void
    zkvctl_fields_header (zkvctl_t *ctl, const zkv_header_t *header);

//  Go's strconv.Quote of bytes (%q), as a fresh string
char *
    zkvctl_quote (const void *data, size_t size);

//  Decodes one UTF-8 sequence as Go does: returns its length and the rune,
//  or 0 when the bytes at data are not valid UTF-8
size_t
    zkvctl_utf8_decode (const uint8_t *data, size_t size, uint32_t *rune);

//  Encodes rune as UTF-8 into out (4 bytes room); returns the length
size_t
    zkvctl_utf8_encode (uint32_t rune, uint8_t *out);

#endif
