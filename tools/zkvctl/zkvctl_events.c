/*  =========================================================================
    zkvctl_events.c — `events [--cluster] [--topic T] [--max-events N]`:
    subscribes to the events of one or every member and prints one line
    per event until interrupted (zkv's own command: etcd has no events).

    The members to listen to: those of --endpoints (their events endpoint
    from Status), or with --cluster every member of the member list (its
    published events endpoint); a member that cannot be listened to is told
    on stderr and the others are listened to (events are news, not a log).
    --topic keeps one topic (leader, transfer, member, alarm, defrag,
    snapshot; another is refused);
    --max-events N stops after N events; a --command-timeout given stops it
    then (exit 1).

    simple: `<topic> field=value ...`, values as the event carries them
    (member ids in hex; a member table as `members=<id>,<id>(learner)`).
    json: one JSON object per line, `{"topic":…,"event":{…}}`, numbers as
    numbers, members as in member list -w json. Topic `member` carries two
    kinds of event: a member down or up (member_event), and a change of
    the membership (membership_event).
    =========================================================================
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"

static int s_events_run (zkvctl_t *ctl, int argc, char **argv);

const zkvctl_command_t zkvctl_events_command = {
    "events", "events [flags]",
    "Prints the events the members publish (leader, transfer, member, alarm, defrag, snapshot) as they come",
    s_events_run, NULL, NULL
};

//  The event message of each topic
static const struct {
    const char *topic;
    const zkv_desc_t *desc;
} s_topics [] = {
    { "leader", &zkv_leader_event_desc },
    { "transfer", &zkv_transfer_event_desc },
    { "member", &zkv_member_event_desc },
    { "member", &zkv_membership_event_desc },
    { "defrag", &zkv_defrag_event_desc },
    { "snapshot", &zkv_snapshot_event_desc },
    { "alarm", &zkv_alarm_event_desc }
};

//  The events endpoints to listen to, or NULL with the failure recorded
static zlist_t *
s_events_endpoints (zkvctl_t *ctl, bool cluster)
{
    if (cluster) {
        bool incomplete;
        return zkvctl_member_endpoints (ctl, true, &incomplete);
    }
    zlist_t *list = zlist_new ();
    zlist_autofree (list);
    zkv_msg_t *reply = NULL;
    char *endpoints = strdup (ctl->endpoints);
    char *saved = NULL;
    for (char *item = strtok_r (endpoints, ",", &saved); item;
         item = strtok_r (NULL, ",", &saved)) {
        zkv_status_t request = { false };
        reply = zkvctl_call_at (ctl, item, &zkv_status_desc, &request);
        if (!reply) {
            fprintf (stderr, "Failed to get the status of endpoint %s (%s)\n", item, ctl->error);
            continue;
        }
        zkv_bin_t events = ((const zkv_status_response_t *) reply->body)->events_endpoint;
        if (events.size) {
            char *endpoint = zsys_sprintf ("%.*s", (int) events.size, (const char *) events.data);
            zlist_append (list, endpoint);
            free (endpoint);
        }
        else
            fprintf (stderr, "Endpoint %s publishes no events\n", item);
        zkv_msg_destroy (&reply);
    }
    free (endpoints);
    return list;
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
    for (size_t i = 0; i < sizeof s_topics / sizeof s_topics [0] && !known; i++)
        known = streq (topic, s_topics [i].topic);
    if (!known)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "unknown topic \"%s\"", topic);
    if (zkvctl_ready (ctl, false))
        return -1;
    zlist_t *endpoints = s_events_endpoints (ctl, cluster);
    if (!endpoints)
        return -1;
    if (zlist_size (endpoints) == 0) {
        zlist_destroy (&endpoints);
        return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "no member to listen to");
    }
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zkv_curve_apply (ctl->curve, sub);
    zsock_set_subscribe (sub, topic);
    for (char *endpoint = (char *) zlist_first (endpoints); endpoint;
         endpoint = (char *) zlist_next (endpoints))
        zsock_connect (sub, "%s", endpoint);
    //  Until interrupted, or --max-events events, or --command-timeout when
    //  given (then a deadline, as for any command)
    bool bounded = zkvctl_flag_changed (ctl->globals, "command-timeout");
    int64_t deadline = zclock_mono () + ctl->command_timeout / 1000000;
    zpoller_t *poller = zpoller_new (sub, NULL);
    int64_t seen = 0;
    while (!zsys_interrupted && (max_events == 0 || seen < max_events)) {
        if (bounded && zclock_mono () >= deadline) {
            rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "context deadline exceeded");
            break;
        }
        if (!zpoller_wait (poller, 200))
            continue;
        zmsg_t *msg = zmsg_recv (sub);
        char *name = msg? zmsg_popstr (msg): NULL;
        zframe_t *body = msg? zmsg_pop (msg): NULL;
        //  A SUB filters by prefix: the topic asked for is the whole name;
        //  the event is the first message of its topic its body decodes as
        const zkv_desc_t *desc = NULL;
        msgpack_zone *zone = msgpack_zone_new (1024);
        zkv_limits_t limits = zkv_limits_trusted ();
        zkv_result_t status;
        void *event = NULL;
        for (size_t i = 0; name && body && !event && i < sizeof s_topics / sizeof s_topics [0];
             i++)
            if (streq (name, s_topics [i].topic) && (!*topic || streq (name, topic))) {
                desc = s_topics [i].desc;
                event = zkv_msg_decode_body (zframe_data (body), zframe_size (body), desc, zone,
                                             &limits, &status);
            }
        if (event) {
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
            seen++;
        }
        msgpack_zone_free (zone);
        zframe_destroy (&body);
        zstr_free (&name);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
    zlist_destroy (&endpoints);
    return rc;
}
