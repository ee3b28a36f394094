/*  =========================================================================
    zkv_metrics.h — the member's metrics: counters, gauges and histograms
    the actors update and the HTTP server prints in Prometheus's text
    format (docs/OPERATIONS.md, "Monitoring", lists them).

    One registry per process, zkv_metrics, of lock-free atomics: the one
    piece of state the actors share besides the database. An actor only
    adds or sets (never waits: a relaxed atomic operation each); the HTTP
    server's thread only reads, when it is scraped. Values printed
    together are not one snapshot (as with any Prometheus client): each
    is exact, a sum of several may lag the others by a few updates.
    =========================================================================
*/
#ifndef ZKV_METRICS_H_INCLUDED
#define ZKV_METRICS_H_INCLUDED

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msgs.h"

//  A histogram's buckets: upper bounds, in nanoseconds (+Inf implied)
#define ZKV_BUCKETS_MAX 16

typedef struct {
    size_t count;
    int64_t bounds [ZKV_BUCKETS_MAX];
} zkv_buckets_t;

//  etcd's for the same metrics, and Prometheus's defaults
extern const zkv_buckets_t zkv_buckets_disk;   //  0.001 s * 2^i, 14: fsync, commit
extern const zkv_buckets_t zkv_buckets_hash;   //  0.01 s * 2^i, 15: hash, hash by revision
extern const zkv_buckets_t zkv_buckets_long;   //  0.1 s * 2^i, 16: defrag, snapshot
extern const zkv_buckets_t zkv_buckets_rtt;    //  0.0001 s * 2^i, 14: peer round trips
extern const zkv_buckets_t zkv_buckets_grpc;   //  .005 to 10 s, 11: request handling
#define ZKV_BUCKETS_DISK (&zkv_buckets_disk)
#define ZKV_BUCKETS_HASH (&zkv_buckets_hash)
#define ZKV_BUCKETS_LONG (&zkv_buckets_long)

typedef struct {
    _Atomic uint64_t value;
} zkv_counter_t;

typedef struct {
    _Atomic int64_t value;
} zkv_gauge_t;

typedef struct {
    const zkv_buckets_t *buckets;       //  set by zkv_metrics_init
    _Atomic uint64_t counts [ZKV_BUCKETS_MAX + 1];  //  per bucket, +Inf last
    _Atomic uint64_t sum_nsecs;
} zkv_histogram_t;

//  The peers a member measures (etcd_network_peer_*), one slot per peer
//  id, taken at its first update
#define ZKV_METRICS_PEERS 16

typedef struct {
    _Atomic uint64_t id;                //  0: a free slot
    zkv_counter_t sent_bytes;
    zkv_counter_t received_bytes;
    zkv_histogram_t round_trip;
} zkv_metrics_peer_t;

//  The actors whose inboxes are counted (zkv_actor_inbox_depth)
typedef enum {
    ZKV_ACTOR_FRONT, ZKV_ACTOR_RAFT, ZKV_ACTOR_STORAGE, ZKV_ACTOR_HASHER,
    ZKV_ACTOR_DEFRAG, ZKV_ACTOR_SNAPSHOTTER, ZKV_ACTOR_ALARM, ZKV_ACTOR_COUNT
} zkv_actor_t;

typedef struct {
    zkv_gauge_t queued;                 //  sent to its inbox, not yet received
    zkv_counter_t handled;              //  received
} zkv_metrics_actor_t;

//  Alarm types, etcd's numbers (zkv_alarm_table.h's ZKV_ALARM_*)
#define ZKV_ALARM_TYPE_NOSPACE 1
#define ZKV_ALARM_TYPE_CORRUPT 2

//  gRPC status codes, in their numeric order (grpc_code labels)
#define ZKV_GRPC_CODES 17

typedef struct {
#define ZKV_GAUGE(field, name, help) zkv_gauge_t field;
#define ZKV_COUNTER(field, name, help) zkv_counter_t field;
#define ZKV_HISTOGRAM(field, name, help, bounds) zkv_histogram_t field;
#include "zkv_metrics.def"
#undef ZKV_GAUGE
#undef ZKV_COUNTER
#undef ZKV_HISTOGRAM
    //  Client requests by method (grpc_server_*): started, handled by code
    //  and, of those that waited for another actor, how long they took
    zkv_counter_t started [ZKV_REQ_COUNT];
    zkv_counter_t handled [ZKV_REQ_COUNT][ZKV_GRPC_CODES];
    zkv_histogram_t handling [ZKV_REQ_COUNT];
    zkv_gauge_t alarms_active [3];      //  by alarm type, etcd's numbers
    zkv_metrics_peer_t peers [ZKV_METRICS_PEERS];
    zkv_metrics_actor_t actors [ZKV_ACTOR_COUNT];
    _Atomic int64_t start_time_usecs;   //  wall clock, for process_start_time_seconds
} zkv_metrics_t;

//  The process's registry (zero at start: every metric 0)
extern zkv_metrics_t zkv_metrics;

//  Readies the registry (histograms' buckets, the start time): once, in
//  main, before any actor starts. Until then histograms record nothing.
void
    zkv_metrics_init (void);

//  Updates: relaxed atomics, never waiting
static inline void
zkv_metrics_add (zkv_counter_t *counter, uint64_t amount)
{
    atomic_fetch_add_explicit (&counter->value, amount, memory_order_relaxed);
}

static inline void
zkv_metrics_set (zkv_gauge_t *gauge, int64_t value)
{
    atomic_store_explicit (&gauge->value, value, memory_order_relaxed);
}

static inline void
zkv_metrics_shift (zkv_gauge_t *gauge, int64_t amount)
{
    atomic_fetch_add_explicit (&gauge->value, amount, memory_order_relaxed);
}

//  Records one observation of nsecs nanoseconds in histogram
void
    zkv_metrics_observe (zkv_histogram_t *histogram, int64_t nsecs);

//  The slot of peer id (taken if it has none; NULL when all are taken)
zkv_metrics_peer_t *
    zkv_metrics_peer (uint64_t id);

//  Gives a peer's slot back (the peer is gone): its series end, and the
//  slot starts from zero for the next peer that takes it
void
    zkv_metrics_peer_release (zkv_metrics_peer_t *peer);

//  The client request named op (as requests name themselves); NULL if none
const zkv_desc_t *
    zkv_metrics_request (const char *op, size_t op_size, size_t *index);

//  The index of a gRPC code name ("OK", "InvalidArgument", ...); Unknown
//  (2) for a name that is none
size_t
    zkv_metrics_grpc_code (const char *code, size_t code_size);

//  Records a client request's reply: op (not NUL-terminated) ended with
//  gRPC code name code ("OK" when it succeeded)
void
    zkv_metrics_handled (const char *op, size_t op_size, const char *code, size_t code_size);

//  Inbox accounting between actors: a message sent to actor's inbox, and
//  one received by actor
void
    zkv_metrics_sent_to (zkv_actor_t actor);
void
    zkv_metrics_received_by (zkv_actor_t actor);

//  The actor whose inbox endpoint is endpoint (its name after the last
//  '-', as zkv_wiring.h names them), or whose name it is; ZKV_ACTOR_COUNT
//  if none
zkv_actor_t
    zkv_metrics_actor_of (const char *endpoint);

//  Every metric in Prometheus's text format (0.0.4), with the process's
//  (CPU, memory, descriptors, start time) read now: a string to free, or
//  NULL when memory runs out
char *
    zkv_metrics_render (size_t *size);

#endif
