/*  =========================================================================
    zkv_testnode.h — real zkv-node processes and real programs, for tests.

    A test node is a zkv-node started on an ephemeral loopback port
    (tcp://127.0.0.1:*) with its own temporary data directory, so tests
    run in parallel without sharing anything. The node dies with the test
    process (PR_SET_PDEATHSIG), and _destroy stops it and removes its
    directory.
    =========================================================================
*/
#ifndef ZKV_TESTNODE_H_INCLUDED
#define ZKV_TESTNODE_H_INCLUDED

#include <czmq.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "zkv_msgs.h"

typedef struct zkv_testnode_s zkv_testnode_t;

//  Starts a node named name with extra flags (NULL-terminated list, may be
//  NULL) and waits until it serves. Returns NULL if it did not start (its
//  log is printed).
zkv_testnode_t *
    zkv_testnode_start (const char *name, const char *const *flags);

//  Prepares a node without starting it: its directory and its peer
//  endpoint (bound, listening, passed on to the process); start it with
//  zkv_testnode_set_flags and zkv_testnode_restart
zkv_testnode_t *
    zkv_testnode_new (const char *name);

//  The peer endpoint it listens on (known before it starts)
const char *
    zkv_testnode_peer_endpoint (zkv_testnode_t *self);

//  Starts the node again on its data directory (it must be stopped), on a
//  new port. Returns 0, or -1 if it did not start.
int
    zkv_testnode_restart (zkv_testnode_t *self);

//  The flags of its next restart (NULL-terminated, not copied: they must
//  outlive the node)
void
    zkv_testnode_set_flags (zkv_testnode_t *self, const char *const *flags);

//  Sends signal to the node and waits for it to exit; returns its exit
//  status as waitpid reports it
int
    zkv_testnode_kill (zkv_testnode_t *self, int signal);

//  Sends signal to one thread of the node, not its main thread, that does
//  not block it (as the kernel may choose when the signal is sent to the
//  process); returns that thread's id, or 0 if there is none
pid_t
    zkv_testnode_signal_thread (zkv_testnode_t *self, int signal);

//  Waits up to msecs for the node to exit; true (and its exit status as
//  waitpid reports it) if it did
bool
    zkv_testnode_exited_within (zkv_testnode_t *self, int msecs, int *status);

//  Stops the node (SIGTERM) if it runs, removes its directory, frees it
void
    zkv_testnode_destroy (zkv_testnode_t **self_p);

//  The client endpoint it serves on ("tcp://127.0.0.1:port")
const char *
    zkv_testnode_endpoint (zkv_testnode_t *self);

//  Its process id (0 when it does not run)
pid_t
    zkv_testnode_pid (zkv_testnode_t *self);

//  Its data directory
const char *
    zkv_testnode_data_dir (zkv_testnode_t *self);

//  Its log (stderr) so far, as a fresh string
char *
    zkv_testnode_log (zkv_testnode_t *self);

//  True while the process runs
bool
    zkv_testnode_running (zkv_testnode_t *self);

//  An endpoint where nothing will ever answer, for as long as the returned
//  socket stays open (close it after): a port bound but not listening, so
//  that no other process of a parallel test can be given it meanwhile.
//  Returns the socket, or -1.
int
    zkv_dead_endpoint (char *endpoint, size_t size);

//  A program run to completion
typedef struct {
    int code;                           //  exit code, or 128 + signal
    char *out;                          //  everything it wrote on stdout
    char *err;                          //  and on stderr
} zkv_run_t;

//  Runs argv (argv [0] a path) with input on its stdin (NULL: none), and
//  waits for it to finish
zkv_run_t
    zkv_run (const char *input, const char *const *argv);

void
    zkv_run_free (zkv_run_t *run);

//  A program run on a thread of its own while the test goes on:
//  pthread_create (&thread, NULL, zkv_run_thread, &background); run is
//  set once done is
typedef struct {
    const char *argv [16];
    zkv_run_t run;
    atomic_int done;
} zkv_background_t;

void *
    zkv_run_thread (void *background);

//  A fake member answers request, whose envelope began with identity (the
//  caller keeps it) on router: with body, an encoded response or
//  error_response (freed here)
void
    zkv_fake_send (zsock_t *router, zframe_t *identity, const zkv_msg_t *request,
                   uint8_t *body, size_t body_size);

//  ... with response, a message of the type request's op answers
void
    zkv_fake_answer (zsock_t *router, zframe_t *identity, const zkv_msg_t *request,
                     const void *response);

//  A fake member publishing events (an actor: zactor_new (zkv_fake_publisher,
//  NULL), whose pipe first gives the endpoint of its ROUTER): answers Status
//  with the endpoint of its XPUB; once a subscription comes, publishes a
//  hello of boot 5, events 1 and 4 of boot 5, then event 2 of boot 6 (as
//  a member that missed some to this subscriber, then restarted), defrag
//  events, and says "SENT" on its pipe
#define ZKV_FAKE_MEMBER 0xabcULL
void
    zkv_fake_publisher (zsock_t *pipe, void *args);

#endif
