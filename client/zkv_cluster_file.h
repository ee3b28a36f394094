/*  =========================================================================
    zkv_cluster_file.h — the cluster file, as a client reads it
    (docs/PROTOCOL.md, "The cluster file"): every member's client and
    events endpoint, in file order, and a secure cluster's certificates.

    zkv-cluster writes `cluster.zpl` (ZPL, CZMQ's zconfig text) and keeps
    it current; zkvctl --cluster-file and zkv_client_new_from_cluster_file
    (zkv_client.h) read it here. The errors are the texts zkvctl prints.
    =========================================================================
*/
#ifndef ZKV_CLUSTER_FILE_H_INCLUDED
#define ZKV_CLUSTER_FILE_H_INCLUDED

#include <stddef.h>

typedef struct zkv_cluster_file_s zkv_cluster_file_t;

//  Reads the cluster file at path (1 MiB at most). NULL with a message in
//  error when it cannot be read (`cannot read cluster file P: no such
//  file or directory`), is not ZPL (`cannot parse cluster file P: line
//  3: indentation error`), or lists no member with a client endpoint
//  (`cluster file P lists no member client endpoint`). (zconfig tells a
//  syntax error on stdout: while it parses, stdout is caught to read it.)
zkv_cluster_file_t *
    zkv_cluster_file_load (const char *path, char *error, size_t size);

void
    zkv_cluster_file_destroy (zkv_cluster_file_t **self_p);

//  Every member's client endpoint, in file order, as a comma list (what
//  zkv_client_new takes); never empty
const char *
    zkv_cluster_file_endpoints (const zkv_cluster_file_t *self);

//  Every member's events endpoint (those that have one), in file order,
//  as a comma list; "" when none has one
const char *
    zkv_cluster_file_events (const zkv_cluster_file_t *self);

//  A secure cluster's certificates: the client's (`cert`, with its
//  _secret file beside it) and the cluster's public one (`server-cert`),
//  relative paths made relative to the file's directory; NULL when the
//  file names none
const char *
    zkv_cluster_file_cert (const zkv_cluster_file_t *self);
const char *
    zkv_cluster_file_server_cert (const zkv_cluster_file_t *self);

#endif
