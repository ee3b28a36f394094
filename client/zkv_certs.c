/*  =========================================================================
    zkv_certs.c — CURVE certificates (see zkv_certs.h).
    =========================================================================
*/
#include "zkv_certs.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

//  zcert_load builds "<path>_secret" in 256 bytes: a longer path would
//  silently lose its secret key
#define MAX_CERT_PATH 240

//  True if all size bytes are zero (what zcert_load leaves for a key it
//  did not find or could not decode)
static bool
s_zero (const byte *key, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (key [i])
            return false;
    return true;
}

static zcert_t *
s_load (const char *path, bool secret, char *error, size_t size)
{
    if (strlen (path) > MAX_CERT_PATH) {
        snprintf (error, size, "certificate path too long: %s", path);
        return NULL;
    }
    if (access (path, R_OK)) {
        snprintf (error, size, "cannot read certificate %s: %s", path, strerror (errno));
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert || s_zero (zcert_public_key (cert), 32)) {
        snprintf (error, size, "%s is not a CURVE certificate (as zcert_save writes one)", path);
        zcert_destroy (&cert);
        return NULL;
    }
    if (secret && s_zero (zcert_secret_key (cert), 32)) {
        snprintf (error, size, "certificate %s has no secret key (%s_secret is missing or "
                  "unreadable)", path, path);
        zcert_destroy (&cert);
        return NULL;
    }
    return cert;
}

zcert_t *
zkv_cert_load_pair (const char *path, char *error, size_t size)
{
    return s_load (path, true, error, size);
}

zcert_t *
zkv_cert_load_public (const char *path, char *error, size_t size)
{
    return s_load (path, false, error, size);
}

void
zkv_cert_apply_server (zcert_t *cert, zsock_t *socket, const char *domain)
{
    zcert_apply (cert, socket);
    zsock_set_curve_server (socket, 1);
    zsock_set_zap_domain (socket, domain);
}

//  ---------------------------------------------------------------------
//  Sets of public keys

zhashx_t *
zkv_keys_new (void)
{
    //  Keys are copied strings; values are unused (never NULL)
    return zhashx_new ();
}

int
zkv_keys_load (zhashx_t *keys, const char *dir, char *error, size_t size)
{
    zdir_t *listing = zdir_new (dir, NULL);
    if (!listing) {
        snprintf (error, size, "cannot read certificate directory %s", dir);
        return -1;
    }
    zfile_t **files = zdir_flatten (listing);
    int count = 0;
    for (size_t i = 0; files && files [i] && count >= 0; i++) {
        const char *path = zfile_filename (files [i], NULL);
        size_t length = strlen (path);
        if (!zfile_is_regular (files [i])
        ||  (length >= 7 && streq (path + length - 7, "_secret")))
            continue;
        zcert_t *cert = zkv_cert_load_public (path, error, size);
        if (!cert) {
            count = -1;
            break;
        }
        //  The same key twice is no error (zcertstore would assert)
        zhashx_update (keys, zcert_public_txt (cert), (void *) "");
        zcert_destroy (&cert);
        count++;
    }
    zdir_flatten_free (&files);
    zdir_destroy (&listing);
    return count;
}

bool
zkv_keys_has (zhashx_t *keys, const char *key)
{
    return key && zhashx_lookup (keys, key) != NULL;
}

//  ---------------------------------------------------------------------
//  A client's credentials

struct zkv_curve_s {
    zcert_t *cert;                      //  the client's key pair
    char server [41];                   //  the server's public key, Z85
};

zkv_curve_t *
zkv_curve_new (const char *cert_path, const char *server_cert_path, char *error, size_t size)
{
    zcert_t *cert = zkv_cert_load_pair (cert_path, error, size);
    if (!cert)
        return NULL;
    zcert_t *server = zkv_cert_load_public (server_cert_path, error, size);
    if (!server) {
        zcert_destroy (&cert);
        return NULL;
    }
    zkv_curve_t *self = (zkv_curve_t *) zmalloc (sizeof (zkv_curve_t));
    self->cert = cert;
    snprintf (self->server, sizeof self->server, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    return self;
}

zkv_curve_t *
zkv_curve_dup (const zkv_curve_t *self)
{
    if (!self)
        return NULL;
    zkv_curve_t *copy = (zkv_curve_t *) zmalloc (sizeof (zkv_curve_t));
    copy->cert = zcert_dup (self->cert);
    memcpy (copy->server, self->server, sizeof copy->server);
    return copy;
}

void
zkv_curve_destroy (zkv_curve_t **self_p)
{
    zkv_curve_t *self = *self_p;
    if (!self)
        return;
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

void
zkv_curve_apply (const zkv_curve_t *self, zsock_t *socket)
{
    if (!self)
        return;
    zcert_apply (self->cert, socket);
    zsock_set_curve_serverkey (socket, self->server);
}

const char *
zkv_curve_public (const zkv_curve_t *self)
{
    return zcert_public_txt (self->cert);
}
