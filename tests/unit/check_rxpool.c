/*
 * check_rxpool: the consumer's large response buffers (issue 14). Sizes
 * below QR_RXPOOL_MIN are plain malloc; larger ones come in powers of two,
 * are kept when given back (at most QR_RXPOOL_KEEP, QR_RXPOOL_KEEP_BYTES in
 * all) and handed out again, smallest fitting first; a buffer the pool
 * did not hand out is freed (ASan and valgrind see any leak or double
 * free).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "rxpool.h"

#define MIB ((size_t)1 << 20)

static qr_rxpool_stats_t stats_of(qr_rxpool_t *pool)
{
    qr_rxpool_stats_t st;

    qr_rxpool_stats(pool, &st);
    return st;
}

START_TEST(small_sizes_are_not_kept)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    uint8_t *a = qr_rxpool_get(pool, 100), *z = qr_rxpool_get(pool, 0);

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(z);
    memset(a, 1, 100);
    qr_rxpool_put(pool, a);
    qr_rxpool_put(pool, z);
    qr_rxpool_put(pool, NULL);
    ck_assert_uint_eq(stats_of(pool).kept, 0);
    ck_assert_uint_eq(stats_of(pool).allocs, 0);
    qr_rxpool_destroy(pool);
}
END_TEST

START_TEST(given_back_then_reused)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    uint8_t *a = qr_rxpool_get(pool, 3 * MIB + 5), *b;

    ck_assert_ptr_nonnull(a);
    memset(a, 7, 3 * MIB + 5); /* the whole size is usable */
    qr_rxpool_put(pool, a);
    ck_assert_uint_eq(stats_of(pool).kept, 1);
    ck_assert_uint_eq(stats_of(pool).kept_bytes, 4 * MIB); /* power of 2 */
    /* anything up to the kept buffer's size takes it */
    b = qr_rxpool_get(pool, 4 * MIB);
    ck_assert_ptr_eq(b, a);
    ck_assert_uint_eq(stats_of(pool).reuses, 1);
    ck_assert_uint_eq(stats_of(pool).kept, 0);
    /* more than it holds: a new one */
    qr_rxpool_put(pool, b);
    b = qr_rxpool_get(pool, 4 * MIB + 1);
    ck_assert_ptr_ne(b, a);
    ck_assert_uint_eq(stats_of(pool).allocs, 2);
    memset(b, 1, 4 * MIB + 1);
    qr_rxpool_put(pool, b);
    ck_assert_uint_eq(stats_of(pool).kept, 2);
    qr_rxpool_destroy(pool); /* frees the kept ones */
}
END_TEST

START_TEST(smallest_fitting_first)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    uint8_t *big = qr_rxpool_get(pool, 16 * MIB),
            *mid = qr_rxpool_get(pool, 4 * MIB),
            *small = qr_rxpool_get(pool, 1 * MIB);

    qr_rxpool_put(pool, big);
    qr_rxpool_put(pool, small);
    qr_rxpool_put(pool, mid);
    ck_assert_ptr_eq(qr_rxpool_get(pool, 2 * MIB), mid);
    ck_assert_ptr_eq(qr_rxpool_get(pool, MIB), small);
    ck_assert_ptr_eq(qr_rxpool_get(pool, 5 * MIB), big);
    qr_rxpool_put(pool, big);
    qr_rxpool_put(pool, mid);
    qr_rxpool_put(pool, small);
    qr_rxpool_destroy(pool);
}
END_TEST

START_TEST(keeps_a_bounded_number)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    uint8_t *b[QR_RXPOOL_KEEP + 3];
    size_t n = sizeof(b) / sizeof(b[0]);

    for (size_t i = 0; i < n; i++) {
        b[i] = qr_rxpool_get(pool, MIB);
        ck_assert_ptr_nonnull(b[i]);
    }
    for (size_t i = 0; i < n; i++)
        qr_rxpool_put(pool, b[i]); /* the extra ones are freed */
    ck_assert_uint_eq(stats_of(pool).kept, QR_RXPOOL_KEEP);
    qr_rxpool_destroy(pool);
}
END_TEST

START_TEST(keeps_a_bounded_total)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    size_t size = QR_RXPOOL_KEEP_BYTES / 2;
    uint8_t *a = qr_rxpool_get(pool, size), *b = qr_rxpool_get(pool, size),
            *c = qr_rxpool_get(pool, size);

    /* only what is touched is resident: nothing written here */
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    qr_rxpool_put(pool, a);
    qr_rxpool_put(pool, b);
    qr_rxpool_put(pool, c); /* over QR_RXPOOL_KEEP_BYTES: freed */
    ck_assert_uint_eq(stats_of(pool).kept, 2);
    ck_assert_uint_eq(stats_of(pool).kept_bytes, QR_RXPOOL_KEEP_BYTES);
    qr_rxpool_destroy(pool);
}
END_TEST

START_TEST(untracked_beyond_the_table)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    uint8_t *b[QR_RXPOOL_TRACK + 2];
    size_t n = sizeof(b) / sizeof(b[0]);

    for (size_t i = 0; i < n; i++)
        b[i] = qr_rxpool_get(pool, MIB);
    /* the last two were not tracked: given back, they are freed; the rest
     * fill the kept slots */
    for (size_t i = n; i-- > 0;)
        qr_rxpool_put(pool, b[i]);
    ck_assert_uint_eq(stats_of(pool).kept, QR_RXPOOL_KEEP);
    qr_rxpool_destroy(pool);
}
END_TEST

/* the loop thread takes, the application's thread gives back */
#define ROUNDS 300

static void *giver(void *arg)
{
    void **args = arg;
    qr_rxpool_t *pool = args[0];
    uint8_t **slots = args[1];

    for (int i = 0; i < ROUNDS; i++) {
        uint8_t *p;

        while ((p = __atomic_exchange_n(&slots[i % 4], NULL,
                                        __ATOMIC_ACQ_REL)) == NULL)
            sched_yield(); /* two cores, shared with other tests */
        qr_rxpool_put(pool, p);
    }
    return NULL;
}

START_TEST(threads_take_and_give_back)
{
    qr_rxpool_t *pool = qr_rxpool_new();
    uint8_t *slots[4] = {NULL, NULL, NULL, NULL};
    void *args[2] = {pool, slots};
    pthread_t t;

    ck_assert_int_eq(pthread_create(&t, NULL, giver, args), 0);
    for (int i = 0; i < ROUNDS; i++) {
        uint8_t *p = qr_rxpool_get(pool, MIB + (size_t)(i % 3) * MIB);

        ck_assert_ptr_nonnull(p);
        p[0] = (uint8_t)i;
        while (__atomic_load_n(&slots[i % 4], __ATOMIC_ACQUIRE) != NULL)
            sched_yield();
        __atomic_store_n(&slots[i % 4], p, __ATOMIC_RELEASE);
    }
    pthread_join(t, NULL);
    ck_assert_uint_ge(stats_of(pool).reuses, ROUNDS / 2);
    qr_rxpool_destroy(pool);
}
END_TEST

static Suite *rxpool_suite(void)
{
    Suite *s = suite_create("rxpool");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, small_sizes_are_not_kept);
    tcase_add_test(tc, given_back_then_reused);
    tcase_add_test(tc, smallest_fitting_first);
    tcase_add_test(tc, keeps_a_bounded_number);
    tcase_add_test(tc, keeps_a_bounded_total);
    tcase_add_test(tc, untracked_beyond_the_table);
    tcase_add_test(tc, threads_take_and_give_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rxpool_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
