/*  =========================================================================
    zkv_events.h — a subscriber to the events members publish
    (docs/PROTOCOL.md, "Events"): leader, transfer, member, alarm, defrag,
    snapshot.

    One SUB socket per member, connected to its events endpoint (CURVE with
    the client's credentials for a secure cluster). zkv_events_recv gives
    each event decoded (its message type by topic; topic `member` carries
    two, told apart by the field each always has), and what the seq and
    boot of the events and of the hellos tell (zkv_event_seq.h): the
    events missed (a subscription not yet live, a reader too slow) and the
    member's restarts. A member is lost when its connection ends or when
    no word (not even a hello) came for 3 of its hello intervals; ZeroMQ
    connects again by itself, and the next word finds it again. Hellos
    themselves are not given. Only events published after the subscription
    are seen: events are news, not a log.

    Not thread-safe: one subscriber per thread.
    =========================================================================
*/
#ifndef ZKV_EVENTS_H_INCLUDED
#define ZKV_EVENTS_H_INCLUDED

#include "zkv_client.h"

typedef struct zkv_events_s zkv_events_t;

typedef enum {
    ZKV_EVENTS_EVENT,                   //  an event a member published
    ZKV_EVENTS_MISSED,                  //  its events missed_from .. missed_to were missed
    ZKV_EVENTS_RESTARTED,               //  the member restarted (a new boot)
    ZKV_EVENTS_LOST,                    //  the member is lost (why says why)
    ZKV_EVENTS_FOUND                    //  a lost member heard again
} zkv_events_kind_t;

//  What zkv_events_recv gives; the pointers hold until the next call
typedef struct {
    zkv_events_kind_t kind;
    uint64_t member;                    //  the member's id (0 while not known)
    const char *endpoint;               //  the events endpoint of the member
    //  ZKV_EVENTS_EVENT
    const char *topic;                  //  "leader", "transfer", ... ("" for a notice)
    const zkv_desc_t *desc;             //  its message (zkv_leader_event_desc, ...)
    const void *body;                   //  decoded (a zkv_leader_event_t, ...)
    uint64_t seq, boot;                 //  its stamp
    //  ZKV_EVENTS_MISSED
    uint64_t missed_from, missed_to;
    //  ZKV_EVENTS_FOUND: it restarted meanwhile
    bool restarted;
    //  ZKV_EVENTS_LOST
    const char *why;                    //  "disconnected", "no word for 3012 ms"
} zkv_events_item_t;

//  A subscriber to no member yet; curve: the credentials for a secure
//  cluster (copied; NULL: plain)
zkv_events_t *
    zkv_events_new (const zkv_curve_t *curve);

void
    zkv_events_destroy (zkv_events_t **self_p);

//  Listens to the member that publishes at endpoint (member_id: its id
//  when known, else 0: learned from its first word)
void
    zkv_events_add (zkv_events_t *self, const char *endpoint, uint64_t member_id);

//  Listens to the member that published at endpoint at new_endpoint from
//  now on (a fresh subscription: it moved), keeping what its seqs told.
//  Returns 0, or -1 when no member publishes at endpoint. (The endpoint of
//  an item given before holds no more; those still to give name the new.)
int
    zkv_events_move (zkv_events_t *self, const char *endpoint, const char *new_endpoint);

//  Listens to the members of client: the events endpoint each of its
//  endpoints names in its Status (a member that does not answer is left
//  out), or, with cluster, each one of the member list that has one.
//  Returns how many were added, or -1 with a message in error when none
//  could be (`no member to listen to`, or the member list's failure).
int
    zkv_events_add_members (zkv_events_t *self, zkv_client_t *client, bool cluster,
                            char *error, size_t size);

//  Gives only the events of topic (NULL or "": all), and every notice
void
    zkv_events_set_topic (zkv_events_t *self, const char *topic);

//  Members listened to
size_t
    zkv_events_size (zkv_events_t *self);

//  Waits at most timeout msecs (-1: for ever) for the next event or
//  notice. Returns 0 with event filled, or -1 when none came in time or
//  the process was interrupted.
int
    zkv_events_recv (zkv_events_t *self, int timeout, zkv_events_item_t *event);

#endif
