/*  =========================================================================
    zkv_wire.c — msgpack bytes checked before msgpack-c may allocate.

    msgpack-c 4.0 reserves memory for a map or array from its header before
    it reads a single element, and has no limits of its own (a 5-byte map32
    header costs gigabytes). zkv_wire_check walks the bytes first, without
    allocating: exactly one well-formed object, no trailing bytes, nesting
    and container sizes within limits, and never more pending elements than
    bytes left, so that the later unpack's memory is bounded by the input.
    =========================================================================
*/
#include "zkv_wire.h"

#include <stdio.h>
#include <string.h>

#define ZKV_WIRE_STACK 64               //  hard ceiling on max_depth

//  Reads the header of the object at data [*pos]. On success advances *pos
//  past the header, sets *skip to the payload bytes that follow and *items
//  to the number of child objects (maps count keys and values). Returns 0,
//  or -1 with a reason in why.
static int
s_header (const uint8_t *data, size_t size, size_t *pos,
          uint64_t *skip, uint64_t *items, uint64_t *entries, const char **why)
{
    if (*pos >= size) {
        *why = "truncated msgpack";
        return -1;
    }
    uint8_t b = data [(*pos)++];
    int lenbytes = 0;
    *skip = 0;
    *items = 0;
    *entries = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        ;                               //  fixint, nil, bool: no payload
    else
    if (b >= 0x80 && b <= 0x8f) {       //  fixmap
        *entries = b & 0x0f;
        *items = 2 * *entries;
    }
    else
    if (b >= 0x90 && b <= 0x9f)         //  fixarray
        *entries = *items = b & 0x0f;
    else
    if (b >= 0xa0 && b <= 0xbf)         //  fixstr
        *skip = b & 0x1f;
    else
        switch (b) {
            case 0xcc: case 0xd0: *skip = 1; break;
            case 0xcd: case 0xd1: *skip = 2; break;
            case 0xca: case 0xce: case 0xd2: *skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: *skip = 8; break;
            case 0xd4: *skip = 2; break;
            case 0xd5: *skip = 3; break;
            case 0xd6: *skip = 5; break;
            case 0xd7: *skip = 9; break;
            case 0xd8: *skip = 17; break;
            case 0xc4: case 0xd9: case 0xc7: lenbytes = 1; break;
            case 0xc5: case 0xda: case 0xc8: case 0xdc: case 0xde: lenbytes = 2; break;
            case 0xc6: case 0xdb: case 0xc9: case 0xdd: case 0xdf: lenbytes = 4; break;
            default:
                *why = "invalid msgpack byte 0xc1";
                return -1;
        }
    if (lenbytes) {
        if (size - *pos < (size_t) lenbytes) {
            *why = "truncated msgpack";
            return -1;
        }
        uint64_t n = 0;
        for (int i = 0; i < lenbytes; i++)
            n = (n << 8) | data [(*pos)++];
        if (b == 0xdc || b == 0xdd)
            *entries = *items = n;
        else
        if (b == 0xde || b == 0xdf) {
            *entries = n;
            *items = 2 * n;
        }
        else                            //  ext types carry one type byte more
            *skip = n + ((b >= 0xc7 && b <= 0xc9)? 1: 0);
    }
    return 0;
}

int
zkv_wire_measure (const void *bytes, size_t size, size_t max_depth, size_t max_items,
                  size_t *length, char *why, size_t why_size)
{
    const uint8_t *data = (const uint8_t *) bytes;
    uint64_t stack [ZKV_WIRE_STACK];    //  children still to read, per level
    size_t depth = 1;
    uint64_t pending = 1;               //  sum of the stack
    size_t pos = 0;
    const char *reason = NULL;
    if (max_depth > ZKV_WIRE_STACK - 1)
        max_depth = ZKV_WIRE_STACK - 1;
    stack [0] = 1;

    while (depth > 0) {
        if (stack [depth - 1] == 0) {
            depth--;
            continue;
        }
        stack [depth - 1]--;
        pending--;
        uint64_t skip, items, entries;
        if (s_header (data, size, &pos, &skip, &items, &entries, &reason))
            goto incomplete_or_malformed;
        if (skip > size - pos)
            goto incomplete;
        pos += skip;
        if (items) {
            if (entries > max_items) {
                snprintf (why, why_size, "a map or array of %llu entries (limit %zu)",
                          (unsigned long long) entries, max_items);
                return -1;
            }
            if (depth >= max_depth + 1) {
                snprintf (why, why_size, "nesting deeper than %zu levels", max_depth);
                return -1;
            }
            stack [depth++] = items;
            pending += items;
        }
        if (pending > size - pos)
            goto incomplete;            //  more elements than bytes left
    }
    *length = pos;
    return 0;

incomplete_or_malformed:
    if (strcmp (reason, "truncated msgpack")) {
        snprintf (why, why_size, "%s", reason);
        return -1;
    }
incomplete:
    snprintf (why, why_size, "truncated msgpack");
    return 1;
}

int
zkv_wire_check (const void *bytes, size_t size, size_t max_depth, size_t max_items,
                char *why, size_t why_size)
{
    size_t length;
    int rc = zkv_wire_measure (bytes, size, max_depth, max_items, &length, why, why_size);
    if (rc)
        return -1;
    if (length != size) {
        snprintf (why, why_size, "%zu trailing bytes after the message", size - length);
        return -1;
    }
    return 0;
}

//  Skips the whole object at *pos (bounds-checked). Returns 0 or -1.
static int
s_skip_object (const uint8_t *data, size_t size, size_t *pos)
{
    uint64_t pending = 1;
    const char *why;
    while (pending) {
        uint64_t skip, items, entries;
        if (s_header (data, size, pos, &skip, &items, &entries, &why))
            return -1;
        if (skip > size - *pos)
            return -1;
        *pos += skip;
        pending = pending - 1 + items;
        if (pending > size - *pos)
            return -1;
    }
    return 0;
}

//  Reads the unsigned int at data [pos]; returns 0 or -1
static int
s_read_uint (const uint8_t *data, size_t size, size_t pos, uint64_t *value)
{
    uint8_t b = data [pos];
    int n = 0;
    if (b <= 0x7f) {
        *value = b;
        return 0;
    }
    if (b == 0xcc) n = 1;
    else
    if (b == 0xcd) n = 2;
    else
    if (b == 0xce) n = 4;
    else
    if (b == 0xcf) n = 8;
    else
        return -1;
    if (size - pos - 1 < (size_t) n)
        return -1;
    *value = 0;
    for (int j = 0; j < n; j++)
        *value = (*value << 8) | data [pos + 1 + j];
    return 0;
}

//  Reads the str at data [pos] into text; returns 0 or -1
static int
s_read_str (const uint8_t *data, size_t size, size_t pos, char *text, size_t text_size)
{
    uint8_t b = data [pos];
    size_t length, header;
    if (b >= 0xa0 && b <= 0xbf) {
        length = b & 0x1f;
        header = 1;
    }
    else
    if (b == 0xd9 && size - pos >= 2) {
        length = data [pos + 1];
        header = 2;
    }
    else
        return -1;
    if (size - pos - header < length)
        return -1;
    size_t n = length < text_size - 1? length: text_size - 1;
    memcpy (text, data + pos + header, n);
    text [n] = 0;
    return 0;
}

//  Reads the header of a map at *pos: true, with *pos past it and its
//  entries' count, if a whole map header is there
static bool
s_map_open (const uint8_t *data, size_t size, size_t *pos, uint64_t *entries)
{
    uint64_t skip, items;
    const char *why;
    bool is_map = *pos < size && ((data [*pos] >= 0x80 && data [*pos] <= 0x8f)
                                  || data [*pos] == 0xde || data [*pos] == 0xdf);
    return is_map && s_header (data, size, pos, &skip, &items, entries, &why) == 0;
}

void
zkv_wire_peek (const void *bytes, size_t size, bool *has_id, uint64_t *id,
               char *op, size_t op_size)
{
    const uint8_t *data = (const uint8_t *) bytes;
    *has_id = false;
    op [0] = 0;
    size_t pos = 0;
    uint64_t entries;
    if (!s_map_open (data, size, &pos, &entries))
        return;
    for (uint64_t i = 0; i < entries; i++) {
        //  "id" and "op" pack as fixstr a2 'i' 'd' / a2 'o' 'p'
        bool is_id = size - pos >= 3 && memcmp (data + pos, "\xa2id", 3) == 0;
        bool is_op = size - pos >= 3 && memcmp (data + pos, "\xa2op", 3) == 0;
        if (s_skip_object (data, size, &pos) || pos >= size)
            return;
        if (is_id)
            *has_id = s_read_uint (data, size, pos, id) == 0;
        if (is_op && s_read_str (data, size, pos, op, op_size))
            op [0] = 0;
        if (s_skip_object (data, size, &pos))
            return;
    }
}

bool
zkv_wire_error_code (const void *bytes, size_t size, char *code, size_t code_size)
{
    const uint8_t *data = (const uint8_t *) bytes;
    size_t pos = 0;
    uint64_t entries;
    if (!s_map_open (data, size, &pos, &entries))
        return false;
    //  An error_response's entries are "header" and "error": any other
    //  key is a response's, whose other values are not walked
    for (uint64_t i = 0; i < entries; i++) {
        bool is_header = size - pos >= 7 && memcmp (data + pos, "\xa6header", 7) == 0;
        bool is_error = size - pos >= 6 && memcmp (data + pos, "\xa5" "error", 6) == 0;
        if (!is_header && !is_error)
            return false;
        if (s_skip_object (data, size, &pos) || pos >= size)
            return false;
        if (is_header) {
            if (s_skip_object (data, size, &pos))
                return false;
            continue;
        }
        //  the error: a map with "code" (and "message")
        uint64_t error_entries;
        if (!s_map_open (data, size, &pos, &error_entries))
            return false;
        for (uint64_t j = 0; j < error_entries; j++) {
            bool is_code = size - pos >= 5 && memcmp (data + pos, "\xa4" "code", 5) == 0;
            if (s_skip_object (data, size, &pos) || pos >= size)
                return false;
            if (is_code)
                return s_read_str (data, size, pos, code, code_size) == 0;
            if (s_skip_object (data, size, &pos))
                return false;
        }
        return false;
    }
    return false;
}
