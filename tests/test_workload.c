/*  test_workload.c — the fault-injection workload (tests/workload/zkv_workload.py)
    and its checker (tests/workload/zkv_linearizable.py), run as an operator runs them:
    the checker must tell hand-made good histories from bad ones; a run
    under every fault, the membership faults too (replace, replace-leader,
    churn), must find nothing; and the same run on a build with a planted
    bug (zkv-node-bug-stale-reads: linearizable reads served from local
    state) must be caught.

    ZKV_WORKLOAD_SECONDS sets the length of the clean run (default 60);
    ZKV_WORKLOAD_SEED its seed (default: a new one, printed). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_testnode.h"

TestSuite (workload, .timeout = 600);

static char s_dir [128];

static void
s_remove_dir (void)
{
    if (s_dir [0] && !getenv ("ZKV_KEEP_CLUSTER")) {
        char command [256];
        snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
        if (system (command) != 0)
            fprintf (stderr, "could not remove %s\n", s_dir);
    }
}

//  Runs the workload with args (NULL-terminated) in a temp dir of its own
static zkv_run_t
s_workload (const char *const *args)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/zkv-test-workload-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    const char *argv [32] = {
        "/usr/bin/python3", ZKV_SOURCE_DIR "/tests/workload/zkv_workload.py",
        "--build", ZKV_BUILD_DIR, "--dir", s_dir
    };
    size_t count = 6;
    for (size_t i = 0; args [i] && count < 31; i++)
        argv [count++] = args [i];
    return zkv_run (NULL, argv);
}

Test (workload, checker_tells_good_histories_from_bad)
{
    const char *argv [] = {
        "/usr/bin/python3", ZKV_SOURCE_DIR "/tests/workload/zkv_linearizable_selftest.py", NULL
    };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    zkv_run_free (&run);
}

Test (workload, finds_nothing_wrong_under_every_fault, .fini = s_remove_dir)
{
    const char *seconds = getenv ("ZKV_WORKLOAD_SECONDS");
    const char *seed = getenv ("ZKV_WORKLOAD_SEED");
    //  A member killed before a membership change is the one it replaces
    //  or removes, never another: a member restarted after missing the
    //  addition of the member that now leads refuses its frames and never
    //  catches up (docs/RELIABILITY.md, "Found by the membership faults");
    //  `any` once that is fixed
    const char *args [] = {
        "--seconds", seconds? seconds: "60", "--change-kills", "replaced",
        seed? "--seed": NULL, seed, NULL
    };
    zkv_run_t run = s_workload (args);
    cr_log_info ("%s", run.out);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    cr_assert (strstr (run.out, "linearizable"), "%s", run.out);
    zkv_run_free (&run);
}

//  The checker's demonstration: a follower (or a cut-off leader) answering
//  linearizable reads from its own state is caught as a real-time violation
Test (workload, catches_reads_served_without_a_read_index, .fini = s_remove_dir)
{
    const char *args [] = {
        "--node", ZKV_BUILD_DIR "/zkv-node-bug-stale-reads",
        "--seconds", "20", "--faults", "isolate,partition,pause", NULL
    };
    zkv_run_t run = s_workload (args);
    cr_log_info ("%s", run.out);
    cr_assert_eq (run.code, 1, "%s%s", run.out, run.err);
    cr_assert (strstr (run.out, "VIOLATION"), "%s", run.out);
    cr_assert (strstr (run.out, "real-time"), "%s", run.out);
    zkv_run_free (&run);
}
