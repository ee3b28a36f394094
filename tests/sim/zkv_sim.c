/*  =========================================================================
    zkv_sim.c — zkv-sim: the deterministic cluster simulator of the raft
    core (docs/RELIABILITY.md says what it checks).

    N cores on simulated disks (rc_node), wired through a simulated network,
    all driven by one seed: message drop, duplication, reordering and
    delay; symmetric, one-way and partial partitions; crashes that lose
    what was not written, in the middle of a ready too; clock skew; client
    proposals, reads and leadership transfers at random moments; log
    compaction and snapshots. Each seed draws its own mix of faults
    (swarm testing). After every step the invariants are checked; after
    the chaos everything is healed and the cluster must elect a leader and
    commit within a bound. A failure prints its seed; the seed alone
    replays it (`zkv-sim --seed S --verbose`).

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

#define MAX_NODES 5
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

typedef struct {
    uint64_t seed;
    uint64_t rng;
    bool verbose;
    bool failed;
    char failure [512];
    uint64_t now;
    size_t count;                       //  nodes
    rc_node_t *nodes [MAX_NODES];
    bool down [MAX_NODES + 1];
    uint64_t next_tick [MAX_NODES + 1];
    int tick_period [MAX_NODES + 1];    //  clock skew: units per tick
    bool cut [MAX_NODES + 1][MAX_NODES + 1];
    //  The mix this seed drew (per mille)
    int drop, duplicate, max_delay, crash, lossy, partition, propose, read, transfer,
        compact, heal;
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
    if (getenv ("ZKV_SIM_MESSAGES"))
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
    slot [0] = entry->term;
    slot [1] = value + 1;
    world->applied_total++;
    //  I6: an entry is applied only once it is durable on a quorum
    size_t durable = 0;
    for (size_t m = 0; m < world->count; m++) {
        rc_node_t *other = world->nodes [m];
        const rc_node_entry_t *copy = rc_node_entry (other, entry->index);
        if (other->snapshot_index >= entry->index || (copy && copy->term == entry->term))
            durable++;
    }
    if (durable < world->count / 2 + 1)
        s_fail (world, "I6 node %" PRIu64 " applied %" PRIu64 " (term %" PRIu64
                ") durable on %zu members only", node->id, entry->index, entry->term, durable);
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

//  ---------------------------------------------------------------------
//  Invariants

static void
s_check (s_world_t *world)
{
    size_t quorum = world->count / 2 + 1;
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
            //  I6: what the leader committed is durable on a quorum
            uint64_t commit = zkv_rc_committed (core);
            uint64_t commit_term = zkv_rc_term_at (core, commit);
            size_t durable = 0;
            for (size_t m = 0; m < world->count; m++) {
                rc_node_t *other = world->nodes [m];
                const rc_node_entry_t *entry = rc_node_entry (other, commit);
                if (other->snapshot_index >= commit
                ||  (entry && entry->term == commit_term))
                    durable++;
            }
            if (commit > 0 && commit_term && durable < quorum)
                s_fail (world, "I6 leader %" PRIu64 " committed %" PRIu64 " (term %" PRIu64
                        ") durable on %zu members only", node->id, commit, commit_term, durable);
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
    if (s_chance (world, world->lossy)) {
        //  Dies in the middle of a ready: its messages left, its write did not
        s_trace (world, "node %" PRIu64 " crashes mid-write", node->id);
        rc_node_process_and_crash (node);
        world->down [node->id] = true;
        return;
    }
    rc_node_process (node);
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
        &&  !world->cut [message.from][to]) {
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
    world->count = s_chance (world, 700)? 3: 5;
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
    uint64_t voters [MAX_NODES];
    for (size_t i = 0; i < world->count; i++)
        voters [i] = i + 1;
    zkv_rc_config_t config = {
        .election_ticks = 10, .heartbeat_ticks = 1,
        .pre_vote = s_chance (world, 800), .check_quorum = s_chance (world, 800),
        //  Small appends split a follower's catch-up in many messages
        .max_msg_bytes = s_chance (world, 500)? 8 * (1 + s_pick (world, 3))
                                              : 64 + s_pick (world, 256),
        .max_inflight = 1 + s_pick (world, 16),
        //  Flow control: the leader refuses proposals beyond this backlog
        .max_uncommitted_bytes = 8 * 256,
    };
    s_trace (world, "%zu nodes, pre-vote %d, check-quorum %d, max-msg %zu, inflight %zu, "
             "drop %d, dup %d, delay %d, crash %d, lossy %d", world->count, config.pre_vote,
             config.check_quorum, config.max_msg_bytes, config.max_inflight, world->drop,
             world->duplicate, world->max_delay, world->crash, world->lossy);
    for (size_t i = 0; i < world->count; i++) {
        config.seed = s_next (&world->rng);
        world->nodes [i] = rc_node_new (i + 1, voters, world->count, &config, world, s_send,
                                        s_apply, s_read);
        world->nodes [i]->snapshot = s_snapshot;
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
}

//  After the chaos: heal and restart everything, then require progress: a
//  leader, a fresh proposal applied everywhere, and never a stall of 50
//  election timeouts on the way (a member far behind may take long, at
//  one small append per round trip, but must keep moving)
static void
s_liveness (s_world_t *world)
{
    memset (world->cut, 0, sizeof world->cut);
    world->drop = world->duplicate = world->lossy = 0;
    world->max_delay = 3;
    for (uint64_t id = 1; id <= world->count; id++)
        if (world->down [id])
            s_restart (world, id);
    world->transfer = 0;
    world->propose = 0;
    uint64_t value = 0, proposed_at = 0;
    uint64_t progress = 0, stalled_since = world->now;
    while (!world->failed) {
        uint64_t leader = 0;
        for (size_t n = 0; n < world->count; n++)
            if (zkv_rc_role (world->nodes [n]->core) == ZKV_RC_LEADER)
                leader = n + 1;
        if (leader && (!value || world->now - proposed_at > 30 * TICK)) {
            s_propose (world, world->nodes [leader - 1]);
            value = world->next_value;
            proposed_at = world->now;
        }
        uint64_t total = leader;
        bool everywhere = value && world->proposals [value - 1].index;
        for (size_t n = 0; n < world->count; n++) {
            //  Followers catching up grow their logs long before anything
            //  commits (an old-term backlog commits only with the leader's
            //  own entry behind it): both count as progress
            total += world->nodes [n]->applied + zkv_rc_last_index (world->nodes [n]->core);
            if (value)
                everywhere &= world->nodes [n]->applied >= world->proposals [value - 1].index;
        }
        if (everywhere)
            return;
        if (total != progress) {
            progress = total;
            stalled_since = world->now;
        }
        if (world->now - stalled_since > 50 * TICK) {
            s_fail (world, "I15 no liveness: no progress for 50 election timeouts after healing "
                    "(leader %" PRIu64 ")", leader);
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
s_run (uint64_t seed, uint64_t steps, bool verbose, uint64_t *applied)
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
    uint64_t applied = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++)
        if (!s_run (seed, steps, verbose, &applied))
            return 1;
    printf ("zkv-sim: %" PRIu64 " seeds of %" PRIu64 " steps passed (%" PRIu64
            " entries applied)\n", seeds, steps, applied);
    return 0;
}
