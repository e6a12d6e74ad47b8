/*
 * check_broker_topicconf: per-topic config overrides (/config/topics/<t>,
 * written by quire-topics --create/--alter --config) applied by a real
 * quire-broker over its log.* defaults, with the harness's real ZooKeeper.
 *
 * A topic made with a small segment.bytes and max.message.bytes rolls
 * segments on disk and refuses a batch that another topic on the same
 * broker accepts; altering the config (and removing an override) changes
 * what the running broker does, without a restart; a restart opens the
 * logs with the overrides again.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "wire.h"

#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"

#ifndef QT_TOPICS_BIN
#error "QT_TOPICS_BIN must name tools/quire-topics"
#endif

#define START_MS 30000
#define IO_MS    10000
#define TOPIC_MS 20000
/* polls for a config change to reach the broker: bounded in count */
#define POLLS   500
#define POLL_US 20000

static char *zk_chroot;

/* quire-topics with @p args (NULL-terminated, at most 12) after
 * --zookeeper; asserts exit 0. */
static void topics_cmd(const char *const *args)
{
    char *argv[16];
    int n = 0;
    qt_run_result_t res;

    argv[n++] = QT_TOPICS_BIN;
    argv[n++] = "--zookeeper";
    argv[n++] = zk_chroot;
    for (; *args && n < 15; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    ck_assert_int_eq(qt_run(argv, NULL, 20000, &res), 0);
    ck_assert_msg(res.status == 0, "quire-topics: %s", res.err);
    qt_run_free(&res);
}

/* Log segments of topic-0 in the broker's log dir. */
static int segments(const qt_broker_t *b, const char *topic)
{
    char path[600];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s-0", b->log_dir, topic);
    d = opendir(path);
    ck_assert_msg(d != NULL, "no directory %s", path);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".log") == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* A batch of @p n records with long values: about 110 bytes a record. */
static size_t big_batch(uint8_t *buf, size_t cap, int n)
{
    char prefix[101];
    size_t len;

    memset(prefix, 'v', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    len = qt_batch(buf, cap, n, prefix, 0);
    ck_assert_uint_gt(len, 0);
    return len;
}

static quire_err_t produce(qt_client_t *c, const char *topic, int nrec)
{
    uint8_t buf[16384];
    size_t len = big_batch(buf, sizeof(buf), nrec);

    return qt_produce(c, topic, 0, 1, buf, len, NULL, IO_MS);
}

/* Produces @p nrec-record batches until one gets @p want (bounded). */
static int produce_until(qt_client_t *c, const char *topic, int nrec,
                         quire_err_t want)
{
    for (int i = 0; i < POLLS; i++) {
        if (produce(c, topic, nrec) == want)
            return 1;
        usleep(POLL_US);
    }
    return 0;
}

START_TEST(test_topic_overrides)
{
    qt_broker_t *b;
    qt_client_t *c;
    char small[64], plain[64];
    int before;

    zk_chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_chroot);
    b = qt_broker_new(1, zk_chroot, "num.partitions=1\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    snprintf(small, sizeof(small), "small-%d", (int)getpid());
    snprintf(plain, sizeof(plain), "plain-%d", (int)getpid());
    {
        const char *a[] = {"--create",
                           "--topic",
                           small,
                           "--partitions",
                           "1",
                           "--config",
                           "segment.bytes=2048",
                           "--config",
                           "max.message.bytes=800",
                           NULL};
        const char *p[] = {"--create",     "--topic", plain,
                           "--partitions", "1",       NULL};
        topics_cmd(a);
        topics_cmd(p);
    }
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, small, 1, TOPIC_MS), 0);
    ck_assert_int_eq(qt_wait_topic(c, plain, 1, TOPIC_MS), 0);

    /* max.message.bytes=800: a ~1 KiB batch is too large for this topic
     * only; the broker's message.max.bytes (1 MiB) holds for the other. */
    ck_assert_int_eq(produce(c, small, 9), QUIRE_ERR_MESSAGE_TOO_LARGE);
    ck_assert_int_eq(produce(c, plain, 9), QUIRE_ERR_NONE);

    /* segment.bytes=2048: ~550-byte batches roll a new segment every few;
     * the other topic keeps one segment of the default 1 GiB. */
    for (int i = 0; i < 12; i++) {
        ck_assert_int_eq(produce(c, small, 5), QUIRE_ERR_NONE);
        ck_assert_int_eq(produce(c, plain, 5), QUIRE_ERR_NONE);
    }
    ck_assert_int_ge(segments(b, small), 3);
    ck_assert_int_eq(segments(b, plain), 1);

    /* Altered while the broker runs: max.message.bytes removed (back to
     * the broker's default) on one, segment.bytes set on the other. */
    {
        const char *a[] = {"--alter",         "--topic",           small,
                           "--delete-config", "max.message.bytes", NULL};
        const char *p[] = {
            "--alter", "--topic", plain, "--config", "segment.bytes=2048",
            NULL};
        topics_cmd(a);
        topics_cmd(p);
    }
    ck_assert(produce_until(c, small, 9, QUIRE_ERR_NONE));
    /* new segment sizes apply from the next roll: the big active segment
     * rolls at the next append once the change is in */
    before = segments(b, plain);
    for (int i = 0; i < POLLS && segments(b, plain) == before; i++) {
        ck_assert_int_eq(produce(c, plain, 5), QUIRE_ERR_NONE);
        usleep(POLL_US);
    }
    ck_assert_int_gt(segments(b, plain), before);
    before = segments(b, plain);
    for (int i = 0; i < 12; i++)
        ck_assert_int_eq(produce(c, plain, 5), QUIRE_ERR_NONE);
    ck_assert_int_ge(segments(b, plain), before + 2);

    /* And set again: the limit comes back without a restart. */
    {
        const char *a[] = {
            "--alter", "--topic", small, "--config", "max.message.bytes=800",
            NULL};
        topics_cmd(a);
    }
    ck_assert(produce_until(c, small, 9, QUIRE_ERR_MESSAGE_TOO_LARGE));
    ck_assert_int_eq(produce(c, plain, 9), QUIRE_ERR_NONE);
    qt_client_close(c);

    /* A restarted broker opens the logs with the overrides. */
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, small, 1, TOPIC_MS), 0);
    ck_assert_int_eq(produce(c, small, 9), QUIRE_ERR_MESSAGE_TOO_LARGE);
    ck_assert_int_eq(produce(c, small, 5), QUIRE_ERR_NONE);
    ck_assert_int_eq(produce(c, plain, 9), QUIRE_ERR_NONE);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(zk_chroot);
}
END_TEST

/* The first batch of @p topic-0 as fetched: its header and whether its
 * CRC holds. */
static void first_batch(qt_client_t *c, const char *topic, qr_batch_hdr_t *hdr)
{
    const qr_fetch_part_resp_t *part;
    const char *why = NULL;
    qr_resp_t resp;

    ck_assert_int_eq(
        qt_fetch(c, topic, 0, 0, 0, 1, 1 << 20, 1 << 20, &resp, &part, IO_MS),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(part->error_code, QUIRE_ERR_NONE);
    ck_assert_uint_gt(part->records_length, 0);
    ck_assert_int_eq(qr_batch_validate(part->records, part->records_length,
                                       QR_BATCH_CHECK_RECORDS, hdr, &why),
                     QUIRE_ERR_NONE);
    qr_wire_resp_free(&resp);
}

/* message.timestamp.type=LogAppendTime: the broker stamps each batch with
 * its clock (type bit, maxTimestamp, CRC recomputed); CreateTime topics
 * keep the producer's timestamps. */
START_TEST(test_log_append_time)
{
    qt_broker_t *b;
    qt_client_t *c;
    char lat[64], ct[64];
    qr_batch_hdr_t hdr;
    int64_t t0, t1;

    zk_chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_chroot);
    /* reads right after an acks=1 produce: visible at append */
    b = qt_broker_new(1, zk_chroot,
                      "num.partitions=1\nlog.write.caching=true\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    snprintf(lat, sizeof(lat), "lat-%d", (int)getpid());
    snprintf(ct, sizeof(ct), "ct-%d", (int)getpid());
    {
        const char *a[] = {"--create",
                           "--topic",
                           lat,
                           "--partitions",
                           "1",
                           "--config",
                           "message.timestamp.type=LogAppendTime",
                           NULL};
        const char *p[] = {"--create",     "--topic", ct,
                           "--partitions", "1",       NULL};
        topics_cmd(a);
        topics_cmd(p);
    }
    c = qt_client_connect(b->addr, IO_MS);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, lat, 1, TOPIC_MS), 0);
    ck_assert_int_eq(qt_wait_topic(c, ct, 1, TOPIC_MS), 0);
    t0 = (int64_t)time(NULL) * 1000 - 1000;
    ck_assert_int_eq(produce(c, lat, 3), QUIRE_ERR_NONE);
    ck_assert_int_eq(produce(c, ct, 3), QUIRE_ERR_NONE);
    t1 = (int64_t)time(NULL) * 1000 + 1000;
    first_batch(c, lat, &hdr);
    ck_assert(hdr.attributes & QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND);
    ck_assert_int_ge(hdr.max_timestamp, t0);
    ck_assert_int_le(hdr.max_timestamp, t1);
    first_batch(c, ct, &hdr);
    ck_assert(!(hdr.attributes & QR_BATCH_ATTR_TIMESTAMP_LOG_APPEND));
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(zk_chroot);
}
END_TEST

static Suite *topicconf_suite(void)
{
    Suite *s = suite_create("broker_topicconf");
    TCase *tc = tcase_create("topic overrides");

    tcase_set_timeout(tc, 120);
    tcase_set_tags(tc, "integration zk");
    tcase_add_test(tc, test_topic_overrides);
    tcase_add_test(tc, test_log_append_time);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(topicconf_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
