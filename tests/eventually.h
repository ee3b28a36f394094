/*  =========================================================================
    eventually.h — waiting in a test for something to become true.

    A test that waits for the system to reach a state asks eventually ():
    it looks at the condition until it holds or the time allowed has
    passed, and sleeps a little between looks (5 ms at first, doubling up
    to 50 ms), so that no test spins, and none sleeps a fixed time in the
    hope that something has happened meanwhile. The caller asserts on the
    answer, with a message that says what never happened.

        static bool
        s_stopped (void *name)
        {
            return !zkv_harness_running (cf_cluster, name);
        }
        ...
        cr_assert (eventually (s_stopped, "n1", 20000), "n1 still runs");

    Plain C11 and POSIX (no czmq): the unit and system suites both use it.
    =========================================================================
*/
#ifndef ZKV_EVENTUALLY_H_INCLUDED
#define ZKV_EVENTUALLY_H_INCLUDED

#include <stdatomic.h>
#include <stdbool.h>

//  A condition: true once what is waited for holds. It may do work (ask a
//  member, receive an event) and keep what it saw in its context.
typedef bool (eventually_fn) (void *context);

//  Looks at condition (given context) until it is true, or until msecs
//  have passed since the call: true if it held at a look. It looks at least
//  once, and once more at the deadline if the last pause took it there.
bool
    eventually (eventually_fn *condition, void *context, int msecs);

//  A count another thread adds to, and its value before something happened
typedef struct {
    atomic_int *count;
    int before;
} eventually_more_t;

//  A condition (context: an eventually_more_t): true once the count is
//  above its value before
bool
    eventually_more (void *more);

#endif
