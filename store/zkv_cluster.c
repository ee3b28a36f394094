/*  =========================================================================
    zkv_cluster.c — the members of the cluster (see zkv_cluster.h).
    =========================================================================
*/
#include "zkv_cluster.h"
#include "zkv_identity.h"
#include "zkv_members.h"
#include "zkv_msgs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
zkv_cluster_parse (const char *initial_cluster, const char *token, zkv_cluster_t *cluster,
                   char *error, size_t error_size)
{
    memset (cluster, 0, sizeof *cluster);
    char *list = strdup (initial_cluster);
    char *saved = NULL;
    int rc = 0;
    for (char *item = strtok_r (list, ",", &saved); item && rc == 0;
         item = strtok_r (NULL, ",", &saved)) {
        char *equals = strchr (item, '=');
        if (!equals || equals == item || !equals [1]) {
            snprintf (error, error_size, "--initial-cluster: '%s' is not name=endpoint", item);
            rc = -1;
            break;
        }
        if (cluster->count == ZKV_CLUSTER_MAX) {
            snprintf (error, error_size, "--initial-cluster: more than %d members",
                      ZKV_CLUSTER_MAX);
            rc = -1;
            break;
        }
        *equals = 0;
        zkv_member_t *member = &cluster->members [cluster->count];
        if (strlen (item) >= sizeof member->name
        ||  strlen (equals + 1) >= sizeof member->peer_endpoint) {
            snprintf (error, error_size, "--initial-cluster: '%s' is too long", item);
            rc = -1;
            break;
        }
        if (zkv_cluster_find (cluster, item)) {
            snprintf (error, error_size, "--initial-cluster: member '%s' twice", item);
            rc = -1;
            break;
        }
        strcpy (member->name, item);
        //  etcd-style http:// URLs are tcp endpoints here
        const char *endpoint = equals + 1;
        if (strncmp (endpoint, "http://", 7) == 0)
            snprintf (member->peer_endpoint, sizeof member->peer_endpoint, "tcp://%s",
                      endpoint + 7);
        else
            strcpy (member->peer_endpoint, endpoint);
        //  The members table is where the others find a member: a wildcard
        //  port would leave them nothing to connect to
        if (strchr (member->peer_endpoint, '*')) {
            snprintf (error, error_size, "peer endpoint %s of member '%s' has no fixed port",
                      member->peer_endpoint, member->name);
            rc = -1;
            break;
        }
        member->id = zkv_identity_member_id (token, member->name);
        cluster->count++;
    }
    free (list);
    if (rc == 0 && cluster->count == 0) {
        snprintf (error, error_size, "--initial-cluster names no member");
        rc = -1;
    }
    if (rc == 0) {
        uint64_t ids [ZKV_CLUSTER_MAX];
        for (size_t i = 0; i < cluster->count; i++)
            ids [i] = cluster->members [i].id;
        cluster->cluster_id = zkv_identity_cluster_id (token, ids, cluster->count);
    }
    return rc;
}

const zkv_member_t *
zkv_cluster_find (const zkv_cluster_t *cluster, const char *name)
{
    for (size_t i = 0; i < cluster->count; i++)
        if (strcmp (cluster->members [i].name, name) == 0)
            return &cluster->members [i];
    return NULL;
}

//  Records a member in the `members` family
static int
s_record (zkv_engine_t *engine, const zkv_member_t *member, char **error)
{
    zkv_cluster_member_t record = {
        .member_id = member->id,
        .name = zkv_bin (member->name, strlen (member->name)),
        .peer_endpoint = zkv_bin (member->peer_endpoint, strlen (member->peer_endpoint))
    };
    uint8_t key [8];
    size_t size;
    uint8_t *bytes = zkv_members_record (&record, key, &size);
    if (!bytes) {
        *error = strdup ("out of memory");
        return -1;
    }
    int rc = zkv_engine_put (engine, ZKV_CF_MEMBERS, key, 8, bytes, size, true, error);
    free (bytes);
    return rc;
}

//  Reads the `members` family into cluster; returns the number of members,
//  or -1
static int
s_read_members (zkv_engine_t *engine, zkv_cluster_t *cluster, char *error, size_t error_size)
{
    msgpack_zone *zone = msgpack_zone_new (8192);
    zkv_cluster_member_list_t list;
    char *err = NULL;
    int rc = zkv_members_list (engine, zone, &list, &err);
    if (rc == 0 && list.count > ZKV_CLUSTER_MAX)
        rc = -1;
    if (rc) {
        snprintf (error, error_size, "cannot read the member table: %s", err? err: "too many");
        free (err);
    }
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        zkv_member_t *member = &cluster->members [cluster->count++];
        member->id = list.items [i].member_id;
        zkv_bin_str (list.items [i].name, member->name, sizeof member->name);
        zkv_bin_str (list.items [i].peer_endpoint, member->peer_endpoint,
                     sizeof member->peer_endpoint);
    }
    msgpack_zone_free (zone);
    return rc? -1: (int) cluster->count;
}

int
zkv_cluster_load (zkv_engine_t *engine, const char *name, const char *token,
                  const zkv_cluster_t *initial, zkv_cluster_t *cluster,
                  char *error, size_t error_size)
{
    memset (cluster, 0, sizeof *cluster);
    int found = s_read_members (engine, cluster, error, error_size);
    if (found < 0)
        return -1;
    char *err = NULL;
    if (found == 0) {
        //  First start: the initial cluster becomes the member table
        const zkv_member_t *self = zkv_cluster_find (initial, name);
        if (!self) {
            snprintf (error, error_size, "couldn't find local name \"%s\" in the initial "
                      "cluster configuration", name);
            return -1;
        }
        *cluster = *initial;
        for (size_t i = 0; i < cluster->count; i++)
            if (s_record (engine, &cluster->members [i], &err)) {
                snprintf (error, error_size, "cannot record the members: %s", err);
                free (err);
                return -1;
            }
    }
    //  The ids: kept from the first start, whatever the flags say now
    uint64_t ids [ZKV_CLUSTER_MAX];
    for (size_t i = 0; i < cluster->count; i++)
        ids [i] = cluster->members [i].id;
    const zkv_member_t *self = zkv_cluster_find (cluster, name);
    uint64_t derived = self? self->id: zkv_identity_member_id (token, name);
    if (zkv_identity_load (engine, derived, zkv_identity_cluster_id (token, ids, cluster->count),
                           &cluster->self, &cluster->cluster_id, &err)) {
        snprintf (error, error_size, "cannot read or keep the member's ids: %s", err);
        free (err);
        return -1;
    }
    bool member = false;
    for (size_t i = 0; i < cluster->count; i++)
        member |= cluster->members [i].id == cluster->self;
    if (!member) {
        uint8_t key [ZKV_META_REMOVED_KEY];
        zkv_members_removed_key (cluster->self, key);
        char *value = NULL;
        size_t size;
        bool removed = zkv_engine_get (engine, ZKV_CF_META, key, sizeof key, &value, &size,
                                       &err) == 1;
        free (value);
        free (err);
        if (removed)
            snprintf (error, error_size, "the member has been permanently removed from the "
                      "cluster (%016llx): start a new member in its place",
                      (unsigned long long) cluster->self);
        else
            snprintf (error, error_size, "this member (%016llx) is not in the cluster's member "
                      "table", (unsigned long long) cluster->self);
        return -1;
    }
    return 0;
}
