/*  =========================================================================
    zkv_events.c — a subscriber to members' events (see zkv_events.h).
    =========================================================================
*/
#include "zkv_events.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_event_seq.h"

#define S_LOST_HELLOS 3                 //  hello intervals without a word
#define S_HELLO_MSECS 1000              //  until a member's first hello says
#define S_MAX_HELLO_MSECS 3600000       //  beyond, a hello's interval is not believed
#define S_TICK 200                      //  msecs between two looks at silences
#define S_PENDING 4                     //  what one message can tell, at most

//  The event message of each topic. Topic `member` carries two: the one
//  whose `mark` (a str every event of it has) is there. (Fields unknown
//  are skipped, as a newer member may add some: so a body decodes as
//  either, and the mark tells them apart.)
static const struct {
    const char *topic;
    const zkv_desc_t *desc;
    const char *mark;
} s_topics [] = {
    { "leader", &zkv_leader_event_desc, NULL },
    { "transfer", &zkv_transfer_event_desc, NULL },
    { "member", &zkv_member_event_desc, "state" },
    { "member", &zkv_membership_event_desc, "change" },
    { "defrag", &zkv_defrag_event_desc, NULL },
    { "snapshot", &zkv_snapshot_event_desc, NULL },
    { "alarm", &zkv_alarm_event_desc, NULL }
};
#define S_TOPIC_COUNT (sizeof s_topics / sizeof s_topics [0])

//  One member listened to
typedef struct {
    uint64_t id;
    char *endpoint;
    zsock_t *sub;
    zactor_t *monitor;                  //  tells when sub's connection ends
    zkv_event_seq_t seq;
    int64_t heard;                      //  mono msecs: its last word (or the subscription)
    int64_t hello_msecs;
    bool lost;
    char why [64];                      //  why it was lost
} s_member_t;

struct zkv_events_s {
    zkv_curve_t *curve;
    zlist_t *members;                   //  of s_member_t
    char *topic;                        //  NULL: all
    zkv_events_item_t pending [S_PENDING];    //  told by the last message, not given yet
    size_t pending_count, pending_next;
    msgpack_zone *zone;                 //  the last event's body
    char *topic_held;                   //  the last event's topic
};

static void
s_member_destroy (s_member_t **member_p)
{
    s_member_t *member = *member_p;
    if (!member)
        return;
    zactor_destroy (&member->monitor);
    zsock_destroy (&member->sub);
    free (member->endpoint);
    free (member);
    *member_p = NULL;
}

zkv_events_t *
zkv_events_new (const zkv_curve_t *curve)
{
    zkv_events_t *self = (zkv_events_t *) zmalloc (sizeof (zkv_events_t));
    self->curve = curve? zkv_curve_dup (curve): NULL;
    self->members = zlist_new ();
    return self;
}

void
zkv_events_destroy (zkv_events_t **self_p)
{
    zkv_events_t *self = *self_p;
    if (!self)
        return;
    s_member_t *member = (s_member_t *) zlist_first (self->members);
    while (member) {
        s_member_destroy (&member);
        member = (s_member_t *) zlist_next (self->members);
    }
    zlist_destroy (&self->members);
    zkv_curve_destroy (&self->curve);
    free (self->topic);
    free (self->topic_held);
    if (self->zone)
        msgpack_zone_free (self->zone);
    free (self);
    *self_p = NULL;
}

//  Subscribes to member's events at member->endpoint (anew)
static void
s_subscribe (zkv_events_t *self, s_member_t *member)
{
    zactor_destroy (&member->monitor);
    zsock_destroy (&member->sub);
    member->sub = zsock_new (ZMQ_SUB);
    zsock_set_linger (member->sub, 0);
    zkv_curve_apply (self->curve, member->sub);
    zsock_set_subscribe (member->sub, "");
    //  The monitor first: it must see the first connection too
    member->monitor = zactor_new (zmonitor, member->sub);
    zstr_sendx (member->monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_sendx (member->monitor, "START", NULL);
    zsock_wait (member->monitor);
    zsock_connect (member->sub, "%s", member->endpoint);
    member->heard = zclock_mono ();
}

void
zkv_events_add (zkv_events_t *self, const char *endpoint, uint64_t member_id)
{
    s_member_t *member = (s_member_t *) zmalloc (sizeof (s_member_t));
    member->id = member_id;
    member->endpoint = strdup (endpoint);
    member->hello_msecs = S_HELLO_MSECS;
    s_subscribe (self, member);
    zlist_append (self->members, member);
}

int
zkv_events_move (zkv_events_t *self, const char *endpoint, const char *new_endpoint)
{
    for (s_member_t *member = (s_member_t *) zlist_first (self->members); member;
         member = (s_member_t *) zlist_next (self->members))
        if (streq (member->endpoint, endpoint)) {
            char *old = member->endpoint;
            member->endpoint = strdup (new_endpoint);
            //  (what is still to give of it names it where it is now)
            for (size_t i = self->pending_next; i < self->pending_count; i++)
                if (self->pending [i].endpoint == old)
                    self->pending [i].endpoint = member->endpoint;
            free (old);
            s_subscribe (self, member);
            return 0;
        }
    return -1;
}

int
zkv_events_add_members (zkv_events_t *self, zkv_client_t *client, bool cluster,
                        char *error, size_t size)
{
    int added = 0;
    zkv_result_t status;
    if (cluster) {
        zkv_member_list_t request = { .linearizable = false };
        zkv_msg_t *reply = zkv_client_call (client, &zkv_member_list_desc, &request, &status);
        const zkv_error_t *refusal = reply? zkv_reply_error (reply): NULL;
        if (!reply || refusal) {
            if (refusal)
                snprintf (error, size, "%.*s", (int) refusal->message.size,
                          (const char *) refusal->message.data);
            else
                zkv_status_text (&status, error, size);
            zkv_msg_destroy (&reply);
            return -1;
        }
        const zkv_member_list_response_t *list =
            (const zkv_member_list_response_t *) reply->body;
        for (size_t i = 0; i < list->members.count; i++) {
            const zkv_cluster_member_t *item = &list->members.items [i];
            if (item->events_endpoint.size) {
                char *endpoint = zsys_sprintf ("%.*s", (int) item->events_endpoint.size,
                                               (const char *) item->events_endpoint.data);
                zkv_events_add (self, endpoint, item->member_id);
                free (endpoint);
                added++;
            }
        }
        zkv_msg_destroy (&reply);
    }
    else
    for (size_t i = 0; i < zkv_client_endpoint_count (client); i++) {
        //  Each endpoint on its own: its Status names its events endpoint
        zkv_client_t *one = zkv_client_new (zkv_client_endpoint_at (client, i),
                                            zkv_client_timeout (client));
        zkv_client_set_curve (one, self->curve);
        zkv_status_t request = { false };
        zkv_msg_t *reply = zkv_client_call (one, &zkv_status_desc, &request, &status);
        zkv_client_destroy (&one);
        if (reply && !zkv_reply_error (reply)) {
            const zkv_status_response_t *answer = (const zkv_status_response_t *) reply->body;
            if (answer->events_endpoint.size) {
                char *endpoint = zsys_sprintf ("%.*s", (int) answer->events_endpoint.size,
                                               (const char *) answer->events_endpoint.data);
                zkv_events_add (self, endpoint, answer->header? answer->header->member_id: 0);
                free (endpoint);
                added++;
            }
        }
        zkv_msg_destroy (&reply);
    }
    if (added == 0)
        snprintf (error, size, "no member to listen to");
    return added? added: -1;
}

void
zkv_events_set_topic (zkv_events_t *self, const char *topic)
{
    free (self->topic);
    self->topic = topic && *topic? strdup (topic): NULL;
}

size_t
zkv_events_size (zkv_events_t *self)
{
    return zlist_size (self->members);
}

//  A notice (or event) about member, queued to be given
static zkv_events_item_t *
s_queue (zkv_events_t *self, s_member_t *member, zkv_events_kind_t kind)
{
    zkv_events_item_t *event = &self->pending [self->pending_count++];
    *event = (zkv_events_item_t) { .kind = kind, .member = member->id, .endpoint = member->endpoint,
                             .topic = "", .why = "" };
    return event;
}

//  A word from member, with its seq and boot: queues what it tells
static void
s_heard (zkv_events_t *self, s_member_t *member, uint64_t boot, uint64_t seq, bool hello)
{
    zkv_event_seq_news_t news = zkv_event_seq_heard (&member->seq, boot, seq, hello);
    if (member->lost)
        s_queue (self, member, ZKV_EVENTS_FOUND)->restarted = news.restarted;
    else
    if (news.restarted)
        s_queue (self, member, ZKV_EVENTS_RESTARTED);
    if (news.missed_from) {
        zkv_events_item_t *missed = s_queue (self, member, ZKV_EVENTS_MISSED);
        missed->missed_from = news.missed_from;
        missed->missed_to = news.missed_to;
    }
    member->lost = false;
    member->heard = zclock_mono ();
}

//  A U64 field of a decoded message, by name (0 when it has none)
static uint64_t
s_u64 (const zkv_desc_t *desc, const void *message, const char *name)
{
    for (size_t f = 0; f < desc->field_count; f++)
        if (desc->fields [f].type == ZKV_T_U64 && streq (desc->fields [f].name, name))
            return *(const uint64_t *) ((const char *) message + desc->fields [f].offset);
    return 0;
}

//  True if a STR field of a decoded message, by name, is not empty
static bool
s_has_str (const zkv_desc_t *desc, const void *message, const char *name)
{
    for (size_t f = 0; f < desc->field_count; f++)
        if (desc->fields [f].type == ZKV_T_STR && streq (desc->fields [f].name, name))
            return ((const zkv_bin_t *) ((const char *) message
                                          + desc->fields [f].offset))->size > 0;
    return false;
}

//  Receives one message of member and queues what it tells
static void
s_receive (zkv_events_t *self, s_member_t *member)
{
    zmsg_t *msg = zmsg_recv (member->sub);
    char *name = msg? zmsg_popstr (msg): NULL;
    zframe_t *body = msg? zmsg_pop (msg): NULL;
    if (self->zone)
        msgpack_zone_free (self->zone);
    self->zone = msgpack_zone_new (1024);
    zkv_limits_t limits = zkv_limits_client ();
    zkv_result_t status;
    if (name && body && streq (name, "hello")) {
        const zkv_hello_event_t *hello = (const zkv_hello_event_t *) zkv_msg_decode_body (
            zframe_data (body), zframe_size (body), &zkv_hello_event_desc, self->zone, &limits,
            &status);
        if (hello) {
            if (hello->interval_ms && hello->interval_ms <= S_MAX_HELLO_MSECS)
                member->hello_msecs = (int64_t) hello->interval_ms;
            if (!member->id)
                member->id = hello->member;
            s_heard (self, member, hello->boot, hello->seq, true);
        }
    }
    else {
        //  The event is the first message of its topic its body decodes as
        const zkv_desc_t *desc = NULL;
        void *decoded = NULL;
        for (size_t i = 0; name && body && !decoded && i < S_TOPIC_COUNT; i++)
            if (streq (name, s_topics [i].topic)) {
                desc = s_topics [i].desc;
                decoded = zkv_msg_decode_body (zframe_data (body), zframe_size (body), desc,
                                               self->zone, &limits, &status);
                if (decoded && s_topics [i].mark && !s_has_str (desc, decoded, s_topics [i].mark))
                    decoded = NULL;     //  (in the zone, freed with it)
            }
        if (decoded) {
            if (!member->id)
                member->id = s_u64 (desc, decoded, "member");
            uint64_t seq = s_u64 (desc, decoded, "seq"), boot = s_u64 (desc, decoded, "boot");
            s_heard (self, member, boot, seq, false);
            if (!self->topic || streq (name, self->topic)) {
                free (self->topic_held);
                self->topic_held = strdup (name);
                zkv_events_item_t *event = s_queue (self, member, ZKV_EVENTS_EVENT);
                event->topic = self->topic_held;
                event->desc = desc;
                event->body = decoded;
                event->seq = seq;
                event->boot = boot;
            }
        }
    }
    zframe_destroy (&body);
    zstr_free (&name);
    zmsg_destroy (&msg);
}

//  Takes what member's monitor says: a connection that ended loses it
static void
s_monitor (zkv_events_t *self, s_member_t *member)
{
    zmsg_t *msg = zmsg_recv (member->monitor);
    char *what = msg? zmsg_popstr (msg): NULL;
    if (what && streq (what, "DISCONNECTED") && !member->lost) {
        member->lost = true;
        s_queue (self, member, ZKV_EVENTS_LOST)->why = "disconnected";
    }
    zstr_free (&what);
    zmsg_destroy (&msg);
}

int
zkv_events_recv (zkv_events_t *self, int timeout, zkv_events_item_t *event)
{
    int64_t deadline = timeout < 0? INT64_MAX: zclock_mono () + timeout;
    size_t count = zlist_size (self->members);
    s_member_t *listened [count? count: 1];
    size_t index = 0;
    for (s_member_t *member = (s_member_t *) zlist_first (self->members); member;
         member = (s_member_t *) zlist_next (self->members))
        listened [index++] = member;
    while (!zsys_interrupted) {
        if (self->pending_next < self->pending_count) {
            *event = self->pending [self->pending_next++];
            return 0;
        }
        self->pending_count = self->pending_next = 0;
        int64_t now = zclock_mono ();
        if (now >= deadline)
            break;
        //  One message (or one monitor word) at a time: what it tells is
        //  given before the next is read
        zmq_pollitem_t items [2 * count + 1];
        for (size_t i = 0; i < count; i++) {
            items [2 * i] = (zmq_pollitem_t) { zsock_resolve (listened [i]->sub), 0,
                                               ZMQ_POLLIN, 0 };
            items [2 * i + 1] = (zmq_pollitem_t) { zsock_resolve (listened [i]->monitor), 0,
                                                   ZMQ_POLLIN, 0 };
        }
        int64_t wait = deadline - now < S_TICK? deadline - now: S_TICK;
        if (zmq_poll (items, (int) (2 * count), (long) wait) < 0)
            continue;                   //  interrupted: looked at above
        for (size_t i = 0; i < count && self->pending_count == 0; i++) {
            s_member_t *member = listened [i];
            if (items [2 * i + 1].revents & ZMQ_POLLIN)
                s_monitor (self, member);
            else
            if (items [2 * i].revents & ZMQ_POLLIN)
                s_receive (self, member);
        }
        now = zclock_mono ();
        for (size_t i = 0; i < count && self->pending_count < S_PENDING; i++) {
            s_member_t *member = listened [i];
            if (!member->lost && now - member->heard > S_LOST_HELLOS * member->hello_msecs) {
                member->lost = true;
                snprintf (member->why, sizeof member->why, "no word for %" PRId64 " ms",
                          now - member->heard);
                s_queue (self, member, ZKV_EVENTS_LOST)->why = member->why;
            }
        }
    }
    return -1;
}
