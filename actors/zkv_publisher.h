/*  =========================================================================
    zkv_publisher.h — what a member publishes on its events socket, and how
    a subscriber can tell it missed some (docs/PROTOCOL.md, "Events").

    PUB/SUB loses messages silently: those published before a new
    subscription reaches the publisher, and those past the high-water mark
    of a slow subscriber. So the publisher numbers its events: each carries
    the member's seq (1, 2, 3 ... since this start, whatever the topic) and
    boot (the wall-clock microseconds of this start: a restart begins a new
    count, so that it is not taken for a gap). And it says hello every
    ZKV_HELLO_MSECS (topic "hello", with the seq of the last event): a
    subscriber that hears one knows its subscription is live and which seq
    comes next, and one that hears nothing for a few intervals knows it
    lost the member.

    Owned by front, on front's thread (it uses front's PUB socket).
    =========================================================================
*/
#ifndef ZKV_PUBLISHER_H_INCLUDED
#define ZKV_PUBLISHER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#define ZKV_HELLO_MSECS 1000            //  between two hellos

typedef struct zkv_publisher_s zkv_publisher_t;

//  A publisher of member's events on pub (not owned); its boot is now
zkv_publisher_t *
    zkv_publisher_new (zsock_t *pub, uint64_t member);

void
    zkv_publisher_destroy (zkv_publisher_t **self_p);

//  Publishes [topic][body stamped with the next seq and the boot]; body is
//  an encoded *_event map without seq and boot. A body that is no map is
//  logged and dropped (it takes no seq). A subscriber too slow to take it
//  loses it (PUB drops at its high-water mark).
void
    zkv_publisher_send (zkv_publisher_t *self, const char *topic,
                        const uint8_t *body, size_t size);

//  Says hello when ZKV_HELLO_MSECS have passed since the last (now: the
//  monotonic clock in msecs; the first call says it at once)
void
    zkv_publisher_tick (zkv_publisher_t *self, int64_t now);

#endif
