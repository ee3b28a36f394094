/*  =========================================================================
    zkv_event_seq.h — what a subscriber learns from the seq and boot of the
    events and hellos of one member (docs/PROTOCOL.md, "Events"): the
    events it missed, and the member's restarts.

    A member numbers its events 1, 2, 3 ... from each start (boot); a hello
    carries the seq of its last event. So, within one boot, an event whose
    seq is more than one past the last one known, or a hello whose seq is
    past it, tells events missed; a new boot tells a restart, and the
    events of the new boot before the first one heard were missed too. The
    first message heard from a member tells nothing missed: what it
    published before was not for this subscriber.

    Pure logic, no clock and no sockets.
    =========================================================================
*/
#ifndef ZKV_EVENT_SEQ_H_INCLUDED
#define ZKV_EVENT_SEQ_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

//  What is known of one member's events (zero: nothing heard yet)
typedef struct {
    uint64_t boot;                      //  of the last message heard
    uint64_t seq;                       //  the last seq known published in it
} zkv_event_seq_t;

//  What one message told
typedef struct {
    bool first;                         //  the first message heard
    bool restarted;                     //  a boot other than the last one
    uint64_t missed_from;               //  the seqs of the events missed,
    uint64_t missed_to;                 //  from .. to (none when from is 0)
} zkv_event_seq_news_t;

//  Takes a message heard from the member: an event with its seq, or a hello
//  (hello: seq is the member's last event's)
zkv_event_seq_news_t
    zkv_event_seq_heard (zkv_event_seq_t *self, uint64_t boot, uint64_t seq, bool hello);

#endif
