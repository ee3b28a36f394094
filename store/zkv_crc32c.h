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

//  True when zkv_crc32c uses the SSE4.2 instruction on this CPU
bool
    zkv_crc32c_hardware (void);

#endif
