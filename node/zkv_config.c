/*  =========================================================================
    zkv_config.c — zkv-node settings from flags and a ZPL file.
    =========================================================================
*/
#include "zkv_config.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

//  Every setting: its flag (and ZPL name), default, and help
typedef struct {
    const char *name;
    const char *fallback;
    const char *help;
} s_setting_t;

static const s_setting_t s_settings [] = {
    { "name",                  "default",               "human-readable name of this member" },
    { "data-dir",              "",                      "data directory (default: <name>.zkv)" },
    { "listen-client",         "tcp://127.0.0.1:12379", "ZeroMQ endpoint for clients (port * picks one)" },
    { "engine",                "rocksdb",               "rocksdb (on disk) or memory" },
    { "max-request-bytes",     "1572864",               "largest client request accepted" },
    { "max-txn-ops",           "128",                   "most operations in one txn" },
    { "request-timeout",       "7000",                  "msecs before a request times out" },
    { "initial-cluster-token", "zkv-cluster",           "token that makes the cluster id unique" },
    { "log-level",             "info",                  "debug, info, warn or error" },
};
#define SETTINGS (sizeof s_settings / sizeof s_settings [0])

static void
s_usage (void)
{
    printf ("usage: zkv-node [flags]\n\nflags (also settings under `zkv` in a --config file):\n");
    for (size_t i = 0; i < SETTINGS; i++)
        printf ("  --%-24s %s [%s]\n", s_settings [i].name, s_settings [i].help,
                s_settings [i].fallback);
    printf ("  --%-24s %s\n", "config FILE", "read settings from a ZPL file first");
    printf ("  --%-24s %s\n", "help", "print this help");
    printf ("  --%-24s %s\n", "version", "print the version");
}

static int
s_size (const char *text, size_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *end || text [0] == '-')
        return -1;
    *value = (size_t) number;
    return 0;
}

static int
s_copy (char *target, size_t size, const char *value, const char *name, char *error,
        size_t error_size)
{
    if (strlen (value) >= size) {
        snprintf (error, error_size, "--%s is too long", name);
        return -1;
    }
    strcpy (target, value);
    return 0;
}

int
zkv_config_parse (zkv_config_t *config, int argc, char *argv [], char *error,
                  size_t error_size)
{
    memset (config, 0, sizeof *config);
    const char *values [SETTINGS] = { NULL };
    const char *config_file = NULL;

    struct option options [SETTINGS + 4];
    for (size_t i = 0; i < SETTINGS; i++)
        options [i] = (struct option) { s_settings [i].name, required_argument, NULL, (int) i };
    options [SETTINGS] = (struct option) { "config", required_argument, NULL, 1000 };
    options [SETTINGS + 1] = (struct option) { "help", no_argument, NULL, 1001 };
    options [SETTINGS + 2] = (struct option) { "version", no_argument, NULL, 1002 };
    options [SETTINGS + 3] = (struct option) { NULL, 0, NULL, 0 };

    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        if (option >= 0 && option < (int) SETTINGS)
            values [option] = optarg;
        else
        if (option == 1000)
            config_file = optarg;
        else
        if (option == 1001) {
            s_usage ();
            return 1;
        }
        else
        if (option == 1002) {
            printf ("zkv-node %s\n", ZKV_VERSION);
            return 1;
        }
        else {
            snprintf (error, error_size, "unknown or incomplete flag '%s'", argv [optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf (error, error_size, "unexpected argument '%s'", argv [optind]);
        return -1;
    }

    //  The file fills in what the flags left open
    zconfig_t *file = NULL;
    if (config_file) {
        file = zconfig_load (config_file);
        if (!file) {
            snprintf (error, error_size, "cannot read config file '%s'", config_file);
            return -1;
        }
        zconfig_t *section = zconfig_locate (file, "zkv");
        for (zconfig_t *item = section? zconfig_child (section): NULL; item;
             item = zconfig_next (item)) {
            size_t i;
            for (i = 0; i < SETTINGS; i++)
                if (streq (zconfig_name (item), s_settings [i].name))
                    break;
            if (i == SETTINGS) {
                snprintf (error, error_size, "unknown setting '%s' in %s",
                          zconfig_name (item), config_file);
                zconfig_destroy (&file);
                return -1;
            }
            if (!values [i])
                values [i] = zconfig_value (item);
        }
    }
    for (size_t i = 0; i < SETTINGS; i++)
        if (!values [i])
            values [i] = s_settings [i].fallback;

    int rc = 0;
    rc |= s_copy (config->name, sizeof config->name, values [0], "name", error, error_size);
    if (rc == 0 && values [1][0])
        rc |= s_copy (config->data_dir, sizeof config->data_dir, values [1], "data-dir",
                      error, error_size);
    else
    if (rc == 0)
        snprintf (config->data_dir, sizeof config->data_dir, "%s.zkv", config->name);
    if (rc == 0)
        rc |= s_copy (config->listen_client, sizeof config->listen_client, values [2],
                      "listen-client", error, error_size);
    if (rc == 0) {
        if (streq (values [3], "memory"))
            config->memory = true;
        else
        if (!streq (values [3], "rocksdb")) {
            snprintf (error, error_size, "--engine must be rocksdb or memory, not '%s'",
                      values [3]);
            rc = -1;
        }
    }
    size_t number = 0;
    if (rc == 0 && (s_size (values [4], &config->max_request_bytes)
                    || config->max_request_bytes < 1024)) {
        snprintf (error, error_size, "--max-request-bytes must be a number of bytes >= 1024");
        rc = -1;
    }
    if (rc == 0 && (s_size (values [5], &config->max_txn_ops) || config->max_txn_ops == 0)) {
        snprintf (error, error_size, "--max-txn-ops must be a positive number");
        rc = -1;
    }
    if (rc == 0 && (s_size (values [6], &number) || number == 0 || number > 3600000)) {
        snprintf (error, error_size, "--request-timeout must be msecs between 1 and 3600000");
        rc = -1;
    }
    config->request_timeout = (int) number;
    if (rc == 0)
        rc |= s_copy (config->initial_cluster_token, sizeof config->initial_cluster_token,
                      values [7], "initial-cluster-token", error, error_size);
    if (rc == 0) {
        const char *levels [] = { "debug", "info", "warn", "error" };
        config->log_level = -1;
        for (int level = ZKV_LOG_DEBUG; level <= ZKV_LOG_ERROR; level++)
            if (streq (values [8], levels [level]))
                config->log_level = level;
        if (config->log_level < 0) {
            snprintf (error, error_size, "--log-level must be debug, info, warn or error");
            rc = -1;
        }
    }
    if (rc == 0 && !config->name [0]) {
        snprintf (error, error_size, "--name must not be empty");
        rc = -1;
    }
    zconfig_destroy (&file);
    return rc;
}
