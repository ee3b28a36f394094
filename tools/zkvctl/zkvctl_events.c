/*  =========================================================================
    zkvctl_events.c — `events [--cluster] [--topic T] [--max-events N]`:
    subscribes to the events of one or every member and prints one line
    per event until interrupted (zkv's own command: etcd has no events).

    The members to listen to: those of --endpoints (their events endpoint
    from Status), or with --cluster every member of the member list (its
    published events endpoint); a member that cannot be listened to is told
    on stderr and the others are listened to (events are news, not a log).
    --topic keeps one topic (leader, transfer, member, alarm, defrag,
    snapshot; another is refused); --max-events N stops after N events; a
    --command-timeout given stops it then (exit 1).

    simple: `<topic> field=value ...`, values as the event carries them
    (member ids in hex; a member table as `members=<id>,<id>(learner)`).
    json: one JSON object per line, `{"topic":…,"event":{…}}`, numbers as
    numbers, members as in member list -w json. Topic `member` carries two
    kinds of event: a member down or up (member_event), and a change of
    the membership (membership_event).

    Each member has a SUB socket of its own, subscribed to every topic
    (the topic asked is kept here): the seq of every event and the hellos
    tell on stderr the events missed (a subscription not yet live, a
    subscriber too slow) and the member's restarts. A member is lost when
    its connection ends (the socket's monitor tells) or when no hello came
    for LOST_HELLOS intervals; ZeroMQ connects again by itself, and while
    the member stays lost its events endpoint is asked again every
    LOOKUP_MSECS (the member list with --cluster, else its Status), in case
    it publishes elsewhere now. Lost and found again are told on stderr.
    =========================================================================
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"
#include "zkv_event_seq.h"

#define LOST_HELLOS 3                   //  hello intervals without a word
#define DEFAULT_HELLO_MSECS 1000        //  until a member's first hello says
#define MAX_HELLO_MSECS 3600000         //  beyond, a hello's interval is not believed
#define LOOKUP_MSECS 2000               //  between two searches for a lost member
#define LOOKUP_TIMEOUT 1000             //  msecs for one search

static int s_events_run (zkvctl_t *ctl, int argc, char **argv);

const zkvctl_command_t zkvctl_events_command = {
    "events", "events [flags]",
    "Prints the events the members publish (leader, transfer, member, alarm, defrag, snapshot) as they come",
    s_events_run, NULL, NULL
};

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
#define TOPIC_COUNT (sizeof s_topics / sizeof s_topics [0])

//  One member listened to
typedef struct {
    uint64_t id;
    char *client;                       //  its client endpoint (NULL: none known)
    char *endpoint;                     //  its events endpoint, subscribed to
    zsock_t *sub;
    zactor_t *monitor;                  //  tells when sub's connection ends
    zkv_event_seq_t seq;                //  what its seqs told so far
    int64_t heard;                      //  mono msecs: its last word (or the
                                        //  subscription)
    int64_t hello_msecs;                //  its hello interval
    bool lost;
    int64_t next_lookup;                //  mono msecs, while lost
} s_member_t;

//  Subscribes to member's events at member->endpoint (anew)
static void
s_subscribe (zkvctl_t *ctl, s_member_t *member)
{
    if (member->monitor)
        zactor_destroy (&member->monitor);
    zsock_destroy (&member->sub);
    member->sub = zsock_new (ZMQ_SUB);
    zkv_curve_apply (ctl->curve, member->sub);
    zsock_set_subscribe (member->sub, "");
    //  The monitor first: it must see the first connection too
    member->monitor = zactor_new (zmonitor, member->sub);
    zstr_sendx (member->monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_sendx (member->monitor, "START", NULL);
    zsock_wait (member->monitor);
    zsock_connect (member->sub, "%s", member->endpoint);
    member->heard = zclock_mono ();
}

static s_member_t *
s_member_new (zkvctl_t *ctl, uint64_t id, zkv_bin_t client, zkv_bin_t endpoint)
{
    s_member_t *member = (s_member_t *) zmalloc (sizeof (s_member_t));
    member->id = id;
    member->client = client.size? zsys_sprintf ("%.*s", (int) client.size,
                                                (const char *) client.data): NULL;
    member->endpoint = zsys_sprintf ("%.*s", (int) endpoint.size, (const char *) endpoint.data);
    member->hello_msecs = DEFAULT_HELLO_MSECS;
    s_subscribe (ctl, member);
    return member;
}

static void
s_member_destroy (s_member_t **member_p)
{
    s_member_t *member = *member_p;
    if (!member)
        return;
    zactor_destroy (&member->monitor);
    zsock_destroy (&member->sub);
    free (member->client);
    free (member->endpoint);
    free (member);
    *member_p = NULL;
}

//  A call that gives up soon (a lost member is looked for again later);
//  NULL on any failure, which is not the command's
static zkv_msg_t *
s_ask (zkvctl_t *ctl, const char *endpoints, const zkv_desc_t *desc, const void *request)
{
    zkv_client_t *client = zkvctl_client (ctl, endpoints, LOOKUP_TIMEOUT);
    if (!client)
        return NULL;
    zkv_result_t status;
    zkv_msg_t *reply = zkv_client_call (client, desc, request, &status);
    zkv_client_destroy (&client);
    if (reply && reply->desc != desc->response)
        zkv_msg_destroy (&reply);
    return reply;
}

//  The members to listen to (a zlist of s_member_t), or NULL with the
//  failure recorded
static zlist_t *
s_members (zkvctl_t *ctl, bool cluster)
{
    zlist_t *members = zlist_new ();
    if (cluster) {
        zkv_member_list_t request = { .linearizable = false };
        zkv_msg_t *reply = zkvctl_call (ctl, &zkv_member_list_desc, &request);
        if (!reply) {
            zlist_destroy (&members);
            return NULL;
        }
        const zkv_member_list_response_t *list =
            (const zkv_member_list_response_t *) reply->body;
        for (size_t i = 0; i < list->members.count; i++) {
            const zkv_cluster_member_t *item = &list->members.items [i];
            if (item->events_endpoint.size)
                zlist_append (members, s_member_new (ctl, item->member_id,
                                                     item->client_endpoint,
                                                     item->events_endpoint));
            else
                //  Not started yet, or never published: not silently left out
                fprintf (stderr, "Member %016" PRIx64 " (%.*s) has no events endpoint yet\n",
                         item->member_id, (int) item->name.size,
                         item->name.data? (const char *) item->name.data: "");
        }
        zkv_msg_destroy (&reply);
        return members;
    }
    char *endpoints = strdup (ctl->endpoints);
    char *saved = NULL;
    for (char *item = strtok_r (endpoints, ",", &saved); item;
         item = strtok_r (NULL, ",", &saved)) {
        zkv_status_t request = { false };
        zkv_msg_t *reply = zkvctl_call_at (ctl, item, &zkv_status_desc, &request);
        if (!reply) {
            fprintf (stderr, "Failed to get the status of endpoint %s (%s)\n", item, ctl->error);
            continue;
        }
        const zkv_status_response_t *status = (const zkv_status_response_t *) reply->body;
        if (status->events_endpoint.size)
            zlist_append (members, s_member_new (ctl, status->header? status->header->member_id
                                                                    : 0,
                                                 zkv_bin (item, strlen (item)),
                                                 status->events_endpoint));
        else
            fprintf (stderr, "Endpoint %s publishes no events\n", item);
        zkv_msg_destroy (&reply);
    }
    free (endpoints);
    return members;
}

//  Asks where a lost member publishes now, and subscribes there if that
//  changed: the member list (cluster), else the member's Status
static void
s_look_for (zkvctl_t *ctl, s_member_t *member, bool cluster)
{
    char *found = NULL;
    if (cluster) {
        zkv_member_list_t request = { .linearizable = false };
        zkv_msg_t *reply = s_ask (ctl, ctl->endpoints, &zkv_member_list_desc, &request);
        const zkv_member_list_response_t *list =
            reply? (const zkv_member_list_response_t *) reply->body: NULL;
        for (size_t i = 0; list && i < list->members.count && !found; i++) {
            const zkv_cluster_member_t *item = &list->members.items [i];
            if (item->member_id == member->id && item->events_endpoint.size)
                found = zsys_sprintf ("%.*s", (int) item->events_endpoint.size,
                                      (const char *) item->events_endpoint.data);
        }
        zkv_msg_destroy (&reply);
    }
    else
    if (member->client) {
        zkv_status_t request = { false };
        zkv_msg_t *reply = s_ask (ctl, member->client, &zkv_status_desc, &request);
        const zkv_status_response_t *status =
            reply? (const zkv_status_response_t *) reply->body: NULL;
        if (status && status->events_endpoint.size
        &&  (!status->header || status->header->member_id == member->id))
            found = zsys_sprintf ("%.*s", (int) status->events_endpoint.size,
                                  (const char *) status->events_endpoint.data);
        zkv_msg_destroy (&reply);
    }
    if (found && !streq (found, member->endpoint)) {
        fprintf (stderr, "Member %016" PRIx64 " publishes on %s now (was %s)\n", member->id,
                 found, member->endpoint);
        free (member->endpoint);
        member->endpoint = found;
        found = NULL;
        s_subscribe (ctl, member);
    }
    free (found);
}

static void
s_lose (s_member_t *member, const char *why)
{
    fprintf (stderr, "Member %016" PRIx64 " lost at %s (%s)\n", member->id, member->endpoint,
             why);
    member->lost = true;
    member->next_lookup = zclock_mono ();
}

//  A message from member: an event (hello false) or a hello, with its
//  seq and boot: tells what it means for the member and its events
static void
s_heard (s_member_t *member, uint64_t boot, uint64_t seq, bool hello)
{
    zkv_event_seq_news_t news = zkv_event_seq_heard (&member->seq, boot, seq, hello);
    if (member->lost)
        fprintf (stderr, "Member %016" PRIx64 " found again at %s%s\n", member->id,
                 member->endpoint, news.restarted? " (restarted)": "");
    else
    if (news.restarted)
        fprintf (stderr, "Member %016" PRIx64 " restarted at %s\n", member->id,
                 member->endpoint);
    if (news.missed_from)
        fprintf (stderr, "Missed %" PRIu64 " event%s of member %016" PRIx64
                 " (seq %" PRIu64 " to %" PRIu64 ")\n",
                 news.missed_to - news.missed_from + 1,
                 news.missed_to > news.missed_from? "s": "", member->id,
                 news.missed_from, news.missed_to);
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

//  Prints one field of an event
static void
s_print_field (zkvctl_t *ctl, const zkv_field_t *field, const void *event, bool *first)
{
    const char *at = (const char *) event + field->offset;
    bool json = ctl->format == ZKVCTL_FORMAT_JSON;
    bool id = streq (field->name, "member") || streq (field->name, "leader")
           || streq (field->name, "previous") || streq (field->name, "from")
           || streq (field->name, "to") || streq (field->name, "peer")
           || streq (field->name, "reporter") || streq (field->name, "member_id")
           || streq (field->name, "replaced");
    if (field->type == ZKV_T_U64) {
        uint64_t value = *(const uint64_t *) at;
        if (json) {
            zkvctl_json_name (stdout, first, field->name);
            printf ("%" PRIu64, value);
        }
        else
        if (id)
            printf (" %s=%016" PRIx64, field->name, value);
        else
            printf (" %s=%" PRIu64, field->name, value);
    }
    else
    if (field->type == ZKV_T_I64) {
        int64_t value = *(const int64_t *) at;
        if (json) {
            zkvctl_json_name (stdout, first, field->name);
            printf ("%" PRId64, value);
        }
        else
            printf (" %s=%" PRId64, field->name, value);
    }
    else
    if (field->type == ZKV_T_BOOL) {
        bool value = *(const bool *) at;
        if (json)
            zkvctl_json_name (stdout, first, field->name);
        printf (json? "%s": " %s=%s", json? (value? "true": "false"): field->name,
                value? "true": "false");
    }
    else
    if (field->type == ZKV_T_LIST && field->sub == &zkv_cluster_member_desc) {
        const zkv_cluster_member_list_t *members = (const zkv_cluster_member_list_t *) at;
        if (json) {
            zkvctl_json_name (stdout, first, field->name);
            printf ("[");
        }
        else
            printf (" %s=", field->name);
        for (size_t i = 0; i < members->count; i++) {
            const zkv_cluster_member_t *member = &members->items [i];
            if (json) {
                printf (i? ",": "");
                zkvctl_json_member (stdout, member);
            }
            else
                printf ("%s%016" PRIx64 "%s", i? ",": "", member->member_id,
                        member->is_learner? "(learner)": "");
        }
        if (json)
            printf ("]");
    }
    else
    if (field->type == ZKV_T_STR) {
        const zkv_bin_t *text = (const zkv_bin_t *) at;
        if (!text->size)
            return;
        if (json) {
            zkvctl_json_name (stdout, first, field->name);
            zkvctl_json_string (stdout, *text);
        }
        else {
            char *quoted = zkvctl_quote (text->data, text->size);
            printf (" %s=%s", field->name, quoted);
            free (quoted);
        }
    }
}

//  Receives one message of member; prints it if it is an event of the
//  topic wanted. Returns true if it printed one.
static bool
s_receive (zkvctl_t *ctl, s_member_t *member, const char *topic)
{
    zmsg_t *msg = zmsg_recv (member->sub);
    char *name = msg? zmsg_popstr (msg): NULL;
    zframe_t *body = msg? zmsg_pop (msg): NULL;
    msgpack_zone *zone = msgpack_zone_new (1024);
    zkv_limits_t limits = zkv_limits_client ();
    zkv_result_t status;
    bool printed = false;
    if (name && body && streq (name, "hello")) {
        const zkv_hello_event_t *hello = (const zkv_hello_event_t *) zkv_msg_decode_body (
            zframe_data (body), zframe_size (body), &zkv_hello_event_desc, zone, &limits,
            &status);
        if (hello) {
            if (hello->interval_ms && hello->interval_ms <= MAX_HELLO_MSECS)
                member->hello_msecs = (int64_t) hello->interval_ms;
            s_heard (member, hello->boot, hello->seq, true);
        }
    }
    else {
        //  The event is the first message of its topic its body decodes as
        const zkv_desc_t *desc = NULL;
        void *event = NULL;
        for (size_t i = 0; name && body && !event && i < TOPIC_COUNT; i++)
            if (streq (name, s_topics [i].topic)) {
                desc = s_topics [i].desc;
                event = zkv_msg_decode_body (zframe_data (body), zframe_size (body), desc, zone,
                                             &limits, &status);
                if (event && s_topics [i].mark && !s_has_str (desc, event, s_topics [i].mark))
                    event = NULL;       //  (in the zone, freed with it)
            }
        if (event)
            s_heard (member, s_u64 (desc, event, "boot"), s_u64 (desc, event, "seq"), false);
        if (event && (!*topic || streq (name, topic))) {
            //  The endpoint is not in the event: the member id is
            bool first = true;
            if (ctl->format == ZKVCTL_FORMAT_JSON) {
                printf ("{\"topic\":");
                zkvctl_json_string (stdout, zkv_bin (name, strlen (name)));
                printf (",\"event\":{");
            }
            else
                printf ("%s", name);
            for (size_t f = 0; f < desc->field_count; f++)
                s_print_field (ctl, &desc->fields [f], event, &first);
            printf (ctl->format == ZKVCTL_FORMAT_JSON? "}}\n": "\n");
            fflush (stdout);
            printed = true;
        }
    }
    msgpack_zone_free (zone);
    zframe_destroy (&body);
    zstr_free (&name);
    zmsg_destroy (&msg);
    return printed;
}

//  Takes what member's monitor says: a connection that ended loses it
static void
s_monitor (s_member_t *member)
{
    zmsg_t *msg = zmsg_recv (member->monitor);
    char *event = msg? zmsg_popstr (msg): NULL;
    if (event && streq (event, "DISCONNECTED") && !member->lost)
        s_lose (member, "disconnected");
    zstr_free (&event);
    zmsg_destroy (&msg);
}

static int
s_events_run (zkvctl_t *ctl, int argc, char **argv)
{
    bool cluster = false;
    const char *topic = "";
    int64_t max_events = 0;
    zkvctl_flag_t flags [] = {
        { "cluster", 0, ZKVCTL_FLAG_BOOL, &cluster, "false",
          "listen to every member of the cluster member list", false },
        { "topic", 0, ZKVCTL_FLAG_STRING, &topic, "\"\"",
          "only the events of this topic (leader, transfer, member, alarm, defrag, snapshot)", false },
        { "max-events", 0, ZKVCTL_FLAG_INT64, &max_events, "0",
          "stop after this many events (0: until interrupted)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &zkvctl_events_command, flags, true, argc - 1, argv + 1,
                                 NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (max_events < 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--max-events must not be negative");
    bool known = !*topic;
    for (size_t i = 0; i < TOPIC_COUNT && !known; i++)
        known = streq (topic, s_topics [i].topic);
    if (!known)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown topic \"%s\"", topic);
    if (zkvctl_ready (ctl, false))
        return -1;
    zlist_t *members = s_members (ctl, cluster);
    if (!members)
        return -1;
    size_t member_count = zlist_size (members);
    if (member_count == 0) {
        zlist_destroy (&members);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "no member to listen to");
    }
    s_member_t *listened [member_count];
    for (size_t i = 0; i < member_count; i++)
        listened [i] = (s_member_t *) (i? zlist_next (members): zlist_first (members));
    zlist_destroy (&members);
    //  Until interrupted, or --max-events events, or --command-timeout when
    //  given (then a deadline, as for any command)
    bool bounded = zkvctl_flag_changed (ctl->globals, "command-timeout");
    int64_t deadline = zclock_mono () + ctl->command_timeout / 1000000;
    int64_t seen = 0;
    while (!zsys_interrupted && (max_events == 0 || seen < max_events)) {
        if (bounded && zclock_mono () >= deadline) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "context deadline exceeded");
            break;
        }
        //  Sockets change when a member moves: polled as they are now
        zmq_pollitem_t items [2 * member_count];
        for (size_t i = 0; i < member_count; i++) {
            items [2 * i] = (zmq_pollitem_t) {
                zsock_resolve (listened [i]->sub), 0, ZMQ_POLLIN, 0 };
            items [2 * i + 1] = (zmq_pollitem_t) {
                zsock_resolve (listened [i]->monitor), 0, ZMQ_POLLIN, 0 };
        }
        if (zmq_poll (items, (int) (2 * member_count), 200) < 0)
            continue;                   //  interrupted: looked at above
        for (size_t i = 0; i < member_count; i++) {
            s_member_t *member = listened [i];
            if (items [2 * i + 1].revents & ZMQ_POLLIN)
                s_monitor (member);
            if ((items [2 * i].revents & ZMQ_POLLIN)
            &&  s_receive (ctl, member, topic))
                seen++;
            int64_t now = zclock_mono ();
            if (!member->lost && now - member->heard > LOST_HELLOS * member->hello_msecs) {
                char why [64];
                snprintf (why, sizeof why, "no word for %" PRId64 " ms", now - member->heard);
                s_lose (member, why);
            }
            if (member->lost && now >= member->next_lookup) {
                s_look_for (ctl, member, cluster);
                member->next_lookup = zclock_mono () + LOOKUP_MSECS;
            }
        }
    }
    for (size_t i = 0; i < member_count; i++)
        s_member_destroy (&listened [i]);
    return rc;
}
