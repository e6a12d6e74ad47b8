/*
 * codec: gzip (zlib), lz4 (LZ4 frames), zstd; snappy reserved.
 *
 * Every function is one block in, one block out, into caller memory. The
 * decompressors share one rule: the output buffer is the limit, so output
 * that would not fit is a refusal (QUIRE_ERR_COMPRESSION), never a grown
 * allocation.
 */
#include "config.h"

#include "codec.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

static const char *const codec_names[QR_CODEC_COUNT] = {
    [QR_CODEC_NONE] = "none",     [QR_CODEC_GZIP] = "gzip",
    [QR_CODEC_SNAPPY] = "snappy", [QR_CODEC_LZ4] = "lz4",
    [QR_CODEC_ZSTD] = "zstd",
};
_Static_assert(sizeof(codec_names) / sizeof(codec_names[0]) == QR_CODEC_COUNT,
               "one name per codec");

/* zlib counts in uInt; feed it at most this much per call. */
#define ZLIB_CHUNK ((size_t)1 << 30)
/* zstd's default level, and Kafka's. */
#define ZSTD_LEVEL 3

#define WHY(s)          \
    do {                \
        if (why)        \
            *why = (s); \
    } while (0)

const char *qr_codec_name(int codec)
{
    if (codec < 0 || codec >= QR_CODEC_COUNT)
        return NULL;
    return codec_names[codec];
}

quire_err_t qr_codec_from_name(const char *name, qr_codec_t *codec)
{
    if (!name)
        return QUIRE_ERR_NOT_FOUND;
    for (int i = 0; i < QR_CODEC_COUNT; i++) {
        if (strcmp(name, codec_names[i]) == 0) {
            *codec = (qr_codec_t)i;
            return QUIRE_ERR_NONE;
        }
    }
    return QUIRE_ERR_NOT_FOUND;
}

int qr_codec_supported(int codec)
{
    return codec == QR_CODEC_NONE || codec == QR_CODEC_GZIP ||
           codec == QR_CODEC_LZ4 || codec == QR_CODEC_ZSTD;
}

/* The LZ4 frame settings Kafka's Java client writes: 64 KiB blocks,
 * independent (its reader refuses dependent blocks), no content size, no
 * checksums beyond the header's. */
static void lz4_prefs(LZ4F_preferences_t *prefs)
{
    memset(prefs, 0, sizeof(*prefs));
    prefs->frameInfo.blockSizeID = LZ4F_max64KB;
    prefs->frameInfo.blockMode = LZ4F_blockIndependent;
    prefs->frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs->frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
}

size_t qr_codec_bound(int codec, size_t src_len)
{
    LZ4F_preferences_t prefs;
    size_t b;

    switch (codec) {
    case QR_CODEC_NONE:
        return src_len;
    case QR_CODEC_GZIP:
        /* deflate's worst case is stored blocks: 5 bytes per 16 KiB block
         * (compressBound() is tighter but zlib-wrapper based); plus the
         * gzip header (10) and trailer (8) and slack. */
        if (src_len > (SIZE_MAX - 64) / 2)
            return 0;
        b = src_len + (src_len >> 12) + (src_len >> 14) + (src_len >> 25) + 64;
        return b;
    case QR_CODEC_LZ4:
        lz4_prefs(&prefs);
        b = LZ4F_compressFrameBound(src_len, &prefs);
        return LZ4F_isError(b) ? 0 : b;
    case QR_CODEC_ZSTD:
        b = ZSTD_compressBound(src_len);
        return ZSTD_isError(b) ? 0 : b;
    default:
        return 0;
    }
}

/* ---- gzip ---- */

static quire_err_t gzip_compress(const uint8_t *src, size_t src_len,
                                 uint8_t *dst, size_t dst_cap, size_t *dst_len)
{
    z_stream zs;
    int zr;

    memset(&zs, 0, sizeof(zs));
    zr = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                      Z_DEFAULT_STRATEGY);
    if (zr == Z_MEM_ERROR)
        return QUIRE_ERR_NO_MEMORY;
    if (zr != Z_OK)
        return QUIRE_ERR_COMPRESSION;

    size_t in_left = src_len, out_left = dst_cap;
    zs.next_in = (Bytef *)src;
    zs.next_out = dst;
    do {
        size_t in_now = in_left < ZLIB_CHUNK ? in_left : ZLIB_CHUNK;
        size_t out_now = out_left < ZLIB_CHUNK ? out_left : ZLIB_CHUNK;
        zs.avail_in = (uInt)in_now;
        zs.avail_out = (uInt)out_now;
        int flush = in_now == in_left ? Z_FINISH : Z_NO_FLUSH;
        zr = deflate(&zs, flush);
        in_left -= in_now - zs.avail_in;
        out_left -= out_now - zs.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (out_left == 0) {
            deflateEnd(&zs);
            return QUIRE_ERR_BUF_FULL;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            deflateEnd(&zs);
            return zr == Z_MEM_ERROR ? QUIRE_ERR_NO_MEMORY
                                     : QUIRE_ERR_COMPRESSION;
        }
    } while (1);
    deflateEnd(&zs);
    *dst_len = dst_cap - out_left;
    return QUIRE_ERR_NONE;
}

/* Inflates gzip members back to back until @p src is used up. */
static quire_err_t gzip_decompress(const uint8_t *src, size_t src_len,
                                   uint8_t *dst, size_t dst_cap,
                                   size_t *dst_len, const char **why)
{
    z_stream zs;
    int zr;
    uint8_t dummy;

    if (src_len == 0) {
        WHY("gzip: empty input");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    memset(&zs, 0, sizeof(zs));
    zr = inflateInit2(&zs, 16 + MAX_WBITS); /* gzip framing only */
    if (zr == Z_MEM_ERROR)
        return QUIRE_ERR_NO_MEMORY;
    if (zr != Z_OK)
        return QUIRE_ERR_COMPRESSION;

    size_t in_left = src_len, out_left = dst_cap;
    quire_err_t err = QUIRE_ERR_NONE;
    zs.next_in = (Bytef *)src;
    zs.next_out = dst ? dst : &dummy;
    while (1) {
        size_t in_now = in_left < ZLIB_CHUNK ? in_left : ZLIB_CHUNK;
        size_t out_now = out_left < ZLIB_CHUNK ? out_left : ZLIB_CHUNK;
        zs.avail_in = (uInt)in_now;
        zs.avail_out = (uInt)out_now;
        zr = inflate(&zs, Z_NO_FLUSH);
        size_t used = in_now - zs.avail_in, made = out_now - zs.avail_out;
        in_left -= used;
        out_left -= made;
        if (zr == Z_STREAM_END) {
            if (in_left == 0)
                break;
            /* Another member follows (java.util.zip and Python read
             * these); anything else is trailing garbage, which inflate
             * reports as a bad header on the next round. */
            inflateReset(&zs);
            continue;
        }
        if (zr == Z_MEM_ERROR) {
            err = QUIRE_ERR_NO_MEMORY;
            break;
        }
        if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
            WHY(zs.msg ? "gzip: malformed data" : "gzip: stream error");
            err = QUIRE_ERR_CORRUPT_MESSAGE;
            break;
        }
        /* Z_OK or Z_BUF_ERROR: stop only when no progress is possible.
         * With the output full, one more byte of room tells a stream that
         * has more to write (over the limit) from one cut short. */
        if (used == 0 && made == 0) {
            zs.next_out = &dummy;
            zs.avail_out = 1;
            if (out_left == 0 && inflate(&zs, Z_NO_FLUSH) >= 0 &&
                zs.avail_out == 0) {
                WHY("gzip: decompressed size exceeds the limit");
                err = QUIRE_ERR_COMPRESSION;
            } else {
                WHY("gzip: truncated stream");
                err = QUIRE_ERR_CORRUPT_MESSAGE;
            }
            break;
        }
    }
    inflateEnd(&zs);
    if (err == QUIRE_ERR_NONE)
        *dst_len = dst_cap - out_left;
    return err;
}

/* ---- lz4 ---- */

/* Streams the input through in 64 KiB blocks, so that an output buffer
 * smaller than the worst case still works whenever the result fits:
 * LZ4F_compressUpdate() insists on room for the worst case of each call,
 * so a call that lacks it goes through a bounce buffer and is copied if
 * what it produced fits. */
static quire_err_t lz4_compress(const uint8_t *src, size_t src_len,
                                uint8_t *dst, size_t dst_cap, size_t *dst_len)
{
    const size_t block = 64 << 10;
    LZ4F_preferences_t prefs;
    LZ4F_cctx *cctx;
    uint8_t small[LZ4F_HEADER_SIZE_MAX + 32], *bounce = NULL;
    size_t pos = 0, r, bound;
    quire_err_t err = QUIRE_ERR_NONE;

    lz4_prefs(&prefs);
    prefs.autoFlush = 1; /* every update writes its blocks: End is tiny */
    bound = LZ4F_compressBound(block, &prefs);
    if (LZ4F_isError(LZ4F_createCompressionContext(&cctx, LZ4F_VERSION)))
        return QUIRE_ERR_NO_MEMORY;
    r = LZ4F_compressBegin(cctx, small, sizeof(small), &prefs);
    if (LZ4F_isError(r)) {
        err = QUIRE_ERR_COMPRESSION;
        goto out;
    }
    if (r > dst_cap) {
        err = QUIRE_ERR_BUF_FULL;
        goto out;
    }
    memcpy(dst, small, r);
    pos = r;
    for (size_t i = 0, n; i < src_len; i += n) {
        n = src_len - i < block ? src_len - i : block;
        if (dst_cap - pos >= bound) {
            r = LZ4F_compressUpdate(cctx, dst + pos, dst_cap - pos, src + i, n,
                                    NULL);
        } else {
            if (!bounce && !(bounce = malloc(bound))) {
                err = QUIRE_ERR_NO_MEMORY;
                goto out;
            }
            r = LZ4F_compressUpdate(cctx, bounce, bound, src + i, n, NULL);
            if (!LZ4F_isError(r) && r <= dst_cap - pos)
                memcpy(dst + pos, bounce, r);
        }
        if (LZ4F_isError(r)) {
            err = QUIRE_ERR_COMPRESSION;
            goto out;
        }
        if (r > dst_cap - pos) {
            err = QUIRE_ERR_BUF_FULL;
            goto out;
        }
        pos += r;
    }
    r = LZ4F_compressEnd(cctx, small, sizeof(small), NULL);
    if (LZ4F_isError(r)) {
        err = QUIRE_ERR_COMPRESSION;
        goto out;
    }
    if (r > dst_cap - pos) {
        err = QUIRE_ERR_BUF_FULL;
        goto out;
    }
    memcpy(dst + pos, small, r);
    pos += r;
out:
    free(bounce);
    LZ4F_freeCompressionContext(cctx);
    if (err == QUIRE_ERR_NONE)
        *dst_len = pos;
    return err;
}

static quire_err_t lz4_decompress(const uint8_t *src, size_t src_len,
                                  uint8_t *dst, size_t dst_cap, size_t *dst_len,
                                  const char **why)
{
    LZ4F_dctx *dctx;
    LZ4F_decompressOptions_t opts = {.stableDst = 1};
    size_t in_pos = 0, out_pos = 0, r = 1;
    uint8_t dummy;
    quire_err_t err = QUIRE_ERR_NONE;

    if (src_len == 0) {
        WHY("lz4: empty input");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return QUIRE_ERR_NO_MEMORY;
    while (in_pos < src_len || r != 0) {
        size_t in_now = src_len - in_pos, out_now = dst_cap - out_pos;
        r = LZ4F_decompress(dctx, dst ? dst + out_pos : &dummy, &out_now,
                            src + in_pos, &in_now, &opts);
        if (LZ4F_isError(r)) {
            WHY("lz4: malformed frame");
            err = QUIRE_ERR_CORRUPT_MESSAGE;
            break;
        }
        in_pos += in_now;
        out_pos += out_now;
        /* r == 0: a frame ended; the loop goes on if more bytes follow
         * (a further frame). Stop when nothing moves: the output is full
         * (over the limit) or the input ended inside a frame. */
        if (in_now == 0 && out_now == 0) {
            /* As for gzip: probe with one byte of room. */
            size_t probe_out = 1, probe_in = src_len - in_pos;
            if (out_pos == dst_cap &&
                !LZ4F_isError(LZ4F_decompress(dctx, &dummy, &probe_out,
                                              src + in_pos, &probe_in, NULL)) &&
                probe_out == 1) {
                WHY("lz4: decompressed size exceeds the limit");
                err = QUIRE_ERR_COMPRESSION;
            } else {
                WHY("lz4: truncated frame");
                err = QUIRE_ERR_CORRUPT_MESSAGE;
            }
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    if (err == QUIRE_ERR_NONE)
        *dst_len = out_pos;
    return err;
}

/* ---- zstd ---- */

static quire_err_t zstd_compress(const uint8_t *src, size_t src_len,
                                 uint8_t *dst, size_t dst_cap, size_t *dst_len)
{
    size_t r = ZSTD_compress(dst, dst_cap, src, src_len, ZSTD_LEVEL);
    if (ZSTD_isError(r)) {
        if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall)
            return QUIRE_ERR_BUF_FULL;
        if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
            return QUIRE_ERR_NO_MEMORY;
        return QUIRE_ERR_COMPRESSION;
    }
    *dst_len = r;
    return QUIRE_ERR_NONE;
}

/* One-shot decoding straight into the caller's buffer: it reads frames with
 * or without a content size (zstd decodes block by block up to the
 * capacity), needs no window buffer of its own, and a frame that would
 * write past the capacity stops with dstSize_tooSmall. */
static quire_err_t zstd_decompress(const uint8_t *src, size_t src_len,
                                   uint8_t *dst, size_t dst_cap,
                                   size_t *dst_len, const char **why)
{
    ZSTD_DCtx *dctx;
    uint8_t dummy;
    size_t r;

    if (src_len == 0) {
        WHY("zstd: empty input");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
    dctx = ZSTD_createDCtx();
    if (!dctx)
        return QUIRE_ERR_NO_MEMORY;
    r = ZSTD_decompressDCtx(dctx, dst ? dst : &dummy, dst_cap, src, src_len);
    ZSTD_freeDCtx(dctx);
    if (!ZSTD_isError(r)) {
        *dst_len = r;
        return QUIRE_ERR_NONE;
    }
    switch (ZSTD_getErrorCode(r)) {
    case ZSTD_error_dstSize_tooSmall:
        WHY("zstd: decompressed size exceeds the limit");
        return QUIRE_ERR_COMPRESSION;
    case ZSTD_error_memory_allocation:
        return QUIRE_ERR_NO_MEMORY;
    case ZSTD_error_srcSize_wrong:
        WHY("zstd: truncated frame or trailing bytes");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    case ZSTD_error_checksum_wrong:
        WHY("zstd: checksum mismatch");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    default:
        WHY("zstd: malformed frame");
        return QUIRE_ERR_CORRUPT_MESSAGE;
    }
}

/* ---- dispatch ---- */

quire_err_t qr_codec_compress(int codec, const void *src, size_t src_len,
                              void *dst, size_t dst_cap, size_t *dst_len)
{
    static const uint8_t empty;

    if (!src)
        src = &empty;
    switch (codec) {
    case QR_CODEC_NONE:
        if (src_len > dst_cap)
            return QUIRE_ERR_BUF_FULL;
        if (src_len)
            memcpy(dst, src, src_len);
        *dst_len = src_len;
        return QUIRE_ERR_NONE;
    case QR_CODEC_GZIP:
        return gzip_compress(src, src_len, dst, dst_cap, dst_len);
    case QR_CODEC_LZ4:
        return lz4_compress(src, src_len, dst, dst_cap, dst_len);
    case QR_CODEC_ZSTD:
        return zstd_compress(src, src_len, dst, dst_cap, dst_len);
    default:
        return QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
}

quire_err_t qr_codec_decompress(int codec, const void *src, size_t src_len,
                                void *dst, size_t dst_cap, size_t *dst_len,
                                const char **why)
{
    if (!src && src_len) {
        WHY("no input buffer");
        return QUIRE_ERR_BAD_ARG;
    }
    if (!dst)
        dst_cap = 0;
    switch (codec) {
    case QR_CODEC_NONE:
        if (src_len > dst_cap) {
            WHY("none: size exceeds the limit");
            return QUIRE_ERR_COMPRESSION;
        }
        if (src_len)
            memcpy(dst, src, src_len);
        *dst_len = src_len;
        return QUIRE_ERR_NONE;
    case QR_CODEC_GZIP:
        return gzip_decompress(src, src_len, dst, dst_cap, dst_len, why);
    case QR_CODEC_LZ4:
        return lz4_decompress(src, src_len, dst, dst_cap, dst_len, why);
    case QR_CODEC_ZSTD:
        return zstd_decompress(src, src_len, dst, dst_cap, dst_len, why);
    default:
        WHY(codec == QR_CODEC_SNAPPY ? "snappy is not supported"
                                     : "unknown compression codec");
        return QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
}

/* The decompressed size the block declares, when its format says it: zstd's
 * frame content size, LZ4's frame content size, gzip's ISIZE trailer (the
 * size mod 2^32 of the last member). A hint for the first allocation only:
 * the real bound is enforced by qr_codec_decompress(). 0 if unknown. */
static size_t declared_size(int codec, const uint8_t *src, size_t src_len)
{
    switch (codec) {
    case QR_CODEC_NONE:
        return src_len;
    case QR_CODEC_GZIP:
        if (src_len < 18)
            return 0;
        return (size_t)src[src_len - 4] | (size_t)src[src_len - 3] << 8 |
               (size_t)src[src_len - 2] << 16 | (size_t)src[src_len - 1] << 24;
    case QR_CODEC_ZSTD: {
        unsigned long long n = ZSTD_getFrameContentSize(src, src_len);
        if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR ||
            n > SIZE_MAX)
            return 0;
        return (size_t)n;
    }
    case QR_CODEC_LZ4: {
        LZ4F_dctx *dctx;
        LZ4F_frameInfo_t info;
        size_t in = src_len, r, n = 0;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
            return 0;
        r = LZ4F_getFrameInfo(dctx, &info, src, &in);
        if (!LZ4F_isError(r) && info.contentSize <= SIZE_MAX)
            n = (size_t)info.contentSize;
        LZ4F_freeDecompressionContext(dctx);
        return n;
    }
    default:
        return 0;
    }
}

quire_err_t qr_codec_decompress_alloc(int codec, const void *src,
                                      size_t src_len, size_t max_len,
                                      uint8_t **out, size_t *out_len,
                                      const char **why)
{
    size_t cap, n;
    uint8_t *buf;
    quire_err_t err;

    if (!qr_codec_supported(codec))
        return qr_codec_decompress(codec, src, src_len, NULL, 0, &n, why);
    cap = declared_size(codec, src, src_len);
    if (cap == 0)
        cap = src_len < SIZE_MAX / 4 ? src_len * 4 : SIZE_MAX;
    if (cap < 4096)
        cap = 4096;
    if (cap > max_len)
        cap = max_len;
    while (1) {
        buf = malloc(cap ? cap : 1);
        if (!buf)
            return QUIRE_ERR_NO_MEMORY;
        err = qr_codec_decompress(codec, src, src_len, buf, cap, &n, why);
        if (err != QUIRE_ERR_COMPRESSION || cap >= max_len)
            break;
        /* Too small but still under the limit: start over, larger. */
        free(buf);
        cap = cap <= max_len / 2 ? cap * 2 : max_len;
    }
    if (err != QUIRE_ERR_NONE) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = n;
    return QUIRE_ERR_NONE;
}
