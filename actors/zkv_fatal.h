/*  zkv_fatal.h — stopping the whole member at once.

    In actors/, not util/: the reason goes to CZMQ's log (zsys_error), as
    every other line of a member's log does.
*/
#ifndef ZKV_FATAL_H_INCLUDED
#define ZKV_FATAL_H_INCLUDED

//  Stops the whole member at once: for failures that leave its durable
//  state in doubt (a failed fsync or write), and for memory run out.
//  Logs the reason and exits with 2 without at-exit handlers. Never returns.
void
    zkv_fatal (const char *fmt, ...) __attribute__ ((noreturn, format (printf, 1, 2)));

#endif
