/*  test_kvpb.c — etcd's KeyValue protobuf bytes (etcd 3.4's mvcc/mvccpb/kv.proto). */
#include <criterion/criterion.h>
#include <string.h>

#include "zkv_kvpb.h"

static void
s_assert_bytes (const zkv_key_value_t *kv, const uint8_t *expected, size_t size)
{
    uint8_t buf [128];
    cr_assert_eq (zkv_kvpb_size (kv), size);
    cr_assert_eq (zkv_kvpb_encode (kv, buf), size);
    cr_assert_arr_eq (buf, expected, size);

    zkv_key_value_t back;
    cr_assert_eq (zkv_kvpb_decode (buf, size, &back), 0);
    cr_assert_eq (back.key.size, kv->key.size);
    cr_assert_arr_eq (back.key.data, kv->key.data, kv->key.size);
    cr_assert_eq (back.value.size, kv->value.size);
    if (kv->value.size)
        cr_assert_arr_eq (back.value.data, kv->value.data, kv->value.size);
    cr_assert_eq (back.create_revision, kv->create_revision);
    cr_assert_eq (back.mod_revision, kv->mod_revision);
    cr_assert_eq (back.version, kv->version);
    cr_assert_eq (back.lease, kv->lease);
}

Test (kvpb, put_foo_bar_at_rev_2)
{
    zkv_key_value_t kv = {
        .key = zkv_bin ("foo", 3), .create_revision = 2, .mod_revision = 2,
        .version = 1, .value = zkv_bin ("bar", 3)
    };
    const uint8_t expected [] = {
        0x0A, 0x03, 0x66, 0x6F, 0x6F, 0x10, 0x02, 0x18, 0x02, 0x20, 0x01,
        0x2A, 0x03, 0x62, 0x61, 0x72
    };
    s_assert_bytes (&kv, expected, sizeof expected);
}

Test (kvpb, tombstone_holds_only_the_key)
{
    zkv_key_value_t kv = { .key = zkv_bin ("foo", 3) };
    const uint8_t expected [] = { 0x0A, 0x03, 0x66, 0x6F, 0x6F };
    s_assert_bytes (&kv, expected, sizeof expected);
}

Test (kvpb, put_with_lease)
{
    zkv_key_value_t kv = {
        .key = zkv_bin ("foo", 3), .create_revision = 5, .mod_revision = 5,
        .version = 1, .value = zkv_bin ("qux", 3), .lease = 0x5010a217ea5f2609
    };
    const uint8_t expected [] = {
        0x0A, 0x03, 0x66, 0x6F, 0x6F, 0x10, 0x05, 0x18, 0x05, 0x20, 0x01,
        0x2A, 0x03, 0x71, 0x75, 0x78, 0x30, 0x89, 0xCC, 0xFC, 0xD2, 0xFE, 0xC2, 0xA8, 0x88, 0x50
    };
    s_assert_bytes (&kv, expected, sizeof expected);
}

Test (kvpb, negative_lease_takes_ten_bytes)
{
    zkv_key_value_t kv = { .key = zkv_bin ("k", 1), .lease = -1 };
    uint8_t buf [32];
    size_t size = zkv_kvpb_encode (&kv, buf);
    cr_assert_eq (size, 3 + 1 + 10);    //  proto3 int64 -1: ten-byte varint
    zkv_key_value_t back;
    cr_assert_eq (zkv_kvpb_decode (buf, size, &back), 0);
    cr_assert_eq (back.lease, -1);
}

Test (kvpb, rejects_garbage)
{
    zkv_key_value_t kv;
    const uint8_t truncated [] = { 0x0A, 0x05, 0x66 };
    cr_assert_eq (zkv_kvpb_decode (truncated, sizeof truncated, &kv), -1);
    const uint8_t unknown [] = { 0x38, 0x01 };
    cr_assert_eq (zkv_kvpb_decode (unknown, sizeof unknown, &kv), -1);
    const uint8_t endless [] = { 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                 0x80, 0x80 };
    cr_assert_eq (zkv_kvpb_decode (endless, sizeof endless, &kv), -1);
}
