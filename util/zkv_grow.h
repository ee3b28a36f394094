/*  zkv_grow.h — the growable array of the whole tree.

    An array is a pointer, its room (items allocated) and a count the
    caller keeps. zkv_grow makes room for needed items: the first room is
    16 items, then it doubles, so an array's room is always 16 times a
    power of two (the same rooms as any doubling that began at 8, 16, 32,
    64 ... once past its first). Memory beyond the count is not zeroed.
*/
#ifndef ZKV_GROW_H_INCLUDED
#define ZKV_GROW_H_INCLUDED

#include <stddef.h>

//  Makes *items (of *room items of item_size bytes) hold at least needed
//  items, doubling *room. Returns 0, or -1 when memory (or size_t) runs
//  out: then *items and *room are unchanged, and still to be freed.
//  items is the address of the caller's typed pointer, cast: (void **) &p.
int
    zkv_grow (void **items, size_t *room, size_t needed, size_t item_size);

#endif
