/*  metrics_fixture.c — see metrics_fixture.h */
#include "metrics_fixture.h"
#include "zkv_testnode.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    mf_http_t *answer = (mf_http_t *) arg;
    char *grown = realloc (answer->body, answer->size + size * count + 1);
    cr_assert_not_null (grown);
    memcpy (grown + answer->size, data, size * count);
    answer->size += size * count;
    grown [answer->size] = 0;
    answer->body = grown;
    return size * count;
}

mf_http_t
mf_http (const char *method, const char *url)
{
    mf_http_t answer = { 0, strdup (""), 0 };
    CURL *curl = curl_easy_init ();
    cr_assert_not_null (curl);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp (method, "HEAD") == 0)
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &answer);
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &answer.status);
    curl_easy_cleanup (curl);
    return answer;
}

mf_http_t
mf_get (const char *base, const char *path)
{
    char *url = malloc (strlen (base) + strlen (path) + 1);
    cr_assert_not_null (url);
    sprintf (url, "%s%s", base, path);
    mf_http_t answer = mf_http ("GET", url);
    free (url);
    return answer;
}

char *
mf_escape (const char *text)
{
    char *escaped = curl_easy_escape (NULL, text, 0);
    cr_assert_not_null (escaped);
    char *copy = strdup (escaped);
    curl_free (escaped);
    return copy;
}

double
mf_sample (const char *metrics, const char *name)
{
    size_t length = strlen (name);
    for (const char *line = metrics; line && *line; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp (line, name, length) == 0 && line [length] == ' ')
            return atof (line + length + 1);
    }
    return -1;
}

//  What promtool says of etcd's own metrics that it says of zkv's too
static const char *s_etcd_lint [] = {
    "etcd_debugging_mvcc_keys_total non-counter metrics should not have \"_total\" suffix",
    "etcd_server_proposals_applied_total non-counter metrics should not have \"_total\" suffix",
    "etcd_server_proposals_committed_total non-counter metrics should not have \"_total\" suffix",
    "etcd_server_snapshot_apply_in_progress_total"
        " non-counter metrics should not have \"_total\" suffix",
    NULL
};

bool
mf_promtool_passes (const char *metrics, char *other, size_t size)
{
    const char *argv [] = { "/usr/bin/promtool", "check", "metrics", NULL };
    zkv_run_t run = zkv_run (metrics, argv);
    snprintf (other, size, "exit %d:", run.code);
    //  0: clean; 3: lint problems (1: not the text format)
    bool passes = run.code == 0 || run.code == 3;
    char *lines = malloc (strlen (run.out) + strlen (run.err) + 2);
    cr_assert_not_null (lines);
    sprintf (lines, "%s\n%s", run.out, run.err);
    char *save = NULL;
    for (char *line = strtok_r (lines, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        size_t i = 0;
        while (s_etcd_lint [i] && strcmp (s_etcd_lint [i], line) != 0)
            i++;
        if (!s_etcd_lint [i]) {
            size_t used = strlen (other);
            snprintf (other + used, size - used, "\n%s", line);
            passes = false;
        }
    }
    free (lines);
    zkv_run_free (&run);
    return passes;
}
