/*  zkv_identity.c — member and cluster ids (see zkv_identity.h). */
#include "zkv_identity.h"
#include "zkv_keys.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
s_hash (crypto_hash_sha256_state *state)
{
    uint8_t digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final (state, digest);
    uint64_t id = zkv_be64_get (digest);
    return id? id: 1;                   //  0 means "none" in raft
}

uint64_t
zkv_identity_member_id (const char *token, const char *name)
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, (const uint8_t *) "zkv-member", 11);
    crypto_hash_sha256_update (&state, (const uint8_t *) token, strlen (token) + 1);
    crypto_hash_sha256_update (&state, (const uint8_t *) name, strlen (name) + 1);
    return s_hash (&state);
}

static int
s_compare_ids (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y? 1: 0;
}

uint64_t
zkv_identity_added_member_id (uint64_t cluster_id, const char *peer_endpoint,
                              uint64_t unix_usecs)
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, (const uint8_t *) "zkv-added-member", 17);
    uint8_t numbers [16];
    for (int i = 0; i < 8; i++) {
        numbers [i] = (uint8_t) (cluster_id >> (56 - 8 * i));
        numbers [8 + i] = (uint8_t) (unix_usecs >> (56 - 8 * i));
    }
    crypto_hash_sha256_update (&state, numbers, sizeof numbers);
    crypto_hash_sha256_update (&state, (const uint8_t *) peer_endpoint, strlen (peer_endpoint) + 1);
    return s_hash (&state);
}

uint64_t
zkv_identity_cluster_id (const char *token, const uint64_t *members, size_t count)
{
    uint64_t *sorted = (uint64_t *) malloc ((count? count: 1) * sizeof (uint64_t));
    if (!sorted)
        return 1;
    memcpy (sorted, members, count * sizeof (uint64_t));
    qsort (sorted, count, sizeof (uint64_t), s_compare_ids);
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init (&state);
    crypto_hash_sha256_update (&state, (const uint8_t *) "zkv-cluster", 12);
    crypto_hash_sha256_update (&state, (const uint8_t *) token, strlen (token) + 1);
    for (size_t i = 0; i < count; i++) {
        uint8_t bytes [8];
        zkv_be64_put (bytes, sorted [i]);
        crypto_hash_sha256_update (&state, bytes, 8);
    }
    free (sorted);
    return s_hash (&state);
}

int
zkv_identity_load (zkv_engine_t *engine, uint64_t new_member_id, uint64_t new_cluster_id,
                   uint64_t *member_id, uint64_t *cluster_id, char **error)
{
    int member = zkv_engine_get_u64 (engine, ZKV_CF_RAFT_LOG, "member_id", member_id, error);
    if (member < 0)
        return -1;
    int cluster = zkv_engine_get_u64 (engine, ZKV_CF_RAFT_LOG, "cluster_id", cluster_id, error);
    if (cluster < 0)
        return -1;
    if (member && cluster)
        return 0;
    *member_id = new_member_id;
    *cluster_id = new_cluster_id;
    if (zkv_engine_put_u64 (engine, ZKV_CF_RAFT_LOG, "member_id", *member_id, error)
    ||  zkv_engine_put_u64 (engine, ZKV_CF_RAFT_LOG, "cluster_id", *cluster_id, error))
        return -1;
    return 0;
}
