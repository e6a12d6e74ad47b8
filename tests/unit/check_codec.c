/* check_codec: gzip, lz4, zstd round trips, bounds, limits, bad input. */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "codec.h"

/* The codecs that work, for loop tests. */
static const int codecs[] = {QR_CODEC_NONE, QR_CODEC_GZIP, QR_CODEC_LZ4,
                             QR_CODEC_ZSTD};
#define N_CODECS ((int)(sizeof(codecs) / sizeof(codecs[0])))
/* The ones that compress (none has no framing to break). */
static const int real_codecs[] = {QR_CODEC_GZIP, QR_CODEC_LZ4, QR_CODEC_ZSTD};
#define N_REAL ((int)(sizeof(real_codecs) / sizeof(real_codecs[0])))

/* Deterministic, half compressible: text-like runs mixed with noise. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i / 64) % 2 ? (uint8_t)(x >> 24) : (uint8_t)('a' + i % 7);
    }
}

/* Compresses @p n bytes with @p codec into a fresh exact-size buffer. */
static uint8_t *compress_exact(int codec, const uint8_t *src, size_t n,
                               size_t *clen)
{
    size_t bound = qr_codec_bound(codec, n);
    ck_assert(bound > 0 || (codec == QR_CODEC_NONE && n == 0));
    uint8_t *tmp = malloc(bound ? bound : 1);
    ck_assert_ptr_nonnull(tmp);
    ck_assert_int_eq(qr_codec_compress(codec, src, n, tmp, bound, clen),
                     QUIRE_ERR_NONE);
    ck_assert_uint_le(*clen, bound);
    uint8_t *out = malloc(*clen ? *clen : 1);
    memcpy(out, tmp, *clen);
    free(tmp);
    return out;
}

START_TEST(test_names)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4",
                                        "zstd"};
    qr_codec_t c;
    for (int i = 0; i < QR_CODEC_COUNT; i++) {
        ck_assert_str_eq(qr_codec_name(i), names[i]);
        ck_assert_int_eq(qr_codec_from_name(names[i], &c), QUIRE_ERR_NONE);
        ck_assert_int_eq(c, i);
    }
    ck_assert_ptr_null(qr_codec_name(-1));
    ck_assert_ptr_null(qr_codec_name(5));
    ck_assert_ptr_null(qr_codec_name(7));
    static const char *const bad[] = {
        "", "GZIP", "gzip ", "lz4f", "zstd\n", "uncompressed", "producer"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(qr_codec_from_name(bad[i], &c), QUIRE_ERR_NOT_FOUND);
    ck_assert_int_eq(qr_codec_from_name(NULL, &c), QUIRE_ERR_NOT_FOUND);
    ck_assert(qr_codec_supported(QR_CODEC_NONE));
    ck_assert(qr_codec_supported(QR_CODEC_GZIP));
    ck_assert(qr_codec_supported(QR_CODEC_LZ4));
    ck_assert(qr_codec_supported(QR_CODEC_ZSTD));
    ck_assert(!qr_codec_supported(QR_CODEC_SNAPPY));
    ck_assert(!qr_codec_supported(5));
    ck_assert(!qr_codec_supported(-1));

    uint8_t dst[8];
    size_t n;
    const char *why = NULL;
    ck_assert_int_eq(
        qr_codec_decompress(QR_CODEC_GZIP, NULL, 5, dst, sizeof(dst), &n, &why),
        QUIRE_ERR_BAD_ARG);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(
        qr_codec_decompress(QR_CODEC_LZ4, dst, 0, dst, sizeof(dst), &n, NULL),
        QUIRE_ERR_CORRUPT_MESSAGE); /* empty is no frame */
    ck_assert_int_eq(
        qr_codec_decompress(QR_CODEC_NONE, NULL, 0, NULL, 0, &n, NULL),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* snappy (2) and 5..7 are refused by every entry point. */
START_TEST(test_unsupported)
{
    int codec = _i == 0 ? QR_CODEC_SNAPPY : 4 + _i;
    uint8_t src[16] = {0}, dst[64], *out = NULL;
    size_t n = 99;
    const char *why = NULL;

    ck_assert_uint_eq(qr_codec_bound(codec, 16), 0);
    ck_assert_int_eq(qr_codec_compress(codec, src, 16, dst, 64, &n),
                     QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    ck_assert_int_eq(qr_codec_decompress(codec, src, 16, dst, 64, &n, &why),
                     QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(
        qr_codec_decompress_alloc(codec, src, 16, 1024, &out, &n, NULL),
        QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(n, 99);
}
END_TEST

/* Round trip of several sizes, each codec; compressed into exactly the
 * bound, decompressed into exactly the original size. */
START_TEST(test_round_trip)
{
    static const size_t sizes[] = {0,     1,     2,     100,    4096,
                                   65535, 65536, 65537, 300000, 1 << 20};
    int codec = codecs[_i];

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s], clen, dlen;
        uint8_t *src = malloc(n ? n : 1), *back = malloc(n ? n : 1);
        fill(src, n, (uint32_t)s);
        uint8_t *c = compress_exact(codec, src, n, &clen);
        ck_assert_int_eq(
            qr_codec_decompress(codec, c, clen, back, n, &dlen, NULL),
            QUIRE_ERR_NONE);
        ck_assert_uint_eq(dlen, n);
        ck_assert(n == 0 || memcmp(src, back, n) == 0);
        free(c);
        free(src);
        free(back);
    }
}
END_TEST

/* Formats: gzip magic; LZ4 frame magic with Kafka's FLG/BD (version 01,
 * independent blocks, 64 KiB); zstd magic with a content size. */
START_TEST(test_formats)
{
    uint8_t src[1000];
    size_t clen;
    fill(src, sizeof(src), 7);

    uint8_t *g = compress_exact(QR_CODEC_GZIP, src, sizeof(src), &clen);
    ck_assert_uint_eq(g[0], 0x1f);
    ck_assert_uint_eq(g[1], 0x8b);
    free(g);

    uint8_t *l = compress_exact(QR_CODEC_LZ4, src, sizeof(src), &clen);
    ck_assert_uint_eq(l[0], 0x04);
    ck_assert_uint_eq(l[1], 0x22);
    ck_assert_uint_eq(l[2], 0x4d);
    ck_assert_uint_eq(l[3], 0x18);
    ck_assert_uint_eq(l[4], 0x60); /* version 01, block independence */
    ck_assert_uint_eq(l[5], 0x40); /* 64 KiB blocks */
    free(l);

    uint8_t *z = compress_exact(QR_CODEC_ZSTD, src, sizeof(src), &clen);
    ck_assert_uint_eq(ZSTD_getFrameContentSize(z, clen), sizeof(src));
    free(z);
}
END_TEST

START_TEST(test_buf_full)
{
    int codec = codecs[_i];
    static uint8_t src[5000];
    size_t clen, n;
    fill(src, sizeof(src), 3);
    uint8_t *c = compress_exact(codec, src, sizeof(src), &clen);
    uint8_t *dst = malloc(clen);
    /* Any capacity below the compressed size fails cleanly. */
    for (size_t cap = 0; cap < clen; cap += 1 + cap / 8)
        ck_assert_int_eq(
            qr_codec_compress(codec, src, sizeof(src), dst, cap, &n),
            QUIRE_ERR_BUF_FULL);
    free(dst);
    free(c);
}
END_TEST

/* A decompression bomb (8 MiB of zeros) against a 1 MiB limit: refused,
 * and the limit is honoured exactly (limit - 1 fails, limit works). */
START_TEST(test_bomb)
{
    int codec = codecs[_i];
    size_t n = 8 << 20, clen, dlen;
    uint8_t *src = calloc(1, n);
    uint8_t *c = compress_exact(codec, src, n, &clen);
    uint8_t *dst = malloc(n);
    const char *why = NULL;

    ck_assert_int_eq(
        qr_codec_decompress(codec, c, clen, dst, 1 << 20, &dlen, &why),
        QUIRE_ERR_COMPRESSION);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(
        qr_codec_decompress(codec, c, clen, dst, n - 1, &dlen, NULL),
        QUIRE_ERR_COMPRESSION);
    ck_assert_int_eq(qr_codec_decompress(codec, c, clen, NULL, 0, &dlen, NULL),
                     QUIRE_ERR_COMPRESSION);
    ck_assert_int_eq(qr_codec_decompress(codec, c, clen, dst, n, &dlen, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(dlen, n);

    uint8_t *out = NULL;
    ck_assert_int_eq(
        qr_codec_decompress_alloc(codec, c, clen, n - 1, &out, &dlen, NULL),
        QUIRE_ERR_COMPRESSION);
    ck_assert_ptr_null(out);
    free(dst);
    free(c);
    free(src);
}
END_TEST

/* _alloc grows from a small guess to the real size. */
START_TEST(test_alloc)
{
    int codec = codecs[_i];
    size_t n = 3 << 20, clen, dlen;
    uint8_t *src = malloc(n), *out = NULL;
    fill(src, n, 11);
    uint8_t *c = compress_exact(codec, src, n, &clen);
    ck_assert_int_eq(
        qr_codec_decompress_alloc(codec, c, clen, n, &out, &dlen, NULL),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(dlen, n);
    ck_assert(memcmp(out, src, n) == 0);
    free(out);
    free(c);
    free(src);
}
END_TEST

/* Every truncation of a compressed block is an error, never success. */
START_TEST(test_truncated)
{
    int codec = real_codecs[_i];
    uint8_t src[3000], back[3000];
    size_t clen, dlen;
    fill(src, sizeof(src), 5);
    uint8_t *c = compress_exact(codec, src, sizeof(src), &clen);
    for (size_t cut = 0; cut < clen; cut++) {
        uint8_t *t = malloc(cut ? cut : 1); /* exact: ASan sees overreads */
        memcpy(t, c, cut);
        const char *why = NULL;
        quire_err_t err =
            qr_codec_decompress(codec, t, cut, back, sizeof(back), &dlen, &why);
        ck_assert_msg(err == QUIRE_ERR_CORRUPT_MESSAGE, "codec %d cut %zu: %d",
                      codec, cut, err);
        ck_assert_ptr_nonnull(why);
        free(t);
    }
    free(c);
}
END_TEST

/* Bytes after the block that are not a further frame are refused. */
START_TEST(test_trailing)
{
    int codec = real_codecs[_i];
    uint8_t src[2000], back[4000];
    size_t clen, dlen;
    fill(src, sizeof(src), 9);
    uint8_t *c = compress_exact(codec, src, sizeof(src), &clen);
    uint8_t *t = malloc(clen + 5);
    memcpy(t, c, clen);
    memcpy(t + clen, "junk!", 5);
    ck_assert_int_eq(qr_codec_decompress(codec, t, clen + 5, back, sizeof(back),
                                         &dlen, NULL),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    free(t);
    free(c);
}
END_TEST

/* Two blocks back to back (gzip members, LZ4 frames, zstd frames) read as
 * their concatenation, as java.util.zip and the libraries' CLIs do. */
START_TEST(test_concatenated)
{
    int codec = real_codecs[_i];
    uint8_t a[1500], b[700], back[2200];
    size_t alen, blen, dlen;
    fill(a, sizeof(a), 1);
    fill(b, sizeof(b), 2);
    uint8_t *ca = compress_exact(codec, a, sizeof(a), &alen);
    uint8_t *cb = compress_exact(codec, b, sizeof(b), &blen);
    uint8_t *t = malloc(alen + blen);
    memcpy(t, ca, alen);
    memcpy(t + alen, cb, blen);
    ck_assert_int_eq(qr_codec_decompress(codec, t, alen + blen, back,
                                         sizeof(back), &dlen, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(dlen, sizeof(back));
    ck_assert(memcmp(back, a, sizeof(a)) == 0);
    ck_assert(memcmp(back + sizeof(a), b, sizeof(b)) == 0);
    free(t);
    free(ca);
    free(cb);
}
END_TEST

/* A flipped byte anywhere: an error or (formats without a data checksum)
 * some output, but never a crash or an out-of-bounds access. */
START_TEST(test_flipped)
{
    int codec = real_codecs[_i];
    uint8_t src[2500], back[2500];
    size_t clen, dlen;
    fill(src, sizeof(src), 13);
    uint8_t *c = compress_exact(codec, src, sizeof(src), &clen);
    uint8_t *t = malloc(clen);
    for (size_t i = 0; i < clen; i++) {
        memcpy(t, c, clen);
        t[i] ^= 0x5a;
        quire_err_t err = qr_codec_decompress(codec, t, clen, back,
                                              sizeof(back), &dlen, NULL);
        ck_assert_msg(err == QUIRE_ERR_NONE ||
                          err == QUIRE_ERR_CORRUPT_MESSAGE ||
                          err == QUIRE_ERR_COMPRESSION,
                      "codec %d byte %zu: %d", codec, i, err);
    }
    free(t);
    free(c);
}
END_TEST

/* Garbage that is no frame at all. */
START_TEST(test_garbage)
{
    int codec = real_codecs[_i];
    uint8_t junk[300], back[1000];
    size_t dlen;
    fill(junk, sizeof(junk), 17);
    for (size_t n = 1; n <= sizeof(junk); n += 37)
        ck_assert_int_eq(qr_codec_decompress(codec, junk, n, back, sizeof(back),
                                             &dlen, NULL),
                         QUIRE_ERR_CORRUPT_MESSAGE);
}
END_TEST

/* zstd frames without a content size, as streaming compressors write
 * them, decode (and stay bounded by the limit). */
START_TEST(test_zstd_no_content_size)
{
    size_t n = 200000, dlen;
    uint8_t *src = malloc(n), *back = malloc(n);
    size_t cap = ZSTD_compressBound(n);
    uint8_t *c = malloc(cap);
    fill(src, n, 21);

    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    ZSTD_outBuffer out = {c, cap, 0};
    ZSTD_inBuffer in = {src, n / 2, 0};
    ck_assert(
        !ZSTD_isError(ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue)));
    in = (ZSTD_inBuffer){src + n / 2, n - n / 2, 0};
    size_t left;
    do {
        left = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);
        ck_assert(!ZSTD_isError(left));
    } while (left != 0);
    ZSTD_freeCCtx(cctx);
    ck_assert_uint_eq(ZSTD_getFrameContentSize(c, out.pos),
                      ZSTD_CONTENTSIZE_UNKNOWN);

    ck_assert_int_eq(
        qr_codec_decompress(QR_CODEC_ZSTD, c, out.pos, back, n, &dlen, NULL),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(dlen, n);
    ck_assert(memcmp(src, back, n) == 0);
    ck_assert_int_eq(qr_codec_decompress(QR_CODEC_ZSTD, c, out.pos, back, n - 1,
                                         &dlen, NULL),
                     QUIRE_ERR_COMPRESSION);
    uint8_t *a = NULL;
    ck_assert_int_eq(qr_codec_decompress_alloc(QR_CODEC_ZSTD, c, out.pos, n, &a,
                                               &dlen, NULL),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(dlen, n);
    free(a);
    free(c);
    free(src);
    free(back);
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, test_names);
    tcase_add_loop_test(tc, test_unsupported, 0, 4);
    tcase_add_test(tc, test_formats);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_trip");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_round_trip, 0, N_CODECS);
    tcase_add_loop_test(tc, test_buf_full, 0, N_CODECS);
    tcase_add_loop_test(tc, test_bomb, 0, N_CODECS);
    tcase_add_loop_test(tc, test_alloc, 0, N_CODECS);
    tcase_add_loop_test(tc, test_concatenated, 0, N_REAL);
    tcase_add_test(tc, test_zstd_no_content_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("bad_input");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_truncated, 0, N_REAL);
    tcase_add_loop_test(tc, test_trailing, 0, N_REAL);
    tcase_add_loop_test(tc, test_flipped, 0, N_REAL);
    tcase_add_loop_test(tc, test_garbage, 0, N_REAL);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(codec_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
