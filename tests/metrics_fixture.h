/*  metrics_fixture.h — a member's HTTP server as a scraper or a probe
    sees it, for the system tests (metrics, prometheus): GETs with
    libcurl, a sample read from Prometheus's text, and promtool's verdict.
    Failures of the machinery itself are Criterion asserts. */
#ifndef METRICS_FIXTURE_H_INCLUDED
#define METRICS_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  An HTTP answer
typedef struct {
    long status;                        //  0: no answer (refused, timed out)
    char *body;                         //  NUL-terminated, never NULL (free it)
    size_t size;
} mf_http_t;

//  method (GET, HEAD, POST) of url (a query in it is sent as it is),
//  10 s at most
mf_http_t
    mf_http (const char *method, const char *url);

//  GET of base + path
mf_http_t
    mf_get (const char *base, const char *path);

//  text escaped for a URL's query (a fresh string: free it)
char *
    mf_escape (const char *text);

//  The value of the sample named (labels included) exactly so in
//  Prometheus's text, -1 if none
double
    mf_sample (const char *metrics, const char *name);

//  True if `promtool check metrics` finds nothing in metrics but what it
//  finds in etcd's own (four gauges etcd named _total, which zkv keeps:
//  dashboards and alert rules use them); else what else it said, and its
//  exit code, in other
bool
    mf_promtool_passes (const char *metrics, char *other, size_t size);

#endif
