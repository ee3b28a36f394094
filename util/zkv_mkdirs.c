/*  zkv_mkdirs.c — a directory and its missing parents (zkv_mkdirs.h). */
#include "zkv_mkdirs.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

int
zkv_mkdirs (const char *dir)
{
    char path [1024];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path) {
        errno = ENAMETOOLONG;           //  not a shorter path instead
        return -1;
    }
    for (char *slash = path + 1; *slash; slash++)
        if (*slash == '/') {
            *slash = 0;
            if (mkdir (path, 0700) && errno != EEXIST)
                return -1;
            *slash = '/';
        }
    return mkdir (path, 0700) && errno != EEXIST? -1: 0;
}
