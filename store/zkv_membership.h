/*  =========================================================================
    zkv_membership.h — membership changes applied to the member table:
    what every member does, alike, with a configuration entry (add,
    promote, remove, a joint replace, leaving a joint configuration) or a
    member update, inside the state machine's open batch.

    The configuration is changed with the raft core's own function
    (zkv_rc_conf_apply), so the state and the core never disagree on who
    votes. An added member's record comes from the entry (its id and peer
    endpoint decided by the leader that proposed it): unstarted, no name.
    A removed member's last record goes to the removed list, so that its
    id is never taken again and its frames are refused.
    =========================================================================
*/
#ifndef ZKV_MEMBERSHIP_H_INCLUDED
#define ZKV_MEMBERSHIP_H_INCLUDED

#include "zkv_engine.h"
#include "zkv_msgs.h"
#include "zkv_mvcc.h"
#include "zkv_rc.h"

//  What a change did, for its event and its reply
typedef struct {
    const char *change;                 //  "added", "promoted", "replaced",
                                        //  "removed", "updated"; NULL: none told
    uint64_t member_id;
    uint64_t replaced;
    zkv_bin_t peer_endpoint;
    zkv_cluster_member_t *member;       //  the added member's record (in zone)
} zkv_membership_done_t;

//  Applies a configuration entry's data (the core's encoding, whose
//  context is the encoded internal_request) to conf and the member table,
//  in mvcc's open batch; *request receives the decoded request (NULL for
//  the leader's leave of a joint configuration). Returns 0, or -1 with
//  status set when the entry changes nothing (it is malformed, or makes
//  no valid configuration: the core ignores it alike).
int
    zkv_membership_apply (zkv_mvcc_t *mvcc, zkv_engine_t *engine, zkv_conf_state_t *conf,
                          zkv_bin_t data, msgpack_zone *zone,
                          zkv_internal_request_t **request, zkv_membership_done_t *done,
                          zkv_result_t *status);

//  Applies a member update (a new peer endpoint) in mvcc's open batch.
//  Returns 0, or -1 with status set (no such member).
int
    zkv_membership_update (zkv_mvcc_t *mvcc, zkv_engine_t *engine,
                           const zkv_member_update_t *update, msgpack_zone *zone,
                           zkv_membership_done_t *done, zkv_result_t *status);

#endif
