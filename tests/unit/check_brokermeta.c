/*
 * check_brokermeta: meta.properties (broker/brokermeta.c): the round trip,
 * every malformed file refused with the path in the message, and the
 * decision over several log dirs (agreeing, disagreeing, against the
 * configured broker.id).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brokermeta.h"

static char dirs[3][64];
/* dir + "/" + QR_BROKERMETA_FILE */
#define PATH_MAX_LEN 256
static char errstr[1024];

static void setup(void)
{
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof(dirs[i]), "/tmp/check_brokermeta-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dirs[i]));
    }
}

static void teardown(void)
{
    char path[PATH_MAX_LEN];

    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dirs[i], QR_BROKERMETA_FILE);
        unlink(path);
        rmdir(dirs[i]);
    }
}

static void put(int i, const char *text)
{
    char path[PATH_MAX_LEN];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dirs[i], QR_BROKERMETA_FILE);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

START_TEST(test_round_trip)
{
    int32_t id = -5;

    ck_assert_int_eq(qr_brokermeta_read(dirs[0], &id, errstr, sizeof(errstr)),
                     QUIRE_ERR_NOT_FOUND);
    ck_assert_int_eq(id, -5);
    ck_assert_int_eq(qr_brokermeta_write(dirs[0], 1001, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_brokermeta_read(dirs[0], &id, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(id, 1001);
    /* rewriting replaces it */
    ck_assert_int_eq(qr_brokermeta_write(dirs[0], 7, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_brokermeta_read(dirs[0], &id, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(id, 7);
    /* Kafka's own file (with cluster.id) reads too */
    put(1, "#\n#Tue Nov 24 10:00:00 UTC 2026\ncluster.id=abc\nversion=0\n"
           "broker.id=1004\n");
    ck_assert_int_eq(qr_brokermeta_read(dirs[1], &id, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(id, 1004);
    /* a dir that does not exist says nothing */
    ck_assert_int_eq(
        qr_brokermeta_read("/nonexistent/quire", &id, errstr, sizeof(errstr)),
        QUIRE_ERR_NOT_FOUND);
    /* and cannot be written */
    ck_assert_int_eq(
        qr_brokermeta_write("/nonexistent/quire", 1, errstr, sizeof(errstr)),
        QUIRE_ERR_IO);
}
END_TEST

static const char *const malformed[] = {
    "",                                  /* nothing */
    "version=0\n",                       /* no broker.id */
    "broker.id=3\n",                     /* no version */
    "version=1\nbroker.id=3\n",          /* KRaft's version */
    "version=0\nbroker.id=-1\n",         /* not an id */
    "version=0\nbroker.id=x\n",          /* not a number */
    "version=0\nbroker.id=3000000000\n", /* over int32 */
    "version=0\nbroker.id=\n",           /* empty */
    "version=0\nbroker.id=12 \\u00zz\n", /* a bad escape */
};

START_TEST(test_malformed)
{
    int32_t id = -5;

    put(0, malformed[_i]);
    errstr[0] = '\0';
    ck_assert_int_eq(qr_brokermeta_read(dirs[0], &id, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_int_eq(id, -5);
    ck_assert_msg(strstr(errstr, QR_BROKERMETA_FILE) != NULL,
                  "\"%s\" does not name the file", errstr);
    /* and the broker refuses to decide on it */
    ck_assert_int_eq(qr_brokermeta_resolve((const char *const[]){dirs[0]}, 1,
                                           -1, &id, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
}
END_TEST

START_TEST(test_resolve)
{
    const char *const v[] = {dirs[0], dirs[1], dirs[2], "/nonexistent/q"};
    int32_t id = -5;

    /* nothing stored anywhere */
    ck_assert_int_eq(
        qr_brokermeta_resolve(v, 4, -1, &id, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(id, -1);
    ck_assert_int_eq(
        qr_brokermeta_resolve(v, 4, 3, &id, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(id, -1);
    /* some dirs hold it (a new dir was added): they agree */
    put(0, "version=0\nbroker.id=1002\n");
    put(2, "version=0\nbroker.id=1002\n");
    ck_assert_int_eq(
        qr_brokermeta_resolve(v, 4, -1, &id, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(id, 1002);
    ck_assert_int_eq(
        qr_brokermeta_resolve(v, 4, 1002, &id, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(id, 1002);
    /* configured otherwise: Kafka's InconsistentBrokerIdException */
    ck_assert_int_eq(
        qr_brokermeta_resolve(v, 4, 5, &id, errstr, sizeof(errstr)),
        QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "doesn't match stored broker.id"));
    ck_assert_ptr_nonnull(strstr(errstr, dirs[0]));
    /* two dirs of different brokers */
    put(1, "version=0\nbroker.id=1003\n");
    ck_assert_int_eq(
        qr_brokermeta_resolve(v, 4, -1, &id, errstr, sizeof(errstr)),
        QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "inconsistent broker ids"));
    ck_assert_ptr_nonnull(strstr(errstr, dirs[1]));
}
END_TEST

static Suite *brokermeta_suite(void)
{
    Suite *s = suite_create("brokermeta");
    TCase *tc = tcase_create("meta.properties");

    tcase_set_tags(tc, "unit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_loop_test(tc, test_malformed, 0,
                        (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, test_resolve);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(brokermeta_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
