/*  =========================================================================
    zkv_event_seq.c — the events a subscriber missed (see zkv_event_seq.h).
    =========================================================================
*/
#include "zkv_event_seq.h"

zkv_event_seq_news_t
zkv_event_seq_heard (zkv_event_seq_t *self, uint64_t boot, uint64_t seq, bool hello)
{
    zkv_event_seq_news_t news = { false, false, 0, 0 };
    if (!self->boot) {
        news.first = true;
        self->boot = boot;
        self->seq = seq;
        return news;
    }
    uint64_t last = self->seq;
    if (boot != self->boot) {
        news.restarted = true;
        self->boot = boot;
        last = 0;                       //  its count began again
    }
    //  An event should be the one after the last; a hello tells the last
    uint64_t published_before = hello? seq: seq - (seq > 0);
    if (published_before > last) {
        news.missed_from = last + 1;
        news.missed_to = published_before;
    }
    if (seq > last || news.restarted)
        self->seq = seq;
    return news;
}
