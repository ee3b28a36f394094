/*  =========================================================================
    zkv_bench.c — zkv-bench: load generator with latency percentiles.

    zkv-bench [flags] put|get
    Runs --total requests over --clients concurrent clients, each with one
    request in flight (closed loop), from one thread: what is measured is
    the node, not a thread pool. The clients share --conns connections
    (client c the connection c mod conns; by default one each), their
    requests told apart by their ids, as etcd's benchmark tool and
    etcd-load share one gRPC connection (--conns 1 does the same).
    put writes keys 0..key-space in turn; get reads random keys of the key
    space (write them first with put). Prints throughput and latency p50/p90/p99/max, or JSON (--json).
    With --rate R the load is paced instead (open loop): request i is due
    at start + i/R, sent then on a free client (or as soon as one is free),
    and its latency counts from when it was due, so a stall counts against
    every request that should have gone out meanwhile; it runs until
    --total requests are done or SIGINT/SIGTERM. --trace FILE writes one
    line per request: when it was due (wall clock, usecs since the epoch),
    its latency (usecs), and 1 if it failed.
    =========================================================================
*/
#include <czmq.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "zkv_client.h"

typedef struct {
    const char *endpoints;
    const char *workload;               //  put | get
    size_t clients;
    size_t conns;                       //  connections the clients share (0: one each)
    size_t total;
    size_t key_size;
    size_t value_size;
    size_t key_space;
    bool serializable;
    bool json;
    int timeout;                        //  msecs per request
    double rate;                        //  paced: requests per second (0: closed loop)
    const char *trace;                  //  one line per request, or NULL
} s_options_t;

static int64_t
s_now_usecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int64_t
s_wall_usecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zkv-bench [flags] put|get\n"
        "  --endpoints E        node endpoints (default 127.0.0.1:12379)\n"
        "  --clients N          concurrent clients (default 1)\n"
        "  --conns N            connections they share (default: one each; not\n"
        "                       with --rate, where each client has its own)\n"
        "  --total N            requests in all (default 10000)\n"
        "  --key-size N         bytes per key (default 16)\n"
        "  --val-size N         bytes per value (default 256)\n"
        "  --key-space N        distinct keys (default: total)\n"
        "  --consistency l|s    get: linearizable (default) or serializable\n"
        "  --timeout MSECS      per request (default 10000)\n"
        "  --rate R             paced, R requests per second (open loop; latency\n"
        "                       from when each was due); runs until --total or SIGTERM\n"
        "  --trace FILE         one line per request: due (wall usecs), usecs, failed\n"
        "  --json               print one JSON object\n");
}

static int
s_number (const char *text, size_t *value)
{
    char *end;
    unsigned long long number = strtoull (text, &end, 10);
    if (end == text || *end || text [0] == '-' || number == 0)
        return -1;
    *value = (size_t) number;
    return 0;
}

static int
s_parse (s_options_t *options, int argc, char *argv [])
{
    *options = (s_options_t) {
        "127.0.0.1:12379", NULL, 1, 0, 10000, 16, 256, 0, false, false, 10000, 0, NULL
    };
    static struct option longs [] = {
        { "endpoints", required_argument, NULL, 'e' },
        { "clients", required_argument, NULL, 'c' },
        { "conns", required_argument, NULL, 'C' },
        { "total", required_argument, NULL, 'n' },
        { "key-size", required_argument, NULL, 'k' },
        { "val-size", required_argument, NULL, 'v' },
        { "key-space", required_argument, NULL, 's' },
        { "consistency", required_argument, NULL, 'l' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "rate", required_argument, NULL, 'r' },
        { "trace", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    size_t number;
    opterr = 0;
    while ((option = getopt_long (argc, argv, "h", longs, NULL)) != -1) {
        switch (option) {
            case 'e': options->endpoints = optarg; break;
            case 'j': options->json = true; break;
            case 'T': options->trace = optarg; break;
            case 'r': {
                char *end;
                options->rate = strtod (optarg, &end);
                if (end == optarg || *end || !(options->rate > 0))
                    return -1;
                break;
            }
            case 'h': s_usage (stdout); exit (0);
            case 'l':
                if (strcmp (optarg, "l") && strcmp (optarg, "s"))
                    return -1;
                options->serializable = optarg [0] == 's';
                break;
            case 'c': case 'C': case 'n': case 'k': case 'v': case 's': case 't':
                if (s_number (optarg, &number))
                    return -1;
                if (option == 'c') options->clients = number;
                if (option == 'C') options->conns = number;
                if (option == 'n') options->total = number;
                if (option == 'k') options->key_size = number;
                if (option == 'v') options->value_size = number;
                if (option == 's') options->key_space = number;
                if (option == 't') options->timeout = (int) number;
                break;
            default:
                return -1;
        }
    }
    if (optind != argc - 1)
        return -1;
    options->workload = argv [optind];
    if (strcmp (options->workload, "put") && strcmp (options->workload, "get"))
        return -1;
    if (!options->key_space)
        options->key_space = options->total;
    if (options->clients > options->total)
        options->clients = options->total;
    if (options->rate > 0 && options->conns && options->conns != options->clients)
        return -1;                      //  paced: a client without a reply in time
                                        //  starts afresh on a connection of its own
    if (!options->conns || options->conns > options->clients)
        options->conns = options->clients;
    return 0;
}

//  Writes key number n, zero-padded to key_size bytes, into key
static void
s_key (char *key, size_t key_size, size_t n)
{
    char digits [32];
    int length = snprintf (digits, sizeof digits, "%zu", n);
    if ((size_t) length >= key_size)
        memcpy (key, digits + length - key_size, key_size);
    else {
        memset (key, '0', key_size - length);
        memcpy (key + key_size - length, digits, length);
    }
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y? 1: 0;
}

static double
s_percentile (const int64_t *sorted, size_t count, double p)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t) ceil (p / 100.0 * count);
    if (rank < 1)
        rank = 1;
    return sorted [rank - 1] / 1000.0;
}

//  The run: clients, their requests in flight, and what came back
typedef struct {
    s_options_t *options;
    bool put;
    zkv_client_t **client;              //  one per connection
    zmq_pollitem_t *items;              //  one per connection, on its socket
    uint64_t *id;                       //  client c's request in flight
    size_t *pending;                    //  requests in flight on connection k
    int64_t *started;                   //  when client c sent its request
    int64_t *due;                       //  paced: when client c's request was due
    bool *busy;                         //  paced: client c has a request in flight
    int64_t *latency;                   //  usecs of each completed request
    int64_t *when;                      //  --trace: when each was due (monotonic)
    unsigned char *failed;              //  --trace: whether each failed
    size_t sent;
    size_t done;
    size_t errors;
    unsigned int seed;
    char *key;
    char *value;
} s_run_t;

//  Sends the next request of client c, on its connection; returns 0, or
//  -1 when no endpoint took it in time
static int
s_send_next (s_run_t *run, size_t c)
{
    s_options_t *options = run->options;
    size_t k = c % options->conns;
    size_t n = run->put? run->sent % options->key_space:
                         (size_t) rand_r (&run->seed) % options->key_space;
    s_key (run->key, options->key_size, n);
    run->started [c] = s_now_usecs ();
    uint64_t id;
    if (run->put) {
        zkv_put_t request = { .key = zkv_bin (run->key, options->key_size),
                              .value = zkv_bin (run->value, options->value_size) };
        id = zkv_client_send (run->client [k], &zkv_put_desc, &request, options->timeout);
    }
    else {
        zkv_range_t request = { .key = zkv_bin (run->key, options->key_size),
                                .serializable = options->serializable };
        id = zkv_client_send (run->client [k], &zkv_range_desc, &request, options->timeout);
    }
    if (!id)
        return -1;
    run->id [c] = id;
    run->pending [k]++;
    //  The connection may have moved to another endpoint, with a new socket
    run->items [k].socket = zsock_resolve (zkv_client_socket (run->client [k]));
    run->sent++;
    return 0;
}

#define NONE_WAITS  -1                  //  s_take: no reply waits on the connection
#define NOBODYS     -2                  //  ...one did, answering no request in flight

//  Takes a reply waiting on connection k, if one is: returns the client it
//  answers (by its id), with *failed, or NONE_WAITS, or NOBODYS (counted
//  as an error: a reply undecodable on a shared connection)
static ssize_t
s_take (s_run_t *run, size_t k, bool *failed)
{
    s_options_t *options = run->options;
    zkv_result_t status;
    const zkv_desc_t *desc = run->put? &zkv_put_desc: &zkv_range_desc;
    zkv_msg_t *reply = zkv_client_recv (run->client [k], desc, 0, &status);
    if (!reply && status.err == ZKV_ERR_TIMEOUT)
        return NONE_WAITS;
    ssize_t answered = NOBODYS;
    if (!reply) {
        //  Undecodable: it answers the connection's only client
        if (options->conns == options->clients && run->id [k])
            answered = (ssize_t) k;
    }
    else
    for (size_t c = k; c < options->clients && answered < 0; c += options->conns)
        if (run->id [c] && reply->has_id && reply->id == run->id [c])
            answered = (ssize_t) c;
    *failed = !reply || zkv_reply_error (reply);
    zkv_msg_destroy (&reply);
    if (answered >= 0) {
        run->id [answered] = 0;
        run->pending [k]--;
    }
    if (*failed || answered < 0)
        run->errors++;
    return answered;
}

//  Counts a request done: its latency from start, and whether it failed
static void
s_done (s_run_t *run, int64_t start, bool failed)
{
    int64_t now = s_now_usecs ();
    if (run->when) {
        run->when [run->done] = start;
        run->failed [run->done] = failed;
    }
    run->latency [run->done++] = now - start;
}

//  The paced load (--rate): request i is due at begin + i / rate and goes
//  out then on a free client, or as soon as one is free; its latency
//  counts from when it was due; one without a reply within the timeout
//  failed. 0 when done or interrupted, -1 when a request found no endpoint.
static int
s_paced (s_run_t *run, int64_t begin)
{
    s_options_t *options = run->options;
    size_t clients = options->clients, in_flight = 0;
    double interval = 1e6 / options->rate;
    while (run->done < options->total && !zsys_interrupted) {
        int64_t now = s_now_usecs ();
        for (size_t c = 0; c < clients && run->sent < options->total; c++) {
            int64_t due = begin + (int64_t) (run->sent * interval);
            if (due > now)
                break;
            if (run->busy [c])
                continue;
            if (s_send_next (run, c))
                return -1;
            run->due [c] = due;
            run->busy [c] = true;
            in_flight++;
        }
        //  A request without a reply in time failed; its client starts
        //  afresh (a late reply must not be taken for the next one's)
        for (size_t c = 0; c < clients; c++)
            if (run->busy [c] && now - run->started [c] > (int64_t) options->timeout * 1000) {
                zkv_client_destroy (&run->client [c]);
                run->client [c] = zkv_client_new (options->endpoints, options->timeout);
                if (!run->client [c])
                    return -1;
                run->items [c].socket = zsock_resolve (zkv_client_socket (run->client [c]));
                run->errors++;
                run->id [c] = 0;
                run->pending [c] = 0;
                s_done (run, run->due [c], true);
                run->busy [c] = false;
                in_flight--;
            }
        //  Wait for a reply until the next request is due (when a client is
        //  free for it), to the millisecond, then sleep the rest exactly
        int64_t next = begin + (int64_t) (run->sent * interval);
        int64_t wait = (int64_t) options->timeout * 1000;
        if (run->sent < options->total && in_flight < clients)
            wait = next > now? next - now: 0;
        int ready = zmq_poll (run->items, (int) clients, wait / 1000);
        if (ready < 0) {
            if (zsys_interrupted || errno == EINTR)
                continue;
            return -1;
        }
        if (ready == 0) {
            int64_t rest = next - s_now_usecs ();
            if (rest > 0 && rest < 1000 && in_flight < clients) {
                struct timespec pause = { 0, (long) rest * 1000 };
                nanosleep (&pause, NULL);
            }
            continue;
        }
        for (size_t c = 0; c < clients; c++) {
            if (!(run->items [c].revents & ZMQ_POLLIN))
                continue;
            bool failed;
            ssize_t answered;
            while (run->pending [c] && (answered = s_take (run, c, &failed)) != NONE_WAITS)
                if (answered >= 0) {
                    s_done (run, run->due [answered], failed);
                    run->busy [answered] = false;
                    in_flight--;
                }
        }
    }
    return 0;
}

//  --trace: one line per request done (due, on the wall clock; usecs; failed)
static int
s_write_trace (s_run_t *run)
{
    FILE *file = fopen (run->options->trace, "w");
    if (!file)
        return -1;
    int64_t offset = s_wall_usecs () - s_now_usecs ();
    for (size_t i = 0; i < run->done; i++)
        fprintf (file, "%lld %lld %d\n", (long long) (run->when [i] + offset),
                 (long long) run->latency [i], run->failed [i]);
    return fclose (file);
}

static void
s_report (s_run_t *run, double seconds)
{
    s_options_t *options = run->options;
    size_t done = run->done;
    qsort (run->latency, done, sizeof (int64_t), s_compare);
    double throughput = done / seconds;
    double p50 = s_percentile (run->latency, done, 50);
    double p90 = s_percentile (run->latency, done, 90);
    double p99 = s_percentile (run->latency, done, 99);
    double max = done? run->latency [done - 1] / 1000.0: 0;
    const char *consistency = run->put? "": options->serializable? "s": "l";
    if (options->json)
        printf ("{\"workload\":\"%s\",\"consistency\":\"%s\",\"clients\":%zu,"
                "\"conns\":%zu,\"total\":%zu,\"key_size\":%zu,\"value_size\":%zu,\"errors\":%zu,"
                "\"seconds\":%.3f,\"throughput\":%.1f,\"latency_ms\":{\"p50\":%.3f,"
                "\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
                options->workload, consistency, options->clients, options->conns, done,
                options->key_size,
                options->value_size, run->errors, seconds, throughput, p50, p90, p99, max);
    else {
        printf ("%s: %zu requests, %zu clients on %zu connections, %zu-byte keys, "
                "%zu-byte values%s\n", options->workload, done, options->clients,
                options->conns, options->key_size,
                options->value_size,
                run->put? "": options->serializable? ", serializable": ", linearizable");
        printf ("  throughput  %.1f requests/s (%.2f s)\n", throughput, seconds);
        printf ("  latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", p50, p90, p99, max);
        if (run->errors)
            printf ("  errors      %zu\n", run->errors);
    }
}

int
main (int argc, char *argv [])
{
    s_options_t options;
    if (s_parse (&options, argc, argv)) {
        s_usage (stderr);
        return 128;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    size_t clients = options.clients, conns = options.conns;
    s_run_t run = {
        .options = &options,
        .put = strcmp (options.workload, "put") == 0,
        .client = calloc (conns, sizeof (zkv_client_t *)),
        .id = calloc (clients, sizeof (uint64_t)),
        .pending = calloc (conns, sizeof (size_t)),
        .started = calloc (clients, sizeof (int64_t)),
        .due = calloc (clients, sizeof (int64_t)),
        .busy = calloc (clients, sizeof (bool)),
        .latency = calloc (options.total, sizeof (int64_t)),
        .when = options.trace? calloc (options.total, sizeof (int64_t)): NULL,
        .failed = options.trace? calloc (options.total, 1): NULL,
        .seed = 12345,
        .key = malloc (options.key_size),
        .value = malloc (options.value_size)
    };
    memset (run.value, 'v', options.value_size);
    zmq_pollitem_t *items = calloc (conns, sizeof (zmq_pollitem_t));
    run.items = items;
    if (!run.client || !run.id || !run.pending || !run.started || !run.due || !run.busy
    ||  !run.latency || !run.key || !run.value || !items
    ||  (options.trace && (!run.when || !run.failed))) {
        fprintf (stderr, "Error: out of memory\n");
        return 1;
    }
    for (size_t k = 0; k < conns; k++) {
        run.client [k] = zkv_client_new (options.endpoints, options.timeout);
        if (!run.client [k]) {
            fprintf (stderr, "Error: no endpoints\n");
            return 128;
        }
        items [k].socket = zsock_resolve (zkv_client_socket (run.client [k]));
        items [k].events = ZMQ_POLLIN;
    }
    int rc = 0;
    int64_t begin = s_now_usecs ();
    if (options.rate > 0)
        rc = s_paced (&run, begin);
    for (size_t c = 0; c < clients && rc == 0 && options.rate == 0; c++)
        rc = s_send_next (&run, c);
    while (rc == 0 && options.rate == 0 && run.done < options.total && !zsys_interrupted) {
        int ready = zmq_poll (items, (int) conns, options.timeout);
        if (ready <= 0) {
            rc = -1;
            break;
        }
        //  Every reply waiting on a connection that has some, each client
        //  answered sending its next request; no receive is tried once
        //  every request on it was answered (that one would find none: a
        //  call for nothing, per reply, with a connection per client)
        for (size_t k = 0; k < conns && rc == 0; k++) {
            if (!(items [k].revents & ZMQ_POLLIN))
                continue;
            bool failed;
            ssize_t c;
            while (rc == 0 && run.pending [k] && (c = s_take (&run, k, &failed)) != NONE_WAITS)
                if (c >= 0) {
                    s_done (&run, run.started [c], failed);
                    if (run.sent < options.total)
                        rc = s_send_next (&run, (size_t) c);
                }
        }
    }
    double seconds = (s_now_usecs () - begin) / 1e6;
    //  The trace first: the report sorts the latencies
    if (options.trace && s_write_trace (&run)) {
        fprintf (stderr, "Error: cannot write %s: %s\n", options.trace, strerror (errno));
        rc = -1;
    }
    if (rc)
        fprintf (stderr, "Error: context deadline exceeded (%zu replies missing)\n",
                 run.sent - run.done);
    else
        s_report (&run, seconds);
    for (size_t k = 0; k < conns; k++)
        zkv_client_destroy (&run.client [k]);
    free (run.client);
    free (run.id);
    free (run.pending);
    free (run.started);
    free (run.due);
    free (run.busy);
    free (run.latency);
    free (run.when);
    free (run.failed);
    free (run.key);
    free (run.value);
    free (items);
    return rc || run.errors? 1: 0;
}
