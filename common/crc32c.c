/*
 * crc32c: slicing-by-8 in C, and the SSE4.2 crc32 instruction in three
 * interleaved streams.
 *
 * Why three streams: crc32q has a latency of 3 cycles and a throughput of
 * one per cycle, so a single dependency chain runs at a third of the
 * instruction's speed. Three independent chains over three adjacent blocks
 * keep it busy; the three partial CRCs are then joined using linearity:
 *     crc(A || B) = shift_|B|(crc(A)) ^ crc0(B)
 * where crc0 starts from a zero register and shift_n is the linear map
 * "feed n zero bytes", tabulated per byte of the register (4 x 256 words).
 * The tables for the two block sizes used are built once by repeated
 * squaring of the one-bit operator, as a 32x32 matrix over GF(2).
 *
 * All registers here are "raw" (no inversion); the public functions invert
 * on entry and exit.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define CRC32C_X86 1
#include <nmmintrin.h>
#define HW_TARGET __attribute__((target("sse4.2")))
#endif

#define POLY 0x82f63b78u /* Castagnoli, bit-reflected */

/* Block sizes of the three-stream loop: LONG for bulk data, SHORT for the
 * tail and for buffers of a few KiB (a 1 KiB batch still gets 3 streams). */
#define LONG_BLK  8192
#define SHORT_BLK 256

typedef uint32_t crc_fn(uint32_t crc, const uint8_t *p, size_t len);

/* Written once under tab_once, read-only afterwards. */
static struct {
    uint32_t sw[8][256];       /* sw[k][b]: byte b then k zero bytes */
    uint32_t long_op[4][256];  /* shift by LONG_BLK zero bytes */
    uint32_t short_op[4][256]; /* shift by SHORT_BLK zero bytes */
    int hw;                    /* the CPU has SSE4.2 */
    crc_fn *impl;              /* what qr_crc32c calls */
} tab;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

/* ---- GF(2) operators: m[i] is the image of bit i ---- */

static uint32_t op_apply(const uint32_t m[32], uint32_t v)
{
    uint32_t r = 0;
    for (int i = 0; v; i++, v >>= 1)
        if (v & 1)
            r ^= m[i];
    return r;
}

/* out = a after b (powers of one operator commute, so order is free) */
static void op_mul(uint32_t out[32], const uint32_t a[32], const uint32_t b[32])
{
    uint32_t r[32];
    for (int i = 0; i < 32; i++)
        r[i] = op_apply(a, b[i]);
    memcpy(out, r, sizeof(r));
}

/* The operator "feed @p n zero bytes" into a raw register. */
static void op_zeros(uint32_t out[32], size_t n)
{
    uint32_t base[32];

    base[0] = POLY; /* one zero bit: x -> x >> 1 ^ (x & 1 ? POLY : 0) */
    for (int i = 1; i < 32; i++)
        base[i] = 1u << (i - 1);
    for (int i = 0; i < 3; i++) /* 2^3 bits: one byte */
        op_mul(base, base, base);
    for (int i = 0; i < 32; i++) /* identity */
        out[i] = 1u << i;
    for (; n; n >>= 1) {
        if (n & 1)
            op_mul(out, out, base);
        op_mul(base, base, base);
    }
}

static void shift_table(uint32_t t[4][256], size_t n)
{
    uint32_t m[32];
    op_zeros(m, n);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++)
            t[k][b] = op_apply(m, b << (8 * k));
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t crc)
{
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^
           t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

/* ---- portable: slicing-by-8 ---- */

static void sw_tables(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = c >> 1 ^ (POLY & (0u - (c & 1)));
        tab.sw[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t c = tab.sw[k - 1][b];
            tab.sw[k][b] = c >> 8 ^ tab.sw[0][c & 0xff];
        }
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t sw_raw(uint32_t c, const uint8_t *p, size_t len)
{
    const uint32_t(*t)[256] = tab.sw;

    for (; len >= 8; p += 8, len -= 8) {
        uint32_t lo = le32(p) ^ c, hi = le32(p + 4);
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
            t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
            t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    }
    for (; len; p++, len--)
        c = c >> 8 ^ t[0][(c ^ *p) & 0xff];
    return c;
}

static uint32_t sw_crc(uint32_t crc, const uint8_t *p, size_t len)
{
    return ~sw_raw(~crc, p, len);
}

/* ---- SSE4.2: three interleaved crc32q streams ---- */

#ifdef CRC32C_X86
static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v)); /* unaligned-safe; one mov */
    return v;
}

/* Runs three streams over the 3 * @p blk bytes at @p p and joins them. */
HW_TARGET static uint32_t hw_3way(uint32_t crc, const uint8_t *p, size_t blk,
                                  const uint32_t op[4][256])
{
    uint64_t c0 = crc, c1 = 0, c2 = 0;
    const uint8_t *end = p + blk;

    for (; p < end; p += 8) {
        c0 = _mm_crc32_u64(c0, ld64(p));
        c1 = _mm_crc32_u64(c1, ld64(p + blk));
        c2 = _mm_crc32_u64(c2, ld64(p + 2 * blk));
    }
    crc = shift(op, (uint32_t)c0) ^ (uint32_t)c1;
    return shift(op, crc) ^ (uint32_t)c2;
}

HW_TARGET static uint32_t hw_raw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c;

    for (; len && ((uintptr_t)p & 7); p++, len--) /* align the loads */
        crc = _mm_crc32_u8(crc, *p);
    for (; len >= 3 * LONG_BLK; p += 3 * LONG_BLK, len -= 3 * LONG_BLK)
        crc = hw_3way(crc, p, LONG_BLK, tab.long_op);
    for (; len >= 3 * SHORT_BLK; p += 3 * SHORT_BLK, len -= 3 * SHORT_BLK)
        crc = hw_3way(crc, p, SHORT_BLK, tab.short_op);
    for (c = crc; len >= 8; p += 8, len -= 8)
        c = _mm_crc32_u64(c, ld64(p));
    for (crc = (uint32_t)c; len; p++, len--)
        crc = _mm_crc32_u8(crc, *p);
    return crc;
}

static uint32_t hw_crc(uint32_t crc, const uint8_t *p, size_t len)
{
    return ~hw_raw(~crc, p, len);
}

static int cpu_has_sse42(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
}
#else
static uint32_t hw_crc(uint32_t crc, const uint8_t *p, size_t len)
{
    return sw_crc(crc, p, len);
}

static int cpu_has_sse42(void)
{
    return 0;
}
#endif

/* ---- dispatch ---- */

static void tab_init(void)
{
    sw_tables();
    tab.hw = cpu_has_sse42();
    if (tab.hw) {
        shift_table(tab.long_op, LONG_BLK);
        shift_table(tab.short_op, SHORT_BLK);
    }
    tab.impl = tab.hw ? hw_crc : sw_crc;
}

uint32_t qr_crc32c(uint32_t crc, const void *p, size_t len)
{
    pthread_once(&tab_once, tab_init);
    return tab.impl(crc, p, len);
}

uint32_t qr_crc32c_sw(uint32_t crc, const void *p, size_t len)
{
    pthread_once(&tab_once, tab_init);
    return sw_crc(crc, p, len);
}

uint32_t qr_crc32c_hw(uint32_t crc, const void *p, size_t len)
{
    pthread_once(&tab_once, tab_init);
    return tab.hw ? hw_crc(crc, p, len) : sw_crc(crc, p, len);
}

int qr_crc32c_hw_available(void)
{
    pthread_once(&tab_once, tab_init);
    return tab.hw;
}
