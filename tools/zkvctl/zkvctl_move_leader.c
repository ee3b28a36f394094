/*  =========================================================================
    zkvctl_move_leader.c — `move-leader <target>`, as etcdctl has it
    (etcdctl/ctlv3/command/move_leader_command.go): on success, on stdout,
        Leadership transferred from <old hex> to <new hex>
    (-w json prints the reply instead; -w table and -w fields, which
    etcdctl cannot print either, are refused before anything is sent).

    DEVIATION: etcdctl asks every endpoint for its Status and fails with
    `no leader endpoint given` unless the leader is among them; any zkv
    member takes the request and forwards it to the leader, so one call to
    any endpoint does. The target is a member id in hex, as etcdctl takes
    it, or a member name. The member waits for the target to lead for
    --command-timeout when that is given, its own default otherwise (twice
    the election timeout), and zkvctl waits for its answer (a minute at
    most, then).
    =========================================================================
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkvctl.h"

#define S_GRACE_NSECS 1000000000LL      //  to hear the member's own timeout
#define S_DEFAULT_NSECS (60LL * 1000000000LL)   //  when --command-timeout is not given

static int s_move_leader_run (zkvctl_t *ctl, int argc, char **argv);

const zkvctl_command_t zkvctl_move_leader_command = {
    "move-leader", "move-leader <transferee-member-id | transferee-name>",
    "Transfers leadership to another zkv cluster member.", s_move_leader_run, NULL, NULL
};

//  A member id as etcdctl reads it (strconv.ParseUint (text, 16, 64));
//  false if text is none
static bool
s_parse_id (const char *text, uint64_t *id)
{
    size_t length = strlen (text);
    if (length == 0 || length > 16 || strspn (text, "0123456789abcdefABCDEF") != length)
        return false;
    *id = strtoull (text, NULL, 16);
    return *id != 0;
}

//  Sends the request; NULL with the failure recorded
static zkv_msg_t *
s_move (zkvctl_t *ctl, const zkv_move_leader_t *request)
{
    int64_t timeout = ctl->command_timeout;
    ctl->command_timeout += S_GRACE_NSECS;
    zkv_msg_t *reply = zkvctl_call (ctl, &zkv_move_leader_desc, request);
    ctl->command_timeout = timeout;
    return reply;
}

static int
s_move_leader_run (zkvctl_t *ctl, int argc, char **argv)
{
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &zkvctl_move_leader_command, NULL, true, argc - 1,
                                 argv + 1, NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "move-leader command needs 1 argument");
    if (zkvctl_ready (ctl, false))
        return -1;
    //  etcdctl has no fields printer for it: it fails with this, exit 4,
    //  after the leadership moved; zkvctl before sending (exit 128)
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "fields not supported as output format");
    char target [256];
    zkv_bin_str (positional [0], target, sizeof target);
    zkv_move_leader_t request = { 0 };
    if (zkvctl_flag_changed (ctl->globals, "command-timeout"))
        request.timeout_ms = (uint64_t) (ctl->command_timeout / 1000000);
    else
        ctl->command_timeout = S_DEFAULT_NSECS;
    //  A hex id first, as etcdctl reads it; a name when it is none
    bool hex = s_parse_id (target, &request.target_id);
    if (!hex)
        request.name = zkv_bin (target, strlen (target));
    zkv_msg_t *reply = s_move (ctl, &request);
    if (!reply && hex && strstr (ctl->error, "bad leader transferee")) {
        //  Names may look like hex ("abc")
        request.target_id = 0;
        request.name = zkv_bin (target, strlen (target));
        reply = s_move (ctl, &request);
    }
    if (!reply)
        return -1;
    const zkv_move_leader_response_t *response =
        (const zkv_move_leader_response_t *) reply->body;
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        bool first = true;
        printf ("{");
        zkvctl_json_header (stdout, &first, response->header);
        //  Member ids as unsigned numbers, as in the header
        printf (",\"previous\":%" PRIu64 ",\"leader\":%" PRIu64 ",\"took_usecs\":%" PRIu64
                "}\n", response->previous, response->leader, response->took_usecs);
    }
    else
        printf ("Leadership transferred from %" PRIx64 " to %" PRIx64 "\n", response->previous,
                response->leader);
    zkv_msg_destroy (&reply);
    return 0;
}
