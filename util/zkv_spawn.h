/*  zkv_spawn.h — a program started in a child process (fork + execv).

    The test helpers and the cluster harness start zkv-node, zkvctl and
    zkv-cluster this way; what differs between them is in zkv_spawn_t.
*/
#ifndef ZKV_SPAWN_H_INCLUDED
#define ZKV_SPAWN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    const char *const *argv;            //  argv [0]: the program's path; NULL-ended
    //  The child's stdin, stdout, stderr (index 0, 1, 2): path [i] is opened
    //  in the child (stdin read-only; stdout created and truncated; stderr
    //  created and appended to; mode 0600); else fd [i] is put there if
    //  above 2; else (0, the default) the stream is inherited
    const char *path [3];
    int fd [3];
    //  true: the child starts a session of its own and outlives us (setsid);
    //  false: it is killed when our thread that forked it ends
    //  (PR_SET_PDEATHSIG, SIGKILL)
    bool detach;
    //  true: the child closes every descriptor from 3 to 1023 but keep [],
    //  so that it holds nothing of ours but those
    bool close_others;
    const int *keep;
    size_t keep_count;
} zkv_spawn_t;

//  Starts the program; returns the child's pid, or -1 (errno) if fork
//  fails. A child that cannot exec the program exits with 127.
pid_t
    zkv_spawn (const zkv_spawn_t *spawn);

#endif
