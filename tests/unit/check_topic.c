/* check_topic: legal and illegal topic names (DESIGN.md §3). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

static const char *const bad_names[] = {
    "", ".", "..", "../x", "a/b", "a b", "a\\b", "caf\xc3\xa9", "x:y", "a*",
};

START_TEST(test_bad_name)
{
    const char *why = NULL;
    const char *name = bad_names[_i];
    ck_assert_int_eq(qr_topic_name_check(name, strlen(name), &why),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_good_names)
{
    static const char *const good[] = {"a",       "orders", "page.views-2",
                                       "A_b.C-9", "...",    ".a"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_int_eq(qr_topic_name_check(good[i], strlen(good[i]), NULL),
                         QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_lengths)
{
    char name[251];
    memset(name, 'x', sizeof(name));
    ck_assert_int_eq(qr_topic_name_check(name, 249, NULL), QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_topic_name_check(name, 250, NULL),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    /* An embedded NUL is refused, not taken as the end. */
    name[3] = '\0';
    ck_assert_int_eq(qr_topic_name_check(name, 10, NULL),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    ck_assert_int_eq(qr_topic_name_check(NULL, 0, NULL),
                     QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
}
END_TEST

/* Every byte value, one at a time, against Kafka's class [A-Za-z0-9._-]
 * written out as ranges (the check itself uses a table). */
START_TEST(test_every_byte)
{
    for (int c = 1; c < 256; c++) {
        char name[2] = {(char)c, 'x'};
        int legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        ck_assert_msg(
            qr_topic_name_check(name, 2, NULL) ==
                (legal ? QUIRE_ERR_NONE : QUIRE_ERR_INVALID_TOPIC_EXCEPTION),
            "byte 0x%02x", c);
    }
}
END_TEST

static Suite *topic_suite(void)
{
    Suite *s = suite_create("topic");
    TCase *tc = tcase_create("names");
    tcase_add_loop_test(tc, test_bad_name, 0,
                        (int)(sizeof(bad_names) / sizeof(bad_names[0])));
    tcase_add_test(tc, test_good_names);
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_every_byte);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
