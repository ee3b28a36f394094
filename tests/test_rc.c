/*  test_rc.c — the raft core, scenario by scenario: the paper's rules,
    etcd's raft tests that apply to our design, and a regression test per
    known bug of real Raft implementations that our design could have. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rc_net.h"

static zkv_rc_config_t
s_config (bool pre_vote, bool check_quorum)
{
    zkv_rc_config_t config = {
        .election_ticks = 10, .heartbeat_ticks = 1, .pre_vote = pre_vote,
        .check_quorum = check_quorum, .max_msg_bytes = 1 << 20, .max_inflight = 256,
        .seed = 42
    };
    return config;
}

//  PreVote on; CheckQuorum only where a test is about it, since its lease
//  makes members ignore elections until time passes
static rc_net_t *
s_net (size_t count)
{
    zkv_rc_config_t config = s_config (true, false);
    return rc_net_new (count, &config);
}

static rc_net_t *
s_net_check_quorum (size_t count)
{
    zkv_rc_config_t config = s_config (true, true);
    return rc_net_new (count, &config);
}

//  Ticks node id once and delivers everything that follows, rounds times
static void
s_tick_and_stabilize (rc_net_t *net, uint64_t id, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        rc_net_tick (net, id, 1);
        rc_net_stabilize (net);
    }
}

static zkv_rc_t *
s_core (rc_net_t *net, uint64_t id)
{
    return rc_net_node (net, id)->core;
}

//  Every node applied the same commands, in the same order
static void
s_assert_same_applied (rc_net_t *net, size_t expected)
{
    for (size_t id = 1; id <= net->count; id++) {
        cr_assert_eq (net->applied_count [id], expected, "node %zu applied %zu, not %zu",
                      id, net->applied_count [id], expected);
        for (size_t i = 0; i < expected; i++)
            cr_assert_str_eq (net->applied [id][i], net->applied [1][i]);
    }
}

//  ---------------------------------------------------------------------
//  Elections

Test (rc, single_node_becomes_leader_and_commits)
{
    rc_net_t *net = s_net (1);
    rc_net_campaign (net, 1);
    cr_assert_eq (zkv_rc_role (s_core (net, 1)), ZKV_RC_LEADER);
    cr_assert_eq (zkv_rc_term (s_core (net, 1)), 1);
    cr_assert_eq (rc_net_propose (net, 1, "a"), ZKV_RC_OK);
    cr_assert_eq (zkv_rc_committed (s_core (net, 1)), 2);    //  empty entry + a
    cr_assert_eq (net->applied_count [1], 2);
    cr_assert_str_eq (net->applied [1][1], "a");
    rc_net_destroy (&net);
}

Test (rc, single_node_commits_only_what_is_durable)
{
    //  etcd #14370: a lone member must not apply before its fsync
    rc_net_t *net = s_net (1);
    rc_net_campaign (net, 1);
    zkv_rc_t *core = s_core (net, 1);
    zkv_bin_t data = zkv_bin ("x", 1);
    cr_assert_eq (zkv_rc_propose (core, &data, 1), ZKV_RC_OK);
    zkv_rc_ready_t ready;
    zkv_rc_ready (core, &ready);
    cr_assert_eq (ready.entry_count, 1);        //  to write
    cr_assert_eq (ready.committed_count, 0);    //  not yet committed
    zkv_rc_advance (core);
    zkv_rc_ready (core, &ready);                //  now it is durable
    cr_assert_eq (ready.committed_count, 1);
    cr_assert_eq (ready.committed [0].index, 2);
    zkv_rc_advance (core);
    rc_net_destroy (&net);
}

Test (rc, three_nodes_elect_one_leader)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (zkv_rc_term (s_core (net, 1)), 1);
    cr_assert_eq (zkv_rc_leader (s_core (net, 2)), 1);
    cr_assert_eq (zkv_rc_leader (s_core (net, 3)), 1);
    rc_net_destroy (&net);
}

Test (rc, election_needs_a_quorum)
{
    rc_net_t *net = s_net (3);
    rc_net_isolate (net, 1);
    rc_net_campaign (net, 1);
    cr_assert_neq (zkv_rc_role (s_core (net, 1)), ZKV_RC_LEADER);
    //  With PreVote, an isolated member does not even raise its term
    cr_assert_eq (zkv_rc_term (s_core (net, 1)), 0);
    rc_net_destroy (&net);
}

Test (rc, timeouts_elect_a_leader_by_themselves)
{
    rc_net_t *net = s_net (3);
    for (int tick = 0; tick < 40 && !rc_net_leader (net); tick++) {
        for (uint64_t id = 1; id <= 3; id++)
            rc_net_tick (net, id, 1);
        rc_net_stabilize (net);
    }
    cr_assert_neq (rc_net_leader (net), 0);
    rc_net_destroy (&net);
}

Test (rc, randomized_timeouts_differ)
{
    //  Raft §5.2: timeouts are drawn from [election, 2 * election)
    rc_net_t *net = s_net (5);
    int first [6];
    for (uint64_t id = 1; id <= 5; id++) {
        zkv_rc_t *core = s_core (net, id);
        int ticks = 0;
        while (zkv_rc_role (core) == ZKV_RC_FOLLOWER && ticks < 100) {
            zkv_rc_tick (core);
            ticks++;
        }
        cr_assert_geq (ticks, 10);
        cr_assert_lt (ticks, 20);
        first [id] = ticks;
    }
    bool differ = false;
    for (uint64_t id = 2; id <= 5; id++)
        differ |= first [id] != first [1];
    cr_assert (differ);
    rc_net_destroy (&net);
}

Test (rc, vote_needs_an_up_to_date_log)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    //  Node 3 missed "a": it cannot win against 1 and 2
    rc_net_isolate (net, 3);
    rc_net_propose (net, 1, "b");
    rc_net_recover (net);
    rc_net_isolate (net, 1);
    rc_net_campaign (net, 3);
    cr_assert_neq (zkv_rc_role (s_core (net, 3)), ZKV_RC_LEADER);
    rc_net_campaign (net, 2);
    cr_assert_eq (zkv_rc_role (s_core (net, 2)), ZKV_RC_LEADER);
    rc_net_destroy (&net);
}

Test (rc, one_vote_per_term_across_restarts)
{
    rc_net_t *net = s_net (3);
    zkv_rc_t *core = s_core (net, 3);
    zkv_raft_message_t vote = { .type = ZKV_RC_MSG_VOTE, .to = 3, .from = 1, .term = 5 };
    zkv_rc_step (core, &vote);
    rc_node_process (rc_net_node (net, 3));
    //  Restart: the vote for 1 in term 5 is durable
    rc_node_crash (rc_net_node (net, 3));
    rc_node_restart (rc_net_node (net, 3), 9);
    core = s_core (net, 3);
    cr_assert_eq (zkv_rc_term (core), 5);
    size_t before = net->queue_count;
    vote.from = 2;
    zkv_rc_step (core, &vote);
    rc_node_process (rc_net_node (net, 3));
    cr_assert_eq (net->queue_count, before + 1);
    cr_assert (net->queue [net->queue_count - 1].message.reject, "voted twice in term 5");
    rc_net_destroy (&net);
}

//  What other members send is never trusted not to crash the core (found
//  by fuzz/fuzz_raft.c): appends whose entries skip indexes, go back in
//  term or contradict what is committed are dropped or refused, and a
//  transfer request with entries is forwarded without them
Test (rc, malformed_messages_from_members_are_dropped)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    zkv_rc_t *core = s_core (net, 2);
    uint64_t term = zkv_rc_term (core), last = zkv_rc_last_index (core);
    uint64_t committed = zkv_rc_committed (core);
    zkv_entry_t entries [2] = {
        { .index = last + 1, .term = term }, { .index = last + 5, .term = term }
    };
    zkv_raft_message_t append = {
        .type = ZKV_RC_MSG_APP, .to = 2, .from = 1, .term = term, .index = last,
        .log_term = term, .entries = { entries, 2 }, .commit = committed
    };
    zkv_rc_step (core, &append);                //  skips indexes
    rc_node_process (rc_net_node (net, 2));
    cr_assert_eq (zkv_rc_last_index (core), last);
    entries [1].index = last + 2;
    entries [1].term = term - 1;
    zkv_rc_step (core, &append);                //  goes back in term
    rc_node_process (rc_net_node (net, 2));
    cr_assert_eq (zkv_rc_last_index (core), last);
    //  An entry that contradicts a committed one
    zkv_entry_t rewrite = { .index = committed, .term = term + 1 };
    zkv_raft_message_t contradict = {
        .type = ZKV_RC_MSG_APP, .to = 2, .from = 1, .term = term + 1, .index = committed - 1,
        .log_term = zkv_rc_term_at (core, committed - 1), .entries = { &rewrite, 1 }
    };
    zkv_rc_step (core, &contradict);
    rc_node_process (rc_net_node (net, 2));
    cr_assert_eq (zkv_rc_committed (core), committed);
    cr_assert_eq (zkv_rc_term_at (core, committed), term);
    //  A transfer request with entries, to a follower that forwards it
    zkv_entry_t stray = { .index = 1, .term = 1 };
    zkv_raft_message_t transfer = {
        .type = ZKV_RC_MSG_TRANSFER_LEADER, .to = 3, .from = 2,
        .term = zkv_rc_term (s_core (net, 3)), .entries = { &stray, 1 }
    };
    zkv_rc_step (s_core (net, 3), &transfer);
    rc_node_process (rc_net_node (net, 3));
    rc_net_destroy (&net);
}

Test (rc, pre_vote_keeps_a_partitioned_member_from_disrupting)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 3);
    s_tick_and_stabilize (net, 3, 50);
    cr_assert_eq (zkv_rc_term (s_core (net, 3)), 1);     //  never raised
    rc_net_recover (net);
    rc_net_propose (net, 1, "after");
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (zkv_rc_term (s_core (net, 1)), 1);
    rc_net_destroy (&net);
}

Test (rc, check_quorum_steps_an_isolated_leader_down)
{
    rc_net_t *net = s_net_check_quorum (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 1);
    s_tick_and_stabilize (net, 1, 25);
    cr_assert_eq (zkv_rc_role (s_core (net, 1)), ZKV_RC_FOLLOWER);
    rc_net_destroy (&net);
}

Test (rc, votes_are_ignored_within_the_leader_lease)
{
    rc_net_t *net = s_net_check_quorum (3);
    rc_net_campaign (net, 1);
    //  Node 3 asks for votes at a higher term while 2 hears from 1
    zkv_raft_message_t vote = { .type = ZKV_RC_MSG_VOTE, .to = 2, .from = 3, .term = 5,
                                .index = 100, .log_term = 5 };
    zkv_rc_step (s_core (net, 2), &vote);
    cr_assert_eq (zkv_rc_term (s_core (net, 2)), 1, "a lease-holding follower changed term");
    //  Unless it is a transfer's campaign
    vote.context = 1;
    zkv_rc_step (s_core (net, 2), &vote);
    cr_assert_eq (zkv_rc_term (s_core (net, 2)), 5);
    rc_net_destroy (&net);
}

Test (rc, a_stale_leader_learns_the_new_term)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 1);
    rc_net_campaign (net, 2);
    cr_assert_eq (zkv_rc_role (s_core (net, 2)), ZKV_RC_LEADER);
    rc_net_recover (net);
    //  1 still believes it leads until it hears from the others
    rc_net_tick (net, 1, 1);            //  heartbeat to 2 and 3 at term 1
    rc_net_stabilize (net);
    cr_assert_eq (zkv_rc_role (s_core (net, 1)), ZKV_RC_FOLLOWER);
    cr_assert_eq (zkv_rc_term (s_core (net, 1)), zkv_rc_term (s_core (net, 2)));
    rc_net_destroy (&net);
}

//  ---------------------------------------------------------------------
//  Replication and commit

Test (rc, proposals_replicate_and_apply_everywhere)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    rc_net_propose (net, 1, "b");
    //  Followers forward proposals to the leader
    cr_assert_eq (rc_net_propose (net, 2, "c"), ZKV_RC_OK);
    s_assert_same_applied (net, 4);
    cr_assert_str_eq (net->applied [3][3], "c");
    rc_net_destroy (&net);
}

Test (rc, proposal_without_a_leader_fails_at_once)
{
    rc_net_t *net = s_net (3);
    cr_assert_eq (rc_net_propose (net, 2, "x"), ZKV_RC_NO_LEADER);
    rc_net_destroy (&net);
}

Test (rc, commit_needs_a_quorum)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    uint64_t committed = zkv_rc_committed (s_core (net, 1));
    rc_net_isolate (net, 1);
    rc_net_propose (net, 1, "lonely");
    cr_assert_eq (zkv_rc_committed (s_core (net, 1)), committed);
    rc_net_destroy (&net);
}

Test (rc, divergent_followers_converge_on_the_leaders_log)
{
    rc_net_t *net = s_net (5);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    //  1 appends entries only 2 gets, then loses leadership
    rc_net_isolate (net, 3);
    rc_net_isolate (net, 4);
    rc_net_isolate (net, 5);
    rc_net_propose (net, 1, "lost-1");
    rc_net_propose (net, 1, "lost-2");
    rc_net_recover (net);
    rc_net_isolate (net, 1);
    rc_net_isolate (net, 2);
    //  3, 4, 5 elect 3 and commit other entries at those indexes
    rc_net_campaign (net, 3);
    cr_assert_eq (zkv_rc_role (s_core (net, 3)), ZKV_RC_LEADER);
    rc_net_propose (net, 3, "kept-1");
    rc_net_propose (net, 3, "kept-2");
    rc_net_propose (net, 3, "kept-3");
    rc_net_recover (net);
    rc_net_propose (net, 3, "kept-4");
    rc_net_tick (net, 3, 1);            //  heartbeats unpause the probes
    rc_net_stabilize (net);
    for (uint64_t id = 1; id <= 5; id++)
        cr_assert_eq (zkv_rc_last_index (s_core (net, id)), zkv_rc_last_index (s_core (net, 3)),
                      "node %llu", (unsigned long long) id);
    //  What 1 and 2 applied stops before the lost entries, then matches
    for (uint64_t id = 1; id <= 5; id++)
        for (size_t i = 0; i < net->applied_count [id]; i++)
            cr_assert_null (strstr (net->applied [id][i], "lost"), "node %llu applied a lost entry",
                            (unsigned long long) id);
    rc_net_destroy (&net);
}

//  Drives a lone core through one ready, as the shell would
static void
s_cycle (zkv_rc_t *core)
{
    zkv_rc_ready_t ready;
    while (zkv_rc_has_ready (core)) {
        zkv_rc_ready (core, &ready);
        zkv_rc_advance (core);
    }
}

Test (rc, leader_commits_only_entries_of_its_term)
{
    //  Raft Figure 8: an entry of an earlier term on a majority is not
    //  committed by counting replicas; only an entry of the leader's own
    //  term is, and the earlier ones with it
    uint64_t voters [3] = { 1, 2, 3 };
    zkv_entry_t entries [2] = { { .index = 1, .term = 1 }, { .index = 2, .term = 2 } };
    zkv_rc_config_t config = s_config (false, false);
    config.id = 1;
    config.voters = voters;
    config.voter_count = 3;
    zkv_rc_restore_t restore = { .hard_state = { 2, 0, 0 }, .entries = entries,
                                 .entry_count = 2 };
    zkv_rc_t *core = zkv_rc_new (&config, &restore);
    zkv_rc_campaign (core);
    s_cycle (core);
    zkv_raft_message_t granted = { .type = ZKV_RC_MSG_VOTE_RESP, .to = 1, .from = 2, .term = 3 };
    zkv_rc_step (core, &granted);
    s_cycle (core);
    cr_assert_eq (zkv_rc_role (core), ZKV_RC_LEADER);
    cr_assert_eq (zkv_rc_last_index (core), 3);         //  its empty entry, term 3
    //  2 holds index 2 (term 2): a majority with the leader, yet no commit
    zkv_raft_message_t ack = { .type = ZKV_RC_MSG_APP_RESP, .to = 1, .from = 2, .term = 3,
                               .index = 2 };
    zkv_rc_step (core, &ack);
    s_cycle (core);
    cr_assert_eq (zkv_rc_committed (core), 0, "committed an entry of an earlier term");
    //  2 holds index 3, of term 3: all three commit
    ack.index = 3;
    zkv_rc_step (core, &ack);
    s_cycle (core);
    cr_assert_eq (zkv_rc_committed (core), 3);
    zkv_rc_destroy (&core);
}

Test (rc, stale_append_does_not_truncate)
{
    //  A duplicate of an old append must not cut entries appended since
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    rc_net_propose (net, 1, "b");
    zkv_rc_t *follower = s_core (net, 2);
    uint64_t last = zkv_rc_last_index (follower);
    zkv_entry_t old = { .index = 2, .term = 1, .data = zkv_bin ("a", 1) };
    zkv_raft_message_t stale = { .type = ZKV_RC_MSG_APP, .to = 2, .from = 1, .term = 1,
                                 .index = 1, .log_term = 1, .entries = { &old, 1 },
                                 .commit = 1 };
    zkv_rc_step (follower, &stale);
    rc_node_process (rc_net_node (net, 2));
    cr_assert_eq (zkv_rc_last_index (follower), last);
    rc_net_destroy (&net);
}

Test (rc, follower_commits_only_what_it_verified)
{
    //  ScyllaDB #9965: an append with a high commit index must not commit
    //  entries the follower has not matched against the leader
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    zkv_rc_t *follower = s_core (net, 2);
    //  The follower holds a divergent entry at index 2, term 1
    zkv_entry_t divergent = { .index = 2, .term = 1, .data = zkv_bin ("old", 3) };
    zkv_raft_message_t append = { .type = ZKV_RC_MSG_APP, .to = 2, .from = 1, .term = 1,
                                  .index = 1, .log_term = 1, .entries = { &divergent, 1 } };
    zkv_rc_step (follower, &append);
    rc_node_process (rc_net_node (net, 2));
    //  An empty append that matches at index 1, with commit 5
    zkv_raft_message_t high = { .type = ZKV_RC_MSG_APP, .to = 2, .from = 1, .term = 1,
                                .index = 1, .log_term = 1, .commit = 5 };
    zkv_rc_step (follower, &high);
    cr_assert_eq (zkv_rc_committed (follower), 1, "committed %llu",
                  (unsigned long long) zkv_rc_committed (follower));
    rc_net_destroy (&net);
}

Test (rc, heartbeat_commit_is_bounded_by_match)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 3);
    rc_net_propose (net, 1, "a");
    rc_net_recover (net);
    net->drop_type [ZKV_RC_MSG_APP] = true;     //  3 gets heartbeats only
    rc_net_tick (net, 1, 1);
    rc_net_stabilize (net);
    //  3 does not hold "a": its commit must not reach it
    cr_assert_lt (zkv_rc_committed (s_core (net, 3)), zkv_rc_committed (s_core (net, 1)));
    cr_assert_leq (zkv_rc_committed (s_core (net, 3)), zkv_rc_last_index (s_core (net, 3)));
    rc_net_destroy (&net);
}

Test (rc, lost_appends_are_resent_after_heartbeats)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    net->drop_type [ZKV_RC_MSG_APP] = true;
    for (int i = 0; i < 5; i++)
        rc_net_propose (net, 1, "x");
    rc_net_recover (net);
    s_tick_and_stabilize (net, 1, 3);
    s_assert_same_applied (net, 6);
    rc_net_destroy (&net);
}

Test (rc, restart_keeps_the_log_and_rejoins)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    rc_node_crash (rc_net_node (net, 2));
    rc_net_propose (net, 1, "b");
    rc_node_restart (rc_net_node (net, 2), 77);
    rc_net_propose (net, 1, "c");
    s_assert_same_applied (net, 4);
    rc_net_destroy (&net);
}

//  ---------------------------------------------------------------------
//  ReadIndex

Test (rc, read_index_on_leader_and_follower)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    cr_assert_eq (zkv_rc_read_index (s_core (net, 1), 7), ZKV_RC_OK);
    rc_net_stabilize (net);
    cr_assert_eq (net->read_count [1], 1);
    cr_assert_eq (net->reads [1][0].context, 7);
    cr_assert_eq (net->reads [1][0].index, zkv_rc_committed (s_core (net, 1)));
    cr_assert_eq (zkv_rc_read_index (s_core (net, 3), 8), ZKV_RC_OK);
    rc_net_stabilize (net);
    cr_assert_eq (net->read_count [3], 1);
    cr_assert_eq (net->reads [3][0].context, 8);
    cr_assert_eq (net->reads [3][0].index, zkv_rc_committed (s_core (net, 1)));
    rc_net_destroy (&net);
}

Test (rc, read_index_needs_a_quorum)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 1);
    zkv_rc_read_index (s_core (net, 1), 9);
    rc_net_stabilize (net);
    cr_assert_eq (net->read_count [1], 0, "an isolated leader served a read");
    rc_net_destroy (&net);
}

Test (rc, new_leader_serves_reads_after_committing_in_its_term)
{
    //  etcd #7331: before its first commit a new leader's commit may lag
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    net->drop_type [ZKV_RC_MSG_APP] = true;     //  2 wins but cannot commit yet
    net->drop_type [ZKV_RC_MSG_APP_RESP] = true;
    rc_net_isolate (net, 1);
    rc_net_campaign (net, 2);
    cr_assert_eq (zkv_rc_role (s_core (net, 2)), ZKV_RC_LEADER);
    zkv_rc_read_index (s_core (net, 2), 5);
    rc_net_stabilize (net);
    cr_assert_eq (net->read_count [2], 0);
    rc_net_recover (net);
    rc_net_isolate (net, 1);
    rc_net_tick (net, 2, 1);
    rc_net_stabilize (net);
    cr_assert_eq (net->read_count [2], 1);
    cr_assert_eq (net->reads [2][0].index, zkv_rc_committed (s_core (net, 2)));
    rc_net_destroy (&net);
}

Test (rc, an_old_heartbeat_answer_does_not_confirm_a_new_read)
{
    //  etcd #20418: confirmations are by leader tokens that only grow
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    zkv_rc_t *leader = s_core (net, 1);
    zkv_rc_read_index (leader, 1);
    rc_net_stabilize (net);
    cr_assert_eq (net->read_count [1], 1);
    //  A new read; the others' answers to the first read's heartbeat come
    //  again (duplicated, delayed): they must not serve it
    rc_net_isolate (net, 1);
    zkv_rc_read_index (leader, 2);
    rc_net_stabilize (net);
    zkv_raft_message_t old_answer = { .type = ZKV_RC_MSG_HEARTBEAT_RESP, .to = 1, .from = 2,
                                      .term = 1, .context = 1 };
    zkv_rc_step (leader, &old_answer);
    old_answer.from = 3;
    zkv_rc_step (leader, &old_answer);
    rc_node_process (rc_net_node (net, 1));
    cr_assert_eq (net->read_count [1], 1, "a stale answer served a new read");
    rc_net_destroy (&net);
}

//  ---------------------------------------------------------------------
//  Leadership transfer (the Raft dissertation §3.10)

static void
s_transfer (rc_net_t *net, uint64_t leader, uint64_t target)
{
    zkv_rc_transfer (s_core (net, leader), target);
    rc_net_stabilize (net);
}

Test (rc, transfer_to_an_up_to_date_follower)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    cr_assert_eq (zkv_rc_transferred_from (s_core (net, 1)), 0);
    s_transfer (net, 1, 2);
    cr_assert_eq (rc_net_leader (net), 2);
    cr_assert_eq (zkv_rc_term (s_core (net, 2)), 2);
    //  The new leader knows whose transfer made it lead, in this term only
    cr_assert_eq (zkv_rc_transferred_from (s_core (net, 2)), 1);
    cr_assert_eq (zkv_rc_transferred_from (s_core (net, 3)), 0);
    //  And back
    s_transfer (net, 2, 1);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (zkv_rc_transferred_from (s_core (net, 1)), 2);
    cr_assert_eq (zkv_rc_transferred_from (s_core (net, 2)), 0);
    rc_net_destroy (&net);
}

Test (rc, transfer_to_a_slow_follower_catches_it_up_first)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 3);
    rc_net_propose (net, 1, "a");
    rc_net_propose (net, 1, "b");
    rc_net_recover (net);
    s_transfer (net, 1, 3);
    cr_assert_eq (rc_net_leader (net), 3);
    s_assert_same_applied (net, 4);
    rc_net_destroy (&net);
}

Test (rc, transfer_after_a_snapshot)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 3);
    rc_net_propose (net, 1, "a");
    rc_net_propose (net, 1, "b");
    rc_node_compact (rc_net_node (net, 1), rc_net_node (net, 1)->applied);
    rc_node_process (rc_net_node (net, 1));
    rc_net_recover (net);
    rc_net_tick (net, 1, 1);            //  heartbeat, so 3 counts as active
    rc_net_stabilize (net);
    s_transfer (net, 1, 3);
    cr_assert_eq (rc_net_leader (net), 3);
    cr_assert_gt (net->snapshots_asked, 0);
    rc_net_destroy (&net);
}

Test (rc, transfer_to_self_or_a_stranger_does_nothing)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    s_transfer (net, 1, 1);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 0);
    s_transfer (net, 1, 99);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 0);
    cr_assert_eq (rc_net_propose (net, 1, "still"), ZKV_RC_OK);
    rc_net_destroy (&net);
}

Test (rc, transfer_times_out_and_service_resumes)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 3);
    s_transfer (net, 1, 3);
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 3);
    //  Proposals fail at once while it lasts, naming why
    cr_assert_eq (rc_net_propose (net, 1, "x"), ZKV_RC_TRANSFERRING);
    //  Forwarded ones come back refused
    cr_assert_eq (rc_net_propose (net, 2, "y"), ZKV_RC_OK);
    cr_assert_eq (net->dropped_count [2], 1);
    cr_assert_eq (net->dropped [2][0].why, ZKV_RC_TRANSFERRING);
    cr_assert_eq (net->dropped [2][0].leader, 1);
    s_tick_and_stabilize (net, 1, 10);
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 0);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (rc_net_propose (net, 1, "again"), ZKV_RC_OK);
    rc_net_destroy (&net);
}

Test (rc, a_second_transfer_replaces_the_first)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_isolate (net, 3);
    s_transfer (net, 1, 3);
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 3);
    s_transfer (net, 1, 3);             //  the same again: no change
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 3);
    rc_net_recover (net);
    rc_net_isolate (net, 3);
    s_transfer (net, 1, 2);
    cr_assert_eq (rc_net_leader (net), 2);
    rc_net_destroy (&net);
}

Test (rc, transfer_asked_of_a_follower_goes_to_the_leader)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    cr_assert_eq (zkv_rc_transfer (s_core (net, 3), 2), ZKV_RC_OK);
    rc_net_stabilize (net);
    cr_assert_eq (rc_net_leader (net), 2);
    rc_net_destroy (&net);
}

Test (rc, transfer_with_check_quorum_beats_the_lease)
{
    //  Voters in the old leader's lease still vote for the transferee
    rc_net_t *net = s_net_check_quorum (3);
    rc_net_campaign (net, 1);
    rc_net_tick (net, 2, 1);            //  2 is well inside its lease
    s_transfer (net, 1, 3);
    cr_assert_eq (rc_net_leader (net), 3);
    rc_net_destroy (&net);
}

Test (rc, a_late_timeout_now_is_ignored)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    zkv_rc_t *target = s_core (net, 2);
    //  A TimeoutNow from before the leader appended "b" arrives late
    zkv_raft_message_t late = { .type = ZKV_RC_MSG_TIMEOUT_NOW, .to = 2, .from = 1, .term = 1,
                                .index = zkv_rc_last_index (target),
                                .log_term = zkv_rc_term_at (target, zkv_rc_last_index (target)) };
    rc_net_propose (net, 1, "b");
    zkv_rc_step (target, &late);
    rc_net_stabilize (net);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (zkv_rc_term (s_core (net, 1)), 1);
    //  Nor one from a member that is not the leader
    late.from = 3;
    late.index = zkv_rc_last_index (target);
    zkv_rc_step (target, &late);
    rc_net_stabilize (net);
    cr_assert_eq (rc_net_leader (net), 1);
    rc_net_destroy (&net);
}

Test (rc, transfer_survives_a_lost_timeout_now)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    net->drop_type [ZKV_RC_MSG_TIMEOUT_NOW] = true;
    s_transfer (net, 1, 2);
    cr_assert_eq (rc_net_leader (net), 1);
    rc_net_recover (net);
    //  The transfer was abandoned at the election timeout: ask again
    s_tick_and_stabilize (net, 1, 10);
    s_transfer (net, 1, 2);
    cr_assert_eq (rc_net_leader (net), 2);
    rc_net_destroy (&net);
}

//  ---------------------------------------------------------------------
//  Compaction and snapshots

Test (rc, a_member_behind_the_compacted_log_gets_a_snapshot)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_node_crash (rc_net_node (net, 3));
    for (int i = 0; i < 10; i++)
        rc_net_propose (net, 1, "v");
    for (uint64_t id = 1; id <= 2; id++) {
        rc_node_compact (rc_net_node (net, id), rc_net_node (net, id)->applied);
        rc_node_process (rc_net_node (net, id));
    }
    cr_assert_gt (zkv_rc_first_index (s_core (net, 1)), 2);
    rc_node_restart (rc_net_node (net, 3), 5);
    s_tick_and_stabilize (net, 1, 3);
    cr_assert_gt (net->snapshots_asked, 0);
    rc_net_propose (net, 1, "after");
    cr_assert_eq (rc_net_node (net, 3)->applied, rc_net_node (net, 1)->applied);
    cr_assert_eq (zkv_rc_last_index (s_core (net, 3)), zkv_rc_last_index (s_core (net, 1)));
    rc_net_destroy (&net);
}

Test (rc, a_failed_snapshot_is_retried)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    rc_node_crash (rc_net_node (net, 3));
    for (int i = 0; i < 5; i++)
        rc_net_propose (net, 1, "v");
    rc_node_compact (rc_net_node (net, 1), rc_net_node (net, 1)->applied);
    rc_node_process (rc_net_node (net, 1));
    rc_node_restart (rc_net_node (net, 3), 5);
    net->auto_snapshot = false;         //  requests go unanswered: report failure
    rc_net_tick (net, 1, 1);
    rc_net_stabilize (net);
    size_t asked = net->snapshots_asked;
    cr_assert_gt (asked, 0);
    zkv_rc_report_snapshot (s_core (net, 1), 3, false);
    net->auto_snapshot = true;
    s_tick_and_stabilize (net, 1, 3);
    cr_assert_gt (net->snapshots_asked, asked);
    cr_assert_eq (zkv_rc_last_index (s_core (net, 3)), zkv_rc_last_index (s_core (net, 1)));
    rc_net_destroy (&net);
}

//  ---------------------------------------------------------------------
//  Membership changes (zkv_rc_conf.c)

#define ID(n) (1u << (n))

//  A set of ids as a bit mask, to compare configurations in one assert
static unsigned
s_mask (const uint64_t *ids, uint32_t count)
{
    unsigned mask = 0;
    for (uint32_t i = 0; i < count; i++)
        mask |= ID (ids [i]);
    return mask;
}

static void
s_assert_conf (const zkv_conf_state_t *conf, unsigned voters, unsigned outgoing,
               unsigned learners)
{
    cr_assert_eq (s_mask (conf->voters, conf->voter_count), voters, "voters %x, not %x",
                  s_mask (conf->voters, conf->voter_count), voters);
    cr_assert_eq (s_mask (conf->outgoing, conf->outgoing_count), outgoing, "outgoing %x, not %x",
                  s_mask (conf->outgoing, conf->outgoing_count), outgoing);
    cr_assert_eq (s_mask (conf->learners, conf->learner_count), learners, "learners %x, not %x",
                  s_mask (conf->learners, conf->learner_count), learners);
}

//  count nodes, of which 1..voters form the cluster and the others join it
static rc_net_t *
s_net_joining (size_t count, size_t voters)
{
    zkv_rc_config_t config = s_config (true, false);
    return rc_net_new_joining (count, voters, &config);
}

static zkv_rc_status_t
s_propose_changes (rc_net_t *net, uint64_t on, const zkv_rc_change_t *changes, size_t count)
{
    return zkv_rc_propose_conf (s_core (net, on), changes, count, zkv_bin (NULL, 0));
}

//  One change proposed on node `on`, then everything delivered
static zkv_rc_status_t
s_conf_change (rc_net_t *net, uint64_t on, zkv_rc_change_kind_t kind, uint64_t id)
{
    zkv_rc_change_t change = { kind, id };
    zkv_rc_status_t status = s_propose_changes (net, on, &change, 1);
    rc_net_stabilize (net);
    return status;
}

//  Delivers messages one by one until node id's configuration is joint
static void
s_deliver_until_joint (rc_net_t *net, uint64_t id)
{
    while (!zkv_rc_conf_is_joint (zkv_rc_conf (s_core (net, id))))
        cr_assert (rc_net_deliver_one (net), "node %" PRIu64 " never became joint", id);
}

Test (rc, conf_change_entries_round_trip)
{
    zkv_rc_change_t changes [3] = {
        { ZKV_RC_ADD_VOTER, 4 }, { ZKV_RC_ADD_LEARNER, UINT64_MAX }, { ZKV_RC_REMOVE, 1 }
    };
    size_t size;
    uint8_t *bytes = zkv_rc_conf_change_encode (changes, 3, zkv_bin ("ctx", 3), &size);
    zkv_rc_change_t decoded [ZKV_RC_MAX_CHANGES];
    size_t count;
    zkv_bin_t context;
    cr_assert (zkv_rc_conf_change_decode (zkv_bin (bytes, size), decoded, &count, &context));
    cr_assert_eq (count, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (decoded [i].kind, changes [i].kind);
        cr_assert_eq (decoded [i].id, changes [i].id);
    }
    cr_assert_eq (context.size, 3);
    cr_assert_eq (memcmp (context.data, "ctx", 3), 0);
    //  Malformed: short, another version, a change cut off, too many
    cr_assert_not (zkv_rc_conf_change_decode (zkv_bin (bytes, 1), decoded, &count, &context));
    cr_assert_not (zkv_rc_conf_change_decode (zkv_bin (bytes, 2 + 2 * 9 + 4), decoded, &count,
                                              &context));
    bytes [0] = 2;
    cr_assert_not (zkv_rc_conf_change_decode (zkv_bin (bytes, size), decoded, &count, &context));
    bytes [0] = 1;
    bytes [1] = ZKV_RC_MAX_CHANGES + 1;
    cr_assert_not (zkv_rc_conf_change_decode (zkv_bin (bytes, size), decoded, &count, &context));
    free (bytes);
    //  No change at all (leaving a joint configuration), no context
    bytes = zkv_rc_conf_change_encode (NULL, 0, zkv_bin (NULL, 0), &size);
    cr_assert (zkv_rc_conf_change_decode (zkv_bin (bytes, size), decoded, &count, &context));
    cr_assert_eq (count, 0);
    cr_assert_eq (context.size, 0);
    free (bytes);
}

Test (rc, conf_states_round_trip)
{
    zkv_conf_state_t conf = {
        .voters = { 1, 2, 4 }, .voter_count = 3, .outgoing = { 1, 2, 3 }, .outgoing_count = 3,
        .learners = { 9 }, .learner_count = 1, .auto_leave = true
    };
    uint8_t bytes [ZKV_RC_CONF_BYTES];
    size_t size = zkv_rc_conf_encode (&conf, bytes);
    zkv_conf_state_t decoded;
    cr_assert (zkv_rc_conf_decode (bytes, size, &decoded));
    s_assert_conf (&decoded, ID (1) | ID (2) | ID (4), ID (1) | ID (2) | ID (3), ID (9));
    cr_assert (decoded.auto_leave);
    //  The largest one fits the bound
    zkv_conf_state_t full = { .voter_count = ZKV_RC_MAX_MEMBERS,
                              .outgoing_count = ZKV_RC_MAX_MEMBERS,
                              .learner_count = ZKV_RC_MAX_MEMBERS };
    cr_assert_eq (zkv_rc_conf_encode (&full, bytes), ZKV_RC_CONF_BYTES);
    //  Malformed: short, trailing bytes, another version, counts beyond
    //  the limit or the bytes
    size = zkv_rc_conf_encode (&conf, bytes);
    cr_assert_not (zkv_rc_conf_decode (bytes, 15, &decoded));
    cr_assert_not (zkv_rc_conf_decode (bytes, size - 1, &decoded));
    cr_assert_not (zkv_rc_conf_decode (bytes, size + 1, &decoded));
    bytes [0] = 2;
    cr_assert_not (zkv_rc_conf_decode (bytes, size, &decoded));
    bytes [0] = 1;
    bytes [7] = ZKV_RC_MAX_MEMBERS + 1;
    cr_assert_not (zkv_rc_conf_decode (bytes, ZKV_RC_CONF_BYTES, &decoded));
    bytes [7] = 0xff;
    bytes [4] = 0xff;               //  a count far beyond any size
    cr_assert_not (zkv_rc_conf_decode (bytes, ZKV_RC_CONF_BYTES, &decoded));
}

Test (rc, conf_apply_rules)
{
    zkv_conf_state_t conf = { .voters = { 1, 2, 3 }, .voter_count = 3 }, next;
    zkv_rc_change_t change = { ZKV_RC_ADD_LEARNER, 4 };
    //  One learner, then promoted: never joint
    cr_assert_null (zkv_rc_conf_apply (&conf, &change, 1, &next));
    s_assert_conf (&next, ID (1) | ID (2) | ID (3), 0, ID (4));
    conf = next;
    change.kind = ZKV_RC_ADD_VOTER;
    cr_assert_null (zkv_rc_conf_apply (&conf, &change, 1, &next));
    s_assert_conf (&next, ID (1) | ID (2) | ID (3) | ID (4), 0, 0);
    cr_assert_not (zkv_rc_conf_is_joint (&next));
    //  One removal: never joint either
    change.kind = ZKV_RC_REMOVE;
    change.id = 1;
    cr_assert_null (zkv_rc_conf_apply (&next, &change, 1, &conf));
    s_assert_conf (&conf, ID (2) | ID (3) | ID (4), 0, 0);
    //  Refused: already a voter, a voter made a learner, a removal of a
    //  stranger, id 0, two changes of one member, the last voter removed
    zkv_rc_change_t bad [][2] = {
        { { ZKV_RC_ADD_VOTER, 2 } }, { { ZKV_RC_ADD_LEARNER, 2 } }, { { ZKV_RC_REMOVE, 9 } },
        { { ZKV_RC_ADD_VOTER, 0 } }, { { ZKV_RC_ADD_VOTER, 5 }, { ZKV_RC_REMOVE, 5 } },
        { { (zkv_rc_change_kind_t) 7, 5 } }
    };
    size_t bad_counts [] = { 1, 1, 1, 1, 2, 1 };
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts [0]; i++)
        cr_assert_not_null (zkv_rc_conf_apply (&conf, bad [i], bad_counts [i], &next),
                            "change %zu was taken", i);
    zkv_conf_state_t lone = { .voters = { 7 }, .voter_count = 1 };
    change.id = 7;
    cr_assert_not_null (zkv_rc_conf_apply (&lone, &change, 1, &next));
    //  A learner added twice
    zkv_rc_change_t learner = { ZKV_RC_ADD_LEARNER, 5 };
    cr_assert_null (zkv_rc_conf_apply (&conf, &learner, 1, &next));
    cr_assert_not_null (zkv_rc_conf_apply (&next, &learner, 1, &next));
    //  Two changes, or two voters changed, enter a joint configuration;
    //  no change leaves it; nothing else is taken while joint
    zkv_rc_change_t replace [2] = { { ZKV_RC_ADD_VOTER, 5 }, { ZKV_RC_REMOVE, 2 } };
    cr_assert_null (zkv_rc_conf_apply (&conf, replace, 2, &next));
    s_assert_conf (&next, ID (3) | ID (4) | ID (5), ID (2) | ID (3) | ID (4), 0);
    cr_assert (zkv_rc_conf_is_joint (&next));
    cr_assert (next.auto_leave);
    cr_assert (zkv_rc_conf_is_voter (&next, 2));   //  of the outgoing half
    cr_assert_not_null (zkv_rc_conf_apply (&next, &learner, 1, &conf));
    zkv_conf_state_t left;
    cr_assert_null (zkv_rc_conf_apply (&next, NULL, 0, &left));
    s_assert_conf (&left, ID (3) | ID (4) | ID (5), 0, 0);
    cr_assert_not (left.auto_leave);
    zkv_rc_change_t learners [2] = { { ZKV_RC_ADD_LEARNER, 8 }, { ZKV_RC_ADD_LEARNER, 9 } };
    cr_assert_null (zkv_rc_conf_apply (&left, learners, 2, &next));
    cr_assert (zkv_rc_conf_is_joint (&next));
    //  Limits: changes per entry, members per configuration
    zkv_rc_change_t many [ZKV_RC_MAX_CHANGES + 1];
    for (size_t i = 0; i <= ZKV_RC_MAX_CHANGES; i++)
        many [i] = (zkv_rc_change_t) { ZKV_RC_ADD_LEARNER, 100 + i };
    cr_assert_not_null (zkv_rc_conf_apply (&left, many, ZKV_RC_MAX_CHANGES + 1, &next));
    zkv_conf_state_t big = { .voters = { 1 }, .voter_count = 1 };
    for (uint64_t id = 2; id <= ZKV_RC_MAX_MEMBERS; id++)
        big.learners [big.learner_count++] = id;
    learner.id = 99;
    cr_assert_not_null (zkv_rc_conf_apply (&big, &learner, 1, &next));
}

Test (rc, a_learner_catches_up_and_never_counts)
{
    rc_net_t *net = s_net_joining (4, 3);
    rc_net_campaign (net, 1);
    rc_net_propose (net, 1, "a");
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 4), ZKV_RC_OK);
    //  It joined from a snapshot, which gave it the configuration
    cr_assert_gt (net->snapshots_asked, 0);
    s_assert_conf (zkv_rc_conf (s_core (net, 4)), ID (1) | ID (2) | ID (3), 0, ID (4));
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (1) | ID (2) | ID (3), 0, ID (4));
    rc_net_propose (net, 1, "b");
    cr_assert_eq (rc_net_node (net, 4)->applied, rc_net_node (net, 1)->applied);
    cr_assert_str_eq (net->applied [4][net->applied_count [4] - 1], "b");
    //  With both other voters cut off, the leader and the learner hold "c":
    //  not a quorum
    uint64_t committed = zkv_rc_committed (s_core (net, 1));
    rc_net_cut (net, 1, 2);
    rc_net_cut (net, 1, 3);
    rc_net_propose (net, 1, "c");
    cr_assert_eq (zkv_rc_last_index (s_core (net, 4)), zkv_rc_last_index (s_core (net, 1)));
    cr_assert_eq (zkv_rc_committed (s_core (net, 1)), committed);
    rc_net_recover (net);
    s_tick_and_stabilize (net, 1, 2);
    cr_assert_gt (zkv_rc_committed (s_core (net, 1)), committed);
    //  And it never campaigns, however long it hears nothing
    rc_net_isolate (net, 4);
    uint64_t term = zkv_rc_term (s_core (net, 4));
    s_tick_and_stabilize (net, 4, 50);
    cr_assert_eq (zkv_rc_role (s_core (net, 4)), ZKV_RC_FOLLOWER);
    cr_assert_eq (zkv_rc_term (s_core (net, 4)), term);
    rc_net_destroy (&net);
}

Test (rc, a_promoted_learner_votes_and_counts)
{
    rc_net_t *net = s_net_joining (4, 3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 4), ZKV_RC_OK);
    cr_assert_eq (s_conf_change (net, 2, ZKV_RC_ADD_VOTER, 4), ZKV_RC_OK);   //  forwarded
    for (uint64_t id = 1; id <= 4; id++)
        s_assert_conf (zkv_rc_conf (s_core (net, id)), ID (1) | ID (2) | ID (3) | ID (4), 0, 0);
    //  Four voters: the leader and 4 are not a quorum
    uint64_t committed = zkv_rc_committed (s_core (net, 1));
    rc_net_cut (net, 1, 2);
    rc_net_cut (net, 1, 3);
    rc_net_propose (net, 1, "x");
    cr_assert_eq (zkv_rc_committed (s_core (net, 1)), committed);
    //  4 can lead now: with the old leader gone, it wins 2 and 3
    rc_net_recover (net);
    rc_net_isolate (net, 1);
    s_tick_and_stabilize (net, 4, 30);
    cr_assert_eq (zkv_rc_role (s_core (net, 4)), ZKV_RC_LEADER);
    rc_net_destroy (&net);
}

Test (rc, a_removed_follower_gets_nothing_more)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_REMOVE, 3), ZKV_RC_OK);
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (1) | ID (2), 0, 0);
    s_tick_and_stabilize (net, 1, 2);
    uint64_t applied = rc_net_node (net, 3)->applied;
    rc_net_propose (net, 1, "after");
    s_tick_and_stabilize (net, 1, 2);
    cr_assert_eq (rc_net_node (net, 3)->applied, applied);
    cr_assert_eq (rc_net_node (net, 2)->applied, rc_net_node (net, 1)->applied);
    //  Two voters now: both are needed
    uint64_t committed = zkv_rc_committed (s_core (net, 1));
    rc_net_cut (net, 1, 2);
    rc_net_propose (net, 1, "alone");
    cr_assert_eq (zkv_rc_committed (s_core (net, 1)), committed);
    rc_net_destroy (&net);
}

Test (rc, a_removed_leader_steps_down_once_it_applied_its_removal)
{
    rc_net_t *net = s_net (3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_REMOVE, 1), ZKV_RC_OK);
    cr_assert_eq (zkv_rc_role (s_core (net, 1)), ZKV_RC_FOLLOWER);
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (2) | ID (3), 0, 0);
    //  It never campaigns again; the others elect one of them
    s_tick_and_stabilize (net, 1, 50);
    cr_assert_eq (zkv_rc_role (s_core (net, 1)), ZKV_RC_FOLLOWER);
    for (int tick = 0; tick < 50 && !rc_net_leader (net); tick++) {
        rc_net_tick (net, 2, 1);
        rc_net_tick (net, 3, 1);
        rc_net_stabilize (net);
    }
    uint64_t leader = rc_net_leader (net);
    cr_assert (leader == 2 || leader == 3);
    uint64_t applied = rc_net_node (net, 1)->applied;
    cr_assert_eq (rc_net_propose (net, leader, "new"), ZKV_RC_OK);
    cr_assert_eq (rc_net_node (net, 5 - leader)->applied, rc_net_node (net, leader)->applied);
    cr_assert_eq (rc_net_node (net, 1)->applied, applied);
    rc_net_destroy (&net);
}

Test (rc, a_joint_replace_needs_both_majorities_and_is_left_by_itself)
{
    rc_net_t *net = s_net_joining (4, 3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 4), ZKV_RC_OK);
    zkv_rc_change_t replace [2] = { { ZKV_RC_ADD_VOTER, 4 }, { ZKV_RC_REMOVE, 3 } };
    cr_assert_eq (s_propose_changes (net, 1, replace, 2), ZKV_RC_OK);
    s_deliver_until_joint (net, 1);
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (1) | ID (2) | ID (4),
                   ID (1) | ID (2) | ID (3), 0);
    //  Only 1 and 4 hear the leader: a majority of the new voters, not of
    //  the old ones, so neither the leave nor "x" commits
    uint64_t committed = zkv_rc_committed (s_core (net, 1));
    rc_net_cut (net, 1, 2);
    rc_net_cut (net, 1, 3);
    rc_net_propose (net, 1, "x");
    s_tick_and_stabilize (net, 1, 3);
    cr_assert_eq (zkv_rc_last_index (s_core (net, 4)), zkv_rc_last_index (s_core (net, 1)));
    cr_assert_eq (zkv_rc_committed (s_core (net, 1)), committed);
    cr_assert (zkv_rc_conf_is_joint (zkv_rc_conf (s_core (net, 1))));
    //  Healed, the leader leaves the joint configuration by itself
    rc_net_recover (net);
    s_tick_and_stabilize (net, 1, 3);
    for (uint64_t id = 1; id <= 2; id++)
        s_assert_conf (zkv_rc_conf (s_core (net, id)), ID (1) | ID (2) | ID (4), 0, 0);
    cr_assert_str_eq (net->applied [4][net->applied_count [4] - 1], "x");
    //  Now 1 and 4 are a quorum
    committed = zkv_rc_committed (s_core (net, 1));
    rc_net_cut (net, 1, 2);
    rc_net_propose (net, 1, "y");
    cr_assert_gt (zkv_rc_committed (s_core (net, 1)), committed);
    rc_net_destroy (&net);
}

Test (rc, a_second_change_is_refused_while_one_is_pending_or_joint)
{
    rc_net_t *net = s_net_joining (5, 3);
    rc_net_campaign (net, 1);
    zkv_rc_change_t four = { ZKV_RC_ADD_LEARNER, 4 }, five = { ZKV_RC_ADD_LEARNER, 5 };
    cr_assert_eq (s_propose_changes (net, 1, &four, 1), ZKV_RC_OK);
    cr_assert_eq (s_propose_changes (net, 1, &five, 1), ZKV_RC_CONF_PENDING);
    //  Forwarded by a follower, refused the same, and the follower is told
    net->drop_type [ZKV_RC_MSG_APP_RESP] = true;        //  nothing commits
    cr_assert_eq (s_propose_changes (net, 2, &five, 1), ZKV_RC_OK);
    rc_net_stabilize (net);
    cr_assert_eq (net->dropped_count [2], 1);
    cr_assert_eq (net->dropped [2][0].why, ZKV_RC_CONF_PENDING);
    cr_assert_eq (net->dropped [2][0].leader, 1);
    rc_net_recover (net);
    s_tick_and_stabilize (net, 1, 2);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 5), ZKV_RC_OK);
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (1) | ID (2) | ID (3), 0, ID (4) | ID (5));
    //  While joint, until it is left
    zkv_rc_change_t replace [2] = { { ZKV_RC_ADD_VOTER, 4 }, { ZKV_RC_REMOVE, 3 } };
    cr_assert_eq (s_propose_changes (net, 1, replace, 2), ZKV_RC_OK);
    s_deliver_until_joint (net, 1);
    zkv_rc_change_t promote = { ZKV_RC_ADD_VOTER, 5 };
    cr_assert_eq (s_propose_changes (net, 1, &promote, 1), ZKV_RC_CONF_PENDING);
    rc_net_stabilize (net);
    cr_assert_not (zkv_rc_conf_is_joint (zkv_rc_conf (s_core (net, 1))));
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_VOTER, 5), ZKV_RC_OK);
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (1) | ID (2) | ID (4) | ID (5), 0, 0);
    //  Invalid ones are refused as such
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_REMOVE, 3), ZKV_RC_CONF_INVALID);
    cr_assert_eq (s_propose_changes (net, 1, NULL, 0), ZKV_RC_CONF_INVALID);
    rc_net_destroy (&net);
}

Test (rc, a_new_leader_changes_nothing_before_its_first_entry_is_applied)
{
    rc_net_t *net = s_net_joining (4, 3);
    zkv_rc_campaign (s_core (net, 1));
    while (zkv_rc_role (s_core (net, 1)) != ZKV_RC_LEADER)
        cr_assert (rc_net_deliver_one (net));
    zkv_rc_change_t four = { ZKV_RC_ADD_LEARNER, 4 };
    cr_assert_eq (s_propose_changes (net, 1, &four, 1), ZKV_RC_CONF_PENDING);
    rc_net_stabilize (net);
    cr_assert_eq (s_propose_changes (net, 1, &four, 1), ZKV_RC_OK);
    rc_net_destroy (&net);
}

Test (rc, a_member_with_a_committed_change_to_apply_does_not_campaign)
{
    uint64_t voters [3] = { 1, 2, 3 };
    zkv_rc_config_t config = s_config (false, false);
    config.id = 2;
    config.voters = voters;
    config.voter_count = 3;
    zkv_rc_restore_t restore = { .hard_state = { 0, 0, 0 } };
    zkv_rc_t *core = zkv_rc_new (&config, &restore);
    zkv_rc_change_t change = { ZKV_RC_ADD_LEARNER, 4 };
    size_t size;
    uint8_t *bytes = zkv_rc_conf_change_encode (&change, 1, zkv_bin (NULL, 0), &size);
    zkv_entry_t entries [2] = {
        { .index = 1, .term = 1 },
        { .index = 2, .term = 1, .type = ZKV_RC_ENTRY_CONF, .data = zkv_bin (bytes, size) }
    };
    zkv_raft_message_t append = { .type = ZKV_RC_MSG_APP, .from = 1, .to = 2, .term = 1,
                                  .commit = 2 };
    append.entries.items = entries;
    append.entries.count = 2;
    zkv_rc_step (core, &append);
    free (bytes);
    cr_assert_eq (zkv_rc_committed (core), 2);
    zkv_rc_campaign (core);
    cr_assert_eq (zkv_rc_role (core), ZKV_RC_FOLLOWER);
    cr_assert_eq (zkv_rc_term (core), 1);
    //  Once it is applied, it may
    s_cycle (core);
    zkv_rc_campaign (core);
    cr_assert_eq (zkv_rc_role (core), ZKV_RC_CANDIDATE);
    cr_assert_eq (zkv_rc_term (core), 2);
    zkv_rc_destroy (&core);
}

Test (rc, a_learner_grants_its_vote_when_asked)
{
    //  A learner promoted by an entry it has not applied yet may be needed
    //  to elect a leader: it answers, though no one counts on it otherwise
    zkv_conf_state_t conf = { .voters = { 1, 2, 3 }, .voter_count = 3, .learners = { 4 },
                              .learner_count = 1 };
    zkv_rc_config_t config = s_config (false, false);
    config.id = 4;
    zkv_rc_restore_t restore = { .conf = &conf };
    zkv_rc_t *core = zkv_rc_new (&config, &restore);
    zkv_raft_message_t vote = { .type = ZKV_RC_MSG_VOTE, .from = 2, .to = 4, .term = 2 };
    zkv_rc_step (core, &vote);
    zkv_rc_ready_t ready;
    zkv_rc_ready (core, &ready);
    cr_assert_eq (ready.hard_state.vote, 2);
    cr_assert_eq (ready.message_after_count, 1);
    cr_assert_eq (ready.messages_after [0].type, ZKV_RC_MSG_VOTE_RESP);
    cr_assert_not (ready.messages_after [0].reject);
    zkv_rc_advance (core);
    //  ... but it never campaigns itself
    zkv_rc_campaign (core);
    cr_assert_eq (zkv_rc_role (core), ZKV_RC_FOLLOWER);
    zkv_rc_destroy (&core);
}

Test (rc, a_transfer_to_a_learner_is_ignored)
{
    rc_net_t *net = s_net_joining (4, 3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 4), ZKV_RC_OK);
    s_transfer (net, 1, 4);
    cr_assert_eq (zkv_rc_transferee (s_core (net, 1)), 0);
    cr_assert_eq (rc_net_leader (net), 1);
    cr_assert_eq (rc_net_propose (net, 1, "still"), ZKV_RC_OK);
    rc_net_destroy (&net);
}

Test (rc, a_restart_keeps_the_configuration_of_the_last_applied_entry)
{
    rc_net_t *net = s_net_joining (4, 3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 4), ZKV_RC_OK);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_REMOVE, 3), ZKV_RC_OK);
    s_tick_and_stabilize (net, 1, 2);
    //  Every one of them, the learner that joined from a snapshot too,
    //  restarts with it (not with the voters it was created with)
    for (uint64_t id = 1; id <= 4; id++) {
        if (id == 3)
            continue;
        rc_node_crash (rc_net_node (net, id));
        rc_node_restart (rc_net_node (net, id), 7 + id);
        s_assert_conf (zkv_rc_conf (s_core (net, id)), ID (1) | ID (2), 0, ID (4));
    }
    //  And the two voters elect a leader and commit without 3
    rc_net_isolate (net, 3);
    s_tick_and_stabilize (net, 2, 30);
    uint64_t leader = zkv_rc_role (s_core (net, 2)) == ZKV_RC_LEADER? 2: 1;
    cr_assert_eq (zkv_rc_role (s_core (net, leader)), ZKV_RC_LEADER);
    cr_assert_eq (rc_net_propose (net, leader, "z"), ZKV_RC_OK);
    cr_assert_str_eq (net->applied [4][net->applied_count [4] - 1], "z");
    rc_net_destroy (&net);
}

Test (rc, a_new_leader_leaves_the_joint_configuration_it_finds)
{
    //  The old leader applied the change that entered a joint configuration
    //  but no one got its leave: the next leader must leave it
    rc_net_t *net = s_net_joining (4, 3);
    rc_net_campaign (net, 1);
    cr_assert_eq (s_conf_change (net, 1, ZKV_RC_ADD_LEARNER, 4), ZKV_RC_OK);
    zkv_rc_change_t replace [2] = { { ZKV_RC_ADD_VOTER, 4 }, { ZKV_RC_REMOVE, 3 } };
    cr_assert_eq (s_propose_changes (net, 1, replace, 2), ZKV_RC_OK);
    s_deliver_until_joint (net, 1);
    for (uint64_t id = 2; id <= 4; id++)
        net->cut [1][id] = true;            //  its leave is lost on the way
    rc_net_stabilize (net);
    //  Heartbeats tell the others the change committed, without the leave
    memset (net->cut, 0, sizeof net->cut);
    net->drop_type [ZKV_RC_MSG_APP] = true;
    s_tick_and_stabilize (net, 1, 1);
    for (uint64_t id = 2; id <= 4; id++)
        cr_assert (zkv_rc_conf_is_joint (zkv_rc_conf (s_core (net, id))));
    cr_assert_lt (zkv_rc_last_index (s_core (net, 2)), zkv_rc_last_index (s_core (net, 1)));
    rc_net_recover (net);
    rc_net_isolate (net, 1);
    s_tick_and_stabilize (net, 2, 30);
    cr_assert_eq (zkv_rc_role (s_core (net, 2)), ZKV_RC_LEADER);
    s_tick_and_stabilize (net, 2, 3);
    for (uint64_t id = 2; id <= 4; id++)
        s_assert_conf (zkv_rc_conf (s_core (net, id)), ID (1) | ID (2) | ID (4), 0, 0);
    cr_assert_eq (s_conf_change (net, 2, ZKV_RC_REMOVE, 1), ZKV_RC_OK);
    s_assert_conf (zkv_rc_conf (s_core (net, 2)), ID (2) | ID (4), 0, 0);
    rc_net_destroy (&net);
}

Test (rc, a_removed_leader_tells_the_commit_of_its_removal_in_its_vote_refusals)
{
    //  Two voters; the leader removes itself, the commit of its removal
    //  never reaches 2, and the leader took one more entry before it
    //  stepped down. 2 still needs 1's vote, which 1 refuses for its longer
    //  log: only what 1 knows committed lets 2 apply the change and lead
    rc_net_t *net = s_net (2);
    rc_net_campaign (net, 1);
    zkv_rc_change_t removal = { ZKV_RC_REMOVE, 1 };
    cr_assert_eq (s_propose_changes (net, 1, &removal, 1), ZKV_RC_OK);
    uint64_t index = zkv_rc_last_index (s_core (net, 1));
    while (zkv_rc_last_index (s_core (net, 2)) < index)
        cr_assert (rc_net_deliver_one (net));
    net->cut [1][2] = true;
    cr_assert_eq (rc_net_propose (net, 1, "x"), ZKV_RC_OK);
    cr_assert_eq (zkv_rc_role (s_core (net, 1)), ZKV_RC_FOLLOWER);
    s_assert_conf (zkv_rc_conf (s_core (net, 1)), ID (2), 0, 0);
    cr_assert_lt (zkv_rc_committed (s_core (net, 2)), index);
    cr_assert_gt (zkv_rc_last_index (s_core (net, 1)), zkv_rc_last_index (s_core (net, 2)));
    rc_net_recover (net);
    s_tick_and_stabilize (net, 2, 30);
    cr_assert_eq (zkv_rc_role (s_core (net, 2)), ZKV_RC_LEADER);
    s_assert_conf (zkv_rc_conf (s_core (net, 2)), ID (2), 0, 0);
    cr_assert_eq (rc_net_propose (net, 2, "y"), ZKV_RC_OK);
    cr_assert_str_eq (net->applied [2][net->applied_count [2] - 1], "y");
    rc_net_destroy (&net);
}

Test (rc, a_change_applied_during_a_campaign_ends_it)
{
    //  A candidate learns from a refusal that its own removal committed:
    //  once applied, it no longer campaigns, whatever votes come later
    uint64_t voters [4] = { 1, 2, 3, 4 };
    zkv_rc_change_t change = { ZKV_RC_REMOVE, 2 };
    size_t size;
    uint8_t *bytes = zkv_rc_conf_change_encode (&change, 1, zkv_bin (NULL, 0), &size);
    zkv_entry_t entries [2] = {
        { .index = 1, .term = 1 },
        { .index = 2, .term = 1, .type = ZKV_RC_ENTRY_CONF, .data = zkv_bin (bytes, size) }
    };
    zkv_rc_config_t config = s_config (false, false);
    config.id = 2;
    config.voters = voters;
    config.voter_count = 4;
    zkv_rc_restore_t restore = { .hard_state = { 1, 0, 1 }, .entries = entries,
                                 .entry_count = 2 };
    zkv_rc_t *core = zkv_rc_new (&config, &restore);
    free (bytes);
    zkv_rc_campaign (core);
    s_cycle (core);
    cr_assert_eq (zkv_rc_role (core), ZKV_RC_CANDIDATE);
    zkv_raft_message_t refusal = { .type = ZKV_RC_MSG_VOTE_RESP, .from = 4, .to = 2, .term = 2,
                                   .reject = true, .commit = 2, .log_term = 1 };
    zkv_rc_step (core, &refusal);
    s_cycle (core);
    cr_assert_eq (zkv_rc_committed (core), 2);
    s_assert_conf (zkv_rc_conf (core), ID (1) | ID (3) | ID (4), 0, 0);
    cr_assert_eq (zkv_rc_role (core), ZKV_RC_FOLLOWER);
    for (uint64_t from = 1; from <= 3; from += 2) {
        zkv_raft_message_t granted = { .type = ZKV_RC_MSG_VOTE_RESP, .from = from, .to = 2,
                                       .term = 2 };
        zkv_rc_step (core, &granted);
        s_cycle (core);
    }
    cr_assert_neq (zkv_rc_role (core), ZKV_RC_LEADER);
    zkv_rc_destroy (&core);
}

Test (rc, a_learner_whose_leader_is_gone_answers_candidates)
{
    //  CheckQuorum's lease: a member that heard from its leader within the
    //  election timeout ignores elections. A learner never campaigns, so
    //  its clock must not restart at each timeout, or its lease would never
    //  lapse and a candidate that needs it (it was promoted meanwhile, by
    //  an entry it has yet to get) would wait for ever
    zkv_conf_state_t conf = { .voters = { 1, 2, 3 }, .voter_count = 3, .learners = { 4 },
                              .learner_count = 1 };
    zkv_rc_config_t config = s_config (false, true);
    config.id = 4;
    zkv_rc_restore_t restore = { .conf = &conf };
    zkv_rc_t *core = zkv_rc_new (&config, &restore);
    zkv_raft_message_t heartbeat = { .type = ZKV_RC_MSG_HEARTBEAT, .from = 1, .to = 4,
                                     .term = 1 };
    zkv_rc_step (core, &heartbeat);
    s_cycle (core);
    cr_assert_eq (zkv_rc_leader (core), 1);
    for (int tick = 0; tick < 3 * config.election_ticks; tick++)
        zkv_rc_tick (core);
    s_cycle (core);
    zkv_raft_message_t vote = { .type = ZKV_RC_MSG_VOTE, .from = 2, .to = 4, .term = 2 };
    zkv_rc_step (core, &vote);
    zkv_rc_ready_t ready;
    zkv_rc_ready (core, &ready);
    cr_assert_eq (ready.message_after_count, 1, "the vote request was ignored");
    cr_assert_eq (ready.messages_after [0].type, ZKV_RC_MSG_VOTE_RESP);
    cr_assert_not (ready.messages_after [0].reject);
    zkv_rc_advance (core);
    zkv_rc_destroy (&core);
}
