/*  =========================================================================
    zkvctl_progress.c — the progress bar of `check perf` and `check
    datascale`, drawn as etcdctl 3.4 draws it: gopkg.in/cheggaaa/pb.v1
    (1.0.25, Debian's) with its defaults and the format "Bom !".

    Every 200 ms, and once when it starts, the bar rewrites its line on
    stdout after a carriage return:
        " <current> / <total> " [bar] " %6.2f%%" [" 00m42s" time left]
    and when finished, with the time it took (Go's Duration.String of
    whole seconds) and a newline:
        " 60 / 60 Booooooooooooooo...ooom! 100.00% 1m0s"
    The bar itself ("B", "o"s, "m", " "s, "!") fills the terminal's width,
    which pb reads from /dev/tty (or stdin when there is none): with no
    terminal, there is no bar and no padding, as etcdctl's output shows
    when captured by a program.
    =========================================================================
*/
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "zkvctl.h"

#define S_REFRESH_USECS     200000      //  pb's DEFAULT_REFRESH_RATE

struct zkvctl_progress_s {
    int64_t total;
    int64_t current;
    int64_t previous;                   //  current when last drawn
    int64_t started;                    //  usecs, monotonic
    int64_t changed;                    //  when current was last seen to change
    int64_t drawn;                      //  when last drawn
    int tty;                            //  where the width is read (-1: stdin)
};

//  The terminal's width, as pb's terminalWidth (0 when there is none)
static int
s_width (zkvctl_progress_t *self)
{
    struct winsize size;
    if (ioctl (self->tty >= 0? self->tty: STDIN_FILENO, TIOCGWINSZ, &size) < 0)
        return 0;
    return size.ws_col;
}

//  pb's formatDuration: "00m42s", with hours ("1h02m03s") and days before
static void
s_time_left (int64_t usecs, char *buf, size_t size)
{
    int64_t seconds = usecs / 1000000;
    size_t at = 0;
    if (seconds > 24 * 3600) {
        at += (size_t) snprintf (buf, size, "%" PRId64 "d", seconds / (24 * 3600));
        seconds %= 24 * 3600;
    }
    if (seconds > 3600 && at < size) {
        at += (size_t) snprintf (buf + at, size - at, "%" PRId64 "h", seconds / 3600);
        seconds %= 3600;
    }
    if (at < size)
        snprintf (buf + at, size - at, "%02" PRId64 "m%02" PRId64 "s", seconds / 60,
                  seconds % 60);
}

//  pb's write: the line as it is now (finished: with the time it took)
static void
s_draw (zkvctl_progress_t *self, bool finished)
{
    int64_t now = zclock_usecs ();
    if (self->current != self->previous) {
        self->changed = now;
        self->previous = self->current;
    }
    char counters [64], percent [32], time_box [48] = "";
    snprintf (counters, sizeof counters, " %" PRId64 " / %" PRId64 " ", self->current,
              self->total);
    double share = self->total > 0? (double) self->current / ((double) self->total / 100)
                                  : (double) self->current / 100;
    snprintf (percent, sizeof percent, " %6.2f%%", share);
    if (finished) {
        char took [32];
        zkvctl_go_duration ((now - self->started) / 1000000 * 1000000000, took, sizeof took);
        snprintf (time_box, sizeof time_box, " %s", took);
    }
    else
    if (self->current > 0) {
        //  What is left at the pace so far, from the last change on
        int64_t per_entry = (self->changed - self->started) / self->current;
        int64_t left = (self->total - self->current) * per_entry - (now - self->changed);
        left = left / 1000000 * 1000000;
        if (left > 0) {
            char text [32];
            s_time_left (left, text, sizeof text);
            snprintf (time_box, sizeof time_box, " %s", text);
        }
    }
    int width = s_width (self);
    int used = (int) (strlen (counters) + 2 + strlen (percent) + strlen (time_box));
    int size = width - used;
    char *bar = NULL;
    if (size > 0 && self->total > 0) {
        int filled = (int) ceil ((double) self->current / (double) self->total * size);
        if (filled > size)
            filled = size;
        int empty = size - filled;
        bar = (char *) zmalloc ((size_t) size + 3);
        char *at = bar;
        *at++ = 'B';
        if (empty <= 0) {
            memset (at, 'o', (size_t) filled);
            at += filled;
        }
        else
        if (filled > 0) {
            memset (at, 'o', (size_t) filled - 1);
            at += filled - 1;
            *at++ = 'm';
        }
        memset (at, ' ', (size_t) empty);
        at += empty;
        *at++ = '!';
        *at = 0;
    }
    char *line = zsys_sprintf ("%s%s%s%s", counters, bar? bar: "", percent, time_box);
    int pad = width - (int) strlen (line);
    printf ("\r%s%*s", line, pad > 0? pad: 0, "");
    fflush (stdout);
    zstr_free (&line);
    free (bar);
    self->drawn = now;
}

zkvctl_progress_t *
zkvctl_progress_start (int64_t total)
{
    zkvctl_progress_t *self = (zkvctl_progress_t *) zmalloc (sizeof (zkvctl_progress_t));
    self->total = total;
    self->tty = open ("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    self->started = zclock_usecs ();
    s_draw (self, false);
    return self;
}

void
zkvctl_progress_add (zkvctl_progress_t *self, int64_t count)
{
    self->current += count;
}

void
zkvctl_progress_refresh (zkvctl_progress_t *self)
{
    if (zclock_usecs () - self->drawn >= S_REFRESH_USECS)
        s_draw (self, false);
}

void
zkvctl_progress_finish (zkvctl_progress_t **self_p)
{
    zkvctl_progress_t *self = *self_p;
    if (!self)
        return;
    s_draw (self, true);
    printf ("\n");
    fflush (stdout);
    if (self->tty >= 0)
        close (self->tty);
    free (self);
    *self_p = NULL;
}
