/*
 * check_loadplan: quire-load's pure half (tools/loadplan.h, issue 12):
 * Camus names parsed and refused, hour paths in UTC, the chain of files
 * that may be committed, and the tasks that cover what no file holds.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "loadplan.h"

static const struct {
    const char *name;
    int ok;
    int32_t p;
    int64_t first, last;
} names[] = {
    {"ev+0+0+99.avro", 1, 0, 0, 99},
    {"ev+12+100+100.json", 1, 12, 100, 100},
    {"ev+3+9223372036854775806+9223372036854775806.txt", 1, 3,
     9223372036854775806LL, 9223372036854775806LL},
    {"ev+0+5+4.avro", 0, 0, 0, 0},                    /* first > last */
    {"ev+0+0+99.avro.tmp", 0, 0, 0, 0},               /* temporary */
    {"ev+0+0+99.parquet", 0, 0, 0, 0},                /* not ours */
    {"ev2+0+0+99.avro", 0, 0, 0, 0},                  /* another topic */
    {"ev+-1+0+99.avro", 0, 0, 0, 0},                  /* negative partition */
    {"ev+0+0.avro", 0, 0, 0, 0},                      /* a field missing */
    {"ev+0+0+99999999999999999999.avro", 0, 0, 0, 0}, /* overflow */
    {"ev+2147483648+0+1.avro", 0, 0, 0, 0},           /* partition too large */
};

START_TEST(test_names)
{
    int32_t p = -7;
    int64_t first = -7, last = -7;
    int rc = qr_lname_parse(names[_i].name, "ev", &p, &first, &last);
    ck_assert_int_eq(rc, names[_i].ok ? 0 : -1);
    if (names[_i].ok) {
        ck_assert_int_eq(p, names[_i].p);
        ck_assert_int_eq(first, names[_i].first);
        ck_assert_int_eq(last, names[_i].last);
    }
}
END_TEST

START_TEST(test_hour_path)
{
    char buf[128];
    /* 2026-01-01T03:59:59.999Z, then the next millisecond */
    ck_assert_int_eq(
        qr_lpath_hour(buf, sizeof(buf), "/o", "t", 1767239999999LL), 0);
    ck_assert_str_eq(buf, "/o/t/2026/01/01/03");
    qr_lpath_hour(buf, sizeof(buf), "/o", "t", 1767240000000LL);
    ck_assert_str_eq(buf, "/o/t/2026/01/01/04");
    qr_lpath_hour(buf, sizeof(buf), "/o", "t", -1); /* no timestamp */
    ck_assert_str_eq(buf, "/o/t/1969/12/31/23");
    ck_assert_int_eq(qr_lpath_hour(buf, 10, "/o", "t", 0), -1);
}
END_TEST

START_TEST(test_cover)
{
    qr_lranges_t rs = {0};
    ck_assert_int_eq(qr_lcover_end(&rs, 5), 5);
    qr_lranges_add(&rs, 20, 29); /* after a hole: not committed */
    qr_lranges_add(&rs, 10, 14);
    qr_lranges_add(&rs, 0, 4); /* before the stored offset: ignored */
    qr_lranges_add(&rs, 15, 17);
    ck_assert_int_eq(qr_lcover_end(&rs, 10), 18);
    qr_lranges_add(&rs, 18, 19); /* the hole filled */
    ck_assert_int_eq(qr_lcover_end(&rs, 10), 30);
    ck_assert_int_eq(qr_lcover_end(&rs, 11), 11);
    qr_lranges_free(&rs);
}
END_TEST

START_TEST(test_gaps)
{
    qr_lranges_t rs = {0}, out = {0};
    /* no file: [10, 35) in pieces of 10 */
    ck_assert_int_eq(qr_lplan_gaps(&rs, 10, 35, 10, &out), 25);
    ck_assert_int_eq((int)out.n, 3);
    ck_assert_int_eq(out.v[2].first, 30);
    ck_assert_int_eq(out.v[2].last, 34);
    qr_lranges_free(&out);
    /* files 15..19 and 25..40 (past the end): 10..14, 20..24 */
    qr_lranges_add(&rs, 25, 40);
    qr_lranges_add(&rs, 15, 19);
    ck_assert_int_eq(qr_lplan_gaps(&rs, 10, 35, 0, &out), 10);
    ck_assert_int_eq((int)out.n, 2);
    ck_assert_int_eq(out.v[0].first, 10);
    ck_assert_int_eq(out.v[0].last, 14);
    ck_assert_int_eq(out.v[1].first, 20);
    ck_assert_int_eq(out.v[1].last, 24);
    qr_lranges_free(&out);
    /* nothing to do at the end */
    ck_assert_int_eq(qr_lplan_gaps(&rs, 35, 35, 0, &out), 0);
    ck_assert_int_eq((int)out.n, 0);
    qr_lranges_free(&rs);
}
END_TEST

START_TEST(test_ext)
{
    ck_assert_str_eq(qr_lname_ext("avro"), "avro");
    ck_assert_str_eq(qr_lname_ext("json"), "json");
    ck_assert_str_eq(qr_lname_ext("text"), "txt");
    ck_assert_ptr_null(qr_lname_ext("parquet"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loadplan");
    TCase *tc = tcase_create("plan");
    tcase_add_loop_test(tc, test_names, 0,
                        (int)(sizeof(names) / sizeof(names[0])));
    tcase_add_test(tc, test_hour_path);
    tcase_add_test(tc, test_cover);
    tcase_add_test(tc, test_gaps);
    tcase_add_test(tc, test_ext);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
