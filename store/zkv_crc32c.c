/*  zkv_crc32c.c — CRC-32C with SSE4.2 and a table fallback (zkv_crc32c.h).

    The function keeps Go's convention: the value passed in and returned is
    the finished CRC (already xored), so a stream is hashed by chaining
    calls, starting from 0.
*/
#include "zkv_crc32c.h"

#include <pthread.h>
#include <string.h>
#if defined (__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

#define POLY 0x82F63B78u

static uint32_t s_table [8][256];
static bool s_hardware;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_init (void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1)? (c >> 1) ^ POLY: c >> 1;
        s_table [0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            s_table [t][i] = (s_table [t - 1][i] >> 8) ^ s_table [0][s_table [t - 1][i] & 0xff];
#if defined (__x86_64__)
    unsigned int eax, ebx, ecx, edx;
    if (__get_cpuid (1, &eax, &ebx, &ecx, &edx))
        s_hardware = (ecx & bit_SSE4_2) != 0;
#endif
}

static uint32_t
s_portable (uint32_t crc, const uint8_t *p, size_t size)
{
    while (size >= 8) {
        uint64_t word;
        memcpy (&word, p, 8);           //  little-endian host assumed (x86, arm64)
        word ^= crc;
        crc = s_table [7][word & 0xff] ^ s_table [6][(word >> 8) & 0xff]
            ^ s_table [5][(word >> 16) & 0xff] ^ s_table [4][(word >> 24) & 0xff]
            ^ s_table [3][(word >> 32) & 0xff] ^ s_table [2][(word >> 40) & 0xff]
            ^ s_table [1][(word >> 48) & 0xff] ^ s_table [0][word >> 56];
        p += 8;
        size -= 8;
    }
    while (size--)
        crc = s_table [0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined (__x86_64__)
__attribute__ ((target ("sse4.2")))
static uint32_t
s_hardware_crc (uint32_t crc, const uint8_t *p, size_t size)
{
    uint64_t c = crc;
    while (size >= 8) {
        uint64_t word;
        memcpy (&word, p, 8);
        c = _mm_crc32_u64 (c, word);
        p += 8;
        size -= 8;
    }
    uint32_t c32 = (uint32_t) c;
    while (size--)
        c32 = _mm_crc32_u8 (c32, *p++);
    return c32;
}
#endif

uint32_t
zkv_crc32c_portable (uint32_t crc, const void *data, size_t size)
{
    pthread_once (&s_once, s_init);
    return ~s_portable (~crc, (const uint8_t *) data, size);
}

uint32_t
zkv_crc32c (uint32_t crc, const void *data, size_t size)
{
    pthread_once (&s_once, s_init);
#if defined (__x86_64__)
    if (s_hardware)
        return ~s_hardware_crc (~crc, (const uint8_t *) data, size);
#endif
    return ~s_portable (~crc, (const uint8_t *) data, size);
}

//  Combining. A CRC (before its final xor) is the remainder of the message
//  times x^32 modulo P; appending n bytes to a message multiplies its
//  remainder by x^(8n) mod P, and CRC is linear, so
//      crc (A B) = crc (A) * x^(8 |B|)  xor  crc (B)
//  (the initial and final xors of both cancel out: they are the CRC of the
//  zero bytes, which follows the same rule). Polynomials are held
//  reflected, as the CRC is: bit 31 is x^0, bit 0 is x^31.

//  a * b mod P
static uint32_t
s_multiply (uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (uint32_t bit = 1u << 31; bit; bit >>= 1) {
        if (a & bit)
            product ^= b;
        b = (b & 1)? (b >> 1) ^ POLY: b >> 1;   //  b *= x
    }
    return product;
}

//  x^(8 * size) mod P, by squaring: x^(2^k) for each bit k of 8 * size
static uint32_t
s_shift (uint64_t size)
{
    uint32_t power = 1u << 31;          //  x^0
    uint32_t square = 1u << 30;         //  x^(2^0) = x
    //  x^8 = ((x^2)^2)^2: start at x^(2^3), size counts bytes
    for (int k = 0; k < 3; k++)
        square = s_multiply (square, square);
    for (; size; size >>= 1) {
        if (size & 1)
            power = s_multiply (power, square);
        square = s_multiply (square, square);
    }
    return power;
}

uint32_t
zkv_crc32c_combine (uint32_t crc_a, uint32_t crc_b, uint64_t size_b)
{
    return s_multiply (crc_a, s_shift (size_b)) ^ crc_b;
}

bool
zkv_crc32c_hardware (void)
{
    pthread_once (&s_once, s_init);
    return s_hardware;
}
