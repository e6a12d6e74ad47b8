/* check_clock: the clocks move forward and read plausible values. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"

START_TEST(test_monotonic)
{
    int64_t prev = qr_clock_mono_ns(), now;
    int64_t prev_ms = qr_clock_mono_ms(), now_ms;

    ck_assert_int_gt(prev, 0);
    /* plain tests in the loop: each ck_assert writes to Check's pipe */
    for (int i = 0; i < 100000; i++) {
        now = qr_clock_mono_ns();
        now_ms = qr_clock_mono_ms();
        if (now < prev || now_ms < prev_ms)
            ck_abort_msg("clock went back: %lld < %lld", (long long)now,
                         (long long)prev);
        prev = now;
        prev_ms = now_ms;
    }
}
END_TEST

START_TEST(test_units_agree)
{
    int64_t ns = qr_clock_mono_ns();
    int64_t ms = qr_clock_mono_ms();
    int64_t ns2 = qr_clock_mono_ns();

    /* same origin: ms lies between the two ns readings */
    ck_assert_int_ge(ms, ns / 1000000);
    ck_assert_int_le(ms, ns2 / 1000000);
}
END_TEST

START_TEST(test_sleep_measured)
{
    struct timespec ts = {0, 30 * 1000000};
    int64_t t0 = qr_clock_mono_ns(), r0 = qr_clock_real_ms();
    int64_t dt;

    ck_assert_int_eq(nanosleep(&ts, NULL), 0);
    dt = qr_clock_mono_ns() - t0;
    ck_assert_int_ge(dt, 30 * 1000000);      /* a sleep is never shorter */
    ck_assert_int_lt(dt, 30 * 1000000000ll); /* sanity, not speed */
    ck_assert_int_ge(qr_clock_real_ms() - r0, 0);
}
END_TEST

START_TEST(test_real_plausible)
{
    int64_t ms = qr_clock_real_ms();
    int64_t t = (int64_t)time(NULL);

    ck_assert_int_gt(ms, 1577836800000ll); /* after 2020-01-01 */
    ck_assert_int_lt(ms, 4102444800000ll); /* before 2100-01-01 */
    /* milliseconds since the epoch, same clock as time(2) */
    ck_assert_int_le(llabs(ms / 1000 - t), 2);
}
END_TEST

static Suite *clock_suite(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, test_monotonic);
    tcase_add_test(tc, test_units_agree);
    tcase_add_test(tc, test_sleep_measured);
    tcase_add_test(tc, test_real_plausible);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(clock_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
