/*
 * check_logging: debug-list parsing, the rate limiter, and the line format
 * as read back through a pipe standing in for stderr.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logging.h"

/* ---- qr_log_debug_parse ---- */

static const struct {
    const char *list;
    uint32_t mask;
} good_lists[] = {
    {"", 0},
    {"zk", QR_DBG_ZK},
    {"zk,proto", QR_DBG_ZK | QR_DBG_PROTO},
    {" zk , net ", QR_DBG_ZK | QR_DBG_NET},
    {"fetch,,produce,", QR_DBG_FETCH | QR_DBG_PRODUCE},
    {"log,group,conf", QR_DBG_LOG | QR_DBG_GROUP | QR_DBG_CONF},
    {"all", QR_DBG_ALL},
    {"zk,all", QR_DBG_ALL},
    {"net,net", QR_DBG_NET},
    {"zk proto", QR_DBG_ZK | QR_DBG_PROTO},
};

START_TEST(test_debug_good)
{
    uint32_t mask = 0xdead;
    const char *bad = NULL;

    ck_assert_int_eq(qr_log_debug_parse(good_lists[_i].list, &mask, &bad), 0);
    ck_assert_uint_eq(mask, good_lists[_i].mask);
    ck_assert_ptr_null(bad);
}
END_TEST

static const struct {
    const char *list;
    size_t bad_at; /* offset of the unknown word */
} bad_lists[] = {
    {"bogus", 0}, {"zk,bogus,net", 3}, {"ZK", 0},     {"al", 0},
    {"alll", 0},  {"zk,proto2", 3},    {"zk;net", 0}, {"net,z", 4},
};

START_TEST(test_debug_bad)
{
    const char *list = bad_lists[_i].list;
    uint32_t mask = 0xdead;
    const char *bad = NULL;

    ck_assert_int_eq(qr_log_debug_parse(list, &mask, &bad), -1);
    ck_assert_ptr_eq(bad, list + bad_lists[_i].bad_at);
    ck_assert_uint_eq(mask, 0xdead); /* untouched on error */
    /* the culprit may also be left unreported */
    ck_assert_int_eq(qr_log_debug_parse(list, &mask, NULL), -1);
}
END_TEST

START_TEST(test_debug_all_bits)
{
    /* "all" covers every named context and nothing more */
    uint32_t mask, every = 0;
    static const char *const names[] = {"zk",  "proto", "fetch", "produce",
                                        "log", "group", "conf",  "net"};

    ck_assert_uint_eq(sizeof(names) / sizeof(names[0]), QR_DBG_BIT_COUNT);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(qr_log_debug_parse(names[i], &mask, NULL), 0);
        ck_assert_uint_eq(mask, 1u << i);
        every |= mask;
    }
    ck_assert_uint_eq(every, QR_DBG_ALL);
}
END_TEST

/* ---- qr_ratelimit_ok ---- */

START_TEST(test_ratelimit_burst)
{
    qr_ratelimit_t rl = QR_RATELIMIT_INIT(3, 1000);
    uint32_t supp = 99;
    int64_t t = 50000;

    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(qr_ratelimit_ok(&rl, t + i, &supp), 1);
        ck_assert_uint_eq(supp, 0);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(qr_ratelimit_ok(&rl, t + 10 + i, &supp), 0);
        ck_assert_uint_eq(supp, 0);
    }
    /* the window started at the first allowed line (t) */
    ck_assert_int_eq(qr_ratelimit_ok(&rl, t + 999, &supp), 0);
    ck_assert_int_eq(qr_ratelimit_ok(&rl, t + 1000, &supp), 1);
    ck_assert_uint_eq(supp, 6); /* reported once, at the rollover */
    ck_assert_int_eq(qr_ratelimit_ok(&rl, t + 1001, &supp), 1);
    ck_assert_uint_eq(supp, 0);
    ck_assert_int_eq(qr_ratelimit_ok(&rl, t + 1002, NULL), 1);
    ck_assert_int_eq(qr_ratelimit_ok(&rl, t + 1003, NULL), 0);
}
END_TEST

START_TEST(test_ratelimit_quiet_windows)
{
    qr_ratelimit_t rl = QR_RATELIMIT_INIT(1, 100);
    uint32_t supp = 99;

    ck_assert_int_eq(qr_ratelimit_ok(&rl, 1000, &supp), 1);
    ck_assert_int_eq(qr_ratelimit_ok(&rl, 1050, &supp), 0);
    /* several empty windows later: the count suppressed is still given */
    ck_assert_int_eq(qr_ratelimit_ok(&rl, 5000, &supp), 1);
    ck_assert_uint_eq(supp, 1);
    /* a window with nothing suppressed reports 0 */
    ck_assert_int_eq(qr_ratelimit_ok(&rl, 5100, &supp), 1);
    ck_assert_uint_eq(supp, 0);
    /* burst 0 suppresses everything and still counts */
    qr_ratelimit_t none = QR_RATELIMIT_INIT(0, 100);
    ck_assert_int_eq(qr_ratelimit_ok(&none, 1000, &supp), 0);
    ck_assert_int_eq(qr_ratelimit_ok(&none, 1001, &supp), 0);
    ck_assert_int_eq(qr_ratelimit_ok(&none, 1100, &supp), 0);
    ck_assert_uint_eq(supp, 2);
}
END_TEST

/* ---- the line format, through a pipe as stderr ---- */

static int saved_stderr = -1, pipe_rd = -1;

/* Runs in the forked test process: stderr becomes a pipe's write end. */
static void capture_start(void)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    saved_stderr = dup(STDERR_FILENO);
    ck_assert_int_eq(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    close(fds[1]);
    pipe_rd = fds[0];
}

/* Restores stderr and returns what was written (NUL-terminated). */
static size_t capture_end(char *out, size_t size)
{
    size_t len = 0;
    ssize_t n;

    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    while (len < size - 1 && (n = read(pipe_rd, out + len, size - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(pipe_rd);
    return len;
}

static void assert_matches(const char *line, const char *re)
{
    regex_t rx;
    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&rx, line, 0, NULL, 0) == 0, "%s !~ %s", line, re);
    regfree(&rx);
}

#define TS_RE \
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "

START_TEST(test_format_lines)
{
    char out[4096];

    capture_start();
    qr_log_setup(QR_LOG_LVL_INFO, 0, 7);
    QR_LOG_WARN("SEG", "rolled %s-%d at %d bytes", "orders", 3, 1024);
    qr_log_setup(QR_LOG_LVL_INFO, 0, -1);
    QR_LOG_ERR("ZK", "session expired");
    QR_LOG_INFO("NET", "listening");
    capture_end(out, sizeof(out));

    char *l2 = strchr(out, '\n');
    ck_assert_ptr_nonnull(l2);
    *l2++ = '\0';
    char *l3 = strchr(l2, '\n');
    ck_assert_ptr_nonnull(l3);
    *l3++ = '\0';
    char *end = strchr(l3, '\n');
    ck_assert_ptr_nonnull(end);
    *end = '\0';
    ck_assert_str_eq(end + 1, "");
    assert_matches(out, TS_RE "WARN 7 SEG rolled orders-3 at 1024 bytes$");
    assert_matches(l2, TS_RE "ERROR - ZK session expired$");
    assert_matches(l3, TS_RE "INFO - NET listening$");
}
END_TEST

START_TEST(test_format_timestamp_now)
{
    char out[512];
    struct tm tm;
    time_t before = time(NULL), when;

    capture_start();
    qr_log_setup(QR_LOG_LVL_INFO, 0, -1);
    QR_LOG_NOTICE("CONF", "x");
    capture_end(out, sizeof(out));
    memset(&tm, 0, sizeof(tm));
    ck_assert_ptr_nonnull(strptime(out, "%Y-%m-%dT%H:%M:%S", &tm));
    when = timegm(&tm); /* the stamp is UTC */
    ck_assert_int_ge(when, before);
    ck_assert_int_le(when, time(NULL));
    assert_matches(out, TS_RE "NOTICE - CONF x\n$");
}
END_TEST

static int evaluated;
static int side_effect(void)
{
    evaluated++;
    return 1;
}

START_TEST(test_format_filtering)
{
    char out[1024];

    capture_start();
    qr_log_setup(QR_LOG_LVL_WARNING, 0, 2);
    evaluated = 0;
    QR_LOG_INFO("NET", "hidden %d", side_effect());
    QR_DBG(QR_DBG_NET, "NET", "hidden %d", side_effect());
    ck_assert_int_eq(evaluated, 0); /* arguments not evaluated */
    qr_log_setup(QR_LOG_LVL_INFO, QR_DBG_PROTO, 2);
    QR_DBG(QR_DBG_NET, "NET", "still hidden");
    QR_DBG(QR_DBG_PROTO, "PROTO", "frame %d", 5);
    capture_end(out, sizeof(out));
    assert_matches(out, TS_RE "DEBUG 2 PROTO frame 5 \\([^:]*check_logging"
                              "\\.c:[0-9]+\\)\n$");
}
END_TEST

START_TEST(test_format_one_line)
{
    char big[5000], out[8192];
    size_t len;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_start();
    qr_log_setup(QR_LOG_LVL_INFO, 0, -1);
    errno = ENOSPC;
    QR_LOG_WARN("PROTO", "client id \"evil\nFAKE\r\x1b[0m\" %s", "ok");
    ck_assert_int_eq(errno, ENOSPC); /* logging keeps errno */
    QR_LOG_WARN("PROTO", "%s", big);
    len = capture_end(out, sizeof(out));

    char *l2 = strchr(out, '\n');
    ck_assert_ptr_nonnull(l2);
    *l2++ = '\0';
    assert_matches(out, TS_RE "WARN - PROTO client id \"evil\\?FAKE\\?\\?"
                              "\\[0m\" ok$");
    /* a long message is cut to one line of 2047 bytes, newline last */
    ck_assert_uint_eq(strlen(l2), 2047);
    ck_assert_uint_eq(len, (size_t)(l2 - out) + 2047);
    ck_assert_int_eq(l2[2046], '\n');
    ck_assert_ptr_eq(strchr(l2, '\n'), l2 + 2046);
}
END_TEST

START_TEST(test_assert_aborts)
{
    int two = 2;
    QR_ASSERT(two == 2);
    QR_ASSERT(two == 3); /* logs and aborts */
}
END_TEST

static Suite *logging_suite(void)
{
    Suite *s = suite_create("logging");
    TCase *tc = tcase_create("debug");
    tcase_add_loop_test(tc, test_debug_good, 0,
                        (int)(sizeof(good_lists) / sizeof(good_lists[0])));
    tcase_add_loop_test(tc, test_debug_bad, 0,
                        (int)(sizeof(bad_lists) / sizeof(bad_lists[0])));
    tcase_add_test(tc, test_debug_all_bits);
    suite_add_tcase(s, tc);

    tc = tcase_create("ratelimit");
    tcase_add_test(tc, test_ratelimit_burst);
    tcase_add_test(tc, test_ratelimit_quiet_windows);
    suite_add_tcase(s, tc);

    tc = tcase_create("format");
    tcase_add_test(tc, test_format_lines);
    tcase_add_test(tc, test_format_timestamp_now);
    tcase_add_test(tc, test_format_filtering);
    tcase_add_test(tc, test_format_one_line);
    tcase_add_test_raise_signal(tc, test_assert_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(logging_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
