/*  =========================================================================
    zkvctl_metrics.c — one sample of a member's Prometheus metrics, read
    over HTTP (libcurl) as etcdctl 3.4's endpointMemoryMetrics reads
    process_resident_memory_bytes for `check datascale`: GET <url>/metrics
    (http:// added when url names no scheme), whatever the HTTP status;
    the first line that starts with the name, less the name and the
    spaces around the rest, is the value, as Go's strconv.ParseFloat
    reads it. What fails is told with etcdctl's words:
        fetch error: ...        (no answer; or its body could not be read)
        could not find: NAME    (no line starts with the name)
        parse error: ...        (the rest is no number)
    =========================================================================
*/
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "zkvctl.h"

#define S_MAX_BODY  (64u << 20)         //  more is no metrics page

typedef struct {
    char *data;
    size_t size;
    bool too_large;
} s_body_t;

static size_t
s_body_write (char *data, size_t size, size_t count, void *arg)
{
    s_body_t *body = (s_body_t *) arg;
    size_t bytes = size * count;
    if (body->size + bytes > S_MAX_BODY) {
        body->too_large = true;
        return 0;                       //  curl stops: CURLE_WRITE_ERROR
    }
    char *grown = (char *) realloc (body->data, body->size + bytes + 1);
    if (!grown)
        return 0;
    memcpy (grown + body->size, data, bytes);
    body->data = grown;
    body->size += bytes;
    body->data [body->size] = 0;
    return bytes;
}

//  Go's strconv.ParseFloat (text, 64): 0 and the value, or -1 with Go's
//  error text in error
static int
s_parse_float (const char *text, double *value, char *error, size_t size)
{
    char *quoted = zkvctl_quote (text, strlen (text));
    char *end = NULL;
    errno = 0;
    *value = *text? strtod (text, &end): 0;
    int rc = 0;
    if (!*text || *end || isspace ((unsigned char) *text)) {
        snprintf (error, size, "strconv.ParseFloat: parsing %s: invalid syntax", quoted);
        rc = -1;
    }
    else
    if (errno == ERANGE && isinf (*value)) {
        //  Go: overflow is an error (underflow is not)
        snprintf (error, size, "strconv.ParseFloat: parsing %s: value out of range", quoted);
        rc = -1;
    }
    free (quoted);
    return rc;
}

double
zkvctl_metrics_sample (const char *url, const char *name, int msecs, char *why, size_t size)
{
    why [0] = 0;
    char *address = zsys_sprintf ("%s%s/metrics",
                                  strncmp (url, "http://", 7) && strncmp (url, "https://", 8)
                                  ? "http://": "", url);
    curl_global_init (CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init ();
    s_body_t body = { NULL, 0, false };
    char curl_error [CURL_ERROR_SIZE] = "";
    CURLcode code = CURLE_FAILED_INIT;
    if (curl) {
        curl_easy_setopt (curl, CURLOPT_URL, address);
        curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_body_write);
        curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_error);
        curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);    //  as Go's http.Get
        curl_easy_setopt (curl, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) (msecs > 0? msecs: 0));
        code = curl_easy_perform (curl);
        curl_easy_cleanup (curl);
    }
    double value = 0;
    if (code != CURLE_OK) {
        const char *text = curl_error [0]? curl_error: curl_easy_strerror (code);
        if (body.too_large)
            snprintf (why, size, "fetch error: reading %s: more than %u bytes", address,
                      S_MAX_BODY);
        else
        if (code == CURLE_WRITE_ERROR)
            snprintf (why, size, "fetch error: reading %s: out of memory", address);
        else
            snprintf (why, size, "fetch error: Get \"%s\": %s", address, text);
    }
    else {
        //  The first line that starts with name
        const char *found = NULL;
        size_t length = strlen (name);
        for (const char *line = body.data? body.data: ""; line && !found;) {
            if (strncmp (line, name, length) == 0)
                found = line + length;
            line = strchr (line, '\n');
            if (line)
                line++;
        }
        char *rest = NULL;
        if (found) {
            size_t end = strcspn (found, "\n");
            while (end > 0 && isspace ((unsigned char) found [end - 1]))
                end--;
            while (end > 0 && isspace ((unsigned char) *found)) {
                found++;
                end--;
            }
            rest = strndup (found, end);
        }
        if (!rest || !*rest)
            snprintf (why, size, "could not find: %s", name);
        else {
            char error [512];
            if (s_parse_float (rest, &value, error, sizeof error)) {
                snprintf (why, size, "parse error: %s", error);
                value = 0;
            }
        }
        free (rest);
    }
    free (body.data);
    zstr_free (&address);
    return value;
}
