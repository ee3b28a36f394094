/*  =========================================================================
    zkvctl_check.c — `check perf` and `check datascale`, as etcdctl 3.4
    has them (etcdctl/ctlv3/command/check.go): the same loads, keys,
    progress bar, lines, clean-up and exit codes.

    check perf [--load s|m|l|xl] [--prefix P] [--auto-compact] [--auto-defrag]
        Refuses a prefix that holds keys (exit 3). Then, for 60 s, puts of
        a 256-byte key (after the prefix) and a 1 KiB value, at most
        `limit` per second over `clients` clients:
            load  limit/s  clients           load  limit/s  clients
            s         150       50           l        8000      500
            m        1000      200           xl      15000     1000
        deletes the prefix, compacts at the delete's revision (physical)
        with --auto-compact, defragments each endpoint with --auto-defrag,
        and judges: throughput above 90 % of the limit, slowest put at most
        0.5 s, standard deviation at most 0.1 s. `PASS` (exit 0) or `FAIL`
        (exit 1) last.
    check datascale [same flags]
        Puts `limit` keys of 512 + 512 bytes as fast as `clients` clients
        go (s: 10000 over 50, m: 100000 over 200, l: 1000000 over 500, xl:
        3000000 over 1000), and tells how much the resident memory of the
        first endpoint's member grew meanwhile, read from its /metrics
        (process_resident_memory_bytes) before and after.
    --load also takes small, medium, large, xLarge. Like etcdctl, the
    FAIL lines of the slowest put and of the deviation have no "FAIL: ".

    zkv's members serve /metrics on an HTTP port of their own, not on the
    client endpoint as etcd does: datascale asks the first endpoint's
    Status for its metrics_url. A member that serves no metrics (empty
    metrics_url) fails the check before any put (exit 1).

    DEVIATIONS: a --load etcdctl does not know exits 128, zkvctl's code
    for a bad flag value (etcdctl: 4, see zkvctl_main.c). The refusal of
    a prefix that holds keys says to delete them with zkvctl, not
    etcdctl. datascale's first read and its delete wait an hour at most
    (etcdctl: for ever); each put waits --command-timeout at most (see
    zkvctl_load.c).

    For tests only: ZKV_CHECK_SECONDS=N makes perf put for N seconds, and
    ZKV_CHECK_PUTS=N makes datascale put N keys (not ZKVCTL_ variables:
    those name global flags).
    =========================================================================
*/
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"

#define S_NSECS_PER_SEC     1000000000LL
#define S_PERF_GET_TIMEOUT  (60 * S_NSECS_PER_SEC)      //  etcdctl: the load's duration
#define S_CLEANUP_TIMEOUT   (30 * S_NSECS_PER_SEC)      //  delete, compact, each defrag
#define S_LONG_TIMEOUT      (3600 * S_NSECS_PER_SEC)    //  where etcdctl has none

static const char *s_memory_metric = "process_resident_memory_bytes";

//  The loads, by model, as check.go's checkPerfCfgMap / checkDatascaleCfgMap
typedef struct {
    const char *model;
    int limit;                          //  perf: puts per second; datascale: puts
    int clients;
    int duration;                       //  perf: seconds
    int kv_size;                        //  datascale: bytes per key and value
} s_load_t;

static const s_load_t s_perf_loads [] = {
    { "s",  150,   50,   60, 0 },
    { "m",  1000,  200,  60, 0 },
    { "l",  8000,  500,  60, 0 },
    { "xl", 15000, 1000, 60, 0 },
    { NULL, 0, 0, 0, 0 }
};

static const s_load_t s_datascale_loads [] = {
    { "s",  10000,   50,   0, 1024 },
    { "m",  100000,  200,  0, 1024 },
    { "l",  1000000, 500,  0, 1024 },
    { "xl", 3000000, 1000, 0, 1024 },
    { NULL, 0, 0, 0, 0 }
};

//  The options of both checks
typedef struct {
    const char *load;
    const char *prefix;
    bool auto_compact;
    bool auto_defrag;
} s_options_t;

static int s_check_run (zkvctl_t *ctl, int argc, char **argv);
static int s_perf_run (zkvctl_t *ctl, int argc, char **argv);
static int s_datascale_run (zkvctl_t *ctl, int argc, char **argv);

static const zkvctl_command_t s_perf_command = {
    "perf", "check perf [options]", "Check the performance of the zkv cluster",
    s_perf_run, NULL, NULL
};
static const zkvctl_command_t s_datascale_command = {
    "datascale", "check datascale [options]",
    "Check the memory usage of holding data for different workloads on a given server "
    "endpoint.", s_datascale_run, NULL,
    "\tIf no endpoint is provided, localhost will be used. If multiple endpoints are "
    "provided, first endpoint will be used.\n"
};
static const zkvctl_command_t *const s_subcommands [] = {
    &s_datascale_command, &s_perf_command, NULL
};
const zkvctl_command_t zkvctl_check_command = {
    "check", "check <subcommand>", "commands for checking properties of the zkv cluster",
    s_check_run, s_subcommands, NULL
};

static int
s_check_run (zkvctl_t *ctl, int argc, char **argv)
{
    return zkvctl_subcommand_run (ctl, &zkvctl_check_command, argc, argv);
}

//  Parses the options of command (perf: true) into options; the load they
//  name into *load. Returns 0, ZKVCTL_HELP, or -1.
static int
s_parse (zkvctl_t *ctl, bool perf, int argc, char **argv, s_options_t *options,
         const s_load_t **load)
{
    memset (options, 0, sizeof *options);   //  the flags set only what is given
    const char *name = perf? "performance": "datascale";
    char load_help [160], prefix_help [96], prefix_default [64];
    snprintf (load_help, sizeof load_help, "The %s check's workload model. Accepted "
              "workloads: s(small), m(medium), l(large), xl(xLarge)", name);
    snprintf (prefix_help, sizeof prefix_help, "The prefix for writing the %s check's keys.",
              name);
    options->load = "s";
    options->prefix = perf? "/etcdctl-check-perf/": "/etcdctl-check-datascale/";
    snprintf (prefix_default, sizeof prefix_default, "\"%s\"", options->prefix);
    zkvctl_flag_t flags [] = {
        { "auto-compact", 0, ZKVCTL_FLAG_BOOL, &options->auto_compact, "false",
          "Compact storage with last revision after test is finished.", false },
        { "auto-defrag", 0, ZKVCTL_FLAG_BOOL, &options->auto_defrag, "false",
          "Defragment storage after test is finished.", false },
        { "load", 0, ZKVCTL_FLAG_STRING, &options->load, "\"s\"", load_help, false },
        { "prefix", 0, ZKVCTL_FLAG_STRING, &options->prefix, prefix_default, prefix_help,
          false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, perf? &s_perf_command: &s_datascale_command, flags,
                                 true, argc - 1, argv + 1, NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? ZKVCTL_HELP: -1;
    //  etcdctl's checkPerfAlias / checkDatascaleAlias
    static const char *aliases [][2] = {
        { "s", "s" }, { "small", "s" }, { "m", "m" }, { "medium", "m" },
        { "l", "l" }, { "large", "l" }, { "xl", "xl" }, { "xLarge", "xl" }
    };
    const char *model = NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases [0] && !model; i++)
        if (streq (options->load, aliases [i][0]))
            model = aliases [i][1];
    if (!model)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown load option %s", options->load);
    for (*load = perf? s_perf_loads: s_datascale_loads; !streq ((*load)->model, model);
         (*load)++)
        ;
    return zkvctl_ready (ctl, true);
}

//  A positive count from the environment variable name (tests only), or
//  otherwise
static int64_t
s_test_override (const char *name, int64_t otherwise)
{
    const char *text = getenv (name);
    char *end = NULL;
    long long value = text? strtoll (text, &end, 10): 0;
    return text && *text && !*end && value > 0? (int64_t) value: otherwise;
}

//  zkvctl_call_at, waiting nsecs at most
static zkv_msg_t *
s_call_within (zkvctl_t *ctl, const char *endpoints, int64_t nsecs, const zkv_desc_t *desc,
               const void *request)
{
    int64_t timeout = ctl->command_timeout;
    ctl->command_timeout = nsecs;
    zkv_msg_t *reply = zkvctl_call_at (ctl, endpoints, desc, request);
    ctl->command_timeout = timeout;
    return reply;
}

//  Refuses a prefix that holds a key (exit 3), as etcdctl does
static int
s_prefix_empty (zkvctl_t *ctl, const char *prefix, int64_t nsecs)
{
    msgpack_zone *zone = msgpack_zone_new (256);
    zkv_range_t range = { .key = zkv_bin (prefix, strlen (prefix)), .limit = 1 };
    zkvctl_prefix_range (&range.key, &range.range_end, zone);
    zkv_msg_t *reply = s_call_within (ctl, ctl->endpoints, nsecs, &zkv_range_desc, &range);
    msgpack_zone_free (zone);
    if (!reply)
        return -1;
    size_t keys = ((const zkv_range_response_t *) reply->body)->kvs.count;
    zkv_msg_destroy (&reply);
    if (keys == 0)
        return 0;
    char *quoted = zkvctl_quote (prefix, strlen (prefix));
    zkvctl_fail (ctl, ZKVCTL_EXIT_INVALID_INPUT,
                 "prefix %s has keys. Delete with zkvctl del --prefix %s first", quoted, prefix);
    free (quoted);
    return -1;
}

//  After the load: deletes the prefix; with auto_compact compacts at the
//  delete's revision, with auto_defrag defragments every endpoint, saying
//  so as etcdctl does. Returns 0, or -1 with the failure recorded.
static int
s_clean_up (zkvctl_t *ctl, const s_options_t *options, int64_t delete_nsecs)
{
    msgpack_zone *zone = msgpack_zone_new (256);
    zkv_delete_range_t delete_range = { .key = zkv_bin (options->prefix,
                                                        strlen (options->prefix)) };
    zkvctl_prefix_range (&delete_range.key, &delete_range.range_end, zone);
    zkv_msg_t *reply = s_call_within (ctl, ctl->endpoints, delete_nsecs,
                                      &zkv_delete_range_desc, &delete_range);
    msgpack_zone_free (zone);
    if (!reply)
        return -1;
    const zkv_header_t *header = ((const zkv_delete_range_response_t *) reply->body)->header;
    int64_t revision = header? header->revision: 0;
    zkv_msg_destroy (&reply);
    if (options->auto_compact) {
        printf ("Compacting with revision %" PRId64 "\n", revision);
        fflush (stdout);
        zkv_compact_t compact = { revision, true };
        reply = s_call_within (ctl, ctl->endpoints, S_CLEANUP_TIMEOUT, &zkv_compact_desc,
                               &compact);
        if (!reply)
            return -1;
        zkv_msg_destroy (&reply);
        printf ("Compacted with revision %" PRId64 "\n", revision);
    }
    if (options->auto_defrag) {
        char *list = strdup (ctl->endpoints), *saved = NULL;
        int rc = 0;
        for (char *endpoint = strtok_r (list, ",", &saved); endpoint && rc == 0;
             endpoint = strtok_r (NULL, ",", &saved)) {
            char *quoted = zkvctl_quote (endpoint, strlen (endpoint));
            printf ("Defragmenting %s\n", quoted);
            fflush (stdout);
            zkv_defragment_t request = { false };
            reply = s_call_within (ctl, endpoint, S_CLEANUP_TIMEOUT, &zkv_defragment_desc,
                                   &request);
            if (reply)
                printf ("Defragmented %s\n", quoted);
            else
                rc = -1;
            zkv_msg_destroy (&reply);
            free (quoted);
        }
        free (list);
        if (rc)
            return rc;
    }
    fflush (stdout);
    return 0;
}

//  Go's %f: NaN and infinities as Go writes them
static void
s_go_float (char *buf, size_t size, double value)
{
    if (isnan (value))
        snprintf (buf, size, "NaN");
    else
    if (isinf (value))
        snprintf (buf, size, value > 0? "+Inf": "-Inf");
    else
        snprintf (buf, size, "%f", value);
}

//  The failures of the load, as etcdctl lists them; true if there were any
static bool
s_print_errors (const zkvctl_load_stats_t *stats)
{
    if (stats->error_count == 0)
        return false;
    printf ("FAIL: too many errors\n");
    for (size_t i = 0; i < stats->error_count; i++)
        printf ("FAIL: ERROR(%s) -> %" PRIu64 "\n", stats->errors [i].text,
                stats->errors [i].count);
    return true;
}

//  ---------------------------------------------------------------------
//  check perf

//  The bar of perf counts the load's seconds, not its puts
typedef struct {
    zkvctl_progress_t *bar;
    int64_t started;                    //  usecs
    int64_t seconds;                    //  the bar's total
    int64_t shown;                      //  seconds added so far
} s_perf_bar_t;

static void
s_perf_progress (void *arg, uint64_t done)
{
    (void) done;
    s_perf_bar_t *perf = (s_perf_bar_t *) arg;
    if (!perf->bar)
        return;
    int64_t seconds = (zclock_usecs () - perf->started) / 1000000;
    if (seconds > perf->seconds)
        seconds = perf->seconds;
    zkvctl_progress_add (perf->bar, seconds - perf->shown);
    perf->shown = seconds;
    if (perf->shown == perf->seconds)
        zkvctl_progress_finish (&perf->bar);
    else
        zkvctl_progress_refresh (perf->bar);
}

static int
s_perf_run (zkvctl_t *ctl, int argc, char **argv)
{
    s_options_t options;
    const s_load_t *load;
    int rc = s_parse (ctl, true, argc, argv, &options, &load);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (s_prefix_empty (ctl, options.prefix, S_PERF_GET_TIMEOUT))
        return -1;
    int64_t seconds = s_test_override ("ZKV_CHECK_SECONDS", load->duration);
    s_perf_bar_t perf = { NULL, zclock_usecs (), seconds, 0 };
    perf.bar = zkvctl_progress_start (seconds);
    zkvctl_load_t put_load = {
        .clients = (size_t) load->clients, .rate = load->limit,
        .duration = seconds * 1000000, .prefix = options.prefix,
        .key_size = 256, .value_size = 1024,
        .progress = s_perf_progress, .arg = &perf
    };
    zkvctl_load_stats_t stats;
    rc = zkvctl_load_run (ctl, &put_load, &stats);
    //  The bar ends with its last second, whenever the puts end
    while (rc == 0 && perf.bar && !zsys_interrupted) {
        zclock_sleep (50);
        s_perf_progress (&perf, 0);
    }
    zkvctl_progress_finish (&perf.bar);     //  interrupted: where it was
    if (rc == 0)
        rc = s_clean_up (ctl, &options, S_CLEANUP_TIMEOUT);
    if (rc) {
        zkvctl_load_stats_free (&stats);
        return -1;
    }
    bool ok = !s_print_errors (&stats);
    char number [64];
    if (stats.rps / load->limit <= 0.9) {
        printf ("FAIL: Throughput too low: %d writes/s\n", (int) stats.rps + 1);
        ok = false;
    }
    else
        printf ("PASS: Throughput is %d writes/s\n", (int) stats.rps + 1);
    s_go_float (number, sizeof number, stats.slowest);
    if (stats.slowest > 0.5) {
        printf ("Slowest request took too long: %ss\n", number);
        ok = false;
    }
    else
        printf ("PASS: Slowest request took %ss\n", number);
    s_go_float (number, sizeof number, stats.stddev);
    if (stats.stddev > 0.1) {
        printf ("Stddev too high: %ss\n", number);
        ok = false;
    }
    else
        printf ("PASS: Stddev is %ss\n", number);
    printf ("%s\n", ok? "PASS": "FAIL");
    zkvctl_load_stats_free (&stats);
    return ok? 0: zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", "");
}

//  ---------------------------------------------------------------------
//  check datascale

static void
s_datascale_progress (void *arg, uint64_t done)
{
    zkvctl_progress_t *bar = (zkvctl_progress_t *) arg;
    zkvctl_progress_add (bar, (int64_t) done);
    zkvctl_progress_refresh (bar);
}

//  The resident memory of the member at url, or 0 after saying on stdout
//  why it could not be read and then what etcdctl says (when: "before",
//  "after")
static double
s_resident_memory (zkvctl_t *ctl, const char *url, const char *when)
{
    char why [1024];
    int64_t msecs = (ctl->command_timeout + 999999) / 1000000;
    double bytes = zkvctl_metrics_sample (url, s_memory_metric, (int) msecs, why, sizeof why);
    if (bytes == 0) {
        if (*why)
            printf ("%s\n", why);
        printf ("FAIL: Could not read %s %s the put operations.\n", s_memory_metric, when);
    }
    return bytes;
}

//  The metrics_url of the member at endpoint, as a fresh string; NULL with
//  the failure recorded when it cannot be asked, or serves no metrics
static char *
s_metrics_url (zkvctl_t *ctl, const char *endpoint)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = zkvctl_call_at (ctl, endpoint, &zkv_status_desc, &request);
    if (!reply)
        return NULL;
    zkv_bin_t url = ((const zkv_status_response_t *) reply->body)->metrics_url;
    char *text = url.size? strndup ((const char *) url.data, url.size): NULL;
    zkv_msg_destroy (&reply);
    if (!text)
        zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "the member at %s serves no metrics (its status "
                     "has no metrics_url): cannot read %s", endpoint, s_memory_metric);
    return text;
}

static int
s_datascale_run (zkvctl_t *ctl, int argc, char **argv)
{
    s_options_t options;
    const s_load_t *load;
    int rc = s_parse (ctl, false, argc, argv, &options, &load);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (s_prefix_empty (ctl, options.prefix, S_LONG_TIMEOUT))
        return -1;
    //  The first endpoint's member is the one measured
    char *first = strndup (ctl->endpoints, strcspn (ctl->endpoints, ","));
    char *url = s_metrics_url (ctl, first);
    free (first);
    if (!url)
        return -1;
    double before = s_resident_memory (ctl, url, "before");
    if (before == 0) {
        free (url);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", "");
    }
    int64_t puts = s_test_override ("ZKV_CHECK_PUTS", load->limit);
    printf ("Start data scale check for work load [%" PRId64 " key-value pairs, %d bytes per "
            "key-value, %d concurrent clients].\n", puts, load->kv_size, load->clients);
    zkvctl_progress_t *bar = zkvctl_progress_start (puts);
    zkvctl_load_t put_load = {
        .clients = (size_t) load->clients, .count = (uint64_t) puts,
        .prefix = options.prefix, .key_size = (size_t) load->kv_size / 2,
        .value_size = (size_t) load->kv_size / 2,
        .progress = s_datascale_progress, .arg = bar
    };
    zkvctl_load_stats_t stats;
    rc = zkvctl_load_run (ctl, &put_load, &stats);
    zkvctl_progress_finish (&bar);
    if (rc) {
        zkvctl_load_stats_free (&stats);
        free (url);
        return -1;
    }
    double after = s_resident_memory (ctl, url, "after");
    free (url);
    if (after == 0) {
        zkvctl_load_stats_free (&stats);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", "");
    }
    if (s_clean_up (ctl, &options, S_LONG_TIMEOUT)) {
        zkvctl_load_stats_free (&stats);
        return -1;
    }
    bool failed = s_print_errors (&stats);
    zkvctl_load_stats_free (&stats);
    if (failed)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", "");
    printf ("PASS: Approximate system memory used : %.2f MB.\n",
            (after - before) / (1024 * 1024));
    return 0;
}
