/*  =========================================================================
    zkv_cluster_file.c — the cluster file, as a client reads it (see
    zkv_cluster_file.h).
    =========================================================================
*/
#include "zkv_cluster_file.h"

#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkv_file_read.h"

//  A cluster file is a few hundred bytes; this stops a cluster file
//  /dev/zero from being read for ever
#define S_FILE_MAX      (1024 * 1024)

struct zkv_cluster_file_s {
    char *endpoints;                    //  client endpoints, comma list
    char *events;                       //  events endpoints, comma list
    char *cert;                         //  NULL: none
    char *server_cert;
};

//  Parses text as ZPL. zconfig tells a syntax error with zclock_log, on
//  stdout (a program's output): that line is caught here, and its text
//  (`line 3: indentation error`) copied into why.
static zconfig_t *
s_zpl_parse (const char *text, char *why, size_t size)
{
    *why = 0;
    fflush (stdout);
    FILE *capture = tmpfile ();
    int saved = capture? dup (STDOUT_FILENO): -1;
    if (saved >= 0 && dup2 (fileno (capture), STDOUT_FILENO) < 0) {
        close (saved);
        saved = -1;
    }
    zconfig_t *root = zconfig_str_load (text);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
        char line [512] = "";
        rewind (capture);
        if (fgets (line, sizeof line, capture)) {
            //  "<date> <time> E (zconfig): (3) indentation error\n"
            const char *at = strstr (line, "(zconfig): ");
            at = at? at + strlen ("(zconfig): "): line;
            int lineno, skip = 0;
            if (sscanf (at, "(%d) %n", &lineno, &skip) == 1 && skip)
                snprintf (why, size, "line %d: %s", lineno, at + skip);
            else {                      //  as much of it as fits
                size_t length = strnlen (at, size - 1);
                memcpy (why, at, length);
                why [length] = 0;
            }
            size_t length = strlen (why);
            while (length && isspace ((unsigned char) why [length - 1]))
                why [--length] = 0;
        }
    }
    if (capture)
        fclose (capture);
    return root;
}

//  A path of the cluster file at file: as it is when absolute, else
//  relative to the file's directory (a fresh string; NULL when empty)
static char *
s_file_path (const char *file, const char *path)
{
    if (*path == 0)
        return NULL;
    const char *slash = strrchr (file, '/');
    if (*path == '/' || !slash)
        return strdup (path);
    return zsys_sprintf ("%.*s/%s", (int) (slash - file), file, path);
}

//  The values of key of every member under cluster, in order, as a comma
//  list (a fresh string)
static char *
s_member_list (zconfig_t *cluster, const char *key)
{
    size_t room = 1;
    for (zconfig_t *item = cluster? zconfig_child (cluster): NULL; item;
         item = zconfig_next (item))
        if (streq (zconfig_name (item), "member"))
            room += strlen (zconfig_get (item, key, "")) + 1;
    char *list = (char *) zmalloc (room);
    for (zconfig_t *item = cluster? zconfig_child (cluster): NULL; item;
         item = zconfig_next (item)) {
        const char *value = streq (zconfig_name (item), "member")
                          ? zconfig_get (item, key, ""): "";
        if (*value) {
            if (*list)
                strcat (list, ",");
            strcat (list, value);
        }
    }
    return list;
}

zkv_cluster_file_t *
zkv_cluster_file_load (const char *path, char *error, size_t size)
{
    char *text = zkv_file_read (path, S_FILE_MAX);
    if (!text) {
        //  As Go's syscall errors read: "no such file or directory"
        char reason [256];
        snprintf (reason, sizeof reason, "%s", strerror (errno));
        reason [0] = (char) tolower ((unsigned char) reason [0]);
        snprintf (error, size, "cannot read cluster file %s: %s", path, reason);
        return NULL;
    }
    char why [256];
    zconfig_t *root = s_zpl_parse (text, why, sizeof why);
    free (text);
    if (!root) {
        snprintf (error, size, "cannot parse cluster file %s: %s", path,
                  *why? why: "not a ZPL file");
        return NULL;
    }
    zconfig_t *cluster = zconfig_locate (root, "cluster");
    zkv_cluster_file_t *self = (zkv_cluster_file_t *) zmalloc (sizeof (zkv_cluster_file_t));
    self->endpoints = s_member_list (cluster, "client");
    self->events = s_member_list (cluster, "events");
    self->cert = s_file_path (path, cluster? zconfig_get (cluster, "cert", ""): "");
    self->server_cert = s_file_path (path, cluster? zconfig_get (cluster, "server-cert", "")
                                                  : "");
    zconfig_destroy (&root);
    if (*self->endpoints == 0) {
        snprintf (error, size, "cluster file %s lists no member client endpoint", path);
        zkv_cluster_file_destroy (&self);
    }
    return self;
}

void
zkv_cluster_file_destroy (zkv_cluster_file_t **self_p)
{
    zkv_cluster_file_t *self = *self_p;
    if (!self)
        return;
    free (self->endpoints);
    free (self->events);
    free (self->cert);
    free (self->server_cert);
    free (self);
    *self_p = NULL;
}

const char *
zkv_cluster_file_endpoints (const zkv_cluster_file_t *self)
{
    return self->endpoints;
}

const char *
zkv_cluster_file_events (const zkv_cluster_file_t *self)
{
    return self->events;
}

const char *
zkv_cluster_file_cert (const zkv_cluster_file_t *self)
{
    return self->cert;
}

const char *
zkv_cluster_file_server_cert (const zkv_cluster_file_t *self)
{
    return self->server_cert;
}
