/*  zkv_file_read.c — see zkv_file_read.h */
#include "zkv_file_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "zkv_grow.h"

char *
zkv_file_read (const char *path, size_t max_bytes)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char *text = NULL;
    size_t room = 0, used = 0;
    int error = 0;
    while (!error) {
        //  room for at least 4 KiB more and the NUL
        if (zkv_grow ((void **) &text, &room, used + 4097, 1)) {
            error = ENOMEM;
            break;
        }
        size_t n = fread (text + used, 1, room - used - 1, file);
        used += n;
        if (max_bytes && used > max_bytes)
            error = EFBIG;
        else
        if (n == 0) {
            if (ferror (file))
                error = errno? errno: EIO;
            break;
        }
    }
    fclose (file);
    if (error) {
        free (text);
        errno = error;
        return NULL;
    }
    text [used] = 0;
    return text;
}
