/*  zkv_clock.h — the monotonic clock in microseconds.

    In actors/, not util/: the raft core, store and msgs link util and
    must have no clock (docs/ARCHITECTURE.md, "Folders").
*/
#ifndef ZKV_CLOCK_H_INCLUDED
#define ZKV_CLOCK_H_INCLUDED

#include <stdint.h>

//  Microseconds of the monotonic clock (zclock_mono counts milliseconds)
int64_t
    zkv_mono_usecs (void);

#endif
