/*  test_hostile.c — what one client request may make a member spend.
    A txn of 128 ranges over a few large values asks for a reply of half a
    gigabyte, and 64 nested txns of 64 ranges each for 4,096 ranges: the
    first is refused once its reply passes --max-response-bytes, before the
    member has built it all, the second by --max-txn-ops, which counts what
    nested txns hold. A write txn whose reply is too large changes nothing
    on any member. Meanwhile other clients' puts are acknowledged, and no
    member's memory passes a bound far below the reply asked for. Reads
    whose clients had their timeout stop costing the member anything. A
    client that never reads its replies, or many of them, cannot grow the
    member's memory past --max-client-unread-bytes and --max-unread-bytes.
    And no number of strangers' connections that never finish their CURVE
    handshake can take the descriptors the store needs. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster_fixture.h"

static zkv_testnode_t *s_node;          //  a member alone, for some tests
static char s_wrapper [64];             //  a zkv-node under a low open-file limit

static void
s_teardown (void)
{
    zkv_testnode_destroy (&s_node);
    cf_teardown ();
    if (*s_wrapper) {
        unlink (s_wrapper);
        *strrchr (s_wrapper, '/') = 0;
        rmdir (s_wrapper);
    }
}

TestSuite (hostile, .fini = s_teardown, .timeout = 120);

#define MIB (1024 * 1024)
#define VALUES 4                        //  values of 1 MiB the store holds
#define RANGES 128                      //  ranges over all of them in one txn

//  A memory figure of a process, in bytes: "VmRSS" (now) or "VmHWM" (its
//  peak), from /proc/PID/status
static int64_t
s_memory (pid_t pid, const char *field)
{
    char path [64], format [32];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    snprintf (format, sizeof format, "%s: %%lld kB", field);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "%s: no process", path);
    char line [256];
    long long kib = -1;
    while (fgets (line, sizeof line, file))
        if (sscanf (line, format, &kib) == 1)
            break;
    fclose (file);
    cr_assert_geq (kib, 0);
    return kib * 1024;
}

#ifndef __SANITIZE_ADDRESS__
typedef struct {
    pid_t pid;
    int64_t bound;
} s_resident_t;

//  True once the process holds no more than the bound
static bool
s_resident_under (void *args)
{
    s_resident_t *self = (s_resident_t *) args;
    return s_memory (self->pid, "VmRSS") <= self->bound;
}
#endif

//  Asserts that a member's peak resident memory stayed under bound. Under
//  AddressSanitizer the bound grows by the allocator's quarantine (256 MiB,
//  quarantine_size_mb's default), which keeps freed memory resident by
//  design: a member whose own peak is 110 MiB peaks near 390 MiB there.
static void
s_assert_peak_under (const char *name, int64_t bound)
{
#ifdef __SANITIZE_ADDRESS__
    bound += 256LL * MIB;
#endif
    int64_t peak = s_memory (zkv_harness_pid (cf_cluster, name), "VmHWM");
    cr_assert_lt (peak, bound, "%s peaked at %lld MiB", name, (long long) (peak / MIB));
}

//  Puts VALUES values of 1 MiB: big/0 .. big/3
static void
s_put_large_values (zkv_client_t *client)
{
    char *value = (char *) malloc (MIB);
    memset (value, 'v', MIB);
    for (int i = 0; i < VALUES; i++) {
        char key [16];
        snprintf (key, sizeof key, "big/%d", i);
        zkv_put_t put = { .key = cf_bin (key), .value = zkv_bin (value, MIB) };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
        cr_assert (reply && !zkv_reply_error (reply), "put %s failed", key);
        zkv_msg_destroy (&reply);
    }
    free (value);
}

//  Sends request, and while it is under way puts 20 keys through another
//  client, each acknowledged; returns the request's reply
static zkv_msg_t *
s_call_while_others_put (const char *endpoint, const zkv_desc_t *desc, const void *request)
{
    zkv_client_t *hostile = zkv_client_new (endpoint, 30000);
    zkv_client_t *other = zkv_client_new (endpoint, 10000);
    cr_assert_neq (zkv_client_send (hostile, desc, request, 5000), 0);
    for (int i = 0; i < 20; i++) {
        char key [32];
        snprintf (key, sizeof key, "other/%02d", i);
        cr_assert (cf_put (other, key, "x"), "another client's put %d was not acknowledged", i);
    }
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_recv (hostile, desc, 30000, &status);
    cr_assert_not_null (reply, "the request was never answered");
    zkv_client_destroy (&other);
    zkv_client_destroy (&hostile);
    return reply;
}

static void
s_assert_error (const zkv_msg_t *reply, const char *text)
{
    const zkv_error_t *error = zkv_reply_error (reply);
    cr_assert_not_null (error, "the request went through");
    char message [512];
    zkv_bin_str (error->message, message, sizeof message);
    cr_assert (strncmp (message, text, strlen (text)) == 0, "answered '%s'", message);
}

Test (hostile, one_txn_cannot_make_a_member_build_a_reply_without_bound)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *endpoint = zkv_harness_endpoint (cf_cluster, leader);
    zkv_client_t *client = zkv_client_new (endpoint, 10000);
    s_put_large_values (client);

    //  128 ranges over every key: 512 MiB of values asked for in 4.6 KB
    static zkv_range_t all = { .key = { (const uint8_t *) "\0", 1 },
                               .range_end = { (const uint8_t *) "\0", 1 } };
    static zkv_request_op_t ranges [RANGES];
    for (size_t i = 0; i < RANGES; i++)
        ranges [i].request_range = &all;
    zkv_txn_t read = { .success = { ranges, RANGES } };
    zkv_msg_t *reply = s_call_while_others_put (endpoint, &zkv_txn_desc, &read);
    s_assert_error (reply, "zkv: response is too large: its key-values pass 67108864 bytes");
    zkv_msg_destroy (&reply);

    //  The same ranges in a txn that writes: refused on every member alike,
    //  so nothing of it is written anywhere
    zkv_put_t put = { .key = cf_bin ("written"), .value = cf_bin ("by a refused txn") };
    static zkv_request_op_t write_ops [RANGES];
    write_ops [0].request_put = &put;
    for (size_t i = 1; i < RANGES; i++)
        write_ops [i].request_range = &all;
    zkv_txn_t write = { .success = { write_ops, RANGES } };
    reply = s_call_while_others_put (endpoint, &zkv_txn_desc, &write);
    s_assert_error (reply, "zkv: response is too large");
    zkv_msg_destroy (&reply);
    char *data = cf_converged ();
    cr_assert_null (strstr (data, "written="), "a refused txn wrote");
    cr_assert_not_null (strstr (data, "other/19=x"));
    free (data);

    //  64 nested txns of 64 ranges each: 4,096 ranges in a 149 KB request
    static zkv_request_op_t leaves [64], branch [64];
    static zkv_txn_t nested [64];
    for (size_t i = 0; i < 64; i++) {
        leaves [i].request_range = &all;
        nested [i].success = (zkv_request_op_list_t) { leaves, 64 };
        branch [i].request_txn = &nested [i];
    }
    zkv_txn_t deep = { .success = { branch, 64 } };
    reply = s_call_while_others_put (endpoint, &zkv_txn_desc, &deep);
    s_assert_error (reply, "etcdserver: too many operations in txn request");
    zkv_msg_destroy (&reply);

    //  Replies of up to 64 MiB were built and refused: no member came near
    //  the half gigabyte asked for (each peaks near 110 MiB)
    for (size_t m = 0; m < zkv_harness_size (cf_cluster); m++)
        s_assert_peak_under (zkv_harness_name (cf_cluster, m), 256LL * MIB);
    zkv_client_destroy (&client);
}

//  True once the lone member's log says it dropped late reads; else puts
//  through client, to nudge it
static bool
s_late_reads_dropped (void *client)
{
    char *log = zkv_testnode_log (s_node);
    bool said = strstr (log, "reads dropped or stopped past their deadline") != NULL;
    free (log);
    if (!said) {
        zkv_put_t put = { .key = cf_bin ("after"), .value = cf_bin ("x") };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_put_desc, &put, &status);
        zkv_msg_destroy (&reply);
    }
    return said;
}

Test (hostile, reads_past_their_deadline_stop_costing_the_member)
{
    const char *flags [] = { "--max-txn-ops", "4000", NULL };
    s_node = zkv_testnode_start ("late", flags);
    cr_assert_not_null (s_node);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 30000);
    //  300,000 keys: a walk over all of them takes several times the
    //  request timeout
    enum { KEYS = 300000, PER_TXN = 4000 };
    static char keys [PER_TXN][16];
    static zkv_put_t puts [PER_TXN];
    static zkv_request_op_t ops [PER_TXN];
    for (int t = 0; t < KEYS / PER_TXN; t++) {
        for (int i = 0; i < PER_TXN; i++) {
            snprintf (keys [i], sizeof keys [i], "k%07d", t * PER_TXN + i);
            puts [i] = (zkv_put_t) { .key = cf_bin (keys [i]), .value = cf_bin ("v") };
            ops [i].request_put = &puts [i];
        }
        zkv_txn_t txn = { .success = { ops, PER_TXN } };
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_call (client, &zkv_txn_desc, &txn, &status);
        cr_assert (reply && !zkv_reply_error (reply), "loading txn %d failed", t);
        zkv_msg_destroy (&reply);
    }
    //  Then a request timeout far shorter than a walk over them all
    zkv_client_destroy (&client);
    cr_assert_eq (zkv_testnode_kill (s_node, SIGTERM), 0);
    static const char *const short_timeout [] = { "--request-timeout", "100", NULL };
    zkv_testnode_set_flags (s_node, short_timeout);
    cr_assert_eq (zkv_testnode_restart (s_node), 0);
    client = zkv_client_new (zkv_testnode_endpoint (s_node), 30000);

    //  Twenty counts over everything at once: they time out (each but the
    //  first surely, as it waits for the others to be served)
    zkv_range_t count = { .key = cf_bin ("k"), .range_end = cf_bin ("l"), .count_only = true,
                          .serializable = true };
    for (int i = 0; i < 20; i++)
        cr_assert_neq (zkv_client_send (client, &zkv_range_desc, &count, 5000), 0);
    int timed_out = 0;
    for (int i = 0; i < 20; i++) {
        zkv_result_t status;
        zkv_msg_t *reply = zkv_client_recv (client, &zkv_range_desc, 10000, &status);
        cr_assert_not_null (reply, "count %d was never answered", i);
        if (zkv_reply_error (reply)) {
            s_assert_error (reply, "etcdserver: request timed out");
            timed_out++;
        }
        else
            cr_assert_eq (((zkv_range_response_t *) reply->body)->count, KEYS);
        zkv_msg_destroy (&reply);
    }
    cr_assert_geq (timed_out, 19);
    //  ... and the member stopped the first walk at its deadline and never
    //  began the others
    cr_assert (eventually (s_late_reads_dropped, client, 10000),
               "the member never said it dropped the late reads");
    zkv_client_destroy (&client);
}

typedef struct {
    const char *name;
    zkv_client_t *other;
    const char *text;
    int puts;
} s_putting_t;

//  True once the member's log says the text; else puts through the other
//  client, which must be acknowledged
static bool
s_logged_while_putting (void *args)
{
    s_putting_t *self = (s_putting_t *) args;
    if (cf_log_says (self->name, self->text))
        return true;
    char key [32];
    snprintf (key, sizeof key, "while/%d", self->puts++);
    cr_assert (cf_put (self->other, key, "x"), "another client's put was not acknowledged");
    return false;
}

//  Puts through other until the member's log says text (what a hostile
//  client made it do, within a minute): every put acknowledged meanwhile
static void
s_put_until_logged (const char *name, zkv_client_t *other, const char *text)
{
    s_putting_t putting = { name, other, text, 0 };
    cr_assert (eventually (s_logged_while_putting, &putting, 60000),
               "the member never said \"%s\"", text);
}

//  A client that sends count requests of 34 bytes, each for every value
//  (4 MiB), and reads none of the replies: it takes one message into its
//  own queue, and its kernel a few KB
static zsock_t *
s_flood (const char *endpoint, int count)
{
    zsock_t *flood = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (flood, 1);
    zsock_set_rcvbuf (flood, 4096);
    cr_assert_eq (zsock_connect (flood, "%s", endpoint), 0);
    zkv_range_t all = { .key = { (const uint8_t *) "\0", 1 },
                        .range_end = { (const uint8_t *) "\0", 1 } };
    size_t size;
    uint8_t *bytes = zkv_msg_encode (&zkv_range_desc, &all, &size);
    cr_assert_not_null (bytes);
    for (int i = 0; i < count; i++) {
        zframe_t *frame = zframe_new (bytes, size);
        cr_assert_eq (zframe_send (&frame, flood, 0), 0);
    }
    free (bytes);
    return flood;
}

Test (hostile, a_client_that_never_reads_cannot_grow_the_member_without_bound)
{
    //  (no read times out: every reply asked for is made, however slow
    //  the machine)
    const char *flags [] = { "--request-timeout", "60000", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *endpoint = zkv_harness_endpoint (cf_cluster, leader);
    pid_t pid = zkv_harness_pid (cf_cluster, leader);
    zkv_client_t *other = zkv_client_new (endpoint, 10000);
    s_put_large_values (other);
    int64_t before = s_memory (pid, "VmRSS");

    //  300 requests of 34 bytes, each for 4 MiB of values (1.2 GiB in all),
    //  from a client that reads none of the replies
    zsock_t *flood = s_flood (endpoint, 300);
    //  The member closes the connection once it holds 128 MiB for it, and
    //  serves the others all along
    s_put_until_logged (leader, other, "closing the connection of client");
    s_assert_peak_under (leader, 512LL * MIB);
    //  Once the client has gone, the memory goes back to the system (not
    //  under AddressSanitizer, whose allocator keeps what is freed in
    //  quarantine, by design)
    zsock_destroy (&flood);
#ifndef __SANITIZE_ADDRESS__
    s_resident_t resident = { pid, before + 64LL * MIB };
    cr_assert (eventually (s_resident_under, &resident, 30000),
               "the member still holds %lld MiB (%lld before the flood)",
               (long long) (s_memory (pid, "VmRSS") / MIB), (long long) (before / MIB));
#else
    (void) before;
#endif
    cr_assert (cf_put (other, "after", "x"));
    zkv_client_destroy (&other);
}

Test (hostile, clients_that_never_read_cannot_grow_the_member_together_either)
{
    //  Each client may leave 64 MiB unread, and all of them together too
    //  (no read times out)
    const char *flags [] = { "--max-client-unread-bytes", "67108864",
                             "--max-unread-bytes", "67108864",
                             "--request-timeout", "60000", NULL };
    cf_up (flags);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *endpoint = zkv_harness_endpoint (cf_cluster, leader);
    zkv_client_t *other = zkv_client_new (endpoint, 10000);
    s_put_large_values (other);
    //  Three clients ask for 40 MiB each, under their own bound (the
    //  kernel takes a part of it, over 10 MiB here on loopback)
    zsock_t *floods [3];
    for (int i = 0; i < 3; i++)
        floods [i] = s_flood (endpoint, 10);
    s_put_until_logged (leader, other, "past the member's --max-unread-bytes");
    s_assert_peak_under (leader, 512LL * MIB);
    for (int i = 0; i < 3; i++)
        zsock_destroy (&floods [i]);
    cr_assert (cf_put (other, "after", "x"));
    zkv_client_destroy (&other);
}

//  Opens up to count plain TCP connections to endpoint ("tcp://host:port"),
//  one after the other as the member takes them (so that none waits for
//  the kernel to try its handshake again), into socks (-1: not made); they
//  never say a word. Stops early once a few in a row find no room.
static void
s_strangers (const char *endpoint, int *socks, int count)
{
    const char *colon = strrchr (endpoint, ':');
    cr_assert_not_null (colon);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) atoi (colon + 1)) };
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    int in_a_row = 0;
    for (int i = 0; i < count; i++) {
        socks [i] = -1;
        if (in_a_row >= 10)
            continue;
        socks [i] = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        cr_assert_geq (socks [i], 0, "socket: %s", strerror (errno));
        int rc = connect (socks [i], (struct sockaddr *) &address, sizeof address);
        cr_assert (rc == 0 || errno == EINPROGRESS, "connect: %s", strerror (errno));
        struct pollfd made = { .fd = socks [i], .events = POLLOUT };
        in_a_row = rc == 0 || poll (&made, 1, 500) == 1? 0: in_a_row + 1;
    }
}

//  The descriptors a process holds
static int
s_descriptors (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
    DIR *dir = opendir (path);
    cr_assert_not_null (dir, "%s: %s", path, strerror (errno));
    int count = 0;
    while (readdir (dir))
        count++;
    closedir (dir);
    return count - 2;
}

//  Waits until a process's descriptors stay the same for two seconds: the
//  member has taken (or refused) every connection it was offered
static void
s_wait_descriptors_settle (pid_t pid)
{
    int last = s_descriptors (pid);
    for (int round = 0, still = 0; still < 20; round++) {
        cr_assert_lt (round, 600, "the member's descriptors never settled");
        zclock_sleep (100);
        int now = s_descriptors (pid);
        still = now == last? still + 1: 0;
        last = now;
    }
}

Test (hostile, strangers_connections_cannot_take_the_descriptors_the_store_needs)
{
    //  A secure cluster whose members may open 1,024 files, no more
    char dir [] = "/tmp/zkv-test-nofile-XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    snprintf (s_wrapper, sizeof s_wrapper, "%s/zkv-node", dir);
    FILE *script = fopen (s_wrapper, "w");
    cr_assert_not_null (script);
    fprintf (script, "#!/bin/sh\nexec prlimit --nofile=1024:1024 '%s' \"$@\"\n", ZKV_NODE_BIN);
    fclose (script);
    cr_assert_eq (chmod (s_wrapper, 0700), 0);
    cf_node = s_wrapper;
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    const char *endpoint = zkv_harness_endpoint (cf_cluster, leader);
    zkv_client_t *client = zkv_harness_client (cf_cluster, endpoint, 10000);
    cr_assert (cf_put (client, "before", "x"));
    zkv_msg_t *reply = cf_call (leader, &zkv_status_desc, &(zkv_status_t) { 0 });
    cr_assert_not_null (reply);
    char events [128];
    zkv_bin_str (((zkv_status_response_t *) reply->body)->events_endpoint, events,
                 sizeof events);
    zkv_msg_destroy (&reply);
    char peer [128] = "";
    reply = cf_call (leader, &zkv_member_list_desc, &(zkv_member_list_t) { 0 });
    cr_assert_not_null (reply);
    zkv_member_list_response_t *list = (zkv_member_list_response_t *) reply->body;
    for (size_t m = 0; m < list->members.count; m++)
        if (cf_text_is (list->members.items [m].name, leader))
            zkv_bin_str (list->members.items [m].peer_endpoint, peer, sizeof peer);
    zkv_msg_destroy (&reply);
    cr_assert (*peer);

    //  1,300 connections to its client socket, 300 to its events socket
    //  and 300 to its peer socket, more than its descriptors, none of which
    //  will ever speak
    struct rlimit limit;
    cr_assert_eq (getrlimit (RLIMIT_NOFILE, &limit), 0);
    limit.rlim_cur = limit.rlim_max;
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &limit), 0);
    cr_assert_geq (limit.rlim_cur, 2100, "this test needs 2,100 descriptors of its own");
    static int strangers [1900];
    s_strangers (endpoint, strangers, 1300);
    s_strangers (events, strangers + 1300, 300);
    s_strangers (peer, strangers + 1600, 300);
    s_wait_descriptors_settle (zkv_harness_pid (cf_cluster, leader));
    //  The member goes on serving the clients it has, and writing (with
    //  its peers: their connections were made before): a defragmentation
    //  opens new table files
    for (int i = 0; i < 20; i++) {
        char key [32];
        snprintf (key, sizeof key, "during/%02d", i);
        cr_assert (cf_put (client, key, "x"), "a put was not acknowledged");
    }
    zkv_defragment_t defragment = { 0 };
    zkv_result_t status;
    reply = zkv_client_call (client, &zkv_defragment_desc, &defragment, &status);
    cr_assert (reply && !zkv_reply_error (reply), "the defragmentation failed");
    zkv_msg_destroy (&reply);
    cr_assert (zkv_harness_running (cf_cluster, leader), "the member stopped");
    cr_assert (!cf_log_says (leader, "Too many open files"));
    cr_assert (cf_log_says (leader, "guard: the client socket holds"));
    cr_assert (cf_log_says (leader, "guard: the peer socket holds"));

    //  The strangers gone, new clients connect again
    for (int i = 0; i < 1900; i++)
        if (strangers [i] >= 0)
            close (strangers [i]);
    zkv_client_t *newcomer = zkv_harness_client (cf_cluster, endpoint, 20000);
    cr_assert (cf_put (newcomer, "after", "x"));
    zkv_client_destroy (&newcomer);
    zkv_client_destroy (&client);
}
