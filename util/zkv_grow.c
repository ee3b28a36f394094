/*  zkv_grow.c — the growable array of the whole tree (zkv_grow.h). */
#include "zkv_grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_ROOM 16

int
zkv_grow (void **items, size_t *room, size_t needed, size_t item_size)
{
    if (needed <= *room)
        return 0;
    size_t grown = *room? *room: FIRST_ROOM;
    while (grown < needed) {
        if (grown > SIZE_MAX / 2)
            return -1;
        grown *= 2;
    }
    if (item_size && grown > SIZE_MAX / item_size)
        return -1;
    //  The caller's pointer is read and written as bytes: it is a T *, not
    //  a void *, and may not be accessed through a void * lvalue
    void *array;
    memcpy (&array, items, sizeof array);
    array = realloc (array, grown * item_size);
    if (!array)
        return -1;
    memcpy (items, &array, sizeof array);
    *room = grown;
    return 0;
}
