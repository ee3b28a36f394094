/*  =========================================================================
    zkvctl_member.c — the membership changes: `member add`, `remove`,
    `update`, `promote` as etcdctl has them
    (etcdctl/ctlv3/command/member_command.go), and zkv's own `member
    replace`. (`member list` is in zkvctl_cluster.c.)

    Output, as etcdctl's simple printer:
        Member <id %16x> added to cluster <cluster id %16x>     (then the
                              flags the new member must be started with)
        Member <id> removed from cluster <cluster id>
        Member <id> updated in cluster <cluster id>
        Member <id> promoted in cluster <cluster id>
    and -w json prints the reply as Go's encoding/json writes etcd's.

    etcdctl prints the new member's settings as environment variables
    (ETCD_NAME="e2"); zkvctl prints them as the zkv-node flags of the same
    meaning, ready to paste on its command line:
        --name="n4"
        --initial-cluster="n1=tcp://10.0.0.1:2380,n4=tcp://10.0.0.4:2380"
        --listen-peer="tcp://10.0.0.4:2380"
        --initial-cluster-state="existing"
    The initial cluster lists every member with a name (a member added and
    not yet started has none) and the new one, in the reply's order.

    DEVIATIONS:
    - add makes a learner unless --voter is given (etcdctl: a voter unless
      --learner): a voter that never starts can cost a small cluster its
      quorum at once. --learner is accepted, and changes nothing.
    - A member has one peer endpoint; --peer-urls is --peer-endpoint's
      alias and takes one. "host:port" means tcp://host:port.
    - etcdctl sends the change to whichever endpoint it reaches; a zkv
      member takes membership changes only as the leader. zkvctl finds it
      (the Status of --endpoints names it, the member list gives its client
      endpoint), sends the change there, and finds it again when the
      leadership moved meanwhile (a definite refusal: nothing was done)
      until --command-timeout is spent.
    - etcdctl exits 4 on -w table or -w fields after the change is made;
      zkvctl refuses them (exit 128) before sending anything.
    - Member ID 0: etcdctl sends it and fails with `member not found`;
      zkvctl refuses it as a bad argument.
    - etcdctl 3.4 writes `=<url>` into ETCD_INITIAL_CLUSTER for a member
      added and not yet started (it has no name); zkvctl leaves it out.
    =========================================================================
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkvctl.h"

#define S_NSECS_PER_MSEC    1000000LL
#define S_RETRY_MSECS       200         //  between two promotes of a replace
#define S_PAUSE_MSECS       50          //  before finding the leader again

//  ---------------------------------------------------------------------
//  Arguments

//  A member ID as etcdctl reads it (strconv.ParseUint (text, 16, 64)).
//  Returns 0, or -1 with etcdctl's failure recorded (exit 128).
static int
s_parse_id (zkvctl_t *ctl, const char *text, uint64_t *id)
{
    const char *why = NULL;
    uint64_t value = 0;
    if (!*text)
        why = "invalid syntax";
    for (const char *at = text; *at && !why; at++) {
        int digit = *at >= '0' && *at <= '9'? *at - '0':
                    *at >= 'a' && *at <= 'f'? *at - 'a' + 10:
                    *at >= 'A' && *at <= 'F'? *at - 'A' + 10: -1;
        if (digit < 0)
            why = "invalid syntax";
        else
        if (value >> 60)
            why = "value out of range";
        else
            value = value << 4 | (uint64_t) digit;
    }
    if (why) {
        char *quoted = zkvctl_quote (text, strlen (text));
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "bad member ID arg (strconv.ParseUint: "
                     "parsing %s: %s), expecting ID in Hex", quoted, why);
        free (quoted);
        return -1;
    }
    if (value == 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "bad member ID arg (0 is no member's "
                            "ID), expecting ID in Hex");
    *id = value;
    return 0;
}

//  The peer endpoint of --peer-endpoint or --peer-urls (one of them), as a
//  fresh ZeroMQ endpoint. Returns 0 with *endpoint NULL when neither was
//  given, or -1 (exit 128).
static int
s_peer_endpoint (zkvctl_t *ctl, const char *endpoint, const char *urls, char **result)
{
    *result = NULL;
    if (endpoint && urls && !streq (endpoint, urls))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--peer-endpoint and --peer-urls "
                            "differ: give one");
    const char *given = endpoint? endpoint: urls;
    if (!given || !*given)
        return 0;
    if (strchr (given, ','))
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "a zkv member has one peer endpoint, "
                            "not a list: %s", given);
    *result = zkv_endpoint_normalize (given);
    return 0;
}

//  Output formats of a change: simple and json (etcdctl's printers have
//  no other for these replies)
static int
s_ready (zkvctl_t *ctl)
{
    if (zkvctl_ready (ctl, false))
        return -1;
    if (ctl->format == ZKVCTL_FORMAT_FIELDS)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "fields not supported as output format");
    return 0;
}

//  ---------------------------------------------------------------------
//  Sending a change to the leader

//  True if the failure recorded is err (its text, alone or with a detail)
static bool
s_failed_with (const zkvctl_t *ctl, zkv_err_t err)
{
    const char *text = zkv_err_message (err);
    size_t length = strlen (text);
    return strncmp (ctl->error, text, length) == 0
        && (ctl->error [length] == 0 || ctl->error [length] == ':'
        ||  strncmp (ctl->error + length, " (", 2) == 0);
}

//  True if the member that got the change refused it without doing
//  anything because it does not lead (or no longer can take it now):
//  sending it again, to the leader, is safe
static bool
s_refused_for_now (const zkvctl_t *ctl)
{
    return s_failed_with (ctl, ZKV_ERR_NOT_LEADER)
        || s_failed_with (ctl, ZKV_ERR_NO_LEADER)
        || s_failed_with (ctl, ZKV_ERR_LEADER_CHANGED)
        || s_failed_with (ctl, ZKV_ERR_PROPOSAL_DROPPED)
        || s_failed_with (ctl, ZKV_ERR_CONF_PENDING)
        //  a leader that was just removed, still answering until it stops
        || s_failed_with (ctl, ZKV_ERR_MEMBER_REMOVED);
}

//  zkvctl_call_at, waiting at most --command-timeout and never past
//  deadline (zclock_mono msecs)
static zkv_msg_t *
s_call (zkvctl_t *ctl, const char *endpoints, int64_t deadline, const zkv_desc_t *desc,
        const void *request)
{
    int64_t timeout = ctl->command_timeout;
    int64_t left = (deadline - zclock_mono ()) * S_NSECS_PER_MSEC;
    if (left < ctl->command_timeout)
        ctl->command_timeout = left;
    zkv_msg_t *reply = zkvctl_call_at (ctl, endpoints, desc, request);
    ctl->command_timeout = timeout;
    return reply;
}

//  The member table as a member of --endpoints has it (serializable)
static zkv_msg_t *
s_members (zkvctl_t *ctl, const char *endpoints, int64_t deadline)
{
    zkv_member_list_t request = { .linearizable = false };
    return s_call (ctl, endpoints, deadline, &zkv_member_list_desc, &request);
}

static const zkv_cluster_member_t *
s_member_by_id (const zkv_cluster_member_list_t *members, uint64_t id)
{
    for (size_t i = 0; i < members->count; i++)
        if (members->items [i].member_id == id)
            return &members->items [i];
    return NULL;
}

//  The leader's client endpoint (fresh), asked of --endpoints: the Status
//  of one names the leader, its member table the leader's endpoint. NULL
//  with the failure recorded (`etcdserver: no leader` when none is known)
static char *
s_leader_find (zkvctl_t *ctl, int64_t deadline)
{
    zkv_status_t request = { false };
    zkv_msg_t *reply = s_call (ctl, ctl->endpoints, deadline, &zkv_status_desc, &request);
    if (!reply)
        return NULL;
    uint64_t leader = ((const zkv_status_response_t *) reply->body)->leader;
    zkv_msg_destroy (&reply);
    if (!leader) {
        zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", zkv_err_message (ZKV_ERR_NO_LEADER));
        return NULL;
    }
    reply = s_members (ctl, ctl->endpoints, deadline);
    if (!reply)
        return NULL;
    const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
    const zkv_cluster_member_t *member = s_member_by_id (&list->members, leader);
    char *endpoint = NULL;
    if (member && member->client_endpoint.size)
        endpoint = zsys_sprintf ("%.*s", (int) member->client_endpoint.size,
                                 (const char *) member->client_endpoint.data);
    else
        zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "the leader %" PRIx64 " has no client endpoint "
                     "in the member list", leader);
    zkv_msg_destroy (&reply);
    return endpoint;
}

//  Out of time while asking again after a definite refusal: what the
//  members said (refusal, when not empty) tells more than the deadline
static void
s_prefer_refusal (zkvctl_t *ctl, const char *refusal)
{
    if (*refusal && strstr (ctl->error, "deadline exceeded"))
        zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s", refusal);
}

//  The leader, found again while none is known and there is time
static char *
s_leader (zkvctl_t *ctl, int64_t deadline)
{
    const char *leaderless = "";
    while (true) {
        char *endpoint = s_leader_find (ctl, deadline);
        if (s_failed_with (ctl, ZKV_ERR_NO_LEADER))
            leaderless = zkv_err_message (ZKV_ERR_NO_LEADER);
        if (!endpoint)
            s_prefer_refusal (ctl, leaderless);
        if (endpoint || !s_failed_with (ctl, ZKV_ERR_NO_LEADER)
        ||  zclock_mono () + S_PAUSE_MSECS >= deadline || zsys_interrupted)
            return endpoint;
        zclock_sleep (S_PAUSE_MSECS);
    }
}

//  Sends a change to the leader, found first, and again after a refusal
//  that did nothing (s_refused_for_now) while there is time; *leader
//  (if not NULL) gets where it went last (fresh; NULL when it found no
//  leader). The reply, or NULL with the failure recorded.
static zkv_msg_t *
s_change (zkvctl_t *ctl, const zkv_desc_t *desc, const void *request, int64_t deadline,
          char **leader)
{
    char refusal [sizeof ctl->error] = "";
    while (true) {
        char *endpoint = s_leader (ctl, deadline);
        if (!endpoint) {
            s_prefer_refusal (ctl, refusal);
            return NULL;
        }
        zkv_msg_t *reply = s_call (ctl, endpoint, deadline, desc, request);
        if (!reply && s_refused_for_now (ctl))
            snprintf (refusal, sizeof refusal, "%s", ctl->error);
        else
        if (!reply)
            s_prefer_refusal (ctl, refusal);
        if (reply || !s_refused_for_now (ctl)
        ||  zclock_mono () + S_PAUSE_MSECS >= deadline || zsys_interrupted) {
            if (leader)
                *leader = endpoint;
            else
                free (endpoint);
            return reply;
        }
        free (endpoint);
        zclock_sleep (S_PAUSE_MSECS);
    }
}

static int64_t
s_deadline (zkvctl_t *ctl)
{
    return zclock_mono () + ctl->command_timeout / S_NSECS_PER_MSEC;
}

//  ---------------------------------------------------------------------
//  What the new member is started with

//  The four flags of a new member (etcdctl's four ETCD_ variables)
static void
s_print_start_flags (const char *name, uint64_t id, zkv_bin_t peer,
                     const zkv_cluster_member_list_t *members)
{
    //  Every named member, and the new one, as name=peer
    size_t room = 1;
    for (size_t i = 0; i < members->count; i++)
        room += members->items [i].name.size + members->items [i].peer_endpoint.size
              + strlen (name) + 2;
    char *initial = (char *) zmalloc (room);
    for (size_t i = 0; i < members->count; i++) {
        const zkv_cluster_member_t *member = &members->items [i];
        bool added = member->member_id == id;
        if ((!added && member->name.size == 0) || member->peer_endpoint.size == 0)
            continue;
        size_t length = strlen (initial);
        snprintf (initial + length, room - length, "%s%.*s=%.*s", length? ",": "",
                  added? (int) strlen (name): (int) member->name.size,
                  added? name: (const char *) member->name.data,
                  (int) member->peer_endpoint.size, (const char *) member->peer_endpoint.data);
    }
    char *quoted_name = zkvctl_quote (name, strlen (name));
    char *quoted_initial = zkvctl_quote (initial, strlen (initial));
    char *quoted_peer = zkvctl_quote (peer.data, peer.size);
    printf ("\n--name=%s\n--initial-cluster=%s\n--listen-peer=%s\n"
            "--initial-cluster-state=\"existing\"\n", quoted_name, quoted_initial, quoted_peer);
    free (quoted_name);
    free (quoted_initial);
    free (quoted_peer);
    free (initial);
}

//  ---------------------------------------------------------------------
//  member add

static int s_add_run (zkvctl_t *ctl, int argc, char **argv);

static const zkvctl_command_t s_add_command = {
    "add", "member add <memberName> [options]", "Adds a member into the cluster",
    s_add_run, NULL,
    "\tAdds a learner (a voter with --voter), sent to the leader, and prints the\n"
    "\tzkv-node flags the new member must be started with. A learner gets the log\n"
    "\tand votes only once promoted (member promote, or --auto-promote).\n"
};

static int
s_add_run (zkvctl_t *ctl, int argc, char **argv)
{
    const char *peer_endpoint = NULL, *peer_urls = NULL;
    bool learner = false, voter = false, auto_promote = false;
    zkvctl_flag_t flags [] = {
        { "auto-promote", 0, ZKVCTL_FLAG_BOOL, &auto_promote, "false",
          "the leader promotes the learner by itself once it is in sync (zkv's own)", false },
        { "learner", 0, ZKVCTL_FLAG_BOOL, &learner, "false",
          "indicates if the new member is raft learner (zkv's default)", false },
        { "peer-endpoint", 0, ZKVCTL_FLAG_STRING, &peer_endpoint, "\"\"",
          "the new member's peer endpoint (tcp://host:port, or host:port)", false },
        { "peer-urls", 0, ZKVCTL_FLAG_STRING, &peer_urls, "\"\"",
          "etcdctl's name of --peer-endpoint (one endpoint)", false },
        { "voter", 0, ZKVCTL_FLAG_BOOL, &voter, "false",
          "add a voting member at once (etcdctl's default): until it runs and catches "
          "up, the cluster may lack a quorum", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_add_command, flags, true, argc - 1, argv + 1, NULL,
                                 positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count < 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member name not provided");
    if (count > 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "too many arguments");
    const char *name = (const char *) positional [0].data;
    char *peer;
    if (s_peer_endpoint (ctl, peer_endpoint, peer_urls, &peer))
        return -1;
    if (!peer)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member peer urls not provided");
    rc = -1;
    if (voter && zkvctl_flag_changed (flags, "learner") && learner)
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--voter and --learner: give one");
    else
    if (voter && auto_promote)
        zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--auto-promote is for a learner, "
                     "not with --voter");
    else
    if (s_ready (ctl) == 0) {
        zkv_member_add_t request = {
            .peer_endpoint = zkv_bin (peer, strlen (peer)),
            .is_learner = !voter, .auto_promote = auto_promote
        };
        zkv_msg_t *reply = s_change (ctl, &zkv_member_add_desc, &request, s_deadline (ctl),
                                     NULL);
        if (reply) {
            const zkv_member_add_response_t *response =
                (const zkv_member_add_response_t *) reply->body;
            uint64_t id = response->member? response->member->member_id: 0;
            if (ctl->format == ZKVCTL_FORMAT_JSON) {
                zkvctl_json_members (stdout, response->header, response->member,
                                     &response->members);
                printf ("\n");
            }
            else {
                printf ("Member %16" PRIx64 " added to cluster %16" PRIx64 "\n", id,
                        response->header? response->header->cluster_id: 0);
                s_print_start_flags (name, id, request.peer_endpoint, &response->members);
            }
            zkv_msg_destroy (&reply);
            rc = 0;
        }
    }
    free (peer);
    return rc;
}

//  ---------------------------------------------------------------------
//  member remove, update, promote: one ID, one change, one line

typedef enum { S_REMOVE, S_UPDATE, S_PROMOTE } s_change_t;

static int
s_change_run (zkvctl_t *ctl, const zkvctl_command_t *command, s_change_t change,
              int argc, char **argv)
{
    const char *peer_endpoint = NULL, *peer_urls = NULL;
    zkvctl_flag_t flags [] = {
        { "peer-endpoint", 0, ZKVCTL_FLAG_STRING, &peer_endpoint, "\"\"",
          "the member's new peer endpoint (tcp://host:port, or host:port)", false },
        { "peer-urls", 0, ZKVCTL_FLAG_STRING, &peer_urls, "\"\"",
          "etcdctl's name of --peer-endpoint (one endpoint)", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, command, change == S_UPDATE? flags: NULL, true,
                                 argc - 1, argv + 1, NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member ID is not provided");
    uint64_t id = 0;
    if (s_parse_id (ctl, (const char *) positional [0].data, &id))
        return -1;
    char *peer = NULL;
    if (change == S_UPDATE) {
        if (s_peer_endpoint (ctl, peer_endpoint, peer_urls, &peer))
            return -1;
        if (!peer)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member peer urls not provided");
    }
    if (s_ready (ctl)) {
        free (peer);
        return -1;
    }
    zkv_member_remove_t remove = { id };
    zkv_member_update_t update = { id, zkv_bin (peer, peer? strlen (peer): 0) };
    zkv_member_promote_t promote = { id, 0 };
    const zkv_desc_t *desc = change == S_REMOVE? &zkv_member_remove_desc:
                             change == S_UPDATE? &zkv_member_update_desc:
                                                 &zkv_member_promote_desc;
    const void *request = change == S_REMOVE? (const void *) &remove:
                          change == S_UPDATE? (const void *) &update: (const void *) &promote;
    zkv_msg_t *reply = s_change (ctl, desc, request, s_deadline (ctl), NULL);
    free (peer);
    if (!reply)
        return -1;
    //  The three replies have the same shape: header, members
    const zkv_member_remove_response_t *response =
        (const zkv_member_remove_response_t *) reply->body;
    if (ctl->format == ZKVCTL_FORMAT_JSON) {
        zkvctl_json_members (stdout, response->header, NULL, &response->members);
        printf ("\n");
    }
    else
        printf ("Member %16" PRIx64 " %s cluster %16" PRIx64 "\n", id,
                change == S_REMOVE? "removed from": change == S_UPDATE? "updated in":
                                                                       "promoted in",
                response->header? response->header->cluster_id: 0);
    zkv_msg_destroy (&reply);
    return 0;
}

static int s_remove_run (zkvctl_t *ctl, int argc, char **argv);
static int s_update_run (zkvctl_t *ctl, int argc, char **argv);
static int s_promote_run (zkvctl_t *ctl, int argc, char **argv);

static const zkvctl_command_t s_remove_command = {
    "remove", "member remove <memberID>", "Removes a member from the cluster",
    s_remove_run, NULL, NULL
};
static const zkvctl_command_t s_update_command = {
    "update", "member update <memberID> [options]", "Updates a member in the cluster",
    s_update_run, NULL, NULL
};
static const zkvctl_command_t s_promote_command = {
    "promote", "member promote <memberID>", "Promotes a non-voting member in the cluster",
    s_promote_run, NULL,
    "\tPromotes a learner once it is in sync with the leader; until then the leader\n"
    "\trefuses (etcdserver: can only promote a learner member which is in sync with\n"
    "\tleader): try again.\n"
};

static int
s_remove_run (zkvctl_t *ctl, int argc, char **argv)
{
    return s_change_run (ctl, &s_remove_command, S_REMOVE, argc, argv);
}

static int
s_update_run (zkvctl_t *ctl, int argc, char **argv)
{
    return s_change_run (ctl, &s_update_command, S_UPDATE, argc, argv);
}

static int
s_promote_run (zkvctl_t *ctl, int argc, char **argv)
{
    return s_change_run (ctl, &s_promote_command, S_PROMOTE, argc, argv);
}

//  ---------------------------------------------------------------------
//  member replace (zkv's own): add a learner, wait until it is in sync,
//  then promote it and remove the old voter in one joint change

static int s_replace_run (zkvctl_t *ctl, int argc, char **argv);

static const zkvctl_command_t s_replace_command = {
    "replace", "member replace <memberID | memberName> --name=<newName> "
    "--peer-endpoint=<endpoint> [options]",
    "Replaces a voting member with a new one in one change (zkv's own)",
    s_replace_run, NULL,
    "\tAdds the new member as a learner and prints the zkv-node flags to start it\n"
    "\twith; waits until it has started and caught up with the leader; then, in one\n"
    "\tjoint configuration change, promotes it and removes the old member, so that\n"
    "\tthe cluster never runs a voter short nor with an even number of voters.\n"
    "\tThe old member may be down. Run the same command again to go on after a\n"
    "\ttimeout or an interruption: the learner already added is taken again.\n"
};

//  A replace under way
typedef struct {
    zkvctl_t *ctl;
    const char *name;                   //  the new member's
    char *peer;                         //  its peer endpoint
    uint64_t old_id, new_id, cluster_id;
    int64_t deadline;                   //  of the whole wait (--timeout)
    bool terminal;                      //  stdout is one: show the wait
    bool json;
    bool started;                       //  told that the new member started
    char *leader;                       //  the leader's endpoint, last known
} s_replace_t;

//  The member of the table named text: its hex ID, else its name
static const zkv_cluster_member_t *
s_member_named (const zkv_cluster_member_list_t *members, const char *text)
{
    uint64_t id = 0;
    size_t length = strlen (text);
    if (length && length <= 16 && strspn (text, "0123456789abcdefABCDEF") == length)
        id = strtoull (text, NULL, 16);
    const zkv_cluster_member_t *member = id? s_member_by_id (members, id): NULL;
    for (size_t i = 0; i < members->count && !member; i++)
        if (zkv_bin_eq (members->items [i].name, text))
            member = &members->items [i];
    return member;
}

static const zkv_cluster_member_t *
s_member_at (const zkv_cluster_member_list_t *members, zkv_bin_t peer)
{
    for (size_t i = 0; i < members->count; i++)
        if (members->items [i].peer_endpoint.size == peer.size
        &&  memcmp (members->items [i].peer_endpoint.data, peer.data, peer.size) == 0)
            return &members->items [i];
    return NULL;
}

//  A step, on its own line (the progress line cleared first)
static void
s_step (s_replace_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_step (s_replace_t *self, const char *format, ...)
{
    if (self->json)
        return;
    if (self->terminal)
        printf ("\r\033[K");
    va_list args;
    va_start (args, format);
    vprintf (format, args);
    va_end (args);
    fflush (stdout);
}

//  The progress line, on a terminal only
static void
s_progress (s_replace_t *self, int64_t since)
{
    if (!self->terminal || self->json)
        return;
    char waited [64];
    int64_t seconds = (zclock_mono () - since) / 1000;
    zkvctl_go_duration (seconds * 1000 * S_NSECS_PER_MSEC, waited, sizeof waited);
    printf ("\r\033[Kwaiting for member %" PRIx64 " to %s ... %s", self->new_id,
            self->started? "catch up with the leader": "start", waited);
    fflush (stdout);
}

//  Finds the old member and adds the new one as a learner (or takes the
//  learner a replace added before). 0, or -1 with the failure recorded.
static int
s_replace_add (s_replace_t *self, const char *old)
{
    zkvctl_t *ctl = self->ctl;
    int64_t deadline = s_deadline (ctl);
    self->leader = s_leader (ctl, deadline);
    zkv_msg_t *reply = self->leader? s_members (ctl, self->leader, deadline): NULL;
    if (!reply)
        return -1;
    const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
    const zkv_cluster_member_t *member = s_member_named (&list->members, old);
    zkv_bin_t peer = zkv_bin (self->peer, strlen (self->peer));
    const zkv_cluster_member_t *taken = s_member_at (&list->members, peer);
    int rc = 0;
    if (!member)
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "no member has the ID or name %s", old);
    else
    if (member->is_learner)
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "member %" PRIx64 " is a learner: remove it "
                          "instead (member replace replaces a voter)", member->member_id);
    else
    if (taken && (!taken->is_learner || taken == member))
        rc = zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "%s",
                          zkv_err_message (ZKV_ERR_PEER_EXISTS));
    else {
        self->old_id = member->member_id;
        self->cluster_id = list->header? list->header->cluster_id: 0;
    }
    if (rc == 0 && taken) {
        //  Added by a replace that did not finish: go on with it
        self->new_id = taken->member_id;
        self->started = taken->client_endpoint.size > 0;
        if (self->json) {
            zkvctl_json_members (stdout, list->header, taken, &list->members);
            printf ("\n");
        }
        else {
            printf ("Member %16" PRIx64 " is already a learner of cluster %16" PRIx64 "\n",
                    self->new_id, self->cluster_id);
            s_print_start_flags (self->name, self->new_id, peer, &list->members);
        }
    }
    zkv_msg_destroy (&reply);
    if (rc || taken)
        return rc;
    zkv_member_add_t request = { .peer_endpoint = peer, .is_learner = true };
    free (self->leader);
    self->leader = NULL;
    reply = s_change (ctl, &zkv_member_add_desc, &request, s_deadline (ctl), &self->leader);
    if (!reply)
        return -1;
    const zkv_member_add_response_t *response = (const zkv_member_add_response_t *) reply->body;
    self->new_id = response->member? response->member->member_id: 0;
    if (self->json) {
        zkvctl_json_members (stdout, response->header, response->member, &response->members);
        printf ("\n");
    }
    else {
        if (response->header)
            self->cluster_id = response->header->cluster_id;
        printf ("Member %16" PRIx64 " added to cluster %16" PRIx64 "\n", self->new_id,
                self->cluster_id);
        s_print_start_flags (self->name, self->new_id, peer, &response->members);
    }
    zkv_msg_destroy (&reply);
    return 0;
}

//  Whether the replace is done, from the member table: 1 (the new member
//  votes and the old one is gone), 0 (not yet), -1 (no answer)
static int
s_replace_done (s_replace_t *self)
{
    zkv_msg_t *reply = self->leader? s_members (self->ctl, self->leader,
                                                s_deadline (self->ctl)): NULL;
    if (!reply)
        return -1;
    const zkv_member_list_response_t *list = (const zkv_member_list_response_t *) reply->body;
    const zkv_cluster_member_t *added = s_member_by_id (&list->members, self->new_id);
    if (added && !self->started && added->client_endpoint.size) {
        self->started = true;
        s_step (self, "Member %16" PRIx64 " started\n", self->new_id);
    }
    int done = added && !added->is_learner && !s_member_by_id (&list->members, self->old_id);
    zkv_msg_destroy (&reply);
    return done;
}

//  Promotes the new member, replacing the old one, as soon as the leader
//  takes it. 0, or -1 with the failure recorded.
static int
s_replace_promote (s_replace_t *self, int64_t timeout)
{
    zkvctl_t *ctl = self->ctl;
    zkv_member_promote_t request = { self->new_id, self->old_id };
    int64_t since = zclock_mono (), looked = 0;
    char last_answer [sizeof ctl->error] = "";  //  the leader's last refusal
    s_step (self, "\nWaiting for member %" PRIx64 " to start and catch up with the leader\n",
            self->new_id);
    while (true) {
        //  Each try a call of its own: the leader may change meanwhile
        int64_t deadline = s_deadline (ctl);
        if (deadline > self->deadline)
            deadline = self->deadline;
        free (self->leader);
        self->leader = NULL;
        zkv_msg_t *reply = s_change (ctl, &zkv_member_promote_desc, &request, deadline,
                                     &self->leader);
        if (reply) {
            const zkv_member_promote_response_t *response =
                (const zkv_member_promote_response_t *) reply->body;
            if (self->json) {
                zkvctl_json_members (stdout, response->header, NULL, &response->members);
                printf ("\n");
            }
            zkv_msg_destroy (&reply);
            break;
        }
        if (zsys_interrupted)
            return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "interrupted: member %" PRIx64 " stays "
                                "a learner; run the same command again to go on",
                                self->new_id);
        bool waiting = s_failed_with (ctl, ZKV_ERR_LEARNER_NOT_READY);
        if (waiting)
            snprintf (last_answer, sizeof last_answer, "%s", ctl->error);
        if (!waiting && !s_refused_for_now (ctl)) {
            //  A try whose answer was lost may have done it: then the
            //  next one finds no learner to promote, or no member to replace
            char error [sizeof ctl->error];
            memcpy (error, ctl->error, sizeof error);
            int done = s_replace_done (self);
            memcpy (ctl->error, error, sizeof error);
            if (done == 1)
                break;
            bool unknown = strstr (ctl->error, "context deadline exceeded")
                        || s_failed_with (ctl, ZKV_ERR_TIMEOUT);
            //  (out of time on a try that got no answer: the refusals
            //  before it tell why, if there were some)
            if (!unknown || (zclock_mono () >= self->deadline && !*last_answer))
                return -1;
        }
        if (zclock_mono () + S_RETRY_MSECS >= self->deadline) {
            char limit [64], answer [sizeof ctl->error];
            zkvctl_go_duration (timeout, limit, sizeof limit);
            snprintf (answer, sizeof answer, "%s", *last_answer? last_answer: ctl->error);
            if (self->terminal)
                s_step (self, "\n");
            return zkvctl_fail (ctl, ZKVCTL_EXIT_ERROR, "member %" PRIx64 " did not catch up "
                                "within %s (last answer: %s); it stays a learner: run the "
                                "same command again to go on, or remove it", self->new_id,
                                limit, answer);
        }
        //  Tell when the new member starts, once a second
        if (waiting && !self->started && zclock_mono () - looked >= 1000) {
            looked = zclock_mono ();
            s_replace_done (self);
        }
        s_progress (self, since);
        zclock_sleep (S_RETRY_MSECS);
    }
    s_step (self, "Member %16" PRIx64 " promoted in cluster %16" PRIx64 "\n", self->new_id,
            self->cluster_id);
    s_step (self, "Member %16" PRIx64 " removed from cluster %16" PRIx64 "\n", self->old_id,
            self->cluster_id);
    return 0;
}

static int
s_replace_run (zkvctl_t *ctl, int argc, char **argv)
{
    const char *name = NULL, *peer_endpoint = NULL, *peer_urls = NULL;
    int64_t timeout = 600LL * 1000 * S_NSECS_PER_MSEC;
    zkvctl_flag_t flags [] = {
        { "name", 0, ZKVCTL_FLAG_STRING, &name, "\"\"",
          "the new member's name (its --name)", false },
        { "peer-endpoint", 0, ZKVCTL_FLAG_STRING, &peer_endpoint, "\"\"",
          "the new member's peer endpoint (tcp://host:port, or host:port)", false },
        { "peer-urls", 0, ZKVCTL_FLAG_STRING, &peer_urls, "\"\"",
          "etcdctl's name of --peer-endpoint (one endpoint)", false },
        { "timeout", 0, ZKVCTL_FLAG_DURATION, &timeout, "10m0s",
          "how long to wait for the new member to start and catch up", false },
        { NULL, 0, 0, NULL, NULL, NULL, false }
    };
    zkv_bin_t positional [argc];
    int count;
    int rc = zkvctl_flags_parse (ctl, &s_replace_command, flags, true, argc - 1, argv + 1,
                                 NULL, positional, &count);
    if (rc)
        return rc == ZKVCTL_HELP? 0: -1;
    if (count != 1)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member ID or name is not provided");
    if (!name || !*name)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member name not provided (--name)");
    if (timeout <= 0)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "--timeout must be positive");
    s_replace_t self = {
        .ctl = ctl, .name = name, .terminal = isatty (STDOUT_FILENO) == 1,
        .deadline = zclock_mono () + timeout / S_NSECS_PER_MSEC
    };
    if (s_peer_endpoint (ctl, peer_endpoint, peer_urls, &self.peer))
        return -1;
    if (!self.peer)
        return zkvctl_fail (ctl, ZKVCTL_EXIT_BAD_ARGS, "member peer urls not provided");
    rc = s_ready (ctl);
    self.json = ctl->format == ZKVCTL_FORMAT_JSON;
    if (rc == 0)
        rc = s_replace_add (&self, (const char *) positional [0].data);
    if (rc == 0)
        rc = s_replace_promote (&self, timeout);
    free (self.peer);
    free (self.leader);
    return rc;
}

//  ---------------------------------------------------------------------
//  member

static const zkvctl_command_t *const s_member_commands [] = {
    &s_add_command,
    &zkvctl_member_list_command,
    &s_promote_command,
    &s_remove_command,
    &s_replace_command,
    &s_update_command,
    NULL
};

static int
s_member_run (zkvctl_t *ctl, int argc, char **argv)
{
    return zkvctl_subcommand_run (ctl, &zkvctl_member_command, argc, argv);
}

const zkvctl_command_t zkvctl_member_command = {
    "member", "member <subcommand> [options]", "Membership related commands",
    s_member_run, s_member_commands, NULL
};
