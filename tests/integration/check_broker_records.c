/*
 * check_broker_records: issue 17 items 1 and 5 against a real
 * quire-broker (and the harness's real ZooKeeper):
 *
 *   - two empty batches (lastOffsetDelta INT32_MAX, then 0) are refused;
 *     a compressed batch claiming INT32_MAX records, let through by a
 *     broker that trusts compressed batches, lands in a segment of its
 *     own; after kill -9 and a restart, a record acknowledged after it is
 *     still there;
 *   - three "records" of 0xff bytes with a valid CRC, and a gzip batch of
 *     garbage, are refused with INVALID_RECORD / CORRUPT_MESSAGE, and
 *     nothing of them is stored;
 *   - a corrupt batch planted on disk is reported by libquire's consumer
 *     with its offset range and skipped by seek; quire-console-consumer
 *     stops there and names it, or skips it with --skip-message-on-error.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "qt_broker.h"
#include "qt_client.h"
#include "qt_craft.h"
#include "qt_records.h"
#include "qt_zk.h"
#include "quire.h"

#ifndef QT_CONSOLE_CONSUMER
#error "QT_CONSOLE_CONSUMER must name tools/quire-console-consumer"
#endif

#define START_MS 30000
#define IO_MS    10000
#define TOPIC_MS 20000

static qt_broker_t *start_broker(int id, char **chroot, const char *extra)
{
    char props[512];
    qt_broker_t *b;

    *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(*chroot);
    /* a short session: the restarted broker re-registers soon after a
     * kill -9 */
    snprintf(props, sizeof(props),
             "num.partitions=1\nzookeeper.session.timeout.ms=3000\n%s",
             extra ? extra : "");
    b = qt_broker_new(id, *chroot, props);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    return b;
}

static qt_client_t *connect_topic(const qt_broker_t *b, const char *topic)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(qt_wait_topic(c, topic, 1, TOPIC_MS), 0);
    return c;
}

/* Produces one record "<prefix>-<n>" with acks=1; returns its offset. */
static int64_t produce_one(qt_client_t *c, const char *topic,
                           const char *prefix, int n)
{
    uint8_t buf[1024];
    size_t len = qt_batch(buf, sizeof(buf), 1, prefix, n);
    int64_t base = -1;

    ck_assert_int_eq(qt_produce(c, topic, 0, 1, buf, len, &base, IO_MS),
                     QUIRE_ERR_NONE);
    return base;
}

/* The value of the record at @p offset, fetched; 0 when it is there and
 * reads "<prefix>-<n>". */
static int has_record(qt_client_t *c, const char *topic, int64_t offset,
                      const char *prefix, int n)
{
    qr_resp_t resp;
    const qr_fetch_part_resp_t *fp;
    qr_batch_iter_t it;
    qr_batch_rec_t rec;
    char want[64];
    int wl = snprintf(want, sizeof(want), "%s-%d", prefix, n), found = -1;

    /* Wait up to 5 s for the record to become visible: with
     * log.write.caching=false (the default) an acks=1 record is served
     * only once its background sync is done. */
    ck_assert_int_eq(qt_fetch(c, topic, 0, offset, 5000, 1, 1 << 20, 1 << 20,
                              &resp, &fp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_NONE);
    if (fp->records_length > 0 &&
        qr_batch_iter_init(&it, fp->records, fp->records_length) ==
            QUIRE_ERR_NONE)
        while (qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE)
            if (rec.offset == offset && rec.value_len == wl &&
                memcmp(rec.value, want, (size_t)wl) == 0)
                found = 0;
    qr_wire_resp_free(&resp);
    return found;
}

/* ---- item 1 ---- */

START_TEST(test_offset_jumps_and_kill)
{
    char *chroot;
    qt_broker_t *b =
        start_broker(11, &chroot, "log.message.validate.compressed=false\n");
    qt_client_t *c = connect_topic(b, "span");
    uint8_t buf[1024];
    size_t n;
    int64_t base = -1, acked;

    /* the request: refused, the log end does not move */
    n = qt_craft_batch(buf, 0, INT32_MAX, 0, NULL, 0);
    n += qt_craft_batch(buf + n, 0, 0, 0, NULL, 0);
    ck_assert_int_eq(qt_produce(c, "span", 0, 1, buf, n, &base, IO_MS),
                     QUIRE_ERR_INVALID_RECORD);
    /* What a trusted producer can still send, on the empty first segment:
     * two compressed batches claiming INT32_MAX records each (this broker
     * does not decompress them), offsets 0 .. 2^32 - 3 in one request. */
    n = qt_craft_garbage_gzip(buf, INT32_MAX);
    n += qt_craft_garbage_gzip(buf + n, INT32_MAX);
    ck_assert_int_eq(qt_produce(c, "span", 0, 1, buf, n, &base, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(base, 0);
    acked = produce_one(c, "span", "r", 0);
    ck_assert_int_eq(acked, 2 * (int64_t)INT32_MAX);
    ck_assert_int_eq(produce_one(c, "span", "r", 1), acked + 1);
    qt_client_close(c);

    ck_assert_int_eq(qt_broker_kill(b), 0);
    /* the dead broker's registration lasts until its session expires */
    zhandle_t *zh = qt_zk_connect(chroot, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/11", false, 30000));
    qt_zk_close(zh);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    c = connect_topic(b, "span");
    ck_assert_msg(has_record(c, "span", acked, "r", 0) == 0,
                  "the record acknowledged at %lld is gone", (long long)acked);
    ck_assert_int_eq(has_record(c, "span", acked + 1, "r", 1), 0);
    ck_assert_int_eq(produce_one(c, "span", "r", 2), acked + 2);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* ---- item 5: refused at produce ---- */

START_TEST(test_malformed_refused)
{
    char *chroot;
    qt_broker_t *b = start_broker(12, &chroot, NULL);
    qt_client_t *c = connect_topic(b, "bad");
    uint8_t buf[1024], ff[30];
    size_t n;
    int64_t base;

    memset(ff, 0xff, sizeof(ff));
    n = qt_craft_batch(buf, 0, 2, 3, ff, sizeof(ff));
    ck_assert_int_eq(qt_produce(c, "bad", 0, 1, buf, n, &base, IO_MS),
                     QUIRE_ERR_INVALID_RECORD);
    n = qt_craft_garbage_gzip(buf, INT32_MAX);
    ck_assert_int_eq(qt_produce(c, "bad", 0, 1, buf, n, &base, IO_MS),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    /* nothing of them was stored: the next record is the first */
    ck_assert_int_eq(produce_one(c, "bad", "r", 0), 0);
    ck_assert_int_eq(has_record(c, "bad", 0, "r", 0), 0);
    qt_client_close(c);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* ---- item 5: a corrupt batch on disk, met by consumers ---- */

/* Flips a value byte of the @p nth batch of segment 0 of topic-0. */
static void plant(const qt_broker_t *b, const char *topic, int nth)
{
    char path[PATH_MAX];
    uint8_t hdr[12], v;
    off_t pos = 0;
    int fd;

    snprintf(path, sizeof(path), "%s/%s-0/%020d.log", b->log_dir, topic, 0);
    fd = open(path, O_RDWR);
    ck_assert_msg(fd >= 0, "open %s", path);
    for (int i = 0; i < nth; i++) {
        ck_assert_int_eq(pread(fd, hdr, 12, pos), 12);
        pos += 12 + qr_be32_get(hdr + 8);
    }
    pos += QR_BATCH_HEADER_SIZE + 10;
    ck_assert_int_eq(pread(fd, &v, 1, pos), 1);
    v ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &v, 1, pos), 1);
    close(fd);
}

static quire_consumer_t *consumer_new(const qt_broker_t *b)
{
    quire_conf_t *conf = quire_conf_new();
    quire_consumer_t *cons = NULL;
    char errstr[256];

    ck_assert_ptr_nonnull(conf);
    ck_assert_int_eq(quire_conf_set(conf, "bootstrap.servers", b->addr, errstr,
                                    sizeof(errstr)),
                     QUIRE_ERR_NONE);
    ck_assert_msg(quire_consumer_new(conf, &cons, errstr, sizeof(errstr)) ==
                      QUIRE_ERR_NONE,
                  "%s", errstr);
    return cons;
}

/* Polls the next record (bounded); returns poll's code. */
static quire_err_t poll_one(quire_consumer_t *cons, const quire_record_t **r)
{
    quire_err_t err = QUIRE_ERR_TIMED_OUT;

    for (int i = 0; i < 100 && err == QUIRE_ERR_TIMED_OUT; i++)
        err = quire_consumer_poll(cons, 100, r);
    return err;
}

static void console(const qt_broker_t *b, int skip, qt_run_result_t *res)
{
    char *argv[] = {QT_CONSOLE_CONSUMER,
                    "--bootstrap-server",
                    (char *)b->addr,
                    "--topic",
                    "planted",
                    "--from-beginning",
                    "--timeout-ms",
                    "3000",
                    skip ? "--skip-message-on-error" : NULL,
                    NULL};

    ck_assert_int_eq(qt_run(argv, NULL, 60000, res), 0);
}

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(test_corrupt_batch_skipped)
{
    char *chroot;
    qt_broker_t *b = start_broker(13, &chroot, NULL);
    qt_client_t *c = connect_topic(b, "planted");
    const quire_record_t *r;
    quire_consumer_t *cons;
    qt_run_result_t res;
    uint8_t buf[4096];

    for (int i = 0; i < 3; i++) {
        size_t len = qt_batch(buf, sizeof(buf), 5, "r", i * 5);
        int64_t base;
        ck_assert_int_eq(qt_produce(c, "planted", 0, 1, buf, len, &base, IO_MS),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(base, i * 5);
    }
    qt_client_close(c);
    /* stopped cleanly, so the next start trusts the segment and serves
     * the damaged batch as it is (disk corruption recovery cannot see) */
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    plant(b, "planted", 1); /* offsets 5..9 */
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);

    cons = consumer_new(b);
    ck_assert_int_eq(
        quire_consumer_assign(cons, "planted", 0, QUIRE_OFFSET_BEGINNING),
        QUIRE_ERR_NONE);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(poll_one(cons, &r), QUIRE_ERR_NONE);
        ck_assert_int_eq(r->offset, i);
    }
    ck_assert_int_eq(poll_one(cons, &r), QUIRE_ERR_CORRUPT_MESSAGE);
    ck_assert_str_eq(r->topic, "planted");
    ck_assert_int_eq(r->offset, 5);
    ck_assert_int_eq(r->last_offset, 9);
    ck_assert_ptr_nonnull(r->value);
    ck_assert_msg(strstr((const char *)r->value, "offsets 5..9") != NULL,
                  "message: %.*s", (int)r->value_len, (const char *)r->value);
    /* the partition waits for a decision */
    ck_assert_int_eq(quire_consumer_poll(cons, 300, &r), QUIRE_ERR_TIMED_OUT);
    ck_assert_int_eq(quire_consumer_seek(cons, "planted", 0, 10),
                     QUIRE_ERR_NONE);
    for (int i = 10; i < 15; i++) {
        ck_assert_int_eq(poll_one(cons, &r), QUIRE_ERR_NONE);
        ck_assert_int_eq(r->offset, i);
    }
    quire_consumer_close(cons);

    console(b, 0, &res);
    ck_assert_msg(res.status == 1, "status %d: %s", res.status, res.err);
    ck_assert_int_eq(lines(res.out), 5);
    ck_assert_msg(strstr(res.err, "offsets 5..9") != NULL, "stderr: %s",
                  res.err);
    qt_run_free(&res);
    console(b, 1, &res);
    ck_assert_msg(res.status == 0, "status %d: %s", res.status, res.err);
    ck_assert_int_eq(lines(res.out), 10);
    ck_assert_msg(strstr(res.err, "skipped offsets 5..9") != NULL, "stderr: %s",
                  res.err);
    qt_run_free(&res);

    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("broker_records");
    TCase *tc = tcase_create("records");
    SRunner *sr;
    int failed;

    qt_zk_env(); /* exits 99 without the harness's ZooKeeper */
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_offset_jumps_and_kill);
    tcase_add_test(tc, test_malformed_refused);
    tcase_add_test(tc, test_corrupt_batch_skipped);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
