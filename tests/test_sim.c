/*  test_sim.c — the deterministic simulator, as part of the suite: thousands
    of seeds of the real core pass (most with membership changes), and each
    core built with a planted bug is caught within its seed budget (proof
    that the simulator can fail). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "zkv_testnode.h"

static zkv_run_t
s_sim (const char *binary, const char *first, const char *seeds)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", ZKV_BUILD_DIR, binary);
    const char *argv [] = { path, "--first", first, "--seeds", seeds, "--steps", "3000", NULL };
    return zkv_run (NULL, argv);
}

static void
s_passes (const char *first, const char *seeds)
{
    zkv_run_t run = s_sim ("zkv-sim", first, seeds);
    cr_assert_eq (run.code, 0, "%s%s", run.out, run.err);
    cr_assert_not_null (strstr (run.out, "passed"), "%s", run.out);
    zkv_run_free (&run);
}

//  Four slices of 1,000 seeds, run in parallel by the suite
Test (sim, seeds_1_to_1000, .timeout = 120) { s_passes ("1", "1000"); }
Test (sim, seeds_1001_to_2000, .timeout = 120) { s_passes ("1001", "1000"); }
Test (sim, seeds_2001_to_3000, .timeout = 120) { s_passes ("2001", "1000"); }
Test (sim, seeds_3001_to_4000, .timeout = 120) { s_passes ("3001", "1000"); }

static void
s_catches (const char *binary, const char *invariant)
{
    zkv_run_t run = s_sim (binary, "1", "4000");
    cr_assert_eq (run.code, 1, "the simulator did not catch %s: %s", binary, run.out);
    cr_assert_not_null (strstr (run.out, "FAILED"), "%s", run.out);
    cr_assert_not_null (strstr (run.out, invariant), "%s", run.out);
    cr_log_info ("%s: %s", binary, run.out);
    zkv_run_free (&run);
}

Test (sim, catches_votes_and_acks_sent_before_they_are_durable, .timeout = 120)
{
    s_catches ("zkv-sim-bug-vote-before-durable", "I");
}

Test (sim, catches_votes_granted_without_the_log_check, .timeout = 120)
{
    s_catches ("zkv-sim-bug-vote-without-log-check", "I");
}

Test (sim, catches_commits_of_earlier_terms_by_counting, .timeout = 120)
{
    s_catches ("zkv-sim-bug-commit-old-term", "I");
}

//  Membership: each is caught in the first 20 seeds, and in 8 to 38 % of
//  all (docs/RELIABILITY.md)
Test (sim, catches_learners_counted_in_the_quorum, .timeout = 120)
{
    s_catches ("zkv-sim-bug-learner-in-quorum", "I6");
}

Test (sim, catches_configurations_taking_effect_when_appended, .timeout = 120)
{
    s_catches ("zkv-sim-bug-conf-on-append", "I6");
}

Test (sim, catches_a_second_change_taken_while_one_is_pending, .timeout = 120)
{
    s_catches ("zkv-sim-bug-second-change-pending", "I10");
}
