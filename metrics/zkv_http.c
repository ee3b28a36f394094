/*  =========================================================================
    zkv_http.c — a member's HTTP server: /metrics, /health, /livez,
    /readyz (see zkv_http.h).
    =========================================================================
*/
#include "zkv_http.h"
#include "zkv_metrics.h"
#include "zkv_client.h"
#include "zkv_certs.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>

#define PROBE_MSECS 1000                //  etcd's: the probe read's deadline

struct zkv_http_s {
    struct MHD_Daemon *daemon;
    char url [96];
    _Atomic (char *) client_endpoint;   //  where the probe reads (set once)
    zkv_curve_t *curve;                 //  ...with these credentials (or none)
};

int
zkv_http_parse_url (const char *url, char *host, size_t host_size, int *port, char *error,
                    size_t size)
{
    const char *scheme = "http://";
    const char *rest = strncmp (url, scheme, strlen (scheme)) == 0? url + strlen (scheme): NULL;
    const char *colon = rest? strrchr (rest, ':'): NULL;
    char *end = NULL;
    long number = colon && colon [1]? strtol (colon + 1, &end, 10): -1;
    size_t length = colon? (size_t) (colon - rest): 0;
    if (!colon || !end || *end || number < 0 || number > 65535 || length == 0
    ||  length >= host_size) {
        snprintf (error, size, "%s is not http://HOST:PORT", url);
        return -1;
    }
    snprintf (host, host_size, "%.*s", (int) length, rest);
    if (strcmp (host, "localhost") == 0)
        snprintf (host, host_size, "127.0.0.1");
    struct in_addr address;
    if (inet_pton (AF_INET, host, &address) != 1) {
        snprintf (error, size, "%s: %s is not an IPv4 address", url, host);
        return -1;
    }
    *port = (int) number;
    return 0;
}

//  ---------------------------------------------------------------------
//  Health

//  Why the member is not healthy now, or NULL: etcd's order and reasons
//  (an alarm, no leader, a linearizable read that fails); the probe's
//  error goes into buffer
static const char *
s_unhealthy (zkv_http_t *self, bool alarms, char *buffer, size_t size)
{
    if (alarms) {
        if (atomic_load (&zkv_metrics.alarms_active [1].value))
            return "ALARM NOSPACE";
        if (atomic_load (&zkv_metrics.alarms_active [2].value))
            return "ALARM CORRUPT";
    }
    else
    if (atomic_load (&zkv_metrics.alarms_active [2].value))
        return "ALARM CORRUPT";
    if (!atomic_load (&zkv_metrics.has_leader.value))
        return "RAFT NO LEADER";
    //  A client of its own for each probe: the server's thread is the
    //  only one, so probes never overlap; a fresh connection also sees a
    //  member that stopped taking new ones
    const char *endpoint = atomic_load (&self->client_endpoint);
    zkv_client_t *client = endpoint? zkv_client_new (endpoint, PROBE_MSECS): NULL;
    if (!client) {
        snprintf (buffer, size, "RANGE ERROR:%s", endpoint? "cannot reach the client endpoint"
                                                          : "not serving clients yet");
        return buffer;
    }
    zkv_client_set_retry (client, false);
    zkv_client_set_curve (client, self->curve);
    zkv_range_t request = {
        .key = zkv_bin ("health", 6), .limit = 1, .keys_only = true
    };
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &request, &status);
    const char *reason = NULL;
    if (!reply) {
        snprintf (buffer, size, "RANGE ERROR:%s%s%s", zkv_err_message (status.err),
                  *status.detail? ": ": "", status.detail);
        reason = buffer;
    }
    else
    if (zkv_reply_error (reply)) {
        const zkv_error_t *failure = zkv_reply_error (reply);
        snprintf (buffer, size, "RANGE ERROR:%.*s", (int) failure->message.size,
                  (const char *) failure->message.data);
        reason = buffer;
    }
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    return reason;
}

//  ---------------------------------------------------------------------
//  Requests

static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned status, const char *type,
           char *body, size_t size)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", type);
    enum MHD_Result result = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return result;
}

static enum MHD_Result
s_respond_text (struct MHD_Connection *connection, unsigned status, const char *text)
{
    return s_respond (connection, status, "text/plain; charset=utf-8", strdup (text),
                      strlen (text));
}

//  etcd's /health: {"health":"true","reason":""}, or 503 with "false" and
//  why
static enum MHD_Result
s_health (zkv_http_t *self, struct MHD_Connection *connection)
{
    char buffer [300];
    const char *reason = s_unhealthy (self, true, buffer, sizeof buffer);
    char *body = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&body, &size);
    if (!out)
        return MHD_NO;
    fprintf (out, "{\"health\":\"%s\",\"reason\":\"", reason? "false": "true");
    //  the reason as a JSON string (an error's text may hold anything)
    for (const char *c = reason? reason: ""; *c; c++)
        if (*c == '"' || *c == '\\')
            fprintf (out, "\\%c", *c);
        else
        if ((unsigned char) *c < 0x20)
            fprintf (out, "\\u%04x", (unsigned char) *c);
        else
            fputc (*c, out);
    fprintf (out, "\"}");
    fclose (out);
    return s_respond (connection, reason? MHD_HTTP_SERVICE_UNAVAILABLE: MHD_HTTP_OK,
                      "application/json", body, size);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **request_cls)
{
    zkv_http_t *self = (zkv_http_t *) cls;
    (void) version;
    (void) upload_data;
    //  The first call comes with the headers alone; answer on the second
    //  (any body a client sends is read and ignored)
    if (*request_cls == NULL) {
        *request_cls = self;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_respond_text (connection, MHD_HTTP_METHOD_NOT_ALLOWED,
                               "method not allowed\n");
    if (strcmp (url, "/metrics") == 0) {
        size_t size;
        char *text = zkv_metrics_render (&size);
        if (!text)
            return s_respond_text (connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   "out of memory\n");
        return s_respond (connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                          text, size);
    }
    if (strcmp (url, "/health") == 0)
        return s_health (self, connection);
    if (strcmp (url, "/livez") == 0)
        return s_respond_text (connection, MHD_HTTP_OK, "ok");
    if (strcmp (url, "/readyz") == 0) {
        char buffer [300];
        const char *reason = s_unhealthy (self, false, buffer, sizeof buffer);
        if (!reason)
            return s_respond_text (connection, MHD_HTTP_OK, "ok");
        char text [340];
        snprintf (text, sizeof text, "not ready: %s", reason);
        return s_respond_text (connection, MHD_HTTP_SERVICE_UNAVAILABLE, text);
    }
    return s_respond_text (connection, MHD_HTTP_NOT_FOUND, "404 page not found\n");
}

//  libmicrohttpd's own complaints (a connection refused past the limit,
//  a request too large) go to the log at debug level only: a stranger
//  must not be able to fill the log
static void
s_log (void *cls, const char *format, va_list args)
{
    (void) cls;
    (void) format;
    (void) args;
}

//  ---------------------------------------------------------------------

zkv_http_t *
zkv_http_new (const zkv_http_config_t *config, char *error, size_t size)
{
    char host [64];
    int port = 0;
    if (config->listen_fd < 0
    &&  zkv_http_parse_url (config->listen, host, sizeof host, &port, error, size))
        return NULL;
    zkv_http_t *self = (zkv_http_t *) calloc (1, sizeof (zkv_http_t));
    if (!self) {
        snprintf (error, size, "out of memory");
        return NULL;
    }
    if (config->cert) {
        self->curve = zkv_curve_new (config->cert, config->cert, error, size);
        if (!self->curve) {
            zkv_http_destroy (&self);
            return NULL;
        }
    }
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (config->listen_fd < 0)
        inet_pton (AF_INET, host, &address.sin_addr);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    self->daemon = MHD_start_daemon (
        flags, (uint16_t) port, NULL, NULL, s_answer, self,
        config->listen_fd >= 0? MHD_OPTION_LISTEN_SOCKET: MHD_OPTION_SOCK_ADDR,
        config->listen_fd >= 0? (intptr_t) config->listen_fd: (intptr_t) &address,
        MHD_OPTION_CONNECTION_LIMIT, config->max_connections,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned) ZKV_HTTP_BACKLOG,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) ZKV_HTTP_MAX_REQUEST_BYTES,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) ZKV_HTTP_IDLE_SECS,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, NULL,
        MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (error, size, "cannot serve metrics on %s",
                  config->listen_fd >= 0? "the inherited socket": config->listen);
        zkv_http_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    if (config->listen_fd >= 0) {
        struct sockaddr_in bound;
        socklen_t length = sizeof bound;
        getsockname (config->listen_fd, (struct sockaddr *) &bound, &length);
        inet_ntop (AF_INET, &bound.sin_addr, host, sizeof host);
    }
    snprintf (self->url, sizeof self->url, "http://%s:%u", host,
              info? (unsigned) info->port: (unsigned) port);
    return self;
}

void
zkv_http_destroy (zkv_http_t **self_p)
{
    zkv_http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    zkv_curve_destroy (&self->curve);
    free (atomic_load (&self->client_endpoint));
    free (self);
    *self_p = NULL;
}

void
zkv_http_probe_at (zkv_http_t *self, const char *client_endpoint)
{
    char *endpoint = NULL;
    const char *wildcards [] = { "tcp://0.0.0.0:", "tcp://*:" };
    for (size_t i = 0; i < 2 && !endpoint; i++)
        if (strncmp (client_endpoint, wildcards [i], strlen (wildcards [i])) == 0)
            endpoint = zsys_sprintf ("tcp://127.0.0.1:%s",
                                     client_endpoint + strlen (wildcards [i]));
    if (!endpoint)
        endpoint = strdup (client_endpoint);
    char *none = NULL;
    if (!atomic_compare_exchange_strong (&self->client_endpoint, &none, endpoint))
        free (endpoint);
}

const char *
zkv_http_url (const zkv_http_t *self)
{
    return self->url;
}
