/*  =========================================================================
    zkvctl_endpoint.c — `endpoint status`, `endpoint health`, `endpoint
    hashkv` and `endpoint hash`, as etcdctl 3.6 has them
    (etcdctl/ctlv3/command/ep_command.go and its printers).

    Each asks every endpoint in turn: those of --endpoints (or of the
    cluster file), or with --cluster every member's client endpoint, in
    the member list's order. A failed endpoint is reported on stderr
    (`Failed to get the status of endpoint <ep> (<err>)`), the others are
    printed, and the exit code is 1.

    Printers: simple (the table's rows, cells joined by ", "), table, json
    (`[{"Endpoint":…,"Status":{…}}]`, etcd's JSON field names, 64-bit
    numbers as numbers), fields (etcdctl 3.4's: `"Endpoint" : "<ep>"`,
    `"Health" : true`, `"Took" : 1.2ms`, `"Error" : ` and a blank line
    for each health check).

    zkv's own: Status rows carry the member's name and raft role after
    etcd's columns; `endpoint hash` (etcd's Hash RPC) prints like hashkv.
    DEVIATION: --cluster reads the member list serializably (from the
    member asked), so that it works while the cluster has no leader.
    =========================================================================
*/
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"

//  ---------------------------------------------------------------------
//  Go's and humanize's formats

void
zkvctl_go_duration (int64_t nsecs, char *buf, size_t size)
{
    //  Go's time.Duration.String: "1.5ms", "2m3.25s", "0s"
    if (nsecs == 0) {
        snprintf (buf, size, "0s");
        return;
    }
    const char *sign = nsecs < 0? "-": "";
    uint64_t value = nsecs < 0? (uint64_t) -nsecs: (uint64_t) nsecs;
    const char *unit;
    int digits;
    char prefix [48] = "";
    if (value < 1000) {
        snprintf (buf, size, "%s%" PRIu64 "ns", sign, value);
        return;
    }
    if (value < 1000000) {
        unit = "µs";
        digits = 3;
    }
    else
    if (value < 1000000000) {
        unit = "ms";
        digits = 6;
    }
    else {
        unit = "s";
        digits = 9;
        uint64_t minutes = value / 60000000000ULL;
        value %= 60000000000ULL;
        if (minutes >= 60)
            snprintf (prefix, sizeof prefix, "%" PRIu64 "h%" PRIu64 "m", minutes / 60,
                      minutes % 60);
        else
        if (minutes > 0)
            snprintf (prefix, sizeof prefix, "%" PRIu64 "m", minutes);
    }
    uint64_t scale = 1;
    for (int i = 0; i < digits; i++)
        scale *= 10;
    char fraction [16] = "";
    if (value % scale) {
        snprintf (fraction, sizeof fraction, ".%0*" PRIu64, digits, value % scale);
        size_t length = strlen (fraction);
        while (length > 1 && fraction [length - 1] == '0')
            fraction [--length] = 0;
    }
    snprintf (buf, size, "%s%s%" PRIu64 "%s%s", sign, prefix, value / scale, fraction, unit);
}

void
zkvctl_humanize_bytes (uint64_t bytes, char *buf, size_t size)
{
    //  go-humanize's Bytes: SI units, one decimal below 10
    static const char *units [] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
    if (bytes < 10) {
        snprintf (buf, size, "%" PRIu64 " B", bytes);
        return;
    }
    int exponent = (int) floor (log ((double) bytes) / log (1000.0));
    if (exponent > 6)
        exponent = 6;
    double value = floor ((double) bytes / pow (1000.0, exponent) * 10 + 0.5) / 10;
    snprintf (buf, size, value < 10? "%.1f %s": "%.0f %s", value, units [exponent]);
}

//  ---------------------------------------------------------------------
//  Which endpoints

zlist_t *
zkvctl_member_endpoints (zkvctl_t *ctl, bool events, bool *incomplete)
{
    *incomplete = false;
    zkv_member_list_t request = { .linearizable = false };
    zkv_msg_t *reply = zkvctl_call (ctl, &zkv_member_list_desc, &request);
    if (!reply)
        return NULL;
    zlist_t *list = zlist_new ();
    zlist_autofree (list);
    const zkv_member_list_response_t *response =
        (const zkv_member_list_response_t *) reply->body;
    for (size_t i = 0; i < response->members.count; i++) {
        const zkv_cluster_member_t *member = &response->members.items [i];
        zkv_bin_t found = events? member->events_endpoint: member->client_endpoint;
        if (found.size) {
            char *endpoint = zsys_sprintf ("%.*s", (int) found.size, (const char *) found.data);
            zlist_append (list, endpoint);
            free (endpoint);
        }
        else {
            //  Not started yet, or never published: not silently left out
            fprintf (stderr, "Member %016" PRIx64 " (%.*s) has no %s endpoint yet\n",
                     member->member_id, (int) member->name.size,
                     member->name.data? (const char *) member->name.data: "",
                     events? "events": "client");
            *incomplete = true;
        }
    }
    zkv_msg_destroy (&reply);
    return list;
}

zlist_t *
zkvctl_endpoints (zkvctl_t *ctl, bool cluster, bool *incomplete)
{
    if (cluster)
        return zkvctl_member_endpoints (ctl, false, incomplete);
    *incomplete = false;
    zlist_t *list = zlist_new ();
    zlist_autofree (list);
    char *endpoints = strdup (ctl->endpoints);
    char *saved = NULL;
    for (char *item = strtok_r (endpoints, ",", &saved); item;
         item = strtok_r (NULL, ",", &saved))
        zlist_append (list, item);
    free (endpoints);
    return list;
}

//  ---------------------------------------------------------------------
//  What the subcommands share

//  One endpoint's answer
typedef struct {
    char *endpoint;
    zkv_msg_t *reply;
} s_answer_t;

//  Parses the subcommand's flags (--cluster and extra), checks the
//  settings and finds the endpoints. Returns 0, ZKVCTL_HELP, or -1.
static int
s_prepare (zkvctl_t *ctl, const zkvctl_command_t *command, zkvctl_flag_t *extra,
           int argc, char **argv, zlist_t **endpoints, bool *incomplete)
{
    bool cluster = false;
    zkvctl_flag_t flags [4] = {
        { "cluster", 0, ZKVCTL_FLAG_BOOL, &cluster, "false",
          "use all endpoints from the cluster member list", false },
    };
    for (size_t i = 0; extra && extra [i].name; i++)
        flags [1 + i] = extra [i];
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, command, flags, true, argc - 1, argv + 1, NULL,
                                 positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? ZKVCTL_HELP: -1;
    for (size_t i = 0; extra && extra [i].name; i++)
        extra [i].changed = flags [1 + i].changed;
    if (zkvctl_ready (ctl, true))
        return -1;
    *endpoints = zkvctl_endpoints (ctl, cluster, incomplete);
    return *endpoints? 0: -1;
}

//  Sends request to every endpoint; returns the answers of those that
//  answered (failures reported on stderr as `Failed to get the <what> of
//  endpoint <ep> (<err>)`) and sets *failed when one did not
static s_answer_t *
s_ask_each (zkvctl_t *ctl, zlist_t *endpoints, const zkv_desc_t *desc, const void *request,
            const char *what, size_t *count, bool *failed)
{
    s_answer_t *answers = (s_answer_t *) calloc (zlist_size (endpoints) + 1,
                                                 sizeof (s_answer_t));
    *count = 0;
    *failed = false;
    for (char *endpoint = (char *) zlist_first (endpoints); endpoint;
         endpoint = (char *) zlist_next (endpoints)) {
        zkv_msg_t *reply = zkvctl_call_at (ctl, endpoint, desc, request);
        if (!reply) {
            fprintf (stderr, "Failed to get the %s of endpoint %s (%s)\n", what, endpoint,
                     ctl->error);
            *failed = true;
            continue;
        }
        answers [*count].endpoint = strdup (endpoint);
        answers [*count].reply = reply;
        (*count)++;
    }
    return answers;
}

static void
s_answers_free (s_answer_t *answers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free (answers [i].endpoint);
        zkv_msg_destroy (&answers [i].reply);
    }
    free (answers);
}

//  Prints rows (count x columns cells, owned) as simple or table
static void
s_print_rows (zkvctl_t *ctl, const char *const *header, size_t columns, char **cells,
              size_t count)
{
    if (ctl->format == ZKVCTL_FORMAT_TABLE)
        zkvctl_table_print (header, columns, (const char *const *) cells, count);
    else
        for (size_t r = 0; r < count; r++)
            for (size_t i = 0; i < columns; i++)
                printf ("%s%s", cells [r * columns + i], i + 1 < columns? ", ": "\n");
    for (size_t i = 0; i < count * columns; i++)
        free (cells [i]);
    free (cells);
}

static void
s_json_u64 (bool *first, const char *name, uint64_t value)
{
    if (value) {
        zkvctl_json_name (stdout, first, name);
        printf ("%" PRIu64, value);
    }
}

static void
s_json_str (bool *first, const char *name, zkv_bin_t value)
{
    if (value.size) {
        zkvctl_json_name (stdout, first, name);
        zkvctl_json_string (stdout, value);
    }
}

//  The end of every subcommand: exit 1 if an endpoint failed, with
//  nothing more said (etcdctl's os.Exit (ExitError))
static int
s_finish (zkvctl_t *ctl, s_answer_t *answers, size_t count, zlist_t **endpoints, bool failed)
{
    s_answers_free (answers, count);
    zlist_destroy (endpoints);
    if (failed)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", "");
    return 0;
}

//  ---------------------------------------------------------------------
//  endpoint status

static int s_status_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_status_command = {
    "status", "endpoint status [flags]",
    "Prints out the status of endpoints specified in `--endpoints` flag", s_status_run, NULL, NULL
};

//  The error strings of a Status, joined by ", "
static char *
s_errors_joined (const zkv_status_response_t *status)
{
    size_t room = 1;
    for (size_t i = 0; i < status->errors.count; i++)
        room += status->errors.items [i].message.size + 2;
    char *text = (char *) zmalloc (room);
    for (size_t i = 0; i < status->errors.count; i++) {
        if (i)
            strcat (text, ", ");
        strncat (text, (const char *) status->errors.items [i].message.data,
                 status->errors.items [i].message.size);
    }
    return text;
}

static void
s_status_json (s_answer_t *answers, size_t count)
{
    printf ("[");
    for (size_t i = 0; i < count; i++) {
        const zkv_status_response_t *status =
            (const zkv_status_response_t *) answers [i].reply->body;
        printf ("%s{\"Endpoint\":", i? ",": "");
        zkvctl_json_string (stdout, zkv_bin (answers [i].endpoint,
                                             strlen (answers [i].endpoint)));
        printf (",\"Status\":{");
        bool first = true;
        zkvctl_json_header (stdout, &first, status->header);
        s_json_str (&first, "version", status->version);
        zkvctl_json_int (stdout, &first, "dbSize", status->db_size);
        s_json_u64 (&first, "leader", status->leader);
        s_json_u64 (&first, "raftIndex", status->raft_index);
        s_json_u64 (&first, "raftTerm", status->raft_term);
        s_json_u64 (&first, "raftAppliedIndex", status->raft_applied_index);
        if (status->errors.count) {
            zkvctl_json_name (stdout, &first, "errors");
            printf ("[");
            for (size_t e = 0; e < status->errors.count; e++) {
                printf ("%s", e? ",": "");
                zkvctl_json_string (stdout, status->errors.items [e].message);
            }
            printf ("]");
        }
        zkvctl_json_int (stdout, &first, "dbSizeInUse", status->db_size_in_use);
        if (status->is_learner) {
            zkvctl_json_name (stdout, &first, "isLearner");
            printf ("true");
        }
        s_json_str (&first, "storageVersion", status->storage_version);
        zkvctl_json_int (stdout, &first, "dbSizeQuota", status->db_size_quota);
        zkvctl_json_name (stdout, &first, "downgradeInfo");
        printf ("{}");
        s_json_str (&first, "name", status->name);
        s_json_str (&first, "role", status->role);
        s_json_str (&first, "eventsEndpoint", status->events_endpoint);
        printf ("}}");
    }
    printf ("]\n");
}

static void
s_status_fields (zkvctl_t *ctl, s_answer_t *answers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const zkv_status_response_t *status =
            (const zkv_status_response_t *) answers [i].reply->body;
        zkvctl_fields_header (ctl, status->header);
        printf ("\"Version\" : \"%.*s\"\n", (int) status->version.size,
                status->version.data? (const char *) status->version.data: "");
        printf ("\"DBSize\" : %" PRId64 "\n", status->db_size);
        printf ("\"Leader\" : %" PRIu64 "\n", status->leader);
        printf ("\"IsLearner\" : %s\n", status->is_learner? "true": "false");
        printf ("\"RaftIndex\" : %" PRIu64 "\n", status->raft_index);
        printf ("\"RaftTerm\" : %" PRIu64 "\n", status->raft_term);
        printf ("\"RaftAppliedIndex\" : %" PRIu64 "\n", status->raft_applied_index);
        char *errors = s_errors_joined (status);
        printf ("\"Errors\" : [%s]\n", errors);
        free (errors);
        printf ("\"Endpoint\" : \"%s\"\n\n", answers [i].endpoint);
    }
}

static int
s_status_run (zkvctl_t *ctl, int argc, char **argv)
{
    zlist_t *endpoints = NULL;
    bool incomplete = false;
    int rc = s_prepare (ctl, &s_status_command, NULL, argc, argv, &endpoints, &incomplete);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    zkv_status_t request = { false };
    size_t count;
    bool failed;
    s_answer_t *answers = s_ask_each (ctl, endpoints, &zkv_status_desc, &request, "status",
                                      &count, &failed);
    failed |= incomplete;
    if (ctl->format == ZKVCTL_FORMAT_JSON)
        s_status_json (answers, count);
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        s_status_fields (ctl, answers, count);
    else {
        static const char *header [] = {
            "endpoint", "ID", "version", "storage version", "db size", "in use",
            "percentage not in use", "quota", "is leader", "is learner", "raft term",
            "raft index", "raft applied index", "errors", "downgrade target version",
            "downgrade enabled", "name", "role"
        };
        size_t columns = sizeof header / sizeof header [0];
        char **cells = (char **) calloc (count * columns + 1, sizeof (char *));
        for (size_t r = 0; r < count; r++) {
            const zkv_status_response_t *status =
                (const zkv_status_response_t *) answers [r].reply->body;
            uint64_t member = status->header? status->header->member_id: 0;
            char size [32], in_use [32], quota [32];
            zkvctl_humanize_bytes ((uint64_t) status->db_size, size, sizeof size);
            zkvctl_humanize_bytes ((uint64_t) status->db_size_in_use, in_use, sizeof in_use);
            zkvctl_humanize_bytes ((uint64_t) status->db_size_quota, quota, sizeof quota);
            int not_in_use = status->db_size > 0
                           ? (int) (100 - status->db_size_in_use * 100 / status->db_size): 0;
            char **row = cells + r * columns;
            row [0] = strdup (answers [r].endpoint);
            row [1] = zsys_sprintf ("%" PRIx64, member);
            row [2] = zsys_sprintf ("%.*s", (int) status->version.size,
                                    status->version.data? (const char *) status->version.data: "");
            row [3] = zsys_sprintf ("%.*s", (int) status->storage_version.size,
                                    status->storage_version.data
                                    ? (const char *) status->storage_version.data: "");
            row [4] = strdup (size);
            row [5] = strdup (in_use);
            row [6] = zsys_sprintf ("%d%%", not_in_use);
            row [7] = strdup (quota);
            row [8] = strdup (status->leader == member? "true": "false");
            row [9] = strdup (status->is_learner? "true": "false");
            row [10] = zsys_sprintf ("%" PRIu64, status->raft_term);
            row [11] = zsys_sprintf ("%" PRIu64, status->raft_index);
            row [12] = zsys_sprintf ("%" PRIu64, status->raft_applied_index);
            row [13] = s_errors_joined (status);
            row [14] = strdup ("");
            row [15] = strdup ("false");
            row [16] = zsys_sprintf ("%.*s", (int) status->name.size,
                                     status->name.data? (const char *) status->name.data: "");
            row [17] = zsys_sprintf ("%.*s", (int) status->role.size,
                                     status->role.data? (const char *) status->role.data: "");
        }
        s_print_rows (ctl, header, columns, cells, count);
    }
    return s_finish (ctl, answers, count, &endpoints, failed);
}

//  ---------------------------------------------------------------------
//  endpoint hashkv and endpoint hash

static int s_hashkv_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_hashkv_command = {
    "hashkv", "endpoint hashkv [flags]",
    "Prints the KV history hash for each endpoint in --endpoints", s_hashkv_run, NULL, NULL
};
static int s_hash_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_hash_command = {
    "hash", "endpoint hash [flags]",
    "Prints the hash of the whole member state for each endpoint in --endpoints",
    s_hash_run, NULL, NULL
};

//  hashkv (kv true) or hash: the answers, in every format
static void
s_hash_print (zkvctl_t *ctl, s_answer_t *answers, size_t count, bool kv)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        printf ("[");
        for (size_t i = 0; i < count; i++) {
            printf ("%s{\"Endpoint\":", i? ",": "");
            zkvctl_json_string (stdout, zkv_bin (answers [i].endpoint,
                                                 strlen (answers [i].endpoint)));
            printf (",\"%s\":{", kv? "HashKV": "Hash");
            bool first = true;
            if (kv) {
                const zkv_hash_kv_response_t *r =
                    (const zkv_hash_kv_response_t *) answers [i].reply->body;
                zkvctl_json_header (stdout, &first, r->header);
                s_json_u64 (&first, "hash", r->hash);
                zkvctl_json_int (stdout, &first, "compact_revision", r->compact_revision);
                zkvctl_json_int (stdout, &first, "hash_revision", r->hash_revision);
            }
            else {
                const zkv_hash_response_t *r = (const zkv_hash_response_t *) answers [i].reply->body;
                zkvctl_json_header (stdout, &first, r->header);
                s_json_u64 (&first, "hash", r->hash);
            }
            printf ("}}");
        }
        printf ("]\n");
        return;
    }
    if (ctl->format == ZKVCTL_FORMAT_FIELDS) {
        for (size_t i = 0; i < count; i++) {
            const zkv_hash_kv_response_t *r = (const zkv_hash_kv_response_t *) answers [i].reply->body;
            const zkv_hash_response_t *h = (const zkv_hash_response_t *) answers [i].reply->body;
            zkvctl_fields_header (ctl, kv? r->header: h->header);
            printf ("\"Endpoint\" : \"%s\"\n", answers [i].endpoint);
            printf ("\"Hash\" : %" PRIu64 "\n", kv? r->hash: h->hash);
            if (kv)
                printf ("\"HashRevision\" : %" PRId64 "\n", r->hash_revision);
            printf ("\n");
        }
        return;
    }
    static const char *header [] = { "endpoint", "hash", "hash_revision" };
    size_t columns = kv? 3: 2;
    char **cells = (char **) calloc (count * columns + 1, sizeof (char *));
    for (size_t r = 0; r < count; r++) {
        char **row = cells + r * columns;
        row [0] = strdup (answers [r].endpoint);
        if (kv) {
            const zkv_hash_kv_response_t *response =
                (const zkv_hash_kv_response_t *) answers [r].reply->body;
            row [1] = zsys_sprintf ("%" PRIu64, response->hash);
            row [2] = zsys_sprintf ("%" PRId64, response->hash_revision);
        }
        else
            row [1] = zsys_sprintf ("%" PRIu64,
                                    ((const zkv_hash_response_t *) answers [r].reply->body)->hash);
    }
    s_print_rows (ctl, header, columns, cells, count);
}

static int
s_hashkv_run (zkvctl_t *ctl, int argc, char **argv)
{
    int64_t revision = 0;
    zkvctl_flag_t extra [] = {
        { "rev", 0, ZKVCTL_FLAG_INT64, &revision, "0",
          "maximum revision to hash (default: latest revision)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zlist_t *endpoints = NULL;
    bool incomplete = false;
    int rc = s_prepare (ctl, &s_hashkv_command, extra, argc, argv, &endpoints, &incomplete);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    zkv_hash_kv_t request = { .revision = revision };
    size_t count;
    bool failed;
    s_answer_t *answers = s_ask_each (ctl, endpoints, &zkv_hash_kv_desc, &request, "hash",
                                      &count, &failed);
    failed |= incomplete;
    s_hash_print (ctl, answers, count, true);
    return s_finish (ctl, answers, count, &endpoints, failed);
}

static int
s_hash_run (zkvctl_t *ctl, int argc, char **argv)
{
    zlist_t *endpoints = NULL;
    bool incomplete = false;
    int rc = s_prepare (ctl, &s_hash_command, NULL, argc, argv, &endpoints, &incomplete);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    zkv_hash_t request = { false };
    size_t count;
    bool failed;
    s_answer_t *answers = s_ask_each (ctl, endpoints, &zkv_hash_desc, &request, "hash",
                                      &count, &failed);
    failed |= incomplete;
    s_hash_print (ctl, answers, count, false);
    return s_finish (ctl, answers, count, &endpoints, failed);
}

//  ---------------------------------------------------------------------
//  endpoint health

static int s_health_run (zkvctl_t *ctl, int argc, char **argv);
static const zkvctl_command_t s_health_command = {
    "health", "endpoint health [flags]",
    "Checks the healthiness of endpoints specified in `--endpoints` flag", s_health_run, NULL, NULL
};

typedef struct {
    char *endpoint;
    bool health;
    char took [32];
    char error [sizeof ((zkvctl_t *) 0)->error];
} s_health_t;

//  etcd's check: a linearizable get succeeds, then no alarm is active
//  (the alarms are those Status lists after `etcdserver: no leader`)
static void
s_health_check (zkvctl_t *ctl, const char *endpoint, s_health_t *health)
{
    health->endpoint = strdup (endpoint);
    int64_t started = zclock_usecs ();
    zkv_range_t get = { .key = zkv_bin ("health", 6) };
    zkv_msg_t *reply = zkvctl_call_at (ctl, endpoint, &zkv_range_desc, &get);
    zkvctl_go_duration ((zclock_usecs () - started) * 1000, health->took, sizeof health->took);
    if (!reply) {
        snprintf (health->error, sizeof health->error, "%s", ctl->error);
        return;
    }
    zkv_msg_destroy (&reply);
    health->health = true;
    zkv_status_t request = { false };
    reply = zkvctl_call_at (ctl, endpoint, &zkv_status_desc, &request);
    if (!reply) {
        health->health = false;
        snprintf (health->error, sizeof health->error, "Unable to fetch the alarm list");
        return;
    }
    const zkv_status_response_t *status = (const zkv_status_response_t *) reply->body;
    for (size_t i = 0; i < status->errors.count; i++) {
        zkv_bin_t message = status->errors.items [i].message;
        char text [256];
        snprintf (text, sizeof text, "%.*s", (int) message.size, (const char *) message.data);
        const char *alarm = strstr (text, "alarm:");
        if (!alarm)
            continue;
        if (health->health) {
            health->health = false;
            snprintf (health->error, sizeof health->error, "Active Alarm(s): ");
        }
        alarm += strlen ("alarm:");
        size_t length = strlen (health->error);
        snprintf (health->error + length, sizeof health->error - length, "%s ",
                  strncmp (alarm, "NOSPACE", 7) == 0? "NOSPACE"
                  : strncmp (alarm, "CORRUPT", 7) == 0? "CORRUPT": "UNKNOWN");
    }
    zkv_msg_destroy (&reply);
}

static int
s_health_run (zkvctl_t *ctl, int argc, char **argv)
{
    zlist_t *endpoints = NULL;
    bool incomplete = false;
    int rc = s_prepare (ctl, &s_health_command, NULL, argc, argv, &endpoints, &incomplete);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    size_t count = zlist_size (endpoints);
    s_health_t *checks = (s_health_t *) calloc (count + 1, sizeof (s_health_t));
    bool unhealthy = incomplete;
    size_t n = 0;
    for (char *endpoint = (char *) zlist_first (endpoints); endpoint;
         endpoint = (char *) zlist_next (endpoints), n++) {
        s_health_check (ctl, endpoint, &checks [n]);
        unhealthy |= !checks [n].health;
    }
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        printf ("[");
        for (size_t i = 0; i < count; i++) {
            printf ("%s{\"endpoint\":", i? ",": "");
            zkvctl_json_string (stdout, zkv_bin (checks [i].endpoint,
                                                 strlen (checks [i].endpoint)));
            printf (",\"health\":%s,\"took\":", checks [i].health? "true": "false");
            zkvctl_json_string (stdout, zkv_bin (checks [i].took, strlen (checks [i].took)));
            if (checks [i].error [0]) {
                printf (",\"error\":");
                zkvctl_json_string (stdout, zkv_bin (checks [i].error,
                                                     strlen (checks [i].error)));
            }
            printf ("}");
        }
        printf ("]\n");
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_TABLE) {
        static const char *header [] = { "endpoint", "health", "took", "error" };
        char **cells = (char **) calloc (count * 4 + 1, sizeof (char *));
        for (size_t r = 0; r < count; r++) {
            cells [r * 4] = strdup (checks [r].endpoint);
            cells [r * 4 + 1] = strdup (checks [r].health? "true": "false");
            cells [r * 4 + 2] = strdup (checks [r].took);
            cells [r * 4 + 3] = strdup (checks [r].error);
        }
        s_print_rows (ctl, header, 4, cells, count);
    }
    else
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        //  etcdctl's fieldsPrinter, unhealthy ones too, nothing on stderr
        for (size_t i = 0; i < count; i++) {
            char *quoted = zkvctl_quote (checks [i].endpoint, strlen (checks [i].endpoint));
            printf ("\"Endpoint\" : %s\n", quoted);
            printf ("\"Health\" : %s\n", checks [i].health? "true": "false");
            printf ("\"Took\" : %s\n", checks [i].took);
            printf ("\"Error\" : %s\n\n", checks [i].error);
            free (quoted);
        }
    else
        for (size_t i = 0; i < count; i++)
            if (checks [i].health)
                printf ("%s is healthy: successfully committed proposal: took = %s\n",
                        checks [i].endpoint, checks [i].took);
            else
                fprintf (stderr, "%s is unhealthy: failed to commit proposal: %s\n",
                         checks [i].endpoint, checks [i].error);
    for (size_t i = 0; i < count; i++)
        free (checks [i].endpoint);
    free (checks);
    zlist_destroy (&endpoints);
    if (unhealthy)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "unhealthy cluster");
    return 0;
}

//  ---------------------------------------------------------------------
//  endpoint

static const zkvctl_command_t *const s_endpoint_commands [] = {
    &s_hash_command,
    &s_hashkv_command,
    &s_health_command,
    &s_status_command,
    NULL
};

static int
s_endpoint_run (zkvctl_t *ctl, int argc, char **argv)
{
    return zkvctl_subcommand_run (ctl, &zkvctl_endpoint_command, argc, argv);
}

const zkvctl_command_t zkvctl_endpoint_command = {
    "endpoint", "endpoint <subcommand> [flags]", "Endpoint related commands",
    s_endpoint_run, s_endpoint_commands, NULL
};
