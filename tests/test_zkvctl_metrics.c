/*  test_zkvctl_metrics.c — how zkvctl check datascale reads a member's
    process_resident_memory_bytes (zkvctl_metrics_sample), against a fake
    metrics server in the test (libmicrohttpd, an ephemeral loopback
    port): the value, and etcdctl 3.4's words when there is none (fetch
    error, could not find, parse error), with etcdctl's quirks (the first
    line that starts with the name wins; any HTTP status is read). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zkvctl.h"
#include "zkv_testnode.h"

static const char *s_metric = "process_resident_memory_bytes";

//  The pages of the fake server, by path; any other is a 404
static const char *s_pages [][2] = {
    { "/ok/metrics",
      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\n"
      "process_resident_memory_bytes 1.2345e+07\n"
      "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
      "process_virtual_memory_bytes 9e+08\n" },
    { "/other/metrics", "process_virtual_memory_bytes 9e+08\n" },
    { "/bad/metrics", "process_resident_memory_bytes 12abc\r\n" },
    { "/first/metrics", "process_resident_memory_bytes_total 5\n"
                        "process_resident_memory_bytes 7\n" },
    { "/spaces/metrics", "process_resident_memory_bytes \t 4096  \r\n" }
};

static enum MHD_Result
s_answer (void *arg, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **state)
{
    (void) arg, (void) method, (void) version, (void) upload_data, (void) upload_data_size;
    (void) state;
    const char *body = "404 page not found\n";
    unsigned int code = MHD_HTTP_NOT_FOUND;
    for (size_t i = 0; i < sizeof s_pages / sizeof s_pages [0]; i++)
        if (strcmp (url, s_pages [i][0]) == 0) {
            body = s_pages [i][1];
            code = MHD_HTTP_OK;
        }
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (body), (void *) body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response (connection, code, response);
    MHD_destroy_response (response);
    return rc;
}

static struct MHD_Daemon *s_daemon;
static char s_base [64];                //  http://127.0.0.1:PORT

static void
s_setup (void)
{
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    s_daemon = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, s_answer, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                                 MHD_OPTION_END);
    cr_assert_not_null (s_daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (s_daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    cr_assert_not_null (info);
    snprintf (s_base, sizeof s_base, "http://127.0.0.1:%u", (unsigned) info->port);
}

static void
s_teardown (void)
{
    if (s_daemon)
        MHD_stop_daemon (s_daemon);
}

TestSuite (zkvctl_metrics, .init = s_setup, .fini = s_teardown, .timeout = 30);

//  The sample at s_base + path, and why there is none into why
static double
s_sample (const char *path, char *why, size_t size)
{
    char url [128];
    snprintf (url, sizeof url, "%s%s", s_base, path);
    return zkvctl_metrics_sample (url, s_metric, 5000, why, size);
}

Test (zkvctl_metrics, the_value_of_the_metric_line)
{
    char why [512];
    cr_assert_float_eq (s_sample ("/ok", why, sizeof why), 12345000.0, 0.5);
    cr_assert_str_eq (why, "");
    //  TrimSpace around the value
    cr_assert_float_eq (s_sample ("/spaces", why, sizeof why), 4096.0, 0.5);
    cr_assert_str_eq (why, "");
    //  A url with no scheme is http's, as etcdctl takes an endpoint
    char url [128];
    snprintf (url, sizeof url, "%s/ok", s_base + strlen ("http://"));
    cr_assert_float_eq (zkvctl_metrics_sample (url, s_metric, 5000, why, sizeof why),
                        12345000.0, 0.5);
}

Test (zkvctl_metrics, no_value_is_told_in_etcdctls_words)
{
    char why [512];
    cr_assert_eq (s_sample ("/other", why, sizeof why), 0);
    cr_assert_str_eq (why, "could not find: process_resident_memory_bytes");
    //  A 404's body is read like any other
    cr_assert_eq (s_sample ("/nothing", why, sizeof why), 0);
    cr_assert_str_eq (why, "could not find: process_resident_memory_bytes");
    cr_assert_eq (s_sample ("/bad", why, sizeof why), 0);
    cr_assert_str_eq (why, "parse error: strconv.ParseFloat: parsing \"12abc\": invalid syntax");
    //  The first line that starts with the name, even a longer name's
    cr_assert_eq (s_sample ("/first", why, sizeof why), 0);
    cr_assert_str_eq (why, "parse error: strconv.ParseFloat: parsing \"_total 5\": "
                           "invalid syntax");
    //  Nobody there
    char dead [64], url [80], expected [128];
    int fd = zkv_dead_endpoint (dead, sizeof dead);
    cr_assert_geq (fd, 0);
    snprintf (url, sizeof url, "http://%s", dead + strlen ("tcp://"));
    cr_assert_eq (zkvctl_metrics_sample (url, s_metric, 5000, why, sizeof why), 0);
    close (fd);
    snprintf (expected, sizeof expected, "fetch error: Get \"%s/metrics\": ", url);
    cr_assert_eq (strncmp (why, expected, strlen (expected)), 0, "%s", why);
}
