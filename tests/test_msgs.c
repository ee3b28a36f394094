/*  test_msgs.c — every message of the table round-trips; hostile bytes are
    rejected with a clear error, never a crash. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_check.h"
#include "zkv_event_seq.h"
#include "zkv_utf8.h"
#include "zkv_msgs.h"

//  ---------------------------------------------------------------------
//  Generic fill and compare, driven by the descriptors

static uint64_t s_seed = 88172645463325252ULL;

static uint64_t
s_random (void)
{
    s_seed ^= s_seed << 13;
    s_seed ^= s_seed >> 7;
    s_seed ^= s_seed << 17;
    return s_seed;
}

static void s_fill (const zkv_desc_t *desc, void *msg, msgpack_zone *zone, int depth);

typedef struct {
    void *items;
    size_t count;
} s_list_t;

static void
s_fill_field (const zkv_field_t *field, char *at, msgpack_zone *zone, int depth)
{
    bool zero = s_random () % 4 == 0;   //  exercise omitted fields too
    switch (field->type) {
        case ZKV_T_U64:
            *(uint64_t *) at = zero? 0: s_random () >> (s_random () % 64);
            break;
        case ZKV_T_I64:
            *(int64_t *) at = zero? 0: (int64_t) s_random () >> (s_random () % 64);
            break;
        case ZKV_T_BOOL:
            *(bool *) at = !zero && s_random () % 2;
            break;
        case ZKV_T_BIN:
        case ZKV_T_STR: {
            size_t size = zero? 0: s_random () % 40;
            uint8_t *bytes = msgpack_zone_malloc (zone, size + 1);
            for (size_t i = 0; i < size; i++)
                bytes [i] = field->type == ZKV_T_STR? 'a' + s_random () % 26: (uint8_t) s_random ();
            *(zkv_bin_t *) at = zkv_bin (bytes, size);
            break;
        }
        case ZKV_T_MSG:
            if (zero || depth > 3)
                *(void **) at = NULL;
            else {
                void *sub = msgpack_zone_malloc (zone, field->sub->size);
                s_fill (field->sub, sub, zone, depth + 1);
                *(void **) at = sub;
            }
            break;
        case ZKV_T_LIST: {
            s_list_t *list = (s_list_t *) at;
            list->count = zero || depth > 3? 0: s_random () % 4;
            list->items = NULL;
            if (list->count) {
                list->items = msgpack_zone_malloc (zone, list->count * field->sub->size);
                for (size_t i = 0; i < list->count; i++)
                    s_fill (field->sub, (char *) list->items + i * field->sub->size, zone,
                            depth + 1);
            }
            break;
        }
    }
}

static void
s_fill (const zkv_desc_t *desc, void *msg, msgpack_zone *zone, int depth)
{
    memset (msg, 0, desc->size);
    for (size_t i = 0; i < desc->field_count; i++)
        s_fill_field (&desc->fields [i], (char *) msg + desc->fields [i].offset, zone, depth);
}

static void s_assert_equal (const zkv_desc_t *desc, const void *a, const void *b,
                            const char *path);

static void
s_assert_field (const zkv_desc_t *desc, const zkv_field_t *field, const char *a,
                const char *b, const char *path)
{
    switch (field->type) {
        case ZKV_T_U64:
            cr_assert_eq (*(uint64_t *) a, *(uint64_t *) b, "%s.%s", path, field->name);
            break;
        case ZKV_T_I64:
            cr_assert_eq (*(int64_t *) a, *(int64_t *) b, "%s.%s", path, field->name);
            break;
        case ZKV_T_BOOL:
            cr_assert_eq (*(bool *) a, *(bool *) b, "%s.%s", path, field->name);
            break;
        case ZKV_T_BIN:
        case ZKV_T_STR: {
            const zkv_bin_t *x = (const zkv_bin_t *) a, *y = (const zkv_bin_t *) b;
            cr_assert_eq (x->size, y->size, "%s.%s size", path, field->name);
            if (x->size)
                cr_assert_arr_eq (x->data, y->data, x->size, "%s.%s", path, field->name);
            break;
        }
        case ZKV_T_MSG: {
            void *x = *(void **) a, *y = *(void **) b;
            cr_assert_eq (x == NULL, y == NULL, "%s.%s presence", path, field->name);
            if (x)
                s_assert_equal (field->sub, x, y, field->name);
            break;
        }
        case ZKV_T_LIST: {
            const s_list_t *x = (const s_list_t *) a, *y = (const s_list_t *) b;
            cr_assert_eq (x->count, y->count, "%s.%s count", path, field->name);
            for (size_t i = 0; i < x->count; i++)
                s_assert_equal (field->sub, (char *) x->items + i * field->sub->size,
                                (char *) y->items + i * field->sub->size, field->name);
            break;
        }
    }
    (void) desc;
}

static void
s_assert_equal (const zkv_desc_t *desc, const void *a, const void *b, const char *path)
{
    for (size_t i = 0; i < desc->field_count; i++)
        s_assert_field (desc, &desc->fields [i], (const char *) a + desc->fields [i].offset,
                        (const char *) b + desc->fields [i].offset, path);
}

static const int ALL_KINDS = ZKV_KIND_REQUEST | ZKV_KIND_RESPONSE | ZKV_KIND_NESTED
                           | ZKV_KIND_INTERNAL | ZKV_KIND_PEER;

Test (msgs, every_message_round_trips)
{
    zkv_limits_t limits = zkv_limits_trusted ();
    size_t messages = 0;
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++) {
        for (int round = 0; round < 50; round++) {
            msgpack_zone *zone = msgpack_zone_new (4096);
            void *msg = msgpack_zone_malloc (zone, (*desc)->size);
            s_fill (*desc, msg, zone, 0);

            msgpack_sbuffer buffer;
            msgpack_sbuffer_init (&buffer);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
            uint64_t id = s_random ();
            cr_assert_eq (zkv_msg_pack_top (&pk, *desc, msg, NULL, true, id), 0);

            zkv_result_t status;
            zkv_msg_t *decoded = zkv_msg_decode (buffer.data, buffer.size, ALL_KINDS, &limits,
                                                 &status);
            char text [256];
            cr_assert_not_null (decoded, "%s: %s", (*desc)->name,
                                zkv_status_text (&status, text, sizeof text));
            cr_assert_eq (decoded->desc, *desc);
            cr_assert (decoded->has_id);
            cr_assert_eq (decoded->id, id);
            s_assert_equal (*desc, msg, decoded->body, (*desc)->name);
            zkv_msg_destroy (&decoded);
            cr_assert_null (decoded);

            //  The nested form round-trips too
            size_t size;
            uint8_t *body = zkv_msg_encode_body (*desc, msg, &size);
            msgpack_zone *zone2 = msgpack_zone_new (4096);
            void *back = zkv_msg_decode_body (body, size, *desc, zone2, &limits, &status);
            cr_assert_not_null (back, "%s body", (*desc)->name);
            s_assert_equal (*desc, msg, back, (*desc)->name);
            msgpack_zone_free (zone2);
            free (body);
            msgpack_sbuffer_destroy (&buffer);
            msgpack_zone_free (zone);
        }
        messages++;
    }
    cr_assert_gt (messages, 20);
}

Test (msgs, every_response_starts_with_its_header)
{
    //  storage fills in headers through this layout
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++)
        if ((*desc)->kind == ZKV_KIND_RESPONSE) {
            cr_assert_str_eq ((*desc)->fields [0].name, "header", "%s", (*desc)->name);
            cr_assert_eq ((*desc)->fields [0].offset, 0);
            cr_assert_eq ((*desc)->fields [0].sub, &zkv_header_desc);
        }
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++)
        if ((*desc)->kind == ZKV_KIND_REQUEST)
            cr_assert_not_null ((*desc)->response, "%s", (*desc)->name);
}

Test (msgs, no_field_takes_an_envelope_name)
{
    //  "id" and "op" belong to the envelope of top-level maps
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++)
        for (size_t i = 0; i < (*desc)->field_count; i++) {
            cr_assert_str_neq ((*desc)->fields [i].name, "id", "%s", (*desc)->name);
            cr_assert_str_neq ((*desc)->fields [i].name, "op", "%s", (*desc)->name);
        }
}

Test (msgs, lookup_by_name)
{
    cr_assert_eq (zkv_msg_lookup ("put", 3), &zkv_put_desc);
    cr_assert_eq (zkv_put_desc.response, &zkv_put_response_desc);
    cr_assert_eq (zkv_msg_lookup ("putx", 4), NULL);
    cr_assert_eq (zkv_msg_lookup ("pu", 2), NULL);
}

//  Every event a member publishes is stamped with its seq and boot; the
//  event's own fields are kept
Test (msgs, event_stamping)
{
    zkv_alarm_event_t event = {
        .member = 5, .state = zkv_bin ("activated", 9), .member_id = 6,
        .alarm = zkv_bin ("NOSPACE", 7)
    };
    size_t body_size, size;
    uint8_t *body = zkv_msg_encode_body (&zkv_alarm_event_desc, &event, &body_size);
    uint8_t *stamped = zkv_msg_stamp_event (body, body_size, 12, 1700000000123456, &size);
    cr_assert_not_null (stamped);
    msgpack_zone *zone = msgpack_zone_new (1024);
    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_alarm_event_t *decoded = (zkv_alarm_event_t *) zkv_msg_decode_body (
        stamped, size, &zkv_alarm_event_desc, zone, &limits, &status);
    cr_assert_not_null (decoded, "%s", status.detail);
    event.seq = 12;
    event.boot = 1700000000123456;
    s_assert_equal (&zkv_alarm_event_desc, &event, decoded, "event");
    free (stamped);
    //  What is no map is not stamped
    cr_assert_null (zkv_msg_stamp_event ("\x93\x01\x02\x03", 4, 1, 1, &size));
    msgpack_zone_free (zone);
    free (body);
}

//  What the seq and boot of a member's messages tell a subscriber
Test (msgs, event_seq_tells_gaps_and_restarts)
{
    zkv_event_seq_t seq = { 0, 0 };
    //  The first word tells nothing missed, whatever its seq
    zkv_event_seq_news_t news = zkv_event_seq_heard (&seq, 100, 7, true);
    cr_assert (news.first && !news.restarted && news.missed_from == 0);
    //  The events after the hello's seq, one by one: nothing missed
    news = zkv_event_seq_heard (&seq, 100, 8, false);
    cr_assert (!news.first && !news.restarted && news.missed_from == 0);
    news = zkv_event_seq_heard (&seq, 100, 8, true);
    cr_assert (news.missed_from == 0);
    //  9 and 10 missed: told by the event after, or by a hello
    news = zkv_event_seq_heard (&seq, 100, 11, false);
    cr_assert (news.missed_from == 9 && news.missed_to == 10);
    news = zkv_event_seq_heard (&seq, 100, 13, true);
    cr_assert (news.missed_from == 12 && news.missed_to == 13);
    news = zkv_event_seq_heard (&seq, 100, 14, false);
    cr_assert (news.missed_from == 0);
    //  A restart is no gap; its events before the first heard are missed
    news = zkv_event_seq_heard (&seq, 200, 0, true);
    cr_assert (news.restarted && news.missed_from == 0);
    news = zkv_event_seq_heard (&seq, 200, 1, false);
    cr_assert (!news.restarted && news.missed_from == 0);
    news = zkv_event_seq_heard (&seq, 300, 3, false);
    cr_assert (news.restarted && news.missed_from == 1 && news.missed_to == 2);
    news = zkv_event_seq_heard (&seq, 400, 2, true);
    cr_assert (news.restarted && news.missed_from == 1 && news.missed_to == 2);
    news = zkv_event_seq_heard (&seq, 400, 3, false);
    cr_assert (!news.restarted && news.missed_from == 0);
    //  A first event heard tells nothing missed either
    zkv_event_seq_t other = { 0, 0 };
    news = zkv_event_seq_heard (&other, 100, 50, false);
    cr_assert (news.first && news.missed_from == 0);
    news = zkv_event_seq_heard (&other, 100, 51, false);
    cr_assert (news.missed_from == 0);
}

Test (msgs, reply_wrapping)
{
    zkv_key_value_t prev = { .key = zkv_bin ("k", 1), .value = zkv_bin ("v", 1), .version = 3 };
    zkv_header_t header = { .cluster_id = 1, .member_id = 2, .revision = 9, .raft_term = 4 };
    zkv_put_response_t response = { .header = &header, .prev_kv = &prev };
    size_t body_size, size;
    uint8_t *body = zkv_msg_encode_body (&zkv_put_response_desc, &response, &body_size);
    uint8_t *reply = zkv_msg_wrap_reply (77, true, "put", 3, body, body_size, &size);
    cr_assert_not_null (reply);

    zkv_limits_t limits = zkv_limits_trusted ();
    zkv_result_t status;
    zkv_msg_t *decoded = zkv_msg_decode_reply (reply, size, &zkv_put_desc, &limits, &status);
    cr_assert_not_null (decoded);
    cr_assert_eq (decoded->id, 77);
    cr_assert (zkv_bin_eq (decoded->op, "put"));
    cr_assert_eq (decoded->desc, &zkv_put_response_desc);
    s_assert_equal (&zkv_put_response_desc, &response, decoded->body, "reply");
    zkv_msg_destroy (&decoded);
    free (reply);
    free (body);

    //  An error body decodes as an error_response, whatever the op
    zkv_result_t failure;
    zkv_status_set (&failure, ZKV_ERR_COMPACTED, NULL);
    body = zkv_msg_encode_error (&failure, &header, &body_size);
    reply = zkv_msg_wrap_reply (78, true, "range", 5, body, body_size, &size);
    decoded = zkv_msg_decode_reply (reply, size, &zkv_range_desc, &limits, &status);
    cr_assert_not_null (decoded);
    cr_assert_eq (decoded->desc, &zkv_error_response_desc);
    zkv_error_response_t *error = decoded->body;
    cr_assert (zkv_bin_eq (error->error->code, "OutOfRange"));
    cr_assert (zkv_bin_eq (error->error->message,
                           "etcdserver: mvcc: required revision has been compacted"));
    cr_assert_eq (error->header->revision, 9);
    zkv_msg_destroy (&decoded);
    free (reply);
    free (body);
}

//  A reply or event from a newer member, with fields this build does not
//  know (in the top map and in a nested one), is read at a client and its
//  known fields kept; the same fields in a request, or between the actors
//  of a member, are an error
Test (msgs, replies_and_events_skip_unknown_fields_requests_refuse_them)
{
    //  {"id": 5, "op": "put", "header": {"revision": 9, "shard": 1}, "later": [1]}
    const uint8_t reply [] = {
        0x84, 0xa2, 'i', 'd', 0x05, 0xa2, 'o', 'p', 0xa3, 'p', 'u', 't',
        0xa6, 'h', 'e', 'a', 'd', 'e', 'r',
            0x82, 0xa8, 'r', 'e', 'v', 'i', 's', 'i', 'o', 'n', 0x09,
                  0xa5, 's', 'h', 'a', 'r', 'd', 0x01,
        0xa5, 'l', 'a', 't', 'e', 'r', 0x91, 0x01
    };
    zkv_limits_t client = zkv_limits_client ();
    zkv_result_t status;
    zkv_msg_t *decoded = zkv_msg_decode_reply (reply, sizeof reply, &zkv_put_desc, &client,
                                               &status);
    cr_assert_not_null (decoded, "%s", status.detail);
    zkv_put_response_t *response = decoded->body;
    cr_assert_eq (response->header->revision, 9);
    zkv_msg_destroy (&decoded);

    //  An event body: {"term": 2, "leader": 7, "votes": 3}
    const uint8_t event [] = {
        0x83, 0xa4, 't', 'e', 'r', 'm', 0x02, 0xa6, 'l', 'e', 'a', 'd', 'e', 'r', 0x07,
        0xa5, 'v', 'o', 't', 'e', 's', 0x03
    };
    msgpack_zone *zone = msgpack_zone_new (1024);
    zkv_leader_event_t *leader = zkv_msg_decode_body (event, sizeof event,
                                                      &zkv_leader_event_desc, zone, &client,
                                                      &status);
    cr_assert_not_null (leader, "%s", status.detail);
    cr_assert_eq (leader->leader, 7);
    //  Inside a member, an unknown field is a bug: it still tells
    zkv_limits_t trusted = zkv_limits_trusted ();
    cr_assert_null (zkv_msg_decode_body (event, sizeof event, &zkv_leader_event_desc, zone,
                                         &trusted, &status));
    msgpack_zone_free (zone);

    //  {"op": "put", "key": <bin k>, "later": 1}
    const uint8_t request [] = {
        0x83, 0xa2, 'o', 'p', 0xa3, 'p', 'u', 't', 0xa3, 'k', 'e', 'y', 0xc4, 0x01, 'k',
        0xa5, 'l', 'a', 't', 'e', 'r', 0x01
    };
    zkv_limits_t limits = zkv_limits_request (1 << 20);
    cr_assert_null (zkv_msg_decode (request, sizeof request, ZKV_KIND_REQUEST, &limits,
                                    &status));
    cr_assert_eq (status.err, ZKV_ERR_MALFORMED);
}

//  ---------------------------------------------------------------------
//  Hostile input: every case must give a clean error

typedef struct {
    const char *name;
    const char *bytes;
    size_t size;
    zkv_err_t err;
    const char *detail;                 //  expected substring of the detail
} s_bad_t;

#define BAD(name, bytes, err, detail) { name, bytes, sizeof bytes - 1, err, detail }

static const s_bad_t s_corpus [] = {
    BAD ("empty",            "",                           ZKV_ERR_MALFORMED, "truncated"),
    BAD ("truncated map",    "\x82\xa2op\xa3put\xa3key",   ZKV_ERR_MALFORMED, "truncated"),
    BAD ("truncated bin",    "\x82\xa2op\xa3put\xa3key\xc4\x05" "ab",
                                                           ZKV_ERR_MALFORMED, "truncated"),
    BAD ("trailing bytes",   "\x81\xa2op\xa3put\xc0",      ZKV_ERR_MALFORMED, "trailing"),
    BAD ("two objects",      "\x81\xa2op\xa3put\x81\xa2op\xa3put",
                                                           ZKV_ERR_MALFORMED, "trailing"),
    BAD ("not a map",        "\x93\x01\x02\x03",           ZKV_ERR_MALFORMED, "must be a map"),
    BAD ("bare int",         "\x07",                       ZKV_ERR_MALFORMED, "must be a map"),
    BAD ("bad byte c1",      "\x81\xa2op\xc1",             ZKV_ERR_MALFORMED, "0xc1"),
    BAD ("map32 of 4G",      "\xdf\xff\xff\xff\xff",       ZKV_ERR_MALFORMED, "entries"),
    BAD ("map32 of 64M",     "\xdf\x04\x00\x00\x00",       ZKV_ERR_MALFORMED, "entries"),
    BAD ("array32 of 4G",    "\x81\xa2op\xdd\xff\xff\xff\xff",
                                                           ZKV_ERR_MALFORMED, "entries"),
    BAD ("str32 of 4G",      "\x81\xa2op\xdb\xff\xff\xff\xff",
                                                           ZKV_ERR_MALFORMED, "truncated"),
    BAD ("more items than bytes", "\x8f\xa2op",            ZKV_ERR_MALFORMED, "truncated"),
    BAD ("deep nesting",     "\x82\xa2op\xa3put\xa3key"
                             "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
                             "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91"
                             "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x90",
                                                           ZKV_ERR_MALFORMED, "nesting"),
    BAD ("no op",            "\x81\xa2id\x01",             ZKV_ERR_MALFORMED, "no \"op\""),
    BAD ("op not str",       "\x81\xa2op\x05",             ZKV_ERR_MALFORMED, "\"op\" must be str"),
    BAD ("id not int",       "\x82\xa2id\xa1x\xa2op\xa3put",
                                                           ZKV_ERR_MALFORMED, "\"id\" must be"),
    BAD ("negative id",      "\x82\xa2id\xff\xa2op\xa3put",
                                                           ZKV_ERR_MALFORMED, "\"id\" must be"),
    BAD ("unknown op",       "\x81\xa2op\xaa" "frobnicate",   ZKV_ERR_UNKNOWN_OP, "frobnicate"),
    BAD ("internal op",      "\x81\xa2op\xa5" "apply",        ZKV_ERR_UNKNOWN_OP, "apply"),
    BAD ("response op",      "\x81\xa2op\xacput_response", ZKV_ERR_UNKNOWN_OP, "put_response"),
    BAD ("key is str",       "\x82\xa2op\xa3put\xa3key\xa3" "foo",
                                                           ZKV_ERR_MALFORMED, "\"key\" of put must be bin, got str"),
    BAD ("key is int",       "\x82\xa2op\xa3put\xa3key\x07",
                                                           ZKV_ERR_MALFORMED, "must be bin, got int"),
    BAD ("lease is str",     "\x82\xa2op\xa3put\xa5lease\xa1x",
                                                           ZKV_ERR_MALFORMED, "\"lease\" of put must be an int"),
    BAD ("prev_kv is int",   "\x82\xa2op\xa3put\xa7prev_kv\x01",
                                                           ZKV_ERR_MALFORMED, "must be bool"),
    BAD ("field is nil",     "\x82\xa2op\xa3put\xa3key\xc0",
                                                           ZKV_ERR_MALFORMED, "got nil"),
    BAD ("revision too big", "\x82\xa2op\xa5range\xa8revision\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
                                                           ZKV_ERR_MALFORMED, "out of range"),
    BAD ("unknown field",    "\x82\xa2op\xa3put\xa6prevkv\xc3",
                                                           ZKV_ERR_MALFORMED, "unknown field \"prevkv\""),
    BAD ("duplicate field",  "\x83\xa2op\xa3put\xa3key\xc4\x01k\xa3key\xc4\x01k",
                                                           ZKV_ERR_MALFORMED, "duplicate"),
    BAD ("duplicate op",     "\x83\xa2op\xa5range\xa2op\xa3put\xa3key\xc4\x01" "a",
                                                           ZKV_ERR_MALFORMED, "duplicate \"op\""),
    BAD ("duplicate id",     "\x83\xa2id\x01\xa2id\x02\xa2op\xa3put",
                                                           ZKV_ERR_MALFORMED, "duplicate \"id\""),
    BAD ("int map key",      "\x82\xa2op\xa3put\x01\x02",  ZKV_ERR_MALFORMED, "keys of put"),
    BAD ("list of ints",     "\x82\xa2op\xa3txn\xa7" "compare\x92\x01\x02",
                                                           ZKV_ERR_MALFORMED, "must be maps"),
    BAD ("nested wrong type", "\x82\xa2op\xa3txn\xa7success\x91\x81\xabrequest_put\x81\xa3key\xa1k",
                                                           ZKV_ERR_MALFORMED, "\"key\" of put must be bin"),
    BAD ("float",            "\x82\xa2op\xa5range\xa5limit\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00",
                                                           ZKV_ERR_MALFORMED, "got float"),
};

Test (msgs, hostile_requests_are_rejected)
{
    zkv_limits_t limits = zkv_limits_request (1572864);
    for (size_t i = 0; i < sizeof s_corpus / sizeof s_corpus [0]; i++) {
        const s_bad_t *bad = &s_corpus [i];
        zkv_result_t status;
        zkv_msg_t *msg = zkv_msg_decode (bad->bytes, bad->size, ZKV_KIND_REQUEST, &limits,
                                         &status);
        char text [256];
        cr_assert_null (msg, "%s: accepted", bad->name);
        cr_assert_eq (status.err, bad->err, "%s: %s", bad->name,
                      zkv_status_text (&status, text, sizeof text));
        cr_assert_not_null (strstr (zkv_status_text (&status, text, sizeof text), bad->detail),
                            "%s: \"%s\" lacks \"%s\"", bad->name, text, bad->detail);
    }
}

Test (msgs, every_truncation_of_a_valid_request_is_rejected)
{
    zkv_limits_t limits = zkv_limits_request (1572864);
    zkv_compare_t compare = { .result = zkv_bin ("EQUAL", 5), .target = zkv_bin ("VALUE", 5),
                              .key = zkv_bin ("a", 1), .value = zkv_bin ("1", 1) };
    zkv_put_t put = { .key = zkv_bin ("b", 1), .value = zkv_bin ("2", 1) };
    zkv_request_op_t op = { .request_put = &put };
    zkv_txn_t txn = { .compare = { &compare, 1 }, .success = { &op, 1 } };
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    cr_assert_eq (zkv_msg_pack_top (&pk, &zkv_txn_desc, &txn, NULL, true, 5), 0);
    zkv_result_t status;
    zkv_msg_t *msg = zkv_msg_decode (buffer.data, buffer.size, ZKV_KIND_REQUEST, &limits, &status);
    cr_assert_not_null (msg);
    zkv_msg_destroy (&msg);
    for (size_t size = 0; size < buffer.size; size++) {
        msg = zkv_msg_decode (buffer.data, size, ZKV_KIND_REQUEST, &limits, &status);
        cr_assert_null (msg, "accepted a truncation to %zu bytes", size);
        cr_assert_eq (status.err, ZKV_ERR_MALFORMED);
    }
    msgpack_sbuffer_destroy (&buffer);
}

Test (msgs, random_bytes_never_crash)
{
    zkv_limits_t limits = zkv_limits_request (1572864);
    uint8_t bytes [64];
    for (int round = 0; round < 200000; round++) {
        size_t size = s_random () % sizeof bytes;
        for (size_t i = 0; i < size; i++)
            bytes [i] = (uint8_t) s_random ();
        if (size)                       //  mostly maps, to get past the first check
            bytes [0] = 0x80 | (bytes [0] & 0x0f);
        zkv_result_t status;
        zkv_msg_t *msg = zkv_msg_decode (bytes, size, ZKV_KIND_REQUEST, &limits, &status);
        if (msg)
            zkv_msg_destroy (&msg);
        else
            cr_assert_neq (status.err, ZKV_ERR_OK);
        uint64_t id;
        bool has_id;
        char op [16];
        zkv_msg_peek (bytes, size, &has_id, &id, op, sizeof op);
    }
}

Test (msgs, oversize_frame)
{
    zkv_limits_t limits = zkv_limits_request (1024);
    char big [2048];
    memset (big, 0, sizeof big);
    zkv_result_t status;
    cr_assert_null (zkv_msg_decode (big, sizeof big, ZKV_KIND_REQUEST, &limits, &status));
    cr_assert_eq (status.err, ZKV_ERR_REQUEST_TOO_LARGE);
    char text [128];
    cr_assert_str_eq (zkv_status_text (&status, text, sizeof text),
                      "etcdserver: request is too large");
}

Test (msgs, peek_envelope)
{
#define PEEK(bytes) zkv_msg_peek (bytes, sizeof bytes - 1, &has_id, &id, op, sizeof op)
    uint64_t id = 0;
    bool has_id;
    char op [8];
    PEEK ("\x82\xa2op\xa3put\xa2id\x2a");
    cr_assert (has_id);
    cr_assert_eq (id, 42);
    cr_assert_str_eq (op, "put");
    //  Found even when what follows is broken
    PEEK ("\x83\xa2id\xcd\x01\x00\xa2op\xa5range\xc1");
    cr_assert (has_id);
    cr_assert_eq (id, 256);
    cr_assert_str_eq (op, "range");
    PEEK ("\x81\xa2op\xaa" "frobnicate");
    cr_assert_not (has_id);
    cr_assert_str_eq (op, "frobnic");   //  truncated to the buffer
    PEEK ("\x81\xa2op\x05");
    cr_assert_str_eq (op, "");
    PEEK ("\x91\x01");
    cr_assert_not (has_id);
    PEEK ("");
    cr_assert_not (has_id);
#undef PEEK
}

//  ---------------------------------------------------------------------
//  etcd's request checks

static zkv_result_t
s_check_ops (const zkv_desc_t *desc, const void *request, size_t max_txn_ops)
{
    zkv_result_t status;
    zkv_check_request (desc, request, max_txn_ops, &status);
    return status;
}

static zkv_result_t
s_check (const zkv_desc_t *desc, const void *request)
{
    return s_check_ops (desc, request, ZKV_DEFAULT_MAX_TXN_OPS);
}

Test (msgs, etcd_request_checks)
{
    zkv_put_t put = { .key = zkv_bin ("", 0) };
    cr_assert_eq (s_check (&zkv_put_desc, &put).err, ZKV_ERR_EMPTY_KEY);
    put.key = zkv_bin ("k", 1);
    cr_assert_eq (s_check (&zkv_put_desc, &put).err, ZKV_ERR_OK);
    put.ignore_value = true;
    put.value = zkv_bin ("v", 1);
    cr_assert_eq (s_check (&zkv_put_desc, &put).err, ZKV_ERR_VALUE_PROVIDED);
    put.ignore_value = false;
    put.ignore_lease = true;
    put.lease = 5;
    cr_assert_eq (s_check (&zkv_put_desc, &put).err, ZKV_ERR_LEASE_PROVIDED);

    zkv_range_t range = { .key = zkv_bin ("", 0) };
    cr_assert_eq (s_check (&zkv_range_desc, &range).err, ZKV_ERR_EMPTY_KEY);
    //  etcd's sort enums, by name; the zero ones may be left out
    range.key = zkv_bin ("k", 1);
    const char *orders [] = { "", "NONE", "ASCEND", "DESCEND" };
    const char *targets [] = { "", "KEY", "VERSION", "CREATE", "MOD", "VALUE" };
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 6; j++) {
            range.sort_order = zkv_bin (orders [i], strlen (orders [i]));
            range.sort_target = zkv_bin (targets [j], strlen (targets [j]));
            cr_assert_eq (s_check (&zkv_range_desc, &range).err, ZKV_ERR_OK);
            cr_assert_eq ((int) zkv_range_sort_order (&range), i? (int) i - 1: 0);
            cr_assert_eq ((int) zkv_range_sort_target (&range), j? (int) j - 1: 0);
        }
    range.sort_order = zkv_bin ("descend", 7);
    zkv_result_t status = s_check (&zkv_range_desc, &range);
    cr_assert_eq (status.err, ZKV_ERR_MALFORMED);
    cr_assert_str_eq (status.detail, "sort_order must be NONE, ASCEND or DESCEND");
    range.sort_order = zkv_bin ("", 0);
    range.sort_target = zkv_bin ("MODIFY", 6);
    status = s_check (&zkv_range_desc, &range);
    cr_assert_eq (status.err, ZKV_ERR_MALFORMED);
    cr_assert_str_eq (status.detail, "sort_target must be KEY, VERSION, CREATE, MOD or VALUE");
    //  In a txn too
    zkv_request_op_t get = { .request_range = &range };
    zkv_txn_t txn = { .success = { &get, 1 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &txn).err, ZKV_ERR_MALFORMED);
    zkv_delete_range_t del = { .key = zkv_bin ("", 0) };
    cr_assert_eq (s_check (&zkv_delete_range_desc, &del).err, ZKV_ERR_EMPTY_KEY);
}

Test (msgs, txn_checks_scale_to_tens_of_thousands_of_puts)
{
    //  16 x 16 x 16 x 15 puts through nested txns, as a 1.5 MiB request can
    //  hold: the check must stay near linear (it once took 20 s)
    enum { FAN = 16, LEAVES = 15 };
    static char keys [FAN * FAN * FAN * LEAVES][12];
    static zkv_put_t puts [FAN * FAN * FAN * LEAVES];
    static zkv_request_op_t leaf_ops [FAN * FAN * FAN][LEAVES];
    static zkv_txn_t level3 [FAN * FAN * FAN];
    static zkv_request_op_t ops3 [FAN * FAN][FAN];
    static zkv_txn_t level2 [FAN * FAN];
    static zkv_request_op_t ops2 [FAN][FAN];
    static zkv_txn_t level1 [FAN];
    static zkv_request_op_t ops1 [FAN];
    size_t n = 0;
    for (size_t t = 0; t < FAN * FAN * FAN; t++) {
        for (size_t l = 0; l < LEAVES; l++, n++) {
            snprintf (keys [n], sizeof keys [n], "k%zu", n);
            puts [n].key = zkv_bin (keys [n], strlen (keys [n]));
            leaf_ops [t][l].request_put = &puts [n];
        }
        level3 [t].success.items = leaf_ops [t];
        level3 [t].success.count = LEAVES;
        ops3 [t / FAN][t % FAN].request_txn = &level3 [t];
    }
    for (size_t t = 0; t < FAN * FAN; t++) {
        level2 [t].success.items = ops3 [t];
        level2 [t].success.count = FAN;
        ops2 [t / FAN][t % FAN].request_txn = &level2 [t];
    }
    for (size_t t = 0; t < FAN; t++) {
        level1 [t].success.items = ops2 [t];
        level1 [t].success.count = FAN;
        ops1 [t].request_txn = &level1 [t];
    }
    zkv_txn_t top = { .success = { ops1, FAN } };
    //  (--max-txn-ops counts every operation nested in a branch)
    cr_assert_eq (s_check_ops (&zkv_txn_desc, &top, 1 << 20).err, ZKV_ERR_OK);
    puts [n - 1].key = puts [0].key;    //  one key twice, far apart
    cr_assert_eq (s_check_ops (&zkv_txn_desc, &top, 1 << 20).err, ZKV_ERR_DUPLICATE_KEY);
}

Test (msgs, txn_checks)
{
    zkv_put_t put_a = { .key = zkv_bin ("a", 1) };
    zkv_put_t put_b = { .key = zkv_bin ("b", 1) };
    zkv_delete_range_t del_range = { .key = zkv_bin ("a", 1), .range_end = zkv_bin ("c", 1) };
    zkv_request_op_t ops [3] = { { .request_put = &put_a }, { .request_put = &put_a } };
    zkv_txn_t txn = { .success = { ops, 2 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &txn).err, ZKV_ERR_DUPLICATE_KEY);
    ops [1].request_put = &put_b;
    cr_assert_eq (s_check (&zkv_txn_desc, &txn).err, ZKV_ERR_OK);
    ops [2].request_delete_range = &del_range;
    txn.success.count = 3;              //  put b under a delete of [a, c)
    cr_assert_eq (s_check (&zkv_txn_desc, &txn).err, ZKV_ERR_DUPLICATE_KEY);

    //  A put in then and the same put in else exclude each other: fine
    zkv_txn_t inner = { .success = { &ops [0], 1 }, .failure = { &ops [0], 1 } };
    zkv_request_op_t nested = { .request_txn = &inner };
    zkv_txn_t outer = { .success = { &nested, 1 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &outer).err, ZKV_ERR_OK);

    //  etcd compares range ends as raw strings: [a, "\0") covers nothing
    zkv_delete_range_t to_nul = { .key = zkv_bin ("a", 1), .range_end = zkv_bin ("", 1) };
    zkv_request_op_t nul_ops [2] = { { .request_delete_range = &to_nul }, { .request_put = &put_b } };
    zkv_txn_t with_nul = { .success = { nul_ops, 2 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &with_nul).err, ZKV_ERR_OK);

    zkv_request_op_t empty_op = { 0 };
    zkv_txn_t with_empty = { .success = { &empty_op, 1 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &with_empty).err, ZKV_ERR_KEY_NOT_FOUND);

    zkv_request_op_t two = { .request_put = &put_a, .request_delete_range = &del_range };
    zkv_txn_t with_two = { .success = { &two, 1 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &with_two).err, ZKV_ERR_MALFORMED);

    zkv_compare_t bad_result = { .key = zkv_bin ("a", 1), .result = zkv_bin ("SAME", 4) };
    zkv_txn_t with_bad = { .compare = { &bad_result, 1 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &with_bad).err, ZKV_ERR_MALFORMED);

    zkv_request_op_t many [129];
    for (int i = 0; i < 129; i++)
        many [i].request_put = &put_a, many [i].request_range = NULL,
        many [i].request_delete_range = NULL, many [i].request_txn = NULL;
    zkv_txn_t too_many = { .success = { many, 129 } };
    cr_assert_eq (s_check (&zkv_txn_desc, &too_many).err, ZKV_ERR_TOO_MANY_OPS);
    char text [128];
    zkv_result_t status = s_check (&zkv_txn_desc, &too_many);
    cr_assert_str_eq (zkv_status_text (&status, text, sizeof text),
                      "etcdserver: too many operations in txn request");
}

Test (msgs, max_txn_ops_counts_the_operations_of_nested_txns)
{
    //  etcd counts each level alone: 64 nested txns of 64 ranges each pass
    //  its --max-txn-ops 128 and make one request ask for 4,096 ranges
    enum { FAN = 64 };
    static zkv_range_t range = { .key = { (const uint8_t *) "a", 1 },
                                 .range_end = { (const uint8_t *) "\0", 1 } };
    static zkv_request_op_t leaves [2 * FAN];
    static zkv_txn_t nested [FAN];
    static zkv_request_op_t branch [FAN];
    for (size_t i = 0; i < 2 * FAN; i++)
        leaves [i].request_range = &range;
    for (size_t i = 0; i < FAN; i++) {
        nested [i].success = (zkv_request_op_list_t) { leaves, FAN };
        branch [i].request_txn = &nested [i];
    }
    zkv_txn_t top = { .success = { branch, FAN } };
    cr_assert_eq (s_check (&zkv_txn_desc, &top).err, ZKV_ERR_TOO_MANY_OPS);
    //  A branch holds its own operations plus every one nested in it
    //  (compares too): 1 txn + 126 ranges fit in 128 ...
    top.success.count = 1;
    nested [0].success.count = 126;
    cr_assert_eq (s_check (&zkv_txn_desc, &top).err, ZKV_ERR_OK);
    //  ... and a compare more does not
    zkv_compare_t compare = { .key = { (const uint8_t *) "a", 1 } };
    nested [0].compare = (zkv_compare_list_t) { &compare, 1 };
    nested [0].success.count = 127;
    cr_assert_eq (s_check (&zkv_txn_desc, &top).err, ZKV_ERR_TOO_MANY_OPS);
    //  A flat txn keeps etcd's rule: compares and each branch counted alone
    static zkv_compare_t compares [128];
    for (size_t i = 0; i < 128; i++)
        compares [i].key = zkv_bin ("a", 1);
    zkv_txn_t flat = { .compare = { compares, 128 }, .success = { leaves, 2 * FAN },
                       .failure = { leaves, 2 * FAN } };
    cr_assert_eq (s_check (&zkv_txn_desc, &flat).err, ZKV_ERR_OK);
}

Test (msgs, text_sent_is_valid_utf8)
{
    const struct {
        const char *in;
        const char *out;
    } cases [] = {
        { "plain", "plain" },
        { "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
        { "\xff\xfe", "\\xff\\xfe" },
        { "\xc0\xaf", "\\xc0\\xaf" },                   //  overlong '/'
        { "\xe0\x80\xaf", "\\xe0\\x80\\xaf" },          //  overlong, 3 bytes
        { "\xed\xa0\x80", "\\xed\\xa0\\x80" },          //  a surrogate
        { "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" }, //  past U+10FFFF
        { "a\xe2\x82", "a\\xe2\\x82" },                 //  cut short
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char text [64];
        snprintf (text, sizeof text, "%s", cases [i].in);
        zkv_utf8_escape (text, sizeof text);
        cr_assert_str_eq (text, cases [i].out, "case %zu", i);
        cr_assert (zkv_utf8_valid (text, strlen (text)));
    }
    //  Cut at a whole sequence when the room is short
    char small [8] = "\xff\xff\xff";
    zkv_utf8_escape (small, sizeof small);
    cr_assert_str_eq (small, "\\xff");
    //  Details quote requests: every status text is valid
    zkv_result_t status;
    zkv_status_set (&status, ZKV_ERR_UNKNOWN_OP, "\"%s\"", "\xfe\xfd");
    cr_assert_str_eq (status.detail, "\"\\xfe\\xfd\"");
}
