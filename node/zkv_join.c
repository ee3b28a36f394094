/*  zkv_join.c — a member joining an existing cluster (see zkv_join.h). */
#include "zkv_join.h"
#include "zkv_cluster.h"
#include "zkv_identity.h"
#include "zkv_members.h"
#include "zkv_rc.h"

#include <string.h>

#define JOIN_MSECS 30000                //  how long the members are asked
#define ASK_MSECS 1000                  //  between two rounds of asking

//  Keeps the ids, the member table and an empty configuration
static int
s_keep (zkv_engine_t *engine, const zkv_peer_frame_t *answer, char *error, size_t size)
{
    char *err = NULL;
    uint64_t member_id, cluster_id;
    int rc = zkv_identity_load (engine, answer->to, answer->cluster_id, &member_id, &cluster_id,
                                &err);
    for (size_t i = 0; rc == 0 && i < answer->members.count; i++) {
        uint8_t key [8];
        size_t bytes_size;
        uint8_t *bytes = zkv_members_record (&answer->members.items [i], key, &bytes_size);
        rc = bytes? zkv_engine_put (engine, ZKV_CF_MEMBERS, key, 8, bytes, bytes_size, false,
                                    &err): -1;
        free (bytes);
    }
    zkv_conf_state_t none;
    memset (&none, 0, sizeof none);
    uint8_t conf [ZKV_RC_CONF_BYTES];
    size_t conf_size = zkv_rc_conf_encode (&none, conf);
    if (rc == 0)
        rc = zkv_engine_put (engine, ZKV_CF_META, ZKV_META_CONF, strlen (ZKV_META_CONF), conf,
                             conf_size, true, &err);
    if (rc)
        snprintf (error, size, "cannot keep what the cluster told: %s", err? err: "out of memory");
    free (err);
    return rc;
}

//  An answer for us: a member table that holds the id it gives us
static bool
s_answer_valid (const zkv_peer_frame_t *answer)
{
    if (!answer->cluster_id || !answer->to)
        return false;
    for (size_t i = 0; i < answer->members.count; i++)
        if (answer->members.items [i].member_id == answer->to)
            return true;
    return false;
}

int
zkv_join (const zkv_config_t *config, zkv_engine_t *engine, zcert_t *peer_cert,
          char *error, size_t size)
{
    msgpack_zone *zone = msgpack_zone_new (4096);
    zkv_cluster_member_list_t known;
    char *err = NULL;
    int rc = zone? zkv_members_list (engine, zone, &known, &err): -1;
    bool restart = rc == 0 && known.count > 0;
    if (zone)
        msgpack_zone_free (zone);
    if (rc || restart) {
        if (rc)
            snprintf (error, size, "cannot read the member table: %s", err? err: "out of memory");
        free (err);
        return rc;
    }
    zkv_cluster_t initial;
    if (zkv_cluster_parse (config->initial_cluster, config->initial_cluster_token, &initial,
                           error, size))
        return -1;
    const zkv_member_t *self = zkv_cluster_find (&initial, config->name);
    const char *endpoint = self? self->peer_endpoint: config->listen_peer;
    //  One connection to every other member of the initial cluster
    zpoller_t *poller = zpoller_new (NULL);
    zsock_t *dealers [ZKV_CLUSTER_MAX];
    size_t count = 0;
    for (size_t i = 0; i < initial.count; i++) {
        if (streq (initial.members [i].peer_endpoint, endpoint))
            continue;
        zsock_t *dealer = zsock_new (ZMQ_DEALER);
        zsock_set_linger (dealer, 0);
        zsock_set_sndhwm (dealer, 4);
        if (peer_cert) {
            zcert_apply (peer_cert, dealer);
            zsock_set_curve_serverkey (dealer, zcert_public_txt (peer_cert));
        }
        if (zsock_connect (dealer, "%s", initial.members [i].peer_endpoint) < 0) {
            zsock_destroy (&dealer);
            continue;
        }
        dealers [count++] = dealer;
        zpoller_add (poller, dealer);
    }
    zkv_cluster_member_t me = {
        .name = zkv_bin (config->name, strlen (config->name)),
        .peer_endpoint = zkv_bin (endpoint, strlen (endpoint))
    };
    zkv_peer_frame_t question = { .join = &me };
    size_t question_size;
    uint8_t *question_bytes = zkv_msg_encode (&zkv_peer_frame_desc, &question, &question_size);
    zsys_info ("joining an existing cluster: asking %zu member(s) for it", count);
    snprintf (error, size, "cannot join: none of the members of --initial-cluster answered in "
              "%d s (was this member added first, with `zkvctl member add` and this peer "
              "endpoint, %s?)", JOIN_MSECS / 1000, endpoint);
    rc = -1;
    bool answered = false;
    int64_t deadline = zclock_mono () + JOIN_MSECS;
    while (!answered && count && question_bytes && zclock_mono () < deadline
    &&     !zsys_interrupted) {
        for (size_t i = 0; i < count; i++)
            zmq_send (zsock_resolve (dealers [i]), question_bytes, question_size, ZMQ_DONTWAIT);
        int64_t round = zclock_mono () + ASK_MSECS;
        while (!answered && zclock_mono () < round) {
            zsock_t *which = (zsock_t *) zpoller_wait (poller, (int) (round - zclock_mono ()));
            if (!which)
                break;
            zframe_t *frame = zframe_recv (which);
            zkv_limits_t limits = zkv_limits_trusted ();
            zkv_result_t status;
            zkv_msg_t *answer = frame? zkv_msg_decode (zframe_data (frame), zframe_size (frame),
                                                       ZKV_KIND_PEER, &limits, &status): NULL;
            zframe_destroy (&frame);
            if (answer && answer->desc == &zkv_peer_frame_desc
            &&  s_answer_valid ((zkv_peer_frame_t *) answer->body)) {
                zkv_peer_frame_t *told = (zkv_peer_frame_t *) answer->body;
                zsys_info ("joining cluster %016llx as member %016llx",
                           (unsigned long long) told->cluster_id, (unsigned long long) told->to);
                answered = true;
                rc = s_keep (engine, told, error, size);
            }
            zkv_msg_destroy (&answer);
        }
    }
    free (question_bytes);
    for (size_t i = 0; i < count; i++)
        zsock_destroy (&dealers [i]);
    zpoller_destroy (&poller);
    return rc? -1: 0;
}
