/*
 * check_hist: common/hist, the fixed-bucket histograms behind the broker's
 * Prometheus histograms (issue 15).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "hist.h"

static const uint64_t bounds[] = {10, 100, 1000};

START_TEST(test_buckets_are_cumulative_with_le)
{
    qr_hist_t h;
    qr_hist_snap_t s = {0};

    qr_hist_init(&h, bounds, 3);
    qr_hist_observe(&h, 0);
    qr_hist_observe(&h, 10);   /* le="10": the bound is inclusive */
    qr_hist_observe(&h, 11);   /* le="100" */
    qr_hist_observe(&h, 1000); /* le="1000" */
    qr_hist_observe(&h, 5000); /* +Inf only */
    qr_hist_add_to(&h, &s);
    ck_assert_uint_eq(s.nbounds, 3);
    ck_assert_uint_eq(s.cum[0], 2);
    ck_assert_uint_eq(s.cum[1], 3);
    ck_assert_uint_eq(s.cum[2], 4);
    ck_assert_uint_eq(s.cum[3], 5);
    ck_assert_uint_eq(s.sum, 0 + 10 + 11 + 1000 + 5000);
}
END_TEST

START_TEST(test_snapshots_add_up)
{
    qr_hist_t a, b;
    qr_hist_snap_t s = {0};

    qr_hist_init(&a, bounds, 3);
    qr_hist_init(&b, bounds, 3);
    qr_hist_observe(&a, 5);
    qr_hist_observe(&b, 50);
    qr_hist_observe(&b, 500);
    qr_hist_add_to(&a, &s);
    qr_hist_add_to(&b, &s);
    ck_assert_uint_eq(s.cum[0], 1);
    ck_assert_uint_eq(s.cum[1], 2);
    ck_assert_uint_eq(s.cum[2], 3);
    ck_assert_uint_eq(s.cum[3], 3);
    ck_assert_uint_eq(s.sum, 555);
}
END_TEST

#define NTHREADS 4
#define PER      100000

static void *observer(void *arg)
{
    for (int i = 0; i < PER; i++)
        qr_hist_observe(arg, (uint64_t)(i % 2000));
    return NULL;
}

/* writers on several threads lose nothing (run under TSan too) */
START_TEST(test_concurrent_observers)
{
    qr_hist_t h;
    qr_hist_snap_t s = {0};
    pthread_t t[NTHREADS];

    qr_hist_init(&h, qr_hist_latency_ns, qr_hist_latency_ns_len);
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, observer, &h), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    qr_hist_add_to(&h, &s);
    ck_assert_uint_eq(s.cum[s.nbounds], (uint64_t)NTHREADS * PER);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hist");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_tags(tc, "unit");
    tcase_add_test(tc, test_buckets_are_cumulative_with_le);
    tcase_add_test(tc, test_snapshots_add_up);
    tcase_add_test(tc, test_concurrent_observers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
