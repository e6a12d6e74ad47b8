/*
 * varint: the base-128 varints of Kafka's record format and protobuf.
 *
 * Little-endian groups of 7 bits, high bit set on every byte but the last.
 * Signed values are zig-zag mapped first ((n << 1) ^ (n >> 31)), so that
 * small magnitudes of either sign stay short: 0 -> 00, -1 -> 01, 1 -> 02,
 * 300 -> d8 04. A "varint" holds 32 bits in at most 5 bytes, a "varlong" 64
 * bits in at most 10 (Kafka's ByteUtils.readVarint/readVarlong).
 *
 * Decoding refuses every malformed form:
 *   - input that ends while the high bit says more follows:
 *     QUIRE_ERR_TRUNCATED;
 *   - a continuation bit on the 5th (varint) or 10th (varlong) byte, i.e.
 *     a form longer than the maximum: QUIRE_ERR_BAD_VARINT;
 *   - bits in the last possible byte beyond the type's width (5th byte
 *     above 0x0f, 10th byte above 0x01), which would silently overflow:
 *     QUIRE_ERR_BAD_VARINT.
 * Non-minimal forms inside the maximum length (0x80 0x00 for 0) decode, as
 * they do in Kafka and protobuf: they are valid, only wasteful.
 *
 * The codecs are static inline because they run several times per record
 * in the batch builder and reader. Nothing here allocates or keeps state.
 * Every function: @locality any, @locks none.
 */
#ifndef QR_VARINT_H
#define QR_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

/** Longest varint (32-bit) and varlong (64-bit) encodings, in bytes. */
#define QR_VARINT_MAX32 5
#define QR_VARINT_MAX64 10

/* ---- zig-zag ---- */

/** @brief Zig-zag maps a signed 32-bit value. @locality any @locks none */
static inline uint32_t qr_zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t) - (int32_t)((uint32_t)v >> 31);
}

/** @brief Inverse of qr_zigzag32. @locality any @locks none */
static inline int32_t qr_unzigzag32(uint32_t u)
{
    return (int32_t)((u >> 1) ^ (uint32_t) - (int32_t)(u & 1));
}

/** @brief Zig-zag maps a signed 64-bit value. @locality any @locks none */
static inline uint64_t qr_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t) - (int64_t)((uint64_t)v >> 63);
}

/** @brief Inverse of qr_zigzag64. @locality any @locks none */
static inline int64_t qr_unzigzag64(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (uint64_t) - (int64_t)(u & 1));
}

/* ---- sizes ---- */

/** @brief Bytes qr_varint_enc_u64 writes for @p v (1..10): ceil(bits / 7)
 * of its significant bits, without a loop ((bits * 9 + 64) / 64 equals it
 * for every bits in 1..64). @locality any @locks none */
static inline size_t qr_varint_size_u64(uint64_t v)
{
#if defined(__GNUC__)
    unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);

    return (bits * 9u + 64u) / 64u;
#else
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
#endif
}

/** @brief Bytes for an unsigned varint (1..5). @locality any @locks none */
static inline size_t qr_varint_size_u32(uint32_t v)
{
    return qr_varint_size_u64(v);
}

/** @brief Bytes for a zig-zag varint (1..5). @locality any @locks none */
static inline size_t qr_varint_size_i32(int32_t v)
{
    return qr_varint_size_u64(qr_zigzag32(v));
}

/** @brief Bytes for a zig-zag varlong (1..10). @locality any @locks none */
static inline size_t qr_varint_size_i64(int64_t v)
{
    return qr_varint_size_u64(qr_zigzag64(v));
}

/* ---- encoding ---- */

/**
 * @brief Writes @p v as an unsigned varint/varlong at @p out (borrowed; it
 * must have room for QR_VARINT_MAX64 bytes, or qr_varint_size_u64(v)).
 * @returns the number of bytes written (1..10).
 * @locality any  @locks none
 */
static inline size_t qr_varint_enc_u64(uint8_t *out, uint64_t v)
{
    size_t n = 0;

    /* one and two bytes (lengths and deltas of small records) without
     * the loop */
    if (v < 0x80) {
        out[0] = (uint8_t)v;
        return 1;
    }
    if (v < 0x4000) {
        out[0] = (uint8_t)(v | 0x80);
        out[1] = (uint8_t)(v >> 7);
        return 2;
    }
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

/** @brief Unsigned varint; @p out needs QR_VARINT_MAX32 bytes.
 * @returns bytes written (1..5). @locality any @locks none */
static inline size_t qr_varint_enc_u32(uint8_t *out, uint32_t v)
{
    return qr_varint_enc_u64(out, v);
}

/** @brief Zig-zag varint (Kafka "varint"); @p out needs QR_VARINT_MAX32
 * bytes. @returns bytes written (1..5). @locality any @locks none */
static inline size_t qr_varint_enc_i32(uint8_t *out, int32_t v)
{
    return qr_varint_enc_u64(out, qr_zigzag32(v));
}

/** @brief Zig-zag varlong (Kafka "varlong"); @p out needs QR_VARINT_MAX64
 * bytes. @returns bytes written (1..10). @locality any @locks none */
static inline size_t qr_varint_enc_i64(uint8_t *out, int64_t v)
{
    return qr_varint_enc_u64(out, qr_zigzag64(v));
}

/* ---- decoding ---- */

/**
 * @brief Decodes an unsigned varint of at most @p maxlen bytes whose last
 * byte may not exceed @p lastmax. The shared core of the decoders below;
 * call those instead.
 * @returns bytes consumed (> 0), or QUIRE_ERR_TRUNCATED /
 *          QUIRE_ERR_BAD_VARINT (< 0) with *@p v untouched.
 * @locality any  @locks none
 */
static inline int qr_varint_dec_core(const uint8_t *p, size_t len, uint64_t *v,
                                     size_t maxlen, uint8_t lastmax)
{
    uint64_t r = 0;

    /* one and two bytes (record lengths, deltas, small fields) without
     * the loop; maxlen is at least 5, so its last-byte rule cannot apply */
    if (len >= 1 && p[0] < 0x80) {
        *v = p[0];
        return 1;
    }
    if (len >= 2 && p[1] < 0x80) {
        *v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        return 2;
    }
    for (size_t i = 0; i < maxlen; i++) {
        uint8_t b;
        if (i == len)
            return QUIRE_ERR_TRUNCATED;
        b = p[i];
        if (i == maxlen - 1 && b > lastmax)
            return QUIRE_ERR_BAD_VARINT; /* too long, or overflows */
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return (int)i + 1;
        }
    }
    return QUIRE_ERR_BAD_VARINT; /* not reached: lastmax < 0x80 */
}

/**
 * @brief Decodes an unsigned varint (32 bits, at most 5 bytes) from the
 * @p len bytes at @p p (borrowed) into *@p v.
 * @returns bytes consumed (1..5), or a negative quire_err_t:
 *          QUIRE_ERR_TRUNCATED, QUIRE_ERR_BAD_VARINT. *v is untouched on
 *          error.
 * @locality any  @locks none
 */
static inline int qr_varint_dec_u32(const uint8_t *p, size_t len, uint32_t *v)
{
    uint64_t r;
    int n = qr_varint_dec_core(p, len, &r, QR_VARINT_MAX32, 0x0f);
    if (n > 0)
        *v = (uint32_t)r;
    return n;
}

/** @brief Decodes a zig-zag varint (Kafka "varint").
 * @returns as qr_varint_dec_u32. @locality any @locks none */
static inline int qr_varint_dec_i32(const uint8_t *p, size_t len, int32_t *v)
{
    uint32_t u;
    int n = qr_varint_dec_u32(p, len, &u);
    if (n > 0)
        *v = qr_unzigzag32(u);
    return n;
}

/** @brief Decodes an unsigned varlong (64 bits, at most 10 bytes).
 * @returns bytes consumed (1..10) or a negative quire_err_t as
 * qr_varint_dec_u32. @locality any @locks none */
static inline int qr_varint_dec_u64(const uint8_t *p, size_t len, uint64_t *v)
{
    return qr_varint_dec_core(p, len, v, QR_VARINT_MAX64, 0x01);
}

/** @brief Decodes a zig-zag varlong (Kafka "varlong").
 * @returns as qr_varint_dec_u64. @locality any @locks none */
static inline int qr_varint_dec_i64(const uint8_t *p, size_t len, int64_t *v)
{
    uint64_t u;
    int n = qr_varint_dec_u64(p, len, &u);
    if (n > 0)
        *v = qr_unzigzag64(u);
    return n;
}

/* ---- on the buffer types of buf.h ---- */

/**
 * @brief Reads a zig-zag varint at @p rd's position and moves past it.
 * @returns QUIRE_ERR_NONE, QUIRE_ERR_TRUNCATED or QUIRE_ERR_BAD_VARINT
 *          (cursor and *@p v unchanged on error).
 * @locality any  @locks none
 */
quire_err_t qr_varint_get_i32(qr_rd_t *rd, int32_t *v);

/** @brief Reads a zig-zag varlong; as qr_varint_get_i32.
 * @locality any @locks none */
quire_err_t qr_varint_get_i64(qr_rd_t *rd, int64_t *v);

/** @brief Reads an unsigned varint; as qr_varint_get_i32.
 * @locality any @locks none */
quire_err_t qr_varint_get_u32(qr_rd_t *rd, uint32_t *v);

/** @brief Reads an unsigned varlong; as qr_varint_get_i32.
 * @locality any @locks none */
quire_err_t qr_varint_get_u64(qr_rd_t *rd, uint64_t *v);

/**
 * @brief Appends @p v as a zig-zag varint to @p buf.
 * @returns as qr_buf_append (QUIRE_ERR_BUF_FULL, QUIRE_ERR_NO_MEMORY);
 *          nothing is appended on error.
 * @locality any  @locks none
 */
quire_err_t qr_varint_append_i32(qr_buf_t *buf, int32_t v);

/** @brief Appends a zig-zag varlong; as qr_varint_append_i32.
 * @locality any @locks none */
quire_err_t qr_varint_append_i64(qr_buf_t *buf, int64_t v);

/** @brief Appends an unsigned varint; as qr_varint_append_i32.
 * @locality any @locks none */
quire_err_t qr_varint_append_u32(qr_buf_t *buf, uint32_t v);

/** @brief Appends an unsigned varlong; as qr_varint_append_i32.
 * @locality any @locks none */
quire_err_t qr_varint_append_u64(qr_buf_t *buf, uint64_t v);

#endif /* QR_VARINT_H */
