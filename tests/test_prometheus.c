/*  test_prometheus.c — a real Prometheus scraping a real 3-member cluster,
    as docs/prometheus/ sets it up: its targets made by
    tools/prometheus-targets from the cluster file, the alert rules loaded,
    a scrape a second. Prometheus's HTTP API must come to say that every
    member has a leader and that one member leads, and, after a
    move-leader, that leader changes were seen and the new leader leads;
    every member's /metrics passes `promtool check metrics` (but for the
    names etcd gives types promtool disputes), and has every metric the
    alert rules use. Prometheus runs on a free loopback port in the
    cluster's temp dir, and dies with the test. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <czmq.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_fixture.h"
#include "metrics_fixture.h"
#include "zkv_file_read.h"
#include "zkv_spawn.h"

#define PROMETHEUS      "/usr/bin/prometheus"       //  Debian's prometheus (tools/setup)
#define TARGETS_TOOL    ZKV_SOURCE_DIR "/tools/prometheus-targets"
#define RULES           ZKV_SOURCE_DIR "/docs/prometheus/zkv.rules.yml"

static pid_t s_prometheus;              //  0: none runs
static char s_api [64];                 //  http://127.0.0.1:<port>

static void
s_stop_prometheus (void)
{
    if (s_prometheus > 0) {
        kill (s_prometheus, SIGTERM);
        waitpid (s_prometheus, NULL, 0);
        s_prometheus = 0;
    }
}

//  Prometheus first (its data is in the cluster's dir), then the cluster
static void
s_teardown (void)
{
    s_stop_prometheus ();
    cf_teardown ();
}

TestSuite (prometheus, .fini = s_teardown, .timeout = 180);

//  GET url (10 s at most); its body, or NULL when it failed (a fresh
//  string). With query, url?query=<query, encoded>.
static char *
s_get (const char *url, const char *query)
{
    char *escaped = query? mf_escape (query): NULL;
    char *full = malloc (strlen (url) + (escaped? strlen (escaped) + 8: 0) + 1);
    cr_assert_not_null (full);
    sprintf (full, "%s%s%s", url, escaped? "?query=": "", escaped? escaped: "");
    mf_http_t answer = mf_http ("GET", full);
    free (full);
    free (escaped);
    if (answer.status == 200)
        return answer.body;
    free (answer.body);
    return NULL;
}

//  A member's name and the URL of its HTTP server
typedef struct {
    const char *name;
    const char *metrics;
} s_member_t;

//  Asserts that metrics (a member's /metrics) has samples of every metric
//  the alert rules use (the etcd_ and zkv_ names in them), so that no rule
//  waits on a metric zkv does not export
static void
s_check_rules_metrics (const char *name, const char *metrics)
{
    char *rules = zkv_file_read (RULES, 0);
    cr_assert_not_null (rules, "cannot read %s", RULES);
    size_t used = 0;
    for (const char *at = rules; *at; at++) {
        bool starts = (at == rules || !(isalnum ((unsigned char) at [-1]) || at [-1] == '_'))
                   && (strncmp (at, "etcd_", 5) == 0 || strncmp (at, "zkv_", 4) == 0);
        if (!starts)
            continue;
        size_t length = strspn (at, "abcdefghijklmnopqrstuvwxyz0123456789_");
        char sample [128];
        snprintf (sample, sizeof sample, "\n%.*s", (int) length, at);
        const char *found = strstr (metrics, sample);
        while (found && found [length + 1] != '{' && found [length + 1] != ' ')
            found = strstr (found + 1, sample);
        cr_assert_not_null (found, "%s exports no %.*s, which zkv.rules.yml uses", name,
                            (int) length, at);
        used++;
        at += length - 1;
    }
    cr_assert_geq (used, 8, "only %zu metrics found in %s", used, RULES);
    free (rules);
}

static void
s_check_metrics (const s_member_t *member)
{
    char url [160];
    snprintf (url, sizeof url, "%s/metrics", member->metrics);
    char *metrics = s_get (url, NULL);
    cr_assert_not_null (metrics, "GET %s failed", url);
    s_check_rules_metrics (member->name, metrics);
    char other [512];
    cr_assert (mf_promtool_passes (metrics, other, sizeof other),
               "promtool check metrics of %s: %s", member->name, other);
    free (metrics);
}

//  A loopback port free now (Prometheus takes no listening socket from
//  us: it binds it itself, and s_start_prometheus tries again if another
//  process took it meanwhile)
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    cr_assert_eq (bind (fd, (struct sockaddr *) &address, length), 0);
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &address, &length), 0);
    close (fd);
    return ntohs (address.sin_port);
}

typedef struct {
    const char *dir;            //  its storage dir, which only ours has
    bool ended;                 //  our Prometheus ended (the port was taken)
} s_starting_t;

//  True once our Prometheus serves its API (the one whose storage is
//  ours), or has ended
static bool
s_prometheus_up (void *args)
{
    s_starting_t *self = (s_starting_t *) args;
    if (waitpid (s_prometheus, NULL, WNOHANG) == s_prometheus) {
        s_prometheus = 0;
        self->ended = true;
        return true;
    }
    char url [128];
    snprintf (url, sizeof url, "%s/api/v1/status/flags", s_api);
    char *flags = s_get (url, NULL);
    bool ours = flags && strstr (flags, self->dir);
    free (flags);
    return ours;
}

//  Starts Prometheus with config, its storage and log in dir
static void
s_start_prometheus (const char *config, const char *dir)
{
    char config_flag [512], storage_flag [512], log [512];
    snprintf (config_flag, sizeof config_flag, "--config.file=%s", config);
    snprintf (storage_flag, sizeof storage_flag, "--storage.tsdb.path=%s/data", dir);
    snprintf (log, sizeof log, "%s/prometheus.log", dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = s_free_port ();
        char listen_flag [64];
        snprintf (listen_flag, sizeof listen_flag, "--web.listen-address=127.0.0.1:%d", port);
        snprintf (s_api, sizeof s_api, "http://127.0.0.1:%d", port);
        const char *argv [] = { PROMETHEUS, config_flag, storage_flag, listen_flag, NULL };
        unlink (log);                   //  (this attempt's alone)
        zkv_spawn_t spawn = { .argv = argv, .path = { "/dev/null", "/dev/null", log },
                              .close_others = true };
        s_prometheus = zkv_spawn (&spawn);
        cr_assert_gt (s_prometheus, 0);
        s_starting_t starting = { dir, false };
        bool up = eventually (s_prometheus_up, &starting, 60000);
        if (up && !starting.ended)
            return;
        char *text = zkv_file_read (log, 0);
        cr_assert (starting.ended && text && strstr (text, "address already in use"),
                   "Prometheus did not start:\n%s", text? text: "");
        free (text);
    }
    cr_assert_fail ("Prometheus found no free port in 5 attempts");
}

//  A PromQL query, and the value its single result should have
typedef struct {
    const char *query;
    const char *wanted;         //  NULL: any single result
    char seen [512];            //  the last answer
} s_query_t;

//  The value of the API's answer to an instant query with one result
//  ("resultType":"vector","result":[{"metric":{…},"value":[<time>,"<value>"]}])
//  into value; false when the result is not one sample
static bool
s_single_value (const char *answer, char *value, size_t size)
{
    const char *at = strstr (answer, "\"value\":[");
    if (!at || strstr (at + 1, "\"value\":["))
        return false;
    at = strchr (at, ',');
    const char *end = at? strchr (at + 2, '"'): NULL;
    if (!at || at [1] != '"' || !end)
        return false;
    snprintf (value, size, "%.*s", (int) (end - at - 2), at + 2);
    return true;
}

static bool
s_query_answers (void *args)
{
    s_query_t *self = (s_query_t *) args;
    char url [128];
    snprintf (url, sizeof url, "%s/api/v1/query", s_api);
    char *answer = s_get (url, self->query);
    snprintf (self->seen, sizeof self->seen, "%s", answer? answer: "(no answer)");
    char value [64];
    bool answers = answer && s_single_value (answer, value, sizeof value)
                && (!self->wanted || streq (value, self->wanted));
    free (answer);
    return answers;
}

//  Waits (60 s at most) until Prometheus answers query with one sample of
//  value wanted (NULL: any); returns it
static double
s_eventually_query (const char *query, const char *wanted)
{
    s_query_t asked = { query, wanted, "" };
    cr_assert (eventually (s_query_answers, &asked, 60000), "Prometheus never said %s is %s: %s",
               query, wanted? wanted: "one sample", asked.seen);
    char value [64] = "";
    s_single_value (asked.seen, value, sizeof value);
    return atof (value);
}

Test (prometheus, scrapes_the_members_and_sees_the_leader_move)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    s_member_t members [3];
    for (size_t i = 0; i < 3; i++) {
        members [i].name = zkv_harness_name (cf_cluster, i);
        members [i].metrics = zkv_harness_metrics (cf_cluster, members [i].name);
        s_check_metrics (&members [i]);
    }

    //  Its targets from the cluster file, as docs/prometheus/README.md says
    char dir [160], targets [192], config [192];
    snprintf (dir, sizeof dir, "%s/prometheus", cf_dir);
    cr_assert_eq (zsys_dir_create ("%s", dir), 0);
    snprintf (targets, sizeof targets, "%s/zkv-targets.json", dir);
    snprintf (config, sizeof config, "%s/prometheus.yml", dir);
    const char *make [] = { TARGETS_TOOL, zkv_harness_file (cf_cluster), "-o", targets, NULL };
    zkv_run_t run = zkv_run (NULL, make);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    FILE *file = fopen (config, "w");
    cr_assert_not_null (file);
    fprintf (file,
             "global:\n"
             "  scrape_interval: 1s\n"
             "  scrape_timeout: 1s\n"
             "  evaluation_interval: 1s\n"
             "rule_files: ['%s']\n"
             "scrape_configs:\n"
             "  - job_name: zkv\n"
             "    file_sd_configs:\n"
             "      - files: ['%s']\n", RULES, targets);
    cr_assert_eq (fclose (file), 0);
    s_start_prometheus (config, dir);

    //  Every member has a leader; one leads, the one the members name
    s_eventually_query ("count(etcd_server_has_leader{job=\"zkv\"} == 1)", "3");
    s_eventually_query ("sum(etcd_server_is_leader{job=\"zkv\"})", "1");
    char query [256];
    snprintf (query, sizeof query, "etcd_server_is_leader{job=\"zkv\",member=\"%s\"}", leader);
    s_eventually_query (query, "1");

    //  Leadership moves to another member: Prometheus sees it
    const char *target = streq (leader, members [0].name)? members [1].name: members [0].name;
    double changes = s_eventually_query (
        "sum(etcd_server_leader_changes_seen_total{job=\"zkv\"})", NULL);
    const char *move [] = { "move-leader", target, NULL };
    run = cf_zkvctl (zkv_harness_endpoint (cf_cluster, leader), move);
    cr_assert_eq (run.code, 0, "%s", run.err);
    zkv_run_free (&run);
    snprintf (query, sizeof query, "sum(etcd_server_leader_changes_seen_total{job=\"zkv\"}) > %g",
              changes);
    s_eventually_query (query, NULL);
    snprintf (query, sizeof query, "etcd_server_is_leader{job=\"zkv\",member=\"%s\"}", target);
    s_eventually_query (query, "1");
    snprintf (query, sizeof query, "etcd_server_is_leader{job=\"zkv\",member=\"%s\"}", leader);
    s_eventually_query (query, "0");
    s_eventually_query ("sum(etcd_server_is_leader{job=\"zkv\"})", "1");
    s_eventually_query ("count(etcd_server_has_leader{job=\"zkv\"} == 1)", "3");
}
