/*  zkv_spawn.c — a program started in a child process (zkv_spawn.h). */
#include "zkv_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

//  In the child, between fork and exec: async-signal-safe calls only
static void
s_child (const zkv_spawn_t *spawn)
{
    if (spawn->detach)
        setsid ();
    else
        prctl (PR_SET_PDEATHSIG, SIGKILL);
    static const int flags [3] = {
        O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, O_WRONLY | O_CREAT | O_APPEND
    };
    for (int i = 0; i < 3; i++) {
        int fd = spawn->path [i]? open (spawn->path [i], flags [i], 0600): spawn->fd [i];
        if (fd > 2) {
            dup2 (fd, i);
            if (spawn->path [i])
                close (fd);             //  opened here: only its copy goes on
        }
    }
    if (spawn->close_others)
        for (int fd = 3; fd < 1024; fd++) {
            bool kept = false;
            for (size_t k = 0; k < spawn->keep_count; k++)
                kept = kept || spawn->keep [k] == fd;
            if (!kept)
                close (fd);
        }
    execv (spawn->argv [0], (char *const *) spawn->argv);
    _exit (127);
}

pid_t
zkv_spawn (const zkv_spawn_t *spawn)
{
    pid_t pid = fork ();
    if (pid == 0)
        s_child (spawn);
    return pid;
}
