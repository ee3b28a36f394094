/*  test_alarm_table.c — the alarm table (store/zkv_alarm_table.c): what
    each alarm lets through at apply (etcd's applier wrappers), Alarm GET,
    ACTIVATE and DEACTIVATE with etcd's answers, the records surviving a
    reopen, etcd's text of an alarm, and etcd's quota costs. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <string.h>

#include "mvcc_fixture.h"
#include "zkv_alarm_table.h"

static zkv_alarm_response_t
s_apply (fx_store_t *store, zkv_alarm_table_t *table, uint64_t action, uint64_t member,
         uint64_t type, bool *changed)
{
    zkv_alarm_t request = { .action = action, .member_id = member, .alarm = type };
    zkv_alarm_response_t response;
    memset (&response, 0, sizeof response);
    fx_begin (store);
    *changed = zkv_alarm_table_apply (table, store->mvcc, &request, store->zone, &response);
    fx_commit (store);
    return response;
}

Test (alarm_table, activate_deactivate_get_and_reload)
{
    fx_store_t store;
    fx_new (&store, false);
    zkv_alarm_table_t *table = zkv_alarm_table_new ();
    bool changed;
    zkv_alarm_response_t response = s_apply (&store, table, ZKV_ALARM_ACTIVATE, 7,
                                             ZKV_ALARM_NOSPACE, &changed);
    cr_assert (changed);
    cr_assert_eq (response.alarms.count, 1);
    cr_assert_eq (response.alarms.items [0].member_id, 7);
    cr_assert_eq (response.alarms.items [0].alarm, ZKV_ALARM_NOSPACE);
    //  Again: nothing changes, and it is listed (etcd's Activate returns
    //  the alarm it holds)
    response = s_apply (&store, table, ZKV_ALARM_ACTIVATE, 7, ZKV_ALARM_NOSPACE, &changed);
    cr_assert (!changed);
    cr_assert_eq (response.alarms.count, 1);
    //  Type NONE is ignored (etcd 3.5+), and so are unknown types
    response = s_apply (&store, table, ZKV_ALARM_ACTIVATE, 9, ZKV_ALARM_NONE, &changed);
    cr_assert (!changed);
    cr_assert_eq (response.alarms.count, 0);
    response = s_apply (&store, table, ZKV_ALARM_ACTIVATE, 9, 257, &changed);
    cr_assert (!changed);
    cr_assert_eq (response.alarms.count, 0);
    s_apply (&store, table, ZKV_ALARM_ACTIVATE, 3, ZKV_ALARM_CORRUPT, &changed);
    s_apply (&store, table, ZKV_ALARM_ACTIVATE, 7, ZKV_ALARM_CORRUPT, &changed);
    //  GET: by type, or all ordered by member then type
    response = s_apply (&store, table, ZKV_ALARM_GET, 0, ZKV_ALARM_CORRUPT, &changed);
    cr_assert_eq (response.alarms.count, 2);
    response = s_apply (&store, table, ZKV_ALARM_GET, 0, ZKV_ALARM_NONE, &changed);
    cr_assert_eq (response.alarms.count, 3);
    cr_assert_eq (response.alarms.items [0].member_id, 3);
    cr_assert_eq (response.alarms.items [1].member_id, 7);
    cr_assert_eq (response.alarms.items [1].alarm, ZKV_ALARM_NOSPACE);
    cr_assert_eq (response.alarms.items [2].alarm, ZKV_ALARM_CORRUPT);
    //  DEACTIVATE removes the exact pair; an absent one changes nothing
    response = s_apply (&store, table, ZKV_ALARM_DEACTIVATE, 3, ZKV_ALARM_NOSPACE, &changed);
    cr_assert (!changed);
    cr_assert_eq (response.alarms.count, 0);
    response = s_apply (&store, table, ZKV_ALARM_DEACTIVATE, 3, ZKV_ALARM_CORRUPT, &changed);
    cr_assert (changed);
    cr_assert_eq (response.alarms.count, 1);
    //  The records are in the alarm family, across a reopen
    fx_close (&store);
    fx_open (&store);
    zkv_alarm_table_t *loaded = zkv_alarm_table_new ();
    char *error = NULL;
    cr_assert_eq (zkv_alarm_table_load (loaded, store.engine, &error), 0, "%s", error);
    cr_assert_eq (zkv_alarm_table_size (loaded), 2);
    cr_assert (zkv_alarm_table_has (loaded, 7, ZKV_ALARM_NOSPACE));
    cr_assert (zkv_alarm_table_has (loaded, 7, ZKV_ALARM_CORRUPT));
    cr_assert (!zkv_alarm_table_has (loaded, 3, ZKV_ALARM_CORRUPT));
    zkv_alarm_table_destroy (&loaded);
    zkv_alarm_table_destroy (&table);
    fx_destroy (&store);
}

Test (alarm_table, etcd_prints_an_alarm_with_a_trailing_space)
{
    zkv_alarm_member_t alarm = { .member_id = 6076398979058094096ULL, .alarm = ZKV_ALARM_NOSPACE };
    char text [64];
    zkv_alarm_text (&alarm, text, sizeof text);
    cr_assert_str_eq (text, "memberID:6076398979058094096 alarm:NOSPACE ");
    alarm.alarm = ZKV_ALARM_CORRUPT;
    zkv_alarm_text (&alarm, text, sizeof text);
    cr_assert_str_eq (text, "memberID:6076398979058094096 alarm:CORRUPT ");
}

//  The gate of each kind of request under the given alarms
static zkv_err_t
s_gate (zkv_alarm_table_t *table, const char *kind)
{
    zkv_put_t put = { .key = fx_bin ("k"), .value = fx_bin ("v") };
    zkv_delete_range_t del = { .key = fx_bin ("k") };
    zkv_range_t range = { .key = fx_bin ("k") };
    zkv_compact_t compact = { .revision = 1 };
    zkv_request_op_t put_op = { .request_put = &put };
    zkv_request_op_t del_op = { .request_delete_range = &del };
    zkv_request_op_t range_op = { .request_range = &range };
    zkv_txn_t txn_put = { .failure = { &put_op, 1 } };
    zkv_txn_t txn_del = { .success = { &del_op, 1 } };
    zkv_txn_t txn_read = { .success = { &range_op, 1 } };
    zkv_alarm_t alarm = { .action = ZKV_ALARM_DEACTIVATE };
    zkv_internal_request_t request = { .origin = 1 };
    if (streq (kind, "put"))
        request.put = &put;
    else if (streq (kind, "delete"))
        request.delete_range = &del;
    else if (streq (kind, "txn put"))
        request.txn = &txn_put;
    else if (streq (kind, "txn delete"))
        request.txn = &txn_del;
    else if (streq (kind, "txn read"))
        request.txn = &txn_read;
    else if (streq (kind, "range"))
        request.range = &range;
    else if (streq (kind, "compact"))
        request.compact = &compact;
    else
        request.alarm = &alarm;
    return zkv_alarm_table_gate (table, &request);
}

Test (alarm_table, each_alarm_refuses_what_etcd_refuses)
{
    const char *kinds [] = { "put", "delete", "txn put", "txn delete", "txn read", "range",
                             "compact", "alarm" };
    //  etcd's applierV3Capped and applierV3Corrupt
    zkv_err_t none [] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    zkv_err_t nospace [] = { ZKV_ERR_NO_SPACE, 0, ZKV_ERR_NO_SPACE, 0, 0, 0, 0, 0 };
    zkv_err_t corrupt [] = { ZKV_ERR_CORRUPT, ZKV_ERR_CORRUPT, ZKV_ERR_CORRUPT, ZKV_ERR_CORRUPT,
                             0, 0, ZKV_ERR_CORRUPT, 0 };
    zkv_alarm_table_t *table = zkv_alarm_table_new ();
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq (s_gate (table, kinds [i]), none [i], "%s", kinds [i]);
    zkv_alarm_table_add (table, 5, ZKV_ALARM_NOSPACE);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq (s_gate (table, kinds [i]), nospace [i], "nospace: %s", kinds [i]);
    //  Both: corrupt is checked first (etcd 3.6 wraps Capped in Corrupt)
    zkv_alarm_table_add (table, 6, ZKV_ALARM_CORRUPT);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq (s_gate (table, kinds [i]), corrupt [i], "corrupt: %s", kinds [i]);
    zkv_alarm_table_remove (table, 5, ZKV_ALARM_NOSPACE);
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq (s_gate (table, kinds [i]), corrupt [i], "corrupt only: %s", kinds [i]);
    zkv_alarm_table_destroy (&table);
}

Test (alarm_table, quota_costs_as_etcd_counts_them)
{
    zkv_put_t small = { .key = fx_bin ("key"), .value = fx_bin ("value") };
    zkv_put_t big = { .key = fx_bin ("k"), .value = fx_bin ("0123456789") };
    cr_assert_eq (zkv_put_cost (&small), 256 + 3 + 5);
    zkv_request_op_t ops [] = { { .request_put = &small }, { .request_put = &big } };
    zkv_txn_t inner = { .success = { ops, 2 } };
    zkv_request_op_t nested = { .request_txn = &inner };
    //  The larger branch, nested txns included
    zkv_txn_t txn = { .success = { &ops [1], 1 }, .failure = { &nested, 1 } };
    cr_assert_eq (zkv_txn_cost (&txn), (256 + 8) + (256 + 11));
    zkv_txn_t reads = { 0 };
    cr_assert_eq (zkv_txn_cost (&reads), 0);
    //  A write fits when size + cost < quota; no quota, or cost 0, always
    zkv_quota_t quota = { .quota = 0 };
    cr_assert (zkv_quota_fits (&quota, NULL, 1000, 1));
    quota.quota = 1000;
    quota.size = 700;
    quota.measured = 1;
    cr_assert (zkv_quota_fits (&quota, NULL, 299, 50));
    cr_assert (!zkv_quota_fits (&quota, NULL, 300, 50));
    cr_assert (zkv_quota_fits (&quota, NULL, 0, 50));
}

//  ---------------------------------------------------------------------
//  The verdict of a corruption check (store/zkv_corrupt.c)

#include "zkv_corrupt.h"

Test (alarm_table, corruption_verdicts_follow_etcd_3_6s_majority_rule)
{
    uint64_t corrupt [8];
    size_t count;
    //  All equal, all compared
    zkv_hash_vote_t equal [] = { { 1, 7, 5 }, { 2, 7, 5 }, { 3, 7, 5 } };
    cr_assert_eq (zkv_corrupt_verdict (equal, 3, 3, 5, corrupt, &count), ZKV_HASHES_EQUAL);
    cr_assert_eq (count, 0);
    //  Equal, but one did not answer, or compacted differently: incomplete
    cr_assert_eq (zkv_corrupt_verdict (equal, 2, 3, 5, corrupt, &count), ZKV_HASHES_INCOMPLETE);
    zkv_hash_vote_t skipped [] = { { 1, 7, 5 }, { 2, 9, 4 }, { 3, 7, 5 } };
    cr_assert_eq (zkv_corrupt_verdict (skipped, 3, 3, 5, corrupt, &count),
                  ZKV_HASHES_INCOMPLETE);
    //  One differs from a majority: it is to blame, even when it is the
    //  reference (the leader)
    zkv_hash_vote_t one [] = { { 1, 8, 5 }, { 2, 7, 5 }, { 3, 7, 5 } };
    cr_assert_eq (zkv_corrupt_verdict (one, 3, 3, 5, corrupt, &count), ZKV_HASHES_DIFFER);
    cr_assert_eq (count, 1);
    cr_assert_eq (corrupt [0], 1);
    //  No majority (of the cluster's members, not of those who answered):
    //  member 0
    zkv_hash_vote_t split [] = { { 1, 8, 5 }, { 2, 7, 5 } };
    cr_assert_eq (zkv_corrupt_verdict (split, 2, 3, 5, corrupt, &count), ZKV_HASHES_DIFFER);
    cr_assert_eq (count, 1);
    cr_assert_eq (corrupt [0], 0);
    //  Five members, two outside a majority of three
    zkv_hash_vote_t five [] = { { 1, 7, 5 }, { 2, 8, 5 }, { 3, 7, 5 }, { 4, 9, 5 },
                                { 5, 7, 5 } };
    cr_assert_eq (zkv_corrupt_verdict (five, 5, 5, 5, corrupt, &count), ZKV_HASHES_DIFFER);
    cr_assert_eq (count, 2);
    cr_assert_eq (corrupt [0], 2);
    cr_assert_eq (corrupt [1], 4);
}

Test (alarm_table, a_members_own_alarm_is_proposed_again_only_when_due)
{
    zkv_alarm_retry_t retry = { 0 };
    cr_assert (zkv_alarm_retry_due (&retry, false, 5000));       //  never proposed
    cr_assert (!zkv_alarm_retry_due (&retry, false, 5500));      //  a moment ago, not seen
    cr_assert (zkv_alarm_retry_due (&retry, false, 6000));       //  a second later
    cr_assert (!zkv_alarm_retry_due (&retry, true, 9000));       //  raised: never
    retry.seen = true;                                           //  seen raised, then cleared
    cr_assert (zkv_alarm_retry_due (&retry, false, 6001));       //  due at once
}
