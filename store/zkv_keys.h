/*  =========================================================================
    zkv_keys.h — the byte layout of keys in the `key` and `index` families.

    Revision key (`key` family), exactly etcd's (etcd 3.4's mvcc/revision.go):
        8-byte big-endian main, '_', 8-byte big-endian sub [, 't' if tombstone]
    so that RocksDB's byte order is revision order and HashKV hashes the
    same bytes etcd hashes.

    Index key (`index` family): the user key, escaped so that byte order of
    index keys is (user key, then revision) order, then the revision with
    both halves inverted so that the newest revision of a key comes first:
        escape (user key)  00 01  be64 (~main)  be64 (~sub)
    escape () writes 00 as 00 FF; the terminator 00 01 sorts below any
    continuation of the key. Seeking to (key, ~R) lands on the newest
    revision <= R of that key: one seek per key, whatever its history.
    The value is the key's state at that revision (see zkv_index_value_t).
    =========================================================================
*/
#ifndef ZKV_KEYS_H_INCLUDED
#define ZKV_KEYS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ZKV_REVKEY_SIZE      17
#define ZKV_REVKEY_TOMB_SIZE 18

typedef struct {
    int64_t main;
    int64_t sub;
} zkv_rev_t;

static inline void
zkv_be64_put (uint8_t *buf, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        buf [i] = (uint8_t) v;
        v >>= 8;
    }
}

static inline uint64_t
zkv_be64_get (const uint8_t *buf)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | buf [i];
    return v;
}

//  Writes the revision key of rev into buf (18 bytes room); returns its size
static inline size_t
zkv_revkey_encode (zkv_rev_t rev, bool tombstone, uint8_t *buf)
{
    zkv_be64_put (buf, (uint64_t) rev.main);
    buf [8] = '_';
    zkv_be64_put (buf + 9, (uint64_t) rev.sub);
    if (tombstone) {
        buf [17] = 't';
        return ZKV_REVKEY_TOMB_SIZE;
    }
    return ZKV_REVKEY_SIZE;
}

//  Reads a revision key; returns 0, or -1 if the bytes are not one
static inline int
zkv_revkey_decode (const uint8_t *buf, size_t size, zkv_rev_t *rev, bool *tombstone)
{
    if ((size != ZKV_REVKEY_SIZE && size != ZKV_REVKEY_TOMB_SIZE) || buf [8] != '_')
        return -1;
    if (size == ZKV_REVKEY_TOMB_SIZE && buf [17] != 't')
        return -1;
    rev->main = (int64_t) zkv_be64_get (buf);
    rev->sub = (int64_t) zkv_be64_get (buf + 9);
    *tombstone = size == ZKV_REVKEY_TOMB_SIZE;
    return 0;
}

//  Bytes escape () writes for key
static inline size_t
zkv_escaped_size (const uint8_t *key, size_t size)
{
    size_t n = size;
    for (size_t i = 0; i < size; i++)
        if (key [i] == 0)
            n++;
    return n;
}

static inline size_t
zkv_escape (const uint8_t *key, size_t size, uint8_t *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        buf [n++] = key [i];
        if (key [i] == 0)
            buf [n++] = 0xff;
    }
    return n;
}

//  Size of the index key of a user key of size bytes, at most
#define ZKV_INDEXKEY_MAX(size) (2 * (size) + 2 + 16)

//  Writes the index key (user key, rev) into buf; returns its size
static inline size_t
zkv_indexkey_encode (const uint8_t *key, size_t size, zkv_rev_t rev, uint8_t *buf)
{
    size_t n = zkv_escape (key, size, buf);
    buf [n++] = 0x00;
    buf [n++] = 0x01;
    zkv_be64_put (buf + n, ~(uint64_t) rev.main);
    zkv_be64_put (buf + n + 8, ~(uint64_t) rev.sub);
    return n + 16;
}

//  The seek target for "the newest revision of key with main <= main":
//  (key, ~main) followed by the smallest inverted sub, so that the largest
//  sub of that main comes first. Returns its size.
//  zkv_indexkey_seek_escaped works on a key already escaped into buf.
static inline size_t
zkv_indexkey_seek_escaped (uint8_t *buf, size_t escaped_size, int64_t main)
{
    buf [escaped_size] = 0x00;
    buf [escaped_size + 1] = 0x01;
    zkv_be64_put (buf + escaped_size + 2, ~(uint64_t) main);
    memset (buf + escaped_size + 10, 0, 8);
    return escaped_size + 18;
}

static inline size_t
zkv_indexkey_seek (const uint8_t *key, size_t size, int64_t main, uint8_t *buf)
{
    return zkv_indexkey_seek_escaped (buf, zkv_escape (key, size, buf), main);
}

//  The first index key past every revision of key: escape (key) 00 02
static inline size_t
zkv_indexkey_after (const uint8_t *key, size_t size, uint8_t *buf)
{
    size_t n = zkv_escape (key, size, buf);
    buf [n++] = 0x00;
    buf [n++] = 0x02;
    return n;
}

//  Splits an index key: *escaped_size is the length of the escaped user key
//  (the prefix shared by all revisions of that key). Returns 0 or -1.
static inline int
zkv_indexkey_decode (const uint8_t *buf, size_t size, size_t *escaped_size, zkv_rev_t *rev)
{
    if (size < 18 || buf [size - 18] != 0x00 || buf [size - 17] != 0x01)
        return -1;
    *escaped_size = size - 18;
    rev->main = (int64_t) ~zkv_be64_get (buf + size - 16);
    rev->sub = (int64_t) ~zkv_be64_get (buf + size - 8);
    return 0;
}

//  Unescapes the user key of an index key into buf (escaped_size bytes room)
static inline size_t
zkv_unescape (const uint8_t *escaped, size_t size, uint8_t *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        buf [n++] = escaped [i];
        if (escaped [i] == 0)
            i++;                        //  skip the FF that follows a 00
    }
    return n;
}

//  The value of an index entry: the key's state after that revision
typedef struct {
    bool tombstone;
    int64_t create_revision;            //  0 for a tombstone
    int64_t version;                    //  0 for a tombstone
} zkv_index_value_t;

#define ZKV_INDEX_VALUE_SIZE 17

static inline void
zkv_index_value_encode (const zkv_index_value_t *value, uint8_t *buf)
{
    buf [0] = value->tombstone? 1: 0;
    zkv_be64_put (buf + 1, (uint64_t) value->create_revision);
    zkv_be64_put (buf + 9, (uint64_t) value->version);
}

static inline int
zkv_index_value_decode (const uint8_t *buf, size_t size, zkv_index_value_t *value)
{
    if (size != ZKV_INDEX_VALUE_SIZE || buf [0] > 1)
        return -1;
    value->tombstone = buf [0] == 1;
    value->create_revision = (int64_t) zkv_be64_get (buf + 1);
    value->version = (int64_t) zkv_be64_get (buf + 9);
    return 0;
}

#endif
