/*  zkv_corrupt.c — the verdict of a corruption check (see zkv_corrupt.h). */
#include "zkv_corrupt.h"

zkv_verdict_t
zkv_corrupt_verdict (const zkv_hash_vote_t *votes, size_t count, size_t member_count,
                     int64_t compact_revision, uint64_t *corrupt, size_t *corrupt_count)
{
    *corrupt_count = 0;
    size_t compared = 0, largest = 0;
    uint32_t majority_hash = 0;
    for (size_t i = 0; i < count; i++) {
        if (votes [i].compact_revision != compact_revision)
            continue;
        compared++;
        size_t same = 0;
        for (size_t j = 0; j < count; j++)
            if (votes [j].compact_revision == compact_revision && votes [j].hash == votes [i].hash)
                same++;
        if (same > largest) {
            largest = same;
            majority_hash = votes [i].hash;
        }
    }
    //  Differ: some compared hash is not the largest group's
    bool differ = false;
    for (size_t i = 0; i < count && !differ; i++)
        if (votes [i].compact_revision == compact_revision && votes [i].hash != majority_hash)
            differ = true;
    if (!differ)
        return compared == member_count? ZKV_HASHES_EQUAL: ZKV_HASHES_INCOMPLETE;
    if (largest >= member_count / 2 + 1) {
        for (size_t i = 0; i < count; i++)
            if (votes [i].compact_revision == compact_revision
            &&  votes [i].hash != majority_hash)
                corrupt [(*corrupt_count)++] = votes [i].member;
    }
    else
        corrupt [(*corrupt_count)++] = 0;
    return ZKV_HASHES_DIFFER;
}
