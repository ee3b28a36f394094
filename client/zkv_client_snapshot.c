/*  =========================================================================
    zkv_client_snapshot.c — saving a member's snapshot to a file, streamed
    with credit (see zkv_client_snapshot_save in zkv_client.h).
    =========================================================================
*/
#include "zkv_client.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkv_sha256.h"

#define S_CREDIT 8                      //  replies in flight
#define S_CHUNK (1024 * 1024)           //  image bytes per reply (etcd's are 32 KiB)
#define S_SILENCE 60000                 //  msecs without a reply that fail a save

static int
s_write_all (int fd, const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    while (size > 0) {
        ssize_t done = write (fd, bytes, size);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return -1;
        bytes += done;
        size -= (size_t) done;
    }
    return 0;
}

//  Streams the snapshot into fd; returns 0, or -1 with a message in error
static int
s_stream (zkv_client_t *self, int fd, int timeout, zkv_snapshot_progress_fn *progress,
          void *arg, zkv_snapshot_info_t *info, char *error, size_t size)
{
    int64_t give_up = zclock_mono () + timeout;
    zkv_snapshot_t request = { .credit = S_CREDIT, .chunk_size = S_CHUNK };
    uint64_t stream = zkv_client_send (self, &zkv_snapshot_desc, &request,
                                       timeout? timeout: S_SILENCE);
    if (!stream) {
        snprintf (error, size, "context deadline exceeded");
        return -1;
    }
    zkv_sha256_t *digest = zkv_sha256_new ();
    int rc = 0;
    if (!digest) {
        snprintf (error, size, "out of memory");
        rc = -1;
    }
    uint64_t total = 0, received = 0, consumed = 0;
    bool done = false;
    while (rc == 0 && !done) {
        int wait = (int) (timeout? give_up - zclock_mono (): S_SILENCE);
        zkv_result_t status;
        zkv_msg_t *reply = wait > 0? zkv_client_recv (self, &zkv_snapshot_desc, wait, &status)
                                   : NULL;
        if (!reply) {
            snprintf (error, size, "%s", zsys_interrupted? "interrupted"
                                                         : "context deadline exceeded");
            rc = -1;
            break;
        }
        const zkv_error_t *refusal = zkv_reply_error (reply);
        if (refusal) {
            snprintf (error, size, "%.*s", (int) refusal->message.size,
                      (const char *) refusal->message.data);
            zkv_msg_destroy (&reply);
            rc = -1;
            break;
        }
        const zkv_snapshot_response_t *response = (const zkv_snapshot_response_t *) reply->body;
        if (received == 0) {
            total = response->remaining_bytes + response->blob.size;
            if (response->header)
                info->member_id = response->header->member_id;
        }
        if (s_write_all (fd, response->blob.data, response->blob.size)) {
            snprintf (error, size, "write: %s", strerror (errno));
            rc = -1;
        }
        else
        if (response->done) {
            //  The last reply carries the SHA-256 of all the bytes before
            uint8_t sum [ZKV_SHA256_SIZE];
            zkv_sha256_digest (digest, sum);
            if (received != total || response->blob.size != sizeof sum
            ||  memcmp (sum, response->blob.data, sizeof sum) != 0) {
                snprintf (error, size, "sha256 checksum not found");
                rc = -1;
            }
            zkv_bin_str (response->version, info->version, sizeof info->version);
            memcpy (info->sha256, sum, sizeof sum);
            info->size = received + sizeof sum;
            done = true;
        }
        else {
            zkv_sha256_update (digest, response->blob.data, response->blob.size);
            received += response->blob.size;
            if (progress)
                progress (arg, received, total);
        }
        zkv_msg_destroy (&reply);
        //  Half the credit used: grant it again
        if (rc == 0 && !done && ++consumed % (S_CREDIT / 2) == 0) {
            zkv_snapshot_credit_t grant = { .stream = stream, .credit = S_CREDIT / 2 };
            if (!zkv_client_send (self, &zkv_snapshot_credit_desc, &grant, 1000)) {
                snprintf (error, size, "context deadline exceeded");
                rc = -1;
            }
        }
    }
    zkv_sha256_destroy (&digest);
    return rc;
}

int
zkv_client_snapshot_save (zkv_client_t *self, const char *path, int timeout,
                          zkv_snapshot_progress_fn *progress, void *arg,
                          zkv_snapshot_info_t *info, char *error, size_t size)
{
    zkv_snapshot_info_t ignored;
    if (!info)
        info = &ignored;
    memset (info, 0, sizeof *info);
    char *part = zsys_sprintf ("%s.part", path);
    int fd = open (part, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        snprintf (error, size, "could not open %s (%s)", part, strerror (errno));
        free (part);
        return -1;
    }
    int rc = s_stream (self, fd, timeout > 0? timeout: 0, progress, arg, info, error, size);
    if (rc == 0 && fsync (fd)) {
        snprintf (error, size, "fsync %s: %s", part, strerror (errno));
        rc = -1;
    }
    close (fd);
    if (rc == 0 && rename (part, path)) {
        snprintf (error, size, "could not rename %s to %s (%s)", part, path, strerror (errno));
        rc = -1;
    }
    if (rc) {
        unlink (part);
        free (part);
        //  The stream ends with the connection: its late replies must not
        //  reach the next call
        zkv_client_reconnect (self);
        return -1;
    }
    free (part);
    //  The rename is durable once the directory is
    char *copy = strdup (path);
    int dir = open (dirname (copy), O_RDONLY | O_DIRECTORY);
    free (copy);
    if (dir >= 0) {
        fsync (dir);
        close (dir);
    }
    return 0;
}
