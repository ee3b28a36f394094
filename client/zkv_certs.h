/*  =========================================================================
    zkv_certs.h — CURVE certificates, for members and their clients.

    Certificates are CZMQ's (zcert): a file holding the public key and a
    file beside it, `<file>_secret`, holding both keys, as zcert_save
    writes them. A member reads its own key pair, and directories of the
    public certificates it allows (as zauth and zcertstore read a
    directory: every file but those named *_secret and hidden ones,
    subdirectories included) into sets of public keys; a client reads its
    own key pair and the server's public certificate.

    Keys travel as Z85 text (40 characters), which is also how ZeroMQ
    names the client's key in a message's User-Id once the ZAP handler
    (zkv_zap.h) allowed it.
    =========================================================================
*/
#ifndef ZKV_CERTS_H_INCLUDED
#define ZKV_CERTS_H_INCLUDED

#include <czmq.h>

//  A key pair: NULL with a message in error when path cannot be read, is
//  no certificate, or has no secret key beside it (path_secret)
zcert_t *
    zkv_cert_load_pair (const char *path, char *error, size_t size);

//  A public certificate (a secret file beside it is not needed): NULL
//  with a message in error when path cannot be read or is no certificate
zcert_t *
    zkv_cert_load_public (const char *path, char *error, size_t size);

//  Makes socket (before it binds) a CURVE server with cert's key pair,
//  whose clients the ZAP handler checks under domain
void
    zkv_cert_apply_server (zcert_t *cert, zsock_t *socket, const char *domain);

//  A set of public keys (Z85 text), empty
zhashx_t *
    zkv_keys_new (void);

//  Adds the public key of every certificate in dir to keys. Returns how
//  many certificates dir holds, or -1 with a message in error when dir
//  cannot be read or a file in it is no certificate (a typo in a key's
//  file must not pass unnoticed).
int
    zkv_keys_load (zhashx_t *keys, const char *dir, char *error, size_t size);

//  True if keys holds key (NULL: false)
bool
    zkv_keys_has (zhashx_t *keys, const char *key);

//  ---------------------------------------------------------------------
//  The credentials of a client: its own key pair and the public key of
//  the server it talks to (a zkv cluster shares one certificate: its
//  members present the same key)

typedef struct zkv_curve_s zkv_curve_t;

//  Reads them: cert_path, the client's certificate (with its secret
//  file), and server_cert_path, the server's public certificate. NULL
//  with a message in error on failure.
zkv_curve_t *
    zkv_curve_new (const char *cert_path, const char *server_cert_path, char *error,
                   size_t size);

zkv_curve_t *
    zkv_curve_dup (const zkv_curve_t *self);

void
    zkv_curve_destroy (zkv_curve_t **self_p);

//  Makes socket (before it connects) a CURVE client with these
//  credentials; does nothing when self is NULL
void
    zkv_curve_apply (const zkv_curve_t *self, zsock_t *socket);

//  The client's public key (Z85)
const char *
    zkv_curve_public (const zkv_curve_t *self);

#endif
