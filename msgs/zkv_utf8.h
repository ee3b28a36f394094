/*  zkv_utf8.h — text the member sends is always valid UTF-8.

    A msgpack str must hold UTF-8 (strict decoders, Python's msgpack among
    them, refuse anything else), and some of the text in replies comes from
    the request's own bytes: an unknown op, an unknown field's name. What
    is not valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
    past U+10FFFF) is escaped as \xNN, so a client sees what it sent.
*/
#ifndef ZKV_UTF8_H_INCLUDED
#define ZKV_UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  The length of the valid UTF-8 sequence at text (of size bytes), or 0
size_t
    zkv_utf8_sequence (const unsigned char *text, size_t size);

//  True if size bytes of text are valid UTF-8
bool
    zkv_utf8_valid (const void *text, size_t size);

//  Rewrites the C string text (in a buffer of room bytes) as valid UTF-8,
//  each byte of an invalid sequence as \xNN; cuts it short, at a whole
//  sequence, when it does not fit
void
    zkv_utf8_escape (char *text, size_t room);

#endif
