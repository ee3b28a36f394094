/*  =========================================================================
    zkv_http.h — a member's HTTP server (libmicrohttpd, one thread of its
    own): /metrics (Prometheus's text format, zkv_metrics.h), /health
    (etcd 3.5's JSON, reasons and query), /livez and /readyz (etcd 3.6's
    named checks).

    It reads what the actors publish in the metrics registry and never
    sends them a message: a scrape cannot make an actor wait. /health and
    /readyz also read through the member's own client endpoint, as any
    client does, with a linearizable Range that must be answered within a
    second (etcd's probe), so that a member that cannot serve is not
    healthy even while its gauges look right.

    Only GET (and HEAD) of those paths; at most max_connections at once
    (those past it are not accepted: they wait in the kernel's listen
    backlog, ZKV_HTTP_BACKLOG of them, and cost the member no descriptor),
    requests of at most ZKV_HTTP_MAX_REQUEST_BYTES (headers included: 431
    beyond), and a connection idle for ZKV_HTTP_IDLE_SECS is closed.
    =========================================================================
*/
#ifndef ZKV_HTTP_H_INCLUDED
#define ZKV_HTTP_H_INCLUDED

#include <stddef.h>

#define ZKV_HTTP_MAX_REQUEST_BYTES (16 * 1024)
#define ZKV_HTTP_IDLE_SECS 10
#define ZKV_HTTP_BACKLOG 16

typedef struct zkv_http_s zkv_http_t;

typedef struct {
    const char *listen;                 //  http://HOST:PORT (PORT 0: any free one)
    int listen_fd;                      //  or an inherited listening socket (>= 0)
    unsigned max_connections;           //  --max-metrics-connections
    const char *cert;                   //  with --cert: the member's certificate
                                        //  (the probe talks CURVE with it); else NULL
} zkv_http_config_t;

//  Starts serving; NULL with a message in error when it cannot (a bad
//  URL, a port taken)
zkv_http_t *
    zkv_http_new (const zkv_http_config_t *config, char *error, size_t size);

//  Where the member serves clients (tcp://HOST:PORT, a wildcard host read
//  as 127.0.0.1), for the probe read of /health and /readyz: until it is
//  told, they fail with "not serving clients yet". Once.
void
    zkv_http_probe_at (zkv_http_t *self, const char *client_endpoint);

//  Stops serving (waits for the request being answered)
void
    zkv_http_destroy (zkv_http_t **self_p);

//  Where it serves: http://HOST:PORT, the port the one it got
const char *
    zkv_http_url (const zkv_http_t *self);

//  Parses http://HOST:PORT (HOST an IPv4 address or localhost; PORT 0 to
//  65535): 0, or -1 with a message in error
int
    zkv_http_parse_url (const char *url, char *host, size_t host_size, int *port,
                        char *error, size_t size);

#endif
