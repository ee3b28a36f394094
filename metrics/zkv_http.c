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
//  Answers

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

//  ---------------------------------------------------------------------
//  Health, as etcd 3.5 and 3.6 answer it

//  A Range of the member through its own client endpoint, as any client
//  makes it, answered within a second (etcd 3.4's probe deadline). NULL
//  when it was served, else why not (in buffer)
static const char *
s_probe_read (zkv_http_t *self, zkv_range_t *request, char *buffer, size_t size)
{
    //  A client of its own for each probe: the server's thread is the
    //  only one, so probes never overlap; a fresh connection also sees a
    //  member that stopped taking new ones
    const char *endpoint = atomic_load (&self->client_endpoint);
    zkv_client_t *client = endpoint? zkv_client_new (endpoint, PROBE_MSECS): NULL;
    if (!client) {
        snprintf (buffer, size, "%s", endpoint? "cannot reach the client endpoint"
                                              : "not serving clients yet");
        return buffer;
    }
    zkv_client_set_retry (client, false);
    zkv_client_set_curve (client, self->curve);
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, request, &status);
    const char *failure = NULL;
    if (!reply) {
        snprintf (buffer, size, "%s%s%s", zkv_err_message (status.err),
                  *status.detail? ": ": "", status.detail);
        failure = buffer;
    }
    else
    if (zkv_reply_error (reply)) {
        const zkv_error_t *error = zkv_reply_error (reply);
        snprintf (buffer, size, "%.*s", (int) error->message.size,
                  (const char *) error->message.data);
        failure = buffer;
    }
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    return failure;
}

static bool
s_alarm_active (uint64_t type)
{
    return atomic_load (&zkv_metrics.alarms_active [type].value) != 0;
}

//  What a query names: ?serializable=true, and each ?exclude= and
//  ?allowlist= (at most a few of each; more are an error)
#define S_NAMES 4

typedef struct {
    bool serializable;
    const char *exclude [S_NAMES];
    size_t exclude_count;
    const char *allow [S_NAMES];
    size_t allow_count;
    bool too_many;
} s_query_t;

static enum MHD_Result
s_query_arg (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    s_query_t *query = (s_query_t *) cls;
    (void) kind;
    if (!value || !*value)
        return MHD_YES;
    if (strcmp (key, "serializable") == 0)
        query->serializable = strcmp (value, "true") == 0;
    else
    if (strcmp (key, "exclude") == 0 || strcmp (key, "allowlist") == 0) {
        bool exclude = key [0] == 'e';
        size_t *count = exclude? &query->exclude_count: &query->allow_count;
        if (*count == S_NAMES)
            query->too_many = true;
        else
            (exclude? query->exclude: query->allow) [(*count)++] = value;
    }
    return MHD_YES;
}

static bool
s_named (const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (names [i], name) == 0)
            return true;
    return false;
}

//  Writes etcd's health JSON into a fresh string: {"health":"true"|"false",
//  "reason":"..."} with reason escaped as JSON; failed ones end with a
//  newline, as etcd's http.Error writes them
static char *
s_health_json (bool healthy, const char *reason, size_t *size)
{
    char *body = NULL;
    FILE *out = open_memstream (&body, size);
    if (!out)
        return NULL;
    fprintf (out, "{\"health\":\"%s\",\"reason\":\"", healthy? "true": "false");
    for (const unsigned char *c = (const unsigned char *) reason; *c; c++)
        if (*c == '"' || *c == '\\')
            fprintf (out, "\\%c", *c);
        else
        if (*c == '\n')
            fprintf (out, "\\n");
        else
        if (*c < 0x20)
            fprintf (out, "\\u%04x", *c);
        else
            fputc (*c, out);
    fprintf (out, "\"}%s", healthy? "": "\n");
    fclose (out);
    return body;
}

static enum MHD_Result
s_respond_health (struct MHD_Connection *connection, bool healthy, const char *reason)
{
    size_t size;
    char *body = s_health_json (healthy, reason, &size);
    if (!body)
        return MHD_NO;
    return s_respond (connection, healthy? MHD_HTTP_OK: MHD_HTTP_SERVICE_UNAVAILABLE,
                      "text/plain; charset=utf-8", body, size);
}

//  /health: the alarms not excluded, a leader (unless serializable), a
//  Range (linearizable unless serializable; a learner's always
//  serializable, as it serves no other), in that order; the first that
//  fails is the reason
static enum MHD_Result
s_health (zkv_http_t *self, struct MHD_Connection *connection, const s_query_t *query)
{
    const char *reason = NULL;
    char buffer [300], failure [340];
    if (s_alarm_active (ZKV_ALARM_TYPE_NOSPACE)
    &&  !s_named (query->exclude, query->exclude_count, "NOSPACE"))
        reason = "ALARM NOSPACE";
    else
    if (s_alarm_active (ZKV_ALARM_TYPE_CORRUPT)
    &&  !s_named (query->exclude, query->exclude_count, "CORRUPT"))
        reason = "ALARM CORRUPT";
    else
    if (!query->serializable && !atomic_load (&zkv_metrics.has_leader.value))
        reason = "RAFT NO LEADER";
    else {
        zkv_range_t request = {
            .key = zkv_bin ("health", 6), .limit = 1, .keys_only = true,
            .serializable = query->serializable
                         || atomic_load (&zkv_metrics.is_learner.value) != 0
        };
        if (s_probe_read (self, &request, buffer, sizeof buffer)) {
            snprintf (failure, sizeof failure, "RANGE ERROR:%s", buffer);
            reason = failure;
        }
    }
    return s_respond_health (connection, reason == NULL, reason? reason: "");
}

//  /livez and /readyz: etcd 3.6's named checks, each reported ("[+]name
//  ok" or "[-]name failed: why"), run in order; ?exclude= and ?allowlist=
//  choose among them, or a sub-path names one
typedef enum { S_SERIALIZABLE_READ, S_DATA_CORRUPTION } s_check_t;

static const char *const s_check_names [] = { "serializable_read", "data_corruption" };

static enum MHD_Result
s_checks (zkv_http_t *self, struct MHD_Connection *connection, const s_query_t *query,
          const s_check_t *checks, size_t count)
{
    //  Each named in the query must be one of them
    const char *const *lists [2] = { query->exclude, query->allow };
    size_t counts [2] = { query->exclude_count, query->allow_count };
    if (counts [0] && counts [1])
        return s_respond_text (connection, MHD_HTTP_BAD_REQUEST, "both an allowlist and an "
                               "exclude list are specified in the query\n");
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < counts [l]; i++) {
            bool known = false;
            for (size_t c = 0; c < count; c++)
                known |= strcmp (lists [l][i], s_check_names [checks [c]]) == 0;
            if (!known) {
                char text [200];
                snprintf (text, sizeof text, "some health checks cannot be %s: no matches "
                          "for \"%.64s\"\n", l == 0? "excluded": "included", lists [l][i]);
                return s_respond_text (connection, MHD_HTTP_BAD_REQUEST, text);
            }
        }
    char reason [1024] = "";
    bool healthy = true;
    for (size_t c = 0; c < count; c++) {
        const char *name = s_check_names [checks [c]];
        if (s_named (query->exclude, query->exclude_count, name)
        ||  (query->allow_count && !s_named (query->allow, query->allow_count, name)))
            continue;
        char why [300], buffer [320];
        const char *failure = NULL;
        if (checks [c] == S_DATA_CORRUPTION && s_alarm_active (ZKV_ALARM_TYPE_CORRUPT))
            failure = "Alarm active: CORRUPT";
        else
        if (checks [c] == S_SERIALIZABLE_READ) {
            zkv_range_t request = {
                .key = zkv_bin ("\0", 1), .range_end = zkv_bin ("\0", 1), .limit = 1,
                .keys_only = true, .serializable = true
            };
            if (s_probe_read (self, &request, why, sizeof why)) {
                snprintf (buffer, sizeof buffer, "RANGE ERROR: %s", why);
                failure = buffer;
            }
        }
        size_t used = strlen (reason);
        if (failure)
            snprintf (reason + used, sizeof reason - used, "[-]%s failed: %s\n", name, failure);
        else
            snprintf (reason + used, sizeof reason - used, "[+]%s ok\n", name);
        healthy &= failure == NULL;
    }
    return s_respond_health (connection, healthy, reason);
}

//  ---------------------------------------------------------------------
//  Requests

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
                               "Method Not Allowed\n");
    if (strcmp (url, "/metrics") == 0) {
        size_t size;
        char *text = zkv_metrics_render (&size);
        if (!text)
            return s_respond_text (connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   "out of memory\n");
        return s_respond (connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                          text, size);
    }
    s_query_t query;
    memset (&query, 0, sizeof query);
    MHD_get_connection_values (connection, MHD_GET_ARGUMENT_KIND, s_query_arg, &query);
    if (query.too_many)
        return s_respond_text (connection, MHD_HTTP_BAD_REQUEST, "too many checks named\n");
    if (strcmp (url, "/health") == 0)
        return s_health (self, connection, &query);
    static const s_check_t livez [] = { S_SERIALIZABLE_READ };
    static const s_check_t readyz [] = { S_DATA_CORRUPTION, S_SERIALIZABLE_READ };
    const struct { const char *path; const s_check_t *checks; size_t count; } paths [] = {
        { "/livez", livez, 1 }, { "/livez/serializable_read", livez, 1 },
        { "/readyz", readyz, 2 }, { "/readyz/data_corruption", readyz, 1 },
        { "/readyz/serializable_read", readyz + 1, 1 }
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths [0]; i++)
        if (strcmp (url, paths [i].path) == 0)
            return s_checks (self, connection, &query, paths [i].checks, paths [i].count);
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
