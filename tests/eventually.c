/*  eventually.c — see eventually.h */
#include "eventually.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define PAUSE_FIRST_MSECS 5
#define PAUSE_MAX_MSECS   50        //  as the loops it replaced polled

static int64_t
s_now_msecs (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
s_sleep_msecs (int64_t msecs)
{
    struct timespec pause = { .tv_sec = msecs / 1000, .tv_nsec = (msecs % 1000) * 1000000 };
    while (nanosleep (&pause, &pause) != 0 && errno == EINTR)
        ;                               //  interrupted: sleep what is left
}

bool
eventually_more (void *more)
{
    eventually_more_t *self = (eventually_more_t *) more;
    return atomic_load (self->count) > self->before;
}

bool
eventually (eventually_fn *condition, void *context, int msecs)
{
    int64_t deadline = s_now_msecs () + msecs;
    int64_t pause = PAUSE_FIRST_MSECS;
    while (true) {
        if (condition (context))
            return true;
        int64_t left = deadline - s_now_msecs ();
        if (left <= 0)
            return false;
        s_sleep_msecs (pause < left? pause: left);
        pause = pause * 2 < PAUSE_MAX_MSECS? pause * 2: PAUSE_MAX_MSECS;
    }
}
