/*  =========================================================================
    zkvctl_alarm.c — `alarm list`, `alarm disarm`, as etcdctl has them
    (etcdctl/ctlv3/command/alarm_command.go), and `alarm activate` for drills
    (zkv's own).

    list: one line per alarm, as etcdctl prints the AlarmMember proto,
        memberID:<decimal> alarm:NOSPACE
    (with its trailing space); -w json: the reply,
        {"header":{…},"alarms":[{"memberID":…,"alarm":1}]}
    -w fields: the header's lines, then for each alarm
        "MemberID" : <decimal>
        "AlarmType" : NOSPACE
    and a blank line.
    disarm: lists the alarms, deactivates each, and prints those it
    deactivated in the same way (a NOSPACE whose cause remains comes back
    with the next write). activate nospace|corrupt [--member ID]: raises the
    alarm for the member with that hex id (by default the member asked),
    through raft as any alarm, and prints it. No alarm: nothing printed,
    exit 0.
    =========================================================================
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zkvctl.h"
#include "zkv_alarm_table.h"

static int s_alarm_list_run (zkvctl_t *ctl, int argc, char **argv);
static int s_alarm_disarm_run (zkvctl_t *ctl, int argc, char **argv);
static int s_alarm_activate_run (zkvctl_t *ctl, int argc, char **argv);

static const zkvctl_command_t s_alarm_list_command = {
    "list", "alarm list", "Lists all alarms", s_alarm_list_run, NULL, NULL
};
static const zkvctl_command_t s_alarm_disarm_command = {
    "disarm", "alarm disarm", "Disarms all alarms", s_alarm_disarm_run, NULL, NULL
};
static const zkvctl_command_t s_alarm_activate_command = {
    "activate", "alarm activate <nospace|corrupt> [--member <hex id>]",
    "Raises an alarm, for drills (zkv's own)", s_alarm_activate_run, NULL, NULL
};

//  Prints alarms as etcdctl does
static void
s_print (zkvctl_t *ctl, const zkv_header_t *header, const zkv_alarm_member_t *alarms,
         size_t count)
{
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        bool first = true;
        printf ("{");
        zkvctl_json_header (stdout, &first, header);
        zkvctl_json_name (stdout, &first, "alarms");
        printf ("[");
        for (size_t i = 0; i < count; i++)
            printf ("%s{\"memberID\":%" PRIu64 ",\"alarm\":%" PRIu64 "}", i? ",": "",
                    alarms [i].member_id, alarms [i].alarm);
        printf ("]}\n");
        return;
    }
    if (ctl->format == ZKVCTL_FORMAT_FIELDS) {
        //  etcdctl's fieldsPrinter (3.4 panics on etcd's reply, which has
        //  no header; a zkv reply has one)
        zkvctl_fields_header (ctl, header);
        for (size_t i = 0; i < count; i++) {
            char text [64];
            zkv_alarm_text (&alarms [i], text, sizeof text);
            //  "memberID:<id> alarm:NOSPACE ": the type's name
            const char *type = strstr (text, "alarm:");
            type = type? type + strlen ("alarm:"): "";
            printf ("\"MemberID\" : %" PRIu64 "\n\"AlarmType\" : %.*s\n\n", alarms [i].member_id,
                    (int) strcspn (type, " "), type);
        }
        return;
    }
    for (size_t i = 0; i < count; i++) {
        char text [64];
        zkv_alarm_text (&alarms [i], text, sizeof text);
        printf ("%s\n", text);
    }
}

//  Parses a subcommand without flags or arguments of its own
static int
s_parse (zkvctl_t *ctl, const zkvctl_command_t *command, int argc, char **argv)
{
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, command, NULL, true, argc - 1, argv + 1, NULL, positional,
                                 &count);
    if (rc)
        return rc == ZKVCTL_HELP? ZKVCTL_HELP: -1;
    if (count > 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "alarm %s takes no arguments",
                            command->name);
    return zkvctl_ready (ctl, false);
}

static zkv_msg_t *
s_call (zkvctl_t *ctl, uint64_t action, uint64_t member, uint64_t type)
{
    zkv_alarm_t request = { .action = action, .member_id = member, .alarm = type };
    return zkvctl_call (ctl, &zkv_alarm_desc, &request);
}

//  Parses the subcommand and lists every alarm: 0 with *listed, or 1 for
//  --help, or -1
static int
s_list (zkvctl_t *ctl, const zkvctl_command_t *command, int argc, char **argv,
        zkv_msg_t **listed)
{
    int rc = s_parse (ctl, command, argc, argv);
    if (rc)
        return rc == ZKVCTL_HELP? 1: -1;
    *listed = s_call (ctl, ZKV_ALARM_GET, 0, ZKV_ALARM_NONE);
    return *listed? 0: -1;
}

static int
s_alarm_list_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_msg_t *reply = NULL;
    int rc = s_list (ctl, &s_alarm_list_command, argc, argv, &reply);
    if (rc)
        return rc > 0? 0: -1;
    const zkv_alarm_response_t *response = (const zkv_alarm_response_t *) reply->body;
    s_print (ctl, response->header, response->alarms.items, response->alarms.count);
    zkv_msg_destroy (&reply);
    return 0;
}

static int
s_alarm_disarm_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_msg_t *listed = NULL;
    int rc = s_list (ctl, &s_alarm_disarm_command, argc, argv, &listed);
    if (rc)
        return rc > 0? 0: -1;
    const zkv_alarm_response_t *list = (const zkv_alarm_response_t *) listed->body;
    size_t count = list->alarms.count;
    zkv_alarm_member_t *disarmed = (zkv_alarm_member_t *) calloc (count + 1,
                                                                  sizeof (zkv_alarm_member_t));
    size_t disarmed_count = 0;
    zkv_msg_t *last = NULL;
    for (size_t i = 0; i < count && rc == 0; i++) {
        zkv_msg_t *reply = s_call (ctl, ZKV_ALARM_DEACTIVATE, list->alarms.items [i].member_id,
                                   list->alarms.items [i].alarm);
        if (!reply) {
            rc = -1;
            break;
        }
        const zkv_alarm_response_t *response = (const zkv_alarm_response_t *) reply->body;
        for (size_t j = 0; j < response->alarms.count && disarmed_count < count; j++)
            disarmed [disarmed_count++] = response->alarms.items [j];
        zkv_msg_destroy (&last);
        last = reply;
    }
    if (rc == 0)
        s_print (ctl, last? ((const zkv_alarm_response_t *) last->body)->header: list->header,
                 disarmed, disarmed_count);
    free (disarmed);
    zkv_msg_destroy (&last);
    zkv_msg_destroy (&listed);
    return rc;
}

static int
s_alarm_activate_run (zkvctl_t *ctl, int argc, char **argv)
{
    const char *member_text = NULL;
    zkvctl_flag_t flags [] = {
        { "member", 0, ZKVCTL_FLAG_STRING, &member_text, "\"\"",
          "the member's id in hex (default: the member asked)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_alarm_activate_command, flags, true, argc - 1,
                                 argv + 1, NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    char type_text [16] = "";
    if (count == 1)
        zkv_bin_str (positional [0], type_text, sizeof type_text);
    uint64_t type = strcasecmp (type_text, "nospace") == 0? ZKV_ALARM_NOSPACE
                  : strcasecmp (type_text, "corrupt") == 0? ZKV_ALARM_CORRUPT: ZKV_ALARM_NONE;
    if (type == ZKV_ALARM_NONE)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS,
                            "alarm activate needs one argument: nospace or corrupt");
    uint64_t member = 0;
    if (member_text && *member_text) {
        char *end = NULL;
        member = strtoull (member_text, &end, 16);
        if (!end || *end || member == 0)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "invalid member id %s", member_text);
    }
    if (zkvctl_ready (ctl, false))
        return -1;
    if (!member) {
        zkv_status_t status_request = { false };
        zkv_msg_t *status = zkvctl_call (ctl, &zkv_status_desc, &status_request);
        if (!status)
            return -1;
        const zkv_header_t *header = ((const zkv_status_response_t *) status->body)->header;
        member = header? header->member_id: 0;
        zkv_msg_destroy (&status);
    }
    zkv_msg_t *reply = s_call (ctl, ZKV_ALARM_ACTIVATE, member, type);
    if (!reply)
        return -1;
    const zkv_alarm_response_t *response = (const zkv_alarm_response_t *) reply->body;
    s_print (ctl, response->header, response->alarms.items, response->alarms.count);
    zkv_msg_destroy (&reply);
    return 0;
}

static const zkvctl_command_t *const s_alarm_commands [] = {
    &s_alarm_activate_command,
    &s_alarm_disarm_command,
    &s_alarm_list_command,
    NULL
};

static int
s_alarm_run (zkvctl_t *ctl, int argc, char **argv)
{
    return zkvctl_subcommand_run (ctl, &zkvctl_alarm_command, argc, argv);
}

const zkvctl_command_t zkvctl_alarm_command = {
    "alarm", "alarm <subcommand> [options]", "Alarm related commands",
    s_alarm_run, s_alarm_commands, NULL
};
