/*  test_crc32c.c — CRC-32C against Go's crc32.Castagnoli values. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "zkv_crc32c.h"

Test (crc32c, check_value)
{
    cr_assert_eq (zkv_crc32c (0, "123456789", 9), 0xE3069283u);
    cr_assert_eq (zkv_crc32c_portable (0, "123456789", 9), 0xE3069283u);
}

Test (crc32c, empty_store_hashkv)
{
    //  etcd's HashKV of an empty store is crc32c ("key")
    cr_assert_eq (zkv_crc32c (0, "key", 3), 1084519789u);
    cr_assert_eq (zkv_crc32c (0, "", 0), 0u);
}

Test (crc32c, streaming_equals_one_shot)
{
    const char *text = "The quick brown fox jumps over the lazy dog";
    size_t size = strlen (text);
    uint32_t whole = zkv_crc32c (0, text, size);
    for (size_t cut = 0; cut <= size; cut++) {
        uint32_t crc = zkv_crc32c (0, text, cut);
        crc = zkv_crc32c (crc, text + cut, size - cut);
        cr_assert_eq (crc, whole, "split at %zu", cut);
    }
    cr_assert_eq (whole, 0x22620404u);
}

Test (crc32c, hardware_equals_table)
{
    unsigned char buf [4099];
    srand (7);
    for (size_t i = 0; i < sizeof buf; i++)
        buf [i] = (unsigned char) rand ();
    for (size_t offset = 0; offset < 9; offset++)
        for (size_t size = 0; size + offset <= sizeof buf; size += 97)
            cr_assert_eq (zkv_crc32c (0, buf + offset, size),
                          zkv_crc32c_portable (0, buf + offset, size),
                          "offset %zu size %zu", offset, size);
    cr_log_info ("crc32c uses %s", zkv_crc32c_hardware ()? "SSE4.2": "the table");
}
