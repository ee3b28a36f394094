/*  fuzz_image.c — libFuzzer target: a snapshot image, as `zkvctl snapshot
    status/restore` and the Snapshot stream's readers take one from a file
    or the network, fed to the image reader in two pieces split where the
    first byte says. No input may crash, leak or overrun. */
#include <stdlib.h>

#include "zkv_image.h"

static int
s_record (void *arg, zkv_cf_t cf, const void *key, size_t key_size, const void *value,
          size_t value_size, char **error)
{
    (void) arg, (void) cf, (void) key, (void) key_size, (void) value, (void) value_size;
    (void) error;
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t split = data [0] < size? data [0]: size - 1;
    zkv_image_reader_t *reader = zkv_image_reader_new (s_record, NULL);
    char *error = NULL;
    if (zkv_image_reader_feed (reader, data + 1, split, &error) == 0)
        zkv_image_reader_feed (reader, data + 1 + split, size - 1 - split, &error);
    free (error);
    zkv_image_reader_done (reader);
    zkv_image_reader_header (reader);
    zkv_image_reader_destroy (&reader);
    return 0;
}
