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

Test (crc32c, combine_equals_one_pass)
{
    unsigned char buf [5000];
    srand (11);
    for (size_t i = 0; i < sizeof buf; i++)
        buf [i] = (unsigned char) rand ();
    uint32_t whole = zkv_crc32c (0, buf, sizeof buf);
    //  every cut near the ends and the middle, and some in between
    for (size_t cut = 0; cut <= sizeof buf; cut += cut < 70 || cut > sizeof buf - 70? 1: 37) {
        uint32_t a = zkv_crc32c (0, buf, cut);
        uint32_t b = zkv_crc32c (0, buf + cut, sizeof buf - cut);
        cr_assert_eq (zkv_crc32c_combine (a, b, sizeof buf - cut), whole, "cut at %zu", cut);
    }
    //  an empty part changes nothing, on either side
    cr_assert_eq (zkv_crc32c_combine (whole, 0, 0), whole);
    cr_assert_eq (zkv_crc32c_combine (0, whole, sizeof buf), whole);
    //  many parts, folded left to right, as a parallel walk does
    uint32_t folded = 0;
    for (size_t at = 0; at < sizeof buf; at += 333) {
        size_t size = sizeof buf - at < 333? sizeof buf - at: 333;
        folded = zkv_crc32c_combine (folded, zkv_crc32c (0, buf + at, size), size);
    }
    cr_assert_eq (folded, whole);
    //  the check value, from its halves
    cr_assert_eq (zkv_crc32c_combine (zkv_crc32c (0, "1234", 4), zkv_crc32c (0, "56789", 5), 5),
                  0xE3069283u);
}
