/*  cluster_fixture.h — a real 3-member cluster under test, started
    through the harness with fast timeouts (heartbeat 50 ms, election
    500 ms) in a temp dir that cf_teardown removes. One cluster per test
    (Criterion runs each test in a process of its own). Its peers
    authenticate each other, as every cluster the harness makes (a peer
    certificate), unless started with cf_up_insecure_peers. The helpers
    that talk to members do so as the harness does: as the admin of a
    secure cluster.
*/
#ifndef CLUSTER_FIXTURE_H_INCLUDED
#define CLUSTER_FIXTURE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "eventually.h"
#include "zkv_client.h"
#include "zkv_harness.h"
#include "zkv_testnode.h"

extern zkv_harness_t *cf_cluster;
extern char cf_dir [128];
//  The zkv-node the next cluster runs (a test may set a wrapper of its own)
extern const char *cf_node;

//  Starts the cluster, with more member flags (NULL-terminated, or NULL)
void cf_up (const char *const *more);
//  The same, secure: CURVE with fresh certificates (zkv_harness.h)
void cf_up_secure (const char *const *more);
//  The same, with no peer authentication at all (on purpose: the peer
//  ports take frames from anybody)
void cf_up_insecure_peers (const char *const *more);
//  Prepares a cluster of members (n1, n2, ... with their data in
//  cf_dir/nX) without starting it: cf_up's first half
void cf_prepare (size_t members, const char *const *more);
//  Stops it and removes its dir (a suite's .fini)
void cf_teardown (void);
//  Waits for a leader the members agree on; its name into leader
void cf_leader (char *leader, size_t size);

zkv_bin_t cf_bin (const char *text);
//  True if bin holds exactly text
bool cf_text_is (zkv_bin_t bin, const char *text);
//  A member's id, from its hex text
uint64_t cf_member_id (const char *name);
//  One request to one member (5 s at most); the reply, NULL on a failure
zkv_msg_t *cf_call (const char *name, const zkv_desc_t *desc, const void *request);
//  A SUB socket connected to every member's published events endpoint
zsock_t *cf_subscribe (void);
//  Waits up to msecs for an event of topic from sub; its body, decoded as
//  desc into zone, text included (NULL if none came)
void *cf_event (zsock_t *sub, const char *topic, const zkv_desc_t *desc, msgpack_zone *zone,
                int msecs);
//  Puts key=value through client; true if acknowledged
bool cf_put (zkv_client_t *client, const char *key, const char *value);
//  A put through client, to repeat until its answer is the one wanted
typedef struct {
    zkv_client_t *client;
    zkv_put_t put;
    const char *wanted;         //  the error text wanted ("": acknowledged)
    char error [256];           //  the last answer's ("": acknowledged; the
                                //  status text when no reply came)
} cf_putting_t;
//  For eventually (): puts; true if the answer is the one wanted
bool cf_put_answers (void *putting);
//  Puts k000=value, k001=value, ... through client
void cf_put_keys (zkv_client_t *client, int count);
//  Every key and value one member holds (serializable: its own state),
//  as "key=value\n" lines; NULL if it did not answer
char *cf_dump (const char *name);
//  Waits until every running member holds the same data; returns it
char *cf_converged (void);
//  Runs zkvctl with args (NULL-terminated), after --endpoints endpoints
//  unless endpoints is NULL
zkv_run_t cf_zkvctl (const char *endpoints, const char *const *args);
//  The same with env ("NAME=VALUE", or NULL) in its environment
zkv_run_t cf_zkvctl_env (const char *endpoints, const char *env, const char *const *args);
//  True if a member's log holds text
bool cf_log_says (const char *name, const char *text);
//  Polls a member's Status until it names a leader and has applied all it
//  knows committed; true if it did within 10 s (*seen: the last answer)
bool cf_status_settles (const char *name, zkv_status_response_t *seen);
//  True if the Status of member asked lists alarm ("NOSPACE", "CORRUPT")
//  for member (as etcdctl prints it: "memberID:<id> alarm:<alarm> ")
bool cf_alarm_listed (const char *asked, const char *member, const char *alarm);
//  True once the Status of every member of the cluster lists it
bool cf_alarm_listed_everywhere (const char *member, const char *alarm);
//  The same as cf_alarm_listed, asked again until it is, for up to msecs
//  (asked NULL: the leader, found again at each look, as it may change)
bool cf_alarm_listed_within (const char *asked, const char *member, const char *alarm,
                             int msecs);
//  A member's applied index, from its Status (0 when it does not answer)
uint64_t cf_applied (const char *name);
//  Waits up to 20 s for a member to have applied index; true if it did
bool cf_caught_up (const char *name, uint64_t index);
//  For eventually (): true once the process of member name (a const char *)
//  has ended
bool cf_ended (void *name);
//  How a socket of type (DEALER for a ROUTER, SUB for a PUB) with
//  credentials (NULL: plain) fares connecting to endpoint: true if its
//  handshake succeeded, false if it failed (as its monitor reports)
bool cf_handshake (const char *endpoint, int type, const zkv_curve_t *curve);

#endif
