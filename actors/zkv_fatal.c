/*  zkv_fatal.c — stopping the whole member at once (zkv_fatal.h). */
#include "zkv_fatal.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void
zkv_fatal (const char *fmt, ...)
{
    char text [1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    zsys_error ("fatal: %s; stopping the member", text);
    //  Not exit (): other threads still run, and at-exit handlers would
    //  tear down CZMQ under them. Nothing unsynced was acknowledged.
    _exit (2);
}
