/* check_frame: the incremental frame parser and the frame builder. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static const qr_frame_limits_t lim = {.max_frame = 4096, .max_header = 1024};

/* A heap copy of exactly @p len bytes, so ASan sees any read past it. */
static uint8_t *exact_copy(const uint8_t *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

/* A sample frame: 5 header bytes and 11 payload bytes. */
static size_t sample(uint8_t *out, size_t cap)
{
    size_t size = 0;
    ck_assert_int_eq(
        qr_frame_build(out, cap, "HEADR", 5, "payload-xyz", 11, &size),
        QUIRE_ERR_NONE);
    return size;
}

START_TEST(test_round_trip)
{
    uint8_t buf[64];
    qr_frame_t frame;
    size_t size = sample(buf, sizeof(buf));

    ck_assert_uint_eq(size, QR_FRAME_PREFIX + 5 + 11);
    ck_assert_uint_eq(qr_frame_get_u32(buf), 4 + 5 + 11);
    ck_assert_uint_eq(qr_frame_get_u32(buf + 4), 5);
    ck_assert_int_eq(qr_frame_parse(buf, size, &lim, &frame), QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.size, size);
    ck_assert_uint_eq(frame.header_len, 5);
    ck_assert_uint_eq(frame.payload_len, 11);
    ck_assert_ptr_eq(frame.header, buf + QR_FRAME_PREFIX);
    ck_assert(memcmp(frame.header, "HEADR", 5) == 0);
    ck_assert(memcmp(frame.payload, "payload-xyz", 11) == 0);
}
END_TEST

START_TEST(test_empty_header_and_payload)
{
    uint8_t buf[QR_FRAME_PREFIX];
    qr_frame_t frame;
    size_t size = 0;

    ck_assert_int_eq(qr_frame_build(buf, sizeof(buf), NULL, 0, NULL, 0, &size),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(size, QR_FRAME_PREFIX);
    ck_assert_int_eq(qr_frame_parse(buf, size, &lim, &frame), QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.header_len, 0);
    ck_assert_uint_eq(frame.payload_len, 0);
    ck_assert_uint_eq(frame.size, QR_FRAME_PREFIX);
}
END_TEST

START_TEST(test_back_to_back)
{
    uint8_t buf[128];
    qr_frame_t frame;
    size_t one = sample(buf, sizeof(buf));
    size_t two = 0;

    ck_assert_int_eq(
        qr_frame_build(buf + one, sizeof(buf) - one, "h2", 2, NULL, 0, &two),
        QUIRE_ERR_NONE);
    /* The first frame ends exactly where it says; the rest is ignored. */
    ck_assert_int_eq(qr_frame_parse(buf, one + two, &lim, &frame),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.size, one);
    ck_assert_uint_eq(frame.payload_len, 11);
    ck_assert_int_eq(qr_frame_parse(buf + one, two, &lim, &frame),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.header_len, 2);
    ck_assert(memcmp(frame.header, "h2", 2) == 0);
    ck_assert_uint_eq(frame.payload_len, 0);
}
END_TEST

/* Every truncation point of a frame: NEED_MORE, never success, never a
 * read past the bytes given. _i is the number of bytes that arrived. */
START_TEST(test_truncated)
{
    uint8_t full[64];
    size_t size = sample(full, sizeof(full));
    qr_frame_t frame;
    uint8_t *p;

    ck_assert_uint_eq(size, 24); /* the loop range below relies on it */
    p = exact_copy(full, (size_t)_i);
    ck_assert_int_eq(qr_frame_parse(_i ? p : NULL, (size_t)_i, &lim, &frame),
                     QUIRE_ERR_NEED_MORE);
    /* Once frame_len is known, the caller learns the whole size. */
    if (_i >= 4)
        ck_assert_uint_eq(frame.size, size);
    else
        ck_assert_uint_eq(frame.size, QR_FRAME_PREFIX);
    ck_assert_ptr_null(frame.header);
    free(p);
}
END_TEST

/* frame_len above the limit: refused from the first 4 bytes alone. */
static const uint32_t too_large[] = {4097, 100000, 0x7fffffffu, 0xffffffffu};

START_TEST(test_too_large_after_4_bytes)
{
    uint8_t hdr[4];
    uint8_t *p;
    qr_frame_t frame;

    qr_frame_put_u32(hdr, too_large[_i]);
    p = exact_copy(hdr, 4);
    ck_assert_int_eq(qr_frame_parse(p, 4, &lim, &frame),
                     QUIRE_ERR_FRAME_TOO_LARGE);
    free(p);
}
END_TEST

START_TEST(test_limit_is_inclusive)
{
    uint8_t hdr[8];
    qr_frame_t frame;

    qr_frame_put_u32(hdr, lim.max_frame);
    qr_frame_put_u32(hdr + 4, 0);
    ck_assert_int_eq(qr_frame_parse(hdr, 8, &lim, &frame), QUIRE_ERR_NEED_MORE);
    ck_assert_uint_eq(frame.size, 4 + (size_t)lim.max_frame);
}
END_TEST

/* frame_len too short to hold header_len itself. */
START_TEST(test_frame_len_below_4)
{
    uint8_t hdr[4];
    uint8_t *p;
    qr_frame_t frame;

    qr_frame_put_u32(hdr, (uint32_t)_i);
    p = exact_copy(hdr, 4);
    ck_assert_int_eq(qr_frame_parse(p, 4, &lim, &frame), QUIRE_ERR_BAD_FRAME);
    free(p);
}
END_TEST

/* header_len bad, decided from the first 8 bytes. */
static const struct {
    uint32_t frame_len, header_len;
} bad_header_len[] = {
    {4, 1},             /* header longer than the frame */
    {20, 17},           /* one byte too long */
    {100, 0xffffffffu}, /* would overflow an addition */
    {2000, 1025},       /* fits the frame but above max_header */
    {4096, 4092},       /* whole frame, above max_header */
};

START_TEST(test_bad_header_len)
{
    uint8_t hdr[8];
    uint8_t *p;
    qr_frame_t frame;

    qr_frame_put_u32(hdr, bad_header_len[_i].frame_len);
    qr_frame_put_u32(hdr + 4, bad_header_len[_i].header_len);
    p = exact_copy(hdr, 8);
    ck_assert_int_eq(qr_frame_parse(p, 8, &lim, &frame), QUIRE_ERR_BAD_FRAME);
    free(p);
}
END_TEST

START_TEST(test_header_fills_frame)
{
    uint8_t buf[QR_FRAME_PREFIX + 16];
    qr_frame_t frame;

    memset(buf, 'x', sizeof(buf));
    qr_frame_put_u32(buf, 4 + 16);
    qr_frame_put_u32(buf + 4, 16);
    ck_assert_int_eq(qr_frame_parse(buf, sizeof(buf), &lim, &frame),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(frame.header_len, 16);
    ck_assert_uint_eq(frame.payload_len, 0);
}
END_TEST

START_TEST(test_prefix_limits)
{
    uint8_t out[QR_FRAME_PREFIX];

    ck_assert_int_eq(qr_frame_prefix(out, 10, 100), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_frame_get_u32(out), 114);
    ck_assert_uint_eq(qr_frame_get_u32(out + 4), 10);
    ck_assert_int_eq(qr_frame_prefix(out, 0, UINT32_MAX - 4), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_frame_get_u32(out), UINT32_MAX);
    ck_assert_int_eq(qr_frame_prefix(out, 1, UINT32_MAX - 4),
                     QUIRE_ERR_FRAME_TOO_LARGE);
    ck_assert_int_eq(qr_frame_prefix(out, 0, (uint64_t)1 << 40),
                     QUIRE_ERR_FRAME_TOO_LARGE);
}
END_TEST

START_TEST(test_build_buf_full)
{
    uint8_t buf[10];
    size_t size = 0;

    memset(buf, 0xAA, sizeof(buf));
    ck_assert_int_eq(qr_frame_build(buf, sizeof(buf), "abc", 3, "z", 1, &size),
                     QUIRE_ERR_BUF_FULL);
    ck_assert_uint_eq(size, 12);
    /* Nothing written on failure. */
    for (size_t i = 0; i < sizeof(buf); i++)
        ck_assert_uint_eq(buf[i], 0xAA);
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("good");
    TCase *bad = tcase_create("bad_input");

    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_header_and_payload);
    tcase_add_test(tc, test_back_to_back);
    tcase_add_test(tc, test_limit_is_inclusive);
    tcase_add_test(tc, test_header_fills_frame);
    tcase_add_test(tc, test_prefix_limits);
    tcase_add_test(tc, test_build_buf_full);
    suite_add_tcase(s, tc);

    tcase_add_loop_test(bad, test_truncated, 0, 24);
    tcase_add_loop_test(bad, test_too_large_after_4_bytes, 0,
                        sizeof(too_large) / sizeof(too_large[0]));
    tcase_add_loop_test(bad, test_frame_len_below_4, 0, 4);
    tcase_add_loop_test(bad, test_bad_header_len, 0,
                        sizeof(bad_header_len) / sizeof(bad_header_len[0]));
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(frame_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
