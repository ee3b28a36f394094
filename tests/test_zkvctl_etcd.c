/*  test_zkvctl_etcd.c — zkvctl's get, put, del and txn flags against the
    real etcdctl 3.4 and etcd (Debian's etcd-client and etcd-server):
    tests/etcdctl_diff.py runs the same command lines through both and
    requires the same stdout, stderr and exit code, in every -w format, but
    for the header's ids and term and zkvctl's documented exit codes. One
    test per group of flags, each with its own etcd and zkv-node, so that
    they run in parallel. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "zkv_testnode.h"

TestSuite (zkvctl_etcd, .timeout = 240);

static void
s_diff (const char *group)
{
    const char *argv [] = {
        "/usr/bin/python3", ZKV_SOURCE_DIR "/tests/etcdctl_diff.py", "--zkv-node", ZKV_NODE_BIN,
        "--zkvctl", ZKVCTL_BIN, "--group", group, NULL
    };
    zkv_run_t run = zkv_run (NULL, argv);
    cr_assert_eq (run.code, 0, "etcdctl_diff.py --group %s: exit %d\n%s%s", group, run.code,
                  run.out, run.err);
    cr_assert_not_null (strstr (run.out, "print the same through etcdctl and zkvctl"), "%s",
                        run.out);
    zkv_run_free (&run);
}

//  --sort-by and --order: etcd's defaults, with --limit, --prefix,
//  --from-key, --keys-only, --rev, in txn lines; their errors
Test (zkvctl_etcd, get_sort_by_and_order) { s_diff ("sort"); }

//  --rev, --limit, --keys-only, --print-value-only, --from-key, --prefix,
//  --consistency, -w table
Test (zkvctl_etcd, get_flags) { s_diff ("get"); }

//  --prev-kv, --ignore-value, --ignore-lease, --lease (zkv has no leases:
//  etcd's own error for a lease it does not know)
Test (zkvctl_etcd, put_flags) { s_diff ("put"); }

//  --prev-kv, --prefix, --from-key
Test (zkvctl_etcd, del_flags) { s_diff ("del"); }

//  -i/--interactive, both branches, request lines with their flags
Test (zkvctl_etcd, txn_flags) { s_diff ("txn"); }

//  --hex in every format
Test (zkvctl_etcd, hex) { s_diff ("hex"); }
