/*
 * check_brokerconf: the broker's config table (broker/brokerconf.c):
 * defaults, Kafka's names, every bad value refused with the key named,
 * listener syntax, precedence rules, and the man page matching the table.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brokerconf.h"

#ifndef QR_TOP_SRCDIR
#error "QR_TOP_SRCDIR must be defined"
#endif

static qr_brokerconf_t *bconf;
static char errstr[512];

static void setup(void)
{
    bconf = qr_brokerconf_new();
}

static void teardown(void)
{
    qr_brokerconf_destroy(bconf);
}

static void set_ok(const char *k, const char *v)
{
    quire_err_t err = qr_brokerconf_set(bconf, k, v, errstr, sizeof(errstr));
    ck_assert_msg(err == QUIRE_ERR_NONE, "%s=%s: %s", k, v, errstr);
}

START_TEST(test_defaults)
{
    ck_assert_int_eq(bconf->listeners.n, 1);
    ck_assert_str_eq(bconf->listeners.v[0], "PLAINTEXT://:9092");
    ck_assert_int_eq(bconf->num_partitions, 1);
    ck_assert_int_eq(bconf->auto_create_topics_enable, 1);
    ck_assert_int_eq(bconf->message_max_bytes, 1048588);
    ck_assert_int_eq(bconf->socket_request_max_bytes, 104857600);
    ck_assert_int_eq(bconf->socket_send_buffer_bytes, 102400);
    ck_assert(bconf->log_segment_bytes == 1073741824);
    ck_assert(bconf->log_retention_bytes == -1);
    ck_assert(qr_brokerconf_retention_ms(bconf) == 168LL * 3600 * 1000);
    ck_assert(qr_brokerconf_roll_ms(bconf) == 168LL * 3600 * 1000);
    ck_assert_int_eq(bconf->advertised_listeners.n, 0);
    ck_assert_ptr_null(bconf->debug);
    ck_assert_int_ge(qr_brokerconf_net_threads(bconf), 1);
    ck_assert_int_le(qr_brokerconf_net_threads(bconf), 8);
}
END_TEST

START_TEST(test_required)
{
    /* zookeeper.connect has no default; broker.id defaults to -1 (found in
     * meta.properties or generated, Kafka's broker.id.generation.enable) */
    ck_assert_int_eq(bconf->broker_id, -1);
    ck_assert_int_eq(bconf->broker_id_generation_enable, 1);
    ck_assert_int_eq(bconf->reserved_broker_max_id, 1000);
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "zookeeper.connect"));
    set_ok("zookeeper.connect", "127.0.0.1:2181/q");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    set_ok("broker.id", "3");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(bconf->broker_id, 3);
}
END_TEST

/* Kafka's rule for configured ids next to generated ones. */
START_TEST(test_broker_id_range)
{
    set_ok("zookeeper.connect", "127.0.0.1:2181/q");
    set_ok("broker.id", "1000");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    /* above reserved.broker.max.id: that range is the generator's */
    set_ok("broker.id", "1001");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "reserved.broker.max.id"));
    set_ok("reserved.broker.max.id", "5000");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    /* without generation any id goes, but one must be given */
    set_ok("broker.id.generation.enable", "false");
    set_ok("broker.id", "99999");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    set_ok("broker.id", "-1");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_ptr_nonnull(strstr(errstr, "broker.id.generation.enable"));
}
END_TEST

START_TEST(test_precedence)
{
    set_ok("log.retention.hours", "2");
    ck_assert(qr_brokerconf_retention_ms(bconf) == 2LL * 3600 * 1000);
    set_ok("log.retention.minutes", "5");
    ck_assert(qr_brokerconf_retention_ms(bconf) == 5LL * 60 * 1000);
    set_ok("log.retention.ms", "1234");
    ck_assert(qr_brokerconf_retention_ms(bconf) == 1234);
    set_ok("log.retention.ms", "-1");
    ck_assert(qr_brokerconf_retention_ms(bconf) == -1);
    set_ok("log.roll.ms", "777");
    ck_assert(qr_brokerconf_roll_ms(bconf) == 777);
    set_ok("num.network.threads", "5");
    ck_assert_int_eq(qr_brokerconf_net_threads(bconf), 5);
}
END_TEST

/* Each bad value is refused with the key in the message. */
static const struct bad {
    const char *key, *value;
    quire_err_t err;
} bad[] = {
    {"no.such.key", "1", QUIRE_ERR_CONF_UNKNOWN},
    {"broker.id", "-2", QUIRE_ERR_CONF_INVALID},
    {"reserved.broker.max.id", "-1", QUIRE_ERR_CONF_INVALID},
    {"broker.id.generation.enable", "yes", QUIRE_ERR_CONF_INVALID},
    {"broker.id", "x", QUIRE_ERR_CONF_INVALID},
    {"num.network.threads", "65", QUIRE_ERR_CONF_INVALID},
    {"num.partitions", "0", QUIRE_ERR_CONF_INVALID},
    {"auto.create.topics.enable", "maybe", QUIRE_ERR_CONF_INVALID},
    {"message.max.bytes", "10", QUIRE_ERR_CONF_INVALID},
    {"socket.request.max.bytes", "1", QUIRE_ERR_CONF_INVALID},
    {"socket.send.buffer.bytes", "-2", QUIRE_ERR_CONF_INVALID},
    {"zookeeper.session.timeout.ms", "5", QUIRE_ERR_CONF_INVALID},
    {"log.segment.bytes", "3000000000", QUIRE_ERR_CONF_INVALID},
    {"log.index.interval.bytes", "-5", QUIRE_ERR_CONF_INVALID},
    {"default.replication.factor", "65", QUIRE_ERR_CONF_INVALID},
    {"leader.imbalance.per.broker.percentage", "101", QUIRE_ERR_CONF_INVALID},
    {"leader.imbalance.check.interval.seconds", "0", QUIRE_ERR_CONF_INVALID},
    {"log.flush.interval.messages", "0", QUIRE_ERR_CONF_INVALID},
};

START_TEST(test_bad_value)
{
    const struct bad *b = &bad[_i];
    quire_err_t err =
        qr_brokerconf_set(bconf, b->key, b->value, errstr, sizeof(errstr));

    ck_assert_int_eq(err, b->err);
    ck_assert_msg(strstr(errstr, b->key) != NULL, "\"%s\" does not name %s",
                  errstr, b->key);
}
END_TEST

/* Values only qr_brokerconf_check() can judge. */
static const struct bad_check {
    const char *key, *value, *named;
} bad_check[] = {
    {"listeners", "127.0.0.1:9092", "listeners"},
    {"listeners", "SSL://127.0.0.1:9092", "listeners"},
    {"listeners", "PLAINTEXT://127.0.0.1", "listeners"},
    {"listeners", "PLAINTEXT://127.0.0.1:99999", "listeners"},
    {"listeners", "PLAINTEXT://[::1:9092", "listeners"},
    {"listeners", "PLAINTEXT://h:12x", "listeners"},
    {"advertised.listeners", "nonsense", "advertised.listeners"},
    /* issue 13: Kafka's protocol only beside a quire listener */
    {"listeners", "KAFKA://127.0.0.1:19092", "PLAINTEXT"},
    {"listeners", "KAFKA:/127.0.0.1:19092", "listeners"},
    {"socket.request.max.bytes", "2048", "socket.request.max.bytes"},
    {"debug", "zk,bogus", "debug"},
};

START_TEST(test_bad_check)
{
    const struct bad_check *b = &bad_check[_i];

    set_ok("broker.id", "1");
    set_ok("zookeeper.connect", "localhost:2181");
    set_ok(b->key, b->value);
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_INVALID);
    ck_assert_msg(strstr(errstr, b->named) != NULL, "\"%s\" does not name %s",
                  errstr, b->named);
}
END_TEST

START_TEST(test_listener_parse)
{
    qr_listener_addr_t la;

    ck_assert_int_eq(qr_listener_addr_parse("PLAINTEXT://127.0.0.1:9092", &la,
                                            errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_str_eq(la.host, "127.0.0.1");
    ck_assert_int_eq(la.port, 9092);
    ck_assert_int_eq(qr_listener_addr_parse("PLAINTEXT://[::1]:0", &la, errstr,
                                            sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_str_eq(la.host, "::1");
    ck_assert_int_eq(la.port, 0);
    ck_assert_int_eq(qr_listener_addr_parse("PLAINTEXT://:9093", &la, errstr,
                                            sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_str_eq(la.host, "");
    ck_assert_int_eq(la.port, 9093);
    ck_assert_int_eq(la.proto, QR_WIREPROTO_QUIRE);
    /* issue 13: the name says the protocol */
    ck_assert_int_eq(qr_listener_addr_parse("KAFKA://127.0.0.1:19092", &la,
                                            errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(la.proto, QR_WIREPROTO_KAFKA);
    ck_assert_str_eq(la.name, "KAFKA");
    ck_assert_int_eq(la.port, 19092);
    ck_assert_int_eq(
        qr_listener_addr_parse("QUIRE://:9094", &la, errstr, sizeof(errstr)),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(la.proto, QR_WIREPROTO_QUIRE);
    set_ok("zookeeper.connect", "127.0.0.1:2181/q");
    set_ok("listeners", "PLAINTEXT://:0,KAFKA://:0");
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
}
END_TEST

START_TEST(test_load_file)
{
    char path[] = "/tmp/check_brokerconf-XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");

    ck_assert_ptr_nonnull(fp);
    fputs("# comment\nbroker.id=7\nzookeeper.connect=z:1/c\n"
          "listeners=PLAINTEXT://127.0.0.1:0,PLAINTEXT://[::1]:0\n"
          "log.dirs=/a,/b\nbogus.key=1\n",
          fp);
    fclose(fp);
    ck_assert_int_eq(qr_brokerconf_load(bconf, path, errstr, sizeof(errstr)),
                     QUIRE_ERR_CONF_UNKNOWN);
    /* "<file>:<line>: <key>: <reason>" */
    ck_assert_ptr_nonnull(strstr(errstr, ":6: bogus.key"));
    ck_assert_int_eq(bconf->broker_id, 7);
    ck_assert_int_eq(bconf->listeners.n, 2);
    ck_assert_int_eq(bconf->log_dirs.n, 2);
    ck_assert_str_eq(bconf->log_dirs.v[1], "/b");
    unlink(path);
}
END_TEST

/* Every key of the table is in --help-config. */
START_TEST(test_help)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    qr_brokerconf_print_help(mem);
    fclose(mem);
    for (size_t i = 0; i < qr_brokerconf_table.count; i++)
        ck_assert_msg(strstr(text, qr_brokerconf_table.props[i].name),
                      "%s missing", qr_brokerconf_table.props[i].name);
    free(text);
}
END_TEST

/* The commented example in deploy/ is a valid configuration. */
START_TEST(test_deploy_example)
{
    const char *path = QR_TOP_SRCDIR "/deploy/server.properties";

    ck_assert_msg(qr_brokerconf_load(bconf, path, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    ck_assert_int_eq(qr_brokerconf_check(bconf, errstr, sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(bconf->broker_id, 0);
}
END_TEST

#define MAN_BEGIN ".\\\" ---- BEGIN KEYS"
#define MAN_END   ".\\\" ---- END KEYS"

/* The committed man page's key list is what the table generates
 * (regenerate it with `quire-broker --help-config-man`). */
START_TEST(test_man_page_matches)
{
    const char *path = QR_TOP_SRCDIR "/man/quire-broker.properties.5";
    FILE *fp = fopen(path, "r");
    char *page, *gen = NULL, *begin, *end;
    size_t glen = 0;
    long size;
    FILE *mem;

    ck_assert_msg(fp != NULL, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    page = calloc(1, (size_t)size + 1);
    ck_assert_int_eq(fread(page, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    begin = strstr(page, MAN_BEGIN);
    end = strstr(page, MAN_END);
    ck_assert_msg(begin && end && end > begin, "markers missing in %s", path);
    begin = strchr(begin, '\n') + 1;
    *end = '\0';
    mem = open_memstream(&gen, &glen);
    qr_brokerconf_print_man(mem);
    fclose(mem);
    ck_assert_msg(strcmp(begin, gen) == 0,
                  "%s is out of date: regenerate its key list with "
                  "quire-broker --help-config-man",
                  path);
    free(gen);
    free(page);
}
END_TEST

static Suite *brokerconf_suite(void)
{
    Suite *s = suite_create("brokerconf");
    TCase *tc = tcase_create("table");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_required);
    tcase_add_test(tc, test_broker_id_range);
    tcase_add_test(tc, test_precedence);
    tcase_add_loop_test(tc, test_bad_value, 0,
                        (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_loop_test(tc, test_bad_check, 0,
                        (int)(sizeof(bad_check) / sizeof(bad_check[0])));
    tcase_add_test(tc, test_listener_parse);
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_man_page_matches);
    tcase_add_test(tc, test_deploy_example);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(brokerconf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
