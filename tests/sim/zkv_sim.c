/*  =========================================================================
    zkv_sim.c — zkv-sim: the deterministic cluster simulator of the raft
    core (docs/RELIABILITY.md says what it checks).

    N cores on simulated disks (rc_node), wired through a simulated network,
    all driven by one seed: message drop, duplication, reordering and
    delay; symmetric, one-way and partial partitions; crashes that lose
    what was not written, in the middle of a ready too; clock skew; client
    proposals, reads and leadership transfers at random moments; log
    compaction and snapshots; membership changes (learners added and
    promoted, voters added and removed, the leader too, joint replaces),
    proposed at any member without waiting for the one before. Each seed
    draws its own mix of faults (swarm testing). After every step the
    invariants are checked, against a ghost state the simulator keeps
    itself: the committed log, and the configurations it holds (never
    what a core says its configuration is); after the chaos everything is
    healed and the members of the last configuration must elect a leader,
    commit, and leave any joint configuration, within a bound. A failure
    prints its seed; the seed alone replays it (`zkv-sim --seed S
    --verbose`).

    zkv-sim [--seeds N] [--first S] [--seed S] [--steps N] [--verbose]
    Exit 0 when every seed passed, 1 at the first violation.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_node.h"
#include "zkv_grow.h"

//  Ids 1..voters start the cluster; the others (up to MAX_NODES) are
//  members-to-be, which membership changes may add
#define MAX_NODES 7
#define TICK 10                         //  time units per tick

//  ---------------------------------------------------------------------
//  Randomness

static uint64_t
s_next (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

//  ---------------------------------------------------------------------
//  The world

typedef struct {
    uint64_t at;                        //  delivery time
    zkv_raft_message_t message;         //  owns entries and their data
} s_flight_t;

typedef struct {
    uint64_t value;                     //  unique id of the proposal
    uint64_t origin;                    //  node that took it
    uint64_t index;                     //  where it was applied (0: not yet)
    bool acked;                         //  applied on its origin: the client knows
    uint64_t acked_at;
} s_proposal_t;

typedef struct {
    uint64_t context;
    uint64_t node;
    uint64_t min_index;                 //  index of every write acked before it
    bool served;
} s_read_t;

//  A configuration as the simulator computes it from the committed log:
//  sets of ids as bit masks
typedef struct {
    uint32_t voters;
    uint32_t outgoing;                  //  joint: the voters before the change
    uint32_t learners;
} s_conf_t;

//  The configuration in effect once the entry at index is applied
typedef struct {
    uint64_t index;
    s_conf_t conf;
    uint32_t ever;                      //  members of it or of one before
} s_conf_point_t;

typedef struct {
    uint64_t seed;
    uint64_t rng;
    bool verbose;
    bool messages;                      //  verbose, every message too
    bool failed;
    char failure [512];
    uint64_t now;
    size_t count;                       //  nodes
    size_t initial;                     //  voters at the start: ids 1..initial
    rc_node_t *nodes [MAX_NODES];
    bool down [MAX_NODES + 1];
    uint64_t next_tick [MAX_NODES + 1];
    int tick_period [MAX_NODES + 1];    //  clock skew: units per tick
    bool cut [MAX_NODES + 1][MAX_NODES + 1];
    //  The mix this seed drew (per mille)
    int drop, duplicate, max_delay, crash, lossy, partition, propose, read, transfer,
        compact, heal, churn;
    //  Messages in flight
    s_flight_t *flights;
    size_t flight_count;
    size_t flight_room;
    //  Ghost state
    uint64_t *leader_of_term;           //  index: term
    size_t term_room;
    uint64_t (*committed) [2];          //  index -> (term, value + 1), 0 when unknown
    size_t committed_room;
    uint64_t *votes [MAX_NODES + 1];    //  per node: term -> candidate voted for
    size_t vote_room [MAX_NODES + 1];
    s_proposal_t *proposals;
    size_t proposal_count;
    size_t proposal_room;
    s_read_t *reads;
    size_t read_count;
    size_t read_room;
    uint64_t next_value;
    uint64_t max_acked_index;
    uint64_t last_commit [MAX_NODES + 1];   //  per core lifetime
    int last_role [MAX_NODES + 1];          //  for traces
    uint64_t lead_term [MAX_NODES + 1];     //  I2: term it leads in, and
    uint64_t lead_last [MAX_NODES + 1];     //  its last index seen then
    uint64_t lead_last_term [MAX_NODES + 1];
    uint64_t last_term [MAX_NODES + 1];
    uint64_t applied_total;
    //  Ghost configurations: what the committed log says, in log order
    s_conf_point_t *confs;
    size_t conf_count;
    size_t conf_room;
    uint64_t top;                       //  highest index applied anywhere
    bool retired [MAX_NODES + 1];       //  removal taken: never added again
    uint64_t quorum_commit [MAX_NODES + 1]; //  I6: commit index judged last
    uint64_t elected_term [MAX_NODES + 1];  //  I16: election judged last
    uint64_t i10_term [MAX_NODES + 1];      //  I10: entries of this term
    uint64_t i10_upto [MAX_NODES + 1];      //  judged up to here
    uint64_t changes_proposed;
    uint64_t changes_applied;           //  configuration entries committed
} s_world_t;

static void
s_fail (s_world_t *world, const char *format, ...)
{
    if (world->failed)
        return;
    world->failed = true;
    va_list args;
    va_start (args, format);
    vsnprintf (world->failure, sizeof world->failure, format, args);
    va_end (args);
}

static void
s_trace (s_world_t *world, const char *format, ...)
{
    if (!world->verbose)
        return;
    printf ("%8" PRIu64 " ", world->now);
    va_list args;
    va_start (args, format);
    vprintf (format, args);
    va_end (args);
    printf ("\n");
}

static bool
s_chance (s_world_t *world, int per_mille)
{
    return (int) (s_next (&world->rng) % 1000) < per_mille;
}

static uint64_t
s_pick (s_world_t *world, uint64_t n)
{
    return s_next (&world->rng) % n;
}

//  zkv_grow, with the new room zeroed: votes, terms and commits are
//  looked up by index
static void *
s_grow (void *array, size_t *room, size_t need, size_t item)
{
    size_t old = *room;
    if (zkv_grow (&array, room, need, item))
        abort ();
    memset ((char *) array + old * item, 0, (*room - old) * item);
    return array;
}

//  ---------------------------------------------------------------------
//  Ghost configurations

static uint32_t
s_bit (uint64_t id)
{
    return id >= 1 && id <= MAX_NODES? 1u << id: 0;
}

static int
s_popcount (uint32_t mask)
{
    int count = 0;
    for (; mask; mask &= mask - 1)
        count++;
    return count;
}

//  The configuration after a configuration entry's changes, by the rules
//  of zkv_rc.h written again here (the ghost does not run the core's
//  code): false for an entry that changes nothing, as every member skips
//  one that makes no valid configuration
static bool
s_conf_next (const s_conf_t *conf, const zkv_rc_change_t *changes, size_t count,
             s_conf_t *next)
{
    *next = *conf;
    if (count == 0) {
        next->outgoing = 0;             //  leaves a joint configuration
        return true;
    }
    if (conf->outgoing)
        return false;                   //  nothing else while joint
    uint32_t seen = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t bit = s_bit (changes [i].id);
        if (!bit || (seen & bit))
            return false;
        seen |= bit;
        switch (changes [i].kind) {
            case ZKV_RC_ADD_VOTER:
                if (next->voters & bit)
                    return false;
                next->learners &= ~bit;
                next->voters |= bit;
                break;
            case ZKV_RC_ADD_LEARNER:
                if ((next->voters | next->learners) & bit)
                    return false;
                next->learners |= bit;
                break;
            case ZKV_RC_REMOVE:
                if (!((next->voters | next->learners) & bit))
                    return false;
                next->voters &= ~bit;
                next->learners &= ~bit;
                break;
            default:
                return false;
        }
    }
    if (!next->voters)
        return false;
    //  More than one voter changed at once: joint, the old voters outgoing
    if (count > 1 || s_popcount (next->voters ^ conf->voters) > 1)
        next->outgoing = conf->voters;
    return true;
}

//  The configuration in effect on a member that applied up to index
static const s_conf_t *
s_conf_at (s_world_t *world, uint64_t index)
{
    size_t i = world->conf_count;
    while (i > 1 && world->confs [i - 1].index > index)
        i--;
    return &world->confs [i - 1].conf;
}

static const s_conf_t *
s_conf_last (s_world_t *world)
{
    return &world->confs [world->conf_count - 1].conf;
}

//  A majority of voters holds it, and a majority of outgoing when joint
static bool
s_quorum (const s_conf_t *conf, uint32_t holders)
{
    if (!conf->voters || 2 * s_popcount (conf->voters & holders) <= s_popcount (conf->voters))
        return false;
    return !conf->outgoing
        || 2 * s_popcount (conf->outgoing & holders) > s_popcount (conf->outgoing);
}

//  Whether holders are a quorum of a configuration that was in effect on
//  a member while its applied index went from lo to hi (an observer sees
//  the core between readies, and a ready may apply several changes)
static bool
s_quorum_between (s_world_t *world, uint64_t lo, uint64_t hi, uint32_t holders)
{
    if (s_quorum (s_conf_at (world, lo), holders))
        return true;
    for (size_t i = 0; i < world->conf_count; i++)
        if (world->confs [i].index > lo && world->confs [i].index <= hi
        &&  s_quorum (&world->confs [i].conf, holders))
            return true;
    return false;
}

//  The members that hold the entry at (index, term) durably
static uint32_t
s_holders (s_world_t *world, uint64_t index, uint64_t term)
{
    uint32_t holders = 0;
    for (size_t m = 0; m < world->count; m++) {
        rc_node_t *other = world->nodes [m];
        const rc_node_entry_t *copy = rc_node_entry (other, index);
        if (other->snapshot_index >= index || (copy && copy->term == term))
            holders |= s_bit (other->id);
    }
    return holders;
}

//  An entry applied for the first time anywhere: entries are, in log
//  order (a member applies what it or its snapshot's source applied
//  before), so a configuration entry makes the next configuration
static void
s_ghost_commit (s_world_t *world, const zkv_entry_t *entry)
{
    if (entry->index != world->top + 1) {
        s_fail (world, "simulator: %" PRIu64 " applied first after %" PRIu64, entry->index,
                world->top);
        return;
    }
    world->top = entry->index;
    zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
    size_t count;
    zkv_bin_t context;
    s_conf_t next;
    if (entry->type != ZKV_RC_ENTRY_CONF
    ||  !zkv_rc_conf_change_decode (entry->data, changes, &count, &context)
    ||  !s_conf_next (s_conf_last (world), changes, count, &next))
        return;
    world->confs = s_grow (world->confs, &world->conf_room, world->conf_count + 1,
                           sizeof (s_conf_point_t));
    world->confs [world->conf_count].index = entry->index;
    world->confs [world->conf_count].conf = next;
    world->confs [world->conf_count].ever = world->confs [world->conf_count - 1].ever
                                          | next.voters | next.outgoing | next.learners;
    world->conf_count++;
    //  Removed members keep running (they may not know), but are never
    //  added again: the simulator proposes no such change, and drops a late
    //  forwarded one (s_adds_removed)
    const s_conf_point_t *before = &world->confs [world->conf_count - 2];
    uint32_t members = next.voters | next.outgoing | next.learners;
    uint32_t again = members & before->ever
                   & ~(before->conf.voters | before->conf.outgoing | before->conf.learners);
    if (again)
        s_fail (world, "simulator: removed members %x added again at %" PRIu64, again,
                entry->index);
    world->changes_applied++;
    s_trace (world, "configuration at %" PRIu64 ": voters %x outgoing %x learners %x",
             entry->index, next.voters, next.outgoing, next.learners);
}

//  ---------------------------------------------------------------------
//  Network

static void
s_enqueue (s_world_t *world, const zkv_raft_message_t *message)
{
    world->flights = s_grow (world->flights, &world->flight_room, world->flight_count + 1,
                             sizeof (s_flight_t));
    s_flight_t *flight = &world->flights [world->flight_count++];
    flight->at = world->now + 1 + s_pick (world, (uint64_t) world->max_delay);
    rc_message_copy (&flight->message, message);
}

static uint64_t *
s_vote_slot (s_world_t *world, uint64_t node, uint64_t term)
{
    world->votes [node] = s_grow (world->votes [node], &world->vote_room [node], term + 1,
                                  sizeof (uint64_t));
    return &world->votes [node][term];
}

//  I7: one vote per term per member, whatever its restarts
static void
s_record_vote (s_world_t *world, uint64_t node, uint64_t term, uint64_t candidate)
{
    uint64_t *slot = s_vote_slot (world, node, term);
    if (*slot && *slot != candidate)
        s_fail (world, "I7 node %" PRIu64 " voted for %" PRIu64 " and %" PRIu64
                " in term %" PRIu64, node, *slot, candidate, term);
    *slot = candidate;
}

static void
s_send (void *arg, rc_node_t *from, const zkv_raft_message_t *message)
{
    s_world_t *world = (s_world_t *) arg;
    if (world->messages)
        s_trace (world, "%" PRIu64 " -> %" PRIu64 " %s term %" PRIu64 " index %" PRIu64
                 " log_term %" PRIu64 " entries %zu commit %" PRIu64 "%s", message->from,
                 message->to, zkv_rc_msg_name (message->type), message->term, message->index,
                 message->log_term, message->entries.count, message->commit,
                 message->reject? " reject": "");
    if (message->type == ZKV_RC_MSG_VOTE_RESP && !message->reject)
        s_record_vote (world, from->id, message->term, message->to);
    if (s_chance (world, world->drop))
        return;
    s_enqueue (world, message);
    //  Raft tolerates duplicates of its own messages; a forwarded proposal
    //  duplicated would be a second write, which the TCP transport never
    //  produces (it does not resend), so those are not duplicated
    if (message->type != ZKV_RC_MSG_PROP && s_chance (world, world->duplicate))
        s_enqueue (world, message);
}

//  ---------------------------------------------------------------------
//  Applying and reading

static uint64_t
s_value_of (const zkv_entry_t *entry)
{
    if (entry->data.size != 8)
        return 0;
    uint64_t value;
    memcpy (&value, entry->data.data, 8);
    return value;
}

static void
s_apply (void *arg, rc_node_t *node, const zkv_entry_t *entry)
{
    s_world_t *world = (s_world_t *) arg;
    world->committed = s_grow (world->committed, &world->committed_room, entry->index + 1,
                               sizeof world->committed [0]);
    uint64_t value = s_value_of (entry);
    uint64_t *slot = world->committed [entry->index];
    //  I5: every member applies the same entry at an index
    if (slot [0] && (slot [0] != entry->term || slot [1] != value + 1))
        s_fail (world, "I5 node %" PRIu64 " applied (term %" PRIu64 ", value %" PRIu64
                ") at %" PRIu64 " where another applied (term %" PRIu64 ", value %" PRIu64 ")",
                node->id, entry->term, value, entry->index, slot [0], slot [1] - 1);
    bool first = slot [0] == 0;
    slot [0] = entry->term;
    slot [1] = value + 1;
    if (first)
        s_ghost_commit (world, entry);
    world->applied_total++;
    //  I6: an entry is applied only once it is durable on a quorum of a
    //  configuration in effect before it (the one its leader committed it
    //  by; the exact one is judged when the leader commits)
    uint32_t holders = s_holders (world, entry->index, entry->term);
    if (!s_quorum_between (world, 0, entry->index - 1, holders))
        s_fail (world, "I6 node %" PRIu64 " applied %" PRIu64 " (term %" PRIu64
                ") durable on members %x only", node->id, entry->index, entry->term, holders);
    if (value && value <= world->proposal_count) {
        s_proposal_t *proposal = &world->proposals [value - 1];
        if (proposal->index && proposal->index != entry->index)
            s_fail (world, "value %" PRIu64 " applied at %" PRIu64 " and at %" PRIu64, value,
                    proposal->index, entry->index);
        proposal->index = entry->index;
        if (node->id == proposal->origin && !proposal->acked) {
            proposal->acked = true;
            proposal->acked_at = world->now;
            if (entry->index > world->max_acked_index)
                world->max_acked_index = entry->index;
        }
    }
}

static void
s_read (void *arg, rc_node_t *node, const zkv_rc_read_t *read)
{
    s_world_t *world = (s_world_t *) arg;
    for (size_t i = 0; i < world->read_count; i++) {
        s_read_t *pending = &world->reads [i];
        if (pending->context != read->context || pending->node != node->id || pending->served)
            continue;
        pending->served = true;
        //  I14: a read sees every write acknowledged before it started
        if (read->index < pending->min_index)
            s_fail (world, "I14 read %" PRIu64 " on node %" PRIu64 " got index %" PRIu64
                    " but a write at %" PRIu64 " was acknowledged before it",
                    read->context, node->id, read->index, pending->min_index);
        if (node->applied < read->index && read->index > 0) {
            //  served once applied: the harness applies in the same ready
        }
    }
}

static void
s_snapshot (void *arg, rc_node_t *from, uint64_t to)
{
    s_world_t *world = (s_world_t *) arg;
    rc_node_t *target = world->nodes [to - 1];
    uint64_t index = from->applied;
    uint64_t term = zkv_rc_term_at (from->core, index);
    bool delivered = !world->down [to] && !world->cut [from->id][to]
                  && !s_chance (world, world->drop) && term;
    s_trace (world, "snapshot %" PRIu64 " -> %" PRIu64 " at %" PRIu64 " %s", from->id, to,
             index, delivered? "installed": "lost");
    if (delivered) {
        rc_node_install_snapshot (target, index, term, &from->conf);
        target->applied = index > target->applied? index: target->applied;
    }
    zkv_rc_report_snapshot (from->core, to, delivered);
}

//  A forwarded proposal the leader refused (traced: a change while another
//  is pending, a proposal while leadership moves)
static void
s_dropped (void *arg, rc_node_t *node, const zkv_rc_dropped_t *dropped)
{
    s_world_t *world = (s_world_t *) arg;
    s_trace (world, "node %" PRIu64 ": forwarded proposal refused: %d", node->id, dropped->why);
}

//  ---------------------------------------------------------------------
//  Invariants

//  What a core decided since it was last looked at, judged by the
//  configurations in effect on it meanwhile (its applied index went from
//  lo to hi), computed from the committed log:
//  I16: a leader won its term with the durable votes of a quorum;
//  I6: what a leader commits is durable on a quorum;
//  I17: and of its own term (earlier ones only with it: Raft 5.4.2)
static void
s_judge (s_world_t *world, rc_node_t *node, uint64_t lo, uint64_t hi)
{
    zkv_rc_t *core = node->core;
    uint64_t id = node->id;
    uint64_t term = zkv_rc_term (core);
    uint64_t commit = zkv_rc_committed (core);
    if (zkv_rc_role (core) == ZKV_RC_LEADER) {
        if (world->elected_term [id] != term) {
            world->elected_term [id] = term;
            uint32_t granted = 0;
            for (uint64_t m = 1; m <= world->count; m++)
                if (term < world->vote_room [m] && world->votes [m][term] == id)
                    granted |= s_bit (m);
            if (!s_quorum_between (world, lo, hi, granted))
                s_fail (world, "I16 node %" PRIu64 " leads term %" PRIu64 " with the votes of "
                        "%x only, not a quorum of its configuration (voters %x outgoing %x)",
                        id, term, granted, s_conf_at (world, lo)->voters,
                        s_conf_at (world, lo)->outgoing);
        }
        uint64_t commit_term = zkv_rc_term_at (core, commit);
        if (commit > world->quorum_commit [id] && commit_term) {
            if (commit_term != term)
                s_fail (world, "I17 leader %" PRIu64 " of term %" PRIu64 " committed %" PRIu64
                        ", of term %" PRIu64, id, term, commit, commit_term);
            uint32_t holders = s_holders (world, commit, commit_term);
            if (!s_quorum_between (world, lo, hi, holders))
                s_fail (world, "I6 leader %" PRIu64 " committed %" PRIu64 " (term %" PRIu64
                        ") durable on %x only, not a quorum of its configuration (voters %x "
                        "outgoing %x)", id, commit, commit_term, holders,
                        s_conf_at (world, lo)->voters, s_conf_at (world, lo)->outgoing);
        }
    }
    world->quorum_commit [id] = commit;
}

//  After each ready: the vote it made durable, then what the core decided
static void
s_advanced (void *arg, rc_node_t *node, uint64_t applied_before)
{
    s_world_t *world = (s_world_t *) arg;
    if (node->hard_state.vote)
        s_record_vote (world, node->id, node->hard_state.term, node->hard_state.vote);
    s_judge (world, node, applied_before, node->applied);
}

//  I10: a leader appends a change only once every change before it in its
//  log is applied, and never while joint (but the entry that leaves).
//  Changes are appended by a proposal or a forwarded one, before the
//  readies that follow: `applied` is what the leader had applied then.
static void
s_check_changes (s_world_t *world, rc_node_t *node, uint64_t applied)
{
    uint64_t id = node->id;
    if (!node->core || zkv_rc_role (node->core) != ZKV_RC_LEADER || !node->log_count)
        return;
    uint64_t term = zkv_rc_term (node->core);
    if (world->i10_term [id] != term) {
        world->i10_term [id] = term;
        world->i10_upto [id] = 0;
    }
    uint64_t last = node->log [node->log_count - 1].index;
    uint64_t from = world->i10_upto [id] + 1;
    if (from < node->log [0].index)
        from = node->log [0].index;
    world->i10_upto [id] = last;
    for (uint64_t index = from; index <= last; index++) {
        const rc_node_entry_t *entry = rc_node_entry (node, index);
        zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
        size_t count;
        zkv_bin_t context;
        if (entry->term != term || entry->type != ZKV_RC_ENTRY_CONF
        ||  !zkv_rc_conf_change_decode (zkv_bin (entry->data, entry->size), changes, &count,
                                        &context))
            continue;
        //  The leave is appended in an advance, after what it applied
        uint64_t bound = count? applied: node->applied;
        for (uint64_t before = index - 1; before > bound; before--) {
            const rc_node_entry_t *earlier = rc_node_entry (node, before);
            if (earlier && earlier->type == ZKV_RC_ENTRY_CONF)
                s_fail (world, "I10 leader %" PRIu64 " of term %" PRIu64 " appended a change at "
                        "%" PRIu64 " with the change at %" PRIu64 " not applied (applied %"
                        PRIu64 ")", id, term, index, before, bound);
        }
        if (count && s_conf_at (world, applied)->outgoing)
            s_fail (world, "I10 leader %" PRIu64 " of term %" PRIu64 " appended a change at "
                    "%" PRIu64 " while joint", id, term, index);
    }
}

static void
s_check (s_world_t *world)
{
    for (size_t n = 0; n < world->count; n++) {
        rc_node_t *node = world->nodes [n];
        if (!node->core)
            continue;
        zkv_rc_t *core = node->core;
        uint64_t term = zkv_rc_term (core);
        zkv_rc_role_t role = zkv_rc_role (core);
        if (role == ZKV_RC_CANDIDATE)
            s_record_vote (world, node->id, term, node->id);
        if ((int) role != world->last_role [node->id] || term != world->last_term [node->id]) {
            s_trace (world, "node %" PRIu64 " is %s in term %" PRIu64 " (last %" PRIu64
                     "/%" PRIu64 ", commit %" PRIu64 ")", node->id, zkv_rc_role_name (role), term,
                     zkv_rc_last_index (core), zkv_rc_term_at (core, zkv_rc_last_index (core)),
                     zkv_rc_committed (core));
            world->last_role [node->id] = (int) role;
            world->last_term [node->id] = term;
        }
        if (role == ZKV_RC_LEADER) {
            //  I1: one leader per term, ever
            world->leader_of_term = s_grow (world->leader_of_term, &world->term_room, term + 1,
                                            sizeof (uint64_t));
            uint64_t *slot = &world->leader_of_term [term];
            if (*slot == 0) {
                *slot = node->id;
                //  I4: a new leader holds every committed entry
                for (uint64_t i = zkv_rc_first_index (core);
                     i < world->committed_room && world->committed [i][0]; i++)
                    if (zkv_rc_term_at (core, i) != world->committed [i][0])
                        s_fail (world, "I4 leader %" PRIu64 " of term %" PRIu64
                                " lacks the entry committed at %" PRIu64, node->id, term, i);
            }
            else
            if (*slot != node->id)
                s_fail (world, "I1 two leaders in term %" PRIu64 ": %" PRIu64 " and %" PRIu64,
                        term, *slot, node->id);
            //  I2: a leader never takes back an entry of its log
            uint64_t last = zkv_rc_last_index (core);
            if (world->lead_term [node->id] == term) {
                uint64_t seen = world->lead_last [node->id];
                if (last < seen || zkv_rc_term_at (core, seen) != world->lead_last_term [node->id])
                    s_fail (world, "I2 leader %" PRIu64 " of term %" PRIu64 " changed its entry %"
                            PRIu64, node->id, term, seen);
            }
            world->lead_term [node->id] = term;
            world->lead_last [node->id] = last;
            world->lead_last_term [node->id] = zkv_rc_term_at (core, last);
        }
        //  I8: commit never goes back within a core's life
        uint64_t commit = zkv_rc_committed (core);
        if (commit < world->last_commit [node->id])
            s_fail (world, "I8 node %" PRIu64 " commit went back from %" PRIu64 " to %" PRIu64,
                    node->id, world->last_commit [node->id], commit);
        world->last_commit [node->id] = commit;
    }
}

//  ---------------------------------------------------------------------
//  Events

static void
s_process (s_world_t *world, rc_node_t *node)
{
    if (!node->core)
        return;
    //  What the step or proposal before this decided, by the configuration
    //  the core had then (what readies decide: s_advanced)
    s_judge (world, node, node->applied, node->applied);
    if (s_chance (world, world->lossy)) {
        //  Dies in the middle of a ready: its messages left, its write did not
        s_trace (world, "node %" PRIu64 " crashes mid-write", node->id);
        rc_node_process_and_crash (node);
        world->down [node->id] = true;
        return;
    }
    uint64_t applied = node->applied;
    rc_node_process (node);
    s_check_changes (world, node, applied);
    s_check (world);
}

static void
s_propose (s_world_t *world, rc_node_t *node)
{
    world->proposals = s_grow (world->proposals, &world->proposal_room,
                               world->proposal_count + 1, sizeof (s_proposal_t));
    uint64_t value = ++world->next_value;
    zkv_bin_t data = zkv_bin (&value, 8);
    zkv_rc_status_t status = zkv_rc_propose (node->core, &data, 1);
    s_proposal_t *proposal = &world->proposals [world->proposal_count++];
    memset (proposal, 0, sizeof *proposal);
    proposal->value = value;
    proposal->origin = node->id;
    if (status != ZKV_RC_OK)
        proposal->origin = 0;           //  refused at once: never applied
    s_trace (world, "propose %" PRIu64 " on %" PRIu64 ": %d", value, node->id, status);
}

static void
s_read_request (s_world_t *world, rc_node_t *node)
{
    world->reads = s_grow (world->reads, &world->read_room, world->read_count + 1,
                           sizeof (s_read_t));
    s_read_t *read = &world->reads [world->read_count++];
    read->context = s_next (&world->rng) | 1;
    read->node = node->id;
    read->min_index = world->max_acked_index;
    read->served = false;
    zkv_rc_read_index (node->core, read->context);
}

//  A random id of a set (0 if empty)
static uint64_t
s_pick_in (s_world_t *world, uint32_t set)
{
    int count = s_popcount (set);
    if (count == 0)
        return 0;
    int skip = (int) s_pick (world, (uint64_t) count);
    for (uint64_t id = 1; id <= MAX_NODES; id++)
        if ((set & s_bit (id)) && skip-- == 0)
            return id;
    return 0;
}

//  A membership change, drawn from the last configuration committed and
//  proposed at once on a member (mostly) or any node, whatever is
//  pending: the core refuses what it must. An id whose removal was taken
//  is never added again (etcd's ids are never reused); a voter stays.
static void
s_churn (s_world_t *world)
{
    const s_conf_t *conf = s_conf_last (world);
    uint32_t members = conf->voters | conf->outgoing | conf->learners;
    uint64_t on = s_chance (world, 800)? s_pick_in (world, members): 0;
    rc_node_t *node = world->nodes [(on? on: 1 + s_pick (world, world->count)) - 1];
    if (!node->core)
        return;
    uint32_t all = 0;
    for (uint64_t id = 1; id <= world->count; id++)
        if (!world->retired [id])
            all |= s_bit (id);
    uint32_t fresh = all & ~(conf->voters | conf->outgoing | conf->learners);
    uint32_t learners = conf->learners & all;
    zkv_rc_change_t changes [2] = { { ZKV_RC_ADD_VOTER, 0 }, { ZKV_RC_ADD_VOTER, 0 } };
    size_t count = 0;
    const char *what = "";
    switch (s_pick (world, 6)) {
        case 0:
            what = "add learner";
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_ADD_LEARNER, s_pick_in (world, fresh) };
            break;
        case 1:
            what = "promote";
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_ADD_VOTER,
                                                    s_pick_in (world, learners) };
            break;
        case 2:
            what = "add voter";
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_ADD_VOTER, s_pick_in (world, fresh) };
            break;
        case 3:
            what = "remove voter";
            if (s_popcount (conf->voters) > 1)
                changes [count++] = (zkv_rc_change_t) { ZKV_RC_REMOVE,
                                                        s_pick_in (world, conf->voters) };
            break;
        case 4:
            what = "remove learner";
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_REMOVE,
                                                    s_pick_in (world, conf->learners) };
            break;
        default:
            //  Promote a learner (or add a newcomer) and remove a voter in
            //  one change: a joint configuration
            what = "replace";
            uint64_t in = s_pick_in (world, learners? learners: fresh);
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_ADD_VOTER, in };
            changes [count++] = (zkv_rc_change_t) { ZKV_RC_REMOVE,
                                                    s_pick_in (world, conf->voters & ~s_bit (in)) };
            break;
    }
    for (size_t i = 0; i < count; i++)
        if (changes [i].id == 0)
            return;                     //  no one to do this one on
    if (count == 0)
        return;
    zkv_rc_status_t status = zkv_rc_propose_conf (node->core, changes, count, zkv_bin (NULL, 0));
    world->changes_proposed++;
    for (size_t i = 0; i < count && status == ZKV_RC_OK; i++)
        if (changes [i].kind == ZKV_RC_REMOVE)
            world->retired [changes [i].id] = true;
    if (count > 1)
        s_trace (world, "%s: %" PRIu64 " for %" PRIu64 " on %" PRIu64 ": %d", what,
                 changes [1].id, changes [0].id, node->id, status);
    else
        s_trace (world, "%s %" PRIu64 " on %" PRIu64 ": %d", what, changes [0].id, node->id,
                 status);
    s_process (world, node);
}

static void
s_restart (s_world_t *world, uint64_t id)
{
    rc_node_t *node = world->nodes [id - 1];
    rc_node_restart (node, s_next (&world->rng));
    world->down [id] = false;
    world->last_commit [id] = 0;
    world->next_tick [id] = world->now + 1;
    s_trace (world, "node %" PRIu64 " restarts (term %" PRIu64 ")", id, zkv_rc_term (node->core));
}

//  A forwarded change that adds a member whose removal was taken: the
//  leader's application refuses it (as etcd refuses removed ids), so a
//  late one cannot bring back a removed member
static bool
s_adds_removed (s_world_t *world, const zkv_raft_message_t *message)
{
    for (size_t i = 0; message->type == ZKV_RC_MSG_PROP && i < message->entries.count; i++) {
        zkv_rc_change_t changes [ZKV_RC_MAX_CHANGES];
        size_t count;
        zkv_bin_t context;
        if (message->entries.items [i].type != ZKV_RC_ENTRY_CONF
        ||  !zkv_rc_conf_change_decode (message->entries.items [i].data, changes, &count,
                                        &context))
            continue;
        for (size_t c = 0; c < count; c++)
            if (changes [c].kind != ZKV_RC_REMOVE && changes [c].id <= MAX_NODES
            &&  world->retired [changes [c].id])
                return true;
    }
    return false;
}

static void
s_partition (s_world_t *world)
{
    memset (world->cut, 0, sizeof world->cut);
    uint64_t kind = s_pick (world, 4);
    if (kind == 0) {                    //  isolate one member
        uint64_t lone = 1 + s_pick (world, world->count);
        for (uint64_t other = 1; other <= world->count; other++)
            if (other != lone)
                world->cut [lone][other] = world->cut [other][lone] = true;
        s_trace (world, "isolate %" PRIu64, lone);
    }
    else
    if (kind == 1) {                    //  two groups
        bool side [MAX_NODES + 1];
        for (uint64_t id = 1; id <= world->count; id++)
            side [id] = s_pick (world, 2);
        for (uint64_t a = 1; a <= world->count; a++)
            for (uint64_t b = 1; b <= world->count; b++)
                if (side [a] != side [b])
                    world->cut [a][b] = true;
        s_trace (world, "partition in two");
    }
    else
    if (kind == 2) {                    //  one-way links
        for (int i = 0; i < 3; i++) {
            uint64_t a = 1 + s_pick (world, world->count);
            uint64_t b = 1 + s_pick (world, world->count);
            if (a != b)
                world->cut [a][b] = true;
        }
        s_trace (world, "one-way cuts");
    }
    else {                              //  a bridge: all but one link between two
        for (uint64_t a = 1; a <= world->count; a++)
            for (uint64_t b = 1; b <= world->count; b++)
                if (a != b && s_chance (world, 400))
                    world->cut [a][b] = true;
        s_trace (world, "partial partition");
    }
}

//  Delivers the messages due now, in a random order
static void
s_deliver (s_world_t *world)
{
    for (size_t i = 0; i < world->flight_count; ) {
        size_t pick = i + s_pick (world, world->flight_count - i);
        s_flight_t tmp = world->flights [i];
        world->flights [i] = world->flights [pick];
        world->flights [pick] = tmp;
        s_flight_t *flight = &world->flights [i];
        if (flight->at > world->now) {
            i++;
            continue;
        }
        zkv_raft_message_t message = flight->message;
        world->flights [i] = world->flights [--world->flight_count];
        uint64_t to = message.to;
        if (to >= 1 && to <= world->count && !world->down [to]
        &&  !world->cut [message.from][to] && !s_adds_removed (world, &message)) {
            rc_node_t *node = world->nodes [to - 1];
            zkv_rc_step (node->core, &message);
            s_process (world, node);
        }
        rc_message_free (&message);
    }
}

static void
s_step (s_world_t *world, bool chaos)
{
    world->now++;
    //  Ticks, each node at its own pace
    for (uint64_t id = 1; id <= world->count; id++) {
        rc_node_t *node = world->nodes [id - 1];
        if (world->down [id] || world->now < world->next_tick [id])
            continue;
        world->next_tick [id] = world->now + (uint64_t) world->tick_period [id];
        zkv_rc_tick (node->core);
        s_process (world, node);
    }
    s_deliver (world);
    rc_node_t *node = world->nodes [s_pick (world, world->count)];
    bool live = !world->down [node->id] && node->core;
    if (live && s_chance (world, world->propose))
        s_propose (world, node);
    if (live && s_chance (world, world->read))
        s_read_request (world, node);
    if (live && s_chance (world, world->transfer)) {
        uint64_t target = 1 + s_pick (world, world->count);
        s_trace (world, "transfer on %" PRIu64 " to %" PRIu64, node->id, target);
        zkv_rc_transfer (node->core, target);
    }
    if (live && s_chance (world, world->compact) && node->applied > 3) {
        uint64_t keep = s_pick (world, 8);
        uint64_t to = node->applied > keep? node->applied - keep: 0;
        if (to > node->snapshot_index)
            rc_node_compact (node, to);
    }
    if (live)
        s_process (world, node);
    if (s_chance (world, world->churn)) {
        s_churn (world);
        if (s_chance (world, 300))
            s_churn (world);            //  and another one at once
    }
    if (chaos) {
        if (s_chance (world, world->crash)) {
            uint64_t id = 1 + s_pick (world, world->count);
            if (!world->down [id]) {
                s_trace (world, "node %" PRIu64 " crashes", id);
                rc_node_crash (world->nodes [id - 1]);
                world->down [id] = true;
            }
        }
        for (uint64_t id = 1; id <= world->count; id++)
            if (world->down [id] && s_chance (world, 20))
                s_restart (world, id);
        if (s_chance (world, world->partition))
            s_partition (world);
        if (s_chance (world, world->heal)) {
            memset (world->cut, 0, sizeof world->cut);
            s_trace (world, "heal");
        }
    }
}

//  ---------------------------------------------------------------------
//  One seed

static void
s_world_init (s_world_t *world, uint64_t seed, bool verbose)
{
    memset (world, 0, sizeof *world);
    world->seed = seed;
    world->rng = seed * 0x2545F4914F6CDD1DULL + 1;
    world->verbose = verbose;
    world->messages = verbose && getenv ("ZKV_SIM_MESSAGES");
    world->initial = s_chance (world, 700)? 3: 5;
    world->count = world->initial;
    //  Swarm testing: this seed's own mix of faults
    world->drop = (int) s_pick (world, 150);
    world->duplicate = (int) s_pick (world, 80);
    world->max_delay = 1 + (int) s_pick (world, s_chance (world, 200)? 300: 40);
    world->crash = (int) s_pick (world, 12);
    world->lossy = (int) s_pick (world, 20);
    world->partition = (int) s_pick (world, 15);
    world->heal = (int) s_pick (world, 30) + 5;
    world->propose = 100 + (int) s_pick (world, 500);
    world->read = (int) s_pick (world, 200);
    world->transfer = (int) s_pick (world, 12);
    world->compact = (int) s_pick (world, 30);
    //  Membership changes in most seeds, with members-to-be up to MAX_NODES
    world->churn = s_chance (world, 300)? 0: 1 + (int) s_pick (world, 25);
    if (world->churn)
        world->count = MAX_NODES;
    world->confs = s_grow (NULL, &world->conf_room, 1, sizeof (s_conf_point_t));
    world->conf_count = 1;
    for (uint64_t id = 1; id <= world->initial; id++)
        world->confs [0].conf.voters |= s_bit (id);
    world->confs [0].ever = world->confs [0].conf.voters;
    uint64_t voters [MAX_NODES];
    for (size_t i = 0; i < world->initial; i++)
        voters [i] = i + 1;
    zkv_rc_config_t config = {
        .election_ticks = 10, .heartbeat_ticks = 1,
        //  Membership changes need PreVote (zkv-node always has it): without
        //  it, a removed member that missed its removal raises the terms of
        //  the members that missed it too, for ever (Raft thesis 4.2.3)
        .pre_vote = s_chance (world, 800) || world->churn,
        .check_quorum = s_chance (world, 800),
        //  Small appends split a follower's catch-up in many messages
        .max_msg_bytes = s_chance (world, 500)? 8 * (1 + s_pick (world, 3))
                                              : 64 + s_pick (world, 256),
        .max_inflight = 1 + s_pick (world, 16),
        //  Flow control: the leader refuses proposals beyond this backlog
        .max_uncommitted_bytes = 8 * 256,
    };
    s_trace (world, "%zu voters of %zu nodes, pre-vote %d, check-quorum %d, max-msg %zu, "
             "inflight %zu, drop %d, dup %d, delay %d, crash %d, lossy %d, churn %d",
             world->initial, world->count, config.pre_vote, config.check_quorum,
             config.max_msg_bytes, config.max_inflight, world->drop, world->duplicate,
             world->max_delay, world->crash, world->lossy, world->churn);
    for (size_t i = 0; i < world->count; i++) {
        config.seed = s_next (&world->rng);
        //  Members-to-be start with no configuration (voter_count 0)
        world->nodes [i] = rc_node_new (i + 1, voters, i < world->initial? world->initial: 0,
                                        &config, world, s_send, s_apply, s_read);
        world->nodes [i]->snapshot = s_snapshot;
        world->nodes [i]->advanced = s_advanced;
        world->nodes [i]->dropped = s_dropped;
        uint64_t id = i + 1;
        //  Clock skew up to +-20 %
        world->tick_period [id] = TICK - 2 + (int) s_pick (world, 5);
        world->next_tick [id] = 1 + s_pick (world, TICK);
    }
}

static void
s_world_destroy (s_world_t *world)
{
    for (size_t i = 0; i < world->count; i++)
        rc_node_destroy (&world->nodes [i]);
    for (size_t i = 0; i < world->flight_count; i++)
        rc_message_free (&world->flights [i].message);
    free (world->flights);
    free (world->leader_of_term);
    free (world->committed);
    for (size_t i = 0; i <= MAX_NODES; i++)
        free (world->votes [i]);
    free (world->proposals);
    free (world->reads);
    free (world->confs);
}

//  After the chaos: heal and restart everything, then require progress: a
//  leader, a fresh proposal applied on every member of the last
//  configuration (removed members get nothing more; members-to-be never
//  added get nothing), a configuration that is not joint, and never a
//  stall of 50 election timeouts on the way (a member far behind may take
//  long, at one small append per round trip, but must keep moving), nor
//  1000 election timeouts in all
static void
s_liveness (s_world_t *world)
{
    memset (world->cut, 0, sizeof world->cut);
    world->drop = world->duplicate = world->lossy = 0;
    world->max_delay = 3;
    for (uint64_t id = 1; id <= world->count; id++)
        if (world->down [id])
            s_restart (world, id);
    world->transfer = world->propose = world->churn = 0;
    uint64_t value = 0, proposed_at = 0;
    uint64_t progress = 0, stalled_since = world->now, healed_at = world->now;
    while (!world->failed) {
        //  A removed leader that never heard of its removal may think it
        //  still leads an old term: the leader is the one of the last term
        uint64_t leader = 0, leader_term = 0;
        for (size_t n = 0; n < world->count; n++) {
            zkv_rc_t *core = world->nodes [n]->core;
            if (zkv_rc_role (core) == ZKV_RC_LEADER && zkv_rc_term (core) >= leader_term) {
                leader = n + 1;
                leader_term = zkv_rc_term (core);
            }
        }
        const s_conf_t *conf = s_conf_last (world);
        uint32_t members = conf->voters | conf->outgoing | conf->learners;
        bool everywhere = value && world->proposals [value - 1].index;
        for (size_t n = 0; n < world->count; n++)
            if (value && (members & s_bit (n + 1)))
                everywhere &= world->nodes [n]->applied >= world->proposals [value - 1].index;
        if (everywhere && !conf->outgoing)
            return;
        if (leader && !everywhere && (!value || world->now - proposed_at > 30 * TICK)) {
            s_propose (world, world->nodes [leader - 1]);
            value = world->next_value;
            proposed_at = world->now;
        }
        //  Followers catching up grow their logs long before anything
        //  commits (an old-term backlog commits only with the leader's own
        //  entry behind it): both count as progress
        uint64_t total = leader;
        for (size_t n = 0; n < world->count; n++)
            total += world->nodes [n]->applied + zkv_rc_last_index (world->nodes [n]->core);
        if (total != progress) {
            progress = total;
            stalled_since = world->now;
        }
        if (world->now - stalled_since > 50 * TICK || world->now - healed_at > 10000 * TICK) {
            s_fail (world, "I15 no liveness: no progress for 50 election timeouts after healing, "
                    "or not done in 1000 (leader %" PRIu64 ", voters %x, outgoing %x, learners %x, "
                    "the proposal %s)", leader, conf->voters, conf->outgoing, conf->learners,
                    everywhere? "on every member": "not on every member");
            return;
        }
        s_step (world, false);
    }
}

//  I12: every acknowledged proposal is applied, at its index, everywhere
static void
s_check_acked (s_world_t *world)
{
    for (size_t i = 0; i < world->proposal_count && !world->failed; i++) {
        s_proposal_t *proposal = &world->proposals [i];
        if (!proposal->acked)
            continue;
        uint64_t *slot = world->committed [proposal->index];
        if (slot [1] != proposal->value + 1)
            s_fail (world, "I12 acknowledged value %" PRIu64 " at %" PRIu64 " was lost",
                    proposal->value, proposal->index);
    }
}

static bool
s_run (uint64_t seed, uint64_t steps, bool verbose, uint64_t *applied, uint64_t *changes,
       uint64_t *proposed)
{
    s_world_t world;
    s_world_init (&world, seed, verbose);
    for (uint64_t i = 0; i < steps && !world.failed; i++)
        s_step (&world, true);
    if (!world.failed)
        s_liveness (&world);
    if (!world.failed)
        s_check_acked (&world);
    if (world.failed)
        printf ("seed %" PRIu64 ": FAILED at time %" PRIu64 ": %s\n"
                "  replay: zkv-sim --seed %" PRIu64 " --steps %" PRIu64 " --verbose\n",
                seed, world.now, world.failure, seed, steps);
    *applied += world.applied_total;
    *changes += world.changes_applied;
    *proposed += world.changes_proposed;
    bool ok = !world.failed;
    s_world_destroy (&world);
    return ok;
}

int
main (int argc, char *argv [])
{
    uint64_t first = 1, seeds = 100, steps = 3000;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--seeds") == 0 && i + 1 < argc)
            seeds = strtoull (argv [++i], NULL, 10);
        else
        if (strcmp (argv [i], "--first") == 0 && i + 1 < argc)
            first = strtoull (argv [++i], NULL, 10);
        else
        if (strcmp (argv [i], "--seed") == 0 && i + 1 < argc) {
            first = strtoull (argv [++i], NULL, 10);
            seeds = 1;
        }
        else
        if (strcmp (argv [i], "--steps") == 0 && i + 1 < argc)
            steps = strtoull (argv [++i], NULL, 10);
        else
        if (strcmp (argv [i], "--verbose") == 0)
            verbose = true;
        else {
            fprintf (stderr, "usage: zkv-sim [--seeds N] [--first S] [--seed S] [--steps N] "
                             "[--verbose]\n");
            return 128;
        }
    }
    uint64_t applied = 0, changes = 0, proposed = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++)
        if (!s_run (seed, steps, verbose, &applied, &changes, &proposed))
            return 1;
    printf ("zkv-sim: %" PRIu64 " seeds of %" PRIu64 " steps passed (%" PRIu64
            " entries applied, %" PRIu64 " configuration changes of %" PRIu64 " proposed)\n",
            seeds, steps, applied, changes, proposed);
    return 0;
}
