/* check_crc32c: CRC-32C vectors; the SSE4.2 and portable paths agree. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

/* Bit-at-a-time reference, independent of both implementations. */
static uint32_t ref_crc(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void fill_random(uint8_t *p, size_t len, uint64_t *state)
{
    uint64_t x = *state;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
    *state = x;
}

typedef uint32_t crc_fn(uint32_t, const void *, size_t);
static crc_fn *const impls[] = {qr_crc32c, qr_crc32c_sw, qr_crc32c_hw};
#define N_IMPLS ((int)(sizeof(impls) / sizeof(impls[0])))

/* ---- vectors (RFC 3720 B.4 and the usual check value) ---- */

START_TEST(test_vectors)
{
    crc_fn *crc = impls[_i];
    uint8_t b[32];

    ck_assert_uint_eq(crc(0, "123456789", 9), 0xe3069283);
    ck_assert_uint_eq(crc(0, NULL, 0), 0);
    ck_assert_uint_eq(crc(0x12345678, NULL, 0), 0x12345678);
    ck_assert_uint_eq(crc(0, "a", 1), 0xc1d04330);
    memset(b, 0, sizeof(b));
    ck_assert_uint_eq(crc(0, b, 32), 0x8a9136aa);
    memset(b, 0xff, sizeof(b));
    ck_assert_uint_eq(crc(0, b, 32), 0x62a8ab43);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    ck_assert_uint_eq(crc(0, b, 32), 0x46dd794e);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(crc(0, b, 32), 0x113fdb5c);
}
END_TEST

START_TEST(test_hw_present)
{
    /* x86-64 machines this project targets all have SSE4.2; say so in the
     * log if not, since the fast path would then be untested. */
    if (!qr_crc32c_hw_available())
        fprintf(stderr, "check_crc32c: no SSE4.2, hw path = sw path\n");
    ck_assert_uint_eq(qr_crc32c_hw(0, "123456789", 9), 0xe3069283);
}
END_TEST

/* ---- both paths agree: every length 0..4096, random alignment ---- */

START_TEST(test_agree_lengths)
{
    uint64_t state = 0x243f6a8885a308d3ull;

    for (size_t len = 0; len <= 4096; len++) {
        size_t off = (size_t)(state % 16);
        /* exactly off + len bytes: ASan catches a read past the end */
        size_t size = off + len;
        uint8_t *mem = malloc(size ? size : 1), *p = mem + off;
        uint32_t seed = (uint32_t)(state >> 32), want;

        fill_random(p, len, &state);
        want = qr_crc32c_sw(seed, p, len);
        ck_assert_msg(qr_crc32c_hw(seed, p, len) == want, "len %zu off %zu",
                      len, off);
        ck_assert_uint_eq(qr_crc32c(seed, p, len), want);
        if (len <= 300 || len % 97 == 0)
            ck_assert_uint_eq(ref_crc(seed, p, len), want);
        free(mem);
    }
}
END_TEST

/* Around the three-stream block boundaries (3 x 256, 3 x 8192) and big. */
static const size_t big_lens[] = {
    767,       768,   769,     1535,           1536,
    24575,     24576, 24577,   24576 + 768,    49151,
    49152 + 7, 65536, 1 << 20, (1 << 20) + 13, (1 << 20) - 1,
    3 << 20,
};

START_TEST(test_agree_big)
{
    size_t len = big_lens[_i];
    uint64_t state = 0x13198a2e03707344ull + (uint64_t)_i;

    for (size_t off = 0; off < 8; off += 3) {
        uint8_t *mem = malloc(off + len), *p = mem + off;
        uint32_t want;

        fill_random(p, len, &state);
        want = qr_crc32c_sw(0, p, len);
        ck_assert_msg(qr_crc32c_hw(0, p, len) == want, "len %zu", len);
        ck_assert_uint_eq(qr_crc32c(0, p, len), want);
        if (len <= 65536)
            ck_assert_uint_eq(ref_crc(0, p, len), want);
        free(mem);
    }
}
END_TEST

/* ---- chunked equals one-shot ---- */

START_TEST(test_incremental)
{
    crc_fn *crc = impls[_i];
    size_t len = (1 << 20) + 4099;
    uint8_t *p = malloc(len);
    uint64_t state = 0xa4093822299f31d0ull;
    uint32_t want, got;

    fill_random(p, len, &state);
    want = qr_crc32c_sw(0, p, len);
    for (int round = 0; round < 20; round++) {
        size_t pos = 0;
        got = 0;
        while (pos < len) {
            size_t n = (size_t)(state % (round < 10 ? 64 : 70000));
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            if (n > len - pos)
                n = len - pos;
            got = crc(got, p + pos, n);
            pos += n;
        }
        ck_assert_uint_eq(got, want);
    }
    /* mixing paths mid-stream is fine too: same convention */
    got = qr_crc32c_hw(0, p, 1000);
    got = qr_crc32c_sw(got, p + 1000, 50000);
    got = qr_crc32c_hw(got, p + 51000, len - 51000);
    ck_assert_uint_eq(got, want);
    free(p);
}
END_TEST

/* ---- first use from several threads at once (pthread_once) ---- */

static void *hammer(void *arg)
{
    uint32_t *out = arg;
    for (int i = 0; i < 1000; i++)
        *out |= qr_crc32c(0, "123456789", 9) ^ 0xe3069283;
    return NULL;
}

START_TEST(test_threads_first_use)
{
    pthread_t th[4];
    uint32_t bad[4] = {0};

    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_uint_eq(bad[i], 0);
    }
}
END_TEST

static Suite *crc32c_suite(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, test_vectors, 0, N_IMPLS);
    tcase_add_test(tc, test_hw_present);
    tcase_add_test(tc, test_threads_first_use);
    suite_add_tcase(s, tc);

    tc = tcase_create("agree");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_agree_lengths);
    tcase_add_loop_test(tc, test_agree_big, 0,
                        (int)(sizeof(big_lens) / sizeof(big_lens[0])));
    tcase_add_loop_test(tc, test_incremental, 0, N_IMPLS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(crc32c_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
