/*  =========================================================================
    zkv_alarm.c — the alarm actor (see zkv_alarm.h).
    =========================================================================
*/
#include "zkv_alarm.h"
#include "zkv_actor_io.h"
#include "zkv_alarm_table.h"
#include "zkv_corrupt.h"
#include "zkv_members.h"
#include "zkv_space.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define DISK_CHECK_MSECS 100            //  between two looks at the free space
#define RESERVE_HOLD_MSECS 5000         //  after the disk ran short, no reserve made
                                        //  until our NOSPACE is seen, or so long
#define RESEND_MSECS 500                //  initial check: peers' asks go again
#define OWN_HASH_MSECS (600 * 1000)     //  our own hasher answers, whatever the size
#define INITIAL_EXTRA_MSECS 5000        //  the initial check waits for its peers
#define MAX_MEMBERS ZKV_ALARM_MAX_MEMBERS

//  The kinds of ask of a check, one per phase but the second's two; an
//  ask's number is its check's * ASK_KINDS + kind
enum {
    ASK_OWN,                            //  phase 1: our own HashKV (0), for R
    ASK_REVISION,                       //  phase 2: every member's HashKV (R)
    ASK_COMPACTION,                     //  phase 2: HashKV (C) from the cache
    ASK_BEHIND,                         //  phase 3: a member behind R, at its own
    ASK_LOWEST,                         //  phase 4: every member at the lowest of those
    ASK_KINDS = 8
};

typedef struct {
    uint64_t number;                    //  0: no check under way
    bool initial;
    int phase;                          //  1 .. 4 (see zkv_alarm.h)
    int64_t started;
    int64_t own_msecs;                  //  how long our own hash took
    int64_t deadline;                   //  of the phase under way
    int64_t next_resend;
    int64_t revision;                   //  what our own HashKV (0) said: R
    int64_t compact_revision;
    bool with_compaction;               //  HashKV (compact_revision) asked too
    int64_t lowest;                     //  phase 4's revision
    bool differ;                        //  verdicts so far: some hashes differ
    bool incomplete;                    //  some members could not be compared
    //  Answers by kind, in self->members order
    bool answered [ASK_LOWEST + 1][MAX_MEMBERS];
    bool voted [ASK_LOWEST + 1][MAX_MEMBERS];
    zkv_hash_vote_t votes [ASK_LOWEST + 1][MAX_MEMBERS];
    bool behind [MAX_MEMBERS];          //  answered HashKV (R): a future revision
    int64_t behind_revision [MAX_MEMBERS];  //  phase 3: the revision each hashed at
} s_check_t;

typedef struct {
    zsock_t *pipe;
    zkv_alarm_args_t *args;
    zsock_t *inbox;
    zsock_t *raft;
    zpoller_t *poller;
    zkv_alarm_table_t *alarms;
    zkv_space_t *space;                 //  the free-disk guard
    zkv_alarm_retry_t nospace;          //  our NOSPACE, proposed and seen
    bool measure_failed;                //  told in the log already
    bool reserve_failed;                //  the same
    int64_t reserve_hold;               //  no reserve made before (msecs)
    bool leading;
    s_check_t check;
    uint64_t checks;                    //  rounds so far
    int64_t last_checked_compaction;    //  its hashes agreed
    int64_t next_disk_check;
    int64_t next_corrupt_check;
    //  The members a check compares, learners included: the member table
    //  as the check starts (members come and go between checks)
    uint64_t members [MAX_MEMBERS];
    size_t member_count;
    bool terminated;
} self_t;

static size_t
s_members (self_t *self)
{
    return self->member_count;
}

//  Reads the member table (the actors share the database, and storage
//  applied it); keeps the list it had when the table cannot be read
static void
s_members_load (self_t *self)
{
    msgpack_zone *zone = msgpack_zone_new (8192);
    zkv_cluster_member_list_t list;
    char *error = NULL;
    if (zone && zkv_members_list (self->args->engine, zone, &list, &error) == 0) {
        self->member_count = 0;
        for (size_t i = 0; i < list.count && self->member_count < MAX_MEMBERS; i++)
            self->members [self->member_count++] = list.items [i].member_id;
    }
    else
        zsys_error ("alarm: cannot read the member table: %s", error? error: "out of memory");
    free (error);
    if (zone)
        msgpack_zone_free (zone);
}

//  ---------------------------------------------------------------------
//  Raising

//  Proposes alarm type for member unless the table holds it already
static void
s_raise (self_t *self, uint64_t member, uint64_t type)
{
    char *error = NULL;
    if (zkv_alarm_table_load (self->alarms, self->args->engine, &error)) {
        zsys_error ("alarm: cannot read the alarms: %s", error);
        free (error);
    }
    if (zkv_alarm_table_has (self->alarms, member, type))
        return;
    zkv_io_propose_alarm (self->raft, self->args->member_id, ZKV_ALARM_ACTIVATE, member, type);
}

//  ---------------------------------------------------------------------
//  Free disk

//  The reserve goes (the disk ran short), and is not made again before
//  this member's NOSPACE has come and gone, or RESERVE_HOLD_MSECS without
//  news of the disk. who: which free-disk guard found it, for the log.
static void
s_reserve_release (self_t *self, const char *who, int64_t now)
{
    self->reserve_hold = now + RESERVE_HOLD_MSECS;
    if (zkv_space_reserve_release (self->space))
        zsys_warning ("alarm: %s found the disk of %s short: reserve of %lld bytes released",
                      who, self->args->space->data_dir, (long long) self->args->space->reserve);
}

//  The room short: the reserve goes at once, and this member's NOSPACE
//  is proposed unless it is raised (or was proposed a moment ago)
static void
s_disk_short (self_t *self, bool raised, int64_t now)
{
    if (zkv_alarm_retry_due (&self->nospace, raised, now)) {
        char text [512];
        zkv_space_describe (self->space, 0, text, sizeof text);
        zsys_warning ("alarm: %s: under %lld: raising NOSPACE", text,
                      (long long) self->args->space->min_free);
        zkv_io_propose_alarm (self->raft, self->args->member_id, ZKV_ALARM_ACTIVATE,
                              self->args->member_id, ZKV_ALARM_NOSPACE);
    }
    s_reserve_release (self, "alarm", now);
}

//  The room enough, and no NOSPACE of ours: the reserve, if it is not whole
static void
s_disk_enough (self_t *self)
{
    if (zkv_space_view (self->space)->reserve_missing == 0)
        return;
    char *error = NULL;
    if (zkv_space_reserve_make (self->space, &error)) {
        if (!self->reserve_failed)
            zsys_warning ("alarm: %s", error);
        self->reserve_failed = true;
        free (error);
        return;
    }
    self->reserve_failed = false;
    zsys_info ("alarm: made the reserve of %lld bytes in %s",
               (long long) self->args->space->reserve, self->args->space->data_dir);
}

//  Looks at the room of the disk (zkv_space.h): short, the member raises
//  its NOSPACE; enough, it makes its reserve again
static void
s_disk_check (self_t *self)
{
    if (!zkv_space_enabled (self->space))
        return;
    int64_t now = zclock_mono ();
    char *error = NULL;
    if (zkv_space_measure (self->space, now, &error)) {
        if (!self->measure_failed)
            zsys_warning ("alarm: cannot read the free space: %s", error);
        self->measure_failed = true;
        free (error);
        return;
    }
    self->measure_failed = false;
    if (zkv_alarm_table_load (self->alarms, self->args->engine, &error)) {
        zsys_error ("alarm: cannot read the alarms: %s", error);
        free (error);
        return;
    }
    bool raised = zkv_alarm_table_has (self->alarms, self->args->member_id, ZKV_ALARM_NOSPACE);
    if (raised) {
        self->nospace.seen = true;
        self->reserve_hold = 0;         //  made again once it is gone
    }
    if (!zkv_space_fits (self->space, 0, now))
        s_disk_short (self, raised, now);
    else
    if (!raised && now >= self->reserve_hold)
        s_disk_enough (self);
}

//  ---------------------------------------------------------------------
//  Corruption checks

static void
s_ask (self_t *self, uint64_t to, int kind, int64_t revision)
{
    zkv_hash_ask_t ask = {
        .number = self->check.number * ASK_KINDS + (uint64_t) kind,
        .asker = self->args->member_id, .to = to, .revision = revision
    };
    zkv_io_send (self->raft, &zkv_hash_ask_desc, &ask);
}

//  Sends the asks of phase 2 not answered yet
static void
s_ask_missing (self_t *self)
{
    s_check_t *check = &self->check;
    for (size_t i = 0; i < s_members (self); i++) {
        uint64_t member = self->members [i];
        if (member != self->args->member_id && !check->answered [ASK_REVISION][i])
            s_ask (self, member, ASK_REVISION, check->revision);
        if (check->with_compaction && !check->answered [ASK_COMPACTION][i])
            s_ask (self, member, ASK_COMPACTION, check->compact_revision);
    }
}

//  Phase 1: our own HashKV (0), for the revision the others are asked at
static void
s_check_start (self_t *self, bool initial)
{
    memset (&self->check, 0, sizeof self->check);
    s_members_load (self);
    self->check.number = ++self->checks;
    self->check.initial = initial;
    self->check.phase = 1;
    self->check.started = zclock_mono ();
    self->check.deadline = self->check.started + OWN_HASH_MSECS;
    s_ask (self, self->args->member_id, ASK_OWN, 0);
}

//  The deadline of a phase that starts now: the others hash as much as we
//  did, twice over, and answer
static int64_t
s_phase_deadline (self_t *self)
{
    return zclock_mono () + 2 * self->check.own_msecs + self->args->answer_msecs;
}

//  True once every ask of the phase under way is answered
static bool
s_phase_complete (self_t *self)
{
    s_check_t *check = &self->check;
    for (size_t i = 0; i < s_members (self); i++)
        if (check->phase == 1
        ||  (check->phase == 2 && !check->answered [ASK_REVISION][i])
        ||  (check->phase == 2 && check->with_compaction && !check->answered [ASK_COMPACTION][i])
        ||  (check->phase == 3 && check->behind [i] && !check->answered [ASK_BEHIND][i])
        ||  (check->phase == 4 && !check->answered [ASK_LOWEST][i]))
            return false;
    return true;
}

//  The votes of one kind, in order; their number
static size_t
s_votes (self_t *self, int kind, zkv_hash_vote_t *votes)
{
    size_t count = 0;
    for (size_t i = 0; i < s_members (self); i++)
        if (self->check.voted [kind][i])
            votes [count++] = self->check.votes [kind][i];
    return count;
}

//  Where this member is in self->members
static size_t
s_own_index (self_t *self)
{
    for (size_t i = 0; i < s_members (self); i++)
        if (self->members [i] == self->args->member_id)
            return i;
    return 0;
}

//  The initial check's verdict: NULL when this member may serve
static const char *
s_initial_verdict (self_t *self, char *text, size_t size)
{
    zkv_hash_vote_t votes [MAX_MEMBERS];
    size_t count = s_votes (self, ASK_REVISION, votes);
    uint64_t corrupt [MAX_MEMBERS];
    size_t corrupt_count;
    zkv_verdict_t verdict = zkv_corrupt_verdict (votes, count, s_members (self),
                                                 self->check.compact_revision, corrupt,
                                                 &corrupt_count);
    bool blamed = false;
    for (size_t i = 0; i < corrupt_count; i++)
        blamed |= corrupt [i] == self->args->member_id || corrupt [i] == 0;
    if (verdict != ZKV_HASHES_DIFFER || !blamed)
        return NULL;
    //  etcd's words, naming the peers whose hash is not ours
    uint32_t own = self->check.votes [ASK_REVISION][0].hash;
    for (size_t i = 0; i < count; i++)
        if (votes [i].member == self->args->member_id)
            own = votes [i].hash;
    int length = snprintf (text, size, "%016" PRIx64 " found data inconsistency with peers:",
                           self->args->member_id);
    for (size_t i = 0; i < count && length > 0 && (size_t) length < size; i++)
        if (votes [i].compact_revision == self->check.compact_revision && votes [i].hash != own)
            length += snprintf (text + length, size - (size_t) length,
                                " %016" PRIx64 " (hash %u at revision %lld, ours %u)",
                                votes [i].member, votes [i].hash,
                                (long long) self->check.revision, own);
    return text;
}

//  Judges one set of answers and raises what it finds; true if the
//  hashes were all compared and agreed
static bool
s_judge (self_t *self, int kind, int64_t revision, int64_t compact_revision)
{
    zkv_hash_vote_t votes [MAX_MEMBERS];
    size_t count = s_votes (self, kind, votes);
    uint64_t corrupt [MAX_MEMBERS];
    size_t corrupt_count;
    zkv_verdict_t verdict = zkv_corrupt_verdict (votes, count, s_members (self),
                                                 compact_revision, corrupt, &corrupt_count);
    for (size_t i = 0; i < corrupt_count; i++) {
        zsys_error ("alarm: the members' HashKV (%lld) differ: raising CORRUPT for %016" PRIx64,
                    (long long) revision, corrupt [i]);
        s_raise (self, corrupt [i], ZKV_ALARM_CORRUPT);
    }
    self->check.differ |= verdict == ZKV_HASHES_DIFFER;
    //  Phase 4 compares every member, those left out at R included
    if (kind == ASK_LOWEST)
        self->check.incomplete = false;
    self->check.incomplete |= verdict == ZKV_HASHES_INCOMPLETE;
    return verdict != ZKV_HASHES_INCOMPLETE;
}

//  Logs how a periodic check ended, as etcd logs each of its checks
static void
s_check_log (self_t *self)
{
    s_check_t *check = &self->check;
    zkv_hash_vote_t votes [MAX_MEMBERS];
    char behind [96] = "";
    if (check->phase == 4)
        snprintf (behind, sizeof behind, "; %zu at revision %lld, that of members behind",
                  s_votes (self, ASK_LOWEST, votes), (long long) check->lowest);
    zsys_info ("alarm: corruption check at revision %lld: %s (%zu of %zu members hashed it%s), "
               "%lld ms", (long long) check->revision,
               check->differ? "hashes differ": check->incomplete? "incomplete": "equal",
               s_votes (self, ASK_REVISION, votes), s_members (self), behind,
               (long long) (zclock_mono () - check->started));
}

//  Phase 3, when phase 2 found members behind R (their HashKV (R) is of a
//  future revision: they lag, or stopped applying for good, as a member
//  that took a forged entry does): each is asked for HashKV at its own
//  revision. False when nobody is behind.
static bool
s_behind_start (self_t *self)
{
    s_check_t *check = &self->check;
    bool any = false;
    for (size_t i = 0; i < s_members (self); i++)
        any |= check->behind [i];
    if (!any)
        return false;
    check->phase = 3;
    check->deadline = s_phase_deadline (self);
    for (size_t i = 0; i < s_members (self); i++)
        if (check->behind [i])
            s_ask (self, self->members [i], ASK_BEHIND, 0);
    return true;
}

//  Phase 4: every member at the lowest revision those behind hashed at (R
//  at most, which every other member has), so that they are compared
//  with the others there; a hash already at that revision counts as
//  asked. False when none of them answered.
static bool
s_lowest_start (self_t *self)
{
    s_check_t *check = &self->check;
    int64_t lowest = check->revision;
    bool any = false;
    for (size_t i = 0; i < s_members (self); i++)
        if (check->voted [ASK_BEHIND][i]) {
            any = true;
            if (check->behind_revision [i] < lowest)
                lowest = check->behind_revision [i];
        }
    if (!any)
        return false;
    check->phase = 4;
    check->lowest = lowest;
    check->deadline = s_phase_deadline (self);
    for (size_t i = 0; i < s_members (self); i++) {
        int kind = check->voted [ASK_BEHIND][i] && check->behind_revision [i] == lowest
                 ? ASK_BEHIND
                 : lowest == check->revision && check->voted [ASK_REVISION][i]? ASK_REVISION: -1;
        if (kind >= 0) {
            check->answered [ASK_LOWEST][i] = check->voted [ASK_LOWEST][i] = true;
            check->votes [ASK_LOWEST][i] = check->votes [kind][i];
        }
    }
    //  Asked after the answers are in place: our own may come at once
    for (size_t i = 0; i < s_members (self); i++)
        if (!check->answered [ASK_LOWEST][i])
            s_ask (self, self->members [i], ASK_LOWEST, lowest);
    return true;
}

//  Ends the phase under way: judges what it asked, then starts the next
//  phase, if any, or ends the check
static void
s_phase_end (self_t *self)
{
    s_check_t *check = &self->check;
    if (check->initial) {
        char text [1024];
        bool own = check->phase > 1;
        const char *failed = own? s_initial_verdict (self, text, sizeof text): NULL;
        if (!own)
            zsys_warning ("alarm: the initial corruption check got no hash of this member");
        else
        if (!s_phase_complete (self))
            zsys_warning ("alarm: the initial corruption check went without some peers");
        zstr_send (self->pipe, failed? failed: "OK");
        check->number = 0;
        return;
    }
    size_t own = s_own_index (self);
    if (check->phase == 2) {
        s_judge (self, ASK_REVISION, check->revision, check->compact_revision);
        //  Compared with our own cached hash's compact revision
        if (check->with_compaction && check->voted [ASK_COMPACTION][own]
        &&  s_judge (self, ASK_COMPACTION, check->compact_revision,
                     check->votes [ASK_COMPACTION][own].compact_revision))
            self->last_checked_compaction = check->compact_revision;
        if (s_behind_start (self))
            return;
    }
    else
    if (check->phase == 3) {
        if (s_lowest_start (self)) {
            if (s_phase_complete (self))
                s_phase_end (self);
            return;
        }
    }
    else
    if (check->phase == 4 && check->voted [ASK_LOWEST][own])
        //  Compared with our own hash's compact revision there
        s_judge (self, ASK_LOWEST, check->lowest, check->votes [ASK_LOWEST][own].compact_revision);
    if (check->phase > 1)
        s_check_log (self);
    check->number = 0;
}

//  True if an answer of kind is one the phase under way waits for
static bool
s_awaited (const s_check_t *check, int kind)
{
    return kind == ASK_OWN? check->phase == 1
         : kind == ASK_REVISION || kind == ASK_COMPACTION? check->phase == 2
         : kind == ASK_BEHIND? check->phase == 3
         : kind == ASK_LOWEST? check->phase == 4: false;
}

static void
s_answer (self_t *self, const zkv_hash_answer_t *answer)
{
    s_check_t *check = &self->check;
    if (!check->number || answer->number / ASK_KINDS != check->number)
        return;                         //  of a check that is over
    int kind = (int) (answer->number % ASK_KINDS);
    if (kind == ASK_OWN && answer->member != self->args->member_id)
        return;
    size_t index = MAX_MEMBERS;
    for (size_t i = 0; i < s_members (self); i++)
        if (self->members [i] == answer->member)
            index = i;
    if (index == MAX_MEMBERS || kind > ASK_LOWEST || !s_awaited (check, kind))
        return;                         //  late: of a phase that is over
    const zkv_hash_kv_response_t *response = answer->response;
    //  A member behind R is no failure: phase 3 hears it at its revision
    const char *future = zkv_err_message (ZKV_ERR_FUTURE_REV);
    bool is_behind = !response && kind == ASK_REVISION && !check->initial && answer->error
                  && zkv_bin_eq (answer->error->message, future);
    if (!response && !is_behind) {
        char text [256];
        zkv_bin_str (answer->error? answer->error->message: zkv_bin (NULL, 0), text, sizeof text);
        zsys_warning ("alarm: %016" PRIx64 " could not hash for a corruption check: %s",
                      answer->member, text);
    }
    if (kind == ASK_OWN) {
        if (!response) {
            s_phase_end (self);
            return;
        }
        check->phase = 2;
        check->own_msecs = zclock_mono () - check->started;
        check->revision = response->hash_revision;
        check->compact_revision = response->compact_revision;
        //  Our own hash at that revision is our vote
        check->answered [ASK_REVISION][index] = check->voted [ASK_REVISION][index] = true;
        check->votes [ASK_REVISION][index] = (zkv_hash_vote_t) {
            answer->member, (uint32_t) response->hash, response->compact_revision
        };
        if (check->initial && check->revision <= 1) {
            zsys_info ("alarm: no data yet: no initial corruption check");
            zstr_send (self->pipe, "OK");
            check->number = 0;
            return;
        }
        check->with_compaction = !check->initial && check->compact_revision > 0
                              && check->compact_revision > self->last_checked_compaction;
        //  Phase 2: every member at R; at start, the others get etcd's
        //  request timeout more (5 s + twice the election timeout): peers
        //  that start with us may take a while to connect
        check->deadline = s_phase_deadline (self) + (check->initial? INITIAL_EXTRA_MSECS: 0);
        check->next_resend = zclock_mono () + RESEND_MSECS;
        s_ask_missing (self);
    }
    else
    if (!check->answered [kind][index]) {
        check->answered [kind][index] = true;
        check->behind [index] |= is_behind;
        int64_t asked = kind == ASK_REVISION? check->revision
                      : kind == ASK_COMPACTION? check->compact_revision
                      : kind == ASK_LOWEST? check->lowest: 0;
        if (response && (asked == 0 || response->hash_revision == asked)) {
            check->voted [kind][index] = true;
            check->votes [kind][index] = (zkv_hash_vote_t) {
                answer->member, (uint32_t) response->hash, response->compact_revision
            };
            if (kind == ASK_BEHIND)
                check->behind_revision [index] = response->hash_revision;
        }
    }
    if (s_phase_complete (self))
        s_phase_end (self);
}

//  ---------------------------------------------------------------------
//  Loop

static void
s_handle_inbox (self_t *self)
{
    zkv_msg_t *msg;
    while (zkv_io_try_recv (self->inbox, "alarm", &msg)) {
        if (!msg)
            continue;
        if (msg->desc == &zkv_raft_state_desc) {
            const zkv_raft_state_t *state = (const zkv_raft_state_t *) msg->body;
            self->leading = state->leader == self->args->member_id;
        }
        else
        if (msg->desc == &zkv_hash_answer_desc)
            s_answer (self, (const zkv_hash_answer_t *) msg->body);
        else
        if (msg->desc == &zkv_disk_short_desc) {
            char who [32];
            zkv_bin_str (((const zkv_disk_short_t *) msg->body)->who, who, sizeof who);
            s_reserve_release (self, who, zclock_mono ());
        }
        else
            zsys_error ("alarm: unexpected message %s", msg->desc->name);
        zkv_msg_destroy (&msg);
    }
}

static void
s_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command) {
        self->terminated = true;
        return;
    }
    if (streq (command, "START")) {
        self->inbox = zkv_io_inbox (self->args->alarm);
        self->raft = zkv_io_outbox (self->args->raft);
        if (self->inbox && self->raft) {
            zpoller_add (self->poller, self->inbox);
            //  The first look, the reserve made, before the member serves
            s_disk_check (self);
            self->next_disk_check = zclock_mono () + DISK_CHECK_MSECS;
            zstr_send (self->pipe, "OK");
        }
        else
            zstr_sendf (self->pipe, "cannot bind %s or reach raft", self->args->alarm);
    }
    else
    if (streq (command, "CHECK"))
        s_check_start (self, true);
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
        zsys_error ("alarm: invalid command '%s'", command);
    zstr_free (&command);
}

//  Time-driven work: the disk, the periodic check, resends and deadlines
static void
s_timers (self_t *self)
{
    int64_t now = zclock_mono ();
    if (now >= self->next_disk_check) {
        s_disk_check (self);
        self->next_disk_check = now + DISK_CHECK_MSECS;
    }
    if (self->check.number) {
        if (now >= self->check.deadline)
            s_phase_end (self);
        else
        if (self->check.initial && self->check.phase == 2 && now >= self->check.next_resend) {
            //  Peers that start with us may not have been connected yet
            s_ask_missing (self);
            self->check.next_resend = now + RESEND_MSECS;
        }
    }
    if (self->args->corrupt_check_msecs > 0 && now >= self->next_corrupt_check) {
        if (self->leading && !self->check.number)
            s_check_start (self, false);
        self->next_corrupt_check = now + self->args->corrupt_check_msecs;
    }
}

static self_t *
s_self_new (zsock_t *pipe, zkv_alarm_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->alarms = zkv_alarm_table_new ();
    self->space = zkv_space_new (args->engine, args->space);
    self->poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (self->poller, true);
    self->next_corrupt_check = zclock_mono () + args->corrupt_check_msecs;
    //  Check numbers never repeat across restarts: a late answer to the
    //  previous life's check is never taken for one of ours
    self->checks = (uint64_t) zclock_usecs () << 8;
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->inbox);
    zsock_destroy (&self->raft);
    zkv_alarm_table_destroy (&self->alarms);
    zkv_space_destroy (&self->space);
    free (self);
    *self_p = NULL;
}

void
zkv_alarm_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (zkv_alarm_args_t *) args);
    zsock_signal (pipe, 0);
    while (!self->terminated) {
        int64_t wait = self->next_disk_check - zclock_mono ();
        if (self->check.number && self->check.deadline - zclock_mono () < wait)
            wait = self->check.deadline - zclock_mono ();
        if (self->check.number && self->check.initial
        &&  self->check.next_resend - zclock_mono () < wait)
            wait = self->check.next_resend - zclock_mono ();
        if (self->args->corrupt_check_msecs > 0
        &&  self->next_corrupt_check - zclock_mono () < wait)
            wait = self->next_corrupt_check - zclock_mono ();
        void *which = zpoller_wait (self->poller, self->raft? (wait < 0? 0: (int) wait): -1);
        if (which == pipe)
            s_handle_pipe (self);
        else
        if (self->inbox && which == self->inbox)
            s_handle_inbox (self);
        if (self->raft)
            s_timers (self);
    }
    s_self_destroy (&self);
}
