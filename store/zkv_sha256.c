/*  zkv_sha256.c — SHA-256 for snapshot images (see zkv_sha256.h). */
#include "zkv_sha256.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct zkv_sha256_s {
    EVP_MD_CTX *context;
};

zkv_sha256_t *
zkv_sha256_new (void)
{
    zkv_sha256_t *self = (zkv_sha256_t *) calloc (1, sizeof (zkv_sha256_t));
    if (!self)
        return NULL;
    self->context = EVP_MD_CTX_new ();
    if (!self->context || EVP_DigestInit_ex (self->context, EVP_sha256 (), NULL) != 1)
        zkv_sha256_destroy (&self);
    return self;
}

void
zkv_sha256_destroy (zkv_sha256_t **self_p)
{
    zkv_sha256_t *self = *self_p;
    if (!self)
        return;
    EVP_MD_CTX_free (self->context);
    free (self);
    *self_p = NULL;
}

void
zkv_sha256_update (zkv_sha256_t *self, const void *data, size_t size)
{
    EVP_DigestUpdate (self->context, data, size);
}

void
zkv_sha256_digest (zkv_sha256_t *self, uint8_t digest [ZKV_SHA256_SIZE])
{
    //  Finished on a copy, so that the running state stays usable
    EVP_MD_CTX *copy = EVP_MD_CTX_new ();
    unsigned int size = 0;
    if (copy && EVP_MD_CTX_copy_ex (copy, self->context) == 1)
        EVP_DigestFinal_ex (copy, digest, &size);
    EVP_MD_CTX_free (copy);
}
