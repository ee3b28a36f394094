/*  =========================================================================
    zkv_rc_conf.c — configurations: changes and their entries, joint
    consensus, quorums, and switching the core to a new configuration.

    The rules (etcd-raft's, raft.md): a configuration takes effect when its
    entry is applied, never when it is appended; one change is pending at
    a time; no change while joint but the one that leaves; the leader
    leaves a joint configuration by itself once it applied it; a member
    with a committed but unapplied change does not campaign; a leader that
    is no longer a voter steps down once its removal is applied.
    =========================================================================
*/
#include "zkv_rc_private.h"

#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  The configuration, as a value

static bool
s_has (const uint64_t *ids, uint32_t count, uint64_t id)
{
    for (uint32_t i = 0; i < count; i++)
        if (ids [i] == id)
            return true;
    return false;
}

static bool
s_remove (uint64_t *ids, uint32_t *count, uint64_t id)
{
    for (uint32_t i = 0; i < *count; i++)
        if (ids [i] == id) {
            ids [i] = ids [--*count];
            return true;
        }
    return false;
}

bool
zkv_rc_conf_is_voter (const zkv_conf_state_t *conf, uint64_t id)
{
    return s_has (conf->voters, conf->voter_count, id)
        || s_has (conf->outgoing, conf->outgoing_count, id);
}

bool
zkv_rc_conf_is_learner (const zkv_conf_state_t *conf, uint64_t id)
{
    return s_has (conf->learners, conf->learner_count, id);
}

bool
zkv_rc_conf_is_joint (const zkv_conf_state_t *conf)
{
    return conf->outgoing_count > 0;
}

//  Members of either half and learners, each once
static uint32_t
s_members (const zkv_conf_state_t *conf, uint64_t ids [3 * ZKV_RC_MAX_MEMBERS])
{
    uint32_t count = 0;
    const uint64_t *lists [3] = { conf->voters, conf->outgoing, conf->learners };
    uint32_t counts [3] = { conf->voter_count, conf->outgoing_count, conf->learner_count };
    for (int list = 0; list < 3; list++)
        for (uint32_t i = 0; i < counts [list]; i++)
            if (!s_has (ids, count, lists [list][i]))
                ids [count++] = lists [list][i];
    return count;
}

const char *
zkv_rc_conf_apply (const zkv_conf_state_t *conf, const zkv_rc_change_t *changes, size_t count,
                   zkv_conf_state_t *result)
{
    zkv_conf_state_t next = *conf;
    if (count == 0) {
        //  Leaves the joint configuration: the new voters alone decide
        next.outgoing_count = 0;
        next.auto_leave = false;
        *result = next;
        return NULL;
    }
    if (zkv_rc_conf_is_joint (conf))
        return "a joint configuration must be left before the next change";
    if (count > ZKV_RC_MAX_CHANGES)
        return "too many changes at once";
    for (size_t i = 0; i < count; i++) {
        uint64_t id = changes [i].id;
        if (id == 0)
            return "member id 0";
        for (size_t j = 0; j < i; j++)
            if (changes [j].id == id)
                return "two changes of one member";
        switch (changes [i].kind) {
            case ZKV_RC_ADD_VOTER:
                if (s_has (next.voters, next.voter_count, id))
                    return "already a voter";
                s_remove (next.learners, &next.learner_count, id);
                next.voters [next.voter_count++] = id;
                break;
            case ZKV_RC_ADD_LEARNER:
                if (s_has (next.voters, next.voter_count, id))
                    return "a voter cannot become a learner";
                if (s_has (next.learners, next.learner_count, id))
                    return "already a learner";
                next.learners [next.learner_count++] = id;
                break;
            case ZKV_RC_REMOVE:
                if (!s_remove (next.voters, &next.voter_count, id)
                &&  !s_remove (next.learners, &next.learner_count, id))
                    return "not a member";
                break;
            default:
                return "unknown change";
        }
        uint64_t ids [3 * ZKV_RC_MAX_MEMBERS];
        if (s_members (&next, ids) > ZKV_RC_MAX_MEMBERS)
            return "too many members";
    }
    if (next.voter_count == 0)
        return "no voter would be left";
    //  How many voters changed: more than one at once needs a joint
    //  configuration, whose quorums overlap every quorum of the old one
    size_t voters_changed = 0;
    for (uint32_t i = 0; i < next.voter_count; i++)
        voters_changed += !s_has (conf->voters, conf->voter_count, next.voters [i]);
    for (uint32_t i = 0; i < conf->voter_count; i++)
        voters_changed += !s_has (next.voters, next.voter_count, conf->voters [i]);
    if (count > 1 || voters_changed > 1) {
        memcpy (next.outgoing, conf->voters, conf->voter_count * sizeof (uint64_t));
        next.outgoing_count = conf->voter_count;
        next.auto_leave = true;
    }
    *result = next;
    return NULL;
}

//  ---------------------------------------------------------------------
//  Encodings: big-endian, versioned, bounded

#define CHANGE_VERSION 1
#define CONF_VERSION 1

//  width bytes of value, big-endian, and back
static void
s_put (uint8_t *bytes, uint64_t value, int width)
{
    for (int i = width - 1; i >= 0; i--, value >>= 8)
        bytes [i] = (uint8_t) value;
}

static uint64_t
s_get (const uint8_t *bytes, int width)
{
    uint64_t value = 0;
    for (int i = 0; i < width; i++)
        value = value << 8 | bytes [i];
    return value;
}

//  Entry: version, count, then per change its kind and id, then context
uint8_t *
zkv_rc_conf_change_encode (const zkv_rc_change_t *changes, size_t count, zkv_bin_t context,
                           size_t *size)
{
    *size = 2 + count * 9 + context.size;
    uint8_t *bytes = (uint8_t *) malloc (*size? *size: 1);
    if (!bytes)
        abort ();                       //  out of memory in a pure core
    bytes [0] = CHANGE_VERSION;
    bytes [1] = (uint8_t) count;
    for (size_t i = 0; i < count; i++) {
        bytes [2 + i * 9] = (uint8_t) changes [i].kind;
        s_put (bytes + 2 + i * 9 + 1, changes [i].id, 8);
    }
    if (context.size)
        memcpy (bytes + 2 + count * 9, context.data, context.size);
    return bytes;
}

bool
zkv_rc_conf_change_decode (zkv_bin_t data, zkv_rc_change_t *changes, size_t *count,
                           zkv_bin_t *context)
{
    const uint8_t *bytes = (const uint8_t *) data.data;
    if (data.size < 2 || bytes [0] != CHANGE_VERSION || bytes [1] > ZKV_RC_MAX_CHANGES
    ||  data.size < 2 + (size_t) bytes [1] * 9)
        return false;
    *count = bytes [1];
    for (size_t i = 0; i < *count; i++) {
        changes [i].kind = (zkv_rc_change_kind_t) bytes [2 + i * 9];
        changes [i].id = s_get (bytes + 2 + i * 9 + 1, 8);
    }
    size_t used = 2 + *count * 9;
    *context = zkv_bin (bytes + used, data.size - used);
    return true;
}

//  Configuration: version, the three counts, flags, then the three lists
size_t
zkv_rc_conf_encode (const zkv_conf_state_t *conf, uint8_t bytes [ZKV_RC_CONF_BYTES])
{
    bytes [0] = CONF_VERSION;
    bytes [1] = conf->auto_leave? 1: 0;
    bytes [2] = bytes [3] = 0;
    s_put (bytes + 4, conf->voter_count, 4);
    s_put (bytes + 8, conf->outgoing_count, 4);
    s_put (bytes + 12, conf->learner_count, 4);
    size_t size = 16;
    const uint64_t *lists [3] = { conf->voters, conf->outgoing, conf->learners };
    uint32_t counts [3] = { conf->voter_count, conf->outgoing_count, conf->learner_count };
    for (int list = 0; list < 3; list++)
        for (uint32_t i = 0; i < counts [list]; i++, size += 8)
            s_put (bytes + size, lists [list][i], 8);
    return size;
}

bool
zkv_rc_conf_decode (const uint8_t *bytes, size_t size, zkv_conf_state_t *conf)
{
    memset (conf, 0, sizeof *conf);
    if (size < 16 || bytes [0] != CONF_VERSION)
        return false;
    conf->auto_leave = bytes [1] & 1;
    uint32_t counts [3];
    for (int list = 0; list < 3; list++)
        counts [list] = (uint32_t) s_get (bytes + 4 + 4 * list, 4);
    uint64_t *lists [3] = { conf->voters, conf->outgoing, conf->learners };
    size_t used = 16;
    for (int list = 0; list < 3; list++) {
        if (counts [list] > ZKV_RC_MAX_MEMBERS || size < used + counts [list] * 8)
            return false;
        for (uint32_t i = 0; i < counts [list]; i++, used += 8)
            lists [list][i] = s_get (bytes + used, 8);
    }
    conf->voter_count = counts [0];
    conf->outgoing_count = counts [1];
    conf->learner_count = counts [2];
    return used == size;
}

//  ---------------------------------------------------------------------
//  Quorums

//  The result of one majority configuration: a majority said yes, or
//  enough said no that it never can
static rc_vote_t
s_majority (zkv_rc_t *self, const uint64_t *ids, uint32_t count, rc_answer_fn *answer)
{
    if (count == 0)
        return RC_VOTE_WON;             //  an empty half agrees to anything
    uint32_t yes = 0, no = 0;
    for (uint32_t i = 0; i < count; i++) {
        rc_progress_t *pr = rc_progress (self, ids [i]);
        int said = pr? answer (self, pr): -1;
        yes += said == 1;
        no += said == 0;
    }
    uint32_t quorum = count / 2 + 1;
    if (yes >= quorum)
        return RC_VOTE_WON;
    if (count - no < quorum)
        return RC_VOTE_LOST;
    return RC_VOTE_PENDING;
}

//  The members the incoming half counts: its voters
static uint32_t
s_incoming (const zkv_conf_state_t *conf, uint64_t ids [2 * ZKV_RC_MAX_MEMBERS])
{
    uint32_t count = conf->voter_count;
    memcpy (ids, conf->voters, count * sizeof (uint64_t));
#ifdef ZKV_RC_BUG_LEARNER_IN_QUORUM
    //  Planted bug: learners count as voters of the incoming half
    memcpy (ids + count, conf->learners, conf->learner_count * sizeof (uint64_t));
    count += conf->learner_count;
#endif
    return count;
}

rc_vote_t
rc_tally (zkv_rc_t *self, rc_answer_fn *answer)
{
    const zkv_conf_state_t *conf = &self->conf;
    uint64_t ids [2 * ZKV_RC_MAX_MEMBERS];
    rc_vote_t incoming = s_majority (self, ids, s_incoming (conf, ids), answer);
    rc_vote_t outgoing = s_majority (self, conf->outgoing, conf->outgoing_count, answer);
    if (incoming == RC_VOTE_LOST || outgoing == RC_VOTE_LOST)
        return RC_VOTE_LOST;
    if (incoming == RC_VOTE_WON && outgoing == RC_VOTE_WON)
        return RC_VOTE_WON;
    return RC_VOTE_PENDING;
}

static int
s_compare_desc (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x > y? -1: x < y? 1: 0;
}

//  The highest index a majority of ids holds
static uint64_t
s_majority_index (zkv_rc_t *self, const uint64_t *ids, uint32_t count)
{
    if (count == 0)
        return UINT64_MAX;
    uint64_t matches [2 * ZKV_RC_MAX_MEMBERS];
    for (uint32_t i = 0; i < count; i++) {
        rc_progress_t *pr = rc_progress (self, ids [i]);
        matches [i] = pr? pr->match: 0;
    }
    qsort (matches, count, sizeof (uint64_t), s_compare_desc);
    return matches [count / 2];
}

uint64_t
rc_quorum_index (zkv_rc_t *self)
{
    const zkv_conf_state_t *conf = &self->conf;
    uint64_t ids [2 * ZKV_RC_MAX_MEMBERS];
    uint64_t incoming = s_majority_index (self, ids, s_incoming (conf, ids));
    uint64_t outgoing = s_majority_index (self, conf->outgoing, conf->outgoing_count);
    uint64_t index = incoming < outgoing? incoming: outgoing;
    return index == UINT64_MAX? 0: index;
}

bool
rc_sole_voter (zkv_rc_t *self)
{
    return self->conf.voter_count == 1 && self->conf.voters [0] == self->config.id
        && self->conf.outgoing_count == 0;
}

bool
rc_promotable (zkv_rc_t *self)
{
    if (!zkv_rc_conf_is_voter (&self->conf, self->config.id))
        return false;
    //  A committed change not yet applied may remove us or change who
    //  counts: wait until it is applied
    for (uint64_t index = self->log.applied + 1; index <= self->log.committed; index++) {
        rc_entry_t *entry = rc_log_entry (&self->log, index);
        if (entry && entry->type == ZKV_RC_ENTRY_CONF)
            return false;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Switching to a configuration

static void
s_progress_init (zkv_rc_t *self, rc_progress_t *pr, uint64_t id)
{
    uint64_t *inflight = pr->inflight;
    memset (pr, 0, sizeof *pr);
    pr->inflight = inflight;
    pr->id = id;
    pr->next = rc_log_last_index (&self->log) + 1;
    pr->state = RC_PROBE;
    //  A new member is given a chance before CheckQuorum counts it out
    pr->recent_active = true;
    if (id == self->config.id) {
        pr->match = self->log.stable;
        pr->state = RC_REPLICATE;
    }
}

void
rc_conf_switch (zkv_rc_t *self, const zkv_conf_state_t *conf)
{
    self->conf = *conf;
    uint64_t ids [3 * ZKV_RC_MAX_MEMBERS];
    uint32_t count = s_members (conf, ids);
    //  Keep the progress of members that stay, drop the others' (their
    //  slots are reused), and start one for each newcomer
    rc_progress_t kept [ZKV_RC_MAX_MEMBERS];
    size_t kept_count = 0;
    for (size_t i = 0; i < self->progress_count; i++) {
        if (s_has (ids, count, self->progress [i].id))
            kept [kept_count++] = self->progress [i];
        else
            self->spare_inflight [self->spare_count++] = self->progress [i].inflight;
    }
    for (uint32_t i = 0; i < count && kept_count < ZKV_RC_MAX_MEMBERS; i++) {
        bool known = false;
        for (size_t j = 0; j < kept_count; j++)
            known |= kept [j].id == ids [i];
        if (known)
            continue;
        rc_progress_t *pr = &kept [kept_count++];
        pr->inflight = self->spare_inflight [--self->spare_count];
        s_progress_init (self, pr, ids [i]);
    }
    memcpy (self->progress, kept, kept_count * sizeof (rc_progress_t));
    self->progress_count = kept_count;
    for (size_t i = 0; i < kept_count; i++)
        self->progress [i].learner = zkv_rc_conf_is_learner (conf, self->progress [i].id);
    if (self->role == ZKV_RC_CANDIDATE || self->role == ZKV_RC_PRE_CANDIDATE) {
        //  A campaign counts by the configuration it began with (a change
        //  it learned committed from a refusal may remove this member):
        //  the change ends it, and the next one goes by the new one
        rc_become_follower (self, self->term, 0);
        return;
    }
    if (self->role != ZKV_RC_LEADER)
        return;
    if (!zkv_rc_conf_is_voter (conf, self->config.id)) {
        //  Removed (its removal is applied, so committed): a leader that
        //  is no longer a voter steps down, and the others elect one. It
        //  tells them the commit first: those that still count it (two
        //  voters down to one, or it leaves a joint configuration) can
        //  elect nobody until they apply its removal, and without a
        //  leader nothing else would tell them it is committed
        rc_broadcast_heartbeat (self, 0);
        rc_become_follower (self, self->term, 0);
        return;
    }
    if (self->transferee && !s_has (conf->voters, conf->voter_count, self->transferee))
        rc_transfer_abort (self);
    //  Who counts changed: the commit may move; newcomers need the log
    rc_maybe_commit (self);
    rc_broadcast_append (self);
}

void
rc_conf_applied (zkv_rc_t *self, zkv_bin_t data)
{
    zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
    size_t count;
    zkv_bin_t context;
    zkv_conf_state_t next;
    //  An entry that does not decode or makes no valid configuration was
    //  refused where it was proposed; one that still got here changes
    //  nothing, on every member alike
    if (!zkv_rc_conf_change_decode (data, changes, &count, &context)
    ||  zkv_rc_conf_apply (&self->conf, changes, count, &next))
        return;
    rc_conf_switch (self, &next);
}

void
rc_conf_maybe_leave (zkv_rc_t *self)
{
    //  The leader leaves a joint configuration by itself, with an entry of
    //  no change, once nothing is pending: the change that entered it is
    //  applied (by this leader, or by one before it that stopped leading
    //  before it left: a new leader's pending index is its last index)
    if (self->role != ZKV_RC_LEADER || !zkv_rc_conf_is_joint (&self->conf)
    ||  !self->conf.auto_leave || self->pending_conf_index > self->log.applied
    ||  self->transferee)
        return;
    size_t size;
    uint8_t *leave = zkv_rc_conf_change_encode (NULL, 0, zkv_bin (NULL, 0), &size);
    zkv_bin_t bytes = zkv_bin (leave, size);
    rc_append_typed (self, &bytes, 1, ZKV_RC_ENTRY_CONF);
    self->pending_conf_index = rc_log_last_index (&self->log);
    free (leave);
}

zkv_rc_status_t
rc_conf_check (zkv_rc_t *self, zkv_bin_t data)
{
    zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
    size_t count;
    zkv_bin_t context;
    zkv_conf_state_t next;
    if (!zkv_rc_conf_change_decode (data, changes, &count, &context))
        return ZKV_RC_CONF_INVALID;
#ifndef ZKV_RC_BUG_SECOND_CHANGE_PENDING
    //  One change at a time: the last one must be applied first (a new
    //  leader's pending index is its last index, so it waits for its own
    //  first entry too: a leader commits in its term before it changes
    //  who votes)
    if (self->pending_conf_index > self->log.applied)
        return ZKV_RC_CONF_PENDING;
    if (zkv_rc_conf_is_joint (&self->conf) && count > 0)
        return ZKV_RC_CONF_PENDING;
#endif
    if (!zkv_rc_conf_is_joint (&self->conf) && count == 0)
        return ZKV_RC_CONF_INVALID;     //  nothing to leave
    if (zkv_rc_conf_apply (&self->conf, changes, count, &next))
        return ZKV_RC_CONF_INVALID;
    return ZKV_RC_OK;
}
