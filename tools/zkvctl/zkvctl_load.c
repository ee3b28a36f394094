/*  =========================================================================
    zkvctl_load.c — the put load of `check perf` and `check datascale`,
    made as etcdctl 3.4's check.go makes it, and measured as etcd's
    pkg/report measures it.

    etcdctl runs one goroutine per client, each with a connection of its
    own and one put in flight, fed from a channel (as deep as there are
    clients) by a generator that is rate limited (golang.org/x/time/rate,
    burst 1) for perf and counted for datascale. zkvctl does the same from
    one thread: one zkv client (one socket) per client, one put in flight
    each, polled together; a put is due every 1/rate s and waits in a
    queue as deep as there are clients for a free client. Go's limiter
    (burst 1) keeps the pace when its caller comes back late by less than
    one put's interval, and loses the time beyond (nothing is sent in a
    burst to catch up): so does zkvctl, whose loop wakes to the
    millisecond (a put late by at most max (1/rate s, 2 ms) keeps its
    place; one later goes out at once, and the next 1/rate s after it).
    A put's latency counts from when its client sends it, as
    etcdctl's counts from Do. Keys are the prefix then key_size bytes: a
    buffer of zeros into which each put writes the varint
    (encoding/binary.PutVarint) of a random int63, as etcdctl does.

    DEVIATION: etcdctl's clients share every endpoint (gRPC balances each
    request); a zkv client talks to one endpoint at a time, so client i
    starts at endpoint i (mod their number) and the clients spread over
    them. etcdctl waits for a put as long as it takes; zkvctl gives each
    --command-timeout, then counts it failed (`context deadline exceeded`)
    and connects that client afresh.

    The report, as pkg/report's Stats: latencies of the puts that
    succeeded (failures are counted by error text instead), their mean,
    population standard deviation, fastest and slowest; requests per
    second = successes / the time from the start until the last put ended.
    =========================================================================
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkvctl.h"

#define S_TURN_MSECS    100             //  the progress is told at least this often
#define S_LATE_USECS    2000            //  a put may be late by the loop's waking

typedef struct {
    zkv_client_t *client;
    int64_t started;                    //  usecs, when its put was sent
    int64_t deadline;                   //  usecs, when that put fails
    bool busy;
} s_client_t;

typedef struct {
    zkvctl_t *ctl;
    const zkvctl_load_t *load;
    zkvctl_load_stats_t *stats;
    s_client_t *clients;
    zmq_pollitem_t *items;              //  the busy clients' sockets, polled
    size_t *polled;                     //  ...and which client each is
    size_t *idle;                       //  the clients with no put in flight
    size_t idle_count;
    double *latencies;                  //  seconds, of the puts that succeeded
    size_t latency_room;
    uint64_t random;                    //  splitmix64 state
    uint8_t *key;                       //  prefix, then key_size bytes
    size_t prefix_size;
    uint8_t *value;                     //  value_size zeros
    int timeout;                        //  msecs per put
} s_run_t;

//  A random int63 (splitmix64, seeded from the clock and the process)
static int64_t
s_random_int63 (s_run_t *run)
{
    uint64_t z = (run->random += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (int64_t) ((z ^ (z >> 31)) >> 1);
}

//  The next key: encoding/binary.PutVarint of a random int63 over the
//  first bytes after the prefix (the rest stays as earlier keys left it)
static void
s_next_key (s_run_t *run)
{
    uint64_t zigzag = (uint64_t) s_random_int63 (run) << 1;     //  not negative
    uint8_t *at = run->key + run->prefix_size;
    size_t room = run->load->key_size;
    for (size_t i = 0; i < room; i++) {
        at [i] = (uint8_t) (zigzag | (zigzag >= 0x80? 0x80: 0));
        if (zigzag < 0x80)
            break;
        zigzag >>= 7;
    }
}

static void
s_error_count (zkvctl_load_stats_t *stats, const char *text)
{
    for (size_t i = 0; i < stats->error_count; i++)
        if (streq (stats->errors [i].text, text)) {
            stats->errors [i].count++;
            return;
        }
    zkvctl_load_error_t *grown = (zkvctl_load_error_t *)
        realloc (stats->errors, (stats->error_count + 1) * sizeof (zkvctl_load_error_t));
    if (!grown)
        return;                         //  not counted: out of memory
    stats->errors = grown;
    stats->errors [stats->error_count].text = strdup (text);
    stats->errors [stats->error_count++].count = 1;
}

//  Client c's put ended: ok (its latency counts), or failed with error
static void
s_done (s_run_t *run, size_t c, int64_t now, const char *error)
{
    s_client_t *client = &run->clients [c];
    if (error)
        s_error_count (run->stats, error);
    else {
        if (run->stats->count == run->latency_room) {
            size_t room = run->latency_room? run->latency_room * 2: 4096;
            double *grown = (double *) realloc (run->latencies, room * sizeof (double));
            if (grown) {
                run->latencies = grown;
                run->latency_room = room;
            }
        }
        if (run->stats->count < run->latency_room)
            run->latencies [run->stats->count++] = (double) (now - client->started) / 1e6;
    }
    client->busy = false;
    run->idle [run->idle_count++] = c;
    if (run->load->progress)
        run->load->progress (run->load->arg, 1);
}

//  Sends the next put on an idle client
static void
s_send (s_run_t *run)
{
    size_t c = run->idle [--run->idle_count];
    s_client_t *client = &run->clients [c];
    s_next_key (run);
    zkv_put_t put = {
        .key = zkv_bin (run->key, run->prefix_size + run->load->key_size),
        .value = zkv_bin (run->value, run->load->value_size)
    };
    client->started = zclock_usecs ();
    client->deadline = client->started + (int64_t) run->timeout * 1000;
    client->busy = true;
    uint64_t id = zkv_client_send (client->client, &zkv_put_desc, &put, run->timeout);
    if (!id)
        s_done (run, c, zclock_usecs (), "context deadline exceeded");
}

//  Receives client c's reply
static void
s_receive (s_run_t *run, size_t c)
{
    zkv_result_t status = { ZKV_ERR_OK, "" };
    zkv_msg_t *reply = zkv_client_recv (run->clients [c].client, &zkv_put_desc, 0, &status);
    int64_t now = zclock_usecs ();
    char text [512];
    const zkv_error_t *error = reply? zkv_reply_error (reply): NULL;
    if (!reply)
        s_done (run, c, now, zkv_status_text (&status, text, sizeof text));
    else
    if (error) {
        if (error->message.size)
            snprintf (text, sizeof text, "%.*s", (int) error->message.size,
                      (const char *) error->message.data);
        else
            snprintf (text, sizeof text, "rpc error: code = %.*s", (int) error->code.size,
                      (const char *) error->code.data);
        s_done (run, c, now, text);
    }
    else
        s_done (run, c, now, NULL);
    zkv_msg_destroy (&reply);
}

//  pkg/report's figures from the latencies
static void
s_report (s_run_t *run, int64_t took)
{
    zkvctl_load_stats_t *stats = run->stats;
    stats->total = (double) took / 1e6;
    stats->rps = stats->total > 0? (double) stats->count / stats->total: 0;
    double sum = 0;
    for (size_t i = 0; i < stats->count; i++)
        sum += run->latencies [i];
    stats->average = sum / (double) stats->count;           //  NaN when none, as Go's
    double squares = 0;
    for (size_t i = 0; i < stats->count; i++)
        squares += (run->latencies [i] - stats->average) * (run->latencies [i] - stats->average);
    stats->stddev = sqrt (squares / (double) stats->count);
    for (size_t i = 0; i < stats->count; i++) {
        if (i == 0 || run->latencies [i] < stats->fastest)
            stats->fastest = run->latencies [i];
        if (i == 0 || run->latencies [i] > stats->slowest)
            stats->slowest = run->latencies [i];
    }
}

//  The endpoints of ctl, starting at the index-th (mod their number)
static char *
s_endpoints_from (const char *endpoints, size_t index)
{
    zlist_t *list = zlist_new ();
    zlist_autofree (list);
    char *copy = strdup (endpoints), *saved = NULL;
    for (char *item = strtok_r (copy, ",", &saved); item; item = strtok_r (NULL, ",", &saved))
        zlist_append (list, item);
    free (copy);
    size_t count = zlist_size (list);
    char *rotated = (char *) zmalloc (strlen (endpoints) + 2);
    for (size_t i = 0; i < count; i++) {
        const char *item = (const char *) zlist_first (list);
        for (size_t skip = 0; skip < (index + i) % count; skip++)
            item = (const char *) zlist_next (list);
        if (i)
            strcat (rotated, ",");
        strcat (rotated, item);
    }
    zlist_destroy (&list);
    return rotated;
}

int
zkvctl_load_run (zkvctl_t *ctl, const zkvctl_load_t *load, zkvctl_load_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    int64_t msecs = (ctl->command_timeout + 999999) / 1000000;
    s_run_t run = {
        .ctl = ctl, .load = load, .stats = stats,
        .clients = (s_client_t *) calloc (load->clients, sizeof (s_client_t)),
        .items = (zmq_pollitem_t *) calloc (load->clients, sizeof (zmq_pollitem_t)),
        .polled = (size_t *) calloc (load->clients, sizeof (size_t)),
        .idle = (size_t *) calloc (load->clients, sizeof (size_t)),
        .random = (uint64_t) zclock_time () ^ ((uint64_t) getpid () << 32),
        .prefix_size = strlen (load->prefix),
        .key = (uint8_t *) calloc (1, strlen (load->prefix) + load->key_size),
        .value = (uint8_t *) calloc (1, load->value_size + 1),
        .timeout = msecs < 1? 1: msecs > INT_MAX? INT_MAX: (int) msecs
    };
    int rc = 0;
    if (!run.clients || !run.items || !run.polled || !run.idle || !run.key || !run.value)
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "out of memory");
    else
        memcpy (run.key, load->prefix, run.prefix_size);
    for (size_t c = 0; c < load->clients && rc == 0; c++) {
        char *endpoints = s_endpoints_from (ctl->endpoints, c);
        run.clients [c].client = zkvctl_client (ctl, endpoints, run.timeout);
        free (endpoints);
        if (!run.clients [c].client)
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "etcdclient: no available endpoints");
        else
            run.idle [run.idle_count++] = c;
    }
    int64_t begin = zclock_usecs ();
    //  The pace in nanoseconds (an xl interval is 66.7 usecs)
    int64_t end = load->duration > 0? (begin + load->duration) * 1000: 0;
    int64_t interval = load->rate > 0? (int64_t) (1e9 / load->rate): 0;
    int64_t late = interval > S_LATE_USECS * 1000? interval: S_LATE_USECS * 1000;
    int64_t next_due = begin * 1000;    //  when the limiter lets the next put go
    uint64_t made = 0;                  //  puts made (sent or queued)
    size_t queued = 0;
    bool making = rc == 0;
    while (rc == 0) {
        if (zsys_interrupted) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "interrupted");
            break;
        }
        int64_t now = zclock_usecs ();
        int64_t now_ns = now * 1000;
        //  The generator: as many puts as are due, while the queue has room
        while (making && queued < load->clients) {
            if (load->count && made >= load->count) {
                making = false;
                break;
            }
            //  Late by more than the limiter forgives: the time is lost
            int64_t due = next_due;
            if (!interval || now_ns - next_due > late)
                due = now_ns;
            if (end && due > end) {
                making = false;         //  the limiter's Wait fails past the deadline
                break;
            }
            if (due > now_ns)
                break;
            next_due = due + interval;
            queued++;
            made++;
        }
        while (queued && run.idle_count) {
            queued--;
            s_send (&run);
        }
        size_t busy = load->clients - run.idle_count;
        if (!making && queued == 0 && busy == 0)
            break;
        //  Wait for a reply until the next put is due or one times out
        int64_t wait = S_TURN_MSECS * 1000;
        if (making && queued < load->clients && interval && (next_due - now_ns) / 1000 < wait)
            wait = (next_due - now_ns) / 1000;
        for (size_t c = 0; c < load->clients; c++)
            if (run.clients [c].busy && run.clients [c].deadline - now < wait)
                wait = run.clients [c].deadline - now;
        if (wait < 0)
            wait = 0;
        //  Only the clients with a put in flight: zmq_poll asks each socket
        //  it is given for its state, and 200 sockets asked at every turn
        //  held m's 1,000 puts/s to about 560
        size_t polled = 0;
        for (size_t c = 0; c < load->clients; c++)
            if (run.clients [c].busy) {
                zmq_pollitem_t item = {
                    .socket = zsock_resolve (zkv_client_socket (run.clients [c].client)),
                    .events = ZMQ_POLLIN
                };
                run.items [polled] = item;
                run.polled [polled++] = c;
            }
        int ready = zmq_poll (run.items, (int) polled, (long) ((wait + 999) / 1000));
        if (ready < 0 && !zsys_interrupted && errno != EINTR) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", zmq_strerror (errno));
            break;
        }
        for (size_t i = 0; i < polled && ready > 0; i++)
            if (run.items [i].revents & ZMQ_POLLIN)
                s_receive (&run, run.polled [i]);
        //  A put without a reply in time failed; its client starts afresh
        //  (a late reply must not be taken for the next put's)
        now = zclock_usecs ();
        for (size_t c = 0; c < load->clients; c++)
            if (run.clients [c].busy && now >= run.clients [c].deadline) {
                zkv_client_reconnect (run.clients [c].client);
                s_done (&run, c, now, "context deadline exceeded");
            }
        if (load->progress)
            load->progress (load->arg, 0);
    }
    if (rc == 0)
        s_report (&run, zclock_usecs () - begin);
    for (size_t c = 0; run.clients && c < load->clients; c++)
        zkv_client_destroy (&run.clients [c].client);
    free (run.clients);
    free (run.items);
    free (run.polled);
    free (run.idle);
    free (run.latencies);
    free (run.key);
    free (run.value);
    return rc;
}

void
zkvctl_load_stats_free (zkvctl_load_stats_t *stats)
{
    for (size_t i = 0; i < stats->error_count; i++)
        free (stats->errors [i].text);
    free (stats->errors);
    stats->errors = NULL;
    stats->error_count = 0;
}
