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

    The client library's subscriber (zkv_events.h) listens: a SUB socket
    per member; what the seq of every event and the hellos tell (the
    events missed: a subscription not yet live, a subscriber too slow; the
    member's restarts; a member lost, when its connection ends or no word
    came for 3 hello intervals, and found again) is told on stderr. While
    a member stays lost its events endpoint is asked again every
    LOOKUP_MSECS (the member list with --cluster, else its Status), in case
    it publishes elsewhere now.
    =========================================================================
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"
#include "zkv_events.h"

#define LOOKUP_MSECS 2000               //  between two searches for a lost member
#define LOOKUP_TIMEOUT 1000             //  msecs for one search
#define TICK_MSECS 200                  //  the longest wait for an event

static int s_events_run (zkvctl_t *ctl, int argc, char **argv);

const zkvctl_command_t zkvctl_events_command = {
    "events", "events [flags]",
    "Prints the events the members publish (leader, transfer, member, alarm, defrag, snapshot) as they come",
    s_events_run, NULL, NULL
};

static const char *const s_topics [] = {
    "leader", "transfer", "member", "alarm", "defrag", "snapshot", NULL
};

//  One member listened to, as zkvctl knows it (the subscriber keeps the
//  rest): where to ask where it publishes, while it is lost
typedef struct {
    uint64_t id;
    char *client;                       //  its client endpoint (NULL: none known)
    char *endpoint;                     //  its events endpoint, subscribed to
    bool lost;
    int64_t next_lookup;                //  mono msecs, while lost
} s_member_t;

static s_member_t *
s_member_new (zkv_events_t *events, uint64_t id, zkv_bin_t client, zkv_bin_t endpoint)
{
    s_member_t *member = (s_member_t *) zmalloc (sizeof (s_member_t));
    member->id = id;
    member->client = client.size? zsys_sprintf ("%.*s", (int) client.size,
                                                (const char *) client.data): NULL;
    member->endpoint = zsys_sprintf ("%.*s", (int) endpoint.size, (const char *) endpoint.data);
    zkv_events_add (events, member->endpoint, id);
    return member;
}

static void
s_member_destroy (s_member_t **member_p)
{
    s_member_t *member = *member_p;
    if (!member)
        return;
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

//  The members to listen to (a zlist of s_member_t, each added to events),
//  or NULL with the failure recorded
static zlist_t *
s_members (zkvctl_t *ctl, zkv_events_t *events, bool cluster)
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
                zlist_append (members, s_member_new (events, item->member_id,
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
            zlist_append (members, s_member_new (events, status->header
                                                         ? status->header->member_id: 0,
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
s_look_for (zkvctl_t *ctl, zkv_events_t *events, s_member_t *member, bool cluster)
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
        zkv_events_move (events, member->endpoint, found);
        free (member->endpoint);
        member->endpoint = found;
        found = NULL;
    }
    free (found);
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

//  Prints an event
static void
s_print_event (zkvctl_t *ctl, const zkv_events_item_t *event)
{
    bool first = true;
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        printf ("{\"topic\":");
        zkvctl_json_string (stdout, zkv_bin (event->topic, strlen (event->topic)));
        printf (",\"event\":{");
    }
    else
        printf ("%s", event->topic);
    //  The endpoint is not in the event: the member id is
    for (size_t f = 0; f < event->desc->field_count; f++)
        s_print_field (ctl, &event->desc->fields [f], event->body, &first);
    printf (ctl->format == ZKVCTL_FORMAT_JSON? "}}\n": "\n");
    fflush (stdout);
}

//  The member of an item, by its events endpoint
static s_member_t *
s_member_of (s_member_t **listened, size_t count, const zkv_events_item_t *item)
{
    for (size_t i = 0; i < count; i++)
        if (streq (listened [i]->endpoint, item->endpoint))
            return listened [i];
    return NULL;
}

//  Tells a notice on stderr, as it concerns member
static void
s_tell (s_member_t *member, const zkv_events_item_t *item)
{
    uint64_t id = item->member? item->member: member? member->id: 0;
    if (member && item->member)
        member->id = item->member;
    if (item->kind == ZKV_EVENTS_LOST) {
        fprintf (stderr, "Member %016" PRIx64 " lost at %s (%s)\n", id, item->endpoint,
                 item->why);
        if (member) {
            member->lost = true;
            member->next_lookup = zclock_mono ();
        }
    }
    else
    if (item->kind == ZKV_EVENTS_FOUND)
        fprintf (stderr, "Member %016" PRIx64 " found again at %s%s\n", id, item->endpoint,
                 item->restarted? " (restarted)": "");
    else
    if (item->kind == ZKV_EVENTS_RESTARTED)
        fprintf (stderr, "Member %016" PRIx64 " restarted at %s\n", id, item->endpoint);
    else
    if (item->kind == ZKV_EVENTS_MISSED)
        fprintf (stderr, "Missed %" PRIu64 " event%s of member %016" PRIx64
                 " (seq %" PRIu64 " to %" PRIu64 ")\n",
                 item->missed_to - item->missed_from + 1,
                 item->missed_to > item->missed_from? "s": "", id,
                 item->missed_from, item->missed_to);
    if (member && item->kind != ZKV_EVENTS_LOST)
        member->lost = false;
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
    for (size_t i = 0; s_topics [i] && !known; i++)
        known = streq (topic, s_topics [i]);
    if (!known)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown topic \"%s\"", topic);
    if (zkvctl_ready (ctl, false))
        return -1;
    zkv_events_t *events = zkv_events_new (ctl->curve);
    zkv_events_set_topic (events, topic);
    zlist_t *members = s_members (ctl, events, cluster);
    if (!members) {
        zkv_events_destroy (&events);
        return -1;
    }
    size_t member_count = zlist_size (members);
    if (member_count == 0) {
        zlist_destroy (&members);
        zkv_events_destroy (&events);
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
        int64_t now = zclock_mono ();
        if (bounded && now >= deadline) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "context deadline exceeded");
            break;
        }
        int64_t wait = bounded && deadline - now < TICK_MSECS? deadline - now: TICK_MSECS;
        zkv_events_item_t item;
        if (zkv_events_recv (events, (int) wait, &item) == 0) {
            s_member_t *member = s_member_of (listened, member_count, &item);
            if (item.kind == ZKV_EVENTS_EVENT) {
                s_print_event (ctl, &item);
                seen++;
            }
            else
                s_tell (member, &item);
        }
        for (size_t i = 0; i < member_count; i++) {
            s_member_t *member = listened [i];
            if (member->lost && zclock_mono () >= member->next_lookup) {
                s_look_for (ctl, events, member, cluster);
                member->next_lookup = zclock_mono () + LOOKUP_MSECS;
            }
        }
    }
    for (size_t i = 0; i < member_count; i++)
        s_member_destroy (&listened [i]);
    zkv_events_destroy (&events);
    return rc;
}
