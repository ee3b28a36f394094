/*  =========================================================================
    zkv_corrupt.h — the verdict of a corruption check: the HashKV (R) of
    the members, compared the way etcd 3.6's compaction-hash check does
    (checkPeerHashes), for the periodic and initial checks too.

    Only the members whose hash has the reference's compact revision are
    compared (a member that compacted differently hashed a different
    history). If they all agree: equal, or incomplete when some member did
    not answer or was skipped. If they differ, the members outside a group
    of at least (members / 2) + 1 equal hashes are corrupt; without such a
    majority nobody can be blamed and the verdict names member 0, as etcd.
    =========================================================================
*/
#ifndef ZKV_CORRUPT_H_INCLUDED
#define ZKV_CORRUPT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t member;
    uint32_t hash;
    int64_t compact_revision;
} zkv_hash_vote_t;

typedef enum {
    ZKV_HASHES_EQUAL,                   //  every member agrees
    ZKV_HASHES_INCOMPLETE,              //  those compared agree; not all were
    ZKV_HASHES_DIFFER                   //  corrupt lists whom to blame
} zkv_verdict_t;

//  votes: the answers (count of them) of a cluster of member_count
//  members; compact_revision: the reference's. corrupt receives the
//  members to blame (room for count, at least 1).
zkv_verdict_t
    zkv_corrupt_verdict (const zkv_hash_vote_t *votes, size_t count, size_t member_count,
                         int64_t compact_revision, uint64_t *corrupt, size_t *corrupt_count);

#endif
