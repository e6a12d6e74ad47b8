/*
 * codec: the compression codecs of a RecordBatch (DESIGN.md §3).
 *
 * The ids are Kafka's, the low 3 bits of a batch's attributes. A producer
 * compresses the records section of a batch as one block; a consumer
 * decompresses it; the broker never does either. Every call works on caller
 * buffers: nothing returned here needs freeing, except the one _alloc
 * variant, which says so.
 *
 *   id  name     format
 *    0  none     the bytes as they are
 *    1  gzip     RFC 1952 (zlib, gzip framing); concatenated members are read
 *    2  snappy   reserved: every call answers UNSUPPORTED_COMPRESSION_TYPE
 *    3  lz4      LZ4 frames (lz4frame.h), 64 KiB independent blocks, as
 *                Kafka's KafkaLZ4BlockOutputStream writes them
 *    4  zstd     Zstandard frames; frames without a content size are read
 *  5-7           unknown: UNSUPPORTED_COMPRESSION_TYPE
 *
 * Decompression is bounded by the caller's buffer: output that would not
 * fit is refused (QUIRE_ERR_COMPRESSION, "exceeds the limit"), so a small
 * hostile block cannot make the process allocate or write without bound.
 * Malformed or truncated compressed data is QUIRE_ERR_CORRUPT_MESSAGE.
 *
 * This module holds no state between calls; each call may allocate the
 * library's own working state (zlib/lz4/zstd contexts) and frees it before
 * returning. It never aborts: allocation failures become
 * QUIRE_ERR_NO_MEMORY, so client/ may use it.
 */
#ifndef QR_CODEC_H
#define QR_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/** Codec ids, as in a batch's attributes & 7 (Kafka's numbers). */
typedef enum qr_codec {
    QR_CODEC_NONE = 0,
    QR_CODEC_GZIP = 1,
    QR_CODEC_SNAPPY = 2, /* reserved */
    QR_CODEC_LZ4 = 3,
    QR_CODEC_ZSTD = 4,
    QR_CODEC_COUNT /* number of named codecs; 5..7 are unknown */
} qr_codec_t;

/**
 * @brief The config name of @p codec ("none", "gzip", "snappy", "lz4",
 * "zstd").
 * @returns a static string, or NULL for an id that has no name (< 0, > 4).
 * @locality any  @locks none
 */
const char *qr_codec_name(int codec);

/**
 * @brief Parses a codec name as written in a config file (exact, lower
 * case: "none", "gzip", "snappy", "lz4", "zstd").
 * @param codec  set on success.
 * @returns QUIRE_ERR_NONE; QUIRE_ERR_NOT_FOUND for any other string
 *          (including NULL). "snappy" parses (the id is reserved), so a
 *          config layer that accepts it must then check
 *          qr_codec_supported().
 * @locality any  @locks none
 */
quire_err_t qr_codec_from_name(const char *name, qr_codec_t *codec);

/**
 * @brief Whether this build can compress and decompress @p codec: true for
 * none, gzip, lz4 and zstd; false for snappy and any unknown id.
 * @locality any  @locks none
 */
int qr_codec_supported(int codec);

/**
 * @brief Upper bound of the compressed size of @p src_len bytes: a @p dst
 * of this capacity never gets QUIRE_ERR_BUF_FULL from qr_codec_compress().
 * @returns the bound (for codec none: @p src_len itself), or 0 when
 *          @p codec is not supported or the bound would overflow size_t.
 * @locality any  @locks none
 */
size_t qr_codec_bound(int codec, size_t src_len);

/**
 * @brief Compresses @p src as one block (one gzip member, one LZ4 frame,
 * one zstd frame with its content size) into @p dst; codec none copies.
 * @param src      borrowed; may be NULL when @p src_len is 0.
 * @param dst      borrowed, written; does not overlap @p src.
 * @param dst_len  set to the bytes written, on success only.
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE for snappy or an unknown
 *            id;
 *          QUIRE_ERR_BUF_FULL when the result does not fit @p dst_cap
 *            (size it with qr_codec_bound());
 *          QUIRE_ERR_NO_MEMORY if the library could not get its state;
 *          QUIRE_ERR_COMPRESSION for any other library failure.
 * @locality any  @locks none
 */
quire_err_t qr_codec_compress(int codec, const void *src, size_t src_len,
                              void *dst, size_t dst_cap, size_t *dst_len);

/**
 * @brief Decompresses the block @p src (all of it: trailing bytes that do
 * not form a further complete gzip member / LZ4 frame / zstd frame are an
 * error) into @p dst, which is also the limit on the decompressed size.
 * @param src      borrowed.
 * @param dst      borrowed, written; may be NULL when @p dst_cap is 0.
 * @param dst_cap  the maximum decompressed size the caller accepts.
 * @param dst_len  set to the decompressed size, on success only.
 * @param why      if non-NULL, set to a static one-line reason on failure.
 * @returns QUIRE_ERR_NONE;
 *          QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE for snappy or an unknown
 *            id;
 *          QUIRE_ERR_COMPRESSION when the output exceeds @p dst_cap
 *            (a decompression bomb or a too small limit);
 *          QUIRE_ERR_CORRUPT_MESSAGE for malformed, truncated or trailing
 *            data, or a failed checksum inside the format;
 *          QUIRE_ERR_NO_MEMORY if the library could not get its state.
 * @locality any  @locks none
 */
quire_err_t qr_codec_decompress(int codec, const void *src, size_t src_len,
                                void *dst, size_t dst_cap, size_t *dst_len,
                                const char **why);

/**
 * @brief Like qr_codec_decompress(), into a buffer it allocates with
 * malloc() and grows (doubling, starting from the size the frame declares
 * when it declares one) up to @p max_len.
 * @param out      set on success to memory the caller owns and frees with
 *                 free(); untouched on failure (nothing to free).
 * @param out_len  set on success to the decompressed size.
 * @param why      if non-NULL, set to a static one-line reason on failure.
 * @returns as qr_codec_decompress(), with @p max_len as the limit.
 * @locality any  @locks none
 */
quire_err_t qr_codec_decompress_alloc(int codec, const void *src,
                                      size_t src_len, size_t max_len,
                                      uint8_t **out, size_t *out_len,
                                      const char **why);

#endif /* QR_CODEC_H */
