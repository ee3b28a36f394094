/*  zkv_crc32c.h — CRC-32C (Castagnoli), as Go's crc32.Castagnoli computes it.

    Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF;
    crc32c("123456789") = 0xE3069283. Uses the SSE4.2 crc32 instruction
    when the CPU has it, a slicing-by-8 table otherwise. Hash and HashKV are
    streams of writes, so the API is incremental.
*/
#ifndef ZKV_CRC32C_H_INCLUDED
#define ZKV_CRC32C_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Continues crc (0 to start) over data: crc = zkv_crc32c (crc, a, n) ...
uint32_t
    zkv_crc32c (uint32_t crc, const void *data, size_t size);

//  The same with the portable table code, whatever the CPU (for tests)
uint32_t
    zkv_crc32c_portable (uint32_t crc, const void *data, size_t size);

//  The CRC of the concatenation A B, from crc_a = zkv_crc32c (0, A),
//  crc_b = zkv_crc32c (0, B) and B's length: parts of one stream hashed
//  apart (on several threads) combine into the stream's CRC. Costs about
//  log2 (size_b) multiplications of polynomials, whatever the bytes.
uint32_t
    zkv_crc32c_combine (uint32_t crc_a, uint32_t crc_b, uint64_t size_b);

//  True when zkv_crc32c uses the SSE4.2 instruction on this CPU
bool
    zkv_crc32c_hardware (void);

#endif
