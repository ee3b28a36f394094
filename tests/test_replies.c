/*  test_replies.c — what docs/PROTOCOL.md promises a client about replies,
    checked with raw ZeroMQ and msgpack against a real member: every reply
    has a whole header (cluster_id, member_id, revision, raft_term), the
    snapshot stream's and MoveLeader's included, errors too; `id` 0 is an
    id; a snapshot's chunk_size out of range and credit for no stream are
    refused, not bent or ignored; a stream whose client went away is
    dropped at once; a MoveLeader whose id and name disagree is refused;
    nesting is counted as documented. */
#include <criterion/criterion.h>
#include <czmq.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster_fixture.h"

static zkv_testnode_t *s_node;

static void
s_teardown (void)
{
    zkv_testnode_destroy (&s_node);
}

TestSuite (replies, .fini = s_teardown, .timeout = 120);

//  ---------------------------------------------------------------------
//  Raw requests and replies

static zsock_t *
s_dealer (void)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    cr_assert_not_null (dealer);
    zsock_set_linger (dealer, 0);
    cr_assert_eq (zsock_connect (dealer, "%s", zkv_testnode_endpoint (s_node)), 0);
    return dealer;
}

//  Sends one map of count entries, each a key, then a letter for its
//  value's type (s str, u uint64, i int64, b true), then the value; or
//  NULL, 'm', and entries already packed (their bytes and size): one entry
static void
s_send (zsock_t *dealer, int count, ...)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, (size_t) count);
    va_list args;
    va_start (args, count);
    for (int i = 0; i < count; i++) {
        const char *key = va_arg (args, const char *);
        int type = va_arg (args, int);
        if (type != 'm')
            msgpack_pack_str_with_body (&pk, key, strlen (key));
        if (type == 's') {
            const char *text = va_arg (args, const char *);
            msgpack_pack_str_with_body (&pk, text, strlen (text));
        }
        else
        if (type == 'u')
            msgpack_pack_uint64 (&pk, va_arg (args, uint64_t));
        else
        if (type == 'i')
            msgpack_pack_int64 (&pk, va_arg (args, int64_t));
        else
        if (type == 'b')
            msgpack_pack_true (&pk);
        else {
            const char *packed = va_arg (args, const char *);
            size_t size = va_arg (args, size_t);
            msgpack_sbuffer_write (&buffer, packed, size);
        }
    }
    va_end (args);
    zframe_t *frame = zframe_new (buffer.data, buffer.size);
    cr_assert_eq (zframe_send (&frame, dealer, 0), 0);
    msgpack_sbuffer_destroy (&buffer);
}

//  The next reply, decoded into zone (NULL if none came within msecs)
static msgpack_object *
s_recv (zsock_t *dealer, msgpack_zone *zone, int msecs)
{
    zpoller_t *poller = zpoller_new (dealer, NULL);
    void *ready = zpoller_wait (poller, msecs);
    zpoller_destroy (&poller);
    if (!ready)
        return NULL;
    zframe_t *frame = zframe_recv (dealer);
    cr_assert_not_null (frame);
    //  The zone's objects point into the bytes: a copy in the zone
    char *bytes = (char *) msgpack_zone_malloc (zone, zframe_size (frame));
    memcpy (bytes, zframe_data (frame), zframe_size (frame));
    size_t size = zframe_size (frame);
    zframe_destroy (&frame);
    msgpack_object *object = (msgpack_object *) msgpack_zone_malloc (zone, sizeof *object);
    cr_assert_eq (msgpack_unpack (bytes, size, NULL, zone, object), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (object->type, MSGPACK_OBJECT_MAP);
    return object;
}

//  The value of key in map, or NULL
static const msgpack_object *
s_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen (key)
        &&  memcmp (k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr [i].val;
    }
    return NULL;
}

static uint64_t
s_uint (const msgpack_object *map, const char *key)
{
    const msgpack_object *value = s_get (map, key);
    cr_assert (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER,
               "no \"%s\" in the map", key);
    return value->via.u64;
}

static bool
s_str_is (const msgpack_object *value, const char *text)
{
    return value && value->type == MSGPACK_OBJECT_STR && value->via.str.size == strlen (text)
        && memcmp (value->via.str.ptr, text, value->via.str.size) == 0;
}

//  The reply's error: code and message as given
static void
s_assert_error (const msgpack_object *reply, const char *code, const char *message)
{
    const msgpack_object *error = s_get (reply, "error");
    cr_assert_not_null (error, "no error in the reply");
    const msgpack_object *text = s_get (error, "message");
    cr_assert (s_str_is (s_get (error, "code"), code), "code is not %s (message: %.*s)", code,
               text? (int) text->via.str.size: 0, text? text->via.str.ptr: "");
    cr_assert (s_str_is (text, message), "message is not \"%s\" but \"%.*s\"", message,
               text? (int) text->via.str.size: 0, text? text->via.str.ptr: "");
}

//  The member's own cluster id, member id, revision and term (Status)
typedef struct {
    uint64_t cluster_id, member_id, revision, raft_term;
} s_header_t;

static s_header_t
s_header_of (const msgpack_object *reply)
{
    const msgpack_object *header = s_get (reply, "header");
    cr_assert_not_null (header, "a reply without a header");
    s_header_t fields = {
        s_uint (header, "cluster_id"), s_uint (header, "member_id"),
        s_uint (header, "revision"), s_uint (header, "raft_term")
    };
    return fields;
}

static s_header_t
s_status (zsock_t *dealer, msgpack_zone *zone)
{
    s_send (dealer, 2, "op", 's', "status", "id", 'u', (uint64_t) 1);
    msgpack_object *reply = s_recv (dealer, zone, 5000);
    cr_assert_not_null (reply);
    return s_header_of (reply);
}

//  A whole header: of this member and cluster, with a revision and a term
static void
s_assert_whole_header (const msgpack_object *reply, const s_header_t *member)
{
    s_header_t header = s_header_of (reply);
    cr_assert_eq (header.cluster_id, member->cluster_id);
    cr_assert_eq (header.member_id, member->member_id);
    cr_assert_geq (header.revision, 1);
    cr_assert_geq (header.raft_term, 1);
}

static void
s_start (void)
{
    s_node = zkv_testnode_start ("replies", NULL);
    cr_assert_not_null (s_node);
    zkv_client_t *client = zkv_client_new (zkv_testnode_endpoint (s_node), 10000);
    cf_put_keys (client, 20);
    zkv_client_destroy (&client);
}

//  ---------------------------------------------------------------------

Test (replies, every_snapshot_reply_and_every_error_has_a_whole_header)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    s_header_t member = s_status (dealer, zone);

    //  A whole stream: each reply has the header of the image's state
    s_send (dealer, 4, "op", 's', "snapshot", "id", 'u', (uint64_t) 7,
            "credit", 'u', (uint64_t) 1000, "chunk_size", 'u', (uint64_t) 4096);
    size_t replies = 0;
    bool done = false;
    while (!done) {
        msgpack_object *reply = s_recv (dealer, zone, 10000);
        cr_assert_not_null (reply, "the stream stopped after %zu replies", replies);
        cr_assert_null (s_get (reply, "error"));
        cr_assert_eq (s_uint (reply, "id"), 7);
        s_assert_whole_header (reply, &member);
        cr_assert_eq (s_header_of (reply).revision, member.revision);
        done = s_get (reply, "done") != NULL;
        replies++;
    }
    cr_assert_geq (replies, 2);

    //  A stream's error: four stalled streams, and a fifth refused
    zsock_t *stalled [4];
    for (int i = 0; i < 4; i++) {
        stalled [i] = s_dealer ();
        s_send (stalled [i], 3, "op", 's', "snapshot", "id", 'u', (uint64_t) 1,
                "credit", 'u', (uint64_t) 1);
        cr_assert_not_null (s_recv (stalled [i], zone, 10000));
    }
    s_send (dealer, 2, "op", 's', "snapshot", "id", 'u', (uint64_t) 8);
    msgpack_object *reply = s_recv (dealer, zone, 10000);
    cr_assert_not_null (reply);
    s_assert_error (reply, "ResourceExhausted", "etcdserver: too many requests");
    s_assert_whole_header (reply, &member);
    for (int i = 0; i < 4; i++)
        zsock_destroy (&stalled [i]);

    //  MoveLeader (to itself, the leader: done at once), Defragment, and a
    //  fault refused on a member without fault injection
    s_send (dealer, 3, "op", 's', "move_leader", "id", 'u', (uint64_t) 9,
            "target_id", 'u', member.member_id);
    reply = s_recv (dealer, zone, 10000);
    cr_assert_not_null (reply);
    cr_assert_null (s_get (reply, "error"));
    s_assert_whole_header (reply, &member);
    cr_assert_eq (s_header_of (reply).revision, member.revision);
    s_send (dealer, 2, "op", 's', "defragment", "id", 'u', (uint64_t) 10);
    reply = s_recv (dealer, zone, 60000);
    cr_assert_not_null (reply);
    cr_assert_null (s_get (reply, "error"));
    s_assert_whole_header (reply, &member);
    s_send (dealer, 3, "op", 's', "fault", "id", 'u', (uint64_t) 11, "heal", 'b');
    reply = s_recv (dealer, zone, 10000);
    cr_assert_not_null (reply);
    s_assert_error (reply, "PermissionDenied", "etcdserver: permission denied");
    s_assert_whole_header (reply, &member);

    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}

Test (replies, id_zero_is_an_id)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    s_send (dealer, 2, "op", 's', "status", "id", 'u', (uint64_t) 0);
    msgpack_object *reply = s_recv (dealer, zone, 5000);
    cr_assert_not_null (reply);
    cr_assert_null (s_get (reply, "error"));
    cr_assert_eq (s_uint (reply, "id"), 0);
    //  A negative one is no id
    s_send (dealer, 2, "op", 's', "status", "id", 'i', (int64_t) -1);
    reply = s_recv (dealer, zone, 5000);
    cr_assert_not_null (reply);
    s_assert_error (reply, "InvalidArgument",
                    "zkv: malformed request: \"id\" must be a non-negative int, got negative int");
    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}

Test (replies, a_chunk_size_out_of_range_is_refused)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    const uint64_t refused [] = { 1, 4095, 4 * 1024 * 1024 + 1 };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        s_send (dealer, 3, "op", 's', "snapshot", "id", 'u', (uint64_t) i,
                "chunk_size", 'u', refused [i]);
        msgpack_object *reply = s_recv (dealer, zone, 5000);
        cr_assert_not_null (reply);
        char message [160];
        snprintf (message, sizeof message, "zkv: malformed request: chunk_size %llu is out "
                  "of range (0, or 4096 .. 4194304)", (unsigned long long) refused [i]);
        s_assert_error (reply, "InvalidArgument", message);
        cr_assert_eq (s_uint (reply, "id"), i);
    }
    //  The bounds themselves are taken: the first reply holds that many bytes
    const uint64_t taken [] = { 4096, 4 * 1024 * 1024 };
    for (size_t i = 0; i < 2; i++) {
        zsock_t *streamer = s_dealer ();
        s_send (streamer, 4, "op", 's', "snapshot", "id", 'u', (uint64_t) 1,
                "credit", 'u', (uint64_t) 1, "chunk_size", 'u', taken [i]);
        msgpack_object *reply = s_recv (streamer, zone, 10000);
        cr_assert_not_null (reply);
        cr_assert_null (s_get (reply, "error"));
        const msgpack_object *blob = s_get (reply, "blob");
        cr_assert (blob && blob->type == MSGPACK_OBJECT_BIN);
        uint64_t remaining = s_get (reply, "remaining_bytes")
                           ? s_uint (reply, "remaining_bytes"): 0;
        cr_assert (blob->via.bin.size == taken [i]
                   || (blob->via.bin.size < taken [i] && remaining == 0));
        zsock_destroy (&streamer);
    }
    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}

Test (replies, credit_for_no_stream_is_refused)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    s_send (dealer, 4, "op", 's', "snapshot_credit", "id", 'u', (uint64_t) 5,
            "stream", 'u', (uint64_t) 12345, "credit", 'u', (uint64_t) 4);
    msgpack_object *reply = s_recv (dealer, zone, 5000);
    cr_assert_not_null (reply, "credit for no stream went unanswered");
    cr_assert_eq (s_uint (reply, "id"), 5);
    cr_assert (s_str_is (s_get (reply, "op"), "snapshot_credit"));
    s_assert_error (reply, "NotFound",
                    "zkv: snapshot stream not found: no stream of id 12345 on this connection");
    s_header_t member = s_status (dealer, zone);
    s_assert_whole_header (reply, &member);

    //  Credit for a stream of another connection is no credit for this one
    zsock_t *other = s_dealer ();
    s_send (other, 3, "op", 's', "snapshot", "id", 'u', (uint64_t) 77,
            "credit", 'u', (uint64_t) 1);
    cr_assert_not_null (s_recv (other, zone, 10000));
    s_send (dealer, 3, "op", 's', "snapshot_credit", "stream", 'u', (uint64_t) 77,
            "credit", 'u', (uint64_t) 4);
    reply = s_recv (dealer, zone, 5000);
    cr_assert_not_null (reply);
    cr_assert_null (s_get (reply, "id"));
    s_assert_error (reply, "NotFound",
                    "zkv: snapshot stream not found: no stream of id 77 on this connection");
    //  ...and on its own connection it is taken, unanswered: the stream goes on
    s_send (other, 3, "op", 's', "snapshot_credit", "stream", 'u', (uint64_t) 77,
            "credit", 'u', (uint64_t) 1000);
    bool done = false;
    while (!done) {
        reply = s_recv (other, zone, 10000);
        cr_assert_not_null (reply);
        cr_assert_eq (s_uint (reply, "id"), 77);
        cr_assert_null (s_get (reply, "error"));
        done = s_get (reply, "done") != NULL;
    }
    zsock_destroy (&other);
    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}

//  A snapshot event from sub within msecs, its error text into error
//  (false if none came)
static bool
s_snapshot_event (zsock_t *sub, msgpack_zone *zone, int msecs, char *error, size_t size)
{
    zkv_snapshot_event_t *event = (zkv_snapshot_event_t *) cf_event (
        sub, "snapshot", &zkv_snapshot_event_desc, zone, msecs);
    if (!event)
        return false;
    snprintf (error, size, "%.*s", (int) event->error.size, (const char *) event->error.data);
    return true;
}

Test (replies, a_stream_whose_client_went_away_ends_at_once)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    s_send (dealer, 2, "op", 's', "status", "id", 'u', (uint64_t) 1);
    msgpack_object *status = s_recv (dealer, zone, 5000);
    cr_assert_not_null (status);
    const msgpack_object *events = s_get (status, "events_endpoint");
    cr_assert (events && events->type == MSGPACK_OBJECT_STR);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (sub, "snapshot");
    cr_assert_eq (zsock_connect (sub, "%.*s", (int) events->via.str.size, events->via.str.ptr),
                  0);
    //  Whole streams until the subscriber sees one end (it sees only what
    //  is published once it is connected)
    char error [128] = "";
    bool seen = false;
    for (int round = 0; round < 50 && !seen; round++) {
        s_send (dealer, 3, "op", 's', "snapshot", "id", 'u', (uint64_t) 100 + round,
                "credit", 'u', (uint64_t) 1000);
        for (bool done = false; !done; ) {
            msgpack_object *reply = s_recv (dealer, zone, 10000);
            cr_assert_not_null (reply);
            cr_assert_null (s_get (reply, "error"));
            done = s_get (reply, "done") != NULL;
        }
        seen = s_snapshot_event (sub, zone, 200, error, sizeof error);
    }
    cr_assert (seen, "the subscriber saw no snapshot event");
    cr_assert_str_eq (error, "");

    //  Four streams stall, each granted one reply: every slot is taken
    zsock_t *stalled [4];
    for (int i = 0; i < 4; i++) {
        stalled [i] = s_dealer ();
        s_send (stalled [i], 3, "op", 's', "snapshot", "id", 'u', (uint64_t) 1,
                "credit", 'u', (uint64_t) 1);
        cr_assert_not_null (s_recv (stalled [i], zone, 10000));
    }
    //  Their clients go away: each stream ends now, as the member learns it
    //  (not after a minute without credit, as a stalled stream does)
    for (int i = 0; i < 4; i++)
        zsock_destroy (&stalled [i]);
    for (int i = 0; i < 4; i++) {
        //  (skipping what is left of the whole streams' events)
        do
            cr_assert (s_snapshot_event (sub, zone, 30000, error, sizeof error),
                       "stream %d did not end", i);
        while (*error == 0);
        cr_assert_str_eq (error, "the client went away");
    }
    //  ...and their slots are free: four more streams are taken
    for (int i = 0; i < 4; i++) {
        stalled [i] = s_dealer ();
        s_send (stalled [i], 3, "op", 's', "snapshot", "id", 'u', (uint64_t) 1,
                "credit", 'u', (uint64_t) 1);
        msgpack_object *reply = s_recv (stalled [i], zone, 10000);
        cr_assert_not_null (reply);
        cr_assert_null (s_get (reply, "error"), "slot %d is still taken", i);
    }
    for (int i = 0; i < 4; i++)
        zsock_destroy (&stalled [i]);
    zsock_destroy (&sub);
    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}

Test (replies, a_move_leader_whose_id_and_name_disagree_is_refused)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    s_header_t member = s_status (dealer, zone);
    s_send (dealer, 4, "op", 's', "move_leader", "id", 'u', (uint64_t) 3,
            "target_id", 'u', member.member_id, "name", 's', "nobody");
    msgpack_object *reply = s_recv (dealer, zone, 10000);
    cr_assert_not_null (reply);
    char message [200];
    snprintf (message, sizeof message, "zkv: malformed request: target_id %016llx and name "
              "\"nobody\" (no member) name different members",
              (unsigned long long) member.member_id);
    s_assert_error (reply, "InvalidArgument", message);
    s_assert_whole_header (reply, &member);
    //  Both naming the member itself: done
    s_send (dealer, 4, "op", 's', "move_leader", "id", 'u', (uint64_t) 4,
            "target_id", 'u', member.member_id, "name", 's', "replies");
    reply = s_recv (dealer, zone, 10000);
    cr_assert_not_null (reply);
    cr_assert_null (s_get (reply, "error"));
    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}

//  The entry "success" of a txn holding `nested` txns one in the other,
//  the innermost holding a range
static void
s_pack_nested (msgpack_packer *pk, int nested)
{
    //  success: [ { request_txn | request_range: ... } ]
    msgpack_pack_str_with_body (pk, "success", 7);
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 1);
    if (nested == 0) {
        msgpack_pack_str_with_body (pk, "request_range", 13);
        msgpack_pack_map (pk, 1);
        msgpack_pack_str_with_body (pk, "key", 3);
        msgpack_pack_bin_with_body (pk, "k", 1);
        return;
    }
    msgpack_pack_str_with_body (pk, "request_txn", 11);
    msgpack_pack_map (pk, 1);
    s_pack_nested (pk, nested - 1);
}

Test (replies, nesting_counts_every_map_and_array_from_the_request_map)
{
    s_start ();
    msgpack_zone *zone = msgpack_zone_new (8192);
    zsock_t *dealer = s_dealer ();
    //  The request map is level 1, a nested txn adds 3 levels: the range of
    //  the 4th nested txn is at level 16, of the 5th at level 19
    for (int nested = 4; nested <= 5; nested++) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        s_pack_nested (&pk, nested);
        s_send (dealer, 3, "op", 's', "txn", "id", 'u', (uint64_t) nested,
                NULL, 'm', buffer.data, buffer.size);
        msgpack_sbuffer_destroy (&buffer);
        msgpack_object *reply = s_recv (dealer, zone, 5000);
        cr_assert_not_null (reply);
        if (nested == 4)
            cr_assert_null (s_get (reply, "error"));
        else
            s_assert_error (reply, "InvalidArgument",
                            "zkv: malformed request: nesting deeper than 16 levels");
    }
    zsock_destroy (&dealer);
    msgpack_zone_free (zone);
}
