/*  zkv_wire.h — allocation-free checks of msgpack bytes from outside. */
#ifndef ZKV_WIRE_H_INCLUDED
#define ZKV_WIRE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Checks that bytes hold exactly one well-formed msgpack object, with no
//  trailing bytes, maps and arrays nested at most max_depth deep, none with
//  more than max_items entries. Returns 0, or -1 with a reason in why.
int
    zkv_wire_check (const void *bytes, size_t size, size_t max_depth, size_t max_items,
                    char *why, size_t why_size);

//  Measures the first msgpack object of bytes with the same checks (more
//  bytes may follow it). Returns 0 with its length, 1 when bytes end
//  before it does (more are needed), or -1 with a reason in why.
int
    zkv_wire_measure (const void *bytes, size_t size, size_t max_depth, size_t max_items,
                      size_t *length, char *why, size_t why_size);

//  Finds the unsigned "id" and the str "op" of a top-level map, tolerating
//  anything after them. Sets *has_id, and op (NUL-terminated, truncated
//  to op_size, empty if absent).
void
    zkv_wire_peek (const void *bytes, size_t size, bool *has_id, uint64_t *id,
                   char *op, size_t op_size);

//  True if bytes (a reply body) is an error_response, with its gRPC code
//  (NUL-terminated, truncated to code_size) in code. Reads a response's
//  first keys only, never its values past the header.
bool
    zkv_wire_error_code (const void *bytes, size_t size, char *code, size_t code_size);

#endif
