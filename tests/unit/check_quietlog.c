/*
 * check_quietlog: common/quietlog (a repeated warning logged once, then
 * summarised with a count) and its use for the ZooKeeper client's lines,
 * which repeat on every reconnect attempt while ZooKeeper is down (issue
 * 15, item 4).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logging.h"
#include "quietlog.h"
#include "zk_loop.h"

START_TEST(test_first_then_summary)
{
    qr_quiet_t q = QR_QUIET_INIT(5000);
    uint64_t rep = 99;

    ck_assert_int_eq(qr_quiet_admit(&q, "connect a", 1000, &rep), 1);
    ck_assert_uint_eq(rep, 0);
    for (int i = 0; i < 40; i++) /* every 100 ms for 4 s: held back */
        ck_assert_int_eq(qr_quiet_admit(&q, "connect a", 1100 + i * 100, &rep),
                         0);
    ck_assert_int_eq(qr_quiet_admit(&q, "connect a", 6000, &rep), 1);
    ck_assert_uint_eq(rep, 40);
    ck_assert_int_eq(qr_quiet_admit(&q, "connect a", 6001, &rep), 0);
    ck_assert_uint_eq(qr_quiet_clear(&q, "connect a"), 1);
    /* cleared: the next occurrence is news again */
    ck_assert_int_eq(qr_quiet_admit(&q, "connect a", 6002, &rep), 1);
    ck_assert_uint_eq(rep, 0);
}
END_TEST

START_TEST(test_keys_do_not_hide_each_other)
{
    qr_quiet_t q = QR_QUIET_INIT(5000);
    uint64_t rep;
    char key[32];

    ck_assert_int_eq(qr_quiet_admit(&q, "a", 10, &rep), 1);
    ck_assert_int_eq(qr_quiet_admit(&q, "b", 11, &rep), 1);
    ck_assert_int_eq(qr_quiet_admit(&q, "a", 12, &rep), 0);
    ck_assert_int_eq(qr_quiet_admit(&q, "b", 13, &rep), 0);
    /* more keys than slots: the oldest is recycled, nothing breaks */
    for (int i = 0; i < 3 * QR_QUIET_SLOTS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(qr_quiet_admit(&q, key, 100 + i, &rep), 1);
    }
    ck_assert_uint_eq(qr_quiet_clear(&q, NULL), 0);
}
END_TEST

/* What libzookeeper_st prints on every attempt while its server is down. */
#define ZKC_LINE                                                           \
    "2026-12-04 01:15:05,548:123(0x7f):ZOO_ERROR@check_events@3011: "      \
    "Socket 127.0.0.1:45125 zk retcode=-4, errno=104(Connection reset by " \
    "peer): failed while receiving a server response"

START_TEST(test_zookeeper_client_lines_are_quiet)
{
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    char buf[8192];
    size_t n;
    int lines = 0;

    ck_assert_ptr_nonnull(tmp);
    qr_log_setup(QR_LOG_LVL_INFO, 0, -1);
    ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
    for (int i = 0; i < 100; i++) /* 100 attempts in well under 5 s */
        qr_zk_loop_log(ZKC_LINE);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    ck_assert_msg(lines == 1, "%d lines about one condition", lines);
    ck_assert_ptr_nonnull(strstr(buf, "check_events@3011"));
    /* the connection is back: 99 were held back and are accounted for */
    ck_assert_uint_eq(qr_zk_loop_log_settle(), 99);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("quietlog");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_tags(tc, "unit");
    tcase_add_test(tc, test_first_then_summary);
    tcase_add_test(tc, test_keys_do_not_hide_each_other);
    tcase_add_test(tc, test_zookeeper_client_lines_are_quiet);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
