/*  test_waiter.c — actors/zkv_waiter and zkv_io_try_recv: the wait on actor
    sockets through their ZMQ_FD, and its edge-triggered contract. */
#include <criterion/criterion.h>
#include <czmq.h>

#include "zkv_actor_io.h"
#include "zkv_waiter.h"

static int s_next;                      //  inproc endpoints of this process

//  A PULL inbox and a PUSH connected to it, as two actors have them
static void
s_pair (zsock_t **inbox, zsock_t **outbox)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-waiter-%d-%d", (int) getpid (), s_next++);
    *inbox = zkv_io_inbox (endpoint);
    *outbox = zkv_io_outbox (endpoint);
    cr_assert (*inbox && *outbox);
}

static void
s_send (zsock_t *outbox, int64_t revision)
{
    zkv_compaction_hashed_t msg = { .revision = revision };
    cr_assert_eq (zkv_io_send (outbox, &zkv_compaction_hashed_desc, &msg), 0);
}

//  Receives one message from inbox and returns its revision
static int64_t
s_recv (zsock_t *inbox)
{
    zkv_msg_t *msg;
    cr_assert (zkv_io_try_recv (inbox, "test", &msg), "no message waited");
    cr_assert_not_null (msg);
    cr_assert_eq (msg->desc, &zkv_compaction_hashed_desc);
    int64_t revision = ((zkv_compaction_hashed_t *) msg->body)->revision;
    zkv_msg_destroy (&msg);
    return revision;
}

Test (waiter, returns_a_socket_once_input_comes_and_none_when_the_time_passes)
{
    zsock_t *inbox, *outbox;
    s_pair (&inbox, &outbox);
    zkv_waiter_t *waiter = zkv_waiter_new ();
    zkv_waiter_add (waiter, inbox);
    cr_assert_null (zkv_waiter_wait (waiter, 0), "nothing was sent");
    cr_assert_null (zkv_waiter_wait (waiter, 20));
    s_send (outbox, 7);
    cr_assert_eq (zkv_waiter_wait (waiter, 1000), inbox);
    cr_assert_eq (s_recv (inbox), 7);
    zkv_msg_t *msg;
    cr_assert_not (zkv_io_try_recv (inbox, "test", &msg), "drained");
    cr_assert_null (zkv_waiter_wait (waiter, 20), "drained: nothing to wait for");
    s_send (outbox, 8);
    cr_assert_eq (zkv_waiter_wait (waiter, 1000), inbox, "the descriptor tells again");
    cr_assert_eq (s_recv (inbox), 8);
    zkv_waiter_destroy (&waiter);
    zsock_destroy (&outbox);
    zsock_destroy (&inbox);
}

//  The contract: a caller that stops before a receive found nothing says
//  so, or the input left behind waits for the next signal
Test (waiter, input_left_behind_is_returned_only_when_the_caller_says_so)
{
    zsock_t *inbox, *outbox;
    s_pair (&inbox, &outbox);
    zkv_waiter_t *waiter = zkv_waiter_new ();
    zkv_waiter_add (waiter, inbox);
    s_send (outbox, 1);
    s_send (outbox, 2);
    cr_assert_eq (zkv_waiter_wait (waiter, 1000), inbox);
    cr_assert_eq (s_recv (inbox), 1);
    //  Its signal was taken with the first message: the descriptor is
    //  quiet while the second waits (edge-triggered, as ZMQ_FD is)
    cr_assert_null (zkv_waiter_wait (waiter, 20));
    zkv_waiter_again (waiter, inbox);
    cr_assert_eq (zkv_waiter_wait (waiter, 0), inbox, "asked, it has input");
    cr_assert_eq (s_recv (inbox), 2);
    zkv_waiter_again (waiter, inbox);
    cr_assert_null (zkv_waiter_wait (waiter, 0), "asked, it has none");
    zkv_waiter_destroy (&waiter);
    zsock_destroy (&outbox);
    zsock_destroy (&inbox);
}

Test (waiter, sockets_with_input_come_in_the_order_they_were_added)
{
    zsock_t *first, *first_out, *second, *second_out;
    s_pair (&first, &first_out);
    s_pair (&second, &second_out);
    zkv_waiter_t *waiter = zkv_waiter_new ();
    zkv_waiter_add (waiter, first);
    zkv_waiter_add (waiter, second);
    s_send (second_out, 2);
    s_send (first_out, 1);
    cr_assert_eq (zkv_waiter_wait (waiter, 1000), first);
    cr_assert_eq (s_recv (first), 1);
    cr_assert_eq (zkv_waiter_wait (waiter, 1000), second, "still ready: no new signal needed");
    cr_assert_eq (s_recv (second), 2);
    zkv_waiter_destroy (&waiter);
    zsock_destroy (&first_out);
    zsock_destroy (&second_out);
    zsock_destroy (&first);
    zsock_destroy (&second);
}

Test (waiter, a_frame_that_is_no_message_is_received_and_dropped)
{
    zsock_t *inbox, *outbox;
    s_pair (&inbox, &outbox);
    zstr_send (outbox, "not msgpack of a message");
    s_send (outbox, 3);
    zkv_msg_t *msg;
    cr_assert (zkv_io_try_recv (inbox, "test", &msg));
    cr_assert_null (msg, "dropped, and logged");
    cr_assert_eq (s_recv (inbox), 3, "the next one comes");
    cr_assert_not (zkv_io_try_recv (inbox, "test", &msg));
    zsock_destroy (&outbox);
    zsock_destroy (&inbox);
}
