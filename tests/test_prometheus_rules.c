/*  test_prometheus_rules.c — docs/prometheus/ as an operator uses it:
    the alert rules pass `promtool check rules` and their unit tests
    (`promtool test rules zkv.rules.test.yml`), which test every alert
    firing and not firing; tools/prometheus-targets turns a cluster file
    into file_sd targets that, with the example prometheus.yml, pass
    `promtool check config` (which reads the targets file too), and fails
    as a command does on a file it cannot use. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_file_read.h"
#include "zkv_testnode.h"

#define PROMTOOL        "/usr/bin/promtool"         //  Debian's prometheus (tools/setup)
#define DOCS            ZKV_SOURCE_DIR "/docs/prometheus"
#define TARGETS_TOOL    ZKV_SOURCE_DIR "/tools/prometheus-targets"

static char s_dir [64];

static void
s_make_dir (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/zkv-test-prom-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_remove_dir (void)
{
    if (s_dir [0]) {
        char command [128];
        snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
        if (system (command) != 0)
            fprintf (stderr, "could not remove %s\n", s_dir);
    }
}

//  Runs argv; asserts that it exits with code
static zkv_run_t
s_run (int code, const char *const *argv)
{
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, code, "%s %s: exit %d, not %d\n%s%s", argv [0],
                  argv [1]? argv [1]: "", run.code, code, run.out, run.err);
    return run;
}

//  Writes text into file name of s_dir
static void
s_write (const char *name, const char *text)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "cannot write %s", path);
    cr_assert_eq (fputs (text, file) >= 0, true);
    cr_assert_eq (fclose (file), 0);
}

//  The text of a file of docs/prometheus/
static char *
s_doc (const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", DOCS, name);
    char *text = zkv_file_read (path, 0);
    cr_assert_not_null (text, "cannot read %s", path);
    return text;
}

TestSuite (prometheus_rules, .timeout = 60);

Test (prometheus_rules, pass_promtool_check_rules)
{
    const char *argv [] = { PROMTOOL, "check", "rules", DOCS "/zkv.rules.yml", NULL };
    zkv_run_t run = s_run (0, argv);
    cr_assert_not_null (strstr (run.out, "SUCCESS"), "%s", run.out);
    zkv_run_free (&run);
}

Test (prometheus_rules, pass_their_unit_tests)
{
    const char *argv [] = { PROMTOOL, "test", "rules", DOCS "/zkv.rules.test.yml", NULL };
    zkv_run_t run = s_run (0, argv);
    cr_assert_not_null (strstr (run.out, "SUCCESS"), "%s", run.out);
    zkv_run_free (&run);
}

//  The text of a line, blanks at its start left out
static const char *
s_trimmed (const char *line)
{
    while (*line == ' ')
        line++;
    return line;
}

//  Whether the unit tests (text) evaluate alert with expected alerts
//  (firing) and without (not firing): an alert_rule_test item runs from its
//  `alertname:` to the next item or test group
static void
s_tested (const char *text, const char *alert, bool *firing, bool *not_firing)
{
    *firing = *not_firing = false;
    char wanted [160];
    snprintf (wanted, sizeof wanted, "alertname: %s\n", alert);
    for (const char *at = strstr (text, wanted); at; at = strstr (at + 1, wanted)) {
        if (at > text && at [-1] != ' ')
            continue;
        bool expects = false;
        for (const char *line = strchr (at, '\n'); line && line [1]; line = strchr (line + 1, '\n')) {
            const char *item = s_trimmed (line + 1);
            if (strncmp (item, "- eval_time:", 12) == 0 || strncmp (item, "- interval:", 11) == 0)
                break;
            if (strncmp (item, "- exp_labels:", 13) == 0)
                expects = true;
        }
        if (expects)
            *firing = true;
        else
            *not_firing = true;
    }
}

Test (prometheus_rules, test_every_alert_firing_and_not_firing)
{
    char *rules = s_doc ("zkv.rules.yml");
    char *tests = s_doc ("zkv.rules.test.yml");
    size_t alerts = 0;
    for (const char *line = rules; line; line = strchr (line, '\n')) {
        line = *line == '\n'? line + 1: line;
        const char *item = s_trimmed (line);
        if (strncmp (item, "- alert: ", 9) != 0)
            continue;
        char alert [128];
        cr_assert_eq (sscanf (item + 9, "%127s", alert), 1);
        bool firing, not_firing;
        s_tested (tests, alert, &firing, &not_firing);
        cr_expect (firing, "no unit test of %s firing", alert);
        cr_expect (not_firing, "no unit test of %s not firing", alert);
        alerts++;
    }
    cr_assert_geq (alerts, 8, "only %zu alerts in zkv.rules.yml", alerts);
    free (rules);
    free (tests);
}

//  A cluster file as zkv-cluster writes it: n1 and n2 with metrics URLs
//  (n2's on IPv6, with a path, over https), n3 started without
static const char *s_cluster_file =
    "# zkv cluster file, written by zkv-cluster (read by zkvctl --cluster-file)\n"
    "\n"
    "cluster\n"
    "    token = \"zkv-6f0c0018-3\"\n"
    "    member\n"
    "        name = \"n1\"\n"
    "        id = \"44345a93cb58c013\"\n"
    "        client = \"tcp://127.0.0.1:43193\"\n"
    "        events = \"tcp://127.0.0.1:38165\"\n"
    "        metrics = \"http://127.0.0.1:12382\"\n"
    "    member\n"
    "        name = \"n2\"\n"
    "        id = \"02a505e5d5399c13\"\n"
    "        client = \"tcp://127.0.0.1:33087\"\n"
    "        metrics = \"https://[::1]:22382/zkv\"\n"
    "    member\n"
    "        name = \"n3\"\n"
    "        id = \"0529fe9be5fab94e\"\n"
    "        client = \"tcp://127.0.0.1:33237\"\n";

//  The example config, with its rules, copied into s_dir (the paths in it
//  are relative to it)
static void
s_copy_example (void)
{
    char *config = s_doc ("prometheus.yml");
    char *rules = s_doc ("zkv.rules.yml");
    s_write ("prometheus.yml", config);
    s_write ("zkv.rules.yml", rules);
    free (config);
    free (rules);
}

Test (prometheus_rules, example_config_with_targets_of_a_cluster_file, .init = s_make_dir,
      .fini = s_remove_dir)
{
    s_write ("cluster.zpl", s_cluster_file);
    s_copy_example ();
    char cluster [128], targets [128], config [128];
    snprintf (cluster, sizeof cluster, "%s/cluster.zpl", s_dir);
    snprintf (targets, sizeof targets, "%s/zkv-targets.json", s_dir);
    snprintf (config, sizeof config, "%s/prometheus.yml", s_dir);

    const char *make [] = { TARGETS_TOOL, cluster, "-o", targets, NULL };
    zkv_run_t run = s_run (0, make);
    cr_assert_str_eq (run.out, "");
    cr_assert_str_eq (run.err, "tools/prometheus-targets: member n3 has no metrics URL: left out\n");
    zkv_run_free (&run);
    char *json = zkv_file_read (targets, 0);
    cr_assert_not_null (json);
    //  One group per member with a URL: its host:port and its labels
    const char *wanted [] = {
        "\"targets\": [\n      \"127.0.0.1:12382\"\n    ]",
        "\"member\": \"n1\"", "\"member_id\": \"44345a93cb58c013\"", "\"__scheme__\": \"http\"",
        "\"targets\": [\n      \"[::1]:22382\"\n    ]",
        "\"member\": \"n2\"", "\"member_id\": \"2a505e5d5399c13\"", "\"__scheme__\": \"https\"",
        "\"__metrics_path__\": \"/zkv/metrics\"",
        NULL };
    for (size_t i = 0; wanted [i]; i++)
        cr_expect_not_null (strstr (json, wanted [i]), "no %s in\n%s", wanted [i], json);
    cr_expect_null (strstr (json, "n3"), "n3 in\n%s", json);
    free (json);

    //  The same on stdout
    const char *print [] = { TARGETS_TOOL, cluster, NULL };
    run = s_run (0, print);
    cr_assert_not_null (strstr (run.out, "\"127.0.0.1:12382\""), "%s", run.out);
    zkv_run_free (&run);

    //  promtool reads the config, its rules and the targets file
    const char *check [] = { PROMTOOL, "check", "config", config, NULL };
    run = s_run (0, check);
    cr_assert_null (strstr (run.out, "WARNING"), "%s", run.out);
    cr_assert_null (strstr (run.err, "WARNING"), "%s", run.err);
    zkv_run_free (&run);

    //  ... and would refuse a targets file it cannot use
    s_write ("zkv-targets.json", "[{\"targets\": [\"127.0.0.1:1\"], \"labels\": {\"a b\": \"c\"}}]");
    run = s_run (1, check);
    zkv_run_free (&run);
}

Test (prometheus_rules, targets_of_a_file_it_cannot_use, .init = s_make_dir,
      .fini = s_remove_dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/cluster.zpl", s_dir);

    //  None: no file, no metrics URL, not ZPL
    const char *argv [] = { TARGETS_TOOL, path, NULL };
    zkv_run_t run = s_run (1, argv);
    char expected [256];
    snprintf (expected, sizeof expected,
              "Error: cannot read cluster file %s: no such file or directory\n", path);
    cr_assert_str_eq (run.err, expected);
    zkv_run_free (&run);

    s_write ("cluster.zpl", "cluster\n    member\n        name = \"n1\"\n");
    run = s_run (1, argv);
    cr_assert_str_eq (run.out, "");
    snprintf (expected, sizeof expected,
              "tools/prometheus-targets: member n1 has no metrics URL: left out\n"
              "Error: cluster file %s lists no member metrics URL\n", path);
    cr_assert_str_eq (run.err, expected);
    zkv_run_free (&run);

    s_write ("cluster.zpl", "cluster\n  member\n");
    run = s_run (1, argv);
    snprintf (expected, sizeof expected,
              "Error: cannot parse cluster file %s: line 2: indentation error\n", path);
    cr_assert_str_eq (run.err, expected);
    zkv_run_free (&run);

    //  Bad usage
    const char *bare [] = { TARGETS_TOOL, NULL };
    run = s_run (128, bare);
    cr_assert_str_eq (run.err, "usage: tools/prometheus-targets CLUSTER_FILE [-o FILE]\n");
    zkv_run_free (&run);
    const char *flag [] = { TARGETS_TOOL, "--bogus", NULL };
    run = s_run (128, flag);
    zkv_run_free (&run);
}
