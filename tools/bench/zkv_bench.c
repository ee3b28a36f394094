/*  =========================================================================
    zkv_bench.c — zkv-bench: load generator with latency percentiles.

    zkv-bench [flags] put|get
    Runs --total requests over --clients concurrent clients, each a socket
    with one request in flight (closed loop), from one thread: what is
    measured is the node, not a thread pool. put writes keys 0..key-space
    in turn; get reads random keys of the key space (write them first with
    put). Prints throughput and latency p50/p90/p99/max, or JSON (--json).
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
    size_t total;
    size_t key_size;
    size_t value_size;
    size_t key_space;
    bool serializable;
    bool json;
    int timeout;                        //  msecs per request
} s_options_t;

static int64_t
s_now_usecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zkv-bench [flags] put|get\n"
        "  --endpoints E        node endpoints (default 127.0.0.1:12379)\n"
        "  --clients N          concurrent clients (default 1)\n"
        "  --total N            requests in all (default 10000)\n"
        "  --key-size N         bytes per key (default 16)\n"
        "  --val-size N         bytes per value (default 256)\n"
        "  --key-space N        distinct keys (default: total)\n"
        "  --consistency l|s    get: linearizable (default) or serializable\n"
        "  --timeout MSECS      per request (default 10000)\n"
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
        "127.0.0.1:12379", NULL, 1, 10000, 16, 256, 0, false, false, 10000
    };
    static struct option longs [] = {
        { "endpoints", required_argument, NULL, 'e' },
        { "clients", required_argument, NULL, 'c' },
        { "total", required_argument, NULL, 'n' },
        { "key-size", required_argument, NULL, 'k' },
        { "val-size", required_argument, NULL, 'v' },
        { "key-space", required_argument, NULL, 's' },
        { "consistency", required_argument, NULL, 'l' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
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
            case 'h': s_usage (stdout); exit (0);
            case 'l':
                if (strcmp (optarg, "l") && strcmp (optarg, "s"))
                    return -1;
                options->serializable = optarg [0] == 's';
                break;
            case 'c': case 'n': case 'k': case 'v': case 's': case 't':
                if (s_number (optarg, &number))
                    return -1;
                if (option == 'c') options->clients = number;
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
    zkv_client_t **client;
    zmq_pollitem_t *items;              //  one per client, on its socket
    int64_t *started;                   //  when client c sent its request
    int64_t *latency;                   //  usecs of each completed request
    size_t sent;
    size_t done;
    size_t errors;
    unsigned int seed;
    char *key;
    char *value;
} s_run_t;

//  Sends the next request on client c; returns 0, or -1 when no endpoint
//  took it in time
static int
s_send_next (s_run_t *run, size_t c)
{
    s_options_t *options = run->options;
    size_t n = run->put? run->sent % options->key_space:
                         (size_t) rand_r (&run->seed) % options->key_space;
    s_key (run->key, options->key_size, n);
    run->started [c] = s_now_usecs ();
    uint64_t id;
    if (run->put) {
        zkv_put_t request = { .key = zkv_bin (run->key, options->key_size),
                              .value = zkv_bin (run->value, options->value_size) };
        id = zkv_client_send (run->client [c], &zkv_put_desc, &request, options->timeout);
    }
    else {
        zkv_range_t request = { .key = zkv_bin (run->key, options->key_size),
                                .serializable = options->serializable };
        id = zkv_client_send (run->client [c], &zkv_range_desc, &request, options->timeout);
    }
    if (!id)
        return -1;
    //  The client may have moved to another endpoint, with a new socket
    run->items [c].socket = zsock_resolve (zkv_client_socket (run->client [c]));
    run->sent++;
    return 0;
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
                "\"total\":%zu,\"key_size\":%zu,\"value_size\":%zu,\"errors\":%zu,"
                "\"seconds\":%.3f,\"throughput\":%.1f,\"latency_ms\":{\"p50\":%.3f,"
                "\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
                options->workload, consistency, options->clients, done, options->key_size,
                options->value_size, run->errors, seconds, throughput, p50, p90, p99, max);
    else {
        printf ("%s: %zu requests, %zu clients, %zu-byte keys, %zu-byte values%s\n",
                options->workload, done, options->clients, options->key_size,
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
    size_t clients = options.clients;
    s_run_t run = {
        .options = &options,
        .put = strcmp (options.workload, "put") == 0,
        .client = calloc (clients, sizeof (zkv_client_t *)),
        .started = calloc (clients, sizeof (int64_t)),
        .latency = calloc (options.total, sizeof (int64_t)),
        .seed = 12345,
        .key = malloc (options.key_size),
        .value = malloc (options.value_size)
    };
    memset (run.value, 'v', options.value_size);
    zmq_pollitem_t *items = calloc (clients, sizeof (zmq_pollitem_t));
    run.items = items;
    if (!run.client || !run.started || !run.latency || !run.key || !run.value || !items) {
        fprintf (stderr, "Error: out of memory\n");
        return 1;
    }
    for (size_t c = 0; c < clients; c++) {
        run.client [c] = zkv_client_new (options.endpoints, options.timeout);
        if (!run.client [c]) {
            fprintf (stderr, "Error: no endpoints\n");
            return 128;
        }
        items [c].socket = zsock_resolve (zkv_client_socket (run.client [c]));
        items [c].events = ZMQ_POLLIN;
    }
    const zkv_desc_t *desc = run.put? &zkv_put_desc: &zkv_range_desc;
    int rc = 0;
    int64_t begin = s_now_usecs ();
    for (size_t c = 0; c < clients && rc == 0; c++)
        rc = s_send_next (&run, c);
    while (rc == 0 && run.done < options.total && !zsys_interrupted) {
        int ready = zmq_poll (items, (int) clients, options.timeout);
        if (ready <= 0) {
            rc = -1;
            break;
        }
        for (size_t c = 0; c < clients && rc == 0; c++) {
            if (!(items [c].revents & ZMQ_POLLIN))
                continue;
            zkv_result_t status;
            zkv_msg_t *reply = zkv_client_recv (run.client [c], desc, 0, &status);
            int64_t now = s_now_usecs ();
            if (!reply || zkv_reply_error (reply))
                run.errors++;
            zkv_msg_destroy (&reply);
            run.latency [run.done++] = now - run.started [c];
            if (run.sent < options.total)
                rc = s_send_next (&run, c);
        }
    }
    if (rc)
        fprintf (stderr, "Error: context deadline exceeded (%zu replies missing)\n",
                 run.sent - run.done);
    else
        s_report (&run, (s_now_usecs () - begin) / 1e6);
    for (size_t c = 0; c < clients; c++)
        zkv_client_destroy (&run.client [c]);
    free (run.client);
    free (run.started);
    free (run.latency);
    free (run.key);
    free (run.value);
    free (items);
    return rc || run.errors? 1: 0;
}
