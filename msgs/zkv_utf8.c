/*  zkv_utf8.c — valid UTF-8 for the text the member sends (zkv_utf8.h). */
#include "zkv_utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t
zkv_utf8_sequence (const unsigned char *text, size_t size)
{
    unsigned char c = text [0];
    if (c < 0x80)
        return 1;
    size_t length = c >= 0xc2 && c <= 0xdf? 2: c >= 0xe0 && c <= 0xef? 3
                  : c >= 0xf0 && c <= 0xf4? 4: 0;
    if (length == 0 || length > size)
        return 0;
    for (size_t i = 1; i < length; i++)
        if ((text [i] & 0xc0) != 0x80)
            return 0;
    //  Overlong forms, surrogates and code points past U+10FFFF
    if ((c == 0xe0 && text [1] < 0xa0) || (c == 0xed && text [1] > 0x9f)
    ||  (c == 0xf0 && text [1] < 0x90) || (c == 0xf4 && text [1] > 0x8f))
        return 0;
    return length;
}

bool
zkv_utf8_valid (const void *text, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) text;
    for (size_t pos = 0; pos < size; ) {
        size_t length = zkv_utf8_sequence (bytes + pos, size - pos);
        if (length == 0)
            return false;
        pos += length;
    }
    return true;
}

void
zkv_utf8_escape (char *text, size_t room)
{
    size_t size = strlen (text);
    if (zkv_utf8_valid (text, size))
        return;
    const unsigned char *in = (const unsigned char *) strdup (text);
    if (!in) {
        text [0] = 0;
        return;
    }
    size_t out = 0;
    for (size_t pos = 0; pos < size; ) {
        size_t length = zkv_utf8_sequence (in + pos, size - pos);
        size_t needed = length? length: 4;
        if (out + needed >= room)
            break;
        if (length)
            memcpy (text + out, in + pos, length);
        else
            snprintf (text + out, 5, "\\x%02x", in [pos]);
        out += needed;
        pos += length? length: 1;
    }
    text [out] = 0;
    free ((void *) in);
}
