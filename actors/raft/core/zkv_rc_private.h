/*  =========================================================================
    zkv_rc_private.h — the state of the raft core, shared by its files:
      zkv_rc.c              lifecycle, Step, ticks, Ready/Advance
      zkv_rc_log.c          the log: entries, commit, terms, compaction
      zkv_rc_election.c     elections, PreVote, CheckQuorum, votes
      zkv_rc_replication.c  progress, appends, heartbeats, commit
      zkv_rc_read.c         ReadIndex
      zkv_rc_transfer.c     leadership transfer
      zkv_rc_conf.c         configurations, quorums, joint consensus
    Not for use outside actors/raft/.
    =========================================================================
*/
#ifndef ZKV_RC_PRIVATE_H_INCLUDED
#define ZKV_RC_PRIVATE_H_INCLUDED

#include "zkv_rc.h"
#include "zkv_grow.h"

//  Test-only variants with a planted bug, to prove the simulator finds them
//  (built as separate libraries by CMake; never in zkv-node):
//    ZKV_RC_BUG_VOTE_BEFORE_DURABLE   votes and append acknowledgements
//                                     leave before the write that makes
//                                     them true is durable
//    ZKV_RC_BUG_VOTE_WITHOUT_LOG_CHECK  votes granted without the
//                                     up-to-date check
//    ZKV_RC_BUG_COMMIT_OLD_TERM       a leader commits entries of earlier
//                                     terms by counting replicas (Figure 8)
//    ZKV_RC_BUG_LEARNER_IN_QUORUM     learners count in commit and election
//                                     quorums
//    ZKV_RC_BUG_CONF_ON_APPEND        a leader switches to a configuration
//                                     when it appends its entry
//    ZKV_RC_BUG_SECOND_CHANGE_PENDING a change is accepted while another is
//                                     pending or the configuration is joint

//  An entry's payload, shared by the log and outgoing messages
typedef struct {
    size_t refs;
    size_t size;
    uint8_t bytes [];
} rc_data_t;

typedef struct {
    uint64_t index;
    uint64_t term;
    uint64_t type;
    rc_data_t *data;                    //  NULL for an empty entry
} rc_entry_t;

typedef struct {
    rc_entry_t *entries;                //  index offset .. offset + count - 1
    size_t count;
    size_t room;
    uint64_t offset;                    //  index of entries [0]
    uint64_t snapshot_index;            //  entries up to here are compacted
    uint64_t snapshot_term;
    uint64_t committed;
    uint64_t applied;                   //  highest handed out to apply
    uint64_t stable;                    //  highest durable (persisted)
} rc_log_t;

typedef enum { RC_PROBE, RC_REPLICATE, RC_SNAPSHOT } rc_pr_state_t;

//  What the leader knows of one member's log
typedef struct {
    uint64_t id;
    uint64_t match;                     //  highest index known replicated
    uint64_t next;                      //  next index to send
    rc_pr_state_t state;
    bool probe_sent;                    //  probing: one append per heartbeat
    uint64_t pending_snapshot;          //  snapshot state: index it must reach
    bool recent_active;                 //  heard from since the last check
    uint64_t *inflight;                 //  last index of each append in flight
    size_t inflight_start;
    size_t inflight_count;
    uint64_t read_ack;                  //  highest read token it acknowledged
    bool vote_granted;                  //  elections: the answer from it
    bool vote_answered;
    bool learner;                       //  receives the log, never counts
    bool needs_snapshot;                //  it has no configuration yet: it
                                        //  joined, and starts from a snapshot
} rc_progress_t;

//  An append refused with this context asks for a snapshot
#define RC_ASK_SNAPSHOT 1

//  How a quorum decided, and one member's answer: 1 yes, 0 no, -1 not yet
typedef enum { RC_VOTE_PENDING, RC_VOTE_WON, RC_VOTE_LOST } rc_vote_t;
typedef int (rc_answer_fn) (zkv_rc_t *self, const rc_progress_t *pr);

//  A read waiting for a quorum to confirm the leader (leader only)
typedef struct {
    uint64_t token;                     //  leader-generated, never reused
    uint64_t index;                     //  commit index when it arrived
    uint64_t from;                      //  member that asked (self: local)
    uint64_t context;                   //  that member's token
} rc_pending_read_t;

//  Growing arrays of the outputs
typedef struct {
    zkv_raft_message_t *items;
    size_t count;
    size_t room;
} rc_messages_t;

struct zkv_rc_s {
    zkv_rc_config_t config;             //  (its voters are not kept: see conf)
    zkv_conf_state_t conf;              //  the configuration applied last
    uint64_t pending_conf_index;        //  leader: index of the last change
    //  Durable state
    uint64_t term;
    uint64_t vote;
    rc_log_t log;
    //  Volatile state
    zkv_rc_role_t role;
    uint64_t leader;
    int election_elapsed;
    int heartbeat_elapsed;
    int randomized_timeout;             //  [election, 2 * election - 1]
    uint64_t rng;                       //  xorshift state
    rc_progress_t progress [ZKV_RC_MAX_MEMBERS];    //  one per member, self
    size_t progress_count;                          //  included, learners too
    uint64_t *spare_inflight [ZKV_RC_MAX_MEMBERS];  //  windows of unused slots
    size_t spare_count;
    uint64_t transferee;                //  leader: transfer in progress to
    uint64_t timeout_now_from;          //  the leader whose TimeoutNow made us
    uint64_t timeout_now_term;          //  ...campaign for this term
    uint64_t uncommitted_bytes;         //  leader: proposed, not committed
    //  ReadIndex (leader)
    uint64_t read_token;                //  last token handed out this term
    uint64_t acking;                    //  the token whose acks are counted
    rc_pending_read_t *reads;
    size_t read_count;
    size_t read_room;
    bool committed_in_term;             //  leader committed an own-term entry
    rc_pending_read_t *early_reads;     //  asked before that: wait for it
    size_t early_count;
    size_t early_room;
    //  Outputs accumulated for the next ready
    rc_messages_t messages;
    rc_messages_t messages_after;
    uint64_t *snapshot_to;
    size_t snapshot_to_count;
    size_t snapshot_to_room;
    zkv_rc_read_t *read_states;
    size_t read_state_count;
    size_t read_state_room;
    zkv_rc_dropped_t *dropped;
    size_t dropped_count;
    size_t dropped_room;
    rc_data_t **held;                   //  payloads lent to the last ready
    size_t held_count;
    size_t held_room;
    //  Last soft and hard state handed out
    uint64_t ready_leader;
    zkv_rc_role_t ready_role;
    uint64_t ready_term;
    zkv_hard_state_t ready_hard_state;
    bool snapshot_changed;
    uint64_t compact_to;                //  compaction asked for, done at advance
    //  The ready handed out, until advanced
    bool in_ready;
    zkv_entry_t *ready_entries;
    zkv_entry_t *ready_committed;
    size_t ready_applied_count;         //  entries in ready_committed
    uint64_t ready_stable_to;           //  entries handed out to persist
    uint64_t ready_applied_to;          //  entries handed out to apply
    rc_messages_t out_messages;         //  what the ready lent
    rc_messages_t out_after;
};

//  ---------------------------------------------------------------------
//  zkv_rc.c

//  Queues a message; its entries (if any) were allocated by rc_msg_entries
void
    rc_send (zkv_rc_t *self, zkv_raft_message_t *message);

//  Lends data (a log payload) to an outgoing message until the next advance
zkv_bin_t
    rc_hold_ref (zkv_rc_t *self, rc_data_t *data);

//  A copy of bytes that lives until the next advance
zkv_bin_t
    rc_hold (zkv_rc_t *self, zkv_bin_t bytes);

//  A malloc'd copy of entries (or of bare data when entries is NULL) whose
//  data lives until the next advance, for an outgoing message
zkv_entry_t *
    rc_hold_entries (zkv_rc_t *self, const zkv_entry_t *entries, const zkv_bin_t *data,
                     size_t count);

//  A zeroed message of type to `to`, at the current term
zkv_raft_message_t
    rc_message (zkv_rc_t *self, uint64_t type, uint64_t to);

//  Steps a message in the role's own way
void
    rc_step_role (zkv_rc_t *self, const zkv_raft_message_t *message);

void
    rc_become_follower (zkv_rc_t *self, uint64_t term, uint64_t leader);
void
    rc_become_pre_candidate (zkv_rc_t *self);
void
    rc_become_candidate (zkv_rc_t *self);
void
    rc_become_leader (zkv_rc_t *self);

//  Progress of member id, learners included (NULL if not a member)
rc_progress_t *
    rc_progress (zkv_rc_t *self, uint64_t id);

void
    rc_reset_randomized_timeout (zkv_rc_t *self);

//  ---------------------------------------------------------------------
//  zkv_rc_log.c

void
    rc_log_init (rc_log_t *log, uint64_t snapshot_index, uint64_t snapshot_term);
void
    rc_log_destroy (rc_log_t *log);
uint64_t
    rc_log_last_index (const rc_log_t *log);
uint64_t
    rc_log_last_term (const rc_log_t *log);
uint64_t
    rc_log_first_index (const rc_log_t *log);
//  Term at index; 0 when index is outside what is known
uint64_t
    rc_log_term (const rc_log_t *log, uint64_t index);
//  The entry at index (NULL if compacted or beyond the end)
rc_entry_t *
    rc_log_entry (rc_log_t *log, uint64_t index);
//  True if (index, term) is in the log
bool
    rc_log_match (const rc_log_t *log, uint64_t index, uint64_t term);
//  Raft's "at least as up to date" for a candidate's last entry
bool
    rc_log_up_to_date (const rc_log_t *log, uint64_t last_index, uint64_t last_term);
//  Appends one entry at the end (taking a reference on data)
void
    rc_log_push (rc_log_t *log, uint64_t index, uint64_t term, uint64_t type, rc_data_t *data);
//  Drops entries from index on (a conflict); durable ones become unstable
void
    rc_log_truncate (rc_log_t *log, uint64_t index);
//  A follower's append: entries after (index, log_term). Returns false if
//  (index, log_term) is not in the log; else sets *last_new to the index
//  of the last entry the append vouches for
bool
    rc_log_maybe_append (rc_log_t *log, uint64_t index, uint64_t log_term, uint64_t committed,
                         const zkv_entry_list_t *entries, uint64_t *last_new);
//  Moves the commit index to index if it is higher (and in the log)
bool
    rc_log_commit_to (rc_log_t *log, uint64_t index);
//  Forgets entries up to index
void
    rc_log_compact (rc_log_t *log, uint64_t index);
//  Moves the log to a snapshot at (index, term): returns true if it was
//  reset (the entry was not in the log), false if it kept what follows
bool
    rc_log_restore (rc_log_t *log, uint64_t index, uint64_t term);
//  Hint for a rejected append: the largest index <= index with term <= term
uint64_t
    rc_log_find_conflict_by_term (const rc_log_t *log, uint64_t index, uint64_t term);

rc_data_t *
    rc_data_new (const void *bytes, size_t size);
rc_data_t *
    rc_data_ref (rc_data_t *data);
void
    rc_data_unref (rc_data_t **data_p);

//  ---------------------------------------------------------------------
//  zkv_rc_election.c

void
    rc_hup (zkv_rc_t *self, bool transfer);
void
    rc_campaign (zkv_rc_t *self, bool pre_vote, bool transfer);
void
    rc_handle_vote_request (zkv_rc_t *self, const zkv_raft_message_t *message);
//  A vote or pre-vote answer while campaigning
void
    rc_handle_vote_response (zkv_rc_t *self, const zkv_raft_message_t *message);
//  CheckQuorum on the leader: steps down without a recently active quorum
void
    rc_check_quorum (zkv_rc_t *self);

//  ---------------------------------------------------------------------
//  zkv_rc_replication.c

void
    rc_progress_reset (zkv_rc_t *self);
//  Sends the next append (or snapshot request) to a follower if its
//  progress allows; returns true if something was sent
bool
    rc_send_append (zkv_rc_t *self, rc_progress_t *pr, bool send_if_empty);
void
    rc_broadcast_append (zkv_rc_t *self);
void
    rc_broadcast_heartbeat (zkv_rc_t *self, uint64_t context);
//  Leader: appends entries of its term (proposals, or its empty entry)
void
    rc_append_entries (zkv_rc_t *self, const zkv_bin_t *data, size_t count);
//  The same, of an entry type
void
    rc_append_typed (zkv_rc_t *self, const zkv_bin_t *data, size_t count, uint64_t type);
//  Leader: advances commit from the matches; true if it moved
bool
    rc_maybe_commit (zkv_rc_t *self);
void
    rc_handle_append (zkv_rc_t *self, const zkv_raft_message_t *message);
void
    rc_handle_append_response (zkv_rc_t *self, const zkv_raft_message_t *message);
void
    rc_handle_heartbeat (zkv_rc_t *self, const zkv_raft_message_t *message);
void
    rc_handle_heartbeat_response (zkv_rc_t *self, const zkv_raft_message_t *message);
//  Leader: its own entries became durable up to index
void
    rc_self_persisted (zkv_rc_t *self, uint64_t index);
bool
    rc_inflight_full (zkv_rc_t *self, const rc_progress_t *pr);
void
    rc_progress_become_probe (rc_progress_t *pr);

//  ---------------------------------------------------------------------
//  zkv_rc_read.c

void
    rc_read_request (zkv_rc_t *self, uint64_t from, uint64_t context);
//  A heartbeat answer acknowledged read token `token`
void
    rc_read_acked (zkv_rc_t *self, uint64_t from, uint64_t token);
//  The leader committed its first entry of the term
void
    rc_read_release_early (zkv_rc_t *self);
void
    rc_read_reset (zkv_rc_t *self);
void
    rc_read_state (zkv_rc_t *self, uint64_t index, uint64_t context);

//  ---------------------------------------------------------------------
//  zkv_rc_transfer.c

void
    rc_transfer_request (zkv_rc_t *self, uint64_t target);
//  After an append response: send TimeoutNow if the target caught up
void
    rc_transfer_check (zkv_rc_t *self, const rc_progress_t *pr);
void
    rc_transfer_abort (zkv_rc_t *self);
void
    rc_handle_timeout_now (zkv_rc_t *self, const zkv_raft_message_t *message);

//  ---------------------------------------------------------------------
//  zkv_rc_conf.c

//  Whether a quorum of the configuration (both halves when joint) says
//  yes, no, or has not decided
rc_vote_t
    rc_tally (zkv_rc_t *self, rc_answer_fn *answer);
//  The highest index a quorum of the configuration holds
uint64_t
    rc_quorum_index (zkv_rc_t *self);
//  This member alone votes
bool
    rc_sole_voter (zkv_rc_t *self);
//  This member may campaign: a voter with no change committed unapplied
bool
    rc_promotable (zkv_rc_t *self);
//  Makes conf the configuration: progress for newcomers, none for the
//  departed; a leader no longer voting steps down
void
    rc_conf_switch (zkv_rc_t *self, const zkv_conf_state_t *conf);
//  A configuration entry was applied
void
    rc_conf_applied (zkv_rc_t *self, zkv_bin_t data);
//  Leader: leaves a joint configuration once nothing is pending
void
    rc_conf_maybe_leave (zkv_rc_t *self);
//  Leader: whether a configuration entry may be appended now
zkv_rc_status_t
    rc_conf_check (zkv_rc_t *self, zkv_bin_t data);

#endif
