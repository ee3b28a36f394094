/*  =========================================================================
    zkv_clients.c — the client connections front serves (see zkv_clients.h).
    =========================================================================
*/
#include "zkv_clients.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define QUIET_MSECS 1000                //  a record idle so long is forgotten (a
                                        //  new request makes it again: records
                                        //  never pile up with reconnecting clients)
#define ROUTING_ID_MAX 256              //  bytes of a routing id kept in the key

typedef struct {
    char key [2 * ROUTING_ID_MAX + 1];  //  its routing id, in hex
    int source;                         //  the socket its requests came on (-1: none)
    dev_t source_dev;                   //  which socket that descriptor was then
    ino_t source_ino;                   //  (a closed one's number is given again)
    bool measured;                      //  a tcp socket whose bytes are counted
    struct sockaddr_storage peer;       //  its peer, to know source is still it
    socklen_t peer_size;
    size_t waiting;                     //  its requests waiting for answers
    uint64_t sent;                      //  reply bytes handed to ZeroMQ since the base
    uint64_t taken_base;                //  what the kernel had taken then
    size_t unread;                      //  estimated: sent - taken since
    bool closed;                        //  closed for holding too much
    int64_t last_active;
    uint64_t checked_burst;             //  the burst its socket was last checked in
} s_client_t;

struct zkv_clients_s {
    zhashx_t *by_key;                   //  routing id (hex) -> s_client_t
    size_t max_requests;
    size_t max_unread;
    size_t max_total_unread;
    size_t total_unread;                //  sum of every record's unread
    size_t released;                    //  unread bytes gone since the last trim
    bool trim_due;                      //  give memory back at the next tick
    uint64_t closings;                  //  connections closed so far
    uint64_t burst;                     //  front's bursts of requests so far
};

//  Once so many bytes of unread replies are gone (read at last, or freed
//  with their connection), the memory they held is given back to the
//  system: glibc keeps large freed blocks in its heaps (its threshold for
//  blocks of their own grows with what was freed), so that a member would
//  keep what a client that did not read made it hold
#define TRIM_AFTER_BYTES (64 << 20)

static void
s_client_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

zkv_clients_t *
zkv_clients_new (size_t max_requests, size_t max_unread, size_t max_total_unread)
{
    zkv_clients_t *self = (zkv_clients_t *) zmalloc (sizeof (zkv_clients_t));
    self->by_key = zhashx_new ();           //  string keys, copied
    zhashx_set_destructor (self->by_key, s_client_destroy);
    self->max_requests = max_requests;
    self->max_unread = max_unread;
    self->max_total_unread = max_total_unread;
    return self;
}

void
zkv_clients_destroy (zkv_clients_t **self_p)
{
    zkv_clients_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->by_key);
        free (self);
        *self_p = NULL;
    }
}

static void
s_key (zframe_t *routing_id, char *key)
{
    size_t size = zframe_size (routing_id) < ROUTING_ID_MAX? zframe_size (routing_id)
                                                            : ROUTING_ID_MAX;
    for (size_t i = 0; i < size; i++)
        snprintf (key + 2 * i, 3, "%02x", zframe_data (routing_id) [i]);
    key [2 * size] = 0;
}

static s_client_t *
s_lookup (zkv_clients_t *self, zframe_t *routing_id)
{
    char key [2 * ROUTING_ID_MAX + 1];
    s_key (routing_id, key);
    return (s_client_t *) zhashx_lookup (self->by_key, key);
}

static void
s_set_unread (zkv_clients_t *self, s_client_t *client, size_t unread)
{
    if (unread < client->unread)
        self->released += client->unread - unread;
    self->total_unread = self->total_unread - client->unread + unread;
    client->unread = unread;
}

//  Linux's tcp_info as far as tcpi_bytes_acked (Linux 4.1): glibc's
//  struct ends before it, and <linux/tcp.h> cannot sit beside glibc's
typedef struct {
    struct tcp_info glibc;              //  up to tcpi_total_retrans
    uint64_t tcpi_pacing_rate;
    uint64_t tcpi_max_pacing_rate;
    uint64_t tcpi_bytes_acked;
} s_tcp_info_t;
_Static_assert (offsetof (s_tcp_info_t, tcpi_bytes_acked) == 120, "Linux's tcp_info layout");

//  What the kernel has taken from the member on socket fd since it was
//  opened: the bytes its peer acknowledged plus those still queued to
//  send. -1 when fd is no tcp socket, or no longer the one to peer.
static int64_t
s_kernel_taken (int fd, const struct sockaddr_storage *peer, socklen_t peer_size)
{
    struct sockaddr_storage now;
    socklen_t now_size = sizeof now;
    if (getpeername (fd, (struct sockaddr *) &now, &now_size)
    ||  now_size != peer_size || memcmp (&now, peer, now_size) != 0)
        return -1;
    s_tcp_info_t info;
    socklen_t info_size = sizeof info;
    int queued = 0;
    if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &info_size)
    ||  info_size < sizeof info
    ||  ioctl (fd, SIOCOUTQ, &queued))
        return -1;
    return (int64_t) info.tcpi_bytes_acked + queued;
}

//  The peer of a client, as text for the log
static void
s_peer_text (const s_client_t *client, char *text, size_t size)
{
    char host [INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (client->peer.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) &client->peer;
        inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs (in->sin_port);
    }
    else
    if (client->peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &client->peer;
        inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs (in6->sin6_port);
    }
    snprintf (text, size, "%s:%d", host, port);
}

//  Asks the kernel what the connection's client has taken
static void
s_measure (zkv_clients_t *self, s_client_t *client)
{
    int64_t taken = s_kernel_taken (client->source, &client->peer, client->peer_size);
    if (taken < 0) {
        //  Gone (or never tcp): ZeroMQ dropped what it held for it
        client->measured = false;
        s_set_unread (self, client, 0);
        return;
    }
    uint64_t gone = (uint64_t) taken - client->taken_base;
    s_set_unread (self, client, client->sent > gone? (size_t) (client->sent - gone): 0);
}

//  Closes a connection that holds too much: ZeroMQ sees its socket end,
//  drops the connection and frees the replies it queued
static void
s_close (zkv_clients_t *self, s_client_t *client, const char *why, size_t bound)
{
    char peer [INET6_ADDRSTRLEN + 8];
    s_peer_text (client, peer, sizeof peer);
    zsys_warning ("front: closing the connection of client %s: %zu MiB of replies unread, "
                  "past %s (%zu MiB); %llu closed so far", peer, client->unread >> 20, why,
                  bound >> 20, (unsigned long long) ++self->closings);
    shutdown (client->source, SHUT_RDWR);
    client->closed = true;
    client->measured = false;
    s_set_unread (self, client, 0);
}

//  The member holds too much for all its clients: measures them all, then
//  closes the connections that hold the most until it holds less
static void
s_enforce_total (zkv_clients_t *self)
{
    for (s_client_t *client = (s_client_t *) zhashx_first (self->by_key); client;
         client = (s_client_t *) zhashx_next (self->by_key))
        if (client->unread)
            s_measure (self, client);
    while (self->total_unread > self->max_total_unread) {
        s_client_t *largest = NULL;
        for (s_client_t *client = (s_client_t *) zhashx_first (self->by_key); client;
             client = (s_client_t *) zhashx_next (self->by_key))
            if (!largest || client->unread > largest->unread)
                largest = client;
        if (!largest || largest->unread == 0)
            break;
        s_close (self, largest, "the member's --max-unread-bytes", self->max_total_unread);
    }
}

void
zkv_clients_seen (zkv_clients_t *self, zframe_t *routing_id, int fd)
{
    char key [2 * ROUTING_ID_MAX + 1];
    s_key (routing_id, key);
    s_client_t *client = (s_client_t *) zhashx_lookup (self->by_key, key);
    if (!client) {
        client = (s_client_t *) zmalloc (sizeof (s_client_t));
        memcpy (client->key, key, strlen (key) + 1);
        client->source = -1;
        zhashx_insert (self->by_key, client->key, client);
    }
    client->last_active = zclock_mono ();
    //  Once per burst, the same descriptor is taken for the same socket
    if (fd == client->source && client->checked_burst == self->burst)
        return;
    client->checked_burst = self->burst;
    //  (a routing id a client chose may come back on another socket that
    //  took the same descriptor number)
    struct stat file = { 0 };
    if (fd >= 0 && fstat (fd, &file) != 0)
        fd = -1;
    if (fd == client->source
    &&  (fd < 0 || (file.st_dev == client->source_dev && file.st_ino == client->source_ino)))
        return;
    //  A new connection behind this routing id: counted from here on
    s_set_unread (self, client, 0);
    client->source = fd;
    client->source_dev = file.st_dev;
    client->source_ino = file.st_ino;
    client->sent = 0;
    client->closed = false;
    client->peer_size = sizeof client->peer;
    client->measured = fd >= 0
                    && getpeername (fd, (struct sockaddr *) &client->peer, &client->peer_size) == 0;
    int64_t taken = client->measured? s_kernel_taken (fd, &client->peer, client->peer_size): -1;
    client->measured = taken >= 0;
    client->taken_base = taken >= 0? (uint64_t) taken: 0;
}

void
zkv_clients_burst (zkv_clients_t *self)
{
    self->burst++;
}

bool
zkv_clients_gone (zkv_clients_t *self, zframe_t *routing_id)
{
    s_client_t *client = s_lookup (self, routing_id);
    if (!client || client->source < 0)
        return false;
    //  ZeroMQ closes a connection's descriptor once it ends; another
    //  connection may take the number, never the socket (its inode)
    struct stat file;
    return fstat (client->source, &file) != 0
        || file.st_dev != client->source_dev || file.st_ino != client->source_ino;
}

bool
zkv_clients_busy (zkv_clients_t *self, zframe_t *routing_id)
{
    s_client_t *client = s_lookup (self, routing_id);
    return client && client->waiting >= self->max_requests;
}

void
zkv_clients_wait (zkv_clients_t *self, zframe_t *routing_id)
{
    s_client_t *client = s_lookup (self, routing_id);
    if (client)
        client->waiting++;
}

void
zkv_clients_done (zkv_clients_t *self, zframe_t *routing_id)
{
    s_client_t *client = s_lookup (self, routing_id);
    if (client && client->waiting)
        client->waiting--;
}

bool
zkv_clients_sending (zkv_clients_t *self, zframe_t *routing_id, size_t size)
{
    s_client_t *client = s_lookup (self, routing_id);
    if (!client)
        return true;
    if (client->closed)
        return false;
    client->last_active = zclock_mono ();
    if (!client->measured)
        return true;
    client->sent += size;
    s_set_unread (self, client, client->unread + size);
    if (client->unread > self->max_unread) {
        s_measure (self, client);
        if (client->unread > self->max_unread) {
            s_close (self, client, "--max-client-unread-bytes", self->max_unread);
            return false;
        }
    }
    if (self->total_unread > self->max_total_unread)
        s_enforce_total (self);
    return !client->closed;
}

void
zkv_clients_tick (zkv_clients_t *self, int64_t now)
{
    //  A tick after the bytes went (ZeroMQ frees a closed connection's
    //  queue in its own time), not when they were counted gone
    if (self->trim_due) {
        malloc_trim (0);
        self->trim_due = false;
    }
    if (self->released >= TRIM_AFTER_BYTES) {
        self->trim_due = true;
        self->released = 0;
    }
    zlistx_t *quiet = zlistx_new ();
    for (s_client_t *client = (s_client_t *) zhashx_first (self->by_key); client;
         client = (s_client_t *) zhashx_next (self->by_key)) {
        if (client->unread)
            s_measure (self, client);
        if (client->waiting == 0 && client->unread == 0
        &&  now - client->last_active > QUIET_MSECS)
            zlistx_add_end (quiet, client->key);
    }
    for (char *key = (char *) zlistx_first (quiet); key; key = (char *) zlistx_next (quiet))
        zhashx_delete (self->by_key, key);
    zlistx_destroy (&quiet);
    if (self->total_unread > self->max_total_unread)
        s_enforce_total (self);
}

size_t
zkv_clients_unread (zkv_clients_t *self)
{
    return self->total_unread;
}
