/* check_err: the error table gives names, texts and wire mapping. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

START_TEST(test_kafka_numbers)
{
    ck_assert_int_eq(QUIRE_ERR_NONE, 0);
    ck_assert_int_eq(QUIRE_ERR_OFFSET_OUT_OF_RANGE, 1);
    ck_assert_int_eq(QUIRE_ERR_CORRUPT_MESSAGE, 2);
    ck_assert_int_eq(QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION, 3);
    ck_assert_int_eq(QUIRE_ERR_NOT_LEADER_FOR_PARTITION, 6);
    ck_assert_int_eq(QUIRE_ERR_MESSAGE_TOO_LARGE, 10);
    ck_assert_int_eq(QUIRE_ERR_KAFKA_STORAGE_ERROR, 56);
    ck_assert_int_eq(QUIRE_ERR_UNSUPPORTED_COMPRESSION_TYPE, 76);
    ck_assert_int_eq(QUIRE_ERR_UNKNOWN_SERVER_ERROR, -1);
}
END_TEST

START_TEST(test_names_and_texts)
{
    ck_assert_str_eq(quire_err2name(QUIRE_ERR_CORRUPT_MESSAGE),
                     "CORRUPT_MESSAGE");
    ck_assert_str_eq(quire_err2name(QUIRE_ERR_NEED_MORE), "NEED_MORE");
    ck_assert_str_eq(quire_err2name((quire_err_t)12345), "UNKNOWN");
    ck_assert_ptr_nonnull(quire_err2str((quire_err_t)12345));
    ck_assert(strlen(quire_err2str(QUIRE_ERR_NONE)) > 0);
}
END_TEST

START_TEST(test_local_codes_are_local)
{
    ck_assert_int_le(QUIRE_ERR_NEED_MORE, QUIRE_ERR_LOCAL_MAX);
    ck_assert_int_eq(quire_err_from_wire(QUIRE_ERR_NEED_MORE),
                     QUIRE_ERR_UNKNOWN_SERVER_ERROR);
    ck_assert_int_eq(quire_err_from_wire(9999), QUIRE_ERR_UNKNOWN_SERVER_ERROR);
    ck_assert_int_eq(quire_err_from_wire(6),
                     QUIRE_ERR_NOT_LEADER_FOR_PARTITION);
    ck_assert(quire_err_known(0));
    ck_assert(!quire_err_known(28)); /* a gap in Kafka's codes we do not use */
}
END_TEST

START_TEST(test_codes_unique)
{
    /* Every code appears once: a duplicate would make the name ambiguous. */
    static const int codes[] = {
#define CODE(name, code, text) code,
        QUIRE_ERR_TABLE(CODE)
#undef CODE
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++)
            ck_assert_int_ne(codes[i], codes[j]);
        ck_assert(codes[i] >= -1 || codes[i] <= QUIRE_ERR_LOCAL_MAX);
    }
}
END_TEST

static Suite *err_suite(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_kafka_numbers);
    tcase_add_test(tc, test_names_and_texts);
    tcase_add_test(tc, test_local_codes_are_local);
    tcase_add_test(tc, test_codes_unique);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(err_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
