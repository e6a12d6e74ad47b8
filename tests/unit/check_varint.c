/* check_varint: Kafka's zig-zag varint/varlong, every malformed form. */
#include "config.h"

#include <check.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "varint.h"

/* ---- vectors: Kafka's ByteUtils.writeVarint / writeVarlong ---- */

static const struct {
    int64_t v;
    uint8_t len;
    uint8_t b[QR_VARINT_MAX64];
} vec32[] =
    {
        {0, 1, {0x00}},
        {-1, 1, {0x01}},
        {1, 1, {0x02}},
        {-2, 1, {0x03}},
        {63, 1, {0x7e}},
        {-64, 1, {0x7f}},
        {64, 2, {0x80, 0x01}},
        {300, 2, {0xd8, 0x04}},
        {-300, 2, {0xd7, 0x04}},
        {INT32_MAX, 5, {0xfe, 0xff, 0xff, 0xff, 0x0f}},
        {INT32_MIN, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
},
  vec64[] = {
      {0, 1, {0x00}},
      {-1, 1, {0x01}},
      {1, 1, {0x02}},
      {300, 2, {0xd8, 0x04}},
      {INT32_MAX, 5, {0xfe, 0xff, 0xff, 0xff, 0x0f}},
      {(int64_t)INT32_MAX + 1, 5, {0x80, 0x80, 0x80, 0x80, 0x10}},
      {INT64_MAX,
       10,
       {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
      {INT64_MIN,
       10,
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
};

START_TEST(test_vec32)
{
    uint8_t out[QR_VARINT_MAX32 + 1];
    int32_t v = (int32_t)vec32[_i].v, got = 0x1234;
    size_t n;

    memset(out, 0xaa, sizeof(out));
    n = qr_varint_enc_i32(out, v);
    ck_assert_uint_eq(n, vec32[_i].len);
    ck_assert_mem_eq(out, vec32[_i].b, n);
    ck_assert_uint_eq(out[n], 0xaa); /* nothing past the end */
    ck_assert_uint_eq(qr_varint_size_i32(v), n);
    ck_assert_int_eq(qr_varint_dec_i32(vec32[_i].b, n, &got), (int)n);
    ck_assert_int_eq(got, v);
}
END_TEST

START_TEST(test_vec64)
{
    uint8_t out[QR_VARINT_MAX64 + 1];
    int64_t v = vec64[_i].v, got = 0x1234;
    size_t n;

    memset(out, 0xaa, sizeof(out));
    n = qr_varint_enc_i64(out, v);
    ck_assert_uint_eq(n, vec64[_i].len);
    ck_assert_mem_eq(out, vec64[_i].b, n);
    ck_assert_uint_eq(out[n], 0xaa);
    ck_assert_uint_eq(qr_varint_size_i64(v), n);
    ck_assert_int_eq(qr_varint_dec_i64(vec64[_i].b, n, &got), (int)n);
    ck_assert_int_eq(got, v);
}
END_TEST

/* ---- round trips at the boundaries ---- */

static const int64_t edges64[] = {
    0,
    1,
    -1,
    2,
    -2,
    63,
    -64,
    64,
    -65,
    127,
    128,
    8191,
    8192,
    -8193,
    INT16_MAX,
    INT16_MIN,
    INT32_MAX,
    INT32_MIN,
    (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1,
    INT64_MAX,
    INT64_MIN,
    INT64_MAX - 1,
    INT64_MIN + 1,
    (int64_t)1 << 62,
    -((int64_t)1 << 62),
};

START_TEST(test_roundtrip)
{
    uint8_t out[QR_VARINT_MAX64];
    int64_t v64 = edges64[_i], g64 = 0;
    uint64_t u64 = (uint64_t)v64, gu64 = 0;
    size_t n;

    n = qr_varint_enc_i64(out, v64);
    ck_assert_uint_eq(n, qr_varint_size_i64(v64));
    ck_assert_int_eq(qr_varint_dec_i64(out, n, &g64), (int)n);
    ck_assert_int_eq(g64, v64);
    /* the input ends one byte early: truncated, never an overread */
    ck_assert_int_eq(qr_varint_dec_i64(out, n - 1, &g64), QUIRE_ERR_TRUNCATED);

    n = qr_varint_enc_u64(out, u64);
    ck_assert_uint_eq(n, qr_varint_size_u64(u64));
    ck_assert_int_eq(qr_varint_dec_u64(out, n, &gu64), (int)n);
    ck_assert_uint_eq(gu64, u64);

    if (v64 >= INT32_MIN && v64 <= INT32_MAX) {
        int32_t v32 = (int32_t)v64, g32 = 0;
        uint32_t u32 = (uint32_t)v32, gu32 = 0;
        n = qr_varint_enc_i32(out, v32);
        ck_assert_uint_le(n, QR_VARINT_MAX32);
        ck_assert_uint_eq(n, qr_varint_size_i32(v32));
        ck_assert_int_eq(qr_varint_dec_i32(out, n, &g32), (int)n);
        ck_assert_int_eq(g32, v32);
        n = qr_varint_enc_u32(out, u32);
        ck_assert_uint_eq(n, qr_varint_size_u32(u32));
        ck_assert_int_eq(qr_varint_dec_u32(out, n, &gu32), (int)n);
        ck_assert_uint_eq(gu32, u32);
    }
}
END_TEST

/* Every value of a dense pseudo-random sample, for both widths. */
START_TEST(test_roundtrip_random)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (int i = 0; i < 200000; i++) {
        uint8_t out[QR_VARINT_MAX64];
        uint64_t m;
        int64_t v, g = 0;
        int32_t v32, g32 = 0;
        size_t n;

        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        m = x >> ((x >> 8) & 63); /* all magnitudes, both signs */
        v = (x & 1) ? (int64_t)~m : (int64_t)m;
        /* plain tests in the loop: each ck_assert writes to Check's pipe */
        n = qr_varint_enc_i64(out, v);
        if (qr_varint_dec_i64(out, n, &g) != (int)n || g != v ||
            n != qr_varint_size_i64(v))
            ck_abort_msg("varlong %" PRId64, v);
        v32 = (int32_t)v;
        n = qr_varint_enc_i32(out, v32);
        if (qr_varint_dec_i32(out, n, &g32) != (int)n || g32 != v32 ||
            n != qr_varint_size_i32(v32))
            ck_abort_msg("varint %" PRId32, v32);
    }
}
END_TEST

/* ---- malformed forms: one table row each ---- */

enum { W32, W64 };
static const struct {
    const char *what;
    int width;
    uint8_t len;
    uint8_t b[12];
    int want; /* quire_err_t, or > 0: bytes consumed */
} bad[] = {
    {"empty", W32, 0, {0}, QUIRE_ERR_TRUNCATED},
    {"empty64", W64, 0, {0}, QUIRE_ERR_TRUNCATED},
    {"cont at end", W32, 1, {0x80}, QUIRE_ERR_TRUNCATED},
    {"cont at end 4", W32, 4, {0xff, 0xff, 0xff, 0xff}, QUIRE_ERR_TRUNCATED},
    {"cont at end 64",
     W64,
     9,
     {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80},
     QUIRE_ERR_TRUNCATED},
    {"6 bytes",
     W32,
     6,
     {0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
     QUIRE_ERR_BAD_VARINT},
    {"5th cont, ends",
     W32,
     5,
     {0x80, 0x80, 0x80, 0x80, 0x80},
     QUIRE_ERR_BAD_VARINT},
    {"5th 0x10", W32, 5, {0xff, 0xff, 0xff, 0xff, 0x10}, QUIRE_ERR_BAD_VARINT},
    {"5th 0x7f", W32, 5, {0x80, 0x80, 0x80, 0x80, 0x7f}, QUIRE_ERR_BAD_VARINT},
    {"5th 0x1f", W32, 5, {0xff, 0xff, 0xff, 0xff, 0x1f}, QUIRE_ERR_BAD_VARINT},
    {"11 bytes",
     W64,
     11,
     {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
     QUIRE_ERR_BAD_VARINT},
    {"10th cont",
     W64,
     10,
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81},
     QUIRE_ERR_BAD_VARINT},
    {"10th 0x02",
     W64,
     10,
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
     QUIRE_ERR_BAD_VARINT},
    {"10th 0x7f",
     W64,
     10,
     {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f},
     QUIRE_ERR_BAD_VARINT},
    /* valid neighbours of the above, so the limits are exact */
    {"5th 0x0f", W32, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    {"10th 0x01",
     W64,
     10,
     {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
     10},
    {"non-minimal 0", W32, 2, {0x80, 0x00}, 2},
    {"trailing ignored", W32, 3, {0x02, 0xff, 0xff}, 1},
};

START_TEST(test_bad)
{
    /* exactly len bytes on the heap: ASan sees any read past them */
    size_t len = bad[_i].len;
    uint8_t *p = malloc(len ? len : 1);
    int n;

    memcpy(p, bad[_i].b, len);
    if (bad[_i].width == W32) {
        uint32_t u = 77;
        int32_t s = 77;
        n = qr_varint_dec_u32(p, len, &u);
        ck_assert_msg(n == bad[_i].want, "%s: %d", bad[_i].what, n);
        ck_assert_int_eq(qr_varint_dec_i32(p, len, &s), n);
        if (n < 0)
            ck_assert(u == 77 && s == 77);
    } else {
        uint64_t u = 77;
        int64_t s = 77;
        n = qr_varint_dec_u64(p, len, &u);
        ck_assert_msg(n == bad[_i].want, "%s: %d", bad[_i].what, n);
        ck_assert_int_eq(qr_varint_dec_i64(p, len, &s), n);
        if (n < 0)
            ck_assert(u == 77 && s == 77);
    }
    free(p);
}
END_TEST

/* ---- on the buffer types ---- */

START_TEST(test_cursor_and_buf)
{
    qr_buf_t buf;
    qr_rd_t rd;
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;

    qr_buf_init(&buf, 17);
    ck_assert_int_eq(qr_varint_append_i32(&buf, 300), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_varint_append_i64(&buf, INT64_MIN), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_varint_append_u32(&buf, 0xffffffffu), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_buf_unread(&buf), 2 + 10 + 5);
    ck_assert_int_eq(qr_varint_append_i32(&buf, 0), QUIRE_ERR_BUF_FULL);

    qr_rd_init(&rd, qr_buf_rptr(&buf), qr_buf_unread(&buf));
    ck_assert_int_eq(qr_varint_get_i32(&rd, &i32), QUIRE_ERR_NONE);
    ck_assert_int_eq(i32, 300);
    ck_assert_int_eq(qr_varint_get_i64(&rd, &i64), QUIRE_ERR_NONE);
    ck_assert_int_eq(i64, INT64_MIN);
    ck_assert_uint_eq(rd.pos, 12);
    /* only 3 of the u32's 5 bytes are visible: truncated, no move */
    rd.len = 15;
    ck_assert_int_eq(qr_varint_get_u32(&rd, &u32), QUIRE_ERR_TRUNCATED);
    ck_assert_uint_eq(rd.pos, 12);
    rd.len = 17;
    ck_assert_int_eq(qr_varint_get_u32(&rd, &u32), QUIRE_ERR_NONE);
    ck_assert_uint_eq(u32, 0xffffffffu);
    ck_assert_uint_eq(qr_rd_left(&rd), 0);
    ck_assert_int_eq(qr_varint_get_i32(&rd, &i32), QUIRE_ERR_TRUNCATED);
    qr_buf_free(&buf);

    /* unsigned varlong, through the buffer and back */
    qr_buf_init(&buf, 20);
    ck_assert_int_eq(qr_varint_append_u64(&buf, UINT64_MAX), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_varint_append_u64(&buf, 128), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_buf_unread(&buf), 12);
    qr_rd_init(&rd, qr_buf_rptr(&buf), qr_buf_unread(&buf));
    ck_assert_int_eq(qr_varint_get_u64(&rd, &u64), QUIRE_ERR_NONE);
    ck_assert_uint_eq(u64, UINT64_MAX);
    ck_assert_int_eq(qr_varint_get_u64(&rd, &u64), QUIRE_ERR_NONE);
    ck_assert_uint_eq(u64, 128);
    ck_assert_int_eq(qr_varint_get_u64(&rd, &u64), QUIRE_ERR_TRUNCATED);
    qr_buf_free(&buf);

    /* a malformed varint leaves the cursor where it was */
    qr_rd_init(&rd, "\xff\xff\xff\xff\x7f", 5);
    ck_assert_int_eq(qr_varint_get_i32(&rd, &i32), QUIRE_ERR_BAD_VARINT);
    ck_assert_uint_eq(rd.pos, 0);
}
END_TEST

/* The loop-free size (issue 14) against the encoder and ceil(bits / 7),
 * at both edges of every width: 2^k - 1 and 2^k for k in 0..63, and the
 * one- and two-byte fast paths of the encoder at 0x7f/0x80 and
 * 0x3fff/0x4000. */
START_TEST(test_size_every_width)
{
    uint8_t out[QR_VARINT_MAX64];

    for (int k = 0; k < 64; k++) {
        uint64_t hi = (uint64_t)1 << k, lo = hi - 1, g = 0;
        size_t want_hi = (size_t)(k + 1 + 6) / 7,
               want_lo = k ? (size_t)(k + 6) / 7 : 1;

        ck_assert_uint_eq(qr_varint_size_u64(hi), want_hi);
        ck_assert_uint_eq(qr_varint_enc_u64(out, hi), want_hi);
        ck_assert_int_eq(qr_varint_dec_u64(out, want_hi, &g), (int)want_hi);
        ck_assert_uint_eq(g, hi);
        ck_assert_uint_eq(qr_varint_size_u64(lo), want_lo);
        ck_assert_uint_eq(qr_varint_enc_u64(out, lo), want_lo);
        ck_assert_int_eq(qr_varint_dec_u64(out, want_lo, &g), (int)want_lo);
        ck_assert_uint_eq(g, lo);
    }
}
END_TEST

START_TEST(test_sizes)
{
    ck_assert_uint_eq(qr_varint_size_u32(0), 1);
    ck_assert_uint_eq(qr_varint_size_u32(127), 1);
    ck_assert_uint_eq(qr_varint_size_u32(128), 2);
    ck_assert_uint_eq(qr_varint_size_u32(16383), 2);
    ck_assert_uint_eq(qr_varint_size_u32(16384), 3);
    ck_assert_uint_eq(qr_varint_size_u32(UINT32_MAX), 5);
    ck_assert_uint_eq(qr_varint_size_u64(UINT64_MAX), 10);
    ck_assert_uint_eq(qr_varint_size_u64((uint64_t)1 << 63), 10);
    ck_assert_uint_eq(qr_varint_size_u64(((uint64_t)1 << 63) - 1), 9);
    ck_assert_uint_eq(qr_varint_size_i32(-64), 1);
    ck_assert_uint_eq(qr_varint_size_i32(64), 2);
    ck_assert_uint_eq(qr_varint_size_i64(INT64_MIN), 10);
}
END_TEST

static Suite *varint_suite(void)
{
    Suite *s = suite_create("varint");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, test_vec32, 0,
                        (int)(sizeof(vec32) / sizeof(vec32[0])));
    tcase_add_loop_test(tc, test_vec64, 0,
                        (int)(sizeof(vec64) / sizeof(vec64[0])));
    tcase_add_loop_test(tc, test_roundtrip, 0,
                        (int)(sizeof(edges64) / sizeof(edges64[0])));
    tcase_add_test(tc, test_roundtrip_random);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_size_every_width);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_loop_test(tc, test_bad, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_cursor_and_buf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(varint_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
