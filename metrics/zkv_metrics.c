/*  =========================================================================
    zkv_metrics.c — the member's metrics registry and its Prometheus text
    (see zkv_metrics.h).
    =========================================================================
*/
#include "zkv_metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NSECS 1000000000.0

zkv_metrics_t zkv_metrics;

#define S_EXPONENTIAL(first_nsecs)                                                  \
    { first_nsecs, 2 * first_nsecs, 4 * first_nsecs, 8 * first_nsecs,             \
      16 * first_nsecs, 32 * first_nsecs, 64 * first_nsecs, 128 * first_nsecs,     \
      256 * first_nsecs, 512 * first_nsecs, 1024 * first_nsecs, 2048 * first_nsecs, \
      4096 * first_nsecs, 8192 * first_nsecs, 16384 * first_nsecs, 32768 * first_nsecs }

const zkv_buckets_t zkv_buckets_disk = { 14, S_EXPONENTIAL (1000000LL) };
const zkv_buckets_t zkv_buckets_hash = { 15, S_EXPONENTIAL (10000000LL) };
const zkv_buckets_t zkv_buckets_long = { 16, S_EXPONENTIAL (100000000LL) };
const zkv_buckets_t zkv_buckets_rtt = { 14, S_EXPONENTIAL (100000LL) };
const zkv_buckets_t zkv_buckets_grpc = {
    11, { 5000000LL, 10000000LL, 25000000LL, 50000000LL, 100000000LL, 250000000LL,
          500000000LL, 1000000000LL, 2500000000LL, 5000000000LL, 10000000000LL }
};

//  gRPC's status codes by number
static const char *const s_grpc_codes [ZKV_GRPC_CODES] = {
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
    "Unauthenticated"
};
#define GRPC_UNKNOWN 2

//  etcd's gRPC service and method of each client request (zkv's own
//  requests: service "zkv")
typedef struct {
    const char *op;
    const char *service;
    const char *method;
    const char *type;
} s_method_t;

static const s_method_t s_methods [] = {
    { "range",           "etcdserverpb.KV",          "Range",          "unary" },
    { "put",             "etcdserverpb.KV",          "Put",            "unary" },
    { "delete_range",    "etcdserverpb.KV",          "DeleteRange",    "unary" },
    { "txn",             "etcdserverpb.KV",          "Txn",            "unary" },
    { "compact",         "etcdserverpb.KV",          "Compact",        "unary" },
    { "status",          "etcdserverpb.Maintenance", "Status",         "unary" },
    { "hash",            "etcdserverpb.Maintenance", "Hash",           "unary" },
    { "hash_kv",         "etcdserverpb.Maintenance", "HashKV",         "unary" },
    { "defragment",      "etcdserverpb.Maintenance", "Defragment",     "unary" },
    { "snapshot",        "etcdserverpb.Maintenance", "Snapshot",       "server_stream" },
    { "snapshot_credit", "zkv",                      "SnapshotCredit", "unary" },
    { "move_leader",     "etcdserverpb.Maintenance", "MoveLeader",     "unary" },
    { "alarm",           "etcdserverpb.Maintenance", "Alarm",          "unary" },
    { "member_add",      "etcdserverpb.Cluster",     "MemberAdd",      "unary" },
    { "member_remove",   "etcdserverpb.Cluster",     "MemberRemove",   "unary" },
    { "member_update",   "etcdserverpb.Cluster",     "MemberUpdate",   "unary" },
    { "member_promote",  "etcdserverpb.Cluster",     "MemberPromote",  "unary" },
    { "member_list",     "etcdserverpb.Cluster",     "MemberList",     "unary" },
    { "fault",           "zkv",                      "Fault",          "unary" }
};
#define METHODS (sizeof s_methods / sizeof s_methods [0])

static const char *const s_actor_names [ZKV_ACTOR_COUNT] = {
    "front", "raft", "storage", "hasher", "defrag", "snapshotter", "alarm"
};

static const s_method_t *
s_method_of (const zkv_desc_t *desc)
{
    for (size_t i = 0; i < METHODS; i++)
        if (strcmp (s_methods [i].op, desc->name) == 0)
            return &s_methods [i];
    return NULL;
}

void
zkv_metrics_init (void)
{
#define ZKV_GAUGE(field, name, help)
#define ZKV_COUNTER(field, name, help)
#define ZKV_HISTOGRAM(field, name, help, bounds) zkv_metrics.field.buckets = bounds;
#include "zkv_metrics.def"
#undef ZKV_GAUGE
#undef ZKV_COUNTER
#undef ZKV_HISTOGRAM
    for (size_t i = 0; i < ZKV_REQ_COUNT; i++)
        zkv_metrics.handling [i].buckets = &zkv_buckets_grpc;
    for (size_t i = 0; i < ZKV_METRICS_PEERS; i++)
        zkv_metrics.peers [i].round_trip.buckets = &zkv_buckets_rtt;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    zkv_metrics.start_time_usecs = (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

void
zkv_metrics_observe (zkv_histogram_t *histogram, int64_t nsecs)
{
    const zkv_buckets_t *buckets = histogram->buckets;
    if (!buckets)
        return;
    if (nsecs < 0)
        nsecs = 0;
    size_t bucket = 0;
    while (bucket < buckets->count && nsecs > buckets->bounds [bucket])
        bucket++;
    atomic_fetch_add_explicit (&histogram->counts [bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&histogram->sum_nsecs, (uint64_t) nsecs, memory_order_relaxed);
}

zkv_metrics_peer_t *
zkv_metrics_peer (uint64_t id)
{
    if (id == 0)
        return NULL;
    for (size_t i = 0; i < ZKV_METRICS_PEERS; i++) {
        zkv_metrics_peer_t *peer = &zkv_metrics.peers [i];
        uint64_t held = atomic_load_explicit (&peer->id, memory_order_acquire);
        if (held == id)
            return peer;
        uint64_t free_slot = 0;
        if (held == 0 && atomic_compare_exchange_strong (&peer->id, &free_slot, id))
            return peer;
        if (atomic_load (&peer->id) == id)
            return peer;                //  another thread took it for the same peer
    }
    return NULL;
}

void
zkv_metrics_peer_release (zkv_metrics_peer_t *peer)
{
    if (!peer)
        return;
    atomic_store (&peer->sent_bytes.value, 0);
    atomic_store (&peer->received_bytes.value, 0);
    for (size_t i = 0; i <= ZKV_BUCKETS_MAX; i++)
        atomic_store (&peer->round_trip.counts [i], 0);
    atomic_store (&peer->round_trip.sum_nsecs, 0);
    atomic_store (&peer->id, 0);
}

const zkv_desc_t *
zkv_metrics_request (const char *op, size_t op_size, size_t *index)
{
    for (size_t i = 0; i < ZKV_REQ_COUNT; i++) {
        const char *name = zkv_requests [i]->name;
        if (strlen (name) == op_size && memcmp (name, op, op_size) == 0) {
            *index = i;
            return zkv_requests [i];
        }
    }
    return NULL;
}

size_t
zkv_metrics_grpc_code (const char *code, size_t code_size)
{
    for (size_t i = 0; i < ZKV_GRPC_CODES; i++)
        if (strlen (s_grpc_codes [i]) == code_size
        &&  memcmp (s_grpc_codes [i], code, code_size) == 0)
            return i;
    return GRPC_UNKNOWN;
}

void
zkv_metrics_handled (const char *op, size_t op_size, const char *code, size_t code_size)
{
    size_t index;
    if (zkv_metrics_request (op, op_size, &index))
        zkv_metrics_add (&zkv_metrics.handled [index][zkv_metrics_grpc_code (code, code_size)],
                         1);
}

void
zkv_metrics_sent_to (zkv_actor_t actor)
{
    if (actor < ZKV_ACTOR_COUNT)
        zkv_metrics_shift (&zkv_metrics.actors [actor].queued, 1);
}

void
zkv_metrics_received_by (zkv_actor_t actor)
{
    if (actor < ZKV_ACTOR_COUNT) {
        zkv_metrics_shift (&zkv_metrics.actors [actor].queued, -1);
        zkv_metrics_add (&zkv_metrics.actors [actor].handled, 1);
    }
}

zkv_actor_t
zkv_metrics_actor_of (const char *endpoint)
{
    const char *name = endpoint? strrchr (endpoint, '-'): NULL;
    name = name? name + 1: endpoint;
    for (size_t i = 0; name && i < ZKV_ACTOR_COUNT; i++)
        if (strcmp (name, s_actor_names [i]) == 0)
            return (zkv_actor_t) i;
    return ZKV_ACTOR_COUNT;
}

//  ---------------------------------------------------------------------
//  Printing

static uint64_t
s_count (const zkv_counter_t *counter)
{
    return atomic_load_explicit (&counter->value, memory_order_relaxed);
}

static int64_t
s_value (const zkv_gauge_t *gauge)
{
    return atomic_load_explicit (&gauge->value, memory_order_relaxed);
}

static void
s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  One histogram's series; labels ("" or `a="b",`) go before le
static void
s_histogram (FILE *out, const char *name, const char *labels, const zkv_histogram_t *histogram)
{
    const zkv_buckets_t *buckets = histogram->buckets;
    size_t count = buckets? buckets->count: 0;
    uint64_t total = 0;
    for (size_t i = 0; i <= count; i++) {
        total += atomic_load_explicit (&histogram->counts [i], memory_order_relaxed);
        if (i < count)
            fprintf (out, "%s_bucket{%sle=\"%g\"} %" PRIu64 "\n", name, labels,
                     buckets->bounds [i] / NSECS, total);
        else
            fprintf (out, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, total);
    }
    //  labels without their trailing comma, in braces, or nothing
    size_t length = strlen (labels);
    uint64_t sum = atomic_load_explicit (&histogram->sum_nsecs, memory_order_relaxed);
    if (length)
        fprintf (out, "%s_sum{%.*s} %.9g\n%s_count{%.*s} %" PRIu64 "\n", name,
                 (int) length - 1, labels, sum / NSECS, name, (int) length - 1, labels, total);
    else
        fprintf (out, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, sum / NSECS, name, total);
}

static void
s_print_registry (FILE *out)
{
#define ZKV_GAUGE(field, name, help)                                                \
    s_family (out, name, "gauge", help);                                            \
    fprintf (out, "%s %" PRId64 "\n", name, s_value (&zkv_metrics.field));
#define ZKV_COUNTER(field, name, help)                                              \
    s_family (out, name, "counter", help);                                          \
    fprintf (out, "%s %" PRIu64 "\n", name, s_count (&zkv_metrics.field));
#define ZKV_HISTOGRAM(field, name, help, bounds)                                   \
    s_family (out, name, "histogram", help);                                        \
    s_histogram (out, name, "", &zkv_metrics.field);
#include "zkv_metrics.def"
#undef ZKV_GAUGE
#undef ZKV_COUNTER
#undef ZKV_HISTOGRAM
}

static void
s_print_requests (FILE *out)
{
    const char *labels = "grpc_method=\"%s\",grpc_service=\"%s\",grpc_type=\"%s\"";
    s_family (out, "grpc_server_started_total", "counter",
              "Total number of RPCs started on the server.");
    for (size_t i = 0; i < ZKV_REQ_COUNT; i++) {
        const s_method_t *method = s_method_of (zkv_requests [i]);
        if (!method)
            continue;
        fprintf (out, "grpc_server_started_total{");
        fprintf (out, labels, method->method, method->service, method->type);
        fprintf (out, "} %" PRIu64 "\n", s_count (&zkv_metrics.started [i]));
    }
    //  Every method's OK, and the other codes once seen
    s_family (out, "grpc_server_handled_total", "counter",
              "Total number of RPCs completed on the server, regardless of success or "
              "failure.");
    for (size_t i = 0; i < ZKV_REQ_COUNT; i++) {
        const s_method_t *method = s_method_of (zkv_requests [i]);
        for (size_t code = 0; method && code < ZKV_GRPC_CODES; code++) {
            uint64_t count = s_count (&zkv_metrics.handled [i][code]);
            if (code > 0 && count == 0)
                continue;
            fprintf (out, "grpc_server_handled_total{grpc_code=\"%s\",", s_grpc_codes [code]);
            fprintf (out, labels, method->method, method->service, method->type);
            fprintf (out, "} %" PRIu64 "\n", count);
        }
    }
    s_family (out, "grpc_server_handling_seconds", "histogram",
              "Histogram of response latency (seconds) of gRPC that had been application-level "
              "handled by the server.");
    for (size_t i = 0; i < ZKV_REQ_COUNT; i++) {
        const s_method_t *method = s_method_of (zkv_requests [i]);
        if (!method)
            continue;
        char text [160];
        snprintf (text, sizeof text, "grpc_method=\"%s\",grpc_service=\"%s\","
                  "grpc_type=\"%s\",", method->method, method->service, method->type);
        s_histogram (out, "grpc_server_handling_seconds", text, &zkv_metrics.handling [i]);
    }
}

static void
s_print_peers (FILE *out)
{
    const zkv_metrics_peer_t *peers = zkv_metrics.peers;
    s_family (out, "etcd_network_peer_sent_bytes_total", "counter",
              "The total number of bytes sent to peers.");
    for (size_t i = 0; i < ZKV_METRICS_PEERS; i++)
        if (peers [i].id)
            fprintf (out, "etcd_network_peer_sent_bytes_total{To=\"%" PRIx64 "\"} %" PRIu64 "\n",
                     (uint64_t) peers [i].id, s_count (&peers [i].sent_bytes));
    s_family (out, "etcd_network_peer_received_bytes_total", "counter",
              "The total number of bytes received from peers.");
    for (size_t i = 0; i < ZKV_METRICS_PEERS; i++)
        if (peers [i].id)
            fprintf (out, "etcd_network_peer_received_bytes_total{From=\"%" PRIx64 "\"} %"
                     PRIu64 "\n", (uint64_t) peers [i].id, s_count (&peers [i].received_bytes));
    s_family (out, "etcd_network_peer_round_trip_time_seconds", "histogram",
              "Round-Trip-Time histogram between peers");
    for (size_t i = 0; i < ZKV_METRICS_PEERS; i++)
        if (peers [i].id) {
            char labels [40];
            snprintf (labels, sizeof labels, "To=\"%" PRIx64 "\",", (uint64_t) peers [i].id);
            s_histogram (out, "etcd_network_peer_round_trip_time_seconds", labels,
                         &peers [i].round_trip);
        }
}

static void
s_print_zkv (FILE *out)
{
    s_family (out, "zkv_alarms_active", "gauge",
              "Whether this alarm is raised in the cluster: 1 if it is, 0 otherwise.");
    fprintf (out, "zkv_alarms_active{alarm=\"NOSPACE\"} %" PRId64 "\n",
             s_value (&zkv_metrics.alarms_active [ZKV_ALARM_TYPE_NOSPACE]));
    fprintf (out, "zkv_alarms_active{alarm=\"CORRUPT\"} %" PRId64 "\n",
             s_value (&zkv_metrics.alarms_active [ZKV_ALARM_TYPE_CORRUPT]));
    s_family (out, "zkv_actor_inbox_depth", "gauge",
              "Messages sent to this actor's inbox that it has not received yet.");
    for (size_t i = 0; i < ZKV_ACTOR_COUNT; i++)
        fprintf (out, "zkv_actor_inbox_depth{actor=\"%s\"} %" PRId64 "\n", s_actor_names [i],
                 s_value (&zkv_metrics.actors [i].queued));
    s_family (out, "zkv_actor_messages_total", "counter",
              "The total number of messages this actor received from its inbox.");
    for (size_t i = 0; i < ZKV_ACTOR_COUNT; i++)
        fprintf (out, "zkv_actor_messages_total{actor=\"%s\"} %" PRIu64 "\n", s_actor_names [i],
                 s_count (&zkv_metrics.actors [i].handled));
}

//  The process's: /proc/self/stat (CPU ticks, virtual size, resident
//  pages), its open descriptors and their limit
static void
s_print_process (FILE *out)
{
    unsigned long utime = 0, stime = 0, vsize = 0;
    long rss = 0;
    char *stat = NULL;
    size_t stat_size = 0;
    FILE *file = fopen ("/proc/self/stat", "r");
    if (file) {
        if (getline (&stat, &stat_size, file) > 0) {
            //  after the command's closing parenthesis: field 3 onwards
            char *rest = strrchr (stat, ')');
            if (!rest || sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu "
                                 "%*d %*d %*d %*d %*d %*d %*u %lu %ld",
                                 &utime, &stime, &vsize, &rss) != 4)
                utime = stime = vsize = 0, rss = 0;
        }
        fclose (file);
    }
    free (stat);
    size_t fds = 0;
    DIR *dir = opendir ("/proc/self/fd");
    if (dir) {
        for (struct dirent *entry = readdir (dir); entry; entry = readdir (dir))
            if (entry->d_name [0] != '.')
                fds++;
        closedir (dir);
        fds--;                          //  the directory's own
    }
    struct rlimit limit = { 0, 0 };
    getrlimit (RLIMIT_NOFILE, &limit);
    double ticks = (double) sysconf (_SC_CLK_TCK);
    s_family (out, "process_cpu_seconds_total", "counter",
              "Total user and system CPU time spent in seconds.");
    fprintf (out, "process_cpu_seconds_total %.2f\n", (utime + stime) / ticks);
    s_family (out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    fprintf (out, "process_max_fds %llu\n", (unsigned long long) limit.rlim_cur);
    s_family (out, "process_open_fds", "gauge", "Number of open file descriptors.");
    fprintf (out, "process_open_fds %zu\n", fds);
    s_family (out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    fprintf (out, "process_resident_memory_bytes %ld\n", rss * sysconf (_SC_PAGESIZE));
    s_family (out, "process_start_time_seconds", "gauge",
              "Start time of the process since unix epoch in seconds.");
    fprintf (out, "process_start_time_seconds %.2f\n", zkv_metrics.start_time_usecs / 1e6);
    s_family (out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    fprintf (out, "process_virtual_memory_bytes %lu\n", vsize);
}

char *
zkv_metrics_render (size_t *size)
{
    char *text = NULL;
    FILE *out = open_memstream (&text, size);
    if (!out)
        return NULL;
    s_print_registry (out);
    s_print_requests (out);
    s_print_peers (out);
    s_print_zkv (out);
    s_print_process (out);
    if (fclose (out) != 0) {
        free (text);
        return NULL;
    }
    return text;
}
