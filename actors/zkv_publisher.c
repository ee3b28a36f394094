/*  =========================================================================
    zkv_publisher.c — a member's events, numbered, and its hellos (see
    zkv_publisher.h).
    =========================================================================
*/
#include "zkv_publisher.h"
#include "zkv_metrics.h"
#include "zkv_msgs.h"

#include <time.h>

struct zkv_publisher_s {
    zsock_t *pub;                       //  front's, not owned
    uint64_t member;
    uint64_t boot;                      //  wall-clock usecs at the start
    uint64_t seq;                       //  of the last event published
    int64_t next_hello;                 //  mono msecs (0: at the next tick)
};

zkv_publisher_t *
zkv_publisher_new (zsock_t *pub, uint64_t member)
{
    zkv_publisher_t *self = (zkv_publisher_t *) zmalloc (sizeof (zkv_publisher_t));
    self->pub = pub;
    self->member = member;
    //  The wall clock, not the monotonic one: the next start of the member
    //  gets another boot, even after the host restarted
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    self->boot = (uint64_t) now.tv_sec * 1000000 + (uint64_t) now.tv_nsec / 1000;
    return self;
}

void
zkv_publisher_destroy (zkv_publisher_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

static void
s_send (zkv_publisher_t *self, const char *topic, const uint8_t *body, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_addmem (msg, body, size);
    zmsg_send (&msg, self->pub);
    zkv_metrics_add (&zkv_metrics.events_published, 1);
}

void
zkv_publisher_send (zkv_publisher_t *self, const char *topic, const uint8_t *body, size_t size)
{
    size_t stamped_size;
    uint8_t *stamped = zkv_msg_stamp_event (body, size, self->seq + 1, self->boot,
                                            &stamped_size);
    if (!stamped) {
        zsys_error ("front: a %s event that is no map, not published", topic);
        return;
    }
    self->seq++;
    s_send (self, topic, stamped, stamped_size);
    free (stamped);
}

void
zkv_publisher_tick (zkv_publisher_t *self, int64_t now)
{
    if (now < self->next_hello)
        return;
    zkv_hello_event_t hello = {
        .member = self->member, .interval_ms = ZKV_HELLO_MSECS,
        .seq = self->seq, .boot = self->boot
    };
    size_t size;
    uint8_t *body = zkv_msg_encode_body (&zkv_hello_event_desc, &hello, &size);
    if (body)
        s_send (self, "hello", body, size);
    free (body);
    self->next_hello = now + ZKV_HELLO_MSECS;
}
