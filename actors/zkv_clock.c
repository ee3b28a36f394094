/*  zkv_clock.c — the monotonic clock in microseconds (zkv_clock.h). */
#include "zkv_clock.h"

#include <time.h>

int64_t
zkv_mono_usecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}
