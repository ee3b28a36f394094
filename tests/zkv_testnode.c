/*  =========================================================================
    zkv_testnode.c — zkv-node processes and programs for tests.
    =========================================================================
*/
#include "zkv_testnode.h"
#include "eventually.h"
#include "zkv_file_read.h"
#include "zkv_spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define START_TIMEOUT_MSECS 20000

struct zkv_testnode_s {
    char name [64];
    char dir [256];                     //  temporary directory of the test node
    char data_dir [300];
    char endpoint [128];
    const char *flags [32];             //  extra flags (not owned)
    int peer_fd;                        //  listening peer socket the node inherits
    char peer_endpoint [64];            //  its fixed address, stored in the members table
    char peer_fd_text [16];
    pid_t pid;                          //  0 when not running
};

//  All of a file this process wrote or its child did ("" if none)
static char *
s_read_file (const char *path)
{
    char *text = zkv_file_read (path, 0);
    return text? text: strdup ("");
}

typedef struct {
    zkv_testnode_t *self;
    const char *out_path;       //  the node's standard output
    bool serving;               //  it said where it serves (into endpoint)
} s_starting_t;

//  True once the node's output says where it serves, or it has ended
static bool
s_served_or_ended (void *args)
{
    s_starting_t *starting = (s_starting_t *) args;
    zkv_testnode_t *self = starting->self;
    char *out = s_read_file (starting->out_path);
    char *line = strstr (out, "serving clients on ");
    if (line) {
        line += strlen ("serving clients on ");
        size_t n = strcspn (line, "\n");
        if (line [n] == '\n') {
            snprintf (self->endpoint, sizeof self->endpoint, "%.*s", (int) n, line);
            starting->serving = true;
        }
    }
    free (out);
    int status;
    if (!starting->serving && waitpid (self->pid, &status, WNOHANG) == self->pid)
        self->pid = 0;
    return starting->serving || !self->pid;
}

static int
s_spawn (zkv_testnode_t *self)
{
    char out_path [320], err_path [320];
    snprintf (out_path, sizeof out_path, "%s/node.out", self->dir);
    snprintf (err_path, sizeof err_path, "%s/node.log", self->dir);
    unlink (out_path);
    const char *argv [48];
    int argc = 0;
    argv [argc++] = ZKV_NODE_BIN;
    argv [argc++] = "--name";
    argv [argc++] = self->name;
    argv [argc++] = "--data-dir";
    argv [argc++] = self->data_dir;
    argv [argc++] = "--listen-client";
    argv [argc++] = "tcp://127.0.0.1:*";
    //  A cluster of one: no peer connects, but the members table records
    //  a fixed peer endpoint, as with any member
    argv [argc++] = "--listen-peer";
    argv [argc++] = self->peer_endpoint;
    argv [argc++] = "--listen-peer-fd";
    argv [argc++] = self->peer_fd_text;
    for (int i = 0; self->flags [i]; i++)
        argv [argc++] = self->flags [i];
    argv [argc] = NULL;

    //  Never outliving the test; it inherits the peer socket (and stdin)
    zkv_spawn_t spawn = { .argv = argv, .path = { NULL, out_path, err_path } };
    pid_t pid = zkv_spawn (&spawn);
    if (pid < 0)
        return -1;
    self->pid = pid;
    //  Wait for the line that says where it serves
    s_starting_t starting = { self, out_path, false };
    if (eventually (s_served_or_ended, &starting, START_TIMEOUT_MSECS) && starting.serving)
        return 0;
    char *log = s_read_file (err_path);
    fprintf (stderr, "zkv-node %s did not start; its log:\n%s\n", self->name, log);
    free (log);
    if (self->pid)
        zkv_testnode_kill (self, SIGKILL);
    return -1;
}

zkv_testnode_t *
zkv_testnode_start (const char *name, const char *const *flags)
{
    zkv_testnode_t *self = zkv_testnode_new (name);
    if (!self)
        return NULL;
    zkv_testnode_set_flags (self, flags);
    if (s_spawn (self)) {
        zkv_testnode_destroy (&self);
        return NULL;
    }
    return self;
}

zkv_testnode_t *
zkv_testnode_new (const char *name)
{
    zkv_testnode_t *self = calloc (1, sizeof (zkv_testnode_t));
    self->peer_fd = -1;
    snprintf (self->name, sizeof self->name, "%s", name);
    snprintf (self->dir, sizeof self->dir, "/tmp/zkv-test-%s-XXXXXX", name);
    if (!mkdtemp (self->dir)) {
        free (self);
        return NULL;
    }
    snprintf (self->data_dir, sizeof self->data_dir, "%s/data", self->dir);
    self->peer_fd = zkv_dead_endpoint (self->peer_endpoint, sizeof self->peer_endpoint);
    if (self->peer_fd < 0 || listen (self->peer_fd, 16)) {
        zkv_testnode_destroy (&self);
        return NULL;
    }
    snprintf (self->peer_fd_text, sizeof self->peer_fd_text, "%d", self->peer_fd);
    return self;
}

pid_t
zkv_testnode_pid (zkv_testnode_t *self)
{
    return self->pid;
}

const char *
zkv_testnode_peer_endpoint (zkv_testnode_t *self)
{
    return self->peer_endpoint;
}

void
zkv_testnode_set_flags (zkv_testnode_t *self, const char *const *flags)
{
    memset (self->flags, 0, sizeof self->flags);
    for (int i = 0; flags && flags [i] && i < 31; i++)
        self->flags [i] = flags [i];
}

int
zkv_testnode_restart (zkv_testnode_t *self)
{
    if (self->pid)
        return -1;
    return s_spawn (self);
}

int
zkv_testnode_kill (zkv_testnode_t *self, int signal)
{
    if (!self->pid)
        return -1;
    kill (self->pid, signal);
    int status = 0;
    while (waitpid (self->pid, &status, 0) < 0 && errno == EINTR)
        ;
    self->pid = 0;
    return status;
}

pid_t
zkv_testnode_signal_thread (zkv_testnode_t *self, int signal)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/task", (int) self->pid);
    DIR *tasks = self->pid? opendir (path): NULL;
    pid_t chosen = 0;
    struct dirent *entry;
    while (tasks && !chosen && (entry = readdir (tasks))) {
        pid_t tid = (pid_t) atoi (entry->d_name);
        if (tid <= 0 || tid == self->pid)
            continue;
        //  "SigBlk:\t<hex mask>": bit signal - 1 set when it blocks it
        char status_path [96], line [128];
        snprintf (status_path, sizeof status_path, "%s/%d/status", path, (int) tid);
        FILE *status = fopen (status_path, "r");
        unsigned long long blocked = ~0ULL;
        while (status && fgets (line, sizeof line, status))
            if (strncmp (line, "SigBlk:", 7) == 0)
                blocked = strtoull (line + 7, NULL, 16);
        if (status)
            fclose (status);
        if (!(blocked & (1ULL << (signal - 1))) && syscall (SYS_tgkill, self->pid, tid, signal) == 0)
            chosen = tid;
    }
    if (tasks)
        closedir (tasks);
    return chosen;
}

typedef struct {
    zkv_testnode_t *self;
    int *status;
} s_ending_t;

//  True once the node's process has ended (reaped, its wait status kept)
static bool
s_ended (void *args)
{
    s_ending_t *ending = (s_ending_t *) args;
    if (waitpid (ending->self->pid, ending->status, WNOHANG) != ending->self->pid)
        return false;
    ending->self->pid = 0;
    return true;
}

bool
zkv_testnode_exited_within (zkv_testnode_t *self, int msecs, int *status)
{
    s_ending_t ending = { self, status };
    return self->pid && eventually (s_ended, &ending, msecs);
}

bool
zkv_testnode_running (zkv_testnode_t *self)
{
    if (!self->pid)
        return false;
    int status;
    if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
        self->pid = 0;
        return false;
    }
    return true;
}

void
zkv_testnode_destroy (zkv_testnode_t **self_p)
{
    zkv_testnode_t *self = *self_p;
    if (!self)
        return;
    if (self->pid)
        zkv_testnode_kill (self, SIGTERM);
    if (self->peer_fd >= 0)
        close (self->peer_fd);
    char command [300];
    snprintf (command, sizeof command, "rm -rf '%s'", self->dir);
    if (system (command) != 0)
        fprintf (stderr, "could not remove %s\n", self->dir);
    free (self);
    *self_p = NULL;
}

const char *
zkv_testnode_endpoint (zkv_testnode_t *self)
{
    return self->endpoint;
}

const char *
zkv_testnode_data_dir (zkv_testnode_t *self)
{
    return self->data_dir;
}

char *
zkv_testnode_log (zkv_testnode_t *self)
{
    char path [320];
    snprintf (path, sizeof path, "%s/node.log", self->dir);
    return s_read_file (path);
}

//  ---------------------------------------------------------------------

typedef struct {
    char *text;
    size_t size;
    size_t room;
} s_buffer_t;

static void
s_append (s_buffer_t *buffer, const char *data, size_t size)
{
    if (buffer->size + size + 1 > buffer->room) {
        buffer->room = 2 * (buffer->size + size + 1);
        buffer->text = realloc (buffer->text, buffer->room);
    }
    memcpy (buffer->text + buffer->size, data, size);
    buffer->size += size;
    buffer->text [buffer->size] = 0;
}

zkv_run_t
zkv_run (const char *input, const char *const *argv)
{
    zkv_run_t run = { -1, NULL, NULL };
    //  Close-on-exec: the child holds only its copies on 0, 1 and 2 (our
    //  ends of the pipes in the child would keep its stdin from ending)
    int in [2], out [2], err [2];
    if (pipe2 (in, O_CLOEXEC) || pipe2 (out, O_CLOEXEC) || pipe2 (err, O_CLOEXEC))
        return run;
    zkv_spawn_t spawn = { .argv = argv, .fd = { in [0], out [1], err [1] } };
    pid_t pid = zkv_spawn (&spawn);
    close (in [0]);
    close (out [1]);
    close (err [1]);
    signal (SIGPIPE, SIG_IGN);
    if (input) {
        size_t size = strlen (input), done = 0;
        while (done < size) {
            ssize_t n = write (in [1], input + done, size - done);
            if (n <= 0)
                break;
            done += (size_t) n;
        }
    }
    close (in [1]);
    s_buffer_t buffers [2] = { { NULL, 0, 0 }, { NULL, 0, 0 } };
    s_append (&buffers [0], "", 0);
    s_append (&buffers [1], "", 0);
    struct pollfd fds [2] = { { out [0], POLLIN, 0 }, { err [0], POLLIN, 0 } };
    int open_fds = 2;
    while (open_fds) {
        if (poll (fds, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++)
            if (fds [i].fd >= 0 && fds [i].revents) {
                char chunk [4096];
                ssize_t n = read (fds [i].fd, chunk, sizeof chunk);
                if (n > 0)
                    s_append (&buffers [i], chunk, (size_t) n);
                else {
                    close (fds [i].fd);
                    fds [i].fd = -1;
                    open_fds--;
                }
            }
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    run.code = WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
    run.out = buffers [0].text;
    run.err = buffers [1].text;
    return run;
}

void
zkv_run_free (zkv_run_t *run)
{
    free (run->out);
    free (run->err);
    run->out = run->err = NULL;
}

void
zkv_fake_send (zsock_t *router, zframe_t *identity, const zkv_msg_t *request, uint8_t *body,
               size_t body_size)
{
    size_t size;
    uint8_t *reply = zkv_msg_wrap_reply (request->id, request->has_id,
                                         (const char *) request->op.data, request->op.size,
                                         body, body_size, &size);
    zframe_send (&identity, router, ZFRAME_MORE + ZFRAME_REUSE);
    zframe_t *frame = zframe_new (reply, size);
    zframe_send (&frame, router, 0);
    free (reply);
    free (body);
}

void
zkv_fake_answer (zsock_t *router, zframe_t *identity, const zkv_msg_t *request,
                 const void *response)
{
    size_t size;
    uint8_t *body = zkv_msg_encode_body (request->desc->response, response, &size);
    zkv_fake_send (router, identity, request, body, size);
}

void
zkv_fake_publisher (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    zsock_t *xpub = zsock_new_xpub ("tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zsock_send (pipe, "s", router && xpub? zsock_endpoint (router): "");
    zpoller_t *poller = zpoller_new (pipe, router, xpub, NULL);
    while (router && xpub) {
        void *which = zpoller_wait (poller, -1);
        if (which == router) {
            zmsg_t *msg = zmsg_recv (router);
            zframe_t *identity = zmsg_pop (msg);
            zframe_t *frame = zmsg_pop (msg);
            zkv_limits_t limits = zkv_limits_trusted ();
            zkv_result_t status;
            zkv_msg_t *request = frame? zkv_msg_decode (zframe_data (frame),
                                                        zframe_size (frame), ZKV_KIND_REQUEST,
                                                        &limits, &status)
                                      : NULL;
            if (request && request->desc == &zkv_status_desc) {
                zkv_header_t header = { .cluster_id = 1, .member_id = ZKV_FAKE_MEMBER };
                const char *events = zsock_endpoint (xpub);
                zkv_status_response_t response = {
                    .header = &header, .events_endpoint = zkv_bin (events, strlen (events))
                };
                zkv_fake_answer (router, identity, request, &response);
            }
            zkv_msg_destroy (&request);
            zframe_destroy (&frame);
            zframe_destroy (&identity);
            zmsg_destroy (&msg);
        }
        else
        if (which == xpub) {
            zframe_t *subscription = zframe_recv (xpub);
            bool subscribed = subscription && zframe_size (subscription) >= 1
                           && zframe_data (subscription) [0] == 1;
            zframe_destroy (&subscription);
            if (!subscribed)
                continue;
            //  hello (boot 5, nothing published yet), events 1 and 4 of
            //  boot 5, then event 2 of boot 6
            zkv_hello_event_t hello = { ZKV_FAKE_MEMBER, 1000, 0, 5 };
            size_t size;
            uint8_t *body = zkv_msg_encode_body (&zkv_hello_event_desc, &hello, &size);
            zsock_send (xpub, "sb", "hello", body, size);
            free (body);
            const uint64_t stamps [][2] = { { 1, 5 }, { 4, 5 }, { 2, 6 } };
            for (size_t i = 0; i < 3; i++) {
                zkv_defrag_event_t defrag = {
                    .member = ZKV_FAKE_MEMBER, .db_size_before = 100, .db_size = 10 + (int64_t) i,
                    .took_usecs = 7, .seq = stamps [i][0], .boot = stamps [i][1]
                };
                body = zkv_msg_encode_body (&zkv_defrag_event_desc, &defrag, &size);
                zsock_send (xpub, "sb", "defrag", body, size);
                free (body);
            }
            zstr_send (pipe, "SENT");
        }
        else
            break;                      //  $TERM or interrupted
    }
    zpoller_destroy (&poller);
    zsock_destroy (&xpub);
    zsock_destroy (&router);
}

void *
zkv_run_thread (void *args)
{
    zkv_background_t *background = (zkv_background_t *) args;
    background->run = zkv_run (NULL, background->argv);
    atomic_store (&background->done, 1);
    return NULL;
}

int
zkv_dead_endpoint (char *endpoint, size_t size)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind (fd, (struct sockaddr *) &address, sizeof address)
    ||  getsockname (fd, (struct sockaddr *) &address, &length)) {
        close (fd);
        return -1;
    }
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", ntohs (address.sin_port));
    return fd;
}
