/*  zkv_kvpb.h — etcd's mvccpb.KeyValue in its protobuf encoding.

    This is the value stored under every revision key of the `key` column
    family, byte for byte what etcd stores in its `key` bucket, so that
    HashKV over our data equals etcd's: fields 1..6 in order, proto3
    varints, zero fields omitted (etcd 3.4's mvcc/mvccpb/kv.proto).
*/
#ifndef ZKV_KVPB_H_INCLUDED
#define ZKV_KVPB_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "zkv_msgs.h"

//  Bytes that zkv_kvpb_encode will write for kv
size_t
    zkv_kvpb_size (const zkv_key_value_t *kv);

//  Encodes kv into buf, which holds at least zkv_kvpb_size (kv) bytes.
//  Returns the number of bytes written.
size_t
    zkv_kvpb_encode (const zkv_key_value_t *kv, uint8_t *buf);

//  Decodes a KeyValue; kv's key and value point into data. Returns 0, or -1
//  if the bytes are not a KeyValue.
int
    zkv_kvpb_decode (const uint8_t *data, size_t size, zkv_key_value_t *kv);

//  Protobuf base-128 varint of v (int64 values go as their uint64 bits)
size_t
    zkv_varint_encode (uint64_t v, uint8_t *buf);

size_t
    zkv_varint_size (uint64_t v);

//  Reads a varint at data [*pos]; returns 0, or -1 if truncated or too long
int
    zkv_varint_decode (const uint8_t *data, size_t size, size_t *pos, uint64_t *v);

#endif
