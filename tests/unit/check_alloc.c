/* check_alloc: the aborting allocators keep their promises. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

START_TEST(test_zero_sizes)
{
    /* Size 0 still gives distinct, freeable pointers, never NULL. */
    void *a = qr_malloc(0), *b = qr_malloc(0);
    void *c = qr_calloc(0, 8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_ne(a, b);
    ck_assert_ptr_nonnull(c);
    a = qr_realloc(a, 0);
    ck_assert_ptr_nonnull(a);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_calloc_zeroes_and_realloc_keeps)
{
    unsigned char *p = qr_calloc(64, 4);
    for (size_t i = 0; i < 256; i++)
        ck_assert_int_eq(p[i], 0);
    memset(p, 0xab, 256);
    p = qr_realloc(p, 1 << 20);
    for (size_t i = 0; i < 256; i++)
        ck_assert_int_eq(p[i], 0xab);
    free(p);
}
END_TEST

START_TEST(test_strdup_strndup)
{
    char *s = qr_strdup("orders-3");
    ck_assert_str_eq(s, "orders-3");
    free(s);

    /* strndup stops at n or at a NUL, whichever comes first, and reads no
     * further: the source here has no terminator (ASan would see it). */
    char *raw = qr_malloc(5);
    memcpy(raw, "abcde", 5);
    s = qr_strndup(raw, 5);
    ck_assert_str_eq(s, "abcde");
    free(s);
    s = qr_strndup(raw, 3);
    ck_assert_str_eq(s, "abc");
    free(s);
    s = qr_strndup("ab\0cd", 5);
    ck_assert_str_eq(s, "ab");
    free(s);
    s = qr_strndup(raw, 0);
    ck_assert_str_eq(s, "");
    free(s);
    free(raw);
}
END_TEST

START_TEST(test_calloc_overflow_aborts)
{
    /* nmemb * size overflows: calloc refuses, so the process ends. */
    volatile size_t n = SIZE_MAX / 2 + 2;
    void *p = qr_calloc(n, 2);
    free(p);
}
END_TEST

START_TEST(test_array_len)
{
    int a[7];
    (void)a;
    ck_assert_uint_eq(QR_ARRAY_LEN(a), 7);
}
END_TEST

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    tcase_add_test(tc, test_zero_sizes);
    tcase_add_test(tc, test_calloc_zeroes_and_realloc_keeps);
    tcase_add_test(tc, test_strdup_strndup);
    tcase_add_test_raise_signal(tc, test_calloc_overflow_aborts, SIGABRT);
    tcase_add_test(tc, test_array_len);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(alloc_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
