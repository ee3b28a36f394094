/*  test_zkvctl_check.c — zkvctl check perf and check datascale (etcdctl
    3.4's) against real zkv-node members: their lines and exit codes, the
    refusal of a prefix that holds keys, a load etcdctl does not know, the
    FAIL lines when every put fails, a member that serves no metrics, and
    that no key is left under the prefix. Performance is never asserted: a
    verdict may be PASS or FAIL, but its lines must have etcdctl's shape
    and the exit code must follow it. The loads run for a second or two
    (ZKV_CHECK_SECONDS, ZKV_CHECK_PUTS), not etcdctl's minute. */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"
#include "zkv_testnode.h"

static zkv_testnode_t *s_node;

static void
s_teardown (void)
{
    zkv_testnode_destroy (&s_node);
    cf_teardown ();
}

TestSuite (zkvctl_check, .fini = s_teardown, .timeout = 120);

//  True if text matches the extended regular expression pattern
static bool
s_matches (const char *text, const char *pattern)
{
    regex_t regex;
    cr_assert_eq (regcomp (&regex, pattern, REG_EXTENDED | REG_NOSUB), 0, "%s", pattern);
    bool matches = regexec (&regex, text, 0, NULL, 0) == 0;
    regfree (&regex);
    return matches;
}

//  The progress bar's last drawing (after its last carriage return, up to
//  the newline that ends it) into bar; returns what stdout holds after it
static const char *
s_bar (const char *out, char *bar, size_t size)
{
    const char *last = strrchr (out, '\r');
    cr_assert_not_null (last, "no progress bar in: %s", out);
    const char *end = strchr (last, '\n');
    cr_assert_not_null (end, "the bar's line does not end: %s", out);
    snprintf (bar, size, "%.*s", (int) (end - last - 1), last + 1);
    return end + 1;
}

//  The next line of *at (into line, without its newline); false at the end
static bool
s_line (const char **at, char *line, size_t size)
{
    if (**at == 0)
        return false;
    size_t length = strcspn (*at, "\n");
    snprintf (line, size, "%.*s", (int) length, *at);
    *at += length + ((*at) [length] == '\n');
    return true;
}

//  How many keys start with prefix, as the members agree
static int64_t
s_keys_under (const char *endpoints, const char *prefix)
{
    char end [64];
    snprintf (end, sizeof end, "%s", prefix);
    end [strlen (end) - 1]++;
    zkv_range_t range = { .key = cf_bin (prefix), .range_end = cf_bin (end), .count_only = true };
    zkv_client_t *client = zkv_client_new (endpoints, 5000);
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, &zkv_range_desc, &range, &status);
    cr_assert_not_null (reply);
    cr_assert_null (zkv_reply_error (reply));
    int64_t count = ((zkv_range_response_t *) reply->body)->count;
    zkv_msg_destroy (&reply);
    zkv_client_destroy (&client);
    return count;
}

//  The lines of perf's verdict from at: the throughput, the slowest put,
//  the deviation, then PASS or FAIL, each as etcdctl words it; checks the
//  exit code follows the verdict
static void
s_expect_perf_verdict (const char *at, int code)
{
    static const char *patterns [] = {
        "^(PASS: Throughput is|FAIL: Throughput too low:) [0-9]+ writes/s$",
        "^(PASS: Slowest request took|Slowest request took too long:) [0-9]+\\.[0-9]{6}s$",
        "^(PASS: Stddev is|Stddev too high:) [0-9]+\\.[0-9]{6}s$"
    };
    char line [256];
    bool pass = true;
    for (size_t i = 0; i < 3; i++) {
        cr_assert (s_line (&at, line, sizeof line), "line %zu missing", i);
        cr_assert (s_matches (line, patterns [i]), "not etcdctl's: %s", line);
        pass = pass && strncmp (line, "PASS: ", 6) == 0;
    }
    cr_assert (s_line (&at, line, sizeof line));
    cr_assert_str_eq (line, pass? "PASS": "FAIL");
    cr_assert_eq (code, pass? 0: 1);
    cr_assert_str_eq (at, "", "more after the verdict: %s", at);
}

Test (zkvctl_check, perf_and_datascale_on_a_cluster_print_etcdctls_lines_and_leave_no_key)
{
    cf_up (NULL);
    char leader [16];
    cf_leader (leader, sizeof leader);
    const char *endpoints = zkv_harness_endpoints (cf_cluster);
    //  perf, with --auto-compact and --auto-defrag, under a prefix of its own
    const char *perf [] = { "check", "perf", "--load", "small", "--prefix", "/perf-test/",
                            "--auto-compact", "--auto-defrag", NULL };
    zkv_run_t run = cf_zkvctl_env (endpoints, "ZKV_CHECK_SECONDS=2", perf);
    cr_assert (run.code == 0 || run.code == 1, "exit %d\n%s%s", run.code, run.out, run.err);
    cr_assert_str_eq (run.err, "");
    char bar [512], line [256], expected [256];
    const char *at = s_bar (run.out, bar, sizeof bar);
    cr_assert (s_matches (bar, "^ 2 / 2 (Bo*m? *!)? 100\\.00% [0-9]+s *$"), "bar: %s", bar);
    cr_assert (s_line (&at, line, sizeof line));
    cr_assert (s_matches (line, "^Compacting with revision [0-9]+$"), "%s", line);
    char compacted [256];
    snprintf (compacted, sizeof compacted, "Compacted%s", line + strlen ("Compacting"));
    cr_assert (s_line (&at, line, sizeof line));
    cr_assert_str_eq (line, compacted);
    char *list = strdup (endpoints), *saved = NULL;
    for (char *endpoint = strtok_r (list, ",", &saved); endpoint;
         endpoint = strtok_r (NULL, ",", &saved)) {
        snprintf (expected, sizeof expected, "Defragmenting \"%s\"", endpoint);
        cr_assert (s_line (&at, line, sizeof line));
        cr_assert_str_eq (line, expected);
        snprintf (expected, sizeof expected, "Defragmented \"%s\"", endpoint);
        cr_assert (s_line (&at, line, sizeof line));
        cr_assert_str_eq (line, expected);
    }
    free (list);
    s_expect_perf_verdict (at, run.code);
    zkv_run_free (&run);
    cr_assert_eq (s_keys_under (endpoints, "/perf-test/"), 0);

    //  datascale: the first endpoint's member's memory, from its /metrics
    const char *datascale [] = { "check", "datascale", "--prefix", "/ds-test/", NULL };
    run = cf_zkvctl_env (endpoints, "ZKV_CHECK_PUTS=300", datascale);
    cr_assert_eq (run.code, 0, "exit %d\n%s%s", run.code, run.out, run.err);
    cr_assert_str_eq (run.err, "");
    const char *start = "Start data scale check for work load [300 key-value pairs, 1024 bytes "
                        "per key-value, 50 concurrent clients].\n";
    cr_assert_eq (strncmp (run.out, start, strlen (start)), 0, "%s", run.out);
    at = s_bar (run.out, bar, sizeof bar);
    cr_assert (s_matches (bar, "^ 300 / 300 (Bo*m? *!)? 100\\.00% [0-9]+s *$"), "bar: %s", bar);
    cr_assert (s_matches (at, "^PASS: Approximate system memory used : -?[0-9]+\\.[0-9]{2} "
                              "MB\\.\n$"), "%s", at);
    zkv_run_free (&run);
    cr_assert_eq (s_keys_under (endpoints, "/ds-test/"), 0);
}

Test (zkvctl_check, a_prefix_with_keys_is_refused_and_its_keys_kept)
{
    s_node = zkv_testnode_start ("check", NULL);
    cr_assert_not_null (s_node);
    const char *endpoint = zkv_testnode_endpoint (s_node);
    static const char *prefixes [] = { "/etcdctl-check-perf/", "/etcdctl-check-datascale/" };
    static const char *checks [] = { "perf", "datascale" };
    for (int i = 0; i < 2; i++) {
        char key [64], error [256];
        snprintf (key, sizeof key, "%skept", prefixes [i]);
        const char *put [] = { "put", key, "v", NULL };
        zkv_run_t run = cf_zkvctl_env (endpoint, NULL, put);
        cr_assert_eq (run.code, 0, "%s", run.err);
        zkv_run_free (&run);
        //  (were it not refused, the load would be short)
        const char *check [] = { "check", checks [i], NULL };
        run = cf_zkvctl_env (endpoint, i? "ZKV_CHECK_PUTS=10": "ZKV_CHECK_SECONDS=1", check);
        snprintf (error, sizeof error, "Error: prefix \"%s\" has keys. Delete with zkvctl del "
                  "--prefix %s first\n", prefixes [i], prefixes [i]);
        cr_assert_eq (run.code, 3, "exit %d\n%s%s", run.code, run.out, run.err);
        cr_assert_str_eq (run.out, "");
        cr_assert_str_eq (run.err, error);
        zkv_run_free (&run);
        cr_assert_eq (s_keys_under (endpoint, prefixes [i]), 1);
    }
}

Test (zkvctl_check, a_load_etcdctl_does_not_know_is_a_bad_argument)
{
    //  Refused before anything is sent: no member is needed
    const char *perf [] = { "check", "perf", "--load=huge", NULL };
    zkv_run_t run = cf_zkvctl_env ("127.0.0.1:9", NULL, perf);
    cr_assert_eq (run.code, 128);
    cr_assert_str_eq (run.out, "");
    cr_assert_str_eq (run.err, "Error: unknown load option huge\n");
    zkv_run_free (&run);
    const char *datascale [] = { "check", "datascale", "--load", "XL", NULL };
    run = cf_zkvctl_env ("127.0.0.1:9", NULL, datascale);
    cr_assert_eq (run.code, 128);
    cr_assert_str_eq (run.err, "Error: unknown load option XL\n");
    zkv_run_free (&run);
}

Test (zkvctl_check, when_every_put_fails_the_verdict_says_so)
{
    //  A member that takes no request of more than 1 KiB: every put of a
    //  check is larger (a 1 KiB value), the rest is not
    const char *flags [] = { "--max-request-bytes", "1024",
                             "--listen-metrics", "http://127.0.0.1:0", NULL };
    s_node = zkv_testnode_start ("check", flags);
    cr_assert_not_null (s_node);
    const char *endpoint = zkv_testnode_endpoint (s_node);
    const char *perf [] = { "check", "perf", NULL };
    zkv_run_t run = cf_zkvctl_env (endpoint, "ZKV_CHECK_SECONDS=1", perf);
    cr_assert_eq (run.code, 1, "exit %d\n%s%s", run.code, run.out, run.err);
    cr_assert_str_eq (run.err, "");
    char bar [512];
    const char *at = s_bar (run.out, bar, sizeof bar);
    cr_assert (s_matches (at, "^FAIL: too many errors\n"
                              "FAIL: ERROR\\(etcdserver: request is too large\\) -> [0-9]+\n"
                              "FAIL: Throughput too low: 1 writes/s\n"
                              "PASS: Slowest request took 0\\.000000s\n"
                              "PASS: Stddev is NaNs\n"
                              "FAIL\n$"), "%s", at);
    zkv_run_free (&run);
    const char *datascale [] = { "check", "datascale", NULL };
    run = cf_zkvctl_env (endpoint, "ZKV_CHECK_PUTS=100", datascale);
    cr_assert_eq (run.code, 1, "exit %d\n%s%s", run.code, run.out, run.err);
    cr_assert_str_eq (run.err, "");
    at = s_bar (run.out, bar, sizeof bar);
    cr_assert_str_eq (at, "FAIL: too many errors\n"
                          "FAIL: ERROR(etcdserver: request is too large) -> 100\n");
    zkv_run_free (&run);
}

Test (zkvctl_check, datascale_on_a_member_without_metrics_fails_before_any_put)
{
    s_node = zkv_testnode_start ("check", NULL);
    cr_assert_not_null (s_node);
    const char *endpoint = zkv_testnode_endpoint (s_node);
    const char *datascale [] = { "check", "datascale", NULL };
    zkv_run_t run = cf_zkvctl_env (endpoint, "ZKV_CHECK_PUTS=10", datascale);
    cr_assert_eq (run.code, 1, "exit %d\n%s%s", run.code, run.out, run.err);
    cr_assert_str_eq (run.out, "");
    char error [256];
    snprintf (error, sizeof error, "Error: the member at %s serves no metrics (its status has "
              "no metrics_url): cannot read process_resident_memory_bytes\n", endpoint);
    cr_assert_str_eq (run.err, error);
    zkv_run_free (&run);
    cr_assert_eq (s_keys_under (endpoint, "/etcdctl-check-datascale/"), 0);
}
