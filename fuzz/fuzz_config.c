/*  fuzz_config.c — libFuzzer target: what an operator writes, read as a
    node reads it: the bytes as a ZPL --config file, then as an
    --initial-cluster list. No input may crash, leak or overrun. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zkv_cluster.h"
#include "zkv_config.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char path [] = "/tmp/zkv-fuzz-config-XXXXXX";
    int fd = mkstemp (path);
    if (fd < 0)
        return 0;
    if (write (fd, data, size) == (ssize_t) size) {
        char *argv [] = { "zkv-node", "--config", path, NULL };
        zkv_config_t config;
        char error [512];
        zkv_config_parse (&config, 3, argv, error, sizeof error);
    }
    close (fd);
    unlink (path);
    char *text = (char *) malloc (size + 1);
    memcpy (text, data, size);
    text [size] = 0;
    zkv_cluster_t cluster;
    char error [512];
    zkv_cluster_parse (text, "token", &cluster, error, sizeof error);
    free (text);
    return 0;
}
