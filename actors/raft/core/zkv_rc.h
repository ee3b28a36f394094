/*  =========================================================================
    zkv_rc.h — the Raft consensus core ("rc"): a pure state machine.

    No sockets, threads, clock, syscalls or global state: messages, ticks,
    proposals and read requests go in; a batch of work (a "ready") comes
    out, and is acknowledged once done — etcd-raft's Ready/Advance
    contract. Randomness comes from a seed given at creation. The actor
    shell (zkv_raft.c) gives it I/O; the simulator and the unit tests drive
    it directly.

    The contract with whoever drives it, for each ready, in order:
      1. send ready.messages (they need nothing from this ready's writes);
      2. persist ready.entries (replacing any stored entry at or after the
         first one's index), ready.hard_state when hard_state_changed, and
         ready.snapshot when set, with one synced write;
      3. send ready.messages_after (votes and acknowledgements: they may go
         only once step 2 is durable);
      4. apply ready.committed in order; serve ready.reads once applied;
      5. call zkv_rc_advance.
    Messages to self never appear: the core delivers them itself in
    zkv_rc_advance, after the write (so a leader counts itself toward a
    quorum only for entries that are durable, and a vote for itself only
    once it is durable). Everything a ready points to stays valid until
    zkv_rc_advance.

    Features: elections with randomized timeouts, PreVote, CheckQuorum
    with lease-based vote rejection; log replication with probe/replicate/
    snapshot progress, pipelining bounded by an in-flight window, message
    size limits, fast back-off on conflicts; commit only of current-term
    entries; ReadIndex with leader-generated, never reused read tokens;
    leadership transfer; log compaction and snapshots; membership changes
    with learners and joint consensus (zkv_rc_conf.c).
    =========================================================================
*/
#ifndef ZKV_RC_H_INCLUDED
#define ZKV_RC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkv_msgs.h"
#include "zkv_rc_state.h"

typedef struct zkv_rc_s zkv_rc_t;

typedef enum {
    ZKV_RC_FOLLOWER,
    ZKV_RC_PRE_CANDIDATE,
    ZKV_RC_CANDIDATE,
    ZKV_RC_LEADER
} zkv_rc_role_t;

//  Raft message types (raft_message.type on the wire)
typedef enum {
    ZKV_RC_MSG_APP = 1,                 //  append entries (leader -> follower)
    ZKV_RC_MSG_APP_RESP,
    ZKV_RC_MSG_VOTE,
    ZKV_RC_MSG_VOTE_RESP,
    ZKV_RC_MSG_PRE_VOTE,
    ZKV_RC_MSG_PRE_VOTE_RESP,
    ZKV_RC_MSG_HEARTBEAT,
    ZKV_RC_MSG_HEARTBEAT_RESP,
    ZKV_RC_MSG_SNAP,                    //  a snapshot was installed (index, term)
    ZKV_RC_MSG_PROP,                    //  proposals forwarded to the leader
    ZKV_RC_MSG_PROP_RESP,               //  forwarded proposals the leader refused
    ZKV_RC_MSG_READ_INDEX,              //  read index asked of the leader
    ZKV_RC_MSG_READ_INDEX_RESP,
    ZKV_RC_MSG_TRANSFER_LEADER,         //  move leadership to `from`
    ZKV_RC_MSG_TIMEOUT_NOW,             //  transferee: campaign at once
    ZKV_RC_MSG_TYPES
} zkv_rc_msg_type_t;

//  Why a proposal or a read could not be taken
typedef enum {
    ZKV_RC_OK = 0,
    ZKV_RC_NO_LEADER,                   //  no leader known: retry later
    ZKV_RC_TRANSFERRING,                //  leadership is moving: retry soon
    ZKV_RC_TOO_LARGE,                   //  more uncommitted data than allowed
    ZKV_RC_NOT_LEADER,                  //  the operation needs the leader
    ZKV_RC_CONF_PENDING,                //  a configuration change is under way
    ZKV_RC_CONF_INVALID                 //  the change makes no valid configuration
} zkv_rc_status_t;

//  Entry types (entry.type): a configuration change's entry holds the
//  changes, encoded by zkv_rc_conf_change_encode
#define ZKV_RC_ENTRY_NORMAL 0
#define ZKV_RC_ENTRY_CONF   1

//  One change of a configuration entry. Adding a voter that is a learner
//  promotes it. Changes of several members at once enter a joint
//  configuration, which the leader leaves by itself once it is applied;
//  an entry without changes leaves a joint configuration.
typedef enum {
    ZKV_RC_ADD_VOTER = 1,
    ZKV_RC_ADD_LEARNER = 2,
    ZKV_RC_REMOVE = 3
} zkv_rc_change_kind_t;

typedef struct {
    zkv_rc_change_kind_t kind;
    uint64_t id;
} zkv_rc_change_t;

#define ZKV_RC_MAX_CHANGES 8

typedef struct {
    uint64_t id;                        //  this member (never 0)
    const uint64_t *voters;             //  the voters of a new cluster (when the
    size_t voter_count;                 //  restore has no configuration)
    int election_ticks;                 //  election timeout, in ticks (>= 2); each
                                        //  election draws from [it, 1.5 it)
    int heartbeat_ticks;                //  heartbeat interval, in ticks (>= 1)
    bool pre_vote;
    bool check_quorum;
    size_t max_msg_bytes;               //  entries per append message, in bytes
    size_t max_inflight;                //  append messages in flight per follower
    size_t max_uncommitted_bytes;       //  leader's uncommitted budget (0: none)
    uint64_t seed;                      //  for the randomized election timeout
} zkv_rc_config_t;

//  Durable state to start from: what the raft log family holds
typedef struct {
    zkv_hard_state_t hard_state;
    uint64_t snapshot_index;            //  log compacted up to here
    uint64_t snapshot_term;
    const zkv_entry_t *entries;         //  snapshot_index + 1 ... in order
    size_t entry_count;
    uint64_t applied;                   //  what storage has applied already
    //  The configuration as of applied (NULL: config.voters, all voting). A
    //  member that joins an existing cluster starts with an empty one: it
    //  neither campaigns nor takes entries until a snapshot gives it one.
    const zkv_conf_state_t *conf;
} zkv_rc_restore_t;

//  A linearizable read confirmed by a quorum: serve it at index
typedef struct {
    uint64_t index;
    uint64_t context;                   //  the caller's token
} zkv_rc_read_t;

//  A proposal the leader refused after it was forwarded
typedef struct {
    zkv_bin_t data;
    zkv_rc_status_t why;
    uint64_t leader;                    //  leader hint (0: none known)
} zkv_rc_dropped_t;

typedef struct {
    //  Soft state: who leads, and this member's role (changed: new values)
    bool soft_state_changed;
    uint64_t leader;
    zkv_rc_role_t role;
    uint64_t term;
    //  To persist
    bool hard_state_changed;
    zkv_hard_state_t hard_state;
    const zkv_entry_t *entries;
    size_t entry_count;
    bool snapshot_changed;              //  a snapshot was installed: persist
    uint64_t snapshot_index;            //  its index and term, drop the log
    uint64_t snapshot_term;             //  up to it
    //  To send
    const zkv_raft_message_t *messages;
    size_t message_count;
    const zkv_raft_message_t *messages_after;
    size_t message_after_count;
    //  Followers that need a snapshot stream (leader only)
    const uint64_t *snapshot_to;
    size_t snapshot_to_count;
    //  To apply, and reads to serve once applied
    const zkv_entry_t *committed;
    size_t committed_count;
    const zkv_rc_read_t *reads;
    size_t read_count;
    //  Forwarded proposals the leader refused, for their clients
    const zkv_rc_dropped_t *dropped;
    size_t dropped_count;
} zkv_rc_ready_t;

//  Creates a core from its configuration and durable state
zkv_rc_t *
    zkv_rc_new (const zkv_rc_config_t *config, const zkv_rc_restore_t *restore);

void
    zkv_rc_destroy (zkv_rc_t **self_p);

//  One logical clock tick
void
    zkv_rc_tick (zkv_rc_t *self);

//  A message from a peer (entries and context are copied)
void
    zkv_rc_step (zkv_rc_t *self, const zkv_raft_message_t *message);

//  Proposes entries (their data is copied); forwards them to the leader
//  when this member follows one
zkv_rc_status_t
    zkv_rc_propose (zkv_rc_t *self, const zkv_bin_t *data, size_t count);

//  Proposes a configuration change (changes are copied; context is the
//  application's, carried in the entry: the members' records, say); on a
//  follower it is forwarded to the leader. Refused with CONF_PENDING while
//  an earlier change is not yet applied (a new leader: until its own first
//  entry is) or while joint, CONF_INVALID when it makes no valid
//  configuration (zkv_rc_conf_apply).
zkv_rc_status_t
    zkv_rc_propose_conf (zkv_rc_t *self, const zkv_rc_change_t *changes, size_t count,
                         zkv_bin_t context);

//  Asks for a read index under the caller's context token
zkv_rc_status_t
    zkv_rc_read_index (zkv_rc_t *self, uint64_t context);

//  Starts moving leadership to target (leader only, or forwarded to it)
zkv_rc_status_t
    zkv_rc_transfer (zkv_rc_t *self, uint64_t target);

//  Starts an election now (tests; a lone member at start)
void
    zkv_rc_campaign (zkv_rc_t *self);

//  The snapshot stream to a follower ended: done tells whether it was
//  installed (the follower's acknowledgement will follow) or failed
void
    zkv_rc_report_snapshot (zkv_rc_t *self, uint64_t follower, bool done);

//  Storage installed a snapshot at (index, term) on this member, whose
//  configuration was conf (NULL: the configuration does not change)
void
    zkv_rc_restore_snapshot (zkv_rc_t *self, uint64_t index, uint64_t term,
                             const zkv_conf_state_t *conf);

//  Forgets the log up to index (<= applied); takes effect after the
//  current ready is advanced
void
    zkv_rc_compact (zkv_rc_t *self, uint64_t index);

//  A peer is unreachable: slow down replication to it
void
    zkv_rc_report_unreachable (zkv_rc_t *self, uint64_t peer);

bool
    zkv_rc_has_ready (zkv_rc_t *self);

//  Fills ready with the work to do; valid until zkv_rc_advance
void
    zkv_rc_ready (zkv_rc_t *self, zkv_rc_ready_t *ready);

//  The ready handed out has been done
void
    zkv_rc_advance (zkv_rc_t *self);

//  Inspection
zkv_rc_role_t
    zkv_rc_role (zkv_rc_t *self);
uint64_t
    zkv_rc_term (zkv_rc_t *self);
uint64_t
    zkv_rc_leader (zkv_rc_t *self);
uint64_t
    zkv_rc_committed (zkv_rc_t *self);
uint64_t
    zkv_rc_last_index (zkv_rc_t *self);
uint64_t
    zkv_rc_first_index (zkv_rc_t *self);
uint64_t
    zkv_rc_transferee (zkv_rc_t *self);
//  The leader whose TimeoutNow made this member campaign in the current
//  term (a transfer to us), or 0
uint64_t
    zkv_rc_transferred_from (zkv_rc_t *self);
//  Term of the entry at index (0 if unknown)
uint64_t
    zkv_rc_term_at (zkv_rc_t *self, uint64_t index);
//  The configuration in effect: of the last entry applied (advanced)
const zkv_conf_state_t *
    zkv_rc_conf (zkv_rc_t *self);
//  Progress of a follower or learner, as the leader sees it (false if
//  not leader)
bool
    zkv_rc_progress (zkv_rc_t *self, uint64_t peer, uint64_t *match, uint64_t *next);

//  ---------------------------------------------------------------------
//  Configurations (zkv_rc_conf.c): pure functions the application shares
//  with the core, so that storage keeps the configuration alike

//  The changes of a configuration entry, with the application's context
//  after them, in a fresh buffer (*size bytes; free it)
uint8_t *
    zkv_rc_conf_change_encode (const zkv_rc_change_t *changes, size_t count, zkv_bin_t context,
                               size_t *size);

//  Reads a configuration entry: changes (room for ZKV_RC_MAX_CHANGES),
//  their count, and the context (pointing into data). False if malformed.
bool
    zkv_rc_conf_change_decode (zkv_bin_t data, zkv_rc_change_t *changes, size_t *count,
                               zkv_bin_t *context);

//  The configuration after changes: one voter change applies as is;
//  changes of several voters enter a joint configuration; no change
//  leaves one. Returns NULL, or why the result is not valid (no voter
//  left, a member both voter and learner, a learner made of a voter, a
//  removal of a non-member, too many members, a change while joint)
const char *
    zkv_rc_conf_apply (const zkv_conf_state_t *conf, const zkv_rc_change_t *changes,
                       size_t count, zkv_conf_state_t *result);

bool
    zkv_rc_conf_is_voter (const zkv_conf_state_t *conf, uint64_t id);     //  either half
bool
    zkv_rc_conf_is_learner (const zkv_conf_state_t *conf, uint64_t id);
bool
    zkv_rc_conf_is_joint (const zkv_conf_state_t *conf);

//  The configuration as bytes for persisting, and back
#define ZKV_RC_CONF_BYTES (4 + 3 * 4 + 3 * 8 * ZKV_RC_MAX_MEMBERS)
size_t
    zkv_rc_conf_encode (const zkv_conf_state_t *conf, uint8_t bytes [ZKV_RC_CONF_BYTES]);
bool
    zkv_rc_conf_decode (const uint8_t *bytes, size_t size, zkv_conf_state_t *conf);

//  Names for logs
const char *
    zkv_rc_role_name (zkv_rc_role_t role);
const char *
    zkv_rc_msg_name (uint64_t type);

#endif
