/*  =========================================================================
    zkv_msgs.h — the messages of zkv (declared in zkv_msgs.def) and their
    msgpack codec.

    For every message `foo` of the table this header declares
      zkv_foo_t         the C struct, one member per field
      zkv_foo_list_t    { zkv_foo_t *items; size_t count; } for LIST fields
      zkv_foo_desc      its descriptor, which the generic codec walks
    Scalars are plain C values, BIN and STR fields are zkv_bin_t (pointer and
    size, not NUL-terminated), MSG fields are pointers (NULL when absent).
    For every request it also declares ZKV_REQ_foo, its index in the
    actors' dispatch tables, and zkv_foo_desc.serve says how a node serves
    it (its ZKV_SERVE entry).

    Encoding writes a msgpack map, omitting zero-valued fields. A top-level
    message carries its envelope in the same map: "op" (the message name,
    or for a reply the name of the request it answers) and, for client
    traffic, "id".

    Decoding treats every byte as hostile: it checks the size, then walks
    the bytes without allocating (well-formed, exactly one object, nesting
    and container sizes within limits) before msgpack-c sees them, then
    checks every field's exact type. A decoded message owns a copy of the
    bytes and every nested struct in one zone, freed by zkv_msg_destroy.
    =========================================================================
*/
#ifndef ZKV_MSGS_H_INCLUDED
#define ZKV_MSGS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "zkv_errors.h"

//  Bytes that belong to someone else (a decoded message, a caller)
typedef struct {
    const uint8_t *data;
    size_t size;
} zkv_bin_t;

typedef enum {
    ZKV_KIND_REQUEST  = 1,              //  client request, has a response
    ZKV_KIND_RESPONSE = 2,              //  body of a reply
    ZKV_KIND_NESTED   = 4,              //  only inside other messages
    ZKV_KIND_INTERNAL = 8,              //  between actors of a node
    ZKV_KIND_PEER     = 16              //  between members
} zkv_kind_t;

typedef enum {
    ZKV_T_U64, ZKV_T_I64, ZKV_T_BOOL, ZKV_T_BIN, ZKV_T_STR, ZKV_T_MSG, ZKV_T_LIST
} zkv_type_t;

typedef struct zkv_desc_s zkv_desc_t;

typedef struct {
    const char *name;                   //  field name on the wire
    zkv_type_t type;
    size_t offset;                      //  offset in the message struct
    const zkv_desc_t *sub;              //  MSG / LIST element type, else NULL
} zkv_field_t;

//  How a node serves a client request: its ZKV_SERVE entry in the table
//  (zkv_msgs.def says what each value means)
typedef enum {
    ZKV_BY_FRONT, ZKV_BY_STATE, ZKV_BY_RAFT, ZKV_BY_HASHER, ZKV_BY_DEFRAG, ZKV_BY_SNAPSHOTTER
} zkv_server_t;

typedef enum {
    ZKV_ACCESS_ANYONE, ZKV_ACCESS_ADMIN, ZKV_ACCESS_ADMIN_WRITE
} zkv_access_t;

typedef enum {
    ZKV_DEADLINE_REQUEST, ZKV_DEADLINE_LONG, ZKV_DEADLINE_BODY
} zkv_deadline_t;

typedef enum {
    ZKV_EFFECT_NONE, ZKV_EFFECT_READ, ZKV_EFFECT_WRITE, ZKV_EFFECT_BODY
} zkv_effect_t;

typedef struct {
    int kind;                           //  ZKV_REQ_<name>: index of dispatch tables
    zkv_server_t server;
    zkv_access_t access;
    zkv_deadline_t deadline;
    zkv_effect_t effect;
    size_t internal;                    //  ZKV_BY_STATE: offset of its body in
                                        //  zkv_internal_request_t
} zkv_serve_t;

struct zkv_desc_s {
    const char *name;                   //  message name ("op" on the wire)
    zkv_kind_t kind;
    size_t size;                        //  sizeof the struct
    const zkv_field_t *fields;
    size_t field_count;
    const zkv_desc_t *response;         //  requests: their response body
    const zkv_serve_t *serve;           //  requests: how a node serves them
};

//  ---------------------------------------------------------------------
//  Structs, lists and descriptors generated from the table

#define ZKV_CTYPE_U64(sub)   uint64_t
#define ZKV_CTYPE_I64(sub)   int64_t
#define ZKV_CTYPE_BOOL(sub)  bool
#define ZKV_CTYPE_BIN(sub)   zkv_bin_t
#define ZKV_CTYPE_STR(sub)   zkv_bin_t
#define ZKV_CTYPE_MSG(sub)   struct zkv_##sub##_s *
#define ZKV_CTYPE_LIST(sub)  zkv_##sub##_list_t

//  First pass: names, list types and descriptors
#define ZKV_DECLARE(name) \
    typedef struct zkv_##name##_s zkv_##name##_t; \
    typedef struct { zkv_##name##_t *items; size_t count; } zkv_##name##_list_t; \
    extern const zkv_desc_t zkv_##name##_desc;
#define ZKV_REQUEST(name)    ZKV_DECLARE (name)
#define ZKV_RESPONSE(name)   ZKV_DECLARE (name)
#define ZKV_NESTED(name)     ZKV_DECLARE (name)
#define ZKV_INTERNAL(name)   ZKV_DECLARE (name)
#define ZKV_PEER(name)       ZKV_DECLARE (name)
#include "zkv_msgs.def"

//  Second pass: the structs
#define ZKV_REQUEST(name)    struct zkv_##name##_s {
#define ZKV_RESPONSE(name)   struct zkv_##name##_s {
#define ZKV_NESTED(name)     struct zkv_##name##_s {
#define ZKV_INTERNAL(name)   struct zkv_##name##_s {
#define ZKV_PEER(name)       struct zkv_##name##_s {
#define ZKV_FIELD(msg, type, field, sub) ZKV_CTYPE_##type (sub) field;
#define ZKV_END(name)        };
#include "zkv_msgs.def"

//  Every descriptor of the table, in table order, NULL-terminated
extern const zkv_desc_t *const zkv_msg_table [];

//  The client requests, numbered in table order: ZKV_REQ_<name> is the
//  index of request name in zkv_requests and in the actors' dispatch
//  tables (designated initializers, [ZKV_REQ_put] = ...)
#define ZKV_SERVE(name, server, access, deadline, effect) ZKV_REQ_##name,
typedef enum {
#include "zkv_msgs.def"
    ZKV_REQ_COUNT
} zkv_req_t;

extern const zkv_desc_t *const zkv_requests [ZKV_REQ_COUNT];

//  The descriptor named name (not NUL-terminated), or NULL
const zkv_desc_t *
    zkv_msg_lookup (const char *name, size_t size);

//  The request the state machine is to run from internal (the first in
//  table order whose body is set: front sets exactly one), and its body
//  into *body; NULL when it carries none (attributes, or nothing zkv knows)
const zkv_desc_t *
    zkv_internal_request_get (const zkv_internal_request_t *internal, void **body);

//  Sets internal's body for a request of desc, when the state machine
//  serves it (ZKV_BY_STATE); false, and internal unchanged, for the others
bool
    zkv_internal_request_set (zkv_internal_request_t *internal, const zkv_desc_t *desc,
                              void *body);

//  ---------------------------------------------------------------------
//  Limits for decoding bytes that came from outside

typedef struct {
    size_t max_bytes;                   //  whole frame
    size_t max_depth;                   //  nesting of maps and arrays
    size_t max_items;                   //  entries of any one map or array
    bool ignore_unknown;                //  skip fields no descriptor names (else an error)
} zkv_limits_t;

//  Limits for client requests at a node: max_bytes is --max-request-bytes
zkv_limits_t
    zkv_limits_request (size_t max_request_bytes);

//  Limits for trusted traffic (the actors of one node)
zkv_limits_t
    zkv_limits_trusted (void);

//  Limits for replies and events at a client: trusted's, and fields no
//  descriptor names are skipped (a newer member may add fields to its
//  replies and events, which an older client must still read)
zkv_limits_t
    zkv_limits_client (void);

//  ---------------------------------------------------------------------
//  Decoded messages

typedef struct {
    const zkv_desc_t *desc;             //  type of body
    void *body;                         //  zkv_<desc->name>_t *
    bool has_id;                        //  envelope "id" was present
    uint64_t id;
    zkv_bin_t op;                       //  envelope "op" as sent
    msgpack_zone *zone;                 //  owns the bytes and every struct
} zkv_msg_t;

//  Decodes a top-level message whose "op" names a message of one of the
//  kinds in kinds (a mask of zkv_kind_t). Returns NULL and sets status on
//  any failure: ZKV_ERR_REQUEST_TOO_LARGE, ZKV_ERR_MALFORMED (with detail)
//  or ZKV_ERR_UNKNOWN_OP.
zkv_msg_t *
    zkv_msg_decode (const void *data, size_t size, int kinds,
                    const zkv_limits_t *limits, zkv_result_t *status);

//  Decodes a reply to a request of type request. The body is a
//  request->response, or an error_response when the reply has "error".
zkv_msg_t *
    zkv_msg_decode_reply (const void *data, size_t size, const zkv_desc_t *request,
                          const zkv_limits_t *limits, zkv_result_t *status);

//  Decodes the fields of a nested message (no envelope) into a new body
//  allocated from zone. Returns NULL and sets status on failure.
void *
    zkv_msg_decode_body (const void *data, size_t size, const zkv_desc_t *desc,
                         msgpack_zone *zone, const zkv_limits_t *limits,
                         zkv_result_t *status);

//  Destroys a decoded message and everything it points to
void
    zkv_msg_destroy (zkv_msg_t **self_p);

//  Finds the "id" and "op" of a top-level map without decoding it, so that
//  even a rejected request is answered under its id and op. op receives
//  the op text (truncated to op_size, empty when absent).
void
    zkv_msg_peek (const void *data, size_t size, bool *has_id, uint64_t *id,
                  char *op, size_t op_size);

//  ---------------------------------------------------------------------
//  Encoding

//  Packs msg as a map of its non-zero fields (the nested form)
int
    zkv_msg_pack (msgpack_packer *pk, const zkv_desc_t *desc, const void *msg);

//  Packs msg as a top-level map with envelope "op" = op (desc->name when
//  NULL) and "id" when has_id
int
    zkv_msg_pack_top (msgpack_packer *pk, const zkv_desc_t *desc, const void *msg,
                      const char *op, bool has_id, uint64_t id);

//  Encodes a top-level internal message into a fresh buffer (caller frees
//  it with free); returns NULL only when out of memory
uint8_t *
    zkv_msg_encode (const zkv_desc_t *desc, const void *msg, size_t *size);

//  Encodes a nested message (no envelope) into a fresh buffer
uint8_t *
    zkv_msg_encode_body (const zkv_desc_t *desc, const void *msg, size_t *size);

//  Wraps a reply body (an encoded map: a response or an error_response)
//  in the client envelope: a map with "id" and "op" followed by the body's
//  own entries. Returns a fresh buffer (caller frees) or NULL if body is
//  not a map.
uint8_t *
    zkv_msg_wrap_reply (uint64_t id, bool has_id, const char *op, size_t op_size,
                        const void *body, size_t body_size, size_t *size);

//  Stamps an event body (an encoded *_event map that carries no seq and no
//  boot: they are the publisher's) with the publisher's seq and boot: a
//  map with "seq" and "boot" followed by the body's own entries. Returns a
//  fresh buffer (caller frees) or NULL if body is not a map.
uint8_t *
    zkv_msg_stamp_event (const void *body, size_t body_size, uint64_t seq, uint64_t boot,
                         size_t *size);

//  Encodes an error_response body for status, with header
uint8_t *
    zkv_msg_encode_error (const zkv_result_t *status, const zkv_header_t *header,
                          size_t *size);

//  A copy of bytes as a NUL-terminated string, into buf (truncated)
const char *
    zkv_bin_str (zkv_bin_t bin, char *buf, size_t size);

//  Byte order of a and b (a prefix first): -1, 0 or 1, as bytes.Compare
int
    zkv_bin_compare (zkv_bin_t a, zkv_bin_t b);

//  True if bin holds exactly the text str
bool
    zkv_bin_eq (zkv_bin_t bin, const char *str);

static inline zkv_bin_t
zkv_bin (const void *data, size_t size)
{
    zkv_bin_t bin = { (const uint8_t *) data, size };
    return bin;
}

#endif
