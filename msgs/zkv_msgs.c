/*  =========================================================================
    zkv_msgs.c — descriptors generated from zkv_msgs.def, and the one
    generic msgpack encoder and decoder that walk them.
    =========================================================================
*/
#include "zkv_msgs.h"
#include "zkv_utf8.h"
#include "zkv_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Descriptors

#define ZKV_SUB_U64(sub)   NULL
#define ZKV_SUB_I64(sub)   NULL
#define ZKV_SUB_BOOL(sub)  NULL
#define ZKV_SUB_BIN(sub)   NULL
#define ZKV_SUB_STR(sub)   NULL
#define ZKV_SUB_MSG(sub)   &zkv_##sub##_desc
#define ZKV_SUB_LIST(sub)  &zkv_##sub##_desc

#define ZKV_FIELDS_BEGIN(name) static const zkv_field_t s_##name##_fields [] = {
#define ZKV_REQUEST(name)    ZKV_FIELDS_BEGIN (name)
#define ZKV_RESPONSE(name)   ZKV_FIELDS_BEGIN (name)
#define ZKV_NESTED(name)     ZKV_FIELDS_BEGIN (name)
#define ZKV_INTERNAL(name)   ZKV_FIELDS_BEGIN (name)
#define ZKV_PEER(name)       ZKV_FIELDS_BEGIN (name)
#define ZKV_FIELD(msg, type, field, sub) \
    { #field, ZKV_T_##type, offsetof (zkv_##msg##_t, field), ZKV_SUB_##type (sub) },
#define ZKV_END(name)        };
#include "zkv_msgs.def"

//  How each request is served. A STATE request's body sits at its field
//  of internal_request, which must exist and point to its type (else
//  this does not compile: comparing distinct pointer types)
#define ZKV_INTERNAL_AT_STATE(name) \
    offsetof (zkv_internal_request_t, name) \
    + 0 * sizeof (((zkv_internal_request_t *) 0)->name == (zkv_##name##_t *) 0)
#define ZKV_INTERNAL_AT_FRONT(name)         0
#define ZKV_INTERNAL_AT_RAFT(name)          0
#define ZKV_INTERNAL_AT_HASHER(name)        0
#define ZKV_INTERNAL_AT_DEFRAG(name)        0
#define ZKV_INTERNAL_AT_SNAPSHOTTER(name)   0
#define ZKV_SERVE(name, server, access, deadline, effect) \
    static const zkv_serve_t s_##name##_serve = { \
        ZKV_REQ_##name, ZKV_BY_##server, ZKV_ACCESS_##access, ZKV_DEADLINE_##deadline, \
        ZKV_EFFECT_##effect, ZKV_INTERNAL_AT_##server (name) };
#include "zkv_msgs.def"

#define ZKV_DESC(name, kind, response, serve) \
    const zkv_desc_t zkv_##name##_desc = { \
        #name, kind, sizeof (zkv_##name##_t), s_##name##_fields, \
        sizeof s_##name##_fields / sizeof s_##name##_fields [0], response, serve };
#define ZKV_REQUEST(name)    ZKV_DESC (name, ZKV_KIND_REQUEST, &zkv_##name##_response_desc, \
                                       &s_##name##_serve)
#define ZKV_RESPONSE(name)   ZKV_DESC (name, ZKV_KIND_RESPONSE, NULL, NULL)
#define ZKV_NESTED(name)     ZKV_DESC (name, ZKV_KIND_NESTED, NULL, NULL)
#define ZKV_INTERNAL(name)   ZKV_DESC (name, ZKV_KIND_INTERNAL, NULL, NULL)
#define ZKV_PEER(name)       ZKV_DESC (name, ZKV_KIND_PEER, NULL, NULL)
#include "zkv_msgs.def"

#define ZKV_REQUEST(name)    &zkv_##name##_desc,
#define ZKV_RESPONSE(name)   &zkv_##name##_desc,
#define ZKV_NESTED(name)     &zkv_##name##_desc,
#define ZKV_INTERNAL(name)   &zkv_##name##_desc,
#define ZKV_PEER(name)       &zkv_##name##_desc,
const zkv_desc_t *const zkv_msg_table [] = {
#include "zkv_msgs.def"
    NULL
};

#define ZKV_SERVE(name, server, access, deadline, effect) &zkv_##name##_desc,
const zkv_desc_t *const zkv_requests [ZKV_REQ_COUNT] = {
#include "zkv_msgs.def"
};

const zkv_desc_t *
zkv_msg_lookup (const char *name, size_t size)
{
    for (const zkv_desc_t *const *desc = zkv_msg_table; *desc; desc++)
        if (strlen ((*desc)->name) == size && memcmp ((*desc)->name, name, size) == 0)
            return *desc;
    return NULL;
}

//  The body pointer of a STATE request's field in internal
static void **
s_internal_at (const zkv_internal_request_t *internal, const zkv_serve_t *serve)
{
    return (void **) ((char *) internal + serve->internal);
}

const zkv_desc_t *
zkv_internal_request_get (const zkv_internal_request_t *internal, void **body)
{
    for (int kind = 0; kind < ZKV_REQ_COUNT; kind++) {
        const zkv_serve_t *serve = zkv_requests [kind]->serve;
        if (serve->server == ZKV_BY_STATE && *s_internal_at (internal, serve)) {
            *body = *s_internal_at (internal, serve);
            return zkv_requests [kind];
        }
    }
    *body = NULL;
    return NULL;
}

bool
zkv_internal_request_set (zkv_internal_request_t *internal, const zkv_desc_t *desc,
                          void *body)
{
    if (!desc->serve || desc->serve->server != ZKV_BY_STATE)
        return false;
    *s_internal_at (internal, desc->serve) = body;
    return true;
}

//  ---------------------------------------------------------------------
//  Limits

zkv_limits_t
zkv_limits_request (size_t max_request_bytes)
{
    //  Our deepest request (a txn nested in a txn) is far below 16 levels,
    //  and etcd allows 128 operations per txn: 4096 entries per container
    //  leaves room without letting one header claim much memory.
    zkv_limits_t limits = { max_request_bytes, 16, 4096, false };
    return limits;
}

zkv_limits_t
zkv_limits_trusted (void)
{
    //  msgpack-c itself fails beyond 32 levels; replies may hold any
    //  number of key-values, bounded by the bytes that carry them.
    zkv_limits_t limits = { SIZE_MAX, 30, SIZE_MAX, false };
    return limits;
}

zkv_limits_t
zkv_limits_client (void)
{
    zkv_limits_t limits = zkv_limits_trusted ();
    limits.ignore_unknown = true;
    return limits;
}

//  ---------------------------------------------------------------------
//  Encoding

//  Lists of every message type share one layout: { items, count }
typedef struct {
    void *items;
    size_t count;
} s_list_t;

static bool
s_field_is_zero (const zkv_field_t *field, const void *msg)
{
    const char *at = (const char *) msg + field->offset;
    switch (field->type) {
        case ZKV_T_U64:  return *(const uint64_t *) at == 0;
        case ZKV_T_I64:  return *(const int64_t *) at == 0;
        case ZKV_T_BOOL: return !*(const bool *) at;
        case ZKV_T_BIN:
        case ZKV_T_STR:  return ((const zkv_bin_t *) at)->size == 0;
        case ZKV_T_MSG:  return *(void *const *) at == NULL;
        case ZKV_T_LIST: return ((const s_list_t *) at)->count == 0;
    }
    return true;
}

static int
s_pack_fields (msgpack_packer *pk, const zkv_desc_t *desc, const void *msg)
{
    int rc = 0;
    for (size_t i = 0; i < desc->field_count; i++) {
        const zkv_field_t *field = &desc->fields [i];
        if (s_field_is_zero (field, msg))
            continue;
        const char *at = (const char *) msg + field->offset;
        rc |= msgpack_pack_str_with_body (pk, field->name, strlen (field->name));
        switch (field->type) {
            case ZKV_T_U64:
                rc |= msgpack_pack_uint64 (pk, *(const uint64_t *) at);
                break;
            case ZKV_T_I64:
                rc |= msgpack_pack_int64 (pk, *(const int64_t *) at);
                break;
            case ZKV_T_BOOL:
                rc |= msgpack_pack_true (pk);
                break;
            case ZKV_T_BIN: {
                const zkv_bin_t *bin = (const zkv_bin_t *) at;
                rc |= msgpack_pack_bin_with_body (pk, bin->data, bin->size);
                break;
            }
            case ZKV_T_STR: {
                const zkv_bin_t *str = (const zkv_bin_t *) at;
                rc |= msgpack_pack_str_with_body (pk, str->data, str->size);
                break;
            }
            case ZKV_T_MSG:
                rc |= zkv_msg_pack (pk, field->sub, *(void *const *) at);
                break;
            case ZKV_T_LIST: {
                const s_list_t *list = (const s_list_t *) at;
                rc |= msgpack_pack_array (pk, list->count);
                for (size_t j = 0; j < list->count; j++)
                    rc |= zkv_msg_pack (pk, field->sub,
                                        (const char *) list->items + j * field->sub->size);
                break;
            }
        }
    }
    return rc? -1: 0;
}

static size_t
s_nonzero_fields (const zkv_desc_t *desc, const void *msg)
{
    size_t count = 0;
    for (size_t i = 0; i < desc->field_count; i++)
        if (!s_field_is_zero (&desc->fields [i], msg))
            count++;
    return count;
}

int
zkv_msg_pack (msgpack_packer *pk, const zkv_desc_t *desc, const void *msg)
{
    if (msgpack_pack_map (pk, s_nonzero_fields (desc, msg)))
        return -1;
    return s_pack_fields (pk, desc, msg);
}

int
zkv_msg_pack_top (msgpack_packer *pk, const zkv_desc_t *desc, const void *msg,
                  const char *op, bool has_id, uint64_t id)
{
    if (!op)
        op = desc->name;
    int rc = msgpack_pack_map (pk, s_nonzero_fields (desc, msg) + 1 + (has_id? 1: 0));
    if (has_id) {
        rc |= msgpack_pack_str_with_body (pk, "id", 2);
        rc |= msgpack_pack_uint64 (pk, id);
    }
    rc |= msgpack_pack_str_with_body (pk, "op", 2);
    rc |= msgpack_pack_str_with_body (pk, op, strlen (op));
    rc |= s_pack_fields (pk, desc, msg);
    return rc? -1: 0;
}

//  Hands over the sbuffer's bytes, or frees them on failure
static uint8_t *
s_release (msgpack_sbuffer *buffer, int rc, size_t *size)
{
    if (rc) {
        msgpack_sbuffer_destroy (buffer);
        return NULL;
    }
    *size = buffer->size;
    return (uint8_t *) msgpack_sbuffer_release (buffer);
}

uint8_t *
zkv_msg_encode (const zkv_desc_t *desc, const void *msg, size_t *size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = zkv_msg_pack_top (&pk, desc, msg, NULL, false, 0);
    return s_release (&buffer, rc, size);
}

uint8_t *
zkv_msg_encode_body (const zkv_desc_t *desc, const void *msg, size_t *size)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = zkv_msg_pack (&pk, desc, msg);
    return s_release (&buffer, rc, size);
}

//  The number of entries of an encoded map and the size of its header;
//  -1 if bytes are not a map
static int
s_map_header (const uint8_t *bytes, size_t size, size_t *entries, size_t *header)
{
    if (size >= 1 && bytes [0] >= 0x80 && bytes [0] <= 0x8f) {
        *entries = bytes [0] & 0x0f;
        *header = 1;
    }
    else
    if (size >= 3 && bytes [0] == 0xde) {
        *entries = ((size_t) bytes [1] << 8) | bytes [2];
        *header = 3;
    }
    else
    if (size >= 5 && bytes [0] == 0xdf) {
        *entries = ((size_t) bytes [1] << 24) | ((size_t) bytes [2] << 16)
                 | ((size_t) bytes [3] << 8) | bytes [4];
        *header = 5;
    }
    else
        return -1;
    return 0;
}

uint8_t *
zkv_msg_wrap_reply (uint64_t id, bool has_id, const char *op, size_t op_size,
                    const void *body, size_t body_size, size_t *size)
{
    const uint8_t *bytes = (const uint8_t *) body;
    size_t entries, header;
    if (s_map_header (bytes, body_size, &entries, &header))
        return NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, entries + 1 + (has_id? 1: 0));
    if (has_id) {
        rc |= msgpack_pack_str_with_body (&pk, "id", 2);
        rc |= msgpack_pack_uint64 (&pk, id);
    }
    rc |= msgpack_pack_str_with_body (&pk, "op", 2);
    rc |= msgpack_pack_str_with_body (&pk, op, op_size);
    rc |= msgpack_sbuffer_write (&buffer, (const char *) bytes + header, body_size - header);
    return s_release (&buffer, rc, size);
}

uint8_t *
zkv_msg_stamp_event (const void *body, size_t body_size, uint64_t seq, uint64_t boot,
                     size_t *size)
{
    const uint8_t *bytes = (const uint8_t *) body;
    size_t entries, header;
    if (s_map_header (bytes, body_size, &entries, &header))
        return NULL;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    int rc = msgpack_pack_map (&pk, entries + 2);
    rc |= msgpack_pack_str_with_body (&pk, "seq", 3);
    rc |= msgpack_pack_uint64 (&pk, seq);
    rc |= msgpack_pack_str_with_body (&pk, "boot", 4);
    rc |= msgpack_pack_uint64 (&pk, boot);
    rc |= msgpack_sbuffer_write (&buffer, (const char *) bytes + header, body_size - header);
    return s_release (&buffer, rc, size);
}

uint8_t *
zkv_msg_encode_error (const zkv_result_t *status, const zkv_header_t *header, size_t *size)
{
    char text [512];
    const char *code = zkv_err_code (status->err);
    zkv_status_text (status, text, sizeof text);
    zkv_error_t error = {
        .code = zkv_bin (code, strlen (code)),
        .message = zkv_bin (text, strlen (text))
    };
    zkv_error_response_t body = {
        .header = (zkv_header_t *) header,
        .error = &error
    };
    return zkv_msg_encode_body (&zkv_error_response_desc, &body, size);
}

//  ---------------------------------------------------------------------
//  Decoding

static const char *
s_type_name (msgpack_object_type type)
{
    switch (type) {
        case MSGPACK_OBJECT_NIL:              return "nil";
        case MSGPACK_OBJECT_BOOLEAN:          return "bool";
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return "int";
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "negative int";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:          return "float";
        case MSGPACK_OBJECT_STR:              return "str";
        case MSGPACK_OBJECT_ARRAY:            return "array";
        case MSGPACK_OBJECT_MAP:              return "map";
        case MSGPACK_OBJECT_BIN:              return "bin";
        case MSGPACK_OBJECT_EXT:              return "ext";
    }
    return "unknown";
}

static const char *s_wanted [] = {
    [ZKV_T_U64] = "a non-negative int", [ZKV_T_I64] = "an int",
    [ZKV_T_BOOL] = "bool", [ZKV_T_BIN] = "bin", [ZKV_T_STR] = "str",
    [ZKV_T_MSG] = "a map", [ZKV_T_LIST] = "an array of maps"
};

//  How s_decode_map takes a map: at the top, the envelope keys "id" and
//  "op" are the caller's; lenient, fields no descriptor names are skipped
#define S_ENVELOPE 1
#define S_LENIENT  2

static int s_decode_map (const msgpack_object *map, const zkv_desc_t *desc, void *msg,
                         msgpack_zone *zone, int how, zkv_result_t *status);

static int
s_wrong_type (const zkv_desc_t *desc, const zkv_field_t *field, const msgpack_object *value,
              zkv_result_t *status)
{
    return zkv_status_set (status, ZKV_ERR_MALFORMED, "field \"%s\" of %s must be %s, got %s",
                           field->name, desc->name, s_wanted [field->type],
                           s_type_name (value->type));
}

static int
s_decode_field (const zkv_desc_t *desc, const zkv_field_t *field, const msgpack_object *value,
                void *msg, msgpack_zone *zone, int how, zkv_result_t *status)
{
    char *at = (char *) msg + field->offset;
    switch (field->type) {
        case ZKV_T_U64:
            if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return s_wrong_type (desc, field, value, status);
            *(uint64_t *) at = value->via.u64;
            return 0;
        case ZKV_T_I64:
            if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                if (value->via.u64 > INT64_MAX)
                    return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                           "field \"%s\" of %s is out of range",
                                           field->name, desc->name);
                *(int64_t *) at = (int64_t) value->via.u64;
                return 0;
            }
            if (value->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                return s_wrong_type (desc, field, value, status);
            *(int64_t *) at = value->via.i64;
            return 0;
        case ZKV_T_BOOL:
            if (value->type != MSGPACK_OBJECT_BOOLEAN)
                return s_wrong_type (desc, field, value, status);
            *(bool *) at = value->via.boolean;
            return 0;
        case ZKV_T_BIN:
            if (value->type != MSGPACK_OBJECT_BIN)
                return s_wrong_type (desc, field, value, status);
            *(zkv_bin_t *) at = zkv_bin (value->via.bin.ptr, value->via.bin.size);
            return 0;
        case ZKV_T_STR:
            if (value->type != MSGPACK_OBJECT_STR)
                return s_wrong_type (desc, field, value, status);
            *(zkv_bin_t *) at = zkv_bin (value->via.str.ptr, value->via.str.size);
            return 0;
        case ZKV_T_MSG: {
            if (value->type != MSGPACK_OBJECT_MAP)
                return s_wrong_type (desc, field, value, status);
            void *sub = msgpack_zone_malloc (zone, field->sub->size);
            if (!sub)
                return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
            memset (sub, 0, field->sub->size);
            *(void **) at = sub;
            return s_decode_map (value, field->sub, sub, zone, how & S_LENIENT, status);
        }
        case ZKV_T_LIST: {
            if (value->type != MSGPACK_OBJECT_ARRAY)
                return s_wrong_type (desc, field, value, status);
            s_list_t *list = (s_list_t *) at;
            size_t count = value->via.array.size;
            if (count == 0)
                return 0;
            list->items = msgpack_zone_malloc (zone, count * field->sub->size);
            if (!list->items)
                return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
            memset (list->items, 0, count * field->sub->size);
            list->count = count;
            for (size_t i = 0; i < count; i++) {
                const msgpack_object *item = &value->via.array.ptr [i];
                if (item->type != MSGPACK_OBJECT_MAP)
                    return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                           "items of field \"%s\" of %s must be maps, got %s",
                                           field->name, desc->name, s_type_name (item->type));
                if (s_decode_map (item, field->sub,
                                  (char *) list->items + i * field->sub->size,
                                  zone, how & S_LENIENT, status))
                    return -1;
            }
            return 0;
        }
    }
    return zkv_status_set (status, ZKV_ERR_INTERNAL, "bad descriptor");
}

static bool
s_str_is (const msgpack_object *object, const char *text)
{
    return object->type == MSGPACK_OBJECT_STR
        && object->via.str.size == strlen (text)
        && memcmp (object->via.str.ptr, text, object->via.str.size) == 0;
}

//  Decodes the entries of map into msg, as `how` says (S_ENVELOPE, S_LENIENT)
static int
s_decode_map (const msgpack_object *map, const zkv_desc_t *desc, void *msg,
              msgpack_zone *zone, int how, zkv_result_t *status)
{
    uint64_t seen = 0;                  //  descriptors hold fewer than 64 fields
    for (size_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr [i].key;
        const msgpack_object *value = &map->via.map.ptr [i].val;
        if (key->type != MSGPACK_OBJECT_STR)
            return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                   "keys of %s must be str, got %s",
                                   desc->name, s_type_name (key->type));
        if ((how & S_ENVELOPE) && (s_str_is (key, "id") || s_str_is (key, "op")))
            continue;
        size_t f;
        for (f = 0; f < desc->field_count; f++)
            if (s_str_is (key, desc->fields [f].name))
                break;
        if (f == desc->field_count && (how & S_LENIENT))
            continue;
        if (f == desc->field_count) {
            char name [64];
            return zkv_status_set (status, ZKV_ERR_MALFORMED, "unknown field \"%s\" in %s",
                                   zkv_bin_str (zkv_bin (key->via.str.ptr, key->via.str.size),
                                                name, sizeof name),
                                   desc->name);
        }
        if (seen & (1ULL << f))
            return zkv_status_set (status, ZKV_ERR_MALFORMED, "duplicate field \"%s\" in %s",
                                   desc->fields [f].name, desc->name);
        seen |= 1ULL << f;
        if (s_decode_field (desc, &desc->fields [f], value, msg, zone, how, status))
            return -1;
    }
    return 0;
}

//  Checks and unpacks bytes into a zone of their own. Returns the zone and
//  the root object, or NULL with status set.
static msgpack_zone *
s_unpack (const void *data, size_t size, const zkv_limits_t *limits,
          msgpack_object *root, zkv_result_t *status)
{
    if (size > limits->max_bytes) {
        zkv_status_set (status, ZKV_ERR_REQUEST_TOO_LARGE, NULL);
        return NULL;
    }
    char why [128];
    if (zkv_wire_check (data, size, limits->max_depth, limits->max_items, why, sizeof why)) {
        zkv_status_set (status, ZKV_ERR_MALFORMED, "%s", why);
        return NULL;
    }
    //  The zone owns a copy of the bytes, which bin and str fields point
    //  into, and every struct decoded from them.
    msgpack_zone *zone = msgpack_zone_new (size + 1024 < 8192? 8192: size + 1024);
    if (!zone) {
        zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    char *copy = (char *) msgpack_zone_malloc (zone, size? size: 1);
    if (!copy) {
        msgpack_zone_free (zone);
        zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    memcpy (copy, data, size);
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack (copy, size, &offset, zone, root);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size) {
        msgpack_zone_free (zone);
        zkv_status_set (status, ZKV_ERR_MALFORMED, "msgpack decoding failed (%d)", (int) rc);
        return NULL;
    }
    return zone;
}

//  Reads the envelope of a top-level map into self
static int
s_envelope (const msgpack_object *root, zkv_msg_t *self, bool *has_error, zkv_result_t *status)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return zkv_status_set (status, ZKV_ERR_MALFORMED, "a message must be a map, got %s",
                               s_type_name (root->type));
    bool has_op = false;
    *has_error = false;
    for (size_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *key = &root->via.map.ptr [i].key;
        const msgpack_object *value = &root->via.map.ptr [i].val;
        if ((s_str_is (key, "id") && self->has_id) || (s_str_is (key, "op") && has_op))
            return zkv_status_set (status, ZKV_ERR_MALFORMED, "duplicate \"%.*s\"",
                                   (int) key->via.str.size, key->via.str.ptr);
        if (s_str_is (key, "id")) {
            if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                       "\"id\" must be a non-negative int, got %s",
                                       s_type_name (value->type));
            self->has_id = true;
            self->id = value->via.u64;
        }
        else
        if (s_str_is (key, "op")) {
            if (value->type != MSGPACK_OBJECT_STR)
                return zkv_status_set (status, ZKV_ERR_MALFORMED,
                                       "\"op\" must be str, got %s", s_type_name (value->type));
            has_op = true;
            self->op = zkv_bin (value->via.str.ptr, value->via.str.size);
        }
        else
        if (s_str_is (key, "error"))
            *has_error = true;
    }
    if (!has_op)
        return zkv_status_set (status, ZKV_ERR_MALFORMED, "no \"op\" in the message");
    return 0;
}

//  Allocates the body of type desc in self's zone and decodes root into it
static int
s_decode_top (const msgpack_object *root, zkv_msg_t *self, const zkv_desc_t *desc,
              const zkv_limits_t *limits, zkv_result_t *status)
{
    self->desc = desc;
    self->body = msgpack_zone_malloc (self->zone, desc->size);
    if (!self->body)
        return zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
    memset (self->body, 0, desc->size);
    return s_decode_map (root, desc, self->body, self->zone,
                         S_ENVELOPE | (limits->ignore_unknown? S_LENIENT: 0), status);
}

static zkv_msg_t *
s_msg_new (msgpack_zone *zone)
{
    zkv_msg_t *self = (zkv_msg_t *) calloc (1, sizeof (zkv_msg_t));
    if (!self) {
        msgpack_zone_free (zone);
        return NULL;
    }
    self->zone = zone;
    return self;
}

//  Decodes a top-level message whose body type is request->response (or
//  error_response when it has "error") for a reply, or else the message
//  named by its "op" among kinds
static zkv_msg_t *
s_decode_message (const void *data, size_t size, int kinds, const zkv_desc_t *request,
                  const zkv_limits_t *limits, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    msgpack_object root;
    msgpack_zone *zone = s_unpack (data, size, limits, &root, status);
    if (!zone)
        return NULL;
    zkv_msg_t *self = s_msg_new (zone);
    if (!self) {
        zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    bool has_error = false;
    if (s_envelope (&root, self, &has_error, status))
        goto failed;
    const zkv_desc_t *desc;
    if (request)
        desc = has_error? &zkv_error_response_desc: request->response;
    else {
        desc = zkv_msg_lookup ((const char *) self->op.data, self->op.size);
        if (!desc || !(desc->kind & kinds)) {
            char name [64];
            zkv_status_set (status, ZKV_ERR_UNKNOWN_OP, "\"%s\"",
                            zkv_bin_str (self->op, name, sizeof name));
            goto failed;
        }
    }
    if (s_decode_top (&root, self, desc, limits, status))
        goto failed;
    return self;

failed:
    zkv_msg_destroy (&self);
    return NULL;
}

zkv_msg_t *
zkv_msg_decode (const void *data, size_t size, int kinds, const zkv_limits_t *limits,
                zkv_result_t *status)
{
    return s_decode_message (data, size, kinds, NULL, limits, status);
}

zkv_msg_t *
zkv_msg_decode_reply (const void *data, size_t size, const zkv_desc_t *request,
                      const zkv_limits_t *limits, zkv_result_t *status)
{
    return s_decode_message (data, size, 0, request, limits, status);
}

void *
zkv_msg_decode_body (const void *data, size_t size, const zkv_desc_t *desc,
                     msgpack_zone *zone, const zkv_limits_t *limits, zkv_result_t *status)
{
    zkv_status_set (status, ZKV_ERR_OK, NULL);
    char why [128];
    if (size > limits->max_bytes) {
        zkv_status_set (status, ZKV_ERR_REQUEST_TOO_LARGE, NULL);
        return NULL;
    }
    if (zkv_wire_check (data, size, limits->max_depth, limits->max_items, why, sizeof why)) {
        zkv_status_set (status, ZKV_ERR_MALFORMED, "%s", why);
        return NULL;
    }
    //  str and bin objects point into data: the caller keeps it alive
    msgpack_object root;
    size_t offset = 0;
    if (msgpack_unpack ((const char *) data, size, &offset, zone, &root) != MSGPACK_UNPACK_SUCCESS
    ||  offset != size) {
        zkv_status_set (status, ZKV_ERR_MALFORMED, "msgpack decoding failed");
        return NULL;
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        zkv_status_set (status, ZKV_ERR_MALFORMED, "%s must be a map, got %s",
                        desc->name, s_type_name (root.type));
        return NULL;
    }
    void *body = msgpack_zone_malloc (zone, desc->size);
    if (!body) {
        zkv_status_set (status, ZKV_ERR_INTERNAL, "out of memory");
        return NULL;
    }
    memset (body, 0, desc->size);
    if (s_decode_map (&root, desc, body, zone, limits->ignore_unknown? S_LENIENT: 0, status))
        return NULL;
    return body;
}

void
zkv_msg_destroy (zkv_msg_t **self_p)
{
    if (*self_p) {
        msgpack_zone_free ((*self_p)->zone);
        free (*self_p);
        *self_p = NULL;
    }
}

void
zkv_msg_peek (const void *data, size_t size, bool *has_id, uint64_t *id, char *op,
              size_t op_size)
{
    zkv_wire_peek (data, size, has_id, id, op, op_size);
    zkv_utf8_escape (op, op_size);      //  it goes back in the reply's "op"
}

//  ---------------------------------------------------------------------
//  Small helpers

const char *
zkv_bin_str (zkv_bin_t bin, char *buf, size_t size)
{
    size_t n = bin.size < size - 1? bin.size: size - 1;
    if (n)
        memcpy (buf, bin.data, n);
    buf [n] = 0;
    return buf;
}

int
zkv_bin_compare (zkv_bin_t a, zkv_bin_t b)
{
    size_t n = a.size < b.size? a.size: b.size;
    int c = n? memcmp (a.data, b.data, n): 0;
    if (c)
        return c < 0? -1: 1;
    return a.size < b.size? -1: a.size > b.size? 1: 0;
}

bool
zkv_bin_eq (zkv_bin_t bin, const char *str)
{
    size_t n = strlen (str);
    return bin.size == n && (n == 0 || memcmp (bin.data, str, n) == 0);
}
