/*
 * check_partitioner: quire_murmur2 and quire_partition_for_key against
 * Kafka's Java client: the values of Kafka's own UtilsTest, and the vectors
 * python3-kafka generated (tests/data/murmur2_vectors.txt, made by
 * tests/data/gen_murmur2_vectors.py).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

#ifndef QR_TEST_DATA
#error "QR_TEST_DATA must name tests/data"
#endif

/* Kafka's clients/src/test/java/.../utils/UtilsTest.java testMurmur2:
 * the Java hash is a signed int. */
static const struct {
    const char *key;
    int32_t java;
} java[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

START_TEST(java_values)
{
    uint32_t h = quire_murmur2(java[_i].key, strlen(java[_i].key));

    ck_assert_int_eq((int32_t)h, java[_i].java);
}
END_TEST

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

START_TEST(python_kafka_vectors)
{
    FILE *fp = fopen(QR_TEST_DATA "/murmur2_vectors.txt", "r");
    char line[16384], hex[10000];
    uint8_t key[5000];
    int n = 0;

    ck_assert_msg(fp != NULL, "cannot open %s",
                  QR_TEST_DATA "/murmur2_vectors.txt");
    while (fgets(line, sizeof(line), fp)) {
        unsigned long hash;
        long parts, part;
        size_t len = 0;

        if (line[0] == '#')
            continue;
        ck_assert_int_eq(
            sscanf(line, "%9999s %lu %ld %ld", hex, &hash, &parts, &part), 4);
        if (strcmp(hex, "-") != 0) {
            size_t hl = strlen(hex);

            ck_assert_uint_eq(hl % 2, 0);
            for (size_t i = 0; i < hl; i += 2) {
                int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

                ck_assert(hi >= 0 && lo >= 0);
                key[len++] = (uint8_t)(hi << 4 | lo);
            }
        }
        ck_assert_msg(quire_murmur2(key, len) == hash, "key %s", hex);
        ck_assert_int_eq(quire_partition_for_key(key, len, (int32_t)parts),
                         part);
        n++;
    }
    fclose(fp);
    ck_assert_int_ge(n, 300);
}
END_TEST

START_TEST(bad_partition_counts)
{
    ck_assert_int_eq(quire_partition_for_key("k", 1, 0), -1);
    ck_assert_int_eq(quire_partition_for_key("k", 1, -3), -1);
    ck_assert_int_eq(quire_partition_for_key(NULL, 0, 1), 0);
}
END_TEST

static Suite *partitioner_suite(void)
{
    Suite *s = suite_create("partitioner");
    TCase *tc = tcase_create("murmur2");

    tcase_set_tags(tc, "unit");
    tcase_add_loop_test(tc, java_values, 0, sizeof(java) / sizeof(java[0]));
    tcase_add_test(tc, python_kafka_vectors);
    tcase_add_test(tc, bad_partition_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(partitioner_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
