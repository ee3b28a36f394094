/*  zkv_kvpb.c — etcd's mvccpb.KeyValue protobuf encoding (see zkv_kvpb.h). */
#include "zkv_kvpb.h"

#include <string.h>

size_t
zkv_varint_size (uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t
zkv_varint_encode (uint64_t v, uint8_t *buf)
{
    size_t n = 0;
    while (v >= 0x80) {
        buf [n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    buf [n++] = (uint8_t) v;
    return n;
}

int
zkv_varint_decode (const uint8_t *data, size_t size, size_t *pos, uint64_t *v)
{
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= size)
            return -1;
        uint8_t b = data [(*pos)++];
        result |= (uint64_t) (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = result;
            return 0;
        }
    }
    return -1;
}

//  Field tags: (number << 3) | wire type (0 varint, 2 length-delimited)
#define TAG_KEY      0x0a
#define TAG_CREATE   0x10
#define TAG_MOD      0x18
#define TAG_VERSION  0x20
#define TAG_VALUE    0x2a
#define TAG_LEASE    0x30

size_t
zkv_kvpb_size (const zkv_key_value_t *kv)
{
    size_t size = 0;
    if (kv->key.size)
        size += 1 + zkv_varint_size (kv->key.size) + kv->key.size;
    if (kv->create_revision)
        size += 1 + zkv_varint_size ((uint64_t) kv->create_revision);
    if (kv->mod_revision)
        size += 1 + zkv_varint_size ((uint64_t) kv->mod_revision);
    if (kv->version)
        size += 1 + zkv_varint_size ((uint64_t) kv->version);
    if (kv->value.size)
        size += 1 + zkv_varint_size (kv->value.size) + kv->value.size;
    if (kv->lease)
        size += 1 + zkv_varint_size ((uint64_t) kv->lease);
    return size;
}

static size_t
s_put_bytes (uint8_t *buf, uint8_t tag, zkv_bin_t bytes)
{
    size_t n = 0;
    buf [n++] = tag;
    n += zkv_varint_encode (bytes.size, buf + n);
    memcpy (buf + n, bytes.data, bytes.size);
    return n + bytes.size;
}

static size_t
s_put_varint (uint8_t *buf, uint8_t tag, int64_t value)
{
    buf [0] = tag;
    return 1 + zkv_varint_encode ((uint64_t) value, buf + 1);
}

size_t
zkv_kvpb_encode (const zkv_key_value_t *kv, uint8_t *buf)
{
    size_t n = 0;
    if (kv->key.size)
        n += s_put_bytes (buf + n, TAG_KEY, kv->key);
    if (kv->create_revision)
        n += s_put_varint (buf + n, TAG_CREATE, kv->create_revision);
    if (kv->mod_revision)
        n += s_put_varint (buf + n, TAG_MOD, kv->mod_revision);
    if (kv->version)
        n += s_put_varint (buf + n, TAG_VERSION, kv->version);
    if (kv->value.size)
        n += s_put_bytes (buf + n, TAG_VALUE, kv->value);
    if (kv->lease)
        n += s_put_varint (buf + n, TAG_LEASE, kv->lease);
    return n;
}

int
zkv_kvpb_decode (const uint8_t *data, size_t size, zkv_key_value_t *kv)
{
    memset (kv, 0, sizeof *kv);
    size_t pos = 0;
    while (pos < size) {
        uint8_t tag = data [pos++];
        uint64_t v;
        if (zkv_varint_decode (data, size, &pos, &v))
            return -1;
        switch (tag) {
            case TAG_KEY:
            case TAG_VALUE:
                if (v > size - pos)
                    return -1;
                if (tag == TAG_KEY)
                    kv->key = zkv_bin (data + pos, v);
                else
                    kv->value = zkv_bin (data + pos, v);
                pos += v;
                break;
            case TAG_CREATE:  kv->create_revision = (int64_t) v; break;
            case TAG_MOD:     kv->mod_revision = (int64_t) v; break;
            case TAG_VERSION: kv->version = (int64_t) v; break;
            case TAG_LEASE:   kv->lease = (int64_t) v; break;
            default:
                return -1;
        }
    }
    return 0;
}
