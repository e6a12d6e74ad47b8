/* check_buf: big-endian helpers, the bounded buffer and the read cursor. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* ---- big-endian helpers ---- */

START_TEST(test_be_get)
{
    static const uint8_t b[9] = {0x01, 0x02, 0x03, 0x04, 0x05,
                                 0x06, 0x07, 0x08, 0x09};
    ck_assert_uint_eq(qr_be16_get(b), 0x0102);
    ck_assert_uint_eq(qr_be32_get(b), 0x01020304);
    ck_assert_uint_eq(qr_be64_get(b), 0x0102030405060708ull);
    /* unaligned */
    ck_assert_uint_eq(qr_be16_get(b + 1), 0x0203);
    ck_assert_uint_eq(qr_be32_get(b + 1), 0x02030405);
    ck_assert_uint_eq(qr_be64_get(b + 1), 0x0203040506070809ull);
}
END_TEST

START_TEST(test_be_put)
{
    uint8_t b[9];
    static const uint8_t want64[8] = {0xfe, 0xdc, 0xba, 0x98,
                                      0x76, 0x54, 0x32, 0x10};

    memset(b, 0xaa, sizeof(b));
    qr_be16_put(b + 1, 0xbeef);
    ck_assert_uint_eq(b[0], 0xaa);
    ck_assert_uint_eq(b[1], 0xbe);
    ck_assert_uint_eq(b[2], 0xef);
    ck_assert_uint_eq(b[3], 0xaa);
    qr_be32_put(b + 1, 0xdeadbeef);
    ck_assert_uint_eq(qr_be32_get(b + 1), 0xdeadbeef);
    ck_assert_uint_eq(b[1], 0xde);
    ck_assert_uint_eq(b[5], 0xaa);
    qr_be64_put(b + 1, 0xfedcba9876543210ull);
    ck_assert_mem_eq(b + 1, want64, 8);
    ck_assert_uint_eq(b[0], 0xaa);
    ck_assert_uint_eq(qr_be64_get(b + 1), 0xfedcba9876543210ull);
}
END_TEST

/* ---- qr_buf_t ---- */

START_TEST(test_buf_append_consume)
{
    qr_buf_t buf;
    static const uint8_t want[] = {'a',  'b',  'c',  0x7f, 0x12, 0x34,
                                   0x01, 0x02, 0x03, 0x04, 0,    0,
                                   0,    0,    0,    0,    0x01, 0x00};

    qr_buf_init(&buf, 1024);
    ck_assert_ptr_null(buf.data);
    ck_assert_uint_eq(qr_buf_unread(&buf), 0);
    ck_assert_int_eq(qr_buf_append(&buf, "abc", 3), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_buf_append_u8(&buf, 0x7f), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_buf_append_be16(&buf, 0x1234), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_buf_append_be32(&buf, 0x01020304), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_buf_append_be64(&buf, 0x100), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_buf_append(&buf, NULL, 0), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_buf_unread(&buf), sizeof(want));
    ck_assert_mem_eq(qr_buf_rptr(&buf), want, sizeof(want));

    qr_buf_consume(&buf, 3);
    ck_assert_uint_eq(qr_buf_unread(&buf), sizeof(want) - 3);
    ck_assert_uint_eq(*qr_buf_rptr(&buf), 0x7f);
    qr_buf_consume(&buf, sizeof(want) - 3);
    ck_assert_uint_eq(qr_buf_unread(&buf), 0);
    ck_assert_uint_eq(buf.rpos, 0); /* drained: positions back to 0 */
    ck_assert_uint_eq(buf.len, 0);

    ck_assert_int_eq(qr_buf_append(&buf, "xy", 2), QUIRE_ERR_NONE);
    qr_buf_reset(&buf);
    ck_assert_uint_eq(qr_buf_unread(&buf), 0);
    ck_assert_ptr_nonnull(buf.data); /* reset keeps the memory */
    qr_buf_free(&buf);
    ck_assert_ptr_null(buf.data);
    ck_assert_uint_eq(buf.max, 1024);
    qr_buf_free(NULL);
}
END_TEST

START_TEST(test_buf_max)
{
    qr_buf_t buf;
    uint8_t chunk[100];

    memset(chunk, 0x5a, sizeof(chunk));
    qr_buf_init(&buf, 1000);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(qr_buf_append(&buf, chunk, 100), QUIRE_ERR_NONE);
    ck_assert_uint_eq(buf.cap, 1000);
    ck_assert_int_eq(qr_buf_append_u8(&buf, 1), QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_buf_append_be64(&buf, 1), QUIRE_ERR_BUF_FULL);
    ck_assert_uint_eq(qr_buf_unread(&buf), 1000); /* nothing appended */

    /* A peer-declared size never allocates past max. */
    ck_assert_int_eq(qr_buf_reserve(&buf, SIZE_MAX), QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_buf_reserve(&buf, (size_t)1 << 40), QUIRE_ERR_BUF_FULL);
    ck_assert_uint_eq(buf.cap, 1000);

    /* Consumed room is reused by compaction, without growing. */
    qr_buf_consume(&buf, 250);
    ck_assert_int_eq(qr_buf_append(&buf, chunk, 100), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_buf_append(&buf, chunk, 100), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_buf_unread(&buf), 950);
    ck_assert_uint_eq(buf.cap, 1000);
    ck_assert_int_eq(qr_buf_append(&buf, chunk, 51), QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_buf_append(&buf, chunk, 50), QUIRE_ERR_NONE);
    ck_assert_uint_eq(qr_buf_unread(&buf), 1000);
    qr_buf_free(&buf);

    /* A max below the minimum allocation is honoured exactly. */
    qr_buf_init(&buf, 10);
    ck_assert_int_eq(qr_buf_append(&buf, chunk, 10), QUIRE_ERR_NONE);
    ck_assert_uint_eq(buf.cap, 10);
    ck_assert_int_eq(qr_buf_append_u8(&buf, 0), QUIRE_ERR_BUF_FULL);
    qr_buf_free(&buf);

    qr_buf_init(&buf, 0);
    ck_assert_int_eq(qr_buf_append_u8(&buf, 0), QUIRE_ERR_BUF_FULL);
    ck_assert_int_eq(qr_buf_append(&buf, NULL, 0), QUIRE_ERR_NONE);
    qr_buf_free(&buf);
}
END_TEST

/* Interleaved appends and consumes of varying sizes keep the byte stream
 * intact through compactions and reallocations. */
START_TEST(test_buf_stream)
{
    qr_buf_t buf;
    uint8_t chunk[700];
    uint32_t wseq = 0, rseq = 0;
    unsigned seed = 12345;

    qr_buf_init(&buf, 4096);
    for (int round = 0; round < 5000; round++) {
        size_t n = (size_t)rand_r(&seed) % sizeof(chunk);
        if (qr_buf_unread(&buf) + n <= buf.max) {
            for (size_t i = 0; i < n; i++)
                chunk[i] = (uint8_t)(wseq + i);
            if (qr_buf_append(&buf, chunk, n) != QUIRE_ERR_NONE)
                ck_abort_msg("append %zu at round %d", n, round);
            wseq += (uint32_t)n;
        } else if (qr_buf_append(&buf, chunk, n) != QUIRE_ERR_BUF_FULL) {
            ck_abort_msg("append %zu past max at round %d", n, round);
        }
        if (buf.cap > buf.max)
            ck_abort_msg("cap %zu > max", buf.cap);
        n = (size_t)rand_r(&seed) % (qr_buf_unread(&buf) + 1);
        /* plain test in the loop: each ck_assert writes to Check's pipe */
        for (size_t i = 0; i < n; i++)
            if (qr_buf_rptr(&buf)[i] != (uint8_t)(rseq + i))
                ck_abort_msg("byte %u of the stream", (unsigned)(rseq + i));
        qr_buf_consume(&buf, n);
        rseq += (uint32_t)n;
    }
    ck_assert_uint_eq(wseq - rseq, qr_buf_unread(&buf));
    qr_buf_free(&buf);
}
END_TEST

START_TEST(test_buf_wptr_commit)
{
    qr_buf_t buf;

    qr_buf_init(&buf, 1 << 20);
    ck_assert_int_eq(qr_buf_reserve(&buf, 5000), QUIRE_ERR_NONE);
    ck_assert_uint_ge(qr_buf_room(&buf), 5000);
    memset(qr_buf_wptr(&buf), 'q', 4000);
    qr_buf_commit(&buf, 4000);
    ck_assert_uint_eq(qr_buf_unread(&buf), 4000);
    ck_assert_uint_eq(qr_buf_rptr(&buf)[3999], 'q');
    qr_buf_free(&buf);
}
END_TEST

START_TEST(test_buf_commit_overrun)
{
    qr_buf_t buf;

    qr_buf_init(&buf, 100);
    ck_assert_int_eq(qr_buf_reserve(&buf, 10), QUIRE_ERR_NONE);
    qr_buf_commit(&buf, qr_buf_room(&buf) + 1); /* our bug: aborts */
}
END_TEST

START_TEST(test_buf_consume_overrun)
{
    qr_buf_t buf;

    qr_buf_init(&buf, 100);
    ck_assert_int_eq(qr_buf_append(&buf, "ab", 2), QUIRE_ERR_NONE);
    qr_buf_consume(&buf, 3); /* our bug: aborts */
}
END_TEST

/* ---- qr_rd_t ---- */

START_TEST(test_rd_values)
{
    static const uint8_t b[] = {0xff, 0x80, 0x01, 0x80, 0x00, 0x00, 0x01,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0xfe, 0xca, 0xfe, 0xba, 0xbe, 'x',  'y'};
    qr_rd_t rd;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint32_t u32;
    const uint8_t *view;

    qr_rd_init(&rd, b, sizeof(b));
    ck_assert_int_eq(qr_rd_get_i8(&rd, &i8), QUIRE_ERR_NONE);
    ck_assert_int_eq(i8, -1);
    ck_assert_int_eq(qr_rd_get_i16(&rd, &i16), QUIRE_ERR_NONE);
    ck_assert_int_eq(i16, -32767);
    ck_assert_int_eq(qr_rd_get_i32(&rd, &i32), QUIRE_ERR_NONE);
    ck_assert_int_eq(i32, INT32_MIN + 1);
    ck_assert_int_eq(qr_rd_get_i64(&rd, &i64), QUIRE_ERR_NONE);
    ck_assert_int_eq(i64, -2);
    ck_assert_int_eq(qr_rd_get_u32(&rd, &u32), QUIRE_ERR_NONE);
    ck_assert_uint_eq(u32, 0xcafebabe);
    ck_assert_uint_eq(qr_rd_left(&rd), 2);
    ck_assert_int_eq(qr_rd_get_bytes(&rd, 2, &view), QUIRE_ERR_NONE);
    ck_assert_ptr_eq(view, b + 19);
    ck_assert_uint_eq(qr_rd_left(&rd), 0);
    ck_assert_int_eq(qr_rd_get_bytes(&rd, 0, &view), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_rd_get_i8(&rd, &i8), QUIRE_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_rd_skip_copy)
{
    qr_rd_t rd;
    char out[4] = "....";

    qr_rd_init(&rd, "hello", 5);
    ck_assert_int_eq(qr_rd_skip(&rd, 1), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_rd_copy(&rd, out, 3), QUIRE_ERR_NONE);
    ck_assert_mem_eq(out, "ell.", 4);
    ck_assert_int_eq(qr_rd_copy(&rd, out, 2), QUIRE_ERR_TRUNCATED);
    ck_assert_mem_eq(out, "ell.", 4); /* nothing copied */
    ck_assert_int_eq(qr_rd_skip(&rd, 2), QUIRE_ERR_TRUNCATED);
    ck_assert_int_eq(qr_rd_skip(&rd, SIZE_MAX), QUIRE_ERR_TRUNCATED);
    ck_assert_ptr_eq(qr_rd_ptr(&rd), (const uint8_t *)"hello" + 4);
    ck_assert_int_eq(qr_rd_skip(&rd, 1), QUIRE_ERR_NONE);
}
END_TEST

/* Every getter, at every length short of what it needs: TRUNCATED, the
 * cursor and the output untouched. The bytes live in a heap block of
 * exactly the cursor's length, so ASan catches any read past the end. */
enum { G_I8, G_I16, G_I32, G_I64, G_U32, G_BYTES, G_SKIP, G_COUNT };
static const size_t getter_size[G_COUNT] = {1, 2, 4, 8, 4, 7, 9};

START_TEST(test_rd_overrun)
{
    int g = _i / 16;
    size_t have = (size_t)(_i % 16);
    size_t need = getter_size[g];
    uint8_t *mem = malloc(have ? have : 1);
    int64_t out = 0x5555;
    const uint8_t *view = NULL;
    quire_err_t err = QUIRE_ERR_NONE;
    qr_rd_t rd;

    memset(mem, 0xee, have ? have : 1);
    qr_rd_init(&rd, mem, have);
    switch (g) {
    case G_I8:
        err = qr_rd_get_i8(&rd, (int8_t *)&out);
        break;
    case G_I16:
        err = qr_rd_get_i16(&rd, (int16_t *)&out);
        break;
    case G_I32:
        err = qr_rd_get_i32(&rd, (int32_t *)&out);
        break;
    case G_I64:
        err = qr_rd_get_i64(&rd, &out);
        break;
    case G_U32:
        err = qr_rd_get_u32(&rd, (uint32_t *)&out);
        break;
    case G_BYTES:
        err = qr_rd_get_bytes(&rd, need, &view);
        break;
    case G_SKIP:
        err = qr_rd_skip(&rd, need);
        break;
    }
    if (have < need) {
        ck_assert_int_eq(err, QUIRE_ERR_TRUNCATED);
        ck_assert_uint_eq(rd.pos, 0);
        ck_assert_int_eq(out, 0x5555);
        ck_assert_ptr_null(view);
    } else {
        ck_assert_int_eq(err, QUIRE_ERR_NONE);
        ck_assert_uint_eq(rd.pos, need);
    }
    free(mem);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("be");
    tcase_add_test(tc, test_be_get);
    tcase_add_test(tc, test_be_put);
    suite_add_tcase(s, tc);

    tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_append_consume);
    tcase_add_test(tc, test_buf_max);
    tcase_add_test(tc, test_buf_stream);
    tcase_add_test(tc, test_buf_wptr_commit);
    tcase_add_test_raise_signal(tc, test_buf_commit_overrun, SIGABRT);
    tcase_add_test_raise_signal(tc, test_buf_consume_overrun, SIGABRT);
    suite_add_tcase(s, tc);

    tc = tcase_create("rd");
    tcase_add_test(tc, test_rd_values);
    tcase_add_test(tc, test_rd_skip_copy);
    tcase_add_loop_test(tc, test_rd_overrun, 0, G_COUNT * 16);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
