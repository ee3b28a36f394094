/*  test_etcd_diff.c — zkv against the real etcd (Debian's etcd-server,
    3.4): tests/hashkv_diff.py applies one seeded random history of puts,
    overwrites, deletes, range deletes, txns and compactions to both, and
    requires the same revisions and the same HashKV, bit for bit, at many
    revisions (the version differences it leaves out are listed in it).
    Three seeds, each its own test, so that they run in parallel. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "zkv_testnode.h"

TestSuite (etcd_diff, .timeout = 120);

static void
s_diff (const char *seed)
{
    const char *argv [] = {
        "/usr/bin/python3", ZKV_SOURCE_DIR "/tests/hashkv_diff.py", "--zkv-node", ZKV_NODE_BIN,
        "--seed", seed, "--ops", "300", NULL
    };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 0, "hashkv_diff.py --seed %s: exit %d\n%s%s", seed, run.code,
                  run.out, run.err);
    cr_assert_not_null (strstr (run.out, "HashKV comparisons equal"), "%s", run.out);
    zkv_run_free (&run);
}

Test (etcd_diff, hashkv_equals_etcds_seed_1) { s_diff ("1"); }
Test (etcd_diff, hashkv_equals_etcds_seed_2) { s_diff ("2"); }
Test (etcd_diff, hashkv_equals_etcds_seed_3) { s_diff ("3"); }
