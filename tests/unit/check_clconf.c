/*
 * check_clconf: libquire's configuration object (client/clconf.c): Kafka's
 * key names, defaults, typed parsing with errstr naming the culprit, get in
 * canonical form, dup.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "clconf.h"

static char errstr[256];

static const char *get(const quire_conf_t *conf, const char *key)
{
    static char buf[256];
    size_t size = sizeof(buf);

    ck_assert_int_eq(quire_conf_get(conf, key, buf, &size), QUIRE_ERR_NONE);
    ck_assert_uint_eq(size, strlen(buf) + 1);
    return buf;
}

START_TEST(defaults)
{
    quire_conf_t *conf = quire_conf_new();

    ck_assert_ptr_nonnull(conf);
    /* Kafka's client defaults */
    ck_assert_str_eq(get(conf, "batch.size"), "16384");
    ck_assert_str_eq(get(conf, "linger.ms"), "0");
    ck_assert_str_eq(get(conf, "acks"), "all"); /* Kafka 3.x (issue 22) */
    ck_assert_str_eq(get(conf, "enable.idempotence"), ""); /* unset: on */
    ck_assert_str_eq(get(conf, "compression.type"), "none");
    ck_assert_str_eq(get(conf, "buffer.memory"), "33554432");
    ck_assert_str_eq(get(conf, "retry.backoff.ms"), "100");
    ck_assert_str_eq(get(conf, "request.timeout.ms"), "30000");
    ck_assert_str_eq(get(conf, "max.in.flight.requests.per.connection"), "5");
    ck_assert_str_eq(get(conf, "fetch.min.bytes"), "1");
    ck_assert_str_eq(get(conf, "fetch.max.wait.ms"), "500");
    ck_assert_str_eq(get(conf, "max.partition.fetch.bytes"), "1048576");
    ck_assert_str_eq(get(conf, "bootstrap.servers"), "");
    ck_assert_int_eq(conf->batch_size, 16384);
    ck_assert_int_eq(conf->max_block_ms, 60000);
    ck_assert_str_eq(conf->zookeeper_connect, "");
    quire_conf_destroy(conf);
    quire_conf_destroy(NULL);
}
END_TEST

START_TEST(every_key_round_trips)
{
    quire_conf_t *conf = quire_conf_new();
    const char *key;

    /* setting a key to its own canonical text changes nothing */
    for (size_t i = 0; (key = qr_cconf_key(i)) != NULL; i++) {
        char before[256];

        strcpy(before, get(conf, key));
        ck_assert_msg(quire_conf_set(conf, key, before, errstr,
                                     sizeof(errstr)) == QUIRE_ERR_NONE,
                      "%s: %s", key, errstr);
        ck_assert_str_eq(get(conf, key), before);
    }
    ck_assert_ptr_null(qr_cconf_key(1000));
    quire_conf_destroy(conf);
}
END_TEST

START_TEST(set_values)
{
    quire_conf_t *conf = quire_conf_new();

    ck_assert_int_eq(
        quire_conf_set(conf, "acks", "all", errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->acks, QR_CCONF_ACKS_ALL);
    ck_assert_str_eq(get(conf, "acks"), "all");
    ck_assert_int_eq(quire_conf_set(conf, "acks", "-1", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->acks, QR_CCONF_ACKS_ALL);
    ck_assert_int_eq(quire_conf_set(conf, "acks", "0", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->acks, 0);
    /* values are trimmed, as Kafka's ConfigDef does */
    ck_assert_int_eq(quire_conf_set(conf, "linger.ms", "  5 \t", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->linger_ms, 5);
    ck_assert_int_eq(quire_conf_set(conf, "compression.type", "zstd", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->compression, 4);
    ck_assert_int_eq(quire_conf_set(conf, "compression.type", "lz4", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->compression, 3);
    ck_assert_int_eq(
        quire_conf_set(conf, "buffer.memory", "8589934592", NULL, 0),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(conf->buffer_memory, 8589934592LL);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers",
                                    " 127.0.0.1:9092,127.0.0.1:9093 ", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_str_eq(conf->bootstrap_servers, "127.0.0.1:9092,127.0.0.1:9093");
    quire_conf_destroy(conf);
}
END_TEST

START_TEST(get_sizes)
{
    quire_conf_t *conf = quire_conf_new();
    char small[3];
    size_t size = sizeof(small);

    ck_assert_int_eq(quire_conf_get(conf, "batch.size", small, &size),
                     QUIRE_ERR_BUF_FULL);
    ck_assert_uint_eq(size, 6);
    size = 0;
    ck_assert_int_eq(quire_conf_get(conf, "batch.size", NULL, &size),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(size, 6);
    ck_assert_int_eq(quire_conf_get(conf, "nope", NULL, &size),
                     QUIRE_ERR_CONF_UNKNOWN);
    ck_assert_int_eq(quire_conf_get(NULL, "acks", NULL, &size),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(quire_conf_get(conf, "acks", NULL, NULL),
                     QUIRE_ERR_BAD_ARG);
    quire_conf_destroy(conf);
}
END_TEST

START_TEST(dup_is_independent)
{
    quire_conf_t *conf = quire_conf_new(), *copy;

    ck_assert_int_eq(quire_conf_set(conf, "client.id", "one", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_conf_set(conf, "linger.ms", "7", NULL, 0),
                     QUIRE_ERR_NONE);
    copy = quire_conf_dup(conf);
    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(quire_conf_set(conf, "client.id", "two", NULL, 0),
                     QUIRE_ERR_NONE);
    quire_conf_destroy(conf);
    ck_assert_str_eq(get(copy, "client.id"), "one");
    ck_assert_int_eq(copy->linger_ms, 7);
    quire_conf_destroy(copy);
    ck_assert_ptr_null(quire_conf_dup(NULL));
}
END_TEST

/* Bad input: each gets its code, a one-line errstr naming the key (and the
 * value where there is one), and leaves the old value in place. */
static const struct {
    const char *key, *value;
    quire_err_t err;
    const char *msg;
} bad[] = {
    {"no.such.key", "1", QUIRE_ERR_CONF_UNKNOWN,
     "no.such.key: unknown configuration key"},
    {"batch.size", "", QUIRE_ERR_CONF_INVALID,
     "batch.size: not a decimal integer: ''"},
    {"batch.size", "16k", QUIRE_ERR_CONF_INVALID,
     "batch.size: not a decimal integer: '16k'"},
    {"batch.size", "0x10", QUIRE_ERR_CONF_INVALID,
     "batch.size: not a decimal integer: '0x10'"},
    {"batch.size", "0", QUIRE_ERR_CONF_INVALID,
     "batch.size: 0 out of range [1, 2147483647]"},
    {"linger.ms", "-1", QUIRE_ERR_CONF_INVALID,
     "linger.ms: -1 out of range [0, 2147483647]"},
    {"linger.ms", "2147483648", QUIRE_ERR_CONF_INVALID,
     "linger.ms: 2147483648 out of range [0, 2147483647]"},
    {"buffer.memory", "99999999999999999999", QUIRE_ERR_CONF_INVALID,
     "buffer.memory: not a decimal integer: '99999999999999999999'"},
    {"acks", "2", QUIRE_ERR_CONF_INVALID,
     "acks: '2' is not one of 0, 1, all, -1"},
    {"acks", "ALL", QUIRE_ERR_CONF_INVALID,
     "acks: 'ALL' is not one of 0, 1, all, -1"},
    {"compression.type", "snappy", QUIRE_ERR_CONF_INVALID,
     "compression.type: snappy is not supported"},
    {"compression.type", "brotli", QUIRE_ERR_CONF_INVALID,
     "compression.type: 'brotli' is not one of none, gzip, lz4, zstd"},
    {"max.request.size", "61", QUIRE_ERR_CONF_INVALID,
     "max.request.size: 61 out of range [62, 2147483647]"},
    {"max.in.flight.requests.per.connection", "0", QUIRE_ERR_CONF_INVALID,
     "max.in.flight.requests.per.connection: 0 out of range [1, "
     "2147483647]"},
};

START_TEST(bad_values)
{
    quire_conf_t *conf = quire_conf_new();
    char before[256] = "";
    int known = strcmp(bad[_i].key, "no.such.key") != 0;

    if (known)
        strcpy(before, get(conf, bad[_i].key));
    errstr[0] = '\0';
    ck_assert_int_eq(quire_conf_set(conf, bad[_i].key, bad[_i].value, errstr,
                                    sizeof(errstr)),
                     bad[_i].err);
    ck_assert_str_eq(errstr, bad[_i].msg);
    if (known)
        ck_assert_str_eq(get(conf, bad[_i].key), before);
    /* a tiny errstr is truncated, never overrun */
    {
        char tiny[4] = "zzz";
        quire_conf_set(conf, bad[_i].key, bad[_i].value, tiny, 3);
        ck_assert_uint_le(strlen(tiny), 2);
    }
    quire_conf_destroy(conf);
}
END_TEST

START_TEST(null_args)
{
    quire_conf_t *conf = quire_conf_new();

    ck_assert_int_eq(quire_conf_set(NULL, "acks", "1", errstr, sizeof(errstr)),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(quire_conf_set(conf, NULL, "1", NULL, 0),
                     QUIRE_ERR_BAD_ARG);
    ck_assert_int_eq(quire_conf_set(conf, "acks", NULL, NULL, 0),
                     QUIRE_ERR_BAD_ARG);
    quire_conf_destroy(conf);
}
END_TEST

START_TEST(help_lists_every_key)
{
    char *text = NULL, *man = NULL;
    size_t len = 0, mlen = 0;
    FILE *fp = open_memstream(&text, &len);
    FILE *mfp = open_memstream(&man, &mlen);
    const char *key;

    quire_conf_print_help(fp);
    qr_cconf_print_man(mfp);
    fclose(fp);
    fclose(mfp);
    for (size_t i = 0; (key = qr_cconf_key(i)) != NULL; i++) {
        char line[128];

        ck_assert_ptr_nonnull(strstr(text, key));
        snprintf(line, sizeof(line), ".B %s\n", key);
        ck_assert_ptr_nonnull(strstr(man, line));
    }
    free(text);
    free(man);
}
END_TEST

/* issue 18 item 12: librdkafka's names are refused with the key to use;
 * log_level and reconnect.backoff.max.ms are keys */
START_TEST(librdkafka_names_refused)
{
    static const char *const pairs[][2] = {
        {"queue.buffering.max.ms", "linger.ms"},
        {"batch.num.messages", "batch.size"},
        {"message.timeout.ms", "delivery.timeout.ms"},
        {"compression.codec", "compression.type"},
        {"metadata.broker.list", "bootstrap.servers"},
        {"request.required.acks", "acks"},
    };
    quire_conf_t *conf = quire_conf_new();
    char why[256];

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        why[0] = '\0';
        ck_assert_int_eq(
            quire_conf_set(conf, pairs[i][0], "1", why, sizeof(why)),
            QUIRE_ERR_CONF_UNKNOWN);
        ck_assert_msg(strstr(why, pairs[i][0]) && strstr(why, pairs[i][1]),
                      "%s", why);
    }
    ck_assert_int_eq(quire_conf_set(conf, "log_level", "3", NULL, 0),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(quire_conf_set(conf, "log_level", "8", NULL, 0),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_int_eq(
        quire_conf_set(conf, "reconnect.backoff.max.ms", "2000", NULL, 0),
        QUIRE_ERR_NONE);
    quire_conf_destroy(conf);
}
END_TEST

START_TEST(version)
{
    ck_assert_str_eq(quire_version(), PACKAGE_VERSION);
    ck_assert_str_eq(quire_version(), QUIRE_VERSION_STR);
    ck_assert_str_eq(quire_err2str(QUIRE_ERR_NO_MEMORY), "Out of memory");
}
END_TEST

static Suite *clconf_suite(void)
{
    Suite *s = suite_create("clconf");
    TCase *tc = tcase_create("conf");

    tcase_set_tags(tc, "unit");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, every_key_round_trips);
    tcase_add_test(tc, set_values);
    tcase_add_test(tc, get_sizes);
    tcase_add_test(tc, dup_is_independent);
    tcase_add_loop_test(tc, bad_values, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, null_args);
    tcase_add_test(tc, help_lists_every_key);
    tcase_add_test(tc, version);
    tcase_add_test(tc, librdkafka_names_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(clconf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
