/*
 * check_broker_data: the data path of a real quire-broker (with the
 * harness's real ZooKeeper): Produce with acks 0/1/all over several
 * partitions, Fetch (sendfile, limits, a first batch larger than the limit
 * returned whole, long-poll woken by appends and timing out when idle),
 * ListOffsets, every bad produce answered with its code while other
 * clients carry on, restart keeping data, SIGKILL + restart serving every
 * acks=all record.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "frame.h"
#include "qt_broker.h"
#include "qt_client.h"
#include "qt_records.h"
#include "qt_zk.h"

#define START_MS 30000
#define IO_MS    10000
#define TOPIC_MS 20000
#define NPARTS   3

static qt_broker_t *broker;
static char *zk_chroot;

static void start_shared(void)
{
    zk_chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(zk_chroot);
    /* These tests read right after acks=0/1 produces: records visible at
     * append, Kafka's way (the default, visible once synced, is tested by
     * check_durable and check_powerloss). */
    broker = qt_broker_new(1, zk_chroot,
                           "num.partitions=3\n"
                           "log.write.caching=true\n"
                           "message.max.bytes=1048576\n"
                           "socket.request.max.bytes=4194304\n");
    ck_assert_ptr_nonnull(broker);
    ck_assert_int_eq(qt_broker_start(broker, START_MS), 0);
}

static void stop_shared(void)
{
    if (broker)
        ck_assert_int_eq(qt_broker_stop(broker, 30000), 0);
    qt_broker_destroy(broker);
    broker = NULL;
    free(zk_chroot);
}

static qt_client_t *connect_ok(const qt_broker_t *b)
{
    qt_client_t *c = qt_client_connect(b->addr, IO_MS);

    ck_assert_ptr_nonnull(c);
    return c;
}

/* A topic ready to use, with a name unique to the test. */
static void make_topic(qt_client_t *c, char *name, size_t size,
                       const char *what, int n)
{
    snprintf(name, size, "%s-%d-%d", what, (int)getpid(), n);
    ck_assert_int_eq(qt_wait_topic(c, name, NPARTS, TOPIC_MS), 0);
}

/* Fetches everything of topic-partition from @from and checks the values
 * run "<prefix>-<first>"...; returns the record count. */
static long fetch_all(qt_client_t *c, const char *topic, int32_t partition,
                      int64_t from, const char *prefix, int first)
{
    long total = 0;
    int64_t next = from;

    for (int rounds = 0; rounds < 1000; rounds++) {
        qr_resp_t resp;
        const qr_fetch_part_resp_t *fp;
        int64_t last = -1;
        long n;

        ck_assert_int_eq(qt_fetch(c, topic, partition, next, 0, 0, 1 << 20,
                                  1 << 20, &resp, &fp, IO_MS),
                         QUIRE_ERR_NONE);
        ck_assert_msg(fp->error_code == QUIRE_ERR_NONE, "fetch: %s",
                      quire_err2name(fp->error_code));
        if (fp->records_length == 0) {
            qr_wire_resp_free(&resp);
            break;
        }
        n = qt_count_records(fp->records, fp->records_length, NULL, 0, &last);
        ck_assert_int_gt(n, 0);
        /* The first batch may start before @next: count only from it. */
        if (prefix) {
            /* Values are checked by position from the fetch offset. */
            qr_batch_iter_t it;
            qr_batch_rec_t rec;
            size_t off = 0;
            char want[128];
            while (off < fp->records_length) {
                ck_assert_int_eq(qr_batch_iter_init(&it, fp->records + off,
                                                    fp->records_length - off),
                                 QUIRE_ERR_NONE);
                while (qr_batch_iter_next(&it, &rec) == QUIRE_ERR_NONE) {
                    if (rec.offset < next)
                        continue;
                    int wl = snprintf(want, sizeof(want), "%s-%ld", prefix,
                                      first + (long)(rec.offset - from));
                    ck_assert_msg(rec.value_len == wl &&
                                      !memcmp(rec.value, want, (size_t)wl),
                                  "offset %lld: want %s", (long long)rec.offset,
                                  want);
                }
                off += qr_batch_size(&it.hdr);
            }
        }
        total += (long)(last + 1 - next);
        next = last + 1;
        qr_wire_resp_free(&resp);
    }
    return total;
}

static const int acks_values[] = {0, 1, -1};

START_TEST(test_roundtrip_acks)
{
    int acks = acks_values[_i];
    qt_client_t *c = connect_ok(broker);
    uint8_t buf[16384];
    char topic[128], prefix[32];

    make_topic(c, topic, sizeof(topic), "acks", _i);
    for (int p = 0; p < NPARTS; p++) {
        snprintf(prefix, sizeof(prefix), "p%d", p);
        for (int b = 0; b < 3; b++) {
            size_t len = qt_batch(buf, sizeof(buf), 10, prefix, b * 10);
            int64_t base = -2;
            ck_assert_uint_gt(len, 0);
            ck_assert_int_eq(
                qt_produce(c, topic, p, acks, buf, len, &base, IO_MS),
                QUIRE_ERR_NONE);
            if (acks != 0)
                ck_assert_int_eq(base, b * 10);
        }
    }
    /* Requests on one connection are handled in order: even after acks=0
     * the next request sees every append. */
    for (int p = 0; p < NPARTS; p++) {
        int64_t end;
        snprintf(prefix, sizeof(prefix), "p%d", p);
        ck_assert_int_eq(
            qt_list_offset(c, topic, p, QR_OFFSET_LATEST, &end, IO_MS),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(end, 30);
        ck_assert_int_eq(fetch_all(c, topic, p, 0, prefix, 0), 30);
        /* From the middle of a batch: records from there on. */
        ck_assert_int_eq(fetch_all(c, topic, p, 15, prefix, 15), 15);
    }
    qt_client_close(c);
}
END_TEST

/* One request, several partitions, one of them unknown: per-partition
 * codes and offsets. */
START_TEST(test_multi_partition_produce)
{
    qt_client_t *c = connect_ok(broker);
    uint8_t payload[3 * 4096];
    qr_produce_part_t parts[NPARTS + 1];
    qr_produce_topic_t t;
    qr_req_t req = {0};
    qr_resp_t resp;
    char topic[128];
    size_t off = 0;

    make_topic(c, topic, sizeof(topic), "multi", 0);
    for (int p = 0; p <= NPARTS; p++) {
        size_t len = qt_batch(payload + off, 4096, 5, "m", p * 100);
        ck_assert_uint_gt(len, 0);
        parts[p].partition = p < NPARTS ? p : 99;
        parts[p].records_length = (uint32_t)len;
        parts[p].records = NULL;
        off += len;
    }
    t.topic = topic;
    t.partition_count = NPARTS + 1;
    t.partitions = parts;
    req.api = QR_API_PRODUCE;
    req.u.produce.acks = -1;
    req.u.produce.timeout_ms = IO_MS;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &t;
    ck_assert_int_eq(qt_client_call(c, &req, payload, off, &resp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(resp.u.produce.topic_count, 1);
    ck_assert_uint_eq(resp.u.produce.topics[0].partition_count, NPARTS + 1);
    for (int p = 0; p <= NPARTS; p++) {
        const qr_produce_part_resp_t *pr =
            &resp.u.produce.topics[0].partitions[p];
        ck_assert_int_eq(pr->partition, parts[p].partition);
        if (p < NPARTS) {
            ck_assert_int_eq(pr->error_code, QUIRE_ERR_NONE);
            ck_assert_int_eq(pr->base_offset, 0);
        } else {
            ck_assert_int_eq(pr->error_code,
                             QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        }
    }
    qr_wire_resp_free(&resp);
    for (int p = 0; p < NPARTS; p++)
        ck_assert_int_eq(fetch_all(c, topic, p, 0, NULL, 0), 5);
    qt_client_close(c);
}
END_TEST

/* A fetch at the log end waits, and an append wakes it. */
START_TEST(test_longpoll_wakes)
{
    qt_client_t *consumer = connect_ok(broker), *producer;
    qr_fetch_part_t fp = {1, 0, 1 << 20, -1, -1};
    qr_fetch_topic_t t;
    qr_req_t req = {0};
    qr_resp_t resp;
    uint8_t buf[4096];
    char topic[128];
    int64_t t0, elapsed;

    make_topic(consumer, topic, sizeof(topic), "wake", 0);
    t.topic = topic;
    t.partition_count = 1;
    t.partitions = &fp;
    req.api = QR_API_FETCH;
    req.u.fetch.replica_id = -1;
    req.u.fetch.max_wait_ms = 30000;
    req.u.fetch.min_bytes = 1;
    req.u.fetch.max_bytes = 1 << 20;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &t;
    t0 = qt_now_ms();
    ck_assert_int_gt(qt_client_send(consumer, &req, NULL, 0), 0);
    /* Nothing comes back while there is nothing to read. */
    ck_assert_int_eq(qt_client_recv(consumer, &resp, 500), QUIRE_ERR_TIMED_OUT);
    producer = connect_ok(broker);
    size_t len = qt_batch(buf, sizeof(buf), 7, "w", 0);
    ck_assert_int_eq(qt_produce(producer, topic, 1, 1, buf, len, NULL, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qt_client_recv(consumer, &resp, 25000), QUIRE_ERR_NONE);
    elapsed = qt_now_ms() - t0;
    /* Woken by the append, long before max_wait_ms. */
    ck_assert_msg(elapsed < 20000, "fetch took %lld ms", (long long)elapsed);
    const qr_fetch_part_resp_t *pr = &resp.u.fetch.topics[0].partitions[0];
    ck_assert_int_eq(pr->error_code, QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qt_count_records(pr->records, pr->records_length, "w", 0, NULL), 7);
    ck_assert_int_eq(pr->high_watermark, 7);
    qr_wire_resp_free(&resp);
    qt_client_close(producer);
    qt_client_close(consumer);
}
END_TEST

/* With nothing appended, the fetch answers empty after max_wait_ms. */
START_TEST(test_longpoll_times_out)
{
    qt_client_t *c = connect_ok(broker);
    qr_resp_t resp;
    const qr_fetch_part_resp_t *fp;
    char topic[128];
    int64_t t0, elapsed;

    make_topic(c, topic, sizeof(topic), "idle", 0);
    t0 = qt_now_ms();
    ck_assert_int_eq(
        qt_fetch(c, topic, 0, 0, 400, 1, 1 << 20, 1 << 20, &resp, &fp, IO_MS),
        QUIRE_ERR_NONE);
    elapsed = qt_now_ms() - t0;
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_NONE);
    ck_assert_uint_eq(fp->records_length, 0);
    ck_assert_msg(elapsed >= 350, "answered after %lld ms", (long long)elapsed);
    qr_wire_resp_free(&resp);
    qt_client_close(c);
}
END_TEST

/* A batch larger than every limit is still returned whole when it comes
 * first (KAFKA-160); later batches respect partition_max_bytes. */
START_TEST(test_fetch_limits)
{
    qt_client_t *c = connect_ok(broker);
    size_t cap = 800 * 1024, big_len, small_len = 0;
    uint8_t *big = malloc(cap), *value = malloc(700 * 1024), small[4096];
    qr_batch_builder_t b;
    const uint8_t *out;
    qr_resp_t resp;
    const qr_fetch_part_resp_t *fp;
    char topic[128];

    make_topic(c, topic, sizeof(topic), "limits", 0);
    memset(value, 'v', 700 * 1024);
    ck_assert_int_eq(qr_batch_builder_init(&b, big, cap, 0), QUIRE_ERR_NONE);
    ck_assert_int_eq(
        qr_batch_builder_append(&b, 1000, NULL, 0, value, 700 * 1024, NULL, 0),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &out, &big_len),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qt_produce(c, topic, 0, 1, big, big_len, NULL, IO_MS),
                     QUIRE_ERR_NONE);
    for (int i = 0; i < 5; i++) {
        /* Values of one length ("s-10".."s-24"): batches of one size. */
        small_len = qt_batch(small, sizeof(small), 3, "s", 10 + i * 3);
        ck_assert_int_eq(
            qt_produce(c, topic, 0, 1, small, small_len, NULL, IO_MS),
            QUIRE_ERR_NONE);
    }
    /* Limits of 1 KiB: the 700 KiB batch comes anyway, alone. */
    ck_assert_int_eq(
        qt_fetch(c, topic, 0, 0, 0, 0, 1024, 1024, &resp, &fp, IO_MS),
        QUIRE_ERR_NONE);
    ck_assert_uint_eq(fp->records_length, big_len);
    qr_wire_resp_free(&resp);
    /* From offset 1, partition_max_bytes of two small batches. */
    ck_assert_int_eq(qt_fetch(c, topic, 0, 1, 0, 0, 1 << 20,
                              (int)(2 * small_len), &resp, &fp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(fp->records_length, 2 * small_len);
    ck_assert_int_eq(
        qt_count_records(fp->records, fp->records_length, "s", 10, NULL), 6);
    qr_wire_resp_free(&resp);
    /* max_bytes over the response, the same. */
    ck_assert_int_eq(qt_fetch(c, topic, 0, 1, 0, 0, (int)(3 * small_len),
                              1 << 20, &resp, &fp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(fp->records_length, 3 * small_len);
    qr_wire_resp_free(&resp);
    free(big);
    free(value);
    qt_client_close(c);
}
END_TEST

START_TEST(test_list_offsets)
{
    qt_client_t *c = connect_ok(broker);
    uint8_t buf[4096];
    char topic[128];
    int64_t off;

    make_topic(c, topic, sizeof(topic), "offsets", 0);
    ck_assert_int_eq(qt_list_offset(c, topic, 2, QR_OFFSET_LATEST, &off, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    for (int i = 0; i < 4; i++) {
        size_t len = qt_batch(buf, sizeof(buf), 5, "o", i * 5);
        ck_assert_int_eq(qt_produce(c, topic, 2, 1, buf, len, NULL, IO_MS),
                         QUIRE_ERR_NONE);
    }
    ck_assert_int_eq(
        qt_list_offset(c, topic, 2, QR_OFFSET_EARLIEST, &off, IO_MS),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    ck_assert_int_eq(qt_list_offset(c, topic, 2, QR_OFFSET_LATEST, &off, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 20);
    /* By time: everything was written after 1 s past the epoch. */
    ck_assert_int_eq(qt_list_offset(c, topic, 2, 1000, &off, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(off, 0);
    /* A time in the future has no offset. */
    ck_assert_int_eq(
        qt_list_offset(c, topic, 2, (int64_t)4102444800000LL, &off, IO_MS),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(off, -1);
    ck_assert_int_eq(qt_list_offset(c, topic, 2, -7, &off, IO_MS),
                     QUIRE_ERR_INVALID_REQUEST);
    ck_assert_int_eq(qt_list_offset(c, "no-such-topic-xyz", 0, QR_OFFSET_LATEST,
                                    &off, IO_MS),
                     QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    qt_client_close(c);
}
END_TEST

START_TEST(test_fetch_errors)
{
    qt_client_t *c = connect_ok(broker);
    qr_resp_t resp;
    const qr_fetch_part_resp_t *fp;
    char topic[128];

    make_topic(c, topic, sizeof(topic), "ferr", 0);
    ck_assert_int_eq(qt_fetch(c, topic, 0, 1000, 5000, 1, 1 << 20, 1 << 20,
                              &resp, &fp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_OFFSET_OUT_OF_RANGE);
    qr_wire_resp_free(&resp);
    ck_assert_int_eq(
        qt_fetch(c, topic, 17, 0, 5000, 1, 1 << 20, 1 << 20, &resp, &fp, IO_MS),
        QUIRE_ERR_NONE);
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    qr_wire_resp_free(&resp);
    ck_assert_int_eq(qt_fetch(c, "bad/name", 0, 0, 5000, 1, 1 << 20, 1 << 20,
                              &resp, &fp, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(fp->error_code, QUIRE_ERR_INVALID_TOPIC_EXCEPTION);
    qr_wire_resp_free(&resp);
    qt_client_close(c);
}
END_TEST

/* ---- bad produce input ---- */

enum {
    BAD_CRC,
    BAD_MAGIC,
    BAD_TRUNCATED,
    BAD_TOO_LARGE,
    BAD_UNKNOWN_TOPIC,
    BAD_UNKNOWN_PARTITION,
    BAD_TOPIC_NAME,
    BAD_EMPTY,
    BAD_CODEC,
    BAD_COUNT
};

static const struct {
    const char *what;
    quire_err_t err;
} bad_produce[BAD_COUNT] = {
    [BAD_CRC] = {"a flipped byte under the CRC", QUIRE_ERR_CORRUPT_MESSAGE},
    [BAD_MAGIC] = {"magic 1", QUIRE_ERR_CORRUPT_MESSAGE},
    [BAD_TRUNCATED] = {"a batch cut short", QUIRE_ERR_CORRUPT_MESSAGE},
    [BAD_TOO_LARGE] = {"a batch over message.max.bytes",
                       QUIRE_ERR_MESSAGE_TOO_LARGE},
    [BAD_UNKNOWN_TOPIC] = {"an unknown topic",
                           QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION},
    [BAD_UNKNOWN_PARTITION] = {"an unknown partition",
                               QUIRE_ERR_UNKNOWN_TOPIC_OR_PARTITION},
    [BAD_TOPIC_NAME] = {"an illegal topic name",
                        QUIRE_ERR_INVALID_TOPIC_EXCEPTION},
    [BAD_EMPTY] = {"no batch at all", QUIRE_ERR_CORRUPT_MESSAGE},
    [BAD_CODEC] = {"codec 7", QUIRE_ERR_CORRUPT_MESSAGE},
};

static void good_request(const char *topic)
{
    qt_client_t *c = connect_ok(broker);
    uint8_t buf[4096];
    size_t len = qt_batch(buf, sizeof(buf), 2, "good", 0);
    int64_t base;

    ck_assert_int_eq(qt_produce(c, topic, 0, -1, buf, len, &base, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_ge(base, 0);
    qt_client_close(c);
}

START_TEST(test_bad_produce)
{
    qt_client_t *c = connect_ok(broker), *other = connect_ok(broker);
    size_t cap = 1200 * 1024, len;
    uint8_t *buf = calloc(1, cap);
    const char *topic_used;
    char topic[128];
    int32_t partition = 0;
    quire_err_t err;

    make_topic(c, topic, sizeof(topic), "bad", _i);
    topic_used = topic;
    len = qt_batch(buf, cap, 4, "x", 0);
    switch (_i) {
    case BAD_CRC:
        buf[len - 1] ^= 0x5a;
        break;
    case BAD_MAGIC:
        buf[QR_BATCH_OFF_MAGIC] = 1;
        break;
    case BAD_TRUNCATED:
        len -= 3;
        break;
    case BAD_TOO_LARGE: {
        qr_batch_builder_t b;
        const uint8_t *out;
        uint8_t *value = calloc(1, 1100 * 1024);
        ck_assert_int_eq(qr_batch_builder_init(&b, buf, cap, 0),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_batch_builder_append(&b, 1, NULL, 0, value,
                                                 1100 * 1024, NULL, 0),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(qr_batch_builder_finish(&b, NULL, 0, &out, &len),
                         QUIRE_ERR_NONE);
        free(value);
        break;
    }
    case BAD_UNKNOWN_TOPIC:
        topic_used = "never-created-topic";
        break;
    case BAD_UNKNOWN_PARTITION:
        partition = 42;
        break;
    case BAD_TOPIC_NAME:
        topic_used = "..";
        break;
    case BAD_EMPTY:
        len = 0;
        break;
    case BAD_CODEC:
        /* Codec bits are under the CRC: a changed codec is caught there
         * at the latest. */
        buf[QR_BATCH_OFF_ATTRIBUTES + 1] |= 7;
        break;
    }
    err = qt_produce(c, topic_used, partition, 1, buf, len, NULL, IO_MS);
    ck_assert_msg(err == bad_produce[_i].err, "%s: got %s, want %s",
                  bad_produce[_i].what, quire_err2name(err),
                  quire_err2name(bad_produce[_i].err));
    /* Nothing of it was appended. */
    if (topic_used == topic && partition == 0) {
        int64_t end;
        ck_assert_int_eq(
            qt_list_offset(c, topic, 0, QR_OFFSET_LATEST, &end, IO_MS),
            QUIRE_ERR_NONE);
        ck_assert_int_eq(end, 0);
    }
    /* The same connection, a fresh one and another client all go on. */
    good_request(topic);
    ck_assert_int_eq(qt_produce(other, topic, 1, 1, buf, 0, NULL, IO_MS),
                     QUIRE_ERR_CORRUPT_MESSAGE);
    len = qt_batch(buf, cap, 1, "y", 0);
    ck_assert_int_eq(qt_produce(other, topic, 1, 1, buf, len, NULL, IO_MS),
                     QUIRE_ERR_NONE);
    ck_assert_int_eq(qt_produce(c, topic, 2, 1, buf, len, NULL, IO_MS),
                     QUIRE_ERR_NONE);
    free(buf);
    qt_client_close(other);
    qt_client_close(c);
}
END_TEST

/* Raw requests the client library would refuse to build. */
START_TEST(test_bad_produce_raw)
{
    qt_client_t *c = connect_ok(broker);
    qr_produce_part_t part = {0, 100, NULL};
    qr_produce_topic_t t;
    qr_req_t req = {0};
    qr_resp_t resp;
    uint8_t *hdr = NULL, payload[100] = {0};
    size_t hlen;
    char topic[128];

    make_topic(c, topic, sizeof(topic), "raw", 0);
    t.topic = topic;
    t.partition_count = 1;
    t.partitions = &part;
    req.api = QR_API_PRODUCE;
    req.correlation_id = 77;
    req.u.produce.acks = 1;
    req.u.produce.topic_count = 1;
    req.u.produce.topics = &t;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &hdr, &hlen),
                     QUIRE_ERR_NONE);
    /* records_length says 100, the frame carries 60. */
    qr_frame_put_u32(hdr, qr_frame_get_u32(hdr) - 40);
    ck_assert_int_eq(qt_client_send_raw(c, hdr, hlen), 0);
    ck_assert_int_eq(qt_client_send_raw(c, payload, 60), 0);
    ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, 77);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_INVALID_REQUEST);
    qr_wire_resp_free(&resp);
    free(hdr);
    /* acks=2: patch the encoded varint of field 1 (0x08 0x01 -> 0x08 0x02)
     * inside the produce body. */
    req.correlation_id = 78;
    part.records_length = 0;
    ck_assert_int_eq(qr_wire_req_encode_alloc(&req, &hdr, &hlen),
                     QUIRE_ERR_NONE);
    int patched = 0;
    for (size_t i = QR_FRAME_PREFIX; i + 1 < hlen; i++)
        if (hdr[i] == 0x62 && i + 3 < hlen && hdr[i + 2] == 0x08 &&
            hdr[i + 3] == 0x01) {
            hdr[i + 3] = 0x02;
            patched = 1;
            break;
        }
    ck_assert_msg(patched, "acks field not found in the encoded header");
    ck_assert_int_eq(qt_client_send_raw(c, hdr, hlen), 0);
    ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.correlation_id, 78);
    ck_assert_int_eq(resp.error_code, QUIRE_ERR_INVALID_REQUIRED_ACKS);
    qr_wire_resp_free(&resp);
    free(hdr);
    qt_client_close(c);
    good_request(topic);
}
END_TEST

/* ---- restart and crash (brokers of the test's own) ---- */

static qt_broker_t *own_broker(int id, char **chroot)
{
    qt_broker_t *b;

    *chroot = qt_zk_chroot_new(qt_zk_env(), 10000);
    ck_assert_ptr_nonnull(*chroot);
    b = qt_broker_new(id, *chroot, "num.partitions=1\n");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    return b;
}

static void produce_seq(qt_broker_t *b, const char *topic, int acks,
                        int batches, int per_batch)
{
    qt_client_t *c = connect_ok(b);
    uint8_t buf[16384];

    ck_assert_int_eq(qt_wait_topic(c, topic, 1, TOPIC_MS), 0);
    for (int i = 0; i < batches; i++) {
        size_t len = qt_batch(buf, sizeof(buf), per_batch, "r", i * per_batch);
        int64_t base;
        ck_assert_int_eq(qt_produce(c, topic, 0, acks, buf, len, &base, IO_MS),
                         QUIRE_ERR_NONE);
        ck_assert_int_eq(base, (int64_t)i * per_batch);
    }
    qt_client_close(c);
}

static long count_after_restart(qt_broker_t *b, const char *topic)
{
    qt_client_t *c;
    long n;

    ck_assert_int_eq(qt_broker_start(b, START_MS), 0);
    c = connect_ok(b);
    ck_assert_int_eq(qt_wait_topic(c, topic, 1, TOPIC_MS), 0);
    n = fetch_all(c, topic, 0, 0, "r", 0);
    qt_client_close(c);
    return n;
}

START_TEST(test_restart_keeps_data)
{
    char *chroot;
    qt_broker_t *b = own_broker(5, &chroot);

    produce_seq(b, "kept", 1, 25, 8);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    ck_assert_int_eq(count_after_restart(b, "kept"), 200);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

START_TEST(test_sigkill_keeps_acked)
{
    char *chroot;
    qt_broker_t *b = own_broker(6, &chroot);

    produce_seq(b, "crash", -1, 40, 5);
    ck_assert_int_eq(qt_broker_kill(b), 0);
    /* The dead broker's registration lasts until its session expires. */
    zhandle_t *zh = qt_zk_connect(chroot, 10000);
    ck_assert_ptr_nonnull(zh);
    ck_assert(qt_zk_wait_exists(zh, "/brokers/ids/6", false, 30000));
    qt_zk_close(zh);
    /* Recovery scans the unclean log; every acks=all record is back. */
    ck_assert_int_ge(count_after_restart(b, "crash"), 200);
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

/* SIGTERM while a fetch is parked: the fetch is answered (with what there
 * is) instead of holding the shutdown for its max_wait_ms, and the broker
 * exits 0. */
START_TEST(test_sigterm_answers_parked_fetch)
{
    char *chroot;
    qt_broker_t *b = own_broker(7, &chroot);
    qt_client_t *c = connect_ok(b);
    qr_fetch_part_t fp = {0, 0, 1 << 20, -1, -1};
    qr_fetch_topic_t t = {"parked", 1, &fp};
    qr_req_t req = {0};
    qr_resp_t resp;
    int64_t t0;

    ck_assert_int_eq(qt_wait_topic(c, "parked", 1, TOPIC_MS), 0);
    req.api = QR_API_FETCH;
    req.u.fetch.replica_id = -1;
    req.u.fetch.max_wait_ms = 60000;
    req.u.fetch.min_bytes = 1;
    req.u.fetch.max_bytes = 1 << 20;
    req.u.fetch.topic_count = 1;
    req.u.fetch.topics = &t;
    ck_assert_int_gt(qt_client_send(c, &req, NULL, 0), 0);
    ck_assert_int_eq(qt_client_recv(c, &resp, 300), QUIRE_ERR_TIMED_OUT);
    t0 = qt_now_ms();
    ck_assert_int_eq(qt_broker_stop(b, 30000), 0);
    ck_assert_msg(qt_now_ms() - t0 < 30000, "shutdown waited for the fetch");
    ck_assert_int_eq(qt_client_recv(c, &resp, IO_MS), QUIRE_ERR_NONE);
    ck_assert_int_eq(resp.u.fetch.topics[0].partitions[0].error_code,
                     QUIRE_ERR_NONE);
    ck_assert_uint_eq(resp.u.fetch.topics[0].partitions[0].records_length, 0);
    qr_wire_resp_free(&resp);
    qt_client_close(c);
    qt_broker_destroy(b);
    free(chroot);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("broker_data");
    TCase *tc = tcase_create("shared broker");
    TCase *own = tcase_create("restarts");

    tcase_add_unchecked_fixture(tc, start_shared, stop_shared);
    tcase_set_timeout(tc, 90);
    tcase_set_tags(tc, "integration zk");
    tcase_add_loop_test(tc, test_roundtrip_acks, 0, 3);
    tcase_add_test(tc, test_multi_partition_produce);
    tcase_add_test(tc, test_longpoll_wakes);
    tcase_add_test(tc, test_longpoll_times_out);
    tcase_add_test(tc, test_fetch_limits);
    tcase_add_test(tc, test_list_offsets);
    tcase_add_test(tc, test_fetch_errors);
    tcase_add_loop_test(tc, test_bad_produce, 0, BAD_COUNT);
    tcase_add_test(tc, test_bad_produce_raw);
    suite_add_tcase(s, tc);

    tcase_set_timeout(own, 120);
    tcase_set_tags(own, "integration zk slow");
    tcase_add_test(own, test_restart_keeps_data);
    tcase_add_test(own, test_sigkill_keeps_acked);
    tcase_add_test(own, test_sigterm_answers_parked_fetch);
    suite_add_tcase(s, own);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    (void)qt_zk_env();
    sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
