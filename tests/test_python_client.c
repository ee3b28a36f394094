/*  test_python_client.c — the Python client (clients/python) against real
    members: each test starts a cluster (none for the offline suite) and
    runs `python3 -m unittest test_client` over clients/python/tests with
    ZKV_TEST_SUITE naming the classes to run (the module checks that each
    of its classes is in a suite) and ZKV_TEST_CLUSTER_FILE the cluster.
    It fails when any Python test fails; their output is logged. Also: the
    package installs with pip into a fresh venv, offline. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_fixture.h"

TestSuite (python_client, .timeout = 300);

#define S_PACKAGE ZKV_SOURCE_DIR "/clients/python"

//  Runs the Python suite against the cluster of cluster_file (NULL: none)
static void
s_unittest (const char *suite, const char *cluster_file)
{
    setenv ("ZKV_TEST_SUITE", suite, 1);
    if (cluster_file)
        setenv ("ZKV_TEST_CLUSTER_FILE", cluster_file, 1);
    setenv ("ZKVCTL_BIN", ZKVCTL_BIN, 1);
    setenv ("PYTHONPATH", S_PACKAGE ":" S_PACKAGE "/tests", 1);
    //  No __pycache__ left in the source tree
    setenv ("PYTHONDONTWRITEBYTECODE", "1", 1);
    const char *argv [] = { "/usr/bin/python3", "-m", "unittest", "-v", "test_client", NULL };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_log_info ("%s%s", run.out, run.err);
    cr_assert_eq (run.code, 0, "python3 -m unittest (%s) failed:\n%s%s", suite, run.out,
                  run.err);
    //  A suite that ran nothing would pass too
    cr_assert (strstr (run.err, "\nOK"), "%s", run.err);
    zkv_run_free (&run);
}

//  Resumes every member the Python tests may have left paused, so that
//  the teardown can stop them
static void
s_resume_all (void)
{
    for (size_t i = 0; cf_cluster && i < zkv_harness_size (cf_cluster); i++) {
        pid_t pid = zkv_harness_pid (cf_cluster, zkv_harness_name (cf_cluster, i));
        if (pid > 0)
            kill (pid, SIGCONT);
    }
    cf_teardown ();
}

Test (python_client, rules_against_fake_members)
{
    s_unittest ("offline", NULL);
}

Test (python_client, every_method, .fini = cf_teardown)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    s_unittest ("api", zkv_harness_file (cf_cluster));
}

Test (python_client, members_paused_and_killed, .fini = s_resume_all)
{
    cf_up (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    s_unittest ("faults", zkv_harness_file (cf_cluster));
}

Test (python_client, curve, .fini = cf_teardown)
{
    cf_up_secure (NULL);
    char leader [32];
    cf_leader (leader, sizeof leader);
    s_unittest ("secure", zkv_harness_file (cf_cluster));
}

static char s_dir [128];

static void
s_remove_dir (void)
{
    if (s_dir [0]) {
        char command [256];
        snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
        if (system (command) != 0)
            fprintf (stderr, "could not remove %s\n", s_dir);
    }
}

//  As clients/python/README.md says to install it: into a venv that sees
//  Debian's pyzmq and msgpack, with Debian's setuptools (no download). A
//  copy is installed, for pip builds in the directory it is given.
Test (python_client, installs_with_pip, .fini = s_remove_dir)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/zkv-test-pip-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    const char *script =
        "set -e\n"
        "cp -r \"$1\" \"$2/src\"\n"
        "/usr/bin/python3 -m venv --system-site-packages \"$2/venv\"\n"
        "\"$2/venv/bin/pip\" install --no-build-isolation --no-index --no-cache-dir "
        "--quiet \"$2/src\"\n"
        "cd \"$2\"\n"
        "\"$2/venv/bin/python\" -c 'import sys, zkv; print(zkv.__file__); "
        "assert zkv.__file__.startswith(sys.argv[1] + \"/\"); zkv.Client(\"127.0.0.1:1\")' "
        "\"$2/venv\"\n";
    const char *argv [] = { "/bin/sh", "-c", script, "sh", S_PACKAGE, s_dir, NULL };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    cr_assert (strstr (run.out, "site-packages/zkv/__init__.py"), "%s", run.out);
    zkv_run_free (&run);
}
